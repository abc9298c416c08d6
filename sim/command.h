/* Subcommands other modules add to the tandem command line (e.g.
 * `tandem checkpoint info DIR` from checkpoint/), so sim/ depends on none of
 * them. */
#ifndef TANDEM_SIM_COMMAND_H
#define TANDEM_SIM_COMMAND_H

struct cli_command {
    const char *name;
    const char *usage; /* one line per form, each starting with "tandem " */
    /* argv[0] is the command name. Returns the exit status (2 = bad usage). */
    int (*run)(int argc, char **argv);
    struct cli_command *next;
};

void cli_command_register(struct cli_command *c);
struct cli_command *cli_commands_first(void);

#define CLI_COMMAND_REGISTER(var)                                              \
    __attribute__((constructor)) static void cli_command_ctor_##var(void)    \
    {                                                                          \
        cli_command_register(&var);                                            \
    }

#endif
