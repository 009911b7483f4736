/*
 * tests/test_reports.c: figures and HTML reports (reports/).
 * Covers: PNG/SVG output of both figures, PNG tEXt provenance read back with libpng, SVG
 *         well-formedness (xmllint when installed), viridis pixels in a rendered heatmap,
 *         "no data" figures. (The report itself: test_report_page.c.)
 * Every test works in its own mkdtemp folder under /tmp, removed when the test passes and
 * kept (its path printed) when it fails, for a look at the files.
 */
#include "tests/test.h"
#include "tests/pngio.h"

#include "core/error.h"
#include "core/fs.h"
#include "reports/plot.h"
#include "reports/report.h"

#include <dirent.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- helpers ----------------------------------------------------------------------- */

static int make_tmpdir(char *dir, size_t n) {
    snprintf(dir, n, "/tmp/mltest-reports-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

/* One level deep is all a test creates. */
static void remove_dir(const char *dir) {
    DIR *d = opendir(dir);
    struct dirent *e;
    char path[4096];
    if (!d) return;
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

/* Is the pixel at (x_pt, y_pt) within tol (per channel, 0-255) of rgb 0xRRGGBB? */
static int pixel_near(const ml_t_png *img, double x_pt, double y_pt, int scale, unsigned rgb, int tol) {
    int x = (int)(x_pt * scale), y = (int)(y_pt * scale);
    if (x < 0 || y < 0 || x >= img->w || y >= img->h) return 0;
    const unsigned char *p = img->rgba + ((size_t)y * (size_t)img->w + (size_t)x) * 4;
    int want[3] = {(int)(rgb >> 16) & 255, (int)(rgb >> 8) & 255, (int)rgb & 255};
    for (int c = 0; c < 3; c++)
        if (abs(p[c] - want[c]) > tol) return 0;
    return 1;
}

/* NULL when the SVG looks whole, else what is wrong. Runs xmllint when installed. */
static const char *svg_problem(const char *path) {
    static char why[512];
    char *txt = NULL, cmd[600];
    size_t len = 0;
    if (ml_fs_read_all(&txt, &len, path) < 0) return "cannot read the SVG";
    int ok = len > 0 && strncmp(txt, "<?xml", 5) == 0 && strstr(txt, "<svg") && strstr(txt, "</svg>");
    free(txt);
    if (!ok) { snprintf(why, sizeof(why), "%s: no <?xml prolog or <svg>...</svg>", path); return why; }
    if (access("/usr/bin/xmllint", X_OK) != 0) {
        fprintf(stderr, "    note: /usr/bin/xmllint not installed; %s checked by prefix only\n", path);
        return NULL;
    }
    snprintf(cmd, sizeof(cmd), "/usr/bin/xmllint --noout '%s'", path);
    int st = system(cmd);
    if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        snprintf(why, sizeof(why), "xmllint --noout %s failed (status %d)", path, st);
        return why;
    }
    return NULL;
}

static long file_size(const char *path) {
    FILE *f = fopen(path, "rb");
    long n = -1;
    if (f && fseek(f, 0, SEEK_END) == 0) n = ftell(f);
    if (f) fclose(f);
    return n;
}

static const char *const layer_names[] = {"hidden1", "hidden2"};

/* ---- figures ----------------------------------------------------------------------- */

static void test_reports__heatmap_png_svg(void) {
    char dir[64], png[128], svg[128], why[256];
    const double v[] = {0.8, 0.3, 0.35, 0.6};
    ml_fig_opts o = {.source = "0123456789abcdef0123456789abcdef01234567", .suite = "smoke"};
    ml_t_png img;
    ML_ASSERT(make_tmpdir(dir, sizeof(dir)) == 0);
    snprintf(png, sizeof(png), "%s/h.png", dir);
    snprintf(svg, sizeof(svg), "%s/h.svg", dir);
    ML_ASSERT_EQ_INT(0, ml_fig_heatmap(png, ML_FIG_PNG, "CKA at step 100", "A layer", "B layer", layer_names,
                                       layer_names, v, 2, 2, 0, 1, &o));
    ML_ASSERT_EQ_INT(0, ml_fig_heatmap(svg, ML_FIG_SVG, "CKA at step 100", "A layer", "B layer", layer_names,
                                       layer_names, v, 2, 2, 0, 1, &o));
    ML_ASSERT(file_size(png) > 1000);
    ML_ASSERT(file_size(svg) > 1000);
    ML_ASSERT_MSG(ml_t_png_load(png, &img, why, sizeof(why)) == 0, "%s", why);
    /* 252 pt (3.5 in) wide at the default 3x */
    int w = img.w;
    ML_ASSERT_STR_HAS(img.text, "Software=mergelab\n");
    ML_ASSERT_STR_HAS(img.text, "Title=CKA at step 100\n");
    ML_ASSERT_STR_HAS(img.text, "Source=0123456789abcdef0123456789abcdef01234567\n");
    ML_ASSERT_STR_HAS(img.text, "Suite=smoke\n");
    free(img.rgba);
    ML_ASSERT_EQ_INT(756, w);
    const char *bad = svg_problem(svg);
    ML_ASSERT_MSG(bad == NULL, "%s", bad);
    remove_dir(dir);
}

static void test_reports__lines_png_svg(void) {
    char dir[64], png[128], svg[128], why[256];
    const double x[] = {0, 25, 50, 75, 100};
    const double s[] = {1.0, 0.95, 0.9, 0.85, 0.8, 1.0, 0.9, NAN, 0.7, 0.6};
    ml_fig_layout lay = {0};
    ml_fig_opts o = {.source = "abc", .suite = "smoke", .y_include_n = 1, .y_include = {1.0}, .layout = &lay};
    ml_t_png img;
    ML_ASSERT(make_tmpdir(dir, sizeof(dir)) == 0);
    snprintf(png, sizeof(png), "%s/l.png", dir);
    snprintf(svg, sizeof(svg), "%s/l.svg", dir);
    ML_ASSERT_EQ_INT(0, ml_fig_lines(png, ML_FIG_PNG, "CKA over fine-tuning", "step", "CKA", x, 5, layer_names,
                                     s, 2, &o));
    ML_ASSERT_EQ_INT(0, lay.no_data);
    ML_ASSERT_EQ_INT(0, ml_fig_lines(svg, ML_FIG_SVG, "CKA over fine-tuning", "step", "CKA", x, 5, layer_names,
                                     s, 2, &o));
    ML_ASSERT_MSG(ml_t_png_load(png, &img, why, sizeof(why)) == 0, "%s", why);
    ML_ASSERT_STR_HAS(img.text, "Software=mergelab\n");
    ML_ASSERT_STR_HAS(img.text, "Title=CKA over fine-tuning\n");
    ML_ASSERT_STR_HAS(img.text, "Source=abc\n");
    ML_ASSERT_STR_HAS(img.text, "Suite=smoke\n");
    /* the first point of series 0 (x=0, y=1.0) is drawn in Okabe-Ito blue #0072B2:
     * proves the y range included 1.0 and the data landed where the layout says */
    double y1 = lay.y + lay.h * (1 - (1.0 - 0.58) / (1.02 - 0.58));
    int hit = pixel_near(&img, lay.x + lay.w * (5.0 / 110.0), y1, lay.png_scale, 0x0072B2, 40) ||
              pixel_near(&img, lay.x + lay.w * (5.0 / 110.0), y1, lay.png_scale, 0xD55E00, 40);
    free(img.rgba);
    ML_ASSERT_MSG(hit, "no series colour at the (0, 1.0) data point");
    const char *bad = svg_problem(svg);
    ML_ASSERT_MSG(bad == NULL, "%s", bad);
    remove_dir(dir);
}

static void test_reports__heatmap_viridis_pixels(void) {
    char dir[64], png[128], why[256];
    /* (2, 2): 1.0 top-left, 0.0 top-right, 0.5 bottom-left, NaN bottom-right */
    const double v[] = {1.0, 0.0, 0.5, NAN};
    ml_fig_layout lay = {0};
    ml_fig_opts o = {.layout = &lay};
    ml_t_png img;
    ML_ASSERT(make_tmpdir(dir, sizeof(dir)) == 0);
    snprintf(png, sizeof(png), "%s/h.png", dir);
    ML_ASSERT_EQ_INT(0, ml_fig_heatmap(png, ML_FIG_PNG, "t", "rows", "cols", layer_names, layer_names, v, 2, 2,
                                       0, 1, &o));
    ML_ASSERT_MSG(ml_t_png_load(png, &img, why, sizeof(why)) == 0, "%s", why);
    double cw = lay.w / 2, ch = lay.h / 2;
    /* sample 15% into each cell: clear of the separators and of the centred value text */
    double x0 = lay.x + 0.15 * cw, x1 = lay.x + cw + 0.15 * cw, y0 = lay.y + 0.15 * ch, y1 = lay.y + ch + 0.15 * ch;
    int top = pixel_near(&img, x0, y0, lay.png_scale, 0xFDE725, 6);
    int bottom = pixel_near(&img, x1, y0, lay.png_scale, 0x440154, 6);
    int mid = pixel_near(&img, x0, y1, lay.png_scale, 0x21918C, 6);   /* matplotlib viridis(0.5) */
    int wrong = pixel_near(&img, x0, y0, lay.png_scale, 0x440154, 6);  /* the checker must be able to say no */
    const unsigned char *nan_px = ml_t_png_pixel(&img, x1, y1, lay.png_scale);
    int nan_grey = abs(nan_px[0] - nan_px[1]) < 8 && abs(nan_px[1] - nan_px[2]) < 8 && nan_px[0] > 150;
    const unsigned char *p = ml_t_png_pixel(&img, x0, y0, lay.png_scale);
    char got[64];
    snprintf(got, sizeof(got), "#%02x%02x%02x", p[0], p[1], p[2]);
    free(img.rgba);
    ML_ASSERT_MSG(top, "cell 1.0 should be viridis top #fde725, got %s", got);
    ML_ASSERT_MSG(bottom, "cell 0.0 should be viridis bottom #440154");
    ML_ASSERT_MSG(mid, "cell 0.5 should be viridis middle #21918c");
    ML_ASSERT_MSG(!wrong, "pixel_near accepted #440154 for a #fde725 cell");
    ML_ASSERT_MSG(nan_grey, "NaN cell should be light grey (no data)");
    remove_dir(dir);
}

static void test_reports__no_data(void) {
    char dir[64], path[128], why[256];
    const double nan4[] = {NAN, NAN, NAN, NAN}, x[] = {0, 1};
    ml_fig_layout lay = {0};
    ml_fig_opts o = {.layout = &lay};
    ml_t_png img;
    ML_ASSERT(make_tmpdir(dir, sizeof(dir)) == 0);
    for (int fmt = 0; fmt < 2; fmt++) {
        const char *ext = fmt ? "svg" : "png";
        ml_fig_format ff = fmt ? ML_FIG_SVG : ML_FIG_PNG;
        snprintf(path, sizeof(path), "%s/h.%s", dir, ext);
        lay.no_data = 0;
        ML_ASSERT_EQ_INT(0, ml_fig_heatmap(path, ff, "all NaN", "r", "c", NULL, NULL, nan4, 2, 2, 0, 1, &o));
        ML_ASSERT_EQ_INT(1, lay.no_data);
        ML_ASSERT(file_size(path) > 100);
        lay.no_data = 0;
        ML_ASSERT_EQ_INT(0, ml_fig_heatmap(path, ff, "empty", "r", "c", NULL, NULL, NULL, 0, 0, 0, 1, &o));
        ML_ASSERT_EQ_INT(1, lay.no_data);
        snprintf(path, sizeof(path), "%s/l.%s", dir, ext);
        lay.no_data = 0;
        ML_ASSERT_EQ_INT(0, ml_fig_lines(path, ff, "all NaN", "x", "y", x, 2, layer_names, nan4, 2, &o));
        ML_ASSERT_EQ_INT(1, lay.no_data);
        lay.no_data = 0;
        ML_ASSERT_EQ_INT(0, ml_fig_lines(path, ff, "empty", "x", "y", NULL, 0, NULL, NULL, 0, &o));
        ML_ASSERT_EQ_INT(1, lay.no_data);
        if (fmt == 1) {
            const char *bad = svg_problem(path);
            ML_ASSERT_MSG(bad == NULL, "%s", bad);
        }
    }
    snprintf(path, sizeof(path), "%s/l.png", dir);
    ML_ASSERT_MSG(ml_t_png_load(path, &img, why, sizeof(why)) == 0, "%s", why);
    free(img.rgba);
    ML_ASSERT_EQ_INT(ML_EINVALID, ml_fig_lines(path, ML_FIG_PNG, "t", "x", "y", NULL, 3, NULL, nan4, 1, NULL));
    remove_dir(dir);
}

/* Names nobody validated (invalid UTF-8, very long) and a grid too big to annotate: cairo
 * refuses invalid UTF-8 for good, so this would fail with an error, not a bad picture. */
static void test_reports__odd_names(void) {
    char dir[64], path[128];
    const char *names[13];
    double v[13 * 13];
    ml_fig_layout lay = {0};
    ml_fig_opts o = {.layout = &lay};
    for (int i = 0; i < 13; i++) names[i] = i % 3 == 0 ? "bad \xff\xfe utf-8" : i % 3 == 1 ?
        "a.very.long.layer.name.that.will.not.fit.in.any.margin.at.all" : "caf\xc3\xa9";
    for (int i = 0; i < 13 * 13; i++) v[i] = (i % 14 == 0) ? 1.0 : (i % 7) / 7.0;
    ML_ASSERT(make_tmpdir(dir, sizeof(dir)) == 0);
    snprintf(path, sizeof(path), "%s/h.png", dir);
    int rc = ml_fig_heatmap(path, ML_FIG_PNG, "13 x 13", "rows \xff", "cols", names, names, v, 13, 13, 0, 1, &o);
    ML_ASSERT_MSG(rc == 0, "%s", ml_error_last()->message);
    ML_ASSERT_EQ_INT(0, lay.no_data);
    ML_ASSERT(lay.x > 0 && lay.x + lay.w < lay.width);
    snprintf(path, sizeof(path), "%s/l.svg", dir);
    rc = ml_fig_lines(path, ML_FIG_SVG, "odd \xc3", "x", "y", v, 13, names, v, 13, &o);
    ML_ASSERT_MSG(rc == 0, "%s", ml_error_last()->message);
    const char *bad = svg_problem(path);
    ML_ASSERT_MSG(bad == NULL, "%s", bad);
    remove_dir(dir);
}

static void test_reports__ticks_and_colours(void) {
    double t[64], step, rgb[3];
    char lab[32];
    int n = ml_plot__ticks(0.0, 1.0, 6, t, &step);
    ML_ASSERT_EQ_INT(6, n);
    ML_ASSERT_NEAR(0.2, step, 1e-12, 0);
    ML_ASSERT_NEAR(1.0, t[5], 1e-12, 0);
    n = ml_plot__ticks(0.58, 1.02, 8, t, &step);
    ML_ASSERT_NEAR(0.6, t[0], 1e-12, 0);
    ML_ASSERT_NEAR(1.0, t[n - 1], 1e-12, 0);
    ml_plot__tick_label(lab, sizeof(lab), 0.25, 0.25);
    ML_ASSERT(strcmp(lab, "0.25") == 0);
    ml_plot__tick_label(lab, sizeof(lab), -1e-17, 0.2);
    ML_ASSERT_MSG(strcmp(lab, "0.0") == 0, "got \"%s\"", lab);
    ml_plot__tick_label(lab, sizeof(lab), 40, 20);
    ML_ASSERT(strcmp(lab, "40") == 0);
    /* matplotlib: viridis(0) #440154, viridis(0.5) #21918c, viridis(1) #fde725 */
    ml_plot__viridis(0.0, rgb);
    ML_ASSERT_NEAR(0x44 / 255.0, rgb[0], 1.0 / 255, 0);
    ML_ASSERT_NEAR(0x01 / 255.0, rgb[1], 1.0 / 255, 0);
    ML_ASSERT_NEAR(0x54 / 255.0, rgb[2], 1.0 / 255, 0);
    ml_plot__viridis(0.5, rgb);
    ML_ASSERT_NEAR(0x21 / 255.0, rgb[0], 1.5 / 255, 0);
    ML_ASSERT_NEAR(0x91 / 255.0, rgb[1], 1.5 / 255, 0);
    ML_ASSERT_NEAR(0x8c / 255.0, rgb[2], 1.5 / 255, 0);
    ml_plot__viridis(1.0, rgb);
    ML_ASSERT_NEAR(0xfd / 255.0, rgb[0], 1.0 / 255, 0);
    ML_ASSERT_NEAR(0xe7 / 255.0, rgb[1], 1.0 / 255, 0);
    ML_ASSERT_NEAR(0x25 / 255.0, rgb[2], 1.0 / 255, 0);
    /* annotation ink: black on yellow, white on dark purple */
    double ink[3], yellow[3] = {0xfd / 255.0, 0xe7 / 255.0, 0x25 / 255.0}, purple[3] = {0x44 / 255.0, 0.0, 0x54 / 255.0};
    ml_plot__contrast_text(yellow, ink);
    ML_ASSERT_NEAR(0.0, ink[0], 0, 0);
    ml_plot__contrast_text(purple, ink);
    ML_ASSERT_NEAR(1.0, ink[0], 0, 0);
}

const ml_test ml_tests_reports[] = {
    {"reports__heatmap_png_svg", test_reports__heatmap_png_svg, "unit"},
    {"reports__lines_png_svg", test_reports__lines_png_svg, "unit"},
    {"reports__heatmap_viridis_pixels", test_reports__heatmap_viridis_pixels, "unit"},
    {"reports__no_data", test_reports__no_data, "unit"},
    {"reports__odd_names", test_reports__odd_names, "unit"},
    {"reports__ticks_and_colours", test_reports__ticks_and_colours, "unit"},
    {0},
};
