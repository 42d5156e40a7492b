/* A caller's link to one node: one request at a time on a raw REQ socket.
 *
 * Why raw: nng's REQ socket puts the request id in the message header, and nng 1.5.2's
 * TLS layer writes each piece of a message (length, header, body) as its own TLS record.
 * Here the id goes at the front of the body, so a request leaves as two records, not
 * three. The bytes on the wire are the same, so the node cannot tell the difference. The
 * link then does what the REQ socket did: it matches answers to requests by id, drops
 * late answers to earlier calls, and sends a request again when a connection is lost
 * while it waits (a repeat is the same call id, so it moves nothing twice).
 *
 * Closing steers clear of two faults of nng 1.5.2 (a close that hangs, and a node's
 * listener that stops for good), described in req_link.c; it costs one more short
 * connection to the node. */
#ifndef GJ_CLIENT_REQ_LINK_H
#define GJ_CLIENT_REQ_LINK_H

#include <stddef.h>

#include <nng/nng.h>
#include <nng/supplemental/tls/tls.h>

typedef struct req_link req_link;

/* Open a link dialing url in the background (tls, which must outlive the link, for
 * tls+tcp://; NULL otherwise). timeout_ms bounds each call. A node that is not up yet is
 * not an error here: calls time out until it is. Returns 0 or an nng error (a bad URL,
 * an unknown scheme, no memory). */
int req_link_open(req_link **out, const char *url, nng_tls_config *tls, int timeout_ms);

/* The bound for later calls. Returns 0 or an nng error. */
int req_link_set_timeout(req_link *l, int timeout_ms);

/* Send len bytes and wait, at most the link's timeout, for the answer to them. On success
 * *answer and *answer_len hold it, to be released with nng_free. Returns 0, NNG_ETIMEDOUT
 * or another nng error. */
int req_link_call(req_link *l, const void *bytes, size_t len, void **answer, size_t *answer_len);

/* Close the link and free it; NULL is ignored. */
void req_link_close(req_link *l);

#endif
