/*
 * tests/browser.h: a headless Chromium for the tests (DOM dumps and screenshots
 * of local HTML) and a PNG reader to look at the screenshots. Not a test table.
 * Not here: what a report must contain (tests/test_browser.c).
 * Runs:    every run starts Chromium with a fresh --user-data-dir (removed
 *          after), no network (background networking off, every host name
 *          resolves to nothing), a 60 s limit (its process group is killed past
 *          it); on failure the command and the tail of Chromium's stderr go to
 *          stderr.
 * Memory:  the caller frees what *dom and *rgba receive; they stay NULL on failure.
 */
#ifndef ML_TESTS_BROWSER_H
#define ML_TESTS_BROWSER_H

#include <stddef.h>

/* The Chromium to run: $ML_CHROMIUM when set (it must be executable; nothing
 * else is tried then), else chromium or chromium-browser on $PATH. 0 with the
 * path in buf (n bytes), -1 when none is found. */
int ml_t_chromium_path(char *buf, size_t n);

/* The DOM of html_path after its load handlers ran (--dump-dom with a 5 s
 * virtual-time budget), into *dom (malloc'd, NUL-terminated). 0 or -1. */
int ml_t_browser_dump_dom(char **dom, const char *html_path);

/* A w x h PNG of html_path's viewport (light colour scheme) into png_out. 0 or -1. */
int ml_t_browser_screenshot(const char *png_out, const char *html_path, int w, int h);
/* The same with the page told the user prefers a dark colour scheme. */
int ml_t_browser_screenshot_dark(const char *png_out, const char *html_path, int w, int h);

/* Reads any PNG (palette, grey, 16-bit, tRNS, interlaced) as straight 8-bit
 * RGBA: *rgba (h,w,4) row-major, malloc'd. 0, or -1 (with the reason on
 * stderr) when the file is missing or not a PNG. */
int ml_t_png_read(const char *path, int *w, int *h, unsigned char **rgba);

/* The fraction of the pixels in [x0,x1) x [y0,y1) (clipped to the image) whose
 * R, G or B is below 240: not near-white. 0 for an empty rectangle. */
double ml_t_png_nonwhite_fraction(const unsigned char *rgba, int w, int h, int x0, int y0, int x1, int y1);

#endif
