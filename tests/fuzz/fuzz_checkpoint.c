/* Fuzz target for the checkpoint readers: the first input byte picks the
 * object-tree reader (even) or the memory-file decoder (odd). Built as a
 * libFuzzer binary with -DTANDEM_FUZZ=ON (clang), and always as a corpus
 * replayer run by ctest so every saved input stays a regression test. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "checkpoint/checkpoint.h"
#include "sim/serialize.h"
#include "sim/sim.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if ((data[0] & 1) == 0) {
        struct ser_node *root = fdt_to_ser(data + 1, size - 1);
        if (root) {
            /* A tree that parses must also be safe to restore from. */
            struct simulation sim;
            sim_init(&sim);
            sim_create(&sim, "System", "system");
            sim.instantiated = false;
            if (sim_instantiate(&sim) == 0)
                sim_unserialize(&sim, root);
            sim_destroy(&sim);
            ser_node_free(root);
        }
    } else {
        static uint8_t mem[16 * 4096];
        memfile_decode(data + 1, size - 1, mem, sizeof(mem), "fuzz");
    }
    return 0;
}

#ifndef TANDEM_LIBFUZZER
#include "sim/util.h"
int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        size_t len;
        uint8_t *d = read_whole_file(argv[i], &len);
        if (!d) {
            fprintf(stderr, "cannot read %s\n", argv[i]);
            return 1;
        }
        LLVMFuzzerTestOneInput(d, len);
        free(d);
    }
    printf("replayed %d inputs\n", argc - 1);
    return 0;
}
#endif
