/* Node to node, sealed: the session this node holds with each region it calls (opened
 * with its node certificate by Auth/Open, on first use and again when the region has
 * forgotten it), and a call sealed with it whose answer must carry that region's MAC.
 * docs/security.md says why; peers.c sends what this seals. */
#ifndef GJ_NODE_PEER_SESSIONS_H
#define GJ_NODE_PEER_SESSIONS_H

#include "peers.h"

/* Pack env (dest_region set) sealed with a session with its region's node, send it
 * through p within timeout_ms, and check an OK answer is that node's. When the region
 * has forgotten our session, open a new one and send once more. A region whose opening
 * just failed fails the calls behind it at once for a moment. On a node without a
 * credential (insecure_plaintext) the envelope goes unsealed. On GJ_R_NONE *reply
 * (malloc'd, caller frees) holds the Reply's bytes. */
gj_reason peers_sealed_call(peer_set *ps, peer_link *p, const char *own_region, Gongji__V1__Envelope *env,
                            int timeout_ms, uint8_t **reply, size_t *reply_len);

#endif
