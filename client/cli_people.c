/* gongji commands about one person: enroll, credit and balance. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli_internal.h"

static cJSON *j_person(const Gongji__V1__Person *p)
{
    char buf[40];
    if (p == NULL)
        return NULL;
    cJSON *o = cJSON_CreateObject();
    j_text(o, "psn_no", p->psn_no);
    j_text(o, "certno", p->certno);
    j_text(o, "psn_name", p->psn_name);
    j_text(o, "insutype", p->insutype);
    j_text(o, "insuplc_admdvs", p->insuplc_admdvs);
    cJSON_AddStringToObject(o, "status", cli_status_text((int)p->status, buf));
    return o;
}

static cJSON *j_balance(const Gongji__V1__AccountBalance *b)
{
    if (b == NULL)
        return NULL;
    cJSON *o = cJSON_CreateObject();
    j_text(o, "psn_no", b->psn_no);
    j_amount(o, "balance", b->balance);
    j_amount(o, "held", b->held);
    j_amount(o, "available", b->available);
    j_amount(o, "shareable", b->shareable);
    j_text(o, "insutype", b->insutype);
    j_text(o, "insuplc_admdvs", b->insuplc_admdvs);
    return o;
}

static void h_person(const Gongji__V1__Person *p)
{
    char buf[40];
    if (p == NULL)
        return;
    h_text("psn_no", p->psn_no);
    h_text("certno", p->certno);
    h_text("psn_name", p->psn_name);
    h_text("insutype", p->insutype);
    h_text("insuplc_admdvs", p->insuplc_admdvs);
    h_text("status", cli_status_text((int)p->status, buf));
}

static void h_balance(const Gongji__V1__AccountBalance *b)
{
    if (b == NULL) {
        puts("(no balance in the answer)");
        return;
    }
    h_text("psn_no", b->psn_no);
    h_text("insutype", b->insutype);
    h_text("insuplc_admdvs", b->insuplc_admdvs);
    h_amount("balance", b->balance);
    h_amount("held", b->held);
    h_amount("available", b->available);
    h_amount("shareable", b->shareable);
}

int run_enroll(cli_ctx *x)
{
    int status = GONGJI__V1__PERSON_STATUS__ACTIVE;
    const char *s = x->val[O_STATUS];
    if (s != NULL) {
        if (strcmp(s, "active") == 0)
            status = GONGJI__V1__PERSON_STATUS__ACTIVE;
        else if (strcmp(s, "suspended") == 0)
            status = GONGJI__V1__PERSON_STATUS__SUSPENDED;
        else if (strcmp(s, "terminated") == 0)
            status = GONGJI__V1__PERSON_STATUS__TERMINATED;
        else
            return cli_usage(x, "bad --status: give active, suspended or terminated");
    }
    Gongji__V1__Person p = GONGJI__V1__PERSON__INIT;
    p.psn_no = x->val[O_PSN_NO];
    p.certno = x->val[O_CERTNO];
    p.psn_name = x->val[O_NAME] != NULL ? x->val[O_NAME] : "";
    p.insutype = x->val[O_INSUTYPE];
    p.insuplc_admdvs = x->val[O_REGION_CODE];
    p.status = (Gongji__V1__PersonStatus)status;
    Gongji__V1__EnrollRequest req = GONGJI__V1__ENROLL_REQUEST__INIT;
    req.person = &p;

    ProtobufCMessage *m;
    int rc = cli_call(x, x->call_id, &req.base, &gongji__v1__enroll_reply__descriptor, &m);
    if (rc != CLI_EXIT_OK)
        return rc;
    const Gongji__V1__EnrollReply *r = (const Gongji__V1__EnrollReply *)m;
    if (x->json) {
        cJSON *o = cJSON_CreateObject();
        j_add(o, "person", j_person(r->person));
        cJSON_AddBoolToObject(o, "created", r->created);
        j_u64(o, "bindings_ended", r->bindings_ended);
        rc = j_emit(o);
    } else {
        h_person(r->person);
        h_bool("created", r->created);
        h_u64("bindings_ended", r->bindings_ended);
    }
    protobuf_c_message_free_unpacked(m, NULL);
    return rc;
}

/* Credit and Balance both answer one AccountBalance. */
static int cli_balance_out(cli_ctx *x, const Gongji__V1__AccountBalance *b)
{
    if (x->json) {
        cJSON *o = cJSON_CreateObject();
        j_add(o, "balance", j_balance(b));
        return j_emit(o);
    }
    h_balance(b);
    return CLI_EXIT_OK;
}

int run_credit(cli_ctx *x)
{
    if (x->val[O_FILE] != NULL) {
        if (x->val[O_PSN_NO] != NULL || x->val[O_AMOUNT] != NULL)
            return cli_usage(x, "--file credits the file's rows: leave out --psn-no and --amount");
        return cli_credit_file(x);
    }
    if (x->val[O_PSN_NO] == NULL || x->val[O_AMOUNT] == NULL)
        return cli_usage(x, "missing --psn-no and --amount (or --file)");
    if (x->val[O_BATCH] != NULL || x->seen[O_DRY_RUN] || x->val[O_ENCODING] != NULL || x->seen[O_IGNORE_UNKNOWN])
        return cli_usage(x, "--batch, --dry-run, --encoding and --ignore-unknown-columns go with --file");
    Gongji__V1__CreditRequest req = GONGJI__V1__CREDIT_REQUEST__INIT;
    int rc = cli_need_amount(x, &req.amount);
    if (rc != CLI_EXIT_OK)
        return rc;
    req.psn_no = x->val[O_PSN_NO];
    req.memo = x->val[O_MEMO] != NULL ? x->val[O_MEMO] : "";
    ProtobufCMessage *m;
    rc = cli_call(x, x->call_id, &req.base, &gongji__v1__credit_reply__descriptor, &m);
    if (rc != CLI_EXIT_OK)
        return rc;
    rc = cli_balance_out(x, ((const Gongji__V1__CreditReply *)m)->balance);
    protobuf_c_message_free_unpacked(m, NULL);
    return rc;
}

int run_balance(cli_ctx *x)
{
    Gongji__V1__BalanceRequest req = GONGJI__V1__BALANCE_REQUEST__INIT;
    req.psn_no = x->val[O_PSN_NO];
    ProtobufCMessage *m;
    int rc = cli_call(x, x->call_id, &req.base, &gongji__v1__balance_reply__descriptor, &m);
    if (rc != CLI_EXIT_OK)
        return rc;
    rc = cli_balance_out(x, ((const Gongji__V1__BalanceReply *)m)->balance);
    protobuf_c_message_free_unpacked(m, NULL);
    return rc;
}
