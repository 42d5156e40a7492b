/* After the payment (R13–R15, R21): revoke by settlement id, reverse by the caller's call
 * id, recover a settlement's mutual-aid part for misuse, resident premiums paid by a
 * sponsor, and a patient's own settlement records.
 *
 * A revoke is decided where the settlement was coordinated, in one transaction: the
 * patient's own account and local sponsors are refunded at once, and each remote leg of
 * the stored decision turns into a REFUND that the resolver delivers (exactly once, like
 * a post) to the sponsor's node. */
#include "gj_util.h"
#include "log.h"
#include "ops.h"
#include "xr/deciding.h"
#include "xr/xr.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- routing ---- */

/* A settlement id starts with the region that coordinated it. */
static const char *region_of_setl_id(call *c, const char *id)
{
    if (strlen(id) < GJ_ADMDVS_LEN + 1 || id[GJ_ADMDVS_LEN] != '-' || !gj_all_digits(id, GJ_ADMDVS_LEN))
        return NULL;
    char *region = call_alloc(c, GJ_ADMDVS_LEN + 1);
    if (region != NULL)
        memcpy(region, id, GJ_ADMDVS_LEN);
    return region;
}

const char *life_route_revoke(call *c)
{
    return region_of_setl_id(c, ((Gongji__V1__RevokeRequest *)c->request)->setl_id);
}

const char *life_route_recover(call *c)
{
    return region_of_setl_id(c, ((Gongji__V1__RecoverRequest *)c->request)->setl_id);
}

const char *life_route_reverse(call *c)
{
    return ((Gongji__V1__ReverseRequest *)c->request)->insuplc_admdvs;
}

const char *life_route_premium(call *c)
{
    return ((Gongji__V1__PayPremiumRequest *)c->request)->insuplc_admdvs;
}

/* After a write that may have turned legs into refunds: answer, then deliver them. */
static void write_then_push(call *c)
{
    node *n = c->n;
    char setl_id[GJ_SETL_ID_MAX + 1] = "";
    gj_err result = call_write_wait(c, c->method->apply);
    if (result == GJ_OK)
        memcpy(setl_id, c->push_setl_id, sizeof setl_id);
    call_finish(c);
    if (setl_id[0] != '\0')
        xr_deliver_decision_of(n, setl_id);
}

/* ---- revoke ---- */

static int32_t date_plus_days(int32_t date, uint32_t days)
{
    for (uint32_t i = 0; i < days && i < GJ_REVOKE_DAYS_MAX; i++)
        date = gj_date_next(date);
    return date;
}

static gj_reason refund_to(call *c, store_txn *txn, const char *psn_no, int64_t amount,
                           const char *setl_id, const char *counterpart)
{
    store_journal_entry e = {.unix_ms = gj_now_unix_ms(), .kind = STORE_J_REFUND, .amount = amount};
    gj_strcpy_fit(e.psn_no, sizeof e.psn_no, psn_no);
    gj_strcpy_fit(e.setl_id, sizeof e.setl_id, setl_id);
    gj_strcpy_fit(e.counterpart, sizeof e.counterpart, counterpart);
    gj_strcpy_fit(e.caller_id, sizeof e.caller_id, c->env->caller_id);
    gj_strcpy_fit(e.call_id, sizeof e.call_id, c->env->call_id);
    gj_err err = store_account_move(txn, &e, NULL);
    return err == GJ_OK ? GJ_R_NONE : ops_store_reason(c, err);
}

static Gongji__V1__RevokeReply *revoke_answer(call *c, const store_settlement *s, int64_t acct_refund)
{
    Gongji__V1__RevokeReply *ans = call_alloc(c, sizeof *ans);
    if (ans == NULL)
        return NULL;
    gongji__v1__revoke_reply__init(ans);
    ans->setl_id = call_strdup(c, s->setl_id);
    ans->amount = s->amount;
    ans->acct_refund = acct_refund;
    ans->revoke_date = s->revoke_date;
    ans->refunds = ops_answer_parts(c, s);
    if (ans->setl_id == NULL || ans->refunds == NULL)
        return NULL;
    ans->n_refunds = s->part_count;
    return ans;
}

/* Revoke setl_id inside txn; *out gets the answer. Also used by reversal, and by a
 * recovery (aid_only: the sponsors' parts only; the patient's own part stands). A
 * settlement recovered before is revoked for its own part only: the rest is back. */
static gj_reason revoke_in_txn(call *c, store_txn *txn, const char *setl_id, bool aid_only,
                               Gongji__V1__RevokeReply **out)
{
    return life_undo_in_txn(c, txn, setl_id, aid_only, false, out);
}

gj_reason life_undo_in_txn(call *c, store_txn *txn, const char *setl_id, bool aid_only, bool wallet_return,
                           Gongji__V1__RevokeReply **out)
{
    const char *own = c->n->cfg.region;
    store_settlement s;
    gj_err err = store_settlement_get(txn, setl_id, &s);
    if (err == GJ_ERR_NOTFOUND)
        return deciding_has(c->n, setl_id)
                   ? GJ_R_SETTLEMENT_IN_FLIGHT
                   : call_fail(c, GJ_R_SETTLEMENT_NOT_FOUND, "no settlement %.40s here", setl_id);
    if (err != GJ_OK)
        return ops_store_reason(c, err);
    /* On record but its sponsor's hold not yet known (decided while the hold was made). */
    if (deciding_has(c->n, setl_id))
        return GJ_R_SETTLEMENT_IN_FLIGHT;
    if (s.status == STORE_SETL_REVOKED)
        return call_fail(c, GJ_R_ALREADY_REVOKED, "settlement %s was revoked on %d", s.setl_id, s.revoke_date);
    if (s.use == GJ_USE_MOVE) /* R23: a person's balance that moved here stays moved */
        return call_fail(c, GJ_R_NOT_REVERSIBLE, "settlement %s moved a balance between regions", s.setl_id);
    /* R24: a wallet transfer goes back only when it is not accepted in time. */
    if ((s.use == GJ_USE_WALLET) != wallet_return)
        return call_fail(c, GJ_R_NOT_REVERSIBLE, "settlement %s %s a wallet transfer", s.setl_id,
                         wallet_return ? "is not" : "is");
    bool recovered = s.status == STORE_SETL_RECOVERED;
    if (aid_only && recovered)
        return call_fail(c, GJ_R_ALREADY_RECOVERED, "settlement %s was recovered on %d", s.setl_id, s.revoke_date);
    if (aid_only && s.part_count == 0)
        return GJ_R_NOTHING_TO_RECOVER;
    if (ops_is_role(c, GONGJI__V1__ROLE__INSTITUTION) && strcmp(c->env->caller_id, s.caller_id) != 0)
        return call_fail(c, GJ_R_CALLER_NOT_ALLOWED, "only the institution that settled may revoke");
    uint32_t days = c->policy->revoke_days;
    if (!aid_only && !wallet_return && days > 0 && c->today > date_plus_days(s.setl_date, days))
        return call_fail(c, GJ_R_REVOKE_WINDOW_PASSED, "settled on %d; revocable for %u days", s.setl_date, days);

    gj_reason r;
    int32_t window;
    if ((err = store_window_first_open(txn, c->today, &window)) != GJ_OK)
        return ops_store_reason(c, err);
    /* R14: every fen back where it came from. */
    if (!aid_only && s.acct_pay > 0 && (r = refund_to(c, txn, s.psn_no, s.acct_pay, s.setl_id, "")) != GJ_R_NONE)
        return r;
    store_decision d;
    bool have_decision = false;
    for (uint32_t k = 0; k < s.part_count && !recovered; k++) {
        if (strcmp(s.parts[k].admdvs, own) == 0) {
            if ((r = refund_to(c, txn, s.parts[k].psn_no, s.parts[k].amount, s.setl_id, s.psn_no)) != GJ_R_NONE)
                return r;
            /* + 1 ms: never the same key as the payment's own spend record. */
            store_spend spend = {.amount = s.parts[k].amount, .setl_date = c->today,
                                 .unix_ms = gj_now_unix_ms() + 1, .use = s.use, .refund = 1};
            memcpy(spend.sponsor, s.parts[k].psn_no, sizeof spend.sponsor);
            memcpy(spend.beneficiary, s.psn_no, sizeof spend.beneficiary);
            memcpy(spend.setl_id, s.setl_id, sizeof spend.setl_id);
            if ((err = store_spend_put(txn, &spend)) != GJ_OK)
                return ops_store_reason(c, err);
            continue;
        }
        if (!have_decision) {
            if ((err = store_decision_get(txn, s.setl_id, &d)) != GJ_OK)
                return ops_store_reason(c, err);
            have_decision = true;
        }
        for (uint32_t j = 0; j < d.leg_count; j++) {
            if (d.legs[j].action != STORE_LEG_POST || strcmp(d.legs[j].sponsor, s.parts[k].psn_no) != 0)
                continue;
            /* The sponsor's node gives it back; posted or not yet, REFUND settles both. */
            d.legs[j].action = STORE_LEG_REFUND;
            d.legs[j].acked = 0;
            d.legs[j].speculative = 0; /* known: only a confirmed amount gets this far */
            if ((r = clearing_record(txn, window, d.legs[j].admdvs, s.setl_id, d.legs[j].leg, STORE_CLR_REFUND,
                                     STORE_CLR_OWED_TO_US, -d.legs[j].amount, d.legs[j].sponsor,
                                     s.psn_no)) != GJ_R_NONE)
                return r;
        }
    }
    if (have_decision) {
        d.refund_window = window;
        if ((err = store_decision_put(txn, &d)) != GJ_OK)
            return ops_store_reason(c, err);
        memcpy(c->push_setl_id, s.setl_id, sizeof c->push_setl_id); /* the refunds go out after commit */
    }
    s.status = aid_only ? STORE_SETL_RECOVERED : STORE_SETL_REVOKED;
    s.revoke_date = c->today;
    s.revoke_unix_ms = gj_now_unix_ms();
    if ((err = store_settlement_put(txn, &s)) != GJ_OK)
        return ops_store_reason(c, err);
    if ((*out = revoke_answer(c, &s, aid_only ? 0 : s.acct_pay)) == NULL)
        return ops_out_of_memory(c);
    if (recovered) /* the sponsors' parts went back with the recovery */
        (*out)->n_refunds = 0;
    char mp[GJ_PSN_NO_MAX + 1];
    gj_log(GJ_LOG_INFO, aid_only ? "recover" : "revoke", "setl_id=%s psn_no=%s amount=%" PRId64 " remote_legs=%s",
           s.setl_id, gj_mask(s.psn_no, mp, sizeof mp), s.amount, have_decision ? "yes" : "no");
    return GJ_R_NONE;
}

gj_reason life_revoke_check(call *c)
{
    Gongji__V1__RevokeRequest *req = (Gongji__V1__RevokeRequest *)c->request;
    if (!ops_is_role(c, GONGJI__V1__ROLE__INSTITUTION) && !ops_is_role(c, GONGJI__V1__ROLE__OPERATOR))
        return ops_deny(c, "only a designated institution or an operator");
    if (req->setl_id[0] == '\0' || strlen(req->setl_id) > GJ_SETL_ID_MAX)
        return call_fail(c, GJ_R_FIELD_INVALID, "setl_id is required");
    c->slow = write_then_push;
    return GJ_R_NONE;
}

gj_reason life_revoke_apply(call *c, store_txn *txn)
{
    Gongji__V1__RevokeRequest *req = (Gongji__V1__RevokeRequest *)c->request;
    Gongji__V1__RevokeReply *ans = NULL;
    gj_reason r = revoke_in_txn(c, txn, req->setl_id, false, &ans);
    if (r == GJ_R_NONE)
        c->answer = &ans->base;
    return r;
}

/* ---- recover (R21) ---- */

gj_reason life_recover_check(call *c)
{
    Gongji__V1__RecoverRequest *req = (Gongji__V1__RecoverRequest *)c->request;
    if (!ops_is_role(c, GONGJI__V1__ROLE__OPERATOR))
        return ops_deny(c, "only the coordinating region's operator");
    if (req->setl_id[0] == '\0' || strlen(req->setl_id) > GJ_SETL_ID_MAX)
        return call_fail(c, GJ_R_FIELD_INVALID, "setl_id is required");
    size_t len = strlen(req->reason);
    if (len == 0 || len > GJ_MEMO_MAX || !gj_utf8_valid(req->reason, len))
        return call_fail(c, GJ_R_FIELD_INVALID, "a recovery needs a reason: 1 to %d bytes of UTF-8", GJ_MEMO_MAX);
    c->slow = write_then_push;
    return GJ_R_NONE;
}

gj_reason life_recover_apply(call *c, store_txn *txn)
{
    Gongji__V1__RecoverRequest *req = (Gongji__V1__RecoverRequest *)c->request;
    Gongji__V1__RevokeReply *ans = NULL;
    gj_reason r = revoke_in_txn(c, txn, req->setl_id, true, &ans);
    if (r != GJ_R_NONE)
        return r;
    store_recovery rec = {.unix_ms = gj_now_unix_ms()};
    gj_strcpy_fit(rec.setl_id, sizeof rec.setl_id, req->setl_id);
    gj_strcpy_fit(rec.operator_id, sizeof rec.operator_id, c->env->caller_id);
    gj_strcpy_fit(rec.reason, sizeof rec.reason, req->reason);
    for (size_t k = 0; k < ans->n_refunds; k++)
        rec.amount += ans->refunds[k]->amount;
    gj_err err = store_recovery_put(txn, &rec);
    if (err != GJ_OK)
        return ops_store_reason(c, err);
    gj_log(GJ_LOG_WARN, "recover", "setl_id=%s amount=%" PRId64 " operator=%s", rec.setl_id, rec.amount,
           rec.operator_id);
    c->answer = &ans->base;
    return GJ_R_NONE;
}

/* ---- reverse ---- */

gj_reason life_reverse_check(call *c)
{
    Gongji__V1__ReverseRequest *req = (Gongji__V1__ReverseRequest *)c->request;
    if (!ops_is_role(c, GONGJI__V1__ROLE__INSTITUTION) && !ops_is_role(c, GONGJI__V1__ROLE__OPERATOR))
        return ops_deny(c, "only a designated institution or an operator");
    if (req->original_call_id[0] == '\0' || strlen(req->original_call_id) > GJ_CALL_ID_MAX)
        return call_fail(c, GJ_R_FIELD_INVALID, "original_call_id is required");
    if (strcmp(req->original_call_id, c->env->call_id) == 0)
        return call_fail(c, GJ_R_FIELD_INVALID, "a reversal needs its own call id");
    c->slow = write_then_push;
    return GJ_R_NONE;
}

/* The setl_id in a stored answer to Settle or PayPremium (field 1 of both). */
static bool setl_id_of_answer(const void *bytes, size_t len, char out[GJ_SETL_ID_MAX + 1])
{
    Gongji__V1__Reply *reply = gongji__v1__reply__unpack(NULL, len, bytes);
    bool found = false;
    if (reply != NULL && reply->code == GONGJI__V1__CODE__OK) {
        Gongji__V1__SettleReply *sr = gongji__v1__settle_reply__unpack(NULL, reply->payload.len, reply->payload.data);
        if (sr != NULL) {
            found = gj_strcpy_fit(out, GJ_SETL_ID_MAX + 1, sr->setl_id) && out[0] != '\0';
            gongji__v1__settle_reply__free_unpacked(sr, NULL);
        }
    }
    if (reply != NULL)
        gongji__v1__reply__free_unpacked(reply, NULL);
    return found;
}

gj_reason life_reverse_apply(call *c, store_txn *txn)
{
    Gongji__V1__ReverseRequest *req = (Gongji__V1__ReverseRequest *)c->request;
    const char *caller = c->env->caller_id;
    store_digest digest;
    const void *first;
    size_t first_len;
    Gongji__V1__ReverseReply *ans = call_alloc(c, sizeof *ans);
    if (ans == NULL)
        return ops_out_of_memory(c);
    gongji__v1__reverse_reply__init(ans);
    c->answer = &ans->base;
    gj_err err = store_idem_get(txn, caller, req->original_call_id, &digest, &first, &first_len);
    if (err == GJ_OK && store_digest_equal(&digest, &store_tombstone)) {
        ans->outcome = GONGJI__V1__REVERSE_OUTCOME__TOMBSTONED;
        return GJ_R_NONE;
    }
    if (err == GJ_OK) {
        /* It committed: revoke it (or say it already was). */
        char setl_id[GJ_SETL_ID_MAX + 1];
        store_settlement s;
        if (!setl_id_of_answer(first, first_len, setl_id) ||
            store_settlement_get(txn, setl_id, &s) != GJ_OK)
            return call_fail(c, GJ_R_NOT_REVERSIBLE, "call %s was not a settlement or premium",
                             req->original_call_id);
        ans->outcome = GONGJI__V1__REVERSE_OUTCOME__REVOKED;
        if (s.status == STORE_SETL_REVOKED) {
            ans->revoke = revoke_answer(c, &s, s.acct_pay);
            return ans->revoke ? GJ_R_NONE : ops_out_of_memory(c);
        }
        return revoke_in_txn(c, txn, setl_id, false, &ans->revoke);
    }
    if (err != GJ_ERR_NOTFOUND)
        return ops_store_reason(c, err);
    /* Not committed: a tombstone under the original's key, so that it (in flight now,
     * or arriving late) finds it and moves nothing. */
    Gongji__V1__Reply refused = GONGJI__V1__REPLY__INIT;
    refused.code = (Gongji__V1__Code)gj_reason_code(GJ_R_CALL_REVERSED);
    refused.reason = (char *)gj_reason_name(GJ_R_CALL_REVERSED);
    refused.message = (char *)gj_reason_message(GJ_R_CALL_REVERSED);
    refused.call_id = req->original_call_id;
    refused.served_by = c->n->cfg.region;
    uint8_t buf[512];
    size_t len = gongji__v1__reply__pack(&refused, buf);
    if ((err = store_idem_put(txn, caller, req->original_call_id, &store_tombstone, buf, len)) != GJ_OK)
        return ops_store_reason(c, err);
    ans->outcome = deciding_has_call(c->n, caller, req->original_call_id)
                       ? GONGJI__V1__REVERSE_OUTCOME__ABORTED_IN_FLIGHT
                       : GONGJI__V1__REVERSE_OUTCOME__TOMBSTONED;
    gj_log(GJ_LOG_INFO, "reverse", "call_id=%s outcome=%s", req->original_call_id,
           ans->outcome == GONGJI__V1__REVERSE_OUTCOME__TOMBSTONED ? "tombstoned" : "aborted in flight");
    return GJ_R_NONE;
}

/* ---- premiums (R15) ---- */

gj_reason life_premium_check(call *c)
{
    Gongji__V1__PayPremiumRequest *req = (Gongji__V1__PayPremiumRequest *)c->request;
    gj_reason r;
    if ((r = ops_check_psn_no(c, "sponsor_psn_no", req->sponsor_psn_no)) != GJ_R_NONE ||
        (r = ops_check_psn_no(c, "beneficiary_psn_no", req->beneficiary_psn_no)) != GJ_R_NONE)
        return r;
    if (!ops_is_role(c, GONGJI__V1__ROLE__OPERATOR) && !ops_is_self(c, req->sponsor_psn_no))
        return ops_deny(c, "only the sponsor or an operator");
    if ((r = rules_check_amount(req->amount)) != GJ_R_NONE ||
        (r = rules_check_use(c->policy, GJ_USE_PREMIUM)) != GJ_R_NONE)
        return r;
    if (req->year != 0 && (req->year < 2000 || req->year > 2100))
        return call_fail(c, GJ_R_FIELD_INVALID, "year is 2000..2100");
    const char *sponsor_region = req->sponsor_admdvs;
    if (sponsor_region[0] != '\0' &&
        (strlen(sponsor_region) != GJ_ADMDVS_LEN || !gj_all_digits(sponsor_region, GJ_ADMDVS_LEN)))
        return call_fail(c, GJ_R_FIELD_INVALID, "sponsor_admdvs must be a 6-digit region code");
    store_txn *txn;
    store_person beneficiary;
    store_binding b = {0};
    gj_err err = store_read_begin(c->n->store, &txn);
    if (err != GJ_OK)
        return ops_store_reason(c, err);
    if ((r = ops_get_local_person(c, txn, req->beneficiary_psn_no, &beneficiary)) == GJ_R_NONE) {
        if (strcmp(beneficiary.insutype, "390") != 0)
            r = GJ_R_PREMIUM_NOT_RESIDENT;
        else if ((err = store_binding_get(txn, req->sponsor_psn_no, beneficiary.psn_no, &b)) != GJ_OK ||
                 !rules_binding_pays_on(&b, c->today))
            r = call_fail(c, GJ_R_BINDING_NOT_FOUND, "the sponsor has no binding in force to this relative");
        else if (strcmp(b.sponsor_admdvs, c->n->cfg.region) != 0)
            c->crosses_regions = true; /* the sponsor's node holds the money */
    }
    store_read_end(txn);
    /* The sponsor's region, from the binding when the caller named none (the request
     * itself belongs to protobuf-c and is not ours to change). */
    if (r == GJ_R_NONE && c->crosses_regions)
        memcpy(c->remote_region, b.sponsor_admdvs, sizeof c->remote_region);
    return r;
}

/* Sponsor and relative both here: one transaction, all or nothing. */
gj_reason life_premium_apply(call *c, store_txn *txn)
{
    Gongji__V1__PayPremiumRequest *req = (Gongji__V1__PayPremiumRequest *)c->request;
    store_person beneficiary;
    gj_reason r;
    gj_err err;
    int64_t shareable;
    if ((r = ops_get_local_person(c, txn, req->beneficiary_psn_no, &beneficiary)) != GJ_R_NONE ||
        (r = ops_sponsor_funds(c, txn, req->sponsor_psn_no, beneficiary.psn_no, &shareable)) != GJ_R_NONE)
        return r;
    if (shareable < req->amount)
        return call_fail(c, GJ_R_PREMIUM_NOT_COVERED, "the sponsor can share %" PRId64 " of %" PRId64 " fen",
                         shareable, req->amount);
    store_settlement s = {.amount = req->amount, .mulaid_pay = req->amount, .setl_date = c->today,
                          .unix_ms = gj_now_unix_ms(), .use = GJ_USE_PREMIUM,
                          .status = STORE_SETL_COMMITTED, .part_count = 1};
    node_new_setl_id(c->n, c->today, s.setl_id);
    memcpy(s.psn_no, beneficiary.psn_no, sizeof s.psn_no);
    gj_strcpy_fit(s.parts[0].psn_no, sizeof s.parts[0].psn_no, req->sponsor_psn_no);
    memcpy(s.parts[0].admdvs, c->n->cfg.region, sizeof s.parts[0].admdvs);
    s.parts[0].amount = req->amount;
    gj_strcpy_fit(s.caller_id, sizeof s.caller_id, c->env->caller_id);
    gj_strcpy_fit(s.call_id, sizeof s.call_id, c->env->call_id);
    if ((r = ops_pay_from(c, txn, req->sponsor_psn_no, req->amount, STORE_J_PREMIUM, s.setl_id,
                          beneficiary.psn_no)) != GJ_R_NONE)
        return r;
    store_spend spend = {.amount = req->amount, .setl_date = c->today, .unix_ms = s.unix_ms, .use = GJ_USE_PREMIUM};
    memcpy(spend.sponsor, s.parts[0].psn_no, sizeof spend.sponsor);
    memcpy(spend.beneficiary, beneficiary.psn_no, sizeof spend.beneficiary);
    memcpy(spend.setl_id, s.setl_id, sizeof spend.setl_id);
    if ((err = store_spend_put(txn, &spend)) != GJ_OK || (err = store_settlement_put(txn, &s)) != GJ_OK)
        return ops_store_reason(c, err);
    Gongji__V1__PayPremiumReply *ans = call_alloc(c, sizeof *ans);
    if (ans == NULL)
        return ops_out_of_memory(c);
    gongji__v1__pay_premium_reply__init(ans);
    ans->setl_id = call_strdup(c, s.setl_id);
    ans->amount = s.amount;
    ans->sponsor_psn_no = call_strdup(c, s.parts[0].psn_no);
    ans->sponsor_admdvs = call_strdup(c, s.parts[0].admdvs);
    if (!ans->setl_id || !ans->sponsor_psn_no || !ans->sponsor_admdvs)
        return ops_out_of_memory(c);
    c->answer = &ans->base;
    return GJ_R_NONE;
}

/* ---- a patient's settlements (R13) ---- */

gj_reason life_settlement_records_check(call *c)
{
    Gongji__V1__SettlementRecordsRequest *req = (Gongji__V1__SettlementRecordsRequest *)c->request;
    gj_reason r;
    if ((r = ops_check_psn_no(c, "psn_no", req->psn_no)) != GJ_R_NONE)
        return r;
    if (!ops_is_role(c, GONGJI__V1__ROLE__OPERATOR) && !ops_is_self(c, req->psn_no))
        return ops_deny(c, "only the person themself or an operator");
    int32_t from = req->from_date, to = req->to_date ? req->to_date : c->today;
    if ((from != 0 && !gj_date_valid(from)) || !gj_date_valid(to))
        return call_fail(c, GJ_R_FIELD_INVALID, "dates are yyyymmdd");
    if (req->page_size > GJ_PAGE_SIZE_MAX || strlen(req->page_token) > GJ_PAGE_TOKEN_MAX)
        return call_fail(c, GJ_R_FIELD_INVALID, "page_size is at most %d", GJ_PAGE_SIZE_MAX);
    size_t page = req->page_size ? req->page_size : GJ_PAGE_SIZE_DEFAULT;
    store_settlement *list = call_alloc(c, sizeof *list * page);
    Gongji__V1__SettlementRecordsReply *ans = call_alloc(c, sizeof *ans);
    Gongji__V1__SettlementRecord **out = call_alloc(c, sizeof *out * page);
    if (list == NULL || ans == NULL || out == NULL)
        return ops_out_of_memory(c);
    store_txn *txn;
    gj_err err = store_read_begin(c->n->store, &txn);
    if (err != GJ_OK)
        return ops_store_reason(c, err);
    store_person person;
    char next[GJ_PAGE_TOKEN_MAX + 1] = "";
    size_t n = 0;
    if ((r = ops_get_local_person(c, txn, req->psn_no, &person)) == GJ_R_NONE) {
        err = store_settlement_list_by_psn(txn, person.psn_no, from, to, req->page_token, list, page, &n, next);
        if (err == GJ_ERR_INVAL)
            r = call_fail(c, GJ_R_FIELD_INVALID, "page_token is not one this node gave");
        else if (err != GJ_OK)
            r = ops_store_reason(c, err);
    }
    store_read_end(txn);
    if (r != GJ_R_NONE)
        return r;
    gongji__v1__settlement_records_reply__init(ans);
    for (size_t i = 0; i < n; i++) {
        const store_settlement *s = &list[i];
        Gongji__V1__SettlementRecord *rec = call_alloc(c, sizeof *rec);
        if (rec == NULL)
            return ops_out_of_memory(c);
        gongji__v1__settlement_record__init(rec);
        rec->setl_id = call_strdup(c, s->setl_id);
        rec->amount = s->amount;
        rec->acct_pay = s->acct_pay;
        rec->acct_mulaid_pay = s->mulaid_pay;
        rec->psn_cash_pay = s->cash_pay;
        rec->setl_date = s->setl_date;
        rec->use = (Gongji__V1__UseType)s->use;
        rec->revoked = s->status == STORE_SETL_REVOKED;
        rec->recovered = s->status == STORE_SETL_RECOVERED;
        rec->revoke_date = s->revoke_date;
        rec->parts = ops_answer_parts(c, s);
        if (rec->setl_id == NULL || rec->parts == NULL)
            return ops_out_of_memory(c);
        rec->n_parts = s->part_count;
        out[i] = rec;
    }
    ans->records = out;
    ans->n_records = n;
    ans->next_page_token = call_strdup(c, next);
    if (ans->next_page_token == NULL)
        return ops_out_of_memory(c);
    c->answer = &ans->base;
    return GJ_R_NONE;
}
