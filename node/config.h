/* Node configuration: an INI file (see deploy/ for examples and the README, "Configuration").
 *
 *   [node]    region, name, listen, data_dir, contexts, log_file, log_level,
 *             map_size_mb, allow_clock_override, tls_ca, tls_cert, tls_key, tls_crl,
 *             insecure_plaintext, and the bounds on queues and waits
 *   [policy]  the region policy of SPEC §3, every knob
 *   [peers]   prefix = url   (region code or code prefix -> node URL)
 */
#ifndef GJ_CONFIG_H
#define GJ_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gj_limits.h"
#include "rules.h"

/* A region's node may be reached at several URLs (a primary and its standby on a
 * failover stack): the link dials them all and uses whichever answers. */
#define GJ_PEER_URLS_MAX 4

typedef struct node_peer {
    char prefix[GJ_ADMDVS_LEN + 1];  /* "43" or "430300" */
    char url[256];                   /* as written: one URL, or several separated by commas */
    size_t url_count;
    char urls[GJ_PEER_URLS_MAX][256];
} node_peer;

typedef struct node_config {
    char region[GJ_ADMDVS_LEN + 1];
    char name[64];
    char listen_url[256];
    char data_dir[512];
    char log_file[512];
    int log_level;
    bool log_json;               /* log_format = json: one JSON object per line */
    unsigned contexts;
    uint64_t map_size;
    bool allow_clock_override;  /* testing: lets Operator/SetClock move the business date */
    unsigned workers;            /* threads for calls that wait on other nodes */
    unsigned peer_timeout_ms;    /* longest one call to a peer may take */
    unsigned clearing_page_size; /* a reconcile's pages of the peer's entries */
    unsigned resolve_interval_ms;/* how often the resolver runs */
    unsigned resolve_after_ms;   /* age of a HELD hold before its coordinator is asked */
    unsigned commit_gather_us;   /* group commit: wait up to this for a fuller batch */
    /* Trust (docs/security.md): the federation CA, our certificate and key, the CRL. */
    char tls_ca[512];
    char tls_cert[512];
    char tls_key[512];           /* "" = the key is in tls_cert */
    char tls_crl[512];           /* "" = no revocation list */
    /* Plain tcp:// or ipc:// links and callers trusted on their word: only for a
     * developer's machine, and said at every start and in health. */
    bool insecure_plaintext;
    unsigned session_life_s;     /* longest a session may live before it is opened again */
    unsigned write_queue;        /* writes waiting for the store writer */
    unsigned worker_queue;       /* calls waiting for a worker */
    unsigned sessions;           /* sessions kept */
    unsigned stop_drain_ms;      /* at stop, how long accepted requests may take */
    unsigned suspect_calls;      /* calls that may wait at once on a silent region */
    unsigned suspect_ms;         /* how long a silent region stays suspect */
    unsigned delivery_queue;     /* decisions waiting for the delivery threads */
    unsigned idempotency_retention_days; /* first answers kept this long; 0 = for ever */
    unsigned clearing_close_after_days;  /* windows closed this many days after their day; 0 = by hand */
    unsigned credit_quiet_ms;    /* a credit file's request in one commit once nothing else was written this long */
    char probes_listen[256];     /* http://HOST:PORT for /metrics, /healthz, /readyz; "" = none */
    gj_policy policy;
    size_t peer_count;
    node_peer peers[GJ_PEERS_MAX];
} node_config;

/* Defaults for everything but region, listen and data_dir, which a file must give. */
void node_config_defaults(node_config *cfg);

/* Read path into cfg (on top of defaults). On failure returns -1 and writes one line
 * naming the file, line and problem into err. */
int node_config_load(node_config *cfg, const char *path, char *err, size_t err_size);

#endif
