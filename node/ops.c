/* The operations of SPEC §4 for one region, and the method table that names them.
 *
 * check() functions run on the receiving thread: roles and field shapes, and for reads
 * the whole answer from an LMDB read transaction. apply() functions run on the store
 * writer inside one nested write transaction: they read the current state, ask the
 * rules, and write. Returning a reason from apply() rolls back everything it wrote. */
#include "gj_util.h"
#include "log.h"
#include "authn.h"
#include "node.h"
#include "ops.h"
#include "rules.h"
#include "routing.h"
#include "xr/deciding.h"
#include "xr/planner.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* ---- small helpers ---- */

gj_reason ops_store_reason(call *c, gj_err err)
{
    if (err == GJ_ERR_FULL)
        return call_fail(c, GJ_R_STORE_FULL, "the data file is full");
    return call_fail(c, GJ_R_STORE_ERROR, "store: %s", gj_err_name(err));
}

gj_reason ops_out_of_memory(call *c)
{
    return call_fail(c, GJ_R_STORE_ERROR, "out of memory");
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
        return call_fail(c, GJ_R_PERSON_NOT_FOUND, "no person %s in region %s",
                         gj_mask(psn_no, masked, sizeof masked), c->n->cfg.region);
    }
    if (err != GJ_OK)
        return ops_store_reason(c, err);
    if (strcmp(out->admdvs, c->n->cfg.region) != 0)
        return call_fail(c, GJ_R_PERSON_NOT_LOCAL, "the person is insured in region %s",
                         out->admdvs);
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
        b->shareable = rules_shareable(a, c->n->cfg.policy.reserve_floor);
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

/* The answer to Settle for a settlement just written; sets c->answer. */
Gongji__V1__SettleReply *ops_answer_settlement(call *c, const store_settlement *s)
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
    ans->parts = ops_answer_parts(c, s);
    if (ans->setl_id == NULL || ans->parts == NULL)
        return NULL;
    ans->n_parts = s->part_count;
    c->answer = &ans->base;
    return ans;
}

/* ---- Registry/Enroll ---- */

gj_reason enroll_check(call *c)
{
    Gongji__V1__EnrollRequest *req = (Gongji__V1__EnrollRequest *)c->request;
    if (!ops_is_role(c, GONGJI__V1__ROLE__OPERATOR))
        return ops_deny(c, "only a region operator");
    if (req->person == NULL)
        return call_fail(c, GJ_R_FIELD_INVALID, "person is required");
    Gongji__V1__Person *p = req->person;
    store_person sp = {0};
    if (!gj_strcpy_fit(sp.psn_no, sizeof sp.psn_no, p->psn_no) || sp.psn_no[0] == '\0')
        return call_fail(c, GJ_R_FIELD_INVALID, "psn_no must be 1..%d characters", GJ_PSN_NO_MAX);
    if (!gj_strcpy_fit(sp.certno, sizeof sp.certno, p->certno))
        return GJ_R_CERTNO_INVALID;
    /* One spelling per person: the check character is stored upper-case. */
    if (strlen(p->certno) == GJ_CERTNO_LEN && p->certno[17] == 'x')
        p->certno[17] = sp.certno[17] = 'X';
    if (!gj_strcpy_fit(sp.name, sizeof sp.name, p->psn_name))
        return call_fail(c, GJ_R_FIELD_INVALID, "psn_name is at most %d bytes", GJ_NAME_MAX);
    if (!gj_strcpy_fit(sp.insutype, sizeof sp.insutype, p->insutype))
        return GJ_R_INSUTYPE_INVALID;
    if (!gj_strcpy_fit(sp.admdvs, sizeof sp.admdvs, p->insuplc_admdvs))
        return call_fail(c, GJ_R_FIELD_INVALID, "insuplc_admdvs must be a 6-digit region code");
    sp.status = p->status > 0 && p->status <= 3 ? (uint8_t)p->status : 0;
    return rules_check_person_fields(&sp);
}

/* End every binding of psn_no that is still in force: at once, since the person can no
 * longer take part (R9: a binding ends when a person stops being insured or moves). */
static gj_reason end_bindings_of(call *c, store_txn *txn, const char *psn_no, uint32_t *ended)
{
    store_binding *list = call_alloc(c, sizeof *list * GJ_BINDINGS_PER_PERSON_MAX);
    if (list == NULL)
        return ops_out_of_memory(c);
    for (int side = 0; side < 2; side++) {
        size_t count = 0;
        gj_err err = side == 0 ? store_binding_list_by_sponsor(txn, psn_no, list,
                                                               GJ_BINDINGS_PER_PERSON_MAX, &count)
                               : store_binding_list_by_beneficiary(
                                     txn, psn_no, list, GJ_BINDINGS_PER_PERSON_MAX, &count);
        if (err != GJ_OK && err != GJ_ERR_TOOBIG)
            return ops_store_reason(c, err);
        for (size_t i = 0; i < count; i++) {
            if (!rules_binding_in_force(&list[i], c->today))
                continue;
            list[i].end_date = c->today;
            if ((err = store_binding_put(txn, &list[i])) != GJ_OK)
                return ops_store_reason(c, err);
            (*ended)++;
        }
    }
    return GJ_R_NONE;
}

gj_reason enroll_apply(call *c, store_txn *txn)
{
    Gongji__V1__Person *p = ((Gongji__V1__EnrollRequest *)c->request)->person;
    store_person sp = {0}, old;
    gj_strcpy_fit(sp.psn_no, sizeof sp.psn_no, p->psn_no);
    gj_strcpy_fit(sp.certno, sizeof sp.certno, p->certno);
    gj_strcpy_fit(sp.name, sizeof sp.name, p->psn_name);
    gj_strcpy_fit(sp.insutype, sizeof sp.insutype, p->insutype);
    gj_strcpy_fit(sp.admdvs, sizeof sp.admdvs, p->insuplc_admdvs);
    sp.status = (uint8_t)p->status;
    sp.updated_unix_ms = gj_now_unix_ms();

    gj_err err = store_person_get(txn, sp.psn_no, &old);
    bool created = err == GJ_ERR_NOTFOUND;
    if (err != GJ_OK && !created)
        return ops_store_reason(c, err);
    if (created && strcmp(sp.admdvs, c->n->cfg.region) != 0)
        return call_fail(c, GJ_R_PERSON_NOT_LOCAL, "a new person must be insured in region %s",
                         c->n->cfg.region);
    if (!created && strcmp(old.admdvs, c->n->cfg.region) != 0 &&
        strcmp(sp.admdvs, c->n->cfg.region) != 0)
        return call_fail(c, GJ_R_PERSON_NOT_LOCAL, "the person has left region %s",
                         c->n->cfg.region);
    if (!created && strcmp(old.certno, sp.certno) != 0)
        return call_fail(c, GJ_R_FIELD_INVALID, "certno of an enrolled person cannot change");

    uint32_t ended = 0;
    bool leaves = !created && ((old.status == STORE_PERSON_ACTIVE && sp.status != STORE_PERSON_ACTIVE) ||
                               strcmp(old.admdvs, sp.admdvs) != 0 ||
                               strcmp(old.insutype, sp.insutype) != 0);
    gj_reason r;
    if (leaves && (r = end_bindings_of(c, txn, sp.psn_no, &ended)) != GJ_R_NONE)
        return r;
    if ((err = store_person_put(txn, &sp)) != GJ_OK)
        return ops_store_reason(c, err);
    /* Employees have a personal account; it stays (with its money) if they change. */
    if (strcmp(sp.insutype, "310") == 0 && (err = store_account_ensure(txn, sp.psn_no)) != GJ_OK)
        return ops_store_reason(c, err);

    Gongji__V1__EnrollReply *ans = call_alloc(c, sizeof *ans);
    if (ans == NULL)
        return ops_out_of_memory(c);
    gongji__v1__enroll_reply__init(ans);
    ans->person = p; /* the request outlives the answer */
    ans->created = created;
    ans->bindings_ended = ended;
    c->answer = &ans->base;
    char masked[GJ_PSN_NO_MAX + 1], masked_cert[GJ_CERTNO_LEN + 1];
    gj_log(GJ_LOG_INFO, "enroll", "psn_no=%s certno=%s insutype=%s status=%d created=%d ended=%u",
           gj_mask(sp.psn_no, masked, sizeof masked), gj_mask(sp.certno, masked_cert, sizeof masked_cert),
           sp.insutype, sp.status, created, ended);
    return GJ_R_NONE;
}

/* ---- Registry/Credit ---- */

gj_reason credit_check(call *c)
{
    Gongji__V1__CreditRequest *req = (Gongji__V1__CreditRequest *)c->request;
    gj_reason r;
    if (!ops_is_role(c, GONGJI__V1__ROLE__OPERATOR))
        return ops_deny(c, "only a region operator");
    if ((r = ops_check_psn_no(c, "psn_no", req->psn_no)) != GJ_R_NONE)
        return r;
    if (strlen(req->memo) > 128)
        return call_fail(c, GJ_R_FIELD_INVALID, "memo is at most 128 bytes");
    return rules_check_amount(req->amount);
}

gj_reason credit_apply(call *c, store_txn *txn)
{
    Gongji__V1__CreditRequest *req = (Gongji__V1__CreditRequest *)c->request;
    store_person person;
    store_account after;
    gj_reason r = ops_get_local_person(c, txn, req->psn_no, &person);
    if (r != GJ_R_NONE)
        return r;
    if (store_account_get(txn, person.psn_no, &after) == GJ_ERR_NOTFOUND)
        return GJ_R_NO_ACCOUNT;
    if (after.balance > GJ_BALANCE_MAX - req->amount)
        return GJ_R_BALANCE_LIMIT;
    store_journal_entry e = {.unix_ms = gj_now_unix_ms(), .kind = STORE_J_CREDIT, .amount = req->amount};
    memcpy(e.psn_no, person.psn_no, sizeof e.psn_no);
    gj_strcpy_fit(e.caller_id, sizeof e.caller_id, c->env->caller_id);
    gj_strcpy_fit(e.call_id, sizeof e.call_id, c->env->call_id);
    gj_err err = store_account_move(txn, &e, &after);
    if (err != GJ_OK)
        return ops_store_reason(c, err);
    Gongji__V1__CreditReply *ans = call_alloc(c, sizeof *ans);
    if (ans == NULL || (gongji__v1__credit_reply__init(ans),
                        ans->balance = ops_answer_balance(c, &person, &after)) == NULL)
        return ops_out_of_memory(c);
    c->answer = &ans->base;
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
    if ((r = rules_check_relation(&c->n->cfg.policy, req->relation)) != GJ_R_NONE)
        return r;
    const char *b_region = req->beneficiary_admdvs;
    if (b_region[0] != '\0' && strcmp(b_region, c->n->cfg.region) != 0) {
        if (strlen(b_region) != GJ_ADMDVS_LEN || !gj_all_digits(b_region, GJ_ADMDVS_LEN))
            return call_fail(c, GJ_R_FIELD_INVALID, "beneficiary_admdvs must be a 6-digit region code");
        c->crosses_regions = true; /* the sponsor's node decides, asking the beneficiary's */
    }
    return GJ_R_NONE;
}

/* How many bindings of psn_no (as sponsor or as beneficiary) are in force, leaving out
 * the pair (skip_a, skip_b). */
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
    gj_strcpy_fit(order.sponsors[order.count].psn_no, sizeof order.sponsors[0].psn_no, sponsor);
    gj_strcpy_fit(order.sponsors[order.count].admdvs, sizeof order.sponsors[0].admdvs, sponsor_admdvs);
    order.count++;
    if ((err = store_order_put(txn, beneficiary, &order)) != GJ_OK)
        return ops_store_reason(c, err);
    return GJ_R_NONE;
}

gj_reason bind_apply(call *c, store_txn *txn)
{
    Gongji__V1__BindRequest *req = (Gongji__V1__BindRequest *)c->request;
    const gj_policy *policy = &c->n->cfg.policy;
    store_person sponsor, beneficiary;
    store_account account;
    gj_reason r;
    if ((r = ops_get_local_person(c, txn, req->sponsor_psn_no, &sponsor)) != GJ_R_NONE ||
        (r = ops_get_local_person(c, txn, req->beneficiary_psn_no, &beneficiary)) != GJ_R_NONE)
        return r;
    bool has_account = store_account_get(txn, sponsor.psn_no, &account) == GJ_OK;
    if ((r = rules_check_sponsor(&sponsor, has_account)) != GJ_R_NONE ||
        (r = rules_check_beneficiary(&beneficiary)) != GJ_R_NONE ||
        (r = rules_check_scope(policy, policy, beneficiary.insutype)) != GJ_R_NONE)
        return r;

    store_binding existing;
    gj_err err = store_binding_get(txn, sponsor.psn_no, beneficiary.psn_no, &existing);
    if (err == GJ_OK && rules_binding_in_force(&existing, c->today))
        return GJ_R_BINDING_EXISTS;
    if (err != GJ_OK && err != GJ_ERR_NOTFOUND)
        return ops_store_reason(c, err);

    size_t s_as_s, s_as_b, b_as_s, b_as_b;
    if ((r = ops_count_in_force(c, txn, sponsor.psn_no, true, beneficiary.psn_no, &s_as_s)) ||
        (r = ops_count_in_force(c, txn, sponsor.psn_no, false, "", &s_as_b)) ||
        (r = ops_count_in_force(c, txn, beneficiary.psn_no, true, "", &b_as_s)) ||
        (r = ops_count_in_force(c, txn, beneficiary.psn_no, false, sponsor.psn_no, &b_as_b)))
        return r;
    if ((r = rules_check_caps(policy, policy, s_as_s, s_as_b, b_as_s, b_as_b)) != GJ_R_NONE)
        return r;

    store_binding b = {.relation = (uint8_t)req->relation,
                       .begin_date = c->today,
                       .end_date = 0,
                       .created_unix_ms = gj_now_unix_ms()};
    memcpy(b.sponsor, sponsor.psn_no, sizeof b.sponsor);
    memcpy(b.beneficiary, beneficiary.psn_no, sizeof b.beneficiary);
    memcpy(b.sponsor_admdvs, sponsor.admdvs, sizeof b.sponsor_admdvs);
    memcpy(b.beneficiary_admdvs, beneficiary.admdvs, sizeof b.beneficiary_admdvs);
    if ((err = store_binding_put(txn, &b)) != GJ_OK)
        return ops_store_reason(c, err);

    if ((r = ops_order_add(c, txn, beneficiary.psn_no, sponsor.psn_no, sponsor.admdvs)) != GJ_R_NONE)
        return r;

    Gongji__V1__BindReply *ans = call_alloc(c, sizeof *ans);
    if (ans == NULL || (gongji__v1__bind_reply__init(ans), ans->binding = ops_answer_binding(c, &b)) == NULL)
        return ops_out_of_memory(c);
    c->answer = &ans->base;
    char ms[GJ_PSN_NO_MAX + 1], mb[GJ_PSN_NO_MAX + 1];
    gj_log(GJ_LOG_INFO, "bind", "sponsor=%s beneficiary=%s relation=%s begin=%d",
           gj_mask(b.sponsor, ms, sizeof ms), gj_mask(b.beneficiary, mb, sizeof mb),
           rules_relation_name(b.relation), b.begin_date);
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
    if (b.end_date != 0)
        return call_fail(c, GJ_R_BINDING_ALREADY_ENDING, "the binding already ends on %d",
                         b.end_date);
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
        for (size_t i = 0; i < n; i++)
            if ((out[i] = ops_answer_binding(c, &list[i])) == NULL) {
                r = ops_out_of_memory(c);
                goto done;
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

/* ---- Settlement/Settle ---- */

gj_reason settle_check(call *c)
{
    Gongji__V1__SettleRequest *req = (Gongji__V1__SettleRequest *)c->request;
    gj_reason r;
    if (!ops_is_role(c, GONGJI__V1__ROLE__INSTITUTION) && !ops_is_role(c, GONGJI__V1__ROLE__OPERATOR))
        return ops_deny(c, "only a designated institution or an operator");
    if ((r = ops_check_psn_no(c, "psn_no", req->psn_no)) != GJ_R_NONE)
        return r;
    if (strlen(req->fixmedins_code) > GJ_INSTITUTION_MAX)
        return call_fail(c, GJ_R_FIELD_INVALID, "fixmedins_code is at most %d characters",
                         GJ_INSTITUTION_MAX);
    if ((r = rules_check_amount(req->amount)) != GJ_R_NONE)
        return r;
    if ((r = rules_check_use(&c->n->cfg.policy, req->use)) != GJ_R_NONE)
        return r;
    /* Sponsors on other nodes make it a cross-region settlement, coordinated here. */
    store_txn *txn;
    store_order order;
    gj_err err = store_read_begin(c->n->store, &txn);
    if (err != GJ_OK)
        return ops_store_reason(c, err);
    err = store_order_get(txn, req->psn_no, &order);
    store_read_end(txn);
    if (err != GJ_OK)
        return ops_store_reason(c, err);
    for (uint32_t i = 0; i < order.count; i++)
        if (strcmp(order.sponsors[i].admdvs, c->n->cfg.region) != 0)
            c->crosses_regions = true;
    return GJ_R_NONE;
}

/* What sponsor i of the order may give today, after the sponsor's node (this one)
 * re-checks the binding, the sponsor and the policy itself (SPEC §5). */
gj_reason ops_sponsor_funds(call *c, store_txn *txn, const char *sponsor_psn_no,
                               const char *beneficiary, int64_t *shareable)
{
    const gj_policy *policy = &c->n->cfg.policy;
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

gj_reason settle_apply(call *c, store_txn *txn)
{
    Gongji__V1__SettleRequest *req = (Gongji__V1__SettleRequest *)c->request;
    store_person patient;
    store_account own;
    store_order order;
    gj_reason r;
    gj_err err;
    if ((r = ops_get_local_person(c, txn, req->psn_no, &patient)) != GJ_R_NONE ||
        (r = rules_check_beneficiary(&patient)) != GJ_R_NONE)
        return r;
    int64_t own_available = 0;
    if ((err = store_account_get(txn, patient.psn_no, &own)) == GJ_OK)
        own_available = own.balance - own.held;
    else if (err != GJ_ERR_NOTFOUND)
        return ops_store_reason(c, err);
    if ((err = store_order_get(txn, patient.psn_no, &order)) != GJ_OK)
        return ops_store_reason(c, err);

    /* Every sponsor here: the planner's walk with everything known. */
    xr_plan plan = {.amount = req->amount, .own_available = own_available, .cascade = c->n->cfg.policy.cascade,
                    .live = c->n->cfg.policy.live, .leg_count = order.count};
    for (uint32_t i = 0; i < order.count && i < GJ_SPONSORS_MAX; i++) {
        plan.legs[i].known = true;
        if ((r = ops_sponsor_funds(c, txn, order.sponsors[i].psn_no, patient.psn_no, &plan.legs[i].available)) !=
            GJ_R_NONE)
            return r;
    }
    xr_plan_walk(&plan);

    store_settlement s = {.amount = req->amount,
                          .acct_pay = plan.own_pay,
                          .mulaid_pay = plan.mulaid_pay,
                          .cash_pay = plan.cash_pay,
                          .setl_date = c->today,
                          .unix_ms = gj_now_unix_ms(),
                          .use = (uint8_t)req->use,
                          .status = STORE_SETL_COMMITTED};
    node_new_setl_id(c->n, c->today, s.setl_id);
    memcpy(s.psn_no, patient.psn_no, sizeof s.psn_no);
    gj_strcpy_fit(s.caller_id, sizeof s.caller_id, c->env->caller_id);
    gj_strcpy_fit(s.call_id, sizeof s.call_id, c->env->call_id);

    if (plan.own_pay > 0 &&
        (r = ops_pay_from(c, txn, patient.psn_no, plan.own_pay, STORE_J_SETTLE_OWN, s.setl_id, "")) != GJ_R_NONE)
        return r;
    for (uint32_t i = 0; i < order.count; i++) {
        if (plan.legs[i].pay == 0)
            continue;
        const char *sponsor = order.sponsors[i].psn_no;
        if ((r = ops_pay_from(c, txn, sponsor, plan.legs[i].pay, STORE_J_SETTLE_AID, s.setl_id,
                          patient.psn_no)) != GJ_R_NONE)
            return r;
        store_spend spend = {.amount = plan.legs[i].pay, .setl_date = c->today,
                             .unix_ms = s.unix_ms, .use = s.use};
        memcpy(spend.sponsor, sponsor, sizeof spend.sponsor);
        memcpy(spend.beneficiary, patient.psn_no, sizeof spend.beneficiary);
        memcpy(spend.setl_id, s.setl_id, sizeof spend.setl_id);
        if ((err = store_spend_put(txn, &spend)) != GJ_OK)
            return ops_store_reason(c, err);
        uint32_t k = s.part_count++;
        memcpy(s.parts[k].psn_no, sponsor, sizeof s.parts[k].psn_no);
        memcpy(s.parts[k].admdvs, order.sponsors[i].admdvs, sizeof s.parts[k].admdvs);
        s.parts[k].amount = plan.legs[i].pay;
    }
    if ((err = store_settlement_put(txn, &s)) != GJ_OK)
        return ops_store_reason(c, err);

    if (ops_answer_settlement(c, &s) == NULL)
        return ops_out_of_memory(c);
    char mp[GJ_PSN_NO_MAX + 1];
    gj_log(GJ_LOG_INFO, "settle",
           "setl_id=%s psn_no=%s amount=%" PRId64 " acct_pay=%" PRId64 " mulaid=%" PRId64
           " cash=%" PRId64 " sponsors=%u",
           s.setl_id, gj_mask(patient.psn_no, mp, sizeof mp), s.amount, s.acct_pay, s.mulaid_pay,
           s.cash_pay, s.part_count);
    return GJ_R_NONE;
}

/* ---- Settlement/Balance (read) ---- */

gj_reason balance_check(call *c)
{
    Gongji__V1__BalanceRequest *req = (Gongji__V1__BalanceRequest *)c->request;
    gj_reason r;
    if ((r = ops_check_psn_no(c, "psn_no", req->psn_no)) != GJ_R_NONE)
        return r;
    if (!ops_is_role(c, GONGJI__V1__ROLE__OPERATOR) && !ops_is_role(c, GONGJI__V1__ROLE__INSTITUTION) &&
        !ops_is_self(c, req->psn_no))
        return ops_deny(c, "only the person themself, an institution or an operator");
    store_txn *txn;
    gj_err err = store_read_begin(c->n->store, &txn);
    if (err != GJ_OK)
        return ops_store_reason(c, err);
    store_person person;
    store_account account;
    Gongji__V1__BalanceReply *ans = call_alloc(c, sizeof *ans);
    if (ans == NULL) {
        r = ops_out_of_memory(c);
    } else if ((r = ops_get_local_person(c, txn, req->psn_no, &person)) == GJ_R_NONE) {
        err = store_account_get(txn, person.psn_no, &account);
        if (err != GJ_OK && err != GJ_ERR_NOTFOUND) {
            r = ops_store_reason(c, err);
        } else {
            gongji__v1__balance_reply__init(ans);
            ans->balance = ops_answer_balance(c, &person, err == GJ_OK ? &account : NULL);
            r = ans->balance ? GJ_R_NONE : ops_out_of_memory(c);
            c->answer = &ans->base;
        }
    }
    store_read_end(txn);
    return r;
}

/* ---- Settlement/Records (read) ---- */

gj_reason records_check(call *c)
{
    Gongji__V1__RecordsRequest *req = (Gongji__V1__RecordsRequest *)c->request;
    gj_reason r;
    if ((r = ops_check_psn_no(c, "psn_no", req->psn_no)) != GJ_R_NONE)
        return r;
    if (!ops_is_role(c, GONGJI__V1__ROLE__OPERATOR) && !ops_is_self(c, req->psn_no))
        return ops_deny(c, "only the sponsor themself or an operator");
    int32_t from = req->from_date, to = req->to_date ? req->to_date : c->today;
    if ((from != 0 && !gj_date_valid(from)) || !gj_date_valid(to))
        return call_fail(c, GJ_R_FIELD_INVALID, "dates are yyyymmdd");
    if (req->page_size > GJ_PAGE_SIZE_MAX)
        return call_fail(c, GJ_R_FIELD_INVALID, "page_size is at most %d", GJ_PAGE_SIZE_MAX);
    if (strlen(req->page_token) > 79)
        return call_fail(c, GJ_R_FIELD_INVALID, "page_token is not one this node gave");
    size_t page = req->page_size ? req->page_size : GJ_PAGE_SIZE_DEFAULT;

    store_txn *txn;
    gj_err err = store_read_begin(c->n->store, &txn);
    if (err != GJ_OK)
        return ops_store_reason(c, err);
    store_person person;
    store_spend *spends = call_alloc(c, sizeof *spends * page);
    Gongji__V1__RecordsReply *ans = call_alloc(c, sizeof *ans);
    Gongji__V1__SpendRecord **out = call_alloc(c, sizeof *out * page);
    char next[80] = "";
    size_t n = 0;
    if (spends == NULL || ans == NULL || out == NULL) {
        r = ops_out_of_memory(c);
        goto done;
    }
    if ((r = ops_get_local_person(c, txn, req->psn_no, &person)) != GJ_R_NONE)
        goto done;
    err = store_spend_list(txn, person.psn_no, from, to, req->page_token, spends, page, &n, next);
    if (err == GJ_ERR_INVAL) {
        r = call_fail(c, GJ_R_FIELD_INVALID, "page_token is not one this node gave");
        goto done;
    }
    if (err != GJ_OK) {
        r = ops_store_reason(c, err);
        goto done;
    }
    gongji__v1__records_reply__init(ans);
    for (size_t i = 0; i < n; i++) {
        Gongji__V1__SpendRecord *rec = call_alloc(c, sizeof *rec);
        if (rec == NULL) {
            r = ops_out_of_memory(c);
            goto done;
        }
        gongji__v1__spend_record__init(rec);
        rec->setl_id = call_strdup(c, spends[i].setl_id);
        rec->sponsor_psn_no = call_strdup(c, spends[i].sponsor);
        rec->beneficiary_psn_no = call_strdup(c, spends[i].beneficiary);
        if (!rec->setl_id || !rec->sponsor_psn_no || !rec->beneficiary_psn_no) {
            r = ops_out_of_memory(c);
            goto done;
        }
        rec->amount = spends[i].amount;
        rec->setl_date = spends[i].setl_date;
        rec->time_unix_ms = spends[i].unix_ms;
        rec->use = (Gongji__V1__UseType)spends[i].use;
        rec->refund = spends[i].refund != 0;
        out[i] = rec;
    }
    ans->records = out;
    ans->n_records = n;
    if ((ans->next_page_token = call_strdup(c, next)) == NULL) {
        r = ops_out_of_memory(c);
        goto done;
    }
    c->answer = &ans->base;
    r = GJ_R_NONE;
done:
    store_read_end(txn);
    return r;
}

/* ---- Operator ---- */

static gj_reason health_answer(call *c)
{
    node *n = c->n;
    Gongji__V1__HealthReply *ans = call_alloc(c, sizeof *ans);
    if (ans == NULL)
        return ops_out_of_memory(c);
    gongji__v1__health_reply__init(ans);
    ans->region = n->cfg.region;
    ans->version = GONGJI_VERSION;
    ans->uptime_s = (gj_mono_ms() - n->started_mono_ms) / 1000;
    ans->business_date = node_today(n);
    ans->clock_overridden = atomic_load(&n->date_override) != 0;
    ans->requests_served = atomic_load(&n->requests_served);
    ans->in_flight = atomic_load(&n->in_flight);
    ans->live = n->cfg.policy.live;
    ans->peers = (uint32_t)n->cfg.peer_count;
    store_stats stats;
    store_stats_get(n->store, &stats);
    ans->store_commits = stats.commits;
    ans->store_requests = stats.jobs;
    ans->store_apply_us = stats.apply_us;
    ans->store_commit_us = stats.commit_us;
    ans->peer_coalescable_calls = atomic_load(&n->peers.coalescable_calls);
    ans->peer_coalescable_messages = atomic_load(&n->peers.coalescable_messages);
    ans->settlements_unknown = deciding_unknown_count(n);
    ans->callers_proven = n->cred != NULL && !n->cfg.insecure_plaintext;
    ans->sessions = n->cred != NULL ? (uint32_t)session_table_count(&n->sessions) : 0;
    store_txn *txn;
    if (store_read_begin(n->store, &txn) == GJ_OK) {
        ans->persons = store_person_count(txn);
        ans->bindings = store_binding_count(txn);
        ans->journal_entries = store_journal_count(txn);
        ans->open_holds = store_hold_open_count(txn);
        ans->open_decisions = store_decision_open_count(txn);
        store_read_end(txn);
    }
    c->answer = &ans->base;
    return GJ_R_NONE;
}

gj_reason health_check(call *c)
{
    return health_answer(c);
}

gj_reason set_clock_check(call *c)
{
    Gongji__V1__SetClockRequest *req = (Gongji__V1__SetClockRequest *)c->request;
    if (!ops_is_role(c, GONGJI__V1__ROLE__OPERATOR))
        return ops_deny(c, "only an operator");
    if (!c->n->cfg.allow_clock_override)
        return GJ_R_CLOCK_OVERRIDE_DISABLED;
    if (req->business_date != 0 && !gj_date_valid(req->business_date))
        return call_fail(c, GJ_R_FIELD_INVALID, "business_date is yyyymmdd, or 0 for the real date");
    atomic_store(&c->n->date_override, req->business_date);
    gj_log(GJ_LOG_WARN, "clock", "business date set to %d by an operator (testing only)",
           node_today(c->n));
    return health_answer(c);
}

