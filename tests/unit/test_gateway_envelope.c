/* The gateway's pure parts: the x-tif signature (vector, skew, nonce memory and its
 * bound), UTF-8, money in yuan, the envelope's common fields, the answer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "envelope.h"
#include "gj_util.h"
#include "signature.h"

static void test_the_signature_is_sha256_of_timestamp_token_nonce_timestamp(void **state)
{
    (void)state;
    char sig[65];
    /* timestamp "1", token "b", nonce "c": sha256("1bc1"), as sha256sum gives it. */
    gw_signature_make("b", "1", "c", sig);
    assert_string_equal(sig, "7daa30e20622478e30856933c863f64ecb6cc10fd624ccfd2e5124db126ec46e");
    gw_signature_make("", "a", "", sig); /* "a" + "" + "" + "a" = "aa" */
    assert_string_equal(sig, "961b6dd3ede3cb8ecbaacbd68de040cd78eb2ed5889130cceb4c49268ea4d506");
}

static void test_a_good_signature_is_taken_once(void **state)
{
    (void)state;
    gw_nonces n;
    assert_int_equal(gw_nonces_init(&n, 1024), 0);
    char sig[65];
    gw_signature_make("tok", "1700000000", "n1", sig);
    assert_int_equal(gw_signature_check(&n, "p", "tok", "1700000000", "n1", sig, 1700000010, 300), GW_SIG_OK);
    assert_int_equal(gw_signature_check(&n, "p", "tok", "1700000000", "n1", sig, 1700000011, 300),
                     GW_SIG_NONCE_REUSED);
    /* The same nonce from another paasid is another nonce. */
    assert_int_equal(gw_signature_check(&n, "q", "tok", "1700000000", "n1", sig, 1700000012, 300), GW_SIG_OK);
    /* Upper-case hex is the same signature. */
    char upper[65];
    gw_signature_make("tok", "1700000000", "n2", sig);
    for (int i = 0; i < 65; i++)
        upper[i] = (char)(sig[i] >= 'a' && sig[i] <= 'f' ? sig[i] - 32 : sig[i]);
    assert_int_equal(gw_signature_check(&n, "p", "tok", "1700000000", "n2", upper, 1700000010, 300), GW_SIG_OK);
    gw_nonces_fini(&n);
}

static void test_refusals_name_what_was_wrong(void **state)
{
    (void)state;
    gw_nonces n;
    assert_int_equal(gw_nonces_init(&n, 1024), 0);
    char sig[65];
    gw_signature_make("tok", "1700000000", "n1", sig);
    assert_int_equal(gw_signature_check(&n, "p", "other", "1700000000", "n1", sig, 1700000000, 300),
                     GW_SIG_MISMATCH);
    assert_int_equal(gw_signature_check(&n, "p", "tok", "1700000000", "n1", sig, 1700000301, 300), GW_SIG_STALE);
    assert_int_equal(gw_signature_check(&n, "p", "tok", "1700000000", "n1", sig, 1699999699, 300), GW_SIG_STALE);
    assert_int_equal(gw_signature_check(&n, "p", "tok", "1700000000", "", sig, 1700000000, 300), GW_SIG_MISSING);
    assert_int_equal(gw_signature_check(&n, NULL, "tok", "1700000000", "n1", sig, 1700000000, 300), GW_SIG_MISSING);
    assert_int_equal(gw_signature_check(&n, "p", "tok", "17e8", "n1", sig, 1700000000, 300), GW_SIG_MALFORMED);
    assert_int_equal(gw_signature_check(&n, "p", "tok", "1700000000", "n1", "abc", 1700000000, 300),
                     GW_SIG_MALFORMED);
    /* A mismatch remembers nothing: the right signature with that nonce still passes. */
    assert_int_equal(gw_signature_check(&n, "p", "tok", "1700000000", "n1", sig, 1700000000, 300), GW_SIG_OK);
    gw_nonces_fini(&n);
}

static void test_nonce_memory_is_bounded_and_forgets_expired_ones(void **state)
{
    (void)state;
    gw_nonces n;
    assert_int_equal(gw_nonces_init(&n, 64), 0);
    char sig[65], nonce[16];
    int taken = 0, full = 0;
    for (int i = 0; i < 200; i++) {
        snprintf(nonce, sizeof nonce, "n%d", i);
        gw_signature_make("tok", "1700000000", nonce, sig);
        gw_sig_result r = gw_signature_check(&n, "p", "tok", "1700000000", nonce, sig, 1700000000, 10);
        taken += r == GW_SIG_OK;
        full += r == GW_SIG_NONCE_FULL;
    }
    assert_int_equal(taken, 64);
    assert_int_equal(full, 136);
    /* Once their timestamps can no longer be accepted, the slots are free again. */
    gw_signature_make("tok", "1700000020", "later", sig);
    assert_int_equal(gw_signature_check(&n, "p", "tok", "1700000020", "later", sig, 1700000020, 10), GW_SIG_OK);
    gw_nonces_fini(&n);
}

static void test_utf8(void **state)
{
    (void)state;
    assert_true(gj_utf8_valid((const unsigned char *)"abc", 3));
    assert_true(gj_utf8_valid((const unsigned char *)"\xe6\x94\xb6\xe8\xb4\xb9", 6)); /* 收费 */
    assert_true(gj_utf8_valid((const unsigned char *)"\xf0\x9f\x98\x80", 4));
    assert_false(gj_utf8_valid((const unsigned char *)"\xca\xd5", 2));             /* GBK 收 */
    assert_false(gj_utf8_valid((const unsigned char *)"\xe6\x94", 2));             /* cut short */
    assert_false(gj_utf8_valid((const unsigned char *)"\xc0\xaf", 2));             /* overlong / */
    assert_false(gj_utf8_valid((const unsigned char *)"\xed\xa0\x80", 3));         /* surrogate */
    assert_false(gj_utf8_valid((const unsigned char *)"\xf4\x90\x80\x80", 4));     /* past U+10FFFF */
}

static int64_t money(const char *json, bool *ok)
{
    cJSON *o = cJSON_Parse(json);
    assert_non_null(o);
    gw_failure why;
    int64_t fen = -1;
    *ok = gw_field_money(o, "a", true, &fen, &why);
    cJSON_Delete(o);
    return fen;
}

static void test_money_is_yuan_with_two_decimals_exactly(void **state)
{
    (void)state;
    bool ok;
    assert_int_equal(money("{\"a\": 80}", &ok), 8000), assert_true(ok);
    assert_int_equal(money("{\"a\": 20.5}", &ok), 2050), assert_true(ok);
    assert_int_equal(money("{\"a\": 0.07}", &ok), 7), assert_true(ok);
    assert_int_equal(money("{\"a\": \"12.34\"}", &ok), 1234), assert_true(ok);
    assert_int_equal(money("{\"a\": 9999999.99}", &ok), 999999999), assert_true(ok);
    money("{\"a\": 12.345}", &ok), assert_false(ok);
    money("{\"a\": \"12.345\"}", &ok), assert_false(ok);
    money("{\"a\": -1}", &ok), assert_false(ok);
    money("{\"a\": 1e400}", &ok), assert_false(ok);
    money("{\"a\": 10000000.01}", &ok), assert_false(ok);
    money("{\"a\": true}", &ok), assert_false(ok);
    money("{\"a\": null}", &ok), assert_false(ok);
    cJSON *m = gw_money(-1205);
    assert_string_equal(m->valuestring, "-12.05");
    cJSON_Delete(m);
    m = gw_money(7);
    assert_string_equal(m->valuestring, "0.07");
    cJSON_Delete(m);
}

static void test_the_envelope_needs_its_common_fields(void **state)
{
    (void)state;
    const char *good = "{\"infno\":\"2207\",\"msgid\":\"H51010000001202612031200000001\",\"mdtrtarea_admvs\":\"510100\","
                       "\"insuplc_admdvs\":\"510100\",\"fixmedins_code\":\"H51010000001\",\"opter\":\"1\","
                       "\"opter_type\":\"1\",\"opter_name\":\"x\",\"input\":{\"data\":{}}}";
    gw_request r;
    gw_failure why;
    assert_int_equal(gw_request_parse(good, strlen(good), &r, &why), 0);
    assert_string_equal(r.infno, "2207");
    assert_non_null(r.input);
    gw_request_free(&r);
    /* Trailing garbage, a missing field, a bad region, a number infno that is fine. */
    char buf[1024];
    snprintf(buf, sizeof buf, "%s x", good);
    assert_int_equal(gw_request_parse(buf, strlen(buf), &r, &why), -1);
    assert_string_equal(why.reason, "MALFORMED_JSON");
    const char *no_msgid = "{\"infno\":\"2207\",\"mdtrtarea_admvs\":\"510100\",\"fixmedins_code\":\"H1\","
                           "\"opter\":\"1\",\"opter_type\":\"1\",\"opter_name\":\"x\",\"input\":{}}";
    assert_int_equal(gw_request_parse(no_msgid, strlen(no_msgid), &r, &why), -1);
    assert_string_equal(why.reason, "FIELD_MISSING");
    assert_non_null(strstr(why.message, "msgid"));
    const char *bad_region = "{\"infno\":2207,\"msgid\":\"m\",\"mdtrtarea_admvs\":\"5101\",\"fixmedins_code\":\"H1\","
                             "\"opter\":\"1\",\"opter_type\":\"1\",\"opter_name\":\"x\",\"input\":{}}";
    assert_int_equal(gw_request_parse(bad_region, strlen(bad_region), &r, &why), -1);
    assert_string_equal(why.reason, "FIELD_INVALID");
    /* An answer carries infcode, the national fields and the stable machine fields. */
    gw_fail(&why, "FAILED_PRECONDITION", "ALREADY_REVOKED", "already revoked");
    char *text = gw_answer_text(NULL, NULL, &why, 1700000000000, "510100");
    assert_non_null(text);
    assert_non_null(strstr(text, "\"infcode\":-1"));
    assert_non_null(strstr(text, "\"gongji_reason\":\"ALREADY_REVOKED\""));
    assert_non_null(strstr(text, "该结算已撤销"));
    assert_non_null(strstr(text, "\"refmsg_time\":\"20231115061320000\""));
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_the_signature_is_sha256_of_timestamp_token_nonce_timestamp),
        cmocka_unit_test(test_a_good_signature_is_taken_once),
        cmocka_unit_test(test_refusals_name_what_was_wrong),
        cmocka_unit_test(test_nonce_memory_is_bounded_and_forgets_expired_ones),
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_money_is_yuan_with_two_decimals_exactly),
        cmocka_unit_test(test_the_envelope_needs_its_common_fields),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
