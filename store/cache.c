/*
 * store/cache.c: model cache entries.
 * Layout: "MLCACHE1", u64 nparams, u64 nextra (little-endian, as on every
 * machine we run), the floats, the doubles, then the SHA-256 of all the
 * bytes before it. A reader that finds anything else treats the entry as
 * absent: the cache is an optimisation, never a source of truth.
 */
#include "store/cache.h"
#include "core/error.h"
#include "core/fs.h"
#include "core/sha256.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#define MAGIC "MLCACHE1"

static int entry_path(char *buf, size_t size, const char *dir, const char *key, const char *ext) {
    if (snprintf(buf, size, "%s/%s.%s", dir, key, ext) >= (int)size)
        return ml_error_set(ML_EINVALID, "cache path too long: '%s'", dir);
    return 0;
}

int ml_cache_get(int *hit, const char *dir, const char *key, float *params, size_t nparams, double *extra,
                 size_t nextra) {
    char path[4096], hex[65], want[65];
    char *buf = NULL;
    size_t len, body = 8 + 16 + nparams * sizeof(float) + nextra * sizeof(double);
    uint64_t counts[2];
    int error;
    *hit = 0;
    if (!dir) return 0;
    if ((error = entry_path(path, sizeof(path), dir, key, "bin")) < 0) return error;
    if ((error = ml_fs_read_all(&buf, &len, path)) < 0) {
        if (error == ML_ENOTFOUND) { ml_error_clear(); return 0; }
        return error;
    }
    if (len != body + 32 || memcmp(buf, MAGIC, 8)) goto miss;
    memcpy(counts, buf + 8, 16);
    if (counts[0] != nparams || counts[1] != nextra) goto miss;
    ml_sha256_hex(hex, buf, body);
    ml_sha256_to_hex(want, (const uint8_t *)buf + body);
    if (strcmp(hex, want)) goto miss;
    memcpy(params, buf + 24, nparams * sizeof(float));
    if (nextra) memcpy(extra, buf + 24 + nparams * sizeof(float), nextra * sizeof(double));
    *hit = 1;
miss:
    free(buf);
    return 0;
}

int ml_cache_put(const char *dir, const char *key, const float *params, size_t nparams, const double *extra,
                 size_t nextra) {
    char path[4096];
    size_t body = 8 + 16 + nparams * sizeof(float) + nextra * sizeof(double);
    uint64_t counts[2] = { nparams, nextra };
    ml_sha256 h;
    char *buf;
    int error;
    if (!dir) return 0;
    if ((error = entry_path(path, sizeof(path), dir, key, "bin")) < 0 || (error = ml_fs_mkdir_p(dir)) < 0)
        return error;
    if (!(buf = malloc(body + 32))) return ml_error_set(ML_ENOMEM, "out of memory writing cache entry %s", path);
    memcpy(buf, MAGIC, 8);
    memcpy(buf + 8, counts, 16);
    memcpy(buf + 24, params, nparams * sizeof(float));
    if (nextra) memcpy(buf + 24 + nparams * sizeof(float), extra, nextra * sizeof(double));
    ml_sha256_init(&h);
    ml_sha256_update(&h, buf, body);
    ml_sha256_final(&h, (uint8_t *)buf + body);
    error = ml_fs_write_atomic(path, buf, body + 32);
    free(buf);
    return error;
}

int ml_cache_lock(int *fd, const char *dir, const char *key) {
    char path[4096];
    int error;
    *fd = -1;
    if (!dir) return 0;
    if ((error = entry_path(path, sizeof(path), dir, key, "lock")) < 0 || (error = ml_fs_mkdir_p(dir)) < 0)
        return error;
    int f = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (f < 0) return ml_error_set(ML_EOS, "cannot open lock '%s': %s", path, strerror(errno));
    while (flock(f, LOCK_EX) < 0) {
        if (errno == EINTR) continue;
        close(f);
        return ml_error_set(ML_EOS, "cannot lock '%s': %s", path, strerror(errno));
    }
    *fd = f;
    return 0;
}

void ml_cache_unlock(int fd) {
    if (fd >= 0) close(fd);   /* closing releases the flock */
}
