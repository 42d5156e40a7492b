/* Routing: requests owned by another region, and how long a call to a peer may take. */
#ifndef GJ_ROUTING_H
#define GJ_ROUTING_H

#include "node.h"

/* Forward c unchanged (but for hops and deadline) to the node serving c->route_region
 * and answer with whatever it answers. Runs on a worker; ends the call. */
void route_forward(call *c);

/* Time a call to a peer may take for c: the peer timeout, cut to what the caller's
 * deadline leaves after a margin for our own answer. <= 0: no time left. */
int route_peer_budget_ms(call *c);

/* The region that owns a request naming none in its envelope, from its payload: Bind
 * and Unbind the sponsor's (its node decides), Settle the patient's (it coordinates). */
const char *route_owner_bind(call *c);
const char *route_owner_unbind(call *c);
const char *route_owner_settle(call *c);

#endif
