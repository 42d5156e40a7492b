/* Helpers shared by the single-region operations (ops.c) and the cross-region ones
 * (federation.c), and the cross-region entry points the method table names. */
#ifndef GJ_OPS_H
#define GJ_OPS_H

#include "node.h"
#include "rules.h"

gj_reason ops_store_reason(call *c, gj_err err);
gj_reason ops_out_of_memory(call *c);
bool ops_is_role(call *c, Gongji__V1__Role role);
bool ops_is_self(call *c, const char *psn_no);
gj_reason ops_check_psn_no(call *c, const char *field, const char *psn_no);
gj_reason ops_deny(call *c, const char *who);
gj_reason ops_get_local_person(call *c, store_txn *txn, const char *psn_no, store_person *out);
Gongji__V1__AccountBalance *ops_answer_balance(call *c, const store_person *p,
                                               const store_account *a);
Gongji__V1__Binding *ops_answer_binding(call *c, const store_binding *sb);
Gongji__V1__SponsorPart **ops_answer_parts(call *c, const store_settlement *s);
Gongji__V1__SettleReply *ops_answer_settlement(call *c, const store_settlement *s);
gj_reason ops_count_in_force(call *c, store_txn *txn, const char *psn_no, bool as_sponsor,
                             const char *skip_other, size_t *count);
gj_reason ops_prune_order(call *c, store_txn *txn, const char *beneficiary, store_order *order);
gj_reason ops_sponsor_funds(call *c, store_txn *txn, const char *sponsor_psn_no,
                            const char *beneficiary, int64_t *shareable);
gj_reason ops_pay_from(call *c, store_txn *txn, const char *psn_no, int64_t amount, uint8_t kind,
                       const char *setl_id, const char *counterpart);
/* Append a sponsor to a beneficiary's order (pruned first); SPONSORS_LIMIT_REACHED. */
gj_reason ops_order_add(call *c, store_txn *txn, const char *beneficiary, const char *sponsor,
                        const char *sponsor_admdvs);

/* ---- federation.c ---- */

/* Routing: the region owning a request, from its payload. */
const char *fed_route_bind(call *c);
const char *fed_route_unbind(call *c);
const char *fed_route_settle(call *c);

/* Slow paths set by check(). */
void fed_bind_remote(call *c);    /* sponsor here, beneficiary elsewhere */
void fed_unbind_remote(call *c);  /* sponsor here, beneficiary elsewhere */
void fed_settle(call *c);         /* beneficiary here, a sponsor elsewhere */
void fed_premium(call *c);        /* beneficiary here, the paying sponsor elsewhere */

/* Peer methods. */
gj_reason fed_accept_binding_check(call *c);
gj_reason fed_accept_binding_apply(call *c, store_txn *txn);
gj_reason fed_hold_check(call *c);
gj_reason fed_hold_apply(call *c, store_txn *txn);
gj_reason fed_resolve_check(call *c);
gj_reason fed_resolve_apply(call *c, store_txn *txn);
gj_reason fed_query_decision_check(call *c);

/* What a coordinator told a participant to do with one hold. */
typedef struct fed_resolve_args {
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
} fed_resolve_args;
gj_reason fed_participant_resolve(store_txn *txn, const fed_resolve_args *a, int32_t today,
                                  int64_t *resolved_amount, char *detail, size_t detail_size);

/* A remote leg decided before its hold answered (docs/federation.md, "Deciding while
 * the hold is made"), and what the hold came to. */
typedef struct settle_fix {
    char setl_id[GJ_SETL_ID_MAX + 1];
    uint32_t leg;
    int64_t amount;           /* what the sponsor's node holds or posted; 0: nothing */
    bool acked;               /* the sponsor's node said so itself (resolver) */
    store_decision decision;  /* out: the decision as corrected */
} settle_fix;
/* The writer's part (c->ext is the settle_fix): leg, clearing row, settlement and the
 * answer made what the hold came to; c->answer is the settlement's answer. */
gj_reason fed_settle_fix_apply(call *c, store_txn *txn);
/* The same from the resolver, with a call of its own; GJ_R_NONE when written. */
gj_reason fed_settle_fix(node *n, settle_fix *fix);

/* ---- batch.c: Peer/Batch, several peer calls in one message ---- */
gj_reason batch_check(call *c);

/* ---- clearing.c ---- */

/* Write one clearing row into the first open window at or after window_hint. */
gj_reason clearing_record(store_txn *txn, int32_t window_hint, const char *counterparty,
                          const char *setl_id, uint32_t leg, uint8_t kind, uint8_t direction,
                          int64_t amount, const char *sponsor, const char *beneficiary);
gj_reason clearing_totals_check(call *c);
gj_reason clearing_close_check(call *c);
gj_reason clearing_close_apply(call *c, store_txn *txn);
gj_reason clearing_reconcile_check(call *c);
void clearing_reconcile_slow(call *c);
gj_reason clearing_entries_check(call *c);

/* ---- lifecycle.c: revoke, reverse, premiums, patient records ---- */
const char *life_route_revoke(call *c);
const char *life_route_reverse(call *c);
const char *life_route_premium(call *c);
gj_reason life_revoke_check(call *c);
gj_reason life_revoke_apply(call *c, store_txn *txn);
gj_reason life_reverse_check(call *c);
gj_reason life_reverse_apply(call *c, store_txn *txn);
gj_reason life_premium_check(call *c);
gj_reason life_premium_apply(call *c, store_txn *txn);
gj_reason life_settlement_records_check(call *c);

/* Operator/Audit. */
gj_reason audit_check(call *c);

/* The resolver thread (resolver.c). */
int resolver_start(node *n);
void resolver_stop(node *n);
void resolver_wake(node *n);
/* At start, before serving: put every settlement decided before its hold answered and
 * not yet confirmed into the deciding set as unknown (replays of it then wait until the
 * resolver has asked). -1 when they cannot all be tracked. */
int resolver_track_unknown(node *n);
/* Write the acknowledgements gathered so far to their decisions (each resolver round,
 * at stop, and whenever GJ_ACKS_PER_WRITE have gathered). */
void resolver_write_acks(node *n);
/* Send every unacknowledged post/void of decision now and record the acks. */
void resolver_push_decision(node *n, const store_decision *decision);

#endif
