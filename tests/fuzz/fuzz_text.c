/*
 * tests/fuzz/fuzz_text.c: libFuzzer target over what takes document text:
 * the text corpora are generated, never read from files, so the readers
 * are the functions that take a corpus's text and tokens: the split a
 * document belongs to (ml_text_split_of), the vocabulary both ways, and the
 * batches and evaluation windows over a corpus built from the input (its
 * bytes in the vocabulary as tokens, the first byte choosing T and B).
 * Seeds: documents of every domain (tests/fuzz/corpus/text/).
 */
#include "data/text.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    ml_corpus c;
    memset(&c, 0, sizeof(c));
    if (size < 1) return 0;
    int T = 1 + data[0] % 64, B = 1 + (size > 1 ? data[1] % 8 : 0);
    char *text = malloc(size);
    int32_t *tok = malloc(size * sizeof(int32_t)), *x = malloc((size_t)B * T * 2 * sizeof(int32_t));
    if (!text || !tok || !x) goto out;
    memcpy(text, data, size);
    (void)ml_text_split_of(text, size);
    size_t n = 0;
    for (size_t i = 0; i < size; i++) {
        int id = ml_vocab_encode((unsigned char)data[i]);
        if (id >= 0 && ml_vocab_decode(id) == data[i]) tok[n++] = id;
    }
    c.text = text;
    c.len = n;
    c.tokens = tok;
    int W = ml_corpus_eval_windows(NULL, NULL, &c, T, 1 << 20);
    if (W > 0 && W <= 2 * B) (void)ml_corpus_eval_windows(x, x + (size_t)B * T, &c, T, B);
    (void)ml_corpus_batch(x, x + (size_t)B * T, &c, B, T, 1, 2, size);
out:
    free(text);
    free(tok);
    free(x);
    return 0;
}
