/* Peer links: one nng REQ socket per configured peer prefix, dialing (over TLS) in the
 * background, the longest-prefix route to a region, and one raw request/answer on a
 * context of its own with one deadline for both. The layers above seal calls
 * (peer_sessions.c) and batch them (peers.c). */
#include "peers.h"
#include "peer_links.h"
#include "gj_limits.h"
#include "gj_util.h"
#include "link_stats.h"
#include "log.h"
#include "tls.h"

#include <nng/protocol/reqrep0/req.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A fresh socket for p, dialing in the background. */
int peer_link_open(peer_link *p, nng_tls_config *tls)
{
    nng_socket sock;
    int rv = nng_req0_open(&sock);
    if (rv != 0) {
        gj_log(GJ_LOG_ERROR, "peer", "cannot open socket: %s", nng_strerror(rv));
        return rv;
    }
    nng_socket_set_size(sock, NNG_OPT_RECVMAXSZ, GJ_MSG_HARD_MAX);
    /* A restarted peer is found again quickly. */
    nng_socket_set_ms(sock, NNG_OPT_RECONNMINT, 20);
    nng_socket_set_ms(sock, NNG_OPT_RECONNMAXT, 500);
    /* Never resend on our own: callers decide, with their own deadlines. */
    nng_socket_set_ms(sock, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
    /* Every URL the peer is known at (a primary and its standby): the one that is up
     * has the connection, and requests go over it. */
    for (size_t u = 0; u < p->cfg->url_count; u++)
        if ((rv = gj_tls_dial(sock, p->cfg->urls[u], tls, &p->dialers[u])) != 0)
            gj_log(GJ_LOG_ERROR, "peer", "prefix=%s url=%s cannot dial: %s", p->cfg->prefix, p->cfg->urls[u],
                   nng_strerror(rv));
    p->sock = sock;
    return 0;
}

void peer_links_wait_for_late_answers(peer_link *links, size_t count)
{
    int64_t until = gj_mono_ms() + GJ_LINK_CLOSE_DRAIN_MS;
    for (size_t i = 0; i < count; i++) {
        uint64_t owed = 0;
        while (links[i].open && gj_link_answers_owed(links[i].sock, &owed) == 0 && owed > 0 &&
               gj_mono_ms() < until) {
            struct timespec ts = {0, 5 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    }
}

static nng_socket link_socket(peer_link *p)
{
    pthread_mutex_lock(&p->mu);
    nng_socket sock = p->sock;
    pthread_mutex_unlock(&p->mu);
    return sock;
}

/* nng 1.5.2's dialer can give up for good when a peer closes a connection during the
 * handshake (as one being killed does): the failed connect reads as "closed" and is
 * never retried (fixed in later nng). After calls in a row get no answer, each dialer
 * that has gone quiet is replaced (trust/link_stats.h says why only then), on the same
 * socket: contexts other threads hold on it stay valid, and closing the socket under
 * them would crash inside nng. A dialer with a connection open has not given up: the
 * peer is slow. */
#define LINK_FAILURES_BEFORE_REDIAL 3
/* While calls keep failing, how often the dialers are looked at (each look reads nng's
 * statistics): often enough that one gone quiet is replaced soon after GJ_DIALER_QUIET_MS. */
#define LINK_LOOK_MIN_INTERVAL_MS 200
/* How often the log says why a failing link is not dialed again. */
#define LINK_SAY_MIN_INTERVAL_MS 1000

static void link_no_answer(peer_link *p)
{
    if (atomic_fetch_add(&p->failures, 1) + 1 < LINK_FAILURES_BEFORE_REDIAL)
        return;
    bool redialed = false, say = false;
    int64_t now = gj_mono_ms();
    pthread_mutex_lock(&p->mu);
    int stats_rv = 0, dial_rv = 0;
    if (now - p->looked_ms >= LINK_LOOK_MIN_INTERVAL_MS) {
        p->looked_ms = now;
        for (size_t u = 0; stats_rv == 0 && dial_rv == 0 && u < p->cfg->url_count; u++) {
            if (nng_dialer_id(p->dialers[u]) > 0 &&
                !gj_dialer_gone_quiet(p->dialers[u], &p->dialer_watch[u], now, GJ_DIALER_QUIET_MS, &stats_rv))
                continue;
            if (stats_rv != 0)
                break;
            nng_dialer fresh;
            if ((dial_rv = gj_tls_dial(p->sock, p->cfg->urls[u], p->tls, &fresh)) != 0)
                break;
            if (nng_dialer_id(p->dialers[u]) > 0)
                nng_dialer_close(p->dialers[u]);
            p->dialers[u] = fresh;
            redialed = true;
        }
        if (redialed)
            atomic_store(&p->failures, 0);
        else if (now - p->said_ms >= LINK_SAY_MIN_INTERVAL_MS) {
            p->said_ms = now;
            say = true;
        }
    }
    pthread_mutex_unlock(&p->mu);
    if (redialed)
        gj_log(GJ_LOG_WARN, "peer", "prefix=%s url=%s: no answers; dialing again", p->cfg->prefix,
               p->cfg->url);
    else if (say && stats_rv != 0)
        gj_log(GJ_LOG_WARN, "peer", "prefix=%s url=%s: no answers; connection statistics unavailable (%s)",
               p->cfg->prefix, p->cfg->url, nng_strerror(stats_rv));
    else if (say && dial_rv != 0)
        gj_log(GJ_LOG_WARN, "peer", "prefix=%s url=%s: no answers; cannot dial again: %s", p->cfg->prefix,
               p->cfg->url, nng_strerror(dial_rv));
    else if (say)
        gj_log(GJ_LOG_WARN, "peer", "prefix=%s url=%s: no answers, though connected or still trying to connect",
               p->cfg->prefix, p->cfg->url);
}

peer_link *peers_route(peer_set *ps, const char *region)
{
    peer_link *best = NULL;
    size_t best_len = 0;
    for (size_t i = 0; i < ps->count; i++) {
        size_t len = strlen(ps->links[i].cfg->prefix);
        if (len > best_len && strncmp(region, ps->links[i].cfg->prefix, len) == 0) {
            best = &ps->links[i];
            best_len = len;
        }
    }
    return best;
}

gj_reason peers_call_raw(peer_link *p, const uint8_t *bytes, size_t len, int timeout_ms,
                         uint8_t **reply, size_t *reply_len)
{
    nng_ctx ctx;
    nng_aio *aio = NULL;
    nng_msg *msg = NULL;
    gj_reason reason = GJ_R_REGION_UNREACHABLE;
    int rv;
    if (timeout_ms <= 0)
        return GJ_R_DEADLINE_PASSED;
    if ((rv = nng_ctx_open(&ctx, link_socket(p))) != 0) {
        link_no_answer(p);
        return GJ_R_REGION_UNREACHABLE;
    }
    if ((rv = nng_aio_alloc(&aio, NULL, NULL)) != 0 || (rv = nng_msg_alloc(&msg, 0)) != 0 ||
        (rv = nng_msg_append(msg, bytes, len)) != 0) {
        reason = GJ_R_OVERLOADED;
        goto done;
    }
    /* One deadline for the send and the answer together. */
    int64_t until = gj_mono_ms() + timeout_ms;
    nng_aio_set_timeout(aio, timeout_ms);
    nng_aio_set_msg(aio, msg);
    nng_ctx_send(ctx, aio);
    nng_aio_wait(aio);
    if ((rv = nng_aio_result(aio)) != 0) {
        goto done; /* msg still ours */
    }
    msg = NULL;
    int64_t left = until - gj_mono_ms();
    if (left <= 0)
        goto done;
    nng_aio_set_timeout(aio, (nng_duration)left);
    nng_ctx_recv(ctx, aio);
    nng_aio_wait(aio);
    if ((rv = nng_aio_result(aio)) != 0)
        goto done;
    nng_msg *answer = nng_aio_get_msg(aio);
    *reply_len = nng_msg_len(answer);
    *reply = malloc(*reply_len ? *reply_len : 1);
    if (*reply == NULL) {
        nng_msg_free(answer);
        reason = GJ_R_OVERLOADED;
        goto done;
    }
    memcpy(*reply, nng_msg_body(answer), *reply_len);
    nng_msg_free(answer);
    reason = GJ_R_NONE;
    atomic_store(&p->failures, 0);
    atomic_store(&p->answered_unix_ms, gj_now_unix_ms());
done:
    atomic_fetch_add(&p->calls_total, 1);
    if (reason != GJ_R_NONE)
        atomic_fetch_add(&p->failures_total, 1);
    if (reason == GJ_R_REGION_UNREACHABLE)
        link_no_answer(p);
    if (msg != NULL)
        nng_msg_free(msg);
    if (aio != NULL)
        nng_aio_free(aio);
    nng_ctx_close(ctx);
    return reason;
}

gj_reason peers_reason_by_name(const char *name)
{
    for (int r = 1; r < GJ_R_COUNT; r++)
        if (strcmp(gj_reason_name((gj_reason)r), name) == 0)
            return (gj_reason)r;
    return GJ_R_PEER_REFUSED;
}
