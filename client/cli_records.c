/* gongji's paged lists: records (what relatives spent from a sponsor's account) and
 * settlements (a patient's settlements and who paid what). One page per call, or with
 * --all every page, printed together as one table or one JSON object. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli_internal.h"
#include "gj_util.h"

/* records and settlements --all stop here so a node that never ends its pages cannot loop
 * us forever. */
#define CLI_PAGES_MAX 10000

static cJSON *j_record(const Gongji__V1__SpendRecord *r)
{
    char buf[40];
    if (r == NULL)
        return cJSON_CreateNull();
    cJSON *o = cJSON_CreateObject();
    j_text(o, "setl_id", r->setl_id);
    j_text(o, "sponsor_psn_no", r->sponsor_psn_no);
    j_text(o, "beneficiary_psn_no", r->beneficiary_psn_no);
    j_amount(o, "amount", r->amount);
    j_date(o, "setl_date", r->setl_date);
    j_i64(o, "time_unix_ms", r->time_unix_ms);
    cJSON_AddStringToObject(o, "use", cli_use_text((int)r->use, buf));
    cJSON_AddBoolToObject(o, "refund", r->refund);
    return o;
}

/* --from, --to, --page-size and --page-token, shared by the paged commands. */
static int cli_page_args(cli_ctx *x, int32_t *from, int32_t *to, uint32_t *page_size,
                         char **page_token)
{
    int rc;
    if (x->val[O_FROM] != NULL && (rc = cli_need_date(x, O_FROM, from)) != CLI_EXIT_OK)
        return rc;
    if (x->val[O_TO] != NULL && (rc = cli_need_date(x, O_TO, to)) != CLI_EXIT_OK)
        return rc;
    if (x->val[O_PAGE_SIZE] != NULL) {
        uint64_t n;
        if (!cli_parse_u64(x->val[O_PAGE_SIZE], UINT32_MAX, &n))
            return cli_usage(x, "bad --page-size: give a whole number (0 = the node's default)");
        *page_size = (uint32_t)n;
    }
    *page_token = x->val[O_PAGE_TOKEN] != NULL ? x->val[O_PAGE_TOKEN] : "";
    return CLI_EXIT_OK;
}

/* The pages of one paged call: one page, or with --all every page until the node says
 * the last. req's page token (*req_token) is moved along; next_of reads a reply's
 * next_page_token. On CLI_EXIT_OK *pages_out holds n_out >= 1 replies (caller frees them
 * with cli_pages_free); otherwise the error is reported and nothing is kept. */
static int cli_call_pages(cli_ctx *x, const ProtobufCMessage *req, char **req_token,
                          const ProtobufCMessageDescriptor *desc,
                          const char *(*next_of)(const ProtobufCMessage *),
                          ProtobufCMessage ***pages_out, size_t *n_out)
{
    bool all = x->seen[O_ALL];
    ProtobufCMessage **pages = NULL;
    size_t n_pages = 0;
    const char *prev_token = NULL;
    char *page_call_id = NULL;
    int rc = CLI_EXIT_OK;
    for (;;) {
        /* Every page is its own call: reusing one call id would replay page one. */
        const char *cid = x->call_id;
        if (n_pages > 0) {
            free(page_call_id);
            page_call_id = NULL;
            if (x->call_id != NULL) {
                size_t len = strlen(x->call_id) + 16;
                page_call_id = malloc(len);
                if (page_call_id != NULL)
                    snprintf(page_call_id, len, "%s.%zu", x->call_id, n_pages + 1);
            }
            cid = page_call_id;
            if (x->call_id != NULL && page_call_id == NULL) {
                fputs("gongji: out of memory\n", stderr);
                rc = CLI_EXIT_NOANSWER;
                break;
            }
        }
        ProtobufCMessage *m;
        rc = cli_call(x, cid, req, desc, &m);
        if (rc != CLI_EXIT_OK)
            break;
        ProtobufCMessage **grown = realloc(pages, (n_pages + 1) * sizeof *pages);
        if (grown == NULL) {
            protobuf_c_message_free_unpacked(m, NULL);
            fputs("gongji: out of memory\n", stderr);
            rc = CLI_EXIT_NOANSWER;
            break;
        }
        pages = grown;
        pages[n_pages++] = m;
        const char *next = next_of(m);
        if (next == NULL)
            next = "";
        if (!all || *next == '\0')
            break;
        if ((prev_token != NULL && strcmp(prev_token, next) == 0) || n_pages >= CLI_PAGES_MAX) {
            client_status st = {.code = GONGJI__V1__CODE__INTERNAL};
            gj_strcpy_fit(st.reason, sizeof st.reason, "BAD_ANSWER");
            gj_strcpy_fit(st.message, sizeof st.message,
                          "the node keeps returning pages; stopped following them");
            cli_report(x, &st);
            rc = CLI_EXIT_NODE;
            break;
        }
        prev_token = next;
        *req_token = (char *)next; /* lives as long as its page */
    }
    free(page_call_id);
    if (rc != CLI_EXIT_OK) {
        for (size_t p = 0; p < n_pages; p++)
            protobuf_c_message_free_unpacked(pages[p], NULL);
        free(pages);
        pages = NULL;
        n_pages = 0;
    }
    *pages_out = pages;
    *n_out = n_pages;
    return rc;
}

static void cli_pages_free(ProtobufCMessage **pages, size_t n)
{
    for (size_t p = 0; p < n; p++)
        protobuf_c_message_free_unpacked(pages[p], NULL);
    free(pages);
}

/* The footer of a paged table: the count, and the token of the next page if any. */
static void h_pages_footer(size_t count, const char *what, const char *next)
{
    printf("%zu %s%s\n", count, what, count == 1 ? "" : "s");
    if (next != NULL && *next != '\0') {
        char *tok = cli_clean(next, false);
        printf(H_LABEL "%s\n(more pages: pass it as --page-token, or use --all)\n",
               "next_page_token", tok ? tok : "?");
        free(tok);
    }
}

static const char *records_next(const ProtobufCMessage *m)
{
    return ((const Gongji__V1__RecordsReply *)m)->next_page_token;
}

int run_records(cli_ctx *x)
{
    Gongji__V1__RecordsRequest req = GONGJI__V1__RECORDS_REQUEST__INIT;
    int rc = cli_page_args(x, &req.from_date, &req.to_date, &req.page_size, &req.page_token);
    if (rc != CLI_EXIT_OK)
        return rc;
    req.psn_no = x->val[O_PSN_NO];

    /* Keep every page: the output is printed once, as one table or one JSON object. */
    ProtobufCMessage **pm;
    size_t n_pages;
    rc = cli_call_pages(x, &req.base, &req.page_token, &gongji__v1__records_reply__descriptor,
                        records_next, &pm, &n_pages);
    if (rc != CLI_EXIT_OK)
        return rc;
    Gongji__V1__RecordsReply **pages = (Gongji__V1__RecordsReply **)pm;
    const char *next = pages[n_pages - 1]->next_page_token;
    if (next == NULL)
        next = "";
    if (x->json) {
        cJSON *o = cJSON_CreateObject();
        cJSON *a = cJSON_CreateArray();
        for (size_t p = 0; a != NULL && p < n_pages; p++)
            for (size_t i = 0; i < pages[p]->n_records; i++)
                cJSON_AddItemToArray(a, j_record(pages[p]->records[i]));
        j_add(o, "records", a);
        j_text(o, "next_page_token", next);
        rc = j_emit(o);
    } else {
        cli_table t = {.cols = 8,
                       .head = {"setl_date", "time", "setl_id", "kind", "sponsor_psn_no",
                                "beneficiary_psn_no", "use", "amount"},
                       .right = {[7] = true}};
        size_t count = 0;
        for (size_t p = 0; p < n_pages; p++)
            for (size_t i = 0; i < pages[p]->n_records; i++) {
                const Gongji__V1__SpendRecord *s = pages[p]->records[i];
                if (s == NULL)
                    continue;
                char d[16], tm[16], use[40], amt[32];
                const char *row[8] = {cli_date_text(s->setl_date, d),
                                      cli_time_text(s->time_unix_ms, tm),
                                      s->setl_id,
                                      s->refund ? "refund" : "spend",
                                      s->sponsor_psn_no,
                                      s->beneficiary_psn_no,
                                      cli_use_text((int)s->use, use),
                                      gj_yuan_format(s->amount, amt)};
                table_add(&t, row);
                count++;
            }
        if (count > 0)
            table_print(&t, "");
        table_free(&t);
        h_pages_footer(count, "record", next);
    }
    cli_pages_free(pm, n_pages);
    return rc;
}

static cJSON *j_settlement(const Gongji__V1__SettlementRecord *r)
{
    char buf[40];
    if (r == NULL)
        return cJSON_CreateNull();
    cJSON *o = cJSON_CreateObject();
    j_text(o, "setl_id", r->setl_id);
    j_date(o, "setl_date", r->setl_date);
    cJSON_AddStringToObject(o, "use", cli_use_text((int)r->use, buf));
    j_amount(o, "amount", r->amount);
    j_amount(o, "acct_pay", r->acct_pay);
    j_add(o, "parts", j_parts(r->parts, r->n_parts));
    j_amount(o, "acct_mulaid_pay", r->acct_mulaid_pay);
    j_amount(o, "psn_cash_pay", r->psn_cash_pay);
    cJSON_AddBoolToObject(o, "revoked", r->revoked);
    j_date(o, "revoke_date", r->revoke_date);
    return o;
}

static const char *settlements_next(const ProtobufCMessage *m)
{
    return ((const Gongji__V1__SettlementRecordsReply *)m)->next_page_token;
}

int run_settlements(cli_ctx *x)
{
    Gongji__V1__SettlementRecordsRequest req = GONGJI__V1__SETTLEMENT_RECORDS_REQUEST__INIT;
    int rc = cli_page_args(x, &req.from_date, &req.to_date, &req.page_size, &req.page_token);
    if (rc != CLI_EXIT_OK)
        return rc;
    req.psn_no = x->val[O_PSN_NO];

    ProtobufCMessage **pm;
    size_t n_pages;
    rc = cli_call_pages(x, &req.base, &req.page_token,
                        &gongji__v1__settlement_records_reply__descriptor, settlements_next, &pm,
                        &n_pages);
    if (rc != CLI_EXIT_OK)
        return rc;
    Gongji__V1__SettlementRecordsReply **pages = (Gongji__V1__SettlementRecordsReply **)pm;
    const char *next = pages[n_pages - 1]->next_page_token;
    if (next == NULL)
        next = "";
    if (x->json) {
        cJSON *o = cJSON_CreateObject();
        cJSON *a = cJSON_CreateArray();
        for (size_t p = 0; a != NULL && p < n_pages; p++)
            for (size_t i = 0; i < pages[p]->n_records; i++)
                cJSON_AddItemToArray(a, j_settlement(pages[p]->records[i]));
        j_add(o, "records", a);
        j_text(o, "next_page_token", next);
        rc = j_emit(o);
    } else {
        /* One row per settlement; under it one row per sponsor part, whose amount
         * stands in the acct_mulaid_pay column it adds up to. */
        cli_table t = {.cols = 8,
                       .head = {"setl_date", "setl_id", "use", "amount", "acct_pay",
                                "acct_mulaid_pay", "psn_cash_pay", "revoked"},
                       .right = {[3] = true, [4] = true, [5] = true, [6] = true}};
        size_t count = 0;
        for (size_t p = 0; p < n_pages; p++)
            for (size_t i = 0; i < pages[p]->n_records; i++) {
                const Gongji__V1__SettlementRecord *s = pages[p]->records[i];
                if (s == NULL)
                    continue;
                char d[16], rd[16], use[40], a1[32], a2[32], a3[32], a4[32];
                const char *revoked = !s->revoked            ? "no"
                                      : s->revoke_date == 0 ? "yes"
                                                            : cli_date_text(s->revoke_date, rd);
                const char *row[8] = {cli_date_text(s->setl_date, d),
                                      s->setl_id,
                                      cli_use_text((int)s->use, use),
                                      gj_yuan_format(s->amount, a1),
                                      gj_yuan_format(s->acct_pay, a2),
                                      gj_yuan_format(s->acct_mulaid_pay, a3),
                                      gj_yuan_format(s->psn_cash_pay, a4),
                                      revoked};
                table_add(&t, row);
                count++;
                for (size_t k = 0; k < s->n_parts; k++) {
                    const Gongji__V1__SponsorPart *sp = s->parts[k];
                    if (sp == NULL)
                        continue;
                    text_buf who = {0};
                    text_addf(&who, "  %s (%s)", sp->sponsor_psn_no, sp->sponsor_admdvs);
                    const char *part[8] = {"", who.oom ? "  ?" : who.s, "", "", "",
                                           gj_yuan_format(sp->amount, a3), "", ""};
                    table_add(&t, part);
                    free(who.s);
                }
            }
        if (count > 0)
            table_print(&t, "");
        table_free(&t);
        h_pages_footer(count, "settlement", next);
    }
    cli_pages_free(pm, n_pages);
    return rc;
}
