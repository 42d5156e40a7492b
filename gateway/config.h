/* gongji-gateway's configuration: an INI file (deploy/cluster/gateway.ini is an example).
 *
 *   [gateway]  listen (https://, or http:// with insecure_plaintext = yes), tls_cert /
 *              tls_key (https), node (the node
 *              it calls, tls+tcp://), tls_ca, tls_crl (the federation's, for that link),
 *              region (names the gateway in inf_refmsgid), workers, connections,
 *              call_timeout_ms, clock_skew_s, nonces, files, files_mb, file_ttl_s,
 *              log_file, log_level, log_format
 *   [platform ID]  the same for an app that calls for the persons signed in to it
 *              (the national app): its credential is the platform's; it may use only
 *              gongji's own transaction codes (docs/his.md)
 *   [institution CODE]  one per designated institution it serves: paasid and token
 *              (what the bureau issued; x-tif-* signatures), credential (the
 *              institution's certificate and key from the federation CA: the node sees
 *              the institution proven by it)
 */
#ifndef GW_CONFIG_H
#define GW_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "gj_limits.h"
#include "signature.h"

#define GW_INSTITUTIONS_MAX 256
#define GW_WORKERS_MAX 256
#define GW_CONNECTIONS_MAX 65536

typedef struct gw_institution_config {
    char code[GJ_INSTITUTION_MAX + 1];  /* the institution's code, or the platform's id */
    bool platform;   /* [platform ID]: calls for signed-in persons (gongji's own codes) */
    char paasid[GW_PAASID_MAX + 1];
    char token[GW_TOKEN_MAX + 1];
    char credential[512];
} gw_institution_config;

typedef struct gw_config {
    char listen[256];
    char tls_cert[512], tls_key[512];
    char node[256];
    char tls_ca[512], tls_crl[512];
    char region[GJ_ADMDVS_LEN + 1];
    char log_file[512];
    int log_level;
    bool log_json;  /* log_format = json */
    /* listen http:// is taken only with this: HIS requests and answers (person numbers,
     * amounts) would cross the network unencrypted, which only a closed network allows. */
    bool insecure_plaintext;
    unsigned workers;          /* requests answered at once (each calls the node for its own) */
    unsigned connections;      /* open HTTP connections at most; past it new ones are refused */
    unsigned call_timeout_ms;  /* one call to the node */
    unsigned clock_skew_s;     /* x-tif-timestamp accepted this far from our clock */
    unsigned nonces;           /* nonces remembered at most (a power of two): past it, 503 */
    unsigned files;            /* 9101/3202 files held at once */
    unsigned files_mb;         /* ... and their bytes, in MiB */
    unsigned file_ttl_s;       /* how long a file may be downloaded (dld_endtime) */
    size_t institution_count;
    gw_institution_config institutions[GW_INSTITUTIONS_MAX];
} gw_config;

/* Defaults, then path on top. -1 with one line naming the file, line and problem. */
int gw_config_load(gw_config *cfg, const char *path, char *err, size_t err_size);

/* True when the gateway serves HIS over plain http:// (insecure_plaintext = yes). */
bool gw_listen_plain(const gw_config *cfg);

#endif
