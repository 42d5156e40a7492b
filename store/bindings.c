/* gongji store: bindings and deduction orders, and the records kept with them (the
 * identity check a binding was made with, R18; freezes, R21). A binding is written
 * twice, once under "sponsor\0beneficiary" and once under "beneficiary\0sponsor", so
 * either side lists its bindings with one prefix scan; a beneficiary's deduction order
 * is one record naming its sponsors in paying order. */
#include "store_internal.h"

#define PAIR_KEY_MAX (2 * GJ_PSN_NO_MAX + 1)

/* ---- bindings ---- */

static bool binding_ok(const store_binding *b)
{
    return KEYFIELD_OK(b->sponsor) && KEYFIELD_OK(b->beneficiary) &&
           FIELD_OK(b->sponsor_admdvs) && FIELD_OK(b->beneficiary_admdvs);
}

/* The record of db under "sponsor\0beneficiary" (bindings, verifications). */
static gj_err pair_get(store_txn *txn, int db, const char *sponsor, const char *beneficiary, void *out,
                       size_t size)
{
    gj_err err;
    char key[PAIR_KEY_MAX];
    if ((err = st_txn_readable(txn)) != GJ_OK)
        return err;
    if (!key_ok(sponsor, GJ_PSN_NO_MAX) || !key_ok(beneficiary, GJ_PSN_NO_MAX) || out == NULL)
        return GJ_ERR_INVAL;
    size_t klen = st_pair_key(key, sponsor, beneficiary);
    return st_get_rec(txn, db, key, klen, out, size);
}

gj_err store_binding_get(store_txn *txn, const char *sponsor, const char *beneficiary,
                         store_binding *out)
{
    return pair_get(txn, DB_BIND_SPONSOR, sponsor, beneficiary, out, sizeof *out);
}

gj_err store_binding_put(store_txn *txn, const store_binding *b)
{
    gj_err err;
    char key[PAIR_KEY_MAX];
    if ((err = st_txn_writable(txn)) != GJ_OK)
        return err;
    if (b == NULL || !binding_ok(b))
        return GJ_ERR_INVAL;
    size_t klen = st_pair_key(key, b->sponsor, b->beneficiary);
    if ((err = st_put_rec(txn, DB_BIND_SPONSOR, key, klen, b, sizeof *b, 0)) != GJ_OK)
        return err;
    klen = st_pair_key(key, b->beneficiary, b->sponsor);
    return st_put_rec(txn, DB_BIND_BENEFICIARY, key, klen, b, sizeof *b, 0);
}

/* ---- verifications (R18) ---- */

gj_err store_verification_put(store_txn *txn, const store_verification *v)
{
    gj_err err;
    char key[PAIR_KEY_MAX];
    if ((err = st_txn_writable(txn)) != GJ_OK)
        return err;
    if (v == NULL || !KEYFIELD_OK(v->sponsor) || !KEYFIELD_OK(v->beneficiary) || !FIELD_OK(v->attester) ||
        !FIELD_OK(v->method))
        return GJ_ERR_INVAL;
    size_t klen = st_pair_key(key, v->sponsor, v->beneficiary);
    return st_put_rec(txn, DB_VERIFICATIONS, key, klen, v, sizeof *v, 0);
}

gj_err store_verification_get(store_txn *txn, const char *sponsor, const char *beneficiary,
                              store_verification *out)
{
    return pair_get(txn, DB_VERIFICATIONS, sponsor, beneficiary, out, sizeof *out);
}

/* ---- freezes (R21) ---- */

/* "T\0psn_no" or "P\0sponsor\0beneficiary". */
static size_t freeze_key(char *key, char target, const char *psn_no, const char *beneficiary)
{
    key[0] = target;
    key[1] = '\0';
    size_t len = 2 + st_pair_key(key + 2, psn_no, target == 'P' ? beneficiary : "");
    return target == 'P' ? len : len - 1; /* no trailing separator for one person */
}

gj_err store_freeze_put(store_txn *txn, const store_freeze *f)
{
    gj_err err;
    char key[2 + PAIR_KEY_MAX];
    if ((err = st_txn_writable(txn)) != GJ_OK)
        return err;
    if (f == NULL || (f->target != 'S' && f->target != 'B' && f->target != 'P') || !KEYFIELD_OK(f->psn_no) ||
        !FIELD_OK(f->beneficiary) || (f->target == 'P' && f->beneficiary[0] == '\0') || !FIELD_OK(f->frozen_by) ||
        !FIELD_OK(f->reason) || !FIELD_OK(f->lifted_by))
        return GJ_ERR_INVAL;
    size_t klen = freeze_key(key, f->target, f->psn_no, f->beneficiary);
    return st_put_rec(txn, DB_FREEZES, key, klen, f, sizeof *f, 0);
}

gj_err store_freeze_get(store_txn *txn, char target, const char *psn_no, const char *beneficiary,
                        store_freeze *out)
{
    gj_err err;
    char key[2 + PAIR_KEY_MAX];
    if ((err = st_txn_readable(txn)) != GJ_OK)
        return err;
    if ((target != 'S' && target != 'B' && target != 'P') || !key_ok(psn_no, GJ_PSN_NO_MAX) ||
        (target == 'P' && !key_ok(beneficiary, GJ_PSN_NO_MAX)) || out == NULL)
        return GJ_ERR_INVAL;
    size_t klen = freeze_key(key, target, psn_no, beneficiary);
    return st_get_rec(txn, DB_FREEZES, key, klen, out, sizeof *out);
}

/* Every record whose key starts with "psn_no\0", in key order. */
static gj_err binding_list(store_txn *txn, int db, const char *psn_no, store_binding *out,
                           size_t max, size_t *count)
{
    gj_err err;
    MDB_cursor *c;
    char prefix[GJ_PSN_NO_MAX + 1];
    size_t n = 0;

    if ((err = st_txn_readable(txn)) != GJ_OK)
        return err;
    if (!key_ok(psn_no, GJ_PSN_NO_MAX) || count == NULL || (max > 0 && out == NULL))
        return GJ_ERR_INVAL;
    *count = 0;
    size_t plen = strlen(psn_no) + 1;
    memcpy(prefix, psn_no, plen);
    if ((err = st_map_err(mdb_cursor_open(txn->txn, txn->s->dbi[db], &c))) != GJ_OK)
        return err;
    MDB_val k = {plen, prefix}, v;
    int rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
    while (rc == 0 && k.mv_size >= plen && memcmp(k.mv_data, prefix, plen) == 0) {
        if (n == max) {
            err = GJ_ERR_TOOBIG;
            break;
        }
        if (v.mv_size != sizeof *out) {
            err = GJ_ERR_CORRUPT;
            break;
        }
        memcpy(&out[n++], v.mv_data, sizeof *out);
        rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
    }
    if (err == GJ_OK && rc != 0 && rc != MDB_NOTFOUND)
        err = st_map_err(rc);
    mdb_cursor_close(c);
    *count = n;
    return err;
}

gj_err store_binding_list_by_sponsor(store_txn *txn, const char *psn_no, store_binding *out,
                                     size_t max, size_t *count)
{
    return binding_list(txn, DB_BIND_SPONSOR, psn_no, out, max, count);
}

gj_err store_binding_list_by_beneficiary(store_txn *txn, const char *psn_no, store_binding *out,
                                         size_t max, size_t *count)
{
    return binding_list(txn, DB_BIND_BENEFICIARY, psn_no, out, max, count);
}

uint64_t store_binding_count(store_txn *txn)
{
    return st_db_entries(txn, DB_BIND_SPONSOR);
}

/* ---- deduction orders ---- */

gj_err store_order_get(store_txn *txn, const char *beneficiary, store_order *out)
{
    gj_err err;
    if ((err = st_txn_readable(txn)) != GJ_OK)
        return err;
    if (!key_ok(beneficiary, GJ_PSN_NO_MAX) || out == NULL)
        return GJ_ERR_INVAL;
    err = st_get_rec(txn, DB_ORDERS, beneficiary, strlen(beneficiary), out, sizeof *out);
    if (err == GJ_ERR_NOTFOUND) {
        memset(out, 0, sizeof *out);
        return GJ_OK;
    }
    if (err == GJ_OK && out->count > GJ_SPONSORS_MAX) {
        memset(out, 0, sizeof *out); /* never hand out a count that overruns sponsors[] */
        return GJ_ERR_CORRUPT;
    }
    return err;
}

gj_err store_order_put(store_txn *txn, const char *beneficiary, const store_order *order)
{
    gj_err err;
    if ((err = st_txn_writable(txn)) != GJ_OK)
        return err;
    if (!key_ok(beneficiary, GJ_PSN_NO_MAX) || order == NULL || order->count > GJ_SPONSORS_MAX)
        return GJ_ERR_INVAL;
    for (uint32_t i = 0; i < order->count; i++)
        if (!KEYFIELD_OK(order->sponsors[i].psn_no) || !FIELD_OK(order->sponsors[i].admdvs))
            return GJ_ERR_INVAL;
    return st_put_rec(txn, DB_ORDERS, beneficiary, strlen(beneficiary), order, sizeof *order, 0);
}
