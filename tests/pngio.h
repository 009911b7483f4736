/*
 * tests/pngio.h: the tests' one PNG reader and writer (libpng), independent of how
 * reports/ or Chromium wrote the file. Used by test_reports.c, test_figures.c and
 * test_browser.c. Not a test table.
 * Memory: the caller frees img->rgba (also after a failed load: it is NULL then).
 */
#ifndef ML_TESTS_PNGIO_H
#define ML_TESTS_PNGIO_H

#include <stddef.h>

typedef struct {
    int w, h;
    unsigned char *rgba;   /* (h, w, 4) row-major, straight 8-bit RGBA */
    char text[2048];       /* the text chunks (tEXt, zTXt, iTXt) as "key=value\n" lines, in file order */
} ml_t_png;

/* Reads any PNG (palette, grey, 16-bit, tRNS, interlaced) into *img as 8-bit RGBA
 * (16-bit channels scaled, no alpha -> 255) with its text chunks. 0, or -1 with the
 * reason in why (nwhy bytes) when the file is missing, not a PNG or cannot be decoded. */
int ml_t_png_load(const char *path, ml_t_png *img, char *why, size_t nwhy);

/* Writes rgba (h, w, 4) as an 8-bit RGBA PNG. 0 or -1. */
int ml_t_png_save(const char *path, const unsigned char *rgba, int w, int h);

/* The pixel nearest (x_pt, y_pt) of a figure drawn at `scale` px per pt, clamped to
 * the image (which must not be empty). */
const unsigned char *ml_t_png_pixel(const ml_t_png *img, double x_pt, double y_pt, int scale);

/* The fraction of the pixels of img in [x0,x1) x [y0,y1) (px, clipped to the image)
 * whose R, G or B is below 240: not near-white. 0 for an empty rectangle. */
double ml_t_png_nonwhite_fraction(const ml_t_png *img, int x0, int y0, int x1, int y1);

#endif
