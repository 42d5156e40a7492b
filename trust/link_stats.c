#include "link_stats.h"

#include <string.h>

uint64_t gj_stat_value(nng_stat *parent, const char *name)
{
    nng_stat *s = nng_stat_find(parent, name);
    return s != NULL ? nng_stat_value(s) : 0;
}

nng_stat *gj_stat_scope(nng_stat *all, const char *kind, int id)
{
    for (nng_stat *s = nng_stat_child(all); s != NULL; s = nng_stat_next(s))
        if (strcmp(nng_stat_name(s), kind) == 0 && gj_stat_value(s, "id") == (uint64_t)id)
            return s;
    return NULL;
}

int gj_link_answers_owed(nng_socket sock, uint64_t *owed)
{
    nng_stat *all = NULL;
    int rv = nng_stats_get(&all);
    if (rv != 0)
        return rv;
    uint64_t id = (uint64_t)nng_socket_id(sock), sum = 0;
    for (nng_stat *s = nng_stat_child(all); s != NULL; s = nng_stat_next(s)) {
        if (strcmp(nng_stat_name(s), "pipe") != 0 || gj_stat_value(s, "socket") != id)
            continue;
        uint64_t sent = gj_stat_value(s, "tx_msgs"), answered = gj_stat_value(s, "rx_msgs");
        if (sent > answered)
            sum += sent - answered;
    }
    nng_stats_free(all);
    *owed = sum;
    return 0;
}

int gj_link_dialer_activity(nng_dialer dialer, uint64_t *pipes, uint64_t *attempts)
{
    /* Every outcome nng counts for a finished connect (nng 1.5.2's dialer statistics). */
    static const char *const outcomes[] = {"connect", "refused", "disconnect", "canceled", "other",
                                           "timeout", "proto",   "auth",       "oom",      "reject"};
    nng_stat *all = NULL;
    int rv = nng_stats_get(&all);
    if (rv != 0)
        return rv;
    nng_stat *d = gj_stat_scope(all, "dialer", nng_dialer_id(dialer));
    if (d == NULL) {
        rv = NNG_ENOENT;
    } else {
        *pipes = gj_stat_value(d, "pipes");
        uint64_t sum = 0;
        for (size_t i = 0; i < sizeof outcomes / sizeof outcomes[0]; i++)
            sum += gj_stat_value(d, outcomes[i]);
        *attempts = sum;
    }
    nng_stats_free(all);
    return rv;
}

bool gj_dialer_gone_quiet(nng_dialer dialer, gj_dialer_watch *watch, int64_t now_ms, int64_t quiet_ms,
                          int *stats_rv)
{
    uint64_t pipes = 0, attempts = 0;
    *stats_rv = gj_link_dialer_activity(dialer, &pipes, &attempts);
    if (*stats_rv != 0)
        return false;
    int32_t id = nng_dialer_id(dialer);
    if (pipes > 0 || watch->dialer_id != id || watch->attempts != attempts) {
        /* Working, or a new dialer: start watching again from here. */
        *watch = (gj_dialer_watch){.dialer_id = pipes > 0 ? 0 : id, .attempts = attempts, .since_ms = now_ms};
        return false;
    }
    return now_ms - watch->since_ms >= quiet_ms;
}
