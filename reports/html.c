/*
 * reports/html.c: writes a report's index.html.
 * Owns: the page's structure, CSS and optional script; escaping every string that came
 *       from a results file; flattening provenance into dotted keys.
 * Not here: reading results (report_data.c), figures (fig_*.c, report.c).
 * The page must work opened from disk, offline, years later: no fonts, styles or scripts
 * from elsewhere; light and dark come from prefers-color-scheme. The script only sorts
 * tables and marks whether every figure loaded (data-ml-* on <html>, which the browser
 * test reads); without it the page reads the same.
 */
#include "reports/html.h"

#include "core/error.h"
#include "core/fs.h"
#include "core/rbuf.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static const char css[] =
    ":root{color-scheme:light dark;--fg:#1b1b1b;--bg:#fff;--muted:#5f6368;--line:#d9d9d9;"
    "--head:#f3f4f6;--code:#f3f4f6;--link:#0b57d0;--bad:#b3261e;--badbg:#fce8e6;--good:#146c2e;"
    "--goodbg:#e6f4ea;--warn:#7a5900;--warnbg:#fef7e0}\n"
    "@media (prefers-color-scheme:dark){:root{--fg:#e8e8e8;--bg:#15171a;--muted:#a0a6ad;"
    "--line:#3a3e44;--head:#23262b;--code:#23262b;--link:#8ab4f8;--bad:#f2b8b5;--badbg:#4a1c19;"
    "--good:#a8dab5;--goodbg:#173a22;--warn:#fde293;--warnbg:#3d3212}}\n"
    "body{font:15px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,'DejaVu Sans',sans-serif;"
    "color:var(--fg);background:var(--bg);max-width:1100px;margin:2rem auto;padding:0 1rem}\n"
    "h1{font-size:1.55rem;margin:0 0 .25rem}h2{font-size:1.2rem;margin:2.4rem 0 .6rem;"
    "border-bottom:1px solid var(--line);padding-bottom:.2rem}h3{font-size:1rem;margin:1.4rem 0 .4rem}\n"
    "a{color:var(--link)}p{margin:.4rem 0}.muted{color:var(--muted)}\n"
    "table{border-collapse:collapse;margin:.4rem 0 1rem;font-size:.88rem}\n"
    "th,td{border:1px solid var(--line);padding:.2rem .55rem;text-align:left;vertical-align:top;"
    "overflow-wrap:anywhere}\n"
    "th{background:var(--head);font-weight:600}td.n{text-align:right;font-variant-numeric:tabular-nums;"
    "white-space:nowrap}\n"
    "td table{margin:0;font-size:.82rem}\n"
    "table.sortable th{cursor:pointer}table.sortable th[aria-sort=ascending]::after{content:' \\25B4'}"
    "table.sortable th[aria-sort=descending]::after{content:' \\25BE'}\n"
    "code{font-family:ui-monospace,'DejaVu Sans Mono',Menlo,Consolas,monospace;font-size:.86em;"
    "background:var(--code);padding:0 .25rem;border-radius:3px;overflow-wrap:anywhere}\n"
    ".figs{display:grid;grid-template-columns:repeat(auto-fill,minmax(330px,1fr));gap:1rem 1.4rem}\n"
    "figure{margin:0 0 1rem}figure img{display:block;width:100%;max-width:520px;height:auto;"
    "background:#fff;border-radius:4px}\n"
    "figcaption{color:var(--muted);font-size:.84rem;margin-top:.35rem}\n"
    ".v{display:inline-block;padding:0 .45rem;border-radius:3px;font-weight:600;font-size:.85em;white-space:nowrap}\n"
    "td.id{white-space:nowrap}\n"
    ".v-bad{color:var(--bad);background:var(--badbg)}.v-good{color:var(--good);background:var(--goodbg)}"
    ".v-warn{color:var(--warn);background:var(--warnbg)}\n"
    "tr.regressed td{background:var(--badbg)}details{margin:.6rem 0}summary{cursor:pointer;font-weight:600}\n"
    "nav a{margin-right:.8rem}\n";

/* Sorting and the load marker. Numbers sort by their data-v (the unrounded value). */
static const char script[] =
    "(function(){\n"
    "function mark(){var im=document.images,ok=0;for(var i=0;i<im.length;i++)"
    "if(im[i].complete&&im[i].naturalWidth>0)ok++;var d=document.documentElement;"
    "d.setAttribute('data-ml-images',im.length);d.setAttribute('data-ml-loaded',ok);"
    "d.setAttribute('data-ml-ready','1');}\n"
    "window.addEventListener('load',mark);\n"
    "function key(td){if(!td)return '';var v=td.getAttribute('data-v');"
    "if(v!==null&&v!==''&&!isNaN(+v))return +v;return td.textContent;}\n"
    "document.querySelectorAll('table.sortable').forEach(function(t){"
    "var hs=t.tHead?t.tHead.rows[0].cells:[];"
    "Array.prototype.forEach.call(hs,function(th,c){th.setAttribute('tabindex','0');"
    "function sort(){var asc=th.getAttribute('aria-sort')!=='ascending';"
    "Array.prototype.forEach.call(hs,function(h){h.removeAttribute('aria-sort');});"
    "th.setAttribute('aria-sort',asc?'ascending':'descending');"
    "var rows=Array.prototype.slice.call(t.tBodies[0].rows);"
    "rows.sort(function(a,b){var x=key(a.cells[c]),y=key(b.cells[c]);"
    "if(typeof x==='number'&&typeof y==='number')return asc?x-y:y-x;"
    "if(typeof x==='number')return -1;if(typeof y==='number')return 1;"
    "return asc?String(x).localeCompare(y):String(y).localeCompare(x);});"
    "rows.forEach(function(r){t.tBodies[0].appendChild(r);});}\n"
    "th.addEventListener('click',sort);th.addEventListener('keydown',function(e){"
    "if(e.key==='Enter')sort();});});});\n"
    "})();\n";

static void esc(ml_rbuf *b, const char *s) { ml_rbuf_html(b, s ? s : ""); }

static void num(ml_rbuf *b, double v) { ml_rbuf_num(b, v, "n/a"); }

/* A text cell, escaped. */
static void td(ml_rbuf *b, const char *s) {
    ml_rbuf_puts(b, "<td>");
    esc(b, s);
    ml_rbuf_puts(b, "</td>");
}

/* A numeric cell: shown rounded, sorted by the exact value. */
static void ncell(ml_rbuf *b, double v, int decimals) {
    if (isnan(v)) { ml_rbuf_puts(b, "<td class=\"n\" data-v=\"\">n/a</td>"); return; }
    ml_rbuf_printf(b, "<td class=\"n\" data-v=\"%.17g\">%.*f</td>", v, decimals, v);
}

static void ci_cell(ml_rbuf *b, double lo, double hi, int decimals) {
    if (isnan(lo) || isnan(hi)) { ml_rbuf_puts(b, "<td class=\"n muted\">n/a</td>"); return; }
    ml_rbuf_printf(b, "<td class=\"n\" data-v=\"%.17g\">[%.*f, %.*f]</td>", hi - lo, decimals, lo, decimals, hi);
}

/* ---- provenance: every key, nested objects as dotted keys -------------------------- */

static void scalar(ml_rbuf *b, const cJSON *j) {
    if (cJSON_IsString(j)) esc(b, j->valuestring);
    else if (cJSON_IsNumber(j)) num(b, j->valuedouble);
    else if (cJSON_IsTrue(j)) ml_rbuf_puts(b, "true");
    else if (cJSON_IsFalse(j)) ml_rbuf_puts(b, "false");
    else if (cJSON_IsNull(j)) ml_rbuf_puts(b, "null");
    else {
        char *txt = cJSON_PrintUnformatted(j);   /* a nested array or object in a cell */
        if (!txt) { b->oom = 1; return; }
        ml_rbuf_puts(b, "<code>");
        esc(b, txt);
        ml_rbuf_puts(b, "</code>");
        cJSON_free(txt);
    }
}

/* An array of objects (e.g. the data files) as a small table, its columns the union of
 * the objects' keys in first-seen order. */
static void object_array_table(ml_rbuf *b, const cJSON *arr) {
    const char *cols[32];
    int ncols = 0;
    for (const cJSON *row = arr->child; row; row = row->next)
        for (const cJSON *f = row->child; f; f = f->next) {
            int seen = 0;
            for (int c = 0; c < ncols; c++) seen |= strcmp(cols[c], f->string) == 0;
            if (!seen && ncols < 32) cols[ncols++] = f->string;
        }
    ml_rbuf_puts(b, "<table><tr>");
    for (int c = 0; c < ncols; c++) { ml_rbuf_puts(b, "<th>"); esc(b, cols[c]); ml_rbuf_puts(b, "</th>"); }
    ml_rbuf_puts(b, "</tr>\n");
    for (const cJSON *row = arr->child; row; row = row->next) {
        ml_rbuf_puts(b, "<tr>");
        for (int c = 0; c < ncols; c++) {
            const cJSON *f = cJSON_GetObjectItemCaseSensitive(row, cols[c]);
            ml_rbuf_puts(b, cJSON_IsNumber(f) ? "<td class=\"n\">" : "<td>");
            if (f) scalar(b, f);
            ml_rbuf_puts(b, "</td>");
        }
        ml_rbuf_puts(b, "</tr>\n");
    }
    ml_rbuf_puts(b, "</table>");
}

static void flatten(ml_rbuf *b, const cJSON *j, char *key, size_t cap, int depth) {
    size_t len = strlen(key);
    if (cJSON_IsObject(j) && j->child && depth < 8) {
        for (const cJSON *c = j->child; c; c = c->next) {
            snprintf(key + len, cap - len, "%s%s", len ? "." : "", c->string ? c->string : "");
            flatten(b, c, key, cap, depth + 1);
            key[len] = '\0';
        }
        return;
    }
    ml_rbuf_puts(b, "<tr><th><code>");
    esc(b, key);
    ml_rbuf_puts(b, "</code></th><td>");
    if (cJSON_IsArray(j)) {
        int all_objects = j->child != NULL, n = 0;
        for (const cJSON *c = j->child; c; c = c->next) all_objects &= cJSON_IsObject(c);
        if (!j->child) ml_rbuf_puts(b, "<span class=\"muted\">(none)</span>");
        else if (all_objects) object_array_table(b, j);
        else
            for (const cJSON *c = j->child; c; c = c->next, n++) {
                if (n) ml_rbuf_puts(b, ", ");
                scalar(b, c);
            }
    } else {
        scalar(b, j);
    }
    ml_rbuf_puts(b, "</td></tr>\n");
}

static void key_table(ml_rbuf *b, const cJSON *obj) {
    char key[512] = "";
    ml_rbuf_puts(b, "<table>\n");
    flatten(b, obj, key, sizeof(key), 0);
    ml_rbuf_puts(b, "</table>\n");
}


/* ---- sections ---------------------------------------------------------------------- */

static const char *const kind_names[ML_FIG_PT_KINDS] = {"merge", "router", "ensemble", "direct fine-tune",
                                                        "base", "specialist"};

static int decimals_for(const ml_rep_suite *s) { return s->metric && !strcmp(s->metric, "test_acc") ? 4 : 3; }

static void figure(ml_rbuf *b, const ml_rep_fig *f, unsigned formats) {
    static const struct { unsigned bit; const char *ext, *label; } files[] = {
        {ML_FIG_PNG, "png", "PNG"}, {ML_FIG_SVG, "svg", "SVG"}, {ML_FIG_PDF, "pdf", "PDF"},
    };
    const char *img = formats & ML_FIG_PNG ? "png" : formats & ML_FIG_SVG ? "svg" : NULL;
    ml_rbuf_puts(b, "<figure id=\"fig-");
    esc(b, f->stem);
    ml_rbuf_puts(b, "\">\n");
    if (img) {
        ml_rbuf_puts(b, "<img class=\"ml-fig\" src=\"");
        esc(b, f->stem);
        ml_rbuf_printf(b, ".%s\" alt=\"", img);
        esc(b, f->title);
        ml_rbuf_puts(b, "\">\n");
    }
    ml_rbuf_puts(b, "<figcaption><b>");
    esc(b, f->title);
    ml_rbuf_puts(b, ".</b> ");
    esc(b, f->caption);
    ml_rbuf_puts(b, "<br>Files:");
    for (size_t k = 0; k < sizeof(files) / sizeof(files[0]); k++) {
        if (!(formats & files[k].bit)) continue;
        ml_rbuf_puts(b, " <a href=\"");
        esc(b, f->stem);
        ml_rbuf_printf(b, ".%s\">%s</a> ·", files[k].ext, files[k].label);
    }
    ml_rbuf_puts(b, " <a href=\"");
    esc(b, f->stem);
    ml_rbuf_puts(b, ".csv\">CSV</a></figcaption>\n</figure>\n");
}

static void verdict(ml_rbuf *b, const char *v) {
    const char *cls = "v-warn";
    if (!v) v = "n/a";
    if (!strcmp(v, "held") || !strncmp(v, "ok", 2) || !strcmp(v, "improved")) cls = "v-good";
    else if (!strcmp(v, "not held") || !strcmp(v, "REGRESSED") || !strcmp(v, "missing")) cls = "v-bad";
    ml_rbuf_printf(b, "<span class=\"v %s\">", cls);
    esc(b, v);
    ml_rbuf_puts(b, "</span>");
}

static double jnum(const cJSON *o, const char *k) {
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(j) ? j->valuedouble : NAN;
}

static const char *jstr(const cJSON *o, const char *k) {
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k));
}

/* The results' "findings" as evaluated when the run finished: id, statement, verdict
 * (held / not held / inconclusive), effect with its 95% interval, and how it was tested. */
static void findings_section(ml_rbuf *b, const ml_rep_suite *s) {
    ml_rbuf_puts(b, "<h3>Findings</h3>\n");
    if (!s->findings || !s->findings->child) {
        ml_rbuf_puts(b, "<p class=\"muted\">This suite declares no findings to check.</p>\n");
        return;
    }
    ml_rbuf_puts(b, "<table class=\"sortable\"><thead><tr><th>finding</th><th>statement</th><th>verdict</th>"
                    "<th>effect</th><th>95% CI</th><th>how</th></tr></thead><tbody>\n");
    for (const cJSON *f = s->findings->child; f; f = f->next) {
        ml_rbuf_puts(b, "<tr><td class=\"id\">");
        esc(b, jstr(f, "id"));
        ml_rbuf_puts(b, "</td>");
        td(b, jstr(f, "statement"));
        ml_rbuf_puts(b, "<td>");
        verdict(b, jstr(f, "verdict"));
        ml_rbuf_puts(b, "</td>");
        ncell(b, jnum(f, "effect"), 4);
        ci_cell(b, jnum(f, "ci_lo"), jnum(f, "ci_hi"), 4);
        td(b, jstr(f, "detail"));
        ml_rbuf_puts(b, "</tr>\n");
    }
    ml_rbuf_puts(b, "</tbody></table>\n");
}

static void methods_table(ml_rbuf *b, const ml_rep_suite *s, const ml_rep_group *g) {
    int d = decimals_for(s);
    ml_rbuf_puts(b, "<h3>Methods");
    if (s->ngroups > 1) { ml_rbuf_puts(b, ": <code>"); esc(b, g->name); ml_rbuf_puts(b, "</code>"); }
    ml_rbuf_printf(b, "</h3>\n<p class=\"muted\">%s (%s is better), mean over %d seed%s with the 95%% t interval "
                      "(none with one seed); Δ are per-seed differences, averaged. Click a heading to sort.</p>\n",
                   s->metric, s->higher ? "higher" : "lower", g->ncells, g->ncells == 1 ? "" : "s");
    ml_rbuf_puts(b, "<table class=\"sortable\"><thead><tr><th>model</th><th>kind</th><th>family</th><th>mean</th>"
                    "<th>95% CI</th><th>n</th><th>Δ vs base</th><th>Δ vs direct</th></tr></thead><tbody>\n");
    for (int i = 0; i < g->nmethods; i++) {
        const ml_rep_method *m = &g->methods[i];
        ml_rbuf_puts(b, "<tr><td>");
        esc(b, m->name);
        ml_rbuf_printf(b, "</td><td>%s</td><td>", kind_names[m->kind]);
        esc(b, m->family ? m->family : "");
        ml_rbuf_puts(b, "</td>");
        ncell(b, m->value.mean, d);
        ci_cell(b, m->value.lo, m->value.hi, d);
        ml_rbuf_printf(b, "<td class=\"n\" data-v=\"%d\">%d</td>", m->value.n, m->value.n);
        ncell(b, m->vs_base.mean, d);
        ncell(b, m->vs_direct.mean, d);
        ml_rbuf_puts(b, "</tr>\n");
    }
    ml_rbuf_puts(b, "</tbody></table>\n");
}

static void cells_table(ml_rbuf *b, const ml_rep_suite *s) {
    ml_rbuf_printf(b, "<h3>Cells</h3>\n<p class=\"muted\">%d cell%s: %d finished, %d failed.</p>\n", s->ncells,
                   s->ncells == 1 ? "" : "s", s->nok, s->nfailed);
    ml_rbuf_puts(b, "<table class=\"sortable\"><thead><tr><th>cell</th><th>group</th><th>seed</th><th>status</th>"
                    "<th>wall s</th><th>error</th></tr></thead><tbody>\n");
    for (int i = 0; i < s->ncells; i++) {
        const cJSON *c = s->cells[i];
        const char *st = jstr(c, "status");
        ml_rbuf_puts(b, "<tr>");
        td(b, jstr(c, "name"));
        td(b, jstr(c, "group"));
        ncell(b, jnum(c, "seed"), 0);
        ml_rbuf_puts(b, "<td>");
        verdict(b, st && !strcmp(st, "ok") ? "ok" : st ? st : "n/a");
        ml_rbuf_puts(b, "</td>");
        ncell(b, jnum(c, "wall_seconds"), 1);
        td(b, jstr(c, "error"));
        ml_rbuf_puts(b, "</tr>\n");
    }
    ml_rbuf_puts(b, "</tbody></table>\n");
}

static void suite_section(ml_rbuf *b, const ml_rep_section *sec, unsigned formats) {
    const ml_rep_suite *s = sec->suite;
    ml_rbuf_puts(b, "<section id=\"suite-");
    esc(b, s->prefix);
    ml_rbuf_puts(b, "\">\n<h2>Suite ");
    esc(b, s->name);
    ml_rbuf_puts(b, "</h2>\n");
    if (s->desc) { ml_rbuf_puts(b, "<p>"); esc(b, s->desc); ml_rbuf_puts(b, "</p>\n"); }
    ml_rbuf_puts(b, "<p class=\"muted\">Results <code>");
    esc(b, s->file);
    ml_rbuf_puts(b, "</code>");
    if (s->suite_file) { ml_rbuf_puts(b, " · suite <code>"); esc(b, s->suite_file); ml_rbuf_puts(b, "</code>"); }
    if (s->commit) {
        ml_rbuf_puts(b, " · commit <code>");
        esc(b, s->commit);
        ml_rbuf_puts(b, s->dirty ? "</code> with uncommitted changes" : "</code>");
    }
    if (s->seeds[0]) { ml_rbuf_puts(b, " · seeds "); esc(b, s->seeds); }
    if (s->finished) { ml_rbuf_puts(b, " · finished "); esc(b, s->finished); }
    ml_rbuf_puts(b, "</p>\n");
    if (s->nfailed)
        ml_rbuf_printf(b, "<p><span class=\"v v-bad\">%d cell%s failed</span> and %s left out of every mean.</p>\n",
                       s->nfailed, s->nfailed == 1 ? "" : "s", s->nfailed == 1 ? "is" : "are");
    findings_section(b, s);
    for (int k = 0; k < sec->nfeatured; k++) {
        const ml_rep_group *g = &s->groups[sec->featured[k]];
        if (g->nmethods) methods_table(b, s, g);
    }
    if (s->ngroups > 2)
        ml_rbuf_printf(b, "<p class=\"muted\">%d groups of cells; the tables and the per-group figures show the "
                          "first and the last, the figure across groups and every CSV show all of them.</p>\n",
                       s->ngroups);
    ml_rbuf_puts(b, "<h3>Figures</h3>\n");
    if (!sec->nfigs) ml_rbuf_puts(b, "<p class=\"muted\">No finished cell: nothing to draw.</p>\n");
    else {
        /* one grid per group, headed by the group when there are several */
        for (int i = 0; i < sec->nfigs; i++) {
            const char *g = sec->figs[i].group;
            if (i == 0 || g != sec->figs[i - 1].group) {
                if (i) ml_rbuf_puts(b, "</div>\n");
                if (g) { ml_rbuf_puts(b, "<h4>Group <code>"); esc(b, g); ml_rbuf_puts(b, "</code></h4>\n"); }
                else if (s->ngroups > 1) ml_rbuf_puts(b, "<h4>Across groups</h4>\n");
                ml_rbuf_puts(b, "<div class=\"figs\">\n");
            }
            figure(b, &sec->figs[i], formats);
        }
        ml_rbuf_puts(b, "</div>\n");
    }
    cells_table(b, s);
    const cJSON *prov = cJSON_GetObjectItemCaseSensitive(s->doc, "provenance");
    ml_rbuf_puts(b, "<details><summary>Provenance</summary>\n");
    if (prov && prov->child) key_table(b, prov);
    else ml_rbuf_puts(b, "<p class=\"muted\">No provenance recorded.</p>\n");
    ml_rbuf_puts(b, "</details>\n</section>\n");
}

static void gate_section(ml_rbuf *b, const ml_report_opts *o) {
    int nreg = 0;
    ml_rbuf_puts(b, "<section id=\"gate\">\n<h2>Against the baseline</h2>\n");
    for (int i = 0; i < o->ngate; i++) nreg += o->gate[i].regressed;
    ml_rbuf_puts(b, "<p>");
    if (o->baseline_path) { ml_rbuf_puts(b, "Baseline <code>"); esc(b, o->baseline_path); ml_rbuf_puts(b, "</code>: "); }
    if (nreg) ml_rbuf_printf(b, "<span class=\"v v-bad\">%d of %d metrics regressed</span>", nreg, o->ngate);
    else ml_rbuf_printf(b, "<span class=\"v v-good\">no regression in %d metrics</span>", o->ngate);
    ml_rbuf_puts(b, " (worse than the tolerance <code>atol + rtol·|baseline|</code> and, with two or more seeds "
                    "a side, than noise: the 95% Welch interval of the change excludes 0).</p>\n");
    if (o->gate_platform) {
        ml_rbuf_puts(b, "<p class=\"platform\">");
        esc(b, o->gate_platform);
        ml_rbuf_puts(b, "</p>\n");
    }
    /* all rows, regressions first; folded away when nothing regressed */
    ml_rbuf_printf(b, "<details%s><summary>every metric (%d)</summary>\n", nreg ? " open" : "", o->ngate);
    ml_rbuf_puts(b, "<table class=\"sortable\"><thead><tr><th>metric</th><th>baseline</th><th>now</th><th>change</th>"
                    "<th>95% CI of change</th><th>verdict</th></tr></thead><tbody>\n");
    for (int k = 0; k < 2 * o->ngate; k++) {
        const ml_report_gate_row *r = &o->gate[k % o->ngate];
        if ((k < o->ngate) != (r->regressed != 0)) continue;   /* first pass: regressions */
        ml_rbuf_puts(b, r->regressed ? "<tr class=\"regressed\"><td>" : "<tr><td>");
        esc(b, r->label);
        ml_rbuf_puts(b, "</td>");
        ncell(b, r->baseline, 4);
        ncell(b, r->value, 4);
        ncell(b, r->value - r->baseline, 4);
        ci_cell(b, r->ci_lo, r->ci_hi, 4);
        ml_rbuf_puts(b, "<td>");
        verdict(b, r->verdict);
        ml_rbuf_puts(b, "</td></tr>\n");
    }
    ml_rbuf_puts(b, "</tbody></table>\n</details>\n</section>\n");
}

int ml_html__write(const char *path, const ml_rep_page *p) {
    ml_rbuf b = {0};
    int error;
    ml_rbuf_puts(&b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                      "<meta name=\"generator\" content=\"mergelab\">\n<title>mergelab report: ");
    for (int i = 0; i < p->nsections; i++) {
        if (i) ml_rbuf_puts(&b, ", ");
        esc(&b, p->sections[i].suite->name);
    }
    ml_rbuf_printf(&b, "</title>\n<style>\n%s</style>\n</head>\n<body>\n<h1>mergelab report</h1>\n<nav>", css);
    for (int i = 0; i < p->nsections; i++) {
        ml_rbuf_puts(&b, "<a href=\"#suite-");
        esc(&b, p->sections[i].suite->prefix);
        ml_rbuf_puts(&b, "\">");
        esc(&b, p->sections[i].suite->name);
        ml_rbuf_puts(&b, "</a>");
    }
    if (p->opts && (p->opts->ngate || p->opts->baseline_path)) ml_rbuf_puts(&b, "<a href=\"#gate\">baseline</a>");
    if (p->history) ml_rbuf_puts(&b, "<a href=\"#history\">history</a>");
    ml_rbuf_puts(&b, "</nav>\n");
    if (p->opts && (p->opts->ngate || p->opts->baseline_path)) gate_section(&b, p->opts);
    for (int i = 0; i < p->nsections; i++) suite_section(&b, &p->sections[i], p->formats);
    if (p->history) {
        ml_rbuf_puts(&b, "<section id=\"history\">\n<h2>History</h2>\n");
        figure(&b, p->history, p->formats);
        ml_rbuf_puts(&b, "</section>\n");
    }
    ml_rbuf_printf(&b, "<p class=\"muted\">Written by mergelab. Every figure is drawn once and saved as%s%s%s, "
                       "with its data as CSV, next to this page.</p>\n<script>\n%s</script>\n</body>\n</html>\n",
                   p->formats & ML_FIG_PNG ? " PNG" : "", p->formats & ML_FIG_SVG ? " SVG" : "",
                   p->formats & ML_FIG_PDF ? " PDF" : "", script);
    if ((error = ml_rbuf_check(&b)) < 0) goto cleanup;
    error = ml_fs_write_atomic(path, b.p, b.len);
cleanup:
    ml_rbuf_free(&b);
    return error;
}
