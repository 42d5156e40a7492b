/* The federation with real node processes: routing, cross-region bindings and
 * settlements, a dead sponsor node, peer identity, duplicates. Money checked on every
 * node. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <pthread.h>
#include <time.h>

#include "gj_util.h"
#include "cluster_fixture.h"

enum { OK = 0, INVALID_ARGUMENT = 3, NOT_FOUND = 5, PERMISSION_DENIED = 7, FAILED_PRECONDITION = 9, UNAVAILABLE = 14 };

/* Posts follow the answer: wait (bounded) until psn_no's balance reads want. */
static int64_t balance_settles_at(client_t *c, const char *psn_no, const char *region, int64_t want)
{
    int64_t got = -1, held = -1;
    for (int i = 0; i < 100; i++) {
        got = op_balance_x(c, psn_no, region, &held);
        if (got == want && held == 0)
            break;
        sleep_ms(50);
    }
    assert_int_equal(held, 0);
    return got;
}

static void test_changsha_beneficiary_paid_in_order_by_xiangtan_then_changsha(void **state)
{
    (void)state;
    client_status st;
    person_at("430100", "CS-P1", 1, "390", 0);
    person_at("430300", "XT-S1", 1, "310", 5000);   /* 50.00 */
    person_at("430100", "CS-S1", 2, "310", 10000);  /* 100.00 */
    client_t *cs = op_at("430100");
    client_t *xt = op_at("430300");
    /* Sent to the beneficiary's node: it goes to the sponsor's (authoritative) node. */
    assert_int_equal(bind_via("430100", "XT-S1", "430300", "CS-P1", "430100", GONGJI__V1__RELATION__PARENT, &st), OK);
    assert_int_equal(op_bind(cs, "CS-S1", "CS-P1", GONGJI__V1__RELATION__PARENT, &st), OK);

    /* Changsha pays from a single sponsor: the first in order with money. */
    Gongji__V1__SettleReply *r = NULL;
    assert_int_equal(op_settle_x(cs, "CS-P1", "430100", 3000, NULL, &r, &st), OK);
    assert_int_equal(settle_part(r, "XT-S1"), 3000);
    assert_int_equal(r->psn_cash_pay, 0);
    gongji__v1__settle_reply__free_unpacked(r, NULL);
    assert_int_equal(balance_settles_at(xt, "XT-S1", NULL, 2000), 2000);

    assert_int_equal(op_settle_x(cs, "CS-P1", "430100", 4000, NULL, &r, &st), OK);
    assert_int_equal(settle_part(r, "XT-S1"), 2000); /* all Xiangtan had; the rest is cash */
    assert_int_equal(settle_part(r, "CS-S1"), 0);
    assert_int_equal(r->psn_cash_pay, 2000);
    gongji__v1__settle_reply__free_unpacked(r, NULL);
    assert_int_equal(balance_settles_at(xt, "XT-S1", NULL, 0), 0);

    /* Xiangtan's sponsor is empty: Changsha's, next in order, pays. */
    assert_int_equal(op_settle_x(cs, "CS-P1", "430100", 4000, NULL, &r, &st), OK);
    assert_int_equal(settle_part(r, "XT-S1"), 0);
    assert_int_equal(settle_part(r, "CS-S1"), 4000);
    gongji__v1__settle_reply__free_unpacked(r, NULL);
    assert_int_equal(op_balance(cs, "CS-S1"), 6000);
    assert_int_equal(balance_via("430100", "XT-S1", "430300", NULL), 0); /* read through the hub */
    client_close(cs);
    client_close(xt);
}

static void test_chengdu_beneficiary_paid_by_nagqu_sponsor(void **state)
{
    (void)state;
    client_status st;
    person_at("510100", "CD-P1", 1, "310", 1000);  /* own 10.00 */
    person_at("540600", "NQ-S1", 1, "310", 20000); /* 200.00 */
    client_t *cd = op_at("510100");
    client_t *nq = op_at("540600");
    assert_int_equal(bind_via("540600", "NQ-S1", "540600", "CD-P1", "510100", GONGJI__V1__RELATION__CHILD, &st), OK);
    Gongji__V1__SettleReply *r = NULL;
    assert_int_equal(op_settle_x(cd, "CD-P1", "510100", 5000, NULL, &r, &st), OK);
    assert_int_equal(r->acct_pay, 1000);
    assert_int_equal(settle_part(r, "NQ-S1"), 4000);
    assert_int_equal(r->n_parts, 1);
    assert_string_equal(r->parts[0]->sponsor_admdvs, "540600");
    assert_int_equal(r->psn_cash_pay, 0);
    gongji__v1__settle_reply__free_unpacked(r, NULL);
    assert_int_equal(op_balance(cd, "CD-P1"), 0);
    assert_int_equal(balance_settles_at(nq, "NQ-S1", NULL, 16000), 16000);

    /* The sponsor sees the spending in its records, on its own node. */
    Gongji__V1__RecordsRequest req = GONGJI__V1__RECORDS_REQUEST__INIT;
    req.psn_no = "NQ-S1";
    Gongji__V1__RecordsReply *rec = NULL;
    client_call(nq, "gongji.v1.Settlement/Records", NULL, NULL, &req.base,
                &gongji__v1__records_reply__descriptor, (ProtobufCMessage **)&rec, &st);
    assert_int_equal(st.code, OK);
    assert_int_equal(rec->n_records, 1);
    assert_string_equal(rec->records[0]->beneficiary_psn_no, "CD-P1");
    assert_int_equal(rec->records[0]->amount, 4000);
    gongji__v1__records_reply__free_unpacked(rec, NULL);
    client_close(cd);
    client_close(nq);
}

static void test_cross_province_outside_the_pilot_refused(void **state)
{
    (void)state;
    client_status st;
    person_at("430100", "CS-P2", 3, "390", 0);
    person_at("430100", "CS-S2", 4, "310", 10000);
    person_at("510100", "CD-S2", 2, "310", 10000);
    person_at("510100", "CD-P2", 3, "390", 0);
    client_t *cs = op_at("430100");
    /* Chengdu is in the pilot, Changsha is not: refused either way. */
    assert_int_equal(bind_via("430100", "CD-S2", "510100", "CS-P2", "430100", GONGJI__V1__RELATION__PARENT, &st),
                     FAILED_PRECONDITION);
    assert_string_equal(st.reason, "CROSS_PROVINCE_NOT_IN_PILOT");
    assert_int_equal(bind_via("430100", "CS-S2", "430100", "CD-P2", "510100", GONGJI__V1__RELATION__PARENT, &st),
                     FAILED_PRECONDITION);
    assert_string_equal(st.reason, "CROSS_PROVINCE_NOT_IN_PILOT");
    /* Zhuzhou is not live: its people can neither give nor receive. */
    person_at("430200", "ZZ-S1", 1, "310", 10000);
    assert_int_equal(bind_via("430100", "ZZ-S1", "430200", "CS-P2", "430100", GONGJI__V1__RELATION__PARENT, &st),
                     FAILED_PRECONDITION);
    assert_string_equal(st.reason, "REGION_NOT_LIVE");
    assert_int_equal(bind_via("430100", "CS-S2", "430100", "ZZ-S1", "430200", GONGJI__V1__RELATION__CHILD, &st),
                     FAILED_PRECONDITION);
    assert_string_equal(st.reason, "REGION_NOT_LIVE");
    /* Nothing was recorded on either side. */
    Gongji__V1__SettleReply *r = NULL;
    assert_int_equal(op_settle_x(cs, "CS-P2", "430100", 1000, NULL, &r, &st), OK);
    assert_int_equal(r->n_parts, 0);
    gongji__v1__settle_reply__free_unpacked(r, NULL);
    client_close(cs);
}

static void test_request_to_the_wrong_node_reaches_the_owner(void **state)
{
    (void)state;
    client_status st;
    person_at("430300", "XT-S3", 3, "310", 7700);
    /* Fuzhou -> Hunan hub -> Xiangtan, read by the nation's operator (Fuzhou's may
     * not read Xiangtan's people). */
    client_t *fz = tn_auditor(tc_node(&tc, "350100"));
    Gongji__V1__BalanceRequest req = GONGJI__V1__BALANCE_REQUEST__INIT;
    req.psn_no = "XT-S3";
    Gongji__V1__BalanceReply *b = NULL;
    client_call(fz, "gongji.v1.Settlement/Balance", NULL, "430300", &req.base,
                &gongji__v1__balance_reply__descriptor, (ProtobufCMessage **)&b, &st);
    assert_int_equal(st.code, OK);
    assert_string_equal(st.served_by, "430300");
    assert_int_equal(b->balance->balance, 7700);
    gongji__v1__balance_reply__free_unpacked(b, NULL);
    /* A settlement sent to Chengdu for a Changsha patient is settled in Changsha. */
    person_at("430100", "CS-P3", 5, "310", 900);
    client_t *cd = op_at("510100");
    Gongji__V1__SettleReply *r = NULL;
    assert_int_equal(settle_by_institution("510100", "CS-P3", "430100", 500, NULL, &r, &st), OK);
    assert_string_equal(st.served_by, "430100");
    assert_int_equal(r->acct_pay, 500);
    assert_int_equal(strncmp(r->setl_id, "430100-", 7), 0);
    gongji__v1__settle_reply__free_unpacked(r, NULL);
    assert_int_equal(balance_via("350100", "CS-P3", "430100", NULL), 400);
    /* A region nobody serves: NOT_FOUND naming it, at once. */
    client_call(fz, "gongji.v1.Settlement/Balance", NULL, "990100", &req.base,
                &gongji__v1__balance_reply__descriptor, NULL, &st);
    assert_int_equal(st.code, NOT_FOUND);
    assert_string_equal(st.reason, "REGION_UNKNOWN");
    assert_non_null(strstr(st.message, "990100"));
    /* Through the hub, to a Hunan region it does not know. */
    client_call(fz, "gongji.v1.Settlement/Balance", NULL, "439900", &req.base,
                &gongji__v1__balance_reply__descriptor, NULL, &st);
    assert_int_equal(st.code, NOT_FOUND);
    assert_non_null(strstr(st.message, "439900"));
    /* A routing loop ends after a bounded number of hops, with an answer. */
    client_call(fz, "gongji.v1.Settlement/Balance", NULL, "980100", &req.base,
                &gongji__v1__balance_reply__descriptor, NULL, &st);
    assert_int_equal(st.code, 10 /* ABORTED */);
    assert_string_equal(st.reason, "HOPS_EXCEEDED");
    client_close(fz);
    client_close(cd);
}

static void test_region_refusing_sponsors_from_another_region_for_residents(void **state)
{
    (void)state;
    client_status st;
    person_at("510100", "CD-R8", 8, "390", 0);
    person_at("510100", "CD-E8", 9, "310", 0);
    person_at("540600", "NQ-S8", 8, "310", 10000);
    client_t *nq = op_at("540600");
    /* Chengdu refuses Nagqu sponsors for its resident-insured (390)... */
    assert_int_equal(bind_via("540600", "NQ-S8", "540600", "CD-R8", "510100", GONGJI__V1__RELATION__PARENT, &st),
                     FAILED_PRECONDITION);
    assert_string_equal(st.reason, "SPONSOR_REGION_REFUSED");
    /* ...but not for its employees. */
    assert_int_equal(bind_via("540600", "NQ-S8", "540600", "CD-E8", "510100", GONGJI__V1__RELATION__PARENT, &st), OK);
    client_close(nq);
}

static void test_sponsor_node_down_is_skipped_in_time_and_charged_nothing(void **state)
{
    (void)state;
    client_status st;
    person_at("430100", "CS-P4", 6, "390", 0);
    person_at("430300", "XT-S4", 4, "310", 10000);
    person_at("430100", "CS-S4", 7, "310", 10000);
    client_t *cs = op_at("430100");
    assert_int_equal(bind_via("430100", "XT-S4", "430300", "CS-P4", "430100", GONGJI__V1__RELATION__PARENT, &st), OK);
    assert_int_equal(op_bind(cs, "CS-S4", "CS-P4", GONGJI__V1__RELATION__PARENT, &st), OK);

    test_node *xt = tc_node(&tc, "430300");
    tn_kill9(xt);
    int64_t t0 = gj_mono_ms();
    Gongji__V1__SettleReply *r = NULL;
    assert_int_equal(op_settle_x(cs, "CS-P4", "430100", 2500, NULL, &r, &st), OK);
    int64_t took = gj_mono_ms() - t0;
    assert_true(took < 3000); /* the client's deadline */
    assert_int_equal(settle_part(r, "XT-S4"), 0);
    assert_int_equal(settle_part(r, "CS-S4"), 2500);
    gongji__v1__settle_reply__free_unpacked(r, NULL);
    assert_int_equal(op_balance(cs, "CS-S4"), 7500);

    assert_int_equal(tn_start(xt), 0);
    client_t *x = op_at("430300");
    /* After restart, and after the coordinator's void got through: untouched. */
    assert_int_equal(balance_settles_at(x, "XT-S4", NULL, 10000), 10000);
    Gongji__V1__AuditReply *a = NULL;
    for (int i = 0; i < 100; i++) {
        if (a)
            gongji__v1__audit_reply__free_unpacked(a, NULL);
        a = op_audit(cs);
        if (a && a->open_decisions == 0)
            break;
        sleep_ms(50);
    }
    assert_non_null(a);
    assert_int_equal(a->open_decisions, 0);
    assert_true(a->ok);
    gongji__v1__audit_reply__free_unpacked(a, NULL);
    client_close(x);
    client_close(cs);
}

static void test_hold_from_a_node_that_is_not_the_beneficiarys_home_is_refused(void **state)
{
    (void)state;
    client_status st;
    person_at("430100", "CS-P5", 8, "390", 0);
    person_at("430300", "XT-S5", 5, "310", 10000);
    client_t *cs = op_at("430100");
    assert_int_equal(bind_via("430100", "XT-S5", "430300", "CS-P5", "430100", GONGJI__V1__RELATION__PARENT, &st), OK);
    /* Fuzhou's node pretends to coordinate a Changsha patient's settlement. */
    client_t *rogue = tn_client(tc_node(&tc, "430300"), "350100", GONGJI__V1__ROLE__PEER);
    Gongji__V1__HoldRequest req = GONGJI__V1__HOLD_REQUEST__INIT;
    req.setl_id = "350100-20261122-1-1";
    req.sponsor_psn_no = "XT-S5";
    req.beneficiary_psn_no = "CS-P5";
    req.beneficiary_admdvs = "430100";
    req.amount = 5000;
    client_call(rogue, "gongji.v1.Peer/Hold", "rogue-1", NULL, &req.base,
                &gongji__v1__hold_reply__descriptor, NULL, &st);
    assert_int_equal(st.code, PERMISSION_DENIED);
    assert_string_equal(st.reason, "NOT_BENEFICIARY_HOME");
    /* Claiming to be the home region of a beneficiary it is not: no binding backs it. */
    req.beneficiary_admdvs = "350100";
    client_call(rogue, "gongji.v1.Peer/Hold", "rogue-2", NULL, &req.base,
                &gongji__v1__hold_reply__descriptor, NULL, &st);
    assert_int_equal(st.code, NOT_FOUND);
    assert_string_equal(st.reason, "BINDING_NOT_FOUND");
    int64_t held = -1;
    assert_int_equal(balance_via("430100", "XT-S5", "430300", &held), 10000);
    assert_int_equal(held, 0);
    client_close(rogue);
    client_close(cs);
}

static int peer_call(client_t *c, const char *method, const char *call_id, ProtobufCMessage *req,
                     const ProtobufCMessageDescriptor *desc, client_status *st)
{
    ProtobufCMessage *ans = NULL;
    client_call(c, method, call_id, NULL, req, desc, &ans, st);
    if (ans)
        protobuf_c_message_free_unpacked(ans, NULL);
    return st->code;
}

static void test_void_that_arrives_before_its_hold_stops_it_for_good(void **state)
{
    (void)state;
    client_status st;
    person_at("430100", "CS-P9", 90, "390", 0);
    person_at("430300", "XT-S9", 90, "310", 10000);
    client_t *cs = op_at("430100");
    assert_int_equal(bind_via("430100", "XT-S9", "430300", "CS-P9", "430100", GONGJI__V1__RELATION__PARENT, &st), OK);
    /* Speaking as Changsha's node (the beneficiary's home) to Xiangtan's. */
    client_t *as_cs = tn_client(tc_node(&tc, "430300"), "430100", GONGJI__V1__ROLE__PEER);
    Gongji__V1__ResolveRequest v = GONGJI__V1__RESOLVE_REQUEST__INIT;
    v.setl_id = "430100-20261122-77-1";
    v.leg = 0;
    v.action = GONGJI__V1__LEG_ACTION__VOID;
    v.sponsor_psn_no = "XT-S9";
    v.beneficiary_psn_no = "CS-P9";
    assert_int_equal(peer_call(as_cs, "gongji.v1.Peer/Resolve", "v1", &v.base,
                               &gongji__v1__resolve_reply__descriptor, &st), OK);
    Gongji__V1__HoldRequest h = GONGJI__V1__HOLD_REQUEST__INIT;
    h.setl_id = v.setl_id;
    h.leg = 0;
    h.sponsor_psn_no = "XT-S9";
    h.beneficiary_psn_no = "CS-P9";
    h.beneficiary_admdvs = "430100";
    h.amount = 5000;
    assert_int_equal(peer_call(as_cs, "gongji.v1.Peer/Hold", "h1", &h.base, &gongji__v1__hold_reply__descriptor,
                               &st), 10 /* ABORTED */);
    assert_string_equal(st.reason, "HOLD_VOIDED");
    int64_t held = -1;
    assert_int_equal(balance_via("430100", "XT-S9", "430300", &held), 10000);
    assert_int_equal(held, 0);
    client_close(as_cs);
    client_close(cs);
}

static void test_hold_nobody_decided_is_voided_by_presumed_abort(void **state)
{
    (void)state;
    client_status st;
    person_at("430100", "CS-P10", 91, "390", 0);
    person_at("430300", "XT-S10", 91, "310", 10000);
    client_t *cs = op_at("430100");
    assert_int_equal(bind_via("430100", "XT-S10", "430300", "CS-P10", "430100", GONGJI__V1__RELATION__PARENT, &st), OK);
    /* A hold for a settlement Changsha never decided (as if it crashed right after). */
    client_t *as_cs = tn_client(tc_node(&tc, "430300"), "430100", GONGJI__V1__ROLE__PEER);
    Gongji__V1__HoldRequest h = GONGJI__V1__HOLD_REQUEST__INIT;
    h.setl_id = "430100-20261122-78-1";
    h.leg = 0;
    h.sponsor_psn_no = "XT-S10";
    h.beneficiary_psn_no = "CS-P10";
    h.beneficiary_admdvs = "430100";
    h.amount = 4000;
    assert_int_equal(peer_call(as_cs, "gongji.v1.Peer/Hold", "h2", &h.base, &gongji__v1__hold_reply__descriptor,
                               &st), OK);
    int64_t held = -1;
    assert_int_equal(balance_via("430100", "XT-S10", "430300", &held), 10000);
    assert_int_equal(held, 4000); /* reserved, not taken */
    /* Xiangtan asks Changsha after resolve_after_ms (1 s here): no decision, so void. */
    for (int i = 0; i < 100 && held != 0; i++) {
        sleep_ms(50);
        balance_via("430100", "XT-S10", "430300", &held);
    }
    assert_int_equal(held, 0);
    assert_int_equal(balance_via("430100", "XT-S10", "430300", NULL), 10000);
    client_close(as_cs);
    client_close(cs);
}

/* ---- Peer/Batch ---- */

/* One batch item: a whole packed Envelope, as a coordinator builds it. */
static ProtobufCBinaryData batch_item(const char *method, const char *caller, const char *dest,
                                      const char *call_id, const ProtobufCMessage *req)
{
    static uint8_t payloads[16][256];
    static int next;
    uint8_t *payload = payloads[next++ % 16];
    Gongji__V1__Envelope env = GONGJI__V1__ENVELOPE__INIT;
    env.method = (char *)method;
    env.call_id = (char *)call_id;
    env.caller_id = (char *)caller;
    env.caller_role = GONGJI__V1__ROLE__PEER;
    env.dest_region = (char *)dest;
    env.payload.data = payload;
    env.payload.len = protobuf_c_message_pack(req, payload);
    ProtobufCBinaryData item = {.len = gongji__v1__envelope__get_packed_size(&env)};
    item.data = malloc(item.len);
    assert_non_null(item.data);
    gongji__v1__envelope__pack(&env, item.data);
    return item;
}

/* Send items as one Peer/Batch; returns the call's code and, when OK, the reply. */
static int send_batch(client_t *c, ProtobufCBinaryData *items, size_t n, Gongji__V1__PeerBatchReply **out,
                      client_status *st)
{
    Gongji__V1__PeerBatchRequest req = GONGJI__V1__PEER_BATCH_REQUEST__INIT;
    req.n_items = n;
    req.items = items;
    ProtobufCMessage *ans = NULL;
    client_call(c, "gongji.v1.Peer/Batch", NULL, NULL, &req.base, &gongji__v1__peer_batch_reply__descriptor,
                &ans, st);
    *out = (Gongji__V1__PeerBatchReply *)ans;
    return st->code;
}

/* The i-th item's answer: its code, its reason into reason[64], its held amount if a
 * HoldReply. */
static int item_answer(const Gongji__V1__PeerBatchReply *r, size_t i, char reason[64], int64_t *held)
{
    Gongji__V1__Reply *reply = gongji__v1__reply__unpack(NULL, r->replies[i].len, r->replies[i].data);
    assert_non_null(reply);
    snprintf(reason, 64, "%s", reply->reason);
    int code = reply->code;
    if (held != NULL && code == 0) {
        Gongji__V1__HoldReply *h = gongji__v1__hold_reply__unpack(NULL, reply->payload.len, reply->payload.data);
        assert_non_null(h);
        *held = h->held;
        gongji__v1__hold_reply__free_unpacked(h, NULL);
    }
    gongji__v1__reply__free_unpacked(reply, NULL);
    return code;
}

static void test_peer_batch_items_are_handled_as_if_each_came_alone(void **state)
{
    (void)state;
    client_status st;
    person_at("430100", "CS-P11", 92, "390", 0);
    person_at("430300", "XT-S11", 92, "310", 10000);
    person_at("430300", "XT-S12", 93, "310", 10000);
    client_t *cs = op_at("430100");
    assert_int_equal(bind_via("430100", "XT-S11", "430300", "CS-P11", "430100", GONGJI__V1__RELATION__PARENT, &st), OK);
    assert_int_equal(bind_via("430100", "XT-S12", "430300", "CS-P11", "430100", GONGJI__V1__RELATION__PARENT, &st), OK);
    client_t *as_cs = tn_client(tc_node(&tc, "430300"), "430100", GONGJI__V1__ROLE__PEER);

    Gongji__V1__HoldRequest h1 = GONGJI__V1__HOLD_REQUEST__INIT;
    h1.setl_id = "430100-20261122-000092-0000000001";
    h1.sponsor_psn_no = "XT-S11";
    h1.beneficiary_psn_no = "CS-P11";
    h1.beneficiary_admdvs = "430100";
    h1.amount = 3000;
    Gongji__V1__HoldRequest h2 = h1;
    h2.setl_id = "430100-20261122-000092-0000000002";
    h2.sponsor_psn_no = "XT-S12";
    Gongji__V1__ResolveRequest fence = GONGJI__V1__RESOLVE_REQUEST__INIT;
    fence.setl_id = "430100-20261122-000092-0000000003";
    fence.action = GONGJI__V1__LEG_ACTION__VOID;
    fence.sponsor_psn_no = "XT-S12";
    fence.beneficiary_psn_no = "CS-P11";
    Gongji__V1__PeerBatchRequest inner = GONGJI__V1__PEER_BATCH_REQUEST__INIT;
    ProtobufCBinaryData items[7];
    items[0] = batch_item("gongji.v1.Peer/Hold", "430100", "430300", "b-h1", &h1.base);
    items[1] = batch_item("gongji.v1.Peer/Hold", "350100", "", "b-h2", &h2.base);  /* another caller */
    items[2] = batch_item("gongji.v1.Peer/Batch", "430100", "", "b-in", &inner.base); /* no nesting */
    items[3] = (ProtobufCBinaryData){.len = 5, .data = malloc(5)};                  /* not an envelope */
    memcpy(items[3].data, "\xff\xff\xff\xff\xff", 5);
    items[4] = batch_item("gongji.v1.Peer/Resolve", "430100", "", "b-v", &fence.base);
    items[5] = batch_item("gongji.v1.Peer/Hold", "430100", "510100", "b-h3", &h2.base); /* not for here */
    items[6] = batch_item("gongji.v1.Settlement/Settle", "430100", "", "b-s", &h2.base); /* not a peer call */

    Gongji__V1__PeerBatchReply *r = NULL;
    assert_int_equal(send_batch(as_cs, items, 7, &r, &st), OK);
    assert_non_null(r);
    assert_int_equal(r->n_replies, 7);
    char reason[64];
    int64_t held = -1;
    assert_int_equal(item_answer(r, 0, reason, &held), OK);
    assert_int_equal(held, 3000);
    for (size_t i = 1; i <= 6; i++) {
        if (i == 4) {
            assert_int_equal(item_answer(r, i, reason, NULL), OK); /* the fence is recorded */
            continue;
        }
        assert_int_equal(item_answer(r, i, reason, NULL), 3 /* INVALID_ARGUMENT */);
        assert_string_equal(reason, "FIELD_INVALID");
    }
    gongji__v1__peer_batch_reply__free_unpacked(r, NULL);
    assert_int_equal(balance_via("430100", "XT-S11", "430300", &held), 10000);
    assert_int_equal(held, 3000);
    assert_int_equal(balance_via("430100", "XT-S12", "430300", &held), 10000);
    assert_int_equal(held, 0);

    /* The same batch again: the hold is answered as before and not made twice. */
    assert_int_equal(send_batch(as_cs, items, 1, &r, &st), OK);
    assert_int_equal(item_answer(r, 0, reason, &held), OK);
    assert_int_equal(held, 3000);
    gongji__v1__peer_batch_reply__free_unpacked(r, NULL);
    assert_int_equal(balance_via("430100", "XT-S11", "430300", &held), 10000);
    assert_int_equal(held, 3000);

    /* A hold for a setl_id the fence voided never takes effect. */
    Gongji__V1__HoldRequest late = h2;
    late.setl_id = fence.setl_id;
    ProtobufCBinaryData one = batch_item("gongji.v1.Peer/Hold", "430100", "", "b-late", &late.base);
    assert_int_equal(send_batch(as_cs, &one, 1, &r, &st), OK);
    assert_int_equal(item_answer(r, 0, reason, NULL), 10 /* ABORTED */);
    assert_string_equal(reason, "HOLD_VOIDED");
    gongji__v1__peer_batch_reply__free_unpacked(r, NULL);
    free(one.data);

    /* Whole-batch refusals: empty, too many items, a caller that is not a peer. */
    assert_int_equal(send_batch(as_cs, items, 0, &r, &st), 3);
    assert_null(r);
    ProtobufCBinaryData many[65];
    for (int i = 0; i < 65; i++)
        many[i] = items[4];
    assert_int_equal(send_batch(as_cs, many, 65, &r, &st), 3);
    assert_null(r);
    client_t *inst = tn_client(tc_node(&tc, "430300"), "H43030000001", GONGJI__V1__ROLE__INSTITUTION);
    assert_int_equal(send_batch(inst, items, 1, &r, &st), PERMISSION_DENIED);
    assert_null(r);
    client_close(inst);

    /* Release the hold through a batch too, and the sponsor is whole again. */
    Gongji__V1__ResolveRequest release = fence;
    release.setl_id = h1.setl_id;
    release.sponsor_psn_no = "XT-S11";
    one = batch_item("gongji.v1.Peer/Resolve", "430100", "", "b-release", &release.base);
    assert_int_equal(send_batch(as_cs, &one, 1, &r, &st), OK);
    assert_int_equal(item_answer(r, 0, reason, NULL), OK);
    gongji__v1__peer_batch_reply__free_unpacked(r, NULL);
    free(one.data);
    assert_int_equal(balance_via("430100", "XT-S11", "430300", &held), 10000);
    assert_int_equal(held, 0);
    for (int i = 0; i < 7; i++)
        free(items[i].data);
    client_close(as_cs);
    client_close(cs);
}

typedef struct dup_arg {
    const char *via;
    Gongji__V1__SettleReply *reply;
    int code;
} dup_arg;

static void *settle_via(void *arg)
{
    dup_arg *d = arg;
    client_t *c = tn_client(tc_node(&tc, d->via), "H43010000001", GONGJI__V1__ROLE__INSTITUTION);
    client_status st;
    d->code = op_settle_x(c, "CS-P6", "430100", 3000, "same-bill-77", &d->reply, &st);
    client_close(c);
    return NULL;
}

static void test_duplicated_settlement_sent_to_two_nodes_moves_money_once(void **state)
{
    (void)state;
    client_status st;
    person_at("430100", "CS-P6", 9, "390", 0);
    person_at("430300", "XT-S6", 6, "310", 10000);
    client_t *cs = op_at("430100");
    assert_int_equal(bind_via("430100", "XT-S6", "430300", "CS-P6", "430100", GONGJI__V1__RELATION__PARENT, &st), OK);
    dup_arg a = {.via = "430100"}, b = {.via = "350100"};
    pthread_t ta, tb;
    pthread_create(&ta, NULL, settle_via, &a);
    pthread_create(&tb, NULL, settle_via, &b);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    assert_int_equal(a.code, OK);
    assert_int_equal(b.code, OK);
    assert_string_equal(a.reply->setl_id, b.reply->setl_id);
    assert_int_equal(settle_part(a.reply, "XT-S6"), 3000);
    gongji__v1__settle_reply__free_unpacked(a.reply, NULL);
    gongji__v1__settle_reply__free_unpacked(b.reply, NULL);
    client_t *xt = op_at("430300");
    assert_int_equal(balance_settles_at(xt, "XT-S6", NULL, 7000), 7000);
    /* Once more later: the same answer, still one debit. */
    dup_arg c = {.via = "510100"};
    settle_via(&c);
    assert_int_equal(c.code, OK);
    gongji__v1__settle_reply__free_unpacked(c.reply, NULL);
    sleep_ms(300);
    assert_int_equal(balance_settles_at(xt, "XT-S6", NULL, 7000), 7000);
    client_close(xt);
    client_close(cs);
}

static void test_cross_region_unbind_stops_payment_from_tomorrow(void **state)
{
    (void)state;
    client_status st;
    person_at("510100", "CD-P7", 7, "310", 0);
    person_at("540600", "NQ-S7", 7, "310", 10000);
    client_t *cd = op_at("510100");
    assert_int_equal(bind_via("510100", "NQ-S7", "540600", "CD-P7", "510100", GONGJI__V1__RELATION__GRANDCHILD, &st), OK);
    /* The beneficiary asks its own node; the copy there knows the sponsor's node. */
    client_t *beneficiary = tn_client(tc_node(&tc, "510100"), "CD-P7", GONGJI__V1__ROLE__PERSON);
    assert_int_equal(op_unbind(beneficiary, "NQ-S7", "CD-P7", &st), OK);
    client_close(beneficiary);
    Gongji__V1__SettleReply *r = NULL;
    assert_int_equal(op_settle_x(cd, "CD-P7", "510100", 1000, NULL, &r, &st), OK);
    assert_int_equal(settle_part(r, "NQ-S7"), 1000); /* still today */
    gongji__v1__settle_reply__free_unpacked(r, NULL);
    int32_t tomorrow = gj_date_next(gj_cst_date_of(gj_now_unix_ms()));
    client_t *nq = op_at("540600");
    assert_int_equal(op_set_date(cd, tomorrow, &st), OK);
    assert_int_equal(op_set_date(nq, tomorrow, &st), OK);
    assert_int_equal(op_settle_x(cd, "CD-P7", "510100", 1000, NULL, &r, &st), OK);
    assert_int_equal(settle_part(r, "NQ-S7"), 0);
    assert_int_equal(r->psn_cash_pay, 1000);
    gongji__v1__settle_reply__free_unpacked(r, NULL);
    assert_int_equal(balance_settles_at(nq, "NQ-S7", NULL, 9000), 9000);
    assert_int_equal(op_set_date(cd, 0, &st), OK);
    assert_int_equal(op_set_date(nq, 0, &st), OK);
    client_close(nq);
    client_close(cd);
}

/* R9 across regions: a binding chosen to end on a day (Nagqu's sponsor, Chengdu's
 * patient) pays through that day on both nodes and not after; unbound, the pair binds
 * again only from the next day, which the sponsor's node decides. */
static void test_cross_region_binding_dates(void **state)
{
    (void)state;
    client_status st;
    person_at("510100", "CD-P19", 19, "310", 0);
    person_at("540600", "NQ-S19", 19, "310", 10000);
    client_t *cd = op_at("510100"), *nq = op_at("540600");
    int32_t d = 20280305;
    assert_int_equal(op_set_clock(cd, d, "12:00:00", &st), OK);
    assert_int_equal(op_set_clock(nq, d, "12:00:00", &st), OK);
    client_t *sponsor = tn_client(tc_node(&tc, "510100"), "NQ-S19", GONGJI__V1__ROLE__PERSON);
    assert_int_equal(op_bind_until(sponsor, "NQ-S19", "540600", "CD-P19", "510100", GONGJI__V1__RELATION__CHILD,
                                   d, &st), OK);
    Gongji__V1__SettleReply *r = NULL;
    assert_int_equal(op_settle_x(cd, "CD-P19", "510100", 1000, NULL, &r, &st), OK);
    assert_int_equal(settle_part(r, "NQ-S19"), 1000); /* its last day */
    gongji__v1__settle_reply__free_unpacked(r, NULL);
    assert_int_equal(balance_settles_at(nq, "NQ-S19", NULL, 9000), 9000);
    int32_t next = gj_date_next(d);
    assert_int_equal(op_set_clock(cd, next, "00:00:01", &st), OK);
    assert_int_equal(op_set_clock(nq, next, "00:00:01", &st), OK);
    assert_int_equal(op_settle_x(cd, "CD-P19", "510100", 1000, NULL, &r, &st), OK);
    assert_int_equal(settle_part(r, "NQ-S19"), 0);
    assert_int_equal(r->psn_cash_pay, 1000);
    gongji__v1__settle_reply__free_unpacked(r, NULL);
    /* Bound again (open), then unbound: the same day, binding again is too soon. */
    assert_int_equal(op_bind_until(sponsor, "NQ-S19", "540600", "CD-P19", "510100", GONGJI__V1__RELATION__CHILD,
                                   0, &st), OK);
    assert_int_equal(op_unbind(sponsor, "NQ-S19", "CD-P19", &st), OK);
    int code = op_bind_until(sponsor, "NQ-S19", "540600", "CD-P19", "510100", GONGJI__V1__RELATION__CHILD, 0, &st);
    assert_int_equal(code, FAILED_PRECONDITION);
    assert_string_equal(st.reason, "REBIND_TOO_SOON");
    assert_int_equal(balance_settles_at(nq, "NQ-S19", NULL, 9000), 9000);
    client_close(sponsor);
    assert_int_equal(op_set_date(cd, 0, &st), OK);
    assert_int_equal(op_set_date(nq, 0, &st), OK);
    client_close(nq);
    client_close(cd);
}

/* R18 across regions: Chengdu asks for an identity check of a beneficiary over 60. A
 * Nagqu sponsor binds one through the platform: refused without the check (Chengdu's
 * node decides, for its own person), bound with it, and Chengdu keeps who attested. */
static void test_cross_region_binding_of_an_older_beneficiary_needs_the_check(void **state)
{
    (void)state;
    client_status st;
    client_t *cd = op_at("510100");
    assert_int_equal(op_enroll_born(cd, "CD-O21", 21, 19500101, "310", "510100", &st), OK);
    person_at("540600", "NQ-S21", 21, "310", 10000);
    client_t *sponsor = tn_client(tc_node(&tc, "510100"), "NQ-S21", GONGJI__V1__ROLE__PERSON);
    Gongji__V1__BindRequest req = GONGJI__V1__BIND_REQUEST__INIT;
    req.sponsor_psn_no = "NQ-S21";
    req.sponsor_admdvs = "540600";
    req.beneficiary_psn_no = "CD-O21";
    req.beneficiary_admdvs = "510100";
    req.relation = GONGJI__V1__RELATION__PARENT;
    ProtobufCMessage *m = NULL;
    client_call(sponsor, "gongji.v1.MutualAid/Bind", NULL, NULL, &req.base, &gongji__v1__bind_reply__descriptor, &m,
                &st);
    assert_int_equal(st.code, FAILED_PRECONDITION);
    assert_string_equal(st.reason, "VERIFICATION_REQUIRED");
    Gongji__V1__Verification v = GONGJI__V1__VERIFICATION__INIT;
    v.method = "face";
    v.verified_unix_ms = gj_now_unix_ms() - 60000;
    req.verification = &v;
    client_call(sponsor, "gongji.v1.MutualAid/Bind", NULL, NULL, &req.base, &gongji__v1__bind_reply__descriptor, &m,
                &st);
    assert_int_equal(st.code, OK);
    protobuf_c_message_free_unpacked(m, NULL);
    client_close(sponsor);
    Gongji__V1__ListBindingsRequest lr = GONGJI__V1__LIST_BINDINGS_REQUEST__INIT;
    lr.psn_no = "CD-O21";
    client_call(cd, "gongji.v1.MutualAid/ListBindings", NULL, NULL, &lr.base,
                &gongji__v1__list_bindings_reply__descriptor, &m, &st);
    assert_int_equal(st.code, OK);
    Gongji__V1__ListBindingsReply *l = (Gongji__V1__ListBindingsReply *)m;
    assert_int_equal(l->n_as_beneficiary, 1);
    assert_true(l->as_beneficiary[0]->verified_by[0] != '\0');
    assert_int_equal(l->as_beneficiary[0]->verified_unix_ms, v.verified_unix_ms);
    gongji__v1__list_bindings_reply__free_unpacked(l, NULL);
    Gongji__V1__SettleReply *r = NULL;
    assert_int_equal(op_settle_x(cd, "CD-O21", "510100", 1000, NULL, &r, &st), OK);
    assert_int_equal(settle_part(r, "NQ-S21"), 1000);
    gongji__v1__settle_reply__free_unpacked(r, NULL);
    client_t *nq = op_at("540600");
    assert_int_equal(balance_settles_at(nq, "NQ-S21", NULL, 9000), 9000);
    client_close(nq);
    client_close(cd);
}

/* R21 across regions: a sponsor frozen at its own node (Nagqu) is not held for a
 * Chengdu patient; a patient frozen at Chengdu asks no remote sponsor. Lifted, it pays. */
static void freeze_at(client_t *c, int target, const char *psn_no, bool lift)
{
    client_status st;
    Gongji__V1__FreezeRequest req = GONGJI__V1__FREEZE_REQUEST__INIT;
    req.target = (Gongji__V1__FreezeTarget)target;
    req.psn_no = (char *)psn_no;
    req.reason = lift ? "" : "misuse under review";
    req.lift = lift;
    ProtobufCMessage *m = NULL;
    client_call(c, "gongji.v1.Registry/Freeze", NULL, NULL, &req.base, &gongji__v1__freeze_reply__descriptor, &m, &st);
    assert_int_equal(st.code, OK);
    protobuf_c_message_free_unpacked(m, NULL);
}

static int64_t remote_pays(client_t *cd, const char *patient, const char *sponsor)
{
    client_status st;
    Gongji__V1__SettleReply *r = NULL;
    assert_int_equal(op_settle_x(cd, patient, "510100", 1000, NULL, &r, &st), OK);
    int64_t paid = settle_part(r, sponsor);
    assert_int_equal(paid + r->psn_cash_pay + r->acct_pay, 1000);
    gongji__v1__settle_reply__free_unpacked(r, NULL);
    return paid;
}

static void test_cross_region_freezes(void **state)
{
    (void)state;
    client_status st;
    person_at("510100", "CD-P22", 22, "310", 0);
    person_at("540600", "NQ-S22", 22, "310", 10000);
    assert_int_equal(bind_via("510100", "NQ-S22", "540600", "CD-P22", "510100", GONGJI__V1__RELATION__CHILD, &st), OK);
    client_t *cd = op_at("510100"), *nq = op_at("540600");
    freeze_at(nq, GONGJI__V1__FREEZE_TARGET__FREEZE_TARGET_SPONSOR, "NQ-S22", false);
    assert_int_equal(remote_pays(cd, "CD-P22", "NQ-S22"), 0);
    assert_int_equal(balance_settles_at(nq, "NQ-S22", NULL, 10000), 10000);
    freeze_at(nq, GONGJI__V1__FREEZE_TARGET__FREEZE_TARGET_SPONSOR, "NQ-S22", true);
    freeze_at(cd, GONGJI__V1__FREEZE_TARGET__FREEZE_TARGET_BENEFICIARY, "CD-P22", false);
    assert_int_equal(remote_pays(cd, "CD-P22", "NQ-S22"), 0);
    assert_int_equal(balance_settles_at(nq, "NQ-S22", NULL, 10000), 10000);
    freeze_at(cd, GONGJI__V1__FREEZE_TARGET__FREEZE_TARGET_BENEFICIARY, "CD-P22", true);
    assert_int_equal(remote_pays(cd, "CD-P22", "NQ-S22"), 1000);
    assert_int_equal(balance_settles_at(nq, "NQ-S22", NULL, 9000), 9000);
    client_close(nq);
    client_close(cd);
}

static int recover(client_t *c, const char *setl_id, const char *reason, Gongji__V1__RevokeReply **out,
                   client_status *st)
{
    Gongji__V1__RecoverRequest req = GONGJI__V1__RECOVER_REQUEST__INIT;
    req.setl_id = (char *)setl_id;
    req.reason = (char *)reason;
    ProtobufCMessage *m = NULL;
    client_call(c, "gongji.v1.Settlement/Recover", NULL, NULL, &req.base, &gongji__v1__revoke_reply__descriptor, &m,
                st);
    if (out != NULL)
        *out = (Gongji__V1__RevokeReply *)m;
    else if (m != NULL)
        protobuf_c_message_free_unpacked(m, NULL);
    return st->code;
}

/* R21 recovery: a settlement paid by the patient (5.00), a Nagqu sponsor (10.00) and a
 * Chengdu one (15.00): recovered, both sponsors have every fen back, on their own
 * nodes, once; the patient's part stands until a revoke, which then gives back only it.
 * The audit at the end checks both nodes' books and clearing agree. */
static void test_recovering_a_settlements_mutual_aid_returns_each_sponsors_part_once(void **state)
{
    (void)state;
    client_status st;
    person_at("510100", "CD-P23", 23, "310", 500);
    person_at("540600", "NQ-S23", 23, "310", 1000);
    person_at("510100", "CD-L23", 24, "310", 5000);
    assert_int_equal(bind_via("510100", "NQ-S23", "540600", "CD-P23", "510100", GONGJI__V1__RELATION__CHILD, &st), OK);
    assert_int_equal(bind_via("510100", "CD-L23", "510100", "CD-P23", "510100", GONGJI__V1__RELATION__CHILD, &st), OK);
    client_t *cd = op_at("510100"), *nq = op_at("540600");
    Gongji__V1__SettleReply *r = NULL;
    assert_int_equal(settle_by_institution("510100", "CD-P23", "510100", 3000, NULL, &r, &st), OK);
    assert_int_equal(r->acct_pay, 500);
    assert_int_equal(settle_part(r, "NQ-S23"), 1000);
    assert_int_equal(settle_part(r, "CD-L23"), 1500);
    char setl_id[GJ_SETL_ID_MAX + 1];
    snprintf(setl_id, sizeof setl_id, "%s", r->setl_id);
    gongji__v1__settle_reply__free_unpacked(r, NULL);
    assert_int_equal(balance_settles_at(nq, "NQ-S23", NULL, 0), 0);
    /* Only the coordinating region's operator; a reason is required. */
    client_t *inst = tn_client(tc_node(&tc, "510100"), "H43010000001", GONGJI__V1__ROLE__INSTITUTION);
    assert_int_equal(recover(inst, setl_id, "an institution trying", NULL, &st), PERMISSION_DENIED);
    client_close(inst);
    assert_int_equal(recover(cd, setl_id, "", NULL, &st), INVALID_ARGUMENT);
    Gongji__V1__RevokeReply *rv = NULL;
    assert_int_equal(recover(cd, setl_id, "not a relative: case 2026-118", &rv, &st), OK);
    assert_int_equal(rv->acct_refund, 0);
    assert_int_equal(rv->n_refunds, 2);
    gongji__v1__revoke_reply__free_unpacked(rv, NULL);
    assert_int_equal(balance_settles_at(nq, "NQ-S23", NULL, 1000), 1000);
    assert_int_equal(op_balance(cd, "CD-L23"), 5000);
    assert_int_equal(op_balance(cd, "CD-P23"), 0); /* the patient's own part stands */
    assert_int_equal(recover(cd, setl_id, "again", NULL, &st), FAILED_PRECONDITION);
    assert_string_equal(st.reason, "ALREADY_RECOVERED");
    /* A revoke now gives back the patient's part only. */
    Gongji__V1__RevokeRequest req = GONGJI__V1__REVOKE_REQUEST__INIT;
    req.setl_id = setl_id;
    ProtobufCMessage *m = NULL;
    client_call(cd, "gongji.v1.Settlement/Revoke", NULL, NULL, &req.base, &gongji__v1__revoke_reply__descriptor, &m,
                &st);
    assert_int_equal(st.code, OK);
    rv = (Gongji__V1__RevokeReply *)m;
    assert_int_equal(rv->acct_refund, 500);
    assert_int_equal(rv->n_refunds, 0);
    gongji__v1__revoke_reply__free_unpacked(rv, NULL);
    assert_int_equal(op_balance(cd, "CD-P23"), 500);
    assert_int_equal(op_balance(cd, "CD-L23"), 5000);
    assert_int_equal(balance_settles_at(nq, "NQ-S23", NULL, 1000), 1000);
    client_close(nq);
    client_close(cd);
}

/* R19 across regions: Chengdu lets a patient name the sponsor. Named, the Nagqu sponsor
 * (who has less than the bill) pays what it has and the rest is cash, though a Chengdu
 * sponsor comes after it in the order; named, the Chengdu one pays alone. */
static int named_settle(client_t *cd, const char *named, int64_t fen, Gongji__V1__SettleReply **r, client_status *st)
{
    Gongji__V1__SettleRequest req = GONGJI__V1__SETTLE_REQUEST__INIT;
    req.psn_no = "CD-P25";
    req.amount = fen;
    req.use = GONGJI__V1__USE_TYPE__OUTPATIENT;
    req.insuplc_admdvs = "510100";
    req.sponsor_psn_no = (char *)named;
    ProtobufCMessage *m = NULL;
    client_call(cd, "gongji.v1.Settlement/Settle", NULL, NULL, &req.base, &gongji__v1__settle_reply__descriptor, &m,
                st);
    *r = (Gongji__V1__SettleReply *)m;
    return st->code;
}

static void test_cross_region_named_sponsor_pays_alone(void **state)
{
    (void)state;
    client_status st;
    person_at("510100", "CD-P25", 25, "310", 0);
    person_at("540600", "NQ-S25", 25, "310", 1000);
    person_at("510100", "CD-L25", 26, "310", 5000);
    assert_int_equal(bind_via("510100", "NQ-S25", "540600", "CD-P25", "510100", GONGJI__V1__RELATION__CHILD, &st), OK);
    assert_int_equal(bind_via("510100", "CD-L25", "510100", "CD-P25", "510100", GONGJI__V1__RELATION__CHILD, &st), OK);
    client_t *cd = op_at("510100"), *nq = op_at("540600");
    Gongji__V1__SettleReply *r = NULL;
    assert_int_equal(named_settle(cd, "NQ-S25", 3000, &r, &st), OK);
    assert_int_equal(settle_part(r, "NQ-S25"), 1000);
    assert_int_equal(settle_part(r, "CD-L25"), 0);
    assert_int_equal(r->psn_cash_pay, 2000);
    gongji__v1__settle_reply__free_unpacked(r, NULL);
    assert_int_equal(balance_settles_at(nq, "NQ-S25", NULL, 0), 0);
    assert_int_equal(op_balance(cd, "CD-L25"), 5000);
    assert_int_equal(named_settle(cd, "CD-L25", 3000, &r, &st), OK);
    assert_int_equal(settle_part(r, "CD-L25"), 3000);
    assert_int_equal(r->n_parts, 1);
    gongji__v1__settle_reply__free_unpacked(r, NULL);
    assert_int_equal(op_balance(cd, "CD-L25"), 2000);
    client_close(nq);
    client_close(cd);
}

/* R23: a person moves from Chengdu to Nagqu. Chengdu's operator marks the move: every
 * binding ends, on both nodes of a cross-region one, and Chengdu answers for the person
 * with where they went. Nagqu's operator takes them in: the whole balance crosses once;
 * a second MoveIn answers the same; nobody else can take it; it cannot be revoked. The
 * cluster audit after this checks both ledgers and the clearing between them. */
static int move_op(client_t *c, const char *method, const char *psn_no, const char *region, ProtobufCMessage **out,
                   client_status *st)
{
    ProtobufCMessage *m = NULL;
    if (strcmp(method, "Move") == 0) {
        Gongji__V1__MoveRequest req = GONGJI__V1__MOVE_REQUEST__INIT;
        req.psn_no = (char *)psn_no;
        req.to_admdvs = (char *)region;
        client_call(c, "gongji.v1.Registry/Move", NULL, NULL, &req.base, &gongji__v1__move_reply__descriptor, &m, st);
    } else {
        Gongji__V1__MoveInRequest req = GONGJI__V1__MOVE_IN_REQUEST__INIT;
        req.psn_no = (char *)psn_no;
        req.from_admdvs = (char *)region;
        client_call(c, "gongji.v1.Registry/MoveIn", NULL, NULL, &req.base, &gongji__v1__move_in_reply__descriptor, &m,
                    st);
    }
    if (out != NULL)
        *out = m;
    else if (m != NULL)
        protobuf_c_message_free_unpacked(m, NULL);
    return st->code;
}

static void test_a_person_who_moves_takes_their_balance_once(void **state)
{
    (void)state;
    client_status st;
    person_at("510100", "CD-M27", 27, "310", 12345);
    person_at("510100", "CD-L27", 28, "310", 5000);
    person_at("510100", "CD-B27", 29, "310", 0);
    person_at("540600", "NQ-S27", 27, "310", 5000);
    assert_int_equal(bind_via("510100", "CD-L27", "510100", "CD-M27", "510100", GONGJI__V1__RELATION__CHILD, &st), OK);
    assert_int_equal(bind_via("510100", "NQ-S27", "540600", "CD-M27", "510100", GONGJI__V1__RELATION__CHILD, &st), OK);
    assert_int_equal(bind_via("510100", "CD-M27", "510100", "CD-B27", "510100", GONGJI__V1__RELATION__CHILD, &st), OK);
    client_t *cd = op_at("510100"), *nq = op_at("540600"), *wh = op_at("420100");
    /* Nagqu cannot take someone Chengdu has not let go. */
    assert_int_equal(move_op(nq, "MoveIn", "CD-M27", "510100", NULL, &st), FAILED_PRECONDITION);
    assert_string_equal(st.reason, "MOVE_NOT_STARTED");
    ProtobufCMessage *m = NULL;
    assert_int_equal(move_op(cd, "Move", "CD-M27", "540600", &m, &st), OK);
    Gongji__V1__MoveReply *mv = (Gongji__V1__MoveReply *)m;
    assert_int_equal(mv->bindings_ended, 3);
    assert_int_equal(mv->balance, 12345);
    protobuf_c_message_free_unpacked(m, NULL);
    /* The stub: Chengdu answers with where they went; nothing more goes in. */
    assert_int_equal(op_credit(cd, "CD-M27", 100, &st), FAILED_PRECONDITION);
    assert_string_equal(st.reason, "PERSON_MOVED");
    assert_non_null(strstr(st.message, "540600"));
    /* Their bindings ended: Nagqu's side too (told by Chengdu). */
    Gongji__V1__ListBindingsRequest lr = GONGJI__V1__LIST_BINDINGS_REQUEST__INIT;
    lr.psn_no = "NQ-S27";
    client_call(nq, "gongji.v1.MutualAid/ListBindings", NULL, NULL, &lr.base,
                &gongji__v1__list_bindings_reply__descriptor, &m, &st);
    assert_int_equal(st.code, OK);
    Gongji__V1__ListBindingsReply *l = (Gongji__V1__ListBindingsReply *)m;
    assert_int_equal(l->n_as_sponsor, 1);
    assert_false(l->as_sponsor[0]->active);
    gongji__v1__list_bindings_reply__free_unpacked(l, NULL);
    Gongji__V1__SettleReply *r = NULL;
    assert_int_equal(settle_by_institution("510100", "CD-B27", "510100", 1000, NULL, &r, &st), OK);
    assert_int_equal(settle_part(r, "CD-M27"), 0); /* the mover sponsors no more */
    gongji__v1__settle_reply__free_unpacked(r, NULL);
    /* Another region cannot take them. */
    assert_int_equal(move_op(wh, "MoveIn", "CD-M27", "510100", NULL, &st), FAILED_PRECONDITION);
    assert_string_equal(st.reason, "MOVE_NOT_STARTED");
    /* Nagqu takes them in, with all of it, once. */
    assert_int_equal(move_op(nq, "MoveIn", "CD-M27", "510100", &m, &st), OK);
    Gongji__V1__MoveInReply *in = (Gongji__V1__MoveInReply *)m;
    assert_int_equal(in->amount, 12345);
    assert_string_equal(in->person->insuplc_admdvs, "540600");
    char setl_id[GJ_SETL_ID_MAX + 1];
    snprintf(setl_id, sizeof setl_id, "%s", in->setl_id);
    protobuf_c_message_free_unpacked(m, NULL);
    assert_int_equal(op_balance(nq, "CD-M27"), 12345);
    assert_int_equal(move_op(nq, "MoveIn", "CD-M27", "510100", &m, &st), OK);
    in = (Gongji__V1__MoveInReply *)m;
    assert_int_equal(in->amount, 12345);
    assert_string_equal(in->setl_id, setl_id);
    protobuf_c_message_free_unpacked(m, NULL);
    assert_int_equal(op_balance(nq, "CD-M27"), 12345);
    Gongji__V1__RevokeRequest rv = GONGJI__V1__REVOKE_REQUEST__INIT;
    rv.setl_id = setl_id;
    client_call(nq, "gongji.v1.Settlement/Revoke", NULL, NULL, &rv.base, &gongji__v1__revoke_reply__descriptor, &m,
                &st);
    assert_int_equal(st.code, FAILED_PRECONDITION);
    assert_string_equal(st.reason, "NOT_REVERSIBLE");
    assert_int_equal(op_balance(nq, "CD-M27"), 12345);
    assert_int_equal(op_balance(cd, "CD-L27"), 5000);
    client_close(wh);
    client_close(nq);
    client_close(cd);
}

static void test_audit_passes_on_every_node_and_across_the_cluster(void **state)
{
    (void)state;
    /* Runs last: everything the tests above did must add up. */
    Gongji__V1__AuditReply *audits[TC_NODES_MAX] = {0};
    for (int round = 0; round < 100; round++) {
        bool quiet = true;
        for (size_t i = 0; i < tc.count; i++) {
            if (audits[i])
                gongji__v1__audit_reply__free_unpacked(audits[i], NULL);
            client_t *c = tn_client(&tc.nodes[i], "op-1", GONGJI__V1__ROLE__OPERATOR);
            audits[i] = op_audit(c);
            client_close(c);
            assert_non_null(audits[i]);
            quiet &= audits[i]->open_holds == 0 && audits[i]->open_decisions == 0;
        }
        if (quiet)
            break;
        sleep_ms(100);
    }
    size_t matched = 0;
    for (size_t i = 0; i < tc.count; i++) {
        Gongji__V1__AuditReply *a = audits[i];
        for (size_t f = 0; f < a->n_failures; f++)
            print_message("%s: %s\n", a->region, a->failures[f]);
        assert_true(a->ok);
        assert_int_equal(a->open_holds, 0);
        assert_int_equal(a->open_decisions, 0);
        /* Every payment this node coordinated is posted once at the sponsor's node. */
        for (size_t k = 0; k < a->n_coordinated; k++) {
            Gongji__V1__CrossPayment *p = a->coordinated[k];
            size_t found = 0;
            for (size_t j = 0; j < tc.count; j++) {
                if (strcmp(audits[j]->region, p->sponsor_admdvs) != 0)
                    continue;
                for (size_t m = 0; m < audits[j]->n_participated; m++) {
                    Gongji__V1__CrossPayment *q = audits[j]->participated[m];
                    if (strcmp(q->setl_id, p->setl_id) == 0 && q->leg == p->leg) {
                        assert_int_equal(q->amount, p->amount);
                        found++;
                    }
                }
            }
            assert_int_equal(found, 1);
            matched++;
        }
        size_t posted = 0;
        for (size_t j = 0; j < tc.count; j++)
            posted += audits[j]->n_participated;
        (void)posted;
    }
    size_t participated = 0;
    for (size_t i = 0; i < tc.count; i++)
        participated += audits[i]->n_participated;
    assert_int_equal(matched, participated); /* nothing posted that was not decided */
    assert_true(matched >= 5);
    for (size_t i = 0; i < tc.count; i++)
        gongji__v1__audit_reply__free_unpacked(audits[i], NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_changsha_beneficiary_paid_in_order_by_xiangtan_then_changsha),
        cmocka_unit_test(test_chengdu_beneficiary_paid_by_nagqu_sponsor),
        cmocka_unit_test(test_cross_province_outside_the_pilot_refused),
        cmocka_unit_test(test_request_to_the_wrong_node_reaches_the_owner),
        cmocka_unit_test(test_region_refusing_sponsors_from_another_region_for_residents),
        cmocka_unit_test(test_sponsor_node_down_is_skipped_in_time_and_charged_nothing),
        cmocka_unit_test(test_hold_from_a_node_that_is_not_the_beneficiarys_home_is_refused),
        cmocka_unit_test(test_duplicated_settlement_sent_to_two_nodes_moves_money_once),
        cmocka_unit_test(test_void_that_arrives_before_its_hold_stops_it_for_good),
        cmocka_unit_test(test_hold_nobody_decided_is_voided_by_presumed_abort),
        cmocka_unit_test(test_peer_batch_items_are_handled_as_if_each_came_alone),
        cmocka_unit_test(test_cross_region_unbind_stops_payment_from_tomorrow),
        cmocka_unit_test(test_cross_region_binding_dates),
        cmocka_unit_test(test_cross_region_binding_of_an_older_beneficiary_needs_the_check),
        cmocka_unit_test(test_cross_region_freezes),
        cmocka_unit_test(test_recovering_a_settlements_mutual_aid_returns_each_sponsors_part_once),
        cmocka_unit_test(test_cross_region_named_sponsor_pays_alone),
        cmocka_unit_test(test_a_person_who_moves_takes_their_balance_once),
        cmocka_unit_test(test_audit_passes_on_every_node_and_across_the_cluster),
    };
    return th_exit_status(cmocka_run_group_tests(tests, cluster_setup, cluster_teardown));
}
