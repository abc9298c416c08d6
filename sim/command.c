#include "sim/command.h"

#include <string.h>

static struct cli_command *commands;

void cli_command_register(struct cli_command *c)
{
    struct cli_command **p = &commands;
    while (*p && strcmp((*p)->name, c->name) < 0)
        p = &(*p)->next;
    c->next = *p;
    *p = c;
}

struct cli_command *cli_commands_first(void)
{
    return commands;
}
