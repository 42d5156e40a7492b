/* An institution's statement: its settlements coordinated here in a window, totalled
 * (InstitutionTotals, national 3201) or listed page by page (InstitutionSettlements,
 * national 3202, which the gateway compares line by line). Read-only; bounded by the
 * window's length, the page size and the caller's deadline. */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "gj_util.h"
#include "node.h"
#include "ops.h"

/* Both requests start with the same four fields (fixmedins_code, setl_admdvs, from, to). */
typedef struct window_fields {
    const char *institution, *region;
    int32_t from, to;
} window_fields;

static window_fields window_of(call *c)
{
    if (c->request->descriptor == &gongji__v1__institution_totals_request__descriptor) {
        Gongji__V1__InstitutionTotalsRequest *r = (Gongji__V1__InstitutionTotalsRequest *)c->request;
        return (window_fields){r->fixmedins_code, r->setl_admdvs, r->from_date, r->to_date};
    }
    Gongji__V1__InstitutionSettlementsRequest *r = (Gongji__V1__InstitutionSettlementsRequest *)c->request;
    return (window_fields){r->fixmedins_code, r->setl_admdvs, r->from_date, r->to_date};
}

const char *statement_route(call *c)
{
    const char *region = window_of(c).region;
    return region[0] != '\0' ? region : NULL;
}

/* Who may read, and whether the window is one: GJ_R_NONE when the call may go on. */
static gj_reason window_check(call *c, const window_fields *w)
{
    if (w->institution[0] == '\0' || strlen(w->institution) > GJ_INSTITUTION_MAX)
        return call_fail(c, GJ_R_FIELD_INVALID, "fixmedins_code is 1 to %d characters", GJ_INSTITUTION_MAX);
    if (ops_is_role(c, GONGJI__V1__ROLE__INSTITUTION) && strcmp(c->env->caller_id, w->institution) != 0)
        return ops_deny(c, "an institution reads its own statement only");
    if (!ops_is_role(c, GONGJI__V1__ROLE__INSTITUTION) && !ops_is_role(c, GONGJI__V1__ROLE__OPERATOR))
        return ops_deny(c, "the institution itself or an operator");
    if (!gj_date_valid(w->from) || !gj_date_valid(w->to) || w->to < w->from)
        return call_fail(c, GJ_R_FIELD_INVALID, "from_date and to_date are yyyymmdd, from first");
    int32_t last = w->from;
    for (int d = 0; d < GJ_STATEMENT_DAYS_MAX && last < w->to; d++)
        last = gj_date_next(last);
    if (last < w->to)
        return call_fail(c, GJ_R_FIELD_INVALID, "a statement covers at most %d days", GJ_STATEMENT_DAYS_MAX);
    return GJ_R_NONE;
}

typedef struct statement_scan {
    call *c;
    window_fields w;
    char prefix[GJ_ADMDVS_LEN + 2]; /* "510100-": this node's settlement ids */
    int64_t until_ms;
    uint64_t visits;
    gj_reason stopped; /* DEADLINE_PASSED or SHUTTING_DOWN when it ended early */
    bool out_of_memory;
    /* What each settlement of the institution in the window is given to. */
    bool (*take)(struct statement_scan *t, const store_settlement *s);
    Gongji__V1__InstitutionTotalsReply *totals;
    Gongji__V1__InstitutionSettlement **rows;
    size_t room, count;
    bool more; /* a page filled with settlements still to come */
} statement_scan;

static bool visit(const store_settlement *s, void *arg)
{
    statement_scan *t = arg;
    if (++t->visits % GJ_SCAN_CHECK_EVERY == 0) {
        if (atomic_load(&t->c->n->shutting_down))
            t->stopped = GJ_R_SHUTTING_DOWN;
        else if (gj_now_unix_ms() > t->until_ms)
            t->stopped = GJ_R_DEADLINE_PASSED;
        if (t->stopped != GJ_R_NONE)
            return false;
    }
    /* Ids sort by region, then date: past the window's last day, or this node's ids, stop. */
    if (strncmp(s->setl_id, t->prefix, strlen(t->prefix)) != 0 || s->setl_date > t->w.to)
        return false;
    if (strcmp(s->caller_id, t->w.institution) != 0)
        return true;
    return t->take(t, s);
}

static bool add_to_totals(statement_scan *t, const store_settlement *s)
{
    Gongji__V1__InstitutionTotalsReply *a = t->totals;
    if (s->status == STORE_SETL_REVOKED) {
        a->revoked_count++;
        a->revoked_amount += s->amount;
    } else {
        /* R21: a recovered settlement stands with its mutual-aid part given back. */
        bool recovered = s->status == STORE_SETL_RECOVERED;
        a->settled_count++;
        a->amount += s->amount;
        a->acct_pay += s->acct_pay;
        a->mulaid_pay += recovered ? 0 : s->mulaid_pay;
        a->cash_pay += s->cash_pay + (recovered ? s->mulaid_pay : 0);
    }
    return true;
}

static bool add_to_page(statement_scan *t, const store_settlement *s)
{
    if (t->count == t->room) {
        t->more = true;
        return false;
    }
    Gongji__V1__InstitutionSettlement *r = call_alloc(t->c, sizeof *r);
    if (r == NULL)
        return t->out_of_memory = true, false;
    gongji__v1__institution_settlement__init(r);
    r->setl_id = call_strdup(t->c, s->setl_id);
    r->psn_no = call_strdup(t->c, s->psn_no);
    r->msgid = call_strdup(t->c, s->call_id);
    if (r->setl_id == NULL || r->psn_no == NULL || r->msgid == NULL)
        return t->out_of_memory = true, false;
    r->setl_date = s->setl_date;
    r->amount = s->amount;
    r->acct_pay = s->acct_pay;
    bool recovered = s->status == STORE_SETL_RECOVERED;
    r->acct_mulaid_pay = recovered ? 0 : s->mulaid_pay;
    r->psn_cash_pay = s->cash_pay + (recovered ? s->mulaid_pay : 0);
    r->revoked = s->status == STORE_SETL_REVOKED;
    r->revoke_date = s->revoke_date;
    t->rows[t->count++] = r;
    return true;
}

/* Scan this node's settlements after `after` for the window; GJ_R_NONE or the reason it
 * stopped (the call's failure is set). */
static gj_reason run_scan(call *c, statement_scan *t, const char *after)
{
    int64_t now = gj_now_unix_ms();
    t->c = c;
    t->until_ms = c->env->deadline_unix_ms ? c->env->deadline_unix_ms : now + GJ_DEADLINE_DEFAULT_MS;
    snprintf(t->prefix, sizeof t->prefix, "%s-", c->n->cfg.region);
    store_txn *txn;
    gj_err err = store_read_begin(c->n->store, &txn);
    if (err != GJ_OK)
        return ops_store_reason(c, err);
    err = store_settlement_scan_after(txn, after, visit, t);
    store_read_end(txn);
    if (err != GJ_OK)
        return ops_store_reason(c, err);
    if (t->out_of_memory)
        return ops_out_of_memory(c);
    if (t->stopped != GJ_R_NONE)
        return call_fail(c, t->stopped, "the statement stopped after %llu settlements", (unsigned long long)t->visits);
    return GJ_R_NONE;
}

/* Settlement ids are REGION-YYYYMMDD-...: a scan starts just before the window's first day. */
static void window_start(call *c, int32_t from, char after[GJ_SETL_ID_MAX + 1])
{
    snprintf(after, GJ_SETL_ID_MAX + 1, "%s-%08d", c->n->cfg.region, (int)from);
}

gj_reason statement_totals_check(call *c)
{
    statement_scan t = {.w = window_of(c), .take = add_to_totals};
    gj_reason why = window_check(c, &t.w);
    if (why != GJ_R_NONE)
        return why;
    if ((t.totals = call_alloc(c, sizeof *t.totals)) == NULL)
        return ops_out_of_memory(c);
    gongji__v1__institution_totals_reply__init(t.totals);
    char after[GJ_SETL_ID_MAX + 1];
    window_start(c, t.w.from, after);
    if ((why = run_scan(c, &t, after)) != GJ_R_NONE)
        return why;
    c->answer = &t.totals->base;
    return GJ_R_NONE;
}

gj_reason statement_settlements_check(call *c)
{
    Gongji__V1__InstitutionSettlementsRequest *req = (Gongji__V1__InstitutionSettlementsRequest *)c->request;
    statement_scan t = {.w = window_of(c), .take = add_to_page};
    gj_reason why = window_check(c, &t.w);
    if (why != GJ_R_NONE)
        return why;
    if (req->page_size > GJ_STATEMENT_PAGE_MAX)
        return call_fail(c, GJ_R_FIELD_INVALID, "page_size is at most %d", GJ_STATEMENT_PAGE_MAX);
    char after[GJ_SETL_ID_MAX + 1];
    window_start(c, t.w.from, after);
    if (req->page_token[0] != '\0') {
        /* The last setl_id of the page before: one of this node's, inside the window. */
        if (strlen(req->page_token) > GJ_SETL_ID_MAX || strncmp(req->page_token, after, GJ_ADMDVS_LEN + 1) != 0 ||
            strcmp(req->page_token, after) < 0)
            return call_fail(c, GJ_R_FIELD_INVALID, "page_token is not one this node gave for this window");
        snprintf(after, sizeof after, "%s", req->page_token);
    }
    t.room = req->page_size ? req->page_size : GJ_STATEMENT_PAGE_DEFAULT;
    Gongji__V1__InstitutionSettlementsReply *ans = call_alloc(c, sizeof *ans);
    t.rows = call_alloc(c, sizeof *t.rows * t.room);
    if (ans == NULL || t.rows == NULL)
        return ops_out_of_memory(c);
    gongji__v1__institution_settlements_reply__init(ans);
    if ((why = run_scan(c, &t, after)) != GJ_R_NONE)
        return why;
    ans->settlements = t.rows;
    ans->n_settlements = t.count;
    ans->next_page_token = call_strdup(c, t.more ? t.rows[t.count - 1]->setl_id : "");
    if (ans->next_page_token == NULL)
        return ops_out_of_memory(c);
    c->answer = &ans->base;
    return GJ_R_NONE;
}
