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
    /* Asked of a hub for a person: it insures nobody, and says whom to ask. */
    client_t *hub = op_at("430000");
    client_call(hub, "gongji.v1.Settlement/Balance", NULL, NULL, &req.base, &gongji__v1__balance_reply__descriptor,
                NULL, &st);
    assert_int_equal(st.code, NOT_FOUND);
    assert_string_equal(st.reason, "PERSON_NOT_FOUND");
    assert_non_null(strstr(st.message, "is a hub and insures nobody"));
    client_close(hub);
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

static void test_audit_passes_on_every_node_and_across_the_cluster(void **state)
{
    (void)state;
    cluster_audit_agrees(5); /* runs last: everything the tests above did must add up */
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
        cmocka_unit_test(test_audit_passes_on_every_node_and_across_the_cluster),
    };
    return th_exit_status(cmocka_run_group_tests(tests, cluster_setup, cluster_teardown));
}
