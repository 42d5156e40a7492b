/* gongji store: idempotency records. The first answer given to (caller_id, call_id)
 * is kept with the digest of the request it answered, so a retry gets the same
 * answer and a different request under the same call_id can be told apart. Each record
 * is also indexed by when it was written, so records older than the node's retention
 * are pruned a few at a time (store_idem_prune). */
#include "store_internal.h"

#include "gj_util.h"

#include <stdlib.h>
#include <string.h>

/* idem value header: the request's 16-byte digest, big-endian uint32 reply length,
 * big-endian uint64 unix ms written. */
#define IDEM_LEN_AT STORE_DIGEST_LEN
#define IDEM_TIME_AT (STORE_DIGEST_LEN + 4)
#define IDEM_HDR (STORE_DIGEST_LEN + 4 + 8)
/* A reply is sent in one message, so it can never usefully exceed one. */
#define IDEM_REPLY_MAX GJ_MSG_HARD_MAX
#define IDEM_KEY_MAX (GJ_CALLER_ID_MAX + 1 + GJ_CALL_ID_MAX)

/* ---- idempotency ---- */

static bool idem_key(char *buf, size_t *len, const char *caller_id, const char *call_id)
{
    if (!key_ok(caller_id, GJ_CALLER_ID_MAX) || !key_ok(call_id, GJ_CALL_ID_MAX))
        return false;
    *len = st_pair_key(buf, caller_id, call_id);
    return true;
}

const store_digest store_tombstone = {{0}};

bool store_digest_equal(const store_digest *a, const store_digest *b)
{
    return memcmp(a->bytes, b->bytes, STORE_DIGEST_LEN) == 0;
}

gj_err store_idem_get(store_txn *txn, const char *caller_id, const char *call_id,
                      store_digest *request_digest, const void **reply, size_t *reply_len)
{
    gj_err err;
    char key[IDEM_KEY_MAX];
    size_t klen;

    if ((err = st_txn_readable(txn)) != GJ_OK)
        return err;
    if (!idem_key(key, &klen, caller_id, call_id))
        return GJ_ERR_INVAL;
    MDB_val k = {klen, key}, v;
    int rc = mdb_get(txn->txn, txn->s->dbi[DB_IDEM], &k, &v);
    if (rc != 0)
        return st_map_err(rc);
    const unsigned char *p = v.mv_data;
    if (v.mv_size < IDEM_HDR || v.mv_size - IDEM_HDR != get_be32(p + IDEM_LEN_AT))
        return GJ_ERR_CORRUPT;
    size_t len = v.mv_size - IDEM_HDR;
    const void *bytes = p + IDEM_HDR;
    if (txn->writable && reply != NULL) {
        struct idem_copy *copy = malloc(sizeof *copy + len + 1);
        if (copy == NULL)
            return GJ_ERR_NOMEM;
        memcpy(copy->bytes, bytes, len);
        copy->next = txn->copies;
        txn->copies = copy;
        bytes = copy->bytes;
    }
    if (request_digest != NULL)
        memcpy(request_digest->bytes, p, STORE_DIGEST_LEN);
    if (reply != NULL)
        *reply = bytes;
    if (reply_len != NULL)
        *reply_len = len;
    return GJ_OK;
}

/* The time index: BE64 unix ms, then the record's key. */
static size_t time_key(unsigned char *buf, uint64_t unix_ms, const char *key, size_t klen)
{
    put_be64(buf, unix_ms);
    memcpy(buf + 8, key, klen);
    return klen + 8;
}

/* MDB_NOOVERWRITE: insert only (the first answer stands; a second put gets
 * GJ_ERR_EXISTS), indexed by unix_ms; 0: replace, keeping the time it was first written. */
static gj_err idem_write(store_txn *txn, const char *caller_id, const char *call_id,
                         const store_digest *request_digest, const void *reply, size_t reply_len, unsigned flags,
                         uint64_t unix_ms)
{
    gj_err err;
    char key[IDEM_KEY_MAX];
    size_t klen;

    if ((err = st_txn_writable(txn)) != GJ_OK)
        return err;
    if (!idem_key(key, &klen, caller_id, call_id) || (reply == NULL && reply_len > 0))
        return GJ_ERR_INVAL;
    if (reply_len > IDEM_REPLY_MAX)
        return GJ_ERR_TOOBIG;
    MDB_val k = {klen, key}, v = {IDEM_HDR + reply_len, NULL};
    /* MDB_RESERVE: build the value in place instead of in a temporary buffer. */
    if ((err = st_put_val(txn, DB_IDEM, &k, &v, flags | MDB_RESERVE)) != GJ_OK)
        return err;
    unsigned char *p = v.mv_data;
    memcpy(p, request_digest->bytes, STORE_DIGEST_LEN);
    put_be32(p + IDEM_LEN_AT, (uint32_t)reply_len);
    put_be64(p + IDEM_TIME_AT, unix_ms);
    if (reply_len > 0)
        memcpy(p + IDEM_HDR, reply, reply_len);
    if (!(flags & MDB_NOOVERWRITE))
        return GJ_OK; /* a replacement: indexed already, under its first time */
    unsigned char tkey[8 + IDEM_KEY_MAX];
    return st_put_rec(txn, DB_IDEM_TIME, tkey, time_key(tkey, unix_ms, key, klen), "", 0, 0);
}

gj_err store_idem_put(store_txn *txn, const char *caller_id, const char *call_id,
                      const store_digest *request_digest, const void *reply, size_t reply_len)
{
    if (request_digest == NULL)
        return GJ_ERR_INVAL;
    return idem_write(txn, caller_id, call_id, request_digest, reply, reply_len, MDB_NOOVERWRITE,
                      (uint64_t)gj_now_unix_ms());
}

gj_err store_idem_replace(store_txn *txn, const char *caller_id, const char *call_id,
                          const store_digest *request_digest, const void *reply, size_t reply_len)
{
    store_digest first;
    const void *old;
    size_t old_len;
    if (request_digest == NULL)
        return GJ_ERR_INVAL;
    gj_err err = store_idem_get(txn, caller_id, call_id, &first, &old, &old_len);
    if (err != GJ_OK)
        return err;
    /* When it was first written, from the record's own header (checked by the get). */
    char key[IDEM_KEY_MAX];
    size_t klen;
    if (!idem_key(key, &klen, caller_id, call_id))
        return GJ_ERR_INVAL;
    MDB_val k = {klen, key}, v;
    if (mdb_get(txn->txn, txn->s->dbi[DB_IDEM], &k, &v) != 0 || v.mv_size < IDEM_HDR)
        return GJ_ERR_CORRUPT;
    uint64_t written = get_be64((const unsigned char *)v.mv_data + IDEM_TIME_AT);
    return idem_write(txn, caller_id, call_id, request_digest, reply, reply_len, 0, written);
}

typedef struct prune_state {
    uint64_t before_ms;
    size_t max, pruned;
} prune_state;

static gj_err visit_expired(store_txn *t, const MDB_val *k, const MDB_val *v, void *ctx, bool *more)
{
    prune_state *ps = ctx;
    (void)v;
    if (k->mv_size <= 8 || get_be64(k->mv_data) >= ps->before_ms || ps->pruned >= ps->max) {
        *more = false;
        return GJ_OK;
    }
    gj_err err = st_del_rec(t, DB_IDEM, (const unsigned char *)k->mv_data + 8, k->mv_size - 8);
    if (err == GJ_OK)
        err = st_del_rec(t, DB_IDEM_TIME, k->mv_data, k->mv_size);
    ps->pruned += err == GJ_OK;
    return err;
}

gj_err store_idem_prune(store_txn *txn, int64_t before_unix_ms, size_t max, size_t *pruned)
{
    gj_err err;
    if ((err = st_txn_writable(txn)) != GJ_OK)
        return err;
    if (pruned == NULL || before_unix_ms < 0)
        return GJ_ERR_INVAL;
    prune_state ps = {.before_ms = (uint64_t)before_unix_ms, .max = max};
    err = st_scan_db(txn, DB_IDEM_TIME, NULL, 0, visit_expired, &ps);
    *pruned = ps.pruned;
    return err;
}

uint64_t store_idem_count(store_txn *txn)
{
    return st_db_entries(txn, DB_IDEM);
}
