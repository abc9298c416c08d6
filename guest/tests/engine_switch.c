/* Engine switching requested by the guest (tandemctl SWITCH_ENGINE): a
 * workload (a hash over a table it keeps rewriting, with calls, flags and
 * the stack live across the switch points) runs once straight and once
 * with an engine switch between every chunk, alternating KVM and the
 * interpreter. Both runs must agree. Without the guest-control device
 * (QEMU) the second run simply has no switches. */
#include "guest.h"
#include "tandemctl.h"

const char test_name[] = "engine_switch";

#define TABLE_WORDS 512
#define CHUNKS 24
static uint64_t table[TABLE_WORDS];

static uint64_t mix(uint64_t h, uint64_t v)
{
    h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
    return h * 0xff51afd7ed558ccdull;
}

/* One chunk of work: depends on everything before it through h and the
 * table. */
static uint64_t chunk(uint64_t h, unsigned round)
{
    for (unsigned i = 0; i < TABLE_WORDS; i++) {
        h = mix(h, table[(i * 7 + round) % TABLE_WORDS]);
        table[i] ^= h >> (i % 23);
    }
    return h;
}

static uint64_t workload(bool switching, unsigned *switches)
{
    for (unsigned i = 0; i < TABLE_WORDS; i++)
        table[i] = i * 0x100000001b3ull;
    uint64_t h = 0xcbf29ce484222325ull;
    for (unsigned r = 0; r < CHUNKS; r++) {
        h = chunk(h, r);
        if (switching) {
            enum tandemctl_engine to = (r & 1) ? TANDEMCTL_ENGINE_KVM : TANDEMCTL_ENGINE_INTERP;
            enum tandemctl_status st = tandemctl_switch_engine(to);
            CHECK(st == TANDEMCTL_OK, "switch %u to engine %d: status %d", r, (int)to, (int)st);
            (*switches)++;
        }
    }
    return h;
}

void test_main(void)
{
    unsigned switches = 0;
    uint64_t straight = workload(false, &switches);
    bool present = tandemctl_present();
    uint64_t switched = workload(present, &switches);
    kprintf("hash %lx straight, %lx with %u engine switches\n", straight, switched, switches);
    CHECK_EQ(switched, straight, "hash with engine switches");
}
