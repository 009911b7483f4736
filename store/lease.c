/*
 * store/lease.c: job leases in a shared folder (lease.h).
 */
#include "store/lease.h"
#include "core/error.h"
#include "core/fs.h"

#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Probing generations stops here: a job taken over this often is broken. */
#define MAX_GENERATIONS 1000

double ml_lease_ttl(void) {
    const char *s = getenv("MERGELAB_LEASE_SECONDS");
    char *end;
    double v = s && *s ? strtod(s, &end) : 0.0;
    return s && *s && *end == '\0' && v > 0 && v < 1e7 ? v : ML_LEASE_TTL_DEFAULT;
}

static double mono(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double mtime_of(const struct stat *st) { return (double)st->st_mtim.tv_sec + st->st_mtim.tv_nsec * 1e-9; }

/* Now on dir's filesystem clock: the mtime of a file just touched there. */
static int fs_now(double *now, const char *dir) {
    char path[PATH_MAX], host[64] = "";
    struct stat st;
    gethostname(host, sizeof(host) - 1);
    int len = snprintf(path, sizeof(path), "%s/.clock.%s.%ld", dir, host, (long)getpid());
    if (len < 0 || (size_t)len >= sizeof(path)) return ml_error_set(ML_EINVALID, "lease folder path too long: '%s'", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0) return ml_error_set(ML_EOS, "%s: %s", path, strerror(errno));
    int ok = futimens(fd, NULL) == 0 && fstat(fd, &st) == 0;
    int saved = errno;
    close(fd);
    unlink(path);
    if (!ok) return ml_error_set(ML_EOS, "%s: %s", path, strerror(saved));
    *now = mtime_of(&st);
    return 0;
}

static void gen_path(char *buf, size_t size, const char *dir, const char *hash, int g) {
    int len = snprintf(buf, size, "%s/%s.%d", dir, hash, g);
    if (len < 0 || (size_t)len >= size) buf[0] = '\0';
}

/* Creates generation g: 1 ours, 0 someone created it first. The lease is
 * written whole under a name of its own, then linked to its name: link()
 * fails with EEXIST when the name exists, atomically, on NFS too (where
 * O_EXCL was not always), and a reader never sees a lease without its text. */
static int create_gen(ml_lease *l, const char *dir, const char *hash, int g) {
    char text[256], host[64] = "", when[32], tmp[PATH_MAX + 96];
    time_t t = time(NULL);
    struct tm tm;
    gen_path(l->path, sizeof(l->path), dir, hash, g);
    gen_path(l->next, sizeof(l->next), dir, hash, g + 1);
    if (!l->path[0] || !l->next[0]) return ml_error_set(ML_EINVALID, "lease path too long in '%s'", dir);
    gethostname(host, sizeof(host) - 1);
    snprintf(tmp, sizeof(tmp), "%s.new.%s.%ld", l->path, host, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return ml_error_set(ML_EOS, "%s: %s", tmp, strerror(errno));
    gmtime_r(&t, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
    int n = snprintf(text, sizeof(text), "%s pid %ld since %s\n", host, (long)getpid(), when);
    /* the text is for people; a lease without it is still a lease */
    if (write(fd, text, (size_t)n) < 0) (void)0;
    close(fd);
    int linked = link(tmp, l->path), saved = errno;
    unlink(tmp);
    if (linked < 0) {
        if (saved == EEXIST) return 0;
        return ml_error_set(ML_EOS, "%s: %s", l->path, strerror(saved));
    }
    l->held = 1;
    l->lost = 0;
    l->renewed = mono();
    return 1;
}

static void read_holder(const char *path, char *holder, size_t size) {
    if (!holder || !size) return;
    holder[0] = '\0';
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return;
    ssize_t n = read(fd, holder, size - 1);
    close(fd);
    holder[n > 0 ? n : 0] = '\0';
    char *nl = strchr(holder, '\n');
    if (nl) *nl = '\0';
}

/* The holder ran on this host and its process is gone (a pid means
 * something only on its own host: elsewhere the lease must lapse). */
static int holder_dead_here(const char *path) {
    char text[256], host[64] = "", mine[64] = "";
    long pid = 0;
    read_holder(path, text, sizeof(text));
    gethostname(mine, sizeof(mine) - 1);
    if (sscanf(text, "%63s pid %ld", host, &pid) != 2 || pid <= 0 || strcmp(host, mine)) return 0;
    return kill((pid_t)pid, 0) < 0 && errno == ESRCH;
}

int ml_lease_claim(ml_lease *l, const char *dir, const char *hash, double ttl, char *holder, size_t holder_size) {
    char path[PATH_MAX];
    struct stat st, top = { 0 };
    int error;
    memset(l, 0, sizeof(*l));
    if (holder && holder_size) holder[0] = '\0';
    if ((error = ml_fs_mkdir_p(dir)) < 0) return error;
    for (int attempt = 0; attempt < 64; attempt++) {
        int g = -1;
        for (int k = 0; k < MAX_GENERATIONS; k++) {
            gen_path(path, sizeof(path), dir, hash, k);
            if (!path[0]) return ml_error_set(ML_EINVALID, "lease path too long in '%s'", dir);
            if (lstat(path, &st) < 0) break;
            g = k;
            top = st;
        }
        if (g < 0) {
            if ((error = create_gen(l, dir, hash, 0)) != 0) return error;
            continue;   /* another claimer created it first: look again */
        }
        double now = 0.0;
        if ((error = fs_now(&now, dir)) < 0) return error;
        gen_path(path, sizeof(path), dir, hash, g);
        if (now - mtime_of(&top) <= ttl && !holder_dead_here(path)) {
            read_holder(path, holder, holder_size);
            return 0;
        }
        if (g + 1 >= MAX_GENERATIONS)
            return ml_error_set(ML_ERROR, "the lease of job %.12s in '%s' was taken over %d times", hash, dir, g);
        /* stale: its holder died; the generation after it is the claim */
        if ((error = create_gen(l, dir, hash, g + 1)) != 0) return error;
    }
    return ml_error_set(ML_ERROR, "could not claim the lease of job %.12s in '%s': too much contention", hash, dir);
}

int ml_lease_renew(ml_lease *l, double ttl) {
    if (!l->held || l->lost) return l->lost;
    double t = mono();
    if (t - l->renewed < ttl / 4) return 0;
    struct stat st;
    if (lstat(l->next, &st) == 0 || utimensat(AT_FDCWD, l->path, NULL, 0) < 0) {
        l->lost = 1;   /* taken over, or removed by whoever took it over */
        return 1;
    }
    l->renewed = t;
    return 0;
}

void ml_lease_release(ml_lease *l) {
    if (!l || !l->held) return;
    l->held = 0;
    if (l->lost) return;   /* the newer generation is someone else's */
    /* ours, then the stale ones before it (their holders are gone) */
    char dir_hash[PATH_MAX];
    snprintf(dir_hash, sizeof(dir_hash), "%s", l->path);
    char *dot = strrchr(dir_hash, '.');
    if (!dot) return;
    int g = atoi(dot + 1);
    *dot = '\0';
    for (int k = g; k >= 0; k--) {
        char path[PATH_MAX + 16];
        snprintf(path, sizeof(path), "%s.%d", dir_hash, k);
        unlink(path);
    }
}
