/* Helpers every handler shares, here and in the cross-region protocol (node/xr/):
 * refusing a call, who the caller is, a local person, answers built from store records,
 * binding counts and deduction orders, and money leaving a sponsor's account. The
 * handlers themselves are in registry.c, mutual_aid.c, settlement.c, operator.c,
 * lifecycle.c, clearing.c, audit.c, batch.c and xr/. */
#include "gj_util.h"
#include "log.h"
#include "node.h"
#include "ops.h"
#include "rules.h"

#include <string.h>

/* ---- small helpers ---- */

/* Fail c as gj_reason_of_err says, with the store's error in the message. */
void ops_log_disk_full(const node *n)
{
    gj_log(GJ_LOG_ERROR, "store", "commit failed: the disk under data_dir %s is full; writes are refused "
                                  "(nothing of them kept) until there is room",
           n->cfg.data_dir);
}

gj_reason ops_store_reason(call *c, gj_err err)
{
    gj_reason r = gj_reason_of_err(err);
    if (r == GJ_R_STORE_FULL)
        return call_fail(c, r, "the data file is full");
    if (err == GJ_ERR_DISK_FULL) {
        ops_log_disk_full(c->n);
        return call_fail(c, r, "the disk under the node's data directory is full");
    }
    return call_fail(c, r, "store: %s", gj_err_name(err));
}

/* Fail c for an allocation that failed: the one out-of-memory reason. */
gj_reason ops_out_of_memory(call *c)
{
    return call_fail(c, gj_reason_of_err(GJ_ERR_NOMEM), "out of memory");
}

bool ops_is_role(call *c, Gongji__V1__Role role)
{
    return c->env->caller_role == role;
}

/* A person acting for themself through the service platform. */
bool ops_is_self(call *c, const char *psn_no)
{
    return ops_is_role(c, GONGJI__V1__ROLE__PERSON) && strcmp(c->env->caller_id, psn_no) == 0;
}

gj_reason ops_check_psn_no(call *c, const char *field, const char *psn_no)
{
    size_t len = strlen(psn_no);
    if (len == 0 || len > GJ_PSN_NO_MAX)
        return call_fail(c, GJ_R_FIELD_INVALID, "%s must be 1..%d characters", field,
                         GJ_PSN_NO_MAX);
    return GJ_R_NONE;
}

gj_reason ops_deny(call *c, const char *who)
{
    return call_fail(c, GJ_R_CALLER_NOT_ALLOWED, "%s may call %s", who, c->method->name);
}

/* A person insured in this node's region. */
gj_reason ops_get_local_person(call *c, store_txn *txn, const char *psn_no, store_person *out)
{
    gj_err err = store_person_get(txn, psn_no, out);
    if (err == GJ_ERR_NOTFOUND) {
        char masked[GJ_PSN_NO_MAX + 1];
        /* A province's or the nation's node is a hub: it insures nobody itself. */
        if (strcmp(c->n->cfg.region + 2, "0000") == 0 || strcmp(c->n->cfg.region, "000000") == 0)
            return call_fail(c, GJ_R_PERSON_NOT_FOUND,
                             "region %s's node is a hub and insures nobody: ask the node of the person's "
                             "region, or name it with --region CODE",
                             c->n->cfg.region);
        return call_fail(c, GJ_R_PERSON_NOT_FOUND, "no person %s in region %s",
                         gj_mask(psn_no, masked, sizeof masked), c->n->cfg.region);
    }
    if (err != GJ_OK)
        return ops_store_reason(c, err);
    if (strcmp(out->admdvs, c->n->cfg.region) != 0)
        return call_fail(c, GJ_R_PERSON_NOT_LOCAL, "the person is insured in region %s",
                         out->admdvs);
    /* R23: moving or moved away, the record here only says where to. */
    store_move m;
    if (store_move_get(txn, psn_no, &m) == GJ_OK && m.direction == 'O')
        return call_fail(c, GJ_R_PERSON_MOVED, "%s to region %s",
                         m.state == STORE_MOVE_MOVED ? "moved" : "moving", m.other_admdvs);
    return GJ_R_NONE;
}

Gongji__V1__AccountBalance *ops_answer_balance(call *c, const store_person *p,
                                               const store_account *a)
{
    Gongji__V1__AccountBalance *b = call_alloc(c, sizeof *b);
    if (b == NULL)
        return NULL;
    gongji__v1__account_balance__init(b);
    b->psn_no = call_strdup(c, p->psn_no);
    b->insutype = call_strdup(c, p->insutype);
    b->insuplc_admdvs = call_strdup(c, p->admdvs);
    if (!b->psn_no || !b->insutype || !b->insuplc_admdvs)
        return NULL;
    if (a != NULL) {
        b->balance = a->balance;
        b->held = a->held;
        b->available = a->balance - a->held;
        b->shareable = rules_shareable(a, c->policy->reserve_floor);
    }
    return b;
}

Gongji__V1__Binding *ops_answer_binding(call *c, const store_binding *sb)
{
    Gongji__V1__Binding *b = call_alloc(c, sizeof *b);
    if (b == NULL)
        return NULL;
    gongji__v1__binding__init(b);
    b->sponsor_psn_no = call_strdup(c, sb->sponsor);
    b->beneficiary_psn_no = call_strdup(c, sb->beneficiary);
    b->sponsor_admdvs = call_strdup(c, sb->sponsor_admdvs);
    b->beneficiary_admdvs = call_strdup(c, sb->beneficiary_admdvs);
    if (!b->sponsor_psn_no || !b->beneficiary_psn_no || !b->sponsor_admdvs || !b->beneficiary_admdvs)
        return NULL;
    b->relation = (Gongji__V1__Relation)sb->relation;
    b->begin_date = sb->begin_date;
    b->end_date = sb->end_date;
    b->active = rules_binding_pays_on(sb, c->today);
    /* The sponsor's region decides what pays: here, when the sponsor is ours. */
    if (b->active && strcmp(sb->sponsor_admdvs, c->n->cfg.region) == 0 && !gj_is_family_account(sb->sponsor) &&
        rules_check_relation(c->policy, sb->relation) != GJ_R_NONE) {
        b->active = false;
        b->inactive_reason = (char *)gj_reason_name(GJ_R_RELATION_NOT_ALLOWED);
    }
    return b;
}

/* The parts of a settlement as wire SponsorParts (n of them); NULL when out of memory. */
Gongji__V1__SponsorPart **ops_answer_parts(call *c, const store_settlement *s)
{
    Gongji__V1__SponsorPart **parts = call_alloc(c, sizeof *parts * (s->part_count ? s->part_count : 1));
    for (uint32_t k = 0; parts != NULL && k < s->part_count; k++) {
        Gongji__V1__SponsorPart *part = call_alloc(c, sizeof *part);
        if (part == NULL)
            return NULL;
        gongji__v1__sponsor_part__init(part);
        part->sponsor_psn_no = call_strdup(c, s->parts[k].psn_no);
        part->sponsor_admdvs = call_strdup(c, s->parts[k].admdvs);
        part->amount = s->parts[k].amount;
        if (part->sponsor_psn_no == NULL || part->sponsor_admdvs == NULL)
            return NULL;
        parts[k] = part;
    }
    return parts;
}

/* The answer to Settle for a settlement just written in txn; sets c->answer. */
Gongji__V1__SettleReply *ops_answer_settlement(call *c, store_txn *txn, const store_settlement *s)
{
    Gongji__V1__SettleReply *ans = call_alloc(c, sizeof *ans);
    if (ans == NULL)
        return NULL;
    gongji__v1__settle_reply__init(ans);
    ans->setl_id = call_strdup(c, s->setl_id);
    ans->amount = s->amount;
    ans->acct_pay = s->acct_pay;
    ans->acct_mulaid_pay = s->mulaid_pay;
    ans->psn_cash_pay = s->cash_pay;
    ans->setl_date = s->setl_date;
    store_account own;
    if (store_account_get(txn, s->psn_no, &own) == GJ_OK)
        ans->balance_after = own.balance - own.held;
    ans->parts = ops_answer_parts(c, s);
    if (ans->setl_id == NULL || ans->parts == NULL)
        return NULL;
    ans->n_parts = s->part_count;
    c->answer = &ans->base;
    return ans;
}

/* ---- bindings and deduction orders ---- */

/* How many bindings of psn_no (as sponsor or as beneficiary) are in force, leaving out
 * the one with skip_other on the other side. */
gj_reason ops_check_verification_form(call *c, const Gongji__V1__Verification *v)
{
    if (v == NULL)
        return GJ_R_NONE;
    int64_t now = node_now_ms(c->n);
    size_t len = strlen(v->method);
    if (len == 0 || len > STORE_VERIFY_METHOD_MAX)
        return call_fail(c, GJ_R_VERIFICATION_INVALID, "verification.method is 1 to %d characters",
                         STORE_VERIFY_METHOD_MAX);
    if (v->verified_unix_ms < now - GJ_VERIFICATION_VALID_MS || v->verified_unix_ms > now + GJ_CLOCK_SKEW_MS)
        return call_fail(c, GJ_R_VERIFICATION_INVALID, "verification.verified_unix_ms is not within the last day");
    return GJ_R_NONE;
}

gj_reason ops_check_verification(call *c, const store_person *beneficiary, const Gongji__V1__Verification *v)
{
    gj_reason r = ops_check_verification_form(c, v);
    if (r != GJ_R_NONE)
        return r;
    const gj_policy *policy = c->policy;
    int age = rules_age_on(beneficiary->certno, c->today);
    if (rules_check_verification(policy, age, v != NULL) != GJ_R_NONE)
        return call_fail(c, GJ_R_VERIFICATION_REQUIRED,
                         "the beneficiary is %d; region %s asks for an identity check over %u", age, policy->region,
                         policy->verify_age);
    return GJ_R_NONE;
}

const char *ops_attester(call *c)
{
    return ops_is_role(c, GONGJI__V1__ROLE__PERSON) && c->platform_id[0] != '\0' ? c->platform_id : c->env->caller_id;
}

gj_reason ops_record_verification(call *c, store_txn *txn, const store_binding *b, const Gongji__V1__Verification *v,
                                  const char *attester)
{
    if (v == NULL)
        return GJ_R_NONE;
    store_verification rec = {.verified_unix_ms = v->verified_unix_ms, .recorded_unix_ms = gj_now_unix_ms(),
                              .bind_date = b->begin_date};
    memcpy(rec.sponsor, b->sponsor, sizeof rec.sponsor);
    memcpy(rec.beneficiary, b->beneficiary, sizeof rec.beneficiary);
    if (!gj_strcpy_fit(rec.attester, sizeof rec.attester, attester) || attester[0] == '\0' ||
        !gj_strcpy_fit(rec.method, sizeof rec.method, v->method))
        return call_fail(c, GJ_R_VERIFICATION_INVALID, "no attester for the verification");
    gj_err err = store_verification_put(txn, &rec);
    if (err != GJ_OK)
        return ops_store_reason(c, err);
    gj_log(GJ_LOG_INFO, "verification", "attester=%s method=%s verified_ms=%lld bind_date=%d", rec.attester,
           rec.method, (long long)rec.verified_unix_ms, rec.bind_date);
    return GJ_R_NONE;
}

gj_reason ops_order_for_bill(call *c, store_order *order, const char *named)
{
    if (named[0] == '\0')
        return GJ_R_NONE;
    if (!c->policy->sponsor_choice)
        return GJ_R_SPONSOR_CHOICE_NOT_ALLOWED;
    for (uint32_t i = 0; i < order->count; i++)
        if (strcmp(order->sponsors[i].psn_no, named) == 0) {
            order->sponsors[0] = order->sponsors[i];
            order->count = 1;
            return GJ_R_NONE;
        }
    return GJ_R_SPONSOR_NOT_IN_ORDER;
}

gj_reason ops_check_yearly_cap(call *c, store_txn *txn, const char *sponsor, const char *new_beneficiary)
{
    uint32_t cap = c->policy->max_beneficiaries_per_year;
    if (cap == 0)
        return GJ_R_NONE;
    store_binding *list = call_alloc(c, sizeof *list * GJ_BINDINGS_PER_PERSON_MAX);
    size_t n = 0, bound = 0;
    if (list == NULL)
        return ops_out_of_memory(c);
    gj_err err = store_binding_list_by_sponsor(txn, sponsor, list, GJ_BINDINGS_PER_PERSON_MAX, &n);
    if (err != GJ_OK && err != GJ_ERR_TOOBIG)
        return ops_store_reason(c, err);
    for (size_t i = 0; i < n; i++)
        if (list[i].begin_date / 10000 == c->today / 10000 && strcmp(list[i].beneficiary, new_beneficiary) != 0)
            bound++;
    if (rules_check_yearly_cap(c->policy, bound) != GJ_R_NONE)
        return call_fail(c, GJ_R_YEARLY_LIMIT_REACHED, "the sponsor bound %zu beneficiaries in %d; the region allows %u",
                         bound, c->today / 10000, cap);
    return GJ_R_NONE;
}

gj_reason ops_check_rebind(call *c, const store_binding *existing)
{
    gj_reason r = rules_check_rebind(existing, c->today);
    if (r == GJ_R_REBIND_TOO_SOON)
        return call_fail(c, r, "the pair's binding pays until 24:00 today; bind again from %d",
                         gj_date_next(c->today));
    if (r == GJ_R_BINDING_EXISTS && existing->end_date != 0)
        return call_fail(c, r, "the pair's binding pays until %d", existing->end_date);
    return r;
}

gj_reason ops_count_in_force(call *c, store_txn *txn, const char *psn_no, bool as_sponsor,
                             const char *skip_other, size_t *count)
{
    store_binding *list = call_alloc(c, sizeof *list * GJ_BINDINGS_PER_PERSON_MAX);
    size_t n = 0;
    if (list == NULL)
        return ops_out_of_memory(c);
    gj_err err = as_sponsor
                     ? store_binding_list_by_sponsor(txn, psn_no, list, GJ_BINDINGS_PER_PERSON_MAX, &n)
                     : store_binding_list_by_beneficiary(txn, psn_no, list,
                                                         GJ_BINDINGS_PER_PERSON_MAX, &n);
    if (err != GJ_OK && err != GJ_ERR_TOOBIG)
        return ops_store_reason(c, err);
    *count = 0;
    for (size_t i = 0; i < n; i++) {
        const char *other = as_sponsor ? list[i].beneficiary : list[i].sponsor;
        if (rules_binding_in_force(&list[i], c->today) && strcmp(other, skip_other) != 0)
            (*count)++;
    }
    return GJ_R_NONE;
}

/* Keep in the order only sponsors whose binding is still in force (R9), so ended ones
 * do not take the places of new ones. */
gj_reason ops_prune_order(call *c, store_txn *txn, const char *beneficiary, store_order *order)
{
    uint32_t kept = 0;
    for (uint32_t i = 0; i < order->count; i++) {
        store_binding b;
        gj_err err = store_binding_get(txn, order->sponsors[i].psn_no, beneficiary, &b);
        if (err != GJ_OK && err != GJ_ERR_NOTFOUND)
            return ops_store_reason(c, err);
        if (err == GJ_OK && rules_binding_in_force(&b, c->today))
            order->sponsors[kept++] = order->sponsors[i];
    }
    order->count = kept;
    return GJ_R_NONE;
}

gj_reason ops_order_add(call *c, store_txn *txn, const char *beneficiary, const char *sponsor,
                        const char *sponsor_admdvs)
{
    store_order order;
    gj_reason r;
    gj_err err = store_order_get(txn, beneficiary, &order);
    if (err != GJ_OK)
        return ops_store_reason(c, err);
    if ((r = ops_prune_order(c, txn, beneficiary, &order)) != GJ_R_NONE)
        return r;
    for (uint32_t i = 0; i < order.count; i++)
        if (strcmp(order.sponsors[i].psn_no, sponsor) == 0)
            return (err = store_order_put(txn, beneficiary, &order)) == GJ_OK ? GJ_R_NONE
                                                                            : ops_store_reason(c, err);
    if (order.count >= GJ_SPONSORS_MAX)
        return GJ_R_SPONSORS_LIMIT_REACHED;
    /* R20, R24: a family pool or a wallet pays before every sponsor (seed 002: in the
     * set order, the pool first); anyone else joins at the end. */
    uint32_t at = order.count;
    if (gj_is_family_account(sponsor)) {
        at = 0;
        memmove(&order.sponsors[1], &order.sponsors[0], order.count * sizeof order.sponsors[0]);
    }
    gj_strcpy_fit(order.sponsors[at].psn_no, sizeof order.sponsors[0].psn_no, sponsor);
    gj_strcpy_fit(order.sponsors[at].admdvs, sizeof order.sponsors[0].admdvs, sponsor_admdvs);
    order.count++;
    if ((err = store_order_put(txn, beneficiary, &order)) != GJ_OK)
        return ops_store_reason(c, err);
    return GJ_R_NONE;
}

/* ---- money from a sponsor here ---- */

/* What sponsor i of the order may give today, after the sponsor's node (this one)
 * re-checks the binding, the sponsor and the policy itself (SPEC §5). */
gj_reason ops_sponsor_funds(call *c, store_txn *txn, const char *sponsor_psn_no,
                            const char *beneficiary, int64_t *shareable)
{
    const gj_policy *policy = c->policy;
    store_binding b;
    store_person sponsor;
    store_account account;
    *shareable = 0;
    if (!policy->live)
        return GJ_R_NONE;
    gj_err err = store_binding_get(txn, sponsor_psn_no, beneficiary, &b);
    if (err == GJ_ERR_NOTFOUND || (err == GJ_OK && !rules_binding_pays_on(&b, c->today)))
        return GJ_R_NONE;
    if (err != GJ_OK)
        return ops_store_reason(c, err);
    if (ops_aid_frozen(txn, sponsor_psn_no, beneficiary))
        return GJ_R_NONE; /* R21: frozen for misuse; skipped like an empty sponsor */
    if (gj_is_pool_id(sponsor_psn_no))
        return pool_funds(c, txn, sponsor_psn_no, beneficiary, shareable);
    if (gj_is_wallet_id(sponsor_psn_no)) { /* R24: the relative's own wallet, what is accepted */
        if ((err = store_account_get(txn, sponsor_psn_no, &account)) == GJ_OK)
            *shareable = rules_shareable(&account, 0);
        return err == GJ_OK || err == GJ_ERR_NOTFOUND ? GJ_R_NONE : ops_store_reason(c, err);
    }
    if ((err = store_person_get(txn, sponsor_psn_no, &sponsor)) != GJ_OK)
        return err == GJ_ERR_NOTFOUND ? GJ_R_NONE : ops_store_reason(c, err);
    if (strcmp(sponsor.admdvs, c->n->cfg.region) != 0)
        return GJ_R_NONE;
    bool has_account = (err = store_account_get(txn, sponsor_psn_no, &account)) == GJ_OK;
    if (err != GJ_OK && err != GJ_ERR_NOTFOUND)
        return ops_store_reason(c, err);
    if (rules_check_sponsor(&sponsor, has_account) != GJ_R_NONE ||
        rules_check_relation(policy, b.relation) != GJ_R_NONE)
        return GJ_R_NONE;
    *shareable = rules_shareable(&account, policy->reserve_floor);
    return GJ_R_NONE;
}

gj_reason ops_pay_from(call *c, store_txn *txn, const char *psn_no, int64_t amount,
                       uint8_t kind, const char *setl_id, const char *counterpart)
{
    store_journal_entry e = {.unix_ms = gj_now_unix_ms(), .kind = kind, .amount = -amount};
    gj_strcpy_fit(e.psn_no, sizeof e.psn_no, psn_no);
    gj_strcpy_fit(e.setl_id, sizeof e.setl_id, setl_id);
    gj_strcpy_fit(e.counterpart, sizeof e.counterpart, counterpart);
    gj_strcpy_fit(e.caller_id, sizeof e.caller_id, c->env->caller_id);
    gj_strcpy_fit(e.call_id, sizeof e.call_id, c->env->call_id);
    gj_err err = store_account_move(txn, &e, NULL);
    return err == GJ_OK ? GJ_R_NONE : ops_store_reason(c, err);
}
