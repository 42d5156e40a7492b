/* What nng's statistics say about a socket's connections.
 *
 * nng 1.5.2 can hang for good when it closes a connection of ours while a message is
 * arriving on it: the TLS and TCP transports resubmit a partial read on a receive the
 * close has already stopped, so the read never ends, and the close (and every close
 * after it in the process) waits for it. Closing only when no answer is due on any
 * connection keeps clear of that window. */
#ifndef GJ_LINK_STATS_H
#define GJ_LINK_STATS_H

#include <stdint.h>

#include <nng/nng.h>

/* Of a req socket: requests sent on its open connections that have had no answer yet.
 * Returns 0 or an nng error (statistics unavailable). */
int gj_link_answers_owed(nng_socket sock, uint64_t *owed);

/* Of a dialer: how many connections it has open now. Returns 0 or an nng error. */
int gj_link_dialer_pipes(nng_dialer dialer, uint64_t *pipes);

#endif
