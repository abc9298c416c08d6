/* Local APIC register-level tests, following the Intel SDM Vol. 3A
 * chapter 10: identification, priorities, acknowledge/EOI, the timer in
 * its three modes, IPIs, LINT pins, IA32_APIC_BASE, engine hand-over of the
 * register page, checkpoint round trips and a randomized MMIO stress. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/intr.h"
#include "dev/lapic.h"
#include "mem/pc_layout.h"
#include "mem/system.h"
#include "sim/serialize.h"
#include "testlib.h"

#define NS TICKS_PER_NS
#define SVR_ENABLED 0x1FF /* software-enabled, spurious vector 0xFF */

struct machine {
    struct simulation sim;
    struct system *sys;
    struct cpu_intr *intr[2];
    unsigned notifications;
};

static void on_notify(void *cpu)
{
    ((struct machine *)cpu)->notifications++;
}

/* A System with `nlapics` LAPICs (IDs 0, 1; LAPIC i at PC_LAPIC_BASE +
 * i * 4 KiB), an optional bus clock and an optional timer_min_interval_ns. */
static struct machine *machine_new_with(unsigned nlapics, const char *bus_hz,
                                        const char *timer_min_interval_ns)
{
    struct machine *m = calloc(1, sizeof(*m));
    sim_init(&m->sim);
    ck_assert_ptr_nonnull(sim_create(&m->sim, "System", "system"));
    for (unsigned i = 0; i < nlapics; i++) {
        char path[32], id[4];
        snprintf(path, sizeof(path), "system.lapic%u", i);
        snprintf(id, sizeof(id), "%u", i);
        struct sim_object *o = sim_create(&m->sim, "LAPIC", path);
        ck_assert_ptr_nonnull(o);
        ck_assert_int_eq(param_set_text(o, sim_type_param(o->type, "apic_id"), id), 0);
        if (bus_hz)
            ck_assert_int_eq(param_set_text(o, sim_type_param(o->type, "bus_hz"), bus_hz), 0);
        if (timer_min_interval_ns)
            ck_assert_int_eq(param_set_text(o, sim_type_param(o->type, "timer_min_interval_ns"),
                                            timer_min_interval_ns), 0);
        /* One bus for all CPUs: further LAPICs need their own page. */
        ck_assert_int_eq(param_set_int(o, sim_type_param(o->type, "base"),
                                       (int64_t)(PC_LAPIC_BASE + i * PC_LAPIC_SIZE)), 0);
    }
    ck_assert_msg(sim_instantiate(&m->sim) == 0, "%s", err_get());
    m->sys = system_of(sim_find(&m->sim, "system"));
    for (unsigned i = 0; i < nlapics; i++) {
        m->intr[i] = system_cpu_intr(m->sys, i);
        ck_assert_ptr_nonnull(m->intr[i]);
        m->intr[i]->notify = on_notify;
        m->intr[i]->cpu = m;
    }
    return m;
}

static struct machine *machine_new(unsigned nlapics, const char *bus_hz)
{
    return machine_new_with(nlapics, bus_hz, NULL);
}

static void machine_free(struct machine *m)
{
    sim_destroy(&m->sim);
    free(m);
}

static uint32_t rd(struct machine *m, unsigned off)
{
    return (uint32_t)bus_mem_read(&m->sys->bus, PC_LAPIC_BASE + off, 4);
}

static void wr(struct machine *m, unsigned off, uint32_t v)
{
    bus_mem_write(&m->sys->bus, PC_LAPIC_BASE + off, v, 4);
}

/* Runs every event before tick t and leaves the clock at t. */
static void run_to(struct machine *m, tick_t t)
{
    sim_run(&m->sim, t);
    if (m->sim.eq.now < t)
        m->sim.eq.now = t;
}

static tick_t now(struct machine *m)
{
    return sim_now(&m->sim);
}

static uint64_t stat(struct machine *m, const char *name)
{
    const struct stat_entry *e = stats_find(&m->sim, name);
    ck_assert_msg(e != NULL, "no stat %s", name);
    return (uint64_t)stat_value(e);
}

static bool irr_bit(struct machine *m, unsigned v)
{
    return rd(m, 0x200 + (v / 32) * 16) >> (v % 32) & 1;
}

static bool isr_bit(struct machine *m, unsigned v)
{
    return rd(m, 0x100 + (v / 32) * 16) >> (v % 32) & 1;
}

static void self_ipi(struct machine *m, unsigned vector)
{
    wr(m, 0x300, (1u << 18) | vector);
}

START_TEST(test_id_version_power_up)
{
    struct machine *m = machine_new(2, NULL);
    ck_assert_uint_eq(rd(m, 0x20), 0);
    ck_assert_uint_eq(bus_mem_read(&m->sys->bus, PC_LAPIC_BASE + 0x20, 4), 0);
    ck_assert_uint_eq(rd(m, 0x30), 0x00050014);
    ck_assert_uint_eq(rd(m, 0xF0), 0xFF);
    ck_assert_uint_eq(rd(m, 0xE0), 0xFFFFFFFF);
    for (unsigned off = 0x320; off <= 0x370; off += 0x10)
        ck_assert_uint_eq(rd(m, off), 0x10000);
    ck_assert_uint_eq(rd(m, 0x2F0), 0x10000);
    ck_assert_uint_eq(rd(m, 0x80), 0);
    /* The ID is read-only. */
    wr(m, 0x20, 0x05000000);
    ck_assert_uint_eq(rd(m, 0x20), 0);
    /* The second LAPIC reports its own ID in its register page. */
    uint8_t page[LAPIC_REGS_SIZE];
    m->intr[1]->ops->get_regs(m->intr[1]->lapic, page);
    uint32_t id;
    memcpy(&id, &page[0x20], 4);
    ck_assert_uint_eq(id, 1u << 24);
    ck_assert_uint_eq(m->intr[0]->ops->get_base(m->intr[0]->lapic), 0xFEE00900);
    ck_assert_uint_eq(m->intr[1]->ops->get_base(m->intr[1]->lapic), 0xFEE01800);
    machine_free(m);
}
END_TEST

START_TEST(test_tpr_ppr)
{
    struct machine *m = machine_new(1, NULL);
    wr(m, 0xF0, SVR_ENABLED);
    wr(m, 0x80, 0x35);
    ck_assert_uint_eq(rd(m, 0xA0), 0x35); /* nothing in service: PPR = TPR */
    wr(m, 0x80, 0);
    self_ipi(m, 0x45);
    ck_assert_uint_eq(m->intr[0]->ops->ack(m->intr[0]->lapic), 0x45);
    wr(m, 0x80, 0x30);
    ck_assert_uint_eq(rd(m, 0xA0), 0x40); /* ISR class wins, low nibble 0 */
    wr(m, 0x80, 0x4F);
    ck_assert_uint_eq(rd(m, 0xA0), 0x4F); /* same class: TPR */
    wr(m, 0x80, 0x52);
    ck_assert_uint_eq(rd(m, 0xA0), 0x52);
    ck_assert_uint_eq(m->intr[0]->ops->get_tpr(m->intr[0]->lapic), 0x52);
    m->intr[0]->ops->set_tpr(m->intr[0]->lapic, 0x20);
    ck_assert_uint_eq(rd(m, 0x80), 0x20);
    ck_assert_uint_eq(rd(m, 0xA0), 0x40);
    /* Writes keep only TPR[7:0]. */
    wr(m, 0x80, 0xFFFFFF10);
    ck_assert_uint_eq(rd(m, 0x80), 0x10);
    machine_free(m);
}
END_TEST

START_TEST(test_irr_isr_ack_eoi)
{
    struct machine *m = machine_new(1, NULL);
    struct cpu_intr *ci = m->intr[0];
    wr(m, 0xF0, SVR_ENABLED);
    self_ipi(m, 0x31);
    self_ipi(m, 0x61);
    ck_assert(irr_bit(m, 0x31) && irr_bit(m, 0x61));
    ck_assert_int_eq(ci->ops->pending_vector(ci->lapic), 0x61);
    ck_assert_int_eq(ci->ops->pending_vector(ci->lapic), 0x61); /* no side effect */
    ck_assert_uint_eq(ci->ops->ack(ci->lapic), 0x61);
    ck_assert(!irr_bit(m, 0x61) && isr_bit(m, 0x61));
    /* 0x31 is below the in-service class. */
    ck_assert_int_eq(ci->ops->pending_vector(ci->lapic), -1);
    /* A higher class nests. */
    self_ipi(m, 0x71);
    ck_assert_uint_eq(ci->ops->ack(ci->lapic), 0x71);
    ck_assert(isr_bit(m, 0x71) && isr_bit(m, 0x61));
    wr(m, 0xB0, 0); /* EOI clears the highest: 0x71 */
    ck_assert(!isr_bit(m, 0x71) && isr_bit(m, 0x61));
    ck_assert_int_eq(ci->ops->pending_vector(ci->lapic), -1);
    wr(m, 0xB0, 0);
    ck_assert(!isr_bit(m, 0x61));
    ck_assert_int_eq(ci->ops->pending_vector(ci->lapic), 0x31);
    ck_assert_uint_eq(ci->ops->ack(ci->lapic), 0x31);
    wr(m, 0xB0, 0);
    ck_assert_uint_eq(stat(m, "system.lapic0.eois"), 3);
    ck_assert_uint_eq(stat(m, "system.lapic0.interruptsDelivered"), 3);
    /* Nothing pending: the spurious vector, with no ISR bit. */
    wr(m, 0xF0, 0x1E7);
    ck_assert_uint_eq(ci->ops->ack(ci->lapic), 0xE7);
    ck_assert(!isr_bit(m, 0xE7));
    ck_assert_uint_eq(stat(m, "system.lapic0.spurious"), 1);
    machine_free(m);
}
END_TEST

START_TEST(test_priority_classes_and_tpr)
{
    struct machine *m = machine_new(1, NULL);
    struct cpu_intr *ci = m->intr[0];
    wr(m, 0xF0, SVR_ENABLED);
    wr(m, 0x80, 0x60);
    self_ipi(m, 0x6F);
    /* Same class as the TPR: held. */
    ck_assert_int_eq(ci->ops->pending_vector(ci->lapic), -1);
    self_ipi(m, 0x70);
    ck_assert_int_eq(ci->ops->pending_vector(ci->lapic), 0x70);
    /* Within a class the higher vector goes first. */
    self_ipi(m, 0x7A);
    ck_assert_int_eq(ci->ops->pending_vector(ci->lapic), 0x7A);
    wr(m, 0x80, 0);
    ck_assert_uint_eq(ci->ops->ack(ci->lapic), 0x7A);
    wr(m, 0xB0, 0);
    ck_assert_uint_eq(ci->ops->ack(ci->lapic), 0x70);
    wr(m, 0xB0, 0);
    ck_assert_uint_eq(ci->ops->ack(ci->lapic), 0x6F);
    machine_free(m);
}
END_TEST

START_TEST(test_notify_callback)
{
    struct machine *m = machine_new(1, NULL);
    wr(m, 0xF0, SVR_ENABLED);
    wr(m, 0x80, 0xF0);
    unsigned before = m->notifications;
    self_ipi(m, 0x50); /* blocked by the TPR */
    ck_assert_uint_eq(m->notifications, before);
    wr(m, 0x80, 0x00); /* unblocked: notify */
    ck_assert_uint_eq(m->notifications, before + 1);
    wr(m, 0x300, (1u << 18) | (4u << 8)); /* NMI to self */
    ck_assert_uint_eq(m->notifications, before + 2);
    ck_assert(m->intr[0]->ops->nmi_pending(m->intr[0]->lapic));
    m->intr[0]->ops->nmi_ack(m->intr[0]->lapic);
    ck_assert(!m->intr[0]->ops->nmi_pending(m->intr[0]->lapic));
    ck_assert_uint_eq(stat(m, "system.lapic0.nmisDelivered"), 1);
    machine_free(m);
}
END_TEST

START_TEST(test_software_disable)
{
    struct machine *m = machine_new(1, NULL);
    struct cpu_intr *ci = m->intr[0];
    self_ipi(m, 0x40); /* software-disabled at power-up: dropped */
    ck_assert(!irr_bit(m, 0x40));
    wr(m, 0xF0, SVR_ENABLED);
    wr(m, 0x350, 0x700); /* LINT0 ExtINT, unmasked */
    ck_assert_uint_eq(rd(m, 0x350), 0x700);
    self_ipi(m, 0x40);
    wr(m, 0xF0, 0xFF); /* disable: LVTs masked, IRR kept and deliverable */
    ck_assert_uint_eq(rd(m, 0x350), 0x10700);
    wr(m, 0x350, 0x700); /* the mask cannot be cleared now */
    ck_assert_uint_eq(rd(m, 0x350), 0x10700);
    ck_assert_int_eq(ci->ops->pending_vector(ci->lapic), 0x40);
    machine_free(m);
}
END_TEST

START_TEST(test_esr_write_then_read)
{
    struct machine *m = machine_new(1, NULL);
    wr(m, 0xF0, SVR_ENABLED);
    self_ipi(m, 0x05); /* illegal vector: not sent */
    ck_assert(!irr_bit(m, 0x05));
    ck_assert_uint_eq(rd(m, 0x280), 0); /* not latched yet */
    wr(m, 0x280, 0);
    ck_assert_uint_eq(rd(m, 0x280), 0x20); /* send illegal vector */
    wr(m, 0x280, 0);
    ck_assert_uint_eq(rd(m, 0x280), 0);
    /* Reserved register with the error LVT unmasked: error interrupt. */
    wr(m, 0x370, 0xEE);
    (void)rd(m, 0x3F0);
    ck_assert(irr_bit(m, 0xEE));
    wr(m, 0x280, 0);
    ck_assert_uint_eq(rd(m, 0x280), 0x80);
    /* A timer LVT with an illegal vector reports receive illegal vector. */
    wr(m, 0x3E0, 0xB);
    wr(m, 0x320, 0x03);
    wr(m, 0x380, 10);
    run_to(m, now(m) + 20 * NS);
    wr(m, 0x280, 0);
    ck_assert_uint_eq(rd(m, 0x280), 0x40);
    machine_free(m);
}
END_TEST

START_TEST(test_masked_lvt_timer)
{
    struct machine *m = machine_new(1, NULL);
    wr(m, 0xF0, SVR_ENABLED);
    wr(m, 0x3E0, 0xB); /* divide by 1 */
    wr(m, 0x320, 0x10040);
    wr(m, 0x380, 100);
    run_to(m, 200 * NS);
    ck_assert_uint_eq(stat(m, "system.lapic0.timerFires"), 1);
    ck_assert(!irr_bit(m, 0x40));
    ck_assert_int_eq(m->intr[0]->ops->pending_vector(m->intr[0]->lapic), -1);
    machine_free(m);
}
END_TEST

START_TEST(test_timer_oneshot_exact_tick)
{
    struct machine *m = machine_new(1, NULL);
    wr(m, 0xF0, SVR_ENABLED);
    run_to(m, 7 * NS);
    wr(m, 0x320, 0x41); /* one-shot, vector 0x41 */
    wr(m, 0x3E0, 0x0);  /* divide by 2: 2 ns per count at 1 GHz */
    wr(m, 0x380, 500);
    tick_t expiry = 7 * NS + 1000 * NS;
    run_to(m, expiry - 1);
    ck_assert_uint_eq(rd(m, 0x390), 1); /* one tick of the last count left */
    run_to(m, expiry); /* events before the expiry tick only */
    ck_assert(!irr_bit(m, 0x41));
    run_to(m, expiry + 1);
    ck_assert(irr_bit(m, 0x41));
    ck_assert_uint_eq(rd(m, 0x390), 0);
    ck_assert_uint_eq(stat(m, "system.lapic0.timerFires"), 1);
    run_to(m, expiry + 5000 * NS);
    ck_assert_uint_eq(stat(m, "system.lapic0.timerFires"), 1);
    machine_free(m);
}
END_TEST

START_TEST(test_timer_periodic)
{
    struct machine *m = machine_new(1, NULL);
    wr(m, 0xF0, SVR_ENABLED);
    wr(m, 0x3E0, 0xB);
    wr(m, 0x320, (1u << 17) | 0x42);
    wr(m, 0x380, 100); /* 100 ns period */
    run_to(m, 1000 * NS); /* the 10th expiry is due but has not run */
    ck_assert_uint_eq(stat(m, "system.lapic0.timerFires"), 9);
    ck_assert_uint_eq(rd(m, 0x390), 100); /* reloaded, never 0 */
    run_to(m, 1050 * NS);
    ck_assert_uint_eq(stat(m, "system.lapic0.timerFires"), 10);
    ck_assert_uint_eq(rd(m, 0x390), 50);
    /* Each expiry sets the IRR bit again once acknowledged and ended. */
    unsigned taken = 0;
    for (tick_t t = 1050 * NS; t < 2050 * NS; t += 10 * NS) {
        run_to(m, t + 10 * NS);
        if (m->intr[0]->ops->pending_vector(m->intr[0]->lapic) == 0x42) {
            m->intr[0]->ops->ack(m->intr[0]->lapic);
            wr(m, 0xB0, 0);
            taken++;
        }
    }
    ck_assert_uint_eq(taken, 11); /* the one pending at 1050 ns, then 1100 ... 2000 ns */
    ck_assert_uint_eq(stat(m, "system.lapic0.timerFires"), 20);
    /* Writing 0 stops it. */
    wr(m, 0x380, 0);
    run_to(m, 5000 * NS);
    ck_assert_uint_eq(stat(m, "system.lapic0.timerFires"), 20);
    machine_free(m);
}
END_TEST

START_TEST(test_timer_switch_oneshot_periodic)
{
    struct machine *m = machine_new(1, NULL);
    wr(m, 0xF0, SVR_ENABLED);
    wr(m, 0x3E0, 0xB);
    wr(m, 0x320, 0x42);
    wr(m, 0x380, 100);
    run_to(m, 50 * NS);
    wr(m, 0x320, (1u << 17) | 0x42); /* periodic from the next expiry */
    ck_assert_uint_eq(rd(m, 0x390), 50);
    run_to(m, 351 * NS);
    ck_assert_uint_eq(stat(m, "system.lapic0.timerFires"), 3); /* 100, 200, 300 */
    machine_free(m);
}
END_TEST

START_TEST(test_timer_current_count_and_divide)
{
    struct machine *m = machine_new(1, NULL);
    wr(m, 0x3E0, 0xB);
    ck_assert_uint_eq(rd(m, 0x3E0), 0xB);
    wr(m, 0x380, 1000);
    ck_assert_uint_eq(rd(m, 0x390), 1000);
    ck_assert_uint_eq(rd(m, 0x380), 1000);
    run_to(m, 250 * NS);
    ck_assert_uint_eq(rd(m, 0x390), 750);
    run_to(m, 250 * NS + 500); /* half a count: still 750 (rounded up) */
    ck_assert_uint_eq(rd(m, 0x390), 750);
    /* Divide by 16 (011b): 16 ns per count. */
    wr(m, 0x3E0, 0x3);
    wr(m, 0x380, 100);
    tick_t start = now(m);
    run_to(m, start + 800 * NS);
    ck_assert_uint_eq(rd(m, 0x390), 50);
    /* Changing to divide by 1 keeps the count and speeds it up. */
    wr(m, 0x3E0, 0xB);
    ck_assert_uint_eq(rd(m, 0x390), 50);
    run_to(m, start + 830 * NS);
    ck_assert_uint_eq(rd(m, 0x390), 20);
    run_to(m, start + 850 * NS);
    ck_assert_uint_eq(stat(m, "system.lapic0.timerFires"), 0);
    run_to(m, start + 850 * NS + 1);
    ck_assert_uint_eq(stat(m, "system.lapic0.timerFires"), 1);
    ck_assert_uint_eq(rd(m, 0x390), 0);
    /* The divide encodings (bits 0, 1, 3). */
    static const struct { uint32_t dcr; unsigned div; } divs[] = {
        {0x0, 2}, {0x1, 4}, {0x2, 8}, {0x3, 16}, {0x8, 32}, {0x9, 64}, {0xA, 128}, {0xB, 1}};
    for (size_t i = 0; i < sizeof(divs) / sizeof(divs[0]); i++) {
        wr(m, 0x3E0, divs[i].dcr | 0xF0); /* other bits are reserved */
        ck_assert_uint_eq(rd(m, 0x3E0), divs[i].dcr);
        wr(m, 0x380, 10);
        tick_t t0 = now(m);
        run_to(m, t0 + divs[i].div * NS);
        ck_assert_uint_eq(rd(m, 0x390), 9);
        wr(m, 0x380, 0);
    }
    machine_free(m);
}
END_TEST

START_TEST(test_timer_bus_hz)
{
    struct machine *m = machine_new(1, "100000000"); /* 100 MHz: 10 ns per cycle */
    wr(m, 0x3E0, 0xB);
    wr(m, 0x380, 10);
    run_to(m, 100 * NS);
    ck_assert_uint_eq(stat(m, "system.lapic0.timerFires"), 0);
    run_to(m, 100 * NS + 1);
    ck_assert_uint_eq(stat(m, "system.lapic0.timerFires"), 1);
    machine_free(m);
}
END_TEST

START_TEST(test_timer_tsc_deadline)
{
    struct machine *m = machine_new(1, NULL);
    struct cpu_intr *ci = m->intr[0];
    wr(m, 0xF0, SVR_ENABLED);
    /* Ignored outside TSC-deadline mode. */
    ci->ops->set_deadline(ci->lapic, 5000);
    ck_assert_uint_eq(ci->ops->get_deadline(ci->lapic), 0);
    wr(m, 0x320, (2u << 17) | 0x43);
    wr(m, 0x380, 100); /* initial count ignored in this mode */
    ck_assert_uint_eq(rd(m, 0x380), 0);
    ci->ops->set_deadline(ci->lapic, 123456);
    ck_assert_uint_eq(ci->ops->get_deadline(ci->lapic), 123456);
    ck_assert_uint_eq(rd(m, 0x390), 0);
    run_to(m, 123456);
    ck_assert(!irr_bit(m, 0x43));
    run_to(m, 123457);
    ck_assert(irr_bit(m, 0x43));
    ck_assert_uint_eq(ci->ops->get_deadline(ci->lapic), 0); /* cleared when it fires */
    ck_assert_uint_eq(ci->ops->ack(ci->lapic), 0x43);
    wr(m, 0xB0, 0);
    /* A deadline in the past fires at once; 0 disarms. */
    ci->ops->set_deadline(ci->lapic, 1);
    run_to(m, now(m) + 1);
    ck_assert(irr_bit(m, 0x43));
    ck_assert_uint_eq(ci->ops->ack(ci->lapic), 0x43);
    wr(m, 0xB0, 0);
    ci->ops->set_deadline(ci->lapic, now(m) + 1000);
    ci->ops->set_deadline(ci->lapic, 0);
    run_to(m, now(m) + 5000);
    ck_assert(!irr_bit(m, 0x43));
    /* Leaving TSC-deadline mode disarms. */
    ci->ops->set_deadline(ci->lapic, now(m) + 1000);
    wr(m, 0x320, 0x43);
    run_to(m, now(m) + 5000);
    ck_assert(!irr_bit(m, 0x43));
    ck_assert_uint_eq(stat(m, "system.lapic0.timerFires"), 2);
    machine_free(m);
}
END_TEST

/* timer_min_interval_ns: a deadline sooner than that after the last expiry
 * fires late (at last expiry + interval); later deadlines are exact. */
START_TEST(test_timer_min_interval)
{
    struct machine *m = machine_new_with(1, NULL, "10000"); /* 10 us */
    struct cpu_intr *ci = m->intr[0];
    wr(m, 0xF0, SVR_ENABLED);
    wr(m, 0x320, (2u << 17) | 0x43);
    ci->ops->set_deadline(ci->lapic, 5000); /* never fired yet: exact */
    run_to(m, 5001);
    ck_assert(irr_bit(m, 0x43));
    ck_assert_uint_eq(ci->ops->ack(ci->lapic), 0x43);
    wr(m, 0xB0, 0);
    tick_t earliest = 5000 + 10000 * NS;
    ci->ops->set_deadline(ci->lapic, now(m) + 100);
    run_to(m, earliest);
    ck_assert(!irr_bit(m, 0x43));
    run_to(m, earliest + 1);
    ck_assert(irr_bit(m, 0x43));
    ck_assert_uint_eq(stat(m, "system.lapic0.timerHeldBack"), 1);
    ck_assert_uint_eq(ci->ops->ack(ci->lapic), 0x43);
    wr(m, 0xB0, 0);
    tick_t later = earliest + 25000 * NS;
    ci->ops->set_deadline(ci->lapic, later);
    run_to(m, later);
    ck_assert(!irr_bit(m, 0x43));
    run_to(m, later + 1);
    ck_assert(irr_bit(m, 0x43));
    ck_assert_uint_eq(stat(m, "system.lapic0.timerHeldBack"), 1);
    ck_assert_uint_eq(stat(m, "system.lapic0.timerFires"), 3);
    machine_free(m);
}
END_TEST

START_TEST(test_ipi_shorthands_and_destinations)
{
    struct machine *m = machine_new(2, NULL);
    struct cpu_intr *c0 = m->intr[0], *c1 = m->intr[1];
    wr(m, 0xF0, SVR_ENABLED);
    /* LAPIC 1 is programmed through its register page (only one MMIO
     * window exists per address). */
    uint8_t page[LAPIC_REGS_SIZE];
    c1->ops->get_regs(c1->lapic, page);
    uint32_t svr = SVR_ENABLED, ldr = 0x02000000;
    memcpy(&page[0xF0], &svr, 4);
    memcpy(&page[0xD0], &ldr, 4);
    c1->ops->set_regs(c1->lapic, page);
    wr(m, 0xD0, 0x01000000);

    self_ipi(m, 0x51);
    ck_assert_int_eq(c0->ops->pending_vector(c0->lapic), 0x51);
    ck_assert_int_eq(c1->ops->pending_vector(c1->lapic), -1);
    c0->ops->ack(c0->lapic);
    wr(m, 0xB0, 0);

    wr(m, 0x300, (3u << 18) | 0x52); /* all excluding self */
    ck_assert_int_eq(c0->ops->pending_vector(c0->lapic), -1);
    ck_assert_int_eq(c1->ops->pending_vector(c1->lapic), 0x52);
    c1->ops->ack(c1->lapic);

    wr(m, 0x300, (2u << 18) | 0x63); /* all including self */
    ck_assert_int_eq(c0->ops->pending_vector(c0->lapic), 0x63);
    ck_assert_int_eq(c1->ops->pending_vector(c1->lapic), 0x63);
    c0->ops->ack(c0->lapic);
    c1->ops->ack(c1->lapic);
    wr(m, 0xB0, 0);

    wr(m, 0x310, 0x01000000); /* physical destination 1 */
    ck_assert_uint_eq(rd(m, 0x310), 0x01000000);
    wr(m, 0x300, 0x74);
    ck_assert_int_eq(c0->ops->pending_vector(c0->lapic), -1);
    ck_assert_int_eq(c1->ops->pending_vector(c1->lapic), 0x74);
    c1->ops->ack(c1->lapic);

    wr(m, 0x310, 0x02000000); /* logical flat mask 0x02: LAPIC 1 */
    wr(m, 0x300, (1u << 11) | 0x85);
    ck_assert_int_eq(c0->ops->pending_vector(c0->lapic), -1);
    ck_assert_int_eq(c1->ops->pending_vector(c1->lapic), 0x85);
    c1->ops->ack(c1->lapic);
    wr(m, 0x310, 0x03000000); /* both */
    wr(m, 0x300, (1u << 11) | 0x96);
    ck_assert_int_eq(c0->ops->pending_vector(c0->lapic), 0x96);
    ck_assert_int_eq(c1->ops->pending_vector(c1->lapic), 0x96);
    c0->ops->ack(c0->lapic);
    wr(m, 0xB0, 0);

    /* Cluster model: cluster 0 (high nibble), member bit 0x1 = LAPIC 0. */
    wr(m, 0xE0, 0x0FFFFFFF);
    ck_assert_uint_eq(rd(m, 0xE0), 0x0FFFFFFF);
    wr(m, 0x310, 0x01000000);
    wr(m, 0x300, (1u << 11) | 0xA7);
    ck_assert_int_eq(c0->ops->pending_vector(c0->lapic), 0xA7);
    c0->ops->ack(c0->lapic);
    wr(m, 0xB0, 0);
    wr(m, 0x310, 0x11000000); /* cluster 1: nobody */
    wr(m, 0x300, (1u << 11) | 0xA8);
    ck_assert_int_eq(c0->ops->pending_vector(c0->lapic), -1);

    /* NMI to the other CPU; INIT/SIPI are counted as not modelled. */
    wr(m, 0x310, 0x01000000);
    wr(m, 0x300, 4u << 8);
    ck_assert(c1->ops->nmi_pending(c1->lapic));
    ck_assert(!c0->ops->nmi_pending(c0->lapic));
    wr(m, 0x300, (5u << 8) | (1u << 14));
    wr(m, 0x300, (6u << 8) | 0x10);
    ck_assert_uint_eq(stat(m, "system.lapic1.ignoredMessages"), 2);
    ck_assert_uint_eq(rd(m, 0x300) & (1u << 12), 0); /* delivery status idle */
    machine_free(m);
}
END_TEST

static int fake_pic_vector = -1;
static unsigned fake_pic_acks;

static int fake_pic_peek(void *opaque)
{
    (void)opaque;
    return fake_pic_vector;
}

static uint8_t fake_pic_ack(void *opaque)
{
    (void)opaque;
    fake_pic_acks++;
    return (uint8_t)fake_pic_vector;
}

static const struct lapic_extint_ops fake_pic = {fake_pic_peek, fake_pic_ack};

START_TEST(test_lint_pins)
{
    struct machine *m = machine_new(1, NULL);
    struct cpu_intr *ci = m->intr[0];
    struct lapic *l = lapic_find(&m->sim, 0);
    ck_assert_ptr_nonnull(l);
    ck_assert_ptr_null(lapic_find(&m->sim, 7));
    lapic_set_extint_source(l, &fake_pic, NULL);
    wr(m, 0xF0, SVR_ENABLED);
    wr(m, 0x350, 0x700); /* LINT0 ExtINT */
    wr(m, 0x360, 0x400); /* LINT1 NMI */
    wr(m, 0x80, 0xF0);   /* ExtINT ignores the TPR */
    fake_pic_vector = 0x20;
    lapic_set_lint(l, 0, true);
    ck_assert_int_eq(ci->ops->pending_vector(ci->lapic), 0x20);
    ck_assert_uint_eq(ci->ops->ack(ci->lapic), 0x20);
    ck_assert_uint_eq(fake_pic_acks, 1);
    ck_assert(!isr_bit(m, 0x20)); /* ExtINT bypasses the ISR */
    fake_pic_vector = -1;
    lapic_set_lint(l, 0, false);
    ck_assert_int_eq(ci->ops->pending_vector(ci->lapic), -1);
    lapic_set_lint(l, 1, true);
    ck_assert(ci->ops->nmi_pending(ci->lapic));
    ci->ops->nmi_ack(ci->lapic);
    lapic_set_lint(l, 1, true); /* no new edge */
    ck_assert(!ci->ops->nmi_pending(ci->lapic));
    lapic_set_lint(l, 1, false);
    wr(m, 0x80, 0);

    /* LINT0 fixed, level-triggered, active low: remote IRR until EOI. */
    wr(m, 0x350, (1u << 15) | (1u << 13) | 0x58);
    lapic_set_lint(l, 0, false); /* active */
    ck_assert(irr_bit(m, 0x58));
    ck_assert(rd(m, 0x350) & (1u << 14));
    ck_assert_uint_eq(ci->ops->ack(ci->lapic), 0x58);
    wr(m, 0xB0, 0); /* still active: delivered again */
    ck_assert(irr_bit(m, 0x58));
    ck_assert_uint_eq(ci->ops->ack(ci->lapic), 0x58);
    lapic_set_lint(l, 0, true); /* inactive */
    wr(m, 0xB0, 0);
    ck_assert(!irr_bit(m, 0x58));
    ck_assert_uint_eq(rd(m, 0x350) & (1u << 14), 0);
    /* Masked LINT1 NMI does nothing. */
    wr(m, 0x360, 0x10400);
    lapic_set_lint(l, 1, true);
    ck_assert(!ci->ops->nmi_pending(ci->lapic));
    machine_free(m);
}
END_TEST

START_TEST(test_pic_drives_lint0)
{
    struct machine *m = calloc(1, sizeof(*m));
    sim_init(&m->sim);
    ck_assert_ptr_nonnull(sim_create(&m->sim, "System", "system"));
    ck_assert_ptr_nonnull(sim_create(&m->sim, "LAPIC", "system.lapic0"));
    ck_assert_ptr_nonnull(sim_create(&m->sim, "PIC8259", "system.pic"));
    ck_assert_msg(sim_instantiate(&m->sim) == 0, "%s", err_get());
    m->sys = system_of(sim_find(&m->sim, "system"));
    struct cpu_intr *ci = m->intr[0] = system_cpu_intr(m->sys, 0);
    ci->notify = on_notify;
    ci->cpu = m;
    /* Linux's 8259 set-up: vectors 0x20/0x28, cascade on IR2, 8086 mode. */
    static const uint8_t init[][2] = {{0x20, 0x11}, {0x21, 0x20}, {0x21, 0x04}, {0x21, 0x01},
                                      {0xA0, 0x11}, {0xA1, 0x28}, {0xA1, 0x02}, {0xA1, 0x01}};
    for (size_t i = 0; i < sizeof(init) / sizeof(init[0]); i++)
        bus_pio_write(&m->sys->bus, init[i][0], init[i][1], 1);
    wr(m, 0xF0, SVR_ENABLED);
    /* LINT0 still masked: the PIC's request waits. */
    system_pulse_irq(m->sys, PC_GSI_KEYBOARD);
    ck_assert_int_eq(ci->ops->pending_vector(ci->lapic), -1);
    wr(m, 0x350, 0x700); /* ExtINT */
    ck_assert_int_eq(ci->ops->pending_vector(ci->lapic), 0x21);
    ck_assert_uint_gt(m->notifications, 0);
    ck_assert_uint_eq(ci->ops->ack(ci->lapic), 0x21);
    bus_pio_write(&m->sys->bus, 0x20, 0x0B, 1); /* read the master's ISR */
    ck_assert_uint_eq(bus_pio_read(&m->sys->bus, 0x20, 1), 0x02);
    ck_assert_int_eq(ci->ops->pending_vector(ci->lapic), -1);
    /* A second IRQ while IRQ 1 is in service at the PIC: higher priority
     * IRQ 0 (GSI 2 on a PC) gets through, INTR raises LINT0 again. */
    unsigned before = m->notifications;
    system_pulse_irq(m->sys, PC_GSI_PIT);
    ck_assert_uint_gt(m->notifications, before);
    ck_assert_int_eq(ci->ops->pending_vector(ci->lapic), 0x20);
    ck_assert_uint_eq(ci->ops->ack(ci->lapic), 0x20);
    ck_assert_uint_eq(stat(m, "system.lapic0.interruptsDelivered"), 2);
    machine_free(m);
}
END_TEST

START_TEST(test_apic_base_msr)
{
    struct machine *m = machine_new(1, NULL);
    struct cpu_intr *ci = m->intr[0];
    wr(m, 0xF0, SVR_ENABLED);
    wr(m, 0x80, 0x20);
    self_ipi(m, 0x40);
    ck_assert(!ci->ops->set_base(ci->lapic, 0xFEE00900 | (1u << 10))); /* x2APIC */
    ck_assert(!ci->ops->set_base(ci->lapic, 0xFEE00901));              /* reserved */
    ck_assert(!ci->ops->set_base(ci->lapic, 0xFED00900));              /* relocation */
    ck_assert(!ci->ops->set_base(ci->lapic, (1ull << 40) | 0xFEE00900));
    ck_assert_uint_eq(ci->ops->get_base(ci->lapic), 0xFEE00900);
    ck_assert(ci->ops->set_base(ci->lapic, 0xFEE00100)); /* globally disable */
    ck_assert_uint_eq(ci->ops->get_base(ci->lapic), 0xFEE00100);
    ck_assert_uint_eq(rd(m, 0x80), 0xFFFFFFFF); /* page gone */
    wr(m, 0x80, 0x10);
    ck_assert_int_eq(ci->ops->pending_vector(ci->lapic), -1);
    /* Without an APIC, LINT1 is the NMI pin. */
    struct lapic *l = lapic_find(&m->sim, 0);
    lapic_set_lint(l, 1, true);
    ck_assert(ci->ops->nmi_pending(ci->lapic));
    ci->ops->nmi_ack(ci->lapic);
    lapic_set_lint(l, 1, true); /* no new edge */
    ck_assert(!ci->ops->nmi_pending(ci->lapic));
    /* ... and LINT0 is INTR, straight from the PIC. */
    fake_pic_vector = 0x28;
    lapic_set_extint_source(l, &fake_pic, NULL);
    lapic_set_lint(l, 0, true);
    ck_assert_int_eq(ci->ops->pending_vector(ci->lapic), 0x28);
    ck_assert_uint_eq(ci->ops->ack(ci->lapic), 0x28);
    lapic_set_lint(l, 0, false);
    fake_pic_vector = -1;
    ck_assert_int_eq(ci->ops->pending_vector(ci->lapic), -1);
    ck_assert(ci->ops->set_base(ci->lapic, 0xFEE00900));
    /* Back at power-up state. */
    ck_assert_uint_eq(rd(m, 0x80), 0);
    ck_assert_uint_eq(rd(m, 0xF0), 0xFF);
    ck_assert(!irr_bit(m, 0x40));
    ck_assert_uint_eq(rd(m, 0x320), 0x10000);
    machine_free(m);
}
END_TEST

START_TEST(test_mmio_access_rules)
{
    struct machine *m = machine_new(1, NULL);
    struct bus *b = &m->sys->bus;
    wr(m, 0xF0, SVR_ENABLED);
    wr(m, 0x80, 0x12345678);
    ck_assert_uint_eq(bus_mem_read(b, PC_LAPIC_BASE + 0x80, 1), 0x78);
    ck_assert_uint_eq(bus_mem_read(b, PC_LAPIC_BASE + 0x80, 2), 0x78);
    ck_assert_uint_eq(bus_mem_read(b, PC_LAPIC_BASE + 0x84, 4), 0);
    ck_assert_uint_eq(bus_mem_read(b, PC_LAPIC_BASE + 0x30, 8), 0x00050014);
    /* Sub-dword and unaligned writes are ignored. */
    bus_mem_write(b, PC_LAPIC_BASE + 0x80, 0x33, 1);
    bus_mem_write(b, PC_LAPIC_BASE + 0x84, 0x44, 4);
    bus_mem_write(b, PC_LAPIC_BASE + 0x80, 0x55, 8);
    ck_assert_uint_eq(rd(m, 0x80), 0x78);
    ck_assert_uint_eq(stat(m, "system.lapic0.misalignedWrites"), 3);
    /* Read-only registers ignore writes without an error. */
    wr(m, 0x30, 0);
    wr(m, 0x280, 0);
    ck_assert_uint_eq(rd(m, 0x280), 0);
    ck_assert_uint_eq(rd(m, 0x30), 0x00050014);
    /* Reserved offsets read zero and flag illegal register address. */
    ck_assert_uint_eq(rd(m, 0x400), 0);
    wr(m, 0x280, 0);
    ck_assert_uint_eq(rd(m, 0x280), 0x80);
    machine_free(m);
}
END_TEST

START_TEST(test_regs_round_trip_keeps_timer)
{
    struct machine *m = machine_new(1, NULL);
    struct cpu_intr *ci = m->intr[0];
    wr(m, 0xF0, SVR_ENABLED);
    wr(m, 0x3E0, 0xB);
    wr(m, 0x320, 0x44);
    wr(m, 0x380, 1000);
    run_to(m, 300 * NS + 123);
    uint8_t page[LAPIC_REGS_SIZE];
    ci->ops->get_regs(ci->lapic, page);
    uint32_t cur;
    memcpy(&cur, &page[0x390], 4);
    ck_assert_uint_eq(cur, 700);
    ci->ops->set_regs(ci->lapic, page);
    run_to(m, 1000 * NS);
    ck_assert(!irr_bit(m, 0x44));
    run_to(m, 1000 * NS + 1);
    ck_assert(irr_bit(m, 0x44)); /* the exact tick survived */

    /* Hand-over into another machine (a different engine's LAPIC): the
     * count continues from the page. */
    struct machine *m2 = machine_new(1, NULL);
    run_to(m2, 50 * NS);
    m2->intr[0]->ops->set_regs(m2->intr[0]->lapic, page);
    ck_assert_uint_eq(rd(m2, 0x390), 700);
    ck_assert_uint_eq(rd(m2, 0x320), 0x44);
    run_to(m2, 750 * NS);
    ck_assert(!irr_bit(m2, 0x44));
    run_to(m2, 750 * NS + 1);
    ck_assert(irr_bit(m2, 0x44));
    machine_free(m2);

    /* Periodic through a hand-over keeps its period. */
    wr(m, 0x320, (1u << 17) | 0x45);
    wr(m, 0x380, 100);
    tick_t t0 = now(m);
    run_to(m, t0 + 30 * NS);
    ci->ops->get_regs(ci->lapic, page);
    uint32_t other_count = 40; /* the engine reports a different count */
    memcpy(&page[0x390], &other_count, 4);
    ci->ops->set_regs(ci->lapic, page);
    uint64_t fires = stat(m, "system.lapic0.timerFires");
    run_to(m, t0 + 70 * NS + 1);
    ck_assert_uint_eq(stat(m, "system.lapic0.timerFires"), fires + 1);
    run_to(m, t0 + 170 * NS + 1);
    ck_assert_uint_eq(stat(m, "system.lapic0.timerFires"), fires + 2);
    machine_free(m);
}
END_TEST

/* A stand-in CPU: every step, take every deliverable vector and end it,
 * logging (tick, vector). */
struct delivery_log {
    tick_t tick[4096];
    uint8_t vector[4096];
    size_t n;
};

static void cpu_step(struct machine *m, struct delivery_log *log, tick_t until)
{
    run_to(m, until);
    struct cpu_intr *ci = m->intr[0];
    int v;
    while ((v = ci->ops->pending_vector(ci->lapic)) >= 0) {
        ck_assert_uint_lt(log->n, 4096);
        log->tick[log->n] = now(m);
        log->vector[log->n++] = ci->ops->ack(ci->lapic);
        wr(m, 0xB0, 0);
    }
}

START_TEST(test_serialize_mid_activity)
{
    struct machine *a = machine_new(1, NULL);
    wr(a, 0xF0, SVR_ENABLED);
    wr(a, 0x3E0, 0x1);                  /* divide by 4 */
    wr(a, 0x320, (1u << 17) | 0x66);    /* periodic */
    wr(a, 0x380, 37);                   /* 148 ns period */
    wr(a, 0x80, 0x30);
    self_ipi(a, 0x31);                  /* held: in the TPR's class */
    self_ipi(a, 0x52);
    ck_assert_uint_eq(a->intr[0]->ops->ack(a->intr[0]->lapic), 0x52); /* in service */
    self_ipi(a, 0x41);                  /* waiting behind 0x52 */
    wr(a, 0x300, (1u << 18) | (4u << 8)); /* NMI pending */
    wr(a, 0x280, 0);
    run_to(a, 1234567);

    struct ser_node *snap = sim_serialize(&a->sim);
    struct machine *b = machine_new(1, NULL);
    ck_assert_msg(sim_unserialize(&b->sim, snap) == 0, "%s", err_get());
    ser_node_free(snap);
    ck_assert_uint_eq(now(b), 1234567);
    ck_assert_uint_eq(rd(b, 0x390), rd(a, 0x390));
    ck_assert(b->intr[0]->ops->nmi_pending(b->intr[0]->lapic));

    /* The restored in-service interrupt's handler ends on both. */
    wr(a, 0xB0, 0);
    wr(b, 0xB0, 0);
    static struct delivery_log la, lb;
    memset(&la, 0, sizeof(la));
    memset(&lb, 0, sizeof(lb));
    for (tick_t t = 1234567 + 10 * NS; t < 1234567 + 3000 * NS; t += 10 * NS) {
        cpu_step(a, &la, t);
        cpu_step(b, &lb, t);
    }
    ck_assert_uint_gt(la.n, 15);
    ck_assert_uint_eq(la.n, lb.n);
    ck_assert_mem_eq(la.tick, lb.tick, la.n * sizeof(la.tick[0]));
    ck_assert_mem_eq(la.vector, lb.vector, la.n);
    ck_assert(memchr(la.vector, 0x41, la.n) != NULL); /* waited behind the restored ISR */
    ck_assert(memchr(la.vector, 0x66, la.n) != NULL); /* the restored timer */
    ck_assert(memchr(la.vector, 0x31, la.n) == NULL); /* still held by the TPR */
    struct ser_node *na = sim_serialize(&a->sim), *nb = sim_serialize(&b->sim);
    ck_assert(ser_node_equal(na, nb));
    ser_node_free(na);
    ser_node_free(nb);
    machine_free(a);
    machine_free(b);
}
END_TEST

START_TEST(test_unserialize_rejects_other_id)
{
    struct machine *a = machine_new(2, NULL);
    struct ser_node *snap = sim_serialize(&a->sim);
    /* Swap the two LAPIC nodes' pages: IDs no longer match the objects. */
    struct ser_node *objs = ser_find_child(snap, "objects");
    ck_assert_ptr_nonnull(objs);
    struct ser_node *sys = ser_find_child(objs, "system");
    ck_assert_ptr_nonnull(sys);
    struct ser_node *l0 = ser_find_child(sys, "lapic0"), *l1 = ser_find_child(sys, "lapic1");
    ck_assert_ptr_nonnull(l0);
    ck_assert_ptr_nonnull(l1);
    const struct ser_prop *p1 = ser_find_prop(l1, "regs");
    ser_put_bytes(l0, "regs", p1->data, p1->len);
    struct machine *b = machine_new(2, NULL);
    ck_assert_int_eq(sim_unserialize(&b->sim, snap), -1);
    ck_assert_ptr_nonnull(strstr(err_get(), "APIC ID"));
    ser_node_free(snap);
    machine_free(a);
    machine_free(b);
}
END_TEST

START_TEST(test_random_mmio)
{
    struct machine *m = machine_new(2, NULL);
    struct bus *b = &m->sys->bus;
    struct cpu_intr *ci = m->intr[0];
    static const unsigned sizes[] = {1, 2, 4, 8};
    static const unsigned hot[] = {0x80, 0xB0, 0xD0, 0xE0, 0xF0, 0x280, 0x300, 0x310, 0x320,
                                   0x350, 0x360, 0x370, 0x380, 0x390, 0x3E0};
    /* LAPIC 1 software-enabled so IPIs to it land. */
    bus_mem_write(b, PC_LAPIC_BASE + PC_LAPIC_SIZE + 0xF0, SVR_ENABLED, 4);
    srand(20241121);
    for (unsigned i = 0; i < 200000; i++) {
        unsigned r = (unsigned)rand();
        unsigned size = sizes[r & 3];
        uint64_t off = (r >> 2) & 1 ? hot[(r >> 3) % 15] : (unsigned)rand() % PC_LAPIC_SIZE;
        uint64_t val = ((uint64_t)rand() << 32) ^ (uint64_t)rand();
        if ((r >> 10) & 1)
            bus_mem_write(b, PC_LAPIC_BASE + off, val, (r >> 11) & 1 ? 4 : size);
        else
            (void)bus_mem_read(b, PC_LAPIC_BASE + off, size);
        switch ((r >> 12) & 15) {
        case 0:
            run_to(m, now(m) + (unsigned)rand() % 5000);
            break;
        case 1:
            if (ci->ops->pending_vector(ci->lapic) >= 0)
                ci->ops->ack(ci->lapic);
            break;
        case 2:
            ci->ops->set_deadline(ci->lapic, now(m) + (unsigned)rand() % 3000);
            break;
        case 3:
            lapic_set_lint(lapic_find(&m->sim, 0), (r >> 16) & 1, (r >> 17) & 1);
            break;
        default:
            break;
        }
    }
    /* The stress reached the interesting paths, and the APIC still works. */
    ck_assert_uint_gt(stat(m, "system.lapic0.ipisSent"), 1000);
    ck_assert_uint_gt(stat(m, "system.lapic0.timerFires"), 100);
    ck_assert_uint_gt(stat(m, "system.lapic0.interruptsDelivered"), 500);
    ck_assert_uint_gt(stat(m, "system.lapic1.interruptsAccepted"), 100);
    ck_assert_uint_gt(stat(m, "system.lapic0.eois"), 100);
    ck_assert_uint_eq(rd(m, 0x30), 0x00050014);
    ck_assert_uint_eq(rd(m, 0x20), 0);
    machine_free(m);
}
END_TEST

static Suite *lapic_suite(void)
{
    Suite *s = suite_create("lapic");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_id_version_power_up);
    tcase_add_test(tc, test_tpr_ppr);
    tcase_add_test(tc, test_irr_isr_ack_eoi);
    tcase_add_test(tc, test_priority_classes_and_tpr);
    tcase_add_test(tc, test_notify_callback);
    tcase_add_test(tc, test_software_disable);
    tcase_add_test(tc, test_esr_write_then_read);
    tcase_add_test(tc, test_masked_lvt_timer);
    tcase_add_test(tc, test_timer_oneshot_exact_tick);
    tcase_add_test(tc, test_timer_periodic);
    tcase_add_test(tc, test_timer_switch_oneshot_periodic);
    tcase_add_test(tc, test_timer_current_count_and_divide);
    tcase_add_test(tc, test_timer_bus_hz);
    tcase_add_test(tc, test_timer_tsc_deadline);
    tcase_add_test(tc, test_timer_min_interval);
    tcase_add_test(tc, test_ipi_shorthands_and_destinations);
    tcase_add_test(tc, test_lint_pins);
    tcase_add_test(tc, test_pic_drives_lint0);
    tcase_add_test(tc, test_apic_base_msr);
    tcase_add_test(tc, test_mmio_access_rules);
    tcase_add_test(tc, test_regs_round_trip_keeps_timer);
    tcase_add_test(tc, test_serialize_mid_activity);
    tcase_add_test(tc, test_unserialize_rejects_other_id);
    tcase_add_test(tc, test_random_mmio);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite(lapic_suite());
}
