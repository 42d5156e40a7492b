/* Every single-region operation against a real gongji-node process, money checked
 * before and after. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "gj_util.h"
#include "harness.h"

#define CHANGSHA_POLICY                                                                        \
    "live = yes\nrelations = spouse,parent,child\nmax_beneficiaries = 10\n"                    \
    "cascade = no\nreserve_floor = 0\n"
#define CHENGDU_POLICY "live = yes\nrelations = all\ncascade = yes\ncross_province_pilot = yes\n"
#define FUZHOU_POLICY "live = yes\nrelations = spouse,parent,child\ncascade = yes\nreserve_floor = 2000.00\n"

enum { OK = 0, INVALID_ARGUMENT = 3, NOT_FOUND = 5, ALREADY_EXISTS = 6, PERMISSION_DENIED = 7,
       RESOURCE_EXHAUSTED = 8, FAILED_PRECONDITION = 9 };

typedef struct fixture {
    test_node node;
    client_t *op;
} fixture;

static fixture *start(const char *region, const char *policy)
{
    fixture *f = test_calloc(1, sizeof *f);
    tn_init(&f->node, region, policy);
    assert_int_equal(tn_start(&f->node), 0);
    f->op = tn_client(&f->node, "op-1", GONGJI__V1__ROLE__OPERATOR);
    assert_non_null(f->op);
    return f;
}

static void stop(fixture *f)
{
    client_close(f->op);
    assert_int_equal(tn_stop(&f->node), 0); /* clean exit on SIGTERM */
    tn_destroy(&f->node);
    assert_int_equal(th_log_leaks_total(), 0); /* no person or ID number logged in full */
    test_free(f);
}

/* An employee with money, or a resident. */
static void person(fixture *f, const char *psn_no, int serial, const char *insutype, int64_t fen)
{
    client_status st;
    assert_int_equal(op_enroll(f->op, psn_no, serial, insutype, f->node.region, &st), OK);
    if (fen > 0)
        assert_int_equal(op_credit(f->op, psn_no, fen, &st), OK);
}

static void expect_reason(int code, const client_status *st, int want_code, const char *want_reason)
{
    if (code != want_code || strcmp(st->reason, want_reason) != 0)
        fail_msg("got %d %s (%s), want %d %s", code, st->reason, st->message, want_code, want_reason);
}

static void test_spouse_parent_refused_under_every_policy(void **state)
{
    (void)state;
    const char *policies[] = {CHANGSHA_POLICY, CHENGDU_POLICY, ""};
    const char *regions[] = {"430100", "510100", "532300"};
    for (int i = 0; i < 3; i++) {
        fixture *f = start(regions[i], policies[i]);
        person(f, "S1", 1, "310", 100000);
        person(f, "B1", 2, "310", 0);
        client_status st;
        expect_reason(op_bind(f->op, "S1", "B1", GONGJI__V1__RELATION__SPOUSE_PARENT, &st), &st,
                      FAILED_PRECONDITION, "SPOUSE_PARENT_NOT_ALLOWED");
        stop(f);
    }
}

static void test_sibling_refused_under_changsha_allowed_under_chengdu(void **state)
{
    (void)state;
    client_status st;
    fixture *f = start("430100", CHANGSHA_POLICY);
    person(f, "S1", 1, "310", 100000);
    person(f, "B1", 2, "310", 0);
    expect_reason(op_bind(f->op, "S1", "B1", GONGJI__V1__RELATION__SIBLING, &st), &st,
                  FAILED_PRECONDITION, "RELATION_NOT_ALLOWED");
    stop(f);

    f = start("510100", CHENGDU_POLICY);
    person(f, "S1", 1, "310", 100000);
    person(f, "B1", 2, "310", 0);
    assert_int_equal(op_bind(f->op, "S1", "B1", GONGJI__V1__RELATION__SIBLING, &st), OK);
    stop(f);
}

static void test_eleventh_beneficiary_refused_under_changsha(void **state)
{
    (void)state;
    client_status st;
    fixture *f = start("430100", CHANGSHA_POLICY);
    person(f, "S1", 1, "310", 100000);
    for (int i = 0; i < 11; i++) {
        char psn[16];
        snprintf(psn, sizeof psn, "B%d", i);
        person(f, psn, 10 + i, "390", 0);
        int code = op_bind(f->op, "S1", psn, GONGJI__V1__RELATION__CHILD, &st);
        if (i < 10)
            assert_int_equal(code, OK);
        else
            expect_reason(code, &st, RESOURCE_EXHAUSTED, "BINDING_LIMIT_REACHED");
    }
    /* Ending one frees a place from tomorrow on, not today. */
    assert_int_equal(op_unbind(f->op, "S1", "B0", &st), OK);
    expect_reason(op_bind(f->op, "S1", "B10", GONGJI__V1__RELATION__CHILD, &st), &st,
                  RESOURCE_EXHAUSTED, "BINDING_LIMIT_REACHED");
    int32_t tomorrow = gj_date_next(gj_cst_date_of(gj_now_unix_ms()));
    assert_int_equal(op_set_date(f->op, tomorrow, &st), OK);
    assert_int_equal(op_bind(f->op, "S1", "B10", GONGJI__V1__RELATION__CHILD, &st), OK);
    stop(f);
}

static void test_resident_cannot_sponsor(void **state)
{
    (void)state;
    client_status st;
    fixture *f = start("430100", CHANGSHA_POLICY);
    person(f, "R1", 1, "390", 0);
    person(f, "B1", 2, "310", 0);
    expect_reason(op_bind(f->op, "R1", "B1", GONGJI__V1__RELATION__CHILD, &st), &st,
                  FAILED_PRECONDITION, "SPONSOR_NOT_EMPLOYEE");
    /* And a resident has no account to credit. */
    expect_reason(op_credit(f->op, "R1", 100, &st), &st, FAILED_PRECONDITION, "NO_ACCOUNT");
    stop(f);
}

/* Own 30.00 + A 50.00 + B 100.00, paying 120.00. */
static void pay_120(const char *region, const char *policy, int64_t want_a, int64_t want_b,
                    int64_t want_cash)
{
    client_status st;
    fixture *f = start(region, policy);
    person(f, "P", 1, "310", 3000);
    person(f, "A", 2, "310", 5000);
    person(f, "B", 3, "310", 10000);
    assert_int_equal(op_bind(f->op, "A", "P", GONGJI__V1__RELATION__PARENT, &st), OK);
    assert_int_equal(op_bind(f->op, "B", "P", GONGJI__V1__RELATION__CHILD, &st), OK);
    Gongji__V1__SettleReply *r = NULL;
    assert_int_equal(op_settle(f->op, "P", 12000, NULL, &r, &st), OK);
    assert_non_null(r);
    assert_int_equal(r->acct_pay, 3000);
    assert_int_equal(settle_part(r, "A"), want_a);
    assert_int_equal(settle_part(r, "B"), want_b);
    assert_int_equal(r->acct_mulaid_pay, want_a + want_b);
    assert_int_equal(r->psn_cash_pay, want_cash);
    assert_int_equal(r->acct_pay + r->acct_mulaid_pay + r->psn_cash_pay, 12000);
    gongji__v1__settle_reply__free_unpacked(r, NULL);
    assert_int_equal(op_balance(f->op, "P"), 0);
    assert_int_equal(op_balance(f->op, "A"), 5000 - want_a);
    assert_int_equal(op_balance(f->op, "B"), 10000 - want_b);
    stop(f);
}

/* An institution's statement (national 3201): its own standing settlements in the
 * window, revoked ones apart; another institution's is refused; a window past 92 days
 * is refused. */
static int statement(client_t *c, const char *institution, int32_t from, int32_t to,
                     Gongji__V1__InstitutionTotalsReply **out, client_status *st)
{
    Gongji__V1__InstitutionTotalsRequest req = GONGJI__V1__INSTITUTION_TOTALS_REQUEST__INIT;
    req.fixmedins_code = (char *)institution;
    req.from_date = from;
    req.to_date = to;
    ProtobufCMessage *m = NULL;
    client_call(c, "gongji.v1.Settlement/InstitutionTotals", NULL, NULL, &req.base,
                &gongji__v1__institution_totals_reply__descriptor, &m, st);
    *out = (Gongji__V1__InstitutionTotalsReply *)m;
    return st->code;
}

/* One page of an institution's settlements (national 3202 through the gateway). */
static int statement_page(client_t *c, const char *institution, int32_t day, uint32_t size, const char *token,
                          Gongji__V1__InstitutionSettlementsReply **out, client_status *st)
{
    Gongji__V1__InstitutionSettlementsRequest req = GONGJI__V1__INSTITUTION_SETTLEMENTS_REQUEST__INIT;
    req.fixmedins_code = (char *)institution;
    req.from_date = req.to_date = day;
    req.page_size = size;
    req.page_token = (char *)token;
    ProtobufCMessage *m = NULL;
    client_call(c, "gongji.v1.Settlement/InstitutionSettlements", NULL, NULL, &req.base,
                &gongji__v1__institution_settlements_reply__descriptor, &m, st);
    *out = (Gongji__V1__InstitutionSettlementsReply *)m;
    return st->code;
}

/* Pages of two: the institution's four settlements, the revoked one too (not the
 * operator's), each once, with its msgid and amounts; a token not given is refused. */
static void institution_settlements_paged(client_t *inst, int32_t today, const char *revoked_setl)
{
    client_status st;
    Gongji__V1__InstitutionSettlementsReply *p = NULL;
    char token[GJ_SETL_ID_MAX + 1] = "", seen[4][GJ_SETL_ID_MAX + 1];
    size_t n = 0;
    for (int page = 0; page < 3; page++) {
        assert_int_equal(statement_page(inst, "H43010000001", today, 2, token, &p, &st), OK);
        for (size_t i = 0; i < p->n_settlements; i++) {
            const Gongji__V1__InstitutionSettlement *s = p->settlements[i];
            assert_true(n < 4);
            snprintf(seen[n++], sizeof seen[0], "%s", s->setl_id);
            assert_string_equal(s->psn_no, "P");
            assert_int_equal(strncmp(s->msgid, "stmt-", 5), 0);
            assert_int_equal(s->acct_pay + s->acct_mulaid_pay + s->psn_cash_pay, s->amount);
            assert_int_equal(s->revoked, strcmp(s->setl_id, revoked_setl) == 0);
        }
        snprintf(token, sizeof token, "%s", p->next_page_token);
        gongji__v1__institution_settlements_reply__free_unpacked(p, NULL);
        if (token[0] == '\0')
            break;
    }
    assert_int_equal(n, 4);
    for (size_t i = 1; i < n; i++)
        assert_true(strcmp(seen[i - 1], seen[i]) < 0);
    expect_reason(statement_page(inst, "H43010000001", today, 2, "999999-20260101-1", &p, &st), &st,
                  INVALID_ARGUMENT, "FIELD_INVALID");
    expect_reason(statement_page(inst, "H43010000001", today, GJ_STATEMENT_PAGE_MAX + 1, "", &p, &st), &st,
                  INVALID_ARGUMENT, "FIELD_INVALID");
    expect_reason(statement_page(inst, "H51010000001", today, 0, "", &p, &st), &st, PERMISSION_DENIED,
                  "CALLER_NOT_ALLOWED");
    assert_null(p);
}

static void test_an_institution_reads_its_own_statement_only(void **state)
{
    (void)state;
    client_status st;
    fixture *f = start("430100", CHANGSHA_POLICY);
    person(f, "P", 1, "310", 10000);
    client_t *inst = tn_client(&f->node, "H43010000001", GONGJI__V1__ROLE__INSTITUTION);
    Gongji__V1__SettleReply *r = NULL;
    char call_id[32], revoked[GJ_SETL_ID_MAX + 1] = "";
    for (int i = 0; i < 4; i++) {
        snprintf(call_id, sizeof call_id, "stmt-%d", i);
        assert_int_equal(op_settle_x(inst, "P", "", 1000 + i, call_id, &r, &st), OK);
        if (i == 3)
            snprintf(revoked, sizeof revoked, "%s", r->setl_id);
        gongji__v1__settle_reply__free_unpacked(r, NULL);
    }
    Gongji__V1__RevokeRequest rv = GONGJI__V1__REVOKE_REQUEST__INIT;
    rv.setl_id = revoked;
    ProtobufCMessage *rr = NULL;
    client_call(inst, "gongji.v1.Settlement/Revoke", "stmt-revoke", NULL, &rv.base, &gongji__v1__revoke_reply__descriptor,
                &rr, &st);
    assert_int_equal(st.code, OK);
    protobuf_c_message_free_unpacked(rr, NULL);
    assert_int_equal(op_settle(f->op, "P", 500, NULL, &r, &st), OK); /* the operator's, not the institution's */
    gongji__v1__settle_reply__free_unpacked(r, NULL);
    int32_t today = gj_cst_date_of(gj_now_unix_ms());
    Gongji__V1__InstitutionTotalsReply *t = NULL;
    assert_int_equal(statement(inst, "H43010000001", today, today, &t, &st), OK);
    assert_int_equal(t->settled_count, 3);
    assert_int_equal(t->amount, 3003);
    assert_int_equal(t->acct_pay, 3003);
    assert_int_equal(t->revoked_count, 1);
    gongji__v1__institution_totals_reply__free_unpacked(t, NULL);
    institution_settlements_paged(inst, today, revoked);
    assert_int_equal(statement(inst, "H43010000001", gj_date_next(today), gj_date_next(today), &t, &st), OK);
    assert_int_equal(t->settled_count, 0); /* tomorrow: nothing yet */
    gongji__v1__institution_totals_reply__free_unpacked(t, NULL);
    expect_reason(statement(inst, "H51010000001", today, today, &t, &st), &st, PERMISSION_DENIED,
                  "CALLER_NOT_ALLOWED");
    assert_null(t);
    int32_t far = today;
    for (int d = 0; d < 93; d++)
        far = gj_date_next(far);
    expect_reason(statement(f->op, "H43010000001", today, far, &t, &st), &st, INVALID_ARGUMENT, "FIELD_INVALID");
    assert_int_equal(statement(f->op, "H43010000001", today, today, &t, &st), OK); /* the region's operator */
    assert_int_equal(t->settled_count, 3);
    gongji__v1__institution_totals_reply__free_unpacked(t, NULL);
    client_close(inst);
    stop(f);
}

/* R19: the institution says no account may pay this bill: all cash, nothing moves, and
 * a retry answers the same. */
static void test_a_bill_the_accounts_may_not_pay_is_all_cash(void **state)
{
    (void)state;
    client_status st;
    fixture *f = start("510100", CHENGDU_POLICY);
    person(f, "P", 1, "310", 3000);
    person(f, "A", 2, "310", 5000);
    assert_int_equal(op_bind(f->op, "A", "P", GONGJI__V1__RELATION__PARENT, &st), OK);
    for (int attempt = 0; attempt < 2; attempt++) {
        Gongji__V1__SettleRequest req = GONGJI__V1__SETTLE_REQUEST__INIT;
        req.psn_no = "P";
        req.amount = 12000;
        req.use = GONGJI__V1__USE_TYPE__OUTPATIENT;
        req.accounts_not_used = true;
        ProtobufCMessage *m = NULL;
        client_call(f->op, "gongji.v1.Settlement/Settle", "no-account-1", NULL, &req.base,
                    &gongji__v1__settle_reply__descriptor, &m, &st);
        assert_int_equal(st.code, OK);
        Gongji__V1__SettleReply *r = (Gongji__V1__SettleReply *)m;
        assert_int_equal(r->psn_cash_pay, 12000);
        assert_int_equal(r->acct_pay + r->acct_mulaid_pay, 0);
        assert_int_equal(r->n_parts, 0);
        assert_string_equal(r->setl_id, "");
        assert_int_equal(r->balance_after, 3000);
        gongji__v1__settle_reply__free_unpacked(r, NULL);
    }
    assert_int_equal(op_balance(f->op, "P"), 3000);
    assert_int_equal(op_balance(f->op, "A"), 5000);
    stop(f);
}

static int settle_named(client_t *c, const char *psn_no, int64_t fen, const char *named,
                        Gongji__V1__SettleReply **out, client_status *st)
{
    Gongji__V1__SettleRequest req = GONGJI__V1__SETTLE_REQUEST__INIT;
    req.psn_no = (char *)psn_no;
    req.amount = fen;
    req.use = GONGJI__V1__USE_TYPE__OUTPATIENT;
    req.sponsor_psn_no = (char *)named;
    ProtobufCMessage *m = NULL;
    client_call(c, "gongji.v1.Settlement/Settle", NULL, NULL, &req.base, &gongji__v1__settle_reply__descriptor, &m,
                st);
    *out = (Gongji__V1__SettleReply *)m;
    return st->code;
}

/* R19 (seed 004): where the region allows it, the patient names the one sponsor for a
 * bill: only that one pays after the patient's own account, whatever the order. */
static void test_a_named_sponsor_pays_alone_where_the_region_allows(void **state)
{
    (void)state;
    client_status st;
    fixture *f = start("510100", CHENGDU_POLICY "sponsor_choice = yes\n");
    person(f, "P", 1, "310", 3000);
    person(f, "A", 2, "310", 5000);
    person(f, "B", 3, "310", 10000);
    person(f, "C", 4, "310", 10000);
    assert_int_equal(op_bind(f->op, "A", "P", GONGJI__V1__RELATION__PARENT, &st), OK);
    assert_int_equal(op_bind(f->op, "B", "P", GONGJI__V1__RELATION__CHILD, &st), OK);
    Gongji__V1__SettleReply *r = NULL;
    assert_int_equal(settle_named(f->op, "P", 12000, "B", &r, &st), OK);
    assert_int_equal(r->acct_pay, 3000);
    assert_int_equal(settle_part(r, "B"), 9000);
    assert_int_equal(settle_part(r, "A"), 0); /* first in the order, not named */
    assert_int_equal(r->psn_cash_pay, 0);
    gongji__v1__settle_reply__free_unpacked(r, NULL);
    assert_int_equal(op_balance(f->op, "A"), 5000);
    assert_int_equal(op_balance(f->op, "B"), 1000);
    /* The named one short: the rest is cash, not the next in the order. */
    assert_int_equal(settle_named(f->op, "P", 3000, "B", &r, &st), OK);
    assert_int_equal(settle_part(r, "B"), 1000);
    assert_int_equal(r->psn_cash_pay, 2000);
    gongji__v1__settle_reply__free_unpacked(r, NULL);
    expect_reason(settle_named(f->op, "P", 1000, "C", &r, &st), &st, FAILED_PRECONDITION, "SPONSOR_NOT_IN_ORDER");
    assert_null(r);
    assert_int_equal(op_balance(f->op, "A"), 5000);
    assert_int_equal(op_balance(f->op, "C"), 10000);
    stop(f);
    /* A region that does not allow it refuses the bill; nothing moves. */
    f = start("510100", CHENGDU_POLICY);
    person(f, "P", 1, "310", 3000);
    person(f, "A", 2, "310", 5000);
    assert_int_equal(op_bind(f->op, "A", "P", GONGJI__V1__RELATION__PARENT, &st), OK);
    expect_reason(settle_named(f->op, "P", 1000, "A", &r, &st), &st, FAILED_PRECONDITION,
                  "SPONSOR_CHOICE_NOT_ALLOWED");
    assert_int_equal(op_balance(f->op, "P"), 3000);
    stop(f);
}

static void test_cascade_pays_30_50_40_cash_0(void **state)
{
    (void)state;
    pay_120("510100", CHENGDU_POLICY, 5000, 4000, 0);
}

static void test_single_sponsor_pays_30_50_0_cash_40(void **state)
{
    (void)state;
    pay_120("430100", CHANGSHA_POLICY, 5000, 0, 4000);
}

static void test_floor_leaves_2000_yuan_in_sponsor_account(void **state)
{
    (void)state;
    client_status st;
    fixture *f = start("350100", FUZHOU_POLICY);
    person(f, "P", 1, "390", 0);
    person(f, "S", 2, "310", 250000); /* 2500.00 */
    assert_int_equal(op_bind(f->op, "S", "P", GONGJI__V1__RELATION__PARENT, &st), OK);
    Gongji__V1__SettleReply *r = NULL;
    assert_int_equal(op_settle(f->op, "P", 100000, NULL, &r, &st), OK);
    assert_int_equal(settle_part(r, "S"), 50000);
    assert_int_equal(r->psn_cash_pay, 50000);
    gongji__v1__settle_reply__free_unpacked(r, NULL);
    assert_int_equal(op_balance(f->op, "S"), 200000);
    /* At the floor nothing more is shared. */
    assert_int_equal(op_settle(f->op, "P", 100, NULL, &r, &st), OK);
    assert_int_equal(r->psn_cash_pay, 100);
    assert_int_equal(r->n_parts, 0);
    gongji__v1__settle_reply__free_unpacked(r, NULL);
    assert_int_equal(op_balance(f->op, "S"), 200000);
    stop(f);
}

static void test_unbinding_made_today_pays_today_not_tomorrow(void **state)
{
    (void)state;
    client_status st;
    fixture *f = start("510100", CHENGDU_POLICY);
    person(f, "P", 1, "390", 0);
    person(f, "S", 2, "310", 100000);
    assert_int_equal(op_bind(f->op, "S", "P", GONGJI__V1__RELATION__CHILD, &st), OK);
    assert_int_equal(op_unbind(f->op, "S", "P", &st), OK);
    Gongji__V1__SettleReply *r = NULL;
    assert_int_equal(op_settle(f->op, "P", 1000, NULL, &r, &st), OK);
    assert_int_equal(settle_part(r, "S"), 1000);
    gongji__v1__settle_reply__free_unpacked(r, NULL);
    assert_int_equal(op_balance(f->op, "S"), 99000);

    int32_t tomorrow = gj_date_next(gj_cst_date_of(gj_now_unix_ms()));
    assert_int_equal(op_set_date(f->op, tomorrow, &st), OK);
    assert_int_equal(op_settle(f->op, "P", 1000, NULL, &r, &st), OK);
    assert_int_equal(settle_part(r, "S"), 0);
    assert_int_equal(r->psn_cash_pay, 1000);
    gongji__v1__settle_reply__free_unpacked(r, NULL);
    assert_int_equal(op_balance(f->op, "S"), 99000);
    /* Unbinding again: nothing is in force. */
    expect_reason(op_unbind(f->op, "S", "P", &st), &st, NOT_FOUND, "BINDING_NOT_FOUND");
    stop(f);
}

static void test_repeated_call_id_moves_money_once(void **state)
{
    (void)state;
    client_status st;
    fixture *f = start("510100", CHENGDU_POLICY);
    person(f, "P", 1, "310", 10000);
    Gongji__V1__SettleReply *first = NULL, *again = NULL;
    assert_int_equal(op_settle(f->op, "P", 2500, "visit-42", &first, &st), OK);
    assert_int_equal(op_settle(f->op, "P", 2500, "visit-42", &again, &st), OK);
    assert_string_equal(first->setl_id, again->setl_id);
    assert_int_equal(again->acct_pay, 2500);
    assert_int_equal(op_balance(f->op, "P"), 7500);
    /* Same id, different content: refused, nothing moves. */
    expect_reason(op_settle(f->op, "P", 9999, "visit-42", NULL, &st), &st, ALREADY_EXISTS,
                  "CALL_ID_REUSED");
    assert_int_equal(op_balance(f->op, "P"), 7500);
    gongji__v1__settle_reply__free_unpacked(first, NULL);
    gongji__v1__settle_reply__free_unpacked(again, NULL);
    stop(f);
}

static void test_set_order_changes_who_pays_first(void **state)
{
    (void)state;
    client_status st;
    fixture *f = start("510100", CHENGDU_POLICY);
    person(f, "P", 1, "390", 0);
    person(f, "A", 2, "310", 5000);
    person(f, "B", 3, "310", 5000);
    assert_int_equal(op_bind(f->op, "A", "P", GONGJI__V1__RELATION__PARENT, &st), OK);
    assert_int_equal(op_bind(f->op, "B", "P", GONGJI__V1__RELATION__PARENT, &st), OK);

    Gongji__V1__SetOrderRequest req = GONGJI__V1__SET_ORDER_REQUEST__INIT;
    char *order[] = {"B", "A"};
    req.beneficiary_psn_no = "P";
    req.n_sponsor_psn_no = 2;
    req.sponsor_psn_no = order;
    ProtobufCMessage *ans = NULL;
    assert_int_equal(client_call(f->op, "gongji.v1.MutualAid/SetOrder", NULL, NULL, &req.base,
                                 &gongji__v1__set_order_reply__descriptor, &ans, &st), GJ_OK);
    assert_int_equal(st.code, OK);
    protobuf_c_message_free_unpacked(ans, NULL);

    Gongji__V1__SettleReply *r = NULL;
    assert_int_equal(op_settle(f->op, "P", 1000, NULL, &r, &st), OK);
    assert_int_equal(settle_part(r, "B"), 1000);
    assert_int_equal(settle_part(r, "A"), 0);
    gongji__v1__settle_reply__free_unpacked(r, NULL);

    /* An order that leaves a sponsor out is refused; the order stays. */
    req.n_sponsor_psn_no = 1;
    client_call(f->op, "gongji.v1.MutualAid/SetOrder", NULL, NULL, &req.base,
                &gongji__v1__set_order_reply__descriptor, &ans, &st);
    expect_reason(st.code, &st, INVALID_ARGUMENT, "ORDER_MISMATCH");

    /* The beneficiary may set it themself; the sponsor may not. */
    client_t *self = tn_client(&f->node, "P", GONGJI__V1__ROLE__PERSON);
    client_t *other = tn_client(&f->node, "A", GONGJI__V1__ROLE__PERSON);
    req.n_sponsor_psn_no = 2;
    order[0] = "A";
    order[1] = "B";
    client_call(other, "gongji.v1.MutualAid/SetOrder", NULL, NULL, &req.base,
                &gongji__v1__set_order_reply__descriptor, &ans, &st);
    expect_reason(st.code, &st, PERMISSION_DENIED, "CALLER_NOT_ALLOWED");
    client_call(self, "gongji.v1.MutualAid/SetOrder", NULL, NULL, &req.base,
                &gongji__v1__set_order_reply__descriptor, &ans, &st);
    assert_int_equal(st.code, OK);
    protobuf_c_message_free_unpacked(ans, NULL);
    client_close(self);
    client_close(other);

    assert_int_equal(op_settle(f->op, "P", 1000, NULL, &r, &st), OK);
    assert_int_equal(settle_part(r, "A"), 1000);
    gongji__v1__settle_reply__free_unpacked(r, NULL);
    assert_int_equal(op_balance(f->op, "A"), 4000);
    assert_int_equal(op_balance(f->op, "B"), 4000);
    stop(f);
}

static void test_list_bindings_shows_both_sides_and_order(void **state)
{
    (void)state;
    client_status st;
    fixture *f = start("510100", CHENGDU_POLICY);
    person(f, "P", 1, "310", 0);
    person(f, "A", 2, "310", 100);
    person(f, "C", 3, "390", 0);
    assert_int_equal(op_bind(f->op, "A", "P", GONGJI__V1__RELATION__PARENT, &st), OK);
    assert_int_equal(op_bind(f->op, "P", "C", GONGJI__V1__RELATION__CHILD, &st), OK);
    Gongji__V1__ListBindingsRequest req = GONGJI__V1__LIST_BINDINGS_REQUEST__INIT;
    req.psn_no = "P";
    Gongji__V1__ListBindingsReply *r = NULL;
    assert_int_equal(client_call(f->op, "gongji.v1.MutualAid/ListBindings", NULL, NULL, &req.base,
                                 &gongji__v1__list_bindings_reply__descriptor,
                                 (ProtobufCMessage **)&r, &st), GJ_OK);
    assert_int_equal(st.code, OK);
    assert_int_equal(r->n_as_sponsor, 1);
    assert_string_equal(r->as_sponsor[0]->beneficiary_psn_no, "C");
    assert_int_equal(r->as_sponsor[0]->relation, GONGJI__V1__RELATION__CHILD);
    assert_true(r->as_sponsor[0]->active);
    assert_int_equal(r->n_as_beneficiary, 1);
    assert_string_equal(r->as_beneficiary[0]->sponsor_psn_no, "A");
    assert_int_equal(r->n_deduction_order, 1);
    assert_string_equal(r->deduction_order[0], "A");
    gongji__v1__list_bindings_reply__free_unpacked(r, NULL);
    stop(f);
}

static void test_status_change_ends_bindings(void **state)
{
    (void)state;
    client_status st;
    fixture *f = start("510100", CHENGDU_POLICY);
    person(f, "P", 1, "390", 0);
    person(f, "S", 2, "310", 10000);
    assert_int_equal(op_bind(f->op, "S", "P", GONGJI__V1__RELATION__CHILD, &st), OK);
    /* The sponsor stops being insured: the binding ends at once, nothing more is paid. */
    assert_int_equal(op_set_status(f->op, "S", 2, "310", "510100", GONGJI__V1__PERSON_STATUS__TERMINATED,
                                   &st), OK);
    Gongji__V1__SettleReply *r = NULL;
    assert_int_equal(op_settle(f->op, "P", 500, NULL, &r, &st), OK);
    assert_int_equal(r->psn_cash_pay, 500);
    assert_int_equal(r->n_parts, 0);
    gongji__v1__settle_reply__free_unpacked(r, NULL);
    assert_int_equal(op_balance(f->op, "S"), 10000);
    /* Re-enrolled, the sponsor must bind again. */
    assert_int_equal(op_enroll(f->op, "S", 2, "310", "510100", &st), OK);
    assert_int_equal(op_settle(f->op, "P", 500, NULL, &r, &st), OK);
    assert_int_equal(r->n_parts, 0);
    gongji__v1__settle_reply__free_unpacked(r, NULL);
    assert_int_equal(op_bind(f->op, "S", "P", GONGJI__V1__RELATION__CHILD, &st), OK);
    assert_int_equal(op_settle(f->op, "P", 500, NULL, &r, &st), OK);
    assert_int_equal(settle_part(r, "S"), 500);
    gongji__v1__settle_reply__free_unpacked(r, NULL);
    stop(f);
}

static void test_records_list_each_relatives_spending_paged(void **state)
{
    (void)state;
    client_status st;
    fixture *f = start("510100", CHENGDU_POLICY);
    person(f, "S", 1, "310", 1000000);
    person(f, "C1", 2, "390", 0);
    person(f, "C2", 3, "390", 0);
    assert_int_equal(op_bind(f->op, "S", "C1", GONGJI__V1__RELATION__CHILD, &st), OK);
    assert_int_equal(op_bind(f->op, "S", "C2", GONGJI__V1__RELATION__CHILD, &st), OK);
    int64_t spent[2] = {0, 0};
    for (int i = 0; i < 5; i++) {
        assert_int_equal(op_settle(f->op, i % 2 ? "C2" : "C1", 100 + i, NULL, NULL, &st), OK);
        spent[i % 2] += 100 + i;
    }
    Gongji__V1__RecordsRequest req = GONGJI__V1__RECORDS_REQUEST__INIT;
    req.psn_no = "S";
    req.page_size = 2;
    int64_t seen[2] = {0, 0};
    size_t records = 0, pages = 0;
    char token[80] = "";
    do {
        req.page_token = token;
        Gongji__V1__RecordsReply *r = NULL;
        assert_int_equal(client_call(f->op, "gongji.v1.Settlement/Records", NULL, NULL, &req.base,
                                     &gongji__v1__records_reply__descriptor,
                                     (ProtobufCMessage **)&r, &st), GJ_OK);
        assert_int_equal(st.code, OK);
        assert_true(r->n_records <= 2);
        for (size_t i = 0; i < r->n_records; i++) {
            assert_string_equal(r->records[i]->sponsor_psn_no, "S");
            seen[strcmp(r->records[i]->beneficiary_psn_no, "C1") == 0 ? 0 : 1] += r->records[i]->amount;
            records++;
        }
        snprintf(token, sizeof token, "%s", r->next_page_token);
        gongji__v1__records_reply__free_unpacked(r, NULL);
        pages++;
    } while (token[0] != '\0' && pages < 10);
    assert_int_equal(records, 5);
    assert_int_equal(pages, 3);
    assert_int_equal(seen[0], spent[0]);
    assert_int_equal(seen[1], spent[1]);
    assert_int_equal(op_balance(f->op, "S"), 1000000 - spent[0] - spent[1]);
    /* Someone else may not read the sponsor's records. */
    client_t *c1 = tn_client(&f->node, "C1", GONGJI__V1__ROLE__PERSON);
    req.page_token = "";
    client_call(c1, "gongji.v1.Settlement/Records", NULL, NULL, &req.base,
                &gongji__v1__records_reply__descriptor, NULL, &st);
    expect_reason(st.code, &st, PERMISSION_DENIED, "CALLER_NOT_ALLOWED");
    client_close(c1);
    stop(f);
}

static void test_region_not_live_refuses_binding(void **state)
{
    (void)state;
    client_status st;
    fixture *f = start("430200", "live = no\n");
    person(f, "S", 1, "310", 1000);
    person(f, "P", 2, "390", 0);
    expect_reason(op_bind(f->op, "S", "P", GONGJI__V1__RELATION__CHILD, &st), &st,
                  FAILED_PRECONDITION, "REGION_NOT_LIVE");
    stop(f);
}

static void test_clock_override_refused_unless_enabled(void **state)
{
    (void)state;
    client_status st;
    fixture *f = test_calloc(1, sizeof *f);
    tn_init(&f->node, "510100", CHENGDU_POLICY);
    snprintf(f->node.extra, sizeof f->node.extra, "allow_clock_override = no\n");
    assert_int_equal(tn_start(&f->node), 0);
    f->op = tn_client(&f->node, "op-1", GONGJI__V1__ROLE__OPERATOR);
    expect_reason(op_set_date(f->op, 20300101, &st), &st, FAILED_PRECONDITION,
                  "CLOCK_OVERRIDE_DISABLED");
    stop(f);
}

static void test_revoke_only_within_the_regions_revoke_period(void **state)
{
    (void)state;
    client_status st;
    fixture *f = start("510100", CHENGDU_POLICY "revoke_days = 7\n");
    person(f, "P", 1, "310", 10000);
    Gongji__V1__SettleReply *r = NULL;
    assert_int_equal(op_settle(f->op, "P", 1000, NULL, &r, &st), OK);
    char setl_id[64];
    snprintf(setl_id, sizeof setl_id, "%s", r->setl_id);
    gongji__v1__settle_reply__free_unpacked(r, NULL);
    int32_t day = gj_cst_date_of(gj_now_unix_ms());
    for (int i = 0; i < 8; i++)
        day = gj_date_next(day);
    assert_int_equal(op_set_date(f->op, day, &st), OK); /* eight days later */
    Gongji__V1__RevokeRequest req = GONGJI__V1__REVOKE_REQUEST__INIT;
    req.setl_id = setl_id;
    client_call(f->op, "gongji.v1.Settlement/Revoke", NULL, NULL, &req.base,
                &gongji__v1__revoke_reply__descriptor, NULL, &st);
    expect_reason(st.code, &st, FAILED_PRECONDITION, "REVOKE_WINDOW_PASSED");
    assert_int_equal(op_balance(f->op, "P"), 9000);
    assert_int_equal(op_set_date(f->op, 0, &st), OK); /* back to today: revocable */
    client_call(f->op, "gongji.v1.Settlement/Revoke", NULL, NULL, &req.base,
                &gongji__v1__revoke_reply__descriptor, NULL, &st);
    assert_int_equal(st.code, OK);
    assert_int_equal(op_balance(f->op, "P"), 10000);
    stop(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spouse_parent_refused_under_every_policy),
        cmocka_unit_test(test_sibling_refused_under_changsha_allowed_under_chengdu),
        cmocka_unit_test(test_eleventh_beneficiary_refused_under_changsha),
        cmocka_unit_test(test_resident_cannot_sponsor),
        cmocka_unit_test(test_cascade_pays_30_50_40_cash_0),
        cmocka_unit_test(test_a_bill_the_accounts_may_not_pay_is_all_cash),
        cmocka_unit_test(test_a_named_sponsor_pays_alone_where_the_region_allows),
        cmocka_unit_test(test_an_institution_reads_its_own_statement_only),
        cmocka_unit_test(test_single_sponsor_pays_30_50_0_cash_40),
        cmocka_unit_test(test_floor_leaves_2000_yuan_in_sponsor_account),
        cmocka_unit_test(test_unbinding_made_today_pays_today_not_tomorrow),
        cmocka_unit_test(test_repeated_call_id_moves_money_once),
        cmocka_unit_test(test_set_order_changes_who_pays_first),
        cmocka_unit_test(test_list_bindings_shows_both_sides_and_order),
        cmocka_unit_test(test_status_change_ends_bindings),
        cmocka_unit_test(test_records_list_each_relatives_spending_paged),
        cmocka_unit_test(test_region_not_live_refuses_binding),
        cmocka_unit_test(test_clock_override_refused_unless_enabled),
        cmocka_unit_test(test_revoke_only_within_the_regions_revoke_period),
    };
    return th_exit_status(cmocka_run_group_tests(tests, NULL, NULL));
}
