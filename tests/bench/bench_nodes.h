/* gongji-bench's cluster (bench_nodes.c): options, credentials, nodes. */
#ifndef GJ_BENCH_NODES_H
#define GJ_BENCH_NODES_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "client.h"
#include "credential.h"

#define REGIONS 3
extern const char *const region_codes[REGIONS];

typedef struct options {
    int seconds;
    int concurrency;
    int people;
    int base_port;
    bool quick;
    bool keep;
    bool no_pg;
    const char *node_bin;
    const char *pg_script;
    const char *pki_script;
    const char *dir;
    const char *node_extra; /* lines added to each node's [node] section */
    const char *only;       /* run just this scenario (local, cross, cross2), no references */
    bool random_ids;        /* call ids in no order instead of the client library's */
    int history_seconds;    /* --only credit: local settlements first, for history */
    bool plaintext_only;    /* with --only: run it in plaintext instead */
    int rounds;             /* authenticated/plaintext pairs per scenario */
} options;

extern options opt;

/* Which half of the run is going: authenticated (TLS, sealed) or plaintext. */
extern bool authenticated;
extern char pki_dir[600];
extern pid_t node_pids[REGIONS];
extern pid_t echo_pid;

/* The federation's credentials in opt.dir/pki: the institution and each operator. */
int make_pki(void);
/* A client for url as the institution (operator_region -1) or a region's operator. */
client_t *open_client(const char *url, int timeout_ms, int operator_region);
int64_t now_us(void);
void sleep_ms(int ms);
void url_of(int region, char *out, size_t size);
int region_of_url(const char *url);
pid_t spawn(char *const argv[], const char *log_path);
/* Write region's config and start its node; 0 once it answers Health. */
int start_node(int region);
/* Resident memory of a process: anonymous (heap, stacks) and file-backed (LMDB's pages). */
void rss_kb(pid_t pid, long *anon, long *file);

#endif
