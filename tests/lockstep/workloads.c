/* Real-code workloads for the lockstep harness and bench/interp-user:
 * ordinary C (loops, calls, recursion, a switch-dispatched bytecode VM,
 * 128-bit multiply, division, bit tricks, string handling). Compiled with
 * -mgeneral-regs-only (tests/lockstep.cmake) so the compiler emits integer
 * instructions only. Every workload initializes the memory it uses and
 * returns a checksum, so native and interpreted runs can be compared. */
#include <stddef.h>
#include <stdint.h>

#include "lockstep.h"

static struct {
    uint32_t sortbuf[1024];
    uint8_t bytes[8192];
    uint8_t sieve[32768];
    uint64_t big[3][32];
    char text[2048];
} wm;

void ls_workload_memory(void **base, size_t *size)
{
    *base = &wm;
    *size = sizeof(wm);
}

static uint32_t xorshift32(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

static void quicksort(uint32_t *a, long lo, long hi)
{
    while (lo < hi) {
        uint32_t pivot = a[(lo + hi) / 2];
        long i = lo, j = hi;
        while (i <= j) {
            while (a[i] < pivot)
                i++;
            while (a[j] > pivot)
                j--;
            if (i <= j) {
                uint32_t t = a[i];
                a[i] = a[j];
                a[j] = t;
                i++;
                j--;
            }
        }
        if (j - lo < hi - i) {
            quicksort(a, lo, j);
            lo = i;
        } else {
            quicksort(a, i, hi);
            hi = j;
        }
    }
}

static uint64_t w_sort(uint64_t n)
{
    uint32_t s = 12345;
    for (uint64_t i = 0; i < n; i++)
        wm.sortbuf[i] = xorshift32(&s) % 100000;
    quicksort(wm.sortbuf, 0, (long)n - 1);
    uint64_t h = 0;
    for (uint64_t i = 0; i < n; i++)
        h = h * 31 + wm.sortbuf[i];
    return h;
}

static uint64_t w_crc32(uint64_t n)
{
    for (uint64_t i = 0; i < n; i++)
        wm.bytes[i] = (uint8_t)(i * 7 + (i >> 3));
    uint32_t crc = 0xffffffffu;
    for (uint64_t i = 0; i < n; i++) {
        crc ^= wm.bytes[i];
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1)));
    }
    return ~crc;
}

static uint64_t w_sieve(uint64_t n)
{
    for (uint64_t i = 0; i < n; i++)
        wm.sieve[i] = 1;
    uint64_t count = 0;
    for (uint64_t i = 2; i < n; i++) {
        if (!wm.sieve[i])
            continue;
        count++;
        for (uint64_t j = i * i; j < n; j += i)
            wm.sieve[j] = 0;
    }
    return count;
}

static uint64_t fib(uint64_t n)
{
    return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

static uint64_t w_fib(uint64_t n)
{
    return fib(n);
}

/* A stack VM: opcodes in wm.bytes, dispatched by a switch. */
static uint64_t w_vm(uint64_t iterations)
{
    enum { PUSH, ADD, MUL, DUP, SWAP, DEC, JNZ, XOR, SHR, HALT };
    /* Stack [acc, n]: 40 times acc = f(acc), a loop closed by JNZ. */
    static const uint8_t prog[] = {SWAP, PUSH, 3, MUL, PUSH, 7, XOR, DUP, SHR, ADD,
                                   SWAP, DEC, DUP, JNZ, 0, HALT};
    uint64_t stack[16];
    uint64_t acc = 0;
    for (uint64_t it = 0; it < iterations; it++) {
        int sp = 0;
        stack[sp++] = it + 1;
        stack[sp++] = 40;
        size_t pc = 0;
        for (;;) {
            uint8_t op = prog[pc++];
            switch (op) {
            case PUSH: stack[sp++] = prog[pc++]; break;
            case ADD: sp--; stack[sp - 1] += stack[sp]; break;
            case MUL: sp--; stack[sp - 1] *= stack[sp]; break;
            case DUP: stack[sp] = stack[sp - 1]; sp++; break;
            case SWAP: { uint64_t t = stack[sp - 1]; stack[sp - 1] = stack[sp - 2]; stack[sp - 2] = t; break; }
            case DEC: stack[sp - 1]--; break;
            case JNZ: sp--; if (stack[sp]) pc = prog[pc]; else pc++; break;
            case XOR: sp--; stack[sp - 1] ^= stack[sp]; break;
            case SHR: stack[sp - 1] >>= 1; break;
            default: goto done;
            }
            if (sp > 12)
                sp = 2;
        }
    done:
        for (int i = 0; i < sp; i++)
            acc = acc * 1000003 + stack[i];
    }
    return acc;
}

/* Schoolbook multiply of 16-limb numbers, then repeated division by small
 * divisors (MUL, DIV, ADC chains). */
static uint64_t w_bignum(uint64_t rounds)
{
    uint64_t s = 0x9e3779b97f4a7c15ull;
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < 16; i++) {
            s ^= s << 7;
            s ^= s >> 9;
            wm.big[k][i] = s;
        }
    uint64_t h = 0;
    for (uint64_t r = 0; r < rounds; r++) {
        for (int i = 0; i < 32; i++)
            wm.big[2][i] = 0;
        for (int i = 0; i < 16; i++) {
            unsigned __int128 carry = 0;
            for (int j = 0; j < 16; j++) {
                unsigned __int128 t = (unsigned __int128)wm.big[0][i] * wm.big[1][j] + wm.big[2][i + j] + carry;
                wm.big[2][i + j] = (uint64_t)t;
                carry = t >> 64;
            }
            wm.big[2][i + 16] = (uint64_t)carry;
        }
        uint64_t rem = 0;
        for (int i = 31; i >= 0; i--) {
            unsigned __int128 cur = ((unsigned __int128)rem << 64) | wm.big[2][i];
            wm.big[2][i] = (uint64_t)(cur / (1000000007u + r));
            rem = (uint64_t)(cur % (1000000007u + r));
        }
        h ^= rem + r;
        wm.big[0][r & 15] += rem;
    }
    return h;
}

static size_t my_strlen(const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    return n;
}

static uint64_t w_text(uint64_t rounds)
{
    static const char words[][8] = {"alpha", "beta", "gamma", "delta", "eps", "zeta", "eta", "theta"};
    uint64_t h = 1469598103934665603ull;
    uint32_t s = 99;
    for (uint64_t r = 0; r < rounds; r++) {
        size_t pos = 0;
        while (pos < sizeof(wm.text) - 16) {
            const char *w = words[xorshift32(&s) & 7];
            size_t n = my_strlen(w);
            for (size_t i = 0; i < n; i++)
                wm.text[pos++] = w[i] ^ (char)((r & 1) << 5);
            wm.text[pos++] = ' ';
        }
        wm.text[pos] = 0;
        for (size_t i = 0; wm.text[i]; i++) {
            h ^= (uint8_t)wm.text[i];
            h *= 1099511628211ull;
        }
        h += my_strlen(wm.text);
    }
    return h;
}

/* Bit manipulation: rotates, counts by loops and builtins, byte swaps. */
static uint64_t w_bits(uint64_t n)
{
    uint64_t x = 0x0123456789abcdefull, acc = 0;
    for (uint64_t i = 0; i < n; i++) {
        x = (x << 13) | (x >> 51);
        x ^= i * 0x9e3779b97f4a7c15ull;
        acc += (uint64_t)__builtin_clzll(x | 1) + (uint64_t)__builtin_ctzll(x | 0x8000000000000000ull);
        acc ^= __builtin_bswap64(x) >> (i & 31);
        acc += (int64_t)(int32_t)x / ((int64_t)(i & 0xff) + 1);
        acc += (x & 0xffff) > 0x8000 ? 3 : 5;
    }
    return acc;
}

const struct ls_workload ls_workloads[] = {
    {"sort", w_sort, 256},
    {"crc32", w_crc32, 1024},
    {"sieve", w_sieve, 6000},
    {"fib", w_fib, 16},
    {"vm", w_vm, 10},
    {"bignum", w_bignum, 4},
    {"text", w_text, 2},
    {"bits", w_bits, 3000},
    {"nbody", ls_w_nbody, 20},
    {"ldseries", ls_w_ldseries, 3000},
    {NULL, NULL, 0},
};
