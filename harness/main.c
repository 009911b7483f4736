/*
 * harness/main.c: the mergelab command line, git-style subcommands.
 * Exit codes (the contract with CI): 0 ok, 1 regression found, 2 bad input
 * or usage, 3 a run failed. Only this file prints errors or exits.
 */
#include "core/error.h"
#include "core/fs.h"
#include "harness/gate.h"
#include "harness/provenance.h"
#include "harness/results.h"
#include "harness/runner.h"
#include "harness/suite.h"
#include "harness/version.h"
#include "reports/report.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { EXIT_OK = 0, EXIT_REGRESSION = 1, EXIT_USAGE = 2, EXIT_FAILED = 3 };

typedef struct {
    const char *name;
    int (*fn)(int, char **);
    const char *usage;
    const char *help;
} ml_cmd;

static const ml_cmd *find_cmd(const char *name);

/* Maps a library error to an exit code and prints it. */
static int fail(int error) {
    const ml_error *e = ml_error_last();
    fprintf(stderr, "mergelab: error: %s\n", e->message[0] ? e->message : ml_error_name(error));
    switch (error) {
    case ML_EINVALID: case ML_ENOTFOUND: case ML_EDATA: return EXIT_USAGE;
    default: return EXIT_FAILED;
    }
}

static int usage_error(const char *cmd, const char *fmt, const char *arg) {
    fprintf(stderr, "mergelab %s: ", cmd);
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nusage: mergelab %s\n", find_cmd(cmd)->usage);
    return EXIT_USAGE;
}

static int wants_help(int argc, char **argv) {
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) return 1;
    return 0;
}

static void print_cmd_help(const ml_cmd *c) { printf("usage: mergelab %s\n\n%s\n", c->usage, c->help); }

static void join_args(char *buf, size_t size, int argc, char **argv) {
    size_t used = (size_t)snprintf(buf, size, "mergelab");
    for (int i = 0; i < argc && used < size; i++) used += (size_t)snprintf(buf + used, size - used, " %s", argv[i]);
}

static int cmd_run(int argc, char **argv) {
    const char *suite_path = NULL, *outdir = NULL;
    char outbuf[PATH_MAX], path[PATH_MAX], cmdline[2048], when[32];
    ml_run_options opt = { 0, 1 };
    ml_suite *s = NULL;
    cJSON *run = NULL, *prov = NULL, *doc = NULL;
    int error, rc = EXIT_OK;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-o") && i + 1 < argc) outdir = argv[++i];
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
            char *end;
            long t = strtol(argv[++i], &end, 10);
            if (*end || t < 1 || t > 256) return usage_error("run", "--threads wants 1..256, got '%s'", argv[i]);
            opt.threads = (int)t;
        } else if (!strcmp(argv[i], "--quiet")) opt.verbose = 0;
        else if (argv[i][0] == '-') return usage_error("run", "unknown option '%s'", argv[i]);
        else if (!suite_path) suite_path = argv[i];
        else return usage_error("run", "unexpected argument '%s'", argv[i]);
    }
    if (!suite_path) return usage_error("run", "%s", "missing SUITE");
    if ((error = ml_suite_load(&s, suite_path)) < 0) return fail(error);
    if (!outdir) { snprintf(outbuf, sizeof(outbuf), "out/%s", s->name); outdir = outbuf; }
    if (snprintf(path, sizeof(path), "%s/results.json", outdir) >= (int)sizeof(path)) {
        ml_suite_free(s);
        return usage_error("run", "output folder path too long: '%s'", outdir);
    }

    time_t started = time(NULL);
    struct timespec w0, w1;
    clock_gettime(CLOCK_MONOTONIC, &w0);
    clock_t c0 = clock();
    if ((error = ml_provenance_collect(&prov, ".", ml_build_commit, ml_build_cc, ml_build_cflags)) < 0 ||
        (error = ml_run_suite(&run, s, &opt)) < 0) {
        rc = fail(error);
        goto cleanup;
    }
    clock_gettime(CLOCK_MONOTONIC, &w1);

    /* assemble: schema, suite, provenance, then the run's own keys */
    doc = cJSON_CreateObject();
    cJSON_AddNumberToObject(doc, "schema_version", ML_RESULTS_SCHEMA_VERSION);
    cJSON *suite = cJSON_AddObjectToObject(doc, "suite");
    cJSON_AddStringToObject(suite, "name", s->name);
    cJSON_AddStringToObject(suite, "file", s->file);
    cJSON_AddStringToObject(suite, "sha256", s->sha256);
    cJSON_AddStringToObject(suite, "description", s->description);
    join_args(cmdline, sizeof(cmdline), argc, argv);
    cJSON_AddStringToObject(prov, "command", cmdline);
    ml_time_iso8601(when, sizeof(when), started);
    cJSON_AddStringToObject(prov, "started", when);
    ml_time_iso8601(when, sizeof(when), time(NULL));
    cJSON_AddStringToObject(prov, "finished", when);
    cJSON_AddNumberToObject(prov, "wall_seconds", (double)(w1.tv_sec - w0.tv_sec) + (w1.tv_nsec - w0.tv_nsec) * 1e-9);
    cJSON_AddNumberToObject(prov, "cpu_seconds", (double)(clock() - c0) / CLOCKS_PER_SEC);
    cJSON_AddItemToObject(prov, "seed", cJSON_DetachItemFromObjectCaseSensitive(run, "seed"));
    cJSON_AddItemToObject(prov, "data", cJSON_DetachItemFromObjectCaseSensitive(run, "data"));
    cJSON_AddItemToObject(doc, "provenance", prov);
    prov = NULL;
    for (cJSON *it = run->child; it; it = run->child)
        cJSON_AddItemToObject(doc, it->string, cJSON_DetachItemViaPointer(run, it));
    if ((error = ml_results_write(path, doc)) < 0) { rc = fail(error); goto cleanup; }

    /* one line per metric, grouped as they were recorded */
    const cJSON *metrics = cJSON_GetObjectItemCaseSensitive(doc, "metrics");
    for (const cJSON *m = metrics->child; m; m = m->next)
        printf("%-28s %10.4f\n", m->string, cJSON_IsNumber(m) ? m->valuedouble : NAN);
    printf("wrote %s (%.1f s)\n", path, (double)(w1.tv_sec - w0.tv_sec) + (w1.tv_nsec - w0.tv_nsec) * 1e-9);
cleanup:
    cJSON_Delete(doc);
    cJSON_Delete(prov);
    cJSON_Delete(run);
    ml_suite_free(s);
    return rc;
}

static int cmd_validate(int argc, char **argv) {
    ml_suite *s = NULL;
    int error;
    if (argc != 2 || argv[1][0] == '-') return usage_error("validate", "%s", "expected exactly one SUITE");
    if ((error = ml_suite_load(&s, argv[1])) < 0) return fail(error);
    printf("%s: ok (suite \"%s\", %d specialists, %d merges, %d gate rules)\n", argv[1], s->name, s->nspecialists,
           s->nmerges, s->ngate);
    ml_suite_free(s);
    return EXIT_OK;
}

static int cmd_check(int argc, char **argv) {
    const char *results = NULL, *baseline = NULL, *junit = NULL, *markdown = NULL;
    cJSON *r = NULL, *b = NULL;
    ml_gate_summary sum;
    ml_gate_rows rows = { 0 };
    int error, rc;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--baseline") && i + 1 < argc) baseline = argv[++i];
        else if (!strcmp(argv[i], "--junit") && i + 1 < argc) junit = argv[++i];
        else if (!strcmp(argv[i], "--markdown") && i + 1 < argc) markdown = argv[++i];
        else if (argv[i][0] == '-') return usage_error("check", "unknown option '%s'", argv[i]);
        else if (!results) results = argv[i];
        else return usage_error("check", "unexpected argument '%s'", argv[i]);
    }
    if (!results || !baseline) return usage_error("check", "%s", "need RESULTS and --baseline FILE");
    if (!ml_fs_exists(baseline)) {
        fprintf(stderr, "mergelab check: no baseline: '%s' does not exist (create it with: mergelab bless %s --baseline %s)\n",
                baseline, results, baseline);
        return EXIT_USAGE;
    }
    if ((error = ml_results_load(&r, results)) < 0 || (error = ml_results_load(&b, baseline)) < 0) {
        rc = fail(error);
        goto cleanup;
    }
    if ((error = ml_gate_check(&sum, stdout, r, b, &rows)) < 0) { rc = fail(error); goto cleanup; }
    {
        const cJSON *sn = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(r, "suite"), "name");
        const char *suite = cJSON_IsString(sn) ? sn->valuestring : results;
        if ((junit && (error = ml_gate_write_junit(junit, suite, &rows, &sum)) < 0) ||
            (markdown && (error = ml_gate_write_markdown(markdown, suite, &rows, &sum)) < 0)) {
            rc = fail(error);
            goto cleanup;
        }
    }
    rc = sum.regressed ? EXIT_REGRESSION : EXIT_OK;
    printf("%d metrics: %d regressed, %d ok, %d improved, %d untracked, %d new -> exit %d\n", sum.total,
           sum.regressed, sum.ok, sum.improved, sum.untracked, sum.added, rc);
cleanup:
    ml_gate_rows_free(&rows);
    cJSON_Delete(r);
    cJSON_Delete(b);
    return rc;
}

static int cmd_bless(int argc, char **argv) {
    const char *results = NULL, *baseline = NULL;
    char def[PATH_MAX];
    cJSON *r = NULL;
    int error;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--baseline") && i + 1 < argc) baseline = argv[++i];
        else if (argv[i][0] == '-') return usage_error("bless", "unknown option '%s'", argv[i]);
        else if (!results) results = argv[i];
        else return usage_error("bless", "unexpected argument '%s'", argv[i]);
    }
    if (!results) return usage_error("bless", "%s", "missing RESULTS");
    if (!baseline) {
        if ((error = ml_results_load(&r, results)) < 0) return fail(error);
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(r, "suite"), "name");
        if (!cJSON_IsString(name)) {
            cJSON_Delete(r);
            fprintf(stderr, "mergelab bless: %s: $.suite.name missing; pass --baseline FILE\n", results);
            return EXIT_USAGE;
        }
        snprintf(def, sizeof(def), "fixtures/baselines/%s.json", name->valuestring);
        baseline = def;
        cJSON_Delete(r);
    }
    if ((error = ml_gate_bless(baseline, results, ml_build_commit)) < 0) return fail(error);
    printf("blessed %s as %s (build %s)\n", results, baseline, ml_build_commit);
    return EXIT_OK;
}

static int cmd_report(int argc, char **argv) {
    const char *results = NULL, *outdir = NULL;
    char def[PATH_MAX];
    int error;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-o") && i + 1 < argc) outdir = argv[++i];
        else if (argv[i][0] == '-') return usage_error("report", "unknown option '%s'", argv[i]);
        else if (!results) results = argv[i];
        else return usage_error("report", "unexpected argument '%s'", argv[i]);
    }
    if (!results) return usage_error("report", "%s", "missing RESULTS");
    if (!outdir) {
        const char *slash = strrchr(results, '/');
        if (slash) snprintf(def, sizeof(def), "%.*s/report", (int)(slash - results), results);
        else snprintf(def, sizeof(def), "report");
        outdir = def;
    }
    if ((error = ml_report_write(results, outdir)) < 0) return fail(error);
    printf("wrote %s/index.html\n", outdir);
    return EXIT_OK;
}

static int cmd_help(int argc, char **argv);

static const ml_cmd cmds[] = {
    { "run", cmd_run, "run SUITE [-o DIR] [--threads N] [--quiet]",
      "Runs every phase of a suite and writes DIR/results.json atomically\n"
      "(default DIR: out/<suite name>). Exit 0, 2 on a bad suite, 3 when a run fails." },
    { "validate", cmd_validate, "validate SUITE", "Checks a suite without running it. Exit 0 or 2." },
    { "check", cmd_check, "check RESULTS --baseline FILE [--junit FILE] [--markdown FILE]",
      "Gates each metric of RESULTS against FILE with the suite's tolerances\n"
      "(atol + rtol*|baseline|). --junit writes JUnit XML (one testcase per gated metric),\n"
      "--markdown a summary table for a CI job page.\n"
      "Exit 0 all hold, 1 a regression, 2 bad input or no baseline." },
    { "bless", cmd_bless, "bless RESULTS [--baseline FILE]",
      "Makes RESULTS the new baseline (default fixtures/baselines/<suite>.json), recording the build commit." },
    { "report", cmd_report, "report RESULTS [-o DIR]",
      "Writes figures (PNG, SVG) and DIR/index.html (default: report/ beside RESULTS)." },
    { "help", cmd_help, "help [COMMAND]", "Shows the commands, or one command's usage." },
    { 0 }
};

static const ml_cmd *find_cmd(const char *name) {
    for (const ml_cmd *c = cmds; c->name; c++)
        if (!strcmp(c->name, name)) return c;
    return NULL;
}

static void print_overview(FILE *f) {
    fprintf(f, "usage: mergelab COMMAND [ARGS]   (mergelab COMMAND --help for details)\n\ncommands:\n");
    for (const ml_cmd *c = cmds; c->name; c++) fprintf(f, "  %-45s\n", c->usage);
    fprintf(f, "\nexit codes: 0 ok, 1 regression found, 2 bad input or usage, 3 a run failed\n");
}

static int cmd_help(int argc, char **argv) {
    if (argc >= 2) {
        const ml_cmd *c = find_cmd(argv[1]);
        if (!c) return usage_error("help", "unknown command '%s'", argv[1]);
        print_cmd_help(c);
        return EXIT_OK;
    }
    print_overview(stdout);
    return EXIT_OK;
}

int main(int argc, char **argv) {
    if (argc < 2) { print_overview(stderr); return EXIT_USAGE; }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
        printf("mergelab %s\n", ml_build_commit);
        return EXIT_OK;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) { print_overview(stdout); return EXIT_OK; }
    const ml_cmd *c = find_cmd(argv[1]);
    if (!c) {
        fprintf(stderr, "mergelab: unknown command '%s'; see 'mergelab help'\n", argv[1]);
        return EXIT_USAGE;
    }
    if (wants_help(argc - 1, argv + 1)) { print_cmd_help(c); return EXIT_OK; }
    return c->fn(argc - 1, argv + 1);
}
