/* The platform layout: every guest-physical address, I/O port, IRQ and GSI
 * number of tandem's PC lives here and nowhere else. */
#ifndef TANDEM_MEM_PC_LAYOUT_H
#define TANDEM_MEM_PC_LAYOUT_H

/* ---- Guest-physical memory ---- */
#define PC_LOW_RAM_END 0xC0000000ULL   /* RAM below 4 GiB stops at 3 GiB */
#define PC_HIGH_RAM_BASE 0x100000000ULL /* the rest of RAM starts at 4 GiB */
#define PC_MMIO_HOLE_BASE PC_LOW_RAM_END
/* Legacy area reported reserved in e820 (EBDA, VGA, option ROMs, BIOS). */
#define PC_EBDA_START 0x9FC00ULL
#define PC_HIMEM_START 0x100000ULL

/* Boot-time structures the loaders place (Firecracker-like layout). */
#define PC_BOOT_GDT 0x500ULL
#define PC_BOOT_IDT 0x520ULL
#define PC_BOOT_PARAMS 0x7000ULL  /* Linux zero page */
#define PC_BOOT_MULTIBOOT_INFO 0x7000ULL /* Multiboot info, in place of the zero page */
#define PC_BOOT_STACK 0x8FF0ULL
#define PC_BOOT_PML4 0x9000ULL   /* identity page tables: PML4, PDPT, PDs */
#define PC_BOOT_PDPT 0xA000ULL
#define PC_BOOT_PD 0xB000ULL     /* 4 PDs: 0xB000-0xEFFF map 4 GiB */
#define PC_BOOT_CMDLINE 0x20000ULL
#define PC_BOOT_CMDLINE_MAX 0x10000ULL
#define PC_ACPI_BASE 0xE0000ULL  /* RSDP first, then the other tables */
#define PC_ACPI_SIZE 0x20000ULL

/* ---- MMIO ---- */
#define PC_VIRTIO_MMIO_BASE 0xD0000000ULL
#define PC_VIRTIO_MMIO_STRIDE 0x1000ULL
#define PC_VIRTIO_MMIO_MAX 8
#define PC_FRAMEBUFFER_BASE 0xE0000000ULL
#define PC_IOAPIC_BASE 0xFEC00000ULL
#define PC_IOAPIC_SIZE 0x1000ULL
#define PC_LAPIC_BASE 0xFEE00000ULL
#define PC_LAPIC_SIZE 0x1000ULL
/* Pages Intel KVM needs for real mode without unrestricted guest
 * (KVM_SET_IDENTITY_MAP_ADDR: 1 page, KVM_SET_TSS_ADDR: 3 pages); nothing
 * else may live there. */
#define PC_KVM_IDENTITY_MAP 0xFEFFC000ULL
#define PC_KVM_TSS 0xFEFFD000ULL

/* ---- I/O ports ---- */
#define PC_PORT_PIC_MASTER 0x20   /* 0x20-0x21 */
#define PC_PORT_PIT 0x40          /* 0x40-0x43 */
#define PC_PORT_I8042_DATA 0x60
#define PC_PORT_SYSCTL_B 0x61     /* speaker / PIT gate, bit 5 = OUT2 */
#define PC_PORT_I8042_CMD 0x64
#define PC_PORT_RTC 0x70          /* 0x70-0x71 */
#define PC_CMOS_CENTURY 0x32      /* CMOS index of the century byte */
#define PC_PORT_PIC_SLAVE 0xA0    /* 0xA0-0xA1 */
#define PC_PORT_DEBUG_EXIT 0xF4   /* QEMU isa-debug-exit compatible */
#define PC_PORT_COM1 0x3F8
#define PC_PORT_COM2 0x2F8
#define PC_PORT_COM3 0x3E8
#define PC_PORT_COM4 0x2E8
#define PC_PORT_ELCR 0x4D0        /* 0x4D0-0x4D1 */
#define PC_PORT_GUESTCTL 0x5A0    /* 0x5A0-0x5AF, see dev/guestctl.c */
#define PC_PORT_GUESTCTL_SIZE 16
#define PC_PORT_ACPI_SLEEP_CTL 0x600 /* hardware-reduced sleep control */
#define PC_PORT_ACPI_SLEEP_STS 0x601 /* and status registers */
/* SLP_TYP the DSDT's \_S5_ object names; writing it with SLP_EN to the
 * sleep control register powers the machine off (dev/acpi_pm.c). */
#define PC_ACPI_SLP_TYP_S5 5

/* ---- Interrupts ---- */
#define PC_IOAPIC_PINS 24
#define PC_GSI_PIT 2       /* ISA IRQ0 is overridden to GSI 2 */
#define PC_IRQ_PIT 0
#define PC_GSI_KEYBOARD 1
#define PC_GSI_COM2 3
#define PC_GSI_COM1 4
#define PC_GSI_RTC 8
#define PC_GSI_MOUSE 12
#define PC_GSI_VIRTIO_FIRST 16 /* virtio-mmio device i uses GSI 16 + i */
#define PC_LAPIC_NMI_LINT 1

#endif
