/* The shared fixture of the cmocka tests that run a whole test cluster: include it
 * after <cmocka.h>, once, in a test program. One cluster per program (the group
 * setup starts it, the group teardown stops it and fails if a node does not stop
 * cleanly, as a leak under ASan would make it). */
#ifndef GJ_CLUSTER_FIXTURE_H
#define GJ_CLUSTER_FIXTURE_H

#include <time.h>

#include "harness.h"

static test_cluster tc;

/* A client for region's node, as an operator. */
static client_t *op_at(const char *region)
{
    return tn_client(tc_node(&tc, region), "op-1", GONGJI__V1__ROLE__OPERATOR);
}

/* The sponsor binds (through the service platform) at region's node: a binding is the
 * sponsor's own act, or its home region operator's. */
__attribute__((unused)) static int bind_via(const char *region, const char *sponsor, const char *sponsor_region, const char *beneficiary,
                    const char *beneficiary_region, int relation, client_status *st)
{
    client_t *c = tn_client(tc_node(&tc, region), sponsor, GONGJI__V1__ROLE__PERSON);
    int code = op_bind_x(c, sponsor, sponsor_region, beneficiary, beneficiary_region, relation, st);
    client_close(c);
    return code;
}

/* An institution settles at region's node (wherever the patient is insured). */
__attribute__((unused)) static int settle_by_institution(const char *region, const char *psn_no, const char *psn_region, int64_t fen,
                      const char *call_id, Gongji__V1__SettleReply **reply, client_status *st)
{
    client_t *c = tn_client(tc_node(&tc, region), "H43010000001", GONGJI__V1__ROLE__INSTITUTION);
    int code = op_settle_x(c, psn_no, psn_region, fen, call_id, reply, st);
    client_close(c);
    return code;
}

/* A balance read through region's node by the nation's operator, who may read any
 * region's (another region's operator may not). */
__attribute__((unused)) static int64_t balance_via(const char *region, const char *psn_no, const char *psn_region, int64_t *held)
{
    client_t *c = tn_auditor(tc_node(&tc, region));
    int64_t balance = op_balance_x(c, psn_no, psn_region, held);
    client_close(c);
    return balance;
}

__attribute__((unused)) static int cluster_setup(void **state)
{
    (void)state;
    tc_init(&tc, NULL);
    return tc_start(&tc);
}

static int cluster_teardown(void **state)
{
    (void)state;
    int rc = 0;
    for (size_t i = 0; i < tc.count; i++)
        if (tc.nodes[i].pid > 0 && tn_stop(&tc.nodes[i]) != 0)
            rc = -1;
    tc_destroy(&tc);
    if (th_log_leaks_total() > 0)
        rc = -1; /* a node logged a person or ID number in full */
    if (rc != 0)
        th_note_failure();
    return rc;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Posts follow the answer: wait (bounded) until psn_no's balance reads want. */
__attribute__((unused)) static int64_t balance_settles_at(client_t *c, const char *psn_no, const char *region,
                                                          int64_t want)
{
    int64_t got = -1, held = -1;
    for (int i = 0; i < 100; i++) {
        got = op_balance_x(c, psn_no, region, &held);
        if (got == want && held == 0)
            break;
        sleep_ms(50);
    }
    assert_int_equal(held, 0);
    return got;
}

/* Once no node holds money or keeps a decision open: every node's audit passes, every
 * payment a node coordinated is posted exactly once at its sponsor's node, nothing is
 * posted that was not decided, and at least min_matched payments crossed regions. */
__attribute__((unused)) static void cluster_audit_agrees(size_t min_matched)
{
    Gongji__V1__AuditReply *audits[TC_NODES_MAX] = {0};
    for (int round = 0; round < 100; round++) {
        bool quiet = true;
        for (size_t i = 0; i < tc.count; i++) {
            if (audits[i])
                gongji__v1__audit_reply__free_unpacked(audits[i], NULL);
            client_t *c = tn_client(&tc.nodes[i], "op-1", GONGJI__V1__ROLE__OPERATOR);
            audits[i] = op_audit(c);
            client_close(c);
            assert_non_null(audits[i]);
            quiet &= audits[i]->open_holds == 0 && audits[i]->open_decisions == 0;
        }
        if (quiet)
            break;
        sleep_ms(100);
    }
    size_t matched = 0, participated = 0;
    for (size_t i = 0; i < tc.count; i++) {
        Gongji__V1__AuditReply *a = audits[i];
        for (size_t f = 0; f < a->n_failures; f++)
            print_message("%s: %s\n", a->region, a->failures[f]);
        assert_true(a->ok);
        assert_int_equal(a->open_holds, 0);
        assert_int_equal(a->open_decisions, 0);
        participated += a->n_participated;
        for (size_t k = 0; k < a->n_coordinated; k++) {
            Gongji__V1__CrossPayment *p = a->coordinated[k];
            size_t found = 0;
            for (size_t j = 0; j < tc.count; j++) {
                if (strcmp(audits[j]->region, p->sponsor_admdvs) != 0)
                    continue;
                for (size_t m = 0; m < audits[j]->n_participated; m++) {
                    Gongji__V1__CrossPayment *q = audits[j]->participated[m];
                    if (strcmp(q->setl_id, p->setl_id) == 0 && q->leg == p->leg) {
                        assert_int_equal(q->amount, p->amount);
                        found++;
                    }
                }
            }
            assert_int_equal(found, 1);
            matched++;
        }
    }
    assert_int_equal(matched, participated); /* nothing posted that was not decided */
    assert_true(matched >= min_matched);
    for (size_t i = 0; i < tc.count; i++)
        gongji__v1__audit_reply__free_unpacked(audits[i], NULL);
}

/* Wait until no node has holds, posts, voids or refunds left to deliver (bounded). */
__attribute__((unused)) static void cluster_quiet(void)
{
    for (int round = 0; round < 400; round++) { /* generous: ASan on a busy machine */
        bool all = true;
        for (size_t i = 0; i < tc.count && all; i++) {
            client_t *c = tn_client(&tc.nodes[i], "op-1", GONGJI__V1__ROLE__OPERATOR);
            Gongji__V1__AuditReply *a = op_audit(c);
            client_close(c);
            all = a && a->open_holds == 0 && a->open_decisions == 0;
            if (a)
                gongji__v1__audit_reply__free_unpacked(a, NULL);
        }
        if (all)
            return;
        sleep_ms(50);
    }
    fail_msg("the cluster did not go quiet");
}

/* Enroll psn_no in region (an employee with fen credited, or a resident). */
static void person_at(const char *region, const char *psn_no, int serial, const char *insutype, int64_t fen)
{
    client_t *c = op_at(region);
    client_status st;
    int code = op_enroll(c, psn_no, serial, insutype, region, &st);
    if (code == GONGJI__V1__CODE__DEADLINE_EXCEEDED)
        tn_print_stacks(tc_node(&tc, region)); /* a node gone silent */
    if (code != 0)
        tn_print_log_tail(tc_node(&tc, region), 12);
    assert_int_equal(code, 0);
    if (fen > 0)
        assert_int_equal(op_credit(c, psn_no, fen, &st), 0);
    client_close(c);
}

#endif
