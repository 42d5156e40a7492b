/* Authentication on the node. See authn.h and docs/security.md. */
#include "authn.h"
#include "gj_util.h"
#include "log.h"
#include "tls.h"

#include <stdio.h>
#include <string.h>

int authn_start(node *n)
{
    node_config *cfg = &n->cfg;
    if (cfg->tls_ca[0] == '\0') {
        /* config.c allows this only with insecure_plaintext and no TLS URL */
        gj_log(GJ_LOG_WARN, "trust", "insecure_plaintext = yes: links are not encrypted and callers are "
                                     "taken at their word; never run this with real money");
        return 0;
    }
    gj_cred_files files = {cfg->tls_ca, cfg->tls_cert, cfg->tls_key[0] ? cfg->tls_key : NULL,
                           cfg->tls_crl[0] ? cfg->tls_crl : NULL};
    char err[512];
    if (gj_cred_open(&n->cred, &files, err, sizeof err) != GJ_OK) {
        gj_log(GJ_LOG_ERROR, "trust", "credential: %s", err);
        return -1;
    }
    const gj_identity *me = gj_cred_identity(n->cred);
    if (me->role != GJ_ROLE_PEER || strcmp(me->id, cfg->region) != 0) {
        gj_log(GJ_LOG_ERROR, "trust", "%s names %s %s, not node %s", cfg->tls_cert, gj_role_name(me->role),
               me->id, cfg->region);
        return -1;
    }
    if (gj_tls_config_make(&n->tls_server, true, &files, err, sizeof err) != GJ_OK ||
        gj_tls_config_make(&n->tls_client, false, &files, err, sizeof err) != GJ_OK) {
        gj_log(GJ_LOG_ERROR, "trust", "%s", err);
        return -1;
    }
    if (session_table_init(&n->sessions, n->cfg.sessions) != 0) {
        gj_log(GJ_LOG_ERROR, "trust", "no memory for the session table");
        return -1;
    }
    atomic_store(&n->crl_checked_ms, gj_mono_ms());
    if (cfg->insecure_plaintext)
        gj_log(GJ_LOG_WARN, "trust", "insecure_plaintext = yes: callers are taken at their word; never "
                                     "run this with real money");
    else
        gj_log(GJ_LOG_INFO, "trust", "node %s: TLS on every link, callers proven by sessions%s", me->id,
               cfg->tls_crl[0] ? ", CRL checked" : ", no CRL configured");
    return 0;
}

void authn_stop(node *n)
{
    session_table_free(&n->sessions);
    if (n->tls_server != NULL)
        nng_tls_config_free(n->tls_server);
    if (n->tls_client != NULL)
        nng_tls_config_free(n->tls_client);
    gj_cred_free(n->cred);
    n->tls_server = n->tls_client = NULL;
    n->cred = NULL;
}

void authn_refresh(node *n, bool force)
{
    if (n->cred == NULL)
        return;
    int64_t now = gj_mono_ms(), last = atomic_load(&n->crl_checked_ms);
    if (!force && now - last < GJ_CRL_CHECK_INTERVAL_MS)
        return;
    if (!atomic_compare_exchange_strong(&n->crl_checked_ms, &last, now))
        return; /* another thread is looking */
    char err[512];
    gj_trust *trust = gj_cred_trust(n->cred);
    int r = gj_trust_refresh(trust, err, sizeof err);
    if (r < 0) {
        gj_log(GJ_LOG_ERROR, "trust", "CRL not reloaded, the previous list stays in force: %s", err);
    } else if (r > 0) {
        size_t dropped = session_table_drop_revoked(&n->sessions, trust);
        gj_log(GJ_LOG_INFO, "trust", "CRL reloaded; sessions of revoked credentials ended=%zu", dropped);
    }
}

/* ---- Auth/Open ---- */

gj_reason authn_open_check(call *c)
{
    node *n = c->n;
    if (n->cred == NULL)
        return call_fail(c, GJ_R_CALLER_NOT_ALLOWED, "this node runs insecure_plaintext: no sessions to open");
    authn_refresh(n, false);
    Gongji__V1__OpenSessionRequest *req = (Gongji__V1__OpenSessionRequest *)c->request;
    gj_open_answer *ans = call_alloc(c, sizeof *ans);
    Gongji__V1__OpenSessionReply *reply = call_alloc(c, sizeof *reply);
    if (ans == NULL || reply == NULL)
        return call_fail(c, GJ_R_OVERLOADED, "out of memory");
    char why[200];
    int64_t now = gj_now_unix_ms();
    gj_open_result r = gj_open_accept(n->cred, c->env->caller_role, c->env->caller_id, c->env->dest_region, req,
                                      now, (int64_t)n->cfg.session_life_s * 1000, ans, reply, why, sizeof why);
    switch (r) {
    case GJ_OPEN_OK:
        break;
    case GJ_OPEN_DENIED:
        return call_fail(c, GJ_R_IDENTITY_MISMATCH, "%s", why);
    case GJ_OPEN_UNAUTHENTICATED:
        return call_fail(c, GJ_R_CREDENTIAL_REFUSED, "%s", why);
    default:
        return call_fail(c, GJ_R_OVERLOADED, "%s", why);
    }
    session_table_put(&n->sessions, &ans->session, now);
    c->answer = &reply->base;
    char who[GJ_CALLER_ID_MAX + 1];
    gj_log(GJ_LOG_DEBUG, "trust", "session opened role=%s id=%s", gj_role_name(ans->session.peer.role),
           ans->session.peer.role == GJ_ROLE_PEER || ans->session.peer.role == GJ_ROLE_OPERATOR
               ? ans->session.peer.id
               : gj_mask(ans->session.peer.id, who, sizeof who));
    return GJ_R_NONE;
}

/* ---- seals ---- */

/* Whether the session's identity may send what the envelope claims: itself, or (a
 * platform) any person it serves. */
static bool identity_matches(const gj_identity *proven, const Gongji__V1__Envelope *env)
{
    if (proven->role == GJ_ROLE_PLATFORM && env->caller_role == GONGJI__V1__ROLE__PERSON)
        return env->caller_id[0] != '\0';
    return (int)env->caller_role == proven->role && strcmp(env->caller_id, proven->id) == 0;
}

gj_reason authn_check_seal(call *c)
{
    node *n = c->n;
    const Gongji__V1__Envelope *env = c->env;
    const Gongji__V1__Seal *seal = env->seal;
    if (seal == NULL)
        return GJ_R_SEAL_MISSING;
    if (seal->session_id.len != GJ_SESSION_ID_LEN || seal->mac.len != GJ_MAC_LEN)
        return call_fail(c, GJ_R_SEAL_INVALID, "a seal has a 16-byte session id and a 32-byte MAC");
    authn_refresh(n, false);
    int64_t now = gj_now_unix_ms();
    gj_session s;
    if (!session_table_get(&n->sessions, seal->session_id.data, now, &s))
        return GJ_R_SESSION_UNKNOWN;
    uint8_t mac[GJ_MAC_LEN];
    gj_seal_mac(s.key, env, seal->not_after_unix_ms, seal->session_id.data, mac);
    bool good = gj_mac_equal(mac, seal->mac.data, GJ_MAC_LEN);
    if (!good)
        return GJ_R_SEAL_INVALID;
    /* From here on the caller is who the session says: answers go back sealed. */
    memcpy(c->session_key, s.key, sizeof c->session_key);
    memcpy(c->request_mac, mac, sizeof c->request_mac);
    c->sealed = true;
    if (seal->not_after_unix_ms < now)
        return call_fail(c, GJ_R_DEADLINE_PASSED, "the request's sealed deadline passed %lld ms ago",
                         (long long)(now - seal->not_after_unix_ms));
    if (!identity_matches(&s.peer, env)) {
        char claimed[GJ_CALLER_ID_MAX + 1];
        return call_fail(c, GJ_R_IDENTITY_MISMATCH, "the session is %s %s's; the envelope claims %s %s",
                         gj_role_name(s.peer.role), s.peer.id, gj_role_name(env->caller_role),
                         gj_mask(env->caller_id, claimed, sizeof claimed));
    }
    if (s.peer.role == GJ_ROLE_PLATFORM)
        gj_strcpy_fit(c->platform_id, sizeof c->platform_id, s.peer.id);
    return GJ_R_NONE;
}
