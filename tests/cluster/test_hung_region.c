/* A region that hangs (SIGSTOP, not down) costs only the calls that name it; a node stops
 * within its bound whatever its peers did; the audit comes in pages whatever the size.
 * Real node processes over TLS. Chengdu 510100 coordinates; Nagqu 540600 keeps the
 * healthy sponsors, Wuhan 420100 the ones whose node is frozen. */
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
#include <stdatomic.h>
#include <sys/wait.h>

#include "cluster_fixture.h"
#include "gj_util.h"

#define INSTITUTION "H51010400009"
#define HEALTHY 8        /* callers settling bills whose sponsor's node answers */
#define FROZEN 32        /* callers settling, every 250 ms each, bills naming Wuhan */
#define DEADLINE_MS 3000 /* each institution's deadline */
#define SPONSOR_FEN 5000000

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One caller's loop: settle 1.00 yuan for its patient again and again. */
typedef struct caller {
    char patient[16], sponsor[16];
    int index;
    bool paced;                /* one call per 250 ms, else as fast as answered */
    _Atomic uint64_t answered; /* OK answers */
    _Atomic uint64_t late;     /* answered after the deadline, or not at all */
    _Atomic int64_t sponsor_paid;
    _Atomic int64_t slowest_ms;
} caller;

static caller healthy[HEALTHY], frozen[FROZEN];
static atomic_bool stop_callers;

static void *caller_main(void *arg)
{
    caller *k = arg;
    client_t *c = tn_client_ms(tc_node(&tc, "510100"), INSTITUTION, GONGJI__V1__ROLE__INSTITUTION, DEADLINE_MS);
    /* Set-up first, untimed: the TLS connection and the session, while every other
     * caller makes its own (under ASan that alone can outlast a deadline). A balance
     * read moves nothing. Every settlement after it counts, for time and for money. */
    for (int tries = 0; c != NULL && tries < 10 && op_balance(c, k->patient) < 0; tries++)
        sleep_ms(100);
    for (uint64_t i = 0; !atomic_load(&stop_callers); i++) {
        char call_id[48];
        snprintf(call_id, sizeof call_id, "hung-%c%02d-%06llu", k->paced ? 'f' : 'h', k->index, (unsigned long long)i);
        int64_t began = mono_ms();
        Gongji__V1__SettleReply *reply = NULL;
        client_status st;
        int code = c != NULL ? op_settle_x(c, k->patient, "510100", 100, call_id, &reply, &st) : -1;
        int64_t took = mono_ms() - began;
        if (took > atomic_load(&k->slowest_ms))
            atomic_store(&k->slowest_ms, took);
        if (code == 0 && reply != NULL && took <= DEADLINE_MS) {
            atomic_fetch_add(&k->answered, 1);
            atomic_fetch_add(&k->sponsor_paid, settle_part(reply, k->sponsor));
        } else {
            atomic_fetch_add(&k->late, 1);
            if (code == 0 && reply != NULL) /* answered late: it still paid */
                atomic_fetch_add(&k->sponsor_paid, settle_part(reply, k->sponsor));
        }
        if (reply)
            gongji__v1__settle_reply__free_unpacked(reply, NULL);
        if (k->paced && took < 250)
            sleep_ms((int)(250 - took));
    }
    client_close(c);
    return NULL;
}

static uint64_t healthy_answers(void)
{
    uint64_t n = 0;
    for (int i = 0; i < HEALTHY; i++)
        n += atomic_load(&healthy[i].answered);
    return n;
}

/* Until no node holds money or keeps a decision open, then every audit must pass. */
static void quiet_and_audited(void)
{
    bool all = false;
    for (int round = 0; round < 200 && !all; round++) {
        all = true;
        for (size_t i = 0; i < tc.count && all; i++) {
            client_t *c = tn_client(&tc.nodes[i], "op-1", GONGJI__V1__ROLE__OPERATOR);
            Gongji__V1__AuditReply *a = op_audit(c);
            client_close(c);
            all = a && a->ok && a->open_holds == 0 && a->open_decisions == 0;
            if (a)
                gongji__v1__audit_reply__free_unpacked(a, NULL);
        }
        if (!all)
            sleep_ms(50);
    }
    assert_true(all);
}

/* gongji audit --cluster over every node, as the nation's auditor; its exit code. */
static int cli_audit_cluster(const char *extra)
{
    const char *cli = getenv("GONGJI_CLI_BIN");
    assert_non_null(cli);
    th_cred(GONGJI__V1__ROLE__OPERATOR, "000000:auditor");
    char pem[300], urls[2048] = "", cmd[4096];
    th_cred_paths(GONGJI__V1__ROLE__OPERATOR, "000000:auditor", pem);
    for (size_t i = 0; i < tc.count; i++) {
        strcat(urls, i ? "," : "");
        strcat(urls, tc.nodes[i].url);
    }
    snprintf(cmd, sizeof cmd, "'%s' --ca '%s/ca/ca.crt' --crl '%s/ca/crl.pem' --cert '%s' audit --cluster '%s' %s "
             "| grep -v '^ok' | tail -30 >&2", cli, th_pki_dir(), th_pki_dir(), pem, urls, extra);
    char full[4200];
    snprintf(full, sizeof full, "bash -o pipefail -c \"%s\"", cmd);
    int rc = system(full);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static void family(caller *k, const char *sponsor_region, int serial)
{
    client_status st;
    person_at("510100", k->patient, serial, "310", 0);
    person_at(sponsor_region, k->sponsor, serial, "310", SPONSOR_FEN);
    int code = -1;
    for (int i = 0; i < 30 && code != 0; i++) {
        code = bind_via("510100", k->sponsor, sponsor_region, k->patient, "510100", GONGJI__V1__RELATION__CHILD, &st);
        if (code != 0)
            sleep_ms(100);
    }
    assert_int_equal(code, 0);
}

/* SIGSTOP Wuhan while Chengdu settles steadily for healthy and frozen families: the
 * healthy ones keep going (the pace kept is printed; on a quiet machine it is about 1.0,
 * and a node that waited on Wuhan would fall far below half), every institution is
 * answered within its deadline, and after SIGCONT every hold is resolved and the money
 * is exact. */
static void test_a_frozen_region_costs_only_the_settlements_that_name_it(void **state)
{
    (void)state;
    for (int i = 0; i < HEALTHY; i++) {
        caller *k = &healthy[i];
        snprintf(k->patient, sizeof k->patient, "HR-P%02d", i);
        snprintf(k->sponsor, sizeof k->sponsor, "HR-S%02d", i);
        k->index = i;
        family(k, "540600", 300 + i);
    }
    for (int i = 0; i < FROZEN; i++) {
        caller *k = &frozen[i];
        snprintf(k->patient, sizeof k->patient, "HR-F%02d", i);
        snprintf(k->sponsor, sizeof k->sponsor, "HR-W%02d", i);
        k->paced = true;
        k->index = i;
        family(k, "420100", 400 + i);
    }
    pthread_t threads[HEALTHY + FROZEN];
    for (int i = 0; i < HEALTHY; i++)
        pthread_create(&threads[i], NULL, caller_main, &healthy[i]);
    for (int i = 0; i < FROZEN; i++)
        pthread_create(&threads[HEALTHY + i], NULL, caller_main, &frozen[i]);

    sleep_ms(1000); /* warm: sessions opened, links up */
    uint64_t a0 = healthy_answers();
    sleep_ms(4000);
    uint64_t before = healthy_answers() - a0;
    test_node *wh = tc_node(&tc, "420100");
    kill(wh->pid, SIGSTOP);
    sleep_ms(1000); /* the first calls find out */
    uint64_t a1 = healthy_answers();
    sleep_ms(4000);
    uint64_t during = healthy_answers() - a1;
    kill(wh->pid, SIGCONT);
    sleep_ms(1500);
    atomic_store(&stop_callers, true);
    for (int i = 0; i < HEALTHY + FROZEN; i++)
        pthread_join(threads[i], NULL);

    uint64_t late = 0, frozen_answered = 0;
    int64_t slowest = 0;
    for (int i = 0; i < HEALTHY; i++) {
        late += atomic_load(&healthy[i].late);
        if (atomic_load(&healthy[i].slowest_ms) > slowest)
            slowest = atomic_load(&healthy[i].slowest_ms);
    }
    for (int i = 0; i < FROZEN; i++) {
        late += atomic_load(&frozen[i].late);
        frozen_answered += atomic_load(&frozen[i].answered);
        if (atomic_load(&frozen[i].slowest_ms) > slowest)
            slowest = atomic_load(&frozen[i].slowest_ms);
    }
    print_message("healthy settlements: %llu in 4 s before the freeze, %llu in 4 s during it (%.2f); "
                  "calls naming Wuhan answered: %llu; late or unanswered: %llu; slowest %lld ms\n",
                  (unsigned long long)before, (unsigned long long)during,
                  before ? (double)during / (double)before : 0.0, (unsigned long long)frozen_answered,
                  (unsigned long long)late, (long long)slowest);
    assert_true(before > 0);
    assert_true(during * 2 >= before);
    assert_int_equal(late, 0);

    quiet_and_audited();
    /* Money exact: each sponsor lost exactly what the answers say it paid. */
    for (int i = 0; i < HEALTHY; i++)
        assert_int_equal(balance_via("510100", healthy[i].sponsor, "540600", NULL),
                         SPONSOR_FEN - atomic_load(&healthy[i].sponsor_paid));
    for (int i = 0; i < FROZEN; i++)
        assert_int_equal(balance_via("510100", frozen[i].sponsor, "420100", NULL),
                         SPONSOR_FEN - atomic_load(&frozen[i].sponsor_paid));
    assert_int_equal(cli_audit_cluster(""), 0);
}

/* Every page of region's audit at page_size: how many pages, payments listed, and
 * whether the first page says the invariants hold. */
static size_t audit_pages(client_t *c, uint32_t page_size, size_t *coordinated, size_t *participated, bool *ok)
{
    Gongji__V1__AuditRequest req = GONGJI__V1__AUDIT_REQUEST__INIT;
    req.page_size = page_size;
    char token[80] = "";
    size_t pages = 0;
    *coordinated = *participated = 0;
    for (;;) {
        req.page_token = token;
        ProtobufCMessage *m = NULL;
        client_status st;
        assert_int_equal(client_call(c, "gongji.v1.Operator/Audit", NULL, NULL, &req.base,
                                     &gongji__v1__audit_reply__descriptor, &m, &st),
                         GJ_OK);
        assert_int_equal(st.code, 0);
        Gongji__V1__AuditReply *a = (Gongji__V1__AuditReply *)m;
        assert_int_equal(a->first_page, pages == 0);
        if (pages == 0)
            *ok = a->ok;
        /* A page runs over only by the rest of one settlement's parts. */
        assert_true(a->n_coordinated + a->n_participated <= page_size + GJ_SPONSORS_MAX);
        *coordinated += a->n_coordinated;
        *participated += a->n_participated;
        pages++;
        snprintf(token, sizeof token, "%s", a->next_page_token);
        gongji__v1__audit_reply__free_unpacked(a, NULL);
        if (token[0] == '\0')
            break;
        assert_true(pages < 10000);
    }
    return pages;
}

/* The audit in pages smaller than what the nodes hold (the first test left Chengdu
 * with hundreds to thousands of cross-region payments, as fast as the build runs):
 * pages of a tenth of them list the same payments as the largest pages, and the
 * cluster's cross-check passes through the CLI, 50 a page. */
static void test_the_audit_comes_in_pages(void **state)
{
    (void)state;
    client_t *c = op_at("510100");
    size_t small_c, small_p, big_c, big_p;
    bool small_ok = false, big_ok = false;
    size_t big = audit_pages(c, GJ_AUDIT_PAGE_MAX, &big_c, &big_p, &big_ok);
    assert_true(big_c > 150);
    uint32_t small_size = (uint32_t)(big_c / 10);
    size_t small = audit_pages(c, small_size, &small_c, &small_p, &small_ok);
    print_message("Chengdu's audit: %zu pages of %u, %zu of %d; %zu coordinated, %zu participated\n", small,
                  small_size, big, GJ_AUDIT_PAGE_MAX, small_c, small_p);
    assert_true(small_ok && big_ok);
    assert_true(small > 5 && small > big);
    assert_int_equal(small_c, big_c);
    assert_int_equal(small_p, big_p);
    /* A token the node never gave, and a page too large, are refused. */
    Gongji__V1__AuditRequest req = GONGJI__V1__AUDIT_REQUEST__INIT;
    req.page_token = "x510100";
    ProtobufCMessage *m = NULL;
    client_status st;
    client_call(c, "gongji.v1.Operator/Audit", NULL, NULL, &req.base, &gongji__v1__audit_reply__descriptor, &m, &st);
    assert_string_equal(st.reason, "FIELD_INVALID");
    if (m)
        protobuf_c_message_free_unpacked(m, NULL);
    req.page_token = "";
    req.page_size = GJ_AUDIT_PAGE_MAX + 1;
    m = NULL;
    client_call(c, "gongji.v1.Operator/Audit", NULL, NULL, &req.base, &gongji__v1__audit_reply__descriptor, &m, &st);
    assert_string_equal(st.reason, "FIELD_INVALID");
    if (m)
        protobuf_c_message_free_unpacked(m, NULL);
    client_close(c);
    assert_int_equal(cli_audit_cluster("--page-size 50"), 0);

    /* A caller whose deadline passes mid-audit: the node stops that work, says how far
     * it got, and stays idle. One connection; each call's deadline (in the envelope the
     * node reads) a millisecond shorter after an answer in full and a millisecond longer
     * after a refusal before the scan, so the deadlines stay at the edge where the scan
     * runs; each call starts at a random point of its millisecond, so even a scan of
     * well under one (a slow build with few payments) is caught mid-way. */
    bool stopped = false;
    int deadline_ms = 1;
    unsigned seed = (unsigned)gj_mono_ms();
    test_node *cd = tc_node(&tc, "510100");
    client_t *quick = tn_client_ms(cd, "op-1", GONGJI__V1__ROLE__OPERATOR, 3000);
    assert_non_null(quick);
    assert_true(op_balance(quick, "HR-P00") >= 0); /* connected, session open */
    char last[256] = "";
    for (int attempt = 0; attempt < 600 && !stopped; attempt++) {
        Gongji__V1__AuditRequest ask = GONGJI__V1__AUDIT_REQUEST__INIT;
        ask.page_size = GJ_AUDIT_PAGE_MAX;
        uint8_t payload[64];
        Gongji__V1__Envelope env = GONGJI__V1__ENVELOPE__INIT;
        env.method = "gongji.v1.Operator/Audit";
        env.caller_id = "510100:op-1";
        env.caller_role = GONGJI__V1__ROLE__OPERATOR;
        env.dest_region = "";
        env.payload = (ProtobufCBinaryData){.len = protobuf_c_message_pack(&ask.base, payload), .data = payload};
        struct timespec phase = {0, (long)(rand_r(&seed) % 1000) * 1000};
        nanosleep(&phase, NULL);
        env.deadline_unix_ms = gj_now_unix_ms() + deadline_ms;
        Gongji__V1__Reply *r = NULL;
        assert_int_equal(client_call_envelope(quick, &env, &r), GJ_OK);
        assert_non_null(r);
        snprintf(last, sizeof last, "%s %s", r->reason, r->message);
        stopped = r->code == GONGJI__V1__CODE__DEADLINE_EXCEEDED && strstr(r->message, "the audit stopped after") != NULL;
        bool answered = r->code == 0;
        gongji__v1__reply__free_unpacked(r, NULL);
        if (answered && deadline_ms > 1)
            deadline_ms--;
        else if (!answered && !stopped)
            deadline_ms++;
    }
    client_close(quick);
    if (!stopped)
        print_message("no call ended mid-audit; the last answer: %s\n", last);
    assert_true(stopped);
    char log[300], cmd[400];
    snprintf(log, sizeof log, "%s/node.log", cd->dir);
    snprintf(cmd, sizeof cmd, "grep -q 'Operator/Audit .*reason=DEADLINE_PASSED ms=[0-9.]* detail=the audit stopped after' '%s'",
             log);
    assert_int_equal(system(cmd), 0);
    client_t *h = op_at("510100");
    Gongji__V1__HealthRequest hreq = GONGJI__V1__HEALTH_REQUEST__INIT;
    ProtobufCMessage *hans = NULL;
    client_status hst;
    assert_int_equal(client_call(h, "gongji.v1.Operator/Health", NULL, NULL, &hreq.base,
                                 &gongji__v1__health_reply__descriptor, &hans, &hst),
                     GJ_OK);
    assert_non_null(hans);
    assert_int_equal(((Gongji__V1__HealthReply *)hans)->in_flight, 1); /* this call alone */
    protobuf_c_message_free_unpacked(hans, NULL);
    client_close(h);
}

/* Freeze Nagqu while Chengdu asks it for holds, resume it, then stop every node in
 * turn: each exits 0 within its bound; restarted, nothing answered is lost. */
static void test_every_node_stops_within_its_bound_after_a_peer_froze(void **state)
{
    (void)state;
    caller k = {0};
    snprintf(k.patient, sizeof k.patient, "HR-Q00");
    snprintf(k.sponsor, sizeof k.sponsor, "HR-N00");
    family(&k, "540600", 500);
    test_node *nq = tc_node(&tc, "540600");
    kill(nq->pid, SIGSTOP);
    int64_t paid = 0;
    for (int i = 0; i < 6; i++) {
        char call_id[32];
        snprintf(call_id, sizeof call_id, "hung-stop-%d", i);
        Gongji__V1__SettleReply *r = NULL;
        client_status st;
        client_t *c = tn_client_ms(tc_node(&tc, "510100"), INSTITUTION, GONGJI__V1__ROLE__INSTITUTION, DEADLINE_MS);
        if (op_settle_x(c, k.patient, "510100", 100, call_id, &r, &st) == 0 && r != NULL)
            paid += settle_part(r, k.sponsor);
        if (r)
            gongji__v1__settle_reply__free_unpacked(r, NULL);
        client_close(c);
    }
    kill(nq->pid, SIGCONT);
    sleep_ms(300);
    int64_t balances_before = balance_via("510100", k.sponsor, "540600", NULL);
    const char *order[] = {"510100", "430000", "540600", "420100", "430100", "430300", "430200", "350100"};
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        test_node *tn = tc_node(&tc, order[i]);
        if (tn == NULL || tn->pid <= 0)
            continue;
        int64_t took = 0;
        int rc = tn_stop_within(tn, GJ_STOP_BOUND_MS + 3000, &took);
        print_message("node %s stopped in %lld ms, status %d\n", order[i], (long long)took, rc);
        assert_int_equal(rc, 0);
        assert_true(took <= GJ_STOP_BOUND_MS + 2000);
    }
    assert_int_equal(tc_start(&tc), 0);
    quiet_and_audited();
    int64_t after = balance_via("510100", k.sponsor, "540600", NULL);
    /* What was answered stays: the sponsor paid exactly what the answers said. */
    assert_int_equal(after, SPONSOR_FEN - paid);
    assert_true(balances_before >= after);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_frozen_region_costs_only_the_settlements_that_name_it),
        cmocka_unit_test(test_the_audit_comes_in_pages),
        cmocka_unit_test(test_every_node_stops_within_its_bound_after_a_peer_froze),
    };
    return th_exit_status(cmocka_run_group_tests(tests, cluster_setup, cluster_teardown));
}
