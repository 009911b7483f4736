/*
 * core/fs.c: atomic writes and whole-file reads.
 * The write sequence (temp in the same directory, fsync, rename, fsync of
 * the directory) is what makes an interrupted run leave either the old or
 * the new file, never half of one.
 */
#include "core/fs.h"
#include "core/error.h"
#include "core/fault.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
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

int ml_fs_check_path(const char *path, const char *what) {
    const char *p = path;
    while (p && *p && isspace((unsigned char)*p)) p++;
    if (!path || !*p)
        return ml_error_set(ML_EINVALID, "%s: an empty path (an unset variable?)", what ? what : "path");
    return 0;
}

void ml_fs_sweep_stale(const char *path) {
    char dir[PATH_MAX], name[NAME_MAX + 1], stale[PATH_MAX + NAME_MAX + 2];
    const char *slash = strrchr(path, '/');
    size_t dn = slash ? (size_t)(slash - path) : 0;
    if (dn >= sizeof(dir) || strlen(slash ? slash + 1 : path) + 5 >= sizeof(name)) return;
    memcpy(dir, path, dn);
    dir[dn] = '\0';
    if (!slash) snprintf(dir, sizeof(dir), ".");
    else if (dn == 0) snprintf(dir, sizeof(dir), "/");
    int n = snprintf(name, sizeof(name), "%s.tmp.", slash ? slash + 1 : path);
    DIR *d = opendir(dir);
    if (!d) return;
    for (struct dirent *e; (e = readdir(d));) {
        if (strncmp(e->d_name, name, (size_t)n)) continue;
        char *end;
        long pid = strtol(e->d_name + n, &end, 10);
        if (pid <= 0 || (*end && *end != '.') || pid == (long)getpid() || kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue;
        snprintf(stale, sizeof(stale), "%s/%s", dir, e->d_name);
        ml_fs_remove_tree(stale);
    }
    closedir(d);
}

/* The atomic replacement of the regular file (or nothing) at path. */
static int write_replace(const char *path, const void *buf, size_t len) {
    static unsigned counter;   /* unique temp names for threads of one process */
    char tmp[PATH_MAX];
    const char *step = "open";
    int fd = -1, saved;
    unsigned n = __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED);
    if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld.%u", path, (long)getpid(), n) >= (int)sizeof(tmp))
        return ml_error_set(ML_EINVALID, "path too long: '%s'", path);
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) goto fail;
    step = "write";
    if ((errno = ml_fault_io(step)) || write_all(fd, buf, len) < 0) goto fail;
    step = "fsync";
    if ((errno = ml_fault_io(step)) || fsync(fd) < 0) goto fail;
    step = "close";
    if (close(fd) < 0) { fd = -1; goto fail; }
    fd = -1;
    step = "rename";
    if ((errno = ml_fault_io(step)) || rename(tmp, path) < 0) goto fail;      /* the commit point */
    step = "fsync of directory";
    if (fsync_dir_of(path) < 0) goto fail;
    ml_fs_sweep_stale(path);
    return 0;
fail:
    saved = errno;
    if (fd >= 0) close(fd);
    if (strcmp(step, "open") != 0) unlink(tmp);   /* never remove a file we did not create */
    return ml_error_set(ML_EOS, "atomic write of '%s' failed at %s: %s", path, step, strerror(saved));
}

/* A stream sink (a character device such as /dev/null, a terminal, a pipe
 * or FIFO): written in place, as a shell redirection would. A FIFO that
 * nobody reads is an error, not a hang. */
static int write_stream(const char *path, const void *buf, size_t len) {
    int fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC), saved;
    if (fd < 0)
        return ml_error_set(errno == ENXIO ? ML_EINVALID : ML_EOS, "cannot write '%s': %s", path,
                            errno == ENXIO ? "a FIFO with no reader" : strerror(errno));
    int flags = fcntl(fd, F_GETFL);
    if (flags >= 0) fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
    if (write_all(fd, buf, len) < 0) {
        saved = errno;
        close(fd);
        return ml_error_set(ML_EOS, "write to '%s' failed: %s", path, strerror(saved));
    }
    close(fd);
    return 0;
}

const char *ml_fs_kind(unsigned mode) {
    switch (mode & S_IFMT) {
    case S_IFREG: return "a regular file";
    case S_IFDIR: return "a directory";
    case S_IFCHR: return "a character device";
    case S_IFBLK: return "a block device";
    case S_IFIFO: return "a FIFO";
    case S_IFSOCK: return "a socket";
    case S_IFLNK: return "a symbolic link";
    default: return "not a regular file";
    }
}

int ml_fs_write_atomic(const char *path, const void *buf, size_t len) {
    struct stat lst, st;
    char real[PATH_MAX];
    int error;
    if ((error = ml_fs_check_path(path, "output")) < 0) return error;
    if (lstat(path, &lst) < 0) {
        if (errno == ENOENT) return write_replace(path, buf, len);
        return ml_error_set(ML_EOS, "cannot write '%s': %s", path, strerror(errno));
    }
    if (stat(path, &st) < 0) {
        if (errno == ELOOP) return ml_error_set(ML_EINVALID, "cannot write '%s': a loop of symbolic links", path);
        if (errno == ENOENT) return ml_error_set(ML_EINVALID, "cannot write '%s': a symbolic link to nothing", path);
        return ml_error_set(ML_EOS, "cannot write '%s': %s", path, strerror(errno));
    }
    if (S_ISCHR(st.st_mode) || S_ISFIFO(st.st_mode)) return write_stream(path, buf, len);
    if (!S_ISREG(st.st_mode))
        return ml_error_set(ML_EINVALID, "cannot write '%s': it is %s, not a regular file", path, ml_fs_kind(st.st_mode));
    if (!S_ISLNK(lst.st_mode)) return write_replace(path, buf, len);
    /* a link to a regular file: the file it points to is replaced, the link stays */
    if (!realpath(path, real)) return ml_error_set(ML_EOS, "cannot resolve '%s': %s", path, strerror(errno));
    return write_replace(real, buf, len);
}

int ml_fs_open_read(int *fd_out, size_t *size, const char *path, size_t max) {
    struct stat st;
    int error, fd;
    *fd_out = -1;
    if ((error = ml_fs_check_path(path, "input")) < 0) return error;
    /* O_NONBLOCK: opening a FIFO must not wait for a writer */
    fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        int code = errno == ENOENT ? ML_ENOTFOUND : errno == ELOOP ? ML_EINVALID : ML_EOS;
        return ml_error_set(code, "cannot open '%s': %s", path,
                            errno == ELOOP ? "a loop of symbolic links" : strerror(errno));
    }
    if (fstat(fd, &st) < 0) {
        error = ml_error_set(ML_EOS, "cannot read '%s': %s", path, strerror(errno));
    } else if (!S_ISREG(st.st_mode)) {
        error = ml_error_set(ML_EINVALID, "cannot read '%s': it is %s, not a regular file", path, ml_fs_kind(st.st_mode));
    } else if ((unsigned long long)st.st_size > (unsigned long long)max) {
        error = ml_error_set(ML_EINVALID, "cannot read '%s': %lld bytes, more than the %zu this file may have", path,
                             (long long)st.st_size, max);
    } else {
        int flags = fcntl(fd, F_GETFL);
        if (flags >= 0) fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
        *size = (size_t)st.st_size;
        *fd_out = fd;
        return 0;
    }
    close(fd);
    return error;
}

int ml_fs_read_max(char **out, size_t *len, const char *path, size_t max) {
    char *buf = NULL;
    size_t size = 0, got = 0;
    int fd, error;
    *out = NULL;
    if (len) *len = 0;
    if ((error = ml_fs_open_read(&fd, &size, path, max)) < 0) return error;
    if ((error = ml_malloc((void **)&buf, size + 1)) < 0) goto cleanup;
    while (got < size) {
        ssize_t n = read(fd, buf + got, size - got);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) { error = ml_error_set(ML_EOS, "cannot read '%s': %s", path, strerror(errno)); goto cleanup; }
        if (n == 0) { error = ml_error_set(ML_EOS, "short read of '%s' (it shrank while read)", path); goto cleanup; }
        got += (size_t)n;
    }
    buf[size] = '\0';
    *out = buf;
    buf = NULL;
    if (len) *len = size;
cleanup:
    free(buf);
    close(fd);
    return error;
}

int ml_fs_read_all(char **out, size_t *len, const char *path) {
    return ml_fs_read_max(out, len, path, ML_FS_READ_MAX);
}

int ml_fs_mkdir_p(const char *dir) {
    char buf[PATH_MAX];
    size_t n = strlen(dir);
    int error;
    if ((error = ml_fs_check_path(dir, "folder")) < 0) return error;
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

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st;
    (void)ftw;
    return (flag == FTW_DP ? rmdir(path) : unlink(path)) < 0 && errno != ENOENT ? -1 : 0;
}

int ml_fs_remove_tree(const char *path) {
    struct stat st;
    if (lstat(path, &st) < 0) return errno == ENOENT ? 0 : ml_error_set(ML_EOS, "cannot remove '%s': %s", path, strerror(errno));
    /* FTW_PHYS: a link inside is removed, never followed */
    if (nftw(path, remove_one, 16, FTW_DEPTH | FTW_PHYS) < 0)
        return ml_error_set(ML_EOS, "cannot remove '%s': %s", path, strerror(errno));
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
