/* x86 instruction decoder (Intel SDM Vol. 2, chapter 2 "Instruction
 * Format" and appendix A "Opcode Map"). It turns instruction bytes into a
 * compact record the interpreter executes without looking at the bytes
 * again: prefixes folded into operand/address size and segment, ModRM/SIB
 * split into register numbers (REX applied), displacement and immediates
 * sign- or zero-extended, and the handler pre-selected by the opcode. */
#ifndef TANDEM_CPU_DECODE_H
#define TANDEM_CPU_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Code segment mode the bytes are decoded in. */
enum x86_mode { X86_MODE_16, X86_MODE_32, X86_MODE_64 };

/* Opcode maps. */
enum x86_map { MAP_1B, MAP_0F, MAP_0F38, MAP_0F3A };

#define X86_MAX_INSN_LEN 15
#define X86_NO_REG 0xff

/* Why decoding stopped short of an instruction. */
enum decode_status {
    DECODE_OK = 0,
    DECODE_UD,        /* undefined or unexposed encoding: #UD */
    DECODE_TOO_LONG,  /* more than 15 bytes: #GP(0) */
    DECODE_TRUNCATED, /* ran out of bytes (the fetch callback gave fewer) */
};

struct decoded_insn;
struct interp;
typedef void (*x86_exec_fn)(struct interp *ip, const struct decoded_insn *in);

struct decoded_insn {
    x86_exec_fn exec; /* handler chosen at decode time */
    int64_t disp;
    uint64_t imm;  /* first immediate, sign-extended to operand size where the SDM says so */
    uint16_t imm2; /* ENTER's second immediate (nesting level) */
    uint8_t len;
    uint8_t map;    /* enum x86_map */
    uint8_t opcode; /* last opcode byte */
    uint8_t modrm;
    uint8_t mod;    /* ModRM.mod; 3 = register form */
    uint8_t reg;    /* ModRM.reg + REX.R (or opcode low bits + REX.B for +r forms) */
    uint8_t rm;     /* ModRM.rm + REX.B in the register form */
    uint8_t base;   /* memory base register or X86_NO_REG */
    uint8_t index;  /* SIB index register or X86_NO_REG */
    uint8_t scale;  /* shift count 0..3 */
    uint8_t seg;    /* effective segment (enum x86_seg) */
    uint8_t seg_override; /* an explicit segment prefix was present */
    uint8_t opsize;   /* operand size in bytes: 2, 4 or 8 */
    uint8_t addrsize; /* address size in bytes: 2, 4 or 8 */
    uint8_t rex;      /* the REX byte (0 if none) */
    uint8_t rep;      /* 0, 0xF2 or 0xF3 (last one given) */
    uint8_t opsize_prefix; /* 0x66 was present */
    uint8_t lock;
    uint8_t rip_relative;
    uint8_t has_modrm;
    uint8_t mode; /* enum x86_mode decoded in */
    /* Timing (cpu/inst_class.c, set with the handler): the instruction
     * class (enum inst_class, cpu/timing.h) and, for branches, 1 + enum
     * branch_kind (0: not a predicted branch). One byte, the struct's
     * padding: the decoded-instruction cache keeps its size. */
    uint8_t iclass : 5;
    uint8_t bkind : 3;
};

/* Decodes one instruction from `bytes` (up to `avail` of them are valid).
 * Fills *in (exec left NULL: the interpreter selects it) and returns the
 * status; in->len is valid when DECODE_OK. */
enum decode_status x86_decode(const uint8_t *bytes, size_t avail, enum x86_mode mode,
                              struct decoded_insn *in);

#endif
