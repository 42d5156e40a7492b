/* The protocol's state: made at start, before the node serves, and freed at exit. */
#include "xr_internal.h"

#include <stdlib.h>

int xr_init(node *n)
{
    struct xr_state *xr = calloc(1, sizeof *xr);
    if (xr == NULL)
        return -1;
    xr->delivery_cap = n->cfg.delivery_queue;
    xr->delivery_queue = calloc(xr->delivery_cap, sizeof *xr->delivery_queue);
    if (xr->delivery_queue == NULL) {
        free(xr);
        return -1;
    }
    pthread_mutex_init(&xr->delivery_mu, NULL);
    pthread_cond_init(&xr->delivery_cv, NULL);
    pthread_mutex_init(&xr->deciding.mu, NULL);
    pthread_mutex_init(&xr->acks_mu, NULL);
    pthread_mutex_init(&xr->resolver_mu, NULL);
    pthread_cond_init(&xr->resolver_cv, NULL);
    n->xr = xr;
    return 0;
}

void xr_fini(node *n)
{
    struct xr_state *xr = n->xr;
    if (xr == NULL)
        return;
    pthread_cond_destroy(&xr->resolver_cv);
    pthread_mutex_destroy(&xr->resolver_mu);
    pthread_mutex_destroy(&xr->acks_mu);
    pthread_mutex_destroy(&xr->deciding.mu);
    pthread_cond_destroy(&xr->delivery_cv);
    pthread_mutex_destroy(&xr->delivery_mu);
    free(xr->delivery_queue);
    free(xr);
    n->xr = NULL;
}
