/* Shared by the files of the cross-region protocol, and by nothing else. */
#ifndef GJ_XR_INTERNAL_H
#define GJ_XR_INTERNAL_H

#include <pthread.h>

#include "deciding.h"
#include "ops.h"
#include "planner.h"
#include "xr.h"

/* A remote leg's decision acknowledged by its participant, not yet written. */
typedef struct xr_pending_ack {
    char setl_id[GJ_SETL_ID_MAX + 1];
    uint32_t leg;
    uint8_t action; /* store_leg_action acknowledged: a later refund is not */
} xr_pending_ack;

struct xr_state {
    deciding_set deciding;
    /* The resolver thread (resolver.c). */
    pthread_t resolver;
    bool resolver_running;
    pthread_mutex_t resolver_mu;
    pthread_cond_t resolver_cv;
    _Atomic bool resolver_stop;
    /* Decisions waiting for the delivery threads (delivery.c): a ring. */
    pthread_mutex_t delivery_mu;
    pthread_cond_t delivery_cv;
    bool delivery_stop;
    int64_t delivery_drain_until; /* mono ms: stopping, the queue goes out until then */
    size_t delivery_head, delivery_count;
    unsigned delivery_threads;
    pthread_t delivery[GJ_DELIVERY_THREADS];
    store_decision *delivery_queue; /* delivery_cap of them, a ring */
    size_t delivery_cap;            /* config delivery_queue (GJ_DELIVERY_QUEUE_MAX) */
    /* Acknowledged legs not yet written to their decisions (delivery.c). */
    pthread_mutex_t acks_mu;
    size_t ack_count;
    xr_pending_ack acks[GJ_ACKS_PER_WRITE];
};

/* One sponsor of a settlement being coordinated, beside its leg of the plan. */
typedef struct xr_leg {
    char sponsor[GJ_PSN_NO_MAX + 1];
    char admdvs[GJ_ADMDVS_LEN + 1];
    bool needs_void;  /* remote: a hold may exist whose amount we do not know */
    bool speculative; /* remote: decided as holding all it was asked, before it answered */
    int64_t held;     /* remote: what its node said it holds */
} xr_leg;

/* A settlement the coordinator is deciding (coordinator.c). */
typedef struct xr_settlement {
    char setl_id[GJ_SETL_ID_MAX + 1];
    char beneficiary[GJ_PSN_NO_MAX + 1];
    uint8_t use;
    xr_plan plan;            /* the walk, as far as it is known */
    xr_leg legs[GJ_SPONSORS_MAX];
    bool decided;            /* the decision's write ran (not a replay) */
    /* R19, a sponsor named for the bill: its hold answers before the decision is
     * written, so no correction walks the rest of the order afterwards. */
    bool hold_first;
    /* R23, a person moving in (xr_move_in): who, as enrolled here, and from where. */
    Gongji__V1__Person *move_person;
    char move_from[GJ_ADMDVS_LEN + 1];
    store_decision decision; /* what was written */
    /* R24: why the sponsor's node refused the transfer's hold, when it said so. */
    gj_reason hold_refused;
    char hold_detail[256];
} xr_settlement;

/* A remote leg decided before its hold answered, and what the hold came to
 * (correction.c). */
typedef struct xr_correction {
    char setl_id[GJ_SETL_ID_MAX + 1];
    uint32_t leg;
    int64_t amount;           /* what the sponsor's node holds or posted; 0: nothing */
    bool acked;               /* the sponsor's node said so itself (resolver) */
    store_decision decision;  /* out: the decision as corrected */
} xr_correction;

/* ---- coordinator.c, move_in.c ---- */
/* Hold, decide and deliver xs (its plan, legs and use filled in); answers c. */
void xr_coordinate(call *c, xr_settlement *xs);
/* R23, inside the decision's transaction: enroll the person moving in (if an earlier
 * try has not), and credit what the old node posted. */
gj_reason xr_move_in_enroll(call *c, store_txn *txn, const xr_settlement *xs);
gj_reason xr_move_in_credit(call *c, store_txn *txn, const store_settlement *s, const char *from);

/* ---- correction.c ---- */
/* A sponsor of this node pays `pay` of settlement s (checked against what it can share
 * by the caller): the debit with its journal entry, and the sponsor's spend record. */
gj_reason xr_local_sponsor_pays(call *c, store_txn *txn, const store_settlement *s, const char *sponsor,
                                int64_t pay, uint8_t kind);
/* The writer's part (c->xr_correction): leg, clearing row, settlement and the answer
 * made what the hold came to; c->answer is the settlement's answer. */
gj_reason xr_correct_apply(call *c, store_txn *txn);
/* The same from the resolver, with a call of its own; GJ_R_NONE when written. */
gj_reason xr_correct(node *n, xr_correction *fix);

/* ---- participant.c ---- */
/* What a coordinator told a participant to do with one hold. */
typedef struct xr_resolve_args {
    const char *coordinator;
    const char *setl_id;
    uint32_t leg;
    int action;  /* Gongji__V1__LegAction */
    int64_t amount;
    const char *sponsor;
    const char *beneficiary;
    int32_t post_window;
    int32_t refund_window;
    bool up_to;  /* POST: what is held, at most amount; nothing held: a fence */
} xr_resolve_args;
/* Post, void or refund hold (setl_id, leg) exactly once. */
gj_reason xr_participant_resolve(store_txn *txn, const xr_resolve_args *a, int32_t today,
                                 int64_t *resolved_amount, char *detail, size_t detail_size);

/* ---- delivery.c ---- */
/* Regions that did not answer during one resolver round: the rest of their legs wait
 * for the next round instead of each waiting out its own timeout. */
#define XR_DOWN_MAX GJ_RESOLVER_BATCH
typedef struct xr_down_regions {
    size_t count;
    char region[XR_DOWN_MAX][GJ_ADMDVS_LEN + 1];
} xr_down_regions;
/* Send every unacknowledged post/void/refund of d and note the acknowledgements; down
 * (or NULL) skips and collects regions that do not answer. */
void xr_push_decision(node *n, const store_decision *d, xr_down_regions *down);
/* The same from a delivery thread: no worker waits on it. A full queue leaves it to the
 * resolver (a decision is on record) or to presumed abort (an undecided plan's voids). */
void xr_deliver(node *n, const store_decision *d);
void xr_note_ack(node *n, const char *setl_id, uint32_t leg, uint8_t action);

/* ---- port.c: the only file that names the Peer methods ---- */
/* Ask region to hold up to `amount` of sponsor's money for leg `leg` of setl_id. */
typedef struct xr_hold_ask {
    const char *setl_id;
    uint32_t leg;
    const char *sponsor;
    const char *beneficiary;
    int64_t amount;
    uint8_t use;
    int32_t setl_date;
} xr_hold_ask;
gj_reason xr_port_hold(node *n, const char *region, const xr_hold_ask *ask, int timeout_ms, int64_t *held,
                       char *detail, size_t detail_size);
/* Tell participants what was decided, several legs at once (they travel together):
 * leg k of d, or (up_to) "post what you hold, at most the amount". */
typedef struct xr_resolve_call {
    const store_decision *d;
    uint32_t k;
    bool up_to;
    gj_reason reason; /* out */
    int64_t moved;    /* out: what the participant posted, voided or refunded */
    char detail[160]; /* out */
} xr_resolve_call;
void xr_port_resolve_many(node *n, xr_resolve_call *calls, size_t count, int timeout_ms);
/* Ask the coordinator what it decided for one of our holds; *action 0 = still deciding. */
gj_reason xr_port_query_decision(node *n, const store_hold *h, int timeout_ms, int *action, int64_t *amount,
                                 int32_t *post_window, int32_t *refund_window);
/* Tell the beneficiary's node about binding b (new, or ended when b->end_date). */
typedef struct xr_sponsor_side {
    bool live, pilot, one_relationship;
    uint32_t as_sponsor, as_beneficiary;
    bool ending; /* an unbinding: the copy takes the end date, nothing is checked */
    /* R18: the verification the bind carried (NULL = none), and who attested it. */
    const Gongji__V1__Verification *verification;
    const char *attester;
} xr_sponsor_side;
gj_reason xr_port_accept_binding(node *n, const store_binding *b, const xr_sponsor_side *side, int timeout_ms,
                                 char *detail, size_t detail_size);

#endif
