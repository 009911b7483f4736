/*
 * harness/results.h: the results document of one run and its storage.
 * Owns: the schema (schema_version 1), atomic writing, strict loading.
 * A results file is one JSON object:
 *   schema_version, suite {name, file, sha256, description},
 *   provenance {command, started, finished, wall_seconds, repository, build,
 *               blas, host, libraries, seed, data[]},
 *   models[], metrics {name: number}, gate[], cka {...}, timing {...}
 * Not here: comparing two documents (gate.c), drawing (reports/).
 */
#ifndef ML_HARNESS_RESULTS_H
#define ML_HARNESS_RESULTS_H

#include <cjson/cJSON.h>

#define ML_RESULTS_SCHEMA_VERSION 1

/* Pretty-prints doc and writes it atomically to path (creating its folder). */
int ml_results_write(const char *path, const cJSON *doc);
/* Reads and checks a results (or baseline) file: valid JSON, a known
 * schema_version, a "metrics" object of numbers, a "gate" array. ML_EDATA
 * names the file and what is wrong; ML_ENOTFOUND when it does not exist. */
int ml_results_load(cJSON **out, const char *path);
/* The keys that change from run to run of the same suite (times, command,
 * host): removed by ml_results_strip_volatile so two runs can be compared
 * byte for byte. */
void ml_results_strip_volatile(cJSON *doc);

#endif
