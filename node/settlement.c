/* Settlement in one region: Settle when every sponsor of the patient is insured here
 * (own account, then sponsors in order, then cash; the walk is xr/planner.c's), Balance
 * and Records (what relatives spent from a sponsor's account). A settlement with a
 * sponsor elsewhere is flagged here and coordinated by xr/coordinator.c; revokes,
 * reversals and premiums are lifecycle.c's. */
#include "gj_util.h"
#include "log.h"
#include "node.h"
#include "ops.h"
#include "rules.h"
#include "xr/planner.h"

#include <inttypes.h>
#include <string.h>

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
    if ((r = rules_check_use(c->policy, req->use)) != GJ_R_NONE)
        return r;
    if (req->accounts_not_used)
        return GJ_R_NONE; /* no sponsor is asked: answered here, all cash */
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
    if (strlen(req->sponsor_psn_no) > GJ_PSN_NO_MAX)
        return call_fail(c, GJ_R_FIELD_INVALID, "sponsor_psn_no is at most %d characters", GJ_PSN_NO_MAX);
    if ((r = ops_order_for_bill(c, &order, req->sponsor_psn_no)) != GJ_R_NONE)
        return r;
    for (uint32_t i = 0; i < order.count; i++)
        if (strcmp(order.sponsors[i].admdvs, c->n->cfg.region) != 0)
            c->crosses_regions = true;
    return GJ_R_NONE;
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
    if (req->accounts_not_used) {
        /* R19: no account pays this bill; the answer says so, and what the patient has. */
        Gongji__V1__SettleReply *ans = call_alloc(c, sizeof *ans);
        if (ans == NULL)
            return ops_out_of_memory(c);
        gongji__v1__settle_reply__init(ans);
        ans->amount = ans->psn_cash_pay = req->amount;
        ans->setl_date = c->today;
        ans->balance_after = own_available > 0 ? own_available : 0;
        c->answer = &ans->base;
        return GJ_R_NONE;
    }
    if ((err = store_order_get(txn, patient.psn_no, &order)) != GJ_OK)
        return ops_store_reason(c, err);
    if ((r = ops_order_for_bill(c, &order, req->sponsor_psn_no)) != GJ_R_NONE)
        return r;

    /* Every sponsor here: the planner's walk with everything known. */
    xr_plan plan = {.amount = req->amount, .own_available = own_available, .cascade = c->policy->cascade,
                    .live = c->policy->live, .leg_count = order.count};
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

    if (ops_answer_settlement(c, txn, &s) == NULL)
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
    if (strlen(req->page_token) > GJ_PAGE_TOKEN_MAX)
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
    char next[GJ_PAGE_TOKEN_MAX + 1] = "";
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
