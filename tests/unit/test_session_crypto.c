/* Sessions and seals without sockets (trust/session.c): the handshake agrees one key on
 * both sides and refuses every tampering, the seal covers exactly what a request means,
 * and the HMAC is the standard one. Credentials come from deploy/pki.sh in a temporary
 * directory. */
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
#include "session.h"

static char dir[] = "/tmp/gongji-session-XXXXXX";
static gj_cred *node_cred, *institution_cred, *operator_cred;

static gj_cred *load(const char *pem)
{
    char ca[128], path[160], crl[128], err[512];
    snprintf(ca, sizeof ca, "%s/ca/ca.crt", dir);
    snprintf(crl, sizeof crl, "%s/ca/crl.pem", dir);
    snprintf(path, sizeof path, "%s/ca/%s", dir, pem);
    gj_cred_files f = {ca, path, NULL, crl};
    gj_cred *c = NULL;
    if (gj_cred_open(&c, &f, err, sizeof err) != GJ_OK)
        fprintf(stderr, "%s: %s\n", pem, err);
    return c;
}

static int setup(void **state)
{
    (void)state;
    const char *pki = getenv("GONGJI_PKI");
    char cmd[600];
    if (mkdtemp(dir) == NULL || pki == NULL)
        return -1;
    snprintf(cmd, sizeof cmd,
             "bash '%s' init '%s/ca' >/dev/null && bash '%s' issue '%s/ca' node 510100 >/dev/null && "
             "bash '%s' issue '%s/ca' institution H51010000001 >/dev/null && "
             "bash '%s' issue '%s/ca' operator 510100:ops1 >/dev/null",
             pki, dir, pki, dir, pki, dir, pki, dir);
    if (system(cmd) != 0)
        return -1;
    node_cred = load("node-510100.pem");
    institution_cred = load("institution-H51010000001.pem");
    operator_cred = load("operator-510100-ops1.pem");
    return node_cred && institution_cred && operator_cred ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    gj_cred_free(node_cred);
    gj_cred_free(institution_cred);
    gj_cred_free(operator_cred);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void hex(const uint8_t *b, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", b[i]);
}

static void test_hmac_is_rfc_4231s(void **state)
{
    (void)state;
    uint8_t mac[32], key[20];
    char text[65];
    gj_hmac_sha256((const uint8_t *)"Jefe", 4, "what do ya want for nothing?", 28, mac);
    hex(mac, 32, text);
    assert_string_equal(text, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    memset(key, 0x0b, sizeof key);
    gj_hmac_sha256(key, sizeof key, "Hi There", 8, mac);
    hex(mac, 32, text);
    assert_string_equal(text, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
}

/* One full opening, as the institution with the node of 510100. */
typedef struct opening {
    gj_open_pending pending;
    Gongji__V1__OpenSessionRequest req;
    gj_open_answer ans;
    Gongji__V1__OpenSessionReply rep;
} opening;

static gj_open_result open_as(opening *o, const gj_cred *caller, int claimed_role, const char *claimed_id,
                              const char *dest_signed, const char *dest_seen)
{
    char why[200];
    assert_int_equal(gj_open_begin(caller, dest_signed, &o->pending, &o->req), GJ_OK);
    return gj_open_accept(node_cred, claimed_role, claimed_id, dest_seen, &o->req, gj_now_unix_ms(), 3600000,
                          &o->ans, &o->rep, why, sizeof why);
}

static void test_opening_agrees_one_key_and_proves_both_sides(void **state)
{
    (void)state;
    opening o;
    assert_int_equal(open_as(&o, institution_cred, GJ_ROLE_INSTITUTION, "H51010000001", "510100", "510100"),
                     GJ_OPEN_OK);
    gj_session mine;
    char why[200];
    assert_int_equal(gj_open_finish(&o.pending, institution_cred, &o.rep, "510100", &mine, why, sizeof why), GJ_OK);
    assert_memory_equal(mine.key, o.ans.session.key, GJ_SESSION_KEY_LEN);
    assert_memory_equal(mine.id, o.ans.session.id, GJ_SESSION_ID_LEN);
    assert_int_equal(mine.peer.role, GJ_ROLE_PEER);
    assert_string_equal(mine.peer.id, "510100");
    assert_int_equal(o.ans.session.peer.role, GJ_ROLE_INSTITUTION);
    assert_string_equal(o.ans.session.peer.id, "H51010000001");
    assert_true(o.ans.session.expires_ms > gj_now_unix_ms());

    /* Two openings never share a key. */
    opening again;
    assert_int_equal(open_as(&again, institution_cred, GJ_ROLE_INSTITUTION, "H51010000001", "", ""), GJ_OPEN_OK);
    gj_open_abandon(&again.pending);
    assert_memory_not_equal(again.ans.session.key, o.ans.session.key, GJ_SESSION_KEY_LEN);
}

static void test_opening_refuses_a_claim_the_certificate_does_not_make(void **state)
{
    (void)state;
    opening o;
    assert_int_equal(open_as(&o, institution_cred, GJ_ROLE_OPERATOR, "510100:ops1", "", ""), GJ_OPEN_DENIED);
    gj_open_abandon(&o.pending);
    assert_int_equal(open_as(&o, operator_cred, GJ_ROLE_OPERATOR, "510100:ops2", "", ""), GJ_OPEN_DENIED);
    gj_open_abandon(&o.pending);
}

static void test_opening_refuses_every_tampering(void **state)
{
    (void)state;
    char why[200];
    opening o;
    /* Signed for another destination than the one it reached. */
    assert_int_equal(open_as(&o, institution_cred, GJ_ROLE_INSTITUTION, "H51010000001", "430100", "510100"),
                     GJ_OPEN_UNAUTHENTICATED);
    gj_open_abandon(&o.pending);
    /* A signature changed in one byte. */
    assert_int_equal(gj_open_begin(institution_cred, "", &o.pending, &o.req), GJ_OK);
    uint8_t sig[GJ_SIGNATURE_MAX];
    memcpy(sig, o.req.signature.data, o.req.signature.len);
    sig[o.req.signature.len / 2] ^= 1;
    o.req.signature.data = sig;
    assert_int_equal(gj_open_accept(node_cred, GJ_ROLE_INSTITUTION, "H51010000001", "", &o.req, gj_now_unix_ms(),
                                    3600000, &o.ans, &o.rep, why, sizeof why),
                     GJ_OPEN_UNAUTHENTICATED);
    /* An opening made ten minutes from the node's clock (a replayed one, say). */
    assert_int_equal(gj_open_accept(node_cred, GJ_ROLE_INSTITUTION, "H51010000001", "", &o.req,
                                    gj_now_unix_ms() + 10 * 60 * 1000, 3600000, &o.ans, &o.rep, why, sizeof why),
                     GJ_OPEN_UNAUTHENTICATED);
    /* Not a certificate. */
    uint8_t junk[100] = {0x30, 0x10};
    o.req.certificate = (ProtobufCBinaryData){.len = sizeof junk, .data = junk};
    assert_int_equal(gj_open_accept(node_cred, GJ_ROLE_INSTITUTION, "H51010000001", "", &o.req, gj_now_unix_ms(),
                                    3600000, &o.ans, &o.rep, why, sizeof why),
                     GJ_OPEN_UNAUTHENTICATED);
    gj_open_abandon(&o.pending);
}

static void test_caller_refuses_an_answer_it_did_not_ask_for(void **state)
{
    (void)state;
    char why[200];
    gj_session s;
    opening o;
    /* The node of 510100 answered, but the caller meant 430100. */
    assert_int_equal(open_as(&o, institution_cred, GJ_ROLE_INSTITUTION, "H51010000001", "", ""), GJ_OPEN_OK);
    assert_int_equal(gj_open_finish(&o.pending, institution_cred, &o.rep, "430100", &s, why, sizeof why),
                     GJ_ERR_INVAL);
    /* A hub that changed the answer's expiry. */
    assert_int_equal(open_as(&o, institution_cred, GJ_ROLE_INSTITUTION, "H51010000001", "", ""), GJ_OPEN_OK);
    o.rep.expires_unix_ms += 1000;
    assert_int_equal(gj_open_finish(&o.pending, institution_cred, &o.rep, "", &s, why, sizeof why), GJ_ERR_INVAL);
    /* An answer signed by someone who is not a node: the caller's own certificate. */
    assert_int_equal(open_as(&o, institution_cred, GJ_ROLE_INSTITUTION, "H51010000001", "", ""), GJ_OPEN_OK);
    size_t len;
    const uint8_t *der = gj_cred_der(institution_cred, &len);
    o.rep.certificate = (ProtobufCBinaryData){.len = len, .data = (uint8_t *)der};
    assert_int_equal(gj_open_finish(&o.pending, institution_cred, &o.rep, "", &s, why, sizeof why), GJ_ERR_INVAL);
}

static void seal_of(const Gongji__V1__Envelope *env, int64_t not_after, const uint8_t *sid, uint8_t mac[32])
{
    static const uint8_t key[GJ_SESSION_KEY_LEN] = {7, 7, 7};
    gj_seal_mac(key, env, not_after, sid, mac);
}

static void test_seal_covers_what_a_request_means_and_nothing_a_hub_changes(void **state)
{
    (void)state;
    uint8_t sid[GJ_SESSION_ID_LEN] = {1}, other_sid[GJ_SESSION_ID_LEN] = {2}, payload[] = {1, 2, 3};
    Gongji__V1__Envelope env = GONGJI__V1__ENVELOPE__INIT;
    env.method = "gongji.v1.Registry/Credit";
    env.call_id = "c1";
    env.caller_id = "510100:ops1";
    env.caller_role = GONGJI__V1__ROLE__OPERATOR;
    env.dest_region = "510100";
    env.payload = (ProtobufCBinaryData){.len = sizeof payload, .data = payload};
    uint8_t base[32], mac[32];
    seal_of(&env, 1000, sid, base);
    /* What a hub may change: the hop count, its own deadline, the origin. */
    Gongji__V1__Envelope hop = env;
    hop.hops = 3;
    hop.deadline_unix_ms = 5;
    hop.origin_region = "430000";
    seal_of(&hop, 1000, sid, mac);
    assert_memory_equal(mac, base, 32);
    /* What nobody may change. */
    Gongji__V1__Envelope changed[7];
    for (int i = 0; i < 7; i++)
        changed[i] = env;
    uint8_t other_payload[] = {1, 2, 4};
    changed[0].method = "gongji.v1.Registry/Enroll";
    changed[1].call_id = "c2";
    changed[2].caller_id = "510100:ops2";
    changed[3].caller_role = GONGJI__V1__ROLE__INSTITUTION;
    changed[4].dest_region = "430100";
    changed[5].payload.data = other_payload;
    changed[6].payload.len = 2;
    for (int i = 0; i < 7; i++) {
        seal_of(&changed[i], 1000, sid, mac);
        assert_memory_not_equal(mac, base, 32);
    }
    seal_of(&env, 1001, sid, mac);
    assert_memory_not_equal(mac, base, 32);
    seal_of(&env, 1000, other_sid, mac);
    assert_memory_not_equal(mac, base, 32);
    /* Field boundaries count: ("ab", "c") is not ("a", "bc"). */
    Gongji__V1__Envelope a = env, b = env;
    a.call_id = "ab";
    a.caller_id = "c";
    b.call_id = "a";
    b.caller_id = "bc";
    uint8_t mac_a[32], mac_b[32];
    seal_of(&a, 1000, sid, mac_a);
    seal_of(&b, 1000, sid, mac_b);
    assert_memory_not_equal(mac_a, mac_b, 32);
}

static void test_answer_mac_travels_as_the_last_field(void **state)
{
    (void)state;
    uint8_t key[32] = {9}, request_mac[32] = {8}, mac[32];
    Gongji__V1__Reply reply = GONGJI__V1__REPLY__INIT;
    reply.reason = "";
    reply.served_by = "510100";
    uint8_t buf[128 + GJ_REPLY_MAC_FIELD_LEN];
    size_t len = gongji__v1__reply__pack(&reply, buf);
    size_t covered;
    const uint8_t *found;
    assert_false(gj_reply_find_mac(buf, len, &covered, &found));
    gj_reply_mac(key, request_mac, buf, len, mac);
    gj_reply_put_mac(buf + len, mac);
    assert_true(gj_reply_find_mac(buf, len + GJ_REPLY_MAC_FIELD_LEN, &covered, &found));
    assert_int_equal(covered, len);
    assert_memory_equal(found, mac, 32);
    /* The bytes still decode as a Reply, the MAC in its field. */
    Gongji__V1__Reply *back = gongji__v1__reply__unpack(NULL, len + GJ_REPLY_MAC_FIELD_LEN, buf);
    assert_non_null(back);
    assert_int_equal(back->mac.len, 32);
    assert_memory_equal(back->mac.data, mac, 32);
    gongji__v1__reply__free_unpacked(back, NULL);
    /* Bound to the request: another request's MAC gives another answer MAC. */
    uint8_t other[32], other_request[32] = {7};
    gj_reply_mac(key, other_request, buf, len, other);
    assert_memory_not_equal(other, mac, 32);
}

static void test_credential_names_its_identity_and_rejects_malformed_ids(void **state)
{
    (void)state;
    assert_int_equal(gj_cred_identity(node_cred)->role, GJ_ROLE_PEER);
    assert_string_equal(gj_cred_identity(node_cred)->id, "510100");
    assert_string_equal(gj_cred_identity(operator_cred)->id, "510100:ops1");
    assert_true(gj_identity_valid(GJ_ROLE_OPERATOR, "000000:auditor"));
    assert_false(gj_identity_valid(GJ_ROLE_OPERATOR, "510100"));
    assert_false(gj_identity_valid(GJ_ROLE_OPERATOR, "51010:x"));
    assert_false(gj_identity_valid(GJ_ROLE_PEER, "51010a"));
    assert_false(gj_identity_valid(GJ_ROLE_INSTITUTION, "h510"));
    assert_false(gj_identity_valid(GJ_ROLE_PLATFORM, "App"));
    assert_false(gj_identity_valid(GJ_ROLE_PERSON, "4301000001")); /* persons hold no certificate */
    assert_int_equal(gj_role_from_ou("node"), GJ_ROLE_PEER);
    assert_int_equal(gj_role_from_ou("person"), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hmac_is_rfc_4231s),
        cmocka_unit_test(test_opening_agrees_one_key_and_proves_both_sides),
        cmocka_unit_test(test_opening_refuses_a_claim_the_certificate_does_not_make),
        cmocka_unit_test(test_opening_refuses_every_tampering),
        cmocka_unit_test(test_caller_refuses_an_answer_it_did_not_ask_for),
        cmocka_unit_test(test_seal_covers_what_a_request_means_and_nothing_a_hub_changes),
        cmocka_unit_test(test_answer_mac_travels_as_the_last_field),
        cmocka_unit_test(test_credential_names_its_identity_and_rejects_malformed_ids),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
