/*
 * data/text_gen.c: the document writers of the text domains (see text.h):
 * a small English grammar (base), arithmetic word problems with worked
 * answers (math), small Python-like programs with their printed result
 * (code), and word problems answered by a program (target) or by a prefix
 * expression (target_prefix).
 * Not here: splits, rejection of long or wrong-split draws, the corpus
 * layout (data/text.c). Every writer takes all its randomness from
 * ml_text__rng and computes its numeric answer in C, apart from the text.
 */
#include "data/text.h"
#include "kernels/rng.h"

#include <string.h>

#define N_(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* ---- draws and output ---- */

static int pick(ml_text__rng *r, int n) {
    return (int)ml_rng_below(r->seed, r->stream, r->base + (uint64_t)r->k++, (uint64_t)n);
}
static int between(ml_text__rng *r, int lo, int hi) { return lo + pick(r, hi - lo + 1); }   /* inclusive */
static int chance(ml_text__rng *r, int percent) { return pick(r, 100) < percent; }

static void put(ml_text__doc *g, const char *s) {
    size_t n = strlen(s);
    if (g->len + n >= sizeof(g->text)) { g->overflow = 1; return; }
    memcpy(g->text + g->len, s, n);
    g->len += (int)n;
}
static void put_int(ml_text__doc *g, long v) {
    char tmp[24];
    int n = 0, neg = v < 0;
    unsigned long u = neg ? 0ul - (unsigned long)v : (unsigned long)v;
    do { tmp[n++] = (char)('0' + u % 10); u /= 10; } while (u);
    if (neg) tmp[n++] = '-';
    char out[24];
    for (int i = 0; i < n; i++) out[i] = tmp[n - 1 - i];
    out[n] = '\0';
    put(g, out);
}
/* A template with $1..$9 replaced by args[0..8] (strings). */
static void putf(ml_text__doc *g, const char *tpl, const char *const *args) {
    char lit[2] = { 0, 0 };
    for (const char *p = tpl; *p; p++) {
        if (*p == '$' && p[1] >= '1' && p[1] <= '9') { put(g, args[p[1] - '1']); p++; }
        else { lit[0] = *p; put(g, lit); }
    }
}
static void itoa_into(char *buf, long v) {
    ml_text__doc t;
    t.len = 0; t.overflow = 0;
    put_int(&t, v);
    memcpy(buf, t.text, (size_t)t.len);
    buf[t.len] = '\0';
}

/* ---- shared vocabulary ---- */

typedef struct { const char *name; int she; } person;
static const person people[] = {
    { "Mia", 1 }, { "Leo", 0 }, { "Ava", 1 }, { "Sam", 0 }, { "Zoe", 1 }, { "Max", 0 }, { "Ivy", 1 },
    { "Ben", 0 }, { "Ada", 1 }, { "Tom", 0 }, { "Eva", 1 }, { "Dan", 0 }, { "Lily", 1 }, { "Noah", 0 },
    { "Emma", 1 }, { "Liam", 0 }, { "Ruby", 1 }, { "Jack", 0 }, { "Nora", 1 }, { "Owen", 0 },
    { "Rosa", 1 }, { "Hugo", 0 }, { "Lena", 1 }, { "Omar", 0 }, { "Ines", 1 }, { "Ravi", 0 },
    { "Yuki", 1 }, { "Kofi", 0 }, { "Anna", 1 }, { "Eli", 0 }, { "Maya", 1 }, { "Luca", 0 },
    { "Sara", 1 }, { "Finn", 0 }, { "Tara", 1 }, { "Ivan", 0 }, { "Nina", 1 }, { "Theo", 0 },
    { "Alma", 1 }, { "Raj", 0 },
};

/* ---- math and target: word problems ---- */

static const char *const things[] = {   /* plural, usable as a Python name */
    "pens", "cups", "eggs", "books", "toys", "cards", "coins", "shells", "apples", "stamps",
    "rocks", "beads", "hats", "keys", "socks", "balls", "kites", "cakes", "pies", "plums",
    "nuts", "pears", "figs", "dolls", "bells", "rings", "seeds", "boats", "bikes", "buns",
    "candles", "flowers", "pencils", "marbles", "cookies", "lemons", "ribbons", "mugs",
};
typedef struct { const char *one, *many; } holder;
static const holder holders[] = {
    { "bag", "bags" }, { "box", "boxes" }, { "jar", "jars" }, { "pack", "packs" }, { "crate", "crates" },
    { "basket", "baskets" }, { "tray", "trays" }, { "tin", "tins" }, { "bowl", "bowls" },
};
static const char *const kids[] = { "friends", "kids", "cousins", "classmates", "neighbours" };

enum { STORY_ADD, STORY_SUB, STORY_MUL, STORY_DIV,          /* one step: math and target */
       STORY_ADD_SUB, STORY_MUL_ADD, STORY_SUB_SUB,          /* two steps: math only */
       STORY_COUNT, STORY_ONE_STEP = STORY_ADD_SUB };

typedef struct {
    int kind, phrasing;
    const person *who, *other, *third;
    const char *thing, *kid;
    const holder *box;
    long a, b, c;       /* the numbers as the question states them */
    long mid, result;   /* after the first step, and the answer */
} story;

static void story_draw(story *s, ml_text__rng *r, int one_step_only) {
    memset(s, 0, sizeof(*s));
    s->kind = pick(r, one_step_only ? STORY_ONE_STEP : STORY_COUNT);
    s->phrasing = pick(r, 3);
    s->who = &people[pick(r, N_(people))];
    do s->other = &people[pick(r, N_(people))]; while (s->other == s->who);
    do s->third = &people[pick(r, N_(people))]; while (s->third == s->who || s->third == s->other);
    s->thing = things[pick(r, N_(things))];
    s->box = &holders[pick(r, N_(holders))];
    s->kid = kids[pick(r, N_(kids))];
    switch (s->kind) {
    case STORY_ADD:
        s->a = between(r, 2, 99); s->b = between(r, 2, 99); s->result = s->a + s->b; break;
    case STORY_SUB:
        s->a = between(r, 3, 99); s->b = between(r, 2, (int)s->a - 1); s->result = s->a - s->b; break;
    case STORY_MUL:
        s->a = between(r, 2, 12); s->b = between(r, 2, 12); s->result = s->a * s->b; break;
    case STORY_DIV:   /* shares exactly: a = b * q */
        s->b = between(r, 2, 9); s->result = between(r, 2, 99 / (int)s->b); s->a = s->b * s->result; break;
    case STORY_ADD_SUB:
        s->a = between(r, 2, 60); s->b = between(r, 2, 39); s->mid = s->a + s->b;
        s->c = between(r, 2, (int)s->mid - 1); s->result = s->mid - s->c; break;
    case STORY_MUL_ADD:
        s->a = between(r, 2, 9); s->b = between(r, 2, 9); s->mid = s->a * s->b;
        s->c = between(r, 2, 30); s->result = s->mid + s->c; break;
    default:          /* STORY_SUB_SUB */
        s->a = between(r, 10, 99); s->b = between(r, 2, (int)s->a - 3); s->mid = s->a - s->b;
        s->c = between(r, 2, (int)s->mid - 1); s->result = s->mid - s->c; break;
    }
}

/* "Q: ...?\n". In the phrasings $N is the name, $P She/He, $p she/he, $A $B $C the
 * numbers, $X the thing, $O the other person, $T a third, $K the kids, $H a holder
 * and $S holders. */
static void story_question(ml_text__doc *g, const story *s) {
    static const char *const tpl[STORY_COUNT][3] = {
        [STORY_ADD] = { "$N has $A $X. $P buys $B more. How many $X now?",
                        "$N had $A $X and found $B more. How many $X does $p have?",
                        "$N has $A $X. $O gives $N $B more. How many $X now?" },
        [STORY_SUB] = { "$N has $A $X. $P gives $B to $O. How many $X are left?",
                        "$N had $A $X and lost $B. How many $X are left?",
                        "$N has $A $X and sells $B. How many $X remain?" },
        [STORY_MUL] = { "$N has $A $S with $B $X each. How many $X in all?",
                        "$N buys $A $S of $B $X. How many $X is that?",
                        "$N fills $A $S with $B $X each. How many $X in all?" },
        [STORY_DIV] = { "$N shares $A $X among $B $K. How many does each get?",
                        "$N puts $A $X into $B $S equally. How many $X per $H?",
                        "$N splits $A $X into $B equal groups. How many $X per group?" },
        [STORY_ADD_SUB] = { "$N has $A $X, buys $B and gives $C away. How many now?",
                            "$N had $A $X, found $B more and lost $C. How many now?",
                            "$N has $A $X. $P gets $B more and sells $C. How many now?" },
        [STORY_MUL_ADD] = { "$N buys $A $S of $B $X and has $C more. How many in all?",
                            "$N has $A $S of $B $X and $C loose ones. How many in all?",
                            "$N packs $A $S of $B $X plus $C spare. How many in all?" },
        [STORY_SUB_SUB] = { "$N has $A $X, gives $B to $O and $C to $T. How many are left?",
                            "$N had $A $X, lost $B and sold $C. How many are left?",
                            "$N has $A $X, eats $B and gives away $C. How many remain?" },
    };
    put(g, "Q: ");
    for (const char *p = tpl[s->kind][s->phrasing]; *p; p++) {
        if (*p != '$') { char lit[2] = { *p, 0 }; put(g, lit); continue; }
        switch (*++p) {
        case 'N': put(g, s->who->name); break;
        case 'P': put(g, s->who->she ? "She" : "He"); break;
        case 'p': put(g, s->who->she ? "she" : "he"); break;
        case 'A': put_int(g, s->a); break;
        case 'B': put_int(g, s->b); break;
        case 'C': put_int(g, s->c); break;
        case 'X': put(g, s->thing); break;
        case 'O': put(g, s->other->name); break;
        case 'T': put(g, s->third->name); break;
        case 'K': put(g, s->kid); break;
        case 'H': put(g, s->box->one); break;
        default:  put(g, s->box->many); break;   /* 'S' */
        }
    }
    put(g, "\n");
}

static const char story_op1[STORY_COUNT] = { '+', '-', '*', '/', '+', '*', '-' };
static const char story_op2[STORY_COUNT] = { 0, 0, 0, 0, '-', '+', '-' };

/* " 7 + 5 = 12. The answer is 12.\n" (two-step stories show both lines). */
static void math_answer(ml_text__doc *g, const story *s) {
    char op[4] = { ' ', story_op1[s->kind], ' ', 0 };
    put(g, " "); put_int(g, s->a); put(g, op); put_int(g, s->b); put(g, " = ");
    if (story_op2[s->kind]) {
        put_int(g, s->mid); put(g, ". ");
        op[1] = story_op2[s->kind];
        put_int(g, s->mid); put(g, op); put_int(g, s->c); put(g, " = ");
    }
    put_int(g, s->result);
    put(g, ". The answer is "); put_int(g, s->result); put(g, ".\n");
}

static void write_math(ml_text__doc *g, ml_text__rng *r) {
    story s;
    story_draw(&s, r, 0);
    story_question(g, &s);
    put(g, "A:");
    g->prompt = g->len;
    math_answer(g, &s);
    g->answer = s.result;
}

/* pens = 7\npens = pens + 5\nprint(pens)\n: a variable named after the thing, one
 * statement per step of the story. (A "def solution():" wrapper with a return
 * does not fit ML_TEXT_DOC_MAX next to the question.) */
static void write_target(ml_text__doc *g, ml_text__rng *r) {
    static const char *const pyop[STORY_ONE_STEP] = { " + ", " - ", " * ", " // " };
    story s;
    story_draw(&s, r, 1);
    story_question(g, &s);
    put(g, "A:\n");
    g->prompt = g->len;
    int swap = s.kind == STORY_MUL;     /* "6 tins with 10 books each": books = 10, then * 6 */
    put(g, s.thing); put(g, " = "); put_int(g, swap ? s.b : s.a); put(g, "\n");
    put(g, s.thing); put(g, " = "); put(g, s.thing); put(g, pyop[s.kind]); put_int(g, swap ? s.a : s.b); put(g, "\n");
    put(g, "print("); put(g, s.thing); put(g, ")\n");
    g->answer = s.result;
}

/* " (+ 7 5) => 12\n": the story's one step as a prefix expression in the
 * question's order, then its value; neither specialist writes this format. */
static void write_target_prefix(ml_text__doc *g, ml_text__rng *r) {
    static const char op[STORY_ONE_STEP] = { '+', '-', '*', '/' };
    char head[4] = { '(', 0, ' ', 0 };
    story s;
    story_draw(&s, r, 1);
    story_question(g, &s);
    put(g, "A:");
    g->prompt = g->len;
    head[1] = op[s.kind];
    put(g, " "); put(g, head); put_int(g, s.a); put(g, " "); put_int(g, s.b);
    put(g, ") => "); put_int(g, s.result); put(g, "\n");
    g->answer = s.result;
}

/* ---- code: small programs and their printed result ---- */

static const char *const vars[] = {
    "a", "b", "c", "d", "k", "m", "n", "p", "q", "r", "s", "t", "u", "v", "w", "x", "y", "z",
    "total", "count", "num", "val", "acc", "res", "tmp", "cur", "big", "top", "low", "out",
};
static const char *const funcs[] = { "f", "g", "h", "calc", "step", "mix", "go", "work", "run", "fn" };
static const char *const loopvars[] = { "i", "j" };

/* n distinct variable names */
static void draw_vars(ml_text__rng *r, const char **out, int n) {
    for (int i = 0; i < n; i++) {
        int again;
        do {
            out[i] = vars[pick(r, N_(vars))];
            again = 0;
            for (int j = 0; j < i; j++) again |= out[j] == out[i];
        } while (again);
    }
}

static long apply(long x, char op, long y) {
    switch (op) {
    case '+': return x + y;
    case '-': return x - y;
    default:  return x * y;
    }
}
/* x op1 y op2 z with * binding tighter than + and - */
static long apply3(long x, char op1, long y, char op2, long z) {
    if (op2 == '*' && op1 != '*') return apply(x, op1, y * z);
    return apply(apply(x, op1, y), op2, z);
}
static int holds(long x, const char *cmp, long y) {
    if (!strcmp(cmp, " > ")) return x > y;
    if (!strcmp(cmp, " < ")) return x < y;
    if (!strcmp(cmp, " >= ")) return x >= y;
    if (!strcmp(cmp, " <= ")) return x <= y;
    return x == y;
}

static void code_op(ml_text__doc *g, char op) { char s[4] = { ' ', op, ' ', 0 }; put(g, s); }

static void write_code(ml_text__doc *g, ml_text__rng *r) {
    static const char ops[] = { '+', '-', '*' };
    static const char *const cmps[] = { " > ", " < ", " >= ", " <= ", " == " };
    const char *v[3];
    char n1[24], n2[24], n3[24], n4[24];
    const char *F = funcs[pick(r, N_(funcs))];
    long a = between(r, 2, 20), b = between(r, 2, 20), c = between(r, 2, 9), d = between(r, 2, 9);
    char op1 = ops[pick(r, 3)], op2 = ops[pick(r, 3)];
    const char *cmp = cmps[pick(r, N_(cmps))];
    long result;
    draw_vars(r, v, 3);
    itoa_into(n1, a); itoa_into(n2, b); itoa_into(n3, c); itoa_into(n4, d);
    switch (pick(r, 7)) {
    case 0: {   /* assignments and arithmetic */
        const char *args[] = { v[0], n1, v[1], n2, v[2], n3 };
        putf(g, "$1 = $2\n$3 = $4\n$5 = $1", args); code_op(g, op1); put(g, v[1]); code_op(g, op2);
        put(g, n3); put(g, "\nprint("); put(g, v[2]); put(g, ")\n");
        result = apply3(a, op1, b, op2, c);
        break;
    }
    case 1: {   /* a function of two arguments */
        const char *args[] = { F, v[0], v[1], v[2] };
        putf(g, "def $1($2, $3):\n    $4 = $2", args); code_op(g, op1); put(g, v[1]);
        put(g, "\n    return "); put(g, v[2]); code_op(g, op2); put(g, n3);
        put(g, "\nprint("); put(g, F); put(g, "("); put(g, n1); put(g, ", "); put(g, n2); put(g, "))\n");
        result = apply(apply(a, op1, b), op2, c);
        break;
    }
    case 2: {   /* if / else */
        char op3 = ops[pick(r, 3)];
        put(g, v[0]); put(g, " = "); put(g, n1); put(g, "\nif "); put(g, v[0]); put(g, cmp); put(g, n2);
        put(g, ":\n    "); put(g, v[0]); put(g, " = "); put(g, v[0]); code_op(g, op1); put(g, n3);
        put(g, "\nelse:\n    "); put(g, v[0]); put(g, " = "); put(g, v[0]); code_op(g, op3); put(g, n4);
        put(g, "\nprint("); put(g, v[0]); put(g, ")\n");
        result = holds(a, cmp, b) ? apply(a, op1, c) : apply(a, op3, d);
        break;
    }
    case 3: {   /* a for loop over range with accumulation */
        const char *iv = loopvars[pick(r, 2)];
        long n = between(r, 2, 9), start = between(r, 0, 9), acc;
        int body = pick(r, 3);
        put(g, v[0]); put(g, " = "); put_int(g, start); put(g, "\nfor "); put(g, iv); put(g, " in range(");
        put_int(g, n); put(g, "):\n    "); put(g, v[0]); put(g, " = "); put(g, v[0]); put(g, " + ");
        if (body == 0) put(g, iv);
        else if (body == 1) { put(g, iv); put(g, " * "); put(g, n3); }
        else put(g, n3);
        put(g, "\nprint("); put(g, v[0]); put(g, ")\n");
        acc = start;
        for (long i = 0; i < n; i++) acc += body == 0 ? i : body == 1 ? i * c : c;
        result = acc;
        break;
    }
    case 4: {   /* a function called twice */
        const char *args[] = { F, v[0], v[1] };
        putf(g, "def $1($2):\n    return $2", args); code_op(g, op1); put(g, n3); code_op(g, '+'); put(g, n4);
        put(g, "\n"); put(g, v[1]); put(g, " = "); put(g, F); put(g, "("); put(g, n1); put(g, ")\nprint(");
        put(g, F); put(g, "("); put(g, v[1]); put(g, "))\n");
        long once = apply3(a, op1, c, '+', d);
        result = apply3(once, op1, c, '+', d);
        break;
    }
    case 5: {   /* a function with an early return */
        char op3 = ops[pick(r, 3)];
        const char *args[] = { F, v[0] };
        putf(g, "def $1($2):\n    if $2", args); put(g, cmp); put(g, n2); put(g, ":\n        return ");
        put(g, v[0]); code_op(g, op1); put(g, n3); put(g, "\n    return "); put(g, v[0]); code_op(g, op3);
        put(g, n4); put(g, "\nprint("); put(g, F); put(g, "("); put(g, n1); put(g, "))\n");
        result = holds(a, cmp, b) ? apply(a, op1, c) : apply(a, op3, d);
        break;
    }
    default: {  /* a while loop counting down */
        long start = between(r, 10, 60);
        put(g, v[0]); put(g, " = "); put_int(g, start); put(g, "\n"); put(g, v[1]); put(g, " = 0\nwhile ");
        put(g, v[0]); put(g, " > "); put(g, n4); put(g, ":\n    "); put(g, v[0]); put(g, " = "); put(g, v[0]);
        put(g, " - "); put(g, n3); put(g, "\n    "); put(g, v[1]); put(g, " = "); put(g, v[1]); put(g, " + 1\nprint(");
        put(g, v[1]); put(g, ")\n");
        long x = start, cnt = 0;
        while (x > d) { x -= c; cnt++; }
        result = cnt;
        break;
    }
    }
    g->prompt = g->len;
    put(g, "# "); put_int(g, result); put(g, "\n");
    g->answer = result;
}

/* ---- base: English-like paragraphs ---- */

static const char *const agents[] = {
    "cat", "dog", "bird", "fox", "horse", "farmer", "teacher", "child", "girl", "boy", "king", "queen",
    "sailor", "baker", "doctor", "painter", "robot", "dragon", "wizard", "rabbit", "owl", "mouse", "lion",
    "bear", "student", "pilot", "driver", "singer", "captain", "neighbour", "stranger", "gardener",
    "miller", "tailor", "knight", "monk", "poet", "clerk", "shepherd", "old man",
};
static const char *const objects[] = {
    "ball", "book", "letter", "map", "lamp", "key", "boat", "apple", "bottle", "basket", "chair", "table",
    "window", "door", "stone", "coin", "song", "story", "cake", "rope", "hat", "coat", "ladder", "bell",
    "drum", "flag", "candle", "clock", "mirror", "box", "wagon", "feather", "shell", "ring", "kettle",
    "blanket", "picture", "umbrella", "egg", "orange", "envelope", "oar", "anchor", "jug", "whistle",
};
static const char *const adjectives[] = {
    "old", "young", "small", "big", "red", "blue", "green", "quiet", "loud", "happy", "sad", "clever",
    "lazy", "brave", "tired", "bright", "dark", "gentle", "strange", "tiny", "huge", "yellow", "white",
    "black", "golden", "silver", "wooden", "broken", "shiny", "dusty", "warm", "cold", "soft", "heavy",
    "empty", "busy", "curious", "proud", "careful", "friendly", "ancient", "odd", "eager", "honest",
};
typedef struct { const char *base, *past; } verb;
static const verb transitive[] = {
    { "see", "saw" }, { "find", "found" }, { "carry", "carried" }, { "paint", "painted" }, { "open", "opened" },
    { "close", "closed" }, { "lift", "lifted" }, { "watch", "watched" }, { "build", "built" }, { "fix", "fixed" },
    { "sell", "sold" }, { "buy", "bought" }, { "hide", "hid" }, { "push", "pushed" }, { "pull", "pulled" },
    { "drop", "dropped" }, { "wash", "washed" }, { "bring", "brought" }, { "take", "took" }, { "follow", "followed" },
    { "draw", "drew" }, { "hold", "held" }, { "throw", "threw" }, { "catch", "caught" }, { "kick", "kicked" },
    { "clean", "cleaned" }, { "lose", "lost" }, { "want", "wanted" }, { "like", "liked" }, { "count", "counted" },
    { "mend", "mended" }, { "touch", "touched" }, { "guard", "guarded" }, { "borrow", "borrowed" },
    { "polish", "polished" }, { "fetch", "fetched" }, { "admire", "admired" }, { "forget", "forgot" },
};
static const verb intransitive[] = {
    { "sleep", "slept" }, { "laugh", "laughed" }, { "wait", "waited" }, { "dance", "danced" },
    { "walk", "walked" }, { "run", "ran" }, { "sing", "sang" }, { "smile", "smiled" }, { "rest", "rested" },
    { "shout", "shouted" }, { "jump", "jumped" }, { "listen", "listened" }, { "work", "worked" },
    { "play", "played" }, { "cry", "cried" }, { "whistle", "whistled" }, { "hurry", "hurried" },
};
static const char *const places[] = {
    "in the garden", "near the river", "at the market", "on the hill", "by the sea", "in the kitchen",
    "under the bridge", "behind the house", "in the forest", "at school", "on the road", "in the village",
    "at the station", "in the park", "near the castle", "on the roof", "by the lake", "in the library",
    "at the harbour", "in the valley", "across the field", "inside the tower", "beside the well",
};
static const char *const times[] = {
    "yesterday", "today", "this morning", "last night", "on Monday", "on Tuesday", "on Friday",
    "on Sunday", "in the evening", "at noon", "after lunch", "before dawn", "every day",
    "once upon a time", "later", "soon after", "in winter", "in summer", "at last", "in May",
};
static const char *const adverbs[] = {
    "quickly", "slowly", "quietly", "happily", "carefully", "suddenly", "gladly", "softly", "loudly",
    "nervously", "proudly", "patiently", "bravely",
};
static const char *const says[] = { "said", "asked", "whispered", "shouted", "replied", "cried" };

static int vowel(char c) { return strchr("aeiou", c) != NULL; }
static void article(ml_text__doc *g, const char *word) { put(g, vowel(word[0]) ? "an " : "a "); }
/* the, optionally an adjective, then the noun */
static void noun_phrase(ml_text__doc *g, ml_text__rng *r, const char *const *nouns, int n, int definite) {
    const char *adj = chance(r, 50) ? adjectives[pick(r, N_(adjectives))] : NULL;
    const char *noun = nouns[pick(r, n)];
    if (definite) put(g, "the ");
    else article(g, adj ? adj : noun);
    if (adj) { put(g, adj); put(g, " "); }
    put(g, noun);
}
static void maybe_place(ml_text__doc *g, ml_text__rng *r) {
    if (chance(r, 40)) { put(g, " "); put(g, places[pick(r, N_(places))]); }
}

static void sentence(ml_text__doc *g, ml_text__rng *r) {
    int start = g->len, shout = 0;
    switch (pick(r, 9)) {
    case 0:     /* [Time, ]the ADJ NOUN VERBED the OBJECT[ PLACE]. */
        if (chance(r, 35)) { put(g, times[pick(r, N_(times))]); put(g, ", "); }
        noun_phrase(g, r, agents, N_(agents), 1); put(g, " "); put(g, transitive[pick(r, N_(transitive))].past);
        put(g, " "); noun_phrase(g, r, objects, N_(objects), chance(r, 60)); maybe_place(g, r);
        put(g, chance(r, 85) ? "." : "!");
        break;
    case 1:     /* NAME VERBED a X and a Y. */
        put(g, people[pick(r, N_(people))].name); put(g, " "); put(g, transitive[pick(r, N_(transitive))].past);
        put(g, " "); noun_phrase(g, r, objects, N_(objects), 0); put(g, " and ");
        noun_phrase(g, r, objects, N_(objects), 0); maybe_place(g, r); put(g, ".");
        break;
    case 2:     /* Did the NOUN VERB the OBJECT? */
        put(g, "did "); noun_phrase(g, r, agents, N_(agents), 1); put(g, " ");
        put(g, transitive[pick(r, N_(transitive))].base); put(g, " "); noun_phrase(g, r, objects, N_(objects), 1);
        maybe_place(g, r); put(g, "?");
        break;
    case 3:     /* The X was ADJ, and the Y was ADJ too. */
        noun_phrase(g, r, objects, N_(objects), 1); put(g, " was "); put(g, adjectives[pick(r, N_(adjectives))]);
        put(g, chance(r, 50) ? ", and " : "; "); noun_phrase(g, r, objects, N_(objects), 1); put(g, " was ");
        put(g, adjectives[pick(r, N_(adjectives))]); put(g, chance(r, 50) ? " too." : ".");
        break;
    case 4: {   /* NAME said, "The X is ADJ." */
        const char *who = people[pick(r, N_(people))].name;
        int q = pick(r, 3);
        put(g, who); put(g, " "); put(g, says[pick(r, N_(says))]); put(g, ", \"");
        if (q == 0) { put(g, "The "); put(g, objects[pick(r, N_(objects))]); put(g, " is ");
                      put(g, adjectives[pick(r, N_(adjectives))]); put(g, ".\""); }
        else if (q == 1) { put(g, "Where is the "); put(g, objects[pick(r, N_(objects))]); put(g, "?\""); }
        else { put(g, "Please "); put(g, transitive[pick(r, N_(transitive))].base); put(g, " the ");
               put(g, objects[pick(r, N_(objects))]); put(g, "!\""); }
        break;
    }
    case 5:     /* What a ADJ OBJECT! / How ADJ the NOUN was! */
        if (chance(r, 50)) {
            const char *adj = adjectives[pick(r, N_(adjectives))];
            put(g, "what "); article(g, adj); put(g, adj); put(g, " ");
            put(g, objects[pick(r, N_(objects))]); put(g, "!");
        }
        else { put(g, "how "); put(g, adjectives[pick(r, N_(adjectives))]); put(g, " the ");
               put(g, agents[pick(r, N_(agents))]); put(g, " was!"); }
        break;
    case 6:     /* The NOUN VERBED ADV[ PLACE]. */
        noun_phrase(g, r, agents, N_(agents), 1); put(g, " "); put(g, intransitive[pick(r, N_(intransitive))].past);
        put(g, " "); put(g, adverbs[pick(r, N_(adverbs))]); maybe_place(g, r); put(g, ".");
        break;
    case 7:     /* NAME and NAME VERBED TIME: the NOUN VERBED the OBJECT. */
        put(g, people[pick(r, N_(people))].name); put(g, " and "); put(g, people[pick(r, N_(people))].name);
        put(g, " "); put(g, intransitive[pick(r, N_(intransitive))].past); put(g, " ");
        put(g, times[pick(r, N_(times))]); put(g, chance(r, 50) ? "; " : ", while ");
        noun_phrase(g, r, agents, N_(agents), 1); put(g, " "); put(g, transitive[pick(r, N_(transitive))].past);
        put(g, " the "); put(g, objects[pick(r, N_(objects))]); put(g, ".");
        break;
    default:    /* NAME shouted, "LOOK AT THE X!" (capitals) */
        put(g, people[pick(r, N_(people))].name); put(g, " shouted, \"");
        shout = g->len;
        put(g, chance(r, 50) ? "look at the " : "stop the "); put(g, agents[pick(r, N_(agents))]); put(g, "!\"");
        break;
    }
    if (g->text[start] >= 'a' && g->text[start] <= 'z') g->text[start] = (char)(g->text[start] - 32);
    if (shout)
        for (int i = shout; i < g->len; i++)
            if (g->text[i] >= 'a' && g->text[i] <= 'z') g->text[i] = (char)(g->text[i] - 32);
}

static void write_base(ml_text__doc *g, ml_text__rng *r) {
    int n = between(r, 1, 4);
    for (int i = 0; i < n; i++) {
        if (i) put(g, " ");
        sentence(g, r);
    }
    put(g, "\n");
    g->prompt = g->len;
    g->answer = 0;
}

void ml_text__write(ml_text__doc *g, ml_domain kind, ml_text__rng *r) {
    g->len = 0; g->prompt = 0; g->answer = 0; g->overflow = 0;
    switch (kind) {
    case ML_DOMAIN_MATH:   write_math(g, r); break;
    case ML_DOMAIN_CODE:   write_code(g, r); break;
    case ML_DOMAIN_TARGET: write_target(g, r); break;
    case ML_DOMAIN_TARGET_PREFIX: write_target_prefix(g, r); break;
    default:               write_base(g, r); break;
    }
}
