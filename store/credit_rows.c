/* gongji store: the rows of credit files already credited (store.h, "credit rows"),
 * written in the same transaction as the credit they record. */
#include "store_internal.h"

gj_err store_credit_row_get(store_txn *txn, const char *key, store_credit_row *out)
{
    gj_err err;
    if ((err = st_txn_readable(txn)) != GJ_OK)
        return err;
    if (!key_ok(key, STORE_CREDIT_ROW_KEY_MAX) || out == NULL)
        return GJ_ERR_INVAL;
    return st_get_rec(txn, DB_CREDIT_ROWS, key, strlen(key), out, sizeof *out);
}

gj_err store_credit_row_put(store_txn *txn, const char *key, const store_credit_row *row)
{
    gj_err err;
    if ((err = st_txn_writable(txn)) != GJ_OK)
        return err;
    if (!key_ok(key, STORE_CREDIT_ROW_KEY_MAX) || row == NULL || !KEYFIELD_OK(row->psn_no) || row->amount <= 0)
        return GJ_ERR_INVAL;
    store_credit_row r;
    memset(&r, 0, sizeof r); /* no stray bytes on disk */
    memcpy(r.psn_no, row->psn_no, sizeof r.psn_no);
    r.amount = row->amount;
    r.journal_seq = row->journal_seq;
    r.unix_ms = row->unix_ms;
    return st_put_rec(txn, DB_CREDIT_ROWS, key, strlen(key), &r, sizeof r, MDB_NOOVERWRITE);
}
