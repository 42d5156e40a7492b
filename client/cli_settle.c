/* gongji commands that pay and undo payments: settle, revoke, reverse and premium. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli_internal.h"
#include "gj_names.h"
#include "gj_util.h"

static cJSON *j_revoke(const Gongji__V1__RevokeReply *r)
{
    if (r == NULL)
        return NULL;
    cJSON *o = cJSON_CreateObject();
    j_text(o, "setl_id", r->setl_id);
    j_amount(o, "amount", r->amount);
    j_amount(o, "acct_refund", r->acct_refund);
    j_add(o, "refunds", j_parts(r->refunds, r->n_refunds));
    j_date(o, "revoke_date", r->revoke_date);
    return o;
}

static void h_revoke(const Gongji__V1__RevokeReply *r)
{
    if (r == NULL) {
        puts("(no revoke details in the answer)");
        return;
    }
    h_text("setl_id", r->setl_id);
    h_date("revoke_date", r->revoke_date);
    h_amount("amount", r->amount);
    h_amount("acct_refund", r->acct_refund);
    h_parts("  to sponsor", r->refunds, r->n_refunds);
}

int run_settle(cli_ctx *x)
{
    Gongji__V1__SettleRequest req = GONGJI__V1__SETTLE_REQUEST__INIT;
    int rc = cli_need_amount(x, &req.amount);
    if (rc != CLI_EXIT_OK)
        return rc;
    int use = GONGJI__V1__USE_TYPE__OUTPATIENT;
    if (x->val[O_USE] != NULL) {
        use = gj_use_parse(x->val[O_USE]);
        if (use <= 0) {
            char *t = cli_clean(x->val[O_USE], false);
            fprintf(stderr, "gongji: unknown use '%s'; one of:\n  ", t ? t : "?");
            free(t);
            cli_list_names(stderr, gj_use_name, GJ_USE_MAX, 2, 2);
            fputc('\n', stderr);
            return cli_usage(x, "bad --use");
        }
    }
    req.psn_no = x->val[O_PSN_NO];
    req.use = (Gongji__V1__UseType)use;
    req.fixmedins_code = x->val[O_INSTITUTION] != NULL ? x->val[O_INSTITUTION] : "";
    req.insuplc_admdvs = x->val[O_INSUPLC_ADMDVS] != NULL ? x->val[O_INSUPLC_ADMDVS] : "";
    req.accounts_not_used = x->seen[O_NO_ACCOUNT];
    req.sponsor_psn_no = x->val[O_SPONSOR] != NULL ? x->val[O_SPONSOR] : "";
    ProtobufCMessage *m;
    rc = cli_call(x, x->call_id, &req.base, &gongji__v1__settle_reply__descriptor, &m);
    if (rc != CLI_EXIT_OK)
        return rc;
    const Gongji__V1__SettleReply *r = (const Gongji__V1__SettleReply *)m;
    if (x->json) {
        cJSON *o = cJSON_CreateObject();
        j_text(o, "setl_id", r->setl_id);
        j_amount(o, "amount", r->amount);
        j_amount(o, "acct_pay", r->acct_pay);
        j_add(o, "parts", j_parts(r->parts, r->n_parts));
        j_amount(o, "acct_mulaid_pay", r->acct_mulaid_pay);
        j_amount(o, "psn_cash_pay", r->psn_cash_pay);
        j_date(o, "setl_date", r->setl_date);
        rc = j_emit(o);
    } else {
        h_text("setl_id", r->setl_id);
        h_date("setl_date", r->setl_date);
        h_amount("amount", r->amount);
        h_amount("acct_pay", r->acct_pay);
        h_parts("  from sponsor", r->parts, r->n_parts);
        h_amount("acct_mulaid_pay", r->acct_mulaid_pay);
        h_amount("psn_cash_pay", r->psn_cash_pay);
    }
    protobuf_c_message_free_unpacked(m, NULL);
    return rc;
}

/* Revoke and recover both answer what went back (RevokeReply). */
static int call_for_refunds(cli_ctx *x, ProtobufCMessage *req)
{
    ProtobufCMessage *m;
    int rc = cli_call(x, x->call_id, req, &gongji__v1__revoke_reply__descriptor, &m);
    if (rc != CLI_EXIT_OK)
        return rc;
    const Gongji__V1__RevokeReply *r = (const Gongji__V1__RevokeReply *)m;
    if (x->json)
        rc = j_emit(j_revoke(r));
    else
        h_revoke(r);
    protobuf_c_message_free_unpacked(m, NULL);
    return rc;
}

int run_revoke(cli_ctx *x)
{
    Gongji__V1__RevokeRequest req = GONGJI__V1__REVOKE_REQUEST__INIT;
    req.setl_id = x->val[O_SETL_ID];
    return call_for_refunds(x, &req.base);
}

int run_recover(cli_ctx *x)
{
    Gongji__V1__RecoverRequest req = GONGJI__V1__RECOVER_REQUEST__INIT;
    req.setl_id = x->val[O_SETL_ID];
    req.reason = x->val[O_REASON];
    return call_for_refunds(x, &req.base);
}

int run_reverse(cli_ctx *x)
{
    Gongji__V1__ReverseRequest req = GONGJI__V1__REVERSE_REQUEST__INIT;
    req.original_call_id = x->val[O_ORIGINAL_CALL_ID];
    req.insuplc_admdvs = x->val[O_INSUPLC_ADMDVS] != NULL ? x->val[O_INSUPLC_ADMDVS] : "";
    ProtobufCMessage *m;
    int rc = cli_call(x, x->call_id, &req.base, &gongji__v1__reverse_reply__descriptor, &m);
    if (rc != CLI_EXIT_OK)
        return rc;
    const Gongji__V1__ReverseReply *r = (const Gongji__V1__ReverseReply *)m;
    switch (r->outcome) {
    case GONGJI__V1__REVERSE_OUTCOME__REVOKED:
    case GONGJI__V1__REVERSE_OUTCOME__ABORTED_IN_FLIGHT:
    case GONGJI__V1__REVERSE_OUTCOME__TOMBSTONED:
        break;
    default: {
        /* An answer that does not say what happened is no success: the operator must
         * not take the original call as undone. */
        client_status st = {.code = GONGJI__V1__CODE__INTERNAL};
        gj_strcpy_fit(st.reason, sizeof st.reason, "BAD_ANSWER");
        snprintf(st.message, sizeof st.message,
                 "the node answered with no known outcome (%d); do not take the original "
                 "call as undone",
                 (int)r->outcome);
        cli_report(x, &st);
        protobuf_c_message_free_unpacked(m, NULL);
        return CLI_EXIT_NODE;
    }
    }
    char buf[40];
    const char *outcome =
        cli_enum_text(&gongji__v1__reverse_outcome__descriptor, (int)r->outcome, buf);
    bool revoked = r->outcome == GONGJI__V1__REVERSE_OUTCOME__REVOKED;
    if (x->json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "outcome", outcome);
        if (revoked)
            j_add(o, "revoke", j_revoke(r->revoke));
        else
            cJSON_AddNullToObject(o, "revoke");
        rc = j_emit(o);
    } else {
        h_text("outcome", outcome);
        if (revoked)
            h_revoke(r->revoke);
    }
    protobuf_c_message_free_unpacked(m, NULL);
    return rc;
}

int run_premium(cli_ctx *x)
{
    Gongji__V1__PayPremiumRequest req = GONGJI__V1__PAY_PREMIUM_REQUEST__INIT;
    int rc = cli_need_amount(x, &req.amount);
    if (rc != CLI_EXIT_OK)
        return rc;
    if (x->val[O_YEAR] != NULL) {
        uint64_t y;
        if (strlen(x->val[O_YEAR]) != 4 || !cli_parse_u64(x->val[O_YEAR], 9999, &y) || y == 0) {
            char *t = cli_clean(x->val[O_YEAR], false);
            rc = cli_usage(x, "bad year '%s' for --year: give four digits, e.g. 2027",
                           t ? t : "?");
            free(t);
            return rc;
        }
        req.year = (int32_t)y;
    }
    req.sponsor_psn_no = x->val[O_SPONSOR];
    req.sponsor_admdvs = x->val[O_SPONSOR_REGION] != NULL ? x->val[O_SPONSOR_REGION] : "";
    req.beneficiary_psn_no = x->val[O_BENEFICIARY];
    req.insuplc_admdvs = x->val[O_INSUPLC_ADMDVS] != NULL ? x->val[O_INSUPLC_ADMDVS] : "";
    ProtobufCMessage *m;
    rc = cli_call(x, x->call_id, &req.base, &gongji__v1__pay_premium_reply__descriptor, &m);
    if (rc != CLI_EXIT_OK)
        return rc;
    const Gongji__V1__PayPremiumReply *r = (const Gongji__V1__PayPremiumReply *)m;
    if (x->json) {
        cJSON *o = cJSON_CreateObject();
        j_text(o, "setl_id", r->setl_id);
        j_amount(o, "amount", r->amount);
        j_text(o, "sponsor_psn_no", r->sponsor_psn_no);
        j_text(o, "sponsor_admdvs", r->sponsor_admdvs);
        rc = j_emit(o);
    } else {
        h_text("setl_id", r->setl_id);
        h_amount("amount", r->amount);
        h_text("sponsor_psn_no", r->sponsor_psn_no);
        h_text("sponsor_admdvs", r->sponsor_admdvs);
    }
    protobuf_c_message_free_unpacked(m, NULL);
    return rc;
}
