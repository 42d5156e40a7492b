#include "server.h"
#include "gj_util.h"
#include "listen_guard.h"
#include "log.h"
#include "tls.h"

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum worker_state { WORKER_RECV, WORKER_BUSY, WORKER_SEND };

typedef struct worker {
    server *srv;
    nng_aio *aio;
    nng_msg *msg;  /* the request's message, reused for its answer */
    uint8_t route[4 + 4 * 16]; /* the pipe id, then the request's backtrace (ids) */
    size_t route_len;
    enum worker_state state;
} worker;

struct server {
    node *n;
    _Atomic bool stopping;  /* no context takes a new request after its current one */
    nng_socket sock;
    unsigned count;
    worker *workers;
    listen_guard *guard; /* the listener, kept accepting */
};

/* Dispatch's finish callback: may run on this worker's aio thread or the store writer.
 * The raw socket routes the answer by the pipe id in its header; the backtrace goes
 * first in the body, where the caller's REQ socket reads it. */
static void worker_reply(void *arg, const uint8_t *bytes, size_t len)
{
    worker *w = arg;
    nng_msg_clear(w->msg);
    nng_msg_header_clear(w->msg);
    if (nng_msg_header_append(w->msg, w->route, 4) != 0 ||
        nng_msg_append(w->msg, w->route + 4, w->route_len - 4) != 0 ||
        nng_msg_append(w->msg, bytes, len) != 0) {
        /* No memory for the answer: drop it; the caller times out and may retry with
         * the same call id, which is safe. */
        nng_msg_free(w->msg);
        w->msg = NULL;
        w->state = WORKER_RECV;
        nng_recv_aio(w->srv->sock, w->aio);
        return;
    }
    nng_aio_set_msg(w->aio, w->msg);
    w->msg = NULL;
    w->state = WORKER_SEND;
    nng_send_aio(w->srv->sock, w->aio);
}

static void worker_cb(void *arg)
{
    worker *w = arg;
    int rv = nng_aio_result(w->aio);
    switch (w->state) {
    case WORKER_RECV:
        if (rv != 0) {
            if (rv == NNG_ECLOSED || rv == NNG_ECANCELED || atomic_load(&w->srv->stopping))
                return; /* shutting down */
            nng_recv_aio(w->srv->sock, w->aio);
            return;
        }
        w->msg = nng_aio_get_msg(w->aio);
        w->route_len = nng_msg_header_len(w->msg);
        if (w->route_len < 8 || w->route_len > sizeof w->route) { /* not from a REQ */
            nng_msg_free(w->msg);
            w->msg = NULL;
            nng_recv_aio(w->srv->sock, w->aio);
            return;
        }
        memcpy(w->route, nng_msg_header(w->msg), w->route_len);
        w->state = WORKER_BUSY;
        /* Nothing of w may be touched after this call: the answer may already be on
         * its way from another thread. */
        dispatch_bytes(w->srv->n, nng_msg_body(w->msg), nng_msg_len(w->msg), worker_reply, w);
        return;
    case WORKER_SEND:
        if (rv != 0)
            nng_msg_free(nng_aio_get_msg(w->aio));
        w->state = WORKER_RECV;
        /* Stopping: this context answered its last request; it stays idle. */
        if (rv == NNG_ECLOSED || rv == NNG_ECANCELED || atomic_load(&w->srv->stopping))
            return;
        nng_recv_aio(w->srv->sock, w->aio);
        return;
    case WORKER_BUSY:
        return; /* cannot happen: no aio operation is pending while busy */
    }
}

gj_err server_start(server **out, node *n, const char *url, unsigned contexts)
{
    int rv;
    server *s = calloc(1, sizeof *s);
    if (s == NULL)
        return GJ_ERR_NOMEM;
    s->n = n;
    if ((rv = nng_rep0_open_raw(&s->sock)) != 0)
        goto fail;
    /* Past this nng drops the connection; below it oversize messages get an answer. */
    if ((rv = nng_socket_set_size(s->sock, NNG_OPT_RECVMAXSZ, GJ_MSG_HARD_MAX)) != 0)
        goto fail;
    s->workers = calloc(contexts, sizeof *s->workers);
    if (s->workers == NULL) {
        rv = NNG_ENOMEM;
        goto fail;
    }
    for (unsigned i = 0; i < contexts; i++) {
        worker *w = &s->workers[i];
        w->srv = s;
        if ((rv = nng_aio_alloc(&w->aio, worker_cb, w)) != 0)
            goto fail;
        s->count = i + 1;
    }
    if ((rv = listen_guard_start(&s->guard, s->sock, url, n->tls_server, n->tls_client)) != 0) {
        gj_log(GJ_LOG_ERROR, "listen", "url=%s error=%s", url, nng_strerror(rv));
        goto fail;
    }
    for (unsigned i = 0; i < s->count; i++) {
        s->workers[i].state = WORKER_RECV;
        nng_recv_aio(s->sock, s->workers[i].aio);
    }
    *out = s;
    return GJ_OK;
fail:
    gj_log(GJ_LOG_ERROR, "server", "cannot start: %s", nng_strerror(rv));
    server_stop(s, 0);
    return rv == NNG_ENOMEM ? GJ_ERR_NOMEM : GJ_ERR_TRANSPORT;
}

uint64_t server_listener_restarts(const server *s)
{
    return s != NULL ? listen_guard_restarts(s->guard) : 0;
}

void server_quiesce(server *s)
{
    if (s != NULL)
        atomic_store(&s->stopping, true);
}

void server_stop(server *s, int drain_ms)
{
    if (s == NULL)
        return;
    server_quiesce(s);
    listen_guard_stop(s->guard);
    /* Let accepted requests finish; contexts take no new ones. */
    int64_t until = gj_mono_ms() + drain_ms;
    while (atomic_load(&s->n->in_flight) > 0 && gj_mono_ms() < until) {
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    /* Close first: every pending operation ends with NNG_ECLOSED and its callback
     * returns without starting another; then wait for the callbacks and free. */
    nng_close(s->sock);
    for (unsigned i = 0; i < s->count; i++)
        nng_aio_stop(s->workers[i].aio);
    for (unsigned i = 0; i < s->count; i++) {
        if (s->workers[i].msg)
            nng_msg_free(s->workers[i].msg);
        nng_aio_free(s->workers[i].aio);
    }
    free(s->workers);
    free(s);
}
