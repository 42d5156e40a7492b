/* Files the gateway keeps for a while (national 9101 upload, 9102 download): an
 * institution's statement detail uploaded for 3202, and the result 3202 writes. Kept in
 * memory, bounded in count and bytes, each readable only by the institution that owns
 * it and only until its download deadline. A restart forgets them: the HIS uploads
 * again, as it would after the platform's deadline. */
#ifndef GW_FILES_H
#define GW_FILES_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "envelope.h"
#include "gj_limits.h"

#define GW_FILE_ID_LEN 30  /* file_qury_no (30 characters, as the national field): 120 random bits in hex */
#define GW_FILE_NAME_MAX 100

typedef struct gw_file {
    char id[GW_FILE_ID_LEN + 1];  /* "" = free slot */
    char owner[GJ_INSTITUTION_MAX + 1];
    char name[GW_FILE_NAME_MAX + 1];
    unsigned char *data;
    size_t len;
    int64_t expires_unix;
} gw_file;

typedef struct gw_files {
    pthread_mutex_t mu;
    gw_file *slots;
    unsigned count;      /* slots */
    size_t bytes, bytes_max;
    unsigned ttl_s;
} gw_files;

int gw_files_init(gw_files *f, unsigned count, size_t bytes_max, unsigned ttl_s);
void gw_files_fini(gw_files *f);

/* Keep data[len] (taken: freed here on failure too) for owner under a new id. 0 with
 * id and the deadline (Unix seconds); -1 with why when there is no room
 * (RESOURCE_EXHAUSTED: after dropping every expired file). */
int gw_files_put(gw_files *f, const char *owner, const char *name, unsigned char *data, size_t len,
                 int64_t now_unix, char id[GW_FILE_ID_LEN + 1], int64_t *expires_unix, gw_failure *why);

/* A copy of owner's file id (malloc'd) and its name; -1 with why (NOT_FOUND) when no
 * such file, another institution's, or past its deadline. */
int gw_files_get(gw_files *f, const char *owner, const char *id, int64_t now_unix, unsigned char **data,
                 size_t *len, char name[GW_FILE_NAME_MAX + 1], gw_failure *why);

#endif
