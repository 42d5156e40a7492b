/* The deduction walk (node/xr/planner.c) with plain structs: local settlements, remote
 * sponsors asked one at a time, holds that give less, nothing or no answer, premiums,
 * the decision written while the last hold is out and its correction. Every plan is
 * checked for money conserved: own + sponsors + cash = amount, nothing negative, no
 * sponsor above what it can give (its floor kept). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "rules.h"
#include "store.h"
#include "xr/planner.h"

/* Conservation and bounds, whatever the case. */
static void assert_conserved(const xr_plan *p)
{
    int64_t sum = 0;
    for (uint32_t i = 0; i < GJ_SPONSORS_MAX; i++) {
        const xr_plan_leg *leg = &p->legs[i];
        assert_true(leg->pay >= 0);
        if (i >= p->leg_count || !leg->known)
            assert_int_equal(leg->pay, 0);
        else
            assert_true(leg->pay <= (leg->available > 0 ? leg->available : 0));
        sum += leg->pay;
    }
    assert_int_equal(sum, p->mulaid_pay);
    assert_true(p->own_pay >= 0 && p->mulaid_pay >= 0 && p->cash_pay >= 0);
    assert_true(p->own_pay <= (p->own_available > 0 ? p->own_available : 0));
    if (p->amount > 0 && p->amount <= GJ_AMOUNT_MAX)
        assert_int_equal(p->own_pay + p->mulaid_pay + p->cash_pay, p->amount);
    else
        assert_int_equal(p->own_pay + p->mulaid_pay + p->cash_pay, 0);
}

static xr_plan local_plan(int64_t amount, int64_t own, bool cascade, const int64_t *funds, uint32_t count)
{
    xr_plan p = {.amount = amount, .own_available = own, .cascade = cascade, .live = true, .leg_count = count};
    for (uint32_t i = 0; i < count; i++)
        p.legs[i] = (xr_plan_leg){.known = true, .available = funds[i]};
    return p;
}

static void walk(xr_plan *p)
{
    xr_plan_walk(p);
    assert_conserved(p);
}

/* ---- local sponsors (everything known) ---- */

static void test_own_account_pays_first(void **state)
{
    (void)state;
    xr_plan p = local_plan(2000, 3000, true, (int64_t[]){5000}, 1);
    walk(&p);
    assert_int_equal(p.own_pay, 2000);
    assert_int_equal(p.legs[0].pay, 0);
    assert_int_equal(p.cash_pay, 0);
    assert_int_equal(p.ask_leg, -1);
}

static void test_cascade_pays_30_50_40_cash_0(void **state)
{
    (void)state;
    xr_plan p = local_plan(12000, 3000, true, (int64_t[]){5000, 10000}, 2);
    walk(&p);
    assert_int_equal(p.own_pay, 3000);
    assert_int_equal(p.legs[0].pay, 5000);
    assert_int_equal(p.legs[1].pay, 4000);
    assert_int_equal(p.cash_pay, 0);
}

static void test_cascade_runs_out_to_cash_skipping_empty(void **state)
{
    (void)state;
    xr_plan p = local_plan(12000, 0, true, (int64_t[]){1000, 0, 2000}, 3);
    walk(&p);
    assert_int_equal(p.legs[0].pay, 1000);
    assert_int_equal(p.legs[1].pay, 0);
    assert_int_equal(p.legs[2].pay, 2000);
    assert_int_equal(p.cash_pay, 9000);
}

static void test_single_sponsor_pays_30_50_0_cash_40(void **state)
{
    (void)state;
    xr_plan p = local_plan(12000, 3000, false, (int64_t[]){5000, 10000}, 2);
    walk(&p);
    assert_int_equal(p.legs[0].pay, 5000);
    assert_int_equal(p.legs[1].pay, 0);
    assert_int_equal(p.cash_pay, 4000);
}

static void test_single_sponsor_skips_empty_first_sponsor(void **state)
{
    (void)state;
    xr_plan p = local_plan(12000, 3000, false, (int64_t[]){0, 10000, 7000}, 3);
    walk(&p);
    assert_int_equal(p.legs[0].pay, 0);
    assert_int_equal(p.legs[1].pay, 9000);
    assert_int_equal(p.legs[2].pay, 0);
    assert_int_equal(p.cash_pay, 0);
}

/* R10: what a sponsor can give is its shareable money, the floor kept; the walk never
 * takes more, so no account goes below its floor. */
static void test_floor_is_kept(void **state)
{
    (void)state;
    store_account a = {.balance = 10000, .held = 1000};
    int64_t shareable = rules_shareable(&a, 2500); /* 10000 - 1000 - 2500 */
    assert_int_equal(shareable, 6500);
    xr_plan p = local_plan(9000, 0, true, (int64_t[]){shareable}, 1);
    walk(&p);
    assert_int_equal(p.legs[0].pay, 6500);
    assert_int_equal(p.cash_pay, 2500);
    assert_true(a.balance - a.held - p.legs[0].pay >= 2500);
}

static void test_negative_money_is_skipped_never_driven_lower(void **state)
{
    (void)state;
    xr_plan p = local_plan(1000, -200, true, (int64_t[]){-500, 800}, 2);
    walk(&p);
    assert_int_equal(p.own_pay, 0);
    assert_int_equal(p.legs[0].pay, 0);
    assert_int_equal(p.legs[1].pay, 800);
    assert_int_equal(p.cash_pay, 200);
}

static void test_mutual_aid_off_pays_no_sponsor(void **state)
{
    (void)state;
    xr_plan p = local_plan(5000, 1000, true, (int64_t[]){9000}, 1);
    p.live = false;
    walk(&p);
    assert_int_equal(p.own_pay, 1000);
    assert_int_equal(p.legs[0].pay, 0);
    assert_int_equal(p.cash_pay, 4000);
}

static void test_nothing_to_pay_and_bounds(void **state)
{
    (void)state;
    xr_plan p = local_plan(0, 3000, true, (int64_t[]){5000}, 1);
    walk(&p);
    assert_int_equal(p.own_pay + p.mulaid_pay + p.cash_pay, 0);
    p = local_plan(-100, 3000, true, (int64_t[]){5000}, 1);
    walk(&p);
    assert_int_equal(p.own_pay + p.mulaid_pay + p.cash_pay, 0);
    p = local_plan(GJ_AMOUNT_MAX + 1, 3000, true, (int64_t[]){5000}, 1);
    walk(&p);
    assert_int_equal(p.own_pay + p.mulaid_pay + p.cash_pay, 0);
    /* A count beyond the array is clamped: nothing read or written past it. */
    int64_t ones[GJ_SPONSORS_MAX];
    for (int i = 0; i < GJ_SPONSORS_MAX; i++)
        ones[i] = 1;
    p = local_plan(1000, 0, true, ones, GJ_SPONSORS_MAX);
    p.leg_count = UINT32_MAX;
    walk(&p);
    assert_int_equal(p.leg_count, GJ_SPONSORS_MAX);
    assert_int_equal(p.mulaid_pay, GJ_SPONSORS_MAX);
}

/* ---- remote sponsors: asked one at a time ---- */

static void test_walk_stops_at_the_first_remote_and_asks_what_is_owed(void **state)
{
    (void)state;
    /* own 1000; local 2000; remote (ask 7000); local 5000 after it. */
    xr_plan p = local_plan(10000, 1000, true, (int64_t[]){2000, 0, 5000}, 3);
    p.legs[1] = (xr_plan_leg){.remote = true};
    walk(&p);
    assert_int_equal(p.ask_leg, 1);
    assert_int_equal(p.ask_amount, 7000);
    assert_true(p.ask_is_last_remote); /* no remote after it */
    assert_int_equal(p.legs[2].pay, 0);            /* not reached until the answer */
    /* It holds 3000: the local sponsor after it pays the rest it can. */
    xr_plan_leg_answered(&p, 1, 3000);
    assert_conserved(&p);
    assert_int_equal(p.ask_leg, -1);
    assert_int_equal(p.legs[1].pay, 3000);
    assert_int_equal(p.legs[2].pay, 4000);
    assert_int_equal(p.cash_pay, 0);
}

static void test_remote_that_holds_nothing_or_does_not_answer_is_skipped(void **state)
{
    (void)state;
    for (int single = 0; single <= 1; single++) {
        xr_plan p = local_plan(6000, 0, !single, (int64_t[]){0, 0, 2500}, 3);
        p.legs[0] = (xr_plan_leg){.remote = true};
        p.legs[1] = (xr_plan_leg){.remote = true};
        walk(&p);
        assert_int_equal(p.ask_leg, 0);
        assert_false(p.ask_is_last_remote); /* leg 1 is remote too */
        xr_plan_leg_answered(&p, 0, 0);       /* nothing, or no answer */
        assert_conserved(&p);
        assert_int_equal(p.ask_leg, 1);
        assert_true(p.ask_is_last_remote);
        assert_int_equal(p.ask_amount, 6000);
        xr_plan_leg_answered(&p, 1, -5); /* an answer below 0 counts as nothing */
        assert_conserved(&p);
        assert_int_equal(p.ask_leg, -1);
        assert_int_equal(p.legs[2].pay, 2500);
        assert_int_equal(p.cash_pay, 3500);
    }
}

static void test_single_stops_at_a_remote_that_gave_some(void **state)
{
    (void)state;
    xr_plan p = local_plan(6000, 0, false, (int64_t[]){0, 9000}, 2);
    p.legs[0] = (xr_plan_leg){.remote = true};
    walk(&p);
    xr_plan_leg_answered(&p, 0, 1000);
    assert_conserved(&p);
    assert_int_equal(p.legs[0].pay, 1000);
    assert_int_equal(p.legs[1].pay, 0);
    assert_int_equal(p.cash_pay, 5000);
}

static void test_nothing_is_asked_when_own_money_covers_it(void **state)
{
    (void)state;
    xr_plan p = local_plan(500, 800, true, (int64_t[]){0}, 1);
    p.legs[0] = (xr_plan_leg){.remote = true};
    walk(&p);
    assert_int_equal(p.ask_leg, -1);
    assert_int_equal(p.own_pay, 500);
}

/* ---- premiums (R15): all or nothing, never the relative's own account ---- */

static void test_premium_all_or_nothing(void **state)
{
    (void)state;
    xr_plan p = {.amount = 30000, .own_available = 99999, .cascade = true, .live = true, .premium = true,
                 .leg_count = 1};
    p.legs[0].remote = true;
    walk(&p);
    assert_int_equal(p.own_pay, 0);
    assert_int_equal(p.ask_leg, 0);
    assert_int_equal(p.ask_amount, 30000);
    xr_plan_leg_answered(&p, 0, 29999);
    assert_conserved(&p);
    assert_true(p.premium_short);
    assert_int_equal(p.legs[0].pay, 0);
    assert_int_equal(p.cash_pay, 30000);
    xr_plan_leg_answered(&p, 0, 30000);
    assert_conserved(&p);
    assert_false(p.premium_short);
    assert_int_equal(p.legs[0].pay, 30000);
    assert_int_equal(p.cash_pay, 0);
}

/* ---- deciding while the last hold is out, and the correction ---- */

static void test_correction_after_a_short_hold(void **state)
{
    (void)state;
    /* own 1000, local 2000, remote (last), two local sponsors after it. */
    xr_plan p = local_plan(12000, 1000, true, (int64_t[]){2000, 0, 3000, 4000}, 4);
    p.legs[1] = (xr_plan_leg){.remote = true};
    walk(&p);
    assert_int_equal(p.ask_leg, 1);
    assert_true(p.ask_is_last_remote);
    int64_t asked = p.ask_amount;
    assert_int_equal(asked, 9000);
    /* Decided as if it held everything asked. */
    xr_plan_leg_answered(&p, 1, asked);
    assert_conserved(&p);
    assert_int_equal(p.legs[1].pay, 9000);
    assert_int_equal(p.legs[2].pay + p.legs[3].pay, 0);
    /* It held 2500: the sponsors after it pay what is still owed, in order. */
    xr_plan_correct(&p, 1, 2500);
    assert_conserved(&p);
    assert_int_equal(p.own_pay, 1000);
    assert_int_equal(p.legs[0].pay, 2000);
    assert_int_equal(p.legs[1].pay, 2500);
    assert_int_equal(p.legs[2].pay, 3000);
    assert_int_equal(p.legs[3].pay, 3500);
    assert_int_equal(p.cash_pay, 0);
    /* It held nothing: 6500 owed, 7000 there. */
    xr_plan_correct(&p, 1, 0);
    assert_conserved(&p);
    assert_int_equal(p.legs[2].pay, 3000);
    assert_int_equal(p.legs[3].pay, 4000);
    assert_int_equal(p.cash_pay, 2000);
}

static void test_correction_single_sponsor(void **state)
{
    (void)state;
    xr_plan p = local_plan(8000, 0, false, (int64_t[]){0, 5000, 6000}, 3);
    p.legs[0] = (xr_plan_leg){.remote = true};
    walk(&p);
    xr_plan_leg_answered(&p, 0, 8000);
    /* It gave some: single stops there, the rest is cash. */
    xr_plan_correct(&p, 0, 3000);
    assert_conserved(&p);
    assert_int_equal(p.legs[0].pay, 3000);
    assert_int_equal(p.legs[1].pay + p.legs[2].pay, 0);
    assert_int_equal(p.cash_pay, 5000);
    /* It gave nothing: the first after it with money pays, and only it. */
    xr_plan_correct(&p, 0, 0);
    assert_conserved(&p);
    assert_int_equal(p.legs[1].pay, 5000);
    assert_int_equal(p.legs[2].pay, 0);
    assert_int_equal(p.cash_pay, 3000);
}

/* Every combination of small cases: conserved, and the mode's shape kept. */
static void test_every_small_case_conserves_money(void **state)
{
    (void)state;
    const int64_t amounts[] = {1, 99, 3000, 12000, GJ_AMOUNT_MAX};
    const int64_t owns[] = {INT64_MIN, -1, 0, 2999, 12000, INT64_MAX};
    const int64_t funds[] = {INT64_MIN, -1, 0, 1, 5000, GJ_BALANCE_MAX, INT64_MAX};
    const size_t na = sizeof amounts / sizeof amounts[0], no = sizeof owns / sizeof owns[0],
                 nf = sizeof funds / sizeof funds[0];
    for (size_t a = 0; a < na; a++)
        for (size_t o = 0; o < no; o++)
            for (size_t f0 = 0; f0 < nf; f0++)
                for (size_t f1 = 0; f1 < nf; f1++)
                    for (int mode = 0; mode < 4; mode++) {
                        bool cascade = mode & 1, remote_first = mode & 2;
                        xr_plan p = local_plan(amounts[a], owns[o], cascade,
                                               (int64_t[]){funds[f0], funds[f1], funds[(f0 + f1) % nf]}, 3);
                        if (remote_first)
                            p.legs[0] = (xr_plan_leg){.remote = true};
                        walk(&p);
                        if (p.ask_leg >= 0)
                            xr_plan_leg_answered(&p, (uint32_t)p.ask_leg, funds[f0]);
                        assert_conserved(&p);
                        int payers = 0;
                        for (int i = 0; i < 3; i++)
                            payers += p.legs[i].pay > 0;
                        if (!cascade)
                            assert_true(payers <= 1);
                        if (p.mulaid_pay > 0 || p.cash_pay > 0)
                            assert_int_equal(p.own_pay, owns[o] > 0 ? owns[o] : 0);
                    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_own_account_pays_first),
        cmocka_unit_test(test_cascade_pays_30_50_40_cash_0),
        cmocka_unit_test(test_cascade_runs_out_to_cash_skipping_empty),
        cmocka_unit_test(test_single_sponsor_pays_30_50_0_cash_40),
        cmocka_unit_test(test_single_sponsor_skips_empty_first_sponsor),
        cmocka_unit_test(test_floor_is_kept),
        cmocka_unit_test(test_negative_money_is_skipped_never_driven_lower),
        cmocka_unit_test(test_mutual_aid_off_pays_no_sponsor),
        cmocka_unit_test(test_nothing_to_pay_and_bounds),
        cmocka_unit_test(test_walk_stops_at_the_first_remote_and_asks_what_is_owed),
        cmocka_unit_test(test_remote_that_holds_nothing_or_does_not_answer_is_skipped),
        cmocka_unit_test(test_single_stops_at_a_remote_that_gave_some),
        cmocka_unit_test(test_nothing_is_asked_when_own_money_covers_it),
        cmocka_unit_test(test_premium_all_or_nothing),
        cmocka_unit_test(test_correction_after_a_short_hold),
        cmocka_unit_test(test_correction_single_sponsor),
        cmocka_unit_test(test_every_small_case_conserves_money),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
