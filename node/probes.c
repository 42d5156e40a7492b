#include "probes.h"

#include <nng/nng.h>
#include <nng/supplemental/http/http.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "metrics.h"
#include "xr/deciding.h"

struct probes {
    nng_http_server *server;
};

static void reply(nng_aio *aio, int status, const char *type, const char *body)
{
    nng_http_res *res = NULL;
    if (nng_http_res_alloc(&res) != 0 || nng_http_res_set_status(res, (uint16_t)status) != 0 ||
        nng_http_res_set_header(res, "Content-Type", type) != 0 ||
        nng_http_res_copy_data(res, body, strlen(body)) != 0) {
        if (res != NULL)
            nng_http_res_free(res);
        nng_aio_finish(aio, NNG_ENOMEM);
        return;
    }
    nng_aio_set_output(aio, 0, res);
    nng_aio_finish(aio, 0);
}

static node *node_of(nng_aio *aio)
{
    return nng_http_handler_get_data(nng_aio_get_input(aio, 1));
}

static void on_metrics(nng_aio *aio)
{
    char *text = metrics_render(node_of(aio));
    if (text == NULL) {
        reply(aio, 500, "text/plain", "out of memory\n");
        return;
    }
    reply(aio, 200, "text/plain; version=0.0.4; charset=utf-8", text);
    free(text);
}

static void on_healthz(nng_aio *aio)
{
    reply(aio, 200, "text/plain", "ok\n");
}

static void on_readyz(nng_aio *aio)
{
    node *n = node_of(aio);
    char body[160];
    uint32_t unknown = 0;
    if (atomic_load(&n->shutting_down))
        snprintf(body, sizeof body, "stopping\n");
    else if (!atomic_load(&n->recovered))
        snprintf(body, sizeof body, "recovering: the first resolver round is not done\n");
    else if ((unknown = deciding_unknown_count(n)) > 0)
        snprintf(body, sizeof body, "recovering: %u settlements wait on a node to say what it held\n", unknown);
    else
        snprintf(body, sizeof body, "ready\n");
    reply(aio, strcmp(body, "ready\n") == 0 ? 200 : 503, "text/plain", body);
}

static int add(probes *p, node *n, const char *path, void (*cb)(nng_aio *))
{
    nng_http_handler *h;
    int rv = nng_http_handler_alloc(&h, path, cb);
    if (rv != 0)
        return rv;
    if ((rv = nng_http_handler_set_method(h, "GET")) != 0 || (rv = nng_http_handler_set_data(h, n, NULL)) != 0 ||
        (rv = nng_http_server_add_handler(p->server, h)) != 0) {
        nng_http_handler_free(h);
        return rv;
    }
    return 0;
}

int probes_start(probes **out, node *n, const char *url)
{
    *out = NULL;
    probes *p = calloc(1, sizeof *p);
    nng_url *u = NULL;
    int rv = NNG_ENOMEM;
    if (p == NULL || (rv = nng_url_parse(&u, url)) != 0 || (rv = nng_http_server_hold(&p->server, u)) != 0 ||
        (rv = add(p, n, "/metrics", on_metrics)) != 0 || (rv = add(p, n, "/healthz", on_healthz)) != 0 ||
        (rv = add(p, n, "/readyz", on_readyz)) != 0 || (rv = nng_http_server_start(p->server)) != 0) {
        gj_log(GJ_LOG_ERROR, "probes", "cannot serve %s: %s", url, nng_strerror(rv));
        if (u != NULL)
            nng_url_free(u);
        probes_stop(p);
        return -1;
    }
    nng_url_free(u);
    *out = p;
    return 0;
}

void probes_stop(probes *p)
{
    if (p == NULL)
        return;
    if (p->server != NULL) {
        nng_http_server_stop(p->server);
        nng_http_server_release(p->server);
    }
    free(p);
}
