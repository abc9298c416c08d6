/* tandemctl: issues tandem guest-control commands from Linux user space
 * through the device's I/O ports (guest/include/tandemctl.h,
 * docs/guest-control.md). Needs root (ioperm). Statically linked so an
 * initramfs carries it without a C library. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/io.h>

#include "tandemctl.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: tandemctl COMMAND [ARG]\n"
            "  exit CODE          end the simulation with exit code CODE\n"
            "  checkpoint TAG     take a checkpoint tagged with the number TAG\n"
            "  switch kvm|interp  move the guest to the KVM engine or the interpreter\n"
            "  stats reset|dump   reset or dump the simulator's statistics\n"
            "  roi begin|end      mark the region of interest (stats reset / dump, or what\n"
            "                     the run script does there: docs/roi.md)\n"
            "  probe              exit 0 if the guest-control device is present\n");
}

static const char *status_text(enum tandemctl_status st)
{
    switch (st) {
    case TANDEMCTL_OK: return "ok";
    case TANDEMCTL_BUSY: return "busy";
    case TANDEMCTL_UNSUPPORTED: return "not supported by this simulator setup";
    case TANDEMCTL_UNKNOWN_COMMAND: return "unknown command";
    case TANDEMCTL_BAD_ARGUMENT: return "bad argument";
    case TANDEMCTL_BAD_ADDRESS: return "bad address";
    case TANDEMCTL_IO_ERROR: return "host I/O error";
    case TANDEMCTL_FAILED: return "failed";
    }
    return "unknown status";
}

/* Parses a whole decimal, hex (0x) or octal (0) number into *v. */
static int parse_u64(const char *s, uint64_t *v)
{
    char *end;
    errno = 0;
    unsigned long long x = strtoull(s, &end, 0);
    if (errno || end == s || *end || *s == '-')
        return -1;
    *v = x;
    return 0;
}

static int parse_i32(const char *s, int32_t *v)
{
    char *end;
    errno = 0;
    long x = strtol(s, &end, 0);
    if (errno || end == s || *end || x < INT32_MIN || x > INT32_MAX)
        return -1;
    *v = (int32_t)x;
    return 0;
}

/* The command to run, decoded from argv before any port is touched. */
struct request {
    enum tandemctl_cmd cmd;
    uint64_t arg;
    const char *what;
    int probe_only;
};

static int parse_request(int argc, char **argv, struct request *r)
{
    const char *cmd = argv[1], *arg = argc > 2 ? argv[2] : NULL;
    int want_args = 1;
    memset(r, 0, sizeof *r);
    r->what = cmd;
    if (!strcmp(cmd, "probe")) {
        r->probe_only = 1;
        want_args = 0;
    } else if (!strcmp(cmd, "exit")) {
        int32_t code;
        if (!arg || parse_i32(arg, &code)) {
            fprintf(stderr, "tandemctl: exit needs a 32-bit integer CODE, got '%s'\n", arg ? arg : "");
            return -1;
        }
        r->cmd = TANDEMCTL_CMD_EXIT;
        r->arg = (uint32_t)code;
    } else if (!strcmp(cmd, "checkpoint")) {
        if (!arg || parse_u64(arg, &r->arg)) {
            fprintf(stderr, "tandemctl: checkpoint needs a numeric TAG (0..2^64-1), got '%s'\n",
                    arg ? arg : "");
            return -1;
        }
        r->cmd = TANDEMCTL_CMD_CHECKPOINT;
    } else if (!strcmp(cmd, "switch")) {
        if (arg && !strcmp(arg, "kvm"))
            r->arg = TANDEMCTL_ENGINE_KVM;
        else if (arg && !strcmp(arg, "interp"))
            r->arg = TANDEMCTL_ENGINE_INTERP;
        else {
            fprintf(stderr, "tandemctl: switch needs 'kvm' or 'interp', got '%s'\n", arg ? arg : "");
            return -1;
        }
        r->cmd = TANDEMCTL_CMD_SWITCH_ENGINE;
    } else if (!strcmp(cmd, "stats")) {
        if (arg && !strcmp(arg, "reset"))
            r->cmd = TANDEMCTL_CMD_STATS_RESET;
        else if (arg && !strcmp(arg, "dump"))
            r->cmd = TANDEMCTL_CMD_STATS_DUMP;
        else {
            fprintf(stderr, "tandemctl: stats needs 'reset' or 'dump', got '%s'\n", arg ? arg : "");
            return -1;
        }
    } else if (!strcmp(cmd, "roi")) {
        if (arg && !strcmp(arg, "begin"))
            r->cmd = TANDEMCTL_CMD_ROI_BEGIN;
        else if (arg && !strcmp(arg, "end"))
            r->cmd = TANDEMCTL_CMD_ROI_END;
        else {
            fprintf(stderr, "tandemctl: roi needs 'begin' or 'end', got '%s'\n", arg ? arg : "");
            return -1;
        }
    } else {
        fprintf(stderr, "tandemctl: unknown command '%s'\n", cmd);
        usage(stderr);
        return -1;
    }
    if (argc != 2 + want_args) {
        fprintf(stderr, "tandemctl: %s takes %d argument%s\n", cmd, want_args, want_args == 1 ? "" : "s");
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        usage(stdout);
        return 0;
    }
    struct request r;
    if (parse_request(argc, argv, &r))
        return 2;
    if (ioperm(TANDEMCTL_PORT, TANDEMCTL_PORT_COUNT, 1)) {
        fprintf(stderr, "tandemctl: ioperm(0x%x, %d): %s (needs root / CAP_SYS_RAWIO)\n",
                TANDEMCTL_PORT, TANDEMCTL_PORT_COUNT, strerror(errno));
        return 2;
    }
    if (!tandemctl_present()) {
        if (!r.probe_only)
            fprintf(stderr, "tandemctl: no guest-control device at port 0x%x (not running under tandem?)\n",
                    TANDEMCTL_PORT);
        return 1;
    }
    if (r.probe_only) {
        printf("tandem guest-control device, interface version %" PRIu64 "\n",
               tandemctl_get_slot(TANDEMCTL_SLOT_ID) >> 32);
        return 0;
    }
    enum tandemctl_status st = tandemctl_command(r.cmd, r.arg, 0, 0, 0, NULL);
    if (st != TANDEMCTL_OK) {
        fprintf(stderr, "tandemctl: %s: %s (status %u)\n", r.what, status_text(st), (unsigned)st);
        return 1;
    }
    return 0;
}
