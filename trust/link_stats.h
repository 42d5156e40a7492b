/* What nng's statistics say about a socket's connections.
 *
 * nng 1.5.2 can hang for good when it closes a connection of ours while a message is
 * arriving on it: the TLS and TCP transports resubmit a partial read on a receive the
 * close has already stopped, so the read never ends, and the close (and every close
 * after it in the process) waits for it. Closing only when no answer is due on any
 * connection keeps clear of that window. */
#ifndef GJ_LINK_STATS_H
#define GJ_LINK_STATS_H

#include <stdbool.h>
#include <stdint.h>

#include <nng/nng.h>

/* In a snapshot from nng_stats_get: the scope of kind ("dialer", "listener", "socket",
 * "pipe") with this id, or NULL. nng 1.5.2's nng_stat_find_dialer and its kin return the
 * first scope of the kind whatever the id (fixed in nng 1.6). */
nng_stat *gj_stat_scope(nng_stat *all, const char *kind, int id);

/* The statistic called name under parent; 0 when there is none. */
uint64_t gj_stat_value(nng_stat *parent, const char *name);

/* Of a req socket: requests sent on its open connections that have had no answer yet.
 * Returns 0 or an nng error (statistics unavailable). */
int gj_link_answers_owed(nng_socket sock, uint64_t *owed);

/* Of a dialer: how many connections it has open now, and how many connection attempts
 * it has finished so far (made, refused, failed, timed out or cancelled). Returns 0 or
 * an nng error. */
int gj_link_dialer_activity(nng_dialer dialer, uint64_t *pipes, uint64_t *attempts);

/* Whether a dialer that has given up may be replaced.
 *
 * nng 1.5.2's dialer can give up for good when its peer closes a connection during the
 * handshake: that connect fails as "closed" and is never retried. The cure is a new
 * dialer and closing the old one, but closing a dialer while its connection handshake
 * is under way is another fault: when a handshake step completes just as the close
 * stops it, the next step is dropped without a word, and the half-made connection,
 * its TLS session and the transport's dialer are never freed (nng later locked a mutex
 * of such a connection after it had gone, and aborted the process).
 *
 * A dialer that still works finishes an attempt at least every reconnect interval (a
 * refused connect, a failed or a made one), or holds a connection. One that did neither
 * across looks quiet_ms apart has given up, or waits on a peer that sends nothing:
 * closing it then races no completion. */
typedef struct {
    int32_t dialer_id; /* the dialer looked at; another one starts the watch again */
    uint64_t attempts; /* what it had finished at the first quiet look */
    int64_t since_ms;  /* that look, monotonic */
} gj_dialer_watch;

/* Looks at dialer at now_ms; true when it has been quiet (no connection open, no
 * attempt finished) for at least quiet_ms of looks. *stats_rv is nng's error when the
 * statistics could not be read (then false). */
bool gj_dialer_gone_quiet(nng_dialer dialer, gj_dialer_watch *watch, int64_t now_ms, int64_t quiet_ms,
                          int *stats_rv);

#endif
