/* Clearing (R16, national 3201/3202): what regions owe each other.
 *
 * Every cross-region payment, premium and refund writes one row on each of the two
 * nodes, in the same transaction as the money: the coordinator (the beneficiary's
 * region) records what the sponsor's region owes it; the sponsor's node records what it
 * owes. Rows fall into windows named by date; an operator closes a window and a closed
 * window never changes. Reconcile compares a window with a peer, row by row. */
#include "gj_util.h"
#include "log.h"
#include "ops.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CLEARING_COUNTERPARTIES_MAX 512
#define CLEARING_RANGE_DAYS_MAX 366

gj_reason clearing_record(store_txn *txn, int32_t window_hint, const char *counterparty,
                          const char *setl_id, uint32_t leg, uint8_t kind, uint8_t direction,
                          int64_t amount, const char *sponsor, const char *beneficiary)
{
    store_clearing e = {.leg = leg, .kind = kind, .direction = direction, .amount = amount,
                        .unix_ms = gj_now_unix_ms()};
    if (store_window_first_open(txn, window_hint, &e.window) != GJ_OK ||
        !gj_strcpy_fit(e.counterparty, sizeof e.counterparty, counterparty) ||
        !gj_strcpy_fit(e.setl_id, sizeof e.setl_id, setl_id) ||
        !gj_strcpy_fit(e.sponsor, sizeof e.sponsor, sponsor) ||
        !gj_strcpy_fit(e.beneficiary, sizeof e.beneficiary, beneficiary))
        return GJ_R_STORE_ERROR;
    gj_err err = store_clearing_put(txn, &e);
    if (err != GJ_OK) {
        gj_log(GJ_LOG_ERROR, "clearing", "setl_id=%s leg=%u window=%d cannot be recorded: %s", setl_id,
               leg, e.window, gj_err_name(err));
        return gj_reason_of_err(err);
    }
    return GJ_R_NONE;
}

/* ---- totals ---- */

typedef struct totals_state {
    call *c;
    size_t count;
    Gongji__V1__CounterpartyTotals *rows;  /* CLEARING_COUNTERPARTIES_MAX of them */
    bool overflow;
} totals_state;

static Gongji__V1__CounterpartyTotals *totals_row(totals_state *st, const char *region)
{
    for (size_t i = 0; i < st->count; i++)
        if (strcmp(st->rows[i].region, region) == 0)
            return &st->rows[i];
    if (st->count >= CLEARING_COUNTERPARTIES_MAX) {
        st->overflow = true;
        return NULL;
    }
    Gongji__V1__CounterpartyTotals *row = &st->rows[st->count++];
    gongji__v1__counterparty_totals__init(row);
    row->region = call_strdup(st->c, region);
    return row->region ? row : NULL;
}

static void add_to(Gongji__V1__CounterpartyTotals *row, const store_clearing *e)
{
    if (e->direction == STORE_CLR_OWED_TO_US) {
        row->owed_to_us_count++;
        row->owed_to_us += e->amount;
    } else {
        row->we_owe_count++;
        row->we_owe += e->amount;
    }
    row->net = row->owed_to_us - row->we_owe;
}

static bool totals_add(const store_clearing *e, void *arg)
{
    totals_state *st = arg;
    Gongji__V1__CounterpartyTotals *row = totals_row(st, e->counterparty);
    if (row != NULL)
        add_to(row, e);
    return row != NULL;
}

/* Totals of the days from..to (one window: from == to) into a ClearingTotalsReply
 * (c->answer). */
static gj_reason totals_answer(call *c, store_txn *txn, int32_t from, int32_t to, bool range)
{
    const char *own = c->n->cfg.region;
    totals_state st = {.c = c};
    totals_state prov = {.c = c};
    Gongji__V1__ClearingTotalsReply *ans = call_alloc(c, sizeof *ans);
    st.rows = call_alloc(c, sizeof *st.rows * CLEARING_COUNTERPARTIES_MAX);
    prov.rows = call_alloc(c, sizeof *prov.rows * CLEARING_COUNTERPARTIES_MAX);
    if (ans == NULL || st.rows == NULL || prov.rows == NULL)
        return ops_out_of_memory(c);
    gongji__v1__clearing_totals_reply__init(ans);
    gj_err err = GJ_OK;
    for (int32_t day = from; err == GJ_OK && day <= to; day = gj_date_next(day)) {
        uint8_t state;
        int64_t closed_ms;
        if ((err = store_window_get(txn, day, &state, &closed_ms)) == GJ_OK)
            err = store_clearing_scan(txn, day, "", totals_add, &st);
        ans->days++;
        ans->days_closed += err == GJ_OK && state == STORE_WINDOW_CLOSED;
    }
    if (err != GJ_OK)
        return ops_store_reason(c, err);
    if (st.overflow)
        return call_fail(c, GJ_R_STORE_ERROR, "more than %d counterparties", CLEARING_COUNTERPARTIES_MAX);
    /* Cross-province pairs rolled up by province, for national clearing. */
    for (size_t i = 0; i < st.count; i++) {
        if (rules_same_province(st.rows[i].region, own))
            continue;
        char province[3] = {st.rows[i].region[0], st.rows[i].region[1], '\0'};
        Gongji__V1__CounterpartyTotals *p = totals_row(&prov, province);
        if (p == NULL)
            return ops_out_of_memory(c);
        p->owed_to_us_count += st.rows[i].owed_to_us_count;
        p->owed_to_us += st.rows[i].owed_to_us;
        p->we_owe_count += st.rows[i].we_owe_count;
        p->we_owe += st.rows[i].we_owe;
        p->net = p->owed_to_us - p->we_owe;
    }
    ans->region = c->n->cfg.region;
    ans->window = range ? 0 : from;
    ans->from = from;
    ans->to = to;
    ans->closed = ans->days_closed == ans->days;
    ans->counterparties = call_alloc(c, sizeof(void *) * (st.count ? st.count : 1));
    ans->provinces = call_alloc(c, sizeof(void *) * (prov.count ? prov.count : 1));
    if (ans->counterparties == NULL || ans->provinces == NULL)
        return ops_out_of_memory(c);
    for (size_t i = 0; i < st.count; i++)
        ans->counterparties[ans->n_counterparties++] = &st.rows[i];
    for (size_t i = 0; i < prov.count; i++)
        ans->provinces[ans->n_provinces++] = &prov.rows[i];
    c->answer = &ans->base;
    return GJ_R_NONE;
}

static gj_reason window_arg(call *c, store_txn *txn, int32_t asked, int32_t *window)
{
    if (asked != 0) {
        if (!gj_date_valid(asked))
            return call_fail(c, GJ_R_FIELD_INVALID, "window is yyyymmdd, or 0 for the current one");
        *window = asked;
        return GJ_R_NONE;
    }
    gj_err err = store_window_first_open(txn, c->today, window);
    return err == GJ_OK ? GJ_R_NONE : ops_store_reason(c, err);
}

/* A range may scan a month of rows: on a worker, not the receiving thread. */
static void totals_range_slow(call *c)
{
    Gongji__V1__ClearingTotalsRequest *req = (Gongji__V1__ClearingTotalsRequest *)c->request;
    store_txn *txn;
    gj_err err = store_read_begin(c->n->store, &txn);
    gj_reason r = err != GJ_OK ? ops_store_reason(c, err) : totals_answer(c, txn, req->from, req->to, true);
    if (err == GJ_OK)
        store_read_end(txn);
    if (r != GJ_R_NONE)
        call_finish_error(c, r);
    else
        call_finish(c);
}

gj_reason clearing_totals_check(call *c)
{
    Gongji__V1__ClearingTotalsRequest *req = (Gongji__V1__ClearingTotalsRequest *)c->request;
    /* Totals by region are no one's private data: a province's or the nation's hub
     * gathers them from its members' nodes (the province view). */
    if (!ops_is_role(c, GONGJI__V1__ROLE__OPERATOR) && !ops_is_role(c, GONGJI__V1__ROLE__PEER))
        return ops_deny(c, "only an operator or a peer node");
    if (req->from != 0 || req->to != 0) {
        if (req->window != 0 || !gj_date_valid(req->from) || !gj_date_valid(req->to) || req->from > req->to)
            return call_fail(c, GJ_R_FIELD_INVALID, "a range is from and to, yyyymmdd, from <= to, without window");
        int days = 0;
        for (int32_t d = req->from; d <= req->to && days <= CLEARING_RANGE_DAYS_MAX; d = gj_date_next(d))
            days++;
        if (days > CLEARING_RANGE_DAYS_MAX)
            return call_fail(c, GJ_R_FIELD_INVALID, "a range is at most %d days", CLEARING_RANGE_DAYS_MAX);
        c->slow = totals_range_slow;
        return GJ_R_NONE;
    }
    store_txn *txn;
    gj_err err = store_read_begin(c->n->store, &txn);
    if (err != GJ_OK)
        return ops_store_reason(c, err);
    int32_t window;
    gj_reason r = window_arg(c, txn, req->window, &window);
    if (r == GJ_R_NONE)
        r = totals_answer(c, txn, window, window, false);
    store_read_end(txn);
    return r;
}

/* ---- closing ---- */

gj_reason clearing_close_check(call *c)
{
    Gongji__V1__CloseWindowRequest *req = (Gongji__V1__CloseWindowRequest *)c->request;
    if (!ops_is_role(c, GONGJI__V1__ROLE__OPERATOR))
        return ops_deny(c, "only an operator");
    if (req->window != 0 && !gj_date_valid(req->window))
        return call_fail(c, GJ_R_FIELD_INVALID, "window is yyyymmdd, or 0 for the current one");
    return GJ_R_NONE;
}

gj_reason clearing_close_apply(call *c, store_txn *txn)
{
    Gongji__V1__CloseWindowRequest *req = (Gongji__V1__CloseWindowRequest *)c->request;
    int32_t window;
    gj_reason r = window_arg(c, txn, req->window, &window);
    if (r != GJ_R_NONE)
        return r;
    gj_err err = store_window_close(txn, window, gj_now_unix_ms());
    if (err != GJ_OK)
        return ops_store_reason(c, err);
    gj_log(GJ_LOG_INFO, "clearing", "window %d closed", window);
    return totals_answer(c, txn, window, window, false);
}

/* ---- a peer's side ---- */

typedef struct entries_state {
    call *c;
    size_t count, cap, room;
    Gongji__V1__ClearingEntry **items;
    char next[GJ_PAGE_TOKEN_MAX + 1]; /* where the next page begins; "" at the end */
    bool out_of_memory;
} entries_state;

static bool collect_entry(const store_clearing *e, void *arg)
{
    entries_state *st = arg;
    if (st->count == st->room)
        return false; /* st->next says where the next page begins */
    if (st->count == st->cap) {
        size_t cap = st->cap ? st->cap * 2 : 64;
        Gongji__V1__ClearingEntry **bigger = call_alloc(st->c, sizeof *bigger * cap);
        if (bigger == NULL) {
            st->out_of_memory = true;
            return false;
        }
        if (st->count)
            memcpy(bigger, st->items, sizeof *bigger * st->count);
        st->items = bigger;
        st->cap = cap;
    }
    Gongji__V1__ClearingEntry *item = call_alloc(st->c, sizeof *item);
    if (item == NULL || (gongji__v1__clearing_entry__init(item), item->setl_id = call_strdup(st->c, e->setl_id)) == NULL) {
        st->out_of_memory = true;
        return false;
    }
    item->leg = e->leg;
    item->kind = (Gongji__V1__ClearingKind)e->kind;
    item->amount = e->amount;
    item->owed_to_answerer = e->direction == STORE_CLR_OWED_TO_US;
    st->items[st->count++] = item;
    snprintf(st->next, sizeof st->next, "%s/%u/%u", e->setl_id, e->leg, (unsigned)e->kind);
    return true;
}

/* A ClearingEntries page token: "" or "setl_id/leg/kind" of the last entry given. */
static bool page_token_parse(const char *token, char setl_id[GJ_SETL_ID_MAX + 1], uint32_t *leg, uint8_t *kind)
{
    setl_id[0] = '\0';
    *leg = 0;
    *kind = 0;
    if (token[0] == '\0')
        return true;
    const char *a = strchr(token, '/');
    const char *b = a ? strchr(a + 1, '/') : NULL;
    if (a == NULL || b == NULL || (size_t)(a - token) > GJ_SETL_ID_MAX || a == token)
        return false;
    for (const char *p = token; p < a; p++)
        if (!((*p >= '0' && *p <= '9') || *p == '-'))
            return false;
    char *end;
    unsigned long l = strtoul(a + 1, &end, 10), k;
    if (end != b || l >= GJ_SPONSORS_MAX)
        return false;
    k = strtoul(b + 1, &end, 10);
    if (*end != '\0' || end == b + 1 || k > 255)
        return false;
    memcpy(setl_id, token, (size_t)(a - token));
    setl_id[a - token] = '\0';
    *leg = (uint32_t)l;
    *kind = (uint8_t)k;
    return true;
}

gj_reason clearing_page_scan(call *c, int32_t window, const char *counterparty, const char *page_token,
                             uint32_t page_size, size_t *room, store_clearing_fn fn, void *arg)
{
    if (!gj_date_valid(window))
        return call_fail(c, GJ_R_FIELD_INVALID, "window is yyyymmdd");
    char after[GJ_SETL_ID_MAX + 1];
    uint32_t after_leg;
    uint8_t after_kind;
    if (strlen(page_token) > GJ_PAGE_TOKEN_MAX || !page_token_parse(page_token, after, &after_leg, &after_kind))
        return call_fail(c, GJ_R_FIELD_INVALID, "page_token is not one this node gave");
    if (page_size > GJ_CLEARING_PAGE_MAX)
        return call_fail(c, GJ_R_FIELD_INVALID, "page_size is at most %d", GJ_CLEARING_PAGE_MAX);
    *room = page_size ? page_size : GJ_CLEARING_PAGE_DEFAULT;
    store_txn *txn;
    gj_err err = store_read_begin(c->n->store, &txn);
    if (err != GJ_OK)
        return ops_store_reason(c, err);
    err = store_clearing_scan_after(txn, window, counterparty, after, after_leg, after_kind, fn, arg);
    store_read_end(txn);
    return err == GJ_OK ? GJ_R_NONE : ops_store_reason(c, err);
}

gj_reason clearing_entries_check(call *c)
{
    Gongji__V1__ClearingEntriesRequest *req = (Gongji__V1__ClearingEntriesRequest *)c->request;
    if (!ops_is_role(c, GONGJI__V1__ROLE__PEER))
        return ops_deny(c, "only a peer node");
    if (strlen(c->env->caller_id) != GJ_ADMDVS_LEN || !gj_all_digits(c->env->caller_id, GJ_ADMDVS_LEN))
        return call_fail(c, GJ_R_CALLER_NOT_ALLOWED, "a peer's caller_id is its region");
    entries_state st = {.c = c};
    gj_reason r = clearing_page_scan(c, req->window, c->env->caller_id, req->page_token, req->page_size, &st.room,
                                     collect_entry, &st);
    if (r != GJ_R_NONE)
        return r;
    if (st.out_of_memory)
        return ops_out_of_memory(c);
    Gongji__V1__ClearingEntriesReply *ans = call_alloc(c, sizeof *ans);
    if (ans == NULL)
        return ops_out_of_memory(c);
    gongji__v1__clearing_entries_reply__init(ans);
    ans->entries = st.items;
    ans->n_entries = st.count;
    /* A full page may be followed by more; a short one is the last. */
    ans->next_page_token = call_strdup(c, st.count == st.room ? st.next : "");
    if (ans->next_page_token == NULL)
        return ops_out_of_memory(c);
    c->answer = &ans->base;
    return GJ_R_NONE;
}
