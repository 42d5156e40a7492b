/* After the payment, with real node processes: revoke, reversal, premiums, records,
 * clearing windows and reconcile. Money checked on every node. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <time.h>

#include "gj_util.h"
#include "cluster_fixture.h"

enum { OK = 0, NOT_FOUND = 5, ABORTED = 10, FAILED_PRECONDITION = 9 };

/* Remote posts and refunds follow the answer: wait (bounded) for the balance. */
static void expect_balance(const char *region, const char *psn_no, int64_t want)
{
    client_t *c = op_at(region);
    int64_t got = -1, held = -1;
    for (int i = 0; i < 150; i++) {
        got = op_balance_x(c, psn_no, NULL, &held);
        if (got == want && held == 0)
            break;
        sleep_ms(50);
    }
    client_close(c);
    if (got != want || held != 0)
        fail_msg("%s in %s: balance %lld held %lld, want %lld held 0", psn_no, region, (long long)got,
                 (long long)held, (long long)want);
}

static int revoke(client_t *c, const char *setl_id, const char *call_id, Gongji__V1__RevokeReply **reply,
                  client_status *st)
{
    Gongji__V1__RevokeRequest req = GONGJI__V1__REVOKE_REQUEST__INIT;
    req.setl_id = (char *)setl_id;
    ProtobufCMessage *ans = NULL;
    client_call(c, "gongji.v1.Settlement/Revoke", call_id, NULL, &req.base,
                &gongji__v1__revoke_reply__descriptor, &ans, st);
    if (reply)
        *reply = (Gongji__V1__RevokeReply *)ans;
    else if (ans)
        protobuf_c_message_free_unpacked(ans, NULL);
    return st->code;
}

static int reverse(client_t *c, const char *original, const char *region, Gongji__V1__ReverseReply **reply,
                   client_status *st)
{
    Gongji__V1__ReverseRequest req = GONGJI__V1__REVERSE_REQUEST__INIT;
    req.original_call_id = (char *)original;
    req.insuplc_admdvs = (char *)region;
    ProtobufCMessage *ans = NULL;
    client_call(c, "gongji.v1.Settlement/Reverse", NULL, NULL, &req.base,
                &gongji__v1__reverse_reply__descriptor, &ans, st);
    if (reply)
        *reply = (Gongji__V1__ReverseReply *)ans;
    else if (ans)
        protobuf_c_message_free_unpacked(ans, NULL);
    return st->code;
}

static Gongji__V1__ClearingTotalsReply *totals(const char *region, int32_t window)
{
    client_t *c = op_at(region);
    Gongji__V1__ClearingTotalsRequest req = GONGJI__V1__CLEARING_TOTALS_REQUEST__INIT;
    req.window = window;
    ProtobufCMessage *ans = NULL;
    client_status st;
    client_call(c, "gongji.v1.Clearing/ClearingTotals", NULL, NULL, &req.base,
                &gongji__v1__clearing_totals_reply__descriptor, &ans, &st);
    client_close(c);
    assert_int_equal(st.code, OK);
    return (Gongji__V1__ClearingTotalsReply *)ans;
}

static const Gongji__V1__CounterpartyTotals *row_for(const Gongji__V1__ClearingTotalsReply *t, const char *region)
{
    for (size_t i = 0; i < t->n_counterparties; i++)
        if (strcmp(t->counterparties[i]->region, region) == 0)
            return t->counterparties[i];
    return NULL;
}

static Gongji__V1__ReconcileReply *reconcile(const char *region, const char *peer, int32_t window)
{
    client_t *c = op_at(region);
    Gongji__V1__ReconcileRequest req = GONGJI__V1__RECONCILE_REQUEST__INIT;
    req.window = window;
    req.peer_region = (char *)peer;
    ProtobufCMessage *ans = NULL;
    client_status st;
    client_call(c, "gongji.v1.Clearing/Reconcile", NULL, NULL, &req.base,
                &gongji__v1__reconcile_reply__descriptor, &ans, &st);
    client_close(c);
    if (st.code != OK)
        fail_msg("reconcile: %s %s", st.reason, st.message);
    return (Gongji__V1__ReconcileReply *)ans;
}

static int32_t today(void)
{
    return gj_cst_date_of(gj_now_unix_ms());
}


static void test_revoke_of_a_settlement_paid_on_two_nodes_returns_every_fen(void **state)
{
    (void)state;
    client_status st;
    person_at("510100", "L1-P", 1, "310", 1000);     /* own 10.00 */
    person_at("540600", "L1-NQ", 1, "310", 3000);    /* 30.00 */
    person_at("510100", "L1-CD", 2, "310", 10000);   /* 100.00 */
    client_t *cd = op_at("510100");
    assert_int_equal(bind_via("510100", "L1-NQ", "540600", "L1-P", "510100", GONGJI__V1__RELATION__CHILD, &st), OK);
    assert_int_equal(op_bind(cd, "L1-CD", "L1-P", GONGJI__V1__RELATION__CHILD, &st), OK);
    Gongji__V1__ClearingTotalsReply *before = totals("510100", 0);
    const Gongji__V1__CounterpartyTotals *b_row = row_for(before, "540600");
    int64_t net_before = b_row ? b_row->net : 0;
    uint64_t count_before = b_row ? b_row->owed_to_us_count : 0;

    Gongji__V1__SettleReply *r = NULL;
    client_t *inst = tn_client(tc_node(&tc, "510100"), "H51010400009", GONGJI__V1__ROLE__INSTITUTION);
    assert_int_equal(op_settle_x(inst, "L1-P", "510100", 10000, "bill-L1", &r, &st), OK);
    assert_int_equal(r->acct_pay, 1000);
    assert_int_equal(settle_part(r, "L1-NQ"), 3000);
    assert_int_equal(settle_part(r, "L1-CD"), 6000);
    char setl_id[64];
    snprintf(setl_id, sizeof setl_id, "%s", r->setl_id);
    gongji__v1__settle_reply__free_unpacked(r, NULL);
    expect_balance("540600", "L1-NQ", 0);

    /* The revoke is sent to another node: the setl_id routes it home. */
    client_t *via_nq = tn_client(tc_node(&tc, "540600"), "H51010400009", GONGJI__V1__ROLE__INSTITUTION);
    Gongji__V1__RevokeReply *rv = NULL;
    assert_int_equal(revoke(via_nq, setl_id, "revoke-L1", &rv, &st), OK);
    assert_int_equal(rv->acct_refund, 1000);
    assert_int_equal(rv->n_refunds, 2);
    gongji__v1__revoke_reply__free_unpacked(rv, NULL);
    expect_balance("510100", "L1-P", 1000);
    expect_balance("510100", "L1-CD", 10000);
    expect_balance("540600", "L1-NQ", 3000);

    /* Again with the same call id: the same answer; with a new one: refused. */
    assert_int_equal(revoke(via_nq, setl_id, "revoke-L1", NULL, &st), OK);
    assert_int_equal(revoke(inst, setl_id, "revoke-L1-again", NULL, &st), FAILED_PRECONDITION);
    assert_string_equal(st.reason, "ALREADY_REVOKED");
    assert_int_equal(revoke(inst, "510100-20200101-1-999", "revoke-nothing", NULL, &st), NOT_FOUND);
    assert_string_equal(st.reason, "SETTLEMENT_NOT_FOUND");
    cluster_quiet();
    expect_balance("540600", "L1-NQ", 3000);
    expect_balance("510100", "L1-CD", 10000);

    /* Clearing: a forward row and a reverse row, net zero between the two regions. */
    Gongji__V1__ClearingTotalsReply *after = totals("510100", 0);
    const Gongji__V1__CounterpartyTotals *a_row = row_for(after, "540600");
    assert_non_null(a_row);
    assert_int_equal(a_row->owed_to_us_count, count_before + 2);
    assert_int_equal(a_row->net, net_before);
    Gongji__V1__ClearingTotalsReply *theirs = totals("540600", 0);
    const Gongji__V1__CounterpartyTotals *t_row = row_for(theirs, "510100");
    assert_non_null(t_row);
    assert_int_equal(t_row->net, -a_row->net);
    /* Cross-province pairs roll up by province for national clearing. */
    bool rolled_up = false;
    for (size_t i = 0; i < after->n_provinces; i++)
        if (strcmp(after->provinces[i]->region, "54") == 0) {
            rolled_up = true;
            assert_int_equal(after->provinces[i]->owed_to_us_count, a_row->owed_to_us_count);
            assert_int_equal(after->provinces[i]->net, a_row->net);
        }
    assert_true(rolled_up);
    gongji__v1__clearing_totals_reply__free_unpacked(before, NULL);
    gongji__v1__clearing_totals_reply__free_unpacked(after, NULL);
    gongji__v1__clearing_totals_reply__free_unpacked(theirs, NULL);

    /* The patient sees the settlement marked revoked. */
    Gongji__V1__SettlementRecordsRequest sreq = GONGJI__V1__SETTLEMENT_RECORDS_REQUEST__INIT;
    sreq.psn_no = "L1-P";
    Gongji__V1__SettlementRecordsReply *recs = NULL;
    client_call(cd, "gongji.v1.Settlement/SettlementRecords", NULL, NULL, &sreq.base,
                &gongji__v1__settlement_records_reply__descriptor, (ProtobufCMessage **)&recs, &st);
    assert_int_equal(st.code, OK);
    assert_int_equal(recs->n_records, 1);
    assert_true(recs->records[0]->revoked);
    assert_int_equal(recs->records[0]->n_parts, 2);
    gongji__v1__settlement_records_reply__free_unpacked(recs, NULL);
    client_close(via_nq);
    client_close(inst);
    client_close(cd);
}

static void test_reversal_before_the_original_refuses_it(void **state)
{
    (void)state;
    client_status st;
    person_at("510100", "L2-P", 3, "390", 0);
    person_at("540600", "L2-NQ", 2, "310", 10000);
    client_t *cd = op_at("510100");
    person_at("510100", "L2-E", 4, "310", 5000);
    client_t *inst = tn_client(tc_node(&tc, "510100"), "H51010400002", GONGJI__V1__ROLE__INSTITUTION);
    /* The reversal arrives first (sent to Nagqu, routed to Chengdu). */
    client_t *via_nq = tn_client(tc_node(&tc, "540600"), "H51010400002", GONGJI__V1__ROLE__INSTITUTION);
    Gongji__V1__ReverseReply *rr = NULL;
    assert_int_equal(reverse(via_nq, "bill-L2", "510100", &rr, &st), OK);
    assert_int_equal(rr->outcome, GONGJI__V1__REVERSE_OUTCOME__TOMBSTONED);
    gongji__v1__reverse_reply__free_unpacked(rr, NULL);
    /* The original, late: refused, nothing moves. */
    assert_int_equal(op_settle_x(inst, "L2-E", "510100", 1000, "bill-L2", NULL, &st), ABORTED);
    assert_string_equal(st.reason, "CALL_REVERSED");
    assert_int_equal(op_balance(cd, "L2-E"), 5000);

    /* A reversal of a committed settlement revokes it. */
    Gongji__V1__SettleReply *r = NULL;
    assert_int_equal(op_settle_x(inst, "L2-E", "510100", 1200, "bill-L2b", &r, &st), OK);
    assert_int_equal(r->acct_pay, 1200);
    gongji__v1__settle_reply__free_unpacked(r, NULL);
    assert_int_equal(op_balance(cd, "L2-E"), 3800);
    assert_int_equal(reverse(inst, "bill-L2b", "510100", &rr, &st), OK);
    assert_int_equal(rr->outcome, GONGJI__V1__REVERSE_OUTCOME__REVOKED);
    assert_non_null(rr->revoke);
    assert_int_equal(rr->revoke->acct_refund, 1200);
    gongji__v1__reverse_reply__free_unpacked(rr, NULL);
    assert_int_equal(op_balance(cd, "L2-E"), 5000);
    /* A retry of the original now answers what it answered first. */
    assert_int_equal(op_settle_x(inst, "L2-E", "510100", 1200, "bill-L2b", NULL, &st), OK);
    assert_int_equal(op_balance(cd, "L2-E"), 5000);
    client_close(via_nq);
    client_close(inst);
    client_close(cd);
}

static void test_revokes_complete_once_after_the_sponsor_node_is_killed(void **state)
{
    (void)state;
    client_status st;
    enum { N = 6 };
    char setl_ids[N][64];
    person_at("430100", "L3-P", 20, "390", 0);
    person_at("430300", "L3-XT", 20, "310", 100000); /* 1000.00 */
    client_t *cs = op_at("430100");
    assert_int_equal(bind_via("430100", "L3-XT", "430300", "L3-P", "430100", GONGJI__V1__RELATION__PARENT, &st), OK);
    int64_t paid = 0;
    for (int i = 0; i < N; i++) {
        char call_id[32];
        snprintf(call_id, sizeof call_id, "bill-L3-%d", i);
        Gongji__V1__SettleReply *r = NULL;
        assert_int_equal(op_settle_x(cs, "L3-P", "430100", 1000 + i, call_id, &r, &st), OK);
        assert_int_equal(settle_part(r, "L3-XT"), 1000 + i);
        snprintf(setl_ids[i], sizeof setl_ids[i], "%s", r->setl_id);
        paid += 1000 + i;
        gongji__v1__settle_reply__free_unpacked(r, NULL);
    }
    expect_balance("430300", "L3-XT", 100000 - paid);
    test_node *xt = tc_node(&tc, "430300");
    tn_kill9(xt);
    for (int i = 0; i < N; i++) {
        char call_id[32];
        snprintf(call_id, sizeof call_id, "revoke-L3-%d", i);
        assert_int_equal(revoke(cs, setl_ids[i], call_id, NULL, &st), OK);
        if (i == N / 2) {
            assert_int_equal(tn_start(xt), 0); /* back in the middle of the revokes */
        }
    }
    cluster_quiet();
    expect_balance("430300", "L3-XT", 100000);
    /* Delivering them again changes nothing: restart both and look once more. */
    tn_kill9(xt);
    assert_int_equal(tn_start(xt), 0);
    sleep_ms(500);
    expect_balance("430300", "L3-XT", 100000);
    client_close(cs);
}

static void test_cross_region_premium_honours_the_sponsors_floor(void **state)
{
    (void)state;
    client_status st;
    person_at("510100", "L4-R", 30, "390", 0);
    person_at("420100", "L4-WH", 1, "310", 150000); /* 1500.00, floor 1000.00 in Wuhan */
    /* The sponsor pays, through the platform, at its own node; the premium is the
     * beneficiary's region's to collect. */
    client_t *wh = tn_client(tc_node(&tc, "420100"), "L4-WH", GONGJI__V1__ROLE__PERSON);
    assert_int_equal(bind_via("420100", "L4-WH", "420100", "L4-R", "510100", GONGJI__V1__RELATION__PARENT, &st), OK);
    Gongji__V1__PayPremiumRequest req = GONGJI__V1__PAY_PREMIUM_REQUEST__INIT;
    req.sponsor_psn_no = "L4-WH";
    req.sponsor_admdvs = "420100";
    req.beneficiary_psn_no = "L4-R";
    req.insuplc_admdvs = "510100";
    req.amount = 38000; /* 380.00 */
    req.year = 2027;
    Gongji__V1__PayPremiumReply *pr = NULL;
    client_call(wh, "gongji.v1.Settlement/PayPremium", "premium-L4-1", NULL, &req.base,
                &gongji__v1__pay_premium_reply__descriptor, (ProtobufCMessage **)&pr, &st);
    assert_int_equal(st.code, OK);
    assert_int_equal(pr->amount, 38000);
    assert_string_equal(pr->sponsor_admdvs, "420100");
    gongji__v1__pay_premium_reply__free_unpacked(pr, NULL);
    expect_balance("420100", "L4-WH", 112000);
    /* Without naming the sponsor's region: found from the binding; and a repeat
     * answers the same without paying twice. */
    req.sponsor_admdvs = "";
    req.amount = 10000;
    for (int i = 0; i < 2; i++) {
        client_call(wh, "gongji.v1.Settlement/PayPremium", "premium-L4-1b", NULL, &req.base,
                    &gongji__v1__pay_premium_reply__descriptor, NULL, &st);
        assert_int_equal(st.code, OK);
        expect_balance("420100", "L4-WH", 102000);
    }
    req.sponsor_admdvs = "420100";
    req.amount = 38000;
    /* 20.00 left above the floor: another premium is refused whole, nothing held. */
    client_call(wh, "gongji.v1.Settlement/PayPremium", "premium-L4-2", NULL, &req.base,
                &gongji__v1__pay_premium_reply__descriptor, NULL, &st);
    assert_int_equal(st.code, FAILED_PRECONDITION);
    assert_string_equal(st.reason, "PREMIUM_NOT_COVERED");
    cluster_quiet();
    expect_balance("420100", "L4-WH", 102000);
    /* Only residents' premiums. */
    person_at("510100", "L4-E", 31, "310", 0);
    assert_int_equal(bind_via("420100", "L4-WH", "420100", "L4-E", "510100", GONGJI__V1__RELATION__PARENT, &st), OK);
    req.beneficiary_psn_no = "L4-E";
    client_call(wh, "gongji.v1.Settlement/PayPremium", "premium-L4-3", NULL, &req.base,
                &gongji__v1__pay_premium_reply__descriptor, NULL, &st);
    assert_string_equal(st.reason, "PREMIUM_NOT_RESIDENT");
    client_close(wh);
}

static void test_reconcile_agrees_and_finds_exactly_a_removed_entry(void **state)
{
    (void)state;
    client_status st;
    person_at("510100", "L5-P", 40, "310", 0);
    person_at("540600", "L5-NQ", 40, "310", 100000);
    client_t *cd = op_at("510100");
    assert_int_equal(bind_via("510100", "L5-NQ", "540600", "L5-P", "510100", GONGJI__V1__RELATION__CHILD, &st), OK);
    char ids[3][64];
    for (int i = 0; i < 3; i++) {
        Gongji__V1__SettleReply *r = NULL;
        assert_int_equal(op_settle_x(cd, "L5-P", "510100", 700 + i, NULL, &r, &st), OK);
        snprintf(ids[i], sizeof ids[i], "%s", r->setl_id);
        gongji__v1__settle_reply__free_unpacked(r, NULL);
    }
    cluster_quiet();
    int32_t window = today();
    Gongji__V1__ReconcileReply *rc = reconcile("510100", "540600", window);
    assert_true(rc->agree);
    assert_int_equal(rc->our_count, rc->their_count);
    assert_int_equal(rc->our_net, -rc->their_net);
    assert_int_equal(rc->n_differing_setl_ids, 0);
    gongji__v1__reconcile_reply__free_unpacked(rc, NULL);

    /* Remove the second settlement's row from Nagqu's store behind the node's back. */
    test_node *nq = tc_node(&tc, "540600");
    assert_int_equal(tn_stop(nq), 0);
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "'%s' '%s/data' clearing-delete %d 510100 '%s' 0 1", getenv("GONGJI_STORE_TOOL_BIN"),
             nq->dir, window, ids[1]);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(tn_start(nq), 0);
    rc = reconcile("510100", "540600", window);
    assert_false(rc->agree);
    assert_int_equal(rc->n_differing_setl_ids, 1);
    assert_string_equal(rc->differing_setl_ids[0], ids[1]);
    assert_int_equal(rc->our_count, rc->their_count + 1);
    gongji__v1__reconcile_reply__free_unpacked(rc, NULL);
    /* Seen from the other side: the same single settlement. */
    rc = reconcile("540600", "510100", window);
    assert_int_equal(rc->n_differing_setl_ids, 1);
    assert_string_equal(rc->differing_setl_ids[0], ids[1]);
    gongji__v1__reconcile_reply__free_unpacked(rc, NULL);
    client_close(cd);
}

static void test_closed_window_never_changes(void **state)
{
    (void)state;
    client_status st;
    person_at("430100", "L6-P", 50, "390", 0);
    person_at("430300", "L6-XT", 50, "310", 50000);
    client_t *cs = op_at("430100");
    assert_int_equal(bind_via("430100", "L6-XT", "430300", "L6-P", "430100", GONGJI__V1__RELATION__PARENT, &st), OK);
    assert_int_equal(op_settle_x(cs, "L6-P", "430100", 2000, NULL, NULL, &st), OK);
    cluster_quiet();
    int32_t window = today();
    /* Close today's window on both nodes; they agree to the fen. */
    const char *regions[] = {"430100", "430300"};
    for (int i = 0; i < 2; i++) {
        client_t *c = op_at(regions[i]);
        Gongji__V1__CloseWindowRequest req = GONGJI__V1__CLOSE_WINDOW_REQUEST__INIT;
        req.window = window;
        Gongji__V1__ClearingTotalsReply *t = NULL;
        client_call(c, "gongji.v1.Clearing/CloseWindow", NULL, NULL, &req.base,
                    &gongji__v1__clearing_totals_reply__descriptor, (ProtobufCMessage **)&t, &st);
        assert_int_equal(st.code, OK);
        assert_true(t->closed);
        gongji__v1__clearing_totals_reply__free_unpacked(t, NULL);
        client_close(c);
    }
    Gongji__V1__ReconcileReply *rc = reconcile("430100", "430300", window);
    assert_true(rc->agree);
    gongji__v1__reconcile_reply__free_unpacked(rc, NULL);
    Gongji__V1__ClearingTotalsReply *closed = totals("430100", window);
    const Gongji__V1__CounterpartyTotals *row = row_for(closed, "430300");
    assert_non_null(row);
    int64_t net = row->net;
    uint64_t count = row->owed_to_us_count;
    gongji__v1__clearing_totals_reply__free_unpacked(closed, NULL);
    /* A payment after the close goes to the next window; the closed one stays as it was. */
    Gongji__V1__SettleReply *r = NULL;
    assert_int_equal(op_settle_x(cs, "L6-P", "430100", 3000, NULL, &r, &st), OK);
    assert_int_equal(settle_part(r, "L6-XT"), 3000);
    gongji__v1__settle_reply__free_unpacked(r, NULL);
    cluster_quiet();
    closed = totals("430100", window);
    row = row_for(closed, "430300");
    assert_int_equal(row->net, net);
    assert_int_equal(row->owed_to_us_count, count);
    gongji__v1__clearing_totals_reply__free_unpacked(closed, NULL);
    Gongji__V1__ClearingTotalsReply *next = totals("430100", 0);
    assert_int_equal(next->window, gj_date_next(window));
    assert_non_null(row_for(next, "430300"));
    assert_int_equal(row_for(next, "430300")->owed_to_us, 3000);
    gongji__v1__clearing_totals_reply__free_unpacked(next, NULL);
    client_close(cs);
}

static void test_sponsor_records_show_each_relatives_spending_and_revokes_paged(void **state)
{
    (void)state;
    client_status st;
    person_at("510100", "L7-S", 60, "310", 100000);
    person_at("510100", "L7-A", 61, "390", 0);
    person_at("510100", "L7-B", 62, "390", 0);
    client_t *cd = op_at("510100");
    assert_int_equal(op_bind(cd, "L7-S", "L7-A", GONGJI__V1__RELATION__CHILD, &st), OK);
    assert_int_equal(op_bind(cd, "L7-S", "L7-B", GONGJI__V1__RELATION__CHILD, &st), OK);
    Gongji__V1__SettleReply *r = NULL;
    assert_int_equal(op_settle_x(cd, "L7-A", "510100", 1100, NULL, NULL, &st), OK);
    assert_int_equal(op_settle_x(cd, "L7-B", "510100", 2200, NULL, &r, &st), OK);
    assert_int_equal(op_settle_x(cd, "L7-A", "510100", 3300, NULL, NULL, &st), OK);
    assert_int_equal(revoke(cd, r->setl_id, NULL, NULL, &st), OK);
    gongji__v1__settle_reply__free_unpacked(r, NULL);
    assert_int_equal(op_balance(cd, "L7-S"), 100000 - 1100 - 3300);

    Gongji__V1__RecordsRequest req = GONGJI__V1__RECORDS_REQUEST__INIT;
    req.psn_no = "L7-S";
    req.page_size = 3;
    int64_t spent_a = 0, spent_b = 0, refunded_b = 0;
    size_t rows = 0, pages = 0;
    char token[80] = "";
    do {
        req.page_token = token;
        Gongji__V1__RecordsReply *rec = NULL;
        client_call(cd, "gongji.v1.Settlement/Records", NULL, NULL, &req.base,
                    &gongji__v1__records_reply__descriptor, (ProtobufCMessage **)&rec, &st);
        assert_int_equal(st.code, OK);
        assert_true(rec->n_records <= 3);
        for (size_t i = 0; i < rec->n_records; i++, rows++) {
            Gongji__V1__SpendRecord *x = rec->records[i];
            if (strcmp(x->beneficiary_psn_no, "L7-A") == 0)
                spent_a += x->amount;
            else if (x->refund)
                refunded_b += x->amount;
            else
                spent_b += x->amount;
        }
        snprintf(token, sizeof token, "%s", rec->next_page_token);
        gongji__v1__records_reply__free_unpacked(rec, NULL);
        pages++;
    } while (token[0] && pages < 10);
    assert_int_equal(rows, 4); /* three payments and one refund beside them */
    assert_int_equal(pages, 2);
    assert_int_equal(spent_a, 4400);
    assert_int_equal(spent_b, 2200);
    assert_int_equal(refunded_b, 2200);
    client_close(cd);
}

/* The cluster, with reconciles fetching the peer's clearing entries two to a page, so
 * the reconcile tests cross pages. */
static int lifecycle_setup(void **state)
{
    (void)state;
    tc_init(&tc, "clearing_page_size = 2\n");
    return tc_start(&tc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_revoke_of_a_settlement_paid_on_two_nodes_returns_every_fen),
        cmocka_unit_test(test_reversal_before_the_original_refuses_it),
        cmocka_unit_test(test_revokes_complete_once_after_the_sponsor_node_is_killed),
        cmocka_unit_test(test_cross_region_premium_honours_the_sponsors_floor),
        cmocka_unit_test(test_reconcile_agrees_and_finds_exactly_a_removed_entry),
        cmocka_unit_test(test_sponsor_records_show_each_relatives_spending_and_revokes_paged),
        cmocka_unit_test(test_closed_window_never_changes),
    };
    return th_exit_status(cmocka_run_group_tests(tests, lifecycle_setup, cluster_teardown));
}
