/* Clearing/ClearingRows: the rows behind a window's totals with one counterparty, a page
 * at a time, for the region's own operators (gongji clearing --rows: national 3202's
 * per-settlement columns). The same pages as a peer's Peer/ClearingEntries, with who
 * paid for whom: private to the region, so operators only. */
#include <stdio.h>
#include <string.h>

#include "gj_util.h"
#include "ops.h"

typedef struct rows_state {
    call *c;
    size_t count, room;
    Gongji__V1__ClearingRow **rows;
    char next[GJ_PAGE_TOKEN_MAX + 1];
    bool out_of_memory;
} rows_state;

static bool collect_row(const store_clearing *e, void *arg)
{
    rows_state *st = arg;
    if (st->count == st->room)
        return false; /* st->next says where the next page begins */
    Gongji__V1__ClearingRow *r = call_alloc(st->c, sizeof *r);
    if (r == NULL) {
        st->out_of_memory = true;
        return false;
    }
    gongji__v1__clearing_row__init(r);
    r->setl_id = call_strdup(st->c, e->setl_id);
    r->sponsor_psn_no = call_strdup(st->c, e->sponsor);
    r->beneficiary_psn_no = call_strdup(st->c, e->beneficiary);
    if (r->setl_id == NULL || r->sponsor_psn_no == NULL || r->beneficiary_psn_no == NULL) {
        st->out_of_memory = true;
        return false;
    }
    r->leg = e->leg;
    r->kind = (Gongji__V1__ClearingKind)e->kind;
    r->amount = e->amount;
    r->owed_to_us = e->direction == STORE_CLR_OWED_TO_US;
    st->rows[st->count++] = r;
    snprintf(st->next, sizeof st->next, "%s/%u/%u", e->setl_id, e->leg, (unsigned)e->kind);
    return true;
}

gj_reason clearing_rows_check(call *c)
{
    Gongji__V1__ClearingRowsRequest *req = (Gongji__V1__ClearingRowsRequest *)c->request;
    if (!ops_is_role(c, GONGJI__V1__ROLE__OPERATOR))
        return ops_deny(c, "only an operator");
    if (strlen(req->counterparty) != GJ_ADMDVS_LEN || !gj_all_digits(req->counterparty, GJ_ADMDVS_LEN))
        return call_fail(c, GJ_R_FIELD_INVALID, "counterparty is another region's 6-digit code");
    rows_state st = {.c = c, .rows = call_alloc(c, sizeof *st.rows * GJ_CLEARING_PAGE_MAX)};
    if (st.rows == NULL)
        return ops_out_of_memory(c);
    gj_reason r = clearing_page_scan(c, req->window, req->counterparty, req->page_token, req->page_size, &st.room,
                                     collect_row, &st);
    if (r != GJ_R_NONE)
        return r;
    if (st.out_of_memory)
        return ops_out_of_memory(c);
    Gongji__V1__ClearingRowsReply *ans = call_alloc(c, sizeof *ans);
    if (ans == NULL)
        return ops_out_of_memory(c);
    gongji__v1__clearing_rows_reply__init(ans);
    ans->rows = st.rows;
    ans->n_rows = st.count;
    ans->next_page_token = call_strdup(c, st.count == st.room ? st.next : "");
    if (ans->next_page_token == NULL)
        return ops_out_of_memory(c);
    c->answer = &ans->base;
    return GJ_R_NONE;
}
