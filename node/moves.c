/* R23: people who move to another region (national rule of 2026).
 *
 *   Registry/Move, at the old node, by its operator: the person's bindings end (the
 *     nodes on the other side are told, best effort: the end is enforced where the money
 *     is), and the record becomes a forwarding stub: every request naming the person
 *     here is answered PERSON_MOVED with the new region (ops_get_local_person).
 *   Peer/MoveOut, at the old node, for the new one only: the person and the balance.
 *   Registry/MoveIn, at the new node, by its operator (xr/coordinator.c, xr_move_in):
 *     enroll the person here, then take the whole balance across as a one-leg
 *     settlement whose hold answers before it is decided (all of it, or nothing).
 *
 * So the balance moves exactly once by the settlement protocol's own guarantees
 * (docs/federation.md, "People who move"): the old node posts the hold and marks the
 * person moved in one transaction; the new node credits the person in the decision's. */
#include <stdio.h>
#include <string.h>

#include "gj_util.h"
#include "log.h"
#include "node.h"
#include "ops.h"
#include "routing.h"
#include "xr/xr.h"
#include "xr/xr_internal.h"

static bool region_code(const char *r)
{
    return strlen(r) == GJ_ADMDVS_LEN && gj_all_digits(r, GJ_ADMDVS_LEN);
}

/* ---- Registry/Move (the old node) ---- */

/* After the write: tell the nodes on the other side of each binding that ended, best
 * effort (holds are refused here after the end whatever their copies say). */
static void tell_other_sides(call *c)
{
    Gongji__V1__MoveRequest *req = (Gongji__V1__MoveRequest *)c->request;
    node *n = c->n;
    store_txn *txn;
    store_binding *list = call_alloc(c, sizeof *list * GJ_BINDINGS_PER_PERSON_MAX);
    if (list == NULL || store_read_begin(n->store, &txn) != GJ_OK)
        return;
    for (int side = 0; side < 2; side++) {
        size_t count = 0;
        gj_err err = side == 0 ? store_binding_list_by_sponsor(txn, req->psn_no, list, GJ_BINDINGS_PER_PERSON_MAX, &count)
                               : store_binding_list_by_beneficiary(txn, req->psn_no, list, GJ_BINDINGS_PER_PERSON_MAX,
                                                                   &count);
        if (err != GJ_OK && err != GJ_ERR_TOOBIG)
            continue;
        for (size_t i = 0; i < count; i++) {
            const store_binding *b = &list[i];
            const char *other = side == 0 ? b->beneficiary_admdvs : b->sponsor_admdvs;
            if (b->end_date != c->today || strcmp(other, n->cfg.region) == 0)
                continue;
            xr_sponsor_side ending = {.ending = true};
            char detail[200];
            if (xr_port_accept_binding(n, b, &ending, route_peer_budget_ms(c), detail, sizeof detail) != GJ_R_NONE)
                gj_log(GJ_LOG_WARN, "move", "region %s not told a binding ended: %s", other, detail);
        }
    }
    store_read_end(txn);
}

static void move_then_tell(call *c)
{
    if (call_write_wait(c, c->method->apply) == GJ_OK)
        tell_other_sides(c);
    call_finish(c);
}

gj_reason move_check(call *c)
{
    Gongji__V1__MoveRequest *req = (Gongji__V1__MoveRequest *)c->request;
    gj_reason r;
    if (!ops_is_role(c, GONGJI__V1__ROLE__OPERATOR))
        return ops_deny(c, "only the old region's operator");
    if ((r = ops_check_psn_no(c, "psn_no", req->psn_no)) != GJ_R_NONE)
        return r;
    if (!region_code(req->to_admdvs) || strcmp(req->to_admdvs, c->n->cfg.region) == 0)
        return call_fail(c, GJ_R_FIELD_INVALID, "to_admdvs is another region's 6-digit code");
    c->slow = move_then_tell;
    return GJ_R_NONE;
}

gj_reason move_apply(call *c, store_txn *txn)
{
    Gongji__V1__MoveRequest *req = (Gongji__V1__MoveRequest *)c->request;
    store_person p;
    store_account a = {0};
    store_move m;
    gj_err err = store_person_get(txn, req->psn_no, &p);
    if (err == GJ_ERR_NOTFOUND || (err == GJ_OK && strcmp(p.admdvs, c->n->cfg.region) != 0))
        return call_fail(c, GJ_R_PERSON_NOT_FOUND, "no person of region %s by that number", c->n->cfg.region);
    if (err != GJ_OK)
        return ops_store_reason(c, err);
    if ((err = store_move_get(txn, p.psn_no, &m)) == GJ_OK && m.direction == 'O' &&
        strcmp(m.other_admdvs, req->to_admdvs) != 0)
        return call_fail(c, GJ_R_MOVE_CONFLICT, "already moving to region %s", m.other_admdvs);
    if (err != GJ_OK && err != GJ_ERR_NOTFOUND)
        return ops_store_reason(c, err);
    bool again = err == GJ_OK && m.direction == 'O';
    if ((err = store_account_get(txn, p.psn_no, &a)) != GJ_OK && err != GJ_ERR_NOTFOUND)
        return ops_store_reason(c, err);
    if (!again && a.held > 0)
        return call_fail(c, GJ_R_SETTLEMENT_IN_FLIGHT, "%lld fen are held for settlements in flight; try again",
                         (long long)a.held);
    uint32_t ended = 0;
    gj_reason r;
    if (!again) {
        if ((r = registry_end_bindings(c, txn, p.psn_no, &ended)) != GJ_R_NONE)
            return r;
        memset(&m, 0, sizeof m);
        memcpy(m.psn_no, p.psn_no, sizeof m.psn_no);
        m.direction = 'O';
        memcpy(m.other_admdvs, req->to_admdvs, sizeof m.other_admdvs);
        m.state = STORE_MOVE_MOVING;
        gj_strcpy_fit(m.operator_id, sizeof m.operator_id, c->env->caller_id);
        m.since_unix_ms = gj_now_unix_ms();
        if ((err = store_move_put(txn, &m)) != GJ_OK)
            return ops_store_reason(c, err);
    }
    Gongji__V1__MoveReply *ans = call_alloc(c, sizeof *ans);
    if (ans == NULL)
        return ops_out_of_memory(c);
    gongji__v1__move_reply__init(ans);
    ans->psn_no = call_strdup(c, p.psn_no);
    ans->to_admdvs = call_strdup(c, req->to_admdvs);
    ans->bindings_ended = ended;
    ans->balance = m.state == STORE_MOVE_MOVED ? 0 : a.balance - a.held;
    if (ans->psn_no == NULL || ans->to_admdvs == NULL)
        return ops_out_of_memory(c);
    c->answer = &ans->base;
    char mp[GJ_PSN_NO_MAX + 1];
    gj_log(GJ_LOG_WARN, "move", "psn_no=%s to=%s bindings_ended=%u operator=%s", gj_mask(p.psn_no, mp, sizeof mp),
           req->to_admdvs, ended, c->env->caller_id);
    return GJ_R_NONE;
}

/* ---- Peer/MoveOut (the old node, asked by the new one) ---- */

gj_reason move_out_check(call *c)
{
    Gongji__V1__MoveOutRequest *req = (Gongji__V1__MoveOutRequest *)c->request;
    gj_reason r;
    if (!ops_is_role(c, GONGJI__V1__ROLE__PEER))
        return ops_deny(c, "only a peer node");
    if ((r = ops_check_psn_no(c, "psn_no", req->psn_no)) != GJ_R_NONE)
        return r;
    store_txn *txn;
    store_person p;
    store_account a = {0};
    store_move m;
    gj_err err = store_read_begin(c->n->store, &txn);
    if (err != GJ_OK)
        return ops_store_reason(c, err);
    /* Only for the region the old node's operator named (the caller is proven). */
    if ((err = store_move_get(txn, req->psn_no, &m)) != GJ_OK || m.direction != 'O' ||
        strcmp(m.other_admdvs, c->env->caller_id) != 0 || store_person_get(txn, req->psn_no, &p) != GJ_OK) {
        store_read_end(txn);
        return call_fail(c, GJ_R_MOVE_NOT_STARTED, "region %s has not marked this person as moving to %.8s",
                         c->n->cfg.region, c->env->caller_id);
    }
    err = store_account_get(txn, req->psn_no, &a);
    store_read_end(txn);
    if (err != GJ_OK && err != GJ_ERR_NOTFOUND)
        return ops_store_reason(c, err);
    Gongji__V1__MoveOutReply *ans = call_alloc(c, sizeof *ans);
    Gongji__V1__Person *person = call_alloc(c, sizeof *person);
    if (ans == NULL || person == NULL)
        return ops_out_of_memory(c);
    gongji__v1__move_out_reply__init(ans);
    gongji__v1__person__init(person);
    person->psn_no = call_strdup(c, p.psn_no);
    person->certno = call_strdup(c, p.certno);
    person->psn_name = call_strdup(c, p.name);
    person->insutype = call_strdup(c, p.insutype);
    person->insuplc_admdvs = call_strdup(c, p.admdvs);
    person->status = (Gongji__V1__PersonStatus)p.status;
    if (!person->psn_no || !person->certno || !person->psn_name || !person->insutype || !person->insuplc_admdvs)
        return ops_out_of_memory(c);
    ans->person = person;
    ans->moved = m.state == STORE_MOVE_MOVED;
    ans->balance = ans->moved ? 0 : a.balance - a.held;
    ans->held = a.held;
    c->answer = &ans->base;
    return GJ_R_NONE;
}

/* ---- Registry/MoveIn (the new node): checks here, the rest in xr_move_in ---- */

gj_reason move_in_check(call *c)
{
    Gongji__V1__MoveInRequest *req = (Gongji__V1__MoveInRequest *)c->request;
    gj_reason r;
    if (!ops_is_role(c, GONGJI__V1__ROLE__OPERATOR))
        return ops_deny(c, "only the new region's operator");
    if ((r = ops_check_psn_no(c, "psn_no", req->psn_no)) != GJ_R_NONE)
        return r;
    if (!region_code(req->from_admdvs) || strcmp(req->from_admdvs, c->n->cfg.region) == 0)
        return call_fail(c, GJ_R_FIELD_INVALID, "from_admdvs is another region's 6-digit code");
    c->crosses_regions = true; /* xr_move_in: the old node first */
    return GJ_R_NONE;
}

gj_reason move_in_apply(call *c, store_txn *txn)
{
    (void)txn;
    return call_fail(c, GJ_R_FIELD_INVALID, "a move in always crosses regions");
}
