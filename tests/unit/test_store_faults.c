/* Fault injection for store/: the link wraps mdb_txn_begin and mdb_txn_commit
 * (-Wl,--wrap=...) so a test can make the next batch commit, child commit or begin
 * fail with a chosen LMDB/errno code, and check what callers are told and what is
 * kept. Needs, in tests/unit/CMakeLists.txt:
 *   gj_add_test(test_store_faults SOURCES test_store_faults.c LIBS gongji_store LABELS unit)
 *   target_link_options(test_store_faults PRIVATE
 *                       -Wl,--wrap=mdb_txn_begin -Wl,--wrap=mdb_txn_commit)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gj_util.h"
#include "store.h"

/* ---- the wraps ---- */

int __real_mdb_txn_begin(MDB_env *env, MDB_txn *parent, unsigned int flags, MDB_txn **txn);
int __real_mdb_txn_commit(MDB_txn *txn);
int __wrap_mdb_txn_begin(MDB_env *env, MDB_txn *parent, unsigned int flags, MDB_txn **txn);
int __wrap_mdb_txn_commit(MDB_txn *txn);

/* Each holds the code the next matching call fails with (0: none); consumed once. */
static atomic_int fail_batch_begin, fail_batch_commit, fail_child_commit, fail_read_begin;
static _Atomic(MDB_txn *) batch_txn; /* the latest top-level write txn */

int __wrap_mdb_txn_begin(MDB_env *env, MDB_txn *parent, unsigned int flags, MDB_txn **txn)
{
    bool top_write = parent == NULL && !(flags & MDB_RDONLY);
    int fail = 0;
    if (top_write)
        fail = atomic_exchange(&fail_batch_begin, 0);
    else if (flags & MDB_RDONLY)
        fail = atomic_exchange(&fail_read_begin, 0);
    if (fail != 0)
        return fail;
    int rc = __real_mdb_txn_begin(env, parent, flags, txn);
    if (rc == 0 && top_write)
        atomic_store(&batch_txn, *txn);
    return rc;
}

int __wrap_mdb_txn_commit(MDB_txn *txn)
{
    bool top = txn == atomic_load(&batch_txn);
    int fail = atomic_exchange(top ? &fail_batch_commit : &fail_child_commit, 0);
    if (fail != 0) {
        mdb_txn_abort(txn); /* a failed commit frees the txn, as LMDB's does */
        return fail;
    }
    return __real_mdb_txn_commit(txn);
}

/* ---- fixture and helpers ---- */

struct gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool entered, open;
};
#define GATE_INIT {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, false}

struct fx {
    char dir[64];
    store *s;
    struct gate *gate;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    if (f == NULL)
        return -1;
    snprintf(f->dir, sizeof f->dir, "/tmp/gj-store-faults-XXXXXX");
    if (mkdtemp(f->dir) == NULL || store_open(&f->s, f->dir, NULL) != GJ_OK) {
        free(f);
        return -1;
    }
    atomic_store(&fail_batch_begin, 0);
    atomic_store(&fail_batch_commit, 0);
    atomic_store(&fail_child_commit, 0);
    atomic_store(&fail_read_begin, 0);
    *state = f;
    return 0;
}

static void gate_open(struct gate *g)
{
    pthread_mutex_lock(&g->mu);
    g->open = true;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

static int teardown(void **state)
{
    struct fx *f = *state;
    char path[512];
    if (f->gate != NULL)
        gate_open(f->gate);
    store_close(f->s);
    DIR *d = opendir(f->dir);
    struct dirent *e;
    while (d != NULL && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", f->dir, e->d_name);
        unlink(path);
    }
    if (d != NULL)
        closedir(d);
    rmdir(f->dir);
    free(f);
    return 0;
}

static store_person person_of(const char *psn_no)
{
    store_person p;
    memset(&p, 0, sizeof p);
    if (!gj_strcpy_fit(p.psn_no, sizeof p.psn_no, psn_no))
        abort();
    strcpy(p.insutype, "310");
    strcpy(p.admdvs, "430100");
    p.status = STORE_PERSON_ACTIVE;
    return p;
}

static bool person_exists(struct fx *f, const char *psn_no)
{
    store_txn *t = NULL;
    store_person p;
    assert_int_equal(store_read_begin(f->s, &t), GJ_OK);
    gj_err err = store_person_get(t, psn_no, &p);
    store_read_end(t);
    assert_true(err == GJ_OK || err == GJ_ERR_NOTFOUND);
    return err == GJ_OK;
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

/* Holds the writer inside a job of its own until gate_open. */
static void gate_close(struct fx *f, struct gate *g)
{
    pthread_mutex_lock(&g->mu);
    g->entered = g->open = false;
    pthread_mutex_unlock(&g->mu);
    f->gate = g;
    assert_int_equal(store_submit(f->s, apply_gate, NULL, g), GJ_OK);
    pthread_mutex_lock(&g->mu);
    while (!g->entered)
        pthread_cond_wait(&g->cv, &g->mu);
    pthread_mutex_unlock(&g->mu);
}

#define JOBS 3

struct job {
    store_person p;
    atomic_int *arm; /* set to arm_code when this job runs, on the writer thread */
    int arm_code;
    gj_err result;
};

/* Static: the writer may still finish these if an assertion ends a test early. */
static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done;
    struct job job[JOBS];
} jobs = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static gj_err apply_job(store_txn *t, void *arg)
{
    struct job *j = arg;
    if (j->arm != NULL)
        atomic_store(j->arm, j->arm_code);
    return store_person_put(t, &j->p);
}

static void done_job(void *arg, gj_err result)
{
    struct job *j = arg;
    pthread_mutex_lock(&jobs.mu);
    j->result = result;
    jobs.done++;
    pthread_cond_broadcast(&jobs.cv);
    pthread_mutex_unlock(&jobs.mu);
}

/* Runs JOBS jobs (J0, J1, J2) as one batch; job `armed` arms `arm` with code. */
static void run_batch(struct fx *f, int armed, atomic_int *arm, int code)
{
    static struct gate g = GATE_INIT;
    char name[8];
    gate_close(f, &g);
    pthread_mutex_lock(&jobs.mu);
    jobs.done = 0;
    pthread_mutex_unlock(&jobs.mu);
    for (int i = 0; i < JOBS; i++) {
        snprintf(name, sizeof name, "J%d", i);
        jobs.job[i] = (struct job){.p = person_of(name), .result = GJ_OK};
        if (i == armed) {
            jobs.job[i].arm = arm;
            jobs.job[i].arm_code = code;
        }
        assert_int_equal(store_submit(f->s, apply_job, done_job, &jobs.job[i]), GJ_OK);
    }
    gate_open(&g);
    pthread_mutex_lock(&jobs.mu);
    while (jobs.done < JOBS)
        pthread_cond_wait(&jobs.cv, &jobs.mu);
    pthread_mutex_unlock(&jobs.mu);
}

/* ---- tests ---- */

static void test_failed_batch_commit_fails_every_job_and_keeps_nothing(void **state)
{
    struct fx *f = *state;
    run_batch(f, 0, &fail_batch_commit, EIO);
    for (int i = 0; i < JOBS; i++)
        assert_int_equal(jobs.job[i].result, GJ_ERR_IO);
    assert_false(person_exists(f, "J0"));
    assert_false(person_exists(f, "J2"));

    /* The store goes on: the next batch commits. */
    run_batch(f, -1, NULL, 0);
    for (int i = 0; i < JOBS; i++)
        assert_int_equal(jobs.job[i].result, GJ_OK);
    assert_true(person_exists(f, "J0"));
    assert_true(person_exists(f, "J2"));
}

static void test_commit_errors_map_to_gj_errors(void **state)
{
    struct fx *f = *state;
    static const struct {
        int code;
        gj_err want;
    } cases[] = {
        {MDB_MAP_FULL, GJ_ERR_FULL},
        {MDB_TXN_FULL, GJ_ERR_FULL},
        {MDB_CORRUPTED, GJ_ERR_CORRUPT},
        {MDB_INVALID, GJ_ERR_CORRUPT},
        {MDB_VERSION_MISMATCH, GJ_ERR_CORRUPT},
        {ENOMEM, GJ_ERR_NOMEM},
        {ENOSPC, GJ_ERR_DISK_FULL},
        {EDQUOT, GJ_ERR_DISK_FULL},
        {EIO, GJ_ERR_IO},
        {MDB_PANIC, GJ_ERR_IO},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        run_batch(f, 1, &fail_batch_commit, cases[i].code);
        for (int j = 0; j < JOBS; j++)
            assert_int_equal(jobs.job[j].result, cases[i].want);
    }
    assert_false(person_exists(f, "J1"));
}

static void test_failed_child_commit_fails_only_that_job(void **state)
{
    struct fx *f = *state;
    run_batch(f, 1, &fail_child_commit, ENOMEM);
    assert_int_equal(jobs.job[0].result, GJ_OK);
    assert_int_equal(jobs.job[1].result, GJ_ERR_NOMEM);
    assert_int_equal(jobs.job[2].result, GJ_OK);
    assert_true(person_exists(f, "J0"));
    assert_false(person_exists(f, "J1"));
    assert_true(person_exists(f, "J2"));
}

static void test_failed_batch_begin_fails_every_job(void **state)
{
    struct fx *f = *state;
    static struct gate g = GATE_INIT;
    static struct job a, b;
    gate_close(f, &g); /* the gate's own txn is already begun */
    atomic_store(&fail_batch_begin, ENOMEM);
    pthread_mutex_lock(&jobs.mu);
    jobs.done = 0;
    pthread_mutex_unlock(&jobs.mu);
    a = (struct job){.p = person_of("A")};
    b = (struct job){.p = person_of("B")};
    assert_int_equal(store_submit(f->s, apply_job, done_job, &a), GJ_OK);
    assert_int_equal(store_submit(f->s, apply_job, done_job, &b), GJ_OK);
    gate_open(&g);
    pthread_mutex_lock(&jobs.mu);
    while (jobs.done < 2)
        pthread_cond_wait(&jobs.cv, &jobs.mu);
    pthread_mutex_unlock(&jobs.mu);
    assert_int_equal(a.result, GJ_ERR_NOMEM);
    assert_int_equal(b.result, GJ_ERR_NOMEM);
    assert_false(person_exists(f, "A"));
    struct job c = {.p = person_of("C")};
    assert_int_equal(store_submit_wait(f->s, apply_job, &c), GJ_OK);
    assert_true(person_exists(f, "C"));
}

static void test_read_begin_reports_full_reader_table(void **state)
{
    struct fx *f = *state;
    store_txn *t = (store_txn *)f; /* must be cleared */
    atomic_store(&fail_read_begin, MDB_READERS_FULL);
    assert_int_equal(store_read_begin(f->s, &t), GJ_ERR_FULL);
    assert_null(t);
    assert_int_equal(store_read_begin(f->s, &t), GJ_OK);
    assert_int_equal(store_person_count(t), 0);
    store_read_end(t);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_failed_batch_commit_fails_every_job_and_keeps_nothing),
        T(test_commit_errors_map_to_gj_errors),
        T(test_failed_child_commit_fails_only_that_job),
        T(test_failed_batch_begin_fails_every_job),
        T(test_read_begin_reports_full_reader_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
