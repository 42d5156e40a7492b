/* Authorization: which role may call which method, and which operators may act on this
 * region. One table (authz.c), the same one docs/security.md shows; the dispatcher
 * consults it for every request before the method's own check(), which then applies
 * the rules that need the request's fields (a person acts only for themself, a hold
 * comes only from the beneficiary's home node, an institution revokes only its own
 * settlements). */
#ifndef GJ_NODE_AUTHZ_H
#define GJ_NODE_AUTHZ_H

#include "node.h"

/* GJ_R_NONE when c's (proven) caller may call c's method on this node; else the
 * reason (CALLER_NOT_ALLOWED, OPERATOR_SCOPE) with a message saying who may. */
gj_reason authz_check(call *c);

/* Whether an operator id ("430100:ops1") may change things on region (its own region
 * only), or read (its region, its province's operators "43xxxx" with "0000" at the end,
 * or the nation's "000000"). */
bool authz_operator_may_write(const char *operator_id, const char *region);
bool authz_operator_may_read(const char *operator_id, const char *region);

/* Whether the table has a row for method (every method of the node must). */
bool authz_has_rule(const char *method);

#endif
