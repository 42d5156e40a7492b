/* R9, R17, R18, R22: the rules a binding is made and ended by, against a real node with
 * its business clock set to a date and time of day. A binding chosen to end on a day
 * pays through it; an unbinding at 23:59 still pays at 23:59:30 and not at 00:00:01;
 * the pair binds again only from the next day; a region may keep a binding for months,
 * cap the beneficiaries a sponsor binds in a year, and ask for an identity check of an
 * older beneficiary; an operator freezes a binding, a sponsor or a beneficiary for
 * misuse (R21). Money is checked before and after every settlement. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "gj_util.h"
#include "harness.h"

#define CHENGDU_POLICY "live = yes\nrelations = all\ncascade = yes\n"

enum { OK = 0, INVALID_ARGUMENT = 3, ALREADY_EXISTS = 6, PERMISSION_DENIED = 7, RESOURCE_EXHAUSTED = 8,
       FAILED_PRECONDITION = 9 };

typedef struct fixture {
    test_node node;
    client_t *op;
} fixture;

static fixture *start(const char *policy)
{
    fixture *f = test_calloc(1, sizeof *f);
    tn_init(&f->node, "510100", policy);
    assert_int_equal(tn_start(&f->node), 0);
    f->op = tn_client(&f->node, "op-1", GONGJI__V1__ROLE__OPERATOR);
    assert_non_null(f->op);
    client_status st;
    assert_int_equal(op_enroll(f->op, "P", 1, "390", "510100", &st), OK); /* the patient: no account */
    assert_int_equal(op_enroll(f->op, "S", 2, "310", "510100", &st), OK);
    assert_int_equal(op_credit(f->op, "S", 100000, &st), OK);
    return f;
}

static void stop(fixture *f)
{
    client_close(f->op);
    assert_int_equal(tn_stop(&f->node), 0);
    tn_destroy(&f->node);
    assert_int_equal(th_log_leaks_total(), 0);
    test_free(f);
}

static void expect_reason(int code, const client_status *st, int want_code, const char *want_reason)
{
    if (code != want_code || strcmp(st->reason, want_reason) != 0)
        fail_msg("got %d %s (%s), want %d %s", code, st->reason, st->message, want_code, want_reason);
}

/* The business clock at day d, hh:mm:ss. */
static void at(fixture *f, int32_t d, const char *time_of_day)
{
    client_status st;
    assert_int_equal(op_set_clock(f->op, d, time_of_day, &st), OK);
}

/* Settle 10.00 for P; returns what S paid, and checks S's balance moved by exactly it. */
static int64_t s_pays(fixture *f)
{
    client_status st;
    int64_t before = op_balance(f->op, "S");
    Gongji__V1__SettleReply *r = NULL;
    assert_int_equal(op_settle(f->op, "P", 1000, NULL, &r, &st), OK);
    int64_t paid = settle_part(r, "S");
    assert_int_equal(paid + r->psn_cash_pay, 1000);
    gongji__v1__settle_reply__free_unpacked(r, NULL);
    assert_int_equal(op_balance(f->op, "S"), before - paid);
    return paid;
}

static int32_t days_after(int32_t d, int n)
{
    while (n-- > 0)
        d = gj_date_next(d);
    return d;
}

static int bind_until(fixture *f, int32_t last_date, client_status *st)
{
    return op_bind_until(f->op, "S", "", "P", "", GONGJI__V1__RELATION__CHILD, last_date, st);
}

static void test_a_binding_chosen_to_end_pays_through_its_last_day_only(void **state)
{
    (void)state;
    client_status st;
    fixture *f = start(CHENGDU_POLICY);
    int32_t d = 20270310;
    at(f, d, "09:00:00");
    expect_reason(bind_until(f, 20270309, &st), &st, INVALID_ARGUMENT, "BINDING_DATE_INVALID");
    assert_int_equal(s_pays(f), 0); /* nothing was bound */
    assert_int_equal(bind_until(f, days_after(d, 1), &st), OK);
    assert_int_equal(s_pays(f), 1000);
    at(f, days_after(d, 1), "23:59:58");
    assert_int_equal(s_pays(f), 1000); /* the last day, to its last second */
    at(f, days_after(d, 2), "00:00:01");
    assert_int_equal(s_pays(f), 0); /* stopped at 24:00 */
    /* Ended by its date, the pair may bind again at once: open-ended this time. */
    assert_int_equal(bind_until(f, 0, &st), OK);
    assert_int_equal(s_pays(f), 1000);
    /* A dated binding may still be ended early: from tomorrow. */
    at(f, days_after(d, 40), "08:00:00");
    assert_int_equal(op_unbind(f->op, "S", "P", &st), OK);
    expect_reason(bind_until(f, days_after(d, 50), &st), &st, FAILED_PRECONDITION, "REBIND_TOO_SOON");
    assert_int_equal(op_balance(f->op, "S"), 100000 - 3000);
    stop(f);
}

static void test_an_unbinding_at_2359_pays_at_235930_not_at_000001(void **state)
{
    (void)state;
    client_status st;
    fixture *f = start(CHENGDU_POLICY);
    int32_t d = 20270420;
    at(f, d, "10:00:00");
    assert_int_equal(bind_until(f, 0, &st), OK);
    at(f, d, "23:59:00");
    assert_int_equal(op_unbind(f->op, "S", "P", &st), OK);
    expect_reason(op_unbind(f->op, "S", "P", &st), &st, FAILED_PRECONDITION, "BINDING_ALREADY_ENDING");
    at(f, d, "23:59:30");
    assert_int_equal(s_pays(f), 1000);
    /* Seed 002: bind again only from the next day; the old binding still pays today. */
    expect_reason(bind_until(f, 0, &st), &st, FAILED_PRECONDITION, "REBIND_TOO_SOON");
    assert_non_null(strstr(st.message, "bind again from"));
    at(f, days_after(d, 1), "00:00:01");
    assert_int_equal(s_pays(f), 0);
    assert_int_equal(bind_until(f, 0, &st), OK);
    assert_int_equal(s_pays(f), 1000);
    assert_int_equal(op_balance(f->op, "S"), 100000 - 2000);
    stop(f);
}

static void test_a_region_may_refuse_unbinding_for_months(void **state)
{
    (void)state;
    client_status st;
    fixture *f = start(CHENGDU_POLICY "unbind_min_months = 3\n");
    int32_t d = 20270131;
    at(f, d, "12:00:00");
    assert_int_equal(bind_until(f, 0, &st), OK);
    expect_reason(op_unbind(f->op, "S", "P", &st), &st, FAILED_PRECONDITION, "UNBIND_TOO_SOON");
    assert_non_null(strstr(st.message, "20270430")); /* three months on: April has 30 days */
    at(f, 20270429, "23:59:59");
    expect_reason(op_unbind(f->op, "S", "P", &st), &st, FAILED_PRECONDITION, "UNBIND_TOO_SOON");
    assert_int_equal(s_pays(f), 1000); /* still bound */
    at(f, 20270430, "00:00:00");
    assert_int_equal(op_unbind(f->op, "S", "P", &st), OK);
    assert_int_equal(s_pays(f), 1000); /* today still */
    at(f, 20270501, "00:00:00");
    assert_int_equal(s_pays(f), 0);
    stop(f);
}

/* R22 (Hunan: 10 at once, 20 a year), here 10 at once and 2 a year. */
static void test_a_sponsor_binds_at_most_the_regions_number_a_year(void **state)
{
    (void)state;
    client_status st;
    fixture *f = start(CHENGDU_POLICY "max_beneficiaries = 10\nmax_beneficiaries_per_year = 2\n");
    assert_int_equal(op_enroll(f->op, "B2", 3, "390", "510100", &st), OK);
    assert_int_equal(op_enroll(f->op, "B3", 4, "390", "510100", &st), OK);
    at(f, 20270301, "09:00:00");
    assert_int_equal(bind_until(f, 0, &st), OK); /* S -> P */
    assert_int_equal(op_bind(f->op, "S", "B2", GONGJI__V1__RELATION__CHILD, &st), OK);
    expect_reason(op_bind(f->op, "S", "B3", GONGJI__V1__RELATION__CHILD, &st), &st, RESOURCE_EXHAUSTED,
                  "YEARLY_LIMIT_REACHED");
    /* Ending one does not give its place back this year; binding the same one again does
     * not count twice. */
    assert_int_equal(op_unbind(f->op, "S", "P", &st), OK);
    at(f, 20270302, "09:00:00");
    expect_reason(op_bind(f->op, "S", "B3", GONGJI__V1__RELATION__CHILD, &st), &st, RESOURCE_EXHAUSTED,
                  "YEARLY_LIMIT_REACHED");
    Gongji__V1__SettleReply *r = NULL;
    int64_t before = op_balance(f->op, "S");
    assert_int_equal(op_settle(f->op, "B3", 1000, NULL, &r, &st), OK);
    assert_int_equal(r->psn_cash_pay, 1000); /* refused, so nothing pays for B3 */
    gongji__v1__settle_reply__free_unpacked(r, NULL);
    assert_int_equal(op_balance(f->op, "S"), before);
    assert_int_equal(bind_until(f, 0, &st), OK);
    assert_int_equal(s_pays(f), 1000);
    /* A new year, a new count. */
    at(f, 20280101, "00:00:00");
    assert_int_equal(op_bind(f->op, "S", "B3", GONGJI__V1__RELATION__CHILD, &st), OK);
    assert_int_equal(op_settle(f->op, "B3", 1000, NULL, &r, &st), OK);
    assert_int_equal(settle_part(r, "S"), 1000);
    gongji__v1__settle_reply__free_unpacked(r, NULL);
    assert_int_equal(op_balance(f->op, "S"), before - 2000);
    stop(f);
}

/* Bind sponsor to beneficiary as caller, with an identity check done at verified_ms
 * (0 = none); the answer's binding through *out when asked. */
static int bind_checked(client_t *caller, const char *sponsor, const char *beneficiary, int64_t verified_ms,
                        Gongji__V1__BindReply **out, client_status *st)
{
    Gongji__V1__BindRequest req = GONGJI__V1__BIND_REQUEST__INIT;
    Gongji__V1__Verification v = GONGJI__V1__VERIFICATION__INIT;
    req.sponsor_psn_no = (char *)sponsor;
    req.beneficiary_psn_no = (char *)beneficiary;
    req.relation = GONGJI__V1__RELATION__CHILD;
    if (verified_ms != 0) {
        v.method = "face";
        v.verified_unix_ms = verified_ms;
        req.verification = &v;
    }
    ProtobufCMessage *m = NULL;
    client_call(caller, "gongji.v1.MutualAid/Bind", NULL, NULL, &req.base, &gongji__v1__bind_reply__descriptor, &m,
                st);
    if (out != NULL)
        *out = (Gongji__V1__BindReply *)m;
    else if (m != NULL)
        protobuf_c_message_free_unpacked(m, NULL);
    return st->code;
}

/* R18 (seed 002: over 16, a face check): under 16 or 16 binds as before; 17 only with
 * the check, stamped within the last day; who attested and when is kept and shown. */
static void test_an_older_beneficiary_is_bound_only_with_an_identity_check(void **state)
{
    (void)state;
    client_status st;
    fixture *f = start(CHENGDU_POLICY "verify_age = 16\n");
    int32_t d = 20270310;
    at(f, d, "12:00:00");
    int64_t now = gj_cst_unix_ms_of(d, 12 * 3600);
    assert_int_equal(op_enroll_born(f->op, "Y16", 5, 20101231, "390", "510100", &st), OK); /* 16 today */
    assert_int_equal(op_enroll_born(f->op, "O17", 6, 20100310, "390", "510100", &st), OK); /* 17 today */
    assert_int_equal(bind_checked(f->op, "S", "Y16", 0, NULL, &st), OK);
    expect_reason(bind_checked(f->op, "S", "O17", 0, NULL, &st), &st, FAILED_PRECONDITION, "VERIFICATION_REQUIRED");
    expect_reason(bind_checked(f->op, "S", "O17", now - 25LL * 3600 * 1000, NULL, &st), &st, INVALID_ARGUMENT,
                  "VERIFICATION_INVALID");
    Gongji__V1__SettleReply *r = NULL;
    assert_int_equal(op_settle(f->op, "O17", 1000, NULL, &r, &st), OK);
    assert_int_equal(r->psn_cash_pay, 1000); /* refused, so S pays nothing for O17 */
    gongji__v1__settle_reply__free_unpacked(r, NULL);
    assert_int_equal(op_balance(f->op, "S"), 100000);
    /* The sponsor, through the service platform that did the face check an hour ago. */
    client_t *sponsor = tn_client(&f->node, "S", GONGJI__V1__ROLE__PERSON);
    Gongji__V1__BindReply *b = NULL;
    assert_int_equal(bind_checked(sponsor, "S", "O17", now - 3600 * 1000, &b, &st), OK);
    assert_non_null(b->binding->verified_by);
    assert_true(b->binding->verified_by[0] != '\0' && strcmp(b->binding->verified_by, "S") != 0);
    assert_int_equal(b->binding->verified_unix_ms, now - 3600 * 1000);
    char attester[64];
    snprintf(attester, sizeof attester, "%s", b->binding->verified_by);
    gongji__v1__bind_reply__free_unpacked(b, NULL);
    client_close(sponsor);
    assert_int_equal(op_settle(f->op, "O17", 1000, NULL, &r, &st), OK);
    assert_int_equal(settle_part(r, "S"), 1000);
    gongji__v1__settle_reply__free_unpacked(r, NULL);
    assert_int_equal(op_balance(f->op, "S"), 99000);
    /* The bindings list keeps who attested; an operator at a counter attests as itself. */
    Gongji__V1__ListBindingsRequest lr = GONGJI__V1__LIST_BINDINGS_REQUEST__INIT;
    lr.psn_no = "O17";
    ProtobufCMessage *m = NULL;
    client_call(f->op, "gongji.v1.MutualAid/ListBindings", NULL, NULL, &lr.base,
                &gongji__v1__list_bindings_reply__descriptor, &m, &st);
    assert_int_equal(st.code, OK);
    Gongji__V1__ListBindingsReply *l = (Gongji__V1__ListBindingsReply *)m;
    assert_int_equal(l->n_as_beneficiary, 1);
    assert_string_equal(l->as_beneficiary[0]->verified_by, attester);
    assert_int_equal(l->as_beneficiary[0]->verified_unix_ms, now - 3600 * 1000);
    gongji__v1__list_bindings_reply__free_unpacked(l, NULL);
    assert_int_equal(op_enroll(f->op, "S2", 7, "310", "510100", &st), OK);
    assert_int_equal(bind_checked(f->op, "S2", "O17", now, &b, &st), OK);
    assert_non_null(strstr(b->binding->verified_by, "op-1"));
    gongji__v1__bind_reply__free_unpacked(b, NULL);
    stop(f);
}

static int freeze(client_t *c, int target, const char *psn_no, const char *beneficiary, const char *reason,
                  bool lift, client_status *st)
{
    Gongji__V1__FreezeRequest req = GONGJI__V1__FREEZE_REQUEST__INIT;
    req.target = (Gongji__V1__FreezeTarget)target;
    req.psn_no = (char *)psn_no;
    req.beneficiary_psn_no = (char *)beneficiary;
    req.reason = (char *)reason;
    req.lift = lift;
    ProtobufCMessage *m = NULL;
    client_call(c, "gongji.v1.Registry/Freeze", NULL, NULL, &req.base, &gongji__v1__freeze_reply__descriptor, &m, st);
    if (m != NULL) {
        Gongji__V1__FreezeReply *r = (Gongji__V1__FreezeReply *)m;
        assert_int_equal(r->frozen, !lift);
        assert_non_null(strstr(r->frozen_by, "op-1")); /* the operator, as proven */
        protobuf_c_message_free_unpacked(m, NULL);
    }
    return st->code;
}

enum { BINDING = GONGJI__V1__FREEZE_TARGET__FREEZE_TARGET_BINDING,
       SPONSOR = GONGJI__V1__FREEZE_TARGET__FREEZE_TARGET_SPONSOR,
       BENEFICIARY = GONGJI__V1__FREEZE_TARGET__FREEZE_TARGET_BENEFICIARY };

/* R21: each freeze stops exactly what it names, until lifted; the money stays put. */
static void test_a_freeze_stops_what_it_names_until_lifted(void **state)
{
    (void)state;
    client_status st;
    fixture *f = start(CHENGDU_POLICY);
    assert_int_equal(op_enroll(f->op, "Q", 3, "390", "510100", &st), OK);
    assert_int_equal(bind_until(f, 0, &st), OK);
    assert_int_equal(op_bind(f->op, "S", "Q", GONGJI__V1__RELATION__CHILD, &st), OK);
    expect_reason(freeze(f->op, BINDING, "S", "P", "", false, &st), &st, INVALID_ARGUMENT, "FIELD_INVALID");
    assert_int_equal(freeze(f->op, BINDING, "S", "P", "card lent to a stranger", false, &st), OK);
    expect_reason(freeze(f->op, BINDING, "S", "P", "again", false, &st), &st, FAILED_PRECONDITION, "ALREADY_FROZEN");
    assert_int_equal(s_pays(f), 0); /* the binding S -> P */
    Gongji__V1__SettleReply *r = NULL;
    assert_int_equal(op_settle(f->op, "Q", 1000, NULL, &r, &st), OK);
    assert_int_equal(settle_part(r, "S"), 1000); /* S -> Q is not frozen */
    gongji__v1__settle_reply__free_unpacked(r, NULL);
    assert_int_equal(freeze(f->op, BINDING, "S", "P", "", true, &st), OK);
    expect_reason(freeze(f->op, BINDING, "S", "P", "", true, &st), &st, FAILED_PRECONDITION, "NOT_FROZEN");
    assert_int_equal(s_pays(f), 1000);
    /* The sponsor: no relative's bill. */
    assert_int_equal(freeze(f->op, SPONSOR, "S", "", "misuse under review", false, &st), OK);
    assert_int_equal(s_pays(f), 0);
    assert_int_equal(op_settle(f->op, "Q", 1000, NULL, &r, &st), OK);
    assert_int_equal(r->psn_cash_pay, 1000);
    gongji__v1__settle_reply__free_unpacked(r, NULL);
    assert_int_equal(freeze(f->op, SPONSOR, "S", "", "", true, &st), OK);
    /* The beneficiary: nothing from any sponsor. */
    assert_int_equal(freeze(f->op, BENEFICIARY, "P", "", "misuse under review", false, &st), OK);
    assert_int_equal(s_pays(f), 0);
    assert_int_equal(freeze(f->op, BENEFICIARY, "P", "", "", true, &st), OK);
    assert_int_equal(s_pays(f), 1000);
    assert_int_equal(op_balance(f->op, "S"), 100000 - 3000);
    /* Only an operator freezes. */
    client_t *inst = tn_client(&f->node, "H51010000001", GONGJI__V1__ROLE__INSTITUTION);
    Gongji__V1__FreezeRequest req = GONGJI__V1__FREEZE_REQUEST__INIT;
    req.target = GONGJI__V1__FREEZE_TARGET__FREEZE_TARGET_SPONSOR;
    req.psn_no = "S";
    req.reason = "an institution trying";
    ProtobufCMessage *m = NULL;
    client_call(inst, "gongji.v1.Registry/Freeze", NULL, NULL, &req.base, &gongji__v1__freeze_reply__descriptor, &m,
                &st);
    assert_int_equal(st.code, PERMISSION_DENIED);
    assert_null(m);
    client_close(inst);
    assert_int_equal(s_pays(f), 1000);
    stop(f);
}

/* The clock runs on from the time set, and goes back to the system clock. */
static void test_the_business_clock_runs_on_and_returns(void **state)
{
    (void)state;
    client_status st;
    fixture *f = start(CHENGDU_POLICY);
    at(f, 20270601, "23:59:59");
    Gongji__V1__HealthReply *h = op_health(f->op, &st);
    assert_non_null(h);
    assert_true(h->clock_overridden);
    assert_true(h->business_date == 20270601 || h->business_date == 20270602);
    gongji__v1__health_reply__free_unpacked(h, NULL);
    struct timespec ts = {1, 200 * 1000000L};
    nanosleep(&ts, NULL);
    h = op_health(f->op, &st);
    assert_int_equal(h->business_date, 20270602); /* past midnight by itself */
    gongji__v1__health_reply__free_unpacked(h, NULL);
    expect_reason(op_set_clock(f->op, 20270601, "24:00:00", &st), &st, INVALID_ARGUMENT, "FIELD_INVALID");
    expect_reason(op_set_clock(f->op, 20270601, "1:2:3", &st), &st, INVALID_ARGUMENT, "FIELD_INVALID");
    assert_int_equal(op_set_clock(f->op, 0, "", &st), OK);
    h = op_health(f->op, &st);
    assert_false(h->clock_overridden);
    assert_int_equal(h->business_date, gj_cst_date_of(gj_now_unix_ms()));
    gongji__v1__health_reply__free_unpacked(h, NULL);
    stop(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_binding_chosen_to_end_pays_through_its_last_day_only),
        cmocka_unit_test(test_an_unbinding_at_2359_pays_at_235930_not_at_000001),
        cmocka_unit_test(test_a_region_may_refuse_unbinding_for_months),
        cmocka_unit_test(test_a_sponsor_binds_at_most_the_regions_number_a_year),
        cmocka_unit_test(test_an_older_beneficiary_is_bound_only_with_an_identity_check),
        cmocka_unit_test(test_a_freeze_stops_what_it_names_until_lifted),
        cmocka_unit_test(test_the_business_clock_runs_on_and_returns),
    };
    return th_exit_status(cmocka_run_group_tests(tests, NULL, NULL));
}
