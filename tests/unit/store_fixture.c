/* The store tests' shared fixture and helpers; store_fixture.h says what each is. */
#include "store_fixture.h"

#include <dirent.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

void open_with(struct fx *f, const store_options *opts)
{
    store_close(f->s);
    f->s = NULL;
    assert_int_equal(store_open(&f->s, f->dir, opts), GJ_OK);
    assert_non_null(f->s);
}

struct fx *open_fx(void **state)
{
    struct fx *f = *state;
    open_with(f, NULL);
    return f;
}

store_txn *rd(struct fx *f)
{
    store_txn *t = NULL;
    assert_int_equal(store_read_begin(f->s, &t), GJ_OK);
    assert_non_null(t);
    return t;
}

void set_str(char *dst, size_t size, const char *src)
{
    if (!gj_strcpy_fit(dst, size, src))
        abort(); /* a test bug, not a store bug */
}

store_person person_of(const char *psn_no)
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

store_journal_entry entry_of(const char *psn_no, uint8_t kind, int64_t amount)
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

bool person_exists(struct fx *f, const char *psn_no)
{
    store_person p;
    store_txn *t = rd(f);
    gj_err err = store_person_get(t, psn_no, &p);
    store_read_end(t);
    assert_true(err == GJ_OK || err == GJ_ERR_NOTFOUND);
    return err == GJ_OK;
}

uint64_t journal_count(struct fx *f)
{
    store_txn *t = rd(f);
    uint64_t n = store_journal_count(t);
    store_read_end(t);
    return n;
}

store_account account_of(struct fx *f, const char *psn_no)
{
    store_account a;
    store_txn *t = rd(f);
    assert_int_equal(store_account_get(t, psn_no, &a), GJ_OK);
    store_read_end(t);
    return a;
}

gj_err apply_put_person(store_txn *t, void *arg)
{
    return store_person_put(t, arg);
}

gj_err apply_ensure(store_txn *t, void *arg)
{
    return store_account_ensure(t, arg);
}

void put_person(struct fx *f, const char *psn_no)
{
    store_person p = person_of(psn_no);
    assert_int_equal(store_submit_wait(f->s, apply_put_person, &p), GJ_OK);
}

gj_err apply_moves(store_txn *t, void *arg)
{
    struct moves *m = arg;
    gj_err err;
    if (m->ensure && (err = store_account_ensure(t, m->psn_no)) != GJ_OK)
        return err;
    for (size_t i = 0; i < m->n; i++)
        m->rv[i] = store_account_move(t, &m->e[i], &m->after[i]);
    return GJ_OK;
}

void credit(struct fx *f, const char *psn_no, int64_t amount)
{
    struct moves m = {.ensure = true, .psn_no = psn_no, .n = 1};
    m.e[0] = entry_of(psn_no, STORE_J_CREDIT, amount);
    assert_int_equal(store_submit_wait(f->s, apply_moves, &m), GJ_OK);
    assert_int_equal(m.rv[0], GJ_OK);
}

void gate_open(struct gate *g)
{
    pthread_mutex_lock(&g->mu);
    g->open = true;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

int setup(void **state)
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

int teardown(void **state)
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

store_binding binding_of(const char *sponsor, const char *beneficiary, int32_t end)
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

/* A request digest for tests: n in the first bytes, the rest zero but one. */
const store_digest *dg(uint64_t n)
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

gj_err apply_spends(store_txn *t, void *arg)
{
    struct spends *s = arg;
    for (size_t i = 0; i < s->n; i++)
        s->rv[i] = store_spend_put(t, &s->sp[i]);
    return GJ_OK;
}

store_spend spend_of(const char *sponsor, int32_t date, int64_t ms, const char *setl_id)
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

gj_err apply_setl(store_txn *t, void *arg)
{
    return store_settlement_put(t, arg);
}

void raw_putn(const char *dir, const char *db, const void *key, size_t klen,
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

void raw_put(const char *dir, const char *db, const char *key, const void *val,
             size_t len)
{
    raw_putn(dir, db, key, strlen(key), val, len);
}

store_hold hold_of(const char *setl_id, uint32_t leg, uint8_t state, int64_t amount)
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

store_decision decision_of(const char *setl_id, uint32_t legs)
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

gj_err apply_hold(store_txn *t, void *arg)
{
    return store_hold_put(t, arg);
}

gj_err apply_decision(store_txn *t, void *arg)
{
    return store_decision_put(t, arg);
}

void put_hold(struct fx *f, store_hold h)
{
    assert_int_equal(store_submit_wait(f->s, apply_hold, &h), GJ_OK);
}

void put_decision(struct fx *f, store_decision d)
{
    assert_int_equal(store_submit_wait(f->s, apply_decision, &d), GJ_OK);
}

bool saw(struct seen *s)
{
    s->n++;
    return s->stop_after == 0 || s->n < s->stop_after;
}

bool see_hold(const store_hold *h, void *arg)
{
    struct seen *s = arg;
    if (s->n < 64) {
        snprintf(s->what[s->n], sizeof s->what[s->n], "%s/%u", h->setl_id, (unsigned)h->leg);
        s->hold[s->n] = *h;
    }
    return saw(s);
}

bool see_decision(const store_decision *d, void *arg)
{
    struct seen *s = arg;
    if (s->n < 64)
        snprintf(s->what[s->n], sizeof s->what[s->n], "%s", d->setl_id);
    return saw(s);
}

bool see_settlement(const store_settlement *st, void *arg)
{
    struct seen *s = arg;
    if (s->n < 64)
        snprintf(s->what[s->n], sizeof s->what[s->n], "%s", st->setl_id);
    return saw(s);
}

struct seen open_holds(struct fx *f, uint64_t *count)
{
    struct seen s = {0};
    store_txn *t = rd(f);
    assert_int_equal(store_hold_scan_open(t, see_hold, &s), GJ_OK);
    *count = store_hold_open_count(t);
    store_read_end(t);
    return s;
}

struct seen all_holds(struct fx *f)
{
    struct seen s = {0};
    store_txn *t = rd(f);
    assert_int_equal(store_hold_scan(t, see_hold, &s), GJ_OK);
    store_read_end(t);
    return s;
}

store_settlement setl_of(const char *setl_id, const char *psn_no, int32_t date, int64_t ms)
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
