#include "listen_guard.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nng/protocol/reqrep0/req.h>

#include "gj_util.h"
#include "link_stats.h"
#include "log.h"
#include "tls.h"

/* How often the listener is probed (a connection and an empty message: cheap), and how
 * long a live listener has, once the probe's connection is up, to answer it or count a
 * connection accepted (milliseconds). Together they bound how long new callers go
 * unserved, inside a caller's usual timeout. (The listener's error counters cannot
 * tell: nng counts every connection that closes as one.) */
#define GUARD_PERIOD_MS 2000
#define GUARD_PROBE_MS 1000
/* nng gives a connection this long to be set up before it drops it. */
#define GUARD_SETUP_MAX_MS 10000
#define GUARD_RELISTEN_TRIES 50

struct listen_guard {
    nng_socket sock;
    char url[300];
    char probe_url[300];
    nng_tls_config *server_cfg, *client_cfg;
    nng_listener listener;
    bool listening;
    _Atomic uint64_t restarts;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stopping;
    pthread_t thread;
};

typedef struct listener_counts {
    uint64_t accepted;
} listener_counts;

static int read_counts(nng_listener l, listener_counts *out)
{
    nng_stat *all = NULL;
    int rv = nng_stats_get(&all);
    if (rv != 0)
        return rv;
    nng_stat *ls = gj_stat_scope(all, "listener", nng_listener_id(l));
    if (ls == NULL)
        rv = NNG_ENOENT;
    else
        *out = (listener_counts){gj_stat_value(ls, "accept")};
    nng_stats_free(all);
    return rv;
}

/* Whether stop was asked, after waiting at most ms for it. */
static bool guard_wait(listen_guard *g, int ms)
{
    struct timespec until = gj_time_after_us(CLOCK_REALTIME, ms * 1000LL);
    pthread_mutex_lock(&g->mu);
    while (!g->stopping && pthread_cond_timedwait(&g->cv, &g->mu, &until) == 0)
        ;
    bool stop = g->stopping;
    pthread_mutex_unlock(&g->mu);
    return stop;
}

static void probe_pipe_up(nng_pipe p, nng_pipe_ev ev, void *arg)
{
    (void)p;
    (void)ev;
    atomic_store((atomic_bool *)arg, true);
}

/* Dial the listener from a socket of our own and ask it something (an empty message:
 * any answer will do; the node answers it UNKNOWN_METHOD and logs it as a probe). A live listener hands the connection to the
 * socket, which answers; a dead one sets the connection up below the socket and never
 * passes it on, so nothing answers and its accepted count stays. The probe is closed
 * only once its connection is set up and, on a live listener, answered: closing one
 * halfway is what kills a listener (and leaks it) in nng 1.5.2. */
static bool probe_accepts(listen_guard *g, uint64_t accepted_before)
{
    nng_socket probe;
    atomic_bool up = false;
    if (nng_req0_open(&probe) != 0)
        return true; /* cannot tell: assume alive */
    bool accepted = false, answered = false, sent = false, known = true;
    int since_up = 0;
    if (nng_pipe_notify(probe, NNG_PIPE_EV_ADD_POST, probe_pipe_up, &up) != 0 ||
        gj_tls_dial(probe, g->probe_url, g->client_cfg, NULL) != 0)
        known = false;
    for (int waited = 0; known && !answered && waited < GUARD_SETUP_MAX_MS; waited += 50) {
        listener_counts c;
        if (read_counts(g->listener, &c) != 0) {
            known = false;
            break;
        }
        accepted |= c.accepted > accepted_before;
        if (atomic_load(&up) && !sent) {
            nng_msg *m;
            sent = nng_msg_alloc(&m, 0) == 0;
            if (sent && nng_sendmsg(probe, m, NNG_FLAG_NONBLOCK) != 0) {
                nng_msg_free(m);
                sent = false;
            }
        }
        nng_msg *reply;
        if (sent && nng_recvmsg(probe, &reply, NNG_FLAG_NONBLOCK) == 0) {
            nng_msg_free(reply);
            answered = true;
            break;
        }
        /* Up, not answered, nothing accepted for a while: dead (closing is safe now:
         * the connection is set up and nothing is on its way to us). */
        if (sent && !accepted && (since_up += 50) > GUARD_PROBE_MS)
            break;
        if (guard_wait(g, 50)) {
            known = false; /* stopping */
            break;
        }
    }
    nng_close(probe);
    return answered || accepted || !known || !sent;
}

static void relisten(listen_guard *g)
{
    if (g->listening) {
        nng_listener_close(g->listener);
        g->listening = false;
    }
    int rv = 0;
    for (int i = 0; i < GUARD_RELISTEN_TRIES && !g->listening; i++) {
        if ((rv = gj_tls_listen(g->sock, g->url, g->server_cfg, &g->listener)) == 0)
            g->listening = true;
        else if (guard_wait(g, 100))
            return;
    }
    if (g->listening) {
        gj_log(GJ_LOG_WARN, "listen", "url=%s listening again", g->url);
    } else {
        gj_log(GJ_LOG_ERROR, "listen", "url=%s cannot listen again: %s; trying again", g->url,
               nng_strerror(rv));
    }
}

static void *guard_main(void *arg)
{
    listen_guard *g = arg;
    while (!guard_wait(g, GUARD_PERIOD_MS)) {
        if (!g->listening) {
            relisten(g);
            continue;
        }
        listener_counts c;
        if (read_counts(g->listener, &c) != 0 || probe_accepts(g, c.accepted))
            continue;
        atomic_fetch_add(&g->restarts, 1);
        gj_log(GJ_LOG_WARN, "listen",
               "url=%s stopped accepting new connections (a connection cut while it was being set up; "
               "nng 1.5.2): opening it again; its open connections close and their callers dial again",
               g->url);
        relisten(g);
    }
    return NULL;
}

/* The URL the guard dials: the listen URL with a wildcard host made loopback. */
static int probe_url_of(const char *url, char *out, size_t size)
{
    nng_url *u = NULL;
    int rv = nng_url_parse(&u, url);
    if (rv != 0)
        return rv;
    const char *host = u->u_hostname;
    if (host == NULL || *host == '\0' || strcmp(host, "*") == 0 || strcmp(host, "0.0.0.0") == 0)
        host = "127.0.0.1";
    else if (strcmp(host, "::") == 0)
        host = "::1";
    bool v6 = strchr(host, ':') != NULL;
    int n = snprintf(out, size, "%s://%s%s%s:%s", u->u_scheme, v6 ? "[" : "", host, v6 ? "]" : "", u->u_port);
    nng_url_free(u);
    return n > 0 && (size_t)n < size ? 0 : NNG_EINVAL;
}

int listen_guard_start(listen_guard **out, nng_socket sock, const char *url, nng_tls_config *server_cfg,
                       nng_tls_config *client_cfg)
{
    listen_guard *g = calloc(1, sizeof *g);
    if (g == NULL)
        return NNG_ENOMEM;
    g->sock = sock;
    g->server_cfg = server_cfg;
    g->client_cfg = client_cfg;
    int rv = NNG_EINVAL;
    if (strlen(url) >= sizeof g->url || (rv = probe_url_of(url, g->probe_url, sizeof g->probe_url)) != 0) {
        free(g);
        return rv;
    }
    snprintf(g->url, sizeof g->url, "%s", url);
    if ((rv = gj_tls_listen(sock, url, server_cfg, &g->listener)) != 0) {
        free(g);
        return rv;
    }
    g->listening = true;
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, NULL);
    if (pthread_create(&g->thread, NULL, guard_main, g) != 0) {
        /* Serve unguarded rather than not at all; say so. */
        gj_log(GJ_LOG_WARN, "listen", "url=%s: cannot start its guard thread", url);
        pthread_mutex_destroy(&g->mu);
        pthread_cond_destroy(&g->cv);
        free(g);
        *out = NULL;
        return 0;
    }
    *out = g;
    return 0;
}

uint64_t listen_guard_restarts(const listen_guard *g)
{
    return g != NULL ? atomic_load(&((listen_guard *)g)->restarts) : 0;
}

void listen_guard_stop(listen_guard *g)
{
    if (g == NULL)
        return;
    pthread_mutex_lock(&g->mu);
    g->stopping = true;
    pthread_cond_signal(&g->cv);
    pthread_mutex_unlock(&g->mu);
    pthread_join(g->thread, NULL);
    pthread_mutex_destroy(&g->mu);
    pthread_cond_destroy(&g->cv);
    free(g);
}
