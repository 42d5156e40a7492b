/* Operator: Health (the node's counters and the store's, for monitoring), SetClock
 * (moving the business date, for tests, where the config allows it), and ConfirmRestore
 * with the gate a restored node keeps until then. Audit is audit.c's. */
#include "gj_util.h"
#include "log.h"
#include "authn.h"
#include "node.h"
#include "ops.h"
#include "xr/deciding.h"

#include <stdio.h>
#include <string.h>

/* The Health answer, also what SetClock answers. */
static gj_reason health_answer(call *c)
{
    node *n = c->n;
    Gongji__V1__HealthReply *ans = call_alloc(c, sizeof *ans);
    if (ans == NULL)
        return ops_out_of_memory(c);
    gongji__v1__health_reply__init(ans);
    ans->region = n->cfg.region;
    ans->version = GONGJI_VERSION;
    ans->uptime_s = (gj_mono_ms() - n->started_mono_ms) / 1000;
    ans->business_date = node_today(n);
    ans->clock_overridden = atomic_load(&n->clock_overridden);
    ans->requests_served = atomic_load(&n->requests_served);
    ans->in_flight = atomic_load(&n->in_flight);
    ans->live = node_policy(n)->live;
    ans->peers = (uint32_t)n->cfg.peer_count;
    store_stats stats;
    store_stats_get(n->store, &stats);
    ans->store_commits = stats.commits;
    ans->store_requests = stats.jobs;
    ans->store_apply_us = stats.apply_us;
    ans->store_commit_us = stats.commit_us;
    ans->peer_coalescable_calls = atomic_load(&n->peers.coalescable_calls);
    ans->peer_coalescable_messages = atomic_load(&n->peers.coalescable_messages);
    ans->settlements_unknown = deciding_unknown_count(n);
    ans->callers_proven = n->cred != NULL && !n->cfg.insecure_plaintext;
    ans->sessions = n->cred != NULL ? (uint32_t)session_table_count(&n->sessions) : 0;
    ans->restored = atomic_load(&n->restored);
    store_txn *txn;
    if (store_read_begin(n->store, &txn) == GJ_OK) {
        ans->persons = store_person_count(txn);
        ans->bindings = store_binding_count(txn);
        ans->journal_entries = store_journal_count(txn);
        ans->open_holds = store_hold_open_count(txn);
        ans->open_decisions = store_decision_open_count(txn);
        store_read_end(txn);
    }
    c->answer = &ans->base;
    return GJ_R_NONE;
}

gj_reason health_check(call *c)
{
    return health_answer(c);
}

gj_reason set_clock_check(call *c)
{
    Gongji__V1__SetClockRequest *req = (Gongji__V1__SetClockRequest *)c->request;
    if (!ops_is_role(c, GONGJI__V1__ROLE__OPERATOR))
        return ops_deny(c, "only an operator");
    if (!c->n->cfg.allow_clock_override)
        return GJ_R_CLOCK_OVERRIDE_DISABLED;
    if (req->business_date != 0 && !gj_date_valid(req->business_date))
        return call_fail(c, GJ_R_FIELD_INVALID, "business_date is yyyymmdd, or 0 for the real date");
    int hh = 0, mm = 0, ss = 0;
    char extra;
    if (req->time_of_day[0] != '\0' &&
        (strlen(req->time_of_day) != 8 || sscanf(req->time_of_day, "%2d:%2d:%2d%c", &hh, &mm, &ss, &extra) != 3 ||
         hh > 23 || mm > 59 || ss > 59 || hh < 0 || mm < 0 || ss < 0))
        return call_fail(c, GJ_R_FIELD_INVALID, "time_of_day is HH:MM:SS");
    if (req->business_date == 0) {
        atomic_store(&c->n->clock_offset_ms, 0);
        atomic_store(&c->n->clock_overridden, false);
        gj_log(GJ_LOG_WARN, "clock", "business clock back to the system clock by %s", c->env->caller_id);
    } else {
        /* From this instant the business clock runs on at the system clock's pace. */
        int64_t target = gj_cst_unix_ms_of(req->business_date, hh * 3600 + mm * 60 + ss);
        atomic_store(&c->n->clock_offset_ms, target - gj_now_unix_ms());
        atomic_store(&c->n->clock_overridden, true);
        gj_log(GJ_LOG_WARN, "clock", "business clock set to %d %02d:%02d:%02d by %s (testing only)",
               req->business_date, hh, mm, ss, c->env->caller_id);
    }
    return health_answer(c);
}

/* ---- after a restore (gongji-admin restore) ---- */

gj_reason ops_restored_gate(call *c)
{
    if (!atomic_load(&c->n->restored) || c->method->apply == NULL || c->method->natural_key ||
        c->method->apply == confirm_restore_apply)
        return GJ_R_NONE;
    return call_fail(c, GJ_R_STORE_RESTORED, "region %s's node was restored from a backup: reconcile with every "
                                             "peer, then an operator runs gongji confirm-restore",
                     c->n->cfg.region);
}

/* The flag goes down only once the mark's removal is on disk. */
static void confirm_restore_slow(call *c)
{
    if (call_write_wait(c, c->method->apply) == GJ_OK && c->reason == GJ_R_NONE) {
        atomic_store(&c->n->restored, false);
        gj_log(GJ_LOG_WARN, "restore", "confirmed by %s: the node moves money again", c->env->caller_id);
    }
    call_finish(c);
}

gj_reason confirm_restore_check(call *c)
{
    Gongji__V1__ConfirmRestoreRequest *req = (Gongji__V1__ConfirmRestoreRequest *)c->request;
    if (!ops_is_role(c, GONGJI__V1__ROLE__OPERATOR))
        return ops_deny(c, "only the region's operator");
    if (strlen(req->note) > GJ_MEMO_MAX)
        return call_fail(c, GJ_R_FIELD_INVALID, "note is at most %d bytes", GJ_MEMO_MAX);
    c->slow = confirm_restore_slow;
    return GJ_R_NONE;
}

gj_reason confirm_restore_apply(call *c, store_txn *txn)
{
    store_restored r;
    Gongji__V1__ConfirmRestoreReply *ans = call_alloc(c, sizeof *ans);
    if (ans == NULL)
        return ops_out_of_memory(c);
    gongji__v1__confirm_restore_reply__init(ans);
    gj_err err = store_restored_get(txn, &r);
    if (err == GJ_OK) {
        ans->was_restored = true;
        ans->restored_unix_ms = r.restored_unix_ms;
        ans->journal_seq = r.journal_seq;
        ans->backup_time = call_strdup(c, r.backup_time);
        if (ans->backup_time == NULL)
            return ops_out_of_memory(c);
        if ((err = store_restored_clear(txn)) != GJ_OK)
            return ops_store_reason(c, err);
    } else if (err != GJ_ERR_NOTFOUND) {
        return ops_store_reason(c, err);
    }
    c->answer = &ans->base;
    return GJ_R_NONE;
}
