/*
 * cli/history.c: `history` and `report`, and the history series both draw from
 * the results store.
 * Owns: walking a first-parent line of commits through the store, one series per
 *       (suite, group, metric) with its 95% interval across seeds at every measured
 *       commit, and flagging a commit whose value is worse than the previous measured
 *       one by the gate's rule (tolerance, and noise when both sides have two or more
 *       seeds: the same verdict as `compare`).
 * Not here: the statistics (core/stats.c), the gate rules (gate.c), drawing (reports/).
 * "time/<key>" metrics read timing.<key> of every finished cell (e.g.
 * time/finetune_ms_per_step); they are never gated, so their rule here is fixed: lower is
 * better and a change within 10% is not flagged.
 */
#include "cli/cli.h"
#include "analysis/aggregate.h"
#include "analysis/gate.h"
#include "analysis/verdict.h"
#include "store/gitwork.h"
#include "store/results.h"
#include "store/store.h"
#include "reports/report.h"
#include "core/error.h"
#include "core/fs.h"
#include "core/stats.h"

#include <dirent.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_SERIES 8

typedef struct {
    char suite[128], group[256], metric[128];
    char label[560];             /* "metric", "group: metric", with the suite when several */
    ml_summary *pt;              /* (ncommits) n == 0 where not measured */
    double *mean, *lo, *hi;      /* (ncommits) for drawing */
    unsigned char *flag;         /* (ncommits) 1 = regressed against the previous point */
    cJSON *rule;                 /* the gate rule used (owned) */
} hist_series;

typedef struct {
    int n;                       /* commits on the line */
    ml_git_commit *commits;
    char (*label)[16];           /* (n) short hashes */
    char (*platform)[160];       /* (n) numeric platform of each commit's results ("" = none read) */
    hist_series s[MAX_SERIES];
    int ns;
} hist;

static void hist_free(hist *h) {
    for (int k = 0; k < h->ns; k++) {
        free(h->s[k].pt);
        free(h->s[k].mean);
        free(h->s[k].lo);
        free(h->s[k].hi);
        free(h->s[k].flag);
        cJSON_Delete(h->s[k].rule);
    }
    free(h->commits);
    free(h->label);
    free(h->platform);
    memset(h, 0, sizeof(*h));
}

static hist_series *series_for(hist *h, const char *suite, const char *group, const char *metric,
                               const cJSON *gate) {
    for (int k = 0; k < h->ns; k++)
        if (!strcmp(h->s[k].suite, suite) && !strcmp(h->s[k].group, group) && !strcmp(h->s[k].metric, metric))
            return &h->s[k];
    if (h->ns == MAX_SERIES) return NULL;
    hist_series *s = &h->s[h->ns];
    memset(s, 0, sizeof(*s));
    size_t n = (size_t)(h->n ? h->n : 1);
    s->pt = calloc(n, sizeof(*s->pt));
    s->mean = malloc(n * sizeof(double));
    s->lo = malloc(n * sizeof(double));
    s->hi = malloc(n * sizeof(double));
    s->flag = calloc(n, 1);
    if (!s->pt || !s->mean || !s->lo || !s->hi || !s->flag) {
        free(s->pt); free(s->mean); free(s->lo); free(s->hi); free(s->flag);
        return NULL;
    }
    snprintf(s->suite, sizeof(s->suite), "%s", suite);
    snprintf(s->group, sizeof(s->group), "%s", group);
    snprintf(s->metric, sizeof(s->metric), "%s", metric);
    if (!strncmp(metric, "time/", 5))
        s->rule = cJSON_Parse("{\"direction\": \"lower\", \"atol\": 0, \"rtol\": 0.1}");
    else {
        const cJSON *r = ml_gate_rule_for(gate, metric);
        s->rule = r ? cJSON_Duplicate(r, 1) : NULL;
    }
    h->ns++;
    return s;
}

/* The per-group summaries of timing.<key> over the finished cells. */
static void time_rows(hist *h, const cJSON *doc, const char *suite, const char *metric, const char *want_group,
                      int c) {
    const char *key = metric + 5;
    const cJSON *cells = cJSON_GetObjectItemCaseSensitive(doc, "cells");
    const cJSON *gate = cJSON_GetObjectItemCaseSensitive(doc, "gate");
    for (const cJSON *a = cells ? cells->child : NULL; a; a = a->next) {
        const char *g = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(a, "group"));
        if (!g) g = "default";
        if (want_group && strcmp(g, want_group)) continue;
        hist_series *s = series_for(h, suite, g, metric, gate);
        if (!s || s->pt[c].n) continue;   /* this group at this commit is done */
        double v[256];
        int n = 0;
        for (const cJSON *b = a; b && n < 256; b = b->next) {
            const char *gb = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(b, "group"));
            const cJSON *st = cJSON_GetObjectItemCaseSensitive(b, "status");
            const cJSON *t = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(b, "timing"), key);
            if (strcmp(gb ? gb : "default", g) || !cJSON_IsString(st) || strcmp(st->valuestring, "ok")) continue;
            if (cJSON_IsNumber(t)) v[n++] = t->valuedouble;
        }
        ml_stats_summary(&s->pt[c], v, n);
    }
}

/* 1 when cur is worse than prev by s's rule (verdict.h, as check and
 * compare judge); across: the two were computed on different numeric
 * platforms. */
static int worse(const hist_series *s, const ml_summary *prev, const ml_summary *cur, int across) {
    const cJSON *dir = cJSON_GetObjectItemCaseSensitive(s->rule, "direction");
    double tol = s->rule ? ml_gate_tolerance(s->rule, prev->mean, across) : 0.0;
    ml_verdict v;
    ml_verdict_judge(&v, prev, cur, cJSON_IsString(dir) ? dir->valuestring : NULL, tol);
    return v.kind == ML_VERDICT_WORSE;
}

/* Walks rev's first-parent line (at most limit commits, oldest first) through the store
 * under root/machine and fills h. suite/group NULL = any. */
static int hist_collect(hist *h, const char *root, const char *machine, const char *rev, int limit,
                        const char *suite, const char *group, const char *const *metrics, int nmetrics) {
    int error;
    memset(h, 0, sizeof(*h));
    if ((error = ml_git_log(&h->commits, &h->n, ".", rev, limit)) < 0) return error;
    if (!(h->platform = calloc((size_t)(h->n ? h->n : 1), sizeof(*h->platform))))
        return ml_error_set(ML_ENOMEM, "out of memory");
    for (int c = 0; c < h->n; c++) {
        char dir[PATH_MAX];
        snprintf(dir, sizeof(dir), "%s/%s/%s", root, machine, h->commits[c].hex);
        DIR *d = opendir(dir);
        struct dirent *e;
        while (d && (e = readdir(d))) {
            size_t len = strlen(e->d_name);
            char name[128], path[PATH_MAX + 300];
            cJSON *doc = NULL;
            ml_agg agg = { 0 };
            if (len < 6 || strcmp(e->d_name + len - 5, ".json") || len - 5 >= sizeof(name)) continue;
            snprintf(name, sizeof(name), "%.*s", (int)(len - 5), e->d_name);
            if (suite && strcmp(suite, name)) continue;
            snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
            if (ml_results_load(&doc, path) < 0 || ml_agg_build(&agg, doc) < 0) {
                fprintf(stderr, "mergelab: history: skipping %s: %s\n", path, ml_error_last()->message);
                cJSON_Delete(doc);
                continue;
            }
            const cJSON *gate = cJSON_GetObjectItemCaseSensitive(doc, "gate");
            if (!h->platform[c][0]) ml_results_platform(h->platform[c], sizeof(h->platform[c]), doc, 0);
            for (int m = 0; m < nmetrics; m++) {
                if (!strncmp(metrics[m], "time/", 5)) { time_rows(h, doc, name, metrics[m], group, c); continue; }
                for (int i = 0; i < agg.n; i++) {
                    const ml_agg_row *r = &agg.rows[i];
                    if (strcmp(r->metric, metrics[m]) || (group && strcmp(r->group, group))) continue;
                    hist_series *s = series_for(h, name, r->group, r->metric, gate);
                    if (s) s->pt[c] = r->s;
                }
            }
            ml_agg_free(&agg);
            cJSON_Delete(doc);
        }
        if (d) closedir(d);
    }
    /* keep the measured commits only, so the x axis is not mostly gaps */
    int m = 0;
    for (int c = 0; c < h->n; c++) {
        int any = 0;
        for (int k = 0; k < h->ns; k++) any |= h->s[k].pt[c].n > 0;
        if (!any) continue;
        h->commits[m] = h->commits[c];
        memmove(h->platform[m], h->platform[c], sizeof(h->platform[m]));
        for (int k = 0; k < h->ns; k++) h->s[k].pt[m] = h->s[k].pt[c];
        m++;
    }
    h->n = m;
    if (!(h->label = calloc((size_t)(m ? m : 1), sizeof(*h->label)))) return ml_error_set(ML_ENOMEM, "out of memory");
    for (int c = 0; c < m; c++) snprintf(h->label[c], sizeof(h->label[c]), "%.7s", h->commits[c].hex);
    int suites_differ = 0;
    for (int k = 1; k < h->ns; k++) suites_differ |= strcmp(h->s[k].suite, h->s[0].suite) != 0;
    for (int k = 0; k < h->ns; k++) {
        hist_series *s = &h->s[k];
        const ml_summary *prev = NULL;
        int prev_c = -1;
        char lab[sizeof(s->label)];   /* GCC cannot tell s->label from the fields it is built of */
        if (suites_differ) snprintf(lab, sizeof(lab), "%s %s: %s", s->suite, s->group, s->metric);
        else if (strcmp(s->group, "default")) snprintf(lab, sizeof(lab), "%s: %s", s->group, s->metric);
        else snprintf(lab, sizeof(lab), "%s", s->metric);
        memcpy(s->label, lab, sizeof(lab));
        for (int c = 0; c < m; c++) {
            const ml_summary *p = &s->pt[c];
            s->mean[c] = p->n ? p->mean : NAN;
            s->lo[c] = p->n ? p->lo : NAN;
            s->hi[c] = p->n ? p->hi : NAN;
            s->flag[c] = 0;
            if (!p->n) continue;
            if (prev) s->flag[c] = (unsigned char)worse(s, prev, p, strcmp(h->platform[prev_c], h->platform[c]) != 0);
            prev = p;
            prev_c = c;
        }
    }
    return 0;
}

/* ---- history ----------------------------------------------------------- */

static ml_fig_format format_of(const char *path) {
    size_t n = strlen(path);
    if (n > 4 && !strcmp(path + n - 4, ".svg")) return ML_FIG_SVG;
    if (n > 4 && !strcmp(path + n - 4, ".pdf")) return ML_FIG_PDF;
    return ML_FIG_PNG;
}

int ml_cmd_history(int argc, char **argv) {
    const char *metric = NULL, *group = NULL, *rev = "HEAD", *plot = NULL, *root = ml_store_root(), *suite = NULL;
    const char *machine_opt = NULL;
    char machine[128];
    int csv = 0, limit = 1000, error, rc = EXIT_OK;
    hist h;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--group") && i + 1 < argc) group = argv[++i];
        else if (!strcmp(argv[i], "--rev") && i + 1 < argc) rev = argv[++i];
        else if (!strcmp(argv[i], "--results") && i + 1 < argc) root = argv[++i];
        else if (!strcmp(argv[i], "--machine") && i + 1 < argc) machine_opt = argv[++i];
        else if (!strcmp(argv[i], "--suite") && i + 1 < argc) suite = argv[++i];
        else if (!strcmp(argv[i], "--csv")) csv = 1;
        else if (!strcmp(argv[i], "--plot") && i + 1 < argc) plot = argv[++i];
        else if (!strcmp(argv[i], "--limit") && i + 1 < argc) {
            if (ml_cli_int("history", "--limit", argv[++i], 1, 1000000, &limit) < 0) return EXIT_USAGE;
        } else if (argv[i][0] == '-') return ml_cli_usage("history", "unknown option '%s'", argv[i]);
        else if (!metric) metric = argv[i];
        else return ml_cli_usage("history", "unexpected argument '%s'", argv[i]);
    }
    if (!metric) return ml_cli_usage("history", "%s", "missing METRIC");
    if (machine_opt) snprintf(machine, sizeof(machine), "%s", machine_opt);
    else ml_store_machine(machine, sizeof(machine));
    if ((error = hist_collect(&h, root, machine, rev, limit, suite, group, &metric, 1)) < 0) {
        hist_free(&h);
        return ml_cli_fail(error);
    }
    if (!h.ns) {
        fprintf(stderr, "mergelab history: no stored results hold %s on %s's line in %s/%s\n", metric, rev, root,
                machine);
        hist_free(&h);
        return EXIT_USAGE;
    }
    if (csv) printf("commit,date,suite,group,metric,n,mean,lo,hi,regressed\n");
    else printf("%-12s %-10s %-12s %-28s %12s  %-24s %-3s %s\n", "commit", "date", "suite", "group", metric, "95% CI",
                "n", "");
    for (int c = 0; c < h.n; c++) {
        char date[16];
        time_t t = (time_t)h.commits[c].time;
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(date, sizeof(date), "%Y-%m-%d", &tm);
        for (int k = 0; k < h.ns; k++) {
            const hist_series *s = &h.s[k];
            const ml_summary *p = &s->pt[c];
            if (!p->n) continue;
            if (csv)
                printf("%s,%s,%s,\"%s\",%s,%d,%.17g,%.17g,%.17g,%d\n", h.commits[c].hex, date, s->suite, s->group,
                       s->metric, p->n, p->mean, p->lo, p->hi, s->flag[c]);
            else {
                char ci[48] = "";
                if (p->n >= 2) snprintf(ci, sizeof(ci), "[%.6g, %.6g]", p->lo, p->hi);
                printf("%.12s %-10s %-12s %-28s %12.6g  %-24s %-3d %s\n", h.commits[c].hex, date, s->suite, s->group,
                       p->mean, ci, p->n, s->flag[c] ? "REGRESSED" : "");
                if (k == 0 && c > 0 && strcmp(h.platform[c - 1], h.platform[c]))
                    printf("%12s numeric platform changed here: %s -> %s (compared across platforms, not bit for bit)\n",
                           "", h.platform[c - 1], h.platform[c]);
            }
        }
    }
    if (plot) {
        ml_fig_series ser[MAX_SERIES];
        double *x = calloc((size_t)(h.n ? h.n : 1), sizeof(double));
        const char *labels[1024];
        int nl = h.n < 1024 ? h.n : 1024;
        for (int c = 0; c < nl; c++) labels[c] = h.label[c];
        for (int c = 0; x && c < h.n; c++) x[c] = c;
        for (int k = 0; k < h.ns; k++)
            ser[k] = (ml_fig_series){.name = h.s[k].label, .y = h.s[k].mean, .lo = h.s[k].lo, .hi = h.s[k].hi,
                                     .flag = h.s[k].flag};
        ml_fig_panel p = {.ylabel = metric, .series = ser, .nseries = h.ns, .ref_y = NAN};
        ml_fig_opts fo = { 0 };
        fo.source = h.n ? h.commits[h.n - 1].hex : NULL;
        error = !x ? ml_error_set(ML_ENOMEM, "out of memory plotting")
                   : ml_fig_panels(plot, format_of(plot), metric, "commit (oldest first)", x, nl, labels, &p, 1, &fo);
        free(x);
        if (error < 0) rc = ml_cli_fail(error);
        else if (!csv) printf("wrote %s\n", plot);
    }
    hist_free(&h);
    return rc;
}

/* ---- report ------------------------------------------------------------ */

static int parse_formats(const char *s, unsigned *out) {
    char buf[64];
    *out = 0;
    snprintf(buf, sizeof(buf), "%s", s);
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (!strcmp(t, "png")) *out |= ML_FIG_PNG;
        else if (!strcmp(t, "svg")) *out |= ML_FIG_SVG;
        else if (!strcmp(t, "pdf")) *out |= ML_FIG_PDF;
        else return -1;
    }
    return *out ? 0 : -1;
}

static int parse_double(const char *opt, const char *v, double lo, double hi, double *out) {
    char *end;
    double d = strtod(v, &end);
    if (!*v || *end || !(d >= lo && d <= hi)) {
        fprintf(stderr, "mergelab report: %s '%s': expected a number in %g..%g\n", opt, v, lo, hi);
        return -1;
    }
    *out = d;
    return 0;
}

/* The history's default metrics: the direct fine-tune's headline metric and the
 * fine-tuning time per step. */
static void default_history_metrics(const cJSON *doc, const char **m, int *n) {
    const cJSON *cells = cJSON_GetObjectItemCaseSensitive(doc, "cells");
    const cJSON *met = cells && cells->child ? cJSON_GetObjectItemCaseSensitive(cells->child, "metrics") : NULL;
    *n = 0;
    if (cJSON_GetObjectItemCaseSensitive(met, "direct/test_acc")) m[(*n)++] = "direct/test_acc";
    else if (cJSON_GetObjectItemCaseSensitive(met, "direct/loss")) m[(*n)++] = "direct/loss";
    m[(*n)++] = "time/finetune_ms_per_step";
}

int ml_cmd_report(int argc, char **argv) {
    const char *results[64], *outdir = NULL, *baseline = NULL, *rev = "HEAD", *root = ml_store_root();
    const char *hmetrics[8];
    char def[PATH_MAX], machine[128];
    int nres = 0, nhm = 0, with_history = 0, error, rc = EXIT_OK;
    ml_report_opts o = { 0 };
    ml_report_gate_row *grows = NULL;
    ml_report_history hs[MAX_SERIES];
    ml_gate_rows rows = { 0 };
    cJSON *res0 = NULL, *base = NULL;
    hist h = { 0 };
    double d;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-o") && v) outdir = argv[++i];
        else if (!strcmp(a, "--baseline") && v) baseline = argv[++i];
        else if (!strcmp(a, "--formats") && v) {
            if (parse_formats(argv[++i], &o.formats) < 0)
                return ml_cli_usage("report", "--formats '%s': expected a comma list of png, svg, pdf", v);
        } else if (!strcmp(a, "--width-in") && v) {
            if (parse_double(a, argv[++i], 1.0, 20.0, &d) < 0) return EXIT_USAGE;
            o.fig.width_pt = d * 72.0;
        } else if (!strcmp(a, "--font-pt") && v) {
            if (parse_double(a, argv[++i], 5.0, 24.0, &d) < 0) return EXIT_USAGE;
            o.fig.font_pt = d;
        } else if (!strcmp(a, "--png-scale") && v) {
            if (ml_cli_int("report", a, argv[++i], 1, 8, &o.fig.png_scale) < 0) return EXIT_USAGE;
        } else if (!strcmp(a, "--history")) with_history = 1;
        else if (!strcmp(a, "--history-metric") && v) {
            if (nhm == 7) return ml_cli_usage("report", "%s", "at most 7 --history-metric");
            hmetrics[nhm++] = argv[++i];
            with_history = 1;
        } else if (!strcmp(a, "--rev") && v) rev = argv[++i];
        else if (!strcmp(a, "--results") && v) root = argv[++i];
        else if (a[0] == '-') return ml_cli_usage("report", "unknown option '%s'", a);
        else if (nres == 64) return ml_cli_usage("report", "%s", "at most 64 results files");
        else results[nres++] = a;
    }
    if (!nres) return ml_cli_usage("report", "%s", "missing RESULTS");
    if (!outdir) {
        const char *slash = strrchr(results[0], '/');
        if (slash) snprintf(def, sizeof(def), "%.*s/report", (int)(slash - results[0]), results[0]);
        else snprintf(def, sizeof(def), "report");
        outdir = def;
    }
    if (baseline) {
        /* the baseline gates the results of its own suite */
        ml_gate_summary sum;
        static char gate_platform[600];
        cJSON *cand = NULL;
        if ((error = ml_results_load(&base, baseline)) < 0) { rc = ml_cli_fail(error); goto cleanup; }
        const char *bname = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(base, "suite"), "name"));
        for (int i = 0; i < nres && !res0; i++) {
            if ((error = ml_results_load(&cand, results[i])) < 0) { rc = ml_cli_fail(error); goto cleanup; }
            const char *n = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
                cJSON_GetObjectItemCaseSensitive(cand, "suite"), "name"));
            if (bname && n && !strcmp(bname, n)) res0 = cand;
            else cJSON_Delete(cand);
        }
        if (!res0) {
            fprintf(stderr, "mergelab report: %s is a baseline of suite '%s', and none of the RESULTS is\n", baseline,
                    bname ? bname : "?");
            rc = EXIT_USAGE;
            goto cleanup;
        }
        if ((error = ml_gate_check(&sum, NULL, res0, base, &rows)) < 0) {
            rc = ml_cli_fail(error);
            goto cleanup;
        }
        if (!(grows = calloc((size_t)(rows.n ? rows.n : 1), sizeof(*grows)))) { rc = ml_cli_fail(ML_ENOMEM); goto cleanup; }
        for (int i = 0; i < rows.n; i++) {
            const ml_gate_row *r = &rows.rows[i];
            grows[i] = (ml_report_gate_row){.label = r->metric, .baseline = r->baseline, .value = r->now,
                                            .ci_lo = r->ci_lo, .ci_hi = r->ci_hi, .verdict = r->verdict,
                                            .regressed = r->failed};
        }
        o.baseline_path = baseline;
        o.gate = grows;
        o.ngate = rows.n;
        ml_gate_platform_line(gate_platform, sizeof(gate_platform), &sum);
        o.gate_platform = gate_platform;
    }
    if (with_history) {
        if (!res0 && (error = ml_results_load(&res0, results[0])) < 0) { rc = ml_cli_fail(error); goto cleanup; }
        const char *sname = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(res0, "suite"), "name"));
        if (!nhm) default_history_metrics(res0, hmetrics, &nhm);
        ml_store_machine(machine, sizeof(machine));
        if ((error = hist_collect(&h, root, machine, rev, 1000, sname, NULL, hmetrics, nhm)) < 0) {
            rc = ml_cli_fail(error);
            goto cleanup;
        }
        if (!h.ns)
            fprintf(stderr, "mergelab report: no history: no stored results of suite %s on %s's line in %s/%s\n",
                    sname ? sname : "?", rev, root, machine);
        for (int k = 0; k < h.ns; k++)
            hs[k] = (ml_report_history){.metric = h.s[k].label, .n = h.n, .commits = (const char *const *)NULL,
                                        .mean = h.s[k].mean, .lo = h.s[k].lo, .hi = h.s[k].hi,
                                        .regressed = h.s[k].flag};
        o.history = h.ns ? hs : NULL;
        o.nhistory = h.ns;
    }
    const char *labels[1024];
    for (int c = 0; c < h.n && c < 1024; c++) labels[c] = h.label[c];
    for (int k = 0; k < h.ns; k++) {
        hs[k].commits = labels;
        if (hs[k].n > 1024) hs[k].n = 1024;
    }
    if ((error = ml_report_write_many(results, nres, outdir, &o)) < 0) { rc = ml_cli_fail(error); goto cleanup; }
    printf("wrote %s/index.html\n", outdir);
cleanup:
    hist_free(&h);
    ml_gate_rows_free(&rows);
    free(grows);
    cJSON_Delete(res0);
    cJSON_Delete(base);
    return rc;
}
