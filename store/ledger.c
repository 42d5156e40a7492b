/* gongji store: persons, their personal accounts and the journal. Every money
 * movement goes through store_account_move, which changes the account and appends
 * one journal entry in the same transaction, so the journal always sums to the
 * balances. Accounts live in the ledger tree after each person's dated records
 * (settlements.c writes those); an account scan skips them. */
#include "store_internal.h"
#include "gj_util.h"

/* account key: psn_no '\0' TAG_ACCOUNT. */
#define ACCOUNT_KEY_MAX (GJ_PSN_NO_MAX + 2)

/* ---- persons ---- */

static bool person_ok(const store_person *p)
{
    return KEYFIELD_OK(p->psn_no) && FIELD_OK(p->certno) && FIELD_OK(p->name) &&
           FIELD_OK(p->insutype) && FIELD_OK(p->admdvs) && p->status >= STORE_PERSON_ACTIVE &&
           p->status <= STORE_PERSON_TERMINATED;
}

gj_err store_person_get(store_txn *txn, const char *psn_no, store_person *out)
{
    gj_err err;
    if ((err = st_txn_readable(txn)) != GJ_OK)
        return err;
    if (!key_ok(psn_no, GJ_PSN_NO_MAX) || out == NULL)
        return GJ_ERR_INVAL;
    return st_get_rec(txn, DB_PERSONS, psn_no, strlen(psn_no), out, sizeof *out);
}

gj_err store_person_put(store_txn *txn, const store_person *person)
{
    gj_err err;
    if ((err = st_txn_writable(txn)) != GJ_OK)
        return err;
    if (person == NULL || !person_ok(person))
        return GJ_ERR_INVAL;
    return st_put_rec(txn, DB_PERSONS, person->psn_no, strlen(person->psn_no), person,
                      sizeof *person, 0);
}

uint64_t store_person_count(store_txn *txn)
{
    return st_db_entries(txn, DB_PERSONS);
}

/* ---- accounts and the journal ---- */

/* psn_no '\0' TAG_ACCOUNT: after every dated record of the same person. */
static size_t account_key(unsigned char *buf, const char *psn_no)
{
    size_t n = strlen(psn_no);
    memcpy(buf, psn_no, n);
    buf[n] = '\0';
    buf[n + 1] = (unsigned char)TAG_ACCOUNT;
    return n + 2;
}

gj_err store_account_get(store_txn *txn, const char *psn_no, store_account *out)
{
    unsigned char key[ACCOUNT_KEY_MAX];
    gj_err err;
    if ((err = st_txn_readable(txn)) != GJ_OK)
        return err;
    if (!key_ok(psn_no, GJ_PSN_NO_MAX) || out == NULL)
        return GJ_ERR_INVAL;
    return st_get_rec(txn, DB_ACCOUNTS, key, account_key(key, psn_no), out, sizeof *out);
}

gj_err store_account_ensure(store_txn *txn, const char *psn_no)
{
    gj_err err;
    store_account empty;
    unsigned char key[ACCOUNT_KEY_MAX];
    if ((err = st_txn_writable(txn)) != GJ_OK)
        return err;
    if (!key_ok(psn_no, GJ_PSN_NO_MAX))
        return GJ_ERR_INVAL;
    memset(&empty, 0, sizeof empty);
    err = st_put_rec(txn, DB_ACCOUNTS, key, account_key(key, psn_no), &empty, sizeof empty,
                     MDB_NOOVERWRITE);
    return err == GJ_ERR_EXISTS ? GJ_OK : err;
}

/* The last journal seq (0 when empty). Keys are big-endian so the last key is the
 * highest seq, and appends in aborted child txns vanish with them: no gaps. */
static gj_err journal_last_seq(store_txn *t, uint64_t *out)
{
    MDB_cursor *c;
    MDB_val k, v;
    gj_err err = st_map_err(mdb_cursor_open(t->txn, t->s->dbi[DB_JOURNAL], &c));
    if (err != GJ_OK)
        return err;
    int rc = mdb_cursor_get(c, &k, &v, MDB_LAST);
    if (rc == MDB_NOTFOUND) {
        *out = 0;
    } else if (rc != 0) {
        err = st_map_err(rc);
    } else if (k.mv_size != 8) {
        err = GJ_ERR_CORRUPT;
    } else {
        *out = get_be64(k.mv_data);
    }
    mdb_cursor_close(c);
    return err;
}

static bool journal_entry_ok(const store_journal_entry *e)
{
    return KEYFIELD_OK(e->psn_no) && FIELD_OK(e->setl_id) && FIELD_OK(e->counterpart) &&
           FIELD_OK(e->caller_id) && FIELD_OK(e->call_id) && e->kind >= STORE_J_CREDIT &&
           e->kind <= STORE_J_WALLET_OUT;
}

/* A journal entry's value: unix_ms, amount, balance_after (8 bytes each, host order),
 * kind, then psn_no, setl_id, counterpart, caller_id and call_id, each as a length byte
 * and its bytes. The seq is the key. About a third of the struct's size: the journal
 * holds an entry per movement for ever, and is most of a freshly loaded store. */
#define JOURNAL_VAL_FIXED 25
#define JOURNAL_STRINGS 5
#define JOURNAL_VAL_MAX                                                                        \
    (JOURNAL_VAL_FIXED + JOURNAL_STRINGS + 2 * GJ_PSN_NO_MAX + GJ_SETL_ID_MAX + GJ_CALLER_ID_MAX + \
     GJ_CALL_ID_MAX)

static size_t journal_encode(const store_journal_entry *e, unsigned char *out)
{
    const char *strings[JOURNAL_STRINGS] = {e->psn_no, e->setl_id, e->counterpart, e->caller_id,
                                            e->call_id};
    memcpy(out, &e->unix_ms, 8);
    memcpy(out + 8, &e->amount, 8);
    memcpy(out + 16, &e->balance_after, 8);
    out[24] = e->kind;
    size_t n = JOURNAL_VAL_FIXED;
    for (int i = 0; i < JOURNAL_STRINGS; i++) {
        size_t len = strlen(strings[i]);
        out[n++] = (unsigned char)len;
        memcpy(out + n, strings[i], len);
        n += len;
    }
    return n;
}

/* The entry stored under key k (its seq) with value v; CORRUPT unless every length
 * fits its field, no string holds a NUL, and the bytes end exactly with the last. */
static gj_err journal_decode(const MDB_val *k, const MDB_val *v, store_journal_entry *out)
{
    const unsigned char *in = v->mv_data;
    char *strings[JOURNAL_STRINGS] = {out->psn_no, out->setl_id, out->counterpart, out->caller_id,
                                      out->call_id};
    const size_t caps[JOURNAL_STRINGS] = {sizeof out->psn_no, sizeof out->setl_id,
                                          sizeof out->counterpart, sizeof out->caller_id,
                                          sizeof out->call_id};
    memset(out, 0, sizeof *out);
    if (k->mv_size != 8 || v->mv_size < JOURNAL_VAL_FIXED + JOURNAL_STRINGS)
        return GJ_ERR_CORRUPT;
    out->seq = get_be64(k->mv_data);
    memcpy(&out->unix_ms, in, 8);
    memcpy(&out->amount, in + 8, 8);
    memcpy(&out->balance_after, in + 16, 8);
    out->kind = in[24];
    size_t n = JOURNAL_VAL_FIXED;
    for (int i = 0; i < JOURNAL_STRINGS; i++) {
        if (n >= v->mv_size)
            goto corrupt;
        size_t len = in[n++];
        if (len >= caps[i] || len > v->mv_size - n || memchr(in + n, '\0', len) != NULL)
            goto corrupt;
        memcpy(strings[i], in + n, len);
        n += len;
    }
    if (n != v->mv_size || !journal_entry_ok(out))
        goto corrupt;
    return GJ_OK;
corrupt:
    memset(out, 0, sizeof *out);
    return GJ_ERR_CORRUPT;
}

gj_err store_account_move(store_txn *txn, store_journal_entry *entry, store_account *after)
{
    gj_err err;
    store_account acct;
    store_journal_entry rec;
    unsigned char key[8];
    uint64_t last = 0;

    if ((err = st_txn_writable(txn)) != GJ_OK)
        return err;
    if (entry == NULL || !journal_entry_ok(entry))
        return GJ_ERR_INVAL;
    int64_t amount = entry->amount;
    if (amount == 0 || amount > GJ_AMOUNT_MAX || amount < -GJ_AMOUNT_MAX)
        return GJ_ERR_INVAL;
    /* A pool contribution goes into the pool; a share given back goes out of it. */
    bool pool = gj_is_pool_id(entry->psn_no);
    bool inward = entry->kind == STORE_J_CREDIT || entry->kind == STORE_J_REFUND || entry->kind == STORE_J_MOVE_IN ||
                  (entry->kind == STORE_J_POOL_IN && pool) || (entry->kind == STORE_J_POOL_OUT && !pool) ||
                  entry->kind == STORE_J_WALLET_IN;
    if (inward != (amount > 0))
        return GJ_ERR_INVAL;
    /* R24: a wallet takes transfers, pays bills and takes refunds; nothing else. */
    bool wallet = gj_is_wallet_id(entry->psn_no);
    bool wallet_kind = entry->kind == STORE_J_WALLET_IN || entry->kind == STORE_J_WALLET_OUT;
    if (wallet_kind != wallet && !(wallet && (entry->kind == STORE_J_SETTLE_AID || entry->kind == STORE_J_PREMIUM ||
                                              entry->kind == STORE_J_REFUND)))
        return GJ_ERR_INVAL;

    if ((err = store_account_get(txn, entry->psn_no, &acct)) != GJ_OK)
        return err;
    /* Checked arithmetic: a damaged record must not wrap into a plausible balance. */
    int64_t balance;
    if (__builtin_add_overflow(acct.balance, amount, &balance) || balance < acct.held ||
        balance > GJ_BALANCE_MAX)
        return GJ_ERR_INVAL;
    bool overflow;
    if (entry->kind == STORE_J_REFUND)
        overflow = __builtin_add_overflow(acct.refunded, amount, &acct.refunded);
    else if (inward) /* credits, moves in, and money into or back from a pool */
        overflow = __builtin_add_overflow(acct.credited, amount, &acct.credited);
    else
        overflow = __builtin_sub_overflow(acct.paid_out, amount, &acct.paid_out);
    if (overflow)
        return GJ_ERR_INVAL;
    acct.balance = balance;

    if ((err = journal_last_seq(txn, &last)) != GJ_OK)
        return err;
    rec = *entry;
    rec.seq = last + 1;
    rec.balance_after = balance;
    put_be64(key, rec.seq);
    unsigned char val[JOURNAL_VAL_MAX];
    if ((err = st_put_rec(txn, DB_JOURNAL, key, sizeof key, val, journal_encode(&rec, val),
                          MDB_APPEND)) != GJ_OK)
        return err;
    unsigned char akey[ACCOUNT_KEY_MAX];
    if ((err = st_put_rec(txn, DB_ACCOUNTS, akey, account_key(akey, entry->psn_no), &acct,
                          sizeof acct, 0)) != GJ_OK)
        return err;
    entry->seq = rec.seq;
    entry->balance_after = balance;
    if (after != NULL)
        *after = acct;
    return st_pool_follow(txn, entry);
}

gj_err store_account_hold(store_txn *txn, const char *psn_no, int64_t delta, store_account *after)
{
    gj_err err;
    store_account acct;
    int64_t held;

    if ((err = st_txn_writable(txn)) != GJ_OK)
        return err;
    if ((err = store_account_get(txn, psn_no, &acct)) != GJ_OK)
        return err;
    if (__builtin_add_overflow(acct.held, delta, &held) || held < 0 || held > acct.balance)
        return GJ_ERR_INVAL;
    if (delta != 0) {
        acct.held = held;
        unsigned char key[ACCOUNT_KEY_MAX];
        if ((err = st_put_rec(txn, DB_ACCOUNTS, key, account_key(key, psn_no), &acct, sizeof acct,
                              0)) != GJ_OK)
            return err;
    }
    if (after != NULL)
        *after = acct;
    return GJ_OK;
}

gj_err store_journal_scan(store_txn *txn, uint64_t first_seq, store_journal_fn fn, void *arg)
{
    gj_err err;
    MDB_cursor *c;
    unsigned char key[8];
    store_journal_entry e;

    if ((err = st_txn_readable(txn)) != GJ_OK)
        return err;
    if (fn == NULL)
        return GJ_ERR_INVAL;
    if ((err = st_map_err(mdb_cursor_open(txn->txn, txn->s->dbi[DB_JOURNAL], &c))) != GJ_OK)
        return err;
    put_be64(key, first_seq);
    MDB_val k = {sizeof key, key}, v;
    int rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
    while (rc == 0) {
        if ((err = journal_decode(&k, &v, &e)) != GJ_OK)
            break;
        if (!fn(&e, arg))
            break;
        rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
    }
    if (err == GJ_OK && rc != 0 && rc != MDB_NOTFOUND)
        err = st_map_err(rc);
    mdb_cursor_close(c);
    return err;
}

uint64_t store_journal_count(store_txn *txn)
{
    return st_db_entries(txn, DB_JOURNAL);
}

gj_err store_account_scan(store_txn *txn, store_account_fn fn, void *arg)
{
    gj_err err;
    MDB_cursor *c;
    MDB_val k, v;
    char psn_no[GJ_PSN_NO_MAX + 1];
    store_account acct;

    if ((err = st_txn_readable(txn)) != GJ_OK)
        return err;
    if (fn == NULL)
        return GJ_ERR_INVAL;
    if ((err = st_map_err(mdb_cursor_open(txn->txn, txn->s->dbi[DB_ACCOUNTS], &c))) != GJ_OK)
        return err;
    int rc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
    while (rc == 0) {
        const unsigned char *kp = k.mv_data;
        const unsigned char *nul = memchr(kp, '\0', k.mv_size);
        size_t plen = nul != NULL ? (size_t)(nul - kp) : k.mv_size;
        if (nul != NULL && plen + 2 <= k.mv_size && kp[plen + 1] != TAG_ACCOUNT) {
            rc = mdb_cursor_get(c, &k, &v, MDB_NEXT); /* a dated record */
            continue;
        }
        if (nul == NULL || plen == 0 || plen > GJ_PSN_NO_MAX || k.mv_size != plen + 2 ||
            v.mv_size != sizeof acct) {
            err = GJ_ERR_CORRUPT;
            break;
        }
        memcpy(psn_no, kp, plen);
        psn_no[plen] = '\0';
        memcpy(&acct, v.mv_data, sizeof acct);
        if (!fn(psn_no, &acct, arg))
            break;
        rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
    }
    if (err == GJ_OK && rc != 0 && rc != MDB_NOTFOUND)
        err = st_map_err(rc);
    mdb_cursor_close(c);
    return err;
}

/* ---- moves (R23) ---- */

gj_err store_move_put(store_txn *txn, const store_move *m)
{
    gj_err err;
    if ((err = st_txn_writable(txn)) != GJ_OK)
        return err;
    if (m == NULL || !KEYFIELD_OK(m->psn_no) || (m->direction != 'O' && m->direction != 'I') ||
        !KEYFIELD_OK(m->other_admdvs) || m->state < STORE_MOVE_MOVING || m->state > STORE_MOVE_MOVED ||
        !FIELD_OK(m->operator_id) || !FIELD_OK(m->setl_id))
        return GJ_ERR_INVAL;
    return st_put_rec(txn, DB_MOVES, m->psn_no, strlen(m->psn_no), m, sizeof *m, 0);
}

gj_err store_move_get(store_txn *txn, const char *psn_no, store_move *out)
{
    gj_err err;
    if ((err = st_txn_readable(txn)) != GJ_OK)
        return err;
    if (!key_ok(psn_no, GJ_PSN_NO_MAX) || out == NULL)
        return GJ_ERR_INVAL;
    return st_get_rec(txn, DB_MOVES, psn_no, strlen(psn_no), out, sizeof *out);
}
