/* HTTP in: nng's HTTP server (already linked for the node's transport, with TLS) takes
 * each POST and queues it for a worker, so nng's own threads never wait on the node.
 * The queue is bounded: past it the answer is HTTP 503 at once. */
#include "http.h"

#include <nng/nng.h>
#include <nng/supplemental/http/http.h>
#include <nng/supplemental/tls/tls.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

typedef struct job {
    nng_aio *aio;
    nng_http_req *req;
} job;

struct gw_http {
    gateway *g;
    nng_http_server *server;
    nng_tls_config *tls;
    pthread_mutex_t mu;
    pthread_cond_t work;
    job *queue;
    unsigned head, count, capacity;
    bool closing;
    pthread_t *workers;
    unsigned worker_count;
};

static void reply(nng_aio *aio, int status, const char *content_type, const char *body)
{
    nng_http_res *res = NULL;
    if (nng_http_res_alloc(&res) != 0 || nng_http_res_set_status(res, (uint16_t)status) != 0 ||
        nng_http_res_set_header(res, "Content-Type", content_type) != 0 ||
        nng_http_res_copy_data(res, body, strlen(body)) != 0) {
        if (res != NULL)
            nng_http_res_free(res);
        nng_aio_finish(aio, NNG_ENOMEM); /* nng closes the connection */
        return;
    }
    nng_aio_set_output(aio, 0, res);
    nng_aio_finish(aio, 0);
}

static void answer_job(gw_http *h, const job *j)
{
    gw_http_request r = {
        .uri = nng_http_req_get_uri(j->req),
        .paasid = nng_http_req_get_header(j->req, "x-tif-paasid"),
        .timestamp = nng_http_req_get_header(j->req, "x-tif-timestamp"),
        .nonce = nng_http_req_get_header(j->req, "x-tif-nonce"),
        .signature = nng_http_req_get_header(j->req, "x-tif-signature"),
    };
    void *body = NULL;
    size_t len = 0;
    nng_http_req_get_data(j->req, &body, &len);
    r.body = body != NULL ? body : "";
    r.body_len = len;
    gw_http_answer a = {0};
    gw_handle(h->g, &r, &a);
    reply(j->aio, a.body != NULL ? a.status : 500, "application/json; charset=utf-8",
          a.body != NULL ? a.body : "{\"infcode\":-1,\"err_msg\":\"out of memory\"}");
    free(a.body);
}

static void *worker_main(void *arg)
{
    gw_http *h = arg;
    for (;;) {
        pthread_mutex_lock(&h->mu);
        while (h->count == 0 && !h->closing)
            pthread_cond_wait(&h->work, &h->mu);
        if (h->count == 0) {
            pthread_mutex_unlock(&h->mu);
            return NULL;
        }
        job j = h->queue[h->head];
        h->head = (h->head + 1) % h->capacity;
        h->count--;
        pthread_mutex_unlock(&h->mu);
        answer_job(h, &j);
    }
}

static void on_post(nng_aio *aio)
{
    nng_http_handler *handler = nng_aio_get_input(aio, 1);
    gw_http *h = nng_http_handler_get_data(handler);
    job j = {.aio = aio, .req = nng_aio_get_input(aio, 0)};
    pthread_mutex_lock(&h->mu);
    bool queued = !h->closing && h->count < h->capacity;
    if (queued) {
        h->queue[(h->head + h->count) % h->capacity] = j;
        h->count++;
        pthread_cond_signal(&h->work);
    }
    pthread_mutex_unlock(&h->mu);
    if (!queued)
        atomic_fetch_add(&h->g->metrics.busy, 1);
    if (!queued)
        reply(aio, 503, "application/json; charset=utf-8",
              "{\"infcode\":-1,\"err_msg\":\"系统繁忙，请稍后重试 / the gateway is busy or stopping "
              "[OVERLOADED, UNAVAILABLE]\",\"gongji_status\":\"UNAVAILABLE\",\"gongji_reason\":\"OVERLOADED\"}");
}

static void on_metrics(nng_aio *aio)
{
    nng_http_handler *handler = nng_aio_get_input(aio, 1);
    gw_http *h = nng_http_handler_get_data(handler);
    pthread_mutex_lock(&h->mu);
    unsigned queued = h->count, capacity = h->capacity;
    pthread_mutex_unlock(&h->mu);
    char *text = gw_metrics_render(&h->g->metrics, queued, capacity);
    reply(aio, text != NULL ? 200 : 500, "text/plain; version=0.0.4; charset=utf-8", text != NULL ? text : "out of memory\n");
    free(text);
}

static void on_healthz(nng_aio *aio)
{
    reply(aio, 200, "text/plain", "ok\n");
}

static void on_readyz(nng_aio *aio)
{
    nng_http_handler *handler = nng_aio_get_input(aio, 1);
    gw_http *h = nng_http_handler_get_data(handler);
    bool stopping = atomic_load(&h->g->stopping);
    reply(aio, stopping ? 503 : 200, "text/plain", stopping ? "stopping\n" : "ready\n");
}

static int add_handler(gw_http *h, const char *path, const char *method, bool tree, void (*cb)(nng_aio *))
{
    nng_http_handler *handler;
    int rv = nng_http_handler_alloc(&handler, path, cb);
    if (rv != 0)
        return rv;
    if ((rv = nng_http_handler_set_method(handler, method)) != 0 ||
        (rv = nng_http_handler_set_data(handler, h, NULL)) != 0 ||
        (rv = nng_http_handler_collect_body(handler, true, GW_BODY_HARD_MAX)) != 0 ||
        (tree && (rv = nng_http_handler_set_tree(handler)) != 0) ||
        (rv = nng_http_server_add_handler(h->server, handler)) != 0) {
        nng_http_handler_free(handler);
        return rv;
    }
    return 0;
}

int gw_http_start(gw_http **out, gateway *g, char *err, size_t err_size)
{
    gw_http *h = calloc(1, sizeof *h);
    if (h == NULL)
        return -1;
    h->g = g;
    h->capacity = g->cfg.queue;
    pthread_mutex_init(&h->mu, NULL);
    pthread_cond_init(&h->work, NULL);
    h->queue = calloc(h->capacity, sizeof *h->queue);
    h->workers = calloc(g->cfg.workers, sizeof *h->workers);
    nng_url *url = NULL;
    int rv = NNG_ENOMEM;
    if (h->queue == NULL || h->workers == NULL || (rv = nng_url_parse(&url, g->cfg.listen)) != 0 ||
        (rv = nng_http_server_hold(&h->server, url)) != 0) {
        snprintf(err, err_size, "listen %s: %s", g->cfg.listen, nng_strerror(rv));
        goto fail;
    }
    if (strncmp(g->cfg.listen, "https://", 8) == 0) {
        if ((rv = nng_tls_config_alloc(&h->tls, NNG_TLS_MODE_SERVER)) != 0 ||
            (rv = nng_tls_config_cert_key_file(h->tls, g->cfg.tls_cert, g->cfg.tls_key[0] ? g->cfg.tls_key : NULL)) !=
                0 ||
            (rv = nng_http_server_set_tls(h->server, h->tls)) != 0) {
            snprintf(err, err_size, "https certificate %s: %s", g->cfg.tls_cert, nng_strerror(rv));
            goto fail;
        }
    }
    if ((rv = add_handler(h, "/healthz", "GET", false, on_healthz)) != 0 ||
        (rv = add_handler(h, "/metrics", "GET", false, on_metrics)) != 0 ||
        (rv = add_handler(h, "/readyz", "GET", false, on_readyz)) != 0 ||
        (rv = add_handler(h, "/", "POST", true, on_post)) != 0) {
        snprintf(err, err_size, "handlers: %s", nng_strerror(rv));
        goto fail;
    }
    for (unsigned i = 0; i < g->cfg.workers; i++) {
        if (pthread_create(&h->workers[i], NULL, worker_main, h) != 0) {
            snprintf(err, err_size, "cannot start workers");
            goto fail;
        }
        h->worker_count++;
    }
    if ((rv = nng_http_server_start(h->server)) != 0) {
        snprintf(err, err_size, "listen %s: %s", g->cfg.listen, nng_strerror(rv));
        goto fail;
    }
    nng_url_free(url);
    *out = h;
    return 0;
fail:
    if (url != NULL)
        nng_url_free(url);
    gw_http_stop(h);
    return -1;
}

void gw_http_stop(gw_http *h)
{
    if (h == NULL)
        return;
    /* Workers answer what is queued, then end; new requests get 503 meanwhile. */
    pthread_mutex_lock(&h->mu);
    h->closing = true;
    pthread_cond_broadcast(&h->work);
    pthread_mutex_unlock(&h->mu);
    for (unsigned i = 0; i < h->worker_count; i++)
        pthread_join(h->workers[i], NULL);
    if (h->server != NULL) {
        nng_http_server_stop(h->server);
        nng_http_server_release(h->server);
    }
    if (h->tls != NULL)
        nng_tls_config_free(h->tls);
    free(h->queue);
    free(h->workers);
    pthread_cond_destroy(&h->work);
    pthread_mutex_destroy(&h->mu);
    free(h);
}
