/* Peer links (peer_links.c): sockets to peers, routes, raw calls. */
#ifndef GJ_PEER_LINKS_H
#define GJ_PEER_LINKS_H

#include "peers.h"

/* Open p's socket (p->cfg set) and start dialing; 0, or nng's error. */
int peer_link_open(peer_link *p, nng_tls_config *tls);

#endif
