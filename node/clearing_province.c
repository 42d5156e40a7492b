/* Clearing/ProvinceTotals: a province at a glance, at its hub node (docs/clearing.md).
 *
 * The hub insures nobody and keeps no clearing rows; it asks each member region's node
 * (its peers in the province) for Clearing/ClearingTotals over the range, as a peer node,
 * and sets the answers side by side: each pair of members with what each node says the
 * other owes it (they must agree, each row being written on both nodes), and each
 * member's net within the province and beyond it. A member that does not answer is
 * listed as such; the others are still shown. */
#include <stdio.h>
#include <string.h>

#include "gj_util.h"
#include "log.h"
#include "ops.h"
#include "peers.h"

#define PROVINCE_MEMBERS_MAX 64

typedef struct member_view {
    const char *region;
    Gongji__V1__ClearingTotalsReply *totals; /* NULL: no answer */
} member_view;

static bool is_member(const node *n, const char *prefix)
{
    return strlen(prefix) == GJ_ADMDVS_LEN && gj_all_digits(prefix, GJ_ADMDVS_LEN) &&
           strncmp(prefix, n->cfg.region, 2) == 0 && strcmp(prefix, n->cfg.region) != 0;
}

/* What member's node says region owes it, net; found is false when it lists no row. */
static int64_t net_as_seen_by(const member_view *member, const char *region, uint64_t *count)
{
    if (member->totals == NULL)
        return 0;
    for (size_t i = 0; i < member->totals->n_counterparties; i++) {
        const Gongji__V1__CounterpartyTotals *t = member->totals->counterparties[i];
        if (strcmp(t->region, region) == 0) {
            if (count != NULL)
                *count = t->owed_to_us_count + t->we_owe_count;
            return t->net;
        }
    }
    return 0;
}

static void province_slow(call *c);

gj_reason clearing_province_check(call *c)
{
    Gongji__V1__ProvinceTotalsRequest *req = (Gongji__V1__ProvinceTotalsRequest *)c->request;
    if (!ops_is_role(c, GONGJI__V1__ROLE__OPERATOR))
        return ops_deny(c, "only an operator");
    if (strcmp(c->n->cfg.region + 2, "0000") != 0)
        return call_fail(c, GJ_R_FIELD_INVALID,
                         "region %s's node is no province hub: ask the hub (xx0000) of the province", c->n->cfg.region);
    if (!gj_date_valid(req->from) || !gj_date_valid(req->to) || req->from > req->to)
        return call_fail(c, GJ_R_FIELD_INVALID, "from and to are yyyymmdd, from <= to");
    int days = 0;
    for (int32_t d = req->from; d <= req->to && days <= 366; d = gj_date_next(d))
        days++;
    if (days > 366)
        return call_fail(c, GJ_R_FIELD_INVALID, "a range is at most 366 days");
    c->slow = province_slow;
    return GJ_R_NONE;
}

static Gongji__V1__CounterpartyTotals *new_row(call *c, const char *region)
{
    Gongji__V1__CounterpartyTotals *row = call_alloc(c, sizeof *row);
    if (row != NULL) {
        gongji__v1__counterparty_totals__init(row);
        row->region = (char *)region;
    }
    return row;
}

static void province_slow(call *c)
{
    node *n = c->n;
    Gongji__V1__ProvinceTotalsRequest *req = (Gongji__V1__ProvinceTotalsRequest *)c->request;
    member_view members[PROVINCE_MEMBERS_MAX];
    size_t count = 0;
    for (size_t i = 0; i < n->peers.count && count < PROVINCE_MEMBERS_MAX; i++)
        if (is_member(n, n->peers.links[i].cfg->prefix))
            members[count++] = (member_view){.region = n->peers.links[i].cfg->prefix};

    Gongji__V1__ProvinceTotalsReply *ans = call_alloc(c, sizeof *ans);
    Gongji__V1__MemberTotals **rows = call_alloc(c, sizeof *rows * (count ? count : 1));
    Gongji__V1__CounterpartyTotals **within = call_alloc(c, sizeof *within * (count ? count : 1));
    Gongji__V1__CounterpartyTotals **beyond = call_alloc(c, sizeof *beyond * (count ? count : 1));
    Gongji__V1__PairTotals **pairs = call_alloc(c, sizeof *pairs * (count * count / 2 + 1));
    if (ans == NULL || rows == NULL || within == NULL || beyond == NULL || pairs == NULL) {
        call_finish_error(c, ops_out_of_memory(c));
        return;
    }
    gongji__v1__province_totals_reply__init(ans);
    ans->province = n->cfg.region;
    ans->from = req->from;
    ans->to = req->to;
    ans->members = rows;
    ans->within_province = within;
    ans->beyond_province = beyond;
    ans->pairs = pairs;

    Gongji__V1__ClearingTotalsRequest ask = GONGJI__V1__CLEARING_TOTALS_REQUEST__INIT;
    ask.from = req->from;
    ask.to = req->to;
    for (size_t i = 0; i < count; i++) {
        Gongji__V1__MemberTotals *m = call_alloc(c, sizeof *m);
        if (m == NULL) {
            call_finish_error(c, ops_out_of_memory(c));
            return;
        }
        gongji__v1__member_totals__init(m);
        m->region = (char *)members[i].region;
        ProtobufCMessage *answer = NULL;
        char detail[256] = "", call_id[GJ_CALL_ID_MAX + 1];
        snprintf(call_id, sizeof call_id, "province-%d-%d-%s", req->from, req->to, members[i].region);
        gj_reason r = peers_call(&n->peers, n->cfg.region, members[i].region, "gongji.v1.Clearing/ClearingTotals",
                                 call_id, &ask.base, &gongji__v1__clearing_totals_reply__descriptor,
                                 (int)n->cfg.peer_timeout_ms * 4, &answer, detail, sizeof detail);
        if (r != GJ_R_NONE) {
            char text[300];
            snprintf(text, sizeof text, "%s: %s", gj_reason_name(r), detail[0] ? detail : gj_reason_message(r));
            m->error = call_strdup(c, text);
            if (m->error == NULL)
                m->error = (char *)"";
        } else {
            /* Kept until the call ends: its rows are the answer's. */
            members[i].totals = (Gongji__V1__ClearingTotalsReply *)answer;
            m->answered = true;
            m->counterparties = members[i].totals->counterparties;
            m->n_counterparties = members[i].totals->n_counterparties;
            m->days = members[i].totals->days;
            m->days_closed = members[i].totals->days_closed;
        }
        rows[ans->n_members++] = m;
    }
    /* Each member's net inside the province and beyond it. */
    for (size_t i = 0; i < count; i++) {
        Gongji__V1__CounterpartyTotals *in = new_row(c, members[i].region), *out = new_row(c, members[i].region);
        if (in == NULL || out == NULL)
            break;
        const Gongji__V1__ClearingTotalsReply *t = members[i].totals;
        for (size_t k = 0; t != NULL && k < t->n_counterparties; k++) {
            const Gongji__V1__CounterpartyTotals *row = t->counterparties[k];
            Gongji__V1__CounterpartyTotals *into = strncmp(row->region, n->cfg.region, 2) == 0 ? in : out;
            into->owed_to_us_count += row->owed_to_us_count;
            into->owed_to_us += row->owed_to_us;
            into->we_owe_count += row->we_owe_count;
            into->we_owe += row->we_owe;
            into->net = into->owed_to_us - into->we_owe;
        }
        within[ans->n_within_province++] = in;
        beyond[ans->n_beyond_province++] = out;
    }
    /* Every pair of members, as each node has it. */
    for (size_t i = 0; i < count; i++)
        for (size_t k = i + 1; k < count; k++) {
            const member_view *a = strcmp(members[i].region, members[k].region) < 0 ? &members[i] : &members[k];
            const member_view *b = a == &members[i] ? &members[k] : &members[i];
            uint64_t rows_a = 0, rows_b = 0;
            int64_t as_a = net_as_seen_by(a, b->region, &rows_a), as_b = -net_as_seen_by(b, a->region, &rows_b);
            if (rows_a == 0 && rows_b == 0)
                continue; /* nothing between them */
            Gongji__V1__PairTotals *p = call_alloc(c, sizeof *p);
            if (p == NULL)
                break;
            gongji__v1__pair_totals__init(p);
            p->a = (char *)a->region;
            p->b = (char *)b->region;
            p->b_owes_a = as_a;
            p->b_owes_a_as_b_says = as_b;
            p->agree = a->totals != NULL && b->totals != NULL && as_a == as_b;
            p->count = rows_a;
            pairs[ans->n_pairs++] = p;
        }
    c->answer = &ans->base;
    size_t answered = 0;
    for (size_t i = 0; i < count; i++)
        answered += members[i].totals != NULL;
    gj_log(GJ_LOG_INFO, "clearing", "province view from=%d to=%d members=%zu answered=%zu pairs=%zu", req->from,
           req->to, count, answered, ans->n_pairs);
    bool built = call_build_reply(c);
    for (size_t i = 0; i < count; i++)
        if (members[i].totals != NULL)
            protobuf_c_message_free_unpacked(&members[i].totals->base, NULL);
    if (!built) {
        c->answer = NULL; /* its rows were the members' answers, freed above */
        c->reason = ops_out_of_memory(c);
    }
    call_finish(c);
}
