/*
 * tests/test_browser.c: the HTML report in a real browser, headless Chromium (issue 7).
 * Covers: `mergelab report` of fixtures/baselines/smoke.json names nothing remote in
 *         any src/href/srcset/url(); once loaded, the page's own script says every
 *         <img> decoded (data-ml-ready/-images/-loaded on <html>); a 1200x3000
 *         screenshot is not blank and shows the heatmap's viridis pixels; with a dark
 *         colour scheme preferred, the page background is dark.
 * Every check that must pass has a twin that must fail: a copy of the report with
 *         its heatmap PNGs deleted (fewer images loaded, no viridis), a page with
 *         remote URLs, the light screenshot's background.
 * Chromium missing: a SKIP line and a pass, but a failure when CI=true.
 * Cost: five Chromium runs, about 2-3 s each.
 */
#include "tests/test.h"
#include "tests/browser.h"
#include "tests/pngio.h"
#include "tests/util.h"
#include "core/fs.h"

#include <limits.h>
#include <stdlib.h>
#include <strings.h>
#include <unistd.h>

#define SHOT_W 1200
#define SHOT_H 3000

/* ---- Chromium present? ------------------------------------------------------------- */

static int have_chromium(void) {
    char path[PATH_MAX];
    return ml_t_chromium_path(path, sizeof(path)) == 0;
}

static int ci_is_true(void) {
    const char *ci = getenv("CI");
    return ci && !strcmp(ci, "true");
}

/* A test that needs Chromium returns here (passed, with a SKIP line) when it is
 * missing, except under CI=true, where that is a failure. */
#define NEED_CHROMIUM() do { \
        if (!have_chromium()) { \
            if (ci_is_true()) \
                ML_FAIL_("chromium not installed and CI=true: run (as root) apt-get install -y " \
                         "--no-install-recommends chromium, or make deps-test"); \
            printf("    SKIP: chromium not installed (apt-get install chromium)\n"); \
            return; \
        } } while (0)

/* ---- HTML attribute scanning ------------------------------------------------------- */

/* The next value of attribute `name` (src, href, ...) in html at or after p: the
 * name must start the attribute (after whitespace, a quote, '/' or the ':' of
 * xlink:href) and be followed by '='. The value (quotes removed) goes to val.
 * Returns where to scan on, or NULL when there is none. */
static const char *next_attr(const char *html, const char *p, const char *name, char *val, size_t n) {
    size_t ln = strlen(name);
    for (; *p; p++) {
        if (p == html || !strchr(" \t\r\n:\"'/", p[-1]) || strncasecmp(p, name, ln) != 0) continue;
        const char *q = p + ln;
        q += strspn(q, " \t\r\n");
        if (*q != '=') continue;
        q++;
        q += strspn(q, " \t\r\n");
        const char *end;
        if (*q == '"' || *q == '\'') {
            const char *close = strchr(q + 1, *q);
            q++;
            end = close ? close : q + strlen(q);
        } else {
            end = q + strcspn(q, " \t\r\n>");
        }
        size_t l = (size_t)(end - q) < n - 1 ? (size_t)(end - q) : n - 1;
        memcpy(val, q, l);
        val[l] = '\0';
        return *end ? end + 1 : end;
    }
    return NULL;
}

static int is_remote(const char *url) {
    url += strspn(url, " \t\r\n");
    return !strncasecmp(url, "http:", 5) || !strncasecmp(url, "https:", 6) || !strncmp(url, "//", 2);
}

/* 1 (and printed) when the value of attribute `attr` names a remote resource;
 * a srcset is a comma-separated list of "URL [descriptor]". val is scratch. */
static int remote_value(const char *attr, char *val, int print) {
    int remote = 0;
    if (strcmp(attr, "srcset") != 0) {
        if (!is_remote(val)) return 0;
        if (print) fprintf(stderr, "    remote %s=\"%s\"\n", attr, val);
        return 1;
    }
    for (char *save = NULL, *tok = strtok_r(val, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        tok += strspn(tok, " \t\r\n");
        tok[strcspn(tok, " \t\r\n")] = '\0';
        if (is_remote(tok)) {
            if (print) fprintf(stderr, "    remote srcset candidate \"%s\"\n", tok);
            remote = 1;
        }
    }
    return remote;
}

/* How many src/href/srcset/url() values in html name a remote resource (each one
 * printed when `print`); *n_src gets how many src values were seen in all, so that a scan that
 * found nothing can be told apart from a clean page. */
static int count_remote(const char *html, int *n_src, int print) {
    static const char *const attrs[] = { "src", "href", "srcset" };
    char val[4096];
    int remote = 0;
    *n_src = 0;
    for (size_t a = 0; a < sizeof(attrs) / sizeof(attrs[0]); a++)
        for (const char *p = html; (p = next_attr(html, p, attrs[a], val, sizeof(val))) != NULL;) {
            if (a == 0) ++*n_src;
            remote += remote_value(attrs[a], val, print);
        }
    /* CSS url(...) in <style> blocks and style attributes */
    for (const char *p = html; (p = strstr(p, "url(")) != NULL; p += 4) {
        const char *q = p + 4;
        q += strspn(q, " \t\r\n\"'");
        if (is_remote(q)) {
            if (print) fprintf(stderr, "    remote url(%.*s)\n", (int)strcspn(q, ")\"' "), q);
            remote++;
        }
    }
    return remote;
}

/* The integer value of attribute `name` on the <html> start tag of dom; -1 when
 * absent or not a number. */
static long html_attr(const char *dom, const char *name) {
    char tag[8192], val[64], *end;
    const char *p = strstr(dom, "<html");
    if (!p) return -1;
    const char *close = strchr(p, '>');
    size_t l = close ? (size_t)(close - p) : strlen(p);
    if (l >= sizeof(tag)) l = sizeof(tag) - 1;
    memcpy(tag, p, l);
    tag[l] = '\0';
    if (!next_attr(tag, tag, name, val, sizeof(val)) || !val[0]) return -1;
    long v = strtol(val, &end, 10);
    return *end ? -1 : v;
}

/* ---- viridis pixels ---------------------------------------------------------------- */

/* matplotlib's viridis at t = 0, 0.1, ..., 1 (sRGB); the map between two is close
 * to the straight line between them, well within the tolerance used below. */
static const unsigned char viridis11[11][3] = {
    { 0x44, 0x01, 0x54 }, { 0x48, 0x24, 0x75 }, { 0x41, 0x44, 0x87 }, { 0x35, 0x5f, 0x8d },
    { 0x2a, 0x78, 0x8e }, { 0x21, 0x91, 0x8c }, { 0x22, 0xa8, 0x84 }, { 0x44, 0xbf, 0x70 },
    { 0x7a, 0xd1, 0x51 }, { 0xbd, 0xdf, 0x26 }, { 0xfd, 0xe7, 0x25 },
};

#define VIRIDIS_STEPS 8                       /* samples per segment */
#define VIRIDIS_N (10 * VIRIDIS_STEPS + 1)
#define VIRIDIS_TOL 20                        /* per channel */

/* Pixels of img within VIRIDIS_TOL of some point of the map. Greys
 * (channel spread under 40) are skipped at once: every viridis colour has a
 * spread of 80 or more. */
static long count_viridis(const ml_t_png *img) {
    int pts[VIRIDIS_N][3];
    for (int k = 0; k < 10; k++)
        for (int s = 0; s < VIRIDIS_STEPS; s++)
            for (int c = 0; c < 3; c++)
                pts[k * VIRIDIS_STEPS + s][c] =
                    viridis11[k][c] + (viridis11[k + 1][c] - viridis11[k][c]) * s / VIRIDIS_STEPS;
    for (int c = 0; c < 3; c++) pts[VIRIDIS_N - 1][c] = viridis11[10][c];
    long n = 0;
    for (size_t i = 0; i < (size_t)img->w * img->h; i++) {
        const unsigned char *p = img->rgba + 4 * i;
        int mx = p[0] > p[1] ? p[0] : p[1], mn = p[0] < p[1] ? p[0] : p[1];
        if (p[2] > mx) mx = p[2];
        if (p[2] < mn) mn = p[2];
        if (mx - mn < 40) continue;
        for (int k = 0; k < VIRIDIS_N; k++)
            if (abs(p[0] - pts[k][0]) <= VIRIDIS_TOL && abs(p[1] - pts[k][1]) <= VIRIDIS_TOL &&
                abs(p[2] - pts[k][2]) <= VIRIDIS_TOL) { n++; break; }
    }
    return n;
}

/* The fraction of pixels in [x0,x1) x [y0,y1) whose R, G and B are all below 80. */
static double dark_fraction(const ml_t_png *img, int x0, int y0, int x1, int y1) {
    long n = 0, all = 0;
    for (int y = y0 < 0 ? 0 : y0; y < y1 && y < img->h; y++)
        for (int x = x0 < 0 ? 0 : x0; x < x1 && x < img->w; x++, all++) {
            const unsigned char *p = img->rgba + ((size_t)y * img->w + x) * 4;
            n += p[0] < 80 && p[1] < 80 && p[2] < 80;
        }
    return all ? (double)n / all : 0.0;
}

/* ---- the report under test (made once per process, removed at exit) --------------- */

static struct {
    int made, ok;
    char dir[256];           /* /tmp/mltest-browser-XXXXXX */
    char good[320];          /* dir/report/index.html: as `mergelab report` wrote it */
    char broken[320];        /* dir/broken/index.html: a copy without its heatmap PNGs */
    int removed;             /* heatmap PNGs deleted from the copy */
    char light_png[320];     /* dir/light.png: screenshot of good, made on first use */
    int light_state;         /* 0 not yet, 1 made, -1 failed */
} fx;

static void fixture_remove(void) { if (fx.dir[0]) ml_t_rmrf(fx.dir); }

/* Deletes from the copy every <img> file whose src names a heatmap; the src must
 * be a plain relative path inside the folder. */
static int remove_heatmaps(const char *dir, const char *html) {
    char val[1024], path[2048];
    int n = 0;
    for (const char *p = html; (p = strstr(p, "<img")) != NULL; p += 4) {
        const char *close = strchr(p, '>');
        if (!close) break;
        char tag[4096];
        size_t l = (size_t)(close - p) < sizeof(tag) - 1 ? (size_t)(close - p) : sizeof(tag) - 1;
        memcpy(tag, p, l);
        tag[l] = '\0';
        if (!next_attr(tag, tag, "src", val, sizeof(val)) || !strstr(val, "heatmap")) continue;
        if (val[0] == '/' || strstr(val, "..") || strchr(val, ':')) continue;
        snprintf(path, sizeof(path), "%s/%s", dir, val);
        if (unlink(path) == 0) n++;
    }
    return n;
}

static int fixture(void) {
    char src[320], *out = NULL, *html = NULL, cmd[1024];
    if (fx.made) return fx.ok;
    fx.made = 1;
    if (ml_t_tmpdir(fx.dir, sizeof(fx.dir), "browser") < 0) { fx.dir[0] = '\0'; return 0; }
    atexit(fixture_remove);
    snprintf(src, sizeof(src), "%s/smoke.json", fx.dir);
    if (ml_fs_copy(src, "fixtures/baselines/smoke.json") < 0) {
        fprintf(stderr, "    cannot copy fixtures/baselines/smoke.json (run from the repository root)\n");
        return 0;
    }
    int rc = ml_t_cli(&out, "report %s -o %s/report", src, fx.dir);
    if (rc != 0) {
        fprintf(stderr, "    mergelab report %s failed (%d):\n%s\n", src, rc, out);
        free(out);
        return 0;
    }
    free(out);
    snprintf(fx.good, sizeof(fx.good), "%s/report/index.html", fx.dir);
    snprintf(fx.broken, sizeof(fx.broken), "%s/broken/index.html", fx.dir);
    snprintf(fx.light_png, sizeof(fx.light_png), "%s/light.png", fx.dir);
    snprintf(cmd, sizeof(cmd), "mkdir '%s/broken' && cp -R '%s/report/.' '%s/broken/'", fx.dir, fx.dir, fx.dir);
    if (system(cmd) != 0 || ml_fs_read_all(&html, NULL, fx.good) < 0) {
        fprintf(stderr, "    could not copy the report to %s/broken\n", fx.dir);
        free(html);
        return 0;
    }
    snprintf(src, sizeof(src), "%s/broken", fx.dir);
    fx.removed = remove_heatmaps(src, html);
    free(html);
    fx.ok = 1;
    return 1;
}

/* The screenshot of good (light colour scheme), made on first use, read into *img.
 * 0, or -1 with why. */
static int light_screenshot(ml_t_png *img, char *why, size_t n) {
    if (fx.light_state == 0)
        fx.light_state = ml_t_browser_screenshot(fx.light_png, fx.good, SHOT_W, SHOT_H) == 0 ? 1 : -1;
    if (fx.light_state != 1) {
        memset(img, 0, sizeof(*img));
        snprintf(why, n, "no screenshot of %s", fx.good);
        return -1;
    }
    return ml_t_png_load(fx.light_png, img, why, n);
}

/* ---- tests ------------------------------------------------------------------------- */

static void test_browser__no_remote_urls(void) {
    char *html = NULL;
    int local = 0;
    /* the scanner itself: it must find each of these */
    const char *bad = "<img src=\"https://example.org/a.png\"><a HREF='//cdn.example/x'>"
                      "<link href=http://x/y.css><img srcset=\"a.png 1x, https://x/b.png 2x\">"
                      "<style>body{background:url( 'http://x/bg.png')}</style><use xlink:href=\"#g\"/>";
    ML_ASSERT_EQ_INT(5, count_remote(bad, &local, 0));
    ML_ASSERT_EQ_INT(0, count_remote("<img src=\"smoke_cka_heatmap.png\"><a href=\"#cka\">", &local, 0));
    ML_ASSERT_EQ_INT(1, local);

    ML_ASSERT_MSG(fixture(), "the report could not be made");
    ML_ASSERT_EQ_INT(0, ml_fs_read_all(&html, NULL, fx.good));
    int remote = count_remote(html, &local, 1);
    free(html);
    ML_ASSERT_MSG(remote == 0, "%s names %d remote resource(s) (listed above)", fx.good, remote);
    ML_ASSERT_MSG(local > 0, "%s has no src attribute at all (no <img> figures?)", fx.good);
}

static void test_browser__images_load(void) {
    char *dom = NULL;
    NEED_CHROMIUM();
    ML_ASSERT_MSG(fixture(), "the report could not be made");
    ML_ASSERT_EQ_INT(0, ml_t_browser_dump_dom(&dom, fx.good));
    long ready = html_attr(dom, "data-ml-ready"), images = html_attr(dom, "data-ml-images"),
         loaded = html_attr(dom, "data-ml-loaded");
    free(dom);
    ML_ASSERT_MSG(ready == 1, "<html data-ml-ready> is %ld, want 1 (the load handler did not run)", ready);
    ML_ASSERT_MSG(images > 0, "<html data-ml-images> is %ld, want > 0", images);
    ML_ASSERT_MSG(loaded == images, "%ld of %ld images loaded", loaded, images);

    /* the same page without its heatmap PNGs: the check must see it */
    ML_ASSERT_MSG(fx.removed > 0, "no <img> in %s has a src naming a heatmap", fx.good);
    ML_ASSERT_EQ_INT(0, ml_t_browser_dump_dom(&dom, fx.broken));
    long ready2 = html_attr(dom, "data-ml-ready"), images2 = html_attr(dom, "data-ml-images"),
         loaded2 = html_attr(dom, "data-ml-loaded");
    free(dom);
    ML_ASSERT_EQ_INT(1, ready2);
    ML_ASSERT_EQ_INT(images, images2);
    /* <=: two <img> may show the same file */
    ML_ASSERT_MSG(loaded2 <= images - fx.removed, "with %d heatmap PNG(s) deleted, %ld of %ld loaded, want <= %ld",
                  fx.removed, loaded2, images2, images - fx.removed);
}

static void test_browser__screenshot_not_blank(void) {
    char shot[320], why[512];
    ml_t_png img;
    NEED_CHROMIUM();
    ML_ASSERT_MSG(fixture(), "the report could not be made");
    ML_ASSERT_MSG(light_screenshot(&img, why, sizeof(why)) == 0, "%s", why);
    double top = ml_t_png_nonwhite_fraction(&img, 0, 0, img.w, 300);
    long vir = count_viridis(&img);
    free(img.rgba);
    ML_ASSERT_EQ_INT(SHOT_W, img.w);
    ML_ASSERT_EQ_INT(SHOT_H, img.h);
    fprintf(stderr, "    top 300 px: %.2f%% not white; %ld viridis pixels\n", 100 * top, vir);
    ML_ASSERT_MSG(top > 0.005, "the top 300 px are %.3f%% non-white: a blank page", 100 * top);
    ML_ASSERT_MSG(vir >= 2000, "only %ld viridis pixels in the screenshot, want >= 2000 (heatmap not shown?)", vir);

    /* without the heatmap PNGs the viridis pixels must be gone */
    ML_ASSERT_MSG(fx.removed > 0, "no <img> in %s has a src naming a heatmap", fx.good);
    snprintf(shot, sizeof(shot), "%s/broken.png", fx.dir);
    ML_ASSERT_EQ_INT(0, ml_t_browser_screenshot(shot, fx.broken, SHOT_W, SHOT_H));
    ML_ASSERT_MSG(ml_t_png_load(shot, &img, why, sizeof(why)) == 0, "%s", why);
    long vir2 = count_viridis(&img);
    free(img.rgba);
    fprintf(stderr, "    without the heatmap PNGs: %ld viridis pixels\n", vir2);
    ML_ASSERT_MSG(vir2 * 100 < vir, "%ld viridis pixels remain without the heatmap PNGs (%ld with)", vir2, vir);
}

static void test_browser__dark_mode(void) {
    char shot[320], why[512];
    ml_t_png img;
    NEED_CHROMIUM();
    ML_ASSERT_MSG(fixture(), "the report could not be made");
    /* the page background shows along the right edge: a 16 px strip, full height */
    ML_ASSERT_MSG(light_screenshot(&img, why, sizeof(why)) == 0, "%s", why);
    double light_dark = dark_fraction(&img, img.w - 16, 0, img.w, img.h);
    double light_nonwhite = ml_t_png_nonwhite_fraction(&img, img.w - 16, 0, img.w, img.h);
    free(img.rgba);
    snprintf(shot, sizeof(shot), "%s/dark.png", fx.dir);
    ML_ASSERT_EQ_INT(0, ml_t_browser_screenshot_dark(shot, fx.good, SHOT_W, SHOT_H));
    ML_ASSERT_MSG(ml_t_png_load(shot, &img, why, sizeof(why)) == 0, "%s", why);
    double dark_dark = dark_fraction(&img, img.w - 16, 0, img.w, img.h);
    free(img.rgba);
    fprintf(stderr, "    right edge: light scheme %.1f%% not white, dark scheme %.1f%% dark\n",
            100 * light_nonwhite, 100 * dark_dark);
    ML_ASSERT_MSG(light_nonwhite < 0.1 && light_dark < 0.05,
                  "light scheme: the right edge is %.1f%% non-white, want a white page", 100 * light_nonwhite);
    ML_ASSERT_MSG(dark_dark > 0.9, "dark scheme: only %.1f%% of the right edge is dark (no prefers-color-scheme: "
                  "dark stylesheet?)", 100 * dark_dark);
}

const ml_test ml_tests_browser[] = {
    { "browser__no_remote_urls", test_browser__no_remote_urls, "e2e" },
    { "browser__images_load", test_browser__images_load, "e2e" },
    { "browser__screenshot_not_blank", test_browser__screenshot_not_blank, "e2e" },
    { "browser__dark_mode", test_browser__dark_mode, "e2e" },
    { 0 }
};
