/*
 * store/store.c: results store names and the run lock.
 */
#include "store/store.h"
#include "core/error.h"
#include "core/fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void sanitize(char *s) {
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '.' ||
              *s == '-' || *s == '_' || *s == ',' || *s == '='))
            *s = '_';
}

void ml_store_machine(char *buf, size_t size) {
    const char *env = getenv("MERGELAB_MACHINE");
    char host[256] = "unknown";
    if (env && *env) snprintf(buf, size, "%s", env);
    else {
        if (gethostname(host, sizeof(host) - 1) < 0 || !host[0]) snprintf(host, sizeof(host), "unknown");
        host[sizeof(host) - 1] = '\0';
        snprintf(buf, size, "%s", host);
    }
    sanitize(buf);
    if (buf[0] == '.') buf[0] = '_';   /* never "." or ".." */
}

void ml_store_commit_dir(char *buf, size_t size, const cJSON *prov) {
    const cJSON *repo = cJSON_GetObjectItemCaseSensitive(prov, "repository");
    const cJSON *commit = cJSON_GetObjectItemCaseSensitive(repo, "commit");
    const cJSON *dirty = cJSON_GetObjectItemCaseSensitive(repo, "dirty");
    const cJSON *diff = cJSON_GetObjectItemCaseSensitive(repo, "diff_sha256");
    if (!cJSON_IsString(commit)) snprintf(buf, size, "no-git");
    else if (cJSON_IsTrue(dirty) && cJSON_IsString(diff))
        snprintf(buf, size, "%s-dirty-%.12s", commit->valuestring, diff->valuestring);
    else snprintf(buf, size, "%s", commit->valuestring);
}

void ml_store_cell_file(char *buf, size_t size, const char *dir, const char *suite, const char *cell) {
    char name[300];
    snprintf(name, sizeof(name), "%s", cell);
    sanitize(name);
    snprintf(buf, size, "%s/%s.cells/%s.json", dir, suite, name);
}

/* 1 when the pid written in the lock file names no living process. */
static int holder_gone(int f) {
    char pid[32];
    ssize_t n = pread(f, pid, sizeof(pid) - 1, 0);
    if (n <= 0) return 0;
    pid[n] = '\0';
    char *end;
    long p = strtol(pid, &end, 10);
    if (p <= 0 || end == pid) return 0;
    return kill((pid_t)p, 0) < 0 && errno == ESRCH;
}

/* What the lock file says of its holder: "pid 123 on host, since <time>:
 * mergelab run ..." (the first line of the file). */
static void holder_text(int f, char *buf, size_t size) {
    char text[600];
    ssize_t n = pread(f, text, sizeof(text) - 1, 0);
    text[n > 0 ? n : 0] = '\0';
    text[strcspn(text, "\n")] = '\0';
    long pid = strtol(text, NULL, 10);
    const char *rest = strchr(text, ' ');
    if (pid <= 0) snprintf(buf, size, "an unknown process");
    else snprintf(buf, size, "pid %ld%s%s", pid, rest ? rest : "",
                  kill((pid_t)pid, 0) < 0 && errno == ESRCH ? " (that process is gone; its workers still hold the lock)"
                                                             : "");
}

/* "pid on host, since <time>: <command line>", so a second run can say who holds the folder */
static void holder_line(char *buf, size_t size) {
    char host[256] = "unknown", when[32], cmd[300] = "";
    time_t now = time(NULL);
    struct tm tm;
    if (gethostname(host, sizeof(host) - 1) < 0) snprintf(host, sizeof(host), "unknown");
    host[sizeof(host) - 1] = '\0';
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
    int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        ssize_t n = read(fd, cmd, sizeof(cmd) - 1);
        close(fd);
        for (ssize_t i = 0; i < n - 1; i++)
            if (cmd[i] == '\0') cmd[i] = ' ';
        cmd[n > 0 ? n : 0] = '\0';
    }
    snprintf(buf, size, "%ld on %s, since %s: %s\n", (long)getpid(), host, when, cmd[0] ? cmd : "mergelab");
}

static int lock_dir(int *fd, const char *dir, int shared) {
    char path[4096], who[700];
    int how = shared ? LOCK_SH : LOCK_EX;
    int error, f;
    *fd = -1;
    if ((error = ml_fs_mkdir_p(dir)) < 0) return error;
    snprintf(path, sizeof(path), "%s/.lock", dir);
    if ((f = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0644)) < 0)
        return ml_error_set(errno == ELOOP ? ML_EINVALID : ML_EOS, "cannot open '%s': %s", path,
                            errno == ELOOP ? "it is a symbolic link" : strerror(errno));
    struct stat st;
    if (fstat(f, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(f);
        return ml_error_set(ML_EINVALID, "cannot lock '%s': it is not a regular file", path);
    }
    if (flock(f, how | LOCK_NB) < 0 && errno == EWOULDBLOCK && holder_gone(f)) {
        /* the run that took the lock is dead, and the --jobs workers it
         * forked (which share its lock) are dying with it: a rerun right
         * after a kill -9 waits for them instead of failing */
        for (int i = 0; i < 500 && flock(f, how | LOCK_NB) < 0 && errno == EWOULDBLOCK; i++) usleep(10000);
    }
    if (flock(f, how | LOCK_NB) < 0) {
        int e = errno;
        holder_text(f, who, sizeof(who));
        close(f);
        if (e == EWOULDBLOCK)
            return ml_error_set(ML_EINVALID, "%s is being written by another mergelab run (%s); wait for it to "
                                "finish, or give this run another -o DIR", dir, who);
        return ml_error_set(ML_EOS, "cannot lock '%s': %s", path, strerror(e));
    }
    /* the holder, for the message another run prints (sharers leave it: they are many) */
    holder_line(who, sizeof(who));
    if (!shared && (ftruncate(f, 0) < 0 || pwrite(f, who, strlen(who), 0) < 0)) { /* the lock holds regardless */ }
    *fd = f;
    return 0;
}

int ml_store_lock(int *fd, const char *dir) { return lock_dir(fd, dir, 0); }
int ml_store_lock_shared(int *fd, const char *dir) { return lock_dir(fd, dir, 1); }

void ml_store_unlock(int fd) {
    if (fd >= 0) close(fd);
}

int ml_store_sweep_temps(const char *dir, int any_writer) {
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    if (!d) return 0;
    while ((e = readdir(d))) {
        const char *t = strstr(e->d_name, ".tmp.");
        if (!t) continue;
        char *end;
        long pid = strtol(t + 5, &end, 10);
        if ((*end && *end != '.') || pid <= 0) continue;
        if (pid == (long)getpid()) continue;
        if (!any_writer && (kill((pid_t)pid, 0) == 0 || errno != ESRCH)) continue;
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        if (unlink(path) == 0) n++;
    }
    closedir(d);
    return n;
}

const char *ml_store_root(void) {
    const char *e = getenv("MERGELAB_RESULTS");
    return e && *e ? e : ML_STORE_DEFAULT_ROOT;
}
