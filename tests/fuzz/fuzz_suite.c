/*
 * tests/fuzz/fuzz_suite.c: libFuzzer target over the suite parser: the
 * strict JSON parse with repeated-key refusal, every section's checks with
 * JSON-path errors, the matrix and findings specs (ml_suite_parse), and the
 * memory estimate of what parsed (ml_suite_memory). Seeds: every suite of
 * suites/ (tests/fuzz/corpus/suite/). Nothing touches the disk.
 */
#include "suite/suite.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *buf = malloc(size ? size : 1);   /* exactly size bytes: ASan sees a read past them */
    ml_suite *s = NULL;
    if (!buf) return 0;
    if (size) memcpy(buf, data, size);
    if (ml_suite_parse(&s, "fuzz-suite", buf, size) == 0 && s) (void)ml_suite_memory(s);
    ml_suite_free(s);
    free(buf);
    return 0;
}
