/* IOAPIC + UART: routes IOAPIC pin 4 (COM1, GSI 4) to a vector, enables the
 * 16550's THR-empty interrupt (IER bit 1) with MCR.OUT2, and checks the
 * interrupt arrives through the IOAPIC and LAPIC with IIR = THRE, once when
 * enabled and once more after a byte has been sent. A LAPIC one-shot timer
 * is the watchdog: no interrupt gives a FAIL line, not a hang. */
#include "guest.h"

const char test_name[] = "ioapic_uart";

#define UART_VECTOR 0x50
#define WATCHDOG_VECTOR 0x51
#define COM1_GSI 4
#define UART_IER (UART_COM1 + 1)
#define UART_IIR (UART_COM1 + 2)
#define UART_MCR (UART_COM1 + 4)
#define IER_THRE 0x02
#define MCR_DTR_RTS 0x03
#define MCR_OUT2 0x08
#define IIR_THRE 0x02 /* bits 3:0: interrupt pending (bit 0 clear), ID 001 */

static volatile uint64_t uart_interrupts;
static volatile uint8_t last_iir;
static const char *volatile waiting_for;

static void uart_interrupt(struct trap_frame *f)
{
    (void)f;
    last_iir = inb(UART_IIR); /* reading IIR clears a THRE interrupt */
    uart_interrupts++;
    lapic_eoi();
}

static void watchdog(struct trap_frame *f)
{
    (void)f;
    outb(UART_IER, 0);
    test_fail("timed out waiting for %s", waiting_for);
}

static void wait_uart_interrupts(uint64_t want, const char *what)
{
    waiting_for = what;
    lapic_write(LAPIC_TIMER_DIVIDE, LAPIC_TIMER_DIVIDE_BY_16);
    lapic_write(LAPIC_LVT_TIMER, WATCHDOG_VECTOR);
    lapic_write(LAPIC_TIMER_INITIAL, 0x10000000);
    while (uart_interrupts < want) {
        cpu_sti_hlt();
        cpu_cli();
    }
    lapic_write(LAPIC_TIMER_INITIAL, 0);
}

void test_main(void)
{
    idt_register(UART_VECTOR, uart_interrupt, 0);
    idt_register(WATCHDOG_VECTOR, watchdog, 0);
    lapic_enable();
    uint32_t max_redir = (ioapic_read(IOAPIC_REG_VERSION) >> 16) & 0xFF;
    CHECK(max_redir >= COM1_GSI, "IOAPIC has %u pins, need pin %u", max_redir + 1, COM1_GSI);
    ioapic_route(COM1_GSI, UART_VECTOR, (uint8_t)(lapic_read(LAPIC_ID) >> 24));
    CHECK_EQ(ioapic_read(IOAPIC_REG_REDIR + 2 * COM1_GSI) & 0x1FFFF, UART_VECTOR,
             "IOAPIC pin 4 redirection entry read back (unmasked, edge, fixed)");

    outb(UART_MCR, MCR_DTR_RTS | MCR_OUT2);
    outb(UART_IER, IER_THRE); /* THR is empty: the interrupt is due at once */
    wait_uart_interrupts(1, "the THRE interrupt after enabling IER.THRE");
    CHECK_EQ(last_iir & 0x0F, IIR_THRE, "IIR in the first interrupt");
    CHECK_EQ(inb(UART_IIR) & 0x01, 1, "IIR pending bit after the THRE interrupt was read");

    outb(UART_COM1, '*'); /* THRE again once this byte has left */
    wait_uart_interrupts(2, "the THRE interrupt after sending a byte");
    CHECK_EQ(last_iir & 0x0F, IIR_THRE, "IIR in the second interrupt");

    outb(UART_IER, 0);
    outb(UART_MCR, MCR_DTR_RTS);
    ioapic_mask(COM1_GSI);
    /* The console is polled: with IER clear its output raises nothing. */
    cpu_sti();
    kprintf("\nUART THRE interrupt arrived through IOAPIC pin %u twice\n", COM1_GSI);
    cpu_cli();
    CHECK_EQ(uart_interrupts, 2, "UART interrupts after IER was cleared");
}
