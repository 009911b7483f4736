/*
 * core/fault.c: fault injection (fault.h). The counters are plain globals:
 * a walk runs with --jobs 1, where allocations and writes happen in one
 * order on one thread, so "the Nth" names the same call on every run.
 */
#include "core/fault.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_SITES = 4096 };

static int mode;                 /* 0 off, 1 alloc=N, 2 site=K, 3 io=N, 4 crash=HASH */
static char crash_hash[65];
static long target, allocs, ios;
static int io_errno;
static const void *sites[MAX_SITES];
static int nsites;
static const char *log_path;
static long failures;
static int tracking;             /* counting at all: a fault or a log was asked for */

static void write_log(void) {
    FILE *f = log_path ? fopen(log_path, "w") : NULL;
    if (!f) return;
    fprintf(f, "allocs=%ld sites=%d io=%ld\n", allocs, nsites, ios);
    fclose(f);
}

/* cJSON's allocations count (and fail) like ours */
static void *hook_malloc(size_t n) {
    if (ml_fault_alloc(__builtin_return_address(0))) {
        ml_alloc_failed();
        return NULL;
    }
    void *p = malloc(n);
    if (!p) ml_alloc_failed();
    return p;
}

void ml_fault_init(void) {
    const char *f = getenv("MERGELAB_FAULT");
    log_path = getenv("MERGELAB_FAULT_LOG");
    cJSON_Hooks hooks = { hook_malloc, free };
    cJSON_InitHooks(&hooks);
    if (log_path && *log_path) {
        tracking = 1;
        atexit(write_log);
    }
    if (!f || !*f) return;
    tracking = 1;
    char err[16] = "";
    if (sscanf(f, "alloc=%ld", &target) == 1) mode = 1;
    else if (sscanf(f, "site=%ld", &target) == 1) mode = 2;
    else if (sscanf(f, "crash=%64[0-9a-f]", crash_hash) == 1) mode = 4;
    else if (sscanf(f, "io=%ld:%15s", &target, err) >= 1) {
        mode = 3;
        io_errno = !strcmp(err, "EIO") ? EIO : ENOSPC;
    }
}

int ml_fault_crash(const char *job_hash) {
    return mode == 4 && crash_hash[0] && !strncmp(job_hash, crash_hash, strlen(crash_hash));
}

int ml_fault_alloc(const void *site) {
    if (!tracking) return 0;
    allocs++;
    int known = 0, k = 0;
    for (; k < nsites && !known; k++) known = sites[k] == site;
    if (!known && nsites < MAX_SITES) sites[k = nsites++] = site;
    else k--;
    if (mode == 1) return allocs == target;
    if (mode == 2) return !known && k + 1 == target;
    return 0;
}

int ml_fault_io(const char *op) {
    (void)op;
    if (!tracking) return 0;
    ios++;
    return mode == 3 && ios == target ? io_errno : 0;
}

long ml_alloc_failures(void) { return failures; }
void ml_alloc_failed(void) { failures++; }
