/* gongji-bench's credit run (bench_credit.c). */
#ifndef GJ_BENCH_CREDIT_H
#define GJ_BENCH_CREDIT_H

#include <stdbool.h>
#include <stdint.h>

#include "client.h"

typedef struct bench_credit_setup {
    const char *url;     /* the coordinator: credits go to its people */
    const char *prefix;  /* its people are prefix0 .. prefix(people-1), with accounts */
    int people;
    int seconds;         /* each phase */
    client_t *(*open_operator)(const char *url);
    /* Run settlements for `seconds` and return their p99 in ms. */
    double (*settle_p99)(void *arg, const char *label);
    void *settle_arg;
    /* The coordinator's writer counters (commits, jobs, apply µs, commit µs), or false. */
    bool (*writer_counters)(const char *url, uint64_t out[4]);
} bench_credit_setup;

typedef struct bench_credit_result {
    double rows_s_alone, rows_s_busy;
    double settle_p99_alone_ms, settle_p99_busy_ms;
    uint64_t refused;  /* rows refused or repeated, and calls that failed: 0 in a clean run */
} bench_credit_result;

/* Settlements alone; credits while settlements run; credits alone. Prints each. */
bench_credit_result bench_credit_run(const bench_credit_setup *setup);

#endif
