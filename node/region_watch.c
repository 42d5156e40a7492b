/* Regions that stopped answering: see region_watch.h. */
#include "region_watch.h"

#include <string.h>
#include <time.h>

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void region_watch_init(region_watch *w, unsigned calls_max, unsigned suspect_ms)
{
    memset(w, 0, sizeof *w);
    w->calls_max = calls_max;
    w->suspect_ms = suspect_ms;
    pthread_mutex_init(&w->mu, NULL);
}

void region_watch_fini(region_watch *w)
{
    pthread_mutex_destroy(&w->mu);
}

/* The entry of region, made when absent; -1 when the table is full (then nothing is
 * watched for it: calls go as they always did). Call with mu held. */
static int entry_of(region_watch *w, const char *region, bool make)
{
    for (size_t i = 0; i < w->count; i++)
        if (strcmp(w->regions[i].region, region) == 0)
            return (int)i;
    if (!make || w->count == GJ_OUTBOXES_MAX || strlen(region) != GJ_ADMDVS_LEN)
        return -1;
    size_t i = w->count++;
    memset(&w->regions[i], 0, sizeof w->regions[i]);
    memcpy(w->regions[i].region, region, GJ_ADMDVS_LEN + 1);
    return (int)i;
}

bool region_watch_admit(region_watch *w, const char *region, bool *counted)
{
    bool admit = true;
    *counted = false;
    pthread_mutex_lock(&w->mu);
    int i = entry_of(w, region, false);
    /* Suspicion fades: a region silent for so long that no call found out lately is
     * tried freely again (its probes may all have met a slow first handshake). */
    if (i >= 0 && w->regions[i].suspect && mono_ms() - w->regions[i].last_no_answer_ms > w->suspect_ms)
        w->regions[i].suspect = false;
    if (i >= 0 && w->regions[i].suspect) {
        if (w->regions[i].waiting < w->calls_max) {
            w->regions[i].waiting++;
            *counted = true;
        } else {
            admit = false;
        }
    }
    pthread_mutex_unlock(&w->mu);
    return admit;
}

void region_watch_done(region_watch *w, const char *region, bool counted, gj_reason outcome)
{
    bool no_answer = outcome == GJ_R_REGION_UNREACHABLE || outcome == GJ_R_REGION_NOT_ANSWERING;
    pthread_mutex_lock(&w->mu);
    int i = entry_of(w, region, no_answer || counted);
    if (i >= 0) {
        if (counted && w->regions[i].waiting > 0)
            w->regions[i].waiting--;
        if (no_answer) {
            w->regions[i].suspect = true;
            w->regions[i].last_no_answer_ms = mono_ms();
        }
        else if (outcome != GJ_R_DEADLINE_PASSED && outcome != GJ_R_OVERLOADED)
            w->regions[i].suspect = false; /* it answered: back */
    }
    pthread_mutex_unlock(&w->mu);
}
