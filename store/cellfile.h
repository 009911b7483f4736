/*
 * store/cellfile.h: the documents of a run folder DIR (store.h), as the
 * jobs of a run write and read them:
 *   DIR/<suite>.cells/<cell>.json                 a cell's file
 *   DIR/<suite>.json                              the suite's results
 * and the jobs' records in the shared store (STORE/jobs/<hash>.json).
 * Owns: a cell's file from its run's result or its failure, writing it,
 *       loading a finished cell with its identity checked; the store's
 *       records (parts of cells and finished cells: their names, writing,
 *       loading, adopting one into a run folder) and a cell's file put
 *       together from parts; the suite's results document from every cell
 *       file on disk, without its findings.
 * Not here: running anything (study/runner.h), the findings (analysis/,
 *       added by the suite job, sched/jobs.c), the schema and the atomic
 *       write (results.h), folder and file names of the store (store.h).
 * Nothing here prints: what a caller may want to tell (a damaged file that
 * counts as not there) comes back as text.
 */
#ifndef ML_STORE_CELLFILE_H
#define ML_STORE_CELLFILE_H

#include "suite/cells.h"

#include <cjson/cJSON.h>
#include <stddef.h>

/* The file of cell i from the result of its run (run, consumed; may be
 * NULL), or its failure when error < 0 (the reason is ml_error_last()'s
 * message, so call this before anything sets another error). started,
 * wall and cpu: when the cell started and the seconds it took. */
cJSON *ml_cellfile_doc(const ml_cellset *cs, int i, cJSON *run, int error, const char *started, double wall,
                       double cpu);
/* Writes cell (consumed) atomically as cell i's file in dir. */
int ml_cellfile_write(const ml_cellset *cs, int i, const char *dir, cJSON *cell);
/* Cell i's file in dir when it holds a result of cell i's identity (and,
 * with want_ok, one whose status is "ok"): returns 1 and, when out is not
 * NULL, the document (the caller frees). Else 0: no file, another identity,
 * a failed cell with want_ok, or a damaged file; for a damaged file why
 * (may be NULL) gets the one-line reason, else "". Never an error: a file
 * that cannot be read is a cell to run again. */
int ml_cellfile_load_done(cJSON **out, const ml_cellset *cs, int i, const char *dir, int want_ok, char *why,
                          size_t why_size);

/* The store (the model cache's folder, shared by runs, hosts and shards)
 * keeps every job's record by the job's hash (sched/graph.h):
 *   STORE/jobs/<hash>.json   a finished part of a cell (its training, one
 *                            point), or a finished cell (hash = its id)
 * so a run in another folder, on another host or in another shard finds
 * what was already computed. Its path; "" when it does not fit. */
void ml_cellfile_record_path(char *buf, size_t size, const char *store, const char *hash);
/* Writes the record {job, id, started, wall_seconds, cpu_seconds, result}
 * of job hash, a finished part of cell i (result consumed). */
int ml_cellfile_part_write(const char *store, const char *hash, const ml_cellset *cs, int i, cJSON *result,
                           const char *started, double wall, double cpu);
/* The record of job hash, when it is there and sealed: 1 and *out (the
 * caller frees; out may be NULL), else 0. Whichever cell wrote it: a
 * training's hash is its specialists' and direct fine-tune's keys, shared
 * by every cell with that training, and a point's hash includes its cell's
 * id; so a record is never tied to the cell that happened to make it. */
int ml_cellfile_part_load(cJSON **out, const char *store, const char *hash);
/* Keeps a copy of cell i's finished file (an "ok" one; a failed cell is
 * not kept: it runs again) in the store under the cell's id. 0 or ML_E*. */
int ml_cellfile_share(const char *store, const ml_cellset *cs, int i, const cJSON *cell);
/* When the store holds a finished cell of cell i's identity, writes it as
 * cell i's file in dir, with this suite's names: 1; 0 when it does not.
 * With dir NULL it only says whether it is there. */
int ml_cellfile_adopt(const char *store, const ml_cellset *cs, int i, const char *dir);
/* Cell i's file from its parts' records (train, pts[0..npoints)) and run,
 * the result of the call that put them together (consumed; error as for
 * ml_cellfile_doc), which took wall and cpu seconds: the cell's time is its
 * parts' time, its timing lists them. */
cJSON *ml_cellfile_from_parts(const ml_cellset *cs, int i, const cJSON *train, const cJSON *const *pts, cJSON *run,
                              int error, double wall, double cpu);

/* DIR/<suite>.json; ML_EINVALID when it does not fit in size. */
int ml_cellfile_suite_path(char *buf, size_t size, const char *dir, const ml_cellset *cs);
/* The suite's results document (results.h) from prov (consumed: the run's
 * provenance, to which the threads, seeds and data are added) and every
 * cell file in dir, finished or failed; a cell without a usable file is
 * listed as missing and makes the document incomplete. note (may be NULL)
 * receives the reason a cell file was damaged. ML_ENOMEM. */
int ml_cellfile_suite(cJSON **out, const ml_cellset *cs, cJSON *prov, const char *dir,
                      void (*note)(void *ctx, const char *why), void *note_ctx);

#endif
