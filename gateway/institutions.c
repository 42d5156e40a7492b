/* The institutions a gateway serves, and their connections to the node. */
#include "gateway.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

int gw_institutions_open(gateway *g, char *err, size_t err_size)
{
    for (size_t i = 0; i < g->cfg.institution_count; i++) {
        gw_institution *in = &g->institutions[i];
        const gw_institution_config *c = &g->cfg.institutions[i];
        in->cfg = c;
        pthread_mutex_init(&in->mu, NULL);
        in->idle = calloc(g->cfg.workers, sizeof *in->idle);
        g->institution_count = i + 1;
        if (in->idle == NULL) {
            snprintf(err, err_size, "out of memory");
            return -1;
        }
        if (strncmp(g->cfg.node, "tls+tcp://", 10) == 0) {
            gj_cred_files files = {.ca_file = g->cfg.tls_ca,
                                   .cert_file = c->credential,
                                   .crl_file = g->cfg.tls_crl[0] ? g->cfg.tls_crl : NULL};
            char why[256];
            if (gj_cred_open(&in->cred, &files, why, sizeof why) != GJ_OK) {
                snprintf(err, err_size, "institution %s: credential %s: %s", c->code, c->credential, why);
                return -1;
            }
            const gj_identity *id = gj_cred_identity(in->cred);
            int want = c->platform ? GJ_ROLE_PLATFORM : GJ_ROLE_INSTITUTION;
            if (id->role != want || strcmp(id->id, c->code) != 0) {
                snprintf(err, err_size, "%s %s: credential %s is %s %s, not %s %s", c->platform ? "platform" : "institution",
                         c->code, c->credential, gj_role_name(id->role), id->id, gj_role_name(want), c->code);
                return -1;
            }
        }
    }
    return 0;
}

/* Every institution's links at once: with the node hung, each close waits out its own
 * bounds (client.h), so one after another they would add up. */
static void close_all_links(gateway *g)
{
    size_t total = 0;
    for (size_t i = 0; i < g->institution_count; i++)
        total += g->institutions[i].idle_count;
    client_t **all = total > 0 ? calloc(total, sizeof *all) : NULL;
    size_t n = 0;
    for (size_t i = 0; i < g->institution_count; i++) {
        gw_institution *in = &g->institutions[i];
        if (all == NULL) /* no memory for the list: each institution's together */
            client_close_all(in->idle, in->idle_count);
        else
            for (unsigned k = 0; k < in->idle_count; k++)
                all[n++] = in->idle[k];
        in->idle_count = 0;
    }
    client_close_all(all, n);
    free(all);
}

void gw_institutions_close(gateway *g)
{
    close_all_links(g);
    for (size_t i = 0; i < g->institution_count; i++) {
        gw_institution *in = &g->institutions[i];
        free(in->idle);
        gj_cred_free(in->cred);
        pthread_mutex_destroy(&in->mu);
    }
    g->institution_count = 0;
}

gw_institution *gw_institution_by_paasid(gateway *g, const char *paasid)
{
    for (size_t i = 0; i < g->institution_count; i++)
        if (strcmp(g->institutions[i].cfg->paasid, paasid) == 0)
            return &g->institutions[i];
    return NULL;
}

gw_institution *gw_institution_by_code(gateway *g, const char *code)
{
    for (size_t i = 0; i < g->institution_count; i++)
        if (strcmp(g->institutions[i].cfg->code, code) == 0)
            return &g->institutions[i];
    return NULL;
}

client_t *gw_institution_borrow(gateway *g, gw_institution *in)
{
    client_t *c = NULL;
    pthread_mutex_lock(&in->mu);
    if (in->idle_count > 0)
        c = in->idle[--in->idle_count];
    pthread_mutex_unlock(&in->mu);
    if (c != NULL)
        return c;
    if (client_open_with(&c, g->cfg.node, (int)g->cfg.call_timeout_ms, in->cred) != GJ_OK)
        return NULL;
    if (in->cred == NULL && !in->cfg->platform) /* plaintext node (development): say who we are */
        client_set_identity(c, in->cfg->code, GONGJI__V1__ROLE__INSTITUTION);
    return c;
}

void gw_institution_return(gw_institution *in, client_t *c)
{
    pthread_mutex_lock(&in->mu);
    /* At most one per worker is ever out, so there is always room. */
    in->idle[in->idle_count++] = c;
    pthread_mutex_unlock(&in->mu);
}
