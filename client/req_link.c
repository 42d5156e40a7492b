/* A caller's link to one node on a raw REQ socket. See req_link.h. */
#include "req_link.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <nng/protocol/reqrep0/req.h>

#include "gj_limits.h"
#include "gj_util.h"
#include "link_stats.h"
#include "tls.h"

/* Reconnect quickly so a node that comes up during a call is found within it, but
 * back off a little so a dead node does not spin a core. */
#define LINK_RECONN_MIN_MS 20
#define LINK_RECONN_MAX_MS 200
/* While a call waits, this often it looks whether a connection was lost (then it sends
 * again, as nng's REQ socket does). */
#define LINK_LOSS_CHECK_MS 100
/* Connections tracked for closing; a link has one, two while one replaces another. */
#define LINK_PIPES_MAX 8
/* How long closing waits for the connection that replaces a closed one (see
 * req_link_close); a node that is down never makes one. */
#define LINK_CLOSE_REDIAL_WAIT_MS 1000

struct req_link {
    nng_socket sock;
    nng_dialer dialer;
    char *url;
    nng_tls_config *tls; /* borrowed */
    nng_aio *send_aio, *recv_aio;
    int timeout_ms;
    uint32_t next_id;
    gj_dialer_watch watch; /* whether the dialer has given up (link_redial) */
    bool answers_late;    /* a call ended without its answer: it may still come */
    pthread_mutex_t mu;   /* guards what nng's pipe events change: */
    pthread_cond_t pipe_added;
    nng_pipe pipes[LINK_PIPES_MAX];
    uint64_t pipes_made;  /* connections made so far */
    uint64_t pipes_lost;  /* connections closed so far */
};

/* nng calls this on its own threads as connections come and go. */
static void link_pipe_event(nng_pipe p, nng_pipe_ev ev, void *arg)
{
    req_link *l = arg;
    pthread_mutex_lock(&l->mu);
    for (int i = 0; i < LINK_PIPES_MAX; i++) {
        if (ev == NNG_PIPE_EV_ADD_POST && nng_pipe_id(l->pipes[i]) <= 0) {
            l->pipes[i] = p;
            break;
        }
        if (ev == NNG_PIPE_EV_REM_POST && nng_pipe_id(l->pipes[i]) == nng_pipe_id(p)) {
            l->pipes[i] = (nng_pipe)NNG_PIPE_INITIALIZER;
            break;
        }
    }
    if (ev == NNG_PIPE_EV_REM_POST)
        l->pipes_lost++;
    if (ev == NNG_PIPE_EV_ADD_POST) {
        l->pipes_made++;
        pthread_cond_broadcast(&l->pipe_added);
    }
    pthread_mutex_unlock(&l->mu);
}

static uint64_t link_pipes_lost(req_link *l)
{
    pthread_mutex_lock(&l->mu);
    uint64_t lost = l->pipes_lost;
    pthread_mutex_unlock(&l->mu);
    return lost;
}

int req_link_open(req_link **out, const char *url, nng_tls_config *tls, int timeout_ms)
{
    *out = NULL;
    req_link *l = calloc(1, sizeof *l);
    if (l == NULL)
        return NNG_ENOMEM;
    if (pthread_mutex_init(&l->mu, NULL) != 0) {
        free(l);
        return NNG_ENOMEM;
    }
    pthread_condattr_t attr;
    if (pthread_condattr_init(&attr) != 0 || pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) != 0 ||
        pthread_cond_init(&l->pipe_added, &attr) != 0) {
        pthread_mutex_destroy(&l->mu);
        free(l);
        return NNG_ENOMEM;
    }
    pthread_condattr_destroy(&attr);
    l->tls = tls;
    l->timeout_ms = timeout_ms;
    /* Ids need only differ between this link's calls; a random start keeps a restarted
     * caller's ids from meeting its previous run's late answers. */
    if (getrandom(&l->next_id, sizeof l->next_id, GRND_NONBLOCK) != (ssize_t)sizeof l->next_id)
        l->next_id = (uint32_t)gj_mono_ms();
    int rv = nng_req0_open_raw(&l->sock);
    if (rv != 0) {
        pthread_cond_destroy(&l->pipe_added);
        pthread_mutex_destroy(&l->mu);
        free(l);
        return rv;
    }
    if ((rv = nng_aio_alloc(&l->send_aio, NULL, NULL)) != 0 ||
        (rv = nng_aio_alloc(&l->recv_aio, NULL, NULL)) != 0 ||
        /* Answers can be up to the hard cap: the node may answer a large page. */
        (rv = nng_socket_set_size(l->sock, NNG_OPT_RECVMAXSZ, GJ_MSG_HARD_MAX)) != 0 ||
        (rv = nng_socket_set_ms(l->sock, NNG_OPT_RECONNMINT, LINK_RECONN_MIN_MS)) != 0 ||
        (rv = nng_socket_set_ms(l->sock, NNG_OPT_RECONNMAXT, LINK_RECONN_MAX_MS)) != 0 ||
        (rv = nng_pipe_notify(l->sock, NNG_PIPE_EV_ADD_POST, link_pipe_event, l)) != 0 ||
        (rv = nng_pipe_notify(l->sock, NNG_PIPE_EV_REM_POST, link_pipe_event, l)) != 0 ||
        /* Non-blocking: a node that is not up yet is a timed-out call, not an open
         * failure. Bad URLs and unknown schemes still fail here. */
        (rv = gj_tls_dial(l->sock, url, tls, &l->dialer)) != 0 ||
        (l->url = strdup(url)) == NULL) {
        nng_close(l->sock);
        nng_aio_free(l->send_aio);
        nng_aio_free(l->recv_aio);
        pthread_cond_destroy(&l->pipe_added);
        pthread_mutex_destroy(&l->mu);
        free(l);
        return rv != 0 ? rv : NNG_ENOMEM;
    }
    *out = l;
    return 0;
}

int req_link_set_timeout(req_link *l, int timeout_ms)
{
    if (l == NULL || timeout_ms <= 0)
        return NNG_EINVAL;
    l->timeout_ms = timeout_ms;
    return 0;
}

/* nng 1.5.2's dialer can give up for good when a node is killed during a connection
 * handshake. Looked at when a call starts with no connection open and after a call got
 * no answer: a dialer gone quiet is replaced (trust/link_stats.h says why only then). A
 * link serves one call at a time, so nothing else uses the dialer meanwhile. */
static void link_redial(req_link *l)
{
    int stats_rv = 0;
    if (!gj_dialer_gone_quiet(l->dialer, &l->watch, gj_mono_ms(), GJ_DIALER_QUIET_MS, &stats_rv))
        return;
    nng_dialer fresh;
    if (gj_tls_dial(l->sock, l->url, l->tls, &fresh) == 0) {
        if (nng_dialer_id(l->dialer) > 0)
            nng_dialer_close(l->dialer);
        l->dialer = fresh;
    }
}

static bool link_connected(req_link *l)
{
    bool any = false;
    pthread_mutex_lock(&l->mu);
    for (int i = 0; i < LINK_PIPES_MAX && !any; i++)
        any = nng_pipe_id(l->pipes[i]) > 0;
    pthread_mutex_unlock(&l->mu);
    return any;
}

/* Hand a copy of request to a connection, waiting at most until deadline (monotonic ms). */
static int link_send(req_link *l, nng_msg *request, int64_t deadline)
{
    nng_msg *copy;
    int rv = nng_msg_dup(&copy, request);
    if (rv != 0)
        return rv;
    int64_t left = deadline - gj_mono_ms();
    nng_aio_set_msg(l->send_aio, copy);
    nng_aio_set_timeout(l->send_aio, left > 0 ? (nng_duration)left : NNG_DURATION_ZERO);
    nng_send_aio(l->sock, l->send_aio);
    nng_aio_wait(l->send_aio);
    if ((rv = nng_aio_result(l->send_aio)) != 0)
        nng_msg_free(nng_aio_get_msg(l->send_aio)); /* not taken: still ours */
    return rv;
}

/* The next answer, waiting at most wait_ms; *out is NULL when none came. */
static int link_receive(req_link *l, int wait_ms, nng_msg **out)
{
    *out = NULL;
    nng_aio_set_timeout(l->recv_aio, wait_ms > 0 ? (nng_duration)wait_ms : NNG_DURATION_ZERO);
    nng_recv_aio(l->sock, l->recv_aio);
    nng_aio_wait(l->recv_aio);
    int rv = nng_aio_result(l->recv_aio);
    if (rv == 0)
        *out = nng_aio_get_msg(l->recv_aio);
    return rv;
}

static int link_exchange(req_link *l, nng_msg *request, uint32_t id, void **answer, size_t *answer_len)
{
    int64_t deadline = gj_mono_ms() + l->timeout_ms;
    uint64_t lost = link_pipes_lost(l);
    int rv = link_send(l, request, deadline);
    while (rv == 0) {
        int64_t left = deadline - gj_mono_ms();
        if (left <= 0)
            return NNG_ETIMEDOUT;
        nng_msg *got;
        rv = link_receive(l, left < LINK_LOSS_CHECK_MS ? (int)left : LINK_LOSS_CHECK_MS, &got);
        if (rv == NNG_ETIMEDOUT) {
            /* A connection closed since the request left: it may have gone with it. */
            uint64_t now_lost = link_pipes_lost(l);
            rv = now_lost != lost ? link_send(l, request, deadline) : 0;
            lost = now_lost;
            continue;
        }
        if (rv != 0)
            return rv;
        /* The raw socket moved the id from the body into the header. */
        const uint8_t *h = nng_msg_header(got);
        uint32_t got_id = nng_msg_header_len(got) == 4
                              ? ((uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3])
                              : 0;
        if (got_id != id) { /* a late answer to an earlier call */
            nng_msg_free(got);
            continue;
        }
        size_t n = nng_msg_len(got);
        *answer = nng_alloc(n > 0 ? n : 1);
        if (*answer == NULL) {
            nng_msg_free(got);
            return NNG_ENOMEM;
        }
        memcpy(*answer, nng_msg_body(got), n);
        *answer_len = n;
        nng_msg_free(got);
        return 0;
    }
    return rv;
}

int req_link_call(req_link *l, const void *bytes, size_t len, void **answer, size_t *answer_len)
{
    *answer = NULL;
    *answer_len = 0;
    /* The last id of a backtrace has its top bit set (nng's REQ/REP protocol). */
    uint32_t id = (l->next_id++ & 0x7fffffffu) | 0x80000000u;
    nng_msg *request;
    int rv = nng_msg_alloc(&request, 0);
    if (rv != 0)
        return rv;
    if ((rv = nng_msg_append_u32(request, id)) == 0 && len > 0)
        rv = nng_msg_append(request, bytes, len);
    if (rv == 0 && !link_connected(l))
        link_redial(l);
    if (rv == 0)
        rv = link_exchange(l, request, id, answer, answer_len);
    nng_msg_free(request);
    if (rv != 0) {
        l->answers_late = true;
        link_redial(l);
    }
    return rv;
}

/* Before closing, let the answers still due arrive (calls that timed out are answered
 * late): closing a connection while one arrives can hang nng (trust/link_stats.h). */
static void link_wait_for_late_answers(req_link *l)
{
    int64_t until = gj_mono_ms() + GJ_LINK_CLOSE_DRAIN_MS;
    uint64_t owed = 0;
    while (gj_link_answers_owed(l->sock, &owed) == 0 && owed > 0 && gj_mono_ms() < until) {
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

/* Closing has to steer clear of two faults of nng 1.5.2.
 *
 * 1. A close that hangs. After an answer is taken, the raw socket asks its connection for
 *    the next message, on one of nng's threads. nng_close closes the dialer first, and
 *    the dialer closes the connection's transport before the protocol above it. A
 *    request for the next message made in between starts a read on a closed transport.
 *    That read never ends, and the close waits for it for ever (seen about once in ten
 *    closes right after a call). nng_pipe_close closes the protocol first, so that
 *    request is refused or cancelled.
 * 2. A listener that stops for good. When a connection is closed during its handshake,
 *    the node's accept fails with "closed", and nng's listener then accepts nothing
 *    more (listen_guard.h). A dialer whose connection is closed dials again at once,
 *    so a socket closed right after nng_pipe_close would cut that new handshake short.
 *
 * So the link closes its connections, waits (bounded) for the dialer's new one, which
 * has carried nothing and so is safe to close the ordinary way, and then closes the
 * socket. */
static void link_close_connections(req_link *l)
{
    nng_pipe open[LINK_PIPES_MAX];
    pthread_mutex_lock(&l->mu);
    memcpy(open, l->pipes, sizeof open);
    uint64_t made = l->pipes_made;
    pthread_mutex_unlock(&l->mu);
    bool closed_any = false;
    for (int i = 0; i < LINK_PIPES_MAX; i++)
        if (nng_pipe_id(open[i]) > 0 && nng_pipe_close(open[i]) == 0) /* gone already: refused */
            closed_any = true;
    if (!closed_any)
        return;
    struct timespec until = gj_time_after_us(CLOCK_MONOTONIC, LINK_CLOSE_REDIAL_WAIT_MS * 1000LL);
    pthread_mutex_lock(&l->mu);
    while (l->pipes_made == made && pthread_cond_timedwait(&l->pipe_added, &l->mu, &until) == 0) {
    }
    pthread_mutex_unlock(&l->mu);
}

void req_link_close(req_link *l)
{
    if (l == NULL)
        return;
    if (l->answers_late)
        link_wait_for_late_answers(l);
    /* At once: a dialer backs off for a random part of this before dialing again. */
    nng_dialer_set_ms(l->dialer, NNG_OPT_RECONNMINT, 1);
    link_close_connections(l);
    nng_close(l->sock); /* no pipe event runs after this returns */
    nng_aio_free(l->send_aio);
    nng_aio_free(l->recv_aio);
    pthread_cond_destroy(&l->pipe_added);
    pthread_mutex_destroy(&l->mu);
    free(l->url);
    free(l);
}
