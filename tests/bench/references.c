/* The references gongji-bench measures settlements against, in the same run: an nng
 * echo of a settle request's size (plain, and over TLS as a node's link is), and
 * PostgreSQL doing the same durable debit (pg_peer.sh). */
#include "references.h"

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "credential.h"
#include "tls.h"

typedef struct echo_ctx {
    nng_ctx ctx;
    nng_aio *aio;
    bool sending;
} echo_ctx;

static void echo_cb(void *arg)
{
    echo_ctx *e = arg;
    if (nng_aio_result(e->aio) != 0) {
        if (e->sending)
            nng_msg_free(nng_aio_get_msg(e->aio));
        e->sending = false;
        nng_ctx_recv(e->ctx, e->aio);
        return;
    }
    if (e->sending) {
        e->sending = false;
        nng_ctx_recv(e->ctx, e->aio);
    } else {
        e->sending = true; /* the request goes back as its own answer */
        nng_ctx_send(e->ctx, e->aio);
    }
}

int bench_echo_server(const char *url, const char *pki, const char *region)
{
    nng_socket s;
    static echo_ctx ctxs[256];
    nng_tls_config *tls = NULL;
    if (gj_url_is_tls(url)) {
        char ca[700], pem[700], err[512];
        snprintf(ca, sizeof ca, "%s/ca.crt", pki);
        snprintf(pem, sizeof pem, "%s/node-%s.pem", pki, region);
        gj_cred_files f = {ca, pem, NULL, NULL};
        if (gj_tls_config_make(&tls, true, &f, err, sizeof err) != GJ_OK) {
            fprintf(stderr, "echo: %s\n", err);
            return 1;
        }
    }
    if (nng_rep0_open(&s) != 0 || gj_tls_listen(s, url, tls, NULL) != 0)
        return 1;
    for (int i = 0; i < 256; i++) {
        nng_aio_alloc(&ctxs[i].aio, echo_cb, &ctxs[i]);
        nng_ctx_open(&ctxs[i].ctx, s);
        nng_ctx_recv(ctxs[i].ctx, ctxs[i].aio);
    }
    for (;;)
        pause();
}

double bench_run_pg(const char *script, int concurrency, int seconds, double *latency_ms)
{
    if (script == NULL) {
        printf("%-22s skipped (--no-pg)\n", "postgresql (pg_peer)");
        return 0;
    }
    if (script == NULL || access(script, R_OK) != 0 ||
        access("/usr/lib/postgresql/15/bin/pgbench", X_OK) != 0 || geteuid() != 0) {
        printf("%-22s skipped (needs root, Debian's postgresql 15 and %s)\n", "postgresql (pg_peer)",
               script ? script : "pg_peer.sh");
        return 0;
    }
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "bash '%s' %d %d 2>/dev/null", script, concurrency, seconds);
    FILE *p = popen(cmd, "r");
    double tps = 0;
    char line[512];
    while (p && fgets(line, sizeof line, p)) {
        char *at;
        if ((at = strstr(line, "latency average = ")) != NULL)
            *latency_ms = atof(at + 18);
        if ((at = strstr(line, "tps = ")) != NULL)
            tps = atof(at + 6);
    }
    if (p)
        pclose(p);
    printf("%-22s %10.0f tps   latency avg %.2f ms   (pgbench, %d clients, fsync on)\n", "postgresql (pg_peer)",
           tps, *latency_ms, concurrency);
    return tps;
}
