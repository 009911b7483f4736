/*
 * sched/graph.c: building the job graph (graph.h) and printing it. Sizes
 * are known before anything is added (jobs and edges per cell), so the
 * jobs' input lists point into one pool that never moves.
 */
#include "sched/graph.h"
#include "core/error.h"
#include "core/rbuf.h"
#include "core/sha256.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void hash_of(char out[65], const char *tag, const char *a, const char *b, long k) {
    ml_sha256 h;
    uint8_t d[32];
    char num[32];
    snprintf(num, sizeof(num), "%ld", k);
    ml_sha256_init(&h);
    ml_sha256_update(&h, tag, strlen(tag));
    ml_sha256_update(&h, "\n", 1);
    ml_sha256_update(&h, a, strlen(a));
    ml_sha256_update(&h, "\n", 1);
    ml_sha256_update(&h, b, strlen(b));
    ml_sha256_update(&h, "\n", 1);
    ml_sha256_update(&h, num, strlen(num));
    ml_sha256_final(&h, d);
    ml_sha256_to_hex(out, d);
}

static ml_job *add(ml_graph *g, ml_job_kind kind, int cell, int point) {
    ml_job *j = &g->jobs[g->n++];
    memset(j, 0, sizeof(*j));
    j->kind = kind;
    j->cell = cell;
    j->point = point;
    j->weight = 1;
    return j;
}

/* Appends input to j's list; j's inputs must be added together, j being
 * the last job to take edges from the pool. */
static void need(ml_graph *g, ml_job *j, int input) {
    if (!j->inputs) j->inputs = g->edges + g->nedges;
    g->edges[g->nedges++] = input;
    j->ninputs++;
}

static int split_cell(const ml_cell *c) {
    return c->suite->npoints >= 2;
}

int ml_graph_build(ml_graph *out, const ml_cellset *cs, const int *cells, int ncells, int split, int ends) {
    size_t cap = 2, edges = 1;
    int n = cells ? ncells : cs->n;
    memset(out, 0, sizeof(*out));
    out->cs = cs;
    for (int k = 0; k < n; k++) {
        size_t np = (size_t)cs->cells[cells ? cells[k] : k].suite->npoints;
        cap += 3 + np;
        edges += 3 + 2 * np;   /* train 1, points np, results 1 + np, suite 1 */
    }
    out->cap_edges = edges;
    int *last = NULL;   /* per cell, the job that ends it */
    if (ml_calloc((void **)&out->jobs, cap, sizeof(*out->jobs)) < 0 ||
        ml_calloc((void **)&out->edges, edges, sizeof(int)) < 0 ||
        ml_calloc((void **)&last, (size_t)(n ? n : 1), sizeof(int)) < 0) {
        ml_graph_free(out);
        return ML_ENOMEM;
    }
    for (int k = 0; k < n; k++) {
        int i = cells ? cells[k] : k;
        const ml_cell *c = &cs->cells[i];
        if (!split || !split_cell(c)) {
            ml_job *j = add(out, ML_JOB_CELL, i, 0);
            memcpy(j->hash, c->id, sizeof(j->hash));
            last[k] = out->n - 1;
            continue;
        }
        /* one base job per base key: cells that share it wait for the same job */
        int base = -1;
        for (int b = 0; b < out->n && base < 0; b++)
            if (out->jobs[b].kind == ML_JOB_BASE && !strcmp(out->jobs[b].hash, c->key_base)) base = b;
        if (base < 0) {
            ml_job *b = add(out, ML_JOB_BASE, i, 0);
            memcpy(b->hash, c->key_base, sizeof(b->hash));
            b->weight = c->suite->pretrain_threads > 1 ? c->suite->pretrain_threads : 1;
            base = out->n - 1;
        }
        ml_job *t = add(out, ML_JOB_TRAIN, i, 0);
        hash_of(t->hash, "mergelab train 1", c->key_specialists, c->key_direct, 0);
        need(out, t, base);
        int train = out->n - 1, first_point = out->n;
        for (int p = 0; p < c->suite->npoints; p++) {
            ml_job *q = add(out, ML_JOB_POINT, i, p);
            hash_of(q->hash, "mergelab point 1", c->id, "", p);
            need(out, q, train);
        }
        ml_job *r = add(out, ML_JOB_RESULTS, i, 0);
        memcpy(r->hash, c->id, sizeof(r->hash));
        need(out, r, train);
        for (int p = 0; p < c->suite->npoints; p++) need(out, r, first_point + p);
        last[k] = out->n - 1;
    }
    if (ends) {
        ml_job *s = add(out, ML_JOB_SUITE, -1, 0);
        s->local = 1;
        ml_sha256 h;
        uint8_t d[32];
        ml_sha256_init(&h);
        ml_sha256_update(&h, "mergelab suite 1\n", 17);
        ml_sha256_update(&h, cs->suite->sha256, strlen(cs->suite->sha256));
        for (int k = 0; k < n; k++) {
            need(out, s, last[k]);
            ml_sha256_update(&h, cs->cells[cells ? cells[k] : k].id, 64);
        }
        ml_sha256_final(&h, d);
        ml_sha256_to_hex(s->hash, d);
        int suite = out->n - 1;
        if (ends & ML_GRAPH_REPORT) {
            ml_job *r = add(out, ML_JOB_REPORT, -1, 0);
            hash_of(r->hash, "mergelab report 1", out->jobs[suite].hash, "", 0);
            r->local = 1;
            need(out, r, suite);
        }
    }
    free(last);
    return 0;
}

void ml_graph_free(ml_graph *g) {
    if (!g) return;
    free(g->jobs);
    free(g->edges);
    memset(g, 0, sizeof(*g));
}

/* A job's inputs always come before it (ml_graph_build adds them first),
 * so one pass in index order sees every input's level before the job. */
int ml_graph_levels(const ml_graph *g, int *level) {
    int top = -1;
    for (int i = 0; i < g->n; i++) {
        const ml_job *j = &g->jobs[i];
        level[i] = 0;
        for (int k = 0; k < j->ninputs; k++)
            if (level[j->inputs[k]] + 1 > level[i]) level[i] = level[j->inputs[k]] + 1;
        if (level[i] > top) top = level[i];
    }
    return top + 1;
}

void ml_graph_share(const ml_graph *g, int k, int n, int *mine) {
    int ncells = 0, leaf = 0, last_cell = -1;
    for (int i = 0; i < g->n; i++) {
        mine[i] = 0;
        if (g->jobs[i].cell >= 0 && g->jobs[i].cell != last_cell) {
            ncells++;
            last_cell = g->jobs[i].cell;
        }
    }
    /* whole cells when there are enough (no training repeated across
     * shares), else points one by one */
    int by_cell = ncells >= n, cell_ord = -1;
    last_cell = -1;
    for (int i = 0; i < g->n; i++) {
        const ml_job *j = &g->jobs[i];
        if (j->cell >= 0 && j->cell != last_cell) {
            cell_ord++;
            last_cell = j->cell;
        }
        if (j->kind != ML_JOB_CELL && j->kind != ML_JOB_POINT) continue;
        int owner = by_cell ? cell_ord % n : leaf % n;
        leaf++;
        if (owner == k) mine[i] = 1;
    }
    /* what the owned jobs need first, back to the bases */
    for (int i = g->n - 1; i >= 0; i--)
        if (mine[i])
            for (int e = 0; e < g->jobs[i].ninputs; e++)
                if (!mine[g->jobs[i].inputs[e]]) mine[g->jobs[i].inputs[e]] = 2;
}

double ml_job_flops(const ml_graph *g, int j) {
    const ml_job *job = &g->jobs[j];
    ml_suite_cost c;
    if (job->cell < 0) return 0.0;
    ml_suite_cost_of(g->cs->cells[job->cell].suite, &c);
    switch (job->kind) {
    case ML_JOB_BASE: return c.base;
    case ML_JOB_TRAIN: return c.train;
    case ML_JOB_POINT: return c.point;
    case ML_JOB_RESULTS: return c.results;
    case ML_JOB_CELL: return c.cell;
    default: return 0.0;
    }
}

static const char *kind_name(ml_job_kind k) {
    static const char *const kinds[] = { "cell", "base", "train", "point", "results", "suite", "report" };
    return kinds[k];
}

const char *ml_job_name(const ml_job *j, char *buf, size_t size) {
    if (j->kind == ML_JOB_POINT) snprintf(buf, size, "point%d", j->point + 1);
    else snprintf(buf, size, "%s", kind_name(j->kind));
    return buf;
}

int ml_job_rank(const ml_job *j) {
    static const int rank[] = { 3, 1, 2, 4, 0, 5, 6 };   /* by ml_job_kind */
    return rank[j->kind];
}

char *ml_graph_text(const ml_graph *g, const int *done) {
    ml_rbuf b = { 0 };
    char what[32];
    int counts[ML_JOB_REPORT + 1] = { 0 };
    for (int i = 0; i < g->n; i++) counts[g->jobs[i].kind]++;
    ml_rbuf_printf(&b, "suite %s: %d jobs (%d cell, %d base, %d train, %d point, %d results, %d suite, %d report)\n",
                   g->cs->suite->name, g->n, counts[ML_JOB_CELL], counts[ML_JOB_BASE], counts[ML_JOB_TRAIN],
                   counts[ML_JOB_POINT], counts[ML_JOB_RESULTS], counts[ML_JOB_SUITE], counts[ML_JOB_REPORT]);
    ml_rbuf_printf(&b, "%5s  %-8s %-40s %-12s %-6s %s%s\n", "job", "kind", "cell", "hash", "cores", "needs",
                   done ? "  (state)" : "");
    for (int i = 0; i < g->n; i++) {
        const ml_job *j = &g->jobs[i];
        ml_rbuf_printf(&b, "%5d  %-8s %-40s %.12s %-6d", i, ml_job_name(j, what, sizeof(what)),
                       j->cell >= 0 ? g->cs->cells[j->cell].name : "-", j->hash, j->weight);
        if (!j->ninputs) ml_rbuf_puts(&b, "-");
        for (int k = 0; k < j->ninputs; k++) ml_rbuf_printf(&b, "%s%d", k ? "," : "", j->inputs[k]);
        if (done) ml_rbuf_printf(&b, "  (%s)", done[i] > 0 ? "done" : done[i] == 0 ? "to run" : "not requested");
        ml_rbuf_puts(&b, "\n");
    }
    if (ml_rbuf_check(&b) < 0) {
        ml_rbuf_free(&b);
        return NULL;
    }
    return b.p;   /* the caller frees */
}

cJSON *ml_graph_json(const ml_graph *g, const int *done) {
    cJSON *doc = cJSON_CreateObject(), *jobs;
    char what[32];
    if (!doc) return NULL;
    cJSON_AddStringToObject(doc, "suite", g->cs->suite->name);
    jobs = cJSON_AddArrayToObject(doc, "jobs");
    for (int i = 0; i < g->n; i++) {
        const ml_job *j = &g->jobs[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "index", i);
        cJSON_AddStringToObject(o, "kind", kind_name(j->kind));
        cJSON_AddStringToObject(o, "name", ml_job_name(j, what, sizeof(what)));
        if (j->cell >= 0) cJSON_AddStringToObject(o, "cell", g->cs->cells[j->cell].name);
        else cJSON_AddNullToObject(o, "cell");
        if (j->kind == ML_JOB_POINT) cJSON_AddNumberToObject(o, "point", g->cs->cells[j->cell].suite->points[j->point]);
        cJSON_AddStringToObject(o, "hash", j->hash);
        cJSON *in = cJSON_AddArrayToObject(o, "inputs");
        for (int k = 0; k < j->ninputs; k++) cJSON_AddItemToArray(in, cJSON_CreateNumber(j->inputs[k]));
        cJSON_AddNumberToObject(o, "weight", j->weight);
        cJSON_AddNumberToObject(o, "flops", ml_job_flops(g, i));
        if (done && done[i] >= 0) cJSON_AddBoolToObject(o, "done", done[i]);
        else if (done) cJSON_AddNullToObject(o, "done");
        cJSON_AddItemToArray(jobs, o);
    }
    return doc;
}
