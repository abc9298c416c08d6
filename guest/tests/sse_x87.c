/* SSE2 and x87 arithmetic with known IEEE-754 results, the reset control
 * words, the 80-bit format and an FXSAVE/FXRSTOR round trip. Bit patterns
 * are compared exactly: both engines must round like the hardware. */
#include "guest.h"

const char test_name[] = "sse_x87";

/* IEEE-754 double bit patterns. */
#define D_0_25 0x3FD0000000000000ULL
#define D_1_5 0x3FF8000000000000ULL
#define D_1_75 0x3FFC000000000000ULL
#define D_2 0x4000000000000000ULL
#define D_2_25 0x4002000000000000ULL
#define D_4 0x4010000000000000ULL
#define D_16 0x4030000000000000ULL
#define D_MINUS_1_75 0xBFFC000000000000ULL
#define D_MINUS_2_75 0xC006000000000000ULL
#define D_MINUS_4 0xC010000000000000ULL
#define D_MINUS_7 0xC01C000000000000ULL
#define D_SQRT2 0x3FF6A09E667F3BCDULL
#define D_PI 0x400921FB54442D18ULL
#define D_7_OVER_3 0x4002AAAAAAAAAAABULL
#define D_12345 0x40C81C8000000000ULL
/* pi in the x87 80-bit format: 64-bit significand, biased exponent 0x4000. */
#define X87_PI_SIGNIFICAND 0xC90FDAA22168C235ULL
#define X87_PI_EXPONENT 0x4000

/* The x87 80-bit extended format in memory (FSTP m80). */
struct x87_extended {
    uint64_t significand;
    uint16_t sign_exponent;
} __attribute__((packed));

struct fxsave_area {
    uint16_t fcw, fsw;
    uint8_t ftw, reserved0;
    uint16_t fop;
    uint64_t fip, fdp;
    uint32_t mxcsr, mxcsr_mask;
    uint8_t st[8][16];
    uint64_t xmm[16][2];
    uint8_t reserved1[96];
} __attribute__((packed, aligned(16)));

static void test_sse2(void)
{
    static uint64_t a[2] __attribute__((aligned(16))) = {D_1_5, D_2_25};
    static uint64_t b[2] __attribute__((aligned(16))) = {D_0_25, D_MINUS_4};
    static uint64_t sq[2] __attribute__((aligned(16))) = {D_16, D_2};
    uint64_t sum[2] __attribute__((aligned(16))), prod[2] __attribute__((aligned(16)));
    uint64_t root[2] __attribute__((aligned(16))), quot[2] __attribute__((aligned(16)));
    __asm__ volatile("movapd %[a], %%xmm0\n\taddpd %[b], %%xmm0\n\tmovapd %%xmm0, %[sum]\n\t"
                     "movapd %[a], %%xmm1\n\tmulpd %[b], %%xmm1\n\tmovapd %%xmm1, %[prod]\n\t"
                     "sqrtpd %[sq], %%xmm2\n\tmovapd %%xmm2, %[root]\n\t"
                     "movapd %[b], %%xmm3\n\tdivpd %[sq], %%xmm3\n\tmovapd %%xmm3, %[quot]"
                     : [sum] "=m"(sum), [prod] "=m"(prod), [root] "=m"(root), [quot] "=m"(quot)
                     : [a] "m"(a), [b] "m"(b), [sq] "m"(sq)
                     : "xmm0", "xmm1", "xmm2", "xmm3");
    CHECK_EQ(sum[0], D_1_75, "addpd lane 0 (1.5 + 0.25)");
    CHECK_EQ(sum[1], D_MINUS_1_75, "addpd lane 1 (2.25 - 4)");
    CHECK_EQ(prod[0], 0x3FD8000000000000ULL, "mulpd lane 0 (1.5 * 0.25 = 0.375)");
    CHECK_EQ(prod[1], 0xC022000000000000ULL, "mulpd lane 1 (2.25 * -4 = -9)");
    CHECK_EQ(root[0], D_4, "sqrtpd lane 0 (sqrt 16)");
    CHECK_EQ(root[1], D_SQRT2, "sqrtpd lane 1 (sqrt 2, correctly rounded)");
    CHECK_EQ(quot[0], 0x3F90000000000000ULL, "divpd lane 0 (0.25 / 16 = 1/64)");
    CHECK_EQ(quot[1], D_MINUS_4 - (1ULL << 52), "divpd lane 1 (-4 / 2 = -2)");

    uint64_t converted, truncated;
    int64_t back;
    static uint64_t minus_2_75 = D_MINUS_2_75;
    __asm__ volatile("cvtsi2sdq %[i], %%xmm4\n\tmovq %%xmm4, %[c]\n\t"
                     "cvttsd2si %[m], %[t]\n\tcvtsd2si %[m], %[r]"
                     : [c] "=r"(converted), [t] "=&r"(truncated), [r] "=&r"(back)
                     : [i] "r"(12345LL), [m] "m"(minus_2_75)
                     : "xmm4");
    CHECK_EQ(converted, D_12345, "cvtsi2sd 12345");
    CHECK_EQ(truncated, (uint64_t)-2LL, "cvttsd2si -2.75 (truncates)");
    CHECK_EQ(back, (uint64_t)-3LL, "cvtsd2si -2.75 (rounds to nearest)");

    static uint32_t ia[4] __attribute__((aligned(16))) = {1, 0xFFFFFFFF, 0x7FFFFFFF, 100};
    static uint32_t ib[4] __attribute__((aligned(16))) = {2, 1, 1, 0xFFFFFF9C};
    uint32_t isum[4] __attribute__((aligned(16)));
    uint64_t iprod[2] __attribute__((aligned(16)));
    __asm__ volatile("movdqa %[a], %%xmm5\n\tpaddd %[b], %%xmm5\n\tmovdqa %%xmm5, %[s]\n\t"
                     "movdqa %[a], %%xmm6\n\tpmuludq %[b], %%xmm6\n\tmovdqa %%xmm6, %[p]"
                     : [s] "=m"(isum), [p] "=m"(iprod)
                     : [a] "m"(ia), [b] "m"(ib)
                     : "xmm5", "xmm6");
    CHECK(isum[0] == 3 && isum[1] == 0 && isum[2] == 0x80000000u && isum[3] == 0,
          "paddd: %x %x %x %x", isum[0], isum[1], isum[2], isum[3]);
    CHECK_EQ(iprod[0], 2, "pmuludq lane 0 (1 * 2)");
    CHECK_EQ(iprod[1], 0x7FFFFFFFULL, "pmuludq lane 1 (0x7FFFFFFF * 1)");

    uint32_t mxcsr;
    __asm__ volatile("stmxcsr %0" : "=m"(mxcsr));
    CHECK_EQ(mxcsr & ~0x3Fu, 0x1F80, "MXCSR (exception flags aside): all masked, round to nearest");
}

static void test_x87(void)
{
    uint16_t fcw;
    __asm__ volatile("fninit\n\tfnstcw %0" : "=m"(fcw));
    CHECK_EQ(fcw, 0x037F, "x87 control word after FNINIT");

    uint64_t root, pi, ratio;
    static const int32_t seven = 7, minus_seven = -7, three = 3;
    int32_t rounded;
    __asm__ volatile("fld1\n\tfadd %%st(0), %%st(0)\n\tfsqrt\n\tfstpl %[root]\n\t"
                     "fldpi\n\tfstpl %[pi]\n\t"
                     "fildl %[seven]\n\tfidivl %[three]\n\tfstpl %[ratio]\n\t"
                     "fildl %[mseven]\n\tfidivl %[three]\n\tfistpl %[rounded]"
                     : [root] "=m"(root), [pi] "=m"(pi), [ratio] "=m"(ratio), [rounded] "=m"(rounded)
                     : [seven] "m"(seven), [mseven] "m"(minus_seven), [three] "m"(three));
    CHECK_EQ(root, D_SQRT2, "x87 fsqrt(2) stored as double");
    CHECK_EQ(pi, D_PI, "x87 fldpi stored as double");
    CHECK_EQ(ratio, D_7_OVER_3, "x87 7/3 stored as double");
    CHECK_EQ((uint32_t)rounded, (uint32_t)-2, "x87 fistp(-7/3) rounds to nearest");

    struct x87_extended ext;
    __asm__ volatile("fldpi\n\tfstpt %0" : "=m"(ext));
    CHECK_EQ(ext.significand, X87_PI_SIGNIFICAND, "80-bit pi significand");
    CHECK_EQ(ext.sign_exponent, X87_PI_EXPONENT, "80-bit pi sign and exponent");
    uint16_t fsw;
    __asm__ volatile("fnstsw %0" : "=m"(fsw));
    CHECK_EQ((fsw >> 11) & 7, 0, "x87 stack top after balanced pushes and pops");
}

static void test_fxsave(void)
{
    static struct fxsave_area saved, modified;
    static const uint64_t marker[2] __attribute__((aligned(16))) = {D_MINUS_7, D_PI};
    uint64_t after[2] __attribute__((aligned(16)));
    struct x87_extended st0;
    __asm__ volatile("fninit\n\tfldpi\n\tmovapd %[m], %%xmm7\n\tfxsave %[s]\n\t"
                     "xorpd %%xmm7, %%xmm7\n\tfninit\n\tfxsave %[mod]\n\t"
                     "fxrstor %[s]\n\tmovapd %%xmm7, %[after]\n\tfstpt %[ext]\n\tfninit"
                     : [s] "=m"(saved), [mod] "=m"(modified), [after] "=m"(after),
                       [ext] "=m"(st0)
                     : [m] "m"(marker)
                     : "xmm7", "memory");
    CHECK_EQ(saved.fcw, 0x037F, "FXSAVE FCW");
    CHECK_EQ(saved.mxcsr & ~0x3Fu, 0x1F80, "FXSAVE MXCSR");
    CHECK_EQ(saved.xmm[7][0], D_MINUS_7, "FXSAVE XMM7 low");
    CHECK_EQ(saved.xmm[7][1], D_PI, "FXSAVE XMM7 high");
    CHECK_EQ(saved.ftw, 0x80, "FXSAVE abridged tag word (only ST0 = physical reg 7 valid)");
    CHECK_EQ(*(uint64_t *)saved.st[0], X87_PI_SIGNIFICAND, "FXSAVE ST0 significand");
    CHECK_EQ(modified.xmm[7][0], 0, "XMM7 cleared before FXRSTOR");
    CHECK_EQ(after[0], D_MINUS_7, "XMM7 low after FXRSTOR");
    CHECK_EQ(after[1], D_PI, "XMM7 high after FXRSTOR");
    CHECK_EQ(modified.ftw, 0, "FXSAVE abridged tag word after FNINIT (all empty)");
    CHECK_EQ(st0.significand, X87_PI_SIGNIFICAND, "ST0 restored by FXRSTOR");
}

void test_main(void)
{
    uint32_t r[4];
    cpuid(1, 0, r);
    CHECK(r[3] & (1u << 26), "CPUID reports no SSE2 (EDX 0x%x)", r[3]);
    CHECK(read_cr4() & CR4_OSFXSR, "CR4.OSFXSR clear at entry");
    CHECK(!(read_cr0() & (CR0_EM | CR0_TS)), "CR0.EM or CR0.TS set at entry");
    test_sse2();
    test_x87();
    test_fxsave();
    kprintf("SSE2, x87 (64- and 80-bit) and FXSAVE/FXRSTOR results exact\n");
}
