/* Ends in a triple fault on purpose (SDM vol. 3A 6.15, #DF): with an empty
 * IDT, UD2's #UD finds no gate (#GP), the #GP finds none (#DF), and the #DF
 * finds none: the CPU enters shutdown. tests/baremetal.cmake checks what
 * the CPU's on_shutdown parameter makes of it on both engines. */
#include "guest.h"

const char test_name[] = "triple_fault";

void test_main(void)
{
    static const struct __attribute__((packed)) {
        uint16_t limit;
        uint64_t base;
    } empty_idt = {0, 0};
    kprintf("triple fault next\n");
    __asm__ volatile("lidt %0\n\tud2" : : "m"(empty_idt));
    kprintf("still running after the triple fault\n");
}
