/* R24, the cross-province wallet, with real node processes: Wuhan (420100, Hubei) sends
 * with the pilot's caps (2000 yuan a transfer, 3 a day, none 22:00-06:00) and keeps a
 * 1000-yuan floor; Chengdu (510100, Sichuan) keeps the wallets. Money is checked on both
 * nodes before and after, for each transfer, each refusal, a return and kill -9 in the
 * middle; the cluster's audits must agree at the end. */
#include <pthread.h>
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

enum { OK = 0, NOT_FOUND = 5, PERMISSION_DENIED = 7, FAILED_PRECONDITION = 9 };

#define WH "420100"
#define CD "510100"

static void clocks_at(int32_t date, const char *time_of_day)
{
    client_status st;
    const char *regions[] = {WH, CD};
    for (int i = 0; i < 2; i++) {
        client_t *c = op_at(regions[i]);
        assert_int_equal(op_set_clock(c, date, time_of_day, &st), OK);
        client_close(c);
    }
}

/* The sponsor asks, through the platform, at the relative's node. */
static int transfer(const char *sponsor, const char *relative, int64_t fen, const char *call_id,
                    Gongji__V1__WalletTransferReply **out, client_status *st)
{
    client_t *c = tn_client_ms(tc_node(&tc, CD), sponsor, GONGJI__V1__ROLE__PERSON, 5000);
    if (c == NULL) {
        memset(st, 0, sizeof *st);
        st->code = 14;
        return st->code;
    }
    Gongji__V1__WalletTransferRequest req = GONGJI__V1__WALLET_TRANSFER_REQUEST__INIT;
    req.sponsor_psn_no = (char *)sponsor;
    req.sponsor_admdvs = WH;
    req.relative_psn_no = (char *)relative;
    req.relative_admdvs = CD;
    req.amount = fen;
    ProtobufCMessage *m = NULL;
    client_call(c, "gongji.v1.Wallet/Transfer", call_id, NULL, &req.base, &gongji__v1__wallet_transfer_reply__descriptor,
                &m, st);
    client_close(c);
    if (out != NULL)
        *out = (Gongji__V1__WalletTransferReply *)m;
    else if (m != NULL)
        protobuf_c_message_free_unpacked(m, NULL);
    return st->code;
}

static int accept_transfer(const char *relative, const char *setl_id, client_status *st)
{
    client_t *c = tn_client(tc_node(&tc, CD), relative, GONGJI__V1__ROLE__PERSON);
    Gongji__V1__WalletAcceptRequest req = GONGJI__V1__WALLET_ACCEPT_REQUEST__INIT;
    req.relative_psn_no = (char *)relative;
    req.setl_id = (char *)setl_id;
    ProtobufCMessage *m = NULL;
    client_call(c, "gongji.v1.Wallet/Accept", NULL, NULL, &req.base, &gongji__v1__wallet_transfer_reply__descriptor,
                &m, st);
    client_close(c);
    if (m != NULL)
        protobuf_c_message_free_unpacked(m, NULL);
    return st->code;
}

/* What the relative's wallet holds, and how much of it is still pending. */
static int64_t wallet_of(const char *relative, int64_t *pending, char *wallet_id)
{
    client_status st;
    client_t *c = op_at(CD);
    Gongji__V1__WalletGetRequest req = GONGJI__V1__WALLET_GET_REQUEST__INIT;
    req.relative_psn_no = (char *)relative;
    ProtobufCMessage *m = NULL;
    client_call(c, "gongji.v1.Wallet/Get", NULL, NULL, &req.base, &gongji__v1__wallet_reply__descriptor, &m, &st);
    client_close(c);
    assert_int_equal(st.code, OK);
    Gongji__V1__WalletReply *w = (Gongji__V1__WalletReply *)m;
    int64_t balance = w->balance;
    if (pending != NULL)
        *pending = w->pending;
    if (wallet_id != NULL)
        snprintf(wallet_id, GJ_PSN_NO_MAX + 1, "%s", w->wallet_id);
    gongji__v1__wallet_reply__free_unpacked(w, NULL);
    return balance;
}

static int64_t sponsor_balance_settles_at(const char *sponsor, int64_t want)
{
    client_t *wh = op_at(WH);
    int64_t got = balance_settles_at(wh, sponsor, NULL, want);
    client_close(wh);
    return got;
}

/* A Wuhan sponsor bound to a Chengdu relative (the pilot allows it across provinces). */
static void family(const char *sponsor, int serial, int64_t sponsor_fen, const char *relative, int64_t own_fen)
{
    client_status st;
    person_at(WH, sponsor, serial, "310", sponsor_fen);
    person_at(CD, relative, serial + 1, "310", own_fen);
    assert_int_equal(bind_via(WH, sponsor, WH, relative, CD, GONGJI__V1__RELATION__CHILD, &st), OK);
}

static void test_a_transfer_waits_until_accepted_then_pays_after_the_own_account(void **state)
{
    (void)state;
    client_status st;
    clocks_at(20270310, "12:00:00");
    family("WH-S70", 70, 1000000, "CD-R70", 1000);
    Gongji__V1__WalletTransferReply *r = NULL;
    assert_int_equal(transfer("WH-S70", "CD-R70", 150000, NULL, &r, &st), OK);
    assert_int_equal(r->transfer->state, GONGJI__V1__WALLET_TRANSFER_STATE__PENDING);
    assert_int_equal(r->transfer->amount, 150000);
    assert_true(gj_is_wallet_id(r->wallet_id));
    char setl_id[GJ_SETL_ID_MAX + 1], wallet_id[GJ_PSN_NO_MAX + 1];
    snprintf(setl_id, sizeof setl_id, "%s", r->transfer->setl_id);
    snprintf(wallet_id, sizeof wallet_id, "%s", r->wallet_id);
    gongji__v1__wallet_transfer_reply__free_unpacked(r, NULL);
    assert_int_equal(sponsor_balance_settles_at("WH-S70", 850000), 850000);
    int64_t pending;
    assert_int_equal(wallet_of("CD-R70", &pending, NULL), 150000);
    assert_int_equal(pending, 150000);

    /* Pending money pays nothing: own account (10.00), then the sponsor directly. */
    Gongji__V1__SettleReply *bill = NULL;
    assert_int_equal(settle_by_institution(CD, "CD-R70", CD, 2000, NULL, &bill, &st), OK);
    assert_int_equal(bill->acct_pay, 1000);
    assert_int_equal(settle_part(bill, wallet_id), 0);
    assert_int_equal(settle_part(bill, "WH-S70"), 1000);
    gongji__v1__settle_reply__free_unpacked(bill, NULL);
    assert_int_equal(sponsor_balance_settles_at("WH-S70", 849000), 849000);

    /* Only the relative (or Chengdu's operator) accepts; then it is theirs to spend. */
    client_t *other = tn_client(tc_node(&tc, CD), "CD-X70", GONGJI__V1__ROLE__PERSON);
    Gongji__V1__WalletAcceptRequest req = GONGJI__V1__WALLET_ACCEPT_REQUEST__INIT;
    req.relative_psn_no = "CD-R70";
    req.setl_id = setl_id;
    ProtobufCMessage *m = NULL;
    client_call(other, "gongji.v1.Wallet/Accept", NULL, NULL, &req.base, &gongji__v1__wallet_transfer_reply__descriptor,
                &m, &st);
    assert_int_equal(st.code, PERMISSION_DENIED);
    client_close(other);
    assert_int_equal(accept_transfer("CD-R70", "430100-20270310-000000-0000000001", &st), NOT_FOUND);
    assert_string_equal(st.reason, "WALLET_TRANSFER_NOT_FOUND");
    assert_int_equal(accept_transfer("CD-R70", setl_id, &st), OK);
    assert_int_equal(wallet_of("CD-R70", &pending, NULL), 150000);
    assert_int_equal(pending, 0);
    assert_int_equal(settle_by_institution(CD, "CD-R70", CD, 30000, NULL, &bill, &st), OK);
    assert_int_equal(bill->acct_pay, 0);
    assert_int_equal(settle_part(bill, wallet_id), 30000);
    assert_int_equal(settle_part(bill, "WH-S70"), 0);
    gongji__v1__settle_reply__free_unpacked(bill, NULL);
    assert_int_equal(wallet_of("CD-R70", &pending, NULL), 120000);
    assert_int_equal(sponsor_balance_settles_at("WH-S70", 849000), 849000);
    /* Accepting twice changes nothing. */
    assert_int_equal(accept_transfer("CD-R70", setl_id, &st), OK);
    assert_int_equal(wallet_of("CD-R70", &pending, NULL), 120000);
}

static void refused(const char *sponsor, const char *relative, int64_t fen, const char *reason)
{
    client_status st;
    assert_int_equal(transfer(sponsor, relative, fen, NULL, NULL, &st), FAILED_PRECONDITION);
    assert_string_equal(st.reason, reason);
}

/* Each cap, enforced at Wuhan's node with its own reason; nothing moves on either node. */
static void test_the_sponsor_regions_caps(void **state)
{
    (void)state;
    client_status st;
    clocks_at(20270311, "12:00:00");
    family("WH-S71", 72, 1000000, "CD-R71", 0);
    refused("WH-S71", "CD-R71", 200001, "WALLET_TRANSFER_TOO_LARGE");
    client_t *wh = op_at(WH);
    assert_int_equal(op_set_clock(wh, 20270311, "22:30:00", &st), OK);
    refused("WH-S71", "CD-R71", 1000, "WALLET_BLACKOUT");
    assert_int_equal(op_set_clock(wh, 20270312, "05:59:59", &st), OK);
    refused("WH-S71", "CD-R71", 1000, "WALLET_BLACKOUT");
    assert_int_equal(op_set_clock(wh, 20270311, "12:00:00", &st), OK);
    client_close(wh);
    assert_int_equal(sponsor_balance_settles_at("WH-S71", 1000000), 1000000);
    assert_int_equal(wallet_of("CD-R71", NULL, NULL), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(transfer("WH-S71", "CD-R71", 10000, NULL, NULL, &st), OK);
    refused("WH-S71", "CD-R71", 10000, "WALLET_DAILY_LIMIT");
    assert_int_equal(sponsor_balance_settles_at("WH-S71", 970000), 970000);
    assert_int_equal(wallet_of("CD-R71", NULL, NULL), 30000);
    /* Wuhan keeps a 1000-yuan floor: a sponsor with 1500 may send 500, not 600. */
    family("WH-S72", 74, 150000, "CD-R72", 0);
    refused("WH-S72", "CD-R72", 60000, "WALLET_NOT_COVERED");
    assert_int_equal(transfer("WH-S72", "CD-R72", 50000, NULL, NULL, &st), OK);
    assert_int_equal(sponsor_balance_settles_at("WH-S72", 100000), 100000);
    /* Only the sponsor; not inside a province; only where the relative's region keeps wallets. */
    client_t *someone = tn_client(tc_node(&tc, CD), "CD-R71", GONGJI__V1__ROLE__PERSON);
    Gongji__V1__WalletTransferRequest req = GONGJI__V1__WALLET_TRANSFER_REQUEST__INIT;
    req.sponsor_psn_no = "WH-S71";
    req.sponsor_admdvs = WH;
    req.relative_psn_no = "CD-R71";
    req.relative_admdvs = CD;
    req.amount = 100;
    ProtobufCMessage *m = NULL;
    client_call(someone, "gongji.v1.Wallet/Transfer", NULL, NULL, &req.base,
                &gongji__v1__wallet_transfer_reply__descriptor, &m, &st);
    assert_int_equal(st.code, PERMISSION_DENIED);
    client_close(someone);
    req.sponsor_admdvs = "510400";
    client_t *self = tn_client(tc_node(&tc, CD), "WH-S71", GONGJI__V1__ROLE__PERSON);
    client_call(self, "gongji.v1.Wallet/Transfer", NULL, NULL, &req.base, &gongji__v1__wallet_transfer_reply__descriptor,
                &m, &st);
    assert_string_equal(st.reason, "WALLET_SAME_PROVINCE");
    req.sponsor_admdvs = WH;
    req.relative_admdvs = "540600";
    client_t *nq = tn_client(tc_node(&tc, "540600"), "WH-S71", GONGJI__V1__ROLE__PERSON);
    client_call(nq, "gongji.v1.Wallet/Transfer", NULL, NULL, &req.base, &gongji__v1__wallet_transfer_reply__descriptor,
                &m, &st);
    assert_string_equal(st.reason, "WALLET_NOT_OFFERED");
    client_close(nq);
    client_close(self);
    assert_int_equal(sponsor_balance_settles_at("WH-S71", 970000), 970000);
}

/* Not accepted when Chengdu's blackout begins (22:00): back to the sponsor, once. */
static void test_a_transfer_not_accepted_in_time_goes_back(void **state)
{
    (void)state;
    client_status st;
    clocks_at(20270313, "12:00:00");
    family("WH-S73", 76, 500000, "CD-R73", 0);
    Gongji__V1__WalletTransferReply *r = NULL;
    assert_int_equal(transfer("WH-S73", "CD-R73", 80000, NULL, &r, &st), OK);
    char setl_id[GJ_SETL_ID_MAX + 1];
    snprintf(setl_id, sizeof setl_id, "%s", r->transfer->setl_id);
    gongji__v1__wallet_transfer_reply__free_unpacked(r, NULL);
    assert_int_equal(sponsor_balance_settles_at("WH-S73", 420000), 420000);
    client_t *cd = op_at(CD);
    assert_int_equal(op_set_clock(cd, 20270313, "21:59:58", &st), OK);
    sleep_ms(500); /* a few resolver rounds: not yet */
    int64_t pending;
    assert_int_equal(wallet_of("CD-R73", &pending, NULL), 80000);
    assert_int_equal(op_set_clock(cd, 20270313, "22:00:01", &st), OK);
    client_close(cd);
    assert_int_equal(sponsor_balance_settles_at("WH-S73", 500000), 500000);
    assert_int_equal(wallet_of("CD-R73", &pending, NULL), 0);
    assert_int_equal(pending, 0);
    assert_int_equal(accept_transfer("CD-R73", setl_id, &st), FAILED_PRECONDITION);
    assert_string_equal(st.reason, "WALLET_TRANSFER_RETURNED");
    sleep_ms(500);
    assert_int_equal(sponsor_balance_settles_at("WH-S73", 500000), 500000); /* once */
    clocks_at(20270313, "12:00:00");
}

/* kill -9 of either node while a transfer is on its way, then the same call again until
 * it is answered: exactly one transfer, every fen in one place. */
struct transfer_job {
    char call_id[32];
    client_status st;
};

static void *transfer_in_background(void *arg)
{
    struct transfer_job *job = arg;
    transfer("WH-S74", "CD-R74", 20000, job->call_id, NULL, &job->st);
    return NULL;
}

static void test_kill9_during_a_transfer_moves_it_once(void **state)
{
    (void)state;
    unsigned seed = (unsigned)time(NULL);
    family("WH-S74", 78, 1000000, "CD-R74", 0);
    int64_t sponsor = 1000000;
    for (int round = 0; round < 4; round++) {
        clocks_at(20270320 + round, "12:00:00");
        struct transfer_job job;
        snprintf(job.call_id, sizeof job.call_id, "wallet-kill-%d", round);
        pthread_t t;
        assert_int_equal(pthread_create(&t, NULL, transfer_in_background, &job), 0);
        sleep_ms((int)(rand_r(&seed) % 40));
        test_node *victim = tc_node(&tc, round % 2 == 0 ? CD : WH);
        tn_kill9(victim);
        pthread_join(t, NULL);
        assert_int_equal(tn_start(victim), 0);
        clocks_at(20270320 + round, "12:00:01");
        client_status st;
        Gongji__V1__WalletTransferReply *r = NULL;
        int code = -1;
        for (int i = 0; i < 40 && code != OK; i++) {
            code = transfer("WH-S74", "CD-R74", 20000, job.call_id, &r, &st);
            if (code != OK)
                sleep_ms(250);
        }
        if (code != OK)
            fail_msg("round %d (%s killed): the transfer again: %s %s", round, victim->region, st.reason, st.message);
        sponsor -= 20000;
        assert_int_equal(sponsor_balance_settles_at("WH-S74", sponsor), sponsor);
        int64_t pending;
        assert_int_equal(wallet_of("CD-R74", &pending, NULL), 20000 * (round + 1));
        assert_int_equal(pending, 20000);
        /* Accepted, so the next round's later date does not send it back. */
        assert_int_equal(accept_transfer("CD-R74", r->transfer->setl_id, &st), OK);
        gongji__v1__wallet_transfer_reply__free_unpacked(r, NULL);
    }
    clocks_at(20270320, "12:00:00");
}

static void test_audit_passes_on_every_node_and_across_the_cluster(void **state)
{
    (void)state;
    cluster_audit_agrees(5);
    client_status st;
    for (size_t i = 0; i < tc.count; i++) {
        client_t *c = tn_client(&tc.nodes[i], "op-1", GONGJI__V1__ROLE__OPERATOR);
        op_set_date(c, 0, &st);
        client_close(c);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_transfer_waits_until_accepted_then_pays_after_the_own_account),
        cmocka_unit_test(test_the_sponsor_regions_caps),
        cmocka_unit_test(test_a_transfer_not_accepted_in_time_goes_back),
        cmocka_unit_test(test_kill9_during_a_transfer_moves_it_once),
        cmocka_unit_test(test_audit_passes_on_every_node_and_across_the_cluster),
    };
    return th_exit_status(cmocka_run_group_tests(tests, cluster_setup, cluster_teardown));
}
