/* The resolver: the part of cross-region settlement that outlives a request.
 *
 * As coordinator it re-sends every post and void of a decision until the participant
 * acknowledges it, and records the acknowledgements; as participant it asks the
 * coordinator about holds left HELD too long and posts or voids them as told. It runs
 * at start (finishing what a crash interrupted) and then every resolve_interval_ms. */
#include "gj_util.h"
#include "log.h"
#include "ops.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define RESOLVER_BATCH 32

typedef struct ack_job {
    size_t count;
    const struct pending_ack *acks;
} ack_job;

/* Record acknowledged legs on their stored decisions (absent for an undecided plan's
 * voids, which are sent once and never stored). A leg is marked only while it still
 * asks what was acknowledged: a revoke since then turned a post into a refund, which
 * still has to go. */
static gj_err ack_apply(store_txn *txn, void *arg)
{
    const ack_job *job = arg;
    for (size_t i = 0; i < job->count; i++) {
        const struct pending_ack *ack = &job->acks[i];
        store_decision d;
        gj_err err = store_decision_get(txn, ack->setl_id, &d);
        if (err == GJ_ERR_NOTFOUND)
            continue;
        if (err != GJ_OK)
            return err;
        bool changed = false;
        for (uint32_t k = 0; k < d.leg_count; k++)
            if (d.legs[k].leg == ack->leg && d.legs[k].action == ack->action && !d.legs[k].acked) {
                d.legs[k].acked = 1;
                changed = true;
            }
        if (changed && (err = store_decision_put(txn, &d)) != GJ_OK)
            return err;
    }
    return GJ_OK;
}

/* Acknowledgements are written together, not one commit each: they only spare the
 * participant a repeated post or void (which it answers the same), so one lost in a
 * crash costs a message, never money, and writing each on its own took half of the
 * coordinator's write requests. */
static void write_acks(node *n, const struct pending_ack *acks, size_t count)
{
    if (count == 0)
        return;
    ack_job job = {.count = count, .acks = acks};
    gj_err err = store_submit_wait(n->store, ack_apply, &job);
    if (err != GJ_OK)
        gj_log(GJ_LOG_ERROR, "resolve", "cannot record %zu acknowledgements: %s (they are re-sent)",
               count, gj_err_name(err));
}

void resolver_write_acks(node *n)
{
    struct pending_ack taken[GJ_ACKS_PER_WRITE];
    pthread_mutex_lock(&n->acks_mu);
    size_t count = n->ack_count;
    memcpy(taken, n->acks, count * sizeof *taken);
    n->ack_count = 0;
    pthread_mutex_unlock(&n->acks_mu);
    write_acks(n, taken, count);
}

static void note_ack(node *n, const char *setl_id, uint32_t leg, uint8_t action)
{
    struct pending_ack full[GJ_ACKS_PER_WRITE];
    size_t to_write = 0;
    pthread_mutex_lock(&n->acks_mu);
    struct pending_ack *ack = &n->acks[n->ack_count++];
    gj_strcpy_fit(ack->setl_id, sizeof ack->setl_id, setl_id);
    ack->leg = leg;
    ack->action = action;
    if (n->ack_count == GJ_ACKS_PER_WRITE) {
        memcpy(full, n->acks, sizeof full);
        to_write = n->ack_count;
        n->ack_count = 0;
    }
    pthread_mutex_unlock(&n->acks_mu);
    write_acks(n, full, to_write);
}

/* Regions that did not answer during one resolver round: the rest of their legs wait
 * for the next round instead of each waiting out its own timeout. */
typedef struct down_regions {
    size_t count;
    char region[RESOLVER_BATCH][GJ_ADMDVS_LEN + 1];
} down_regions;

static bool region_is_down(const down_regions *down, const char *region)
{
    for (size_t i = 0; down != NULL && i < down->count; i++)
        if (strcmp(down->region[i], region) == 0)
            return true;
    return false;
}

static void push_decision(node *n, const store_decision *d, down_regions *down);

void resolver_push_decision(node *n, const store_decision *d)
{
    push_decision(n, d, NULL);
}

static void push_decision(node *n, const store_decision *d, down_regions *down)
{
    /* A leg decided before its hold answered may have been corrected since d was read
     * (a round's snapshot): once the settlement is no longer being decided, its
     * correction, if any, is on record (the worker lets go of it only after), so send
     * what the record says now, never the first guess. */
    store_decision now;
    bool guessed = false;
    for (uint32_t k = 0; k < d->leg_count; k++)
        guessed |= d->legs[k].speculative && !d->legs[k].acked;
    if (guessed && !node_deciding_has(n, d->setl_id)) {
        store_txn *txn;
        if (store_read_begin(n->store, &txn) != GJ_OK)
            return; /* the next round tries again */
        gj_err err = store_decision_get(txn, d->setl_id, &now);
        store_read_end(txn);
        if (err != GJ_OK)
            return;
        d = &now;
    }
    for (uint32_t k = 0; k < d->leg_count; k++) {
        if (d->legs[k].acked)
            continue;
        /* A leg decided before its hold answered: while its worker still waits for that
         * answer, the worker sends the post; once nobody here knows what the hold came
         * to (a crash, a failed correction), the sponsor's node says, by posting what it
         * holds, and the decision is corrected to that. */
        if (region_is_down(down, d->legs[k].admdvs))
            continue;
        bool up_to = false;
        if (d->legs[k].speculative && node_deciding_has(n, d->setl_id)) {
            if (!node_deciding_is_unknown(n, d->setl_id))
                continue;
            up_to = true;
        }
        Gongji__V1__ResolveRequest req = GONGJI__V1__RESOLVE_REQUEST__INIT;
        req.up_to = up_to;
        req.setl_id = (char *)d->setl_id;
        req.leg = d->legs[k].leg;
        req.action = d->legs[k].action == STORE_LEG_POST   ? GONGJI__V1__LEG_ACTION__POST
                     : d->legs[k].action == STORE_LEG_VOID ? GONGJI__V1__LEG_ACTION__VOID
                                                           : GONGJI__V1__LEG_ACTION__REFUND_LEG;
        req.amount = d->legs[k].amount;
        req.post_window = d->post_window;
        req.refund_window = d->refund_window;
        req.sponsor_psn_no = (char *)d->legs[k].sponsor;
        req.beneficiary_psn_no = (char *)d->beneficiary;
        char call_id[GJ_CALL_ID_MAX + 1];
        snprintf(call_id, sizeof call_id, "%.40s/%u/%d", d->setl_id, d->legs[k].leg, req.action);
        ProtobufCMessage *answer = NULL;
        char detail[256];
        gj_reason r = peers_call(&n->peers, n->cfg.region, d->legs[k].admdvs, "gongji.v1.Peer/Resolve",
                                 call_id, &req.base, &gongji__v1__resolve_reply__descriptor,
                                 (int)n->cfg.peer_timeout_ms, &answer, detail, sizeof detail);
        int64_t moved = answer ? ((Gongji__V1__ResolveReply *)answer)->amount : 0;
        if (answer)
            protobuf_c_message_free_unpacked(answer, NULL);
        if (r == GJ_R_NONE && up_to) {
            settle_fix fix = {.leg = d->legs[k].leg, .amount = moved, .acked = true};
            memcpy(fix.setl_id, d->setl_id, sizeof fix.setl_id);
            if (fed_settle_fix(n, &fix) == GJ_R_NONE) {
                node_deciding_remove(n, d->setl_id); /* known now: replays may answer */
                gj_log(GJ_LOG_INFO, "resolve", "setl_id=%s leg=%u decided before its hold answered: %" PRId64
                       " of %" PRId64 " posted", d->setl_id, d->legs[k].leg, moved, d->legs[k].amount);
            }
        } else if (r == GJ_R_NONE) {
            note_ack(n, d->setl_id, d->legs[k].leg, d->legs[k].action);
        } else {
            if (down != NULL && down->count < RESOLVER_BATCH &&
                (r == GJ_R_REGION_UNREACHABLE || r == GJ_R_DEADLINE_PASSED))
                gj_strcpy_fit(down->region[down->count++], sizeof down->region[0], d->legs[k].admdvs);
            /* A conflict means the two sides disagree about money: loud, and kept open
             * so the audit shows it. Unreachable peers are simply tried again later. */
            gj_log(r == GJ_R_HOLD_CONFLICT || r == GJ_R_HOLD_NOT_FOUND ? GJ_LOG_ERROR : GJ_LOG_DEBUG,
                   "resolve", "setl_id=%s leg=%u region=%s action=%d: %s %s", d->setl_id,
                   d->legs[k].leg, d->legs[k].admdvs, d->legs[k].action, gj_reason_name(r), detail);
        }
    }
}

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
    fed_resolve_args args;
    gj_reason reason;
    char detail[256];
} participant_job;

static gj_err participant_apply(store_txn *txn, void *arg)
{
    participant_job *job = arg;
    int64_t resolved;
    job->reason = fed_participant_resolve(txn, &job->args, node_today(job->n), &resolved, job->detail,
                                          sizeof job->detail);
    return job->reason == GJ_R_NONE ? GJ_OK : GJ_ERR_ABORT;
}

/* A hold nobody has resolved: ask its coordinator what was decided. */
static void ask_about_hold(node *n, const store_hold *h)
{
    Gongji__V1__QueryDecisionRequest req = GONGJI__V1__QUERY_DECISION_REQUEST__INIT;
    req.setl_id = (char *)h->setl_id;
    req.leg = h->leg;
    char call_id[GJ_CALL_ID_MAX + 1];
    snprintf(call_id, sizeof call_id, "%.40s/%u/q", h->setl_id, h->leg);
    ProtobufCMessage *answer = NULL;
    gj_reason r = peers_call(&n->peers, n->cfg.region, h->coordinator, "gongji.v1.Peer/QueryDecision",
                             call_id, &req.base, &gongji__v1__query_decision_reply__descriptor,
                             (int)n->cfg.peer_timeout_ms, &answer, NULL, 0);
    if (r != GJ_R_NONE)
        return; /* the coordinator is away: the money stays held, never lost */
    Gongji__V1__QueryDecisionReply *qr = (Gongji__V1__QueryDecisionReply *)answer;
    participant_job job = {.n = n,
                           .args = {.coordinator = h->coordinator, .setl_id = h->setl_id, .leg = h->leg,
                                    .action = (int)qr->action, .amount = qr->amount,
                                    .sponsor = h->sponsor, .beneficiary = h->beneficiary,
                                    .post_window = qr->post_window, .refund_window = qr->refund_window}};
    protobuf_c_message_free_unpacked(answer, NULL);
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
    resolver_write_acks(n);
    decisions.count = 0;
    if (store_read_begin(n->store, &txn) == GJ_OK) {
        store_decision_scan_open_after(txn, decisions_after, collect_decision, &decisions);
        store_read_end(txn);
    }
    if (decisions.count == RESOLVER_BATCH)
        memcpy(decisions_after, decisions.items[decisions.count - 1].setl_id, sizeof decisions_after);
    else
        decisions_after[0] = '\0'; /* reached the end: from the first next time */
    down_regions down = {0};
    for (size_t i = 0; i < decisions.count && !n->resolver_stop; i++)
        push_decision(n, &decisions.items[i], &down);

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
    for (size_t i = 0; i < holds.count && !n->resolver_stop; i++)
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
            node_deciding_mark_unknown(us->n, d->setl_id, s.caller_id, s.call_id))
            us->tracked++;
        break;
    }
    return true;
}

int resolver_track_unknown(node *n)
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

static void *resolver_main(void *arg)
{
    node *n = arg;
    pthread_mutex_lock(&n->resolver_mu);
    while (!n->resolver_stop) {
        pthread_mutex_unlock(&n->resolver_mu);
        resolve_round(n);
        pthread_mutex_lock(&n->resolver_mu);
        if (n->resolver_stop)
            break;
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        long long ns = until.tv_nsec + (long long)n->cfg.resolve_interval_ms * 1000000LL;
        until.tv_sec += (time_t)(ns / 1000000000LL);
        until.tv_nsec = (long)(ns % 1000000000LL);
        pthread_cond_timedwait(&n->resolver_cv, &n->resolver_mu, &until);
    }
    pthread_mutex_unlock(&n->resolver_mu);
    resolver_write_acks(n);
    return NULL;
}

int resolver_start(node *n)
{
    pthread_mutex_init(&n->resolver_mu, NULL);
    pthread_cond_init(&n->resolver_cv, NULL);
    n->resolver_stop = false;
    if (pthread_create(&n->resolver, NULL, resolver_main, n) != 0)
        return -1;
    n->resolver_running = true;
    return 0;
}

void resolver_wake(node *n)
{
    pthread_mutex_lock(&n->resolver_mu);
    pthread_cond_signal(&n->resolver_cv);
    pthread_mutex_unlock(&n->resolver_mu);
}

void resolver_stop(node *n)
{
    if (!n->resolver_running)
        return;
    pthread_mutex_lock(&n->resolver_mu);
    n->resolver_stop = true;
    pthread_cond_signal(&n->resolver_cv);
    pthread_mutex_unlock(&n->resolver_mu);
    pthread_join(n->resolver, NULL);
    n->resolver_running = false;
}
