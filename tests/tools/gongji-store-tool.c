/* Test and repair tool: reach into a stopped node's store. Used by tests to create a
 * disagreement that reconcile must find. Never part of normal operation. */
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
                "The node owning DATA_DIR must be stopped.\n");
        return 2;
    }
    store *s;
    store_options opts = {.map_size = 1ULL << 30};
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
    } else {
        fprintf(stderr, "unknown command\n");
        err = GJ_ERR_INVAL;
    }
    store_close(s);
    if (err != GJ_OK)
        fprintf(stderr, "failed: %s\n", gj_err_name(err));
    return err == GJ_OK ? 0 : 1;
}
