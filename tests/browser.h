/*
 * tests/browser.h: a headless Chromium for the tests (DOM dumps and screenshots
 * of local HTML). Not a test table.
 * Not here: what a report must contain (tests/test_browser.c); reading the
 *          screenshots (tests/pngio.h).
 * Runs:    every run starts Chromium with a fresh --user-data-dir (removed
 *          after), no network (background networking off, every host name
 *          resolves to nothing), a 60 s limit (its process group is killed past
 *          it); on failure the command and the tail of Chromium's stderr go to
 *          stderr.
 * Memory:  the caller frees what *dom receives; it stays NULL on failure.
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

#endif
