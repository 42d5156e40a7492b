/* An institution's statement: its settlements coordinated here in a window, totalled
 * (InstitutionTotals, national 3201 through the gateway). Read-only; bounded by the
 * window's length and by the caller's deadline. */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "gj_util.h"
#include "node.h"
#include "ops.h"

const char *statement_route(call *c)
{
    const char *region = ((Gongji__V1__InstitutionTotalsRequest *)c->request)->setl_admdvs;
    return region[0] != '\0' ? region : NULL;
}

typedef struct totals_scan {
    call *c;
    const char *institution;
    char prefix[GJ_ADMDVS_LEN + 2]; /* "510100-": this node's settlement ids */
    int32_t to_date;
    int64_t until_ms;
    uint64_t visits;
    gj_reason stopped; /* DEADLINE_PASSED or SHUTTING_DOWN when it ended early */
    Gongji__V1__InstitutionTotalsReply *ans;
} totals_scan;

static bool add_settlement(const store_settlement *s, void *arg)
{
    totals_scan *t = arg;
    if (++t->visits % GJ_SCAN_CHECK_EVERY == 0) {
        if (atomic_load(&t->c->n->shutting_down))
            t->stopped = GJ_R_SHUTTING_DOWN;
        else if (gj_now_unix_ms() > t->until_ms)
            t->stopped = GJ_R_DEADLINE_PASSED;
        if (t->stopped != GJ_R_NONE)
            return false;
    }
    /* Ids sort by region, then date: past the window's last day, or this node's ids, stop. */
    if (strncmp(s->setl_id, t->prefix, strlen(t->prefix)) != 0 || s->setl_date > t->to_date)
        return false;
    if (strcmp(s->caller_id, t->institution) != 0)
        return true;
    Gongji__V1__InstitutionTotalsReply *a = t->ans;
    if (s->status == STORE_SETL_REVOKED) {
        a->revoked_count++;
        a->revoked_amount += s->amount;
    } else {
        a->settled_count++;
        a->amount += s->amount;
        a->acct_pay += s->acct_pay;
        a->mulaid_pay += s->mulaid_pay;
        a->cash_pay += s->cash_pay;
    }
    return true;
}

gj_reason statement_totals_check(call *c)
{
    Gongji__V1__InstitutionTotalsRequest *req = (Gongji__V1__InstitutionTotalsRequest *)c->request;
    if (req->fixmedins_code[0] == '\0' || strlen(req->fixmedins_code) > GJ_INSTITUTION_MAX)
        return call_fail(c, GJ_R_FIELD_INVALID, "fixmedins_code is 1 to %d characters", GJ_INSTITUTION_MAX);
    if (ops_is_role(c, GONGJI__V1__ROLE__INSTITUTION) && strcmp(c->env->caller_id, req->fixmedins_code) != 0)
        return ops_deny(c, "an institution reads its own statement only");
    if (!ops_is_role(c, GONGJI__V1__ROLE__INSTITUTION) && !ops_is_role(c, GONGJI__V1__ROLE__OPERATOR))
        return ops_deny(c, "the institution itself or an operator");
    int32_t from = req->from_date, to = req->to_date;
    if (!gj_date_valid(from) || !gj_date_valid(to) || to < from)
        return call_fail(c, GJ_R_FIELD_INVALID, "from_date and to_date are yyyymmdd, from first");
    int32_t last = from;
    for (int d = 0; d < GJ_STATEMENT_DAYS_MAX && last < to; d++)
        last = gj_date_next(last);
    if (last < to)
        return call_fail(c, GJ_R_FIELD_INVALID, "a statement covers at most %d days", GJ_STATEMENT_DAYS_MAX);
    Gongji__V1__InstitutionTotalsReply *ans = call_alloc(c, sizeof *ans);
    if (ans == NULL)
        return ops_out_of_memory(c);
    gongji__v1__institution_totals_reply__init(ans);
    int64_t now = gj_now_unix_ms();
    totals_scan t = {.c = c, .institution = req->fixmedins_code, .to_date = to, .ans = ans,
                     .until_ms = c->env->deadline_unix_ms ? c->env->deadline_unix_ms : now + GJ_DEADLINE_DEFAULT_MS};
    snprintf(t.prefix, sizeof t.prefix, "%s-", c->n->cfg.region);
    /* Settlement ids are REGION-YYYYMMDD-...: start just before the window's first day. */
    char after[GJ_SETL_ID_MAX + 1];
    snprintf(after, sizeof after, "%s-%08d", c->n->cfg.region, (int)from);
    store_txn *txn;
    gj_err err = store_read_begin(c->n->store, &txn);
    if (err != GJ_OK)
        return ops_store_reason(c, err);
    err = store_settlement_scan_after(txn, after, add_settlement, &t);
    store_read_end(txn);
    if (err != GJ_OK)
        return ops_store_reason(c, err);
    if (t.stopped != GJ_R_NONE)
        return call_fail(c, t.stopped, "the statement stopped after %llu settlements", (unsigned long long)t.visits);
    c->answer = &ans->base;
    return GJ_R_NONE;
}
