/* The node: one region's daemon state, and the call that carries one request from the
 * transport through dispatch, the rules and the store back to an answer.
 *
 * Flow (one way): bytes -> dispatch_bytes() decodes and validates the envelope, looks
 * the method up in the method table, decodes the request -> the method's check() runs
 * on the receiving thread (roles, fields; read-only methods do all their work here) ->
 * write methods go to the store writer, whose apply() runs rules and writes in one
 * nested LMDB transaction, idempotency record included -> once durable, the packed
 * Reply goes back through the call's finish callback. */
#ifndef GJ_NODE_H
#define GJ_NODE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <pthread.h>

#include "config.h"
#include "metrics.h"
#include "gongji.pb-c.h"
#include "credential.h"
#include "peers.h"
#include "reasons.h"
#include "sessions.h"
#include "store.h"
#include "workers.h"

struct xr_state;
struct xr_settlement;
struct xr_correction;

typedef struct node {
    node_config cfg;
    /* What dispatch serves (methods.c installs the table). */
    const struct method_entry *methods;
    size_t method_count;
    /* Trust (authn.c, docs/security.md): our credential, TLS for the listener and the
     * peer links, and the sessions callers opened here. cred is NULL only on a node
     * running insecure_plaintext without certificates. */
    gj_cred *cred;
    nng_tls_config *tls_server, *tls_client;
    /* The listening side (server.c), set once it listens: for /metrics. */
    struct server *server;
    session_table sessions;
    _Atomic int64_t crl_checked_ms;
    store *store;
    peer_set peers;
    workers *workers;
    int64_t started_mono_ms;
    /* Testing (allow_clock_override): the business clock runs this far from the system
     * clock, from the date and time an operator set; 0 and false = the system clock. */
    _Atomic int64_t clock_offset_ms;
    _Atomic bool clock_overridden;
    _Atomic uint64_t requests_served;
    _Atomic uint32_t in_flight;
    _Atomic bool shutting_down;
    _Atomic bool recovered;  /* the resolver's first round is done (readiness) */
    _Atomic bool restored;   /* restored from a backup, not yet confirmed: no money moves */
    /* The region's policy now: cfg.policy at start, a new copy after each reload
     * (SIGHUP). A copy is never changed or freed while the node runs, so a call reads
     * the one it took at arrival whole (call->policy). */
    _Atomic(const gj_policy *) policy;
    node_metrics metrics;    /* for /metrics (node/probes.c) */
    /* Settlement ids: region-date-boot-counter; boot is a persistent counter bumped at
     * every start, so ids never repeat across restarts without a write per settlement. */
    uint64_t boot_id;
    _Atomic uint64_t setl_counter;
    /* The cross-region protocol's own state (node/xr/): the settlements being decided,
     * the resolver thread, acknowledgements waiting to be written. */
    struct xr_state *xr;
} node;

/* The business date (yyyymmdd, CST) now. */
int32_t node_today(node *n);
/* The region's policy now (a call uses its own snapshot, call->policy). */
static inline const gj_policy *node_policy(node *n)
{
    const gj_policy *p = atomic_load(&n->policy);
    return p != NULL ? p : &n->cfg.policy;
}
/* SIGHUP: read the config file again and, when it is good and names the same region,
 * take its [policy] from now on; log what changed (reload.c). Other sections need a
 * restart, and the log says which changed. */
void node_reload_policy(node *n, const char *config_path);
/* At the very end of a stop: the policies replaced by reloads. */
void node_policies_free(void);
/* The business clock's instant (Unix ms): the system clock's, or the one an operator set
 * running on from there. */
int64_t node_now_ms(node *n);
/* A new settlement id for date (never reused, even across restarts). */
void node_new_setl_id(node *n, int32_t date, char out[GJ_SETL_ID_MAX + 1]);

/* Receives the packed Reply; bytes are valid only during the call. */
typedef void (*call_finish_fn)(void *arg, const uint8_t *bytes, size_t len);

/* Bump allocator for one call's answer: freed all at once when the call ends. */
/* Bytes of arena allocated with the call itself: enough to decode and answer a typical
 * request without another allocation. */
#define CALL_INLINE_ARENA 4096

typedef struct call_arena_block {
    struct call_arena_block *next;
    size_t used, cap;
    bool heap;  /* false for the block allocated with the call */
    max_align_t data[];
} call_arena_block;

struct method_entry;

typedef struct call {
    /* Aligned as malloc aligns: the call's first arena block follows it in memory. */
    _Alignas(max_align_t) node *n;
    Gongji__V1__Envelope *env;
    const struct method_entry *method;
    ProtobufCMessage *request;
    ProtobufCMessage *answer;  /* set by check() or apply() on success */
    gj_reason reason;          /* why it failed; GJ_R_NONE on success */
    char message[256];         /* detail for the failure, or "" for the reason's default */
    int32_t today;             /* business date fixed at arrival */
    const gj_policy *policy;   /* the region's policy as it was at arrival */
    int64_t arrived_us;        /* monotonic, for the latency in /metrics */
    store_digest request_digest; /* what the request means (writes with a call id) */
    uint8_t *reply_bytes;
    size_t reply_len;
    bool reply_owned;          /* reply_bytes is malloc'd by us */
    call_finish_fn finish;
    void *finish_arg;
    call_arena_block *arena;
    ProtobufCAllocator pb_allocator;  /* decodes into the arena */
    /* The slow path: set by routing or check() to run on a worker thread; it must end
     * the call with call_finish(). */
    void (*slow)(struct call *c);
    const char *route_region;  /* where route_forward sends it */
    /* Facts check() found, for the paths after it. */
    bool crosses_regions;      /* money or a copy on another node: the method's remote path */
    char remote_region[GJ_ADMDVS_LEN + 1]; /* PayPremium: the region holding the sponsor's money */
    char push_setl_id[GJ_SETL_ID_MAX + 1]; /* a decision this write changed: delivered after the answer */
    /* Cross-region state (node/xr/), each with one meaning. */
    struct xr_settlement *xr_settlement; /* the settlement this call coordinates */
    struct xr_correction *xr_correction; /* the decision this call corrects */
    /* The settlement this call is deciding (an entry of the deciding set), or NULL. */
    const char *deciding_setl_id;
    /* Who sent it, proven (authn.c): sealed by a session of this node, so the answer is
     * sealed with the same key; or carried in a batch whose seal proved its sender. */
    bool sealed;
    bool in_batch;
    uint8_t session_key[32];
    uint8_t request_mac[32];
    char platform_id[GJ_CALLER_ID_MAX + 1]; /* a PERSON's call: the platform that asserted them */
    const char *route_to; /* SEAL_WRONG_NODE: the region that owns the request */
} call;

/* A handler's table row. check() runs first on the receiving thread; for write methods
 * apply() then runs on the store writer inside a nested transaction. */
typedef struct method_entry {
    const char *name;  /* "gongji.v1.Settlement/Settle" */
    const ProtobufCMessageDescriptor *input;
    gj_reason (*check)(call *c);
    gj_reason (*apply)(call *c, store_txn *txn);  /* NULL = read-only */
    /* The region that owns this request when the envelope names none (NULL = here). */
    const char *(*route)(call *c);
    /* Peer methods are idempotent by their own key (setl_id, leg): no call-id record. */
    bool natural_key;
    /* The slow path for a request check() found crossing regions (crosses_regions):
     * the cross-region protocol's entry for this method. */
    void (*remote)(call *c);
} method_entry;

/* The method table (methods.c) and its length; methods_install gives it to n. */
extern const method_entry node_methods[];
extern const size_t node_method_count;
void methods_install(node *n);

/* Handle one message. Always ends by calling finish exactly once, on this thread or
 * on the store writer thread. Never fails on bad input: bad input gets an error Reply. */
void dispatch_bytes(node *n, const uint8_t *bytes, size_t len, call_finish_fn finish, void *arg);
/* The same for one item of a Peer/Batch: its sender was proven by the batch's seal
 * (batch.c checks the item claims the same caller), so it carries no seal of its own,
 * and its answer is sealed as part of the batch's. */
void dispatch_batch_item(node *n, const uint8_t *bytes, size_t len, call_finish_fn finish, void *arg);

/* ---- the call's life (call.c) ---- */

/* A new call for n, its arena ready; NULL when out of memory. */
call *call_new(node *n);
/* Pack c's Reply (its reason, or its answer) into c->reply_bytes; false when out of
 * memory. */
bool call_build_reply(call *c);
/* Send the call's answer (reply_bytes if set, else one built from reason/answer) and
 * free the call. */
void call_finish(call *c);
/* Drop whatever answer was built and finish with reason. */
void call_finish_error(call *c, gj_reason reason);

/* A call with no client behind it, for work the node does by itself that has to build
 * an answer as a client would have got it (correcting a decision): caller and call id
 * as the original call had them. End it with call_discard(). NULL when out of memory. */
call *call_detached(node *n, const char *caller_id, const char *call_id);
void call_discard(call *c);

/* ---- idempotent writes (writes.c) ---- */

/* One write step: runs on the store writer inside a nested transaction, sets c->answer
 * on success. */
typedef gj_reason (*call_apply_fn)(call *c, store_txn *txn);

/* The fast path: queue the method's apply; the call is finished when it is durable. */
gj_err call_write_submit(call *c);

/* From a worker thread: run apply in the store writer through the idempotency wrapper
 * and wait. Returns the outcome; c->reply_bytes holds the answer on success. */
gj_err call_write_wait(call *c, call_apply_fn apply);

/* The same in two steps, so the worker can do something else while the write is on its
 * way: start queues it (an error means nothing was queued and finish must not be
 * called), finish waits for it and returns what call_write_wait would. */
typedef struct call_write {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
    gj_err result;
} call_write;
gj_err call_write_start(call *c, call_apply_fn apply, call_write *w);
gj_err call_write_finish(call *c, call_write *w);

/* From a worker thread: run apply (which sets c->answer) and then replace the call's
 * idempotency record with the new answer, keyed by c->env's caller and call id and
 * c->request_digest. For a decision corrected after it was written. */
gj_err call_rewrite_wait(call *c, call_apply_fn apply);

/* From a worker, before a slow path starts: a repeat of an answered write is answered
 * again (true; the call is ready to finish), a reused id refused (true), anything else
 * goes on (false). Waits first for another copy of the call still being decided. */
bool call_replay_if_answered(call *c);
/* Wait, within the call's own time, while another copy of it is being decided. */
void call_await_other_copy(call *c);

/* Zeroed memory that lives until the call ends. NULL only when out of memory. */
void *call_alloc(call *c, size_t size);
char *call_strdup(call *c, const char *s);
/* Record a failure with a formatted detail; returns reason for `return call_fail(...)`. */
gj_reason call_fail(call *c, gj_reason reason, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
