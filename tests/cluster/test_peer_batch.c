/* Peer/Batch against a region that does not know it (a node of an older release during
 * an upgrade): a real Chengdu node settles for its patients with sponsors in a made-up
 * Nagqu, played by this test over nng with TLS and Nagqu's node credential (it opens
 * sessions, checks seals and seals its answers as a node does). The fake refuses every
 * batch with UNKNOWN_METHOD and serves each hold and post sent alone; every settlement
 * must still be paid by its sponsor, and the node must stop sending batches there. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#include "gj_util.h"
#include "harness.h"
#include "session.h"
#include "tls.h"

#define SETTLES 16
#define FAKE_DELAY_US 10000 /* each answer takes this long, so calls queue up */

#define FAKE_SESSIONS 8

typedef struct fake_peer {
    nng_socket sock;
    nng_tls_config *tls;
    const gj_cred *cred;
    char url[256];
    pthread_t thread;
    atomic_bool stop;
    atomic_int batches, holds, resolves, others;
    gj_session sessions[FAKE_SESSIONS];
    unsigned next_session;
} fake_peer;

/* Answer; sealed with the session's key over the request's MAC when key is given. */
static void reply_with(nng_socket sock, int code, const char *reason, const ProtobufCMessage *answer,
                       const uint8_t *key, const uint8_t *request_mac)
{
    uint8_t payload[2048], out[4096];
    Gongji__V1__Reply reply = GONGJI__V1__REPLY__INIT;
    reply.code = (Gongji__V1__Code)code;
    reply.reason = (char *)reason;
    reply.served_by = "540600";
    if (answer != NULL) {
        reply.payload.data = payload;
        reply.payload.len = protobuf_c_message_pack(answer, payload);
    }
    size_t len = gongji__v1__reply__pack(&reply, out);
    if (key != NULL) {
        uint8_t mac[GJ_MAC_LEN];
        gj_reply_mac(key, request_mac, out, len, mac);
        gj_reply_put_mac(out + len, mac);
        len += GJ_REPLY_MAC_FIELD_LEN;
    }
    nng_send(sock, out, len, 0);
}

/* Auth/Open, as a node answers it. */
static void fake_open(fake_peer *f, const Gongji__V1__Envelope *env)
{
    Gongji__V1__OpenSessionRequest *req =
        gongji__v1__open_session_request__unpack(NULL, env->payload.len, env->payload.data);
    gj_open_answer ans;
    Gongji__V1__OpenSessionReply rep;
    char why[200];
    if (req == NULL || gj_open_accept(f->cred, env->caller_role, env->caller_id, env->dest_region, req,
                                      gj_now_unix_ms(), 3600000, &ans, &rep, why, sizeof why) != GJ_OPEN_OK) {
        reply_with(f->sock, 16, "CREDENTIAL_REFUSED", NULL, NULL, NULL);
    } else {
        f->sessions[f->next_session++ % FAKE_SESSIONS] = ans.session;
        reply_with(f->sock, 0, "", &rep.base, NULL, NULL);
    }
    if (req != NULL)
        gongji__v1__open_session_request__free_unpacked(req, NULL);
}

/* The key of the session that sealed env, with the seal's MAC checked; NULL if none. */
static const uint8_t *fake_check_seal(fake_peer *f, const Gongji__V1__Envelope *env, uint8_t mac[GJ_MAC_LEN])
{
    if (env->seal == NULL || env->seal->session_id.len != GJ_SESSION_ID_LEN)
        return NULL;
    for (int i = 0; i < FAKE_SESSIONS; i++) {
        gj_session *s = &f->sessions[i];
        if (memcmp(s->id, env->seal->session_id.data, GJ_SESSION_ID_LEN) != 0)
            continue;
        gj_seal_mac(s->key, env, env->seal->not_after_unix_ms, s->id, mac);
        return env->seal->mac.len == GJ_MAC_LEN && gj_mac_equal(mac, env->seal->mac.data, GJ_MAC_LEN) ? s->key
                                                                                                    : NULL;
    }
    return NULL;
}

static void *fake_main(void *arg)
{
    fake_peer *f = arg;
    while (!atomic_load(&f->stop)) {
        char *buf = NULL;
        size_t len = 0;
        if (nng_recv(f->sock, &buf, &len, NNG_FLAG_ALLOC) != 0)
            continue; /* receive timeout: look at stop again */
        usleep(FAKE_DELAY_US);
        Gongji__V1__Envelope *env = gongji__v1__envelope__unpack(NULL, len, (uint8_t *)buf);
        nng_free(buf, len);
        if (env == NULL) {
            reply_with(f->sock, 3, "MALFORMED_MESSAGE", NULL, NULL, NULL);
            continue;
        }
        uint8_t mac[GJ_MAC_LEN];
        const uint8_t *key = NULL;
        if (strcmp(env->method, "gongji.v1.Auth/Open") == 0) {
            fake_open(f, env);
        } else if ((key = fake_check_seal(f, env, mac)) == NULL) {
            reply_with(f->sock, 16, "SESSION_UNKNOWN", NULL, NULL, NULL);
        } else if (strcmp(env->method, "gongji.v1.Peer/Hold") == 0) {
            Gongji__V1__HoldRequest *h =
                gongji__v1__hold_request__unpack(NULL, env->payload.len, env->payload.data);
            Gongji__V1__HoldReply held = GONGJI__V1__HOLD_REPLY__INIT;
            held.held = h ? h->amount : 0;
            atomic_fetch_add(&f->holds, 1);
            reply_with(f->sock, 0, "", &held.base, key, mac);
            if (h)
                gongji__v1__hold_request__free_unpacked(h, NULL);
        } else if (strcmp(env->method, "gongji.v1.Peer/Resolve") == 0) {
            Gongji__V1__ResolveReply done = GONGJI__V1__RESOLVE_REPLY__INIT;
            atomic_fetch_add(&f->resolves, 1);
            reply_with(f->sock, 0, "", &done.base, key, mac);
        } else {
            atomic_fetch_add(strcmp(env->method, "gongji.v1.Peer/Batch") == 0 ? &f->batches : &f->others, 1);
            reply_with(f->sock, 12 /* UNIMPLEMENTED */, "UNKNOWN_METHOD", NULL, key, mac);
        }
        gongji__v1__envelope__free_unpacked(env, NULL);
    }
    return NULL;
}

static fake_peer fake;
static test_node cd;

static int setup(void **state)
{
    (void)state;
    tn_init(&cd, "510100", "live = yes\nrelations = all\ncascade = yes\ncross_province_pilot = yes\n");
    snprintf(fake.url, sizeof fake.url, "tls+tcp://127.0.0.1:%d", th_free_port());
    char err[256];
    if ((fake.cred = th_cred(GJ_ROLE_PEER, "540600")) == NULL ||
        gj_tls_config_make(&fake.tls, true, gj_cred_paths(fake.cred), err, sizeof err) != GJ_OK)
        return -1;
    if (nng_rep0_open(&fake.sock) != 0 || gj_tls_listen(fake.sock, fake.url, fake.tls, NULL) != 0)
        return -1;
    nng_socket_set_ms(fake.sock, NNG_OPT_RECVTIMEO, 100);
    pthread_create(&fake.thread, NULL, fake_main, &fake);
    snprintf(cd.peers, sizeof cd.peers, "540600 = %s\n", fake.url);
    return tn_start(&cd);
}

static int teardown(void **state)
{
    (void)state;
    tn_destroy(&cd);
    int leaks = th_log_leaks_total();
    atomic_store(&fake.stop, true);
    pthread_join(fake.thread, NULL);
    nng_close(fake.sock);
    nng_tls_config_free(fake.tls);
    return leaks == 0 ? 0 : -1; /* no person or ID number logged in full (th_exit_status counts it) */
}

typedef struct settle_arg {
    int i;
    int code;
    int64_t mulaid;
} settle_arg;

static void *settle_one(void *arg)
{
    settle_arg *a = arg;
    client_t *c = tn_client(&cd, "H51010000001", GONGJI__V1__ROLE__INSTITUTION);
    char psn[32], call_id[32];
    snprintf(psn, sizeof psn, "CD-B%d", a->i);
    snprintf(call_id, sizeof call_id, "compat-%d", a->i);
    Gongji__V1__SettleReply *reply = NULL;
    client_status st;
    a->code = op_settle(c, psn, 1000 + a->i, call_id, &reply, &st);
    if (reply != NULL) {
        a->mulaid = reply->acct_mulaid_pay;
        gongji__v1__settle_reply__free_unpacked(reply, NULL);
    }
    client_close(c);
    return NULL;
}

/* SETTLES settlements at once for patients first .. first + SETTLES - 1, each of which
 * its sponsor must pay in full. */
static void settle_round(int first)
{
    pthread_t threads[SETTLES];
    settle_arg args[SETTLES];
    for (int i = 0; i < SETTLES; i++) {
        args[i] = (settle_arg){.i = first + i, .code = -1};
        pthread_create(&threads[i], NULL, settle_one, &args[i]);
    }
    for (int i = 0; i < SETTLES; i++)
        pthread_join(threads[i], NULL);
    for (int i = 0; i < SETTLES; i++) {
        assert_int_equal(args[i].code, 0);
        assert_int_equal(args[i].mulaid, 1000 + first + i); /* the sponsor paid all of it */
    }
}

static void test_a_region_without_batches_is_called_one_call_at_a_time(void **state)
{
    (void)state;
    client_status st;
    client_t *op = tn_client(&cd, "op", GONGJI__V1__ROLE__OPERATOR);
    client_t *as_nagqu = tn_client(&cd, "540600", GONGJI__V1__ROLE__PEER);
    for (int i = 0; i < 2 * SETTLES; i++) {
        char psn[32], sponsor[32];
        snprintf(psn, sizeof psn, "CD-B%d", i);
        snprintf(sponsor, sizeof sponsor, "NQ-S%d", i);
        assert_int_equal(op_enroll(op, psn, 700 + i, "390", "510100", &st), 0);
        /* Nagqu, the sponsor's home, records the binding here as it would. */
        Gongji__V1__Binding b = GONGJI__V1__BINDING__INIT;
        b.sponsor_psn_no = sponsor;
        b.beneficiary_psn_no = psn;
        b.relation = GONGJI__V1__RELATION__PARENT;
        b.sponsor_admdvs = "540600";
        b.beneficiary_admdvs = "510100";
        Gongji__V1__AcceptBindingRequest req = GONGJI__V1__ACCEPT_BINDING_REQUEST__INIT;
        req.binding = &b;
        req.sponsor_region_live = true;
        req.sponsor_region_pilot = true;
        ProtobufCMessage *ans = NULL;
        client_call(as_nagqu, "gongji.v1.Peer/AcceptBinding", NULL, NULL, &req.base,
                    &gongji__v1__accept_binding_reply__descriptor, &ans, &st);
        assert_int_equal(st.code, 0);
        if (ans)
            protobuf_c_message_free_unpacked(ans, NULL);
    }

    /* Many settlements at once, so that holds queue up and leave together: the first
     * batch is refused and its calls go again one by one. */
    settle_round(0);
    int batches = atomic_load(&fake.batches);
    assert_true(batches >= 1);
    assert_int_equal(atomic_load(&fake.holds), SETTLES); /* each hold, alone, exactly once */
    /* From then on the node sends none: a second round goes one call at a time. */
    settle_round(SETTLES);
    assert_int_equal(atomic_load(&fake.batches), batches);
    assert_int_equal(atomic_load(&fake.holds), 2 * SETTLES);
    assert_int_equal(atomic_load(&fake.others), 0);
    /* The posts follow, one at a time too, and every decision is acknowledged. */
    for (int i = 0; i < 100 && atomic_load(&fake.resolves) < 2 * SETTLES; i++)
        usleep(50000);
    assert_true(atomic_load(&fake.resolves) >= 2 * SETTLES); /* a post may be sent twice */
    assert_int_equal(atomic_load(&fake.batches), batches);
    client_close(as_nagqu);
    client_close(op);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_region_without_batches_is_called_one_call_at_a_time),
    };
    return th_exit_status(cmocka_run_group_tests(tests, setup, teardown));
}
