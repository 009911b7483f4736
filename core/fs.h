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

/* The largest file ml_fs_read_all reads: suites, results and records are
 * far smaller; something bigger is a mistake, not an input. */
#define ML_FS_READ_MAX ((size_t)1 << 30)

/* ML_EINVALID when path is NULL, empty or only white space ("-o $UNSET"
 * must not mean "/"); what names the path in the message. */
int ml_fs_check_path(const char *path, const char *what);
/* Writes buf to path so that a reader sees either the old file or the whole
 * new one: "path.tmp.PID", write, fsync, close, rename, fsync(dir). On any
 * failure the temp file is unlinked and the old file is untouched.
 * What is at path decides: nothing or a regular file is replaced that way;
 * a symbolic link to a regular file replaces the file it points to (the
 * link stays a link); a character device (/dev/null, a terminal) or a
 * FIFO/pipe is written in place, as a shell redirection would (a FIFO
 * nobody reads is ML_EINVALID, never a hang); anything else (a directory,
 * a block device, a socket, a dangling link, a loop of links) is refused
 * with ML_EINVALID and left as it is. */
int ml_fs_write_atomic(const char *path, const void *buf, size_t len);
/* Opens a regular file of at most max bytes for reading: *fd, *size. A
 * FIFO, device, socket or directory is refused (ML_EINVALID) without
 * blocking; ML_ENOTFOUND when it does not exist. */
int ml_fs_open_read(int *fd, size_t *size, const char *path, size_t max);
/* Reads a whole regular file (ml_fs_open_read's rules); *out is
 * NUL-terminated (not counted in *len) and is the caller's to free(). */
int ml_fs_read_max(char **out, size_t *len, const char *path, size_t max);
int ml_fs_read_all(char **out, size_t *len, const char *path);   /* max ML_FS_READ_MAX */
/* "a FIFO", "a directory", ... for a stat mode, in messages. */
const char *ml_fs_kind(unsigned mode);
/* mkdir -p with mode 0755. */
int ml_fs_mkdir_p(const char *dir);
int ml_fs_exists(const char *path);
/* Removes what interrupted writers of path left beside it: "NAME.tmp.PID.N"
 * temp files and "NAME.tmp.PID" staging folders whose PID is dead (a kill,
 * a full disk). Every atomic write calls it, so every command cleans up. */
void ml_fs_sweep_stale(const char *path);
/* rm -rf path, never following a link (a link inside is removed itself). */
int ml_fs_remove_tree(const char *path);
/* Copies src to dst atomically. */
int ml_fs_copy(const char *dst, const char *src);

#endif
