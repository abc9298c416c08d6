/* The memory-bound workload of guest/include/memwalk.h (used by the
 * cycle-accounting benchmark and the L1D sweep, docs/timing.md): checks
 * that every lap of the pointer chase visits every node and that the
 * checksum is the same in every round. The rounds are the region of
 * interest: the guest-control device resets the statistics before them and
 * dumps them after (docs/guest-control.md). */
#include "guest.h"
#include "memwalk.h"
#include "tandemctl.h"

const char test_name[] = "memwalk";

#define ROUNDS 200

static struct memwalk_node nodes[MEMWALK_NODES] __attribute__((aligned(64)));

void test_main(void)
{
    memwalk_init(nodes);
    /* Without the device (QEMU) the rounds simply run unmarked. */
    bool roi = tandemctl_present();
    if (roi)
        CHECK(tandemctl_roi_begin() == TANDEMCTL_OK, "ROI_BEGIN failed");
    uint64_t first = 0;
    for (unsigned r = 0; r < ROUNDS; r++) {
        uint32_t lap;
        uint64_t sum = memwalk_round(nodes, &lap);
        CHECK(lap == MEMWALK_NODES, "round %u: the chase took %u steps, want %u", r, lap, MEMWALK_NODES);
        if (r == 0)
            first = sum;
        CHECK(sum == first, "round %u: checksum 0x%lx, round 0 gave 0x%lx", r, sum, first);
    }
    if (roi)
        CHECK(tandemctl_roi_end() == TANDEMCTL_OK, "ROI_END failed");
    kprintf("memwalk: %u rounds over %u KiB, checksum 0x%lx\n", ROUNDS, MEMWALK_BYTES / 1024, first);
}
