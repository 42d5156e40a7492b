/* The coordinator: the patient's (beneficiary's) node runs a cross-region settlement
 * (docs/federation.md, "Settlements across regions"):
 *   1. plan from a snapshot: the own account, this node's sponsors (planner.c);
 *   2. walk the deduction order, asking each remote sponsor's node to hold its part
 *      (port.c) as the walk reaches it; the last one the walk can reach holds while the
 *      decision is written ("Deciding while the hold is made");
 *   3. write the decision durably: everything local debited, each remote leg POST or
 *      VOID, with the settlement and the answer on record;
 *   4. correct it if that last hold gave less (correction.c);
 *   5. answer, then deliver the decision (delivery.c; the resolver repeats it).
 * A plan never decided has its holds voided, once; a participant that is not told asks,
 * and with no decision on record voids (presumed abort). */
#include "xr_internal.h"
#include "gj_util.h"
#include "log.h"
#include "routing.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


static int64_t min64(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

/* The answer for a settlement (or a premium) as written. */
static gj_reason answer_settled(call *c, store_txn *txn, const xr_settlement *xs, const store_settlement *s,
                                uint32_t remote_legs)
{
    char mp[GJ_PSN_NO_MAX + 1];
    if (xs->use == GJ_USE_WALLET)
        return wallet_answer(c, txn, s->setl_id);
    if (xs->use == GJ_USE_MOVE) {
        Gongji__V1__MoveInReply *ma = call_alloc(c, sizeof *ma);
        if (ma == NULL)
            return ops_out_of_memory(c);
        gongji__v1__move_in_reply__init(ma);
        ma->person = xs->move_person;
        ma->setl_id = call_strdup(c, s->setl_id);
        ma->amount = s->mulaid_pay;
        if (ma->setl_id == NULL)
            return ops_out_of_memory(c);
        c->answer = &ma->base;
        gj_log(GJ_LOG_INFO, "move-in", "setl_id=%s psn_no=%s amount=%" PRId64 " from=%s", s->setl_id,
               gj_mask(s->psn_no, mp, sizeof mp), s->mulaid_pay, xs->move_from);
        return GJ_R_NONE;
    }
    if (xs->plan.premium) {
        Gongji__V1__PayPremiumReply *pa = call_alloc(c, sizeof *pa);
        if (pa == NULL)
            return ops_out_of_memory(c);
        gongji__v1__pay_premium_reply__init(pa);
        pa->setl_id = call_strdup(c, s->setl_id);
        pa->amount = s->amount;
        pa->sponsor_psn_no = call_strdup(c, s->parts[0].psn_no);
        pa->sponsor_admdvs = call_strdup(c, s->parts[0].admdvs);
        if (!pa->setl_id || !pa->sponsor_psn_no || !pa->sponsor_admdvs)
            return ops_out_of_memory(c);
        c->answer = &pa->base;
        gj_log(GJ_LOG_INFO, "premium", "setl_id=%s psn_no=%s amount=%" PRId64 " sponsor_region=%s",
               s->setl_id, gj_mask(s->psn_no, mp, sizeof mp), s->amount, s->parts[0].admdvs);
        return GJ_R_NONE;
    }
    if (ops_answer_settlement(c, txn, s) == NULL)
        return ops_out_of_memory(c);
    /* Decided while its last hold was on its way: the split may still be corrected, and
     * a "final" line then follows (correction.c). */
    bool provisional = false;
    for (uint32_t i = 0; i < xs->decision.leg_count; i++)
        provisional |= xs->decision.legs[i].speculative != 0;
    gj_log(GJ_LOG_INFO, "settle",
           "setl_id=%s psn_no=%s amount=%" PRId64 " acct_pay=%" PRId64 " mulaid=%" PRId64 " cash=%" PRId64
           " sponsors=%u remote_legs=%u%s",
           s->setl_id, gj_mask(s->psn_no, mp, sizeof mp), s->amount, s->acct_pay, s->mulaid_pay, s->cash_pay,
           s->part_count, remote_legs, provisional ? " provisional=yes (a hold is on its way)" : "");
    return GJ_R_NONE;
}

/* The decision (step 3): everything local is debited and every remote leg fixed, in
 * one durable transaction, before anyone is told. The walk is taken again with what is
 * true now, never more than planned: the own account and this node's sponsors may have
 * less than when planned (they pay what is there); remote legs pay what they held. */
static gj_reason decide_apply(call *c, store_txn *txn)
{
    xr_settlement *xs = c->xr_settlement;
    store_person patient;
    store_account own;
    gj_reason r;
    gj_err err;
    xs->decided = true;
    if (xs->use == GJ_USE_MOVE && (r = xr_move_in_enroll(c, txn, xs)) != GJ_R_NONE)
        return r; /* R23: enrolled with the decision that brings their money */
    if ((r = ops_get_local_person(c, txn, xs->beneficiary, &patient)) != GJ_R_NONE ||
        (r = rules_check_beneficiary(&patient)) != GJ_R_NONE)
        return r;
    int32_t window;
    if ((err = store_window_first_open(txn, c->today, &window)) != GJ_OK)
        return ops_store_reason(c, err);
    xr_plan now = xs->plan;
    now.own_available = 0;
    if ((err = store_account_get(txn, patient.psn_no, &own)) == GJ_OK)
        now.own_available = min64(xs->plan.own_pay, own.balance - own.held);
    else if (err != GJ_ERR_NOTFOUND)
        return ops_store_reason(c, err);
    for (uint32_t i = 0; i < now.leg_count; i++) {
        xr_plan_leg *leg = &now.legs[i];
        int64_t planned = xs->plan.legs[i].pay;
        leg->known = true;
        leg->available = planned;
        if (!leg->remote && planned > 0) {
            int64_t shareable;
            if ((r = ops_sponsor_funds(c, txn, xs->legs[i].sponsor, patient.psn_no, &shareable)) != GJ_R_NONE)
                return r;
            leg->available = min64(planned, shareable);
        }
    }
    xr_plan_walk(&now);
    if (now.premium_short)
        return call_fail(c, GJ_R_PREMIUM_NOT_COVERED, "a premium is paid in full by the sponsor or not at all");

    store_settlement s = {.amount = now.amount, .acct_pay = now.own_pay, .mulaid_pay = now.mulaid_pay,
                          .cash_pay = now.cash_pay, .setl_date = c->today, .unix_ms = gj_now_unix_ms(),
                          .use = xs->use, .status = STORE_SETL_COMMITTED};
    memcpy(s.setl_id, xs->setl_id, sizeof s.setl_id);
    memcpy(s.psn_no, patient.psn_no, sizeof s.psn_no);
    gj_strcpy_fit(s.caller_id, sizeof s.caller_id, c->env->caller_id);
    gj_strcpy_fit(s.call_id, sizeof s.call_id, c->env->call_id);
    store_decision *d = &xs->decision;
    memset(d, 0, sizeof *d);
    memcpy(d->setl_id, xs->setl_id, sizeof d->setl_id);
    memcpy(d->beneficiary, patient.psn_no, sizeof d->beneficiary);
    d->unix_ms = s.unix_ms;
    d->post_window = window;

    if (now.own_pay > 0 &&
        (r = ops_pay_from(c, txn, patient.psn_no, now.own_pay, STORE_J_SETTLE_OWN, s.setl_id, "")) != GJ_R_NONE)
        return r;
    uint8_t kind = now.premium ? STORE_J_PREMIUM : STORE_J_SETTLE_AID;
    for (uint32_t i = 0; i < now.leg_count; i++) {
        const xr_leg *leg = &xs->legs[i];
        int64_t pay = now.legs[i].pay;
        if (now.legs[i].remote && (pay > 0 || leg->needs_void)) {
            uint32_t k = d->leg_count++;
            d->legs[k].leg = i;
            memcpy(d->legs[k].sponsor, leg->sponsor, sizeof d->legs[k].sponsor);
            memcpy(d->legs[k].admdvs, leg->admdvs, sizeof d->legs[k].admdvs);
            d->legs[k].amount = pay;
            d->legs[k].action = pay > 0 ? STORE_LEG_POST : STORE_LEG_VOID;
            d->legs[k].speculative = leg->speculative;
            /* R16: the sponsor's region owes ours; recorded with the decision. */
            if (pay > 0 && (r = clearing_record(txn, window, leg->admdvs, s.setl_id, i,
                                                now.premium && xs->use == GJ_USE_PREMIUM ? STORE_CLR_PREMIUM
                                                                                         : STORE_CLR_PAYMENT,
                                                STORE_CLR_OWED_TO_US, pay, leg->sponsor, patient.psn_no)) !=
                               GJ_R_NONE)
                return r;
        } else if (!now.legs[i].remote && pay > 0 &&
                   (r = xr_local_sponsor_pays(c, txn, &s, leg->sponsor, pay, kind)) != GJ_R_NONE) {
            return r;
        }
        if (pay > 0) {
            uint32_t k = s.part_count++;
            memcpy(s.parts[k].psn_no, leg->sponsor, sizeof s.parts[k].psn_no);
            memcpy(s.parts[k].admdvs, leg->admdvs, sizeof s.parts[k].admdvs);
            s.parts[k].amount = pay;
        }
    }
    if ((err = store_settlement_put(txn, &s)) != GJ_OK)
        return ops_store_reason(c, err);
    if (d->leg_count > 0 && (err = store_decision_put(txn, d)) != GJ_OK)
        return ops_store_reason(c, err);
    if (xs->use == GJ_USE_MOVE && (r = xr_move_in_credit(c, txn, &s, xs->move_from)) != GJ_R_NONE)
        return r;
    if (xs->use == GJ_USE_WALLET && (r = wallet_credit(c, txn, &s)) != GJ_R_NONE)
        return r; /* R24: into the relative's wallet, pending until accepted */
    return answer_settled(c, txn, xs, &s, d->leg_count);
}

/* Ask sponsor leg i's node to hold up to `wanted`. Returns what it held; *needs_void
 * when a hold may exist there whose amount we do not know. */
static int64_t request_hold(call *c, const xr_settlement *xs, uint32_t i, int64_t wanted, int budget_ms,
                            bool *needs_void)
{
    const xr_leg *leg = &xs->legs[i];
    xr_hold_ask ask = {.setl_id = xs->setl_id, .leg = i, .sponsor = leg->sponsor, .beneficiary = xs->beneficiary,
                       .amount = wanted, .use = xs->use, .setl_date = c->today};
    int64_t held = 0;
    char detail[256];
    gj_reason r = xr_port_hold(c->n, leg->admdvs, &ask, budget_ms, &held, detail, sizeof detail);
    *needs_void = false;
    if (r == GJ_R_NONE) {
        if (held < 0 || held > wanted) {
            *needs_void = true; /* not what we asked for: void it rather than trust it */
            return 0;
        }
        return held;
    }
    if (xs->use == GJ_USE_WALLET && r != GJ_R_REGION_UNREACHABLE && r != GJ_R_DEADLINE_PASSED &&
        r != GJ_R_REGION_NOT_ANSWERING) {
        /* R24: the sponsor's node applies its caps; its reason is the answer's. The
         * xr_settlement is the caller's, reached through c. */
        xr_settlement *own = c->xr_settlement;
        own->hold_refused = r;
        snprintf(own->hold_detail, sizeof own->hold_detail, "%s", detail);
    }
    char masked[GJ_PSN_NO_MAX + 1];
    gj_log(GJ_LOG_WARN, "hold", "setl_id=%s leg=%u sponsor=%s region=%s skipped: %s %s", xs->setl_id, i,
           gj_mask(leg->sponsor, masked, sizeof masked), leg->admdvs, gj_reason_name(r), detail);
    /* No answer: a hold may have been made there. Void it (the void fences it if late). */
    *needs_void = r == GJ_R_REGION_UNREACHABLE || r == GJ_R_DEADLINE_PASSED || r == GJ_R_PEER_REFUSED ||
                  r == GJ_R_OVERLOADED || r == GJ_R_SHUTTING_DOWN || r == GJ_R_STORE_ERROR ||
                  r == GJ_R_STORE_FULL;
    return 0;
}

/* Void, once and without waiting for acknowledgement, every hold of a plan that will
 * never be decided (the store refused the decision, or the call was a repeat). Holds
 * this misses are voided when their node asks: there is no decision on record. */
static void void_undecided(node *n, const xr_settlement *xs)
{
    store_decision d = {0};
    memcpy(d.setl_id, xs->setl_id, sizeof d.setl_id);
    memcpy(d.beneficiary, xs->beneficiary, sizeof d.beneficiary);
    for (uint32_t i = 0; i < xs->plan.leg_count; i++) {
        const xr_leg *leg = &xs->legs[i];
        if (!xs->plan.legs[i].remote || (leg->held == 0 && !leg->needs_void))
            continue;
        uint32_t k = d.leg_count++;
        d.legs[k].leg = i;
        memcpy(d.legs[k].sponsor, leg->sponsor, sizeof d.legs[k].sponsor);
        memcpy(d.legs[k].admdvs, leg->admdvs, sizeof d.legs[k].admdvs);
        d.legs[k].action = STORE_LEG_VOID;
    }
    if (d.leg_count > 0)
        xr_deliver(n, &d);
}

/* Write the decision while leg i's hold is on its way (steps 2-4). On return c holds the
 * answer (or the failure) and xs->decided / xs->decision what was written; *unknown is
 * set when what the hold came to could not be recorded, so the resolver must find out. */
static void decide_while_holding(call *c, xr_settlement *xs, uint32_t i, int64_t asked, int budget,
                                 bool *unknown)
{
    xr_leg *leg = &xs->legs[i];
    leg->speculative = true;
    xr_plan_leg_answered(&xs->plan, i, asked); /* as if it held all of it */
    /* The writer reads xs while the hold is out; the hold only reads it too. */
    call_write w;
    if (call_write_start(c, decide_apply, &w) != GJ_OK) {
        c->reason = GJ_R_OVERLOADED;
        leg->speculative = false;
        xr_plan_leg_answered(&xs->plan, i, 0); /* nothing asked, nothing to void */
        return;
    }
    bool needs_void;
    int64_t held = request_hold(c, xs, i, asked, budget, &needs_void);
    call_write_finish(c, &w);
    leg->needs_void = needs_void;
    leg->held = held;
    if (c->reason != GJ_R_NONE || !xs->decided)
        return; /* undecided: the caller voids what was held */
    if (held == asked)
        return; /* the usual case: decided as written, one commit on the way */
    /* It gave less (or nothing, or no answer): correct before anyone is told. */
    xr_correction *fix = call_alloc(c, sizeof *fix);
    if (fix == NULL) {
        *unknown = true;
        /* The answer the first write built says "all of it": it must not go out. */
        if (c->reply_owned)
            free(c->reply_bytes);
        c->reply_bytes = NULL;
        c->reply_owned = false;
        c->reason = GJ_R_OVERLOADED;
        return;
    }
    memcpy(fix->setl_id, xs->setl_id, sizeof fix->setl_id);
    fix->leg = i;
    fix->amount = held;
    c->xr_correction = fix;
    if (call_rewrite_wait(c, xr_correct_apply) != GJ_OK) {
        *unknown = true; /* the decision on record still says "all of it" */
        gj_log(GJ_LOG_ERROR, "settle",
               "setl_id=%s leg=%u held %" PRId64 " of %" PRId64
               " but the decision cannot be corrected now: %s; the resolver will",
               xs->setl_id, i, held, asked, gj_reason_name(c->reason));
        return;
    }
    xs->decision = fix->decision;
}

/* Steps 2 to 5 for a planned settlement. Ends the call. */
void xr_coordinate(call *c, xr_settlement *xs)
{
    node *n = c->n;
    node_new_setl_id(n, c->today, xs->setl_id);
    if (!deciding_add(n, xs->setl_id, c->env->caller_id, c->env->call_id)) {
        c->reason = GJ_R_OVERLOADED;
        call_finish(c);
        return;
    }
    c->deciding_setl_id = xs->setl_id;
    c->xr_settlement = xs;
    xr_plan *plan = &xs->plan;
    bool unknown = false, decided_while_holding = false;
    for (xr_plan_walk(plan); plan->ask_leg >= 0;) {
        uint32_t i = (uint32_t)plan->ask_leg;
        int budget = route_peer_budget_ms(c);
        if (budget < GJ_HOLD_BUDGET_MIN_MS) {
            xr_plan_leg_answered(plan, i, 0); /* no time to ask: the next sponsor, or cash */
            continue;
        }
        if (plan->ask_is_last_remote && !plan->premium && !xs->hold_first) {
            decide_while_holding(c, xs, i, plan->ask_amount, budget, &unknown);
            decided_while_holding = true;
            break;
        }
        bool needs_void;
        int64_t held = request_hold(c, xs, i, plan->ask_amount, budget, &needs_void);
        xs->legs[i].needs_void = needs_void;
        xs->legs[i].held = held;
        xr_plan_leg_answered(plan, i, held);
    }
    if (decided_while_holding) {
        /* written (and corrected if need be) already */
    } else if (plan->premium_short && xs->use == GJ_USE_MOVE) {
        call_fail(c, GJ_R_MOVE_NOT_HELD, "region %s held %" PRId64 " of %" PRId64 " fen; nothing moved", xs->move_from,
                  plan->mulaid_pay, plan->amount);
    } else if (plan->premium_short && xs->use == GJ_USE_WALLET) {
        if (xs->hold_refused != GJ_R_NONE)
            call_fail(c, xs->hold_refused, "%s", xs->hold_detail[0] ? xs->hold_detail : gj_reason_message(xs->hold_refused));
        else
            call_fail(c, GJ_R_WALLET_NOT_COVERED, "region %s held %" PRId64 " of %" PRId64 " fen; nothing moved",
                      xs->legs[0].admdvs, plan->mulaid_pay, plan->amount);
    } else if (plan->premium_short) {
        call_fail(c, GJ_R_PREMIUM_NOT_COVERED, "the sponsor can share only part of the premium now");
    } else {
        call_write_wait(c, decide_apply);
    }
    if (c->reason == GJ_R_SETTLEMENT_IN_FLIGHT && !xs->decided && !unknown) {
        /* Another copy of this call wrote its answer first and is still deciding: wait
         * for it, then answer as it was answered (this plan's holds are voided below). */
        call_await_other_copy(c);
        for (uint32_t i = 0; i < plan->leg_count; i++)
            xs->legs[i].speculative = false;
        c->reason = GJ_R_NONE;
        c->message[0] = '\0';
        call_write_wait(c, decide_apply);
    }
    bool decided = c->reason == GJ_R_NONE && xs->decided;
    if (unknown)
        deciding_mark_unknown(n, xs->setl_id, c->env->caller_id, c->env->call_id);
    else
        deciding_remove(n, xs->setl_id);
    /* xs lives in the call's arena: keep what is needed after the answer. */
    xr_settlement *undecided = decided || unknown ? NULL : malloc(sizeof *undecided);
    if (undecided != NULL)
        *undecided = *xs;
    store_decision decision = xs->decision;
    call_finish(c);
    /* Answered first; then the posts (repeated by the resolver until acknowledged), or
     * the voids of an undecided plan, which may wait on a node that is down. */
    if (decided && decision.leg_count > 0)
        xr_deliver(n, &decision);
    if (undecided != NULL) {
        void_undecided(n, undecided);
        free(undecided);
    }
}

void xr_settle(call *c)
{
    node *n = c->n;
    Gongji__V1__SettleRequest *req = (Gongji__V1__SettleRequest *)c->request;
    if (call_replay_if_answered(c)) {
        call_finish(c);
        return;
    }
    xr_settlement *xs = call_alloc(c, sizeof *xs);
    if (xs == NULL) {
        c->reason = GJ_R_OVERLOADED;
        call_finish(c);
        return;
    }
    /* Plan from a snapshot: own account first, this node's sponsors' shareable money. */
    xr_plan *plan = &xs->plan;
    plan->amount = req->amount;
    plan->cascade = node_policy(n)->cascade;
    plan->live = node_policy(n)->live;
    xs->use = (uint8_t)req->use;
    store_txn *txn;
    store_person patient;
    store_account own;
    store_order order = {0};
    gj_reason r = GJ_R_NONE;
    gj_err begun = store_read_begin(n->store, &txn);
    if (begun != GJ_OK) {
        c->reason = gj_reason_of_err(begun); /* a full reader table is OVERLOADED */
        call_finish(c);
        return;
    }
    if ((r = ops_get_local_person(c, txn, req->psn_no, &patient)) == GJ_R_NONE &&
        (r = rules_check_beneficiary(&patient)) == GJ_R_NONE) {
        if (store_account_get(txn, patient.psn_no, &own) == GJ_OK)
            plan->own_available = own.balance - own.held;
        if (store_order_get(txn, patient.psn_no, &order) != GJ_OK)
            r = GJ_R_STORE_ERROR;
        else if ((r = ops_order_for_bill(c, &order, req->sponsor_psn_no)) == GJ_R_NONE)
            xs->hold_first = req->sponsor_psn_no[0] != '\0';
        bool frozen = ops_beneficiary_frozen(txn, patient.psn_no); /* R21: no sponsor is asked */
        plan->leg_count = order.count;
        for (uint32_t i = 0; r == GJ_R_NONE && i < order.count; i++) {
            xr_plan_leg *leg = &plan->legs[i];
            memcpy(xs->legs[i].sponsor, order.sponsors[i].psn_no, sizeof xs->legs[i].sponsor);
            memcpy(xs->legs[i].admdvs, order.sponsors[i].admdvs, sizeof xs->legs[i].admdvs);
            leg->remote = strcmp(order.sponsors[i].admdvs, n->cfg.region) != 0;
            leg->known = !leg->remote || frozen; /* known to give nothing when frozen */
            if (!leg->remote)
                r = ops_sponsor_funds(c, txn, order.sponsors[i].psn_no, patient.psn_no, &leg->available);
        }
    }
    store_read_end(txn);
    if (r != GJ_R_NONE) {
        c->reason = r;
        call_finish(c);
        return;
    }
    memcpy(xs->beneficiary, patient.psn_no, sizeof xs->beneficiary);
    xr_coordinate(c, xs);
}

/* R15, sponsor on another node: the same steps with one leg that must cover all. */
void xr_premium(call *c)
{
    Gongji__V1__PayPremiumRequest *req = (Gongji__V1__PayPremiumRequest *)c->request;
    if (call_replay_if_answered(c)) {
        call_finish(c);
        return;
    }
    xr_settlement *xs = call_alloc(c, sizeof *xs);
    if (xs == NULL) {
        c->reason = GJ_R_OVERLOADED;
        call_finish(c);
        return;
    }
    xs->plan = (xr_plan){.amount = req->amount, .cascade = true, .live = c->policy->live, .premium = true,
                         .leg_count = 1};
    xs->plan.legs[0].remote = true;
    xs->use = GJ_USE_PREMIUM;
    gj_strcpy_fit(xs->beneficiary, sizeof xs->beneficiary, req->beneficiary_psn_no);
    gj_strcpy_fit(xs->legs[0].sponsor, sizeof xs->legs[0].sponsor, req->sponsor_psn_no);
    gj_strcpy_fit(xs->legs[0].admdvs, sizeof xs->legs[0].admdvs, c->remote_region); /* from check() */
    xr_coordinate(c, xs);
}
