/*
 * reports/html.c: writes a report's index.html.
 * Owns: the page's structure and CSS, escaping every string that came from the results
 *       JSON, inlining the SVG figures, flattening provenance into dotted keys.
 * Not here: validation (report.c: everything in ml_rep_view is already type-checked),
 *           figures (fig_*.c).
 * The page must work opened from disk, offline, years later: no scripts, no fonts or
 * styles from elsewhere; light and dark come from prefers-color-scheme.
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
    "--head:#f3f4f6;--code:#f3f4f6;--link:#0b57d0}\n"
    "@media (prefers-color-scheme:dark){:root{--fg:#e8e8e8;--bg:#15171a;--muted:#a0a6ad;"
    "--line:#3a3e44;--head:#23262b;--code:#23262b;--link:#8ab4f8}}\n"
    "body{font:15px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,'DejaVu Sans',sans-serif;"
    "color:var(--fg);background:var(--bg);max-width:980px;margin:2rem auto;padding:0 1rem}\n"
    "h1{font-size:1.55rem;margin:0 0 .25rem}h2{font-size:1.15rem;margin:2.2rem 0 .6rem;"
    "border-bottom:1px solid var(--line);padding-bottom:.2rem}h3{font-size:1rem;margin:1.2rem 0 .4rem}\n"
    "a{color:var(--link)}p{margin:.4rem 0}.muted{color:var(--muted)}\n"
    "table{border-collapse:collapse;margin:.4rem 0 1rem;font-size:.88rem}\n"
    "th,td{border:1px solid var(--line);padding:.2rem .55rem;text-align:left;vertical-align:top;"
    "overflow-wrap:anywhere}\n"
    "th{background:var(--head);font-weight:600}td.n{text-align:right;font-variant-numeric:tabular-nums}\n"
    "td table{margin:0;font-size:.82rem}\n"
    "code{font-family:ui-monospace,'DejaVu Sans Mono',Menlo,Consolas,monospace;font-size:.86em;"
    "background:var(--code);padding:0 .25rem;border-radius:3px;overflow-wrap:anywhere}\n"
    "figure{margin:1rem 0 1.6rem}figure svg{display:block;width:100%;max-width:600px;height:auto;"
    "background:#fff;border-radius:4px}\n"
    "figcaption{color:var(--muted);font-size:.88rem;max-width:600px;margin-top:.35rem}\n";

static void esc(ml_rbuf *b, const char *s) { ml_rbuf_html(b, s); }

static void num(ml_rbuf *b, double v) { ml_rbuf_num(b, v, "n/a"); }

static void fixed(ml_rbuf *b, double v, int decimals) {
    if (isnan(v)) ml_rbuf_puts(b, "n/a");
    else ml_rbuf_printf(b, "%.*f", decimals, v);
}

/* cairo names its glyphs and clips glyph0-1, clip1, ... in every SVG it writes; two of
 * them inline in one page would share those ids and draw each other's letters. Give each
 * figure's ids a prefix, and drop the XML prolog, which is not allowed inside HTML. */
static void inline_svg(ml_rbuf *b, const char *svg, const char *prefix) {
    const char *s = strstr(svg, "<svg");
    static const struct { const char *pat; size_t keep; } refs[] = {
        {"id=\"", 4}, {"href=\"#", 7}, {"url(#", 5},
    };
    if (!s) return;
    while (*s) {
        size_t best = (size_t)-1, which = 0;
        for (size_t i = 0; i < sizeof(refs) / sizeof(refs[0]); i++) {
            const char *hit = strstr(s, refs[i].pat);
            if (hit && (size_t)(hit - s) < best) { best = (size_t)(hit - s); which = i; }
        }
        if (best == (size_t)-1) { ml_rbuf_puts(b, s); return; }
        ml_rbuf_put(b, s, best + refs[which].keep);
        ml_rbuf_puts(b, prefix);
        s += best + refs[which].keep;
    }
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

static void models_section(ml_rbuf *b, const ml_rep_view *v) {
    ml_rbuf_puts(b, "<h2 id=\"models\">Models</h2>\n");
    if (v->nmodels == 0) { ml_rbuf_puts(b, "<p class=\"muted\">No models recorded.</p>\n"); return; }
    ml_rbuf_puts(b, "<table>\n<tr><th>model</th><th>role</th><th>test accuracy</th><th>test loss</th></tr>\n");
    for (int i = 0; i < v->nmodels; i++) {
        const ml_rep_model *m = &v->models[i];
        ml_rbuf_puts(b, "<tr><td>");
        esc(b, m->name);
        ml_rbuf_puts(b, "</td><td>");
        esc(b, m->role);
        if (m->method) { ml_rbuf_puts(b, " (<code>"); esc(b, m->method); ml_rbuf_puts(b, "</code>)"); }
        ml_rbuf_puts(b, "</td><td class=\"n\">");
        fixed(b, m->test_acc, 4);
        ml_rbuf_puts(b, "</td><td class=\"n\">");
        fixed(b, m->test_loss, 4);
        ml_rbuf_puts(b, "</td></tr>\n");
    }
    ml_rbuf_puts(b, "</table>\n<p class=\"muted\">n/a: not recorded, or the evaluation failed.</p>\n");
}

static void metrics_section(ml_rbuf *b, const ml_rep_view *v) {
    ml_rbuf_puts(b, "<h2 id=\"metrics\">Metrics</h2>\n");
    if (v->nmetrics == 0) { ml_rbuf_puts(b, "<p class=\"muted\">No metrics recorded.</p>\n"); return; }
    ml_rbuf_puts(b, "<table>\n<tr><th>metric</th><th>value</th></tr>\n");
    for (int i = 0; i < v->nmetrics; i++) {
        ml_rbuf_puts(b, "<tr><td><code>");
        esc(b, v->metrics[i].name);
        ml_rbuf_puts(b, "</code></td><td class=\"n\">");
        num(b, v->metrics[i].value);
        ml_rbuf_puts(b, "</td></tr>\n");
    }
    ml_rbuf_puts(b, "</table>\n");
}

static void figure(ml_rbuf *b, const char *svg, const char *prefix, const char *stem,
                   const char *caption_html) {
    ml_rbuf_puts(b, "<figure>\n");
    if (svg) inline_svg(b, svg, prefix);
    ml_rbuf_printf(b, "\n<figcaption>%s<br>Files: <a href=\"%s.png\">PNG</a> · <a href=\"%s.svg\">SVG</a> · "
                    "<a href=\"%s.csv\">CSV</a></figcaption>\n</figure>\n",
                    caption_html, stem, stem, stem);
}

static void cka_section(ml_rbuf *b, const ml_rep_view *v) {
    ml_rbuf_puts(b, "<h2 id=\"cka\">Representation similarity (CKA)</h2>\n");
    if (!v->has_cka) { ml_rbuf_puts(b, "<p class=\"muted\">No CKA recorded.</p>\n"); return; }
    ml_rbuf_puts(b, "<p>Linear CKA between the specialists <b>");
    esc(b, v->pair[0]);
    ml_rbuf_puts(b, "</b> and <b>");
    esc(b, v->pair[1]);
    ml_rbuf_puts(b, "</b>, both fine-tuned from the same base model.</p>\n");

    if (v->has_heatmap) {
        ml_rbuf cap = {0};
        ml_rbuf_puts(&cap, "Cell (row i, column j) is the CKA between layer i of ");
        esc(&cap, v->hm_row_model);
        ml_rbuf_puts(&cap, " and layer j of ");
        esc(&cap, v->hm_col_model);
        ml_rbuf_printf(&cap, " at step %g. CKA 1 = identical representations up to rotation and scale; "
                        "0 = unrelated. A bright diagonal means corresponding layers still agree; a dim "
                        "one means the specialists' layers have drifted apart. Hatched cells: no data.", v->hm_step);
        b->oom |= cap.oom;
        figure(b, v->svg_heatmap, "hm-", "cka_heatmap", cap.p ? cap.p : "");
        ml_rbuf_free(&cap);
    } else {
        ml_rbuf_puts(b, "<p class=\"muted\">No layer-by-layer CKA heatmap recorded.</p>\n");
    }

    figure(b, v->svg_steps, "st-",  "cka_steps",
           "CKA between the same layer of the two specialists at each fine-tuning step. They start "
           "from one base model, so CKA starts at 1; lower = the specialists' layers have drifted apart. "
           "A steeper fall means that layer specialises faster. Gaps: steps with no data.");

    ml_rbuf_puts(b, "<h3>CKA over fine-tuning steps</h3>\n<table>\n<tr><th>layer \\ step</th>");
    for (int s = 0; s < v->nsteps; s++) { ml_rbuf_puts(b, "<th>"); num(b, v->steps[s]); ml_rbuf_puts(b, "</th>"); }
    ml_rbuf_puts(b, "</tr>\n");
    for (int l = 0; l < v->nlayers; l++) {
        ml_rbuf_puts(b, "<tr><th>");
        esc(b, v->layers[l]);
        ml_rbuf_puts(b, "</th>");
        for (int s = 0; s < v->nsteps; s++) {
            ml_rbuf_puts(b, "<td class=\"n\">");
            fixed(b, v->over_steps[(size_t)l * (size_t)v->nsteps + (size_t)s], 3);
            ml_rbuf_puts(b, "</td>");
        }
        ml_rbuf_puts(b, "</tr>\n");
    }
    ml_rbuf_puts(b, "</table>\n");

    if (v->has_heatmap) {
        ml_rbuf_puts(b, "<h3>CKA between layers at step ");
        num(b, v->hm_step);
        ml_rbuf_puts(b, "</h3>\n<table>\n<tr><th>");
        esc(b, v->hm_row_model);
        ml_rbuf_puts(b, " \\ ");
        esc(b, v->hm_col_model);
        ml_rbuf_puts(b, "</th>");
        for (int j = 0; j < v->hm_n; j++) { ml_rbuf_puts(b, "<th>"); esc(b, v->hm_layers[j]); ml_rbuf_puts(b, "</th>"); }
        ml_rbuf_puts(b, "</tr>\n");
        for (int i = 0; i < v->hm_n; i++) {
            ml_rbuf_puts(b, "<tr><th>");
            esc(b, v->hm_layers[i]);
            ml_rbuf_puts(b, "</th>");
            for (int j = 0; j < v->hm_n; j++) {
                ml_rbuf_puts(b, "<td class=\"n\">");
                fixed(b, v->hm_values[(size_t)i * (size_t)v->hm_n + (size_t)j], 3);
                ml_rbuf_puts(b, "</td>");
            }
            ml_rbuf_puts(b, "</tr>\n");
        }
        ml_rbuf_puts(b, "</table>\n");
    }
}

int ml_html__write(const char *path, const ml_rep_view *v) {
    ml_rbuf b = {0};
    int error;
    ml_rbuf_puts(&b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                      "<meta name=\"generator\" content=\"mergelab\">\n<title>mergelab report: ");
    esc(&b, v->suite_name);
    ml_rbuf_printf(&b, "</title>\n<style>\n%s</style>\n</head>\n<body>\n<h1>mergelab report: ", css);
    esc(&b, v->suite_name);
    ml_rbuf_puts(&b, "</h1>\n");
    if (v->suite_desc) { ml_rbuf_puts(&b, "<p>"); esc(&b, v->suite_desc); ml_rbuf_puts(&b, "</p>\n"); }
    ml_rbuf_puts(&b, "<p class=\"muted\">");
    if (v->suite_file) { ml_rbuf_puts(&b, "Suite <code>"); esc(&b, v->suite_file); ml_rbuf_puts(&b, "</code>"); }
    if (v->suite_sha256) {
        char short_sha[13];
        snprintf(short_sha, sizeof(short_sha), "%s", v->suite_sha256);   /* 12 hex are plenty to tell suites apart */
        ml_rbuf_puts(&b, " (sha256 <code>");
        esc(&b, short_sha);
        ml_rbuf_puts(&b, "</code>)");
    }
    if (v->commit) {
        ml_rbuf_puts(&b, v->suite_file ? " · commit <code>" : "Commit <code>");
        esc(&b, v->commit);
        ml_rbuf_puts(&b, v->dirty ? "</code> with uncommitted changes" : "</code>");
    }
    ml_rbuf_puts(&b, "</p>\n<p class=\"muted\"><a href=\"#models\">Models</a> · <a href=\"#metrics\">Metrics</a> · "
                      "<a href=\"#cka\">CKA</a> · <a href=\"#provenance\">Provenance</a></p>\n");

    models_section(&b, v);
    metrics_section(&b, v);
    cka_section(&b, v);

    ml_rbuf_puts(&b, "<h2 id=\"provenance\">Provenance</h2>\n");
    if (v->provenance && v->provenance->child) key_table(&b, v->provenance);
    else ml_rbuf_puts(&b, "<p class=\"muted\">No provenance recorded.</p>\n");
    if (v->timing && v->timing->child) {
        ml_rbuf_puts(&b, "<h3>Timing</h3>\n");
        key_table(&b, v->timing);
    }
    ml_rbuf_puts(&b, "<p class=\"muted\">Written by mergelab from the results file; every figure is also "
                      "available as PNG, SVG and CSV next to this page.</p>\n</body>\n</html>\n");
    if ((error = ml_rbuf_check(&b)) < 0) goto cleanup;
    error = ml_fs_write_atomic(path, b.p, b.len);
cleanup:
    ml_rbuf_free(&b);
    return error;
}
