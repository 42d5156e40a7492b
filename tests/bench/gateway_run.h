/* gongji-bench's gateway run (gateway_run.c): HIS settlements as HTTPS JSON (national
 * 2207, x-tif-* signed) through gongji-gateway to the coordinator. */
#ifndef GJ_BENCH_GATEWAY_RUN_H
#define GJ_BENCH_GATEWAY_RUN_H

#include <stdint.h>
#include <sys/types.h>

/* Start gongji-gateway (binary gateway_bin) on https://127.0.0.1:port in front of
 * node_url, for institution H51010000001, with workers threads; its config and log in
 * dir; certificates from the pki.sh directory pki. The pid, or -1. */
pid_t bench_gateway_start(const char *gateway_bin, const char *dir, const char *pki, const char *node_url, int port,
                          int workers);

typedef struct bench_gateway_result {
    double tps, p50_ms, p99_ms;
    uint64_t ok, failed;
} bench_gateway_result;

/* concurrency HIS clients, each on one kept-alive HTTPS connection, settling for
 * seconds the bills of people prefix0..prefix(people-1) (one to fifty yuan each). */
bench_gateway_result bench_gateway_run(int port, const char *pki, int concurrency, int seconds, int people,
                                       const char *prefix);

#endif
