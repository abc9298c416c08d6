/* The interpreter engine: executes x86-64 instructions on a struct x86_state
 * (cpu/state.h). Memory is reached through a translate hook that turns a
 * linear address into a host pointer or a fault; the result is cached in a
 * direct-mapped software TLB. Decoded instructions are cached by linear
 * address and revalidated by comparing their bytes with memory (safe against
 * self-modifying code and remapping without write tracking).
 * docs/interpreter.md describes the design and what is implemented. */
#ifndef TANDEM_CPU_INTERP_H
#define TANDEM_CPU_INTERP_H

#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>

#include "cpu/decode.h"
#include "cpu/state.h"

enum interp_access { ACC_READ = 1, ACC_WRITE = 2, ACC_EXEC = 4 };

/* A failed translation, in the exception's terms. */
struct interp_fault {
    uint8_t vector;    /* X86_PF, X86_GP, ... */
    bool has_error;
    uint32_t error;
    uint64_t address;  /* CR2 for #PF */
};

struct timing_model;

struct interp_mem_ops {
    /* Host pointer to the byte at linear address `la` for `access` (one of
     * ACC_*); the pointer stays valid, with the same permission, up to the
     * end of la's 4 KiB page, and may be cached in the TLB until
     * interp_tlb_flush. NULL: *fault says which exception to raise. The
     * page walk of the system part plugs in here. On success it may set
     * the interp's fill_paddr/fill_page_size (the timing model's physical
     * view; left alone, physical = linear in 4 KiB pages). */
    uint8_t *(*translate)(void *opaque, uint64_t la, unsigned access, struct interp_fault *fault);
    void *opaque;
};

/* Optional, for full-system engines (set in struct interp after
 * interp_init): a translate that sets fault->vector = INTERP_FAULT_MMIO
 * says la's page is device memory (never cached); the interpreter then
 * moves each access of 1..8 bytes through these, with mem.opaque.
 * Instruction fetch from such a page stops the run with
 * INTERP_STOP_UNSUPPORTED. */
struct interp_mmio_ops {
    uint64_t (*read)(void *opaque, uint64_t la, unsigned size);
    void (*write)(void *opaque, uint64_t la, unsigned size, uint64_t value);
};

/* interp_fault.vector value for "device memory" (not an x86 vector). */
#define INTERP_FAULT_MMIO 0xff

/* Which region marker executed (struct interp.marker). */
enum interp_marker { INTERP_MARKER_ROI_BEGIN, INTERP_MARKER_ROI_END };

/* Why interp_run returned. */
enum interp_stop {
    INTERP_STOP_COUNT,     /* executed the requested number of instructions, or a POPF
                              that set TF (the caller single-steps from there), or an STI or
                              POPF that set IF (the caller may take an interrupt) */
    INTERP_STOP_EXCEPTION, /* an exception is in state->ev (not delivered: the user-level engine
                              has no IDT; the system part delivers it) */
    INTERP_STOP_HALT,      /* HLT */
    INTERP_STOP_UNSUPPORTED, /* a system instruction this engine does not implement yet: state
                                is before it */
};

#define INTERP_TLB_SIZE 256
#define INTERP_ICACHE_SIZE 65536

struct interp_tlb_entry {
    uint64_t read_page, write_page, exec_page; /* page-aligned linear address, or 1 (invalid) */
    uintptr_t addend;                          /* host = la + addend */
};

/* A cached decode, valid while memory at its address still holds its
 * bytes: bytes[] (zero-padded) and mask[] cover the instruction's length
 * so the check is two 8-byte compares. The tag is the linear address with
 * the decode mode in bits 63:62 outside 64-bit mode (icache_tag in
 * cpu/interp.c). */
struct interp_icache_entry {
    uint64_t tag;
    uint64_t bytes[2], mask[2];
    /* The entry that ran after this one last time: the run loop tries it
     * (checking its tag) before indexing the cache. Never NULL. */
    struct interp_icache_entry *succ;
    struct decoded_insn in;
};

/* Physical side of a soft-TLB entry, for the timing model only (kept apart
 * so the functional entries stay 32 bytes): pa = la + addend. */
struct interp_tlb_phys {
    uint64_t addend;
    uint8_t page_size; /* enum tlb_page_size of the guest mapping */
};

struct interp {
    struct x86_state *s;
    struct interp_mem_ops mem;
    struct interp_mmio_ops mmio;
    enum x86_mode mode;
    unsigned apic_id;
    /* Guest TSC source (simulated time); NULL reads tsc_offset only. */
    uint64_t (*read_tsc)(void *opaque);
    void *tsc_opaque;
    /* Region markers (the magic NOPs of guest/include/tandemctl.h,
     * docs/guest-control.md): called with enum interp_marker while the
     * marker executes. NULL: they are plain NOPs. */
    void (*marker)(void *opaque, int which);
    void *marker_opaque;
    /* Set by handlers: the RIP after this instruction. */
    uint64_t next_rip;
    enum interp_stop stop;
    uint64_t insts; /* instructions retired */
    /* Pending arithmetic flags (cpu/interp_priv.h, "Lazy arithmetic flags"). */
    uint64_t lazy_a, lazy_b, lazy_res;
    uint8_t lazy_op, lazy_size;
    bool align_check; /* #AC enabled: CPL 3, CR0.AM, RFLAGS.AC */
    /* Set by INT n / INT3 / INT1 just before they raise their vector: the
     * opcode (0xcd, 0xcc, 0xf1), so a system part can deliver them as software
     * events. The caller clears it before interp_run; 0 means a fault. */
    uint8_t soft_int_opcode;
    jmp_buf exc_jump;
    struct interp_tlb_entry tlb[INTERP_TLB_SIZE];
    struct interp_icache_entry *icache; /* INTERP_ICACHE_SIZE entries */
    /* Cycle accounting (docs/timing.md). NULL: functional, the run loop
     * and memory helpers test this pointer only. Set: every instruction
     * is charged to the model and `cycles` grows; interp_run also stops
     * once cycles reaches cycle_limit. */
    struct timing_model *timing;
    uint64_t cycles;
    uint64_t cycle_limit;
    uint64_t fill_paddr;    /* set by mem.translate: physical page of the fill */
    uint8_t fill_page_size; /* enum tlb_page_size */
    struct interp_tlb_phys tlb_phys[INTERP_TLB_SIZE];
};

/* 0, or -1 with err_set. */
int interp_init(struct interp *ip, struct x86_state *s, const struct interp_mem_ops *mem);
void interp_destroy(struct interp *ip);
/* Recomputes the decode mode from CS/EFER (after the state changed under
 * the engine) and drops cached translations. */
void interp_state_changed(struct interp *ip);
void interp_tlb_flush(struct interp *ip);
/* Executes up to `count` instructions (with a timing model, also stopping
 * when ip->cycles reaches ip->cycle_limit). */
enum interp_stop interp_run(struct interp *ip, uint64_t count);

/* The one exit for exceptions: records the exception in state->ev, leaves
 * RIP at the faulting instruction and unwinds to interp_run. The system part
 * turns this into IDT delivery. */
_Noreturn void interp_raise(struct interp *ip, uint8_t vector, bool has_error, uint32_t error);

/* Selects the handler for a decoded instruction; false: #UD (undefined here
 * or not implemented by this engine). */
bool interp_select(struct decoded_insn *in);

#endif
