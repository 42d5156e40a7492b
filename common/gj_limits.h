/* gongji limits: every bound in one place, each with why and its default.
 * Change a value here, rebuild, and every module follows. Those a region operator may
 * move at start (README, "Configuration") have a _DEFAULT or _MAX default here and a _CAP (or
 * _MAX) the node config cannot pass. */
#ifndef GJ_LIMITS_H
#define GJ_LIMITS_H

/* Person number: the national psn_no is 30 characters at most. */
#define GJ_PSN_NO_MAX 32
/* Resident ID (GB 11643): exactly 18 characters. */
#define GJ_CERTNO_LEN 18
/* Name in UTF-8: 20 Chinese characters of 3 bytes, with room to spare. */
#define GJ_NAME_MAX 64
/* Region (admdvs) code: 6 digits. */
#define GJ_ADMDVS_LEN 6
/* Settlement id: region(6) + date(8) + sequence(12) + separators. */
#define GJ_SETL_ID_MAX 39
/* Caller ids and call ids are chosen by callers; bounded so keys fit LMDB's 511 bytes. */
#define GJ_CALLER_ID_MAX 64
#define GJ_CALL_ID_MAX 64
/* Institution code (fixmedins_code) is 12 characters nationally. */
#define GJ_INSTITUTION_MAX 32

/* Bindings read for one person at once (in force and ended), bounding every scan. */
#define GJ_BINDINGS_PER_PERSON_MAX 256
/* Sponsors a beneficiary may have in the deduction order: more than any family has. */
#define GJ_SPONSORS_MAX 16
/* Beneficiaries one sponsor may have, whatever a region's policy says (Hunan: 10). */
#define GJ_BENEFICIARIES_MAX 64
/* R20: contributors a family pool keeps a share for (the creator's is the first). */
#define GJ_POOL_SHARES_MAX 8
/* R20: a pool's id is this prefix, its region and a sequence number ("POOL430100000007");
 * no person may be enrolled with a number that starts with it. */
#define GJ_POOL_ID_PREFIX "POOL"
/* R24: a relative's wallet is an account under this prefix, its region and a sequence
 * number ("WLT510100000003"); no person may be enrolled with such a number. */
#define GJ_WALLET_ID_PREFIX "WLT"
/* R24: transfers a wallet answer lists. */
#define GJ_WALLET_TRANSFERS_LISTED 50
/* Regions a policy may list (refused sponsor regions). */
#define GJ_POLICY_REGIONS_MAX 64

/* Largest amount in one request: 10 million yuan in fen. Keeps every sum far from
 * INT64_MAX so additions of a few amounts cannot overflow. */
#define GJ_AMOUNT_MAX 1000000000LL
/* Largest balance an account may reach: 1 billion yuan in fen. */
#define GJ_BALANCE_MAX 100000000000LL

/* A request message above this is answered RESOURCE_EXHAUSTED without decoding. */
#define GJ_MSG_MAX (64 * 1024)
/* nng drops a connection whose message exceeds this: it bounds memory per message while
 * leaving room to answer messages between GJ_MSG_MAX and this with an error. */
#define GJ_MSG_HARD_MAX (1024 * 1024)

/* Server contexts: requests handled concurrently by one node. */
#define GJ_SERVER_CONTEXTS_DEFAULT 64
#define GJ_SERVER_CONTEXTS_MAX 1024

/* Store writer queue: requests waiting for the writer; past it callers get RESOURCE_EXHAUSTED. */
#define GJ_WRITE_QUEUE_MAX 4096
#define GJ_WRITE_QUEUE_CAP 65536
/* Group commit: how long the writer may wait for a batch as big as the last, in µs.
 * Measured in docs/performance.md; 0 turns it off. */
#define GJ_COMMIT_GATHER_DEFAULT_US 0
/* Requests committed in one LMDB transaction (group commit). */
#define GJ_WRITE_BATCH_MAX 256

/* LMDB map size: the largest the data file may grow. 64 GiB holds >10 million people. */
#define GJ_MAP_SIZE_DEFAULT (64ULL << 30)

/* Default deadline when a request names none, in ms. */
#define GJ_DEADLINE_DEFAULT_MS 5000
/* Records returned in one page. */
#define GJ_PAGE_SIZE_DEFAULT 50
#define GJ_PAGE_SIZE_MAX 500
/* A credit's memo, in bytes. */
#define GJ_MEMO_MAX 128
/* The longest revoke window a policy may set (R14): ten years of days. */
#define GJ_REVOKE_DAYS_MAX 3660
/* R18: an identity check counts for a day after it was done, and may be stamped this
 * far ahead of the node's clock (the platform's clock differs a little). */
#define GJ_VERIFICATION_VALID_MS (24LL * 3600 * 1000)
#define GJ_CLOCK_SKEW_MS (5LL * 60 * 1000)
/* The longest a policy may keep a binding from being ended (R17): ten years. */
#define GJ_UNBIND_MIN_MONTHS_MAX 120
/* An institution's statement (InstitutionTotals, national 3201) covers at most this
 * many days: a quarter. */
#define GJ_STATEMENT_DAYS_MAX 92
/* InstitutionSettlements (national 3202): settlements per page, about 100 bytes each. */
#define GJ_STATEMENT_PAGE_DEFAULT 1000
#define GJ_STATEMENT_PAGE_MAX 2000
/* Page tokens (cursors) a node gives out: printable, at most this many characters. */
#define GJ_PAGE_TOKEN_MAX 79
/* Audit: cross-region payments per page (about 80 bytes each: well under a message),
 * and the accounts its journal replay tracks in one pass over the journal (16 bytes
 * each); a node with more people replays in several passes, each bounded the same. */
#define GJ_AUDIT_PAGE_DEFAULT 2000
#define GJ_AUDIT_PAGE_MAX 5000
#define GJ_AUDIT_REPLAY_SLOTS (1u << 21)
/* Peer/ClearingEntries: entries per page (about 60 bytes each), and how many pages a
 * reconcile follows at most (a bound on its work, far above any window). */
#define GJ_CLEARING_PAGE_DEFAULT 2000
#define GJ_CLEARING_PAGE_MAX 5000
#define GJ_CLEARING_PAGES_MAX 10000
/* A long scan (audit) looks at its caller's deadline, and at the node stopping, this
 * often (records visited): a clock read per 64 records costs nothing a scan notices,
 * and a deadline is kept to within a few microseconds of work. */
#define GJ_SCAN_CHECK_EVERY 64
/* A page of a person's settlements seeks at most twice for each day with any entry in
 * its range; past this many days it ends early and the caller pages on, so one call
 * costs at most a few hundred microseconds whatever the range and history. */
#define GJ_LIST_DAYS_PER_PAGE 366

/* Forwarding hops before a request is refused as looping. */
#define GJ_HOPS_MAX 4
/* Each forwarding hop keeps this much of the deadline for itself, so an answer (even
 * UNAVAILABLE) gets back before the caller gives up. */
#define GJ_HOP_MARGIN_MS 100
/* Worker threads for calls that wait on other nodes, and their queue. */
#define GJ_WORKERS_DEFAULT 32
#define GJ_WORKERS_MAX 256
/* Settlements a node keeps track of as being decided: one per worker, plus those whose
 * hold a crash left unknown (at most the settlements in flight, and answered ones whose
 * acknowledgement had not been written). */
#define GJ_DECIDING_MAX (3 * GJ_WORKERS_MAX)
#define GJ_WORKER_QUEUE_MAX 1024
#define GJ_WORKER_QUEUE_CAP 65536
/* Calls that may wait at once on a region that stopped answering (node/region_watch.h);
 * the rest are refused at once until it answers again. */
#define GJ_SUSPECT_CALLS_MAX 2
#define GJ_SUSPECT_CALLS_CAP 64
/* ...and how long a region stays suspect after a call last found it silent. */
#define GJ_SUSPECT_MS 5000
#define GJ_SUSPECT_MS_CAP 600000
/* Decisions waiting for the delivery threads (node/xr/delivery.c); past it the resolver
 * delivers them from the store, and an undecided plan's voids are presumed. */
#define GJ_DELIVERY_QUEUE_MAX 256
#define GJ_DELIVERY_QUEUE_CAP 65536
#define GJ_DELIVERY_THREADS 4
/* At stop, how long the delivery threads keep sending what is queued. */
#define GJ_DELIVERY_DRAIN_MS 3000
/* Below this much of its time left, a settlement asks no more holds: no time for the
 * answer to come back (the next sponsor, or cash, pays). */
#define GJ_HOLD_BUDGET_MIN_MS 20
/* How long one call to a peer may take when the caller's deadline allows more. */
#define GJ_PEER_TIMEOUT_DEFAULT_MS 1000
/* The resolver wakes this often to re-send posts and voids. */
#define GJ_RESOLVE_INTERVAL_DEFAULT_MS 500
/* Open decisions and stale holds the resolver takes in one round. */
#define GJ_RESOLVER_BATCH 32
/* A participant asks the coordinator about a hold left HELD this long. */
#define GJ_RESOLVE_AFTER_DEFAULT_MS 10000
/* Peers a node config may list. */
#define GJ_PEERS_MAX 128
/* Peer/Batch: items in one batch, their bytes (well inside GJ_MSG_MAX), batches in
 * flight to one region at once, and regions a node keeps an outbox for. */
#define GJ_BATCH_ITEMS_MAX 64
#define GJ_BATCH_BYTES_MAX (48 * 1024)
#define GJ_BATCHES_IN_FLIGHT 4
#define GJ_OUTBOXES_MAX 64
/* In logs, a run of this many digits or more in a caller's call id is masked: person
 * numbers run longer (IDs are 18), setl ids' and dates' runs are shorter. */
#define GJ_LOG_DIGIT_RUN_MASKED 10

/* Sessions a node keeps (Auth/Open); past it the least recently used in a bucket goes,
 * and its caller opens another. 4096 covers every institution terminal of a city. */
#define GJ_SESSIONS_MAX 4096
#define GJ_SESSIONS_CAP (1 << 20)
/* A session lives at most this long (its certificate's expiry may end it sooner). */
#define GJ_SESSION_LIFE_DEFAULT_S 3600
/* How often a node looks at its CRL file for a new list (and on SIGHUP at once). */
#define GJ_CRL_CHECK_INTERVAL_MS 1000
/* Stopping: how long accepted requests may take to finish, and the bound on the whole
 * stop after SIGTERM, whatever peers or clients do (node/main.c). */
#define GJ_STOP_DRAIN_MS 5000
#define GJ_STOP_BOUND_MS 10000
/* The drain an operator may set leaves the rest of the bound to close the store. */
#define GJ_STOP_DRAIN_CAP_MS 6000
/* ...and, once the store is closed, how long closing connections may take. */
#define GJ_STOP_TRANSPORT_MS 3000
/* Before a socket is closed, how long late answers to calls that timed out may take to
 * arrive (trust/link_stats.h says why it waits). */
#define GJ_LINK_CLOSE_DRAIN_MS 1000
/* A dialer with no connection that finished no connection attempt for this long has
 * given up and may be replaced (trust/link_stats.h): four times the longest wait
 * between attempts of any link (peers back off up to 500 ms, clients 200 ms). */
#define GJ_DIALER_QUIET_MS 2000
/* Acknowledged posts and voids a coordinator gathers before writing them in one go. */
#define GJ_ACKS_PER_WRITE 64

#endif
