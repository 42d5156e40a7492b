/* Bad input against a real node: each gets its error, nothing changes, the node keeps
 * serving. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"

static test_node node;
static client_t *op;

static int setup(void **state)
{
    (void)state;
    client_status st;
    tn_init(&node, "510100", "cascade = yes\n");
    if (tn_start(&node) != 0)
        return -1;
    op = tn_client(&node, "op-1", GONGJI__V1__ROLE__OPERATOR);
    if (op_enroll(op, "P", 1, "310", "510100", &st) != 0 || op_credit(op, "P", 10000, &st) != 0)
        return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    client_close(op);
    int rc = tn_stop(&node);
    tn_destroy(&node);
    if (rc != 0 || th_log_leaks_total() != 0) {
        th_note_failure();
        return -1;
    }
    return 0;
}

/* After every bad input: the node answers, the money is where it was. */
static void assert_still_serving_and_unchanged(void)
{
    assert_true(tn_alive(&node));
    assert_int_equal(op_balance(op, "P"), 10000);
}

static Gongji__V1__Reply *send_raw(const void *bytes, size_t len)
{
    Gongji__V1__Reply *reply = NULL;
    assert_int_equal(client_call_raw(op, bytes, len, &reply), GJ_OK);
    assert_non_null(reply);
    return reply;
}

static void test_garbage_bytes_get_malformed_message(void **state)
{
    (void)state;
    const uint8_t garbage[] = {0xff, 0xff, 0xff, 0xff, 0x0f, 0x12, 0x99, 0x00, 0x42};
    Gongji__V1__Reply *r = send_raw(garbage, sizeof garbage);
    assert_int_equal(r->code, GONGJI__V1__CODE__INVALID_ARGUMENT);
    assert_string_equal(r->reason, "MALFORMED_MESSAGE");
    gongji__v1__reply__free_unpacked(r, NULL);
    assert_still_serving_and_unchanged();
    /* Its log line names no caller: nothing in it says who (no stray memory either). */
    char cmd[400];
    snprintf(cmd, sizeof cmd, "grep 'reason=MALFORMED_MESSAGE' '%s/node.log' | grep -vq 'method=- caller=- call_id=-'",
             node.dir);
    assert_int_not_equal(system(cmd), 0);
    snprintf(cmd, sizeof cmd, "grep -q 'method=- caller=- call_id=- code=INVALID_ARGUMENT reason=MALFORMED_MESSAGE' '%s/node.log'",
             node.dir);
    assert_int_equal(system(cmd), 0);
}

static void test_empty_message_gets_unknown_method(void **state)
{
    (void)state;
    Gongji__V1__Reply *r = send_raw("", 0);
    assert_int_equal(r->code, GONGJI__V1__CODE__UNIMPLEMENTED);
    assert_string_equal(r->reason, "UNKNOWN_METHOD");
    gongji__v1__reply__free_unpacked(r, NULL);
    assert_still_serving_and_unchanged();
}

static void test_unknown_method_gets_unimplemented(void **state)
{
    (void)state;
    Gongji__V1__BalanceRequest req = GONGJI__V1__BALANCE_REQUEST__INIT;
    req.psn_no = "P";
    client_status st;
    client_call(op, "gongji.v1.Settlement/Steal", NULL, NULL, &req.base,
                &gongji__v1__balance_reply__descriptor, NULL, &st);
    assert_int_equal(st.code, GONGJI__V1__CODE__UNIMPLEMENTED);
    assert_string_equal(st.reason, "UNKNOWN_METHOD");
    assert_still_serving_and_unchanged();
}

static void test_payload_of_wrong_type_gets_malformed_message(void **state)
{
    (void)state;
    /* A settle whose payload is not a SettleRequest: field 2 (amount) as a string. */
    const uint8_t payload[] = {0x12, 0x03, 'a', 'b', 'c'};
    Gongji__V1__Envelope env = GONGJI__V1__ENVELOPE__INIT;
    env.method = "gongji.v1.Settlement/Settle";
    env.call_id = "wrong-type";
    env.caller_id = "510100:op-1";
    env.caller_role = GONGJI__V1__ROLE__OPERATOR;
    env.payload.data = (uint8_t *)payload;
    env.payload.len = sizeof payload;
    /* Sealed by a proven caller: the payload itself is what is wrong. */
    Gongji__V1__Reply *r = NULL;
    assert_int_equal(client_call_envelope(op, &env, &r), GJ_OK);
    assert_int_equal(r->code, GONGJI__V1__CODE__INVALID_ARGUMENT);
    assert_string_equal(r->reason, "MALFORMED_MESSAGE");
    gongji__v1__reply__free_unpacked(r, NULL);
    assert_still_serving_and_unchanged();
}

static void test_negative_and_overflowing_amounts_refused(void **state)
{
    (void)state;
    client_status st;
    const int64_t bad[] = {-1, 0, INT64_MAX, INT64_MIN, 1000000001LL};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(op_settle(op, "P", bad[i], NULL, NULL, &st), GONGJI__V1__CODE__INVALID_ARGUMENT);
        assert_string_equal(st.reason, "AMOUNT_INVALID");
        assert_int_equal(op_credit(op, "P", bad[i], &st), GONGJI__V1__CODE__INVALID_ARGUMENT);
        assert_string_equal(st.reason, "AMOUNT_INVALID");
    }
    assert_still_serving_and_unchanged();
}

static void test_balance_limit_refused(void **state)
{
    (void)state;
    client_status st;
    /* Credits of the largest amount until the balance limit would be passed. */
    assert_int_equal(op_enroll(op, "RICH", 7, "310", "510100", &st), 0);
    int code = 0;
    for (int i = 0; i < 200 && code == 0; i++)
        code = op_credit(op, "RICH", 1000000000LL, &st);
    assert_int_equal(code, GONGJI__V1__CODE__OUT_OF_RANGE);
    assert_string_equal(st.reason, "BALANCE_LIMIT");
    assert_int_equal(op_balance(op, "RICH"), 100000000000LL);
    assert_still_serving_and_unchanged();
}

static void test_invalid_id_check_digit_refused(void **state)
{
    (void)state;
    char certno[19];
    tn_certno(5, certno);
    certno[17] = certno[17] == '0' ? '1' : '0'; /* wrong check character */
    Gongji__V1__Person p = GONGJI__V1__PERSON__INIT;
    p.psn_no = "BADID";
    p.certno = certno;
    p.insutype = "310";
    p.insuplc_admdvs = "510100";
    p.status = GONGJI__V1__PERSON_STATUS__ACTIVE;
    Gongji__V1__EnrollRequest req = GONGJI__V1__ENROLL_REQUEST__INIT;
    req.person = &p;
    client_status st;
    client_call(op, "gongji.v1.Registry/Enroll", NULL, NULL, &req.base,
                &gongji__v1__enroll_reply__descriptor, NULL, &st);
    assert_int_equal(st.code, GONGJI__V1__CODE__INVALID_ARGUMENT);
    assert_string_equal(st.reason, "CERTNO_INVALID");
    assert_int_equal(op_balance(op, "BADID"), -1); /* not enrolled */
    assert_still_serving_and_unchanged();
}

static void test_message_over_size_limit_refused(void **state)
{
    (void)state;
    /* 100 KiB: above the 64 KiB request limit, below the transport's hard cap. */
    size_t len = 100 * 1024;
    uint8_t *big = malloc(len);
    assert_non_null(big);
    memset(big, 0x41, len);
    Gongji__V1__Reply *r = send_raw(big, len);
    assert_int_equal(r->code, GONGJI__V1__CODE__RESOURCE_EXHAUSTED);
    assert_string_equal(r->reason, "MESSAGE_TOO_LARGE");
    gongji__v1__reply__free_unpacked(r, NULL);
    free(big);
    assert_still_serving_and_unchanged();
}

static void test_unknown_person_and_region_refused(void **state)
{
    (void)state;
    client_status st;
    assert_int_equal(op_settle(op, "NOBODY", 100, NULL, NULL, &st), GONGJI__V1__CODE__NOT_FOUND);
    assert_string_equal(st.reason, "PERSON_NOT_FOUND");
    Gongji__V1__BalanceRequest req = GONGJI__V1__BALANCE_REQUEST__INIT;
    req.psn_no = "P";
    client_call(op, "gongji.v1.Settlement/Balance", NULL, "999999", &req.base,
                &gongji__v1__balance_reply__descriptor, NULL, &st);
    assert_int_equal(st.code, GONGJI__V1__CODE__NOT_FOUND);
    assert_string_equal(st.reason, "REGION_UNKNOWN");
    assert_non_null(strstr(st.message, "999999"));
    assert_still_serving_and_unchanged();
}

static void test_write_without_call_id_or_with_wrong_role_refused(void **state)
{
    (void)state;
    client_status st;
    Gongji__V1__CreditRequest req = GONGJI__V1__CREDIT_REQUEST__INIT;
    req.psn_no = "P";
    req.amount = 100;
    client_call(op, "gongji.v1.Registry/Credit", "", NULL, &req.base,
                &gongji__v1__credit_reply__descriptor, NULL, &st);
    assert_int_equal(st.code, GONGJI__V1__CODE__INVALID_ARGUMENT);
    assert_string_equal(st.reason, "CALL_ID_MISSING");
    /* Found by the fuzzer: an empty caller id cannot key idempotency either; with
     * credentials it is not even the caller the session proves. */
    client_t *nameless = tn_client(&node, "op-1", GONGJI__V1__ROLE__OPERATOR);
    client_set_identity(nameless, "", GONGJI__V1__ROLE__OPERATOR);
    client_call(nameless, "gongji.v1.Registry/Credit", "has-an-id", NULL, &req.base,
                &gongji__v1__credit_reply__descriptor, NULL, &st);
    assert_int_equal(st.code, GONGJI__V1__CODE__PERMISSION_DENIED);
    assert_string_equal(st.reason, "IDENTITY_MISMATCH");
    client_close(nameless);
    client_t *person = tn_client(&node, "P", GONGJI__V1__ROLE__PERSON);
    client_call(person, "gongji.v1.Registry/Credit", NULL, NULL, &req.base,
                &gongji__v1__credit_reply__descriptor, NULL, &st);
    assert_int_equal(st.code, GONGJI__V1__CODE__PERMISSION_DENIED);
    client_close(person);
    assert_still_serving_and_unchanged();
}

static void test_overlong_fields_refused(void **state)
{
    (void)state;
    char longid[200];
    memset(longid, 'x', sizeof longid - 1);
    longid[sizeof longid - 1] = '\0';
    client_status st;
    assert_int_equal(op_settle(op, longid, 100, NULL, NULL, &st), GONGJI__V1__CODE__INVALID_ARGUMENT);
    assert_string_equal(st.reason, "FIELD_INVALID");
    /* An over-long call id is refused before anything else. */
    assert_int_equal(op_settle(op, "P", 100, longid, NULL, &st), GONGJI__V1__CODE__INVALID_ARGUMENT);
    assert_still_serving_and_unchanged();
}

static void test_deadline_already_passed_refused(void **state)
{
    (void)state;
    Gongji__V1__BalanceRequest req = GONGJI__V1__BALANCE_REQUEST__INIT;
    req.psn_no = "P";
    uint8_t payload[64];
    size_t plen = gongji__v1__balance_request__pack(&req, payload);
    Gongji__V1__Envelope env = GONGJI__V1__ENVELOPE__INIT;
    env.method = "gongji.v1.Settlement/Balance";
    env.caller_role = GONGJI__V1__ROLE__OPERATOR;
    env.deadline_unix_ms = 1000; /* 1970 */
    env.payload.data = payload;
    env.payload.len = plen;
    uint8_t buf[256];
    size_t len = gongji__v1__envelope__pack(&env, buf);
    Gongji__V1__Reply *r = send_raw(buf, len);
    assert_int_equal(r->code, GONGJI__V1__CODE__DEADLINE_EXCEEDED);
    gongji__v1__reply__free_unpacked(r, NULL);
    assert_still_serving_and_unchanged();
}

static void test_random_bytes_never_crash_the_node(void **state)
{
    (void)state;
    srand(12345);
    uint8_t buf[512];
    for (int i = 0; i < 300; i++) {
        size_t len = (size_t)(rand() % (int)sizeof buf);
        for (size_t j = 0; j < len; j++)
            buf[j] = (uint8_t)rand();
        Gongji__V1__Reply *r = send_raw(buf, len);
        assert_int_not_equal(r->code, GONGJI__V1__CODE__OK);
        gongji__v1__reply__free_unpacked(r, NULL);
    }
    assert_still_serving_and_unchanged();
}

/* Connect over TCP to the node's port and hang up: at once, or after a few bytes of
 * a TLS hello. */
static void hang_up_mid_handshake(int port, bool say_something)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    if (say_something) {
        static const uint8_t hello_start[] = {0x16, 0x03, 0x01, 0x00, 0xc8, 0x01, 0x00};
        assert_int_equal(write(fd, hello_start, sizeof hello_start), (ssize_t)sizeof hello_start);
    }
    close(fd);
}

/* Callers that hang up before their connection is set up (a crashed HIS, a port scan)
 * leave the node accepting everyone else: new callers are answered within seconds. */
static void test_callers_hanging_up_mid_handshake_do_not_stop_the_node_accepting(void **state)
{
    (void)state;
    const char *colon = strrchr(node.url, ':');
    assert_non_null(colon);
    int port = atoi(colon + 1);
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 40; i++) {
            hang_up_mid_handshake(port, i % 2 == 1);
            /* A client that closes while its TLS handshake is under way. */
            client_t *gone = tn_client_ms(&node, "op-3", GONGJI__V1__ROLE__OPERATOR, 1000);
            assert_non_null(gone);
            if (i % 4 == 3)
                usleep(1000);
            client_close(gone);
        }
        bool answered = false;
        for (int tries = 0; tries < 20 && !answered; tries++) {
            client_t *fresh = tn_client_ms(&node, "op-2", GONGJI__V1__ROLE__OPERATOR, 1000);
            assert_non_null(fresh);
            answered = op_balance(fresh, "P") == 10000;
            client_close(fresh);
        }
        assert_true(answered);
    }
    assert_still_serving_and_unchanged();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_garbage_bytes_get_malformed_message),
        cmocka_unit_test(test_empty_message_gets_unknown_method),
        cmocka_unit_test(test_unknown_method_gets_unimplemented),
        cmocka_unit_test(test_payload_of_wrong_type_gets_malformed_message),
        cmocka_unit_test(test_negative_and_overflowing_amounts_refused),
        cmocka_unit_test(test_balance_limit_refused),
        cmocka_unit_test(test_invalid_id_check_digit_refused),
        cmocka_unit_test(test_message_over_size_limit_refused),
        cmocka_unit_test(test_unknown_person_and_region_refused),
        cmocka_unit_test(test_write_without_call_id_or_with_wrong_role_refused),
        cmocka_unit_test(test_overlong_fields_refused),
        cmocka_unit_test(test_deadline_already_passed_refused),
        cmocka_unit_test(test_random_bytes_never_crash_the_node),
        cmocka_unit_test(test_callers_hanging_up_mid_handshake_do_not_stop_the_node_accepting),
    };
    return th_exit_status(cmocka_run_group_tests(tests, setup, teardown));
}
