/* Operators' HTTP endpoints (config `probes_listen`, e.g. http://127.0.0.1:9201):
 *   GET /metrics  Prometheus text (node/metrics.h)
 *   GET /healthz  200 while the process serves
 *   GET /readyz   200 when the store is open, the first resolver round is done, no
 *                 settlement waits on a node to say what it held, and the node is not
 *                 stopping; 503 otherwise, with the reason
 * No money moves and nothing private is read here: counts only, no person. */
#ifndef GJ_PROBES_H
#define GJ_PROBES_H

#include "node.h"

typedef struct probes probes;

/* Start serving url (http://HOST:PORT); 0, or -1 (logged). */
int probes_start(probes **out, node *n, const char *url);
void probes_stop(probes *p);

#endif
