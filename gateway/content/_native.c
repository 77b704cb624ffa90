/* The content path's compiled parts, each held to its Python reference by
   tests/content/test_native.py: the two content models' scores in one pass
   (``Scorer``, gateway.content.classifier) and a text's MinHash band keys
   (``band_keys``, gateway.content.fingerprint).

   The scorer:

   ``Scorer(weights_a, weights_b, wb, words, bias_a, bias_b, min_count, seed)`` holds
   the two models' weights in flat open-addressing tables: every feature (word
   n-grams, ``w:`` words, word pairs) with its weight in each model, the word pairs
   alone in a smaller table, and a memo of the words met (each word's n-gram and word
   weight sums in either model and its feature count). ``score(words)`` returns what
   ``ModelPair.score_words`` of the pure-Python classifier returns for the same words:
   the same floats, summed in the same order, as Python's ``sum`` sums them (plain
   addition before 3.12, Neumaier's compensated summation from 3.12 on);
   tests/content/test_native.py holds the two equal.

   Why: the Python path looks each word up in three dicts and each word pair in two,
   all of them dicts of 10^4-10^5 string keys, and on texts that never repeat most of
   those lookups miss the CPU caches (key object, entry, float object). Here a word
   costs one probe into a table whose entry holds all three values.

   Keys are compared exactly (their code points are kept in an arena), so a hash
   collision costs a probe, never a wrong weight; the hash is keyed by a per-process
   random seed, so nobody can choose words that pile into one bucket. The word memo is
   bounded (``WORD_MEMO`` words, as in Python) and starts over in O(1) when full (a
   generation number, not a wipe). Every call runs with the GIL held and creates no
   Python object until its tables are consistent again, so threads that score with
   one Scorer (the event loop, a reload's examples check) never see it half-written.
*/
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#define WORD_MEMO 100000
#define MEMO_SLOTS (1u << 18) /* load at most 0.38 */
#define MEMO_ARENA_MAX (1u << 24) /* code points the memo's keys may take */
#define MAX_WB 8    /* n-gram sizes a model may have */
#define MAX_GRAM 64 /* the longest n-gram */
#define STACK_KEY 256

#if PY_VERSION_HEX >= 0x030C0000
#define COMPENSATED 1 /* sum() of floats: Neumaier's summation from 3.12 */
#else
#define COMPENSATED 0
#endif

/* ---- Python's sum() of floats, term by term ---------------------------------- */

typedef struct {
    double s, c;
} Sum;

static inline void sum_add(Sum *t, double x) {
#if COMPENSATED
    double r = t->s + x;
    if (fabs(t->s) >= fabs(x))
        t->c += (t->s - r) + x;
    else
        t->c += (x - r) + t->s;
    t->s = r;
#else
    t->s += x;
#endif
}

static inline double sum_done(const Sum *t) {
#if COMPENSATED
    if (t->c != 0.0 && isfinite(t->c))
        return t->s + t->c;
#endif
    return t->s;
}

/* ---- tables -------------------------------------------------------------------- */

typedef struct {
    uint64_t h;
    uint32_t off, len; /* the key's code points in the table's arena */
    double a, b;       /* weight (or weight sum) in each model */
    int32_t n;         /* feature count (the memo) */
    uint32_t gen;      /* the memo's generation; 0: empty */
} Entry;

typedef struct {
    Entry *e;
    uint64_t mask;
    size_t used;
    uint32_t gen;
    uint32_t *arena;
    size_t arena_len, arena_cap;
} Table;

static int table_init(Table *t, size_t slots) {
    t->e = PyMem_Calloc(slots, sizeof(Entry));
    t->mask = slots - 1;
    t->used = 0;
    t->gen = 1;
    t->arena = NULL;
    t->arena_len = t->arena_cap = 0;
    if (t->e == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

static void table_free(Table *t) {
    PyMem_Free(t->e);
    PyMem_Free(t->arena);
    t->e = NULL;
    t->arena = NULL;
}

static void table_reset(Table *t) { /* every entry stale at once: an empty table */
    t->gen++;
    if (t->gen == 0) { /* wrapped: entries of generation 1 would look current */
        memset(t->e, 0, (t->mask + 1) * sizeof(Entry));
        t->gen = 1;
    }
    t->used = 0;
    t->arena_len = 0;
}

typedef struct {
    uint64_t k0, k1;
} Seed;

static inline uint64_t hash_cps(const Seed *sd, const uint32_t *k, size_t n) {
    uint64_t h = sd->k0 ^ (n * 0x9E3779B97F4A7C15ull);
    for (size_t i = 0; i < n; i++) {
        h ^= k[i];
        h *= 0x100000001B3ull;
        h ^= h >> 29;
    }
    h ^= sd->k1;
    h ^= h >> 33;
    h *= 0xFF51AFD7ED558CCDull;
    h ^= h >> 33;
    h *= 0xC4CEB9FE1A85EC53ull;
    h ^= h >> 33;
    return h;
}

/* the entry of key k (current generation), or NULL */
static inline Entry *table_find(const Table *t, uint64_t h, const uint32_t *k, size_t n) {
    uint64_t i = h & t->mask;
    for (;;) {
        Entry *e = &t->e[i];
        if (e->gen != t->gen)
            return NULL;
        if (e->h == h && e->len == n && memcmp(t->arena + e->off, k, n * sizeof(uint32_t)) == 0)
            return e;
        i = (i + 1) & t->mask;
    }
}

/* twice the slots, the current entries moved over (the arena stays) */
static int table_grow(Table *t) {
    uint64_t slots = (t->mask + 1) * 2;
    Entry *e = PyMem_Calloc(slots, sizeof(Entry));
    if (e == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (uint64_t i = 0; i <= t->mask; i++) {
        if (t->e[i].gen != t->gen)
            continue;
        uint64_t j = t->e[i].h & (slots - 1);
        while (e[j].gen == t->gen)
            j = (j + 1) & (slots - 1);
        e[j] = t->e[i];
    }
    PyMem_Free(t->e);
    t->e = e;
    t->mask = slots - 1;
    return 0;
}

/* a new entry for key k, known to be absent; NULL (MemoryError set) if out of memory.
   A table is never more than three quarters full (the memo never gets near: it
   starts over at WORD_MEMO words) */
static Entry *table_add(Table *t, uint64_t h, const uint32_t *k, size_t n) {
    if ((t->used + 1) * 4 > (t->mask + 1) * 3 && table_grow(t) < 0)
        return NULL;
    if (t->arena_len + n > t->arena_cap) {
        size_t cap = t->arena_cap ? t->arena_cap : 4096;
        while (cap < t->arena_len + n)
            cap *= 2;
        uint32_t *a = PyMem_Realloc(t->arena, cap * sizeof(uint32_t));
        if (a == NULL) {
            PyErr_NoMemory();
            return NULL;
        }
        t->arena = a;
        t->arena_cap = cap;
    }
    uint64_t i = h & t->mask;
    while (t->e[i].gen == t->gen)
        i = (i + 1) & t->mask;
    Entry *e = &t->e[i];
    memcpy(t->arena + t->arena_len, k, n * sizeof(uint32_t));
    e->h = h;
    e->off = (uint32_t)t->arena_len;
    e->len = (uint32_t)n;
    e->a = e->b = 0.0;
    e->n = 0;
    e->gen = t->gen;
    t->arena_len += n;
    t->used++;
    return e;
}

/* ---- keys from str objects ---------------------------------------------------- */

typedef struct {
    uint32_t *p;
    size_t len, cap;
    uint32_t stack[STACK_KEY];
} Key;

static void key_init(Key *k) {
    k->p = k->stack;
    k->len = 0;
    k->cap = STACK_KEY;
}

static void key_free(Key *k) {
    if (k->p != k->stack)
        PyMem_Free(k->p);
}

static int key_room(Key *k, size_t extra) {
    if (k->len + extra <= k->cap)
        return 0;
    size_t cap = k->cap * 2;
    while (cap < k->len + extra)
        cap *= 2;
    uint32_t *p = PyMem_Malloc(cap * sizeof(uint32_t));
    if (p == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    memcpy(p, k->p, k->len * sizeof(uint32_t));
    if (k->p != k->stack)
        PyMem_Free(k->p);
    k->p = p;
    k->cap = cap;
    return 0;
}

static int key_str(Key *k, PyObject *s) {
    Py_ssize_t n = PyUnicode_GET_LENGTH(s);
    if (key_room(k, (size_t)n) < 0)
        return -1;
    int kind = PyUnicode_KIND(s);
    const void *data = PyUnicode_DATA(s);
    for (Py_ssize_t i = 0; i < n; i++)
        k->p[k->len++] = PyUnicode_READ(kind, data, i);
    return 0;
}

/* ---- the scorer ---------------------------------------------------------------- */

typedef struct {
    PyObject_HEAD
    Seed seed;
    Table feats; /* every feature of either model -> (weight in a, weight in b) */
    Table pairs; /* the word-pair features ("x y") alone */
    Table memo;  /* word -> (n-gram and word weight sums in a and b, feature count) */
    int wb[MAX_WB];
    int nwb;
    int whole; /* the word itself is a feature ("w:" + word) */
    double bias_a, bias_b;
    Py_ssize_t min_count;
    PyObject *pending[2]; /* the two weight dicts until loaded (``load``) */
    int loading;          /* the dict being loaded, 2 when both are */
    Py_ssize_t pos;       /* PyDict_Next's place in it */
} Scorer;

static void Scorer_dealloc(Scorer *self) {
    Py_CLEAR(self->pending[0]);
    Py_CLEAR(self->pending[1]);
    table_free(&self->feats);
    table_free(&self->pairs);
    table_free(&self->memo);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static size_t slots_for(Py_ssize_t n) {
    size_t s = 1024;
    while (s < (size_t)n * 2)
        s *= 2;
    return s;
}

/* a word pair feature: a space inside, none at either end (Model.__post_init__) */
static int is_pair(const uint32_t *k, size_t n) {
    if (n < 3 || k[0] == ' ' || k[n - 1] == ' ')
        return 0;
    for (size_t i = 1; i + 1 < n; i++)
        if (k[i] == ' ')
            return 1;
    return 0;
}

/* one weight (model a if which == 0, else b) into the feature and pair tables */
static int load_weight(Scorer *self, PyObject *key, PyObject *value, int which, Key *k) {
    if (!PyUnicode_Check(key)) {
        PyErr_SetString(PyExc_TypeError, "weights: keys must be str");
        return -1;
    }
    double w = PyFloat_AsDouble(value);
    if (w == -1.0 && PyErr_Occurred())
        return -1;
    k->len = 0;
    if (key_str(k, key) < 0)
        return -1;
    Table *tables[2] = {&self->feats, is_pair(k->p, k->len) ? &self->pairs : NULL};
    for (int j = 0; j < 2; j++) {
        Table *t = tables[j];
        if (t == NULL)
            continue;
        uint64_t h = hash_cps(&self->seed, k->p, k->len);
        Entry *e = table_find(t, h, k->p, k->len);
        if (e == NULL && (e = table_add(t, h, k->p, k->len)) == NULL)
            return -1;
        if (which == 0)
            e->a = w;
        else
            e->b = w;
    }
    return 0;
}

/* load(n=1024) -> bool: up to n more weights into the tables; True once both models'
   are in. A scorer is built in a reload's thread while the event loop serves: loading
   some 275,000 weights in one call would hold the GIL for tens of ms, where a Python
   loop over calls of a few hundred µs lets the interpreter hand the GIL over between
   them at its switch interval (releasing and taking it back inside C does not: the
   waiting thread sees a switch happen and never asks). The dicts are read across
   calls: weights are never written after a model is loaded (classifier.load_model) */
static PyObject *Scorer_load(Scorer *self, PyObject *args) {
    Py_ssize_t n = 1024;
    if (!PyArg_ParseTuple(args, "|n", &n))
        return NULL;
    if (self->feats.e == NULL || self->pairs.e == NULL || self->memo.e == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "Scorer: not initialised");
        return NULL;
    }
    Key k;
    key_init(&k);
    PyObject *key, *value;
    for (Py_ssize_t done = 0; done < n && self->loading < 2;) {
        PyObject *d = self->pending[self->loading];
        if (!PyDict_Next(d, &self->pos, &key, &value)) {
            Py_CLEAR(self->pending[self->loading]);
            self->loading++;
            self->pos = 0;
            continue;
        }
        if (load_weight(self, key, value, self->loading, &k) < 0) {
            key_free(&k);
            return NULL;
        }
        done++;
    }
    key_free(&k);
    return PyBool_FromLong(self->loading >= 2);
}

static int Scorer_init(Scorer *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"weights_a", "weights_b", "wb", "words", "bias_a", "bias_b",
                             "min_count", "seed", NULL};
    PyObject *wa, *wbts, *wbw;
    int whole;
    double bias_a, bias_b;
    Py_ssize_t min_count;
    Py_buffer seed;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O!O!O!pddny*", kwlist, &PyDict_Type, &wa,
                                     &PyDict_Type, &wbw, &PyTuple_Type, &wbts, &whole, &bias_a,
                                     &bias_b, &min_count, &seed))
        return -1;
    if (seed.len < 16) {
        PyBuffer_Release(&seed);
        PyErr_SetString(PyExc_ValueError, "seed: at least 16 bytes");
        return -1;
    }
    memcpy(&self->seed.k0, seed.buf, 8);
    memcpy(&self->seed.k1, (const char *)seed.buf + 8, 8);
    PyBuffer_Release(&seed);
    Py_ssize_t nwb = PyTuple_GET_SIZE(wbts);
    if (nwb > MAX_WB) {
        PyErr_SetString(PyExc_ValueError, "wb: at most 8 n-gram sizes");
        return -1;
    }
    for (Py_ssize_t i = 0; i < nwb; i++) {
        long n = PyLong_AsLong(PyTuple_GET_ITEM(wbts, i));
        if (n == -1 && PyErr_Occurred())
            return -1;
        if (n < 1 || n > MAX_GRAM) {
            PyErr_SetString(PyExc_ValueError, "wb: n-gram sizes from 1 to 64");
            return -1;
        }
        self->wb[i] = (int)n;
    }
    self->nwb = (int)nwb;
    self->whole = whole;
    self->bias_a = bias_a;
    self->bias_b = bias_b;
    self->min_count = min_count;
    self->loading = 0; /* __init__ called twice: unusable until loaded again */
    table_free(&self->feats);
    table_free(&self->pairs);
    table_free(&self->memo);
    if (table_init(&self->feats, slots_for(PyDict_GET_SIZE(wa) + PyDict_GET_SIZE(wbw))) < 0 ||
        table_init(&self->pairs, slots_for(PyDict_GET_SIZE(wa) / 4 + PyDict_GET_SIZE(wbw) / 4)) < 0 ||
        table_init(&self->memo, MEMO_SLOTS) < 0)
        return -1;
    Py_INCREF(wa);
    Py_INCREF(wbw);
    Py_XSETREF(self->pending[0], wa);
    Py_XSETREF(self->pending[1], wbw);
    self->pos = 0;
    return 0;
}

/* the memo entry of the word w (code points k), learnt if new: its n-grams of `` w ``
   and ``w:`` + w looked up in the feature table, summed in order as Model.word and
   ModelPair._learn sum them */
static Entry *memo_get(Scorer *self, const uint32_t *k, size_t n, uint64_t h, Key *scratch) {
    Entry *e = table_find(&self->memo, h, k, n);
    if (e != NULL)
        return e;
    if (self->memo.used >= WORD_MEMO || self->memo.arena_len + n > MEMO_ARENA_MAX)
        table_reset(&self->memo);
    /* `` w `` */
    scratch->len = 0;
    if (key_room(scratch, n + 2) < 0)
        return NULL;
    scratch->p[0] = ' ';
    memcpy(scratch->p + 1, k, n * sizeof(uint32_t));
    scratch->p[n + 1] = ' ';
    size_t sl = n + 2;
    Sum sa = {0.0, 0.0}, sb = {0.0, 0.0};
    int32_t count = 0;
    for (int g = 0; g < self->nwb; g++) {
        size_t L = (size_t)self->wb[g];
        if (L > sl)
            continue;
        for (size_t i = 0; i + L <= sl; i++) {
            const uint32_t *gram = scratch->p + i;
            Entry *f = table_find(&self->feats, hash_cps(&self->seed, gram, L), gram, L);
            if (f != NULL) {
                sum_add(&sa, f->a);
                sum_add(&sb, f->b);
            }
            count++;
        }
    }
    if (self->whole) {
        scratch->len = 0;
        if (key_room(scratch, n + 2) < 0)
            return NULL;
        scratch->p[0] = 'w';
        scratch->p[1] = ':';
        memcpy(scratch->p + 2, k, n * sizeof(uint32_t));
        Entry *f = table_find(&self->feats, hash_cps(&self->seed, scratch->p, n + 2),
                              scratch->p, n + 2);
        if (f != NULL) {
            sum_add(&sa, f->a);
            sum_add(&sb, f->b);
        }
        count++;
    }
    e = table_add(&self->memo, h, k, n);
    if (e == NULL)
        return NULL;
    e->a = sum_done(&sa);
    e->b = sum_done(&sb);
    e->n = count;
    return e;
}

typedef struct {
    uint64_t h;     /* the word's hash */
    uint32_t off;   /* its code points in the text's key buffer */
    uint32_t len;
    Py_ssize_t id;  /* the index of its first occurrence */
} Word;

static PyObject *Scorer_score(Scorer *self, PyObject *words) {
    if (self->feats.e == NULL || self->loading < 2) {
        PyErr_SetString(PyExc_RuntimeError, "Scorer: weights not loaded (load())");
        return NULL;
    }
    if (!PyList_Check(words)) {
        PyErr_SetString(PyExc_TypeError, "score() takes a list of str");
        return NULL;
    }
    Py_ssize_t n = PyList_GET_SIZE(words);
    if (n == 0)
        return Py_BuildValue("(dd)", self->bias_a, self->bias_b);
    PyObject *result = NULL;
    Key text, scratch;
    key_init(&text);
    key_init(&scratch);
    Word *ws = PyMem_Malloc((size_t)n * sizeof(Word));
    size_t slots = 16;
    while (slots < (size_t)n * 2)
        slots *= 2;
    Py_ssize_t *seen = PyMem_Malloc(slots * sizeof(Py_ssize_t)); /* word index + 1; 0 empty */
    if (ws == NULL || seen == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    memset(seen, 0, slots * sizeof(Py_ssize_t));
    /* every word's code points, hash, and first occurrence (dict.fromkeys) */
    Sum ta = {0.0, 0.0}, tb = {0.0, 0.0};
    Py_ssize_t count = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *s = PyList_GET_ITEM(words, i);
        if (!PyUnicode_Check(s)) {
            PyErr_SetString(PyExc_TypeError, "score() takes a list of str");
            goto done;
        }
        size_t off = text.len;
        if (key_str(&text, s) < 0)
            goto done;
        Word *w = &ws[i];
        w->off = (uint32_t)off;
        w->len = (uint32_t)(text.len - off);
        w->h = hash_cps(&self->seed, text.p + off, w->len);
        w->id = i;
        size_t j = w->h & (slots - 1);
        for (;;) {
            Py_ssize_t o = seen[j];
            if (o == 0) {
                seen[j] = i + 1;
                break;
            }
            Word *x = &ws[o - 1];
            if (x->h == w->h && x->len == w->len &&
                memcmp(text.p + x->off, text.p + off, w->len * sizeof(uint32_t)) == 0) {
                w->id = x->id;
                break;
            }
            j = (j + 1) & (slots - 1);
        }
        if (w->id == i) { /* a word met for the first time in this text */
            Entry *e = memo_get(self, text.p + off, w->len, w->h, &scratch);
            if (e == NULL)
                goto done;
            sum_add(&ta, e->a);
            sum_add(&tb, e->b);
            count += e->n;
        }
    }
    double total_a = sum_done(&ta), total_b = sum_done(&tb);
    /* the distinct word pairs, in order of first occurrence (dict.fromkeys(pairwise)) */
    if (n > 1) {
        memset(seen, 0, slots * sizeof(Py_ssize_t));
        Sum pa = {0.0, 0.0}, pb = {0.0, 0.0};
        for (Py_ssize_t i = 0; i + 1 < n; i++) {
            Py_ssize_t x = ws[i].id, y = ws[i + 1].id;
            uint64_t ph = (uint64_t)x * 0x9E3779B97F4A7C15ull ^ (uint64_t)y * 0xC2B2AE3D27D4EB4Full;
            ph ^= ph >> 31;
            size_t j = ph & (slots - 1);
            int fresh = 1;
            for (;;) {
                Py_ssize_t o = seen[j];
                if (o == 0) {
                    seen[j] = i + 1;
                    break;
                }
                if (ws[o - 1].id == x && ws[o].id == y) {
                    fresh = 0;
                    break;
                }
                j = (j + 1) & (slots - 1);
            }
            if (!fresh)
                continue;
            count++;
            /* the feature "x y" */
            const Word *a = &ws[i], *b = &ws[i + 1];
            scratch.len = 0;
            if (key_room(&scratch, a->len + b->len + 1) < 0)
                goto done;
            memcpy(scratch.p, text.p + a->off, a->len * sizeof(uint32_t));
            scratch.p[a->len] = ' ';
            memcpy(scratch.p + a->len + 1, text.p + b->off, b->len * sizeof(uint32_t));
            size_t kl = a->len + b->len + 1;
            Entry *e = table_find(&self->pairs, hash_cps(&self->seed, scratch.p, kl),
                                  scratch.p, kl);
            sum_add(&pa, e != NULL ? e->a : 0.0);
            sum_add(&pb, e != NULL ? e->b : 0.0);
        }
        total_a += sum_done(&pa);
        total_b += sum_done(&pb);
    }
    if (count == 0) {
        result = Py_BuildValue("(dd)", self->bias_a, self->bias_b);
    } else {
        double root = sqrt((double)(count > self->min_count ? count : self->min_count));
        result = Py_BuildValue("(dd)", self->bias_a + total_a / root,
                               self->bias_b + total_b / root);
    }
done:
    PyMem_Free(ws);
    PyMem_Free(seen);
    key_free(&text);
    key_free(&scratch);
    return result;
}

static PyObject *Scorer_memo_size(Scorer *self, PyObject *Py_UNUSED(ignored)) {
    return PyLong_FromSize_t(self->memo.used);
}

static PyObject *Scorer_features(Scorer *self, PyObject *Py_UNUSED(ignored)) {
    return Py_BuildValue("(nn)", (Py_ssize_t)self->feats.used, (Py_ssize_t)self->pairs.used);
}

static PyMethodDef Scorer_methods[] = {
    {"score", (PyCFunction)Scorer_score, METH_O,
     "score(words) -> (score_a, score_b): ModelPair.score_words of the same words"},
    {"load", (PyCFunction)Scorer_load, METH_VARARGS,
     "load(n=1024) -> True once every weight is in the tables (call until it is)"},
    {"memo_size", (PyCFunction)Scorer_memo_size, METH_NOARGS,
     "memo_size() -> the words remembered now (at most 100,000)"},
    {"features", (PyCFunction)Scorer_features, METH_NOARGS,
     "features() -> (features of either model, word pairs among them)"},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject ScorerType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "gateway.content._native.Scorer",
    .tp_basicsize = sizeof(Scorer),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "The two content models of a ModelPair in flat tables (see the module).",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Scorer_init,
    .tp_dealloc = (destructor)Scorer_dealloc,
    .tp_methods = Scorer_methods,
};

/* ---- MinHash band keys (gateway.content.fingerprint) --------------------------- */

static uint32_t crc_table[256];

static void crc_init(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int j = 0; j < 8; j++)
            c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        crc_table[i] = c;
    }
}

/* zlib.crc32(data, start) */
static inline uint32_t crc32_of(const unsigned char *p, size_t n, uint32_t start) {
    uint32_t c = start ^ 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++)
        c = crc_table[(c ^ p[i]) & 0xFF] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

#define SKETCH_MAX 64

/* band_keys(parts, bands, rows): Fingerprinter.keys_of_sketch(sketch_parts(parts))
   without the min_words check, which the caller makes: each part's CRC-32 and each
   adjacent pair's (the CRC of "a b" continued from the CRC of "a"), the smallest in
   each of bands * rows bins by the hash modulo the bins, empty bins densified in
   order, then each band's CRC-32 (seeded with its number) of its rows as
   little-endian 32-bit words, the number above bit 32. () when every bin is empty. */
static PyObject *band_keys(PyObject *Py_UNUSED(module), PyObject *args) {
    PyObject *parts;
    int bands, rows;
    if (!PyArg_ParseTuple(args, "O!ii", &PyList_Type, &parts, &bands, &rows))
        return NULL;
    if (bands < 1 || rows < 1 || bands * rows > SKETCH_MAX) {
        PyErr_SetString(PyExc_ValueError, "bands * rows: from 1 to 64");
        return NULL;
    }
    const uint32_t k = (uint32_t)(bands * rows), MAXH = 0xFFFFFFFFu;
    uint32_t mins[SKETCH_MAX];
    for (uint32_t i = 0; i < k; i++)
        mins[i] = MAXH;
    Py_ssize_t n = PyList_GET_SIZE(parts);
    uint32_t prev = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *b = PyList_GET_ITEM(parts, i);
        if (!PyBytes_Check(b)) {
            PyErr_SetString(PyExc_TypeError, "band_keys() takes a list of bytes");
            return NULL;
        }
        const unsigned char *p = (const unsigned char *)PyBytes_AS_STRING(b);
        size_t len = (size_t)PyBytes_GET_SIZE(b);
        uint32_t h = crc32_of(p, len, 0);
        if (h < mins[h % k])
            mins[h % k] = h;
        if (i > 0) { /* the pair (i - 1, i) */
            static const unsigned char space = ' ';
            uint32_t ph = crc32_of(p, len, crc32_of(&space, 1, prev));
            if (ph < mins[ph % k])
                mins[ph % k] = ph;
        }
        prev = h;
    }
    uint32_t empty = 0;
    for (uint32_t i = 0; i < k; i++)
        empty += mins[i] == MAXH;
    if (empty == k)
        return PyTuple_New(0);
    if (empty) {
        for (uint32_t i = 0; i < k; i++) {
            if (mins[i] != MAXH)
                continue;
            uint32_t j = (i + 1) % k;
            while (mins[j] == MAXH)
                j = (j + 1) % k;
            mins[i] = (uint32_t)((uint64_t)mins[j] * 0x9E3779B1u + i);
        }
    }
    PyObject *keys = PyTuple_New(bands);
    if (keys == NULL)
        return NULL;
    for (int band = 0; band < bands; band++) {
        unsigned char packed[4 * SKETCH_MAX];
        for (int r = 0; r < rows; r++) {
            uint32_t v = mins[band * rows + r];
            packed[4 * r] = (unsigned char)v;
            packed[4 * r + 1] = (unsigned char)(v >> 8);
            packed[4 * r + 2] = (unsigned char)(v >> 16);
            packed[4 * r + 3] = (unsigned char)(v >> 24);
        }
        uint64_t key = crc32_of(packed, 4 * (size_t)rows, (uint32_t)band) | ((uint64_t)band << 32);
        PyObject *o = PyLong_FromUnsignedLongLong(key);
        if (o == NULL) {
            Py_DECREF(keys);
            return NULL;
        }
        PyTuple_SET_ITEM(keys, band, o);
    }
    return keys;
}

static PyMethodDef module_methods[] = {
    {"band_keys", band_keys, METH_VARARGS,
     "band_keys(parts, bands, rows) -> Fingerprinter.keys_of_parts without min_words"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "gateway.content._native",
    .m_doc = "The content path's compiled parts (gateway/content/_native.c).",
    .m_size = -1,
    .m_methods = module_methods,
};

PyMODINIT_FUNC PyInit__native(void) {
    crc_init();
    if (PyType_Ready(&ScorerType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL)
        return NULL;
    Py_INCREF(&ScorerType);
    if (PyModule_AddObject(m, "Scorer", (PyObject *)&ScorerType) < 0 ||
        PyModule_AddIntConstant(m, "WORD_MEMO", WORD_MEMO) < 0 ||
        PyModule_AddIntConstant(m, "COMPENSATED", COMPENSATED) < 0 ||
        PyModule_AddIntConstant(m, "MAX_WB", MAX_WB) < 0 ||
        PyModule_AddIntConstant(m, "MAX_GRAM", MAX_GRAM) < 0 ||
        PyModule_AddIntConstant(m, "MAX_BINS", SKETCH_MAX) < 0) {
        Py_DECREF(&ScorerType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
