/* gongji-bench's references (references.c). */
#ifndef GJ_BENCH_REFERENCES_H
#define GJ_BENCH_REFERENCES_H

/* Serve an echo on url until killed: every request goes back as its own answer. Over
 * tls+tcp:// with region's node credential from the pki.sh directory pki, so the TLS
 * echo costs what a node's link does. Returns 1 only when it cannot listen. */
int bench_echo_server(const char *url, const char *pki, const char *region);

/* Run pg_peer.sh (script; NULL: skipped, as --no-pg asks) with concurrency clients for
 * seconds and print its line; its tps, and its average latency in *latency_ms. 0 when
 * it cannot run (not root, no PostgreSQL 15, no script). */
double bench_run_pg(const char *script, int concurrency, int seconds, double *latency_ms);

#endif
