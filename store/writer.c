/* gongji store: the writer. One thread owns every write: callers queue work with
 * store_submit(), the writer runs a batch of it in one LMDB write transaction (group
 * commit), each job in its own child transaction, commits and fsyncs, and only then
 * hands each job's outcome to the completer thread, which runs the done callbacks in
 * commit order. Read transactions, pooled for reuse, live here too, as do the
 * counters of what the writer has done. */
#include "store_internal.h"

#include "gj_util.h"

#include <assert.h>
#include <stdlib.h>
#include <time.h>

struct waiter {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool finished;
    gj_err result;
};

static void free_copies(store_txn *t)
{
    while (t->copies != NULL) {
        struct idem_copy *c = t->copies;
        t->copies = c->next;
        free(c);
    }
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
        return st_map_err(rc);
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
    gj_err err = st_map_err(mdb_txn_begin(s->env, parent, 0, &t.txn));
    if (err != GJ_OK)
        return err;
    err = job->apply(&t, job->arg);
    if (err == GJ_OK)
        err = t.broken; /* apply ignored a failed write; its txn cannot commit */
    if (err == GJ_OK)
        err = st_map_err(mdb_txn_commit(t.txn));
    else
        mdb_txn_abort(t.txn);
    free_copies(&t);
    return err;
}

static void run_batch(store *s, unsigned n)
{
    MDB_txn *parent = NULL;
    assert(n > 0 && n <= s->batch_max);
    gj_err commit = st_map_err(mdb_txn_begin(s->env, NULL, 0, &parent));

    int64_t t0 = gj_mono_us();
    for (unsigned i = 0; i < n; i++)
        s->results[i] = commit == GJ_OK ? apply_one(s, parent, &s->batch[i]) : GJ_OK;
    int64_t t1 = gj_mono_us();
    if (commit == GJ_OK)
        commit = st_map_err(mdb_txn_commit(parent)); /* the fsync happens here */
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
            struct timespec until = gj_time_after_us(CLOCK_REALTIME, (int64_t)s->gather_us);
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
        if (!job->bulk)
            atomic_store(&s->other_submitted_ms, gj_mono_ms());
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

static gj_err submit_wait(store *s, store_apply_fn apply, void *arg, bool bulk)
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
    struct job job = {.apply = apply, .arg = arg, .wait = &w, .bulk = bulk};
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

gj_err store_submit_wait(store *s, store_apply_fn apply, void *arg)
{
    return submit_wait(s, apply, arg, false);
}

gj_err store_submit_wait_bulk(store *s, store_apply_fn apply, void *arg)
{
    return submit_wait(s, apply, arg, true);
}

int64_t store_ms_since_other_write(store *s)
{
    return gj_mono_ms() - atomic_load(&s->other_submitted_ms);
}

/* ---- start and stop ---- */

gj_err st_writer_start(store *s)
{
    if (pthread_mutex_init(&s->pool_mu, NULL) != 0)
        return GJ_ERR_NOMEM;
    s->pool_mu_ready = true;
    if (pthread_mutex_init(&s->mu, NULL) != 0)
        return GJ_ERR_NOMEM;
    s->mu_ready = true;
    if (pthread_cond_init(&s->work, NULL) != 0)
        return GJ_ERR_NOMEM;
    s->work_ready = true;
    if (pthread_mutex_init(&s->cmu, NULL) != 0)
        return GJ_ERR_NOMEM;
    s->cmu_ready = true;
    if (pthread_cond_init(&s->cwork, NULL) != 0 || pthread_cond_init(&s->cspace, NULL) != 0)
        return GJ_ERR_NOMEM;
    s->cwork_ready = true;
    if (pthread_create(&s->completer, NULL, completer_main, s) != 0)
        return GJ_ERR_NOMEM;
    s->completer_started = true;
    if (pthread_create(&s->writer, NULL, writer_main, s) != 0)
        return GJ_ERR_NOMEM;
    s->writer_started = true;
    return GJ_OK;
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

void st_writer_stop(store *s)
{
    if (s->writer_started) {
        pthread_mutex_lock(&s->mu);
        s->closing = true;
        pthread_cond_signal(&s->work);
        pthread_mutex_unlock(&s->mu);
        /* The writer drains what is queued, then exits. */
        pthread_join(s->writer, NULL);
    }
    stop_completer(s);
}

void store_stats_get(store *s, store_stats *out)
{
    out->commits = atomic_load(&s->stat_commits);
    out->jobs = atomic_load(&s->stat_jobs);
    out->apply_us = atomic_load(&s->stat_apply_us);
    out->commit_us = atomic_load(&s->stat_commit_us);
    pthread_mutex_lock(&s->mu);
    out->queued = s->len;
    pthread_mutex_unlock(&s->mu);
    MDB_envinfo info;
    MDB_stat st;
    out->map_used = out->map_size = 0;
    if (mdb_env_info(s->env, &info) == 0 && mdb_env_stat(s->env, &st) == 0) {
        out->map_used = ((uint64_t)info.me_last_pgno + 1) * st.ms_psize;
        out->map_size = info.me_mapsize;
    }
}
