/* FamilyPool (R20): family mutual-aid accounts (家庭共济账户, seed 002), where the region
 * runs them (policy family_pool).
 *
 * A pool is an account under its own id at its creator's node, with a record of whose
 * money is in it (store.h, "family pool"). Members are bound to it like beneficiaries to
 * a sponsor whose number is the pool's id, so every settlement path (local, across
 * regions, revokes, recoveries) pays from it unchanged; ops_sponsor_funds asks
 * pool_funds what it may give, and the store keeps the shares in step with the balance.
 * A member elsewhere in the province is bound through Peer/AcceptBinding
 * (xr/pool_members.c). */
#include "gj_util.h"
#include "log.h"
#include "node.h"
#include "ops.h"
#include "rules.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static gj_reason check_pool_id(call *c, const char *pool_id)
{
    if (!gj_is_pool_id(pool_id) || strlen(pool_id) > GJ_PSN_NO_MAX)
        return call_fail(c, GJ_R_FIELD_INVALID, "pool_id must be a pool's id (%s...)", GJ_POOL_ID_PREFIX);
    return GJ_R_NONE;
}

static gj_reason offered(call *c)
{
    return c->policy->family_pool ? GJ_R_NONE : GJ_R_POOL_NOT_OFFERED;
}

/* The pool, open. */
static gj_reason open_pool(call *c, store_txn *txn, const char *pool_id, store_pool *out)
{
    gj_err err = store_pool_get(txn, pool_id, out);
    if (err == GJ_ERR_NOTFOUND)
        return call_fail(c, GJ_R_POOL_NOT_FOUND, "no pool %s in region %s", pool_id, c->n->cfg.region);
    if (err != GJ_OK)
        return ops_store_reason(c, err);
    if (out->state != STORE_POOL_OPEN)
        return GJ_R_POOL_CLOSED;
    return GJ_R_NONE;
}

/* The creator themself or an operator; read from the pool, so from a read txn. */
static gj_reason creator_or_operator(call *c, const char *pool_id)
{
    if (ops_is_role(c, GONGJI__V1__ROLE__OPERATOR))
        return GJ_R_NONE;
    store_txn *txn;
    store_pool pool;
    gj_err err = store_read_begin(c->n->store, &txn);
    if (err != GJ_OK)
        return ops_store_reason(c, err);
    err = store_pool_get(txn, pool_id, &pool);
    store_read_end(txn);
    if (err == GJ_OK && ops_is_self(c, pool.creator))
        return GJ_R_NONE;
    return ops_deny(c, "only the pool's creator or an operator");
}

static Gongji__V1__PoolShare *answer_share(call *c, const store_pool_share *s)
{
    Gongji__V1__PoolShare *a = call_alloc(c, sizeof *a);
    if (a == NULL)
        return NULL;
    gongji__v1__pool_share__init(a);
    a->psn_no = call_strdup(c, s->psn_no);
    a->contributed = s->contributed;
    a->remaining = s->remaining;
    return a->psn_no != NULL ? a : NULL;
}

Gongji__V1__Pool *pool_answer(call *c, store_txn *txn, const store_pool *pool)
{
    Gongji__V1__Pool *a = call_alloc(c, sizeof *a);
    if (a == NULL)
        return NULL;
    gongji__v1__pool__init(a);
    a->pool_id = call_strdup(c, pool->pool_id);
    a->creator_psn_no = call_strdup(c, pool->creator);
    a->admdvs = call_strdup(c, c->n->cfg.region);
    if (a->pool_id == NULL || a->creator_psn_no == NULL || a->admdvs == NULL)
        return NULL;
    a->open = pool->state == STORE_POOL_OPEN;
    a->created_unix_ms = pool->created_unix_ms;
    a->closed_unix_ms = pool->closed_unix_ms;
    store_account account;
    if (store_account_get(txn, pool->pool_id, &account) == GJ_OK) {
        a->balance = account.balance;
        a->held = account.held;
    }
    a->shares = call_alloc(c, sizeof *a->shares * pool->share_count);
    if (a->shares == NULL)
        return NULL;
    for (uint32_t i = 0; i < pool->share_count; i++)
        if ((a->shares[a->n_shares++] = answer_share(c, &pool->shares[i])) == NULL)
            return NULL;
    store_binding *list = call_alloc(c, sizeof *list * GJ_BINDINGS_PER_PERSON_MAX);
    size_t n = 0;
    if (list == NULL)
        return NULL;
    gj_err err = store_binding_list_by_sponsor(txn, pool->pool_id, list, GJ_BINDINGS_PER_PERSON_MAX, &n);
    if (err != GJ_OK && err != GJ_ERR_TOOBIG)
        n = 0;
    a->members = call_alloc(c, sizeof *a->members * (n ? n : 1));
    if (a->members == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++)
        if ((a->members[a->n_members++] = ops_answer_binding(c, &list[i])) == NULL)
            return NULL;
    return a;
}

static gj_reason answer(call *c, store_txn *txn, const store_pool *pool)
{
    Gongji__V1__PoolReply *ans = call_alloc(c, sizeof *ans);
    if (ans == NULL)
        return ops_out_of_memory(c);
    gongji__v1__pool_reply__init(ans);
    if ((ans->pool = pool_answer(c, txn, pool)) == NULL)
        return ops_out_of_memory(c);
    c->answer = &ans->base;
    return GJ_R_NONE;
}

/* An employee insured here, active, with an account (what a sponsor must be, R1). */
static gj_reason local_employee(call *c, store_txn *txn, const char *psn_no, store_person *out,
                                store_account *account)
{
    gj_reason r = ops_get_local_person(c, txn, psn_no, out);
    if (r != GJ_R_NONE)
        return r;
    gj_err err = store_account_get(txn, psn_no, account);
    if (err != GJ_OK && err != GJ_ERR_NOTFOUND)
        return ops_store_reason(c, err);
    return rules_check_sponsor(out, err == GJ_OK);
}

/* Money between a person and the pool, both here: one journal entry each side. */
static gj_reason transfer(call *c, store_txn *txn, uint8_t kind, const char *from, const char *to, int64_t amount)
{
    store_journal_entry out = {.unix_ms = gj_now_unix_ms(), .kind = kind, .amount = -amount};
    gj_strcpy_fit(out.psn_no, sizeof out.psn_no, from);
    gj_strcpy_fit(out.counterpart, sizeof out.counterpart, to);
    gj_strcpy_fit(out.caller_id, sizeof out.caller_id, c->env->caller_id);
    gj_strcpy_fit(out.call_id, sizeof out.call_id, c->env->call_id);
    store_journal_entry in = out;
    in.amount = amount;
    gj_strcpy_fit(in.psn_no, sizeof in.psn_no, to);
    gj_strcpy_fit(in.counterpart, sizeof in.counterpart, from);
    gj_err err;
    if ((err = store_account_move(txn, &out, NULL)) != GJ_OK || (err = store_account_move(txn, &in, NULL)) != GJ_OK)
        return ops_store_reason(c, err);
    return GJ_R_NONE;
}

/* ---- what a pool gives a member ---- */

gj_reason pool_funds(call *c, store_txn *txn, const char *pool_id, const char *member, int64_t *shareable)
{
    store_pool pool;
    store_account account;
    *shareable = 0;
    gj_err err = store_pool_get(txn, pool_id, &pool);
    if (err == GJ_ERR_NOTFOUND || (err == GJ_OK && pool.state != STORE_POOL_OPEN))
        return GJ_R_NONE;
    if (err != GJ_OK)
        return ops_store_reason(c, err);
    /* Money put into the pool is for the family, never for its contributors' own bills. */
    for (uint32_t i = 0; i < pool.share_count; i++)
        if (strcmp(pool.shares[i].psn_no, member) == 0)
            return GJ_R_NONE;
    if ((err = store_account_get(txn, pool_id, &account)) != GJ_OK)
        return err == GJ_ERR_NOTFOUND ? GJ_R_NONE : ops_store_reason(c, err);
    *shareable = rules_shareable(&account, 0); /* the floor was kept when it went in */
    return GJ_R_NONE;
}

/* ---- FamilyPool/Create ---- */

gj_reason pool_create_check(call *c)
{
    Gongji__V1__PoolCreateRequest *req = (Gongji__V1__PoolCreateRequest *)c->request;
    gj_reason r;
    if ((r = ops_check_psn_no(c, "creator_psn_no", req->creator_psn_no)) != GJ_R_NONE)
        return r;
    if (!ops_is_role(c, GONGJI__V1__ROLE__OPERATOR) && !ops_is_self(c, req->creator_psn_no))
        return ops_deny(c, "only the creator or an operator");
    return offered(c);
}

gj_reason pool_create_apply(call *c, store_txn *txn)
{
    Gongji__V1__PoolCreateRequest *req = (Gongji__V1__PoolCreateRequest *)c->request;
    store_person creator;
    store_account account;
    gj_reason r = local_employee(c, txn, req->creator_psn_no, &creator, &account);
    if (r != GJ_R_NONE)
        return r;
    char existing[GJ_PSN_NO_MAX + 1];
    gj_err err = store_pool_of_creator(txn, creator.psn_no, existing);
    if (err == GJ_OK)
        return call_fail(c, GJ_R_POOL_EXISTS, "the creator's pool %s is open", existing);
    if (err != GJ_ERR_NOTFOUND)
        return ops_store_reason(c, err);
    uint64_t seq;
    if ((err = store_next_seq(txn, "pool", &seq)) != GJ_OK)
        return ops_store_reason(c, err);
    store_pool pool = {.state = STORE_POOL_OPEN, .created_unix_ms = gj_now_unix_ms(), .share_count = 1};
    snprintf(pool.pool_id, sizeof pool.pool_id, "%s%s%010" PRIu64, GJ_POOL_ID_PREFIX, c->n->cfg.region, seq);
    memcpy(pool.creator, creator.psn_no, sizeof pool.creator);
    memcpy(pool.shares[0].psn_no, creator.psn_no, sizeof pool.shares[0].psn_no);
    gj_strcpy_fit(pool.created_by, sizeof pool.created_by, c->env->caller_id);
    if ((err = store_pool_put(txn, &pool)) != GJ_OK || (err = store_account_ensure(txn, pool.pool_id)) != GJ_OK)
        return ops_store_reason(c, err);
    char m[GJ_PSN_NO_MAX + 1];
    gj_log(GJ_LOG_INFO, "pool", "created pool=%s creator=%s", pool.pool_id, gj_mask(pool.creator, m, sizeof m));
    return answer(c, txn, &pool);
}

/* ---- FamilyPool/Contribute ---- */

gj_reason pool_contribute_check(call *c)
{
    Gongji__V1__PoolContributeRequest *req = (Gongji__V1__PoolContributeRequest *)c->request;
    gj_reason r;
    if ((r = check_pool_id(c, req->pool_id)) != GJ_R_NONE ||
        (r = ops_check_psn_no(c, "contributor_psn_no", req->contributor_psn_no)) != GJ_R_NONE ||
        (r = rules_check_amount(req->amount)) != GJ_R_NONE)
        return r;
    if (!ops_is_role(c, GONGJI__V1__ROLE__OPERATOR) && !ops_is_self(c, req->contributor_psn_no))
        return ops_deny(c, "only the contributor or an operator");
    return offered(c);
}

gj_reason pool_contribute_apply(call *c, store_txn *txn)
{
    Gongji__V1__PoolContributeRequest *req = (Gongji__V1__PoolContributeRequest *)c->request;
    const gj_policy *policy = c->policy;
    store_pool pool;
    store_person contributor;
    store_account account;
    gj_reason r;
    if ((r = open_pool(c, txn, req->pool_id, &pool)) != GJ_R_NONE ||
        (r = local_employee(c, txn, req->contributor_psn_no, &contributor, &account)) != GJ_R_NONE)
        return r;
    /* The creator, or a member the pool is bound to today. */
    bool known = false;
    for (uint32_t i = 0; i < pool.share_count; i++)
        known = known || strcmp(pool.shares[i].psn_no, contributor.psn_no) == 0;
    store_binding b;
    if (!known) {
        gj_err err = store_binding_get(txn, pool.pool_id, contributor.psn_no, &b);
        if (err != GJ_OK && err != GJ_ERR_NOTFOUND)
            return ops_store_reason(c, err);
        if (err == GJ_ERR_NOTFOUND || !rules_binding_pays_on(&b, c->today))
            return GJ_R_POOL_NOT_CONTRIBUTOR;
        if (pool.share_count >= GJ_POOL_SHARES_MAX)
            return call_fail(c, GJ_R_POOL_SHARES_LIMIT, "a pool keeps at most %d contributors", GJ_POOL_SHARES_MAX);
    }
    int64_t above = account.balance - account.held - policy->pool_floor;
    if (req->amount > above) {
        char a[32], f[32];
        return call_fail(c, GJ_R_POOL_ABOVE_FLOOR, "at most %s yuan now: the contributor keeps %s",
                         gj_yuan_format(above > 0 ? above : 0, a), gj_yuan_format(policy->pool_floor, f));
    }
    /* Out of the contributor, into the pool: the store adds the share. */
    gj_err err;
    if ((r = transfer(c, txn, STORE_J_POOL_IN, contributor.psn_no, pool.pool_id, req->amount)) != GJ_R_NONE)
        return r;
    if ((err = store_pool_get(txn, pool.pool_id, &pool)) != GJ_OK)
        return ops_store_reason(c, err);
    char m[GJ_PSN_NO_MAX + 1], y[32];
    gj_log(GJ_LOG_INFO, "pool", "contribution pool=%s contributor=%s amount=%s", pool.pool_id,
           gj_mask(contributor.psn_no, m, sizeof m), gj_yuan_format(req->amount, y));
    return answer(c, txn, &pool);
}

/* ---- FamilyPool/AddMember ---- */

gj_reason pool_add_member_check(call *c)
{
    Gongji__V1__PoolAddMemberRequest *req = (Gongji__V1__PoolAddMemberRequest *)c->request;
    gj_reason r;
    if ((r = check_pool_id(c, req->pool_id)) != GJ_R_NONE ||
        (r = ops_check_psn_no(c, "member_psn_no", req->member_psn_no)) != GJ_R_NONE ||
        (r = offered(c)) != GJ_R_NONE || (r = creator_or_operator(c, req->pool_id)) != GJ_R_NONE ||
        (r = rules_check_relation(c->policy, req->relation)) != GJ_R_NONE ||
        (r = ops_check_verification_form(c, req->verification)) != GJ_R_NONE)
        return r;
    const char *region = req->member_admdvs;
    if (region[0] != '\0' && strcmp(region, c->n->cfg.region) != 0) {
        if (strlen(region) != GJ_ADMDVS_LEN || !gj_all_digits(region, GJ_ADMDVS_LEN))
            return call_fail(c, GJ_R_FIELD_INVALID, "member_admdvs must be a 6-digit region code");
        if (!rules_same_province(region, c->n->cfg.region))
            return call_fail(c, GJ_R_POOL_OUTSIDE_PROVINCE, "region %s is not in the pool's province", region);
        c->crosses_regions = true; /* the member's node keeps a copy (xr/pool_members.c) */
    }
    return GJ_R_NONE;
}

/* The binding of the pool to the member, as it will be written (pool open, member not a
 * member yet, room for one more); both the local and the cross-region path use it. */
gj_reason pool_member_binding(call *c, store_txn *txn, store_binding *b, size_t *members)
{
    Gongji__V1__PoolAddMemberRequest *req = (Gongji__V1__PoolAddMemberRequest *)c->request;
    store_pool pool;
    gj_reason r = open_pool(c, txn, req->pool_id, &pool);
    if (r != GJ_R_NONE)
        return r;
    if (strcmp(req->member_psn_no, pool.creator) == 0)
        return GJ_R_SELF_BINDING;
    store_binding existing;
    gj_err err = store_binding_get(txn, pool.pool_id, req->member_psn_no, &existing);
    if (err != GJ_OK && err != GJ_ERR_NOTFOUND)
        return ops_store_reason(c, err);
    if ((r = ops_check_rebind(c, err == GJ_OK ? &existing : NULL)) != GJ_R_NONE)
        return r;
    if ((r = ops_count_in_force(c, txn, pool.pool_id, true, req->member_psn_no, members)) != GJ_R_NONE)
        return r;
    if (*members >= c->policy->pool_members_max)
        return call_fail(c, GJ_R_POOL_MEMBERS_LIMIT, "the region allows %u members",
                         c->policy->pool_members_max);
    memset(b, 0, sizeof *b);
    memcpy(b->sponsor, pool.pool_id, sizeof b->sponsor);
    gj_strcpy_fit(b->beneficiary, sizeof b->beneficiary, req->member_psn_no);
    memcpy(b->sponsor_admdvs, c->n->cfg.region, sizeof b->sponsor_admdvs);
    gj_strcpy_fit(b->beneficiary_admdvs, sizeof b->beneficiary_admdvs,
                  req->member_admdvs[0] ? req->member_admdvs : c->n->cfg.region);
    b->relation = (uint8_t)req->relation;
    b->begin_date = c->today;
    b->created_unix_ms = gj_now_unix_ms();
    return GJ_R_NONE;
}

/* Write the member's binding (the member's own checks done: here, or by their node). */
gj_reason pool_member_write(call *c, store_txn *txn, const store_binding *b)
{
    Gongji__V1__PoolAddMemberRequest *req = (Gongji__V1__PoolAddMemberRequest *)c->request;
    gj_err err = store_binding_put(txn, b);
    if (err != GJ_OK)
        return ops_store_reason(c, err);
    gj_reason r = ops_record_verification(c, txn, b, req->verification, ops_attester(c));
    if (r != GJ_R_NONE)
        return r;
    store_pool pool;
    if ((err = store_pool_get(txn, b->sponsor, &pool)) != GJ_OK)
        return ops_store_reason(c, err);
    char m[GJ_PSN_NO_MAX + 1];
    gj_log(GJ_LOG_INFO, "pool", "member pool=%s member=%s region=%s relation=%s", b->sponsor,
           gj_mask(b->beneficiary, m, sizeof m), b->beneficiary_admdvs, rules_relation_name(b->relation));
    return answer(c, txn, &pool);
}

gj_reason pool_add_member_apply(call *c, store_txn *txn)
{
    Gongji__V1__PoolAddMemberRequest *req = (Gongji__V1__PoolAddMemberRequest *)c->request;
    store_binding b;
    store_person member;
    size_t members;
    gj_reason r;
    if ((r = pool_member_binding(c, txn, &b, &members)) != GJ_R_NONE ||
        (r = ops_get_local_person(c, txn, req->member_psn_no, &member)) != GJ_R_NONE ||
        (r = rules_check_beneficiary(&member)) != GJ_R_NONE ||
        (r = ops_check_verification(c, &member, req->verification)) != GJ_R_NONE)
        return r;
    if ((r = ops_order_add(c, txn, member.psn_no, b.sponsor, b.sponsor_admdvs)) != GJ_R_NONE)
        return r;
    return pool_member_write(c, txn, &b);
}

/* ---- FamilyPool/Close ---- */

gj_reason pool_close_check(call *c)
{
    Gongji__V1__PoolCloseRequest *req = (Gongji__V1__PoolCloseRequest *)c->request;
    gj_reason r;
    if ((r = check_pool_id(c, req->pool_id)) != GJ_R_NONE || (r = creator_or_operator(c, req->pool_id)) != GJ_R_NONE)
        return r;
    /* Members elsewhere are told their binding ended (xr/pool_members.c). */
    store_txn *txn;
    store_binding *list = call_alloc(c, sizeof *list * GJ_BINDINGS_PER_PERSON_MAX);
    size_t n = 0;
    if (list == NULL)
        return ops_out_of_memory(c);
    if (store_read_begin(c->n->store, &txn) != GJ_OK)
        return GJ_R_NONE;
    gj_err err = store_binding_list_by_sponsor(txn, req->pool_id, list, GJ_BINDINGS_PER_PERSON_MAX, &n);
    store_read_end(txn);
    for (size_t i = 0; (err == GJ_OK || err == GJ_ERR_TOOBIG) && i < n; i++)
        if (strcmp(list[i].beneficiary_admdvs, c->n->cfg.region) != 0 && rules_binding_in_force(&list[i], c->today))
            c->crosses_regions = true;
    return GJ_R_NONE;
}

gj_reason pool_close_apply(call *c, store_txn *txn)
{
    Gongji__V1__PoolCloseRequest *req = (Gongji__V1__PoolCloseRequest *)c->request;
    store_pool pool;
    store_account account;
    gj_reason r = open_pool(c, txn, req->pool_id, &pool);
    if (r != GJ_R_NONE)
        return r;
    gj_err err = store_account_get(txn, pool.pool_id, &account);
    if (err != GJ_OK)
        return ops_store_reason(c, err);
    if (account.held > 0)
        return GJ_R_POOL_BUSY; /* a hold is decided within seconds: then close */
    /* Every remaining fen back to the account it came from. */
    int64_t returned = 0;
    for (uint32_t i = 0; i < pool.share_count; i++) {
        int64_t rest = pool.shares[i].remaining;
        if (rest == 0)
            continue;
        if ((r = transfer(c, txn, STORE_J_POOL_OUT, pool.pool_id, pool.shares[i].psn_no, rest)) != GJ_R_NONE)
            return r;
        returned += rest;
    }
    /* Its members' bindings end with it: today is the last day they could pay. */
    store_binding *list = call_alloc(c, sizeof *list * GJ_BINDINGS_PER_PERSON_MAX);
    size_t n = 0;
    if (list == NULL)
        return ops_out_of_memory(c);
    err = store_binding_list_by_sponsor(txn, pool.pool_id, list, GJ_BINDINGS_PER_PERSON_MAX, &n);
    if (err != GJ_OK && err != GJ_ERR_TOOBIG)
        return ops_store_reason(c, err);
    for (size_t i = 0; i < n; i++) {
        if (!rules_binding_in_force(&list[i], c->today))
            continue;
        list[i].end_date = gj_date_next(c->today);
        if (list[i].begin_date > list[i].end_date)
            list[i].end_date = list[i].begin_date;
        if ((err = store_binding_put(txn, &list[i])) != GJ_OK)
            return ops_store_reason(c, err);
    }
    if ((err = store_pool_get(txn, pool.pool_id, &pool)) != GJ_OK)
        return ops_store_reason(c, err);
    pool.state = STORE_POOL_CLOSED;
    pool.closed_unix_ms = gj_now_unix_ms();
    gj_strcpy_fit(pool.closed_by, sizeof pool.closed_by, c->env->caller_id);
    if ((err = store_pool_put(txn, &pool)) != GJ_OK)
        return ops_store_reason(c, err);
    char y[32];
    gj_log(GJ_LOG_INFO, "pool", "closed pool=%s returned=%s", pool.pool_id, gj_yuan_format(returned, y));
    return answer(c, txn, &pool);
}

/* ---- FamilyPool/Get ---- */

gj_reason pool_get_check(call *c)
{
    Gongji__V1__PoolGetRequest *req = (Gongji__V1__PoolGetRequest *)c->request;
    gj_reason r;
    bool by_id = req->pool_id[0] != '\0';
    if (by_id ? (r = check_pool_id(c, req->pool_id)) != GJ_R_NONE
              : (r = ops_check_psn_no(c, "creator_psn_no", req->creator_psn_no)) != GJ_R_NONE)
        return r;
    store_txn *txn;
    gj_err err = store_read_begin(c->n->store, &txn);
    if (err != GJ_OK)
        return ops_store_reason(c, err);
    char pool_id[GJ_PSN_NO_MAX + 1];
    store_pool pool;
    if (by_id)
        gj_strcpy_fit(pool_id, sizeof pool_id, req->pool_id);
    else
        err = store_pool_of_creator(txn, req->creator_psn_no, pool_id);
    if (err == GJ_OK)
        err = store_pool_get(txn, pool_id, &pool);
    if (err == GJ_ERR_NOTFOUND) {
        r = GJ_R_POOL_NOT_FOUND;
    } else if (err != GJ_OK) {
        r = ops_store_reason(c, err);
    } else {
        /* An operator, or someone whose money is or was in it. */
        bool allowed = ops_is_role(c, GONGJI__V1__ROLE__OPERATOR);
        for (uint32_t i = 0; !allowed && i < pool.share_count; i++)
            allowed = ops_is_self(c, pool.shares[i].psn_no);
        r = allowed ? answer(c, txn, &pool) : ops_deny(c, "only a contributor or an operator");
    }
    store_read_end(txn);
    return r;
}
