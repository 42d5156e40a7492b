/* A standby on a failover stack, simulated on one machine: Xiangtan's node (the sponsors')
 * runs at one URL; Changsha's node knows Xiangtan at that URL and at a standby's. Under
 * a stream of cross-region settlements the primary is killed with -9 and the standby
 * process starts on the same data directory (what DRBD and Pacemaker would hand it) at
 * the other URL. Changsha carries on through the standby: every settlement asked again
 * gets its first answer or is settled now, each sponsor's balance is exactly what the
 * answers say, and both audits agree. The directory lock makes a double start impossible. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "gj_util.h"
#include "harness.h"

#define SPONSORS 4
#define CALLS 240
#define START_FEN 1000000

static test_node cs, xt;
static char standby_url[128];

typedef struct rec {
    char call_id[32];
    int sponsor;
    int64_t amount;
    bool answered;
    int64_t paid; /* by the sponsor, as answered */
} rec;
static rec recs[CALLS];
static atomic_int next_call;

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static bool settle(client_t *c, rec *r)
{
    char patient[16], sponsor[16];
    snprintf(patient, sizeof patient, "CS-P%d", r->sponsor);
    snprintf(sponsor, sizeof sponsor, "XT-S%d", r->sponsor);
    Gongji__V1__SettleReply *reply = NULL;
    client_status st;
    if (op_settle_x(c, patient, "430100", r->amount, r->call_id, &reply, &st) != 0 || reply == NULL) {
        if (reply != NULL)
            gongji__v1__settle_reply__free_unpacked(reply, NULL);
        return false;
    }
    r->paid = settle_part(reply, sponsor);
    r->answered = true;
    gongji__v1__settle_reply__free_unpacked(reply, NULL);
    return true;
}

static void *institution(void *arg)
{
    (void)arg;
    client_t *c = tn_client_ms(&cs, "H43010000001", GONGJI__V1__ROLE__INSTITUTION, 3000);
    for (int i; (i = atomic_fetch_add(&next_call, 1)) < CALLS;) {
        settle(c, &recs[i]);
        sleep_ms(5);
    }
    client_close(c);
    return NULL;
}

static void test_a_standby_on_the_same_data_directory_takes_over(void **state)
{
    (void)state;
    client_status st;
    tn_init(&xt, "430300", "live = yes\nrelations = spouse,parent,child\ncascade = yes\n");
    tn_init(&cs, "430100", "live = yes\nrelations = spouse,parent,child\ncascade = yes\n");
    snprintf(standby_url, sizeof standby_url, "tls+tcp://127.0.0.1:%d", th_free_port());
    snprintf(xt.peers, sizeof xt.peers, "430100 = %s\n", cs.url);
    /* Changsha knows Xiangtan at both URLs: the primary's and the standby's. */
    snprintf(cs.peers, sizeof cs.peers, "430300 = %s, %s\n", xt.url, standby_url);
    snprintf(cs.extra, sizeof cs.extra, "peer_timeout_ms = 500\nresolve_interval_ms = 200\nresolve_after_ms = 1000\n");
    snprintf(xt.extra, sizeof xt.extra, "peer_timeout_ms = 500\nresolve_interval_ms = 200\nresolve_after_ms = 1000\n");
    assert_int_equal(tn_start(&xt), 0);
    assert_int_equal(tn_start(&cs), 0);
    client_t *xo = tn_client(&xt, "op-1", GONGJI__V1__ROLE__OPERATOR), *co = tn_client(&cs, "op-1", GONGJI__V1__ROLE__OPERATOR);
    for (int s = 0; s < SPONSORS; s++) {
        char sponsor[16], patient[16];
        snprintf(sponsor, sizeof sponsor, "XT-S%d", s);
        snprintf(patient, sizeof patient, "CS-P%d", s);
        assert_int_equal(op_enroll(xo, sponsor, 10 + s, "310", "430300", &st), 0);
        assert_int_equal(op_credit(xo, sponsor, START_FEN, &st), 0);
        assert_int_equal(op_enroll(co, patient, 20 + s, "390", "430100", &st), 0);
        client_t *p = tn_client(&xt, sponsor, GONGJI__V1__ROLE__PERSON);
        assert_int_equal(op_bind_x(p, sponsor, "430300", patient, "430100", GONGJI__V1__RELATION__CHILD, &st), 0);
        client_close(p);
    }
    client_close(xo);
    for (int i = 0; i < CALLS; i++) {
        snprintf(recs[i].call_id, sizeof recs[i].call_id, "standby-%d", i);
        recs[i].sponsor = i % SPONSORS;
        recs[i].amount = 100 + i;
    }
    pthread_t t[2];
    for (int k = 0; k < 2; k++)
        assert_int_equal(pthread_create(&t[k], NULL, institution, NULL), 0);
    while (atomic_load(&next_call) < CALLS / 3)
        sleep_ms(5);
    /* The primary dies; the failover stack starts the standby on its data directory. */
    tn_kill9(&xt);
    snprintf(xt.url, sizeof xt.url, "%s", standby_url);
    assert_int_equal(tn_start(&xt), 0);
    for (int k = 0; k < 2; k++)
        pthread_join(t[k], NULL);

    /* Every call asked again: its first answer, or settled now; then money is exact. */
    client_t *c = tn_client_ms(&cs, "H43010000001", GONGJI__V1__ROLE__INSTITUTION, 3000);
    int answered_during = 0;
    for (int i = 0; i < CALLS; i++) {
        answered_during += recs[i].answered;
        int64_t first = recs[i].answered ? recs[i].paid : -1;
        bool ok = false;
        for (int tries = 0; tries < 40 && !ok; tries++)
            if (!(ok = settle(c, &recs[i])))
                sleep_ms(250);
        if (!ok)
            fail_msg("%s got no answer through the standby", recs[i].call_id);
        if (first >= 0)
            assert_int_equal(recs[i].paid, first);
    }
    client_close(c);
    fprintf(stderr, "  %d of %d settlements answered while the primary died and the standby came up\n",
            answered_during, CALLS);
    client_t *x = tn_client(&xt, "op-1", GONGJI__V1__ROLE__OPERATOR);
    for (int s = 0; s < SPONSORS; s++) {
        char sponsor[16];
        snprintf(sponsor, sizeof sponsor, "XT-S%d", s);
        int64_t paid = 0;
        for (int i = 0; i < CALLS; i++)
            if (recs[i].sponsor == s)
                paid += recs[i].paid;
        int64_t got = -1, held = -1;
        for (int tries = 0; tries < 100; tries++) {
            got = op_balance_x(x, sponsor, NULL, &held);
            if (got == START_FEN - paid && held == 0)
                break;
            sleep_ms(50);
        }
        assert_int_equal(held, 0);
        assert_int_equal(got, START_FEN - paid);
    }
    /* Both nodes' books balance, and every payment is on both sides once (once nothing
     * is held or waiting for an acknowledgement). */
    Gongji__V1__AuditReply *a = NULL, *b = NULL;
    for (int tries = 0; tries < 100; tries++) {
        if (a != NULL)
            gongji__v1__audit_reply__free_unpacked(a, NULL);
        if (b != NULL)
            gongji__v1__audit_reply__free_unpacked(b, NULL);
        a = op_audit(x);
        b = op_audit(co);
        assert_non_null(a);
        assert_non_null(b);
        if (a->open_holds == 0 && b->open_decisions == 0)
            break;
        sleep_ms(100);
    }
    assert_int_equal(a->open_holds, 0);
    assert_int_equal(b->open_decisions, 0);
    assert_true(a->ok);
    assert_true(b->ok);
    assert_int_equal(a->n_participated, b->n_coordinated);
    gongji__v1__audit_reply__free_unpacked(a, NULL);
    gongji__v1__audit_reply__free_unpacked(b, NULL);
    client_close(x);
    client_close(co);
    assert_int_equal(tn_stop(&xt), 0);
    assert_int_equal(tn_stop(&cs), 0);
    tn_destroy(&xt);
    tn_destroy(&cs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_standby_on_the_same_data_directory_takes_over),
    };
    return th_exit_status(cmocka_run_group_tests(tests, NULL, NULL));
}
