/* gongji store: idempotency records. The first answer given to (caller_id, call_id)
 * is kept with the digest of the request it answered, so a retry gets the same
 * answer and a different request under the same call_id can be told apart. */
#include "store_internal.h"

#include <stdlib.h>

/* idem value header: the request's 16-byte digest, big-endian uint32 reply length. */
#define IDEM_HDR (STORE_DIGEST_LEN + 4)
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
    if (v.mv_size < IDEM_HDR || v.mv_size - IDEM_HDR != get_be32(p + STORE_DIGEST_LEN))
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

/* Insert only: the first answer stands; a second put gets GJ_ERR_EXISTS. */
static gj_err idem_write(store_txn *txn, const char *caller_id, const char *call_id,
                         const store_digest *request_digest, const void *reply, size_t reply_len, unsigned flags)
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
    put_be32(p + STORE_DIGEST_LEN, (uint32_t)reply_len);
    if (reply_len > 0)
        memcpy(p + IDEM_HDR, reply, reply_len);
    return GJ_OK;
}

gj_err store_idem_put(store_txn *txn, const char *caller_id, const char *call_id,
                      const store_digest *request_digest, const void *reply, size_t reply_len)
{
    if (request_digest == NULL)
        return GJ_ERR_INVAL;
    return idem_write(txn, caller_id, call_id, request_digest, reply, reply_len, MDB_NOOVERWRITE);
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
    return idem_write(txn, caller_id, call_id, request_digest, reply, reply_len, 0);
}
