/*
 * store/store.h: where results live, like asv's results folder:
 *   ROOT/<machine>/<commit>/<suite>.json        the suite's results
 *   ROOT/<machine>/<commit>/<suite>.cells/      one file per finished cell
 *   ROOT/cache/                                 trained phases (cache.h)
 * <machine> is $MERGELAB_MACHINE or the host name; <commit> is the 40-hex
 * commit of the source tree, "<commit>-dirty-<12 hex of the diff>" for
 * uncommitted changes, "no-git" outside a repository.
 * Owns: those names, the run lock, sweeping temp files of dead writers.
 * Not here: the documents' contents (results.h).
 */
#ifndef ML_STORE_STORE_H
#define ML_STORE_STORE_H

#include <cjson/cJSON.h>
#include <stddef.h>

#define ML_STORE_DEFAULT_ROOT "results"
/* $MERGELAB_RESULTS when set and not empty, else ML_STORE_DEFAULT_ROOT. */
const char *ml_store_root(void);

/* The machine name: $MERGELAB_MACHINE, else the host name, with anything
 * but [A-Za-z0-9._-] replaced by '_'. */
void ml_store_machine(char *buf, size_t size);
/* The commit folder name from a provenance object (ml_provenance_collect). */
void ml_store_commit_dir(char *buf, size_t size, const cJSON *prov);
/* A cell's file name: its name with '/' and other unsafe bytes as '_'. */
void ml_store_cell_file(char *buf, size_t size, const char *dir, const char *suite, const char *cell);

/* Takes DIR/.lock for this process (flock, so a killed run never leaves it
 * held). ML_EINVALID "DIR is being written by another mergelab run (pid N)"
 * when someone else holds it. *fd is closed by ml_store_unlock. */
int ml_store_lock(int *fd, const char *dir);
/* The same lock shared: shards and Slurm tasks of one suite write one
 * folder together (their jobs' outputs never collide), and a run of its
 * own is kept out while any of them works, as they are while it does. */
int ml_store_lock_shared(int *fd, const char *dir);
void ml_store_unlock(int fd);
/* Removes "*.tmp.PID.N" files in dir (left by a kill -9 between write and
 * rename): all of them when any_writer (the caller holds the folder's lock,
 * so no live run can be writing there; a killed worker may linger as a
 * zombie whose pid still answers), else only those whose writer PID no
 * longer exists (a shared folder such as the cache). Returns how many. */
int ml_store_sweep_temps(const char *dir, int any_writer);

#endif
