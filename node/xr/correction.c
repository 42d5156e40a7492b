/* Corrections: a decision written while its last remote hold was on its way says that
 * hold gave everything asked (docs/federation.md, "Deciding while the hold is made").
 * When it gave less, or nothing, or did not answer, the decision, the settlement, the
 * clearing row and the institution's answer on record are made what the hold came to,
 * and this node's sponsors after it pay what is still owed, as the walk would have had
 * them (the planner's correction). The worker does this before it answers; after a
 * crash, the resolver does it once the sponsor's node has said what it posted. */
#include "xr_internal.h"
#include "gj_util.h"
#include "log.h"

#include <inttypes.h>
#include <string.h>

gj_reason xr_local_sponsor_pays(call *c, store_txn *txn, const store_settlement *s, const char *sponsor,
                                int64_t pay, uint8_t kind)
{
    gj_reason r = ops_pay_from(c, txn, sponsor, pay, kind, s->setl_id, s->psn_no);
    if (r != GJ_R_NONE)
        return r;
    store_spend spend = {.amount = pay, .setl_date = s->setl_date, .unix_ms = s->unix_ms, .use = s->use};
    memcpy(spend.sponsor, sponsor, sizeof spend.sponsor);
    memcpy(spend.beneficiary, s->psn_no, sizeof spend.beneficiary);
    memcpy(spend.setl_id, s->setl_id, sizeof spend.setl_id);
    gj_err err = store_spend_put(txn, &spend);
    return err == GJ_OK ? GJ_R_NONE : ops_store_reason(c, err);
}

/* The walk from the corrected leg on: it holds `held` of what was still owed when it
 * was asked (`owed`), then this node's sponsors after it in the patient's order (as
 * they stand now; another remote one would need a hold of its own). later[] gets the
 * order positions of plan legs 1.. */
static gj_reason plan_from_leg(call *c, store_txn *txn, const store_settlement *s, const char *sponsor, const char *admdvs,
                               int64_t owed, int64_t held, xr_plan *plan, uint32_t *later, const store_order *order)
{
    const gj_policy *policy = c->policy;
    memset(plan, 0, sizeof *plan);
    plan->amount = owed;
    plan->cascade = policy->cascade;
    plan->live = true; /* the held leg pays what it holds whatever the policy says now */
    plan->leg_count = 1;
    plan->legs[0] = (xr_plan_leg){.remote = true, .known = true, .available = held};
    uint32_t i = 0;
    while (i < order->count && (strcmp(order->sponsors[i].psn_no, sponsor) != 0 ||
                                strcmp(order->sponsors[i].admdvs, admdvs) != 0))
        i++;
    for (i++; i < order->count && plan->leg_count < GJ_SPONSORS_MAX; i++) {
        xr_plan_leg *next = &plan->legs[plan->leg_count];
        *next = (xr_plan_leg){.remote = strcmp(order->sponsors[i].admdvs, policy->region) != 0, .known = true};
        if (!next->remote && policy->live) {
            gj_reason r = ops_sponsor_funds(c, txn, order->sponsors[i].psn_no, s->psn_no, &next->available);
            if (r != GJ_R_NONE)
                return r;
        }
        later[plan->leg_count++] = i;
    }
    xr_plan_walk(plan);
    return GJ_R_NONE;
}

/* Make the settlement's parts say what the corrected walk says. */
static gj_reason apply_walk(call *c, store_txn *txn, store_settlement *s, const char *sponsor,
                            const char *admdvs, const xr_plan *plan, const uint32_t *later, const store_order *order)
{
    for (uint32_t p = 0; p < s->part_count; p++) {
        if (strcmp(s->parts[p].psn_no, sponsor) != 0 || strcmp(s->parts[p].admdvs, admdvs) != 0)
            continue;
        s->mulaid_pay -= s->parts[p].amount;
        s->cash_pay += s->parts[p].amount;
        memmove(&s->parts[p], &s->parts[p + 1], (s->part_count - p - 1) * sizeof s->parts[0]);
        s->part_count--;
        break;
    }
    for (uint32_t j = 0; j < plan->leg_count; j++) {
        int64_t pay = plan->legs[j].pay;
        if (pay <= 0 || s->part_count >= GJ_SPONSORS_MAX)
            continue;
        const char *part_psn_no = j == 0 ? sponsor : order->sponsors[later[j]].psn_no;
        const char *part_admdvs = j == 0 ? admdvs : order->sponsors[later[j]].admdvs;
        gj_reason r;
        if (j > 0 && (r = xr_local_sponsor_pays(c, txn, s, part_psn_no, pay, STORE_J_SETTLE_AID)) != GJ_R_NONE)
            return r;
        uint32_t k = s->part_count++;
        gj_strcpy_fit(s->parts[k].psn_no, sizeof s->parts[k].psn_no, part_psn_no);
        gj_strcpy_fit(s->parts[k].admdvs, sizeof s->parts[k].admdvs, part_admdvs);
        s->parts[k].amount = pay;
        s->mulaid_pay += pay;
        s->cash_pay -= pay;
    }
    return GJ_R_NONE;
}

gj_reason xr_correct_apply(call *c, store_txn *txn)
{
    xr_correction *fix = c->xr_correction;
    store_decision *d = &fix->decision;
    store_settlement s;
    gj_err err;
    gj_reason r;
    if ((err = store_settlement_get(txn, fix->setl_id, &s)) != GJ_OK ||
        (err = store_decision_get(txn, fix->setl_id, d)) != GJ_OK)
        return err == GJ_ERR_NOTFOUND ? call_fail(c, GJ_R_STORE_ERROR, "no decision %s to correct", fix->setl_id)
                                      : ops_store_reason(c, err);
    uint32_t k = 0;
    while (k < d->leg_count && d->legs[k].leg != fix->leg)
        k++;
    if (k == d->leg_count)
        return call_fail(c, GJ_R_STORE_ERROR, "decision %s has no leg %u", fix->setl_id, fix->leg);
    if (d->legs[k].speculative) { /* else corrected already: answer as it stands */
        int64_t asked = d->legs[k].amount;
        if (fix->amount < 0 || fix->amount > asked)
            return call_fail(c, GJ_R_HOLD_CONFLICT, "leg %u of %s: %" PRId64 " held, %" PRId64 " asked",
                             fix->leg, fix->setl_id, fix->amount, asked);
        if (fix->amount < asked) {
            /* The clearing row goes where it was written; a window closed since then
             * fails the correction, for an operator to see, rather than count twice. */
            err = store_clearing_delete(txn, d->post_window, d->legs[k].admdvs, s.setl_id, fix->leg,
                                        STORE_CLR_PAYMENT);
            if (err != GJ_OK && err != GJ_ERR_NOTFOUND)
                return ops_store_reason(c, err);
            if (fix->amount > 0 &&
                (r = clearing_record(txn, d->post_window, d->legs[k].admdvs, s.setl_id, fix->leg,
                                     STORE_CLR_PAYMENT, STORE_CLR_OWED_TO_US, fix->amount, d->legs[k].sponsor,
                                     s.psn_no)) != GJ_R_NONE)
                return r;
            /* What was owed when the leg was asked: its part, and any cash the decision
             * already had (a local sponsor before it that had less by then). */
            store_order order;
            if ((err = store_order_get(txn, s.psn_no, &order)) != GJ_OK && err != GJ_ERR_NOTFOUND)
                return ops_store_reason(c, err);
            if (err == GJ_ERR_NOTFOUND)
                order.count = 0;
            xr_plan plan;
            uint32_t later[GJ_SPONSORS_MAX] = {0};
            const char *sponsor = d->legs[k].sponsor, *admdvs = d->legs[k].admdvs;
            if ((r = plan_from_leg(c, txn, &s, sponsor, admdvs, s.cash_pay + asked, fix->amount, &plan, later,
                                   &order)) != GJ_R_NONE ||
                (r = apply_walk(c, txn, &s, sponsor, admdvs, &plan, later, &order)) != GJ_R_NONE)
                return r;
            if ((err = store_settlement_put(txn, &s)) != GJ_OK)
                return ops_store_reason(c, err);
        }
        d->legs[k].amount = fix->amount;
        d->legs[k].action = fix->amount > 0 ? STORE_LEG_POST : STORE_LEG_VOID;
        d->legs[k].speculative = 0;
        if (fix->acked)
            d->legs[k].acked = 1;
        if ((err = store_decision_put(txn, d)) != GJ_OK)
            return ops_store_reason(c, err);
        char mp[GJ_PSN_NO_MAX + 1];
        /* The settlement's final split: the line an operator matches with the answer. */
        gj_log(GJ_LOG_INFO, "settle",
               "setl_id=%s final acct_pay=%" PRId64 " mulaid=%" PRId64 " cash=%" PRId64 " (leg %u, sponsor %s, held %" PRId64
               " of %" PRId64 " asked)",
               s.setl_id, s.acct_pay, s.mulaid_pay, s.cash_pay, fix->leg, gj_mask(d->legs[k].sponsor, mp, sizeof mp),
               fix->amount, asked);
    }
    /* The answer the institution gets, which replaces the one on record. */
    store_digest digest;
    const void *reply;
    size_t len;
    if (store_idem_get(txn, s.caller_id, s.call_id, &digest, &reply, &len) == GJ_OK)
        c->request_digest = digest;
    if (ops_answer_settlement(c, txn, &s) == NULL)
        return ops_out_of_memory(c);
    return GJ_R_NONE;
}

gj_reason xr_correct(node *n, xr_correction *fix)
{
    store_txn *txn;
    store_settlement s;
    gj_err err = store_read_begin(n->store, &txn);
    if (err != GJ_OK)
        return gj_reason_of_err(err);
    err = store_settlement_get(txn, fix->setl_id, &s);
    store_read_end(txn);
    if (err != GJ_OK)
        return GJ_R_STORE_ERROR;
    call *c = call_detached(n, s.caller_id, s.call_id);
    if (c == NULL)
        return GJ_R_OVERLOADED;
    c->xr_correction = fix;
    gj_reason r = call_rewrite_wait(c, xr_correct_apply) == GJ_OK ? GJ_R_NONE : c->reason;
    if (r != GJ_R_NONE)
        gj_log(GJ_LOG_ERROR, "settle", "setl_id=%s leg=%u cannot be corrected: %s %s", fix->setl_id, fix->leg,
               gj_reason_name(r), c->message);
    call_discard(c);
    return r;
}
