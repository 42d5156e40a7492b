/* The method table: every method a node serves, with its check (on the receiving
 * thread), its write (on the store writer), the region that owns a request that names
 * none, and the cross-region protocol's path when check() finds the request crossing
 * regions. The one place that ties the handlers (registry.c, mutual_aid.c,
 * settlement.c, operator.c, lifecycle.c, clearing.c, audit.c, batch.c, authn.c) and the
 * protocol (node/xr/) to method names. */
#include "authn.h"
#include "node.h"
#include "ops.h"
#include "routing.h"
#include "session.h"
#include "xr/xr.h"


const method_entry node_methods[] = {
    {"gongji.v1.Registry/Enroll", &gongji__v1__enroll_request__descriptor, enroll_check, enroll_apply, NULL, false, NULL},
    {"gongji.v1.Registry/Credit", &gongji__v1__credit_request__descriptor, credit_check, credit_apply, NULL, false, NULL},
    {"gongji.v1.Registry/CreditBatch", &gongji__v1__credit_batch_request__descriptor, credit_batch_check, NULL, NULL,
     false, NULL},
    {"gongji.v1.Registry/Freeze", &gongji__v1__freeze_request__descriptor, freeze_check, freeze_apply, NULL, false, NULL},
    {"gongji.v1.Registry/Move", &gongji__v1__move_request__descriptor, move_check, move_apply, NULL, false, NULL},
    {"gongji.v1.Registry/MoveIn", &gongji__v1__move_in_request__descriptor, move_in_check, move_in_apply, NULL, false,
     xr_move_in},
    {"gongji.v1.FamilyPool/Create", &gongji__v1__pool_create_request__descriptor, pool_create_check,
     pool_create_apply, NULL, false, NULL},
    {"gongji.v1.FamilyPool/Contribute", &gongji__v1__pool_contribute_request__descriptor, pool_contribute_check,
     pool_contribute_apply, NULL, false, NULL},
    {"gongji.v1.FamilyPool/AddMember", &gongji__v1__pool_add_member_request__descriptor, pool_add_member_check,
     pool_add_member_apply, NULL, false, xr_pool_add_member},
    {"gongji.v1.FamilyPool/Close", &gongji__v1__pool_close_request__descriptor, pool_close_check,
     pool_close_apply, NULL, false, xr_pool_close},
    {"gongji.v1.FamilyPool/Get", &gongji__v1__pool_get_request__descriptor, pool_get_check, NULL, NULL, false, NULL},
    {"gongji.v1.Wallet/Transfer", &gongji__v1__wallet_transfer_request__descriptor, wallet_transfer_check,
     wallet_transfer_apply, wallet_route_transfer, false, xr_wallet_transfer},
    {"gongji.v1.Wallet/Accept", &gongji__v1__wallet_accept_request__descriptor, wallet_accept_check,
     wallet_accept_apply, NULL, false, NULL},
    {"gongji.v1.Wallet/Get", &gongji__v1__wallet_get_request__descriptor, wallet_get_check, NULL, NULL, false, NULL},
    {"gongji.v1.MutualAid/Bind", &gongji__v1__bind_request__descriptor, bind_check, bind_apply,
     route_owner_bind, false, xr_bind},
    {"gongji.v1.MutualAid/Unbind", &gongji__v1__unbind_request__descriptor, unbind_check, unbind_apply,
     route_owner_unbind, false, xr_unbind},
    {"gongji.v1.MutualAid/SetOrder", &gongji__v1__set_order_request__descriptor, set_order_check,
     set_order_apply, NULL, false, NULL},
    {"gongji.v1.MutualAid/ListBindings", &gongji__v1__list_bindings_request__descriptor,
     list_bindings_check, NULL, NULL, false, NULL},
    {"gongji.v1.Settlement/Settle", &gongji__v1__settle_request__descriptor, settle_check, settle_apply,
     route_owner_settle, false, xr_settle},
    {"gongji.v1.Settlement/Balance", &gongji__v1__balance_request__descriptor, balance_check, NULL, NULL, false, NULL},
    {"gongji.v1.Settlement/InstitutionTotals", &gongji__v1__institution_totals_request__descriptor,
     statement_totals_check, NULL, statement_route, false, NULL},
    {"gongji.v1.Settlement/InstitutionSettlements", &gongji__v1__institution_settlements_request__descriptor,
     statement_settlements_check, NULL, statement_route, false, NULL},
    {"gongji.v1.Settlement/Records", &gongji__v1__records_request__descriptor, records_check, NULL, NULL, false, NULL},
    {"gongji.v1.Settlement/Revoke", &gongji__v1__revoke_request__descriptor, life_revoke_check,
     life_revoke_apply, life_route_revoke, false, NULL},
    {"gongji.v1.Settlement/Recover", &gongji__v1__recover_request__descriptor, life_recover_check,
     life_recover_apply, life_route_recover, false, NULL},
    {"gongji.v1.Settlement/Reverse", &gongji__v1__reverse_request__descriptor, life_reverse_check,
     life_reverse_apply, life_route_reverse, false, NULL},
    {"gongji.v1.Settlement/PayPremium", &gongji__v1__pay_premium_request__descriptor, life_premium_check,
     life_premium_apply, life_route_premium, false, xr_premium},
    {"gongji.v1.Settlement/SettlementRecords", &gongji__v1__settlement_records_request__descriptor,
     life_settlement_records_check, NULL, NULL, false, NULL},
    {"gongji.v1.Clearing/ClearingTotals", &gongji__v1__clearing_totals_request__descriptor,
     clearing_totals_check, NULL, NULL, false, NULL},
    {"gongji.v1.Clearing/CloseWindow", &gongji__v1__close_window_request__descriptor, clearing_close_check,
     clearing_close_apply, NULL, false, NULL},
    {"gongji.v1.Clearing/Reconcile", &gongji__v1__reconcile_request__descriptor, clearing_reconcile_check,
     NULL, NULL, false, NULL},
    {"gongji.v1.Clearing/ClearingRows", &gongji__v1__clearing_rows_request__descriptor, clearing_rows_check, NULL,
     NULL, false, NULL},
    {"gongji.v1.Clearing/ProvinceTotals", &gongji__v1__province_totals_request__descriptor, clearing_province_check,
     NULL, NULL, false, NULL},
    {"gongji.v1.Operator/Health", &gongji__v1__health_request__descriptor, health_check, NULL, NULL, false, NULL},
    {"gongji.v1.Operator/SetClock", &gongji__v1__set_clock_request__descriptor, set_clock_check, NULL, NULL, false, NULL},
    {"gongji.v1.Operator/Audit", &gongji__v1__audit_request__descriptor, audit_check, NULL, NULL, false, NULL},
    {"gongji.v1.Operator/ConfirmRestore", &gongji__v1__confirm_restore_request__descriptor, confirm_restore_check,
     confirm_restore_apply, NULL, false, NULL},
    {"gongji.v1.Peer/AcceptBinding", &gongji__v1__accept_binding_request__descriptor,
     xr_accept_binding_check, xr_accept_binding_apply, NULL, true, NULL},
    {"gongji.v1.Peer/Hold", &gongji__v1__hold_request__descriptor, xr_hold_check, xr_hold_apply, NULL, true, NULL},
    {"gongji.v1.Peer/Resolve", &gongji__v1__resolve_request__descriptor, xr_resolve_check,
     xr_resolve_apply, NULL, true, NULL},
    {"gongji.v1.Peer/QueryDecision", &gongji__v1__query_decision_request__descriptor,
     xr_query_decision_check, NULL, NULL, true, NULL},
    {"gongji.v1.Peer/MoveOut", &gongji__v1__move_out_request__descriptor, move_out_check, NULL, NULL, false, NULL},
    {"gongji.v1.Peer/ClearingEntries", &gongji__v1__clearing_entries_request__descriptor,
     clearing_entries_check, NULL, NULL, true, NULL},
    {"gongji.v1.Peer/Batch", &gongji__v1__peer_batch_request__descriptor, batch_check, NULL, NULL, true, NULL},
    {AUTH_OPEN_METHOD, &gongji__v1__open_session_request__descriptor, authn_open_check, NULL, NULL, true, NULL},
};
const size_t node_method_count = sizeof node_methods / sizeof node_methods[0];

void methods_install(node *n)
{
    n->methods = node_methods;
    n->method_count = node_method_count;
}
