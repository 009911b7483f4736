/*
 * cli/scale.h: what `run --shard`, `gather` and `run-job` do beyond a run
 * (cli/run.c runs all of them through one scheduler), and `mergelab slurm`.
 * Owns: bringing other stores' records into this one, which jobs a shard
 *       or a single job leaves to run, what gather refuses to make up, the
 *       sbatch scripts. Prints its own lines; returns exit codes.
 * Not here: the jobs (sched/jobs.h), the shares and levels of the graph
 *       (sched/graph.h), the scheduler (sched/sched.h).
 */
#ifndef ML_CLI_SCALE_H
#define ML_CLI_SCALE_H

#include "sched/jobs.h"

/* Copies into store what each of from[0..nfrom) holds and store does not:
 * job records (jobs/HASH.json), model cache entries (KEY.bin). A from that is a
 * run folder (it has a cache/ folder) gives its cache/ and its cell files
 * (into dir). 0 or a negative ML_E*. */
int ml_cli_import_stores(const char *store, const char *dir, const ml_cellset *cs, const char *const *from, int nfrom,
                         int quiet);
/* A shard: done[j] = 1 for every job share k (1-based) of n neither owns
 * nor needs first. EXIT_OK. */
int ml_cli_shard_mask(const ml_graph *g, int k, int n, int *done, int quiet);
/* gather: every job but results, suite and report must be done, or its
 * cell already recorded as failed (its jobs are then marked done); else
 * the missing jobs are listed and EXIT_FAILED. */
int ml_cli_gather_check(const ml_jobs_ctx *x, int *done);
/* run-job: job HASH (a unique prefix of 6 or more hex digits) alone is to
 * run; done[] marks every other job done. EXIT_OK (also when the job is
 * done already, or its cell has failed: nothing to run), EXIT_USAGE (no
 * such job, a report without --report), EXIT_FAILED (an input is not
 * done). *j gets the job (-1 when there is nothing to run). */
int ml_cli_job_mask(const ml_jobs_ctx *x, const char *hash, int *done, int *j, int quiet);

int ml_cmd_slurm(int argc, char **argv);

#endif
