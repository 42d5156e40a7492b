/* The settlements this process is deciding right now (deciding.c). Read by the
 * idempotent-write path and by revokes, written by the coordinator and the resolver. */
#ifndef GJ_XR_DECIDING_H
#define GJ_XR_DECIDING_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "node.h"

typedef struct deciding_set {
    pthread_mutex_t mu;
    struct {
        char setl_id[GJ_SETL_ID_MAX + 1];
        char caller_id[GJ_CALLER_ID_MAX + 1];
        char call_id[GJ_CALL_ID_MAX + 1];
        /* Its decision was written before its hold answered and nobody here knows what
         * the hold came to (found at start, or its correction failed): the resolver
         * asks the sponsor's node, not the settlement's worker. */
        bool unknown;
        /* Fingerprints of setl_id and of caller_id + call_id: a scan compares these
         * and calls strcmp only on a match (it runs several times per settlement). */
        uint64_t setl_fp, call_fp;
    } slots[GJ_DECIDING_MAX];
    uint32_t top; /* every used slot is below this */
} deciding_set;

/* Mark setl_id (made for caller_id's call_id) as being decided (true when a slot was
 * free) / no longer; ask by setl_id, or by the call that made it. */
bool deciding_add(node *n, const char *setl_id, const char *caller_id, const char *call_id);
void deciding_remove(node *n, const char *setl_id);
bool deciding_has(node *n, const char *setl_id);
bool deciding_has_call(node *n, const char *caller_id, const char *call_id);
/* The same, leaving out the entry of setl_id (the asker's own settlement). */
bool deciding_has_other_call(node *n, const char *caller_id, const char *call_id, const char *setl_id);
/* Mark an entry unknown (adding it if absent); ask whether an entry is unknown. */
bool deciding_mark_unknown(node *n, const char *setl_id, const char *caller_id, const char *call_id);
bool deciding_is_unknown(node *n, const char *setl_id);
uint32_t deciding_unknown_count(node *n);

#endif
