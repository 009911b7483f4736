/*
 * cli/store.c: reading the results store: `show` and `compare`
 * (`history` is in cli_history.c). Means, intervals and verdicts are across the seeds of each
 * group of cells (aggregate.h); verdicts follow analysis/verdict.h, the rule
 * check and history use: "better" or "WORSE" only beyond the gate rule's
 * tolerance and, with two or more seeds a side, beyond the seeds' noise.
 */
#include "cli/cli.h"
#include "analysis/aggregate.h"
#include "analysis/findings.h"
#include "analysis/gate.h"
#include "analysis/verdict.h"
#include "store/gitwork.h"
#include "store/provenance.h"
#include "store/results.h"
#include "store/store.h"
#include "reports/report.h"
#include "core/error.h"
#include "core/fs.h"

#include <dirent.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *str(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static const char *or_dash(const char *s) { return s && *s ? s : "-"; }

/* ---- show -------------------------------------------------------------- */

static void print_value(const cJSON *v) {
    char *t = cJSON_PrintUnformatted(v);
    printf("%s", t ? t : "?");
    free(t);
}

int ml_cmd_show(int argc, char **argv) {
    const char *path = NULL;
    int cells_detail = 0, error;
    cJSON *doc = NULL;
    ml_agg agg = { 0 };
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--cells")) cells_detail = 1;
        else if (argv[i][0] == '-') return ml_cli_usage("show", "unknown option '%s'", argv[i]);
        else if (!path) path = argv[i];
        else return ml_cli_usage("show", "unexpected argument '%s'", argv[i]);
    }
    if (!path) return ml_cli_usage("show", "%s", "missing RESULTS");
    if ((error = ml_results_load(&doc, path)) < 0) return ml_cli_fail(error);
    const cJSON *suite = cJSON_GetObjectItemCaseSensitive(doc, "suite");
    const cJSON *prov = cJSON_GetObjectItemCaseSensitive(doc, "provenance");
    const cJSON *repo = cJSON_GetObjectItemCaseSensitive(prov, "repository");
    const cJSON *build = cJSON_GetObjectItemCaseSensitive(prov, "build");
    const cJSON *blas = cJSON_GetObjectItemCaseSensitive(prov, "blas");
    const cJSON *host = cJSON_GetObjectItemCaseSensitive(prov, "host");
    printf("%s\n", path);
    printf("  suite       %s (%s, sha256 %.16s)\n", or_dash(str(suite, "name")), or_dash(str(suite, "file")),
           or_dash(str(suite, "sha256")));
    if (cJSON_GetObjectItemCaseSensitive(doc, "upgraded_from_schema")) printf("  schema      1 (read as one cell)\n");
    printf("  command     %s\n", or_dash(str(prov, "command")));
    const cJSON *wall = cJSON_GetObjectItemCaseSensitive(prov, "wall_seconds");
    const cJSON *cpu = cJSON_GetObjectItemCaseSensitive(prov, "cpu_seconds");
    printf("  when        %s to %s (wall %.1f s, cpu %.1f s)\n", or_dash(str(prov, "started")),
           or_dash(str(prov, "finished")), cJSON_IsNumber(wall) ? wall->valuedouble : NAN,
           cJSON_IsNumber(cpu) ? cpu->valuedouble : NAN);
    if (cJSON_IsObject(repo)) {
        int dirty = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(repo, "dirty"));
        printf("  repository  %s at %s (branch %s)%s%s\n", or_dash(str(repo, "path")), or_dash(str(repo, "commit")),
               or_dash(str(repo, "branch")), dirty ? ", DIRTY: uncommitted diff sha256 " : ", clean",
               dirty ? or_dash(str(repo, "diff_sha256")) : "");
        if (str(repo, "tree")) printf("  tree        %s\n", str(repo, "tree"));
    } else {
        printf("  repository  none (%s)\n", or_dash(str(prov, "repository_error")));
    }
    printf("  build       %s; %s\n", or_dash(str(build, "commit")), or_dash(str(build, "compiler")));
    printf("  cflags      %s\n", or_dash(str(build, "cflags")));
    const cJSON *bt = cJSON_GetObjectItemCaseSensitive(blas, "threads");
    char plat[400];
    ml_results_platform(plat, sizeof(plat), doc, 1);
    printf("  platform    %s\n", plat);
    printf("  blas        %s; core %s; %.6g thread%s; env ", or_dash(str(blas, "config")), or_dash(str(blas, "corename")),
           cJSON_IsNumber(bt) ? bt->valuedouble : 0.0, cJSON_IsNumber(bt) && bt->valuedouble == 1 ? "" : "s");
    print_value(cJSON_GetObjectItemCaseSensitive(blas, "env"));
    const cJSON *nc = cJSON_GetObjectItemCaseSensitive(host, "ncpu");
    printf("\n  host        %s (%s), %s, %.6g cpus\n", or_dash(str(host, "hostname")), or_dash(str(prov, "machine")),
           or_dash(str(host, "os")), cJSON_IsNumber(nc) ? nc->valuedouble : 0.0);
    printf("  cpu         %s\n", or_dash(str(host, "cpu")));
    printf("  libraries   ");
    print_value(cJSON_GetObjectItemCaseSensitive(prov, "libraries"));
    printf("\n  seeds       ");
    print_value(cJSON_GetObjectItemCaseSensitive(prov, "seeds") ? cJSON_GetObjectItemCaseSensitive(prov, "seeds")
                                                               : cJSON_GetObjectItemCaseSensitive(prov, "seed"));
    printf("\n  matrix      ");
    print_value(cJSON_GetObjectItemCaseSensitive(doc, "matrix"));
    printf("\n  data\n");
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(prov, "data");
    for (const cJSON *d = data ? data->child : NULL; d; d = d->next)
        printf("    %-40s %s\n", or_dash(str(d, "name") ? str(d, "name") : str(d, "path")), or_dash(str(d, "sha256")));

    const cJSON *cells = cJSON_GetObjectItemCaseSensitive(doc, "cells");
    const cJSON *missing = cJSON_GetObjectItemCaseSensitive(doc, "missing");
    printf("\ncells: %d%s\n", cJSON_GetArraySize(cells),
           cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(doc, "complete")) ? " (INCOMPLETE)" : "");
    for (const cJSON *c = cells->child; c; c = c->next) {
        const cJSON *w = cJSON_GetObjectItemCaseSensitive(c, "wall_seconds");
        const cJSON *cp = cJSON_GetObjectItemCaseSensitive(c, "cpu_seconds");
        printf("  %-44s %-6s wall %7.1f s  cpu %7.1f s  id %.12s\n", str(c, "name"), str(c, "status"),
               cJSON_IsNumber(w) ? w->valuedouble : NAN, cJSON_IsNumber(cp) ? cp->valuedouble : NAN,
               or_dash(str(c, "id")));
        if (str(c, "error")) printf("      error: %s\n", str(c, "error"));
        if (cells_detail) {
            const cJSON *metrics = cJSON_GetObjectItemCaseSensitive(c, "metrics");
            for (const cJSON *m = metrics ? metrics->child : NULL; m; m = m->next)
                printf("      %-36s %.6g\n", m->string, cJSON_IsNumber(m) ? m->valuedouble : NAN);
        }
    }
    for (const cJSON *m = missing ? missing->child : NULL; m; m = m->next)
        printf("  %-44s not run\n", cJSON_IsString(m) ? m->valuestring : "?");

    if ((error = ml_agg_build(&agg, doc)) < 0) { cJSON_Delete(doc); return ml_cli_fail(error); }
    printf("\nmetrics (mean over seeds, 95%% t interval):\n");
    for (int i = 0; i < agg.n; i++) {
        const ml_agg_row *r = &agg.rows[i];
        if (r->n >= 2) printf("  %-52s %12.6g  [%.6g, %.6g]  n=%d\n", r->label, r->s.mean, r->s.lo, r->s.hi, r->n);
        else printf("  %-52s %12.6g  n=%d\n", r->label, r->s.mean, r->n);
    }
    ml_agg_free(&agg);
    cJSON_Delete(doc);
    return EXIT_OK;
}

/* ---- compare ----------------------------------------------------------- */

typedef struct {
    const char *root, *machine_opt, *suite;
    char machine[128];
} store_args;

static int store_opt(store_args *s, int *i, int argc, char **argv) {
    if (*i + 1 >= argc) return 0;
    if (!strcmp(argv[*i], "--results")) { s->root = argv[++*i]; return 1; }
    if (!strcmp(argv[*i], "--machine")) { s->machine_opt = argv[++*i]; return 1; }
    if (!strcmp(argv[*i], "--suite")) { s->suite = argv[++*i]; return 1; }
    return 0;
}

static void store_init(store_args *s) {
    memset(s, 0, sizeof(*s));
    s->root = ml_store_root();
}

static void store_machine(store_args *s) {
    if (s->machine_opt) snprintf(s->machine, sizeof(s->machine), "%s", s->machine_opt);
    else ml_store_machine(s->machine, sizeof(s->machine));
}

/* better / WORSE / same for one metric, by verdict.h's rule (check's and history's) */
static const char *verdict(const ml_agg_row *a, const ml_agg_row *b, const cJSON *rule, ml_diff *d, int across) {
    const char *dir = rule ? str(rule, "direction") : NULL;
    ml_verdict v;
    d->diff = b->s.mean - a->s.mean;
    d->lo = d->hi = d->df = NAN;
    if (a->n == 0 || b->n == 0) return "missing";
    ml_verdict_judge(&v, &a->s, &b->s, dir, rule ? ml_gate_tolerance(rule, a->s.mean, across) : 0.0);
    d->lo = v.lo;
    d->hi = v.hi;
    switch (v.kind) {
    case ML_VERDICT_SAME: return rule ? "same (within tolerance)" : "same";
    case ML_VERDICT_NOISE: return "same (within noise)";
    case ML_VERDICT_BETTER: return "better";
    case ML_VERDICT_WORSE: return "WORSE";
    case ML_VERDICT_CHANGED: return "changed";
    }
    return "?";
}

static int compare_suite(const char *pa, const char *pb, const char *ra, const char *rb) {
    cJSON *a = NULL, *b = NULL;
    ml_agg ga = { 0 }, gb = { 0 };
    int error, worse = 0, better = 0, same = 0;
    if ((error = ml_results_load(&a, pa)) < 0 || (error = ml_results_load(&b, pb)) < 0 ||
        (error = ml_agg_build(&ga, a)) < 0 || (error = ml_agg_build(&gb, b)) < 0)
        goto cleanup;
    const cJSON *gate = cJSON_GetObjectItemCaseSensitive(b, "gate");
    printf("suite %s: %s (%s) -> %s (%s)\n", or_dash(str(cJSON_GetObjectItemCaseSensitive(b, "suite"), "name")), ra, pa,
           rb, pb);
    char plat_a[160], plat_b[160];
    int known = ml_results_platform(plat_a, sizeof(plat_a), a, 0) & ml_results_platform(plat_b, sizeof(plat_b), b, 0);
    int across = !known || strcmp(plat_a, plat_b);
    if (across) printf("different numeric platforms: A %s, B %s; compared within tolerance and noise\n", plat_a, plat_b);
    else printf("same numeric platform (%s)\n", plat_a);
    printf("%-48s %12s %12s %12s  %-26s %-5s %s\n", "metric", "A", "B", "B - A", "95% CI of B - A", "seeds",
           "verdict");
    for (int pass = 0; pass < 2; pass++) {
        const ml_agg *outer = pass ? &gb : &ga;
        for (int i = 0; i < outer->n; i++) {
            const ml_agg_row *r = &outer->rows[i];
            const ml_agg_row *x = ml_agg_find(&ga, r->group, r->metric), *y = ml_agg_find(&gb, r->group, r->metric);
            if (pass && x) continue;   /* printed in the first pass */
            ml_agg_row none = { 0 };
            none.s.mean = NAN;
            ml_diff d;
            const char *v = verdict(x ? x : &none, y ? y : &none, ml_gate_rule_for(gate, r->metric), &d, across);
            char ci[48] = "n/a", seeds[16];
            if (!isnan(d.lo)) snprintf(ci, sizeof(ci), "[%+.4g, %+.4g]", d.lo, d.hi);
            snprintf(seeds, sizeof(seeds), "%d/%d", x ? x->n : 0, y ? y->n : 0);
            printf("%-48s %12.6g %12.6g %+12.4g  %-26s %-5s %s\n", r->label, x ? x->s.mean : NAN, y ? y->s.mean : NAN,
                   d.diff, ci, seeds, v);
            worse += v[0] == 'W';
            better += v[0] == 'b';
            same += v[0] == 's';
        }
    }
    printf("%d better, %d worse, %d same\n\n", better, worse, same);
cleanup:
    ml_agg_free(&ga);
    ml_agg_free(&gb);
    cJSON_Delete(a);
    cJSON_Delete(b);
    return error;
}

int ml_cmd_compare(int argc, char **argv) {
    store_args sa;
    const char *rev[2] = { NULL, NULL };
    char hex[2][41], dir[2][PATH_MAX];
    int error, compared = 0;
    store_init(&sa);
    for (int i = 1; i < argc; i++) {
        if (store_opt(&sa, &i, argc, argv)) continue;
        if (argv[i][0] == '-') return ml_cli_usage("compare", "unknown option '%s'", argv[i]);
        if (!rev[0]) rev[0] = argv[i];
        else if (!rev[1]) rev[1] = argv[i];
        else return ml_cli_usage("compare", "unexpected argument '%s'", argv[i]);
    }
    if (!rev[1]) return ml_cli_usage("compare", "%s", "need REV_A and REV_B");
    store_machine(&sa);
    for (int k = 0; k < 2; k++) {
        if ((error = ml_git_resolve(hex[k], ".", rev[k])) < 0) return ml_cli_fail(error);
        snprintf(dir[k], sizeof(dir[k]), "%s/%s/%s", sa.root, sa.machine, hex[k]);
    }
    DIR *d = opendir(dir[0]);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        size_t n = strlen(e->d_name);
        char name[256], pa[PATH_MAX + 300], pb[PATH_MAX + 300];
        if (n < 6 || strcmp(e->d_name + n - 5, ".json") || n - 5 >= sizeof(name)) continue;
        snprintf(name, sizeof(name), "%.*s", (int)(n - 5), e->d_name);
        if (sa.suite && strcmp(sa.suite, name)) continue;
        snprintf(pa, sizeof(pa), "%s/%s", dir[0], e->d_name);
        snprintf(pb, sizeof(pb), "%s/%s", dir[1], e->d_name);
        if (!ml_fs_exists(pb)) continue;
        char la[80], lb[80];
        snprintf(la, sizeof(la), "%s %.12s", rev[0], hex[0]);
        snprintf(lb, sizeof(lb), "%s %.12s", rev[1], hex[1]);
        if ((error = compare_suite(pa, pb, la, lb)) < 0) { closedir(d); return ml_cli_fail(error); }
        compared++;
    }
    if (d) closedir(d);
    if (!compared) {
        for (int k = 0; k < 2; k++)
            if (!ml_fs_exists(dir[k]))
                fprintf(stderr, "mergelab compare: no results for %s (%.12s) in %s/%s; measure it with: mergelab run SUITE "
                        "--commits %s~1..%s\n", rev[k], hex[k], sa.root, sa.machine, rev[k], rev[k]);
        fprintf(stderr, "mergelab compare: no suite%s%s has results for both commits\n", sa.suite ? " " : "",
                sa.suite ? sa.suite : "");
        return EXIT_USAGE;
    }
    return EXIT_OK;
}

/* ---- findings ---------------------------------------------------------- */

int ml_cmd_findings(int argc, char **argv) {
    const char *path = NULL, *check = "F1,F2,F3,F4", *metric = NULL;
    ml_findings_spec spec;
    cJSON *doc = NULL, *rows = NULL;
    int error;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--check") && i + 1 < argc) check = argv[++i];
        else if (!strcmp(argv[i], "--metric") && i + 1 < argc) metric = argv[++i];
        else if (argv[i][0] == '-') return ml_cli_usage("findings", "unknown option '%s'", argv[i]);
        else if (!path) path = argv[i];
        else return ml_cli_usage("findings", "unexpected argument '%s'", argv[i]);
    }
    if (!path) return ml_cli_usage("findings", "%s", "missing RESULTS");
    memset(&spec, 0, sizeof(spec));
    if (metric) snprintf(spec.metric, sizeof(spec.metric), "%s", metric);
    char buf[64];
    snprintf(buf, sizeof(buf), "%s", check);
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (spec.n == ML_FINDINGS_MAX || strlen(t) >= sizeof(spec.ids[0]))
            return ml_cli_usage("findings", "--check '%s': expected a comma list of F1, F2, F3, F4", check);
        snprintf(spec.ids[spec.n++], sizeof(spec.ids[0]), "%s", t);
    }
    if ((error = ml_results_load(&doc, path)) < 0 || (error = ml_findings_eval(&rows, doc, &spec)) < 0) {
        cJSON_Delete(doc);
        return ml_cli_fail(error == ML_EINVALID ? ML_EINVALID : error);
    }
    printf("%-28s %-13s %10s  %-24s %s\n", "finding", "verdict", "effect", "95% CI", "n");
    for (const cJSON *f = rows->child; f; f = f->next) {
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(f, "effect"), *lo = cJSON_GetObjectItemCaseSensitive(f, "ci_lo"),
                    *hi = cJSON_GetObjectItemCaseSensitive(f, "ci_hi"), *n = cJSON_GetObjectItemCaseSensitive(f, "n");
        char ci[48] = "n/a";
        if (cJSON_IsNumber(lo) && cJSON_IsNumber(hi)) snprintf(ci, sizeof(ci), "[%+.4g, %+.4g]", lo->valuedouble, hi->valuedouble);
        printf("%-28s %-13s %+10.4g  %-24s %.6g\n    %s\n    %s\n", str(f, "id"), str(f, "verdict"),
               cJSON_IsNumber(e) ? e->valuedouble : NAN, ci, cJSON_IsNumber(n) ? n->valuedouble : 0.0,
               str(f, "statement"), str(f, "detail"));
    }
    cJSON_Delete(rows);
    cJSON_Delete(doc);
    return EXIT_OK;
}
