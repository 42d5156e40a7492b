#include "metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "textbuf.h"

static const char *const tx_names[GW_TX_SLOTS] = {"9001", "1101", "2207", "2208", "2601", "other"};
static const char *const status_names[GW_STATUS_SLOTS] = {
    "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS",
    "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED",
    "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED"};
static const double bucket_ms[GW_LATENCY_BUCKETS] = {1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000};

void gw_metrics_record(gw_metrics *m, const char *infno, const char *status, int64_t took_us)
{
    int tx = GW_TX_SLOTS - 1, st = 2; /* other, UNKNOWN */
    for (int i = 0; i < GW_TX_SLOTS - 1; i++)
        if (infno != NULL && strcmp(infno, tx_names[i]) == 0)
            tx = i;
    for (int i = 0; i < GW_STATUS_SLOTS; i++)
        if (status != NULL && strcmp(status, status_names[i]) == 0)
            st = i;
    atomic_fetch_add_explicit(&m->requests[tx][st], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->sum_us[tx], (uint64_t)(took_us > 0 ? took_us : 0), memory_order_relaxed);
    for (int b = 0; b < GW_LATENCY_BUCKETS; b++)
        if ((double)took_us <= bucket_ms[b] * 1000.0) {
            atomic_fetch_add_explicit(&m->buckets[tx][b], 1, memory_order_relaxed);
            break;
        }
}


char *gw_metrics_render(gw_metrics *m, unsigned in_flight, unsigned workers, bool plaintext)
{
    text_buf t = {0};
    text_addf(&t, "# HELP gongji_gateway_requests_total HIS requests answered, by transaction and status.\n"
            "# TYPE gongji_gateway_requests_total counter\n");
    for (int tx = 0; tx < GW_TX_SLOTS; tx++)
        for (int st = 0; st < GW_STATUS_SLOTS; st++) {
            uint64_t v = atomic_load_explicit(&m->requests[tx][st], memory_order_relaxed);
            if (v != 0)
                text_addf(&t, "gongji_gateway_requests_total{infno=\"%s\",code=\"%s\"} %llu\n", tx_names[tx],
                    status_names[st], (unsigned long long)v);
        }
    text_addf(&t, "# HELP gongji_gateway_request_seconds Time from a request's arrival to its answer.\n"
            "# TYPE gongji_gateway_request_seconds histogram\n");
    for (int tx = 0; tx < GW_TX_SLOTS; tx++) {
        uint64_t total = 0, cumulative = 0;
        for (int st = 0; st < GW_STATUS_SLOTS; st++)
            total += atomic_load_explicit(&m->requests[tx][st], memory_order_relaxed);
        if (total == 0)
            continue;
        for (int b = 0; b < GW_LATENCY_BUCKETS; b++) {
            cumulative += atomic_load_explicit(&m->buckets[tx][b], memory_order_relaxed);
            text_addf(&t, "gongji_gateway_request_seconds_bucket{infno=\"%s\",le=\"%g\"} %llu\n", tx_names[tx],
                bucket_ms[b] / 1000.0, (unsigned long long)cumulative);
        }
        if (total < cumulative)
            total = cumulative;
        text_addf(&t, "gongji_gateway_request_seconds_bucket{infno=\"%s\",le=\"+Inf\"} %llu\n", tx_names[tx],
            (unsigned long long)total);
        text_addf(&t, "gongji_gateway_request_seconds_sum{infno=\"%s\"} %.6f\n", tx_names[tx],
            (double)atomic_load_explicit(&m->sum_us[tx], memory_order_relaxed) / 1e6);
        text_addf(&t, "gongji_gateway_request_seconds_count{infno=\"%s\"} %llu\n", tx_names[tx], (unsigned long long)total);
    }
    text_addf(&t, "# HELP gongji_gateway_unproven_callers_total Requests refused because the caller was not proven (HTTP 401).\n"
            "# TYPE gongji_gateway_unproven_callers_total counter\ngongji_gateway_unproven_callers_total %llu\n",
        (unsigned long long)atomic_load(&m->refused_callers));
    text_addf(&t, "# HELP gongji_gateway_too_large_total Requests refused unread for a body over the hard limit (HTTP 413).\n"
            "# TYPE gongji_gateway_too_large_total counter\ngongji_gateway_too_large_total %llu\n",
        (unsigned long long)atomic_load(&m->busy));
    text_addf(&t, "# HELP gongji_gateway_in_flight Requests being answered now.\n"
            "# TYPE gongji_gateway_in_flight gauge\ngongji_gateway_in_flight %u\n", in_flight);
    text_addf(&t, "# HELP gongji_gateway_workers Requests that may be answered at once (workers).\n"
            "# TYPE gongji_gateway_workers gauge\ngongji_gateway_workers %u\n", workers);
    text_addf(&t, "# HELP gongji_gateway_insecure_plaintext 1 when HIS traffic is served over plain HTTP (insecure_plaintext = yes).\n"
            "# TYPE gongji_gateway_insecure_plaintext gauge\ngongji_gateway_insecure_plaintext %d\n", plaintext ? 1 : 0);
    if (t.oom || t.s == NULL) {
        free(t.s);
        return NULL;
    }
    return t.s;
}
