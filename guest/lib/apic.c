/* LAPIC, IOAPIC and 8259 helpers (Intel SDM Vol. 3A ch. 11; 82093AA IOAPIC
 * datasheet; 8259A datasheet). */
#include "guest.h"

static void spurious_handler(struct trap_frame *f)
{
    (void)f; /* a spurious interrupt needs no EOI (SDM 11.9) */
}

void lapic_enable(void)
{
    idt_register(LAPIC_SPURIOUS_VECTOR, spurious_handler, 0);
    lapic_write(LAPIC_TPR, 0);
    lapic_write(LAPIC_LVT_TIMER, LAPIC_LVT_MASKED);
    lapic_write(LAPIC_LVT_LINT0, LAPIC_LVT_MASKED);
    lapic_write(LAPIC_LVT_LINT1, LAPIC_LVT_MASKED);
    lapic_write(LAPIC_LVT_ERROR, LAPIC_LVT_MASKED);
    lapic_write(LAPIC_SVR, LAPIC_SVR_ENABLE | LAPIC_SPURIOUS_VECTOR);
}

uint32_t ioapic_read(uint32_t reg)
{
    mmio_write32(IOAPIC_BASE + IOAPIC_REGSEL, reg);
    return mmio_read32(IOAPIC_BASE + IOAPIC_WINDOW);
}

void ioapic_write(uint32_t reg, uint32_t v)
{
    mmio_write32(IOAPIC_BASE + IOAPIC_REGSEL, reg);
    mmio_write32(IOAPIC_BASE + IOAPIC_WINDOW, v);
}

void ioapic_route(unsigned pin, uint8_t vector, uint8_t apic_id)
{
    ioapic_write(IOAPIC_REG_REDIR + 2 * pin + 1, (uint32_t)apic_id << 24);
    ioapic_write(IOAPIC_REG_REDIR + 2 * pin, vector);
}

void ioapic_mask(unsigned pin)
{
    ioapic_write(IOAPIC_REG_REDIR + 2 * pin, IOAPIC_REDIR_MASKED);
}

void pic_mask_all(void)
{
    outb(0x21, 0xFF);
    outb(0xA1, 0xFF);
}
