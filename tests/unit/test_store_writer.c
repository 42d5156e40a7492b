/* Unit tests of the store's writer (store/writer.c): a failed job rolls back alone and
 * never its batch neighbours, group commit gathers concurrent submitters within
 * batch_max, intake holds keep submissions together, and a full queue, a closed store,
 * a wait from the writer thread, a full map or a store error an apply swallowed are
 * each refused or reported. */
#include "store_fixture.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static uint64_t person_count(struct fx *f)
{
    store_txn *t = rd(f);
    uint64_t n = store_person_count(t);
    store_read_end(t);
    return n;
}

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_failed_apply_leaves_nothing_behind),
        T(test_one_failed_job_does_not_undo_its_batch_neighbours),
        T(test_group_commit_batches_concurrent_submitters),
        T(test_batch_max_bounds_jobs_per_commit),
        T(test_intake_hold_keeps_submissions_in_one_commit),
        T(test_submit_wait_on_writer_thread_is_refused),
        T(test_full_queue_or_closed_store_refuses_submit),
        T(test_map_full_is_reported),
        T(test_swallowed_store_error_fails_only_that_job),
        T(test_swallowed_store_error_is_reported_to_done),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
