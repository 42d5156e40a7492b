/* Unit tests of persons, accounts and the journal (store/ledger.c): moves and the journal
 * entries they append, the bounds on amounts, balances and held money, conservation
 * over many moves, account scans, and the ledger tree accounts share with dated records. */
#include "store_fixture.h"

#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_person_survives_close_and_reopen(void **state)
{
    struct fx *f = open_fx(state);
    store_person in = person_of("430100000000000000000000000001"), out;

    assert_int_equal(store_submit_wait(f->s, apply_put_person, &in), GJ_OK);
    open_with(f, NULL);

    store_txn *t = rd(f);
    memset(&out, 0xff, sizeof out);
    assert_int_equal(store_person_get(t, in.psn_no, &out), GJ_OK);
    assert_string_equal(out.psn_no, in.psn_no);
    assert_string_equal(out.certno, in.certno);
    assert_string_equal(out.name, in.name);
    assert_string_equal(out.insutype, "310");
    assert_string_equal(out.admdvs, "430100");
    assert_int_equal(out.status, STORE_PERSON_ACTIVE);
    assert_int_equal(out.updated_unix_ms, in.updated_unix_ms);
    assert_int_equal(store_person_count(t), 1);
    assert_int_equal(store_person_get(t, "430100000000000000000000000002", &out),
                     GJ_ERR_NOTFOUND);
    store_read_end(t);
}

static void test_account_move_updates_balance_and_journal(void **state)
{
    struct fx *f = open_fx(state);
    struct moves m = {.ensure = true, .psn_no = "P1", .n = 3};
    m.e[0] = entry_of("P1", STORE_J_CREDIT, 1000);
    m.e[1] = entry_of("P1", STORE_J_SETTLE_OWN, -300);
    SET(m.e[1].setl_id, "430100-20240101-000000000001");
    m.e[2] = entry_of("P1", STORE_J_REFUND, 100);

    assert_int_equal(store_submit_wait(f->s, apply_moves, &m), GJ_OK);
    const int64_t want_after[3] = {1000, 700, 800};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(m.rv[i], GJ_OK);
        assert_int_equal(m.e[i].seq, (uint64_t)i + 1);
        assert_int_equal(m.e[i].balance_after, want_after[i]);
        assert_int_equal(m.after[i].balance, want_after[i]);
    }
    assert_int_equal(m.after[2].credited, 1000);
    assert_int_equal(m.after[2].paid_out, 300);
    assert_int_equal(m.after[2].refunded, 100);
    assert_int_equal(m.after[2].held, 0);

    store_account a = account_of(f, "P1");
    assert_int_equal(a.balance, 800);
    assert_int_equal(a.credited, 1000);
    assert_int_equal(a.paid_out, 300);
    assert_int_equal(a.refunded, 100);

    /* The journal holds the same entries, in seq order, from any first_seq. */
    store_txn *t = rd(f);
    assert_int_equal(store_journal_count(t), 3);
    store_read_end(t);

    /* A second batch continues the sequence. */
    struct moves m2 = {.psn_no = "P1", .n = 1};
    m2.e[0] = entry_of("P1", STORE_J_PREMIUM, -50);
    assert_int_equal(store_submit_wait(f->s, apply_moves, &m2), GJ_OK);
    assert_int_equal(m2.rv[0], GJ_OK);
    assert_int_equal(m2.e[0].seq, 4);
    assert_int_equal(m2.e[0].balance_after, 750);
    assert_int_equal(m2.after[0].paid_out, 350);
}

struct collected {
    size_t n;
    store_journal_entry e[256];
    size_t stop_after; /* 0: never stop */
};

static bool collect_journal(const store_journal_entry *e, void *arg)
{
    struct collected *c = arg;
    if (c->n < sizeof c->e / sizeof c->e[0])
        c->e[c->n] = *e;
    c->n++;
    return c->stop_after == 0 || c->n < c->stop_after;
}

static void test_journal_scan_starts_at_first_seq_and_stops_on_request(void **state)
{
    struct fx *f = open_fx(state);
    struct moves m = {.ensure = true, .psn_no = "P1", .n = 4};
    for (int i = 0; i < 4; i++)
        m.e[i] = entry_of("P1", STORE_J_CREDIT, (i + 1) * 10);
    assert_int_equal(store_submit_wait(f->s, apply_moves, &m), GJ_OK);

    store_txn *t = rd(f);
    struct collected c = {0};
    assert_int_equal(store_journal_scan(t, 1, collect_journal, &c), GJ_OK);
    assert_int_equal(c.n, 4);
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(c.e[i].seq, i + 1);
        assert_int_equal(c.e[i].amount, (int64_t)(i + 1) * 10);
        assert_string_equal(c.e[i].psn_no, "P1");
        assert_string_equal(c.e[i].caller_id, "test");
    }
    assert_int_equal(c.e[3].balance_after, 100);

    memset(&c, 0, sizeof c);
    assert_int_equal(store_journal_scan(t, 3, collect_journal, &c), GJ_OK);
    assert_int_equal(c.n, 2);
    assert_int_equal(c.e[0].seq, 3);

    memset(&c, 0, sizeof c);
    c.stop_after = 1;
    assert_int_equal(store_journal_scan(t, 1, collect_journal, &c), GJ_OK);
    assert_int_equal(c.n, 1);

    memset(&c, 0, sizeof c);
    assert_int_equal(store_journal_scan(t, 5, collect_journal, &c), GJ_OK);
    assert_int_equal(c.n, 0);
    store_read_end(t);
}

static void test_account_move_refuses_bad_amounts_and_missing_account(void **state)
{
    struct fx *f = open_fx(state);
    credit(f, "P1", 500);

    struct moves m = {.psn_no = "P1", .n = 7};
    m.e[0] = entry_of("P1", STORE_J_CREDIT, -1);             /* sign against kind */
    m.e[1] = entry_of("P1", STORE_J_SETTLE_AID, 10);         /* sign against kind */
    m.e[2] = entry_of("P1", STORE_J_CREDIT, 0);              /* nothing moves */
    m.e[3] = entry_of("P1", STORE_J_CREDIT, GJ_AMOUNT_MAX + 1);
    m.e[4] = entry_of("P1", STORE_J_WALLET_OUT + 1, 10);     /* unknown kind */
    m.e[5] = entry_of("NOBODY", STORE_J_CREDIT, 10);
    m.e[6] = entry_of("P1", STORE_J_CREDIT, GJ_AMOUNT_MAX); /* the largest is fine */
    assert_int_equal(store_submit_wait(f->s, apply_moves, &m), GJ_OK);
    for (int i = 0; i < 5; i++)
        assert_int_equal(m.rv[i], GJ_ERR_INVAL);
    assert_int_equal(m.rv[5], GJ_ERR_NOTFOUND);
    assert_int_equal(m.rv[6], GJ_OK);
    assert_int_equal(m.e[6].seq, 2); /* refused moves took no seq */
    assert_int_equal(journal_count(f), 2);
    assert_int_equal(account_of(f, "P1").balance, 500 + GJ_AMOUNT_MAX);
}

static void test_account_move_refuses_balance_above_max(void **state)
{
    struct fx *f = open_fx(state);
    credit(f, "P1", 1);
    /* Climb to exactly GJ_BALANCE_MAX, then one more fen must be refused. */
    int64_t need = GJ_BALANCE_MAX - 1;
    while (need > 0) {
        struct moves m = {.psn_no = "P1"};
        while (m.n < 8 && need > 0) {
            int64_t amt = need > GJ_AMOUNT_MAX ? GJ_AMOUNT_MAX : need;
            m.e[m.n++] = entry_of("P1", STORE_J_CREDIT, amt);
            need -= amt;
        }
        assert_int_equal(store_submit_wait(f->s, apply_moves, &m), GJ_OK);
        for (size_t i = 0; i < m.n; i++)
            assert_int_equal(m.rv[i], GJ_OK);
    }
    assert_int_equal(account_of(f, "P1").balance, GJ_BALANCE_MAX);
    struct moves m = {.psn_no = "P1", .n = 1};
    m.e[0] = entry_of("P1", STORE_J_REFUND, 1);
    assert_int_equal(store_submit_wait(f->s, apply_moves, &m), GJ_OK);
    assert_int_equal(m.rv[0], GJ_ERR_INVAL);
    assert_int_equal(account_of(f, "P1").balance, GJ_BALANCE_MAX);
}

struct hold_step {
    const char *psn_no;
    int64_t delta;
    gj_err rv;
    store_account after;
};

struct holds {
    size_t n;
    struct hold_step step[8];
    struct moves mv; /* run after the holds */
};

static gj_err apply_holds(store_txn *t, void *arg)
{
    struct holds *h = arg;
    for (size_t i = 0; i < h->n; i++)
        h->step[i].rv = store_account_hold(t, h->step[i].psn_no, h->step[i].delta,
                                           &h->step[i].after);
    return h->mv.n > 0 ? apply_moves(t, &h->mv) : GJ_OK;
}

static void test_account_move_refuses_overdraft_below_held(void **state)
{
    struct fx *f = open_fx(state);
    credit(f, "P1", 1000);

    struct holds h = {.n = 1, .step = {{"P1", 600, GJ_OK, {0}}}};
    h.mv.psn_no = "P1";
    h.mv.n = 2;
    h.mv.e[0] = entry_of("P1", STORE_J_SETTLE_OWN, -500); /* 500 < held 600 */
    h.mv.e[1] = entry_of("P1", STORE_J_SETTLE_OWN, -400); /* 600 == held: allowed */
    assert_int_equal(store_submit_wait(f->s, apply_holds, &h), GJ_OK);
    assert_int_equal(h.step[0].rv, GJ_OK);
    assert_int_equal(h.mv.rv[0], GJ_ERR_INVAL);
    assert_int_equal(h.mv.rv[1], GJ_OK);
    assert_int_equal(h.mv.e[1].seq, 2);

    store_account a = account_of(f, "P1");
    assert_int_equal(a.balance, 600);
    assert_int_equal(a.held, 600);
    assert_int_equal(a.paid_out, 400);
    assert_int_equal(journal_count(f), 2);

    /* Nothing more can leave while all of it is held. */
    struct moves m = {.psn_no = "P1", .n = 1};
    m.e[0] = entry_of("P1", STORE_J_PREMIUM, -1);
    assert_int_equal(store_submit_wait(f->s, apply_moves, &m), GJ_OK);
    assert_int_equal(m.rv[0], GJ_ERR_INVAL);
}

static void test_hold_bounds(void **state)
{
    struct fx *f = open_fx(state);
    credit(f, "P1", 1000);

    struct holds h = {.n = 8,
                      .step = {
                          {"P1", 600, GJ_OK, {0}},
                          {"P1", 500, GJ_OK, {0}},       /* 1100 > balance */
                          {"P1", -700, GJ_OK, {0}},      /* below 0 */
                          {"P1", -600, GJ_OK, {0}},      /* back to 0 */
                          {"P1", 1000, GJ_OK, {0}},      /* all of it */
                          {"P1", INT64_MAX, GJ_OK, {0}}, /* would overflow */
                          {"NOBODY", 1, GJ_OK, {0}},
                          {"P1", 0, GJ_OK, {0}},
                      }};
    assert_int_equal(store_submit_wait(f->s, apply_holds, &h), GJ_OK);
    assert_int_equal(h.step[0].rv, GJ_OK);
    assert_int_equal(h.step[0].after.held, 600);
    assert_int_equal(h.step[1].rv, GJ_ERR_INVAL);
    assert_int_equal(h.step[2].rv, GJ_ERR_INVAL);
    assert_int_equal(h.step[3].rv, GJ_OK);
    assert_int_equal(h.step[3].after.held, 0);
    assert_int_equal(h.step[4].rv, GJ_OK);
    assert_int_equal(h.step[4].after.held, 1000);
    assert_int_equal(h.step[5].rv, GJ_ERR_INVAL);
    assert_int_equal(h.step[6].rv, GJ_ERR_NOTFOUND);
    assert_int_equal(h.step[7].rv, GJ_OK);
    assert_int_equal(h.step[7].after.held, 1000);

    store_account a = account_of(f, "P1");
    assert_int_equal(a.held, 1000);
    assert_int_equal(a.balance, 1000);
    assert_int_equal(journal_count(f), 1); /* holds move no money */
}

#define CONS_ACCOUNTS 10

#define CONS_ROUNDS 10

#define CONS_MOVES 100

struct cons {
    uint64_t rng;
    int accepted;
    int refused;
};

static uint64_t next_rand(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

static gj_err apply_random_moves(store_txn *t, void *arg)
{
    struct cons *c = arg;
    char psn[16];
    gj_err err;
    for (int i = 0; i < CONS_MOVES; i++) {
        snprintf(psn, sizeof psn, "C%02d", (int)(next_rand(&c->rng) % CONS_ACCOUNTS));
        if ((err = store_account_ensure(t, psn)) != GJ_OK)
            return err;
        uint8_t kind = (uint8_t)(1 + next_rand(&c->rng) % 5);
        int64_t amount = (int64_t)(1 + next_rand(&c->rng) % 5000);
        if (kind != STORE_J_CREDIT && kind != STORE_J_REFUND)
            amount = -amount;
        store_journal_entry e = entry_of(psn, kind, amount);
        err = store_account_move(t, &e, NULL);
        if (err == GJ_OK)
            c->accepted++;
        else if (err == GJ_ERR_INVAL)
            c->refused++; /* would overdraw: expected sometimes */
        else
            return err;
        if (next_rand(&c->rng) % 4 == 0) {
            store_account a;
            if ((err = store_account_get(t, psn, &a)) != GJ_OK)
                return err;
            int64_t delta = a.held > 0 ? -a.held : a.balance / 2;
            if ((err = store_account_hold(t, psn, delta, NULL)) != GJ_OK)
                return err;
        }
    }
    return GJ_OK;
}

struct cons_check {
    int accounts;
    int bad;
    int64_t journal_sum[CONS_ACCOUNTS];
    int64_t last_after[CONS_ACCOUNTS];
    uint64_t next_seq;
    int seq_gaps;
};

static bool check_account(const char *psn_no, const store_account *a, void *arg)
{
    struct cons_check *c = arg;
    int idx = atoi(psn_no + 1);
    c->accounts++;
    if (a->credited - a->paid_out + a->refunded != a->balance || a->held < 0 ||
        a->held > a->balance || a->balance != c->journal_sum[idx] ||
        a->balance != c->last_after[idx])
        c->bad++;
    return true;
}

static bool sum_journal(const store_journal_entry *e, void *arg)
{
    struct cons_check *c = arg;
    int idx = atoi(e->psn_no + 1);
    if (e->seq != c->next_seq)
        c->seq_gaps++;
    c->next_seq = e->seq + 1;
    c->journal_sum[idx] += e->amount;
    c->last_after[idx] = e->balance_after;
    return true;
}

static void check_conservation(struct fx *f, int accepted)
{
    struct cons_check c = {.next_seq = 1};
    store_txn *t = rd(f);
    assert_int_equal(store_journal_scan(t, 1, sum_journal, &c), GJ_OK);
    assert_int_equal(store_account_scan(t, check_account, &c), GJ_OK);
    assert_int_equal(store_journal_count(t), (uint64_t)accepted);
    store_read_end(t);
    assert_int_equal(c.seq_gaps, 0);
    assert_int_equal(c.next_seq, (uint64_t)accepted + 1);
    assert_int_equal(c.accounts, CONS_ACCOUNTS);
    assert_int_equal(c.bad, 0);
}

static void test_conservation_holds_after_many_moves(void **state)
{
    struct fx *f = open_fx(state);
    struct cons c = {.rng = 0x9e3779b97f4a7c15ULL};
    for (int r = 0; r < CONS_ROUNDS; r++)
        assert_int_equal(store_submit_wait(f->s, apply_random_moves, &c), GJ_OK);
    assert_true(c.accepted > CONS_ROUNDS * CONS_MOVES / 2);
    assert_true(c.refused > 0); /* the overdraft path was exercised too */
    check_conservation(f, c.accepted);
    open_with(f, NULL);
    check_conservation(f, c.accepted);
}

static bool stop_at_first(const char *psn_no, const store_account *a, void *arg)
{
    (void)a;
    snprintf(arg, 16, "%s", psn_no);
    return false;
}

static void test_account_scan_is_in_psn_no_order_and_stops_early(void **state)
{
    struct fx *f = open_fx(state);
    const char *names[] = {"P3", "P1", "P2"};
    for (int i = 0; i < 3; i++)
        assert_int_equal(store_submit_wait(f->s, apply_ensure, (void *)names[i]), GJ_OK);
    /* Ensuring again keeps the account as it is. */
    credit(f, "P2", 10);
    assert_int_equal(store_submit_wait(f->s, apply_ensure, "P2"), GJ_OK);
    assert_int_equal(account_of(f, "P2").balance, 10);

    char first[16] = "";
    store_txn *t = rd(f);
    assert_int_equal(store_account_scan(t, stop_at_first, first), GJ_OK);
    store_read_end(t);
    assert_string_equal(first, "P1");
}

struct overlong {
    gj_err rv[6];
};

static gj_err apply_overlong(store_txn *t, void *arg)
{
    struct overlong *o = arg;
    store_person p = person_of("P1");
    memset(p.psn_no, 'A', sizeof p.psn_no); /* no terminator anywhere */
    o->rv[0] = store_person_put(t, &p);
    o->rv[1] = store_account_ensure(t, "123456789012345678901234567890123");
    o->rv[2] = store_account_ensure(t, "");
    o->rv[3] = store_account_ensure(t, NULL);
    o->rv[4] = store_account_ensure(t, "12345678901234567890123456789012"); /* 32: fits */
    p = person_of("P1");
    memset(p.name, 'x', sizeof p.name);
    o->rv[5] = store_person_put(t, &p);
    return GJ_OK;
}

static void test_overlong_psn_no_refused(void **state)
{
    struct fx *f = open_fx(state);
    struct overlong o;
    assert_int_equal(store_submit_wait(f->s, apply_overlong, &o), GJ_OK);
    assert_int_equal(o.rv[0], GJ_ERR_INVAL);
    assert_int_equal(o.rv[1], GJ_ERR_INVAL);
    assert_int_equal(o.rv[2], GJ_ERR_INVAL);
    assert_int_equal(o.rv[3], GJ_ERR_INVAL);
    assert_int_equal(o.rv[4], GJ_OK);
    assert_int_equal(o.rv[5], GJ_ERR_INVAL);

    store_txn *t = rd(f);
    store_person p;
    store_binding b[2];
    size_t n;
    char cur[80];
    store_spend sp[1];
    const char *too_long = "123456789012345678901234567890123";
    assert_int_equal(store_person_get(t, too_long, &p), GJ_ERR_INVAL);
    assert_int_equal(store_person_get(t, NULL, &p), GJ_ERR_INVAL);
    assert_int_equal(store_binding_list_by_sponsor(t, too_long, b, 2, &n), GJ_ERR_INVAL);
    assert_int_equal(store_binding_get(t, "S1", too_long, b), GJ_ERR_INVAL);
    assert_int_equal(store_spend_list(t, too_long, 0, 99991231, "", sp, 1, &n, cur), GJ_ERR_INVAL);
    assert_int_equal(store_person_count(t), 0);
    store_read_end(t);
}

static bool sum_accounts(const char *psn_no, const store_account *a, void *arg)
{
    (void)psn_no;
    ((int64_t *)arg)[0]++;
    ((int64_t *)arg)[1] += a->balance;
    return true;
}

/* A person's account, spend records and patient index share the ledger tree: each
 * kind reads back only its own records, and an account scan sees accounts only. */
static void test_ledger_keeps_accounts_spends_and_patient_index_apart(void **state)
{
    struct fx *f = open_fx(state);
    credit(f, "P1", 500);
    credit(f, "P10", 70);
    struct spends sp = {.n = 3,
                        .sp = {spend_of("P1", 20240102, 2000, "X1"), spend_of("P1", 20240103, 3000, "X2"),
                               spend_of("P10", 20240102, 2000, "X3")}};
    assert_int_equal(store_submit_wait(f->s, apply_spends, &sp), GJ_OK);
    for (size_t i = 0; i < sp.n; i++)
        assert_int_equal(sp.rv[i], GJ_OK);
    store_settlement st = setl_of("Y1", "P1", 20240102, 2500);
    assert_int_equal(store_submit_wait(f->s, apply_setl, &st), GJ_OK);
    credit(f, "P1", 1); /* the account still moves with history beside it */

    store_txn *t = rd(f);
    int64_t seen[2] = {0, 0};
    assert_int_equal(store_account_scan(t, sum_accounts, seen), GJ_OK);
    assert_int_equal(seen[0], 2);
    assert_int_equal(seen[1], 571);
    store_spend spends[8];
    store_settlement setls[8];
    size_t n;
    char cur[80];
    assert_int_equal(store_spend_list(t, "P1", 0, 99991231, "", spends, 8, &n, cur), GJ_OK);
    assert_int_equal(n, 2);
    assert_string_equal(spends[0].setl_id, "X1");
    assert_string_equal(spends[1].setl_id, "X2");
    assert_int_equal(store_settlement_list_by_psn(t, "P1", 0, 99991231, "", setls, 8, &n, cur), GJ_OK);
    assert_int_equal(n, 1);
    assert_string_equal(setls[0].setl_id, "Y1");
    assert_int_equal(store_settlement_list_by_psn(t, "P10", 0, 99991231, "", setls, 8, &n, cur), GJ_OK);
    assert_int_equal(n, 0);
    assert_int_equal(store_spend_list(t, "P10", 0, 99991231, "", spends, 8, &n, cur), GJ_OK);
    assert_int_equal(n, 1);
    assert_int_equal(account_of(f, "P1").balance, 501);
    assert_int_equal(account_of(f, "P10").balance, 70);
    /* A spend record keeps in its value only what the key does not say. */
    assert_int_equal(store_spend_list(t, "P10", 0, 99991231, "", spends, 8, &n, cur), GJ_OK);
    assert_string_equal(spends[0].sponsor, "P10");
    assert_string_equal(spends[0].beneficiary, "B1");
    assert_string_equal(spends[0].setl_id, "X3");
    assert_int_equal(spends[0].setl_date, 20240102);
    assert_int_equal(spends[0].unix_ms, 2000);
    assert_int_equal(spends[0].amount, 100);
    store_read_end(t);
    store_close(f->s);
    f->s = NULL;

    /* A value too short to hold amount, use and refund is damage. */
    unsigned char k[4 + 12 + 2] = {'P', '1', 0, 'S', 0x01, 0x34, 0xd6, 0xe6}; /* 20240102 */
    memset(k + 8, 0, 8);
    k[15] = 9;
    memcpy(k + 16, "X9", 2);
    raw_putn(f->dir, "ledger", k, sizeof k, "abc", 3);
    open_with(f, NULL);
    t = rd(f);
    assert_int_equal(store_spend_list(t, "P1", 0, 99991231, "", spends, 8, &n, cur), GJ_ERR_CORRUPT);
    assert_int_equal(store_spend_list(t, "P10", 0, 99991231, "", spends, 8, &n, cur), GJ_OK);
    store_read_end(t);
}

/* Journal entries are stored with their strings at their own length: the longest of
 * each field reads back whole, and a value one byte short or with a length that runs
 * past the end is damage. */
static void test_journal_entries_keep_only_what_they_use(void **state)
{
    struct fx *f = open_fx(state);
    char psn[GJ_PSN_NO_MAX + 1], setl[GJ_SETL_ID_MAX + 1], caller[GJ_CALLER_ID_MAX + 1],
        call[GJ_CALL_ID_MAX + 1];
    memset(psn, 'p', sizeof psn - 1);
    psn[sizeof psn - 1] = '\0';
    memset(setl, 's', sizeof setl - 1);
    setl[sizeof setl - 1] = '\0';
    memset(caller, 'c', sizeof caller - 1);
    caller[sizeof caller - 1] = '\0';
    memset(call, 'k', sizeof call - 1);
    call[sizeof call - 1] = '\0';
    credit(f, psn, 1000);
    struct moves m = {.psn_no = psn, .n = 1};
    m.e[0] = entry_of(psn, STORE_J_SETTLE_AID, -250);
    SET(m.e[0].setl_id, setl);
    SET(m.e[0].counterpart, psn);
    SET(m.e[0].caller_id, caller);
    SET(m.e[0].call_id, call);
    m.e[0].unix_ms = 1767225600123LL;
    assert_int_equal(store_submit_wait(f->s, apply_moves, &m), GJ_OK);
    assert_int_equal(m.rv[0], GJ_OK);

    store_txn *t = rd(f);
    struct collected c = {0};
    assert_int_equal(store_journal_scan(t, 2, collect_journal, &c), GJ_OK);
    assert_int_equal(c.n, 1);
    assert_int_equal(c.e[0].seq, 2);
    assert_int_equal(c.e[0].kind, STORE_J_SETTLE_AID);
    assert_int_equal(c.e[0].amount, -250);
    assert_int_equal(c.e[0].balance_after, 750);
    assert_int_equal(c.e[0].unix_ms, 1767225600123LL);
    assert_string_equal(c.e[0].psn_no, psn);
    assert_string_equal(c.e[0].setl_id, setl);
    assert_string_equal(c.e[0].counterpart, psn);
    assert_string_equal(c.e[0].caller_id, caller);
    assert_string_equal(c.e[0].call_id, call);
    store_read_end(t);
    store_close(f->s);
    f->s = NULL;

    /* Entry 1 one byte short; entry 2 with its last length byte pointing past the end. */
    const unsigned char k1[8] = {0, 0, 0, 0, 0, 0, 0, 1}, k2[8] = {0, 0, 0, 0, 0, 0, 0, 2};
    unsigned char raw[512];
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    MDB_val k = {8, (void *)k1}, v;
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 32), 0);
    assert_int_equal(mdb_env_open(env, f->dir, 0, 0600), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, "journal", 0, &dbi), 0);
    assert_int_equal(mdb_get(txn, dbi, &k, &v), 0);
    memcpy(raw, v.mv_data, v.mv_size);
    v = (MDB_val){v.mv_size - 1, raw};
    assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
    k.mv_data = (void *)k2;
    assert_int_equal(mdb_get(txn, dbi, &k, &v), 0);
    memcpy(raw, v.mv_data, v.mv_size);
    raw[v.mv_size - 1 - strlen(call)] = (unsigned char)(strlen(call) + 1);
    v.mv_data = raw;
    assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
    open_with(f, NULL);
    t = rd(f);
    memset(&c, 0, sizeof c);
    assert_int_equal(store_journal_scan(t, 1, collect_journal, &c), GJ_ERR_CORRUPT);
    assert_int_equal(c.n, 0);
    assert_int_equal(store_journal_scan(t, 2, collect_journal, &c), GJ_ERR_CORRUPT);
    assert_int_equal(c.n, 0);
    store_read_end(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_person_survives_close_and_reopen),
        T(test_account_move_updates_balance_and_journal),
        T(test_journal_scan_starts_at_first_seq_and_stops_on_request),
        T(test_account_move_refuses_bad_amounts_and_missing_account),
        T(test_account_move_refuses_balance_above_max),
        T(test_account_move_refuses_overdraft_below_held),
        T(test_hold_bounds),
        T(test_conservation_holds_after_many_moves),
        T(test_account_scan_is_in_psn_no_order_and_stops_early),
        T(test_overlong_psn_no_refused),
        T(test_ledger_keeps_accounts_spends_and_patient_index_apart),
        T(test_journal_entries_keep_only_what_they_use),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
