/* Program start (called from start.S), the test verdict and the exit
 * protocol, and the string functions a freestanding GCC may call. */
#include "guest.h"
#include "tandemctl.h"

enum boot_protocol boot_protocol;
uint32_t multiboot_info;

void guest_start(uint32_t protocol, uint32_t mbi);
void guest_start(uint32_t protocol, uint32_t mbi)
{
    boot_protocol = (enum boot_protocol)protocol;
    multiboot_info = mbi;
    uart_init();
    pic_mask_all();
    idt_init();
    gdt_install_tss();
    test_main();
    test_pass();
}

static _Noreturn void guest_exit(bool pass)
{
    if (tandemctl_present())
        tandemctl_exit(pass ? TEST_EXIT_PASS : TEST_EXIT_FAIL);
    outb(EXIT_PORT, pass ? EXIT_PORT_PASS : EXIT_PORT_FAIL);
    /* No exit device: stop here; the harness reads the verdict line. */
    for (;;)
        __asm__ volatile("cli; hlt");
}

void test_pass(void)
{
    kprintf("TEST %s: PASS\n", test_name);
    guest_exit(true);
}

void test_fail(const char *fmt, ...)
{
    char reason[256];
    va_list ap;
    va_start(ap, fmt);
    kvsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    kprintf("TEST %s: FAIL %s\n", test_name, reason);
    guest_exit(false);
}

void *memset(void *d, int c, size_t n)
{
    unsigned char *p = d;
    while (n--)
        *p++ = (unsigned char)c;
    return d;
}

void *memcpy(void *d, const void *s, size_t n)
{
    unsigned char *dp = d;
    const unsigned char *sp = s;
    while (n--)
        *dp++ = *sp++;
    return d;
}

void *memmove(void *d, const void *s, size_t n)
{
    unsigned char *dp = d;
    const unsigned char *sp = s;
    if (dp < sp) {
        while (n--)
            *dp++ = *sp++;
    } else {
        while (n--)
            dp[n] = sp[n];
    }
    return d;
}

int memcmp(const void *a, const void *b, size_t n)
{
    const unsigned char *pa = a, *pb = b;
    for (; n; n--, pa++, pb++)
        if (*pa != *pb)
            return *pa - *pb;
    return 0;
}

size_t strlen(const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    return n;
}
