/* HTTP in: GNU libmicrohttpd, HTTPS through its GnuTLS. nng 1.5.2 also ships an HTTP
 * server, but over TLS it sends a response's headers and body as two TLS records on a
 * socket without TCP_NODELAY, so every answer waits out the client's delayed ACK (about
 * 90 ms a request, measured: docs/performance.md); libmicrohttpd corks and sends both at
 * once.
 *
 * Each connection has its own thread, which reads a request, answers it (signature,
 * envelope, the node call) and writes the answer: no hand-off between threads, and a
 * slow node call holds only its own connection. (A pool of threads each serving
 * several connections was measured first: a connection waited behind another's node
 * call, p99 30-40 ms; handing requests from the pool to workers, suspending the
 * connection meanwhile, cost two more thread switches a request: docs/performance.md.)
 * At most `workers` requests are answered at once (a semaphore: the others wait for a
 * place), so the node sees at most that many calls from the gateway. Connections are
 * bounded (`connections`), idle ones time out, bodies
 * over GW_BODY_HARD_MAX are dropped unread, and the bytes of bodies over GW_BODY_MAX (9101
 * uploads) held at once are bounded by GW_LARGE_BODIES_MAX. */
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <gnutls/gnutls.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <semaphore.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "credential.h"
#include "gj_util.h"
#include "log.h"

/* Seconds an idle or slow connection may stay open. */
#define GW_CONNECTION_TIMEOUT_S 30

struct gw_http {
    gateway *g;
    struct MHD_Daemon *daemon;
    char *cert_pem; /* HTTPS: certificate chain and key, PEM (kept while the daemon runs) */
    char *key_pem;
    char *ca_pem;      /* HTTPS: client certificates of this CA are asked for */
    gj_trust *trust;   /* ... and checked against it and its CRL */
    _Atomic int64_t crl_checked_ms;
    _Atomic unsigned in_flight;
    _Atomic size_t large_bytes; /* held by bodies over GW_BODY_MAX */
    sem_t answering;            /* `workers` places for requests being answered */
    bool answering_made;
};

/* A connection thread's stack: the envelope's parse (cJSON nests at most 1000 deep)
 * and a node call need far less; a thousand connections reserve 512 MiB of addresses,
 * little of it touched. */
#define GW_CONNECTION_STACK (512 * 1024)

/* The institution or platform a client certificate names, when it chains to the
 * federation CA and is not revoked; false without one (x-tif-* headers then). */
static bool client_certificate(gw_http *h, struct MHD_Connection *conn, char *id, size_t size, bool *platform)
{
    if (h->trust == NULL)
        return false;
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    if (ci == NULL || ci->tls_session == NULL)
        return false;
    unsigned n = 0;
    const gnutls_datum_t *peers = gnutls_certificate_get_peers((gnutls_session_t)ci->tls_session, &n);
    if (peers == NULL || n == 0)
        return false;
    int64_t now = gj_mono_ms();
    if (now - atomic_load(&h->crl_checked_ms) >= 1000) { /* a new CRL is in force within a second */
        atomic_store(&h->crl_checked_ms, now);
        char err[200];
        if (gj_trust_refresh(h->trust, err, sizeof err) < 0)
            gj_log(GJ_LOG_ERROR, "trust", "CRL: %s", err);
    }
    gj_verified v;
    char why[200];
    if (gj_trust_verify(h->trust, peers[0].data, peers[0].size, &v, why, sizeof why) != GJ_OK) {
        gj_log(GJ_LOG_WARN, "refused", "client certificate: %s", why);
        return false;
    }
    bool ok = (v.who.role == GJ_ROLE_INSTITUTION || v.who.role == GJ_ROLE_PLATFORM) &&
              gj_strcpy_fit(id, size, v.who.id);
    *platform = v.who.role == GJ_ROLE_PLATFORM;
    gj_verified_release(&v);
    return ok;
}

/* A request's body as it arrives. */
typedef struct upload {
    char *body;
    size_t len, cap;
    size_t large;    /* bytes counted in large_bytes */
    bool too_large;
} upload;

/* Room for more bytes of a body: grown by doubling; past GW_BODY_MAX the growth is
 * taken from the gateway-wide budget for large bodies. */
static bool upload_grow(gw_http *h, upload *u, size_t more)
{
    size_t need = u->len + more + 1;
    if (need > GW_BODY_HARD_MAX + 1)
        return false;
    if (need <= u->cap)
        return true;
    size_t cap = u->cap ? u->cap : 4096;
    while (cap < need)
        cap *= 2;
    if (cap > GW_BODY_HARD_MAX + 1)
        cap = GW_BODY_HARD_MAX + 1;
    size_t large = cap > GW_BODY_MAX ? cap : 0;
    if (large > u->large) {
        size_t add = large - u->large;
        if (atomic_fetch_add(&h->large_bytes, add) + add > GW_LARGE_BODIES_MAX) {
            atomic_fetch_sub(&h->large_bytes, add);
            return false;
        }
        u->large = large;
    }
    char *grown = realloc(u->body, cap);
    if (grown == NULL)
        return false;
    u->body = grown;
    u->cap = cap;
    return true;
}

static enum MHD_Result send_text(struct MHD_Connection *conn, unsigned status, const char *type, char *text,
                                 bool owned)
{
    struct MHD_Response *res = MHD_create_response_from_buffer(strlen(text), text,
                                                               owned ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if (res == NULL) {
        if (owned)
            free(text);
        return MHD_NO;
    }
    MHD_add_response_header(res, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    enum MHD_Result r = MHD_queue_response(conn, status, res);
    MHD_destroy_response(res);
    return r;
}

static char busy_answer[] = "{\"infcode\":-1,\"err_msg\":\"报文过长 / the body is over the gateway's limit "
                            "[MESSAGE_TOO_LARGE, RESOURCE_EXHAUSTED]\",\"gongji_status\":\"RESOURCE_EXHAUSTED\","
                            "\"gongji_reason\":\"MESSAGE_TOO_LARGE\",\"output\":{}}";

static char overloaded_answer[] = "{\"infcode\":-1,\"err_msg\":\"系统繁忙，请稍后重试 / every worker is busy "
                                  "[OVERLOADED, RESOURCE_EXHAUSTED]\",\"gongji_status\":\"RESOURCE_EXHAUSTED\","
                                  "\"gongji_reason\":\"OVERLOADED\",\"output\":{}}";

static enum MHD_Result on_get(gw_http *h, struct MHD_Connection *conn, const char *url)
{
    if (strcmp(url, "/healthz") == 0)
        return send_text(conn, MHD_HTTP_OK, "text/plain", "ok\n", false);
    if (strcmp(url, "/readyz") == 0) {
        bool stopping = atomic_load(&h->g->stopping);
        return send_text(conn, stopping ? MHD_HTTP_SERVICE_UNAVAILABLE : MHD_HTTP_OK, "text/plain",
                         stopping ? "stopping\n" : "ready\n", false);
    }
    if (strcmp(url, "/metrics") == 0) {
        char *text = gw_metrics_render(&h->g->metrics, atomic_load(&h->in_flight), h->g->cfg.workers,
                                       gw_listen_plain(&h->g->cfg));
        if (text == NULL)
            return send_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "text/plain", "out of memory\n", false);
        return send_text(conn, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", text, true);
    }
    return send_text(conn, MHD_HTTP_NOT_FOUND, "text/plain", "not found: POST the envelope, or GET /metrics, "
                                                             "/healthz, /readyz\n",
                     false);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *data, size_t *data_size, void **state)
{
    (void)version;
    gw_http *h = cls;
    if (strcmp(method, "GET") == 0)
        return on_get(h, conn, url);
    if (strcmp(method, "POST") != 0)
        return send_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain", "POST the envelope\n", false);
    upload *u = *state;
    if (u == NULL) { /* the headers: nothing of the body yet */
        if ((u = calloc(1, sizeof *u)) == NULL)
            return MHD_NO;
        *state = u;
        return MHD_YES;
    }
    if (*data_size > 0) { /* a piece of the body */
        if (!u->too_large && upload_grow(h, u, *data_size)) {
            memcpy(u->body + u->len, data, *data_size);
            u->len += *data_size;
        } else {
            u->too_large = true; /* read and dropped: answered once it has all come */
        }
        *data_size = 0;
        return MHD_YES;
    }
    if (u->too_large) {
        atomic_fetch_add(&h->g->metrics.busy, 1);
        return send_text(conn, 413, "application/json; charset=utf-8", busy_answer, false);
    }
    gw_http_request r = {
        .uri = url,
        .body = u->body != NULL ? u->body : "",
        .body_len = u->len,
        .paasid = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "x-tif-paasid"),
        .timestamp = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "x-tif-timestamp"),
        .nonce = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "x-tif-nonce"),
        .signature = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "x-tif-signature"),
    };
    char cert_id[GJ_CALLER_ID_MAX + 1];
    if (client_certificate(h, conn, cert_id, sizeof cert_id, &r.cert_platform))
        r.cert_id = cert_id;
    gw_http_answer a = {0};
    /* A place among the workers, waiting at most one node call's time: past it the
     * gateway is overloaded and says so rather than queue without bound. */
    struct timespec until = gj_time_after_us(CLOCK_REALTIME, h->g->cfg.call_timeout_ms * 1000LL);
    int waited;
    while ((waited = sem_timedwait(&h->answering, &until)) != 0 && errno == EINTR)
        ;
    if (waited != 0) {
        atomic_fetch_add(&h->g->metrics.busy, 1);
        return send_text(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "application/json; charset=utf-8", overloaded_answer,
                         false);
    }
    atomic_fetch_add(&h->in_flight, 1);
    gw_handle(h->g, &r, &a);
    atomic_fetch_sub(&h->in_flight, 1);
    sem_post(&h->answering);
    if (a.body == NULL)
        return send_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "application/json; charset=utf-8",
                         "{\"infcode\":-1,\"err_msg\":\"out of memory\"}", false);
    if (a.is_file) {
        struct MHD_Response *res = MHD_create_response_from_buffer(a.body_len, a.body, MHD_RESPMEM_MUST_FREE);
        if (res == NULL) {
            free(a.body);
            return MHD_NO;
        }
        MHD_add_response_header(res, MHD_HTTP_HEADER_CONTENT_TYPE, "application/octet-stream");
        enum MHD_Result r = MHD_queue_response(conn, (unsigned)a.status, res);
        MHD_destroy_response(res);
        return r;
    }
    return send_text(conn, (unsigned)a.status, "application/json; charset=utf-8", a.body, true);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **state, enum MHD_RequestTerminationCode why)
{
    (void)conn, (void)why;
    gw_http *h = cls;
    upload *u = *state;
    if (u != NULL) {
        atomic_fetch_sub(&h->large_bytes, u->large);
        free(u->body);
        free(u);
        *state = NULL;
    }
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    char *text = NULL;
    long len = -1;
    if (fseek(f, 0, SEEK_END) == 0 && (len = ftell(f)) >= 0 && len < (1 << 20) && fseek(f, 0, SEEK_SET) == 0 &&
        (text = malloc((size_t)len + 1)) != NULL) {
        if (fread(text, 1, (size_t)len, f) != (size_t)len) {
            free(text);
            text = NULL;
        } else {
            text[len] = '\0';
        }
    }
    fclose(f);
    return text;
}

/* host:port of an http:// or https:// URL, into addr; false when it is not one. */
static bool parse_listen(const char *url, bool *tls, struct sockaddr_in *addr)
{
    const char *rest;
    if (strncmp(url, "https://", 8) == 0)
        *tls = true, rest = url + 8;
    else if (strncmp(url, "http://", 7) == 0)
        *tls = false, rest = url + 7;
    else
        return false;
    char host[64];
    const char *colon = strrchr(rest, ':');
    if (colon == NULL || (size_t)(colon - rest) >= sizeof host)
        return false;
    memcpy(host, rest, (size_t)(colon - rest));
    host[colon - rest] = '\0';
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if ((*end != '\0' && *end != '/') || port <= 0 || port > 65535)
        return false;
    memset(addr, 0, sizeof *addr);
    addr->sin_family = AF_INET;
    addr->sin_port = htons((uint16_t)port);
    if (strcmp(host, "0.0.0.0") == 0 || strcmp(host, "*") == 0)
        addr->sin_addr.s_addr = htonl(INADDR_ANY);
    else if (inet_pton(AF_INET, strcmp(host, "localhost") == 0 ? "127.0.0.1" : host, &addr->sin_addr) != 1)
        return false;
    return true;
}

/* libmicrohttpd's own messages (a TLS handshake a client broke off, a connection it
 * could not take) into the gateway's log, one line each, digit runs masked like any
 * text a client chose, instead of bare lines on stderr. */
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char line[512], masked[512];
    vsnprintf(line, sizeof line, fmt, ap);
    for (char *c = line; *c != '\0'; c++)
        if ((unsigned char)*c < 0x20)
            *c = ' ';
    size_t n = strlen(line);
    while (n > 0 && line[n - 1] == ' ')
        line[--n] = '\0';
    gj_log(GJ_LOG_WARN, "http", "%s", gj_mask_digit_runs(line, masked, sizeof masked, GJ_LOG_DIGIT_RUN_MASKED));
}

int gw_http_start(gw_http **out, gateway *g, char *err, size_t err_size)
{
    gw_http *h = calloc(1, sizeof *h);
    if (h == NULL)
        return -1;
    h->g = g;
    if (sem_init(&h->answering, 0, g->cfg.workers) != 0) {
        free(h);
        return -1;
    }
    h->answering_made = true;
    bool tls;
    struct sockaddr_in addr;
    if (!parse_listen(g->cfg.listen, &tls, &addr)) {
        snprintf(err, err_size, "listen %s: want http://IPv4:PORT or https://IPv4:PORT", g->cfg.listen);
        gw_http_stop(h);
        return -1;
    }
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL | MHD_USE_ERROR_LOG;
    if (tls) {
        /* The certificate file may hold the key too (deploy/pki.sh's .pem): GnuTLS takes
         * the certificates from it, and the key from tls_key or the same text. */
        h->cert_pem = read_file(g->cfg.tls_cert);
        h->key_pem = read_file(g->cfg.tls_key[0] ? g->cfg.tls_key : g->cfg.tls_cert);
        if (h->cert_pem == NULL || h->key_pem == NULL) {
            snprintf(err, err_size, "https: cannot read %s", h->cert_pem == NULL ? g->cfg.tls_cert : g->cfg.tls_key);
            gw_http_stop(h);
            return -1;
        }
        flags |= MHD_USE_TLS;
        /* Client certificates of the federation are asked for, not required. */
        char why[256];
        if (g->cfg.tls_ca[0] != '\0') {
            h->ca_pem = read_file(g->cfg.tls_ca);
            if (h->ca_pem == NULL ||
                gj_trust_open(&h->trust, g->cfg.tls_ca, g->cfg.tls_crl[0] ? g->cfg.tls_crl : NULL, why, sizeof why) != GJ_OK) {
                snprintf(err, err_size, "https client certificates: %s", h->ca_pem == NULL ? g->cfg.tls_ca : why);
                gw_http_stop(h);
                return -1;
            }
        }
    }
    h->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, h, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
        MHD_OPTION_THREAD_STACK_SIZE, (size_t)GW_CONNECTION_STACK, MHD_OPTION_CONNECTION_LIMIT, g->cfg.connections,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)GW_CONNECTION_TIMEOUT_S, MHD_OPTION_NOTIFY_COMPLETED, on_completed,
        h, tls ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, h->cert_pem, MHD_OPTION_HTTPS_MEM_KEY, h->key_pem,
        h->ca_pem != NULL ? MHD_OPTION_HTTPS_MEM_TRUST : MHD_OPTION_END, h->ca_pem, MHD_OPTION_END);
    if (h->daemon == NULL) {
        snprintf(err, err_size, "cannot listen on %s (in use, or the certificate refused)", g->cfg.listen);
        gw_http_stop(h);
        return -1;
    }
    *out = h;
    return 0;
}

void gw_http_stop(gw_http *h)
{
    if (h == NULL)
        return;
    /* Requests being answered finish; connections close. */
    if (h->daemon != NULL)
        MHD_stop_daemon(h->daemon);
    free(h->cert_pem);
    free(h->key_pem);
    free(h->ca_pem);
    gj_trust_free(h->trust);
    if (h->answering_made)
        sem_destroy(&h->answering);
    free(h);
}
