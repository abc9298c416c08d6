#include "kvm_testlib.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sim/log.h"
#include "testlib.h"

bool kvm_usable(void)
{
    int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        printf("SKIPPED: cannot open /dev/kvm: %s\n", strerror(errno));
        fflush(stdout);
        return false;
    }
    close(fd);
    return true;
}

static uint64_t io_read(void *opaque, uint64_t off, unsigned size, bool mmio)
{
    struct test_io_log *log = opaque;
    uint64_t val = mmio ? 0x55aa55aa : 0xabcd1234;
    val &= size == 8 ? ~0ull : (1ull << (8 * size)) - 1;
    if (log->n < 64)
        log->ops[log->n++] = (typeof(log->ops[0])){mmio, false, off, val, size};
    return val;
}

static void io_write(void *opaque, uint64_t off, uint64_t val, unsigned size, bool mmio)
{
    struct test_io_log *log = opaque;
    if (log->n < 64)
        log->ops[log->n++] = (typeof(log->ops[0])){mmio, true, off, val, size};
}

static uint64_t pio_read(void *o, uint64_t off, unsigned size)
{
    return io_read(o, off, size, false);
}
static void pio_write(void *o, uint64_t off, uint64_t val, unsigned size)
{
    io_write(o, off, val, size, false);
}
static uint64_t mmio_read(void *o, uint64_t off, unsigned size)
{
    return io_read(o, off, size, true);
}
static void mmio_write(void *o, uint64_t off, uint64_t val, unsigned size)
{
    io_write(o, off, val, size, true);
}

static const struct io_ops test_pio_ops = {pio_read, pio_write};
static const struct io_ops test_mmio_ops = {mmio_read, mmio_write};

void machine_init(struct kvm_machine *m, bool lapic)
{
    machine_init_engine(m, lapic, "kvm");
}

void machine_init_engine(struct kvm_machine *m, bool lapic, const char *engine)
{
    memset(m, 0, sizeof(*m));
    sim_init(&m->sim);
    log_set_quiet(true);
    struct sim_object *s = sim_create(&m->sim, "System", "system");
    ck_assert_ptr_nonnull(s);
    ck_assert_int_eq(param_set_text(s, sim_type_param(s->type, "mem_size"), "32M"), 0);
    struct sim_object *c = sim_create(&m->sim, "CPU", "system.cpu0");
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(param_set_text(c, sim_type_param(c->type, "engine"), engine), 0);
    m->sys = SIM_CAST(struct system, s);
    m->cpu = SIM_CAST(struct cpu, c);
    if (lapic) {
        test_lapic_attach(&m->lapic, m->sys);
    }
    ck_assert_msg(sim_instantiate(&m->sim) == 0, "instantiate: %s", err_get());
    ck_assert_int_eq(bus_map_pio(&m->sys->bus, TEST_PORT, 4, &test_pio_ops, &m->io, "test-pio"), 0);
    ck_assert_int_eq(
        bus_map_mmio(&m->sys->bus, TEST_MMIO, 0x1000, &test_mmio_ops, &m->io, "test-mmio"), 0);
}

void machine_destroy(struct kvm_machine *m)
{
    sim_destroy(&m->sim);
}

uint8_t *guest_ptr(struct kvm_machine *m, uint64_t gpa)
{
    uint8_t *p = bus_ram_ptr(&m->sys->bus, gpa, 1);
    ck_assert_ptr_nonnull(p);
    return p;
}

static void put64(struct kvm_machine *m, uint64_t gpa, uint64_t v)
{
    memcpy(guest_ptr(m, gpa), &v, 8);
}

void machine_set_gate(struct kvm_machine *m, unsigned vector, size_t handler_offset)
{
    uint64_t h = TEST_CODE + handler_offset;
    uint64_t lo = (h & 0xffff) | (0x10ull << 16) | (0x8eull << 40) | ((h >> 16 & 0xffff) << 48);
    put64(m, TEST_IDT + vector * 16, lo);
    put64(m, TEST_IDT + vector * 16 + 8, h >> 32);
}

void machine_load_long_mode(struct kvm_machine *m, const uint8_t *code, size_t len,
                            size_t entry_offset, size_t handler_offset)
{
    memcpy(guest_ptr(m, TEST_CODE), code, len);
    /* Identity map of 4 GiB with 2 MiB pages: PML4 -> PDPT -> 4 PDs. */
    uint64_t pdpt = TEST_PML4 + 0x1000, pd = TEST_PML4 + 0x2000;
    put64(m, TEST_PML4, pdpt | 3);
    for (uint64_t i = 0; i < 4; i++) {
        put64(m, pdpt + 8 * i, (pd + 0x1000 * i) | 3);
        for (uint64_t j = 0; j < 512; j++)
            put64(m, pd + 0x1000 * i + 8 * j, ((i << 30) | (j << 21)) | 0x83);
    }
    /* GDT: null, null, 64-bit code (0x10), data (0x18). */
    put64(m, 0x500, 0);
    put64(m, 0x508, 0);
    put64(m, 0x510, 0x00af9b000000ffffULL);
    put64(m, 0x518, 0x00cf93000000ffffULL);
    /* IDT pseudo-descriptor for the guest's LIDT, and one 64-bit interrupt gate. */
    uint16_t limit = 256 * 16 - 1;
    memcpy(guest_ptr(m, TEST_IDT_PTR), &limit, 2);
    put64(m, TEST_IDT_PTR + 2, TEST_IDT);
    if (handler_offset)
        machine_set_gate(m, TEST_INTR_VECTOR, handler_offset);
    struct x86_state st;
    x86_state_reset(&st);
    x86_state_long_mode(&st, TEST_PML4, TEST_CODE + entry_offset, TEST_STACK);
    st.gdtr.base = 0x500;
    st.gdtr.limit = 0x1f;
    cpu_set_state(m->cpu, &st);
}

struct capture {
    int saved_fd;
    FILE *tmp;
};

char *capture_stderr_begin(void)
{
    struct capture *c = calloc(1, sizeof(*c));
    fflush(stderr);
    c->tmp = tmpfile();
    c->saved_fd = dup(2);
    dup2(fileno(c->tmp), 2);
    return (char *)c;
}

char *capture_stderr_end(char *state)
{
    struct capture *c = (struct capture *)state;
    fflush(stderr);
    dup2(c->saved_fd, 2);
    close(c->saved_fd);
    long len = ftell(c->tmp);
    char *text = calloc(1, (size_t)len + 1);
    rewind(c->tmp);
    size_t got = fread(text, 1, (size_t)len, c->tmp);
    text[got] = 0;
    fclose(c->tmp);
    free(c);
    fputs(text, stderr); /* keep it visible in the test log */
    return text;
}
