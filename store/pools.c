/* Family pools (R20): the pool record, what each settlement drew from it, and the rule
 * that keeps a pool's shares in step with its account (store.h, "family pool").
 *
 * Every movement of a pool's account goes through store_account_move like any other;
 * st_pool_follow runs inside it, in the same transaction, so a crash can never leave a
 * balance and its shares apart. */
#include "store_internal.h"
#include "gj_util.h"

#include <string.h>

/* "setl_id\0pool_id" */
#define DRAW_KEY_MAX (GJ_SETL_ID_MAX + 1 + GJ_PSN_NO_MAX)

static bool pool_ok(const store_pool *p)
{
    if (!KEYFIELD_OK(p->pool_id) || !gj_is_pool_id(p->pool_id) || !KEYFIELD_OK(p->creator) ||
        (p->state != STORE_POOL_OPEN && p->state != STORE_POOL_CLOSED) || !FIELD_OK(p->created_by) ||
        !FIELD_OK(p->closed_by) || p->share_count < 1 || p->share_count > GJ_POOL_SHARES_MAX)
        return false;
    if (strcmp(p->shares[0].psn_no, p->creator) != 0)
        return false;
    for (uint32_t i = 0; i < p->share_count; i++)
        if (!KEYFIELD_OK(p->shares[i].psn_no) || p->shares[i].remaining < 0 ||
            p->shares[i].remaining > p->shares[i].contributed)
            return false;
    return true;
}

/* The creator's open pool is found by "@creator" in the same tree (no pool id starts
 * with '@'); the value is the pool id. */
static size_t creator_key(char *key, const char *creator)
{
    key[0] = '@';
    size_t len = strlen(creator);
    memcpy(key + 1, creator, len);
    return len + 1;
}

gj_err store_pool_put(store_txn *txn, const store_pool *pool)
{
    gj_err err;
    char key[GJ_PSN_NO_MAX + 2];
    if ((err = st_txn_writable(txn)) != GJ_OK)
        return err;
    if (pool == NULL || !pool_ok(pool))
        return GJ_ERR_INVAL;
    size_t klen = creator_key(key, pool->creator);
    if (pool->state == STORE_POOL_OPEN)
        err = st_put_rec(txn, DB_POOLS, key, klen, pool->pool_id, sizeof pool->pool_id, 0);
    else
        err = st_del_rec(txn, DB_POOLS, key, klen);
    if (err != GJ_OK)
        return err;
    return st_put_rec(txn, DB_POOLS, pool->pool_id, strlen(pool->pool_id), pool, sizeof *pool, 0);
}

gj_err store_pool_of_creator(store_txn *txn, const char *creator, char pool_id[GJ_PSN_NO_MAX + 1])
{
    gj_err err;
    char key[GJ_PSN_NO_MAX + 2];
    if ((err = st_txn_readable(txn)) != GJ_OK)
        return err;
    if (!key_ok(creator, GJ_PSN_NO_MAX) || pool_id == NULL)
        return GJ_ERR_INVAL;
    if ((err = st_get_rec(txn, DB_POOLS, key, creator_key(key, creator), pool_id, GJ_PSN_NO_MAX + 1)) != GJ_OK)
        return err;
    return memchr(pool_id, '\0', GJ_PSN_NO_MAX + 1) != NULL ? GJ_OK : GJ_ERR_CORRUPT;
}

gj_err store_pool_get(store_txn *txn, const char *pool_id, store_pool *out)
{
    gj_err err;
    if ((err = st_txn_readable(txn)) != GJ_OK)
        return err;
    if (!key_ok(pool_id, GJ_PSN_NO_MAX) || out == NULL)
        return GJ_ERR_INVAL;
    if ((err = st_get_rec(txn, DB_POOLS, pool_id, strlen(pool_id), out, sizeof *out)) != GJ_OK)
        return err;
    return pool_ok(out) ? GJ_OK : GJ_ERR_CORRUPT;
}

gj_err store_pool_draw_get(store_txn *txn, const char *setl_id, const char *pool_id, store_pool_draw *out)
{
    gj_err err;
    char key[DRAW_KEY_MAX];
    if ((err = st_txn_readable(txn)) != GJ_OK)
        return err;
    if (!key_ok(setl_id, GJ_SETL_ID_MAX) || !key_ok(pool_id, GJ_PSN_NO_MAX) || out == NULL)
        return GJ_ERR_INVAL;
    return st_get_rec(txn, DB_POOL_DRAWS, key, st_pair_key(key, setl_id, pool_id), out, sizeof *out);
}

static gj_err draw_put(store_txn *txn, const store_pool_draw *d)
{
    char key[DRAW_KEY_MAX];
    return st_put_rec(txn, DB_POOL_DRAWS, key, st_pair_key(key, d->setl_id, d->pool_id), d, sizeof *d, 0);
}

static store_pool_share *share_of(store_pool *p, const char *psn_no)
{
    for (uint32_t i = 0; i < p->share_count; i++)
        if (strcmp(p->shares[i].psn_no, psn_no) == 0)
            return &p->shares[i];
    return NULL;
}

/* A debit for a member's bill: the creator's share first, then the others in order. */
static gj_err follow_draw(store_txn *txn, store_pool *p, const store_journal_entry *e)
{
    if (!KEYFIELD_OK(e->setl_id))
        return GJ_ERR_INVAL;
    store_pool_draw d;
    gj_err err = store_pool_draw_get(txn, e->setl_id, p->pool_id, &d);
    if (err == GJ_ERR_NOTFOUND) {
        memset(&d, 0, sizeof d);
        memcpy(d.setl_id, e->setl_id, sizeof d.setl_id);
        memcpy(d.pool_id, p->pool_id, sizeof d.pool_id);
    } else if (err != GJ_OK) {
        return err;
    }
    int64_t left = -e->amount;
    for (uint32_t i = 0; i < p->share_count && left > 0; i++) {
        int64_t take = p->shares[i].remaining < left ? p->shares[i].remaining : left;
        p->shares[i].remaining -= take;
        d.taken[i] += take;
        left -= take;
    }
    if (left > 0)
        return GJ_ERR_CORRUPT; /* the balance was more than the shares: a damaged pool */
    return draw_put(txn, &d);
}

/* A refund of what a settlement drew: each share gets back what was taken from it, the
 * last drawn first. A closed pool passes it straight on to the contributors. */
static gj_err follow_refund(store_txn *txn, store_pool *p, const store_journal_entry *e)
{
    store_pool_draw d;
    gj_err err = KEYFIELD_OK(e->setl_id) ? store_pool_draw_get(txn, e->setl_id, p->pool_id, &d) : GJ_ERR_NOTFOUND;
    if (err != GJ_OK)
        return err == GJ_ERR_NOTFOUND ? GJ_ERR_INVAL : err; /* nothing was drawn for it */
    int64_t left = e->amount;
    int64_t back[GJ_POOL_SHARES_MAX] = {0};
    for (uint32_t i = p->share_count; i-- > 0 && left > 0;) {
        int64_t give = d.taken[i] < left ? d.taken[i] : left;
        d.taken[i] -= give;
        p->shares[i].remaining += give;
        back[i] = give;
        left -= give;
    }
    if (left > 0)
        return GJ_ERR_INVAL; /* more than the settlement drew */
    if ((err = draw_put(txn, &d)) != GJ_OK || (err = store_pool_put(txn, p)) != GJ_OK)
        return err;
    if (p->state == STORE_POOL_OPEN)
        return GJ_OK;
    /* Closed: every fen goes on to the account it came from (each move below comes back
     * here as a POOL_OUT and takes its share down again). */
    for (uint32_t i = 0; i < p->share_count; i++) {
        if (back[i] == 0)
            continue;
        store_journal_entry out = *e, in = *e;
        out.kind = in.kind = STORE_J_POOL_OUT;
        out.amount = -back[i];
        memcpy(out.counterpart, p->shares[i].psn_no, sizeof out.counterpart);
        in.amount = back[i];
        memcpy(in.psn_no, p->shares[i].psn_no, sizeof in.psn_no);
        memcpy(in.counterpart, p->pool_id, sizeof in.counterpart);
        if ((err = store_account_move(txn, &out, NULL)) != GJ_OK || (err = store_account_move(txn, &in, NULL)) != GJ_OK)
            return err;
    }
    return GJ_OK;
}

gj_err st_pool_follow(store_txn *txn, const store_journal_entry *e)
{
    if (!gj_is_pool_id(e->psn_no))
        return GJ_OK;
    store_pool p;
    gj_err err = store_pool_get(txn, e->psn_no, &p);
    if (err != GJ_OK)
        return err == GJ_ERR_NOTFOUND ? GJ_ERR_INVAL : err;
    store_pool_share *share;
    switch (e->kind) {
    case STORE_J_SETTLE_AID:
    case STORE_J_PREMIUM:
        if ((err = follow_draw(txn, &p, e)) != GJ_OK)
            return err;
        break;
    case STORE_J_REFUND:
        return follow_refund(txn, &p, e); /* writes the pool itself */
    case STORE_J_POOL_IN:
        if (p.state != STORE_POOL_OPEN || !KEYFIELD_OK(e->counterpart))
            return GJ_ERR_INVAL;
        if ((share = share_of(&p, e->counterpart)) == NULL) {
            if (p.share_count >= GJ_POOL_SHARES_MAX)
                return GJ_ERR_TOOBIG;
            share = &p.shares[p.share_count++];
            memset(share, 0, sizeof *share);
            memcpy(share->psn_no, e->counterpart, sizeof share->psn_no);
        }
        share->contributed += e->amount;
        share->remaining += e->amount;
        break;
    case STORE_J_POOL_OUT:
        if ((share = share_of(&p, e->counterpart)) == NULL || share->remaining < -e->amount)
            return GJ_ERR_INVAL;
        share->remaining += e->amount;
        break;
    default:
        return GJ_ERR_INVAL; /* no credit, move or own bill on a pool */
    }
    return store_pool_put(txn, &p);
}
