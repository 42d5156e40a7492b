/* Wallets (R24): which account is a relative's wallet, the transfers into it, and the
 * index of those still PENDING. The `wallets` tree holds both: "@relative" -> the
 * wallet's id, and setl_id -> the transfer (no setl_id starts with '@'). */
#include "store_internal.h"
#include "gj_util.h"

#include <string.h>

static bool transfer_ok(const store_wallet_transfer *t)
{
    return KEYFIELD_OK(t->setl_id) && t->setl_id[0] != '@' && KEYFIELD_OK(t->relative) &&
           KEYFIELD_OK(t->wallet_id) && gj_is_wallet_id(t->wallet_id) && KEYFIELD_OK(t->sponsor) &&
           st_admdvs_ok(t->sponsor_admdvs) && t->amount > 0 && t->amount <= GJ_AMOUNT_MAX &&
           t->state >= STORE_WALLET_PENDING && t->state <= STORE_WALLET_RETURNED;
}

gj_err store_wallet_transfer_put(store_txn *txn, const store_wallet_transfer *t)
{
    gj_err err;
    if ((err = st_txn_writable(txn)) != GJ_OK)
        return err;
    if (t == NULL || !transfer_ok(t))
        return GJ_ERR_INVAL;
    size_t klen = strlen(t->setl_id);
    if ((err = st_put_rec(txn, DB_WALLETS, t->setl_id, klen, t, sizeof *t, 0)) != GJ_OK)
        return err;
    if (t->state == STORE_WALLET_PENDING)
        return st_put_rec(txn, DB_WALLET_PENDING, t->setl_id, klen, "", 0, 0);
    return st_del_rec(txn, DB_WALLET_PENDING, t->setl_id, klen);
}

gj_err store_wallet_transfer_get(store_txn *txn, const char *setl_id, store_wallet_transfer *out)
{
    gj_err err;
    if ((err = st_txn_readable(txn)) != GJ_OK)
        return err;
    if (!key_ok(setl_id, GJ_SETL_ID_MAX) || setl_id[0] == '@' || out == NULL)
        return GJ_ERR_INVAL;
    if ((err = st_get_rec(txn, DB_WALLETS, setl_id, strlen(setl_id), out, sizeof *out)) != GJ_OK)
        return err;
    return transfer_ok(out) ? GJ_OK : GJ_ERR_CORRUPT;
}

struct pending_scan {
    store_wallet_transfer_fn fn;
    void *arg;
};

static gj_err visit_pending(store_txn *t, const MDB_val *k, const MDB_val *v, void *ctx, bool *more)
{
    struct pending_scan *ps = ctx;
    char setl_id[GJ_SETL_ID_MAX + 1];
    store_wallet_transfer w;
    if (v->mv_size != 0 || k->mv_size == 0 || k->mv_size > GJ_SETL_ID_MAX)
        return GJ_ERR_CORRUPT;
    memcpy(setl_id, k->mv_data, k->mv_size);
    setl_id[k->mv_size] = '\0';
    /* The index is only keys; the transfer it names must exist and be PENDING. */
    gj_err err = store_wallet_transfer_get(t, setl_id, &w);
    if (err == GJ_ERR_NOTFOUND || (err == GJ_OK && w.state != STORE_WALLET_PENDING))
        return GJ_ERR_CORRUPT;
    if (err == GJ_OK)
        *more = ps->fn(&w, ps->arg);
    return err;
}

gj_err store_wallet_pending_scan(store_txn *txn, store_wallet_transfer_fn fn, void *arg)
{
    gj_err err;
    struct pending_scan ps = {fn, arg};
    if ((err = st_txn_readable(txn)) != GJ_OK)
        return err;
    if (fn == NULL)
        return GJ_ERR_INVAL;
    return st_scan_db(txn, DB_WALLET_PENDING, NULL, 0, visit_pending, &ps);
}

static size_t relative_key(char *key, const char *relative)
{
    key[0] = '@';
    size_t len = strlen(relative);
    memcpy(key + 1, relative, len);
    return len + 1;
}

gj_err store_wallet_of(store_txn *txn, const char *relative, char wallet_id[GJ_PSN_NO_MAX + 1])
{
    gj_err err;
    char key[GJ_PSN_NO_MAX + 2];
    if ((err = st_txn_readable(txn)) != GJ_OK)
        return err;
    if (!key_ok(relative, GJ_PSN_NO_MAX) || wallet_id == NULL)
        return GJ_ERR_INVAL;
    if ((err = st_get_rec(txn, DB_WALLETS, key, relative_key(key, relative), wallet_id, GJ_PSN_NO_MAX + 1)) !=
        GJ_OK)
        return err;
    return memchr(wallet_id, '\0', GJ_PSN_NO_MAX + 1) != NULL && gj_is_wallet_id(wallet_id) ? GJ_OK
                                                                                           : GJ_ERR_CORRUPT;
}

gj_err store_wallet_set(store_txn *txn, const char *relative, const char *wallet_id)
{
    gj_err err;
    char key[GJ_PSN_NO_MAX + 2], val[GJ_PSN_NO_MAX + 1] = {0};
    if ((err = st_txn_writable(txn)) != GJ_OK)
        return err;
    if (!key_ok(relative, GJ_PSN_NO_MAX) || !key_ok(wallet_id, GJ_PSN_NO_MAX) || !gj_is_wallet_id(wallet_id))
        return GJ_ERR_INVAL;
    memcpy(val, wallet_id, strlen(wallet_id));
    return st_put_rec(txn, DB_WALLETS, key, relative_key(key, relative), val, sizeof val, 0);
}
