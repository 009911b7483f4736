/*
 * reports/plot.c: the Cairo primitives every mergelab figure is drawn with.
 * Owns: figure surfaces and writing them (PNG via libpng for tEXt provenance, SVG via
 *       cairo's stream surface plus a <title>/<desc>), text, ticks, colour maps, series
 *       styles, legend, hatching and the "no data" box.
 * Not here: what a figure shows or where its parts go (fig_heatmap.c, fig_lines.c).
 * Errors: 0 or ML_ENOMEM/ML_EOS with the reason in ml_error_last().
 */
#include "reports/plot.h"

#include "core/error.h"
#include "core/fs.h"
#include "core/rbuf.h"

#include <cairo-svg.h>
#include <math.h>
#include <png.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct ml_plot {
    ml_fig_format    fmt;
    double           w, h;     /* pt */
    int              scale;    /* PNG pixels per pt */
    cairo_surface_t *surf;
    cairo_t         *cr;
    ml_rbuf          svg;      /* the SVG stream surface writes here */
};

/* matplotlib's viridis (_cm_listed.py) sampled at every 5th of its 256 entries: 52 anchors
 * at t = k/51. Linear interpolation in sRGB between them stays within 0.7/255 of the full
 * table, so the map is indistinguishable from matplotlib's. */
static const double viridis[52][3] = {
    {0.267004, 0.004874, 0.329415}, {0.273809, 0.031497, 0.358853}, {0.278791, 0.062145, 0.386592},
    {0.281924, 0.089666, 0.412415}, {0.283197, 0.115680, 0.436115}, {0.282623, 0.140926, 0.457517},
    {0.280255, 0.165693, 0.476498}, {0.276194, 0.190074, 0.493001}, {0.270595, 0.214069, 0.507052},
    {0.263663, 0.237631, 0.518762}, {0.255645, 0.260703, 0.528312}, {0.246811, 0.283237, 0.535941},
    {0.237441, 0.305202, 0.541921}, {0.227802, 0.326594, 0.546532}, {0.218130, 0.347432, 0.550038},
    {0.208623, 0.367752, 0.552675}, {0.199430, 0.387607, 0.554642}, {0.190631, 0.407061, 0.556089},
    {0.182256, 0.426184, 0.557120}, {0.174274, 0.445044, 0.557792}, {0.166617, 0.463708, 0.558119},
    {0.159194, 0.482237, 0.558073}, {0.151918, 0.500685, 0.557587}, {0.144759, 0.519093, 0.556572},
    {0.137770, 0.537492, 0.554906}, {0.131172, 0.555899, 0.552459}, {0.125394, 0.574318, 0.549086},
    {0.121148, 0.592739, 0.544641}, {0.119423, 0.611141, 0.538982}, {0.121380, 0.629492, 0.531973},
    {0.128087, 0.647749, 0.523491}, {0.140210, 0.665859, 0.513427}, {0.157851, 0.683765, 0.501686},
    {0.180653, 0.701402, 0.488189}, {0.208030, 0.718701, 0.472873}, {0.239374, 0.735588, 0.455688},
    {0.274149, 0.751988, 0.436601}, {0.311925, 0.767822, 0.415586}, {0.352360, 0.783011, 0.392636},
    {0.395174, 0.797475, 0.367757}, {0.440137, 0.811138, 0.340967}, {0.487026, 0.823929, 0.312321},
    {0.535621, 0.835785, 0.281908}, {0.585678, 0.846661, 0.249897}, {0.636902, 0.856542, 0.216620},
    {0.688944, 0.865448, 0.182725}, {0.741388, 0.873449, 0.149561}, {0.793760, 0.880678, 0.120005},
    {0.845561, 0.887322, 0.099702}, {0.896320, 0.893616, 0.096335}, {0.945636, 0.899815, 0.112838},
    {0.993248, 0.906157, 0.143936},
};

/* Okabe & Ito (2008), ordered so the first colours contrast most on white; yellow last
 * because it is faint on a white background. */
static const double okabe_ito[8][3] = {
    {0x00 / 255.0, 0x72 / 255.0, 0xB2 / 255.0},   /* blue           */
    {0xD5 / 255.0, 0x5E / 255.0, 0x00 / 255.0},   /* vermillion     */
    {0x00 / 255.0, 0x9E / 255.0, 0x73 / 255.0},   /* bluish green   */
    {0xCC / 255.0, 0x79 / 255.0, 0xA7 / 255.0},   /* reddish purple */
    {0xE6 / 255.0, 0x9F / 255.0, 0x00 / 255.0},   /* orange         */
    {0x56 / 255.0, 0xB4 / 255.0, 0xE9 / 255.0},   /* sky blue       */
    {0x00 / 255.0, 0x00 / 255.0, 0x00 / 255.0},   /* black          */
    {0xF0 / 255.0, 0xE4 / 255.0, 0x42 / 255.0},   /* yellow         */
};
#define N_MARKERS 7   /* coprime with 8 colours, so 56 series stay distinct */

/* ---- surfaces ---------------------------------------------------------------------- */

static cairo_status_t svg_write(void *closure, const unsigned char *data, unsigned int len) {
    ml_rbuf *b = closure;
    ml_rbuf_put(b, data, len);
    return b->oom ? CAIRO_STATUS_NO_MEMORY : CAIRO_STATUS_SUCCESS;
}

/* Unhinted metrics make text widths identical in PNG and SVG, so one layout fits both. */
static void set_font_options(cairo_t *cr) {
    cairo_font_options_t *fo = cairo_font_options_create();
    cairo_font_options_set_hint_metrics(fo, CAIRO_HINT_METRICS_OFF);
    cairo_font_options_set_hint_style(fo, CAIRO_HINT_STYLE_NONE);
    cairo_set_font_options(cr, fo);
    cairo_font_options_destroy(fo);
}

int ml_plot__new(ml_plot **out, ml_fig_format fmt, double w_pt, double h_pt, int png_scale) {
    ml_plot *p = NULL;
    int error;
    *out = NULL;
    if ((error = ml_calloc((void **)&p, 1, sizeof(*p))) < 0) return error;
    p->fmt = fmt;
    p->w = w_pt;
    p->h = h_pt;
    p->scale = png_scale > 0 ? png_scale : ML_PLOT_PNG_SCALE;
    if (fmt == ML_FIG_SVG) {
        p->surf = cairo_svg_surface_create_for_stream(svg_write, &p->svg, w_pt, h_pt);
        if (cairo_surface_status(p->surf) == CAIRO_STATUS_SUCCESS)
            cairo_svg_surface_set_document_unit(p->surf, CAIRO_SVG_UNIT_PT);
    } else {
        p->surf = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, (int)ceil(w_pt * p->scale),
                                             (int)ceil(h_pt * p->scale));
    }
    if (cairo_surface_status(p->surf) != CAIRO_STATUS_SUCCESS) {
        error = ml_error_set(ML_ENOMEM, "cannot create a %.0fx%.0f pt figure surface: %s", w_pt,
                             h_pt, cairo_status_to_string(cairo_surface_status(p->surf)));
        goto cleanup;
    }
    p->cr = cairo_create(p->surf);
    if (cairo_status(p->cr) != CAIRO_STATUS_SUCCESS) {
        error = ml_error_set(ML_ENOMEM, "cannot create a cairo context: %s",
                             cairo_status_to_string(cairo_status(p->cr)));
        goto cleanup;
    }
    if (fmt == ML_FIG_PNG) cairo_scale(p->cr, p->scale, p->scale);
    set_font_options(p->cr);
    /* An opaque white page, as matplotlib saves by default: the figure must read the
     * same on a dark HTML page or a slide. */
    cairo_set_source_rgb(p->cr, 1, 1, 1);
    cairo_paint(p->cr);
    cairo_set_source_rgb(p->cr, 0, 0, 0);
    *out = p;
    p = NULL;
cleanup:
    ml_plot__free(p);
    return error;
}

cairo_t *ml_plot__cr(ml_plot *p) { return p->cr; }

void ml_plot__free(ml_plot *p) {
    if (!p) return;
    if (p->cr) cairo_destroy(p->cr);
    if (p->surf) cairo_surface_destroy(p->surf);
    ml_rbuf_free(&p->svg);
    free(p);
}

int ml_plot__measurer(cairo_t **out) {
    cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, 1, 1);
    cairo_t *cr = cairo_create(s);
    cairo_surface_destroy(s);   /* cr holds its own reference */
    if (cairo_status(cr) != CAIRO_STATUS_SUCCESS) {
        cairo_destroy(cr);
        *out = NULL;
        return ml_error_set(ML_ENOMEM, "cannot create a cairo measuring context");
    }
    set_font_options(cr);
    *out = cr;
    return 0;
}

/* libpng reports errors through a callback that must not return; keep its message as our
 * last error and unwind to png_encode's setjmp. */
static void png_error_cb(png_structp png, png_const_charp msg) {
    ml_error_set(ML_EOS, "libpng: %s", msg);
    png_longjmp(png, 1);
}

static void png_warning_cb(png_structp png, png_const_charp msg) { (void)png; (void)msg; }

static void png_write_cb(png_structp png, png_bytep data, size_t n) {
    ml_rbuf *b = png_get_io_ptr(png);
    ml_rbuf_put(b, data, n);
    if (b->oom) png_error(png, "out of memory buffering the PNG");
}

static void png_flush_cb(png_structp png) { (void)png; }

/* The only function with a setjmp: it changes no local after it, so nothing is clobbered. */
static int png_encode(png_structp png, png_infop info, ml_rbuf *out, png_bytep *rows,
                      int w, int h, int scale, png_textp text, int ntext) {
    if (setjmp(png_jmpbuf(png))) return -1;
    png_set_write_fn(png, out, png_write_cb, png_flush_cb);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8, PNG_COLOR_TYPE_RGB_ALPHA,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    /* Record the real resolution so viewers and LaTeX size the PNG like the SVG. */
    png_uint_32 ppm = (png_uint_32)lround(72.0 * scale / 0.0254);
    png_set_pHYs(png, info, ppm, ppm, PNG_RESOLUTION_METER);
    png_set_text(png, info, text, ntext);   /* before IDAT, so readers see it early */
    png_write_info(png, info);
    png_write_image(png, rows);
    png_write_end(png, NULL);
    return 0;
}

static void add_text(png_text *t, int *n, const char *key, const char *val) {
    if (!val) return;
    memset(&t[*n], 0, sizeof(t[*n]));
    t[*n].compression = PNG_TEXT_COMPRESSION_NONE;   /* tEXt, readable by any tool */
    t[*n].key = (png_charp)key;
    t[*n].text = (png_charp)val;
    t[*n].text_length = strlen(val);
    (*n)++;
}

static int write_png(ml_plot *p, const char *path, const char *title, const ml_fig_opts *opts) {
    cairo_surface_flush(p->surf);
    int w = cairo_image_surface_get_width(p->surf), h = cairo_image_surface_get_height(p->surf);
    int stride = cairo_image_surface_get_stride(p->surf);
    const unsigned char *data = cairo_image_surface_get_data(p->surf);
    unsigned char *rgba = NULL;
    png_bytep *rows = NULL;
    ml_rbuf *out = NULL;   /* on the heap: its contents change between setjmp and longjmp */
    png_structp png = NULL;
    png_infop info = NULL;
    png_text text[4];
    int ntext = 0, error;

    if ((error = ml_malloc((void **)&rgba, (size_t)w * (size_t)h * 4)) < 0 ||
        (error = ml_calloc((void **)&rows, (size_t)h, sizeof(*rows))) < 0 ||
        (error = ml_calloc((void **)&out, 1, sizeof(*out))) < 0)
        goto cleanup;
    /* cairo's ARGB32 is native-endian premultiplied; PNG wants straight RGBA bytes. */
    for (int y = 0; y < h; y++) {
        const uint32_t *src = (const uint32_t *)(const void *)(data + (size_t)y * (size_t)stride);
        unsigned char *dst = rgba + (size_t)y * (size_t)w * 4;
        rows[y] = dst;
        for (int x = 0; x < w; x++) {
            uint32_t px = src[x];
            unsigned a = px >> 24, r = (px >> 16) & 255, g = (px >> 8) & 255, b = px & 255;
            if (a != 0 && a != 255) {
                r = (r * 255 + a / 2) / a;
                g = (g * 255 + a / 2) / a;
                b = (b * 255 + a / 2) / a;
            }
            dst[4 * x + 0] = (unsigned char)r;
            dst[4 * x + 1] = (unsigned char)g;
            dst[4 * x + 2] = (unsigned char)b;
            dst[4 * x + 3] = (unsigned char)a;
        }
    }
    add_text(text, &ntext, "Software", "mergelab");
    add_text(text, &ntext, "Title", title);
    add_text(text, &ntext, "Source", opts ? opts->source : NULL);
    add_text(text, &ntext, "Suite", opts ? opts->suite : NULL);

    png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, png_error_cb, png_warning_cb);
    if (png) info = png_create_info_struct(png);
    if (!png || !info) { error = ml_error_set(ML_ENOMEM, "cannot create a libpng writer"); goto cleanup; }
    if (png_encode(png, info, out, rows, w, h, p->scale, text, ntext) < 0) {
        error = out->oom ? ml_error_set(ML_ENOMEM, "out of memory encoding '%s'", path) : ML_EOS;
        if (error == ML_EOS) ml_error_prefix("encoding '%s'", path);
        goto cleanup;
    }
    if ((error = ml_rbuf_check(out)) < 0) goto cleanup;
    error = ml_fs_write_atomic(path, out->p, out->len);
cleanup:
    png_destroy_write_struct(&png, &info);
    if (out) ml_rbuf_free(out);
    free(out);
    free(rows);
    free(rgba);
    return error;
}

static const char *utf8_clean(const char *s, char *buf, size_t n);

/* Text for the SVG's <title>/<desc>: XML 1.0 rejects invalid UTF-8 and most control
 * characters, and these strings come from a results file nobody validated. */
static void xml_escape(ml_rbuf *b, const char *s) {
    char buf[512];
    utf8_clean(s, buf, sizeof(buf));
    for (char *c = buf; *c; c++)
        if ((unsigned char)*c < 0x20 && *c != '\t' && *c != '\n' && *c != '\r') *c = '?';
    ml_rbuf_html(b, buf);
}

/* cairo cannot title an SVG; splice <title> and <desc> in after the root tag so the same
 * provenance the PNG carries travels with the SVG (and screen readers get the title). */
static int write_svg(ml_plot *p, const char *path, const char *title, const ml_fig_opts *opts) {
    ml_rbuf out = {0};
    int error = 0;
    const char *root = p->svg.p ? strstr(p->svg.p, "<svg") : NULL;
    const char *gt = root ? strchr(root, '>') : NULL;
    if ((error = ml_rbuf_check(&p->svg)) < 0) goto cleanup;
    if (!gt) { error = ml_error_set(ML_EOS, "cairo wrote no <svg> element for '%s'", path); goto cleanup; }
    ml_rbuf_put(&out, p->svg.p, (size_t)(gt + 1 - p->svg.p));
    ml_rbuf_puts(&out, "\n<title>");
    xml_escape(&out, title ? title : "mergelab figure");
    ml_rbuf_puts(&out, "</title>\n<desc>Software: mergelab");
    if (opts && opts->source) { ml_rbuf_puts(&out, "; Source: "); xml_escape(&out, opts->source); }
    if (opts && opts->suite) { ml_rbuf_puts(&out, "; Suite: "); xml_escape(&out, opts->suite); }
    ml_rbuf_puts(&out, "</desc>");
    ml_rbuf_puts(&out, gt + 1);
    if ((error = ml_rbuf_check(&out)) < 0) goto cleanup;
    error = ml_fs_write_atomic(path, out.p, out.len);
cleanup:
    ml_rbuf_free(&out);
    return error;
}

int ml_plot__write(ml_plot *p, const char *path, const char *title, const ml_fig_opts *opts) {
    cairo_status_t st = cairo_status(p->cr);
    if (st != CAIRO_STATUS_SUCCESS)
        return ml_error_set(st == CAIRO_STATUS_NO_MEMORY ? ML_ENOMEM : ML_EOS, "drawing '%s': %s",
                            path, cairo_status_to_string(st));
    if (p->fmt == ML_FIG_PNG) return write_png(p, path, title, opts);
    cairo_destroy(p->cr);   /* finishing the surface flushes the SVG into p->svg */
    p->cr = NULL;
    cairo_surface_finish(p->surf);
    st = cairo_surface_status(p->surf);
    if (st != CAIRO_STATUS_SUCCESS)
        return ml_error_set(st == CAIRO_STATUS_NO_MEMORY ? ML_ENOMEM : ML_EOS, "writing SVG '%s': %s",
                            path, cairo_status_to_string(st));
    return write_svg(p, path, title, opts);
}

/* ---- text -------------------------------------------------------------------------- */

void ml_plot__font(cairo_t *cr, double size_pt, int bold) {
    cairo_select_font_face(cr, ML_PLOT_FONT, CAIRO_FONT_SLANT_NORMAL,
                           bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, size_pt);
}

/* Length of the valid UTF-8 sequence at s, or 0. cairo puts a context into a permanent
 * error state on invalid UTF-8, and names come from JSON that nobody validated. */
static size_t utf8_len(const unsigned char *s) {
    size_t n;
    unsigned min;
    unsigned cp;
    if (s[0] < 0x80) return 1;
    if ((s[0] & 0xE0) == 0xC0) { n = 2; cp = s[0] & 0x1Fu; min = 0x80; }
    else if ((s[0] & 0xF0) == 0xE0) { n = 3; cp = s[0] & 0x0Fu; min = 0x800; }
    else if ((s[0] & 0xF8) == 0xF0) { n = 4; cp = s[0] & 0x07u; min = 0x10000; }
    else return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (s[i] & 0x3Fu);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return n;
}

/* s as valid UTF-8 of at most n-1 bytes: bad bytes become '?', the cut falls between
 * characters. */
static const char *utf8_clean(const char *s, char *buf, size_t n) {
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p;) {
        size_t k = utf8_len(p);
        if (o + (k ? k : 1) >= n) break;
        if (k) { memcpy(buf + o, p, k); o += k; p += k; }
        else { buf[o++] = '?'; p++; }
    }
    buf[o] = '\0';
    return buf;
}

double ml_plot__text_w(cairo_t *cr, const char *s) {
    char buf[512];
    cairo_text_extents_t te;
    cairo_text_extents(cr, utf8_clean(s, buf, sizeof(buf)), &te);
    return te.x_advance;
}

double ml_plot__text_h(cairo_t *cr) {
    cairo_font_extents_t fe;
    cairo_font_extents(cr, &fe);
    return fe.ascent + fe.descent;
}

void ml_plot__text(cairo_t *cr, double x, double y, const char *s, double ha, double va,
                   double angle_deg) {
    char buf[512];
    cairo_font_extents_t fe;
    if (!s || !*s) return;
    utf8_clean(s, buf, sizeof(buf));
    cairo_font_extents(cr, &fe);
    double w = ml_plot__text_w(cr, buf);
    cairo_save(cr);
    cairo_translate(cr, x, y);
    cairo_rotate(cr, -angle_deg * M_PI / 180.0);
    cairo_move_to(cr, -ha * w, -va * (fe.ascent + fe.descent) + fe.ascent);
    cairo_show_text(cr, buf);
    cairo_new_path(cr);
    cairo_restore(cr);
}

char *ml_plot__fit(cairo_t *cr, const char *s, double max_w, char *buf, size_t n) {
    static const char ell[] = "\xe2\x80\xa6";   /* U+2026 HORIZONTAL ELLIPSIS */
    if (n == 0) return buf;
    utf8_clean(s, buf, n);
    if (ml_plot__text_w(cr, buf) <= max_w) return buf;
    for (size_t len = strlen(buf); len > 0;) {
        do len--; while (len > 0 && ((unsigned char)buf[len] & 0xC0) == 0x80);   /* one character back */
        if (len + sizeof(ell) > n) continue;
        memcpy(buf + len, ell, sizeof(ell));
        if (ml_plot__text_w(cr, buf) <= max_w) return buf;
    }
    if (n >= sizeof(ell)) memcpy(buf, ell, sizeof(ell));
    return buf;
}

/* ---- ticks ------------------------------------------------------------------------- */

int ml_plot__ticks(double lo, double hi, int max_ticks, double *ticks, double *step) {
    static const double mant[] = {1.0, 2.0, 2.5, 5.0};
    if (max_ticks < 2) max_ticks = 2;
    if (max_ticks > 64) max_ticks = 64;
    if (!isfinite(lo) || !isfinite(hi)) { *step = 1; return 0; }
    if (!(hi > lo)) { ticks[0] = lo; *step = 1; return 1; }
    double range = hi - lo;
    int e = (int)floor(log10(range / max_ticks)) - 1;
    /* Smallest 1/2/2.5/5 x 10^e step that keeps the count within max_ticks: as many
     * labelled ticks as fit, all on round numbers. */
    for (;; e++) {
        for (size_t m = 0; m < sizeof(mant) / sizeof(mant[0]); m++) {
            double s = mant[m] * pow(10.0, e);
            double k0 = ceil(lo / s - 1e-9), k1 = floor(hi / s + 1e-9);
            if (k1 - k0 + 1 > max_ticks) continue;
            int n = 0;
            for (double k = k0; k <= k1 && n < 64; k++) {
                double v = k * s;
                ticks[n++] = fabs(v) < s * 1e-9 ? 0.0 : v;
            }
            *step = s;
            return n;
        }
    }
}

void ml_plot__tick_label(char *buf, size_t n, double v, double step) {
    int d = 0;
    /* as many decimals as the step has: 0.25 -> 2, 0.2 -> 1, 5 -> 0 */
    while (d < 10 && fabs(step * pow(10.0, d) - round(step * pow(10.0, d))) > 1e-6 * step * pow(10.0, d))
        d++;
    if (fabs(v) < fabs(step) * 1e-9) v = 0.0;   /* no "-0.0" */
    snprintf(buf, n, "%.*f", d, v);
}

/* ---- colour ------------------------------------------------------------------------ */

void ml_plot__viridis(double t, double rgb[3]) {
    if (isnan(t)) { rgb[0] = rgb[1] = rgb[2] = 0.5; return; }
    if (t < 0) t = 0;
    if (t > 1) t = 1;
    double u = t * 51.0;
    int k = (int)u;
    if (k >= 51) k = 50;
    double f = u - k;
    for (int c = 0; c < 3; c++) rgb[c] = viridis[k][c] + (viridis[k + 1][c] - viridis[k][c]) * f;
}

void ml_plot__viridis_stops(cairo_pattern_t *pat) {
    /* The map is piecewise linear in sRGB, so its anchors as gradient stops reproduce it
     * exactly, in PNG and as an SVG <linearGradient>. */
    for (int k = 0; k < 52; k++)
        cairo_pattern_add_color_stop_rgb(pat, k / 51.0, viridis[k][0], viridis[k][1], viridis[k][2]);
}

static double srgb_to_linear(double c) {
    return c <= 0.04045 ? c / 12.92 : pow((c + 0.055) / 1.055, 2.4);
}

void ml_plot__contrast_text(const double rgb[3], double out[3]) {
    double L = 0.2126 * srgb_to_linear(rgb[0]) + 0.7152 * srgb_to_linear(rgb[1]) +
               0.0722 * srgb_to_linear(rgb[2]);
    double vs_white = 1.05 / (L + 0.05), vs_black = (L + 0.05) / 0.05;
    double v = vs_white >= vs_black ? 1.0 : 0.0;
    out[0] = out[1] = out[2] = v;
}

void ml_plot__series_color(int i, double rgb[3]) {
    const double *c = okabe_ito[(unsigned)i % 8u];
    rgb[0] = c[0];
    rgb[1] = c[1];
    rgb[2] = c[2];
}

void ml_plot__marker(cairo_t *cr, int i, double x, double y, double size) {
    double r = size / 2;
    cairo_new_path(cr);
    switch ((unsigned)i % N_MARKERS) {
    case 0: cairo_arc(cr, x, y, r, 0, 2 * M_PI); break;
    case 1: r *= 0.88; cairo_rectangle(cr, x - r, y - r, 2 * r, 2 * r); break;   /* same visual weight as the circle */
    case 2:
        r *= 1.15;
        cairo_move_to(cr, x, y - r);
        cairo_line_to(cr, x + r * 0.866, y + r * 0.5);
        cairo_line_to(cr, x - r * 0.866, y + r * 0.5);
        cairo_close_path(cr);
        break;
    case 3:
        r *= 1.15;
        cairo_move_to(cr, x, y - r);
        cairo_line_to(cr, x + r * 0.75, y);
        cairo_line_to(cr, x, y + r);
        cairo_line_to(cr, x - r * 0.75, y);
        cairo_close_path(cr);
        break;
    case 4:
        r *= 1.15;
        cairo_move_to(cr, x, y + r);
        cairo_line_to(cr, x + r * 0.866, y - r * 0.5);
        cairo_line_to(cr, x - r * 0.866, y - r * 0.5);
        cairo_close_path(cr);
        break;
    case 5:   /* plus and cross are stroked: a filled outline would be a blob at 3 pt */
    case 6: {
        double a = ((unsigned)i % N_MARKERS == 6) ? M_PI / 4 : 0;
        cairo_save(cr);
        cairo_translate(cr, x, y);
        cairo_rotate(cr, a);
        cairo_move_to(cr, -r * 1.1, 0);
        cairo_line_to(cr, r * 1.1, 0);
        cairo_move_to(cr, 0, -r * 1.1);
        cairo_line_to(cr, 0, r * 1.1);
        cairo_restore(cr);
        cairo_save(cr);
        cairo_set_line_width(cr, 1.2);
        cairo_set_line_cap(cr, CAIRO_LINE_CAP_BUTT);
        cairo_stroke(cr);
        cairo_restore(cr);
        return;
    }
    }
    cairo_fill(cr);
}

/* ---- legend ------------------------------------------------------------------------ */

#define LEG_PAD    4.0    /* inside the frame */
#define LEG_SAMPLE 18.0   /* the line sample */
#define LEG_GAP    4.0    /* sample to name */
#define LEG_COLGAP 10.0   /* between columns */

typedef struct { double colw, rowh, w, h; int ncols, nrows; double name_max; } legend_geom;

/* Columns of equal width (the widest entry), as many as fit in max_w: entries line up
 * like matplotlib's ncol legend, and names too long for one row are cut with "…". */
static legend_geom legend_layout(cairo_t *cr, const char *const *names, int n, double max_w) {
    legend_geom g = {0};
    char buf[256];
    ml_plot__font(cr, ML_PLOT_FS_TICK, 0);
    g.name_max = max_w - 2 * LEG_PAD - LEG_SAMPLE - LEG_GAP;
    double widest = 0;
    for (int i = 0; i < n; i++) {
        const char *nm = names && names[i] ? names[i] : "";
        double w = ml_plot__text_w(cr, ml_plot__fit(cr, nm, g.name_max, buf, sizeof(buf)));
        if (w > widest) widest = w;
    }
    g.colw = LEG_SAMPLE + LEG_GAP + widest;
    g.ncols = (int)((max_w - 2 * LEG_PAD + LEG_COLGAP) / (g.colw + LEG_COLGAP));
    if (g.ncols < 1) g.ncols = 1;
    if (g.ncols > n) g.ncols = n;
    g.nrows = n > 0 ? (n + g.ncols - 1) / g.ncols : 0;
    g.rowh = ml_plot__text_h(cr) + 1.5;
    g.w = 2 * LEG_PAD + g.ncols * g.colw + (g.ncols - 1) * LEG_COLGAP;
    g.h = 2 * LEG_PAD + g.nrows * g.rowh;
    return g;
}

void ml_plot__legend_size(cairo_t *cr, const char *const *names, int n, double max_w,
                          double *w, double *h) {
    legend_geom g = legend_layout(cr, names, n, max_w);
    *w = n > 0 ? g.w : 0;
    *h = n > 0 ? g.h : 0;
}

void ml_plot__legend_draw(cairo_t *cr, double x, double y, const char *const *names, int n,
                          double max_w) {
    char buf[256];
    if (n <= 0) return;
    legend_geom g = legend_layout(cr, names, n, max_w);
    cairo_save(cr);
    cairo_rectangle(cr, x + 0.5, y + 0.5, g.w - 1, g.h - 1);
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_fill_preserve(cr);
    cairo_set_source_rgb(cr, 0.8, 0.8, 0.8);
    cairo_set_line_width(cr, 0.6);
    cairo_stroke(cr);
    for (int i = 0; i < n; i++) {
        double rgb[3];
        double ex = x + LEG_PAD + (i % g.ncols) * (g.colw + LEG_COLGAP);
        double cy = y + LEG_PAD + (i / g.ncols) * g.rowh + g.rowh / 2;
        ml_plot__series_color(i, rgb);
        cairo_set_source_rgb(cr, rgb[0], rgb[1], rgb[2]);
        cairo_set_line_width(cr, 1.5);
        cairo_move_to(cr, ex, cy);
        cairo_line_to(cr, ex + LEG_SAMPLE, cy);
        cairo_stroke(cr);
        ml_plot__marker(cr, i, ex + LEG_SAMPLE / 2, cy, 4.0);
        cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
        ml_plot__font(cr, ML_PLOT_FS_TICK, 0);
        ml_plot__text(cr, ex + LEG_SAMPLE + LEG_GAP, cy,
                      ml_plot__fit(cr, names && names[i] ? names[i] : "", g.name_max, buf, sizeof(buf)),
                      0, 0.5, 0);
    }
    cairo_restore(cr);
}

/* ---- no data ----------------------------------------------------------------------- */

void ml_plot__hatch(cairo_t *cr, double x, double y, double w, double h) {
    cairo_save(cr);
    cairo_rectangle(cr, x, y, w, h);
    cairo_clip(cr);
    cairo_set_source_rgb(cr, 0.93, 0.93, 0.93);
    cairo_paint(cr);
    cairo_set_source_rgb(cr, 0.72, 0.72, 0.72);
    cairo_set_line_width(cr, 0.6);
    for (double d = -h; d < w; d += 4.0) {   /* 45 degree lines, 4 pt apart */
        cairo_move_to(cr, x + d, y + h);
        cairo_line_to(cr, x + d + h, y);
    }
    cairo_stroke(cr);
    cairo_restore(cr);
}

void ml_plot__no_data(cairo_t *cr, double x, double y, double w, double h, const char *msg) {
    ml_plot__hatch(cr, x, y, w, h);
    cairo_save(cr);
    cairo_set_source_rgb(cr, 0.6, 0.6, 0.6);
    cairo_set_line_width(cr, ML_PLOT_LINE_W);
    cairo_rectangle(cr, x, y, w, h);
    cairo_stroke(cr);
    ml_plot__font(cr, ML_PLOT_FS_TITLE, 0);
    double tw = ml_plot__text_w(cr, msg), th = ml_plot__text_h(cr);
    /* a white plate behind the message so the hatch never runs through the letters */
    cairo_rectangle(cr, x + w / 2 - tw / 2 - 6, y + h / 2 - th / 2 - 3, tw + 12, th + 6);
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_fill(cr);
    cairo_set_source_rgb(cr, 0.25, 0.25, 0.25);
    ml_plot__text(cr, x + w / 2, y + h / 2, msg, 0.5, 0.5, 0);
    cairo_restore(cr);
}

void ml_plot__report_layout(const ml_fig_opts *opts, double W, double H, double x, double y, double w, double h,
                            int no_data) {
    if (!opts || !opts->layout) return;
    ml_fig_layout *o = opts->layout;
    o->width = W;
    o->height = H;
    o->x = x;
    o->y = y;
    o->w = w;
    o->h = h;
    o->png_scale = opts->png_scale > 0 ? opts->png_scale : ML_PLOT_PNG_SCALE;
    o->no_data = no_data;
}
