/* Upgrading a store in place (store/upgrade.c): records written as an older format
 * wrote them (rewritten here byte by byte, as that format laid them out) are converted
 * when the store is opened with upgrade, after a copy of the old store is made; opened
 * without it, the store is refused and left as it was. Stores made by an old build
 * itself are upgraded by tests/service/test_upgrade.sh. */
#include "store_fixture.h"

#include <lmdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

/* ---- raw access, as an old build's file ---- */

typedef void (*raw_fn)(MDB_txn *txn, MDB_dbi dbi, void *arg);

static void raw_each(const char *dir, const char *db, raw_fn fn, void *arg)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 32), 0);
    assert_int_equal(mdb_env_open(env, dir, 0, 0600), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, db, 0, &dbi), 0);
    fn(txn, dbi, arg);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

static void drop_all(MDB_txn *txn, MDB_dbi dbi, void *arg)
{
    (void)arg;
    assert_int_equal(mdb_drop(txn, dbi, 0), 0);
}

/* Each first answer as format 9 wrote it (no time), or format 6 (an 8-byte hash). */
struct old_idem {
    unsigned format;
    uint64_t hash_of[4]; /* format 6: the hash to write, by record order */
};

static void to_old_idem(MDB_txn *txn, MDB_dbi dbi, void *arg)
{
    struct old_idem *o = arg;
    MDB_cursor *c;
    MDB_val k, v;
    unsigned char buf[512];
    int i = 0;
    assert_int_equal(mdb_cursor_open(txn, dbi, &c), 0);
    for (int rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT), i++) {
        const unsigned char *cur = v.mv_data;
        size_t reply = v.mv_size - 28, at;
        if (o->format == 9) {
            memcpy(buf, cur, 20); /* digest, length */
            at = 20;
        } else {
            for (int b = 0; b < 8; b++)
                buf[b] = (unsigned char)(o->hash_of[i] >> (56 - 8 * b));
            memcpy(buf + 8, cur + 16, 4); /* length */
            at = 12;
        }
        memcpy(buf + at, cur + 28, reply);
        MDB_val nv = {at + reply, buf};
        char key[200];
        memcpy(key, k.mv_data, k.mv_size);
        MDB_val nk = {k.mv_size, key};
        assert_int_equal(mdb_cursor_put(c, &nk, &nv, MDB_CURRENT), 0);
    }
    mdb_cursor_close(c);
}

static void set_format(struct fx *f, unsigned format)
{
    const unsigned char v[4] = {0, 0, 0, (unsigned char)format};
    raw_put(f->dir, "meta", "format", v, sizeof v);
}

static unsigned format_of(const char *dir)
{
    store_backup_info info;
    assert_int_equal(store_info(dir, &info), GJ_OK);
    return info.format;
}

/* Closed, rewritten as `format` wrote it; refused without upgrade (and left so); then
 * opened with upgrade. Returns the report. */
static store_upgrade_report reopen_upgraded(struct fx *f, unsigned format)
{
    store *s = NULL;
    assert_int_equal(store_open(&s, f->dir, NULL), GJ_ERR_FORMAT);
    assert_int_equal(format_of(f->dir), format);
    static store_upgrade_report r;
    store_options o = {.upgrade = true, .upgrade_report = &r};
    open_with(f, &o);
    assert_int_equal(r.from, format);
    assert_int_equal(format_of(f->dir), store_format_version());
    /* The old store was copied first, as it was. */
    assert_int_equal(format_of(r.backup_dir), format);
    struct stat st;
    assert_int_equal(stat(r.backup_dir, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    return r;
}

static gj_err put_answers(store_txn *t, void *arg)
{
    (void)arg;
    gj_err err = store_idem_put(t, "H43010100001", "bill-1", dg(1), "first answer", 12);
    if (err == GJ_OK)
        err = store_idem_put(t, "H43010100001", "bill-2", dg(2), "second", 6);
    if (err == GJ_OK)
        err = store_idem_put(t, "gongji-load", "people.csv:1234#1", dg(3), "100 0", 5);
    return err;
}

struct prune_case {
    int64_t before;
    size_t pruned;
    gj_err rv;
};

static gj_err apply_prune(store_txn *t, void *arg)
{
    struct prune_case *p = arg;
    p->rv = store_idem_prune(t, p->before, 100, &p->pruned);
    return GJ_OK;
}

static void test_format9_first_answers_get_the_upgrade_time_and_an_index(void **state)
{
    struct fx *f = open_fx(state);
    assert_int_equal(store_submit_wait(f->s, put_answers, NULL), GJ_OK);
    store_close(f->s);
    f->s = NULL;
    struct old_idem o = {.format = 9};
    raw_each(f->dir, "idem", to_old_idem, &o);
    raw_each(f->dir, "idem_by_time", drop_all, NULL);
    set_format(f, 9);

    int64_t before = gj_now_unix_ms();
    store_upgrade_report r = reopen_upgraded(f, 9);
    assert_int_equal(r.first_answers, 3);
    assert_int_equal(r.decisions, 0);
    store_txn *t = rd(f);
    store_digest d;
    const void *reply;
    size_t len;
    assert_int_equal(store_idem_get(t, "H43010100001", "bill-1", &d, &reply, &len), GJ_OK);
    assert_true(store_digest_equal(&d, dg(1)));
    assert_int_equal(len, 12);
    assert_memory_equal(reply, "first answer", 12);
    assert_int_equal(store_idem_count(t), 3);
    store_read_end(t);
    /* Kept from the upgrade on: nothing is older than it; all are indexed by it. */
    struct prune_case p = {.before = before - 1};
    assert_int_equal(store_submit_wait(f->s, apply_prune, &p), GJ_OK);
    assert_int_equal(p.rv, GJ_OK);
    assert_int_equal(p.pruned, 0);
    p.before = gj_now_unix_ms() + 1000;
    assert_int_equal(store_submit_wait(f->s, apply_prune, &p), GJ_OK);
    assert_int_equal(p.pruned, 3);
}

static void test_format6_hashes_are_kept_tagged_tombstones_and_loads_convert_exactly(void **state)
{
    struct fx *f = open_fx(state);
    assert_int_equal(store_submit_wait(f->s, put_answers, NULL), GJ_OK);
    store_close(f->s);
    f->s = NULL;
    /* Key order: H...bill-1, H...bill-2, gongji-load...: an answer, a tombstone (hash
     * 1), a loader's progress record (the file's fingerprint). */
    struct old_idem o = {.format = 6, .hash_of = {0x1122334455667788ULL, 1, 0xabcdef0102030405ULL}};
    raw_each(f->dir, "idem", to_old_idem, &o);
    raw_each(f->dir, "idem_by_time", drop_all, NULL);
    set_format(f, 6);

    store_upgrade_report r = reopen_upgraded(f, 6);
    assert_int_equal(r.first_answers, 3);
    store_txn *t = rd(f);
    store_digest d;
    const void *reply;
    size_t len;
    uint64_t fnv = 0;
    assert_int_equal(store_idem_get(t, "H43010100001", "bill-1", &d, &reply, &len), GJ_OK);
    assert_true(store_digest_legacy(&d, &fnv));
    assert_true(fnv == 0x1122334455667788ULL);
    assert_memory_equal(reply, "first answer", 12);
    assert_int_equal(store_idem_get(t, "H43010100001", "bill-2", &d, &reply, &len), GJ_OK);
    assert_true(store_digest_equal(&d, &store_tombstone));
    assert_false(store_digest_legacy(&d, NULL));
    assert_int_equal(store_idem_get(t, "gongji-load", "people.csv:1234#1", &d, &reply, &len), GJ_OK);
    const unsigned char want[16] = {0xab, 0xcd, 0xef, 0x01, 0x02, 0x03, 0x04, 0x05, 1, 0, 0, 0, 0, 0, 0, 0};
    assert_memory_equal(d.bytes, want, sizeof want);
    assert_memory_equal(reply, "100 0", 5);
    store_read_end(t);
}

static gj_err put_old_decision(store_txn *t, void *arg)
{
    (void)arg;
    store_decision d = decision_of("430100-20240101-000001-0000000001", 2);
    return store_decision_put(t, &d);
}

static void mark_padding(MDB_txn *txn, MDB_dbi dbi, void *arg)
{
    (void)arg;
    MDB_cursor *c;
    MDB_val k, v;
    unsigned char buf[sizeof(store_decision)];
    assert_int_equal(mdb_cursor_open(txn, dbi, &c), 0);
    assert_int_equal(mdb_cursor_get(c, &k, &v, MDB_FIRST), 0);
    memcpy(buf, v.mv_data, v.mv_size);
    /* What a format-5 build left in the padding where the mark now is. */
    buf[offsetof(store_decision, legs[0].speculative)] = 0xab;
    buf[offsetof(store_decision, legs[1].speculative)] = 0x7f;
    MDB_val nv = {v.mv_size, buf};
    assert_int_equal(mdb_cursor_put(c, &k, &nv, MDB_CURRENT), 0);
    mdb_cursor_close(c);
}

static void test_format5_decisions_get_their_speculative_mark_cleared(void **state)
{
    struct fx *f = open_fx(state);
    assert_int_equal(store_submit_wait(f->s, put_old_decision, NULL), GJ_OK);
    store_close(f->s);
    f->s = NULL;
    raw_each(f->dir, "decisions", mark_padding, NULL);
    raw_each(f->dir, "idem_by_time", drop_all, NULL);
    set_format(f, 5);

    store_upgrade_report r = reopen_upgraded(f, 5);
    assert_int_equal(r.decisions, 1);
    store_txn *t = rd(f);
    store_decision d, want = decision_of("430100-20240101-000001-0000000001", 2);
    assert_int_equal(store_decision_get(t, "430100-20240101-000001-0000000001", &d), GJ_OK);
    assert_int_equal(d.leg_count, 2);
    assert_int_equal(d.legs[0].speculative, 0);
    assert_int_equal(d.legs[1].speculative, 0);
    assert_int_equal(d.legs[1].amount, want.legs[1].amount);
    assert_string_equal(d.legs[1].sponsor, want.legs[1].sponsor);
    store_read_end(t);
}

static void test_a_person_numbered_like_a_pool_is_refused_and_nothing_changes(void **state)
{
    struct fx *f = open_fx(state);
    put_person(f, "POOL4301000001");
    store_close(f->s);
    f->s = NULL;
    raw_each(f->dir, "idem_by_time", drop_all, NULL);
    set_format(f, 8);
    store *s = NULL;
    static store_upgrade_report r;
    store_options o = {.upgrade = true, .upgrade_report = &r};
    assert_int_equal(store_open(&s, f->dir, &o), GJ_ERR_FORMAT);
    assert_null(s);
    assert_non_null(strstr(r.why, "POOL"));
    assert_int_equal(format_of(f->dir), 8);
}

/* ---- format 11: the patient index in the ledger tree ---- */

static gj_err put_patients(store_txn *t, void *arg)
{
    (void)arg;
    store_settlement a = setl_of("S1", "B1", 20240103, 3000), b = setl_of("S2", "B1", 20240101, 1000),
                     c = setl_of("S3", "A1", 20240102, 2000);
    store_person b1 = person_of("B1");
    store_spend paid = spend_of("B1", 20240102, 1500, "S0"); /* B1's own ledger records stay */
    gj_err err = store_settlement_put(t, &a);
    if (err == GJ_OK)
        err = store_settlement_put(t, &b);
    if (err == GJ_OK)
        err = store_settlement_put(t, &c);
    if (err == GJ_OK)
        err = store_person_put(t, &b1);
    if (err == GJ_OK)
        err = store_account_ensure(t, "B1");
    if (err == GJ_OK)
        err = store_spend_put(t, &paid);
    return err;
}

/* Each entry of settlements_by_day (date "psn\0" ms id) back into the ledger as format 11
 * filed it ("psn\0P" date ms id), then the tree emptied. */
static void to_ledger_index(MDB_txn *txn, MDB_dbi dbi, void *arg)
{
    size_t *moved = arg;
    MDB_dbi ledger;
    MDB_cursor *c;
    MDB_val k, v;
    assert_int_equal(mdb_dbi_open(txn, "ledger", 0, &ledger), 0);
    assert_int_equal(mdb_cursor_open(txn, dbi, &c), 0);
    while (mdb_cursor_get(c, &k, &v, *moved == 0 ? MDB_FIRST : MDB_NEXT) == 0) {
        const unsigned char *kp = k.mv_data;
        size_t psn = strlen((const char *)kp + 4);
        unsigned char old[200];
        memcpy(old, kp + 4, psn);
        old[psn] = 0;
        old[psn + 1] = 'P';
        memcpy(old + psn + 2, kp, 4);
        memcpy(old + psn + 6, kp + 4 + psn + 1, k.mv_size - 4 - psn - 1);
        MDB_val ok = {k.mv_size + 1, old}, empty = {0, NULL};
        assert_int_equal(mdb_put(txn, ledger, &ok, &empty, 0), 0);
        (*moved)++;
    }
    mdb_cursor_close(c);
    assert_int_equal(mdb_drop(txn, dbi, 0), 0);
}

/* Keys in the ledger tagged as format 11's patient index. */
static void count_ledger_index(MDB_txn *txn, MDB_dbi dbi, void *arg)
{
    size_t *n = arg;
    MDB_cursor *c;
    MDB_val k, v;
    assert_int_equal(mdb_cursor_open(txn, dbi, &c), 0);
    for (int rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        const unsigned char *nul = memchr(k.mv_data, 0, k.mv_size);
        if (nul != NULL && nul + 1 < (const unsigned char *)k.mv_data + k.mv_size && nul[1] == 'P')
            (*n)++;
    }
    mdb_cursor_close(c);
}

static void test_format11_patient_index_moves_out_of_the_ledger(void **state)
{
    struct fx *f = open_fx(state);
    assert_int_equal(store_submit_wait(f->s, put_patients, NULL), GJ_OK);
    store_close(f->s);
    f->s = NULL;
    size_t moved = 0, left = 0;
    raw_each(f->dir, "settlements_by_day", to_ledger_index, &moved);
    assert_int_equal(moved, 3);
    raw_each(f->dir, "ledger", count_ledger_index, &left);
    assert_int_equal(left, 3);
    set_format(f, 11);

    store_upgrade_report r = reopen_upgraded(f, 11);
    assert_int_equal(r.patient_index, 3);
    store_txn *t = rd(f);
    store_settlement out[4];
    size_t n;
    char cur[80];
    assert_int_equal(store_settlement_list_by_psn(t, "B1", 0, 99991231, "", out, 4, &n, cur), GJ_OK);
    assert_int_equal(n, 2);
    assert_string_equal(out[0].setl_id, "S2");
    assert_string_equal(out[1].setl_id, "S1");
    assert_int_equal(store_settlement_list_by_psn(t, "A1", 0, 99991231, "", out, 4, &n, cur), GJ_OK);
    assert_int_equal(n, 1);
    assert_string_equal(out[0].setl_id, "S3");
    store_account acct;
    assert_int_equal(store_account_get(t, "B1", &acct), GJ_OK);
    store_spend spends[2];
    assert_int_equal(store_spend_list(t, "B1", 0, 99991231, "", spends, 2, &n, cur), GJ_OK);
    assert_int_equal(n, 1);
    assert_string_equal(spends[0].setl_id, "S0");
    store_read_end(t);
    store_close(f->s);
    f->s = NULL;
    left = 0;
    raw_each(f->dir, "ledger", count_ledger_index, &left);
    assert_int_equal(left, 0);
}

/* An entry format 11 could not have written (a value) stops the upgrade: nothing moves. */
static void test_format11_damaged_index_entry_stops_the_upgrade(void **state)
{
    struct fx *f = open_fx(state);
    assert_int_equal(store_submit_wait(f->s, put_patients, NULL), GJ_OK);
    store_close(f->s);
    f->s = NULL;
    size_t moved = 0;
    raw_each(f->dir, "settlements_by_day", to_ledger_index, &moved);
    const unsigned char bad[] = {'B', '2', 0, 'P', 0x01, 0x34, 0xd6, 0xe5, 0, 0, 0, 0, 0, 0, 0, 1, 'S', '9'};
    raw_putn(f->dir, "ledger", bad, sizeof bad, "x", 1);
    set_format(f, 11);
    store *s = NULL;
    static store_upgrade_report r;
    store_options o = {.upgrade = true, .upgrade_report = &r};
    assert_int_not_equal(store_open(&s, f->dir, &o), GJ_OK);
    assert_null(s);
    assert_non_null(strstr(r.why, "format 11"));
    assert_int_equal(format_of(f->dir), 11);
    size_t left = 0;
    raw_each(f->dir, "ledger", count_ledger_index, &left);
    assert_int_equal(left, 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_format9_first_answers_get_the_upgrade_time_and_an_index, setup, teardown),
        cmocka_unit_test_setup_teardown(test_format6_hashes_are_kept_tagged_tombstones_and_loads_convert_exactly,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_format5_decisions_get_their_speculative_mark_cleared, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_person_numbered_like_a_pool_is_refused_and_nothing_changes, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_format11_patient_index_moves_out_of_the_ledger, setup, teardown),
        cmocka_unit_test_setup_teardown(test_format11_damaged_index_entry_stops_the_upgrade, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
