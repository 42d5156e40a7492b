/* gongji store: settlements, spend records and the dated lists over them. A
 * settlement is filed under its setl_id and indexed by patient; a spend record says
 * what one sponsor paid for one relative. Spend records are dated keys in the ledger
 * tree; the patient index is a tree of its own keyed by date first. Both are listed a
 * page at a time with printable cursors. The scan of every settlement (audit) is here
 * too. */
#include "store_internal.h"

#include "gj_util.h"

/* Spend keys after "psn_no\0" and their tag: big-endian date (4), big-endian unix_ms
 * (8), setl_id. Cursors name such a tail, for spend records and the patient index. */
#define SPEND_FIXED 12
#define SPEND_TAIL_MAX (SPEND_FIXED + GJ_SETL_ID_MAX)
#define SPEND_KEY_MAX (GJ_PSN_NO_MAX + 2 + SPEND_TAIL_MAX)

/* Longest cursor: base64url of SPEND_TAIL_MAX bytes, no padding. */
#define CURSOR_MAX ((SPEND_TAIL_MAX * 4 + 2) / 3)

_Static_assert(CURSOR_MAX <= GJ_PAGE_TOKEN_MAX, "a cursor must fit a page token");

/* ---- settlements ---- */

static bool settlement_ok(const store_settlement *st)
{
    /* psn_no, setl_date and unix_ms make the patient index key. */
    if (!KEYFIELD_OK(st->setl_id) || !KEYFIELD_OK(st->psn_no) || !FIELD_OK(st->caller_id) ||
        !FIELD_OK(st->call_id) || st->part_count > GJ_SPONSORS_MAX ||
        st->status < STORE_SETL_COMMITTED || st->status > STORE_SETL_RECOVERED ||
        !gj_date_valid(st->setl_date) || st->unix_ms < 0 ||
        (st->revoke_date != 0 && !gj_date_valid(st->revoke_date)))
        return false;
    for (uint32_t i = 0; i < st->part_count; i++)
        if (!FIELD_OK(st->parts[i].psn_no) || !FIELD_OK(st->parts[i].admdvs))
            return false;
    return true;
}

/* A settlement is stored without the sponsor parts it does not use: the fields before
 * parts[], the fields after it, then part_count parts. Most settlements have one or
 * two parts, and a smaller record is fewer pages for every commit to write. */
#define SETL_HEAD offsetof(store_settlement, parts)
#define SETL_TAIL (sizeof(store_settlement) - offsetof(store_settlement, caller_id))
#define SETL_PART sizeof(((store_settlement *)0)->parts[0])
_Static_assert(offsetof(store_settlement, caller_id) ==
                   offsetof(store_settlement, parts) + sizeof(((store_settlement *)0)->parts),
               "the fields after parts[] start right after it");

static size_t settlement_size(uint32_t part_count)
{
    return SETL_HEAD + SETL_TAIL + part_count * SETL_PART;
}

static void settlement_encode(const store_settlement *st, unsigned char *out)
{
    memcpy(out, st, SETL_HEAD);
    memcpy(out + SETL_HEAD, &st->caller_id, SETL_TAIL);
    memcpy(out + SETL_HEAD + SETL_TAIL, st->parts, st->part_count * SETL_PART);
}

/* A stored settlement: a valid record filed under its own setl_id. */
static gj_err settlement_decode(const MDB_val *k, const MDB_val *v, store_settlement *out)
{
    const unsigned char *in = v->mv_data;
    memset(out, 0, sizeof *out);
    if (v->mv_size < SETL_HEAD + SETL_TAIL)
        return GJ_ERR_CORRUPT;
    memcpy(out, in, SETL_HEAD);
    if (out->part_count > GJ_SPONSORS_MAX || v->mv_size != settlement_size(out->part_count)) {
        memset(out, 0, sizeof *out);
        return GJ_ERR_CORRUPT;
    }
    memcpy(&out->caller_id, in + SETL_HEAD, SETL_TAIL);
    memcpy(out->parts, in + SETL_HEAD + SETL_TAIL, out->part_count * SETL_PART);
    if (!settlement_ok(out) || k->mv_size != strlen(out->setl_id) ||
        memcmp(out->setl_id, k->mv_data, k->mv_size) != 0) {
        memset(out, 0, sizeof *out); /* never hand out a count that overruns parts[] */
        return GJ_ERR_CORRUPT;
    }
    return GJ_OK;
}

static gj_err settlement_read(store_txn *t, const void *key, size_t klen, store_settlement *out)
{
    MDB_val k = {klen, (void *)key}, v;
    int rc = mdb_get(t->txn, t->s->dbi[DB_SETTLEMENTS], &k, &v);
    if (rc != 0)
        return st_map_err(rc);
    return settlement_decode(&k, &v, out);
}

/* owner '\0' tag, big-endian date, big-endian unix_ms, setl_id: the key of spend
 * records (TAG_SPEND) in the ledger tree, sorting just before the owner's account. date and unix_ms must be non-negative (checked
 * by the record's validation), so big-endian bytes sort like the numbers. */
static size_t dated_prefix(unsigned char *buf, const char *owner, char tag)
{
    size_t olen = strlen(owner);
    memcpy(buf, owner, olen);
    buf[olen] = '\0';
    buf[olen + 1] = (unsigned char)tag;
    return olen + 2;
}

static size_t dated_key(unsigned char *buf, const char *owner, char tag, int32_t date,
                        int64_t unix_ms, const char *setl_id)
{
    size_t plen = dated_prefix(buf, owner, tag), slen = strlen(setl_id);
    put_be32(buf + plen, (uint32_t)date);
    put_be64(buf + plen + 4, (uint64_t)unix_ms);
    memcpy(buf + plen + SPEND_FIXED, setl_id, slen);
    return plen + SPEND_FIXED + slen;
}

/* settlements_by_day key: BE uint32 setl_date, psn_no '\0', BE uint64 unix_ms, setl_id.
 * A day's entries lie side by side, so a commit's new ones share a few leaves and the
 * branch pages above them; a person's entries of one day lie together, in time order. */
#define DAY_KEY_MAX (4 + GJ_PSN_NO_MAX + 1 + 8 + GJ_SETL_ID_MAX)

static size_t day_prefix(unsigned char *buf, uint32_t date, const char *psn_no)
{
    size_t n = strlen(psn_no);
    put_be32(buf, date);
    memcpy(buf + 4, psn_no, n);
    buf[4 + n] = '\0';
    return 4 + n + 1;
}

static size_t setl_psn_key(unsigned char *buf, const store_settlement *st)
{
    size_t plen = day_prefix(buf, (uint32_t)st->setl_date, st->psn_no), slen = strlen(st->setl_id);
    put_be64(buf + plen, (uint64_t)st->unix_ms);
    memcpy(buf + plen + 8, st->setl_id, slen);
    return plen + 8 + slen;
}

gj_err store_settlement_put(store_txn *txn, const store_settlement *setl)
{
    gj_err err;
    store_settlement old;
    unsigned char key[DAY_KEY_MAX], old_key[DAY_KEY_MAX];
    size_t old_len = 0;

    if ((err = st_txn_writable(txn)) != GJ_OK)
        return err;
    if (setl == NULL || !settlement_ok(setl))
        return GJ_ERR_INVAL;
    const char *id = setl->setl_id;
    size_t idlen = strlen(id);
    /* A replaced settlement's index key goes if the new one files elsewhere. A damaged
     * old record is refused: its index key cannot be known, so it cannot be kept right. */
    err = settlement_read(txn, id, idlen, &old);
    if (err == GJ_OK)
        old_len = setl_psn_key(old_key, &old);
    else if (err != GJ_ERR_NOTFOUND)
        return err;
    MDB_val k = {idlen, (void *)id}, v = {settlement_size(setl->part_count), NULL};
    /* setl_ids grow, so a new one goes at the end: MDB_APPEND fills pages whole
     * instead of splitting them in half. A replaced record goes where it is. */
    err = st_put_val(txn, DB_SETTLEMENTS, &k, &v, MDB_RESERVE | MDB_APPEND);
    if (err == GJ_ERR_EXISTS)
        err = st_put_val(txn, DB_SETTLEMENTS, &k, &v, MDB_RESERVE);
    if (err != GJ_OK)
        return err;
    settlement_encode(setl, v.mv_data);
    size_t klen = setl_psn_key(key, setl);
    if (old_len > 0 && (old_len != klen || memcmp(old_key, key, klen) != 0) &&
        (err = st_del_rec(txn, DB_SETL_BY_PSN, old_key, old_len)) != GJ_OK)
        return err;
    return st_put_rec(txn, DB_SETL_BY_PSN, key, klen, "", 0, 0);
}

gj_err store_settlement_get(store_txn *txn, const char *setl_id, store_settlement *out)
{
    gj_err err;
    if ((err = st_txn_readable(txn)) != GJ_OK)
        return err;
    if (!key_ok(setl_id, GJ_SETL_ID_MAX) || out == NULL)
        return GJ_ERR_INVAL;
    /* Whatever a put would refuse is damage. */
    return settlement_read(txn, setl_id, strlen(setl_id), out);
}

/* ---- spend records ---- */

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* base64url without padding: printable whatever bytes setl_id holds, and short
 * enough (68 chars for the longest key tail) to fit a page token (GJ_PAGE_TOKEN_MAX). */
static void cursor_encode(const unsigned char *in, size_t n, char *out)
{
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        acc = (acc << 8) | in[i];
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            *out++ = b64url[(acc >> bits) & 63];
        }
        acc &= (1u << bits) - 1;
    }
    if (bits > 0)
        *out++ = b64url[(acc << (6 - bits)) & 63];
    *out = '\0';
}

static int b64url_value(char c)
{
    const char *p = c != '\0' ? strchr(b64url, c) : NULL;
    return p != NULL ? (int)(p - b64url) : -1;
}

/* The key tail a cursor names; false for anything cursor_encode cannot have made
 * from a spend key. */
static bool cursor_decode(const char *text, unsigned char *out, size_t *n_out)
{
    size_t len = strnlen(text, CURSOR_MAX + 1), n = 0;
    uint32_t acc = 0;
    int bits = 0;

    if (len > CURSOR_MAX || len % 4 == 1)
        return false;
    for (size_t i = 0; i < len; i++) {
        int val = b64url_value(text[i]);
        if (val < 0)
            return false;
        acc = (acc << 6) | (uint32_t)val;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[n++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    if (acc != 0) /* leftover bits an encoder would have left zero */
        return false;
    if (n <= SPEND_FIXED || n > SPEND_TAIL_MAX ||
        memchr(out + SPEND_FIXED, '\0', n - SPEND_FIXED) != NULL)
        return false;
    *n_out = n;
    return true;
}

/* A spend record's value holds only what its key does not (sponsor, date, instant and
 * setl_id are there): amount (8 bytes, host order), use, refund, then the beneficiary
 * without its NUL. A quarter of the struct's size, so a sponsor's history takes fewer
 * pages of the ledger. */
#define SPEND_VAL_FIXED 10
#define SPEND_VAL_MAX (SPEND_VAL_FIXED + GJ_PSN_NO_MAX)

static size_t spend_encode(const store_spend *sp, unsigned char *out)
{
    size_t n = strlen(sp->beneficiary);
    memcpy(out, &sp->amount, sizeof sp->amount);
    out[8] = sp->use;
    out[9] = sp->refund;
    memcpy(out + SPEND_VAL_FIXED, sp->beneficiary, n);
    return SPEND_VAL_FIXED + n;
}

static bool spend_ok(const store_spend *sp)
{
    return KEYFIELD_OK(sp->sponsor) && FIELD_OK(sp->beneficiary) && KEYFIELD_OK(sp->setl_id) &&
           gj_date_valid(sp->setl_date) && sp->unix_ms >= 0 && sp->refund <= 1;
}

gj_err store_spend_put(store_txn *txn, const store_spend *spend)
{
    gj_err err;
    unsigned char key[SPEND_KEY_MAX];

    if ((err = st_txn_writable(txn)) != GJ_OK)
        return err;
    if (spend == NULL || !spend_ok(spend))
        return GJ_ERR_INVAL;
    size_t klen = dated_key(key, spend->sponsor, TAG_SPEND, spend->setl_date, spend->unix_ms,
                            spend->setl_id);
    unsigned char val[SPEND_VAL_MAX];
    return st_put_rec(txn, DB_SPEND, key, klen, val, spend_encode(spend, val), 0);
}

/* What every dated listing does first: check its arguments, decode the cursor `after`
 * into tail (before the outputs are cleared: callers may pass one buffer as both after
 * and next_cursor), clear the outputs and clamp from_date. *empty is set when the range
 * holds no date at all. */
static gj_err list_start(store_txn *txn, const char *owner, const void *out, size_t max,
                         size_t *count, char *next_cursor, const char *after,
                         unsigned char tail[SPEND_TAIL_MAX], size_t *tail_len,
                         int32_t *from_date, int32_t to_date, bool *empty)
{
    gj_err err;
    if ((err = st_txn_readable(txn)) != GJ_OK)
        return err;
    if (!key_ok(owner, GJ_PSN_NO_MAX) || out == NULL || max == 0 || count == NULL ||
        next_cursor == NULL)
        return GJ_ERR_INVAL;
    *tail_len = 0;
    if (after != NULL && after[0] != '\0' && !cursor_decode(after, tail, tail_len))
        return GJ_ERR_INVAL;
    *count = 0;
    next_cursor[0] = '\0';
    *empty = to_date < 0 || to_date < *from_date;
    if (*from_date < 0)
        *from_date = 0;
    return GJ_OK;
}

/* What every dated listing does last: a cursor error other than the end becomes the
 * listing's, the cursor closes, the count is set and, when more entries wait, the page
 * cursor names the last one returned. */
static gj_err list_finish(MDB_cursor *c, int rc, gj_err err, size_t n, size_t *count, bool more,
                          const unsigned char *last, size_t last_len, char *next_cursor)
{
    if (err == GJ_OK && rc != 0 && rc != MDB_NOTFOUND)
        err = st_map_err(rc);
    mdb_cursor_close(c);
    *count = n;
    if (err == GJ_OK && more)
        cursor_encode(last, last_len, next_cursor);
    return err;
}

/* Copies the entry (k, v) of a dated index into the i-th slot of out; plen is the
 * length of the owner prefix "psn_no\0" tag. */
typedef gj_err (*dated_take_fn)(store_txn *t, const MDB_val *k, const MDB_val *v, size_t plen,
                                void *out, size_t i);

/* One page of the entries of a dated index (spend records) under owner
 * with from_date <= date <= to_date, in key order, resuming after the cursor `after`. */
static gj_err dated_list(store_txn *txn, int db, const char *owner, char tag, int32_t from_date,
                         int32_t to_date, const char *after, dated_take_fn take, void *out,
                         size_t max, size_t *count, char next_cursor[GJ_PAGE_TOKEN_MAX + 1])
{
    gj_err err;
    MDB_cursor *c;
    unsigned char key[SPEND_KEY_MAX], tail[SPEND_TAIL_MAX], last[SPEND_TAIL_MAX];
    size_t tail_len = 0, last_len = 0, n = 0, klen;
    bool more = false, skip_exact = false, empty;

    err = list_start(txn, owner, out, max, count, next_cursor, after, tail, &tail_len, &from_date,
                     to_date, &empty);
    if (err != GJ_OK || empty)
        return err;

    size_t plen = dated_prefix(key, owner, tag);
    if (tail_len > 0 && get_be32(tail) >= (uint32_t)from_date) {
        memcpy(key + plen, tail, tail_len); /* resume at the cursor's record... */
        klen = plen + tail_len;
        skip_exact = true;
    } else {
        put_be32(key + plen, (uint32_t)from_date);
        klen = plen + 4;
    }

    if ((err = st_map_err(mdb_cursor_open(txn->txn, txn->s->dbi[db], &c))) != GJ_OK)
        return err;
    MDB_val k = {klen, key}, v;
    int rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
    if (rc == 0 && skip_exact && k.mv_size == klen && memcmp(k.mv_data, key, klen) == 0)
        rc = mdb_cursor_get(c, &k, &v, MDB_NEXT); /* ...and start just after it */
    while (rc == 0) {
        const unsigned char *kp = k.mv_data;
        if (k.mv_size < plen || memcmp(kp, key, plen) != 0)
            break; /* past this owner */
        if (k.mv_size <= plen + SPEND_FIXED || k.mv_size > plen + SPEND_TAIL_MAX) {
            err = GJ_ERR_CORRUPT;
            break;
        }
        if (get_be32(kp + plen) > (uint32_t)to_date)
            break;
        if (n == max) {
            more = true;
            break;
        }
        if ((err = take(txn, &k, &v, plen, out, n)) != GJ_OK)
            break;
        n++;
        last_len = k.mv_size - plen;
        memcpy(last, kp + plen, last_len);
        rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
    }
    return list_finish(c, rc, err, n, count, more, last, last_len, next_cursor);
}

/* A spend record back from its key (dated_list has checked the key's length) and its
 * value (spend_encode). */
static gj_err take_spend(store_txn *t, const MDB_val *k, const MDB_val *v, size_t plen,
                         void *out, size_t i)
{
    (void)t;
    const unsigned char *kp = k->mv_data, *vp = v->mv_data;
    store_spend *sp = (store_spend *)out + i;
    size_t owner = plen - 2, id = k->mv_size - plen - SPEND_FIXED, who = v->mv_size - SPEND_VAL_FIXED;
    memset(sp, 0, sizeof *sp);
    if (v->mv_size < SPEND_VAL_FIXED || who > GJ_PSN_NO_MAX || owner > GJ_PSN_NO_MAX ||
        memchr(vp + SPEND_VAL_FIXED, '\0', who) != NULL)
        return GJ_ERR_CORRUPT;
    memcpy(sp->sponsor, kp, owner);
    sp->setl_date = (int32_t)get_be32(kp + plen);
    sp->unix_ms = (int64_t)get_be64(kp + plen + 4);
    memcpy(sp->setl_id, kp + plen + SPEND_FIXED, id);
    memcpy(&sp->amount, vp, sizeof sp->amount);
    sp->use = vp[8];
    sp->refund = vp[9];
    memcpy(sp->beneficiary, vp + SPEND_VAL_FIXED, who);
    if (!spend_ok(sp) || strlen(sp->setl_id) != id) {
        memset(sp, 0, sizeof *sp);
        return GJ_ERR_CORRUPT;
    }
    return GJ_OK;
}

gj_err store_spend_list(store_txn *txn, const char *sponsor, int32_t from_date,
                        int32_t to_date, const char *after, store_spend *out, size_t max,
                        size_t *count, char next_cursor[GJ_PAGE_TOKEN_MAX + 1])
{
    return dated_list(txn, DB_SPEND, sponsor, TAG_SPEND, from_date, to_date, after, take_spend,
                      out, max, count, next_cursor);
}

/* An index entry (prefix "date psn_no\0" plen long) is only a key; the settlement it
 * names must exist and file under exactly that key (same patient, date and instant). */
static gj_err take_indexed(store_txn *t, const MDB_val *k, const MDB_val *v, size_t plen, store_settlement *st)
{
    unsigned char key[DAY_KEY_MAX];
    if (v->mv_size != 0 || k->mv_size <= plen + 8 || k->mv_size > plen + 8 + GJ_SETL_ID_MAX)
        return GJ_ERR_CORRUPT;
    const unsigned char *id = (const unsigned char *)k->mv_data + plen + 8;
    gj_err err = settlement_read(t, id, k->mv_size - plen - 8, st);
    if (err == GJ_ERR_NOTFOUND)
        return GJ_ERR_CORRUPT;
    if (err != GJ_OK)
        return err;
    if (setl_psn_key(key, st) != k->mv_size || memcmp(key, k->mv_data, k->mv_size) != 0) {
        memset(st, 0, sizeof *st);
        return GJ_ERR_CORRUPT;
    }
    return GJ_OK;
}

/* The person's entries day by day: on each day that has any entry from from_date on,
 * one seek to the person's first entry of it and, when it has none (left), one to the
 * next day's first key. The cursor is the last entry's (date, unix_ms, setl_id), as a
 * spend list's is, or, when the page stopped after GJ_LIST_DAYS_PER_PAGE days, the
 * last day's with an instant and id after any real entry's. */
gj_err store_settlement_list_by_psn(store_txn *txn, const char *psn_no, int32_t from_date,
                                    int32_t to_date, const char *after, store_settlement *out,
                                    size_t max, size_t *count, char next_cursor[GJ_PAGE_TOKEN_MAX + 1])
{
    gj_err err;
    MDB_cursor *c;
    unsigned char key[DAY_KEY_MAX], tail[SPEND_TAIL_MAX], last[SPEND_TAIL_MAX];
    size_t tail_len = 0, last_len = 0, n = 0, plen;
    unsigned days = 0;
    bool more = false, empty;

    err = list_start(txn, psn_no, out, max, count, next_cursor, after, tail, &tail_len, &from_date,
                     to_date, &empty);
    if (err != GJ_OK || empty)
        return err;

    uint32_t day = (uint32_t)from_date;
    bool resume = tail_len > 0 && get_be32(tail) >= (uint32_t)from_date;
    if (resume)
        day = get_be32(tail);
    plen = day_prefix(key, day, psn_no);
    size_t klen = plen;
    if (resume) { /* at the cursor's entry, to start just after it */
        memcpy(key + plen, tail + 4, tail_len - 4);
        klen += tail_len - 4;
    }
    if ((err = st_map_err(mdb_cursor_open(txn->txn, txn->s->dbi[DB_SETL_BY_PSN], &c))) != GJ_OK)
        return err;
    MDB_val k = {klen, key}, v;
    int rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
    if (rc == 0 && resume && k.mv_size == klen && memcmp(k.mv_data, key, klen) == 0)
        rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
    while (rc == 0 && err == GJ_OK && !more) {
        const unsigned char *kp = k.mv_data;
        if (k.mv_size < 4) {
            err = GJ_ERR_CORRUPT;
            break;
        }
        uint32_t d = get_be32(kp);
        if (d > (uint32_t)to_date)
            break;
        if (d == day && k.mv_size >= plen && memcmp(kp, key, plen) == 0) {
            if (n == max) {
                more = true;
                break;
            }
            if ((err = take_indexed(txn, &k, &v, plen, &out[n])) != GJ_OK)
                break;
            n++;
            put_be32(last, d);
            last_len = 4 + k.mv_size - plen;
            memcpy(last + 4, kp + plen, k.mv_size - plen);
            rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
            continue;
        }
        /* The person has no entry (left) on `day`. A page visits a bounded number of
         * days: past that it ends with a cursor just after the person's last possible
         * entry of the day, and the caller pages on. */
        if (++days == GJ_LIST_DAYS_PER_PAGE && day < (uint32_t)to_date) {
            put_be32(last, day);
            memset(last + 4, 0xff, 8);
            last[12] = '~';
            last_len = 13;
            more = true;
            break;
        }
        if (d == day) { /* none (left) on this day: the next day with any entry */
            if (day >= (uint32_t)to_date)
                break;
            put_be32(key, day + 1);
            k = (MDB_val){4, key};
            if ((rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE)) != 0)
                break;
            if (k.mv_size < 4) {
                err = GJ_ERR_CORRUPT;
                break;
            }
            d = get_be32(k.mv_data);
            if (d > (uint32_t)to_date)
                break;
        }
        day = d; /* a later day: the person's first entry of it, if any */
        plen = day_prefix(key, day, psn_no);
        k = (MDB_val){plen, key};
        rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
    }
    return list_finish(c, rc, err, n, count, more, last, last_len, next_cursor);
}

struct settlement_scan {
    store_settlement_fn fn;
    void *arg;
};

static gj_err visit_settlement(store_txn *t, const MDB_val *k, const MDB_val *v, void *ctx,
                               bool *more)
{
    struct settlement_scan *ss = ctx;
    store_settlement st;
    (void)t;
    gj_err err = settlement_decode(k, v, &st);
    if (err == GJ_OK)
        *more = ss->fn(&st, ss->arg);
    return err;
}

gj_err store_settlement_scan(store_txn *txn, store_settlement_fn fn, void *arg)
{
    gj_err err;
    struct settlement_scan ss = {fn, arg};
    if ((err = st_txn_readable(txn)) != GJ_OK)
        return err;
    if (fn == NULL)
        return GJ_ERR_INVAL;
    return st_scan_db(txn, DB_SETTLEMENTS, NULL, 0, visit_settlement, &ss);
}

gj_err store_settlement_scan_after(store_txn *txn, const char *after_setl_id, store_settlement_fn fn, void *arg)
{
    gj_err err;
    struct settlement_scan ss = {fn, arg};
    if ((err = st_txn_readable(txn)) != GJ_OK)
        return err;
    if (fn == NULL || after_setl_id == NULL || strlen(after_setl_id) > GJ_SETL_ID_MAX)
        return GJ_ERR_INVAL;
    return st_scan_range(txn, DB_SETTLEMENTS, after_setl_id, strlen(after_setl_id), true, NULL, 0,
                         visit_settlement, &ss);
}

/* ---- recoveries (R21) ---- */

gj_err store_recovery_put(store_txn *txn, const store_recovery *r)
{
    gj_err err;
    if ((err = st_txn_writable(txn)) != GJ_OK)
        return err;
    if (r == NULL || !KEYFIELD_OK(r->setl_id) || !FIELD_OK(r->operator_id) || !FIELD_OK(r->reason))
        return GJ_ERR_INVAL;
    return st_put_rec(txn, DB_RECOVERIES, r->setl_id, strlen(r->setl_id), r, sizeof *r, 0);
}

gj_err store_recovery_get(store_txn *txn, const char *setl_id, store_recovery *out)
{
    gj_err err;
    if ((err = st_txn_readable(txn)) != GJ_OK)
        return err;
    if (!key_ok(setl_id, GJ_SETL_ID_MAX) || out == NULL)
        return GJ_ERR_INVAL;
    return st_get_rec(txn, DB_RECOVERIES, setl_id, strlen(setl_id), out, sizeof *out);
}
