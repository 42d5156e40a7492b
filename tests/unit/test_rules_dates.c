/* Unit tests of the rules about a binding's dates and what is asked when it is made:
 * when it pays (R9), a chosen last day, binding again and unbinding (R17), the age
 * from the certno and the identity check (R18), the yearly cap (R22). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "gj_util.h"
#include "rules.h"
#include "store.h"

static store_binding make_binding(int32_t begin_date, int32_t end_date)
{
    store_binding b;
    memset(&b, 0, sizeof b);
    strcpy(b.sponsor, "S1");
    strcpy(b.beneficiary, "B1");
    strcpy(b.sponsor_admdvs, "430100");
    strcpy(b.beneficiary_admdvs, "430100");
    b.relation = GJ_REL_SPOUSE;
    b.begin_date = begin_date;
    b.end_date = end_date;
    return b;
}

static void test_binding_pays_from_its_begin_date(void **state)
{
    (void)state;
    store_binding b = make_binding(20260115, 0);
    assert_false(rules_binding_pays_on(&b, 20260114));
    assert_true(rules_binding_pays_on(&b, 20260115));
    assert_true(rules_binding_pays_on(&b, 20991231));
}

static void test_unbound_today_pays_today_not_tomorrow(void **state)
{
    (void)state;
    int32_t today = 20261231;
    int32_t tomorrow = gj_date_next(today);
    store_binding b = make_binding(20260101, tomorrow);
    assert_true(rules_binding_pays_on(&b, today));
    assert_false(rules_binding_pays_on(&b, tomorrow));
    assert_true(rules_binding_in_force(&b, today));
    assert_false(rules_binding_in_force(&b, tomorrow));
}

static void test_binding_starting_later_is_in_force_but_does_not_pay(void **state)
{
    (void)state;
    store_binding b = make_binding(20260201, 0);
    assert_true(rules_binding_in_force(&b, 20260115));
    assert_false(rules_binding_pays_on(&b, 20260115));
    assert_false(rules_binding_pays_on(NULL, 20260115));
    assert_false(rules_binding_in_force(NULL, 20260115));
}

/* ---- R11 order ---- */

/* R17: binding the pair again, a chosen last day, and when an unbinding may come. */
static void test_rebinding_waits_for_the_next_day(void **state)
{
    (void)state;
    assert_int_equal(rules_check_rebind(NULL, 20270420), GJ_R_NONE);
    store_binding open = make_binding(20270101, 0);
    assert_int_equal(rules_check_rebind(&open, 20270420), GJ_R_BINDING_EXISTS);
    store_binding ending = make_binding(20270101, 20270421); /* unbound on the 20th */
    assert_int_equal(rules_check_rebind(&ending, 20270420), GJ_R_REBIND_TOO_SOON);
    assert_int_equal(rules_check_rebind(&ending, 20270421), GJ_R_NONE);
    store_binding dated = make_binding(20270101, 20270501); /* chosen to end on the 30th */
    assert_int_equal(rules_check_rebind(&dated, 20270420), GJ_R_BINDING_EXISTS);
    assert_int_equal(rules_check_rebind(&dated, 20270430), GJ_R_REBIND_TOO_SOON);
}

static void test_age_in_full_years_from_the_certno(void **state)
{
    (void)state;
    assert_int_equal(rules_age_on("51010420101231001X", 20270310), 16);
    assert_int_equal(rules_age_on("510104201003100011", 20270310), 17); /* the birthday itself */
    assert_int_equal(rules_age_on("510104201003110011", 20270310), 16);
    assert_int_equal(rules_age_on("510104202803100011", 20270310), -1); /* not born yet */
    assert_int_equal(rules_age_on("51010420101331001X", 20270310), -1); /* no such date */
    assert_int_equal(rules_age_on("short", 20270310), -1);
    gj_policy p;
    rules_policy_default(&p, "510100");
    assert_int_equal(rules_check_verification(&p, 90, false), GJ_R_NONE); /* not asked */
    p.verify_age = 16;
    assert_int_equal(rules_check_verification(&p, 16, false), GJ_R_NONE);
    assert_int_equal(rules_check_verification(&p, 17, false), GJ_R_VERIFICATION_REQUIRED);
    assert_int_equal(rules_check_verification(&p, -1, false), GJ_R_VERIFICATION_REQUIRED);
    assert_int_equal(rules_check_verification(&p, 17, true), GJ_R_NONE);
}

static void test_yearly_cap(void **state)
{
    (void)state;
    gj_policy p;
    rules_policy_default(&p, "430100");
    assert_int_equal(rules_check_yearly_cap(&p, 1000), GJ_R_NONE); /* 0 = unlimited */
    p.max_beneficiaries_per_year = 20;
    assert_int_equal(rules_check_yearly_cap(&p, 19), GJ_R_NONE);
    assert_int_equal(rules_check_yearly_cap(&p, 20), GJ_R_YEARLY_LIMIT_REACHED);
}

static void test_a_last_date_is_today_or_later(void **state)
{
    (void)state;
    assert_int_equal(rules_check_last_date(0, 20270420), GJ_R_NONE);
    assert_int_equal(rules_check_last_date(20270420, 20270420), GJ_R_NONE);
    assert_int_equal(rules_check_last_date(20270419, 20270420), GJ_R_BINDING_DATE_INVALID);
    assert_int_equal(rules_check_last_date(20270431, 20270420), GJ_R_BINDING_DATE_INVALID);
}

static void test_unbinding_respects_the_regions_months(void **state)
{
    (void)state;
    gj_policy p;
    rules_policy_default(&p, "510100");
    store_binding b = make_binding(20270131, 0);
    assert_int_equal(rules_check_unbind(&p, &b, 20270131), GJ_R_NONE);
    p.unbind_min_months = 3;
    assert_int_equal(rules_check_unbind(&p, &b, 20270429), GJ_R_UNBIND_TOO_SOON);
    assert_int_equal(rules_check_unbind(&p, &b, 20270430), GJ_R_NONE);
    store_binding ending = make_binding(20270131, 20270501);
    assert_int_equal(rules_check_unbind(&p, &ending, 20270430), GJ_R_BINDING_ALREADY_ENDING);
    store_binding later = make_binding(20270131, 20271231);
    assert_int_equal(rules_check_unbind(&p, &later, 20270430), GJ_R_NONE); /* ends earlier */
}

/* R24: the blackout hours wrap midnight; a day's transfers count up to the cap. */
static void test_wallet_transfer_caps_and_hours(void **state)
{
    (void)state;
    gj_policy p;
    rules_policy_default(&p, "420100");
    assert_int_equal(rules_check_wallet_transfer(&p, 1000, 0, 12 * 3600), GJ_R_WALLET_NOT_OFFERED);
    p.wallet = true;
    assert_int_equal(rules_check_wallet_transfer(&p, 200000, 2, 12 * 3600), GJ_R_NONE);
    assert_int_equal(rules_check_wallet_transfer(&p, 200001, 0, 12 * 3600), GJ_R_WALLET_TRANSFER_TOO_LARGE);
    assert_int_equal(rules_check_wallet_transfer(&p, 1000, 3, 12 * 3600), GJ_R_WALLET_DAILY_LIMIT);
    assert_false(rules_wallet_blackout(&p, 22 * 3600 - 1));
    assert_true(rules_wallet_blackout(&p, 22 * 3600));
    assert_true(rules_wallet_blackout(&p, 0));
    assert_true(rules_wallet_blackout(&p, 6 * 3600 - 1));
    assert_false(rules_wallet_blackout(&p, 6 * 3600));
    assert_int_equal(rules_check_wallet_transfer(&p, 1000, 0, 23 * 3600), GJ_R_WALLET_BLACKOUT);
    /* Hours within one day, and none at all. */
    p.wallet_blackout_start_s = 1 * 3600;
    p.wallet_blackout_end_s = 2 * 3600;
    assert_false(rules_wallet_blackout(&p, 0));
    assert_true(rules_wallet_blackout(&p, 3600));
    assert_false(rules_wallet_blackout(&p, 2 * 3600));
    p.wallet_blackout_start_s = p.wallet_blackout_end_s = 0;
    for (int32_t t = 0; t < 86400; t += 600)
        assert_false(rules_wallet_blackout(&p, t));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_binding_pays_from_its_begin_date),
        cmocka_unit_test(test_unbound_today_pays_today_not_tomorrow),
        cmocka_unit_test(test_binding_starting_later_is_in_force_but_does_not_pay),
        cmocka_unit_test(test_rebinding_waits_for_the_next_day),
        cmocka_unit_test(test_age_in_full_years_from_the_certno),
        cmocka_unit_test(test_yearly_cap),
        cmocka_unit_test(test_a_last_date_is_today_or_later),
        cmocka_unit_test(test_unbinding_respects_the_regions_months),
        cmocka_unit_test(test_wallet_transfer_caps_and_hours),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
