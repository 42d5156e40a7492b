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
    if (!gj_date_valid(req->window))
        return call_fail(c, GJ_R_FIELD_INVALID, "window is yyyymmdd");
    if (strlen(req->counterparty) != GJ_ADMDVS_LEN || !gj_all_digits(req->counterparty, GJ_ADMDVS_LEN))
        return call_fail(c, GJ_R_FIELD_INVALID, "counterparty is another region's 6-digit code");
    char after[GJ_SETL_ID_MAX + 1];
    uint32_t after_leg;
    uint8_t after_kind;
    if (strlen(req->page_token) > GJ_PAGE_TOKEN_MAX ||
        !clearing_page_token_parse(req->page_token, after, &after_leg, &after_kind))
        return call_fail(c, GJ_R_FIELD_INVALID, "page_token is not one this node gave");
    if (req->page_size > GJ_CLEARING_PAGE_MAX)
        return call_fail(c, GJ_R_FIELD_INVALID, "page_size is at most %d", GJ_CLEARING_PAGE_MAX);
    rows_state st = {.c = c, .room = req->page_size ? req->page_size : GJ_CLEARING_PAGE_DEFAULT};
    if ((st.rows = call_alloc(c, sizeof *st.rows * st.room)) == NULL)
        return ops_out_of_memory(c);
    store_txn *txn;
    gj_err err = store_read_begin(c->n->store, &txn);
    if (err != GJ_OK)
        return ops_store_reason(c, err);
    err = store_clearing_scan_after(txn, req->window, req->counterparty, after, after_leg, after_kind, collect_row,
                                    &st);
    store_read_end(txn);
    if (err != GJ_OK)
        return ops_store_reason(c, err);
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
