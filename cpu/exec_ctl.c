/* Control transfer, stack and miscellaneous instructions: Jcc/JMP/CALL/RET,
 * LOOP/JrCXZ, PUSH/POP/ENTER/LEAVE/PUSHF/POPF, INT3/INT/UD2, HLT, CPUID,
 * RDTSC, SYSCALL, NOP forms, fences and FXSAVE/FXRSTOR/LDMXCSR/STMXCSR.
 * Semantics follow the Intel SDM Vol. 2 pseudocode. */
#include "cpu/interp_priv.h"

#include "cpu/model.h"
#define TANDEMCTL_ABI_ONLY
#include "guest/include/tandemctl.h"
#undef TANDEMCTL_ABI_ONLY

static HANDLER(exec_push_reg)
{
    unsigned size = in->opsize;
    push(ip, size, reg_read(ip, in->reg, size, in));
}

static HANDLER(exec_pop_reg)
{
    unsigned size = in->opsize;
    uint64_t v = pop(ip, size);
    reg_write(ip, in->reg, size, in, v);
}

static HANDLER(exec_push_imm)
{
    push(ip, in->opsize, in->imm);
}

/* POP r/m: an RSP-based destination address uses the incremented RSP. */
static HANDLER(exec_pop_rm)
{
    unsigned size = in->opsize;
    uint64_t old = ip->s->gpr[R_RSP];
    uint64_t v = mem_read(ip, stack_la(ip, old), size);
    if (in->mod == 3) {
        rsp_set(ip, old + size);
        reg_write(ip, in->rm, size, in, v);
        return;
    }
    rsp_set(ip, old + size);
    uint64_t la = ea_linear(ip, in);
    ip->s->gpr[R_RSP] = old;
    mem_probe_write(ip, la, size);
    mem_write(ip, la, size, v);
    rsp_set(ip, old + size);
}

static HANDLER(exec_jcc)
{
    if (cond_true(ip, in->opcode & 15))
        jump_to(ip, in, ip->next_rip + in->imm);
}

static HANDLER(exec_jmp_rel)
{
    jump_to(ip, in, ip->next_rip + in->imm);
}

static HANDLER(exec_call_rel)
{
    uint64_t target = ip->next_rip + in->imm;
    push(ip, in->opsize, ip->next_rip);
    jump_to(ip, in, target);
}

static HANDLER(exec_ret)
{
    uint64_t sp = ip->s->gpr[R_RSP];
    uint64_t target = mem_read(ip, stack_la(ip, sp), in->opsize);
    uint64_t release = in->opcode == 0xc2 ? (uint16_t)in->imm : 0;
    rsp_set(ip, sp + in->opsize + release);
    jump_to(ip, in, target);
}

/* The count register of LOOP/JrCXZ is selected by the address size. */
static HANDLER(exec_loop)
{
    uint64_t *c = &ip->s->gpr[R_RCX];
    unsigned as = in->addrsize;
    if (in->opcode == 0xe3) {
        if (addr_trunc(*c, as) == 0)
            jump_to(ip, in, ip->next_rip + in->imm);
        return;
    }
    uint64_t n = addr_trunc(*c - 1, as);
    *c = as == 8 ? n : as == 4 ? n : ((*c & ~0xffffull) | n);
    bool zf = flag(ip, X86_FLAG_ZF);
    bool take = n != 0 && (in->opcode == 0xe2 || (in->opcode == 0xe1 ? zf : !zf));
    if (take)
        jump_to(ip, in, ip->next_rip + in->imm);
}

static HANDLER(exec_enter)
{
    unsigned size = in->opsize;
    unsigned level = in->imm2 & 31;
    uint64_t rbp = ip->s->gpr[R_RBP];
    uint64_t sp = ip->s->gpr[R_RSP] - size;
    mem_write(ip, stack_la(ip, sp), size, rbp);
    uint64_t frame = sp;
    for (unsigned i = 1; i < level; i++) {
        rbp -= size;
        uint64_t v = mem_read(ip, stack_la(ip, rbp), size);
        sp -= size;
        mem_write(ip, stack_la(ip, sp), size, v);
    }
    if (level > 0) {
        sp -= size;
        mem_write(ip, stack_la(ip, sp), size, frame);
    }
    sp -= in->imm;
    /* The final stack pointer must be writable (SDM: #SS/#PF if not). */
    mem_probe_write(ip, stack_la(ip, sp), 1);
    reg_write(ip, R_RBP, size == 8 ? 8 : stack_addrsize(ip), in, frame);
    rsp_set(ip, sp);
}

static HANDLER(exec_leave)
{
    unsigned size = in->opsize;
    uint64_t frame = ip->s->gpr[R_RBP];
    uint64_t v = mem_read(ip, stack_la(ip, frame), size);
    rsp_set(ip, frame + size);
    reg_write(ip, R_RBP, size, in, v);
}

static HANDLER(exec_grp5)
{
    unsigned r = in->reg & 7;
    if (r <= 1) {
        exec_incdec_rm(ip, in, in->opsize);
        return;
    }
    if (r == 3 || r == 5)
        interp_unsupported(ip); /* far CALL/JMP: the system part */
    unsigned size = ip->mode == X86_MODE_64 ? (r == 6 && in->opsize == 2 ? 2 : 8) : in->opsize;
    uint64_t v = rm_read(ip, in, size);
    if (r == 6) {
        push(ip, size, v);
    } else {
        if (r == 2)
            push(ip, size, ip->next_rip);
        jump_to(ip, in, v);
    }
}

/* PUSHF pushes RFLAGS with VM and RF cleared. */
static HANDLER(exec_pushf)
{
    flags_sync(ip);
    push(ip, in->opsize, ip->s->rflags & ~(uint64_t)(X86_FLAG_VM | X86_FLAG_RF));
}

/* POPF (SDM Vol. 2, POPF, protected/64-bit mode): IOPL changes at CPL 0
 * only, IF when CPL <= IOPL; VM, VIF, VIP never change; RF is cleared. */
static HANDLER(exec_popf)
{
    uint64_t v = pop(ip, in->opsize);
    flags_sync(ip);
    uint64_t f = ip->s->rflags;
    uint64_t changeable = X86_FLAG_CF | X86_FLAG_PF | X86_FLAG_AF | X86_FLAG_ZF | X86_FLAG_SF |
                          X86_FLAG_TF | X86_FLAG_DF | X86_FLAG_OF | X86_FLAG_NT;
    if (in->opsize > 2)
        changeable |= X86_FLAG_AC | X86_FLAG_ID;
    unsigned iopl = (f >> 12) & 3;
    if (cpl(ip) == 0)
        changeable |= X86_FLAG_IOPL;
    if (cpl(ip) <= iopl)
        changeable |= X86_FLAG_IF;
    f = (f & ~changeable) | (v & changeable);
    f &= ~(uint64_t)X86_FLAG_RF;
    bool if_set = (f & ~ip->s->rflags) & X86_FLAG_IF;
    ip->s->rflags = f | X86_FLAG_FIXED;
    interp_update_align_check(ip);
    if ((f & X86_FLAG_TF) || if_set) {
        /* Single-stepping starts with the next instruction, and an
         * interrupt already pending is due before it: end the run here so
         * the caller can step or deliver (INTERP_STOP_COUNT). */
        interp_retire_and_leave(ip);
    }
}

static HANDLER(exec_nop)
{
    (void)ip;
    (void)in;
}

/* 0F 1F (NOP r/m), which also carries the region markers: a memory operand
 * with a magic displacement (guest/include/tandemctl.h). Only this opcode
 * pays for the check. */
static HANDLER(exec_nop_rm)
{
    if (UNLIKELY(in->mod != 3 && (in->disp == TANDEMCTL_MARKER_ROI_BEGIN ||
                                  in->disp == TANDEMCTL_MARKER_ROI_END)) && ip->marker)
        ip->marker(ip->marker_opaque, in->disp == TANDEMCTL_MARKER_ROI_BEGIN
                                          ? INTERP_MARKER_ROI_BEGIN
                                          : INTERP_MARKER_ROI_END);
}

/* Traps (INT3, INT n, INT1) report RIP after the instruction. */
static HANDLER(exec_int)
{
    ip->s->rip = ip->next_rip;
    ip->soft_int_opcode = in->opcode;
    switch (in->opcode) {
    case 0xcc: interp_raise(ip, X86_BP, false, 0);
    case 0xf1: interp_raise(ip, X86_DB, false, 0);
    default: interp_raise(ip, (uint8_t)in->imm, false, 0);
    }
}

static HANDLER(exec_ud)
{
    (void)in;
    interp_raise(ip, X86_UD, false, 0);
}

static HANDLER(exec_hlt)
{
    (void)in;
    if (cpl(ip) != 0)
        interp_raise(ip, X86_GP, true, 0);
    ip->s->run_state = X86_HALTED;
    ip->stop = INTERP_STOP_HALT;
    interp_retire_and_leave(ip);
}

static HANDLER(exec_cpuid)
{
    (void)in;
    uint64_t *g = ip->s->gpr;
    struct cpuid_leaf leaf;
    cpu_model_cpuid(ip->apic_id, (uint32_t)g[R_RAX], (uint32_t)g[R_RCX], &leaf);
    g[R_RAX] = leaf.eax;
    g[R_RBX] = leaf.ebx;
    g[R_RCX] = leaf.ecx;
    g[R_RDX] = leaf.edx;
}

static HANDLER(exec_rdtsc)
{
    (void)in;
    if ((ip->s->cr4 & X86_CR4_TSD) && cpl(ip) != 0)
        interp_raise(ip, X86_GP, true, 0);
    uint64_t t = (ip->read_tsc ? ip->read_tsc(ip->tsc_opaque) : 0) + (uint64_t)ip->s->tsc_offset;
    ip->s->gpr[R_RAX] = (uint32_t)t;
    ip->s->gpr[R_RDX] = t >> 32;
}

/* SYSCALL (SDM Vol. 2): 64-bit mode with EFER.SCE. */
static HANDLER(exec_syscall)
{
    (void)in;
    struct x86_state *s = ip->s;
    if (ip->mode != X86_MODE_64 || !(s->msr.efer & X86_EFER_SCE))
        interp_raise(ip, X86_UD, false, 0);
    flags_sync(ip);
    s->gpr[R_RCX] = ip->next_rip;
    s->gpr[R_R11] = s->rflags & ~(uint64_t)X86_FLAG_RF;
    s->rflags = (s->rflags & ~s->msr.sfmask & ~(uint64_t)X86_FLAG_RF) | X86_FLAG_FIXED;
    uint16_t sel = (uint16_t)(s->msr.star >> 32);
    s->seg[S_CS] = (struct x86_segment){.selector = sel & 0xfffc, .limit = 0xffffffff, .type = 11,
                                        .s = 1, .present = 1, .l = 1, .g = 1};
    s->seg[S_SS] = (struct x86_segment){.selector = (uint16_t)(sel + 8), .limit = 0xffffffff, .type = 3,
                                        .s = 1, .present = 1, .db = 1, .g = 1};
    ip->next_rip = s->msr.lstar;
    interp_update_align_check(ip);
    /* The engine splits statistics by the CPL a run starts in: ending the
     * run here charges SYSCALL to user mode and the kernel's entry code to
     * the kernel. */
    interp_retire_and_leave(ip);
}

static HANDLER(exec_push_fs_gs)
{
    unsigned seg = in->opcode == 0xa0 ? S_FS : S_GS;
    push(ip, in->opsize, ip->s->seg[seg].selector);
}

/* 0F AE: fences, CLFLUSH, FXSAVE/FXRSTOR, LDMXCSR/STMXCSR. */
static HANDLER(exec_grp15)
{
    unsigned r = in->reg & 7;
    struct x86_state *s = ip->s;
    if (in->mod == 3) {
        if (r >= 5 && !in->rep && !in->opsize_prefix)
            return; /* LFENCE, MFENCE, SFENCE: ordering is trivial here */
        interp_raise(ip, X86_UD, false, 0);
    }
    if (in->rep || (in->opsize_prefix && r != 7) || r == 4 || r == 5 || r == 6)
        interp_raise(ip, X86_UD, false, 0); /* XSAVE family hidden; CLFLUSHOPT/CLWB absent */
    uint64_t la = ea_linear(ip, in);
    if (r == 7) {
        if (in->opsize_prefix)
            interp_raise(ip, X86_UD, false, 0);
        mem_read(ip, la, 1); /* CLFLUSH faults like a byte read; caches are not modelled */
        return;
    }
    if ((s->cr0 & X86_CR0_EM) && r <= 3)
        interp_raise(ip, X86_UD, false, 0);
    if (s->cr0 & X86_CR0_TS)
        interp_raise(ip, X86_NM, false, 0);
    switch (r) {
    case 0: case 1: {
        if (la & 15)
            interp_raise(ip, X86_GP, true, 0);
        uint8_t *img = (uint8_t *)&s->fx;
        if (r == 0) {
            mem_probe_write(ip, la, 1);
            mem_probe_write(ip, la + 511, 1);
            s->fx.mxcsr_mask = cpu_model_mxcsr_mask();
            for (unsigned i = 0; i < 512; i += 8)
                mem_write(ip, la + i, 8, load_n(img + i, 8));
        } else {
            uint8_t buf[512];
            for (unsigned i = 0; i < 512; i += 8)
                store_n(buf + i, 8, mem_read(ip, la + i, 8));
            uint32_t mxcsr = (uint32_t)load_n(buf + 24, 4);
            if (mxcsr & ~cpu_model_mxcsr_mask())
                interp_raise(ip, X86_GP, true, 0);
            /* Reserved areas (and MXCSR_MASK) are not loaded. */
            memcpy(img, buf, 24);
            s->fx.mxcsr = mxcsr;
            memcpy(img + 32, buf + 32, 416 - 32);
        }
        return;
    }
    case 2: {
        uint32_t v = (uint32_t)mem_read(ip, la, 4);
        if (v & ~cpu_model_mxcsr_mask())
            interp_raise(ip, X86_GP, true, 0);
        s->fx.mxcsr = v;
        return;
    }
    default:
        mem_write(ip, la, 4, s->fx.mxcsr);
        return;
    }
}

/* Instructions of the system part (privileged, segment loads, I/O, far
 * transfers, IRET): this engine stops before them. */
static HANDLER(exec_system)
{
    (void)in;
    interp_unsupported(ip);
}

void exec_ctl_register(void)
{
    for (unsigned op = 0x50; op <= 0x57; op++)
        interp_map1[op] = exec_push_reg;
    for (unsigned op = 0x58; op <= 0x5f; op++)
        interp_map1[op] = exec_pop_reg;
    interp_map1[0x68] = interp_map1[0x6a] = exec_push_imm;
    interp_map1[0x8f] = exec_pop_rm;
    for (unsigned op = 0x70; op <= 0x7f; op++)
        interp_map1[op] = exec_jcc;
    interp_map1[0xe9] = interp_map1[0xeb] = exec_jmp_rel;
    interp_map1[0xe8] = exec_call_rel;
    interp_map1[0xc2] = interp_map1[0xc3] = exec_ret;
    for (unsigned op = 0xe0; op <= 0xe3; op++)
        interp_map1[op] = exec_loop;
    interp_map1[0xc8] = exec_enter;
    interp_map1[0xc9] = exec_leave;
    interp_map1[0xff] = exec_grp5;
    interp_map1[0x9c] = exec_pushf;
    interp_map1[0x9d] = exec_popf;
    interp_map1[0x9b] = exec_nop; /* FWAIT: no pending x87 exceptions to report */
    interp_map1[0xcc] = interp_map1[0xcd] = interp_map1[0xf1] = exec_int;
    interp_map1[0xf4] = exec_hlt;
    static const uint8_t system1[] = {0x6c, 0x6d, 0x6e, 0x6f, 0x8e, 0x9a, 0xca, 0xcb, 0xce, 0xcf,
                                      0xe4, 0xe5, 0xe6, 0xe7, 0xea, 0xec, 0xed, 0xee, 0xef};
    for (unsigned i = 0; i < sizeof(system1); i++)
        interp_map1[system1[i]] = exec_system;

    interp_map0f[0x0b] = exec_ud;
    interp_map0f[0x05] = exec_syscall;
    interp_map0f[0x0d] = exec_nop;
    for (unsigned op = 0x18; op <= 0x1e; op++)
        interp_map0f[op] = exec_nop;
    interp_map0f[0x1f] = exec_nop_rm;
    for (unsigned op = 0x80; op <= 0x8f; op++)
        interp_map0f[op] = exec_jcc;
    interp_map0f[0xa2] = exec_cpuid;
    interp_map0f[0x31] = exec_rdtsc;
    interp_map0f[0xa0] = interp_map0f[0xa8] = exec_push_fs_gs;
    interp_map0f[0xae] = exec_grp15;
    static const uint8_t system0f[] = {0x00, 0x01, 0x02, 0x03, 0x06, 0x07, 0x08, 0x09, 0x20, 0x21, 0x22, 0x23,
                                       0x30, 0x32, 0x33, 0x34, 0x35, 0x37, 0xa1, 0xa9, 0xaa, 0xb2,
                                       0xb4, 0xb5};
    for (unsigned i = 0; i < sizeof(system0f); i++)
        interp_map0f[system0f[i]] = exec_system;
}
