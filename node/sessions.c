/* The session table. See sessions.h. */
#include "sessions.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

int session_table_init(session_table *t, size_t capacity)
{
    memset(t, 0, sizeof *t);
    t->buckets = (capacity + GJ_SESSION_WAYS - 1) / GJ_SESSION_WAYS;
    if (t->buckets == 0)
        t->buckets = 1;
    t->slots = calloc(t->buckets * GJ_SESSION_WAYS, sizeof *t->slots);
    if (t->slots == NULL)
        return -1;
    pthread_mutex_init(&t->mu, NULL);
    return 0;
}

void session_table_free(session_table *t)
{
    if (t->slots == NULL)
        return;
    OPENSSL_cleanse(t->slots, t->buckets * GJ_SESSION_WAYS * sizeof *t->slots);
    free(t->slots);
    t->slots = NULL;
    pthread_mutex_destroy(&t->mu);
}

/* Session ids are random: their first bytes spread sessions over the buckets. */
static session_slot *bucket_of(session_table *t, const uint8_t id[GJ_SESSION_ID_LEN])
{
    uint64_t h = 0;
    memcpy(&h, id, sizeof h);
    return &t->slots[(h % t->buckets) * GJ_SESSION_WAYS];
}

void session_table_put(session_table *t, const gj_session *s, int64_t now_ms)
{
    pthread_mutex_lock(&t->mu);
    session_slot *b = bucket_of(t, s->id), *pick = &b[0];
    for (int i = 0; i < GJ_SESSION_WAYS; i++) {
        session_slot *slot = &b[i];
        if (!slot->used || slot->s.expires_ms <= now_ms) {
            pick = slot;
            break;
        }
        if (slot->last_used_ms < pick->last_used_ms)
            pick = slot;
    }
    if (!pick->used)
        t->count++;
    pick->s = *s;
    pick->used = true;
    pick->last_used_ms = now_ms;
    pthread_mutex_unlock(&t->mu);
}

bool session_table_get(session_table *t, const uint8_t id[GJ_SESSION_ID_LEN], int64_t now_ms, gj_session *out)
{
    bool found = false;
    pthread_mutex_lock(&t->mu);
    session_slot *b = bucket_of(t, id);
    for (int i = 0; i < GJ_SESSION_WAYS && !found; i++) {
        session_slot *slot = &b[i];
        if (!slot->used || memcmp(slot->s.id, id, GJ_SESSION_ID_LEN) != 0)
            continue;
        if (slot->s.expires_ms <= now_ms) {
            OPENSSL_cleanse(slot, sizeof *slot);
            t->count--;
            break;
        }
        slot->last_used_ms = now_ms;
        *out = slot->s;
        found = true;
    }
    pthread_mutex_unlock(&t->mu);
    return found;
}

size_t session_table_drop_revoked(session_table *t, gj_trust *trust)
{
    size_t dropped = 0;
    pthread_mutex_lock(&t->mu);
    for (size_t i = 0; i < t->buckets * GJ_SESSION_WAYS; i++) {
        session_slot *slot = &t->slots[i];
        if (slot->used && gj_trust_revoked(trust, &slot->s.peer_serial)) {
            OPENSSL_cleanse(slot, sizeof *slot);
            t->count--;
            dropped++;
        }
    }
    pthread_mutex_unlock(&t->mu);
    return dropped;
}

size_t session_table_count(session_table *t)
{
    pthread_mutex_lock(&t->mu);
    size_t n = t->count;
    pthread_mutex_unlock(&t->mu);
    return n;
}
