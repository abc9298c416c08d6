/* The 16550A UART (dev/uart16550.c): what other modules and tests call. */
#ifndef TANDEM_DEV_UART16550_H
#define TANDEM_DEV_UART16550_H

struct sim_object;

/* Everything the UART has transmitted to its backend so far (loopback bytes
 * excluded), NUL-terminated, when its `capture` parameter is true; NULL
 * otherwise. The capture keeps the first UART_CAPTURE_LIMIT bytes and then
 * ends with UART_CAPTURE_TRUNCATED. The pointer stays valid until the next
 * transmitted byte or the object's destruction. */
const char *uart16550_output(struct sim_object *o);

#define UART_CAPTURE_LIMIT (1u << 20)
#define UART_CAPTURE_TRUNCATED "\n[tandem: UART capture truncated at 1 MiB]\n"

#endif
