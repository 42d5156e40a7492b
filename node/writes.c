/* Idempotent writes (docs/store.md): a write with a call id runs once; a repeat gets the
 * first answer again, a different request under the same id is refused. The write to
 * run is named by whoever starts it: the method's apply on the fast path, a slow path's
 * own step otherwise. */
#include "node.h"
#include "xr/deciding.h"
#include "log.h"
#include "ops.h"
#include "routing.h"
#include "gj_util.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>


/* A write on its way to the store writer: the call, the step to run, and (for one
 * started and finished in two steps) who waits for it. */
typedef struct write_job {
    call *c;
    call_apply_fn apply;
    call_write *w;
} write_job;

/* Run apply and pack its answer; GJ_ERR_ABORT when apply refused (c->reason says why). */
static gj_err apply_and_reply(call *c, call_apply_fn apply, store_txn *txn)
{
    c->reason = GJ_R_NONE;
    gj_reason reason = apply(c, txn);
    if (reason != GJ_R_NONE) {
        c->reason = reason;
        return GJ_ERR_ABORT;
    }
    if (!call_build_reply(c)) {
        c->reason = gj_reason_of_err(GJ_ERR_NOMEM);
        return GJ_ERR_NOMEM;
    }
    return GJ_OK;
}

/* Whether the first answer's digest is this request's. A first answer carried over from
 * a format-6 store holds that format's hash of the request's bytes instead
 * (store_digest_legacy): a retry is the same request when those bytes hash the same. */
static bool same_request(const call *c, const store_digest *first)
{
    uint64_t legacy;
    if (!store_digest_legacy(first, &legacy))
        return store_digest_equal(first, &c->request_digest);
    uint64_t h = 14695981039346656037ULL;
    const unsigned char *name = (const unsigned char *)c->method->name;
    for (size_t i = 0; i <= strlen(c->method->name); i++) /* its NUL too */
        h = (h ^ name[i]) * 1099511628211ULL;
    for (size_t i = 0; i < c->env->payload.len; i++)
        h = (h ^ c->env->payload.data[i]) * 1099511628211ULL;
    return (h == 1 ? 2 : h) == legacy;
}

static gj_err write_apply(store_txn *txn, void *arg)
{
    const write_job *job = arg;
    call *c = job->c;
    if (c->method->natural_key) {
        gj_reason reason = job->apply(c, txn);
        c->reason = reason;
        if (reason != GJ_R_NONE)
            return GJ_ERR_ABORT;
        return call_build_reply(c) ? GJ_OK : GJ_ERR_NOMEM;
    }
    const char *caller = c->env->caller_id;
    const char *call_id = c->env->call_id;
    store_digest first_digest;
    const void *first_reply;
    size_t first_len;
    gj_err err = store_idem_get(txn, caller, call_id, &first_digest, &first_reply, &first_len);
    if (err == GJ_OK) {
        if (store_digest_equal(&first_digest, &store_tombstone)) {
            call_fail(c, GJ_R_CALL_REVERSED, "call id %s was reversed before it took effect", call_id);
            return GJ_ERR_ABORT;
        }
        if (!same_request(c, &first_digest)) {
            call_fail(c, GJ_R_CALL_ID_REUSED, "call id %s was first used for another request",
                      call_id);
            return GJ_ERR_ABORT;
        }
        if (deciding_has_other_call(c->n, caller, call_id, c->deciding_setl_id)) {
            /* The first copy wrote its answer before its sponsor's hold came back: that
             * answer may still change. */
            call_fail(c, GJ_R_SETTLEMENT_IN_FLIGHT, "call id %s is still being decided", call_id);
            return GJ_ERR_ABORT;
        }
        /* A repeat: answer exactly as the first time; nothing moves. */
        uint8_t *copy = malloc(first_len ? first_len : 1);
        if (copy == NULL) {
            c->reason = gj_reason_of_err(GJ_ERR_NOMEM);
            return GJ_ERR_NOMEM;
        }
        memcpy(copy, first_reply, first_len);
        c->reply_bytes = copy;
        c->reply_len = first_len;
        c->reply_owned = true;
        return GJ_OK;
    }
    if (err != GJ_ERR_NOTFOUND) {
        c->reason = gj_reason_of_err(err);
        return err;
    }
    if ((err = apply_and_reply(c, job->apply, txn)) != GJ_OK)
        return err;
    err = store_idem_put(txn, caller, call_id, &c->request_digest, c->reply_bytes, c->reply_len);
    if (err != GJ_OK) {
        c->reason = gj_reason_of_err(err);
        return err;
    }
    return GJ_OK;
}

static void write_done(void *arg, gj_err result)
{
    call *c = ((write_job *)arg)->c;
    if (result == GJ_OK) {
        call_finish(c);
        return;
    }
    gj_reason reason = c->reason;
    if (result != GJ_ERR_ABORT || reason == GJ_R_NONE) {
        /* The batch did not commit: whatever apply built is void. */
        reason = gj_reason_of_err(result);
        if (result == GJ_ERR_DISK_FULL)
            ops_log_disk_full(c->n);
        else
            gj_log(GJ_LOG_ERROR, "store", "commit failed: %s", gj_err_name(result));
        c->message[0] = '\0';
    }
    call_finish_error(c, reason);
}

/* What call_write_wait does with the outcome of a write. */
static gj_err write_outcome(call *c, gj_err result)
{
    if (result != GJ_OK && (result != GJ_ERR_ABORT || c->reason == GJ_R_NONE)) {
        c->reason = gj_reason_of_err(result);
        c->message[0] = '\0';
    }
    if (result != GJ_OK) {
        /* Whatever apply built is void: the batch did not commit. */
        if (c->reply_owned)
            free(c->reply_bytes);
        c->reply_bytes = NULL;
        c->reply_owned = false;
    }
    return result;
}

static void started_done(void *arg, gj_err result)
{
    call_write *w = ((write_job *)arg)->w;
    pthread_mutex_lock(&w->mu);
    w->result = result;
    w->done = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

gj_err call_write_start(call *c, call_apply_fn apply, call_write *w)
{
    write_job *job = call_alloc(c, sizeof *job);
    if (job == NULL)
        return GJ_ERR_NOMEM;
    *job = (write_job){c, apply, w};
    w->done = false;
    w->result = GJ_OK;
    if (pthread_mutex_init(&w->mu, NULL) != 0)
        return GJ_ERR_NOMEM;
    if (pthread_cond_init(&w->cv, NULL) != 0) {
        pthread_mutex_destroy(&w->mu);
        return GJ_ERR_NOMEM;
    }
    gj_err err = store_submit(c->n->store, write_apply, started_done, job);
    if (err != GJ_OK) {
        pthread_cond_destroy(&w->cv);
        pthread_mutex_destroy(&w->mu);
    }
    return err;
}

gj_err call_write_finish(call *c, call_write *w)
{
    pthread_mutex_lock(&w->mu);
    while (!w->done)
        pthread_cond_wait(&w->cv, &w->mu);
    gj_err result = w->result;
    pthread_mutex_unlock(&w->mu);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    return write_outcome(c, result);
}

static gj_err rewrite_apply(store_txn *txn, void *arg)
{
    const write_job *job = arg;
    call *c = job->c;
    gj_err err = apply_and_reply(c, job->apply, txn);
    if (err != GJ_OK)
        return err;
    err = store_idem_replace(txn, c->env->caller_id, c->env->call_id, &c->request_digest, c->reply_bytes,
                             c->reply_len);
    if (err != GJ_OK)
        c->reason = gj_reason_of_err(err);
    return err;
}

gj_err call_rewrite_wait(call *c, call_apply_fn apply)
{
    write_job job = {c, apply, NULL};
    return write_outcome(c, store_submit_wait(c->n->store, rewrite_apply, &job));
}

gj_err call_write_wait(call *c, call_apply_fn apply)
{
    write_job job = {c, apply, NULL};
    return write_outcome(c, store_submit_wait(c->n->store, write_apply, &job));
}

gj_err call_write_submit(call *c)
{
    write_job *job = call_alloc(c, sizeof *job);
    if (job == NULL)
        return GJ_ERR_NOMEM;
    *job = (write_job){c, c->method->apply, NULL};
    return store_submit(c->n->store, write_apply, write_done, job);
}

/* Another copy of this call (the same caller and call id, sent twice or through two
 * nodes) is being decided by another worker, after writing its answer before its
 * sponsor's hold came back: wait for it, within this call's own time. */
void call_await_other_copy(call *c)
{
    int64_t until = gj_mono_ms() + route_peer_budget_ms(c);
    while (deciding_has_other_call(c->n, c->env->caller_id, c->env->call_id, c->deciding_setl_id) &&
           gj_mono_ms() < until) {
        struct timespec pause = {0, 2 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
}

/* A repeat of an answered write: answer it again (true), or refuse a reused id. */
bool call_replay_if_answered(call *c)
{
    store_txn *txn;
    call_await_other_copy(c);
    store_digest digest;
    const void *reply;
    size_t len;
    /* Whether a copy is still being decided is asked before the answer on record is
     * read: a correction commits before its settlement leaves the deciding set, so an
     * answer read after "not deciding" is the final one. Asked after the read, a
     * correction could land in between and the first guess go out (found by the model,
     * tests/model). */
    bool in_flight = deciding_has_call(c->n, c->env->caller_id, c->env->call_id);
    if (store_read_begin(c->n->store, &txn) != GJ_OK)
        return false;
    bool done = false;
    if (store_idem_get(txn, c->env->caller_id, c->env->call_id, &digest, &reply, &len) == GJ_OK) {
        if (store_digest_equal(&digest, &store_tombstone)) {
            call_fail(c, GJ_R_CALL_REVERSED, "call id %s was reversed before it took effect",
                      c->env->call_id);
        } else if (!same_request(c, &digest)) {
            call_fail(c, GJ_R_CALL_ID_REUSED, "call id %s was first used for another request",
                      c->env->call_id);
        } else if (in_flight) {
            /* Answered on record, but written before its sponsor's hold came back (or a
             * crash left that unknown): the answer may still change. */
            call_fail(c, GJ_R_SETTLEMENT_IN_FLIGHT, "call id %s is still being decided", c->env->call_id);
        } else if ((c->reply_bytes = malloc(len ? len : 1)) != NULL) {
            memcpy(c->reply_bytes, reply, len);
            c->reply_len = len;
            c->reply_owned = true;
        } else {
            c->reason = gj_reason_of_err(GJ_ERR_NOMEM);
        }
        done = true;
    }
    store_read_end(txn);
    return done;
}
