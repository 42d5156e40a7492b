/* Upgrading an older store in place (docs/operations.md, "Upgrades"; docs/store.md,
 * "Formats"). store_open runs it inside the one write transaction that opens the trees,
 * after a compacted copy of the old store was written beside it: either every record is
 * converted and the new format written, or the transaction is abandoned and the old
 * store is as it was.
 *
 * What changed, format by format (only two kinds of record ever changed layout; every
 * other change added trees, which opening creates, or values older builds never wrote):
 *   5 -> 6   decisions: each leg has a "speculative" byte where padding was: set to 0
 *            (a format-5 build wrote a decision only once its holds had answered).
 *   6 -> 7   first answers: the request's 8-byte FNV-1a hash became a 16-byte SHA-256
 *            digest of the request's canonical form, which cannot be computed without
 *            the request. The old hash is kept, tagged (store_digest_legacy): the node
 *            compares a retry by the old hash, so a retry is still answered the same
 *            and nothing is paid twice. Reversal tombstones and gongji-load's progress
 *            records convert exactly.
 *   9 -> 10  first answers carry the time they were written, indexed by it: the upgrade's
 *            time is given (an earlier one would let the first pruning round drop
 *            answers an old retry still relies on).
 *   10 -> 11 credit rows (a new tree): nothing to convert.
 *   11 -> 12 the patient index leaves the ledger tree for settlements_by_day, keyed by
 *            date first: each "psn_no\0P date unix_ms setl_id" entry becomes
 *            "date psn_no\0 unix_ms setl_id" there, with the same empty value.
 * Refused rather than converted: an old store with a person or account whose number
 * begins with "POOL" (before format 9) or a person beginning with "WLT" (before 10),
 * which this build would take for a family pool or a wallet. */
#include "store_internal.h"

#include "gj_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OLD_IDEM_HDR_V6 12 /* BE64 hash, BE32 reply length */
#define OLD_IDEM_HDR_V9 20 /* 16-byte digest, BE32 reply length */
#define NEW_IDEM_HDR 28    /* 16-byte digest, BE32 reply length, BE64 unix ms */
#define IDEM_KEY_MAX (GJ_CALLER_ID_MAX + 1 + GJ_CALL_ID_MAX)
#define LOAD_CALLER "gongji-load"

/* A format-5 decision leg's layout, which the speculative byte fills a hole of. */
#define V5_DECISION_HEAD 104
#define V5_DECISION_LEG 64
#define V5_SPECULATIVE_AT 58
_Static_assert(offsetof(store_decision, legs) == V5_DECISION_HEAD, "decision head as format 5 wrote it");
_Static_assert(sizeof(((store_decision *)0)->legs[0]) == V5_DECISION_LEG, "decision leg as format 5 wrote it");
_Static_assert(offsetof(store_decision, legs[0].speculative) == V5_DECISION_HEAD + V5_SPECULATIVE_AT,
               "speculative sits where format 5 had padding");

static const unsigned char legacy_tag[8] = {0xff, 'F', 'N', 'V', '1', 'a', '6', '4'};

bool store_digest_legacy(const store_digest *d, uint64_t *fnv)
{
    if (memcmp(d->bytes, legacy_tag, sizeof legacy_tag) != 0)
        return false;
    if (fnv != NULL)
        *fnv = get_be64(d->bytes + 8);
    return true;
}

static gj_err refuse(char *why, size_t why_len, gj_err err, const char *fmt, const char *arg)
{
    snprintf(why, why_len, fmt, arg);
    return err;
}

/* Whether db holds a key beginning with prefix. */
static bool has_prefix(MDB_txn *txn, MDB_dbi dbi, const char *prefix)
{
    MDB_cursor *c;
    if (mdb_cursor_open(txn, dbi, &c) != 0)
        return true; /* cannot tell: refuse */
    MDB_val k = {strlen(prefix), (void *)prefix}, v;
    int rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
    bool found = rc == 0 && k.mv_size >= strlen(prefix) && memcmp(k.mv_data, prefix, strlen(prefix)) == 0;
    mdb_cursor_close(c);
    return found;
}

static gj_err upgrade_decisions(store *s, MDB_txn *txn, size_t *count)
{
    MDB_cursor *c;
    gj_err err = st_map_err(mdb_cursor_open(txn, s->dbi[DB_DECISIONS], &c));
    if (err != GJ_OK)
        return err;
    unsigned char buf[sizeof(store_decision)];
    MDB_val k, v;
    int rc;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        if (v.mv_size < V5_DECISION_HEAD || v.mv_size > sizeof buf) {
            err = GJ_ERR_CORRUPT;
            break;
        }
        uint32_t legs;
        memcpy(&legs, (const unsigned char *)v.mv_data + offsetof(store_decision, leg_count), sizeof legs);
        if (legs > GJ_SPONSORS_MAX || v.mv_size != V5_DECISION_HEAD + (size_t)legs * V5_DECISION_LEG) {
            err = GJ_ERR_CORRUPT;
            break;
        }
        memcpy(buf, v.mv_data, v.mv_size);
        for (uint32_t i = 0; i < legs; i++)
            buf[V5_DECISION_HEAD + i * V5_DECISION_LEG + V5_SPECULATIVE_AT] = 0;
        MDB_val nv = {v.mv_size, buf};
        if ((err = st_map_err(mdb_cursor_put(c, &k, &nv, MDB_CURRENT))) != GJ_OK)
            break;
        (*count)++;
    }
    if (err == GJ_OK && rc != MDB_NOTFOUND)
        err = st_map_err(rc);
    mdb_cursor_close(c);
    return err;
}

/* The digest a format-6 record's hash becomes (see the top of this file). */
static store_digest digest_from_v6(const char *caller, uint64_t hash)
{
    store_digest d = {{0}};
    if (strcmp(caller, LOAD_CALLER) == 0) {
        put_be64(d.bytes, hash); /* the file's fingerprint, as gongji-load writes it now */
        d.bytes[8] = 1;
    } else if (hash != 1) { /* 1 was a tombstone's: all zero now */
        memcpy(d.bytes, legacy_tag, sizeof legacy_tag);
        put_be64(d.bytes + 8, hash);
    }
    return d;
}

static gj_err upgrade_first_answers(store *s, MDB_txn *txn, unsigned from, uint64_t now_ms, size_t *count)
{
    MDB_stat st;
    gj_err err = st_map_err(mdb_stat(txn, s->dbi[DB_IDEM_TIME], &st));
    if (err != GJ_OK)
        return err;
    if (st.ms_entries != 0)
        return GJ_ERR_CORRUPT; /* an index before the format that has one */
    MDB_cursor *c;
    if ((err = st_map_err(mdb_cursor_open(txn, s->dbi[DB_IDEM], &c))) != GJ_OK)
        return err;
    size_t old_hdr = from <= 6 ? OLD_IDEM_HDR_V6 : OLD_IDEM_HDR_V9;
    unsigned char *nv_buf = NULL;
    size_t nv_cap = 0;
    store_txn t = {.s = s, .txn = txn, .writable = true};
    MDB_val k, v;
    int rc;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        const unsigned char *old = v.mv_data;
        char key[IDEM_KEY_MAX + 1];
        if (k.mv_size < 3 || k.mv_size > IDEM_KEY_MAX || v.mv_size < old_hdr ||
            get_be32(old + old_hdr - 4) != v.mv_size - old_hdr) {
            err = GJ_ERR_CORRUPT;
            break;
        }
        memcpy(key, k.mv_data, k.mv_size);
        key[k.mv_size] = '\0'; /* the caller, up to the separator */
        size_t reply_len = v.mv_size - old_hdr, need = NEW_IDEM_HDR + reply_len;
        if (need > nv_cap) {
            unsigned char *grown = realloc(nv_buf, need);
            if (grown == NULL) {
                err = GJ_ERR_NOMEM;
                break;
            }
            nv_buf = grown;
            nv_cap = need;
        }
        store_digest d;
        if (from <= 6)
            d = digest_from_v6(key, get_be64(old));
        else
            memcpy(d.bytes, old, STORE_DIGEST_LEN);
        memcpy(nv_buf, d.bytes, STORE_DIGEST_LEN);
        put_be32(nv_buf + STORE_DIGEST_LEN, (uint32_t)reply_len);
        put_be64(nv_buf + STORE_DIGEST_LEN + 4, now_ms);
        memcpy(nv_buf + NEW_IDEM_HDR, old + old_hdr, reply_len); /* before the put moves it */
        MDB_val kk = {k.mv_size, key}, nv = {need, nv_buf};
        if ((err = st_map_err(mdb_cursor_put(c, &kk, &nv, MDB_CURRENT))) != GJ_OK)
            break;
        MDB_val at = kk, atv; /* stand on the record again: its size changed */
        if ((err = st_map_err(mdb_cursor_get(c, &at, &atv, MDB_SET_KEY))) != GJ_OK)
            break;
        unsigned char tkey[8 + IDEM_KEY_MAX];
        put_be64(tkey, now_ms);
        memcpy(tkey + 8, key, kk.mv_size);
        if ((err = st_put_rec(&t, DB_IDEM_TIME, tkey, 8 + kk.mv_size, "", 0, MDB_NOOVERWRITE)) != GJ_OK)
            break;
        (*count)++;
    }
    if (err == GJ_OK && rc != MDB_NOTFOUND)
        err = st_map_err(rc);
    mdb_cursor_close(c);
    free(nv_buf);
    return err;
}

/* 11 -> 12 (see the top of this file). A ledger key without its separator, or a patient
 * index entry of the wrong size or with a value, is not as format 11 wrote it. */
static gj_err upgrade_patient_index(store *s, MDB_txn *txn, size_t *count)
{
    MDB_cursor *c;
    gj_err err = st_map_err(mdb_cursor_open(txn, s->dbi[DB_ACCOUNTS], &c));
    if (err != GJ_OK)
        return err;
    unsigned char old_key[GJ_PSN_NO_MAX + 2 + 12 + GJ_SETL_ID_MAX], new_key[sizeof old_key];
    MDB_val k, v;
    int rc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
    while (rc == 0) {
        const unsigned char *kp = k.mv_data;
        const unsigned char *nul = memchr(kp, '\0', k.mv_size);
        if (nul == NULL || nul == kp || k.mv_size < (size_t)(nul - kp) + 2) {
            err = GJ_ERR_CORRUPT;
            break;
        }
        size_t olen = (size_t)(nul - kp);
        if (kp[olen + 1] != TAG_SETTLED) {
            rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
            continue;
        }
        size_t id_len = k.mv_size - olen - 2 - 12;
        if (olen > GJ_PSN_NO_MAX || k.mv_size <= olen + 2 + 12 || id_len > GJ_SETL_ID_MAX || v.mv_size != 0) {
            err = GJ_ERR_CORRUPT;
            break;
        }
        memcpy(new_key, kp + olen + 2, 4);          /* date */
        memcpy(new_key + 4, kp, olen + 1);          /* psn_no '\0' */
        memcpy(new_key + 4 + olen + 1, kp + olen + 6, 8 + id_len); /* unix_ms, setl_id */
        memcpy(old_key, kp, k.mv_size);
        MDB_val nk = {k.mv_size - 1, new_key}, ok = {k.mv_size, old_key}, empty = {0, NULL};
        if ((err = st_map_err(mdb_put(txn, s->dbi[DB_SETL_BY_PSN], &nk, &empty, 0))) != GJ_OK ||
            (err = st_map_err(mdb_cursor_del(c, 0))) != GJ_OK)
            break;
        (*count)++;
        /* On from the key after the one just moved. */
        rc = mdb_cursor_get(c, &ok, &v, MDB_SET_RANGE);
        k = ok;
    }
    if (err == GJ_OK && rc != 0 && rc != MDB_NOTFOUND)
        err = st_map_err(rc);
    mdb_cursor_close(c);
    return err;
}

gj_err st_upgrade(store *s, MDB_txn *txn, unsigned from, int64_t now_ms, store_upgrade_report *report)
{
    report->from = from;
    if (from < STORE_OLDEST_UPGRADABLE || from >= STORE_FORMAT_CURRENT)
        return refuse(report->why, sizeof report->why, GJ_ERR_FORMAT, "%s",
                      "no conversion from this format");
    if (from <= 8 && (has_prefix(txn, s->dbi[DB_PERSONS], "POOL") || has_prefix(txn, s->dbi[DB_ACCOUNTS], "POOL")))
        return refuse(report->why, sizeof report->why, GJ_ERR_FORMAT,
                      "a person or account number begins with %s, which this build reads as a family pool",
                      "\"POOL\"");
    if (from <= 9 && has_prefix(txn, s->dbi[DB_PERSONS], "WLT"))
        return refuse(report->why, sizeof report->why, GJ_ERR_FORMAT,
                      "a person number begins with %s, which this build reads as a wallet", "\"WLT\"");
    gj_err err = GJ_OK;
    if (from <= 5 && (err = upgrade_decisions(s, txn, &report->decisions)) != GJ_OK)
        return refuse(report->why, sizeof report->why, err, "%s", "a decision record is not as format 5 wrote it");
    if (from <= 9 && (err = upgrade_first_answers(s, txn, from, (uint64_t)now_ms, &report->first_answers)) != GJ_OK)
        return refuse(report->why, sizeof report->why, err, "%s",
                      "a first-answer record is not as its format wrote it");
    if (from <= 11 && (err = upgrade_patient_index(s, txn, &report->patient_index)) != GJ_OK)
        return refuse(report->why, sizeof report->why, err, "%s",
                      "a ledger record is not as format 11 wrote it");
    unsigned char buf[4];
    put_be32(buf, STORE_FORMAT_CURRENT);
    MDB_val k = {6, (void *)"format"}, v = {sizeof buf, buf};
    return st_map_err(mdb_put(txn, s->dbi[DB_META], &k, &v, 0));
}
