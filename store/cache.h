/*
 * store/cache.h: the model cache. A trained phase (the base, the two
 * specialists with their CKA curves, the direct fine-tune) is stored under
 * a key that hashes everything it depends on (cells.h), so a cell that
 * shares that phase with an earlier one, or a rerun after an interruption,
 * loads it instead of training it again, with bit-identical results.
 * Owns: the entry format (magic, counts, float parameters, double
 *       measurements, SHA-256 of all of it), atomic writes, and one lock per
 *       key so concurrent jobs needing the same phase train it once.
 * Not here: what the keys hash (cells.c), which phases are cached (study/protocol.c).
 */
#ifndef ML_STORE_CACHE_H
#define ML_STORE_CACHE_H

#include <stddef.h>

/* Loads dir/KEY.bin when it exists and holds exactly nparams floats and
 * nextra doubles with a valid checksum: *hit = 1. A missing entry is a
 * miss; so is a short or damaged one, or something that is not a regular
 * file (a directory, a FIFO, a link to a device: moved out of the way,
 * never read), and then note (may be NULL) says so in one line for the
 * caller to show. The entry is simply recomputed. */
int ml_cache_get(int *hit, char *note, size_t note_size, const char *dir, const char *key, float *params,
                 size_t nparams, double *extra, size_t nextra);
/* Writes dir/KEY.bin atomically (creating dir). */
int ml_cache_put(const char *dir, const char *key, const float *params, size_t nparams, const double *extra,
                 size_t nextra);
/* Blocks until this process holds dir/KEY.lock (flock, released by the
 * kernel if the process dies); *fd is -1 when dir is NULL. */
int ml_cache_lock(int *fd, const char *dir, const char *key);
void ml_cache_unlock(int fd);

#endif
