/* Tags a decoded instruction with its timing class and branch kind
 * (decoded_insn.iclass/bkind; cpu/inst_class.c). */
#ifndef TANDEM_CPU_INST_CLASS_H
#define TANDEM_CPU_INST_CLASS_H

#include "cpu/decode.h"

void x86_classify(struct decoded_insn *in);

#endif
