/* A workaround for one kvm_pvm behaviour (docs/kvm.md, docs/interp-engine.md):
 * INT n executed at CPL 3 reaches the guest as #UD instead of going through
 * its IDT gate (or raising #GP for a DPL-0 gate). tandem catches the #UD at
 * the guest's #UD handler with a hardware instruction breakpoint (which
 * kvm_pvm supports at CPL 0), and when the frame shows a ring-3 INT n it
 * undoes the #UD delivery (IRETQ on the state) and hands the INT to the
 * fallback engine, which delivers it as the architecture says. A genuine
 * #UD also goes to the fallback for the handler's first instruction, which
 * moves past the breakpoint. Only armed on kvm_pvm hosts, in long mode: the
 * breakpoint takes DR0/DR7 while armed (guest debug registers are not
 * honoured then). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "cpu/mmu.h"
#include "cpu/segments.h"
#include "kvm/kvm_priv.h"
#include "mem/system.h"
#include "sim/log.h"

DEBUG_FLAG_DECLARE(Kvm);

bool kvm_pvm_host(void)
{
    return access("/sys/module/kvm_pvm", F_OK) == 0;
}

/* The guest's #UD handler address from its 64-bit IDT, or 0. */
static uint64_t ud_handler(struct cpu *cpu, const struct kvm_sregs *sr)
{
    if (!(sr->efer & X86_EFER_LMA) || sr->idt.limit < X86_UD * 16 + 15)
        return 0;
    struct x86_state view;
    memset(&view, 0, sizeof(view));
    view.cr0 = sr->cr0;
    view.cr3 = sr->cr3;
    view.cr4 = sr->cr4;
    view.msr.efer = sr->efer;
    uint64_t gate[2];
    if (mmu_read_linear(&cpu->system->bus, &view, sr->idt.base + X86_UD * 16, gate, 16) != 16)
        return 0;
    if (!(gate[0] & (1ull << 47)))
        return 0;
    return (gate[0] & 0xffff) | ((gate[0] >> 32) & 0xffff0000ull) | (gate[1] << 32);
}

int kvm_pvm_arm_ud_intercept(struct cpu *cpu, struct kvm_vcpu *v)
{
    struct kvm_sregs sr;
    if (ioctl(v->fd, KVM_GET_SREGS, &sr) < 0) {
        err_set("KVM_GET_SREGS failed: %s", strerror(errno));
        return -1;
    }
    uint64_t target = ud_handler(cpu, &sr);
    if (target == v->ud_bp_addr)
        return 0;
    struct kvm_guest_debug dbg;
    memset(&dbg, 0, sizeof(dbg));
    if (target) {
        dbg.control = KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_USE_HW_BP;
        dbg.arch.debugreg[0] = target;
        dbg.arch.debugreg[7] = 0x401; /* L0, execute, 1 byte */
    }
    if (ioctl(v->fd, KVM_SET_GUEST_DEBUG, &dbg) < 0) {
        err_set("KVM_SET_GUEST_DEBUG failed: %s", strerror(errno));
        return -1;
    }
    DPRINTF(Kvm, &cpu->obj, "kvm_pvm: #UD intercept at %#" PRIx64, target);
    v->ud_bp_addr = target;
    return 0;
}

enum cpu_stop kvm_pvm_ud_intercepted(struct cpu *cpu, struct kvm_vcpu *v)
{
    (void)v;
    if (kvm_state_out(cpu) < 0) {
        log_error("%s: %s", cpu->obj.path, err_get());
        return CPU_STOP_ERROR;
    }
    struct x86_state *s = &cpu->state;
    struct bus *bus = &cpu->system->bus;
    uint64_t frame[5]; /* RIP, CS, RFLAGS, RSP, SS: #UD pushes no error code */
    uint8_t insn[2];
    if (mmu_read_linear(bus, s, s->gpr[R_RSP], frame, sizeof(frame)) == sizeof(frame) &&
        (frame[1] & 3) == 3 && mmu_read_linear(bus, s, frame[0], insn, 2) == 2 && insn[0] == 0xcd) {
        struct x86_fault f;
        struct x86_state undone = *s;
        if (x86_iret(bus, &undone, 8, &f) == 0) {
            DPRINTF(Kvm, &cpu->obj, "kvm_pvm: INT %#x at ring-3 rip %#" PRIx64
                    " arrived as #UD: the fallback engine executes it", insn[1], frame[0]);
            *s = undone;
        }
    }
    /* The state is in cpu->state now; KVM reloads it after the fallback. */
    cpu->state_in_engine = false;
    return CPU_STOP_FALLBACK;
}
