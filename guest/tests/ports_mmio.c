/* Port I/O and MMIO round trips against the PC's devices: the COM1 scratch
 * register, an absent COM2 (reads 0xFF), the LAPIC and IOAPIC version
 * registers over MMIO, and the CMOS RTC time registers. */
#include "guest.h"

const char test_name[] = "ports_mmio";

#define UART_SCR 7
#define UART_LSR 5
#define COM2 0x2F8
#define CMOS_INDEX 0x70
#define CMOS_DATA 0x71
#define RTC_SECONDS 0x00
#define RTC_MINUTES 0x02
#define RTC_HOURS 0x04
#define RTC_STATUS_A 0x0A
#define RTC_STATUS_B 0x0B
#define RTC_A_UIP 0x80
#define RTC_B_BINARY 0x04
#define RTC_B_24H 0x02

static uint8_t cmos_read(uint8_t reg)
{
    outb(CMOS_INDEX, reg); /* bit 7 clear: NMIs stay enabled */
    return inb(CMOS_DATA);
}

/* A time field in the RTC's format (status B): BCD unless DM is set. */
static unsigned rtc_value(uint8_t raw, bool binary, const char *what, unsigned limit)
{
    unsigned v = raw;
    if (!binary) {
        CHECK((raw & 0x0F) <= 9 && (raw >> 4) <= 9, "RTC %s 0x%x is not BCD", what, raw);
        v = (raw >> 4) * 10 + (raw & 0x0F);
    }
    CHECK(v < limit, "RTC %s %u out of range (< %u)", what, v, limit);
    return v;
}

static void test_uart_ports(void)
{
    static const uint8_t patterns[] = {0x5A, 0xA5, 0x00, 0xFF};
    for (unsigned i = 0; i < sizeof patterns; i++) {
        outb(UART_COM1 + UART_SCR, patterns[i]);
        CHECK_EQ(inb(UART_COM1 + UART_SCR), patterns[i], "COM1 scratch register round trip");
    }
    outb(COM2 + UART_SCR, 0x5A);
    CHECK_EQ(inb(COM2 + UART_SCR), 0xFF, "absent COM2 scratch register");
    CHECK_EQ(inb(COM2 + UART_LSR), 0xFF, "absent COM2 line status register");
}

static void test_apics(void)
{
    uint32_t version = mmio_read32(LAPIC_BASE + LAPIC_VERSION);
    unsigned lapic_ver = version & 0xFF, max_lvt = (version >> 16) & 0xFF;
    /* 0x1x: integrated APIC; Pentium 4 and later report 0x14 or 0x15. */
    CHECK(lapic_ver >= 0x10 && lapic_ver <= 0x15, "LAPIC version 0x%x not an integrated APIC", lapic_ver);
    CHECK(max_lvt >= 4, "LAPIC max LVT entry %u < 4", max_lvt);
    uint32_t r[4];
    cpuid(1, 0, r);
    CHECK_EQ(mmio_read32(LAPIC_BASE + LAPIC_ID) >> 24, r[1] >> 24,
             "LAPIC ID register vs CPUID.1:EBX initial APIC ID");
    /* A read-write register over MMIO: the TPR. */
    lapic_write(LAPIC_TPR, 0x20);
    CHECK_EQ(lapic_read(LAPIC_TPR) & 0xFF, 0x20, "LAPIC TPR round trip");
    lapic_write(LAPIC_TPR, 0);

    uint32_t io_version = ioapic_read(IOAPIC_REG_VERSION);
    CHECK_EQ((io_version >> 16) & 0xFF, 23, "IOAPIC max redirection entry (24 pins)");
    CHECK((io_version & 0xFF) >= 0x11 && (io_version & 0xFF) <= 0x20,
          "IOAPIC version 0x%x not 0x11-0x20", io_version & 0xFF);
    /* The redirection entries are read-write: the destination field. */
    ioapic_write(IOAPIC_REG_REDIR + 2 * 9 + 1, 0x0F000000);
    CHECK_EQ(ioapic_read(IOAPIC_REG_REDIR + 2 * 9 + 1) >> 24, 0x0F, "IOAPIC pin 9 destination round trip");
    ioapic_write(IOAPIC_REG_REDIR + 2 * 9 + 1, 0);
    kprintf("LAPIC version 0x%x (max LVT %u), IOAPIC version 0x%x\n", lapic_ver, max_lvt,
            io_version & 0xFF);
}

static void test_rtc(void)
{
    uint8_t status_b = cmos_read(RTC_STATUS_B);
    bool binary = status_b & RTC_B_BINARY;
    /* Wait out an update in progress so the fields are consistent. */
    for (int i = 0; i < 1000000 && (cmos_read(RTC_STATUS_A) & RTC_A_UIP); i++)
        cpu_pause();
    unsigned sec = rtc_value(cmos_read(RTC_SECONDS), binary, "seconds", 60);
    unsigned min = rtc_value(cmos_read(RTC_MINUTES), binary, "minutes", 60);
    uint8_t raw_hours = cmos_read(RTC_HOURS);
    unsigned hour = (status_b & RTC_B_24H) ? rtc_value(raw_hours, binary, "hours", 24)
                                           : rtc_value(raw_hours & 0x7F, binary, "hours (12h)", 13);
    kprintf("RTC %02u:%02u:%02u (%s, status B 0x%x)\n", hour, min, sec, binary ? "binary" : "BCD",
            status_b);
}

void test_main(void)
{
    test_uart_ports();
    test_apics();
    test_rtc();
}
