#include "testlib.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "sim/log.h"
#include "sim/serialize.h"

int run_suite(Suite *s)
{
    log_set_quiet(true);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

char *test_tmpdir(void)
{
    char *tmpl = strdup("/tmp/tandem-test-XXXXXX");
    if (!mkdtemp(tmpl))
        abort();
    return tmpl;
}

int run_tandem(char **out, const char *args_fmt, ...)
{
    const char *bin = getenv("TANDEM_BINARY");
    ck_assert_msg(bin != NULL, "TANDEM_BINARY not set (run through ctest)");
    char *args, *cmd;
    va_list ap;
    va_start(ap, args_fmt);
    if (vasprintf(&args, args_fmt, ap) < 0)
        abort();
    va_end(ap);
    if (asprintf(&cmd, "%s %s 2>&1", bin, args) < 0)
        abort();
    FILE *p = popen(cmd, "r");
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    size_t got;
    while ((got = fread(buf + n, 1, cap - n - 1, p)) > 0) {
        n += got;
        if (n + 1 == cap)
            buf = realloc(buf, cap *= 2);
    }
    buf[n] = '\0';
    int status = pclose(p);
    free(args);
    free(cmd);
    *out = buf;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

char *write_temp_file(const char *dir, const char *name, const char *text)
{
    char *path;
    if (asprintf(&path, "%s/%s", dir, name) < 0)
        abort();
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    return path;
}

void test_gsi_sink_fn(void *opaque, unsigned gsi, bool level)
{
    struct test_gsi_sink *s = opaque;
    ck_assert_uint_lt(gsi, PC_IOAPIC_PINS);
    if (level && !s->level[gsi])
        s->rises[gsi]++;
    s->level[gsi] = level;
}

void test_assert_same_state(struct simulation *a, struct simulation *b)
{
    struct ser_node *na = sim_serialize(a), *nb = sim_serialize(b);
    char diff[512];
    bool differ = ser_node_diff(na, nb, diff, sizeof(diff));
    ser_node_free(na);
    ser_node_free(nb);
    ck_assert_msg(!differ, "%s", diff);
}

struct ser_node *test_object_node(struct ser_node *root, const char *path)
{
    struct ser_node *n = ser_find_child(root, "objects");
    char *copy = strdup(path);
    for (char *save = NULL, *tok = strtok_r(copy, ".", &save); tok && n;
         tok = strtok_r(NULL, ".", &save))
        n = ser_find_child(n, tok);
    free(copy);
    return n;
}
