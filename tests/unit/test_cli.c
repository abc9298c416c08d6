/* The tandem command line and Lua configs, run as a user would: errors name
 * file and line, bad arguments exit 2, a run writes config.json, stats.txt
 * and stats.json. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sim/util.h"
#include "testlib.h"

static char *dir;

static void setup(void)
{
    dir = test_tmpdir();
}

static int run_config(char **out, const char *text, const char *extra)
{
    char *cfg = write_temp_file(dir, "cfg.lua", text);
    int rc = run_tandem(out, "run %s --quiet --outdir %s/out %s", cfg, dir, extra ? extra : "");
    free(cfg);
    return rc;
}

START_TEST(test_unknown_param_names_file_line)
{
    char *out;
    int rc = run_config(&out,
                        "-- line 1\n"
                        "local s = tandem.new('System', {name='system'})\n"
                        "tandem.new('System', {name='other', bogus=3})\n",
                        NULL);
    ck_assert_int_eq(rc, 1);
    ck_assert_msg(strstr(out, "cfg.lua:3: other: type System has no parameter 'bogus'"), "%s", out);
    free(out);
}
END_TEST

START_TEST(test_wrong_type_and_range)
{
    char *out;
    int rc = run_config(&out, "\n\ntandem.new('System', {name='system', mem_size='lots'})\n", NULL);
    ck_assert_int_eq(rc, 1);
    ck_assert_msg(strstr(out, "cfg.lua:3: system: parameter 'mem_size' expects a unsigned integer, got 'lots'"), "%s", out);
    free(out);
    rc = run_config(&out, "tandem.new('System', {name='system', ncpus=1000})\n", NULL);
    ck_assert_int_eq(rc, 1);
    ck_assert_msg(strstr(out, "cfg.lua:1: system: parameter 'ncpus' = 1000 is out of range [1, 64]"), "%s", out);
    free(out);
    rc = run_config(&out, "tandem.new('System', {name='system', on_reset=true})\n", NULL);
    ck_assert_int_eq(rc, 1);
    ck_assert_msg(strstr(out, "cfg.lua:1: system: parameter 'on_reset' is not a boolean"), "%s", out);
    free(out);
    rc = run_config(&out, "tandem.new('Nope', {name='x'})\n", NULL);
    ck_assert_int_eq(rc, 1);
    ck_assert_msg(strstr(out, "cfg.lua:1: unknown object type 'Nope'"), "%s", out);
    free(out);
}
END_TEST

/* A config error after devices exist ends the run cleanly: objects that
 * never reached init are not destroyed. */
START_TEST(test_error_after_devices_exist)
{
    char *out;
    int rc = run_config(&out,
                        "local machine = require('machine')\n"
                        "local s = machine.pc{console='none', engine='interp'}\n"
                        "tandem.new('Nope', {name='x', parent=s})\n",
                        NULL);
    ck_assert_msg(rc == 1, "rc %d: %s", rc, out);
    ck_assert_msg(strstr(out, "cfg.lua:3: unknown object type 'Nope'"), "%s", out);
    free(out);
}
END_TEST

/* A bad cache size given to a run script is named with the config line. */
/* Runs configs/baremetal.lua with `args`; requires exit status 1 and an
 * error containing `want`. */
static void expect_run_script_error(const char *args, const char *want)
{
    char *out;
    const char *src = getenv("TANDEM_SOURCE_DIR");
    ck_assert_ptr_nonnull(src);
    int rc = run_tandem(&out, "run %s/configs/baremetal.lua --quiet --outdir %s/out %s", src, dir, args);
    ck_assert_msg(rc == 1, "rc %d: %s", rc, out);
    ck_assert_msg(strstr(out, want), "want '%s' in: %s", want, out);
    free(out);
}

START_TEST(test_bad_timing_option)
{
    expect_run_script_error("-- program=configs/pc.lua engine=interp timing=1 l1d=3000",
                            "size 3000 is not a power-of-two");
    expect_run_script_error("-- program=configs/pc.lua engine=interp timing=1 l1d=3000", "baremetal.lua:");
    /* The cachegrind counting mode's geometry (valgrind's --I1= syntax). */
    expect_run_script_error("-- program=configs/pc.lua engine=interp timing=1 cachegrind=1 I1=32768,8 "
                            "D1=32768,8,64 LL=262144,8,64",
                            "cachegrind I1 geometry: expected SIZE,ASSOC,LINE_SIZE");
    /* What a triple fault does (CPU.on_shutdown). */
    expect_run_script_error("--set system.cpu0.on_shutdown=bogus -- program=configs/pc.lua engine=interp",
                            "'on_shutdown' must be one of {stop, reset}, got 'bogus'");
}
END_TEST

START_TEST(test_lua_errors)
{
    char *out;
    int rc = run_config(&out, "local x = \n\n )\n", NULL);
    ck_assert_int_eq(rc, 1);
    ck_assert_msg(strstr(out, "cfg.lua:3:"), "%s", out);
    free(out);
    rc = run_config(&out, "\nerror('custom failure')\n", NULL);
    ck_assert_int_eq(rc, 1);
    ck_assert_msg(strstr(out, "cfg.lua:2: custom failure"), "%s", out);
    free(out);
    rc = run_config(&out, "tandem.new('System', {name='system'})\nsim.run{until_ms='soon'}\n", NULL);
    ck_assert_int_eq(rc, 1);
    ck_assert_msg(strstr(out, "cfg.lua:2: sim.run: 'until_ms' must be a number"), "%s", out);
    free(out);
}
END_TEST

START_TEST(test_run_writes_outputs)
{
    char *out;
    int rc = run_config(&out,
                        "local s = tandem.new('System', {name='system', mem_size=64*1024*1024})\n"
                        "assert(s.mem_size == 64*1024*1024)\n"
                        "local why = sim.run{until_ms=2}\n"
                        "assert(why == 'no more events' or why == 'tick limit reached', why)\n"
                        "stats.dump('mid')\n"
                        "sim.exit(7, 'done')\n",
                        "--set system.ncpus=2");
    ck_assert_msg(rc == 7, "rc %d: %s", rc, out);
    free(out);
    char *p;
    size_t len;
    ck_assert(asprintf(&p, "%s/out/config.json", dir) > 0);
    char *cfg = read_whole_file(p, &len);
    ck_assert_ptr_nonnull(cfg);
    ck_assert_msg(strstr(cfg, "\"path\": \"system\", \"type\": \"System\""), "%s", cfg);
    ck_assert_msg(strstr(cfg, "\"ncpus\": 2"), "%s", cfg);
    free(cfg);
    free(p);
    ck_assert(asprintf(&p, "%s/out/stats.json", dir) > 0);
    char *js = read_whole_file(p, &len);
    ck_assert_ptr_nonnull(js);
    ck_assert(strstr(js, "\"reason\": \"mid\""));
    ck_assert(strstr(js, "\"reason\": \"exit\""));
    free(js);
    free(p);
    ck_assert(asprintf(&p, "%s/out/stats.txt", dir) > 0);
    ck_assert_int_eq(access(p, R_OK), 0);
    free(p);
}
END_TEST

START_TEST(test_bad_arguments_exit_2)
{
    char *out;
    ck_assert_int_eq(run_tandem(&out, "%s", ""), 2);
    ck_assert(strstr(out, "usage: tandem run CONFIG.lua"));
    free(out);
    ck_assert_int_eq(run_tandem(&out, "frobnicate"), 2);
    ck_assert(strstr(out, "unknown command 'frobnicate'"));
    free(out);
    ck_assert_int_eq(run_tandem(&out, "run"), 2);
    ck_assert(strstr(out, "'run' needs a CONFIG.lua"));
    free(out);
    ck_assert_int_eq(run_tandem(&out, "run x.lua --debug-flags Nope"), 2);
    ck_assert(strstr(out, "unknown debug flag 'Nope'"));
    free(out);
    ck_assert_int_eq(run_tandem(&out, "run x.lua --set nodot"), 2);
    ck_assert(strstr(out, "expected OBJECT.PARAM=VALUE"));
    free(out);
    ck_assert_int_eq(run_tandem(&out, "run x.lua --bogus"), 2);
    free(out);
    ck_assert_int_eq(run_tandem(&out, "run /nonexistent/x.lua --quiet"), 1);
    ck_assert(strstr(out, "cannot open /nonexistent/x.lua"));
    free(out);
}
END_TEST

START_TEST(test_help_version_list)
{
    char *out;
    ck_assert_int_eq(run_tandem(&out, "--help"), 0);
    ck_assert(strstr(out, "--debug-flags"));
    free(out);
    ck_assert_int_eq(run_tandem(&out, "--version"), 0);
    ck_assert(strstr(out, "tandem "));
    free(out);
    ck_assert_int_eq(run_tandem(&out, "list-types"), 0);
    ck_assert(strstr(out, "System\n"));
    ck_assert(strstr(out, "mem_size"));
    free(out);
    ck_assert_int_eq(run_tandem(&out, "list-types Nope"), 1);
    free(out);
    ck_assert_int_eq(run_tandem(&out, "list-flags"), 0);
    ck_assert(strstr(out, "Event"));
    free(out);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cli");
    TCase *tc = tcase_create("cli");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, test_unknown_param_names_file_line);
    tcase_add_test(tc, test_wrong_type_and_range);
    tcase_add_test(tc, test_lua_errors);
    tcase_add_test(tc, test_error_after_devices_exist);
    tcase_add_test(tc, test_bad_timing_option);
    tcase_add_test(tc, test_run_writes_outputs);
    tcase_add_test(tc, test_bad_arguments_exit_2);
    tcase_add_test(tc, test_help_version_list);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
