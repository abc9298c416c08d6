/* The smallest program: proves the start-up code, the console and the exit
 * protocol work under whichever loader started it. */
#include "guest.h"

const char test_name[] = "hello";

void test_main(void)
{
    kprintf("hello from a tandem guest program (booted by %s)\n",
            boot_protocol == BOOT_MULTIBOOT ? "multiboot" : "the tandem ELF loader");
    char buf[64];
    ksnprintf(buf, sizeof buf, "%d %u %x %08lx %s %c %5d", -42, 42u, 0xbeefu, 0x1234UL, "ok", '!', 7);
    CHECK(memcmp(buf, "-42 42 beef 00001234 ok !     7", 32) == 0, "ksnprintf produced '%s'", buf);
}
