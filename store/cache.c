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
#include <sys/stat.h>
#include <unistd.h>

#define MAGIC "MLCACHE1"

static int entry_path(char *buf, size_t size, const char *dir, const char *key, const char *ext) {
    if (snprintf(buf, size, "%s/%s.%s", dir, key, ext) >= (int)size)
        return ml_error_set(ML_EINVALID, "cache path too long: '%s'", dir);
    return 0;
}

/* Something other than a regular file where an entry or lock belongs (a
 * directory, a FIFO, a link to /dev/zero, a loop of links) is moved out of
 * the way: a directory is renamed aside (never deleted with its content),
 * anything else is unlinked (a link, not what it points to). 1 when it did. */
static int clear_nonregular(const char *path) {
    struct stat st;
    char aside[4200];
    if (lstat(path, &st) < 0 || S_ISREG(st.st_mode)) return 0;
    if (S_ISDIR(st.st_mode)) {
        snprintf(aside, sizeof(aside), "%s.damaged.%ld", path, (long)getpid());
        return rename(path, aside) == 0;
    }
    return unlink(path) == 0;
}

int ml_cache_get(int *hit, char *note, size_t note_size, const char *dir, const char *key, float *params,
                 size_t nparams, double *extra, size_t nextra) {
    char path[4096], hex[65], want[65];
    char *buf = NULL;
    size_t len, body = 8 + 16 + nparams * sizeof(float) + nextra * sizeof(double);
    uint64_t counts[2];
    int error;
    struct stat st;
    *hit = 0;
    if (note && note_size) note[0] = '\0';
    if (!dir) return 0;
    if ((error = entry_path(path, sizeof(path), dir, key, "bin")) < 0) return error;
    if (lstat(path, &st) < 0) return 0;   /* not there: a miss */
    if (!S_ISREG(st.st_mode)) {
        if (note) snprintf(note, note_size, "cache entry %s is %s, not a regular file; computing it again", path,
                           ml_fs_kind(st.st_mode));
        clear_nonregular(path);
        return 0;
    }
    /* an entry of another size is not this one: read at most what this one has */
    if ((error = ml_fs_read_max(&buf, &len, path, body + 32)) < 0) {
        if (note) snprintf(note, note_size, "cache entry %s is unreadable (%s); computing it again", path,
                           ml_error_last()->message);
        ml_error_clear();
        return 0;
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
    free(buf);
    return 0;
miss:
    if (note) snprintf(note, note_size, "cache entry %s is damaged (size, header or checksum); computing it again", path);
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
    clear_nonregular(path);
    if ((error = ml_malloc((void **)&buf, body + 32)) < 0) return error;
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
    clear_nonregular(path);
    int f = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0644);
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
