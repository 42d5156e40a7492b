/* Peer links (peer_links.c): sockets to peers, routes, raw calls. */
#ifndef GJ_PEER_LINKS_H
#define GJ_PEER_LINKS_H

#include "peers.h"

/* Open p's socket (p->cfg set) and start dialing; 0, or nng's error. */
int peer_link_open(peer_link *p, nng_tls_config *tls);

/* Wait, at most GJ_LINK_CLOSE_DRAIN_MS for all of them, until no answer is due on any
 * of the count links (closing one while an answer arrives can hang nng). */
void peer_links_wait_for_late_answers(peer_link *links, size_t count);

#endif
