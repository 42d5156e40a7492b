/* R20: family pool members insured in another region of the province. The pool's node
 * is the sponsor's side: it checks the pool, asks the member's node to check the member
 * and keep a copy with the pool first in the member's deduction order
 * (Peer/AcceptBinding, as for any binding across regions), then writes the binding. A
 * pool closed here tells those nodes the bindings ended, best effort: a hold against a
 * closed pool is refused here whatever a copy says. */
#include "xr_internal.h"
#include "gj_util.h"
#include "log.h"
#include "routing.h"

#include <string.h>

static xr_sponsor_side pool_side(call *c, size_t members, bool ending)
{
    const gj_policy *policy = c->policy;
    return (xr_sponsor_side){.live = policy->live, .pilot = policy->cross_province_pilot,
                             .one_relationship = policy->one_relationship_per_person,
                             .as_sponsor = (uint32_t)members, .ending = ending};
}

static gj_reason member_remote_apply(call *c, store_txn *txn)
{
    store_binding b;
    size_t members;
    gj_reason r = pool_member_binding(c, txn, &b, &members);
    return r != GJ_R_NONE ? r : pool_member_write(c, txn, &b);
}

void xr_pool_add_member(call *c)
{
    Gongji__V1__PoolAddMemberRequest *req = (Gongji__V1__PoolAddMemberRequest *)c->request;
    if (call_replay_if_answered(c)) {
        call_finish(c);
        return;
    }
    store_txn *txn;
    store_binding b;
    size_t members = 0;
    gj_err begun = store_read_begin(c->n->store, &txn);
    if (begun != GJ_OK) {
        c->reason = gj_reason_of_err(begun);
        call_finish(c);
        return;
    }
    gj_reason r = pool_member_binding(c, txn, &b, &members);
    store_read_end(txn);
    if (r == GJ_R_NONE) {
        xr_sponsor_side side = pool_side(c, members, false);
        side.verification = req->verification;
        side.attester = ops_attester(c);
        char detail[256];
        /* The member's side first, as for a binding: a copy there without the binding
         * here never pays, the reverse would. */
        r = xr_port_accept_binding(c->n, &b, &side, route_peer_budget_ms(c), detail, sizeof detail);
        if (r != GJ_R_NONE)
            call_fail(c, r, "%s", detail[0] ? detail : gj_reason_message(r));
    }
    if (r != GJ_R_NONE) {
        c->reason = r;
        call_finish(c);
        return;
    }
    call_write_wait(c, member_remote_apply);
    call_finish(c);
}

void xr_pool_close(call *c)
{
    Gongji__V1__PoolCloseRequest *req = (Gongji__V1__PoolCloseRequest *)c->request;
    if (call_write_wait(c, c->method->apply) != GJ_OK) {
        call_finish(c);
        return;
    }
    store_txn *txn;
    store_binding *list = call_alloc(c, sizeof *list * GJ_BINDINGS_PER_PERSON_MAX);
    size_t n = 0;
    if (list != NULL && store_read_begin(c->n->store, &txn) == GJ_OK) {
        gj_err err = store_binding_list_by_sponsor(txn, req->pool_id, list, GJ_BINDINGS_PER_PERSON_MAX, &n);
        store_read_end(txn);
        if (err != GJ_OK && err != GJ_ERR_TOOBIG)
            n = 0;
    }
    xr_sponsor_side ending = pool_side(c, 0, true);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(list[i].beneficiary_admdvs, c->n->cfg.region) == 0 || list[i].end_date != gj_date_next(c->today))
            continue;
        char detail[256];
        if (xr_port_accept_binding(c->n, &list[i], &ending, route_peer_budget_ms(c), detail, sizeof detail) != GJ_R_NONE)
            gj_log(GJ_LOG_WARN, "pool", "pool=%s: region %s not told its member's binding ended: %s", req->pool_id,
                   list[i].beneficiary_admdvs, detail);
    }
    call_finish(c);
}
