/* Operator/Audit: SPEC §6 checked on one node, plus the lists an auditor needs to
 * match cross-region payments between nodes.
 *
 *  1. conservation: for every account credited - paid_out + refunded == balance, and
 *     the journal alone replays to every balance;
 *  2. 0 <= held <= balance, and no mutual-aid debit left an account below the floor;
 *  4. every mutual-aid debit is backed by a binding this node holds. */
#include "gj_util.h"
#include "ops.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AUDIT_FAILURES_MAX 100

typedef struct audit_state {
    call *c;
    store_txn *txn;
    Gongji__V1__AuditReply *ans;
    size_t failures_cap;
    /* Journal replay: balance per account, in a small open-addressing table. */
    size_t slots;
    struct replay { char psn_no[GJ_PSN_NO_MAX + 1]; int64_t balance; bool used; } *replay;
    size_t coordinated_cap, participated_cap;
    bool out_of_memory;
} audit_state;

static void failure(audit_state *st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void failure(audit_state *st, const char *fmt, ...)
{
    Gongji__V1__AuditReply *ans = st->ans;
    ans->ok = false;
    if (ans->n_failures >= AUDIT_FAILURES_MAX)
        return;
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    char *copy = call_strdup(st->c, line);
    if (copy == NULL) {
        st->out_of_memory = true;
        return;
    }
    ans->failures[ans->n_failures++] = copy;
}

static struct replay *replay_slot(audit_state *st, const char *psn_no)
{
    uint64_t h = 1469598103934665603ULL;
    for (const char *p = psn_no; *p; p++)
        h = (h ^ (uint8_t)*p) * 1099511628211ULL;
    for (size_t i = 0; i < st->slots; i++) {
        struct replay *r = &st->replay[(h + i) % st->slots];
        if (!r->used) {
            r->used = true;
            gj_strcpy_fit(r->psn_no, sizeof r->psn_no, psn_no);
            return r;
        }
        if (strcmp(r->psn_no, psn_no) == 0)
            return r;
    }
    return NULL;
}

static bool check_account(const char *psn_no, const store_account *a, void *arg)
{
    audit_state *st = arg;
    Gongji__V1__AuditReply *ans = st->ans;
    char m[GJ_PSN_NO_MAX + 1];
    ans->accounts++;
    ans->total_balance += a->balance;
    ans->total_held += a->held;
    ans->total_credited += a->credited;
    ans->total_paid_out += a->paid_out;
    ans->total_refunded += a->refunded;
    if (a->credited - a->paid_out + a->refunded != a->balance)
        failure(st, "conservation: account %s credited %" PRId64 " - paid %" PRId64 " + refunded %" PRId64
                    " != balance %" PRId64,
                gj_mask(psn_no, m, sizeof m), a->credited, a->paid_out, a->refunded, a->balance);
    if (a->balance < 0 || a->held < 0 || a->held > a->balance)
        failure(st, "bounds: account %s balance %" PRId64 " held %" PRId64, gj_mask(psn_no, m, sizeof m),
                a->balance, a->held);
    return true;
}

static bool replay_entry(const store_journal_entry *e, void *arg)
{
    audit_state *st = arg;
    char m[GJ_PSN_NO_MAX + 1];
    struct replay *r = replay_slot(st, e->psn_no);
    if (r == NULL) {
        st->out_of_memory = true;
        return false;
    }
    r->balance += e->amount;
    if (r->balance != e->balance_after)
        failure(st, "journal: entry %" PRIu64 " of %s says balance %" PRId64 ", replay gives %" PRId64,
                e->seq, gj_mask(e->psn_no, m, sizeof m), e->balance_after, r->balance);
    if (e->kind == STORE_J_SETTLE_AID) {
        if (e->balance_after < st->c->n->cfg.policy.reserve_floor)
            failure(st, "floor: entry %" PRIu64 " took %s to %" PRId64 ", below the floor %" PRId64,
                    e->seq, gj_mask(e->psn_no, m, sizeof m), e->balance_after,
                    st->c->n->cfg.policy.reserve_floor);
        store_binding b;
        if (store_binding_get(st->txn, e->psn_no, e->counterpart, &b) != GJ_OK)
            failure(st, "binding: entry %" PRIu64 " (%s) debited %s with no binding to the relative",
                    e->seq, e->setl_id, gj_mask(e->psn_no, m, sizeof m));
    }
    return true;
}

static bool compare_replay(const char *psn_no, const store_account *a, void *arg)
{
    audit_state *st = arg;
    char m[GJ_PSN_NO_MAX + 1];
    struct replay *r = replay_slot(st, psn_no);
    if (r != NULL && r->balance != a->balance)
        failure(st, "journal: replay of %s gives %" PRId64 ", account says %" PRId64,
                gj_mask(psn_no, m, sizeof m), r->balance, a->balance);
    return r != NULL;
}

static Gongji__V1__CrossPayment *cross(audit_state *st, const char *setl_id, uint32_t leg,
                                       const char *sponsor, const char *sponsor_admdvs,
                                       const char *beneficiary_admdvs, int64_t amount)
{
    Gongji__V1__CrossPayment *p = call_alloc(st->c, sizeof *p);
    if (p == NULL) {
        st->out_of_memory = true;
        return NULL;
    }
    gongji__v1__cross_payment__init(p);
    p->setl_id = call_strdup(st->c, setl_id);
    p->leg = leg;
    p->sponsor_psn_no = call_strdup(st->c, sponsor);
    p->sponsor_admdvs = call_strdup(st->c, sponsor_admdvs);
    p->beneficiary_admdvs = call_strdup(st->c, beneficiary_admdvs);
    p->amount = amount;
    if (!p->setl_id || !p->sponsor_psn_no || !p->sponsor_admdvs || !p->beneficiary_admdvs) {
        st->out_of_memory = true;
        return NULL;
    }
    return p;
}

static bool grow(audit_state *st, Gongji__V1__CrossPayment ***list, size_t n, size_t *cap)
{
    if (n < *cap)
        return true;
    size_t next = *cap ? *cap * 2 : 64;
    Gongji__V1__CrossPayment **bigger = call_alloc(st->c, next * sizeof *bigger);
    if (bigger == NULL) {
        st->out_of_memory = true;
        return false;
    }
    if (n)
        memcpy(bigger, *list, n * sizeof *bigger);
    *list = bigger;
    *cap = next;
    return true;
}

static bool list_coordinated(const store_settlement *s, void *arg)
{
    audit_state *st = arg;
    Gongji__V1__AuditReply *ans = st->ans;
    const char *region = st->c->n->cfg.region;
    if (s->status != STORE_SETL_COMMITTED)
        return true;
    store_decision d;
    bool have_decision = false;
    for (uint32_t k = 0; k < s->part_count; k++) {
        if (strcmp(s->parts[k].admdvs, region) == 0)
            continue;
        if (!have_decision && store_decision_get(st->txn, s->setl_id, &d) != GJ_OK) {
            failure(st, "decision: settlement %s has a remote part but no decision", s->setl_id);
            return true;
        }
        have_decision = true;
        uint32_t leg = UINT32_MAX;
        for (uint32_t j = 0; j < d.leg_count; j++)
            if (d.legs[j].action == STORE_LEG_POST && strcmp(d.legs[j].sponsor, s->parts[k].psn_no) == 0 &&
                d.legs[j].amount == s->parts[k].amount)
                leg = d.legs[j].leg;
        if (leg == UINT32_MAX) {
            failure(st, "decision: settlement %s part of %s is not posted in its decision", s->setl_id,
                    s->parts[k].admdvs);
            continue;
        }
        if (!grow(st, &ans->coordinated, ans->n_coordinated, &st->coordinated_cap))
            return false;
        Gongji__V1__CrossPayment *p = cross(st, s->setl_id, leg, s->parts[k].psn_no, s->parts[k].admdvs,
                                            region, s->parts[k].amount);
        if (p == NULL)
            return false;
        ans->coordinated[ans->n_coordinated++] = p;
    }
    return true;
}

static bool list_participated(const store_hold *h, void *arg)
{
    audit_state *st = arg;
    Gongji__V1__AuditReply *ans = st->ans;
    if (h->state != STORE_HOLD_POSTED)
        return true;
    if (!grow(st, &ans->participated, ans->n_participated, &st->participated_cap))
        return false;
    Gongji__V1__CrossPayment *p = cross(st, h->setl_id, h->leg, h->sponsor, st->c->n->cfg.region,
                                        h->coordinator, h->amount);
    if (p == NULL)
        return false;
    ans->participated[ans->n_participated++] = p;
    return true;
}

gj_reason audit_check(call *c)
{
    if (!ops_is_role(c, GONGJI__V1__ROLE__OPERATOR))
        return ops_deny(c, "only an operator");
    audit_state st = {.c = c};
    Gongji__V1__AuditReply *ans = call_alloc(c, sizeof *ans);
    if (ans == NULL)
        return ops_out_of_memory(c);
    gongji__v1__audit_reply__init(ans);
    ans->region = c->n->cfg.region;
    ans->ok = true;
    ans->failures = call_alloc(c, sizeof(char *) * AUDIT_FAILURES_MAX);
    st.ans = ans;
    gj_err err = store_read_begin(c->n->store, &st.txn);
    if (err != GJ_OK)
        return ops_store_reason(c, err);
    uint64_t persons = store_person_count(st.txn);
    st.slots = (size_t)persons * 2 + 64;
    st.replay = calloc(st.slots, sizeof *st.replay);
    if (ans->failures == NULL || st.replay == NULL) {
        store_read_end(st.txn);
        free(st.replay);
        return ops_out_of_memory(c);
    }
    store_account_scan(st.txn, check_account, &st);
    store_journal_scan(st.txn, 1, replay_entry, &st);
    store_account_scan(st.txn, compare_replay, &st);
    store_settlement_scan(st.txn, list_coordinated, &st);
    store_hold_scan(st.txn, list_participated, &st);
    ans->open_holds = store_hold_open_count(st.txn);
    ans->open_decisions = store_decision_open_count(st.txn);
    store_read_end(st.txn);
    free(st.replay);
    if (st.out_of_memory)
        return ops_out_of_memory(c);
    c->answer = &ans->base;
    return GJ_R_NONE;
}
