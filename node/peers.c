#include "peers.h"
#include "peer_sessions.h"
#include "peer_links.h"
#include "gj_util.h"
#include "log.h"
#include "tls.h"

#include <nng/protocol/reqrep0/req.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int peers_open(peer_set *ps, const node_config *cfg, const gj_cred *cred, nng_tls_config *tls)
{
    memset(ps, 0, sizeof *ps);
    ps->cred = cred;
    ps->tls = tls;
    pthread_mutex_init(&ps->outbox_mu, NULL);
    pthread_mutex_init(&ps->sessions_mu, NULL);
    region_watch_init(&ps->watch, cfg->suspect_calls, cfg->suspect_ms);
    for (size_t i = 0; i < cfg->peer_count; i++) {
        peer_link *p = &ps->links[i];
        p->cfg = &cfg->peers[i];
        p->tls = tls;
        pthread_mutex_init(&p->mu, NULL);
        ps->count = i + 1;
        if (peer_link_open(p, tls) != 0) {
            peers_close(ps);
            return -1;
        }
        p->open = true;
    }
    return 0;
}

void peers_close(peer_set *ps)
{
    /* Senders first: they may be in the middle of a call on a link. */
    size_t outboxes = atomic_load(&ps->outbox_count);
    for (size_t i = 0; i < outboxes; i++) {
        peer_outbox *ob = &ps->outboxes[i];
        pthread_mutex_lock(&ob->mu);
        ob->closing = true;
        pthread_cond_broadcast(&ob->work);
        pthread_mutex_unlock(&ob->mu);
        for (unsigned k = 0; k < ob->senders; k++)
            pthread_join(ob->sender[k], NULL);
        pthread_mutex_destroy(&ob->mu);
        pthread_cond_destroy(&ob->work);
    }
    atomic_store(&ps->outbox_count, 0);
    peer_links_wait_for_late_answers(ps->links, ps->count);
    for (size_t i = 0; i < ps->count; i++) {
        if (ps->links[i].open)
            nng_close(ps->links[i].sock);
        pthread_mutex_destroy(&ps->links[i].mu);
    }
    ps->count = 0;
    pthread_mutex_destroy(&ps->outbox_mu);
    size_t sessions = atomic_load(&ps->session_count);
    for (size_t i = 0; i < sessions; i++) {
        memset(&ps->sessions[i].s, 0, sizeof ps->sessions[i].s);
        pthread_mutex_destroy(&ps->sessions[i].mu);
        pthread_mutex_destroy(&ps->sessions[i].open_mu);
    }
    atomic_store(&ps->session_count, 0);
    pthread_mutex_destroy(&ps->sessions_mu);
    region_watch_fini(&ps->watch);
}

/* ---- Peer/Batch: calls to one region that wait together leave together ---- */

#define BATCH_METHOD "gongji.v1.Peer/Batch"

bool peers_coalescable(const char *method)
{
    return strcmp(method, "gongji.v1.Peer/Hold") == 0 || strcmp(method, "gongji.v1.Peer/Resolve") == 0;
}

/* A reply this small is handed over in the item itself (the usual Hold or Resolve
 * answer is under 100 bytes), so the caller allocates its own copy. Memory malloc'd by
 * the sending thread and freed by the caller would pile up in every worker thread's
 * malloc cache (glibc's tcache): bounded, but tens of MiB with 128 workers. */
#define ITEM_REPLY_INLINE 512

/* One call waiting in an outbox; lives on its caller's stack until done. */
typedef struct batch_item {
    struct batch_item *next;
    Gongji__V1__Envelope *env; /* the call's Envelope, unsealed (sealed when it goes alone) */
    const uint8_t *bytes;      /* ... and packed, to travel inside a sealed batch */
    size_t len;
    int64_t until_ms;     /* gj_mono_ms() deadline */
    bool done;            /* set under the outbox lock; then the sender lets go of it */
    pthread_cond_t answered; /* signalled with done: wakes this caller alone */
    bool alone;           /* the region cannot take batches: the caller calls by itself */
    gj_reason reason;
    uint8_t *reply;       /* the Reply bytes when reason is GJ_R_NONE: inline or malloc'd */
    size_t reply_len;
    uint8_t inline_reply[ITEM_REPLY_INLINE];
} batch_item;

static void *outbox_sender(void *arg);

/* The outbox for region (reached through link), made with its sender threads on first
 * use; NULL when the table is full or no thread could start (then calls simply go one
 * by one). */
static peer_outbox *outbox_for(peer_set *ps, peer_link *link, const char *own_region,
                               const char *region)
{
    size_t n = atomic_load(&ps->outbox_count);
    for (size_t i = 0; i < n; i++)
        if (strcmp(ps->outboxes[i].region, region) == 0)
            return ps->outboxes[i].senders > 0 ? &ps->outboxes[i] : NULL;
    peer_outbox *ob = NULL;
    pthread_mutex_lock(&ps->outbox_mu);
    n = atomic_load(&ps->outbox_count);
    for (size_t i = 0; i < n && ob == NULL; i++)
        if (strcmp(ps->outboxes[i].region, region) == 0)
            ob = &ps->outboxes[i];
    if (ob == NULL && n < GJ_OUTBOXES_MAX && strlen(region) == GJ_ADMDVS_LEN) {
        ob = &ps->outboxes[n];
        memset(ob, 0, sizeof *ob);
        memcpy(ob->region, region, GJ_ADMDVS_LEN + 1);
        ob->set = ps;
        ob->link = link;
        ob->own_region = own_region;
        pthread_mutex_init(&ob->mu, NULL);
        pthread_cond_init(&ob->work, NULL);
        for (unsigned i = 0; i < GJ_BATCHES_IN_FLIGHT; i++)
            if (pthread_create(&ob->sender[ob->senders], NULL, outbox_sender, ob) == 0)
                ob->senders++;
        atomic_store(&ps->outbox_count, n + 1); /* published whole */
    }
    pthread_mutex_unlock(&ps->outbox_mu);
    return ob != NULL && ob->senders > 0 ? ob : NULL;
}

/* Detach the next batch from the outbox (under its lock): items in order, as many as
 * fit, at least one. Items whose deadline passed while waiting end here. */
static batch_item *outbox_take(peer_outbox *ob, size_t *count, int64_t *until_ms)
{
    int64_t now = gj_mono_ms();
    batch_item *first = NULL, **tail = &first;
    size_t n = 0, bytes = 0;
    *until_ms = INT64_MAX;
    while (ob->head != NULL) {
        batch_item *it = ob->head;
        if (it->until_ms <= now) {
            ob->head = it->next;
            it->reason = GJ_R_DEADLINE_PASSED;
            it->done = true;
            pthread_cond_signal(&it->answered);
            continue;
        }
        if (n > 0 && (n == GJ_BATCH_ITEMS_MAX || bytes + it->len > GJ_BATCH_BYTES_MAX))
            break;
        ob->head = it->next;
        it->next = NULL;
        *tail = it;
        tail = &it->next;
        n++;
        bytes += it->len;
        if (it->until_ms < *until_ms)
            *until_ms = it->until_ms;
    }
    if (ob->head == NULL)
        ob->tail = NULL;
    *count = n;
    return first;
}

/* Send items as one Peer/Batch (or the lone item as itself) and give each its answer.
 * Items are not marked done here: the caller does that under the outbox lock. */
static void outbox_send(peer_set *ps, peer_outbox *ob, peer_link *p, const char *own_region,
                        batch_item *items, size_t count, int64_t until_ms)
{
    int timeout_ms = (int)(until_ms - gj_mono_ms());
    if (count == 1 || !atomic_load(&ob->unsupported))
        atomic_fetch_add(&ps->coalescable_messages, 1);
    if (count == 1) {
        uint8_t *reply = NULL;
        size_t n = 0;
        items->reason = peers_sealed_call(ps, p, own_region, items->env, timeout_ms, &reply, &n);
        if (items->reason == GJ_R_NONE && n <= sizeof items->inline_reply) {
            memcpy(items->inline_reply, reply, n); /* the caller copies it on its own thread */
            free(reply);
            reply = items->inline_reply;
        }
        items->reply = reply;
        items->reply_len = n;
        return;
    }
    if (atomic_load(&ob->unsupported)) {
        /* Refused since these were queued: each caller calls by itself. */
        for (batch_item *it = items; it != NULL; it = it->next)
            it->alone = true;
        return;
    }
    gj_reason r = GJ_R_OVERLOADED;
    ProtobufCBinaryData *parts = calloc(count, sizeof *parts);
    uint8_t *payload = NULL, *bytes = NULL, *reply_bytes = NULL;
    size_t reply_len = 0;
    Gongji__V1__Reply *reply = NULL;
    Gongji__V1__PeerBatchReply *answer = NULL;
    if (parts == NULL)
        goto done;
    size_t i = 0;
    for (batch_item *it = items; it != NULL; it = it->next, i++)
        parts[i] = (ProtobufCBinaryData){.len = it->len, .data = (uint8_t *)it->bytes};
    Gongji__V1__PeerBatchRequest req = GONGJI__V1__PEER_BATCH_REQUEST__INIT;
    req.n_items = count;
    req.items = parts;
    size_t plen = gongji__v1__peer_batch_request__get_packed_size(&req);
    if ((payload = malloc(plen ? plen : 1)) == NULL)
        goto done;
    gongji__v1__peer_batch_request__pack(&req, payload);
    Gongji__V1__Envelope env = GONGJI__V1__ENVELOPE__INIT;
    env.method = BATCH_METHOD;
    env.call_id = "";
    env.deadline_unix_ms = gj_now_unix_ms() + timeout_ms;
    env.caller_id = (char *)own_region;
    env.caller_role = GONGJI__V1__ROLE__PEER;
    env.dest_region = ob->region;
    env.origin_region = (char *)own_region;
    env.payload = (ProtobufCBinaryData){.len = plen, .data = payload};
    /* The batch is sealed once: its items, inside, are covered by it. */
    if ((r = peers_sealed_call(ps, p, own_region, &env, timeout_ms, &reply_bytes, &reply_len)) != GJ_R_NONE)
        goto done;
    r = GJ_R_PEER_REFUSED;
    if ((reply = gongji__v1__reply__unpack(NULL, reply_len, reply_bytes)) == NULL)
        goto done;
    if (reply->code != GONGJI__V1__CODE__OK) {
        if (strcmp(reply->reason, gj_reason_name(GJ_R_UNKNOWN_METHOD)) == 0) {
            /* A node without Peer/Batch: from now on, one call at a time. */
            atomic_store(&ob->unsupported, true);
            for (batch_item *it = items; it != NULL; it = it->next)
                it->alone = true;
            gj_log(GJ_LOG_WARN, "peer", "region=%s takes no batches; calling it one by one", ob->region);
        }
        r = peers_reason_by_name(reply->reason);
        goto done;
    }
    answer = gongji__v1__peer_batch_reply__unpack(NULL, reply->payload.len, reply->payload.data);
    if (answer == NULL || answer->n_replies != count)
        goto done;
    i = 0;
    for (batch_item *it = items; it != NULL; it = it->next, i++) {
        size_t n = answer->replies[i].len;
        it->reply = n <= sizeof it->inline_reply ? it->inline_reply : malloc(n);
        if (it->reply == NULL) {
            it->reason = GJ_R_OVERLOADED;
            continue;
        }
        memcpy(it->reply, answer->replies[i].data, n);
        it->reply_len = n;
        it->reason = GJ_R_NONE;
    }
    r = GJ_R_NONE;
done:
    if (r != GJ_R_NONE)
        for (batch_item *it = items; it != NULL; it = it->next)
            it->reason = r;
    if (answer != NULL)
        gongji__v1__peer_batch_reply__free_unpacked(answer, NULL);
    if (reply != NULL)
        gongji__v1__reply__free_unpacked(reply, NULL);
    free(reply_bytes);
    free(bytes);
    free(payload);
    free(parts);
}

/* A sender: takes whatever waits in its outbox, sends it as one message, hands each
 * call its answer, and goes on until the node closes and nothing waits. Sending from
 * these few threads (not from the callers') keeps every message's memory on the
 * thread that made it: buffers freed on other threads would collect in each worker's
 * malloc cache (glibc's tcache), tens of MiB across 128 workers. */
static void *outbox_sender(void *arg)
{
    peer_outbox *ob = arg;
    pthread_setname_np(pthread_self(), "gj-outbox");
    pthread_mutex_lock(&ob->mu);
    for (;;) {
        while (ob->head == NULL && !ob->closing)
            pthread_cond_wait(&ob->work, &ob->mu);
        if (ob->head == NULL)
            break; /* closing and drained */
        size_t count;
        int64_t until_ms;
        batch_item *batch = outbox_take(ob, &count, &until_ms);
        if (batch == NULL)
            continue;
        pthread_mutex_unlock(&ob->mu);
        outbox_send(ob->set, ob, ob->link, ob->own_region, batch, count, until_ms);
        pthread_mutex_lock(&ob->mu);
        for (batch_item *it = batch; it != NULL;) {
            /* Its owner may return once we let go of the lock: read next first. */
            batch_item *next = it->next;
            it->done = true;
            pthread_cond_signal(&it->answered);
            it = next;
        }
    }
    pthread_mutex_unlock(&ob->mu);
    return NULL;
}

/* Queue a coalescable call in its region's outbox; the outbox, or NULL when the call
 * must go by itself (no outbox, or the region takes no batches) or the node is closing
 * (*closing). */
static peer_outbox *outbox_enqueue(peer_set *ps, peer_link *p, const char *own_region, Gongji__V1__Envelope *env,
                                   const uint8_t *bytes, size_t len, int timeout_ms, batch_item *me,
                                   bool *closing)
{
    peer_outbox *ob = outbox_for(ps, p, own_region, env->dest_region);
    atomic_fetch_add(&ps->coalescable_calls, 1);
    *closing = false;
    if (ob == NULL || atomic_load(&ob->unsupported)) {
        atomic_fetch_add(&ps->coalescable_messages, 1);
        return NULL;
    }
    *me = (batch_item){.env = env, .bytes = bytes, .len = len, .until_ms = gj_mono_ms() + timeout_ms};
    /* One condition per call: a batch's answer wakes its own callers, not every caller
     * waiting on the region (a broadcast woke ~30 threads per batch, most to sleep again). */
    pthread_cond_init(&me->answered, NULL);
    pthread_mutex_lock(&ob->mu);
    if (ob->closing) {
        pthread_mutex_unlock(&ob->mu);
        pthread_cond_destroy(&me->answered);
        *closing = true;
        return NULL;
    }
    if (ob->tail != NULL)
        ob->tail->next = me;
    else
        ob->head = me;
    ob->tail = me;
    pthread_cond_signal(&ob->work);
    pthread_mutex_unlock(&ob->mu);
    return ob;
}

/* Wait for a queued call's answer (or send it by itself when its batch was refused). */
static gj_reason outbox_await(peer_set *ps, peer_link *p, const char *own_region, peer_outbox *ob,
                              batch_item *me, uint8_t **reply, size_t *reply_len)
{
    pthread_mutex_lock(&ob->mu);
    while (!me->done)
        pthread_cond_wait(&me->answered, &ob->mu);
    pthread_mutex_unlock(&ob->mu);
    pthread_cond_destroy(&me->answered);
    if (me->alone) {
        int left = (int)(me->until_ms - gj_mono_ms());
        return peers_sealed_call(ps, p, own_region, me->env, left, reply, reply_len);
    }
    if (me->reason == GJ_R_NONE && me->reply == me->inline_reply) {
        /* Copied here, on the thread that will free it. */
        if ((me->reply = malloc(me->reply_len ? me->reply_len : 1)) == NULL)
            return GJ_R_OVERLOADED;
        memcpy(me->reply, me->inline_reply, me->reply_len);
    }
    *reply = me->reply;
    *reply_len = me->reply_len;
    return me->reason;
}

/* A coalescable call: queue it in the region's outbox and wait for a sender to bring
 * its answer. */
static gj_reason outbox_call(peer_set *ps, peer_link *p, const char *own_region, Gongji__V1__Envelope *env,
                             const uint8_t *bytes, size_t len, int timeout_ms, uint8_t **reply,
                             size_t *reply_len)
{
    batch_item me;
    bool closing;
    peer_outbox *ob = outbox_enqueue(ps, p, own_region, env, bytes, len, timeout_ms, &me, &closing);
    if (closing)
        return GJ_R_SHUTTING_DOWN;
    if (ob == NULL)
        return peers_sealed_call(ps, p, own_region, env, timeout_ms, reply, reply_len);
    return outbox_await(ps, p, own_region, ob, &me, reply, reply_len);
}

/* A peer's Reply (freed here): its answer decoded, or the reason it gave and its message. */
static gj_reason decode_reply(uint8_t *reply_bytes, size_t reply_len, const ProtobufCMessageDescriptor *answer_desc,
                              ProtobufCMessage **answer, char *detail, size_t detail_size)
{
    gj_reason r;
    Gongji__V1__Reply *reply = gongji__v1__reply__unpack(NULL, reply_len, reply_bytes);
    free(reply_bytes);
    if (reply == NULL)
        return GJ_R_PEER_REFUSED;
    if (reply->code != GONGJI__V1__CODE__OK) {
        r = peers_reason_by_name(reply->reason);
        if (detail)
            snprintf(detail, detail_size, "%s", reply->message);
    } else {
        *answer = protobuf_c_message_unpack(answer_desc, NULL, reply->payload.len, reply->payload.data);
        r = *answer ? GJ_R_NONE : GJ_R_PEER_REFUSED;
    }
    gongji__v1__reply__free_unpacked(reply, NULL);
    return r;
}

/* Pack request into env (unsealed) and, for a coalescable method, into *bytes to ride
 * in a batch; false when out of memory. *payload and *bytes are the caller's to free. */
static bool pack_call(const char *own_region, const char *dest_region, const char *method, const char *call_id,
                      const ProtobufCMessage *request, int timeout_ms, Gongji__V1__Envelope *env,
                      uint8_t **payload, uint8_t **bytes, size_t *len)
{
    size_t plen = protobuf_c_message_get_packed_size(request);
    *bytes = NULL;
    if ((*payload = malloc(plen ? plen : 1)) == NULL)
        return false;
    protobuf_c_message_pack(request, *payload);
    gongji__v1__envelope__init(env);
    env->method = (char *)method;
    env->call_id = (char *)call_id;
    env->deadline_unix_ms = gj_now_unix_ms() + timeout_ms;
    env->caller_id = (char *)own_region;
    env->caller_role = GONGJI__V1__ROLE__PEER;
    env->dest_region = (char *)dest_region;
    env->origin_region = (char *)own_region;
    env->payload.data = *payload;
    env->payload.len = plen;
    if (!peers_coalescable(method))
        return true;
    *len = gongji__v1__envelope__get_packed_size(env);
    if ((*bytes = malloc(*len ? *len : 1)) == NULL)
        return false;
    gongji__v1__envelope__pack(env, *bytes);
    return true;
}

void peers_call_many(peer_set *ps, const char *own_region, peers_request *reqs, size_t count, int timeout_ms)
{
    struct pending {
        peer_link *p;
        peer_outbox *ob;
        bool admitted, counted;
        Gongji__V1__Envelope env;
        uint8_t *payload, *bytes;
        size_t len;
        batch_item item;
    } *pend = calloc(count ? count : 1, sizeof *pend);
    for (size_t i = 0; i < count; i++) {
        peers_request *q = &reqs[i];
        q->answer = NULL;
        q->detail[0] = '\0';
        q->reason = GJ_R_NONE;
        if (pend == NULL) {
            q->reason = GJ_R_OVERLOADED;
            continue;
        }
        struct pending *w = &pend[i];
        if ((w->p = peers_route(ps, q->dest_region)) == NULL) {
            q->reason = GJ_R_REGION_UNKNOWN;
            continue;
        }
        if (!region_watch_admit(&ps->watch, q->dest_region, &w->counted)) {
            snprintf(q->detail, sizeof q->detail, "region %s has not answered lately; not asked", q->dest_region);
            q->reason = GJ_R_REGION_NOT_ANSWERING;
            continue;
        }
        w->admitted = true;
        if (!pack_call(own_region, q->dest_region, q->method, q->call_id, q->request, timeout_ms, &w->env,
                       &w->payload, &w->bytes, &w->len)) {
            q->reason = GJ_R_OVERLOADED;
            continue;
        }
        bool closing = false;
        if (w->bytes != NULL)
            w->ob = outbox_enqueue(ps, w->p, own_region, &w->env, w->bytes, w->len, timeout_ms, &w->item, &closing);
        if (closing)
            q->reason = GJ_R_SHUTTING_DOWN;
    }
    /* Everything queued is on its way together; now each answer in turn (one that could
     * not be queued goes by itself). */
    for (size_t i = 0; i < count && pend != NULL; i++) {
        peers_request *q = &reqs[i];
        struct pending *w = &pend[i];
        uint8_t *reply = NULL;
        size_t reply_len = 0;
        if (w->ob != NULL)
            q->reason = outbox_await(ps, w->p, own_region, w->ob, &w->item, &reply, &reply_len);
        else if (w->admitted && q->reason == GJ_R_NONE)
            q->reason = peers_sealed_call(ps, w->p, own_region, &w->env, timeout_ms, &reply, &reply_len);
        if (w->admitted && q->reason == GJ_R_NONE)
            q->reason = decode_reply(reply, reply_len, q->answer_desc, &q->answer, q->detail, sizeof q->detail);
        else if (w->admitted && q->detail[0] == '\0')
            snprintf(q->detail, sizeof q->detail, "region %s did not answer within %d ms", q->dest_region,
                     timeout_ms);
        if (w->admitted)
            region_watch_done(&ps->watch, q->dest_region, w->counted, q->reason);
        free(w->bytes);
        free(w->payload);
    }
    free(pend);
}

static gj_reason call_once(peer_set *ps, peer_link *p, const char *own_region, const char *dest_region,
                           const char *method, const char *call_id, const ProtobufCMessage *request,
                           const ProtobufCMessageDescriptor *answer_desc, int timeout_ms,
                           ProtobufCMessage **answer, char *detail, size_t detail_size);

gj_reason peers_call(peer_set *ps, const char *own_region, const char *dest_region,
                     const char *method, const char *call_id, const ProtobufCMessage *request,
                     const ProtobufCMessageDescriptor *answer_desc, int timeout_ms,
                     ProtobufCMessage **answer, char *detail, size_t detail_size)
{
    *answer = NULL;
    if (detail && detail_size)
        detail[0] = '\0';
    peer_link *p = peers_route(ps, dest_region);
    if (p == NULL)
        return GJ_R_REGION_UNKNOWN;
    bool counted;
    if (!region_watch_admit(&ps->watch, dest_region, &counted)) {
        if (detail)
            snprintf(detail, detail_size, "region %s has not answered lately; not asked", dest_region);
        return GJ_R_REGION_NOT_ANSWERING;
    }
    gj_reason r = call_once(ps, p, own_region, dest_region, method, call_id, request, answer_desc, timeout_ms,
                            answer, detail, detail_size);
    region_watch_done(&ps->watch, dest_region, counted, r);
    return r;
}

static gj_reason call_once(peer_set *ps, peer_link *p, const char *own_region, const char *dest_region,
                           const char *method, const char *call_id, const ProtobufCMessage *request,
                           const ProtobufCMessageDescriptor *answer_desc, int timeout_ms,
                           ProtobufCMessage **answer, char *detail, size_t detail_size)
{
    Gongji__V1__Envelope env;
    uint8_t *payload = NULL, *bytes = NULL, *reply_bytes = NULL;
    size_t len = 0, reply_len = 0;
    if (!pack_call(own_region, dest_region, method, call_id, request, timeout_ms, &env, &payload, &bytes, &len)) {
        free(payload);
        free(bytes);
        return GJ_R_OVERLOADED;
    }
    gj_reason r = bytes != NULL
                      ? outbox_call(ps, p, own_region, &env, bytes, len, timeout_ms, &reply_bytes, &reply_len)
                      : peers_sealed_call(ps, p, own_region, &env, timeout_ms, &reply_bytes, &reply_len);
    free(bytes);
    free(payload);
    if (r != GJ_R_NONE) {
        if (detail)
            snprintf(detail, detail_size, "region %s did not answer within %d ms", dest_region, timeout_ms);
        return r;
    }
    return decode_reply(reply_bytes, reply_len, answer_desc, answer, detail, detail_size);
}
