/* gongji client library: one call at a time over a link to one node (req_link.h).
 * See client.h. */
#include "client.h"

#include <errno.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <nng/nng.h>

#include "gj_limits.h"
#include "gj_util.h"
#include "req_link.h"
#include "session.h"
#include "tls.h"

/* Sessions a client keeps: one per destination it has called (the node called, and
 * regions it forwards to). More are opened again as needed. */
#define CLIENT_SESSIONS_MAX 8
/* A session this close to its end is opened again rather than used. */
#define CLIENT_SESSION_MARGIN_MS 30000

typedef struct client_session {
    char dest[GJ_ADMDVS_LEN + 1]; /* "" = the node called */
    gj_session s;
    bool valid;
} client_session;

struct client {
    req_link *link;
    int timeout_ms;
    char *caller_id; /* heap copy: the node, not the library, judges its length */
    int role;
    char url[128];   /* for messages only; truncated if longer */
    const gj_cred *cred;       /* NULL: plaintext, unsealed */
    nng_tls_config *tls;       /* for tls+tcp:// */
    client_session sessions[CLIENT_SESSIONS_MAX];
    unsigned next_session;     /* the slot a new destination takes (round robin) */
};

/* Copy src into dst[size] without cutting a UTF-8 sequence in half, so a truncated
 * Chinese message stays printable. */
static void client_copy_text(char *dst, size_t size, const char *src)
{
    if (size == 0)
        return;
    if (src == NULL)
        src = "";
    size_t len = strlen(src);
    if (len >= size) {
        /* src[len] is the first byte left out; while it continues a sequence, leave
         * out that sequence's earlier bytes too. */
        len = size - 1;
        while (len > 0 && ((unsigned char)src[len] & 0xC0) == 0x80)
            len--;
    }
    memcpy(dst, src, len);
    dst[len] = '\0';
}

static void client_fail(client_status *st, int code, const char *reason, const char *message)
{
    st->code = code;
    client_copy_text(st->reason, sizeof st->reason, reason);
    client_copy_text(st->message, sizeof st->message, message);
    st->served_by[0] = '\0';
}

/* An nng error while sending or waiting: the node gave no answer. */
static void client_fail_nng(const client_t *c, client_status *st, int rv)
{
    char msg[sizeof st->message];
    if (rv == NNG_ETIMEDOUT) {
        snprintf(msg, sizeof msg, "no answer from %s within %d ms", c->url, c->timeout_ms);
        client_fail(st, GONGJI__V1__CODE__DEADLINE_EXCEEDED, "NO_ANSWER", msg);
    } else {
        snprintf(msg, sizeof msg, "%s: %s", c->url, nng_strerror(rv));
        client_fail(st, GONGJI__V1__CODE__UNAVAILABLE, "NO_ANSWER", msg);
    }
}

gj_err client_set_timeout(client_t *c, int timeout_ms)
{
    if (c == NULL || timeout_ms <= 0)
        return GJ_ERR_INVAL;
    if (req_link_set_timeout(c->link, timeout_ms) != 0)
        return GJ_ERR_TRANSPORT;
    c->timeout_ms = timeout_ms;
    return GJ_OK;
}

gj_err client_open(client_t **out, const char *url, int timeout_ms)
{
    return client_open_with(out, url, timeout_ms, NULL);
}

gj_err client_open_with(client_t **out, const char *url, int timeout_ms, const gj_cred *cred)
{
    if (out == NULL)
        return GJ_ERR_INVAL;
    *out = NULL;
    if (url == NULL || url[0] == '\0' || timeout_ms <= 0 || (gj_url_is_tls(url) && cred == NULL))
        return GJ_ERR_INVAL;

    client_t *c = calloc(1, sizeof *c);
    if (c == NULL)
        return GJ_ERR_NOMEM;
    c->cred = cred;
    c->caller_id = strdup(cred != NULL ? gj_cred_identity(cred)->id : "gongji-cli");
    if (c->caller_id == NULL) {
        free(c);
        return GJ_ERR_NOMEM;
    }
    c->role = cred != NULL ? gj_cred_identity(cred)->role : GONGJI__V1__ROLE__OPERATOR;
    c->timeout_ms = timeout_ms;
    client_copy_text(c->url, sizeof c->url, url);
    if (gj_url_is_tls(url)) {
        char err[256];
        if (gj_tls_config_make(&c->tls, false, gj_cred_paths(cred), err, sizeof err) != GJ_OK) {
            free(c->caller_id);
            free(c);
            return GJ_ERR_TRANSPORT;
        }
    }

    /* Non-blocking: a node that is not up yet is a timed-out call, not an open failure.
     * Bad URLs and unknown schemes still fail here. */
    int rv = req_link_open(&c->link, url, c->tls, timeout_ms);
    if (rv != 0) {
        if (c->tls != NULL)
            nng_tls_config_free(c->tls);
        free(c->caller_id);
        free(c);
        return rv == NNG_ENOMEM ? GJ_ERR_NOMEM : GJ_ERR_TRANSPORT;
    }
    *out = c;
    return GJ_OK;
}

void client_close(client_t *c)
{
    if (c == NULL)
        return;
    req_link_close(c->link); /* before the TLS configuration it uses */
    if (c->tls != NULL)
        nng_tls_config_free(c->tls);
    memset(c->sessions, 0, sizeof c->sessions);
    free(c->caller_id);
    free(c);
}

/* Threads client_close_all closes on, at most. */
#define CLOSE_ALL_THREADS_MAX 64

typedef struct close_all_work {
    client_t **cs;
    size_t n;
    atomic_size_t next; /* the next entry to close */
} close_all_work;

static void *close_all_worker(void *arg)
{
    close_all_work *w = arg;
    for (size_t i; (i = atomic_fetch_add(&w->next, 1)) < w->n;)
        client_close(w->cs[i]);
    return NULL;
}

void client_close_all(client_t **cs, size_t n)
{
    if (cs == NULL || n == 0)
        return;
    close_all_work w = {.cs = cs, .n = n};
    atomic_init(&w.next, 0);
    pthread_t threads[CLOSE_ALL_THREADS_MAX];
    size_t want = n < CLOSE_ALL_THREADS_MAX ? n : CLOSE_ALL_THREADS_MAX, started = 0;
    pthread_attr_t attr; /* a close needs little stack */
    bool have_attr = pthread_attr_init(&attr) == 0;
    if (have_attr && pthread_attr_setstacksize(&attr, 256 * 1024) != 0) {
        pthread_attr_destroy(&attr);
        have_attr = false;
    }
    while (started + 1 < want && pthread_create(&threads[started], have_attr ? &attr : NULL, close_all_worker, &w) == 0)
        started++;
    if (have_attr)
        pthread_attr_destroy(&attr);
    close_all_worker(&w); /* this thread too; alone if no thread could start */
    for (size_t i = 0; i < started; i++)
        pthread_join(threads[i], NULL);
}

void client_set_identity(client_t *c, const char *caller_id, int role)
{
    if (c == NULL)
        return;
    if (caller_id != NULL) {
        char *copy = strdup(caller_id);
        if (copy != NULL) { /* on failure keep the previous identity */
            free(c->caller_id);
            c->caller_id = copy;
        }
    }
    c->role = role;
}

/* ---- sessions ---- */

static client_session *session_find(client_t *c, const char *dest)
{
    for (int i = 0; i < CLIENT_SESSIONS_MAX; i++)
        if (c->sessions[i].valid && strcmp(c->sessions[i].dest, dest) == 0)
            return &c->sessions[i];
    return NULL;
}

/* Pack env and exchange it; on an answer *rep is the decoded Reply and *raw / *raw_len
 * the bytes (free with nng_free). status says why when there was no usable answer. */
static gj_err exchange_envelope(client_t *c, const Gongji__V1__Envelope *env, void **raw, size_t *raw_len,
                                Gongji__V1__Reply **rep, client_status *status)
{
    *rep = NULL;
    size_t env_len = gongji__v1__envelope__get_packed_size(env);
    uint8_t *env_buf = malloc(env_len > 0 ? env_len : 1);
    if (env_buf == NULL) {
        client_fail(status, GONGJI__V1__CODE__INTERNAL, "NO_ANSWER", "out of memory");
        return GJ_ERR_NOMEM;
    }
    gongji__v1__envelope__pack(env, env_buf);
    int rv = req_link_call(c->link, env_buf, env_len, raw, raw_len);
    free(env_buf);
    if (rv != 0) {
        client_fail_nng(c, status, rv);
        return GJ_ERR_TRANSPORT;
    }
    if ((*rep = gongji__v1__reply__unpack(NULL, *raw_len, *raw)) == NULL) {
        char msg[sizeof status->message];
        snprintf(msg, sizeof msg, "undecodable reply from %s", c->url);
        client_fail(status, GONGJI__V1__CODE__INTERNAL, "BAD_ANSWER", msg);
        nng_free(*raw, *raw_len);
        return GJ_ERR_TRANSPORT;
    }
    return GJ_OK;
}

static void status_from_reply(client_status *status, const Gongji__V1__Reply *rep)
{
    status->code = (int)rep->code;
    client_copy_text(status->reason, sizeof status->reason, rep->reason);
    client_copy_text(status->message, sizeof status->message, rep->message);
    client_copy_text(status->served_by, sizeof status->served_by, rep->served_by);
}

/* Auth/Open with the node dest names ("" = the node called), as the credential's
 * identity. GJ_OK with the session kept; otherwise status says why. */
static gj_err session_open(client_t *c, const char *dest, client_session **out, client_status *status)
{
    gj_open_pending pending;
    Gongji__V1__OpenSessionRequest req;
    if (gj_open_begin(c->cred, dest, &pending, &req) != GJ_OK) {
        client_fail(status, GONGJI__V1__CODE__INTERNAL, "NO_ANSWER", "cannot make a session key");
        return GJ_ERR_NOMEM;
    }
    size_t plen = gongji__v1__open_session_request__get_packed_size(&req);
    uint8_t *payload = malloc(plen ? plen : 1);
    if (payload == NULL) {
        gj_open_abandon(&pending);
        client_fail(status, GONGJI__V1__CODE__INTERNAL, "NO_ANSWER", "out of memory");
        return GJ_ERR_NOMEM;
    }
    gongji__v1__open_session_request__pack(&req, payload);
    const gj_identity *me = gj_cred_identity(c->cred);
    Gongji__V1__Envelope env = GONGJI__V1__ENVELOPE__INIT;
    env.method = "gongji.v1.Auth/Open";
    env.call_id = "";
    env.deadline_unix_ms = gj_now_unix_ms() + c->timeout_ms;
    env.caller_id = (char *)me->id;
    env.caller_role = (Gongji__V1__Role)me->role;
    env.dest_region = (char *)dest;
    env.payload = (ProtobufCBinaryData){.len = plen, .data = payload};
    void *raw = NULL;
    size_t raw_len = 0;
    Gongji__V1__Reply *rep = NULL;
    gj_err e = exchange_envelope(c, &env, &raw, &raw_len, &rep, status);
    free(payload);
    if (e != GJ_OK) {
        gj_open_abandon(&pending);
        return e;
    }
    nng_free(raw, raw_len);
    if (rep->code != GONGJI__V1__CODE__OK) {
        status_from_reply(status, rep);
        gongji__v1__reply__free_unpacked(rep, NULL);
        gj_open_abandon(&pending);
        return GJ_ERR_INVAL;
    }
    Gongji__V1__OpenSessionReply *ans =
        gongji__v1__open_session_reply__unpack(NULL, rep->payload.len, rep->payload.data);
    gongji__v1__reply__free_unpacked(rep, NULL);
    client_session *slot = &c->sessions[c->next_session++ % CLIENT_SESSIONS_MAX];
    char why[200] = "the node's answer to Auth/Open is not an OpenSessionReply";
    if (ans == NULL || gj_open_finish(&pending, c->cred, ans, dest, &slot->s, why, sizeof why) != GJ_OK) {
        if (ans == NULL)
            gj_open_abandon(&pending);
        slot->valid = false;
        if (ans != NULL)
            gongji__v1__open_session_reply__free_unpacked(ans, NULL);
        client_fail(status, GONGJI__V1__CODE__UNAUTHENTICATED, "NODE_NOT_PROVEN", why);
        return GJ_ERR_INVAL;
    }
    gongji__v1__open_session_reply__free_unpacked(ans, NULL);
    memcpy(slot->dest, dest, strlen(dest) + 1);
    slot->valid = true;
    *out = slot;
    return GJ_OK;
}

static gj_err session_for(client_t *c, const char *dest, client_session **out, client_status *status)
{
    client_session *cs = session_find(c, dest);
    if (cs != NULL && cs->s.expires_ms - CLIENT_SESSION_MARGIN_MS > gj_now_unix_ms()) {
        *out = cs;
        return GJ_OK;
    }
    if (cs != NULL)
        cs->valid = false;
    return session_open(c, dest, out, status);
}

/* Whether the answer to a sealed request carries the session's MAC over itself. */
static bool answer_sealed_by(const client_session *cs, const uint8_t request_mac[GJ_MAC_LEN], const void *raw,
                             size_t raw_len)
{
    size_t covered;
    const uint8_t *mac;
    if (!gj_reply_find_mac(raw, raw_len, &covered, &mac))
        return false;
    uint8_t expect[GJ_MAC_LEN];
    gj_reply_mac(cs->s.key, request_mac, raw, covered, expect);
    return gj_mac_equal(expect, mac, GJ_MAC_LEN);
}

static bool is_region_code(const char *s)
{
    return strlen(s) == GJ_ADMDVS_LEN && gj_all_digits(s, GJ_ADMDVS_LEN);
}

/* ---- calls ---- */

gj_err client_call(client_t *c, const char *method, const char *call_id, const char *dest_region,
                   const ProtobufCMessage *request, const ProtobufCMessageDescriptor *reply_desc,
                   ProtobufCMessage **reply, client_status *status)
{
    client_status scratch;
    if (status == NULL)
        status = &scratch;
    memset(status, 0, sizeof *status);
    if (reply != NULL)
        *reply = NULL;
    if (c == NULL || method == NULL) {
        client_fail(status, GONGJI__V1__CODE__INVALID_ARGUMENT, "NO_ANSWER",
                    "client_call: no client or no method");
        return GJ_ERR_INVAL;
    }

    char fresh_id[33];
    if (call_id == NULL) {
        client_new_call_id(fresh_id);
        call_id = fresh_id;
    }

    uint8_t *req_buf = NULL;
    size_t req_len = 0;
    if (request != NULL) {
        req_len = protobuf_c_message_get_packed_size(request);
        req_buf = malloc(req_len > 0 ? req_len : 1);
        if (req_buf == NULL) {
            client_fail(status, GONGJI__V1__CODE__INTERNAL, "NO_ANSWER", "out of memory");
            return GJ_ERR_NOMEM;
        }
        protobuf_c_message_pack(request, req_buf);
    }

    char dest[GJ_ADMDVS_LEN + 1] = "";
    if (dest_region != NULL)
        client_copy_text(dest, sizeof dest, dest_region);
    Gongji__V1__Envelope env = GONGJI__V1__ENVELOPE__INIT;
    /* protobuf-c only reads these strings while packing; the casts drop const. */
    env.method = (char *)method;
    env.call_id = (char *)call_id;
    env.deadline_unix_ms = gj_now_unix_ms() + c->timeout_ms;
    env.caller_id = c->caller_id;
    env.caller_role = (Gongji__V1__Role)c->role;
    env.hops = 0;
    env.payload.data = req_buf;
    env.payload.len = req_len;

    /* A sealed call may be sent again, with the same call id: once when the node has
     * forgotten the session (it restarted), once when another region owns the request
     * and it must be sealed for that region. */
    gj_err result = GJ_ERR_TRANSPORT;
    Gongji__V1__Reply *rep = NULL;
    void *raw = NULL;
    size_t raw_len = 0;
    bool renewed = false, rerouted = false;
    for (int attempt = 0; attempt < 3; attempt++) {
        env.dest_region = dest;
        client_session *cs = NULL;
        Gongji__V1__Seal seal = GONGJI__V1__SEAL__INIT;
        uint8_t mac[GJ_MAC_LEN];
        if (c->cred != NULL) {
            if ((result = session_for(c, dest, &cs, status)) != GJ_OK)
                break;
            seal.session_id = (ProtobufCBinaryData){.len = GJ_SESSION_ID_LEN, .data = cs->s.id};
            seal.not_after_unix_ms = env.deadline_unix_ms;
            gj_seal_mac(cs->s.key, &env, seal.not_after_unix_ms, cs->s.id, mac);
            seal.mac = (ProtobufCBinaryData){.len = GJ_MAC_LEN, .data = mac};
            env.seal = &seal;
        }
        result = exchange_envelope(c, &env, &raw, &raw_len, &rep, status);
        env.seal = NULL;
        if (result != GJ_OK)
            break;
        bool authentic = cs != NULL && answer_sealed_by(cs, mac, raw, raw_len);
        nng_free(raw, raw_len);
        if (cs != NULL && rep->code == GONGJI__V1__CODE__UNAUTHENTICATED) {
            if (!renewed && strcmp(rep->reason, "SESSION_UNKNOWN") == 0) {
                cs->valid = false;
                renewed = true;
                gongji__v1__reply__free_unpacked(rep, NULL);
                rep = NULL;
                continue;
            }
            if (!rerouted && authentic && strcmp(rep->reason, "SEAL_WRONG_NODE") == 0 &&
                is_region_code(rep->route_to)) {
                memcpy(dest, rep->route_to, sizeof dest);
                rerouted = true;
                gongji__v1__reply__free_unpacked(rep, NULL);
                rep = NULL;
                continue;
            }
        }
        status_from_reply(status, rep);
        if (cs != NULL && rep->code == GONGJI__V1__CODE__OK && !authentic) {
            /* Not the node's word: whatever it says did not come from the session. */
            char msg[sizeof status->message];
            snprintf(msg, sizeof msg, "an OK answer from %s without the session's seal", c->url);
            client_fail(status, GONGJI__V1__CODE__UNAUTHENTICATED, "ANSWER_NOT_SEALED", msg);
        } else if (rep->code == GONGJI__V1__CODE__OK && reply_desc != NULL && reply != NULL) {
            *reply = protobuf_c_message_unpack(reply_desc, NULL, rep->payload.len, rep->payload.data);
            if (*reply == NULL) {
                status->code = GONGJI__V1__CODE__INTERNAL;
                client_copy_text(status->reason, sizeof status->reason, "BAD_ANSWER");
                client_copy_text(status->message, sizeof status->message, "undecodable answer");
            }
        }
        break;
    }
    if (rep != NULL)
        gongji__v1__reply__free_unpacked(rep, NULL);
    free(req_buf);
    return result == GJ_OK || (result == GJ_ERR_INVAL && status->code != 0 && c->cred != NULL) ? GJ_OK : result;
}

gj_err client_call_envelope(client_t *c, Gongji__V1__Envelope *env, Gongji__V1__Reply **reply)
{
    client_status status;
    *reply = NULL;
    Gongji__V1__Seal seal = GONGJI__V1__SEAL__INIT;
    uint8_t mac[GJ_MAC_LEN];
    if (c->cred != NULL) {
        client_session *cs = NULL;
        const char *dest = env->dest_region != NULL ? env->dest_region : "";
        if (session_for(c, dest, &cs, &status) != GJ_OK)
            return GJ_ERR_TRANSPORT;
        seal.session_id = (ProtobufCBinaryData){.len = GJ_SESSION_ID_LEN, .data = cs->s.id};
        seal.not_after_unix_ms = env->deadline_unix_ms != 0 ? env->deadline_unix_ms : gj_now_unix_ms() + c->timeout_ms;
        gj_seal_mac(cs->s.key, env, seal.not_after_unix_ms, cs->s.id, mac);
        seal.mac = (ProtobufCBinaryData){.len = GJ_MAC_LEN, .data = mac};
        env->seal = &seal;
    }
    void *raw = NULL;
    size_t raw_len = 0;
    gj_err e = exchange_envelope(c, env, &raw, &raw_len, reply, &status);
    env->seal = NULL;
    if (e == GJ_OK)
        nng_free(raw, raw_len);
    return e;
}

/* Returns GJ_OK with *reply set, GJ_ERR_TRANSPORT when no answer came, GJ_ERR_CORRUPT
 * when the answer is not a Reply. */
gj_err client_call_raw(client_t *c, const void *bytes, size_t len, Gongji__V1__Reply **reply)
{
    if (reply == NULL)
        return GJ_ERR_INVAL;
    *reply = NULL;
    if (c == NULL || (bytes == NULL && len > 0))
        return GJ_ERR_INVAL;
    void *ans = NULL;
    size_t ans_len = 0;
    if (req_link_call(c->link, bytes, len, &ans, &ans_len) != 0)
        return GJ_ERR_TRANSPORT;
    *reply = gongji__v1__reply__unpack(NULL, ans_len, ans);
    nng_free(ans, ans_len);
    return *reply != NULL ? GJ_OK : GJ_ERR_CORRUPT;
}

const char *client_code_name(int code)
{
    const ProtobufCEnumValue *v =
        protobuf_c_enum_descriptor_get_value(&gongji__v1__code__descriptor, code);
    return v != NULL ? v->name : "UNKNOWN";
}

static bool client_random(unsigned char *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = getrandom(buf + got, n - got, 0);
        if (r > 0)
            got += (size_t)r;
        else if (r < 0 && errno != EINTR)
            break;
    }
    if (got == n)
        return true;

    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    got = 0;
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r > 0)
            got += (size_t)r;
        else if (r == 0 || errno != EINTR)
            break;
    }
    close(fd);
    return got == n;
}

void client_new_call_id(char out[33])
{
    static const char hex[] = "0123456789abcdef";
    /* 48 bits of milliseconds, then 80 random bits (as a UUIDv7 orders them): ids from
     * one caller grow with time, so the node files a caller's idempotency records next
     * to each other instead of one page apart each. */
    unsigned char raw[16];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t ms = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
    for (int i = 0; i < 6; i++)
        raw[i] = (unsigned char)(ms >> (8 * (5 - i)));
    if (!client_random(raw + 6, sizeof raw - 6)) {
        /* No kernel randomness at all: still unique enough within one caller (time,
         * pid and a counter), which is what the idempotency key needs. */
        static _Atomic unsigned counter;
        uint64_t b = ((uint64_t)getpid() << 32) ^ (uint64_t)(atomic_fetch_add(&counter, 1) + 1) ^
                     (uint64_t)ts.tv_nsec;
        memcpy(raw + 6, &b, 8);
        memset(raw + 14, 0, 2);
    }
    for (size_t i = 0; i < sizeof raw; i++) {
        out[2 * i] = hex[raw[i] >> 4];
        out[2 * i + 1] = hex[raw[i] & 0x0F];
    }
    out[32] = '\0';
}
