#!/bin/sh
# tests/fuzz/seeds.sh: writes the seed corpora of the fuzz targets into
# tests/fuzz/corpus/<target>/ from the project's own files and a tiny run:
# suites, cell files and part records, cache entries, checkpoints of the
# model fuzz_checkpoint.c expects, IDX files (plain and gzip), documents of
# every text domain. Run from the repository root after `make`; the corpora
# are committed, so this runs only when a format changes.
set -eu
C=tests/fuzz/corpus
BIN=${ML_BIN:-build/mergelab}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
mkdir -p $C/suite $C/cellfile $C/cache $C/checkpoint $C/idx $C/text
for f in suites/*.json; do [ "$f" = suites/schema.json ] || cp "$f" $C/suite/; done
# a tiny run: its cell file, part records and cache entries
python3 - "$T" <<'PY'
import json, sys
s = json.load(open('suites/smoke.json'))
s['name'] = 'seed'; s['pretrain']['steps'] = 20; s['finetune']['steps'] = 20; s['finetune']['points'] = [10]
s['cka']['every'] = 10; s['cka']['probe_size'] = 64
s['model']['hidden'] = [16, 8]
for m in s['merges']:
    if 'steps' in m: m['steps'] = 5
s.pop('findings', None)
json.dump(s, open(sys.argv[1] + '/seed.json', 'w'))
PY
"$BIN" run "$T/seed.json" -o "$T/out" --quiet --jobs 2 >/dev/null
cp "$T/out/seed.cells/default.json" $C/cellfile/cell.json
cp "$T/out/seed.json" $C/cellfile/suite-results.json
i=0; for f in "$T"/out/cache/*.bin; do i=$((i + 1)); cp "$f" $C/cache/entry$i.bin; done
head -c 1000 "$T"/out/cache/$(ls "$T"/out/cache | grep bin | head -1) > $C/cache/truncated.bin
# checkpoints of the fuzz target's model, with and without adam state
cat > "$T/ckpt.c" <<'CC'
#include "kernels/checkpoint.h"
#include "kernels/mlp.h"
#include <stdio.h>
int main(int argc, char **argv) {
    ml_mlp_config cfg = { .in_dim = 6, .n_hidden = 1, .hidden = { 5 }, .out_dim = 3, .act = ML_ACT_RELU };
    ml_ckpt_field conf[3] = { { "in_dim", 6 }, { "hidden0", 5 }, { "out_dim", 3 } };
    ml_mlp *m = NULL;
    if (argc < 3 || ml_mlp_new(&m, &cfg, 1) < 0) return 1;
    ml_mlp_init(m, 7);
    ml_ckpt c = { "mlp", conf, 3, &m->layout, m->params, NULL, NULL, 12 };
    if (ml_checkpoint_save(argv[1], &c) < 0) return 1;
    c.adam_m = m->params; c.adam_v = m->params;
    return ml_checkpoint_save(argv[2], &c) < 0;
}
CC
cc -std=c11 -D_GNU_SOURCE -I. -Ibuild "$T/ckpt.c" build/libmergelab.a $(pkg-config --libs openblas libgit2 libpng zlib cairo libcjson) -lm -lpthread -o "$T/ckpt"
"$T/ckpt" $C/checkpoint/params.ckpt $C/checkpoint/adam.ckpt
# IDX: labels (1 dim) and images (3 dims), plain and gzip
python3 - $C/idx <<'PY'
import gzip, struct, sys
d = sys.argv[1]
lab = struct.pack('>BBBBI', 0, 0, 8, 1, 5) + bytes([0, 1, 2, 3, 9])
img = struct.pack('>BBBBIII', 0, 0, 8, 3, 2, 3, 3) + bytes(range(18))
open(d + '/labels.idx', 'wb').write(lab); open(d + '/images.idx', 'wb').write(img)
open(d + '/labels.idx.gz', 'wb').write(gzip.compress(lab, mtime=0)); open(d + '/images.idx.gz', 'wb').write(gzip.compress(img, mtime=0))
PY
# text: the first documents of each domain as the generators write them
cat > "$T/text.c" <<'CC'
#include "data/text.h"
#include <stdio.h>
int main(int argc, char **argv) {
    for (int d = 0; d < ML_DOMAIN_COUNT && argc > 1; d++) {
        ml_corpus c;
        char path[512];
        if (ml_corpus_generate(&c, (ml_domain)d, 1, 0, 4) < 0) return 1;
        snprintf(path, sizeof(path), "%s/%s.txt", argv[1], ml_domain_name((ml_domain)d));
        FILE *f = fopen(path, "wb");
        if (!f || fwrite(c.text, 1, c.len, f) != c.len) return 1;
        fclose(f);
        ml_corpus_free(&c);
    }
    return 0;
}
CC
cc -std=c11 -D_GNU_SOURCE -I. -Ibuild "$T/text.c" build/libmergelab.a $(pkg-config --libs openblas libgit2 libpng zlib cairo libcjson) -lm -lpthread -o "$T/text"
"$T/text" $C/text
echo "seeds: $(ls $C/suite | wc -l) suite, $(ls $C/cellfile | wc -l) cellfile, $(ls $C/cache | wc -l) cache, $(ls $C/checkpoint | wc -l) checkpoint, $(ls $C/idx | wc -l) idx, $(ls $C/text | wc -l) text"
