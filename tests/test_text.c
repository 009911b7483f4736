/*
 * tests/test_text.c: the text domains (data/text.h). Every math, code and
 * target document is checked against its own text, apart from the
 * generator's arithmetic: a math worked line is re-added, a code program is
 * run by the small interpreter below, a target program by a restricted
 * evaluator, and a one-step question's answer is re-derived from its
 * numbers and wording. Each checker has a negative test on a corrupted
 * document.
 */
#include "tests/test.h"
#include "core/error.h"
#include "core/sha256.h"
#include "data/text.h"

#include <ctype.h>
#include <stdlib.h>
#include <time.h>

#define DOC(c, i) ((c)->text + (c)->doc_start[i])

/* ---- checkers: 0 when the document is right, else -1 and a reason ---- */

/* The expected answer of a one-step question from its two numbers and its
 * wording; 1 when the question does not have exactly two numbers. */
static int question_expect(const char *q, int len, long *want, char *why, size_t nwhy) {
    long num[4];
    int n = 0;
    char buf[256];
    if (len >= (int)sizeof(buf)) { snprintf(why, nwhy, "question too long"); return -1; }
    memcpy(buf, q, (size_t)len); buf[len] = '\0';
    for (const char *p = buf; *p; ) {
        if (isdigit((unsigned char)*p)) { if (n < 4) num[n] = strtol(p, (char **)&p, 10); else strtol(p, (char **)&p, 10); n++; }
        else p++;
    }
    if (n != 2) return 1;
    static const struct { const char *key; char op; } keys[] = {
        { "each get", '/' }, { "per ", '/' }, { "in all", '*' }, { "is that", '*' },
        { "left", '-' }, { "remain", '-' }, { "more", '+' },
    };
    for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
        if (!strstr(buf, keys[k].key)) continue;
        switch (keys[k].op) {
        case '+': *want = num[0] + num[1]; break;
        case '-': *want = num[0] - num[1]; break;
        case '*': *want = num[0] * num[1]; break;
        default:
            if (num[1] == 0 || num[0] % num[1]) { snprintf(why, nwhy, "%ld does not share into %ld", num[0], num[1]); return -1; }
            *want = num[0] / num[1];
        }
        return 0;
    }
    snprintf(why, nwhy, "no known wording in \"%.100s\"", buf);
    return -1;
}

/* "Q: ...?\nA:" then " a op b = r. [r op c = s. ]The answer is N.\n" */
static int check_math(const char *d, int len, int prompt, long gen_answer, char *why, size_t nwhy) {
    char ans[256];
    const char *p;
    long x, y, z, prev = 0, n;
    int steps = 0, used;
    char op;
    if (strncmp(d, "Q: ", 3) || prompt < 6 || strncmp(d + prompt - 3, "\nA:", 3) || memchr(d, '\n', (size_t)prompt - 3))
        { snprintf(why, nwhy, "prompt is not one \"Q: ...\" line then \"A:\""); return -1; }
    if (len - prompt >= (int)sizeof(ans) || len - prompt < 2) { snprintf(why, nwhy, "bad answer length"); return -1; }
    memcpy(ans, d + prompt, (size_t)(len - prompt)); ans[len - prompt] = '\0';
    if (ans[0] != ' ' || !isdigit((unsigned char)ans[1])) { snprintf(why, nwhy, "answer does not start with a number: \"%.100s\"", ans); return -1; }
    for (p = ans + 1; isdigit((unsigned char)*p); ) {
        if (sscanf(p, "%ld %c %ld = %ld. %n", &x, &op, &y, &z, &used) != 4) { snprintf(why, nwhy, "unreadable step \"%.100s\"", p); return -1; }
        long want = op == '+' ? x + y : op == '-' ? x - y : op == '*' ? x * y : op == '/' && y && x % y == 0 ? x / y : -999999;
        if (want != z) { snprintf(why, nwhy, "worked line says %ld %c %ld = %ld, it is %ld", x, op, y, z, want); return -1; }
        if (steps && x != prev) { snprintf(why, nwhy, "step %d starts from %ld, not %ld", steps + 1, x, prev); return -1; }
        if (z < 0) { snprintf(why, nwhy, "negative result %ld", z); return -1; }
        prev = z; steps++; p += used;
    }
    if (!steps || sscanf(p, "The answer is %ld.%n", &n, &used) != 1 || strcmp(p + used, "\n"))
        { snprintf(why, nwhy, "answer does not end with \"The answer is N.\": \"%.100s\"", p); return -1; }
    if (n != prev) { snprintf(why, nwhy, "the answer is %ld but the worked line gives %ld", n, prev); return -1; }
    if (n != gen_answer) { snprintf(why, nwhy, "text says %ld, generator says %ld", n, gen_answer); return -1; }
    long q;
    int rc = question_expect(d + 3, prompt - 6, &q, why, nwhy);
    if (rc < 0) return -1;
    if (rc == 0 && q != n) { snprintf(why, nwhy, "the question's answer is %ld, the text says %ld", q, n); return -1; }
    return 0;
}

/* -- a small interpreter for the code domain's Python subset: assignments,
 *    if/else, for NAME in range(N), while, def with up to 3 parameters,
 *    return, print; integers with + - * // % and comparisons. -- */
typedef struct { const char *s; int len, indent; } pline;
typedef struct { char name[24]; long v; } binding;
typedef struct { binding b[16]; int n; } env;
typedef struct { char name[24], par[3][24]; int npar, body, end; } pfunc;
typedef struct {
    pline L[40]; int nl;
    pfunc fn[8]; int nf;
    long printed; int nprinted, err, depth, ticks;
    char why[160];
} interp;
typedef struct { const char *p, *end; interp *I; env *E; } cursor;

static int exec_block(interp *I, int from, int to, env *E, long *ret);

static void ip_fail(interp *I, const char *what, const char *at, int n) {
    if (!I->err) snprintf(I->why, sizeof(I->why), "%s at \"%.*s\"", what, n < 0 ? 0 : n, at);
    I->err = 1;
}
static void skip_sp(cursor *c) { while (c->p < c->end && *c->p == ' ') c->p++; }
static int take(cursor *c, const char *tok) {
    size_t n = strlen(tok);
    skip_sp(c);
    if ((size_t)(c->end - c->p) >= n && !strncmp(c->p, tok, n)) { c->p += n; return 1; }
    return 0;
}
static int ident(cursor *c, char *out) {
    int n = 0;
    skip_sp(c);
    if (c->p >= c->end || !(isalpha((unsigned char)*c->p) || *c->p == '_')) return 0;
    while (c->p < c->end && (isalnum((unsigned char)*c->p) || *c->p == '_') && n < 23) out[n++] = *c->p++;
    out[n] = '\0';
    return 1;
}
static long *lookup(env *E, const char *name, int create) {
    for (int i = 0; i < E->n; i++) if (!strcmp(E->b[i].name, name)) return &E->b[i].v;
    if (!create || E->n == 16) return NULL;
    snprintf(E->b[E->n].name, sizeof(E->b[0].name), "%s", name);
    E->b[E->n].v = 0;
    return &E->b[E->n++].v;
}
static long ex_cmp(cursor *c);
static long call(interp *I, const char *name, long *args, int nargs) {
    for (int f = 0; f < I->nf; f++) {
        if (strcmp(I->fn[f].name, name)) continue;
        env local = { .n = 0 };
        long ret = 0;
        if (nargs != I->fn[f].npar) { ip_fail(I, "wrong number of arguments", name, (int)strlen(name)); return 0; }
        for (int a = 0; a < nargs; a++) *lookup(&local, I->fn[f].par[a], 1) = args[a];
        if (++I->depth > 20) { ip_fail(I, "recursion too deep", name, (int)strlen(name)); return 0; }
        exec_block(I, I->fn[f].body, I->fn[f].end, &local, &ret);
        I->depth--;
        return ret;
    }
    ip_fail(I, "unknown function", name, (int)strlen(name));
    return 0;
}
static long ex_atom(cursor *c) {
    char name[24];
    skip_sp(c);
    if (take(c, "(")) { long v = ex_cmp(c); if (!take(c, ")")) ip_fail(c->I, "missing )", c->p, (int)(c->end - c->p)); return v; }
    if (take(c, "-")) return -ex_atom(c);
    if (c->p < c->end && isdigit((unsigned char)*c->p)) {
        long v = 0;
        while (c->p < c->end && isdigit((unsigned char)*c->p)) v = v * 10 + (*c->p++ - '0');
        return v;
    }
    if (ident(c, name)) {
        if (take(c, "(")) {
            long args[3];
            int n = 0;
            if (!take(c, ")")) {
                do { if (n < 3) args[n] = ex_cmp(c); n++; } while (take(c, ","));
                if (!take(c, ")")) ip_fail(c->I, "missing ) of a call", c->p, (int)(c->end - c->p));
            }
            return n > 3 ? 0 : call(c->I, name, args, n);
        }
        long *v = lookup(c->E, name, 0);
        if (!v) { ip_fail(c->I, "undefined name", name, (int)strlen(name)); return 0; }
        return *v;
    }
    ip_fail(c->I, "expected a value", c->p, (int)(c->end - c->p));
    return 0;
}
static long ex_term(cursor *c) {
    long v = ex_atom(c);
    for (;;) {
        if (take(c, "*")) v *= ex_atom(c);
        else if (take(c, "//")) { long d = ex_atom(c); if (!d) { ip_fail(c->I, "division by zero", c->p, 0); return 0; }
                                  long q = v / d; if ((v % d != 0) && ((v < 0) != (d < 0))) q--; v = q; }
        else if (take(c, "%")) { long d = ex_atom(c); if (!d) { ip_fail(c->I, "modulo by zero", c->p, 0); return 0; }
                                 long m = v % d; if (m && ((m < 0) != (d < 0))) m += d; v = m; }
        else return v;
    }
}
static long ex_sum(cursor *c) {
    long v = ex_term(c);
    for (;;) {
        if (take(c, "+")) v += ex_term(c);
        else if (take(c, "-")) v -= ex_term(c);
        else return v;
    }
}
static long ex_cmp(cursor *c) {
    long v = ex_sum(c);
    if (take(c, ">=")) return v >= ex_sum(c);
    if (take(c, "<=")) return v <= ex_sum(c);
    if (take(c, "==")) return v == ex_sum(c);
    if (take(c, "!=")) return v != ex_sum(c);
    if (take(c, ">")) return v > ex_sum(c);
    if (take(c, "<")) return v < ex_sum(c);
    return v;
}
/* Evaluates s[0..n) as one whole expression. */
static long eval_all(interp *I, env *E, const char *s, int n) {
    cursor c = { s, s + n, I, E };
    long v = ex_cmp(&c);
    skip_sp(&c);
    if (c.p != c.end) ip_fail(I, "trailing text", c.p, (int)(c.end - c.p));
    return v;
}
static int starts(const char *s, int n, const char *pre) { size_t k = strlen(pre); return (size_t)n >= k && !strncmp(s, pre, k); }

/* Runs lines [from, to) of one indentation; 1 when a return ran (*ret set). */
static int exec_block(interp *I, int from, int to, env *E, long *ret) {
    for (int i = from; i < to && !I->err; ) {
        const pline *l = &I->L[i];
        const char *s = l->s + l->indent;
        int n = l->len - l->indent, j = i + 1;
        while (j < to && I->L[j].indent > l->indent) j++;          /* body: lines i+1 .. j-1 */
        if (++I->ticks > 100000) { ip_fail(I, "runs too long", s, n); return 0; }
        if (l->indent != I->L[from].indent) { ip_fail(I, "bad indentation", s, n); return 0; }
        int block = n > 0 && s[n - 1] == ':';
        if (block && j == i + 1) { ip_fail(I, "empty block", s, n); return 0; }
        if (starts(s, n, "def ")) {
            cursor c = { s + 4, s + n, I, E };
            pfunc *f = &I->fn[I->nf < 8 ? I->nf++ : 7];
            f->npar = 0;
            if (!ident(&c, f->name) || !take(&c, "(")) { ip_fail(I, "bad def", s, n); return 0; }
            if (!take(&c, ")")) {
                do { if (f->npar == 3 || !ident(&c, f->par[f->npar++])) { ip_fail(I, "bad parameters", s, n); return 0; } }
                while (take(&c, ","));
                if (!take(&c, ")")) { ip_fail(I, "bad def", s, n); return 0; }
            }
            if (!take(&c, ":") || c.p != c.end) { ip_fail(I, "bad def", s, n); return 0; }
            f->body = i + 1; f->end = j;
            i = j;
        } else if (starts(s, n, "if ") && block) {
            int k = j, has_else = j < to && I->L[j].indent == l->indent && I->L[j].len - I->L[j].indent == 5 &&
                                  !strncmp(I->L[j].s + I->L[j].indent, "else:", 5);
            if (has_else) { k = j + 1; while (k < to && I->L[k].indent > l->indent) k++;
                            if (k == j + 1) { ip_fail(I, "empty else", s, n); return 0; } }
            int r = eval_all(I, E, s + 3, n - 4)
                ? exec_block(I, i + 1, j, E, ret)
                : has_else ? exec_block(I, j + 1, k, E, ret) : 0;
            if (r) return 1;
            i = k;
        } else if (starts(s, n, "else:")) {
            ip_fail(I, "else without if", s, n); return 0;
        } else if (starts(s, n, "for ") && block) {
            cursor c = { s + 4, s + n - 1, I, E };
            char var[24];
            if (!ident(&c, var) || !take(&c, "in") || !take(&c, "range(")) { ip_fail(I, "bad for", s, n); return 0; }
            long count = eval_all(I, E, c.p, (int)(c.end - c.p) - 1);
            if (c.end[-1] != ')') { ip_fail(I, "bad for", s, n); return 0; }
            for (long v = 0; v < count && !I->err; v++) {
                *lookup(E, var, 1) = v;
                if (exec_block(I, i + 1, j, E, ret)) return 1;
            }
            i = j;
        } else if (starts(s, n, "while ") && block) {
            while (!I->err && eval_all(I, E, s + 6, n - 7))
                if (exec_block(I, i + 1, j, E, ret)) return 1;
            i = j;
        } else if (starts(s, n, "return ")) {
            *ret = eval_all(I, E, s + 7, n - 7);
            return 1;
        } else if (starts(s, n, "print(") && s[n - 1] == ')') {
            I->printed = eval_all(I, E, s + 6, n - 7);
            I->nprinted++;
            i++;
        } else {
            cursor c = { s, s + n, I, E };
            char var[24];
            if (!ident(&c, var) || !take(&c, "=")) { ip_fail(I, "not a statement", s, n); return 0; }
            long v = eval_all(I, E, c.p, (int)(c.end - c.p));
            *lookup(E, var, 1) = v;
            i++;
        }
    }
    return 0;
}

/* Runs a program text (lines ending in '\n'); 0 and its one printed value, or -1. */
static int run_program(const char *src, int len, long *printed, char *why, size_t nwhy) {
    interp I;
    env global = { .n = 0 };
    long ret = 0;
    memset(&I, 0, sizeof(I));
    for (int at = 0; at < len; ) {
        const char *nl = memchr(src + at, '\n', (size_t)(len - at));
        if (!nl || I.nl == 40) { snprintf(why, nwhy, "program lines must end in newlines (at most 40)"); return -1; }
        pline *l = &I.L[I.nl++];
        l->s = src + at; l->len = (int)(nl - (src + at)); l->indent = 0;
        while (l->indent < l->len && l->s[l->indent] == ' ') l->indent++;
        if (l->indent == l->len) { snprintf(why, nwhy, "blank line in a program"); return -1; }
        at = (int)(nl - src) + 1;
    }
    if (I.nl == 0 || I.L[0].indent) { snprintf(why, nwhy, "empty or indented program"); return -1; }
    if (exec_block(&I, 0, I.nl, &global, &ret)) { snprintf(why, nwhy, "return outside a function"); return -1; }
    if (I.err) { snprintf(why, nwhy, "%s", I.why); return -1; }
    if (I.nprinted != 1) { snprintf(why, nwhy, "program printed %d values, want 1", I.nprinted); return -1; }
    *printed = I.printed;
    return 0;
}

/* prompt = program through its print(...) line, answer = "# N\n" with N what it prints */
static int check_code(const char *d, int len, int prompt, long gen_answer, char *why, size_t nwhy) {
    long printed, n;
    int used = 0;
    char ans[64];
    if (prompt < 8 || d[prompt - 1] != '\n' || len - prompt >= (int)sizeof(ans)) { snprintf(why, nwhy, "bad code boundaries"); return -1; }
    int ls = prompt - 1;
    while (ls > 0 && d[ls - 1] != '\n') ls--;
    if (strncmp(d + ls, "print(", 6) || d[prompt - 2] != ')') { snprintf(why, nwhy, "prompt does not end with a print(...) line"); return -1; }
    memcpy(ans, d + prompt, (size_t)(len - prompt)); ans[len - prompt] = '\0';
    if (sscanf(ans, "# %ld%n", &n, &used) != 1 || strcmp(ans + used, "\n")) { snprintf(why, nwhy, "answer is not \"# N\": \"%.100s\"", ans); return -1; }
    if (run_program(d, prompt, &printed, why, nwhy) < 0) return -1;
    if (printed != n) { snprintf(why, nwhy, "the program prints %ld, the answer line says %ld", printed, n); return -1; }
    if (n != gen_answer) { snprintf(why, nwhy, "text says %ld, generator says %ld", n, gen_answer); return -1; }
    return 0;
}

/* "Q: ...?\nA:\n" then only "x = N", "x = x op N" and "print(x)" lines, x a word of the question;
 * the program's value must be the question's answer. */
static int check_target(const char *d, int len, int prompt, long gen_answer, char *why, size_t nwhy) {
    char var[24] = "", name[32], q[256];
    long v = 0, want;
    int lines = 0, printed = 0;
    if (strncmp(d, "Q: ", 3) || prompt < 8 || strncmp(d + prompt - 4, "\nA:\n", 4) || memchr(d, '\n', (size_t)prompt - 4))
        { snprintf(why, nwhy, "prompt is not one \"Q: ...\" line then \"A:\\n\""); return -1; }
    for (int at = prompt; at < len; lines++) {
        const char *s = d + at, *nl = memchr(s, '\n', (size_t)(len - at));
        char line[128], op;
        long num;
        int used = -1;
        if (!nl || nl - s >= (int)sizeof(line) || printed) { snprintf(why, nwhy, "text after print or an unterminated line"); return -1; }
        memcpy(line, s, (size_t)(nl - s)); line[nl - s] = '\0';
        at += (int)(nl - s) + 1;
        if (lines == 0) {
            if (sscanf(line, "%23[a-z] = %ld%n", var, &num, &used) != 2 || line[used]) { snprintf(why, nwhy, "first line is not \"x = N\": \"%.100s\"", line); return -1; }
            v = num;
        } else if (sscanf(line, "%23[a-z] = %23[a-z] %c%n", name, q, &op, &used) == 3 && !strcmp(name, var) && !strcmp(q, var)) {
            if (op == '/' && line[used] == '/') used++;
            else if (op == '/') { snprintf(why, nwhy, "\"/\" is not integer division: \"%.100s\"", line); return -1; }
            int tail = 0;
            if (sscanf(line + used, " %ld%n", &num, &tail) != 1 || line[used + tail]) { snprintf(why, nwhy, "not \"x = x op N\": \"%.100s\"", line); return -1; }
            if (op == '+') v += num; else if (op == '-') v -= num; else if (op == '*') v *= num;
            else if (op == '/' && num && v % num == 0) v /= num;
            else { snprintf(why, nwhy, "bad step \"%.100s\"", line); return -1; }
        } else if (snprintf(q, sizeof(q), "print(%s)", var) > 0 && !strcmp(line, q)) {
            printed = 1;
        } else { snprintf(why, nwhy, "not in the restricted form: \"%.100s\"", line); return -1; }
    }
    if (!printed || lines != 3) { snprintf(why, nwhy, "want 3 lines ending in print(%s), got %d", var, lines); return -1; }
    snprintf(name, sizeof(name), " %s", var);
    if (prompt - 7 >= (int)sizeof(q)) { snprintf(why, nwhy, "question too long"); return -1; }
    memcpy(q, d + 3, (size_t)(prompt - 7)); q[prompt - 7] = '\0';
    if (!strstr(q, name)) { snprintf(why, nwhy, "variable \"%.100s\" is not named after the question's thing", var); return -1; }
    int rc = question_expect(d + 3, prompt - 7, &want, why, nwhy);
    if (rc < 0) return -1;
    if (rc > 0) { snprintf(why, nwhy, "target question is not one-step"); return -1; }
    if (v != want) { snprintf(why, nwhy, "the program computes %ld, the question's answer is %ld", v, want); return -1; }
    if (v != gen_answer) { snprintf(why, nwhy, "program computes %ld, generator says %ld", v, gen_answer); return -1; }
    return 0;
}

/* "Q: ...?\nA:" then " (op X Y) => Z\n": the question's two numbers in its order,
 * Z their value, which must be the question's answer. */
static int check_target_prefix(const char *d, int len, int prompt, long gen_answer, char *why, size_t nwhy) {
    char ans[128], op;
    long x, y, z, q;
    int used = -1;
    if (strncmp(d, "Q: ", 3) || prompt < 6 || strncmp(d + prompt - 3, "\nA:", 3) || memchr(d, '\n', (size_t)prompt - 3))
        { snprintf(why, nwhy, "prompt is not one \"Q: ...\" line then \"A:\""); return -1; }
    if (len - prompt >= (int)sizeof(ans)) { snprintf(why, nwhy, "bad answer length"); return -1; }
    memcpy(ans, d + prompt, (size_t)(len - prompt)); ans[len - prompt] = '\0';
    if (sscanf(ans, " (%c %ld %ld) => %ld%n", &op, &x, &y, &z, &used) != 4 || strcmp(ans + used, "\n") ||
        strncmp(ans, " (", 2))
        { snprintf(why, nwhy, "answer is not \" (op X Y) => Z\": \"%.100s\"", ans); return -1; }
    long want = op == '+' ? x + y : op == '-' ? x - y : op == '*' ? x * y : op == '/' && y && x % y == 0 ? x / y : -999999;
    if (want != z) { snprintf(why, nwhy, "(%c %ld %ld) is %ld, the answer says %ld", op, x, y, want, z); return -1; }
    int rc = question_expect(d + 3, prompt - 6, &q, why, nwhy);
    if (rc < 0) return -1;
    if (rc > 0) { snprintf(why, nwhy, "target question is not one-step"); return -1; }
    if (q != z) { snprintf(why, nwhy, "the expression gives %ld, the question's answer is %ld", z, q); return -1; }
    const char *first = d + 3;
    while (first < d + prompt && !isdigit((unsigned char)*first)) first++;
    if (strtol(first, NULL, 10) != x) { snprintf(why, nwhy, "the expression does not take the question's numbers in order"); return -1; }
    if (z != gen_answer) { snprintf(why, nwhy, "text says %ld, generator says %ld", z, gen_answer); return -1; }
    return 0;
}

/* Any document of a corpus, by the generator that wrote it. */
static int check_doc(const ml_corpus *c, int i, char *why, size_t nwhy) {
    const char *d = DOC(c, i);
    int len = c->doc_len[i], p = c->doc_prompt[i];
    switch (c->doc_kind[i]) {
    case ML_DOMAIN_MATH:   return check_math(d, len, p, c->doc_answer[i], why, nwhy);
    case ML_DOMAIN_CODE:   return check_code(d, len, p, c->doc_answer[i], why, nwhy);
    case ML_DOMAIN_TARGET: return check_target(d, len, p, c->doc_answer[i], why, nwhy);
    case ML_DOMAIN_TARGET_PREFIX: return check_target_prefix(d, len, p, c->doc_answer[i], why, nwhy);
    default:
        if (p != len) { snprintf(why, nwhy, "a base paragraph has an answer part"); return -1; }
        return 0;
    }
}

/* Layout: documents back to back, each ending in '\n' and followed by one
 * separator '\n'; no blank line inside a document; tokens match the text. */
static int check_layout(const ml_corpus *c, char *why, size_t nwhy) {
    size_t at = 0;
    for (int i = 0; i < c->ndocs; i++) {
        const char *d = DOC(c, i);
        int len = c->doc_len[i];
        if ((size_t)c->doc_start[i] != at) { snprintf(why, nwhy, "doc %d starts at %d, want %zu", i, c->doc_start[i], at); return -1; }
        if (len < 2 || d[len - 1] != '\n' || d[len] != '\n') { snprintf(why, nwhy, "doc %d does not end in \"\\n\" + separator", i); return -1; }
        for (int k = 0; k + 1 < len; k++)
            if (d[k] == '\n' && d[k + 1] == '\n') { snprintf(why, nwhy, "doc %d has a blank line inside", i); return -1; }
        if (c->doc_prompt[i] < 1 || c->doc_prompt[i] > len) { snprintf(why, nwhy, "doc %d prompt %d out of range", i, c->doc_prompt[i]); return -1; }
        if (c->doc_kind[i] != ML_DOMAIN_BASE && len > ML_TEXT_DOC_MAX) { snprintf(why, nwhy, "doc %d has %d chars > %d", i, len, ML_TEXT_DOC_MAX); return -1; }
        if (ml_text_split_of(d, (size_t)len) != c->split) { snprintf(why, nwhy, "doc %d belongs to another split", i); return -1; }
        at += (size_t)len + 1;
    }
    if (at != c->len || c->text[c->len] != '\0') { snprintf(why, nwhy, "documents cover %zu of %zu chars", at, c->len); return -1; }
    for (size_t k = 0; k < c->len; k++)
        if (c->tokens[k] < 0 || c->tokens[k] >= ML_VOCAB_SIZE || ml_vocab_decode(c->tokens[k]) != (unsigned char)c->text[k])
            { snprintf(why, nwhy, "token %zu (%d) is not char 0x%02x", k, c->tokens[k], (unsigned char)c->text[k]); return -1; }
    return 0;
}

/* How many documents of b also appear in a (hash + compare). */
typedef struct { uint64_t h; const char *s; int n; } dockey;
static uint64_t doc_hash(const char *s, int n) {
    uint64_t h = 1469598103934665603ULL;
    for (int i = 0; i < n; i++) { h ^= (unsigned char)s[i]; h *= 1099511628211ULL; }
    return h;
}
static int key_cmp(const void *x, const void *y) {
    const dockey *a = x, *b = y;
    if (a->h != b->h) return a->h < b->h ? -1 : 1;
    if (a->n != b->n) return a->n < b->n ? -1 : 1;
    return memcmp(a->s, b->s, (size_t)a->n);
}
static int count_shared(const ml_corpus *a, const ml_corpus *b) {
    dockey *keys = malloc((size_t)a->ndocs * sizeof(*keys));
    int shared = 0;
    if (!keys) return -1;
    for (int i = 0; i < a->ndocs; i++) keys[i] = (dockey){ doc_hash(DOC(a, i), a->doc_len[i]), DOC(a, i), a->doc_len[i] };
    qsort(keys, (size_t)a->ndocs, sizeof(*keys), key_cmp);
    for (int i = 0; i < b->ndocs; i++) {
        dockey k = { doc_hash(DOC(b, i), b->doc_len[i]), DOC(b, i), b->doc_len[i] };
        shared += bsearch(&k, keys, (size_t)a->ndocs, sizeof(*keys), key_cmp) != NULL;
    }
    free(keys);
    return shared;
}

/* Each batch row is a window of the corpus: x = tokens[o..o+T), y = tokens[o+1..o+T]. */
static int check_batch(const int32_t *x, const int32_t *y, const ml_corpus *c, int B, int T) {
    for (int b = 0; b < B; b++) {
        const int32_t *xr = x + (size_t)b * T, *yr = y + (size_t)b * T;
        int found = 0;
        for (int t = 0; t + 1 < T; t++) if (yr[t] != xr[t + 1]) return -1;   /* y is x shifted by one */
        for (size_t o = 0; o + (size_t)T < c->len && !found; o++)
            found = c->tokens[o] == xr[0] && !memcmp(c->tokens + o, xr, (size_t)T * 4) && c->tokens[o + T] == yr[T - 1];
        if (!found) return -1;
    }
    return 0;
}
/* Window w is tokens [w*(T+1), (w+1)*(T+1)). */
static int check_windows(const int32_t *x, const int32_t *y, const ml_corpus *c, int T, int W) {
    for (int w = 0; w < W; w++) {
        const int32_t *src = c->tokens + (size_t)w * (T + 1);
        if (memcmp(x + (size_t)w * T, src, (size_t)T * 4) || memcmp(y + (size_t)w * T, src + 1, (size_t)T * 4)) return -1;
    }
    return 0;
}

/* ---- tests ---- */

static void test_text__vocab_round_trip(void) {
    int seen[ML_VOCAB_SIZE] = { 0 };
    for (int ch = 0; ch < 256; ch++) {
        int id = ml_vocab_encode(ch);
        if (ch == '\n' || (ch >= 32 && ch <= 126)) {
            ML_ASSERT_MSG(id >= 0 && id < ML_VOCAB_SIZE, "char %d -> id %d", ch, id);
            ML_ASSERT_EQ_INT(ch, ml_vocab_decode(id));
            seen[id]++;
        } else {
            ML_ASSERT_EQ_INT(-1, id);
        }
    }
    for (int id = 0; id < ML_VOCAB_SIZE; id++) ML_ASSERT_EQ_INT(1, seen[id]);   /* a bijection */
    ML_ASSERT_EQ_INT(0, ml_vocab_encode('\n'));
    ML_ASSERT_EQ_INT(1, ml_vocab_encode(' '));
    ML_ASSERT_EQ_INT(95, ml_vocab_encode('~'));
    ML_ASSERT_EQ_INT(-1, ml_vocab_decode(-1));
    ML_ASSERT_EQ_INT(-1, ml_vocab_decode(ML_VOCAB_SIZE));
    ML_ASSERT_EQ_INT(-1, ml_vocab_encode('\t'));
}

static void test_text__domain_names(void) {
    ml_domain d = ML_DOMAIN_BASE;
    for (int i = 0; i < ML_DOMAIN_COUNT; i++) {
        ML_ASSERT_EQ_INT(0, ml_domain_parse(&d, ml_domain_name((ml_domain)i)));
        ML_ASSERT_EQ_INT(i, d);
    }
    ML_ASSERT(!strcmp(ml_domain_name(ML_DOMAIN_TARGET), "target"));
    ML_ASSERT_EQ_INT(ML_EINVALID, ml_domain_parse(&d, "maths"));
    ML_ASSERT_STR_HAS(ml_error_last()->message, "unknown text domain \"maths\" (expected one of: base, math, code, target, target_prefix)");
}

static void test_text__bad_arguments(void) {
    ml_corpus c;
    ml_text_options bad = { 0.7, 0.5 };
    ML_ASSERT_EQ_INT(ML_EINVALID, ml_corpus_generate(&c, ML_DOMAIN_MATH, 1, 3, 10));
    ML_ASSERT_STR_HAS(ml_error_last()->message, "split must be 0 (train), 1 (validation) or 2 (test), got 3");
    ML_ASSERT(c.text == NULL && c.ndocs == 0);
    ML_ASSERT_EQ_INT(ML_EINVALID, ml_corpus_generate(&c, ML_DOMAIN_MATH, 1, 0, 0));
    ML_ASSERT_STR_HAS(ml_error_last()->message, "ndocs must be >= 1, got 0");
    /* the first value past the table, whatever the number of domains */
    char past[64];
    snprintf(past, sizeof(past), "text domain %d out of range", (int)ML_DOMAIN_COUNT);
    ML_ASSERT_EQ_INT(ML_EINVALID, ml_corpus_generate(&c, ML_DOMAIN_COUNT, 1, 0, 5));
    ML_ASSERT_STR_HAS(ml_error_last()->message, past);
    ML_ASSERT_EQ_INT(ML_EINVALID, ml_corpus_generate(&c, (ml_domain)-1, 1, 0, 5));
    ML_ASSERT_STR_HAS(ml_error_last()->message, "text domain -1 out of range");
    ML_ASSERT_EQ_INT(ML_EINVALID, ml_corpus_generate_opts(&c, ML_DOMAIN_BASE, 1, 0, 5, &bad));
    ML_ASSERT_STR_HAS(ml_error_last()->message, "base mix fractions must be >= 0 with a sum <= 1, got math 0.7 code 0.5");
    ml_corpus_free(NULL);
    ml_corpus_free(&c);
    ML_ASSERT(c.text == NULL && c.tokens == NULL && c.len == 0);
}

static void test_text__determinism(void) {
    for (int d = 0; d < ML_DOMAIN_COUNT; d++) {
        ml_corpus a, b, other, longer;
        char hex[65];
        ML_ASSERT_EQ_INT(0, ml_corpus_generate(&a, (ml_domain)d, 7, 0, 300));
        ML_ASSERT_EQ_INT(0, ml_corpus_generate(&b, (ml_domain)d, 7, 0, 300));
        ML_ASSERT_EQ_INT(0, ml_corpus_generate(&other, (ml_domain)d, 8, 0, 300));
        ML_ASSERT_EQ_INT(0, ml_corpus_generate(&longer, (ml_domain)d, 7, 0, 301));
        ml_sha256_hex(hex, a.text, a.len);
        int same = a.len == b.len && !memcmp(a.text, b.text, a.len) && !strcmp(a.sha256, b.sha256);
        int differs = a.len != other.len || memcmp(a.text, other.text, a.len) != 0;
        int prefix = longer.len > a.len && !memcmp(longer.text, a.text, a.len);
        int hash_ok = !strcmp(hex, a.sha256);
        ml_corpus_free(&a); ml_corpus_free(&b); ml_corpus_free(&other); ml_corpus_free(&longer);
        ML_ASSERT_MSG(same, "%s: same arguments gave different text", ml_domain_name((ml_domain)d));
        ML_ASSERT_MSG(differs, "%s: seeds 7 and 8 gave the same text", ml_domain_name((ml_domain)d));
        ML_ASSERT_MSG(prefix, "%s: 300 docs are not a prefix of 301", ml_domain_name((ml_domain)d));
        ML_ASSERT(hash_ok);
    }
}

/* Pins the generators' output (seed 1, train, 100 docs of each domain): when
 * this fails on purpose, bump ML_TEXT_GENERATOR and record the new hashes. */
static void test_text__golden_hashes(void) {
    static const char *const want[ML_DOMAIN_COUNT] = {
        "030d41c83b6449cd835442cd6a90decc97b54ffe1c7c4e007b1cdfe88b7d1e5b",   /* base */
        "42c9392932a6cd27d0184604b693eb8a87f96d3367b7dc979fb59663f21903cd",   /* math */
        "71d2e2e944a2655e382c7525d45946249e785f29c7436002f5df5e7f5a00548e",   /* code */
        "00bf7ac66b201cdba30f386d77b808f67a647095925e160de315f5cf7bdfcccf",   /* target */
        "07f360a01d436121a69c603715d5ec032c6099c7aa3d00bf83756cc3facb0d93",   /* target_prefix */
    };
    ML_ASSERT(!strcmp(ML_TEXT_GENERATOR, "mergelab-text-1"));
    int changed = 0;
    for (int d = 0; d < ML_DOMAIN_COUNT; d++) {
        ml_corpus c;
        ML_ASSERT_EQ_INT(0, ml_corpus_generate(&c, (ml_domain)d, 1, 0, 100));
        if (strcmp(c.sha256, want[d])) {
            fprintf(stderr, "    %s: sha256 %s\n", ml_domain_name((ml_domain)d), c.sha256);
            changed++;
        }
        ml_corpus_free(&c);
    }
    ML_ASSERT_MSG(!changed, "%d domains' output changed: bump ML_TEXT_GENERATOR and update the hashes", changed);
}

static void test_text__documents_check(void) {
    char why[256];
    for (int d = 0; d < ML_DOMAIN_COUNT; d++)
        for (int split = 0; split < ML_SPLIT_COUNT; split++) {
            ml_corpus c;
            int bad = -1, kinds[ML_DOMAIN_COUNT] = { 0 };
            ML_ASSERT_EQ_INT(0, ml_corpus_generate(&c, (ml_domain)d, 3, split, 2000));
            int rc = check_layout(&c, why, sizeof(why));
            for (int i = 0; i < c.ndocs && rc == 0; i++) {
                kinds[c.doc_kind[i]]++;
                if (check_doc(&c, i, why, sizeof(why)) < 0) { rc = -1; bad = i; }
            }
            if (rc < 0 && bad >= 0) fprintf(stderr, "    doc %d:\n%.*s", bad, c.doc_len[bad], DOC(&c, bad));
            ml_corpus_free(&c);
            ML_ASSERT_MSG(rc == 0, "%s split %d: %s", ml_domain_name((ml_domain)d), split, why);
            if (d != ML_DOMAIN_BASE) ML_ASSERT_EQ_INT(2000, kinds[d]);
        }
}

static void test_text__splits_disjoint(void) {
    for (int d = 0; d < ML_DOMAIN_COUNT; d++) {
        ml_corpus s[3];
        int sizes[3] = { 2000, 200, 200 }, shared[3];
        for (int k = 0; k < 3; k++) ML_ASSERT_EQ_INT(0, ml_corpus_generate(&s[k], (ml_domain)d, 11, k, sizes[k]));
        shared[0] = count_shared(&s[0], &s[1]);
        shared[1] = count_shared(&s[0], &s[2]);
        shared[2] = count_shared(&s[1], &s[2]);
        int self = count_shared(&s[1], &s[1]);
        for (int k = 0; k < 3; k++) ml_corpus_free(&s[k]);
        ML_ASSERT_MSG(shared[0] == 0 && shared[1] == 0 && shared[2] == 0,
                      "%s: %d train/valid, %d train/test, %d valid/test documents shared",
                      ml_domain_name((ml_domain)d), shared[0], shared[1], shared[2]);
        ML_ASSERT_EQ_INT(200, self);   /* the checker does see shared documents */
    }
}

/* Without the split rule, independent streams would repeat documents
 * across splits for small spaces; here the whole space of the smallest
 * domain (target) is large enough that 2000 train docs are mostly distinct. */
static void test_text__variety(void) {
    for (int d = 0; d < ML_DOMAIN_COUNT; d++) {
        ml_corpus c;
        ML_ASSERT_EQ_INT(0, ml_corpus_generate(&c, (ml_domain)d, 5, 0, 2000));
        dockey *keys = malloc(2000 * sizeof(*keys));
        ML_ASSERT(keys);
        for (int i = 0; i < c.ndocs; i++) keys[i] = (dockey){ doc_hash(DOC(&c, i), c.doc_len[i]), DOC(&c, i), c.doc_len[i] };
        qsort(keys, 2000, sizeof(*keys), key_cmp);
        int distinct = 1;
        for (int i = 1; i < 2000; i++) distinct += key_cmp(&keys[i - 1], &keys[i]) != 0;
        free(keys);
        ml_corpus_free(&c);
        ML_ASSERT_MSG(distinct >= 1980, "%s: only %d of 2000 documents distinct", ml_domain_name((ml_domain)d), distinct);
    }
}

static void test_text__base_mix(void) {
    ml_corpus c;
    ml_text_options mostly_math = { 0.30, 0.10 }, none = { 0.0, 0.0 };
    char why[256];
    ML_ASSERT_EQ_INT(0, ml_corpus_generate(&c, ML_DOMAIN_BASE, 2, 0, 5000));
    int n[ML_DOMAIN_COUNT] = { 0 }, rc = 0;
    for (int i = 0; i < c.ndocs; i++) {
        n[c.doc_kind[i]]++;
        if (c.doc_kind[i] == ML_DOMAIN_MATH && strncmp(DOC(&c, i), "Q: ", 3)) rc = -1;
        if (check_doc(&c, i, why, sizeof(why)) < 0) rc = -1;
    }
    ml_corpus_free(&c);
    ML_ASSERT_EQ_INT(0, rc);
    ML_ASSERT_EQ_INT(0, n[ML_DOMAIN_TARGET]);
    ML_ASSERT_NEAR(0.04, n[ML_DOMAIN_MATH] / 5000.0, 0.02, 0);
    ML_ASSERT_NEAR(0.04, n[ML_DOMAIN_CODE] / 5000.0, 0.02, 0);
    ML_ASSERT_EQ_INT(0, ml_corpus_generate_opts(&c, ML_DOMAIN_BASE, 2, 0, 5000, &mostly_math));
    memset(n, 0, sizeof(n));
    for (int i = 0; i < c.ndocs; i++) n[c.doc_kind[i]]++;
    ml_text_options used = c.opts;
    ml_corpus_free(&c);
    ML_ASSERT_NEAR(0.30, n[ML_DOMAIN_MATH] / 5000.0, 0.02, 0);
    ML_ASSERT_NEAR(0.10, n[ML_DOMAIN_CODE] / 5000.0, 0.02, 0);
    ML_ASSERT(used.base_math == 0.30 && used.base_code == 0.10);
    ML_ASSERT_EQ_INT(0, ml_corpus_generate_opts(&c, ML_DOMAIN_BASE, 2, 0, 1000, &none));
    memset(n, 0, sizeof(n));
    for (int i = 0; i < c.ndocs; i++) n[c.doc_kind[i]]++;
    ml_corpus_free(&c);
    ML_ASSERT_EQ_INT(1000, n[ML_DOMAIN_BASE]);
}

static void test_text__base_vocabulary_size(void) {
    ml_corpus c;
    char (*words)[32] = calloc(4096, 32);
    int nw = 0, punct[128] = { 0 };
    ML_ASSERT(words);
    ML_ASSERT_EQ_INT(0, ml_corpus_generate_opts(&c, ML_DOMAIN_BASE, 4, 0, 3000, &(ml_text_options){ 0, 0 }));
    for (size_t i = 0; i < c.len; ) {
        if (!isalpha((unsigned char)c.text[i])) { punct[(unsigned char)c.text[i]]++; i++; continue; }
        char w[32]; int n = 0;
        while (i < c.len && isalpha((unsigned char)c.text[i])) { if (n < 31) w[n++] = (char)tolower((unsigned char)c.text[i]); i++; }
        w[n] = '\0';
        int k;
        for (k = 0; k < nw && strcmp(words[k], w); k++) {}
        if (k == nw && nw < 4096) strcpy(words[nw++], w);
    }
    ml_corpus_free(&c);
    free(words);
    ML_ASSERT_MSG(nw >= 300 && nw <= 600, "base uses %d distinct words", nw);
    ML_ASSERT(punct['.'] && punct[','] && punct['?'] && punct['!'] && punct[';'] && punct['"']);
}

static void test_text__batch_windows(void) {
    ml_corpus c;
    enum { B = 8, T = 64 };
    int32_t x[B * T], y[B * T], x2[B * T], y2[B * T];
    ML_ASSERT_EQ_INT(0, ml_corpus_generate(&c, ML_DOMAIN_CODE, 1, 0, 200));
    int rc = 0, same = 1, moved = 0;
    for (uint64_t step = 0; step < 5; step++) {
        rc |= ml_corpus_batch(x, y, &c, B, T, 42, 9, step);
        rc |= check_batch(x, y, &c, B, T);
        rc |= ml_corpus_batch(x2, y2, &c, B, T, 42, 9, step);
        same &= !memcmp(x, x2, sizeof(x)) && !memcmp(y, y2, sizeof(y));
        rc |= ml_corpus_batch(x2, y2, &c, B, T, 42, 9, step + 1);
        moved |= memcmp(x, x2, sizeof(x)) != 0;
    }
    y[3] ^= 1;                                  /* a corrupted target is caught */
    int caught = check_batch(x, y, &c, B, T) < 0;
    ml_corpus tiny;
    int rc_short = ml_corpus_generate(&tiny, ML_DOMAIN_CODE, 1, 0, 1);
    int rc_small = rc_short ? rc_short : ml_corpus_batch(x, y, &tiny, 1, 1000, 1, 1, 0);
    ml_corpus_free(&tiny);
    ml_corpus_free(&c);
    ML_ASSERT_EQ_INT(0, rc);
    ML_ASSERT(same && moved && caught);
    ML_ASSERT_EQ_INT(ML_EINVALID, rc_small);
    ML_ASSERT_STR_HAS(ml_error_last()->message, "a window needs T+1 = 1001");
}

static void test_text__eval_windows(void) {
    ml_corpus c;
    enum { T = 32 };
    ML_ASSERT_EQ_INT(0, ml_corpus_generate(&c, ML_DOMAIN_MATH, 1, 1, 20));
    int avail = (int)(c.len / (T + 1));
    int32_t *x = malloc((size_t)avail * T * 4), *y = malloc((size_t)avail * T * 4);
    ML_ASSERT(x && y);
    int counted = ml_corpus_eval_windows(NULL, NULL, &c, T, 1 << 30);
    int W = ml_corpus_eval_windows(x, y, &c, T, 1 << 30);
    int capped = ml_corpus_eval_windows(x, y, &c, T, 3);
    int ok = check_windows(x, y, &c, T, W);
    x[T] = (x[T] + 1) % ML_VOCAB_SIZE;            /* a wrong token in window 1 is caught */
    int caught = check_windows(x, y, &c, T, W) < 0;
    free(x); free(y);
    ml_corpus_free(&c);
    ML_ASSERT_EQ_INT(avail, counted);
    ML_ASSERT_EQ_INT(avail, W);
    ML_ASSERT_EQ_INT(3, capped);
    ML_ASSERT_EQ_INT(0, ok);
    ML_ASSERT(caught);
}

static const char *const MATH_OK = "Q: Mia has 7 pens. She buys 5 more. How many pens now?\nA: 7 + 5 = 12. The answer is 12.\n";
static const char *const CODE_OK = "def f(a, b):\n    c = a * b\n    return c + 3\nprint(f(4, 6))\n# 27\n";
static const char *const TARGET_OK = "Q: Mia has 7 pens. She buys 5 more. How many pens now?\nA:\npens = 7\npens = pens + 5\nprint(pens)\n";

static int math_of(const char *doc, long gen, char *why) {
    int len = (int)strlen(doc), p = (int)(strstr(doc, "\nA:") - doc) + 3;
    return check_math(doc, len, p, gen, why, 256);
}
static int code_of(const char *doc, long gen, char *why) {
    int len = (int)strlen(doc), p = (int)(strstr(doc, "# ") - doc);
    return check_code(doc, len, p, gen, why, 256);
}
static int target_of(const char *doc, long gen, char *why) {
    int len = (int)strlen(doc), p = (int)(strstr(doc, "\nA:\n") - doc) + 4;
    return check_target(doc, len, p, gen, why, 256);
}

static void test_text__math_checker_negative(void) {
    char why[256];
    ML_ASSERT_EQ_INT(0, math_of(MATH_OK, 12, why));
    ML_ASSERT_EQ_INT(-1, math_of("Q: Mia has 7 pens. She buys 5 more. How many pens now?\nA: 7 + 5 = 12. The answer is 13.\n", 12, why));
    ML_ASSERT_STR_HAS(why, "the answer is 13 but the worked line gives 12");
    ML_ASSERT_EQ_INT(-1, math_of("Q: Mia has 7 pens. She buys 5 more. How many pens now?\nA: 7 + 5 = 13. The answer is 13.\n", 13, why));
    ML_ASSERT_STR_HAS(why, "worked line says 7 + 5 = 13, it is 12");
    ML_ASSERT_EQ_INT(-1, math_of("Q: Mia has 7 pens. She buys 5 more. How many pens now?\nA: 7 - 5 = 2. The answer is 2.\n", 2, why));
    ML_ASSERT_STR_HAS(why, "the question's answer is 12, the text says 2");
    ML_ASSERT_EQ_INT(-1, math_of(MATH_OK, 11, why));
    ML_ASSERT_STR_HAS(why, "text says 12, generator says 11");
    ML_ASSERT_EQ_INT(-1, math_of("Q: Mia has 9 pens, buys 5 and gives 3 away. How many now?\nA: 9 + 5 = 14. 13 - 3 = 10. The answer is 10.\n", 10, why));
    ML_ASSERT_STR_HAS(why, "step 2 starts from 13, not 14");
    ML_ASSERT_EQ_INT(-1, math_of("Q: Mia has 7 pens. She buys 5 more. How many pens now?\nA: 7 + 5 = 12.\n", 12, why));
    ML_ASSERT_STR_HAS(why, "does not end with \"The answer is N.\"");
}

static void test_text__code_interpreter(void) {
    char why[256];
    long v = 0;
    static const struct { const char *src; long want; } progs[] = {
        { "def f(a, b):\n    c = a * b\n    return c + 3\nprint(f(4, 6))\n", 27 },
        { "s = 1\nfor i in range(4):\n    s = s + i * 3\nprint(s)\n", 19 },
        { "x = 7\nif x >= 8:\n    x = x - 1\nelse:\n    x = x * 2\nprint(x)\n", 14 },
        { "a = 30\nn = 0\nwhile a > 4:\n    a = a - 7\n    n = n + 1\nprint(n)\n", 4 },
        { "def g(n):\n    if n < 5:\n        return n + 1\n    return n - 10\nprint(g(g(3)))\n", 5 },
        { "a = 2\nb = 3\nc = a + b * 4 - 1\nprint(c // 3 + (a - b) * 2)\n", 2 },
    };
    for (size_t k = 0; k < sizeof(progs) / sizeof(progs[0]); k++) {
        int rc = run_program(progs[k].src, (int)strlen(progs[k].src), &v, why, sizeof(why));
        ML_ASSERT_MSG(rc == 0 && v == progs[k].want, "program %zu: rc %d value %ld want %ld (%s)", k, rc, v, progs[k].want, why);
    }
    const char *bad = "x = 1\nprint(y)\n";
    ML_ASSERT_EQ_INT(-1, run_program(bad, (int)strlen(bad), &v, why, sizeof(why)));
    ML_ASSERT_STR_HAS(why, "undefined name at \"y\"");
}

static void test_text__code_checker_negative(void) {
    char why[256];
    ML_ASSERT_EQ_INT(0, code_of(CODE_OK, 27, why));
    ML_ASSERT_EQ_INT(-1, code_of("def f(a, b):\n    c = a * b\n    return c + 3\nprint(f(4, 6))\n# 28\n", 28, why));
    ML_ASSERT_STR_HAS(why, "the program prints 27, the answer line says 28");
    ML_ASSERT_EQ_INT(-1, code_of(CODE_OK, 26, why));
    ML_ASSERT_STR_HAS(why, "text says 27, generator says 26");
    ML_ASSERT_EQ_INT(-1, code_of("def f(a, b):\n    c = a * b\n    return c + 3\nf(4, 6)\n# 27\n", 27, why));
    ML_ASSERT_STR_HAS(why, "prompt does not end with a print(...) line");
}

static void test_text__target_checker_negative(void) {
    char why[256];
    ML_ASSERT_EQ_INT(0, target_of(TARGET_OK, 12, why));
    ML_ASSERT_EQ_INT(-1, target_of("Q: Mia has 7 pens. She buys 5 more. How many pens now?\nA:\npens = 7\npens = pens + 6\nprint(pens)\n", 13, why));
    ML_ASSERT_STR_HAS(why, "the program computes 13, the question's answer is 12");
    ML_ASSERT_EQ_INT(-1, target_of("Q: Mia has 7 pens. She buys 5 more. How many pens now?\nA:\npens = 7\npens += 5\nprint(pens)\n", 12, why));
    ML_ASSERT_STR_HAS(why, "not in the restricted form: \"pens += 5\"");
    ML_ASSERT_EQ_INT(-1, target_of("Q: Mia has 7 pens. She buys 5 more. How many pens now?\nA:\ncups = 7\ncups = cups + 5\nprint(cups)\n", 12, why));
    ML_ASSERT_STR_HAS(why, "variable \"cups\" is not named after the question's thing");
    ML_ASSERT_EQ_INT(-1, target_of("Q: Mia shares 24 pens among 4 kids. How many does each get?\nA:\npens = 24\npens = pens / 4\nprint(pens)\n", 6, why));
    ML_ASSERT_STR_HAS(why, "\"/\" is not integer division");
    ML_ASSERT_EQ_INT(-1, target_of(TARGET_OK, 11, why));
    ML_ASSERT_STR_HAS(why, "program computes 12, generator says 11");
}

static int prefix_of(const char *doc, long gen, char *why) {
    int len = (int)strlen(doc), p = (int)(strstr(doc, "\nA:") - doc) + 3;
    return check_target_prefix(doc, len, p, gen, why, 256);
}

static void test_text__target_prefix_checker_negative(void) {
    char why[256];
    const char *q = "Q: Mia has 7 pens. She buys 5 more. How many pens now?\nA:";
    char doc[256];
    snprintf(doc, sizeof(doc), "%s (+ 7 5) => 12\n", q);
    ML_ASSERT_EQ_INT(0, prefix_of(doc, 12, why));
    snprintf(doc, sizeof(doc), "%s (+ 7 5) => 13\n", q);
    ML_ASSERT_EQ_INT(-1, prefix_of(doc, 13, why));
    ML_ASSERT_STR_HAS(why, "(+ 7 5) is 12, the answer says 13");
    snprintf(doc, sizeof(doc), "%s (- 7 5) => 2\n", q);
    ML_ASSERT_EQ_INT(-1, prefix_of(doc, 2, why));
    ML_ASSERT_STR_HAS(why, "the expression gives 2, the question's answer is 12");
    snprintf(doc, sizeof(doc), "%s (+ 5 7) => 12\n", q);
    ML_ASSERT_EQ_INT(-1, prefix_of(doc, 12, why));
    ML_ASSERT_STR_HAS(why, "the question's numbers in order");
    snprintf(doc, sizeof(doc), "%s 7 + 5 = 12\n", q);
    ML_ASSERT_EQ_INT(-1, prefix_of(doc, 12, why));
    ML_ASSERT_STR_HAS(why, "answer is not \" (op X Y) => Z\"");
    snprintf(doc, sizeof(doc), "%s (+ 7 5) => 12\n", q);
    ML_ASSERT_EQ_INT(-1, prefix_of(doc, 11, why));
    ML_ASSERT_STR_HAS(why, "text says 12, generator says 11");
}

static void test_text__split_checker_negative(void) {
    ml_corpus a, b;
    ML_ASSERT_EQ_INT(0, ml_corpus_generate(&a, ML_DOMAIN_TARGET, 1, 0, 50));
    ML_ASSERT_EQ_INT(0, ml_corpus_generate(&b, ML_DOMAIN_TARGET, 1, 0, 20));   /* a prefix of a */
    int shared = count_shared(&a, &b);
    char why[256];
    b.split = 1;                                 /* claims to be validation: layout check sees it */
    int layout = check_layout(&b, why, sizeof(why));
    ml_corpus_free(&a); ml_corpus_free(&b);
    ML_ASSERT_EQ_INT(20, shared);
    ML_ASSERT_EQ_INT(-1, layout);
    ML_ASSERT_STR_HAS(why, "doc 0 belongs to another split");
}

static void test_text__speed(void) {
    for (int d = 0; d < ML_DOMAIN_COUNT; d++) {
        ml_corpus c;
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        ML_ASSERT_EQ_INT(0, ml_corpus_generate(&c, (ml_domain)d, 9, 1, 20000));   /* validation: most redraws */
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double s = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) * 1e-9;
        fprintf(stderr, "    %-6s 20000 docs, %8zu chars: %.3f s\n", ml_domain_name((ml_domain)d), c.len, s);
        ml_corpus_free(&c);
        ML_ASSERT_MSG(s < 3.0, "%s: %.2f s for 20000 documents", ml_domain_name((ml_domain)d), s);
    }
}

static void test_text__samples(void) {
    for (int d = 0; d < ML_DOMAIN_COUNT; d++) {
        ml_corpus c;
        ML_ASSERT_EQ_INT(0, ml_corpus_generate(&c, (ml_domain)d, 1, 0, 2));
        fprintf(stderr, "    --- %s (prompt | answer)\n", ml_domain_name((ml_domain)d));
        for (int i = 0; i < c.ndocs; i++)
            fprintf(stderr, "%.*s|%.*s\n", c.doc_prompt[i], DOC(&c, i),
                    c.doc_len[i] - c.doc_prompt[i], DOC(&c, i) + c.doc_prompt[i]);
        ml_corpus_free(&c);
    }
}

const ml_test ml_tests_text[] = {
    { "text__vocab_round_trip",         test_text__vocab_round_trip,         "unit" },
    { "text__domain_names",             test_text__domain_names,             "unit" },
    { "text__bad_arguments",            test_text__bad_arguments,            "unit" },
    { "text__determinism",              test_text__determinism,              "unit" },
    { "text__golden_hashes",            test_text__golden_hashes,            "unit" },
    { "text__documents_check",          test_text__documents_check,          "unit" },
    { "text__splits_disjoint",          test_text__splits_disjoint,          "unit" },
    { "text__variety",                  test_text__variety,                  "unit" },
    { "text__base_mix",                 test_text__base_mix,                 "unit" },
    { "text__base_vocabulary_size",     test_text__base_vocabulary_size,     "unit" },
    { "text__batch_windows",            test_text__batch_windows,            "unit" },
    { "text__eval_windows",             test_text__eval_windows,             "unit" },
    { "text__math_checker_negative",    test_text__math_checker_negative,    "unit" },
    { "text__target_prefix_checker_negative", test_text__target_prefix_checker_negative, "unit" },
    { "text__code_interpreter",         test_text__code_interpreter,         "unit" },
    { "text__code_checker_negative",    test_text__code_checker_negative,    "unit" },
    { "text__target_checker_negative",  test_text__target_checker_negative,  "unit" },
    { "text__split_checker_negative",   test_text__split_checker_negative,   "unit" },
    { "text__speed",                    test_text__speed,                    "unit" },
    { "text__samples",                  test_text__samples,                  "unit" },
    { 0 },
};
