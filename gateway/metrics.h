/* The gateway's counts for /metrics (Prometheus text): requests by transaction and
 * status, their latency, refusals of callers, requests in flight. */
#ifndef GW_METRICS_H
#define GW_METRICS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define GW_TX_SLOTS 6       /* 9001 1101 2207 2208 2601, and any other */
#define GW_STATUS_SLOTS 17  /* gRPC status codes 0..16 */
#define GW_LATENCY_BUCKETS 12

typedef struct gw_metrics {
    _Atomic uint64_t requests[GW_TX_SLOTS][GW_STATUS_SLOTS];
    _Atomic uint64_t buckets[GW_TX_SLOTS][GW_LATENCY_BUCKETS];
    _Atomic uint64_t sum_us[GW_TX_SLOTS];
    _Atomic uint64_t refused_callers; /* not proven: HTTP 401 */
    _Atomic uint64_t busy;            /* bodies over the hard limit: HTTP 413 */
} gw_metrics;

/* One answered request: its infno ("" when it had none), the status name it ended
 * with ("OK", "INVALID_ARGUMENT", ...), and how long it took. */
void gw_metrics_record(gw_metrics *m, const char *infno, const char *status, int64_t took_us);
/* The /metrics text (malloc'd), with the requests being answered now and the most
 * that may be. */
char *gw_metrics_render(gw_metrics *m, unsigned in_flight, unsigned workers, bool plaintext);

#endif
