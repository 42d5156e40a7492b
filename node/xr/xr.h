/* The cross-region transaction protocol (SPEC §5, docs/federation.md): what the rest of
 * the node may call. The method table names the entries below; boot starts and stops
 * the protocol's state and its resolver thread; revokes hand it decisions to deliver.
 *
 * Inside (node/xr/):
 *   planner.c      the deduction walk, pure (every settlement, local or not, uses it)
 *   coordinator.c  the patient's node: walk, holds, decide, decide while holding
 *   correction.c   a decision corrected to what a hold came to
 *   participant.c  the sponsor's node: hold, resolve (post, void, refund), the fence
 *   bindings.c     bindings whose two people live on different nodes
 *   pool_members.c R20: family pool members on other nodes
 *   wallet_transfer.c R24: a transfer into a wallet here from another province
 *   deciding.c     the settlements being decided right now
 *   delivery.c     decisions reaching participants: pushed, acknowledged, asked for
 *   resolver.c     the thread that finishes what a request or a crash left open
 *   port.c         the one file that speaks the Peer methods to other nodes
 * Calls go one way: coordinator -> correction, delivery, port, deciding, planner;
 * resolver -> delivery, participant, port; delivery -> correction, port. */
#ifndef GJ_XR_H
#define GJ_XR_H

#include "node.h"

/* The protocol's state for n; 0, or -1 when out of memory. */
int xr_init(node *n);
void xr_fini(node *n);

/* Slow paths for requests whose check() found them crossing regions. Each ends the
 * call. */
void xr_bind(call *c);    /* sponsor here, beneficiary elsewhere */
void xr_unbind(call *c);  /* sponsor here, beneficiary elsewhere */
void xr_settle(call *c);  /* patient here, a sponsor elsewhere */
void xr_premium(call *c); /* relative here, the paying sponsor elsewhere */
void xr_move_in(call *c); /* R23: a person moving here, their balance on their old node */
void xr_pool_add_member(call *c); /* R20: a pool here, its new member elsewhere */
void xr_pool_close(call *c);      /* R20: a pool here with members elsewhere */
void xr_wallet_transfer(call *c); /* R24: a wallet here, its sponsor in another province */

/* Peer methods. */
gj_reason xr_accept_binding_check(call *c);
gj_reason xr_accept_binding_apply(call *c, store_txn *txn);
gj_reason xr_hold_check(call *c);
gj_reason xr_hold_apply(call *c, store_txn *txn);
gj_reason xr_resolve_check(call *c);
gj_reason xr_resolve_apply(call *c, store_txn *txn);
gj_reason xr_query_decision_check(call *c);

/* After a write changed a decision's legs (a revoke turned posts into refunds): send
 * what is unacknowledged now; the resolver repeats it until acknowledged. */
void xr_deliver_decision_of(node *n, const char *setl_id);

/* At start, before serving: every settlement decided before its hold answered and not
 * yet confirmed goes into the deciding set as unknown (replays of it then wait until
 * the resolver has asked). -1 when they cannot all be tracked. */
int xr_track_unknown(node *n);
/* The resolver thread and the delivery threads. Stop waits for the call in progress
 * (each bounded by the peer timeout); decisions still queued are left to the resolver. */
int xr_resolver_start(node *n);
void xr_resolver_stop(node *n);
int xr_delivery_start(node *n);
void xr_delivery_stop(node *n);
/* Write the acknowledgements gathered so far (at stop, after the workers). */
void xr_write_acks(node *n);

#endif
