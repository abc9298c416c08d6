/* The tandem command line. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/command.h"
#include "sim/log.h"
#include "sim/lua.h"
#include "sim/sim.h"

static const char usage_text[] =
    "usage: tandem run CONFIG.lua [options] [-- SCRIPT-ARGS...]\n"
    "       tandem list-types [TYPE]\n"
    "       tandem list-flags\n"
    "       tandem --help | --version\n"
    "\n"
    "run options:\n"
    "  --outdir DIR          write config.json, stats.txt, stats.json to DIR\n"
    "                        (default tandem-out)\n"
    "  --set OBJ.PARAM=VAL   override a parameter before the machine starts\n"
    "                        (repeatable), e.g. --set system.uart0.port=0x2f8\n"
    "  --debug-flags LIST    comma-separated debug flags (see list-flags), or All\n"
    "  --max-tick N          stop the run at tick N (1 tick = 1 ps)\n"
    "  --quiet               no progress line and no informational messages\n"
    "\n"
    "SCRIPT-ARGS are KEY=VALUE words the config reads from tandem.args.\n"
    "Exit status: the guest's exit code, 1 on a configuration or run error,\n"
    "2 on bad command-line arguments.\n";

static void print_usage(FILE *f)
{
    fputs(usage_text, f);
    for (struct cli_command *c = cli_commands_first(); c; c = c->next)
        fprintf(f, "\n%s", c->usage);
}

static int usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "tandem: error: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n\n");
    print_usage(stderr);
    return 2;
}

static void on_signal(int sig)
{
    (void)sig;
    if (sim_stop_requested)
        _exit(130);
    sim_stop_requested = 1;
}

static const char *param_type_name(const struct param_desc *p)
{
    static const char *const names[] = {"uint", "int", "bool", "double", "string", "enum", "object"};
    return names[p->type];
}

static void print_type(const struct sim_type *t)
{
    printf("%s\n    %s\n", t->name, t->help);
    for (const struct param_desc *p = t->params; p && p->name; p++) {
        printf("    %-20s %-7s", p->name, param_type_name(p));
        if (p->def)
            printf(" default=%s", *p->def ? p->def : "\"\"");
        else
            printf(" (required)");
        if ((p->type == PARAM_UINT || p->type == PARAM_INT) && p->min <= p->max)
            printf(" range=[%lld, %lld]", (long long)p->min, (long long)p->max);
        if (p->type == PARAM_ENUM) {
            printf(" choices=");
            for (int i = 0; p->choices[i]; i++)
                printf("%s%s", i ? "|" : "", p->choices[i]);
        }
        if (p->type == PARAM_OBJECT && p->obj_type)
            printf(" type=%s", p->obj_type);
        if (p->unit && *p->unit)
            printf(" unit=%s", p->unit);
        printf("\n        %s\n", p->help);
    }
}

static int cmd_list_types(int argc, char **argv)
{
    if (argc > 1) {
        const struct sim_type *t = sim_type_find(argv[1]);
        if (!t) {
            fprintf(stderr, "tandem: error: unknown type '%s'\n", argv[1]);
            return 1;
        }
        print_type(t);
        return 0;
    }
    for (const struct sim_type *t = sim_types_first(); t; t = t->next)
        print_type(t);
    return 0;
}

static int cmd_list_flags(void)
{
    for (struct debug_flag *f = debug_flags_first(); f; f = f->next)
        printf("%-16s %s\n", f->name, f->help);
    printf("%-16s %s\n", "All", "every flag above");
    return 0;
}

static int cmd_run(int argc, char **argv)
{
    static const struct option opts[] = {
        {"outdir", required_argument, 0, 'o'}, {"set", required_argument, 0, 's'},
        {"debug-flags", required_argument, 0, 'd'}, {"max-tick", required_argument, 0, 't'},
        {"quiet", no_argument, 0, 'q'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    struct simulation sim;
    sim_init(&sim);
    const char *outdir = "tandem-out";
    bool quiet = false;
    int c, rc = 0;
    optind = 1;
    /* Options may follow the config; words after "--" go to the script. */
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        char err[256];
        switch (c) {
        case 'o':
            outdir = optarg;
            break;
        case 's':
            if (sim_add_override(&sim, optarg) < 0)
                rc = usage_error("%s", err_get());
            break;
        case 'd':
            if (debug_flags_enable(optarg, err, sizeof(err)) < 0)
                rc = usage_error("%s", err);
            break;
        case 't': {
            char *end;
            sim.max_tick = strtoull(optarg, &end, 0);
            if (*end || end == optarg)
                rc = usage_error("--max-tick expects a number of ticks, got '%s'", optarg);
            break;
        }
        case 'q':
            quiet = true;
            break;
        case 'h':
            print_usage(stdout);
            sim_destroy(&sim);
            return 0;
        default:
            rc = usage_error("%s", "bad option for 'run'");
        }
        if (rc)
            break;
    }
    if (!rc && optind >= argc)
        rc = usage_error("%s", "'run' needs a CONFIG.lua");
    if (rc) {
        sim_destroy(&sim);
        return rc;
    }
    const char *config = argv[optind++];
    sim.outdir = strdup(outdir);
    sim.progress = !quiet;
    log_set_quiet(quiet);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);

    if (lua_run_config(&sim, config, argc - optind, argv + optind) < 0) {
        sim_destroy(&sim);
        return 1;
    }
    if (!sim.instantiated && sim_instantiate(&sim) < 0) {
        log_error("%s: %s", config, err_get());
        sim_destroy(&sim);
        return 1;
    }
    /* A config that ran the simulation itself decided where it ends. */
    const char *why = "config finished";
    if (!sim.config_ran && !sim.exit_requested && !sim_stop_requested)
        why = sim_run(&sim, TICK_MAX);
    if (sim.exit_requested)
        why = sim.exit_reason;
    if (sim_stop_requested)
        why = "interrupted";
    if (stats_dump(&sim, "exit") < 0) {
        log_error("%s", err_get());
        rc = 1;
    }
    log_info("exiting @ tick %llu (%.6f s simulated): %s", (unsigned long long)sim_now(&sim),
             (double)sim_now(&sim) / TICKS_PER_S, why);
    if (!rc)
        rc = sim_stop_requested ? 130 : sim.exit_code;
    sim_destroy(&sim);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return usage_error("%s", "no command given");
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        print_usage(stdout);
        return 0;
    }
    if (!strcmp(cmd, "--version")) {
        printf("tandem %s\n", TANDEM_VERSION);
        return 0;
    }
    if (!strcmp(cmd, "run"))
        return cmd_run(argc - 1, argv + 1);
    if (!strcmp(cmd, "list-types"))
        return cmd_list_types(argc - 1, argv + 1);
    if (!strcmp(cmd, "list-flags"))
        return cmd_list_flags();
    for (struct cli_command *c = cli_commands_first(); c; c = c->next)
        if (!strcmp(cmd, c->name))
            return c->run(argc - 1, argv + 1);
    return usage_error("unknown command '%s'", cmd);
}
