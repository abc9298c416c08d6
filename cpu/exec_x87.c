/* x87 FPU (Intel SDM Vol. 1 chapter 8, Vol. 2 per instruction). The guest
 * state is the FXSAVE image in struct x86_state (ST(i) in stack order,
 * abridged tag word, FSW with TOP). Every computation runs on the host's
 * own x87 unit, which this host has with the same 80-bit format: the
 * operands are loaded into an initialized host FPU under the guest control
 * word with all exceptions masked, the instruction executes, and FXSAVE
 * returns results, condition codes and exception flags bit-exactly. Stack
 * bookkeeping, tags, stack faults, unmasked-exception reporting (#MF at the
 * next waiting instruction) and data movement are done here.
 * Not implemented (#UD): FISTTP (SSE3, hidden by the model), FBLD/FBSTP. */
#include "cpu/interp_priv.h"

#define FSW_IE 0x0001
#define FSW_SF 0x0040
#define FSW_ES 0x0080
#define FSW_C0 0x0100
#define FSW_C1 0x0200
#define FSW_C2 0x0400
#define FSW_C3 0x4000
#define FSW_B 0x8000
#define FSW_CC (FSW_C0 | FSW_C1 | FSW_C2 | FSW_C3)
#define FSW_TOP_SHIFT 11

typedef uint8_t f80_t[10];

static const uint8_t qnan_indefinite[10] = {0, 0, 0, 0, 0, 0, 0, 0xc0, 0xff, 0xff};

static inline unsigned top(const struct interp *ip)
{
    return (ip->s->fx.fsw >> FSW_TOP_SHIFT) & 7;
}

static inline void set_top(struct interp *ip, unsigned t)
{
    ip->s->fx.fsw = (uint16_t)((ip->s->fx.fsw & ~(7u << FSW_TOP_SHIFT)) | ((t & 7) << FSW_TOP_SHIFT));
}

static inline uint8_t *st(struct interp *ip, unsigned i)
{
    return ip->s->fx.st[i & 7].bytes;
}

static inline bool valid(const struct interp *ip, unsigned i)
{
    return (ip->s->fx.ftw >> ((top(ip) + i) & 7)) & 1;
}

static inline void set_valid(struct interp *ip, unsigned i, bool v)
{
    unsigned phys = (top(ip) + i) & 7;
    ip->s->fx.ftw = (uint8_t)(v ? ip->s->fx.ftw | (1u << phys) : ip->s->fx.ftw & ~(1u << phys));
}

/* Push/pop rotate the stack-ordered image so ST(i) stays at st[i]; the
 * contents of empty registers travel with them, as FXSAVE shows. */
static void rotate_push(struct interp *ip)
{
    struct x86_fxsave *fx = &ip->s->fx;
    uint8_t last[16];
    memcpy(last, &fx->st[7], 16);
    memmove(&fx->st[1], &fx->st[0], 7 * 16);
    memcpy(&fx->st[0], last, 16);
    set_top(ip, top(ip) - 1);
}

static void rotate_pop(struct interp *ip)
{
    struct x86_fxsave *fx = &ip->s->fx;
    uint8_t first[16];
    memcpy(first, &fx->st[0], 16);
    memmove(&fx->st[0], &fx->st[1], 7 * 16);
    memcpy(&fx->st[7], first, 16);
    set_top(ip, top(ip) + 1);
}

/* Changes TOP keeping the physical registers (the stack-ordered image
 * rotates). */
static void move_top(struct interp *ip, unsigned t)
{
    while (top(ip) != (t & 7))
        rotate_pop(ip);
}

static void fpop(struct interp *ip)
{
    set_valid(ip, 0, false);
    rotate_pop(ip);
}

/* Records exception flags; an unmasked one sets ES and B so the next
 * waiting instruction raises #MF. Returns true if one was unmasked. */
static bool raise_flags(struct interp *ip, uint16_t flags)
{
    struct x86_fxsave *fx = &ip->s->fx;
    flags &= 0x7f;
    fx->fsw |= flags;
    if (flags & ~fx->fcw & 0x3f) {
        fx->fsw |= FSW_ES | FSW_B;
        return true;
    }
    return false;
}

/* Stack underflow (reading an empty register): IE+SF, C1=0. Returns
 * false when masked, so the caller stores the QNaN indefinite. */
static bool underflow(struct interp *ip)
{
    ip->s->fx.fsw &= (uint16_t)~FSW_C1;
    return raise_flags(ip, FSW_IE | FSW_SF);
}

static void push_value(struct interp *ip, const uint8_t *v)
{
    if (valid(ip, 7)) { /* overflow: IE+SF, C1=1 */
        ip->s->fx.fsw |= FSW_C1;
        if (raise_flags(ip, FSW_IE | FSW_SF))
            return;
        v = qnan_indefinite;
    }
    rotate_push(ip);
    memcpy(st(ip, 0), v, 10);
    set_valid(ip, 0, true);
}

/* --- host execution --- */

#define X87_CLOBBERS "memory", "st", "st(1)", "st(2)", "st(3)", "st(4)", "st(5)", "st(6)", "st(7)"

/* Host FXSAVE output of one operation. */
struct host_result {
    struct x86_fxsave fx;
};

static unsigned host_depth(const struct host_result *r)
{
    return (unsigned)__builtin_popcount(r->fx.ftw);
}

/* ST(0)=a, ST(1)=b on an initialized host FPU, then `insn`. */
#define HOST2(name, insn)                                                                     \
    static void name(const uint8_t *a, const uint8_t *b, const uint32_t *env, struct host_result *r)  \
    {                                                                                         \
        __asm__ volatile("fldenv (%2)\n\tfldt (%1)\n\tfldt (%0)\n\t" insn              \
                         "\n\tfxsave (%3)\n\tfninit"                                          \
                         :                                                                    \
                         : "r"(a), "r"(b), "r"(env), "r"(&r->fx)                                \
                         : X87_CLOBBERS);                                                     \
    }

HOST2(h_add, "fadd %%st(1), %%st")
HOST2(h_mul, "fmul %%st(1), %%st")
HOST2(h_sub, "fsub %%st(1), %%st")
HOST2(h_div, "fdiv %%st(1), %%st")
HOST2(h_com, "fcompp")
HOST2(h_ucom, "fucompp")
HOST2(h_chs, "fchs")
HOST2(h_abs, "fabs")
HOST2(h_xam, "fxam")
HOST2(h_f2xm1, "f2xm1")
HOST2(h_fyl2x, "fyl2x")
HOST2(h_fptan, "fptan")
HOST2(h_fpatan, "fpatan")
HOST2(h_fxtract, "fxtract")
HOST2(h_fprem1, "fprem1")
HOST2(h_fprem, "fprem")
HOST2(h_fyl2xp1, "fyl2xp1")
HOST2(h_fsqrt, "fsqrt")
HOST2(h_fsincos, "fsincos")
HOST2(h_frndint, "frndint")
HOST2(h_fscale, "fscale")
HOST2(h_fsin, "fsin")
HOST2(h_fcos, "fcos")
HOST2(h_fld1, "fld1")
HOST2(h_fldl2t, "fldl2t")
HOST2(h_fldl2e, "fldl2e")
HOST2(h_fldpi, "fldpi")
HOST2(h_fldlg2, "fldlg2")
HOST2(h_fldln2, "fldln2")
HOST2(h_fldz, "fldz")

/* Loads of memory formats into 80 bits (host stack: the value only). */
#define HOSTLOAD(name, insn)                                                                   \
    static void name(const void *m, const uint32_t *env, struct host_result *r)                        \
    {                                                                                          \
        __asm__ volatile("fldenv (%1)\n\t" insn " (%0)\n\tfxsave (%2)\n\tfninit"        \
                         :                                                                     \
                         : "r"(m), "r"(env), "r"(&r->fx)                                         \
                         : X87_CLOBBERS);                                                      \
    }
HOSTLOAD(hl_m32, "flds")
HOSTLOAD(hl_m64, "fldl")
HOSTLOAD(hl_i16, "filds")
HOSTLOAD(hl_i32, "fildl")
HOSTLOAD(hl_i64, "fildll")

/* Stores of ST(0) into memory formats. */
#define HOSTSTORE(name, insn)                                                                  \
    static void name(const uint8_t *a, void *m, const uint32_t *env, struct host_result *r)            \
    {                                                                                          \
        __asm__ volatile("fldenv (%2)\n\tfldt (%0)\n\t" insn " (%1)\n\tfxsave (%3)\n\tfninit" \
                         :                                                                     \
                         : "r"(a), "r"(m), "r"(env), "r"(&r->fx)                                 \
                         : X87_CLOBBERS);                                                      \
    }
HOSTSTORE(hs_m32, "fstps")
HOSTSTORE(hs_m64, "fstpl")
HOSTSTORE(hs_i16, "fistps")
HOSTSTORE(hs_i32, "fistpl")
HOSTSTORE(hs_i64, "fistpll")

/* ST(0) op memory, in one host instruction so exception priorities
 * (invalid before denormal) come out as the hardware orders them. */
#define HOSTMEM(name, insn)                                                                    \
    static void name(const uint8_t *a, const void *m, const uint32_t *env, struct host_result *r)      \
    {                                                                                          \
        __asm__ volatile("fldenv (%2)\n\tfldt (%0)\n\t" insn " (%1)\n\tfxsave (%3)\n\tfninit" \
                         :                                                                     \
                         : "r"(a), "r"(m), "r"(env), "r"(&r->fx)                                 \
                         : X87_CLOBBERS);                                                      \
    }
#define HOSTMEM_ROW(k, s)                                                                      \
    HOSTMEM(hm_##k##0, "fadd" s) HOSTMEM(hm_##k##1, "fmul" s) HOSTMEM(hm_##k##2, "fcom" s)     \
    HOSTMEM(hm_##k##3, "fcomp" s) HOSTMEM(hm_##k##4, "fsub" s) HOSTMEM(hm_##k##5, "fsubr" s)   \
    HOSTMEM(hm_##k##6, "fdiv" s) HOSTMEM(hm_##k##7, "fdivr" s)
#define HOSTIMEM_ROW(k, s)                                                                     \
    HOSTMEM(hm_##k##0, "fiadd" s) HOSTMEM(hm_##k##1, "fimul" s) HOSTMEM(hm_##k##2, "ficom" s)  \
    HOSTMEM(hm_##k##3, "ficomp" s) HOSTMEM(hm_##k##4, "fisub" s) HOSTMEM(hm_##k##5, "fisubr" s) \
    HOSTMEM(hm_##k##6, "fidiv" s) HOSTMEM(hm_##k##7, "fidivr" s)
HOSTMEM_ROW(m32, "s")
HOSTMEM_ROW(m64, "l")
HOSTIMEM_ROW(i32, "l")
HOSTIMEM_ROW(i16, "s")

typedef void (*hostmem_fn)(const uint8_t *, const void *, const uint32_t *, struct host_result *);
static const hostmem_fn hostmem_ops[4][8] = {
    {hm_m320, hm_m321, hm_m322, hm_m323, hm_m324, hm_m325, hm_m326, hm_m327},
    {hm_i320, hm_i321, hm_i322, hm_i323, hm_i324, hm_i325, hm_i326, hm_i327},
    {hm_m640, hm_m641, hm_m642, hm_m643, hm_m644, hm_m645, hm_m646, hm_m647},
    {hm_i160, hm_i161, hm_i162, hm_i163, hm_i164, hm_i165, hm_i166, hm_i167},
};

typedef void (*host2_fn)(const uint8_t *, const uint8_t *, const uint32_t *, struct host_result *);

/* The host environment for one operation: the guest control word with
 * every exception masked, the guest's condition codes (so codes an
 * instruction leaves unchanged stay as they were), an empty stack. */
struct host_env {
    uint32_t w[7];
};

static struct host_env env_of(const struct interp *ip)
{
    const struct x86_fxsave *fx = &ip->s->fx;
    return (struct host_env){{0xffff0000u | fx->fcw | 0x3f, 0xffff0000u | (fx->fsw & FSW_CC), 0xffffffffu, 0, 0, 0,
                              0xffff0000u}};
}

/* Merges the host's condition codes and exception flags; returns true if
 * an unmasked exception means the destination must not be written. */
static bool merge(struct interp *ip, const struct host_result *r, uint16_t cc_mask)
{
    struct x86_fxsave *fx = &ip->s->fx;
    fx->fsw = (uint16_t)((fx->fsw & ~cc_mask) | (r->fx.fsw & cc_mask));
    uint16_t flags = r->fx.fsw & 0x3f;
    bool unmasked = raise_flags(ip, flags);
    /* Invalid, denormal and divide-by-zero are detected before the result
     * exists: no write when unmasked. Overflow/underflow/precision still
     * deliver (SDM Vol. 1, 8.5). */
    return unmasked && (flags & ~fx->fcw & 0x07);
}

/* --- operand access --- */

static void fpu_check(struct interp *ip, bool waiting)
{
    const struct x86_state *s = ip->s;
    if (s->cr0 & (X86_CR0_EM | X86_CR0_TS))
        interp_raise(ip, X86_NM, false, 0);
    if (waiting && (s->fx.fsw & FSW_ES) && (s->cr0 & X86_CR0_NE))
        interp_raise(ip, X86_MF, false, 0);
}

/* The last-instruction pointers as this host's FXSAVE shows them: AMD
 * parts expose FOP/FIP/FDP only while an unmasked exception is pending
 * (FSW.ES) and store zeros otherwise. Control instructions (FNINIT,
 * FLDCW, FNSTSW, FNSTENV, ...) never update them. */
static void note_ip(struct interp *ip, const struct decoded_insn *in, uint64_t la, bool control)
{
    struct x86_fxsave *fx = &ip->s->fx;
    if (control)
        return;
    bool pending = fx->fsw & FSW_ES;
    fx->fop = pending ? (uint16_t)(((in->opcode & 7) << 8) | in->modrm) : 0;
    fx->fip = pending ? ip->s->rip : 0;
    fx->fdp = pending ? la : 0;
}

/* A memory operand in 80-bit form (FLD-style conversion through the host). */
static bool load_operand(struct interp *ip, unsigned kind, uint64_t la, uint8_t out[10])
{
    uint8_t buf[10];
    struct host_result r;
    switch (kind) {
    case 0: store_n(buf, 4, mem_read(ip, la, 4)); hl_m32(buf, env_of(ip).w, &r); break;
    case 1: store_n(buf, 8, mem_read(ip, la, 8)); hl_m64(buf, env_of(ip).w, &r); break;
    case 2: store_n(buf, 2, mem_read(ip, la, 2)); hl_i16(buf, env_of(ip).w, &r); break;
    case 3: store_n(buf, 4, mem_read(ip, la, 4)); hl_i32(buf, env_of(ip).w, &r); break;
    default: store_n(buf, 8, mem_read(ip, la, 8)); hl_i64(buf, env_of(ip).w, &r); break;
    }
    memcpy(out, r.fx.st[0].bytes, 10);
    return !merge(ip, &r, FSW_CC);
}

enum { K_M32, K_M64, K_I16, K_I32, K_I64 };

/* dst = a op b for op 0 add, 1 mul, 4 sub, 5 subr, 6 div, 7 divr. */
static void arith(struct interp *ip, unsigned op, unsigned dst, const uint8_t *b_in, bool b_valid, bool pop_after)
{
    if (!valid(ip, 0) || !valid(ip, dst) || !b_valid) {
        if (!underflow(ip))
            memcpy(st(ip, dst), qnan_indefinite, 10), set_valid(ip, dst, true);
        if (pop_after)
            fpop(ip);
        return;
    }
    const uint8_t *a = st(ip, dst), *b = b_in;
    host2_fn fn;
    switch (op) {
    case 0: fn = h_add; break;
    case 1: fn = h_mul; break;
    case 4: fn = h_sub; break;
    case 5: fn = h_sub; { const uint8_t *t = a; a = b; b = t; } break;
    case 6: fn = h_div; break;
    default: fn = h_div; { const uint8_t *t = a; a = b; b = t; } break;
    }
    struct host_result r;
    fn(a, b, env_of(ip).w, &r);
    if (!merge(ip, &r, FSW_CC))
        memcpy(st(ip, dst), r.fx.st[0].bytes, 10);
    if (pop_after)
        fpop(ip);
}

/* FCOM/FUCOM family: C0 C2 C3 (and C1 cleared) or, for FCOMI, ZF PF CF. */
static void compare(struct interp *ip, const uint8_t *b, bool b_valid, bool unordered, bool to_eflags,
                    unsigned pops)
{
    struct host_result r;
    if (!valid(ip, 0) || !b_valid) {
        if (!underflow(ip)) {
            if (to_eflags)
                set_flags(ip, X86_FLAG_ZF | X86_FLAG_PF | X86_FLAG_CF | X86_FLAG_OF | X86_FLAG_SF | X86_FLAG_AF,
                          X86_FLAG_ZF | X86_FLAG_PF | X86_FLAG_CF);
            else
                ip->s->fx.fsw |= FSW_C0 | FSW_C2 | FSW_C3;
        }
    } else {
        (unordered ? h_ucom : h_com)(st(ip, 0), b, env_of(ip).w, &r);
        uint16_t sw = r.fx.fsw;
        if (to_eflags) {
            /* The SDM clears C1 for FCOMI; AMD parts (this host) keep it. */
            merge(ip, &r, 0);
            set_flags(ip, X86_FLAG_ZF | X86_FLAG_PF | X86_FLAG_CF | X86_FLAG_OF | X86_FLAG_SF | X86_FLAG_AF,
                      ((sw & FSW_C3) ? X86_FLAG_ZF : 0) | ((sw & FSW_C2) ? X86_FLAG_PF : 0) |
                          ((sw & FSW_C0) ? X86_FLAG_CF : 0));
        } else {
            merge(ip, &r, FSW_CC);
        }
    }
    while (pops--)
        fpop(ip);
}

/* Stack shapes of the ST(0)/ST(1) operations. */
enum stack_kind {
    SK_UNARY,       /* ST(0) <- f(ST(0)) */
    SK_BINARY,      /* ST(0) <- f(ST(0), ST(1)): FPREM, FPREM1, FSCALE */
    SK_BINARY_POP,  /* ST(1) <- f(ST(0), ST(1)), pop: FYL2X, FPATAN, FYL2XP1 */
    SK_PUSH,        /* two results: FPTAN, FXTRACT, FSINCOS */
};

/* Operations on ST(0) (and ST(1)) through the host; the results replace,
 * drop or add stack entries following the host's stack depth. Stack faults
 * take the masked responses the hardware gives (measured on this host). */
static void host_stack_op(struct interp *ip, host2_fn fn, enum stack_kind kind)
{
    bool needs1 = kind == SK_BINARY || kind == SK_BINARY_POP;
    if (!valid(ip, 0) || (needs1 && !valid(ip, 1))) {
        if (kind == SK_PUSH)
            ip->s->fx.fsw &= (uint16_t)~FSW_C2; /* FPTAN/FSINCOS: "in range" (this host) */
        if (underflow(ip))
            return;
        if (kind == SK_BINARY_POP) {
            memcpy(st(ip, 1), qnan_indefinite, 10);
            set_valid(ip, 1, true);
            fpop(ip);
        } else {
            memcpy(st(ip, 0), qnan_indefinite, 10);
            set_valid(ip, 0, true);
            if (kind == SK_PUSH)
                push_value(ip, qnan_indefinite);
        }
        return;
    }
    if (kind == SK_PUSH && valid(ip, 7)) { /* overflow before anything else */
        ip->s->fx.fsw |= FSW_C1;
        if (raise_flags(ip, FSW_IE | FSW_SF))
            return;
        memcpy(st(ip, 0), qnan_indefinite, 10);
        push_value(ip, qnan_indefinite);
        return;
    }
    struct host_result r;
    fn(st(ip, 0), st(ip, 1), env_of(ip).w, &r);
    bool nowrite = merge(ip, &r, FSW_CC);
    if (nowrite)
        return;
    unsigned depth = host_depth(&r);
    if (depth == 1) {
        fpop(ip);
        memcpy(st(ip, 0), r.fx.st[0].bytes, 10);
    } else if (depth == 2) {
        memcpy(st(ip, 0), r.fx.st[0].bytes, 10);
    } else {
        memcpy(st(ip, 0), r.fx.st[1].bytes, 10);
        push_value(ip, r.fx.st[0].bytes);
    }
}

static void load_constant(struct interp *ip, host2_fn fn)
{
    static const uint8_t zero[10];
    struct host_result r;
    fn(zero, zero, env_of(ip).w, &r);
    merge(ip, &r, FSW_CC);
    push_value(ip, r.fx.st[0].bytes);
}

static void store_st0(struct interp *ip, unsigned kind, uint64_t la, bool pop_after)
{
    if (!valid(ip, 0)) {
        if (!underflow(ip)) {
            /* Masked: the indefinite value of the destination format. */
            static const uint64_t indefinite[5] = {0xffc00000u, 0xfff8000000000000ull, 0x8000, 0x80000000u,
                                                   0x8000000000000000ull};
            static const uint8_t size[5] = {4, 8, 2, 4, 8};
            mem_write(ip, la, size[kind], indefinite[kind]);
            if (pop_after)
                fpop(ip);
        }
        return;
    }
    static const uint8_t sizes[5] = {4, 8, 2, 4, 8};
    mem_probe_write(ip, la, sizes[kind]);
    uint8_t out[8] = {0};
    struct host_result r;
    switch (kind) {
    case K_M32: hs_m32(st(ip, 0), out, env_of(ip).w, &r); break;
    case K_M64: hs_m64(st(ip, 0), out, env_of(ip).w, &r); break;
    case K_I16: hs_i16(st(ip, 0), out, env_of(ip).w, &r); break;
    case K_I32: hs_i32(st(ip, 0), out, env_of(ip).w, &r); break;
    default: hs_i64(st(ip, 0), out, env_of(ip).w, &r); break;
    }
    if (merge(ip, &r, FSW_CC))
        return;
    mem_write(ip, la, sizes[kind], load_n(out, sizes[kind]));
    if (pop_after)
        fpop(ip);
}

/* FNSTENV/FLDENV 32-bit-format environment (28 bytes, SDM Vol. 1, 8.1.10). */
static uint16_t full_tag_word(struct interp *ip)
{
    uint16_t tw = 0;
    for (unsigned phys = 0; phys < 8; phys++) {
        unsigned tag = 3; /* empty */
        if ((ip->s->fx.ftw >> phys) & 1) {
            const uint8_t *v = st(ip, (phys - top(ip)) & 7);
            uint16_t exp = (uint16_t)(v[8] | (v[9] << 8)) & 0x7fff;
            uint64_t mant = load_n(v, 8);
            tag = exp == 0x7fff ? 2 : exp == 0 ? (mant ? 2 : 1) : (mant >> 63) ? 0 : 2;
        }
        tw |= (uint16_t)(tag << (2 * phys));
    }
    return tw;
}

/* Bit 6 of FCW is reserved and reads as 1; bits 13-15 are not kept. */
static uint16_t fcw_value(uint16_t v)
{
    return (uint16_t)((v & 0x1f7f) | 0x40);
}

static void store_env(struct interp *ip, uint64_t la)
{
    const struct x86_fxsave *fx = &ip->s->fx;
    mem_probe_write(ip, la, 28);
    /* AMD parts (this host) store the last instruction and operand
     * pointers only while an exception is pending; zero otherwise. */
    bool pointers = fx->fsw & FSW_ES;
    uint32_t words[7] = {0xffff0000u | fx->fcw, 0xffff0000u | fx->fsw, 0xffff0000u | full_tag_word(ip),
                         pointers ? (uint32_t)fx->fip : 0, pointers ? (uint32_t)fx->fop << 16 : 0,
                         pointers ? (uint32_t)fx->fdp : 0, 0xffff0000u};
    for (unsigned i = 0; i < 7; i++)
        mem_write(ip, la + 4 * i, 4, words[i]);
}

static void load_env(struct interp *ip, uint64_t la)
{
    struct x86_fxsave *fx = &ip->s->fx;
    uint16_t cw = (uint16_t)mem_read(ip, la, 2), sw = (uint16_t)mem_read(ip, la + 4, 2);
    uint16_t tw = (uint16_t)mem_read(ip, la + 8, 2);
    fx->fcw = fcw_value(cw);
    move_top(ip, sw >> FSW_TOP_SHIFT);
    fx->fsw = sw;
    fx->ftw = 0;
    for (unsigned phys = 0; phys < 8; phys++)
        if (((tw >> (2 * phys)) & 3) != 3)
            fx->ftw |= (uint8_t)(1u << phys);
    fx->fip = (uint32_t)mem_read(ip, la + 12, 4);
    fx->fdp = (uint32_t)mem_read(ip, la + 20, 4);
    /* A pending unmasked exception in the loaded status stays pending. */
    if (fx->fsw & ~fx->fcw & 0x3f)
        fx->fsw |= FSW_ES | FSW_B;
    else
        fx->fsw &= (uint16_t)~(FSW_ES | FSW_B);
}

static void finit(struct interp *ip)
{
    struct x86_fxsave *fx = &ip->s->fx;
    move_top(ip, 0);
    fx->fcw = 0x37f;
    fx->fsw = 0;
    fx->ftw = 0;
    fx->fop = 0;
    fx->fip = fx->fdp = 0;
}

/* --- the eight escape opcodes --- */

static HANDLER(exec_x87)
{
    uint8_t op = in->opcode;
    unsigned r = in->reg & 7, i = in->modrm & 7;
    bool mem = in->mod != 3;
    /* Non-waiting control instructions skip the pending-exception check. */
    bool nowait = (op == 0xd9 && mem && (r == 6 || r == 7)) || (op == 0xdb && !mem && (in->modrm == 0xe2 || in->modrm == 0xe3)) ||
                  (op == 0xdd && mem && (r == 6 || r == 7)) || (op == 0xdf && !mem && in->modrm == 0xe0);
    fpu_check(ip, !nowait);
    uint64_t la = mem ? ea_linear(ip, in) : 0;
    struct x86_fxsave *fx = &ip->s->fx;
    uint8_t val[10];
    if (mem) {
        switch (op) {
        case 0xd8: case 0xdc: case 0xda: case 0xde: { /* arithmetic with a memory operand */
            static const uint8_t sizes[4] = {4, 4, 8, 2};
            unsigned row = (op - 0xd8) / 2;
            uint8_t m[8];
            store_n(m, sizes[row], mem_read(ip, la, sizes[row]));
            if (!valid(ip, 0)) {
                if (!underflow(ip) && r != 2 && r != 3)
                    memcpy(st(ip, 0), qnan_indefinite, 10), set_valid(ip, 0, true);
                else if (r == 2 || r == 3)
                    fx->fsw |= FSW_C0 | FSW_C2 | FSW_C3;
                if (r == 3)
                    fpop(ip);
                break;
            }
            struct host_result hr;
            hostmem_ops[row][r](st(ip, 0), m, env_of(ip).w, &hr);
            bool cmp = r == 2 || r == 3;
            bool nowrite = merge(ip, &hr, FSW_CC);
            if (cmp) {
                if (r == 3)
                    fpop(ip);
            } else if (!nowrite) {
                memcpy(st(ip, 0), hr.fx.st[0].bytes, 10);
            }
            break;
        }
        case 0xd9:
            switch (r) {
            case 0: if (load_operand(ip, K_M32, la, val)) push_value(ip, val); break;
            case 2: store_st0(ip, K_M32, la, false); break;
            case 3: store_st0(ip, K_M32, la, true); break;
            case 4: load_env(ip, la); break;
            case 5: fx->fcw = fcw_value((uint16_t)mem_read(ip, la, 2));
                    if (!(fx->fsw & ~fx->fcw & 0x3f)) fx->fsw &= (uint16_t)~(FSW_ES | FSW_B);
                    break;
            case 6: store_env(ip, la); fx->fcw |= 0x3f; break;
            default: mem_write(ip, la, 2, fx->fcw); break;
            }
            break;
        case 0xdb:
            switch (r) {
            case 0: if (load_operand(ip, K_I32, la, val)) push_value(ip, val); break;
            case 2: store_st0(ip, K_I32, la, false); break;
            case 3: store_st0(ip, K_I32, la, true); break;
            case 5:
                for (unsigned k = 0; k < 10; k += 2)
                    store_n(val + k, 2, mem_read(ip, la + k, 2));
                fx->fsw &= (uint16_t)~FSW_C1;
                push_value(ip, val);
                break;
            default: /* 7: FSTP m80 */
                if (!valid(ip, 0)) {
                    if (!underflow(ip)) {
                        mem_probe_write(ip, la, 10);
                        for (unsigned k = 0; k < 10; k += 2)
                            mem_write(ip, la + k, 2, load_n(qnan_indefinite + k, 2));
                        fpop(ip);
                    }
                    break;
                }
                mem_probe_write(ip, la, 10);
                for (unsigned k = 0; k < 10; k += 2)
                    mem_write(ip, la + k, 2, load_n(st(ip, 0) + k, 2));
                fx->fsw &= (uint16_t)~FSW_C1;
                fpop(ip);
                break;
            }
            break;
        case 0xdd:
            switch (r) {
            case 0: if (load_operand(ip, K_M64, la, val)) push_value(ip, val); break;
            case 2: store_st0(ip, K_M64, la, false); break;
            case 3: store_st0(ip, K_M64, la, true); break;
            case 4: /* FRSTOR */
                load_env(ip, la);
                for (unsigned k = 0; k < 8; k++)
                    for (unsigned b = 0; b < 10; b += 2)
                        store_n(st(ip, k) + b, 2, mem_read(ip, la + 28 + 10 * k + b, 2));
                break;
            case 6: /* FNSAVE */
                mem_probe_write(ip, la, 108);
                store_env(ip, la);
                for (unsigned k = 0; k < 8; k++)
                    for (unsigned b = 0; b < 10; b += 2)
                        mem_write(ip, la + 28 + 10 * k + b, 2, load_n(st(ip, k) + b, 2));
                finit(ip);
                break;
            default: mem_write(ip, la, 2, fx->fsw); break; /* FNSTSW m16 */
            }
            break;
        default: /* DF */
            switch (r) {
            case 0: if (load_operand(ip, K_I16, la, val)) push_value(ip, val); break;
            case 2: store_st0(ip, K_I16, la, false); break;
            case 3: store_st0(ip, K_I16, la, true); break;
            case 5: if (load_operand(ip, K_I64, la, val)) push_value(ip, val); break;
            default: store_st0(ip, K_I64, la, true); break; /* 7: FISTP m64 */
            }
            break;
        }
        note_ip(ip, in, la, nowait || (op == 0xd9 && (r == 4 || r == 5)) || (op == 0xdd && r == 4));
        return;
    }
    switch (op) {
    case 0xd8:
        if (r == 2 || r == 3)
            compare(ip, st(ip, i), valid(ip, i), false, false, r == 3);
        else
            arith(ip, r, 0, st(ip, i), valid(ip, i), false);
        break;
    case 0xdc: case 0xde: {
        if (op == 0xde && in->modrm == 0xd9) {
            compare(ip, st(ip, 1), valid(ip, 1), false, false, 2); /* FCOMPP */
            break;
        }
        /* Register forms with ST(i) as destination swap SUB/SUBR, DIV/DIVR. */
        unsigned aop = r == 4 ? 5 : r == 5 ? 4 : r == 6 ? 7 : r == 7 ? 6 : r;
        uint8_t b[10];
        memcpy(b, st(ip, 0), 10);
        arith(ip, aop, i, b, valid(ip, 0), op == 0xde);
        break;
    }
    case 0xd9:
        switch (r) {
        case 0: /* FLD ST(i) */
            if (!valid(ip, i)) {
                if (!underflow(ip)) {
                    push_value(ip, qnan_indefinite);
                    fx->fsw &= (uint16_t)~FSW_C1; /* the underflow's C1=0 stands */
                }
                break;
            }
            memcpy(val, st(ip, i), 10);
            fx->fsw &= (uint16_t)~FSW_C1;
            push_value(ip, val);
            break;
        case 1: { /* FXCH */
            if (!valid(ip, 0) || !valid(ip, i)) {
                if (underflow(ip))
                    break;
                if (!valid(ip, 0))
                    memcpy(st(ip, 0), qnan_indefinite, 10), set_valid(ip, 0, true);
                if (!valid(ip, i))
                    memcpy(st(ip, i), qnan_indefinite, 10), set_valid(ip, i, true);
            }
            fx->fsw &= (uint16_t)~FSW_C1;
            memcpy(val, st(ip, 0), 10);
            memcpy(st(ip, 0), st(ip, i), 10);
            memcpy(st(ip, i), val, 10);
            break;
        }
        case 2: break; /* FNOP */
        case 4:
            switch (i) {
            case 0: host_stack_op(ip, h_chs, SK_UNARY); break;
            case 1: host_stack_op(ip, h_abs, SK_UNARY); break;
            case 4: { /* FTST */
                static const uint8_t zero[10];
                compare(ip, zero, true, false, false, 0);
                break;
            }
            default: /* 5: FXAM, defined on an empty register too */
                if (!valid(ip, 0)) {
                    fx->fsw = (uint16_t)((fx->fsw & ~FSW_CC) | FSW_C3 | FSW_C0 | ((st(ip, 0)[9] & 0x80) ? FSW_C1 : 0));
                } else {
                    struct host_result hr;
                    h_xam(st(ip, 0), st(ip, 1), env_of(ip).w, &hr);
                    fx->fsw = (uint16_t)((fx->fsw & ~FSW_CC) | (hr.fx.fsw & FSW_CC));
                }
                break;
            }
            break;
        case 5: {
            static const host2_fn consts[7] = {h_fld1, h_fldl2t, h_fldl2e, h_fldpi, h_fldlg2, h_fldln2, h_fldz};
            load_constant(ip, consts[i]);
            break;
        }
        case 6: {
            static const host2_fn ops6[8] = {h_f2xm1, h_fyl2x, h_fptan, h_fpatan, h_fxtract, h_fprem1, NULL, NULL};
            if (i == 6 || i == 7) { /* FDECSTP, FINCSTP */
                if (i == 6)
                    rotate_push(ip);
                else
                    rotate_pop(ip);
                fx->fsw &= (uint16_t)~FSW_C1;
                break;
            }
            static const uint8_t kinds6[6] = {SK_UNARY, SK_BINARY_POP, SK_PUSH, SK_BINARY_POP, SK_PUSH, SK_BINARY};
            host_stack_op(ip, ops6[i], (enum stack_kind)kinds6[i]);
            break;
        }
        default: {
            static const host2_fn ops7[8] = {h_fprem, h_fyl2xp1, h_fsqrt, h_fsincos, h_frndint, h_fscale, h_fsin, h_fcos};
            static const uint8_t kinds7[8] = {SK_BINARY, SK_BINARY_POP, SK_UNARY, SK_PUSH,
                                              SK_UNARY, SK_BINARY, SK_UNARY, SK_UNARY};
            host_stack_op(ip, ops7[i], (enum stack_kind)kinds7[i]);
            break;
        }
        }
        break;
    case 0xda: case 0xdb:
        if (op == 0xda && in->modrm == 0xe9) {
            compare(ip, st(ip, 1), valid(ip, 1), true, false, 2); /* FUCOMPP */
        } else if (op == 0xdb && in->modrm == 0xe2) {
            fx->fsw &= (uint16_t)~(0x7f | FSW_ES | FSW_B); /* FNCLEX */
            return; /* control instructions leave FOP/FIP/FDP alone */
        } else if (op == 0xdb && in->modrm == 0xe3) {
            finit(ip); /* clears FOP/FIP/FDP itself */
            return;
        } else if (op == 0xdb && r >= 5) {
            compare(ip, st(ip, i), valid(ip, i), r == 5, true, 0); /* FUCOMI, FCOMI */
        } else { /* FCMOVcc */
            static const uint8_t cc[4] = {0x2, 0x4, 0x6, 0xa}; /* B, E, BE, P as Jcc codes */
            bool take = cond_true(ip, cc[r & 3]) ^ (op == 0xdb);
            if (!valid(ip, 0) || !valid(ip, i)) {
                if (!underflow(ip))
                    memcpy(st(ip, 0), qnan_indefinite, 10), set_valid(ip, 0, true);
                break;
            }
            /* C1 is kept (AMD; the SDM says undefined-to-0 on stack fault only). */
            if (take)
                memcpy(st(ip, 0), st(ip, i), 10);
        }
        break;
    case 0xdd:
        switch (r) {
        case 0: /* FFREE; this host clears C1 */
            set_valid(ip, i, false);
            fx->fsw &= (uint16_t)~FSW_C1;
            break;
        case 2: case 3: /* FST/FSTP ST(i) */
            if (!valid(ip, 0)) {
                if (underflow(ip))
                    break;
                memcpy(st(ip, i), qnan_indefinite, 10);
            } else {
                memcpy(st(ip, i), st(ip, 0), 10);
            }
            set_valid(ip, i, true);
            fx->fsw &= (uint16_t)~FSW_C1;
            if (r == 3)
                fpop(ip);
            break;
        default: /* 4 FUCOM, 5 FUCOMP */
            compare(ip, st(ip, i), valid(ip, i), true, false, r == 5);
            break;
        }
        break;
    default: /* DF */
        if (in->modrm == 0xe0) {
            ip->s->gpr[R_RAX] = (ip->s->gpr[R_RAX] & ~0xffffull) | fx->fsw; /* FNSTSW AX */
            return; /* a control instruction */
        }
            compare(ip, st(ip, i), valid(ip, i), r == 5, true, 1); /* FUCOMIP, FCOMIP */
        break;
    }
    note_ip(ip, in, 0, nowait);
}

/* Encodings this engine executes (others #UD at decode). */
bool exec_x87_valid(const struct decoded_insn *in)
{
    unsigned r = in->reg & 7;
    uint8_t m = in->modrm;
    if (in->mod != 3) {
        switch (in->opcode) {
        case 0xd9: return r != 1;
        case 0xdb: return r != 1 && r != 4 && r != 6;
        case 0xdd: return r != 1 && r != 5;
        case 0xdf: return r != 1 && r != 4 && r != 6;
        default: return true;
        }
    }
    switch (in->opcode) {
    case 0xd8: return true;
    case 0xd9:
        return r <= 1 || m == 0xd0 || (r == 4 && (m == 0xe0 || m == 0xe1 || m == 0xe4 || m == 0xe5)) ||
               (r == 5 && m != 0xef) || r >= 6;
    case 0xda: return r <= 3 || m == 0xe9;
    case 0xdb: return r <= 3 || m == 0xe2 || m == 0xe3 || r == 5 || r == 6;
    case 0xdc: return r != 2 && r != 3;
    case 0xdd: return r == 0 || r == 2 || r == 3 || r == 4 || r == 5;
    case 0xde: return r <= 1 || r >= 4 || m == 0xd9;
    default: return m == 0xe0 || r == 5 || r == 6;
    }
}

void exec_x87_register(void)
{
    for (unsigned op = 0xd8; op <= 0xdf; op++)
        interp_map1[op] = exec_x87;
}

/* MMX state transitions (SDM Vol. 1, 9.5): every MMX instruction but EMMS
 * checks like a waiting x87 instruction, then sets TOP to 0 and tags all
 * registers valid; MMX register N is physical register N's mantissa. */
void x87_mmx_enter(struct interp *ip)
{
    if (ip->s->cr0 & X86_CR0_EM)
        interp_raise(ip, X86_UD, false, 0);
    fpu_check(ip, true);
    move_top(ip, 0);
    ip->s->fx.ftw = 0xff;
}

uint64_t x87_mmx_read(struct interp *ip, unsigned n)
{
    return load_n(st(ip, n & 7), 8);
}

/* Writing MMX register N sets the exponent bits of physical register N to
 * all ones. */
void x87_mmx_write(struct interp *ip, unsigned n, uint64_t v)
{
    uint8_t *r = st(ip, n & 7);
    store_n(r, 8, v);
    r[8] = r[9] = 0xff;
}

/* EMMS: all registers empty; this host (AMD) also sets TOP to 0, as an
 * MMX instruction does. */
void x87_emms(struct interp *ip)
{
    if (ip->s->cr0 & X86_CR0_EM)
        interp_raise(ip, X86_UD, false, 0);
    fpu_check(ip, true);
    move_top(ip, 0);
    ip->s->fx.ftw = 0;
}
