/* gongji store: record access every family shares. LMDB return codes become gj_err
 * here and nowhere else; a write that fails marks its transaction broken so the
 * writer never commits it; scans walk a key range in a way that lets their callback
 * write to the same transaction. */
#include "store_internal.h"

#include "gj_util.h"

#include <errno.h>

gj_err st_map_err(int rc)
{
    switch (rc) {
    case MDB_SUCCESS: return GJ_OK;
    case MDB_NOTFOUND: return GJ_ERR_NOTFOUND;
    case MDB_KEYEXIST: return GJ_ERR_EXISTS;
    case MDB_MAP_FULL:
    case MDB_TXN_FULL:
    case MDB_READERS_FULL: return GJ_ERR_FULL;
    case MDB_CORRUPTED:
    case MDB_VERSION_MISMATCH:
    case MDB_INVALID: return GJ_ERR_CORRUPT;
    case ENOMEM: return GJ_ERR_NOMEM;
    case ENOSPC:
    case EDQUOT: return GJ_ERR_DISK_FULL;
    default: return GJ_ERR_IO;
    }
}

gj_err st_txn_readable(const store_txn *t)
{
    if (t == NULL || t->txn == NULL)
        return GJ_ERR_INVAL;
    return t->broken;
}

gj_err st_txn_writable(const store_txn *t)
{
    if (t == NULL || t->txn == NULL || !t->writable)
        return GJ_ERR_INVAL;
    return t->broken;
}

size_t st_pair_key(char *buf, const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    memcpy(buf, a, la);
    buf[la] = '\0';
    memcpy(buf + la + 1, b, lb);
    return la + 1 + lb;
}

gj_err st_get_rec(store_txn *t, int db, const void *key, size_t klen, void *out, size_t size)
{
    MDB_val k = {klen, (void *)key}, v;
    int rc = mdb_get(t->txn, t->s->dbi[db], &k, &v);
    if (rc != 0)
        return st_map_err(rc);
    if (v.mv_size != size)
        return GJ_ERR_CORRUPT;
    memcpy(out, v.mv_data, size);
    return GJ_OK;
}

gj_err st_put_val(store_txn *t, int db, MDB_val *k, MDB_val *v, unsigned flags)
{
    int rc = mdb_put(t->txn, t->s->dbi[db], k, v, flags);
    if (rc == 0)
        return GJ_OK;
    gj_err err = st_map_err(rc);
    /* KEYEXIST is checked before anything changes; every other failure may have
     * left the txn half-modified and LMDB refuses it from then on. */
    if (rc != MDB_KEYEXIST)
        t->broken = err;
    return err;
}

gj_err st_put_rec(store_txn *t, int db, const void *key, size_t klen, const void *val,
                  size_t size, unsigned flags)
{
    MDB_val k = {klen, (void *)key}, v = {size, (void *)val};
    return st_put_val(t, db, &k, &v, flags);
}

gj_err st_del_key(store_txn *t, int db, const void *key, size_t klen)
{
    MDB_val k = {klen, (void *)key};
    int rc = mdb_del(t->txn, t->s->dbi[db], &k, NULL);
    if (rc == 0)
        return GJ_OK;
    gj_err err = st_map_err(rc);
    /* As in st_put_val: anything but NOTFOUND may have half-modified the txn. */
    if (rc != MDB_NOTFOUND)
        t->broken = err;
    return err;
}

gj_err st_del_rec(store_txn *t, int db, const void *key, size_t klen)
{
    gj_err err = st_del_key(t, db, key, klen);
    return err == GJ_ERR_NOTFOUND ? GJ_OK : err;
}

uint64_t st_db_entries(store_txn *t, int db)
{
    MDB_stat st;
    if (st_txn_readable(t) != GJ_OK || mdb_stat(t->txn, t->s->dbi[db], &st) != 0)
        return 0;
    return st.ms_entries;
}

bool st_admdvs_ok(const char *a)
{
    return gj_all_digits(a, GJ_ADMDVS_LEN) && a[GJ_ADMDVS_LEN] == '\0';
}

gj_err st_scan_range(store_txn *t, int db, const void *start, size_t slen, bool after_start,
                     const void *prefix, size_t plen, st_entry_fn visit, void *ctx)
{
    MDB_cursor *c;
    MDB_val k = {slen, (void *)start}, v;
    unsigned char last[SCAN_KEY_MAX];
    bool more = true;
    gj_err err = st_map_err(mdb_cursor_open(t->txn, t->s->dbi[db], &c));
    if (err != GJ_OK)
        return err;
    int rc = mdb_cursor_get(c, &k, &v, slen > 0 ? MDB_SET_RANGE : MDB_FIRST);
    if (rc == 0 && after_start && slen > 0 && k.mv_size == slen && memcmp(k.mv_data, start, slen) == 0)
        rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
    while (rc == 0) {
        size_t len = k.mv_size;
        if (plen > 0 && (len < plen || memcmp(k.mv_data, prefix, plen) != 0))
            break; /* past the prefix */
        if (len > sizeof last) {
            err = GJ_ERR_CORRUPT;
            break;
        }
        memcpy(last, k.mv_data, len); /* a write may move what k points at */
        if ((err = visit(t, &k, &v, ctx, &more)) != GJ_OK || !more)
            break;
        if ((err = t->broken) != GJ_OK)
            break; /* the callback's write failed; LMDB refuses the txn from now on */
        k.mv_size = len;
        k.mv_data = last;
        rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
        if (rc == 0 && k.mv_size == len && memcmp(k.mv_data, last, len) == 0)
            rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
    }
    if (err == GJ_OK && rc != 0 && rc != MDB_NOTFOUND)
        err = st_map_err(rc);
    mdb_cursor_close(c);
    return err;
}

gj_err st_scan_db(store_txn *t, int db, const void *prefix, size_t plen, st_entry_fn visit,
                  void *ctx)
{
    return st_scan_range(t, db, prefix, plen, false, prefix, plen, visit, ctx);
}
