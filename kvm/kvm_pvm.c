/* A workaround for kvm_pvm's #UDs (docs/kvm.md, docs/interp-engine.md):
 * INT n executed at CPL 3 reaches the guest as #UD instead of going through
 * its IDT gate (or raising #GP for a DPL-0 gate), and the host's ring-0
 * emulator answers instructions it does not implement (POPCNT, MOVBE, ...,
 * whatever the guest's CPUID claims) with a #UD delivered into the guest
 * rather than an emulation-failure exit. tandem catches every #UD at the
 * guest's #UD handler with a hardware instruction breakpoint (which kvm_pvm
 * supports at CPL 0), undoes the delivery (IRETQ on the state) and hands the
 * instruction to the fallback engine, the interpreter: it executes what the
 * CPU model implements and raises the #UD itself for what it does not, so a
 * guest's UD2 (Linux's BUG/WARN) still reaches its handler exactly once.
 * Only armed on kvm_pvm hosts, in long mode: the breakpoints take DR0, DR1
 * and DR7 while armed (guest debug registers are not honoured then).
 *
 * The same way, a breakpoint on the guest's #PF handler repairs kvm_pvm's
 * SYSCALL from ring 3: with the kernel's entry point (IA32_LSTAR) in the
 * upper half, as Linux has it, kvm_pvm jumps there without leaving user
 * mode, and the guest takes a user-mode instruction-fetch #PF at its own
 * entry point (Linux: "segfault at <entry_SYSCALL_64> ... error 15" for the
 * calling process). SYSCALL has stored the return address in RCX and
 * RFLAGS in R11, so the state before it is known: tandem undoes the #PF,
 * puts the state back at the SYSCALL and hands it to the fallback engine,
 * which executes it architecturally. Every other #PF reaches its handler
 * through the fallback engine's first instructions. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <sys/ioctl.h>

#include "cpu/mmu.h"
#include "cpu/segments.h"
#include "kvm/kvm_priv.h"
#include "mem/system.h"
#include "sim/log.h"

DEBUG_FLAG_DECLARE(Kvm);

/* The guest's handler address for vector from its 64-bit IDT, or 0. */
static uint64_t idt_handler(struct cpu *cpu, const struct kvm_sregs *sr, unsigned vector)
{
    if (!(sr->efer & X86_EFER_LMA) || sr->idt.limit < vector * 16 + 15)
        return 0;
    struct x86_state view;
    memset(&view, 0, sizeof(view));
    view.cr0 = sr->cr0;
    view.cr3 = sr->cr3;
    view.cr4 = sr->cr4;
    view.msr.efer = sr->efer;
    uint64_t gate[2];
    if (mmu_read_linear(&cpu->system->bus, &view, sr->idt.base + vector * 16, gate, 16) != 16)
        return 0;
    if (!(gate[0] & (1ull << 47)))
        return 0;
    return (gate[0] & 0xffff) | ((gate[0] >> 32) & 0xffff0000ull) | (gate[1] << 32);
}

int kvm_pvm_arm_intercepts(struct cpu *cpu, struct kvm_vcpu *v)
{
    struct kvm_sregs sr;
    if (ioctl(v->fd, KVM_GET_SREGS, &sr) < 0) {
        err_set("KVM_GET_SREGS failed: %s", strerror(errno));
        return -1;
    }
    uint64_t ud = idt_handler(cpu, &sr, X86_UD), pf = idt_handler(cpu, &sr, X86_PF);
    if (ud == v->ud_bp_addr && pf == v->pf_bp_addr)
        return 0;
    struct kvm_guest_debug dbg;
    memset(&dbg, 0, sizeof(dbg));
    if (ud || pf) {
        dbg.control = KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_USE_HW_BP;
        dbg.arch.debugreg[0] = ud;
        dbg.arch.debugreg[1] = pf;
        /* L0 and L1 where set; execute, 1 byte; bit 10 reads as 1 */
        dbg.arch.debugreg[7] = 0x400 | (ud ? 0x1 : 0) | (pf ? 0x4 : 0);
    }
    if (ioctl(v->fd, KVM_SET_GUEST_DEBUG, &dbg) < 0) {
        err_set("KVM_SET_GUEST_DEBUG failed: %s", strerror(errno));
        return -1;
    }
    DPRINTF(Kvm, &cpu->obj, "kvm_pvm: #UD intercept at %#" PRIx64 ", #PF intercept at %#" PRIx64,
            ud, pf);
    v->ud_bp_addr = ud;
    v->pf_bp_addr = pf;
    return 0;
}

/* Whether the 64-bit interrupt frame at the top of the #UD handler's stack
 * looks like one a CPU pushed: selectors with only their low 16 bits, RFLAGS
 * with bit 1 set and nothing above bit 21, CS at ring 0 or 3. */
static bool plausible_frame(const uint64_t frame[5])
{
    unsigned rpl = frame[1] & 3;
    return frame[1] <= 0xffff && frame[4] <= 0xffff && (rpl == 0 || rpl == 3) &&
           (frame[2] & X86_FLAG_FIXED) && !(frame[2] >> 22);
}

/* Turns a #UD delivery kvm_pvm made back into the state before the
 * instruction that raised it, or leaves the state alone (false) when the
 * handler was not entered for a #UD at the frame's RIP. */
static bool undo_ud_delivery(struct cpu *cpu, struct x86_state *s)
{
    struct bus *bus = &cpu->system->bus;
    uint64_t frame[5]; /* RIP, CS, RFLAGS, RSP, SS: #UD pushes no error code */
    if (mmu_read_linear(bus, s, s->gpr[R_RSP], frame, sizeof(frame)) != sizeof(frame) ||
        !plausible_frame(frame))
        return false;
    uint8_t before[2], insn[2];
    if (mmu_read_linear(bus, s, frame[0], insn, 2) != 2)
        return false;
    /* A software INT 6 at ring 0 enters the handler with the next RIP in the
     * frame (at ring 3 kvm_pvm turns every INT n into a #UD at the INT). */
    if ((frame[1] & 3) == 0 && mmu_read_linear(bus, s, frame[0] - 2, before, 2) == 2 &&
        before[0] == 0xcd && before[1] == X86_UD)
        return false;
    struct x86_fault f;
    struct x86_state undone = *s;
    if (x86_iret(bus, &undone, 8, &f) < 0)
        return false;
    /* IRETQ ends NMI blocking; the #UD's delivery never began it. */
    undone.ev.nmi_masked = s->ev.nmi_masked;
    DPRINTF(Kvm, &cpu->obj, "kvm_pvm: #UD at CPL %u rip %#" PRIx64 " (bytes %02x %02x) undone: the "
            "fallback engine executes the instruction", (unsigned)(frame[1] & 3), frame[0], insn[0],
            insn[1]);
    *s = undone;
    return true;
}

/* The #PF kvm_pvm's SYSCALL from ring 3 ends in (see the top of the file),
 * turned back into the state before that SYSCALL; false, leaving the state
 * alone, for any other #PF. */
static bool undo_broken_syscall(struct cpu *cpu, struct x86_state *s)
{
    struct bus *bus = &cpu->system->bus;
    uint64_t frame[6]; /* error code, RIP, CS, RFLAGS, RSP, SS */
    if (mmu_read_linear(bus, s, s->gpr[R_RSP], frame, sizeof(frame)) != sizeof(frame) ||
        !plausible_frame(frame + 1))
        return false;
    uint64_t ret = s->gpr[R_RCX], flags = s->gpr[R_R11];
    bool user_fetch = (frame[0] & 0x14) == 0x14; /* user-mode instruction fetch */
    uint8_t insn[2];
    if (frame[1] != s->msr.lstar || (frame[2] & 3) != 3 || !user_fetch ||
        !(flags & X86_FLAG_FIXED) || (flags >> 22) ||
        mmu_read_linear(bus, s, ret - 2, insn, 2) != 2 || insn[0] != 0x0f || insn[1] != 0x05)
        return false;
    struct x86_fault f;
    struct x86_state undone = *s;
    undone.gpr[R_RSP] += 8; /* the error code */
    if (x86_iret(bus, &undone, 8, &f) < 0)
        return false;
    undone.ev.nmi_masked = s->ev.nmi_masked;
    undone.rip = ret - 2;
    undone.rflags = flags;
    DPRINTF(Kvm, &cpu->obj, "kvm_pvm: SYSCALL at %#" PRIx64 " left in user mode at its entry point: "
            "undone, the fallback engine executes it", undone.rip);
    *s = undone;
    return true;
}

enum cpu_stop kvm_pvm_intercepted(struct cpu *cpu, struct kvm_vcpu *v, uint8_t vector)
{
    /* Resumed at the handler's first instruction (the fallback engine
     * delivered the exception and stopped there): that delivery is the
     * architecture's own, so the handler just runs. */
    uint64_t handler = vector == X86_UD ? v->ud_bp_addr : v->pf_bp_addr;
    bool entered_by_fallback = v->ud_entry_pending && v->ud_entry_rip == handler;
    v->ud_entry_pending = false;
    if (kvm_state_out(cpu) < 0) {
        log_error("%s: %s", cpu->obj.path, err_get());
        return CPU_STOP_ERROR;
    }
    if (vector == X86_UD)
        cpu->engine_counters[KVM_STAT_UD_INTERCEPTS]++;
    if (entered_by_fallback)
        DPRINTF(Kvm, &cpu->obj, "kvm_pvm: vector %u handler entered by the fallback engine: it runs",
                vector);
    else if (vector == X86_PF) {
        if (undo_broken_syscall(cpu, &cpu->state))
            cpu->engine_counters[KVM_STAT_SYSCALL_REPAIRS]++;
    } else if (!undo_ud_delivery(cpu, &cpu->state))
        DPRINTF(Kvm, &cpu->obj, "kvm_pvm: #UD handler entered with no #UD frame to undo "
                "(INT 6 or an unusual frame): it runs");
    /* The state is in cpu->state now; KVM reloads it after the fallback. */
    cpu->state_in_engine = false;
    return CPU_STOP_FALLBACK;
}
