/* What the store's unit tests share (test_store_*.c): the fixture that gives every
 * test a fresh directory and its own store, builders of valid records, small apply
 * functions, and raw LMDB writes for tests that must damage the file. cmocka asserts
 * run on the test's main thread only; other threads and callbacks record what they
 * saw. */
#ifndef GJ_STORE_FIXTURE_H
#define GJ_STORE_FIXTURE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdbool.h>

#include "gj_util.h"
#include "store.h"

/* ---- fixture ---- */

/* A job that holds the writer until the test opens it, so the jobs submitted
 * meanwhile wait in the queue and are taken as one batch (test_store_writer.c). */
struct gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool entered, open;
};

/* What a test leaves running when an assertion fails is ended by teardown. */
struct fx {
    char dir[64];
    store *s;
    struct gate *gate; /* opened by teardown so the writer can drain */
    pthread_t closer;
    bool closer_running;
};

/* cmocka setup and teardown: a fresh directory per test, removed afterwards. */
int setup(void **state);
int teardown(void **state);

/* (Re)open the fixture's store with opts (NULL: defaults). */
void open_with(struct fx *f, const store_options *opts);
struct fx *open_fx(void **state);
/* A read transaction on the fixture's store. */
store_txn *rd(struct fx *f);
void gate_open(struct gate *g);

/* ---- records ---- */

void set_str(char *dst, size_t size, const char *src);
#define SET(field, src) set_str((field), sizeof(field), (src))

store_person person_of(const char *psn_no);
store_journal_entry entry_of(const char *psn_no, uint8_t kind, int64_t amount);
store_binding binding_of(const char *sponsor, const char *beneficiary, int32_t end);
const store_digest *dg(uint64_t n);
store_spend spend_of(const char *sponsor, int32_t date, int64_t ms, const char *setl_id);
store_settlement setl_of(const char *setl_id, const char *psn_no, int32_t date, int64_t ms);

#define SETL_A "430100-20240101-000000000001"
#define SETL_B "430100-20240101-000000000002"

store_hold hold_of(const char *setl_id, uint32_t leg, uint8_t state, int64_t amount);
store_decision decision_of(const char *setl_id, uint32_t legs);

/* ---- reads ---- */

bool person_exists(struct fx *f, const char *psn_no);
uint64_t journal_count(struct fx *f);
store_account account_of(struct fx *f, const char *psn_no);

/* ---- writes ---- */

gj_err apply_put_person(store_txn *t, void *arg);
gj_err apply_ensure(store_txn *t, void *arg);
void put_person(struct fx *f, const char *psn_no);

/* Moves money on one account, recording each move's own result; apply itself
 * succeeds so that refused moves can be observed next to accepted ones. */
struct moves {
    bool ensure;
    const char *psn_no;
    size_t n;
    store_journal_entry e[8];
    gj_err rv[8];
    store_account after[8];
};

gj_err apply_moves(store_txn *t, void *arg);
void credit(struct fx *f, const char *psn_no, int64_t amount);

struct spends {
    size_t n;
    store_spend sp[16];
    gj_err rv[16];
};

gj_err apply_spends(store_txn *t, void *arg);
gj_err apply_setl(store_txn *t, void *arg);
gj_err apply_hold(store_txn *t, void *arg);
gj_err apply_decision(store_txn *t, void *arg);
void put_hold(struct fx *f, store_hold h);
void put_decision(struct fx *f, store_decision d);

/* Write one record into the store's file directly, bypassing every check. */
void raw_putn(const char *dir, const char *db, const void *key, size_t klen, const void *val,
              size_t len);
void raw_put(const char *dir, const char *db, const char *key, const void *val, size_t len);

/* ---- scans ---- */

/* What a scan saw, as "setl_id/leg" (holds) or setl_id, in visiting order. */
struct seen {
    int n;
    int stop_after; /* 0: never stop */
    char what[64][64];
    store_hold hold[64];
};

bool saw(struct seen *s);
bool see_hold(const store_hold *h, void *arg);
bool see_decision(const store_decision *d, void *arg);
bool see_settlement(const store_settlement *st, void *arg);
struct seen open_holds(struct fx *f, uint64_t *count);
struct seen all_holds(struct fx *f);

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

#endif
