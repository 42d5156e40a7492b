/* gongji-bench's people and bindings, written straight into each node's store before
 * it starts (bench_load.h). */
#include "bench_load.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "gj_limits.h"
#include "gj_util.h"
#include "store.h"

typedef struct load_job {
    const char *const *region_codes;
    int region;
    int from, to;
} load_job;

static void certno_for(const char *const region_codes[], int region, int serial, char out[19])
{
    snprintf(out, 19, "%.6s19800101%03d", region_codes[region], serial % 1000);
    out[17] = gj_certno_check_char(out);
    out[18] = '\0';
}

static gj_err put_person(const char *const region_codes[], store_txn *txn, int region, const char *psn_no, int serial, int64_t balance)
{
    store_person p = {.status = STORE_PERSON_ACTIVE, .updated_unix_ms = gj_now_unix_ms()};
    gj_strcpy_fit(p.psn_no, sizeof p.psn_no, psn_no);
    certno_for(region_codes, region, serial, p.certno);
    memcpy(p.insutype, "310", 4);
    memcpy(p.admdvs, region_codes[region], 7);
    gj_err err;
    if ((err = store_person_put(txn, &p)) != GJ_OK || (err = store_account_ensure(txn, psn_no)) != GJ_OK)
        return err;
    if (balance > 0) {
        store_journal_entry e = {.unix_ms = gj_now_unix_ms(), .kind = STORE_J_CREDIT, .amount = balance};
        gj_strcpy_fit(e.psn_no, sizeof e.psn_no, psn_no);
        return store_account_move(txn, &e, NULL);
    }
    return GJ_OK;
}

/* A binding as both nodes keep it: the sponsor's record, the beneficiary's copy and
 * its deduction order. Called once per node with what that node keeps. */
static gj_err put_binding(const char *const region_codes[], store_txn *txn, const char *sponsor, int s_region, const char *beneficiary,
                          int b_region, bool add_to_order)
{
    store_binding b = {.relation = 3, .begin_date = 20000101, .created_unix_ms = gj_now_unix_ms()};
    gj_strcpy_fit(b.sponsor, sizeof b.sponsor, sponsor);
    gj_strcpy_fit(b.beneficiary, sizeof b.beneficiary, beneficiary);
    memcpy(b.sponsor_admdvs, region_codes[s_region], 7);
    memcpy(b.beneficiary_admdvs, region_codes[b_region], 7);
    gj_err err = store_binding_put(txn, &b);
    if (err != GJ_OK || !add_to_order)
        return err;
    store_order order;
    if ((err = store_order_get(txn, beneficiary, &order)) != GJ_OK)
        return err;
    gj_strcpy_fit(order.sponsors[order.count].psn_no, sizeof order.sponsors[0].psn_no, sponsor);
    memcpy(order.sponsors[order.count].admdvs, region_codes[s_region], 7);
    order.count++;
    return store_order_put(txn, beneficiary, &order);
}

#define RICH GJ_AMOUNT_MAX /* ten million yuan: never drained in a run */

static gj_err load_apply(store_txn *txn, void *arg)
{
    load_job *job = arg;
    char a[32], b[32];
    gj_err err = GJ_OK;
    for (int i = job->from; i < job->to && err == GJ_OK; i++) {
        switch (job->region) {
        case 0: /* the coordinator: beneficiaries, and local sponsors */
            snprintf(a, sizeof a, "AL%d", i);
            snprintf(b, sizeof b, "AS%d", i);
            if ((err = put_person(job->region_codes, txn, 0, a, i, 0)) || (err = put_person(job->region_codes, txn, 0, b, i, RICH)) ||
                (err = put_binding(job->region_codes, txn, b, 0, a, 0, true)))
                break;
            snprintf(a, sizeof a, "AX%d", i);
            snprintf(b, sizeof b, "BX%d", i);
            if ((err = put_person(job->region_codes, txn, 0, a, i, 0)) || (err = put_binding(job->region_codes, txn, b, 1, a, 0, true)))
                break;
            snprintf(a, sizeof a, "AY%d", i);
            if ((err = put_person(job->region_codes, txn, 0, a, i, 0)))
                break;
            snprintf(b, sizeof b, "BY%d", i);
            if ((err = put_binding(job->region_codes, txn, b, 1, a, 0, true)))
                break;
            snprintf(b, sizeof b, "CY%d", i);
            err = put_binding(job->region_codes, txn, b, 2, a, 0, true);
            break;
        case 1: /* BX pays in full; BY is first in order but has nothing to share */
            snprintf(a, sizeof a, "AX%d", i);
            snprintf(b, sizeof b, "BX%d", i);
            if ((err = put_person(job->region_codes, txn, 1, b, i, RICH)) || (err = put_binding(job->region_codes, txn, b, 1, a, 0, false)))
                break;
            snprintf(a, sizeof a, "AY%d", i);
            snprintf(b, sizeof b, "BY%d", i);
            if ((err = put_person(job->region_codes, txn, 1, b, i, 0)) == GJ_OK)
                err = put_binding(job->region_codes, txn, b, 1, a, 0, false);
            break;
        default:
            snprintf(a, sizeof a, "AY%d", i);
            snprintf(b, sizeof b, "CY%d", i);
            if ((err = put_person(job->region_codes, txn, 2, b, i, RICH)) == GJ_OK)
                err = put_binding(job->region_codes, txn, b, 2, a, 0, false);
        }
    }
    return err;
}

int bench_load_region(const char *const region_codes[], int region, const char *dir, int people)
{
    store *s;
    store_options so = {0};
    if (store_open(&s, dir, &so) != GJ_OK)
        return -1;
    int rc = 0;
    for (int from = 0; from < people && rc == 0; from += 2000) {
        load_job job = {region_codes, region, from, from + 2000 < people ? from + 2000 : people};
        if (store_submit_wait(s, load_apply, &job) != GJ_OK)
            rc = -1;
    }
    store_close(s);
    return rc;
}

