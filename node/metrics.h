/* What a node counts for operators, served as Prometheus text on /metrics
 * (node/probes.c): calls by method and reason, their latency, the store writer, the
 * cross-region protocol's open work, the map, and each peer link. Counting is a few
 * relaxed atomic adds per call; the text is built only when scraped. */
#ifndef GJ_METRICS_H
#define GJ_METRICS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "reasons.h"

/* Latency buckets, in milliseconds (le="..."); +Inf is the count. */
#define GJ_LATENCY_BUCKETS 14

typedef struct node_metrics {
    size_t slots;                /* methods in the table, plus one for unknown methods */
    _Atomic uint64_t *calls;     /* [slot][GJ_R_COUNT] */
    _Atomic uint64_t *buckets;   /* [slot][GJ_LATENCY_BUCKETS]: calls at or under each bound */
    _Atomic uint64_t *sum_us;    /* [slot] */
} node_metrics;

int metrics_init(node_metrics *m, size_t method_count);
void metrics_fini(node_metrics *m);
/* One finished call: its method's index in the table (method_count for an unknown
 * method), how it ended and how long it took. */
void metrics_record_call(node_metrics *m, size_t slot, gj_reason reason, int64_t took_us);

struct node;
/* The whole /metrics text (malloc'd, NUL-terminated), or NULL out of memory. */
char *metrics_render(struct node *n);

#endif
