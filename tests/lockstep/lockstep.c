/* Lockstep harness (see lockstep.h). Usage:
 *   lockstep gen GROUP COUNT SEED   generated sequences of one instruction group
 *   lockstep work [NAME]            real-code workloads (all, or one)
 *   lockstep desc                   LAR/LSL/VERR/VERW over Linux's GDT (desc.c)
 * Exit status 0 when no divergence. The interpreter reaches the harness's
 * own memory by identity mapping, restricted to the regions the code may
 * touch, so a stray access faults instead of corrupting the harness. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cpu/interp.h"
#include "cpu/model.h"
#include "lockstep.h"
#include "sim/object.h"

#define MAX_RANGES 256
#define WORK_STACK_BASE 0x30200000ull
#define WORK_STACK_SIZE 0x40000ull
#define WORK_SENTINEL 0x2ff00000ull /* unmapped return address ending a workload */

struct range {
    uint64_t lo, hi;
    unsigned perm; /* ACC_* allowed */
};

struct harness {
    struct range map[MAX_RANGES];
    unsigned nmap;
    struct range cmp[4];
    unsigned ncmp;
    pid_t pid;
    struct x86_state st;
    struct interp ip;
    csh cs;
    uint64_t end_rip;
    uint64_t insts, exceptions;
};

uint64_t ls_rand(struct ls_rng *r)
{
    r->s ^= r->s << 13;
    r->s ^= r->s >> 7;
    r->s ^= r->s << 17;
    return r->s;
}

static uint8_t *translate(void *opaque, uint64_t la, unsigned access, struct interp_fault *f)
{
    struct harness *h = opaque;
    for (unsigned i = 0; i < h->nmap; i++) {
        const struct range *r = &h->map[i];
        if (la >= r->lo && la < r->hi) {
            if ((access & r->perm) != access)
                break;
            return (uint8_t *)(uintptr_t)la;
        }
    }
    f->vector = X86_PF;
    f->has_error = true;
    f->error = 4 | ((access & ACC_WRITE) ? 2 : 0) | ((access & ACC_EXEC) ? 16 : 0);
    f->address = la;
    return NULL;
}

static void add_range(struct harness *h, uint64_t lo, uint64_t hi, unsigned perm)
{
    if (h->nmap < MAX_RANGES)
        h->map[h->nmap++] = (struct range){lo, hi, perm};
}

/* Every mapping of this process, for real code (which reaches libc data,
 * its stack and globals). */
static void map_self(struct harness *h)
{
    FILE *f = fopen("/proc/self/maps", "r");
    if (!f) {
        perror("/proc/self/maps");
        exit(2);
    }
    char line[512];
    while (fgets(line, sizeof(line), f)) {
        unsigned long lo, hi;
        char perms[8];
        if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) != 3)
            continue;
        unsigned p = (perms[0] == 'r' ? ACC_READ : 0) | (perms[1] == 'w' ? ACC_WRITE | ACC_READ : 0) |
                     (perms[2] == 'x' ? ACC_EXEC : 0);
        if (strstr(line, "[vsyscall]"))
            continue;
        add_range(h, lo, hi, p);
    }
    fclose(f);
}

static void regs_to_state(const struct user_regs_struct *r, struct x86_state *s)
{
    uint64_t *g = s->gpr;
    g[R_RAX] = r->rax; g[R_RCX] = r->rcx; g[R_RDX] = r->rdx; g[R_RBX] = r->rbx;
    g[R_RSP] = r->rsp; g[R_RBP] = r->rbp; g[R_RSI] = r->rsi; g[R_RDI] = r->rdi;
    g[R_R8] = r->r8; g[R_R9] = r->r9; g[R_R10] = r->r10; g[R_R11] = r->r11;
    g[R_R12] = r->r12; g[R_R13] = r->r13; g[R_R14] = r->r14; g[R_R15] = r->r15;
    s->rip = r->rip;
    s->rflags = r->eflags & ~(uint64_t)(X86_FLAG_TF | X86_FLAG_RF);
    s->seg[S_FS].base = r->fs_base;
    s->seg[S_GS].base = r->gs_base;
    s->seg[S_CS].selector = (uint16_t)r->cs;
    s->seg[S_SS].selector = (uint16_t)r->ss;
}

static void state_to_regs(const struct x86_state *s, struct user_regs_struct *r)
{
    const uint64_t *g = s->gpr;
    r->rax = g[R_RAX]; r->rcx = g[R_RCX]; r->rdx = g[R_RDX]; r->rbx = g[R_RBX];
    r->rsp = g[R_RSP]; r->rbp = g[R_RBP]; r->rsi = g[R_RSI]; r->rdi = g[R_RDI];
    r->r8 = g[R_R8]; r->r9 = g[R_R9]; r->r10 = g[R_R10]; r->r11 = g[R_R11];
    r->r12 = g[R_R12]; r->r13 = g[R_R13]; r->r14 = g[R_R14]; r->r15 = g[R_R15];
    r->rip = s->rip;
    r->eflags = s->rflags;
}

/* User-mode 64-bit state as Linux runs user code. */
static void user_state(struct x86_state *s)
{
    memset(s, 0, sizeof(*s));
    s->seg[S_CS] = (struct x86_segment){.selector = 0x33, .limit = 0xffffffff, .type = 11, .s = 1,
                                        .dpl = 3, .present = 1, .l = 1, .g = 1};
    s->seg[S_SS] = (struct x86_segment){.selector = 0x2b, .limit = 0xffffffff, .type = 3, .s = 1,
                                        .dpl = 3, .present = 1, .db = 1, .g = 1};
    s->cr0 = X86_CR0_PE | X86_CR0_PG | X86_CR0_ET | X86_CR0_NE | X86_CR0_WP | X86_CR0_MP | X86_CR0_AM;
    s->cr4 = X86_CR4_PAE | X86_CR4_OSFXSR | X86_CR4_OSXMMEXCPT;
    s->msr.efer = X86_EFER_LME | X86_EFER_LMA | X86_EFER_SCE | X86_EFER_NXE;
    s->fx.fcw = 0x37f; /* FNINIT and MXCSR reset values, as Linux starts a process */
    s->fx.mxcsr = 0x1f80;
}

static void die_errno(const char *what)
{
    fprintf(stderr, "lockstep: %s: %s\n", what, strerror(errno));
    exit(2);
}

/* Forks the native side, stopped, with registers `regs` (segment and FS
 * fields taken from the child itself). */
static void start_child(struct harness *h, struct user_regs_struct *regs)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        die_errno("fork");
    if (pid == 0) {
        ptrace(PTRACE_TRACEME, 0, 0, 0);
        raise(SIGSTOP);
        _exit(0);
    }
    int status;
    if (waitpid(pid, &status, 0) < 0 || !WIFSTOPPED(status))
        die_errno("waitpid (child start)");
    struct user_regs_struct cur;
    if (ptrace(PTRACE_GETREGS, pid, 0, &cur) < 0)
        die_errno("PTRACE_GETREGS");
    regs->cs = cur.cs;
    regs->ss = cur.ss;
    regs->ds = cur.ds;
    regs->es = cur.es;
    regs->fs = cur.fs;
    regs->gs = cur.gs;
    regs->fs_base = cur.fs_base;
    regs->gs_base = cur.gs_base;
    regs->orig_rax = (unsigned long long)-1;
    if (ptrace(PTRACE_SETREGS, pid, 0, regs) < 0)
        die_errno("PTRACE_SETREGS");
    h->pid = pid;
    user_state(&h->st);
    regs_to_state(regs, &h->st);
    struct user_fpregs_struct fp;
    if (ptrace(PTRACE_GETFPREGS, pid, 0, &fp) < 0)
        die_errno("PTRACE_GETFPREGS");
    _Static_assert(sizeof(fp) == sizeof(h->st.fx), "FXSAVE layout");
    memcpy(&h->st.fx, &fp, sizeof(fp));
    interp_state_changed(&h->ip);
}

static void stop_child(struct harness *h)
{
    if (h->pid > 0) {
        kill(h->pid, SIGKILL);
        waitpid(h->pid, NULL, 0);
        h->pid = 0;
    }
}

/* Flags the SDM leaves undefined after this instruction (with the operand
 * values of `pre`); they are not compared. */
static uint64_t undefined_flags(const struct decoded_insn *in, const struct x86_state *pre)
{
    const uint64_t arith = X86_FLAG_CF | X86_FLAG_PF | X86_FLAG_AF | X86_FLAG_ZF | X86_FLAG_SF | X86_FLAG_OF;
    unsigned r = in->reg & 7;
    if (in->map == MAP_1B) {
        uint8_t op = in->opcode;
        if (op < 0x40 && ((op >> 3) & 7) % 2 == 1 && ((op >> 3) & 7) != 3 && ((op >> 3) & 7) != 7)
            return X86_FLAG_AF; /* OR, AND, XOR */
        if (op < 0x40 && ((op >> 3) & 7) == 4)
            return X86_FLAG_AF;
        if (op >= 0x80 && op <= 0x83 && (r == 1 || r == 4 || r == 6))
            return X86_FLAG_AF;
        if (op == 0x84 || op == 0x85 || op == 0xa8 || op == 0xa9)
            return X86_FLAG_AF;
        if ((op == 0xf6 || op == 0xf7) && r <= 1)
            return X86_FLAG_AF;
        if ((op == 0xf6 || op == 0xf7) && (r == 4 || r == 5))
            return X86_FLAG_SF | X86_FLAG_ZF | X86_FLAG_AF | X86_FLAG_PF;
        if ((op == 0xf6 || op == 0xf7) && r >= 6)
            return arith;
        if (op == 0x69 || op == 0x6b)
            return X86_FLAG_SF | X86_FLAG_ZF | X86_FLAG_AF | X86_FLAG_PF;
        if (op >= 0xc0 && op <= 0xd3 && op != 0xc2 && op != 0xc3 && (op <= 0xc1 || op >= 0xd0)) {
            unsigned size = (op & 1) ? in->opsize : 1;
            unsigned count = op <= 0xc1 ? (unsigned)in->imm : op <= 0xd1 ? 1 : (unsigned)pre->gpr[R_RCX];
            count &= size == 8 ? 63 : 31;
            if (count == 0)
                return 0;
            uint64_t m = count == 1 ? 0 : X86_FLAG_OF;
            if (r >= 4)
                m |= X86_FLAG_AF;
            if ((r == 4 || r == 5 || r == 6) && count >= 8 * size)
                m |= X86_FLAG_CF;
            return m;
        }
        return 0;
    }
    if (in->map == MAP_0F) {
        switch (in->opcode) {
        case 0xaf: return X86_FLAG_SF | X86_FLAG_ZF | X86_FLAG_AF | X86_FLAG_PF;
        case 0xa3: case 0xab: case 0xb3: case 0xbb: case 0xba:
            return X86_FLAG_OF | X86_FLAG_SF | X86_FLAG_AF | X86_FLAG_PF;
        case 0xbc: case 0xbd:
            /* F3 forms run as TZCNT/LZCNT on this host (BMI1/ABM present
             * though hidden): their ZF differs from BSF/BSR's. */
            if (in->rep == 0xf3)
                return arith;
            return X86_FLAG_CF | X86_FLAG_OF | X86_FLAG_SF | X86_FLAG_AF | X86_FLAG_PF;
        case 0xa4: case 0xa5: case 0xac: case 0xad: {
            unsigned count = (in->opcode & 1) ? (unsigned)pre->gpr[R_RCX] : (unsigned)in->imm;
            count &= in->opsize == 8 ? 63 : 31;
            if (count == 0)
                return 0;
            uint64_t m = X86_FLAG_AF | (count == 1 ? 0 : X86_FLAG_OF);
            if (count > 8u * in->opsize)
                m |= arith;
            return m;
        }
        }
    }
    return 0;
}

static const char *const gpr_names[16] = {"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
                                          "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"};

static void print_insn(struct harness *h, uint64_t rip)
{
    cs_insn *ci;
    const uint8_t *p = (const uint8_t *)(uintptr_t)rip;
    size_t n = cs_disasm(h->cs, p, 15, rip, 1, &ci);
    fprintf(stderr, "  instruction at %#llx:", (unsigned long long)rip);
    unsigned len = n ? ci[0].size : 15;
    for (unsigned i = 0; i < len; i++)
        fprintf(stderr, " %02x", p[i]);
    if (n) {
        fprintf(stderr, "  %s %s\n", ci[0].mnemonic, ci[0].op_str);
        cs_free(ci, n);
    } else {
        fprintf(stderr, "  (capstone cannot decode)\n");
    }
}

static void print_states(const struct x86_state *before, const struct x86_state *interp,
                         const struct x86_state *native)
{
    fprintf(stderr, "  %-6s %18s %18s %18s\n", "reg", "before", "interp", "native");
    for (int i = 0; i < 16; i++)
        fprintf(stderr, "  %-6s %18llx %18llx %18llx%s\n", gpr_names[i], (unsigned long long)before->gpr[i],
                (unsigned long long)interp->gpr[i], (unsigned long long)native->gpr[i],
                interp->gpr[i] != native->gpr[i] ? "  <-- differs" : "");
    fprintf(stderr, "  %-6s %18llx %18llx %18llx\n", "rip", (unsigned long long)before->rip,
            (unsigned long long)interp->rip, (unsigned long long)native->rip);
    fprintf(stderr, "  %-6s %18llx %18llx %18llx\n", "rflags", (unsigned long long)before->rflags,
            (unsigned long long)interp->rflags, (unsigned long long)native->rflags);
}

static int signal_of_vector(unsigned v)
{
    switch (v) {
    case X86_DE: return SIGFPE;
    case X86_UD: return SIGILL;
    case X86_BP: case X86_DB: return SIGTRAP;
    case X86_SS: case X86_AC: return SIGBUS;
    default: return SIGSEGV;
    }
}

static bool is_rep_string(const struct decoded_insn *in)
{
    return in->map == MAP_1B && in->rep &&
           ((in->opcode >= 0xa4 && in->opcode <= 0xa7) || (in->opcode >= 0xaa && in->opcode <= 0xaf));
}

/* Whether the instruction may store to memory; others skip the (costly)
 * memory comparison. */
static bool may_write_memory(const struct decoded_insn *in, bool decoded)
{
    if (!decoded || (in->has_modrm && in->mod != 3))
        return true;
    if (in->map == MAP_0F)
        return in->opcode == 0xa0 || in->opcode == 0xa8;
    uint8_t op = in->opcode;
    return (op >= 0x50 && op <= 0x57) || op == 0x68 || op == 0x6a || op == 0x9c || op == 0xc8 ||
           op == 0xe8 || op == 0xff || (op >= 0xa4 && op <= 0xaf);
}

/* Runs one instruction on both sides and compares. Returns 1 to go on, 0
 * when the run ended normally, -1 on a divergence. */
static int step(struct harness *h)
{
    struct x86_state pre = h->st;
    uint64_t rip = pre.rip;
    if (rip == h->end_rip)
        return 0;
    struct decoded_insn in;
    bool decoded = x86_decode((const uint8_t *)(uintptr_t)rip, 15, X86_MODE_64, &in) == DECODE_OK;
    bool rep = decoded && is_rep_string(&in);

    int status, sig;
    struct user_regs_struct nr;
    unsigned long guard = 0;
    do {
        if (ptrace(PTRACE_SINGLESTEP, h->pid, 0, 0) < 0)
            die_errno("PTRACE_SINGLESTEP");
        if (waitpid(h->pid, &status, 0) < 0)
            die_errno("waitpid");
        if (!WIFSTOPPED(status)) {
            fprintf(stderr, "lockstep: native side ended (status %#x)\n", status);
            return -1;
        }
        sig = WSTOPSIG(status);
        if (ptrace(PTRACE_GETREGS, h->pid, 0, &nr) < 0)
            die_errno("PTRACE_GETREGS");
    } while (rep && sig == SIGTRAP && nr.rip == rip && ++guard < 10000000);

    enum interp_stop stop;
    guard = 0;
    do
        stop = interp_run(&h->ip, 1);
    while (rep && stop == INTERP_STOP_COUNT && h->st.rip == rip && ++guard < 10000000);

    struct x86_state native = h->st;
    regs_to_state(&nr, &native);
    bool native_exc = sig != SIGTRAP;
    bool interp_exc = stop == INTERP_STOP_EXCEPTION;
    if (stop == INTERP_STOP_UNSUPPORTED || stop == INTERP_STOP_HALT) {
        fprintf(stderr, "DIVERGENCE: interpreter stopped (%s) where the CPU executed\n",
                stop == INTERP_STOP_HALT ? "halt" : "unsupported");
        print_insn(h, rip);
        return -1;
    }
    if (native_exc != interp_exc ||
        (native_exc && signal_of_vector(h->st.ev.exception_vector) != sig)) {
        fprintf(stderr, "DIVERGENCE: native %s (signal %d), interpreter %s (vector %d)\n",
                native_exc ? "faulted" : "completed", sig, interp_exc ? "faulted" : "completed",
                interp_exc ? h->st.ev.exception_vector : -1);
        print_insn(h, rip);
        print_states(&pre, &h->st, &native);
        return -1;
    }

    uint64_t fmask = ~(uint64_t)(X86_FLAG_TF | X86_FLAG_RF);
    if (decoded)
        fmask &= ~undefined_flags(&in, &pre);
    if (decoded && in.map == MAP_0F && in.opcode == 0xa2) { /* CPUID: the host's values */
        h->st.gpr[R_RAX] = native.gpr[R_RAX]; h->st.gpr[R_RBX] = native.gpr[R_RBX];
        h->st.gpr[R_RCX] = native.gpr[R_RCX]; h->st.gpr[R_RDX] = native.gpr[R_RDX];
    }
    if (decoded && in.map == MAP_0F && in.opcode == 0x31) { /* RDTSC: the host's clock */
        h->st.gpr[R_RAX] = native.gpr[R_RAX];
        h->st.gpr[R_RDX] = native.gpr[R_RDX];
    }
    bool bad = false;
    for (int i = 0; i < 16; i++)
        bad |= h->st.gpr[i] != native.gpr[i];
    bad |= h->st.rip != native.rip;
    bad |= (h->st.rflags & fmask) != (native.rflags & fmask);
    if (bad) {
        fprintf(stderr, "DIVERGENCE in registers (flags compared under mask %#llx)\n",
                (unsigned long long)(fmask & 0xfff));
        print_insn(h, rip);
        print_states(&pre, &h->st, &native);
        return -1;
    }
    struct user_fpregs_struct nfp;
    if (ptrace(PTRACE_GETFPREGS, h->pid, 0, &nfp) < 0)
        die_errno("PTRACE_GETFPREGS");
    if (memcmp(nfp.xmm_space, h->st.fx.xmm, sizeof(h->st.fx.xmm)) != 0 || nfp.mxcsr != h->st.fx.mxcsr) {
        fprintf(stderr, "DIVERGENCE in SSE state: mxcsr interp %#x native %#x\n", h->st.fx.mxcsr, nfp.mxcsr);
        for (int i = 0; i < 16; i++) {
            const uint8_t *a = h->st.fx.xmm[i], *b = (const uint8_t *)nfp.xmm_space + 16 * i;
            if (memcmp(a, b, 16) == 0)
                continue;
            fprintf(stderr, "  xmm%-2d interp ", i);
            for (int k = 15; k >= 0; k--)
                fprintf(stderr, "%02x", a[k]);
            fprintf(stderr, "\n        native ");
            for (int k = 15; k >= 0; k--)
                fprintf(stderr, "%02x", b[k]);
            fprintf(stderr, "\n");
        }
        print_insn(h, rip);
        print_states(&pre, &h->st, &native);
        return -1;
    }
    /* While an x87 stack fault is recorded (SF) the condition codes and DE
     * are not compared: their values after stack faults are a documented
     * simplification (docs/interpreter.md). */
    uint16_t fsw_mask = 0xffff;
    if (nfp.swd & 0x40)
        fsw_mask = (uint16_t)~(0x4700 | 0x2); /* C0-C3 and DE */
    bool x87_bad = nfp.cwd != h->st.fx.fcw || ((nfp.swd ^ h->st.fx.fsw) & fsw_mask) ||
                   (nfp.ftw & 0xff) != h->st.fx.ftw;
    for (int i = 0; i < 8; i++)
        x87_bad |= memcmp((const uint8_t *)nfp.st_space + 16 * i, h->st.fx.st[i].bytes, 10) != 0;
    if (x87_bad) {
        fprintf(stderr, "DIVERGENCE in x87 state: fcw %04x/%04x fsw %04x/%04x ftw %02x/%02x (interp/native)\n",
                h->st.fx.fcw, nfp.cwd, h->st.fx.fsw, nfp.swd, h->st.fx.ftw, nfp.ftw & 0xff);
        for (int i = 0; i < 8; i++) {
            const uint8_t *a = h->st.fx.st[i].bytes, *b = (const uint8_t *)nfp.st_space + 16 * i;
            fprintf(stderr, "  st%d interp ", i);
            for (int k = 9; k >= 0; k--)
                fprintf(stderr, "%02x", a[k]);
            fprintf(stderr, " native ");
            for (int k = 9; k >= 0; k--)
                fprintf(stderr, "%02x", b[k]);
            fprintf(stderr, "%s\n", memcmp(a, b, 10) ? "  <-- differs" : "");
        }
        print_insn(h, rip);
        print_states(&pre, &h->st, &native);
        return -1;
    }
    for (unsigned i = 0; i < h->ncmp && may_write_memory(&in, decoded); i++) {
        const struct range *r = &h->cmp[i];
        size_t n = r->hi - r->lo;
        static uint8_t buf[1 << 20];
        if (n > sizeof(buf))
            n = sizeof(buf);
        struct iovec local = {buf, n}, remote = {(void *)(uintptr_t)r->lo, n};
        if (process_vm_readv(h->pid, &local, 1, &remote, 1, 0) != (ssize_t)n)
            die_errno("process_vm_readv");
        const uint8_t *mine = (const uint8_t *)(uintptr_t)r->lo;
        if (memcmp(buf, mine, n) == 0)
            continue;
        size_t off = 0;
        while (buf[off] == mine[off])
            off++;
        bool pushf_tf = decoded && in.map == MAP_1B && in.opcode == 0x9c &&
                        r->lo + off == h->st.gpr[R_RSP] + 1 && (buf[off] ^ mine[off]) == 1;
        if (pushf_tf) {
            /* The TF bit pushed by PUSHF under single-step: take the native value. */
            ((uint8_t *)(uintptr_t)r->lo)[off] = buf[off];
            if (memcmp(buf, mine, n) == 0)
                continue;
        }
        fprintf(stderr, "DIVERGENCE in memory at %#llx: interp %02x native %02x\n",
                (unsigned long long)(r->lo + off), mine[off], buf[off]);
        print_insn(h, rip);
        print_states(&pre, &h->st, &native);
        return -1;
    }
    /* Carry the native values of undefined flags forward. */
    h->st.rflags = native.rflags;
    h->st.fx.fsw = nfp.swd;
    if (interp_exc) {
        /* Both faulted on this instruction: skip it on both sides. */
        h->exceptions++;
        h->st.ev.exception_pending = false;
        if (rip == h->end_rip || !decoded)
            return 0;
        h->st.rip = rip + in.len;
        state_to_regs(&h->st, &nr);
        if (ptrace(PTRACE_SETREGS, h->pid, 0, &nr) < 0)
            die_errno("PTRACE_SETREGS");
    }
    h->insts++;
    return 1;
}

static int run_until_end(struct harness *h, uint64_t max_steps)
{
    for (uint64_t i = 0; i < max_steps; i++) {
        int r = step(h);
        if (r <= 0)
            return r;
    }
    return 0;
}

static void harness_init(struct harness *h)
{
    memset(h, 0, sizeof(*h));
    if (cs_open(CS_ARCH_X86, CS_MODE_64, &h->cs) != CS_ERR_OK) {
        fprintf(stderr, "lockstep: capstone open failed\n");
        exit(2);
    }
    user_state(&h->st);
    struct interp_mem_ops ops = {translate, h};
    if (interp_init(&h->ip, &h->st, &ops) < 0) {
        fprintf(stderr, "lockstep: interp_init failed\n");
        exit(2);
    }
}

/* The harness of this run, released in main. */
static struct harness the_harness;
static csh gen_cs;

static void harness_destroy(struct harness *h)
{
    stop_child(h);
    interp_destroy(&h->ip);
    if (h->cs)
        cs_close(&h->cs);
}

static void *map_fixed(uint64_t addr, uint64_t size, int prot)
{
    void *p = mmap((void *)(uintptr_t)addr, size, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (p == MAP_FAILED)
        die_errno("mmap fixed region");
    return p;
}

static int run_generated(const char *group, unsigned long count, unsigned long seed)
{
    struct harness *h = &the_harness;
    harness_init(h);
    map_fixed(LS_CODE_BASE, LS_CODE_SIZE, PROT_READ | PROT_WRITE | PROT_EXEC);
    map_fixed(LS_DATA_BASE, LS_DATA_SIZE, PROT_READ | PROT_WRITE);
    add_range(h, LS_CODE_BASE, LS_CODE_BASE + LS_CODE_SIZE, ACC_READ | ACC_WRITE | ACC_EXEC);
    add_range(h, LS_DATA_BASE, LS_DATA_BASE + LS_DATA_SIZE, ACC_READ | ACC_WRITE);
    h->cmp[h->ncmp++] = (struct range){LS_DATA_BASE, LS_DATA_BASE + LS_DATA_SIZE, 0};
    cs_open(CS_ARCH_X86, CS_MODE_64, &gen_cs);
    cs_option(gen_cs, CS_OPT_DETAIL, CS_OPT_ON);
    csh gcs = gen_cs;
    struct ls_rng rng = {seed * 0x9e3779b97f4a7c15ull + 1};
    unsigned long done = 0;
    while (h->insts < count) {
        struct ls_program p;
        if (ls_generate(group, &rng, gcs, 200, &p) < 0) {
            fprintf(stderr, "lockstep: unknown group '%s'\n", group);
            return 2;
        }
        h->end_rip = LS_CODE_BASE + p.len - 1; /* the final INT3 */
        start_child(h, &p.regs);
        interp_tlb_flush(&h->ip);
        int r = run_until_end(h, 100000);
        stop_child(h);
        if (r < 0) {
            fprintf(stderr, "group %s seed %lu: divergence after %llu instructions (program %lu)\n", group,
                    seed, (unsigned long long)h->insts, done);
            return 1;
        }
        done++;
    }
    printf("lockstep %s: %llu instructions in %lu programs, %llu exceptions matched, 0 divergences\n", group,
           (unsigned long long)h->insts, done, (unsigned long long)h->exceptions);
    return 0;
}

static int run_workloads(const char *only)
{
    struct harness *h = &the_harness;
    harness_init(h);
    uint8_t *stack = map_fixed(WORK_STACK_BASE, WORK_STACK_SIZE, PROT_READ | PROT_WRITE);
    map_self(h);
    void *wbase;
    size_t wsize;
    ls_workload_memory(&wbase, &wsize);
    h->cmp[h->ncmp++] = (struct range){(uintptr_t)wbase, (uintptr_t)wbase + wsize, 0};
    ls_workload_fp_memory(&wbase, &wsize);
    h->cmp[h->ncmp++] = (struct range){(uintptr_t)wbase, (uintptr_t)wbase + wsize, 0};
    h->cmp[h->ncmp++] = (struct range){WORK_STACK_BASE + WORK_STACK_SIZE - 0x8000, WORK_STACK_BASE + WORK_STACK_SIZE, 0};
    h->end_rip = WORK_SENTINEL;
    int ran = 0;
    for (const struct ls_workload *w = ls_workloads; w->name; w++) {
        if (only && strcmp(only, w->name) != 0)
            continue;
        ran++;
        uint64_t native = w->fn(w->arg); /* also warms up anything lazily bound */
        struct user_regs_struct regs;
        memset(&regs, 0, sizeof(regs));
        uint64_t sp = WORK_STACK_BASE + WORK_STACK_SIZE - 64;
        memcpy(stack + (sp - WORK_STACK_BASE), &(uint64_t){WORK_SENTINEL}, 8);
        regs.rsp = sp;
        regs.rip = (uintptr_t)w->fn;
        regs.rdi = w->arg;
        regs.eflags = 0x202;
        uint64_t before = h->insts;
        start_child(h, &regs);
        interp_tlb_flush(&h->ip);
        int r = run_until_end(h, 200000000);
        stop_child(h);
        if (r < 0) {
            fprintf(stderr, "workload %s: divergence after %llu instructions\n", w->name,
                    (unsigned long long)(h->insts - before));
            return 1;
        }
        if (h->st.rip != WORK_SENTINEL || h->st.gpr[R_RAX] != native) {
            fprintf(stderr, "workload %s: ended at %#llx with %#llx, native result %#llx\n", w->name,
                    (unsigned long long)h->st.rip, (unsigned long long)h->st.gpr[R_RAX],
                    (unsigned long long)native);
            return 1;
        }
        printf("lockstep workload %s: %llu instructions, result %#llx, 0 divergences\n", w->name,
               (unsigned long long)(h->insts - before), (unsigned long long)native);
    }
    if (!ran) {
        fprintf(stderr, "lockstep: no workload named '%s'\n", only ? only : "");
        return 2;
    }
    return 0;
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The interpreter's fast path without the native side: each workload runs
 * `reps` times natively and in the interpreter; both rates use the
 * interpreter's instruction count. */
static int run_bench(unsigned reps)
{
    struct harness *h = &the_harness;
    harness_init(h);
    uint8_t *stack = map_fixed(WORK_STACK_BASE, WORK_STACK_SIZE, PROT_READ | PROT_WRITE);
    map_self(h);
    double t_native = 0, t_interp = 0;
    uint64_t insts = 0;
    for (const struct ls_workload *w = ls_workloads; w->name; w++) {
        volatile uint64_t native = 0;
        double t0 = now_seconds();
        for (unsigned r = 0; r < reps; r++)
            native = w->fn(w->arg);
        double t1 = now_seconds();
        uint64_t before = h->ip.insts;
        for (unsigned r = 0; r < reps; r++) {
            user_state(&h->st);
            uint64_t sp = WORK_STACK_BASE + WORK_STACK_SIZE - 64;
            memcpy(stack + (sp - WORK_STACK_BASE), &(uint64_t){WORK_SENTINEL}, 8);
            h->st.gpr[R_RSP] = sp;
            h->st.gpr[R_RDI] = w->arg;
            h->st.rip = (uintptr_t)w->fn;
            h->st.rflags = 0x202;
            interp_state_changed(&h->ip);
            enum interp_stop stop = interp_run(&h->ip, UINT64_MAX);
            if (stop != INTERP_STOP_EXCEPTION || h->st.rip != WORK_SENTINEL || h->st.gpr[R_RAX] != native) {
                fprintf(stderr, "bench %s: interpreter ended at %#llx (stop %d, vector %d) with %#llx, native %#llx\n",
                        w->name, (unsigned long long)h->st.rip, stop, h->st.ev.exception_vector,
                        (unsigned long long)h->st.gpr[R_RAX], (unsigned long long)native);
                return 1;
            }
        }
        double t2 = now_seconds();
        uint64_t n = h->ip.insts - before;
        printf("%-8s %10llu insts  native %8.1f MIPS  interp %7.1f MIPS\n", w->name, (unsigned long long)n,
               (double)n / (t1 - t0) / 1e6, (double)n / (t2 - t1) / 1e6);
        t_native += t1 - t0;
        t_interp += t2 - t1;
        insts += n;
    }
    double mips = (double)insts / t_interp / 1e6, native_mips = (double)insts / t_native / 1e6;
    printf("interp-user: %.1f MIPS (peer native %.1f MIPS, ratio %.4f)\n", mips, native_mips, mips / native_mips);
    return 0;
}

/* Only the native side of the benchmark, timing `reps` runs of every
 * workload; bench/interp-user runs this under qemu-x86_64 (QEMU's user-mode
 * TCG) to time the same code on QEMU. Prints the total seconds. */
static int run_bench_native(unsigned reps)
{
    double total = 0;
    for (const struct ls_workload *w = ls_workloads; w->name; w++) {
        volatile uint64_t sink = 0;
        double t0 = now_seconds();
        for (unsigned r = 0; r < reps; r++)
            sink = w->fn(w->arg);
        (void)sink;
        total += now_seconds() - t0;
    }
    printf("native-seconds %.6f\n", total);
    return 0;
}

static int run(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "bench-native") == 0)
        return run_bench_native(argc >= 3 ? (unsigned)strtoul(argv[2], NULL, 0) : 20);
    if (argc >= 2 && strcmp(argv[1], "bench") == 0)
        return run_bench(argc >= 3 ? (unsigned)strtoul(argv[2], NULL, 0) : 20);
    if (argc >= 5 && strcmp(argv[1], "gen") == 0)
        return run_generated(argv[2], strtoul(argv[3], NULL, 0), strtoul(argv[4], NULL, 0));
    if (argc >= 2 && strcmp(argv[1], "work") == 0)
        return run_workloads(argc >= 3 ? argv[2] : NULL);
    if (argc >= 2 && strcmp(argv[1], "desc") == 0)
        return ls_run_desc();
    fprintf(stderr, "usage: %s gen GROUP COUNT SEED | work [NAME] | desc | bench [REPS] | bench-native [REPS]\ngroups:",
            argv[0]);
    for (const char *const *g = ls_groups; *g; g++)
        fprintf(stderr, " %s", *g);
    fprintf(stderr, "\n");
    return 2;
}

int main(int argc, char **argv)
{
    /* The native side is this CPU: so is the interpreter's model where the
     * model leaves a choice (MXCSR_MASK, docs/lockstep.md). */
    if (cpu_model_set_mxcsr_mask(cpu_model_host_mxcsr_mask()) < 0) {
        fprintf(stderr, "lockstep: the host as a CPU model: %s\n", err_get());
        return 2;
    }
    int rc = run(argc, argv);
    harness_destroy(&the_harness);
    if (gen_cs)
        cs_close(&gen_cs);
    return rc;
}
