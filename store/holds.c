/* gongji store: the records of cross-region settlement (store.h). A participant's
 * holds, including the VOIDED holds of amount 0 that fence off a hold arriving after
 * its void, and a coordinator's decisions with the acknowledgement of each leg. Each
 * has an index of the open ones (holds still HELD, decisions with a leg not yet
 * acked), kept in step on every put, so the resolver's scans cost what is open. */
#include "store_internal.h"

static bool part_amount_ok(int64_t amount)
{
    return amount >= 0 && amount <= GJ_AMOUNT_MAX;
}

static bool hold_ok(const store_hold *h)
{
    return KEYFIELD_OK(h->setl_id) && KEYFIELD_OK(h->sponsor) && KEYFIELD_OK(h->beneficiary) &&
           st_admdvs_ok(h->coordinator) && part_amount_ok(h->amount) &&
           h->state >= STORE_HOLD_HELD && h->state <= STORE_HOLD_REFUNDED;
}

/* setl_id '\0' big-endian leg: the '\0' keeps "S1" legs apart from "S10" legs and the
 * big-endian leg sorts each settlement's legs numerically. setl_id must be valid. */
static size_t hold_key(unsigned char *buf, const char *setl_id, uint32_t leg)
{
    size_t n = strlen(setl_id);
    memcpy(buf, setl_id, n);
    buf[n] = '\0';
    put_be32(buf + n + 1, leg);
    return n + 1 + 4;
}

/* A stored hold: a valid record filed under its own key. */
static gj_err hold_decode(const MDB_val *k, const MDB_val *v, store_hold *out)
{
    unsigned char key[HOLD_KEY_MAX];
    if (v->mv_size != sizeof *out)
        return GJ_ERR_CORRUPT;
    memcpy(out, v->mv_data, sizeof *out);
    if (!hold_ok(out) || k->mv_size != hold_key(key, out->setl_id, out->leg) ||
        memcmp(key, k->mv_data, k->mv_size) != 0) {
        memset(out, 0, sizeof *out);
        return GJ_ERR_CORRUPT;
    }
    return GJ_OK;
}

static gj_err hold_read(store_txn *t, const void *key, size_t klen, store_hold *out)
{
    MDB_val k = {klen, (void *)key}, v;
    int rc = mdb_get(t->txn, t->s->dbi[DB_HOLDS], &k, &v);
    if (rc != 0)
        return st_map_err(rc);
    return hold_decode(&k, &v, out);
}

gj_err store_hold_get(store_txn *txn, const char *setl_id, uint32_t leg, store_hold *out)
{
    gj_err err;
    unsigned char key[HOLD_KEY_MAX];
    if ((err = st_txn_readable(txn)) != GJ_OK)
        return err;
    if (!key_ok(setl_id, GJ_SETL_ID_MAX) || out == NULL)
        return GJ_ERR_INVAL;
    return hold_read(txn, key, hold_key(key, setl_id, leg), out);
}

gj_err store_hold_put(store_txn *txn, const store_hold *hold)
{
    gj_err err;
    unsigned char key[HOLD_KEY_MAX];
    if ((err = st_txn_writable(txn)) != GJ_OK)
        return err;
    if (hold == NULL || !hold_ok(hold))
        return GJ_ERR_INVAL;
    size_t klen = hold_key(key, hold->setl_id, hold->leg);
    if ((err = st_put_rec(txn, DB_HOLDS, key, klen, hold, sizeof *hold, 0)) != GJ_OK)
        return err;
    /* holds_open has a key exactly when that hold is HELD, so it follows every put. */
    if (hold->state == STORE_HOLD_HELD)
        return st_put_rec(txn, DB_HOLDS_OPEN, key, klen, "", 0, 0);
    return st_del_rec(txn, DB_HOLDS_OPEN, key, klen);
}

struct hold_scan {
    store_hold_fn fn;
    void *arg;
};

static gj_err visit_hold(store_txn *t, const MDB_val *k, const MDB_val *v, void *ctx,
                         bool *more)
{
    struct hold_scan *hs = ctx;
    store_hold h;
    (void)t;
    gj_err err = hold_decode(k, v, &h);
    if (err == GJ_OK)
        *more = hs->fn(&h, hs->arg);
    return err;
}

static gj_err visit_open_hold(store_txn *t, const MDB_val *k, const MDB_val *v, void *ctx,
                              bool *more)
{
    struct hold_scan *hs = ctx;
    store_hold h;
    if (v->mv_size != 0)
        return GJ_ERR_CORRUPT;
    /* The index is only keys; the hold it names must exist and be HELD. */
    gj_err err = hold_read(t, k->mv_data, k->mv_size, &h);
    if (err == GJ_ERR_NOTFOUND || (err == GJ_OK && h.state != STORE_HOLD_HELD))
        return GJ_ERR_CORRUPT;
    if (err == GJ_OK)
        *more = hs->fn(&h, hs->arg);
    return err;
}

gj_err store_hold_scan_open_after(store_txn *txn, const char *after_setl_id, uint32_t after_leg,
                                  store_hold_fn fn, void *arg)
{
    gj_err err;
    struct hold_scan hs = {fn, arg};
    unsigned char key[HOLD_KEY_MAX];
    if ((err = st_txn_readable(txn)) != GJ_OK)
        return err;
    if (fn == NULL || after_setl_id == NULL || strlen(after_setl_id) > GJ_SETL_ID_MAX)
        return GJ_ERR_INVAL;
    size_t klen = after_setl_id[0] ? hold_key(key, after_setl_id, after_leg) : 0;
    return st_scan_range(txn, DB_HOLDS_OPEN, key, klen, true, NULL, 0, visit_open_hold, &hs);
}

gj_err store_hold_scan_open(store_txn *txn, store_hold_fn fn, void *arg)
{
    gj_err err;
    struct hold_scan hs = {fn, arg};
    if ((err = st_txn_readable(txn)) != GJ_OK)
        return err;
    if (fn == NULL)
        return GJ_ERR_INVAL;
    return st_scan_db(txn, DB_HOLDS_OPEN, NULL, 0, visit_open_hold, &hs);
}

gj_err store_hold_scan(store_txn *txn, store_hold_fn fn, void *arg)
{
    gj_err err;
    struct hold_scan hs = {fn, arg};
    if ((err = st_txn_readable(txn)) != GJ_OK)
        return err;
    if (fn == NULL)
        return GJ_ERR_INVAL;
    return st_scan_db(txn, DB_HOLDS, NULL, 0, visit_hold, &hs);
}

gj_err store_hold_scan_after(store_txn *txn, const char *after_setl_id, uint32_t after_leg, store_hold_fn fn,
                             void *arg)
{
    gj_err err;
    struct hold_scan hs = {fn, arg};
    unsigned char key[HOLD_KEY_MAX];
    if ((err = st_txn_readable(txn)) != GJ_OK)
        return err;
    if (fn == NULL || after_setl_id == NULL || strlen(after_setl_id) > GJ_SETL_ID_MAX)
        return GJ_ERR_INVAL;
    size_t klen = after_setl_id[0] ? hold_key(key, after_setl_id, after_leg) : 0;
    return st_scan_range(txn, DB_HOLDS, key, klen, true, NULL, 0, visit_hold, &hs);
}

uint64_t store_hold_open_count(store_txn *txn)
{
    return st_db_entries(txn, DB_HOLDS_OPEN);
}

static bool decision_ok(const store_decision *d)
{
    if (!KEYFIELD_OK(d->setl_id) || !KEYFIELD_OK(d->beneficiary) || d->leg_count > GJ_SPONSORS_MAX)
        return false;
    for (uint32_t i = 0; i < d->leg_count; i++)
        if (!KEYFIELD_OK(d->legs[i].sponsor) || !st_admdvs_ok(d->legs[i].admdvs) ||
            !part_amount_ok(d->legs[i].amount) || d->legs[i].action < STORE_LEG_POST ||
            d->legs[i].action > STORE_LEG_REFUND || d->legs[i].acked > 1 || d->legs[i].speculative > 1)
            return false;
    return true;
}

/* Open until every leg in use is acknowledged; legs past leg_count are ignored. */
static bool decision_open(const store_decision *d)
{
    for (uint32_t i = 0; i < d->leg_count; i++)
        if (d->legs[i].acked == 0)
            return true;
    return false;
}

/* A decision is stored with only the legs it uses (legs[] is its last field). */
#define DECISION_HEAD offsetof(store_decision, legs)
#define DECISION_LEG sizeof(((store_decision *)0)->legs[0])
_Static_assert(sizeof(store_decision) == DECISION_HEAD + GJ_SPONSORS_MAX * DECISION_LEG,
               "legs[] is the decision's last field");

static gj_err decision_decode(const MDB_val *k, const MDB_val *v, store_decision *out)
{
    memset(out, 0, sizeof *out);
    if (v->mv_size < DECISION_HEAD)
        return GJ_ERR_CORRUPT;
    memcpy(out, v->mv_data, DECISION_HEAD);
    if (out->leg_count > GJ_SPONSORS_MAX ||
        v->mv_size != DECISION_HEAD + out->leg_count * DECISION_LEG) {
        memset(out, 0, sizeof *out);
        return GJ_ERR_CORRUPT;
    }
    memcpy(out->legs, (const unsigned char *)v->mv_data + DECISION_HEAD,
           out->leg_count * DECISION_LEG);
    if (!decision_ok(out) || k->mv_size != strlen(out->setl_id) ||
        memcmp(out->setl_id, k->mv_data, k->mv_size) != 0) {
        memset(out, 0, sizeof *out); /* never hand out a leg_count that overruns legs[] */
        return GJ_ERR_CORRUPT;
    }
    return GJ_OK;
}

static gj_err decision_read(store_txn *t, const void *key, size_t klen, store_decision *out)
{
    MDB_val k = {klen, (void *)key}, v;
    int rc = mdb_get(t->txn, t->s->dbi[DB_DECISIONS], &k, &v);
    if (rc != 0)
        return st_map_err(rc);
    return decision_decode(&k, &v, out);
}

gj_err store_decision_get(store_txn *txn, const char *setl_id, store_decision *out)
{
    gj_err err;
    if ((err = st_txn_readable(txn)) != GJ_OK)
        return err;
    if (!key_ok(setl_id, GJ_SETL_ID_MAX) || out == NULL)
        return GJ_ERR_INVAL;
    return decision_read(txn, setl_id, strlen(setl_id), out);
}

gj_err store_decision_put(store_txn *txn, const store_decision *decision)
{
    gj_err err;
    if ((err = st_txn_writable(txn)) != GJ_OK)
        return err;
    if (decision == NULL || !decision_ok(decision))
        return GJ_ERR_INVAL;
    const char *key = decision->setl_id;
    size_t klen = strlen(key);
    size_t size = DECISION_HEAD + decision->leg_count * DECISION_LEG;
    /* New decisions go at the end (setl_ids grow); a replaced one where it is. */
    err = st_put_rec(txn, DB_DECISIONS, key, klen, decision, size, MDB_APPEND);
    if (err == GJ_ERR_EXISTS)
        err = st_put_rec(txn, DB_DECISIONS, key, klen, decision, size, 0);
    if (err != GJ_OK)
        return err;
    /* decisions_open has a key exactly when a leg is not yet acked. */
    if (decision_open(decision))
        return st_put_rec(txn, DB_DECISIONS_OPEN, key, klen, "", 0, 0);
    return st_del_rec(txn, DB_DECISIONS_OPEN, key, klen);
}

struct decision_scan {
    store_decision_fn fn;
    void *arg;
};

static gj_err visit_open_decision(store_txn *t, const MDB_val *k, const MDB_val *v, void *ctx,
                                  bool *more)
{
    struct decision_scan *ds = ctx;
    store_decision d;
    if (v->mv_size != 0)
        return GJ_ERR_CORRUPT;
    /* As for holds: the decision the index names must exist and be open. */
    gj_err err = decision_read(t, k->mv_data, k->mv_size, &d);
    if (err == GJ_ERR_NOTFOUND || (err == GJ_OK && !decision_open(&d)))
        return GJ_ERR_CORRUPT;
    if (err == GJ_OK)
        *more = ds->fn(&d, ds->arg);
    return err;
}

gj_err store_decision_scan_open_after(store_txn *txn, const char *after_setl_id, store_decision_fn fn,
                                      void *arg)
{
    gj_err err;
    struct decision_scan ds = {fn, arg};
    if ((err = st_txn_readable(txn)) != GJ_OK)
        return err;
    if (fn == NULL || after_setl_id == NULL || strlen(after_setl_id) > GJ_SETL_ID_MAX)
        return GJ_ERR_INVAL;
    return st_scan_range(txn, DB_DECISIONS_OPEN, after_setl_id, strlen(after_setl_id), true, NULL, 0,
                         visit_open_decision, &ds);
}

gj_err store_decision_scan_open(store_txn *txn, store_decision_fn fn, void *arg)
{
    gj_err err;
    struct decision_scan ds = {fn, arg};
    if ((err = st_txn_readable(txn)) != GJ_OK)
        return err;
    if (fn == NULL)
        return GJ_ERR_INVAL;
    return st_scan_db(txn, DB_DECISIONS_OPEN, NULL, 0, visit_open_decision, &ds);
}

uint64_t store_decision_open_count(store_txn *txn)
{
    return st_db_entries(txn, DB_DECISIONS_OPEN);
}
