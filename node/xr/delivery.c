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

void xr_push_decision(node *n, const store_decision *d, xr_down_regions *down)
{
    /* A leg decided before its hold answered may have been corrected since d was read
     * (a round's snapshot): once the settlement is no longer being decided, its
     * correction, if any, is on record (the worker lets go of it only after), so send
     * what the record says now, never the first guess. */
    store_decision now;
    bool guessed = false;
    for (uint32_t k = 0; k < d->leg_count; k++)
        guessed |= d->legs[k].speculative && !d->legs[k].acked;
    if (guessed && !deciding_has(n, d->setl_id)) {
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
        if (d->legs[k].speculative && deciding_has(n, d->setl_id)) {
            if (!deciding_is_unknown(n, d->setl_id))
                continue;
            up_to = true;
        }
        int64_t moved = 0;
        char detail[256];
        gj_reason r = xr_port_resolve(n, d->legs[k].admdvs, d, k, up_to, (int)n->cfg.peer_timeout_ms, &moved,
                                      detail, sizeof detail);
        if (r == GJ_R_NONE && up_to) {
            xr_correction fix = {.leg = d->legs[k].leg, .amount = moved, .acked = true};
            memcpy(fix.setl_id, d->setl_id, sizeof fix.setl_id);
            if (xr_correct(n, &fix) == GJ_R_NONE) {
                deciding_remove(n, d->setl_id); /* known now: replays may answer */
                gj_log(GJ_LOG_INFO, "resolve", "setl_id=%s leg=%u decided before its hold answered: %" PRId64
                       " of %" PRId64 " posted", d->setl_id, d->legs[k].leg, moved, d->legs[k].amount);
            }
        } else if (r == GJ_R_NONE) {
            xr_note_ack(n, d->setl_id, d->legs[k].leg, d->legs[k].action);
        } else {
            if (down != NULL && down->count < XR_DOWN_MAX &&
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

void xr_deliver_decision_of(node *n, const char *setl_id)
{
    store_txn *txn;
    store_decision d;
    if (store_read_begin(n->store, &txn) != GJ_OK)
        return; /* the resolver delivers it */
    gj_err err = store_decision_get(txn, setl_id, &d);
    store_read_end(txn);
    if (err == GJ_OK)
        xr_push_decision(n, &d, NULL);
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
