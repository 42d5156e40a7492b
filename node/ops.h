/* The handlers the method table (methods.c) names, and the helpers they share with the
 * cross-region protocol (node/xr/).
 *
 * check() functions run on the receiving thread: roles and field shapes, and for reads
 * the whole answer from an LMDB read transaction. apply() functions run on the store
 * writer inside one nested write transaction: they read the current state, ask the
 * rules, and write. Returning a reason from apply() rolls back everything it wrote. */
#ifndef GJ_OPS_H
#define GJ_OPS_H

#include "node.h"
#include "rules.h"

/* ---- ops.c: helpers every handler shares ---- */
/* Fail c for a store error, with a message an operator can act on (full map, full disk). */
gj_reason ops_store_reason(call *c, gj_err err);
/* The one log line that says the disk under data_dir is full. */
void ops_log_disk_full(const node *n);
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
Gongji__V1__SettleReply *ops_answer_settlement(call *c, store_txn *txn, const store_settlement *s);
gj_reason ops_count_in_force(call *c, store_txn *txn, const char *psn_no, bool as_sponsor,
                             const char *skip_other, size_t *count);
/* R18: a verification's form (NULL = none given): a method and a time within the last
 * day of the business clock. */
gj_reason ops_check_verification_form(call *c, const Gongji__V1__Verification *v);
/* R18 for binding beneficiary: the form, and whether this node's policy asks for one at
 * the beneficiary's age. */
gj_reason ops_check_verification(call *c, const store_person *beneficiary, const Gongji__V1__Verification *v);
/* Who attests a verification this call carries: the platform a person came through, or
 * the operator. */
const char *ops_attester(call *c);
/* Keep the verification a binding was made with (nothing when v is NULL). */
gj_reason ops_record_verification(call *c, store_txn *txn, const store_binding *b, const Gongji__V1__Verification *v,
                                  const char *attester);
/* R19: the deduction order for this bill: the patient's, or only the sponsor named
 * for it (named "" = the whole order). */
gj_reason ops_order_for_bill(call *c, store_order *order, const char *named);
/* R22: the sponsor's yearly cap, counting beneficiaries other than new_beneficiary
 * whose binding began this calendar year. */
gj_reason ops_check_yearly_cap(call *c, store_txn *txn, const char *sponsor, const char *new_beneficiary);
/* R9 for binding a pair again (existing: its record, or NULL), with the day it may. */
gj_reason ops_check_rebind(call *c, const store_binding *existing);
gj_reason ops_prune_order(call *c, store_txn *txn, const char *beneficiary, store_order *order);
gj_reason ops_sponsor_funds(call *c, store_txn *txn, const char *sponsor_psn_no,
                            const char *beneficiary, int64_t *shareable);
gj_reason ops_pay_from(call *c, store_txn *txn, const char *psn_no, int64_t amount, uint8_t kind,
                       const char *setl_id, const char *counterpart);
/* Append a sponsor to a beneficiary's order (pruned first); SPONSORS_LIMIT_REACHED. */
gj_reason ops_order_add(call *c, store_txn *txn, const char *beneficiary, const char *sponsor,
                        const char *sponsor_admdvs);

/* ---- registry.c: Registry/Enroll, Registry/Credit ---- */
gj_reason enroll_check(call *c);
gj_reason enroll_apply(call *c, store_txn *txn);
gj_reason credit_check(call *c);
gj_reason credit_batch_check(call *c); /* credit_batch.c: the rows go on a worker */
/* End every binding of psn_no still in force, at once (R9; registry.c). */
gj_reason registry_end_bindings(call *c, store_txn *txn, const char *psn_no, uint32_t *ended);
/* R23 (moves.c) */
gj_reason move_check(call *c);
gj_reason move_apply(call *c, store_txn *txn);
gj_reason move_out_check(call *c);
gj_reason move_in_check(call *c);
gj_reason move_in_apply(call *c, store_txn *txn); /* never: a move in always crosses regions */
/* R21 (freezes.c) */
gj_reason freeze_check(call *c);
gj_reason freeze_apply(call *c, store_txn *txn);
/* Mutual aid from sponsor to beneficiary is frozen here: the sponsor, the beneficiary or
 * the binding. */
bool ops_aid_frozen(store_txn *txn, const char *sponsor, const char *beneficiary);
bool ops_beneficiary_frozen(store_txn *txn, const char *beneficiary);
gj_reason credit_apply(call *c, store_txn *txn);

/* ---- pools.c: FamilyPool/Create, Contribute, AddMember, Close, Get (R20) ---- */
gj_reason pool_create_check(call *c);
gj_reason pool_create_apply(call *c, store_txn *txn);
gj_reason pool_contribute_check(call *c);
gj_reason pool_contribute_apply(call *c, store_txn *txn);
gj_reason pool_add_member_check(call *c);
gj_reason pool_add_member_apply(call *c, store_txn *txn);
gj_reason pool_close_check(call *c);
gj_reason pool_close_apply(call *c, store_txn *txn);
gj_reason pool_get_check(call *c);
/* What the pool may give member today (its binding already checked): its balance less
 * what is held, while it is open, unless the member put money into it. */
gj_reason pool_funds(call *c, store_txn *txn, const char *pool_id, const char *member, int64_t *shareable);
/* AddMember: the binding of the pool to the member as it will be written, with the
 * pool's members now; then write it (and answer). Local and cross-region paths. */
gj_reason pool_member_binding(call *c, store_txn *txn, store_binding *b, size_t *members);
gj_reason pool_member_write(call *c, store_txn *txn, const store_binding *b);
/* The pool's answer: record, account and member bindings. NULL when out of memory. */
Gongji__V1__Pool *pool_answer(call *c, store_txn *txn, const store_pool *pool);

/* ---- wallets.c: Wallet/Transfer (its checks), Accept, Get, and the wallet's part of a
 * transfer's decision and return (R24) ---- */
gj_reason wallet_transfer_check(call *c);
gj_reason wallet_transfer_apply(call *c, store_txn *txn); /* never: a transfer crosses provinces */
gj_reason wallet_accept_check(call *c);
gj_reason wallet_accept_apply(call *c, store_txn *txn);
gj_reason wallet_get_check(call *c);
const char *wallet_route_transfer(call *c);
/* At the sponsor's node, before a transfer's hold: the region's caps. */
gj_reason wallet_hold_rules(call *c, store_txn *txn, const char *sponsor, int64_t amount, const char *relative_admdvs);
/* In the transfer's decision (s: the one-leg settlement): the relative's wallet (made on
 * the first transfer) takes it, PENDING until accepted or the deadline. */
gj_reason wallet_credit(call *c, store_txn *txn, const store_settlement *s);
/* The answer to a transfer or an accept. */
gj_reason wallet_answer(call *c, store_txn *txn, const char *setl_id);
/* Give back every PENDING transfer whose deadline has passed (the resolver's tick). */
void wallets_return_due(node *n);

/* ---- mutual_aid.c: MutualAid/Bind, Unbind, SetOrder, ListBindings in one region ---- */
gj_reason bind_check(call *c);
gj_reason bind_apply(call *c, store_txn *txn);
gj_reason unbind_check(call *c);
gj_reason unbind_apply(call *c, store_txn *txn);
gj_reason set_order_check(call *c);
gj_reason set_order_apply(call *c, store_txn *txn);
gj_reason list_bindings_check(call *c);

/* ---- settlement.c: Settlement/Settle with every sponsor here, Balance, Records ---- */
gj_reason settle_check(call *c);
gj_reason settle_apply(call *c, store_txn *txn);
gj_reason balance_check(call *c);
gj_reason records_check(call *c);

/* ---- operator.c: Operator/Health, Operator/SetClock ---- */
gj_reason health_check(call *c);
gj_reason set_clock_check(call *c);
/* After a restore: the operator confirms the node was reconciled (operator.c). */
gj_reason confirm_restore_check(call *c);
gj_reason confirm_restore_apply(call *c, store_txn *txn);
/* A restored node refuses a write that would move money or change records, except the
 * other regions' protocol calls (which finish what it may have forgotten) and the
 * confirmation itself. */
gj_reason ops_restored_gate(call *c);

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
gj_reason clearing_reconcile_check(call *c); /* clearing_reconcile.c */
gj_reason clearing_province_check(call *c);  /* clearing_province.c */
gj_reason clearing_rows_check(call *c);      /* clearing_rows.c */
/* A page of window's clearing rows with counterparty after page_token ("" first, else
 * "setl_id/leg/kind" of the last row given): the arguments checked, *room set to the
 * page's size, then fn for each row (fn stops at *room). */
gj_reason clearing_page_scan(call *c, int32_t window, const char *counterparty, const char *page_token,
                             uint32_t page_size, size_t *room, store_clearing_fn fn, void *arg);
void clearing_reconcile_slow(call *c);
gj_reason clearing_entries_check(call *c);

/* ---- lifecycle.c: revoke, reverse, premiums, patient records ---- */
const char *life_route_revoke(call *c);
const char *life_route_reverse(call *c);
const char *life_route_premium(call *c);
gj_reason life_revoke_check(call *c);
const char *life_route_recover(call *c);
gj_reason life_recover_check(call *c);
gj_reason life_recover_apply(call *c, store_txn *txn);
gj_reason life_revoke_apply(call *c, store_txn *txn);
/* A revoke inside txn: every fen back where it came from (aid_only: the sponsors'
 * parts only, a recovery); wallet_return: a wallet transfer going back to its sponsor,
 * the only way one is undone. Remote refunds go out once c->push_setl_id is delivered. */
gj_reason life_undo_in_txn(call *c, store_txn *txn, const char *setl_id, bool aid_only, bool wallet_return,
                           Gongji__V1__RevokeReply **out);
gj_reason life_reverse_check(call *c);
gj_reason life_reverse_apply(call *c, store_txn *txn);
gj_reason life_premium_check(call *c);
gj_reason life_premium_apply(call *c, store_txn *txn);
gj_reason life_settlement_records_check(call *c);
/* statements.c: an institution's totals for a window (national 3201). */
gj_reason statement_totals_check(call *c);
gj_reason statement_settlements_check(call *c);
const char *statement_route(call *c);

/* ---- audit.c: Operator/Audit ---- */
gj_reason audit_check(call *c);

#endif
