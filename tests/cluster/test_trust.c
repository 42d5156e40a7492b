/* Who is calling, proven: callers without a credential, with a stranger's or a revoked
 * one, claiming someone else, or acting outside their scope, against real nodes over
 * TLS. Every refusal names its reason, moves no money on any node, and the node keeps
 * serving. Node-to-node refusals are in test_trust_peers.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gj_util.h"
#include "session.h"
#include "cluster_fixture.h"
#include "refusal_checks.h"

enum {
    OK = 0,
    DEADLINE_EXCEEDED = 4,
    ALREADY_EXISTS = 6,
    PERMISSION_DENIED = 7,
    UNAVAILABLE = 14,
    UNAUTHENTICATED = 16
};

#define OPERATOR GONGJI__V1__ROLE__OPERATOR
#define INSTITUTION GONGJI__V1__ROLE__INSTITUTION
#define PERSON GONGJI__V1__ROLE__PERSON

static void expect(const client_status *st, int code, const char *reason)
{
    expect_refusal(st, code, reason, NULL);
}

/* No answer at all: the transport gave up (refused handshake, timeout). */
static void expect_no_answer(gj_err e, const client_status *st)
{
    assert_int_not_equal(e, GJ_OK);
    assert_true(st->code == DEADLINE_EXCEEDED || st->code == UNAVAILABLE);
    assert_string_equal(st->reason, "NO_ANSWER");
}

/* ---- calls ---- */

static gj_err credit(client_t *c, const char *dest, const char *psn_no, int64_t fen, client_status *st)
{
    Gongji__V1__CreditRequest req = GONGJI__V1__CREDIT_REQUEST__INIT;
    req.psn_no = (char *)psn_no;
    req.amount = fen;
    return client_call(c, "gongji.v1.Registry/Credit", NULL, dest, &req.base,
                       &gongji__v1__credit_reply__descriptor, NULL, st);
}

/* A bare message of any type, packed into an envelope by hand (unsealed). */
static size_t pack_envelope(uint8_t *out, const char *method, const char *caller_id, int role,
                            const ProtobufCMessage *msg)
{
    uint8_t payload[4096];
    Gongji__V1__Envelope env = GONGJI__V1__ENVELOPE__INIT;
    env.method = (char *)method;
    env.call_id = "hand-made-1";
    env.caller_id = (char *)caller_id;
    env.caller_role = (Gongji__V1__Role)role;
    env.deadline_unix_ms = gj_now_unix_ms() + 3000;
    env.payload.data = payload;
    env.payload.len = protobuf_c_message_pack(msg, payload);
    return gongji__v1__envelope__pack(&env, out);
}

static Gongji__V1__Reply *send_raw(client_t *c, const uint8_t *bytes, size_t len)
{
    Gongji__V1__Reply *r = NULL;
    assert_int_equal(client_call_raw(c, bytes, len, &r), GJ_OK);
    assert_non_null(r);
    return r;
}

/* The node's URL without TLS: what a caller with no credential can dial. */
static void plaintext_url(const test_node *tn, char out[320])
{
    assert_int_equal(strncmp(tn->url, "tls+tcp://", 10), 0);
    snprintf(out, 320, "tcp://%s", tn->url + 10);
}

static Gongji__V1__ListBindingsReply *bindings_of(const char *region, const char *psn_no)
{
    client_t *c = op_at(region);
    Gongji__V1__ListBindingsRequest req = GONGJI__V1__LIST_BINDINGS_REQUEST__INIT;
    req.psn_no = (char *)psn_no;
    ProtobufCMessage *ans = NULL;
    client_status st;
    client_call(c, "gongji.v1.MutualAid/ListBindings", NULL, NULL, &req.base,
                &gongji__v1__list_bindings_reply__descriptor, &ans, &st);
    client_close(c);
    assert_int_equal(st.code, OK);
    return (Gongji__V1__ListBindingsReply *)ans;
}

/* ---- 1. no credential ---- */

static void test_caller_without_credential_gets_no_answer_and_unsealed_request_is_refused(void **state)
{
    (void)state;
    client_status st;
    person_at("430100", "TR-1P", 101, "310", 5000);
    snapshot s;
    snap(&s, "430100", "TR-1P", NULL);

    /* Plain TCP to a TLS listener: no handshake, no answer. */
    char url[320];
    plaintext_url(tc_node(&tc, "430100"), url);
    client_t *plain = NULL;
    assert_int_equal(client_open(&plain, url, 500), GJ_OK);
    client_set_identity(plain, "430100:op-1", OPERATOR);
    expect_no_answer(credit(plain, NULL, "TR-1P", 100000000, &st), &st);
    client_close(plain);

    /* Over TLS with a good certificate, but the request carries no seal. */
    client_t *op = op_at("430100");
    Gongji__V1__CreditRequest req = GONGJI__V1__CREDIT_REQUEST__INIT;
    req.psn_no = "TR-1P";
    req.amount = 100000000;
    uint8_t buf[8192];
    size_t len = pack_envelope(buf, "gongji.v1.Registry/Credit", "430100:op-1", OPERATOR, &req.base);
    Gongji__V1__Reply *r = send_raw(op, buf, len);
    assert_int_equal(r->code, UNAUTHENTICATED);
    assert_string_equal(r->reason, "SEAL_MISSING");
    assert_non_null(strstr(r->message, "Auth/Open"));
    assert_int_equal(r->payload.len, 0);
    gongji__v1__reply__free_unpacked(r, NULL);
    client_close(op);

    assert_nothing_moved(&s);
    assert_serves("430100");
}

/* ---- 2. a credential of another CA ---- */

static void test_foreign_credential_is_refused_by_tls_and_by_auth_open(void **state)
{
    (void)state;
    client_status st;
    person_at("430100", "TR-2P", 102, "310", 5000);
    snapshot s;
    snap(&s, "430100", "TR-2P", NULL);
    const gj_cred *foreign = th_foreign_cred(GJ_ROLE_OPERATOR, "430100:op-1");
    assert_non_null(foreign);

    /* The node's TLS does not know its CA: the handshake fails, nothing is answered. */
    client_t *c = tn_client_with(tc_node(&tc, "430100"), foreign);
    assert_non_null(c);
    expect_no_answer(credit(c, NULL, "TR-2P", 100000000, &st), &st);
    client_close(c);

    /* Past TLS (a real institution's link), its Auth/Open is refused all the same. */
    client_t *inst = tn_client(tc_node(&tc, "430100"), "H43010000001", INSTITUTION);
    gj_open_pending p;
    Gongji__V1__OpenSessionRequest open = GONGJI__V1__OPEN_SESSION_REQUEST__INIT;
    assert_int_equal(gj_open_begin(foreign, "", &p, &open), GJ_OK);
    uint8_t buf[16384];
    size_t len = pack_envelope(buf, "gongji.v1.Auth/Open", "430100:op-1", OPERATOR, &open.base);
    gj_open_abandon(&p);
    Gongji__V1__Reply *r = send_raw(inst, buf, len);
    assert_int_equal(r->code, UNAUTHENTICATED);
    assert_string_equal(r->reason, "CREDENTIAL_REFUSED");
    assert_non_null(strstr(r->message, "not accepted"));
    assert_int_equal(r->payload.len, 0);
    gongji__v1__reply__free_unpacked(r, NULL);

    /* A seal with a session nobody opened. */
    Gongji__V1__CreditRequest req = GONGJI__V1__CREDIT_REQUEST__INIT;
    req.psn_no = "TR-2P";
    req.amount = 100000000;
    uint8_t payload[256], sid[GJ_SESSION_ID_LEN], mac[GJ_MAC_LEN];
    assert_true(gj_random(sid, sizeof sid) && gj_random(mac, sizeof mac));
    Gongji__V1__Seal seal = GONGJI__V1__SEAL__INIT;
    seal.session_id = (ProtobufCBinaryData){.len = sizeof sid, .data = sid};
    seal.mac = (ProtobufCBinaryData){.len = sizeof mac, .data = mac};
    seal.not_after_unix_ms = gj_now_unix_ms() + 3000;
    Gongji__V1__Envelope env = GONGJI__V1__ENVELOPE__INIT;
    env.method = "gongji.v1.Registry/Credit";
    env.call_id = "tr2-forged";
    env.caller_id = "430100:op-1";
    env.caller_role = OPERATOR;
    env.payload = (ProtobufCBinaryData){.len = protobuf_c_message_pack(&req.base, payload), .data = payload};
    env.seal = &seal;
    r = send_raw(inst, buf, gongji__v1__envelope__pack(&env, buf));
    assert_int_equal(r->code, UNAUTHENTICATED);
    assert_string_equal(r->reason, "SESSION_UNKNOWN");
    gongji__v1__reply__free_unpacked(r, NULL);
    client_close(inst);

    assert_nothing_moved(&s);
    assert_serves("430100");
}

/* ---- 3. a revoked credential ---- */

/* Call Balance (a read: it moves nothing) until the node refuses; the ms it took. */
static int64_t refused_within(client_t *c, const char *psn_no, int limit_ms, client_status *st)
{
    int64_t t0 = gj_mono_ms();
    Gongji__V1__BalanceRequest req = GONGJI__V1__BALANCE_REQUEST__INIT;
    req.psn_no = (char *)psn_no;
    do {
        ProtobufCMessage *ans = NULL;
        client_call(c, "gongji.v1.Settlement/Balance", NULL, NULL, &req.base,
                    &gongji__v1__balance_reply__descriptor, &ans, st);
        if (ans)
            protobuf_c_message_free_unpacked(ans, NULL);
        if (st->code != OK)
            break;
        sleep_ms(100);
    } while (gj_mono_ms() - t0 < limit_ms);
    return gj_mono_ms() - t0;
}

static void expect_revoked(const client_status *st)
{
    expect(st, UNAUTHENTICATED, "CREDENTIAL_REFUSED");
    assert_non_null(strstr(st->message, "revoked"));
}

static void test_revoked_institution_is_refused_within_seconds(void **state)
{
    (void)state;
    client_status st;
    person_at("430100", "TR-3P", 103, "310", 10000);
    person_at("430300", "TR-3Q", 104, "310", 10000);
    const gj_cred *cred = th_cred(GJ_ROLE_INSTITUTION, "H43019990001");
    assert_non_null(cred);
    client_t *inst = tn_client_with(tc_node(&tc, "430100"), cred);
    client_t *inst_xt = tn_client_with(tc_node(&tc, "430300"), cred);
    assert_int_equal(op_settle_x(inst, "TR-3P", "430100", 1000, NULL, NULL, &st), OK);
    assert_int_equal(op_settle_x(inst_xt, "TR-3Q", "430300", 1000, NULL, NULL, &st), OK);

    snapshot s;
    snap(&s, "430100", "TR-3P", "430300", "TR-3Q", NULL);
    assert_int_equal(th_revoke(GJ_ROLE_INSTITUTION, "H43019990001"), 0);
    /* Its open session ends when the node rereads the CRL; opening again is refused. */
    int64_t took = refused_within(inst, "TR-3P", 3000, &st);
    print_message("revocation took effect on 430100 after %lld ms\n", (long long)took);
    expect_revoked(&st);
    assert_true(took < 3000);
    assert_int_equal(op_settle_x(inst, "TR-3P", "430100", 1000, NULL, NULL, &st), UNAUTHENTICATED);
    expect_revoked(&st);
    took = refused_within(inst_xt, "TR-3Q", 3000, &st);
    expect_revoked(&st);
    assert_int_equal(op_settle_x(inst_xt, "TR-3Q", "430300", 1000, NULL, NULL, &st), UNAUTHENTICATED);
    expect_revoked(&st);
    client_close(inst_xt);
    client_close(inst);

    /* A new client with it, directly and through Chengdu. */
    client_t *fresh = tn_client_with(tc_node(&tc, "430100"), cred);
    assert_int_equal(op_settle_x(fresh, "TR-3P", "430100", 1000, NULL, NULL, &st), UNAUTHENTICATED);
    expect_revoked(&st);
    client_close(fresh);
    fresh = tn_client_with(tc_node(&tc, "510100"), cred);
    assert_int_equal(op_settle_x(fresh, "TR-3P", "430100", 1000, NULL, NULL, &st), UNAUTHENTICATED);
    expect_revoked(&st);
    client_close(fresh);

    assert_nothing_moved(&s);
    assert_serves("430100");
    assert_serves("430300");
    /* Other institutions are not affected. */
    assert_int_equal(settle_by_institution("430100", "TR-3P", "430100", 500, NULL, NULL, &st), OK);
    assert_int_equal(balance_via("430100", "TR-3P", "430100", NULL), 8500);
}

/* ---- 4. a credential claiming another role ---- */

static void test_institution_claiming_to_be_an_operator_is_refused(void **state)
{
    (void)state;
    client_status st;
    person_at("430100", "TR-4P", 105, "310", 5000);
    snapshot s;
    snap(&s, "430100", "TR-4P", NULL);
    client_t *c = tn_client(tc_node(&tc, "430100"), "H43010000001", INSTITUTION);
    client_set_identity(c, "430100:op-1", OPERATOR);
    assert_int_equal(credit(c, NULL, "TR-4P", 100000000, &st), GJ_OK);
    expect(&st, PERMISSION_DENIED, "IDENTITY_MISMATCH");
    assert_non_null(strstr(st.message, "INSTITUTION"));
    assert_int_equal(op_enroll(c, "TR-4X", 106, "310", "430100", &st), PERMISSION_DENIED);
    expect(&st, PERMISSION_DENIED, "IDENTITY_MISMATCH");
    client_close(c);
    assert_nothing_moved(&s);
    assert_int_equal(balance_via("430100", "TR-4X", "430100", NULL), -1); /* not enrolled */
    assert_serves("430100");
}

/* ---- 5. operators outside their region ---- */

static void test_credit_by_another_regions_operator_is_refused_directly_and_through_its_node(void **state)
{
    (void)state;
    client_status st;
    person_at("430100", "TR-5P", 107, "310", 5000);
    snapshot s;
    snap(&s, "430100", "TR-5P", NULL);
    client_t *cd_op = tn_client(tc_node(&tc, "430100"), "510100:op-1", OPERATOR);
    assert_int_equal(credit(cd_op, NULL, "TR-5P", 100000, &st), GJ_OK);
    expect(&st, PERMISSION_DENIED, "OPERATOR_SCOPE");
    assert_non_null(strstr(st.message, "510100:op-1"));
    assert_non_null(strstr(st.message, "430100"));
    client_close(cd_op);
    /* Sent to its own node for Changsha: Changsha says no. */
    cd_op = tn_client(tc_node(&tc, "510100"), "510100:op-1", OPERATOR);
    assert_int_equal(credit(cd_op, "430100", "TR-5P", 100000, &st), GJ_OK);
    expect(&st, PERMISSION_DENIED, "OPERATOR_SCOPE");
    assert_string_equal(st.served_by, "430100");
    client_close(cd_op);
    assert_nothing_moved(&s);
    assert_serves("430100");
    assert_serves("510100");
}

static void test_enroll_close_window_and_set_date_by_another_regions_operator_are_refused(void **state)
{
    (void)state;
    client_status st;
    person_at("430100", "TR-5Q", 108, "310", 5000);
    snapshot s;
    snap(&s, "430100", "TR-5Q", NULL);
    client_t *c = tn_client(tc_node(&tc, "430100"), "510100:op-1", OPERATOR);
    assert_int_equal(op_enroll(c, "TR-5X", 109, "310", "430100", &st), PERMISSION_DENIED);
    expect(&st, PERMISSION_DENIED, "OPERATOR_SCOPE");
    Gongji__V1__CloseWindowRequest close = GONGJI__V1__CLOSE_WINDOW_REQUEST__INIT;
    client_call(c, "gongji.v1.Clearing/CloseWindow", NULL, NULL, &close.base,
                &gongji__v1__clearing_totals_reply__descriptor, NULL, &st);
    expect(&st, PERMISSION_DENIED, "OPERATOR_SCOPE");
    assert_int_equal(op_set_date(c, 20300101, &st), PERMISSION_DENIED);
    expect(&st, PERMISSION_DENIED, "OPERATOR_SCOPE");
    client_close(c);

    /* Nothing took effect: no person, the window open, the date today's. */
    assert_nothing_moved(&s);
    assert_int_equal(balance_via("430100", "TR-5X", "430100", NULL), -1);
    client_t *op = op_at("430100");
    Gongji__V1__ClearingTotalsRequest totals = GONGJI__V1__CLEARING_TOTALS_REQUEST__INIT;
    Gongji__V1__ClearingTotalsReply *t = NULL;
    client_call(op, "gongji.v1.Clearing/ClearingTotals", NULL, NULL, &totals.base,
                &gongji__v1__clearing_totals_reply__descriptor, (ProtobufCMessage **)&t, &st);
    assert_int_equal(st.code, OK);
    assert_false(t->closed);
    gongji__v1__clearing_totals_reply__free_unpacked(t, NULL);
    Gongji__V1__HealthRequest hreq = GONGJI__V1__HEALTH_REQUEST__INIT;
    Gongji__V1__HealthReply *h = NULL;
    client_call(op, "gongji.v1.Operator/Health", NULL, NULL, &hreq.base,
                &gongji__v1__health_reply__descriptor, (ProtobufCMessage **)&h, &st);
    assert_int_equal(st.code, OK);
    assert_false(h->clock_overridden);
    gongji__v1__health_reply__free_unpacked(h, NULL);
    client_close(op);
    assert_serves("430100");
}

static void test_province_and_nation_operators_may_read_but_not_credit(void **state)
{
    (void)state;
    client_status st;
    person_at("430100", "TR-5R", 110, "310", 5000);
    snapshot s;
    snap(&s, "430100", "TR-5R", NULL);
    const char *readers[] = {"430000:prov", "000000:auditor"};
    for (size_t i = 0; i < 2; i++) {
        client_t *c = tn_client(tc_node(&tc, "430100"), readers[i], OPERATOR);
        assert_int_equal(op_balance(c, "TR-5R"), 5000);
        Gongji__V1__AuditReply *a = op_audit(c);
        assert_non_null(a);
        assert_string_equal(a->region, "430100");
        gongji__v1__audit_reply__free_unpacked(a, NULL);
        assert_int_equal(credit(c, NULL, "TR-5R", 100000, &st), GJ_OK);
        expect(&st, PERMISSION_DENIED, "OPERATOR_SCOPE");
        client_close(c);
    }
    /* Hunan's operator reads nothing in Sichuan. */
    client_t *prov = tn_client(tc_node(&tc, "510100"), "430000:prov", OPERATOR);
    assert_int_equal(op_balance(prov, "TR-5R"), -1);
    assert_null(op_audit(prov));
    client_close(prov);
    assert_nothing_moved(&s);
    assert_serves("430100");
    assert_serves("510100");
}

/* ---- 8. the attacks of the issue, each harmless now ---- */

/* "gongji --role operator --caller whoever credit --amount 1000000", from anywhere. */
static void test_credit_claiming_any_operator_is_refused_from_every_node(void **state)
{
    (void)state;
    client_status st;
    person_at("430100", "TR-8A", 111, "310", 5000);
    snapshot s;
    snap(&s, "430100", "TR-8A", NULL);
    for (size_t i = 0; i < tc.count; i++) {
        client_t *c = tn_client(&tc.nodes[i], "H43010000001", INSTITUTION);
        client_set_identity(c, "whoever", OPERATOR);
        assert_int_equal(credit(c, "430100", "TR-8A", 100000000, &st), GJ_OK);
        expect(&st, PERMISSION_DENIED, "IDENTITY_MISMATCH");
        client_set_identity(c, "430100:op-1", OPERATOR);
        assert_int_equal(credit(c, "430100", "TR-8A", 100000000, &st), GJ_OK);
        expect(&st, PERMISSION_DENIED, "IDENTITY_MISMATCH");
        client_close(c);
    }
    /* Without any credential: no answer, wherever it is sent. */
    const char *plain_to[] = {"430100", "430000"};
    for (size_t i = 0; i < 2; i++) {
        char url[320];
        plaintext_url(tc_node(&tc, plain_to[i]), url);
        client_t *c = NULL;
        assert_int_equal(client_open(&c, url, 500), GJ_OK);
        client_set_identity(c, "whoever", OPERATOR);
        expect_no_answer(credit(c, "430100", "TR-8A", 100000000, &st), &st);
        client_close(c);
    }
    assert_nothing_moved(&s);
    for (size_t i = 0; i < tc.count; i++)
        assert_serves(tc.nodes[i].region);
}

/* "gongji --role person --caller <victim> bind --sponsor <victim> --beneficiary <relative>". */
static void test_institution_binding_as_a_victim_is_refused_and_the_victim_pays_nothing(void **state)
{
    (void)state;
    client_status st;
    person_at("430100", "TR-8V", 112, "310", 10000);
    person_at("430100", "TR-8R", 113, "390", 0);
    snapshot s;
    snap(&s, "430100", "TR-8V", "430100", "TR-8R", NULL);
    client_t *c = tn_client(tc_node(&tc, "430100"), "H43010000001", INSTITUTION);
    client_set_identity(c, "TR-8V", PERSON);
    assert_int_equal(op_bind(c, "TR-8V", "TR-8R", GONGJI__V1__RELATION__CHILD, &st), PERMISSION_DENIED);
    expect(&st, PERMISSION_DENIED, "IDENTITY_MISMATCH");
    client_close(c);
    assert_nothing_moved(&s);
    Gongji__V1__ListBindingsReply *b = bindings_of("430100", "TR-8V");
    assert_int_equal(b->n_as_sponsor, 0);
    gongji__v1__list_bindings_reply__free_unpacked(b, NULL);
    b = bindings_of("430100", "TR-8R");
    assert_int_equal(b->n_as_beneficiary, 0);
    gongji__v1__list_bindings_reply__free_unpacked(b, NULL);
    /* The relative's bill is not the victim's. */
    Gongji__V1__SettleReply *r = NULL;
    assert_int_equal(settle_by_institution("430100", "TR-8R", "430100", 3000, NULL, &r, &st), OK);
    assert_int_equal(r->n_parts, 0);
    assert_int_equal(r->psn_cash_pay, 3000);
    gongji__v1__settle_reply__free_unpacked(r, NULL);
    assert_int_equal(balance_via("430100", "TR-8V", "430100", NULL), 10000);
    assert_serves("430100");
}

static void test_person_binding_themself_to_someone_elses_account_is_refused(void **state)
{
    (void)state;
    client_status st;
    person_at("430100", "TR-8DV", 114, "310", 10000);
    person_at("430100", "TR-8DA", 115, "310", 0);
    snapshot s;
    snap(&s, "430100", "TR-8DV", "430100", "TR-8DA", NULL);
    client_t *thief = tn_client(tc_node(&tc, "430100"), "TR-8DA", PERSON);
    assert_int_equal(op_bind(thief, "TR-8DV", "TR-8DA", GONGJI__V1__RELATION__PARENT, &st),
                     PERMISSION_DENIED);
    expect(&st, PERMISSION_DENIED, "CALLER_NOT_ALLOWED");
    assert_non_null(strstr(st.message, "sponsor"));
    client_close(thief);
    assert_nothing_moved(&s);
    Gongji__V1__ListBindingsReply *b = bindings_of("430100", "TR-8DV");
    assert_int_equal(b->n_as_sponsor, 0);
    gongji__v1__list_bindings_reply__free_unpacked(b, NULL);
    assert_int_equal(settle_by_institution("430100", "TR-8DA", "430100", 2000, NULL, NULL, &st), OK);
    assert_int_equal(balance_via("430100", "TR-8DV", "430100", NULL), 10000);
    assert_serves("430100");
}

static void test_person_reading_another_persons_balance_is_refused(void **state)
{
    (void)state;
    client_status st;
    person_at("430100", "TR-8EV", 116, "310", 4200);
    person_at("430100", "TR-8EA", 117, "310", 1300);
    snapshot s;
    snap(&s, "430100", "TR-8EV", "430100", "TR-8EA", NULL);
    client_t *a = tn_client(tc_node(&tc, "430100"), "TR-8EA", PERSON);
    Gongji__V1__BalanceRequest req = GONGJI__V1__BALANCE_REQUEST__INIT;
    req.psn_no = "TR-8EV";
    ProtobufCMessage *ans = NULL;
    client_call(a, "gongji.v1.Settlement/Balance", NULL, NULL, &req.base,
                &gongji__v1__balance_reply__descriptor, &ans, &st);
    expect(&st, PERMISSION_DENIED, "CALLER_NOT_ALLOWED");
    assert_null(ans);
    assert_null(strstr(st.message, "4200")); /* nothing of the answer leaks */
    assert_int_equal(op_balance(a, "TR-8EA"), 1300);
    client_close(a);
    assert_nothing_moved(&s);
    assert_serves("430100");
}

/* ---- 9. a sealed request replayed ---- */

static Gongji__V1__Reply *send_sealed(client_t *c, Gongji__V1__Envelope *env)
{
    Gongji__V1__Reply *r = NULL;
    assert_int_equal(client_call_envelope(c, env, &r), GJ_OK);
    assert_non_null(r);
    return r;
}

static int64_t credited_balance(const Gongji__V1__Reply *r)
{
    Gongji__V1__CreditReply *cr = gongji__v1__credit_reply__unpack(NULL, r->payload.len, r->payload.data);
    assert_non_null(cr);
    int64_t balance = cr->balance->balance;
    gongji__v1__credit_reply__free_unpacked(cr, NULL);
    return balance;
}

static void test_sealed_credit_replayed_moves_money_once_and_not_after_its_deadline(void **state)
{
    (void)state;
    person_at("430100", "TR-9P", 118, "310", 5000);
    client_t *op = op_at("430100");
    assert_int_equal(op_balance(op, "TR-9P"), 5000); /* the session is open before the clock starts */
    Gongji__V1__CreditRequest req = GONGJI__V1__CREDIT_REQUEST__INIT;
    req.psn_no = "TR-9P";
    req.amount = 700;
    uint8_t payload[128];
    Gongji__V1__Envelope env = GONGJI__V1__ENVELOPE__INIT;
    env.method = "gongji.v1.Registry/Credit";
    env.call_id = "tr9-captured";
    env.caller_id = "430100:op-1";
    env.caller_role = OPERATOR;
    env.dest_region = "";
    env.payload = (ProtobufCBinaryData){.len = protobuf_c_message_pack(&req.base, payload), .data = payload};
    /* Long enough for two writes on a loaded machine, short enough to wait out. */
    env.deadline_unix_ms = gj_now_unix_ms() + 1000;

    Gongji__V1__Reply *r = send_sealed(op, &env);
    assert_int_equal(r->code, OK);
    assert_int_equal(credited_balance(r), 5700);
    gongji__v1__reply__free_unpacked(r, NULL);
    /* Again within the deadline: the first answer, no second credit. */
    r = send_sealed(op, &env);
    assert_int_equal(r->code, OK);
    assert_int_equal(credited_balance(r), 5700);
    gongji__v1__reply__free_unpacked(r, NULL);
    assert_true(gj_now_unix_ms() < env.deadline_unix_ms); /* else the test proves nothing */

    snapshot s;
    snap(&s, "430100", "TR-9P", NULL);
    assert_int_equal(s.people[0].balance, 5700);
    while (gj_now_unix_ms() <= env.deadline_unix_ms + 100)
        sleep_ms(50);
    r = send_sealed(op, &env);
    assert_int_equal(r->code, DEADLINE_EXCEEDED);
    assert_string_equal(r->reason, "DEADLINE_PASSED");
    assert_int_equal(r->payload.len, 0);
    gongji__v1__reply__free_unpacked(r, NULL);
    /* The same call id for another amount, in time: refused, not a second credit. */
    req.amount = 900000;
    env.payload.len = protobuf_c_message_pack(&req.base, payload);
    env.deadline_unix_ms = gj_now_unix_ms() + 3000;
    r = send_sealed(op, &env);
    assert_int_equal(r->code, ALREADY_EXISTS);
    assert_string_equal(r->reason, "CALL_ID_REUSED");
    gongji__v1__reply__free_unpacked(r, NULL);
    client_close(op);
    assert_nothing_moved(&s);
    assert_serves("430100");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_caller_without_credential_gets_no_answer_and_unsealed_request_is_refused),
        cmocka_unit_test(test_foreign_credential_is_refused_by_tls_and_by_auth_open),
        cmocka_unit_test(test_revoked_institution_is_refused_within_seconds),
        cmocka_unit_test(test_institution_claiming_to_be_an_operator_is_refused),
        cmocka_unit_test(test_credit_by_another_regions_operator_is_refused_directly_and_through_its_node),
        cmocka_unit_test(test_enroll_close_window_and_set_date_by_another_regions_operator_are_refused),
        cmocka_unit_test(test_province_and_nation_operators_may_read_but_not_credit),
        cmocka_unit_test(test_credit_claiming_any_operator_is_refused_from_every_node),
        cmocka_unit_test(test_institution_binding_as_a_victim_is_refused_and_the_victim_pays_nothing),
        cmocka_unit_test(test_person_binding_themself_to_someone_elses_account_is_refused),
        cmocka_unit_test(test_person_reading_another_persons_balance_is_refused),
        cmocka_unit_test(test_sealed_credit_replayed_moves_money_once_and_not_after_its_deadline),
    };
    return th_exit_status(cmocka_run_group_tests(tests, cluster_setup, cluster_teardown));
}
