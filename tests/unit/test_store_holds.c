/* Unit tests of holds (store/holds.c): round trips, the open index following each
 * hold's state, scan order and scans that go on past a key, fences, refunded holds and
 * the fields a hold must have. */
#include "store_fixture.h"

#include <string.h>

/* Scans that go on from a key, as the resolver's rounds do: past it, never at it, and
 * from the first for "". */
static void test_open_scans_go_on_past_a_key(void **state)
{
    struct fx *f = open_fx(state);
    const char *ids[4] = {"430100-20240101-000001-0000000001", "430100-20240101-000001-0000000002",
                          "430100-20240101-000001-0000000003", "430100-20240101-000001-0000000004"};
    for (int i = 0; i < 4; i++) {
        put_decision(f, decision_of(ids[i], 1));
        put_hold(f, hold_of(ids[i], 0, STORE_HOLD_HELD, 100));
        put_hold(f, hold_of(ids[i], 1, STORE_HOLD_HELD, 100));
    }
    put_decision(f, decision_of(ids[1], 0)); /* no legs: not open */
    store_txn *t = rd(f);
    struct seen s = {0};
    assert_int_equal(store_decision_scan_open_after(t, "", see_decision, &s), GJ_OK);
    assert_int_equal(s.n, 3);
    memset(&s, 0, sizeof s);
    assert_int_equal(store_decision_scan_open_after(t, ids[0], see_decision, &s), GJ_OK);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.what[0], ids[2]);
    assert_string_equal(s.what[1], ids[3]);
    memset(&s, 0, sizeof s);
    /* A key no longer open (or never there) starts at the next one. */
    assert_int_equal(store_decision_scan_open_after(t, ids[1], see_decision, &s), GJ_OK);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.what[0], ids[2]);
    memset(&s, 0, sizeof s);
    assert_int_equal(store_decision_scan_open_after(t, ids[3], see_decision, &s), GJ_OK);
    assert_int_equal(s.n, 0);

    memset(&s, 0, sizeof s);
    assert_int_equal(store_hold_scan_open_after(t, "", 0, see_hold, &s), GJ_OK);
    assert_int_equal(s.n, 8);
    memset(&s, 0, sizeof s);
    assert_int_equal(store_hold_scan_open_after(t, ids[1], 0, see_hold, &s), GJ_OK);
    assert_int_equal(s.n, 5);
    assert_string_equal(s.what[0], "430100-20240101-000001-0000000002/1");
    memset(&s, 0, sizeof s);
    assert_int_equal(store_hold_scan_open_after(t, ids[3], 1, see_hold, &s), GJ_OK);
    assert_int_equal(s.n, 0);
    assert_int_equal(store_hold_scan_open_after(t, NULL, 0, see_hold, &s), GJ_ERR_INVAL);
    assert_int_equal(store_decision_scan_open_after(t, NULL, see_decision, &s), GJ_ERR_INVAL);
    store_read_end(t);
}

static void test_hold_roundtrip_and_open_index_follows_state(void **state)
{
    struct fx *f = open_fx(state);
    store_hold in = hold_of(SETL_A, 2, STORE_HOLD_HELD, 300), out;
    uint64_t n;

    put_hold(f, in);
    struct seen s = open_holds(f, &n);
    assert_int_equal(n, 1);
    assert_int_equal(s.n, 1);
    assert_string_equal(s.what[0], SETL_A "/2");
    assert_memory_equal(&s.hold[0], &in, sizeof in);
    store_txn *t = rd(f);
    assert_int_equal(store_hold_get(t, SETL_A, 2, &out), GJ_OK);
    assert_memory_equal(&out, &in, sizeof in);
    assert_int_equal(store_hold_get(t, SETL_A, 1, &out), GJ_ERR_NOTFOUND);
    assert_int_equal(store_hold_get(t, SETL_B, 2, &out), GJ_ERR_NOTFOUND);
    store_read_end(t);

    /* Posting the hold takes it out of the open index, not out of the store. */
    store_hold posted = hold_of(SETL_A, 2, STORE_HOLD_POSTED, 300);
    put_hold(f, posted);
    s = open_holds(f, &n);
    assert_int_equal(n, 0);
    assert_int_equal(s.n, 0);
    s = all_holds(f);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.hold[0].state, STORE_HOLD_POSTED);

    open_with(f, NULL);
    s = open_holds(f, &n);
    assert_int_equal(n, 0);
    assert_int_equal(s.n, 0);
    t = rd(f);
    assert_int_equal(store_hold_get(t, SETL_A, 2, &out), GJ_OK);
    assert_memory_equal(&out, &posted, sizeof posted);
    store_read_end(t);

    /* And a HELD put after the reopen is indexed again. */
    put_hold(f, hold_of(SETL_B, 0, STORE_HOLD_HELD, 5));
    open_with(f, NULL);
    s = open_holds(f, &n);
    assert_int_equal(n, 1);
    assert_int_equal(s.n, 1);
    assert_string_equal(s.what[0], SETL_B "/0");
}

static void test_hold_scans_are_in_setl_id_then_leg_order(void **state)
{
    struct fx *f = open_fx(state);
    uint64_t n;
    /* 256 vs 1: legs compare as numbers, not as little-endian bytes. "S1" before
     * "S10": the separator sorts below every character. */
    put_hold(f, hold_of("S10", 0, STORE_HOLD_HELD, 1));
    put_hold(f, hold_of("S1", 256, STORE_HOLD_HELD, 1));
    put_hold(f, hold_of("S1", 1, STORE_HOLD_HELD, 1));
    put_hold(f, hold_of("S1", 3, STORE_HOLD_VOIDED, 0));

    struct seen s = open_holds(f, &n);
    assert_int_equal(n, 3);
    assert_int_equal(s.n, 3);
    assert_string_equal(s.what[0], "S1/1");
    assert_string_equal(s.what[1], "S1/256");
    assert_string_equal(s.what[2], "S10/0");
    s = all_holds(f);
    assert_int_equal(s.n, 4);
    assert_string_equal(s.what[0], "S1/1");
    assert_string_equal(s.what[1], "S1/3");
    assert_string_equal(s.what[2], "S1/256");
    assert_string_equal(s.what[3], "S10/0");

    /* The callback stops either scan early. */
    struct seen one = {.stop_after = 1};
    store_txn *t = rd(f);
    assert_int_equal(store_hold_scan_open(t, see_hold, &one), GJ_OK);
    assert_int_equal(one.n, 1);
    assert_int_equal(store_hold_scan(t, NULL, NULL), GJ_ERR_INVAL);
    assert_int_equal(store_hold_scan_open(t, NULL, NULL), GJ_ERR_INVAL);
    store_read_end(t);
}

static void test_hold_fence_is_a_voided_hold_of_zero(void **state)
{
    struct fx *f = open_fx(state);
    uint64_t n;
    store_hold fence = hold_of(SETL_A, 1, STORE_HOLD_VOIDED, 0), out;

    /* A void that beats its hold leaves a fence: stored, never open. */
    put_hold(f, fence);
    struct seen s = open_holds(f, &n);
    assert_int_equal(n, 0);
    assert_int_equal(s.n, 0);
    s = all_holds(f);
    assert_int_equal(s.n, 1);

    /* The late hold finds it under the same (setl_id, leg). */
    store_txn *t = rd(f);
    assert_int_equal(store_hold_get(t, SETL_A, 1, &out), GJ_OK);
    assert_int_equal(out.state, STORE_HOLD_VOIDED);
    assert_int_equal(out.amount, 0);
    assert_memory_equal(&out, &fence, sizeof fence);
    store_read_end(t);
}

struct hold_puts {
    size_t n;
    store_hold h[16];
    gj_err rv[16];
};

static gj_err apply_hold_puts(store_txn *t, void *arg)
{
    struct hold_puts *p = arg;
    for (size_t i = 0; i < p->n; i++)
        p->rv[i] = store_hold_put(t, &p->h[i]);
    return GJ_OK;
}

static void test_hold_refuses_malformed_fields(void **state)
{
    struct fx *f = open_fx(state);
    struct hold_puts p = {.n = 0};
    store_hold good = hold_of(SETL_A, 0, STORE_HOLD_HELD, GJ_AMOUNT_MAX);
    store_hold *h;

    p.h[p.n++] = good; /* 0: the largest amount is fine */
    h = &p.h[p.n++];
    *h = good;
    h->setl_id[0] = '\0';
    h = &p.h[p.n++];
    *h = good;
    memset(h->setl_id, '7', sizeof h->setl_id); /* 40 chars, no terminator */
    h = &p.h[p.n++];
    *h = good;
    h->sponsor[0] = '\0';
    h = &p.h[p.n++];
    *h = good;
    h->beneficiary[0] = '\0';
    h = &p.h[p.n++];
    *h = good;
    SET(h->coordinator, "43010"); /* 5 digits */
    h = &p.h[p.n++];
    *h = good;
    SET(h->coordinator, "43a100");
    h = &p.h[p.n++];
    *h = good;
    memset(h->coordinator, '4', sizeof h->coordinator); /* 7 digits, no terminator */
    h = &p.h[p.n++];
    *h = good;
    h->amount = -1;
    h = &p.h[p.n++];
    *h = good;
    h->amount = GJ_AMOUNT_MAX + 1;
    h = &p.h[p.n++];
    *h = good;
    h->state = 0;
    h = &p.h[p.n++];
    *h = good;
    h->state = STORE_HOLD_REFUNDED + 1;
    for (size_t i = 1; i < p.n; i++) /* every refused one would land on another key */
        p.h[i].leg = (uint32_t)i;

    assert_int_equal(store_submit_wait(f->s, apply_hold_puts, &p), GJ_OK);
    assert_int_equal(p.rv[0], GJ_OK);
    for (size_t i = 1; i < p.n; i++) {
        if (p.rv[i] != GJ_ERR_INVAL)
            fail_msg("case %zu: %s", i, gj_err_name(p.rv[i]));
    }
    assert_int_equal(store_submit_wait(f->s, apply_hold, NULL), GJ_ERR_INVAL);

    uint64_t n;
    open_holds(f, &n);
    assert_int_equal(n, 1);
    assert_int_equal(all_holds(f).n, 1);
    store_txn *t = rd(f);
    store_hold out;
    assert_int_equal(store_hold_get(t, "", 0, &out), GJ_ERR_INVAL);
    assert_int_equal(store_hold_get(t, "1234567890123456789012345678901234567890", 0, &out),
                     GJ_ERR_INVAL);
    assert_int_equal(store_hold_get(t, SETL_A, 0, NULL), GJ_ERR_INVAL);
    store_read_end(t);
}

static void test_hold_refunded_state_is_not_open(void **state)
{
    struct fx *f = open_fx(state);
    uint64_t n;
    store_hold out;
    put_hold(f, hold_of(SETL_A, 0, STORE_HOLD_HELD, 300));
    put_hold(f, hold_of(SETL_A, 1, STORE_HOLD_HELD, 200));
    open_holds(f, &n);
    assert_int_equal(n, 2);

    put_hold(f, hold_of(SETL_A, 0, STORE_HOLD_POSTED, 300));
    store_hold refunded = hold_of(SETL_A, 0, STORE_HOLD_REFUNDED, 300);
    put_hold(f, refunded);
    open_with(f, NULL);
    struct seen s = open_holds(f, &n);
    assert_int_equal(n, 1);
    assert_int_equal(s.n, 1);
    assert_string_equal(s.what[0], SETL_A "/1");
    s = all_holds(f);
    assert_int_equal(s.n, 2);
    store_txn *t = rd(f);
    assert_int_equal(store_hold_get(t, SETL_A, 0, &out), GJ_OK);
    assert_memory_equal(&out, &refunded, sizeof refunded);
    store_read_end(t);

    /* Straight from HELD to REFUNDED leaves the index too. */
    put_hold(f, hold_of(SETL_A, 1, STORE_HOLD_REFUNDED, 200));
    s = open_holds(f, &n);
    assert_int_equal(n, 0);
    assert_int_equal(s.n, 0);

    store_hold beyond = hold_of(SETL_B, 0, STORE_HOLD_REFUNDED + 1, 1);
    assert_int_equal(store_submit_wait(f->s, apply_hold, &beyond), GJ_ERR_INVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_hold_roundtrip_and_open_index_follows_state),
        T(test_open_scans_go_on_past_a_key),
        T(test_hold_scans_are_in_setl_id_then_leg_order),
        T(test_hold_fence_is_a_voided_hold_of_zero),
        T(test_hold_refuses_malformed_fields),
        T(test_hold_refunded_state_is_not_open),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
