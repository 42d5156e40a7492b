/* Test and repair tool: reach into a stopped node's store. Used by tests to create a
 * disagreement that reconcile must find, and by the clearing benchmark to give a node a
 * month of rows without making each payment. Never part of normal operation. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gj_util.h"
#include "store.h"

typedef struct delete_args {
    int32_t window;
    const char *counterparty, *setl_id;
    uint32_t leg;
    uint8_t kind;
} delete_args;

static gj_err delete_apply(store_txn *txn, void *arg)
{
    delete_args *a = arg;
    return store_clearing_delete(txn, a->window, a->counterparty, a->setl_id, a->leg, a->kind);
}

/* Synthetic clearing rows: rows of them over days windows from the first, with
 * counterparties regions, a batch a transaction. */
typedef struct fill_args {
    int32_t first;
    int days, counterparties;
    uint64_t from_row, to_row;
} fill_args;

static gj_err fill_apply(store_txn *txn, void *arg)
{
    fill_args *a = arg;
    for (uint64_t i = a->from_row; i < a->to_row; i++) {
        store_clearing e;
        memset(&e, 0, sizeof e);
        e.window = a->first;
        for (uint64_t d = 0; d < i % (uint64_t)a->days; d++)
            e.window = gj_date_next(e.window);
        snprintf(e.counterparty, sizeof e.counterparty, "51%02d00", (int)(2 + i % (uint64_t)a->counterparties));
        snprintf(e.setl_id, sizeof e.setl_id, "430100-%08d-%09llu", (int)(e.window % 100000000), (unsigned long long)(i % 1000000000ULL));
        snprintf(e.sponsor, sizeof e.sponsor, "S%llu", (unsigned long long)i);
        snprintf(e.beneficiary, sizeof e.beneficiary, "B%llu", (unsigned long long)i);
        e.kind = STORE_CLR_PAYMENT;
        e.direction = i % 3 == 0 ? STORE_CLR_WE_OWE : STORE_CLR_OWED_TO_US;
        e.amount = 100 + (int64_t)(i % 5000);
        e.unix_ms = gj_now_unix_ms();
        gj_err err = store_clearing_put(txn, &e);
        if (err != GJ_OK)
            return err;
    }
    return GJ_OK;
}

static bool print_entry(const store_clearing *e, void *arg)
{
    (void)arg;
    printf("%d %s %s %u %u %s %lld\n", e->window, e->counterparty, e->setl_id, e->leg, e->kind,
           e->direction == STORE_CLR_OWED_TO_US ? "owed_to_us" : "we_owe", (long long)e->amount);
    return true;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr,
                "usage: gongji-store-tool DATA_DIR clearing-list WINDOW\n"
                "       gongji-store-tool DATA_DIR clearing-delete WINDOW COUNTERPARTY SETL_ID LEG KIND\n"
                "       gongji-store-tool DATA_DIR clearing-fill FIRST_WINDOW DAYS ROWS COUNTERPARTIES\n"
                "The node owning DATA_DIR must be stopped.\n");
        return 2;
    }
    store *s;
    store_options opts = {.map_size = 8ULL << 30};
    gj_err err = store_open(&s, argv[1], &opts);
    if (err != GJ_OK) {
        fprintf(stderr, "cannot open %s: %s\n", argv[1], gj_err_name(err));
        return 1;
    }
    int32_t window = atoi(argv[3]);
    if (strcmp(argv[2], "clearing-list") == 0) {
        store_txn *txn;
        if ((err = store_read_begin(s, &txn)) == GJ_OK) {
            err = store_clearing_scan(txn, window, "", print_entry, NULL);
            store_read_end(txn);
        }
    } else if (strcmp(argv[2], "clearing-delete") == 0 && argc == 8) {
        delete_args a = {window, argv[4], argv[5], (uint32_t)atoi(argv[6]), (uint8_t)atoi(argv[7])};
        err = store_submit_wait(s, delete_apply, &a);
    } else if (strcmp(argv[2], "clearing-fill") == 0 && argc == 7) {
        fill_args a = {window, atoi(argv[4]), atoi(argv[6]), 0, 0};
        uint64_t rows = strtoull(argv[5], NULL, 10);
        if (a.days < 1 || a.counterparties < 1 || a.counterparties > 97 || !gj_date_valid(window))
            err = GJ_ERR_INVAL;
        for (uint64_t from = 0; err == GJ_OK && from < rows; from += 20000) {
            a.from_row = from;
            a.to_row = from + 20000 < rows ? from + 20000 : rows;
            err = store_submit_wait(s, fill_apply, &a);
        }
    } else {
        fprintf(stderr, "unknown command\n");
        err = GJ_ERR_INVAL;
    }
    store_close(s);
    if (err != GJ_OK)
        fprintf(stderr, "failed: %s\n", gj_err_name(err));
    return err == GJ_OK ? 0 : 1;
}
