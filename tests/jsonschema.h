/*
 * tests/jsonschema.h: a small JSON Schema (draft 2020-12 subset) validator
 * on cJSON, for checking suites/schema.json against the suite parser.
 * Owns: exactly the keywords that schema uses; any other keyword anywhere
 * in a schema is an error ("unsupported keyword X"), so a schema can never
 * silently rely on a check this validator skips. Not a general validator:
 * $ref reaches "#/$defs/NAME" only, patterns are POSIX EREs.
 */
#ifndef ML_TESTS_JSONSCHEMA_H
#define ML_TESTS_JSONSCHEMA_H

#include <cjson/cJSON.h>
#include <stddef.h>

/* 0 when instance is valid; otherwise 1 and err holds "JSONPATH: reason"
 * of the first failure. -1 on a broken schema (an unsupported keyword, a
 * keyword of the wrong shape, a $ref that does not resolve, a pattern that
 * does not compile, a $ref cycle); err then says what and where in the
 * schema. err may be NULL when errsize is 0. */
int ml_t_schema_validate(const cJSON *schema, const cJSON *instance, char *err, size_t errsize);

#endif
