/* R20, the family pool (家庭共济账户, seed 002), with real node processes: Changsha
 * (430100) runs pools with the seed's 2000-yuan floor and at most 3 members; Xiangtan
 * (430300) is another region of the province; Fuzhou (350100) is another province.
 * Money is checked on every node involved: the contributors' accounts, the pool's, the
 * members'; and the cluster's audits must agree at the end, pools included. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "credential.h"
#include "gj_util.h"
#include "cluster_fixture.h"

enum { OK = 0, INVALID_ARGUMENT = 3, NOT_FOUND = 5, ALREADY_EXISTS = 6, PERMISSION_DENIED = 7,
       FAILED_PRECONDITION = 9 };

/* One FamilyPool call; *pool (may be NULL) gets the answer's pool, to be freed. */
static int pool_call(client_t *c, const char *method, const ProtobufCMessage *req, Gongji__V1__PoolReply **pool,
                     client_status *st)
{
    ProtobufCMessage *m = NULL;
    char name[64];
    snprintf(name, sizeof name, "gongji.v1.FamilyPool/%s", method);
    client_call(c, name, NULL, NULL, req, &gongji__v1__pool_reply__descriptor, &m, st);
    if (pool != NULL)
        *pool = (Gongji__V1__PoolReply *)m;
    else if (m != NULL)
        protobuf_c_message_free_unpacked(m, NULL);
    return st->code;
}

static int create(client_t *c, const char *creator, char pool_id[GJ_PSN_NO_MAX + 1], client_status *st)
{
    Gongji__V1__PoolCreateRequest req = GONGJI__V1__POOL_CREATE_REQUEST__INIT;
    req.creator_psn_no = (char *)creator;
    Gongji__V1__PoolReply *r = NULL;
    int code = pool_call(c, "Create", &req.base, &r, st);
    if (code == OK) {
        assert_non_null(r->pool);
        assert_true(gj_is_pool_id(r->pool->pool_id));
        assert_true(r->pool->open);
        snprintf(pool_id, GJ_PSN_NO_MAX + 1, "%s", r->pool->pool_id);
    }
    if (r != NULL)
        gongji__v1__pool_reply__free_unpacked(r, NULL);
    return code;
}

static int contribute(client_t *c, const char *pool_id, const char *who, int64_t fen, client_status *st)
{
    Gongji__V1__PoolContributeRequest req = GONGJI__V1__POOL_CONTRIBUTE_REQUEST__INIT;
    req.pool_id = (char *)pool_id;
    req.contributor_psn_no = (char *)who;
    req.amount = fen;
    return pool_call(c, "Contribute", &req.base, NULL, st);
}

static int add_member(client_t *c, const char *pool_id, const char *member, const char *region, int relation,
                      client_status *st)
{
    Gongji__V1__PoolAddMemberRequest req = GONGJI__V1__POOL_ADD_MEMBER_REQUEST__INIT;
    req.pool_id = (char *)pool_id;
    req.member_psn_no = (char *)member;
    req.member_admdvs = (char *)region;
    req.relation = (Gongji__V1__Relation)relation;
    return pool_call(c, "AddMember", &req.base, NULL, st);
}

static int close_pool(client_t *c, const char *pool_id, client_status *st)
{
    Gongji__V1__PoolCloseRequest req = GONGJI__V1__POOL_CLOSE_REQUEST__INIT;
    req.pool_id = (char *)pool_id;
    return pool_call(c, "Close", &req.base, NULL, st);
}

/* The pool as its node reads it (the caller frees it). */
static Gongji__V1__PoolReply *get_pool(client_t *c, const char *pool_id)
{
    client_status st;
    Gongji__V1__PoolGetRequest req = GONGJI__V1__POOL_GET_REQUEST__INIT;
    req.pool_id = (char *)pool_id;
    Gongji__V1__PoolReply *r = NULL;
    assert_int_equal(pool_call(c, "Get", &req.base, &r, &st), OK);
    assert_non_null(r->pool);
    return r;
}

/* Balance and each share's remaining (up to 3) of a pool. */
static void pool_is(client_t *c, const char *pool_id, bool open, int64_t balance, size_t shares, ...)
{
    Gongji__V1__PoolReply *r = get_pool(c, pool_id);
    assert_int_equal(r->pool->open, open);
    assert_int_equal(r->pool->balance, balance);
    assert_int_equal(r->pool->held, 0);
    assert_int_equal(r->pool->n_shares, shares);
    va_list ap;
    va_start(ap, shares);
    for (size_t i = 0; i < shares; i++)
        assert_int_equal(r->pool->shares[i]->remaining, va_arg(ap, int64_t));
    va_end(ap);
    gongji__v1__pool_reply__free_unpacked(r, NULL);
}

/* Posts follow the answer: wait (bounded) until the pool's balance reads want. */
static void pool_settles_at(client_t *c, const char *pool_id, int64_t want)
{
    for (int i = 0; i < 100; i++) {
        Gongji__V1__PoolReply *r = get_pool(c, pool_id);
        bool there = r->pool->balance == want && r->pool->held == 0;
        gongji__v1__pool_reply__free_unpacked(r, NULL);
        if (there)
            return;
        sleep_ms(50);
    }
    fail_msg("pool %s never came to %lld", pool_id, (long long)want);
}

static int revoke(client_t *c, const char *setl_id, client_status *st)
{
    Gongji__V1__RevokeRequest req = GONGJI__V1__REVOKE_REQUEST__INIT;
    req.setl_id = (char *)setl_id;
    ProtobufCMessage *m = NULL;
    client_call(c, "gongji.v1.Settlement/Revoke", NULL, NULL, &req.base, &gongji__v1__revoke_reply__descriptor, &m,
                st);
    if (m != NULL)
        protobuf_c_message_free_unpacked(m, NULL);
    return st->code;
}

/* A bill of the patient at their own node: what the pool paid; setl_id (may be NULL)
 * gets the settlement's id. */
static int64_t bill(const char *region, const char *patient, int64_t fen, const char *pool_id, char *setl_id)
{
    client_status st;
    Gongji__V1__SettleReply *r = NULL;
    assert_int_equal(settle_by_institution(region, patient, region, fen, NULL, &r, &st), OK);
    assert_int_equal(r->acct_pay + r->acct_mulaid_pay + r->psn_cash_pay, fen);
    int64_t paid = settle_part(r, pool_id);
    if (setl_id != NULL)
        snprintf(setl_id, GJ_SETL_ID_MAX + 1, "%s", r->setl_id);
    gongji__v1__settle_reply__free_unpacked(r, NULL);
    return paid;
}

/* Contributions up to the floor, creator first, members, the pool before the own
 * account of nobody but the patient, a revoke putting every share back, and closing
 * giving every fen back; each refusal with its reason. */
static void test_a_pool_in_one_region(void **state)
{
    (void)state;
    client_status st;
    char pool_id[GJ_PSN_NO_MAX + 1];
    person_at("430100", "CS-C40", 40, "310", 500000); /* the creator: 5000.00 */
    person_at("430100", "CS-E40", 41, "310", 300000); /* an employee of the family */
    person_at("430100", "CS-M40", 42, "390", 0);      /* a resident-insured child */
    person_at("430100", "CS-X40", 43, "310", 100000); /* not of the family */
    client_t *cs = op_at("430100");
    client_t *creator = tn_client(tc_node(&tc, "430100"), "CS-C40", GONGJI__V1__ROLE__PERSON);
    client_t *stranger = tn_client(tc_node(&tc, "430100"), "CS-X40", GONGJI__V1__ROLE__PERSON);

    /* Only where the region runs pools; only by the creator or an operator. */
    client_t *xt = op_at("430300");
    person_at("430300", "XT-C40", 44, "310", 500000);
    assert_int_equal(create(xt, "XT-C40", pool_id, &st), FAILED_PRECONDITION);
    assert_string_equal(st.reason, "POOL_NOT_OFFERED");
    client_close(xt);
    assert_int_equal(create(stranger, "CS-C40", pool_id, &st), PERMISSION_DENIED);
    assert_int_equal(create(cs, "CS-M40", pool_id, &st), FAILED_PRECONDITION); /* a resident: no account */
    assert_int_equal(create(creator, "CS-C40", pool_id, &st), OK);
    char again[GJ_PSN_NO_MAX + 1];
    assert_int_equal(create(creator, "CS-C40", again, &st), ALREADY_EXISTS);
    assert_string_equal(st.reason, "POOL_EXISTS");

    /* Only what is above the floor (5000.00 - 2000.00). */
    assert_int_equal(contribute(creator, pool_id, "CS-C40", 300001, &st), FAILED_PRECONDITION);
    assert_string_equal(st.reason, "POOL_ABOVE_FLOOR");
    assert_int_equal(op_balance(cs, "CS-C40"), 500000);
    assert_int_equal(contribute(creator, pool_id, "CS-C40", 300000, &st), OK);
    assert_int_equal(op_balance(cs, "CS-C40"), 200000);
    pool_is(cs, pool_id, true, 300000, 1, (int64_t)300000);
    /* A pool this node does not keep. */
    assert_int_equal(contribute(creator, "POOL4301000000009999", "CS-C40", 1000, &st), NOT_FOUND);
    assert_string_equal(st.reason, "POOL_NOT_FOUND");
    /* A contributor is the creator or a member. */
    assert_int_equal(contribute(stranger, pool_id, "CS-X40", 1000, &st), FAILED_PRECONDITION);
    assert_string_equal(st.reason, "POOL_NOT_CONTRIBUTOR");
    assert_int_equal(add_member(stranger, pool_id, "CS-M40", "", GONGJI__V1__RELATION__CHILD, &st), PERMISSION_DENIED);
    assert_int_equal(add_member(creator, pool_id, "CS-C40", "", GONGJI__V1__RELATION__CHILD, &st),
                     INVALID_ARGUMENT);
    assert_string_equal(st.reason, "SELF_BINDING");
    assert_int_equal(add_member(creator, pool_id, "CS-M40", "", GONGJI__V1__RELATION__CHILD, &st), OK);
    assert_int_equal(add_member(creator, pool_id, "CS-E40", "", GONGJI__V1__RELATION__SPOUSE, &st), OK);
    assert_int_equal(add_member(creator, pool_id, "CS-M40", "", GONGJI__V1__RELATION__CHILD, &st),
                     ALREADY_EXISTS);
    /* Changsha allows 3 members: the fourth is refused. */
    person_at("430100", "CS-N41", 45, "390", 0);
    person_at("430100", "CS-N42", 46, "390", 0);
    assert_int_equal(add_member(creator, pool_id, "CS-N41", "", GONGJI__V1__RELATION__CHILD, &st), OK);
    assert_int_equal(add_member(creator, pool_id, "CS-N42", "", GONGJI__V1__RELATION__CHILD, &st), FAILED_PRECONDITION);
    assert_string_equal(st.reason, "POOL_MEMBERS_LIMIT");
    client_t *spouse = tn_client(tc_node(&tc, "430100"), "CS-E40", GONGJI__V1__ROLE__PERSON);
    assert_int_equal(contribute(spouse, pool_id, "CS-E40", 50000, &st), OK);
    assert_int_equal(op_balance(cs, "CS-E40"), 250000);
    pool_is(cs, pool_id, true, 350000, 2, (int64_t)300000, (int64_t)50000);

    /* The child's bill: the pool pays, the creator's share first. */
    char setl_id[GJ_SETL_ID_MAX + 1];
    assert_int_equal(bill("430100", "CS-M40", 320000, pool_id, setl_id), 320000);
    pool_is(cs, pool_id, true, 30000, 2, (int64_t)0, (int64_t)30000);
    assert_int_equal(op_balance(cs, "CS-C40"), 200000);
    /* The spouse put money in: their own bill gets nothing from the pool. */
    assert_int_equal(bill("430100", "CS-E40", 10000, pool_id, NULL), 0);
    assert_int_equal(op_balance(cs, "CS-E40"), 240000);
    pool_is(cs, pool_id, true, 30000, 2, (int64_t)0, (int64_t)30000);
    /* A revoke gives each share back what was drawn from it. */
    assert_int_equal(revoke(cs, setl_id, &st), OK);
    pool_is(cs, pool_id, true, 350000, 2, (int64_t)300000, (int64_t)50000);

    /* Closing gives every fen back to the account it came from; then nothing more. */
    assert_int_equal(close_pool(stranger, pool_id, &st), PERMISSION_DENIED);
    assert_int_equal(close_pool(creator, pool_id, &st), OK);
    pool_is(cs, pool_id, false, 0, 2, (int64_t)0, (int64_t)0);
    assert_int_equal(op_balance(cs, "CS-C40"), 500000);
    assert_int_equal(op_balance(cs, "CS-E40"), 290000);
    assert_int_equal(close_pool(creator, pool_id, &st), FAILED_PRECONDITION);
    assert_string_equal(st.reason, "POOL_CLOSED");
    assert_int_equal(contribute(creator, pool_id, "CS-C40", 1000, &st), FAILED_PRECONDITION);
    assert_string_equal(st.reason, "POOL_CLOSED");
    assert_int_equal(bill("430100", "CS-M40", 1000, pool_id, NULL), 0);
    /* A new pool may be created once the old one is closed. */
    assert_int_equal(create(creator, "CS-C40", again, &st), OK);
    assert_string_not_equal(again, pool_id);
    client_close(spouse);
    client_close(stranger);
    client_close(creator);
    client_close(cs);
}

/* A member insured at Xiangtan settles there against the Changsha pool; a member in
 * another province is refused. The pool is closed with the member's settlement still
 * revocable: the revoke's refund reaches the closed pool and goes on to the creator. */
static void test_a_member_in_another_region_of_the_province(void **state)
{
    (void)state;
    client_status st;
    char pool_id[GJ_PSN_NO_MAX + 1];
    person_at("430100", "CS-C50", 50, "310", 400000);
    person_at("430300", "XT-M50", 51, "310", 1000); /* 10.00 of their own */
    person_at("350100", "FZ-M50", 52, "310", 0);
    client_t *cs = op_at("430100"), *xt = op_at("430300");
    assert_int_equal(create(cs, "CS-C50", pool_id, &st), OK);
    assert_int_equal(contribute(cs, pool_id, "CS-C50", 150000, &st), OK);
    assert_int_equal(add_member(cs, pool_id, "FZ-M50", "350100", GONGJI__V1__RELATION__PARENT, &st),
                     FAILED_PRECONDITION);
    assert_string_equal(st.reason, "POOL_OUTSIDE_PROVINCE");
    assert_int_equal(add_member(cs, pool_id, "XT-M50", "430300", GONGJI__V1__RELATION__PARENT, &st), OK);

    /* Xiangtan coordinates: own account first, then the pool at Changsha. */
    char setl_id[GJ_SETL_ID_MAX + 1];
    assert_int_equal(bill("430300", "XT-M50", 51000, pool_id, setl_id), 50000);
    assert_int_equal(op_balance(xt, "XT-M50"), 0);
    pool_settles_at(cs, pool_id, 100000);
    pool_is(cs, pool_id, true, 100000, 1, (int64_t)100000);
    /* A second bill, kept: the audit matches its payment on both nodes. */
    assert_int_equal(bill("430300", "XT-M50", 20000, pool_id, NULL), 20000);
    pool_settles_at(cs, pool_id, 80000);

    /* A hold on the pool in flight (Xiangtan's node asking for one, as for a bill):
     * closing waits for it to be decided. */
    client_t *as_xt = tn_client_with(tc_node(&tc, "430100"), th_cred(GJ_ROLE_PEER, "430300"));
    assert_non_null(as_xt);
    client_set_identity(as_xt, "430300", GONGJI__V1__ROLE__PEER);
    Gongji__V1__HoldRequest h = GONGJI__V1__HOLD_REQUEST__INIT;
    h.setl_id = "430300-20261204-999999-0000000050";
    h.sponsor_psn_no = pool_id;
    h.beneficiary_psn_no = "XT-M50";
    h.beneficiary_admdvs = "430300";
    h.amount = 1000;
    h.use = GONGJI__V1__USE_TYPE__OUTPATIENT;
    ProtobufCMessage *m = NULL;
    client_call(as_xt, "gongji.v1.Peer/Hold", NULL, NULL, &h.base, &gongji__v1__hold_reply__descriptor, &m, &st);
    assert_int_equal(st.code, OK);
    assert_int_equal(((Gongji__V1__HoldReply *)m)->held, 1000);
    protobuf_c_message_free_unpacked(m, NULL);
    assert_int_equal(close_pool(cs, pool_id, &st), 14 /* UNAVAILABLE */);
    assert_string_equal(st.reason, "POOL_BUSY");
    Gongji__V1__ResolveRequest v = GONGJI__V1__RESOLVE_REQUEST__INIT;
    v.setl_id = h.setl_id;
    v.action = GONGJI__V1__LEG_ACTION__VOID;
    v.sponsor_psn_no = pool_id;
    v.beneficiary_psn_no = "XT-M50";
    m = NULL;
    client_call(as_xt, "gongji.v1.Peer/Resolve", NULL, NULL, &v.base, &gongji__v1__resolve_reply__descriptor, &m, &st);
    assert_int_equal(st.code, OK);
    if (m != NULL)
        protobuf_c_message_free_unpacked(m, NULL);
    client_close(as_xt);
    pool_settles_at(cs, pool_id, 80000); /* voided: nothing moved */

    assert_int_equal(close_pool(cs, pool_id, &st), OK);
    assert_int_equal(op_balance(cs, "CS-C50"), 330000);
    pool_is(cs, pool_id, false, 0, 1, (int64_t)0);
    /* The refund of the revoke goes through the closed pool to the creator. */
    assert_int_equal(revoke(xt, setl_id, &st), OK);
    assert_int_equal(op_balance(xt, "XT-M50"), 1000);
    assert_int_equal(balance_settles_at(cs, "CS-C50", NULL, 380000), 380000);
    pool_is(cs, pool_id, false, 0, 1, (int64_t)0);
    /* Xiangtan's copy of the binding ended with the pool: nothing is asked of it. */
    assert_int_equal(bill("430300", "XT-M50", 500, pool_id, NULL), 0);
    client_close(xt);
    client_close(cs);
}

/* kill -9 of the pool's node while a close is on its way, five times: after the
 * restart the pool is either open with every fen, or closed with every fen back. */
struct close_job {
    const char *pool_id;
    client_status st;
};

static void *close_in_background(void *arg)
{
    struct close_job *job = arg;
    client_t *c = tn_client_ms(tc_node(&tc, "430100"), "op-1", GONGJI__V1__ROLE__OPERATOR, 2000);
    if (c != NULL) {
        close_pool(c, job->pool_id, &job->st);
        client_close(c);
    }
    return NULL;
}

static void test_kill9_during_a_pool_close_leaves_every_fen_in_one_place(void **state)
{
    (void)state;
    unsigned seed = (unsigned)time(NULL);
    int closed_before_kill = 0;
    for (int round = 0; round < 5; round++) {
        client_status st;
        char creator[32], pool_id[GJ_PSN_NO_MAX + 1];
        snprintf(creator, sizeof creator, "CS-K6%d", round);
        person_at("430100", creator, 60 + round, "310", 300000);
        client_t *cs = op_at("430100");
        assert_int_equal(create(cs, creator, pool_id, &st), OK);
        assert_int_equal(contribute(cs, pool_id, creator, 100000, &st), OK);
        client_close(cs);
        struct close_job job = {.pool_id = pool_id};
        pthread_t t;
        assert_int_equal(pthread_create(&t, NULL, close_in_background, &job), 0);
        sleep_ms((int)(rand_r(&seed) % 25)); /* a connection and a close take about 10-20 ms */
        test_node *n = tc_node(&tc, "430100");
        tn_kill9(n);
        pthread_join(t, NULL);
        assert_int_equal(tn_start(n), 0);
        cs = op_at("430100");
        Gongji__V1__PoolReply *r = get_pool(cs, pool_id);
        bool open = r->pool->open;
        int64_t in_pool = r->pool->balance;
        gongji__v1__pool_reply__free_unpacked(r, NULL);
        int64_t own = op_balance(cs, creator);
        if (open) {
            assert_int_equal(in_pool, 100000);
            assert_int_equal(own, 200000);
            assert_int_equal(close_pool(cs, pool_id, &st), OK); /* and now it closes */
            own = op_balance(cs, creator);
        } else {
            closed_before_kill++;
            assert_int_equal(in_pool, 0);
        }
        assert_int_equal(own, 300000);
        pool_is(cs, pool_id, false, 0, 1, (int64_t)0);
        client_close(cs);
    }
    fprintf(stderr, "  %d of 5 closes were on disk when the node was killed\n", closed_before_kill);
}

static void test_audit_passes_on_every_node_and_across_the_cluster(void **state)
{
    (void)state;
    cluster_audit_agrees(1); /* the member at Xiangtan */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_pool_in_one_region),
        cmocka_unit_test(test_a_member_in_another_region_of_the_province),
        cmocka_unit_test(test_kill9_during_a_pool_close_leaves_every_fen_in_one_place),
        cmocka_unit_test(test_audit_passes_on_every_node_and_across_the_cluster),
    };
    return th_exit_status(cmocka_run_group_tests(tests, cluster_setup, cluster_teardown));
}
