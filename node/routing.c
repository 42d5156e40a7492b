/* Routing: a request owned by another region goes, unchanged but for its hops and
 * deadline, to the peer with the longest matching prefix; each hop keeps a margin of the
 * deadline for its own answer (docs/federation.md, "Routing"). */
#include "node.h"
#include "routing.h"
#include "gj_util.h"
#include "log.h"


void route_forward(call *c)
{
    node *n = c->n;
    Gongji__V1__Envelope *env = c->env;
    const char *region = c->route_region;
    peer_link *p = peers_route(&n->peers, region);
    if (p == NULL) {
        call_fail(c, GJ_R_REGION_UNKNOWN, "no route to region %s", region);
        call_finish(c);
        return;
    }
    if (env->hops + 1 > GJ_HOPS_MAX) {
        c->reason = GJ_R_HOPS_EXCEEDED;
        call_finish(c);
        return;
    }
    /* Each hop keeps a margin of the deadline, so its own answer still arrives in time. */
    int64_t now = gj_now_unix_ms();
    int64_t deadline = env->deadline_unix_ms ? env->deadline_unix_ms : now + GJ_DEADLINE_DEFAULT_MS;
    deadline -= GJ_HOP_MARGIN_MS;
    if (deadline <= now) {
        c->reason = GJ_R_DEADLINE_PASSED;
        call_finish(c);
        return;
    }
    Gongji__V1__Envelope fwd = *env;
    fwd.hops = env->hops + 1;
    fwd.deadline_unix_ms = deadline;
    fwd.dest_region = (char *)region;
    if (fwd.origin_region[0] == '\0')
        fwd.origin_region = n->cfg.region;
    size_t len = gongji__v1__envelope__get_packed_size(&fwd);
    uint8_t *bytes = call_alloc(c, len ? len : 1);
    if (bytes == NULL) {
        c->reason = GJ_R_OVERLOADED;
        call_finish(c);
        return;
    }
    gongji__v1__envelope__pack(&fwd, bytes);
    uint8_t *reply = NULL;
    size_t reply_len = 0;
    bool counted;
    if (!region_watch_admit(&n->peers.watch, region, &counted)) {
        call_fail(c, GJ_R_REGION_NOT_ANSWERING, "region %s has not answered lately; not asked", region);
        call_finish(c);
        return;
    }
    gj_reason r = peers_call_raw(p, bytes, len, (int)(deadline - now), &reply, &reply_len);
    region_watch_done(&n->peers.watch, region, counted, r);
    if (r != GJ_R_NONE) {
        call_fail(c, r, "region %s (via %s) did not answer within %lld ms", region, p->cfg->url,
                  (long long)(deadline - now));
        call_finish(c);
        return;
    }
    gj_log(GJ_LOG_DEBUG, "forward", "method=%s to=%s via=%s hops=%u", c->method->name, region,
           p->cfg->prefix, fwd.hops);
    c->reply_bytes = reply; /* the owner's answer, as it gave it */
    c->reply_len = reply_len;
    c->reply_owned = true;
    call_finish(c);
}


int route_peer_budget_ms(call *c)
{
    int64_t now = gj_now_unix_ms();
    int64_t deadline = c->env->deadline_unix_ms ? c->env->deadline_unix_ms : now + GJ_DEADLINE_DEFAULT_MS;
    int64_t left = deadline - now - GJ_HOP_MARGIN_MS;
    if (left > (int64_t)c->n->cfg.peer_timeout_ms)
        left = c->n->cfg.peer_timeout_ms;
    return (int)left;
}

const char *route_owner_bind(call *c)
{
    return ((Gongji__V1__BindRequest *)c->request)->sponsor_admdvs;
}

const char *route_owner_unbind(call *c)
{
    return ((Gongji__V1__UnbindRequest *)c->request)->sponsor_admdvs;
}

const char *route_owner_settle(call *c)
{
    return ((Gongji__V1__SettleRequest *)c->request)->insuplc_admdvs;
}
