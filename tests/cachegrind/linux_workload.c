/* The cachegrind oracle's Linux user program (docs/timing.md, "The
 * cachegrind oracle, run by tandem"): run under valgrind --tool=cachegrind
 * on the host and as a process of the Debian guest on tandem's interpreter,
 * it must make the same accesses at the same virtual addresses in both. So:
 * static, not PIE, no libc (glibc's start-up and its CPUID-selected string
 * functions differ between the host and the model), a stack in .bss (the
 * kernel's and valgrind's initial stacks differ), no REP string
 * instructions (the interpreter retires several iterations at once,
 * cachegrind counts each), nothing read from the initial registers, stack,
 * argv or environment. The first instruction is the region begin marker,
 * the exit system call follows the region end marker, so tandem counts
 * exactly what cachegrind counts: every instruction of the process.
 *
 * The work: a pointer chase through a shuffled ring larger than the LL, a
 * double matrix multiply larger than D1, unaligned 8- and 16-byte copies
 * (accesses that straddle lines), read-modify-writes on a histogram, calls
 * through 60 KiB of small functions (I1 misses). It
 * prints one line with a checksum of the results (both runs must agree). */
#include <stddef.h>
#include <stdint.h>

#define TANDEMCTL_ABI_ONLY
#include "tandemctl.h"

#define STACK_BYTES 65536
static uint8_t stack[STACK_BYTES] __attribute__((used, aligned(64)));

/* _start: the begin marker (counted by both), then the stack. */
__asm__(".globl _start\n"
        "_start:\n\t" TANDEMCTL_MARKER_ASM(TANDEMCTL_MARKER_ROI_BEGIN) "\n\t"
        "lea stack+" TANDEMCTL_MARKER_STR(STACK_BYTES) "(%rip), %rsp\n\t"
        "call workload_main\n\t"
        "ud2\n");

static long sys_write(int fd, const void *buf, size_t len)
{
    long ret;
    __asm__ __volatile__("syscall"
                         : "=a"(ret)
                         : "a"(1L), "D"((long)fd), "S"(buf), "d"(len)
                         : "rcx", "r11", "memory");
    return ret;
}

/* The region ends with the exit call (docs/guest-control.md). */
static __attribute__((noreturn)) void sys_exit(int code)
{
    __asm__ __volatile__(TANDEMCTL_MARKER_ASM(TANDEMCTL_MARKER_ROI_END) "\n\t"
                         "syscall"
                         :
                         : "a"(60L), "D"((long)code)
                         : "rcx", "r11", "memory");
    __builtin_unreachable();
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void)
{
    uint64_t x = rng_state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng_state = x;
    return x * 0x2545f4914f6cdd1dull;
}

/* 8192 nodes of 48 bytes: 384 KiB, more than the 256 KiB LL. */
#define NODES 8192
struct node {
    struct node *next;
    uint64_t payload[5];
};
static struct node nodes[NODES];
static uint32_t order[NODES];

static uint64_t pointer_chase(unsigned rounds)
{
    for (uint32_t i = 0; i < NODES; i++)
        order[i] = i;
    for (uint32_t i = NODES - 1; i > 0; i--) {
        uint32_t j = (uint32_t)(rng() % (i + 1));
        uint32_t t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    for (uint32_t i = 0; i < NODES; i++) {
        struct node *n = &nodes[order[i]];
        n->next = &nodes[order[(i + 1) % NODES]];
        n->payload[i % 5] = i;
    }
    uint64_t sum = 0;
    struct node *n = &nodes[order[0]];
    for (unsigned r = 0; r < rounds; r++)
        for (uint32_t i = 0; i < NODES; i++) {
            sum += n->payload[r % 5] ^ (uintptr_t)n;
            n = n->next;
        }
    return sum;
}

/* Three 40 x 40 double matrices: 37.5 KiB, more than D1. */
#define DIM 40
static double ma[DIM][DIM], mb[DIM][DIM], mc[DIM][DIM];

static uint64_t matmul(void)
{
    for (int i = 0; i < DIM; i++)
        for (int j = 0; j < DIM; j++) {
            ma[i][j] = (double)((i * 7 + j * 3) % 17) - 8.0;
            mb[i][j] = (double)((i * 5 + j * 11) % 13) * 0.5;
        }
    for (int i = 0; i < DIM; i++)
        for (int j = 0; j < DIM; j++) {
            double s = 0.0;
            for (int k = 0; k < DIM; k++)
                s += ma[i][k] * mb[k][j];
            mc[i][j] = s;
        }
    uint64_t sum = 0;
    for (int i = 0; i < DIM; i++)
        for (int j = 0; j < DIM; j++)
            sum = sum * 31 + (uint64_t)(int64_t)mc[i][j];
    return sum;
}

/* Unaligned copies: 8-byte and 16-byte (SSE, two 8-byte halves in the
 * interpreter) accesses at odd offsets, many straddling a line. */
#define BUF 49152
static uint8_t src[BUF + 64], dst[BUF + 64];
typedef long long v2di __attribute__((vector_size(16)));

static uint64_t copies(void)
{
    for (unsigned i = 0; i < BUF + 64; i++)
        src[i] = (uint8_t)(i * 131 + 7);
    for (unsigned off = 1; off < 4; off++) {
        for (unsigned i = 0; i + 8 <= BUF; i += 8) {
            uint64_t v;
            __builtin_memcpy(&v, src + off + i, 8);
            __builtin_memcpy(dst + 3 + i, &v, 8);
        }
        for (unsigned i = 0; i + 16 <= BUF; i += 16) {
            v2di v;
            __builtin_memcpy(&v, src + off * 5 + i, 16);
            __builtin_memcpy(dst + 9 + i, &v, 16);
        }
    }
    uint64_t sum = 0;
    for (unsigned i = 0; i < BUF; i += 61)
        sum = sum * 33 + dst[i];
    return sum;
}

/* Read-modify-writes: `add reg, (mem)` (cachegrind's modify events). */
static uint64_t hist[1024];

static uint64_t histogram(void)
{
    for (unsigned i = 0; i < 200000; i++) {
        uint64_t v = rng();
        __asm__ __volatile__("addq %1, %0" : "+m"(hist[v & 1023]) : "r"(v >> 54));
    }
    uint64_t sum = 0;
    for (unsigned i = 0; i < 1024; i++)
        sum ^= hist[i] << (i % 13);
    return sum;
}

/* 1024 small functions (about 60 KiB of code, more than I1), called in
 * turn through a table: instruction-cache misses. Named by their number
 * in base 4 (f00000 ... f33333, octal literals of digits 0-3). */
#define FN(n)                                                                                \
    static __attribute__((noinline)) uint64_t f##n(uint64_t x)                               \
    {                                                                                        \
        x ^= x >> ((n) % 29 + 1);                                                            \
        x *= 0x9e3779b97f4a7c15ull + (n);                                                    \
        x += (x << 13) ^ (n);                                                                \
        return x ^ (x >> 31);                                                                \
    }
#define FN4(p) FN(p##0) FN(p##1) FN(p##2) FN(p##3)
#define FN16(p) FN4(p##0) FN4(p##1) FN4(p##2) FN4(p##3)
#define FN64(p) FN16(p##0) FN16(p##1) FN16(p##2) FN16(p##3)
#define FN256(p) FN64(p##0) FN64(p##1) FN64(p##2) FN64(p##3)
FN256(00) FN256(01) FN256(02) FN256(03)
#define FP(n) f##n,
#define FP4(p) FP(p##0) FP(p##1) FP(p##2) FP(p##3)
#define FP16(p) FP4(p##0) FP4(p##1) FP4(p##2) FP4(p##3)
#define FP64(p) FP16(p##0) FP16(p##1) FP16(p##2) FP16(p##3)
#define FP256(p) FP64(p##0) FP64(p##1) FP64(p##2) FP64(p##3)
static uint64_t (*const functions[])(uint64_t) = {FP256(00) FP256(01) FP256(02) FP256(03)};

static uint64_t calls(unsigned rounds)
{
    uint64_t x = 1;
    for (unsigned r = 0; r < rounds; r++)
        for (unsigned i = 0; i < sizeof(functions) / sizeof(functions[0]); i++)
            x = functions[(i * 7 + r) % 1024](x);
    return x;
}

static char line[64];

__attribute__((used, noreturn)) void workload_main(void)
{
    uint64_t sum = pointer_chase(6);
    sum = sum * 1000003 + matmul();
    sum = sum * 1000003 + copies();
    sum = sum * 1000003 + histogram();
    sum = sum * 1000003 + calls(4);
    static const char head[] = "cg-workload checksum ";
    unsigned n = 0;
    for (; head[n]; n++)
        line[n] = head[n];
    for (int shift = 60; shift >= 0; shift -= 4)
        line[n++] = "0123456789abcdef"[(sum >> shift) & 15];
    line[n++] = '\n';
    sys_exit(sys_write(1, line, n) == (long)n ? 0 : 1);
}
