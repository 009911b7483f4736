/*
 * tests/pngio.c: PNG in and out for the tests (see pngio.h).
 * Every libpng call that can longjmp runs in a *_guarded function that holds the
 * setjmp alone, so nothing a caller keeps in locals can be clobbered by the jump.
 */
#include "tests/pngio.h"

#include <errno.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PNG_MAX_SIDE 32768

/* Decodes after the signature: every colour type to straight 8-bit RGBA into
 * img->rgba (allocated here; rows is scratch the caller frees), then the text chunks
 * before and after the image data into info. 0, or -1 with why filled. */
static int png_read_guarded(png_structp png, png_infop info, FILE *f, ml_t_png *img, png_bytep **rows,
                            const char *path, char *why, size_t nwhy) {
    if (setjmp(png_jmpbuf(png))) {
        snprintf(why, nwhy, "libpng cannot read %s", path);
        return -1;
    }
    png_init_io(png, f);
    png_set_sig_bytes(png, 8);
    png_read_info(png, info);
    png_uint_32 w = png_get_image_width(png, info), h = png_get_image_height(png, info);
    int type = png_get_color_type(png, info), depth = png_get_bit_depth(png, info);
    if (w == 0 || h == 0 || w > PNG_MAX_SIDE || h > PNG_MAX_SIDE) {
        snprintf(why, nwhy, "%s: size %ux%u out of range", path, (unsigned)w, (unsigned)h);
        return -1;
    }
    if (type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (type == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    int has_trns = png_get_valid(png, info, PNG_INFO_tRNS) != 0;
    if (has_trns) png_set_tRNS_to_alpha(png);
    if (depth == 16) png_set_scale_16(png);
    if (type == PNG_COLOR_TYPE_GRAY || type == PNG_COLOR_TYPE_GRAY_ALPHA) png_set_gray_to_rgb(png);
    if (!(type & PNG_COLOR_MASK_ALPHA) && !has_trns) png_set_filler(png, 0xff, PNG_FILLER_AFTER);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    if (png_get_rowbytes(png, info) != (size_t)w * 4) {
        snprintf(why, nwhy, "%s: not 4 bytes a pixel after conversion to RGBA", path);
        return -1;
    }
    img->rgba = malloc((size_t)w * h * 4);
    *rows = malloc(h * sizeof(png_bytep));
    if (!img->rgba || !*rows) {
        snprintf(why, nwhy, "out of memory reading %s", path);
        return -1;
    }
    for (png_uint_32 y = 0; y < h; y++) (*rows)[y] = img->rgba + (size_t)y * w * 4;
    png_read_image(png, *rows);
    png_read_end(png, info);
    img->w = (int)w;
    img->h = (int)h;
    return 0;
}

int ml_t_png_load(const char *path, ml_t_png *img, char *why, size_t nwhy) {
    unsigned char sig[8];
    png_structp png = NULL;
    png_infop info = NULL;
    png_bytep *rows = NULL;
    int rc = -1;
    memset(img, 0, sizeof(*img));
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(why, nwhy, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    if (fread(sig, 1, 8, f) != 8 || png_sig_cmp(sig, 0, 8) != 0) {
        snprintf(why, nwhy, "%s does not start with the PNG signature", path);
        goto cleanup;
    }
    png = png_create_read_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        snprintf(why, nwhy, "libpng cannot start reading %s", path);
        goto cleanup;
    }
    if (png_read_guarded(png, info, f, img, &rows, path, why, nwhy) < 0) goto cleanup;
    png_textp text = NULL;
    int ntext = png_get_text(png, info, &text, NULL);
    size_t used = 0;
    for (int i = 0; i < ntext && used < sizeof(img->text); i++)
        used += (size_t)snprintf(img->text + used, sizeof(img->text) - used, "%s=%s\n", text[i].key, text[i].text);
    rc = 0;
cleanup:
    if (png) png_destroy_read_struct(&png, info ? &info : NULL, NULL);
    free(rows);
    if (rc < 0) {
        free(img->rgba);
        memset(img, 0, sizeof(*img));
    }
    fclose(f);
    return rc;
}

static int png_write_guarded(png_structp png, png_infop info, FILE *f, png_bytep *rows, int w, int h) {
    if (setjmp(png_jmpbuf(png))) return -1;
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8, PNG_COLOR_TYPE_RGB_ALPHA, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    png_write_image(png, rows);
    png_write_end(png, NULL);
    return 0;
}

int ml_t_png_save(const char *path, const unsigned char *rgba, int w, int h) {
    png_bytep *rows = calloc((size_t)h, sizeof(*rows));
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    FILE *f = fopen(path, "wb");
    int rc = -1;
    if (rows && info && f) {
        for (int y = 0; y < h; y++) rows[y] = (png_bytep)(rgba + (size_t)y * (size_t)w * 4);
        rc = png_write_guarded(png, info, f, rows, w, h);
    }
    if (f && fclose(f) != 0) rc = -1;
    if (png) png_destroy_write_struct(&png, &info);
    free(rows);
    return rc;
}

const unsigned char *ml_t_png_pixel(const ml_t_png *img, double x_pt, double y_pt, int scale) {
    int x = (int)(x_pt * scale), y = (int)(y_pt * scale);
    if (x < 0) x = 0;
    if (y < 0) y = 0;
    if (x >= img->w) x = img->w - 1;
    if (y >= img->h) y = img->h - 1;
    return img->rgba + ((size_t)y * (size_t)img->w + (size_t)x) * 4;
}

double ml_t_png_nonwhite_fraction(const ml_t_png *img, int x0, int y0, int x1, int y1) {
    if (x0 < 0) x0 = 0;
    if (y0 < 0) y0 = 0;
    if (x1 > img->w) x1 = img->w;
    if (y1 > img->h) y1 = img->h;
    if (x1 <= x0 || y1 <= y0) return 0.0;
    long n = 0;
    for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++) {
            const unsigned char *p = img->rgba + ((size_t)y * img->w + x) * 4;
            n += p[0] < 240 || p[1] < 240 || p[2] < 240;
        }
    return (double)n / ((double)(x1 - x0) * (y1 - y0));
}
