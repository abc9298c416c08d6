/* The PC's 8042 keyboard controller at ports 0x60 (data) and 0x64
 * (status/command), after the IBM PS/2 Hardware Interface Technical
 * Reference (keyboard/auxiliary device controller chapter) and the command
 * set documented on the OSDev wiki ("8042 PS/2 Controller", "PS/2
 * Keyboard").
 *
 * The controller: status register, the 32-byte internal RAM whose byte 0 is
 * the command byte (0x20-0x3F read, 0x60-0x7F write), self test 0xAA ->
 * 0x55, interface tests 0xAB/0xA9 -> 0x00, port enable/disable 0xAD/0xAE
 * and 0xA7/0xA8, input port 0xC0, output port 0xD0/0xD1, 0xD2/0xD3 (bytes
 * that appear to come from the keyboard / auxiliary port), 0xD4 (byte to the
 * auxiliary device), test inputs 0xE0 and the 0xF0-0xFF output-line pulses
 * (bit 0 low pulses the reset line: the machine resets). Command responses
 * are queued so none is lost when software issues commands back to back.
 *
 * The auxiliary port exists but nothing is plugged into it: 0xD3 loopback
 * works (Linux uses it to test the port and its IRQ), and every byte sent
 * to the absent mouse with 0xD4 answers 0xFE with the time-out status bit,
 * which is what a controller reports when no device clocks the byte in.
 *
 * The keyboard (scan code set 2 device, ID 0xAB 0x83) has no host input
 * source; it answers its commands: reset 0xFF -> 0xFA 0xAA, identify 0xF2,
 * LEDs 0xED, scan code set 0xF0, typematic 0xF3, enable/disable scanning
 * 0xF4/0xF5, defaults 0xF6, echo 0xEE, resend 0xFE; anything else -> 0xFE.
 * With translation on (command byte bit 6) the controller converts the few
 * set-2 codes this keyboard can send (set numbers, the ID's 0x83) to set 1.
 * Its bytes wait in the keyboard while the keyboard port is disabled.
 *
 * IRQ1 (PC_GSI_KEYBOARD) / IRQ12 (PC_GSI_MOUSE) follow "output buffer full
 * with a byte from that port" when the command byte enables them. The
 * output port's A20 bit is stored but does not mask addresses.
 */
#include <string.h>

#include "mem/pc_layout.h"
#include "mem/system.h"
#include "sim/log.h"
#include "sim/serialize.h"
#include "sim/sim.h"

DEBUG_FLAG_DEFINE(I8042, "8042 keyboard controller commands and data");

#define STS_OBF 0x01
#define STS_SYS 0x04
#define STS_CMD 0x08     /* last write went to the command port */
#define STS_UNLOCKED 0x10 /* keyboard not inhibited by the keylock */
#define STS_AUX 0x20     /* output buffer holds an auxiliary-port byte */
#define STS_TIMEOUT 0x40

#define CTR_KBD_INT 0x01
#define CTR_AUX_INT 0x02
#define CTR_SYS 0x04
#define CTR_KBD_DISABLE 0x10
#define CTR_AUX_DISABLE 0x20
#define CTR_XLATE 0x40

#define OUTPORT_RESET 0x01 /* low = reset asserted */
#define OUTPORT_A20 0x02
#define OUTPORT_KBD_OBF 0x10
#define OUTPORT_AUX_OBF 0x20

#define QUEUE_SIZE 16

/* Where an output byte comes from. */
enum src { SRC_KBD, SRC_AUX, SRC_AUX_TIMEOUT };

struct byte_queue {
    uint8_t data[QUEUE_SIZE];
    uint8_t src[QUEUE_SIZE];
    uint8_t head, count;
};

struct i8042 {
    struct sim_object obj;

    uint8_t ram[32]; /* ram[0] is the command byte */
    uint8_t outport;
    uint8_t pending_cmd; /* controller command waiting for its data byte, or 0 */
    bool last_write_cmd;
    /* the output buffer */
    bool obf;
    uint8_t obuf;
    uint8_t obuf_src;
    /* controller responses, then keyboard bytes */
    struct byte_queue ctl_q, kbd_q;
    bool kbd_irq, aux_irq; /* levels we drive */

    /* the keyboard */
    bool kbd_scanning;
    uint8_t kbd_pending_cmd; /* command waiting for its parameter, or 0 */
    uint8_t kbd_leds, kbd_scanset, kbd_typematic;
    uint8_t kbd_last_sent;

    uint64_t commands, kbd_bytes;
};

static bool q_push(struct byte_queue *q, uint8_t byte, uint8_t src)
{
    if (q->count == QUEUE_SIZE)
        return false;
    unsigned slot = (q->head + q->count) % QUEUE_SIZE;
    q->data[slot] = byte;
    q->src[slot] = src;
    q->count++;
    return true;
}

static uint8_t q_pop(struct byte_queue *q, uint8_t *src)
{
    uint8_t byte = q->data[q->head];
    *src = q->src[q->head];
    q->head = (q->head + 1) % QUEUE_SIZE;
    q->count--;
    return byte;
}

/* Set-2 to set-1 conversion for the bytes this keyboard can produce; its
 * other bytes (0xFA, 0xAA, 0xAB, 0xEE, 0xFE) convert to themselves. */
static uint8_t translate(uint8_t byte)
{
    switch (byte) {
    case 0x01: return 0x43;
    case 0x02: return 0x41;
    case 0x03: return 0x3F;
    case 0x83: return 0x41;
    default: return byte;
    }
}

static void update_irqs(struct i8042 *k)
{
    uint8_t ctr = k->ram[0];
    bool kbd = k->obf && k->obuf_src == SRC_KBD && (ctr & CTR_KBD_INT);
    bool aux = k->obf && k->obuf_src != SRC_KBD && (ctr & CTR_AUX_INT);
    struct system *sys = system_of(&k->obj);
    if (kbd != k->kbd_irq) {
        k->kbd_irq = kbd;
        system_set_irq(sys, PC_GSI_KEYBOARD, kbd);
    }
    if (aux != k->aux_irq) {
        k->aux_irq = aux;
        system_set_irq(sys, PC_GSI_MOUSE, aux);
    }
}

/* Moves the next byte into an empty output buffer: controller responses
 * first, then keyboard bytes while the keyboard port is enabled. */
static void refill(struct i8042 *k)
{
    if (!k->obf) {
        if (k->ctl_q.count) {
            k->obuf = q_pop(&k->ctl_q, &k->obuf_src);
            k->obf = true;
        } else if (k->kbd_q.count && !(k->ram[0] & CTR_KBD_DISABLE)) {
            uint8_t src;
            uint8_t byte = q_pop(&k->kbd_q, &src);
            k->obuf = (k->ram[0] & CTR_XLATE) ? translate(byte) : byte;
            k->obuf_src = SRC_KBD;
            k->obf = true;
        }
    }
    update_irqs(k);
}

static void respond(struct i8042 *k, uint8_t byte, uint8_t src)
{
    if (!q_push(&k->ctl_q, byte, src))
        DPRINTF(I8042, &k->obj, "response queue full, dropped 0x%02x", byte);
    refill(k);
}

static void kbd_send(struct i8042 *k, uint8_t byte)
{
    k->kbd_last_sent = byte;
    if (!q_push(&k->kbd_q, byte, SRC_KBD))
        DPRINTF(I8042, &k->obj, "keyboard buffer full, dropped 0x%02x", byte);
    refill(k);
}

static void kbd_defaults(struct i8042 *k)
{
    k->kbd_scanset = 2;
    k->kbd_typematic = 0x2B; /* 10.9 characters/s, 500 ms delay */
    k->kbd_leds = 0;
    k->kbd_scanning = true;
}

/* A byte the host sends to the keyboard. */
static void kbd_write(struct i8042 *k, uint8_t byte)
{
    k->kbd_bytes++;
    DPRINTF(I8042, &k->obj, "keyboard <- 0x%02x", byte);
    if (k->kbd_pending_cmd) {
        /* The parameter byte of 0xED, 0xF3 or 0xF0. */
        uint8_t cmd = k->kbd_pending_cmd;
        k->kbd_pending_cmd = 0;
        if (cmd == 0xED) {
            k->kbd_leds = byte & 7;
            kbd_send(k, 0xFA);
        } else if (cmd == 0xF3) {
            k->kbd_typematic = byte & 0x7F;
            kbd_send(k, 0xFA);
        } else if (byte == 0) {
            kbd_send(k, 0xFA);
            kbd_send(k, k->kbd_scanset);
        } else if (byte <= 3) {
            k->kbd_scanset = byte;
            kbd_send(k, 0xFA);
        } else {
            kbd_send(k, 0xFE);
        }
        return;
    }
    switch (byte) {
    case 0xED: case 0xF3: case 0xF0:
        k->kbd_pending_cmd = byte;
        kbd_send(k, 0xFA);
        break;
    case 0xEE:
        kbd_send(k, 0xEE);
        break;
    case 0xF2:
        kbd_send(k, 0xFA);
        kbd_send(k, 0xAB);
        kbd_send(k, 0x83);
        break;
    case 0xF4:
        k->kbd_scanning = true;
        kbd_send(k, 0xFA);
        break;
    case 0xF5: /* disable scanning and restore defaults */
        kbd_defaults(k);
        k->kbd_scanning = false;
        kbd_send(k, 0xFA);
        break;
    case 0xF6:
        kbd_defaults(k);
        kbd_send(k, 0xFA);
        break;
    case 0xFE: {
        uint8_t again = k->kbd_last_sent;
        kbd_send(k, again);
        break;
    }
    case 0xFF:
        k->kbd_q.count = 0; /* reset discards what the keyboard still held */
        kbd_defaults(k);
        kbd_send(k, 0xFA);
        kbd_send(k, 0xAA); /* basic assurance test passed */
        break;
    default:
        kbd_send(k, 0xFE);
        break;
    }
}

static void write_outport(struct i8042 *k, uint8_t v)
{
    k->outport = v;
    if (!(v & OUTPORT_RESET))
        system_request_reset(system_of(&k->obj), "i8042 reset (output port bit 0 cleared)");
}

static uint8_t outport_value(const struct i8042 *k)
{
    uint8_t v = k->outport & (uint8_t)~(OUTPORT_KBD_OBF | OUTPORT_AUX_OBF);
    if (k->obf)
        v |= k->obuf_src == SRC_KBD ? OUTPORT_KBD_OBF : OUTPORT_AUX_OBF;
    return v;
}

static void controller_command(struct i8042 *k, uint8_t cmd)
{
    k->commands++;
    DPRINTF(I8042, &k->obj, "command 0x%02x", cmd);
    k->pending_cmd = 0;
    if (cmd >= 0x20 && cmd <= 0x3F) {
        respond(k, k->ram[cmd & 0x1F], SRC_KBD);
        return;
    }
    if ((cmd >= 0x60 && cmd <= 0x7F) || (cmd >= 0xD1 && cmd <= 0xD4)) {
        k->pending_cmd = cmd;
        return;
    }
    if (cmd >= 0xF0) {
        if (!(cmd & 1))
            system_request_reset(system_of(&k->obj), "i8042 reset (command pulsed the reset line)");
        return;
    }
    switch (cmd) {
    case 0xA7:
        k->ram[0] |= CTR_AUX_DISABLE;
        break;
    case 0xA8:
        k->ram[0] &= (uint8_t)~CTR_AUX_DISABLE;
        break;
    case 0xA9: /* auxiliary interface test: lines fine */
    case 0xAB: /* keyboard interface test */
        respond(k, 0x00, SRC_KBD);
        break;
    case 0xAA:
        respond(k, 0x55, SRC_KBD);
        break;
    case 0xAD:
        k->ram[0] |= CTR_KBD_DISABLE;
        break;
    case 0xAE:
        k->ram[0] &= (uint8_t)~CTR_KBD_DISABLE;
        refill(k);
        break;
    case 0xC0: /* input port: keyboard not inhibited, colour display */
        respond(k, 0x80, SRC_KBD);
        break;
    case 0xD0:
        respond(k, outport_value(k), SRC_KBD);
        break;
    case 0xE0: /* test inputs: clock and data lines low */
        respond(k, 0x00, SRC_KBD);
        break;
    default:
        DPRINTF(I8042, &k->obj, "unimplemented command 0x%02x ignored", cmd);
        break;
    }
}

static void data_write(struct i8042 *k, uint8_t v)
{
    uint8_t cmd = k->pending_cmd;
    k->pending_cmd = 0;
    if (cmd >= 0x60 && cmd <= 0x7F) {
        k->ram[cmd & 0x1F] = v;
        if (cmd == 0x60)
            refill(k); /* interrupt enables or the keyboard port may have changed */
        return;
    }
    switch (cmd) {
    case 0xD1:
        write_outport(k, v);
        break;
    case 0xD2:
        respond(k, v, SRC_KBD);
        break;
    case 0xD3:
        respond(k, v, SRC_AUX);
        break;
    case 0xD4:
        respond(k, 0xFE, SRC_AUX_TIMEOUT); /* no auxiliary device answers */
        break;
    default:
        kbd_write(k, v);
        break;
    }
}

static uint8_t status(const struct i8042 *k)
{
    uint8_t s = STS_UNLOCKED | (k->ram[0] & CTR_SYS);
    if (k->last_write_cmd)
        s |= STS_CMD;
    if (k->obf) {
        s |= STS_OBF;
        if (k->obuf_src != SRC_KBD)
            s |= STS_AUX;
        if (k->obuf_src == SRC_AUX_TIMEOUT)
            s |= STS_TIMEOUT;
    }
    return s;
}

static uint64_t data_read(void *opaque, uint64_t off, unsigned size)
{
    (void)off;
    (void)size;
    struct i8042 *k = opaque;
    uint8_t v = k->obuf; /* an empty buffer reads its last byte again */
    if (k->obf) {
        /* Drop the line before the next byte raises it: a fresh edge each. */
        k->obf = false;
        update_irqs(k);
        refill(k);
    }
    DPRINTF(I8042, &k->obj, "data read 0x%02x", v);
    return v;
}

static void data_port_write(void *opaque, uint64_t off, uint64_t val, unsigned size)
{
    (void)off;
    (void)size;
    struct i8042 *k = opaque;
    k->last_write_cmd = false;
    data_write(k, (uint8_t)val);
}

static uint64_t status_read(void *opaque, uint64_t off, unsigned size)
{
    (void)off;
    (void)size;
    return status(opaque);
}

static void command_write(void *opaque, uint64_t off, uint64_t val, unsigned size)
{
    (void)off;
    (void)size;
    struct i8042 *k = opaque;
    k->last_write_cmd = true;
    controller_command(k, (uint8_t)val);
}

static const struct io_ops data_io = {.read = data_read, .write = data_port_write};
static const struct io_ops cmd_io = {.read = status_read, .write = command_write};

static int i8042_init(struct sim_object *o)
{
    struct i8042 *k = SIM_CAST(struct i8042, o);
    struct system *sys = system_of(o);
    if (!sys) {
        err_set("an I8042 must be placed under a System");
        return -1;
    }
    if (bus_map_pio(&sys->bus, PC_PORT_I8042_DATA, 1, &data_io, k, o->path) < 0 ||
        bus_map_pio(&sys->bus, PC_PORT_I8042_CMD, 1, &cmd_io, k, o->path) < 0)
        return -1;
    /* As firmware leaves it: keyboard interrupt on, POST passed,
     * translation on, auxiliary port disabled. */
    k->ram[0] = CTR_KBD_INT | CTR_SYS | CTR_AUX_DISABLE | CTR_XLATE;
    k->outport = OUTPORT_RESET | OUTPORT_A20;
    kbd_defaults(k);
    stats_add_counter(o, "commands", &k->commands, "count", "Controller commands written to port 0x64");
    stats_add_counter(o, "keyboardBytes", &k->kbd_bytes, "byte", "Bytes sent to the keyboard");
    return 0;
}

static void put_queue(struct ser_node *n, const char *name, const struct byte_queue *q)
{
    struct ser_node *c = ser_child(n, name);
    SER_PUT_ARRAY(c, q, data);
    SER_PUT_ARRAY(c, q, src);
    SER_PUT(c, q, head);
    SER_PUT(c, q, count);
}

static int get_queue(struct ser_node *n, const char *name, struct byte_queue *q)
{
    struct ser_node *c = ser_find_child(n, name);
    if (!c) {
        err_set("%s: checkpoint lacks the '%s' queue", n->path, name);
        return -1;
    }
    if (SER_GET_ARRAY(c, q, data) < 0 || SER_GET_ARRAY(c, q, src) < 0 || SER_GET(c, q, head) < 0 ||
        SER_GET(c, q, count) < 0)
        return -1;
    if (q->head >= QUEUE_SIZE || q->count > QUEUE_SIZE) {
        err_set("%s/%s: invalid queue state (head %u, count %u)", n->path, name, q->head, q->count);
        return -1;
    }
    for (unsigned i = 0; i < QUEUE_SIZE; i++) {
        if (q->src[i] > SRC_AUX_TIMEOUT) {
            err_set("%s/%s: invalid byte source %u", n->path, name, q->src[i]);
            return -1;
        }
    }
    return 0;
}

static void i8042_serialize(struct sim_object *o, struct ser_node *n)
{
    struct i8042 *k = SIM_CAST(struct i8042, o);
    SER_PUT_ARRAY(n, k, ram);
    SER_PUT(n, k, outport);
    SER_PUT(n, k, pending_cmd);
    SER_PUT(n, k, last_write_cmd);
    SER_PUT(n, k, obf);
    SER_PUT(n, k, obuf);
    SER_PUT(n, k, obuf_src);
    put_queue(n, "ctl_q", &k->ctl_q);
    put_queue(n, "kbd_q", &k->kbd_q);
    SER_PUT(n, k, kbd_irq);
    SER_PUT(n, k, aux_irq);
    SER_PUT(n, k, kbd_scanning);
    SER_PUT(n, k, kbd_pending_cmd);
    SER_PUT(n, k, kbd_leds);
    SER_PUT(n, k, kbd_scanset);
    SER_PUT(n, k, kbd_typematic);
    SER_PUT(n, k, kbd_last_sent);
    SER_PUT(n, k, commands);
    SER_PUT(n, k, kbd_bytes);
}

static int i8042_unserialize(struct sim_object *o, struct ser_node *n)
{
    struct i8042 *k = SIM_CAST(struct i8042, o);
    if (SER_GET_ARRAY(n, k, ram) < 0 || SER_GET(n, k, outport) < 0 || SER_GET(n, k, pending_cmd) < 0 ||
        SER_GET(n, k, last_write_cmd) < 0 || SER_GET(n, k, obf) < 0 || SER_GET(n, k, obuf) < 0 ||
        SER_GET(n, k, obuf_src) < 0 || get_queue(n, "ctl_q", &k->ctl_q) < 0 ||
        get_queue(n, "kbd_q", &k->kbd_q) < 0 || SER_GET(n, k, kbd_irq) < 0 ||
        SER_GET(n, k, aux_irq) < 0 || SER_GET(n, k, kbd_scanning) < 0 ||
        SER_GET(n, k, kbd_pending_cmd) < 0 || SER_GET(n, k, kbd_leds) < 0 ||
        SER_GET(n, k, kbd_scanset) < 0 || SER_GET(n, k, kbd_typematic) < 0 ||
        SER_GET(n, k, kbd_last_sent) < 0 || SER_GET(n, k, commands) < 0 ||
        SER_GET(n, k, kbd_bytes) < 0)
        return -1;
    if (k->obuf_src > SRC_AUX_TIMEOUT) {
        err_set("%s: invalid output buffer source %u", n->path, k->obuf_src);
        return -1;
    }
    if (k->kbd_pending_cmd != 0 && k->kbd_pending_cmd != 0xED && k->kbd_pending_cmd != 0xF3 &&
        k->kbd_pending_cmd != 0xF0) {
        err_set("%s: invalid pending keyboard command 0x%02x", n->path, k->kbd_pending_cmd);
        return -1;
    }
    return 0;
}

static const struct param_desc i8042_params[] = {PARAM_END};

static struct sim_type i8042_type = {
    .name = "I8042",
    .help = "8042 PS/2 keyboard controller with a keyboard and an empty auxiliary port",
    .size = sizeof(struct i8042),
    .params = i8042_params,
    .ops = {.init = i8042_init, .serialize = i8042_serialize, .unserialize = i8042_unserialize},
};
SIM_TYPE_REGISTER(i8042_type);
