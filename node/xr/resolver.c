/* The resolver: the part of cross-region settlement that outlives a request.
 *
 * As coordinator it re-sends every post and void of a decision until the participant
 * acknowledges it, and records the acknowledgements; as participant it asks the
 * coordinator about holds left HELD too long and posts or voids them as told. It runs
 * at start (finishing what a crash interrupted) and then every resolve_interval_ms. */
#include "xr_internal.h"
#include "gj_util.h"
#include "log.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define RESOLVER_BATCH GJ_RESOLVER_BATCH

typedef struct decision_batch {
    size_t count;
    store_decision items[RESOLVER_BATCH];
} decision_batch;

static bool collect_decision(const store_decision *d, void *arg)
{
    decision_batch *b = arg;
    b->items[b->count++] = *d;
    return b->count < RESOLVER_BATCH;
}

typedef struct hold_batch {
    int64_t older_than;
    size_t count;
    store_hold items[RESOLVER_BATCH];
} hold_batch;

static bool collect_hold(const store_hold *h, void *arg)
{
    hold_batch *b = arg;
    if (h->created_unix_ms <= b->older_than)
        b->items[b->count++] = *h;
    return b->count < RESOLVER_BATCH;
}

typedef struct participant_job {
    node *n;
    xr_resolve_args args;
    gj_reason reason;
    char detail[256];
} participant_job;

static gj_err participant_apply(store_txn *txn, void *arg)
{
    participant_job *job = arg;
    int64_t resolved;
    job->reason = xr_participant_resolve(txn, &job->args, node_today(job->n), &resolved, job->detail,
                                          sizeof job->detail);
    return job->reason == GJ_R_NONE ? GJ_OK : GJ_ERR_ABORT;
}

/* A hold nobody has resolved: ask its coordinator what was decided. */
static void ask_about_hold(node *n, const store_hold *h)
{
    int action = 0;
    int64_t amount = 0;
    int32_t post_window = 0, refund_window = 0;
    if (xr_port_query_decision(n, h, (int)n->cfg.peer_timeout_ms, &action, &amount, &post_window,
                               &refund_window) != GJ_R_NONE)
        return; /* the coordinator is away: the money stays held, never lost */
    participant_job job = {.n = n,
                           .args = {.coordinator = h->coordinator, .setl_id = h->setl_id, .leg = h->leg,
                                    .action = action, .amount = amount, .sponsor = h->sponsor,
                                    .beneficiary = h->beneficiary, .post_window = post_window,
                                    .refund_window = refund_window}};
    if (job.args.action == GONGJI__V1__LEG_ACTION__LEG_ACTION_UNSPECIFIED)
        return; /* still being decided */
    gj_err err = store_submit_wait(n->store, participant_apply, &job);
    gj_log(err == GJ_OK ? GJ_LOG_INFO : GJ_LOG_ERROR, "resolve",
           "setl_id=%s leg=%u asked region %s: %s -> %s %s", h->setl_id, h->leg, h->coordinator,
           job.args.action == GONGJI__V1__LEG_ACTION__POST   ? "post"
           : job.args.action == GONGJI__V1__LEG_ACTION__VOID ? "void"
                                                             : "refund",
           err == GJ_OK ? "done" : gj_reason_name(job.reason), job.detail);
}

/* Each round takes up to RESOLVER_BATCH open decisions and stale holds, going on from
 * where the last round stopped and starting over past the end, and tries a region that
 * does not answer once per round: when a region is down, what waits for it never keeps
 * the rest waiting behind it. */
static void resolve_round(node *n)
{
    static decision_batch decisions;  /* only the resolver thread uses these */
    static hold_batch holds;
    static char decisions_after[GJ_SETL_ID_MAX + 1], holds_after[GJ_SETL_ID_MAX + 1];
    static uint32_t holds_after_leg;
    store_txn *txn;
    /* Acknowledged legs are on record first, so the scan does not send them again. */
    xr_write_acks(n);
    decisions.count = 0;
    if (store_read_begin(n->store, &txn) == GJ_OK) {
        store_decision_scan_open_after(txn, decisions_after, collect_decision, &decisions);
        store_read_end(txn);
    }
    if (decisions.count == RESOLVER_BATCH)
        memcpy(decisions_after, decisions.items[decisions.count - 1].setl_id, sizeof decisions_after);
    else
        decisions_after[0] = '\0'; /* reached the end: from the first next time */
    xr_down_regions down = {0};
    for (size_t i = 0; i < decisions.count && !n->xr->resolver_stop; i++)
        xr_push_decision(n, &decisions.items[i], &down);

    holds.count = 0;
    holds.older_than = gj_now_unix_ms() - n->cfg.resolve_after_ms;
    if (store_read_begin(n->store, &txn) == GJ_OK) {
        store_hold_scan_open_after(txn, holds_after, holds_after_leg, collect_hold, &holds);
        store_read_end(txn);
    }
    if (holds.count == RESOLVER_BATCH) {
        memcpy(holds_after, holds.items[holds.count - 1].setl_id, sizeof holds_after);
        holds_after_leg = holds.items[holds.count - 1].leg;
    } else {
        holds_after[0] = '\0';
    }
    for (size_t i = 0; i < holds.count && !n->xr->resolver_stop; i++)
        ask_about_hold(n, &holds.items[i]);
}

typedef struct unknown_scan {
    store_txn *txn;
    node *n;
    size_t found, tracked;
} unknown_scan;

static bool track_unknown(const store_decision *d, void *arg)
{
    unknown_scan *us = arg;
    for (uint32_t k = 0; k < d->leg_count; k++) {
        if (!d->legs[k].speculative || d->legs[k].acked)
            continue;
        store_settlement s;
        us->found++;
        if (store_settlement_get(us->txn, d->setl_id, &s) == GJ_OK &&
            deciding_mark_unknown(us->n, d->setl_id, s.caller_id, s.call_id))
            us->tracked++;
        break;
    }
    return true;
}

int xr_track_unknown(node *n)
{
    store_txn *txn;
    if (store_read_begin(n->store, &txn) != GJ_OK)
        return -1;
    unknown_scan us = {.txn = txn, .n = n};
    gj_err err = store_decision_scan_open(txn, track_unknown, &us);
    store_read_end(txn);
    if (err != GJ_OK || us.tracked != us.found) {
        gj_log(GJ_LOG_ERROR, "start", "cannot track %zu settlements decided before their holds answered "
               "(%zu tracked): %s", us.found, us.tracked, gj_err_name(err));
        return -1;
    }
    if (us.found > 0)
        gj_log(GJ_LOG_INFO, "start", "%zu settlements were decided before their holds answered; "
               "asking their sponsors' nodes", us.found);
    return 0;
}

/* First answers older than the retention go, a bounded number per round and each batch
 * its own write, so the writer serves settlements in between. */
#define PRUNE_BATCH 1000
#define PRUNE_BATCHES_PER_ROUND 8

typedef struct prune_job {
    int64_t before_ms;
    size_t pruned;
} prune_job;

static gj_err prune_apply(store_txn *txn, void *arg)
{
    prune_job *job = arg;
    return store_idem_prune(txn, job->before_ms, PRUNE_BATCH, &job->pruned);
}

static void prune_idempotency(node *n)
{
    if (n->cfg.idempotency_retention_days == 0)
        return;
    prune_job job = {.before_ms = gj_now_unix_ms() - (int64_t)n->cfg.idempotency_retention_days * 86400000LL};
    size_t total = 0;
    for (int b = 0; b < PRUNE_BATCHES_PER_ROUND && !atomic_load(&n->shutting_down); b++) {
        job.pruned = 0;
        /* Housekeeping, like a credit file's slice: it does not make the node busy. */
        if (store_submit_wait_bulk(n->store, prune_apply, &job) != GJ_OK)
            break;
        total += job.pruned;
        if (job.pruned < PRUNE_BATCH)
            break;
    }
    if (total > 0)
        gj_log(GJ_LOG_DEBUG, "store", "pruned %zu first answers older than %u days", total,
               n->cfg.idempotency_retention_days);
}

#define CLEARING_CLOSES_PER_ROUND 31

typedef struct close_job {
    int32_t window;
} close_job;

static gj_err close_apply(store_txn *txn, void *arg)
{
    return store_window_close(txn, ((close_job *)arg)->window, gj_now_unix_ms());
}

/* R16: clearing windows close by themselves clearing_close_after_days after their day
 * (a few a round), as an operator's CloseWindow would; late rows go to the next open. */
static void clearing_auto_close(node *n)
{
    unsigned days = n->cfg.clearing_close_after_days;
    if (days == 0)
        return;
    int32_t cutoff = gj_cst_date_of(gj_cst_unix_ms_of(node_today(n), 0) - (int64_t)days * 86400000LL);
    for (int i = 0; i < CLEARING_CLOSES_PER_ROUND && !atomic_load(&n->shutting_down); i++) {
        store_txn *txn;
        close_job job;
        if (store_read_begin(n->store, &txn) != GJ_OK)
            return;
        gj_err err = store_window_first_unclosed(txn, cutoff, &job.window);
        store_read_end(txn);
        if (err != GJ_OK || store_submit_wait(n->store, close_apply, &job) != GJ_OK)
            return;
        gj_log(GJ_LOG_INFO, "clearing", "window %d closed automatically (%u days after its day)", job.window, days);
    }
}

static void *resolver_main(void *arg)
{
    node *n = arg;
    pthread_mutex_lock(&n->xr->resolver_mu);
    while (!n->xr->resolver_stop) {
        pthread_mutex_unlock(&n->xr->resolver_mu);
        resolve_round(n);
        wallets_return_due(n); /* R24: transfers not accepted in time go back */
        prune_idempotency(n);
        clearing_auto_close(n);
        atomic_store(&n->recovered, true); /* what a previous run left has been looked at */
        pthread_mutex_lock(&n->xr->resolver_mu);
        if (n->xr->resolver_stop)
            break;
        struct timespec until = gj_time_after_us(CLOCK_REALTIME, (int64_t)n->cfg.resolve_interval_ms * 1000);
        pthread_cond_timedwait(&n->xr->resolver_cv, &n->xr->resolver_mu, &until);
    }
    pthread_mutex_unlock(&n->xr->resolver_mu);
    xr_write_acks(n);
    return NULL;
}

int xr_resolver_start(node *n)
{
    n->xr->resolver_stop = false;
    if (pthread_create(&n->xr->resolver, NULL, resolver_main, n) != 0)
        return -1;
    n->xr->resolver_running = true;
    return 0;
}

void xr_resolver_stop(node *n)
{
    if (!n->xr->resolver_running)
        return;
    pthread_mutex_lock(&n->xr->resolver_mu);
    n->xr->resolver_stop = true;
    pthread_cond_signal(&n->xr->resolver_cv);
    pthread_mutex_unlock(&n->xr->resolver_mu);
    pthread_join(n->xr->resolver, NULL);
    n->xr->resolver_running = false;
}
