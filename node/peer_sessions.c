/* The sessions a node holds with the regions it calls, and calls sealed with them
 * (peer_sessions.h). */
#include "peer_sessions.h"
#include "gj_util.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define AUTH_OPEN_METHOD "gongji.v1.Auth/Open"
/* A session this close to its end is opened again before use, not used and refused. */
#define SESSION_RENEW_MARGIN_MS 60000
/* After an opening failed, callers fail at once for this long before the next try. */
#define SESSION_RETRY_AFTER_MS 500

/* The session slot for region, made on first use; NULL when the table is full. */
static peer_session *session_slot(peer_set *ps, const char *region)
{
    size_t n = atomic_load(&ps->session_count);
    for (size_t i = 0; i < n; i++)
        if (strcmp(ps->sessions[i].region, region) == 0)
            return &ps->sessions[i];
    peer_session *slot = NULL;
    pthread_mutex_lock(&ps->sessions_mu);
    n = atomic_load(&ps->session_count);
    for (size_t i = 0; i < n && slot == NULL; i++)
        if (strcmp(ps->sessions[i].region, region) == 0)
            slot = &ps->sessions[i];
    if (slot == NULL && n < GJ_OUTBOXES_MAX && strlen(region) == GJ_ADMDVS_LEN) {
        slot = &ps->sessions[n];
        memset(slot, 0, sizeof *slot);
        memcpy(slot->region, region, GJ_ADMDVS_LEN + 1);
        pthread_mutex_init(&slot->mu, NULL);
        pthread_mutex_init(&slot->open_mu, NULL);
        atomic_store(&ps->session_count, n + 1); /* published whole */
    }
    pthread_mutex_unlock(&ps->sessions_mu);
    return slot;
}

static bool session_current(peer_session *slot, gj_session *out)
{
    pthread_mutex_lock(&slot->mu);
    bool ok = slot->valid && slot->s.expires_ms - SESSION_RENEW_MARGIN_MS > gj_now_unix_ms();
    if (ok)
        *out = slot->s;
    pthread_mutex_unlock(&slot->mu);
    return ok;
}

/* The region no longer knows this session (it restarted, or evicted it). */
static void session_forget(peer_session *slot, const uint8_t id[GJ_SESSION_ID_LEN])
{
    pthread_mutex_lock(&slot->mu);
    if (slot->valid && memcmp(slot->s.id, id, GJ_SESSION_ID_LEN) == 0)
        slot->valid = false;
    pthread_mutex_unlock(&slot->mu);
}

/* Auth/Open with region's node through p, as this node. */
static gj_reason session_open(peer_set *ps, peer_link *p, const char *own_region, const char *region,
                              int timeout_ms, gj_session *out)
{
    gj_open_pending pending;
    Gongji__V1__OpenSessionRequest req;
    if (gj_open_begin(ps->cred, region, &pending, &req) != GJ_OK)
        return GJ_R_OVERLOADED;
    size_t plen = gongji__v1__open_session_request__get_packed_size(&req);
    uint8_t *payload = malloc(plen ? plen : 1), *bytes = NULL, *reply_bytes = NULL;
    size_t len = 0, reply_len = 0;
    gj_reason r = GJ_R_OVERLOADED;
    Gongji__V1__Reply *reply = NULL;
    Gongji__V1__OpenSessionReply *answer = NULL;
    if (payload == NULL)
        goto done;
    gongji__v1__open_session_request__pack(&req, payload);
    Gongji__V1__Envelope env = GONGJI__V1__ENVELOPE__INIT;
    env.method = AUTH_OPEN_METHOD;
    env.call_id = "";
    env.deadline_unix_ms = gj_now_unix_ms() + timeout_ms;
    env.caller_id = (char *)own_region;
    env.caller_role = GONGJI__V1__ROLE__PEER;
    env.dest_region = (char *)region;
    env.origin_region = (char *)own_region;
    env.payload = (ProtobufCBinaryData){.len = plen, .data = payload};
    len = gongji__v1__envelope__get_packed_size(&env);
    if ((bytes = malloc(len)) == NULL)
        goto done;
    gongji__v1__envelope__pack(&env, bytes);
    if ((r = peers_call_raw(p, bytes, len, timeout_ms, &reply_bytes, &reply_len)) != GJ_R_NONE)
        goto done;
    r = GJ_R_PEER_REFUSED;
    if ((reply = gongji__v1__reply__unpack(NULL, reply_len, reply_bytes)) == NULL)
        goto done;
    if (reply->code != GONGJI__V1__CODE__OK) {
        gj_log(GJ_LOG_WARN, "trust", "region=%s refused our session: %s %s", region, reply->reason, reply->message);
        r = peers_reason_by_name(reply->reason);
        goto done;
    }
    answer = gongji__v1__open_session_reply__unpack(NULL, reply->payload.len, reply->payload.data);
    if (answer == NULL)
        goto done;
    char why[200];
    if (gj_open_finish(&pending, ps->cred, answer, region, out, why, sizeof why) != GJ_OK) {
        gj_log(GJ_LOG_WARN, "trust", "region=%s: session answer not accepted: %s", region, why);
        goto done; /* finish released pending */
    }
    r = GJ_R_NONE;
done:
    if (r != GJ_R_NONE && answer == NULL)
        gj_open_abandon(&pending);
    if (answer != NULL)
        gongji__v1__open_session_reply__free_unpacked(answer, NULL);
    if (reply != NULL)
        gongji__v1__reply__free_unpacked(reply, NULL);
    free(reply_bytes);
    free(bytes);
    free(payload);
    return r;
}

/* A session with region valid for a while yet: the one held, or a new one. */
static gj_reason session_for(peer_set *ps, peer_link *p, const char *own_region, const char *region,
                             int timeout_ms, peer_session **slot_out, gj_session *out)
{
    peer_session *slot = session_slot(ps, region);
    if (slot == NULL)
        return GJ_R_OVERLOADED;
    *slot_out = slot;
    if (session_current(slot, out))
        return GJ_R_NONE;
    /* One opening at a time; the others wait for it, but never past their own deadline. */
    int64_t deadline = gj_now_unix_ms() + timeout_ms;
    struct timespec until = {.tv_sec = deadline / 1000, .tv_nsec = (long)(deadline % 1000) * 1000000L};
    if (pthread_mutex_timedlock(&slot->open_mu, &until) != 0)
        return GJ_R_REGION_UNREACHABLE;
    gj_reason r = GJ_R_NONE;
    if (!session_current(slot, out)) { /* nobody opened one while we waited */
        int64_t now = gj_mono_ms();
        if (slot->failed_ms != 0 && now - slot->failed_ms < SESSION_RETRY_AFTER_MS) {
            r = slot->failed_reason; /* it just failed: no use waiting it out again */
        } else {
            int left = (int)(deadline - gj_now_unix_ms());
            r = left > 0 ? session_open(ps, p, own_region, region, left, out) : GJ_R_DEADLINE_PASSED;
            if (r == GJ_R_NONE) {
                pthread_mutex_lock(&slot->mu);
                slot->s = *out;
                slot->valid = true;
                pthread_mutex_unlock(&slot->mu);
                slot->failed_ms = 0;
            } else if (r != GJ_R_DEADLINE_PASSED) {
                slot->failed_ms = gj_mono_ms();
                slot->failed_reason = r;
            }
        }
    }
    pthread_mutex_unlock(&slot->open_mu);
    return r;
}

/* What an answer to a sealed request is. The node's own answers carry our session's MAC
 * over themselves and our seal; an error may also come unsealed from a hub on the way
 * (no route, no answer) or from the node when it no longer knows our session, and moves
 * nothing either way; an OK answer without the MAC is not the node's. Only answers
 * without a good MAC are decoded here: the usual one is checked by its MAC alone. */
typedef enum answer_kind { ANSWER_SEALED, ANSWER_UNSEALED_ERROR, ANSWER_SESSION_UNKNOWN, ANSWER_FORGED } answer_kind;

static answer_kind classify_answer(const uint8_t *reply_bytes, size_t len, const gj_session *s,
                                   const uint8_t request_mac[GJ_MAC_LEN])
{
    size_t covered;
    const uint8_t *mac;
    if (gj_reply_find_mac(reply_bytes, len, &covered, &mac)) {
        uint8_t expect[GJ_MAC_LEN];
        gj_reply_mac(s->key, request_mac, reply_bytes, covered, expect);
        if (gj_mac_equal(expect, mac, GJ_MAC_LEN))
            return ANSWER_SEALED;
    }
    Gongji__V1__Reply *reply = gongji__v1__reply__unpack(NULL, len, reply_bytes);
    answer_kind kind = ANSWER_FORGED;
    if (reply != NULL && reply->code == GONGJI__V1__CODE__UNAUTHENTICATED &&
        strcmp(reply->reason, gj_reason_name(GJ_R_SESSION_UNKNOWN)) == 0)
        kind = ANSWER_SESSION_UNKNOWN;
    else if (reply != NULL && reply->code != GONGJI__V1__CODE__OK)
        kind = ANSWER_UNSEALED_ERROR;
    if (reply != NULL)
        gongji__v1__reply__free_unpacked(reply, NULL);
    return kind;
}

gj_reason peers_sealed_call(peer_set *ps, peer_link *p, const char *own_region, Gongji__V1__Envelope *env,
                             int timeout_ms, uint8_t **reply, size_t *reply_len)
{
    int64_t until = gj_mono_ms() + timeout_ms;
    for (int attempt = 0; attempt < 2; attempt++) {
        int left = (int)(until - gj_mono_ms());
        if (left <= 0)
            return GJ_R_DEADLINE_PASSED;
        gj_session s = {0};
        peer_session *slot = NULL;
        Gongji__V1__Seal seal = GONGJI__V1__SEAL__INIT;
        uint8_t mac[GJ_MAC_LEN];
        env->seal = NULL;
        if (ps->cred != NULL) {
            gj_reason r = session_for(ps, p, own_region, env->dest_region, left, &slot, &s);
            if (r != GJ_R_NONE)
                return r;
            seal.session_id = (ProtobufCBinaryData){.len = GJ_SESSION_ID_LEN, .data = s.id};
            seal.not_after_unix_ms = env->deadline_unix_ms;
            gj_seal_mac(s.key, env, seal.not_after_unix_ms, s.id, mac);
            seal.mac = (ProtobufCBinaryData){.len = GJ_MAC_LEN, .data = mac};
            env->seal = &seal;
            left = (int)(until - gj_mono_ms());
        }
        size_t len = gongji__v1__envelope__get_packed_size(env);
        uint8_t *bytes = malloc(len ? len : 1);
        if (bytes != NULL)
            gongji__v1__envelope__pack(env, bytes);
        env->seal = NULL; /* it points into this frame */
        if (bytes == NULL)
            return GJ_R_OVERLOADED;
        gj_reason r = peers_call_raw(p, bytes, len, left, reply, reply_len);
        free(bytes);
        if (r != GJ_R_NONE || ps->cred == NULL)
            return r;
        answer_kind kind = classify_answer(*reply, *reply_len, &s, mac);
        if (kind == ANSWER_SESSION_UNKNOWN && attempt == 0) {
            session_forget(slot, s.id);
            free(*reply);
            *reply = NULL;
            continue;
        }
        if (kind == ANSWER_FORGED) {
            gj_log(GJ_LOG_WARN, "trust", "region=%s: an OK answer without our session's MAC; ignored",
                   env->dest_region);
            free(*reply);
            *reply = NULL;
            return GJ_R_PEER_REFUSED;
        }
        return GJ_R_NONE;
    }
    return GJ_R_PEER_REFUSED;
}
