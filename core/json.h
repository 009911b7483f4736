/*
 * core/json.h: checks on parsed JSON that cJSON does not make.
 * Owns: refusing an object that names a key twice. cJSON keeps every copy
 *       and a lookup returns the first, so a reader that walks the object
 *       and one that looks keys up would see different documents.
 * Not here: parsing (cJSON), what any document means (suite.c, results.c).
 */
#ifndef ML_CORE_JSON_H
#define ML_CORE_JSON_H

#include <cjson/cJSON.h>

/* 0 when no object in root repeats a key. Otherwise returns code and sets
 * "FILE: $.cells[0].metrics (cell "a"): key "m" appears 2 times" (the
 * cell's name is given for objects inside an array element that has a
 * string "name"). Runs in O(n log n) over the keys of each object. */
int ml_json_check_unique_keys(const cJSON *root, const char *file, int code);

#endif
