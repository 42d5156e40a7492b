/* The participant: a sponsor's node, asked by the patient's (coordinating) node to hold
 * part of a sponsor's money and later to post, void or refund it (docs/federation.md,
 * "Settlements across regions"). Every step is one durable transaction and happens at
 * most once per (setl_id, leg), whatever is repeated or reordered on the way: a void
 * that arrives before its hold leaves a fence, and the late hold never takes effect. */
#include "xr_internal.h"
#include "gj_util.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

gj_reason xr_hold_check(call *c)
{
    Gongji__V1__HoldRequest *req = (Gongji__V1__HoldRequest *)c->request;
    gj_reason r;
    if (!ops_is_role(c, GONGJI__V1__ROLE__PEER))
        return ops_deny(c, "only a peer node");
    /* A hold comes only from the beneficiary's home node (caller_id is proven by the
     * seal of a session opened with that node's certificate: authn.c). */
    if (strcmp(c->env->caller_id, req->beneficiary_admdvs) != 0)
        return call_fail(c, GJ_R_NOT_BENEFICIARY_HOME,
                         "caller %.8s is not region %.8s, the beneficiary's home", c->env->caller_id,
                         req->beneficiary_admdvs);
    if (req->setl_id[0] == '\0' || strlen(req->setl_id) > GJ_SETL_ID_MAX || req->leg >= GJ_SPONSORS_MAX)
        return call_fail(c, GJ_R_FIELD_INVALID, "setl_id and leg identify the hold");
    if (strncmp(req->setl_id, c->env->caller_id, GJ_ADMDVS_LEN) != 0)
        return call_fail(c, GJ_R_NOT_BENEFICIARY_HOME, "settlement %.40s was not made by region %.8s",
                         req->setl_id, c->env->caller_id);
    if ((r = ops_check_psn_no(c, "sponsor_psn_no", req->sponsor_psn_no)) != GJ_R_NONE ||
        (r = ops_check_psn_no(c, "beneficiary_psn_no", req->beneficiary_psn_no)) != GJ_R_NONE)
        return r;
    if (req->setl_date && !gj_date_valid(req->setl_date))
        return call_fail(c, GJ_R_FIELD_INVALID, "setl_date is yyyymmdd");
    return rules_check_amount(req->amount);
}

static gj_reason answer_held(call *c, int64_t held)
{
    Gongji__V1__HoldReply *ans = call_alloc(c, sizeof *ans);
    if (ans == NULL)
        return ops_out_of_memory(c);
    gongji__v1__hold_reply__init(ans);
    ans->held = held;
    c->answer = &ans->base;
    return GJ_R_NONE;
}

/* R23: the whole available balance of a person this node's operator marked as moving
 * to the caller's region; no binding is involved (the person pays themself). */
static gj_reason hold_for_move(call *c, store_txn *txn, const Gongji__V1__HoldRequest *req)
{
    store_move m;
    store_account a;
    gj_err err = store_move_get(txn, req->sponsor_psn_no, &m);
    if (err != GJ_OK || m.direction != 'O' || m.state != STORE_MOVE_MOVING ||
        strcmp(m.other_admdvs, req->beneficiary_admdvs) != 0 || strcmp(req->sponsor_psn_no, req->beneficiary_psn_no) != 0)
        return err == GJ_OK || err == GJ_ERR_NOTFOUND
                   ? call_fail(c, GJ_R_MOVE_NOT_STARTED, "not moving to region %.8s", req->beneficiary_admdvs)
                   : ops_store_reason(c, err);
    if ((err = store_account_get(txn, req->sponsor_psn_no, &a)) != GJ_OK)
        return err == GJ_ERR_NOTFOUND ? answer_held(c, 0) : ops_store_reason(c, err);
    int64_t available = a.balance - a.held;
    int64_t held = available < req->amount ? available : req->amount;
    if (held <= 0)
        return answer_held(c, 0);
    if ((err = store_account_hold(txn, req->sponsor_psn_no, held, NULL)) != GJ_OK)
        return ops_store_reason(c, err);
    store_hold hold = {.leg = req->leg, .amount = held, .state = STORE_HOLD_HELD, .use = GJ_USE_MOVE,
                       .setl_date = req->setl_date ? req->setl_date : c->today, .created_unix_ms = gj_now_unix_ms()};
    gj_strcpy_fit(hold.setl_id, sizeof hold.setl_id, req->setl_id);
    gj_strcpy_fit(hold.sponsor, sizeof hold.sponsor, req->sponsor_psn_no);
    gj_strcpy_fit(hold.beneficiary, sizeof hold.beneficiary, req->beneficiary_psn_no);
    gj_strcpy_fit(hold.coordinator, sizeof hold.coordinator, req->beneficiary_admdvs);
    if ((err = store_hold_put(txn, &hold)) != GJ_OK)
        return ops_store_reason(c, err);
    return answer_held(c, held);
}

gj_reason xr_hold_apply(call *c, store_txn *txn)
{
    Gongji__V1__HoldRequest *req = (Gongji__V1__HoldRequest *)c->request;
    const gj_policy *policy = c->policy;
    store_hold hold;
    gj_err err = store_hold_get(txn, req->setl_id, req->leg, &hold);
    if (err == GJ_OK) {
        if (hold.state == STORE_HOLD_VOIDED)
            return GJ_R_HOLD_VOIDED; /* the void came first: this hold never takes effect */
        return answer_held(c, hold.amount);
    }
    if (err != GJ_ERR_NOTFOUND)
        return ops_store_reason(c, err);

    if ((int)req->use == GJ_USE_MOVE)
        return hold_for_move(c, txn, req);
    gj_reason caps; /* R24: a wallet transfer within the sponsor region's caps, or none */
    if ((int)req->use == GJ_USE_WALLET &&
        (caps = wallet_hold_rules(c, txn, req->sponsor_psn_no, req->amount, req->beneficiary_admdvs)) != GJ_R_NONE)
        return caps;
    /* This node checks for itself that a binding it holds authorises this today. */
    store_binding b;
    err = store_binding_get(txn, req->sponsor_psn_no, req->beneficiary_psn_no, &b);
    if (err == GJ_ERR_NOTFOUND || (err == GJ_OK && (strcmp(b.sponsor_admdvs, policy->region) != 0 ||
                                                    strcmp(b.beneficiary_admdvs, req->beneficiary_admdvs) != 0 ||
                                                    !rules_binding_pays_on(&b, c->today))))
        return call_fail(c, GJ_R_BINDING_NOT_FOUND, "no binding in force here for this pair");
    if (err != GJ_OK)
        return ops_store_reason(c, err);
    int64_t shareable;
    gj_reason r = ops_sponsor_funds(c, txn, req->sponsor_psn_no, req->beneficiary_psn_no, &shareable);
    if (r != GJ_R_NONE)
        return r;
    if (!rules_same_province(policy->region, req->beneficiary_admdvs) && !policy->cross_province_pilot)
        shareable = 0;
    int64_t held = shareable < req->amount ? shareable : req->amount;
    if (held <= 0)
        return answer_held(c, 0); /* nothing to hold: nothing to resolve later */
    if ((err = store_account_hold(txn, req->sponsor_psn_no, held, NULL)) != GJ_OK)
        return ops_store_reason(c, err);
    memset(&hold, 0, sizeof hold);
    gj_strcpy_fit(hold.setl_id, sizeof hold.setl_id, req->setl_id);
    hold.leg = req->leg;
    memcpy(hold.sponsor, b.sponsor, sizeof hold.sponsor);
    memcpy(hold.beneficiary, b.beneficiary, sizeof hold.beneficiary);
    memcpy(hold.coordinator, b.beneficiary_admdvs, sizeof hold.coordinator);
    hold.amount = held;
    hold.state = STORE_HOLD_HELD;
    hold.use = (uint8_t)req->use;
    hold.setl_date = req->setl_date ? req->setl_date : c->today;
    hold.created_unix_ms = gj_now_unix_ms();
    if ((err = store_hold_put(txn, &hold)) != GJ_OK)
        return ops_store_reason(c, err);
    return answer_held(c, held);
}

/* Take a held amount: release the reservation and debit, with the journal entry, the
 * sponsor's spend record and our clearing row (we owe the coordinator's region). */
static gj_reason participant_post(store_txn *txn, store_hold *hold, int32_t window, int64_t now)
{
    bool premium = hold->use == GJ_USE_PREMIUM;
    store_journal_entry e = {.unix_ms = now,
                             .kind = hold->use == GJ_USE_MOVE ? STORE_J_MOVE_OUT
                                     : premium                ? STORE_J_PREMIUM
                                                              : STORE_J_SETTLE_AID,
                             .amount = -hold->amount};
    memcpy(e.psn_no, hold->sponsor, sizeof e.psn_no);
    memcpy(e.setl_id, hold->setl_id, sizeof e.setl_id);
    memcpy(e.counterpart, hold->beneficiary, sizeof e.counterpart);
    memcpy(e.caller_id, hold->coordinator, sizeof hold->coordinator);
    snprintf(e.call_id, sizeof e.call_id, "%.40s/%u", hold->setl_id, hold->leg);
    store_spend spend = {.amount = hold->amount, .setl_date = hold->setl_date, .unix_ms = now, .use = hold->use};
    memcpy(spend.sponsor, hold->sponsor, sizeof spend.sponsor);
    memcpy(spend.beneficiary, hold->beneficiary, sizeof spend.beneficiary);
    memcpy(spend.setl_id, hold->setl_id, sizeof spend.setl_id);
    gj_err err;
    bool move = hold->use == GJ_USE_MOVE; /* R23: the person's own balance, not a relative's bill */
    if ((err = store_account_hold(txn, hold->sponsor, -hold->amount, NULL)) != GJ_OK ||
        (err = store_account_move(txn, &e, NULL)) != GJ_OK || (!move && (err = store_spend_put(txn, &spend)) != GJ_OK))
        return gj_reason_of_err(err);
    store_move m;
    if (move && (err = store_move_get(txn, hold->sponsor, &m)) == GJ_OK) {
        /* The forwarding stub from now on: the balance went across. */
        m.state = STORE_MOVE_MOVED;
        m.moved_unix_ms = now;
        m.amount = hold->amount;
        memcpy(m.setl_id, hold->setl_id, sizeof m.setl_id);
        if ((err = store_move_put(txn, &m)) != GJ_OK)
            return gj_reason_of_err(err);
    } else if (move && err != GJ_ERR_NOTFOUND) {
        return gj_reason_of_err(err);
    }
    gj_reason r = clearing_record(txn, window ? window : hold->setl_date, hold->coordinator, hold->setl_id,
                                  hold->leg, premium ? STORE_CLR_PREMIUM : STORE_CLR_PAYMENT,
                                  STORE_CLR_WE_OWE, hold->amount, hold->sponsor, hold->beneficiary);
    if (r != GJ_R_NONE)
        return r;
    hold->state = STORE_HOLD_POSTED;
    hold->resolved_unix_ms = now;
    return GJ_R_NONE;
}

/* Give a posted amount back (a revoke): journal, a refund spend record, and the
 * reverse clearing row. */
static gj_reason participant_refund(store_txn *txn, store_hold *hold, int32_t window, int32_t today,
                                    int64_t now)
{
    store_journal_entry e = {.unix_ms = now, .kind = STORE_J_REFUND, .amount = hold->amount};
    memcpy(e.psn_no, hold->sponsor, sizeof e.psn_no);
    memcpy(e.setl_id, hold->setl_id, sizeof e.setl_id);
    memcpy(e.counterpart, hold->beneficiary, sizeof e.counterpart);
    memcpy(e.caller_id, hold->coordinator, sizeof hold->coordinator);
    snprintf(e.call_id, sizeof e.call_id, "%.40s/%u/refund", hold->setl_id, hold->leg);
    /* now + 1: the spend key is (sponsor, date, time, setl_id), and a refund made in
     * the same transaction as its post must not overwrite the payment's record. */
    store_spend spend = {.amount = hold->amount, .setl_date = today, .unix_ms = now + 1, .use = hold->use,
                         .refund = 1};
    memcpy(spend.sponsor, hold->sponsor, sizeof spend.sponsor);
    memcpy(spend.beneficiary, hold->beneficiary, sizeof spend.beneficiary);
    memcpy(spend.setl_id, hold->setl_id, sizeof spend.setl_id);
    gj_err err;
    if ((err = store_account_move(txn, &e, NULL)) != GJ_OK || (err = store_spend_put(txn, &spend)) != GJ_OK)
        return gj_reason_of_err(err);
    gj_reason r = clearing_record(txn, window ? window : today, hold->coordinator, hold->setl_id, hold->leg,
                                  STORE_CLR_REFUND, STORE_CLR_WE_OWE, -hold->amount, hold->sponsor,
                                  hold->beneficiary);
    if (r != GJ_R_NONE)
        return r;
    hold->state = STORE_HOLD_REFUNDED;
    hold->resolved_unix_ms = now;
    return GJ_R_NONE;
}

/* A VOIDED hold of amount 0 where no hold is: the hold is refused if it ever arrives. */
static gj_reason write_fence(store_txn *txn, const xr_resolve_args *a, int64_t now)
{
    store_hold hold;
    memset(&hold, 0, sizeof hold);
    if (!gj_strcpy_fit(hold.setl_id, sizeof hold.setl_id, a->setl_id) ||
        !gj_strcpy_fit(hold.sponsor, sizeof hold.sponsor, a->sponsor[0] ? a->sponsor : "-") ||
        !gj_strcpy_fit(hold.beneficiary, sizeof hold.beneficiary, a->beneficiary[0] ? a->beneficiary : "-") ||
        !gj_strcpy_fit(hold.coordinator, sizeof hold.coordinator, a->coordinator))
        return GJ_R_FIELD_INVALID;
    hold.leg = a->leg;
    hold.state = STORE_HOLD_VOIDED;
    hold.created_unix_ms = hold.resolved_unix_ms = now;
    return gj_reason_of_err(store_hold_put(txn, &hold));
}

/* Post, void or refund hold (setl_id, leg) exactly once. Shared by Peer/Resolve and by
 * the resolver acting on a coordinator's answer. */
gj_reason xr_participant_resolve(store_txn *txn, const xr_resolve_args *a, int32_t today,
                                  int64_t *resolved_amount, char *detail, size_t detail_size)
{
    store_hold hold;
    gj_err err = store_hold_get(txn, a->setl_id, a->leg, &hold);
    *resolved_amount = 0;
    if (err != GJ_OK && err != GJ_ERR_NOTFOUND)
        return gj_reason_of_err(err);
    if (err == GJ_OK && strcmp(hold.coordinator, a->coordinator) != 0) {
        snprintf(detail, detail_size, "hold %s/%u belongs to region %s", a->setl_id, a->leg, hold.coordinator);
        return GJ_R_NOT_BENEFICIARY_HOME;
    }
    int64_t now = gj_now_unix_ms();
    gj_reason r;
    bool post_up_to = a->action == GONGJI__V1__LEG_ACTION__POST && a->up_to;
    if (post_up_to && err == GJ_OK && hold.state != STORE_HOLD_VOIDED && hold.amount <= a->amount) {
        /* The coordinator decided before it knew the hold: the hold says how much. */
        *resolved_amount = hold.amount;
        if (hold.state != STORE_HOLD_HELD)
            return GJ_R_NONE; /* posted (and maybe refunded since): said before */
        if ((r = participant_post(txn, &hold, a->post_window, now)) != GJ_R_NONE)
            return r;
        return gj_reason_of_err(store_hold_put(txn, &hold));
    }
    if (post_up_to && (err == GJ_ERR_NOTFOUND || hold.state == STORE_HOLD_VOIDED)) {
        /* Nothing held: nothing moves, and (as for a void) a fence refuses the hold if it
         * ever arrives. */
        return err == GJ_OK ? GJ_R_NONE : write_fence(txn, a, now);
    }
    if (a->action == GONGJI__V1__LEG_ACTION__VOID) {
        if (err == GJ_ERR_NOTFOUND)
            return write_fence(txn, a, now); /* the void came first */
        if (hold.state == STORE_HOLD_VOIDED)
            return GJ_R_NONE;
        if (hold.state != STORE_HOLD_HELD) {
            snprintf(detail, detail_size, "hold %s/%u was already posted", a->setl_id, a->leg);
            return GJ_R_HOLD_CONFLICT;
        }
        if ((err = store_account_hold(txn, hold.sponsor, -hold.amount, NULL)) != GJ_OK)
            return gj_reason_of_err(err);
        hold.state = STORE_HOLD_VOIDED;
        hold.resolved_unix_ms = now;
        *resolved_amount = hold.amount;
        return gj_reason_of_err(store_hold_put(txn, &hold));
    }
    if (err == GJ_ERR_NOTFOUND)
        return GJ_R_HOLD_NOT_FOUND;
    *resolved_amount = hold.amount;
    if (hold.state == STORE_HOLD_VOIDED || hold.amount != a->amount) {
        snprintf(detail, detail_size, "hold %s/%u is %s of %" PRId64 ", asked to %s %" PRId64, a->setl_id,
                 a->leg, hold.state == STORE_HOLD_VOIDED ? "voided" : "held", hold.amount,
                 a->action == GONGJI__V1__LEG_ACTION__POST ? "post" : "refund", a->amount);
        return GJ_R_HOLD_CONFLICT;
    }
    if (a->action == GONGJI__V1__LEG_ACTION__POST) {
        if (hold.state != STORE_HOLD_HELD)
            return GJ_R_NONE; /* posted (and maybe refunded since): said before */
        if ((r = participant_post(txn, &hold, a->post_window, now)) != GJ_R_NONE)
            return r;
        return gj_reason_of_err(store_hold_put(txn, &hold));
    }
    /* REFUND: a revoke. A hold never posted is posted first, so the journal and the
     * clearing rows show both movements. */
    if (hold.state == STORE_HOLD_REFUNDED)
        return GJ_R_NONE;
    if (hold.state == STORE_HOLD_HELD && (r = participant_post(txn, &hold, a->post_window, now)) != GJ_R_NONE)
        return r;
    if ((r = participant_refund(txn, &hold, a->refund_window, today, now)) != GJ_R_NONE)
        return r;
    return gj_reason_of_err(store_hold_put(txn, &hold));
}

gj_reason xr_resolve_check(call *c)
{
    Gongji__V1__ResolveRequest *req = (Gongji__V1__ResolveRequest *)c->request;
    if (!ops_is_role(c, GONGJI__V1__ROLE__PEER))
        return ops_deny(c, "only a peer node");
    if (req->setl_id[0] == '\0' || strlen(req->setl_id) > GJ_SETL_ID_MAX || req->leg >= GJ_SPONSORS_MAX)
        return call_fail(c, GJ_R_FIELD_INVALID, "setl_id and leg identify the hold");
    if (strlen(c->env->caller_id) != GJ_ADMDVS_LEN)
        return call_fail(c, GJ_R_CALLER_NOT_ALLOWED, "a peer's caller_id is its region");
    /* Only the node that made the settlement id (its region leads it) resolves its
     * legs: a void from anyone else would fence a hold that is not theirs. */
    if (strncmp(req->setl_id, c->env->caller_id, GJ_ADMDVS_LEN) != 0)
        return call_fail(c, GJ_R_NOT_BENEFICIARY_HOME, "settlement %.40s was made by region %.6s, not %.8s",
                         req->setl_id, req->setl_id, c->env->caller_id);
    if (strlen(req->sponsor_psn_no) > GJ_PSN_NO_MAX || strlen(req->beneficiary_psn_no) > GJ_PSN_NO_MAX)
        return GJ_R_FIELD_INVALID;
    if ((req->post_window && !gj_date_valid(req->post_window)) ||
        (req->refund_window && !gj_date_valid(req->refund_window)))
        return call_fail(c, GJ_R_FIELD_INVALID, "windows are yyyymmdd");
    if (req->action == GONGJI__V1__LEG_ACTION__POST || req->action == GONGJI__V1__LEG_ACTION__REFUND_LEG)
        return rules_check_amount(req->amount);
    if (req->action != GONGJI__V1__LEG_ACTION__VOID)
        return call_fail(c, GJ_R_FIELD_INVALID, "action is POST, VOID or REFUND_LEG");
    return GJ_R_NONE;
}

gj_reason xr_resolve_apply(call *c, store_txn *txn)
{
    Gongji__V1__ResolveRequest *req = (Gongji__V1__ResolveRequest *)c->request;
    int64_t amount = 0;
    xr_resolve_args a = {.coordinator = c->env->caller_id, .setl_id = req->setl_id, .leg = req->leg,
                          .action = (int)req->action, .amount = req->amount,
                          .sponsor = req->sponsor_psn_no, .beneficiary = req->beneficiary_psn_no,
                          .post_window = req->post_window, .refund_window = req->refund_window,
                          .up_to = req->up_to};
    gj_reason r = xr_participant_resolve(txn, &a, c->today, &amount, c->message, sizeof c->message);
    if (r != GJ_R_NONE)
        return r;
    Gongji__V1__ResolveReply *ans = call_alloc(c, sizeof *ans);
    if (ans == NULL)
        return ops_out_of_memory(c);
    gongji__v1__resolve_reply__init(ans);
    ans->amount = amount;
    c->answer = &ans->base;
    return GJ_R_NONE;
}
