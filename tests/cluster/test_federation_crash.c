/* Cross-region settlement under crashes (SPEC §5, §6, §7 "Durable"): institutions keep
 * settling against two coordinators while the sponsor nodes and one coordinator are
 * killed with SIGKILL and restarted. When the cluster has been quiet for a moment, every
 * node must have finished or undone every payment by itself, and money must be exact:
 * derived only from the answers the institutions got and from the nodes' audits, never
 * from expected totals written into the test.
 *
 *   Changsha 430100 (single sponsor) coordinates for 8 residents, each with a Xiangtan
 *   430300 sponsor first (through the Hunan hub) and a Changsha sponsor second.
 *   Chengdu 510100 (cascade, pilot) coordinates for 8 employees with 50.00 yuan of
 *   their own, each with a Nagqu 540600 sponsor (cross-province, small account, so
 *   cascades happen) then a Chengdu sponsor.
 *
 * Four institutions (threads) send 40 settlements each, half to each coordinator, in
 * bursts: one burst per kill, the kill landing after a random part of the burst has gone
 * out (so coordinators die with decisions open and sponsors' nodes with holds open),
 * and a last burst with every node up. Kills: Xiangtan, Changsha, Nagqu, twice over,
 * each down 200-400 ms (GONGJI_CRASH_DOWN_MS overrides, e.g. 2500 to outlast the
 * client's 2 s deadline). A call that gets no answer is retried once, with the same call
 * id, when its node is back. Note that a client's nng REQ socket itself resends a
 * request whose connection broke, so with short outages most calls to a killed
 * coordinator are answered on the first attempt, by the restarted node.
 *
 * At the end every call id is asked once more: an answered one must get the same
 * answer again (answers survive kill -9), one never answered gets its answer now. Then,
 * once no node holds money or keeps a decision open (at most 15 s), the checks: every
 * audit ok; coordinated and participated lists match one to one across nodes; every
 * answered remote part is in its coordinator's list and every list entry in an answer;
 * each sponsor's balance is credited less what the answers say it paid, and less what
 * its own node says it posted; own accounts likewise; nothing left held. The checks are
 * in federation_crash_checks.c, what both files share in federation_crash.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "gj_util.h"
#include "harness.h"
#include "federation_crash.h"



const char *const coord_region[COORDS] = {CHANGSHA, CHENGDU};
family families[COORDS][FAMILIES];
call_rec recs[CALLS];
static pthread_mutex_t rec_mu = PTHREAD_MUTEX_INITIALIZER;
static int unexpected_codes; /* failures other than "no answer in time" */

/* ---- what the chaos thread (main) tells the workers ---- */

static pthread_mutex_t up_mu = PTHREAD_MUTEX_INITIALIZER;
static bool coord_up[COORDS] = {true, true};
static atomic_bool chaos_done;
static pthread_mutex_t burst_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t burst_cv = PTHREAD_COND_INITIALIZER;
static int burst;           /* the burst under way, 1..BURSTS; 0 before the first */
static int burst_done[BURSTS + 1]; /* workers through with their calls of burst b */
static atomic_int calls_started;
static atomic_int in_flight[COORDS]; /* calls sent to each coordinator, not yet answered */
static atomic_llong slowest_ms;
test_cluster tc;
static bool test_passed;
static int64_t t0_ms;

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* With burst_mu held: wait for a change, at most 50 ms. */
static void burst_wait(void)
{
    struct timespec ts = gj_time_after_us(CLOCK_REALTIME, 50 * 1000);
    pthread_cond_timedwait(&burst_cv, &burst_mu, &ts);
}

static bool is_up(int coord)
{
    pthread_mutex_lock(&up_mu);
    bool up = coord_up[coord];
    pthread_mutex_unlock(&up_mu);
    return up;
}

static void set_up(int coord, bool up)
{
    pthread_mutex_lock(&up_mu);
    coord_up[coord] = up;
    pthread_mutex_unlock(&up_mu);
}

static void inst_identity(int thread, char out[32])
{
    snprintf(out, 32, "H%02d0100001", 43 + thread); /* one institution per thread */
}

static client_t *open_client(test_node *tn, const char *caller_id, int role, int timeout_ms)
{
    return tn_client_ms(tn, caller_id, role, timeout_ms);
}

/* ---- recording answers ---- */

static void add_problem(call_rec *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add_problem(call_rec *r, const char *fmt, ...)
{
    if (r->problem[0] != '\0')
        return; /* the first is enough */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->problem, sizeof r->problem, fmt, ap);
    va_end(ap);
}

/* An OK answer: keep the first; a later one for the same call id must be the same. */
static void record_answer(call_rec *r, const Gongji__V1__SettleReply *a)
{
    pthread_mutex_lock(&rec_mu);
    r->answers++;
    if (!r->answered) {
        r->answered = true;
        snprintf(r->setl_id, sizeof r->setl_id, "%s", a->setl_id);
        r->acct_pay = a->acct_pay;
        r->mulaid = a->acct_mulaid_pay;
        r->cash = a->psn_cash_pay;
        r->n_parts = a->n_parts < MAX_PARTS ? a->n_parts : MAX_PARTS;
        if (a->n_parts > MAX_PARTS)
            add_problem(r, "%zu parts", a->n_parts);
        int64_t sum = 0;
        for (size_t k = 0; k < r->n_parts; k++) {
            snprintf(r->parts[k].psn_no, sizeof r->parts[k].psn_no, "%s", a->parts[k]->sponsor_psn_no);
            snprintf(r->parts[k].admdvs, sizeof r->parts[k].admdvs, "%s", a->parts[k]->sponsor_admdvs);
            r->parts[k].amount = a->parts[k]->amount;
            sum += a->parts[k]->amount;
            if (a->parts[k]->amount <= 0)
                add_problem(r, "part of %s is %" PRId64, a->parts[k]->sponsor_psn_no, a->parts[k]->amount);
        }
        if (a->amount != r->amount)
            add_problem(r, "answer amount %" PRId64 " for a request of %" PRId64, a->amount, r->amount);
        if (sum != a->acct_mulaid_pay)
            add_problem(r, "parts sum to %" PRId64 ", acct_mulaid_pay %" PRId64, sum, a->acct_mulaid_pay);
        if (a->acct_pay + a->acct_mulaid_pay + a->psn_cash_pay != r->amount || a->psn_cash_pay < 0)
            add_problem(r, "acct %" PRId64 " + mulaid %" PRId64 " + cash %" PRId64 " != %" PRId64,
                        a->acct_pay, a->acct_mulaid_pay, a->psn_cash_pay, r->amount);
        if (a->acct_pay < 0 || (families[r->coord][r->fam].own_credited == 0 && a->acct_pay != 0))
            add_problem(r, "own account paid %" PRId64, a->acct_pay);
        if (r->coord == COORD_CHANGSHA && a->n_parts > 1)
            add_problem(r, "single-sponsor Changsha took from %zu sponsors", a->n_parts);
        for (size_t k = 0; k < r->n_parts; k++) {
            const family *f = &families[r->coord][r->fam];
            bool known = false;
            for (int s = 0; s < 2; s++)
                known |= strcmp(f->sponsors[s].psn_no, r->parts[k].psn_no) == 0 &&
                         strcmp(f->sponsors[s].region, r->parts[k].admdvs) == 0;
            if (!known)
                add_problem(r, "part from %s/%s, not a sponsor of %s", r->parts[k].psn_no,
                            r->parts[k].admdvs, f->beneficiary);
        }
    } else {
        /* The same call id again: the very same answer. */
        bool same = strcmp(r->setl_id, a->setl_id) == 0 && r->n_parts == a->n_parts &&
                    r->mulaid == a->acct_mulaid_pay && r->cash == a->psn_cash_pay;
        for (size_t k = 0; same && k < r->n_parts; k++)
            same = strcmp(r->parts[k].psn_no, a->parts[k]->sponsor_psn_no) == 0 &&
                   r->parts[k].amount == a->parts[k]->amount;
        if (!same)
            add_problem(r, "call id %s answered %s (mulaid %" PRId64 ") and then %s (mulaid %" PRId64 ")",
                        r->call_id, r->setl_id, r->mulaid, a->setl_id, a->acct_mulaid_pay);
    }
    pthread_mutex_unlock(&rec_mu);
}

/* One attempt of r on c. True when answered OK. */
static bool attempt(client_t *c, call_rec *r)
{
    const family *f = &families[r->coord][r->fam];
    Gongji__V1__SettleReply *reply = NULL;
    client_status st;
    r->attempts++;
    atomic_fetch_add(&in_flight[r->coord], 1);
    int64_t began = now_ms();
    int code = op_settle_x(c, f->beneficiary, coord_region[r->coord], r->amount, r->call_id, &reply, &st);
    int64_t took = now_ms() - began;
    atomic_fetch_sub(&in_flight[r->coord], 1);
    for (long long prev = atomic_load(&slowest_ms); took > prev;)
        if (atomic_compare_exchange_weak(&slowest_ms, &prev, took))
            break;
    if (code == 0 && reply != NULL) {
        record_answer(r, reply);
        gongji__v1__settle_reply__free_unpacked(reply, NULL);
        return true;
    }
    if (reply)
        gongji__v1__settle_reply__free_unpacked(reply, NULL);
    pthread_mutex_lock(&rec_mu);
    r->last_code = code;
    snprintf(r->last_reason, sizeof r->last_reason, "%s", st.reason);
    if (code != CODE_DEADLINE_EXCEEDED && code != CODE_UNAVAILABLE) {
        unexpected_codes++;
        fprintf(stderr, "  %s: unexpected answer %s %s: %s\n", r->call_id, client_code_name(code),
                st.reason, st.message);
    }
    pthread_mutex_unlock(&rec_mu);
    return false;
}

/* ---- the institutions ---- */

typedef struct worker {
    int id;
    unsigned seed;
    client_t *clients[COORDS];
} worker;

/* Retry, once each, the failed calls whose coordinator is up again. */
static void retry_pending(worker *w, call_rec **pending, size_t n_pending, bool all)
{
    for (size_t i = 0; i < n_pending; i++) {
        call_rec *r = pending[i];
        if (r->retried || r->answered)
            continue;
        if (!is_up(r->coord) || (!all && now_ms() - r->failed_at_ms < RETRY_AFTER_MS))
            continue;
        r->retried = true;
        attempt(w->clients[r->coord], r);
    }
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    call_rec *pending[CALLS_PER_THREAD];
    size_t n_pending = 0;
    for (int i = 0; i < CALLS_PER_THREAD; i++) {
        retry_pending(w, pending, n_pending, false);
        /* Wait for this call's burst (bounded: the test must stop by itself). */
        int b = 1 + i / CALLS_PER_BURST;
        if (i % CALLS_PER_BURST == 0) {
            pthread_mutex_lock(&burst_mu);
            if (b > 1)
                burst_done[b - 1]++;
            pthread_cond_broadcast(&burst_cv);
            int64_t until = now_ms() + 20000;
            while (burst < b && now_ms() < until)
                burst_wait();
            pthread_mutex_unlock(&burst_mu);
        }
        call_rec *r = &recs[w->id * CALLS_PER_THREAD + i];
        r->thread = w->id;
        r->coord = (i + w->id) % COORDS;
        r->fam = (int)(rand_r(&w->seed) % FAMILIES);
        r->amount = 100 + (int64_t)(rand_r(&w->seed) % 29901); /* 1.00 - 300.00 yuan */
        snprintf(r->call_id, sizeof r->call_id, "crash-t%d-c%02d", w->id, i);
        atomic_fetch_add(&calls_started, 1);
        if (!attempt(w->clients[r->coord], r)) {
            r->failed_at_ms = now_ms();
            pending[n_pending++] = r;
        }
    }
    pthread_mutex_lock(&burst_mu);
    burst_done[1 + (CALLS_PER_THREAD - 1) / CALLS_PER_BURST]++;
    pthread_cond_broadcast(&burst_cv);
    pthread_mutex_unlock(&burst_mu);
    /* The careful institution: what it never heard about, it asks again once the
     * nodes are back. */
    for (int i = 0; i < 300 && !atomic_load(&chaos_done); i++)
        sleep_ms(100);
    for (int i = 0; i < 50; i++) {
        bool left = false;
        for (size_t k = 0; k < n_pending; k++)
            left |= !pending[k]->retried && !pending[k]->answered;
        if (!left)
            break;
        retry_pending(w, pending, n_pending, true);
        sleep_ms(100);
    }
    return NULL;
}

/* ---- setup ---- */

static void enroll(client_t *op, const char *psn_no, int serial, const char *insutype, const char *region,
                   int64_t credit)
{
    client_status st;
    if (op_enroll(op, psn_no, serial, insutype, region, &st) != 0)
        fail_msg("enroll %s in %s: %s %s", psn_no, region, st.reason, st.message);
    if (credit > 0 && op_credit(op, psn_no, credit, &st) != 0)
        fail_msg("credit %s: %s %s", psn_no, st.reason, st.message);
}

/* The sponsor binds through the node of via_region. */
static void bind_x(const char *via_region, const sponsor *s, const char *beneficiary, const char *beneficiary_region)
{
    client_status st;
    client_t *sponsor_itself = tn_client(tc_node(&tc, via_region), s->psn_no, GONGJI__V1__ROLE__PERSON);
    int code = op_bind_x(sponsor_itself, s->psn_no, s->region, beneficiary, beneficiary_region,
                         GONGJI__V1__RELATION__CHILD, &st);
    client_close(sponsor_itself);
    if (code != 0)
        fail_msg("bind %s/%s -> %s/%s: %s %s %s", s->psn_no, s->region, beneficiary, beneficiary_region,
                 client_code_name(code), st.reason, st.message);
}

static void set_up_families(void)
{
    client_t *op[4];
    const char *regions[4] = {CHANGSHA, XIANGTAN, CHENGDU, NAGQU};
    for (int i = 0; i < 4; i++)
        assert_non_null(op[i] = tn_client(tc_node(&tc, regions[i]), "op-1", GONGJI__V1__ROLE__OPERATOR));
    for (int i = 0; i < FAMILIES; i++) {
        /* Changsha: Xiangtan sponsor first, a Changsha sponsor second; single sponsor. */
        family *f = &families[COORD_CHANGSHA][i];
        snprintf(f->beneficiary, sizeof f->beneficiary, "CSB%d", i);
        snprintf(f->sponsors[0].psn_no, sizeof f->sponsors[0].psn_no, "XTS%d", i);
        f->sponsors[0].region = XIANGTAN;
        f->sponsors[0].credited = 500000; /* 5000.00 yuan */
        snprintf(f->sponsors[1].psn_no, sizeof f->sponsors[1].psn_no, "CSS%d", i);
        f->sponsors[1].region = CHANGSHA;
        f->sponsors[1].credited = 100000;
        f->insutype = "390"; /* a resident: no account of their own */
        enroll(op[0], f->beneficiary, 1 + i, f->insutype, CHANGSHA, 0);
        enroll(op[0], f->sponsors[1].psn_no, 101 + i, "310", CHANGSHA, f->sponsors[1].credited);
        enroll(op[1], f->sponsors[0].psn_no, 1 + i, "310", XIANGTAN, f->sponsors[0].credited);
        bind_x(regions[0], &f->sponsors[0], f->beneficiary, CHANGSHA);
        bind_x(regions[0], &f->sponsors[1], f->beneficiary, CHANGSHA);

        /* Chengdu: a Nagqu sponsor with little money first, a Chengdu sponsor second. */
        f = &families[COORD_CHENGDU][i];
        snprintf(f->beneficiary, sizeof f->beneficiary, "CDB%d", i);
        snprintf(f->sponsors[0].psn_no, sizeof f->sponsors[0].psn_no, "NQS%d", i);
        f->sponsors[0].region = NAGQU;
        f->sponsors[0].credited = 100000; /* 1000.00 yuan: runs out, the cascade goes on */
        snprintf(f->sponsors[1].psn_no, sizeof f->sponsors[1].psn_no, "CDS%d", i);
        f->sponsors[1].region = CHENGDU;
        f->sponsors[1].credited = 800000;
        /* An employee (Chengdu refuses Nagqu sponsors for its residents, R12) with a
         * little money of their own, paid first. */
        f->insutype = "310";
        f->own_credited = 5000;
        enroll(op[2], f->beneficiary, 1 + i, f->insutype, CHENGDU, f->own_credited);
        enroll(op[2], f->sponsors[1].psn_no, 101 + i, "310", CHENGDU, f->sponsors[1].credited);
        enroll(op[3], f->sponsors[0].psn_no, 1 + i, "310", NAGQU, f->sponsors[0].credited);
        bind_x(regions[2], &f->sponsors[0], f->beneficiary, CHENGDU);
        bind_x(regions[2], &f->sponsors[1], f->beneficiary, CHENGDU);
    }
    for (int i = 0; i < 4; i++)
        client_close(op[i]);
}

/* ---- the crashes ---- */

static int restart_failures;

/* What the victim has under way just before it dies (for the log: which windows the
 * kills hit). */
static void describe_victim(test_node *tn, char *out, size_t size)
{
    snprintf(out, size, "no health");
    client_t *c = tn_client(tn, "op-1", GONGJI__V1__ROLE__OPERATOR);
    if (c == NULL)
        return;
    Gongji__V1__HealthRequest req = GONGJI__V1__HEALTH_REQUEST__INIT;
    ProtobufCMessage *reply = NULL;
    client_status st;
    if (client_call(c, "gongji.v1.Operator/Health", NULL, NULL, &req.base, &gongji__v1__health_reply__descriptor,
                    &reply, &st) == GJ_OK &&
        st.code == 0 && reply != NULL) {
        Gongji__V1__HealthReply *h = (Gongji__V1__HealthReply *)reply;
        snprintf(out, size, "in_flight %u open_holds %" PRIu64 " open_decisions %" PRIu64, h->in_flight,
                 h->open_holds, h->open_decisions);
    }
    if (reply)
        protobuf_c_message_free_unpacked(reply, NULL);
    client_close(c);
}

static void kill_and_restart(const char *region, unsigned *seed)
{
    test_node *tn = tc_node(&tc, region);
    int coord = strcmp(region, CHANGSHA) == 0 ? COORD_CHANGSHA : -1;
    if (coord >= 0)
        set_up(coord, false);
    int down_ms = 200 + (int)(rand_r(seed) % 201);
    if (getenv("GONGJI_CRASH_DOWN_MS"))
        down_ms = atoi(getenv("GONGJI_CRASH_DOWN_MS"));
    char victim[160];
    describe_victim(tn, victim, sizeof victim);
    int waiting[COORDS] = {atomic_load(&in_flight[0]), atomic_load(&in_flight[1])};
    tn_kill9(tn);
    fprintf(stderr,
            "  t=%5" PRId64 "ms kill -9 %s (%s; calls started %d, waiting on Changsha %d, Chengdu %d), "
            "down %d ms\n",
            now_ms() - t0_ms, region, victim, atomic_load(&calls_started), waiting[0], waiting[1], down_ms);
    sleep_ms(down_ms);
    if (tn_start(tn) != 0) {
        /* Not fail_msg here: the institutions are still running. */
        fprintf(stderr, "  FAIL node %s did not restart; see %s/node.log\n", region, tn->dir);
        restart_failures++;
    }
    if (coord >= 0)
        set_up(coord, true);
}

/* ---- the quiet period and the audits ---- */

/* Wait until no node holds money or keeps a decision open. True when quiet. */
static bool wait_quiet(void)
{
    int64_t until = now_ms() + QUIET_MAX_MS;
    for (;;) {
        bool quiet = true;
        char why[256] = "";
        for (size_t i = 0; i < tc.count && quiet; i++) {
            Gongji__V1__AuditReply *a = crash_audit_of(tc.nodes[i].region);
            if (a == NULL) {
                quiet = false;
                snprintf(why, sizeof why, "%s: no audit", tc.nodes[i].region);
                continue;
            }
            if (a->open_holds != 0 || a->open_decisions != 0) {
                quiet = false;
                snprintf(why, sizeof why, "%s: open_holds %" PRIu64 " open_decisions %" PRIu64,
                         tc.nodes[i].region, a->open_holds, a->open_decisions);
            }
            gongji__v1__audit_reply__free_unpacked(a, NULL);
        }
        if (quiet)
            return true;
        if (now_ms() >= until) {
            fprintf(stderr, "  not quiet after %d ms: %s\n", QUIET_MAX_MS, why);
            return false;
        }
        sleep_ms(200);
    }
}

/* ---- the test ---- */

static void test_kill9_of_coordinator_and_sponsor_nodes_during_concurrent_settlements_keeps_money_exact(
    void **state)
{
    (void)state;
    unsigned seed = (unsigned)time(NULL);
    if (getenv("GONGJI_TEST_SEED"))
        seed = (unsigned)strtoul(getenv("GONGJI_TEST_SEED"), NULL, 10);
    fprintf(stderr, "  seed %u (GONGJI_TEST_SEED to repeat)\n", seed);
    t0_ms = now_ms();
    tc_init(&tc, NULL);
    assert_int_equal(tc_start(&tc), 0);
    set_up_families();
    fprintf(stderr, "  t=%5" PRId64 "ms families set up\n", now_ms() - t0_ms);

    /* The institutions. */
    worker workers[THREADS];
    pthread_t threads[THREADS];
    int64_t run_start = now_ms();
    for (int t = 0; t < THREADS; t++) {
        workers[t].id = t;
        workers[t].seed = seed * 31u + (unsigned)t;
        char who[32];
        inst_identity(t, who);
        for (int k = 0; k < COORDS; k++)
            assert_non_null(workers[t].clients[k] = open_client(tc_node(&tc, coord_region[k]), who,
                                                                GONGJI__V1__ROLE__INSTITUTION,
                                                                CLIENT_TIMEOUT_MS));
        assert_int_equal(pthread_create(&threads[t], NULL, worker_main, &workers[t]), 0);
    }

    /* The crashes, one node at a time, while the calls go on. */
    const char *victims[] = {XIANGTAN, CHANGSHA, NAGQU};
    int kills = 0;
    for (int b = 1; b <= BURSTS; b++) {
        pthread_mutex_lock(&burst_mu);
        burst = b;
        pthread_cond_broadcast(&burst_cv);
        pthread_mutex_unlock(&burst_mu);
        if (b > KILLS)
            break; /* the last burst runs with every node up */
        /* The kill comes once a random part of the burst's calls has gone out. */
        int base = (b - 1) * CALLS_PER_BURST * THREADS;
        int at = base + 2 + (int)(rand_r(&seed) % (CALLS_PER_BURST * THREADS - 6));
        for (int i = 0; i < 2000 && atomic_load(&calls_started) < at; i++)
            sleep_ms(1);
        kill_and_restart(victims[(b - 1) % 3], &seed);
        kills++;
        /* Until the workers are through with this burst (or 5 s). */
        pthread_mutex_lock(&burst_mu);
        int64_t until = now_ms() + 5000;
        while (burst_done[b] < THREADS && now_ms() < until)
            burst_wait();
        pthread_mutex_unlock(&burst_mu);
    }
    int started_at_last_kill = atomic_load(&calls_started);
    atomic_store(&chaos_done, true);
    for (int t = 0; t < THREADS; t++)
        pthread_join(threads[t], NULL);
    fprintf(stderr, "  t=%5" PRId64 "ms institutions done (%d kills; %d of %d calls had started when the "
                    "last burst began; run %" PRId64 " ms)\n",
            now_ms() - t0_ms, kills, started_at_last_kill, CALLS, now_ms() - run_start);
    assert_int_equal(restart_failures, 0);
    int dead = 0;
    for (size_t i = 0; i < tc.count; i++)
        if (!tn_alive(&tc.nodes[i])) {
            fprintf(stderr, "  FAIL node %s died by itself; see %s/node.log\n", tc.nodes[i].region, tc.nodes[i].dir);
            dead++;
        }
    assert_int_equal(dead, 0);

    int answered_first = 0, answered_retry = 0, never = 0, retried_in_vain = 0;
    for (int i = 0; i < CALLS; i++) {
        if (recs[i].answered && recs[i].attempts == 1)
            answered_first++;
        else if (recs[i].answered)
            answered_retry++;
        else
            never++;
        retried_in_vain += !recs[i].answered && recs[i].retried;
    }

    /* Every call id asked once more, now that all is calm: an answered one must get its
     * first answer again (an answer survives kill -9); one never answered gets its answer
     * now, whether it had committed before a crash or is settled only now. Afterwards
     * every call has exactly one settlement, known to the test. */
    {
        client_t *again[THREADS][COORDS];
        for (int t = 0; t < THREADS; t++) {
            char who[32];
            inst_identity(t, who);
            for (int k = 0; k < COORDS; k++)
                assert_non_null(again[t][k] = open_client(tc_node(&tc, coord_region[k]), who,
                                                          GONGJI__V1__ROLE__INSTITUTION, 3000));
        }
        for (int i = 0; i < CALLS; i++) {
            call_rec *r = &recs[i];
            if (!attempt(again[r->thread][r->coord], r))
                fail_msg("%s asked again with all nodes up: %s %s", r->call_id,
                         client_code_name(r->last_code), r->last_reason);
        }
        for (int t = 0; t < THREADS; t++)
            for (int k = 0; k < COORDS; k++)
                client_close(again[t][k]);
    }
    fprintf(stderr, "  answered: %d on the first attempt, %d on the retry, %d only when asked at the end; slowest call "
                    "%lld ms\n",
            answered_first, answered_retry, never, (long long)atomic_load(&slowest_ms));
    /* Not a failure of this test (it checks money), but worth seeing: an institution
     * whose retry, sent once its node was back, still got no answer. Seen when the
     * client's nng dialer gave up reconnecting to the restarted node (nng 1.5.2 takes a
     * connection closed during the SP handshake for a closed dialer). */
    if (retried_in_vain > 0)
        fprintf(stderr, "  WARNING: %d calls got no answer even on the retry with the node back up: an "
                        "institution's client did not reconnect\n",
                retried_in_vain);

    /* Quiet: everything held is posted or voided, every decision acknowledged. */
    bool quiet = wait_quiet();
    fprintf(stderr, "  t=%5" PRId64 "ms quiet: %s\n", now_ms() - t0_ms, quiet ? "yes" : "NO");

    Gongji__V1__AuditReply *audits[TC_NODES_MAX] = {0};
    int failures = crash_check_audits(audits);
    for (size_t i = 0; i < tc.count; i++)
        assert_non_null(audits[i]);
    size_t n_coordinated = 0, n_participated = 0, remote_parts = 0, local_parts = 0, cash_only = 0;
    int64_t moved_total = 0;
    failures += crash_check_cross_lists(audits, &n_coordinated, &n_participated);
    failures += crash_check_answers(audits, &remote_parts, &local_parts, &cash_only);
    failures += crash_check_money(audits, &moved_total);
    fprintf(stderr,
            "  %d calls: %zu remote parts, %zu local parts, %zu paid all in cash; %" PRId64
            " fen moved; %zu coordinated, %zu participated entries; %d unexpected failure answers\n",
            CALLS, remote_parts, local_parts, cash_only, moved_total, n_coordinated, n_participated,
            unexpected_codes);

    for (size_t i = 0; i < tc.count; i++)
        gongji__v1__audit_reply__free_unpacked(audits[i], NULL);
    for (int t = 0; t < THREADS; t++)
        for (int k = 0; k < COORDS; k++)
            client_close(workers[t].clients[k]);
    assert_true(quiet);
    assert_int_equal(unexpected_codes, 0);
    assert_int_equal(failures, 0);
    assert_true(remote_parts > 0);
    test_passed = true;
    fprintf(stderr, "  t=%5" PRId64 "ms done\n", now_ms() - t0_ms);
}

/* Whatever happened, no node outlives the test; after a failure the nodes' directories
 * (logs, data) are kept. */
static int teardown(void **state)
{
    (void)state;
    if (!test_passed && tc.count > 0) {
        fprintf(stderr, "  node directories kept for the logs:\n");
        for (size_t i = 0; i < tc.count; i++)
            fprintf(stderr, "    %s %s/node.log\n", tc.nodes[i].region, tc.nodes[i].dir);
        setenv("GONGJI_KEEP_TEST_DIRS", "1", 1);
    }
    tc_destroy(&tc);
    memset(&tc, 0, sizeof tc);
    return th_log_leaks_total() == 0 ? 0 : -1; /* no person or ID number logged in full */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(
            test_kill9_of_coordinator_and_sponsor_nodes_during_concurrent_settlements_keeps_money_exact,
            teardown),
    };
    return th_exit_status(cmocka_run_group_tests(tests, NULL, NULL));
}
