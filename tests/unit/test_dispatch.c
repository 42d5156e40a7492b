/* Dispatch without sockets: the method table against the wire contract, and bad bytes
 * straight into dispatch_bytes(). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <pthread.h>

#include "authz.h"
#include "gj_util.h"
#include "node.h"
#include "xr/xr_internal.h"

typedef struct answer {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
    Gongji__V1__Reply *reply;
} answer;

static void on_finish(void *arg, const uint8_t *bytes, size_t len)
{
    answer *a = arg;
    pthread_mutex_lock(&a->mu);
    a->reply = gongji__v1__reply__unpack(NULL, len, bytes);
    a->done = true;
    pthread_cond_signal(&a->cv);
    pthread_mutex_unlock(&a->mu);
}

static node test_node;
static char dir[] = "/tmp/gongji-dispatch-XXXXXX";

static int setup(void **state)
{
    (void)state;
    if (mkdtemp(dir) == NULL)
        return -1;
    node_config_defaults(&test_node.cfg);
    methods_install(&test_node);
    memcpy(test_node.cfg.region, "510100", 7);
    rules_policy_default(&test_node.cfg.policy, "510100");
    if (xr_init(&test_node) != 0)
        return -1;
    store_options opts = {.map_size = 64 << 20};
    return store_open(&test_node.store, dir, &opts) == GJ_OK ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    store_close(test_node.store);
    xr_fini(&test_node);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* Dispatch bytes and wait for the answer (writes finish on the writer thread). */
static Gongji__V1__Reply *dispatch(const void *bytes, size_t len)
{
    answer a = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
    dispatch_bytes(&test_node, bytes, len, on_finish, &a);
    pthread_mutex_lock(&a.mu);
    while (!a.done)
        pthread_cond_wait(&a.cv, &a.mu);
    pthread_mutex_unlock(&a.mu);
    assert_non_null(a.reply);
    return a.reply;
}

/* A call as role/caller_id. This node has no credential: it takes callers at their word,
 * as insecure_plaintext does, so what is tested here is the authorization table. */
static Gongji__V1__Reply *dispatch_as(int role, const char *caller_id, const char *method, const char *call_id,
                                      const ProtobufCMessage *req)
{
    uint8_t payload[1024], buf[2048];
    Gongji__V1__Envelope env = GONGJI__V1__ENVELOPE__INIT;
    env.method = (char *)method;
    env.call_id = (char *)call_id;
    env.caller_id = (char *)caller_id;
    env.caller_role = (Gongji__V1__Role)role;
    env.payload.data = payload;
    env.payload.len = protobuf_c_message_pack(req, payload);
    return dispatch(buf, gongji__v1__envelope__pack(&env, buf));
}

static Gongji__V1__Reply *dispatch_call(const char *method, const char *call_id,
                                        const ProtobufCMessage *req)
{
    uint8_t payload[1024], buf[2048];
    Gongji__V1__Envelope env = GONGJI__V1__ENVELOPE__INIT;
    env.method = (char *)method;
    env.call_id = (char *)call_id;
    env.caller_id = "510100:op";
    env.caller_role = GONGJI__V1__ROLE__OPERATOR;
    env.payload.data = payload;
    env.payload.len = protobuf_c_message_pack(req, payload);
    return dispatch(buf, gongji__v1__envelope__pack(&env, buf));
}

static void test_every_rpc_in_the_contract_has_a_handler(void **state)
{
    (void)state;
    const ProtobufCServiceDescriptor *services[] = {
        &gongji__v1__registry__descriptor, &gongji__v1__mutual_aid__descriptor,
        &gongji__v1__settlement__descriptor, &gongji__v1__operator__descriptor,
        &gongji__v1__peer__descriptor, &gongji__v1__clearing__descriptor, &gongji__v1__auth__descriptor,
        &gongji__v1__family_pool__descriptor, &gongji__v1__wallet__descriptor};
    size_t rpcs = 0;
    for (size_t s = 0; s < sizeof services / sizeof services[0]; s++) {
        for (unsigned m = 0; m < services[s]->n_methods; m++) {
            char name[128];
            snprintf(name, sizeof name, "%s/%s", services[s]->name, services[s]->methods[m].name);
            const method_entry *found = NULL;
            for (size_t i = 0; i < node_method_count; i++)
                if (strcmp(node_methods[i].name, name) == 0)
                    found = &node_methods[i];
            if (found == NULL)
                fail_msg("no handler for %s", name);
            assert_ptr_equal(found->input, services[s]->methods[m].input);
            rpcs++;
        }
    }
    assert_int_equal(rpcs, node_method_count);
}

static void test_garbage_is_malformed(void **state)
{
    (void)state;
    const uint8_t garbage[] = {0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f};
    Gongji__V1__Reply *r = dispatch(garbage, sizeof garbage);
    assert_int_equal(r->code, GONGJI__V1__CODE__INVALID_ARGUMENT);
    assert_string_equal(r->reason, "MALFORMED_MESSAGE");
    assert_string_equal(r->served_by, "510100");
    gongji__v1__reply__free_unpacked(r, NULL);
}

static void test_oversize_is_refused_before_decoding(void **state)
{
    (void)state;
    size_t len = GJ_MSG_MAX + 1;
    uint8_t *big = calloc(1, len);
    Gongji__V1__Reply *r = dispatch(big, len);
    assert_int_equal(r->code, GONGJI__V1__CODE__RESOURCE_EXHAUSTED);
    assert_string_equal(r->reason, "MESSAGE_TOO_LARGE");
    gongji__v1__reply__free_unpacked(r, NULL);
    free(big);
}

static void test_write_and_its_repeat_answer_the_same(void **state)
{
    (void)state;
    char certno[19] = "43010219800101001";
    certno[17] = gj_certno_check_char(certno);
    certno[18] = '\0';
    Gongji__V1__Person p = GONGJI__V1__PERSON__INIT;
    p.psn_no = "P1";
    p.certno = certno;
    p.insutype = "310";
    p.insuplc_admdvs = "510100";
    p.status = GONGJI__V1__PERSON_STATUS__ACTIVE;
    Gongji__V1__EnrollRequest enroll = GONGJI__V1__ENROLL_REQUEST__INIT;
    enroll.person = &p;
    Gongji__V1__Reply *r = dispatch_call("gongji.v1.Registry/Enroll", "e1", &enroll.base);
    assert_int_equal(r->code, GONGJI__V1__CODE__OK);
    gongji__v1__reply__free_unpacked(r, NULL);

    Gongji__V1__CreditRequest credit = GONGJI__V1__CREDIT_REQUEST__INIT;
    credit.psn_no = "P1";
    credit.amount = 500;
    Gongji__V1__Reply *first = dispatch_call("gongji.v1.Registry/Credit", "c1", &credit.base);
    Gongji__V1__Reply *again = dispatch_call("gongji.v1.Registry/Credit", "c1", &credit.base);
    assert_int_equal(first->code, GONGJI__V1__CODE__OK);
    assert_int_equal(first->payload.len, again->payload.len);
    assert_memory_equal(first->payload.data, again->payload.data, first->payload.len);
    Gongji__V1__CreditReply *cr =
        gongji__v1__credit_reply__unpack(NULL, again->payload.len, again->payload.data);
    assert_int_equal(cr->balance->balance, 500); /* credited once */
    gongji__v1__credit_reply__free_unpacked(cr, NULL);
    gongji__v1__reply__free_unpacked(first, NULL);
    gongji__v1__reply__free_unpacked(again, NULL);
}

/* A settlement retried with the patient's region spelled out, where the first try left
 * it to the node, is the same request: the first answer again, paid once. The same
 * call id with another amount is another request, refused. */
static void test_retry_spelling_out_the_region_is_the_same_request(void **state)
{
    (void)state;
    Gongji__V1__SettleRequest settle = GONGJI__V1__SETTLE_REQUEST__INIT;
    settle.psn_no = "P1";
    settle.amount = 120;
    settle.use = GONGJI__V1__USE_TYPE__OUTPATIENT;
    Gongji__V1__Reply *first = dispatch_call("gongji.v1.Settlement/Settle", "s1", &settle.base);
    assert_int_equal(first->code, GONGJI__V1__CODE__OK);
    settle.insuplc_admdvs = "510100";
    Gongji__V1__Reply *again = dispatch_call("gongji.v1.Settlement/Settle", "s1", &settle.base);
    assert_int_equal(again->code, GONGJI__V1__CODE__OK);
    assert_int_equal(first->payload.len, again->payload.len);
    assert_memory_equal(first->payload.data, again->payload.data, first->payload.len);
    settle.amount = 121;
    Gongji__V1__Reply *other = dispatch_call("gongji.v1.Settlement/Settle", "s1", &settle.base);
    assert_int_equal(other->code, GONGJI__V1__CODE__ALREADY_EXISTS);
    assert_string_equal(other->reason, "CALL_ID_REUSED");
    Gongji__V1__BalanceRequest balance = GONGJI__V1__BALANCE_REQUEST__INIT;
    balance.psn_no = "P1";
    Gongji__V1__Reply *b = dispatch_call("gongji.v1.Settlement/Balance", NULL, &balance.base);
    Gongji__V1__BalanceReply *br = gongji__v1__balance_reply__unpack(NULL, b->payload.len, b->payload.data);
    assert_int_equal(br->balance->balance, 500 - 120); /* paid once */
    gongji__v1__balance_reply__free_unpacked(br, NULL);
    gongji__v1__reply__free_unpacked(b, NULL);
    gongji__v1__reply__free_unpacked(first, NULL);
    gongji__v1__reply__free_unpacked(again, NULL);
    gongji__v1__reply__free_unpacked(other, NULL);
}

/* The authorization table, cell by cell where it decides alone. */
static void expect_refused(int role, const char *caller_id, const char *method, const ProtobufCMessage *req,
                           const char *reason)
{
    Gongji__V1__Reply *r = dispatch_as(role, caller_id, method, "authz-1", req);
    if (r->code != GONGJI__V1__CODE__PERMISSION_DENIED || strcmp(r->reason, reason) != 0)
        fail_msg("%s as %d %s: got %d %s, want PERMISSION_DENIED %s", method, role, caller_id, (int)r->code,
                 r->reason, reason);
    gongji__v1__reply__free_unpacked(r, NULL);
}

static void expect_allowed(int role, const char *caller_id, const char *method, const ProtobufCMessage *req)
{
    Gongji__V1__Reply *r = dispatch_as(role, caller_id, method, NULL, req);
    if (r->code == GONGJI__V1__CODE__PERMISSION_DENIED)
        fail_msg("%s as %d %s: refused %s", method, role, caller_id, r->reason);
    gongji__v1__reply__free_unpacked(r, NULL);
}

static void test_authorization_table_cell_by_cell(void **state)
{
    (void)state;
    enum { OP = 1, INST = 2, PERSON = 3, PEER = 4, PLATFORM = 5 };
    for (size_t i = 0; i < node_method_count; i++)
        if (!authz_has_rule(node_methods[i].name))
            fail_msg("%s has no row in the authorization table", node_methods[i].name);
    Gongji__V1__CreditRequest credit = GONGJI__V1__CREDIT_REQUEST__INIT;
    credit.psn_no = "P1";
    credit.amount = 1;
    Gongji__V1__BalanceRequest balance = GONGJI__V1__BALANCE_REQUEST__INIT;
    balance.psn_no = "P1";
    Gongji__V1__AuditRequest audit = GONGJI__V1__AUDIT_REQUEST__INIT;
    Gongji__V1__HealthRequest health = GONGJI__V1__HEALTH_REQUEST__INIT;
    Gongji__V1__HoldRequest hold = GONGJI__V1__HOLD_REQUEST__INIT;
    const char *credit_m = "gongji.v1.Registry/Credit", *balance_m = "gongji.v1.Settlement/Balance";
    /* Writes: the region's own operator only. */
    expect_refused(OP, "430100:op", credit_m, &credit.base, "OPERATOR_SCOPE");
    expect_refused(OP, "510000:prov", credit_m, &credit.base, "OPERATOR_SCOPE");
    expect_refused(OP, "000000:nation", credit_m, &credit.base, "OPERATOR_SCOPE");
    expect_refused(OP, "op-without-region", credit_m, &credit.base, "OPERATOR_SCOPE");
    expect_refused(INST, "H51010000001", credit_m, &credit.base, "CALLER_NOT_ALLOWED");
    expect_refused(PERSON, "P1", credit_m, &credit.base, "CALLER_NOT_ALLOWED");
    expect_refused(PEER, "430100", credit_m, &credit.base, "CALLER_NOT_ALLOWED");
    expect_refused(PLATFORM, "app", credit_m, &credit.base, "CALLER_NOT_ALLOWED");
    /* Reads: the region's, its province's and the nation's operators. */
    expect_allowed(OP, "510100:op", balance_m, &balance.base);
    expect_allowed(OP, "510000:prov", balance_m, &balance.base);
    expect_allowed(OP, "000000:nation", balance_m, &balance.base);
    expect_refused(OP, "520000:prov", balance_m, &balance.base, "OPERATOR_SCOPE");
    expect_refused(OP, "430100:op", balance_m, &balance.base, "OPERATOR_SCOPE");
    expect_allowed(INST, "H51010000001", balance_m, &balance.base);
    expect_refused(PLATFORM, "app", balance_m, &balance.base, "CALLER_NOT_ALLOWED");
    expect_refused(INST, "H51010000001", "gongji.v1.Operator/Audit", &audit.base, "CALLER_NOT_ALLOWED");
    expect_allowed(OP, "510000:prov", "gongji.v1.Operator/Audit", &audit.base);
    expect_allowed(PEER, "430100", "gongji.v1.Operator/Health", &health.base);
    expect_refused(PERSON, "P1", "gongji.v1.Operator/Health", &health.base, "CALLER_NOT_ALLOWED");
    /* Node to node: peers only. */
    expect_refused(OP, "510100:op", "gongji.v1.Peer/Hold", &hold.base, "CALLER_NOT_ALLOWED");
    expect_refused(INST, "H51010000001", "gongji.v1.Peer/Hold", &hold.base, "CALLER_NOT_ALLOWED");
    /* Nothing above moved money. */
    Gongji__V1__Reply *b = dispatch_call(balance_m, NULL, &balance.base);
    Gongji__V1__BalanceReply *br = gongji__v1__balance_reply__unpack(NULL, b->payload.len, b->payload.data);
    assert_int_equal(br->balance->balance, 500 - 120);
    gongji__v1__balance_reply__free_unpacked(br, NULL);
    gongji__v1__reply__free_unpacked(b, NULL);

    assert_true(authz_operator_may_write("510100:a", "510100"));
    assert_false(authz_operator_may_write("510100", "510100"));
    assert_false(authz_operator_may_write("5101001:a", "510100"));
    assert_true(authz_operator_may_read("510000:a", "510400"));
    assert_false(authz_operator_may_read("510000:a", "520100"));
    assert_false(authz_operator_may_read("510100:a", "510400"));
}

/* The set of settlements being decided: found by setl_id and by call, marked unknown,
 * removed, full at GJ_DECIDING_MAX, and a freed slot used again. */
static void test_deciding_set_finds_what_it_holds(void **state)
{
    (void)state;
    node *n = &test_node;
    assert_true(deciding_add(n, "510100-A", "c1", "k1"));
    assert_true(deciding_add(n, "510100-B", "c1", "k2"));
    assert_true(deciding_has(n, "510100-A"));
    assert_true(deciding_has(n, "510100-B"));
    assert_false(deciding_has(n, "510100-C"));
    assert_false(deciding_has(n, "510100-"));
    assert_true(deciding_has_call(n, "c1", "k1"));
    assert_false(deciding_has_call(n, "c1", "k3"));
    /* The fingerprint keeps caller and call apart: ("c", "1k1") is another call. */
    assert_false(deciding_has_call(n, "c", "1k1"));
    /* Only A carries (c1, k1): nothing else is deciding that call. */
    assert_false(deciding_has_other_call(n, "c1", "k1", "510100-A"));
    assert_true(deciding_add(n, "510100-A2", "c1", "k1"));
    assert_true(deciding_has_other_call(n, "c1", "k1", "510100-A"));

    assert_int_equal(deciding_unknown_count(n), 0);
    assert_true(deciding_mark_unknown(n, "510100-B", "c1", "k2"));
    assert_true(deciding_is_unknown(n, "510100-B"));
    assert_false(deciding_is_unknown(n, "510100-A"));
    /* Not in the set yet: marking adds it (found at start, say). */
    assert_true(deciding_mark_unknown(n, "510100-D", "c2", "k9"));
    assert_true(deciding_has(n, "510100-D"));
    assert_int_equal(deciding_unknown_count(n), 2);

    deciding_remove(n, "510100-A");
    assert_false(deciding_has(n, "510100-A"));
    assert_true(deciding_has(n, "510100-A2"));
    assert_false(deciding_has_other_call(n, "c1", "k1", "510100-A2"));
    deciding_remove(n, "510100-B");
    assert_false(deciding_is_unknown(n, "510100-B"));
    assert_int_equal(deciding_unknown_count(n), 1);
    deciding_remove(n, "510100-A2");
    deciding_remove(n, "510100-D");
    assert_int_equal(n->xr->deciding.top, 0);

    char id[32];
    for (int i = 0; i < GJ_DECIDING_MAX; i++) {
        snprintf(id, sizeof id, "510100-F%d", i);
        assert_true(deciding_add(n, id, "c3", id));
    }
    assert_false(deciding_add(n, "510100-over", "c3", "over"));
    assert_false(deciding_has(n, "510100-over"));
    deciding_remove(n, "510100-F7");
    assert_true(deciding_add(n, "510100-over", "c3", "over"));
    assert_true(deciding_has(n, "510100-over"));
    assert_true(deciding_has(n, "510100-F8"));
    assert_false(deciding_has(n, "510100-F7"));
    deciding_remove(n, "510100-over");
    for (int i = 0; i < GJ_DECIDING_MAX; i++) {
        snprintf(id, sizeof id, "510100-F%d", i);
        deciding_remove(n, id);
    }
    assert_int_equal(n->xr->deciding.top, 0);
    assert_false(deciding_has(n, "510100-F0"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_rpc_in_the_contract_has_a_handler),
        cmocka_unit_test(test_garbage_is_malformed),
        cmocka_unit_test(test_oversize_is_refused_before_decoding),
        cmocka_unit_test(test_write_and_its_repeat_answer_the_same),
        cmocka_unit_test(test_retry_spelling_out_the_region_is_the_same_request),
        cmocka_unit_test(test_authorization_table_cell_by_cell),
        cmocka_unit_test(test_deciding_set_finds_what_it_holds),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
