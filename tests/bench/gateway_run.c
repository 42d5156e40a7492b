#include "gateway_run.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdbool.h>
#include <sys/socket.h>
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

/* One kept-alive HTTPS connection, as an HIS's HTTP client keeps one: TCP_NODELAY and
 * each request written whole, in one TLS record. */
typedef struct his_conn {
    int fd;
    SSL *ssl;
    char buf[16384];
    size_t have;
} his_conn;

static void his_close(his_conn *c)
{
    if (c->ssl != NULL)
        SSL_free(c->ssl);
    if (c->fd >= 0)
        close(c->fd);
    c->ssl = NULL, c->fd = -1, c->have = 0;
}

static bool his_open(his_conn *c, SSL_CTX *ctx, int port)
{
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (c->fd < 0 || setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0 ||
        connect(c->fd, (struct sockaddr *)&a, sizeof a) != 0 || (c->ssl = SSL_new(ctx)) == NULL ||
        SSL_set_fd(c->ssl, c->fd) != 1 || SSL_connect(c->ssl) != 1) {
        his_close(c);
        return false;
    }
    c->have = 0;
    return true;
}

/* One 2207; true when answered infcode 0 with the whole part from accounts. */
static bool settle_once(his_conn *c, const char *psn, int fen, uint64_t serial, int driver_id)
{
    char body[900], request[1600], ts[24], nonce[48], sig[65], msgid[40];
    snprintf(ts, sizeof ts, "%lld", (long long)time(NULL));
    snprintf(nonce, sizeof nonce, "d%d-%llu-%lld", driver_id, (unsigned long long)serial, (long long)now_us());
    gw_signature_make(TOKEN, ts, nonce, sig);
    snprintf(msgid, sizeof msgid, "%s%04d%014llu", CODE, driver_id % 10000, (unsigned long long)serial);
    int blen = snprintf(body, sizeof body,
                        "{\"infno\":\"2207\",\"msgid\":\"%s\",\"mdtrtarea_admvs\":\"510100\",\"insuplc_admdvs\":\"510100\","
                        "\"recer_sys_code\":\"FSI_LOCAL\",\"opter_type\":\"1\",\"opter\":\"01\",\"opter_name\":\"bench\","
                        "\"fixmedins_code\":\"%s\",\"input\":{\"data\":{\"psn_no\":\"%s\",\"med_type\":\"11\","
                        "\"medfee_sumamt\":\"%d.%02d\",\"psn_part_amt\":\"%d.%02d\",\"acct_used_flag\":\"1\"}}}",
                        msgid, CODE, psn, fen / 100, fen % 100, fen / 100, fen % 100);
    int rlen = snprintf(request, sizeof request,
                        "POST /fsi/api/rsfComIfsService/callService HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                        "Content-Type: application/json\r\nx-tif-paasid: %s\r\nx-tif-timestamp: %s\r\n"
                        "x-tif-nonce: %s\r\nx-tif-signature: %s\r\nContent-Length: %d\r\n\r\n%s",
                        PAASID, ts, nonce, sig, blen, body);
    if (SSL_write(c->ssl, request, rlen) != rlen)
        return false;
    /* The answer: headers, then Content-Length bytes. */
    c->have = 0;
    char *end = NULL;
    size_t want = 0;
    for (;;) {
        if (end == NULL && (end = memmem(c->buf, c->have, "\r\n\r\n", 4)) != NULL) {
            char *cl = memmem(c->buf, (size_t)(end - c->buf), "Content-Length: ", 16);
            if (cl == NULL)
                cl = memmem(c->buf, (size_t)(end - c->buf), "content-length: ", 16);
            if (cl == NULL)
                return false;
            want = (size_t)(end + 4 - c->buf) + (size_t)strtoul(cl + 16, NULL, 10);
        }
        if (end != NULL && c->have >= want)
            break;
        if (c->have == sizeof c->buf)
            return false;
        int n = SSL_read(c->ssl, c->buf + c->have, (int)(sizeof c->buf - c->have));
        if (n <= 0)
            return false;
        c->have += (size_t)n;
    }
    char pay[64];
    snprintf(pay, sizeof pay, "\"acct_pay\":%d.%02d", fen / 100, fen % 100);
    return strncmp(c->buf, "HTTP/1.1 200", 12) == 0 && memmem(end, want - (size_t)(end - c->buf), "\"infcode\":0", 11) &&
           memmem(end, want - (size_t)(end - c->buf), pay, strlen(pay));
}

static void *drive(void *arg)
{
    driver *d = arg;
    char ca[600];
    snprintf(ca, sizeof ca, "%s/ca.crt", d->pki);
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    his_conn c = {.fd = -1};
    if (ctx == NULL || SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1)
        goto done;
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL); /* the gateway's certificate, against the CA */
    unsigned seed = (unsigned)d->id * 7919u + 1;
    for (uint64_t n = 0; now_us() < d->until_us; n++) {
        if (c.ssl == NULL && !his_open(&c, ctx, d->port)) {
            d->failed++;
            usleep(10000);
            continue;
        }
        char psn[32];
        snprintf(psn, sizeof psn, "%s%d", d->prefix, (int)((d->id + n * 64) % (uint64_t)d->people));
        int fen = 100 + rand_r(&seed) % 4900;
        int64_t t0 = now_us();
        bool ok = settle_once(&c, psn, fen, n, d->id);
        int64_t dt = now_us() - t0;
        if (!ok)
            his_close(&c); /* start clean */
        if (n == 0)
            continue; /* the first also sets up the gateway's session with the node: not counted */
        if (!ok) {
            d->failed++;
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
    his_close(&c);
    SSL_CTX_free(ctx);
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
        if (all != NULL && d[i].n_lat > 0) /* a caller that got nothing in has no array */
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
