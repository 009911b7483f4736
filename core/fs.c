/*
 * core/fs.c: atomic writes and whole-file reads.
 * The write sequence (temp in the same directory, fsync, rename, fsync of
 * the directory) is what makes an interrupted run leave either the old or
 * the new file, never half of one.
 */
#include "core/fs.h"
#include "core/error.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int write_all(int fd, const void *buf, size_t len) {
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int fsync_dir_of(const char *path) {
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    if (!slash) {
        strcpy(dir, ".");
    } else if (slash == path) {
        strcpy(dir, "/");
    } else {
        size_t n = (size_t)(slash - path);
        if (n >= sizeof(dir)) { errno = ENAMETOOLONG; return -1; }
        memcpy(dir, path, n);
        dir[n] = '\0';
    }
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0) return -1;
    int rc = fsync(fd);
    int saved = errno;
    close(fd);
    errno = saved;
    return rc;
}

int ml_fs_write_atomic(const char *path, const void *buf, size_t len) {
    static unsigned counter;   /* unique temp names for threads of one process */
    char tmp[PATH_MAX];
    const char *step = "open";
    int fd = -1, saved;
    unsigned n = __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED);
    if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld.%u", path, (long)getpid(), n) >= (int)sizeof(tmp))
        return ml_error_set(ML_EINVALID, "path too long: '%s'", path);
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0644);
    if (fd < 0) goto fail;
    step = "write";
    if (write_all(fd, buf, len) < 0) goto fail;
    step = "fsync";
    if (fsync(fd) < 0) goto fail;
    step = "close";
    if (close(fd) < 0) { fd = -1; goto fail; }
    fd = -1;
    step = "rename";
    if (rename(tmp, path) < 0) goto fail;      /* the commit point */
    step = "fsync of directory";
    if (fsync_dir_of(path) < 0) goto fail;
    return 0;
fail:
    saved = errno;
    if (fd >= 0) close(fd);
    if (strcmp(step, "open") != 0) unlink(tmp);   /* never remove a file we did not create */
    return ml_error_set(ML_EOS, "atomic write of '%s' failed at %s: %s", path, step, strerror(saved));
}

int ml_fs_read_all(char **out, size_t *len, const char *path) {
    FILE *f = NULL;
    char *buf = NULL;
    long size;
    int error = 0;
    *out = NULL;
    if (len) *len = 0;
    f = fopen(path, "rb");
    if (!f) {
        int code = errno == ENOENT ? ML_ENOTFOUND : ML_EOS;
        return ml_error_set(code, "cannot open '%s': %s", path, strerror(errno));
    }
    struct stat st;
    if (fstat(fileno(f), &st) < 0 || !S_ISREG(st.st_mode)) {
        error = ml_error_set(ML_EOS, "cannot read '%s': %s", path, S_ISDIR(st.st_mode) ? "is a directory" : "not a regular file");
        goto cleanup;
    }
    if (fseek(f, 0, SEEK_END) < 0 || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) < 0) {
        error = ml_error_set(ML_EOS, "cannot read '%s': %s", path, strerror(errno));
        goto cleanup;
    }
    if ((error = ml_malloc((void **)&buf, (size_t)size + 1)) < 0) goto cleanup;
    if (size > 0 && fread(buf, 1, (size_t)size, f) != (size_t)size) {
        error = ml_error_set(ML_EOS, "short read of '%s'", path);
        goto cleanup;
    }
    buf[size] = '\0';
    *out = buf;
    buf = NULL;
    if (len) *len = (size_t)size;
cleanup:
    free(buf);
    fclose(f);
    return error;
}

int ml_fs_mkdir_p(const char *dir) {
    char buf[PATH_MAX];
    size_t n = strlen(dir);
    if (n == 0) return 0;
    if (n >= sizeof(buf)) return ml_error_set(ML_EINVALID, "path too long: '%s'", dir);
    memcpy(buf, dir, n + 1);
    for (char *p = buf + 1; ; p++) {
        if (*p == '/' || *p == '\0') {
            char c = *p;
            *p = '\0';
            if (mkdir(buf, 0755) < 0 && errno != EEXIST)
                return ml_error_set(ML_EOS, "cannot create directory '%s': %s", buf, strerror(errno));
            *p = c;
            if (c == '\0') break;
        }
    }
    struct stat st;
    if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
        return ml_error_set(ML_EOS, "'%s' is not a directory", dir);
    return 0;
}

int ml_fs_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

int ml_fs_copy(const char *dst, const char *src) {
    char *buf = NULL;
    size_t len;
    int error = ml_fs_read_all(&buf, &len, src);
    if (error == 0) error = ml_fs_write_atomic(dst, buf, len);
    free(buf);
    return error;
}
