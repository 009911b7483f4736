/*
 * core/version.h: what this binary was built from (stamped by the
 * Makefile into build/ml_build_stamp.h): commit (with "-dirty"), compiler, flags, and a hash of
 * the source files it was compiled from.
 */
#ifndef ML_CORE_VERSION_H
#define ML_CORE_VERSION_H

extern const char ml_build_commit[];
extern const char ml_build_cc[];
extern const char ml_build_cflags[];
/* SHA-256 of the library's source files (every folder below cli/) */
extern const char ml_build_source[];

#endif
