/* proxylab.audit._scan: the audit's compiled reader for Squid's native logformat.
 *
 * Why C: the vectorised polars reader (audit/parse.py) checks every field of every
 * line against the grammar with one regex kernel per field, ~10 columns of text per
 * line; a single pass over the bytes does the same checks while it splits the line,
 * and folds the record straight into the three small tables the audit needs, with no
 * per-line column at all. Measured in benchmarks/bench_audit.py.
 *
 * The well-formedness rule is the grammar's (lib/proxylab/grammar/squid.py,
 * NATIVE_PATTERN and MAX_EPOCH), spelled out below field by field:
 *
 *   TS +NUMBER TOKEN TAG/STATUS NUMBER TOKEN TOKEN TOKEN TAG/[!-~]* TOKEN
 *
 * TS = [0-9]{1,10}(\.[0-9]{1,9})? below max_epoch, NUMBER = [0-9]{1,18},
 * TOKEN = [!-~]+, TAG = [A-Z][A-Z0-9_]*, STATUS = [0-9]{3}; one space between fields
 * but the run before the elapsed time; a line ends at \n, one \r before it dropped.
 * tests/unit/test_squid_grammar_property.py holds this reader to the grammar line for
 * line, and tests/unit/test_audit_scan.py holds its tables to the polars reader's.
 *
 * The audit's semantics, as the polars reader has them: every line counts (a blank
 * line is malformed here, as there); a record's URL token is cut to host:port (after
 * "://" when there is one, up to the first "/"); its bucket is
 * floor(ts / bucket) * bucket; a record outside [since, until) is "filtered".
 * The scan itself runs without the GIL.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- a byte arena and two open-addressing hash tables ------------------------- */

typedef struct {
    char *data;
    size_t len, cap;
} Arena;

static int arena_put(Arena *a, const unsigned char *s, size_t n, size_t *off) {
    if (a->len + n > a->cap) {
        size_t cap = a->cap ? a->cap : 4096;
        while (cap < a->len + n) cap *= 2;
        char *d = realloc(a->data, cap);
        if (!d) return -1;
        a->data = d;
        a->cap = cap;
    }
    memcpy(a->data + a->len, s, n);
    *off = a->len;
    a->len += n;
    return 0;
}

typedef struct {
    uint64_t hash; /* 0: empty slot */
    size_t off;    /* key in the arena (string tables) */
    uint32_t len;
    int64_t k1, k2; /* key of the integer table: host id, bucket; req: its host id */
    int64_t requests;
    uint64_t bytes; /* wraps like polars' Int64 sum */
    double first, last;
} Entry;

typedef struct {
    Entry *slots;
    size_t cap, used;
    int64_t *order; /* slot index of each entry in insertion order */
} Table;

static uint64_t mix(uint64_t h) {
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h | 1; /* never 0 */
}

static uint64_t hash_bytes(const unsigned char *s, size_t n) {
    uint64_t h = 0x9E3779B97F4A7C15ULL ^ (n * 0x100000001B3ULL);
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        h = (h ^ w) * 0x100000001B3ULL;
        h ^= h >> 29;
        s += 8;
        n -= 8;
    }
    uint64_t w = 0;
    memcpy(&w, s, n);
    h = (h ^ w) * 0x100000001B3ULL;
    return mix(h);
}

static int table_init(Table *t, size_t cap) {
    t->slots = calloc(cap, sizeof(Entry));
    t->order = malloc(cap * sizeof(int64_t));
    t->cap = cap;
    t->used = 0;
    return t->slots && t->order ? 0 : -1;
}

static void table_free(Table *t) {
    free(t->slots);
    free(t->order);
    t->slots = NULL;
    t->order = NULL;
}

static int table_grow(Table *t) {
    Table n;
    if (table_init(&n, t->cap * 2)) {
        table_free(&n);
        return -1;
    }
    for (size_t i = 0; i < t->used; i++) {
        Entry *e = &t->slots[t->order[i]];
        size_t j = e->hash & (n.cap - 1);
        while (n.slots[j].hash) j = (j + 1) & (n.cap - 1);
        n.slots[j] = *e;
        n.order[n.used++] = (int64_t)j;
    }
    table_free(t);
    *t = n;
    return 0;
}

/* The entry of a string key, inserted when new (*fresh = 1). NULL: out of memory. */
static Entry *str_get(Table *t, Arena *a, const unsigned char *key, size_t n, int *fresh) {
    uint64_t h = hash_bytes(key, n);
    size_t j = h & (t->cap - 1);
    for (;;) {
        Entry *e = &t->slots[j];
        if (!e->hash) break;
        if (e->hash == h && e->len == n && memcmp(a->data + e->off, key, n) == 0) {
            *fresh = 0;
            return e;
        }
        j = (j + 1) & (t->cap - 1);
    }
    if ((t->used + 1) * 10 > t->cap * 7) {
        if (table_grow(t)) return NULL;
        return str_get(t, a, key, n, fresh);
    }
    Entry *e = &t->slots[j];
    memset(e, 0, sizeof *e);
    if (arena_put(a, key, n, &e->off)) return NULL;
    e->hash = h;
    e->len = (uint32_t)n;
    t->order[t->used++] = (int64_t)j;
    *fresh = 1;
    return e;
}

static Entry *int_get(Table *t, int64_t k1, int64_t k2) {
    uint64_t h = mix((uint64_t)k1 * 0x9E3779B97F4A7C15ULL ^ (uint64_t)k2);
    size_t j = h & (t->cap - 1);
    for (;;) {
        Entry *e = &t->slots[j];
        if (!e->hash) break;
        if (e->hash == h && e->k1 == k1 && e->k2 == k2) return e;
        j = (j + 1) & (t->cap - 1);
    }
    if ((t->used + 1) * 10 > t->cap * 7) {
        if (table_grow(t)) return NULL;
        return int_get(t, k1, k2);
    }
    Entry *e = &t->slots[j];
    memset(e, 0, sizeof *e);
    e->hash = h;
    e->k1 = k1;
    e->k2 = k2;
    t->order[t->used++] = (int64_t)j;
    return e;
}

/* ---- the grammar, field by field ---------------------------------------------- */

#define IS_TOK(c) ((unsigned char)((c) - 0x21) <= 0x7e - 0x21) /* [!-~] */
#define IS_DIGIT(c) ((unsigned char)((c) - '0') <= 9)
#define IS_UPPER(c) ((unsigned char)((c) - 'A') <= 25)

static const double POW10[] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10};

/* A token [!-~]+ from p, which must end at a space (or at end when last). */
static inline const unsigned char *tok(const unsigned char *p, const unsigned char *end) {
    const unsigned char *s = p;
    while (p < end && IS_TOK(*p)) p++;
    return p == s ? NULL : p;
}

/* [0-9]{1,max} -> value; NULL when not so. */
static inline const unsigned char *digits(const unsigned char *p, const unsigned char *end,
                                          int max, uint64_t *value) {
    const unsigned char *s = p;
    uint64_t v = 0;
    while (p < end && IS_DIGIT(*p)) {
        if (p - s == max) return NULL;
        v = v * 10 + (uint64_t)(*p - '0');
        p++;
    }
    if (p == s) return NULL;
    *value = v;
    return p;
}

/* TAG = [A-Z][A-Z0-9_]* */
static inline const unsigned char *tag(const unsigned char *p, const unsigned char *end) {
    if (p >= end || !IS_UPPER(*p)) return NULL;
    p++;
    while (p < end && (IS_UPPER(*p) || IS_DIGIT(*p) || *p == '_')) p++;
    return p;
}

typedef struct {
    const unsigned char *client, *cs, *method, *url, *user, *hier, *peer, *mt;
    size_t client_n, cs_n, method_n, url_n, user_n, hier_n, peer_n, mt_n;
    double ts;
    int64_t bytes, elapsed;
    int status;
} Rec;

#define SEP(p) do { if ((p) == NULL || (p) >= end || *(p) != ' ') return 0; (p)++; } while (0)
/* A TOKEN field into r->f / r->f_n, and the space after it. */
#define TOKEN_FIELD(f)                 \
    do {                               \
        r->f = p;                      \
        p = tok(p, end);               \
        if (!p) return 0;              \
        r->f##_n = (size_t)(p - r->f); \
        SEP(p);                        \
    } while (0)

/* One line [p, end) (no \n; a final \r already dropped): 1 and *r when a record. */
static int parse_line(const unsigned char *p, const unsigned char *end, double max_epoch,
                      Rec *r) {
    const unsigned char *q, *ts0 = p;
    uint64_t ip = 0, fr = 0, v = 0;
    int fd = 0;
    /* TS */
    q = digits(p, end, 10, &ip);
    if (!q) return 0;
    if (q < end && *q == '.') {
        const unsigned char *f = q + 1;
        q = digits(f, end, 9, &fr);
        if (!q) return 0;
        fd = (int)(q - f);
    }
    {
        /* correctly rounded like any float parser: the digits as one integer below
           2^53 are exact in a double, and one IEEE division by an exact power of ten
           rounds once; longer ones go to strtod */
        uint64_t whole = ip;
        int k;
        for (k = 0; k < fd; k++) whole *= 10;
        whole += fr;
        if (whole < (1ULL << 53)) {
            r->ts = (double)whole / POW10[fd];
        } else {
            char tmp[24];
            size_t n = (size_t)(q - ts0);
            memcpy(tmp, ts0, n);
            tmp[n] = 0;
            r->ts = strtod(tmp, NULL);
        }
    }
    if (!(r->ts < max_epoch)) return 0;
    p = q;
    /* ' '+ NUMBER (the elapsed time, padded) */
    if (p >= end || *p != ' ') return 0;
    while (p < end && *p == ' ') p++;
    p = digits(p, end, 18, &v);
    r->elapsed = (int64_t)v;
    SEP(p);
    TOKEN_FIELD(client);
    /* TAG/STATUS */
    r->cs = p;
    p = tag(p, end);
    if (!p || p + 4 > end || p[0] != '/' || !IS_DIGIT(p[1]) || !IS_DIGIT(p[2]) ||
        !IS_DIGIT(p[3]))
        return 0;
    r->status = (p[1] - '0') * 100 + (p[2] - '0') * 10 + (p[3] - '0');
    p += 4;
    r->cs_n = (size_t)(p - r->cs);
    SEP(p);
    /* bytes */
    p = digits(p, end, 18, &v);
    r->bytes = (int64_t)v;
    SEP(p);
    TOKEN_FIELD(method);
    TOKEN_FIELD(url);
    TOKEN_FIELD(user);
    /* TAG/peer, the peer possibly empty */
    r->hier = p;
    p = tag(p, end);
    if (!p || p >= end || *p != '/') return 0;
    r->hier_n = (size_t)(p - r->hier);
    r->peer = ++p;
    while (p < end && IS_TOK(*p)) p++;
    r->peer_n = (size_t)(p - r->peer);
    SEP(p);
    /* type, and nothing after it */
    r->mt = p;
    p = tok(p, end);
    if (p != end) return 0;
    r->mt_n = (size_t)(p - r->mt);
    return 1;
}

/* ---- records: every field of every record, for the capture tables ------------------ */

typedef struct {
    char *data;
    int32_t *offsets; /* n + 1 */
    size_t len, cap, n, ncap;
    int failed;
} StrCol;

static void strcol_add(StrCol *c, const unsigned char *s, size_t n) {
    if (c->failed) return;
    if (c->n + 2 > c->ncap) {
        size_t cap = c->ncap ? c->ncap * 2 : 1024;
        int32_t *o = realloc(c->offsets, cap * sizeof(int32_t));
        if (!o) {
            c->failed = 1;
            return;
        }
        c->offsets = o;
        c->ncap = cap;
        if (c->n == 0) c->offsets[0] = 0;
    }
    if (c->len + n > c->cap) {
        size_t cap = c->cap ? c->cap : 4096;
        while (cap < c->len + n) cap *= 2;
        char *d = realloc(c->data, cap);
        if (!d) {
            c->failed = 1;
            return;
        }
        c->data = d;
        c->cap = cap;
    }
    if (c->len + n > INT32_MAX) {
        c->failed = 1;
        return;
    }
    memcpy(c->data + c->len, s, n);
    c->len += n;
    c->offsets[++c->n] = (int32_t)c->len;
}

typedef struct {
    void *data;
    size_t n, cap;
    int failed;
} NumCol;

static void numcol_add(NumCol *c, const void *v) {
    if (c->failed) return;
    if (c->n + 1 > c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 1024;
        void *d = realloc(c->data, cap * 8);
        if (!d) {
            c->failed = 1;
            return;
        }
        c->data = d;
        c->cap = cap;
    }
    memcpy((char *)c->data + c->n * 8, v, 8);
    c->n++;
}

PyDoc_STRVAR(records_doc,
"records(buf, max_epoch, strip_cr) -> (lines, numeric, text, others)\n\n"
"Every native record of ``buf`` (lines split at \\n only; with ``strip_cr`` one \\r\n"
"before it dropped), by the grammar: ``numeric`` = packed int64/float64 bytes of\n"
"(line_no, ts, elapsed, status, bytes), ``text`` = (data, int32 offsets) per field of\n"
"(client, code, method, url, user, hier, peer, mt), Arrow's string layout; ``others``\n"
"= the line numbers (1-based) of the lines that are not records, as int64 bytes.");

static PyObject *records(PyObject *self, PyObject *args) {
    Py_buffer view;
    double max_epoch;
    int strip_cr;
    if (!PyArg_ParseTuple(args, "y*dp", &view, &max_epoch, &strip_cr)) return NULL;
    StrCol text[8];
    NumCol num[5], others;
    memset(text, 0, sizeof text);
    memset(num, 0, sizeof num);
    memset(&others, 0, sizeof others);
    const unsigned char *buf = view.buf, *end = buf + view.len, *p = buf;
    int64_t line = 0;
    Py_BEGIN_ALLOW_THREADS
    while (p < end) {
        const unsigned char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl) nl = end;
        const unsigned char *le = nl;
        if (strip_cr && le > p && le[-1] == '\r') le--;
        Rec r;
        line++;
        if (parse_line(p, le, max_epoch, &r)) {
            double ts = r.ts;
            int64_t st = r.status;
            numcol_add(&num[0], &line);
            numcol_add(&num[1], &ts);
            numcol_add(&num[2], &r.elapsed);
            numcol_add(&num[3], &st);
            numcol_add(&num[4], &r.bytes);
            strcol_add(&text[0], r.client, r.client_n);
            strcol_add(&text[1], r.cs, r.cs_n - 4);
            strcol_add(&text[2], r.method, r.method_n);
            strcol_add(&text[3], r.url, r.url_n);
            strcol_add(&text[4], r.user, r.user_n);
            strcol_add(&text[5], r.hier, r.hier_n);
            strcol_add(&text[6], r.peer, r.peer_n);
            strcol_add(&text[7], r.mt, r.mt_n);
        } else {
            numcol_add(&others, &line);
        }
        p = nl + 1;
    }
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&view);
    PyObject *out = NULL;
    int failed = others.failed;
    for (int i = 0; i < 8; i++) failed |= text[i].failed;
    for (int i = 0; i < 5; i++) failed |= num[i].failed;
    if (failed) {
        PyErr_NoMemory();
        goto done;
    }
    PyObject *nums = PyTuple_New(5), *texts = PyTuple_New(8);
    if (!nums || !texts) {
        Py_XDECREF(nums);
        Py_XDECREF(texts);
        goto done;
    }
    for (int i = 0; i < 5; i++)
        PyTuple_SET_ITEM(nums, i, PyBytes_FromStringAndSize(num[i].data, (Py_ssize_t)(num[i].n * 8)));
    for (int i = 0; i < 8; i++) {
        int32_t zero = 0;
        PyTuple_SET_ITEM(texts, i, Py_BuildValue(
            "(y#y#)", text[i].data ? text[i].data : "", (Py_ssize_t)text[i].len,
            text[i].offsets ? (const char *)text[i].offsets : (const char *)&zero,
            (Py_ssize_t)((text[i].n + 1) * sizeof(int32_t))));
    }
    out = Py_BuildValue("(LNNN)", (long long)line, nums, texts,
                        PyBytes_FromStringAndSize(others.data, (Py_ssize_t)(others.n * 8)));
done:
    for (int i = 0; i < 8; i++) {
        free(text[i].data);
        free(text[i].offsets);
    }
    for (int i = 0; i < 5; i++) free(num[i].data);
    free(others.data);
    return out;
}

/* ---- the Folder: tables that chunks (and other folders' tables) fold into ---------- */

typedef struct {
    PyObject_HEAD
    Arena arena;
    Table hosts, req, tim, cli, buckets; /* buckets: the distinct timeline buckets */
    int64_t bucket;
    int has_since, has_until;
    double since, until, max_epoch;
    PyThread_type_lock lock;
} Folder;

static void folder_clear(Folder *f) {
    free(f->arena.data);
    memset(&f->arena, 0, sizeof f->arena);
    table_free(&f->hosts);
    table_free(&f->req);
    table_free(&f->tim);
    table_free(&f->cli);
    table_free(&f->buckets);
}

static int folder_reset(Folder *f) {
    folder_clear(f);
    if (table_init(&f->hosts, 1024) || table_init(&f->req, 4096) || table_init(&f->tim, 4096) ||
        table_init(&f->cli, 1024) || table_init(&f->buckets, 1024)) {
        folder_clear(f);
        return -1;
    }
    return 0;
}

/* floor(b / step) * step for integers (buckets are multiples of the old step) */
static int64_t floor_to(int64_t b, int64_t step) {
    int64_t q = b / step;
    if ((b % step != 0) && ((b < 0) != (step < 0))) q--;
    return q * step;
}

/* One (host:port, method, code/status) group; returns its host id, -1 on no memory. */
static int64_t fold_req(Folder *f, const unsigned char *hp, size_t hn, const unsigned char *m,
                        size_t mn, const unsigned char *cs, size_t csn, int64_t requests,
                        uint64_t bytes, double first, double last) {
    unsigned char stack[512];
    size_t n = hn + 1 + mn + 1 + csn;
    unsigned char *key = n <= sizeof stack ? stack : malloc(n);
    if (!key) return -1;
    memcpy(key, hp, hn);
    key[hn] = 0;
    memcpy(key + hn + 1, m, mn);
    key[hn + 1 + mn] = 0;
    memcpy(key + hn + 2 + mn, cs, csn);
    int fresh;
    Entry *e = str_get(&f->req, &f->arena, key, n, &fresh);
    if (key != stack) free(key);
    if (!e) return -1;
    if (fresh) {
        int hf;
        Entry *h = str_get(&f->hosts, &f->arena, hp, hn, &hf);
        if (!h) return -1;
        if (hf) h->k1 = (int64_t)(f->hosts.used - 1);
        e->k1 = h->k1;
        e->first = first;
        e->last = last;
    }
    e->requests += requests;
    e->bytes += bytes;
    if (first < e->first) e->first = first;
    if (last > e->last) e->last = last;
    return e->k1;
}

static int fold_tim(Folder *f, int64_t host, int64_t bucket, int64_t requests, uint64_t bytes) {
    Entry *e = int_get(&f->tim, host, bucket);
    if (!e) return -1;
    if (!e->requests && !e->bytes && !int_get(&f->buckets, bucket, 0)) return -1;
    e->requests += requests;
    e->bytes += bytes;
    return 0;
}

static int fold_cli(Folder *f, const unsigned char *c, size_t n, int64_t requests,
                    uint64_t bytes) {
    int fresh;
    Entry *e = str_get(&f->cli, &f->arena, c, n, &fresh);
    if (!e) return -1;
    e->requests += requests;
    e->bytes += bytes;
    return 0;
}

/* One record: host:port of the URL token (after "://" when there is one, up to "/"). */
static int fold_record(Folder *f, const Rec *r) {
    const unsigned char *u = r->url, *ue = r->url + r->url_n, *hp = u, *he;
    for (const unsigned char *s = u; s + 3 <= ue; s++) {
        if (s[0] == ':' && s[1] == '/' && s[2] == '/') {
            hp = s + 3;
            break;
        }
    }
    he = memchr(hp, '/', (size_t)(ue - hp));
    if (!he) he = ue;
    const double bs = (double)f->bucket;
    int64_t host = fold_req(f, hp, (size_t)(he - hp), r->method, r->method_n, r->cs, r->cs_n,
                            1, (uint64_t)r->bytes, r->ts, r->ts);
    if (host < 0) return -1;
    if (fold_tim(f, host, (int64_t)(floor(r->ts / bs) * bs), 1, (uint64_t)r->bytes)) return -1;
    return fold_cli(f, r->client, r->client_n, 1, (uint64_t)r->bytes);
}

#define LOCK(f)                                              \
    do {                                                     \
        if (!PyThread_acquire_lock((f)->lock, NOWAIT_LOCK)) { \
            Py_BEGIN_ALLOW_THREADS                           \
            PyThread_acquire_lock((f)->lock, WAIT_LOCK);     \
            Py_END_ALLOW_THREADS                             \
        }                                                    \
    } while (0)
#define UNLOCK(f) PyThread_release_lock((f)->lock)
/* A Folder made by __new__ without __init__ has no tables yet. */
#define READY(f)                                                         \
    do {                                                                 \
        if (!(f)->lock) {                                                \
            PyErr_SetString(PyExc_RuntimeError, "Folder.__init__ not called"); \
            return NULL;                                                 \
        }                                                                \
    } while (0)

static int Folder_init(Folder *f, PyObject *args, PyObject *kw) {
    static char *names[] = {"bucket", "since", "until", "max_epoch", NULL};
    long long bucket;
    PyObject *since_o = Py_None, *until_o = Py_None;
    double max_epoch;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "LOOd", names, &bucket, &since_o, &until_o,
                                     &max_epoch))
        return -1;
    if (bucket <= 0) {
        PyErr_SetString(PyExc_ValueError, "bucket must be > 0");
        return -1;
    }
    f->has_since = since_o != Py_None;
    f->has_until = until_o != Py_None;
    f->since = f->has_since ? PyFloat_AsDouble(since_o) : 0.0;
    f->until = f->has_until ? PyFloat_AsDouble(until_o) : 0.0;
    if (PyErr_Occurred()) return -1;
    f->bucket = bucket;
    f->max_epoch = max_epoch;
    if (!f->lock && !(f->lock = PyThread_allocate_lock())) {
        PyErr_NoMemory();
        return -1;
    }
    if (folder_reset(f)) {
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

static void Folder_dealloc(Folder *f) {
    folder_clear(f);
    if (f->lock) PyThread_free_lock(f->lock);
    Py_TYPE(f)->tp_free((PyObject *)f);
}

PyDoc_STRVAR(feed_doc,
"feed(buf, want_samples) -> (lines, records, filtered, samples)\n\n"
"Check every line of a chunk of native Squid lines by the grammar and fold its\n"
"records in; ``samples`` are the (start, end) byte spans of the first\n"
"``want_samples`` malformed lines (end at the newline). Records outside\n"
"[since, until) are counted in ``filtered`` only. Runs without the GIL.");

static PyObject *Folder_feed(Folder *f, PyObject *args) {
    READY(f);
    Py_buffer view;
    Py_ssize_t want;
    if (!PyArg_ParseTuple(args, "y*n", &view, &want)) return NULL;
    if (want < 0) want = 0;
    Py_ssize_t *spans = want > 0 ? malloc((size_t)want * 2 * sizeof(Py_ssize_t)) : NULL;
    Py_ssize_t nspans = 0, lines = 0, records = 0, filtered = 0;
    int oom = want > 0 && !spans;
    const unsigned char *buf = view.buf, *end = buf + view.len, *p = buf;
    Py_BEGIN_ALLOW_THREADS
    PyThread_acquire_lock(f->lock, WAIT_LOCK);
    while (!oom && p < end) {
        const unsigned char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl) nl = end;
        const unsigned char *le = nl;
        if (le > p && le[-1] == '\r') le--;
        Rec r;
        lines++;
        if (parse_line(p, le, f->max_epoch, &r)) {
            records++;
            if ((f->has_since && !(r.ts >= f->since)) || (f->has_until && !(r.ts < f->until)))
                filtered++;
            else if (fold_record(f, &r))
                oom = 1;
        } else if (nspans < want) {
            spans[2 * nspans] = p - buf;
            spans[2 * nspans + 1] = nl - buf;
            nspans++;
        }
        p = nl + 1;
    }
    PyThread_release_lock(f->lock);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&view);
    PyObject *out = NULL, *sl = NULL;
    if (oom) {
        PyErr_NoMemory();
        goto done;
    }
    if (!(sl = PyList_New(nspans))) goto done;
    for (Py_ssize_t i = 0; i < nspans; i++) {
        PyObject *pair = Py_BuildValue("(nn)", spans[2 * i], spans[2 * i + 1]);
        if (!pair) goto done;
        PyList_SET_ITEM(sl, i, pair);
    }
    out = Py_BuildValue("(nnnO)", lines, records, filtered, sl);
done:
    Py_XDECREF(sl);
    free(spans);
    return out;
}

static PyObject *ascii(const char *s, size_t n) {
    PyObject *o = PyUnicode_New((Py_ssize_t)n, 127);
    if (o) memcpy(PyUnicode_DATA(o), s, n);
    return o;
}

static PyObject *column(const void *data, size_t n) {
    return PyBytes_FromStringAndSize((const char *)data, (Py_ssize_t)n);
}

static PyObject *req_columns(Folder *t, PyObject **host_strs) {
    size_t n = t->req.used;
    PyObject *hostport = PyList_New((Py_ssize_t)n), *method = PyList_New((Py_ssize_t)n),
             *cs = PyList_New((Py_ssize_t)n), *out = NULL;
    int64_t *req = malloc((n + 1) * 8), *byt = malloc((n + 1) * 8);
    double *first = malloc((n + 1) * 8), *last = malloc((n + 1) * 8);
    if (!hostport || !method || !cs || !req || !byt || !first || !last) goto done;
    for (size_t i = 0; i < n; i++) {
        Entry *e = &t->req.slots[t->req.order[i]];
        const char *k = t->arena.data + e->off, *m = memchr(k, 0, e->len);
        const char *c = memchr(m + 1, 0, e->len - (size_t)(m + 1 - k));
        PyObject *h = host_strs[e->k1];
        Py_INCREF(h);
        PyList_SET_ITEM(hostport, (Py_ssize_t)i, h);
        PyObject *mo = ascii(m + 1, (size_t)(c - m - 1));
        PyObject *co = ascii(c + 1, e->len - (size_t)(c + 1 - k));
        if (!mo || !co) {
            Py_XDECREF(mo);
            Py_XDECREF(co);
            goto done;
        }
        PyList_SET_ITEM(method, (Py_ssize_t)i, mo);
        PyList_SET_ITEM(cs, (Py_ssize_t)i, co);
        req[i] = e->requests;
        byt[i] = (int64_t)e->bytes;
        first[i] = e->first;
        last[i] = e->last;
    }
    out = Py_BuildValue("(OOONNNN)", hostport, method, cs, column(req, n * 8),
                        column(byt, n * 8), column(first, n * 8), column(last, n * 8));
done:
    Py_XDECREF(hostport);
    Py_XDECREF(method);
    Py_XDECREF(cs);
    free(req);
    free(byt);
    free(first);
    free(last);
    return out;
}

static PyObject *tim_columns(Folder *t, PyObject **host_strs) {
    size_t n = t->tim.used;
    PyObject *hostport = PyList_New((Py_ssize_t)n), *out = NULL;
    int64_t *bucket = malloc((n + 1) * 8), *req = malloc((n + 1) * 8),
            *byt = malloc((n + 1) * 8);
    if (!hostport || !bucket || !req || !byt) goto done;
    for (size_t i = 0; i < n; i++) {
        Entry *e = &t->tim.slots[t->tim.order[i]];
        Py_INCREF(host_strs[e->k1]);
        PyList_SET_ITEM(hostport, (Py_ssize_t)i, host_strs[e->k1]);
        bucket[i] = e->k2;
        req[i] = e->requests;
        byt[i] = (int64_t)e->bytes;
    }
    out = Py_BuildValue("(ONNN)", hostport, column(bucket, n * 8), column(req, n * 8),
                        column(byt, n * 8));
done:
    Py_XDECREF(hostport);
    free(bucket);
    free(req);
    free(byt);
    return out;
}

static PyObject *cli_columns(Folder *t) {
    size_t n = t->cli.used;
    PyObject *client = PyList_New((Py_ssize_t)n), *out = NULL;
    int64_t *req = malloc((n + 1) * 8), *byt = malloc((n + 1) * 8);
    if (!client || !req || !byt) goto done;
    for (size_t i = 0; i < n; i++) {
        Entry *e = &t->cli.slots[t->cli.order[i]];
        PyObject *c = ascii(t->arena.data + e->off, e->len);
        if (!c) goto done;
        PyList_SET_ITEM(client, (Py_ssize_t)i, c);
        req[i] = e->requests;
        byt[i] = (int64_t)e->bytes;
    }
    out = Py_BuildValue("(ONN)", client, column(req, n * 8), column(byt, n * 8));
done:
    Py_XDECREF(client);
    free(req);
    free(byt);
    return out;
}

PyDoc_STRVAR(take_doc,
"take() -> (req, tim, cli)\n\n"
"The folded tables, and the folder empty again: ``req`` = (hostport, method, cs,\n"
"requests, bytes, first, last), ``tim`` = (hostport, bucket, requests, bytes),\n"
"``cli`` = (client, requests, bytes); strings as lists, numbers as packed\n"
"int64/float64 bytes, rows in no particular order. ``add`` takes the same.");

static PyObject *Folder_take(Folder *f, PyObject *unused) {
    READY(f);
    LOCK(f);
    PyObject *out = NULL, *req = NULL, *tim = NULL, *cli = NULL;
    PyObject **host_strs = calloc(f->hosts.used + 1, sizeof(PyObject *));
    if (!host_strs) {
        PyErr_NoMemory();
        goto done;
    }
    for (size_t i = 0; i < f->hosts.used; i++) {
        Entry *e = &f->hosts.slots[f->hosts.order[i]];
        if (!(host_strs[i] = ascii(f->arena.data + e->off, e->len))) goto done;
    }
    if (!(req = req_columns(f, host_strs)) || !(tim = tim_columns(f, host_strs)) ||
        !(cli = cli_columns(f)))
        goto done;
    if (folder_reset(f)) {
        PyErr_NoMemory();
        goto done;
    }
    out = Py_BuildValue("(OOO)", req, tim, cli);
done:
    if (host_strs) {
        for (size_t i = 0; i < f->hosts.used; i++) Py_XDECREF(host_strs[i]);
        free(host_strs);
    }
    Py_XDECREF(req);
    Py_XDECREF(tim);
    Py_XDECREF(cli);
    UNLOCK(f);
    return out;
}

/* A list of str (ASCII) as (pointer, length) pairs; NULL with an exception when not so. */
static const char **strings(PyObject *list, Py_ssize_t n, Py_ssize_t **lens) {
    if (!PyList_Check(list) || PyList_GET_SIZE(list) != n) {
        PyErr_SetString(PyExc_ValueError, "take()'s columns expected");
        return NULL;
    }
    const char **out = malloc((size_t)(n + 1) * sizeof(char *));
    *lens = malloc((size_t)(n + 1) * sizeof(Py_ssize_t));
    if (!out || !*lens) {
        free(out);
        free(*lens);
        PyErr_NoMemory();
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        out[i] = PyUnicode_AsUTF8AndSize(PyList_GET_ITEM(list, i), &(*lens)[i]);
        if (!out[i]) {
            free(out);
            free(*lens);
            return NULL;
        }
    }
    return out;
}

static int numbers(PyObject *b, Py_ssize_t n, const void **out) {
    if (!PyBytes_Check(b) || PyBytes_GET_SIZE(b) != n * 8) {
        PyErr_SetString(PyExc_ValueError, "take()'s columns expected");
        return -1;
    }
    *out = PyBytes_AS_STRING(b);
    return 0;
}

PyDoc_STRVAR(add_doc,
"add(req, tim, cli)\n\n"
"Fold in tables as ``take`` returns them (another process's folder): requests and\n"
"bytes add up, first/last take the min/max, timeline buckets are floored to this\n"
"folder's bucket (call ``rebucket`` first when theirs is coarser).");

static PyObject *Folder_add(Folder *f, PyObject *args) {
    READY(f);
    PyObject *req, *tim, *cli;
    if (!PyArg_ParseTuple(args, "O!O!O!", &PyTuple_Type, &req, &PyTuple_Type, &tim,
                          &PyTuple_Type, &cli))
        return NULL;
    if (PyTuple_GET_SIZE(req) != 7 || PyTuple_GET_SIZE(tim) != 4 || PyTuple_GET_SIZE(cli) != 3 ||
        !PyList_Check(PyTuple_GET_ITEM(req, 0)) || !PyList_Check(PyTuple_GET_ITEM(tim, 0)) ||
        !PyList_Check(PyTuple_GET_ITEM(cli, 0))) {
        PyErr_SetString(PyExc_ValueError, "take()'s tables expected");
        return NULL;
    }
    int ok = -1;
    Py_ssize_t nr = PyList_GET_SIZE(PyTuple_GET_ITEM(req, 0));
    Py_ssize_t nt = PyList_GET_SIZE(PyTuple_GET_ITEM(tim, 0));
    Py_ssize_t nc = PyList_GET_SIZE(PyTuple_GET_ITEM(cli, 0));
    Py_ssize_t *l_hp = NULL, *l_m = NULL, *l_cs = NULL, *l_th = NULL, *l_c = NULL;
    const char **hp = NULL, **m = NULL, **cs = NULL, **th = NULL, **c = NULL;
    const int64_t *rq, *rb, *tb, *tq, *tbb, *cq, *cb;
    const double *rf, *rl;
    LOCK(f);
    if (!(hp = strings(PyTuple_GET_ITEM(req, 0), nr, &l_hp)) ||
        !(m = strings(PyTuple_GET_ITEM(req, 1), nr, &l_m)) ||
        !(cs = strings(PyTuple_GET_ITEM(req, 2), nr, &l_cs)) ||
        !(th = strings(PyTuple_GET_ITEM(tim, 0), nt, &l_th)) ||
        !(c = strings(PyTuple_GET_ITEM(cli, 0), nc, &l_c)) ||
        numbers(PyTuple_GET_ITEM(req, 3), nr, (const void **)&rq) ||
        numbers(PyTuple_GET_ITEM(req, 4), nr, (const void **)&rb) ||
        numbers(PyTuple_GET_ITEM(req, 5), nr, (const void **)&rf) ||
        numbers(PyTuple_GET_ITEM(req, 6), nr, (const void **)&rl) ||
        numbers(PyTuple_GET_ITEM(tim, 1), nt, (const void **)&tb) ||
        numbers(PyTuple_GET_ITEM(tim, 2), nt, (const void **)&tq) ||
        numbers(PyTuple_GET_ITEM(tim, 3), nt, (const void **)&tbb) ||
        numbers(PyTuple_GET_ITEM(cli, 1), nc, (const void **)&cq) ||
        numbers(PyTuple_GET_ITEM(cli, 2), nc, (const void **)&cb))
        goto done;
    for (Py_ssize_t i = 0; i < nr; i++)
        if (fold_req(f, (const unsigned char *)hp[i], (size_t)l_hp[i],
                     (const unsigned char *)m[i], (size_t)l_m[i], (const unsigned char *)cs[i],
                     (size_t)l_cs[i], rq[i], (uint64_t)rb[i], rf[i], rl[i]) < 0)
            goto oom;
    for (Py_ssize_t i = 0; i < nt; i++) {
        int hf;
        Entry *h = str_get(&f->hosts, &f->arena, (const unsigned char *)th[i], (size_t)l_th[i],
                           &hf);
        if (!h) goto oom;
        if (hf) h->k1 = (int64_t)(f->hosts.used - 1);
        if (fold_tim(f, h->k1, floor_to(tb[i], f->bucket), tq[i], (uint64_t)tbb[i])) goto oom;
    }
    for (Py_ssize_t i = 0; i < nc; i++)
        if (fold_cli(f, (const unsigned char *)c[i], (size_t)l_c[i], cq[i], (uint64_t)cb[i]))
            goto oom;
    ok = 0;
    goto done;
oom:
    PyErr_NoMemory();
done:
    UNLOCK(f);
    free(hp); free(l_hp); free(m); free(l_m); free(cs); free(l_cs);
    free(th); free(l_th); free(c); free(l_c);
    if (ok) return NULL;
    Py_RETURN_NONE;
}

PyDoc_STRVAR(rebucket_doc,
"rebucket(bucket)\n\n"
"Grow the timeline's bucket to ``bucket`` (a multiple of the current one): the\n"
"folded buckets are floored to it and summed, and later records use it.");

static PyObject *Folder_rebucket(Folder *f, PyObject *args) {
    READY(f);
    long long nb;
    if (!PyArg_ParseTuple(args, "L", &nb)) return NULL;
    if (nb <= 0 || nb % f->bucket) {
        PyErr_SetString(PyExc_ValueError, "the new bucket must be a multiple of the current");
        return NULL;
    }
    LOCK(f);
    Table tim = {0}, bks = {0};
    int failed = table_init(&tim, f->tim.cap) || table_init(&bks, 1024);
    for (size_t i = 0; !failed && i < f->tim.used; i++) {
        Entry *e = &f->tim.slots[f->tim.order[i]];
        int64_t b = floor_to(e->k2, nb);
        Entry *n = int_get(&tim, e->k1, b);
        if (!n || !int_get(&bks, b, 0)) {
            failed = 1;
            break;
        }
        n->requests += e->requests;
        n->bytes += e->bytes;
    }
    if (failed) {
        table_free(&tim);
        table_free(&bks);
        UNLOCK(f);
        return PyErr_NoMemory();
    }
    table_free(&f->tim);
    table_free(&f->buckets);
    f->tim = tim;
    f->buckets = bks;
    f->bucket = nb;
    UNLOCK(f);
    Py_RETURN_NONE;
}

static PyObject *Folder_distinct_buckets(Folder *f, PyObject *unused) {
    READY(f);
    LOCK(f);
    PyObject *out = PyList_New((Py_ssize_t)f->buckets.used);
    for (size_t i = 0; out && i < f->buckets.used; i++) {
        PyObject *v = PyLong_FromLongLong(f->buckets.slots[f->buckets.order[i]].k1);
        if (!v) {
            Py_CLEAR(out);
            break;
        }
        PyList_SET_ITEM(out, (Py_ssize_t)i, v);
    }
    UNLOCK(f);
    return out;
}

static PyObject *Folder_get_bucket(Folder *f, void *unused) {
    return PyLong_FromLongLong(f->bucket);
}

static PyObject *Folder_get_buckets(Folder *f, void *unused) {
    READY(f);
    LOCK(f);
    size_t n = f->buckets.used;
    UNLOCK(f);
    return PyLong_FromSize_t(n);
}

static PyObject *Folder_get_size(Folder *f, void *unused) {
    READY(f);
    LOCK(f);
    size_t n = f->req.used + f->tim.used + f->cli.used;
    UNLOCK(f);
    return PyLong_FromSize_t(n);
}

static PyMethodDef folder_methods[] = {
    {"feed", (PyCFunction)Folder_feed, METH_VARARGS, feed_doc},
    {"take", (PyCFunction)Folder_take, METH_NOARGS, take_doc},
    {"add", (PyCFunction)Folder_add, METH_VARARGS, add_doc},
    {"rebucket", (PyCFunction)Folder_rebucket, METH_VARARGS, rebucket_doc},
    {"distinct_buckets", (PyCFunction)Folder_distinct_buckets, METH_NOARGS,
     "The distinct timeline buckets folded so far."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef folder_getset[] = {
    {"bucket", (getter)Folder_get_bucket, NULL, "the timeline's bucket, seconds", NULL},
    {"buckets", (getter)Folder_get_buckets, NULL, "how many distinct buckets", NULL},
    {"size", (getter)Folder_get_size, NULL, "rows held (request + timeline + client)", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject FolderType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "proxylab.audit._scan.Folder",
    .tp_basicsize = sizeof(Folder),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Folder(bucket, since, until, max_epoch): native Squid chunks checked by the\n"
              "grammar and folded into the audit's three tables (see _scan.c).",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Folder_init,
    .tp_dealloc = (destructor)Folder_dealloc,
    .tp_methods = folder_methods,
    .tp_getset = folder_getset,
};

static PyMethodDef module_methods[] = {
    {"records", records, METH_VARARGS, records_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_scan",
    "The compiled reader for Squid's native logformat (see _scan.c).", -1, module_methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__scan(void) {
    if (PyType_Ready(&FolderType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (!m) return NULL;
    Py_INCREF(&FolderType);
    if (PyModule_AddObject(m, "Folder", (PyObject *)&FolderType) < 0) {
        Py_DECREF(&FolderType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
