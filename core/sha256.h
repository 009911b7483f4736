/*
 * core/sha256.h: SHA-256 (FIPS 180-4), streaming, for data and file hashes.
 * Not here: which files get hashed (data/, suite/ decide).
 */
#ifndef ML_CORE_SHA256_H
#define ML_CORE_SHA256_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint32_t h[8];
    uint64_t nbytes;
    uint8_t  block[64];
    size_t   used;
} ml_sha256;

void ml_sha256_init(ml_sha256 *s);
void ml_sha256_update(ml_sha256 *s, const void *data, size_t len);
void ml_sha256_final(ml_sha256 *s, uint8_t digest[32]);
/* One call: hex is 65 bytes (64 lowercase hex digits and a NUL). */
void ml_sha256_hex(char hex[65], const void *data, size_t len);
void ml_sha256_to_hex(char hex[65], const uint8_t digest[32]);
/* The largest file ml_sha256_file hashes (a data file); larger is refused. */
#define ML_SHA256_FILE_MAX ((size_t)1 << 34)
/* Hashes a whole regular file: ML_ENOTFOUND, ML_EINVALID (not a regular
 * file, or too large; never blocks on a FIFO or device), ML_EOS. */
int ml_sha256_file(char hex[65], const char *path);

#endif
