/* tandemctl.h: the guest side of tandem's guest-control device
 * (docs/guest-control.md). Freestanding C for x86 guests: no libc, only
 * <stdint.h>. The register interface and every number in it are defined
 * here once; the simulator's device (dev/guestctl.c) includes this header
 * with TANDEMCTL_ABI_ONLY defined so both sides always agree.
 *
 * Port I/O needs I/O privilege: ring 0, or ring 3 after iopl(3) / ioperm()
 * under Linux (ioperm(TANDEMCTL_PORT, TANDEMCTL_PORT_COUNT, 1)).
 *
 * Register block: 16 ports at TANDEMCTL_PORT, four 32-bit registers, each
 * accessed only with aligned 32-bit IN/OUT (anything else is ignored and
 * counted by the device):
 *
 *   +0x0 CMD      write: run command (arguments taken from ARG0-ARG3)
 *                 read:  status of the last command (enum tandemctl_status)
 *   +0x4 SELECT   read/write: which 64-bit slot DATA_LO/DATA_HI show
 *   +0x8 DATA_LO  read/write: bits 31:0 of the selected slot
 *   +0xC DATA_HI  read/write: bits 63:32 of the selected slot
 *
 * Slots: 0-3 = ARG0-ARG3 (read/write), 4 = RESULT (read-only, set by the
 * last command), 5 = ID (read-only: DATA_LO = TANDEMCTL_MAGIC, DATA_HI =
 * TANDEMCTL_VERSION). Arguments keep their values between commands.
 *
 * Usage from C:
 *     if (!tandemctl_present()) ...;
 *     tandemctl_print("hello\n", 6);          // buffer address must be
 *                                             // guest-physical (see below)
 *     tandemctl_roi_begin(); work(); tandemctl_roi_end();
 *     tandemctl_exit(0);
 *
 * Addresses passed to the device (PRINT, READ_HOST_FILE) are
 * GUEST-PHYSICAL. Bare-metal programs with identity mapping can pass
 * pointers as they are; Linux user programs must translate (e.g. through
 * /proc/self/pagemap of a locked buffer) or use a physically contiguous
 * buffer, and keep each request within one page unless the buffer is
 * known to be contiguous.
 */
#ifndef TANDEMCTL_H
#define TANDEMCTL_H

#include <stdint.h>

#define TANDEMCTL_PORT 0x5A0
#define TANDEMCTL_PORT_COUNT 16
#define TANDEMCTL_MAGIC 0x4D444E54u /* "TNDM" little-endian */
#define TANDEMCTL_VERSION 1u

/* Register offsets. */
#define TANDEMCTL_REG_CMD 0x0
#define TANDEMCTL_REG_SELECT 0x4
#define TANDEMCTL_REG_DATA_LO 0x8
#define TANDEMCTL_REG_DATA_HI 0xC

/* SELECT values. */
#define TANDEMCTL_SLOT_ARG0 0
#define TANDEMCTL_SLOT_ARG1 1
#define TANDEMCTL_SLOT_ARG2 2
#define TANDEMCTL_SLOT_ARG3 3
#define TANDEMCTL_SLOT_RESULT 4
#define TANDEMCTL_SLOT_ID 5
#define TANDEMCTL_NSLOTS 6
#define TANDEMCTL_NARGS 4

/* Commands written to CMD, with their arguments and RESULT. */
enum tandemctl_cmd {
    TANDEMCTL_CMD_EXIT = 1,           /* ARG0 = exit code (int32); ends the run */
    TANDEMCTL_CMD_CHECKPOINT = 2,     /* ARG0 = tag (any 64-bit value) */
    TANDEMCTL_CMD_SWITCH_ENGINE = 3,  /* ARG0 = enum tandemctl_engine */
    TANDEMCTL_CMD_STATS_RESET = 4,    /* no arguments */
    TANDEMCTL_CMD_STATS_DUMP = 5,     /* no arguments; dump reason "guest" */
    TANDEMCTL_CMD_ROI_BEGIN = 6,      /* resets the stats */
    TANDEMCTL_CMD_ROI_END = 7,        /* dumps the stats, reason "roi" */
    TANDEMCTL_CMD_HOST_FILE_SIZE = 8, /* ARG0 = file index; RESULT = size in bytes */
    TANDEMCTL_CMD_READ_HOST_FILE = 9, /* ARG0 = file index, ARG1 = guest-physical
                                       * buffer, ARG2 = length, ARG3 = offset in
                                       * the file; RESULT = bytes copied (less
                                       * than ARG2 at end of file, 0 past it) */
    TANDEMCTL_CMD_PRINT = 10,         /* ARG0 = guest-physical address, ARG1 =
                                       * length (<= TANDEMCTL_PRINT_MAX); the
                                       * bytes go to the simulator's output;
                                       * RESULT = bytes printed */
};

#define TANDEMCTL_PRINT_MAX 65536u

/* SWITCH_ENGINE argument. */
enum tandemctl_engine {
    TANDEMCTL_ENGINE_KVM = 0,
    TANDEMCTL_ENGINE_INTERP = 1,
};

/* Values read from CMD. */
enum tandemctl_status {
    TANDEMCTL_OK = 0,
    TANDEMCTL_BUSY = 1,            /* accepted; the simulator is still acting
                                    * on it: poll CMD until it changes */
    TANDEMCTL_UNSUPPORTED = 2,     /* this simulator setup cannot do it */
    TANDEMCTL_UNKNOWN_COMMAND = 3,
    TANDEMCTL_BAD_ARGUMENT = 4,    /* e.g. no host file with that index */
    TANDEMCTL_BAD_ADDRESS = 5,     /* buffer not wholly inside guest RAM */
    TANDEMCTL_IO_ERROR = 6,        /* host-side failure (file, stats dump) */
    TANDEMCTL_FAILED = 7,          /* the simulator tried and failed */
};

/* Region markers: `nopl disp32(%rax,%rax,1)` (bytes 0F 1F 84 00, then the
 * 32-bit displacement) with one of these displacements. A multi-byte NOP on
 * every x86 CPU, under KVM and under valgrind; tandem's interpreter engine
 * takes it as a region-of-interest marker. No device and no privilege:
 * usable from a Linux user program as it is (docs/guest-control.md,
 * "Region markers"). The low byte is 'B' or 'E', the rest "NDM". */
#define TANDEMCTL_MARKER_ROI_BEGIN 0x4D444E42
#define TANDEMCTL_MARKER_ROI_END 0x4D444E45
#define TANDEMCTL_MARKER_STR_(x) #x
#define TANDEMCTL_MARKER_STR(x) TANDEMCTL_MARKER_STR_(x)
/* The marker as assembly text for asm statements: the bytes, the same in
 * 16-, 32- and 64-bit code. */
#define TANDEMCTL_MARKER_ASM(disp) ".byte 0x0f, 0x1f, 0x84, 0x00\n\t.long " TANDEMCTL_MARKER_STR(disp)

#ifndef TANDEMCTL_ABI_ONLY

/* Begins the region: stats reset; the interpreter's cachegrind counting
 * mode starts counting this process (docs/timing.md). */
static inline void tandemctl_marker_roi_begin(void)
{
    __asm__ __volatile__(TANDEMCTL_MARKER_ASM(TANDEMCTL_MARKER_ROI_BEGIN) : : : "memory");
}

/* Ends the region with this process's next system call (included): then
 * the stats are dumped (reason "roi") and cachegrind counting stops. */
static inline void tandemctl_marker_roi_end(void)
{
    __asm__ __volatile__(TANDEMCTL_MARKER_ASM(TANDEMCTL_MARKER_ROI_END) : : : "memory");
}

static inline void tandemctl_outl(uint16_t port, uint32_t v)
{
    __asm__ __volatile__("outl %0, %1" : : "a"(v), "Nd"(port) : "memory");
}

static inline uint32_t tandemctl_inl(uint16_t port)
{
    uint32_t v;
    __asm__ __volatile__("inl %1, %0" : "=a"(v) : "Nd"(port) : "memory");
    return v;
}

static inline void tandemctl_set_slot(uint32_t slot, uint64_t v)
{
    tandemctl_outl(TANDEMCTL_PORT + TANDEMCTL_REG_SELECT, slot);
    tandemctl_outl(TANDEMCTL_PORT + TANDEMCTL_REG_DATA_LO, (uint32_t)v);
    tandemctl_outl(TANDEMCTL_PORT + TANDEMCTL_REG_DATA_HI, (uint32_t)(v >> 32));
}

static inline uint64_t tandemctl_get_slot(uint32_t slot)
{
    tandemctl_outl(TANDEMCTL_PORT + TANDEMCTL_REG_SELECT, slot);
    uint64_t lo = tandemctl_inl(TANDEMCTL_PORT + TANDEMCTL_REG_DATA_LO);
    uint64_t hi = tandemctl_inl(TANDEMCTL_PORT + TANDEMCTL_REG_DATA_HI);
    return hi << 32 | lo;
}

/* 1 when the guest-control device answers with the right magic. */
static inline int tandemctl_present(void)
{
    return (uint32_t)tandemctl_get_slot(TANDEMCTL_SLOT_ID) == TANDEMCTL_MAGIC;
}

/* Runs a command with up to four arguments, waits while it is BUSY, and
 * returns its status; *result (if not NULL) receives RESULT. */
static inline enum tandemctl_status tandemctl_command(enum tandemctl_cmd cmd, uint64_t a0,
                                                      uint64_t a1, uint64_t a2, uint64_t a3,
                                                      uint64_t *result)
{
    tandemctl_set_slot(TANDEMCTL_SLOT_ARG0, a0);
    tandemctl_set_slot(TANDEMCTL_SLOT_ARG1, a1);
    tandemctl_set_slot(TANDEMCTL_SLOT_ARG2, a2);
    tandemctl_set_slot(TANDEMCTL_SLOT_ARG3, a3);
    tandemctl_outl(TANDEMCTL_PORT + TANDEMCTL_REG_CMD, (uint32_t)cmd);
    uint32_t st;
    while ((st = tandemctl_inl(TANDEMCTL_PORT + TANDEMCTL_REG_CMD)) == TANDEMCTL_BUSY)
        __asm__ __volatile__("pause");
    if (result)
        *result = tandemctl_get_slot(TANDEMCTL_SLOT_RESULT);
    return (enum tandemctl_status)st;
}

/* Ends the simulation with code; does not return while tandem runs. */
static inline void tandemctl_exit(int32_t code)
{
    tandemctl_command(TANDEMCTL_CMD_EXIT, (uint32_t)code, 0, 0, 0, 0);
}

static inline enum tandemctl_status tandemctl_checkpoint(uint64_t tag)
{
    return tandemctl_command(TANDEMCTL_CMD_CHECKPOINT, tag, 0, 0, 0, 0);
}

static inline enum tandemctl_status tandemctl_switch_engine(enum tandemctl_engine engine)
{
    return tandemctl_command(TANDEMCTL_CMD_SWITCH_ENGINE, engine, 0, 0, 0, 0);
}

static inline enum tandemctl_status tandemctl_stats_reset(void)
{
    return tandemctl_command(TANDEMCTL_CMD_STATS_RESET, 0, 0, 0, 0, 0);
}

static inline enum tandemctl_status tandemctl_stats_dump(void)
{
    return tandemctl_command(TANDEMCTL_CMD_STATS_DUMP, 0, 0, 0, 0, 0);
}

static inline enum tandemctl_status tandemctl_roi_begin(void)
{
    return tandemctl_command(TANDEMCTL_CMD_ROI_BEGIN, 0, 0, 0, 0, 0);
}

static inline enum tandemctl_status tandemctl_roi_end(void)
{
    return tandemctl_command(TANDEMCTL_CMD_ROI_END, 0, 0, 0, 0, 0);
}

/* Size of host file index in *size. */
static inline enum tandemctl_status tandemctl_host_file_size(uint32_t index, uint64_t *size)
{
    return tandemctl_command(TANDEMCTL_CMD_HOST_FILE_SIZE, index, 0, 0, 0, size);
}

/* Copies up to len bytes from offset of host file index into guest-physical
 * memory at buf_gpa; *copied receives the byte count. */
static inline enum tandemctl_status tandemctl_read_host_file(uint32_t index, uint64_t buf_gpa,
                                                             uint64_t len, uint64_t offset,
                                                             uint64_t *copied)
{
    return tandemctl_command(TANDEMCTL_CMD_READ_HOST_FILE, index, buf_gpa, len, offset, copied);
}

/* Prints len bytes at guest-physical address gpa on the simulator's output. */
static inline enum tandemctl_status tandemctl_print_gpa(uint64_t gpa, uint64_t len)
{
    return tandemctl_command(TANDEMCTL_CMD_PRINT, gpa, len, 0, 0, 0);
}

/* For identity-mapped (bare-metal) code: prints a buffer by its address. */
static inline enum tandemctl_status tandemctl_print(const char *s, uint64_t len)
{
    return tandemctl_print_gpa((uint64_t)(uintptr_t)s, len);
}

#endif /* TANDEMCTL_ABI_ONLY */
#endif
