/* gongji commands about family pools (R20): pool-create, pool-contribute, pool-add,
 * pool-close and pool (show one). Each answers with the pool as it is now. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cjson/cJSON.h>

#include "cli_internal.h"
#include "gj_names.h"
#include "gj_util.h"

static int pool_out(cli_ctx *x, const Gongji__V1__Pool *p)
{
    char when[16];
    if (p == NULL) {
        fputs("gongji: the answer holds no pool\n", stderr);
        return CLI_EXIT_NODE;
    }
    if (x->json) {
        cJSON *o = cJSON_CreateObject(), *shares = cJSON_CreateArray();
        j_text(o, "pool_id", p->pool_id);
        j_text(o, "creator_psn_no", p->creator_psn_no);
        j_text(o, "admdvs", p->admdvs);
        cJSON_AddBoolToObject(o, "open", p->open);
        j_amount(o, "balance", p->balance);
        j_amount(o, "held", p->held);
        for (size_t i = 0; shares != NULL && i < p->n_shares; i++) {
            cJSON *s = cJSON_CreateObject();
            j_text(s, "psn_no", p->shares[i]->psn_no);
            j_amount(s, "contributed", p->shares[i]->contributed);
            j_amount(s, "remaining", p->shares[i]->remaining);
            cJSON_AddItemToArray(shares, s);
        }
        j_add(o, "shares", shares);
        j_add(o, "members", j_bindings(p->members, p->n_members));
        j_text(o, "created", cli_time_text(p->created_unix_ms, when));
        if (!p->open)
            j_text(o, "closed", cli_time_text(p->closed_unix_ms, when));
        return j_emit(o);
    }
    h_text("pool_id", p->pool_id);
    h_text("creator_psn_no", p->creator_psn_no);
    h_text("admdvs", p->admdvs);
    h_text("state", p->open ? "open" : "closed");
    h_amount("balance", p->balance);
    h_amount("held", p->held);
    printf("shares (%zu, drawn in this order)\n", p->n_shares);
    cli_table t = {.cols = 3, .head = {"psn_no", "contributed", "remaining"}, .right = {false, true, true}};
    for (size_t i = 0; i < p->n_shares; i++) {
        char c[32], r[32];
        const char *row[3] = {p->shares[i]->psn_no, gj_yuan_format(p->shares[i]->contributed, c),
                              gj_yuan_format(p->shares[i]->remaining, r)};
        table_add(&t, row);
    }
    table_print(&t, "  ");
    table_free(&t);
    h_bindings_table("members", p->members, p->n_members);
    return CLI_EXIT_OK;
}

static int call_pool(cli_ctx *x, const ProtobufCMessage *req)
{
    ProtobufCMessage *m;
    int rc = cli_call(x, x->call_id, req, &gongji__v1__pool_reply__descriptor, &m);
    if (rc != CLI_EXIT_OK)
        return rc;
    rc = pool_out(x, ((const Gongji__V1__PoolReply *)m)->pool);
    protobuf_c_message_free_unpacked(m, NULL);
    return rc;
}

int run_pool_create(cli_ctx *x)
{
    Gongji__V1__PoolCreateRequest req = GONGJI__V1__POOL_CREATE_REQUEST__INIT;
    req.creator_psn_no = x->val[O_PSN_NO];
    return call_pool(x, &req.base);
}

int run_pool_contribute(cli_ctx *x)
{
    Gongji__V1__PoolContributeRequest req = GONGJI__V1__POOL_CONTRIBUTE_REQUEST__INIT;
    req.pool_id = x->val[O_POOL];
    req.contributor_psn_no = x->val[O_PSN_NO];
    int rc = cli_need_amount(x, &req.amount);
    return rc != CLI_EXIT_OK ? rc : call_pool(x, &req.base);
}

int run_pool_add(cli_ctx *x)
{
    int rel = gj_relation_parse(x->val[O_RELATION]);
    if (rel <= 0)
        return cli_usage(x, "bad --relation (see gongji bind --help for the names)");
    Gongji__V1__PoolAddMemberRequest req = GONGJI__V1__POOL_ADD_MEMBER_REQUEST__INIT;
    req.pool_id = x->val[O_POOL];
    req.member_psn_no = x->val[O_PSN_NO];
    req.member_admdvs = x->val[O_MEMBER_REGION] != NULL ? x->val[O_MEMBER_REGION] : "";
    req.relation = (Gongji__V1__Relation)rel;
    Gongji__V1__Verification verification = GONGJI__V1__VERIFICATION__INIT;
    if (x->val[O_VERIFIED] != NULL) {
        verification.method = x->val[O_VERIFIED];
        verification.verified_unix_ms = gj_now_unix_ms();
        req.verification = &verification;
    }
    return call_pool(x, &req.base);
}

int run_pool_close(cli_ctx *x)
{
    Gongji__V1__PoolCloseRequest req = GONGJI__V1__POOL_CLOSE_REQUEST__INIT;
    req.pool_id = x->val[O_POOL];
    return call_pool(x, &req.base);
}

int run_pool_show(cli_ctx *x)
{
    Gongji__V1__PoolGetRequest req = GONGJI__V1__POOL_GET_REQUEST__INIT;
    if ((x->val[O_POOL] == NULL) == (x->val[O_PSN_NO] == NULL))
        return cli_usage(x, "give --pool, or --psn-no of the creator");
    req.pool_id = x->val[O_POOL] != NULL ? x->val[O_POOL] : "";
    req.creator_psn_no = x->val[O_PSN_NO] != NULL ? x->val[O_PSN_NO] : "";
    return call_pool(x, &req.base);
}
