/* Protected-mode system structures shared by the interpreter's system
 * instructions: segment-descriptor loads with their checks (SDM Vol. 3A
 * ch. 3 and 5, MOV Sreg / far transfers), event delivery through the IDT in
 * real, protected and long mode with privilege changes, IST, nested faults,
 * double and triple fault (SDM Vol. 3A ch. 6), and IRET. Memory goes through
 * the page walker (cpu/mmu.h) with supervisor privilege, as the processor's
 * implicit system accesses do. */
#ifndef TANDEM_CPU_SEGMENTS_H
#define TANDEM_CPU_SEGMENTS_H

#include <stdbool.h>
#include <stdint.h>

#include "cpu/state.h"

struct bus;

/* A fault raised by a system operation: vector and error code (CR2 for #PF
 * goes in cr2). */
struct x86_fault {
    uint8_t vector;
    bool has_error;
    uint32_t error;
    uint64_t cr2;
};

enum x86_event_source {
    EVENT_EXCEPTION, /* raised by an instruction; hardware error code rules */
    EVENT_EXTERNAL,  /* interrupt from the LAPIC/PIC (sets EXT in error codes) */
    EVENT_NMI,
    EVENT_SOFT_INT,  /* INT n: gate DPL checked against CPL */
    EVENT_SOFT_EXC,  /* INT3, INTO: DPL checked, delivered as exceptions */
};

struct x86_event {
    enum x86_event_source source;
    uint8_t vector;
    bool has_error;
    uint32_t error;
    uint64_t cr2; /* #PF: the faulting linear address */
};

/* CPL: 0 in real mode, 3 in virtual-8086 mode, else CS.RPL (which the
 * architecture keeps equal to CPL). */
static inline unsigned x86_cpl(const struct x86_state *s)
{
    if (!(s->cr0 & X86_CR0_PE))
        return 0;
    if (s->rflags & X86_FLAG_VM)
        return 3;
    return s->seg[S_CS].selector & 3;
}

/* Reads the 8-byte descriptor for selector from the GDT/LDT. 0, or -1 with
 * the fault (#GP(selector) when outside the table limit, or #PF). */
int x86_read_descriptor(struct bus *bus, const struct x86_state *s, uint16_t selector,
                        uint64_t *desc, struct x86_fault *f);
/* Decodes a code/data descriptor into a segment register's hidden part. */
void x86_decode_descriptor(uint64_t desc, uint16_t selector, struct x86_segment *seg);
/* The processor sets the accessed bit of a code/data descriptor it loads
 * (in the GDT/LDT entry of selector; desc is the entry as read). */
void x86_mark_accessed(struct bus *bus, const struct x86_state *s, uint16_t selector, uint64_t desc);

/* MOV/POP to a data segment register or SS with the protected-mode checks;
 * in real mode base = selector << 4. 0, or -1 with the fault. */
int x86_load_data_segment(struct bus *bus, struct x86_state *s, enum x86_seg which,
                          uint16_t selector, struct x86_fault *f);

/* Delivers an event with RIP already set to the return address (faults:
 * the faulting instruction; traps and INT n: the next one). Nested faults
 * during delivery combine per SDM Table 6-5 into #DF; a fault while
 * delivering #DF is a triple fault: the state's run_state becomes
 * X86_SHUTDOWN and the function returns -1. */
int x86_deliver_event(struct bus *bus, struct x86_state *s, const struct x86_event *ev);

/* IRET/IRETD/IRETQ with operand size 2, 4 or 8. 0, or -1 with the fault
 * (the caller delivers it). Task returns (NT=1 in protected mode) are not
 * supported and raise #GP(0). */
int x86_iret(struct bus *bus, struct x86_state *s, unsigned opsize, struct x86_fault *f);

#endif
