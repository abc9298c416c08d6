/* Checkpoint directories: round trip of tree and RAM, atomic writes, and
 * refusal of damaged or mismatched checkpoints with a message naming the
 * problem. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checkpoint/checkpoint.h"
#include "mem/system.h"
#include "sim/serialize.h"
#include "sim/util.h"
#include "testlib.h"

static char *dir;

static void setup(void)
{
    dir = test_tmpdir();
}

static struct system *machine(struct simulation *sim, const char *mem)
{
    sim_init(sim);
    struct sim_object *o = sim_create(sim, "System", "system");
    ck_assert(o);
    ck_assert_int_eq(param_set_text(o, sim_type_param(o->type, "mem_size"), mem), 0);
    ck_assert_int_eq(sim_instantiate(sim), 0);
    return SIM_CAST(struct system, o);
}

static void fill(struct system *s, unsigned seed)
{
    srand(seed);
    uint8_t *ram = s->ram[0].host;
    /* Every third page of the first 64 MiB chunk holds data; the rest,
     * including whole chunks, stays zero and is skipped. */
    for (uint64_t page = 0; page < (64 << 20) / 4096 && page < s->ram[0].size / 4096; page += 3)
        for (int i = 0; i < 64; i++)
            ram[page * 4096 + (uint64_t)(rand() % 4096)] = (uint8_t)(rand() | 1);
}

static char *ckpt_path(const char *name)
{
    return path_join(dir, name);
}

START_TEST(test_round_trip)
{
    struct simulation a, b;
    struct system *sa = machine(&a, "96M"), *sb = machine(&b, "96M");
    fill(sa, 1);
    fill(sb, 2);
    sa->resets_requested = 5;
    sim_run(&a, 12345);
    a.eq.now = 12345;
    char *p = ckpt_path("ck1");
    ck_assert_msg(checkpoint_save(&a, p) == 0, "%s", err_get());
    /* Lazy (userfaultfd, where available): the comparison itself faults
     * blocks in while the loader works through the rest. */
    ck_assert_msg(checkpoint_restore_mode(&b, p, true) == 0, "%s", err_get());
    ck_assert_uint_eq(sim_now(&b), 12345);
    ck_assert_uint_eq(sb->resets_requested, 5);
    ck_assert(memcmp(sa->ram[0].host, sb->ram[0].host, sa->ram[0].size) == 0);
    ck_assert_int_eq(checkpoint_wait(), 0);
    ck_assert(memcmp(sa->ram[0].host, sb->ram[0].host, sa->ram[0].size) == 0);
    /* Eager, over RAM that differs again. */
    fill(sb, 4);
    ck_assert_msg(checkpoint_restore_mode(&b, p, false) == 0, "%s", err_get());
    ck_assert(memcmp(sa->ram[0].host, sb->ram[0].host, sa->ram[0].size) == 0);
    struct ser_node *ta = sim_serialize(&a), *tb = sim_serialize(&b);
    ck_assert(ser_node_equal(ta, tb));
    ser_node_free(ta);
    ser_node_free(tb);
    /* Two 64 MiB chunks, the tree and the config; nothing else. */
    char *f = path_join(p, "mem-0-1.zpg");
    ck_assert_int_eq(access(f, R_OK), 0);
    free(f);
    f = path_join(p, "config.json");
    ck_assert_int_eq(access(f, R_OK), 0);
    free(f);
    /* dtc reads the tree. */
    char *cmd;
    ck_assert(asprintf(&cmd, "dtc -I dtb -O dts %s/tree.dtb 2>&1 | grep -q 'format-version'", p) > 0);
    ck_assert_msg(system(cmd) == 0, "dtc could not read the tree (is device-tree-compiler installed?)");
    free(cmd);
    /* An existing directory is never overwritten. */
    ck_assert_int_eq(checkpoint_save(&a, p), -1);
    ck_assert(strstr(err_get(), "already exists"));
    free(p);
    sim_destroy(&a);
    sim_destroy(&b);
}
END_TEST

START_TEST(test_unwritable_leaves_nothing)
{
    struct simulation a;
    machine(&a, "32M");
    char *ro = ckpt_path("ro");
    ck_assert_int_eq(mkdir(ro, 0555), 0);
    char *p = path_join(ro, "ck");
    int rc = checkpoint_save(&a, p);
    if (geteuid() == 0) {
        /* root ignores directory permissions; use a path under a file. */
        char *file = write_temp_file(dir, "plainfile", "x");
        free(p);
        p = path_join(file, "ck");
        free(file);
        rc = checkpoint_save(&a, p);
    }
    ck_assert_int_eq(rc, -1);
    ck_assert(strstr(err_get(), "cannot create"));
    ck_assert_int_ne(access(p, F_OK), 0);
    free(p);
    free(ro);
    sim_destroy(&a);
}
END_TEST

static char *saved(void)
{
    struct simulation a;
    struct system *s = machine(&a, "32M");
    fill(s, 3);
    char *p = ckpt_path("base");
    if (access(p, F_OK) != 0)
        ck_assert_msg(checkpoint_save(&a, p) == 0, "%s", err_get());
    sim_destroy(&a);
    return p;
}

static void expect_restore_error(const char *ck, const char *mem, const char *needle)
{
    struct simulation b;
    machine(&b, mem);
    ck_assert_int_eq(checkpoint_restore(&b, ck), -1);
    ck_assert_msg(strstr(err_get(), needle), "expected '%s' in: %s", needle, err_get());
    ck_assert_msg(!b.exit_requested, "refused before the machine changed");
    sim_destroy(&b);
}

static void poke(const char *path, long offset, int byte)
{
    FILE *f = fopen(path, "r+b");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fseek(f, offset, offset < 0 ? SEEK_END : SEEK_SET), 0);
    fputc(byte, f);
    fclose(f);
}

static char *copy_ckpt(const char *src, const char *name)
{
    char *dst = ckpt_path(name), *cmd;
    ck_assert(asprintf(&cmd, "rm -rf %s && cp -r %s %s", dst, src, dst) > 0);
    ck_assert_int_eq(system(cmd), 0);
    free(cmd);
    return dst;
}

START_TEST(test_damaged_checkpoints_refused)
{
    char *base = saved();
    expect_restore_error(base, "64M", "different mem_size");
    expect_restore_error("/nonexistent/ck", "32M", "is not a tandem checkpoint");

    char *t = copy_ckpt(base, "trunc");
    char *tree = path_join(t, "tree.dtb");
    ck_assert_int_eq(truncate(tree, 100), 0);
    expect_restore_error(t, "32M", "not a valid device tree blob");
    free(tree);
    free(t);

    /* A damaged block: found before the machine runs (eager), or when the
     * loader reaches it, which stops the run naming file and offset (lazy). */
    t = copy_ckpt(base, "flip");
    char *mem = path_join(t, "mem-0-0.zpg");
    poke(mem, -20, 0x5a);
    struct simulation b;
    machine(&b, "32M");
    ck_assert_int_eq(checkpoint_restore_mode(&b, t, false), -1);
    ck_assert_msg(strstr(err_get(), "mem-0-0.zpg: block ") && strstr(err_get(), "corrupted"),
                  "%s", err_get());
    ck_assert_msg(b.exit_requested && b.exit_code == 1, "a half-restored machine must not run");
    sim_destroy(&b);
    machine(&b, "32M");
    ck_assert_msg(checkpoint_restore_mode(&b, t, true) == 0, "%s", err_get());
    ck_assert_int_eq(checkpoint_wait(), -1);
    ck_assert_msg(strstr(err_get(), "failed while loading guest RAM") &&
                  strstr(err_get(), "mem-0-0.zpg: block ") && strstr(err_get(), "file offset"),
                  "%s", err_get());
    ck_assert_msg(sim_stop_requested, "the run must stop after a lazy-load failure");
    sim_stop_requested = 0;
    sim_destroy(&b);
    /* The bitmap and index are checked before anything changes. */
    char *hdr = copy_ckpt(base, "hdr"), *hmem = path_join(hdr, "mem-0-0.zpg");
    poke(hmem, 40, 0xff);
    expect_restore_error(hdr, "32M", "header checksum mismatch");
    free(hmem);
    free(hdr);
    hdr = copy_ckpt(base, "tail");
    hmem = path_join(hdr, "mem-0-0.zpg");
    struct stat st;
    ck_assert_int_eq(stat(hmem, &st), 0);
    ck_assert_int_eq(truncate(hmem, st.st_size - 1), 0);
    expect_restore_error(hdr, "32M", "truncated");
    free(hmem);
    free(hdr);
    ck_assert_int_eq(truncate(mem, 10), 0);
    expect_restore_error(t, "32M", "not a tandem memory file");
    unlink(mem);
    expect_restore_error(t, "32M", "memory chunk mem-0-0.zpg is missing");
    free(mem);
    free(t);

    /* A future format version is refused by name. */
    t = copy_ckpt(base, "ver");
    tree = path_join(t, "tree.dtb");
    size_t len;
    void *blob = read_whole_file(tree, &len);
    struct ser_node *root = fdt_to_ser(blob, len);
    ck_assert_ptr_nonnull(root);
    ser_put_u64(ser_find_child(root, "checkpoint"), "format-version", 99);
    free(blob);
    blob = ser_to_fdt(root, &len);
    FILE *f = fopen(tree, "wb");
    fwrite(blob, len, 1, f);
    fclose(f);
    expect_restore_error(t, "32M", "format version 99; this tandem reads version 2");
    free(blob);
    ser_node_free(root);
    free(tree);
    free(t);
    free(base);
}
END_TEST

START_TEST(test_missing_device_refused)
{
    char *base = saved();
    struct simulation b;
    sim_init(&b);
    ck_assert(sim_create(&b, "System", "system"));
    ck_assert_int_eq(param_set_text(sim_find(&b, "system"),
                                    sim_type_param(sim_type_find("System"), "mem_size"), "32M"), 0);
    ck_assert(sim_create(&b, "System", "extra"));
    ck_assert_int_eq(sim_instantiate(&b), 0);
    ck_assert_int_eq(checkpoint_restore(&b, base), -1);
    ck_assert_msg(strstr(err_get(), "no state for 'extra'"), "%s", err_get());
    ck_assert(!b.exit_requested);
    sim_destroy(&b);
    free(base);
}
END_TEST

START_TEST(test_info_command)
{
    char *base = saved(), *out;
    ck_assert_int_eq(run_tandem(&out, "checkpoint info %s", base), 0);
    ck_assert_msg(strstr(out, "format version 2"), "%s", out);
    ck_assert_msg(strstr(out, "system                           System"), "%s", out);
    ck_assert_msg(strstr(out, "total 32 MiB of RAM"), "%s", out);
    free(out);
    ck_assert_int_eq(run_tandem(&out, "checkpoint info /nonexistent"), 1);
    ck_assert(strstr(out, "not a tandem checkpoint"));
    free(out);
    ck_assert_int_eq(run_tandem(&out, "checkpoint"), 2);
    free(out);
    free(base);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("checkpoint");
    TCase *tc = tcase_create("checkpoint");
    tcase_set_timeout(tc, 120);
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, test_round_trip);
    tcase_add_test(tc, test_unwritable_leaves_nothing);
    tcase_add_test(tc, test_damaged_checkpoints_refused);
    tcase_add_test(tc, test_missing_device_refused);
    tcase_add_test(tc, test_info_command);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
