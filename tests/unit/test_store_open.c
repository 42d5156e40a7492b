/* Unit tests of opening a store and of its transactions (store/store.c, store/writer.c):
 * a missing directory, damaged records and another format version, counters that
 * survive a reopen, read snapshots used from any thread, writes refused on a read txn. */
#include "store_fixture.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

struct seqs {
    const char *name;
    size_t n;
    uint64_t v[4];
    gj_err rv;
    bool abort_after;
};

static gj_err apply_seqs(store_txn *t, void *arg)
{
    struct seqs *s = arg;
    for (size_t i = 0; i < s->n; i++)
        if ((s->rv = store_next_seq(t, s->name, &s->v[i])) != GJ_OK)
            return s->rv;
    return s->abort_after ? GJ_ERR_ABORT : GJ_OK;
}

static void test_next_seq_survives_reopen(void **state)
{
    struct fx *f = open_fx(state);
    struct seqs a = {.name = "a", .n = 3}, b = {.name = "b", .n = 1};
    assert_int_equal(store_submit_wait(f->s, apply_seqs, &a), GJ_OK);
    assert_int_equal(a.v[0], 1);
    assert_int_equal(a.v[1], 2);
    assert_int_equal(a.v[2], 3);
    assert_int_equal(store_submit_wait(f->s, apply_seqs, &b), GJ_OK);
    assert_int_equal(b.v[0], 1);

    open_with(f, NULL);
    struct seqs aborted = {.name = "a", .n = 2, .abort_after = true};
    assert_int_equal(store_submit_wait(f->s, apply_seqs, &aborted), GJ_ERR_ABORT);
    assert_int_equal(aborted.v[1], 5);
    struct seqs again = {.name = "a", .n = 1};
    assert_int_equal(store_submit_wait(f->s, apply_seqs, &again), GJ_OK);
    assert_int_equal(again.v[0], 4); /* the aborted values were never taken */

    struct seqs longname = {.name = "123456789012345678901234567890123", .n = 1};
    assert_int_equal(store_submit_wait(f->s, apply_seqs, &longname), GJ_ERR_INVAL);
    struct seqs maxname = {.name = "12345678901234567890123456789012", .n = 1};
    assert_int_equal(store_submit_wait(f->s, apply_seqs, &maxname), GJ_OK);
    assert_int_equal(maxname.v[0], 1);
}

static void test_write_on_read_txn_refused(void **state)
{
    struct fx *f = open_fx(state);
    credit(f, "P1", 100);
    store_txn *t = rd(f);
    store_person p = person_of("P2");
    store_journal_entry e = entry_of("P1", STORE_J_CREDIT, 10);
    store_binding b = binding_of("S1", "B1", 0);
    store_order o = {.count = 0};
    store_settlement st;
    memset(&st, 0, sizeof st);
    SET(st.setl_id, "X");
    st.status = STORE_SETL_COMMITTED;
    store_spend sp = spend_of("S1", 20240101, 1, "X");
    uint64_t seq;

    assert_int_equal(store_person_put(t, &p), GJ_ERR_INVAL);
    assert_int_equal(store_account_ensure(t, "P2"), GJ_ERR_INVAL);
    assert_int_equal(store_account_move(t, &e, NULL), GJ_ERR_INVAL);
    assert_int_equal(e.seq, 0);
    assert_int_equal(store_account_hold(t, "P1", 1, NULL), GJ_ERR_INVAL);
    assert_int_equal(store_binding_put(t, &b), GJ_ERR_INVAL);
    assert_int_equal(store_order_put(t, "B1", &o), GJ_ERR_INVAL);
    assert_int_equal(store_idem_put(t, "c", "d", dg(1), "x", 1), GJ_ERR_INVAL);
    assert_int_equal(store_next_seq(t, "a", &seq), GJ_ERR_INVAL);
    assert_int_equal(store_settlement_put(t, &st), GJ_ERR_INVAL);
    assert_int_equal(store_spend_put(t, &sp), GJ_ERR_INVAL);
    store_hold h;
    memset(&h, 0, sizeof h);
    SET(h.setl_id, "X");
    SET(h.sponsor, "P1");
    SET(h.beneficiary, "B1");
    SET(h.coordinator, "430100");
    h.state = STORE_HOLD_HELD;
    store_decision d;
    memset(&d, 0, sizeof d);
    SET(d.setl_id, "X");
    assert_int_equal(store_hold_put(t, &h), GJ_ERR_INVAL);
    assert_int_equal(store_decision_put(t, &d), GJ_ERR_INVAL);
    assert_int_equal(store_hold_open_count(t), 0);
    assert_int_equal(store_decision_open_count(t), 0);
    store_read_end(t);

    t = rd(f);
    assert_int_equal(store_person_count(t), 0);
    assert_int_equal(store_journal_count(t), 1);
    assert_int_equal(store_binding_count(t), 0);
    store_read_end(t);
    assert_int_equal(account_of(f, "P1").held, 0);
}

struct thread_end {
    store_txn *t;
    gj_err rv;
};

static void *end_elsewhere(void *arg)
{
    struct thread_end *te = arg;
    store_person p;
    te->rv = store_person_get(te->t, "R1", &p);
    store_read_end(te->t);
    return NULL;
}

static void test_read_txn_is_a_snapshot_usable_from_any_thread(void **state)
{
    struct fx *f = open_fx(state);
    store_txn *before = rd(f);
    put_person(f, "R1");

    /* The older snapshot does not see the write, even from another thread. */
    struct thread_end te = {.t = before};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, end_elsewhere, &te), 0);
    pthread_join(th, NULL);
    assert_int_equal(te.rv, GJ_ERR_NOTFOUND);
    assert_true(person_exists(f, "R1"));

    /* More open at once than are pooled, then reused: every one sees the data. */
    store_txn *many[40];
    for (int i = 0; i < 40; i++)
        many[i] = rd(f);
    for (int i = 0; i < 40; i++)
        store_read_end(many[i]);
    for (int i = 0; i < 40; i++) {
        many[i] = rd(f);
        assert_int_equal(store_person_count(many[i]), 1);
    }
    put_person(f, "R2"); /* renewed handles must see new commits */
    for (int i = 0; i < 40; i++)
        store_read_end(many[i]);
    for (int i = 0; i < 20; i++) {
        store_txn *t = rd(f);
        assert_int_equal(store_person_count(t), 2);
        store_read_end(t);
    }
    store_read_end(NULL); /* safe */
}

static bool count_accounts(const char *psn_no, const store_account *a, void *arg)
{
    (void)psn_no;
    (void)a;
    (*(int *)arg)++;
    return true;
}

static void test_damaged_records_and_other_format_read_as_corrupt(void **state)
{
    struct fx *f = open_fx(state);
    credit(f, "P1", 5);
    put_person(f, "P1");
    store_close(f->s);
    f->s = NULL;

    raw_put(f->dir, "persons", "P2", "abc", 3);
    raw_putn(f->dir, "ledger", "P3\0~", 4, "abc", 3); /* P3's account key */
    char longer[sizeof(store_person) + 1];
    memset(longer, 'x', sizeof longer);
    raw_put(f->dir, "persons", "P4", longer, sizeof longer);
    open_with(f, NULL);
    store_txn *t = rd(f);
    store_person p;
    store_account a;
    int n = 0;
    assert_int_equal(store_person_get(t, "P1", &p), GJ_OK);
    assert_int_equal(store_person_get(t, "P2", &p), GJ_ERR_CORRUPT);
    assert_int_equal(store_person_get(t, "P4", &p), GJ_ERR_CORRUPT);
    assert_int_equal(store_account_get(t, "P3", &a), GJ_ERR_CORRUPT);
    assert_int_equal(store_account_scan(t, count_accounts, &n), GJ_ERR_CORRUPT);
    assert_int_equal(n, 1); /* P1 came before the damaged P3 */
    store_read_end(t);
    store_close(f->s);
    f->s = NULL;

    /* Without the upgrade option (test_store_upgrade.c) every other format is refused.
     * Format 11 kept the patient index in the ledger tree; format 10 had no credit rows; format 9 kept no time with idempotency records; format 8 had no family pools (a pool's movements would read as damaged);
     * format 7 knew no RECOVERED settlement (an older build would read one as damaged);
     * format 6 kept a 64-bit FNV hash of each request in its idempotency record;
     * format 5 had no speculative mark on decision legs; format 4 stored journal
     * entries at full size; format 3 kept accounts, spend records and the patient index
     * in trees of their own: their files are refused, as is any later format. */
    static int dummy;
    const unsigned char other[10][4] = {{0, 0, 0, 3}, {0, 0, 0, 4}, {0, 0, 0, 5}, {0, 0, 0, 6}, {0, 0, 0, 7},
                                        {0, 0, 0, 8}, {0, 0, 0, 9}, {0, 0, 0, 10}, {0, 0, 0, 11}, {0, 0, 0, 13}};
    for (int i = 0; i < 10; i++) {
        raw_put(f->dir, "meta", "format", other[i], sizeof other[i]);
        store *s = (store *)&dummy; /* must be cleared on failure */
        gj_err opened = store_open(&s, f->dir, NULL);
        if (opened != GJ_ERR_FORMAT)
            fail_msg("format %d opened: %s", other[i][3], gj_err_name(opened));
        assert_null(s);
    }
}

/* One process per data directory: a second open is refused and names the holder. */
static void test_a_second_open_of_the_directory_is_refused(void **state)
{
    struct fx *f = open_fx(state);
    store *s = (store *)f; /* must be cleared on failure */
    assert_int_equal(store_open(&s, f->dir, NULL), GJ_ERR_BUSY);
    assert_null(s);
    assert_int_equal(store_dir_holder(f->dir), (long)getpid());
    store_close(f->s);
    f->s = NULL;
    assert_int_equal(store_open(&s, f->dir, NULL), GJ_OK); /* free again once closed */
    f->s = s;
}

static void test_open_refuses_missing_directory(void **state)
{
    struct fx *f = *state;
    char missing[96];
    store *s = NULL;
    snprintf(missing, sizeof missing, "%s/absent", f->dir);
    assert_int_equal(store_open(&s, missing, NULL), GJ_ERR_IO);
    assert_null(s);
    assert_int_equal(store_open(&s, NULL, NULL), GJ_ERR_INVAL);
    assert_int_equal(store_submit(NULL, apply_put_person, NULL, NULL), GJ_ERR_INVAL);
    store_close(NULL); /* safe */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_next_seq_survives_reopen),
        T(test_write_on_read_txn_refused),
        T(test_read_txn_is_a_snapshot_usable_from_any_thread),
        T(test_damaged_records_and_other_format_read_as_corrupt),
        T(test_a_second_open_of_the_directory_is_refused),
        T(test_open_refuses_missing_directory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
