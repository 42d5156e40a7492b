/* gongji store: clearing entries and windows (R16). Every cross-region payment,
 * premium and refund is one entry in the window of its date; a closed window refuses
 * new entries and deletes, and store_window_first_open finds where a late one goes. */
#include "store_internal.h"

#include "gj_util.h"

/* store_window_first_open looks at most this many days (ten years) ahead. */
#define WINDOW_SEARCH_DAYS 3660

/* ---- clearing and windows ---- */

static bool clearing_ok(const store_clearing *e)
{
    if (!gj_date_valid(e->window) || !st_admdvs_ok(e->counterparty) || !KEYFIELD_OK(e->setl_id) ||
        !KEYFIELD_OK(e->sponsor) || !KEYFIELD_OK(e->beneficiary) ||
        e->kind < STORE_CLR_PAYMENT || e->kind > STORE_CLR_REFUND ||
        e->direction < STORE_CLR_OWED_TO_US || e->direction > STORE_CLR_WE_OWE ||
        e->amount == 0 || e->amount > GJ_AMOUNT_MAX || e->amount < -GJ_AMOUNT_MAX)
        return false;
    /* A refund row reverses a payment: it alone is negative. */
    return (e->kind == STORE_CLR_REFUND) == (e->amount < 0);
}

/* Big-endian window (dates are positive, so bytes sort like numbers), the counterparty's
 * GJ_ADMDVS_LEN digits, setl_id, '\0' (keeps "S1" apart from "S10"), big-endian leg,
 * kind. counterparty must be exactly GJ_ADMDVS_LEN digits and setl_id valid. */
static size_t clearing_key(unsigned char *buf, int32_t window, const char *counterparty,
                           const char *setl_id, uint32_t leg, uint8_t kind)
{
    size_t n = strlen(setl_id);
    put_be32(buf, (uint32_t)window);
    memcpy(buf + 4, counterparty, GJ_ADMDVS_LEN);
    unsigned char *p = buf + 4 + GJ_ADMDVS_LEN;
    memcpy(p, setl_id, n);
    p += n;
    p[0] = '\0';
    put_be32(p + 1, leg);
    p[5] = kind;
    return 4 + GJ_ADMDVS_LEN + n + 6;
}

/* windows value: stored as is, like every record. Only closing ever writes one. */
struct window_rec {
    uint8_t state; /* store_window_state */
    int64_t closed_unix_ms;
};

/* A window's record; one never written reads as OPEN. window must be valid. */
static gj_err window_read(store_txn *t, int32_t window, struct window_rec *out)
{
    unsigned char key[4];
    put_be32(key, (uint32_t)window);
    gj_err err = st_get_rec(t, DB_WINDOWS, key, sizeof key, out, sizeof *out);
    if (err == GJ_ERR_NOTFOUND) {
        memset(out, 0, sizeof *out);
        out->state = STORE_WINDOW_OPEN;
        return GJ_OK;
    }
    if (err == GJ_OK && (out->state < STORE_WINDOW_OPEN || out->state > STORE_WINDOW_CLOSED ||
                         out->closed_unix_ms < 0)) {
        memset(out, 0, sizeof *out);
        return GJ_ERR_CORRUPT;
    }
    return err;
}

/* GJ_OK while window may still change; GJ_ERR_EXISTS once it is closed. */
static gj_err window_writable(store_txn *t, int32_t window)
{
    struct window_rec w;
    gj_err err = window_read(t, window, &w);
    if (err == GJ_OK && w.state == STORE_WINDOW_CLOSED)
        return GJ_ERR_EXISTS;
    return err;
}

gj_err store_clearing_put(store_txn *txn, const store_clearing *entry)
{
    gj_err err;
    unsigned char key[CLEARING_KEY_MAX];
    if ((err = st_txn_writable(txn)) != GJ_OK)
        return err;
    if (entry == NULL || !clearing_ok(entry))
        return GJ_ERR_INVAL;
    if ((err = window_writable(txn, entry->window)) != GJ_OK)
        return err;
    size_t klen = clearing_key(key, entry->window, entry->counterparty, entry->setl_id,
                               entry->leg, entry->kind);
    return st_put_rec(txn, DB_CLEARING, key, klen, entry, sizeof *entry, 0);
}

gj_err store_clearing_delete(store_txn *txn, int32_t window, const char *counterparty,
                             const char *setl_id, uint32_t leg, uint8_t kind)
{
    gj_err err;
    unsigned char key[CLEARING_KEY_MAX];
    if ((err = st_txn_writable(txn)) != GJ_OK)
        return err;
    if (!gj_date_valid(window) || !st_admdvs_ok(counterparty) || !key_ok(setl_id, GJ_SETL_ID_MAX) ||
        kind < STORE_CLR_PAYMENT || kind > STORE_CLR_REFUND)
        return GJ_ERR_INVAL;
    if ((err = window_writable(txn, window)) != GJ_OK)
        return err;
    return st_del_key(txn, DB_CLEARING, key, clearing_key(key, window, counterparty, setl_id, leg, kind));
}

struct clearing_scan {
    store_clearing_fn fn;
    void *arg;
};

/* A stored entry: valid and filed under its own key. */
static gj_err visit_clearing(store_txn *t, const MDB_val *k, const MDB_val *v, void *ctx,
                             bool *more)
{
    struct clearing_scan *cs = ctx;
    store_clearing e;
    unsigned char key[CLEARING_KEY_MAX];
    (void)t;
    if (v->mv_size != sizeof e)
        return GJ_ERR_CORRUPT;
    memcpy(&e, v->mv_data, sizeof e);
    if (!clearing_ok(&e) ||
        clearing_key(key, e.window, e.counterparty, e.setl_id, e.leg, e.kind) != k->mv_size ||
        memcmp(key, k->mv_data, k->mv_size) != 0)
        return GJ_ERR_CORRUPT;
    *more = cs->fn(&e, cs->arg);
    return GJ_OK;
}

gj_err store_clearing_scan(store_txn *txn, int32_t window, const char *counterparty,
                           store_clearing_fn fn, void *arg)
{
    gj_err err;
    unsigned char prefix[4 + GJ_ADMDVS_LEN];
    size_t plen = 4;
    struct clearing_scan cs = {fn, arg};
    if ((err = st_txn_readable(txn)) != GJ_OK)
        return err;
    if (!gj_date_valid(window) || counterparty == NULL || fn == NULL ||
        (counterparty[0] != '\0' && !st_admdvs_ok(counterparty)))
        return GJ_ERR_INVAL;
    put_be32(prefix, (uint32_t)window);
    if (counterparty[0] != '\0') {
        memcpy(prefix + 4, counterparty, GJ_ADMDVS_LEN);
        plen += GJ_ADMDVS_LEN;
    }
    return st_scan_db(txn, DB_CLEARING, prefix, plen, visit_clearing, &cs);
}

gj_err store_window_get(store_txn *txn, int32_t window, uint8_t *state, int64_t *closed_unix_ms)
{
    gj_err err;
    struct window_rec w;
    if ((err = st_txn_readable(txn)) != GJ_OK)
        return err;
    if (!gj_date_valid(window))
        return GJ_ERR_INVAL;
    if ((err = window_read(txn, window, &w)) != GJ_OK)
        return err;
    if (state != NULL)
        *state = w.state;
    if (closed_unix_ms != NULL)
        *closed_unix_ms = w.closed_unix_ms;
    return GJ_OK;
}

gj_err store_window_close(store_txn *txn, int32_t window, int64_t unix_ms)
{
    gj_err err;
    struct window_rec w;
    unsigned char key[4];
    if ((err = st_txn_writable(txn)) != GJ_OK)
        return err;
    if (!gj_date_valid(window) || unix_ms < 0)
        return GJ_ERR_INVAL;
    if ((err = window_read(txn, window, &w)) != GJ_OK)
        return err;
    if (w.state == STORE_WINDOW_CLOSED)
        return GJ_OK; /* closed once, when it first was */
    memset(&w, 0, sizeof w); /* no stray padding bytes on disk */
    w.state = STORE_WINDOW_CLOSED;
    w.closed_unix_ms = unix_ms;
    put_be32(key, (uint32_t)window);
    return st_put_rec(txn, DB_WINDOWS, key, sizeof key, &w, sizeof w, 0);
}

gj_err store_window_first_open(store_txn *txn, int32_t date, int32_t *window)
{
    gj_err err;
    struct window_rec w;
    if ((err = st_txn_readable(txn)) != GJ_OK)
        return err;
    if (!gj_date_valid(date) || window == NULL)
        return GJ_ERR_INVAL;
    *window = 0;
    for (int i = 0; i < WINDOW_SEARCH_DAYS; i++) {
        if ((err = window_read(txn, date, &w)) != GJ_OK)
            return err;
        if (w.state != STORE_WINDOW_CLOSED) {
            *window = date;
            return GJ_OK;
        }
        date = gj_date_next(date);
        if (!gj_date_valid(date))
            break; /* past 9999-12-31 */
    }
    return GJ_ERR_FULL;
}

gj_err store_clearing_scan_after(store_txn *txn, int32_t window, const char *counterparty, const char *after_setl_id,
                                 uint32_t after_leg, uint8_t after_kind, store_clearing_fn fn, void *arg)
{
    gj_err err;
    unsigned char prefix[4 + GJ_ADMDVS_LEN], start[4 + GJ_ADMDVS_LEN + GJ_SETL_ID_MAX + 6];
    struct clearing_scan cs = {fn, arg};
    if ((err = st_txn_readable(txn)) != GJ_OK)
        return err;
    if (!gj_date_valid(window) || counterparty == NULL || !st_admdvs_ok(counterparty) || fn == NULL ||
        after_setl_id == NULL || strlen(after_setl_id) > GJ_SETL_ID_MAX)
        return GJ_ERR_INVAL;
    put_be32(prefix, (uint32_t)window);
    memcpy(prefix + 4, counterparty, GJ_ADMDVS_LEN);
    if (after_setl_id[0] == '\0')
        return st_scan_db(txn, DB_CLEARING, prefix, sizeof prefix, visit_clearing, &cs);
    size_t slen = clearing_key(start, window, counterparty, after_setl_id, after_leg, after_kind);
    return st_scan_range(txn, DB_CLEARING, start, slen, true, prefix, sizeof prefix, visit_clearing, &cs);
}

gj_err store_window_first_unclosed(store_txn *txn, int32_t before, int32_t *window)
{
    gj_err err;
    if ((err = st_txn_readable(txn)) != GJ_OK)
        return err;
    if (!gj_date_valid(before) || window == NULL)
        return GJ_ERR_INVAL;
    MDB_cursor *c;
    if ((err = st_map_err(mdb_cursor_open(txn->txn, txn->s->dbi[DB_CLEARING], &c))) != GJ_OK)
        return err;
    MDB_val k, v;
    int rc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
    err = GJ_ERR_NOTFOUND;
    /* Rows sort by window: look at each window's first row, then jump past it. */
    for (int windows = 0; rc == 0 && windows < WINDOW_SEARCH_DAYS; windows++) {
        if (k.mv_size < 4) {
            err = GJ_ERR_CORRUPT;
            break;
        }
        int32_t w = (int32_t)get_be32(k.mv_data);
        if (!gj_date_valid(w)) {
            err = GJ_ERR_CORRUPT;
            break;
        }
        if (w >= before)
            break;
        struct window_rec rec;
        if ((err = window_read(txn, w, &rec)) != GJ_OK)
            break;
        if (rec.state != STORE_WINDOW_CLOSED) {
            *window = w;
            break;
        }
        err = GJ_ERR_NOTFOUND;
        unsigned char next[4];
        put_be32(next, (uint32_t)gj_date_next(w));
        k.mv_size = sizeof next;
        k.mv_data = next;
        rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
    }
    if (rc != 0 && rc != MDB_NOTFOUND)
        err = st_map_err(rc);
    mdb_cursor_close(c);
    return err;
}
