/* gongji's operator commands: health and set-date (clearing is in cli_clearing.c). */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cjson/cJSON.h>

#include "cli_internal.h"
#include "gj_util.h"

static void h_health(const Gongji__V1__HealthReply *h)
{
    h_text("region", h->region);
    h_text("version", h->version);
    h_bool("live", h->live);
    h_date("business_date", h->business_date);
    h_bool("clock_overridden", h->clock_overridden);
    printf(H_LABEL "%lld\n", "uptime_s", (long long)h->uptime_s);
    h_u64("persons", h->persons);
    h_u64("bindings", h->bindings);
    h_u64("journal_entries", h->journal_entries);
    h_u64("requests_served", h->requests_served);
    h_u64("in_flight", h->in_flight);
    h_u64("open_holds", h->open_holds);
    h_u64("open_decisions", h->open_decisions);
    h_u64("peers", h->peers);
    h_u64("store_commits", h->store_commits);
    h_u64("store_requests", h->store_requests);
    h_u64("store_apply_us", h->store_apply_us);
    h_u64("store_commit_us", h->store_commit_us);
    h_u64("peer_calls", h->peer_coalescable_calls);
    h_u64("peer_messages", h->peer_coalescable_messages);
    h_u64("settlements_unknown", h->settlements_unknown);
    printf("%-19s %s\n", "trust",
           h->callers_proven ? "TLS, every caller proven"
                             : "INSECURE: insecure_plaintext, callers taken at their word");
    h_u64("sessions", h->sessions);
    if (h->restored)
        printf("%-19s %s\n", "restored", "yes: no money moves until reconciled and confirmed (confirm-restore)");
}

static int j_health(const Gongji__V1__HealthReply *h)
{
    cJSON *o = cJSON_CreateObject();
    j_text(o, "region", h->region);
    j_text(o, "version", h->version);
    j_i64(o, "uptime_s", h->uptime_s);
    j_date(o, "business_date", h->business_date);
    cJSON_AddBoolToObject(o, "clock_overridden", h->clock_overridden);
    j_u64(o, "persons", h->persons);
    j_u64(o, "bindings", h->bindings);
    j_u64(o, "journal_entries", h->journal_entries);
    j_u64(o, "requests_served", h->requests_served);
    j_u64(o, "in_flight", h->in_flight);
    cJSON_AddBoolToObject(o, "live", h->live);
    j_u64(o, "open_holds", h->open_holds);
    j_u64(o, "open_decisions", h->open_decisions);
    j_u64(o, "peers", h->peers);
    j_u64(o, "store_commits", h->store_commits);
    j_u64(o, "store_requests", h->store_requests);
    j_u64(o, "store_apply_us", h->store_apply_us);
    j_u64(o, "store_commit_us", h->store_commit_us);
    j_u64(o, "peer_calls", h->peer_coalescable_calls);
    j_u64(o, "peer_messages", h->peer_coalescable_messages);
    j_u64(o, "settlements_unknown", h->settlements_unknown);
    cJSON_AddBoolToObject(o, "callers_proven", h->callers_proven);
    j_u64(o, "sessions", h->sessions);
    cJSON_AddBoolToObject(o, "restored", h->restored);
    return j_emit(o);
}

static int cli_health_out(cli_ctx *x, ProtobufCMessage *m)
{
    const Gongji__V1__HealthReply *h = (const Gongji__V1__HealthReply *)m;
    int rc = CLI_EXIT_OK;
    if (x->json)
        rc = j_health(h);
    else
        h_health(h);
    protobuf_c_message_free_unpacked(m, NULL);
    return rc;
}

int run_health(cli_ctx *x)
{
    Gongji__V1__HealthRequest req = GONGJI__V1__HEALTH_REQUEST__INIT;
    ProtobufCMessage *m;
    int rc = cli_call(x, x->call_id, &req.base, &gongji__v1__health_reply__descriptor, &m);
    return rc != CLI_EXIT_OK ? rc : cli_health_out(x, m);
}

int run_set_date(cli_ctx *x)
{
    Gongji__V1__SetClockRequest req = GONGJI__V1__SET_CLOCK_REQUEST__INIT;
    bool real = x->seen[O_REAL];
    if (real == (x->val[O_DATE] != NULL) || (real && x->val[O_TIME] != NULL))
        return cli_usage(x, "give --date (and --time), or --real");
    int rc = real ? CLI_EXIT_OK : cli_need_date(x, O_DATE, &req.business_date);
    if (rc != CLI_EXIT_OK)
        return rc;
    req.time_of_day = x->val[O_TIME] != NULL ? x->val[O_TIME] : "";
    ProtobufCMessage *m;
    rc = cli_call(x, x->call_id, &req.base, &gongji__v1__health_reply__descriptor, &m);
    return rc != CLI_EXIT_OK ? rc : cli_health_out(x, m);
}

int run_freeze(cli_ctx *x)
{
    Gongji__V1__FreezeRequest req = GONGJI__V1__FREEZE_REQUEST__INIT;
    const char *sponsor = x->val[O_SPONSOR], *beneficiary = x->val[O_BENEFICIARY];
    if (sponsor == NULL && beneficiary == NULL)
        return cli_usage(x, "give --sponsor, --beneficiary, or both for one binding");
    if (!x->seen[O_LIFT] && x->val[O_REASON] == NULL)
        return cli_usage(x, "a freeze needs --reason");
    req.target = sponsor != NULL && beneficiary != NULL ? GONGJI__V1__FREEZE_TARGET__FREEZE_TARGET_BINDING
                 : sponsor != NULL                     ? GONGJI__V1__FREEZE_TARGET__FREEZE_TARGET_SPONSOR
                                                       : GONGJI__V1__FREEZE_TARGET__FREEZE_TARGET_BENEFICIARY;
    req.psn_no = (char *)(sponsor != NULL ? sponsor : beneficiary);
    req.beneficiary_psn_no = (char *)(sponsor != NULL && beneficiary != NULL ? beneficiary : "");
    req.reason = x->val[O_REASON] != NULL ? x->val[O_REASON] : "";
    req.lift = x->seen[O_LIFT];
    ProtobufCMessage *m;
    int rc = cli_call(x, x->call_id, &req.base, &gongji__v1__freeze_reply__descriptor, &m);
    if (rc != CLI_EXIT_OK)
        return rc;
    const Gongji__V1__FreezeReply *r = (const Gongji__V1__FreezeReply *)m;
    char when[16];
    if (x->json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddBoolToObject(o, "frozen", r->frozen);
        j_text(o, "by", r->frozen_by);
        j_text(o, "reason", r->reason);
        j_text(o, "since", cli_time_text(r->since_unix_ms, when));
        rc = j_emit(o);
    } else {
        h_text("frozen", r->frozen ? "yes" : "no (lifted)");
        h_text("by", r->frozen_by);
        h_text("reason", r->reason);
        h_text("since", cli_time_text(r->since_unix_ms, when));
    }
    protobuf_c_message_free_unpacked(m, NULL);
    return rc;
}

int run_move(cli_ctx *x)
{
    Gongji__V1__MoveRequest req = GONGJI__V1__MOVE_REQUEST__INIT;
    req.psn_no = x->val[O_PSN_NO];
    req.to_admdvs = x->val[O_TO_REGION];
    ProtobufCMessage *m;
    int rc = cli_call(x, x->call_id, &req.base, &gongji__v1__move_reply__descriptor, &m);
    if (rc != CLI_EXIT_OK)
        return rc;
    const Gongji__V1__MoveReply *r = (const Gongji__V1__MoveReply *)m;
    char yuan[32], n[16];
    snprintf(n, sizeof n, "%u", r->bindings_ended);
    if (x->json) {
        cJSON *o = cJSON_CreateObject();
        j_text(o, "psn_no", r->psn_no);
        j_text(o, "to_admdvs", r->to_admdvs);
        cJSON_AddNumberToObject(o, "bindings_ended", r->bindings_ended);
        j_amount(o, "balance", r->balance);
        rc = j_emit(o);
    } else {
        h_text("psn_no", r->psn_no);
        h_text("to_admdvs", r->to_admdvs);
        h_text("bindings_ended", n);
        h_text("balance", gj_yuan_format(r->balance, yuan));
    }
    protobuf_c_message_free_unpacked(m, NULL);
    return rc;
}

int run_move_in(cli_ctx *x)
{
    Gongji__V1__MoveInRequest req = GONGJI__V1__MOVE_IN_REQUEST__INIT;
    req.psn_no = x->val[O_PSN_NO];
    req.from_admdvs = x->val[O_FROM_REGION];
    ProtobufCMessage *m;
    int rc = cli_call(x, x->call_id, &req.base, &gongji__v1__move_in_reply__descriptor, &m);
    if (rc != CLI_EXIT_OK)
        return rc;
    const Gongji__V1__MoveInReply *r = (const Gongji__V1__MoveInReply *)m;
    char yuan[32];
    if (x->json) {
        cJSON *o = cJSON_CreateObject();
        j_text(o, "psn_no", r->person != NULL ? r->person->psn_no : "");
        j_text(o, "insuplc_admdvs", r->person != NULL ? r->person->insuplc_admdvs : "");
        j_text(o, "setl_id", r->setl_id);
        j_amount(o, "amount", r->amount);
        rc = j_emit(o);
    } else {
        h_text("psn_no", r->person != NULL ? r->person->psn_no : "");
        h_text("insuplc_admdvs", r->person != NULL ? r->person->insuplc_admdvs : "");
        h_text("setl_id", r->setl_id[0] ? r->setl_id : "- (nothing to take across)");
        h_text("amount", gj_yuan_format(r->amount, yuan));
    }
    protobuf_c_message_free_unpacked(m, NULL);
    return rc;
}

int run_confirm_restore(cli_ctx *x)
{
    Gongji__V1__ConfirmRestoreRequest req = GONGJI__V1__CONFIRM_RESTORE_REQUEST__INIT;
    req.note = x->val[O_MEMO] != NULL ? x->val[O_MEMO] : "";
    ProtobufCMessage *m;
    int rc = cli_call(x, x->call_id, &req.base, &gongji__v1__confirm_restore_reply__descriptor, &m);
    if (rc != CLI_EXIT_OK)
        return rc;
    const Gongji__V1__ConfirmRestoreReply *r = (const Gongji__V1__ConfirmRestoreReply *)m;
    char when[16];
    if (x->json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddBoolToObject(o, "was_restored", r->was_restored);
        j_text(o, "backup_time", r->backup_time);
        j_u64(o, "journal_seq", r->journal_seq);
        rc = j_emit(o);
    } else if (r->was_restored) {
        h_text("confirmed", "the node moves money again");
        h_text("backup_time", r->backup_time);
        h_u64("journal_seq", r->journal_seq);
        h_text("restored_at", cli_time_text(r->restored_unix_ms, when));
    } else {
        h_text("confirmed", "nothing to confirm: the node was not restored");
    }
    protobuf_c_message_free_unpacked(m, NULL);
    return rc;
}
