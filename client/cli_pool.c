/* gongji commands about family pools (R20): pool-create, pool-contribute, pool-add,
 * pool-close and pool (show one), each answering with the pool as it is now; and about
 * cross-province wallets (R24): wallet-transfer, wallet-accept and wallet. */
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

/* ---- wallets (R24): wallet-transfer, wallet-accept, wallet ---- */

static const char *transfer_state(int s)
{
    switch (s) {
    case GONGJI__V1__WALLET_TRANSFER_STATE__PENDING:
        return "pending";
    case GONGJI__V1__WALLET_TRANSFER_STATE__ACCEPTED:
        return "accepted";
    case GONGJI__V1__WALLET_TRANSFER_STATE__RETURNED:
        return "returned";
    default:
        return "unknown";
    }
}

static cJSON *j_transfer(const Gongji__V1__WalletTransfer *t)
{
    char when[16];
    cJSON *o = cJSON_CreateObject();
    j_text(o, "setl_id", t->setl_id);
    j_text(o, "sponsor_psn_no", t->sponsor_psn_no);
    j_text(o, "sponsor_admdvs", t->sponsor_admdvs);
    j_amount(o, "amount", t->amount);
    j_text(o, "state", transfer_state(t->state));
    j_text(o, "deadline", cli_time_text(t->deadline_unix_ms, when));
    return o;
}

static int transfer_out(cli_ctx *x, const Gongji__V1__WalletTransferReply *r)
{
    char when[16];
    if (r->transfer == NULL) {
        fputs("gongji: the answer holds no transfer\n", stderr);
        return CLI_EXIT_NODE;
    }
    if (x->json) {
        cJSON *o = cJSON_CreateObject();
        j_text(o, "wallet_id", r->wallet_id);
        j_add(o, "transfer", j_transfer(r->transfer));
        return j_emit(o);
    }
    h_text("wallet_id", r->wallet_id);
    h_text("setl_id", r->transfer->setl_id);
    h_text("sponsor_psn_no", r->transfer->sponsor_psn_no);
    h_text("sponsor_admdvs", r->transfer->sponsor_admdvs);
    h_amount("amount", r->transfer->amount);
    h_text("state", transfer_state(r->transfer->state));
    h_text("goes back at", cli_time_text(r->transfer->deadline_unix_ms, when));
    return CLI_EXIT_OK;
}

static int call_transfer(cli_ctx *x, const ProtobufCMessage *req)
{
    ProtobufCMessage *m;
    int rc = cli_call(x, x->call_id, req, &gongji__v1__wallet_transfer_reply__descriptor, &m);
    if (rc != CLI_EXIT_OK)
        return rc;
    rc = transfer_out(x, (const Gongji__V1__WalletTransferReply *)m);
    protobuf_c_message_free_unpacked(m, NULL);
    return rc;
}

int run_wallet_transfer(cli_ctx *x)
{
    Gongji__V1__WalletTransferRequest req = GONGJI__V1__WALLET_TRANSFER_REQUEST__INIT;
    req.sponsor_psn_no = x->val[O_SPONSOR];
    req.sponsor_admdvs = x->val[O_SPONSOR_REGION];
    req.relative_psn_no = x->val[O_BENEFICIARY];
    req.relative_admdvs = x->val[O_BENEFICIARY_REGION];
    int rc = cli_need_amount(x, &req.amount);
    return rc != CLI_EXIT_OK ? rc : call_transfer(x, &req.base);
}

int run_wallet_accept(cli_ctx *x)
{
    Gongji__V1__WalletAcceptRequest req = GONGJI__V1__WALLET_ACCEPT_REQUEST__INIT;
    req.relative_psn_no = x->val[O_PSN_NO];
    req.setl_id = x->val[O_SETL_ID];
    return call_transfer(x, &req.base);
}

int run_wallet_show(cli_ctx *x)
{
    Gongji__V1__WalletGetRequest req = GONGJI__V1__WALLET_GET_REQUEST__INIT;
    req.relative_psn_no = x->val[O_PSN_NO];
    ProtobufCMessage *m;
    int rc = cli_call(x, x->call_id, &req.base, &gongji__v1__wallet_reply__descriptor, &m);
    if (rc != CLI_EXIT_OK)
        return rc;
    const Gongji__V1__WalletReply *w = (const Gongji__V1__WalletReply *)m;
    if (x->json) {
        cJSON *o = cJSON_CreateObject(), *a = cJSON_CreateArray();
        j_text(o, "wallet_id", w->wallet_id);
        j_amount(o, "balance", w->balance);
        j_amount(o, "pending", w->pending);
        for (size_t i = 0; a != NULL && i < w->n_transfers; i++)
            cJSON_AddItemToArray(a, j_transfer(w->transfers[i]));
        j_add(o, "pending_transfers", a);
        rc = j_emit(o);
    } else {
        h_text("wallet_id", w->wallet_id[0] ? w->wallet_id : "- (none yet)");
        h_amount("balance", w->balance);
        h_amount("pending", w->pending);
        h_amount("spendable", w->balance - w->pending);
        printf("pending transfers (%zu)\n", w->n_transfers);
        if (w->n_transfers == 0)
            goto done;
        cli_table t = {.cols = 5, .head = {"setl_id", "sponsor_psn_no", "sponsor_admdvs", "amount", "goes back at"},
                       .right = {false, false, false, true, false}};
        for (size_t i = 0; i < w->n_transfers; i++) {
            char y[32], when[16];
            const Gongji__V1__WalletTransfer *tr = w->transfers[i];
            const char *row[5] = {tr->setl_id, tr->sponsor_psn_no, tr->sponsor_admdvs, gj_yuan_format(tr->amount, y),
                                  cli_time_text(tr->deadline_unix_ms, when)};
            table_add(&t, row);
        }
        table_print(&t, "  ");
        table_free(&t);
    }
done:
    protobuf_c_message_free_unpacked(m, NULL);
    return rc;
}
