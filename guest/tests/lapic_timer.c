/* LAPIC timer: one-shot fires exactly once, periodic fires repeatedly until
 * masked; the CPU HLTs between interrupts (SDM Vol. 3A 11.5.4). */
#include "guest.h"

const char test_name[] = "lapic_timer";

#define TIMER_VECTOR 0x40
/* Divide by 16; at QEMU's 1 GHz timer clock the one-shot lasts 32 ms, long
 * enough that reading the count right after starting it cannot miss it
 * running even on a loaded host (QEMU's timers follow host time). */
#define ONE_SHOT_COUNT 2000000u
#define MASKED_COUNT 200000u
#define PERIODIC_COUNT 100000u
#define PERIODIC_TICKS 5

static volatile uint64_t ticks;
static volatile uint64_t hlt_wakeups;
static volatile uint64_t stop_at_tick; /* 0: never */
static volatile uint32_t count_at_stop;

/* Stops a periodic timer from inside its own handler on the stop_at_tick-th
 * interrupt, so the count does not depend on how fast the CPU gets back. */
static void timer_interrupt(struct trap_frame *f)
{
    (void)f;
    if (++ticks == stop_at_tick) {
        count_at_stop = lapic_read(LAPIC_TIMER_CURRENT);
        lapic_write(LAPIC_LVT_TIMER, TIMER_VECTOR | LAPIC_TIMER_PERIODIC | LAPIC_LVT_MASKED);
        lapic_write(LAPIC_TIMER_INITIAL, 0);
    }
    lapic_eoi();
}

/* Waits (HLT) until ticks reaches want. Every interrupt source except the
 * LAPIC timer is masked, so each wake-up is a timer interrupt. */
static void wait_ticks(uint64_t want)
{
    while (ticks < want) {
        cpu_sti_hlt();
        cpu_cli();
        hlt_wakeups++;
    }
}

/* Busy-waits until the timer's current count reads 0 (expired). */
static void wait_timer_expired(void)
{
    while (lapic_read(LAPIC_TIMER_CURRENT) != 0)
        cpu_pause();
}

void test_main(void)
{
    idt_register(TIMER_VECTOR, timer_interrupt, 0);
    lapic_enable();
    uint32_t version = lapic_read(LAPIC_VERSION);
    kprintf("LAPIC id %u version 0x%x\n", lapic_read(LAPIC_ID) >> 24, version);

    lapic_write(LAPIC_TIMER_DIVIDE, LAPIC_TIMER_DIVIDE_BY_16);
    lapic_write(LAPIC_LVT_TIMER, TIMER_VECTOR); /* one-shot, unmasked */
    CHECK_EQ(lapic_read(LAPIC_LVT_TIMER), TIMER_VECTOR, "LVT timer read back");
    lapic_write(LAPIC_TIMER_INITIAL, ONE_SHOT_COUNT);
    uint32_t c1 = lapic_read(LAPIC_TIMER_CURRENT);
    CHECK(c1 > 0 && c1 <= ONE_SHOT_COUNT, "one-shot current count %u not in (0, %u]", c1, ONE_SHOT_COUNT);
    wait_ticks(1);
    CHECK_EQ(lapic_read(LAPIC_TIMER_CURRENT), 0, "one-shot current count after it fired");
    /* A one-shot timer does not re-arm: stay a while with interrupts on. */
    cpu_sti();
    for (int i = 0; i < 100000; i++)
        cpu_pause();
    cpu_cli();
    CHECK_EQ(ticks, 1, "interrupts from a one-shot timer");
    CHECK_EQ(lapic_read(LAPIC_TIMER_CURRENT), 0, "one-shot current count later");
    /* A masked timer counts down but raises nothing. */
    lapic_write(LAPIC_LVT_TIMER, TIMER_VECTOR | LAPIC_LVT_MASKED);
    lapic_write(LAPIC_TIMER_INITIAL, MASKED_COUNT);
    cpu_sti();
    wait_timer_expired();
    cpu_cli();
    CHECK_EQ(ticks, 1, "interrupts after a masked timer expired");

    ticks = 0;
    stop_at_tick = PERIODIC_TICKS;
    lapic_write(LAPIC_LVT_TIMER, TIMER_VECTOR | LAPIC_TIMER_PERIODIC);
    lapic_write(LAPIC_TIMER_INITIAL, PERIODIC_COUNT);
    wait_ticks(PERIODIC_TICKS);
    /* Periodic mode reloads: the count was running again at the last tick. */
    CHECK(count_at_stop > 0 && count_at_stop <= PERIODIC_COUNT,
          "periodic current count %u at the last tick not in (0, %u]", count_at_stop, PERIODIC_COUNT);
    CHECK_EQ(lapic_read(LAPIC_TIMER_CURRENT), 0, "current count after writing initial count 0");
    /* Masking does not clear IRR: one expiry that was already pending when
     * the handler stopped the timer may still arrive, nothing after it. */
    cpu_sti();
    for (int i = 0; i < 100000; i++)
        cpu_pause();
    cpu_cli();
    CHECK(ticks == PERIODIC_TICKS || ticks == PERIODIC_TICKS + 1,
          "periodic interrupts after stopping at tick %u: %lu", PERIODIC_TICKS, ticks);
    kprintf("one-shot: 1 interrupt; periodic: %lu interrupts; %lu HLT wake-ups\n", ticks,
            hlt_wakeups);
}
