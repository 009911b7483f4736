/*
 * tests/browser.c: headless Chromium runs for the tests (see browser.h).
 * Chromium is started with fork/exec (no shell), in a process group of its own so
 * that a run past its time limit is killed with every helper process it spawned.
 */
#include "tests/browser.h"
#include "tests/util.h"
#include "core/fs.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>

#ifndef BROWSER_TIMEOUT_S
#define BROWSER_TIMEOUT_S 60   /* seconds per Chromium run */
#endif
#define BROWSER_MAX_ARGS  24

/* ---- finding Chromium ------------------------------------------------------------ */

static int is_executable(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

int ml_t_chromium_path(char *buf, size_t n) {
    static const char *const names[] = { "chromium", "chromium-browser" };
    const char *env = getenv("ML_CHROMIUM");
    if (env && *env) {
        if (!is_executable(env) || strlen(env) >= n) return -1;
        snprintf(buf, n, "%s", env);
        return 0;
    }
    const char *path = getenv("PATH");
    if (!path || !*path) path = "/usr/local/bin:/usr/bin:/bin";
    for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
        for (const char *p = path; *p;) {
            const char *end = strchr(p, ':');
            size_t len = end ? (size_t)(end - p) : strlen(p);
            char cand[PATH_MAX];
            if (len > 0 && len + 1 + strlen(names[k]) < sizeof(cand)) {
                snprintf(cand, sizeof(cand), "%.*s/%s", (int)len, p, names[k]);
                if (is_executable(cand) && strlen(cand) < n) {
                    snprintf(buf, n, "%s", cand);
                    return 0;
                }
            }
            p += len + (end ? 1 : 0);
        }
    }
    return -1;
}

/* ---- one Chromium run ------------------------------------------------------------ */

/* file:// URL of an existing file's absolute path; bytes outside [A-Za-z0-9-._~/]
 * are percent-encoded. 0 or -1. */
static int file_url(char *url, size_t n, const char *path) {
    char abs[PATH_MAX];
    size_t o;
    if (!realpath(path, abs)) {
        fprintf(stderr, "    browser: %s: %s\n", path, strerror(errno));
        return -1;
    }
    o = (size_t)snprintf(url, n, "file://");
    for (const unsigned char *s = (const unsigned char *)abs; *s; s++) {
        int plain = (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
                    strchr("-._~/", *s) != NULL;
        if (o + 4 >= n) return -1;
        o += (size_t)(plain ? snprintf(url + o, n - o, "%c", *s) : snprintf(url + o, n - o, "%%%02X", *s));
    }
    return 0;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Prints the command and the tail of Chromium's stderr, without the lines about
 * the missing D-Bus daemon that every headless run writes. */
static void print_failure(const char *why, char *const *argv, const char *err) {
    fprintf(stderr, "    chromium %s:", why);
    for (int i = 0; argv[i]; i++) fprintf(stderr, " %s", argv[i]);
    fprintf(stderr, "\n    its stderr (last lines, D-Bus noise left out):\n");
    if (!err) return;
    size_t len = strlen(err), start = len > 4000 ? len - 4000 : 0;
    for (const char *p = err + start; *p;) {
        const char *nl = strchr(p, '\n');
        size_t l = nl ? (size_t)(nl - p) : strlen(p);
        if (l > 0 && !memmem(p, l, "dbus/bus.cc", 11)) fprintf(stderr, "      %.*s\n", (int)l, p);
        p += l + (nl ? 1 : 0);
    }
}

/* Runs Chromium on html_path with the common flags plus `mode` (NULL-terminated);
 * its stdout goes to *out when out is not NULL. 0 when it exited with status 0
 * within the time limit, else -1 (and the failure printed). */
static int browser__run(char **out, const char *html_path, const char *const *mode) {
    char bin[PATH_MAX], url[3 * PATH_MAX + 16], dir[256], profile[320], out_path[320], err_path[320];
    char profile_flag[340];
    char *argv[BROWSER_MAX_ARGS];
    char *err = NULL;
    int argc = 0, status = 0, result = -1;
    const char *why = NULL;
    char why_buf[64];
    pid_t pid;

    if (out) *out = NULL;
    if (ml_t_chromium_path(bin, sizeof(bin)) < 0) {
        fprintf(stderr, "    browser: chromium not found (apt-get install chromium, or set ML_CHROMIUM)\n");
        return -1;
    }
    if (file_url(url, sizeof(url), html_path) < 0) return -1;
    if (ml_t_tmpdir(dir, sizeof(dir), "chromium") < 0) {
        fprintf(stderr, "    browser: mkdtemp: %s\n", strerror(errno));
        return -1;
    }
    snprintf(profile, sizeof(profile), "%s/profile", dir);
    snprintf(out_path, sizeof(out_path), "%s/stdout", dir);
    snprintf(err_path, sizeof(err_path), "%s/stderr", dir);
    snprintf(profile_flag, sizeof(profile_flag), "--user-data-dir=%s", profile);

    argv[argc++] = bin;
    static const char *const common[] = {
        "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
        /* no network: nothing in the background, and no host name resolves, so a
         * page that still names a remote resource cannot load it */
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--host-resolver-rules=MAP * ~NOTFOUND",
        "--virtual-time-budget=5000",   /* load handlers finish before the dump/screenshot */
        "--hide-scrollbars",
    };
    for (size_t i = 0; i < sizeof(common) / sizeof(common[0]); i++) argv[argc++] = (char *)common[i];
    argv[argc++] = profile_flag;
    for (int i = 0; mode[i]; i++) {
        if (argc >= BROWSER_MAX_ARGS - 2) goto cleanup;
        argv[argc++] = (char *)mode[i];
    }
    argv[argc++] = url;
    argv[argc] = NULL;

    fflush(stdout);
    fflush(stderr);
    pid = fork();
    if (pid < 0) {
        fprintf(stderr, "    browser: fork: %s\n", strerror(errno));
        goto cleanup;
    }
    if (pid == 0) {
        setpgid(0, 0);
        int in = open("/dev/null", O_RDONLY);
        int o = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int e = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (in < 0 || o < 0 || e < 0 || dup2(in, 0) < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0) _exit(126);
        execv(bin, argv);
        _exit(127);
    }
    setpgid(pid, pid);   /* also here, so the group exists before any kill below */

    /* Waits without reaping (WNOWAIT): while the child is a zombie its pid, and so
     * its group id, cannot be reused, and the group kill below hits only its helpers. */
    double deadline = now_s() + BROWSER_TIMEOUT_S;
    for (;;) {
        siginfo_t si;
        memset(&si, 0, sizeof(si));
        if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0 && errno != EINTR) {
            why = "could not be waited for";
            break;
        }
        if (si.si_pid == pid) break;
        if (now_s() > deadline) {
            snprintf(why_buf, sizeof(why_buf), "timed out after %d s (killed)", BROWSER_TIMEOUT_S);
            why = why_buf;
            break;
        }
        struct timespec nap = { 0, 20 * 1000 * 1000 };
        nanosleep(&nap, NULL);
    }
    /* Helpers still alive after the browser process (or all of them, past the time
     * limit) are ended before their profile folder is removed. */
    kill(-pid, SIGKILL);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    if (!why) {
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0) result = 0;
        else if (WIFEXITED(status)) snprintf(why_buf, sizeof(why_buf), "exited with status %d", WEXITSTATUS(status));
        else snprintf(why_buf, sizeof(why_buf), "was killed by signal %d", WTERMSIG(status));
        if (result < 0) why = why_buf;
    }
    if (result == 0 && out && ml_fs_read_all(out, NULL, out_path) < 0) {
        why = "wrote no stdout";
        result = -1;
    }
    if (result < 0) {
        ml_fs_read_all(&err, NULL, err_path);
        print_failure(why ? why : "failed", argv, err);
    }
cleanup:
    free(err);
    ml_t_rmrf(dir);
    return result;
}

int ml_t_browser_dump_dom(char **dom, const char *html_path) {
    static const char *const mode[] = { "--dump-dom", NULL };
    *dom = NULL;
    if (browser__run(dom, html_path, mode) < 0) return -1;
    if (!*dom || !**dom) {
        fprintf(stderr, "    browser: --dump-dom of %s printed nothing\n", html_path);
        free(*dom);
        *dom = NULL;
        return -1;
    }
    return 0;
}

static int browser__screenshot(const char *png_out, const char *html_path, int w, int h, int dark) {
    char size[64], shot[PATH_MAX + 16];
    if (w <= 0 || h <= 0) return -1;
    snprintf(size, sizeof(size), "--window-size=%d,%d", w, h);
    snprintf(shot, sizeof(shot), "--screenshot=%s", png_out);
    /* Both ways of asking for dark: the native theme (which Blink follows) and
     * Blink's own preference setting (0 is dark); Chromium 156 honours either. */
    const char *light[] = { size, shot, NULL };
    const char *darkm[] = { size, shot, "--force-dark-mode", "--blink-settings=preferredColorScheme=0", NULL };
    unlink(png_out);
    if (browser__run(NULL, html_path, dark ? darkm : light) < 0) return -1;
    if (!ml_fs_exists(png_out)) {
        fprintf(stderr, "    browser: chromium exited 0 but wrote no %s\n", png_out);
        return -1;
    }
    return 0;
}

int ml_t_browser_screenshot(const char *png_out, const char *html_path, int w, int h) {
    return browser__screenshot(png_out, html_path, w, h, 0);
}

int ml_t_browser_screenshot_dark(const char *png_out, const char *html_path, int w, int h) {
    return browser__screenshot(png_out, html_path, w, h, 1);
}
