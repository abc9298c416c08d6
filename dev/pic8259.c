/* The PC's two cascaded 8259A programmable interrupt controllers, following
 * the Intel 8259A datasheet (order 231468), with the edge/level control
 * registers (ELCR) of the PIIX/ICH south bridges at 0x4D0/0x4D1.
 *
 * Master at 0x20/0x21 handles ISA IRQ 0-7, slave at 0xA0/0xA1 IRQ 8-15; the
 * slave's INT output drives master IR2. Inputs arrive as GSIs from
 * system_set_irq: GSI n < 16 is ISA IRQ n, except that the PIT's IRQ 0 is
 * delivered as GSI 2 (PC_GSI_PIT, the MADT interrupt source override), so
 * this controller maps GSI 2 back to IRQ 0. GSI 0 is not an ISA line (IRQ 2
 * is the cascade) and is ignored here.
 *
 * The master's INT output is the INTR pin; see dev/pic8259.h for how a
 * LAPIC in ExtINT mode consumes it. */
#include "dev/pic8259.h"

#include <string.h>

#include "mem/pc_layout.h"
#include "mem/system.h"
#include "sim/log.h"
#include "sim/serialize.h"
#include "sim/sim.h"

DEBUG_FLAG_DEFINE(Pic, "8259A interrupt controllers: init, masks, EOIs, acknowledges");

#define PIC_CASCADE_IR 2
#define PIC_SPURIOUS_IR 7
/* PIIX: IRQ 0, 1, 2, 8 and 13 are always edge triggered. */
#define ELCR_MASTER_WRITABLE 0xf8
#define ELCR_SLAVE_WRITABLE 0xde

/* ICW1/OCW bits from the datasheet. */
#define ICW1_IC4 0x01
#define ICW1_SNGL 0x02
#define ICW1_LTIM 0x08
#define ICW4_UPM 0x01
#define ICW4_AEOI 0x02
#define ICW4_SFNM 0x10
#define OCW3_RIS 0x01
#define OCW3_RR 0x02
#define OCW3_POLL 0x04
#define OCW3_SMM 0x20
#define OCW3_ESMM 0x40

enum icw_step { ICW_DONE = 0, ICW_EXPECT_2, ICW_EXPECT_3, ICW_EXPECT_4 };

struct pic_chip {
    uint8_t irr, isr, imr;
    uint8_t lines;        /* current input levels */
    uint8_t elcr;         /* 1 = level-triggered input */
    uint8_t vector_base;  /* ICW2 & 0xf8 */
    uint8_t icw1, icw3, icw4;
    uint8_t icw_step;     /* enum icw_step */
    uint8_t lowest_prio;  /* IR with the lowest priority (rotation) */
    uint8_t read_isr;     /* OCW3: port 0 reads ISR instead of IRR */
    uint8_t poll;         /* OCW3 poll command pending for the next read */
    uint8_t special_mask;
    uint8_t rotate_on_aeoi;
};

struct pic8259 {
    struct sim_object obj;
    struct pic_chip chip[2]; /* 0 master, 1 slave */
    uint8_t intr;            /* master INT output as last computed */
    void (*notify)(void *opaque, bool level);
    void *notify_opaque;

    uint64_t acks, spurious_acks, eois, icw_inits;
};

static bool chip_level(const struct pic_chip *c, unsigned ir)
{
    return (c->icw1 & ICW1_LTIM) || (c->elcr >> ir & 1);
}

/* Priority rank of ir: 0 highest. */
static unsigned prio_rank(const struct pic_chip *c, unsigned ir)
{
    return (ir - c->lowest_prio - 1) & 7;
}

/* Highest-priority IR set in bits, or -1. */
static int highest(const struct pic_chip *c, uint8_t bits)
{
    for (unsigned rank = 0; rank < 8; rank++) {
        unsigned ir = (c->lowest_prio + 1 + rank) & 7;
        if (bits >> ir & 1)
            return (int)ir;
    }
    return -1;
}

/* The IR that would be delivered now, or -1. In-service IRs of equal or
 * higher priority block a request, except in special mask mode (only
 * masked-off ISR bits are ignored, per datasheet) and, on the master in
 * special fully nested mode, the cascade IR's own ISR bit. */
static int chip_pending(const struct pic_chip *c, bool master)
{
    int req = highest(c, c->irr & ~c->imr);
    if (req < 0)
        return -1;
    uint8_t blocking = c->isr;
    if (c->special_mask)
        blocking &= ~c->imr;
    if (master && (c->icw4 & ICW4_SFNM))
        blocking &= ~(1u << PIC_CASCADE_IR);
    int svc = highest(c, blocking);
    if (svc >= 0 && prio_rank(c, (unsigned)svc) <= prio_rank(c, (unsigned)req))
        return -1;
    return req;
}

static void chip_set_line(struct pic_chip *c, unsigned ir, bool level)
{
    uint8_t bit = 1u << ir;
    if (chip_level(c, ir)) {
        c->irr = level ? c->irr | bit : c->irr & ~bit;
    } else if (level && !(c->lines & bit)) {
        c->irr |= bit;
    }
    c->lines = level ? c->lines | bit : c->lines & ~bit;
}

/* Recomputes the cascade (slave INT -> master IR2, level-sensitive so no
 * slave request is lost to edge timing) and the INTR output. */
static void pic_update(struct pic8259 *p)
{
    struct pic_chip *m = &p->chip[0];
    bool slave_int = chip_pending(&p->chip[1], false) >= 0;
    uint8_t bit = 1u << PIC_CASCADE_IR;
    m->irr = slave_int ? m->irr | bit : m->irr & ~bit;
    m->lines = slave_int ? m->lines | bit : m->lines & ~bit;
    bool intr = chip_pending(m, true) >= 0;
    if (intr != p->intr) {
        p->intr = intr;
        DPRINTF(Pic, &p->obj, "INTR %s", intr ? "raised" : "lowered");
        if (p->notify)
            p->notify(p->notify_opaque, intr);
    }
}

static void pic_irq_sink(void *opaque, unsigned gsi, bool level)
{
    struct pic8259 *p = opaque;
    if (gsi == 0 || gsi >= 16)
        return;
    unsigned irq = gsi == PC_GSI_PIT ? PC_IRQ_PIT : gsi;
    if (irq == PIC_CASCADE_IR)
        return;
    chip_set_line(&p->chip[irq >> 3], irq & 7, level);
    pic_update(p);
}

static void chip_eoi(struct pic_chip *c, int ir, bool rotate)
{
    if (ir < 0)
        return;
    c->isr &= ~(1u << ir);
    if (rotate)
        c->lowest_prio = (uint8_t)ir;
}

/* INTA on one chip: returns the IR taken (PIC_SPURIOUS_IR when nothing). */
static unsigned chip_ack(struct pic_chip *c, bool master, bool *spurious)
{
    int ir = chip_pending(c, master);
    *spurious = ir < 0;
    if (ir < 0)
        return PIC_SPURIOUS_IR;
    uint8_t bit = 1u << ir;
    if (c->icw4 & ICW4_AEOI) {
        if (c->rotate_on_aeoi)
            c->lowest_prio = (uint8_t)ir;
    } else {
        c->isr |= bit;
    }
    if (!chip_level(c, (unsigned)ir))
        c->irr &= ~bit;
    return (unsigned)ir;
}

static uint8_t pic_do_ack(struct pic8259 *p)
{
    bool spurious;
    unsigned ir = chip_ack(&p->chip[0], true, &spurious);
    uint8_t vector;
    if (!spurious && ir == PIC_CASCADE_IR) {
        unsigned sir = chip_ack(&p->chip[1], false, &spurious);
        vector = p->chip[1].vector_base + sir;
    } else {
        vector = p->chip[0].vector_base + ir;
    }
    p->acks++;
    if (spurious)
        p->spurious_acks++;
    DPRINTF(Pic, &p->obj, "INTA -> vector 0x%02x%s", vector, spurious ? " (spurious)" : "");
    pic_update(p);
    return vector;
}

int pic8259_pending_vector(struct sim_object *o)
{
    struct pic8259 *p = SIM_CAST(struct pic8259, o);
    int ir = chip_pending(&p->chip[0], true);
    if (ir < 0)
        return -1;
    if (ir == PIC_CASCADE_IR) {
        int sir = chip_pending(&p->chip[1], false);
        return p->chip[1].vector_base + (sir < 0 ? PIC_SPURIOUS_IR : sir);
    }
    return p->chip[0].vector_base + ir;
}

uint8_t pic8259_ack(struct sim_object *o)
{
    return pic_do_ack(SIM_CAST(struct pic8259, o));
}

bool pic8259_intr(struct sim_object *o)
{
    return SIM_CAST(struct pic8259, o)->intr;
}

void pic8259_set_intr_notify(struct sim_object *o, void (*fn)(void *opaque, bool level),
                             void *opaque)
{
    struct pic8259 *p = SIM_CAST(struct pic8259, o);
    p->notify = fn;
    p->notify_opaque = opaque;
}

/* The poll command (OCW3 P): the next read of port 0 is an INTA returning
 * 0x80 | IR, or 0 when nothing is pending. */
static uint8_t chip_poll(struct pic8259 *p, unsigned which)
{
    struct pic_chip *c = &p->chip[which];
    c->poll = 0;
    bool spurious;
    unsigned ir = chip_ack(c, which == 0, &spurious);
    if (which == 0 && !spurious && ir == PIC_CASCADE_IR)
        chip_ack(&p->chip[1], false, &spurious);
    pic_update(p);
    return spurious ? 0 : (uint8_t)(0x80 | ir);
}

static void chip_write_icw1(struct pic8259 *p, struct pic_chip *c, uint8_t v)
{
    uint8_t elcr = c->elcr, lines = c->lines;
    memset(c, 0, sizeof(*c));
    c->elcr = elcr;
    c->lines = lines; /* the edge detector needs a fresh rising edge */
    c->icw1 = v;
    c->lowest_prio = 7;
    c->icw_step = ICW_EXPECT_2;
    for (unsigned ir = 0; ir < 8; ir++)
        if (chip_level(c, ir) && (lines >> ir & 1))
            c->irr |= 1u << ir;
    p->icw_inits++;
}

static void chip_write_ocw2(struct pic_chip *c, uint8_t v)
{
    unsigned level = v & 7;
    switch (v >> 5) {
    case 1: /* non-specific EOI */
        chip_eoi(c, highest(c, c->isr), false);
        break;
    case 3: /* specific EOI */
        chip_eoi(c, (int)level, false);
        break;
    case 5: /* rotate on non-specific EOI */
        chip_eoi(c, highest(c, c->isr), true);
        break;
    case 7: /* rotate on specific EOI */
        chip_eoi(c, (int)level, true);
        break;
    case 4:
        c->rotate_on_aeoi = 1;
        break;
    case 0:
        c->rotate_on_aeoi = 0;
        break;
    case 6: /* set priority: level becomes the lowest */
        c->lowest_prio = (uint8_t)level;
        break;
    default: /* 2: no operation */
        break;
    }
}

static void chip_write(struct pic8259 *p, unsigned which, unsigned port, uint8_t v)
{
    struct pic_chip *c = &p->chip[which];
    if (port == 0) {
        if (v & 0x10) {
            chip_write_icw1(p, c, v);
            DPRINTF(Pic, &p->obj, "%s ICW1 0x%02x", which ? "slave" : "master", v);
        } else if (v & 0x08) {
            if (v & OCW3_POLL)
                c->poll = 1;
            if (v & OCW3_RR)
                c->read_isr = v & OCW3_RIS;
            if (v & OCW3_ESMM)
                c->special_mask = (v & OCW3_SMM) ? 1 : 0;
        } else {
            if ((v >> 5) == 1 || (v >> 5) == 3 || (v >> 5) == 5 || (v >> 5) == 7)
                p->eois++;
            chip_write_ocw2(c, v);
            DPRINTF(Pic, &p->obj, "%s OCW2 0x%02x isr now 0x%02x", which ? "slave" : "master",
                    v, c->isr);
        }
    } else {
        switch (c->icw_step) {
        case ICW_EXPECT_2:
            c->vector_base = v & 0xf8;
            c->icw_step = (c->icw1 & ICW1_SNGL) ? ((c->icw1 & ICW1_IC4) ? ICW_EXPECT_4 : ICW_DONE)
                                                : ICW_EXPECT_3;
            break;
        case ICW_EXPECT_3:
            c->icw3 = v;
            c->icw_step = (c->icw1 & ICW1_IC4) ? ICW_EXPECT_4 : ICW_DONE;
            break;
        case ICW_EXPECT_4:
            c->icw4 = v;
            c->icw_step = ICW_DONE;
            if (!(v & ICW4_UPM))
                DPRINTF(Pic, &p->obj, "%s ICW4 selects 8080 mode; vectors are still 8086-style",
                        which ? "slave" : "master");
            break;
        default:
            c->imr = v;
            DPRINTF(Pic, &p->obj, "%s IMR 0x%02x", which ? "slave" : "master", v);
            break;
        }
    }
    pic_update(p);
}

static uint8_t chip_read(struct pic8259 *p, unsigned which, unsigned port)
{
    struct pic_chip *c = &p->chip[which];
    if (c->poll)
        return chip_poll(p, which);
    if (port == 0)
        return c->read_isr ? c->isr : c->irr;
    return c->imr;
}

/* Wider accesses behave as consecutive byte accesses, as on an ISA bus. */
static uint64_t pic_master_read(void *opaque, uint64_t off, unsigned size)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < size; i++)
        v |= (uint64_t)chip_read(opaque, 0, (unsigned)(off + i)) << (8 * i);
    return v;
}

static void pic_master_write(void *opaque, uint64_t off, uint64_t val, unsigned size)
{
    for (unsigned i = 0; i < size; i++)
        chip_write(opaque, 0, (unsigned)(off + i), (uint8_t)(val >> (8 * i)));
}

static uint64_t pic_slave_read(void *opaque, uint64_t off, unsigned size)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < size; i++)
        v |= (uint64_t)chip_read(opaque, 1, (unsigned)(off + i)) << (8 * i);
    return v;
}

static void pic_slave_write(void *opaque, uint64_t off, uint64_t val, unsigned size)
{
    for (unsigned i = 0; i < size; i++)
        chip_write(opaque, 1, (unsigned)(off + i), (uint8_t)(val >> (8 * i)));
}

static uint64_t elcr_read(void *opaque, uint64_t off, unsigned size)
{
    struct pic8259 *p = opaque;
    uint64_t v = 0;
    for (unsigned i = 0; i < size; i++)
        v |= (uint64_t)p->chip[off + i].elcr << (8 * i);
    return v;
}

static void elcr_write(void *opaque, uint64_t off, uint64_t val, unsigned size)
{
    struct pic8259 *p = opaque;
    for (unsigned i = 0; i < size; i++) {
        struct pic_chip *c = &p->chip[off + i];
        c->elcr = (uint8_t)(val >> (8 * i)) & (off + i ? ELCR_SLAVE_WRITABLE : ELCR_MASTER_WRITABLE);
        /* A level-sensitive input's IRR follows its line from now on. */
        for (unsigned ir = 0; ir < 8; ir++)
            if (chip_level(c, ir))
                c->irr = (c->lines >> ir & 1) ? c->irr | 1u << ir : c->irr & ~(1u << ir);
    }
    pic_update(p);
}

static const struct io_ops pic_master_ops = {pic_master_read, pic_master_write};
static const struct io_ops pic_slave_ops = {pic_slave_read, pic_slave_write};
static const struct io_ops elcr_ops = {elcr_read, elcr_write};

static int pic_init(struct sim_object *o)
{
    struct pic8259 *p = SIM_CAST(struct pic8259, o);
    struct system *sys = system_of(o);
    if (!sys) {
        err_set("%s: a PIC8259 must be placed under the System object", o->path);
        return -1;
    }
    for (unsigned i = 0; i < 2; i++) {
        p->chip[i].lowest_prio = 7;
        p->chip[i].imr = 0xff; /* masked until the guest initializes it */
    }
    if (bus_map_pio(&sys->bus, PC_PORT_PIC_MASTER, 2, &pic_master_ops, p, "pic-master") < 0 ||
        bus_map_pio(&sys->bus, PC_PORT_PIC_SLAVE, 2, &pic_slave_ops, p, "pic-slave") < 0 ||
        bus_map_pio(&sys->bus, PC_PORT_ELCR, 2, &elcr_ops, p, "elcr") < 0)
        return -1;
    system_add_irq_sink(sys, pic_irq_sink, p);
    stats_add_counter(o, "acks", &p->acks, "count", "Interrupt acknowledge cycles (INTA and poll)");
    stats_add_counter(o, "spuriousAcks", &p->spurious_acks, "count",
                      "Acknowledges with nothing pending (spurious IRQ 7/15)");
    stats_add_counter(o, "eois", &p->eois, "count", "EOI commands (OCW2)");
    stats_add_counter(o, "inits", &p->icw_inits, "count", "ICW1 initialization sequences");
    return 0;
}

#define CHIP_FIELDS(X)                                                         \
    X(irr) X(isr) X(imr) X(lines) X(elcr) X(vector_base) X(icw1) X(icw3) X(icw4) \
    X(icw_step) X(lowest_prio) X(read_isr) X(poll) X(special_mask) X(rotate_on_aeoi)

static void pic_serialize(struct sim_object *o, struct ser_node *n)
{
    struct pic8259 *p = SIM_CAST(struct pic8259, o);
    static const char *const names[2] = {"master", "slave"};
    for (unsigned i = 0; i < 2; i++) {
        struct ser_node *cn = ser_child(n, names[i]);
        struct pic_chip *c = &p->chip[i];
#define PUT_FIELD(f) SER_PUT(cn, c, f);
        CHIP_FIELDS(PUT_FIELD)
#undef PUT_FIELD
    }
    SER_PUT(n, p, intr);
    SER_PUT(n, p, acks);
    SER_PUT(n, p, spurious_acks);
    SER_PUT(n, p, eois);
    SER_PUT(n, p, icw_inits);
}

static int pic_unserialize(struct sim_object *o, struct ser_node *n)
{
    struct pic8259 *p = SIM_CAST(struct pic8259, o);
    static const char *const names[2] = {"master", "slave"};
    for (unsigned i = 0; i < 2; i++) {
        struct ser_node *cn = ser_find_child(n, names[i]);
        struct pic_chip *c = &p->chip[i];
        if (!cn) {
            err_set("%s: checkpoint lacks the %s 8259A state", o->path, names[i]);
            return -1;
        }
#define GET_FIELD(f) if (SER_GET(cn, c, f) < 0) return -1;
        CHIP_FIELDS(GET_FIELD)
#undef GET_FIELD
        if (c->icw_step > ICW_EXPECT_4 || c->lowest_prio > 7) {
            err_set("%s: %s 8259A state out of range (icw_step %u, lowest_prio %u)", o->path,
                    names[i], c->icw_step, c->lowest_prio);
            return -1;
        }
    }
    if (SER_GET(n, p, intr) < 0 || SER_GET(n, p, acks) < 0 || SER_GET(n, p, spurious_acks) < 0 ||
        SER_GET(n, p, eois) < 0 || SER_GET(n, p, icw_inits) < 0)
        return -1;
    return 0;
}

static const struct param_desc pic_params[] = {
    PARAM_END,
};

static struct sim_type pic_type = {
    .name = "PIC8259",
    .help = "Master/slave 8259A interrupt controllers at 0x20/0xA0 with ELCR at 0x4D0",
    .size = sizeof(struct pic8259),
    .params = pic_params,
    .ops = {.init = pic_init, .serialize = pic_serialize, .unserialize = pic_unserialize,
},
};
SIM_TYPE_REGISTER(pic_type);
