/* Unit tests of decisions (store/holds.c) and of what holds and decisions share: a
 * decision is open until every leg is acked, malformed decisions are refused, writes
 * roll back with their job, open scans let the callback resolve what it is given, and
 * damaged records and indexes read as corrupt. */
#include "store_fixture.h"

#include <stdio.h>
#include <string.h>

static struct seen open_decisions(struct fx *f, uint64_t *count)
{
    struct seen s = {0};
    store_txn *t = rd(f);
    assert_int_equal(store_decision_scan_open(t, see_decision, &s), GJ_OK);
    *count = store_decision_open_count(t);
    store_read_end(t);
    return s;
}

static void test_decision_open_until_every_leg_acked(void **state)
{
    struct fx *f = open_fx(state);
    uint64_t n;
    store_decision d = decision_of(SETL_A, 2), out;

    put_decision(f, d);
    struct seen s = open_decisions(f, &n);
    assert_int_equal(n, 1);
    assert_int_equal(s.n, 1);
    assert_string_equal(s.what[0], SETL_A);

    d.legs[1].acked = 1;
    put_decision(f, d);
    s = open_decisions(f, &n);
    assert_int_equal(n, 1);
    assert_int_equal(s.n, 1);

    /* Legs past leg_count are zero (acked 0) and must not keep it open. */
    d.legs[0].acked = 1;
    put_decision(f, d);
    s = open_decisions(f, &n);
    assert_int_equal(n, 0);
    assert_int_equal(s.n, 0);

    put_decision(f, decision_of(SETL_B, 1)); /* a second one, still open */
    open_with(f, NULL);
    s = open_decisions(f, &n);
    assert_int_equal(n, 1);
    assert_int_equal(s.n, 1);
    assert_string_equal(s.what[0], SETL_B);
    store_txn *t = rd(f);
    assert_int_equal(store_decision_get(t, SETL_A, &out), GJ_OK);
    assert_memory_equal(&out, &d, sizeof d);
    assert_int_equal(store_decision_get(t, "nope", &out), GJ_ERR_NOTFOUND);
    assert_int_equal(store_decision_get(t, "", &out), GJ_ERR_INVAL);
    store_read_end(t);
}

struct decision_puts {
    size_t n;
    store_decision d[16];
    gj_err rv[16];
};

static gj_err apply_decision_puts(store_txn *t, void *arg)
{
    struct decision_puts *p = arg;
    for (size_t i = 0; i < p->n; i++)
        p->rv[i] = store_decision_put(t, &p->d[i]);
    return GJ_OK;
}

static void test_decision_refuses_too_many_legs_and_bad_action(void **state)
{
    struct fx *f = open_fx(state);
    struct decision_puts p = {.n = 0};
    store_decision *d;

    p.d[p.n++] = decision_of("OK", GJ_SPONSORS_MAX); /* 0: the most legs there can be */
    d = &p.d[p.n++];
    *d = decision_of("D1", GJ_SPONSORS_MAX);
    d->leg_count = GJ_SPONSORS_MAX + 1;
    d = &p.d[p.n++];
    *d = decision_of("D2", 2);
    d->legs[1].action = 0;
    d = &p.d[p.n++];
    *d = decision_of("D3", 2);
    d->legs[1].action = STORE_LEG_REFUND + 1;
    d = &p.d[p.n++];
    *d = decision_of("D4", 2);
    d->legs[0].acked = 2;
    d = &p.d[p.n++];
    *d = decision_of("D5", 2);
    d->legs[1].sponsor[0] = '\0';
    d = &p.d[p.n++];
    *d = decision_of("D6", 2);
    SET(d->legs[1].admdvs, "44030");
    d = &p.d[p.n++];
    *d = decision_of("D7", 2);
    d->legs[0].amount = -1;
    d = &p.d[p.n++];
    *d = decision_of("D8", 2);
    d->legs[0].amount = GJ_AMOUNT_MAX + 1;
    d = &p.d[p.n++];
    *d = decision_of("", 2);

    assert_int_equal(store_submit_wait(f->s, apply_decision_puts, &p), GJ_OK);
    assert_int_equal(p.rv[0], GJ_OK);
    for (size_t i = 1; i < p.n; i++) {
        if (p.rv[i] != GJ_ERR_INVAL)
            fail_msg("case %zu: %s", i, gj_err_name(p.rv[i]));
    }
    assert_int_equal(store_submit_wait(f->s, apply_decision, NULL), GJ_ERR_INVAL);

    uint64_t n;
    struct seen s = open_decisions(f, &n);
    assert_int_equal(n, 1);
    assert_int_equal(s.n, 1);
    assert_string_equal(s.what[0], "OK");
    store_txn *t = rd(f);
    store_decision out;
    assert_int_equal(store_decision_get(t, "D1", &out), GJ_ERR_NOTFOUND);
    assert_int_equal(store_decision_get(t, "D2", &out), GJ_ERR_NOTFOUND);
    assert_int_equal(store_decision_get(t, "OK", &out), GJ_OK);
    assert_int_equal(out.leg_count, GJ_SPONSORS_MAX);
    store_read_end(t);
}

struct doomed_xr {
    gj_err rv_repost, rv_hold, rv_decision;
};

static gj_err apply_xr_then_abort(store_txn *t, void *arg)
{
    struct doomed_xr *d = arg;
    store_hold posted = hold_of(SETL_A, 0, STORE_HOLD_POSTED, 10);
    store_hold held = hold_of(SETL_B, 0, STORE_HOLD_HELD, 20);
    store_decision dec = decision_of(SETL_B, 2);
    d->rv_repost = store_hold_put(t, &posted); /* drops SETL_A/0 from the open index */
    d->rv_hold = store_hold_put(t, &held);
    d->rv_decision = store_decision_put(t, &dec);
    return GJ_ERR_ABORT;
}

static void test_hold_and_decision_writes_roll_back_with_their_job(void **state)
{
    struct fx *f = open_fx(state);
    uint64_t n;
    store_hold before = hold_of(SETL_A, 0, STORE_HOLD_HELD, 10), out;
    put_hold(f, before);

    struct doomed_xr d;
    assert_int_equal(store_submit_wait(f->s, apply_xr_then_abort, &d), GJ_ERR_ABORT);
    assert_int_equal(d.rv_repost, GJ_OK);
    assert_int_equal(d.rv_hold, GJ_OK);
    assert_int_equal(d.rv_decision, GJ_OK);

    store_txn *t = rd(f);
    store_decision dec;
    assert_int_equal(store_hold_get(t, SETL_B, 0, &out), GJ_ERR_NOTFOUND);
    assert_int_equal(store_decision_get(t, SETL_B, &dec), GJ_ERR_NOTFOUND);
    assert_int_equal(store_hold_get(t, SETL_A, 0, &out), GJ_OK);
    assert_memory_equal(&out, &before, sizeof before);
    store_read_end(t);

    /* The indexes rolled back with their records: only the earlier hold is open. */
    struct seen s = open_holds(f, &n);
    assert_int_equal(n, 1);
    assert_int_equal(s.n, 1);
    assert_string_equal(s.what[0], SETL_A "/0");
    assert_int_equal(all_holds(f).n, 1);
    s = open_decisions(f, &n);
    assert_int_equal(n, 0);
    assert_int_equal(s.n, 0);
}

#define SWEEP_HOLDS 300

#define SWEEP_DECISIONS 100

struct sweep {
    store_txn *t;
    int visits;
    gj_err rv;
};

static bool post_each_hold(const store_hold *h, void *arg)
{
    struct sweep *sw = arg;
    store_hold done = *h;
    done.state = STORE_HOLD_POSTED;
    done.resolved_unix_ms = 1700000002000LL;
    sw->visits++;
    if (sw->rv == GJ_OK)
        sw->rv = store_hold_put(sw->t, &done);
    /* A hold added while sweeping sorts after every other one. */
    if (h->leg == 0 && strcmp(h->setl_id, "H000") == 0 && sw->rv == GJ_OK) {
        store_hold late = hold_of("H999", 0, STORE_HOLD_HELD, 1);
        sw->rv = store_hold_put(sw->t, &late);
    }
    return true;
}

static bool ack_each_decision(const store_decision *d, void *arg)
{
    struct sweep *sw = arg;
    store_decision done = *d;
    for (uint32_t i = 0; i < done.leg_count; i++)
        done.legs[i].acked = 1;
    sw->visits++;
    if (sw->rv == GJ_OK)
        sw->rv = store_decision_put(sw->t, &done);
    return true;
}

static gj_err apply_sweep(store_txn *t, void *arg)
{
    struct sweep *sw = arg;
    gj_err err;
    sw[0].t = sw[1].t = t;
    if ((err = store_hold_scan_open(t, post_each_hold, &sw[0])) != GJ_OK)
        return err;
    return store_decision_scan_open(t, ack_each_decision, &sw[1]);
}

static gj_err apply_many_open(store_txn *t, void *arg)
{
    char id[16];
    gj_err err;
    (void)arg;
    for (int i = 0; i < SWEEP_HOLDS; i++) {
        snprintf(id, sizeof id, "H%03d", i);
        store_hold h = hold_of(id, (uint32_t)i % 3, STORE_HOLD_HELD, 1);
        if ((err = store_hold_put(t, &h)) != GJ_OK)
            return err;
    }
    for (int i = 0; i < SWEEP_DECISIONS; i++) {
        snprintf(id, sizeof id, "D%03d", i);
        store_decision d = decision_of(id, 3);
        if ((err = store_decision_put(t, &d)) != GJ_OK)
            return err;
    }
    return GJ_OK;
}

/* A recovery sweep resolves what it is shown from inside the scan; the scan must
 * neither skip nor repeat while the index it walks shrinks (over several pages). */
static void test_open_scans_let_the_callback_resolve_what_it_is_given(void **state)
{
    struct fx *f = open_fx(state);
    uint64_t n;
    assert_int_equal(store_submit_wait(f->s, apply_many_open, NULL), GJ_OK);
    open_holds(f, &n);
    assert_int_equal(n, SWEEP_HOLDS);

    struct sweep sw[2];
    memset(sw, 0, sizeof sw);
    assert_int_equal(store_submit_wait(f->s, apply_sweep, sw), GJ_OK);
    assert_int_equal(sw[0].rv, GJ_OK);
    assert_int_equal(sw[1].rv, GJ_OK);
    assert_int_equal(sw[0].visits, SWEEP_HOLDS + 1); /* the one added mid-sweep too */
    assert_int_equal(sw[1].visits, SWEEP_DECISIONS);

    struct seen s = open_holds(f, &n);
    assert_int_equal(n, 0);
    assert_int_equal(s.n, 0);
    s = open_decisions(f, &n);
    assert_int_equal(n, 0);
    assert_int_equal(s.n, 0);
    s = all_holds(f);
    assert_int_equal(s.n, SWEEP_HOLDS + 1); /* all kept, now POSTED */
    store_txn *t = rd(f);
    store_hold h;
    assert_int_equal(store_hold_get(t, "H299", 299 % 3, &h), GJ_OK);
    assert_int_equal(h.state, STORE_HOLD_POSTED);
    store_read_end(t);
}

static void test_damaged_holds_decisions_and_open_indexes_read_as_corrupt(void **state)
{
    struct fx *f = open_fx(state);
    store_hold h1 = hold_of("H1", 1, STORE_HOLD_POSTED, 5), out;
    store_decision acked = decision_of("D7", 1), dec;
    acked.legs[0].acked = 1;
    put_hold(f, h1);
    put_decision(f, acked);
    store_close(f->s);
    f->s = NULL;

    const unsigned char h1_key[] = {'H', '1', 0, 0, 0, 0, 1};
    const unsigned char h1_leg2[] = {'H', '1', 0, 0, 0, 0, 2};
    const unsigned char h2_key[] = {'H', '2', 0, 0, 0, 0, 0};
    raw_putn(f->dir, "holds", h1_leg2, sizeof h1_leg2, &h1, sizeof h1); /* under another key */
    raw_putn(f->dir, "holds", h2_key, sizeof h2_key, "abc", 3);
    raw_putn(f->dir, "holds_open", h1_key, sizeof h1_key, "", 0); /* names a POSTED hold */
    store_decision big = decision_of("D6", 1);
    big.leg_count = 99;
    raw_put(f->dir, "decisions", "D6", &big, sizeof big);
    raw_put(f->dir, "decisions", "D9", "abc", 3);
    raw_put(f->dir, "decisions_open", "D7", "", 0); /* names a fully acked decision */
    raw_put(f->dir, "settlements", "S9", "abc", 3);
    open_with(f, NULL);

    store_txn *t = rd(f);
    struct seen s = {0};
    assert_int_equal(store_hold_get(t, "H1", 1, &out), GJ_OK);
    assert_int_equal(store_hold_get(t, "H1", 2, &out), GJ_ERR_CORRUPT);
    assert_int_equal(store_hold_get(t, "H2", 0, &out), GJ_ERR_CORRUPT);
    assert_int_equal(store_hold_scan(t, see_hold, &s), GJ_ERR_CORRUPT);
    assert_int_equal(s.n, 1); /* H1/1 came before the damaged H1/2 */
    s.n = 0;
    assert_int_equal(store_hold_scan_open(t, see_hold, &s), GJ_ERR_CORRUPT);
    assert_int_equal(s.n, 0);
    assert_int_equal(store_decision_get(t, "D7", &dec), GJ_OK);
    assert_int_equal(store_decision_get(t, "D9", &dec), GJ_ERR_CORRUPT);
    assert_int_equal(store_decision_get(t, "D6", &dec), GJ_ERR_CORRUPT);
    assert_int_equal(dec.leg_count, 0); /* never a count that overruns legs[] */
    assert_int_equal(store_decision_scan_open(t, see_decision, &s), GJ_ERR_CORRUPT);
    assert_int_equal(s.n, 0);
    assert_int_equal(store_settlement_scan(t, see_settlement, &s), GJ_ERR_CORRUPT);
    store_read_end(t);
}

static void test_decision_refund_leg_is_open_until_acked(void **state)
{
    struct fx *f = open_fx(state);
    uint64_t n;
    store_decision d = decision_of(SETL_A, 2), out;
    d.legs[0].acked = 1;
    d.legs[1].action = STORE_LEG_POST;
    d.legs[1].amount = 200;
    d.legs[1].acked = 1;
    put_decision(f, d);
    open_decisions(f, &n);
    assert_int_equal(n, 0);

    /* The settlement is revoked: the posted legs turn into refunds to be acked. */
    d.legs[0].action = STORE_LEG_REFUND;
    d.legs[0].acked = 0;
    d.legs[1].action = STORE_LEG_REFUND;
    d.legs[1].acked = 0;
    put_decision(f, d);
    struct seen s = open_decisions(f, &n);
    assert_int_equal(n, 1);
    assert_int_equal(s.n, 1);
    assert_string_equal(s.what[0], SETL_A);

    d.legs[1].acked = 1;
    put_decision(f, d);
    open_with(f, NULL);
    s = open_decisions(f, &n);
    assert_int_equal(n, 1);
    assert_int_equal(s.n, 1);
    store_txn *t = rd(f);
    assert_int_equal(store_decision_get(t, SETL_A, &out), GJ_OK);
    assert_memory_equal(&out, &d, sizeof d);
    assert_int_equal(out.legs[0].action, STORE_LEG_REFUND);
    store_read_end(t);

    d.legs[0].acked = 1;
    put_decision(f, d);
    s = open_decisions(f, &n);
    assert_int_equal(n, 0);
    assert_int_equal(s.n, 0);

    store_decision beyond = decision_of(SETL_B, 1);
    beyond.legs[0].action = STORE_LEG_REFUND + 1;
    assert_int_equal(store_submit_wait(f->s, apply_decision, &beyond), GJ_ERR_INVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_decision_open_until_every_leg_acked),
        T(test_decision_refuses_too_many_legs_and_bad_action),
        T(test_hold_and_decision_writes_roll_back_with_their_job),
        T(test_open_scans_let_the_callback_resolve_what_it_is_given),
        T(test_damaged_holds_decisions_and_open_indexes_read_as_corrupt),
        T(test_decision_refund_leg_is_open_until_acked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
