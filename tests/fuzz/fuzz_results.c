/*
 * tests/fuzz/fuzz_results.c: libFuzzer target over the path a results file takes
 * through `mergelab check`: the reader (ml_results_parse) -> aggregate across seeds
 * (ml_agg_build) -> the gate against a baseline (ml_gate_check) -> the findings
 * (ml_findings_eval). Built and run by `make fuzz` (build-fuzz/fuzz_results); the
 * regression corpus is tests/fuzz/corpus/results/, the dictionary tests/fuzz/results.dict.
 *
 * Input format: two documents, a results document and a baseline document.
 *   - The input is split at its first NUL byte: the bytes before it are the
 *     results document, the bytes after it the baseline document.
 *   - Without a NUL byte the whole input is both documents (the results gated
 *     against themselves), so any plain JSON file is a usable seed.
 * Each document is copied into a buffer of exactly its length, with no
 * terminator, so AddressSanitizer sees any read past the length the reader was
 * given.
 *
 * Nothing is written to disk: the gate's table is printed into an in-memory
 * stream, and the JUnit/Markdown writers (which write files atomically) are not
 * called. Everything allocated is freed (the target runs under LeakSanitizer).
 */
#include "analysis/aggregate.h"
#include "analysis/findings.h"
#include "analysis/gate.h"
#include "store/results.h"

#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A private copy of len bytes (no terminator); NULL only when out of memory. */
static char *copy_exact(const uint8_t *src, size_t len) {
    char *p = malloc(len ? len : 1);
    if (p && len) memcpy(p, src, len);
    return p;
}

static int parse(cJSON **doc, const uint8_t *src, size_t len) {
    char *buf = copy_exact(src, len);
    int error;
    *doc = NULL;
    if (!buf) return -1;
    error = ml_results_parse(doc, "fuzz-results", buf, len);
    free(buf);
    return error;
}

static void eval_findings(const cJSON *doc, const ml_findings_spec *spec) {
    cJSON *out = NULL;
    if (ml_findings_eval(&out, doc, spec) == 0) {
        /* read every row back, as the report and `mergelab findings` do */
        for (const cJSON *f = out ? out->child : NULL; f; f = f->next) {
            const cJSON *id = cJSON_GetObjectItemCaseSensitive(f, "id");
            (void)cJSON_GetStringValue(id);
        }
    }
    cJSON_Delete(out);
}

/* F1-F4 on "loss", on the default metric, and with the spec the document carries:
 * the ids and metric of its own "findings" array (as cli_run writes it), so
 * unknown ids and odd metric names reach ml_findings_eval too. */
static void all_findings(const cJSON *doc) {
    static const char *const ids[] = { "F1", "F2", "F3", "F4" };
    ml_findings_spec spec;
    memset(&spec, 0, sizeof(spec));
    for (int i = 0; i < 4; i++) snprintf(spec.ids[spec.n++], sizeof(spec.ids[0]), "%s", ids[i]);
    snprintf(spec.metric, sizeof(spec.metric), "%s", "loss");
    eval_findings(doc, &spec);
    spec.metric[0] = '\0';   /* the default: loss (GPT) or test_loss (MLP) */
    eval_findings(doc, &spec);

    const cJSON *own = cJSON_GetObjectItemCaseSensitive(doc, "findings");
    if (!cJSON_IsArray(own)) return;
    memset(&spec, 0, sizeof(spec));
    for (const cJSON *f = own->child; f && spec.n < ML_FINDINGS_MAX; f = f->next) {
        const char *id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(f, "id"));
        const char *metric = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(f, "metric"));
        if (!id) continue;
        /* "F3a" and "F4 interpolation" were asked for as "F3" and "F4" */
        size_t n = strcspn(id, " ab");
        if (n >= sizeof(spec.ids[0])) n = sizeof(spec.ids[0]) - 1;
        memcpy(spec.ids[spec.n], id, n);
        spec.ids[spec.n][n] = '\0';
        int seen = 0;
        for (int i = 0; i < spec.n; i++) seen |= !strcmp(spec.ids[i], spec.ids[spec.n]);
        if (!seen) spec.n++;
        if (metric && strlen(metric) < sizeof(spec.metric)) snprintf(spec.metric, sizeof(spec.metric), "%s", metric);
    }
    if (spec.n) eval_findings(doc, &spec);
}

/* The gate as `mergelab check` runs it: once without the table, keeping every
 * row, and once printing the table into memory. */
static void gate(const cJSON *results, const cJSON *baseline) {
    ml_gate_summary sum;
    ml_gate_rows rows;
    char line[512];

    memset(&rows, 0, sizeof(rows));
    if (ml_gate_check(&sum, NULL, results, baseline, &rows) == 0) ml_gate_platform_line(line, sizeof(line), &sum);
    ml_gate_rows_free(&rows);

    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    memset(&rows, 0, sizeof(rows));
    (void)ml_gate_check(&sum, out, results, baseline, &rows);
    ml_gate_rows_free(&rows);
    if (out) fclose(out);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const uint8_t *nul = memchr(data, 0, size);
    size_t rlen = nul ? (size_t)(nul - data) : size;
    const uint8_t *bsrc = nul ? nul + 1 : data;
    size_t blen = nul ? size - rlen - 1 : size;
    cJSON *results = NULL, *baseline = NULL;

    if (parse(&results, data, rlen) == 0 && results) {
        ml_agg agg;
        if (ml_agg_build(&agg, results) == 0)
            for (int i = 0; i < agg.n; i++) (void)ml_agg_find(&agg, agg.rows[i].group, agg.rows[i].metric);
        ml_agg_free(&agg);   /* also after an error: the build leaves it empty then */
        all_findings(results);
        if (parse(&baseline, bsrc, blen) == 0 && baseline) gate(results, baseline);
    }
    cJSON_Delete(baseline);
    cJSON_Delete(results);
    return 0;
}
