/* Unit tests of settlements and spend records (store/settlements.c): round trips,
 * replacement and its index entry, the dated lists and their cursors, the refund flag,
 * the scan of every settlement, and records stored at the size they use. */
#include "store_fixture.h"

#include <ctype.h>
#include <lmdb.h>
#include <stdio.h>
#include <string.h>

static void assert_cursor_printable(const char *c)
{
    assert_true(strlen(c) > 0);
    assert_true(strlen(c) <= 79);
    for (const char *p = c; *p; p++)
        assert_true(isprint((unsigned char)*p) && *p != ' ');
}

static void test_spend_list_pages_in_date_order_and_resumes_by_cursor(void **state)
{
    struct fx *f = open_fx(state);
    char long_id[GJ_SETL_ID_MAX + 1];
    memset(long_id, '\xe9', GJ_SETL_ID_MAX); /* not printable: the cursor still is */
    long_id[GJ_SETL_ID_MAX] = '\0';
    char long_id2[GJ_SETL_ID_MAX + 1];
    memcpy(long_id2, long_id, sizeof long_id);
    long_id2[GJ_SETL_ID_MAX - 1] = '\xea';

    struct spends s = {.n = 12,
                       .sp = {
                           spend_of("S1", 20240105, 5000, "A"),
                           spend_of("S1", 20240101, 1000, "B"),
                           spend_of("S1", 20240103, 3000, "C"),
                           spend_of("S1", 20240103, 3000, "D"), /* same instant, next id */
                           spend_of("S1", 20240110, 100, "E"),
                           spend_of("S1", 20231231, 1, "F"),
                           spend_of("S1", 20240201, 1, "G"),
                           spend_of("S10", 20240102, 1, "H"), /* prefix trap */
                           spend_of("S2", 20240102, 1, "I"),
                           spend_of("S3", 99991231, INT64_MAX, long_id),
                           spend_of("S3", 99991231, INT64_MAX, long_id2),
                           spend_of("S1", 20240230, 1, "bad date"),
                       }};
    assert_int_equal(store_submit_wait(f->s, apply_spends, &s), GJ_OK);
    for (int i = 0; i < 11; i++)
        assert_int_equal(s.rv[i], GJ_OK);
    assert_int_equal(s.rv[11], GJ_ERR_INVAL);

    store_txn *t = rd(f);
    store_spend out[8];
    size_t n = 0;
    char cur[80], cur2[80];

    assert_int_equal(store_spend_list(t, "S1", 20240101, 20240131, "", out, 2, &n, cur), GJ_OK);
    assert_int_equal(n, 2);
    assert_string_equal(out[0].setl_id, "B");
    assert_string_equal(out[1].setl_id, "C");
    assert_cursor_printable(cur);

    assert_int_equal(store_spend_list(t, "S1", 20240101, 20240131, cur, out, 2, &n, cur2), GJ_OK);
    assert_int_equal(n, 2);
    assert_string_equal(out[0].setl_id, "D");
    assert_string_equal(out[1].setl_id, "A");
    assert_cursor_printable(cur2);

    assert_int_equal(store_spend_list(t, "S1", 20240101, 20240131, cur2, out, 2, &n, cur2), GJ_OK);
    assert_int_equal(n, 1);
    assert_string_equal(out[0].setl_id, "E");
    assert_string_equal(cur2, ""); /* nothing remains */

    /* Exactly as many as remain: no cursor. */
    assert_int_equal(store_spend_list(t, "S1", 20240101, 20240131, NULL, out, 5, &n, cur2), GJ_OK);
    assert_int_equal(n, 5);
    assert_string_equal(cur2, "");

    /* A cursor before from_date starts at from_date. */
    assert_int_equal(store_spend_list(t, "S1", 20240105, 20240131, cur, out, 8, &n, cur2), GJ_OK);
    assert_int_equal(n, 2);
    assert_string_equal(out[0].setl_id, "A");
    assert_string_equal(out[1].setl_id, "E");

    /* Everything of S1 and nothing of S10, in date order. */
    assert_int_equal(store_spend_list(t, "S1", 0, 99991231, "", out, 8, &n, cur2), GJ_OK);
    assert_int_equal(n, 7);
    for (size_t i = 1; i < n; i++)
        assert_true(out[i - 1].setl_date <= out[i].setl_date);
    assert_string_equal(out[0].setl_id, "F");
    assert_string_equal(out[6].setl_id, "G");
    assert_int_equal(store_spend_list(t, "S1", 20240102, 20240102, "", out, 8, &n, cur2), GJ_OK);
    assert_int_equal(n, 0);
    assert_int_equal(store_spend_list(t, "S1", 20240131, 20240101, "", out, 8, &n, cur2), GJ_OK);
    assert_int_equal(n, 0);

    /* The longest key tail, with bytes that are not text, still round-trips. */
    assert_int_equal(store_spend_list(t, "S3", 0, 99991231, "", out, 1, &n, cur), GJ_OK);
    assert_int_equal(n, 1);
    assert_memory_equal(out[0].setl_id, long_id, sizeof long_id);
    assert_cursor_printable(cur);
    assert_int_equal(store_spend_list(t, "S3", 0, 99991231, cur, out, 1, &n, cur2), GJ_OK);
    assert_int_equal(n, 1);
    assert_memory_equal(out[0].setl_id, long_id2, sizeof long_id2);
    assert_string_equal(cur2, "");

    /* Cursors no encoder made are refused. */
    char toolong[90];
    memset(toolong, 'A', sizeof toolong - 1);
    toolong[sizeof toolong - 1] = '\0';
    const char *bad[] = {"%%%%", "A", "AAAA", "AAAAAAAAAAAAAAAAB", toolong};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(store_spend_list(t, "S1", 0, 99991231, bad[i], out, 8, &n, cur2),
                         GJ_ERR_INVAL);
    assert_int_equal(store_spend_list(t, "S1", 0, 99991231, "", out, 0, &n, cur2), GJ_ERR_INVAL);
    store_read_end(t);
}

struct setl_case {
    store_settlement st;
};

static void test_settlement_roundtrip_and_replace(void **state)
{
    struct fx *f = open_fx(state);
    store_settlement st, out;
    memset(&st, 0, sizeof st);
    SET(st.setl_id, "430100-20240101-000000000001");
    SET(st.psn_no, "B1");
    st.amount = 1000;
    st.acct_pay = 600;
    st.mulaid_pay = 300;
    st.cash_pay = 100;
    st.setl_date = 20240101;
    st.status = STORE_SETL_COMMITTED;
    st.part_count = 2;
    SET(st.parts[0].psn_no, "S1");
    st.parts[0].amount = 200;
    SET(st.parts[1].psn_no, "S2");
    st.parts[1].amount = 100;
    assert_int_equal(store_submit_wait(f->s, apply_setl, &st), GJ_OK);
    st.status = STORE_SETL_REVOKED;
    assert_int_equal(store_submit_wait(f->s, apply_setl, &st), GJ_OK);

    store_settlement bad = st;
    bad.part_count = GJ_SPONSORS_MAX + 1;
    assert_int_equal(store_submit_wait(f->s, apply_setl, &bad), GJ_ERR_INVAL);
    bad = st;
    bad.status = 9;
    assert_int_equal(store_submit_wait(f->s, apply_setl, &bad), GJ_ERR_INVAL);
    /* The patient, date and instant file it in the patient index. */
    bad = st;
    bad.psn_no[0] = '\0';
    assert_int_equal(store_submit_wait(f->s, apply_setl, &bad), GJ_ERR_INVAL);
    bad = st;
    bad.setl_date = 20240230;
    assert_int_equal(store_submit_wait(f->s, apply_setl, &bad), GJ_ERR_INVAL);
    bad = st;
    bad.unix_ms = -1;
    assert_int_equal(store_submit_wait(f->s, apply_setl, &bad), GJ_ERR_INVAL);
    bad = st;
    bad.revoke_date = 20241301;
    assert_int_equal(store_submit_wait(f->s, apply_setl, &bad), GJ_ERR_INVAL);
    st.revoke_date = 20240105;
    st.revoke_unix_ms = 1704412800000LL;
    assert_int_equal(store_submit_wait(f->s, apply_setl, &st), GJ_OK);

    store_txn *t = rd(f);
    assert_int_equal(store_settlement_get(t, st.setl_id, &out), GJ_OK);
    assert_memory_equal(&out, &st, sizeof st);
    assert_int_equal(out.status, STORE_SETL_REVOKED);
    assert_int_equal(out.revoke_date, 20240105);
    assert_int_equal(out.part_count, 2);
    assert_string_equal(out.parts[1].psn_no, "S2");
    assert_int_equal(out.mulaid_pay, 300);
    assert_int_equal(store_settlement_get(t, "nope", &out), GJ_ERR_NOTFOUND);
    store_read_end(t);
}

/* A raw value of db/key, copied into buf (at most cap bytes); returns its length. */
static size_t raw_get(const char *dir, const char *db, const char *key, void *buf, size_t cap)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    MDB_val k = {strlen(key), (void *)key}, v;
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 32), 0);
    assert_int_equal(mdb_env_open(env, dir, MDB_RDONLY, 0600), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, db, 0, &dbi), 0);
    assert_int_equal(mdb_get(txn, dbi, &k, &v), 0);
    assert_true(v.mv_size <= cap);
    memcpy(buf, v.mv_data, v.mv_size);
    mdb_txn_abort(txn);
    mdb_env_close(env);
    return v.mv_size;
}

/* Settlements and decisions are stored with only the parts and legs they use: every
 * count reads back whole, the fields after the parts survive, records arrive in any
 * setl_id order, and a stored length that disagrees with its count is damage. */
static void test_settlements_and_decisions_keep_only_what_they_use(void **state)
{
    struct fx *f = open_fx(state);
    store_settlement none = setl_of("S-0002", "B1", 20240101, 1000), full = none, early, out;
    SET(none.caller_id, "H1");
    SET(none.call_id, "call-none");
    SET(full.setl_id, "S-0003");
    full.part_count = GJ_SPONSORS_MAX;
    for (uint32_t i = 0; i < GJ_SPONSORS_MAX; i++) {
        snprintf(full.parts[i].psn_no, sizeof full.parts[i].psn_no, "SP%u", (unsigned)i);
        SET(full.parts[i].admdvs, "430100");
        full.parts[i].amount = 10 + i;
    }
    SET(full.call_id, "call-full");
    full.revoke_date = 20240102;
    early = none;
    SET(early.setl_id, "S-0001"); /* sorts before what is already there */
    assert_int_equal(store_submit_wait(f->s, apply_setl, &none), GJ_OK);
    assert_int_equal(store_submit_wait(f->s, apply_setl, &full), GJ_OK);
    assert_int_equal(store_submit_wait(f->s, apply_setl, &early), GJ_OK);
    store_decision d16 = decision_of("S-0003", GJ_SPONSORS_MAX), d1 = decision_of("S-0002", 1), dout;
    put_decision(f, d16);
    put_decision(f, d1); /* before d16 in setl_id order */
    store_txn *t = rd(f);
    assert_int_equal(store_settlement_get(t, "S-0002", &out), GJ_OK);
    assert_memory_equal(&out, &none, sizeof out);
    assert_int_equal(store_settlement_get(t, "S-0003", &out), GJ_OK);
    assert_memory_equal(&out, &full, sizeof out);
    assert_int_equal(store_settlement_get(t, "S-0001", &out), GJ_OK);
    assert_memory_equal(&out, &early, sizeof out);
    assert_int_equal(store_decision_get(t, "S-0003", &dout), GJ_OK);
    assert_memory_equal(&dout, &d16, sizeof dout);
    assert_int_equal(store_decision_get(t, "S-0002", &dout), GJ_OK);
    assert_memory_equal(&dout, &d1, sizeof dout);
    store_read_end(t);
    store_close(f->s);
    f->s = NULL;

    /* One byte short, one part's worth too long: both read as CORRUPT. */
    unsigned char raw[sizeof(store_settlement) + 64];
    size_t len = raw_get(f->dir, "settlements", "S-0003", raw, sizeof raw);
    assert_true(len < sizeof(store_settlement) + 1);
    raw_putn(f->dir, "settlements", "S-0003", 6, raw, len - 1);
    len = raw_get(f->dir, "settlements", "S-0002", raw, sizeof raw);
    memset(raw + len, 0, sizeof full.parts[0]);
    raw_putn(f->dir, "settlements", "S-0002", 6, raw, len + sizeof full.parts[0]);
    unsigned char rawd[sizeof(store_decision) + 64];
    len = raw_get(f->dir, "decisions", "S-0002", rawd, sizeof rawd);
    raw_putn(f->dir, "decisions", "S-0002", 6, rawd, len + 1);
    open_with(f, NULL);
    t = rd(f);
    assert_int_equal(store_settlement_get(t, "S-0003", &out), GJ_ERR_CORRUPT);
    assert_int_equal(store_settlement_get(t, "S-0002", &out), GJ_ERR_CORRUPT);
    assert_int_equal(out.part_count, 0);
    assert_int_equal(store_settlement_get(t, "S-0001", &out), GJ_OK);
    assert_int_equal(store_decision_get(t, "S-0002", &dout), GJ_ERR_CORRUPT);
    assert_int_equal(dout.leg_count, 0);
    assert_int_equal(store_decision_get(t, "S-0003", &dout), GJ_OK);
    store_read_end(t);
}

static void test_settlement_scan_visits_every_settlement_in_order(void **state)
{
    struct fx *f = open_fx(state);
    struct seen s = {0};
    store_txn *t = rd(f);
    assert_int_equal(store_settlement_scan(t, see_settlement, &s), GJ_OK);
    assert_int_equal(s.n, 0);
    assert_int_equal(store_settlement_scan(t, NULL, NULL), GJ_ERR_INVAL);
    store_read_end(t);

    const char *ids[] = {"S3", "S1", "S10", "S2"};
    for (size_t i = 0; i < 4; i++) {
        store_settlement st;
        memset(&st, 0, sizeof st);
        SET(st.setl_id, ids[i]);
        SET(st.psn_no, "B1");
        st.setl_date = 20240101;
        st.status = i == 2 ? STORE_SETL_REVOKED : STORE_SETL_COMMITTED;
        assert_int_equal(store_submit_wait(f->s, apply_setl, &st), GJ_OK);
    }

    t = rd(f);
    assert_int_equal(store_settlement_scan(t, see_settlement, &s), GJ_OK);
    assert_int_equal(s.n, 4);
    assert_string_equal(s.what[0], "S1");
    assert_string_equal(s.what[1], "S10");
    assert_string_equal(s.what[2], "S2");
    assert_string_equal(s.what[3], "S3");
    struct seen two = {.stop_after = 2};
    assert_int_equal(store_settlement_scan(t, see_settlement, &two), GJ_OK);
    assert_int_equal(two.n, 2);
    store_read_end(t);
}

static void test_spend_refund_flag_must_be_0_or_1(void **state)
{
    struct fx *f = open_fx(state);
    struct spends s = {.n = 3,
                       .sp = {spend_of("S1", 20240101, 1000, "A"),
                              spend_of("S1", 20240105, 5000, "A"),
                              spend_of("S1", 20240106, 6000, "A")}};
    s.sp[1].refund = 1; /* the same settlement given back later */
    s.sp[2].refund = 2;
    assert_int_equal(store_submit_wait(f->s, apply_spends, &s), GJ_OK);
    assert_int_equal(s.rv[0], GJ_OK);
    assert_int_equal(s.rv[1], GJ_OK);
    assert_int_equal(s.rv[2], GJ_ERR_INVAL);

    store_txn *t = rd(f);
    store_spend out[4];
    size_t n;
    char cur[80];
    assert_int_equal(store_spend_list(t, "S1", 0, 99991231, "", out, 4, &n, cur), GJ_OK);
    assert_int_equal(n, 2);
    assert_int_equal(out[0].refund, 0);
    assert_int_equal(out[1].refund, 1);
    assert_memory_equal(&out[1], &s.sp[1], sizeof out[1]);
    store_read_end(t);
}

struct setls {
    size_t n;
    store_settlement st[16];
    gj_err rv[16];
    bool abort_after;
};

static gj_err apply_setls(store_txn *t, void *arg)
{
    struct setls *p = arg;
    for (size_t i = 0; i < p->n; i++)
        p->rv[i] = store_settlement_put(t, &p->st[i]);
    return p->abort_after ? GJ_ERR_ABORT : GJ_OK;
}

/* Every settlement listed for psn_no, all dates, in pages of `page`. */
static size_t list_all_by_psn(struct fx *f, const char *psn_no, size_t page, store_settlement *out,
                              size_t cap)
{
    store_txn *t = rd(f);
    char cur[80] = "";
    size_t total = 0, n;
    do {
        assert_true(total + page <= cap);
        assert_int_equal(store_settlement_list_by_psn(t, psn_no, 0, 99991231, cur, out + total,
                                                      page, &n, cur),
                         GJ_OK);
        total += n;
    } while (cur[0] != '\0');
    store_read_end(t);
    return total;
}

/* The patient index is keyed by date first: a person's entries are found day by day
 * among everybody else's, people sorting before and after them, days where only others
 * have entries, and page ends falling anywhere. */
static void test_settlements_by_psn_among_other_peoples_days(void **state)
{
    struct fx *f = open_fx(state);
    struct setls p = {.n = 12,
                      .st = {
                          setl_of("S01", "A1", 20240103, 1), /* sorts before B1 */
                          setl_of("S02", "B1", 20240103, 2),
                          setl_of("S03", "C1", 20240103, 3), /* after */
                          setl_of("S04", "A1", 20240104, 1), /* a day of others only */
                          setl_of("S05", "C1", 20240104, 2),
                          setl_of("S06", "B1", 20240105, 9),
                          setl_of("S07", "B1", 20240105, 5), /* earlier instant, same day */
                          setl_of("S08", "A1", 20240106, 1),
                          setl_of("S09", "B1", 20240107, 1),
                          setl_of("S10", "B1", 20240107, 1), /* same instant: by id */
                          setl_of("S11", "B1", 20240301, 1),
                          setl_of("S12", "A1", 20240302, 1),
                      }};
    assert_int_equal(store_submit_wait(f->s, apply_setls, &p), GJ_OK);
    const char *want[] = {"S02", "S07", "S06", "S09", "S10", "S11"};
    store_settlement out[16];
    for (size_t page = 1; page <= 7; page++) {
        size_t total = list_all_by_psn(f, "B1", page, out, 16);
        assert_int_equal(total, 6);
        for (size_t i = 0; i < total; i++)
            assert_string_equal(out[i].setl_id, want[i]);
    }
    store_txn *t = rd(f);
    size_t n;
    char cur[80];
    /* A range that starts on a day of others only and ends before the last entry. */
    assert_int_equal(store_settlement_list_by_psn(t, "B1", 20240104, 20240228, "", out, 8, &n, cur), GJ_OK);
    assert_int_equal(n, 4);
    assert_string_equal(out[0].setl_id, "S07");
    assert_string_equal(out[3].setl_id, "S10");
    assert_string_equal(cur, "");
    /* Nobody's and somebody else's only. */
    assert_int_equal(store_settlement_list_by_psn(t, "B0", 0, 99991231, "", out, 8, &n, cur), GJ_OK);
    assert_int_equal(n, 0);
    assert_int_equal(store_settlement_list_by_psn(t, "A1", 20240105, 20240301, "", out, 8, &n, cur), GJ_OK);
    assert_int_equal(n, 1);
    assert_string_equal(out[0].setl_id, "S08");
    store_read_end(t);
}


static void test_settlements_by_psn_page_in_date_order(void **state)
{
    struct fx *f = open_fx(state);
    struct setls p = {.n = 10,
                      .st = {
                          setl_of("A", "B1", 20240105, 5000),
                          setl_of("B", "B1", 20240101, 1000),
                          setl_of("C", "B1", 20240103, 3000),
                          setl_of("D", "B1", 20240103, 3000), /* same instant, next id */
                          setl_of("E", "B1", 20240110, 100),
                          setl_of("F", "B1", 20231231, 1),
                          setl_of("G", "B1", 20240201, 1),
                          setl_of("H", "B10", 20240102, 1), /* prefix trap */
                          setl_of("I", "B2", 20240102, 1),
                          setl_of("J", "B1", 20240230, 1), /* no such date */
                      }};
    assert_int_equal(store_submit_wait(f->s, apply_setls, &p), GJ_OK);
    for (int i = 0; i < 9; i++)
        assert_int_equal(p.rv[i], GJ_OK);
    assert_int_equal(p.rv[9], GJ_ERR_INVAL);
    /* Put and rolled back with its job: neither record nor index entry stays. */
    struct setls gone = {.n = 1, .st = {setl_of("K", "B1", 20240104, 1)}, .abort_after = true};
    assert_int_equal(store_submit_wait(f->s, apply_setls, &gone), GJ_ERR_ABORT);
    assert_int_equal(gone.rv[0], GJ_OK);
    open_with(f, NULL);

    store_txn *t = rd(f);
    store_settlement out[8];
    size_t n = 0;
    char cur[80], cur2[80];
    assert_int_equal(
        store_settlement_list_by_psn(t, "B1", 20240101, 20240131, "", out, 2, &n, cur), GJ_OK);
    assert_int_equal(n, 2);
    assert_string_equal(out[0].setl_id, "B");
    assert_string_equal(out[1].setl_id, "C");
    assert_memory_equal(&out[0], &p.st[1], sizeof out[0]);
    assert_cursor_printable(cur);
    assert_int_equal(
        store_settlement_list_by_psn(t, "B1", 20240101, 20240131, cur, out, 2, &n, cur2), GJ_OK);
    assert_int_equal(n, 2);
    assert_string_equal(out[0].setl_id, "D");
    assert_string_equal(out[1].setl_id, "A");
    assert_cursor_printable(cur2);
    assert_int_equal(
        store_settlement_list_by_psn(t, "B1", 20240101, 20240131, cur2, out, 2, &n, cur2), GJ_OK);
    assert_int_equal(n, 1);
    assert_string_equal(out[0].setl_id, "E");
    assert_string_equal(cur2, "");

    /* Exactly as many as remain: no cursor. A cursor before from_date starts there. */
    assert_int_equal(
        store_settlement_list_by_psn(t, "B1", 20240101, 20240131, NULL, out, 5, &n, cur2), GJ_OK);
    assert_int_equal(n, 5);
    assert_string_equal(cur2, "");
    assert_int_equal(
        store_settlement_list_by_psn(t, "B1", 20240105, 20240131, cur, out, 8, &n, cur2), GJ_OK);
    assert_int_equal(n, 2);
    assert_string_equal(out[0].setl_id, "A");
    assert_string_equal(out[1].setl_id, "E");

    /* Everything of B1, nothing of B10, newest last. */
    assert_int_equal(store_settlement_list_by_psn(t, "B1", 0, 99991231, "", out, 8, &n, cur2),
                     GJ_OK);
    assert_int_equal(n, 7);
    for (size_t i = 1; i < n; i++)
        assert_true(out[i - 1].setl_date <= out[i].setl_date);
    assert_string_equal(out[0].setl_id, "F");
    assert_string_equal(out[6].setl_id, "G");
    assert_int_equal(
        store_settlement_list_by_psn(t, "B1", 20240102, 20240102, "", out, 8, &n, cur2), GJ_OK);
    assert_int_equal(n, 0);
    assert_int_equal(
        store_settlement_list_by_psn(t, "B1", 20240131, 20240101, "", out, 8, &n, cur2), GJ_OK);
    assert_int_equal(n, 0);
    assert_int_equal(store_settlement_list_by_psn(t, "B10", 0, 99991231, "", out, 8, &n, cur2),
                     GJ_OK);
    assert_int_equal(n, 1);
    assert_string_equal(out[0].setl_id, "H");
    assert_int_equal(store_settlement_list_by_psn(t, "B3", 0, 99991231, "", out, 8, &n, cur2),
                     GJ_OK);
    assert_int_equal(n, 0);

    assert_int_equal(store_settlement_list_by_psn(t, "B1", 0, 99991231, "%%%%", out, 8, &n, cur2),
                     GJ_ERR_INVAL);
    assert_int_equal(store_settlement_list_by_psn(t, "B1", 0, 99991231, "", out, 0, &n, cur2),
                     GJ_ERR_INVAL);
    assert_int_equal(store_settlement_list_by_psn(t, "", 0, 99991231, "", out, 8, &n, cur2),
                     GJ_ERR_INVAL);
    store_read_end(t);

    /* Paging one at a time visits each exactly once. */
    store_settlement all[16];
    assert_int_equal(list_all_by_psn(f, "B1", 1, all, 16), 7);
    const char *order = "FBCDAEG";
    for (size_t i = 0; i < 7; i++)
        assert_int_equal(all[i].setl_id[0], order[i]);
}

static void test_revoked_settlement_keeps_one_index_entry(void **state)
{
    struct fx *f = open_fx(state);
    store_settlement st = setl_of(SETL_A, "B1", 20240101, 1704067200000LL), all[8];
    put_decision(f, decision_of(SETL_B, 1)); /* unrelated */
    assert_int_equal(store_submit_wait(f->s, apply_setl, &st), GJ_OK);

    /* Revoked: same patient, date and instant, so the same index key. */
    st.status = STORE_SETL_REVOKED;
    st.revoke_date = 20240105;
    st.revoke_unix_ms = 1704412800000LL;
    assert_int_equal(store_submit_wait(f->s, apply_setl, &st), GJ_OK);
    assert_int_equal(store_submit_wait(f->s, apply_setl, &st), GJ_OK); /* again */
    assert_int_equal(list_all_by_psn(f, "B1", 4, all, 8), 1);
    assert_memory_equal(&all[0], &st, sizeof st);

    /* Should a re-put move it (another date, instant or patient), the old entry goes:
     * a stale one would list the settlement twice or name a record filed elsewhere. */
    st.setl_date = 20240102;
    assert_int_equal(store_submit_wait(f->s, apply_setl, &st), GJ_OK);
    st.unix_ms += 1;
    assert_int_equal(store_submit_wait(f->s, apply_setl, &st), GJ_OK);
    assert_int_equal(list_all_by_psn(f, "B1", 4, all, 8), 1);
    assert_memory_equal(&all[0], &st, sizeof st);
    SET(st.psn_no, "B2");
    assert_int_equal(store_submit_wait(f->s, apply_setl, &st), GJ_OK);
    assert_int_equal(list_all_by_psn(f, "B1", 4, all, 8), 0);
    assert_int_equal(list_all_by_psn(f, "B2", 4, all, 8), 1);
    assert_memory_equal(&all[0], &st, sizeof st);

    /* A move rolled back with its job leaves the entry where it was. */
    struct setls moved = {.n = 2, .abort_after = true};
    moved.st[0] = st;
    SET(moved.st[0].psn_no, "B3");
    moved.st[1] = moved.st[0];
    moved.st[1].setl_date = 20240103;
    assert_int_equal(store_submit_wait(f->s, apply_setls, &moved), GJ_ERR_ABORT);
    assert_int_equal(moved.rv[0], GJ_OK);
    assert_int_equal(moved.rv[1], GJ_OK);
    open_with(f, NULL);
    assert_int_equal(list_all_by_psn(f, "B3", 4, all, 8), 0);
    assert_int_equal(list_all_by_psn(f, "B2", 4, all, 8), 1);
    assert_memory_equal(&all[0], &st, sizeof st);
    store_txn *t = rd(f);
    store_settlement out;
    assert_int_equal(store_settlement_get(t, SETL_A, &out), GJ_OK);
    assert_memory_equal(&out, &st, sizeof st);
    store_read_end(t);
}

/* Days when only somebody else settled: 800 valid dates from 2020-01-01 on. */
#define OTHER_DAYS 800
static int32_t nth_date(int i)
{
    return (2020 + i / 336) * 10000 + (i / 28 % 12 + 1) * 100 + i % 28 + 1;
}

static gj_err apply_long_history(store_txn *t, void *arg)
{
    (void)arg;
    gj_err err = GJ_OK;
    char id[16];
    store_settlement st;
    for (int i = 0; i < OTHER_DAYS && err == GJ_OK; i++) {
        snprintf(id, sizeof id, "O%04d", i);
        st = setl_of(id, "A1", nth_date(i), i + 1);
        err = store_settlement_put(t, &st);
    }
    if (err == GJ_OK) {
        st = setl_of("FIRST", "B1", nth_date(0), 1);
        err = store_settlement_put(t, &st);
    }
    if (err == GJ_OK) {
        st = setl_of("LAST", "B1", nth_date(OTHER_DAYS - 1), 1);
        err = store_settlement_put(t, &st);
    }
    return err;
}

/* A page visits at most GJ_LIST_DAYS_PER_PAGE days: over a long history where the
 * person settled only on its first and last day, the first page ends early with a
 * cursor, and paging on finds the last entry exactly once. */
static void test_settlements_by_psn_page_visits_bounded_days(void **state)
{
    struct fx *f = open_fx(state);
    assert_true(OTHER_DAYS > 2 * GJ_LIST_DAYS_PER_PAGE);
    assert_int_equal(store_submit_wait(f->s, apply_long_history, NULL), GJ_OK);
    store_txn *t = rd(f);
    store_settlement out[8];
    size_t n, pages = 0, total = 0;
    char cur[80] = "";
    assert_int_equal(store_settlement_list_by_psn(t, "B1", 0, 99991231, "", out, 8, &n, cur), GJ_OK);
    assert_int_equal(n, 1);
    assert_string_equal(out[0].setl_id, "FIRST");
    assert_cursor_printable(cur);
    assert_true(cur[0] != '\0');
    total = n;
    while (cur[0] != '\0') {
        assert_true(++pages <= 3);
        assert_int_equal(store_settlement_list_by_psn(t, "B1", 0, 99991231, cur, out + total,
                                                      8 - total, &n, cur),
                         GJ_OK);
        total += n;
    }
    assert_int_equal(pages, 2); /* 800 days: one early page's end, then one more */
    assert_int_equal(total, 2);
    assert_string_equal(out[1].setl_id, "LAST");
    /* A range that ends before the cap is reached needs no second page. */
    assert_int_equal(store_settlement_list_by_psn(t, "B1", 0, nth_date(100), "", out, 8, &n, cur), GJ_OK);
    assert_int_equal(n, 1);
    assert_string_equal(cur, "");
    store_read_end(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_spend_list_pages_in_date_order_and_resumes_by_cursor),
        T(test_settlement_roundtrip_and_replace),
        T(test_settlements_and_decisions_keep_only_what_they_use),
        T(test_settlement_scan_visits_every_settlement_in_order),
        T(test_spend_refund_flag_must_be_0_or_1),
        T(test_settlements_by_psn_page_in_date_order),
        T(test_settlements_by_psn_among_other_peoples_days),
        T(test_revoked_settlement_keeps_one_index_entry),
        T(test_settlements_by_psn_page_visits_bounded_days),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
