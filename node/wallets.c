/* Wallet (R24): the cross-province wallet of the national pilot.
 *
 * A transfer is a settlement with one leg: the relative's node (which keeps the wallet)
 * coordinates it as it does a premium, the sponsor's hold made before anything is
 * decided, all of it or nothing, exactly once (xr/wallet_transfer.c starts it). The
 * sponsor's node applies its region's caps before it holds (wallet_hold_rules). The
 * decision credits the wallet, an account under its own id, with the money held there
 * (account.held) until the relative accepts it: until then no bill can use it. One not
 * accepted when the relative region's next blackout hours begin goes back: the resolver's
 * tick (wallets_return_due) takes it out of the wallet and revokes the transfer, whose
 * refund reaches the sponsor's node as any revoke's does.
 *
 * The relative's bills use the wallet after their own account: the wallet is bound to its
 * relative like a sponsor with no relation, first in the deduction order. */
#include "gj_util.h"
#include "log.h"
#include "node.h"
#include "ops.h"
#include "rules.h"
#include "xr/xr.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define CST_OFFSET_S (8 * 3600)
#define DAY_S 86400

static int32_t second_of_day(node *n)
{
    int64_t s = node_now_ms(n) / 1000 + CST_OFFSET_S;
    return (int32_t)(((s % DAY_S) + DAY_S) % DAY_S);
}

/* When a transfer made now goes back if not accepted: the start of the next blackout
 * hours, or the next midnight where the region has none (business clock). */
static int64_t deadline_from_now(node *n)
{
    const gj_policy *p = node_policy(n);
    int32_t at = p->wallet_blackout_start_s != p->wallet_blackout_end_s ? p->wallet_blackout_start_s : 0;
    int32_t now = second_of_day(n);
    int32_t wait = at > now ? at - now : at + DAY_S - now;
    int64_t ms = node_now_ms(n);
    return ms - ms % 1000 + (int64_t)wait * 1000;
}

static Gongji__V1__WalletTransfer *answer_transfer(call *c, const store_wallet_transfer *t)
{
    Gongji__V1__WalletTransfer *a = call_alloc(c, sizeof *a);
    if (a == NULL)
        return NULL;
    gongji__v1__wallet_transfer__init(a);
    a->setl_id = call_strdup(c, t->setl_id);
    a->sponsor_psn_no = call_strdup(c, t->sponsor);
    a->sponsor_admdvs = call_strdup(c, t->sponsor_admdvs);
    a->amount = t->amount;
    a->state = (Gongji__V1__WalletTransferState)t->state;
    a->created_unix_ms = t->created_unix_ms;
    a->deadline_unix_ms = t->deadline_unix_ms;
    a->resolved_unix_ms = t->resolved_unix_ms;
    return a->setl_id && a->sponsor_psn_no && a->sponsor_admdvs ? a : NULL;
}

gj_reason wallet_answer(call *c, store_txn *txn, const char *setl_id)
{
    store_wallet_transfer t;
    gj_err err = store_wallet_transfer_get(txn, setl_id, &t);
    if (err != GJ_OK)
        return ops_store_reason(c, err);
    Gongji__V1__WalletTransferReply *ans = call_alloc(c, sizeof *ans);
    if (ans == NULL)
        return ops_out_of_memory(c);
    gongji__v1__wallet_transfer_reply__init(ans);
    ans->wallet_id = call_strdup(c, t.wallet_id);
    if (ans->wallet_id == NULL || (ans->transfer = answer_transfer(c, &t)) == NULL)
        return ops_out_of_memory(c);
    c->answer = &ans->base;
    return GJ_R_NONE;
}

/* ---- Wallet/Transfer: the checks at the relative's node (xr/wallet_transfer.c goes on) ---- */

const char *wallet_route_transfer(call *c)
{
    return ((Gongji__V1__WalletTransferRequest *)c->request)->relative_admdvs;
}

static bool region_code(const char *r)
{
    return strlen(r) == GJ_ADMDVS_LEN && gj_all_digits(r, GJ_ADMDVS_LEN);
}

gj_reason wallet_transfer_check(call *c)
{
    Gongji__V1__WalletTransferRequest *req = (Gongji__V1__WalletTransferRequest *)c->request;
    gj_reason r;
    if ((r = ops_check_psn_no(c, "sponsor_psn_no", req->sponsor_psn_no)) != GJ_R_NONE ||
        (r = ops_check_psn_no(c, "relative_psn_no", req->relative_psn_no)) != GJ_R_NONE ||
        (r = rules_check_amount(req->amount)) != GJ_R_NONE)
        return r;
    if (!region_code(req->sponsor_admdvs) || !region_code(req->relative_admdvs))
        return call_fail(c, GJ_R_FIELD_INVALID, "sponsor_admdvs and relative_admdvs are 6-digit region codes");
    /* The sponsor's own act: their money moves (through the platform that proved them). */
    if (!ops_is_self(c, req->sponsor_psn_no))
        return ops_deny(c, "only the sponsor");
    if (strcmp(req->relative_admdvs, c->n->cfg.region) != 0)
        return call_fail(c, GJ_R_REGION_UNKNOWN, "the wallet is kept by region %s's node", req->relative_admdvs);
    if (rules_same_province(req->sponsor_admdvs, req->relative_admdvs))
        return GJ_R_WALLET_SAME_PROVINCE;
    if (!c->policy->wallet)
        return GJ_R_WALLET_NOT_OFFERED;
    c->crosses_regions = true;
    return GJ_R_NONE;
}

gj_reason wallet_transfer_apply(call *c, store_txn *txn)
{
    (void)txn;
    return call_fail(c, GJ_R_WALLET_SAME_PROVINCE, "a transfer always crosses provinces");
}

/* ---- at the sponsor's node, before holding ---- */

typedef struct today_count {
    const char *sponsor;
    int32_t today;
    size_t n;
} today_count;

/* A hold still open counts for its own day only: one left from an earlier day (its
 * coordinator killed before deciding, say) is that day's, and is voided in time. */
static bool count_open_hold(const store_hold *h, void *arg)
{
    today_count *tc = arg;
    if (h->use == GJ_USE_WALLET && h->setl_date == tc->today && strcmp(h->sponsor, tc->sponsor) == 0)
        tc->n++;
    return true;
}

gj_reason wallet_hold_rules(call *c, store_txn *txn, const char *sponsor, int64_t amount, const char *relative_admdvs)
{
    const gj_policy *policy = c->policy;
    if (rules_same_province(policy->region, relative_admdvs))
        return GJ_R_WALLET_SAME_PROVINCE;
    if (!policy->cross_province_pilot)
        return call_fail(c, GJ_R_CROSS_PROVINCE_NOT_IN_PILOT, "region %s is not in the cross-province pilot",
                         policy->region);
    /* Today's transfers: posted ones (their spend records), and any held right now. The
     * writer runs one request at a time, so two at once cannot both take the last. */
    today_count tc = {.sponsor = sponsor, .today = c->today};
    char cursor[GJ_PAGE_TOKEN_MAX + 1] = "";
    store_spend page[64];
    gj_err err;
    do {
        size_t got = 0;
        char after[GJ_PAGE_TOKEN_MAX + 1];
        memcpy(after, cursor, sizeof after);
        err = store_spend_list(txn, sponsor, c->today, c->today, after, page, 64, &got, cursor);
        if (err != GJ_OK)
            return ops_store_reason(c, err);
        for (size_t i = 0; i < got; i++)
            tc.n += page[i].use == GJ_USE_WALLET && !page[i].refund;
    } while (cursor[0] != '\0');
    if ((err = store_hold_scan_open(txn, count_open_hold, &tc)) != GJ_OK)
        return ops_store_reason(c, err);
    gj_reason r = rules_check_wallet_transfer(policy, amount, tc.n, second_of_day(c->n));
    char cap[32];
    switch (r) {
    case GJ_R_WALLET_TRANSFER_TOO_LARGE:
        return call_fail(c, r, "region %s lets one transfer carry at most %s yuan", policy->region,
                         gj_yuan_format(policy->wallet_transfer_max, cap));
    case GJ_R_WALLET_DAILY_LIMIT:
        return call_fail(c, r, "%zu transfers today; region %s allows %u", tc.n, policy->region,
                         policy->wallet_transfers_per_day);
    case GJ_R_WALLET_BLACKOUT:
        return call_fail(c, r, "no transfers from %02d:%02d to %02d:%02d in region %s",
                         policy->wallet_blackout_start_s / 3600, policy->wallet_blackout_start_s / 60 % 60,
                         policy->wallet_blackout_end_s / 3600, policy->wallet_blackout_end_s / 60 % 60,
                         policy->region);
    default:
        return r;
    }
}

/* ---- the transfer's decision, at the relative's node ---- */

/* The relative's wallet, made on their first transfer: an account, bound to them first
 * in their deduction order. */
static gj_reason wallet_of(call *c, store_txn *txn, const char *relative, char wallet_id[GJ_PSN_NO_MAX + 1])
{
    gj_err err = store_wallet_of(txn, relative, wallet_id);
    if (err != GJ_ERR_NOTFOUND)
        return err == GJ_OK ? GJ_R_NONE : ops_store_reason(c, err);
    uint64_t seq;
    if ((err = store_next_seq(txn, "wallet", &seq)) != GJ_OK)
        return ops_store_reason(c, err);
    snprintf(wallet_id, GJ_PSN_NO_MAX + 1, "%s%s%010" PRIu64, GJ_WALLET_ID_PREFIX, c->n->cfg.region, seq);
    store_binding b = {.begin_date = c->today, .created_unix_ms = gj_now_unix_ms()};
    gj_strcpy_fit(b.sponsor, sizeof b.sponsor, wallet_id);
    gj_strcpy_fit(b.beneficiary, sizeof b.beneficiary, relative);
    memcpy(b.sponsor_admdvs, c->n->cfg.region, sizeof b.sponsor_admdvs);
    memcpy(b.beneficiary_admdvs, c->n->cfg.region, sizeof b.beneficiary_admdvs);
    if ((err = store_wallet_set(txn, relative, wallet_id)) != GJ_OK ||
        (err = store_account_ensure(txn, wallet_id)) != GJ_OK || (err = store_binding_put(txn, &b)) != GJ_OK)
        return ops_store_reason(c, err);
    return ops_order_add(c, txn, relative, wallet_id, c->n->cfg.region);
}

gj_reason wallet_credit(call *c, store_txn *txn, const store_settlement *s)
{
    if (s->mulaid_pay <= 0 || s->part_count != 1)
        return call_fail(c, GJ_R_WALLET_NOT_COVERED, "nothing was held for the transfer");
    store_wallet_transfer t = {.amount = s->mulaid_pay, .state = STORE_WALLET_PENDING,
                               .created_unix_ms = node_now_ms(c->n), .deadline_unix_ms = deadline_from_now(c->n)};
    memcpy(t.setl_id, s->setl_id, sizeof t.setl_id);
    memcpy(t.relative, s->psn_no, sizeof t.relative);
    memcpy(t.sponsor, s->parts[0].psn_no, sizeof t.sponsor);
    memcpy(t.sponsor_admdvs, s->parts[0].admdvs, sizeof t.sponsor_admdvs);
    gj_reason r = wallet_of(c, txn, s->psn_no, t.wallet_id);
    if (r != GJ_R_NONE)
        return r;
    store_journal_entry e = {.unix_ms = gj_now_unix_ms(), .kind = STORE_J_WALLET_IN, .amount = t.amount};
    memcpy(e.psn_no, t.wallet_id, sizeof e.psn_no);
    memcpy(e.setl_id, t.setl_id, sizeof e.setl_id);
    memcpy(e.counterpart, t.sponsor, sizeof e.counterpart);
    gj_strcpy_fit(e.caller_id, sizeof e.caller_id, c->env->caller_id);
    gj_strcpy_fit(e.call_id, sizeof e.call_id, c->env->call_id);
    gj_err err;
    if ((err = store_account_move(txn, &e, NULL)) != GJ_OK ||
        (err = store_account_hold(txn, t.wallet_id, t.amount, NULL)) != GJ_OK ||
        (err = store_wallet_transfer_put(txn, &t)) != GJ_OK)
        return ops_store_reason(c, err);
    char m[GJ_PSN_NO_MAX + 1], y[32];
    gj_log(GJ_LOG_INFO, "wallet", "transfer setl_id=%s wallet=%s relative=%s amount=%s from=%s", t.setl_id,
           t.wallet_id, gj_mask(t.relative, m, sizeof m), gj_yuan_format(t.amount, y), t.sponsor_admdvs);
    return GJ_R_NONE;
}

/* Take a PENDING transfer out of the wallet and revoke it: the sponsor's node gets the
 * refund. Nothing when it is not PENDING any more. */
static gj_reason return_in_txn(call *c, store_txn *txn, const char *setl_id)
{
    store_wallet_transfer t;
    gj_err err = store_wallet_transfer_get(txn, setl_id, &t);
    if (err != GJ_OK)
        return ops_store_reason(c, err);
    if (t.state != STORE_WALLET_PENDING)
        return GJ_R_NONE;
    store_journal_entry e = {.unix_ms = gj_now_unix_ms(), .kind = STORE_J_WALLET_OUT, .amount = -t.amount};
    memcpy(e.psn_no, t.wallet_id, sizeof e.psn_no);
    memcpy(e.setl_id, t.setl_id, sizeof e.setl_id);
    memcpy(e.counterpart, t.sponsor, sizeof e.counterpart);
    gj_strcpy_fit(e.caller_id, sizeof e.caller_id, c->env->caller_id);
    gj_strcpy_fit(e.call_id, sizeof e.call_id, c->env->call_id);
    Gongji__V1__RevokeReply *undone = NULL;
    gj_reason r;
    if ((err = store_account_hold(txn, t.wallet_id, -t.amount, NULL)) != GJ_OK ||
        (err = store_account_move(txn, &e, NULL)) != GJ_OK)
        return ops_store_reason(c, err);
    if ((r = life_undo_in_txn(c, txn, setl_id, false, true, &undone)) != GJ_R_NONE)
        return r;
    t.state = STORE_WALLET_RETURNED;
    t.resolved_unix_ms = node_now_ms(c->n);
    if ((err = store_wallet_transfer_put(txn, &t)) != GJ_OK)
        return ops_store_reason(c, err);
    char y[32];
    gj_log(GJ_LOG_INFO, "wallet", "returned setl_id=%s wallet=%s amount=%s to=%s", t.setl_id, t.wallet_id,
           gj_yuan_format(t.amount, y), t.sponsor_admdvs);
    return GJ_R_NONE;
}

typedef struct due_list {
    int64_t now;
    size_t n;
    char setl_ids[32][GJ_SETL_ID_MAX + 1];
} due_list;

static bool collect_due(const store_wallet_transfer *t, void *arg)
{
    due_list *d = arg;
    if (t->deadline_unix_ms <= d->now)
        memcpy(d->setl_ids[d->n++], t->setl_id, sizeof d->setl_ids[0]);
    return d->n < sizeof d->setl_ids / sizeof d->setl_ids[0];
}

typedef struct return_job {
    call *c;
    const char *setl_id;
    gj_reason r;
} return_job;

static gj_err return_job_apply(store_txn *txn, void *arg)
{
    return_job *job = arg;
    job->r = return_in_txn(job->c, txn, job->setl_id);
    return job->r == GJ_R_NONE ? GJ_OK : GJ_ERR_ABORT;
}

void wallets_return_due(node *n)
{
    store_txn *txn;
    due_list due = {.now = node_now_ms(n)};
    if (store_read_begin(n->store, &txn) != GJ_OK)
        return;
    store_wallet_pending_scan(txn, collect_due, &due);
    store_read_end(txn);
    char caller[GJ_CALLER_ID_MAX + 1];
    snprintf(caller, sizeof caller, "%s:wallet", n->cfg.region);
    for (size_t i = 0; i < due.n && !atomic_load(&n->shutting_down); i++) {
        call *c = call_detached(n, caller, due.setl_ids[i]);
        if (c == NULL)
            return;
        return_job job = {.c = c, .setl_id = due.setl_ids[i]};
        gj_err err = store_submit_wait(n->store, return_job_apply, &job);
        if (err != GJ_OK)
            gj_log(GJ_LOG_ERROR, "wallet", "setl_id=%s cannot go back yet: %s %s", due.setl_ids[i],
                   gj_reason_name(job.r != GJ_R_NONE ? job.r : gj_reason_of_err(err)), c->message);
        bool push = err == GJ_OK && c->push_setl_id[0] != '\0';
        call_discard(c);
        if (push) /* the refund to the sponsor's node; the resolver repeats it until acknowledged */
            xr_deliver_decision_of(n, due.setl_ids[i]);
    }
}

/* ---- Wallet/Accept ---- */

gj_reason wallet_accept_check(call *c)
{
    Gongji__V1__WalletAcceptRequest *req = (Gongji__V1__WalletAcceptRequest *)c->request;
    gj_reason r;
    if ((r = ops_check_psn_no(c, "relative_psn_no", req->relative_psn_no)) != GJ_R_NONE)
        return r;
    if (req->setl_id[0] == '\0' || strlen(req->setl_id) > GJ_SETL_ID_MAX)
        return call_fail(c, GJ_R_FIELD_INVALID, "setl_id is required");
    if (!ops_is_role(c, GONGJI__V1__ROLE__OPERATOR) && !ops_is_self(c, req->relative_psn_no))
        return ops_deny(c, "only the relative or an operator");
    return GJ_R_NONE;
}

gj_reason wallet_accept_apply(call *c, store_txn *txn)
{
    Gongji__V1__WalletAcceptRequest *req = (Gongji__V1__WalletAcceptRequest *)c->request;
    store_wallet_transfer t;
    gj_err err = store_wallet_transfer_get(txn, req->setl_id, &t);
    if (err == GJ_ERR_NOTFOUND || (err == GJ_OK && strcmp(t.relative, req->relative_psn_no) != 0))
        return GJ_R_WALLET_TRANSFER_NOT_FOUND;
    if (err != GJ_OK)
        return ops_store_reason(c, err);
    if (t.state == STORE_WALLET_RETURNED || (t.state == STORE_WALLET_PENDING && node_now_ms(c->n) >= t.deadline_unix_ms))
        return GJ_R_WALLET_TRANSFER_RETURNED;
    if (t.state == STORE_WALLET_PENDING) {
        t.state = STORE_WALLET_ACCEPTED;
        t.resolved_unix_ms = node_now_ms(c->n);
        if ((err = store_account_hold(txn, t.wallet_id, -t.amount, NULL)) != GJ_OK ||
            (err = store_wallet_transfer_put(txn, &t)) != GJ_OK)
            return ops_store_reason(c, err);
        char y[32];
        gj_log(GJ_LOG_INFO, "wallet", "accepted setl_id=%s wallet=%s amount=%s", t.setl_id, t.wallet_id,
               gj_yuan_format(t.amount, y));
    }
    return wallet_answer(c, txn, t.setl_id);
}

/* ---- Wallet/Get ---- */

typedef struct pending_of {
    const char *relative;
    call *c;
    Gongji__V1__WalletReply *ans;
    bool oom;
} pending_of;

static bool list_pending(const store_wallet_transfer *t, void *arg)
{
    pending_of *p = arg;
    if (strcmp(t->relative, p->relative) != 0)
        return true;
    Gongji__V1__WalletTransfer *a = answer_transfer(p->c, t);
    if (a == NULL) {
        p->oom = true;
        return false;
    }
    p->ans->transfers[p->ans->n_transfers++] = a;
    return p->ans->n_transfers < GJ_WALLET_TRANSFERS_LISTED;
}

gj_reason wallet_get_check(call *c)
{
    Gongji__V1__WalletGetRequest *req = (Gongji__V1__WalletGetRequest *)c->request;
    gj_reason r;
    if ((r = ops_check_psn_no(c, "relative_psn_no", req->relative_psn_no)) != GJ_R_NONE)
        return r;
    if (!ops_is_role(c, GONGJI__V1__ROLE__OPERATOR) && !ops_is_self(c, req->relative_psn_no))
        return ops_deny(c, "only the person or an operator");
    Gongji__V1__WalletReply *ans = call_alloc(c, sizeof *ans);
    if (ans == NULL)
        return ops_out_of_memory(c);
    gongji__v1__wallet_reply__init(ans);
    ans->transfers = call_alloc(c, sizeof *ans->transfers * GJ_WALLET_TRANSFERS_LISTED);
    if (ans->transfers == NULL)
        return ops_out_of_memory(c);
    store_txn *txn;
    gj_err err = store_read_begin(c->n->store, &txn);
    if (err != GJ_OK)
        return ops_store_reason(c, err);
    char wallet_id[GJ_PSN_NO_MAX + 1] = "";
    store_account a;
    pending_of p = {.relative = req->relative_psn_no, .c = c, .ans = ans};
    if ((err = store_wallet_of(txn, req->relative_psn_no, wallet_id)) == GJ_OK &&
        (err = store_account_get(txn, wallet_id, &a)) == GJ_OK) {
        ans->balance = a.balance;
        ans->pending = a.held;
        err = store_wallet_pending_scan(txn, list_pending, &p);
    } else if (err == GJ_ERR_NOTFOUND) {
        err = GJ_OK; /* no wallet yet: nothing in it */
    }
    store_read_end(txn);
    if (err != GJ_OK)
        return ops_store_reason(c, err);
    if (p.oom || (ans->wallet_id = call_strdup(c, wallet_id)) == NULL)
        return ops_out_of_memory(c);
    c->answer = &ans->base;
    return GJ_R_NONE;
}
