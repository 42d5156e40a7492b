/* gongji bind --file: the bindings (and deduction orders) a region already has, when it
 * moves onto gongji (docs/import.md). Each row is a MutualAid/Bind, as the region's
 * operator would make it by hand: the sponsor's node decides, and a beneficiary in
 * another region is asked by it (Peer/AcceptBinding), exactly as a bind. A row's call id
 * is made of its content, so running the file again is answered the same and binds
 * nothing twice. Then, for each beneficiary whose rows give an order, MutualAid/SetOrder
 * with those sponsors in that order. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli_internal.h"
#include "gj_limits.h"
#include "gj_names.h"
#include "gj_util.h"
#include "import.h"

#define ORDERED_MAX 4096 /* rows with an order, kept for the SetOrder calls */

typedef struct ordered {
    char beneficiary[GJ_PSN_NO_MAX + 1], sponsor[GJ_PSN_NO_MAX + 1];
    char region[GJ_ADMDVS_LEN + 1]; /* the beneficiary's, where the order is kept ("" = here) */
    long order, line;
} ordered;

typedef struct bind_tally {
    uint64_t rows, bound, refused, orders_set, orders_refused;
} bind_tally;

static bool region_ok(const char *r)
{
    return r[0] == '\0' || (strlen(r) == GJ_ADMDVS_LEN && gj_all_digits(r, GJ_ADMDVS_LEN));
}

static void row_refused(bind_tally *t, long line, const char *reason, const char *detail)
{
    t->refused++;
    char *d = cli_clean(detail, false);
    fprintf(stderr, "line %ld: %s: %s\n", line, reason, d != NULL ? d : "?");
    free(d);
}

/* The call id of a row: its content, hashed, so the same row is the same call. */
static void row_call_id(char out[48], const char *const parts[5])
{
    uint64_t h = 14695981039346656037ULL;
    for (int i = 0; i < 5; i++) {
        for (const unsigned char *p = (const unsigned char *)parts[i]; *p; p++)
            h = (h ^ *p) * 1099511628211ULL;
        h = (h ^ 0x1f) * 1099511628211ULL; /* a separator: "ab"+"c" is not "a"+"bc" */
    }
    snprintf(out, 48, "import-bind-%016llx", (unsigned long long)h);
}

static int cmp_ordered(const void *a, const void *b)
{
    const ordered *x = a, *y = b;
    int c = strcmp(x->beneficiary, y->beneficiary);
    return c != 0 ? c : (x->order > y->order) - (x->order < y->order);
}

static int set_orders(cli_ctx *x, ordered *o, size_t n, bind_tally *t)
{
    qsort(o, n, sizeof *o, cmp_ordered);
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && strcmp(o[j].beneficiary, o[i].beneficiary) == 0)
            j++;
        char *sponsors[GJ_SPONSORS_MAX];
        size_t k = 0;
        for (size_t m = i; m < j && k < GJ_SPONSORS_MAX; m++)
            sponsors[k++] = o[m].sponsor;
        Gongji__V1__SetOrderRequest req = GONGJI__V1__SET_ORDER_REQUEST__INIT;
        req.beneficiary_psn_no = o[i].beneficiary;
        req.sponsor_psn_no = sponsors;
        req.n_sponsor_psn_no = k;
        ProtobufCMessage *m = NULL;
        /* Kept at the beneficiary's node: the call is for its region. */
        const char *region = x->region;
        if (o[i].region[0] != '\0')
            x->region = o[i].region;
        snprintf(x->report_prefix, sizeof x->report_prefix, "line %ld: ", o[i].line);
        x->typed[0] = o[i].beneficiary;
        int rc = cli_call_method(x, "gongji.v1.MutualAid/SetOrder", NULL, &req.base,
                                 &gongji__v1__set_order_reply__descriptor, &m);
        x->report_prefix[0] = '\0';
        x->typed[0] = NULL;
        x->region = region;
        if (rc == CLI_EXIT_NOANSWER)
            return rc;
        if (rc == CLI_EXIT_OK)
            t->orders_set++;
        else {
            t->orders_refused++;
            fprintf(stderr, "line %ld: the order of beneficiary %s was not set\n", o[i].line, o[i].beneficiary);
        }
        if (m != NULL)
            protobuf_c_message_free_unpacked(m, NULL);
        i = j;
    }
    return CLI_EXIT_OK;
}

int cli_bind_file(cli_ctx *x)
{
    const char *path = x->val[O_FILE];
    bool dry_run = x->seen[O_DRY_RUN];
    FILE *f;
    imp_reader *r;
    int col[IMP_COLUMNS_MAX];
    int opened = cli_import_open(x, IMP_BINDINGS, &f, &r, col);
    if (opened >= 0)
        return opened;
    char **fields;
    size_t n;
    long line;
    long long offset;
    int got;
    char err[IMP_ERR_MAX];
    ordered *orders = calloc(ORDERED_MAX, sizeof *orders);
    imp_dups *pairs = imp_dups_open(IMP_DUPS_CAP);
    size_t n_orders = 0;
    bind_tally t = {0};
    int rc = orders != NULL && pairs != NULL ? CLI_EXIT_OK : cli_usage(x, "out of memory");
    while (rc == CLI_EXIT_OK && (got = imp_reader_next(r, &fields, &n, &line, &offset)) != IMP_END) {
        if (got == IMP_FAILED) {
            fprintf(stderr, "gongji: %s\n", imp_reader_error(r));
            rc = CLI_EXIT_USAGE;
            break;
        }
        bool empty = got == IMP_RECORD;
        for (size_t i = 0; empty && i < n; i++)
            empty = fields[i][0] == '\0';
        if (empty)
            continue;
        t.rows++;
        if (got == IMP_BAD) {
            row_refused(&t, line, "ROW_UNREADABLE", imp_reader_error(r));
            continue;
        }
        const char *v[IMP_B_COUNT];
        for (int c = 0; c < IMP_B_COUNT; c++)
            v[c] = col[c] >= 0 && col[c] < (int)n ? fields[col[c]] : "";
        int relation = 0;
        char detail[IMP_ERR_MAX + 64];
        if (v[IMP_B_SPONSOR][0] == '\0' || strlen(v[IMP_B_SPONSOR]) > GJ_PSN_NO_MAX ||
            v[IMP_B_BENEFICIARY][0] == '\0' || strlen(v[IMP_B_BENEFICIARY]) > GJ_PSN_NO_MAX) {
            row_refused(&t, line, "FIELD_INVALID", "sponsor and beneficiary are 1..32 characters each");
            continue;
        }
        if (!region_ok(v[IMP_B_SPONSOR_REGION]) || !region_ok(v[IMP_B_BENEFICIARY_REGION])) {
            snprintf(detail, sizeof detail, "regions are 6 digits (or empty for this node's): '%s', '%s'",
                     v[IMP_B_SPONSOR_REGION], v[IMP_B_BENEFICIARY_REGION]);
            row_refused(&t, line, "FIELD_INVALID", detail);
            continue;
        }
        if (imp_relation_parse(v[IMP_B_RELATION], &relation, err, sizeof err) != 0) {
            row_refused(&t, line, "RELATION_INVALID", err);
            continue;
        }
        long order = 0;
        if (v[IMP_B_ORDER][0] != '\0') {
            char *end;
            order = strtol(v[IMP_B_ORDER], &end, 10);
            if (*end != '\0' || order < 1 || order > GJ_SPONSORS_MAX) {
                snprintf(detail, sizeof detail, "order is 1..%d, not '%s'", GJ_SPONSORS_MAX, v[IMP_B_ORDER]);
                row_refused(&t, line, "FIELD_INVALID", detail);
                continue;
            }
        }
        const char *parts[5] = {v[IMP_B_SPONSOR], v[IMP_B_SPONSOR_REGION], v[IMP_B_BENEFICIARY],
                                v[IMP_B_BENEFICIARY_REGION], gj_relation_name(relation)};
        char call_id[48];
        row_call_id(call_id, parts);
        long first = 0;
        if (imp_dups_add(pairs, call_id + 12, line, &first) == 1) { /* the hash: 16 characters */
            snprintf(detail, sizeof detail, "the same binding is on line %ld already", first);
            row_refused(&t, line, "ROW_REPEATED", detail);
            continue;
        }
        if (order > 0 && n_orders < ORDERED_MAX) {
            ordered *o = &orders[n_orders++];
            gj_strcpy_fit(o->beneficiary, sizeof o->beneficiary, v[IMP_B_BENEFICIARY]);
            gj_strcpy_fit(o->sponsor, sizeof o->sponsor, v[IMP_B_SPONSOR]);
            gj_strcpy_fit(o->region, sizeof o->region, v[IMP_B_BENEFICIARY_REGION]);
            o->order = order;
            o->line = line;
        }
        if (dry_run) {
            t.bound++;
            continue;
        }
        Gongji__V1__BindRequest req = GONGJI__V1__BIND_REQUEST__INIT;
        req.sponsor_psn_no = (char *)v[IMP_B_SPONSOR];
        req.beneficiary_psn_no = (char *)v[IMP_B_BENEFICIARY];
        req.relation = (Gongji__V1__Relation)relation;
        req.sponsor_admdvs = (char *)v[IMP_B_SPONSOR_REGION];
        req.beneficiary_admdvs = (char *)v[IMP_B_BENEFICIARY_REGION];
        ProtobufCMessage *m = NULL;
        snprintf(x->report_prefix, sizeof x->report_prefix, "line %ld: ", line); /* if the node refuses it */
        x->typed[0] = v[IMP_B_SPONSOR];
        x->typed[1] = v[IMP_B_BENEFICIARY];
        int call = cli_call_method(x, "gongji.v1.MutualAid/Bind", call_id, &req.base,
                                   &gongji__v1__bind_reply__descriptor, &m);
        x->report_prefix[0] = '\0';
        x->typed[0] = x->typed[1] = NULL;
        if (call == CLI_EXIT_OK) {
            t.bound++;
        } else if (call == CLI_EXIT_NOANSWER) {
            rc = call;
        } else {
            t.refused++;
        }
        if (m != NULL)
            protobuf_c_message_free_unpacked(m, NULL);
    }
    if (rc == CLI_EXIT_OK && !dry_run && n_orders > 0)
        rc = set_orders(x, orders, n_orders, &t);
    if (x->json) {
        cJSON *o = cJSON_CreateObject();
        j_text(o, "file", path);
        j_text(o, "encoding", imp_reader_encoding(r));
        cJSON_AddBoolToObject(o, "dry_run", dry_run);
        j_u64(o, "rows", t.rows);
        j_u64(o, dry_run ? "would_bind" : "bound", t.bound);
        j_u64(o, "refused", t.refused);
        j_u64(o, "orders_set", t.orders_set);
        j_u64(o, "orders_refused", t.orders_refused);
        j_emit(o);
    } else {
        printf("%-19s %s (%s)\n", "file", path, imp_reader_encoding(r));
        h_u64("rows", t.rows);
        h_u64(dry_run ? "would_bind" : "bound", t.bound);
        h_u64("refused", t.refused);
        h_u64("orders_set", t.orders_set);
        h_u64("orders_refused", t.orders_refused);
        if (dry_run)
            puts("dry run: the file was checked; nothing was sent");
    }
    free(orders);
    imp_dups_close(pairs);
    imp_reader_close(r);
    fclose(f);
    if (rc == CLI_EXIT_OK && (t.refused > 0 || t.orders_refused > 0))
        rc = CLI_EXIT_NODE;
    return rc;
}
