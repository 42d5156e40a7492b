/* Regions that stopped answering (docs/federation.md, "A region that hangs"). After a
 * call to a region gets no answer in its time, the region is suspect until a call to it
 * is answered again. While it is suspect, only suspect_calls (GJ_SUSPECT_CALLS_MAX) calls to it may
 * wait at once (they find out whether it is back); the others are refused at once with
 * REGION_UNREACHABLE instead of each waiting out its own budget. A hung region then
 * ties up a few threads, not every worker, and other regions' requests do not queue
 * behind it. */
#ifndef GJ_REGION_WATCH_H
#define GJ_REGION_WATCH_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "gj_limits.h"
#include "reasons.h"

typedef struct region_watch {
    pthread_mutex_t mu;
    uint32_t calls_max;   /* calls that may wait at once on a suspect region */
    int64_t suspect_ms;   /* how long suspicion lasts after the last silence */
    size_t count;
    struct {
        char region[GJ_ADMDVS_LEN + 1];
        bool suspect;
        int64_t last_no_answer_ms; /* monotonic: suspicion fades suspect_ms after it */
        uint32_t waiting;    /* calls to it under way while suspect */
    } regions[GJ_OUTBOXES_MAX];
} region_watch;

void region_watch_init(region_watch *w, unsigned calls_max, unsigned suspect_ms);
void region_watch_fini(region_watch *w);
/* May a call to region go now? false: refused at once (the region is suspect and
 * enough calls already wait on it). Every true must be followed by region_watch_done
 * with the same *counted (whether the call counts among those waiting). */
bool region_watch_admit(region_watch *w, const char *region, bool *counted);
/* How the admitted call ended: its reason (REGION_UNREACHABLE means no answer). */
void region_watch_done(region_watch *w, const char *region, bool counted, gj_reason outcome);

#endif
