/* Clearing/Reconcile: one window, or every day of a range, compared with a peer row by
 * row (docs/clearing.md). Our rows with that peer are read from the store, theirs are
 * asked a page at a time (Peer/ClearingEntries); a row is the same when both sides have
 * it with the same amount. Rows are found by a hash of (setl_id, leg, kind), so a day of
 * many thousand rows compares in linear time. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gj_util.h"
#include "log.h"
#include "ops.h"
#include "peers.h"

#define RECONCILE_DIFFERING_MAX 1000
#define RECONCILE_RANGE_DAYS_MAX 366

/* One row as this node sees it: + owed to us, - owed by us. */
typedef struct view_row {
    char setl_id[GJ_SETL_ID_MAX + 1];
    uint32_t leg;
    int kind;
    int64_t ours, theirs;
    bool in_ours, in_theirs;
} view_row;

typedef struct day_view {
    size_t count, cap;       /* rows */
    view_row *rows;
    size_t slots;            /* hash slots: a power of two, at least twice the rows */
    uint32_t *slot;          /* row index + 1; 0 = empty */
    bool out_of_memory;
} day_view;

typedef struct reconcile_total {
    uint64_t our_count, their_count;
    int64_t our_net, their_net;
    uint32_t days_differing;
    size_t n_ids;
    char **ids;              /* RECONCILE_DIFFERING_MAX, in the call's arena */
} reconcile_total;

static uint64_t row_hash(const char *setl_id, uint32_t leg, int kind)
{
    uint64_t h = 14695981039346656037ULL;
    for (const unsigned char *p = (const unsigned char *)setl_id; *p; p++)
        h = (h ^ *p) * 1099511628211ULL;
    h = (h ^ leg) * 1099511628211ULL;
    return (h ^ (uint64_t)kind) * 1099511628211ULL;
}

static bool view_grow(day_view *v)
{
    size_t cap = v->cap ? v->cap * 2 : 256;
    view_row *rows = realloc(v->rows, sizeof *rows * cap);
    if (rows == NULL)
        return false;
    v->rows = rows;
    v->cap = cap;
    size_t slots = cap * 2;
    uint32_t *slot = calloc(slots, sizeof *slot);
    if (slot == NULL)
        return false;
    for (size_t i = 0; i < v->count; i++) {
        size_t at = row_hash(rows[i].setl_id, rows[i].leg, rows[i].kind) & (slots - 1);
        while (slot[at] != 0)
            at = (at + 1) & (slots - 1);
        slot[at] = (uint32_t)i + 1;
    }
    free(v->slot);
    v->slot = slot;
    v->slots = slots;
    return true;
}

static view_row *view_find(day_view *v, const char *setl_id, uint32_t leg, int kind)
{
    if (strlen(setl_id) > GJ_SETL_ID_MAX) {
        v->out_of_memory = true; /* not a row either side could hold */
        return NULL;
    }
    if (v->count == v->cap && !view_grow(v)) {
        v->out_of_memory = true;
        return NULL;
    }
    size_t at = row_hash(setl_id, leg, kind) & (v->slots - 1);
    for (; v->slot[at] != 0; at = (at + 1) & (v->slots - 1)) {
        view_row *r = &v->rows[v->slot[at] - 1];
        if (r->leg == leg && r->kind == kind && strcmp(r->setl_id, setl_id) == 0)
            return r;
    }
    view_row *row = &v->rows[v->count];
    memset(row, 0, sizeof *row);
    memcpy(row->setl_id, setl_id, strlen(setl_id) + 1);
    row->leg = leg;
    row->kind = kind;
    v->slot[at] = (uint32_t)++v->count;
    return row;
}

typedef struct ours_scan {
    day_view *v;
    reconcile_total *t;
} ours_scan;

static bool add_ours(const store_clearing *e, void *arg)
{
    ours_scan *s = arg;
    view_row *row = view_find(s->v, e->setl_id, e->leg, e->kind);
    if (row == NULL)
        return false;
    int64_t signed_amount = e->direction == STORE_CLR_OWED_TO_US ? e->amount : -e->amount;
    row->ours += signed_amount;
    row->in_ours = true;
    s->t->our_count++;
    s->t->our_net += signed_amount;
    return true;
}

/* One day with the peer into t; a reason when it could not be compared. */
static gj_reason reconcile_day(call *c, int32_t day, const char *peer, reconcile_total *t)
{
    node *n = c->n;
    day_view v = {0};
    int64_t our_net_before = t->our_net, their_net_before = t->their_net;
    ours_scan scan = {&v, t};
    store_txn *txn;
    gj_err err = store_read_begin(n->store, &txn);
    if (err != GJ_OK)
        return ops_store_reason(c, err);
    err = store_clearing_scan(txn, day, peer, add_ours, &scan);
    store_read_end(txn);
    gj_reason r = err != GJ_OK ? ops_store_reason(c, err) : v.out_of_memory ? ops_out_of_memory(c) : GJ_R_NONE;

    Gongji__V1__ClearingEntriesRequest ereq = GONGJI__V1__CLEARING_ENTRIES_REQUEST__INIT;
    ereq.window = day;
    ereq.page_size = n->cfg.clearing_page_size;
    char token[GJ_PAGE_TOKEN_MAX + 1] = "";
    for (int page = 0; r == GJ_R_NONE && page < GJ_CLEARING_PAGES_MAX; page++) {
        ProtobufCMessage *answer = NULL;
        char detail[256] = "", call_id[GJ_CALL_ID_MAX + 1];
        snprintf(call_id, sizeof call_id, "clearing-%d-%d", day, page);
        ereq.page_token = token;
        r = peers_call(&n->peers, n->cfg.region, peer, "gongji.v1.Peer/ClearingEntries", call_id, &ereq.base,
                       &gongji__v1__clearing_entries_reply__descriptor, (int)n->cfg.peer_timeout_ms * 4, &answer,
                       detail, sizeof detail);
        if (r != GJ_R_NONE) {
            call_fail(c, r, "%s", detail[0] ? detail : gj_reason_message(r));
            break;
        }
        Gongji__V1__ClearingEntriesReply *theirs = (Gongji__V1__ClearingEntriesReply *)answer;
        for (size_t i = 0; i < theirs->n_entries && !v.out_of_memory; i++) {
            Gongji__V1__ClearingEntry *e = theirs->entries[i];
            int64_t as_they_see = e->owed_to_answerer ? e->amount : -e->amount;
            view_row *row = view_find(&v, e->setl_id, e->leg, e->kind);
            if (row == NULL)
                break;
            row->theirs += -as_they_see; /* what they are owed, we owe */
            row->in_theirs = true;
            t->their_count++;
            t->their_net += as_they_see;
        }
        const char *next = theirs->next_page_token ? theirs->next_page_token : "";
        bool more = next[0] != '\0' && strlen(next) < sizeof token && strcmp(next, token) != 0;
        if (more)
            memcpy(token, next, strlen(next) + 1);
        protobuf_c_message_free_unpacked(answer, NULL);
        if (v.out_of_memory)
            r = ops_out_of_memory(c);
        if (!more)
            break;
    }
    bool differs = t->our_net - our_net_before != -(t->their_net - their_net_before);
    for (size_t i = 0; r == GJ_R_NONE && i < v.count; i++) {
        view_row *row = &v.rows[i];
        if (row->in_ours && row->in_theirs && row->ours == row->theirs)
            continue;
        differs = true;
        bool listed = false;
        for (size_t k = t->n_ids; k > 0 && !listed; k--)
            listed = strcmp(t->ids[k - 1], row->setl_id) == 0;
        if (!listed && t->n_ids < RECONCILE_DIFFERING_MAX && (t->ids[t->n_ids] = call_strdup(c, row->setl_id)) != NULL)
            t->n_ids++;
    }
    t->days_differing += differs;
    free(v.rows);
    free(v.slot);
    return r;
}

gj_reason clearing_reconcile_check(call *c)
{
    Gongji__V1__ReconcileRequest *req = (Gongji__V1__ReconcileRequest *)c->request;
    if (!ops_is_role(c, GONGJI__V1__ROLE__OPERATOR))
        return ops_deny(c, "only an operator");
    if (req->from != 0 || req->to != 0) {
        if (req->window != 0 || !gj_date_valid(req->from) || !gj_date_valid(req->to) || req->from > req->to)
            return call_fail(c, GJ_R_FIELD_INVALID, "a range is from and to, yyyymmdd, from <= to, without window");
        int days = 0;
        for (int32_t d = req->from; d <= req->to && days <= RECONCILE_RANGE_DAYS_MAX; d = gj_date_next(d))
            days++;
        if (days > RECONCILE_RANGE_DAYS_MAX)
            return call_fail(c, GJ_R_FIELD_INVALID, "a range is at most %d days", RECONCILE_RANGE_DAYS_MAX);
    } else if (!gj_date_valid(req->window)) {
        return call_fail(c, GJ_R_FIELD_INVALID, "window is yyyymmdd");
    }
    if (strlen(req->peer_region) != GJ_ADMDVS_LEN || !gj_all_digits(req->peer_region, GJ_ADMDVS_LEN) ||
        strcmp(req->peer_region, c->n->cfg.region) == 0)
        return call_fail(c, GJ_R_FIELD_INVALID, "peer_region is another region's 6-digit code");
    c->slow = clearing_reconcile_slow;
    return GJ_R_NONE;
}

void clearing_reconcile_slow(call *c)
{
    Gongji__V1__ReconcileRequest *req = (Gongji__V1__ReconcileRequest *)c->request;
    int32_t from = req->window != 0 ? req->window : req->from, to = req->window != 0 ? req->window : req->to;
    reconcile_total t = {.ids = call_alloc(c, sizeof(char *) * RECONCILE_DIFFERING_MAX)};
    Gongji__V1__ReconcileReply *ans = call_alloc(c, sizeof *ans);
    if (t.ids == NULL || ans == NULL) {
        call_finish_error(c, ops_out_of_memory(c));
        return;
    }
    for (int32_t day = from; day <= to; day = gj_date_next(day)) {
        gj_reason r = reconcile_day(c, day, req->peer_region, &t);
        if (r != GJ_R_NONE) {
            c->reason = r;
            call_finish(c);
            return;
        }
    }
    gongji__v1__reconcile_reply__init(ans);
    ans->window = req->window;
    ans->from = from;
    ans->to = to;
    ans->peer_region = req->peer_region;
    ans->our_count = t.our_count;
    ans->our_net = t.our_net;
    ans->their_count = t.their_count;
    ans->their_net = t.their_net;
    ans->differing_setl_ids = t.ids;
    ans->n_differing_setl_ids = t.n_ids;
    ans->days_differing = t.days_differing;
    ans->agree = t.days_differing == 0;
    c->answer = &ans->base;
    gj_log(ans->agree ? GJ_LOG_INFO : GJ_LOG_WARN, "reconcile",
           "from=%d to=%d peer=%s ours=%" PRIu64 "/%" PRId64 " theirs=%" PRIu64 "/%" PRId64 " days_differing=%u "
           "differing=%zu",
           from, to, req->peer_region, t.our_count, t.our_net, t.their_count, t.their_net, t.days_differing, t.n_ids);
    call_finish(c);
}
