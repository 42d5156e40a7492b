/* Registry: Enroll (a person enrolled or updated by an operator; a person who stops
 * being insured here, or changes insutype, loses their bindings at once) and Credit (a
 * contribution into a personal account). */
#include "gj_util.h"
#include "log.h"
#include "node.h"
#include "ops.h"
#include "rules.h"

#include <string.h>

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
    if (gj_is_family_account(sp.psn_no))
        return call_fail(c, GJ_R_FIELD_INVALID, "psn_no may not begin with %s or %s: pools and wallets are numbered so",
                         GJ_POOL_ID_PREFIX, GJ_WALLET_ID_PREFIX);
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
gj_reason registry_end_bindings(call *c, store_txn *txn, const char *psn_no, uint32_t *ended)
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
    if (leaves && (r = registry_end_bindings(c, txn, sp.psn_no, &ended)) != GJ_R_NONE)
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
    if (strlen(req->memo) > GJ_MEMO_MAX)
        return call_fail(c, GJ_R_FIELD_INVALID, "memo is at most %d bytes", GJ_MEMO_MAX);
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
