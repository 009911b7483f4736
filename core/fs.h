/*
 * core/fs.h: file helpers every module shares.
 * Owns: atomic writes (temp file, fsync, rename, fsync dir), whole-file
 *       reads, mkdir -p, existence checks.
 * Not here: formats (results JSON, checkpoints) and what they mean.
 * Errors: 0 or ML_EOS/ML_ENOTFOUND/ML_ENOMEM with the path and errno text.
 */
#ifndef ML_CORE_FS_H
#define ML_CORE_FS_H

#include <stddef.h>

/* Writes buf to path so that a reader sees either the old file or the whole
 * new one: "path.tmp.PID", write, fsync, close, rename, fsync(dir). On any
 * failure the temp file is unlinked and the old file is untouched. */
int ml_fs_write_atomic(const char *path, const void *buf, size_t len);
/* Reads a whole file; *out is NUL-terminated (not counted in *len) and is
 * the caller's to free(). ML_ENOTFOUND when it does not exist. */
int ml_fs_read_all(char **out, size_t *len, const char *path);
/* mkdir -p with mode 0755. */
int ml_fs_mkdir_p(const char *dir);
int ml_fs_exists(const char *path);
/* Copies src to dst atomically. */
int ml_fs_copy(const char *dst, const char *src);

#endif
