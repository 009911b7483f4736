/*
 * reports/plot.c: the Cairo primitives every mergelab figure is drawn with.
 * Owns: figure surfaces and writing them (PNG via libpng for tEXt provenance; SVG via
 *       cairo's stream surface with the text spliced in as <text> elements; PDF via
 *       cairo's stream surface with document metadata), style sizes, text, ticks, the
 *       axes frame, colour maps, series styles, legend, hatching and the "no data" box.
 * Not here: what a figure shows or where its parts go (fig_heatmap.c, fig_lines.c,
 *           fig_points.c).
 * Errors: 0 or ML_EINVALID/ML_ENOMEM/ML_EOS with the reason in ml_error_last().
 */
#include "reports/plot.h"

#include "core/error.h"
#include "core/fs.h"
#include "core/rbuf.h"

#include <cairo-pdf.h>
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
    ml_rbuf          out;      /* the SVG or PDF stream surface writes here */
    ml_rbuf          text;     /* SVG: the <text> elements, in drawing order */
};

static unsigned test_break;    /* ML_PLOT_BREAK_* bits; 0 outside the negative tests */

void ml_plot__test_break(unsigned flags) { test_break = flags; }

/* matplotlib's viridis, the 256 entries of _viridis_data in lib/matplotlib/_cm_listed.py
 * (van der Walt and Smith, CC0), which define the map: ListedColormap looks them up with
 * no interpolation. */
static const double viridis[256][3] = {
    {0.267004, 0.004874, 0.329415}, {0.268510, 0.009605, 0.335427}, {0.269944, 0.014625, 0.341379},
    {0.271305, 0.019942, 0.347269}, {0.272594, 0.025563, 0.353093}, {0.273809, 0.031497, 0.358853},
    {0.274952, 0.037752, 0.364543}, {0.276022, 0.044167, 0.370164}, {0.277018, 0.050344, 0.375715},
    {0.277941, 0.056324, 0.381191}, {0.278791, 0.062145, 0.386592}, {0.279566, 0.067836, 0.391917},
    {0.280267, 0.073417, 0.397163}, {0.280894, 0.078907, 0.402329}, {0.281446, 0.084320, 0.407414},
    {0.281924, 0.089666, 0.412415}, {0.282327, 0.094955, 0.417331}, {0.282656, 0.100196, 0.422160},
    {0.282910, 0.105393, 0.426902}, {0.283091, 0.110553, 0.431554}, {0.283197, 0.115680, 0.436115},
    {0.283229, 0.120777, 0.440584}, {0.283187, 0.125848, 0.444960}, {0.283072, 0.130895, 0.449241},
    {0.282884, 0.135920, 0.453427}, {0.282623, 0.140926, 0.457517}, {0.282290, 0.145912, 0.461510},
    {0.281887, 0.150881, 0.465405}, {0.281412, 0.155834, 0.469201}, {0.280868, 0.160771, 0.472899},
    {0.280255, 0.165693, 0.476498}, {0.279574, 0.170599, 0.479997}, {0.278826, 0.175490, 0.483397},
    {0.278012, 0.180367, 0.486697}, {0.277134, 0.185228, 0.489898}, {0.276194, 0.190074, 0.493001},
    {0.275191, 0.194905, 0.496005}, {0.274128, 0.199721, 0.498911}, {0.273006, 0.204520, 0.501721},
    {0.271828, 0.209303, 0.504434}, {0.270595, 0.214069, 0.507052}, {0.269308, 0.218818, 0.509577},
    {0.267968, 0.223549, 0.512008}, {0.266580, 0.228262, 0.514349}, {0.265145, 0.232956, 0.516599},
    {0.263663, 0.237631, 0.518762}, {0.262138, 0.242286, 0.520837}, {0.260571, 0.246922, 0.522828},
    {0.258965, 0.251537, 0.524736}, {0.257322, 0.256130, 0.526563}, {0.255645, 0.260703, 0.528312},
    {0.253935, 0.265254, 0.529983}, {0.252194, 0.269783, 0.531579}, {0.250425, 0.274290, 0.533103},
    {0.248629, 0.278775, 0.534556}, {0.246811, 0.283237, 0.535941}, {0.244972, 0.287675, 0.537260},
    {0.243113, 0.292092, 0.538516}, {0.241237, 0.296485, 0.539709}, {0.239346, 0.300855, 0.540844},
    {0.237441, 0.305202, 0.541921}, {0.235526, 0.309527, 0.542944}, {0.233603, 0.313828, 0.543914},
    {0.231674, 0.318106, 0.544834}, {0.229739, 0.322361, 0.545706}, {0.227802, 0.326594, 0.546532},
    {0.225863, 0.330805, 0.547314}, {0.223925, 0.334994, 0.548053}, {0.221989, 0.339161, 0.548752},
    {0.220057, 0.343307, 0.549413}, {0.218130, 0.347432, 0.550038}, {0.216210, 0.351535, 0.550627},
    {0.214298, 0.355619, 0.551184}, {0.212395, 0.359683, 0.551710}, {0.210503, 0.363727, 0.552206},
    {0.208623, 0.367752, 0.552675}, {0.206756, 0.371758, 0.553117}, {0.204903, 0.375746, 0.553533},
    {0.203063, 0.379716, 0.553925}, {0.201239, 0.383670, 0.554294}, {0.199430, 0.387607, 0.554642},
    {0.197636, 0.391528, 0.554969}, {0.195860, 0.395433, 0.555276}, {0.194100, 0.399323, 0.555565},
    {0.192357, 0.403199, 0.555836}, {0.190631, 0.407061, 0.556089}, {0.188923, 0.410910, 0.556326},
    {0.187231, 0.414746, 0.556547}, {0.185556, 0.418570, 0.556753}, {0.183898, 0.422383, 0.556944},
    {0.182256, 0.426184, 0.557120}, {0.180629, 0.429975, 0.557282}, {0.179019, 0.433756, 0.557430},
    {0.177423, 0.437527, 0.557565}, {0.175841, 0.441290, 0.557685}, {0.174274, 0.445044, 0.557792},
    {0.172719, 0.448791, 0.557885}, {0.171176, 0.452530, 0.557965}, {0.169646, 0.456262, 0.558030},
    {0.168126, 0.459988, 0.558082}, {0.166617, 0.463708, 0.558119}, {0.165117, 0.467423, 0.558141},
    {0.163625, 0.471133, 0.558148}, {0.162142, 0.474838, 0.558140}, {0.160665, 0.478540, 0.558115},
    {0.159194, 0.482237, 0.558073}, {0.157729, 0.485932, 0.558013}, {0.156270, 0.489624, 0.557936},
    {0.154815, 0.493313, 0.557840}, {0.153364, 0.497000, 0.557724}, {0.151918, 0.500685, 0.557587},
    {0.150476, 0.504369, 0.557430}, {0.149039, 0.508051, 0.557250}, {0.147607, 0.511733, 0.557049},
    {0.146180, 0.515413, 0.556823}, {0.144759, 0.519093, 0.556572}, {0.143343, 0.522773, 0.556295},
    {0.141935, 0.526453, 0.555991}, {0.140536, 0.530132, 0.555659}, {0.139147, 0.533812, 0.555298},
    {0.137770, 0.537492, 0.554906}, {0.136408, 0.541173, 0.554483}, {0.135066, 0.544853, 0.554029},
    {0.133743, 0.548535, 0.553541}, {0.132444, 0.552216, 0.553018}, {0.131172, 0.555899, 0.552459},
    {0.129933, 0.559582, 0.551864}, {0.128729, 0.563265, 0.551229}, {0.127568, 0.566949, 0.550556},
    {0.126453, 0.570633, 0.549841}, {0.125394, 0.574318, 0.549086}, {0.124395, 0.578002, 0.548287},
    {0.123463, 0.581687, 0.547445}, {0.122606, 0.585371, 0.546557}, {0.121831, 0.589055, 0.545623},
    {0.121148, 0.592739, 0.544641}, {0.120565, 0.596422, 0.543611}, {0.120092, 0.600104, 0.542530},
    {0.119738, 0.603785, 0.541400}, {0.119512, 0.607464, 0.540218}, {0.119423, 0.611141, 0.538982},
    {0.119483, 0.614817, 0.537692}, {0.119699, 0.618490, 0.536347}, {0.120081, 0.622161, 0.534946},
    {0.120638, 0.625828, 0.533488}, {0.121380, 0.629492, 0.531973}, {0.122312, 0.633153, 0.530398},
    {0.123444, 0.636809, 0.528763}, {0.124780, 0.640461, 0.527068}, {0.126326, 0.644107, 0.525311},
    {0.128087, 0.647749, 0.523491}, {0.130067, 0.651384, 0.521608}, {0.132268, 0.655014, 0.519661},
    {0.134692, 0.658636, 0.517649}, {0.137339, 0.662252, 0.515571}, {0.140210, 0.665859, 0.513427},
    {0.143303, 0.669459, 0.511215}, {0.146616, 0.673050, 0.508936}, {0.150148, 0.676631, 0.506589},
    {0.153894, 0.680203, 0.504172}, {0.157851, 0.683765, 0.501686}, {0.162016, 0.687316, 0.499129},
    {0.166383, 0.690856, 0.496502}, {0.170948, 0.694384, 0.493803}, {0.175707, 0.697900, 0.491033},
    {0.180653, 0.701402, 0.488189}, {0.185783, 0.704891, 0.485273}, {0.191090, 0.708366, 0.482284},
    {0.196571, 0.711827, 0.479221}, {0.202219, 0.715272, 0.476084}, {0.208030, 0.718701, 0.472873},
    {0.214000, 0.722114, 0.469588}, {0.220124, 0.725509, 0.466226}, {0.226397, 0.728888, 0.462789},
    {0.232815, 0.732247, 0.459277}, {0.239374, 0.735588, 0.455688}, {0.246070, 0.738910, 0.452024},
    {0.252899, 0.742211, 0.448284}, {0.259857, 0.745492, 0.444467}, {0.266941, 0.748751, 0.440573},
    {0.274149, 0.751988, 0.436601}, {0.281477, 0.755203, 0.432552}, {0.288921, 0.758394, 0.428426},
    {0.296479, 0.761561, 0.424223}, {0.304148, 0.764704, 0.419943}, {0.311925, 0.767822, 0.415586},
    {0.319809, 0.770914, 0.411152}, {0.327796, 0.773980, 0.406640}, {0.335885, 0.777018, 0.402049},
    {0.344074, 0.780029, 0.397381}, {0.352360, 0.783011, 0.392636}, {0.360741, 0.785964, 0.387814},
    {0.369214, 0.788888, 0.382914}, {0.377779, 0.791781, 0.377939}, {0.386433, 0.794644, 0.372886},
    {0.395174, 0.797475, 0.367757}, {0.404001, 0.800275, 0.362552}, {0.412913, 0.803041, 0.357269},
    {0.421908, 0.805774, 0.351910}, {0.430983, 0.808473, 0.346476}, {0.440137, 0.811138, 0.340967},
    {0.449368, 0.813768, 0.335384}, {0.458674, 0.816363, 0.329727}, {0.468053, 0.818921, 0.323998},
    {0.477504, 0.821444, 0.318195}, {0.487026, 0.823929, 0.312321}, {0.496615, 0.826376, 0.306377},
    {0.506271, 0.828786, 0.300362}, {0.515992, 0.831158, 0.294279}, {0.525776, 0.833491, 0.288127},
    {0.535621, 0.835785, 0.281908}, {0.545524, 0.838039, 0.275626}, {0.555484, 0.840254, 0.269281},
    {0.565498, 0.842430, 0.262877}, {0.575563, 0.844566, 0.256415}, {0.585678, 0.846661, 0.249897},
    {0.595839, 0.848717, 0.243329}, {0.606045, 0.850733, 0.236712}, {0.616293, 0.852709, 0.230052},
    {0.626579, 0.854645, 0.223353}, {0.636902, 0.856542, 0.216620}, {0.647257, 0.858400, 0.209861},
    {0.657642, 0.860219, 0.203082}, {0.668054, 0.861999, 0.196293}, {0.678489, 0.863742, 0.189503},
    {0.688944, 0.865448, 0.182725}, {0.699415, 0.867117, 0.175971}, {0.709898, 0.868751, 0.169257},
    {0.720391, 0.870350, 0.162603}, {0.730889, 0.871916, 0.156029}, {0.741388, 0.873449, 0.149561},
    {0.751884, 0.874951, 0.143228}, {0.762373, 0.876424, 0.137064}, {0.772852, 0.877868, 0.131109},
    {0.783315, 0.879285, 0.125405}, {0.793760, 0.880678, 0.120005}, {0.804182, 0.882046, 0.114965},
    {0.814576, 0.883393, 0.110347}, {0.824940, 0.884720, 0.106217}, {0.835270, 0.886029, 0.102646},
    {0.845561, 0.887322, 0.099702}, {0.855810, 0.888601, 0.097452}, {0.866013, 0.889868, 0.095953},
    {0.876168, 0.891125, 0.095250}, {0.886271, 0.892374, 0.095374}, {0.896320, 0.893616, 0.096335},
    {0.906311, 0.894855, 0.098125}, {0.916242, 0.896091, 0.100717}, {0.926106, 0.897330, 0.104071},
    {0.935904, 0.898570, 0.108131}, {0.945636, 0.899815, 0.112838}, {0.955300, 0.901065, 0.118128},
    {0.964894, 0.902323, 0.123941}, {0.974417, 0.903590, 0.130215}, {0.983868, 0.904867, 0.136897},
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

/* matplotlib's tab:red (#d62728): a flag must not look like a series, and vermillion is
 * series 1, so the ring is a purer red and a different shape. */
const double ml_plot_flag_rgb[3] = {0xD6 / 255.0, 0x27 / 255.0, 0x28 / 255.0};

static const char *utf8_clean(const char *s, char *buf, size_t n);

/* ---- style ------------------------------------------------------------------------- */

void ml_plot__style(ml_plot_style *st, const ml_fig_opts *opts) {
    memset(st, 0, sizeof(*st));
    st->W = opts && opts->width_pt > 0 ? opts->width_pt : ML_PLOT_WIDTH_PT;
    st->fs = opts && opts->font_pt > 0 ? opts->font_pt : ML_PLOT_FONT_PT;
    st->k = st->fs / ML_PLOT_FONT_PT;
    /* one step smaller than the labels, as matplotlib's "small", but never so small it
     * does not survive printing */
    st->fs_tick = st->fs - 1 >= 6.5 ? st->fs - 1 : (st->fs < 6.5 ? st->fs : 6.5);
    st->fs_title = st->fs + 1;
    st->pad = 4.0 * st->k;         /* matplotlib's bbox_inches="tight" pad, 0.05 in */
    st->gap = 3.0 * st->k;
    st->tick_len = 3.0 * st->k;    /* SciencePlots: major 3, minor 1.5, width 0.5 */
    st->minor_len = 1.5 * st->k;
    st->tick_pad = 3.0 * st->k;
    st->spine_w = 0.5 * st->k;
    st->line_w = 1.0 * st->k;      /* SciencePlots' lines.linewidth */
    st->marker = 4.0 * st->k;
    st->png_scale = opts && opts->png_scale > 0 ? opts->png_scale : ML_PLOT_PNG_SCALE;
}

/* ---- surfaces ---------------------------------------------------------------------- */

/* The SVG's <text> elements are gathered through the drawing context, which is all that
 * ml_plot__text sees; a measuring context has no such data and draws normally. */
static const cairo_user_data_key_t svg_text_key;

static cairo_status_t stream_write(void *closure, const unsigned char *data, unsigned int len) {
    ml_rbuf *b = closure;
    ml_rbuf_put(b, data, len);
    return b->oom ? CAIRO_STATUS_NO_MEMORY : CAIRO_STATUS_SUCCESS;
}

/* Unhinted metrics make text widths identical in every format, so one layout fits all. */
static void set_font_options(cairo_t *cr) {
    cairo_font_options_t *fo = cairo_font_options_create();
    cairo_font_options_set_hint_metrics(fo, CAIRO_HINT_METRICS_OFF);
    cairo_font_options_set_hint_style(fo, CAIRO_HINT_STYLE_NONE);
    cairo_font_options_set_antialias(fo, CAIRO_ANTIALIAS_GRAY);   /* no colour fringes in a PNG */
    cairo_set_font_options(cr, fo);
    cairo_font_options_destroy(fo);
}

int ml_plot__new(ml_plot **out, ml_fig_format fmt, double w_pt, double h_pt, int png_scale) {
    ml_plot *p = NULL;
    int error;
    *out = NULL;
    ML_CHECK_ARG(fmt == ML_FIG_PNG || fmt == ML_FIG_SVG || fmt == ML_FIG_PDF,
                 "figure format must be one of ML_FIG_PNG, ML_FIG_SVG, ML_FIG_PDF, got %d", (int)fmt);
    if ((error = ml_calloc((void **)&p, 1, sizeof(*p))) < 0) return error;
    p->fmt = fmt;
    p->w = w_pt;
    p->h = h_pt;
    p->scale = png_scale > 0 ? png_scale : ML_PLOT_PNG_SCALE;
    if (fmt == ML_FIG_SVG) {
        p->surf = cairo_svg_surface_create_for_stream(stream_write, &p->out, w_pt, h_pt);
        if (cairo_surface_status(p->surf) == CAIRO_STATUS_SUCCESS)
            cairo_svg_surface_set_document_unit(p->surf, CAIRO_SVG_UNIT_PT);
    } else if (fmt == ML_FIG_PDF) {
        p->surf = cairo_pdf_surface_create_for_stream(stream_write, &p->out, w_pt, h_pt);
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
    if (fmt == ML_FIG_SVG) cairo_set_user_data(p->cr, &svg_text_key, p, NULL);
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
    ml_rbuf_free(&p->out);
    ml_rbuf_free(&p->text);
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

/* ---- provenance -------------------------------------------------------------------- */

/* "YYYY-MM-DDThh:mm:ssZ" -> "YYYYMMDDhhmmss" (15 bytes with the NUL). Only this one
 * shape: it is what the contract promises, and a PDF date must be rewritten in place
 * into the room cairo left (see pdf_stamp_date). Returns 0 or ML_EINVALID. */
static int parse_date(const char *s, char digits[15]) {
    static const char shape[] = "dddd-dd-ddTdd:dd:ddZ";
    size_t o = 0;
    if (strlen(s) != sizeof(shape) - 1) goto bad;
    for (size_t i = 0; i < sizeof(shape) - 1; i++) {
        if (shape[i] == 'd') {
            if (s[i] < '0' || s[i] > '9') goto bad;
            digits[o++] = s[i];
        } else if (s[i] != shape[i]) {
            goto bad;
        }
    }
    digits[o] = '\0';
    return 0;
bad:
    return ml_error_set(ML_EINVALID, "figure date \"%.40s\" is not ISO 8601 UTC like 2026-11-22T23:08:36Z", s);
}

/* "Suite: x; Source: c; Seed: 1,2,3" (the parts that are set), into b. */
static void provenance_line(ml_rbuf *b, const ml_fig_opts *opts, const char *sep, const char *kv) {
    const char *keys[] = {"Suite", "Source", "Seed"};
    const char *vals[] = {opts ? opts->suite : NULL, opts ? opts->source : NULL, opts ? opts->seed : NULL};
    char buf[512];
    int n = 0;
    for (int i = 0; i < 3; i++) {
        if (!vals[i]) continue;
        ml_rbuf_printf(b, "%s%s%s%s", n++ ? sep : "", keys[i], kv, utf8_clean(vals[i], buf, sizeof(buf)));
    }
}

/* ---- PNG --------------------------------------------------------------------------- */

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
    /* RGB: the page is opaque white, so an alpha channel would only add bytes */
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8, PNG_COLOR_TYPE_RGB,
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

/* tEXt is Latin-1 by definition; a value with non-ASCII UTF-8 (a title like "café")
 * goes into an iTXt chunk, which is UTF-8 and read back by the same png_get_text. */
static void add_text(png_text *t, int *n, const char *key, const char *val) {
    int ascii = 1;
    if (!val) return;
    for (const unsigned char *c = (const unsigned char *)val; *c; c++) ascii &= *c < 0x80;
    memset(&t[*n], 0, sizeof(t[*n]));
    t[*n].compression = ascii ? PNG_TEXT_COMPRESSION_NONE : PNG_ITXT_COMPRESSION_NONE;
    t[*n].key = (png_charp)key;
    t[*n].text = (png_charp)val;
    t[*n].text_length = ascii ? strlen(val) : 0;
    t[*n].itxt_length = ascii ? 0 : strlen(val);
    (*n)++;
}

static int write_png(ml_plot *p, const char *path, const char *title, const ml_fig_opts *opts) {
    cairo_surface_flush(p->surf);
    int w = cairo_image_surface_get_width(p->surf), h = cairo_image_surface_get_height(p->surf);
    int stride = cairo_image_surface_get_stride(p->surf);
    const unsigned char *data = cairo_image_surface_get_data(p->surf);
    unsigned char *rgb = NULL;
    png_bytep *rows = NULL;
    ml_rbuf *out = NULL;   /* on the heap: its contents change between setjmp and longjmp */
    png_structp png = NULL;
    png_infop info = NULL;
    png_text text[6];
    char vals[5][512];     /* cleaned copies: libpng rejects nothing, readers might */
    int ntext = 0, error;

    if ((error = ml_malloc((void **)&rgb, (size_t)w * (size_t)h * 3)) < 0 ||
        (error = ml_calloc((void **)&rows, (size_t)h, sizeof(*rows))) < 0 ||
        (error = ml_calloc((void **)&out, 1, sizeof(*out))) < 0)
        goto cleanup;
    /* cairo's ARGB32 is native-endian premultiplied; the page is opaque, so alpha is 255
     * everywhere and the bytes are the colour. */
    for (int y = 0; y < h; y++) {
        const uint32_t *src = (const uint32_t *)(const void *)(data + (size_t)y * (size_t)stride);
        unsigned char *dst = rgb + (size_t)y * (size_t)w * 3;
        rows[y] = dst;
        for (int x = 0; x < w; x++) {
            uint32_t px = src[x];
            dst[3 * x + 0] = (unsigned char)((px >> 16) & 255);
            dst[3 * x + 1] = (unsigned char)((px >> 8) & 255);
            dst[3 * x + 2] = (unsigned char)(px & 255);
        }
    }
    add_text(text, &ntext, "Software", "mergelab");
    add_text(text, &ntext, "Title", title ? utf8_clean(title, vals[0], sizeof(vals[0])) : NULL);
    add_text(text, &ntext, "Source", opts && opts->source ? utf8_clean(opts->source, vals[1], sizeof(vals[1])) : NULL);
    add_text(text, &ntext, "Suite", opts && opts->suite ? utf8_clean(opts->suite, vals[2], sizeof(vals[2])) : NULL);
    add_text(text, &ntext, "Seed", opts && opts->seed ? utf8_clean(opts->seed, vals[3], sizeof(vals[3])) : NULL);
    add_text(text, &ntext, "Creation Time", opts && opts->date ? utf8_clean(opts->date, vals[4], sizeof(vals[4])) : NULL);

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
    free(rgb);
    return error;
}

/* ---- SVG --------------------------------------------------------------------------- */

/* Text for the SVG: XML 1.0 rejects invalid UTF-8 and most control characters, and these
 * strings come from a results file nobody validated. */
static void xml_escape(ml_rbuf *b, const char *s) {
    char buf[512];
    utf8_clean(s, buf, sizeof(buf));
    for (char *c = buf; *c; c++)
        if ((unsigned char)*c < 0x20) *c = ' ';
    ml_rbuf_html(b, buf);
}

/* One <text> for a string that ml_plot__text would have drawn with its baseline's left
 * end at (bx, by) in the current user space: position, angle and size are taken through
 * the current matrix, so the element lands where cairo's glyphs would have. */
static void svg_text(ml_plot *p, cairo_t *cr, double bx, double by, double w, const char *s) {
    double x = bx, y = by, ux = w, uy = 0, sx = 0, sy = 1;
    double r = 0, g = 0, b = 0, a = 1;
    cairo_matrix_t fm;
    cairo_user_to_device(cr, &x, &y);
    cairo_user_to_device_distance(cr, &ux, &uy);
    cairo_get_font_matrix(cr, &fm);
    cairo_matrix_transform_distance(&fm, &sx, &sy);
    cairo_user_to_device_distance(cr, &sx, &sy);
    double size = hypot(sx, sy), len = hypot(ux, uy), angle = atan2(uy, ux) * 180.0 / M_PI;
    int bold = cairo_toy_font_face_get_weight(cairo_get_font_face(cr)) == CAIRO_FONT_WEIGHT_BOLD;
    cairo_pattern_t *src = cairo_get_source(cr);
    if (cairo_pattern_get_type(src) == CAIRO_PATTERN_TYPE_SOLID) cairo_pattern_get_rgba(src, &r, &g, &b, &a);
    ml_rbuf_printf(&p->text, "<text x=\"%.2f\" y=\"%.2f\" font-size=\"%.2f\"%s fill=\"#%02x%02x%02x\"", x, y,
                   size, bold ? " font-weight=\"bold\"" : "", (unsigned)lround(r * 255),
                   (unsigned)lround(g * 255), (unsigned)lround(b * 255));
    if (a < 1) ml_rbuf_printf(&p->text, " fill-opacity=\"%.3f\"", a);
    if (fabs(angle) > 1e-6) ml_rbuf_printf(&p->text, " transform=\"rotate(%.2f %.2f %.2f)\"", angle, x, y);
    /* the width cairo measured: a viewer with another font squeezes or stretches the
     * glyphs to it, so nothing overlaps that did not overlap here */
    ml_rbuf_printf(&p->text, " textLength=\"%.2f\" lengthAdjust=\"spacingAndGlyphs\">", len);
    xml_escape(&p->text, s);
    ml_rbuf_puts(&p->text, "</text>\n");
}

/* cairo cannot title an SVG or write text as text. Splice <title> and <desc> in after the
 * root tag, so the provenance the PNG carries travels with the SVG (and screen readers
 * get the title), and the <text> elements in before </svg>, above all the drawing. */
static int write_svg(ml_plot *p, const char *path, const char *title, const ml_fig_opts *opts) {
    ml_rbuf out = {0};
    int error = 0;
    const char *svg = p->out.p;
    const char *root = svg ? strstr(svg, "<svg") : NULL;
    const char *gt = root ? strchr(root, '>') : NULL;
    const char *end = NULL;
    for (const char *e = gt ? strstr(gt, "</svg>") : NULL; e; e = strstr(e + 1, "</svg>")) end = e;
    if ((error = ml_rbuf_check(&p->out)) < 0 || (error = ml_rbuf_check(&p->text)) < 0) goto cleanup;
    if (!gt || !end) { error = ml_error_set(ML_EOS, "cairo wrote no <svg> element for '%s'", path); goto cleanup; }
    ml_rbuf_put(&out, svg, (size_t)(gt + 1 - svg));
    ml_rbuf_puts(&out, "\n<title>");
    xml_escape(&out, title ? title : "mergelab figure");
    ml_rbuf_puts(&out, "</title>\n<desc>Software: mergelab");
    if (opts && opts->suite) { ml_rbuf_puts(&out, "; Suite: "); xml_escape(&out, opts->suite); }
    if (opts && opts->source) { ml_rbuf_puts(&out, "; Source: "); xml_escape(&out, opts->source); }
    if (opts && opts->seed) { ml_rbuf_puts(&out, "; Seed: "); xml_escape(&out, opts->seed); }
    if (opts && opts->date) { ml_rbuf_puts(&out, "; Date: "); xml_escape(&out, opts->date); }
    ml_rbuf_puts(&out, "</desc>");
    /* cairo numbers its surface group with a process-wide counter; a fixed name keeps the
     * file identical from run to run (nothing refers to it) */
    const char *body = gt + 1, *sid = strstr(body, "<g id=\"surface");
    if (sid && sid < end && !strstr(body, "#surface")) {
        const char *q = sid + strlen("<g id=\"surface");
        while (*q >= '0' && *q <= '9') q++;
        ml_rbuf_put(&out, body, (size_t)(sid - body));
        ml_rbuf_puts(&out, "<g id=\"surface1");
        body = q;
    }
    ml_rbuf_put(&out, body, (size_t)(end - body));
    if (p->text.len > 0) {
        ml_rbuf_puts(&out, "<g font-family=\"" ML_PLOT_SVG_FONTS "\" xml:space=\"preserve\">\n");
        ml_rbuf_put(&out, p->text.p, p->text.len);
        ml_rbuf_puts(&out, "</g>\n");
    }
    ml_rbuf_puts(&out, end);
    if ((error = ml_rbuf_check(&out)) < 0) goto cleanup;
    error = ml_fs_write_atomic(path, out.p, out.len);
cleanup:
    ml_rbuf_free(&out);
    return error;
}

/* ---- PDF --------------------------------------------------------------------------- */

static void pdf_metadata(ml_plot *p, const char *title, const ml_fig_opts *opts) {
    ml_rbuf b = {0};
    char buf[512];
    cairo_pdf_surface_set_metadata(p->surf, CAIRO_PDF_METADATA_TITLE,
                                   utf8_clean(title ? title : "mergelab figure", buf, sizeof(buf)));
    cairo_pdf_surface_set_metadata(p->surf, CAIRO_PDF_METADATA_AUTHOR,
                                   utf8_clean(opts && opts->author ? opts->author : "mergelab", buf, sizeof(buf)));
    cairo_pdf_surface_set_metadata(p->surf, CAIRO_PDF_METADATA_CREATOR, "mergelab");
    provenance_line(&b, opts, "; ", ": ");
    if (b.len > 0 && !b.oom) cairo_pdf_surface_set_metadata(p->surf, CAIRO_PDF_METADATA_SUBJECT, b.p);
    ml_rbuf_free(&b);
    provenance_line(&b, opts, ", ", "=");
    if (b.len > 0 && !b.oom) cairo_pdf_surface_set_metadata(p->surf, CAIRO_PDF_METADATA_KEYWORDS, b.p);
    ml_rbuf_free(&b);
}

/* cairo 1.16 stamps every PDF with the current time as /CreationDate, and writes a date
 * given through CAIRO_PDF_METADATA_CREATE_DATE without its "D:" prefix. So the entry is
 * rewritten in place: blanked when no date was asked for (the file is then identical
 * from run to run), or replaced by "D:YYYYMMDDhhmmssZ". cairo's own value is at least
 * that long (UTC "Z" or a longer "+hh'mm" offset), and spaces are whitespace to a PDF
 * reader, so no byte moves and the cross-reference table stays right. */
static int pdf_stamp_date(ml_rbuf *pdf, const char *date, const char *path) {
    static const char key[] = "/CreationDate (";
    char digits[15], entry[64];
    char *at = NULL, *close;
    int error;
    if (date && (error = parse_date(date, digits)) < 0) return error;
    for (char *s = pdf->p; (s = memmem(s, pdf->len - (size_t)(s - pdf->p), key, sizeof(key) - 1)) != NULL; s++)
        at = s;   /* the last one: the document information dictionary near the end */
    close = at ? memchr(at, ')', pdf->len - (size_t)(at - pdf->p)) : NULL;
    if (!close) {
        if (!date) return 0;   /* a cairo that stamps nothing leaves nothing to remove */
        return ml_error_set(ML_EOS, "writing PDF '%s': no /CreationDate entry to date", path);
    }
    size_t room = (size_t)(close + 1 - at), n = 0;
    if (date) n = (size_t)snprintf(entry, sizeof(entry), "/CreationDate (D:%sZ)", digits);
    if (n > room) return ml_error_set(ML_EOS, "writing PDF '%s': no room for the creation date", path);
    memcpy(at, entry, n);
    memset(at + n, ' ', room - n);
    return 0;
}

int ml_plot__write(ml_plot *p, const char *path, const char *title, const ml_fig_opts *opts) {
    char digits[15];
    int error;
    cairo_status_t st = cairo_status(p->cr);
    if (st != CAIRO_STATUS_SUCCESS)
        return ml_error_set(st == CAIRO_STATUS_NO_MEMORY ? ML_ENOMEM : ML_EOS, "drawing '%s': %s",
                            path, cairo_status_to_string(st));
    /* the same date check for every format, so a bad date never depends on which one */
    if (opts && opts->date && (error = parse_date(opts->date, digits)) < 0) return error;
    if (p->fmt == ML_FIG_PNG) return write_png(p, path, title, opts);
    if (p->fmt == ML_FIG_PDF) pdf_metadata(p, title, opts);
    cairo_destroy(p->cr);   /* finishing the surface flushes the document into p->out */
    p->cr = NULL;
    cairo_surface_finish(p->surf);
    st = cairo_surface_status(p->surf);
    if (st != CAIRO_STATUS_SUCCESS)
        return ml_error_set(st == CAIRO_STATUS_NO_MEMORY ? ML_ENOMEM : ML_EOS, "writing %s '%s': %s",
                            p->fmt == ML_FIG_PDF ? "PDF" : "SVG", path, cairo_status_to_string(st));
    if (p->fmt == ML_FIG_SVG) return write_svg(p, path, title, opts);
    if ((error = ml_rbuf_check(&p->out)) < 0) return error;
    if ((error = pdf_stamp_date(&p->out, opts ? opts->date : NULL, path)) < 0) return error;
    return ml_fs_write_atomic(path, p->out.p, p->out.len);
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
    ml_plot *svg = cairo_get_user_data(cr, &svg_text_key);
    cairo_save(cr);
    cairo_translate(cr, x, y);
    cairo_rotate(cr, -angle_deg * M_PI / 180.0);
    double bx = -ha * w, by = -va * (fe.ascent + fe.descent) + fe.ascent;
    if (svg) {
        svg_text(svg, cr, bx, by, w, buf);
    } else {
        cairo_move_to(cr, bx, by);
        cairo_show_text(cr, buf);
        cairo_new_path(cr);
    }
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

void ml_plot__title(cairo_t *cr, const ml_plot_style *st, double cx, double y, const char *title) {
    char buf[512];
    if (!title || !*title) return;
    ml_plot__font(cr, st->fs_title, 0);
    ml_plot__fit(cr, title, st->W - 2 * st->pad, buf, sizeof(buf));
    double w = ml_plot__text_w(cr, buf);
    /* centred over the axes like matplotlib's, but never past the figure's edges */
    if (cx + w / 2 > st->W - st->pad) cx = st->W - st->pad - w / 2;
    if (cx - w / 2 < st->pad) cx = st->pad + w / 2;
    cairo_set_source_rgb(cr, 0, 0, 0);
    ml_plot__text(cr, cx, y, buf, 0.5, 0, 0);
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

int ml_plot__minor_ticks(double lo, double hi, double step, double *out, int max) {
    if (!(step > 0) || !isfinite(lo) || !isfinite(hi) || !(hi > lo)) return 0;
    double mant = step / pow(10.0, floor(log10(step)));
    int nd = fabs(mant - 1) < 1e-6 || fabs(mant - 5) < 1e-6 || fabs(mant - 10) < 1e-6 ? 5 : 4;
    double ms = step / nd;
    double k0 = ceil(lo / ms - 1e-9), k1 = floor(hi / ms + 1e-9);
    int n = 0;
    for (double k = k0; k <= k1 && n < max; k++) {
        if (fmod(fabs(k), (double)nd) == 0) continue;   /* a major tick is there */
        out[n++] = k * ms;
    }
    return n;
}

void ml_plot__tick_label(char *buf, size_t n, double v, double step) {
    int d = 0;
    /* as many decimals as the step has: 0.25 -> 2, 0.2 -> 1, 5 -> 0 */
    while (d < 10 && fabs(step * pow(10.0, d) - round(step * pow(10.0, d))) > 1e-6 * step * pow(10.0, d))
        d++;
    if (fabs(v) < fabs(step) * 1e-9) v = 0.0;   /* no "-0.0" */
    snprintf(buf, n, "%.*f", d, v);
}

void ml_plot__frame(cairo_t *cr, const ml_plot_style *st, double x, double y, double w, double h,
                    const double *xt, int nxt, const double *xm, int nxm,
                    const double *yt, int nyt, const double *ym, int nym) {
    if (test_break & ML_PLOT_BREAK_AXES) return;
    cairo_save(cr);
    cairo_set_source_rgb(cr, 0, 0, 0);
    cairo_set_line_width(cr, st->spine_w);
    cairo_set_line_cap(cr, CAIRO_LINE_CAP_BUTT);
    cairo_set_line_join(cr, CAIRO_LINE_JOIN_MITER);
    cairo_rectangle(cr, x, y, w, h);
    for (int pass = 0; pass < 2; pass++) {
        const double *ts = pass ? xm : xt, *us = pass ? ym : yt;
        int nt = pass ? nxm : nxt, nu = pass ? nym : nyt;
        double len = pass ? st->minor_len : st->tick_len;
        for (int i = 0; i < nt; i++) {   /* bottom and top, pointing in */
            cairo_move_to(cr, ts[i], y + h);
            cairo_line_to(cr, ts[i], y + h - len);
            cairo_move_to(cr, ts[i], y);
            cairo_line_to(cr, ts[i], y + len);
        }
        for (int i = 0; i < nu; i++) {   /* left and right */
            cairo_move_to(cr, x, us[i]);
            cairo_line_to(cr, x + len, us[i]);
            cairo_move_to(cr, x + w, us[i]);
            cairo_line_to(cr, x + w - len, us[i]);
        }
    }
    cairo_stroke(cr);
    cairo_restore(cr);
}

/* ---- colour ------------------------------------------------------------------------ */

/* Entry i rounded to 8 bits per channel. cairo turns a double channel into 16 bits and
 * keeps the high byte, so only k/255 lands on k in a PNG; rounded entries give the
 * same bytes as matplotlib's to_hex in every format. */
static void viridis_entry(int i, double rgb[3]) {
    if (test_break & ML_PLOT_BREAK_COLORMAP) {
        rgb[0] = rgb[1] = rgb[2] = i / 255.0;
        return;
    }
    for (int c = 0; c < 3; c++) rgb[c] = round(viridis[i][c] * 255.0) / 255.0;
}

void ml_plot__viridis(double t, double rgb[3]) {
    if (isnan(t)) { rgb[0] = rgb[1] = rgb[2] = 0.5; return; }
    if (t < 0) t = 0;
    if (t > 1) t = 1;
    int i = (int)(t * 256.0);   /* ListedColormap: bins of 1/256, t == 1 in the last */
    if (i > 255) i = 255;
    viridis_entry(i, rgb);
}

void ml_plot__viridis_stops(cairo_pattern_t *pat) {
    double rgb[3];
    for (int i = 0; i < 256; i++) {
        viridis_entry(i, rgb);
        cairo_pattern_add_color_stop_rgb(pat, i / 256.0, rgb[0], rgb[1], rgb[2]);
        cairo_pattern_add_color_stop_rgb(pat, (i + 1) / 256.0, rgb[0], rgb[1], rgb[2]);
    }
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

void ml_plot__marker(cairo_t *cr, int shape, double x, double y, double size) {
    double r = size / 2;
    cairo_new_path(cr);
    switch ((unsigned)shape % ML_PLOT_NMARKERS) {
    case ML_PLOT_M_CIRCLE: cairo_arc(cr, x, y, r, 0, 2 * M_PI); break;
    case ML_PLOT_M_SQUARE: r *= 0.88; cairo_rectangle(cr, x - r, y - r, 2 * r, 2 * r); break;   /* the circle's visual weight */
    case ML_PLOT_M_TRIANGLE:
        r *= 1.15;
        cairo_move_to(cr, x, y - r);
        cairo_line_to(cr, x + r * 0.866, y + r * 0.5);
        cairo_line_to(cr, x - r * 0.866, y + r * 0.5);
        cairo_close_path(cr);
        break;
    case ML_PLOT_M_DIAMOND:
        r *= 1.15;
        cairo_move_to(cr, x, y - r);
        cairo_line_to(cr, x + r * 0.75, y);
        cairo_line_to(cr, x, y + r);
        cairo_line_to(cr, x - r * 0.75, y);
        cairo_close_path(cr);
        break;
    case ML_PLOT_M_TRIANGLE_DOWN:
        r *= 1.15;
        cairo_move_to(cr, x, y + r);
        cairo_line_to(cr, x + r * 0.866, y - r * 0.5);
        cairo_line_to(cr, x - r * 0.866, y - r * 0.5);
        cairo_close_path(cr);
        break;
    case ML_PLOT_M_PLUS:   /* plus and cross are stroked: a filled outline would be a blob at 4 pt */
    case ML_PLOT_M_CROSS: {
        double a = (unsigned)shape % ML_PLOT_NMARKERS == ML_PLOT_M_CROSS ? M_PI / 4 : 0;
        cairo_save(cr);
        cairo_translate(cr, x, y);
        cairo_rotate(cr, a);
        cairo_move_to(cr, -r * 1.1, 0);
        cairo_line_to(cr, r * 1.1, 0);
        cairo_move_to(cr, 0, -r * 1.1);
        cairo_line_to(cr, 0, r * 1.1);
        cairo_restore(cr);
        cairo_save(cr);
        cairo_set_line_width(cr, size * 0.28);
        cairo_set_line_cap(cr, CAIRO_LINE_CAP_BUTT);
        cairo_stroke(cr);
        cairo_restore(cr);
        return;
    }
    }
    cairo_fill(cr);
}

void ml_plot__ring(cairo_t *cr, const ml_plot_style *st, double x, double y) {
    cairo_save(cr);
    cairo_new_path(cr);
    cairo_arc(cr, x, y, st->marker * 0.5 + 1.8 * st->k, 0, 2 * M_PI);
    cairo_set_source_rgb(cr, ml_plot_flag_rgb[0], ml_plot_flag_rgb[1], ml_plot_flag_rgb[2]);
    cairo_set_line_width(cr, 1.0 * st->k);
    cairo_stroke(cr);
    cairo_restore(cr);
}

/* ---- legend ------------------------------------------------------------------------ */

/* matplotlib's legend spacing, in units of the legend font size: handlelength 2,
 * handletextpad 0.8 (0.6 here), columnspacing 2 (1.5 here: a paper column is narrow). */
#define LEG_MAX_COLS 16
typedef struct {
    double sample, tgap, colgap, rowh, w, h, name_max;
    double colw[LEG_MAX_COLS];   /* each column as wide as its widest entry, like matplotlib's */
    int ncols, nrows;
} legend_geom;

/* Entry i's width: sample, gap and its name as it will be cut. */
static double legend_entry_w(cairo_t *cr, const legend_geom *g, const ml_plot_legend_item *it) {
    char buf[256];
    return g->sample + g->tgap +
           ml_plot__text_w(cr, ml_plot__fit(cr, it->name ? it->name : "", g->name_max, buf, sizeof(buf)));
}

/* Entries fill rows left to right; the most columns that fit max_w, then as few as keep
 * that many rows, so 5 entries read as 3 + 2 rather than 4 + 1. */
static legend_geom legend_layout(cairo_t *cr, const ml_plot_style *st, const ml_plot_legend_item *items, int n,
                                 double max_w) {
    legend_geom g = {0};
    ml_plot__font(cr, st->fs_tick, 0);
    g.sample = 2.0 * st->fs_tick;
    g.tgap = 0.6 * st->fs_tick;
    g.colgap = 1.5 * st->fs_tick;
    /* a name may take the whole width when there are few; with more, at most half, so
     * a legend of many long names becomes two columns, not a tall list */
    g.name_max = (n > 3 ? (max_w - g.colgap) / 2 : max_w) - g.sample - g.tgap;
    g.rowh = ml_plot__text_h(cr) * 1.2;
    if (n <= 0) return g;
    int best = 1;
    for (int nc = n < LEG_MAX_COLS ? n : LEG_MAX_COLS; nc >= 1; nc--) {
        double w = (nc - 1) * g.colgap, cw[LEG_MAX_COLS] = {0};
        for (int i = 0; i < n; i++) {
            double e = legend_entry_w(cr, &g, &items[i]);
            if (e > cw[i % nc]) cw[i % nc] = e;
        }
        for (int c = 0; c < nc; c++) w += cw[c];
        if (w <= max_w) { best = nc; break; }
    }
    g.nrows = (n + best - 1) / best;
    g.ncols = (n + g.nrows - 1) / g.nrows;
    for (int i = 0; i < n; i++) {
        double e = legend_entry_w(cr, &g, &items[i]);
        if (e > g.colw[i % g.ncols]) g.colw[i % g.ncols] = e;
    }
    g.w = (g.ncols - 1) * g.colgap;
    for (int c = 0; c < g.ncols; c++) g.w += g.colw[c];
    g.h = g.nrows * g.rowh;
    return g;
}

void ml_plot__legend_size(cairo_t *cr, const ml_plot_style *st, const ml_plot_legend_item *items, int n,
                          double max_w, double *w, double *h) {
    legend_geom g = legend_layout(cr, st, items, n, max_w);
    *w = n > 0 ? g.w : 0;
    *h = n > 0 ? g.h : 0;
}

void ml_plot__legend_draw(cairo_t *cr, const ml_plot_style *st, double x, double y,
                          const ml_plot_legend_item *items, int n, double max_w) {
    char buf[256];
    if (n <= 0) return;
    legend_geom g = legend_layout(cr, st, items, n, max_w);
    cairo_save(cr);
    for (int i = 0; i < n; i++) {
        const ml_plot_legend_item *it = &items[i];
        double ex = x, cy = y + (i / g.ncols) * g.rowh + g.rowh / 2;
        for (int c = 0; c < i % g.ncols; c++) ex += g.colw[c] + g.colgap;
        if (it->band) {
            cairo_set_source_rgba(cr, it->rgb[0], it->rgb[1], it->rgb[2], 0.2);
            cairo_rectangle(cr, ex, cy - g.rowh * 0.32, g.sample, g.rowh * 0.64);
            cairo_fill(cr);
        }
        cairo_set_source_rgb(cr, it->rgb[0], it->rgb[1], it->rgb[2]);
        if (it->line) {
            cairo_set_line_width(cr, st->line_w);
            cairo_move_to(cr, ex, cy);
            cairo_line_to(cr, ex + g.sample, cy);
            cairo_stroke(cr);
        }
        if (it->marker >= 0) ml_plot__marker(cr, it->marker, ex + g.sample / 2, cy, st->marker);
        if (it->ring) ml_plot__ring(cr, st, ex + g.sample / 2, cy);
        cairo_set_source_rgb(cr, 0, 0, 0);
        ml_plot__font(cr, st->fs_tick, 0);
        ml_plot__text(cr, ex + g.sample + g.tgap, cy,
                      ml_plot__fit(cr, it->name ? it->name : "", g.name_max, buf, sizeof(buf)), 0, 0.5, 0);
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

void ml_plot__no_data(cairo_t *cr, const ml_plot_style *st, double x, double y, double w, double h,
                      const char *msg) {
    ml_plot__hatch(cr, x, y, w, h);
    cairo_save(cr);
    cairo_set_source_rgb(cr, 0.6, 0.6, 0.6);
    cairo_set_line_width(cr, st->spine_w);
    cairo_rectangle(cr, x, y, w, h);
    cairo_stroke(cr);
    ml_plot__font(cr, st->fs, 0);
    double tw = ml_plot__text_w(cr, msg), th = ml_plot__text_h(cr);
    /* a white plate behind the message so the hatch never runs through the letters */
    cairo_rectangle(cr, x + w / 2 - tw / 2 - 2 * st->gap, y + h / 2 - th / 2 - st->gap, tw + 4 * st->gap,
                    th + 2 * st->gap);
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

int ml_plot__axis_ticks(cairo_t *cr, const ml_plot_style *st, double lo, double hi, double len, double *ticks,
                        double *step) {
    char lab[32];
    int n = 0;
    ml_plot__font(cr, st->fs_tick, 0);
    for (int max = 9; max >= 2; max--) {
        n = ml_plot__ticks(lo, hi, max, ticks, step);
        double widest = 0;
        for (int i = 0; i < n; i++) {
            ml_plot__tick_label(lab, sizeof(lab), ticks[i], *step);
            double w = ml_plot__text_w(cr, lab);
            if (w > widest) widest = w;
        }
        double spacing = n > 1 ? *step / (hi - lo) * len : len;
        if (spacing >= widest * 1.5 + 2 * st->k) break;
    }
    return n;
}

void ml_plot__heights(cairo_t *cr, const ml_plot_style *st, const char *title, double *top, double *label_h,
                      double *tick_h) {
    ml_plot__font(cr, st->fs_title, 0);
    *top = st->pad + (title && *title ? ml_plot__text_h(cr) + 2 * st->gap : 0);
    ml_plot__font(cr, st->fs, 0);
    *label_h = ml_plot__text_h(cr);
    ml_plot__font(cr, st->fs_tick, 0);
    *tick_h = ml_plot__text_h(cr);
}
