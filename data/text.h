/*
 * data/text.h: the character-level text domains of the GPT study, made by
 * seeded generators (no files, no downloads).
 * Owns: the five domains (base, math, code, target, target_prefix), the 96-symbol
 *       vocabulary, corpus generation with its train/validation/test
 *       splits, and cutting a corpus into training batches and evaluation
 *       windows.
 * Not here: the model, training and evaluation loops (they take the token
 *       arrays made here), and recording provenance (the harness records
 *       ML_TEXT_GENERATOR, the seed, the options and the corpus sha256).
 * Memory:   ml_corpus_generate fills a caller-owned struct whose arrays the
 *           caller releases with ml_corpus_free().
 * Errors:   0 or a negative ML_E*, reason in ml_error_last().
 *
 * Documents (one per draw, each ending in '\n'):
 *   base    English-like paragraphs from a small grammar; a fraction of them
 *           (ml_text_options) are math or code documents instead.
 *   math    "Q: Mia has 7 pens. She buys 5 more. How many pens now?\n"
 *           "A: 7 + 5 = 12. The answer is 12.\n"
 *   code    "def f(a, b):\n    c = a * b\n    return c + 3\nprint(f(4, 6))\n# 27\n"
 *   target  a one-step math question answered by a program whose variable is
 *           named after the thing, one statement per step of the story:
 *           "Q: <as math>\nA:\npens = 7\npens = pens + 5\nprint(pens)\n"
 *           (a gsm-hard style "def solution(): ... return" wrapper, or a
 *           two-step story, does not fit ML_TEXT_DOC_MAX next to the question)
 *   target_prefix  the same one-step questions answered in a format neither
 *           specialist writes, a prefix (Lisp-like) expression and its value:
 *           "Q: <as math>\nA: (+ 7 5) => 12\n". It tests whether merges
 *           behave differently when the target's answers are not one
 *           specialist's format (issue 19).
 * Each document has a prompt and an answer part. The prompt is, for math,
 * everything up to and including "A:" (so the answer starts " 7 + 5"); for
 * target, up to and including "A:\n"; for target_prefix, up to and including
 * "A:" (as math); for code, the program up to and
 * including its print(...) line (the answer is the "# N" line); a base
 * paragraph is all prompt. The text is doc0 "\n" doc1 "\n" ... docN-1 "\n": every document
 * is followed by one separator newline, so documents are split by blank
 * lines. Math, code and target(_prefix) documents are at most ML_TEXT_DOC_MAX
 * characters (longer draws are rejected and redrawn).
 *
 * Splits: every document belongs to exactly one split, decided by a hash of
 * its text (ml_text_split_of); a corpus of split s keeps only documents of
 * split s (others are redrawn). So no document text can appear in two
 * splits of any domain, at any size; the splits also use different RNG
 * streams. Within one split documents may repeat.
 *
 * Determinism: every random choice is ml_rng_* of (seed, stream, counter):
 * the stream is ML_STREAM_TEXT + 16*domain + split (+8 for the base mix
 * choice, counter = doc) and the counter is ((doc * 4096 + attempt) * 1024
 * + draw), so the same arguments give byte-identical text on any machine
 * and a corpus of n documents is a prefix of one of n+1.
 */
#ifndef ML_DATA_TEXT_H
#define ML_DATA_TEXT_H

#include <stddef.h>
#include <stdint.h>

#define ML_TEXT_GENERATOR "mergelab-text-1"  /* bump when any generator's output changes */
#define ML_VOCAB_SIZE     96                 /* '\n' -> 0, ' '..'~' (32..126) -> 1..95 */
#define ML_TEXT_DOC_MAX   120                /* max chars of a math/code/target document */
#define ML_STREAM_TEXT    0x54455854u        /* "TEXT": first RNG stream of the text generators (+0..16*ML_DOMAIN_COUNT-1), far from rng.h's */

typedef enum {
    ML_DOMAIN_BASE = 0, ML_DOMAIN_MATH, ML_DOMAIN_CODE, ML_DOMAIN_TARGET, ML_DOMAIN_TARGET_PREFIX,
    ML_DOMAIN_COUNT
} ml_domain;

enum { ML_SPLIT_TRAIN = 0, ML_SPLIT_VALID = 1, ML_SPLIT_TEST = 2, ML_SPLIT_COUNT = 3 };

/* "base", "math", "code", "target", "target_prefix"; "?" for anything else. */
const char *ml_domain_name(ml_domain d);
/* Sets *out from a name above; ML_EINVALID (and *out untouched) otherwise. */
int ml_domain_parse(ml_domain *out, const char *name);

/* A character's token id, or -1 for characters outside the vocabulary. */
int ml_vocab_encode(int c);
/* A token id's character, or -1 for ids outside 0..ML_VOCAB_SIZE-1. */
int ml_vocab_decode(int id);

/* The split (0 train, 1 validation, 2 test) a document text belongs to:
 * half of all texts are train, a quarter each validation and test. */
int ml_text_split_of(const char *doc, size_t len);

typedef struct {
    double base_math;   /* fraction of base documents that are math documents (default 0.04) */
    double base_code;   /* ... and code documents (default 0.04); sum <= 1 */
} ml_text_options;

#define ML_TEXT_OPTIONS_DEFAULT { 0.04, 0.04 }

typedef struct {
    ml_domain domain;
    uint64_t  seed;
    int       split;        /* 0 train, 1 validation, 2 test */
    int       ndocs;
    ml_text_options opts;   /* as used (base_* only matter for the base domain) */
    char     *text;         /* (len + 1) all documents joined, NUL-terminated */
    size_t    len;
    int32_t  *tokens;       /* (len) token ids of text */
    int      *doc_start;    /* (ndocs) offset of each document in text */
    int      *doc_prompt;   /* (ndocs) length of its prompt part */
    int      *doc_len;      /* (ndocs) length of the whole document (without the separator) */
    uint8_t  *doc_kind;     /* (ndocs) the generator that wrote it: an ml_domain
                               (a base corpus mixes BASE, MATH and CODE) */
    long     *doc_answer;   /* (ndocs) the numeric answer as the generator computed it
                               (math, code, target documents; 0 for base paragraphs) */
    char      sha256[65];   /* of text (len bytes) */
} ml_corpus;

/* Generates ndocs >= 1 documents of domain d for split (0..2) with the
 * default options. Same (domain, seed, split, ndocs, options) -> byte-
 * identical text; a corpus of n docs is a prefix of one of n+1 docs.
 * On error *out is zeroed. ML_EINVALID for bad arguments, ML_ENOMEM, and
 * ML_ERROR for a generator bug (a character outside the vocabulary, an
 * over-long document, no acceptable draw in 4096 attempts). */
int ml_corpus_generate(ml_corpus *out, ml_domain d, uint64_t seed, int split, int ndocs);
/* The same with explicit options (NULL = defaults); fractions must be in
 * [0, 1] with a sum <= 1. */
int ml_corpus_generate_opts(ml_corpus *out, ml_domain d, uint64_t seed, int split, int ndocs,
                            const ml_text_options *opts);
/* Frees the arrays; NULL-safe, leaves a zeroed struct. */
void ml_corpus_free(ml_corpus *c);

/* Training batch: B windows of T+1 consecutive tokens starting at offsets
 * o_b = ml_rng_below(seed, stream, step * 2^20 + b, len - T) -> inputs
 * x (B,T) = tokens[o_b .. o_b+T-1] and next-token targets y (B,T) =
 * tokens[o_b+1 .. o_b+T]. ML_EINVALID when B, T are not positive,
 * B >= 2^20, or the corpus has fewer than T+1 tokens. */
int ml_corpus_batch(int32_t *x, int32_t *y, const ml_corpus *c, int B, int T,
                    uint64_t seed, uint64_t stream, uint64_t step);
/* Evaluation windows: window w is tokens [w*(T+1), (w+1)*(T+1)), the last
 * partial one dropped, at most max_windows -> x (W,T), y (W,T) as above.
 * Returns W (x and y may be NULL to only count), or ML_EINVALID for T < 1. */
int ml_corpus_eval_windows(int32_t *x, int32_t *y, const ml_corpus *c, int T, int max_windows);

/* ---- internal: shared by data/text.c (assembly) and data/text_gen.c
 * (the writers); not for callers. ---- */
#define ML_TEXT__DRAWS 1024   /* random draws one document may use */
#define ML_TEXT__BUF   512    /* bytes one document may take */

typedef struct {
    uint64_t seed, stream, base;  /* draw k uses counter base + k in (seed, stream) */
    int      k;                   /* draws used so far */
} ml_text__rng;

typedef struct {
    char text[ML_TEXT__BUF];
    int  len;       /* characters in text (not NUL-terminated) */
    int  prompt;    /* length of the prompt part */
    long answer;    /* the numeric answer (0 for base paragraphs) */
    int  overflow;  /* set when the writer ran out of buffer: a bug */
} ml_text__doc;

/* Writes one document of kind `kind` (any ml_domain) from the
 * draws of r into *g. */
void ml_text__write(ml_text__doc *g, ml_domain kind, ml_text__rng *r);

#endif
