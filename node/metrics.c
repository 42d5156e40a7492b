#include "metrics.h"
#include "server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "textbuf.h"

#include "gj_util.h"
#include "node.h"
#include "xr/deciding.h"

static const double bucket_ms[GJ_LATENCY_BUCKETS] = {0.5, 1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000};

int metrics_init(node_metrics *m, size_t method_count)
{
    m->slots = method_count + 1;
    m->calls = calloc(m->slots * GJ_R_COUNT, sizeof *m->calls);
    m->buckets = calloc(m->slots * GJ_LATENCY_BUCKETS, sizeof *m->buckets);
    m->sum_us = calloc(m->slots, sizeof *m->sum_us);
    if (m->calls == NULL || m->buckets == NULL || m->sum_us == NULL) {
        metrics_fini(m);
        return -1;
    }
    return 0;
}

void metrics_fini(node_metrics *m)
{
    free(m->calls);
    free(m->buckets);
    free(m->sum_us);
    memset(m, 0, sizeof *m);
}

void metrics_record_call(node_metrics *m, size_t slot, gj_reason reason, int64_t took_us)
{
    if (m->calls == NULL)
        return;
    if (slot >= m->slots)
        slot = m->slots - 1;
    if ((unsigned)reason >= GJ_R_COUNT)
        reason = GJ_R_STORE_ERROR;
    atomic_fetch_add_explicit(&m->calls[slot * GJ_R_COUNT + reason], 1, memory_order_relaxed);
    if (took_us < 0)
        took_us = 0;
    atomic_fetch_add_explicit(&m->sum_us[slot], (uint64_t)took_us, memory_order_relaxed);
    /* Only the first bucket that holds it: the render adds them up. */
    for (int b = 0; b < GJ_LATENCY_BUCKETS; b++)
        if ((double)took_us <= bucket_ms[b] * 1000.0) {
            atomic_fetch_add_explicit(&m->buckets[slot * GJ_LATENCY_BUCKETS + b], 1, memory_order_relaxed);
            break;
        }
}


static const char *slot_name(const node *n, size_t slot)
{
    return slot < n->method_count ? n->methods[slot].name : "unknown";
}

static void render_calls(text_buf *t, const node *n, const node_metrics *m)
{
    text_addf(t, "# HELP gongji_calls_total Calls answered, by method, status and domain reason.\n"
           "# TYPE gongji_calls_total counter\n");
    for (size_t s = 0; s < m->slots; s++)
        for (int r = 0; r < GJ_R_COUNT; r++) {
            uint64_t v = atomic_load_explicit(&m->calls[s * GJ_R_COUNT + r], memory_order_relaxed);
            if (v != 0)
                text_addf(t, "gongji_calls_total{method=\"%s\",code=\"%s\",reason=\"%s\"} %llu\n", slot_name(n, s),
                    gj_code_name(gj_reason_code((gj_reason)r)), r == GJ_R_NONE ? "" : gj_reason_name((gj_reason)r),
                    (unsigned long long)v);
        }
    text_addf(t, "# HELP gongji_call_seconds Time from a request's arrival to its answer, by method.\n"
           "# TYPE gongji_call_seconds histogram\n");
    for (size_t s = 0; s < m->slots; s++) {
        uint64_t cumulative = 0, counts[GJ_LATENCY_BUCKETS];
        for (int b = 0; b < GJ_LATENCY_BUCKETS; b++)
            counts[b] = atomic_load_explicit(&m->buckets[s * GJ_LATENCY_BUCKETS + b], memory_order_relaxed);
        uint64_t total = 0;
        for (int r = 0; r < GJ_R_COUNT; r++)
            total += atomic_load_explicit(&m->calls[s * GJ_R_COUNT + r], memory_order_relaxed);
        if (total == 0)
            continue;
        for (int b = 0; b < GJ_LATENCY_BUCKETS; b++) {
            cumulative += counts[b];
            text_addf(t, "gongji_call_seconds_bucket{method=\"%s\",le=\"%g\"} %llu\n", slot_name(n, s),
                bucket_ms[b] / 1000.0, (unsigned long long)cumulative);
        }
        /* Counted before their latency, a call may show in the total a moment early. */
        text_addf(t, "gongji_call_seconds_bucket{method=\"%s\",le=\"+Inf\"} %llu\n", slot_name(n, s),
            (unsigned long long)(total > cumulative ? total : cumulative));
        text_addf(t, "gongji_call_seconds_sum{method=\"%s\"} %.6f\n", slot_name(n, s),
            (double)atomic_load_explicit(&m->sum_us[s], memory_order_relaxed) / 1e6);
        text_addf(t, "gongji_call_seconds_count{method=\"%s\"} %llu\n", slot_name(n, s),
            (unsigned long long)(total > cumulative ? total : cumulative));
    }
}

static void gauge(text_buf *t, const char *name, const char *help, const char *type, double v)
{
    text_addf(t, "# HELP %s %s\n# TYPE %s %s\n%s %.17g\n", name, help, name, type, name, v);
}

static void render_store(text_buf *t, node *n)
{
    store_stats st;
    store_stats_get(n->store, &st);
    gauge(t, "gongji_store_commits_total", "LMDB write transactions committed (each fsync'd).", "counter",
          (double)st.commits);
    gauge(t, "gongji_store_writes_total", "Requests those commits carried (writes / commits = the group-commit batch).",
          "counter", (double)st.jobs);
    gauge(t, "gongji_store_commit_seconds_total", "Time spent committing (fsync included).", "counter",
          (double)st.commit_us / 1e6);
    gauge(t, "gongji_store_apply_seconds_total", "Time spent applying writes before their commit.", "counter",
          (double)st.apply_us / 1e6);
    gauge(t, "gongji_store_queue_depth", "Writes waiting for the store writer now.", "gauge", (double)st.queued);
    gauge(t, "gongji_store_queue_capacity", "Writes that may wait before callers are refused (write_queue).",
          "gauge", (double)n->cfg.write_queue);
    gauge(t, "gongji_store_map_used_bytes", "Bytes of the LMDB map in use.", "gauge", (double)st.map_used);
    gauge(t, "gongji_store_map_size_bytes", "Bytes the LMDB map may grow to (map_size_mb): writes fail past it.",
          "gauge", (double)st.map_size);
    store_txn *txn;
    if (store_read_begin(n->store, &txn) == GJ_OK) {
        gauge(t, "gongji_open_holds", "Holds on this node's accounts not yet posted or voided.", "gauge",
              (double)store_hold_open_count(txn));
        gauge(t, "gongji_undelivered_decisions", "Decisions of settlements coordinated here not yet acknowledged by every node.",
              "gauge", (double)store_decision_open_count(txn));
        store_read_end(txn);
    }
}

static void render_peers(text_buf *t, node *n)
{
    int64_t now = gj_now_unix_ms();
    text_addf(t, "# HELP gongji_peer_calls_total Calls to a peer link (by its configured prefix).\n"
           "# TYPE gongji_peer_calls_total counter\n");
    for (size_t i = 0; i < n->peers.count; i++)
        text_addf(t, "gongji_peer_calls_total{peer=\"%s\"} %llu\n", n->peers.links[i].cfg->prefix,
            (unsigned long long)atomic_load(&n->peers.links[i].calls_total));
    text_addf(t, "# HELP gongji_peer_failures_total Calls to a peer link that got no answer, or an error of the link.\n"
           "# TYPE gongji_peer_failures_total counter\n");
    for (size_t i = 0; i < n->peers.count; i++)
        text_addf(t, "gongji_peer_failures_total{peer=\"%s\"} %llu\n", n->peers.links[i].cfg->prefix,
            (unsigned long long)atomic_load(&n->peers.links[i].failures_total));
    text_addf(t, "# HELP gongji_peer_last_answer_age_seconds Since a peer link last answered (-1: never).\n"
           "# TYPE gongji_peer_last_answer_age_seconds gauge\n");
    for (size_t i = 0; i < n->peers.count; i++) {
        int64_t at = atomic_load(&n->peers.links[i].answered_unix_ms);
        text_addf(t, "gongji_peer_last_answer_age_seconds{peer=\"%s\"} %.3f\n", n->peers.links[i].cfg->prefix,
            at == 0 ? -1.0 : (double)(now - at) / 1000.0);
    }
}

char *metrics_render(node *n)
{
    text_buf t = {0};
    text_addf(&t, "# HELP gongji_up The node serves (1) or is stopping (0).\n# TYPE gongji_up gauge\ngongji_up{region=\"%s\"} %d\n",
        n->cfg.region, atomic_load(&n->shutting_down) ? 0 : 1);
    gauge(&t, "gongji_uptime_seconds", "Since the node started.", "gauge",
          (double)(gj_mono_ms() - n->started_mono_ms) / 1000.0);
    gauge(&t, "gongji_in_flight", "Requests accepted and not yet answered.", "gauge", (double)atomic_load(&n->in_flight));
    render_calls(&t, n, &n->metrics);
    render_store(&t, n);
    gauge(&t, "gongji_listener_restarts_total",
          "Times the listener stopped accepting new connections and was opened again (trust/listen_guard.h).",
          "counter", (double)server_listener_restarts(n->server));
    gauge(&t, "gongji_settlements_unknown", "Settlements whose outcome waits on a node that has not said what it held.",
          "gauge", (double)deciding_unknown_count(n));
    render_peers(&t, n);
    if (t.oom || t.s == NULL) {
        free(t.s);
        return NULL;
    }
    return t.s;
}
