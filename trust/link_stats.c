#include "link_stats.h"

#include <string.h>

static uint64_t stat_value(nng_stat *parent, const char *name)
{
    nng_stat *s = nng_stat_find(parent, name);
    return s != NULL ? nng_stat_value(s) : 0;
}

int gj_link_answers_owed(nng_socket sock, uint64_t *owed)
{
    nng_stat *all = NULL;
    int rv = nng_stats_get(&all);
    if (rv != 0)
        return rv;
    uint64_t id = (uint64_t)nng_socket_id(sock), sum = 0;
    for (nng_stat *s = nng_stat_child(all); s != NULL; s = nng_stat_next(s)) {
        if (strcmp(nng_stat_name(s), "pipe") != 0 || stat_value(s, "socket") != id)
            continue;
        uint64_t sent = stat_value(s, "tx_msgs"), answered = stat_value(s, "rx_msgs");
        if (sent > answered)
            sum += sent - answered;
    }
    nng_stats_free(all);
    *owed = sum;
    return 0;
}

int gj_link_dialer_pipes(nng_dialer dialer, uint64_t *pipes)
{
    nng_stat *all = NULL;
    int rv = nng_stats_get(&all);
    if (rv != 0)
        return rv;
    nng_stat *d = nng_stat_find_dialer(all, dialer);
    if (d == NULL)
        rv = NNG_ENOENT;
    else
        *pipes = stat_value(d, "pipes");
    nng_stats_free(all);
    return rv;
}
