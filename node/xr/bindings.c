/* Bindings whose two people live on different nodes (docs/federation.md, "Bindings
 * across regions"). The sponsor's node is authoritative: it owns the money and its
 * policy decides relations and caps. It checks its side, asks the beneficiary's node to
 * check its side and keep a copy with the sponsor's place in the deduction order
 * (Peer/AcceptBinding), then writes the binding. */
#include "xr_internal.h"
#include "gj_util.h"
#include "log.h"
#include "routing.h"

#include <stdio.h>
#include <string.h>

/* ---- cross-region bindings: the sponsor's side ---- */

/* Everything the sponsor's node decides on its own; run before asking the beneficiary's
 * node and again inside the write. */
static gj_reason sponsor_side_checks(call *c, store_txn *txn, const Gongji__V1__BindRequest *req,
                                     store_person *sponsor, xr_sponsor_side *side)
{
    const gj_policy *policy = c->policy;
    store_account account;
    store_binding existing;
    gj_reason r;
    if ((r = ops_get_local_person(c, txn, req->sponsor_psn_no, sponsor)) != GJ_R_NONE)
        return r;
    bool has_account = store_account_get(txn, sponsor->psn_no, &account) == GJ_OK;
    if ((r = rules_check_sponsor(sponsor, has_account)) != GJ_R_NONE)
        return r;
    if (!policy->live)
        return GJ_R_REGION_NOT_LIVE;
    if (!rules_same_province(policy->region, req->beneficiary_admdvs) && !policy->cross_province_pilot)
        return call_fail(c, GJ_R_CROSS_PROVINCE_NOT_IN_PILOT,
                         "region %s is not in the cross-province pilot", policy->region);
    gj_err err = store_binding_get(txn, sponsor->psn_no, req->beneficiary_psn_no, &existing);
    if (err != GJ_OK && err != GJ_ERR_NOTFOUND)
        return ops_store_reason(c, err);
    if ((r = ops_check_rebind(c, err == GJ_OK ? &existing : NULL)) != GJ_R_NONE)
        return r;
    size_t as_sponsor, as_beneficiary;
    if ((r = ops_count_in_force(c, txn, sponsor->psn_no, true, req->beneficiary_psn_no, &as_sponsor)) ||
        (r = ops_count_in_force(c, txn, sponsor->psn_no, false, "", &as_beneficiary)) ||
        (r = ops_check_yearly_cap(c, txn, sponsor->psn_no, req->beneficiary_psn_no)))
        return r;
    /* The beneficiary's node applies its own caps with these counts. */
    gj_policy beneficiary_side;
    rules_policy_default(&beneficiary_side, req->beneficiary_admdvs);
    *side = (xr_sponsor_side){.live = policy->live, .pilot = policy->cross_province_pilot,
                              .one_relationship = policy->one_relationship_per_person,
                              .as_sponsor = (uint32_t)as_sponsor, .as_beneficiary = (uint32_t)as_beneficiary};
    return rules_check_caps(policy, &beneficiary_side, as_sponsor, as_beneficiary, 0, 0);
}

static void fill_binding(store_binding *b, const store_person *sponsor,
                         const Gongji__V1__BindRequest *req, int32_t today)
{
    memset(b, 0, sizeof *b);
    memcpy(b->sponsor, sponsor->psn_no, sizeof b->sponsor);
    gj_strcpy_fit(b->beneficiary, sizeof b->beneficiary, req->beneficiary_psn_no);
    memcpy(b->sponsor_admdvs, sponsor->admdvs, sizeof b->sponsor_admdvs);
    gj_strcpy_fit(b->beneficiary_admdvs, sizeof b->beneficiary_admdvs, req->beneficiary_admdvs);
    b->relation = (uint8_t)req->relation;
    b->begin_date = today;
    b->end_date = req->last_date ? gj_date_next(req->last_date) : 0;
    b->created_unix_ms = gj_now_unix_ms();
}

static gj_reason bind_remote_apply(call *c, store_txn *txn)
{
    Gongji__V1__BindRequest *req = (Gongji__V1__BindRequest *)c->request;
    store_person sponsor;
    store_binding b;
    xr_sponsor_side side;
    gj_reason r = sponsor_side_checks(c, txn, req, &sponsor, &side);
    if (r != GJ_R_NONE)
        return r;
    fill_binding(&b, &sponsor, req, c->today);
    gj_err err = store_binding_put(txn, &b);
    if (err != GJ_OK)
        return ops_store_reason(c, err);
    Gongji__V1__BindReply *ans = call_alloc(c, sizeof *ans);
    if (ans == NULL || (gongji__v1__bind_reply__init(ans), ans->binding = ops_answer_binding(c, &b)) == NULL)
        return ops_out_of_memory(c);
    c->answer = &ans->base;
    char ms[GJ_PSN_NO_MAX + 1], mb[GJ_PSN_NO_MAX + 1];
    gj_log(GJ_LOG_INFO, "bind", "sponsor=%s beneficiary=%s beneficiary_region=%s relation=%s begin=%d end=%d",
           gj_mask(b.sponsor, ms, sizeof ms), gj_mask(b.beneficiary, mb, sizeof mb),
           b.beneficiary_admdvs, rules_relation_name(b.relation), b.begin_date, b.end_date);
    return GJ_R_NONE;
}

/* Tell the beneficiary's node about b (new or ended); on failure c says why. */
static gj_reason send_accept_binding(call *c, const store_binding *b, const xr_sponsor_side *side)
{
    char detail[256];
    gj_reason r = xr_port_accept_binding(c->n, b, side, route_peer_budget_ms(c), detail, sizeof detail);
    if (r != GJ_R_NONE)
        call_fail(c, r, "%s", detail[0] ? detail : gj_reason_message(r));
    return r;
}

void xr_bind(call *c)
{
    Gongji__V1__BindRequest *req = (Gongji__V1__BindRequest *)c->request;
    if (call_replay_if_answered(c)) {
        call_finish(c);
        return;
    }
    store_txn *txn;
    store_person sponsor;
    store_binding b;
    xr_sponsor_side side;
    gj_err begun = store_read_begin(c->n->store, &txn);
    if (begun != GJ_OK) {
        c->reason = gj_reason_of_err(begun); /* a full reader table is OVERLOADED */
        call_finish(c);
        return;
    }
    gj_reason r = sponsor_side_checks(c, txn, req, &sponsor, &side);
    store_read_end(txn);
    if (r != GJ_R_NONE) {
        c->reason = r;
        call_finish(c);
        return;
    }
    fill_binding(&b, &sponsor, req, c->today);
    side.verification = req->verification;
    side.attester = ops_attester(c);
    /* The beneficiary's side first: a copy there without the binding here never pays
     * (the sponsor's node refuses holds it cannot back), the reverse would. */
    if ((r = send_accept_binding(c, &b, &side)) != GJ_R_NONE) {
        c->reason = r;
        call_finish(c);
        return;
    }
    call_write_wait(c, bind_remote_apply);
    call_finish(c);
}

void xr_unbind(call *c)
{
    Gongji__V1__UnbindRequest *req = (Gongji__V1__UnbindRequest *)c->request;
    if (call_write_wait(c, c->method->apply) != GJ_OK) {
        call_finish(c);
        return;
    }
    /* Tell the beneficiary's node, best effort: holds are refused here after the end
     * date whatever its copy says. */
    store_txn *txn;
    store_binding b;
    if (store_read_begin(c->n->store, &txn) == GJ_OK) {
        gj_err err = store_binding_get(txn, req->sponsor_psn_no, req->beneficiary_psn_no, &b);
        store_read_end(txn);
        if (err == GJ_OK) {
            char saved[sizeof c->message];
            memcpy(saved, c->message, sizeof saved);
            gj_reason saved_reason = c->reason;
            const gj_policy *policy = c->policy;
            xr_sponsor_side ending = {.live = policy->live, .pilot = policy->cross_province_pilot,
                                      .one_relationship = policy->one_relationship_per_person, .ending = true};
            if (send_accept_binding(c, &b, &ending) != GJ_R_NONE)
                gj_log(GJ_LOG_WARN, "unbind", "region %s not told of the end: %s",
                       b.beneficiary_admdvs, c->message);
            memcpy(c->message, saved, sizeof saved);
            c->reason = saved_reason;
        }
    }
    call_finish(c);
}

/* ---- cross-region bindings: the beneficiary's side ---- */

gj_reason xr_accept_binding_check(call *c)
{
    Gongji__V1__AcceptBindingRequest *req = (Gongji__V1__AcceptBindingRequest *)c->request;
    gj_reason r;
    if (!ops_is_role(c, GONGJI__V1__ROLE__PEER))
        return ops_deny(c, "only a peer node");
    Gongji__V1__Binding *b = req->binding;
    if (b == NULL)
        return call_fail(c, GJ_R_FIELD_INVALID, "binding is required");
    if ((r = ops_check_psn_no(c, "sponsor_psn_no", b->sponsor_psn_no)) != GJ_R_NONE ||
        (r = ops_check_psn_no(c, "beneficiary_psn_no", b->beneficiary_psn_no)) != GJ_R_NONE)
        return r;
    /* R23: the beneficiary's node ends a binding whose beneficiary moved away. */
    if (req->ending && strcmp(b->sponsor_admdvs, c->n->cfg.region) == 0 &&
        strcmp(c->env->caller_id, b->beneficiary_admdvs) == 0)
        return b->end_date && gj_date_valid(b->end_date) ? GJ_R_NONE
                                                          : call_fail(c, GJ_R_FIELD_INVALID, "an ending needs end_date");
    if (strcmp(b->beneficiary_admdvs, c->n->cfg.region) != 0)
        return call_fail(c, GJ_R_PERSON_NOT_LOCAL, "the beneficiary is not insured here");
    if (strlen(b->sponsor_admdvs) != GJ_ADMDVS_LEN || !gj_all_digits(b->sponsor_admdvs, GJ_ADMDVS_LEN))
        return call_fail(c, GJ_R_FIELD_INVALID, "sponsor_admdvs must be a 6-digit region code");
    /* Only the sponsor's home node speaks for its bindings. */
    if (strcmp(c->env->caller_id, b->sponsor_admdvs) != 0)
        return call_fail(c, GJ_R_CALLER_NOT_ALLOWED, "only region %s may record this binding",
                         b->sponsor_admdvs);
    if ((b->begin_date && !gj_date_valid(b->begin_date)) || (b->end_date && !gj_date_valid(b->end_date)))
        return call_fail(c, GJ_R_FIELD_INVALID, "dates are yyyymmdd");
    return rules_check_relation(c->policy, b->relation) == GJ_R_RELATION_INVALID
               ? GJ_R_RELATION_INVALID
               : GJ_R_NONE;
}

gj_reason xr_accept_binding_apply(call *c, store_txn *txn)
{
    Gongji__V1__AcceptBindingRequest *req = (Gongji__V1__AcceptBindingRequest *)c->request;
    Gongji__V1__Binding *wb = req->binding;
    const gj_policy *own = c->policy;
    store_person beneficiary;
    store_binding copy = {0}, existing;
    gj_reason r;
    gj_err err;
    if (req->ending && strcmp(wb->sponsor_admdvs, c->n->cfg.region) == 0) {
        /* The sponsor's side, told by the beneficiary's node (R23): end it, never later. */
        Gongji__V1__AcceptBindingReply *ans = call_alloc(c, sizeof *ans);
        if (ans == NULL)
            return ops_out_of_memory(c);
        gongji__v1__accept_binding_reply__init(ans);
        c->answer = &ans->base;
        err = store_binding_get(txn, wb->sponsor_psn_no, wb->beneficiary_psn_no, &existing);
        if (err == GJ_ERR_NOTFOUND)
            return GJ_R_NONE;
        if (err != GJ_OK)
            return ops_store_reason(c, err);
        if (existing.end_date != 0 && existing.end_date <= wb->end_date)
            return GJ_R_NONE;
        existing.end_date = wb->end_date < existing.begin_date ? existing.begin_date : wb->end_date;
        return (err = store_binding_put(txn, &existing)) == GJ_OK ? GJ_R_NONE : ops_store_reason(c, err);
    }
    if ((r = ops_get_local_person(c, txn, wb->beneficiary_psn_no, &beneficiary)) != GJ_R_NONE)
        return r;
    gj_strcpy_fit(copy.sponsor, sizeof copy.sponsor, wb->sponsor_psn_no);
    memcpy(copy.beneficiary, beneficiary.psn_no, sizeof copy.beneficiary);
    gj_strcpy_fit(copy.sponsor_admdvs, sizeof copy.sponsor_admdvs, wb->sponsor_admdvs);
    memcpy(copy.beneficiary_admdvs, beneficiary.admdvs, sizeof copy.beneficiary_admdvs);
    copy.relation = (uint8_t)wb->relation;
    copy.begin_date = wb->begin_date ? wb->begin_date : c->today;
    copy.end_date = wb->end_date;
    copy.created_unix_ms = gj_now_unix_ms();

    Gongji__V1__AcceptBindingReply *ans = call_alloc(c, sizeof *ans);
    if (ans == NULL)
        return ops_out_of_memory(c);
    gongji__v1__accept_binding_reply__init(ans);
    ans->beneficiary_insutype = call_strdup(c, beneficiary.insutype);
    c->answer = &ans->base;

    err = store_binding_get(txn, copy.sponsor, copy.beneficiary, &existing);
    if (err != GJ_OK && err != GJ_ERR_NOTFOUND)
        return ops_store_reason(c, err);
    bool have = err == GJ_OK;
    if (req->ending) {
        /* An ending: keep the copy's history right; nothing to check. */
        if (have) {
            existing.end_date = copy.end_date;
            copy = existing;
        }
        return (err = store_binding_put(txn, &copy)) == GJ_OK ? GJ_R_NONE : ops_store_reason(c, err);
    }
    if (have && rules_binding_in_force(&existing, c->today) && existing.begin_date == copy.begin_date)
        return GJ_R_NONE; /* the same binding again: already recorded */
    if (have && rules_binding_in_force(&existing, c->today))
        return GJ_R_BINDING_EXISTS;

    gj_policy sponsor_side;
    rules_policy_default(&sponsor_side, copy.sponsor_admdvs);
    sponsor_side.live = req->sponsor_region_live;
    sponsor_side.cross_province_pilot = req->sponsor_region_pilot;
    sponsor_side.one_relationship_per_person = req->sponsor_one_relationship;
    size_t b_as_sponsor, b_as_beneficiary;
    if ((r = rules_check_beneficiary(&beneficiary)) != GJ_R_NONE ||
        (r = rules_check_scope(&sponsor_side, own, beneficiary.insutype)) != GJ_R_NONE ||
        (r = ops_check_verification(c, &beneficiary, req->verification)) != GJ_R_NONE)
        return r;
    if ((r = ops_count_in_force(c, txn, beneficiary.psn_no, true, "", &b_as_sponsor)) ||
        (r = ops_count_in_force(c, txn, beneficiary.psn_no, false, copy.sponsor, &b_as_beneficiary)))
        return r;
    if ((r = rules_check_caps(&sponsor_side, own, req->sponsor_as_sponsor, req->sponsor_as_beneficiary,
                              b_as_sponsor, b_as_beneficiary)) != GJ_R_NONE)
        return r;
    if ((err = store_binding_put(txn, &copy)) != GJ_OK)
        return ops_store_reason(c, err);
    if ((r = ops_record_verification(c, txn, &copy, req->verification, req->attester)) != GJ_R_NONE)
        return r;
    return ops_order_add(c, txn, copy.beneficiary, copy.sponsor, copy.sponsor_admdvs);
}
