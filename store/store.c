/* gongji store: the ledger in LMDB. See store.h for the contract and docs/store.md
 * for the key spaces, record formats, the writer and durability. */
#include "store.h"

#include "gj_util.h"

#include <assert.h>
#include <errno.h>
#include <stddef.h>
#include <lmdb.h>
#include <pthread.h>
#include <time.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* Bump when any record layout or key encoding changes: an old file must be refused,
 * not misread. */
#define STORE_FORMAT_VERSION 7u

/* Named databases we use plus room for later ones without a format change. */
#define STORE_MAXDBS 32
/* Reset read transactions kept for reuse; each keeps its reader slot. */
#define READ_POOL_MAX 16
/* Reader slots bound concurrent read txns: one per server context at most, plus the
 * pooled handles and reads made by the writer thread itself. LMDB's default is 126. */
#define STORE_MAXREADERS (GJ_SERVER_CONTEXTS_MAX + READ_POOL_MAX + 16)
/* idem value header: the request's 16-byte digest, big-endian uint32 reply length. */
#define IDEM_HDR (STORE_DIGEST_LEN + 4)
/* A reply is sent in one message, so it can never usefully exceed one. */
#define IDEM_REPLY_MAX GJ_MSG_HARD_MAX
/* Counter names ("seq:" + name). */
#define SEQ_NAME_MAX 32
/* Dated keys (spend, settlements_by_psn) after "psn_no\0" and their kind's tag:
 * big-endian date (4), big-endian unix_ms (8), setl_id. Cursors name such a tail. */
#define SPEND_FIXED 12
#define SPEND_TAIL_MAX (SPEND_FIXED + GJ_SETL_ID_MAX)
#define SPEND_KEY_MAX (GJ_PSN_NO_MAX + 2 + SPEND_TAIL_MAX)
/* Tags in the ledger tree, after "psn_no\0": a person's dated records, then the
 * account, which sorts after them so it sits next to the newest ones. */
#define TAG_SETTLED 'P'
#define TAG_SPEND 'S'
#define TAG_ACCOUNT '~'
#define ACCOUNT_KEY_MAX (GJ_PSN_NO_MAX + 2)

/* Longest cursor: base64url of SPEND_TAIL_MAX bytes, no padding. */
#define CURSOR_MAX ((SPEND_TAIL_MAX * 4 + 2) / 3)
#define PAIR_KEY_MAX (2 * GJ_PSN_NO_MAX + 1)
#define IDEM_KEY_MAX (GJ_CALLER_ID_MAX + 1 + GJ_CALL_ID_MAX)
/* hold key: setl_id '\0' big-endian uint32 leg. */
#define HOLD_KEY_MAX (GJ_SETL_ID_MAX + 1 + 4)
/* clearing key: big-endian uint32 window, counterparty (GJ_ADMDVS_LEN bytes), setl_id,
 * '\0', big-endian uint32 leg, kind (1 byte). The longest key any scan copies. */
#define CLEARING_KEY_MAX (4 + GJ_ADMDVS_LEN + GJ_SETL_ID_MAX + 1 + 4 + 1)
#define SCAN_KEY_MAX CLEARING_KEY_MAX
/* store_window_first_open looks at most this many days (ten years) ahead. */
#define WINDOW_SEARCH_DAYS 3660

_Static_assert(CURSOR_MAX <= 79, "a cursor must fit next_cursor[80]");
_Static_assert(SCAN_KEY_MAX >= HOLD_KEY_MAX, "scans copy hold keys too");

/* DB_SPEND and DB_SETL_BY_PSN are not trees of their own: their records live in the
 * ledger tree (DB_ACCOUNTS) just before their person's account, so a settlement
 * usually dirties one page per person instead of one per person and kind. On a disk
 * that pays per scattered page written, that is what a commit costs (docs/store.md). */
enum {
    DB_META,
    DB_PERSONS,
    DB_ACCOUNTS,
    DB_BIND_SPONSOR,
    DB_BIND_BENEFICIARY,
    DB_ORDERS,
    DB_JOURNAL,
    DB_IDEM,
    DB_SPEND,
    DB_SETTLEMENTS,
    DB_HOLDS,
    DB_HOLDS_OPEN,
    DB_DECISIONS,
    DB_DECISIONS_OPEN,
    DB_SETL_BY_PSN,
    DB_CLEARING,
    DB_WINDOWS,
    DB_COUNT
};

_Static_assert(DB_COUNT < STORE_MAXDBS, "maxdbs must cover every named database");

static const char *const db_names[DB_COUNT] = {
    [DB_META] = "meta",
    [DB_PERSONS] = "persons",
    [DB_ACCOUNTS] = "ledger",
    [DB_BIND_SPONSOR] = "bindings_by_sponsor",
    [DB_BIND_BENEFICIARY] = "bindings_by_beneficiary",
    [DB_ORDERS] = "orders",
    [DB_JOURNAL] = "journal",
    [DB_IDEM] = "idem",
    [DB_SPEND] = NULL, /* in the ledger */
    [DB_SETTLEMENTS] = "settlements",
    [DB_HOLDS] = "holds",
    [DB_HOLDS_OPEN] = "holds_open",
    [DB_DECISIONS] = "decisions",
    [DB_DECISIONS_OPEN] = "decisions_open",
    [DB_SETL_BY_PSN] = NULL, /* in the ledger */
    [DB_CLEARING] = "clearing",
    [DB_WINDOWS] = "windows",
};

/* A copy of an idem reply read in a write txn: LMDB may move the original on the
 * next write in the same txn, and store.h promises validity until the txn ends. */
struct idem_copy {
    struct idem_copy *next;
    unsigned char bytes[];
};

struct store_txn {
    MDB_txn *txn;
    store *s;
    bool writable;
    /* First LMDB write failure. LMDB has then flagged the txn failed; committing it
     * would also poison the parent, so the writer treats the job as failed. */
    gj_err broken;
    struct idem_copy *copies;
    store_txn *next; /* read pool link */
};

struct completion {
    store_done_fn done;
    void *arg;
    gj_err result;
};

struct waiter {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool finished;
    gj_err result;
};

struct job {
    store_apply_fn apply;
    store_done_fn done;
    void *arg;
    struct waiter *wait; /* store_submit_wait's completion, else NULL */
};

struct store {
    MDB_env *env;
    MDB_dbi dbi[DB_COUNT];
    bool dbis_open;
    unsigned batch_max;
    unsigned queue_max;

    pthread_mutex_t mu; /* guards the queue and closing */
    pthread_cond_t work;
    struct job *queue; /* ring of queue_max */
    unsigned head;
    unsigned len;
    bool closing;
    pthread_t writer;
    bool mu_ready, work_ready, writer_started;

    /* Writer-thread only. */
    struct job *batch;
    gj_err *results;

    pthread_mutex_t pool_mu;
    bool pool_mu_ready;
    store_txn *pool;
    unsigned pool_len;

    /* Done callbacks run on their own thread, so the writer starts the next batch as
     * soon as a commit returns instead of first sending every answer. */
    pthread_t completer;
    bool completer_started, cmu_ready, cwork_ready, cclosing;
    pthread_mutex_t cmu;
    pthread_cond_t cwork, cspace;
    struct completion *cq; /* ring of queue_max */
    unsigned chead, clen;

    unsigned gather_us;  /* how long the writer may wait to fill a batch */
    unsigned last_batch; /* writer only */
    unsigned intake_holds; /* under mu: submitters that want their work kept together */

    /* Counters for operators and benchmarks; written by the writer only. */
    _Atomic uint64_t stat_commits;
    _Atomic uint64_t stat_jobs;
    _Atomic uint64_t stat_apply_us;
    _Atomic uint64_t stat_commit_us;
};

/* ---- small helpers ---- */

/* The only place MDB_* codes become gj_err. */
static gj_err map_err(int rc)
{
    switch (rc) {
    case MDB_SUCCESS: return GJ_OK;
    case MDB_NOTFOUND: return GJ_ERR_NOTFOUND;
    case MDB_KEYEXIST: return GJ_ERR_EXISTS;
    case MDB_MAP_FULL:
    case MDB_TXN_FULL:
    case MDB_READERS_FULL: return GJ_ERR_FULL;
    case MDB_CORRUPTED:
    case MDB_VERSION_MISMATCH:
    case MDB_INVALID: return GJ_ERR_CORRUPT;
    case ENOMEM: return GJ_ERR_NOMEM;
    default: return GJ_ERR_IO;
    }
}

static void put_be32(unsigned char *p, uint32_t v)
{
    for (int i = 3; i >= 0; i--, v >>= 8)
        p[i] = (unsigned char)v;
}

static void put_be64(unsigned char *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (unsigned char)v;
}

static uint32_t get_be32(const unsigned char *p)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++)
        v = (v << 8) | p[i];
    return v;
}

static uint64_t get_be64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

/* A key string from a caller: present, non-empty (LMDB refuses empty keys), and at
 * most max bytes. */
static bool key_ok(const char *s, size_t max)
{
    return s != NULL && s[0] != '\0' && strnlen(s, max + 1) <= max;
}

/* A fixed char array inside a record: NUL-terminated within its size. */
#define FIELD_OK(f) (memchr((f), '\0', sizeof(f)) != NULL)
#define KEYFIELD_OK(f) ((f)[0] != '\0' && FIELD_OK(f))

static gj_err txn_readable(const store_txn *t)
{
    if (t == NULL || t->txn == NULL)
        return GJ_ERR_INVAL;
    return t->broken;
}

static gj_err txn_writable(const store_txn *t)
{
    if (t == NULL || t->txn == NULL || !t->writable)
        return GJ_ERR_INVAL;
    return t->broken;
}

/* "a\0b": a key whose prefix "a\0" selects everything under a. */
static size_t pair_key(char *buf, const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    memcpy(buf, a, la);
    buf[la] = '\0';
    memcpy(buf + la + 1, b, lb);
    return la + 1 + lb;
}

static gj_err get_rec(store_txn *t, int db, const void *key, size_t klen, void *out,
                      size_t size)
{
    MDB_val k = {klen, (void *)key}, v;
    int rc = mdb_get(t->txn, t->s->dbi[db], &k, &v);
    if (rc != 0)
        return map_err(rc);
    if (v.mv_size != size)
        return GJ_ERR_CORRUPT;
    memcpy(out, v.mv_data, size);
    return GJ_OK;
}

static gj_err put_val(store_txn *t, int db, MDB_val *k, MDB_val *v, unsigned flags)
{
    int rc = mdb_put(t->txn, t->s->dbi[db], k, v, flags);
    if (rc == 0)
        return GJ_OK;
    gj_err err = map_err(rc);
    /* KEYEXIST is checked before anything changes; every other failure may have
     * left the txn half-modified and LMDB refuses it from then on. */
    if (rc != MDB_KEYEXIST)
        t->broken = err;
    return err;
}

static gj_err put_rec(store_txn *t, int db, const void *key, size_t klen, const void *val,
                      size_t size, unsigned flags)
{
    MDB_val k = {klen, (void *)key}, v = {size, (void *)val};
    return put_val(t, db, &k, &v, flags);
}

/* Delete key; GJ_ERR_NOTFOUND (nothing changed) when absent. */
static gj_err del_key(store_txn *t, int db, const void *key, size_t klen)
{
    MDB_val k = {klen, (void *)key};
    int rc = mdb_del(t->txn, t->s->dbi[db], &k, NULL);
    if (rc == 0)
        return GJ_OK;
    gj_err err = map_err(rc);
    /* As in put_val: anything but NOTFOUND may have half-modified the txn. */
    if (rc != MDB_NOTFOUND)
        t->broken = err;
    return err;
}

/* Delete key; an absent key is not an error (callers keep indexes in step). */
static gj_err del_rec(store_txn *t, int db, const void *key, size_t klen)
{
    gj_err err = del_key(t, db, key, klen);
    return err == GJ_ERR_NOTFOUND ? GJ_OK : err;
}

static uint64_t db_entries(store_txn *t, int db)
{
    MDB_stat st;
    if (txn_readable(t) != GJ_OK || mdb_stat(t->txn, t->s->dbi[db], &st) != 0)
        return 0;
    return st.ms_entries;
}

static void free_copies(store_txn *t)
{
    while (t->copies != NULL) {
        struct idem_copy *c = t->copies;
        t->copies = c->next;
        free(c);
    }
}

/* ---- open / close ---- */

unsigned store_format_version(void)
{
    return STORE_FORMAT_VERSION;
}

static gj_err format_check(MDB_txn *txn, MDB_dbi meta)
{
    unsigned char buf[4];
    MDB_val k = {6, (void *)"format"}, v;
    int rc = mdb_get(txn, meta, &k, &v);
    if (rc == MDB_NOTFOUND) {
        put_be32(buf, STORE_FORMAT_VERSION);
        v.mv_size = sizeof buf;
        v.mv_data = buf;
        return map_err(mdb_put(txn, meta, &k, &v, 0));
    }
    if (rc != 0)
        return map_err(rc);
    if (v.mv_size != 4 || get_be32(v.mv_data) != STORE_FORMAT_VERSION)
        return GJ_ERR_CORRUPT;
    return GJ_OK;
}

/* Frees whatever store_open got to; the writer is not running. */
static void store_free(store *s)
{
    while (s->pool != NULL) {
        store_txn *t = s->pool;
        s->pool = t->next;
        mdb_txn_abort(t->txn);
        free(t);
    }
    if (s->env != NULL) {
        if (s->dbis_open)
            for (int i = 0; i < DB_COUNT; i++)
                if (db_names[i] != NULL)
                    mdb_dbi_close(s->env, s->dbi[i]);
        mdb_env_close(s->env);
    }
    if (s->cwork_ready) {
        pthread_cond_destroy(&s->cwork);
        pthread_cond_destroy(&s->cspace);
    }
    if (s->cmu_ready)
        pthread_mutex_destroy(&s->cmu);
    free(s->cq);
    if (s->work_ready)
        pthread_cond_destroy(&s->work);
    if (s->mu_ready)
        pthread_mutex_destroy(&s->mu);
    if (s->pool_mu_ready)
        pthread_mutex_destroy(&s->pool_mu);
    free(s->queue);
    free(s->batch);
    free(s->results);
    free(s);
}

static void *writer_main(void *arg);
static void stop_completer(store *s);
static void *completer_main(void *arg);

gj_err store_open(store **out, const char *dir, const store_options *opts)
{
    store *s = NULL;
    MDB_txn *txn = NULL;
    gj_err err;

    if (out == NULL || dir == NULL)
        return GJ_ERR_INVAL;
    *out = NULL;
    uint64_t map_size = opts && opts->map_size ? opts->map_size : GJ_MAP_SIZE_DEFAULT;
    unsigned batch_max = opts && opts->batch_max ? opts->batch_max : GJ_WRITE_BATCH_MAX;
    unsigned queue_max = opts && opts->queue_max ? opts->queue_max : GJ_WRITE_QUEUE_MAX;
    if (map_size > SIZE_MAX)
        return GJ_ERR_INVAL;
    if (batch_max > queue_max)
        batch_max = queue_max; /* a batch never holds more than the queue */

    if ((s = calloc(1, sizeof *s)) == NULL)
        return GJ_ERR_NOMEM;
    s->batch_max = batch_max;
    s->queue_max = queue_max;
    s->gather_us = opts ? opts->gather_us : 0;
    s->queue = calloc(queue_max, sizeof *s->queue);
    s->cq = calloc(queue_max, sizeof *s->cq);
    s->batch = calloc(batch_max, sizeof *s->batch);
    s->results = calloc(batch_max, sizeof *s->results);
    if (s->queue == NULL || s->cq == NULL || s->batch == NULL || s->results == NULL) {
        err = GJ_ERR_NOMEM;
        goto fail;
    }

    if ((err = map_err(mdb_env_create(&s->env))) != GJ_OK)
        goto fail;
    if ((err = map_err(mdb_env_set_maxdbs(s->env, STORE_MAXDBS))) != GJ_OK)
        goto fail;
    if ((err = map_err(mdb_env_set_maxreaders(s->env, STORE_MAXREADERS))) != GJ_OK)
        goto fail;
    if ((err = map_err(mdb_env_set_mapsize(s->env, (size_t)map_size))) != GJ_OK)
        goto fail;
    /* MDB_NOTLS: read txns are begun and ended on different threads and pooled.
     * No NOSYNC/NOMETASYNC/WRITEMAP/MAPASYNC: every commit is fsync'd before done. */
    if ((err = map_err(mdb_env_open(s->env, dir, MDB_NOTLS, 0600))) != GJ_OK)
        goto fail;
    /* Free reader slots left by a crashed process, which would pin old pages. */
    int dead;
    if ((err = map_err(mdb_reader_check(s->env, &dead))) != GJ_OK)
        goto fail;

    if ((err = map_err(mdb_txn_begin(s->env, NULL, 0, &txn))) != GJ_OK)
        goto fail;
    for (int i = 0; i < DB_COUNT; i++)
        if (db_names[i] != NULL &&
            (err = map_err(mdb_dbi_open(txn, db_names[i], MDB_CREATE, &s->dbi[i]))) != GJ_OK)
            goto fail;
    s->dbi[DB_SPEND] = s->dbi[DB_SETL_BY_PSN] = s->dbi[DB_ACCOUNTS];
    if ((err = format_check(txn, s->dbi[DB_META])) != GJ_OK)
        goto fail;
    err = map_err(mdb_txn_commit(txn));
    txn = NULL;
    if (err != GJ_OK)
        goto fail;
    s->dbis_open = true;

    if (pthread_mutex_init(&s->pool_mu, NULL) != 0) {
        err = GJ_ERR_NOMEM;
        goto fail;
    }
    s->pool_mu_ready = true;
    if (pthread_mutex_init(&s->mu, NULL) != 0) {
        err = GJ_ERR_NOMEM;
        goto fail;
    }
    s->mu_ready = true;
    if (pthread_cond_init(&s->work, NULL) != 0) {
        err = GJ_ERR_NOMEM;
        goto fail;
    }
    s->work_ready = true;
    if (pthread_mutex_init(&s->cmu, NULL) != 0) {
        err = GJ_ERR_NOMEM;
        goto fail;
    }
    s->cmu_ready = true;
    if (pthread_cond_init(&s->cwork, NULL) != 0 || pthread_cond_init(&s->cspace, NULL) != 0) {
        err = GJ_ERR_NOMEM;
        goto fail;
    }
    s->cwork_ready = true;
    if (pthread_create(&s->completer, NULL, completer_main, s) != 0) {
        err = GJ_ERR_NOMEM;
        goto fail;
    }
    s->completer_started = true;
    if (pthread_create(&s->writer, NULL, writer_main, s) != 0) {
        err = GJ_ERR_NOMEM;
        goto fail;
    }
    s->writer_started = true;
    *out = s;
    return GJ_OK;

fail:
    if (txn != NULL)
        mdb_txn_abort(txn);
    stop_completer(s);
    store_free(s);
    return err;
}

/* Let the completer run every done callback it holds, then stop it. */
static void stop_completer(store *s)
{
    if (!s->completer_started)
        return;
    pthread_mutex_lock(&s->cmu);
    s->cclosing = true;
    pthread_cond_signal(&s->cwork);
    pthread_mutex_unlock(&s->cmu);
    pthread_join(s->completer, NULL);
    s->completer_started = false;
}

void store_close(store *s)
{
    if (s == NULL)
        return;
    if (s->writer_started) {
        pthread_mutex_lock(&s->mu);
        s->closing = true;
        pthread_cond_signal(&s->work);
        pthread_mutex_unlock(&s->mu);
        /* The writer drains what is queued, then exits. */
        pthread_join(s->writer, NULL);
    }
    stop_completer(s);
    store_free(s);
}

/* ---- read transactions ---- */

gj_err store_read_begin(store *s, store_txn **out)
{
    store_txn *t = NULL;

    if (s == NULL || out == NULL)
        return GJ_ERR_INVAL;
    *out = NULL;
    pthread_mutex_lock(&s->pool_mu);
    if (s->pool != NULL) {
        t = s->pool;
        s->pool = t->next;
        s->pool_len--;
    }
    pthread_mutex_unlock(&s->pool_mu);

    if (t != NULL) {
        t->next = NULL;
        if (mdb_txn_renew(t->txn) == 0) {
            *out = t;
            return GJ_OK;
        }
        /* A handle that cannot renew is dropped; begin a fresh one instead. */
        mdb_txn_abort(t->txn);
        t->txn = NULL;
    } else if ((t = calloc(1, sizeof *t)) == NULL) {
        return GJ_ERR_NOMEM;
    }
    t->s = s;
    int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &t->txn);
    if (rc != 0) {
        free(t);
        return map_err(rc);
    }
    *out = t;
    return GJ_OK;
}

void store_read_end(store_txn *t)
{
    if (t == NULL || t->writable)
        return; /* a write txn belongs to the writer, which ends it */
    store *s = t->s;
    mdb_txn_reset(t->txn);
    pthread_mutex_lock(&s->pool_mu);
    if (s->pool_len < READ_POOL_MAX) {
        t->next = s->pool;
        s->pool = t;
        s->pool_len++;
        t = NULL;
    }
    pthread_mutex_unlock(&s->pool_mu);
    if (t != NULL) {
        mdb_txn_abort(t->txn);
        free(t);
    }
}

/* ---- the writer ---- */

/* Hand a done callback to the completer; waits only if it is a whole queue behind. */
static void complete_later(store *s, store_done_fn done, void *arg, gj_err result)
{
    pthread_mutex_lock(&s->cmu);
    while (s->clen == s->queue_max)
        pthread_cond_wait(&s->cspace, &s->cmu);
    s->cq[(s->chead + s->clen) % s->queue_max] = (struct completion){done, arg, result};
    s->clen++;
    pthread_cond_signal(&s->cwork);
    pthread_mutex_unlock(&s->cmu);
}

static void *completer_main(void *arg)
{
    store *s = arg;
    pthread_setname_np(pthread_self(), "gj-complete");
    pthread_mutex_lock(&s->cmu);
    for (;;) {
        while (s->clen == 0 && !s->cclosing)
            pthread_cond_wait(&s->cwork, &s->cmu);
        if (s->clen == 0)
            break; /* closing and drained */
        struct completion c = s->cq[s->chead];
        s->chead = (s->chead + 1) % s->queue_max;
        s->clen--;
        pthread_cond_signal(&s->cspace);
        pthread_mutex_unlock(&s->cmu);
        c.done(c.arg, c.result);
        pthread_mutex_lock(&s->cmu);
    }
    pthread_mutex_unlock(&s->cmu);
    return NULL;
}

static void waiter_done(struct waiter *w, gj_err result)
{
    pthread_mutex_lock(&w->mu);
    w->result = result;
    w->finished = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

/* Runs one job in its own child txn so a failure undoes only its own changes. */
static gj_err apply_one(store *s, MDB_txn *parent, const struct job *job)
{
    store_txn t = {.s = s, .writable = true};
    gj_err err = map_err(mdb_txn_begin(s->env, parent, 0, &t.txn));
    if (err != GJ_OK)
        return err;
    err = job->apply(&t, job->arg);
    if (err == GJ_OK)
        err = t.broken; /* apply ignored a failed write; its txn cannot commit */
    if (err == GJ_OK)
        err = map_err(mdb_txn_commit(t.txn));
    else
        mdb_txn_abort(t.txn);
    free_copies(&t);
    return err;
}

static void run_batch(store *s, unsigned n)
{
    MDB_txn *parent = NULL;
    assert(n > 0 && n <= s->batch_max);
    gj_err commit = map_err(mdb_txn_begin(s->env, NULL, 0, &parent));

    int64_t t0 = gj_mono_us();
    for (unsigned i = 0; i < n; i++)
        s->results[i] = commit == GJ_OK ? apply_one(s, parent, &s->batch[i]) : GJ_OK;
    int64_t t1 = gj_mono_us();
    if (commit == GJ_OK)
        commit = map_err(mdb_txn_commit(parent)); /* the fsync happens here */
    atomic_fetch_add(&s->stat_commits, 1);
    atomic_fetch_add(&s->stat_jobs, n);
    atomic_fetch_add(&s->stat_apply_us, (uint64_t)(t1 - t0));
    atomic_fetch_add(&s->stat_commit_us, (uint64_t)(gj_mono_us() - t1));

    /* Only now is anything durable, so only now may callers learn of it. */
    for (unsigned i = 0; i < n; i++) {
        const struct job *job = &s->batch[i];
        gj_err result = s->results[i] != GJ_OK ? s->results[i] : commit;
        if (job->wait != NULL)
            waiter_done(job->wait, result);
        else if (job->done != NULL)
            complete_later(s, job->done, job->arg, result);
    }
}

static void *writer_main(void *arg)
{
    store *s = arg;
    pthread_setname_np(pthread_self(), "gj-writer");

    for (;;) {
        pthread_mutex_lock(&s->mu);
        while ((s->len == 0 || (s->intake_holds > 0 && s->len < s->batch_max)) && !s->closing)
            pthread_cond_wait(&s->work, &s->mu);
        if (s->len == 0) { /* closing and drained */
            pthread_mutex_unlock(&s->mu);
            break;
        }
        /* Group commit gathers: when fewer requests wait than the last batch carried,
         * the rest are likely on their way (their callers just got answers). Waiting a
         * little for them costs less than a commit (two fsyncs) of its own. */
        if (s->gather_us > 0 && s->len < s->last_batch && !s->closing) {
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            long long ns = until.tv_nsec + (long long)s->gather_us * 1000;
            until.tv_sec += (time_t)(ns / 1000000000LL);
            until.tv_nsec = (long)(ns % 1000000000LL);
            while (s->len < s->last_batch && !s->closing &&
                   pthread_cond_timedwait(&s->work, &s->mu, &until) == 0)
                ;
            while (s->intake_holds > 0 && s->len < s->batch_max && !s->closing)
                pthread_cond_wait(&s->work, &s->mu);
        }
        unsigned n = s->len < s->batch_max ? s->len : s->batch_max;
        s->last_batch = n;
        for (unsigned i = 0; i < n; i++)
            s->batch[i] = s->queue[(s->head + i) % s->queue_max];
        s->head = (s->head + n) % s->queue_max;
        s->len -= n;
        pthread_mutex_unlock(&s->mu);
        run_batch(s, n);
    }
    return NULL;
}

static gj_err enqueue(store *s, const struct job *job)
{
    gj_err err = GJ_OK;

    pthread_mutex_lock(&s->mu);
    if (s->closing) {
        err = GJ_ERR_CLOSED;
    } else if (s->len == s->queue_max) {
        err = GJ_ERR_FULL;
    } else {
        s->queue[(s->head + s->len) % s->queue_max] = *job;
        s->len++;
        pthread_cond_signal(&s->work);
    }
    pthread_mutex_unlock(&s->mu);
    return err;
}

void store_intake_hold(store *s)
{
    pthread_mutex_lock(&s->mu);
    s->intake_holds++;
    pthread_mutex_unlock(&s->mu);
}

void store_intake_release(store *s)
{
    pthread_mutex_lock(&s->mu);
    if (s->intake_holds > 0 && --s->intake_holds == 0)
        pthread_cond_signal(&s->work);
    pthread_mutex_unlock(&s->mu);
}

gj_err store_submit(store *s, store_apply_fn apply, store_done_fn done, void *arg)
{
    if (s == NULL || apply == NULL)
        return GJ_ERR_INVAL;
    struct job job = {.apply = apply, .done = done, .arg = arg};
    return enqueue(s, &job);
}

gj_err store_submit_wait(store *s, store_apply_fn apply, void *arg)
{
    struct waiter w = {.finished = false};
    gj_err err;

    if (s == NULL || apply == NULL)
        return GJ_ERR_INVAL;
    /* From the writer it would wait for itself forever; from the completer it could
     * wait on a writer that waits for the completer to make room. */
    if (pthread_equal(pthread_self(), s->writer) ||
        (s->completer_started && pthread_equal(pthread_self(), s->completer)))
        return GJ_ERR_INVAL;
    if (pthread_mutex_init(&w.mu, NULL) != 0)
        return GJ_ERR_NOMEM;
    if (pthread_cond_init(&w.cv, NULL) != 0) {
        pthread_mutex_destroy(&w.mu);
        return GJ_ERR_NOMEM;
    }
    struct job job = {.apply = apply, .arg = arg, .wait = &w};
    if ((err = enqueue(s, &job)) == GJ_OK) {
        pthread_mutex_lock(&w.mu);
        while (!w.finished)
            pthread_cond_wait(&w.cv, &w.mu);
        err = w.result;
        pthread_mutex_unlock(&w.mu);
    }
    pthread_cond_destroy(&w.cv);
    pthread_mutex_destroy(&w.mu);
    return err;
}

/* ---- persons ---- */

static bool person_ok(const store_person *p)
{
    return KEYFIELD_OK(p->psn_no) && FIELD_OK(p->certno) && FIELD_OK(p->name) &&
           FIELD_OK(p->insutype) && FIELD_OK(p->admdvs) && p->status >= STORE_PERSON_ACTIVE &&
           p->status <= STORE_PERSON_TERMINATED;
}

gj_err store_person_get(store_txn *txn, const char *psn_no, store_person *out)
{
    gj_err err;
    if ((err = txn_readable(txn)) != GJ_OK)
        return err;
    if (!key_ok(psn_no, GJ_PSN_NO_MAX) || out == NULL)
        return GJ_ERR_INVAL;
    return get_rec(txn, DB_PERSONS, psn_no, strlen(psn_no), out, sizeof *out);
}

gj_err store_person_put(store_txn *txn, const store_person *person)
{
    gj_err err;
    if ((err = txn_writable(txn)) != GJ_OK)
        return err;
    if (person == NULL || !person_ok(person))
        return GJ_ERR_INVAL;
    return put_rec(txn, DB_PERSONS, person->psn_no, strlen(person->psn_no), person,
                   sizeof *person, 0);
}

uint64_t store_person_count(store_txn *txn)
{
    return db_entries(txn, DB_PERSONS);
}

/* ---- accounts and the journal ---- */

/* psn_no '\0' TAG_ACCOUNT: after every dated record of the same person. */
static size_t account_key(unsigned char *buf, const char *psn_no)
{
    size_t n = strlen(psn_no);
    memcpy(buf, psn_no, n);
    buf[n] = '\0';
    buf[n + 1] = (unsigned char)TAG_ACCOUNT;
    return n + 2;
}

gj_err store_account_get(store_txn *txn, const char *psn_no, store_account *out)
{
    unsigned char key[ACCOUNT_KEY_MAX];
    gj_err err;
    if ((err = txn_readable(txn)) != GJ_OK)
        return err;
    if (!key_ok(psn_no, GJ_PSN_NO_MAX) || out == NULL)
        return GJ_ERR_INVAL;
    return get_rec(txn, DB_ACCOUNTS, key, account_key(key, psn_no), out, sizeof *out);
}

gj_err store_account_ensure(store_txn *txn, const char *psn_no)
{
    gj_err err;
    store_account empty;
    unsigned char key[ACCOUNT_KEY_MAX];
    if ((err = txn_writable(txn)) != GJ_OK)
        return err;
    if (!key_ok(psn_no, GJ_PSN_NO_MAX))
        return GJ_ERR_INVAL;
    memset(&empty, 0, sizeof empty);
    err = put_rec(txn, DB_ACCOUNTS, key, account_key(key, psn_no), &empty, sizeof empty,
                  MDB_NOOVERWRITE);
    return err == GJ_ERR_EXISTS ? GJ_OK : err;
}

/* The last journal seq (0 when empty). Keys are big-endian so the last key is the
 * highest seq, and appends in aborted child txns vanish with them: no gaps. */
static gj_err journal_last_seq(store_txn *t, uint64_t *out)
{
    MDB_cursor *c;
    MDB_val k, v;
    gj_err err = map_err(mdb_cursor_open(t->txn, t->s->dbi[DB_JOURNAL], &c));
    if (err != GJ_OK)
        return err;
    int rc = mdb_cursor_get(c, &k, &v, MDB_LAST);
    if (rc == MDB_NOTFOUND) {
        *out = 0;
    } else if (rc != 0) {
        err = map_err(rc);
    } else if (k.mv_size != 8) {
        err = GJ_ERR_CORRUPT;
    } else {
        *out = get_be64(k.mv_data);
    }
    mdb_cursor_close(c);
    return err;
}

static bool journal_entry_ok(const store_journal_entry *e)
{
    return KEYFIELD_OK(e->psn_no) && FIELD_OK(e->setl_id) && FIELD_OK(e->counterpart) &&
           FIELD_OK(e->caller_id) && FIELD_OK(e->call_id) && e->kind >= STORE_J_CREDIT &&
           e->kind <= STORE_J_REFUND;
}

/* A journal entry's value: unix_ms, amount, balance_after (8 bytes each, host order),
 * kind, then psn_no, setl_id, counterpart, caller_id and call_id, each as a length byte
 * and its bytes. The seq is the key. About a third of the struct's size: the journal
 * holds an entry per movement for ever, and is most of a freshly loaded store. */
#define JOURNAL_VAL_FIXED 25
#define JOURNAL_STRINGS 5
#define JOURNAL_VAL_MAX                                                                        \
    (JOURNAL_VAL_FIXED + JOURNAL_STRINGS + 2 * GJ_PSN_NO_MAX + GJ_SETL_ID_MAX + GJ_CALLER_ID_MAX + \
     GJ_CALL_ID_MAX)

static size_t journal_encode(const store_journal_entry *e, unsigned char *out)
{
    const char *strings[JOURNAL_STRINGS] = {e->psn_no, e->setl_id, e->counterpart, e->caller_id,
                                            e->call_id};
    memcpy(out, &e->unix_ms, 8);
    memcpy(out + 8, &e->amount, 8);
    memcpy(out + 16, &e->balance_after, 8);
    out[24] = e->kind;
    size_t n = JOURNAL_VAL_FIXED;
    for (int i = 0; i < JOURNAL_STRINGS; i++) {
        size_t len = strlen(strings[i]);
        out[n++] = (unsigned char)len;
        memcpy(out + n, strings[i], len);
        n += len;
    }
    return n;
}

/* The entry stored under key k (its seq) with value v; CORRUPT unless every length
 * fits its field, no string holds a NUL, and the bytes end exactly with the last. */
static gj_err journal_decode(const MDB_val *k, const MDB_val *v, store_journal_entry *out)
{
    const unsigned char *in = v->mv_data;
    char *strings[JOURNAL_STRINGS] = {out->psn_no, out->setl_id, out->counterpart, out->caller_id,
                                      out->call_id};
    const size_t caps[JOURNAL_STRINGS] = {sizeof out->psn_no, sizeof out->setl_id,
                                          sizeof out->counterpart, sizeof out->caller_id,
                                          sizeof out->call_id};
    memset(out, 0, sizeof *out);
    if (k->mv_size != 8 || v->mv_size < JOURNAL_VAL_FIXED + JOURNAL_STRINGS)
        return GJ_ERR_CORRUPT;
    out->seq = get_be64(k->mv_data);
    memcpy(&out->unix_ms, in, 8);
    memcpy(&out->amount, in + 8, 8);
    memcpy(&out->balance_after, in + 16, 8);
    out->kind = in[24];
    size_t n = JOURNAL_VAL_FIXED;
    for (int i = 0; i < JOURNAL_STRINGS; i++) {
        if (n >= v->mv_size)
            goto corrupt;
        size_t len = in[n++];
        if (len >= caps[i] || len > v->mv_size - n || memchr(in + n, '\0', len) != NULL)
            goto corrupt;
        memcpy(strings[i], in + n, len);
        n += len;
    }
    if (n != v->mv_size || !journal_entry_ok(out))
        goto corrupt;
    return GJ_OK;
corrupt:
    memset(out, 0, sizeof *out);
    return GJ_ERR_CORRUPT;
}

gj_err store_account_move(store_txn *txn, store_journal_entry *entry, store_account *after)
{
    gj_err err;
    store_account acct;
    store_journal_entry rec;
    unsigned char key[8];
    uint64_t last = 0;

    if ((err = txn_writable(txn)) != GJ_OK)
        return err;
    if (entry == NULL || !journal_entry_ok(entry))
        return GJ_ERR_INVAL;
    int64_t amount = entry->amount;
    if (amount == 0 || amount > GJ_AMOUNT_MAX || amount < -GJ_AMOUNT_MAX)
        return GJ_ERR_INVAL;
    bool inward = entry->kind == STORE_J_CREDIT || entry->kind == STORE_J_REFUND;
    if (inward != (amount > 0))
        return GJ_ERR_INVAL;

    if ((err = store_account_get(txn, entry->psn_no, &acct)) != GJ_OK)
        return err;
    /* Checked arithmetic: a damaged record must not wrap into a plausible balance. */
    int64_t balance;
    if (__builtin_add_overflow(acct.balance, amount, &balance) || balance < acct.held ||
        balance > GJ_BALANCE_MAX)
        return GJ_ERR_INVAL;
    bool overflow;
    switch (entry->kind) {
    case STORE_J_CREDIT:
        overflow = __builtin_add_overflow(acct.credited, amount, &acct.credited);
        break;
    case STORE_J_REFUND:
        overflow = __builtin_add_overflow(acct.refunded, amount, &acct.refunded);
        break;
    default:
        overflow = __builtin_sub_overflow(acct.paid_out, amount, &acct.paid_out);
        break;
    }
    if (overflow)
        return GJ_ERR_INVAL;
    acct.balance = balance;

    if ((err = journal_last_seq(txn, &last)) != GJ_OK)
        return err;
    rec = *entry;
    rec.seq = last + 1;
    rec.balance_after = balance;
    put_be64(key, rec.seq);
    unsigned char val[JOURNAL_VAL_MAX];
    if ((err = put_rec(txn, DB_JOURNAL, key, sizeof key, val, journal_encode(&rec, val),
                       MDB_APPEND)) != GJ_OK)
        return err;
    unsigned char akey[ACCOUNT_KEY_MAX];
    if ((err = put_rec(txn, DB_ACCOUNTS, akey, account_key(akey, entry->psn_no), &acct,
                       sizeof acct, 0)) != GJ_OK)
        return err;
    entry->seq = rec.seq;
    entry->balance_after = balance;
    if (after != NULL)
        *after = acct;
    return GJ_OK;
}

gj_err store_account_hold(store_txn *txn, const char *psn_no, int64_t delta, store_account *after)
{
    gj_err err;
    store_account acct;
    int64_t held;

    if ((err = txn_writable(txn)) != GJ_OK)
        return err;
    if ((err = store_account_get(txn, psn_no, &acct)) != GJ_OK)
        return err;
    if (__builtin_add_overflow(acct.held, delta, &held) || held < 0 || held > acct.balance)
        return GJ_ERR_INVAL;
    if (delta != 0) {
        acct.held = held;
        unsigned char key[ACCOUNT_KEY_MAX];
        if ((err = put_rec(txn, DB_ACCOUNTS, key, account_key(key, psn_no), &acct, sizeof acct,
                           0)) != GJ_OK)
            return err;
    }
    if (after != NULL)
        *after = acct;
    return GJ_OK;
}

gj_err store_journal_scan(store_txn *txn, uint64_t first_seq, store_journal_fn fn, void *arg)
{
    gj_err err;
    MDB_cursor *c;
    unsigned char key[8];
    store_journal_entry e;

    if ((err = txn_readable(txn)) != GJ_OK)
        return err;
    if (fn == NULL)
        return GJ_ERR_INVAL;
    if ((err = map_err(mdb_cursor_open(txn->txn, txn->s->dbi[DB_JOURNAL], &c))) != GJ_OK)
        return err;
    put_be64(key, first_seq);
    MDB_val k = {sizeof key, key}, v;
    int rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
    while (rc == 0) {
        if ((err = journal_decode(&k, &v, &e)) != GJ_OK)
            break;
        if (!fn(&e, arg))
            break;
        rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
    }
    if (err == GJ_OK && rc != 0 && rc != MDB_NOTFOUND)
        err = map_err(rc);
    mdb_cursor_close(c);
    return err;
}

uint64_t store_journal_count(store_txn *txn)
{
    return db_entries(txn, DB_JOURNAL);
}

gj_err store_account_scan(store_txn *txn, store_account_fn fn, void *arg)
{
    gj_err err;
    MDB_cursor *c;
    MDB_val k, v;
    char psn_no[GJ_PSN_NO_MAX + 1];
    store_account acct;

    if ((err = txn_readable(txn)) != GJ_OK)
        return err;
    if (fn == NULL)
        return GJ_ERR_INVAL;
    if ((err = map_err(mdb_cursor_open(txn->txn, txn->s->dbi[DB_ACCOUNTS], &c))) != GJ_OK)
        return err;
    int rc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
    while (rc == 0) {
        const unsigned char *kp = k.mv_data;
        const unsigned char *nul = memchr(kp, '\0', k.mv_size);
        size_t plen = nul != NULL ? (size_t)(nul - kp) : k.mv_size;
        if (nul != NULL && plen + 2 <= k.mv_size && kp[plen + 1] != TAG_ACCOUNT) {
            rc = mdb_cursor_get(c, &k, &v, MDB_NEXT); /* a dated record */
            continue;
        }
        if (nul == NULL || plen == 0 || plen > GJ_PSN_NO_MAX || k.mv_size != plen + 2 ||
            v.mv_size != sizeof acct) {
            err = GJ_ERR_CORRUPT;
            break;
        }
        memcpy(psn_no, kp, plen);
        psn_no[plen] = '\0';
        memcpy(&acct, v.mv_data, sizeof acct);
        if (!fn(psn_no, &acct, arg))
            break;
        rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
    }
    if (err == GJ_OK && rc != 0 && rc != MDB_NOTFOUND)
        err = map_err(rc);
    mdb_cursor_close(c);
    return err;
}

/* ---- bindings ---- */

static bool binding_ok(const store_binding *b)
{
    return KEYFIELD_OK(b->sponsor) && KEYFIELD_OK(b->beneficiary) &&
           FIELD_OK(b->sponsor_admdvs) && FIELD_OK(b->beneficiary_admdvs);
}

gj_err store_binding_get(store_txn *txn, const char *sponsor, const char *beneficiary,
                         store_binding *out)
{
    gj_err err;
    char key[PAIR_KEY_MAX];
    if ((err = txn_readable(txn)) != GJ_OK)
        return err;
    if (!key_ok(sponsor, GJ_PSN_NO_MAX) || !key_ok(beneficiary, GJ_PSN_NO_MAX) || out == NULL)
        return GJ_ERR_INVAL;
    size_t klen = pair_key(key, sponsor, beneficiary);
    return get_rec(txn, DB_BIND_SPONSOR, key, klen, out, sizeof *out);
}

gj_err store_binding_put(store_txn *txn, const store_binding *b)
{
    gj_err err;
    char key[PAIR_KEY_MAX];
    if ((err = txn_writable(txn)) != GJ_OK)
        return err;
    if (b == NULL || !binding_ok(b))
        return GJ_ERR_INVAL;
    size_t klen = pair_key(key, b->sponsor, b->beneficiary);
    if ((err = put_rec(txn, DB_BIND_SPONSOR, key, klen, b, sizeof *b, 0)) != GJ_OK)
        return err;
    klen = pair_key(key, b->beneficiary, b->sponsor);
    return put_rec(txn, DB_BIND_BENEFICIARY, key, klen, b, sizeof *b, 0);
}

/* Every record whose key starts with "psn_no\0", in key order. */
static gj_err binding_list(store_txn *txn, int db, const char *psn_no, store_binding *out,
                           size_t max, size_t *count)
{
    gj_err err;
    MDB_cursor *c;
    char prefix[GJ_PSN_NO_MAX + 1];
    size_t n = 0;

    if ((err = txn_readable(txn)) != GJ_OK)
        return err;
    if (!key_ok(psn_no, GJ_PSN_NO_MAX) || count == NULL || (max > 0 && out == NULL))
        return GJ_ERR_INVAL;
    *count = 0;
    size_t plen = strlen(psn_no) + 1;
    memcpy(prefix, psn_no, plen);
    if ((err = map_err(mdb_cursor_open(txn->txn, txn->s->dbi[db], &c))) != GJ_OK)
        return err;
    MDB_val k = {plen, prefix}, v;
    int rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
    while (rc == 0 && k.mv_size >= plen && memcmp(k.mv_data, prefix, plen) == 0) {
        if (n == max) {
            err = GJ_ERR_TOOBIG;
            break;
        }
        if (v.mv_size != sizeof *out) {
            err = GJ_ERR_CORRUPT;
            break;
        }
        memcpy(&out[n++], v.mv_data, sizeof *out);
        rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
    }
    if (err == GJ_OK && rc != 0 && rc != MDB_NOTFOUND)
        err = map_err(rc);
    mdb_cursor_close(c);
    *count = n;
    return err;
}

gj_err store_binding_list_by_sponsor(store_txn *txn, const char *psn_no, store_binding *out,
                                     size_t max, size_t *count)
{
    return binding_list(txn, DB_BIND_SPONSOR, psn_no, out, max, count);
}

gj_err store_binding_list_by_beneficiary(store_txn *txn, const char *psn_no, store_binding *out,
                                         size_t max, size_t *count)
{
    return binding_list(txn, DB_BIND_BENEFICIARY, psn_no, out, max, count);
}

uint64_t store_binding_count(store_txn *txn)
{
    return db_entries(txn, DB_BIND_SPONSOR);
}

/* ---- deduction orders ---- */

gj_err store_order_get(store_txn *txn, const char *beneficiary, store_order *out)
{
    gj_err err;
    if ((err = txn_readable(txn)) != GJ_OK)
        return err;
    if (!key_ok(beneficiary, GJ_PSN_NO_MAX) || out == NULL)
        return GJ_ERR_INVAL;
    err = get_rec(txn, DB_ORDERS, beneficiary, strlen(beneficiary), out, sizeof *out);
    if (err == GJ_ERR_NOTFOUND) {
        memset(out, 0, sizeof *out);
        return GJ_OK;
    }
    if (err == GJ_OK && out->count > GJ_SPONSORS_MAX) {
        memset(out, 0, sizeof *out); /* never hand out a count that overruns sponsors[] */
        return GJ_ERR_CORRUPT;
    }
    return err;
}

gj_err store_order_put(store_txn *txn, const char *beneficiary, const store_order *order)
{
    gj_err err;
    if ((err = txn_writable(txn)) != GJ_OK)
        return err;
    if (!key_ok(beneficiary, GJ_PSN_NO_MAX) || order == NULL || order->count > GJ_SPONSORS_MAX)
        return GJ_ERR_INVAL;
    for (uint32_t i = 0; i < order->count; i++)
        if (!KEYFIELD_OK(order->sponsors[i].psn_no) || !FIELD_OK(order->sponsors[i].admdvs))
            return GJ_ERR_INVAL;
    return put_rec(txn, DB_ORDERS, beneficiary, strlen(beneficiary), order, sizeof *order, 0);
}

/* ---- idempotency ---- */

static bool idem_key(char *buf, size_t *len, const char *caller_id, const char *call_id)
{
    if (!key_ok(caller_id, GJ_CALLER_ID_MAX) || !key_ok(call_id, GJ_CALL_ID_MAX))
        return false;
    *len = pair_key(buf, caller_id, call_id);
    return true;
}

const store_digest store_tombstone = {{0}};

bool store_digest_equal(const store_digest *a, const store_digest *b)
{
    return memcmp(a->bytes, b->bytes, STORE_DIGEST_LEN) == 0;
}

gj_err store_idem_get(store_txn *txn, const char *caller_id, const char *call_id,
                      store_digest *request_digest, const void **reply, size_t *reply_len)
{
    gj_err err;
    char key[IDEM_KEY_MAX];
    size_t klen;

    if ((err = txn_readable(txn)) != GJ_OK)
        return err;
    if (!idem_key(key, &klen, caller_id, call_id))
        return GJ_ERR_INVAL;
    MDB_val k = {klen, key}, v;
    int rc = mdb_get(txn->txn, txn->s->dbi[DB_IDEM], &k, &v);
    if (rc != 0)
        return map_err(rc);
    const unsigned char *p = v.mv_data;
    if (v.mv_size < IDEM_HDR || v.mv_size - IDEM_HDR != get_be32(p + STORE_DIGEST_LEN))
        return GJ_ERR_CORRUPT;
    size_t len = v.mv_size - IDEM_HDR;
    const void *bytes = p + IDEM_HDR;
    if (txn->writable && reply != NULL) {
        struct idem_copy *copy = malloc(sizeof *copy + len + 1);
        if (copy == NULL)
            return GJ_ERR_NOMEM;
        memcpy(copy->bytes, bytes, len);
        copy->next = txn->copies;
        txn->copies = copy;
        bytes = copy->bytes;
    }
    if (request_digest != NULL)
        memcpy(request_digest->bytes, p, STORE_DIGEST_LEN);
    if (reply != NULL)
        *reply = bytes;
    if (reply_len != NULL)
        *reply_len = len;
    return GJ_OK;
}

/* Insert only: the first answer stands; a second put gets GJ_ERR_EXISTS. */
static gj_err idem_write(store_txn *txn, const char *caller_id, const char *call_id,
                         const store_digest *request_digest, const void *reply, size_t reply_len, unsigned flags)
{
    gj_err err;
    char key[IDEM_KEY_MAX];
    size_t klen;

    if ((err = txn_writable(txn)) != GJ_OK)
        return err;
    if (!idem_key(key, &klen, caller_id, call_id) || (reply == NULL && reply_len > 0))
        return GJ_ERR_INVAL;
    if (reply_len > IDEM_REPLY_MAX)
        return GJ_ERR_TOOBIG;
    MDB_val k = {klen, key}, v = {IDEM_HDR + reply_len, NULL};
    /* MDB_RESERVE: build the value in place instead of in a temporary buffer. */
    if ((err = put_val(txn, DB_IDEM, &k, &v, flags | MDB_RESERVE)) != GJ_OK)
        return err;
    unsigned char *p = v.mv_data;
    memcpy(p, request_digest->bytes, STORE_DIGEST_LEN);
    put_be32(p + STORE_DIGEST_LEN, (uint32_t)reply_len);
    if (reply_len > 0)
        memcpy(p + IDEM_HDR, reply, reply_len);
    return GJ_OK;
}

gj_err store_idem_put(store_txn *txn, const char *caller_id, const char *call_id,
                      const store_digest *request_digest, const void *reply, size_t reply_len)
{
    if (request_digest == NULL)
        return GJ_ERR_INVAL;
    return idem_write(txn, caller_id, call_id, request_digest, reply, reply_len, MDB_NOOVERWRITE);
}

gj_err store_idem_replace(store_txn *txn, const char *caller_id, const char *call_id,
                          const store_digest *request_digest, const void *reply, size_t reply_len)
{
    store_digest first;
    const void *old;
    size_t old_len;
    if (request_digest == NULL)
        return GJ_ERR_INVAL;
    gj_err err = store_idem_get(txn, caller_id, call_id, &first, &old, &old_len);
    if (err != GJ_OK)
        return err;
    return idem_write(txn, caller_id, call_id, request_digest, reply, reply_len, 0);
}

/* ---- counters ---- */

gj_err store_next_seq(store_txn *txn, const char *name, uint64_t *out)
{
    gj_err err;
    char key[4 + SEQ_NAME_MAX];
    unsigned char val[8];
    uint64_t cur = 0;

    if ((err = txn_writable(txn)) != GJ_OK)
        return err;
    if (!key_ok(name, SEQ_NAME_MAX) || out == NULL)
        return GJ_ERR_INVAL;
    size_t nlen = strlen(name);
    memcpy(key, "seq:", 4);
    memcpy(key + 4, name, nlen);
    err = get_rec(txn, DB_META, key, 4 + nlen, val, sizeof val);
    if (err == GJ_OK)
        cur = get_be64(val);
    else if (err != GJ_ERR_NOTFOUND)
        return err;
    if (cur == UINT64_MAX)
        return GJ_ERR_FULL;
    put_be64(val, cur + 1);
    if ((err = put_rec(txn, DB_META, key, 4 + nlen, val, sizeof val, 0)) != GJ_OK)
        return err;
    *out = cur + 1;
    return GJ_OK;
}

/* ---- settlements ---- */

static bool settlement_ok(const store_settlement *st)
{
    /* psn_no, setl_date and unix_ms make the settlements_by_psn key. */
    if (!KEYFIELD_OK(st->setl_id) || !KEYFIELD_OK(st->psn_no) || !FIELD_OK(st->caller_id) ||
        !FIELD_OK(st->call_id) || st->part_count > GJ_SPONSORS_MAX ||
        st->status < STORE_SETL_COMMITTED || st->status > STORE_SETL_REVOKED ||
        !gj_date_valid(st->setl_date) || st->unix_ms < 0 ||
        (st->revoke_date != 0 && !gj_date_valid(st->revoke_date)))
        return false;
    for (uint32_t i = 0; i < st->part_count; i++)
        if (!FIELD_OK(st->parts[i].psn_no) || !FIELD_OK(st->parts[i].admdvs))
            return false;
    return true;
}

/* A settlement is stored without the sponsor parts it does not use: the fields before
 * parts[], the fields after it, then part_count parts. Most settlements have one or
 * two parts, and a smaller record is fewer pages for every commit to write. */
#define SETL_HEAD offsetof(store_settlement, parts)
#define SETL_TAIL (sizeof(store_settlement) - offsetof(store_settlement, caller_id))
#define SETL_PART sizeof(((store_settlement *)0)->parts[0])
_Static_assert(offsetof(store_settlement, caller_id) ==
                   offsetof(store_settlement, parts) + sizeof(((store_settlement *)0)->parts),
               "the fields after parts[] start right after it");

static size_t settlement_size(uint32_t part_count)
{
    return SETL_HEAD + SETL_TAIL + part_count * SETL_PART;
}

static void settlement_encode(const store_settlement *st, unsigned char *out)
{
    memcpy(out, st, SETL_HEAD);
    memcpy(out + SETL_HEAD, &st->caller_id, SETL_TAIL);
    memcpy(out + SETL_HEAD + SETL_TAIL, st->parts, st->part_count * SETL_PART);
}

/* A stored settlement: a valid record filed under its own setl_id. */
static gj_err settlement_decode(const MDB_val *k, const MDB_val *v, store_settlement *out)
{
    const unsigned char *in = v->mv_data;
    memset(out, 0, sizeof *out);
    if (v->mv_size < SETL_HEAD + SETL_TAIL)
        return GJ_ERR_CORRUPT;
    memcpy(out, in, SETL_HEAD);
    if (out->part_count > GJ_SPONSORS_MAX || v->mv_size != settlement_size(out->part_count)) {
        memset(out, 0, sizeof *out);
        return GJ_ERR_CORRUPT;
    }
    memcpy(&out->caller_id, in + SETL_HEAD, SETL_TAIL);
    memcpy(out->parts, in + SETL_HEAD + SETL_TAIL, out->part_count * SETL_PART);
    if (!settlement_ok(out) || k->mv_size != strlen(out->setl_id) ||
        memcmp(out->setl_id, k->mv_data, k->mv_size) != 0) {
        memset(out, 0, sizeof *out); /* never hand out a count that overruns parts[] */
        return GJ_ERR_CORRUPT;
    }
    return GJ_OK;
}

static gj_err settlement_read(store_txn *t, const void *key, size_t klen, store_settlement *out)
{
    MDB_val k = {klen, (void *)key}, v;
    int rc = mdb_get(t->txn, t->s->dbi[DB_SETTLEMENTS], &k, &v);
    if (rc != 0)
        return map_err(rc);
    return settlement_decode(&k, &v, out);
}

/* owner '\0' tag, big-endian date, big-endian unix_ms, setl_id: the key of spend
 * records (TAG_SPEND) and of settlements_by_psn (TAG_SETTLED) in the ledger tree,
 * sorting just before the owner's account. date and unix_ms must be non-negative (checked
 * by the record's validation), so big-endian bytes sort like the numbers. */
static size_t dated_prefix(unsigned char *buf, const char *owner, char tag)
{
    size_t olen = strlen(owner);
    memcpy(buf, owner, olen);
    buf[olen] = '\0';
    buf[olen + 1] = (unsigned char)tag;
    return olen + 2;
}

static size_t dated_key(unsigned char *buf, const char *owner, char tag, int32_t date,
                        int64_t unix_ms, const char *setl_id)
{
    size_t plen = dated_prefix(buf, owner, tag), slen = strlen(setl_id);
    put_be32(buf + plen, (uint32_t)date);
    put_be64(buf + plen + 4, (uint64_t)unix_ms);
    memcpy(buf + plen + SPEND_FIXED, setl_id, slen);
    return plen + SPEND_FIXED + slen;
}

static size_t setl_psn_key(unsigned char *buf, const store_settlement *st)
{
    return dated_key(buf, st->psn_no, TAG_SETTLED, st->setl_date, st->unix_ms, st->setl_id);
}

gj_err store_settlement_put(store_txn *txn, const store_settlement *setl)
{
    gj_err err;
    store_settlement old;
    unsigned char key[SPEND_KEY_MAX], old_key[SPEND_KEY_MAX];
    size_t old_len = 0;

    if ((err = txn_writable(txn)) != GJ_OK)
        return err;
    if (setl == NULL || !settlement_ok(setl))
        return GJ_ERR_INVAL;
    const char *id = setl->setl_id;
    size_t idlen = strlen(id);
    /* A replaced settlement's index key goes if the new one files elsewhere. A damaged
     * old record is refused: its index key cannot be known, so it cannot be kept right. */
    err = settlement_read(txn, id, idlen, &old);
    if (err == GJ_OK)
        old_len = setl_psn_key(old_key, &old);
    else if (err != GJ_ERR_NOTFOUND)
        return err;
    MDB_val k = {idlen, (void *)id}, v = {settlement_size(setl->part_count), NULL};
    /* setl_ids grow, so a new one goes at the end: MDB_APPEND fills pages whole
     * instead of splitting them in half. A replaced record goes where it is. */
    err = put_val(txn, DB_SETTLEMENTS, &k, &v, MDB_RESERVE | MDB_APPEND);
    if (err == GJ_ERR_EXISTS)
        err = put_val(txn, DB_SETTLEMENTS, &k, &v, MDB_RESERVE);
    if (err != GJ_OK)
        return err;
    settlement_encode(setl, v.mv_data);
    size_t klen = setl_psn_key(key, setl);
    if (old_len > 0 && (old_len != klen || memcmp(old_key, key, klen) != 0) &&
        (err = del_rec(txn, DB_SETL_BY_PSN, old_key, old_len)) != GJ_OK)
        return err;
    return put_rec(txn, DB_SETL_BY_PSN, key, klen, "", 0, 0);
}

gj_err store_settlement_get(store_txn *txn, const char *setl_id, store_settlement *out)
{
    gj_err err;
    if ((err = txn_readable(txn)) != GJ_OK)
        return err;
    if (!key_ok(setl_id, GJ_SETL_ID_MAX) || out == NULL)
        return GJ_ERR_INVAL;
    /* Whatever a put would refuse is damage. */
    return settlement_read(txn, setl_id, strlen(setl_id), out);
}

/* ---- spend records ---- */

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* base64url without padding: printable whatever bytes setl_id holds, and short
 * enough (68 chars for the longest key tail) to fit next_cursor[80]. */
static void cursor_encode(const unsigned char *in, size_t n, char *out)
{
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        acc = (acc << 8) | in[i];
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            *out++ = b64url[(acc >> bits) & 63];
        }
        acc &= (1u << bits) - 1;
    }
    if (bits > 0)
        *out++ = b64url[(acc << (6 - bits)) & 63];
    *out = '\0';
}

static int b64url_value(char c)
{
    const char *p = c != '\0' ? strchr(b64url, c) : NULL;
    return p != NULL ? (int)(p - b64url) : -1;
}

/* The key tail a cursor names; false for anything cursor_encode cannot have made
 * from a spend key. */
static bool cursor_decode(const char *text, unsigned char *out, size_t *n_out)
{
    size_t len = strnlen(text, CURSOR_MAX + 1), n = 0;
    uint32_t acc = 0;
    int bits = 0;

    if (len > CURSOR_MAX || len % 4 == 1)
        return false;
    for (size_t i = 0; i < len; i++) {
        int val = b64url_value(text[i]);
        if (val < 0)
            return false;
        acc = (acc << 6) | (uint32_t)val;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[n++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    if (acc != 0) /* leftover bits an encoder would have left zero */
        return false;
    if (n <= SPEND_FIXED || n > SPEND_TAIL_MAX ||
        memchr(out + SPEND_FIXED, '\0', n - SPEND_FIXED) != NULL)
        return false;
    *n_out = n;
    return true;
}

/* A spend record's value holds only what its key does not (sponsor, date, instant and
 * setl_id are there): amount (8 bytes, host order), use, refund, then the beneficiary
 * without its NUL. A quarter of the struct's size, so a sponsor's history takes fewer
 * pages of the ledger. */
#define SPEND_VAL_FIXED 10
#define SPEND_VAL_MAX (SPEND_VAL_FIXED + GJ_PSN_NO_MAX)

static size_t spend_encode(const store_spend *sp, unsigned char *out)
{
    size_t n = strlen(sp->beneficiary);
    memcpy(out, &sp->amount, sizeof sp->amount);
    out[8] = sp->use;
    out[9] = sp->refund;
    memcpy(out + SPEND_VAL_FIXED, sp->beneficiary, n);
    return SPEND_VAL_FIXED + n;
}

static bool spend_ok(const store_spend *sp)
{
    return KEYFIELD_OK(sp->sponsor) && FIELD_OK(sp->beneficiary) && KEYFIELD_OK(sp->setl_id) &&
           gj_date_valid(sp->setl_date) && sp->unix_ms >= 0 && sp->refund <= 1;
}

gj_err store_spend_put(store_txn *txn, const store_spend *spend)
{
    gj_err err;
    unsigned char key[SPEND_KEY_MAX];

    if ((err = txn_writable(txn)) != GJ_OK)
        return err;
    if (spend == NULL || !spend_ok(spend))
        return GJ_ERR_INVAL;
    size_t klen = dated_key(key, spend->sponsor, TAG_SPEND, spend->setl_date, spend->unix_ms,
                            spend->setl_id);
    unsigned char val[SPEND_VAL_MAX];
    return put_rec(txn, DB_SPEND, key, klen, val, spend_encode(spend, val), 0);
}

/* Copies the entry (k, v) of a dated index into the i-th slot of out; plen is the
 * length of the owner prefix "psn_no\0" tag. */
typedef gj_err (*dated_take_fn)(store_txn *t, const MDB_val *k, const MDB_val *v, size_t plen,
                                void *out, size_t i);

/* One page of the entries of a dated index (spend, settlements_by_psn) under owner
 * with from_date <= date <= to_date, in key order, resuming after the cursor `after`. */
static gj_err dated_list(store_txn *txn, int db, const char *owner, char tag, int32_t from_date,
                         int32_t to_date, const char *after, dated_take_fn take, void *out,
                         size_t max, size_t *count, char next_cursor[80])
{
    gj_err err;
    MDB_cursor *c;
    unsigned char key[SPEND_KEY_MAX], tail[SPEND_TAIL_MAX], last[SPEND_TAIL_MAX];
    size_t tail_len = 0, last_len = 0, n = 0, klen;
    bool more = false, skip_exact = false;

    if ((err = txn_readable(txn)) != GJ_OK)
        return err;
    if (!key_ok(owner, GJ_PSN_NO_MAX) || out == NULL || max == 0 || count == NULL ||
        next_cursor == NULL)
        return GJ_ERR_INVAL;
    /* Decode first: callers may pass one buffer as both after and next_cursor. */
    if (after != NULL && after[0] != '\0' && !cursor_decode(after, tail, &tail_len))
        return GJ_ERR_INVAL;
    *count = 0;
    next_cursor[0] = '\0';
    if (to_date < 0 || to_date < from_date)
        return GJ_OK;
    if (from_date < 0)
        from_date = 0;

    size_t plen = dated_prefix(key, owner, tag);
    if (tail_len > 0 && get_be32(tail) >= (uint32_t)from_date) {
        memcpy(key + plen, tail, tail_len); /* resume at the cursor's record... */
        klen = plen + tail_len;
        skip_exact = true;
    } else {
        put_be32(key + plen, (uint32_t)from_date);
        klen = plen + 4;
    }

    if ((err = map_err(mdb_cursor_open(txn->txn, txn->s->dbi[db], &c))) != GJ_OK)
        return err;
    MDB_val k = {klen, key}, v;
    int rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
    if (rc == 0 && skip_exact && k.mv_size == klen && memcmp(k.mv_data, key, klen) == 0)
        rc = mdb_cursor_get(c, &k, &v, MDB_NEXT); /* ...and start just after it */
    while (rc == 0) {
        const unsigned char *kp = k.mv_data;
        if (k.mv_size < plen || memcmp(kp, key, plen) != 0)
            break; /* past this owner */
        if (k.mv_size <= plen + SPEND_FIXED || k.mv_size > plen + SPEND_TAIL_MAX) {
            err = GJ_ERR_CORRUPT;
            break;
        }
        if (get_be32(kp + plen) > (uint32_t)to_date)
            break;
        if (n == max) {
            more = true;
            break;
        }
        if ((err = take(txn, &k, &v, plen, out, n)) != GJ_OK)
            break;
        n++;
        last_len = k.mv_size - plen;
        memcpy(last, kp + plen, last_len);
        rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
    }
    if (err == GJ_OK && rc != 0 && rc != MDB_NOTFOUND)
        err = map_err(rc);
    mdb_cursor_close(c);
    *count = n;
    if (err == GJ_OK && more)
        cursor_encode(last, last_len, next_cursor);
    return err;
}

/* A spend record back from its key (dated_list has checked the key's length) and its
 * value (spend_encode). */
static gj_err take_spend(store_txn *t, const MDB_val *k, const MDB_val *v, size_t plen,
                         void *out, size_t i)
{
    (void)t;
    const unsigned char *kp = k->mv_data, *vp = v->mv_data;
    store_spend *sp = (store_spend *)out + i;
    size_t owner = plen - 2, id = k->mv_size - plen - SPEND_FIXED, who = v->mv_size - SPEND_VAL_FIXED;
    memset(sp, 0, sizeof *sp);
    if (v->mv_size < SPEND_VAL_FIXED || who > GJ_PSN_NO_MAX || owner > GJ_PSN_NO_MAX ||
        memchr(vp + SPEND_VAL_FIXED, '\0', who) != NULL)
        return GJ_ERR_CORRUPT;
    memcpy(sp->sponsor, kp, owner);
    sp->setl_date = (int32_t)get_be32(kp + plen);
    sp->unix_ms = (int64_t)get_be64(kp + plen + 4);
    memcpy(sp->setl_id, kp + plen + SPEND_FIXED, id);
    memcpy(&sp->amount, vp, sizeof sp->amount);
    sp->use = vp[8];
    sp->refund = vp[9];
    memcpy(sp->beneficiary, vp + SPEND_VAL_FIXED, who);
    if (!spend_ok(sp) || strlen(sp->setl_id) != id) {
        memset(sp, 0, sizeof *sp);
        return GJ_ERR_CORRUPT;
    }
    return GJ_OK;
}

gj_err store_spend_list(store_txn *txn, const char *sponsor, int32_t from_date,
                        int32_t to_date, const char *after, store_spend *out, size_t max,
                        size_t *count, char next_cursor[80])
{
    return dated_list(txn, DB_SPEND, sponsor, TAG_SPEND, from_date, to_date, after, take_spend,
                      out, max, count, next_cursor);
}

/* The index entry is only a key; the settlement it names must exist and file under
 * exactly that key (same patient, date and instant). */
static gj_err take_settlement(store_txn *t, const MDB_val *k, const MDB_val *v, size_t plen,
                              void *out, size_t i)
{
    unsigned char key[SPEND_KEY_MAX];
    store_settlement *st = (store_settlement *)out + i;
    if (v->mv_size != 0)
        return GJ_ERR_CORRUPT;
    const unsigned char *id = (const unsigned char *)k->mv_data + plen + SPEND_FIXED;
    gj_err err = settlement_read(t, id, k->mv_size - plen - SPEND_FIXED, st);
    if (err == GJ_ERR_NOTFOUND)
        return GJ_ERR_CORRUPT;
    if (err != GJ_OK)
        return err;
    if (setl_psn_key(key, st) != k->mv_size || memcmp(key, k->mv_data, k->mv_size) != 0) {
        memset(st, 0, sizeof *st);
        return GJ_ERR_CORRUPT;
    }
    return GJ_OK;
}

gj_err store_settlement_list_by_psn(store_txn *txn, const char *psn_no, int32_t from_date,
                                    int32_t to_date, const char *after, store_settlement *out,
                                    size_t max, size_t *count, char next_cursor[80])
{
    return dated_list(txn, DB_SETL_BY_PSN, psn_no, TAG_SETTLED, from_date, to_date, after,
                      take_settlement, out, max, count, next_cursor);
}

/* ---- scans that tolerate writes ---- */

/* Checks one entry of a scan and hands a copy of it to the caller's callback;
 * *more = false stops the scan. */
typedef gj_err (*entry_fn)(store_txn *t, const MDB_val *k, const MDB_val *v, void *ctx,
                           bool *more);

/* Every entry of db whose key starts with prefix (plen 0: every entry), in key order,
 * until visit stops or fails. After each entry the cursor seeks past the key it just
 * visited rather than stepping on, so a callback that writes in the same txn
 * (resolving the hold it was given, which drops it from the open index) neither
 * skips nor repeats an entry. */
/* Visit the keys of db from start (or, with after_start, from the first key past it;
 * an empty start is the first key), while they begin with prefix (plen 0: all). */
static gj_err scan_range(store_txn *t, int db, const void *start, size_t slen, bool after_start,
                         const void *prefix, size_t plen, entry_fn visit, void *ctx)
{
    MDB_cursor *c;
    MDB_val k = {slen, (void *)start}, v;
    unsigned char last[SCAN_KEY_MAX];
    bool more = true;
    gj_err err = map_err(mdb_cursor_open(t->txn, t->s->dbi[db], &c));
    if (err != GJ_OK)
        return err;
    int rc = mdb_cursor_get(c, &k, &v, slen > 0 ? MDB_SET_RANGE : MDB_FIRST);
    if (rc == 0 && after_start && slen > 0 && k.mv_size == slen && memcmp(k.mv_data, start, slen) == 0)
        rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
    while (rc == 0) {
        size_t len = k.mv_size;
        if (plen > 0 && (len < plen || memcmp(k.mv_data, prefix, plen) != 0))
            break; /* past the prefix */
        if (len > sizeof last) {
            err = GJ_ERR_CORRUPT;
            break;
        }
        memcpy(last, k.mv_data, len); /* a write may move what k points at */
        if ((err = visit(t, &k, &v, ctx, &more)) != GJ_OK || !more)
            break;
        if ((err = t->broken) != GJ_OK)
            break; /* the callback's write failed; LMDB refuses the txn from now on */
        k.mv_size = len;
        k.mv_data = last;
        rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
        if (rc == 0 && k.mv_size == len && memcmp(k.mv_data, last, len) == 0)
            rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
    }
    if (err == GJ_OK && rc != 0 && rc != MDB_NOTFOUND)
        err = map_err(rc);
    mdb_cursor_close(c);
    return err;
}

static gj_err scan_db(store_txn *t, int db, const void *prefix, size_t plen, entry_fn visit,
                      void *ctx)
{
    return scan_range(t, db, prefix, plen, false, prefix, plen, visit, ctx);
}

/* ---- cross-region settlement ---- */

/* Exactly GJ_ADMDVS_LEN digits, then the NUL. */
static bool admdvs_ok(const char *a)
{
    return gj_all_digits(a, GJ_ADMDVS_LEN) && a[GJ_ADMDVS_LEN] == '\0';
}

static bool part_amount_ok(int64_t amount)
{
    return amount >= 0 && amount <= GJ_AMOUNT_MAX;
}

static bool hold_ok(const store_hold *h)
{
    return KEYFIELD_OK(h->setl_id) && KEYFIELD_OK(h->sponsor) && KEYFIELD_OK(h->beneficiary) &&
           admdvs_ok(h->coordinator) && part_amount_ok(h->amount) &&
           h->state >= STORE_HOLD_HELD && h->state <= STORE_HOLD_REFUNDED;
}

/* setl_id '\0' big-endian leg: the '\0' keeps "S1" legs apart from "S10" legs and the
 * big-endian leg sorts each settlement's legs numerically. setl_id must be valid. */
static size_t hold_key(unsigned char *buf, const char *setl_id, uint32_t leg)
{
    size_t n = strlen(setl_id);
    memcpy(buf, setl_id, n);
    buf[n] = '\0';
    put_be32(buf + n + 1, leg);
    return n + 1 + 4;
}

/* A stored hold: a valid record filed under its own key. */
static gj_err hold_decode(const MDB_val *k, const MDB_val *v, store_hold *out)
{
    unsigned char key[HOLD_KEY_MAX];
    if (v->mv_size != sizeof *out)
        return GJ_ERR_CORRUPT;
    memcpy(out, v->mv_data, sizeof *out);
    if (!hold_ok(out) || k->mv_size != hold_key(key, out->setl_id, out->leg) ||
        memcmp(key, k->mv_data, k->mv_size) != 0) {
        memset(out, 0, sizeof *out);
        return GJ_ERR_CORRUPT;
    }
    return GJ_OK;
}

static gj_err hold_read(store_txn *t, const void *key, size_t klen, store_hold *out)
{
    MDB_val k = {klen, (void *)key}, v;
    int rc = mdb_get(t->txn, t->s->dbi[DB_HOLDS], &k, &v);
    if (rc != 0)
        return map_err(rc);
    return hold_decode(&k, &v, out);
}

gj_err store_hold_get(store_txn *txn, const char *setl_id, uint32_t leg, store_hold *out)
{
    gj_err err;
    unsigned char key[HOLD_KEY_MAX];
    if ((err = txn_readable(txn)) != GJ_OK)
        return err;
    if (!key_ok(setl_id, GJ_SETL_ID_MAX) || out == NULL)
        return GJ_ERR_INVAL;
    return hold_read(txn, key, hold_key(key, setl_id, leg), out);
}

gj_err store_hold_put(store_txn *txn, const store_hold *hold)
{
    gj_err err;
    unsigned char key[HOLD_KEY_MAX];
    if ((err = txn_writable(txn)) != GJ_OK)
        return err;
    if (hold == NULL || !hold_ok(hold))
        return GJ_ERR_INVAL;
    size_t klen = hold_key(key, hold->setl_id, hold->leg);
    if ((err = put_rec(txn, DB_HOLDS, key, klen, hold, sizeof *hold, 0)) != GJ_OK)
        return err;
    /* holds_open has a key exactly when that hold is HELD, so it follows every put. */
    if (hold->state == STORE_HOLD_HELD)
        return put_rec(txn, DB_HOLDS_OPEN, key, klen, "", 0, 0);
    return del_rec(txn, DB_HOLDS_OPEN, key, klen);
}

struct hold_scan {
    store_hold_fn fn;
    void *arg;
};

static gj_err visit_hold(store_txn *t, const MDB_val *k, const MDB_val *v, void *ctx,
                         bool *more)
{
    struct hold_scan *hs = ctx;
    store_hold h;
    (void)t;
    gj_err err = hold_decode(k, v, &h);
    if (err == GJ_OK)
        *more = hs->fn(&h, hs->arg);
    return err;
}

static gj_err visit_open_hold(store_txn *t, const MDB_val *k, const MDB_val *v, void *ctx,
                              bool *more)
{
    struct hold_scan *hs = ctx;
    store_hold h;
    if (v->mv_size != 0)
        return GJ_ERR_CORRUPT;
    /* The index is only keys; the hold it names must exist and be HELD. */
    gj_err err = hold_read(t, k->mv_data, k->mv_size, &h);
    if (err == GJ_ERR_NOTFOUND || (err == GJ_OK && h.state != STORE_HOLD_HELD))
        return GJ_ERR_CORRUPT;
    if (err == GJ_OK)
        *more = hs->fn(&h, hs->arg);
    return err;
}

gj_err store_hold_scan_open_after(store_txn *txn, const char *after_setl_id, uint32_t after_leg,
                                  store_hold_fn fn, void *arg)
{
    gj_err err;
    struct hold_scan hs = {fn, arg};
    unsigned char key[HOLD_KEY_MAX];
    if ((err = txn_readable(txn)) != GJ_OK)
        return err;
    if (fn == NULL || after_setl_id == NULL || strlen(after_setl_id) > GJ_SETL_ID_MAX)
        return GJ_ERR_INVAL;
    size_t klen = after_setl_id[0] ? hold_key(key, after_setl_id, after_leg) : 0;
    return scan_range(txn, DB_HOLDS_OPEN, key, klen, true, NULL, 0, visit_open_hold, &hs);
}

gj_err store_hold_scan_open(store_txn *txn, store_hold_fn fn, void *arg)
{
    gj_err err;
    struct hold_scan hs = {fn, arg};
    if ((err = txn_readable(txn)) != GJ_OK)
        return err;
    if (fn == NULL)
        return GJ_ERR_INVAL;
    return scan_db(txn, DB_HOLDS_OPEN, NULL, 0, visit_open_hold, &hs);
}

gj_err store_hold_scan(store_txn *txn, store_hold_fn fn, void *arg)
{
    gj_err err;
    struct hold_scan hs = {fn, arg};
    if ((err = txn_readable(txn)) != GJ_OK)
        return err;
    if (fn == NULL)
        return GJ_ERR_INVAL;
    return scan_db(txn, DB_HOLDS, NULL, 0, visit_hold, &hs);
}

uint64_t store_hold_open_count(store_txn *txn)
{
    return db_entries(txn, DB_HOLDS_OPEN);
}

static bool decision_ok(const store_decision *d)
{
    if (!KEYFIELD_OK(d->setl_id) || !KEYFIELD_OK(d->beneficiary) || d->leg_count > GJ_SPONSORS_MAX)
        return false;
    for (uint32_t i = 0; i < d->leg_count; i++)
        if (!KEYFIELD_OK(d->legs[i].sponsor) || !admdvs_ok(d->legs[i].admdvs) ||
            !part_amount_ok(d->legs[i].amount) || d->legs[i].action < STORE_LEG_POST ||
            d->legs[i].action > STORE_LEG_REFUND || d->legs[i].acked > 1 || d->legs[i].speculative > 1)
            return false;
    return true;
}

/* Open until every leg in use is acknowledged; legs past leg_count are ignored. */
static bool decision_open(const store_decision *d)
{
    for (uint32_t i = 0; i < d->leg_count; i++)
        if (d->legs[i].acked == 0)
            return true;
    return false;
}

/* A decision is stored with only the legs it uses (legs[] is its last field). */
#define DECISION_HEAD offsetof(store_decision, legs)
#define DECISION_LEG sizeof(((store_decision *)0)->legs[0])
_Static_assert(sizeof(store_decision) == DECISION_HEAD + GJ_SPONSORS_MAX * DECISION_LEG,
               "legs[] is the decision's last field");

static gj_err decision_decode(const MDB_val *k, const MDB_val *v, store_decision *out)
{
    memset(out, 0, sizeof *out);
    if (v->mv_size < DECISION_HEAD)
        return GJ_ERR_CORRUPT;
    memcpy(out, v->mv_data, DECISION_HEAD);
    if (out->leg_count > GJ_SPONSORS_MAX ||
        v->mv_size != DECISION_HEAD + out->leg_count * DECISION_LEG) {
        memset(out, 0, sizeof *out);
        return GJ_ERR_CORRUPT;
    }
    memcpy(out->legs, (const unsigned char *)v->mv_data + DECISION_HEAD,
           out->leg_count * DECISION_LEG);
    if (!decision_ok(out) || k->mv_size != strlen(out->setl_id) ||
        memcmp(out->setl_id, k->mv_data, k->mv_size) != 0) {
        memset(out, 0, sizeof *out); /* never hand out a leg_count that overruns legs[] */
        return GJ_ERR_CORRUPT;
    }
    return GJ_OK;
}

static gj_err decision_read(store_txn *t, const void *key, size_t klen, store_decision *out)
{
    MDB_val k = {klen, (void *)key}, v;
    int rc = mdb_get(t->txn, t->s->dbi[DB_DECISIONS], &k, &v);
    if (rc != 0)
        return map_err(rc);
    return decision_decode(&k, &v, out);
}

gj_err store_decision_get(store_txn *txn, const char *setl_id, store_decision *out)
{
    gj_err err;
    if ((err = txn_readable(txn)) != GJ_OK)
        return err;
    if (!key_ok(setl_id, GJ_SETL_ID_MAX) || out == NULL)
        return GJ_ERR_INVAL;
    return decision_read(txn, setl_id, strlen(setl_id), out);
}

gj_err store_decision_put(store_txn *txn, const store_decision *decision)
{
    gj_err err;
    if ((err = txn_writable(txn)) != GJ_OK)
        return err;
    if (decision == NULL || !decision_ok(decision))
        return GJ_ERR_INVAL;
    const char *key = decision->setl_id;
    size_t klen = strlen(key);
    size_t size = DECISION_HEAD + decision->leg_count * DECISION_LEG;
    /* New decisions go at the end (setl_ids grow); a replaced one where it is. */
    err = put_rec(txn, DB_DECISIONS, key, klen, decision, size, MDB_APPEND);
    if (err == GJ_ERR_EXISTS)
        err = put_rec(txn, DB_DECISIONS, key, klen, decision, size, 0);
    if (err != GJ_OK)
        return err;
    /* decisions_open has a key exactly when a leg is not yet acked. */
    if (decision_open(decision))
        return put_rec(txn, DB_DECISIONS_OPEN, key, klen, "", 0, 0);
    return del_rec(txn, DB_DECISIONS_OPEN, key, klen);
}

struct decision_scan {
    store_decision_fn fn;
    void *arg;
};

static gj_err visit_open_decision(store_txn *t, const MDB_val *k, const MDB_val *v, void *ctx,
                                  bool *more)
{
    struct decision_scan *ds = ctx;
    store_decision d;
    if (v->mv_size != 0)
        return GJ_ERR_CORRUPT;
    /* As for holds: the decision the index names must exist and be open. */
    gj_err err = decision_read(t, k->mv_data, k->mv_size, &d);
    if (err == GJ_ERR_NOTFOUND || (err == GJ_OK && !decision_open(&d)))
        return GJ_ERR_CORRUPT;
    if (err == GJ_OK)
        *more = ds->fn(&d, ds->arg);
    return err;
}

gj_err store_decision_scan_open_after(store_txn *txn, const char *after_setl_id, store_decision_fn fn,
                                      void *arg)
{
    gj_err err;
    struct decision_scan ds = {fn, arg};
    if ((err = txn_readable(txn)) != GJ_OK)
        return err;
    if (fn == NULL || after_setl_id == NULL || strlen(after_setl_id) > GJ_SETL_ID_MAX)
        return GJ_ERR_INVAL;
    return scan_range(txn, DB_DECISIONS_OPEN, after_setl_id, strlen(after_setl_id), true, NULL, 0,
                      visit_open_decision, &ds);
}

gj_err store_decision_scan_open(store_txn *txn, store_decision_fn fn, void *arg)
{
    gj_err err;
    struct decision_scan ds = {fn, arg};
    if ((err = txn_readable(txn)) != GJ_OK)
        return err;
    if (fn == NULL)
        return GJ_ERR_INVAL;
    return scan_db(txn, DB_DECISIONS_OPEN, NULL, 0, visit_open_decision, &ds);
}

uint64_t store_decision_open_count(store_txn *txn)
{
    return db_entries(txn, DB_DECISIONS_OPEN);
}

struct settlement_scan {
    store_settlement_fn fn;
    void *arg;
};

static gj_err visit_settlement(store_txn *t, const MDB_val *k, const MDB_val *v, void *ctx,
                               bool *more)
{
    struct settlement_scan *ss = ctx;
    store_settlement st;
    (void)t;
    gj_err err = settlement_decode(k, v, &st);
    if (err == GJ_OK)
        *more = ss->fn(&st, ss->arg);
    return err;
}

gj_err store_settlement_scan(store_txn *txn, store_settlement_fn fn, void *arg)
{
    gj_err err;
    struct settlement_scan ss = {fn, arg};
    if ((err = txn_readable(txn)) != GJ_OK)
        return err;
    if (fn == NULL)
        return GJ_ERR_INVAL;
    return scan_db(txn, DB_SETTLEMENTS, NULL, 0, visit_settlement, &ss);
}

/* ---- clearing and windows ---- */

static bool clearing_ok(const store_clearing *e)
{
    if (!gj_date_valid(e->window) || !admdvs_ok(e->counterparty) || !KEYFIELD_OK(e->setl_id) ||
        !KEYFIELD_OK(e->sponsor) || !KEYFIELD_OK(e->beneficiary) ||
        e->kind < STORE_CLR_PAYMENT || e->kind > STORE_CLR_REFUND ||
        e->direction < STORE_CLR_OWED_TO_US || e->direction > STORE_CLR_WE_OWE ||
        e->amount == 0 || e->amount > GJ_AMOUNT_MAX || e->amount < -GJ_AMOUNT_MAX)
        return false;
    /* A refund row reverses a payment: it alone is negative. */
    return (e->kind == STORE_CLR_REFUND) == (e->amount < 0);
}

/* Big-endian window (dates are positive, so bytes sort like numbers), the counterparty's
 * GJ_ADMDVS_LEN digits, setl_id, '\0' (keeps "S1" apart from "S10"), big-endian leg,
 * kind. counterparty must be exactly GJ_ADMDVS_LEN digits and setl_id valid. */
static size_t clearing_key(unsigned char *buf, int32_t window, const char *counterparty,
                           const char *setl_id, uint32_t leg, uint8_t kind)
{
    size_t n = strlen(setl_id);
    put_be32(buf, (uint32_t)window);
    memcpy(buf + 4, counterparty, GJ_ADMDVS_LEN);
    unsigned char *p = buf + 4 + GJ_ADMDVS_LEN;
    memcpy(p, setl_id, n);
    p += n;
    p[0] = '\0';
    put_be32(p + 1, leg);
    p[5] = kind;
    return 4 + GJ_ADMDVS_LEN + n + 6;
}

/* windows value: stored as is, like every record. Only closing ever writes one. */
struct window_rec {
    uint8_t state; /* store_window_state */
    int64_t closed_unix_ms;
};

/* A window's record; one never written reads as OPEN. window must be valid. */
static gj_err window_read(store_txn *t, int32_t window, struct window_rec *out)
{
    unsigned char key[4];
    put_be32(key, (uint32_t)window);
    gj_err err = get_rec(t, DB_WINDOWS, key, sizeof key, out, sizeof *out);
    if (err == GJ_ERR_NOTFOUND) {
        memset(out, 0, sizeof *out);
        out->state = STORE_WINDOW_OPEN;
        return GJ_OK;
    }
    if (err == GJ_OK && (out->state < STORE_WINDOW_OPEN || out->state > STORE_WINDOW_CLOSED ||
                         out->closed_unix_ms < 0)) {
        memset(out, 0, sizeof *out);
        return GJ_ERR_CORRUPT;
    }
    return err;
}

/* GJ_OK while window may still change; GJ_ERR_EXISTS once it is closed. */
static gj_err window_writable(store_txn *t, int32_t window)
{
    struct window_rec w;
    gj_err err = window_read(t, window, &w);
    if (err == GJ_OK && w.state == STORE_WINDOW_CLOSED)
        return GJ_ERR_EXISTS;
    return err;
}

gj_err store_clearing_put(store_txn *txn, const store_clearing *entry)
{
    gj_err err;
    unsigned char key[CLEARING_KEY_MAX];
    if ((err = txn_writable(txn)) != GJ_OK)
        return err;
    if (entry == NULL || !clearing_ok(entry))
        return GJ_ERR_INVAL;
    if ((err = window_writable(txn, entry->window)) != GJ_OK)
        return err;
    size_t klen = clearing_key(key, entry->window, entry->counterparty, entry->setl_id,
                               entry->leg, entry->kind);
    return put_rec(txn, DB_CLEARING, key, klen, entry, sizeof *entry, 0);
}

gj_err store_clearing_delete(store_txn *txn, int32_t window, const char *counterparty,
                             const char *setl_id, uint32_t leg, uint8_t kind)
{
    gj_err err;
    unsigned char key[CLEARING_KEY_MAX];
    if ((err = txn_writable(txn)) != GJ_OK)
        return err;
    if (!gj_date_valid(window) || !admdvs_ok(counterparty) || !key_ok(setl_id, GJ_SETL_ID_MAX) ||
        kind < STORE_CLR_PAYMENT || kind > STORE_CLR_REFUND)
        return GJ_ERR_INVAL;
    if ((err = window_writable(txn, window)) != GJ_OK)
        return err;
    return del_key(txn, DB_CLEARING, key, clearing_key(key, window, counterparty, setl_id, leg, kind));
}

struct clearing_scan {
    store_clearing_fn fn;
    void *arg;
};

/* A stored entry: valid and filed under its own key. */
static gj_err visit_clearing(store_txn *t, const MDB_val *k, const MDB_val *v, void *ctx,
                             bool *more)
{
    struct clearing_scan *cs = ctx;
    store_clearing e;
    unsigned char key[CLEARING_KEY_MAX];
    (void)t;
    if (v->mv_size != sizeof e)
        return GJ_ERR_CORRUPT;
    memcpy(&e, v->mv_data, sizeof e);
    if (!clearing_ok(&e) ||
        clearing_key(key, e.window, e.counterparty, e.setl_id, e.leg, e.kind) != k->mv_size ||
        memcmp(key, k->mv_data, k->mv_size) != 0)
        return GJ_ERR_CORRUPT;
    *more = cs->fn(&e, cs->arg);
    return GJ_OK;
}

gj_err store_clearing_scan(store_txn *txn, int32_t window, const char *counterparty,
                           store_clearing_fn fn, void *arg)
{
    gj_err err;
    unsigned char prefix[4 + GJ_ADMDVS_LEN];
    size_t plen = 4;
    struct clearing_scan cs = {fn, arg};
    if ((err = txn_readable(txn)) != GJ_OK)
        return err;
    if (!gj_date_valid(window) || counterparty == NULL || fn == NULL ||
        (counterparty[0] != '\0' && !admdvs_ok(counterparty)))
        return GJ_ERR_INVAL;
    put_be32(prefix, (uint32_t)window);
    if (counterparty[0] != '\0') {
        memcpy(prefix + 4, counterparty, GJ_ADMDVS_LEN);
        plen += GJ_ADMDVS_LEN;
    }
    return scan_db(txn, DB_CLEARING, prefix, plen, visit_clearing, &cs);
}

gj_err store_window_get(store_txn *txn, int32_t window, uint8_t *state, int64_t *closed_unix_ms)
{
    gj_err err;
    struct window_rec w;
    if ((err = txn_readable(txn)) != GJ_OK)
        return err;
    if (!gj_date_valid(window))
        return GJ_ERR_INVAL;
    if ((err = window_read(txn, window, &w)) != GJ_OK)
        return err;
    if (state != NULL)
        *state = w.state;
    if (closed_unix_ms != NULL)
        *closed_unix_ms = w.closed_unix_ms;
    return GJ_OK;
}

gj_err store_window_close(store_txn *txn, int32_t window, int64_t unix_ms)
{
    gj_err err;
    struct window_rec w;
    unsigned char key[4];
    if ((err = txn_writable(txn)) != GJ_OK)
        return err;
    if (!gj_date_valid(window) || unix_ms < 0)
        return GJ_ERR_INVAL;
    if ((err = window_read(txn, window, &w)) != GJ_OK)
        return err;
    if (w.state == STORE_WINDOW_CLOSED)
        return GJ_OK; /* closed once, when it first was */
    memset(&w, 0, sizeof w); /* no stray padding bytes on disk */
    w.state = STORE_WINDOW_CLOSED;
    w.closed_unix_ms = unix_ms;
    put_be32(key, (uint32_t)window);
    return put_rec(txn, DB_WINDOWS, key, sizeof key, &w, sizeof w, 0);
}

gj_err store_window_first_open(store_txn *txn, int32_t date, int32_t *window)
{
    gj_err err;
    struct window_rec w;
    if ((err = txn_readable(txn)) != GJ_OK)
        return err;
    if (!gj_date_valid(date) || window == NULL)
        return GJ_ERR_INVAL;
    *window = 0;
    for (int i = 0; i < WINDOW_SEARCH_DAYS; i++) {
        if ((err = window_read(txn, date, &w)) != GJ_OK)
            return err;
        if (w.state != STORE_WINDOW_CLOSED) {
            *window = date;
            return GJ_OK;
        }
        date = gj_date_next(date);
        if (!gj_date_valid(date))
            break; /* past 9999-12-31 */
    }
    return GJ_ERR_FULL;
}

void store_stats_get(store *s, store_stats *out)
{
    out->commits = atomic_load(&s->stat_commits);
    out->jobs = atomic_load(&s->stat_jobs);
    out->apply_us = atomic_load(&s->stat_apply_us);
    out->commit_us = atomic_load(&s->stat_commit_us);
}
