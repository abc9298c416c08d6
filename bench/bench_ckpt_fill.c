/* Writes the guest bench/checkpoint saves and restores: an x86-64 ELF
 * executable whose code at 1 MiB halts forever and whose data segment fills
 * a share of a RAM_MiB guest with what a running system's memory holds:
 * text, pointer-rich structures, incompressible bytes (compressed files,
 * keys), sparsely used pages and zero pages, mixed per 2 MiB region. The
 * same file loads into tandem (ElfLoader) and QEMU (-device loader), so
 * both checkpoint the same memory.
 * Usage: bench_ckpt_fill OUT.elf RAM_MiB [PERCENT_FILLED (60)] */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CODE_ADDR 0x100000ULL
#define DATA_ADDR 0x200000ULL
#define REGION (2ULL << 20)
#define PAGE 4096ULL

static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static const char *const words[] = {
    "the", "kernel", "process", "memory", "page", "file", "system", "return", "static",
    "struct", "int", "void", "const", "error", "device", "driver", "buffer", "request",
    "interrupt", "schedule", "mutex", "lock", "unlock", "alloc", "free", "list", "node",
    "value", "count", "size", "length", "offset", "address", "table", "entry", "config"};

static void fill_text(uint8_t *p, uint64_t len)
{
    uint64_t i = 0;
    while (i < len) {
        const char *w = words[next() % (sizeof(words) / sizeof(words[0]))];
        for (; *w && i < len; w++)
            p[i++] = (uint8_t)*w;
        if (i < len)
            p[i++] = (next() % 9) ? ' ' : '\n';
    }
}

static void fill_structs(uint8_t *p, uint64_t len)
{
    uint64_t *q = (uint64_t *)p;
    for (uint64_t i = 0; i < len / 8; i++) {
        switch (i % 8) {
        case 0: /* list pointers into the direct map */
        case 1:
            q[i] = 0xffff888000000000ULL + (next() % (1ULL << 30)) * 64;
            break;
        case 2:
            q[i] = next() % 4096; /* small counters */
            break;
        case 3:
            q[i] = 0; /* flags mostly clear */
            break;
        default:
            q[i] = (next() % 5) ? i * 16 : next();
        }
    }
}

static void fill_random(uint8_t *p, uint64_t len)
{
    for (uint64_t i = 0; i < len; i += 8) {
        uint64_t v = next();
        memcpy(p + i, &v, 8);
    }
}

static void fill_sparse(uint8_t *p, uint64_t len)
{
    /* Half the pages stay zero; the others have a few hundred bytes used. */
    for (uint64_t pg = 0; pg < len; pg += PAGE)
        if (next() % 2)
            fill_structs(p + pg, 512);
}

static void put(uint8_t *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s OUT.elf RAM_MiB [PERCENT_FILLED]\n", argv[0]);
        return 2;
    }
    uint64_t ram = strtoull(argv[2], NULL, 0) << 20;
    unsigned percent = argc > 3 ? (unsigned)atoi(argv[3]) : 60;
    uint64_t data_len = ram * percent / 100 / REGION * REGION;
    if (ram < 16ULL << 20 || percent > 90 || DATA_ADDR + data_len > ram) {
        fprintf(stderr, "%s: RAM_MiB must be >= 16 and PERCENT_FILLED <= 90\n", argv[0]);
        return 2;
    }
    uint8_t *data = calloc(1, data_len);
    if (!data) {
        fprintf(stderr, "%s: out of memory\n", argv[0]);
        return 1;
    }
    for (uint64_t r = 0; r < data_len; r += REGION) {
        unsigned kind = (unsigned)(next() % 20);
        if (kind < 6)
            fill_text(data + r, REGION);
        else if (kind < 11)
            fill_structs(data + r, REGION);
        else if (kind < 15)
            fill_random(data + r, REGION);
        else if (kind < 18)
            fill_sparse(data + r, REGION);
        /* else: a zero region (freed memory) */
    }
    /* ELF64 header, two program headers, then the code and the data. */
    uint8_t hdr[64 + 2 * 56] = {0};
    /* Reads one byte of every data page, for ever: a guest restored lazily
     * goes on touching pages the loader may not have placed yet. */
    uint8_t code[36] = {
        0x48, 0xbe, 0, 0, 0, 0, 0, 0, 0, 0, /* 0: mov rsi, DATA_ADDR */
        0x48, 0xb9, 0, 0, 0, 0, 0, 0, 0, 0, /*    mov rcx, pages */
        0x8a, 0x06,                         /* 1: mov al, [rsi] */
        0x48, 0x81, 0xc6, 0x00, 0x10, 0, 0, /*    add rsi, 4096 */
        0x48, 0xff, 0xc9,                   /*    dec rcx */
        0x75, 0xf2,                         /*    jnz 1b */
        0xeb, 0xdc};                        /*    jmp 0b */
    put(code + 2, DATA_ADDR, 8);
    put(code + 12, data_len / PAGE, 8);
    uint64_t code_off = sizeof(hdr), data_off = 4096;
    memcpy(hdr, "\x7f" "ELF\x02\x01\x01", 7);
    put(hdr + 16, 2, 2);           /* ET_EXEC */
    put(hdr + 18, 62, 2);          /* EM_X86_64 */
    put(hdr + 20, 1, 4);           /* EV_CURRENT */
    put(hdr + 24, CODE_ADDR, 8);   /* e_entry */
    put(hdr + 32, 64, 8);          /* e_phoff */
    put(hdr + 52, 64, 2);          /* e_ehsize */
    put(hdr + 54, 56, 2);          /* e_phentsize */
    put(hdr + 56, 2, 2);           /* e_phnum */
    const uint64_t seg[2][3] = {{code_off, CODE_ADDR, sizeof(code)},
                                {data_off, DATA_ADDR, data_len}};
    for (int i = 0; i < 2; i++) {
        uint8_t *ph = hdr + 64 + 56 * i;
        put(ph, 1, 4);             /* PT_LOAD */
        put(ph + 4, i ? 6 : 5, 4); /* RW / RX */
        put(ph + 8, seg[i][0], 8);
        put(ph + 16, seg[i][1], 8);
        put(ph + 24, seg[i][1], 8);
        put(ph + 32, seg[i][2], 8);
        put(ph + 40, seg[i][2], 8);
        put(ph + 48, 4096, 8);
    }
    FILE *f = fopen(argv[1], "wb");
    uint8_t pad[4096] = {0};
    int ok = f && fwrite(hdr, sizeof(hdr), 1, f) == 1 && fwrite(code, sizeof(code), 1, f) == 1 &&
             fwrite(pad, data_off - code_off - sizeof(code), 1, f) == 1 &&
             fwrite(data, data_len, 1, f) == 1;
    if (!f || fclose(f) != 0 || !ok) {
        fprintf(stderr, "%s: cannot write %s\n", argv[0], argv[1]);
        return 1;
    }
    free(data);
    return 0;
}
