/* gongji's clearing commands: clearing (a window, a month, a range, or a province at its
 * hub, printed, and written as CSV and SVG when asked), close-window and reconcile.
 * docs/clearing.md shows what each prints. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "clearing_svg.h"
#include "cli_internal.h"
#include "gj_util.h"

/* ---- the days asked for ---- */

/* --window (a day, or a month YYYY-MM / YYYYMM) or --from/--to. *window is set for a
 * single day; *from and *to for a month or range; all 0 when nothing was given. */
static int cli_days(cli_ctx *x, int32_t *window, int32_t *from, int32_t *to)
{
    *window = *from = *to = 0;
    const char *w = x->val[O_WINDOW];
    if ((x->val[O_FROM] != NULL) != (x->val[O_TO] != NULL))
        return cli_usage(x, "--from and --to go together");
    if (w != NULL && x->val[O_FROM] != NULL)
        return cli_usage(x, "give --window or --from/--to, not both");
    if (x->val[O_FROM] != NULL) {
        int rc;
        if ((rc = cli_need_date(x, O_FROM, from)) != CLI_EXIT_OK || (rc = cli_need_date(x, O_TO, to)) != CLI_EXIT_OK)
            return rc;
        if (*from > *to)
            return cli_usage(x, "--from is after --to");
        return CLI_EXIT_OK;
    }
    if (w == NULL)
        return CLI_EXIT_OK;
    int year, month;
    char tail;
    if ((sscanf(w, "%4d-%2d%c", &year, &month, &tail) == 2 && strlen(w) == 7) ||
        (sscanf(w, "%4d%2d%c", &year, &month, &tail) == 2 && strlen(w) == 6)) {
        *from = year * 10000 + month * 100 + 1;
        if (!gj_date_valid(*from))
            return cli_usage(x, "bad month for --window: give YYYY-MM");
        *to = gj_date_add_months(*from, 1);
        /* The month's last day: the day before the next month's first. */
        int32_t d = *from;
        while (gj_date_next(d) < *to)
            d = gj_date_next(d);
        *to = d;
        return CLI_EXIT_OK;
    }
    return cli_need_date(x, O_WINDOW, window);
}

/* ---- printing totals ---- */

static cJSON *j_counterparties(Gongji__V1__CounterpartyTotals **v, size_t n)
{
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; a != NULL && i < n; i++) {
        const Gongji__V1__CounterpartyTotals *t = v[i];
        cJSON *o = t != NULL ? cJSON_CreateObject() : cJSON_CreateNull();
        if (t != NULL) {
            j_text(o, "region", t->region);
            j_u64(o, "owed_to_us_count", t->owed_to_us_count);
            j_amount(o, "owed_to_us", t->owed_to_us);
            j_u64(o, "we_owe_count", t->we_owe_count);
            j_amount(o, "we_owe", t->we_owe);
            j_amount(o, "net", t->net);
        }
        cJSON_AddItemToArray(a, o);
    }
    return a;
}

static void h_counterparties(const char *title, Gongji__V1__CounterpartyTotals **v, size_t n)
{
    printf("%s (%zu)\n", title, n);
    if (n == 0)
        return;
    cli_table t = {.cols = 6,
                   .head = {"region", "owed_to_us_count", "owed_to_us", "we_owe_count", "we_owe", "net"},
                   .right = {false, true, true, true, true, true}};
    for (size_t i = 0; i < n; i++) {
        const Gongji__V1__CounterpartyTotals *c = v[i];
        if (c == NULL)
            continue;
        char n1[24], n2[24], a1[32], a2[32], a3[32];
        snprintf(n1, sizeof n1, "%llu", (unsigned long long)c->owed_to_us_count);
        snprintf(n2, sizeof n2, "%llu", (unsigned long long)c->we_owe_count);
        const char *row[6] = {c->region, n1, gj_yuan_format(c->owed_to_us, a1), n2, gj_yuan_format(c->we_owe, a2),
                              gj_yuan_format(c->net, a3)};
        table_add(&t, row);
    }
    table_print(&t, "  ");
    table_free(&t);
}

/* ---- files ---- */

/* CSV with the national 3201 names where there is one: one row per region and
 * counterparty (what a region's node has), amounts in yuan. */
#define CSV_HEADER                                                                                              \
    "setl_optins,counterparty_optins,stmt_begndate,stmt_enddate,owed_to_us_setl_cnt,owed_to_us_acct_pay,"       \
    "we_owe_setl_cnt,we_owe_acct_pay,net_acct_pay\n"

static void csv_rows(FILE *f, const char *region, int32_t from, int32_t to, Gongji__V1__CounterpartyTotals **v,
                     size_t n)
{
    char d1[16], d2[16];
    for (size_t i = 0; i < n; i++) {
        char a1[32], a2[32], a3[32];
        fprintf(f, "%s,%s,%s,%s,%llu,%s,%llu,%s,%s\n", region, v[i]->region, cli_date_text(from, d1),
                cli_date_text(to, d2), (unsigned long long)v[i]->owed_to_us_count, gj_yuan_format(v[i]->owed_to_us, a1),
                (unsigned long long)v[i]->we_owe_count, gj_yuan_format(v[i]->we_owe, a2),
                gj_yuan_format(v[i]->net, a3));
    }
}

static FILE *open_out(cli_ctx *x, int id)
{
    FILE *f = fopen(x->val[id], "w");
    if (f == NULL) {
        char *t = cli_clean(x->val[id], false);
        fprintf(stderr, "gongji: cannot write --%s %s\n", cli_optdefs[id].name, t ? t : "?");
        free(t);
    }
    return f;
}

static int close_out(cli_ctx *x, int id, FILE *f, bool failed)
{
    if (fclose(f) != 0 || failed) {
        char *t = cli_clean(x->val[id], false);
        fprintf(stderr, "gongji: writing --%s %s failed\n", cli_optdefs[id].name, t ? t : "?");
        free(t);
        return CLI_EXIT_USAGE;
    }
    return CLI_EXIT_OK;
}

/* The picture of one node's totals: the node and each counterparty. */
static int svg_of_node(cli_ctx *x, const Gongji__V1__ClearingTotalsReply *r)
{
    size_t n = r->n_counterparties + 1 < CLEARING_SVG_REGIONS_MAX ? r->n_counterparties + 1 : CLEARING_SVG_REGIONS_MAX;
    const char *regions[CLEARING_SVG_REGIONS_MAX];
    static int64_t owes[CLEARING_SVG_REGIONS_MAX * CLEARING_SVG_REGIONS_MAX];
    int64_t net[CLEARING_SVG_REGIONS_MAX] = {0};
    memset(owes, 0, sizeof owes);
    regions[0] = r->region;
    for (size_t i = 1; i < n; i++) {
        const Gongji__V1__CounterpartyTotals *t = r->counterparties[i - 1];
        regions[i] = t->region;
        if (t->net > 0)
            owes[i * n + 0] = t->net; /* it owes us */
        else
            owes[0 * n + i] = -t->net;
        net[0] += t->net;
        net[i] = -t->net;
    }
    char title[160], d1[16], d2[16];
    snprintf(title, sizeof title, "gongji clearing: region %s, %s to %s", r->region, cli_date_text(r->from, d1),
             cli_date_text(r->to, d2));
    FILE *f = open_out(x, O_SVG);
    if (f == NULL)
        return CLI_EXIT_USAGE;
    return close_out(x, O_SVG, f, clearing_svg_write(f, title, n, regions, owes, net) != 0);
}

static int svg_of_province(cli_ctx *x, const Gongji__V1__ProvinceTotalsReply *r)
{
    size_t n = r->n_members < CLEARING_SVG_REGIONS_MAX ? r->n_members : CLEARING_SVG_REGIONS_MAX;
    const char *regions[CLEARING_SVG_REGIONS_MAX];
    static int64_t owes[CLEARING_SVG_REGIONS_MAX * CLEARING_SVG_REGIONS_MAX];
    int64_t net[CLEARING_SVG_REGIONS_MAX] = {0};
    memset(owes, 0, sizeof owes);
    for (size_t i = 0; i < n; i++) {
        regions[i] = r->members[i]->region;
        net[i] = i < r->n_within_province ? r->within_province[i]->net : 0;
    }
    for (size_t p = 0; p < r->n_pairs; p++) {
        size_t a = n, b = n;
        for (size_t i = 0; i < n; i++) {
            if (strcmp(regions[i], r->pairs[p]->a) == 0)
                a = i;
            if (strcmp(regions[i], r->pairs[p]->b) == 0)
                b = i;
        }
        if (a == n || b == n)
            continue;
        int64_t b_owes_a = r->pairs[p]->b_owes_a;
        if (b_owes_a > 0)
            owes[b * n + a] = b_owes_a;
        else
            owes[a * n + b] = -b_owes_a;
    }
    char title[160], d1[16], d2[16];
    snprintf(title, sizeof title, "gongji clearing: province %.2s (hub %s), %s to %s", r->province, r->province,
             cli_date_text(r->from, d1), cli_date_text(r->to, d2));
    FILE *f = open_out(x, O_SVG);
    if (f == NULL)
        return CLI_EXIT_USAGE;
    return close_out(x, O_SVG, f, clearing_svg_write(f, title, n, regions, owes, net) != 0);
}

/* The rows behind the totals (national 3202's columns), day by day and counterparty by
 * counterparty, a page at a time. */
static int write_rows(cli_ctx *x, const Gongji__V1__ClearingTotalsReply *r)
{
    FILE *f = open_out(x, O_ROWS);
    if (f == NULL)
        return CLI_EXIT_USAGE;
    fputs("stmt_date,setl_optins,counterparty_optins,setl_id,leg,psn_no,sponsor_psn_no,acct_pay,refd_setl_flag,"
          "owed_to_us\n",
          f);
    int32_t from = r->from ? r->from : r->window, to = r->to ? r->to : r->window;
    int rc = CLI_EXIT_OK;
    for (int32_t day = from; rc == CLI_EXIT_OK && day <= to; day = gj_date_next(day))
        for (size_t k = 0; rc == CLI_EXIT_OK && k < r->n_counterparties; k++) {
            char token[128] = "";
            for (int page = 0; rc == CLI_EXIT_OK && page < 100000; page++) {
                Gongji__V1__ClearingRowsRequest req = GONGJI__V1__CLEARING_ROWS_REQUEST__INIT;
                req.window = day;
                req.counterparty = r->counterparties[k]->region;
                req.page_token = token;
                ProtobufCMessage *m = NULL;
                rc = cli_call_method(x, "gongji.v1.Clearing/ClearingRows", NULL, &req.base,
                                     &gongji__v1__clearing_rows_reply__descriptor, &m);
                if (rc != CLI_EXIT_OK)
                    break;
                const Gongji__V1__ClearingRowsReply *page_rows = (const Gongji__V1__ClearingRowsReply *)m;
                char d[16], yuan[32];
                for (size_t i = 0; i < page_rows->n_rows; i++) {
                    const Gongji__V1__ClearingRow *row = page_rows->rows[i];
                    fprintf(f, "%s,%s,%s,%s,%u,%s,%s,%s,%d,%d\n", cli_date_text(day, d), r->region, req.counterparty,
                            row->setl_id, row->leg, row->beneficiary_psn_no, row->sponsor_psn_no,
                            gj_yuan_format(row->amount, yuan), row->kind == GONGJI__V1__CLEARING_KIND__REFUND,
                            row->owed_to_us);
                }
                bool more = page_rows->next_page_token[0] != '\0' && strlen(page_rows->next_page_token) < sizeof token;
                if (more)
                    snprintf(token, sizeof token, "%s", page_rows->next_page_token);
                protobuf_c_message_free_unpacked(m, NULL);
                if (!more)
                    break;
            }
        }
    int closed = close_out(x, O_ROWS, f, false);
    return rc != CLI_EXIT_OK ? rc : closed;
}

/* ---- clearing ---- */

/* ClearingTotals and CloseWindow both answer a ClearingTotalsReply. */
static int cli_clearing_out(cli_ctx *x, ProtobufCMessage *m)
{
    const Gongji__V1__ClearingTotalsReply *r = (const Gongji__V1__ClearingTotalsReply *)m;
    int rc = CLI_EXIT_OK;
    bool range = r->window == 0 && r->from != 0;
    if (x->json) {
        cJSON *o = cJSON_CreateObject();
        j_text(o, "region", r->region);
        if (range) {
            j_date(o, "from", r->from);
            j_date(o, "to", r->to);
            j_u64(o, "days", r->days);
            j_u64(o, "days_closed", r->days_closed);
        } else {
            j_date(o, "window", r->window);
        }
        cJSON_AddBoolToObject(o, "closed", r->closed);
        j_add(o, "counterparties", j_counterparties(r->counterparties, r->n_counterparties));
        j_add(o, "provinces", j_counterparties(r->provinces, r->n_provinces));
        rc = j_emit(o);
    } else {
        h_text("region", r->region);
        if (range) {
            h_date("from", r->from);
            h_date("to", r->to);
            printf(H_LABEL "%u of %u\n", "days_closed", r->days_closed, r->days);
        } else {
            h_date("window", r->window);
        }
        h_bool("closed", r->closed);
        h_counterparties("counterparties", r->counterparties, r->n_counterparties);
        h_counterparties("provinces", r->provinces, r->n_provinces);
    }
    if (rc == CLI_EXIT_OK && x->val[O_CSV] != NULL) {
        FILE *f = open_out(x, O_CSV);
        if (f == NULL)
            rc = CLI_EXIT_USAGE;
        else {
            fputs(CSV_HEADER, f);
            csv_rows(f, r->region, r->from ? r->from : r->window, r->to ? r->to : r->window, r->counterparties,
                     r->n_counterparties);
            rc = close_out(x, O_CSV, f, false);
        }
    }
    if (rc == CLI_EXIT_OK && x->val[O_SVG] != NULL)
        rc = svg_of_node(x, r);
    if (rc == CLI_EXIT_OK && x->val[O_ROWS] != NULL)
        rc = write_rows(x, r);
    protobuf_c_message_free_unpacked(m, NULL);
    return rc;
}

static int cli_province_out(cli_ctx *x, ProtobufCMessage *m)
{
    const Gongji__V1__ProvinceTotalsReply *r = (const Gongji__V1__ProvinceTotalsReply *)m;
    int rc = CLI_EXIT_OK;
    size_t silent = 0, disagree = 0;
    for (size_t i = 0; i < r->n_members; i++)
        silent += !r->members[i]->answered;
    for (size_t i = 0; i < r->n_pairs; i++)
        disagree += !r->pairs[i]->agree;
    if (x->json) {
        cJSON *o = cJSON_CreateObject(), *members = cJSON_CreateArray(), *pairs = cJSON_CreateArray();
        j_text(o, "province", r->province);
        j_date(o, "from", r->from);
        j_date(o, "to", r->to);
        for (size_t i = 0; i < r->n_members; i++) {
            cJSON *mo = cJSON_CreateObject();
            j_text(mo, "region", r->members[i]->region);
            cJSON_AddBoolToObject(mo, "answered", r->members[i]->answered);
            if (!r->members[i]->answered)
                j_text(mo, "error", r->members[i]->error);
            j_add(mo, "counterparties", j_counterparties(r->members[i]->counterparties, r->members[i]->n_counterparties));
            cJSON_AddItemToArray(members, mo);
        }
        for (size_t i = 0; i < r->n_pairs; i++) {
            cJSON *po = cJSON_CreateObject();
            j_text(po, "a", r->pairs[i]->a);
            j_text(po, "b", r->pairs[i]->b);
            j_amount(po, "b_owes_a", r->pairs[i]->b_owes_a);
            j_amount(po, "b_owes_a_as_b_says", r->pairs[i]->b_owes_a_as_b_says);
            cJSON_AddBoolToObject(po, "agree", r->pairs[i]->agree);
            cJSON_AddItemToArray(pairs, po);
        }
        j_add(o, "members", members);
        j_add(o, "pairs", pairs);
        j_add(o, "within_province", j_counterparties(r->within_province, r->n_within_province));
        j_add(o, "beyond_province", j_counterparties(r->beyond_province, r->n_beyond_province));
        rc = j_emit(o);
    } else {
        h_text("province", r->province);
        h_date("from", r->from);
        h_date("to", r->to);
        printf("members (%zu)\n", r->n_members);
        for (size_t i = 0; i < r->n_members; i++) {
            char *e = r->members[i]->answered ? NULL : cli_clean(r->members[i]->error, false);
            printf("  %s  %s\n", r->members[i]->region, r->members[i]->answered ? "answered" : e ? e : "no answer");
            free(e);
        }
        printf("pairs (%zu): what b owes a, net, as each node has it\n", r->n_pairs);
        if (r->n_pairs > 0) {
            cli_table t = {.cols = 5,
                           .head = {"a", "b", "b_owes_a (a says)", "b_owes_a (b says)", "agree"},
                           .right = {false, false, true, true, false}};
            for (size_t i = 0; i < r->n_pairs; i++) {
                char a1[32], a2[32];
                const char *row[5] = {r->pairs[i]->a, r->pairs[i]->b, gj_yuan_format(r->pairs[i]->b_owes_a, a1),
                                      gj_yuan_format(r->pairs[i]->b_owes_a_as_b_says, a2),
                                      r->pairs[i]->agree ? "yes" : "NO"};
                table_add(&t, row);
            }
            table_print(&t, "  ");
            table_free(&t);
        }
        h_counterparties("net within the province (multilateral)", r->within_province, r->n_within_province);
        h_counterparties("net beyond the province", r->beyond_province, r->n_beyond_province);
    }
    if (rc == CLI_EXIT_OK && x->val[O_CSV] != NULL) {
        FILE *f = open_out(x, O_CSV);
        if (f == NULL)
            rc = CLI_EXIT_USAGE;
        else {
            fputs(CSV_HEADER, f);
            for (size_t i = 0; i < r->n_members; i++)
                csv_rows(f, r->members[i]->region, r->from, r->to, r->members[i]->counterparties,
                         r->members[i]->n_counterparties);
            rc = close_out(x, O_CSV, f, false);
        }
    }
    if (rc == CLI_EXIT_OK && x->val[O_SVG] != NULL)
        rc = svg_of_province(x, r);
    if (rc == CLI_EXIT_OK && (silent > 0 || disagree > 0)) {
        fprintf(stderr, "gongji: province %s: %zu member(s) did not answer, %zu pair(s) disagree\n", r->province,
                silent, disagree);
        rc = CLI_EXIT_NODE;
    }
    protobuf_c_message_free_unpacked(m, NULL);
    return rc;
}

int run_clearing(cli_ctx *x)
{
    int32_t window, from, to;
    int rc = cli_days(x, &window, &from, &to);
    if (rc != CLI_EXIT_OK)
        return rc;
    ProtobufCMessage *m;
    if (x->seen[O_PROVINCE]) {
        if (x->val[O_ROWS] != NULL)
            return cli_usage(x, "--rows is a region's own: ask its node, not the hub");
        if (from == 0)
            return cli_usage(x, "--province needs a month (--window YYYY-MM) or --from/--to");
        Gongji__V1__ProvinceTotalsRequest req = GONGJI__V1__PROVINCE_TOTALS_REQUEST__INIT;
        req.from = from;
        req.to = to;
        rc = cli_call_method(x, "gongji.v1.Clearing/ProvinceTotals", x->call_id, &req.base,
                             &gongji__v1__province_totals_reply__descriptor, &m);
        return rc != CLI_EXIT_OK ? rc : cli_province_out(x, m);
    }
    Gongji__V1__ClearingTotalsRequest req = GONGJI__V1__CLEARING_TOTALS_REQUEST__INIT;
    req.window = window;
    req.from = from;
    req.to = to;
    rc = cli_call(x, x->call_id, &req.base, &gongji__v1__clearing_totals_reply__descriptor, &m);
    return rc != CLI_EXIT_OK ? rc : cli_clearing_out(x, m);
}

int run_close_window(cli_ctx *x)
{
    Gongji__V1__CloseWindowRequest req = GONGJI__V1__CLOSE_WINDOW_REQUEST__INIT;
    int rc;
    if (x->val[O_WINDOW] != NULL && (rc = cli_need_date(x, O_WINDOW, &req.window)) != CLI_EXIT_OK)
        return rc;
    ProtobufCMessage *m;
    rc = cli_call(x, x->call_id, &req.base, &gongji__v1__clearing_totals_reply__descriptor, &m);
    return rc != CLI_EXIT_OK ? rc : cli_clearing_out(x, m);
}

/* ---- reconcile ---- */

int run_reconcile(cli_ctx *x)
{
    Gongji__V1__ReconcileRequest req = GONGJI__V1__RECONCILE_REQUEST__INIT;
    int rc = cli_days(x, &req.window, &req.from, &req.to);
    if (rc != CLI_EXIT_OK)
        return rc;
    if (req.window == 0 && req.from == 0)
        return cli_usage(x, "give --window (a day or a month) or --from/--to");
    req.peer_region = x->val[O_PEER];
    ProtobufCMessage *m;
    rc = cli_call(x, x->call_id, &req.base, &gongji__v1__reconcile_reply__descriptor, &m);
    if (rc != CLI_EXIT_OK)
        return rc;
    const Gongji__V1__ReconcileReply *r = (const Gongji__V1__ReconcileReply *)m;
    bool range = r->window == 0;
    if (x->json) {
        cJSON *o = cJSON_CreateObject();
        if (range) {
            j_date(o, "from", r->from);
            j_date(o, "to", r->to);
            j_u64(o, "days_differing", r->days_differing);
        } else {
            j_date(o, "window", r->window);
        }
        j_text(o, "peer_region", r->peer_region);
        cJSON_AddBoolToObject(o, "agree", r->agree);
        j_u64(o, "our_count", r->our_count);
        j_amount(o, "our_net", r->our_net);
        j_u64(o, "their_count", r->their_count);
        j_amount(o, "their_net", r->their_net);
        j_add(o, "differing_setl_ids", j_strings(r->differing_setl_ids, r->n_differing_setl_ids));
        rc = j_emit(o);
    } else {
        if (range) {
            h_date("from", r->from);
            h_date("to", r->to);
            h_u64("days_differing", r->days_differing);
        } else {
            h_date("window", r->window);
        }
        h_text("peer_region", r->peer_region);
        h_bool("agree", r->agree);
        h_u64("our_count", r->our_count);
        h_amount("our_net", r->our_net);
        h_u64("their_count", r->their_count);
        h_amount("their_net", r->their_net);
        printf("differing_setl_ids (%zu)\n", r->n_differing_setl_ids);
        for (size_t i = 0; i < r->n_differing_setl_ids; i++) {
            char *t = cli_clean(r->differing_setl_ids[i], false);
            printf("  %s\n", t ? t : "?");
            free(t);
        }
    }
    if (rc == CLI_EXIT_OK && !r->agree) {
        char d1[16], d2[16];
        char *peer = cli_clean(r->peer_region, false);
        fprintf(stderr, "gongji: %s%s%s does not reconcile with %s: %zu differing settlement%s\n",
                cli_date_text(range ? r->from : r->window, d1), range ? " to " : "",
                range ? cli_date_text(r->to, d2) : "", peer ? peer : "?", r->n_differing_setl_ids,
                r->n_differing_setl_ids == 1 ? "" : "s");
        free(peer);
        rc = CLI_EXIT_NODE;
    }
    protobuf_c_message_free_unpacked(m, NULL);
    return rc;
}
