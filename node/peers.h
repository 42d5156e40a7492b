/* Links to other nodes: one nng REQ socket per configured peer, dialed in the
 * background, and synchronous calls over per-call contexts so many threads can share a
 * link with many requests in flight. Routing picks the peer whose prefix is the
 * longest match of a region code. */
#ifndef GJ_PEERS_H
#define GJ_PEERS_H

#include <nng/nng.h>
#include <nng/supplemental/tls/tls.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "config.h"
#include "credential.h"
#include "gongji.pb-c.h"
#include "link_stats.h"
#include "reasons.h"
#include "region_watch.h"
#include "session.h"

typedef struct peer_link {
    const node_peer *cfg;  /* prefix and URL, owned by the node's config */
    pthread_mutex_t mu;    /* guards dialers when a stuck link is dialed again */
    nng_socket sock;       /* never replaced: other threads hold contexts on it */
    /* One per URL of the peer (cfg->urls), each replaced when a stuck link is dialed
     * again; requests go over whichever has a connection. */
    nng_dialer dialers[GJ_PEER_URLS_MAX];
    gj_dialer_watch dialer_watch[GJ_PEER_URLS_MAX]; /* whether each has given up */
    nng_tls_config *tls;   /* the node's, for tls+tcp:// links; NULL otherwise */
    bool open;
    _Atomic int failures;  /* calls in a row that got no answer */
    int64_t looked_ms;     /* when the dialers were last looked at (link_no_answer) */
    int64_t said_ms;       /* when the log last said why the link is not dialed again */
    /* For /metrics: calls made, calls that got no answer, when one last did (wall ms). */
    _Atomic uint64_t calls_total, failures_total;
    _Atomic int64_t answered_unix_ms;
} peer_link;

struct batch_item;

/* Calls waiting to go to one region in a Peer/Batch (docs/federation.md), and the
 * threads that send them. */
typedef struct peer_outbox {
    char region[GJ_ADMDVS_LEN + 1];
    struct peer_set *set;
    struct peer_link *link;   /* the next hop toward region */
    const char *own_region;
    pthread_mutex_t mu;
    pthread_cond_t work;      /* calls are waiting, or the node is closing */
    struct batch_item *head, *tail;
    bool closing;
    unsigned senders;         /* started, at most GJ_BATCHES_IN_FLIGHT */
    pthread_t sender[GJ_BATCHES_IN_FLIGHT];
    _Atomic bool unsupported; /* the region answered UNKNOWN_METHOD: call it one by one */
} peer_outbox;

/* The session this node holds with one region's node (trust/session.h): every call to
 * that region is sealed with it, end to end through hubs. Opened on first use and again
 * when the region no longer knows it (restarted, expired). */
typedef struct peer_session {
    char region[GJ_ADMDVS_LEN + 1];
    pthread_mutex_t open_mu; /* one opening at a time per region */
    pthread_mutex_t mu;      /* guards s and valid */
    gj_session s;
    bool valid;
    /* The last opening failed then (mono ms) for this reason: callers in the next
     * moments fail at once instead of each waiting out a silent region in turn. */
    int64_t failed_ms;
    gj_reason failed_reason;
} peer_session;

typedef struct peer_set {
    /* Our credential and TLS configuration; NULL on an insecure_plaintext node, whose
     * calls then go unsealed. */
    const gj_cred *cred;
    nng_tls_config *tls;
    pthread_mutex_t sessions_mu; /* guards session_count */
    _Atomic size_t session_count;
    peer_session sessions[GJ_OUTBOXES_MAX];
    size_t count;
    peer_link links[GJ_PEERS_MAX];
    pthread_mutex_t outbox_mu; /* guards outbox_count */
    _Atomic size_t outbox_count;
    peer_outbox outboxes[GJ_OUTBOXES_MAX];
    /* Coalescable calls made, and the messages that carried them (batches and calls
     * that went alone): calls / messages = what a message carries on average. */
    _Atomic uint64_t coalescable_calls;
    _Atomic uint64_t coalescable_messages;
    /* Regions that stopped answering: calls to them are refused at once, but for a few
     * that find out whether they are back. */
    region_watch watch;
} peer_set;

/* Our reason for a reason name a peer answered (GJ_R_PEER_REFUSED when it is none of ours). */
gj_reason peers_reason_by_name(const char *name);

/* Methods that travel in a Peer/Batch when several are waiting for one region. */
bool peers_coalescable(const char *method);

/* Open a socket per configured peer and start dialing. A peer that is down is not an
 * error: calls to it fail with UNAVAILABLE until it comes up. -1 only when nng cannot
 * make sockets at all. */
int peers_open(peer_set *ps, const node_config *cfg, const gj_cred *cred, nng_tls_config *tls);
void peers_close(peer_set *ps);

/* The peer serving region: longest prefix match; NULL when none. */
peer_link *peers_route(peer_set *ps, const char *region);

/* Send envelope bytes to p and wait at most timeout_ms for the answer. On success
 * returns GJ_R_NONE and *reply / *reply_len get a malloc'd copy (caller frees). On
 * failure returns REGION_UNREACHABLE (no answer in time) or another reason. */
gj_reason peers_call_raw(peer_link *p, const uint8_t *bytes, size_t len, int timeout_ms,
                         uint8_t **reply, size_t *reply_len);

/* Call method on the node serving dest_region as this node (caller_id = own region,
 * role PEER): route, pack, call, decode. A coalescable method waits in the region's
 * outbox until one of its GJ_BATCHES_IN_FLIGHT sender threads takes it, together with
 * whatever else waits there (alone when nothing does). On GJ_R_NONE *answer (caller frees with
 * protobuf_c_message_free_unpacked) is the decoded answer. When the peer answered with
 * an error, returns that reason (GJ_R_PEER_REFUSED when its name is not one of ours) and
 * copies the peer's message into detail (may be NULL). A region that has not answered
 * lately is not asked (REGION_NOT_ANSWERING) while others already wait on it. */
gj_reason peers_call(peer_set *ps, const char *own_region, const char *dest_region,
                     const char *method, const char *call_id, const ProtobufCMessage *request,
                     const ProtobufCMessageDescriptor *answer_desc, int timeout_ms,
                     ProtobufCMessage **answer, char *detail, size_t detail_size);

/* Several calls at once, for a thread that has many to make and no reason to wait for
 * each in turn (delivering decisions): coalescable ones are queued in their regions'
 * outboxes together and travel in the same batches; each gets its own outcome. */
typedef struct peers_request {
    const char *dest_region;
    const char *method;
    const char *call_id;
    const ProtobufCMessage *request;
    const ProtobufCMessageDescriptor *answer_desc;
    gj_reason reason;          /* out */
    ProtobufCMessage *answer;  /* out, on GJ_R_NONE: the caller frees it */
    char detail[160];          /* out: why not */
} peers_request;
void peers_call_many(peer_set *ps, const char *own_region, peers_request *reqs, size_t count, int timeout_ms);

#endif
