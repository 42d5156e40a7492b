/* The nng side of a node: one raw REP socket and a fixed pool of workers, each an aio
 * state machine (receive -> dispatch -> send -> receive). Bounded concurrency without a
 * thread per request: at most `contexts` requests are in the node at once; more wait in
 * nng's queues. Raw, because then the answer's request id can travel at the front of
 * the body instead of in the protocol header: the bytes on the wire are the same, but
 * nng's TLS layer writes one record per piece of a message, so an answer goes as two
 * TLS records instead of three (docs/performance.md, "Why: three TLS records"). The
 * raw socket keeps at most 64 answers waiting for one connection and drops the next
 * (its caller times out and may retry the same call id): a caller that stops reading
 * costs its own answers, never the node's workers. */
#ifndef GJ_SERVER_H
#define GJ_SERVER_H

#include <stdint.h>

#include "gj_error.h"
#include "node.h"

typedef struct server server;

/* Listen on url and start serving n. Errors: GJ_ERR_TRANSPORT (bad url, port in use;
 * a line is logged), GJ_ERR_NOMEM. */
gj_err server_start(server **out, node *n, const char *url, unsigned contexts);

/* How many times its listener stopped accepting and was opened again
 * (trust/listen_guard.h). */
uint64_t server_listener_restarts(const server *s);

/* From now on each context answers the request it holds and then takes no more, so
 * what is in flight drains even under load. */
void server_quiesce(server *s);

/* Quiesce, answer what is in flight (waiting at most drain_ms), then close the socket
 * and free everything. Safe on NULL. */
void server_stop(server *s, int drain_ms);

#endif
