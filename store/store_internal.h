/* gongji store, inside: what the store's own files share and nobody else may use.
 *
 * store.h is the contract. This header holds the two structs behind its opaque
 * handles (struct store, struct store_txn), the named databases, the key sizes that
 * more than one file needs, and the record-access helpers of access.c. Each record
 * family keeps its own codecs and checks static in its own file:
 *
 *   store.c        open and close, the format check, named counters
 *   writer.c       the writer thread, group commit, completions, read transactions
 *   access.c       errors, get/put/delete of records, scans that tolerate writes
 *   ledger.c       persons, accounts and the journal
 *   bindings.c     bindings and deduction orders
 *   idempotency.c  first answers to (caller_id, call_id)
 *   settlements.c  settlements, spend records and the dated lists over both
 *   holds.c        holds, decisions, fences and their open indexes
 *   clearing.c     clearing entries and windows
 *
 * Functions declared here are named st_*: they link across the store's files but
 * are no part of its contract. docs/store.md has the key spaces and formats. */
#ifndef GJ_STORE_INTERNAL_H
#define GJ_STORE_INTERNAL_H

#include "store.h"

#include <lmdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Reset read transactions kept for reuse; each keeps its reader slot. */
#define READ_POOL_MAX 16

/* Tags in the ledger tree, after "psn_no\0": a person's dated records, then the
 * account, which sorts after them so it sits next to the newest ones. TAG_SETTLED was
 * the patient index's until format 12 (upgrade.c moves such entries out). */
#define TAG_SETTLED 'P'
#define TAG_SPEND 'S'
#define TAG_ACCOUNT '~'

/* hold key: setl_id '\0' big-endian uint32 leg. */
#define HOLD_KEY_MAX (GJ_SETL_ID_MAX + 1 + 4)
/* clearing key: big-endian uint32 window, counterparty (GJ_ADMDVS_LEN bytes), setl_id,
 * '\0', big-endian uint32 leg, kind (1 byte). The longest key any scan copies. */
#define CLEARING_KEY_MAX (4 + GJ_ADMDVS_LEN + GJ_SETL_ID_MAX + 1 + 4 + 1)
/* The store format this build reads and writes, and the oldest it converts
 * (upgrade.c; docs/store.md, "Formats"). */
#define STORE_FORMAT_CURRENT 12u
#define STORE_OLDEST_UPGRADABLE 5u

/* Convert a store of format from (STORE_OLDEST_UPGRADABLE..CURRENT-1) inside txn, whose
 * trees are open, and write the current format; the report (whose backup_dir the
 * caller fills) says what was done or why not. Abandon txn on an error. */
gj_err st_upgrade(store *s, MDB_txn *txn, unsigned from, int64_t now_ms, store_upgrade_report *report);

/* A scan copies the key it stands on: as long as any key LMDB takes (511 bytes by
 * default), so no tree's keys can be too long for it (idempotency keys by time run to
 * 8 + caller + call id). */
#define SCAN_KEY_MAX 511

_Static_assert(SCAN_KEY_MAX >= HOLD_KEY_MAX && SCAN_KEY_MAX >= CLEARING_KEY_MAX, "scans copy every key");

/* DB_SPEND is not a tree of its own: spend records live in the ledger tree
 * (DB_ACCOUNTS) just before their sponsor's account, so a settlement usually dirties
 * one page for the sponsor instead of two. DB_SETL_BY_PSN, the patient index, is keyed
 * by date first, so a day's entries share a few leaves and the branch pages above
 * them. On a disk that pays per scattered page written, that is what a commit costs
 * (docs/store.md). */
enum {
    DB_META,
    DB_PERSONS,
    DB_ACCOUNTS,
    DB_BIND_SPONSOR,
    DB_BIND_BENEFICIARY,
    DB_ORDERS,
    DB_JOURNAL,
    DB_IDEM,
    DB_SPEND,
    DB_SETTLEMENTS,
    DB_HOLDS,
    DB_HOLDS_OPEN,
    DB_DECISIONS,
    DB_DECISIONS_OPEN,
    DB_SETL_BY_PSN,
    DB_CLEARING,
    DB_WINDOWS,
    DB_VERIFICATIONS,
    DB_FREEZES,
    DB_RECOVERIES,
    DB_MOVES,
    DB_POOLS,
    DB_POOL_DRAWS,
    DB_WALLETS,
    DB_WALLET_PENDING,
    DB_IDEM_TIME,
    DB_CREDIT_ROWS,
    DB_COUNT
};

/* A copy of an idem reply read in a write txn: LMDB may move the original on the
 * next write in the same txn, and store.h promises validity until the txn ends. */
struct idem_copy {
    struct idem_copy *next;
    unsigned char bytes[];
};

struct store_txn {
    MDB_txn *txn;
    store *s;
    bool writable;
    /* First LMDB write failure. LMDB has then flagged the txn failed; committing it
     * would also poison the parent, so the writer treats the job as failed. */
    gj_err broken;
    struct idem_copy *copies;
    store_txn *next; /* read pool link */
};

struct completion {
    store_done_fn done;
    void *arg;
    gj_err result;
};

struct waiter; /* store_submit_wait's, on its caller's stack (writer.c) */

struct job {
    store_apply_fn apply;
    store_done_fn done;
    void *arg;
    struct waiter *wait; /* store_submit_wait's completion, else NULL */
    bool bulk;           /* store_submit_wait_bulk: other writes do not wait on its kind */
};

struct store {
    int lock_fd;  /* the data directory's lock (store.c), held while open; -1: none */
    MDB_env *env;
    MDB_dbi dbi[DB_COUNT];
    bool dbis_open;
    unsigned batch_max;
    unsigned queue_max;

    pthread_mutex_t mu; /* guards the queue and closing */
    pthread_cond_t work;
    struct job *queue; /* ring of queue_max */
    unsigned head;
    unsigned len;
    bool closing;
    pthread_t writer;
    bool mu_ready, work_ready, writer_started;

    /* Writer-thread only. */
    struct job *batch;
    gj_err *results;

    pthread_mutex_t pool_mu;
    bool pool_mu_ready;
    store_txn *pool;
    unsigned pool_len;

    /* Done callbacks run on their own thread, so the writer starts the next batch as
     * soon as a commit returns instead of first sending every answer. */
    pthread_t completer;
    bool completer_started, cmu_ready, cwork_ready, cclosing;
    pthread_mutex_t cmu;
    pthread_cond_t cwork, cspace;
    struct completion *cq; /* ring of queue_max */
    unsigned chead, clen;

    unsigned gather_us;  /* how long the writer may wait to fill a batch */
    unsigned last_batch; /* writer only */
    unsigned intake_holds; /* under mu: submitters that want their work kept together */
    _Atomic int64_t other_submitted_ms; /* gj_mono_ms of the last job that was not bulk */

    /* Counters for operators and benchmarks; written by the writer only. */
    _Atomic uint64_t stat_commits;
    _Atomic uint64_t stat_jobs;
    _Atomic uint64_t stat_apply_us;
    _Atomic uint64_t stat_commit_us;
};

/* ---- the writer (writer.c) ---- */

/* The last step of store_open: the locks, the completer and the writer thread. On
 * failure the caller still calls st_writer_stop, then frees the store. */
gj_err st_writer_start(store *s);
/* Let the writer commit everything queued, then stop it and the completer (which
 * runs every done callback it holds first). Safe on a store partly started. */
void st_writer_stop(store *s);

/* ---- bytes and keys ---- */

static inline void put_be32(unsigned char *p, uint32_t v)
{
    for (int i = 3; i >= 0; i--, v >>= 8)
        p[i] = (unsigned char)v;
}

static inline void put_be64(unsigned char *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (unsigned char)v;
}

static inline uint32_t get_be32(const unsigned char *p)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++)
        v = (v << 8) | p[i];
    return v;
}

static inline uint64_t get_be64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

/* A key string from a caller: present, non-empty (LMDB refuses empty keys), and at
 * most max bytes. */
static inline bool key_ok(const char *s, size_t max)
{
    return s != NULL && s[0] != '\0' && strnlen(s, max + 1) <= max;
}

/* A fixed char array inside a record: NUL-terminated within its size. */
#define FIELD_OK(f) (memchr((f), '\0', sizeof(f)) != NULL)
#define KEYFIELD_OK(f) ((f)[0] != '\0' && FIELD_OK(f))

/* pools.c: keep a pool's shares in step with a movement of its account (store.h). */
gj_err st_pool_follow(store_txn *txn, const store_journal_entry *entry);

/* "a\0b": a key whose prefix "a\0" selects everything under a (access.c). */
size_t st_pair_key(char *buf, const char *a, const char *b);

/* Exactly GJ_ADMDVS_LEN digits, then the NUL (access.c). */
bool st_admdvs_ok(const char *a);

/* ---- record access (access.c) ---- */

/* The only place MDB_* codes become gj_err. */
gj_err st_map_err(int rc);

gj_err st_txn_readable(const store_txn *t);
gj_err st_txn_writable(const store_txn *t);

/* A record of exactly size bytes under key; CORRUPT when the stored size differs. */
gj_err st_get_rec(store_txn *t, int db, const void *key, size_t klen, void *out, size_t size);
/* mdb_put; a failure other than KEYEXIST marks the txn broken. */
gj_err st_put_val(store_txn *t, int db, MDB_val *k, MDB_val *v, unsigned flags);
gj_err st_put_rec(store_txn *t, int db, const void *key, size_t klen, const void *val,
                  size_t size, unsigned flags);
/* Delete key; GJ_ERR_NOTFOUND (nothing changed) when absent. */
gj_err st_del_key(store_txn *t, int db, const void *key, size_t klen);
/* Delete key; an absent key is not an error (callers keep indexes in step). */
gj_err st_del_rec(store_txn *t, int db, const void *key, size_t klen);
/* Entries in db; 0 when the txn cannot read. */
uint64_t st_db_entries(store_txn *t, int db);

/* ---- scans that tolerate writes (access.c) ---- */

/* Checks one entry of a scan and hands a copy of it to the caller's callback;
 * *more = false stops the scan. */
typedef gj_err (*st_entry_fn)(store_txn *t, const MDB_val *k, const MDB_val *v, void *ctx,
                              bool *more);

/* Visit the keys of db from start (or, with after_start, from the first key past it;
 * an empty start is the first key), while they begin with prefix (plen 0: all).
 * After each entry the cursor seeks past the key it just visited rather than stepping
 * on, so a callback that writes in the same txn (resolving the hold it was given,
 * which drops it from the open index) neither skips nor repeats an entry. */
gj_err st_scan_range(store_txn *t, int db, const void *start, size_t slen, bool after_start,
                     const void *prefix, size_t plen, st_entry_fn visit, void *ctx);
/* Every entry of db whose key starts with prefix (plen 0: every entry), in key order,
 * until visit stops or fails. */
gj_err st_scan_db(store_txn *t, int db, const void *prefix, size_t plen, st_entry_fn visit,
                  void *ctx);

#endif
