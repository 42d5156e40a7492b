/* Node to node, proven: a Peer call counts only from the region the protocol names (the
 * beneficiary's home for Hold, the settlement's maker for Resolve, the sponsor's home
 * for AcceptBinding), sent straight to the sponsor's node or through the Hunan hub, which
 * forwards the sealed envelope and cannot vouch for it. Real node credentials of the
 * wrong region, and an institution speaking as a node, against real processes over TLS.
 * Every refusal moves no money on any node, and the node keeps serving. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gj_util.h"
#include "cluster_fixture.h"
#include "refusal_checks.h"

enum { OK = 0, PERMISSION_DENIED = 7 };

#define PEER GONGJI__V1__ROLE__PEER

/* ---- who calls, and how ---- */

/* A node credential's holder calling through a node: straight to the target region's
 * node, or through another (the hub) that forwards to it. */
typedef struct route {
    const char *as;  /* the region whose node credential calls */
    const char *via; /* the node it connects to */
} route;

static const route rogues[] = {
    {"350100", "430300"}, /* Fuzhou's node, straight to Xiangtan */
    {"350100", "430000"}, /* ...through the Hunan hub */
    {"540600", "430000"}, /* Nagqu's, through the hub */
};
#define N_ROGUES (sizeof rogues / sizeof rogues[0])

static client_t *rogue_client(const route *r)
{
    client_t *c = tn_client(tc_node(&tc, r->via), r->as, PEER);
    assert_non_null(c);
    return c;
}

/* One Peer call for target's node; returns the code. */
static int peer_call(client_t *c, const route *r, const char *target, const char *method,
                     ProtobufCMessage *req, const ProtobufCMessageDescriptor *desc, client_status *st)
{
    ProtobufCMessage *ans = NULL;
    client_call(c, method, NULL, strcmp(r->via, target) == 0 ? NULL : target, req, desc, &ans, st);
    if (ans)
        protobuf_c_message_free_unpacked(ans, NULL);
    return st->code;
}

static Gongji__V1__HoldRequest hold_of(const char *setl_id, const char *sponsor, const char *beneficiary,
                                       const char *beneficiary_admdvs, int64_t amount)
{
    Gongji__V1__HoldRequest h = GONGJI__V1__HOLD_REQUEST__INIT;
    h.setl_id = (char *)setl_id;
    h.sponsor_psn_no = (char *)sponsor;
    h.beneficiary_psn_no = (char *)beneficiary;
    h.beneficiary_admdvs = (char *)beneficiary_admdvs;
    h.amount = amount;
    h.use = GONGJI__V1__USE_TYPE__OUTPATIENT;
    return h;
}

static Gongji__V1__ResolveRequest resolve_of(const char *setl_id, int action, int64_t amount,
                                             const char *sponsor, const char *beneficiary)
{
    Gongji__V1__ResolveRequest v = GONGJI__V1__RESOLVE_REQUEST__INIT;
    v.setl_id = (char *)setl_id;
    v.leg = 0;
    v.action = (Gongji__V1__LegAction)action;
    v.amount = action == GONGJI__V1__LEG_ACTION__VOID ? 0 : amount;
    v.sponsor_psn_no = (char *)sponsor;
    v.beneficiary_psn_no = (char *)beneficiary;
    return v;
}

/* A Changsha patient with nothing of their own, bound to a Xiangtan sponsor with 100.00. */
static void bound_pair(const char *patient, const char *sponsor, int serial)
{
    client_status st;
    person_at("430100", patient, serial, "390", 0);
    person_at("430300", sponsor, serial + 1, "310", 10000);
    assert_int_equal(
        bind_via("430100", sponsor, "430300", patient, "430100", GONGJI__V1__RELATION__PARENT, &st), OK);
}

/* The patient settles fen at Changsha, all paid by the Xiangtan sponsor (leg 0). */
static void settle_paid_by(const char *patient, const char *sponsor, int64_t fen, char setl_id[64])
{
    client_status st;
    Gongji__V1__SettleReply *r = NULL;
    assert_int_equal(settle_by_institution("430100", patient, "430100", fen, NULL, &r, &st), OK);
    assert_int_equal(settle_part(r, sponsor), fen);
    assert_int_equal(strncmp(r->setl_id, "430100-", 7), 0);
    snprintf(setl_id, 64, "%s", r->setl_id);
    gongji__v1__settle_reply__free_unpacked(r, NULL);
}

/* How many times (setl_id, leg 0) is among payments, with amount fen. */
static size_t payments_of(Gongji__V1__CrossPayment **p, size_t n, const char *setl_id, int64_t fen)
{
    size_t found = 0;
    for (size_t i = 0; i < n; i++)
        if (strcmp(p[i]->setl_id, setl_id) == 0 && p[i]->leg == 0) {
            assert_int_equal(p[i]->amount, fen);
            found++;
        }
    return found;
}

/* ---- 6. a node credential claiming another region ---- */

static void test_node_credential_claiming_another_region_is_refused(void **state)
{
    (void)state;
    client_status st;
    bound_pair("TR-6P", "TR-6S", 201);
    snapshot s;
    snap(&s, "430300", "TR-6S", "430100", "TR-6P", NULL);
    Gongji__V1__HoldRequest h =
        hold_of("430100-20260101-999999-0000000061", "TR-6S", "TR-6P", "430100", 5000);
    Gongji__V1__ResolveRequest post =
        resolve_of(h.setl_id, GONGJI__V1__LEG_ACTION__POST, 5000, "TR-6S", "TR-6P");
    for (size_t i = 0; i < N_ROGUES; i++) {
        client_t *c = rogue_client(&rogues[i]);
        client_set_identity(c, "430100", PEER); /* Changsha's node is the beneficiary's home */
        assert_int_equal(peer_call(c, &rogues[i], "430300", "gongji.v1.Peer/Hold", &h.base,
                                   &gongji__v1__hold_reply__descriptor, &st),
                         PERMISSION_DENIED);
        expect_refusal(&st, PERMISSION_DENIED, "IDENTITY_MISMATCH", rogues[i].as);
        assert_string_equal(st.served_by, "430300");
        assert_int_equal(peer_call(c, &rogues[i], "430300", "gongji.v1.Peer/Resolve", &post.base,
                                   &gongji__v1__resolve_reply__descriptor, &st),
                         PERMISSION_DENIED);
        expect_refusal(&st, PERMISSION_DENIED, "IDENTITY_MISMATCH", rogues[i].as);
        client_close(c);
    }
    assert_nothing_moved(&s);
    assert_serves("430300");
    assert_serves("430000");
}

/* ---- 7. Peer calls from a region that is not the one the protocol names ---- */

static void test_hold_from_a_region_that_is_not_the_beneficiarys_home_is_refused(void **state)
{
    (void)state;
    client_status st;
    bound_pair("TR-7AP", "TR-7AS", 203);
    snapshot s;
    snap(&s, "430300", "TR-7AS", "430100", "TR-7AP", NULL);
    for (size_t i = 0; i < N_ROGUES; i++) {
        client_t *c = rogue_client(&rogues[i]);
        /* For a Changsha patient: Changsha's to ask, not this caller's. */
        Gongji__V1__HoldRequest h =
            hold_of("430100-20260101-999999-0000000071", "TR-7AS", "TR-7AP", "430100", 5000);
        assert_int_equal(peer_call(c, &rogues[i], "430300", "gongji.v1.Peer/Hold", &h.base,
                                   &gongji__v1__hold_reply__descriptor, &st),
                         PERMISSION_DENIED);
        expect_refusal(&st, PERMISSION_DENIED, "NOT_BENEFICIARY_HOME", "430100");
        assert_string_equal(st.served_by, "430300");
        /* Naming itself the beneficiary's home, for a settlement Changsha made. */
        h.beneficiary_admdvs = (char *)rogues[i].as;
        assert_int_equal(peer_call(c, &rogues[i], "430300", "gongji.v1.Peer/Hold", &h.base,
                                   &gongji__v1__hold_reply__descriptor, &st),
                         PERMISSION_DENIED);
        expect_refusal(&st, PERMISSION_DENIED, "NOT_BENEFICIARY_HOME", h.setl_id);
        client_close(c);
    }
    assert_nothing_moved(&s);
    assert_serves("430300");
    assert_serves("430000");
}

static void test_resolve_of_another_regions_settlement_is_refused_and_the_payment_stands(void **state)
{
    (void)state;
    client_status st;
    char setl_id[64];
    bound_pair("TR-7BP", "TR-7BS", 205);
    settle_paid_by("TR-7BP", "TR-7BS", 3000, setl_id);
    snapshot s;
    snap(&s, "430300", "TR-7BS", "430100", "TR-7BP", NULL);
    assert_int_equal(s.people[0].balance, 7000);
    const int actions[] = {GONGJI__V1__LEG_ACTION__POST, GONGJI__V1__LEG_ACTION__VOID,
                           GONGJI__V1__LEG_ACTION__REFUND_LEG};
    for (size_t i = 0; i < N_ROGUES; i++) {
        client_t *c = rogue_client(&rogues[i]);
        for (size_t k = 0; k < 3; k++) {
            Gongji__V1__ResolveRequest v = resolve_of(setl_id, actions[k], 3000, "TR-7BS", "TR-7BP");
            assert_int_equal(peer_call(c, &rogues[i], "430300", "gongji.v1.Peer/Resolve", &v.base,
                                       &gongji__v1__resolve_reply__descriptor, &st),
                             PERMISSION_DENIED);
            expect_refusal(&st, PERMISSION_DENIED, "NOT_BENEFICIARY_HOME", setl_id);
            assert_string_equal(st.served_by, "430300");
        }
        client_close(c);
    }
    assert_nothing_moved(&s);

    /* The coordinator's record: paid by the sponsor, not revoked. */
    client_t *cs = op_at("430100");
    Gongji__V1__SettlementRecordsRequest req = GONGJI__V1__SETTLEMENT_RECORDS_REQUEST__INIT;
    req.psn_no = "TR-7BP";
    Gongji__V1__SettlementRecordsReply *rec = NULL;
    client_call(cs, "gongji.v1.Settlement/SettlementRecords", NULL, NULL, &req.base,
                &gongji__v1__settlement_records_reply__descriptor, (ProtobufCMessage **)&rec, &st);
    assert_int_equal(st.code, OK);
    assert_int_equal(rec->n_records, 1);
    assert_string_equal(rec->records[0]->setl_id, setl_id);
    assert_false(rec->records[0]->revoked);
    assert_int_equal(rec->records[0]->acct_mulaid_pay, 3000);
    gongji__v1__settlement_records_reply__free_unpacked(rec, NULL);
    client_close(cs);
    /* One payment, decided at Changsha and posted once at Xiangtan, and nothing else. */
    Gongji__V1__AuditReply *a = audit_at("430100");
    assert_int_equal(payments_of(a->coordinated, a->n_coordinated, setl_id, 3000), 1);
    gongji__v1__audit_reply__free_unpacked(a, NULL);
    a = audit_at("430300");
    assert_int_equal(payments_of(a->participated, a->n_participated, setl_id, 3000), 1);
    gongji__v1__audit_reply__free_unpacked(a, NULL);
    for (size_t i = 0; i < N_ROGUES; i++) {
        a = audit_at(rogues[i].as);
        assert_int_equal(payments_of(a->coordinated, a->n_coordinated, setl_id, 3000), 0);
        assert_int_equal(payments_of(a->participated, a->n_participated, setl_id, 3000), 0);
        gongji__v1__audit_reply__free_unpacked(a, NULL);
    }
    assert_serves("430300");
    assert_serves("430000");
}

/* The settlement ids Changsha will give next: its last one's counter, plus 1..n. */
static void next_setl_ids(const char *last, char out[][64], size_t n)
{
    const char *dash = strrchr(last, '-');
    assert_non_null(dash);
    unsigned long long counter = strtoull(dash + 1, NULL, 10);
    for (size_t k = 0; k < n; k++)
        snprintf(out[k], 64, "%.*s-%010llu", (int)(dash - last), last, counter + 1 + k);
}

static void test_void_of_a_guessed_future_settlement_plants_no_fence(void **state)
{
    (void)state;
    client_status st;
    char setl_id[64], guessed[4][64];
    bound_pair("TR-7CP", "TR-7CS", 207);
    settle_paid_by("TR-7CP", "TR-7CS", 1000, setl_id);
    next_setl_ids(setl_id, guessed, 4);
    snapshot s;
    snap(&s, "430300", "TR-7CS", "430100", "TR-7CP", NULL);
    for (size_t i = 0; i < N_ROGUES; i++) {
        client_t *c = rogue_client(&rogues[i]);
        for (size_t k = 0; k < 4; k++) {
            Gongji__V1__ResolveRequest v =
                resolve_of(guessed[k], GONGJI__V1__LEG_ACTION__VOID, 0, "TR-7CS", "TR-7CP");
            assert_int_equal(peer_call(c, &rogues[i], "430300", "gongji.v1.Peer/Resolve", &v.base,
                                       &gongji__v1__resolve_reply__descriptor, &st),
                             PERMISSION_DENIED);
            expect_refusal(&st, PERMISSION_DENIED, "NOT_BENEFICIARY_HOME", guessed[k]);
        }
        client_close(c);
    }
    assert_nothing_moved(&s);
    /* The next real settlement takes a guessed id, and the sponsor still pays it. */
    char next[64];
    settle_paid_by("TR-7CP", "TR-7CS", 2000, next);
    bool was_guessed = false;
    for (size_t k = 0; k < 4; k++)
        was_guessed |= strcmp(next, guessed[k]) == 0;
    if (!was_guessed)
        fail_msg("settlement %s was not among the guessed ids (%s...)", next, guessed[0]);
    wait_quiet();
    int64_t held = -1;
    assert_int_equal(balance_via("430300", "TR-7CS", "430300", &held), 7000);
    assert_int_equal(held, 0);
    assert_serves("430300");
}

static int accept_binding(client_t *c, const route *r, const char *sponsor, const char *beneficiary,
                          int32_t end_date, client_status *st)
{
    Gongji__V1__Binding b = GONGJI__V1__BINDING__INIT;
    b.sponsor_psn_no = (char *)sponsor;
    b.beneficiary_psn_no = (char *)beneficiary;
    b.relation = GONGJI__V1__RELATION__PARENT;
    b.sponsor_admdvs = "430300";
    b.beneficiary_admdvs = "430100";
    b.end_date = end_date;
    Gongji__V1__AcceptBindingRequest req = GONGJI__V1__ACCEPT_BINDING_REQUEST__INIT;
    req.binding = &b;
    req.sponsor_region_live = true;
    return peer_call(c, r, "430100", "gongji.v1.Peer/AcceptBinding", &req.base,
                     &gongji__v1__accept_binding_reply__descriptor, st);
}

static void test_accept_binding_from_a_region_that_is_not_the_sponsors_is_refused(void **state)
{
    (void)state;
    client_status st;
    bound_pair("TR-7DP", "TR-7DS", 209);
    person_at("430300", "TR-7DX", 211, "310", 10000); /* never bound */
    snapshot s;
    snap(&s, "430100", "TR-7DP", "430300", "TR-7DS", "430300", "TR-7DX", NULL);
    /* Changsha keeps the beneficiary's copy: the rogues call Changsha, straight or via the hub. */
    const route to_cs[] = {{"350100", "430100"}, {"350100", "430000"}, {"540600", "430100"}};
    int32_t today = gj_cst_date_of(gj_now_unix_ms());
    for (size_t i = 0; i < 3; i++) {
        client_t *c = tn_client(tc_node(&tc, to_cs[i].via), to_cs[i].as, PEER);
        assert_int_equal(accept_binding(c, &to_cs[i], "TR-7DX", "TR-7DP", 0, &st), PERMISSION_DENIED);
        expect_refusal(&st, PERMISSION_DENIED, "CALLER_NOT_ALLOWED", "430300");
        assert_string_equal(st.served_by, "430100");
        /* Nor may it end a binding that is not its region's. */
        assert_int_equal(accept_binding(c, &to_cs[i], "TR-7DS", "TR-7DP", today, &st), PERMISSION_DENIED);
        expect_refusal(&st, PERMISSION_DENIED, "CALLER_NOT_ALLOWED", "430300");
        client_close(c);
    }
    assert_nothing_moved(&s);

    /* The beneficiary sees the one real sponsor, through the platform. */
    client_t *p = tn_client(tc_node(&tc, "430100"), "TR-7DP", GONGJI__V1__ROLE__PERSON);
    Gongji__V1__ListBindingsRequest req = GONGJI__V1__LIST_BINDINGS_REQUEST__INIT;
    req.psn_no = "TR-7DP";
    Gongji__V1__ListBindingsReply *b = NULL;
    client_call(p, "gongji.v1.MutualAid/ListBindings", NULL, NULL, &req.base,
                &gongji__v1__list_bindings_reply__descriptor, (ProtobufCMessage **)&b, &st);
    assert_int_equal(st.code, OK);
    assert_int_equal(b->n_as_beneficiary, 1);
    assert_string_equal(b->as_beneficiary[0]->sponsor_psn_no, "TR-7DS");
    assert_true(b->as_beneficiary[0]->active);
    assert_int_equal(b->as_beneficiary[0]->end_date, 0);
    assert_int_equal(b->n_deduction_order, 1);
    assert_string_equal(b->deduction_order[0], "TR-7DS");
    gongji__v1__list_bindings_reply__free_unpacked(b, NULL);
    client_close(p);
    /* And the real sponsor still pays; the other does not. */
    char setl_id[64];
    settle_paid_by("TR-7DP", "TR-7DS", 1500, setl_id);
    wait_quiet();
    assert_int_equal(balance_via("430300", "TR-7DS", "430300", NULL), 8500);
    assert_int_equal(balance_via("430300", "TR-7DX", "430300", NULL), 10000);
    assert_serves("430100");
    assert_serves("430000");
}

/* ---- 8b. an institution speaking as a node ---- */

static Gongji__V1__Reply *send_as(client_t *c, const char *method, const char *dest, const char *call_id,
                                  const ProtobufCMessage *msg)
{
    uint8_t payload[512];
    Gongji__V1__Envelope env = GONGJI__V1__ENVELOPE__INIT;
    env.method = (char *)method;
    env.call_id = (char *)call_id;
    env.caller_id = "430100";
    env.caller_role = PEER;
    env.dest_region = (char *)dest;
    env.deadline_unix_ms = gj_now_unix_ms() + 3000;
    env.payload = (ProtobufCBinaryData){.len = protobuf_c_message_pack(msg, payload), .data = payload};
    Gongji__V1__Reply *r = NULL;
    assert_int_equal(client_call_envelope(c, &env, &r), GJ_OK);
    assert_non_null(r);
    return r;
}

static void expect_reply(Gongji__V1__Reply *r, int code, const char *reason)
{
    if ((int)r->code != code || strcmp(r->reason, reason) != 0)
        print_message("expected %d %s, got %d %s: %s\n", code, reason, r->code, r->reason, r->message);
    assert_int_equal(r->code, code);
    assert_string_equal(r->reason, reason);
    assert_int_equal(r->payload.len, 0);
    gongji__v1__reply__free_unpacked(r, NULL);
}

static void test_institution_speaking_as_a_peer_node_is_refused_directly_and_through_the_hub(void **state)
{
    (void)state;
    bound_pair("TR-8BP", "TR-8BS", 213);
    snapshot s;
    snap(&s, "430300", "TR-8BS", "430100", "TR-8BP", NULL);
    const char *setl_id = "430100-20260101-999999-0000000081";
    Gongji__V1__HoldRequest h = hold_of(setl_id, "TR-8BS", "TR-8BP", "430100", 8000);
    Gongji__V1__ResolveRequest post =
        resolve_of(setl_id, GONGJI__V1__LEG_ACTION__POST, 8000, "TR-8BS", "TR-8BP");
    const struct {
        const char *via, *dest;
    } paths[] = {{"430300", ""}, {"430300", "430300"}, {"430000", "430300"}};
    for (size_t i = 0; i < 3; i++) {
        client_t *c = tn_client(tc_node(&tc, paths[i].via), "H43010000001", GONGJI__V1__ROLE__INSTITUTION);
        expect_reply(send_as(c, "gongji.v1.Peer/Hold", paths[i].dest, "tr8b-h", &h.base), PERMISSION_DENIED,
                     "IDENTITY_MISMATCH");
        expect_reply(send_as(c, "gongji.v1.Peer/Resolve", paths[i].dest, "tr8b-p", &post.base),
                     PERMISSION_DENIED, "IDENTITY_MISMATCH");
        client_close(c);
    }
    assert_nothing_moved(&s);
    /* No clearing row: Xiangtan's audit holds nothing of it. */
    Gongji__V1__AuditReply *a = audit_at("430300");
    assert_true(a->ok);
    assert_int_equal(a->open_holds, 0);
    assert_int_equal(payments_of(a->participated, a->n_participated, setl_id, 8000), 0);
    gongji__v1__audit_reply__free_unpacked(a, NULL);
    assert_serves("430300");
    assert_serves("430000");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_node_credential_claiming_another_region_is_refused),
        cmocka_unit_test(test_hold_from_a_region_that_is_not_the_beneficiarys_home_is_refused),
        cmocka_unit_test(test_resolve_of_another_regions_settlement_is_refused_and_the_payment_stands),
        cmocka_unit_test(test_void_of_a_guessed_future_settlement_plants_no_fence),
        cmocka_unit_test(test_accept_binding_from_a_region_that_is_not_the_sponsors_is_refused),
        cmocka_unit_test(test_institution_speaking_as_a_peer_node_is_refused_directly_and_through_the_hub),
    };
    return th_exit_status(cmocka_run_group_tests(tests, cluster_setup, cluster_teardown));
}
