/*
 * tests/test_figures.c: the figures (reports/fig_*.c, plot.c) on fixed data.
 * Covers: every figure in PNG, SVG and PDF with its provenance (PNG tEXt read back with
 *         libpng, SVG through xmllint with its text as <text>, PDF fonts and document
 *         information through poppler's pdffonts and pdfinfo), byte-identical output from
 *         run to run, matplotlib's viridis exactly (the table and the rendered pixels),
 *         "no data" for every figure, layouts that keep long labels apart and inside the
 *         figure, and golden images with their negative twins (a broken colour map or
 *         missing axes must fail the comparison).
 * Golden images: fixtures/golden/<name>.png, compared per pixel (a channel may differ by
 * 8, at most 0.1% of pixels by more). ML_GOLDEN_UPDATE=1 rewrites them instead; look at
 * them before committing. A failed comparison keeps the rendered image and a diff image
 * (red: beyond tolerance) in the test's folder and prints their paths.
 * Every test works in its own mkdtemp folder under /tmp, removed when the test passes.
 * Needs xmllint (libxml2-utils) and pdffonts/pdfinfo (poppler-utils); a missing tool
 * fails the test that needs it rather than skipping the check.
 */
#include "tests/test.h"
#include "tests/pngio.h"
#include "tests/util.h"

#include "core/error.h"
#include "core/fs.h"
#include "reports/plot.h"
#include "reports/report.h"

#include <stdlib.h>
#include <unistd.h>

#define GOLDEN_DIR   "fixtures/golden"
#define GOLDEN_TOL   8        /* per channel, 0-255 */
#define GOLDEN_SCALE 2        /* px per pt: small fixtures, still every detail */

static const char *const date_iso = "2026-11-22T23:08:36Z";

/* ---- helpers ----------------------------------------------------------------------- */

/* 1 when every pixel of the rectangle [x0, x1) x [y0, y1) (pt) is white. */
static int all_white(const ml_t_png *img, int scale, double x0, double y0, double x1, double y1) {
    for (int y = (int)(y0 * scale); y < (int)(y1 * scale); y++)
        for (int x = (int)(x0 * scale); x < (int)(x1 * scale); x++) {
            if (x < 0 || y < 0 || x >= img->w || y >= img->h) continue;
            const unsigned char *p = img->rgba + ((size_t)y * (size_t)img->w + (size_t)x) * 4;
            if (p[0] < 250 || p[1] < 250 || p[2] < 250) return 0;
        }
    return 1;
}

/* Nothing within m pt of the figure's edges: no text or line was pushed out and cut. */
static int border_white(const ml_t_png *img, int scale, double m) {
    double W = (double)img->w / scale, H = (double)img->h / scale;
    return all_white(img, scale, 0, 0, W, m) && all_white(img, scale, 0, H - m, W, H) &&
           all_white(img, scale, 0, 0, m, H) && all_white(img, scale, W - m, 0, W, H);
}

static int have_tool(const char *name) {
    return ml_t_sh(NULL, "command -v %s >/dev/null", name) == 0;
}

static char *slurp(const char *path) {
    char *txt = NULL;
    size_t len = 0;
    return ml_fs_read_all(&txt, &len, path) < 0 ? NULL : txt;
}

/* 1 when the file at path holds needle, 0 when not, -1 (said on stderr) when it
 * cannot be read: a check wanting 1 or 0 fails on an unreadable file either way. */
static int file_has(const char *path, const char *needle) {
    char *txt = slurp(path);
    if (!txt) {
        fprintf(stderr, "    cannot read %s\n", path);
        return -1;
    }
    int has = strstr(txt, needle) != NULL;
    free(txt);
    return has;
}

/* pdffonts prints a header, a line of dashes marking the columns, then one row per
 * font. NULL when there is at least one font row and every one says "yes" in the emb
 * column, else what is wrong. Parsed by the dashes' columns, not by splitting on spaces,
 * so a font name with spaces cannot shift the column read. */
static const char *pdffonts_problem(const char *out) {
    static char why[256];
    const char *dashes = strstr(out, "\n---");
    if (!dashes) return "pdffonts: no column header";
    dashes++;
    size_t col[16], ncol = 0, width[16];
    const char *eol = strchr(dashes, '\n');
    if (!eol) return "pdffonts: no font rows";
    for (const char *c = dashes; c < eol && ncol < 16;) {
        while (c < eol && *c == ' ') c++;
        if (c >= eol) break;
        col[ncol] = (size_t)(c - dashes);
        const char *e = c;
        while (e < eol && *e == '-') e++;
        width[ncol++] = (size_t)(e - c);
        c = e;
    }
    if (ncol < 4) return "pdffonts: fewer than 4 columns";
    int rows = 0;
    for (const char *line = eol + 1; *line; ) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        if (len > 0) {
            char emb[16] = "";
            if (len > col[3]) {
                size_t w = width[3] < sizeof(emb) - 1 ? width[3] : sizeof(emb) - 1;
                if (col[3] + w > len) w = len - col[3];
                memcpy(emb, line + col[3], w);
                emb[w] = '\0';
            }
            char *t = emb;
            while (*t == ' ') t++;
            for (char *z = t + strlen(t); z > t && z[-1] == ' ';) *--z = '\0';
            if (strcmp(t, "yes") != 0) {
                snprintf(why, sizeof(why), "pdffonts: a font is not embedded (emb \"%s\"): %.*s", t, (int)len, line);
                return why;
            }
            rows++;
        }
        if (!end) break;
        line = end + 1;
    }
    return rows > 0 ? NULL : "pdffonts: no fonts at all (text not drawn as text?)";
}

/* The value of "Key:" in pdfinfo's output, into buf; "" when absent. */
static const char *pdfinfo_value(const char *out, const char *key, char *buf, size_t n) {
    size_t kl = strlen(key);
    buf[0] = '\0';
    for (const char *line = out; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        if (strncmp(line, key, kl) != 0 || line[kl] != ':') continue;
        const char *v = line + kl + 1;
        while (*v == ' ') v++;
        size_t len = strcspn(v, "\n");
        if (len >= n) len = n - 1;
        memcpy(buf, v, len);
        buf[len] = '\0';
        break;
    }
    return buf;
}

/* ---- figures on fixed data --------------------------------------------------------- */

typedef int (*render_fn)(const char *path, ml_fig_format fmt, const ml_fig_opts *o);

static const char *const long_layers[] = {"block0.attn_out", "block4.mlp_out", "block8.attn_out", "block12.attn_out"};

#define HEATMAP_TITLE "CKA: A & B at step 100"
static int render_heatmap(const char *path, ml_fig_format fmt, const ml_fig_opts *o) {
    static const double v[16] = {1.00, 0.83, 0.41, 0.12, 0.79, NAN, 0.55, 0.30,
                                 0.35, 0.52, 0.97, 0.64, 0.05, 0.28, 0.61, 0.88};
    return ml_fig_heatmap(path, fmt, HEATMAP_TITLE, "model A layer", "model B layer", long_layers, long_layers,
                          v, 4, 4, 0, 1, o);
}

#define LINES_TITLE "CKA over fine-tuning"
static int render_lines(const char *path, ml_fig_format fmt, const ml_fig_opts *o) {
    static const double x[] = {0, 25, 50, 75, 100};
    static const double s[] = {1.0, 0.95, 0.9, 0.85, 0.8,  1.0, 0.9, NAN, 0.7, 0.6,  0.99, 0.97, 0.93, 0.9, 0.88};
    static const char *const names[] = {"hidden1", "hidden2", "hidden3"};
    ml_fig_opts oo = o ? *o : (ml_fig_opts){0};
    oo.y_include_n = 1;
    oo.y_include[0] = 1.0;
    return ml_fig_lines(path, fmt, LINES_TITLE, "fine-tuning step", "CKA", x, 5, names, s, 3, &oo);
}

/* Two panels over eight commits: a band with a NaN gap, a flagged regression, a
 * reference line, and two series (one with a band) in the second panel. */
#define PANELS_TITLE "History over commits"
static const char *const commits[] = {"a1b2c3d", "e4f5a6b", "c7d8e9f", "0a1b2c3", "d4e5f6a", "b7c8d9e", "f0a1b2c", "3d4e5f6"};
static const double cx[8] = {0, 1, 2, 3, 4, 5, 6, 7};
static const double m1[8] = {0.812, 0.815, 0.811, NAN, 0.818, 0.790, 0.792, 0.795};
static const double l1[8] = {0.805, 0.809, 0.803, NAN, 0.811, 0.781, 0.785, 0.788};
static const double h1[8] = {0.819, 0.821, 0.819, NAN, 0.825, 0.799, 0.799, 0.802};
static const unsigned char f1[8] = {0, 0, 0, 0, 0, 1, 0, 0};
static const double m2[8] = {0.42, 0.41, 0.43, 0.40, 0.44, 0.47, 0.46, 0.45};
static const double l2[8] = {0.40, 0.39, 0.41, 0.38, 0.42, 0.45, 0.44, 0.43};
static const double h2[8] = {0.44, 0.43, 0.45, 0.42, 0.46, 0.49, 0.48, 0.47};
static const double m3[8] = {0.52, 0.50, 0.51, 0.50, 0.52, 0.55, 0.54, 0.53};

static int render_panels_x(const char *path, ml_fig_format fmt, const ml_fig_opts *o, const char *const *labels) {
    const ml_fig_series s1[] = {{"merge: test_acc", m1, l1, h1, f1}};
    const ml_fig_series s2[] = {{"ties: loss", m2, l2, h2, NULL}, {"dare: loss", m3, NULL, NULL, NULL}};
    const ml_fig_panel P[] = {
        {"test acc", s1, 1, 0, {0}, 0.80, "direct fine-tune"},
        {"loss", s2, 2, 0, {0}, NAN, NULL},
    };
    return ml_fig_panels(path, fmt, PANELS_TITLE, "commit", cx, 8, labels, P, 2, o);
}
static int render_panels(const char *path, ml_fig_format fmt, const ml_fig_opts *o) {
    return render_panels_x(path, fmt, o, commits);
}

#define POINTS_TITLE "Methods: test accuracy"
static const ml_fig_point method_points[] = {
    {"average", 0.71, 0.69, 0.73, ML_FIG_PT_MERGE},
    {"ties", 0.76, 0.74, 0.78, ML_FIG_PT_MERGE},
    {"dare", NAN, NAN, NAN, ML_FIG_PT_MERGE},
    {"router-top1", 0.79, 0.78, 0.80, ML_FIG_PT_ROUTER},
    {"logit ensemble", 0.81, 0.80, 0.83, ML_FIG_PT_ENSEMBLE},
    {"direct", 0.84, 0.83, 0.85, ML_FIG_PT_DIRECT},
    {"base", 0.62, NAN, NAN, ML_FIG_PT_BASE},
    {"specialist-A", 0.47, 0.44, 0.50, ML_FIG_PT_SPECIALIST},
};
static int render_points(const char *path, ml_fig_format fmt, const ml_fig_opts *o) {
    return ml_fig_points(path, fmt, POINTS_TITLE, "test accuracy", method_points, 8, 1, 0.84, "direct fine-tune", o);
}

#define NODATA_TITLE "Nothing measured"
static int render_nodata(const char *path, ml_fig_format fmt, const ml_fig_opts *o) {
    static const double x[] = {0, 1, 2}, y[] = {NAN, NAN, NAN, NAN, NAN, NAN};
    static const char *const names[] = {"a", "b"};
    return ml_fig_lines(path, fmt, NODATA_TITLE, "step", "CKA", x, 3, names, y, 2, o);
}

static const ml_fig_opts prov = {.source = "40c0ffee", .suite = "smoke", .seed = "1,2,3", .date = "2026-11-22T23:08:36Z"};

/* ---- the three formats ------------------------------------------------------------- */

/* Renders one figure as PNG, SVG and PDF with full provenance and checks each file the
 * way its readers would. `title_xml` is the title as it must appear escaped in the SVG. */
static void check_formats(render_fn fn, const char *name, const char *title, const char *title_xml) {
    char dir[256], path[512], why[512], val[256];
    char *svg = NULL, *out = NULL;
    ml_t_png img;
    ML_ASSERT_MSG(have_tool("xmllint"), "xmllint not installed (apt-get install libxml2-utils)");
    ML_ASSERT_MSG(have_tool("pdffonts") && have_tool("pdfinfo"),
                  "pdffonts/pdfinfo not installed (apt-get install poppler-utils)");
    ML_ASSERT(ml_t_tmpdir(dir, sizeof(dir), "figures") == 0);

    /* PNG: the provenance chunks, read back with libpng */
    snprintf(path, sizeof(path), "%s/%s.png", dir, name);
    int rc = fn(path, ML_FIG_PNG, &prov);
    ML_ASSERT_MSG(rc == 0, "%s PNG: %d %s", name, rc, ml_error_last()->message);
    ML_ASSERT_MSG(ml_t_png_load(path, &img, why, sizeof(why)) == 0, "%s", why);
    char want[512];
    snprintf(want, sizeof(want), "Software=mergelab\nTitle=%s\nSource=40c0ffee\nSuite=smoke\nSeed=1,2,3\n"
             "Creation Time=2026-11-22T23:08:36Z\n", title);
    int ok_text = strcmp(img.text, want) == 0, w = img.w;
    char got[2048];
    snprintf(got, sizeof(got), "%s", img.text);
    free(img.rgba);
    ML_ASSERT_MSG(ok_text, "%s PNG text chunks:\n%s\nwant:\n%s", name, got, want);
    ML_ASSERT_EQ_INT(252 * 3, w);   /* one 3.5 in column at the default 3 px/pt */

    /* SVG: well-formed, its strings as <text> (not glyph outlines), provenance in <desc> */
    snprintf(path, sizeof(path), "%s/%s.svg", dir, name);
    rc = fn(path, ML_FIG_SVG, &prov);
    ML_ASSERT_MSG(rc == 0, "%s SVG: %d %s", name, rc, ml_error_last()->message);
    rc = ml_t_sh(&out, "xmllint --noout '%s'", path);
    ML_ASSERT_MSG(rc == 0, "xmllint --noout %s: %s", path, out ? out : "");
    free(out);
    out = NULL;
    ML_ASSERT((svg = slurp(path)) != NULL);
    snprintf(want, sizeof(want), "lengthAdjust=\"spacingAndGlyphs\">%s</text>", title_xml);
    int has_title_text = strstr(svg, want) != NULL;
    int has_family = strstr(svg, "font-family=\"DejaVu Sans, Verdana, sans-serif\"") != NULL;
    int no_glyphs = !strstr(svg, "glyph") && !strstr(svg, "<symbol");
    snprintf(want, sizeof(want), "<title>%s</title>", title_xml);
    int has_title = strstr(svg, want) != NULL;
    int has_desc = strstr(svg, "<desc>Software: mergelab; Suite: smoke; Source: 40c0ffee; Seed: 1,2,3; "
                               "Date: 2026-11-22T23:08:36Z</desc>") != NULL;
    free(svg);
    ML_ASSERT_MSG(has_title_text, "%s SVG: no <text> element holding the title", name);
    ML_ASSERT_MSG(has_family, "%s SVG: no font-family for the text", name);
    ML_ASSERT_MSG(no_glyphs, "%s SVG: text drawn as glyph outlines", name);
    ML_ASSERT_MSG(has_title, "%s SVG: <title> missing", name);
    ML_ASSERT_MSG(has_desc, "%s SVG: <desc> provenance missing", name);

    /* PDF: every font embedded, the document information filled in */
    snprintf(path, sizeof(path), "%s/%s.pdf", dir, name);
    rc = fn(path, ML_FIG_PDF, &prov);
    ML_ASSERT_MSG(rc == 0, "%s PDF: %d %s", name, rc, ml_error_last()->message);
    rc = ml_t_sh(&out, "pdffonts '%s'", path);
    const char *bad = rc == 0 && out ? pdffonts_problem(out) : "pdffonts failed";
    if (bad) fprintf(stderr, "    pdffonts %s:\n%s", path, out ? out : "");
    free(out);
    out = NULL;
    ML_ASSERT_MSG(bad == NULL, "%s: %s", path, bad);
    rc = ml_t_sh(&out, "pdfinfo -isodates '%s'", path);
    ML_ASSERT_MSG(rc == 0 && out, "pdfinfo %s failed", path);
    int t_ok = strcmp(pdfinfo_value(out, "Title", val, sizeof(val)), title) == 0;
    int a_ok = strcmp(pdfinfo_value(out, "Author", val, sizeof(val)), "mergelab") == 0;
    int s_ok = strcmp(pdfinfo_value(out, "Subject", val, sizeof(val)), "Suite: smoke; Source: 40c0ffee; Seed: 1,2,3") == 0;
    int c_ok = strcmp(pdfinfo_value(out, "Creator", val, sizeof(val)), "mergelab") == 0;
    int d_ok = strcmp(pdfinfo_value(out, "CreationDate", val, sizeof(val)), date_iso) == 0;
    if (!(t_ok && a_ok && s_ok && c_ok && d_ok)) fprintf(stderr, "    pdfinfo %s:\n%s", path, out);
    free(out);
    ML_ASSERT_MSG(t_ok && a_ok && s_ok && c_ok && d_ok, "%s PDF: Title/Author/Subject/Creator/CreationDate", name);
    ml_t_rmrf(dir);
}

static void test_figures__heatmap_formats(void) { check_formats(render_heatmap, "heatmap", HEATMAP_TITLE, "CKA: A &amp; B at step 100"); }
static void test_figures__lines_formats(void) { check_formats(render_lines, "lines", LINES_TITLE, LINES_TITLE); }
static void test_figures__panels_formats(void) { check_formats(render_panels, "panels", PANELS_TITLE, PANELS_TITLE); }
static void test_figures__points_formats(void) { check_formats(render_points, "points", POINTS_TITLE, POINTS_TITLE); }
static void test_figures__nodata_formats(void) { check_formats(render_nodata, "nodata", NODATA_TITLE, NODATA_TITLE); }

/* The pdffonts parser must be able to say no, or the embedding check proves nothing. */
static void test_figures__pdffonts_parser(void) {
    const char *good =
        "name                                 type              encoding         emb sub uni object ID\n"
        "------------------------------------ ----------------- ---------------- --- --- --- ---------\n"
        "KRUHTG+DejaVuSans                    TrueType          WinAnsi          yes yes yes      6  0\n";
    const char *bad =
        "name                                 type              encoding         emb sub uni object ID\n"
        "------------------------------------ ----------------- ---------------- --- --- --- ---------\n"
        "KRUHTG+DejaVuSans                    TrueType          WinAnsi          yes yes yes      6  0\n"
        "Helvetica Neue Bold                  Type 1            Custom           no  no  no       9  0\n";
    const char *none =
        "name                                 type              encoding         emb sub uni object ID\n"
        "------------------------------------ ----------------- ---------------- --- --- --- ---------\n";
    ML_ASSERT(pdffonts_problem(good) == NULL);
    const char *why = pdffonts_problem(bad);
    ML_ASSERT(why != NULL);
    ML_ASSERT_STR_HAS(why, "emb \"no\"");
    ML_ASSERT(pdffonts_problem(none) != NULL);
    ML_ASSERT(pdffonts_problem("garbage") != NULL);
}

/* Without a date the same figure is the same bytes in every format, run after run: the
 * PDF carries no CreationDate of its own. */
static void test_figures__deterministic(void) {
    static const char *const ext[] = {"png", "svg", "pdf"};
    static const ml_fig_format fmts[] = {ML_FIG_PNG, ML_FIG_SVG, ML_FIG_PDF};
    ml_fig_opts o = prov;
    char dir[256], a[512], b[512];
    o.date = NULL;
    ML_ASSERT(ml_t_tmpdir(dir, sizeof(dir), "figures") == 0);
    for (int f = 0; f < 3; f++) {
        char *x = NULL, *y = NULL;
        size_t nx = 0, ny = 0;
        snprintf(a, sizeof(a), "%s/a.%s", dir, ext[f]);
        snprintf(b, sizeof(b), "%s/b.%s", dir, ext[f]);
        ML_ASSERT_EQ_INT(0, render_panels(a, fmts[f], &o));
        ML_ASSERT_EQ_INT(0, render_heatmap(b, fmts[f], &o));   /* another figure in between */
        ML_ASSERT_EQ_INT(0, render_panels(b, fmts[f], &o));
        ML_ASSERT_EQ_INT(0, ml_fs_read_all(&x, &nx, a));
        ML_ASSERT_EQ_INT(0, ml_fs_read_all(&y, &ny, b));
        int same = nx == ny && memcmp(x, y, nx) == 0;
        int dated = f == 2 && memmem(x, nx, "CreationDate", 12) != NULL;
        free(x);
        free(y);
        ML_ASSERT_MSG(same, "two renders of the same %s differ", ext[f]);
        ML_ASSERT_MSG(!dated, "an undated PDF carries a CreationDate");
    }
    ml_t_rmrf(dir);
}

static void test_figures__bad_args(void) {
    char dir[256], path[512];
    ml_fig_opts o = {.date = "22/11/2026"};
    ML_ASSERT(ml_t_tmpdir(dir, sizeof(dir), "figures") == 0);
    snprintf(path, sizeof(path), "%s/x.pdf", dir);
    ML_ASSERT_EQ_INT(ML_EINVALID, render_lines(path, ML_FIG_PDF, &o));
    ML_ASSERT_STR_HAS(ml_error_last()->message, "figure date \"22/11/2026\" is not ISO 8601 UTC like 2026-11-22T23:08:36Z");
    ML_ASSERT(!ml_fs_exists(path));
    ML_ASSERT_EQ_INT(ML_EINVALID, render_lines(path, (ml_fig_format)(ML_FIG_PNG | ML_FIG_SVG), NULL));
    ML_ASSERT_STR_HAS(ml_error_last()->message, "figure format must be one of ML_FIG_PNG, ML_FIG_SVG, ML_FIG_PDF, got 3");
    ml_fig_point bad_kind = {"x", 1, NAN, NAN, (ml_fig_point_kind)ML_FIG_PT_KINDS};
    ML_ASSERT_EQ_INT(ML_EINVALID, ml_fig_points(path, ML_FIG_PNG, "t", "x", &bad_kind, 1, 1, NAN, NULL, NULL));
    ML_ASSERT_STR_HAS(ml_error_last()->message, "point 0: unknown kind 6");
    ML_ASSERT_EQ_INT(ML_EINVALID, ml_fig_panels(path, ML_FIG_PNG, "t", "x", NULL, 3, NULL, NULL, 0, NULL));
    ML_ASSERT(!ml_fs_exists(path));
    ml_t_rmrf(dir);
}

/* ---- viridis ----------------------------------------------------------------------- */

/* matplotlib's viridis(np.linspace(0, 1, 9)) as to_hex prints it, written down from
 * matplotlib's documentation rather than computed from reports/plot.c's table. */
static const struct { double t; unsigned rgb; } viridis_known[] = {
    {0.0, 0x440154}, {0.125, 0x472d7b}, {0.25, 0x3b528b}, {0.375, 0x2c728e}, {0.5, 0x21918c},
    {0.625, 0x28ae80}, {0.75, 0x5ec962}, {0.875, 0xaddc30}, {1.0, 0xfde725},
};

static unsigned rgb_hex(const double rgb[3]) {
    return (unsigned)lround(rgb[0] * 255) << 16 | (unsigned)lround(rgb[1] * 255) << 8 | (unsigned)lround(rgb[2] * 255);
}

static void test_figures__viridis_table(void) {
    double rgb[3];
    for (size_t i = 0; i < sizeof(viridis_known) / sizeof(viridis_known[0]); i++) {
        ml_plot__viridis(viridis_known[i].t, rgb);
        ML_ASSERT_MSG(rgb_hex(rgb) == viridis_known[i].rgb, "viridis(%g) = #%06x, want #%06x", viridis_known[i].t,
                      rgb_hex(rgb), viridis_known[i].rgb);
        for (int c = 0; c < 3; c++)   /* exactly an 8-bit value, so every surface lands on it */
            ML_ASSERT_NEAR(round(rgb[c] * 255) / 255, rgb[c], 1e-12, 0);
    }
    /* ListedColormap bins: index (int)(t * 256); entry 127 is #21908d, entry 128 #21918c */
    ml_plot__viridis(0.5 - 1e-9, rgb);
    ML_ASSERT_EQ_INT(0x21908d, rgb_hex(rgb));
    ml_plot__viridis(128.0 / 256, rgb);
    ML_ASSERT_EQ_INT(0x21918c, rgb_hex(rgb));
    ml_plot__viridis(-3, rgb);
    ML_ASSERT_EQ_INT(0x440154, rgb_hex(rgb));
    ml_plot__viridis(7, rgb);
    ML_ASSERT_EQ_INT(0xfde725, rgb_hex(rgb));
    ml_plot__viridis(NAN, rgb);
    ML_ASSERT(rgb[0] == rgb[1] && rgb[1] == rgb[2]);
}

/* The rendered cells carry the exact bytes: a 13 x 13 grid (too big to annotate, so the
 * cell centres are bare colour) with the known values along its first row. */
static void test_figures__viridis_pixels(void) {
    char dir[256], path[512], why[256];
    double v[13 * 13];
    ml_fig_layout lay = {0};
    ml_fig_opts o = {.layout = &lay};
    ml_t_png img;
    for (int i = 0; i < 13 * 13; i++) v[i] = 0.3;
    for (size_t i = 0; i < sizeof(viridis_known) / sizeof(viridis_known[0]); i++) v[i] = viridis_known[i].t;
    v[9] = 1.7;     /* clamped to the top */
    v[10] = -0.4;   /* clamped to the bottom */
    ML_ASSERT(ml_t_tmpdir(dir, sizeof(dir), "figures") == 0);
    snprintf(path, sizeof(path), "%s/h.png", dir);
    ML_ASSERT_EQ_INT(0, ml_fig_heatmap(path, ML_FIG_PNG, "viridis", "r", "c", NULL, NULL, v, 13, 13, 0, 1, &o));
    ML_ASSERT_MSG(ml_t_png_load(path, &img, why, sizeof(why)) == 0, "%s", why);
    double cell = lay.w / 13;
    unsigned got[11], want[11];
    for (int c = 0; c < 11; c++) {
        const unsigned char *p = ml_t_png_pixel(&img, lay.x + (c + 0.5) * cell, lay.y + 0.5 * cell, lay.png_scale);
        got[c] = (unsigned)p[0] << 16 | (unsigned)p[1] << 8 | p[2];
        want[c] = c < 9 ? viridis_known[c].rgb : c == 9 ? 0xfde725 : 0x440154;
    }
    free(img.rgba);
    for (int c = 0; c < 11; c++)
        ML_ASSERT_MSG(got[c] == want[c], "cell (0, %d): #%06x, want #%06x", c, got[c], want[c]);
    ml_t_rmrf(dir);
}

/* ---- no data ----------------------------------------------------------------------- */

static void test_figures__no_data(void) {
    static const ml_fig_format fmts[] = {ML_FIG_PNG, ML_FIG_SVG, ML_FIG_PDF};
    static const char *const ext[] = {"png", "svg", "pdf"};
    const double nan8[8] = {NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN};
    const ml_fig_series sn[] = {{"a", nan8, nan8, nan8, NULL}, {"b", nan8, NULL, NULL, NULL}};
    const ml_fig_panel pn[] = {{"y", sn, 2, 0, {0}, 0.5, "ref"}, {"z", sn + 1, 1, 0, {0}, NAN, NULL}};
    const ml_fig_point pts[] = {{"a", NAN, 0.1, 0.2, ML_FIG_PT_MERGE}, {"b", NAN, NAN, NAN, ML_FIG_PT_BASE}};
    char dir[256], path[512];
    ml_fig_layout lay;
    ml_fig_opts o = {.layout = &lay};
    ML_ASSERT(ml_t_tmpdir(dir, sizeof(dir), "figures") == 0);
    for (int f = 0; f < 3; f++) {
        int rc[10];
        int nd[10];
        snprintf(path, sizeof(path), "%s/x.%s", dir, ext[f]);
#define ND(i, call) do { memset(&lay, 0, sizeof(lay)); rc[i] = (call); nd[i] = lay.no_data; } while (0)
        ND(0, ml_fig_heatmap(path, fmts[f], "t", "r", "c", NULL, NULL, nan8, 2, 4, 0, 1, &o));
        ND(1, ml_fig_heatmap(path, fmts[f], "t", "r", "c", NULL, NULL, NULL, 0, 0, 0, 1, &o));
        ND(2, ml_fig_lines(path, fmts[f], "t", "x", "y", cx, 8, NULL, nan8, 1, &o));
        ND(3, ml_fig_lines(path, fmts[f], "t", "x", "y", NULL, 0, NULL, NULL, 0, &o));
        ND(4, ml_fig_panels(path, fmts[f], "t", "x", cx, 8, commits, pn, 2, &o));
        ND(5, ml_fig_panels(path, fmts[f], "t", "x", NULL, 0, NULL, pn, 2, &o));
        ND(6, ml_fig_panels(path, fmts[f], "t", "x", cx, 8, NULL, NULL, 0, &o));
        ND(7, ml_fig_points(path, fmts[f], "t", "x", pts, 2, 1, 0.5, "ref", &o));
        ND(8, ml_fig_points(path, fmts[f], "t", "x", NULL, 0, 1, NAN, NULL, &o));
        ND(9, ml_fig_lines(path, fmts[f], "t", "x", "y", nan8, 8, NULL, cx, 1, &o));   /* all-NaN x */
#undef ND
        for (int i = 0; i < 10; i++) {
            ML_ASSERT_MSG(rc[i] == 0, "%s case %d: %d %s", ext[f], i, rc[i], ml_error_last()->message);
            ML_ASSERT_MSG(nd[i] == 1, "%s case %d: layout.no_data = %d", ext[f], i, nd[i]);
        }
    }
    /* one empty panel of two: that panel says so, the figure has data */
    const ml_fig_series s1[] = {{"m", m1, l1, h1, f1}};
    const ml_fig_panel half[] = {{"y", s1, 1, 0, {0}, NAN, NULL}, pn[1]};
    snprintf(path, sizeof(path), "%s/half.png", dir);
    memset(&lay, 0, sizeof(lay));
    ML_ASSERT_EQ_INT(0, ml_fig_panels(path, ML_FIG_PNG, "t", "x", cx, 8, commits, half, 2, &o));
    ML_ASSERT_EQ_INT(0, lay.no_data);
    ml_t_rmrf(dir);
}

/* ---- layout ------------------------------------------------------------------------ */

/* Long method names are cut to fit, right-aligned clear of the axes, and nothing leaves
 * the figure; the figure grows with the number of rows. */
static void test_figures__points_layout(void) {
    char dir[256], path[512], why[256];
    ml_fig_point pts[12];
    ml_fig_layout lay = {0}, lay3 = {0};
    ml_fig_opts o = {.layout = &lay};
    ml_t_png img;
    for (int i = 0; i < 12; i++)
        pts[i] = (ml_fig_point){i % 2 ? "task-arithmetic with a very long descriptive name (lambda = 0.3)" : "ties",
                                0.5 + 0.03 * i, 0.48 + 0.03 * i, 0.52 + 0.03 * i, (ml_fig_point_kind)(i % ML_FIG_PT_KINDS)};
    ML_ASSERT(ml_t_tmpdir(dir, sizeof(dir), "figures") == 0);
    snprintf(path, sizeof(path), "%s/p.png", dir);
    ML_ASSERT_EQ_INT(0, ml_fig_points(path, ML_FIG_PNG, "t", "accuracy", pts, 12, 1, 0.7, "direct", &o));
    ML_ASSERT_MSG(ml_t_png_load(path, &img, why, sizeof(why)) == 0, "%s", why);
    int s = lay.png_scale;
    /* the names end right of the figure's pad and left of the axes, with a gap */
    int names_inside = all_white(&img, s, 0, 0, 3.5, lay.height);
    int gap_before_axes = all_white(&img, s, lay.x - 2.5, lay.y, lay.x - 0.5, lay.y + lay.h);
    int border = border_white(&img, s, 1.5);
    free(img.rgba);
    ML_ASSERT_MSG(names_inside, "something drawn in the figure's left 3.5 pt");
    ML_ASSERT_MSG(gap_before_axes, "names reach into the axes");
    ML_ASSERT_MSG(border, "something reaches the figure's edge");
    ML_ASSERT_MSG(lay.x < 0.5 * lay.width && lay.x > 0.25 * lay.width,
                  "names column %.1f pt of %.1f: not cut to ~40%%", lay.x, lay.width);
    o.layout = &lay3;
    ML_ASSERT_EQ_INT(0, ml_fig_points(path, ML_FIG_PNG, "t", "accuracy", pts, 3, 1, 0.7, "direct", &o));
    ML_ASSERT_MSG(lay.height > lay3.height + 8 * 10, "12 rows (%.1f pt) not taller than 3 (%.1f pt)", lay.height,
                  lay3.height);
    ML_ASSERT_NEAR(lay.h / 12, lay3.h / 3, 1e-9, 0);   /* same row height */
    ml_t_rmrf(dir);
}

/* Rows best first (by direction), NaN last: read off the names' <text> y positions. */
static void test_figures__points_order(void) {
    char dir[256], path[512];
    const ml_fig_point pts[] = {
        {"mid", 0.5, NAN, NAN, ML_FIG_PT_MERGE}, {"none", NAN, NAN, NAN, ML_FIG_PT_MERGE},
        {"low", 0.1, NAN, NAN, ML_FIG_PT_ROUTER}, {"high", 0.9, NAN, NAN, ML_FIG_PT_BASE},
    };
    static const char *const want_hi[] = {"high", "mid", "low", "none"}, *const want_lo[] = {"low", "mid", "high", "none"};
    ML_ASSERT(ml_t_tmpdir(dir, sizeof(dir), "figures") == 0);
    snprintf(path, sizeof(path), "%s/p.svg", dir);
    for (int hib = 1; hib >= 0; hib--) {
        const char *const *want = hib ? want_hi : want_lo;
        double y[4];
        ML_ASSERT_EQ_INT(0, ml_fig_points(path, ML_FIG_SVG, "t", "x", pts, 4, hib, NAN, NULL, NULL));
        char *svg = slurp(path);
        ML_ASSERT(svg != NULL);
        for (int i = 0; i < 4; i++) {
            char key[64];
            snprintf(key, sizeof(key), "\">%s</text>", want[i]);
            const char *at = strstr(svg, key), *tag = at;
            while (tag && tag > svg && strncmp(tag, "<text ", 6) != 0) tag--;
            const char *ya = tag ? strstr(tag, " y=\"") : NULL;
            y[i] = ya && ya < at ? atof(ya + 4) : NAN;
        }
        int na = strstr(svg, ">n/a</text>") != NULL;
        free(svg);
        for (int i = 0; i < 4; i++) ML_ASSERT_MSG(!isnan(y[i]), "no <text> for \"%s\"", want[i]);
        for (int i = 1; i < 4; i++)
            ML_ASSERT_MSG(y[i] > y[i - 1], "higher_is_better=%d: \"%s\" (y %.1f) not below \"%s\" (y %.1f)", hib,
                          want[i], y[i], want[i - 1], y[i - 1]);
        ML_ASSERT_MSG(na, "the NaN row does not say n/a");
    }
    ml_t_rmrf(dir);
}

/* Categorical x: short labels stay level, long ones slant (and are cut), and neither
 * leaves the figure; the heatmap keeps long layer names clear of its grid. */
static void test_figures__labels_fit(void) {
    static const char *const longc[] = {"release-2026-01-a1b2c3d", "e4f5a6b", "feature/a-very-long-branch-name",
                                        "0a1b2c3", "d4e5f6a", "b7c8d9e", "f0a1b2c", "3d4e5f6"};
    static const char *const few[] = {"v1", "v2", "v3"};
    const ml_fig_series s[] = {{"m", m1, NULL, NULL, NULL}};
    const ml_fig_panel pn[] = {{"acc", s, 1, 0, {0}, NAN, NULL}};
    char dir[256], path[512], why[256];
    ml_fig_layout lay = {0};
    ml_fig_opts o = {.layout = &lay};
    ml_t_png img;
    ML_ASSERT(ml_t_tmpdir(dir, sizeof(dir), "figures") == 0);
    snprintf(path, sizeof(path), "%s/p.svg", dir);
    ML_ASSERT_EQ_INT(0, render_panels_x(path, ML_FIG_SVG, NULL, longc));
    ML_ASSERT_MSG(file_has(path, "rotate(-45.00") == 1, "long commit labels are not slanted");
    ML_ASSERT_MSG(file_has(path, "\xe2\x80\xa6</text>") == 1, "long commit labels are not cut with an ellipsis");
    ML_ASSERT_EQ_INT(0, ml_fig_panels(path, ML_FIG_SVG, "t", "commit", cx, 3, few, pn, 1, NULL));
    ML_ASSERT_MSG(file_has(path, "rotate(-45.00") == 0, "three short labels were slanted");

    snprintf(path, sizeof(path), "%s/p.png", dir);
    ML_ASSERT_EQ_INT(0, render_panels_x(path, ML_FIG_PNG, &o, longc));
    ML_ASSERT_MSG(ml_t_png_load(path, &img, why, sizeof(why)) == 0, "%s", why);
    int border = border_white(&img, lay.png_scale, 1.5);
    free(img.rgba);
    ML_ASSERT_MSG(border, "a slanted label or legend reaches the figure's edge");

    snprintf(path, sizeof(path), "%s/h.png", dir);
    ML_ASSERT_EQ_INT(0, render_heatmap(path, ML_FIG_PNG, &o));
    ML_ASSERT_MSG(ml_t_png_load(path, &img, why, sizeof(why)) == 0, "%s", why);
    int s2 = lay.png_scale;
    border = border_white(&img, s2, 1.5);
    int gap = all_white(&img, s2, lay.x - 2.5, lay.y, lay.x - 0.5, lay.y + lay.h);
    free(img.rgba);
    ML_ASSERT_MSG(border, "heatmap: something reaches the figure's edge");
    ML_ASSERT_MSG(gap, "heatmap: row names reach into the grid");
    ML_ASSERT_NEAR(252.0, lay.width, 1e-9, 0);
    ml_t_rmrf(dir);
}

/* A flagged point gets a red ring and the panel's legend a "regression" entry; without
 * flags there is neither. */
static void test_figures__panels_flags(void) {
    char dir[256], path[512], why[256];
    ml_fig_layout lay = {0};
    ml_fig_opts o = {.layout = &lay};
    ml_t_png img;
    ML_ASSERT(ml_t_tmpdir(dir, sizeof(dir), "figures") == 0);
    snprintf(path, sizeof(path), "%s/p.svg", dir);
    ML_ASSERT_EQ_INT(0, render_panels(path, ML_FIG_SVG, NULL));
    ML_ASSERT_MSG(file_has(path, ">regression</text>") == 1, "no \"regression\" legend entry");
    ML_ASSERT_MSG(file_has(path, ">direct fine-tune</text>") == 1, "no reference line label");
    ML_ASSERT_EQ_INT(0, render_lines(path, ML_FIG_SVG, NULL));
    ML_ASSERT_MSG(file_has(path, "regression") == 0, "a \"regression\" entry without flagged points");

    /* the ring: x = commit 5 of 0..7 with half a category of margin; y from the first
     * panel's range (data, band and reference line, 5% margin) */
    snprintf(path, sizeof(path), "%s/p.png", dir);
    ML_ASSERT_EQ_INT(0, render_panels(path, ML_FIG_PNG, &o));
    ML_ASSERT_MSG(ml_t_png_load(path, &img, why, sizeof(why)) == 0, "%s", why);
    double lo = 0.781, hi = 0.825, m = (hi - lo) * 0.05;
    double x = lay.x + (5 + 0.5) / 8.0 * lay.w, y = lay.y + lay.h * (1 - (0.790 - (lo - m)) / (hi - lo + 2 * m));
    int red = 0;
    for (double a = 0; a < 2 * M_PI; a += M_PI / 8) {   /* somewhere on a circle 3.8 pt out */
        const unsigned char *p = ml_t_png_pixel(&img, x + 3.8 * cos(a), y + 3.8 * sin(a), lay.png_scale);
        red += p[0] > 180 && p[1] < 100 && p[2] < 100;
    }
    free(img.rgba);
    ML_ASSERT_MSG(red >= 8, "no red ring around the flagged point (%d of 16 samples red)", red);
    ml_t_rmrf(dir);
}

/* ---- golden images ----------------------------------------------------------------- */

static const char *golden_dir = GOLDEN_DIR;   /* a test of the comparison itself points it elsewhere */

/* Compares `rendered` with fixtures/golden/<name>.png. 0 when they match (or when
 * ML_GOLDEN_UPDATE=1 and may_update: then the golden is rewritten). -1 otherwise, with
 * `why`; when `keep` is set the rendered image and a diff image go into dir and their
 * paths are printed. */
static int golden_compare(const char *name, const char *rendered, const char *dir, int may_update, int keep,
                          char *why, size_t nwhy) {
    char golden[512], diffp[512], copy[512];
    ml_t_png g, r;
    unsigned char *diff = NULL;
    long bad = 0, total;
    int rc = -1, maxd = 0;
    snprintf(golden, sizeof(golden), "%s/%s.png", golden_dir, name);
    const char *upd = getenv("ML_GOLDEN_UPDATE");
    if (may_update && upd && !strcmp(upd, "1")) {
        if (ml_fs_mkdir_p(GOLDEN_DIR) < 0 || ml_fs_copy(golden, rendered) < 0) {
            snprintf(why, nwhy, "cannot write %s: %.400s", golden, ml_error_last()->message);
            return -1;
        }
        fprintf(stderr, "    ML_GOLDEN_UPDATE=1: wrote %s\n", golden);
        return 0;
    }
    if (!ml_fs_exists(golden)) {
        snprintf(why, nwhy, "no golden image %s (run from the repository root; a new figure type's golden is "
                 "written with ML_GOLDEN_UPDATE=1)", golden);
        return -1;
    }
    char reason[400];
    if (ml_t_png_load(golden, &g, reason, sizeof(reason)) < 0) {
        /* a damaged golden is restored, not regenerated: that would bless whatever renders now */
        snprintf(why, nwhy, "golden image %.200s is unreadable (%.300s); restore it: git checkout -- %.200s", golden, reason, golden);
        return -1;
    }
    if (ml_t_png_load(rendered, &r, why, nwhy) < 0) { free(g.rgba); return -1; }
    if (g.w != r.w || g.h != r.h) {
        snprintf(why, nwhy, "%s: %dx%d px, the golden image is %dx%d", name, r.w, r.h, g.w, g.h);
        goto out;
    }
    total = (long)g.w * g.h;
    diff = malloc((size_t)total * 4);
    for (long i = 0; i < total; i++) {
        int d = 0;
        for (int c = 0; c < 3; c++) {
            int e = abs(g.rgba[i * 4 + c] - r.rgba[i * 4 + c]);
            if (e > d) d = e;
        }
        if (d > maxd) maxd = d;
        bad += d > GOLDEN_TOL;
        if (diff) {   /* red beyond tolerance, the golden image faded elsewhere */
            unsigned char fade = (unsigned char)(200 + (g.rgba[i * 4] + g.rgba[i * 4 + 1] + g.rgba[i * 4 + 2]) / 15);
            diff[i * 4 + 0] = d > GOLDEN_TOL ? 255 : fade;
            diff[i * 4 + 1] = d > GOLDEN_TOL ? 0 : fade;
            diff[i * 4 + 2] = d > GOLDEN_TOL ? 0 : fade;
            diff[i * 4 + 3] = 255;
        }
    }
    if (bad * 1000 <= total) {
        rc = 0;
    } else {
        snprintf(why, nwhy, "%s: %ld of %ld pixels (%.2f%%) differ by more than %d (max %d) from %s", name, bad, total,
                 100.0 * bad / total, GOLDEN_TOL, maxd, golden);
        if (keep) {
            snprintf(copy, sizeof(copy), "%s/%s.png", dir, name);
            snprintf(diffp, sizeof(diffp), "%s/%s.diff.png", dir, name);
            if (strcmp(copy, rendered) != 0) ml_fs_copy(copy, rendered);
            if (diff) ml_t_png_save(diffp, diff, g.w, g.h);
            fprintf(stderr, "    rendered: %s\n    diff:     %s\n", copy, diffp);
        }
    }
out:
    free(diff);
    free(g.rgba);
    free(r.rgba);
    return rc;
}

static void golden_check(render_fn fn, const char *name) {
    char dir[256], path[512], why[1024];
    ml_fig_opts o = prov;
    o.png_scale = GOLDEN_SCALE;
    ML_ASSERT(ml_t_tmpdir(dir, sizeof(dir), "figures") == 0);
    snprintf(path, sizeof(path), "%s/%s.png", dir, name);
    int rc = fn(path, ML_FIG_PNG, &o);
    ML_ASSERT_MSG(rc == 0, "%s: %d %s", name, rc, ml_error_last()->message);
    ML_ASSERT_MSG(golden_compare(name, path, dir, 1, 1, why, sizeof(why)) == 0, "%s", why);
    ml_t_rmrf(dir);
}

/* A damaged golden image: the message gives libpng's reason and says to
 * restore the file, never to regenerate it (that would bless whatever
 * renders now). */
static void test_figures__golden_damaged_says_why(void) {
    char dir[256], path[512], why[1024];
    ML_ASSERT_EQ_INT(0, ml_t_tmpdir(dir, sizeof(dir), "golden-damaged"));
    snprintf(path, sizeof(path), "%s/broken.png", dir);
    ML_ASSERT_EQ_INT(0, ml_fs_write_atomic(path, "\x89PNG\r\n\x1a\nnot really", 18));
    golden_dir = dir;
    int rc = golden_compare("broken", path, dir, 1, 0, why, sizeof(why));
    golden_dir = GOLDEN_DIR;
    ML_ASSERT_EQ_INT(-1, rc);
    ML_ASSERT_STR_HAS(why, "unreadable (");
    ML_ASSERT_STR_HAS(why, "git checkout");
    ML_ASSERT_MSG(!strstr(why, "ML_GOLDEN_UPDATE"), "a damaged golden suggests overwriting it: %s", why);
    ml_t_rmrf(dir);
}

static void test_figures__golden_heatmap(void) { golden_check(render_heatmap, "heatmap"); }
static void test_figures__golden_panels(void) { golden_check(render_panels, "panels"); }
static void test_figures__golden_points(void) { golden_check(render_points, "points"); }
static void test_figures__golden_lines(void) { golden_check(render_lines, "lines"); }
static void test_figures__golden_nodata(void) { golden_check(render_nodata, "nodata"); }

/* The comparison must be able to fail: a grey colour map must not pass as the heatmap,
 * nor missing spines and ticks as the panels. */
static void test_figures__golden_negative(void) {
    char dir[256], path[512], why[1024];
    ml_fig_opts o = prov;
    o.png_scale = GOLDEN_SCALE;
    ML_ASSERT(ml_t_tmpdir(dir, sizeof(dir), "figures") == 0);
    snprintf(path, sizeof(path), "%s/heatmap.png", dir);
    ml_plot__test_break(ML_PLOT_BREAK_COLORMAP);
    int rc = render_heatmap(path, ML_FIG_PNG, &o);
    ml_plot__test_break(0);
    ML_ASSERT_EQ_INT(0, rc);
    int cmp_grey = golden_compare("heatmap", path, dir, 0, 0, why, sizeof(why));
    ML_ASSERT_MSG(cmp_grey != 0, "a grey colour map passed the heatmap golden comparison");
    ML_ASSERT_MSG(strstr(why, "differ by more than") != NULL, "failed for another reason: %s", why);
    snprintf(path, sizeof(path), "%s/panels.png", dir);
    ml_plot__test_break(ML_PLOT_BREAK_AXES);
    rc = render_panels(path, ML_FIG_PNG, &o);
    ml_plot__test_break(0);
    ML_ASSERT_EQ_INT(0, rc);
    int cmp_axes = golden_compare("panels", path, dir, 0, 0, why, sizeof(why));
    ML_ASSERT_MSG(cmp_axes != 0, "panels without spines and ticks passed the golden comparison");
    ML_ASSERT_MSG(strstr(why, "differ by more than") != NULL, "failed for another reason: %s", why);
    /* and unbroken again afterwards */
    ML_ASSERT_EQ_INT(0, render_panels(path, ML_FIG_PNG, &o));
    ML_ASSERT_MSG(golden_compare("panels", path, dir, 0, 1, why, sizeof(why)) == 0, "%s", why);
    ml_t_rmrf(dir);
}

const ml_test ml_tests_figures[] = {
    {"figures__heatmap_formats", test_figures__heatmap_formats, "unit"},
    {"figures__lines_formats", test_figures__lines_formats, "unit"},
    {"figures__panels_formats", test_figures__panels_formats, "unit"},
    {"figures__points_formats", test_figures__points_formats, "unit"},
    {"figures__nodata_formats", test_figures__nodata_formats, "unit"},
    {"figures__pdffonts_parser", test_figures__pdffonts_parser, "unit"},
    {"figures__deterministic", test_figures__deterministic, "unit"},
    {"figures__bad_args", test_figures__bad_args, "unit"},
    {"figures__viridis_table", test_figures__viridis_table, "unit"},
    {"figures__viridis_pixels", test_figures__viridis_pixels, "unit"},
    {"figures__no_data", test_figures__no_data, "unit"},
    {"figures__points_layout", test_figures__points_layout, "unit"},
    {"figures__points_order", test_figures__points_order, "unit"},
    {"figures__labels_fit", test_figures__labels_fit, "unit"},
    {"figures__panels_flags", test_figures__panels_flags, "unit"},
    {"figures__golden_heatmap", test_figures__golden_heatmap, "unit"},
    {"figures__golden_panels", test_figures__golden_panels, "unit"},
    {"figures__golden_points", test_figures__golden_points, "unit"},
    {"figures__golden_lines", test_figures__golden_lines, "unit"},
    {"figures__golden_nodata", test_figures__golden_nodata, "unit"},
    {"figures__golden_negative", test_figures__golden_negative, "unit"},
    {"figures__golden_damaged_says_why", test_figures__golden_damaged_says_why, "unit"},
    {0},
};
