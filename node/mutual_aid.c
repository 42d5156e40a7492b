/* MutualAid in one region: Bind, Unbind (effective 00:00 tomorrow), SetOrder and
 * ListBindings. A binding with a sponsor or beneficiary elsewhere is flagged here
 * (c->crosses_regions, or forwarded to the sponsor's node) and made by xr/bindings.c. */
#include "gj_util.h"
#include "log.h"
#include "node.h"
#include "ops.h"
#include "routing.h"
#include "rules.h"

#include <string.h>

/* A region field of a request: empty, or this node's region. */
static gj_reason check_region_field(call *c, const char *field, const char *region)
{
    if (region[0] == '\0')
        return GJ_R_NONE;
    if (strlen(region) != GJ_ADMDVS_LEN || !gj_all_digits(region, GJ_ADMDVS_LEN))
        return call_fail(c, GJ_R_FIELD_INVALID, "%s must be a 6-digit region code", field);
    if (strcmp(region, c->n->cfg.region) != 0)
        return call_fail(c, GJ_R_REGION_UNKNOWN, "no route to region %s", region);
    return GJ_R_NONE;
}

/* ---- MutualAid/Bind ---- */

gj_reason bind_check(call *c)
{
    Gongji__V1__BindRequest *req = (Gongji__V1__BindRequest *)c->request;
    gj_reason r;
    if ((r = ops_check_psn_no(c, "sponsor_psn_no", req->sponsor_psn_no)) != GJ_R_NONE ||
        (r = ops_check_psn_no(c, "beneficiary_psn_no", req->beneficiary_psn_no)) != GJ_R_NONE)
        return r;
    if (!ops_is_role(c, GONGJI__V1__ROLE__OPERATOR) && !ops_is_self(c, req->sponsor_psn_no))
        return ops_deny(c, "only the sponsor or an operator");
    if (strcmp(req->sponsor_psn_no, req->beneficiary_psn_no) == 0)
        return GJ_R_SELF_BINDING;
    if ((r = check_region_field(c, "sponsor_admdvs", req->sponsor_admdvs)) != GJ_R_NONE)
        return r;
    if ((r = rules_check_relation(c->policy, req->relation)) != GJ_R_NONE)
        return r;
    if ((r = rules_check_last_date(req->last_date, c->today)) != GJ_R_NONE)
        return call_fail(c, r, "last_date %d: the binding pays through that day, today (%d) or later",
                         req->last_date, c->today);
    if ((r = ops_check_verification_form(c, req->verification)) != GJ_R_NONE)
        return r;
    const char *b_region = req->beneficiary_admdvs;
    if (b_region[0] != '\0' && strcmp(b_region, c->n->cfg.region) != 0) {
        if (strlen(b_region) != GJ_ADMDVS_LEN || !gj_all_digits(b_region, GJ_ADMDVS_LEN))
            return call_fail(c, GJ_R_FIELD_INVALID, "beneficiary_admdvs must be a 6-digit region code");
        c->crosses_regions = true; /* the sponsor's node decides, asking the beneficiary's */
    }
    return GJ_R_NONE;
}

gj_reason bind_apply(call *c, store_txn *txn)
{
    Gongji__V1__BindRequest *req = (Gongji__V1__BindRequest *)c->request;
    const gj_policy *policy = c->policy;
    store_person sponsor, beneficiary;
    store_account account;
    gj_reason r;
    if ((r = ops_get_local_person(c, txn, req->sponsor_psn_no, &sponsor)) != GJ_R_NONE ||
        (r = ops_get_local_person(c, txn, req->beneficiary_psn_no, &beneficiary)) != GJ_R_NONE)
        return r;
    bool has_account = store_account_get(txn, sponsor.psn_no, &account) == GJ_OK;
    if ((r = rules_check_sponsor(&sponsor, has_account)) != GJ_R_NONE ||
        (r = rules_check_beneficiary(&beneficiary)) != GJ_R_NONE ||
        (r = rules_check_scope(policy, policy, beneficiary.insutype)) != GJ_R_NONE ||
        (r = ops_check_verification(c, &beneficiary, req->verification)) != GJ_R_NONE)
        return r;

    store_binding existing;
    gj_err err = store_binding_get(txn, sponsor.psn_no, beneficiary.psn_no, &existing);
    if (err != GJ_OK && err != GJ_ERR_NOTFOUND)
        return ops_store_reason(c, err);
    if ((r = ops_check_rebind(c, err == GJ_OK ? &existing : NULL)) != GJ_R_NONE)
        return r;

    size_t s_as_s, s_as_b, b_as_s, b_as_b;
    if ((r = ops_count_in_force(c, txn, sponsor.psn_no, true, beneficiary.psn_no, &s_as_s)) ||
        (r = ops_count_in_force(c, txn, sponsor.psn_no, false, "", &s_as_b)) ||
        (r = ops_count_in_force(c, txn, beneficiary.psn_no, true, "", &b_as_s)) ||
        (r = ops_count_in_force(c, txn, beneficiary.psn_no, false, sponsor.psn_no, &b_as_b)))
        return r;
    if ((r = rules_check_caps(policy, policy, s_as_s, s_as_b, b_as_s, b_as_b)) != GJ_R_NONE ||
        (r = ops_check_yearly_cap(c, txn, sponsor.psn_no, beneficiary.psn_no)) != GJ_R_NONE)
        return r;

    store_binding b = {.relation = (uint8_t)req->relation,
                       .begin_date = c->today,
                       .end_date = req->last_date ? gj_date_next(req->last_date) : 0,
                       .created_unix_ms = gj_now_unix_ms()};
    memcpy(b.sponsor, sponsor.psn_no, sizeof b.sponsor);
    memcpy(b.beneficiary, beneficiary.psn_no, sizeof b.beneficiary);
    memcpy(b.sponsor_admdvs, sponsor.admdvs, sizeof b.sponsor_admdvs);
    memcpy(b.beneficiary_admdvs, beneficiary.admdvs, sizeof b.beneficiary_admdvs);
    if ((err = store_binding_put(txn, &b)) != GJ_OK)
        return ops_store_reason(c, err);
    if ((r = ops_record_verification(c, txn, &b, req->verification, ops_attester(c))) != GJ_R_NONE)
        return r;

    if ((r = ops_order_add(c, txn, beneficiary.psn_no, sponsor.psn_no, sponsor.admdvs)) != GJ_R_NONE)
        return r;

    Gongji__V1__BindReply *ans = call_alloc(c, sizeof *ans);
    if (ans == NULL || (gongji__v1__bind_reply__init(ans), ans->binding = ops_answer_binding(c, &b)) == NULL)
        return ops_out_of_memory(c);
    if (req->verification != NULL) {
        ans->binding->verified_by = call_strdup(c, ops_attester(c));
        ans->binding->verified_unix_ms = req->verification->verified_unix_ms;
    }
    c->answer = &ans->base;
    char ms[GJ_PSN_NO_MAX + 1], mb[GJ_PSN_NO_MAX + 1];
    gj_log(GJ_LOG_INFO, "bind", "sponsor=%s beneficiary=%s relation=%s begin=%d end=%d",
           gj_mask(b.sponsor, ms, sizeof ms), gj_mask(b.beneficiary, mb, sizeof mb),
           rules_relation_name(b.relation), b.begin_date, b.end_date);
    return GJ_R_NONE;
}

/* ---- MutualAid/Unbind ---- */

gj_reason unbind_check(call *c)
{
    Gongji__V1__UnbindRequest *req = (Gongji__V1__UnbindRequest *)c->request;
    gj_reason r;
    if ((r = ops_check_psn_no(c, "sponsor_psn_no", req->sponsor_psn_no)) != GJ_R_NONE ||
        (r = ops_check_psn_no(c, "beneficiary_psn_no", req->beneficiary_psn_no)) != GJ_R_NONE)
        return r;
    if (!ops_is_role(c, GONGJI__V1__ROLE__OPERATOR) && !ops_is_self(c, req->sponsor_psn_no) &&
        !ops_is_self(c, req->beneficiary_psn_no))
        return ops_deny(c, "only the sponsor, the beneficiary or an operator");
    /* A binding across regions: the sponsor's node decides; the beneficiary's keeps a
     * copy that knows where to send it. */
    store_txn *txn;
    store_binding b;
    gj_err err = store_read_begin(c->n->store, &txn);
    if (err != GJ_OK)
        return ops_store_reason(c, err);
    err = store_binding_get(txn, req->sponsor_psn_no, req->beneficiary_psn_no, &b);
    store_read_end(txn);
    if (err == GJ_OK && strcmp(b.sponsor_admdvs, c->n->cfg.region) != 0) {
        c->route_region = call_strdup(c, b.sponsor_admdvs);
        c->slow = route_forward;
    } else if (err == GJ_OK && strcmp(b.beneficiary_admdvs, c->n->cfg.region) != 0) {
        c->crosses_regions = true;
    }
    return GJ_R_NONE;
}

gj_reason unbind_apply(call *c, store_txn *txn)
{
    Gongji__V1__UnbindRequest *req = (Gongji__V1__UnbindRequest *)c->request;
    store_binding b;
    gj_err err = store_binding_get(txn, req->sponsor_psn_no, req->beneficiary_psn_no, &b);
    if (err == GJ_ERR_NOTFOUND || (err == GJ_OK && !rules_binding_in_force(&b, c->today)))
        return GJ_R_BINDING_NOT_FOUND;
    if (err != GJ_OK)
        return ops_store_reason(c, err);
    gj_reason r = rules_check_unbind(c->policy, &b, c->today);
    if (r == GJ_R_BINDING_ALREADY_ENDING)
        return call_fail(c, r, "the binding already stops paying on %d", b.end_date);
    if (r == GJ_R_UNBIND_TOO_SOON)
        return call_fail(c, r, "bound on %d; the region allows ending it from %d", b.begin_date,
                         gj_date_add_months(b.begin_date, (int)c->policy->unbind_min_months));
    /* R9: effective 00:00 tomorrow; it still pays for the rest of today. */
    b.end_date = gj_date_next(c->today);
    if (b.begin_date > b.end_date)
        b.end_date = b.begin_date;
    if ((err = store_binding_put(txn, &b)) != GJ_OK)
        return ops_store_reason(c, err);
    Gongji__V1__UnbindReply *ans = call_alloc(c, sizeof *ans);
    if (ans == NULL || (gongji__v1__unbind_reply__init(ans), ans->binding = ops_answer_binding(c, &b)) == NULL)
        return ops_out_of_memory(c);
    c->answer = &ans->base;
    char ms[GJ_PSN_NO_MAX + 1], mb[GJ_PSN_NO_MAX + 1];
    gj_log(GJ_LOG_INFO, "unbind", "sponsor=%s beneficiary=%s end=%d",
           gj_mask(b.sponsor, ms, sizeof ms), gj_mask(b.beneficiary, mb, sizeof mb), b.end_date);
    return GJ_R_NONE;
}

/* ---- MutualAid/SetOrder ---- */

gj_reason set_order_check(call *c)
{
    Gongji__V1__SetOrderRequest *req = (Gongji__V1__SetOrderRequest *)c->request;
    gj_reason r;
    if ((r = ops_check_psn_no(c, "beneficiary_psn_no", req->beneficiary_psn_no)) != GJ_R_NONE)
        return r;
    if (!ops_is_role(c, GONGJI__V1__ROLE__OPERATOR) && !ops_is_self(c, req->beneficiary_psn_no))
        return ops_deny(c, "only the beneficiary or an operator");
    if (req->n_sponsor_psn_no > GJ_SPONSORS_MAX)
        return call_fail(c, GJ_R_ORDER_MISMATCH, "at most %d sponsors", GJ_SPONSORS_MAX);
    for (size_t i = 0; i < req->n_sponsor_psn_no; i++)
        if ((r = ops_check_psn_no(c, "sponsor_psn_no", req->sponsor_psn_no[i])) != GJ_R_NONE)
            return r;
    return GJ_R_NONE;
}

gj_reason set_order_apply(call *c, store_txn *txn)
{
    Gongji__V1__SetOrderRequest *req = (Gongji__V1__SetOrderRequest *)c->request;
    store_person beneficiary;
    store_order current, next = {0};
    gj_reason r = ops_get_local_person(c, txn, req->beneficiary_psn_no, &beneficiary);
    if (r != GJ_R_NONE)
        return r;
    gj_err err = store_order_get(txn, beneficiary.psn_no, &current);
    if (err != GJ_OK)
        return ops_store_reason(c, err);
    if ((r = ops_prune_order(c, txn, beneficiary.psn_no, &current)) != GJ_R_NONE)
        return r;
    if ((r = rules_check_order(&current, (const char *const *)req->sponsor_psn_no,
                               req->n_sponsor_psn_no)) != GJ_R_NONE)
        return r;
    for (size_t i = 0; i < req->n_sponsor_psn_no; i++)
        for (uint32_t j = 0; j < current.count; j++)
            if (strcmp(current.sponsors[j].psn_no, req->sponsor_psn_no[i]) == 0)
                next.sponsors[next.count++] = current.sponsors[j];
    if ((err = store_order_put(txn, beneficiary.psn_no, &next)) != GJ_OK)
        return ops_store_reason(c, err);
    Gongji__V1__SetOrderReply *ans = call_alloc(c, sizeof *ans);
    if (ans == NULL)
        return ops_out_of_memory(c);
    gongji__v1__set_order_reply__init(ans);
    ans->n_sponsor_psn_no = req->n_sponsor_psn_no;
    ans->sponsor_psn_no = req->sponsor_psn_no;
    c->answer = &ans->base;
    return GJ_R_NONE;
}

/* ---- MutualAid/ListBindings (read) ---- */

gj_reason list_bindings_check(call *c)
{
    Gongji__V1__ListBindingsRequest *req = (Gongji__V1__ListBindingsRequest *)c->request;
    gj_reason r;
    if ((r = ops_check_psn_no(c, "psn_no", req->psn_no)) != GJ_R_NONE)
        return r;
    if (!ops_is_role(c, GONGJI__V1__ROLE__OPERATOR) && !ops_is_self(c, req->psn_no))
        return ops_deny(c, "only the person themself or an operator");
    store_txn *txn;
    gj_err err = store_read_begin(c->n->store, &txn);
    if (err != GJ_OK)
        return ops_store_reason(c, err);
    Gongji__V1__ListBindingsReply *ans = call_alloc(c, sizeof *ans);
    store_binding *list = call_alloc(c, sizeof *list * GJ_BINDINGS_PER_PERSON_MAX);
    store_order order;
    store_person person;
    if (ans == NULL || list == NULL) {
        r = ops_out_of_memory(c);
        goto done;
    }
    gongji__v1__list_bindings_reply__init(ans);
    if ((r = ops_get_local_person(c, txn, req->psn_no, &person)) != GJ_R_NONE)
        goto done;
    for (int side = 0; side < 2; side++) {
        size_t n = 0;
        err = side == 0 ? store_binding_list_by_sponsor(txn, person.psn_no, list,
                                                        GJ_BINDINGS_PER_PERSON_MAX, &n)
                        : store_binding_list_by_beneficiary(txn, person.psn_no, list,
                                                            GJ_BINDINGS_PER_PERSON_MAX, &n);
        if (err != GJ_OK && err != GJ_ERR_TOOBIG) {
            r = ops_store_reason(c, err);
            goto done;
        }
        Gongji__V1__Binding **out = call_alloc(c, sizeof *out * (n ? n : 1));
        if (out == NULL) {
            r = ops_out_of_memory(c);
            goto done;
        }
        for (size_t i = 0; i < n; i++) {
            if ((out[i] = ops_answer_binding(c, &list[i])) == NULL) {
                r = ops_out_of_memory(c);
                goto done;
            }
            /* R18: the identity check this binding was made with, where this node keeps it. */
            store_verification v;
            if (store_verification_get(txn, list[i].sponsor, list[i].beneficiary, &v) == GJ_OK &&
                v.bind_date == list[i].begin_date) {
                out[i]->verified_by = call_strdup(c, v.attester);
                out[i]->verified_unix_ms = v.verified_unix_ms;
            }
        }
        if (side == 0) {
            ans->as_sponsor = out;
            ans->n_as_sponsor = n;
        } else {
            ans->as_beneficiary = out;
            ans->n_as_beneficiary = n;
        }
    }
    if ((err = store_order_get(txn, person.psn_no, &order)) != GJ_OK) {
        r = ops_store_reason(c, err);
        goto done;
    }
    ans->deduction_order = call_alloc(c, sizeof(char *) * (order.count ? order.count : 1));
    if (ans->deduction_order == NULL) {
        r = ops_out_of_memory(c);
        goto done;
    }
    for (uint32_t i = 0; i < order.count; i++) {
        store_binding b;
        /* Show only sponsors that are still bound: the order the next payment uses. */
        if (store_binding_get(txn, order.sponsors[i].psn_no, person.psn_no, &b) != GJ_OK ||
            !rules_binding_in_force(&b, c->today))
            continue;
        if ((ans->deduction_order[ans->n_deduction_order++] =
                 call_strdup(c, order.sponsors[i].psn_no)) == NULL) {
            r = ops_out_of_memory(c);
            goto done;
        }
    }
    c->answer = &ans->base;
    r = GJ_R_NONE;
done:
    store_read_end(txn);
    return r;
}
