/*
 * core/fault.h: fault injection, for the tests that walk a failure over
 * every allocation and every write of a run (tests/test_faults.c). Off
 * unless MERGELAB_FAULT is set when ml_fault_init runs (the CLI's main):
 *   MERGELAB_FAULT=alloc=N     the Nth allocation fails (1-based)
 *   MERGELAB_FAULT=site=K      the first allocation made from the Kth
 *                              distinct call site fails
 *   MERGELAB_FAULT=io=N:ERRNO  the Nth write, fsync or rename of an atomic
 *                              write fails with ERRNO (ENOSPC or EIO)
 *   MERGELAB_FAULT=crash=HASH  a job whose hash starts with HASH dies of
 *                              SIGKILL where it runs (a worker, an MPI
 *                              rank's child), as a crash or the OOM killer
 *                              would end it
 *   MERGELAB_FAULT_LOG=FILE    at exit, "allocs=A sites=S io=I" (the counts
 *                              a walk needs) is written to FILE
 * Owns: the counters, the decision, and the count of allocations that
 *       failed (ml_alloc_failures), which writers of results check: a
 *       document built while an allocation failed may lack parts, so it is
 *       never written.
 * Not here: the allocation helpers (error.c) and atomic writes (fs.c) that ask.
 */
#ifndef ML_CORE_FAULT_H
#define ML_CORE_FAULT_H

#include <stddef.h>

/* Reads the environment once; installs counting allocation hooks in cJSON. */
void ml_fault_init(void);
/* 1 when the allocation at call site `site` must fail. Counts it. */
int ml_fault_alloc(const void *site);
/* 0, or the errno the I/O step `op` ("write", "fsync", "rename") must fail with. */
int ml_fault_io(const char *op);
/* 1 when the job of this hash must die (crash=HASH). */
int ml_fault_crash(const char *job_hash);
/* Allocations that failed in this process (injected or real). */
long ml_alloc_failures(void);
void ml_alloc_failed(void);

#endif
