/* Page walks in every paging mode with the permission checks, #PF error
 * codes and accessed/dirty updates of SDM Vol. 3A ch. 4. */
#include <string.h>

#include "cpu/mmu.h"
#include "mem/system.h"
#include "testlib.h"

static struct simulation sim;
static struct system *sys;
static uint8_t *ram;

static void setup(void)
{
    sim_init(&sim);
    sys = SIM_CAST(struct system, sim_create(&sim, "System", "system"));
    ck_assert_int_eq(sim_instantiate(&sim), 0);
    ram = sys->ram[0].host;
}

static void teardown(void)
{
    sim_destroy(&sim);
}

static void put64(uint64_t pa, uint64_t v)
{
    memcpy(ram + pa, &v, 8);
}

static uint64_t get64(uint64_t pa)
{
    uint64_t v;
    memcpy(&v, ram + pa, 8);
    return v;
}

static void put32(uint64_t pa, uint32_t v)
{
    memcpy(ram + pa, &v, 4);
}

/* Long mode: PML4 at 0x1000, PDPT 0x2000, PD 0x3000, PT 0x4000.
 * 0x0000400000 (PD[2]) = 2 MiB page -> 0x800000, supervisor, writable.
 * 0x0000201000 (PT[1]) = 4 KiB page -> 0x9000, user, read-only, NX. */
static struct x86_state long_mode(void)
{
    struct x86_state s;
    x86_state_reset(&s);
    x86_state_long_mode(&s, 0x1000, 0, 0);
    put64(0x1000, 0x2000 | 7);
    put64(0x2000, 0x3000 | 7);
    put64(0x3000 + 8 * 1, 0x4000 | 7);
    put64(0x3000 + 8 * 2, 0x800000 | 0x83); /* P RW PS, supervisor */
    put64(0x4000 + 8 * 1, 0x9000 | 0x5 | (1ull << 63)); /* P US, RO, NX */
    return s;
}

START_TEST(test_long_mode_walks)
{
    struct x86_state s = long_mode();
    struct mmu_walk w;
    ck_assert_int_eq(mmu_translate(&sys->bus, &s, 0x412345, MMU_WRITE, false, true, &w), 0);
    ck_assert_uint_eq(w.paddr, 0x812345);
    ck_assert_uint_eq(w.page_size, 2 << 20);
    ck_assert(get64(0x3000 + 16) & (1 << 6)); /* dirty set on the leaf */
    ck_assert(get64(0x1000) & (1 << 5));      /* accessed on the way */
    ck_assert_int_eq(mmu_translate(&sys->bus, &s, 0x201abc, MMU_READ, true, true, &w), 0);
    ck_assert_uint_eq(w.paddr, 0x9abc);
    ck_assert(!w.writable);
    ck_assert(!(get64(0x4000 + 8) & (1 << 6))); /* a read leaves D clear */
    /* User access to the supervisor 2 MiB page: P|U. */
    ck_assert_int_eq(mmu_translate(&sys->bus, &s, 0x400000, MMU_READ, true, true, &w), -1);
    ck_assert_uint_eq(w.error_code, PF_PRESENT | PF_USER);
    /* User write to read-only: P|W|U. */
    ck_assert_int_eq(mmu_translate(&sys->bus, &s, 0x201000, MMU_WRITE, true, true, &w), -1);
    ck_assert_uint_eq(w.error_code, PF_PRESENT | PF_WRITE | PF_USER);
    /* Supervisor write to read-only: allowed without CR0.WP, faults with it. */
    ck_assert_int_eq(mmu_translate(&sys->bus, &s, 0x201000, MMU_WRITE, false, false, &w), -1);
    s.cr0 &= ~X86_CR0_WP;
    ck_assert_int_eq(mmu_translate(&sys->bus, &s, 0x201000, MMU_WRITE, false, false, &w), 0);
    /* Fetch from NX: P|I/D. */
    ck_assert_int_eq(mmu_translate(&sys->bus, &s, 0x201000, MMU_EXEC, false, false, &w), -1);
    ck_assert_uint_eq(w.error_code, PF_PRESENT | PF_FETCH);
    /* Not present: error code 0 (+W for a write). */
    ck_assert_int_eq(mmu_translate(&sys->bus, &s, 0x600000, MMU_WRITE, false, false, &w), -1);
    ck_assert_uint_eq(w.error_code, PF_WRITE);
    /* NX set while EFER.NXE is clear is a reserved-bit fault. */
    s.msr.efer &= ~X86_EFER_NXE;
    ck_assert_int_eq(mmu_translate(&sys->bus, &s, 0x201000, MMU_READ, false, false, &w), -1);
    ck_assert_uint_eq(w.error_code, PF_PRESENT | PF_RSVD);
    /* A 1 GiB page is reserved (not exposed by the CPU model). */
    s = long_mode();
    put64(0x2000 + 8, 0x40000000 | 0x83);
    ck_assert_int_eq(mmu_translate(&sys->bus, &s, 0x40000000, MMU_READ, false, false, &w), -1);
    ck_assert_uint_eq(w.error_code, PF_PRESENT | PF_RSVD);
}
END_TEST

START_TEST(test_legacy_modes)
{
    struct x86_state s;
    x86_state_reset(&s);
    struct mmu_walk w;
    /* Paging off: identity. */
    ck_assert_int_eq(mmu_translate(&sys->bus, &s, 0x1234, MMU_EXEC, true, true, &w), 0);
    ck_assert_uint_eq(w.paddr, 0x1234);
    /* 32-bit paging: PD at 0x5000; PDE[1] = 4 MiB page at 0xC00000 (PSE);
     * PDE[0] -> PT at 0x6000, PTE[3] -> 0x7000. */
    s.cr0 |= X86_CR0_PE | X86_CR0_PG;
    s.cr3 = 0x5000;
    put32(0x5000, 0x6000 | 7);
    put32(0x5004, 0xC00000 | 0x87);
    put32(0x6000 + 12, 0x7000 | 3);
    ck_assert_int_eq(mmu_translate(&sys->bus, &s, 0x3456, MMU_READ, false, true, &w), 0);
    ck_assert_uint_eq(w.paddr, 0x7456);
    ck_assert_int_eq(mmu_translate(&sys->bus, &s, 0x3456, MMU_READ, true, true, &w), -1);
    ck_assert_uint_eq(w.error_code, PF_PRESENT | PF_USER);
    ck_assert_int_eq(mmu_translate(&sys->bus, &s, 0x412345, MMU_READ, false, false, &w), -1);
    s.cr4 |= X86_CR4_PSE;
    ck_assert_int_eq(mmu_translate(&sys->bus, &s, 0x412345, MMU_READ, false, false, &w), 0);
    ck_assert_uint_eq(w.paddr, 0xC12345);
    ck_assert_uint_eq(w.page_size, 4 << 20);
    /* PAE: PDPT at 0x8000 (32-byte aligned), PDPTE[0] -> PD 0xA000,
     * PDE[0] -> PT 0xB000, PTE[5] -> 0xD000. */
    s.cr4 = X86_CR4_PAE;
    s.cr3 = 0x8000;
    put64(0x8000, 0xA000 | 1);
    put64(0xA000, 0xB000 | 7);
    put64(0xB000 + 40, 0xD000 | 7);
    ck_assert_int_eq(mmu_translate(&sys->bus, &s, 0x5678, MMU_WRITE, true, true, &w), 0);
    ck_assert_uint_eq(w.paddr, 0xD678);
    /* Reserved bits in a PDPTE (RW is reserved there). */
    put64(0x8000, 0xA000 | 3);
    ck_assert_int_eq(mmu_translate(&sys->bus, &s, 0x5678, MMU_READ, false, false, &w), -1);
    ck_assert_uint_eq(w.error_code, PF_PRESENT | PF_RSVD);
}
END_TEST

START_TEST(test_read_linear)
{
    struct x86_state s = long_mode();
    memcpy(ram + 0x9ff0, "0123456789abcdefXYZ", 19);
    uint8_t buf[32];
    /* 0x201ff0..0x202003 crosses into the unmapped PT[2]: stops at the page end. */
    ck_assert_uint_eq(mmu_read_linear(&sys->bus, &s, 0x201ff0, buf, 20), 16);
    ck_assert(memcmp(buf, "0123456789abcdef", 16) == 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("mmu");
    TCase *tc = tcase_create("mmu");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_long_mode_walks);
    tcase_add_test(tc, test_legacy_modes);
    tcase_add_test(tc, test_read_linear);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
