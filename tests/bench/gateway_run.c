#include "gateway_run.h"

#include <nng/nng.h>
#include <nng/supplemental/http/http.h>
#include <nng/supplemental/tls/tls.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "signature.h"

#define PAASID "bench-hospital"
#define TOKEN "bench-token-5b0c"
#define CODE "H51010000001"

pid_t bench_gateway_start(const char *gateway_bin, const char *dir, const char *pki, const char *node_url, int port,
                          int workers)
{
    char cfg[700], log[700];
    snprintf(cfg, sizeof cfg, "%s/gateway.ini", dir);
    snprintf(log, sizeof log, "%s/gateway.log", dir);
    FILE *f = fopen(cfg, "w");
    if (f == NULL)
        return -1;
    /* The coordinator's node certificate serves as the gateway's HTTPS certificate. */
    fprintf(f,
            "[gateway]\nlisten = https://127.0.0.1:%d\ntls_cert = %s/node-510100.pem\nnode = %s\n"
            "tls_ca = %s/ca.crt\ntls_crl = %s/crl.pem\nregion = 510100\nworkers = %d\nconnections = 4096\n"
            "log_file = %s\nlog_level = warn\n\n[institution %s]\npaasid = %s\ntoken = %s\n"
            "credential = %s/institution-%s.pem\n",
            port, pki, node_url, pki, pki, workers, log, CODE, PAASID, TOKEN, pki, CODE);
    fclose(f);
    pid_t pid = fork();
    if (pid == 0) {
        execl(gateway_bin, gateway_bin, "--config", cfg, (char *)NULL);
        _exit(127);
    }
    return pid;
}

typedef struct driver {
    int id, port, people;
    const char *pki, *prefix;
    int64_t until_us;
    uint64_t ok, failed;
    uint32_t *lat_us;
    size_t n_lat, cap_lat;
} driver;

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* One 2207 on conn; true when answered infcode 0 with the whole part from accounts. */
static bool settle_once(nng_http_conn *conn, const nng_url *url, const char *psn, int fen, uint64_t serial,
                        int driver_id)
{
    char body[900], ts[24], nonce[48], sig[65], msgid[40];
    snprintf(ts, sizeof ts, "%lld", (long long)time(NULL));
    snprintf(nonce, sizeof nonce, "d%d-%llu-%lld", driver_id, (unsigned long long)serial, (long long)now_us());
    gw_signature_make(TOKEN, ts, nonce, sig);
    snprintf(msgid, sizeof msgid, "%s%04d%014llu", CODE, driver_id % 10000, (unsigned long long)serial);
    snprintf(body, sizeof body,
             "{\"infno\":\"2207\",\"msgid\":\"%s\",\"mdtrtarea_admvs\":\"510100\",\"insuplc_admdvs\":\"510100\","
             "\"recer_sys_code\":\"FSI_LOCAL\",\"opter_type\":\"1\",\"opter\":\"01\",\"opter_name\":\"bench\","
             "\"fixmedins_code\":\"%s\",\"input\":{\"data\":{\"psn_no\":\"%s\",\"med_type\":\"11\","
             "\"medfee_sumamt\":\"%d.%02d\",\"psn_part_amt\":\"%d.%02d\",\"acct_used_flag\":\"1\"}}}",
             msgid, CODE, psn, fen / 100, fen % 100, fen / 100, fen % 100);
    nng_http_req *req = NULL;
    nng_http_res *res = NULL;
    nng_aio *aio = NULL;
    bool ok = false;
    if (nng_http_req_alloc(&req, url) != 0 || nng_http_res_alloc(&res) != 0 || nng_aio_alloc(&aio, NULL, NULL) != 0)
        goto done;
    nng_http_req_set_method(req, "POST");
    nng_http_req_set_header(req, "Content-Type", "application/json");
    nng_http_req_set_header(req, "x-tif-paasid", PAASID);
    nng_http_req_set_header(req, "x-tif-timestamp", ts);
    nng_http_req_set_header(req, "x-tif-nonce", nonce);
    nng_http_req_set_header(req, "x-tif-signature", sig);
    nng_http_req_copy_data(req, body, strlen(body));
    nng_aio_set_timeout(aio, 10000);
    nng_http_conn_transact(conn, req, res, aio);
    nng_aio_wait(aio);
    if (nng_aio_result(aio) == 0 && nng_http_res_get_status(res) == 200) {
        void *data;
        size_t len;
        nng_http_res_get_data(res, &data, &len);
        char want[64];
        snprintf(want, sizeof want, "\"acct_pay\":%d.%02d", fen / 100, fen % 100);
        ok = len > 12 && memmem(data, len, "\"infcode\":0", 11) != NULL && memmem(data, len, want, strlen(want)) != NULL;
    }
done:
    nng_aio_free(aio);
    nng_http_res_free(res);
    nng_http_req_free(req);
    return ok;
}

static void *drive(void *arg)
{
    driver *d = arg;
    char url_text[80], ca[600];
    snprintf(url_text, sizeof url_text, "https://127.0.0.1:%d/fsi/api/rsfComIfsService/callService", d->port);
    snprintf(ca, sizeof ca, "%s/ca.crt", d->pki);
    nng_url *url = NULL;
    nng_http_client *cli = NULL;
    nng_tls_config *tls = NULL;
    nng_aio *aio = NULL;
    nng_http_conn *conn = NULL;
    if (nng_url_parse(&url, url_text) != 0 || nng_http_client_alloc(&cli, url) != 0 ||
        nng_tls_config_alloc(&tls, NNG_TLS_MODE_CLIENT) != 0 || nng_tls_config_ca_file(tls, ca) != 0 ||
        nng_tls_config_auth_mode(tls, NNG_TLS_AUTH_MODE_REQUIRED) != 0 || nng_http_client_set_tls(cli, tls) != 0 ||
        nng_aio_alloc(&aio, NULL, NULL) != 0)
        goto done;
    unsigned seed = (unsigned)d->id * 7919u + 1;
    for (uint64_t n = 0; now_us() < d->until_us; n++) {
        if (conn == NULL) {
            nng_http_client_connect(cli, aio);
            nng_aio_wait(aio);
            if (nng_aio_result(aio) != 0) {
                d->failed++;
                usleep(10000);
                continue;
            }
            conn = nng_aio_get_output(aio, 0);
        }
        char psn[32];
        snprintf(psn, sizeof psn, "%s%d", d->prefix, (int)((d->id + n * 64) % (uint64_t)d->people));
        int fen = 100 + rand_r(&seed) % 4900;
        int64_t t0 = now_us();
        bool ok = settle_once(conn, url, psn, fen, n, d->id);
        int64_t dt = now_us() - t0;
        if (n == 0)
            continue; /* the first also sets up TLS and the gateway's session: not counted */
        if (!ok) {
            d->failed++;
            nng_http_conn_close(conn); /* start clean */
            conn = NULL;
            continue;
        }
        d->ok++;
        if (d->n_lat == d->cap_lat) {
            d->cap_lat = d->cap_lat ? d->cap_lat * 2 : 4096;
            uint32_t *grown = realloc(d->lat_us, d->cap_lat * sizeof *d->lat_us);
            if (grown == NULL)
                break;
            d->lat_us = grown;
        }
        d->lat_us[d->n_lat++] = (uint32_t)dt;
    }
done:
    if (conn != NULL)
        nng_http_conn_close(conn);
    nng_aio_free(aio);
    if (cli != NULL)
        nng_http_client_free(cli);
    if (tls != NULL)
        nng_tls_config_free(tls);
    if (url != NULL)
        nng_url_free(url);
    return NULL;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

bench_gateway_result bench_gateway_run(int port, const char *pki, int concurrency, int seconds, int people,
                                       const char *prefix)
{
    bench_gateway_result r = {0};
    driver *d = calloc((size_t)concurrency, sizeof *d);
    pthread_t *t = calloc((size_t)concurrency, sizeof *t);
    if (d == NULL || t == NULL) {
        free(d);
        free(t);
        return r;
    }
    int64_t start = now_us();
    for (int i = 0; i < concurrency; i++) {
        d[i] = (driver){.id = i, .port = port, .people = people, .pki = pki, .prefix = prefix,
                        .until_us = start + (int64_t)seconds * 1000000};
        pthread_create(&t[i], NULL, drive, &d[i]);
    }
    size_t total = 0;
    for (int i = 0; i < concurrency; i++) {
        pthread_join(t[i], NULL);
        r.ok += d[i].ok;
        r.failed += d[i].failed;
        total += d[i].n_lat;
    }
    double elapsed = (double)(now_us() - start) / 1e6;
    uint32_t *all = malloc((total ? total : 1) * sizeof *all);
    size_t k = 0;
    for (int i = 0; i < concurrency; i++) {
        if (all != NULL)
            memcpy(all + k, d[i].lat_us, d[i].n_lat * sizeof *all);
        k += d[i].n_lat;
        free(d[i].lat_us);
    }
    if (all != NULL && total > 0) {
        qsort(all, total, sizeof *all, cmp_u32);
        r.p50_ms = all[total / 2] / 1000.0;
        r.p99_ms = all[(size_t)((double)total * 0.99)] / 1000.0;
    }
    r.tps = (double)r.ok / elapsed;
    free(all);
    free(d);
    free(t);
    return r;
}
