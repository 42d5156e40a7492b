/* Unit tests of store/: every test gets a fresh directory, opens its own store and
 * checks behaviour through the public API (plus raw LMDB where a test must damage
 * the file). cmocka asserts run on the test's main thread only; other threads and
 * callbacks record what they saw. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ctype.h>
#include <dirent.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gj_util.h"
#include "store.h"

/* ---- fixture ---- */

struct gate;

/* What a test leaves running when an assertion fails is ended by teardown. */
struct fx {
    char dir[64];
    store *s;
    struct gate *gate; /* opened by teardown so the writer can drain */
    pthread_t closer;
    bool closer_running;
};

static void rm_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char path[512];
    if (d == NULL)
        return;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

static void open_with(struct fx *f, const store_options *opts)
{
    store_close(f->s);
    f->s = NULL;
    assert_int_equal(store_open(&f->s, f->dir, opts), GJ_OK);
    assert_non_null(f->s);
}

static struct fx *open_fx(void **state)
{
    struct fx *f = *state;
    open_with(f, NULL);
    return f;
}

static store_txn *rd(struct fx *f)
{
    store_txn *t = NULL;
    assert_int_equal(store_read_begin(f->s, &t), GJ_OK);
    assert_non_null(t);
    return t;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void set_str(char *dst, size_t size, const char *src)
{
    if (!gj_strcpy_fit(dst, size, src))
        abort(); /* a test bug, not a store bug */
}
#define SET(field, src) set_str((field), sizeof(field), (src))

static store_person person_of(const char *psn_no)
{
    store_person p;
    memset(&p, 0, sizeof p);
    SET(p.psn_no, psn_no);
    SET(p.certno, "11010519491231002X");
    SET(p.name, "张三");
    SET(p.insutype, "310");
    SET(p.admdvs, "430100");
    p.status = STORE_PERSON_ACTIVE;
    p.updated_unix_ms = 1700000000000LL;
    return p;
}

static store_journal_entry entry_of(const char *psn_no, uint8_t kind, int64_t amount)
{
    store_journal_entry e;
    memset(&e, 0, sizeof e);
    SET(e.psn_no, psn_no);
    e.kind = kind;
    e.amount = amount;
    e.unix_ms = 1700000000000LL;
    SET(e.caller_id, "test");
    SET(e.call_id, "call");
    return e;
}

static bool person_exists(struct fx *f, const char *psn_no)
{
    store_person p;
    store_txn *t = rd(f);
    gj_err err = store_person_get(t, psn_no, &p);
    store_read_end(t);
    assert_true(err == GJ_OK || err == GJ_ERR_NOTFOUND);
    return err == GJ_OK;
}

static uint64_t person_count(struct fx *f)
{
    store_txn *t = rd(f);
    uint64_t n = store_person_count(t);
    store_read_end(t);
    return n;
}

static uint64_t journal_count(struct fx *f)
{
    store_txn *t = rd(f);
    uint64_t n = store_journal_count(t);
    store_read_end(t);
    return n;
}

static store_account account_of(struct fx *f, const char *psn_no)
{
    store_account a;
    store_txn *t = rd(f);
    assert_int_equal(store_account_get(t, psn_no, &a), GJ_OK);
    store_read_end(t);
    return a;
}

/* ---- small apply functions ---- */

static gj_err apply_put_person(store_txn *t, void *arg)
{
    return store_person_put(t, arg);
}

static gj_err apply_ensure(store_txn *t, void *arg)
{
    return store_account_ensure(t, arg);
}

static void put_person(struct fx *f, const char *psn_no)
{
    store_person p = person_of(psn_no);
    assert_int_equal(store_submit_wait(f->s, apply_put_person, &p), GJ_OK);
}

/* Moves money on one account, recording each move's own result; apply itself
 * succeeds so that refused moves can be observed next to accepted ones. */
struct moves {
    bool ensure;
    const char *psn_no;
    size_t n;
    store_journal_entry e[8];
    gj_err rv[8];
    store_account after[8];
};

static gj_err apply_moves(store_txn *t, void *arg)
{
    struct moves *m = arg;
    gj_err err;
    if (m->ensure && (err = store_account_ensure(t, m->psn_no)) != GJ_OK)
        return err;
    for (size_t i = 0; i < m->n; i++)
        m->rv[i] = store_account_move(t, &m->e[i], &m->after[i]);
    return GJ_OK;
}

static void credit(struct fx *f, const char *psn_no, int64_t amount)
{
    struct moves m = {.ensure = true, .psn_no = psn_no, .n = 1};
    m.e[0] = entry_of(psn_no, STORE_J_CREDIT, amount);
    assert_int_equal(store_submit_wait(f->s, apply_moves, &m), GJ_OK);
    assert_int_equal(m.rv[0], GJ_OK);
}

/* A job that holds the writer until the test opens it, so the jobs submitted
 * meanwhile wait in the queue and are taken as one batch. */
struct gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool entered, open;
};

/* Gates, done collectors and async jobs live in static storage: if an assertion
 * fails, the writer may still run their callbacks while teardown drains it. */
static void gate_init(struct gate *g)
{
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, NULL);
    g->entered = g->open = false;
}

static gj_err apply_gate(store_txn *t, void *arg)
{
    struct gate *g = arg;
    (void)t;
    pthread_mutex_lock(&g->mu);
    g->entered = true;
    pthread_cond_broadcast(&g->cv);
    while (!g->open)
        pthread_cond_wait(&g->cv, &g->mu);
    pthread_mutex_unlock(&g->mu);
    return GJ_OK;
}

/* Submits the gate and returns once the writer is inside it (queue empty again). */
static void gate_close(struct fx *f, struct gate *g)
{
    f->gate = g;
    assert_int_equal(store_submit(f->s, apply_gate, NULL, g), GJ_OK);
    pthread_mutex_lock(&g->mu);
    while (!g->entered)
        pthread_cond_wait(&g->cv, &g->mu);
    pthread_mutex_unlock(&g->mu);
}

static void gate_open(struct gate *g)
{
    pthread_mutex_lock(&g->mu);
    g->open = true;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

/* Collects done callbacks of async jobs. */
#define DONE_MAX 64
struct dones {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int count;
    gj_err result[DONE_MAX];
    uint64_t persons_seen[DONE_MAX]; /* committed persons visible when done ran */
};

struct async_job {
    struct dones *d;
    store *s;
    int idx;
    store_person p;
    gj_err fail_with;
};

static void dones_init(struct dones *d)
{
    memset(d, 0, sizeof *d);
    pthread_mutex_init(&d->mu, NULL);
    pthread_cond_init(&d->cv, NULL);
}

static void dones_wait(struct dones *d, int n)
{
    pthread_mutex_lock(&d->mu);
    while (d->count < n)
        pthread_cond_wait(&d->cv, &d->mu);
    pthread_mutex_unlock(&d->mu);
}

static gj_err apply_async_job(store_txn *t, void *arg)
{
    struct async_job *j = arg;
    gj_err err = store_person_put(t, &j->p);
    return err != GJ_OK ? err : j->fail_with;
}

static void done_async_job(void *arg, gj_err result)
{
    struct async_job *j = arg;
    store_txn *t;
    uint64_t seen = UINT64_MAX;
    if (store_read_begin(j->s, &t) == GJ_OK) {
        seen = store_person_count(t);
        store_read_end(t);
    }
    pthread_mutex_lock(&j->d->mu);
    j->d->result[j->idx] = result;
    j->d->persons_seen[j->idx] = seen;
    j->d->count++;
    pthread_cond_broadcast(&j->d->cv);
    pthread_mutex_unlock(&j->d->mu);
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    if (f == NULL)
        return -1;
    snprintf(f->dir, sizeof f->dir, "/tmp/gj-store-XXXXXX");
    if (mkdtemp(f->dir) == NULL) {
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    if (f->gate != NULL)
        gate_open(f->gate);
    if (f->closer_running)
        pthread_join(f->closer, NULL);
    store_close(f->s);
    rm_dir(f->dir);
    free(f);
    return 0;
}

/* ---- tests ---- */

static void test_person_survives_close_and_reopen(void **state)
{
    struct fx *f = open_fx(state);
    store_person in = person_of("430100000000000000000000000001"), out;

    assert_int_equal(store_submit_wait(f->s, apply_put_person, &in), GJ_OK);
    open_with(f, NULL);

    store_txn *t = rd(f);
    memset(&out, 0xff, sizeof out);
    assert_int_equal(store_person_get(t, in.psn_no, &out), GJ_OK);
    assert_string_equal(out.psn_no, in.psn_no);
    assert_string_equal(out.certno, in.certno);
    assert_string_equal(out.name, in.name);
    assert_string_equal(out.insutype, "310");
    assert_string_equal(out.admdvs, "430100");
    assert_int_equal(out.status, STORE_PERSON_ACTIVE);
    assert_int_equal(out.updated_unix_ms, in.updated_unix_ms);
    assert_int_equal(store_person_count(t), 1);
    assert_int_equal(store_person_get(t, "430100000000000000000000000002", &out),
                     GJ_ERR_NOTFOUND);
    store_read_end(t);
}

static void test_account_move_updates_balance_and_journal(void **state)
{
    struct fx *f = open_fx(state);
    struct moves m = {.ensure = true, .psn_no = "P1", .n = 3};
    m.e[0] = entry_of("P1", STORE_J_CREDIT, 1000);
    m.e[1] = entry_of("P1", STORE_J_SETTLE_OWN, -300);
    SET(m.e[1].setl_id, "430100-20240101-000000000001");
    m.e[2] = entry_of("P1", STORE_J_REFUND, 100);

    assert_int_equal(store_submit_wait(f->s, apply_moves, &m), GJ_OK);
    const int64_t want_after[3] = {1000, 700, 800};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(m.rv[i], GJ_OK);
        assert_int_equal(m.e[i].seq, (uint64_t)i + 1);
        assert_int_equal(m.e[i].balance_after, want_after[i]);
        assert_int_equal(m.after[i].balance, want_after[i]);
    }
    assert_int_equal(m.after[2].credited, 1000);
    assert_int_equal(m.after[2].paid_out, 300);
    assert_int_equal(m.after[2].refunded, 100);
    assert_int_equal(m.after[2].held, 0);

    store_account a = account_of(f, "P1");
    assert_int_equal(a.balance, 800);
    assert_int_equal(a.credited, 1000);
    assert_int_equal(a.paid_out, 300);
    assert_int_equal(a.refunded, 100);

    /* The journal holds the same entries, in seq order, from any first_seq. */
    store_txn *t = rd(f);
    assert_int_equal(store_journal_count(t), 3);
    store_read_end(t);

    /* A second batch continues the sequence. */
    struct moves m2 = {.psn_no = "P1", .n = 1};
    m2.e[0] = entry_of("P1", STORE_J_PREMIUM, -50);
    assert_int_equal(store_submit_wait(f->s, apply_moves, &m2), GJ_OK);
    assert_int_equal(m2.rv[0], GJ_OK);
    assert_int_equal(m2.e[0].seq, 4);
    assert_int_equal(m2.e[0].balance_after, 750);
    assert_int_equal(m2.after[0].paid_out, 350);
}

struct collected {
    size_t n;
    store_journal_entry e[256];
    size_t stop_after; /* 0: never stop */
};

static bool collect_journal(const store_journal_entry *e, void *arg)
{
    struct collected *c = arg;
    if (c->n < sizeof c->e / sizeof c->e[0])
        c->e[c->n] = *e;
    c->n++;
    return c->stop_after == 0 || c->n < c->stop_after;
}

static void test_journal_scan_starts_at_first_seq_and_stops_on_request(void **state)
{
    struct fx *f = open_fx(state);
    struct moves m = {.ensure = true, .psn_no = "P1", .n = 4};
    for (int i = 0; i < 4; i++)
        m.e[i] = entry_of("P1", STORE_J_CREDIT, (i + 1) * 10);
    assert_int_equal(store_submit_wait(f->s, apply_moves, &m), GJ_OK);

    store_txn *t = rd(f);
    struct collected c = {0};
    assert_int_equal(store_journal_scan(t, 1, collect_journal, &c), GJ_OK);
    assert_int_equal(c.n, 4);
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(c.e[i].seq, i + 1);
        assert_int_equal(c.e[i].amount, (int64_t)(i + 1) * 10);
        assert_string_equal(c.e[i].psn_no, "P1");
        assert_string_equal(c.e[i].caller_id, "test");
    }
    assert_int_equal(c.e[3].balance_after, 100);

    memset(&c, 0, sizeof c);
    assert_int_equal(store_journal_scan(t, 3, collect_journal, &c), GJ_OK);
    assert_int_equal(c.n, 2);
    assert_int_equal(c.e[0].seq, 3);

    memset(&c, 0, sizeof c);
    c.stop_after = 1;
    assert_int_equal(store_journal_scan(t, 1, collect_journal, &c), GJ_OK);
    assert_int_equal(c.n, 1);

    memset(&c, 0, sizeof c);
    assert_int_equal(store_journal_scan(t, 5, collect_journal, &c), GJ_OK);
    assert_int_equal(c.n, 0);
    store_read_end(t);
}

static void test_account_move_refuses_bad_amounts_and_missing_account(void **state)
{
    struct fx *f = open_fx(state);
    credit(f, "P1", 500);

    struct moves m = {.psn_no = "P1", .n = 7};
    m.e[0] = entry_of("P1", STORE_J_CREDIT, -1);             /* sign against kind */
    m.e[1] = entry_of("P1", STORE_J_SETTLE_AID, 10);         /* sign against kind */
    m.e[2] = entry_of("P1", STORE_J_CREDIT, 0);              /* nothing moves */
    m.e[3] = entry_of("P1", STORE_J_CREDIT, GJ_AMOUNT_MAX + 1);
    m.e[4] = entry_of("P1", 9, 10);                          /* unknown kind */
    m.e[5] = entry_of("NOBODY", STORE_J_CREDIT, 10);
    m.e[6] = entry_of("P1", STORE_J_CREDIT, GJ_AMOUNT_MAX); /* the largest is fine */
    assert_int_equal(store_submit_wait(f->s, apply_moves, &m), GJ_OK);
    for (int i = 0; i < 5; i++)
        assert_int_equal(m.rv[i], GJ_ERR_INVAL);
    assert_int_equal(m.rv[5], GJ_ERR_NOTFOUND);
    assert_int_equal(m.rv[6], GJ_OK);
    assert_int_equal(m.e[6].seq, 2); /* refused moves took no seq */
    assert_int_equal(journal_count(f), 2);
    assert_int_equal(account_of(f, "P1").balance, 500 + GJ_AMOUNT_MAX);
}

static void test_account_move_refuses_balance_above_max(void **state)
{
    struct fx *f = open_fx(state);
    credit(f, "P1", 1);
    /* Climb to exactly GJ_BALANCE_MAX, then one more fen must be refused. */
    int64_t need = GJ_BALANCE_MAX - 1;
    while (need > 0) {
        struct moves m = {.psn_no = "P1"};
        while (m.n < 8 && need > 0) {
            int64_t amt = need > GJ_AMOUNT_MAX ? GJ_AMOUNT_MAX : need;
            m.e[m.n++] = entry_of("P1", STORE_J_CREDIT, amt);
            need -= amt;
        }
        assert_int_equal(store_submit_wait(f->s, apply_moves, &m), GJ_OK);
        for (size_t i = 0; i < m.n; i++)
            assert_int_equal(m.rv[i], GJ_OK);
    }
    assert_int_equal(account_of(f, "P1").balance, GJ_BALANCE_MAX);
    struct moves m = {.psn_no = "P1", .n = 1};
    m.e[0] = entry_of("P1", STORE_J_REFUND, 1);
    assert_int_equal(store_submit_wait(f->s, apply_moves, &m), GJ_OK);
    assert_int_equal(m.rv[0], GJ_ERR_INVAL);
    assert_int_equal(account_of(f, "P1").balance, GJ_BALANCE_MAX);
}

struct hold_step {
    const char *psn_no;
    int64_t delta;
    gj_err rv;
    store_account after;
};

struct holds {
    size_t n;
    struct hold_step step[8];
    struct moves mv; /* run after the holds */
};

static gj_err apply_holds(store_txn *t, void *arg)
{
    struct holds *h = arg;
    for (size_t i = 0; i < h->n; i++)
        h->step[i].rv = store_account_hold(t, h->step[i].psn_no, h->step[i].delta,
                                           &h->step[i].after);
    return h->mv.n > 0 ? apply_moves(t, &h->mv) : GJ_OK;
}

static void test_account_move_refuses_overdraft_below_held(void **state)
{
    struct fx *f = open_fx(state);
    credit(f, "P1", 1000);

    struct holds h = {.n = 1, .step = {{"P1", 600, GJ_OK, {0}}}};
    h.mv.psn_no = "P1";
    h.mv.n = 2;
    h.mv.e[0] = entry_of("P1", STORE_J_SETTLE_OWN, -500); /* 500 < held 600 */
    h.mv.e[1] = entry_of("P1", STORE_J_SETTLE_OWN, -400); /* 600 == held: allowed */
    assert_int_equal(store_submit_wait(f->s, apply_holds, &h), GJ_OK);
    assert_int_equal(h.step[0].rv, GJ_OK);
    assert_int_equal(h.mv.rv[0], GJ_ERR_INVAL);
    assert_int_equal(h.mv.rv[1], GJ_OK);
    assert_int_equal(h.mv.e[1].seq, 2);

    store_account a = account_of(f, "P1");
    assert_int_equal(a.balance, 600);
    assert_int_equal(a.held, 600);
    assert_int_equal(a.paid_out, 400);
    assert_int_equal(journal_count(f), 2);

    /* Nothing more can leave while all of it is held. */
    struct moves m = {.psn_no = "P1", .n = 1};
    m.e[0] = entry_of("P1", STORE_J_PREMIUM, -1);
    assert_int_equal(store_submit_wait(f->s, apply_moves, &m), GJ_OK);
    assert_int_equal(m.rv[0], GJ_ERR_INVAL);
}

static void test_hold_bounds(void **state)
{
    struct fx *f = open_fx(state);
    credit(f, "P1", 1000);

    struct holds h = {.n = 8,
                      .step = {
                          {"P1", 600, GJ_OK, {0}},
                          {"P1", 500, GJ_OK, {0}},       /* 1100 > balance */
                          {"P1", -700, GJ_OK, {0}},      /* below 0 */
                          {"P1", -600, GJ_OK, {0}},      /* back to 0 */
                          {"P1", 1000, GJ_OK, {0}},      /* all of it */
                          {"P1", INT64_MAX, GJ_OK, {0}}, /* would overflow */
                          {"NOBODY", 1, GJ_OK, {0}},
                          {"P1", 0, GJ_OK, {0}},
                      }};
    assert_int_equal(store_submit_wait(f->s, apply_holds, &h), GJ_OK);
    assert_int_equal(h.step[0].rv, GJ_OK);
    assert_int_equal(h.step[0].after.held, 600);
    assert_int_equal(h.step[1].rv, GJ_ERR_INVAL);
    assert_int_equal(h.step[2].rv, GJ_ERR_INVAL);
    assert_int_equal(h.step[3].rv, GJ_OK);
    assert_int_equal(h.step[3].after.held, 0);
    assert_int_equal(h.step[4].rv, GJ_OK);
    assert_int_equal(h.step[4].after.held, 1000);
    assert_int_equal(h.step[5].rv, GJ_ERR_INVAL);
    assert_int_equal(h.step[6].rv, GJ_ERR_NOTFOUND);
    assert_int_equal(h.step[7].rv, GJ_OK);
    assert_int_equal(h.step[7].after.held, 1000);

    store_account a = account_of(f, "P1");
    assert_int_equal(a.held, 1000);
    assert_int_equal(a.balance, 1000);
    assert_int_equal(journal_count(f), 1); /* holds move no money */
}

struct doomed {
    store_person p;
    gj_err rv_put, rv_move, rv_seq;
};

static gj_err apply_then_abort(store_txn *t, void *arg)
{
    struct doomed *d = arg;
    store_journal_entry e1 = entry_of("X1", STORE_J_CREDIT, 500);
    store_journal_entry e0 = entry_of("P0", STORE_J_SETTLE_OWN, -10);
    uint64_t seq;
    d->rv_put = store_person_put(t, &d->p);
    store_account_ensure(t, "X1");
    d->rv_move = store_account_move(t, &e1, NULL);
    store_account_move(t, &e0, NULL);
    d->rv_seq = store_next_seq(t, "orders", &seq);
    return GJ_ERR_ABORT;
}

static gj_err apply_next_seq(store_txn *t, void *arg)
{
    return store_next_seq(t, "orders", arg);
}

static void test_failed_apply_leaves_nothing_behind(void **state)
{
    struct fx *f = open_fx(state);
    credit(f, "P0", 100);
    assert_int_equal(journal_count(f), 1);

    struct doomed d = {.p = person_of("X1")};
    assert_int_equal(store_submit_wait(f->s, apply_then_abort, &d), GJ_ERR_ABORT);
    /* The writes themselves succeeded inside the job... */
    assert_int_equal(d.rv_put, GJ_OK);
    assert_int_equal(d.rv_move, GJ_OK);
    assert_int_equal(d.rv_seq, GJ_OK);

    /* ...and were all rolled back with it. */
    store_txn *t = rd(f);
    store_person p;
    store_account a;
    assert_int_equal(store_person_get(t, "X1", &p), GJ_ERR_NOTFOUND);
    assert_int_equal(store_account_get(t, "X1", &a), GJ_ERR_NOTFOUND);
    assert_int_equal(store_account_get(t, "P0", &a), GJ_OK);
    assert_int_equal(a.balance, 100);
    assert_int_equal(store_journal_count(t), 1);
    assert_int_equal(store_person_count(t), 0);
    store_read_end(t);

    /* No gap: the next move gets seq 2, the next counter value is 1. */
    struct moves m = {.psn_no = "P0", .n = 1};
    m.e[0] = entry_of("P0", STORE_J_CREDIT, 1);
    assert_int_equal(store_submit_wait(f->s, apply_moves, &m), GJ_OK);
    assert_int_equal(m.e[0].seq, 2);
    uint64_t seq = 0;
    assert_int_equal(store_submit_wait(f->s, apply_next_seq, &seq), GJ_OK);
    assert_int_equal(seq, 1);
}

#define NEIGHBOURS 20
#define DOOMED_IDX 7

static void test_one_failed_job_does_not_undo_its_batch_neighbours(void **state)
{
    struct fx *f = open_fx(state);
    static struct gate g;
    static struct dones d;
    static struct async_job jobs[NEIGHBOURS];
    char name[16];

    gate_init(&g);
    dones_init(&d);
    gate_close(f, &g);
    for (int i = 0; i < NEIGHBOURS; i++) {
        snprintf(name, sizeof name, "N%02d", i);
        jobs[i] = (struct async_job){.d = &d, .s = f->s, .idx = i, .p = person_of(name)};
        jobs[i].fail_with = i == DOOMED_IDX ? GJ_ERR_ABORT : GJ_OK;
        assert_int_equal(store_submit(f->s, apply_async_job, done_async_job, &jobs[i]), GJ_OK);
    }
    gate_open(&g);
    dones_wait(&d, NEIGHBOURS);

    for (int i = 0; i < NEIGHBOURS; i++) {
        assert_int_equal(d.result[i], i == DOOMED_IDX ? GJ_ERR_ABORT : GJ_OK);
        /* One batch: when any done runs, every neighbour is already committed. */
        assert_int_equal(d.persons_seen[i], NEIGHBOURS - 1);
    }

    open_with(f, NULL);
    for (int i = 0; i < NEIGHBOURS; i++) {
        snprintf(name, sizeof name, "N%02d", i);
        assert_int_equal(person_exists(f, name), i != DOOMED_IDX);
    }
    assert_int_equal(person_count(f), NEIGHBOURS - 1);
}

static void test_batch_max_bounds_jobs_per_commit(void **state)
{
    struct fx *f = *state;
    store_options opts = {.batch_max = 2};
    static struct gate g;
    static struct dones d;
    static struct async_job jobs[6];
    char name[16];

    open_with(f, &opts);
    gate_init(&g);
    dones_init(&d);
    store_stats before, after;
    store_stats_get(f->s, &before);
    gate_close(f, &g);
    for (int i = 0; i < 6; i++) {
        snprintf(name, sizeof name, "M%d", i);
        jobs[i] = (struct async_job){.d = &d, .s = f->s, .idx = i, .p = person_of(name)};
        assert_int_equal(store_submit(f->s, apply_async_job, done_async_job, &jobs[i]), GJ_OK);
    }
    gate_open(&g);
    dones_wait(&d, 6);
    /* Batches of two: the gate's own commit, then three of two jobs each. */
    store_stats_get(f->s, &after);
    assert_int_equal(after.commits - before.commits, 4);
    assert_int_equal(after.jobs - before.jobs, 7);
    /* Each done sees at least its own pair and those before it; dones run on the
     * completion thread while the writer goes on, so a later pair may be visible too. */
    for (int i = 0; i < 6; i++) {
        assert_int_equal(d.result[i], GJ_OK);
        assert_true(d.persons_seen[i] >= (uint64_t)(i / 2 + 1) * 2);
    }
}

/* Work submitted under an intake hold waits, then commits together; a whole batch's
 * worth does not wait. */
static void test_intake_hold_keeps_submissions_in_one_commit(void **state)
{
    struct fx *f = *state;
    store_options opts = {.batch_max = 4};
    static struct dones d;
    static struct async_job jobs[7];
    char name[16];

    open_with(f, &opts);
    dones_init(&d);
    store_stats before, mid, after;
    store_stats_get(f->s, &before);
    store_intake_hold(f->s);
    for (int i = 0; i < 3; i++) {
        snprintf(name, sizeof name, "H%d", i);
        jobs[i] = (struct async_job){.d = &d, .s = f->s, .idx = i, .p = person_of(name)};
        assert_int_equal(store_submit(f->s, apply_async_job, done_async_job, &jobs[i]), GJ_OK);
        usleep(20000); /* an idle writer would have committed each on its own */
    }
    store_stats_get(f->s, &mid);
    assert_int_equal(mid.commits, before.commits); /* held: nothing taken yet */
    store_intake_release(f->s);
    dones_wait(&d, 3);
    store_stats_get(f->s, &after);
    assert_int_equal(after.commits - before.commits, 1);
    assert_int_equal(after.jobs - before.jobs, 3);
    for (int i = 0; i < 3; i++)
        assert_int_equal(d.result[i], GJ_OK);

    /* A full batch (4) goes even while held: a hold never stalls a busy writer. */
    dones_init(&d);
    store_intake_hold(f->s);
    for (int i = 3; i < 7; i++) {
        snprintf(name, sizeof name, "H%d", i);
        jobs[i] = (struct async_job){.d = &d, .s = f->s, .idx = i - 3, .p = person_of(name)};
        assert_int_equal(store_submit(f->s, apply_async_job, done_async_job, &jobs[i]), GJ_OK);
    }
    dones_wait(&d, 4);
    store_intake_release(f->s);
    for (int i = 0; i < 4; i++)
        assert_int_equal(d.result[i], GJ_OK);
    assert_int_equal(person_count(f), 7);
}

/* Both run on the writer thread, where waiting for the writer would never end. */
static struct {
    store *s;
    gj_err from_apply, from_done, result;
    struct dones d;
} reentry;

static gj_err apply_reenter(store_txn *t, void *arg)
{
    (void)arg;
    reentry.from_apply = store_submit_wait(reentry.s, apply_ensure, "X");
    return store_account_ensure(t, "Y");
}

static void done_reenter(void *arg, gj_err result)
{
    (void)arg;
    reentry.from_done = store_submit_wait(reentry.s, apply_ensure, "X");
    reentry.result = result;
    pthread_mutex_lock(&reentry.d.mu);
    reentry.d.count++;
    pthread_cond_broadcast(&reentry.d.cv);
    pthread_mutex_unlock(&reentry.d.mu);
}

static void test_submit_wait_on_writer_thread_is_refused(void **state)
{
    struct fx *f = open_fx(state);
    dones_init(&reentry.d);
    reentry.s = f->s;
    assert_int_equal(store_submit(f->s, apply_reenter, done_reenter, NULL), GJ_OK);
    dones_wait(&reentry.d, 1);
    assert_int_equal(reentry.from_apply, GJ_ERR_INVAL);
    assert_int_equal(reentry.from_done, GJ_ERR_INVAL);
    assert_int_equal(reentry.result, GJ_OK);
    store_txn *t = rd(f);
    store_account a;
    assert_int_equal(store_account_get(t, "Y", &a), GJ_OK);
    assert_int_equal(store_account_get(t, "X", &a), GJ_ERR_NOTFOUND);
    store_read_end(t);
}

#define SUBMITTERS 8
#define ROUNDS 10

struct gc_ctx {
    store *s;
    pthread_mutex_t mu;
    int started;
    int nsnap;
    uint64_t snap[SUBMITTERS * ROUNDS];
};

struct gc_arg {
    struct gc_ctx *ctx;
    int thread;
    int rounds;
    gj_err result[ROUNDS];
    store_person p;
};

/* Records the committed person count seen when the job runs: jobs sharing one
 * write txn all see the same committed state. */
static gj_err apply_gc(store_txn *t, void *arg)
{
    struct gc_arg *a = arg;
    store_txn *r;
    uint64_t snap = UINT64_MAX;
    if (store_read_begin(a->ctx->s, &r) == GJ_OK) {
        snap = store_person_count(r);
        store_read_end(r);
    }
    pthread_mutex_lock(&a->ctx->mu);
    a->ctx->snap[a->ctx->nsnap++] = snap;
    pthread_mutex_unlock(&a->ctx->mu);
    return store_person_put(t, &a->p);
}

static void *gc_thread(void *arg)
{
    struct gc_arg *a = arg;
    char name[16];
    pthread_mutex_lock(&a->ctx->mu);
    a->ctx->started++;
    pthread_mutex_unlock(&a->ctx->mu);
    for (int r = 0; r < a->rounds; r++) {
        snprintf(name, sizeof name, "G%d-%d", a->thread, r);
        a->p = person_of(name);
        a->result[r] = store_submit_wait(a->ctx->s, apply_gc, a);
    }
    return NULL;
}

static void run_submitters(struct gc_ctx *ctx, struct gc_arg *args, pthread_t *th, int rounds,
                           struct gate *g)
{
    for (int i = 0; i < SUBMITTERS; i++) {
        args[i] = (struct gc_arg){.ctx = ctx, .thread = i, .rounds = rounds};
        assert_int_equal(pthread_create(&th[i], NULL, gc_thread, &args[i]), 0);
    }
    if (g != NULL) {
        for (;;) { /* let every submitter reach the queue before the writer resumes */
            pthread_mutex_lock(&ctx->mu);
            int started = ctx->started;
            pthread_mutex_unlock(&ctx->mu);
            if (started == SUBMITTERS)
                break;
            sleep_ms(1);
        }
        sleep_ms(200);
        gate_open(g);
    }
    for (int i = 0; i < SUBMITTERS; i++)
        pthread_join(th[i], NULL);
}

static void test_group_commit_batches_concurrent_submitters(void **state)
{
    struct fx *f = open_fx(state);
    struct gc_ctx ctx = {.s = f->s};
    struct gc_arg args[SUBMITTERS];
    pthread_t th[SUBMITTERS];
    static struct gate g;

    pthread_mutex_init(&ctx.mu, NULL);
    gate_init(&g);
    gate_close(f, &g);
    run_submitters(&ctx, args, th, 1, &g);
    for (int i = 0; i < SUBMITTERS; i++)
        assert_int_equal(args[i].result[0], GJ_OK);
    /* Distinct snapshots = write transactions used; fewer than jobs = grouping. */
    int distinct = 0;
    for (int i = 0; i < ctx.nsnap; i++) {
        bool seen = false;
        for (int j = 0; j < i; j++)
            seen = seen || ctx.snap[j] == ctx.snap[i];
        distinct += !seen;
    }
    assert_int_equal(ctx.nsnap, SUBMITTERS);
    assert_true(distinct < SUBMITTERS);
    assert_int_equal(person_count(f), SUBMITTERS);

    /* Ungated: many rounds from many threads, every one acknowledged and stored. */
    ctx.nsnap = 0;
    ctx.started = 0;
    run_submitters(&ctx, args, th, ROUNDS, NULL);
    for (int i = 0; i < SUBMITTERS; i++)
        for (int r = 0; r < ROUNDS; r++)
            assert_int_equal(args[i].result[r], GJ_OK);
    open_with(f, NULL);
    assert_int_equal(person_count(f), SUBMITTERS * ROUNDS); /* G<i>-0 were rewritten */
    assert_true(person_exists(f, "G7-9"));
    pthread_mutex_destroy(&ctx.mu);
}

struct bindings {
    size_t n;
    store_binding b[8];
};

static gj_err apply_bindings(store_txn *t, void *arg)
{
    struct bindings *bs = arg;
    gj_err err;
    for (size_t i = 0; i < bs->n; i++)
        if ((err = store_binding_put(t, &bs->b[i])) != GJ_OK)
            return err;
    return GJ_OK;
}

static store_binding binding_of(const char *sponsor, const char *beneficiary, int32_t end)
{
    store_binding b;
    memset(&b, 0, sizeof b);
    SET(b.sponsor, sponsor);
    SET(b.beneficiary, beneficiary);
    SET(b.sponsor_admdvs, "430100");
    SET(b.beneficiary_admdvs, "440300");
    b.relation = 2;
    b.begin_date = 20240101;
    b.end_date = end;
    b.created_unix_ms = 1700000000000LL;
    return b;
}

static void test_binding_lists_from_both_sides(void **state)
{
    struct fx *f = open_fx(state);
    /* S10 is the trap: "S1" must not match it as a prefix. */
    struct bindings bs = {.n = 5,
                          .b = {binding_of("S1", "B2", 0), binding_of("S1", "B1", 0),
                                binding_of("S1", "B3", 0), binding_of("S2", "B1", 0),
                                binding_of("S10", "B1", 0)}};
    assert_int_equal(store_submit_wait(f->s, apply_bindings, &bs), GJ_OK);

    store_txn *t = rd(f);
    store_binding out[8];
    size_t n = 99;
    assert_int_equal(store_binding_list_by_sponsor(t, "S1", out, 8, &n), GJ_OK);
    assert_int_equal(n, 3);
    assert_string_equal(out[0].beneficiary, "B1");
    assert_string_equal(out[1].beneficiary, "B2");
    assert_string_equal(out[2].beneficiary, "B3");
    assert_string_equal(out[0].sponsor, "S1");
    assert_string_equal(out[0].beneficiary_admdvs, "440300");

    assert_int_equal(store_binding_list_by_beneficiary(t, "B1", out, 8, &n), GJ_OK);
    assert_int_equal(n, 3);
    assert_string_equal(out[0].sponsor, "S1");
    assert_string_equal(out[1].sponsor, "S10");
    assert_string_equal(out[2].sponsor, "S2");
    assert_string_equal(out[2].beneficiary, "B1");

    /* More than max: the first max, and TOOBIG. */
    memset(out, 0, sizeof out);
    assert_int_equal(store_binding_list_by_sponsor(t, "S1", out, 2, &n), GJ_ERR_TOOBIG);
    assert_int_equal(n, 2);
    assert_string_equal(out[1].beneficiary, "B2");
    assert_int_equal(store_binding_list_by_beneficiary(t, "B1", NULL, 0, &n), GJ_ERR_TOOBIG);
    assert_int_equal(n, 0);
    assert_int_equal(store_binding_list_by_sponsor(t, "S3", out, 8, &n), GJ_OK);
    assert_int_equal(n, 0);
    assert_int_equal(store_binding_list_by_beneficiary(t, "S1", out, 8, &n), GJ_OK);
    assert_int_equal(n, 0);

    store_binding one;
    assert_int_equal(store_binding_get(t, "S2", "B1", &one), GJ_OK);
    assert_string_equal(one.sponsor, "S2");
    assert_int_equal(store_binding_get(t, "B1", "S2", &one), GJ_ERR_NOTFOUND);
    assert_int_equal(store_binding_count(t), 5);
    store_read_end(t);

    /* Replacing updates both sides and adds nothing. */
    struct bindings upd = {.n = 1, .b = {binding_of("S1", "B1", 20250101)}};
    assert_int_equal(store_submit_wait(f->s, apply_bindings, &upd), GJ_OK);
    t = rd(f);
    assert_int_equal(store_binding_count(t), 5);
    assert_int_equal(store_binding_list_by_beneficiary(t, "B1", out, 8, &n), GJ_OK);
    assert_int_equal(out[0].end_date, 20250101);
    assert_int_equal(store_binding_list_by_sponsor(t, "S1", out, 8, &n), GJ_OK);
    assert_int_equal(out[0].end_date, 20250101);
    store_read_end(t);
}

struct order_put {
    const char *beneficiary;
    store_order order;
};

static gj_err apply_order(store_txn *t, void *arg)
{
    struct order_put *o = arg;
    return store_order_put(t, o->beneficiary, &o->order);
}

static void test_order_absent_reads_empty(void **state)
{
    struct fx *f = open_fx(state);
    store_order out;
    store_txn *t = rd(f);
    memset(&out, 0xff, sizeof out);
    assert_int_equal(store_order_get(t, "B1", &out), GJ_OK);
    assert_int_equal(out.count, 0);
    assert_int_equal(out.sponsors[0].psn_no[0], '\0');
    store_read_end(t);

    struct order_put o = {.beneficiary = "B1"};
    memset(&o.order, 0, sizeof o.order);
    o.order.count = 2;
    SET(o.order.sponsors[0].psn_no, "S2");
    SET(o.order.sponsors[0].admdvs, "430100");
    SET(o.order.sponsors[1].psn_no, "S1");
    SET(o.order.sponsors[1].admdvs, "440300");
    assert_int_equal(store_submit_wait(f->s, apply_order, &o), GJ_OK);

    t = rd(f);
    assert_int_equal(store_order_get(t, "B1", &out), GJ_OK);
    assert_int_equal(out.count, 2);
    assert_string_equal(out.sponsors[0].psn_no, "S2");
    assert_string_equal(out.sponsors[1].admdvs, "440300");
    assert_int_equal(store_order_get(t, "B2", &out), GJ_OK);
    assert_int_equal(out.count, 0);
    store_read_end(t);

    o.order.count = GJ_SPONSORS_MAX + 1;
    assert_int_equal(store_submit_wait(f->s, apply_order, &o), GJ_ERR_INVAL);
}

/* A request digest for tests: n in the first bytes, the rest zero but one. */
static const store_digest *dg(uint64_t n)
{
    static store_digest ring[8];
    static unsigned next;
    store_digest *d = &ring[next++ % 8];
    memset(d, 0, sizeof *d);
    for (int i = 0; i < 8; i++)
        d->bytes[i] = (uint8_t)(n >> (56 - 8 * i));
    d->bytes[15] = 0x5a;
    return d;
}

struct idem_case {
    const char *reply;
    gj_err rv_first, rv_again, rv_get_back, rv_empty, rv_big;
    bool same_after_writes;
};

static gj_err apply_idem(store_txn *t, void *arg)
{
    struct idem_case *c = arg;
    size_t len = strlen(c->reply);
    c->rv_first = store_idem_put(t, "caller-a", "call-1", dg(0x1122334455667788ULL), c->reply, len);
    c->rv_again = store_idem_put(t, "caller-a", "call-1", dg(1), "other", 5);
    c->rv_empty = store_idem_put(t, "caller-a", "call-empty", dg(7), NULL, 0);
    static char big[GJ_MSG_HARD_MAX + 1];
    c->rv_big = store_idem_put(t, "caller-a", "call-big", dg(7), big, sizeof big);

    store_digest hash;
    const void *reply = NULL;
    size_t reply_len = 0;
    c->rv_get_back = store_idem_get(t, "caller-a", "call-1", &hash, &reply, &reply_len);
    if (c->rv_get_back != GJ_OK)
        return GJ_OK;
    /* Later writes in the same txn must not disturb the reply handed out. */
    char id[32];
    for (int i = 0; i < 300; i++) {
        snprintf(id, sizeof id, "filler-%04d", i);
        if (store_idem_put(t, "caller-0", id, dg((uint64_t)i), "filler filler filler", 20) != GJ_OK)
            return GJ_ERR_IO;
    }
    c->same_after_writes = store_digest_equal(&hash, dg(0x1122334455667788ULL)) && reply_len == len &&
                           memcmp(reply, c->reply, len) == 0;
    return GJ_OK;
}

static gj_err apply_idem_replace(store_txn *t, void *arg)
{
    gj_err *rv = arg;
    rv[0] = store_idem_put(t, "caller-r", "call-1", dg(5), "first", 5);
    rv[1] = store_idem_replace(t, "caller-r", "call-1", dg(5), "corrected", 9);
    rv[2] = store_idem_replace(t, "caller-r", "call-none", dg(5), "never", 5);
    return GJ_OK;
}

/* A corrected answer replaces the one on record; nothing is made where none was. */
static void test_idem_replace_only_what_is_on_record(void **state)
{
    struct fx *f = open_fx(state);
    gj_err rv[3];
    assert_int_equal(store_submit_wait(f->s, apply_idem_replace, rv), GJ_OK);
    assert_int_equal(rv[0], GJ_OK);
    assert_int_equal(rv[1], GJ_OK);
    assert_int_equal(rv[2], GJ_ERR_NOTFOUND);
    open_with(f, NULL);
    store_txn *t = rd(f);
    store_digest hash;
    const void *reply = NULL;
    size_t len = 0;
    assert_int_equal(store_idem_get(t, "caller-r", "call-1", &hash, &reply, &len), GJ_OK);
    assert_true(store_digest_equal(&hash, dg(5)));
    assert_int_equal(len, 9);
    assert_memory_equal(reply, "corrected", 9);
    assert_int_equal(store_idem_get(t, "caller-r", "call-none", &hash, &reply, &len), GJ_ERR_NOTFOUND);
    store_read_end(t);
}

static void test_idem_roundtrip(void **state)
{
    struct fx *f = open_fx(state);
    struct idem_case c = {.reply = "reply bytes \x01\x02 of the first answer"};
    assert_int_equal(store_submit_wait(f->s, apply_idem, &c), GJ_OK);
    assert_int_equal(c.rv_first, GJ_OK);
    assert_int_equal(c.rv_again, GJ_ERR_EXISTS);
    assert_int_equal(c.rv_empty, GJ_OK);
    assert_int_equal(c.rv_big, GJ_ERR_TOOBIG);
    assert_int_equal(c.rv_get_back, GJ_OK);
    assert_true(c.same_after_writes);

    open_with(f, NULL);
    store_txn *t = rd(f);
    store_digest hash;
    const void *reply = NULL;
    size_t len = 0;
    assert_int_equal(store_idem_get(t, "caller-a", "call-1", &hash, &reply, &len), GJ_OK);
    assert_true(store_digest_equal(&hash, dg(0x1122334455667788ULL)));
    assert_int_equal(len, strlen(c.reply));
    assert_memory_equal(reply, c.reply, len); /* the first answer stood */
    assert_int_equal(store_idem_get(t, "caller-a", "call-empty", &hash, &reply, &len), GJ_OK);
    assert_true(store_digest_equal(&hash, dg(7)));
    assert_int_equal(len, 0);
    /* The separator keeps ("caller-a","call-1") apart from ("caller-acall-","1"). */
    assert_int_equal(store_idem_get(t, "caller-acall-", "1", &hash, &reply, &len),
                     GJ_ERR_NOTFOUND);
    assert_int_equal(store_idem_get(t, "caller-b", "call-1", &hash, &reply, &len),
                     GJ_ERR_NOTFOUND);
    assert_int_equal(store_idem_get(t, "caller-a", "call-big", &hash, &reply, &len),
                     GJ_ERR_NOTFOUND);
    store_read_end(t);
}

struct spends {
    size_t n;
    store_spend sp[16];
    gj_err rv[16];
};

static gj_err apply_spends(store_txn *t, void *arg)
{
    struct spends *s = arg;
    for (size_t i = 0; i < s->n; i++)
        s->rv[i] = store_spend_put(t, &s->sp[i]);
    return GJ_OK;
}

static store_spend spend_of(const char *sponsor, int32_t date, int64_t ms, const char *setl_id)
{
    store_spend s;
    memset(&s, 0, sizeof s);
    SET(s.sponsor, sponsor);
    SET(s.beneficiary, "B1");
    SET(s.setl_id, setl_id);
    s.amount = 100;
    s.setl_date = date;
    s.unix_ms = ms;
    s.use = 1;
    return s;
}

static void assert_cursor_printable(const char *c)
{
    assert_true(strlen(c) > 0);
    assert_true(strlen(c) <= 79);
    for (const char *p = c; *p; p++)
        assert_true(isprint((unsigned char)*p) && *p != ' ');
}

static void test_spend_list_pages_in_date_order_and_resumes_by_cursor(void **state)
{
    struct fx *f = open_fx(state);
    char long_id[GJ_SETL_ID_MAX + 1];
    memset(long_id, '\xe9', GJ_SETL_ID_MAX); /* not printable: the cursor still is */
    long_id[GJ_SETL_ID_MAX] = '\0';
    char long_id2[GJ_SETL_ID_MAX + 1];
    memcpy(long_id2, long_id, sizeof long_id);
    long_id2[GJ_SETL_ID_MAX - 1] = '\xea';

    struct spends s = {.n = 12,
                       .sp = {
                           spend_of("S1", 20240105, 5000, "A"),
                           spend_of("S1", 20240101, 1000, "B"),
                           spend_of("S1", 20240103, 3000, "C"),
                           spend_of("S1", 20240103, 3000, "D"), /* same instant, next id */
                           spend_of("S1", 20240110, 100, "E"),
                           spend_of("S1", 20231231, 1, "F"),
                           spend_of("S1", 20240201, 1, "G"),
                           spend_of("S10", 20240102, 1, "H"), /* prefix trap */
                           spend_of("S2", 20240102, 1, "I"),
                           spend_of("S3", 99991231, INT64_MAX, long_id),
                           spend_of("S3", 99991231, INT64_MAX, long_id2),
                           spend_of("S1", 20240230, 1, "bad date"),
                       }};
    assert_int_equal(store_submit_wait(f->s, apply_spends, &s), GJ_OK);
    for (int i = 0; i < 11; i++)
        assert_int_equal(s.rv[i], GJ_OK);
    assert_int_equal(s.rv[11], GJ_ERR_INVAL);

    store_txn *t = rd(f);
    store_spend out[8];
    size_t n = 0;
    char cur[80], cur2[80];

    assert_int_equal(store_spend_list(t, "S1", 20240101, 20240131, "", out, 2, &n, cur), GJ_OK);
    assert_int_equal(n, 2);
    assert_string_equal(out[0].setl_id, "B");
    assert_string_equal(out[1].setl_id, "C");
    assert_cursor_printable(cur);

    assert_int_equal(store_spend_list(t, "S1", 20240101, 20240131, cur, out, 2, &n, cur2), GJ_OK);
    assert_int_equal(n, 2);
    assert_string_equal(out[0].setl_id, "D");
    assert_string_equal(out[1].setl_id, "A");
    assert_cursor_printable(cur2);

    assert_int_equal(store_spend_list(t, "S1", 20240101, 20240131, cur2, out, 2, &n, cur2), GJ_OK);
    assert_int_equal(n, 1);
    assert_string_equal(out[0].setl_id, "E");
    assert_string_equal(cur2, ""); /* nothing remains */

    /* Exactly as many as remain: no cursor. */
    assert_int_equal(store_spend_list(t, "S1", 20240101, 20240131, NULL, out, 5, &n, cur2), GJ_OK);
    assert_int_equal(n, 5);
    assert_string_equal(cur2, "");

    /* A cursor before from_date starts at from_date. */
    assert_int_equal(store_spend_list(t, "S1", 20240105, 20240131, cur, out, 8, &n, cur2), GJ_OK);
    assert_int_equal(n, 2);
    assert_string_equal(out[0].setl_id, "A");
    assert_string_equal(out[1].setl_id, "E");

    /* Everything of S1 and nothing of S10, in date order. */
    assert_int_equal(store_spend_list(t, "S1", 0, 99991231, "", out, 8, &n, cur2), GJ_OK);
    assert_int_equal(n, 7);
    for (size_t i = 1; i < n; i++)
        assert_true(out[i - 1].setl_date <= out[i].setl_date);
    assert_string_equal(out[0].setl_id, "F");
    assert_string_equal(out[6].setl_id, "G");
    assert_int_equal(store_spend_list(t, "S1", 20240102, 20240102, "", out, 8, &n, cur2), GJ_OK);
    assert_int_equal(n, 0);
    assert_int_equal(store_spend_list(t, "S1", 20240131, 20240101, "", out, 8, &n, cur2), GJ_OK);
    assert_int_equal(n, 0);

    /* The longest key tail, with bytes that are not text, still round-trips. */
    assert_int_equal(store_spend_list(t, "S3", 0, 99991231, "", out, 1, &n, cur), GJ_OK);
    assert_int_equal(n, 1);
    assert_memory_equal(out[0].setl_id, long_id, sizeof long_id);
    assert_cursor_printable(cur);
    assert_int_equal(store_spend_list(t, "S3", 0, 99991231, cur, out, 1, &n, cur2), GJ_OK);
    assert_int_equal(n, 1);
    assert_memory_equal(out[0].setl_id, long_id2, sizeof long_id2);
    assert_string_equal(cur2, "");

    /* Cursors no encoder made are refused. */
    char toolong[90];
    memset(toolong, 'A', sizeof toolong - 1);
    toolong[sizeof toolong - 1] = '\0';
    const char *bad[] = {"%%%%", "A", "AAAA", "AAAAAAAAAAAAAAAAB", toolong};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(store_spend_list(t, "S1", 0, 99991231, bad[i], out, 8, &n, cur2),
                         GJ_ERR_INVAL);
    assert_int_equal(store_spend_list(t, "S1", 0, 99991231, "", out, 0, &n, cur2), GJ_ERR_INVAL);
    store_read_end(t);
}

struct seqs {
    const char *name;
    size_t n;
    uint64_t v[4];
    gj_err rv;
    bool abort_after;
};

static gj_err apply_seqs(store_txn *t, void *arg)
{
    struct seqs *s = arg;
    for (size_t i = 0; i < s->n; i++)
        if ((s->rv = store_next_seq(t, s->name, &s->v[i])) != GJ_OK)
            return s->rv;
    return s->abort_after ? GJ_ERR_ABORT : GJ_OK;
}

static void test_next_seq_survives_reopen(void **state)
{
    struct fx *f = open_fx(state);
    struct seqs a = {.name = "a", .n = 3}, b = {.name = "b", .n = 1};
    assert_int_equal(store_submit_wait(f->s, apply_seqs, &a), GJ_OK);
    assert_int_equal(a.v[0], 1);
    assert_int_equal(a.v[1], 2);
    assert_int_equal(a.v[2], 3);
    assert_int_equal(store_submit_wait(f->s, apply_seqs, &b), GJ_OK);
    assert_int_equal(b.v[0], 1);

    open_with(f, NULL);
    struct seqs aborted = {.name = "a", .n = 2, .abort_after = true};
    assert_int_equal(store_submit_wait(f->s, apply_seqs, &aborted), GJ_ERR_ABORT);
    assert_int_equal(aborted.v[1], 5);
    struct seqs again = {.name = "a", .n = 1};
    assert_int_equal(store_submit_wait(f->s, apply_seqs, &again), GJ_OK);
    assert_int_equal(again.v[0], 4); /* the aborted values were never taken */

    struct seqs longname = {.name = "123456789012345678901234567890123", .n = 1};
    assert_int_equal(store_submit_wait(f->s, apply_seqs, &longname), GJ_ERR_INVAL);
    struct seqs maxname = {.name = "12345678901234567890123456789012", .n = 1};
    assert_int_equal(store_submit_wait(f->s, apply_seqs, &maxname), GJ_OK);
    assert_int_equal(maxname.v[0], 1);
}

#define CONS_ACCOUNTS 10
#define CONS_ROUNDS 10
#define CONS_MOVES 100

struct cons {
    uint64_t rng;
    int accepted;
    int refused;
};

static uint64_t next_rand(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

static gj_err apply_random_moves(store_txn *t, void *arg)
{
    struct cons *c = arg;
    char psn[16];
    gj_err err;
    for (int i = 0; i < CONS_MOVES; i++) {
        snprintf(psn, sizeof psn, "C%02d", (int)(next_rand(&c->rng) % CONS_ACCOUNTS));
        if ((err = store_account_ensure(t, psn)) != GJ_OK)
            return err;
        uint8_t kind = (uint8_t)(1 + next_rand(&c->rng) % 5);
        int64_t amount = (int64_t)(1 + next_rand(&c->rng) % 5000);
        if (kind != STORE_J_CREDIT && kind != STORE_J_REFUND)
            amount = -amount;
        store_journal_entry e = entry_of(psn, kind, amount);
        err = store_account_move(t, &e, NULL);
        if (err == GJ_OK)
            c->accepted++;
        else if (err == GJ_ERR_INVAL)
            c->refused++; /* would overdraw: expected sometimes */
        else
            return err;
        if (next_rand(&c->rng) % 4 == 0) {
            store_account a;
            if ((err = store_account_get(t, psn, &a)) != GJ_OK)
                return err;
            int64_t delta = a.held > 0 ? -a.held : a.balance / 2;
            if ((err = store_account_hold(t, psn, delta, NULL)) != GJ_OK)
                return err;
        }
    }
    return GJ_OK;
}

struct cons_check {
    int accounts;
    int bad;
    int64_t journal_sum[CONS_ACCOUNTS];
    int64_t last_after[CONS_ACCOUNTS];
    uint64_t next_seq;
    int seq_gaps;
};

static bool check_account(const char *psn_no, const store_account *a, void *arg)
{
    struct cons_check *c = arg;
    int idx = atoi(psn_no + 1);
    c->accounts++;
    if (a->credited - a->paid_out + a->refunded != a->balance || a->held < 0 ||
        a->held > a->balance || a->balance != c->journal_sum[idx] ||
        a->balance != c->last_after[idx])
        c->bad++;
    return true;
}

static bool sum_journal(const store_journal_entry *e, void *arg)
{
    struct cons_check *c = arg;
    int idx = atoi(e->psn_no + 1);
    if (e->seq != c->next_seq)
        c->seq_gaps++;
    c->next_seq = e->seq + 1;
    c->journal_sum[idx] += e->amount;
    c->last_after[idx] = e->balance_after;
    return true;
}

static void check_conservation(struct fx *f, int accepted)
{
    struct cons_check c = {.next_seq = 1};
    store_txn *t = rd(f);
    assert_int_equal(store_journal_scan(t, 1, sum_journal, &c), GJ_OK);
    assert_int_equal(store_account_scan(t, check_account, &c), GJ_OK);
    assert_int_equal(store_journal_count(t), (uint64_t)accepted);
    store_read_end(t);
    assert_int_equal(c.seq_gaps, 0);
    assert_int_equal(c.next_seq, (uint64_t)accepted + 1);
    assert_int_equal(c.accounts, CONS_ACCOUNTS);
    assert_int_equal(c.bad, 0);
}

static void test_conservation_holds_after_many_moves(void **state)
{
    struct fx *f = open_fx(state);
    struct cons c = {.rng = 0x9e3779b97f4a7c15ULL};
    for (int r = 0; r < CONS_ROUNDS; r++)
        assert_int_equal(store_submit_wait(f->s, apply_random_moves, &c), GJ_OK);
    assert_true(c.accepted > CONS_ROUNDS * CONS_MOVES / 2);
    assert_true(c.refused > 0); /* the overdraft path was exercised too */
    check_conservation(f, c.accepted);
    open_with(f, NULL);
    check_conservation(f, c.accepted);
}

static bool stop_at_first(const char *psn_no, const store_account *a, void *arg)
{
    (void)a;
    snprintf(arg, 16, "%s", psn_no);
    return false;
}

static void test_account_scan_is_in_psn_no_order_and_stops_early(void **state)
{
    struct fx *f = open_fx(state);
    const char *names[] = {"P3", "P1", "P2"};
    for (int i = 0; i < 3; i++)
        assert_int_equal(store_submit_wait(f->s, apply_ensure, (void *)names[i]), GJ_OK);
    /* Ensuring again keeps the account as it is. */
    credit(f, "P2", 10);
    assert_int_equal(store_submit_wait(f->s, apply_ensure, "P2"), GJ_OK);
    assert_int_equal(account_of(f, "P2").balance, 10);

    char first[16] = "";
    store_txn *t = rd(f);
    assert_int_equal(store_account_scan(t, stop_at_first, first), GJ_OK);
    store_read_end(t);
    assert_string_equal(first, "P1");
}

static void test_write_on_read_txn_refused(void **state)
{
    struct fx *f = open_fx(state);
    credit(f, "P1", 100);
    store_txn *t = rd(f);
    store_person p = person_of("P2");
    store_journal_entry e = entry_of("P1", STORE_J_CREDIT, 10);
    store_binding b = binding_of("S1", "B1", 0);
    store_order o = {.count = 0};
    store_settlement st;
    memset(&st, 0, sizeof st);
    SET(st.setl_id, "X");
    st.status = STORE_SETL_COMMITTED;
    store_spend sp = spend_of("S1", 20240101, 1, "X");
    uint64_t seq;

    assert_int_equal(store_person_put(t, &p), GJ_ERR_INVAL);
    assert_int_equal(store_account_ensure(t, "P2"), GJ_ERR_INVAL);
    assert_int_equal(store_account_move(t, &e, NULL), GJ_ERR_INVAL);
    assert_int_equal(e.seq, 0);
    assert_int_equal(store_account_hold(t, "P1", 1, NULL), GJ_ERR_INVAL);
    assert_int_equal(store_binding_put(t, &b), GJ_ERR_INVAL);
    assert_int_equal(store_order_put(t, "B1", &o), GJ_ERR_INVAL);
    assert_int_equal(store_idem_put(t, "c", "d", dg(1), "x", 1), GJ_ERR_INVAL);
    assert_int_equal(store_next_seq(t, "a", &seq), GJ_ERR_INVAL);
    assert_int_equal(store_settlement_put(t, &st), GJ_ERR_INVAL);
    assert_int_equal(store_spend_put(t, &sp), GJ_ERR_INVAL);
    store_hold h;
    memset(&h, 0, sizeof h);
    SET(h.setl_id, "X");
    SET(h.sponsor, "P1");
    SET(h.beneficiary, "B1");
    SET(h.coordinator, "430100");
    h.state = STORE_HOLD_HELD;
    store_decision d;
    memset(&d, 0, sizeof d);
    SET(d.setl_id, "X");
    assert_int_equal(store_hold_put(t, &h), GJ_ERR_INVAL);
    assert_int_equal(store_decision_put(t, &d), GJ_ERR_INVAL);
    assert_int_equal(store_hold_open_count(t), 0);
    assert_int_equal(store_decision_open_count(t), 0);
    store_read_end(t);

    t = rd(f);
    assert_int_equal(store_person_count(t), 0);
    assert_int_equal(store_journal_count(t), 1);
    assert_int_equal(store_binding_count(t), 0);
    store_read_end(t);
    assert_int_equal(account_of(f, "P1").held, 0);
}

struct overlong {
    gj_err rv[6];
};

static gj_err apply_overlong(store_txn *t, void *arg)
{
    struct overlong *o = arg;
    store_person p = person_of("P1");
    memset(p.psn_no, 'A', sizeof p.psn_no); /* no terminator anywhere */
    o->rv[0] = store_person_put(t, &p);
    o->rv[1] = store_account_ensure(t, "123456789012345678901234567890123");
    o->rv[2] = store_account_ensure(t, "");
    o->rv[3] = store_account_ensure(t, NULL);
    o->rv[4] = store_account_ensure(t, "12345678901234567890123456789012"); /* 32: fits */
    p = person_of("P1");
    memset(p.name, 'x', sizeof p.name);
    o->rv[5] = store_person_put(t, &p);
    return GJ_OK;
}

static void test_overlong_psn_no_refused(void **state)
{
    struct fx *f = open_fx(state);
    struct overlong o;
    assert_int_equal(store_submit_wait(f->s, apply_overlong, &o), GJ_OK);
    assert_int_equal(o.rv[0], GJ_ERR_INVAL);
    assert_int_equal(o.rv[1], GJ_ERR_INVAL);
    assert_int_equal(o.rv[2], GJ_ERR_INVAL);
    assert_int_equal(o.rv[3], GJ_ERR_INVAL);
    assert_int_equal(o.rv[4], GJ_OK);
    assert_int_equal(o.rv[5], GJ_ERR_INVAL);

    store_txn *t = rd(f);
    store_person p;
    store_binding b[2];
    size_t n;
    char cur[80];
    store_spend sp[1];
    const char *too_long = "123456789012345678901234567890123";
    assert_int_equal(store_person_get(t, too_long, &p), GJ_ERR_INVAL);
    assert_int_equal(store_person_get(t, NULL, &p), GJ_ERR_INVAL);
    assert_int_equal(store_binding_list_by_sponsor(t, too_long, b, 2, &n), GJ_ERR_INVAL);
    assert_int_equal(store_binding_get(t, "S1", too_long, b), GJ_ERR_INVAL);
    assert_int_equal(store_spend_list(t, too_long, 0, 99991231, "", sp, 1, &n, cur), GJ_ERR_INVAL);
    assert_int_equal(store_person_count(t), 0);
    store_read_end(t);
}

static void *close_thread(void *arg)
{
    store_close(arg);
    return NULL;
}

static void test_full_queue_or_closed_store_refuses_submit(void **state)
{
    struct fx *f = *state;
    store_options opts = {.queue_max = 2};
    static struct gate g;
    static struct dones d;
    static struct async_job jobs[3];

    open_with(f, &opts);
    gate_init(&g);
    dones_init(&d);
    gate_close(f, &g); /* the writer holds the gate; the queue is empty */
    for (int i = 0; i < 3; i++)
        jobs[i] = (struct async_job){.d = &d, .s = f->s, .idx = i,
                                     .p = person_of(i == 0 ? "Q0" : i == 1 ? "Q1" : "Q2")};
    assert_int_equal(store_submit(f->s, apply_async_job, done_async_job, &jobs[0]), GJ_OK);
    assert_int_equal(store_submit(f->s, apply_async_job, done_async_job, &jobs[1]), GJ_OK);
    assert_int_equal(store_submit(f->s, apply_async_job, done_async_job, &jobs[2]), GJ_ERR_FULL);
    assert_int_equal(store_submit_wait(f->s, apply_put_person, &jobs[2].p), GJ_ERR_FULL);

    /* Close while the writer is held: new work is refused at once... */
    store *s = f->s;
    f->s = NULL; /* the closer owns it now */
    assert_int_equal(pthread_create(&f->closer, NULL, close_thread, s), 0);
    f->closer_running = true;
    gj_err rv = GJ_ERR_FULL;
    for (int i = 0; i < 5000 && rv == GJ_ERR_FULL; i++) {
        rv = store_submit(s, apply_async_job, done_async_job, &jobs[2]);
        if (rv == GJ_ERR_FULL)
            sleep_ms(1);
    }
    assert_int_equal(rv, GJ_ERR_CLOSED);
    assert_int_equal(store_submit_wait(s, apply_put_person, &jobs[2].p), GJ_ERR_CLOSED);
    /* ...while what was already queued is still committed. */
    gate_open(&g);
    pthread_join(f->closer, NULL);
    f->closer_running = false;
    assert_int_equal(d.count, 2);
    assert_int_equal(d.result[0], GJ_OK);
    assert_int_equal(d.result[1], GJ_OK);

    open_with(f, NULL);
    assert_true(person_exists(f, "Q0"));
    assert_true(person_exists(f, "Q1"));
    assert_false(person_exists(f, "Q2"));
}

struct fill {
    int batch;
    int per;
};

static void fill_name(char *buf, size_t size, int i)
{
    snprintf(buf, size, "F%06d", i);
}

static gj_err apply_fill(store_txn *t, void *arg)
{
    struct fill *fl = arg;
    char name[16];
    gj_err err;
    for (int i = 0; i < fl->per; i++) {
        fill_name(name, sizeof name, fl->batch * fl->per + i);
        store_person p = person_of(name);
        if ((err = store_person_put(t, &p)) != GJ_OK)
            return err;
    }
    return GJ_OK;
}

static void test_map_full_is_reported(void **state)
{
    struct fx *f = *state;
    store_options opts = {.map_size = 1 << 20};
    struct fill fl = {.per = 200};
    gj_err rv = GJ_OK;
    char name[16];

    open_with(f, &opts);
    for (fl.batch = 0; fl.batch < 1000; fl.batch++)
        if ((rv = store_submit_wait(f->s, apply_fill, &fl)) != GJ_OK)
            break;
    assert_int_equal(rv, GJ_ERR_FULL);
    int committed = fl.batch;
    assert_true(committed > 0);

    /* Reads still work and show exactly the committed batches. */
    assert_int_equal(person_count(f), (uint64_t)committed * fl.per);
    fill_name(name, sizeof name, 0);
    assert_true(person_exists(f, name));
    fill_name(name, sizeof name, committed * fl.per - 1);
    assert_true(person_exists(f, name));
    fill_name(name, sizeof name, committed * fl.per);
    assert_false(person_exists(f, name));

    open_with(f, &opts);
    assert_int_equal(person_count(f), (uint64_t)committed * fl.per);
}

struct swallow {
    gj_err first_error;
    int written;
    struct dones *d; /* for the async variant */
    int idx;
};

static void done_swallow(void *arg, gj_err result)
{
    struct swallow *sw = arg;
    pthread_mutex_lock(&sw->d->mu);
    sw->d->result[sw->idx] = result;
    sw->d->count++;
    pthread_cond_broadcast(&sw->d->cv);
    pthread_mutex_unlock(&sw->d->mu);
}

/* A buggy job: ignores a failed write and claims success. */
static gj_err apply_swallow(store_txn *t, void *arg)
{
    struct swallow *sw = arg;
    char name[16];
    for (int i = 0; i < 100000; i++) {
        fill_name(name, sizeof name, i);
        store_person p = person_of(name);
        gj_err err = store_person_put(t, &p);
        if (err != GJ_OK) {
            sw->first_error = err;
            break;
        }
        sw->written++;
    }
    return GJ_OK;
}

static void test_swallowed_store_error_fails_only_that_job(void **state)
{
    struct fx *f = *state;
    store_options opts = {.map_size = 1 << 20};
    static struct gate g;
    static struct dones d;
    static struct async_job a, c;
    static struct swallow sw;

    open_with(f, &opts);
    gate_init(&g);
    dones_init(&d);
    a = (struct async_job){.idx = 0};
    c = (struct async_job){.idx = 2};
    sw = (struct swallow){.d = &d, .idx = 1};
    a.d = c.d = &d;
    a.s = c.s = f->s;
    a.p = person_of("A");
    c.p = person_of("C");
    gate_close(f, &g);
    assert_int_equal(store_submit(f->s, apply_async_job, done_async_job, &a), GJ_OK);
    assert_int_equal(store_submit(f->s, apply_swallow, done_swallow, &sw), GJ_OK);
    assert_int_equal(store_submit(f->s, apply_async_job, done_async_job, &c), GJ_OK);
    gate_open(&g);
    dones_wait(&d, 3);

    assert_int_equal(sw.first_error, GJ_ERR_FULL);
    assert_true(sw.written > 0);
    assert_int_equal(d.result[1], GJ_ERR_FULL); /* apply said GJ_OK; done learns the truth */
    assert_int_equal(d.result[0], GJ_OK);
    assert_int_equal(d.result[2], GJ_OK);
    assert_true(person_exists(f, "A"));
    assert_true(person_exists(f, "C"));
    fill_name(c.p.psn_no, sizeof c.p.psn_no, 0);
    assert_false(person_exists(f, c.p.psn_no));
    assert_int_equal(person_count(f), 2);
}

static void test_swallowed_store_error_is_reported_to_done(void **state)
{
    struct fx *f = *state;
    store_options opts = {.map_size = 1 << 20};
    struct swallow sw = {.first_error = GJ_OK};
    open_with(f, &opts);
    /* apply said GJ_OK, but its write failed: the caller learns the real outcome. */
    assert_int_equal(store_submit_wait(f->s, apply_swallow, &sw), GJ_ERR_FULL);
    assert_int_equal(person_count(f), 0);
    put_person(f, "AFTER"); /* and the store goes on */
    assert_true(person_exists(f, "AFTER"));
}

struct setl_case {
    store_settlement st;
};

static gj_err apply_setl(store_txn *t, void *arg)
{
    return store_settlement_put(t, arg);
}

static void test_settlement_roundtrip_and_replace(void **state)
{
    struct fx *f = open_fx(state);
    store_settlement st, out;
    memset(&st, 0, sizeof st);
    SET(st.setl_id, "430100-20240101-000000000001");
    SET(st.psn_no, "B1");
    st.amount = 1000;
    st.acct_pay = 600;
    st.mulaid_pay = 300;
    st.cash_pay = 100;
    st.setl_date = 20240101;
    st.status = STORE_SETL_COMMITTED;
    st.part_count = 2;
    SET(st.parts[0].psn_no, "S1");
    st.parts[0].amount = 200;
    SET(st.parts[1].psn_no, "S2");
    st.parts[1].amount = 100;
    assert_int_equal(store_submit_wait(f->s, apply_setl, &st), GJ_OK);
    st.status = STORE_SETL_REVOKED;
    assert_int_equal(store_submit_wait(f->s, apply_setl, &st), GJ_OK);

    store_settlement bad = st;
    bad.part_count = GJ_SPONSORS_MAX + 1;
    assert_int_equal(store_submit_wait(f->s, apply_setl, &bad), GJ_ERR_INVAL);
    bad = st;
    bad.status = 9;
    assert_int_equal(store_submit_wait(f->s, apply_setl, &bad), GJ_ERR_INVAL);
    /* The patient, date and instant file it in settlements_by_psn. */
    bad = st;
    bad.psn_no[0] = '\0';
    assert_int_equal(store_submit_wait(f->s, apply_setl, &bad), GJ_ERR_INVAL);
    bad = st;
    bad.setl_date = 20240230;
    assert_int_equal(store_submit_wait(f->s, apply_setl, &bad), GJ_ERR_INVAL);
    bad = st;
    bad.unix_ms = -1;
    assert_int_equal(store_submit_wait(f->s, apply_setl, &bad), GJ_ERR_INVAL);
    bad = st;
    bad.revoke_date = 20241301;
    assert_int_equal(store_submit_wait(f->s, apply_setl, &bad), GJ_ERR_INVAL);
    st.revoke_date = 20240105;
    st.revoke_unix_ms = 1704412800000LL;
    assert_int_equal(store_submit_wait(f->s, apply_setl, &st), GJ_OK);

    store_txn *t = rd(f);
    assert_int_equal(store_settlement_get(t, st.setl_id, &out), GJ_OK);
    assert_memory_equal(&out, &st, sizeof st);
    assert_int_equal(out.status, STORE_SETL_REVOKED);
    assert_int_equal(out.revoke_date, 20240105);
    assert_int_equal(out.part_count, 2);
    assert_string_equal(out.parts[1].psn_no, "S2");
    assert_int_equal(out.mulaid_pay, 300);
    assert_int_equal(store_settlement_get(t, "nope", &out), GJ_ERR_NOTFOUND);
    store_read_end(t);
}

struct thread_end {
    store_txn *t;
    gj_err rv;
};

static void *end_elsewhere(void *arg)
{
    struct thread_end *te = arg;
    store_person p;
    te->rv = store_person_get(te->t, "R1", &p);
    store_read_end(te->t);
    return NULL;
}

static void test_read_txn_is_a_snapshot_usable_from_any_thread(void **state)
{
    struct fx *f = open_fx(state);
    store_txn *before = rd(f);
    put_person(f, "R1");

    /* The older snapshot does not see the write, even from another thread. */
    struct thread_end te = {.t = before};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, end_elsewhere, &te), 0);
    pthread_join(th, NULL);
    assert_int_equal(te.rv, GJ_ERR_NOTFOUND);
    assert_true(person_exists(f, "R1"));

    /* More open at once than are pooled, then reused: every one sees the data. */
    store_txn *many[40];
    for (int i = 0; i < 40; i++)
        many[i] = rd(f);
    for (int i = 0; i < 40; i++)
        store_read_end(many[i]);
    for (int i = 0; i < 40; i++) {
        many[i] = rd(f);
        assert_int_equal(store_person_count(many[i]), 1);
    }
    put_person(f, "R2"); /* renewed handles must see new commits */
    for (int i = 0; i < 40; i++)
        store_read_end(many[i]);
    for (int i = 0; i < 20; i++) {
        store_txn *t = rd(f);
        assert_int_equal(store_person_count(t), 2);
        store_read_end(t);
    }
    store_read_end(NULL); /* safe */
}

static void raw_putn(const char *dir, const char *db, const void *key, size_t klen,
                     const void *val, size_t len)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    MDB_val k = {klen, (void *)key}, v = {len, (void *)val};
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 32), 0);
    assert_int_equal(mdb_env_open(env, dir, 0, 0600), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, db, 0, &dbi), 0);
    assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

static void raw_put(const char *dir, const char *db, const char *key, const void *val,
                    size_t len)
{
    raw_putn(dir, db, key, strlen(key), val, len);
}

static bool count_accounts(const char *psn_no, const store_account *a, void *arg)
{
    (void)psn_no;
    (void)a;
    (*(int *)arg)++;
    return true;
}

/* A person's account, spend records and patient index share the ledger tree: each
 * kind reads back only its own records, and an account scan sees accounts only. */
static store_settlement setl_of(const char *setl_id, const char *psn_no, int32_t date, int64_t ms);

static bool sum_accounts(const char *psn_no, const store_account *a, void *arg)
{
    (void)psn_no;
    ((int64_t *)arg)[0]++;
    ((int64_t *)arg)[1] += a->balance;
    return true;
}

static void test_ledger_keeps_accounts_spends_and_patient_index_apart(void **state)
{
    struct fx *f = open_fx(state);
    credit(f, "P1", 500);
    credit(f, "P10", 70);
    struct spends sp = {.n = 3,
                        .sp = {spend_of("P1", 20240102, 2000, "X1"), spend_of("P1", 20240103, 3000, "X2"),
                               spend_of("P10", 20240102, 2000, "X3")}};
    assert_int_equal(store_submit_wait(f->s, apply_spends, &sp), GJ_OK);
    for (size_t i = 0; i < sp.n; i++)
        assert_int_equal(sp.rv[i], GJ_OK);
    store_settlement st = setl_of("Y1", "P1", 20240102, 2500);
    assert_int_equal(store_submit_wait(f->s, apply_setl, &st), GJ_OK);
    credit(f, "P1", 1); /* the account still moves with history beside it */

    store_txn *t = rd(f);
    int64_t seen[2] = {0, 0};
    assert_int_equal(store_account_scan(t, sum_accounts, seen), GJ_OK);
    assert_int_equal(seen[0], 2);
    assert_int_equal(seen[1], 571);
    store_spend spends[8];
    store_settlement setls[8];
    size_t n;
    char cur[80];
    assert_int_equal(store_spend_list(t, "P1", 0, 99991231, "", spends, 8, &n, cur), GJ_OK);
    assert_int_equal(n, 2);
    assert_string_equal(spends[0].setl_id, "X1");
    assert_string_equal(spends[1].setl_id, "X2");
    assert_int_equal(store_settlement_list_by_psn(t, "P1", 0, 99991231, "", setls, 8, &n, cur), GJ_OK);
    assert_int_equal(n, 1);
    assert_string_equal(setls[0].setl_id, "Y1");
    assert_int_equal(store_settlement_list_by_psn(t, "P10", 0, 99991231, "", setls, 8, &n, cur), GJ_OK);
    assert_int_equal(n, 0);
    assert_int_equal(store_spend_list(t, "P10", 0, 99991231, "", spends, 8, &n, cur), GJ_OK);
    assert_int_equal(n, 1);
    assert_int_equal(account_of(f, "P1").balance, 501);
    assert_int_equal(account_of(f, "P10").balance, 70);
    /* A spend record keeps in its value only what the key does not say. */
    assert_int_equal(store_spend_list(t, "P10", 0, 99991231, "", spends, 8, &n, cur), GJ_OK);
    assert_string_equal(spends[0].sponsor, "P10");
    assert_string_equal(spends[0].beneficiary, "B1");
    assert_string_equal(spends[0].setl_id, "X3");
    assert_int_equal(spends[0].setl_date, 20240102);
    assert_int_equal(spends[0].unix_ms, 2000);
    assert_int_equal(spends[0].amount, 100);
    store_read_end(t);
    store_close(f->s);
    f->s = NULL;

    /* A value too short to hold amount, use and refund is damage. */
    unsigned char k[4 + 12 + 2] = {'P', '1', 0, 'S', 0x01, 0x34, 0xd6, 0xe6}; /* 20240102 */
    memset(k + 8, 0, 8);
    k[15] = 9;
    memcpy(k + 16, "X9", 2);
    raw_putn(f->dir, "ledger", k, sizeof k, "abc", 3);
    open_with(f, NULL);
    t = rd(f);
    assert_int_equal(store_spend_list(t, "P1", 0, 99991231, "", spends, 8, &n, cur), GJ_ERR_CORRUPT);
    assert_int_equal(store_spend_list(t, "P10", 0, 99991231, "", spends, 8, &n, cur), GJ_OK);
    store_read_end(t);
}

static void test_damaged_records_and_other_format_read_as_corrupt(void **state)
{
    struct fx *f = open_fx(state);
    credit(f, "P1", 5);
    put_person(f, "P1");
    store_close(f->s);
    f->s = NULL;

    raw_put(f->dir, "persons", "P2", "abc", 3);
    raw_putn(f->dir, "ledger", "P3\0~", 4, "abc", 3); /* P3's account key */
    char longer[sizeof(store_person) + 1];
    memset(longer, 'x', sizeof longer);
    raw_put(f->dir, "persons", "P4", longer, sizeof longer);
    open_with(f, NULL);
    store_txn *t = rd(f);
    store_person p;
    store_account a;
    int n = 0;
    assert_int_equal(store_person_get(t, "P1", &p), GJ_OK);
    assert_int_equal(store_person_get(t, "P2", &p), GJ_ERR_CORRUPT);
    assert_int_equal(store_person_get(t, "P4", &p), GJ_ERR_CORRUPT);
    assert_int_equal(store_account_get(t, "P3", &a), GJ_ERR_CORRUPT);
    assert_int_equal(store_account_scan(t, count_accounts, &n), GJ_ERR_CORRUPT);
    assert_int_equal(n, 1); /* P1 came before the damaged P3 */
    store_read_end(t);
    store_close(f->s);
    f->s = NULL;

    /* Format 6 kept a 64-bit FNV hash of each request in its idempotency record;
     * format 5 had no speculative mark on decision legs; format 4 stored journal
     * entries at full size; format 3 kept accounts, spend records and the patient index
     * in trees of their own: their files are refused, as is any later format. */
    static int dummy;
    const unsigned char other[5][4] = {{0, 0, 0, 3}, {0, 0, 0, 4}, {0, 0, 0, 5}, {0, 0, 0, 6}, {0, 0, 0, 8}};
    for (int i = 0; i < 5; i++) {
        raw_put(f->dir, "meta", "format", other[i], sizeof other[i]);
        store *s = (store *)&dummy; /* must be cleared on failure */
        gj_err opened = store_open(&s, f->dir, NULL);
        if (opened != GJ_ERR_CORRUPT)
            fail_msg("format %d opened: %s", other[i][3], gj_err_name(opened));
        assert_null(s);
    }
}

static void test_open_refuses_missing_directory(void **state)
{
    struct fx *f = *state;
    char missing[96];
    store *s = NULL;
    snprintf(missing, sizeof missing, "%s/absent", f->dir);
    assert_int_equal(store_open(&s, missing, NULL), GJ_ERR_IO);
    assert_null(s);
    assert_int_equal(store_open(&s, NULL, NULL), GJ_ERR_INVAL);
    assert_int_equal(store_submit(NULL, apply_put_person, NULL, NULL), GJ_ERR_INVAL);
    store_close(NULL); /* safe */
}

/* ---- cross-region settlement: holds, decisions, settlement scan ---- */

#define SETL_A "430100-20240101-000000000001"
#define SETL_B "430100-20240101-000000000002"

static store_hold hold_of(const char *setl_id, uint32_t leg, uint8_t state, int64_t amount)
{
    store_hold h;
    memset(&h, 0, sizeof h);
    SET(h.setl_id, setl_id);
    h.leg = leg;
    SET(h.sponsor, "S1");
    SET(h.beneficiary, "B1");
    SET(h.coordinator, "430100");
    h.amount = amount;
    h.state = state;
    h.use = 1;
    h.setl_date = 20240101;
    h.created_unix_ms = 1700000000000LL;
    h.resolved_unix_ms = state == STORE_HOLD_HELD ? 0 : 1700000001000LL;
    return h;
}

static store_decision decision_of(const char *setl_id, uint32_t legs)
{
    store_decision d;
    memset(&d, 0, sizeof d);
    SET(d.setl_id, setl_id);
    SET(d.beneficiary, "B1");
    d.unix_ms = 1700000000000LL;
    d.leg_count = legs;
    for (uint32_t i = 0; i < legs; i++) {
        d.legs[i].leg = i;
        snprintf(d.legs[i].sponsor, sizeof d.legs[i].sponsor, "S%u", (unsigned)i);
        SET(d.legs[i].admdvs, "440300");
        d.legs[i].action = i % 2 == 0 ? STORE_LEG_POST : STORE_LEG_VOID;
        d.legs[i].amount = i % 2 == 0 ? 100 * (int64_t)(i + 1) : 0;
    }
    return d;
}

static gj_err apply_hold(store_txn *t, void *arg)
{
    return store_hold_put(t, arg);
}

static gj_err apply_decision(store_txn *t, void *arg)
{
    return store_decision_put(t, arg);
}

static void put_hold(struct fx *f, store_hold h)
{
    assert_int_equal(store_submit_wait(f->s, apply_hold, &h), GJ_OK);
}

static void put_decision(struct fx *f, store_decision d)
{
    assert_int_equal(store_submit_wait(f->s, apply_decision, &d), GJ_OK);
}

/* What a scan saw, as "setl_id/leg" (holds) or setl_id, in visiting order. */
struct seen {
    int n;
    int stop_after; /* 0: never stop */
    char what[64][64];
    store_hold hold[64];
};

static bool saw(struct seen *s)
{
    s->n++;
    return s->stop_after == 0 || s->n < s->stop_after;
}

static bool see_hold(const store_hold *h, void *arg)
{
    struct seen *s = arg;
    if (s->n < 64) {
        snprintf(s->what[s->n], sizeof s->what[s->n], "%s/%u", h->setl_id, (unsigned)h->leg);
        s->hold[s->n] = *h;
    }
    return saw(s);
}

static bool see_decision(const store_decision *d, void *arg)
{
    struct seen *s = arg;
    if (s->n < 64)
        snprintf(s->what[s->n], sizeof s->what[s->n], "%s", d->setl_id);
    return saw(s);
}

static bool see_settlement(const store_settlement *st, void *arg)
{
    struct seen *s = arg;
    if (s->n < 64)
        snprintf(s->what[s->n], sizeof s->what[s->n], "%s", st->setl_id);
    return saw(s);
}

static struct seen open_holds(struct fx *f, uint64_t *count)
{
    struct seen s = {0};
    store_txn *t = rd(f);
    assert_int_equal(store_hold_scan_open(t, see_hold, &s), GJ_OK);
    *count = store_hold_open_count(t);
    store_read_end(t);
    return s;
}

static struct seen all_holds(struct fx *f)
{
    struct seen s = {0};
    store_txn *t = rd(f);
    assert_int_equal(store_hold_scan(t, see_hold, &s), GJ_OK);
    store_read_end(t);
    return s;
}

static struct seen open_decisions(struct fx *f, uint64_t *count)
{
    struct seen s = {0};
    store_txn *t = rd(f);
    assert_int_equal(store_decision_scan_open(t, see_decision, &s), GJ_OK);
    *count = store_decision_open_count(t);
    store_read_end(t);
    return s;
}

/* Scans that go on from a key, as the resolver's rounds do: past it, never at it, and
 * from the first for "". */
static void test_open_scans_go_on_past_a_key(void **state)
{
    struct fx *f = open_fx(state);
    const char *ids[4] = {"430100-20240101-000001-0000000001", "430100-20240101-000001-0000000002",
                          "430100-20240101-000001-0000000003", "430100-20240101-000001-0000000004"};
    for (int i = 0; i < 4; i++) {
        put_decision(f, decision_of(ids[i], 1));
        put_hold(f, hold_of(ids[i], 0, STORE_HOLD_HELD, 100));
        put_hold(f, hold_of(ids[i], 1, STORE_HOLD_HELD, 100));
    }
    put_decision(f, decision_of(ids[1], 0)); /* no legs: not open */
    store_txn *t = rd(f);
    struct seen s = {0};
    assert_int_equal(store_decision_scan_open_after(t, "", see_decision, &s), GJ_OK);
    assert_int_equal(s.n, 3);
    memset(&s, 0, sizeof s);
    assert_int_equal(store_decision_scan_open_after(t, ids[0], see_decision, &s), GJ_OK);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.what[0], ids[2]);
    assert_string_equal(s.what[1], ids[3]);
    memset(&s, 0, sizeof s);
    /* A key no longer open (or never there) starts at the next one. */
    assert_int_equal(store_decision_scan_open_after(t, ids[1], see_decision, &s), GJ_OK);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.what[0], ids[2]);
    memset(&s, 0, sizeof s);
    assert_int_equal(store_decision_scan_open_after(t, ids[3], see_decision, &s), GJ_OK);
    assert_int_equal(s.n, 0);

    memset(&s, 0, sizeof s);
    assert_int_equal(store_hold_scan_open_after(t, "", 0, see_hold, &s), GJ_OK);
    assert_int_equal(s.n, 8);
    memset(&s, 0, sizeof s);
    assert_int_equal(store_hold_scan_open_after(t, ids[1], 0, see_hold, &s), GJ_OK);
    assert_int_equal(s.n, 5);
    assert_string_equal(s.what[0], "430100-20240101-000001-0000000002/1");
    memset(&s, 0, sizeof s);
    assert_int_equal(store_hold_scan_open_after(t, ids[3], 1, see_hold, &s), GJ_OK);
    assert_int_equal(s.n, 0);
    assert_int_equal(store_hold_scan_open_after(t, NULL, 0, see_hold, &s), GJ_ERR_INVAL);
    assert_int_equal(store_decision_scan_open_after(t, NULL, see_decision, &s), GJ_ERR_INVAL);
    store_read_end(t);
}

static void test_hold_roundtrip_and_open_index_follows_state(void **state)
{
    struct fx *f = open_fx(state);
    store_hold in = hold_of(SETL_A, 2, STORE_HOLD_HELD, 300), out;
    uint64_t n;

    put_hold(f, in);
    struct seen s = open_holds(f, &n);
    assert_int_equal(n, 1);
    assert_int_equal(s.n, 1);
    assert_string_equal(s.what[0], SETL_A "/2");
    assert_memory_equal(&s.hold[0], &in, sizeof in);
    store_txn *t = rd(f);
    assert_int_equal(store_hold_get(t, SETL_A, 2, &out), GJ_OK);
    assert_memory_equal(&out, &in, sizeof in);
    assert_int_equal(store_hold_get(t, SETL_A, 1, &out), GJ_ERR_NOTFOUND);
    assert_int_equal(store_hold_get(t, SETL_B, 2, &out), GJ_ERR_NOTFOUND);
    store_read_end(t);

    /* Posting the hold takes it out of the open index, not out of the store. */
    store_hold posted = hold_of(SETL_A, 2, STORE_HOLD_POSTED, 300);
    put_hold(f, posted);
    s = open_holds(f, &n);
    assert_int_equal(n, 0);
    assert_int_equal(s.n, 0);
    s = all_holds(f);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.hold[0].state, STORE_HOLD_POSTED);

    open_with(f, NULL);
    s = open_holds(f, &n);
    assert_int_equal(n, 0);
    assert_int_equal(s.n, 0);
    t = rd(f);
    assert_int_equal(store_hold_get(t, SETL_A, 2, &out), GJ_OK);
    assert_memory_equal(&out, &posted, sizeof posted);
    store_read_end(t);

    /* And a HELD put after the reopen is indexed again. */
    put_hold(f, hold_of(SETL_B, 0, STORE_HOLD_HELD, 5));
    open_with(f, NULL);
    s = open_holds(f, &n);
    assert_int_equal(n, 1);
    assert_int_equal(s.n, 1);
    assert_string_equal(s.what[0], SETL_B "/0");
}

static void test_hold_scans_are_in_setl_id_then_leg_order(void **state)
{
    struct fx *f = open_fx(state);
    uint64_t n;
    /* 256 vs 1: legs compare as numbers, not as little-endian bytes. "S1" before
     * "S10": the separator sorts below every character. */
    put_hold(f, hold_of("S10", 0, STORE_HOLD_HELD, 1));
    put_hold(f, hold_of("S1", 256, STORE_HOLD_HELD, 1));
    put_hold(f, hold_of("S1", 1, STORE_HOLD_HELD, 1));
    put_hold(f, hold_of("S1", 3, STORE_HOLD_VOIDED, 0));

    struct seen s = open_holds(f, &n);
    assert_int_equal(n, 3);
    assert_int_equal(s.n, 3);
    assert_string_equal(s.what[0], "S1/1");
    assert_string_equal(s.what[1], "S1/256");
    assert_string_equal(s.what[2], "S10/0");
    s = all_holds(f);
    assert_int_equal(s.n, 4);
    assert_string_equal(s.what[0], "S1/1");
    assert_string_equal(s.what[1], "S1/3");
    assert_string_equal(s.what[2], "S1/256");
    assert_string_equal(s.what[3], "S10/0");

    /* The callback stops either scan early. */
    struct seen one = {.stop_after = 1};
    store_txn *t = rd(f);
    assert_int_equal(store_hold_scan_open(t, see_hold, &one), GJ_OK);
    assert_int_equal(one.n, 1);
    assert_int_equal(store_hold_scan(t, NULL, NULL), GJ_ERR_INVAL);
    assert_int_equal(store_hold_scan_open(t, NULL, NULL), GJ_ERR_INVAL);
    store_read_end(t);
}

static void test_hold_fence_is_a_voided_hold_of_zero(void **state)
{
    struct fx *f = open_fx(state);
    uint64_t n;
    store_hold fence = hold_of(SETL_A, 1, STORE_HOLD_VOIDED, 0), out;

    /* A void that beats its hold leaves a fence: stored, never open. */
    put_hold(f, fence);
    struct seen s = open_holds(f, &n);
    assert_int_equal(n, 0);
    assert_int_equal(s.n, 0);
    s = all_holds(f);
    assert_int_equal(s.n, 1);

    /* The late hold finds it under the same (setl_id, leg). */
    store_txn *t = rd(f);
    assert_int_equal(store_hold_get(t, SETL_A, 1, &out), GJ_OK);
    assert_int_equal(out.state, STORE_HOLD_VOIDED);
    assert_int_equal(out.amount, 0);
    assert_memory_equal(&out, &fence, sizeof fence);
    store_read_end(t);
}

struct hold_puts {
    size_t n;
    store_hold h[16];
    gj_err rv[16];
};

static gj_err apply_hold_puts(store_txn *t, void *arg)
{
    struct hold_puts *p = arg;
    for (size_t i = 0; i < p->n; i++)
        p->rv[i] = store_hold_put(t, &p->h[i]);
    return GJ_OK;
}

static void test_hold_refuses_malformed_fields(void **state)
{
    struct fx *f = open_fx(state);
    struct hold_puts p = {.n = 0};
    store_hold good = hold_of(SETL_A, 0, STORE_HOLD_HELD, GJ_AMOUNT_MAX);
    store_hold *h;

    p.h[p.n++] = good; /* 0: the largest amount is fine */
    h = &p.h[p.n++];
    *h = good;
    h->setl_id[0] = '\0';
    h = &p.h[p.n++];
    *h = good;
    memset(h->setl_id, '7', sizeof h->setl_id); /* 40 chars, no terminator */
    h = &p.h[p.n++];
    *h = good;
    h->sponsor[0] = '\0';
    h = &p.h[p.n++];
    *h = good;
    h->beneficiary[0] = '\0';
    h = &p.h[p.n++];
    *h = good;
    SET(h->coordinator, "43010"); /* 5 digits */
    h = &p.h[p.n++];
    *h = good;
    SET(h->coordinator, "43a100");
    h = &p.h[p.n++];
    *h = good;
    memset(h->coordinator, '4', sizeof h->coordinator); /* 7 digits, no terminator */
    h = &p.h[p.n++];
    *h = good;
    h->amount = -1;
    h = &p.h[p.n++];
    *h = good;
    h->amount = GJ_AMOUNT_MAX + 1;
    h = &p.h[p.n++];
    *h = good;
    h->state = 0;
    h = &p.h[p.n++];
    *h = good;
    h->state = STORE_HOLD_REFUNDED + 1;
    for (size_t i = 1; i < p.n; i++) /* every refused one would land on another key */
        p.h[i].leg = (uint32_t)i;

    assert_int_equal(store_submit_wait(f->s, apply_hold_puts, &p), GJ_OK);
    assert_int_equal(p.rv[0], GJ_OK);
    for (size_t i = 1; i < p.n; i++) {
        if (p.rv[i] != GJ_ERR_INVAL)
            fail_msg("case %zu: %s", i, gj_err_name(p.rv[i]));
    }
    assert_int_equal(store_submit_wait(f->s, apply_hold, NULL), GJ_ERR_INVAL);

    uint64_t n;
    open_holds(f, &n);
    assert_int_equal(n, 1);
    assert_int_equal(all_holds(f).n, 1);
    store_txn *t = rd(f);
    store_hold out;
    assert_int_equal(store_hold_get(t, "", 0, &out), GJ_ERR_INVAL);
    assert_int_equal(store_hold_get(t, "1234567890123456789012345678901234567890", 0, &out),
                     GJ_ERR_INVAL);
    assert_int_equal(store_hold_get(t, SETL_A, 0, NULL), GJ_ERR_INVAL);
    store_read_end(t);
}

/* A raw value of db/key, copied into buf (at most cap bytes); returns its length. */
static size_t raw_get(const char *dir, const char *db, const char *key, void *buf, size_t cap)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    MDB_val k = {strlen(key), (void *)key}, v;
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 32), 0);
    assert_int_equal(mdb_env_open(env, dir, MDB_RDONLY, 0600), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, db, 0, &dbi), 0);
    assert_int_equal(mdb_get(txn, dbi, &k, &v), 0);
    assert_true(v.mv_size <= cap);
    memcpy(buf, v.mv_data, v.mv_size);
    mdb_txn_abort(txn);
    mdb_env_close(env);
    return v.mv_size;
}

/* Settlements and decisions are stored with only the parts and legs they use: every
 * count reads back whole, the fields after the parts survive, records arrive in any
 * setl_id order, and a stored length that disagrees with its count is damage. */
static void test_settlements_and_decisions_keep_only_what_they_use(void **state)
{
    struct fx *f = open_fx(state);
    store_settlement none = setl_of("S-0002", "B1", 20240101, 1000), full = none, early, out;
    SET(none.caller_id, "H1");
    SET(none.call_id, "call-none");
    SET(full.setl_id, "S-0003");
    full.part_count = GJ_SPONSORS_MAX;
    for (uint32_t i = 0; i < GJ_SPONSORS_MAX; i++) {
        snprintf(full.parts[i].psn_no, sizeof full.parts[i].psn_no, "SP%u", (unsigned)i);
        SET(full.parts[i].admdvs, "430100");
        full.parts[i].amount = 10 + i;
    }
    SET(full.call_id, "call-full");
    full.revoke_date = 20240102;
    early = none;
    SET(early.setl_id, "S-0001"); /* sorts before what is already there */
    assert_int_equal(store_submit_wait(f->s, apply_setl, &none), GJ_OK);
    assert_int_equal(store_submit_wait(f->s, apply_setl, &full), GJ_OK);
    assert_int_equal(store_submit_wait(f->s, apply_setl, &early), GJ_OK);
    store_decision d16 = decision_of("S-0003", GJ_SPONSORS_MAX), d1 = decision_of("S-0002", 1), dout;
    put_decision(f, d16);
    put_decision(f, d1); /* before d16 in setl_id order */
    store_txn *t = rd(f);
    assert_int_equal(store_settlement_get(t, "S-0002", &out), GJ_OK);
    assert_memory_equal(&out, &none, sizeof out);
    assert_int_equal(store_settlement_get(t, "S-0003", &out), GJ_OK);
    assert_memory_equal(&out, &full, sizeof out);
    assert_int_equal(store_settlement_get(t, "S-0001", &out), GJ_OK);
    assert_memory_equal(&out, &early, sizeof out);
    assert_int_equal(store_decision_get(t, "S-0003", &dout), GJ_OK);
    assert_memory_equal(&dout, &d16, sizeof dout);
    assert_int_equal(store_decision_get(t, "S-0002", &dout), GJ_OK);
    assert_memory_equal(&dout, &d1, sizeof dout);
    store_read_end(t);
    store_close(f->s);
    f->s = NULL;

    /* One byte short, one part's worth too long: both read as CORRUPT. */
    unsigned char raw[sizeof(store_settlement) + 64];
    size_t len = raw_get(f->dir, "settlements", "S-0003", raw, sizeof raw);
    assert_true(len < sizeof(store_settlement) + 1);
    raw_putn(f->dir, "settlements", "S-0003", 6, raw, len - 1);
    len = raw_get(f->dir, "settlements", "S-0002", raw, sizeof raw);
    memset(raw + len, 0, sizeof full.parts[0]);
    raw_putn(f->dir, "settlements", "S-0002", 6, raw, len + sizeof full.parts[0]);
    unsigned char rawd[sizeof(store_decision) + 64];
    len = raw_get(f->dir, "decisions", "S-0002", rawd, sizeof rawd);
    raw_putn(f->dir, "decisions", "S-0002", 6, rawd, len + 1);
    open_with(f, NULL);
    t = rd(f);
    assert_int_equal(store_settlement_get(t, "S-0003", &out), GJ_ERR_CORRUPT);
    assert_int_equal(store_settlement_get(t, "S-0002", &out), GJ_ERR_CORRUPT);
    assert_int_equal(out.part_count, 0);
    assert_int_equal(store_settlement_get(t, "S-0001", &out), GJ_OK);
    assert_int_equal(store_decision_get(t, "S-0002", &dout), GJ_ERR_CORRUPT);
    assert_int_equal(dout.leg_count, 0);
    assert_int_equal(store_decision_get(t, "S-0003", &dout), GJ_OK);
    store_read_end(t);
}

/* Journal entries are stored with their strings at their own length: the longest of
 * each field reads back whole, and a value one byte short or with a length that runs
 * past the end is damage. */
static void test_journal_entries_keep_only_what_they_use(void **state)
{
    struct fx *f = open_fx(state);
    char psn[GJ_PSN_NO_MAX + 1], setl[GJ_SETL_ID_MAX + 1], caller[GJ_CALLER_ID_MAX + 1],
        call[GJ_CALL_ID_MAX + 1];
    memset(psn, 'p', sizeof psn - 1);
    psn[sizeof psn - 1] = '\0';
    memset(setl, 's', sizeof setl - 1);
    setl[sizeof setl - 1] = '\0';
    memset(caller, 'c', sizeof caller - 1);
    caller[sizeof caller - 1] = '\0';
    memset(call, 'k', sizeof call - 1);
    call[sizeof call - 1] = '\0';
    credit(f, psn, 1000);
    struct moves m = {.psn_no = psn, .n = 1};
    m.e[0] = entry_of(psn, STORE_J_SETTLE_AID, -250);
    SET(m.e[0].setl_id, setl);
    SET(m.e[0].counterpart, psn);
    SET(m.e[0].caller_id, caller);
    SET(m.e[0].call_id, call);
    m.e[0].unix_ms = 1767225600123LL;
    assert_int_equal(store_submit_wait(f->s, apply_moves, &m), GJ_OK);
    assert_int_equal(m.rv[0], GJ_OK);

    store_txn *t = rd(f);
    struct collected c = {0};
    assert_int_equal(store_journal_scan(t, 2, collect_journal, &c), GJ_OK);
    assert_int_equal(c.n, 1);
    assert_int_equal(c.e[0].seq, 2);
    assert_int_equal(c.e[0].kind, STORE_J_SETTLE_AID);
    assert_int_equal(c.e[0].amount, -250);
    assert_int_equal(c.e[0].balance_after, 750);
    assert_int_equal(c.e[0].unix_ms, 1767225600123LL);
    assert_string_equal(c.e[0].psn_no, psn);
    assert_string_equal(c.e[0].setl_id, setl);
    assert_string_equal(c.e[0].counterpart, psn);
    assert_string_equal(c.e[0].caller_id, caller);
    assert_string_equal(c.e[0].call_id, call);
    store_read_end(t);
    store_close(f->s);
    f->s = NULL;

    /* Entry 1 one byte short; entry 2 with its last length byte pointing past the end. */
    const unsigned char k1[8] = {0, 0, 0, 0, 0, 0, 0, 1}, k2[8] = {0, 0, 0, 0, 0, 0, 0, 2};
    unsigned char raw[512];
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    MDB_val k = {8, (void *)k1}, v;
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 32), 0);
    assert_int_equal(mdb_env_open(env, f->dir, 0, 0600), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, "journal", 0, &dbi), 0);
    assert_int_equal(mdb_get(txn, dbi, &k, &v), 0);
    memcpy(raw, v.mv_data, v.mv_size);
    v = (MDB_val){v.mv_size - 1, raw};
    assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
    k.mv_data = (void *)k2;
    assert_int_equal(mdb_get(txn, dbi, &k, &v), 0);
    memcpy(raw, v.mv_data, v.mv_size);
    raw[v.mv_size - 1 - strlen(call)] = (unsigned char)(strlen(call) + 1);
    v.mv_data = raw;
    assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
    open_with(f, NULL);
    t = rd(f);
    memset(&c, 0, sizeof c);
    assert_int_equal(store_journal_scan(t, 1, collect_journal, &c), GJ_ERR_CORRUPT);
    assert_int_equal(c.n, 0);
    assert_int_equal(store_journal_scan(t, 2, collect_journal, &c), GJ_ERR_CORRUPT);
    assert_int_equal(c.n, 0);
    store_read_end(t);
}

static void test_decision_open_until_every_leg_acked(void **state)
{
    struct fx *f = open_fx(state);
    uint64_t n;
    store_decision d = decision_of(SETL_A, 2), out;

    put_decision(f, d);
    struct seen s = open_decisions(f, &n);
    assert_int_equal(n, 1);
    assert_int_equal(s.n, 1);
    assert_string_equal(s.what[0], SETL_A);

    d.legs[1].acked = 1;
    put_decision(f, d);
    s = open_decisions(f, &n);
    assert_int_equal(n, 1);
    assert_int_equal(s.n, 1);

    /* Legs past leg_count are zero (acked 0) and must not keep it open. */
    d.legs[0].acked = 1;
    put_decision(f, d);
    s = open_decisions(f, &n);
    assert_int_equal(n, 0);
    assert_int_equal(s.n, 0);

    put_decision(f, decision_of(SETL_B, 1)); /* a second one, still open */
    open_with(f, NULL);
    s = open_decisions(f, &n);
    assert_int_equal(n, 1);
    assert_int_equal(s.n, 1);
    assert_string_equal(s.what[0], SETL_B);
    store_txn *t = rd(f);
    assert_int_equal(store_decision_get(t, SETL_A, &out), GJ_OK);
    assert_memory_equal(&out, &d, sizeof d);
    assert_int_equal(store_decision_get(t, "nope", &out), GJ_ERR_NOTFOUND);
    assert_int_equal(store_decision_get(t, "", &out), GJ_ERR_INVAL);
    store_read_end(t);
}

struct decision_puts {
    size_t n;
    store_decision d[16];
    gj_err rv[16];
};

static gj_err apply_decision_puts(store_txn *t, void *arg)
{
    struct decision_puts *p = arg;
    for (size_t i = 0; i < p->n; i++)
        p->rv[i] = store_decision_put(t, &p->d[i]);
    return GJ_OK;
}

static void test_decision_refuses_too_many_legs_and_bad_action(void **state)
{
    struct fx *f = open_fx(state);
    struct decision_puts p = {.n = 0};
    store_decision *d;

    p.d[p.n++] = decision_of("OK", GJ_SPONSORS_MAX); /* 0: the most legs there can be */
    d = &p.d[p.n++];
    *d = decision_of("D1", GJ_SPONSORS_MAX);
    d->leg_count = GJ_SPONSORS_MAX + 1;
    d = &p.d[p.n++];
    *d = decision_of("D2", 2);
    d->legs[1].action = 0;
    d = &p.d[p.n++];
    *d = decision_of("D3", 2);
    d->legs[1].action = STORE_LEG_REFUND + 1;
    d = &p.d[p.n++];
    *d = decision_of("D4", 2);
    d->legs[0].acked = 2;
    d = &p.d[p.n++];
    *d = decision_of("D5", 2);
    d->legs[1].sponsor[0] = '\0';
    d = &p.d[p.n++];
    *d = decision_of("D6", 2);
    SET(d->legs[1].admdvs, "44030");
    d = &p.d[p.n++];
    *d = decision_of("D7", 2);
    d->legs[0].amount = -1;
    d = &p.d[p.n++];
    *d = decision_of("D8", 2);
    d->legs[0].amount = GJ_AMOUNT_MAX + 1;
    d = &p.d[p.n++];
    *d = decision_of("", 2);

    assert_int_equal(store_submit_wait(f->s, apply_decision_puts, &p), GJ_OK);
    assert_int_equal(p.rv[0], GJ_OK);
    for (size_t i = 1; i < p.n; i++) {
        if (p.rv[i] != GJ_ERR_INVAL)
            fail_msg("case %zu: %s", i, gj_err_name(p.rv[i]));
    }
    assert_int_equal(store_submit_wait(f->s, apply_decision, NULL), GJ_ERR_INVAL);

    uint64_t n;
    struct seen s = open_decisions(f, &n);
    assert_int_equal(n, 1);
    assert_int_equal(s.n, 1);
    assert_string_equal(s.what[0], "OK");
    store_txn *t = rd(f);
    store_decision out;
    assert_int_equal(store_decision_get(t, "D1", &out), GJ_ERR_NOTFOUND);
    assert_int_equal(store_decision_get(t, "D2", &out), GJ_ERR_NOTFOUND);
    assert_int_equal(store_decision_get(t, "OK", &out), GJ_OK);
    assert_int_equal(out.leg_count, GJ_SPONSORS_MAX);
    store_read_end(t);
}

static void test_settlement_scan_visits_every_settlement_in_order(void **state)
{
    struct fx *f = open_fx(state);
    struct seen s = {0};
    store_txn *t = rd(f);
    assert_int_equal(store_settlement_scan(t, see_settlement, &s), GJ_OK);
    assert_int_equal(s.n, 0);
    assert_int_equal(store_settlement_scan(t, NULL, NULL), GJ_ERR_INVAL);
    store_read_end(t);

    const char *ids[] = {"S3", "S1", "S10", "S2"};
    for (size_t i = 0; i < 4; i++) {
        store_settlement st;
        memset(&st, 0, sizeof st);
        SET(st.setl_id, ids[i]);
        SET(st.psn_no, "B1");
        st.setl_date = 20240101;
        st.status = i == 2 ? STORE_SETL_REVOKED : STORE_SETL_COMMITTED;
        assert_int_equal(store_submit_wait(f->s, apply_setl, &st), GJ_OK);
    }

    t = rd(f);
    assert_int_equal(store_settlement_scan(t, see_settlement, &s), GJ_OK);
    assert_int_equal(s.n, 4);
    assert_string_equal(s.what[0], "S1");
    assert_string_equal(s.what[1], "S10");
    assert_string_equal(s.what[2], "S2");
    assert_string_equal(s.what[3], "S3");
    struct seen two = {.stop_after = 2};
    assert_int_equal(store_settlement_scan(t, see_settlement, &two), GJ_OK);
    assert_int_equal(two.n, 2);
    store_read_end(t);
}

struct doomed_xr {
    gj_err rv_repost, rv_hold, rv_decision;
};

static gj_err apply_xr_then_abort(store_txn *t, void *arg)
{
    struct doomed_xr *d = arg;
    store_hold posted = hold_of(SETL_A, 0, STORE_HOLD_POSTED, 10);
    store_hold held = hold_of(SETL_B, 0, STORE_HOLD_HELD, 20);
    store_decision dec = decision_of(SETL_B, 2);
    d->rv_repost = store_hold_put(t, &posted); /* drops SETL_A/0 from the open index */
    d->rv_hold = store_hold_put(t, &held);
    d->rv_decision = store_decision_put(t, &dec);
    return GJ_ERR_ABORT;
}

static void test_hold_and_decision_writes_roll_back_with_their_job(void **state)
{
    struct fx *f = open_fx(state);
    uint64_t n;
    store_hold before = hold_of(SETL_A, 0, STORE_HOLD_HELD, 10), out;
    put_hold(f, before);

    struct doomed_xr d;
    assert_int_equal(store_submit_wait(f->s, apply_xr_then_abort, &d), GJ_ERR_ABORT);
    assert_int_equal(d.rv_repost, GJ_OK);
    assert_int_equal(d.rv_hold, GJ_OK);
    assert_int_equal(d.rv_decision, GJ_OK);

    store_txn *t = rd(f);
    store_decision dec;
    assert_int_equal(store_hold_get(t, SETL_B, 0, &out), GJ_ERR_NOTFOUND);
    assert_int_equal(store_decision_get(t, SETL_B, &dec), GJ_ERR_NOTFOUND);
    assert_int_equal(store_hold_get(t, SETL_A, 0, &out), GJ_OK);
    assert_memory_equal(&out, &before, sizeof before);
    store_read_end(t);

    /* The indexes rolled back with their records: only the earlier hold is open. */
    struct seen s = open_holds(f, &n);
    assert_int_equal(n, 1);
    assert_int_equal(s.n, 1);
    assert_string_equal(s.what[0], SETL_A "/0");
    assert_int_equal(all_holds(f).n, 1);
    s = open_decisions(f, &n);
    assert_int_equal(n, 0);
    assert_int_equal(s.n, 0);
}

#define SWEEP_HOLDS 300
#define SWEEP_DECISIONS 100

struct sweep {
    store_txn *t;
    int visits;
    gj_err rv;
};

static bool post_each_hold(const store_hold *h, void *arg)
{
    struct sweep *sw = arg;
    store_hold done = *h;
    done.state = STORE_HOLD_POSTED;
    done.resolved_unix_ms = 1700000002000LL;
    sw->visits++;
    if (sw->rv == GJ_OK)
        sw->rv = store_hold_put(sw->t, &done);
    /* A hold added while sweeping sorts after every other one. */
    if (h->leg == 0 && strcmp(h->setl_id, "H000") == 0 && sw->rv == GJ_OK) {
        store_hold late = hold_of("H999", 0, STORE_HOLD_HELD, 1);
        sw->rv = store_hold_put(sw->t, &late);
    }
    return true;
}

static bool ack_each_decision(const store_decision *d, void *arg)
{
    struct sweep *sw = arg;
    store_decision done = *d;
    for (uint32_t i = 0; i < done.leg_count; i++)
        done.legs[i].acked = 1;
    sw->visits++;
    if (sw->rv == GJ_OK)
        sw->rv = store_decision_put(sw->t, &done);
    return true;
}

static gj_err apply_sweep(store_txn *t, void *arg)
{
    struct sweep *sw = arg;
    gj_err err;
    sw[0].t = sw[1].t = t;
    if ((err = store_hold_scan_open(t, post_each_hold, &sw[0])) != GJ_OK)
        return err;
    return store_decision_scan_open(t, ack_each_decision, &sw[1]);
}

static gj_err apply_many_open(store_txn *t, void *arg)
{
    char id[16];
    gj_err err;
    (void)arg;
    for (int i = 0; i < SWEEP_HOLDS; i++) {
        snprintf(id, sizeof id, "H%03d", i);
        store_hold h = hold_of(id, (uint32_t)i % 3, STORE_HOLD_HELD, 1);
        if ((err = store_hold_put(t, &h)) != GJ_OK)
            return err;
    }
    for (int i = 0; i < SWEEP_DECISIONS; i++) {
        snprintf(id, sizeof id, "D%03d", i);
        store_decision d = decision_of(id, 3);
        if ((err = store_decision_put(t, &d)) != GJ_OK)
            return err;
    }
    return GJ_OK;
}

/* A recovery sweep resolves what it is shown from inside the scan; the scan must
 * neither skip nor repeat while the index it walks shrinks (over several pages). */
static void test_open_scans_let_the_callback_resolve_what_it_is_given(void **state)
{
    struct fx *f = open_fx(state);
    uint64_t n;
    assert_int_equal(store_submit_wait(f->s, apply_many_open, NULL), GJ_OK);
    open_holds(f, &n);
    assert_int_equal(n, SWEEP_HOLDS);

    struct sweep sw[2];
    memset(sw, 0, sizeof sw);
    assert_int_equal(store_submit_wait(f->s, apply_sweep, sw), GJ_OK);
    assert_int_equal(sw[0].rv, GJ_OK);
    assert_int_equal(sw[1].rv, GJ_OK);
    assert_int_equal(sw[0].visits, SWEEP_HOLDS + 1); /* the one added mid-sweep too */
    assert_int_equal(sw[1].visits, SWEEP_DECISIONS);

    struct seen s = open_holds(f, &n);
    assert_int_equal(n, 0);
    assert_int_equal(s.n, 0);
    s = open_decisions(f, &n);
    assert_int_equal(n, 0);
    assert_int_equal(s.n, 0);
    s = all_holds(f);
    assert_int_equal(s.n, SWEEP_HOLDS + 1); /* all kept, now POSTED */
    store_txn *t = rd(f);
    store_hold h;
    assert_int_equal(store_hold_get(t, "H299", 299 % 3, &h), GJ_OK);
    assert_int_equal(h.state, STORE_HOLD_POSTED);
    store_read_end(t);
}

static void test_damaged_holds_decisions_and_open_indexes_read_as_corrupt(void **state)
{
    struct fx *f = open_fx(state);
    store_hold h1 = hold_of("H1", 1, STORE_HOLD_POSTED, 5), out;
    store_decision acked = decision_of("D7", 1), dec;
    acked.legs[0].acked = 1;
    put_hold(f, h1);
    put_decision(f, acked);
    store_close(f->s);
    f->s = NULL;

    const unsigned char h1_key[] = {'H', '1', 0, 0, 0, 0, 1};
    const unsigned char h1_leg2[] = {'H', '1', 0, 0, 0, 0, 2};
    const unsigned char h2_key[] = {'H', '2', 0, 0, 0, 0, 0};
    raw_putn(f->dir, "holds", h1_leg2, sizeof h1_leg2, &h1, sizeof h1); /* under another key */
    raw_putn(f->dir, "holds", h2_key, sizeof h2_key, "abc", 3);
    raw_putn(f->dir, "holds_open", h1_key, sizeof h1_key, "", 0); /* names a POSTED hold */
    store_decision big = decision_of("D6", 1);
    big.leg_count = 99;
    raw_put(f->dir, "decisions", "D6", &big, sizeof big);
    raw_put(f->dir, "decisions", "D9", "abc", 3);
    raw_put(f->dir, "decisions_open", "D7", "", 0); /* names a fully acked decision */
    raw_put(f->dir, "settlements", "S9", "abc", 3);
    open_with(f, NULL);

    store_txn *t = rd(f);
    struct seen s = {0};
    assert_int_equal(store_hold_get(t, "H1", 1, &out), GJ_OK);
    assert_int_equal(store_hold_get(t, "H1", 2, &out), GJ_ERR_CORRUPT);
    assert_int_equal(store_hold_get(t, "H2", 0, &out), GJ_ERR_CORRUPT);
    assert_int_equal(store_hold_scan(t, see_hold, &s), GJ_ERR_CORRUPT);
    assert_int_equal(s.n, 1); /* H1/1 came before the damaged H1/2 */
    s.n = 0;
    assert_int_equal(store_hold_scan_open(t, see_hold, &s), GJ_ERR_CORRUPT);
    assert_int_equal(s.n, 0);
    assert_int_equal(store_decision_get(t, "D7", &dec), GJ_OK);
    assert_int_equal(store_decision_get(t, "D9", &dec), GJ_ERR_CORRUPT);
    assert_int_equal(store_decision_get(t, "D6", &dec), GJ_ERR_CORRUPT);
    assert_int_equal(dec.leg_count, 0); /* never a count that overruns legs[] */
    assert_int_equal(store_decision_scan_open(t, see_decision, &s), GJ_ERR_CORRUPT);
    assert_int_equal(s.n, 0);
    assert_int_equal(store_settlement_scan(t, see_settlement, &s), GJ_ERR_CORRUPT);
    store_read_end(t);
}

/* ---- refunds: spend flag, REFUNDED holds, REFUND legs ---- */

static void test_spend_refund_flag_must_be_0_or_1(void **state)
{
    struct fx *f = open_fx(state);
    struct spends s = {.n = 3,
                       .sp = {spend_of("S1", 20240101, 1000, "A"),
                              spend_of("S1", 20240105, 5000, "A"),
                              spend_of("S1", 20240106, 6000, "A")}};
    s.sp[1].refund = 1; /* the same settlement given back later */
    s.sp[2].refund = 2;
    assert_int_equal(store_submit_wait(f->s, apply_spends, &s), GJ_OK);
    assert_int_equal(s.rv[0], GJ_OK);
    assert_int_equal(s.rv[1], GJ_OK);
    assert_int_equal(s.rv[2], GJ_ERR_INVAL);

    store_txn *t = rd(f);
    store_spend out[4];
    size_t n;
    char cur[80];
    assert_int_equal(store_spend_list(t, "S1", 0, 99991231, "", out, 4, &n, cur), GJ_OK);
    assert_int_equal(n, 2);
    assert_int_equal(out[0].refund, 0);
    assert_int_equal(out[1].refund, 1);
    assert_memory_equal(&out[1], &s.sp[1], sizeof out[1]);
    store_read_end(t);
}

static void test_hold_refunded_state_is_not_open(void **state)
{
    struct fx *f = open_fx(state);
    uint64_t n;
    store_hold out;
    put_hold(f, hold_of(SETL_A, 0, STORE_HOLD_HELD, 300));
    put_hold(f, hold_of(SETL_A, 1, STORE_HOLD_HELD, 200));
    open_holds(f, &n);
    assert_int_equal(n, 2);

    put_hold(f, hold_of(SETL_A, 0, STORE_HOLD_POSTED, 300));
    store_hold refunded = hold_of(SETL_A, 0, STORE_HOLD_REFUNDED, 300);
    put_hold(f, refunded);
    open_with(f, NULL);
    struct seen s = open_holds(f, &n);
    assert_int_equal(n, 1);
    assert_int_equal(s.n, 1);
    assert_string_equal(s.what[0], SETL_A "/1");
    s = all_holds(f);
    assert_int_equal(s.n, 2);
    store_txn *t = rd(f);
    assert_int_equal(store_hold_get(t, SETL_A, 0, &out), GJ_OK);
    assert_memory_equal(&out, &refunded, sizeof refunded);
    store_read_end(t);

    /* Straight from HELD to REFUNDED leaves the index too. */
    put_hold(f, hold_of(SETL_A, 1, STORE_HOLD_REFUNDED, 200));
    s = open_holds(f, &n);
    assert_int_equal(n, 0);
    assert_int_equal(s.n, 0);

    store_hold beyond = hold_of(SETL_B, 0, STORE_HOLD_REFUNDED + 1, 1);
    assert_int_equal(store_submit_wait(f->s, apply_hold, &beyond), GJ_ERR_INVAL);
}

static void test_decision_refund_leg_is_open_until_acked(void **state)
{
    struct fx *f = open_fx(state);
    uint64_t n;
    store_decision d = decision_of(SETL_A, 2), out;
    d.legs[0].acked = 1;
    d.legs[1].action = STORE_LEG_POST;
    d.legs[1].amount = 200;
    d.legs[1].acked = 1;
    put_decision(f, d);
    open_decisions(f, &n);
    assert_int_equal(n, 0);

    /* The settlement is revoked: the posted legs turn into refunds to be acked. */
    d.legs[0].action = STORE_LEG_REFUND;
    d.legs[0].acked = 0;
    d.legs[1].action = STORE_LEG_REFUND;
    d.legs[1].acked = 0;
    put_decision(f, d);
    struct seen s = open_decisions(f, &n);
    assert_int_equal(n, 1);
    assert_int_equal(s.n, 1);
    assert_string_equal(s.what[0], SETL_A);

    d.legs[1].acked = 1;
    put_decision(f, d);
    open_with(f, NULL);
    s = open_decisions(f, &n);
    assert_int_equal(n, 1);
    assert_int_equal(s.n, 1);
    store_txn *t = rd(f);
    assert_int_equal(store_decision_get(t, SETL_A, &out), GJ_OK);
    assert_memory_equal(&out, &d, sizeof d);
    assert_int_equal(out.legs[0].action, STORE_LEG_REFUND);
    store_read_end(t);

    d.legs[0].acked = 1;
    put_decision(f, d);
    s = open_decisions(f, &n);
    assert_int_equal(n, 0);
    assert_int_equal(s.n, 0);

    store_decision beyond = decision_of(SETL_B, 1);
    beyond.legs[0].action = STORE_LEG_REFUND + 1;
    assert_int_equal(store_submit_wait(f->s, apply_decision, &beyond), GJ_ERR_INVAL);
}

/* ---- settlements by patient ---- */

static store_settlement setl_of(const char *setl_id, const char *psn_no, int32_t date, int64_t ms)
{
    store_settlement st;
    memset(&st, 0, sizeof st);
    SET(st.setl_id, setl_id);
    SET(st.psn_no, psn_no);
    st.amount = 1000;
    st.cash_pay = 1000;
    st.setl_date = date;
    st.unix_ms = ms;
    st.use = 1;
    st.status = STORE_SETL_COMMITTED;
    return st;
}

struct setls {
    size_t n;
    store_settlement st[16];
    gj_err rv[16];
    bool abort_after;
};

static gj_err apply_setls(store_txn *t, void *arg)
{
    struct setls *p = arg;
    for (size_t i = 0; i < p->n; i++)
        p->rv[i] = store_settlement_put(t, &p->st[i]);
    return p->abort_after ? GJ_ERR_ABORT : GJ_OK;
}

/* Every settlement listed for psn_no, all dates, in pages of `page`. */
static size_t list_all_by_psn(struct fx *f, const char *psn_no, size_t page, store_settlement *out,
                              size_t cap)
{
    store_txn *t = rd(f);
    char cur[80] = "";
    size_t total = 0, n;
    do {
        assert_true(total + page <= cap);
        assert_int_equal(store_settlement_list_by_psn(t, psn_no, 0, 99991231, cur, out + total,
                                                      page, &n, cur),
                         GJ_OK);
        total += n;
    } while (cur[0] != '\0');
    store_read_end(t);
    return total;
}

static void test_settlements_by_psn_page_in_date_order(void **state)
{
    struct fx *f = open_fx(state);
    struct setls p = {.n = 10,
                      .st = {
                          setl_of("A", "B1", 20240105, 5000),
                          setl_of("B", "B1", 20240101, 1000),
                          setl_of("C", "B1", 20240103, 3000),
                          setl_of("D", "B1", 20240103, 3000), /* same instant, next id */
                          setl_of("E", "B1", 20240110, 100),
                          setl_of("F", "B1", 20231231, 1),
                          setl_of("G", "B1", 20240201, 1),
                          setl_of("H", "B10", 20240102, 1), /* prefix trap */
                          setl_of("I", "B2", 20240102, 1),
                          setl_of("J", "B1", 20240230, 1), /* no such date */
                      }};
    assert_int_equal(store_submit_wait(f->s, apply_setls, &p), GJ_OK);
    for (int i = 0; i < 9; i++)
        assert_int_equal(p.rv[i], GJ_OK);
    assert_int_equal(p.rv[9], GJ_ERR_INVAL);
    /* Put and rolled back with its job: neither record nor index entry stays. */
    struct setls gone = {.n = 1, .st = {setl_of("K", "B1", 20240104, 1)}, .abort_after = true};
    assert_int_equal(store_submit_wait(f->s, apply_setls, &gone), GJ_ERR_ABORT);
    assert_int_equal(gone.rv[0], GJ_OK);
    open_with(f, NULL);

    store_txn *t = rd(f);
    store_settlement out[8];
    size_t n = 0;
    char cur[80], cur2[80];
    assert_int_equal(
        store_settlement_list_by_psn(t, "B1", 20240101, 20240131, "", out, 2, &n, cur), GJ_OK);
    assert_int_equal(n, 2);
    assert_string_equal(out[0].setl_id, "B");
    assert_string_equal(out[1].setl_id, "C");
    assert_memory_equal(&out[0], &p.st[1], sizeof out[0]);
    assert_cursor_printable(cur);
    assert_int_equal(
        store_settlement_list_by_psn(t, "B1", 20240101, 20240131, cur, out, 2, &n, cur2), GJ_OK);
    assert_int_equal(n, 2);
    assert_string_equal(out[0].setl_id, "D");
    assert_string_equal(out[1].setl_id, "A");
    assert_cursor_printable(cur2);
    assert_int_equal(
        store_settlement_list_by_psn(t, "B1", 20240101, 20240131, cur2, out, 2, &n, cur2), GJ_OK);
    assert_int_equal(n, 1);
    assert_string_equal(out[0].setl_id, "E");
    assert_string_equal(cur2, "");

    /* Exactly as many as remain: no cursor. A cursor before from_date starts there. */
    assert_int_equal(
        store_settlement_list_by_psn(t, "B1", 20240101, 20240131, NULL, out, 5, &n, cur2), GJ_OK);
    assert_int_equal(n, 5);
    assert_string_equal(cur2, "");
    assert_int_equal(
        store_settlement_list_by_psn(t, "B1", 20240105, 20240131, cur, out, 8, &n, cur2), GJ_OK);
    assert_int_equal(n, 2);
    assert_string_equal(out[0].setl_id, "A");
    assert_string_equal(out[1].setl_id, "E");

    /* Everything of B1, nothing of B10, newest last. */
    assert_int_equal(store_settlement_list_by_psn(t, "B1", 0, 99991231, "", out, 8, &n, cur2),
                     GJ_OK);
    assert_int_equal(n, 7);
    for (size_t i = 1; i < n; i++)
        assert_true(out[i - 1].setl_date <= out[i].setl_date);
    assert_string_equal(out[0].setl_id, "F");
    assert_string_equal(out[6].setl_id, "G");
    assert_int_equal(
        store_settlement_list_by_psn(t, "B1", 20240102, 20240102, "", out, 8, &n, cur2), GJ_OK);
    assert_int_equal(n, 0);
    assert_int_equal(
        store_settlement_list_by_psn(t, "B1", 20240131, 20240101, "", out, 8, &n, cur2), GJ_OK);
    assert_int_equal(n, 0);
    assert_int_equal(store_settlement_list_by_psn(t, "B10", 0, 99991231, "", out, 8, &n, cur2),
                     GJ_OK);
    assert_int_equal(n, 1);
    assert_string_equal(out[0].setl_id, "H");
    assert_int_equal(store_settlement_list_by_psn(t, "B3", 0, 99991231, "", out, 8, &n, cur2),
                     GJ_OK);
    assert_int_equal(n, 0);

    assert_int_equal(store_settlement_list_by_psn(t, "B1", 0, 99991231, "%%%%", out, 8, &n, cur2),
                     GJ_ERR_INVAL);
    assert_int_equal(store_settlement_list_by_psn(t, "B1", 0, 99991231, "", out, 0, &n, cur2),
                     GJ_ERR_INVAL);
    assert_int_equal(store_settlement_list_by_psn(t, "", 0, 99991231, "", out, 8, &n, cur2),
                     GJ_ERR_INVAL);
    store_read_end(t);

    /* Paging one at a time visits each exactly once. */
    store_settlement all[16];
    assert_int_equal(list_all_by_psn(f, "B1", 1, all, 16), 7);
    const char *order = "FBCDAEG";
    for (size_t i = 0; i < 7; i++)
        assert_int_equal(all[i].setl_id[0], order[i]);
}

static void test_revoked_settlement_keeps_one_index_entry(void **state)
{
    struct fx *f = open_fx(state);
    store_settlement st = setl_of(SETL_A, "B1", 20240101, 1704067200000LL), all[8];
    put_decision(f, decision_of(SETL_B, 1)); /* unrelated */
    assert_int_equal(store_submit_wait(f->s, apply_setl, &st), GJ_OK);

    /* Revoked: same patient, date and instant, so the same index key. */
    st.status = STORE_SETL_REVOKED;
    st.revoke_date = 20240105;
    st.revoke_unix_ms = 1704412800000LL;
    assert_int_equal(store_submit_wait(f->s, apply_setl, &st), GJ_OK);
    assert_int_equal(store_submit_wait(f->s, apply_setl, &st), GJ_OK); /* again */
    assert_int_equal(list_all_by_psn(f, "B1", 4, all, 8), 1);
    assert_memory_equal(&all[0], &st, sizeof st);

    /* Should a re-put move it (another date, instant or patient), the old entry goes:
     * a stale one would list the settlement twice or name a record filed elsewhere. */
    st.setl_date = 20240102;
    assert_int_equal(store_submit_wait(f->s, apply_setl, &st), GJ_OK);
    st.unix_ms += 1;
    assert_int_equal(store_submit_wait(f->s, apply_setl, &st), GJ_OK);
    assert_int_equal(list_all_by_psn(f, "B1", 4, all, 8), 1);
    assert_memory_equal(&all[0], &st, sizeof st);
    SET(st.psn_no, "B2");
    assert_int_equal(store_submit_wait(f->s, apply_setl, &st), GJ_OK);
    assert_int_equal(list_all_by_psn(f, "B1", 4, all, 8), 0);
    assert_int_equal(list_all_by_psn(f, "B2", 4, all, 8), 1);
    assert_memory_equal(&all[0], &st, sizeof st);

    /* A move rolled back with its job leaves the entry where it was. */
    struct setls moved = {.n = 2, .abort_after = true};
    moved.st[0] = st;
    SET(moved.st[0].psn_no, "B3");
    moved.st[1] = moved.st[0];
    moved.st[1].setl_date = 20240103;
    assert_int_equal(store_submit_wait(f->s, apply_setls, &moved), GJ_ERR_ABORT);
    assert_int_equal(moved.rv[0], GJ_OK);
    assert_int_equal(moved.rv[1], GJ_OK);
    open_with(f, NULL);
    assert_int_equal(list_all_by_psn(f, "B3", 4, all, 8), 0);
    assert_int_equal(list_all_by_psn(f, "B2", 4, all, 8), 1);
    assert_memory_equal(&all[0], &st, sizeof st);
    store_txn *t = rd(f);
    store_settlement out;
    assert_int_equal(store_settlement_get(t, SETL_A, &out), GJ_OK);
    assert_memory_equal(&out, &st, sizeof st);
    store_read_end(t);
}

/* ---- clearing and windows ---- */

static store_clearing clearing_of(int32_t window, const char *counterparty, const char *setl_id,
                                  uint32_t leg, uint8_t kind, int64_t amount)
{
    store_clearing e;
    memset(&e, 0, sizeof e);
    e.window = window;
    SET(e.counterparty, counterparty);
    SET(e.setl_id, setl_id);
    e.leg = leg;
    e.kind = kind;
    e.direction = STORE_CLR_OWED_TO_US;
    e.amount = amount;
    SET(e.sponsor, "S1");
    SET(e.beneficiary, "B1");
    e.unix_ms = 1704067200000LL;
    return e;
}

struct clearings {
    size_t n;
    store_clearing e[24];
    gj_err rv[24];
};

static gj_err apply_clearings(store_txn *t, void *arg)
{
    struct clearings *c = arg;
    for (size_t i = 0; i < c->n; i++)
        c->rv[i] = store_clearing_put(t, &c->e[i]);
    return GJ_OK;
}

static void put_clearing(struct fx *f, store_clearing e)
{
    struct clearings c = {.n = 1, .e = {e}};
    assert_int_equal(store_submit_wait(f->s, apply_clearings, &c), GJ_OK);
    assert_int_equal(c.rv[0], GJ_OK);
}

/* Deletes of entries named like store_clearing keys, each result recorded. */
struct clearing_dels {
    size_t n;
    store_clearing key[8];
    gj_err rv[8];
};

static gj_err apply_clearing_dels(store_txn *t, void *arg)
{
    struct clearing_dels *d = arg;
    for (size_t i = 0; i < d->n; i++)
        d->rv[i] = store_clearing_delete(t, d->key[i].window, d->key[i].counterparty,
                                         d->key[i].setl_id, d->key[i].leg, d->key[i].kind);
    return GJ_OK;
}

struct closes {
    size_t n;
    int32_t window[8];
    int64_t unix_ms;
    gj_err rv[8];
    bool abort_after;
};

static gj_err apply_closes(store_txn *t, void *arg)
{
    struct closes *c = arg;
    for (size_t i = 0; i < c->n; i++)
        c->rv[i] = store_window_close(t, c->window[i], c->unix_ms);
    return c->abort_after ? GJ_ERR_ABORT : GJ_OK;
}

static void close_window(struct fx *f, int32_t window, int64_t unix_ms)
{
    struct closes c = {.n = 1, .window = {window}, .unix_ms = unix_ms};
    assert_int_equal(store_submit_wait(f->s, apply_closes, &c), GJ_OK);
    assert_int_equal(c.rv[0], GJ_OK);
}

struct seen_clearing {
    int n;
    int stop_after;
    char what[32][64];
    store_clearing e[32];
};

static bool see_clearing(const store_clearing *e, void *arg)
{
    struct seen_clearing *s = arg;
    if (s->n < 32) {
        snprintf(s->what[s->n], sizeof s->what[s->n], "%d/%s/%s/%u/%u", (int)e->window,
                 e->counterparty, e->setl_id, (unsigned)e->leg, (unsigned)e->kind);
        s->e[s->n] = *e;
    }
    s->n++;
    return s->stop_after == 0 || s->n < s->stop_after;
}

static struct seen_clearing scan_clearing(struct fx *f, int32_t window, const char *counterparty)
{
    struct seen_clearing s = {0};
    store_txn *t = rd(f);
    assert_int_equal(store_clearing_scan(t, window, counterparty, see_clearing, &s), GJ_OK);
    store_read_end(t);
    return s;
}

static void test_clearing_entries_scan_by_window_and_counterparty(void **state)
{
    struct fx *f = open_fx(state);
    struct clearings c = {.n = 9,
                          .e = {
                              clearing_of(20240101, "440300", "S10", 0, STORE_CLR_PAYMENT, 100),
                              clearing_of(20240101, "440300", "S1", 256, STORE_CLR_PAYMENT, 200),
                              clearing_of(20240101, "440300", "S1", 1, STORE_CLR_PAYMENT, 300),
                              clearing_of(20240101, "440300", "S1", 1, STORE_CLR_REFUND, -300),
                              clearing_of(20240101, "310000", "S2", 0, STORE_CLR_PREMIUM, 50),
                              clearing_of(20240101, "440301", "S1", 1, STORE_CLR_PAYMENT, 7),
                              clearing_of(20240102, "440300", "S3", 0, STORE_CLR_PAYMENT, 9),
                              clearing_of(20231231, "440300", "S0", 0, STORE_CLR_PAYMENT, 8),
                              clearing_of(20240101, "440300", "S1", 1, STORE_CLR_PAYMENT, 300),
                          }};
    c.e[4].direction = STORE_CLR_WE_OWE;
    assert_int_equal(store_submit_wait(f->s, apply_clearings, &c), GJ_OK);
    for (size_t i = 0; i < c.n; i++)
        assert_int_equal(c.rv[i], GJ_OK);
    open_with(f, NULL);

    /* Counterparty, then setl_id ("S1" before "S10"), then leg as a number, then kind. */
    struct seen_clearing s = scan_clearing(f, 20240101, "");
    assert_int_equal(s.n, 6);
    assert_string_equal(s.what[0], "20240101/310000/S2/0/2");
    assert_string_equal(s.what[1], "20240101/440300/S1/1/1");
    assert_string_equal(s.what[2], "20240101/440300/S1/1/3");
    assert_string_equal(s.what[3], "20240101/440300/S1/256/1");
    assert_string_equal(s.what[4], "20240101/440300/S10/0/1");
    assert_string_equal(s.what[5], "20240101/440301/S1/1/1");
    assert_memory_equal(&s.e[0], &c.e[4], sizeof c.e[4]);
    assert_memory_equal(&s.e[2], &c.e[3], sizeof c.e[3]);

    s = scan_clearing(f, 20240101, "440300");
    assert_int_equal(s.n, 4);
    assert_string_equal(s.what[0], "20240101/440300/S1/1/1");
    assert_string_equal(s.what[3], "20240101/440300/S10/0/1");
    s = scan_clearing(f, 20240101, "310000");
    assert_int_equal(s.n, 1);
    s = scan_clearing(f, 20240102, "");
    assert_int_equal(s.n, 1);
    assert_string_equal(s.what[0], "20240102/440300/S3/0/1");
    s = scan_clearing(f, 20231231, "440300");
    assert_int_equal(s.n, 1);
    s = scan_clearing(f, 20240103, "");
    assert_int_equal(s.n, 0);
    s = scan_clearing(f, 20240101, "440302");
    assert_int_equal(s.n, 0);

    /* The same key again replaces (the same fact recorded again). */
    store_clearing again = c.e[2];
    again.amount = 301;
    put_clearing(f, again);
    s = scan_clearing(f, 20240101, "440300");
    assert_int_equal(s.n, 4);
    assert_int_equal(s.e[0].amount, 301);

    struct seen_clearing two = {.stop_after = 2};
    store_txn *t = rd(f);
    assert_int_equal(store_clearing_scan(t, 20240101, "", see_clearing, &two), GJ_OK);
    assert_int_equal(two.n, 2);
    assert_int_equal(store_clearing_scan(t, 20240230, "", see_clearing, &two), GJ_ERR_INVAL);
    assert_int_equal(store_clearing_scan(t, 20240101, "4403", see_clearing, &two), GJ_ERR_INVAL);
    assert_int_equal(store_clearing_scan(t, 20240101, "4403001", see_clearing, &two),
                     GJ_ERR_INVAL);
    assert_int_equal(store_clearing_scan(t, 20240101, NULL, see_clearing, &two), GJ_ERR_INVAL);
    assert_int_equal(store_clearing_scan(t, 20240101, "", NULL, NULL), GJ_ERR_INVAL);
    store_read_end(t);
}

#define CLR_SWEEP 300

struct clr_sweep {
    store_txn *t;
    int visits;
    gj_err rv;
};

static bool delete_each_clearing(const store_clearing *e, void *arg)
{
    struct clr_sweep *sw = arg;
    sw->visits++;
    if (sw->rv == GJ_OK)
        sw->rv = store_clearing_delete(sw->t, e->window, e->counterparty, e->setl_id, e->leg,
                                       e->kind);
    /* An entry added while scanning, after every other one, is visited too. */
    if (e->leg == 0 && strcmp(e->setl_id, "C000") == 0 && sw->rv == GJ_OK) {
        store_clearing late = clearing_of(20240101, "440300", "C999", 0, STORE_CLR_PAYMENT, 1);
        sw->rv = store_clearing_put(sw->t, &late);
    }
    return true;
}

static gj_err apply_clr_sweep(store_txn *t, void *arg)
{
    struct clr_sweep *sw = arg;
    char id[16];
    gj_err err;
    for (int i = 0; i < CLR_SWEEP; i++) {
        snprintf(id, sizeof id, "C%03d", i);
        store_clearing e = clearing_of(20240101, "440300", id, 0, STORE_CLR_PAYMENT, 1 + i);
        if ((err = store_clearing_put(t, &e)) != GJ_OK)
            return err;
    }
    store_clearing other = clearing_of(20240102, "440300", "C000", 0, STORE_CLR_PAYMENT, 5);
    if ((err = store_clearing_put(t, &other)) != GJ_OK)
        return err;
    sw->t = t;
    if ((err = store_clearing_scan(t, 20240101, "", delete_each_clearing, sw)) != GJ_OK)
        return err;
    return sw->rv;
}

static void test_clearing_scan_lets_the_callback_delete_and_add(void **state)
{
    struct fx *f = open_fx(state);
    struct clr_sweep sw = {0};
    assert_int_equal(store_submit_wait(f->s, apply_clr_sweep, &sw), GJ_OK);
    assert_int_equal(sw.visits, CLR_SWEEP + 1); /* none skipped or repeated */
    assert_int_equal(scan_clearing(f, 20240101, "").n, 0);
    assert_int_equal(scan_clearing(f, 20240102, "").n, 1); /* the next window untouched */
}

static void test_closed_window_refuses_new_entries_and_deletes(void **state)
{
    struct fx *f = open_fx(state);
    uint8_t st = 0;
    int64_t ms = -1;
    store_txn *t = rd(f);
    assert_int_equal(store_window_get(t, 20240101, &st, &ms), GJ_OK); /* never written */
    assert_int_equal(st, STORE_WINDOW_OPEN);
    assert_int_equal(ms, 0);
    assert_int_equal(store_window_get(t, 20240132, &st, &ms), GJ_ERR_INVAL);
    store_read_end(t);

    store_clearing e1 = clearing_of(20240101, "440300", SETL_A, 0, STORE_CLR_PAYMENT, 100);
    store_clearing e2 = clearing_of(20240102, "440300", SETL_A, 1, STORE_CLR_PAYMENT, 200);
    put_clearing(f, e1);
    put_clearing(f, e2);

    /* Closing rolled back with its job leaves the window open. */
    struct closes doomed = {.n = 1, .window = {20240101}, .unix_ms = 5, .abort_after = true};
    assert_int_equal(store_submit_wait(f->s, apply_closes, &doomed), GJ_ERR_ABORT);
    assert_int_equal(doomed.rv[0], GJ_OK);
    t = rd(f);
    assert_int_equal(store_window_get(t, 20240101, &st, NULL), GJ_OK);
    assert_int_equal(st, STORE_WINDOW_OPEN);
    store_read_end(t);

    close_window(f, 20240101, 111);
    close_window(f, 20240101, 222); /* idempotent: the first close stands */
    struct closes bad = {.n = 2, .window = {20240230, 20240103}, .unix_ms = -1};
    assert_int_equal(store_submit_wait(f->s, apply_closes, &bad), GJ_OK);
    assert_int_equal(bad.rv[0], GJ_ERR_INVAL);
    assert_int_equal(bad.rv[1], GJ_ERR_INVAL);
    open_with(f, NULL);
    t = rd(f);
    assert_int_equal(store_window_get(t, 20240101, &st, &ms), GJ_OK);
    assert_int_equal(st, STORE_WINDOW_CLOSED);
    assert_int_equal(ms, 111);
    assert_int_equal(store_window_get(t, 20240102, &st, &ms), GJ_OK);
    assert_int_equal(st, STORE_WINDOW_OPEN);
    assert_int_equal(store_window_get(t, 20240103, &st, &ms), GJ_OK);
    assert_int_equal(st, STORE_WINDOW_OPEN);
    store_read_end(t);

    /* Nothing enters, changes or leaves a closed window; the open one next to it is
     * unaffected. */
    store_clearing changed = e1;
    changed.amount = 101;
    struct clearings c = {
        .n = 4,
        .e = {clearing_of(20240101, "440300", SETL_B, 0, STORE_CLR_PAYMENT, 5), changed,
              clearing_of(20240101, "310000", SETL_B, 0, STORE_CLR_REFUND, -5),
              clearing_of(20240102, "440300", SETL_B, 0, STORE_CLR_PAYMENT, 5)}};
    assert_int_equal(store_submit_wait(f->s, apply_clearings, &c), GJ_OK);
    assert_int_equal(c.rv[0], GJ_ERR_EXISTS);
    assert_int_equal(c.rv[1], GJ_ERR_EXISTS);
    assert_int_equal(c.rv[2], GJ_ERR_EXISTS);
    assert_int_equal(c.rv[3], GJ_OK);
    struct clearing_dels d = {.n = 4, .key = {e1, c.e[0], e2, e2}};
    assert_int_equal(store_submit_wait(f->s, apply_clearing_dels, &d), GJ_OK);
    assert_int_equal(d.rv[0], GJ_ERR_EXISTS);
    assert_int_equal(d.rv[1], GJ_ERR_EXISTS); /* absent, but the window is closed anyway */
    assert_int_equal(d.rv[2], GJ_OK);
    assert_int_equal(d.rv[3], GJ_ERR_NOTFOUND);

    struct seen_clearing s = scan_clearing(f, 20240101, "");
    assert_int_equal(s.n, 1);
    assert_memory_equal(&s.e[0], &e1, sizeof e1);
    s = scan_clearing(f, 20240102, "");
    assert_int_equal(s.n, 1);
    assert_string_equal(s.e[0].setl_id, SETL_B);

    struct clearing_dels malformed = {.n = 4, .key = {e2, e2, e2, e2}};
    malformed.key[0].window = 20240100;
    SET(malformed.key[1].counterparty, "44030");
    malformed.key[2].setl_id[0] = '\0';
    malformed.key[3].kind = 0;
    assert_int_equal(store_submit_wait(f->s, apply_clearing_dels, &malformed), GJ_OK);
    for (size_t i = 0; i < malformed.n; i++)
        assert_int_equal(malformed.rv[i], GJ_ERR_INVAL);
}

static int32_t first_open(struct fx *f, int32_t date, gj_err want)
{
    int32_t w = -1;
    store_txn *t = rd(f);
    assert_int_equal(store_window_first_open(t, date, &w), want);
    store_read_end(t);
    return w;
}

struct close_run {
    int32_t from;
    int days;
};

static gj_err apply_close_run(store_txn *t, void *arg)
{
    struct close_run *r = arg;
    gj_err err;
    int32_t d = r->from;
    for (int i = 0; i < r->days; i++, d = gj_date_next(d))
        if ((err = store_window_close(t, d, 1)) != GJ_OK)
            return err;
    return GJ_OK;
}

static void test_first_open_window_skips_closed_ones(void **state)
{
    struct fx *f = open_fx(state);
    assert_int_equal(first_open(f, 20240101, GJ_OK), 20240101);

    close_window(f, 20240101, 1);
    close_window(f, 20240102, 1);
    close_window(f, 20240104, 1);
    assert_int_equal(first_open(f, 20240101, GJ_OK), 20240103);
    assert_int_equal(first_open(f, 20240102, GJ_OK), 20240103);
    assert_int_equal(first_open(f, 20240103, GJ_OK), 20240103);
    assert_int_equal(first_open(f, 20240104, GJ_OK), 20240105);
    assert_int_equal(first_open(f, 20231231, GJ_OK), 20231231);

    /* Across the end of a month, a leap day and a year. */
    close_window(f, 20240228, 1);
    close_window(f, 20240229, 1);
    assert_int_equal(first_open(f, 20240228, GJ_OK), 20240301);
    close_window(f, 20241231, 1);
    assert_int_equal(first_open(f, 20241231, GJ_OK), 20250101);

    /* The search is bounded: ten years of closed windows is an error, not a hang. */
    struct close_run run = {.from = 20300101, .days = 3659};
    assert_int_equal(store_submit_wait(f->s, apply_close_run, &run), GJ_OK);
    int32_t last = first_open(f, 20300101, GJ_OK);
    int32_t d = 20300101;
    for (int i = 0; i < 3659; i++)
        d = gj_date_next(d);
    assert_int_equal(last, d);
    close_window(f, last, 1);
    assert_int_equal(first_open(f, 20300101, GJ_ERR_FULL), 0);
    assert_int_equal(first_open(f, 20300102, GJ_OK), gj_date_next(last));

    /* And there is no day after 9999-12-31. */
    close_window(f, 99991231, 1);
    assert_int_equal(first_open(f, 99991231, GJ_ERR_FULL), 0);
    assert_int_equal(first_open(f, 99991230, GJ_OK), 99991230);

    first_open(f, 20240230, GJ_ERR_INVAL);
    store_txn *t = rd(f);
    assert_int_equal(store_window_first_open(t, 20240101, NULL), GJ_ERR_INVAL);
    store_read_end(t);
}

static void test_refund_row_must_be_negative(void **state)
{
    struct fx *f = open_fx(state);
    struct clearings c = {
        .n = 9,
        .e = {
            clearing_of(20240101, "440300", "R0", 0, STORE_CLR_REFUND, -100),
            clearing_of(20240101, "440300", "R1", 0, STORE_CLR_REFUND, -GJ_AMOUNT_MAX),
            clearing_of(20240101, "440300", "R2", 0, STORE_CLR_PAYMENT, GJ_AMOUNT_MAX),
            clearing_of(20240101, "440300", "X0", 0, STORE_CLR_REFUND, 100),
            clearing_of(20240101, "440300", "X1", 0, STORE_CLR_REFUND, 0),
            clearing_of(20240101, "440300", "X2", 0, STORE_CLR_REFUND, -GJ_AMOUNT_MAX - 1),
            clearing_of(20240101, "440300", "X3", 0, STORE_CLR_PAYMENT, -100),
            clearing_of(20240101, "440300", "X4", 0, STORE_CLR_PREMIUM, -1),
            clearing_of(20240101, "440300", "X5", 0, STORE_CLR_PAYMENT, 0),
        }};
    assert_int_equal(store_submit_wait(f->s, apply_clearings, &c), GJ_OK);
    assert_int_equal(c.rv[0], GJ_OK);
    assert_int_equal(c.rv[1], GJ_OK);
    assert_int_equal(c.rv[2], GJ_OK);
    for (size_t i = 3; i < c.n; i++)
        if (c.rv[i] != GJ_ERR_INVAL)
            fail_msg("case %zu: %s", i, gj_err_name(c.rv[i]));
    struct seen_clearing s = scan_clearing(f, 20240101, "");
    assert_int_equal(s.n, 3);
    assert_int_equal(s.e[0].amount, -100);
}

static void test_clearing_refuses_malformed_entries(void **state)
{
    struct fx *f = open_fx(state);
    store_clearing good = clearing_of(20240101, "440300", SETL_A, 0, STORE_CLR_PAYMENT, 100);
    struct clearings c = {.n = 0};
    store_clearing *e;

    c.e[c.n++] = good; /* 0 */
    e = &c.e[c.n++];
    *e = good;
    e->window = 20240132;
    e = &c.e[c.n++];
    *e = good;
    e->window = 0;
    e = &c.e[c.n++];
    *e = good;
    SET(e->counterparty, "44030");
    e = &c.e[c.n++];
    *e = good;
    SET(e->counterparty, "44a300");
    e = &c.e[c.n++];
    *e = good;
    memset(e->counterparty, '4', sizeof e->counterparty); /* 7 digits, no terminator */
    e = &c.e[c.n++];
    *e = good;
    e->setl_id[0] = '\0';
    e = &c.e[c.n++];
    *e = good;
    memset(e->setl_id, '7', sizeof e->setl_id);
    e = &c.e[c.n++];
    *e = good;
    e->kind = 0;
    e = &c.e[c.n++];
    *e = good;
    e->kind = STORE_CLR_REFUND + 1;
    e = &c.e[c.n++];
    *e = good;
    e->direction = 0;
    e = &c.e[c.n++];
    *e = good;
    e->direction = STORE_CLR_WE_OWE + 1;
    e = &c.e[c.n++];
    *e = good;
    e->amount = GJ_AMOUNT_MAX + 1;
    e = &c.e[c.n++];
    *e = good;
    e->sponsor[0] = '\0';
    e = &c.e[c.n++];
    *e = good;
    e->beneficiary[0] = '\0';
    for (size_t i = 1; i < c.n; i++) /* every refused one would land on another key */
        c.e[i].leg = (uint32_t)i;

    assert_int_equal(store_submit_wait(f->s, apply_clearings, &c), GJ_OK);
    assert_int_equal(c.rv[0], GJ_OK);
    for (size_t i = 1; i < c.n; i++)
        if (c.rv[i] != GJ_ERR_INVAL)
            fail_msg("case %zu: %s", i, gj_err_name(c.rv[i]));
    assert_int_equal(scan_clearing(f, 20240101, "").n, 1);
}

static void test_damaged_settlement_index_clearing_and_windows_read_as_corrupt(void **state)
{
    struct fx *f = open_fx(state);
    store_settlement st = setl_of("S1", "B1", 20240101, 1000), out[4];
    assert_int_equal(store_submit_wait(f->s, apply_setl, &st), GJ_OK);
    put_clearing(f, clearing_of(20240101, "440300", "S1", 0, STORE_CLR_PAYMENT, 100));
    store_close(f->s);
    f->s = NULL;

    /* Patient index keys in the ledger, "B2\0P" date ms id: one naming a missing
     * settlement, one naming S1 (filed under B1), one with a value. */
    unsigned char k[4 + 12 + 2] = {'B', '2', 0, 'P'};
    k[4] = 0x01; /* 20240101 = 0x0134d6e5 */
    k[5] = 0x34;
    k[6] = 0xd6;
    k[7] = 0xe5;
    memset(k + 8, 0, 8);
    k[15] = 1;
    memcpy(k + 16, "S9", 2);
    raw_putn(f->dir, "ledger", k, sizeof k, "", 0);
    k[1] = '3';
    memcpy(k + 16, "S1", 2);
    raw_putn(f->dir, "ledger", k, sizeof k, "", 0);
    k[1] = '4';
    k[14] = 0x03; /* 1000 = 0x3e8 */
    k[15] = 0xe8;
    raw_putn(f->dir, "ledger", k, sizeof k, "x", 1);
    raw_put(f->dir, "settlements", "S2", "abc", 3);

    /* A clearing entry under another key; a window record of the wrong size. */
    store_clearing moved = clearing_of(20240102, "440300", "S1", 0, STORE_CLR_PAYMENT, 100);
    const unsigned char ck[] = {0x01, 0x34, 0xd6, 0xe5, '4', '4', '0', '3', '0', '0',
                                'S', '2', 0, 0, 0, 0, 0, 1};
    raw_putn(f->dir, "clearing", ck, sizeof ck, &moved, sizeof moved);
    const unsigned char wk[] = {0x01, 0x34, 0xd6, 0xe6}; /* 20240102 */
    raw_putn(f->dir, "windows", wk, sizeof wk, "abc", 3);
    open_with(f, NULL);

    store_txn *t = rd(f);
    size_t n;
    char cur[80];
    assert_int_equal(store_settlement_list_by_psn(t, "B1", 0, 99991231, "", out, 4, &n, cur),
                     GJ_OK);
    assert_int_equal(n, 1);
    const char *bad[] = {"B2", "B3", "B4"};
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(store_settlement_list_by_psn(t, bad[i], 0, 99991231, "", out, 4, &n, cur),
                         GJ_ERR_CORRUPT);
        assert_int_equal(n, 0);
    }
    struct seen_clearing s = {0};
    assert_int_equal(store_clearing_scan(t, 20240101, "", see_clearing, &s), GJ_ERR_CORRUPT);
    assert_int_equal(s.n, 1); /* S1 came before the misfiled S2 */
    uint8_t ws;
    assert_int_equal(store_window_get(t, 20240102, &ws, NULL), GJ_ERR_CORRUPT);
    int32_t w;
    assert_int_equal(store_window_first_open(t, 20240102, &w), GJ_ERR_CORRUPT);
    store_read_end(t);

    /* Writes that depend on a damaged record refuse rather than guess. */
    put_clearing(f, clearing_of(20240103, "440300", "S1", 0, STORE_CLR_PAYMENT, 1));
    struct clearings c = {.n = 1,
                          .e = {clearing_of(20240102, "440300", "S1", 0, STORE_CLR_PAYMENT, 1)}};
    assert_int_equal(store_submit_wait(f->s, apply_clearings, &c), GJ_OK);
    assert_int_equal(c.rv[0], GJ_ERR_CORRUPT);
    store_settlement over = setl_of("S2", "B1", 20240101, 1);
    assert_int_equal(store_submit_wait(f->s, apply_setl, &over), GJ_ERR_CORRUPT);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_person_survives_close_and_reopen),
        T(test_account_move_updates_balance_and_journal),
        T(test_journal_scan_starts_at_first_seq_and_stops_on_request),
        T(test_account_move_refuses_bad_amounts_and_missing_account),
        T(test_account_move_refuses_balance_above_max),
        T(test_account_move_refuses_overdraft_below_held),
        T(test_hold_bounds),
        T(test_failed_apply_leaves_nothing_behind),
        T(test_one_failed_job_does_not_undo_its_batch_neighbours),
        T(test_group_commit_batches_concurrent_submitters),
        T(test_batch_max_bounds_jobs_per_commit),
        T(test_intake_hold_keeps_submissions_in_one_commit),
        T(test_submit_wait_on_writer_thread_is_refused),
        T(test_binding_lists_from_both_sides),
        T(test_order_absent_reads_empty),
        T(test_idem_roundtrip),
        T(test_idem_replace_only_what_is_on_record),
        T(test_spend_list_pages_in_date_order_and_resumes_by_cursor),
        T(test_next_seq_survives_reopen),
        T(test_conservation_holds_after_many_moves),
        T(test_account_scan_is_in_psn_no_order_and_stops_early),
        T(test_write_on_read_txn_refused),
        T(test_overlong_psn_no_refused),
        T(test_full_queue_or_closed_store_refuses_submit),
        T(test_map_full_is_reported),
        T(test_swallowed_store_error_fails_only_that_job),
        T(test_swallowed_store_error_is_reported_to_done),
        T(test_settlement_roundtrip_and_replace),
        T(test_read_txn_is_a_snapshot_usable_from_any_thread),
        T(test_ledger_keeps_accounts_spends_and_patient_index_apart),
        T(test_damaged_records_and_other_format_read_as_corrupt),
        T(test_open_refuses_missing_directory),
        T(test_hold_roundtrip_and_open_index_follows_state),
        T(test_open_scans_go_on_past_a_key),
        T(test_hold_scans_are_in_setl_id_then_leg_order),
        T(test_hold_fence_is_a_voided_hold_of_zero),
        T(test_hold_refuses_malformed_fields),
        T(test_settlements_and_decisions_keep_only_what_they_use),
        T(test_journal_entries_keep_only_what_they_use),
        T(test_decision_open_until_every_leg_acked),
        T(test_decision_refuses_too_many_legs_and_bad_action),
        T(test_settlement_scan_visits_every_settlement_in_order),
        T(test_hold_and_decision_writes_roll_back_with_their_job),
        T(test_open_scans_let_the_callback_resolve_what_it_is_given),
        T(test_damaged_holds_decisions_and_open_indexes_read_as_corrupt),
        T(test_spend_refund_flag_must_be_0_or_1),
        T(test_hold_refunded_state_is_not_open),
        T(test_decision_refund_leg_is_open_until_acked),
        T(test_settlements_by_psn_page_in_date_order),
        T(test_revoked_settlement_keeps_one_index_entry),
        T(test_clearing_entries_scan_by_window_and_counterparty),
        T(test_clearing_scan_lets_the_callback_delete_and_add),
        T(test_closed_window_refuses_new_entries_and_deletes),
        T(test_first_open_window_skips_closed_ones),
        T(test_refund_row_must_be_negative),
        T(test_clearing_refuses_malformed_entries),
        T(test_damaged_settlement_index_clearing_and_windows_read_as_corrupt),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
