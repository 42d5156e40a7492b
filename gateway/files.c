#include "files.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

int gw_files_init(gw_files *f, unsigned count, size_t bytes_max, unsigned ttl_s)
{
    memset(f, 0, sizeof *f);
    if ((f->slots = calloc(count, sizeof *f->slots)) == NULL)
        return -1;
    pthread_mutex_init(&f->mu, NULL);
    f->count = count;
    f->bytes_max = bytes_max;
    f->ttl_s = ttl_s;
    return 0;
}

static void drop(gw_files *f, gw_file *s)
{
    f->bytes -= s->len;
    free(s->data);
    memset(s, 0, sizeof *s);
}

void gw_files_fini(gw_files *f)
{
    if (f->slots == NULL)
        return;
    for (unsigned i = 0; i < f->count; i++)
        if (f->slots[i].id[0] != '\0')
            drop(f, &f->slots[i]);
    free(f->slots);
    pthread_mutex_destroy(&f->mu);
    f->slots = NULL;
}

int gw_files_put(gw_files *f, const char *owner, const char *name, unsigned char *data, size_t len,
                 int64_t now_unix, char id[GW_FILE_ID_LEN + 1], int64_t *expires_unix, gw_failure *why)
{
    unsigned char random[GW_FILE_ID_LEN / 2];
    if (getrandom(random, sizeof random, 0) != (ssize_t)sizeof random) {
        free(data);
        gw_fail(why, "INTERNAL", "NO_RANDOMNESS", "cannot make a file id");
        return -1;
    }
    for (size_t i = 0; i < sizeof random; i++)
        snprintf(id + 2 * i, 3, "%02x", random[i]);
    pthread_mutex_lock(&f->mu);
    gw_file *free_slot = NULL;
    for (unsigned i = 0; i < f->count; i++) {
        gw_file *s = &f->slots[i];
        if (s->id[0] != '\0' && s->expires_unix <= now_unix)
            drop(f, s);
        if (s->id[0] == '\0' && free_slot == NULL)
            free_slot = s;
    }
    if (free_slot == NULL || len > f->bytes_max - f->bytes) {
        size_t held = f->bytes;
        pthread_mutex_unlock(&f->mu);
        free(data);
        gw_fail(why, "RESOURCE_EXHAUSTED", "FILES_FULL",
                "the gateway holds %u files (%zu bytes) until their download deadlines; try again later", f->count,
                held);
        return -1;
    }
    snprintf(free_slot->id, sizeof free_slot->id, "%s", id);
    snprintf(free_slot->owner, sizeof free_slot->owner, "%s", owner);
    snprintf(free_slot->name, sizeof free_slot->name, "%s", name);
    free_slot->data = data;
    free_slot->len = len;
    free_slot->expires_unix = *expires_unix = now_unix + f->ttl_s;
    f->bytes += len;
    pthread_mutex_unlock(&f->mu);
    return 0;
}

int gw_files_get(gw_files *f, const char *owner, const char *id, int64_t now_unix, unsigned char **data,
                 size_t *len, char name[GW_FILE_NAME_MAX + 1], gw_failure *why)
{
    pthread_mutex_lock(&f->mu);
    for (unsigned i = 0; i < f->count; i++) {
        gw_file *s = &f->slots[i];
        if (s->id[0] == '\0' || strcmp(s->id, id) != 0)
            continue;
        if (s->expires_unix <= now_unix) {
            drop(f, s);
            break;
        }
        if (strcmp(s->owner, owner) != 0)
            break; /* said the same as "no such file": ids of others are not confirmed */
        unsigned char *copy = malloc(s->len ? s->len : 1);
        if (copy == NULL) {
            pthread_mutex_unlock(&f->mu);
            gw_fail(why, "RESOURCE_EXHAUSTED", "OUT_OF_MEMORY", "cannot copy the file");
            return -1;
        }
        memcpy(copy, s->data, s->len);
        *data = copy;
        *len = s->len;
        snprintf(name, GW_FILE_NAME_MAX + 1, "%s", s->name);
        pthread_mutex_unlock(&f->mu);
        return 0;
    }
    pthread_mutex_unlock(&f->mu);
    gw_fail(why, "NOT_FOUND", "FILE_NOT_FOUND",
            "no file %.32s of this institution: the id is wrong, or its download deadline passed", id);
    return -1;
}
