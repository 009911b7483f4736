/*
 * data/text.c: corpus assembly for the text domains (see text.h): the
 * vocabulary, the split rule, the draw-accept-append loop, tokens, hashes,
 * training batches and evaluation windows.
 * Not here: what a document says (data/text_gen.c writes documents).
 */
#include "data/text.h"
#include "core/error.h"
#include "core/sha256.h"
#include "kernels/rng.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ATTEMPTS 4096   /* draws per document before giving up (a bug) */

static const char *const domain_names[ML_DOMAIN_COUNT] = { "base", "math", "code", "target",
                                                                 "target_prefix" };

const char *ml_domain_name(ml_domain d) {
    return (unsigned)d < ML_DOMAIN_COUNT ? domain_names[d] : "?";
}

int ml_domain_parse(ml_domain *out, const char *name) {
    for (int d = 0; d < ML_DOMAIN_COUNT; d++)
        if (name && !strcmp(name, domain_names[d])) { *out = (ml_domain)d; return 0; }
    return ml_error_set(ML_EINVALID, "unknown text domain \"%s\" (expected one of: base, math, code, target, target_prefix)",
                        name ? name : "(null)");
}

int ml_vocab_encode(int c) {
    if (c == '\n') return 0;
    if (c >= 32 && c <= 126) return c - 31;
    return -1;
}

int ml_vocab_decode(int id) {
    if (id == 0) return '\n';
    if (id >= 1 && id < ML_VOCAB_SIZE) return id + 31;
    return -1;
}

int ml_text_split_of(const char *doc, size_t len) {
    uint64_t h = 0xcbf29ce484222325ULL;                  /* FNV-1a, then an avalanche */
    for (size_t i = 0; i < len; i++) { h ^= (unsigned char)doc[i]; h *= 0x100000001b3ULL; }
    h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ULL;
    h = (h ^ (h >> 27)) * 0x94d049bb133111ebULL;
    h ^= h >> 31;
    switch (h >> 62) {                                    /* 2 of 4 train, 1 valid, 1 test */
    case 0: case 1: return ML_SPLIT_TRAIN;
    case 2:         return ML_SPLIT_VALID;
    default:        return ML_SPLIT_TEST;
    }
}

void ml_corpus_free(ml_corpus *c) {
    if (!c) return;
    free(c->text);
    free(c->tokens);
    free(c->doc_start);
    free(c->doc_prompt);
    free(c->doc_len);
    free(c->doc_kind);
    free(c->doc_answer);
    memset(c, 0, sizeof(*c));
}

/* Which generator writes base document `doc`: a draw in its own stream, so
 * rejected content draws never change the mix. */
static ml_domain base_kind(const ml_text_options *o, uint64_t seed, int split, int doc) {
    uint64_t stream = ML_STREAM_TEXT + 16u * ML_DOMAIN_BASE + 8u + (uint64_t)split;
    double u = (double)(ml_rng_u64(seed, stream, (uint64_t)doc) >> 11) * (1.0 / 9007199254740992.0);
    if (u < o->base_math) return ML_DOMAIN_MATH;
    if (u < o->base_math + o->base_code) return ML_DOMAIN_CODE;
    return ML_DOMAIN_BASE;
}

/* Draws document `doc` until one fits the length bound and belongs to the
 * split; the accepted draw is in *g. */
static int draw_doc(ml_text__doc *g, ml_domain domain, ml_domain kind, uint64_t seed, int split, int doc) {
    ml_text__rng r;
    r.seed = seed;
    r.stream = ML_STREAM_TEXT + 16u * (uint64_t)domain + (uint64_t)split;
    for (int attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
        r.base = ((uint64_t)doc * MAX_ATTEMPTS + (uint64_t)attempt) * ML_TEXT__DRAWS;
        r.k = 0;
        ml_text__write(g, kind, &r);
        if (g->overflow || r.k > ML_TEXT__DRAWS)
            return ml_error_set(ML_ERROR, "text generator bug: %s document %d (%s) %s", ml_domain_name(domain), doc,
                                ml_domain_name(kind), g->overflow ? "overflows its buffer" : "uses too many draws");
        if (kind != ML_DOMAIN_BASE && g->len > ML_TEXT_DOC_MAX) continue;
        if (ml_text_split_of(g->text, g->len) != split) continue;
        return 0;
    }
    return ml_error_set(ML_ERROR, "text generator bug: %s document %d: no draw of %d fits split %d",
                        ml_domain_name(domain), doc, MAX_ATTEMPTS, split);
}

int ml_corpus_generate_opts(ml_corpus *out, ml_domain d, uint64_t seed, int split, int ndocs,
                            const ml_text_options *opts) {
    static const ml_text_options defaults = ML_TEXT_OPTIONS_DEFAULT;
    ml_corpus c;
    ml_text__doc g;
    size_t cap = 0;
    int error = 0;
    memset(out, 0, sizeof(*out));
    memset(&c, 0, sizeof(c));
    if (!opts) opts = &defaults;
    ML_CHECK_ARG((unsigned)d < ML_DOMAIN_COUNT, "text domain %d out of range", (int)d);
    ML_CHECK_ARG(split >= 0 && split < ML_SPLIT_COUNT, "split must be 0 (train), 1 (validation) or 2 (test), got %d", split);
    ML_CHECK_ARG(ndocs >= 1, "ndocs must be >= 1, got %d", ndocs);
    ML_CHECK_ARG(opts->base_math >= 0 && opts->base_code >= 0 && opts->base_math + opts->base_code <= 1.0,
                 "base mix fractions must be >= 0 with a sum <= 1, got math %g code %g",
                 opts->base_math, opts->base_code);
    c.domain = d; c.seed = seed; c.split = split; c.ndocs = ndocs; c.opts = *opts;
    cap = (size_t)ndocs * 128 + 1;
    if ((error = ml_malloc((void **)&c.text, cap)) < 0 ||
        (error = ml_malloc((void **)&c.doc_start, (size_t)ndocs * sizeof(int))) < 0 ||
        (error = ml_malloc((void **)&c.doc_prompt, (size_t)ndocs * sizeof(int))) < 0 ||
        (error = ml_malloc((void **)&c.doc_len, (size_t)ndocs * sizeof(int))) < 0 ||
        (error = ml_malloc((void **)&c.doc_kind, (size_t)ndocs)) < 0 ||
        (error = ml_malloc((void **)&c.doc_answer, (size_t)ndocs * sizeof(long))) < 0)
        goto cleanup;
    for (int i = 0; i < ndocs; i++) {
        ml_domain kind = d == ML_DOMAIN_BASE ? base_kind(opts, seed, split, i) : d;
        if ((error = draw_doc(&g, d, kind, seed, split, i)) < 0) goto cleanup;
        if (c.len + g.len + 2 > cap) {
            char *grown;
            size_t want = cap * 2 > c.len + g.len + 2 ? cap * 2 : c.len + g.len + 2;
            if (want > (size_t)INT_MAX) {
                error = ml_error_set(ML_EINVALID, "%s corpus of %d documents exceeds %d characters",
                                     ml_domain_name(d), ndocs, INT_MAX);
                goto cleanup;
            }
            void *grow = c.text;
            if ((error = ml_realloc(&grow, want)) < 0) {
                ml_error_prefix("growing a %s corpus", ml_domain_name(d));
                goto cleanup;
            }
            c.text = grown = grow; cap = want;
        }
        c.doc_start[i] = (int)c.len;
        c.doc_len[i] = (int)g.len;
        c.doc_prompt[i] = g.prompt;
        c.doc_kind[i] = (uint8_t)kind;
        c.doc_answer[i] = g.answer;
        memcpy(c.text + c.len, g.text, g.len);
        c.len += g.len;
        c.text[c.len++] = '\n';                   /* the separator: a blank line between documents */
    }
    c.text[c.len] = '\0';
    if ((error = ml_malloc((void **)&c.tokens, (c.len ? c.len : 1) * sizeof(int32_t))) < 0) goto cleanup;
    for (size_t i = 0; i < c.len; i++) {
        int id = ml_vocab_encode((unsigned char)c.text[i]);
        if (id < 0) {
            error = ml_error_set(ML_ERROR, "text generator bug: %s corpus: character 0x%02x at offset %zu is outside the vocabulary",
                                 ml_domain_name(d), (unsigned char)c.text[i], i);
            goto cleanup;
        }
        c.tokens[i] = id;
    }
    ml_sha256_hex(c.sha256, c.text, c.len);
    *out = c;
    memset(&c, 0, sizeof(c));                     /* the caller owns it now */
cleanup:
    ml_corpus_free(&c);
    return error;
}

int ml_corpus_generate(ml_corpus *out, ml_domain d, uint64_t seed, int split, int ndocs) {
    return ml_corpus_generate_opts(out, d, seed, split, ndocs, NULL);
}

int ml_corpus_batch(int32_t *x, int32_t *y, const ml_corpus *c, int B, int T,
                    uint64_t seed, uint64_t stream, uint64_t step) {
    ML_CHECK_ARG(B >= 1 && B < (1 << 20) && T >= 1, "batch needs 1 <= B < 2^20 and T >= 1, got B %d T %d", B, T);
    ML_CHECK_ARG(c->len >= (size_t)T + 1, "%s corpus has %zu tokens, a window needs T+1 = %d",
                 ml_domain_name(c->domain), c->len, T + 1);
    uint64_t nstart = (uint64_t)(c->len - (size_t)T);     /* offsets 0 .. len-T-1 */
    for (int b = 0; b < B; b++) {
        size_t o = (size_t)ml_rng_below(seed, stream, (step << 20) + (uint64_t)b, nstart);
        memcpy(x + (size_t)b * T, c->tokens + o, (size_t)T * sizeof(int32_t));
        memcpy(y + (size_t)b * T, c->tokens + o + 1, (size_t)T * sizeof(int32_t));
    }
    return 0;
}

int ml_corpus_eval_windows(int32_t *x, int32_t *y, const ml_corpus *c, int T, int max_windows) {
    ML_CHECK_ARG(T >= 1, "eval windows need T >= 1, got %d", T);
    size_t avail = c->len / ((size_t)T + 1);
    int W = max_windows < 0 ? 0 : avail < (size_t)max_windows ? (int)avail : max_windows;
    if (!x || !y) return W;
    for (int w = 0; w < W; w++) {
        const int32_t *src = c->tokens + (size_t)w * (T + 1);
        memcpy(x + (size_t)w * T, src, (size_t)T * sizeof(int32_t));
        memcpy(y + (size_t)w * T, src + 1, (size_t)T * sizeof(int32_t));
    }
    return W;
}
