/* A listener that keeps accepting.
 *
 * nng 1.5.2 (Debian 12's) stops accepting on a listener for good when a connection is
 * cut at the wrong moment while it is being set up (upstream issue 1518, fixed in 1.6):
 * the transport hands the listener a "closed" error, which the listener takes for its
 * own close. Connections already open go on working; new ones wait in the kernel and
 * are never served, so a node would look alive to its peers and be dead to every new
 * caller.
 *
 * The guard owns the listener. Every two seconds it dials it from a socket of its own
 * and sends an empty message: a live listener hands the connection to the socket,
 * which answers (and counts it accepted); a dead one never does. A listener that does
 * neither within a second of the probe's connection being up is closed and opened
 * again on the same URL (which also closes the connections it accepted: their callers
 * dial again, and a retried call is answered once, by its
 * call id). */
#ifndef GJ_LISTEN_GUARD_H
#define GJ_LISTEN_GUARD_H

#include <stdint.h>

#include <nng/nng.h>
#include <nng/supplemental/tls/tls.h>

typedef struct listen_guard listen_guard;

/* Listen on url (tls+tcp:// with server_cfg; tcp:// without) and start guarding it;
 * client_cfg is what the guard's own probe dials with (NULL for tcp://). Returns 0 or
 * the nng error of the first listen. */
int listen_guard_start(listen_guard **out, nng_socket sock, const char *url, nng_tls_config *server_cfg,
                       nng_tls_config *client_cfg);

/* How many times the listener was found dead and opened again. */
uint64_t listen_guard_restarts(const listen_guard *g);

/* Stop guarding (the listener stays until the socket closes). Safe on NULL. */
void listen_guard_stop(listen_guard *g);

#endif
