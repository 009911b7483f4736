/*
 * store/results.h: the results documents and their storage.
 * Owns: the schema (schema_version 2), cell files, atomic writing, strict
 * loading, reading schema 1 files (one cell), the volatile keys.
 *
 * A suite's results file (results/<machine>/<commit>/<suite>.json):
 *   schema_version 2, suite {name, file, sha256, description},
 *   provenance {command, started, finished, wall_seconds, cpu_seconds,
 *               repository, build, blas, host, libraries, seeds[], data[],
 *               cells_reused},
 *   matrix {axis: [values]} | null, gate [rules], complete (bool),
 *   missing [cell names not run yet],
 *   cells [ {name, group, id, params {axis: value}, status "ok"|"failed",
 *            error (failed), wall_seconds, cpu_seconds, started, build,
 *            models[], metrics {name: number}, cka {...}, timing {...},
 *            data[], seed, threads, ...} ]
 * A cell file (<suite>.cells/<cell name>.json) is one cell object plus
 * schema_version and suite (the suite's name), written when the cell ends.
 * Not here: comparing documents (gate.c, compare.c), drawing (reports/).
 */
#ifndef ML_STORE_RESULTS_H
#define ML_STORE_RESULTS_H

#include "suite/suite.h"

#include <cjson/cJSON.h>

#define ML_RESULTS_SCHEMA_VERSION 2

/* Pretty-prints doc and writes it atomically to path (creating its folder). */
int ml_results_write(const char *path, const cJSON *doc);
/* Reads and checks a results (or baseline) file: valid JSON, a known
 * schema_version (a schema 1 file becomes one cell named "default"), a
 * "cells" array whose cells have a name, a status and a "metrics" object of
 * numbers, a "gate" array of rules. ML_EDATA names the file, the JSON path
 * and what is wrong; ML_ENOTFOUND when it does not exist. */
int ml_results_load(cJSON **out, const char *path);
/* The same checks on a document in memory; name stands for the file in
 * errors. (The fuzz target, tests/fuzz/, enters here.) */
int ml_results_parse(cJSON **out, const char *name, const char *src, size_t len);
/* Reads a cell file; ML_EDATA when it is damaged or not a cell. */
int ml_results_load_cell(cJSON **out, const char *path);
/* The keys that change from run to run of the same suite (times, command,
 * host, what was reused): removed so two runs compare byte for byte. */
void ml_results_strip_volatile(cJSON *doc);
/* doc["gate"] = the suite's rules, so a results file gates itself. */
void ml_results_add_gate(cJSON *doc, const ml_suite *s);
/* The numeric platform doc was computed on (kernels/platform.h). With full
 * 0 the part that decides the bits, for comparing two documents: "OpenBLAS
 * 0.3.21 Haswell, 2 threads" (files from before provenance.platform give
 * the same from provenance.blas and libraries); with full 1 the line
 * `show` prints, with the choice, the ISA of mergelab's own loops and the
 * C library. Returns 1, or 0 with "unknown (...)" when nothing is recorded. */
int ml_results_platform(char *buf, size_t size, const cJSON *doc, int full);
/* Convenience for readers: the first cell whose status is "ok", or NULL. */
const cJSON *ml_results_first_ok(const cJSON *doc);

/* A cell file's or part record's checksum: "sha256" of its compact JSON
 * text without that key. seal adds (or replaces) it; seal_check is
 * ML_EDATA when it is missing or does not match (a byte changed since). */
int ml_results_seal(cJSON *doc);
int ml_results_seal_check(cJSON *doc, const char *path);

#endif
