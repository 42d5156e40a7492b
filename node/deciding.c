/* The set of cross-region settlements this process is deciding right now (node.h): a
 * participant asking about one is told to wait, not that it was aborted, and a repeat of
 * its call is told it is still in flight. A fixed table, scanned by fingerprint. */
#include "node.h"
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
static int deciding_find(node *n, const char *setl_id)
{
    uint64_t fp = fingerprint(setl_id, NULL);
    for (uint32_t i = 0; i < n->deciding_top; i++)
        if (n->deciding[i].setl_fp == fp && n->deciding[i].setl_id[0] != '\0' &&
            strcmp(n->deciding[i].setl_id, setl_id) == 0)
            return (int)i;
    return -1;
}

bool node_deciding_add(node *n, const char *setl_id, const char *caller_id, const char *call_id)
{
    bool added = false;
    pthread_mutex_lock(&n->deciding_mu);
    for (uint32_t i = 0; i < GJ_DECIDING_MAX && !added; i++)
        if (n->deciding[i].setl_id[0] == '\0') {
            gj_strcpy_fit(n->deciding[i].setl_id, sizeof n->deciding[i].setl_id, setl_id);
            gj_strcpy_fit(n->deciding[i].caller_id, sizeof n->deciding[i].caller_id, caller_id);
            gj_strcpy_fit(n->deciding[i].call_id, sizeof n->deciding[i].call_id, call_id);
            n->deciding[i].unknown = false;
            n->deciding[i].setl_fp = fingerprint(n->deciding[i].setl_id, NULL);
            n->deciding[i].call_fp = fingerprint(n->deciding[i].caller_id, n->deciding[i].call_id);
            if (i >= n->deciding_top)
                n->deciding_top = i + 1;
            added = true;
        }
    pthread_mutex_unlock(&n->deciding_mu);
    return added;
}

void node_deciding_remove(node *n, const char *setl_id)
{
    pthread_mutex_lock(&n->deciding_mu);
    int i;
    while ((i = deciding_find(n, setl_id)) >= 0) {
        n->deciding[i].setl_id[0] = '\0';
        n->deciding[i].unknown = false;
        n->deciding[i].setl_fp = n->deciding[i].call_fp = 0;
    }
    while (n->deciding_top > 0 && n->deciding[n->deciding_top - 1].setl_id[0] == '\0')
        n->deciding_top--;
    pthread_mutex_unlock(&n->deciding_mu);
}

bool node_deciding_has(node *n, const char *setl_id)
{
    pthread_mutex_lock(&n->deciding_mu);
    bool found = deciding_find(n, setl_id) >= 0;
    pthread_mutex_unlock(&n->deciding_mu);
    return found;
}

bool node_deciding_has_other_call(node *n, const char *caller_id, const char *call_id,
                                  const char *setl_id)
{
    bool found = false;
    uint64_t fp = fingerprint(caller_id, call_id);
    pthread_mutex_lock(&n->deciding_mu);
    for (uint32_t i = 0; i < n->deciding_top && !found; i++)
        found = n->deciding[i].call_fp == fp && n->deciding[i].setl_id[0] != '\0' &&
                (setl_id == NULL || strcmp(n->deciding[i].setl_id, setl_id) != 0) &&
                strcmp(n->deciding[i].caller_id, caller_id) == 0 &&
                strcmp(n->deciding[i].call_id, call_id) == 0;
    pthread_mutex_unlock(&n->deciding_mu);
    return found;
}

bool node_deciding_has_call(node *n, const char *caller_id, const char *call_id)
{
    return node_deciding_has_other_call(n, caller_id, call_id, NULL);
}

bool node_deciding_mark_unknown(node *n, const char *setl_id, const char *caller_id, const char *call_id)
{
    pthread_mutex_lock(&n->deciding_mu);
    int i = deciding_find(n, setl_id);
    if (i >= 0)
        n->deciding[i].unknown = true;
    pthread_mutex_unlock(&n->deciding_mu);
    if (i < 0 && node_deciding_add(n, setl_id, caller_id, call_id))
        return node_deciding_mark_unknown(n, setl_id, caller_id, call_id);
    return i >= 0;
}

uint32_t node_deciding_unknown_count(node *n)
{
    uint32_t count = 0;
    pthread_mutex_lock(&n->deciding_mu);
    for (uint32_t i = 0; i < n->deciding_top; i++)
        count += n->deciding[i].setl_id[0] != '\0' && n->deciding[i].unknown;
    pthread_mutex_unlock(&n->deciding_mu);
    return count;
}

bool node_deciding_is_unknown(node *n, const char *setl_id)
{
    bool unknown = false;
    uint64_t fp = fingerprint(setl_id, NULL);
    pthread_mutex_lock(&n->deciding_mu);
    for (uint32_t i = 0; i < n->deciding_top && !unknown; i++)
        unknown = n->deciding[i].unknown && n->deciding[i].setl_fp == fp &&
                  n->deciding[i].setl_id[0] != '\0' && strcmp(n->deciding[i].setl_id, setl_id) == 0;
    pthread_mutex_unlock(&n->deciding_mu);
    return unknown;
}
