/* The rules beyond R1-R16 across regions, with real node processes (docs/rules.md):
 * binding dates (R17), the identity check of an older beneficiary (R18), a sponsor
 * named for a bill (R19), freezes and recovery (R21), people who move (R23). Money is
 * checked on every node involved, and the cluster's audits must agree at the end. */
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

enum { OK = 0, INVALID_ARGUMENT = 3, NOT_FOUND = 5, PERMISSION_DENIED = 7, FAILED_PRECONDITION = 9, UNAVAILABLE = 14 };

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
    cluster_audit_agrees(3); /* runs last: the recovery, the named sponsor and the move */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
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
