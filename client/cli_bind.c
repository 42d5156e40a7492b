/* gongji commands about bindings: bind, unbind, order (the deduction order) and
 * bindings (a person's bindings and order). */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli_internal.h"
#include "gj_names.h"
#include "gj_util.h"

static cJSON *j_binding(const Gongji__V1__Binding *b)
{
    char buf[40];
    if (b == NULL)
        return NULL;
    cJSON *o = cJSON_CreateObject();
    j_text(o, "sponsor_psn_no", b->sponsor_psn_no);
    j_text(o, "beneficiary_psn_no", b->beneficiary_psn_no);
    cJSON_AddStringToObject(o, "relation", cli_relation_text((int)b->relation, buf));
    j_date(o, "begin_date", b->begin_date);
    j_date(o, "end_date", b->end_date);
    j_text(o, "sponsor_admdvs", b->sponsor_admdvs);
    j_text(o, "beneficiary_admdvs", b->beneficiary_admdvs);
    cJSON_AddBoolToObject(o, "active", b->active);
    if (b->inactive_reason != NULL && b->inactive_reason[0] != '\0')
        j_text(o, "inactive_reason", b->inactive_reason);
    if (b->verified_by != NULL && b->verified_by[0] != '\0') {
        j_text(o, "verified_by", b->verified_by);
        char t[16];
        j_text(o, "verified_time", cli_time_text(b->verified_unix_ms, t));
    }
    return o;
}

cJSON *j_bindings(Gongji__V1__Binding **v, size_t n)
{
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; a != NULL && i < n; i++) {
        cJSON *b = j_binding(v[i]);
        cJSON_AddItemToArray(a, b != NULL ? b : cJSON_CreateNull());
    }
    return a;
}

static void h_binding(const Gongji__V1__Binding *b)
{
    char buf[40];
    if (b == NULL) {
        puts("(no binding in the answer)");
        return;
    }
    h_text("sponsor_psn_no", b->sponsor_psn_no);
    h_text("beneficiary_psn_no", b->beneficiary_psn_no);
    h_text("relation", cli_relation_text((int)b->relation, buf));
    h_text("sponsor_admdvs", b->sponsor_admdvs);
    h_text("beneficiary_admdvs", b->beneficiary_admdvs);
    h_date("begin_date", b->begin_date);
    if (b->end_date == 0)
        h_text("end_date", "- (open)");
    else
        h_date("end_date", b->end_date);
    if (b->inactive_reason != NULL && b->inactive_reason[0] != '\0')
        h_text("active", b->inactive_reason);
    else
        h_bool("active", b->active);
    if (b->verified_by != NULL && b->verified_by[0] != '\0') {
        char t[16];
        h_text("verified_by", b->verified_by);
        h_text("verified_time", cli_time_text(b->verified_unix_ms, t));
    }
}

void h_bindings_table(const char *title, Gongji__V1__Binding **v, size_t n)
{
    printf("%s (%zu)\n", title, n);
    if (n == 0)
        return;
    cli_table t = {.cols = 8,
                   .head = {"sponsor_psn_no", "beneficiary_psn_no", "relation", "sponsor_admdvs",
                            "beneficiary_admdvs", "begin_date", "end_date", "active"}};
    for (size_t i = 0; i < n; i++) {
        const Gongji__V1__Binding *b = v[i];
        if (b == NULL)
            continue;
        char rel[40], d1[16], d2[16];
        const char *row[8] = {b->sponsor_psn_no,    b->beneficiary_psn_no,
                              cli_relation_text((int)b->relation, rel), b->sponsor_admdvs,
                              b->beneficiary_admdvs, cli_date_text(b->begin_date, d1),
                              cli_date_text(b->end_date, d2),
                              b->active ? "yes" : b->inactive_reason && b->inactive_reason[0] ? b->inactive_reason : "no"};
        table_add(&t, row);
    }
    table_print(&t, "  ");
    table_free(&t);
}

static int cli_binding_out(cli_ctx *x, const Gongji__V1__Binding *b)
{
    if (x->json) {
        cJSON *o = cJSON_CreateObject();
        j_add(o, "binding", j_binding(b));
        return j_emit(o);
    }
    h_binding(b);
    return CLI_EXIT_OK;
}

int run_bind(cli_ctx *x)
{
    if (x->val[O_FILE] != NULL) {
        if (x->val[O_SPONSOR] != NULL || x->val[O_BENEFICIARY] != NULL || x->val[O_RELATION] != NULL)
            return cli_usage(x, "--file binds the file's rows: leave out --sponsor, --beneficiary and --relation");
        return cli_bind_file(x);
    }
    if (x->val[O_SPONSOR] == NULL || x->val[O_BENEFICIARY] == NULL || x->val[O_RELATION] == NULL)
        return cli_usage(x, "missing --sponsor, --beneficiary and --relation (or --file)");
    int rel = gj_relation_parse(x->val[O_RELATION]);
    if (rel <= 0) {
        char *t = cli_clean(x->val[O_RELATION], false);
        fprintf(stderr, "gongji: unknown relation '%s'; one of:\n  ", t ? t : "?");
        free(t);
        cli_list_names(stderr, gj_relation_name, GJ_REL_MAX, 2, 2);
        fputc('\n', stderr);
        return cli_usage(x, "bad --relation");
    }
    Gongji__V1__BindRequest req = GONGJI__V1__BIND_REQUEST__INIT;
    req.sponsor_psn_no = x->val[O_SPONSOR];
    req.beneficiary_psn_no = x->val[O_BENEFICIARY];
    req.relation = (Gongji__V1__Relation)rel;
    req.sponsor_admdvs = x->val[O_SPONSOR_REGION] != NULL ? x->val[O_SPONSOR_REGION] : "";
    req.beneficiary_admdvs =
        x->val[O_BENEFICIARY_REGION] != NULL ? x->val[O_BENEFICIARY_REGION] : "";
    if (x->val[O_UNTIL] != NULL) {
        int rc = cli_need_date(x, O_UNTIL, &req.last_date);
        if (rc != CLI_EXIT_OK)
            return rc;
    }
    /* R18: the caller attests it checked the beneficiary's identity just now. */
    Gongji__V1__Verification verification = GONGJI__V1__VERIFICATION__INIT;
    if (x->val[O_VERIFIED] != NULL) {
        verification.method = x->val[O_VERIFIED];
        verification.verified_unix_ms = gj_now_unix_ms();
        req.verification = &verification;
    }
    ProtobufCMessage *m;
    int rc = cli_call(x, x->call_id, &req.base, &gongji__v1__bind_reply__descriptor, &m);
    if (rc != CLI_EXIT_OK)
        return rc;
    rc = cli_binding_out(x, ((const Gongji__V1__BindReply *)m)->binding);
    protobuf_c_message_free_unpacked(m, NULL);
    return rc;
}

int run_unbind(cli_ctx *x)
{
    Gongji__V1__UnbindRequest req = GONGJI__V1__UNBIND_REQUEST__INIT;
    req.sponsor_psn_no = x->val[O_SPONSOR];
    req.beneficiary_psn_no = x->val[O_BENEFICIARY];
    req.sponsor_admdvs = x->val[O_SPONSOR_REGION] != NULL ? x->val[O_SPONSOR_REGION] : "";
    ProtobufCMessage *m;
    int rc = cli_call(x, x->call_id, &req.base, &gongji__v1__unbind_reply__descriptor, &m);
    if (rc != CLI_EXIT_OK)
        return rc;
    rc = cli_binding_out(x, ((const Gongji__V1__UnbindReply *)m)->binding);
    protobuf_c_message_free_unpacked(m, NULL);
    return rc;
}

int run_order(cli_ctx *x)
{
    char *list, **names;
    size_t n;
    int rc0 = cli_split(x, O_SPONSORS, "name", &list, &names, &n);
    if (rc0 != CLI_EXIT_OK)
        return rc0;

    Gongji__V1__SetOrderRequest req = GONGJI__V1__SET_ORDER_REQUEST__INIT;
    req.beneficiary_psn_no = x->val[O_BENEFICIARY];
    req.n_sponsor_psn_no = n;
    req.sponsor_psn_no = names;
    ProtobufCMessage *m;
    int rc = cli_call(x, x->call_id, &req.base, &gongji__v1__set_order_reply__descriptor, &m);
    free(names);
    free(list);
    if (rc != CLI_EXIT_OK)
        return rc;
    const Gongji__V1__SetOrderReply *r = (const Gongji__V1__SetOrderReply *)m;
    if (x->json) {
        cJSON *o = cJSON_CreateObject();
        j_add(o, "sponsor_psn_no", j_strings(r->sponsor_psn_no, r->n_sponsor_psn_no));
        rc = j_emit(o);
    } else {
        puts("deduction order");
        for (size_t i = 0; i < r->n_sponsor_psn_no; i++) {
            char *t = cli_clean(r->sponsor_psn_no[i], false);
            printf("  %2zu  %s\n", i + 1, t ? t : "?");
            free(t);
        }
    }
    protobuf_c_message_free_unpacked(m, NULL);
    return rc;
}

int run_bindings(cli_ctx *x)
{
    Gongji__V1__ListBindingsRequest req = GONGJI__V1__LIST_BINDINGS_REQUEST__INIT;
    req.psn_no = x->val[O_PSN_NO];
    ProtobufCMessage *m;
    int rc =
        cli_call(x, x->call_id, &req.base, &gongji__v1__list_bindings_reply__descriptor, &m);
    if (rc != CLI_EXIT_OK)
        return rc;
    const Gongji__V1__ListBindingsReply *r = (const Gongji__V1__ListBindingsReply *)m;
    if (x->json) {
        cJSON *o = cJSON_CreateObject();
        j_add(o, "as_sponsor", j_bindings(r->as_sponsor, r->n_as_sponsor));
        j_add(o, "as_beneficiary", j_bindings(r->as_beneficiary, r->n_as_beneficiary));
        j_add(o, "deduction_order", j_strings(r->deduction_order, r->n_deduction_order));
        rc = j_emit(o);
    } else {
        h_bindings_table("as_sponsor", r->as_sponsor, r->n_as_sponsor);
        h_bindings_table("as_beneficiary", r->as_beneficiary, r->n_as_beneficiary);
        printf("deduction_order (%zu)\n", r->n_deduction_order);
        for (size_t i = 0; i < r->n_deduction_order; i++) {
            char *t = cli_clean(r->deduction_order[i], false);
            printf("  %2zu  %s\n", i + 1, t ? t : "?");
            free(t);
        }
    }
    protobuf_c_message_free_unpacked(m, NULL);
    return rc;
}
