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
    const unsigned char *client, *cs, *method, *url;
    size_t client_n, cs_n, method_n, url_n;
    double ts;
    int64_t bytes;
} Rec;

#define SEP(p) do { if ((p) == NULL || (p) >= end || *(p) != ' ') return 0; (p)++; } while (0)

/* One line [p, end) (no \n; a final \r already dropped): 1 and *r when a record. */
static int parse_line(const unsigned char *p, const unsigned char *end, double max_epoch,
                      Rec *r) {
    const unsigned char *q, *ts0 = p;
    uint64_t ip = 0, fr = 0, v;
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
    SEP(p);
    /* client */
    r->client = p;
    p = tok(p, end);
    if (!p) return 0;
    r->client_n = (size_t)(p - r->client);
    SEP(p);
    /* TAG/STATUS */
    r->cs = p;
    p = tag(p, end);
    if (!p || p + 4 > end || p[0] != '/' || !IS_DIGIT(p[1]) || !IS_DIGIT(p[2]) ||
        !IS_DIGIT(p[3]))
        return 0;
    p += 4;
    r->cs_n = (size_t)(p - r->cs);
    SEP(p);
    /* bytes */
    p = digits(p, end, 18, &v);
    r->bytes = (int64_t)v;
    SEP(p);
    /* method, url, user */
    r->method = p;
    p = tok(p, end);
    if (!p) return 0;
    r->method_n = (size_t)(p - r->method);
    SEP(p);
    r->url = p;
    p = tok(p, end);
    if (!p) return 0;
    r->url_n = (size_t)(p - r->url);
    SEP(p);
    p = tok(p, end);
    SEP(p);
    /* TAG/peer, the peer possibly empty */
    p = tag(p, end);
    if (!p || p >= end || *p != '/') return 0;
    p++;
    while (p < end && IS_TOK(*p)) p++;
    SEP(p);
    /* type, and nothing after it */
    p = tok(p, end);
    return p == end;
}

/* ---- scan_chunk ------------------------------------------------------------------ */

typedef struct {
    Arena arena;
    Table hosts, req, tim, cli;
} Tables;

static void tables_free(Tables *t) {
    free(t->arena.data);
    table_free(&t->hosts);
    table_free(&t->req);
    table_free(&t->tim);
    table_free(&t->cli);
}

static int fold(Tables *t, const Rec *r, int64_t bucket) {
    /* host:port of the URL token */
    const unsigned char *u = r->url, *ue = r->url + r->url_n, *hp = u, *he;
    for (const unsigned char *s = u; s + 3 <= ue; s++) {
        if (s[0] == ':' && s[1] == '/' && s[2] == '/') {
            hp = s + 3;
            break;
        }
    }
    he = memchr(hp, '/', (size_t)(ue - hp));
    if (!he) he = ue;
    /* request key: host:port \0 method \0 code/status (fields are printable ASCII) */
    unsigned char stack[512];
    size_t hn = (size_t)(he - hp), n = hn + 1 + r->method_n + 1 + r->cs_n;
    unsigned char *key = n <= sizeof stack ? stack : malloc(n);
    if (!key) return -1;
    memcpy(key, hp, hn);
    key[hn] = 0;
    memcpy(key + hn + 1, r->method, r->method_n);
    key[hn + 1 + r->method_n] = 0;
    memcpy(key + hn + 2 + r->method_n, r->cs, r->cs_n);
    int fresh;
    Entry *e = str_get(&t->req, &t->arena, key, n, &fresh);
    if (key != stack) free(key);
    if (!e) return -1;
    if (fresh) {
        int hf;
        Entry *h = str_get(&t->hosts, &t->arena, hp, hn, &hf);
        if (!h) return -1;
        if (hf) h->k1 = (int64_t)(t->hosts.used - 1);
        e->k1 = h->k1;
        e->first = e->last = r->ts;
    }
    e->requests++;
    e->bytes += (uint64_t)r->bytes;
    if (r->ts < e->first) e->first = r->ts;
    if (r->ts > e->last) e->last = r->ts;
    int64_t host_id = e->k1;
    e = int_get(&t->tim, host_id, bucket);
    if (!e) return -1;
    e->requests++;
    e->bytes += (uint64_t)r->bytes;
    e = str_get(&t->cli, &t->arena, r->client, r->client_n, &fresh);
    if (!e) return -1;
    e->requests++;
    e->bytes += (uint64_t)r->bytes;
    return 0;
}

static PyObject *ascii(const char *s, size_t n) {
    PyObject *o = PyUnicode_New((Py_ssize_t)n, 127);
    if (o) memcpy(PyUnicode_DATA(o), s, n);
    return o;
}

/* The columns of a string table as (list of str, int64 bytes, int64 bytes[, f64, f64]). */
static PyObject *column(const void *data, size_t n) {
    return PyBytes_FromStringAndSize((const char *)data, (Py_ssize_t)n);
}

static PyObject *req_columns(Tables *t, PyObject **host_strs) {
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

static PyObject *tim_columns(Tables *t, PyObject **host_strs) {
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

static PyObject *cli_columns(Tables *t) {
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

PyDoc_STRVAR(scan_chunk_doc,
"scan_chunk(buf, bucket, since, until, max_epoch, want_samples)\n"
"-> (lines, records, filtered, samples, req, tim, cli)\n\n"
"One chunk of native Squid lines checked by the grammar and folded: ``samples`` are\n"
"the (start, end) byte spans of the first ``want_samples`` malformed lines (end at\n"
"the newline); ``req`` = (hostport, method, cs, requests, bytes, first, last),\n"
"``tim`` = (hostport, bucket, requests, bytes), ``cli`` = (client, requests, bytes):\n"
"strings as lists, numbers as packed int64/float64 bytes. ``since``/``until`` are\n"
"floats or None; records outside [since, until) are counted in ``filtered`` only.");

static PyObject *scan_chunk(PyObject *self, PyObject *args) {
    Py_buffer view;
    long long bucket;
    PyObject *since_o, *until_o;
    double max_epoch;
    Py_ssize_t want;
    if (!PyArg_ParseTuple(args, "y*LOOdn", &view, &bucket, &since_o, &until_o, &max_epoch,
                          &want))
        return NULL;
    int has_since = since_o != Py_None, has_until = until_o != Py_None;
    double since = has_since ? PyFloat_AsDouble(since_o) : 0.0;
    double until = has_until ? PyFloat_AsDouble(until_o) : 0.0;
    if (PyErr_Occurred() || bucket <= 0) {
        PyBuffer_Release(&view);
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "bucket must be > 0");
        return NULL;
    }
    Tables t;
    memset(&t, 0, sizeof t);
    if (table_init(&t.hosts, 1024) || table_init(&t.req, 4096) || table_init(&t.tim, 4096) ||
        table_init(&t.cli, 1024)) {
        tables_free(&t);
        PyBuffer_Release(&view);
        return PyErr_NoMemory();
    }
    Py_ssize_t *spans = want > 0 ? malloc((size_t)want * 2 * sizeof(Py_ssize_t)) : NULL;
    Py_ssize_t nspans = 0, lines = 0, records = 0, filtered = 0;
    int oom = want > 0 && !spans;
    const unsigned char *buf = view.buf, *end = buf + view.len, *p = buf;
    const double bs = (double)bucket;
    Py_BEGIN_ALLOW_THREADS
    while (!oom && p < end) {
        const unsigned char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl) nl = end;
        const unsigned char *le = nl;
        if (le > p && le[-1] == '\r') le--;
        Rec r;
        lines++;
        if (parse_line(p, le, max_epoch, &r)) {
            records++;
            if ((has_since && !(r.ts >= since)) || (has_until && !(r.ts < until))) {
                filtered++;
            } else if (fold(&t, &r, (int64_t)(floor(r.ts / bs) * bs))) {
                oom = 1;
            }
        } else if (nspans < want) {
            spans[2 * nspans] = p - buf;
            spans[2 * nspans + 1] = nl - buf;
            nspans++;
        }
        p = nl + 1;
    }
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&view);
    PyObject *out = NULL, *sl = NULL, *req = NULL, *tim = NULL, *cli = NULL;
    PyObject **host_strs = NULL;
    if (oom) {
        PyErr_NoMemory();
        goto done;
    }
    host_strs = calloc(t.hosts.used + 1, sizeof(PyObject *));
    if (!host_strs) {
        PyErr_NoMemory();
        goto done;
    }
    for (size_t i = 0; i < t.hosts.used; i++) {
        Entry *e = &t.hosts.slots[t.hosts.order[i]];
        if (!(host_strs[i] = ascii(t.arena.data + e->off, e->len))) goto done;
    }
    sl = PyList_New(nspans);
    if (!sl) goto done;
    for (Py_ssize_t i = 0; i < nspans; i++) {
        PyObject *pair = Py_BuildValue("(nn)", spans[2 * i], spans[2 * i + 1]);
        if (!pair) goto done;
        PyList_SET_ITEM(sl, i, pair);
    }
    if (!(req = req_columns(&t, host_strs)) || !(tim = tim_columns(&t, host_strs)) ||
        !(cli = cli_columns(&t)))
        goto done;
    out = Py_BuildValue("(nnnOOOO)", lines, records, filtered, sl, req, tim, cli);
done:
    if (host_strs) {
        for (size_t i = 0; i < t.hosts.used; i++) Py_XDECREF(host_strs[i]);
        free(host_strs);
    }
    Py_XDECREF(sl);
    Py_XDECREF(req);
    Py_XDECREF(tim);
    Py_XDECREF(cli);
    free(spans);
    tables_free(&t);
    return out;
}

static PyMethodDef methods[] = {
    {"scan_chunk", scan_chunk, METH_VARARGS, scan_chunk_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_scan",
    "The audit's compiled reader for Squid's native logformat (see _scan.c).", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__scan(void) { return PyModule_Create(&module); }
