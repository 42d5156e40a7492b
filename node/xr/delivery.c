/* Delivery: a decision reaches its participants. Right after the answer the worker
 * pushes it; the resolver pushes again whatever is unacknowledged, every round and
 * across restarts; a participant that never hears asks (Peer/QueryDecision) and, with
 * no decision on record, is told to void (presumed abort). Acknowledgements are
 * gathered and written together. */
#include "xr_internal.h"
#include "gj_util.h"
#include "log.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct ack_job {
    size_t count;
    const xr_pending_ack *acks;
} ack_job;

/* Record acknowledged legs on their stored decisions (absent for an undecided plan's
 * voids, which are sent once and never stored). A leg is marked only while it still
 * asks what was acknowledged: a revoke since then turned a post into a refund, which
 * still has to go. */
static gj_err ack_apply(store_txn *txn, void *arg)
{
    const ack_job *job = arg;
    for (size_t i = 0; i < job->count; i++) {
        const xr_pending_ack *ack = &job->acks[i];
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
static void write_acks(node *n, const xr_pending_ack *acks, size_t count)
{
    if (count == 0)
        return;
    ack_job job = {.count = count, .acks = acks};
    gj_err err = store_submit_wait(n->store, ack_apply, &job);
    if (err != GJ_OK)
        gj_log(GJ_LOG_ERROR, "resolve", "cannot record %zu acknowledgements: %s (they are re-sent)",
               count, gj_err_name(err));
}

void xr_write_acks(node *n)
{
    xr_pending_ack taken[GJ_ACKS_PER_WRITE];
    pthread_mutex_lock(&n->xr->acks_mu);
    size_t count = n->xr->ack_count;
    memcpy(taken, n->xr->acks, count * sizeof *taken);
    n->xr->ack_count = 0;
    pthread_mutex_unlock(&n->xr->acks_mu);
    write_acks(n, taken, count);
}

void xr_note_ack(node *n, const char *setl_id, uint32_t leg, uint8_t action)
{
    xr_pending_ack full[GJ_ACKS_PER_WRITE];
    size_t to_write = 0;
    pthread_mutex_lock(&n->xr->acks_mu);
    xr_pending_ack *ack = &n->xr->acks[n->xr->ack_count++];
    gj_strcpy_fit(ack->setl_id, sizeof ack->setl_id, setl_id);
    ack->leg = leg;
    ack->action = action;
    if (n->xr->ack_count == GJ_ACKS_PER_WRITE) {
        memcpy(full, n->xr->acks, sizeof full);
        to_write = n->xr->ack_count;
        n->xr->ack_count = 0;
    }
    pthread_mutex_unlock(&n->xr->acks_mu);
    write_acks(n, full, to_write);
}

static bool region_is_down(const xr_down_regions *down, const char *region)
{
    for (size_t i = 0; down != NULL && i < down->count; i++)
        if (strcmp(down->region[i], region) == 0)
            return true;
    return false;
}

/* d as it stands, and whether its settlement is still being decided, both read once so
 * they agree: a leg decided before its hold answered may have been corrected since d
 * was read (a round's snapshot, a queued copy). While the settlement is being decided,
 * such a leg is left alone (its worker sends it, or the resolver asks, when unknown);
 * once it is not, its correction, if any, is on record (the worker lets go of it only
 * after), so what the record says now is sent, never the first guess. Reading the
 * deciding set twice (once for the re-read, once per leg) let a correction slip in
 * between and the stale guess go out (found by the model, tests/model). NULL: not now. */
static const store_decision *as_it_stands(node *n, const store_decision *d, store_decision *now, bool *deciding)
{
    bool guessed = false;
    for (uint32_t k = 0; k < d->leg_count; k++)
        guessed |= d->legs[k].speculative && !d->legs[k].acked;
    *deciding = guessed && deciding_has(n, d->setl_id);
    if (!guessed || *deciding)
        return d;
    store_txn *txn;
    if (store_read_begin(n->store, &txn) != GJ_OK)
        return NULL; /* the next round tries again */
    gj_err err = store_decision_get(txn, d->setl_id, now);
    store_read_end(txn);
    return err == GJ_OK ? now : NULL;
}

/* The legs of d to send now, into calls (at most GJ_SPONSORS_MAX); how many. deciding
 * is what as_it_stands saw. */
static size_t legs_to_send(node *n, const store_decision *d, bool deciding, const xr_down_regions *down,
                           xr_resolve_call *calls)
{
    size_t count = 0;
    bool unknown = deciding && deciding_is_unknown(n, d->setl_id);
    for (uint32_t k = 0; k < d->leg_count; k++) {
        if (d->legs[k].acked || region_is_down(down, d->legs[k].admdvs))
            continue;
        /* A leg decided before its hold answered: while its worker still waits for that
         * answer, the worker sends the post; once nobody here knows what the hold came
         * to (a crash, a failed correction), the sponsor's node says, by posting what it
         * holds, and the decision is corrected to that. */
        bool up_to = false;
        if (d->legs[k].speculative && deciding) {
            if (!unknown)
                continue;
            up_to = true;
        }
        calls[count++] = (xr_resolve_call){.d = d, .k = k, .up_to = up_to};
    }
    return count;
}

/* What one leg's answer means here: an acknowledgement, a correction, or a retry later. */
static void leg_answered(node *n, const xr_resolve_call *call, xr_down_regions *down)
{
    const store_decision *d = call->d;
    uint32_t k = call->k;
    gj_reason r = call->reason;
    if (r == GJ_R_NONE && call->up_to) {
        xr_correction fix = {.leg = d->legs[k].leg, .amount = call->moved, .acked = true};
        memcpy(fix.setl_id, d->setl_id, sizeof fix.setl_id);
        if (xr_correct(n, &fix) == GJ_R_NONE) {
            deciding_remove(n, d->setl_id); /* known now: replays may answer */
            gj_log(GJ_LOG_INFO, "resolve", "setl_id=%s leg=%u decided before its hold answered: %" PRId64
                   " of %" PRId64 " posted", d->setl_id, d->legs[k].leg, call->moved, d->legs[k].amount);
        }
    } else if (r == GJ_R_NONE) {
        xr_note_ack(n, d->setl_id, d->legs[k].leg, d->legs[k].action);
    } else {
        if (down != NULL && down->count < XR_DOWN_MAX && !region_is_down(down, d->legs[k].admdvs) &&
            (r == GJ_R_REGION_UNREACHABLE || r == GJ_R_DEADLINE_PASSED || r == GJ_R_REGION_NOT_ANSWERING))
            gj_strcpy_fit(down->region[down->count++], sizeof down->region[0], d->legs[k].admdvs);
        /* A conflict means the two sides disagree about money: loud, and kept open so
         * the audit shows it. Unreachable peers are simply tried again later. */
        gj_log(r == GJ_R_HOLD_CONFLICT || r == GJ_R_HOLD_NOT_FOUND ? GJ_LOG_ERROR : GJ_LOG_DEBUG, "resolve",
               "setl_id=%s leg=%u region=%s action=%d: %s %s", d->setl_id, d->legs[k].leg, d->legs[k].admdvs,
               d->legs[k].action, gj_reason_name(r), call->detail);
    }
}

void xr_push_decision(node *n, const store_decision *d, xr_down_regions *down)
{
    store_decision now;
    xr_resolve_call calls[GJ_SPONSORS_MAX];
    bool deciding;
    if ((d = as_it_stands(n, d, &now, &deciding)) == NULL)
        return;
    size_t count = legs_to_send(n, d, deciding, down, calls);
    xr_port_resolve_many(n, calls, count, (int)n->cfg.peer_timeout_ms);
    for (size_t i = 0; i < count; i++)
        leg_answered(n, &calls[i], down);
}

void xr_deliver(node *n, const store_decision *d)
{
    struct xr_state *xr = n->xr;
    pthread_mutex_lock(&xr->delivery_mu);
    if (xr->delivery_count < xr->delivery_cap && !xr->delivery_stop && xr->delivery_threads > 0) {
        xr->delivery_queue[(xr->delivery_head + xr->delivery_count++) % xr->delivery_cap] = *d;
        pthread_cond_signal(&xr->delivery_cv);
    }
    /* Else dropped: a decision on record is the resolver's to send, an undecided plan's
     * voids are presumed. */
    pthread_mutex_unlock(&xr->delivery_mu);
}

/* Decisions a delivery thread takes at once: their legs travel together. */
#define XR_DELIVER_AT_ONCE 16

/* What one delivery thread works on: decisions taken together and their legs. */
typedef struct delivery_work {
    store_decision taken[XR_DELIVER_AT_ONCE];
    store_decision now[XR_DELIVER_AT_ONCE];
    xr_resolve_call calls[XR_DELIVER_AT_ONCE * GJ_SPONSORS_MAX];
} delivery_work;

static void deliver_taken(node *n, delivery_work *w, size_t taken)
{
    size_t count = 0;
    for (size_t i = 0; i < taken; i++) {
        bool deciding;
        const store_decision *d = as_it_stands(n, &w->taken[i], &w->now[i], &deciding);
        if (d != NULL)
            count += legs_to_send(n, d, deciding, NULL, &w->calls[count]);
    }
    xr_port_resolve_many(n, w->calls, count, (int)n->cfg.peer_timeout_ms);
    for (size_t i = 0; i < count; i++)
        leg_answered(n, &w->calls[i], NULL);
}

static void *delivery_main(void *arg)
{
    node *n = arg;
    struct xr_state *xr = n->xr;
    pthread_setname_np(pthread_self(), "gj-deliver");
    delivery_work *w = malloc(sizeof *w); /* ~100 KiB: not on the thread's stack */
    pthread_mutex_lock(&xr->delivery_mu);
    for (;;) {
        while (xr->delivery_count == 0 && !xr->delivery_stop)
            pthread_cond_wait(&xr->delivery_cv, &xr->delivery_mu);
        /* Stopping: what is queued still goes out, within the stop's bound; a post not
         * sent leaves its sponsor's money held until the resolver sends it after a
         * restart, and a decision made before its hold answered is unknown until then. */
        if (xr->delivery_stop && (xr->delivery_count == 0 || gj_mono_ms() >= xr->delivery_drain_until))
            break;
        size_t taken = 0;
        while (w != NULL && taken < XR_DELIVER_AT_ONCE && xr->delivery_count > 0) {
            w->taken[taken++] = xr->delivery_queue[xr->delivery_head];
            xr->delivery_head = (xr->delivery_head + 1) % xr->delivery_cap;
            xr->delivery_count--;
        }
        if (w == NULL) {
            xr->delivery_count = 0; /* no memory: the resolver sends them */
            continue;
        }
        pthread_mutex_unlock(&xr->delivery_mu);
        deliver_taken(n, w, taken);
        pthread_mutex_lock(&xr->delivery_mu);
    }
    pthread_mutex_unlock(&xr->delivery_mu);
    free(w);
    return NULL;
}

int xr_delivery_start(node *n)
{
    struct xr_state *xr = n->xr;
    for (unsigned i = 0; i < GJ_DELIVERY_THREADS; i++) {
        if (pthread_create(&xr->delivery[i], NULL, delivery_main, n) != 0)
            return -1;
        pthread_mutex_lock(&xr->delivery_mu);
        xr->delivery_threads = i + 1;
        pthread_mutex_unlock(&xr->delivery_mu);
    }
    return 0;
}

void xr_delivery_stop(node *n)
{
    struct xr_state *xr = n->xr;
    pthread_mutex_lock(&xr->delivery_mu);
    xr->delivery_stop = true;
    xr->delivery_drain_until = gj_mono_ms() + GJ_DELIVERY_DRAIN_MS;
    unsigned threads = xr->delivery_threads;
    pthread_cond_broadcast(&xr->delivery_cv);
    pthread_mutex_unlock(&xr->delivery_mu);
    for (unsigned i = 0; i < threads; i++)
        pthread_join(xr->delivery[i], NULL);
    pthread_mutex_lock(&xr->delivery_mu);
    xr->delivery_threads = 0;
    if (xr->delivery_count > 0)
        gj_log(GJ_LOG_INFO, "stop", "%zu decisions left to the resolver after restart", xr->delivery_count);
    xr->delivery_count = 0;
    pthread_mutex_unlock(&xr->delivery_mu);
}

void xr_deliver_decision_of(node *n, const char *setl_id)
{
    store_txn *txn;
    static _Thread_local store_decision d;
    if (store_read_begin(n->store, &txn) != GJ_OK)
        return; /* the resolver delivers it */
    gj_err err = store_decision_get(txn, setl_id, &d);
    store_read_end(txn);
    if (err == GJ_OK)
        xr_deliver(n, &d);
}

gj_reason xr_query_decision_check(call *c)
{
    Gongji__V1__QueryDecisionRequest *req = (Gongji__V1__QueryDecisionRequest *)c->request;
    if (!ops_is_role(c, GONGJI__V1__ROLE__PEER))
        return ops_deny(c, "only a peer node");
    if (req->setl_id[0] == '\0' || strlen(req->setl_id) > GJ_SETL_ID_MAX)
        return call_fail(c, GJ_R_FIELD_INVALID, "setl_id is required");
    Gongji__V1__QueryDecisionReply *ans = call_alloc(c, sizeof *ans);
    if (ans == NULL)
        return ops_out_of_memory(c);
    gongji__v1__query_decision_reply__init(ans);
    c->answer = &ans->base;
    /* Still deciding: ask again later. Checked before the store, because a decision is
     * written before it leaves this set. */
    if (deciding_has(c->n, req->setl_id))
        return GJ_R_NONE;
    store_txn *txn;
    store_decision d;
    gj_err err = store_read_begin(c->n->store, &txn);
    if (err != GJ_OK)
        return ops_store_reason(c, err);
    err = store_decision_get(txn, req->setl_id, &d);
    store_read_end(txn);
    ans->action = GONGJI__V1__LEG_ACTION__VOID; /* no decision on record: presumed abort */
    if (err == GJ_OK) {
        ans->post_window = d.post_window;
        ans->refund_window = d.refund_window;
        for (uint32_t i = 0; i < d.leg_count; i++)
            if (d.legs[i].leg == req->leg && d.legs[i].action != STORE_LEG_VOID) {
                ans->action = d.legs[i].action == STORE_LEG_POST ? GONGJI__V1__LEG_ACTION__POST
                                                                 : GONGJI__V1__LEG_ACTION__REFUND_LEG;
                ans->amount = d.legs[i].amount;
            }
    } else if (err != GJ_ERR_NOTFOUND) {
        return ops_store_reason(c, err);
    }
    return GJ_R_NONE;
}
