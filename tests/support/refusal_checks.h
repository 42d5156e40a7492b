/* What a refused request must leave as it was, checked on every node of the test
 * cluster: each node's totals (by its audit, which must pass), open holds, and the
 * accounts of the people a test watches; and that the node still serves. Shared by the
 * trust tests; include after cluster_fixture.h. */
#ifndef GJ_REFUSAL_CHECKS_H
#define GJ_REFUSAL_CHECKS_H

#include <stdarg.h>

#include "cluster_fixture.h"

/* ---- money on every node: read before a refusal, compared after it ---- */

typedef struct watched {
    const char *region, *psn_no;
    int64_t balance, held;
} watched;

typedef struct snapshot {
    int64_t total[TC_NODES_MAX], held[TC_NODES_MAX], credited[TC_NODES_MAX], paid[TC_NODES_MAX];
    uint64_t open_holds[TC_NODES_MAX];
    size_t n_people;
    watched people[4];
} snapshot;

__attribute__((unused)) static Gongji__V1__AuditReply *audit_at(const char *region)
{
    client_t *c = tn_auditor(tc_node(&tc, region));
    assert_non_null(c);
    Gongji__V1__AuditReply *a = op_audit(c);
    client_close(c);
    assert_non_null(a);
    return a;
}

/* Posts follow answers: wait (bounded) until no node holds or owes a decision. */
__attribute__((unused)) static void wait_quiet(void)
{
    for (int round = 0; round < 50; round++) {
        bool quiet = true;
        for (size_t i = 0; i < tc.count && quiet; i++) {
            Gongji__V1__AuditReply *a = audit_at(tc.nodes[i].region);
            quiet = a->open_holds == 0 && a->open_decisions == 0;
            gongji__v1__audit_reply__free_unpacked(a, NULL);
        }
        if (quiet)
            return;
        sleep_ms(100);
    }
    fail_msg("the federation did not settle down");
}

/* Every node's totals (by its audit, which must pass) and each watched person's
 * account, read by the nation's operator on the person's own node. */
__attribute__((unused)) static void snap_read(snapshot *s)
{
    for (size_t i = 0; i < tc.count; i++) {
        Gongji__V1__AuditReply *a = audit_at(tc.nodes[i].region);
        for (size_t f = 0; f < a->n_failures; f++)
            print_message("%s: %s\n", a->region, a->failures[f]);
        assert_true(a->ok);
        s->total[i] = a->total_balance;
        s->held[i] = a->total_held;
        s->credited[i] = a->total_credited;
        s->paid[i] = a->total_paid_out;
        s->open_holds[i] = a->open_holds;
        gongji__v1__audit_reply__free_unpacked(a, NULL);
    }
    for (size_t k = 0; k < s->n_people; k++) {
        watched *w = &s->people[k];
        client_t *c = tn_auditor(tc_node(&tc, w->region));
        w->balance = op_balance_x(c, w->psn_no, NULL, &w->held);
        client_close(c);
        assert_true(w->balance >= 0);
    }
}

/* Before: region, psn_no pairs of the people to watch, NULL-terminated. */
__attribute__((unused)) static void snap(snapshot *s, ...)
{
    memset(s, 0, sizeof *s);
    va_list ap;
    va_start(ap, s);
    const char *region;
    while ((region = va_arg(ap, const char *)) != NULL) {
        assert_true(s->n_people < sizeof s->people / sizeof s->people[0]);
        s->people[s->n_people].region = region;
        s->people[s->n_people++].psn_no = va_arg(ap, const char *);
    }
    va_end(ap);
    wait_quiet();
    snap_read(s);
}

/* After: not a fen moved, held or released anywhere (read at once: a hold a refusal
 * let through would show here before anything voided it). */
__attribute__((unused)) static void assert_nothing_moved(const snapshot *before)
{
    snapshot now = *before;
    snap_read(&now);
    for (size_t i = 0; i < tc.count; i++) {
        if (now.total[i] != before->total[i] || now.held[i] != before->held[i] ||
            now.credited[i] != before->credited[i] || now.paid[i] != before->paid[i])
            print_message("node %s moved: balance %lld -> %lld, held %lld -> %lld\n", tc.nodes[i].region,
                          (long long)before->total[i], (long long)now.total[i], (long long)before->held[i],
                          (long long)now.held[i]);
        assert_int_equal(now.total[i], before->total[i]);
        assert_int_equal(now.held[i], before->held[i]);
        assert_int_equal(now.credited[i], before->credited[i]);
        assert_int_equal(now.paid[i], before->paid[i]);
        assert_int_equal(now.open_holds[i], before->open_holds[i]);
    }
    for (size_t k = 0; k < before->n_people; k++) {
        assert_int_equal(now.people[k].balance, before->people[k].balance);
        assert_int_equal(now.people[k].held, before->people[k].held);
    }
}

/* The node still answers a normal call from its own operator. */
__attribute__((unused)) static void assert_serves(const char *region)
{
    client_t *c = op_at(region);
    Gongji__V1__HealthRequest req = GONGJI__V1__HEALTH_REQUEST__INIT;
    Gongji__V1__HealthReply *h = NULL;
    client_status st;
    client_call(c, "gongji.v1.Operator/Health", NULL, NULL, &req.base, &gongji__v1__health_reply__descriptor,
                (ProtobufCMessage **)&h, &st);
    assert_int_equal(st.code, 0);
    assert_string_equal(h->region, region);
    gongji__v1__health_reply__free_unpacked(h, NULL);
    client_close(c);
}

/* A refusal with exactly this code and reason, and in_message (unless NULL) in its text. */
__attribute__((unused)) static void expect_refusal(const client_status *st, int code, const char *reason, const char *in_message)
{
    if (st->code != code || strcmp(st->reason, reason) != 0)
        print_message("expected %d %s, got %d %s: %s\n", code, reason, st->code, st->reason, st->message);
    assert_int_equal(st->code, code);
    assert_string_equal(st->reason, reason);
    if (in_message != NULL && strstr(st->message, in_message) == NULL)
        fail_msg("'%s' is not in the message '%s'", in_message, st->message);
}

#endif
