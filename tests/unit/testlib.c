#include "testlib.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "cpu/interp.h"
#include "mem/system.h"
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

uint8_t *test_flat_translate(void *flat, uint64_t la, unsigned access, struct interp_fault *f)
{
    const struct test_flat_mem *g = flat;
    uint64_t off = la - g->base;
    if (la >= g->base && off < g->size && !((access & ACC_WRITE) && off >= g->ro_from))
        return g->mem + off;
    f->vector = X86_PF;
    f->has_error = true;
    f->error = 4 | ((access & ACC_WRITE) ? 2 : 0);
    f->address = la;
    return NULL;
}

void test_user64_state(struct x86_state *st, uint64_t rip)
{
    st->seg[S_CS] = (struct x86_segment){.selector = 0x33, .type = 11, .s = 1, .dpl = 3, .present = 1, .l = 1};
    st->seg[S_SS] = (struct x86_segment){.selector = 0x2b, .type = 3, .s = 1, .dpl = 3, .present = 1, .db = 1};
    st->msr.efer = X86_EFER_LMA | X86_EFER_LME;
    st->rflags = X86_FLAG_FIXED;
    st->rip = rip;
}

struct sim_object *test_new_object(struct simulation *sim, const char *type, const char *path)
{
    struct sim_object *o = sim_create(sim, type, path);
    ck_assert_msg(o, "%s", err_get());
    return o;
}

void test_set_param(struct sim_object *o, const char *param, const char *value)
{
    const struct param_desc *p = sim_type_param(o->type, param);
    ck_assert_msg(p, "%s has no parameter %s", o->type->name, param);
    ck_assert_msg(param_set_text(o, p, value) == 0, "%s=%s: %s", param, value, err_get());
}

void test_set_ref(struct sim_object *o, const char *param, struct sim_object *ref)
{
    const struct param_desc *p = sim_type_param(o->type, param);
    ck_assert_msg(p, "%s has no parameter %s", o->type->name, param);
    ck_assert_msg(param_set_object(o, p, ref) == 0, "%s: %s", param, err_get());
}

static int fake_pending(void *l)
{
    return ((struct test_lapic *)l)->pending;
}
static uint8_t fake_ack(void *l)
{
    struct test_lapic *f = l;
    int v = f->pending;
    f->pending = -1;
    f->acks++;
    return v < 0 ? 0xff : (uint8_t)v;
}
static bool fake_nmi_pending(void *l)
{
    return ((struct test_lapic *)l)->nmi;
}
static void fake_nmi_ack(void *l)
{
    struct test_lapic *f = l;
    f->nmi = false;
    f->nmi_acks++;
}
static uint8_t fake_get_tpr(void *l)
{
    return ((struct test_lapic *)l)->tpr;
}
static void fake_set_tpr(void *l, uint8_t tpr)
{
    ((struct test_lapic *)l)->tpr = tpr;
}
static uint64_t fake_get_base(void *l)
{
    return ((struct test_lapic *)l)->base;
}
static bool fake_set_base(void *l, uint64_t v)
{
    ((struct test_lapic *)l)->base = v;
    return true;
}
static tick_t fake_get_deadline(void *l)
{
    return ((struct test_lapic *)l)->deadline;
}
static void fake_set_deadline(void *l, tick_t t)
{
    ((struct test_lapic *)l)->deadline = t;
}
static void fake_get_regs(void *l, uint8_t regs[LAPIC_REGS_SIZE])
{
    (void)l;
    memset(regs, 0, LAPIC_REGS_SIZE);
}
static void fake_set_regs(void *l, const uint8_t regs[LAPIC_REGS_SIZE])
{
    (void)l;
    (void)regs;
}

static const struct cpu_intr_ops fake_ops = {
    fake_pending, fake_ack,  fake_nmi_pending,   fake_nmi_ack,      fake_get_tpr,  fake_set_tpr,
    fake_get_base, fake_set_base, fake_get_deadline, fake_set_deadline, fake_get_regs, fake_set_regs,
};

static void fake_deliver(void *opaque, const struct apic_msg *msg)
{
    (void)opaque;
    (void)msg;
}
static bool fake_match(void *opaque, uint8_t mask)
{
    (void)opaque;
    return mask & 1;
}

void test_lapic_attach(struct test_lapic *l, struct system *sys)
{
    memset(l, 0, sizeof(*l));
    l->intr.ops = &fake_ops;
    l->intr.lapic = l;
    l->pending = -1;
    l->base = 0xfee00900;
    system_add_lapic(sys, 0, fake_deliver, fake_match, l, &l->intr);
}

void test_assert_corrupt_refused(struct simulation *from, struct simulation *into, const char *path,
                                 const char *prop, uint64_t value, const char *want)
{
    struct ser_node *snap = sim_serialize(from);
    struct ser_node *n = test_object_node(snap, path);
    ck_assert_msg(n, "no checkpoint node %s", path);
    ser_put_u64(n, prop, value);
    ck_assert_int_eq(sim_unserialize(into, snap), -1);
    ck_assert_msg(strstr(err_get(), want) != NULL, "refused with '%s', want '%s'", err_get(), want);
    ser_node_free(snap);
    sim_destroy(from);
    sim_destroy(into);
}
