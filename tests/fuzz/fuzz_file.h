/*
 * tests/fuzz/fuzz_file.h: for the fuzz targets whose reader takes a path
 * (cell files, cache entries, checkpoints, IDX data): the input is written
 * to a file in a folder of this process under $TMPDIR (tmpfs on most
 * machines) and the real reader opens it, so the target exercises exactly
 * what `mergelab` runs, open and fstat included. Header-only, one per target.
 */
#ifndef ML_FUZZ_FILE_H
#define ML_FUZZ_FILE_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A folder of this process, made once. */
static const char *fuzz_dir(void) {
    static char dir[256];
    if (!dir[0]) {
        const char *t = getenv("TMPDIR");
        snprintf(dir, sizeof(dir), "%s/mergelab-fuzz-%ld", t && *t ? t : "/tmp", (long)getpid());
        mkdir(dir, 0700);
    }
    return dir;
}

/* Writes data to fuzz_dir()/name and returns its path (static). */
static const char *fuzz_file(const char *name, const uint8_t *data, size_t size) {
    static char path[512];
    snprintf(path, sizeof(path), "%s/%s", fuzz_dir(), name);
    FILE *f = fopen(path, "wb");
    if (!f) abort();   /* the harness itself is broken: say so loudly */
    if (size && fwrite(data, 1, size, f) != size) abort();
    fclose(f);
    return path;
}

#endif
