/*
 * sched/mpi.h: the scheduler's MPI executor (`mpirun -np N mergelab run
 * SUITE --mpi`, a build with `make MPI=1`). Rank 0 runs the scheduler
 * (sched.h) as everywhere else and hands each ready job to a free rank;
 * ranks 1..N-1 serve: each job in a forked child of the rank, so a job
 * that crashes fails only itself (its cell is recorded as failed, with the
 * signal and the rank's host) and the rank goes on. Every rank builds the
 * same graph from the same suite and arguments; a job travels as its index
 * and its hash, which the rank checks against its own graph.
 * Outputs go where a local run puts them (the run folder and the store),
 * so the folder must be one every rank sees (a shared filesystem; on one
 * machine, any folder).
 * When a rank's own process dies, mpirun ends the whole job (its default:
 * the run stops, with every finished job kept). Running the same mpirun
 * command again resumes: finished jobs are not run again, and the leases
 * of the jobs that were running lapse (at once on the same host, where a
 * dead holder's pid is seen to be gone; after the lease's ttl elsewhere).
 * Owns: MPI_Init/Finalize, the messages, the ranks' loop, the record of
 *       every rank's host and BLAS threads.
 * Not here: what a job does (the caller's run), the scheduling (sched.c).
 * In a build without MPI every function returns ML_EINVALID saying how to
 * build with it.
 */
#ifndef ML_SCHED_MPI_H
#define ML_SCHED_MPI_H

#include "sched/sched.h"

#include <cjson/cJSON.h>

/* 1 in a build with MPI (make MPI=1). */
int ml_mpi_available(void);
/* MPI_Init: *rank and *size. */
int ml_mpi_init(int *argc, char ***argv, int *rank, int *size);
void ml_mpi_finalize(void);
/* Rank 0's text in buf to every rank (the run folder and the store, which
 * rank 0 decides). */
int ml_mpi_share(char *buf, int size);
/* Rank 0: runs g on ranks 1..size-1 (ml_sched_run_on with the MPI
 * executor; ops->run runs only the local jobs, here). prov (may be NULL)
 * gets "mpi": {"ranks": N, "workers": [{"rank", "host", "blas_threads",
 * "cores"}]} before any job starts; say (may be NULL) is told once when a
 * rank may use fewer cores than the suite's BLAS threads (mpirun binds
 * ranks to cores: slower, same results). Tells every rank to stop before
 * returning, whatever happened. */
int ml_mpi_run(const ml_graph *g, const int *done, const ml_sched_ops *ops, cJSON *prov,
               void (*say)(void *ctx, const char *line));
/* Rank 0, when it cannot run the graph after all: every rank stops. */
void ml_mpi_stop(void);
/* Ranks 1..: serves jobs of g with ops->run (in_worker 1, in a forked
 * child) until rank 0 says stop (g NULL: only waits for that); a job
 * whose child died is recorded by ops->fail (its cell's file says why);
 * threads: this rank's BLAS threads (set here), reported to rank 0;
 * say(ctx, line) (may be NULL) gets what the rank has to tell (a job that
 * died, a suite it could not load). */
int ml_mpi_serve(const ml_graph *g, const ml_sched_ops *ops, int threads, void (*say)(void *ctx, const char *line));

#endif
