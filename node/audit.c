/* Operator/Audit: SPEC §6 checked on one node, plus the lists an auditor needs to
 * match cross-region payments between nodes, in pages (docs/operations.md, "Audit").
 *
 * The first page checks the invariants over the whole node:
 *  1. conservation: for every account credited - paid_out + refunded == balance, and
 *     the journal alone replays to every balance;
 *  2. 0 <= held <= balance, and no mutual-aid debit left an account below the floor;
 *  3. every mutual-aid debit is backed by a binding this node holds;
 *  4. each family pool's balance is its contributors' remaining shares (R20), and the
 *     money held in wallets is exactly their PENDING transfers (R24).
 * Every page lists up to page_size cross-region payments, coordinated here first, then
 * posted here as participant, continuing from the page token.
 *
 * It runs on a worker, and every scan looks at the caller's deadline and at the node
 * stopping as it goes: work for a caller that has given up stops. The journal replay
 * keeps 16 bytes per account and at most GJ_AUDIT_REPLAY_SLOTS of them at once: a
 * larger node replays in several passes. */
#include "gj_util.h"
#include "ops.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AUDIT_FAILURES_MAX 100

/* One account's replayed balance, by a fingerprint of its person number (0 = free). */
struct replay {
    uint64_t fp;
    int64_t balance;
};

typedef struct audit_state {
    call *c;
    store_txn *txn;
    Gongji__V1__AuditReply *ans;
    /* When to give up (unix ms), and how many records were visited. */
    int64_t until_ms;
    uint64_t visits;
    gj_reason stopped; /* DEADLINE_PASSED or SHUTTING_DOWN when a scan gave up */
    /* Journal replay: this pass's share of the accounts. */
    struct replay *replay;
    size_t slots;
    uint32_t pass, passes;
    /* The page: payments still to list, and where the next page begins. */
    size_t room;
    size_t coordinated_cap, participated_cap;
    char next[GJ_PAGE_TOKEN_MAX + 1];
    bool out_of_memory;
    /* R24: held in wallets, and the PENDING transfers that should make it up. */
    int64_t wallets_held, wallets_pending;
} audit_state;

/* Whether the scan goes on: false once the caller's time is up or the node stops. */
static bool keep_going(audit_state *st)
{
    if (st->stopped != GJ_R_NONE)
        return false;
    if (++st->visits % GJ_SCAN_CHECK_EVERY != 0)
        return true;
    if (atomic_load(&st->c->n->shutting_down))
        st->stopped = GJ_R_SHUTTING_DOWN;
    else if (gj_now_unix_ms() > st->until_ms)
        st->stopped = GJ_R_DEADLINE_PASSED;
    return st->stopped == GJ_R_NONE;
}

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

static uint64_t fingerprint(const char *psn_no)
{
    uint64_t h = 1469598103934665603ULL;
    for (const char *p = psn_no; *p; p++)
        h = (h ^ (uint8_t)*p) * 1099511628211ULL;
    h ^= h >> 31;
    return h ? h : 1;
}

/* The slot of psn_no when it belongs to this pass (NULL otherwise, or when full). */
static struct replay *replay_slot(audit_state *st, const char *psn_no)
{
    uint64_t fp = fingerprint(psn_no);
    if (fp % st->passes != st->pass)
        return NULL;
    for (size_t i = 0; i < st->slots; i++) {
        struct replay *r = &st->replay[(fp / st->passes + i) % st->slots];
        if (r->fp == 0) {
            r->fp = fp;
            return r;
        }
        if (r->fp == fp)
            return r;
    }
    st->out_of_memory = true; /* cannot happen: a pass takes at most half the slots */
    return NULL;
}

/* R20: a pool's account is exactly its remaining shares; a closed one holds nothing. */
static void check_pool(audit_state *st, const char *pool_id, const store_account *a)
{
    store_pool pool;
    gj_err err = store_pool_get(st->txn, pool_id, &pool);
    if (err != GJ_OK) {
        failure(st, "pool: account %s has no readable pool record (%s)", pool_id, gj_err_name(err));
        return;
    }
    int64_t shares = 0;
    for (uint32_t i = 0; i < pool.share_count; i++)
        shares += pool.shares[i].remaining;
    if (shares != a->balance)
        failure(st, "pool: %s balance %" PRId64 " but its shares come to %" PRId64, pool_id, a->balance, shares);
    if (pool.state == STORE_POOL_CLOSED && a->balance != 0)
        failure(st, "pool: %s is closed with %" PRId64 " in it", pool_id, a->balance);
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
    if (gj_is_pool_id(psn_no))
        check_pool(st, psn_no, a);
    if (gj_is_wallet_id(psn_no))
        st->wallets_held += a->held;
    return keep_going(st);
}

static bool replay_entry(const store_journal_entry *e, void *arg)
{
    audit_state *st = arg;
    char m[GJ_PSN_NO_MAX + 1];
    struct replay *r = replay_slot(st, e->psn_no);
    if (r != NULL) {
        r->balance += e->amount;
        if (r->balance != e->balance_after)
            failure(st, "journal: entry %" PRIu64 " of %s says balance %" PRId64 ", replay gives %" PRId64,
                    e->seq, gj_mask(e->psn_no, m, sizeof m), e->balance_after, r->balance);
    }
    /* Checks of one entry alone: once, in the first pass. */
    if (st->pass == 0 && e->kind == STORE_J_SETTLE_AID) {
        /* A pool or a wallet has no floor: a pool's contributors kept pool_floor when they
         * put money in, and a wallet's money is its relative's. */
        if (!gj_is_family_account(e->psn_no) && e->balance_after < st->c->policy->reserve_floor)
            failure(st, "floor: entry %" PRIu64 " took %s to %" PRId64 ", below the floor %" PRId64, e->seq,
                    gj_mask(e->psn_no, m, sizeof m), e->balance_after, st->c->policy->reserve_floor);
        store_binding b;
        if (store_binding_get(st->txn, e->psn_no, e->counterpart, &b) != GJ_OK)
            failure(st, "binding: entry %" PRIu64 " (%s) debited %s with no binding to the relative", e->seq,
                    e->setl_id, gj_mask(e->psn_no, m, sizeof m));
    }
    if (st->pass == 0 && e->kind == STORE_J_POOL_IN && !gj_is_pool_id(e->psn_no) &&
        e->balance_after < st->c->policy->pool_floor)
        failure(st, "floor: entry %" PRIu64 " put %s into a pool below the pool floor", e->seq,
                gj_mask(e->psn_no, m, sizeof m));
    return !st->out_of_memory && keep_going(st);
}

static bool compare_replay(const char *psn_no, const store_account *a, void *arg)
{
    audit_state *st = arg;
    char m[GJ_PSN_NO_MAX + 1];
    struct replay *r = replay_slot(st, psn_no);
    if (r != NULL && r->balance != a->balance)
        failure(st, "journal: replay of %s gives %" PRId64 ", account says %" PRId64,
                gj_mask(psn_no, m, sizeof m), r->balance, a->balance);
    return !st->out_of_memory && keep_going(st);
}

static bool add_pending(const store_wallet_transfer *t, void *arg)
{
    audit_state *st = arg;
    st->wallets_pending += t->amount;
    return keep_going(st);
}

/* The invariants, over every account and the whole journal. */
static void check_invariants(audit_state *st)
{
    Gongji__V1__AuditReply *ans = st->ans;
    store_account_scan(st->txn, check_account, st);
    store_wallet_pending_scan(st->txn, add_pending, st);
    if (st->stopped == GJ_R_NONE && st->wallets_held != st->wallets_pending)
        failure(st, "wallets: %" PRId64 " held in wallets, but pending transfers come to %" PRId64, st->wallets_held,
                st->wallets_pending);
    uint64_t accounts = ans->accounts;
    st->slots = GJ_AUDIT_REPLAY_SLOTS;
    if (accounts * 2 + 64 < st->slots)
        st->slots = (size_t)accounts * 2 + 64;
    st->passes = (uint32_t)((accounts * 2 + 64 + st->slots - 1) / st->slots);
    if (st->passes == 0)
        st->passes = 1;
    st->replay = malloc(st->slots * sizeof *st->replay);
    if (st->replay == NULL) {
        st->out_of_memory = true;
        return;
    }
    for (st->pass = 0; st->pass < st->passes && st->stopped == GJ_R_NONE && !st->out_of_memory; st->pass++) {
        memset(st->replay, 0, st->slots * sizeof *st->replay);
        store_journal_scan(st->txn, 1, replay_entry, st);
        store_account_scan(st->txn, compare_replay, st);
    }
    free(st->replay);
    st->replay = NULL;
    ans->open_holds = store_hold_open_count(st->txn);
    ans->open_decisions = store_decision_open_count(st->txn);
}

static Gongji__V1__CrossPayment *cross(audit_state *st, const char *setl_id, uint32_t leg, const char *sponsor,
                                       const char *sponsor_admdvs, const char *beneficiary_admdvs, int64_t amount)
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

/* Settlements with remote parts: the coordinated payments, each matched to its
 * decision's POST leg. A settlement is listed whole on one page (a page may run over
 * by the parts of its last settlement). */
static bool list_coordinated(const store_settlement *s, void *arg)
{
    audit_state *st = arg;
    Gongji__V1__AuditReply *ans = st->ans;
    const char *region = st->c->n->cfg.region;
    if (st->room == 0)
        return false; /* st->next says where the next page begins */
    if (s->status != STORE_SETL_COMMITTED)
        return keep_going(st);
    store_decision d;
    bool have_decision = false;
    for (uint32_t k = 0; k < s->part_count; k++) {
        if (strcmp(s->parts[k].admdvs, region) == 0)
            continue;
        if (!have_decision && store_decision_get(st->txn, s->setl_id, &d) != GJ_OK) {
            failure(st, "decision: settlement %s has a remote part but no decision", s->setl_id);
            break;
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
        Gongji__V1__CrossPayment *p =
            cross(st, s->setl_id, leg, s->parts[k].psn_no, s->parts[k].admdvs, region, s->parts[k].amount);
        if (p == NULL)
            return false;
        ans->coordinated[ans->n_coordinated++] = p;
        if (st->room > 0)
            st->room--;
    }
    /* The next page begins after this settlement (it is listed whole). */
    snprintf(st->next, sizeof st->next, "c%s", s->setl_id);
    return keep_going(st);
}

static bool list_participated(const store_hold *h, void *arg)
{
    audit_state *st = arg;
    Gongji__V1__AuditReply *ans = st->ans;
    if (st->room == 0)
        return false;
    snprintf(st->next, sizeof st->next, "p%s/%u", h->setl_id, h->leg);
    if (h->state != STORE_HOLD_POSTED)
        return keep_going(st);
    if (!grow(st, &ans->participated, ans->n_participated, &st->participated_cap))
        return false;
    Gongji__V1__CrossPayment *p =
        cross(st, h->setl_id, h->leg, h->sponsor, st->c->n->cfg.region, h->coordinator, h->amount);
    if (p == NULL)
        return false;
    ans->participated[ans->n_participated++] = p;
    st->room--;
    return keep_going(st);
}

/* A page token: "" (first page), "c<setl_id>" (coordinated after it), "c" (coordinated
 * from the start), "p<setl_id>/<leg>" (participated after it), "p" (from the start). */
static bool parse_token(const char *token, char *list, char setl_id[GJ_SETL_ID_MAX + 1], uint32_t *leg)
{
    *list = 'c';
    setl_id[0] = '\0';
    *leg = 0;
    if (token[0] == '\0')
        return true;
    if (strlen(token) > GJ_PAGE_TOKEN_MAX || (token[0] != 'c' && token[0] != 'p'))
        return false;
    *list = token[0];
    const char *rest = token + 1;
    const char *slash = *list == 'p' ? strrchr(rest, '/') : NULL;
    size_t len = slash ? (size_t)(slash - rest) : strlen(rest);
    if (len > GJ_SETL_ID_MAX || (*list == 'p' && len > 0 && slash == NULL))
        return false;
    memcpy(setl_id, rest, len);
    setl_id[len] = '\0';
    if (slash != NULL) {
        char *end;
        unsigned long v = strtoul(slash + 1, &end, 10);
        if (*end != '\0' || end == slash + 1 || v >= GJ_SPONSORS_MAX)
            return false;
        *leg = (uint32_t)v;
    }
    for (const char *p = setl_id; *p; p++)
        if (!((*p >= '0' && *p <= '9') || *p == '-'))
            return false;
    return true;
}

static void audit_page(call *c)
{
    Gongji__V1__AuditRequest *req = (Gongji__V1__AuditRequest *)c->request;
    audit_state st = {.c = c};
    char list, after[GJ_SETL_ID_MAX + 1];
    uint32_t after_leg;
    parse_token(req->page_token, &list, after, &after_leg); /* checked by audit_check */
    int64_t now = gj_now_unix_ms();
    st.until_ms = c->env->deadline_unix_ms ? c->env->deadline_unix_ms : now + GJ_DEADLINE_DEFAULT_MS;
    st.room = req->page_size ? req->page_size : GJ_AUDIT_PAGE_DEFAULT;
    Gongji__V1__AuditReply *ans = call_alloc(c, sizeof *ans);
    char **failures = call_alloc(c, sizeof(char *) * AUDIT_FAILURES_MAX);
    if (ans == NULL || failures == NULL) {
        ops_out_of_memory(c);
        call_finish(c);
        return;
    }
    gongji__v1__audit_reply__init(ans);
    ans->region = c->n->cfg.region;
    ans->ok = true;
    ans->failures = failures;
    st.ans = ans;
    gj_err err = store_read_begin(c->n->store, &st.txn);
    if (err != GJ_OK) {
        c->reason = ops_store_reason(c, err);
        call_finish(c);
        return;
    }
    if (req->page_token[0] == '\0') {
        ans->first_page = true;
        check_invariants(&st);
    }
    if (list == 'c' && st.stopped == GJ_R_NONE && !st.out_of_memory) {
        st.next[0] = '\0';
        store_settlement_scan_after(st.txn, after, list_coordinated, &st);
        if (st.room > 0 && st.stopped == GJ_R_NONE) {
            list = 'p'; /* coordinated done: participated from the start */
            after[0] = '\0';
        }
    }
    if (list == 'p' && st.stopped == GJ_R_NONE && !st.out_of_memory) {
        st.next[0] = '\0';
        store_hold_scan_after(st.txn, after, after_leg, list_participated, &st);
        if (st.room > 0)
            st.next[0] = '\0'; /* the end */
    }
    store_read_end(st.txn);
    if (st.stopped != GJ_R_NONE) {
        call_fail(c, st.stopped, "the audit stopped after %" PRIu64 " records: %s", st.visits,
                  st.stopped == GJ_R_DEADLINE_PASSED ? "the caller's deadline passed" : "the node is stopping");
    } else if (st.out_of_memory) {
        ops_out_of_memory(c);
    } else {
        ans->next_page_token = call_strdup(c, st.next);
        if (ans->next_page_token == NULL)
            ops_out_of_memory(c);
        else
            c->answer = &ans->base;
    }
    call_finish(c);
}

gj_reason audit_check(call *c)
{
    Gongji__V1__AuditRequest *req = (Gongji__V1__AuditRequest *)c->request;
    if (!ops_is_role(c, GONGJI__V1__ROLE__OPERATOR))
        return ops_deny(c, "only an operator");
    char list, after[GJ_SETL_ID_MAX + 1];
    uint32_t leg;
    if (!parse_token(req->page_token, &list, after, &leg))
        return call_fail(c, GJ_R_FIELD_INVALID, "page_token '%.48s' is not one this node gave", req->page_token);
    if (req->page_size > GJ_AUDIT_PAGE_MAX)
        return call_fail(c, GJ_R_FIELD_INVALID, "page_size is at most %d", GJ_AUDIT_PAGE_MAX);
    c->slow = audit_page; /* long: a worker's, not the transport's thread */
    return GJ_R_NONE;
}
