/* The protocol's port: the one file that names the gongji.v1.Peer methods, builds their
 * requests and call ids, and calls peers_call. Call ids name a settlement's leg or a
 * digest of a pair of people, never a person number: they go into logs. */
#include "xr_internal.h"
#include "gj_util.h"
#include "session.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

gj_reason xr_port_hold(node *n, const char *region, const xr_hold_ask *ask, int timeout_ms, int64_t *held,
                       char *detail, size_t detail_size)
{
    Gongji__V1__HoldRequest req = GONGJI__V1__HOLD_REQUEST__INIT;
    req.setl_id = (char *)ask->setl_id;
    req.leg = ask->leg;
    req.sponsor_psn_no = (char *)ask->sponsor;
    req.beneficiary_psn_no = (char *)ask->beneficiary;
    req.beneficiary_admdvs = n->cfg.region;
    req.amount = ask->amount;
    req.use = (Gongji__V1__UseType)ask->use;
    req.setl_date = ask->setl_date;
    char call_id[GJ_CALL_ID_MAX + 1];
    snprintf(call_id, sizeof call_id, "%.40s/%u", ask->setl_id, ask->leg);
    ProtobufCMessage *answer = NULL;
    *held = 0;
    gj_reason r = peers_call(&n->peers, n->cfg.region, region, "gongji.v1.Peer/Hold", call_id, &req.base,
                             &gongji__v1__hold_reply__descriptor, timeout_ms, &answer, detail, detail_size);
    if (r == GJ_R_NONE) {
        *held = ((Gongji__V1__HoldReply *)answer)->held;
        protobuf_c_message_free_unpacked(answer, NULL);
    }
    return r;
}

void xr_port_resolve_many(node *n, xr_resolve_call *calls, size_t count, int timeout_ms)
{
    Gongji__V1__ResolveRequest *reqs = calloc(count ? count : 1, sizeof *reqs);
    peers_request *qs = calloc(count ? count : 1, sizeof *qs);
    char (*call_ids)[GJ_CALL_ID_MAX + 1] = calloc(count ? count : 1, sizeof *call_ids);
    if (reqs == NULL || qs == NULL || call_ids == NULL) {
        for (size_t i = 0; i < count; i++)
            calls[i].reason = GJ_R_OVERLOADED;
        count = 0;
    }
    for (size_t i = 0; i < count; i++) {
        const store_decision *d = calls[i].d;
        uint32_t k = calls[i].k;
        Gongji__V1__ResolveRequest *req = &reqs[i];
        gongji__v1__resolve_request__init(req);
        req->up_to = calls[i].up_to;
        req->setl_id = (char *)d->setl_id;
        req->leg = d->legs[k].leg;
        req->action = d->legs[k].action == STORE_LEG_POST   ? GONGJI__V1__LEG_ACTION__POST
                      : d->legs[k].action == STORE_LEG_VOID ? GONGJI__V1__LEG_ACTION__VOID
                                                            : GONGJI__V1__LEG_ACTION__REFUND_LEG;
        req->amount = d->legs[k].amount;
        req->post_window = d->post_window;
        req->refund_window = d->refund_window;
        req->sponsor_psn_no = (char *)d->legs[k].sponsor;
        req->beneficiary_psn_no = (char *)d->beneficiary;
        snprintf(call_ids[i], sizeof call_ids[i], "%.40s/%u/%d", d->setl_id, d->legs[k].leg, req->action);
        qs[i] = (peers_request){.dest_region = d->legs[k].admdvs, .method = "gongji.v1.Peer/Resolve",
                                .call_id = call_ids[i], .request = &req->base,
                                .answer_desc = &gongji__v1__resolve_reply__descriptor};
    }
    peers_call_many(&n->peers, n->cfg.region, qs, count, timeout_ms);
    for (size_t i = 0; i < count; i++) {
        calls[i].reason = qs[i].reason;
        calls[i].moved = qs[i].answer != NULL ? ((Gongji__V1__ResolveReply *)qs[i].answer)->amount : 0;
        memcpy(calls[i].detail, qs[i].detail, sizeof calls[i].detail);
        if (qs[i].answer != NULL)
            protobuf_c_message_free_unpacked(qs[i].answer, NULL);
    }
    free(call_ids);
    free(qs);
    free(reqs);
}

gj_reason xr_port_query_decision(node *n, const store_hold *h, int timeout_ms, int *action, int64_t *amount,
                                 int32_t *post_window, int32_t *refund_window)
{
    Gongji__V1__QueryDecisionRequest req = GONGJI__V1__QUERY_DECISION_REQUEST__INIT;
    req.setl_id = (char *)h->setl_id;
    req.leg = h->leg;
    char call_id[GJ_CALL_ID_MAX + 1];
    snprintf(call_id, sizeof call_id, "%.40s/%u/q", h->setl_id, h->leg);
    ProtobufCMessage *answer = NULL;
    gj_reason r = peers_call(&n->peers, n->cfg.region, h->coordinator, "gongji.v1.Peer/QueryDecision", call_id,
                             &req.base, &gongji__v1__query_decision_reply__descriptor, timeout_ms, &answer,
                             NULL, 0);
    if (r != GJ_R_NONE)
        return r;
    Gongji__V1__QueryDecisionReply *qr = (Gongji__V1__QueryDecisionReply *)answer;
    *action = (int)qr->action;
    *amount = qr->amount;
    *post_window = qr->post_window;
    *refund_window = qr->refund_window;
    protobuf_c_message_free_unpacked(answer, NULL);
    return GJ_R_NONE;
}

gj_reason xr_port_accept_binding(node *n, const store_binding *b, const xr_sponsor_side *side, int timeout_ms,
                                 char *detail, size_t detail_size)
{
    Gongji__V1__Binding wire;
    gongji__v1__binding__init(&wire);
    wire.sponsor_psn_no = (char *)b->sponsor;
    wire.beneficiary_psn_no = (char *)b->beneficiary;
    wire.sponsor_admdvs = (char *)b->sponsor_admdvs;
    wire.beneficiary_admdvs = (char *)b->beneficiary_admdvs;
    wire.relation = (Gongji__V1__Relation)b->relation;
    wire.begin_date = b->begin_date;
    wire.end_date = b->end_date;
    Gongji__V1__AcceptBindingRequest req = GONGJI__V1__ACCEPT_BINDING_REQUEST__INIT;
    req.binding = &wire;
    req.sponsor_region_live = side->live;
    req.sponsor_region_pilot = side->pilot;
    req.sponsor_one_relationship = side->one_relationship;
    req.sponsor_as_sponsor = side->as_sponsor;
    req.sponsor_as_beneficiary = side->as_beneficiary;
    req.ending = side->ending;
    req.verification = (Gongji__V1__Verification *)side->verification;
    req.attester = (char *)(side->attester != NULL ? side->attester : "");
    /* Named by a digest of the pair, not the person numbers. */
    char pair[2 * GJ_PSN_NO_MAX + 2];
    size_t sponsor_len = strlen(b->sponsor), beneficiary_len = strlen(b->beneficiary);
    memcpy(pair, b->sponsor, sponsor_len + 1);
    memcpy(pair + sponsor_len + 1, b->beneficiary, beneficiary_len);
    uint8_t digest[32];
    gj_sha256(pair, sponsor_len + 1 + beneficiary_len, digest);
    char call_id[GJ_CALL_ID_MAX + 1];
    snprintf(call_id, sizeof call_id, "bind-%02x%02x%02x%02x%02x%02x%02x%02x-%d-%d%s", digest[0], digest[1],
             digest[2], digest[3], digest[4], digest[5], digest[6], digest[7], b->begin_date, b->end_date,
             side->ending ? "-end" : "");
    ProtobufCMessage *answer = NULL;
    /* To the other side: the beneficiary's node, or, for an ending this node makes as the
     * beneficiary's (R23: its person moved away), the sponsor's. */
    const char *to = side->ending && strcmp(b->beneficiary_admdvs, n->cfg.region) == 0 ? b->sponsor_admdvs
                                                                                       : b->beneficiary_admdvs;
    gj_reason r = peers_call(&n->peers, n->cfg.region, to, "gongji.v1.Peer/AcceptBinding",
                             call_id, &req.base, &gongji__v1__accept_binding_reply__descriptor, timeout_ms,
                             &answer, detail, detail_size);
    if (answer != NULL)
        protobuf_c_message_free_unpacked(answer, NULL);
    return r;
}
