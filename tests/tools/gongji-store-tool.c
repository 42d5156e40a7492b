/* Test and repair tool: reach into a stopped node's store. Used by tests to create a
 * disagreement that reconcile must find, and by the clearing benchmark to give a node a
 * month of rows without making each payment. Never part of normal operation. */
#include <lmdb.h>
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

static uint64_t be64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

static void put64(unsigned char *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (unsigned char)v;
}

/* First answers whose call id begins with prefix made to look days older: the time in
 * each record's header and its entry in the time index (store/idempotency.c's layout:
 * a 16-byte digest, a 4-byte length, then the 8-byte unix ms; the index key is those
 * 8 bytes and the record's key, caller NUL call id). Raw LMDB, as a stopped node's
 * store; the number aged is printed. */
static int idem_age(const char *dir, int days, const char *prefix)
{
    enum { TIME_AT = 20, HDR = 28 };
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi idem, by_time;
    MDB_cursor *cur;
    int rc = mdb_env_create(&env);
    if (rc != 0)
        return 1;
    if ((rc = mdb_env_set_maxdbs(env, 64)) == 0 && (rc = mdb_env_open(env, dir, 0, 0600)) == 0 &&
        (rc = mdb_txn_begin(env, NULL, 0, &txn)) == 0) {
        if ((rc = mdb_dbi_open(txn, "idem", 0, &idem)) == 0 && (rc = mdb_dbi_open(txn, "idem_by_time", 0, &by_time)) == 0)
            rc = mdb_cursor_open(txn, by_time, &cur);
        /* Aged keys sort earlier in the index: collect them all before changing any. */
        size_t n = 0, cap = 0;
        unsigned char **keys = NULL;
        size_t *lens = NULL;
        MDB_val k, v;
        for (int op = MDB_FIRST; rc == 0 && mdb_cursor_get(cur, &k, &v, op) == 0; op = MDB_NEXT) {
            const char *call = memchr((const char *)k.mv_data + 8, '\0', k.mv_size - 8);
            size_t rest = call ? k.mv_size - (size_t)(call + 1 - (const char *)k.mv_data) : 0;
            if (call == NULL || rest < strlen(prefix) || memcmp(call + 1, prefix, strlen(prefix)) != 0)
                continue;
            if (n == cap) {
                cap = cap ? cap * 2 : 16;
                keys = realloc(keys, cap * sizeof *keys);
                lens = realloc(lens, cap * sizeof *lens);
            }
            keys[n] = malloc(k.mv_size);
            memcpy(keys[n], k.mv_data, k.mv_size);
            lens[n++] = k.mv_size;
        }
        if (rc == 0)
            mdb_cursor_close(cur);
        uint64_t shift = (uint64_t)days * 86400000ULL;
        for (size_t i = 0; rc == 0 && i < n; i++) {
            MDB_val old = {lens[i], keys[i]}, rec = {lens[i] - 8, keys[i] + 8}, val;
            if ((rc = mdb_get(txn, idem, &rec, &val)) != 0 || val.mv_size < HDR)
                break;
            unsigned char *copy = malloc(val.mv_size);
            memcpy(copy, val.mv_data, val.mv_size);
            uint64_t then = be64(copy + TIME_AT) - shift;
            put64(copy + TIME_AT, then);
            MDB_val nv = {val.mv_size, copy}, empty = {0, ""};
            if ((rc = mdb_put(txn, idem, &rec, &nv, 0)) == 0 && (rc = mdb_del(txn, by_time, &old, NULL)) == 0) {
                put64(keys[i], then);
                rc = mdb_put(txn, by_time, &old, &empty, 0);
            }
            free(copy);
        }
        for (size_t i = 0; i < n; i++)
            free(keys[i]);
        free(keys);
        free(lens);
        rc = rc == 0 ? mdb_txn_commit(txn) : (mdb_txn_abort(txn), rc);
        if (rc == 0)
            printf("%zu\n", n);
    }
    mdb_env_close(env);
    if (rc != 0)
        fprintf(stderr, "idem-age: %s\n", mdb_strerror(rc));
    return rc == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc == 5 && strcmp(argv[2], "idem-age") == 0)
        return idem_age(argv[1], atoi(argv[3]), argv[4]);
    if (argc < 4) {
        fprintf(stderr,
                "usage: gongji-store-tool DATA_DIR clearing-list WINDOW\n"
                "       gongji-store-tool DATA_DIR clearing-delete WINDOW COUNTERPARTY SETL_ID LEG KIND\n"
                "       gongji-store-tool DATA_DIR clearing-fill FIRST_WINDOW DAYS ROWS COUNTERPARTIES\n"
                "       gongji-store-tool DATA_DIR idem-age DAYS CALL_ID_PREFIX\n"
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
