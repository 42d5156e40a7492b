/* Registry/CreditBatch: a monthly credit file's rows, many per request, each credited
 * exactly once (proto: CreditBatchRequest; docs/import.md).
 *
 * check() looks at the request's shape on the receiving thread; the rows are then
 * applied from a worker in slices of CREDIT_SLICE rows, each slice one store job, so
 * settlements queued meanwhile go into the commits between slices instead of waiting
 * behind a whole file. A row's credit and the record of its key are written in one
 * transaction: a request cut short anywhere is sent again, and the rows it had credited
 * come back as ROW_REPEATED. */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "gj_limits.h"
#include "gj_util.h"
#include "log.h"
#include "node.h"
#include "ops.h"
#include "rules.h"

/* Rows per store job while the node writes anything else: small enough that a
 * settlement queued behind a slice waits about a millisecond, large enough that a file
 * is a few hundred commits per 100,000 rows. */
#define CREDIT_SLICE 100
/* ... and when credit files are all it has written for credit_quiet_ms: a whole
 * request per job, so up to 1,000 rows share a commit's sync and tree branches. A
 * settlement that arrives then waits for one such job at most; the slices after it are
 * small again. Whether writes are queued at this instant says nothing: synchronous
 * callers wait for the commit in progress, so the queue is empty exactly while the
 * writer works. */
#define CREDIT_ROWS_MAX 1000
#define CREDIT_ROW_ID_MAX 40
#define CREDIT_BATCH_NAME_MAX 20

typedef struct credit_run {
    call *c;
    const Gongji__V1__CreditBatchRequest *req;
    bool dry_run;
    size_t from, to;            /* the slice being applied */
    Gongji__V1__CreditRowOutcome **outcomes;
    size_t n_outcomes;
    uint32_t credited, repeated, refused;
    int64_t credited_amount;
    int64_t now_ms;
} credit_run;

static bool visible_ascii(const char *s, size_t max, bool colon_ok)
{
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] <= 0x20 || s[i] >= 0x7f || (!colon_ok && s[i] == ':'))
            return false;
    return true;
}

static void credit_batch_run(call *c);

gj_reason credit_batch_check(call *c)
{
    const Gongji__V1__CreditBatchRequest *req = (const Gongji__V1__CreditBatchRequest *)c->request;
    if (!ops_is_role(c, GONGJI__V1__ROLE__OPERATOR))
        return ops_deny(c, "only a region operator");
    /* Read-only by the method table (its writes are the slices'), so the restore gate
     * is asked here. */
    if (atomic_load(&c->n->restored) && !req->dry_run)
        return call_fail(c, GJ_R_STORE_RESTORED, "region %s's node was restored from a backup: reconcile with every "
                                                 "peer, then an operator runs gongji confirm-restore",
                         c->n->cfg.region);
    if (req->n_rows == 0 || req->n_rows > CREDIT_ROWS_MAX)
        return call_fail(c, GJ_R_FIELD_INVALID, "rows: 1..%d per request, not %zu", CREDIT_ROWS_MAX, req->n_rows);
    if (req->batch[0] != '\0' && !visible_ascii(req->batch, CREDIT_BATCH_NAME_MAX, false))
        return call_fail(c, GJ_R_FIELD_INVALID, "batch is 1..%d visible ASCII characters without ':'",
                         CREDIT_BATCH_NAME_MAX);
    c->slow = credit_batch_run;
    return GJ_R_NONE;
}

static void outcome(credit_run *run, size_t index, gj_reason r, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void outcome(credit_run *run, size_t index, gj_reason r, const char *fmt, ...)
{
    Gongji__V1__CreditRowOutcome *o = call_alloc(run->c, sizeof *o);
    char text[200] = "";
    if (fmt != NULL) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(text, sizeof text, fmt, ap);
        va_end(ap);
    }
    if (r == GJ_R_ROW_REPEATED)
        run->repeated++;
    else
        run->refused++;
    if (o == NULL)
        return; /* counted; the detail is lost to memory */
    gongji__v1__credit_row_outcome__init(o);
    o->index = (uint32_t)index;
    o->reason = (char *)gj_reason_name(r);
    o->message = call_strdup(run->c, text[0] ? text : gj_reason_message(r));
    if (o->message == NULL)
        o->message = (char *)"";
    run->outcomes[run->n_outcomes++] = o;
}

/* One row: refused with its reason, repeated, or credited (unless a dry run). A store
 * error other than a refusal stops the slice (returned). */
static gj_err credit_row(credit_run *run, store_txn *txn, size_t i)
{
    const Gongji__V1__CreditRow *row = run->req->rows[i];
    node *n = run->c->n;
    char key[STORE_CREDIT_ROW_KEY_MAX + 1];
    if (!visible_ascii(row->row_id, CREDIT_ROW_ID_MAX, true)) {
        outcome(run, i, GJ_R_FIELD_INVALID, "row_id is 1..%d visible ASCII characters", CREDIT_ROW_ID_MAX);
        return GJ_OK;
    }
    snprintf(key, sizeof key, "%s%s%s", run->req->batch, run->req->batch[0] ? ":" : "", row->row_id);
    size_t plen = strlen(row->psn_no);
    if (plen == 0 || plen > GJ_PSN_NO_MAX) {
        outcome(run, i, GJ_R_FIELD_INVALID, "psn_no must be 1..%d characters", GJ_PSN_NO_MAX);
        return GJ_OK;
    }
    gj_reason r = rules_check_amount(row->amount);
    if (r != GJ_R_NONE) {
        outcome(run, i, r, NULL);
        return GJ_OK;
    }
    if (strlen(row->memo) > GJ_MEMO_MAX) {
        outcome(run, i, GJ_R_FIELD_INVALID, "memo is at most %d bytes", GJ_MEMO_MAX);
        return GJ_OK;
    }
    store_credit_row seen;
    gj_err err = store_credit_row_get(txn, key, &seen);
    if (err == GJ_OK) {
        if (strcmp(seen.psn_no, row->psn_no) == 0 && seen.amount == row->amount)
            outcome(run, i, GJ_R_ROW_REPEATED, NULL);
        else
            outcome(run, i, GJ_R_ROW_ID_REUSED, "row %s was credited before with another person or amount", key);
        return GJ_OK;
    }
    if (err != GJ_ERR_NOTFOUND)
        return err;
    store_person person;
    if ((err = store_person_get(txn, row->psn_no, &person)) == GJ_ERR_NOTFOUND) {
        outcome(run, i, GJ_R_PERSON_NOT_FOUND, "no such person in region %s", n->cfg.region);
        return GJ_OK;
    }
    if (err != GJ_OK)
        return err;
    store_move m;
    if (strcmp(person.admdvs, n->cfg.region) != 0) {
        outcome(run, i, GJ_R_PERSON_NOT_LOCAL, "the person is insured in region %s", person.admdvs);
        return GJ_OK;
    }
    if (store_move_get(txn, row->psn_no, &m) == GJ_OK && m.direction == 'O') {
        outcome(run, i, GJ_R_PERSON_MOVED, "%s to region %s", m.state == STORE_MOVE_MOVED ? "moved" : "moving",
                m.other_admdvs);
        return GJ_OK;
    }
    store_account acct;
    if ((err = store_account_get(txn, row->psn_no, &acct)) == GJ_ERR_NOTFOUND) {
        outcome(run, i, GJ_R_NO_ACCOUNT, NULL);
        return GJ_OK;
    }
    if (err != GJ_OK)
        return err;
    if (acct.balance > GJ_BALANCE_MAX - row->amount) {
        outcome(run, i, GJ_R_BALANCE_LIMIT, NULL);
        return GJ_OK;
    }
    if (!run->dry_run) {
        store_journal_entry e = {.unix_ms = run->now_ms, .kind = STORE_J_CREDIT, .amount = row->amount};
        memcpy(e.psn_no, person.psn_no, sizeof e.psn_no);
        gj_strcpy_fit(e.caller_id, sizeof e.caller_id, run->c->env->caller_id);
        gj_strcpy_fit(e.call_id, sizeof e.call_id, key);
        if ((err = store_account_move(txn, &e, NULL)) != GJ_OK)
            return err;
        store_credit_row rec = {.amount = row->amount, .journal_seq = e.seq, .unix_ms = run->now_ms};
        memcpy(rec.psn_no, person.psn_no, sizeof rec.psn_no);
        if ((err = store_credit_row_put(txn, key, &rec)) != GJ_OK)
            return err;
    }
    run->credited++;
    run->credited_amount += row->amount;
    return GJ_OK;
}

/* A slice on the store writer: all its rows or (on a store error) none. The counters
 * are restored when the slice is undone, so a retry counts each row once. */
static gj_err credit_slice_apply(store_txn *txn, void *arg)
{
    credit_run *run = arg;
    credit_run before = *run;
    for (size_t i = run->from; i < run->to; i++) {
        gj_err err = credit_row(run, txn, i);
        if (err != GJ_OK) {
            *run = before;
            return err;
        }
    }
    return GJ_OK;
}

static void credit_batch_run(call *c)
{
    const Gongji__V1__CreditBatchRequest *req = (const Gongji__V1__CreditBatchRequest *)c->request;
    credit_run run = {.c = c, .req = req, .dry_run = req->dry_run, .now_ms = gj_now_unix_ms()};
    run.outcomes = call_alloc(c, req->n_rows * sizeof *run.outcomes);
    if (run.outcomes == NULL) {
        call_finish_error(c, ops_out_of_memory(c));
        return;
    }
    int64_t t0 = gj_mono_ms();
    unsigned slices = 0;
    for (size_t from = 0, rows; from < req->n_rows; from += rows, slices++) {
        rows = !run.dry_run && store_ms_since_other_write(c->n->store) >= c->n->cfg.credit_quiet_ms
                   ? CREDIT_ROWS_MAX
                   : CREDIT_SLICE;
        run.from = from;
        run.to = from + rows < req->n_rows ? from + rows : req->n_rows;
        gj_err err;
        if (run.dry_run) {
            store_txn *txn = NULL;
            if ((err = store_read_begin(c->n->store, &txn)) == GJ_OK) {
                err = credit_slice_apply(txn, &run);
                store_read_end(txn);
            }
        } else {
            err = store_submit_wait_bulk(c->n->store, credit_slice_apply, &run);
        }
        if (err != GJ_OK) {
            /* The slices before are credited and stay so; sent again, they repeat. */
            gj_log(GJ_LOG_WARN, "credit-batch", "rows=%zu stopped at row %zu: %s", req->n_rows, from,
                   gj_err_name(err));
            call_finish_error(c, err == GJ_ERR_FULL ? GJ_R_OVERLOADED : ops_store_reason(c, err));
            return;
        }
    }
    Gongji__V1__CreditBatchReply *ans = call_alloc(c, sizeof *ans);
    if (ans == NULL) {
        call_finish_error(c, ops_out_of_memory(c));
        return;
    }
    gongji__v1__credit_batch_reply__init(ans);
    ans->credited = run.credited;
    ans->repeated = run.repeated;
    ans->refused = run.refused;
    ans->credited_amount = run.credited_amount;
    ans->n_outcomes = run.n_outcomes;
    ans->outcomes = run.outcomes;
    c->answer = &ans->base;
    gj_log(GJ_LOG_INFO, "credit-batch",
           "operator=%s batch=%s rows=%zu credited=%u repeated=%u refused=%u amount=%lld dry_run=%s slices=%u ms=%lld",
           c->env->caller_id, req->batch[0] ? req->batch : "-", req->n_rows, run.credited, run.repeated,
           run.refused, (long long)run.credited_amount, run.dry_run ? "yes" : "no", slices,
           (long long)(gj_mono_ms() - t0));
    call_finish(c);
}
