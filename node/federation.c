/* Across regions (SPEC §5): bindings whose two people live on different nodes, and
 * settlements whose sponsors do.
 *
 * Bindings: the sponsor's node is authoritative (it owns the money and its policy
 * applies). It checks its side, asks the beneficiary's node to check its side and keep a
 * copy plus the deduction-order entry (Peer/AcceptBinding), then writes the binding.
 *
 * Settlements: the beneficiary's node coordinates. It walks the deduction order; each
 * remote sponsor's node holds that sponsor's part after checking the binding, the policy
 * and the floor itself (Peer/Hold). The coordinator then writes one durable decision
 * (own account and local sponsors debited, remote legs to post or void) before it
 * answers, and keeps sending posts and voids (Peer/Resolve) until each is acknowledged.
 * A participant that never hears asks (Peer/QueryDecision); with no decision on record
 * the answer is void (presumed abort). */
#include "gj_util.h"
#include "log.h"
#include "session.h"
#include "ops.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- routing ---- */

const char *fed_route_bind(call *c)
{
    return ((Gongji__V1__BindRequest *)c->request)->sponsor_admdvs;
}

const char *fed_route_unbind(call *c)
{
    return ((Gongji__V1__UnbindRequest *)c->request)->sponsor_admdvs;
}

const char *fed_route_settle(call *c)
{
    return ((Gongji__V1__SettleRequest *)c->request)->insuplc_admdvs;
}

/* Time a call to a peer may take: the peer timeout, cut to what the caller's deadline
 * leaves after a margin for our own answer. <= 0: no time left. */
static int peer_budget_ms(call *c)
{
    int64_t now = gj_now_unix_ms();
    int64_t deadline = c->env->deadline_unix_ms ? c->env->deadline_unix_ms : now + GJ_DEADLINE_DEFAULT_MS;
    int64_t left = deadline - now - GJ_HOP_MARGIN_MS;
    if (left > (int64_t)c->n->cfg.peer_timeout_ms)
        left = c->n->cfg.peer_timeout_ms;
    return (int)left;
}

/* Another copy of this call (the same caller and call id, sent twice or through two
 * nodes) is being decided by another worker, after writing its answer before its
 * sponsor's hold came back: wait for it, within this call's own time. */
static void await_other_copy(call *c)
{
    int64_t until = gj_mono_ms() + peer_budget_ms(c);
    while (node_deciding_has_other_call(c->n, c->env->caller_id, c->env->call_id, c->deciding_setl_id) &&
           gj_mono_ms() < until) {
        struct timespec pause = {0, 2 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
}

/* A repeat of an answered write: answer it again (true), or refuse a reused id. */
static bool replay_if_answered(call *c)
{
    store_txn *txn;
    await_other_copy(c);
    store_digest digest;
    const void *reply;
    size_t len;
    if (store_read_begin(c->n->store, &txn) != GJ_OK)
        return false;
    bool done = false;
    if (store_idem_get(txn, c->env->caller_id, c->env->call_id, &digest, &reply, &len) == GJ_OK) {
        if (store_digest_equal(&digest, &store_tombstone)) {
            call_fail(c, GJ_R_CALL_REVERSED, "call id %s was reversed before it took effect",
                      c->env->call_id);
        } else if (!store_digest_equal(&digest, &c->request_digest)) {
            call_fail(c, GJ_R_CALL_ID_REUSED, "call id %s was first used for another request",
                      c->env->call_id);
        } else if (node_deciding_has_call(c->n, c->env->caller_id, c->env->call_id)) {
            /* Answered on record, but written before its sponsor's hold came back (or a
             * crash left that unknown): the answer may still change. */
            call_fail(c, GJ_R_SETTLEMENT_IN_FLIGHT, "call id %s is still being decided", c->env->call_id);
        } else if ((c->reply_bytes = malloc(len ? len : 1)) != NULL) {
            memcpy(c->reply_bytes, reply, len);
            c->reply_len = len;
            c->reply_owned = true;
        } else {
            c->reason = GJ_R_OVERLOADED;
        }
        done = true;
    }
    store_read_end(txn);
    return done;
}

/* ---- cross-region bindings: the sponsor's side ---- */

/* Everything the sponsor's node decides on its own; run before asking the beneficiary's
 * node and again inside the write. */
static gj_reason sponsor_side_checks(call *c, store_txn *txn, const Gongji__V1__BindRequest *req,
                                     store_person *sponsor)
{
    const gj_policy *policy = &c->n->cfg.policy;
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
    if (err == GJ_OK && rules_binding_in_force(&existing, c->today))
        return GJ_R_BINDING_EXISTS;
    if (err != GJ_OK && err != GJ_ERR_NOTFOUND)
        return ops_store_reason(c, err);
    size_t as_sponsor, as_beneficiary;
    if ((r = ops_count_in_force(c, txn, sponsor->psn_no, true, req->beneficiary_psn_no, &as_sponsor)) ||
        (r = ops_count_in_force(c, txn, sponsor->psn_no, false, "", &as_beneficiary)))
        return r;
    /* The beneficiary's node applies its own caps with these counts. */
    gj_policy beneficiary_side;
    rules_policy_default(&beneficiary_side, req->beneficiary_admdvs);
    c->ext = (void *)(uintptr_t)((as_sponsor << 16) | (as_beneficiary & 0xffff));
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
    b->created_unix_ms = gj_now_unix_ms();
}

static gj_reason bind_remote_apply(call *c, store_txn *txn)
{
    Gongji__V1__BindRequest *req = (Gongji__V1__BindRequest *)c->request;
    store_person sponsor;
    store_binding b;
    gj_reason r = sponsor_side_checks(c, txn, req, &sponsor);
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
    gj_log(GJ_LOG_INFO, "bind", "sponsor=%s beneficiary=%s beneficiary_region=%s relation=%s begin=%d",
           gj_mask(b.sponsor, ms, sizeof ms), gj_mask(b.beneficiary, mb, sizeof mb),
           b.beneficiary_admdvs, rules_relation_name(b.relation), b.begin_date);
    return GJ_R_NONE;
}

/* Tell the beneficiary's node about b (new or ended). */
static gj_reason send_accept_binding(call *c, const store_binding *b, uint32_t as_sponsor,
                                     uint32_t as_beneficiary, int timeout_ms)
{
    node *n = c->n;
    Gongji__V1__Binding wire;
    gongji__v1__binding__init(&wire);
    wire.sponsor_psn_no = (char *)b->sponsor;
    wire.beneficiary_psn_no = (char *)b->beneficiary;
    wire.sponsor_admdvs = (char *)b->sponsor_admdvs;
    wire.beneficiary_admdvs = (char *)b->beneficiary_admdvs;
    wire.relation = (Gongji__V1__Relation)b->relation;
    wire.begin_date = b->begin_date;
    wire.end_date = b->end_date;
    Gongji__V1__AcceptBindingRequest req = GONGJI__V1__ACCEPT_BINDING_REQUEST__INIT;
    req.binding = &wire;
    req.sponsor_region_live = n->cfg.policy.live;
    req.sponsor_region_pilot = n->cfg.policy.cross_province_pilot;
    req.sponsor_one_relationship = n->cfg.policy.one_relationship_per_person;
    req.sponsor_as_sponsor = as_sponsor;
    req.sponsor_as_beneficiary = as_beneficiary;
    char call_id[GJ_CALL_ID_MAX + 1];
    /* Named by a digest of the pair, not the person numbers: call ids go into logs. */
    char pair[2 * GJ_PSN_NO_MAX + 2];
    size_t sponsor_len = strlen(b->sponsor), beneficiary_len = strlen(b->beneficiary);
    memcpy(pair, b->sponsor, sponsor_len + 1);
    memcpy(pair + sponsor_len + 1, b->beneficiary, beneficiary_len);
    uint8_t digest[32];
    gj_sha256(pair, sponsor_len + 1 + beneficiary_len, digest);
    snprintf(call_id, sizeof call_id, "bind-%02x%02x%02x%02x%02x%02x%02x%02x-%d", digest[0], digest[1], digest[2],
             digest[3], digest[4], digest[5], digest[6], digest[7], b->end_date);
    ProtobufCMessage *answer = NULL;
    char detail[256];
    gj_reason r = peers_call(&n->peers, n->cfg.region, b->beneficiary_admdvs,
                             "gongji.v1.Peer/AcceptBinding", call_id, &req.base,
                             &gongji__v1__accept_binding_reply__descriptor, timeout_ms, &answer,
                             detail, sizeof detail);
    if (answer)
        protobuf_c_message_free_unpacked(answer, NULL);
    if (r != GJ_R_NONE)
        call_fail(c, r, "%s", detail[0] ? detail : gj_reason_message(r));
    return r;
}

void fed_bind_remote(call *c)
{
    Gongji__V1__BindRequest *req = (Gongji__V1__BindRequest *)c->request;
    if (replay_if_answered(c)) {
        call_finish(c);
        return;
    }
    store_txn *txn;
    store_person sponsor;
    store_binding b;
    if (store_read_begin(c->n->store, &txn) != GJ_OK) {
        c->reason = GJ_R_STORE_ERROR;
        call_finish(c);
        return;
    }
    gj_reason r = sponsor_side_checks(c, txn, req, &sponsor);
    store_read_end(txn);
    if (r != GJ_R_NONE) {
        c->reason = r;
        call_finish(c);
        return;
    }
    uintptr_t counts = (uintptr_t)c->ext;
    fill_binding(&b, &sponsor, req, c->today);
    /* The beneficiary's side first: a copy there without the binding here never pays
     * (the sponsor's node refuses holds it cannot back), the reverse would. */
    if ((r = send_accept_binding(c, &b, (uint32_t)(counts >> 16), (uint32_t)(counts & 0xffff),
                                 peer_budget_ms(c))) != GJ_R_NONE) {
        c->reason = r;
        call_finish(c);
        return;
    }
    c->apply = bind_remote_apply;
    call_write_wait(c);
    call_finish(c);
}

void fed_unbind_remote(call *c)
{
    Gongji__V1__UnbindRequest *req = (Gongji__V1__UnbindRequest *)c->request;
    if (call_write_wait(c) != GJ_OK) {
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
            if (send_accept_binding(c, &b, 0, 0, peer_budget_ms(c)) != GJ_R_NONE)
                gj_log(GJ_LOG_WARN, "unbind", "region %s not told of the end: %s",
                       b.beneficiary_admdvs, c->message);
            memcpy(c->message, saved, sizeof saved);
            c->reason = saved_reason;
        }
    }
    call_finish(c);
}

/* ---- cross-region bindings: the beneficiary's side ---- */

gj_reason fed_accept_binding_check(call *c)
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
    return rules_check_relation(&c->n->cfg.policy, b->relation) == GJ_R_RELATION_INVALID
               ? GJ_R_RELATION_INVALID
               : GJ_R_NONE;
}

gj_reason fed_accept_binding_apply(call *c, store_txn *txn)
{
    Gongji__V1__AcceptBindingRequest *req = (Gongji__V1__AcceptBindingRequest *)c->request;
    Gongji__V1__Binding *wb = req->binding;
    const gj_policy *own = &c->n->cfg.policy;
    store_person beneficiary;
    store_binding copy = {0}, existing;
    gj_reason r;
    gj_err err;
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
    if (copy.end_date != 0) {
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
        (r = rules_check_scope(&sponsor_side, own, beneficiary.insutype)) != GJ_R_NONE)
        return r;
    if ((r = ops_count_in_force(c, txn, beneficiary.psn_no, true, "", &b_as_sponsor)) ||
        (r = ops_count_in_force(c, txn, beneficiary.psn_no, false, copy.sponsor, &b_as_beneficiary)))
        return r;
    if ((r = rules_check_caps(&sponsor_side, own, req->sponsor_as_sponsor, req->sponsor_as_beneficiary,
                              b_as_sponsor, b_as_beneficiary)) != GJ_R_NONE)
        return r;
    if ((err = store_binding_put(txn, &copy)) != GJ_OK)
        return ops_store_reason(c, err);
    return ops_order_add(c, txn, copy.beneficiary, copy.sponsor, copy.sponsor_admdvs);
}

/* ---- cross-region settlement: the participant (sponsor's node) ---- */

gj_reason fed_hold_check(call *c)
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

gj_reason fed_hold_apply(call *c, store_txn *txn)
{
    Gongji__V1__HoldRequest *req = (Gongji__V1__HoldRequest *)c->request;
    const gj_policy *policy = &c->n->cfg.policy;
    store_hold hold;
    gj_err err = store_hold_get(txn, req->setl_id, req->leg, &hold);
    if (err == GJ_OK) {
        if (hold.state == STORE_HOLD_VOIDED)
            return GJ_R_HOLD_VOIDED; /* the void came first: this hold never takes effect */
        return answer_held(c, hold.amount);
    }
    if (err != GJ_ERR_NOTFOUND)
        return ops_store_reason(c, err);

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
    store_journal_entry e = {.unix_ms = now, .kind = premium ? STORE_J_PREMIUM : STORE_J_SETTLE_AID,
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
    if (store_account_hold(txn, hold->sponsor, -hold->amount, NULL) != GJ_OK ||
        store_account_move(txn, &e, NULL) != GJ_OK || store_spend_put(txn, &spend) != GJ_OK)
        return GJ_R_STORE_ERROR;
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
    if (store_account_move(txn, &e, NULL) != GJ_OK || store_spend_put(txn, &spend) != GJ_OK)
        return GJ_R_STORE_ERROR;
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
static gj_reason write_fence(store_txn *txn, const fed_resolve_args *a, int64_t now)
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
    return store_hold_put(txn, &hold) == GJ_OK ? GJ_R_NONE : GJ_R_STORE_ERROR;
}

/* Post, void or refund hold (setl_id, leg) exactly once. Shared by Peer/Resolve and by
 * the resolver acting on a coordinator's answer. */
gj_reason fed_participant_resolve(store_txn *txn, const fed_resolve_args *a, int32_t today,
                                  int64_t *resolved_amount, char *detail, size_t detail_size)
{
    store_hold hold;
    gj_err err = store_hold_get(txn, a->setl_id, a->leg, &hold);
    *resolved_amount = 0;
    if (err != GJ_OK && err != GJ_ERR_NOTFOUND)
        return GJ_R_STORE_ERROR;
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
        return store_hold_put(txn, &hold) == GJ_OK ? GJ_R_NONE : GJ_R_STORE_ERROR;
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
        if (store_account_hold(txn, hold.sponsor, -hold.amount, NULL) != GJ_OK)
            return GJ_R_STORE_ERROR;
        hold.state = STORE_HOLD_VOIDED;
        hold.resolved_unix_ms = now;
        *resolved_amount = hold.amount;
        return store_hold_put(txn, &hold) == GJ_OK ? GJ_R_NONE : GJ_R_STORE_ERROR;
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
        return store_hold_put(txn, &hold) == GJ_OK ? GJ_R_NONE : GJ_R_STORE_ERROR;
    }
    /* REFUND: a revoke. A hold never posted is posted first, so the journal and the
     * clearing rows show both movements. */
    if (hold.state == STORE_HOLD_REFUNDED)
        return GJ_R_NONE;
    if (hold.state == STORE_HOLD_HELD && (r = participant_post(txn, &hold, a->post_window, now)) != GJ_R_NONE)
        return r;
    if ((r = participant_refund(txn, &hold, a->refund_window, today, now)) != GJ_R_NONE)
        return r;
    return store_hold_put(txn, &hold) == GJ_OK ? GJ_R_NONE : GJ_R_STORE_ERROR;
}

gj_reason fed_resolve_check(call *c)
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

gj_reason fed_resolve_apply(call *c, store_txn *txn)
{
    Gongji__V1__ResolveRequest *req = (Gongji__V1__ResolveRequest *)c->request;
    int64_t amount = 0;
    fed_resolve_args a = {.coordinator = c->env->caller_id, .setl_id = req->setl_id, .leg = req->leg,
                          .action = (int)req->action, .amount = req->amount,
                          .sponsor = req->sponsor_psn_no, .beneficiary = req->beneficiary_psn_no,
                          .post_window = req->post_window, .refund_window = req->refund_window,
                          .up_to = req->up_to};
    gj_reason r = fed_participant_resolve(txn, &a, c->today, &amount, c->message, sizeof c->message);
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

/* ---- cross-region settlement: the coordinator (beneficiary's node) ---- */

gj_reason fed_query_decision_check(call *c)
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
    if (node_deciding_has(c->n, req->setl_id))
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

typedef struct settle_leg {
    char sponsor[GJ_PSN_NO_MAX + 1];
    char admdvs[GJ_ADMDVS_LEN + 1];
    bool remote;
    bool needs_void;  /* a hold may exist whose amount we do not know */
    bool speculative; /* remote: decided as holding all it was asked, before it answered */
    int64_t planned;  /* local: tentative; remote: what was held (or asked, speculative) */
} settle_leg;

typedef struct settle_plan {
    char setl_id[GJ_SETL_ID_MAX + 1];
    char beneficiary[GJ_PSN_NO_MAX + 1];
    int64_t amount;
    uint8_t use;
    bool premium;  /* R15: one named sponsor pays all of it, or nothing happens */
    int64_t own_planned;
    uint32_t leg_count;
    settle_leg legs[GJ_SPONSORS_MAX];
    bool decided;             /* the decision apply ran (not a replay) */
    store_decision decision;  /* what was written */
} settle_plan;

/* A sponsor of this node pays `pay` of settlement s (checked against what it can share
 * by the caller): the debit with its journal entry, and the sponsor's spend record. */
static gj_reason local_sponsor_pays(call *c, store_txn *txn, const store_settlement *s, const char *sponsor,
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

/* The decision: everything local is debited and every remote leg is fixed, in one
 * durable transaction, before anyone is told. */
static gj_reason settle_decide_apply(call *c, store_txn *txn)
{
    settle_plan *plan = c->ext;
    store_person patient;
    store_account own;
    gj_reason r;
    gj_err err;
    plan->decided = true;
    if ((r = ops_get_local_person(c, txn, plan->beneficiary, &patient)) != GJ_R_NONE ||
        (r = rules_check_beneficiary(&patient)) != GJ_R_NONE)
        return r;
    int32_t window;
    if ((err = store_window_first_open(txn, c->today, &window)) != GJ_OK)
        return ops_store_reason(c, err);
    int64_t own_pay = 0;
    if ((err = store_account_get(txn, patient.psn_no, &own)) == GJ_OK) {
        int64_t available = own.balance - own.held;
        own_pay = plan->own_planned < available ? plan->own_planned : available;
        if (own_pay < 0)
            own_pay = 0;
    } else if (err != GJ_ERR_NOTFOUND) {
        return ops_store_reason(c, err);
    }
    store_settlement s = {.amount = plan->amount, .acct_pay = own_pay, .setl_date = c->today,
                          .unix_ms = gj_now_unix_ms(), .use = plan->use,
                          .status = STORE_SETL_COMMITTED};
    memcpy(s.setl_id, plan->setl_id, sizeof s.setl_id);
    memcpy(s.psn_no, patient.psn_no, sizeof s.psn_no);
    gj_strcpy_fit(s.caller_id, sizeof s.caller_id, c->env->caller_id);
    gj_strcpy_fit(s.call_id, sizeof s.call_id, c->env->call_id);
    store_decision *d = &plan->decision;
    memset(d, 0, sizeof *d);
    memcpy(d->setl_id, plan->setl_id, sizeof d->setl_id);
    memcpy(d->beneficiary, patient.psn_no, sizeof d->beneficiary);
    d->unix_ms = s.unix_ms;
    d->post_window = window;

    if (own_pay > 0 &&
        (r = ops_pay_from(c, txn, patient.psn_no, own_pay, STORE_J_SETTLE_OWN, s.setl_id, "")) != GJ_R_NONE)
        return r;
    int64_t paid = own_pay;
    for (uint32_t i = 0; i < plan->leg_count; i++) {
        settle_leg *leg = &plan->legs[i];
        int64_t pay = leg->planned;
        if (leg->remote) {
            if (pay > 0 || leg->needs_void) {
                uint32_t k = d->leg_count++;
                d->legs[k].leg = i;
                memcpy(d->legs[k].sponsor, leg->sponsor, sizeof d->legs[k].sponsor);
                memcpy(d->legs[k].admdvs, leg->admdvs, sizeof d->legs[k].admdvs);
                d->legs[k].amount = pay;
                d->legs[k].action = pay > 0 ? STORE_LEG_POST : STORE_LEG_VOID;
                d->legs[k].speculative = leg->speculative;
                /* R16: the sponsor's region owes ours; recorded with the decision. */
                if (pay > 0 && (r = clearing_record(txn, window, leg->admdvs, s.setl_id, i,
                                                    plan->premium ? STORE_CLR_PREMIUM : STORE_CLR_PAYMENT,
                                                    STORE_CLR_OWED_TO_US, pay, leg->sponsor,
                                                    patient.psn_no)) != GJ_R_NONE)
                    return r;
            }
        } else if (pay > 0) {
            /* A local sponsor may have less now than when planned: pay what is there. */
            int64_t shareable;
            if ((r = ops_sponsor_funds(c, txn, leg->sponsor, patient.psn_no, &shareable)) != GJ_R_NONE)
                return r;
            if (pay > shareable)
                pay = shareable;
            if (plan->premium && pay < plan->amount)
                return call_fail(c, GJ_R_PREMIUM_NOT_COVERED, "the sponsor can share %" PRId64 " fen now",
                                 pay);
            if (pay > 0 && (r = local_sponsor_pays(c, txn, &s, leg->sponsor, pay,
                                                   plan->premium ? STORE_J_PREMIUM : STORE_J_SETTLE_AID)) !=
                               GJ_R_NONE)
                return r;
        }
        if (pay > 0) {
            uint32_t k = s.part_count++;
            memcpy(s.parts[k].psn_no, leg->sponsor, sizeof s.parts[k].psn_no);
            memcpy(s.parts[k].admdvs, leg->admdvs, sizeof s.parts[k].admdvs);
            s.parts[k].amount = pay;
            s.mulaid_pay += pay;
            paid += pay;
        }
    }
    s.cash_pay = plan->amount - paid;
    if (s.cash_pay < 0)
        return call_fail(c, GJ_R_STORE_ERROR, "plan paid more than the amount"); /* a bug */
    if (plan->premium && s.cash_pay != 0)
        return call_fail(c, GJ_R_PREMIUM_NOT_COVERED, "a premium is paid in full by the sponsor or not at all");
    if ((err = store_settlement_put(txn, &s)) != GJ_OK)
        return ops_store_reason(c, err);
    if (d->leg_count > 0 && (err = store_decision_put(txn, d)) != GJ_OK)
        return ops_store_reason(c, err);

    if (plan->premium) {
        Gongji__V1__PayPremiumReply *pa = call_alloc(c, sizeof *pa);
        if (pa == NULL)
            return ops_out_of_memory(c);
        gongji__v1__pay_premium_reply__init(pa);
        pa->setl_id = call_strdup(c, s.setl_id);
        pa->amount = s.amount;
        pa->sponsor_psn_no = call_strdup(c, s.parts[0].psn_no);
        pa->sponsor_admdvs = call_strdup(c, s.parts[0].admdvs);
        if (!pa->setl_id || !pa->sponsor_psn_no || !pa->sponsor_admdvs)
            return ops_out_of_memory(c);
        c->answer = &pa->base;
        char mp[GJ_PSN_NO_MAX + 1];
        gj_log(GJ_LOG_INFO, "premium", "setl_id=%s psn_no=%s amount=%" PRId64 " sponsor_region=%s",
               s.setl_id, gj_mask(patient.psn_no, mp, sizeof mp), s.amount, s.parts[0].admdvs);
        return GJ_R_NONE;
    }
    if (ops_answer_settlement(c, &s) == NULL)
        return ops_out_of_memory(c);
    char mp[GJ_PSN_NO_MAX + 1];
    gj_log(GJ_LOG_INFO, "settle",
           "setl_id=%s psn_no=%s amount=%" PRId64 " acct_pay=%" PRId64 " mulaid=%" PRId64
           " cash=%" PRId64 " sponsors=%u remote_legs=%u",
           s.setl_id, gj_mask(patient.psn_no, mp, sizeof mp), s.amount, s.acct_pay, s.mulaid_pay,
           s.cash_pay, s.part_count, d->leg_count);
    return GJ_R_NONE;
}

/* After a remote sponsor gave less than it was asked (after_*): this node's sponsors
 * after it in the patient's order pay what is still owed, as the walk would have had
 * them (cascade: each in turn until paid; single-sponsor: only when the remote one gave
 * nothing, and then the first that can). Their parts go into s; its cash part shrinks. */
static gj_reason later_local_sponsors_pay(call *c, store_txn *txn, store_settlement *s, const char *after_sponsor,
                                          const char *after_admdvs, bool remote_gave_some)
{
    const gj_policy *policy = &c->n->cfg.policy;
    if ((!policy->cascade && remote_gave_some) || !policy->live)
        return GJ_R_NONE;
    store_order order;
    gj_err err = store_order_get(txn, s->psn_no, &order);
    if (err == GJ_ERR_NOTFOUND)
        return GJ_R_NONE;
    if (err != GJ_OK)
        return ops_store_reason(c, err);
    uint32_t i = 0;
    while (i < order.count && (strcmp(order.sponsors[i].psn_no, after_sponsor) != 0 ||
                               strcmp(order.sponsors[i].admdvs, after_admdvs) != 0))
        i++;
    for (i++; i < order.count && s->cash_pay > 0 && s->part_count < GJ_SPONSORS_MAX; i++) {
        if (strcmp(order.sponsors[i].admdvs, policy->region) != 0)
            continue; /* another remote sponsor would need a hold of its own */
        int64_t shareable;
        gj_reason r = ops_sponsor_funds(c, txn, order.sponsors[i].psn_no, s->psn_no, &shareable);
        if (r != GJ_R_NONE)
            return r;
        int64_t pay = shareable < s->cash_pay ? shareable : s->cash_pay;
        if (pay <= 0)
            continue;
        if ((r = local_sponsor_pays(c, txn, s, order.sponsors[i].psn_no, pay, STORE_J_SETTLE_AID)) != GJ_R_NONE)
            return r;
        uint32_t k = s->part_count++;
        memcpy(s->parts[k].psn_no, order.sponsors[i].psn_no, sizeof s->parts[k].psn_no);
        memcpy(s->parts[k].admdvs, order.sponsors[i].admdvs, sizeof s->parts[k].admdvs);
        s->parts[k].amount = pay;
        s->mulaid_pay += pay;
        s->cash_pay -= pay;
        if (!policy->cascade)
            break;
    }
    return GJ_R_NONE;
}

gj_reason fed_settle_fix_apply(call *c, store_txn *txn)
{
    settle_fix *fix = c->ext;
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
        int64_t less = asked - fix->amount;
        if (less > 0) {
            /* The clearing row goes where it was written; a window closed since then
             * fails the correction, for an operator to see, rather than count twice. */
            err = store_clearing_delete(txn, d->post_window, d->legs[k].admdvs, s.setl_id, fix->leg,
                                        STORE_CLR_PAYMENT);
            if (err != GJ_OK && err != GJ_ERR_NOTFOUND)
                return ops_store_reason(c, err);
            if (fix->amount > 0 &&
                (r = clearing_record(txn, d->post_window, d->legs[k].admdvs, s.setl_id, fix->leg,
                                     STORE_CLR_PAYMENT, STORE_CLR_OWED_TO_US, fix->amount,
                                     d->legs[k].sponsor, s.psn_no)) != GJ_R_NONE)
                return r;
            for (uint32_t p = 0; p < s.part_count; p++) {
                if (strcmp(s.parts[p].psn_no, d->legs[k].sponsor) != 0 ||
                    strcmp(s.parts[p].admdvs, d->legs[k].admdvs) != 0)
                    continue;
                s.parts[p].amount -= less;
                if (s.parts[p].amount == 0) {
                    memmove(&s.parts[p], &s.parts[p + 1], (s.part_count - p - 1) * sizeof s.parts[0]);
                    s.part_count--;
                }
                break;
            }
            s.mulaid_pay -= less;
            s.cash_pay += less; /* what the sponsor did not give: later sponsors here, or cash */
            if ((r = later_local_sponsors_pay(c, txn, &s, d->legs[k].sponsor, d->legs[k].admdvs,
                                              fix->amount > 0)) != GJ_R_NONE)
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
        gj_log(less > 0 ? GJ_LOG_INFO : GJ_LOG_DEBUG, "settle",
               "setl_id=%s leg=%u sponsor=%s held %" PRId64 " of %" PRId64 " asked: corrected", s.setl_id,
               fix->leg, gj_mask(d->legs[k].sponsor, mp, sizeof mp), fix->amount, asked);
    }
    /* The answer the institution gets, which replaces the one on record. */
    store_digest digest;
    const void *reply;
    size_t len;
    if (store_idem_get(txn, s.caller_id, s.call_id, &digest, &reply, &len) == GJ_OK)
        c->request_digest = digest;
    if (ops_answer_settlement(c, &s) == NULL)
        return ops_out_of_memory(c);
    return GJ_R_NONE;
}

gj_reason fed_settle_fix(node *n, settle_fix *fix)
{
    store_txn *txn;
    store_settlement s;
    if (store_read_begin(n->store, &txn) != GJ_OK)
        return GJ_R_STORE_ERROR;
    gj_err err = store_settlement_get(txn, fix->setl_id, &s);
    store_read_end(txn);
    if (err != GJ_OK)
        return GJ_R_STORE_ERROR;
    call *c = call_detached(n, s.caller_id, s.call_id);
    if (c == NULL)
        return GJ_R_OVERLOADED;
    c->ext = fix;
    c->apply = fed_settle_fix_apply;
    gj_reason r = call_rewrite_wait(c) == GJ_OK ? GJ_R_NONE : c->reason;
    if (r != GJ_R_NONE)
        gj_log(GJ_LOG_ERROR, "settle", "setl_id=%s leg=%u cannot be corrected: %s %s", fix->setl_id, fix->leg,
               gj_reason_name(r), c->message);
    call_discard(c);
    return r;
}

/* Ask sponsor leg i's node to hold up to `wanted`. Returns what it held. */
static int64_t request_hold(call *c, settle_plan *plan, uint32_t i, int64_t wanted, int budget_ms)
{
    node *n = c->n;
    settle_leg *leg = &plan->legs[i];
    Gongji__V1__HoldRequest req = GONGJI__V1__HOLD_REQUEST__INIT;
    req.setl_id = plan->setl_id;
    req.leg = i;
    req.sponsor_psn_no = leg->sponsor;
    req.beneficiary_psn_no = plan->beneficiary;
    req.beneficiary_admdvs = n->cfg.region;
    req.amount = wanted;
    req.use = (Gongji__V1__UseType)plan->use;
    req.setl_date = c->today;
    char call_id[GJ_CALL_ID_MAX + 1];
    snprintf(call_id, sizeof call_id, "%.40s/%u", plan->setl_id, i);
    ProtobufCMessage *answer = NULL;
    char detail[256];
    gj_reason r = peers_call(&n->peers, n->cfg.region, leg->admdvs, "gongji.v1.Peer/Hold", call_id,
                             &req.base, &gongji__v1__hold_reply__descriptor, budget_ms, &answer,
                             detail, sizeof detail);
    if (r == GJ_R_NONE) {
        int64_t held = ((Gongji__V1__HoldReply *)answer)->held;
        protobuf_c_message_free_unpacked(answer, NULL);
        if (held < 0 || held > wanted) {
            /* Not what we asked for: void it rather than trust it. */
            leg->needs_void = true;
            return 0;
        }
        return held;
    }
    char masked[GJ_PSN_NO_MAX + 1];
    gj_log(GJ_LOG_WARN, "hold", "setl_id=%s leg=%u sponsor=%s region=%s skipped: %s %s", plan->setl_id,
           i, gj_mask(leg->sponsor, masked, sizeof masked), leg->admdvs, gj_reason_name(r), detail);
    /* No answer: a hold may have been made there. Void it (the void fences it if late). */
    if (r == GJ_R_REGION_UNREACHABLE || r == GJ_R_DEADLINE_PASSED || r == GJ_R_PEER_REFUSED ||
        r == GJ_R_OVERLOADED || r == GJ_R_SHUTTING_DOWN || r == GJ_R_STORE_ERROR || r == GJ_R_STORE_FULL)
        leg->needs_void = true;
    return 0;
}

/* Void, once and without waiting for acknowledgement, every hold of a plan that will
 * never be decided (the store refused the decision, or the call was a repeat). Holds
 * this misses are voided when their node asks: there is no decision on record. */
static void void_undecided(node *n, const settle_plan *plan)
{
    store_decision d = {0};
    memcpy(d.setl_id, plan->setl_id, sizeof d.setl_id);
    memcpy(d.beneficiary, plan->beneficiary, sizeof d.beneficiary);
    for (uint32_t i = 0; i < plan->leg_count; i++) {
        const settle_leg *leg = &plan->legs[i];
        if (!leg->remote || (leg->planned == 0 && !leg->needs_void))
            continue;
        uint32_t k = d.leg_count++;
        d.legs[k].leg = i;
        memcpy(d.legs[k].sponsor, leg->sponsor, sizeof d.legs[k].sponsor);
        memcpy(d.legs[k].admdvs, leg->admdvs, sizeof d.legs[k].admdvs);
        d.legs[k].action = STORE_LEG_VOID;
    }
    if (d.leg_count > 0)
        resolver_push_decision(n, &d);
}

/* Whether remote leg i may be decided before its hold answers: it is the last remote
 * sponsor the walk can reach (the ones after it are on this node), so if it holds
 * everything asked nothing else changes, and if it holds less the correction lets this
 * node's later sponsors pay the rest, then cash, as the two-step order would have it.
 * Remote sponsors before it were asked one by one as usual. */
static bool may_decide_while_holding(const node *n, const settle_plan *plan, uint32_t i)
{
    if (plan->premium || !n->cfg.policy.live)
        return false;
    for (uint32_t j = i + 1; j < plan->leg_count; j++)
        if (plan->legs[j].remote)
            return false;
    return true;
}

/* Write the decision while leg i's hold is on its way (docs/federation.md, "Deciding
 * while the hold is made"). On return c holds the answer (or the failure) and
 * plan->decided / plan->decision what was written; *unknown is set when what the hold
 * came to could not be recorded, so the resolver must find out. */
static void decide_while_holding(call *c, settle_plan *plan, uint32_t i, int64_t asked, int budget,
                                 bool *unknown)
{
    settle_leg *leg = &plan->legs[i];
    leg->planned = asked;
    leg->speculative = true;
    /* The writer reads the plan while the hold is out: the hold works on a copy. */
    settle_plan hold_view = *plan;
    call_write w;
    if (call_write_start(c, &w) != GJ_OK) {
        c->reason = GJ_R_OVERLOADED;
        leg->planned = 0; /* nothing asked, nothing to void */
        return;
    }
    int64_t held = request_hold(c, &hold_view, i, asked, budget);
    call_write_finish(c, &w);
    leg->needs_void = hold_view.legs[i].needs_void;
    if (c->reason != GJ_R_NONE || !plan->decided) {
        leg->planned = held; /* undecided: the caller voids what was held */
        return;
    }
    if (held == asked)
        return; /* the usual case: decided as written, one commit on the way */
    /* It gave less (or nothing, or no answer): correct before anyone is told. */
    settle_fix *fix = call_alloc(c, sizeof *fix);
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
    memcpy(fix->setl_id, plan->setl_id, sizeof fix->setl_id);
    fix->leg = i;
    fix->amount = held;
    c->ext = fix;
    c->apply = fed_settle_fix_apply;
    if (call_rewrite_wait(c) != GJ_OK) {
        *unknown = true; /* the decision on record still says "all of it" */
        gj_log(GJ_LOG_ERROR, "settle", "setl_id=%s leg=%u held %" PRId64 " of %" PRId64
               " but the decision cannot be corrected now: %s; the resolver will",
               plan->setl_id, i, held, asked, gj_reason_name(c->reason));
        return;
    }
    plan->decision = fix->decision;
}

/* Hold, decide, answer, then post: steps 2 to 5 of docs/federation.md. The plan names
 * the patient, the amount and the sponsors in order; the call's apply writes the
 * decision. Ends the call. */
static void run_plan(call *c, settle_plan *plan, const int64_t *local_shareable)
{
    node *n = c->n;
    node_new_setl_id(n, c->today, plan->setl_id);
    if (!node_deciding_add(n, plan->setl_id, c->env->caller_id, c->env->call_id)) {
        c->reason = GJ_R_OVERLOADED;
        call_finish(c);
        return;
    }
    c->deciding_setl_id = plan->setl_id;
    c->ext = plan;
    c->apply = settle_decide_apply;
    bool unknown = false, decided_while_holding = false;
    /* Walk the deduction order (R6): cascade takes from each until paid; single takes
     * only from the first sponsor with money. Remote sponsors hold their part first; the
     * last one the walk can reach holds it while the decision is written. */
    int64_t remaining = plan->amount - plan->own_planned;
    bool live = n->cfg.policy.live;
    for (uint32_t i = 0; i < plan->leg_count; i++) {
        settle_leg *leg = &plan->legs[i];
        if (remaining <= 0 || !live)
            continue;
        int64_t take;
        if (leg->remote) {
            int budget = peer_budget_ms(c);
            if (budget < 20)
                continue; /* no time left to ask: the next (local) sponsor or cash pays */
            if (may_decide_while_holding(n, plan, i)) {
                decide_while_holding(c, plan, i, remaining, budget, &unknown);
                decided_while_holding = true;
                break;
            }
            take = request_hold(c, plan, i, remaining, budget);
        } else {
            take = local_shareable[i] < remaining ? local_shareable[i] : remaining;
        }
        leg->planned = take;
        remaining -= take;
        if (!n->cfg.policy.cascade && take > 0)
            break;
    }
    if (decided_while_holding) {
        /* written (and corrected if need be) already */
    } else if (plan->premium && remaining > 0) {
        /* All or nothing: give back what was held. */
        call_fail(c, GJ_R_PREMIUM_NOT_COVERED, "the sponsor can share only part of the premium now");
    } else {
        call_write_wait(c);
    }
    if (c->reason == GJ_R_SETTLEMENT_IN_FLIGHT && !plan->decided && !unknown) {
        /* Another copy of this call wrote its answer first and is still deciding: wait
         * for it, then answer as it was answered (this plan's holds are voided below). */
        await_other_copy(c);
        for (uint32_t i = 0; i < plan->leg_count; i++)
            plan->legs[i].speculative = false;
        c->reason = GJ_R_NONE;
        c->message[0] = '\0';
        c->ext = plan;
        c->apply = settle_decide_apply;
        call_write_wait(c);
    }
    bool decided = c->reason == GJ_R_NONE && plan->decided;
    if (unknown)
        node_deciding_mark_unknown(n, plan->setl_id, c->env->caller_id, c->env->call_id);
    else
        node_deciding_remove(n, plan->setl_id);
    /* The plan lives in the call's arena: keep what is needed after the answer. */
    settle_plan *after = decided || unknown ? NULL : malloc(sizeof *after);
    if (after != NULL)
        *after = *plan;
    store_decision decision = plan->decision;
    call_finish(c);
    /* Answered first; then the posts (repeated by the resolver until acknowledged), or
     * the voids of an undecided plan, which may wait on a node that is down. */
    if (decided && decision.leg_count > 0)
        resolver_push_decision(n, &decision);
    if (after != NULL) {
        void_undecided(n, after);
        free(after);
    }
}

void fed_settle(call *c)
{
    node *n = c->n;
    Gongji__V1__SettleRequest *req = (Gongji__V1__SettleRequest *)c->request;
    if (replay_if_answered(c)) {
        call_finish(c);
        return;
    }
    settle_plan *plan = call_alloc(c, sizeof *plan);
    if (plan == NULL) {
        c->reason = GJ_R_OVERLOADED;
        call_finish(c);
        return;
    }
    /* Plan from a snapshot: own account first, local sponsors' shareable money. */
    store_txn *txn;
    store_person patient;
    store_account own;
    store_order order;
    int64_t local_shareable[GJ_SPONSORS_MAX] = {0};
    gj_reason r = GJ_R_NONE;
    if (store_read_begin(n->store, &txn) != GJ_OK) {
        c->reason = GJ_R_STORE_ERROR;
        call_finish(c);
        return;
    }
    if ((r = ops_get_local_person(c, txn, req->psn_no, &patient)) == GJ_R_NONE &&
        (r = rules_check_beneficiary(&patient)) == GJ_R_NONE) {
        if (store_account_get(txn, patient.psn_no, &own) == GJ_OK && own.balance > own.held)
            plan->own_planned = own.balance - own.held;
        if (store_order_get(txn, patient.psn_no, &order) != GJ_OK)
            r = GJ_R_STORE_ERROR;
        for (uint32_t i = 0; r == GJ_R_NONE && i < order.count; i++)
            if (strcmp(order.sponsors[i].admdvs, n->cfg.region) == 0)
                r = ops_sponsor_funds(c, txn, order.sponsors[i].psn_no, patient.psn_no, &local_shareable[i]);
    }
    store_read_end(txn);
    if (r != GJ_R_NONE) {
        c->reason = r;
        call_finish(c);
        return;
    }
    plan->amount = req->amount;
    plan->use = (uint8_t)req->use;
    if (plan->own_planned > req->amount)
        plan->own_planned = req->amount;
    memcpy(plan->beneficiary, patient.psn_no, sizeof plan->beneficiary);
    plan->leg_count = order.count;
    for (uint32_t i = 0; i < order.count; i++) {
        memcpy(plan->legs[i].sponsor, order.sponsors[i].psn_no, sizeof plan->legs[i].sponsor);
        memcpy(plan->legs[i].admdvs, order.sponsors[i].admdvs, sizeof plan->legs[i].admdvs);
        plan->legs[i].remote = strcmp(plan->legs[i].admdvs, n->cfg.region) != 0;
    }
    run_plan(c, plan, local_shareable);
}

/* R15, sponsor on another node: the same two phases with one leg that must cover all. */
void fed_premium(call *c)
{
    Gongji__V1__PayPremiumRequest *req = (Gongji__V1__PayPremiumRequest *)c->request;
    const char *sponsor_region = c->ext; /* set by life_premium_check from the binding */
    if (replay_if_answered(c)) {
        call_finish(c);
        return;
    }
    settle_plan *plan = call_alloc(c, sizeof *plan);
    if (plan == NULL) {
        c->reason = GJ_R_OVERLOADED;
        call_finish(c);
        return;
    }
    int64_t none[GJ_SPONSORS_MAX] = {0};
    plan->premium = true;
    plan->amount = req->amount;
    plan->use = GJ_USE_PREMIUM;
    gj_strcpy_fit(plan->beneficiary, sizeof plan->beneficiary, req->beneficiary_psn_no);
    plan->leg_count = 1;
    gj_strcpy_fit(plan->legs[0].sponsor, sizeof plan->legs[0].sponsor, req->sponsor_psn_no);
    gj_strcpy_fit(plan->legs[0].admdvs, sizeof plan->legs[0].admdvs, sponsor_region);
    plan->legs[0].remote = true;
    run_plan(c, plan, none);
}
