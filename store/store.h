/* gongji store: one region's ledger in LMDB.
 *
 * What it keeps: persons, personal accounts, bindings (indexed by sponsor and by
 * beneficiary), deduction orders, an append-only journal of every money movement,
 * idempotency records, spend records (what each relative spent from a sponsor),
 * settlements and holds.
 *
 * Threads. One writer thread owns every write. Callers hand it work with
 * store_submit(); it runs the work of many callers in one LMDB write transaction
 * (group commit), each caller's work inside its own nested transaction so one
 * caller's failure rolls back only its own changes, then commits and fsyncs, and only
 * then tells each caller through its done callback. Reads use store_read_begin() from
 * any thread, concurrently with the writer (LMDB MVCC; the env is opened MDB_NOTLS).
 *
 * Records are fixed-size C structs stored as they are, each key space in its own
 * named LMDB database. The store knows nothing of nng or protobuf.
 *
 * Every function returns gj_err; MDB_* codes never leave this module.
 */
#ifndef GJ_STORE_H
#define GJ_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gj_error.h"
#include "gj_limits.h"

typedef struct store store;
typedef struct store_txn store_txn;

/* What store_open did to a store of an older format (options.upgrade). */
typedef struct store_upgrade_report {
    unsigned from;          /* the format found; 0: nothing was converted */
    size_t decisions;       /* records converted, by kind */
    size_t first_answers;
    size_t patient_index;   /* entries moved to settlements_by_day (format 12) */
    char backup_dir[4096];  /* where the old store was copied first */
    char why[240];          /* why it was refused, when it was */
} store_upgrade_report;

typedef struct store_options {
    /* A store of an older format is converted (after a compacted copy of it is written
     * to a new directory inside dir) instead of refused with GJ_ERR_FORMAT. */
    bool upgrade;
    store_upgrade_report *upgrade_report; /* may be NULL; cleared first, whatever happens */
    uint64_t map_size;   /* 0: GJ_MAP_SIZE_DEFAULT */
    unsigned batch_max;  /* 0: GJ_WRITE_BATCH_MAX; requests per write transaction */
    unsigned queue_max;  /* 0: GJ_WRITE_QUEUE_MAX; pending submissions before GJ_ERR_FULL */
    unsigned gather_us;  /* 0: commit at once; else wait up to this long for a batch as big
                          * as the last one (see docs/performance.md) */
} store_options;

/* ---- records ---- */

typedef enum store_person_status {
    STORE_PERSON_ACTIVE = 1,
    STORE_PERSON_SUSPENDED = 2,
    STORE_PERSON_TERMINATED = 3,
} store_person_status;

typedef struct store_person {
    char psn_no[GJ_PSN_NO_MAX + 1];
    char certno[GJ_CERTNO_LEN + 1];
    char name[GJ_NAME_MAX + 1];
    char insutype[4];                 /* "310" or "390" */
    char admdvs[GJ_ADMDVS_LEN + 1];   /* home region */
    uint8_t status;                   /* store_person_status */
    int64_t updated_unix_ms;
} store_person;

/* A personal account. balance includes held money (SPEC §6.1). */
typedef struct store_account {
    int64_t balance;
    int64_t held;      /* reserved by in-flight holds; 0 <= held <= balance */
    int64_t credited;  /* sum of all credits ever */
    int64_t paid_out;  /* sum of all payments ever (own settlements, aid, premiums) */
    int64_t refunded;  /* sum of all refunds ever */
} store_account;

typedef struct store_binding {
    char sponsor[GJ_PSN_NO_MAX + 1];
    char beneficiary[GJ_PSN_NO_MAX + 1];
    char sponsor_admdvs[GJ_ADMDVS_LEN + 1];
    char beneficiary_admdvs[GJ_ADMDVS_LEN + 1];
    uint8_t relation;    /* wire Relation value */
    int32_t begin_date;  /* yyyymmdd, first day it pays */
    int32_t end_date;    /* yyyymmdd, first day it no longer pays; 0 = open */
    int64_t created_unix_ms;
} store_binding;

/* A beneficiary's deduction order: sponsors in paying order. */
typedef struct store_order {
    uint32_t count;
    struct {
        char psn_no[GJ_PSN_NO_MAX + 1];
        char admdvs[GJ_ADMDVS_LEN + 1];
    } sponsors[GJ_SPONSORS_MAX];
} store_order;

typedef enum store_journal_kind {
    STORE_J_CREDIT = 1,      /* contribution into the account (+) */
    STORE_J_SETTLE_OWN = 2,  /* the account holder's own settlement (-) */
    STORE_J_SETTLE_AID = 3,  /* mutual aid paid for a relative's settlement (-) */
    STORE_J_PREMIUM = 4,     /* a relative's resident premium (-) */
    STORE_J_REFUND = 5,      /* money returned by a revoke (+) */
    STORE_J_MOVE_OUT = 6,    /* R23: the balance leaving with its person for another region (-) */
    STORE_J_MOVE_IN = 7,     /* R23: ... and arriving at the new region's node (+) */
    STORE_J_POOL_IN = 8,     /* R20: a contribution: out of the contributor (-), into the pool (+) */
    STORE_J_POOL_OUT = 9,    /* R20: a share given back: out of the pool (-), into its contributor (+) */
    STORE_J_WALLET_IN = 10,  /* R24: a transfer from a sponsor elsewhere arriving in a wallet (+) */
    STORE_J_WALLET_OUT = 11, /* R24: ... and going back to the sponsor, not accepted in time (-) */
} store_journal_kind;

/* One money movement. amount is signed: + into the account, - out of it. */
typedef struct store_journal_entry {
    uint64_t seq;  /* assigned by the store: 1, 2, 3, ... */
    int64_t unix_ms;
    uint8_t kind;  /* store_journal_kind */
    char psn_no[GJ_PSN_NO_MAX + 1];
    int64_t amount;
    int64_t balance_after;
    char setl_id[GJ_SETL_ID_MAX + 1];        /* "" for credits */
    char counterpart[GJ_PSN_NO_MAX + 1];     /* the relative aided, or "" */
    char caller_id[GJ_CALLER_ID_MAX + 1];
    char call_id[GJ_CALL_ID_MAX + 1];
} store_journal_entry;

/* What one sponsor paid for one relative's settlement (R13). */
typedef struct store_spend {
    char sponsor[GJ_PSN_NO_MAX + 1];
    char beneficiary[GJ_PSN_NO_MAX + 1];
    char setl_id[GJ_SETL_ID_MAX + 1];
    int64_t amount;
    int32_t setl_date;
    int64_t unix_ms;
    uint8_t use;     /* wire UseType value */
    uint8_t refund;  /* 1: money given back by a revoke (amount is what returned) */
} store_spend;

typedef enum store_settlement_status {
    STORE_SETL_COMMITTED = 1,
    STORE_SETL_REVOKED = 2,
    STORE_SETL_RECOVERED = 3, /* R21: its mutual-aid part given back to the sponsors */
} store_settlement_status;

typedef struct store_settlement {
    char setl_id[GJ_SETL_ID_MAX + 1];
    char psn_no[GJ_PSN_NO_MAX + 1];  /* the beneficiary (patient) */
    int64_t amount;
    int64_t acct_pay;
    int64_t mulaid_pay;
    int64_t cash_pay;
    int32_t setl_date;
    int64_t unix_ms;
    uint8_t use;
    uint8_t status;  /* store_settlement_status */
    uint32_t part_count;
    struct {
        char psn_no[GJ_PSN_NO_MAX + 1];
        char admdvs[GJ_ADMDVS_LEN + 1];
        int64_t amount;
    } parts[GJ_SPONSORS_MAX];
    char caller_id[GJ_CALLER_ID_MAX + 1];
    char call_id[GJ_CALL_ID_MAX + 1];
    int32_t revoke_date;     /* yyyymmdd of the revoke; 0 while committed */
    int64_t revoke_unix_ms;
} store_settlement;

/* ---- lifecycle ---- */

/* Open (creating when absent) the store in directory dir, which must exist, and start
 * its writer thread; the directory stays locked to this process until store_close.
 * opts may be NULL. Errors: GJ_ERR_BUSY (another process has it open), GJ_ERR_FORMAT (a
 * store of another format: store_info says which), GJ_ERR_IO (cannot open or lock),
 * GJ_ERR_CORRUPT (the data file has another format version), GJ_ERR_NOMEM. */
gj_err store_open(store **out, const char *dir, const store_options *opts);

/* The pid written by the process that holds dir (store_open failed with GJ_ERR_BUSY),
 * or 0 when none can be read. */
long store_dir_holder(const char *dir);

/* The store format this build reads and writes; a directory of another format is
 * refused at open with GJ_ERR_CORRUPT (docs/store.md). */
unsigned store_format_version(void);

/* Stop accepting work, finish and commit everything already submitted, stop the
 * writer and close LMDB. Safe on NULL. No read transaction may be open. */
void store_close(store *s);

/* What the writer has done since open: write transactions committed, requests they
 * carried (jobs / commits = the average group-commit batch), and time spent running
 * applies and committing (the fsyncs), in microseconds. Any thread. */
typedef struct store_stats {
    uint64_t commits;
    uint64_t jobs;
    uint64_t apply_us;
    uint64_t commit_us;
    uint64_t queued;      /* submissions waiting for the writer now */
    uint64_t map_used;    /* bytes of the map in use (the last page written) */
    uint64_t map_size;    /* bytes the map may grow to */
} store_stats;
void store_stats_get(store *s, store_stats *out);

/* ---- backup (store/backup.c; gongji-admin) ---- */

/* What a store directory (or a backup of one) holds. format is the store format found,
 * whether or not this build reads it; journal_seq is the last journal entry (0 when the
 * format is not this build's); restored: it carries the restored mark (below). */
typedef struct store_backup_info {
    unsigned format;
    uint64_t journal_seq;
    uint64_t bytes;
    bool restored;
} store_backup_info;
/* Read dir's store read-only, beside a node that may be running on it. */
gj_err store_info(const char *dir, store_backup_info *info);
/* What a store takes on disk, tree by tree (gongji-admin info; docs/operations.md,
 * "Storage"). used_bytes is the file up to its last page in use; pages freed inside it
 * are reused by later writes. */
#define STORE_USAGE_TREES_MAX 48
typedef struct store_tree_usage {
    char name[32];
    uint64_t entries;
    uint64_t bytes; /* its pages (branch, leaf, overflow) */
} store_tree_usage;
typedef struct store_usage_info {
    uint64_t map_bytes, used_bytes;
    size_t count;
    store_tree_usage trees[STORE_USAGE_TREES_MAX];
} store_usage_info;
gj_err store_usage(const char *dir, store_usage_info *out);
/* A compacted copy of dir's store, consistent as of one commit, into to_dir/data.mdb
 * (0600, fsync'd; GJ_ERR_EXISTS when one is there). A node may be running on dir. */
gj_err store_backup(const char *dir, const char *to_dir, store_backup_info *info);

/* A store restored from a backup may have forgotten holds and decisions other regions'
 * nodes remember: it carries this mark (in meta) until an operator has reconciled it
 * and cleared it. */
typedef struct store_restored {
    int64_t restored_unix_ms;
    uint64_t journal_seq;      /* the backup's journal position */
    char backup_time[40];      /* when the backup was taken, as its manifest says */
} store_restored;
gj_err store_restored_get(store_txn *txn, store_restored *out); /* NOTFOUND: not restored */
gj_err store_restored_put(store_txn *txn, const store_restored *r);
gj_err store_restored_clear(store_txn *txn);

/* ---- transactions ---- */

/* A read-only snapshot, usable from any thread. Errors: GJ_ERR_FULL (too many
 * readers), GJ_ERR_IO. End it with store_read_end() on the same or another thread. */
gj_err store_read_begin(store *s, store_txn **out);
void store_read_end(store_txn *txn);

/* Work run on the writer thread inside a nested write transaction. Return GJ_OK to
 * keep its changes; anything else rolls back exactly its own changes, and that value
 * is passed to done. */
typedef gj_err (*store_apply_fn)(store_txn *txn, void *arg);

/* Called on the store's completion thread (never the writer, so the writer goes on to
 * the next batch) once the outcome is final: result is apply's error when
 * apply failed; else GJ_OK once the batch is committed and fsync'd; else the commit
 * error (GJ_ERR_FULL when the map is full, GJ_ERR_IO), in which case nothing of apply
 * was kept. Callbacks run one at a time, in commit order. done must not block for long
 * and must not call store_submit_wait(). */
typedef void (*store_done_fn)(void *arg, gj_err result);

/* Queue work for the writer. Returns at once: GJ_OK (done will be called exactly
 * once), GJ_ERR_FULL (queue full; done will not be called), GJ_ERR_CLOSED. */
gj_err store_submit(store *s, store_apply_fn apply, store_done_fn done, void *arg);

/* Between store_intake_hold() and store_intake_release() the writer takes no new
 * batch (unless a whole batch is already waiting), so work submitted in between goes
 * into one commit: a Peer/Batch's items answer together, and a batch split across two
 * commits would wait for the later one. Holds nest; keep them short (no waiting inside). */
void store_intake_hold(store *s);
void store_intake_release(store *s);

/* Submit and wait for the outcome; returns what done would get. Never call it from
 * the writer thread (from inside apply or done). */
gj_err store_submit_wait(store *s, store_apply_fn apply, void *arg);

/* The same for bulk work no caller is waiting on quickly (a slice of a credit file,
 * housekeeping), and how long ago other work was last submitted: bulk work sizes its
 * pieces by it, since only writes ever wait behind the writer (reads never do). */
gj_err store_submit_wait_bulk(store *s, store_apply_fn apply, void *arg);
int64_t store_ms_since_other_write(store *s);

/* ---- data access: every call takes a transaction; writes need a write txn (inside
 * apply) and return GJ_ERR_INVAL on a read txn. Pointers returned into the store stay
 * valid only until the transaction ends. ---- */

gj_err store_person_get(store_txn *txn, const char *psn_no, store_person *out); /* NOTFOUND */
gj_err store_person_put(store_txn *txn, const store_person *person);
uint64_t store_person_count(store_txn *txn);

/* The account of psn_no; GJ_ERR_NOTFOUND when the person has none. */
gj_err store_account_get(store_txn *txn, const char *psn_no, store_account *out);
/* Create an empty account when absent; GJ_OK either way. */
gj_err store_account_ensure(store_txn *txn, const char *psn_no);

/* ---- credit rows (Registry/CreditBatch) ----
 *
 * A row of a monthly credit file, once credited, is remembered under its key (the
 * operator's row id, prefixed with the batch name when one is given): the same row sent
 * again moves nothing. The record keeps what was credited, so a key reused for another
 * person or amount is told apart from a repeat. Kept for good: about 90 bytes a row. */
typedef struct store_credit_row {
    char psn_no[GJ_PSN_NO_MAX + 1];
    int64_t amount;
    uint64_t journal_seq; /* the credit's journal entry */
    int64_t unix_ms;
} store_credit_row;
#define STORE_CREDIT_ROW_KEY_MAX GJ_CALL_ID_MAX
gj_err store_credit_row_get(store_txn *txn, const char *key, store_credit_row *out);
/* GJ_ERR_EXISTS when key is taken. */
gj_err store_credit_row_put(store_txn *txn, const char *key, const store_credit_row *row);

/* Move money: add entry->amount (signed) to entry->psn_no's balance and append the
 * entry to the journal (the store fills seq and balance_after). The account's credited,
 * paid_out or refunded counter follows entry->kind. Refuses with GJ_ERR_INVAL when the
 * balance would go below held or above GJ_BALANCE_MAX, or |amount| > GJ_AMOUNT_MAX;
 * GJ_ERR_NOTFOUND when there is no account. *after (may be NULL) gets the new account. */
gj_err store_account_move(store_txn *txn, store_journal_entry *entry, store_account *after);

/* Reserve or release part of an account for an in-flight payment: held += delta.
 * GJ_ERR_INVAL when held would leave [0, balance]. */
gj_err store_account_hold(store_txn *txn, const char *psn_no, int64_t delta, store_account *after);

/* Bindings are keyed by (sponsor, beneficiary) and readable from both sides. */
gj_err store_binding_get(store_txn *txn, const char *sponsor, const char *beneficiary,
                         store_binding *out); /* NOTFOUND */
gj_err store_binding_put(store_txn *txn, const store_binding *binding); /* insert or replace */
/* Up to max bindings where psn_no is the sponsor (resp. beneficiary), in key order.
 * *count gets how many were written; GJ_ERR_TOOBIG when there were more than max
 * (the first max are still written). */
gj_err store_binding_list_by_sponsor(store_txn *txn, const char *psn_no, store_binding *out,
                                     size_t max, size_t *count);
gj_err store_binding_list_by_beneficiary(store_txn *txn, const char *psn_no, store_binding *out,
                                         size_t max, size_t *count);
uint64_t store_binding_count(store_txn *txn);

/* R18: the identity check a binding was made with (the beneficiary's), keyed by the
 * pair like the binding; the latest replaces an earlier one. */
#define STORE_VERIFY_METHOD_MAX 15
typedef struct store_verification {
    char sponsor[GJ_PSN_NO_MAX + 1];
    char beneficiary[GJ_PSN_NO_MAX + 1];
    char attester[GJ_CALLER_ID_MAX + 1];  /* the platform (or operator) that attested */
    char method[STORE_VERIFY_METHOD_MAX + 1]; /* "face", ... as the attester names it */
    int64_t verified_unix_ms;             /* when the check was done */
    int64_t recorded_unix_ms;
    int32_t bind_date;                    /* the binding's begin_date it was made for */
} store_verification;
gj_err store_verification_put(store_txn *txn, const store_verification *v);
gj_err store_verification_get(store_txn *txn, const char *sponsor, const char *beneficiary,
                              store_verification *out); /* NOTFOUND */

/* R21: a freeze of a sponsor ('S'), a beneficiary ('B') or one binding ('P'), as the
 * operator set it; lifting keeps the record with lifted_unix_ms set. */
typedef struct store_freeze {
    char target;                          /* 'S', 'B' or 'P' */
    char psn_no[GJ_PSN_NO_MAX + 1];       /* the sponsor, or the beneficiary for 'B' */
    char beneficiary[GJ_PSN_NO_MAX + 1];  /* 'P' only */
    char frozen_by[GJ_CALLER_ID_MAX + 1];
    char reason[GJ_MEMO_MAX + 1];
    int64_t since_unix_ms;
    char lifted_by[GJ_CALLER_ID_MAX + 1];
    int64_t lifted_unix_ms;               /* 0 while in force */
} store_freeze;
gj_err store_freeze_put(store_txn *txn, const store_freeze *f);
gj_err store_freeze_get(store_txn *txn, char target, const char *psn_no, const char *beneficiary,
                        store_freeze *out); /* NOTFOUND */

/* R23: a person moving out of this region ('O': the old node) or into it ('I': the
 * new node). Out: MOVING once marked, MOVED once the balance went across (the record
 * is then the forwarding stub). In: MOVING once enrolled here, MOVED once taken. */
typedef enum store_move_state { STORE_MOVE_MOVING = 1, STORE_MOVE_MOVED = 2 } store_move_state;
typedef struct store_move {
    char psn_no[GJ_PSN_NO_MAX + 1];
    char direction;                       /* 'O' or 'I' */
    char other_admdvs[GJ_ADMDVS_LEN + 1]; /* where to ('O'), where from ('I') */
    uint8_t state;                        /* store_move_state */
    char operator_id[GJ_CALLER_ID_MAX + 1];
    int64_t since_unix_ms, moved_unix_ms;
    int64_t amount;                       /* fen that went across, once MOVED */
    char setl_id[GJ_SETL_ID_MAX + 1];     /* the transfer's */
} store_move;
gj_err store_move_put(store_txn *txn, const store_move *m);
gj_err store_move_get(store_txn *txn, const char *psn_no, store_move *out); /* NOTFOUND */

/* R20: a family pool (家庭共济账户). Its money is an account like a person's, under the
 * pool's id (gj_is_pool_id), so holds, posts and refunds work on it unchanged; this
 * record says whose money it is. Share 0 is the creator's and is drawn first, then the
 * others in the order they first contributed. While the pool is open its balance is the
 * sum of the remaining shares; once closed, both are 0.
 *
 * The store keeps the shares in step with the balance: a mutual-aid or premium debit of
 * a pool account draws the shares (and records the draw under the settlement), a refund
 * puts back what that settlement drew, and a refund to a closed pool goes on at once to
 * the contributors' own accounts (STORE_J_POOL_OUT), all in the caller's transaction. */
typedef enum store_pool_state { STORE_POOL_OPEN = 1, STORE_POOL_CLOSED = 2 } store_pool_state;
typedef struct store_pool_share {
    char psn_no[GJ_PSN_NO_MAX + 1];
    int64_t contributed;  /* every fen ever put in */
    int64_t remaining;    /* what is still in the pool of it */
} store_pool_share;
typedef struct store_pool {
    char pool_id[GJ_PSN_NO_MAX + 1];
    char creator[GJ_PSN_NO_MAX + 1];
    uint8_t state;  /* store_pool_state */
    char created_by[GJ_CALLER_ID_MAX + 1];
    char closed_by[GJ_CALLER_ID_MAX + 1];
    int64_t created_unix_ms, closed_unix_ms;
    uint32_t share_count;  /* >= 1: share 0 is the creator's */
    store_pool_share shares[GJ_POOL_SHARES_MAX];
} store_pool;
gj_err store_pool_put(store_txn *txn, const store_pool *pool);
gj_err store_pool_get(store_txn *txn, const char *pool_id, store_pool *out); /* NOTFOUND */
/* The pool a person created and has not closed; NOTFOUND when none. */
gj_err store_pool_of_creator(store_txn *txn, const char *creator, char pool_id[GJ_PSN_NO_MAX + 1]);
/* What one settlement drew from each share of a pool (what a refund puts back). */
typedef struct store_pool_draw {
    char setl_id[GJ_SETL_ID_MAX + 1];
    char pool_id[GJ_PSN_NO_MAX + 1];
    int64_t taken[GJ_POOL_SHARES_MAX];
} store_pool_draw;
gj_err store_pool_draw_get(store_txn *txn, const char *setl_id, const char *pool_id,
                           store_pool_draw *out); /* NOTFOUND */

/* R24: a transfer into a relative's wallet, at the relative's node, keyed by setl_id
 * (the one-leg settlement that brought it). PENDING ones are also indexed, so the
 * node finds those whose deadline passed without reading the rest. */
typedef enum store_wallet_state {
    STORE_WALLET_PENDING = 1,
    STORE_WALLET_ACCEPTED = 2,
    STORE_WALLET_RETURNED = 3,
} store_wallet_state;
typedef struct store_wallet_transfer {
    char setl_id[GJ_SETL_ID_MAX + 1];
    char relative[GJ_PSN_NO_MAX + 1];
    char wallet_id[GJ_PSN_NO_MAX + 1];
    char sponsor[GJ_PSN_NO_MAX + 1];
    char sponsor_admdvs[GJ_ADMDVS_LEN + 1];
    int64_t amount;
    uint8_t state;  /* store_wallet_state */
    int64_t created_unix_ms, deadline_unix_ms, resolved_unix_ms;
} store_wallet_transfer;
gj_err store_wallet_transfer_put(store_txn *txn, const store_wallet_transfer *t);
gj_err store_wallet_transfer_get(store_txn *txn, const char *setl_id, store_wallet_transfer *out); /* NOTFOUND */
/* PENDING transfers in setl_id order; fn returns false to stop. */
typedef bool (*store_wallet_transfer_fn)(const store_wallet_transfer *t, void *arg);
gj_err store_wallet_pending_scan(store_txn *txn, store_wallet_transfer_fn fn, void *arg);
/* The wallet of a relative (NOTFOUND: none yet), and its making. */
gj_err store_wallet_of(store_txn *txn, const char *relative, char wallet_id[GJ_PSN_NO_MAX + 1]);
gj_err store_wallet_set(store_txn *txn, const char *relative, const char *wallet_id);

/* A beneficiary's deduction order; an absent one reads as count 0 with GJ_OK. */
gj_err store_order_get(store_txn *txn, const char *beneficiary, store_order *out);
gj_err store_order_put(store_txn *txn, const char *beneficiary, const store_order *order);

/* What a request means, as a digest: the node keeps the first 16 bytes of SHA-256 over a
 * canonical form of the request (node/dispatch.c), so a retry that spells a default out
 * is the same request and a caller cannot make two different requests collide. */
#define STORE_DIGEST_LEN 16
typedef struct store_digest {
    uint8_t bytes[STORE_DIGEST_LEN];
} store_digest;
/* The digest of a reversal's tombstone (R14): all zero bytes, which no request's digest
 * is taken to be. */
extern const store_digest store_tombstone;
bool store_digest_equal(const store_digest *a, const store_digest *b);
/* A first answer carried over from a store of format 6 or older keeps that format's
 * request hash (FNV-1a 64 over the method name with its NUL, then the request payload;
 * 1 made 2), tagged: true and the hash when d is such a digest (store/upgrade.c). */
bool store_digest_legacy(const store_digest *d, uint64_t *fnv);

/* Idempotency: the first answer to (caller_id, call_id). request_digest identifies the
 * request's content. On GJ_OK *reply points into the store (valid until txn ends). */
gj_err store_idem_get(store_txn *txn, const char *caller_id, const char *call_id,
                      store_digest *request_digest, const void **reply, size_t *reply_len);
gj_err store_idem_put(store_txn *txn, const char *caller_id, const char *call_id,
                      const store_digest *request_digest, const void *reply, size_t reply_len);
/* Replace the answer of a call on record (NOTFOUND when there is none): a settlement
 * decided before its hold answered, corrected to what the hold came to. */
gj_err store_idem_replace(store_txn *txn, const char *caller_id, const char *call_id,
                          const store_digest *request_digest, const void *reply, size_t reply_len);

/* Delete up to max idempotency records written before before_unix_ms (system clock), the
 * oldest first; *pruned says how many. A retry or a reversal of a call older than that
 * is then a new call: the node's retention says how long callers may count on it. */
gj_err store_idem_prune(store_txn *txn, int64_t before_unix_ms, size_t max, size_t *pruned);
uint64_t store_idem_count(store_txn *txn);

/* Next value of a named persistent counter (1, 2, 3, ...). name is at most 32 chars. */
gj_err store_next_seq(store_txn *txn, const char *name, uint64_t *out);

gj_err store_settlement_put(store_txn *txn, const store_settlement *setl);
gj_err store_settlement_get(store_txn *txn, const char *setl_id, store_settlement *out);
/* R21: who recovered a settlement's mutual-aid part, why and when. */
typedef struct store_recovery {
    char setl_id[GJ_SETL_ID_MAX + 1];
    char operator_id[GJ_CALLER_ID_MAX + 1];
    char reason[GJ_MEMO_MAX + 1];
    int64_t amount;  /* fen given back to the sponsors */
    int64_t unix_ms;
} store_recovery;
gj_err store_recovery_put(store_txn *txn, const store_recovery *r);
gj_err store_recovery_get(store_txn *txn, const char *setl_id, store_recovery *out); /* NOTFOUND */

/* Spend records, keyed by (sponsor, setl_date, unix_ms, setl_id). */
gj_err store_spend_put(store_txn *txn, const store_spend *spend);
/* Spend records of sponsor with from_date <= setl_date <= to_date, in date order,
 * starting after the record whose opaque cursor is `after` ("" = from the start).
 * Writes up to max records; when more remain, next_cursor gets the cursor of the last
 * one written, else "". Cursors are printable, at most GJ_PAGE_TOKEN_MAX characters + NUL. */
gj_err store_spend_list(store_txn *txn, const char *sponsor, int32_t from_date,
                        int32_t to_date, const char *after, store_spend *out, size_t max,
                        size_t *count, char next_cursor[GJ_PAGE_TOKEN_MAX + 1]);

/* Journal, in seq order from first_seq (1 = the beginning). The callback returns false
 * to stop early. */
typedef bool (*store_journal_fn)(const store_journal_entry *entry, void *arg);
gj_err store_journal_scan(store_txn *txn, uint64_t first_seq, store_journal_fn fn, void *arg);
uint64_t store_journal_count(store_txn *txn);

/* Every account, in psn_no order. The callback returns false to stop early. */
typedef bool (*store_account_fn)(const char *psn_no, const store_account *account, void *arg);
gj_err store_account_scan(store_txn *txn, store_account_fn fn, void *arg);

/* ---- cross-region settlement ----
 *
 * A settlement whose sponsors live on other nodes runs in two phases (SPEC §5). The
 * beneficiary's node coordinates; each sponsor's node is a participant:
 *   1. the coordinator asks each participant to hold a sponsor's part: the participant
 *      writes a store_hold (HELD) and raises the account's held amount;
 *   2. the coordinator durably writes its store_decision (which legs to post, which to
 *      void) before telling anyone, then re-sends posts and voids until each is
 *      acknowledged, marking legs acked;
 *   3. a participant posts (debits) or voids (releases) the hold exactly once.
 * A void that arrives before its hold writes a VOIDED hold of amount 0: the fence that
 * makes the late hold find it and be refused. */

typedef enum store_hold_state {
    STORE_HOLD_HELD = 1,
    STORE_HOLD_POSTED = 2,
    STORE_HOLD_VOIDED = 3,
    STORE_HOLD_REFUNDED = 4,  /* posted, then given back by a revoke */
} store_hold_state;

/* One sponsor's part of one settlement at the sponsor's node, keyed by (setl_id, leg). */
typedef struct store_hold {
    char setl_id[GJ_SETL_ID_MAX + 1];
    uint32_t leg;                         /* the sponsor's place in the coordinator's plan */
    char sponsor[GJ_PSN_NO_MAX + 1];
    char beneficiary[GJ_PSN_NO_MAX + 1];
    char coordinator[GJ_ADMDVS_LEN + 1];  /* the beneficiary's home region */
    int64_t amount;                       /* fen reserved; 0 for a fence */
    uint8_t state;                        /* store_hold_state */
    uint8_t use;                          /* wire UseType */
    int32_t setl_date;
    int64_t created_unix_ms;
    int64_t resolved_unix_ms;             /* 0 while HELD */
} store_hold;

gj_err store_hold_get(store_txn *txn, const char *setl_id, uint32_t leg, store_hold *out); /* NOTFOUND */
/* Insert or replace. The store keeps an index of holds in state HELD, so scanning the
 * open ones costs what is open, not what ever was. */
gj_err store_hold_put(store_txn *txn, const store_hold *hold);
typedef bool (*store_hold_fn)(const store_hold *hold, void *arg);
/* Holds in state HELD, in (setl_id, leg) order; the callback returns false to stop. */
gj_err store_hold_scan_open(store_txn *txn, store_hold_fn fn, void *arg);
/* The same from the first past (after_setl_id, after_leg); "" starts at the first. */
gj_err store_hold_scan_open_after(store_txn *txn, const char *after_setl_id, uint32_t after_leg,
                                  store_hold_fn fn, void *arg);
/* Every hold ever written, in (setl_id, leg) order. */
gj_err store_hold_scan(store_txn *txn, store_hold_fn fn, void *arg);
/* Every hold after (after_setl_id, after_leg) in key order ("" = from the first). */
gj_err store_hold_scan_after(store_txn *txn, const char *after_setl_id, uint32_t after_leg, store_hold_fn fn,
                             void *arg);
uint64_t store_hold_open_count(store_txn *txn);

typedef enum store_leg_action {
    STORE_LEG_POST = 1,  /* the hold becomes a debit */
    STORE_LEG_VOID = 2,  /* the hold (or a hold that may yet arrive) is released */
    STORE_LEG_REFUND = 3,/* the settlement was revoked: give the posted amount back */
} store_leg_action;

/* The coordinator's durable decision for one cross-region settlement. */
typedef struct store_decision {
    char setl_id[GJ_SETL_ID_MAX + 1];
    char beneficiary[GJ_PSN_NO_MAX + 1];  /* the patient; participants key fences by it */
    int64_t unix_ms;
    int32_t post_window;    /* clearing window of the posts (yyyymmdd) */
    int32_t refund_window;  /* clearing window of the refunds, once revoked; else 0 */
    uint32_t leg_count;
    struct {
        uint32_t leg;
        char sponsor[GJ_PSN_NO_MAX + 1];
        char admdvs[GJ_ADMDVS_LEN + 1];  /* the participant's region */
        int64_t amount;                  /* fen to post; 0 for a void */
        uint8_t action;                  /* store_leg_action */
        uint8_t acked;                   /* 1 once the participant confirmed */
        uint8_t speculative;             /* 1: written before the hold answered (POST of
                                          * all that was asked); true only once the
                                          * hold is known to be that amount */
    } legs[GJ_SPONSORS_MAX];
} store_decision;

gj_err store_decision_get(store_txn *txn, const char *setl_id, store_decision *out); /* NOTFOUND */
/* Insert or replace; the store indexes decisions that have a leg not yet acked. */
gj_err store_decision_put(store_txn *txn, const store_decision *decision);
typedef bool (*store_decision_fn)(const store_decision *decision, void *arg);
/* Decisions with at least one leg not acked, in setl_id order. */
gj_err store_decision_scan_open(store_txn *txn, store_decision_fn fn, void *arg);
/* The same from the first past after_setl_id ("" starts at the first). */
gj_err store_decision_scan_open_after(store_txn *txn, const char *after_setl_id, store_decision_fn fn,
                                      void *arg);
uint64_t store_decision_open_count(store_txn *txn);

/* Every settlement, in setl_id order (audit). */
typedef bool (*store_settlement_fn)(const store_settlement *setl, void *arg);
gj_err store_settlement_scan(store_txn *txn, store_settlement_fn fn, void *arg);
/* Every settlement whose setl_id sorts after after_setl_id ("" = from the first). */
gj_err store_settlement_scan_after(store_txn *txn, const char *after_setl_id, store_settlement_fn fn, void *arg);

/* ---- settlements by patient (R13: a beneficiary lists who paid what) ---- */

/* Settlements of psn_no (the patient) with from_date <= setl_date <= to_date, newest
 * last, paged like store_spend_list. The store keeps the index itself on
 * store_settlement_put. */
gj_err store_settlement_list_by_psn(store_txn *txn, const char *psn_no, int32_t from_date,
                                    int32_t to_date, const char *after, store_settlement *out,
                                    size_t max, size_t *count, char next_cursor[GJ_PAGE_TOKEN_MAX + 1]);

/* ---- clearing (R16) ----
 *
 * Every cross-region payment, premium and refund writes one clearing entry on each of
 * the two nodes. Entries fall into windows named by a date (yyyymmdd); a window is open
 * until an operator closes it, and a closed window never changes. */

typedef enum store_clearing_direction {
    STORE_CLR_OWED_TO_US = 1,  /* we coordinated: the sponsor's region owes us */
    STORE_CLR_WE_OWE = 2,      /* our sponsor paid: we owe the beneficiary's region */
} store_clearing_direction;

typedef enum store_clearing_kind {
    STORE_CLR_PAYMENT = 1,  /* a settlement's sponsor part */
    STORE_CLR_PREMIUM = 2,  /* a resident premium paid by a sponsor */
    STORE_CLR_REFUND = 3,   /* the reverse row of a revoked payment (amount negative) */
} store_clearing_kind;

typedef struct store_clearing {
    int32_t window;                        /* yyyymmdd */
    char counterparty[GJ_ADMDVS_LEN + 1];  /* the other region */
    char setl_id[GJ_SETL_ID_MAX + 1];
    uint32_t leg;
    uint8_t kind;       /* store_clearing_kind */
    uint8_t direction;  /* store_clearing_direction */
    int64_t amount;     /* fen; negative for a refund row */
    char sponsor[GJ_PSN_NO_MAX + 1];
    char beneficiary[GJ_PSN_NO_MAX + 1];
    int64_t unix_ms;
} store_clearing;

/* Keyed by (window, counterparty, setl_id, leg, kind): a second put of the same key
 * replaces it (the same fact recorded again). GJ_ERR_EXISTS when the window is closed. */
gj_err store_clearing_put(store_txn *txn, const store_clearing *entry);
/* Remove one entry (test and repair tools only; refuses closed windows with
 * GJ_ERR_EXISTS, NOTFOUND when absent). */
gj_err store_clearing_delete(store_txn *txn, int32_t window, const char *counterparty,
                             const char *setl_id, uint32_t leg, uint8_t kind);
typedef bool (*store_clearing_fn)(const store_clearing *entry, void *arg);
/* Entries of window, all counterparties ("" ) or one, in key order. */
gj_err store_clearing_scan(store_txn *txn, int32_t window, const char *counterparty,
                           store_clearing_fn fn, void *arg);
/* Entries of window with one counterparty after (setl_id, leg, kind) in key order
 * (after_setl_id "" = from the first): a page at a time. */
gj_err store_clearing_scan_after(store_txn *txn, int32_t window, const char *counterparty, const char *after_setl_id,
                                 uint32_t after_leg, uint8_t after_kind, store_clearing_fn fn, void *arg);

typedef enum store_window_state { STORE_WINDOW_OPEN = 1, STORE_WINDOW_CLOSED = 2 } store_window_state;
/* A window's state; a window never written reads as OPEN with GJ_OK. */
gj_err store_window_get(store_txn *txn, int32_t window, uint8_t *state, int64_t *closed_unix_ms);
/* Close window (idempotent). */
gj_err store_window_close(store_txn *txn, int32_t window, int64_t unix_ms);
/* The first window >= date that is not closed. */
gj_err store_window_first_open(store_txn *txn, int32_t date, int32_t *window);
/* The earliest window before `before` that holds clearing rows and is not closed
 * (GJ_ERR_NOTFOUND: none); for closing windows after a grace time. */
gj_err store_window_first_unclosed(store_txn *txn, int32_t before, int32_t *window);

#endif
