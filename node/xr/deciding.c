/* The set of cross-region settlements this process is deciding right now: a participant
 * asking about one is told to wait, not that it was aborted, and a repeat of its call is
 * told it is still in flight. A fixed table, scanned by fingerprint. A node without the
 * protocol's state (a unit test driving dispatch) decides nothing. */
#include "xr_internal.h"
#include "gj_util.h"

#include <string.h>

/* FNV-1a over a, then a separator, then b (if any). */
static uint64_t fingerprint(const char *a, const char *b)
{
    uint64_t h = 14695981039346656037ULL;
    for (const unsigned char *p = (const unsigned char *)a; *p != '\0'; p++)
        h = (h ^ *p) * 1099511628211ULL;
    if (b != NULL) {
        h = (h ^ 0xffu) * 1099511628211ULL; /* no byte of a string: ("ab","c") != ("a","bc") */
        for (const unsigned char *p = (const unsigned char *)b; *p != '\0'; p++)
            h = (h ^ *p) * 1099511628211ULL;
    }
    return h;
}

/* The slot deciding setl_id, or -1. Call with deciding_mu held. */
static int deciding_find(deciding_set *set, const char *setl_id)
{
    uint64_t fp = fingerprint(setl_id, NULL);
    for (uint32_t i = 0; i < set->top; i++)
        if (set->slots[i].setl_fp == fp && set->slots[i].setl_id[0] != '\0' &&
            strcmp(set->slots[i].setl_id, setl_id) == 0)
            return (int)i;
    return -1;
}

bool deciding_add(node *n, const char *setl_id, const char *caller_id, const char *call_id)
{
    deciding_set *set = n->xr != NULL ? &n->xr->deciding : NULL;
    if (set == NULL)
        return false;
    bool added = false;
    pthread_mutex_lock(&set->mu);
    for (uint32_t i = 0; i < GJ_DECIDING_MAX && !added; i++)
        if (set->slots[i].setl_id[0] == '\0') {
            gj_strcpy_fit(set->slots[i].setl_id, sizeof set->slots[i].setl_id, setl_id);
            gj_strcpy_fit(set->slots[i].caller_id, sizeof set->slots[i].caller_id, caller_id);
            gj_strcpy_fit(set->slots[i].call_id, sizeof set->slots[i].call_id, call_id);
            set->slots[i].unknown = false;
            set->slots[i].setl_fp = fingerprint(set->slots[i].setl_id, NULL);
            set->slots[i].call_fp = fingerprint(set->slots[i].caller_id, set->slots[i].call_id);
            if (i >= set->top)
                set->top = i + 1;
            added = true;
        }
    pthread_mutex_unlock(&set->mu);
    return added;
}

void deciding_remove(node *n, const char *setl_id)
{
    deciding_set *set = n->xr != NULL ? &n->xr->deciding : NULL;
    if (set == NULL)
        return;
    pthread_mutex_lock(&set->mu);
    int i;
    while ((i = deciding_find(set, setl_id)) >= 0) {
        set->slots[i].setl_id[0] = '\0';
        set->slots[i].unknown = false;
        set->slots[i].setl_fp = set->slots[i].call_fp = 0;
    }
    while (set->top > 0 && set->slots[set->top - 1].setl_id[0] == '\0')
        set->top--;
    pthread_mutex_unlock(&set->mu);
}

bool deciding_has(node *n, const char *setl_id)
{
    deciding_set *set = n->xr != NULL ? &n->xr->deciding : NULL;
    if (set == NULL)
        return false;
    pthread_mutex_lock(&set->mu);
    bool found = deciding_find(set, setl_id) >= 0;
    pthread_mutex_unlock(&set->mu);
    return found;
}

bool deciding_has_other_call(node *n, const char *caller_id, const char *call_id,
                                  const char *setl_id)
{
    deciding_set *set = n->xr != NULL ? &n->xr->deciding : NULL;
    if (set == NULL)
        return false;
    bool found = false;
    uint64_t fp = fingerprint(caller_id, call_id);
    pthread_mutex_lock(&set->mu);
    for (uint32_t i = 0; i < set->top && !found; i++)
        found = set->slots[i].call_fp == fp && set->slots[i].setl_id[0] != '\0' &&
                (setl_id == NULL || strcmp(set->slots[i].setl_id, setl_id) != 0) &&
                strcmp(set->slots[i].caller_id, caller_id) == 0 &&
                strcmp(set->slots[i].call_id, call_id) == 0;
    pthread_mutex_unlock(&set->mu);
    return found;
}

bool deciding_has_call(node *n, const char *caller_id, const char *call_id)
{
    return deciding_has_other_call(n, caller_id, call_id, NULL);
}

bool deciding_mark_unknown(node *n, const char *setl_id, const char *caller_id, const char *call_id)
{
    deciding_set *set = n->xr != NULL ? &n->xr->deciding : NULL;
    if (set == NULL)
        return false;
    pthread_mutex_lock(&set->mu);
    int i = deciding_find(set, setl_id);
    if (i >= 0)
        set->slots[i].unknown = true;
    pthread_mutex_unlock(&set->mu);
    if (i < 0 && deciding_add(n, setl_id, caller_id, call_id))
        return deciding_mark_unknown(n, setl_id, caller_id, call_id);
    return i >= 0;
}

uint32_t deciding_unknown_count(node *n)
{
    deciding_set *set = n->xr != NULL ? &n->xr->deciding : NULL;
    if (set == NULL)
        return 0;
    uint32_t count = 0;
    pthread_mutex_lock(&set->mu);
    for (uint32_t i = 0; i < set->top; i++)
        count += set->slots[i].setl_id[0] != '\0' && set->slots[i].unknown;
    pthread_mutex_unlock(&set->mu);
    return count;
}

bool deciding_is_unknown(node *n, const char *setl_id)
{
    deciding_set *set = n->xr != NULL ? &n->xr->deciding : NULL;
    if (set == NULL)
        return false;
    bool unknown = false;
    uint64_t fp = fingerprint(setl_id, NULL);
    pthread_mutex_lock(&set->mu);
    for (uint32_t i = 0; i < set->top && !unknown; i++)
        unknown = set->slots[i].unknown && set->slots[i].setl_fp == fp &&
                  set->slots[i].setl_id[0] != '\0' && strcmp(set->slots[i].setl_id, setl_id) == 0;
    pthread_mutex_unlock(&set->mu);
    return unknown;
}
