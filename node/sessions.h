/* The sessions callers opened with this node (Auth/Open): a bounded table looked up on
 * every sealed request. Set-associative: a session id picks one bucket of
 * GJ_SESSION_WAYS slots; a full bucket gives up its least recently used session (whose
 * caller then simply opens another). Thread-safe: one short lock per lookup. */
#ifndef GJ_NODE_SESSIONS_H
#define GJ_NODE_SESSIONS_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "credential.h"
#include "session.h"

#define GJ_SESSION_WAYS 8

typedef struct session_slot {
    gj_session s;
    int64_t last_used_ms;
    bool used;
} session_slot;

typedef struct session_table {
    pthread_mutex_t mu;
    size_t buckets;
    session_slot *slots; /* buckets * GJ_SESSION_WAYS */
    size_t count;
} session_table;

/* Room for about capacity sessions (rounded up to whole buckets). -1 when out of memory. */
int session_table_init(session_table *t, size_t capacity);
void session_table_free(session_table *t);

/* Keep s; may evict the least recently used session of its bucket. */
void session_table_put(session_table *t, const gj_session *s, int64_t now_ms);

/* Copy the session with this id into out: false when there is none or it expired
 * (an expired one is dropped). */
bool session_table_get(session_table *t, const uint8_t id[GJ_SESSION_ID_LEN], int64_t now_ms, gj_session *out);

/* Drop every session whose caller's certificate the CRL in force revokes; how many. */
size_t session_table_drop_revoked(session_table *t, gj_trust *trust);

size_t session_table_count(session_table *t);

#endif
