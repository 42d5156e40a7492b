/* Authentication on the node: who sent a request, proven.
 *
 * Auth/Open (the one method that needs no seal) checks a caller's certificate and opens
 * a session; every other request must carry a seal made with a session this node
 * holds, for the identity its envelope claims. The answer to a sealed request carries a
 * MAC with the same session key. Nodes with insecure_plaintext = yes skip all of this and
 * take callers at their word. docs/security.md has the whole design. */
#ifndef GJ_NODE_AUTHN_H
#define GJ_NODE_AUTHN_H

#include "node.h"

#define AUTH_OPEN_METHOD "gongji.v1.Auth/Open"

/* Load the credential and TLS configurations, make the session table. 0, or -1 with a
 * line logged. Nothing to do (0) when the node runs insecure_plaintext without TLS. */
int authn_start(node *n);
void authn_stop(node *n);

/* The method table's check() for Auth/Open. */
gj_reason authn_open_check(call *c);

/* Check c's seal against c's envelope: a session of this node, its MAC, its deadline,
 * and the identity it proves against the caller the envelope claims. On GJ_R_NONE the
 * call is proven and its answer will be sealed (call_finish adds the MAC). */
gj_reason authn_check_seal(call *c);

/* Read the CRL again when it changed (at most every GJ_CRL_CHECK_INTERVAL_MS unless
 * force) and drop the sessions of callers it revokes. Any thread. */
void authn_refresh(node *n, bool force);

#endif
