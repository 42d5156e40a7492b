/* Unit tests of family pools in the store (store/pools.c): the shares follow every
 * movement of the pool's account in the same transaction: contributions add to a share,
 * a member's bill draws the creator's share first, a refund puts back what its
 * settlement drew, a refund to a closed pool goes on to the contributors, and what does
 * not fit a pool is refused with nothing changed. */
#include "store_fixture.h"

#include <stdio.h>
#include <string.h>

#define POOL "POOL4301000000000001"

static store_journal_entry move_of(const char *psn_no, uint8_t kind, int64_t amount, const char *counterpart,
                                   const char *setl_id)
{
    store_journal_entry e = entry_of(psn_no, kind, amount);
    SET(e.counterpart, counterpart);
    SET(e.setl_id, setl_id);
    return e;
}

/* In one transaction: a pool of creator C with 300 from C and 100 from E. */
static gj_err apply_pool_of_two(store_txn *t, void *arg)
{
    (void)arg;
    gj_err err;
    const char *who[2] = {"C", "E"};
    const int64_t put[2] = {300, 100};
    store_pool p = {.state = STORE_POOL_OPEN, .share_count = 1};
    SET(p.pool_id, POOL);
    SET(p.creator, "C");
    SET(p.shares[0].psn_no, "C");
    if ((err = store_pool_put(t, &p)) != GJ_OK || (err = store_account_ensure(t, POOL)) != GJ_OK)
        return err;
    for (int i = 0; i < 2; i++) {
        store_journal_entry credit = entry_of(who[i], STORE_J_CREDIT, 1000);
        store_journal_entry out = move_of(who[i], STORE_J_POOL_IN, -put[i], POOL, "");
        store_journal_entry in = move_of(POOL, STORE_J_POOL_IN, put[i], who[i], "");
        if ((err = store_account_ensure(t, who[i])) != GJ_OK || (err = store_account_move(t, &credit, NULL)) != GJ_OK ||
            (err = store_account_move(t, &out, NULL)) != GJ_OK || (err = store_account_move(t, &in, NULL)) != GJ_OK)
            return err;
    }
    return GJ_OK;
}

static gj_err apply_one(store_txn *t, void *arg)
{
    return store_account_move(t, (store_journal_entry *)arg, NULL);
}

static gj_err apply_close(store_txn *t, void *arg)
{
    (void)arg;
    store_pool p;
    gj_err err = store_pool_get(t, POOL, &p);
    for (uint32_t i = 0; err == GJ_OK && i < p.share_count; i++) {
        int64_t rest = p.shares[i].remaining;
        if (rest == 0)
            continue;
        store_journal_entry out = move_of(POOL, STORE_J_POOL_OUT, -rest, p.shares[i].psn_no, "");
        store_journal_entry in = move_of(p.shares[i].psn_no, STORE_J_POOL_OUT, rest, POOL, "");
        if ((err = store_account_move(t, &out, NULL)) == GJ_OK)
            err = store_account_move(t, &in, NULL);
    }
    if (err == GJ_OK && (err = store_pool_get(t, POOL, &p)) == GJ_OK) {
        p.state = STORE_POOL_CLOSED;
        err = store_pool_put(t, &p);
    }
    return err;
}

static store_pool pool_now(struct fx *f)
{
    store_pool p;
    store_txn *t = rd(f);
    assert_int_equal(store_pool_get(t, POOL, &p), GJ_OK);
    store_read_end(t);
    return p;
}

static void test_contributions_add_shares_and_the_creators_is_drawn_first(void **state)
{
    struct fx *f = open_fx(state);
    assert_int_equal(store_submit_wait(f->s, apply_pool_of_two, NULL), GJ_OK);
    store_pool p = pool_now(f);
    assert_int_equal(p.share_count, 2);
    assert_int_equal(p.shares[0].remaining, 300);
    assert_int_equal(p.shares[1].remaining, 100);
    assert_int_equal(account_of(f, POOL).balance, 400);
    assert_int_equal(account_of(f, "C").balance, 700);

    store_journal_entry bill = move_of(POOL, STORE_J_SETTLE_AID, -350, "M", SETL_A);
    assert_int_equal(store_submit_wait(f->s, apply_one, &bill), GJ_OK);
    p = pool_now(f);
    assert_int_equal(p.shares[0].remaining, 0);
    assert_int_equal(p.shares[1].remaining, 50);
    assert_int_equal(p.shares[0].contributed, 300);
    store_pool_draw d;
    store_txn *t = rd(f);
    assert_int_equal(store_pool_draw_get(t, SETL_A, POOL, &d), GJ_OK);
    store_read_end(t);
    assert_int_equal(d.taken[0], 300);
    assert_int_equal(d.taken[1], 50);

    /* More than the settlement drew cannot be refunded; what it drew can, exactly. */
    store_journal_entry too_much = move_of(POOL, STORE_J_REFUND, 351, "M", SETL_A);
    assert_int_equal(store_submit_wait(f->s, apply_one, &too_much), GJ_ERR_INVAL);
    store_journal_entry unknown = move_of(POOL, STORE_J_REFUND, 10, "M", SETL_B);
    assert_int_equal(store_submit_wait(f->s, apply_one, &unknown), GJ_ERR_INVAL);
    store_journal_entry refund = move_of(POOL, STORE_J_REFUND, 350, "M", SETL_A);
    assert_int_equal(store_submit_wait(f->s, apply_one, &refund), GJ_OK);
    p = pool_now(f);
    assert_int_equal(p.shares[0].remaining, 300);
    assert_int_equal(p.shares[1].remaining, 100);
    assert_int_equal(account_of(f, POOL).balance, 400);
}

static void test_a_refund_to_a_closed_pool_goes_on_to_the_contributors(void **state)
{
    struct fx *f = open_fx(state);
    assert_int_equal(store_submit_wait(f->s, apply_pool_of_two, NULL), GJ_OK);
    store_journal_entry bill = move_of(POOL, STORE_J_SETTLE_AID, -350, "M", SETL_A);
    assert_int_equal(store_submit_wait(f->s, apply_one, &bill), GJ_OK);
    assert_int_equal(store_submit_wait(f->s, apply_close, NULL), GJ_OK);
    assert_int_equal(account_of(f, POOL).balance, 0);
    assert_int_equal(account_of(f, "C").balance, 700);
    assert_int_equal(account_of(f, "E").balance, 950);
    store_journal_entry refund = move_of(POOL, STORE_J_REFUND, 350, "M", SETL_A);
    assert_int_equal(store_submit_wait(f->s, apply_one, &refund), GJ_OK);
    assert_int_equal(account_of(f, POOL).balance, 0);
    assert_int_equal(account_of(f, "C").balance, 1000);
    assert_int_equal(account_of(f, "E").balance, 1000);
    store_pool p = pool_now(f);
    assert_int_equal(p.state, STORE_POOL_CLOSED);
    assert_int_equal(p.shares[0].remaining, 0);
    assert_int_equal(p.shares[1].remaining, 0);
}

static void test_what_does_not_fit_a_pool_is_refused(void **state)
{
    struct fx *f = open_fx(state);
    assert_int_equal(store_submit_wait(f->s, apply_pool_of_two, NULL), GJ_OK);
    uint64_t entries = journal_count(f);
    store_journal_entry bad[] = {
        entry_of(POOL, STORE_J_CREDIT, 10),                    /* credits go to people */
        move_of(POOL, STORE_J_SETTLE_OWN, -10, "", SETL_A),    /* a pool has no bills */
        move_of(POOL, STORE_J_POOL_IN, -10, "C", ""),          /* into a pool is + */
        move_of("C", STORE_J_POOL_IN, 10, POOL, ""),           /* out of a person is - */
        move_of(POOL, STORE_J_POOL_OUT, -301, "C", ""),        /* more than C's share */
        move_of(POOL, STORE_J_POOL_OUT, -10, "X", ""),         /* X has no share */
        move_of(POOL, STORE_J_POOL_IN, 10, "", ""),            /* from nobody */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(store_submit_wait(f->s, apply_one, &bad[i]), GJ_ERR_INVAL);
    assert_int_equal(journal_count(f), entries);
    assert_int_equal(account_of(f, POOL).balance, 400);
    /* A ninth contributor does not fit. */
    for (int i = 0; i < GJ_POOL_SHARES_MAX - 2; i++) {
        char who[8];
        snprintf(who, sizeof who, "K%d", i);
        store_journal_entry in = move_of(POOL, STORE_J_POOL_IN, 1, who, "");
        assert_int_equal(store_submit_wait(f->s, apply_one, &in), GJ_OK);
    }
    store_journal_entry ninth = move_of(POOL, STORE_J_POOL_IN, 1, "K9", "");
    assert_int_equal(store_submit_wait(f->s, apply_one, &ninth), GJ_ERR_TOOBIG);
    assert_int_equal(pool_now(f).share_count, GJ_POOL_SHARES_MAX);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_contributions_add_shares_and_the_creators_is_drawn_first, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_a_refund_to_a_closed_pool_goes_on_to_the_contributors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_what_does_not_fit_a_pool_is_refused, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
