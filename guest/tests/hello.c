/* The smallest program: proves the start-up code, the console and the exit
 * protocol work under whichever loader started it, and checks the runtime's
 * printf formatting against known strings. */
#include "guest.h"

const char test_name[] = "hello";

static void expect_format(const char *got, const char *want)
{
    CHECK(strlen(got) == strlen(want) && memcmp(got, want, strlen(want)) == 0,
          "formatted '%s', want '%s'", got, want);
}

void test_main(void)
{
    kprintf("hello from a tandem guest program (booted by %s)\n",
            boot_protocol == BOOT_MULTIBOOT ? "multiboot" : "the tandem ELF loader");
    char buf[96];
    ksnprintf(buf, sizeof buf, "%d %u %x %08lx %s %c %5d|", -42, 42u, 0xbeefu, 0x1234UL, "ok", '!', 7);
    expect_format(buf, "-42 42 beef 00001234 ok !     7|");
    ksnprintf(buf, sizeof buf, "%ld %lu %lX %p %05d %3s %%", -9223372036854775807L - 1,
              18446744073709551615UL, 0xABCDEF0123456789UL, (void *)0x1000, -12, "abcd");
    expect_format(buf, "-9223372036854775808 18446744073709551615 ABCDEF0123456789 0x1000 -0012 abcd %");
    int n = ksnprintf(buf, 8, "%s", "truncated output");
    CHECK(n == 16, "ksnprintf returned %d for 16 characters, want 16", n);
    expect_format(buf, "truncat");
}
