/* A settlement whose one sponsor lives on another node is decided while the hold is
 * made (docs/federation.md, "Deciding while the hold is made"): the coordinator writes
 * "the sponsor pays all of it" at the same time as it asks for the hold. These tests
 * take it where it can go wrong, with real node processes: a sponsor with less than
 * asked, a sponsor's node that does not answer, and a coordinator killed after writing
 * its decision but before the hold's answer reached it (the hold made in full, in part,
 * or not at all), and a sponsor on the coordinator's node after the remote one paying
 * what the remote one did not. Chengdu 510100 (cascade) coordinates; the remote
 * sponsors are in Nagqu 540600. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <pthread.h>
#include <signal.h>

#include "cluster_fixture.h"

#define INSTITUTION "H51010400009"

/* Whether psn_no's balance in region reaches want with nothing held (within 7.5 s). */
static bool balance_becomes(const char *region, const char *psn_no, int64_t want)
{
    client_t *c = op_at(region);
    int64_t got = -1, held = -1;
    for (int i = 0; i < 150 && !(got == want && held == 0); i++) {
        got = op_balance_x(c, psn_no, NULL, &held);
        if (got != want || held != 0)
            sleep_ms(50);
    }
    client_close(c);
    if (got != want || held != 0)
        print_message("%s in %s: balance %lld held %lld, want %lld\n", psn_no, region, (long long)got,
                      (long long)held, (long long)want);
    return got == want && held == 0;
}

/* Until no node holds money or keeps a decision open, then every audit must pass. */
static void quiet_and_audited(void)
{
    bool all = false;
    for (int round = 0; round < 150 && !all; round++) {
        all = true;
        for (size_t i = 0; i < tc.count && all; i++) {
            client_t *c = tn_client(&tc.nodes[i], "op-1", GONGJI__V1__ROLE__OPERATOR);
            Gongji__V1__AuditReply *a = op_audit(c);
            client_close(c);
            all = a && a->ok && a->open_holds == 0 && a->open_decisions == 0;
            if (a && !a->ok)
                for (size_t f = 0; f < a->n_failures; f++)
                    print_message("%s: %s\n", a->region, a->failures[f]);
            if (a)
                gongji__v1__audit_reply__free_unpacked(a, NULL);
        }
        if (!all)
            sleep_ms(50);
    }
    assert_true(all);
}

/* How many settlements Chengdu decided whose hold it does not know (-1 on error). */
static int64_t settlements_unknown(void)
{
    client_t *c = op_at("510100");
    Gongji__V1__HealthRequest req = GONGJI__V1__HEALTH_REQUEST__INIT;
    ProtobufCMessage *ans = NULL;
    client_status st;
    int64_t count = -1;
    if (client_call(c, "gongji.v1.Operator/Health", NULL, NULL, &req.base, &gongji__v1__health_reply__descriptor,
                    &ans, &st) == GJ_OK &&
        ans != NULL)
        count = ((Gongji__V1__HealthReply *)ans)->settlements_unknown;
    if (ans)
        protobuf_c_message_free_unpacked(ans, NULL);
    client_close(c);
    return count;
}

/* Bind a Nagqu sponsor to a Chengdu patient. Right after a test restarted a node its
 * peer link may still be dialing: the bind (the same call id each time) is asked again. */
static void bind_nagqu_sponsor(const char *sponsor, const char *patient)
{
    client_status st;
    client_t *cd = op_at("510100");
    int code = -1;
    for (int i = 0; i < 30; i++) {
        code = bind_via("510100", sponsor, "540600", patient, "510100", GONGJI__V1__RELATION__CHILD, &st);
        if (code != GONGJI__V1__CODE__UNAVAILABLE)
            break;
        sleep_ms(100);
    }
    assert_int_equal(code, 0);
    client_close(cd);
}

static void family(const char *patient, const char *sponsor, int serial, int64_t sponsor_fen)
{
    person_at("510100", patient, serial, "310", 0);
    person_at("540600", sponsor, serial, "310", sponsor_fen);
    bind_nagqu_sponsor(sponsor, patient);
}

static int settle(const char *patient, int64_t fen, const char *call_id, Gongji__V1__SettleReply **reply,
                  client_status *st)
{
    client_t *inst = tn_client(tc_node(&tc, "510100"), INSTITUTION, GONGJI__V1__ROLE__INSTITUTION);
    int code = op_settle_x(inst, patient, "510100", fen, call_id, reply, st);
    client_close(inst);
    return code;
}

/* The same call again until it is answered for good (a node may be starting, or the
 * settlement still being decided); its code. */
static int settle_until_answered(const char *patient, int64_t fen, const char *call_id,
                                 Gongji__V1__SettleReply **reply, client_status *st)
{
    int code = -1;
    for (int i = 0; i < 100; i++) {
        if (*reply) {
            gongji__v1__settle_reply__free_unpacked(*reply, NULL);
            *reply = NULL;
        }
        code = settle(patient, fen, call_id, reply, st);
        if (code == 0)
            break;
        sleep_ms(100);
    }
    if (code != 0) { /* what the nodes were saying meanwhile */
        fprintf(stderr, "%s not answered: %s %s\n", call_id, client_code_name(code), st->reason);
        for (size_t i = 0; i < tc.count; i++)
            tn_print_log_tail(&tc.nodes[i], 12);
    }
    return code;
}

static void test_a_sponsor_with_less_than_asked_pays_what_it_has_and_cash_the_rest(void **state)
{
    (void)state;
    client_status st;
    family("DW-P1", "DW-S1", 1, 2500);
    Gongji__V1__SettleReply *r = NULL;
    assert_int_equal(settle("DW-P1", 4000, "dw-bill-1", &r, &st), 0);
    assert_int_equal(settle_part(r, "DW-S1"), 2500);
    assert_int_equal(r->psn_cash_pay, 1500);
    gongji__v1__settle_reply__free_unpacked(r, NULL);
    assert_true(balance_becomes("540600", "DW-S1", 0));
    /* The answer on record is the corrected one. */
    r = NULL;
    assert_int_equal(settle("DW-P1", 4000, "dw-bill-1", &r, &st), 0);
    assert_int_equal(settle_part(r, "DW-S1"), 2500);
    assert_int_equal(r->psn_cash_pay, 1500);
    gongji__v1__settle_reply__free_unpacked(r, NULL);
    /* And one with enough: all of it, one debit. */
    family("DW-P2", "DW-S2", 2, 9000);
    r = NULL;
    assert_int_equal(settle("DW-P2", 4000, "dw-bill-2", &r, &st), 0);
    assert_int_equal(settle_part(r, "DW-S2"), 4000);
    assert_int_equal(r->psn_cash_pay, 0);
    gongji__v1__settle_reply__free_unpacked(r, NULL);
    assert_true(balance_becomes("540600", "DW-S2", 5000));
    quiet_and_audited();
}

/* A second sponsor, on the coordinator's node, after the remote one. */
static void local_sponsor_after(const char *patient, const char *sponsor, int serial, int64_t fen)
{
    client_status st;
    person_at("510100", sponsor, serial, "310", fen);
    client_t *cd = op_at("510100");
    assert_int_equal(op_bind(cd, sponsor, patient, GONGJI__V1__RELATION__CHILD, &st), 0);
    client_close(cd);
}

static void test_a_sponsor_here_after_the_remote_one_pays_what_it_did_not(void **state)
{
    (void)state;
    client_status st;
    family("DW-P7", "DW-S7", 7, 1500);
    local_sponsor_after("DW-P7", "DW-L7", 70, 10000);
    Gongji__V1__SettleReply *r = NULL;
    assert_int_equal(settle("DW-P7", 4000, "dw-bill-7", &r, &st), 0);
    assert_int_equal(settle_part(r, "DW-S7"), 1500);
    assert_int_equal(settle_part(r, "DW-L7"), 2500);
    assert_int_equal(r->psn_cash_pay, 0);
    assert_int_equal(r->acct_mulaid_pay, 4000);
    gongji__v1__settle_reply__free_unpacked(r, NULL);
    assert_true(balance_becomes("540600", "DW-S7", 0));
    assert_true(balance_becomes("510100", "DW-L7", 7500));
    /* The remote sponsor has nothing left: the one here pays all of the next bill. */
    r = NULL;
    assert_int_equal(settle("DW-P7", 1000, "dw-bill-7b", &r, &st), 0);
    assert_int_equal(settle_part(r, "DW-S7"), 0);
    assert_int_equal(settle_part(r, "DW-L7"), 1000);
    gongji__v1__settle_reply__free_unpacked(r, NULL);
    assert_true(balance_becomes("510100", "DW-L7", 6500));
    quiet_and_audited();
}

/* Two sponsors on the other node: the first is asked and answers first; the second,
 * the last remote one, holds while the decision is written. */
static void test_a_second_remote_sponsor_is_decided_while_it_holds(void **state)
{
    (void)state;
    client_status st;
    family("DW-P9", "DW-S9", 9, 0); /* nothing to share */
    person_at("540600", "DW-T9", 90, "310", 3000);
    bind_nagqu_sponsor("DW-T9", "DW-P9");
    Gongji__V1__SettleReply *r = NULL;
    assert_int_equal(settle("DW-P9", 2000, "dw-bill-9", &r, &st), 0);
    assert_int_equal(settle_part(r, "DW-S9"), 0);
    assert_int_equal(settle_part(r, "DW-T9"), 2000);
    assert_int_equal(r->psn_cash_pay, 0);
    gongji__v1__settle_reply__free_unpacked(r, NULL);
    /* 1000 left there: asked 2000, it holds 1000, the rest is cash. */
    r = NULL;
    assert_int_equal(settle("DW-P9", 2000, "dw-bill-9b", &r, &st), 0);
    assert_int_equal(settle_part(r, "DW-T9"), 1000);
    assert_int_equal(r->psn_cash_pay, 1000);
    gongji__v1__settle_reply__free_unpacked(r, NULL);
    assert_true(balance_becomes("540600", "DW-T9", 0));
    quiet_and_audited();
}

static void test_a_sponsor_node_that_does_not_answer_leaves_the_bill_to_cash(void **state)
{
    (void)state;
    client_status st;
    family("DW-P3", "DW-S3", 3, 9000);
    test_node *nq = tc_node(&tc, "540600");
    kill(nq->pid, SIGSTOP); /* up, but answering nothing */
    Gongji__V1__SettleReply *r = NULL;
    assert_int_equal(settle("DW-P3", 4000, "dw-bill-3", &r, &st), 0);
    assert_int_equal(settle_part(r, "DW-S3"), 0);
    assert_int_equal(r->psn_cash_pay, 4000);
    gongji__v1__settle_reply__free_unpacked(r, NULL);
    kill(nq->pid, SIGCONT); /* the hold arrives late and is voided (or fenced first) */
    assert_true(balance_becomes("540600", "DW-S3", 9000));
    quiet_and_audited();
}

typedef struct pending_settle {
    const char *patient;
    const char *call_id;
    int64_t fen;
} pending_settle;

static void *settle_in_background(void *arg)
{
    pending_settle *p = arg;
    client_status st;
    Gongji__V1__SettleReply *r = NULL;
    settle(p->patient, p->fen, p->call_id, &r, &st); /* its node dies under it */
    if (r)
        gongji__v1__settle_reply__free_unpacked(r, NULL);
    return NULL;
}

/* Chengdu writes its decision and dies before the hold's answer reaches it; Nagqu, held
 * still meanwhile, makes the hold (or, killed too, never does). */
static void coordinator_dies_before_the_answer(pending_settle *p, bool sponsor_dies_too)
{
    test_node *cd = tc_node(&tc, "510100"), *nq = tc_node(&tc, "540600");
    kill(nq->pid, SIGSTOP);
    long before = tn_unread_bytes(nq);
    pthread_t t;
    pthread_create(&t, NULL, settle_in_background, p);
    /* The decision is written and the hold waits in Nagqu's socket: seen as bytes
     * Nagqu has not read (at most 10 s; a loaded machine takes longer than the usual
     * tenth of a second to get there). */
    sleep_ms(300);
    for (int i = 0; i < 200 && before >= 0 && tn_unread_bytes(nq) <= before; i++)
        sleep_ms(50);
    if (sponsor_dies_too) {
        tn_kill9(cd);
        tn_kill9(nq); /* the hold was never read */
    } else {
        kill(cd->pid, SIGSTOP); /* it will never read the answer */
        kill(nq->pid, SIGCONT);
        sleep_ms(500); /* Nagqu makes the hold and answers into a stopped process */
        tn_kill9(cd);
    }
    pthread_join(t, NULL);
}

/* A sponsor with sponsor_fen; a 40.00 bill; Chengdu dies before the hold's answer
 * reaches it. After its restart the same call is answered with the sponsor's part
 * want_part, the rest cash, and the sponsor keeps sponsor_fen - want_part. */
static void killed_coordinator_answers_what_was_held(const char *patient, const char *sponsor,
                                                     const char *call_id, int serial, int64_t sponsor_fen,
                                                     int64_t want_part)
{
    client_status st;
    family(patient, sponsor, serial, sponsor_fen);
    pending_settle p = {patient, call_id, 4000};
    coordinator_dies_before_the_answer(&p, false);
    assert_int_equal(tn_start(tc_node(&tc, "510100")), 0);
    Gongji__V1__SettleReply *r = NULL;
    assert_int_equal(settle_until_answered(patient, 4000, call_id, &r, &st), 0);
    assert_int_equal(settle_part(r, sponsor), want_part);
    assert_int_equal(r->psn_cash_pay, 4000 - want_part);
    gongji__v1__settle_reply__free_unpacked(r, NULL);
    assert_true(balance_becomes("540600", sponsor, sponsor_fen - want_part));
    quiet_and_audited();
}

/* R23: Chengdu takes in a person moving from Nagqu (Registry/MoveIn). */
static int move_in(const char *psn_no, Gongji__V1__MoveInReply **out, client_status *st)
{
    client_t *c = op_at("510100");
    Gongji__V1__MoveInRequest req = GONGJI__V1__MOVE_IN_REQUEST__INIT;
    req.psn_no = (char *)psn_no;
    req.from_admdvs = "540600";
    ProtobufCMessage *m = NULL;
    client_call(c, "gongji.v1.Registry/MoveIn", "dw-move-9", NULL, &req.base, &gongji__v1__move_in_reply__descriptor,
                &m, st);
    client_close(c);
    if (out != NULL)
        *out = (Gongji__V1__MoveInReply *)m;
    else if (m != NULL)
        protobuf_c_message_free_unpacked(m, NULL);
    return st->code;
}

static void *move_in_in_background(void *arg)
{
    client_status st;
    move_in(arg, NULL, &st); /* its node dies under it */
    return NULL;
}

/* A move killed halfway: Nagqu holds the whole balance for Chengdu, which dies before
 * the answer reaches it. Nothing moved; the hold is given up (nobody decided it); the
 * move run again takes every fen, once, and the books on both nodes agree. */
static void test_a_move_killed_halfway_moves_nothing_then_everything_once(void **state)
{
    (void)state;
    client_status st;
    person_at("540600", "DW-M9", 9, "310", 25000);
    client_t *nq = op_at("540600");
    Gongji__V1__MoveRequest mv = GONGJI__V1__MOVE_REQUEST__INIT;
    mv.psn_no = "DW-M9";
    mv.to_admdvs = "510100";
    ProtobufCMessage *m = NULL;
    client_call(nq, "gongji.v1.Registry/Move", NULL, NULL, &mv.base, &gongji__v1__move_reply__descriptor, &m, &st);
    assert_int_equal(st.code, 0);
    protobuf_c_message_free_unpacked(m, NULL);
    client_close(nq);

    test_node *cd = tc_node(&tc, "510100"), *nqn = tc_node(&tc, "540600");
    kill(nqn->pid, SIGSTOP);
    pthread_t t;
    pthread_create(&t, NULL, move_in_in_background, "DW-M9");
    sleep_ms(300); /* Chengdu asked; the MoveOut (then the hold) waits in Nagqu's socket */
    kill(cd->pid, SIGSTOP);
    kill(nqn->pid, SIGCONT);
    sleep_ms(500);
    tn_kill9(cd);
    pthread_join(t, NULL);
    assert_int_equal(tn_start(cd), 0);

    Gongji__V1__MoveInReply *in = NULL;
    int code = -1;
    for (int i = 0; i < 100 && code != 0; i++) { /* until Nagqu gave up the orphan hold */
        code = move_in("DW-M9", &in, &st);
        if (code != 0)
            sleep_ms(150);
    }
    assert_int_equal(code, 0);
    assert_int_equal(in->amount, 25000);
    gongji__v1__move_in_reply__free_unpacked(in, NULL);
    assert_true(balance_becomes("510100", "DW-M9", 25000));
    quiet_and_audited();
}

static void test_a_coordinator_killed_before_a_full_hold_answered_posts_it_after_restart(void **state)
{
    (void)state;
    killed_coordinator_answers_what_was_held("DW-P4", "DW-S4", "dw-bill-4", 4, 9000, 4000);
}

static void test_a_coordinator_killed_before_a_partial_hold_answered_corrects_to_it(void **state)
{
    (void)state;
    killed_coordinator_answers_what_was_held("DW-P5", "DW-S5", "dw-bill-5", 5, 1200, 1200);
}

/* The HTTP status of GET url (curl), or -1. */
static int http_status(const char *url)
{
    char cmd[400], out[16] = "";
    snprintf(cmd, sizeof cmd, "curl -s -o /dev/null -w '%%{http_code}' --max-time 3 '%s'", url);
    FILE *f = popen(cmd, "r");
    if (f == NULL)
        return -1;
    if (fgets(out, sizeof out, f) == NULL)
        out[0] = '\0';
    pclose(f);
    return out[0] ? atoi(out) : -1;
}

static void test_a_coordinator_killed_before_a_lost_hold_waits_then_leaves_it_to_cash(void **state)
{
    (void)state;
    client_status st;
    family("DW-P6", "DW-S6", 6, 9000);
    pending_settle p = {"DW-P6", "dw-bill-6", 4000};
    coordinator_dies_before_the_answer(&p, true);
    /* Restarted with its probes on: not ready while a settlement waits on Nagqu. */
    test_node *cd = tc_node(&tc, "510100");
    char readyz[80];
    int probe_port = th_free_port();
    snprintf(readyz, sizeof readyz, "http://127.0.0.1:%d/readyz", probe_port);
    snprintf(cd->extra + strlen(cd->extra), sizeof cd->extra - strlen(cd->extra),
             "probes_listen = http://127.0.0.1:%d\n", probe_port);
    assert_int_equal(tn_start(cd), 0);
    /* Nagqu is down: what its hold came to is unknown, so the call is not answered. */
    Gongji__V1__SettleReply *r = NULL;
    assert_int_equal(settle("DW-P6", 4000, "dw-bill-6", &r, &st), GONGJI__V1__CODE__UNAVAILABLE);
    assert_string_equal(st.reason, "SETTLEMENT_IN_FLIGHT");
    assert_null(r);
    assert_int_equal(settlements_unknown(), 1);
    assert_int_equal(http_status(readyz), 503);
    assert_int_equal(tn_start(tc_node(&tc, "540600")), 0);
    assert_int_equal(settle_until_answered("DW-P6", 4000, "dw-bill-6", &r, &st), 0);
    assert_int_equal(settle_part(r, "DW-S6"), 0);
    assert_int_equal(r->psn_cash_pay, 4000);
    gongji__v1__settle_reply__free_unpacked(r, NULL);
    assert_int_equal(settlements_unknown(), 0);
    assert_int_equal(http_status(readyz), 200);
    assert_true(balance_becomes("540600", "DW-S6", 9000));
    quiet_and_audited();
}

static void test_a_coordinator_killed_before_a_partial_hold_lets_its_own_sponsor_pay_the_rest(void **state)
{
    (void)state;
    client_status st;
    family("DW-P8", "DW-S8", 8, 1000);
    local_sponsor_after("DW-P8", "DW-L8", 80, 10000);
    pending_settle p = {"DW-P8", "dw-bill-8", 4000};
    coordinator_dies_before_the_answer(&p, false);
    assert_int_equal(tn_start(tc_node(&tc, "510100")), 0);
    Gongji__V1__SettleReply *r = NULL;
    assert_int_equal(settle_until_answered("DW-P8", 4000, "dw-bill-8", &r, &st), 0);
    assert_int_equal(settle_part(r, "DW-S8"), 1000);
    assert_int_equal(settle_part(r, "DW-L8"), 3000);
    assert_int_equal(r->psn_cash_pay, 0);
    gongji__v1__settle_reply__free_unpacked(r, NULL);
    assert_true(balance_becomes("540600", "DW-S8", 0));
    assert_true(balance_becomes("510100", "DW-L8", 7000));
    quiet_and_audited();
}

static int reverse(const char *original, Gongji__V1__ReverseReply **reply, client_status *st)
{
    client_t *inst = tn_client(tc_node(&tc, "510100"), INSTITUTION, GONGJI__V1__ROLE__INSTITUTION);
    Gongji__V1__ReverseRequest req = GONGJI__V1__REVERSE_REQUEST__INIT;
    req.original_call_id = (char *)original;
    req.insuplc_admdvs = "510100";
    ProtobufCMessage *ans = NULL;
    client_call(inst, "gongji.v1.Settlement/Reverse", NULL, NULL, &req.base, &gongji__v1__reverse_reply__descriptor,
                &ans, st);
    client_close(inst);
    *reply = (Gongji__V1__ReverseReply *)ans;
    return st->code;
}

/* A reverse that comes while the decision is written but the hold is still out cannot
 * abort the settlement any more, nor revoke it yet: it is told to try again, and then
 * revokes whatever the settlement came to. */
static void test_a_reverse_while_the_hold_is_out_is_told_to_wait_then_revokes(void **state)
{
    (void)state;
    client_status st;
    family("DW-P10", "DW-S10", 10, 9000);
    test_node *nq = tc_node(&tc, "540600");
    kill(nq->pid, SIGSTOP);
    pending_settle p = {"DW-P10", "dw-bill-10", 4000};
    pthread_t t;
    pthread_create(&t, NULL, settle_in_background, &p);
    sleep_ms(150); /* the decision is written; the hold waits in Nagqu's socket */
    Gongji__V1__ReverseReply *rr = NULL;
    assert_int_equal(reverse("dw-bill-10", &rr, &st), GONGJI__V1__CODE__UNAVAILABLE);
    assert_string_equal(st.reason, "SETTLEMENT_IN_FLIGHT");
    assert_null(rr);
    kill(nq->pid, SIGCONT);
    pthread_join(t, NULL);
    int code = -1;
    for (int i = 0; i < 50 && code != 0; i++) {
        if (rr)
            gongji__v1__reverse_reply__free_unpacked(rr, NULL);
        rr = NULL;
        if ((code = reverse("dw-bill-10", &rr, &st)) != 0)
            sleep_ms(100);
    }
    assert_int_equal(code, 0);
    assert_int_equal(rr->outcome, GONGJI__V1__REVERSE_OUTCOME__REVOKED);
    gongji__v1__reverse_reply__free_unpacked(rr, NULL);
    /* The post and then the refund reach Nagqu; in the end the sponsor has it all. */
    assert_true(balance_becomes("540600", "DW-S10", 9000));
    quiet_and_audited();
}

/* Decisions Chengdu has not had acknowledged (its audit's count), -1 on error. */
static int64_t open_decisions_at_chengdu(void)
{
    /* An audit reads the whole store; under ASan, after many families, it can take
     * longer than the harness's usual 3 s. */
    client_t *c = tn_client_ms(tc_node(&tc, "510100"), "op-1", GONGJI__V1__ROLE__OPERATOR, 15000);
    Gongji__V1__AuditReply *a = op_audit(c);
    client_close(c);
    int64_t n = a ? (int64_t)a->open_decisions : -1;
    if (a)
        gongji__v1__audit_reply__free_unpacked(a, NULL);
    return n;
}

#define WUHAN_STUCK 34 /* more than the resolver takes in one round */

typedef struct wuhan_bill {
    char patient[16];
    char call_id[32];
    int code;
    int64_t cash;
} wuhan_bill;

static void *settle_wuhan_bill(void *arg)
{
    wuhan_bill *b = arg;
    client_status st;
    Gongji__V1__SettleReply *r = NULL;
    b->code = settle(b->patient, 1000, b->call_id, &r, &st);
    b->cash = r ? r->psn_cash_pay : -1;
    if (r)
        gongji__v1__settle_reply__free_unpacked(r, NULL);
    return NULL;
}

/* With Wuhan down and more voids waiting for it than the resolver takes in a round,
 * a void for Nagqu, queued behind them, still goes out once Nagqu is back. */
static void test_a_region_that_is_down_does_not_hold_up_the_others(void **state)
{
    (void)state;
    client_status st;
    static wuhan_bill bills[WUHAN_STUCK];
    pthread_t threads[WUHAN_STUCK];
    client_t *cd = op_at("510100");
    for (int i = 0; i < WUHAN_STUCK; i++) {
        char sponsor[16];
        snprintf(bills[i].patient, sizeof bills[i].patient, "DW-W%02d", i);
        snprintf(bills[i].call_id, sizeof bills[i].call_id, "dw-wuhan-%02d", i);
        snprintf(sponsor, sizeof sponsor, "DW-WS%02d", i);
        person_at("510100", bills[i].patient, 200 + i, "310", 0);
        person_at("420100", sponsor, 200 + i, "310", 200000); /* above Wuhan's 1000.00 floor */
        assert_int_equal(bind_via("510100", sponsor, "420100", bills[i].patient, "510100",
                                   GONGJI__V1__RELATION__CHILD, &st), 0);
    }
    client_close(cd);
    family("DW-P11", "DW-S11", 11, 9000);
    assert_int_equal(open_decisions_at_chengdu(), 0);

    test_node *wh = tc_node(&tc, "420100"), *nq = tc_node(&tc, "540600");
    tn_kill9(wh);
    for (int i = 0; i < WUHAN_STUCK; i++)
        pthread_create(&threads[i], NULL, settle_wuhan_bill, &bills[i]);
    for (int i = 0; i < WUHAN_STUCK; i++) {
        pthread_join(threads[i], NULL);
        assert_int_equal(bills[i].code, 0);
        assert_int_equal(bills[i].cash, 1000); /* no answer from Wuhan: cash, and a void */
    }
    tn_kill9(nq);
    Gongji__V1__SettleReply *r = NULL;
    assert_int_equal(settle("DW-P11", 1000, "dw-bill-11", &r, &st), 0);
    assert_int_equal(r->psn_cash_pay, 1000);
    gongji__v1__settle_reply__free_unpacked(r, NULL);
    assert_int_equal(open_decisions_at_chengdu(), WUHAN_STUCK + 1);

    assert_int_equal(tn_start(nq), 0);
    int64_t open = -1;
    for (int i = 0; i < 100 && open != WUHAN_STUCK; i++) {
        if ((open = open_decisions_at_chengdu()) != WUHAN_STUCK)
            sleep_ms(50);
    }
    assert_int_equal(open, WUHAN_STUCK); /* Nagqu's void acknowledged; Wuhan's wait */

    assert_int_equal(tn_start(wh), 0);
    quiet_and_audited();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_sponsor_with_less_than_asked_pays_what_it_has_and_cash_the_rest),
        cmocka_unit_test(test_a_sponsor_here_after_the_remote_one_pays_what_it_did_not),
        cmocka_unit_test(test_a_second_remote_sponsor_is_decided_while_it_holds),
        cmocka_unit_test(test_a_sponsor_node_that_does_not_answer_leaves_the_bill_to_cash),
        cmocka_unit_test(test_a_reverse_while_the_hold_is_out_is_told_to_wait_then_revokes),
        cmocka_unit_test(test_a_coordinator_killed_before_a_full_hold_answered_posts_it_after_restart),
        cmocka_unit_test(test_a_coordinator_killed_before_a_partial_hold_answered_corrects_to_it),
        cmocka_unit_test(test_a_coordinator_killed_before_a_lost_hold_waits_then_leaves_it_to_cash),
        cmocka_unit_test(test_a_coordinator_killed_before_a_partial_hold_lets_its_own_sponsor_pay_the_rest),
        cmocka_unit_test(test_a_region_that_is_down_does_not_hold_up_the_others),
        cmocka_unit_test(test_a_move_killed_halfway_moves_nothing_then_everything_once),
    };
    return th_exit_status(cmocka_run_group_tests(tests, cluster_setup, cluster_teardown));
}
