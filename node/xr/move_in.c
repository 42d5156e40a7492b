/* R23, at the new node: a person moving in (Registry/MoveIn; node/moves.c has the old
 * node's side). The old node says who they are and what they have (Peer/MoveOut, only
 * to the region its operator named); this node takes the whole balance across as a
 * settlement with one leg, the person's account on the old node, held before it is
 * decided and all of it or nothing (the premium's rule). The decision's transaction
 * enrolls them here and credits what was posted; the old node's post marks them moved.
 * A MoveIn repeated after that answers what the move did. */
#include "xr_internal.h"
#include "gj_util.h"
#include "log.h"
#include "routing.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

gj_reason xr_move_in_enroll(call *c, store_txn *txn, const xr_settlement *xs)
{
    const Gongji__V1__Person *p = xs->move_person;
    store_person sp = {0}, existing;
    store_move m;
    gj_err err = store_person_get(txn, p->psn_no, &existing);
    if (err == GJ_OK) {
        /* Only an earlier try of this same move may have left them here. */
        if (store_move_get(txn, p->psn_no, &m) != GJ_OK || m.direction != 'I' ||
            strcmp(m.other_admdvs, xs->move_from) != 0 || m.state == STORE_MOVE_MOVED)
            return call_fail(c, GJ_R_MOVE_CONFLICT, "the person is insured in region %s already", c->n->cfg.region);
        return GJ_R_NONE;
    }
    if (err != GJ_ERR_NOTFOUND)
        return ops_store_reason(c, err);
    if (!gj_strcpy_fit(sp.psn_no, sizeof sp.psn_no, p->psn_no) ||
        !gj_strcpy_fit(sp.certno, sizeof sp.certno, p->certno) || !gj_strcpy_fit(sp.name, sizeof sp.name, p->psn_name) ||
        !gj_strcpy_fit(sp.insutype, sizeof sp.insutype, p->insutype))
        return call_fail(c, GJ_R_PEER_REFUSED, "the old node's record of the person does not fit");
    memcpy(sp.admdvs, c->n->cfg.region, sizeof sp.admdvs);
    sp.status = (uint8_t)p->status;
    sp.updated_unix_ms = gj_now_unix_ms();
    gj_reason r = rules_check_person_fields(&sp);
    if (r != GJ_R_NONE)
        return call_fail(c, r, "the old node's record of the person is not one this node takes");
    if ((err = store_person_put(txn, &sp)) != GJ_OK)
        return ops_store_reason(c, err);
    if (strcmp(sp.insutype, "310") == 0 && (err = store_account_ensure(txn, sp.psn_no)) != GJ_OK)
        return ops_store_reason(c, err);
    memset(&m, 0, sizeof m);
    memcpy(m.psn_no, sp.psn_no, sizeof m.psn_no);
    m.direction = 'I';
    memcpy(m.other_admdvs, xs->move_from, sizeof m.other_admdvs);
    m.state = STORE_MOVE_MOVING;
    gj_strcpy_fit(m.operator_id, sizeof m.operator_id, c->env->caller_id);
    m.since_unix_ms = sp.updated_unix_ms;
    return (err = store_move_put(txn, &m)) == GJ_OK ? GJ_R_NONE : ops_store_reason(c, err);
}

gj_reason xr_move_in_credit(call *c, store_txn *txn, const store_settlement *s, const char *from)
{
    store_journal_entry e = {.unix_ms = s->unix_ms, .kind = STORE_J_MOVE_IN, .amount = s->mulaid_pay};
    memcpy(e.psn_no, s->psn_no, sizeof e.psn_no);
    memcpy(e.setl_id, s->setl_id, sizeof e.setl_id);
    gj_strcpy_fit(e.caller_id, sizeof e.caller_id, c->env->caller_id);
    gj_strcpy_fit(e.call_id, sizeof e.call_id, c->env->call_id);
    gj_err err = s->mulaid_pay > 0 ? store_account_move(txn, &e, NULL) : GJ_OK;
    store_move m = {.direction = 'I', .state = STORE_MOVE_MOVED, .moved_unix_ms = s->unix_ms, .amount = s->mulaid_pay};
    memcpy(m.psn_no, s->psn_no, sizeof m.psn_no);
    gj_strcpy_fit(m.other_admdvs, sizeof m.other_admdvs, from);
    gj_strcpy_fit(m.operator_id, sizeof m.operator_id, c->env->caller_id);
    memcpy(m.setl_id, s->setl_id, sizeof m.setl_id);
    m.since_unix_ms = s->unix_ms;
    if (err == GJ_OK)
        err = store_move_put(txn, &m);
    return err == GJ_OK ? GJ_R_NONE : ops_store_reason(c, err);
}

/* A person with nothing to take across: enrolled and moved in one write. */
static gj_reason move_in_empty_apply(call *c, store_txn *txn)
{
    xr_settlement *xs = c->xr_settlement;
    gj_reason r = xr_move_in_enroll(c, txn, xs);
    if (r != GJ_R_NONE)
        return r;
    store_settlement none = {.unix_ms = gj_now_unix_ms()};
    memcpy(none.psn_no, xs->beneficiary, sizeof none.psn_no);
    if ((r = xr_move_in_credit(c, txn, &none, xs->move_from)) != GJ_R_NONE)
        return r;
    Gongji__V1__MoveInReply *ans = call_alloc(c, sizeof *ans);
    if (ans == NULL)
        return ops_out_of_memory(c);
    gongji__v1__move_in_reply__init(ans);
    ans->person = xs->move_person;
    ans->setl_id = "";
    c->answer = &ans->base;
    return GJ_R_NONE;
}

/* The move finished before: answer what it did, from this node's own records (the old
 * node's post may still be on its way). */
static void answer_done(call *c, const char *psn_no, const char *from)
{
    store_txn *txn;
    store_move m;
    store_person p;
    gj_err err = store_read_begin(c->n->store, &txn);
    if (err == GJ_OK) {
        if ((err = store_move_get(txn, psn_no, &m)) == GJ_OK)
            err = store_person_get(txn, psn_no, &p);
        store_read_end(txn);
    }
    if (err != GJ_OK || m.direction != 'I' || m.state != STORE_MOVE_MOVED || strcmp(m.other_admdvs, from) != 0) {
        call_fail(c, GJ_R_MOVE_CONFLICT, "region %s says the balance went across, but not here", from);
        return;
    }
    Gongji__V1__MoveInReply *ans = call_alloc(c, sizeof *ans);
    Gongji__V1__Person *person = call_alloc(c, sizeof *person);
    if (ans == NULL || person == NULL) {
        c->reason = ops_out_of_memory(c);
        return;
    }
    gongji__v1__move_in_reply__init(ans);
    gongji__v1__person__init(person);
    person->psn_no = call_strdup(c, p.psn_no);
    person->certno = call_strdup(c, p.certno);
    person->psn_name = call_strdup(c, p.name);
    person->insutype = call_strdup(c, p.insutype);
    person->insuplc_admdvs = c->n->cfg.region;
    person->status = (Gongji__V1__PersonStatus)p.status;
    ans->person = person;
    ans->setl_id = call_strdup(c, m.setl_id);
    ans->amount = m.amount;
    if (!person->psn_no || !person->certno || !person->psn_name || !person->insutype || !ans->setl_id)
        c->reason = ops_out_of_memory(c);
    else
        c->answer = &ans->base;
}

/* Done here already: the old node's post may still be on its way, so this node's own
 * record decides. */
static bool moved_in_here(call *c, const char *psn_no, const char *from)
{
    store_txn *txn;
    store_move m;
    if (store_read_begin(c->n->store, &txn) != GJ_OK)
        return false;
    bool done = store_move_get(txn, psn_no, &m) == GJ_OK && m.direction == 'I' && m.state == STORE_MOVE_MOVED &&
                strcmp(m.other_admdvs, from) == 0;
    store_read_end(txn);
    return done;
}

void xr_move_in(call *c)
{
    Gongji__V1__MoveInRequest *req = (Gongji__V1__MoveInRequest *)c->request;
    if (call_replay_if_answered(c)) {
        call_finish(c);
        return;
    }
    if (moved_in_here(c, req->psn_no, req->from_admdvs)) {
        answer_done(c, req->psn_no, req->from_admdvs);
        call_finish(c);
        return;
    }
    Gongji__V1__MoveOutRequest out = GONGJI__V1__MOVE_OUT_REQUEST__INIT;
    out.psn_no = req->psn_no;
    ProtobufCMessage *answer = NULL;
    char detail[200] = "";
    gj_reason r = peers_call(&c->n->peers, c->n->cfg.region, req->from_admdvs, "gongji.v1.Peer/MoveOut", NULL,
                             &out.base, &gongji__v1__move_out_reply__descriptor, route_peer_budget_ms(c), &answer,
                             detail, sizeof detail);
    if (r != GJ_R_NONE) {
        call_fail(c, r, "%s", detail[0] ? detail : gj_reason_message(r));
        call_finish(c);
        return;
    }
    Gongji__V1__MoveOutReply *was = (Gongji__V1__MoveOutReply *)answer;
    /* A copy in this call's arena: the answer is freed below. */
    Gongji__V1__Person *person = call_alloc(c, sizeof *person);
    xr_settlement *xs = call_alloc(c, sizeof *xs);
    if (person == NULL || xs == NULL || was->person == NULL || strcmp(was->person->psn_no, req->psn_no) != 0) {
        protobuf_c_message_free_unpacked(answer, NULL);
        c->reason = person == NULL || xs == NULL ? GJ_R_OVERLOADED : GJ_R_PEER_REFUSED;
        call_finish(c);
        return;
    }
    gongji__v1__person__init(person);
    person->psn_no = call_strdup(c, was->person->psn_no);
    person->certno = call_strdup(c, was->person->certno);
    person->psn_name = call_strdup(c, was->person->psn_name);
    person->insutype = call_strdup(c, was->person->insutype);
    person->insuplc_admdvs = c->n->cfg.region;
    person->status = was->person->status;
    bool moved = was->moved;
    int64_t balance = was->balance, held = was->held;
    protobuf_c_message_free_unpacked(answer, NULL);
    if (!person->psn_no || !person->certno || !person->psn_name || !person->insutype || balance < 0 ||
        balance > GJ_BALANCE_MAX) {
        c->reason = person->psn_no == NULL ? GJ_R_OVERLOADED : GJ_R_PEER_REFUSED;
        call_finish(c);
        return;
    }
    if (moved) { /* the old node posted it, yet no record here says it arrived */
        call_fail(c, GJ_R_MOVE_CONFLICT, "region %s says the balance went across, but not here", req->from_admdvs);
        call_finish(c);
        return;
    }
    if (held > 0) { /* an earlier try's hold, not yet voided, or a settlement in flight */
        call_fail(c, GJ_R_MOVE_NOT_HELD, "region %s holds %" PRId64 " fen of it for something in flight; try again",
                  req->from_admdvs, held);
        call_finish(c);
        return;
    }
    xs->move_person = person;
    gj_strcpy_fit(xs->move_from, sizeof xs->move_from, req->from_admdvs);
    gj_strcpy_fit(xs->beneficiary, sizeof xs->beneficiary, person->psn_no);
    xs->use = GJ_USE_MOVE;
    c->xr_settlement = xs;
    if (balance == 0) {
        call_write_wait(c, move_in_empty_apply);
        call_finish(c);
        return;
    }
    /* One leg, the person on the old node, for all of it (held before deciding). */
    xs->plan = (xr_plan){.amount = balance, .cascade = true, .live = true, .premium = true, .leg_count = 1};
    xs->plan.legs[0].remote = true;
    xs->hold_first = true;
    gj_strcpy_fit(xs->legs[0].sponsor, sizeof xs->legs[0].sponsor, person->psn_no);
    gj_strcpy_fit(xs->legs[0].admdvs, sizeof xs->legs[0].admdvs, req->from_admdvs);
    xr_coordinate(c, xs);
}
