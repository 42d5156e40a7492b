/* The duplicate detector: open addressing (linear probing) over 8-byte slots, each a key's
 * 32-bit hash and where its entry is; the entries (length, key, line) packed one after
 * another in 1 MiB blocks. A certno costs 23 bytes of entry and 11 to 21 of slots, and
 * growing never copies the keys: only the slots are rehashed, from the hashes they keep. */
#include "import.h"
#include "import_private.h"

#include <stdlib.h>
#include <string.h>

#define BLOCK_SIZE (1u << 20)
#define BLOCKS_MAX 4096 /* 4 GiB of entries: what 32-bit offsets reach */
#define ENTRY_MAX (1 + IMP_DUP_KEY_MAX + 4)
#define SLOTS_FIRST 1024

_Static_assert((unsigned long long)IMP_DUPS_CAP *ENTRY_MAX <
                   (unsigned long long)BLOCKS_MAX * BLOCK_SIZE - BLOCK_SIZE,
               "IMP_DUPS_CAP entries must fit the blocks 32-bit offsets reach");

typedef struct {
    uint32_t hash;
    uint32_t at; /* entry offset + 1; 0: the slot is empty */
} slot;

struct imp_dups {
    slot *slots;
    size_t mask; /* slots - 1, slots a power of two */
    size_t count, max;
    unsigned char *blocks[BLOCKS_MAX];
    size_t nblocks, used; /* bytes used in the last block */
    char err[128];
};

/* FNV-1a, then a 64-bit finalizer so the low bits (the slot) depend on every byte. */
static uint32_t hash_of(const char *key, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)key[i]) * 0x100000001b3ull;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return (uint32_t)h;
}

static const unsigned char *entry_at(const imp_dups *d, uint32_t at)
{
    size_t off = (size_t)at - 1;
    return d->blocks[off / BLOCK_SIZE] + off % BLOCK_SIZE;
}

imp_dups *imp_dups_open(size_t max_entries)
{
    if (max_entries == 0 || max_entries > IMP_DUPS_CAP)
        return NULL;
    imp_dups *d = calloc(1, sizeof *d);
    if (d == NULL || (d->slots = calloc(SLOTS_FIRST, sizeof(slot))) == NULL) {
        free(d);
        return NULL;
    }
    d->mask = SLOTS_FIRST - 1;
    d->max = max_entries;
    return d;
}

/* The first empty slot for hash h. */
static size_t free_slot(const imp_dups *d, uint32_t h)
{
    size_t i = h & d->mask;
    while (d->slots[i].at != 0)
        i = (i + 1) & d->mask;
    return i;
}

/* Twice the slots, filled again from the hashes they hold. */
static bool grow(imp_dups *d)
{
    size_t n = d->mask + 1;
    slot *old = d->slots;
    slot *fresh = calloc(2 * n, sizeof(slot));
    if (fresh == NULL)
        return false;
    d->slots = fresh;
    d->mask = 2 * n - 1;
    for (size_t i = 0; i < n; i++)
        if (old[i].at != 0)
            d->slots[free_slot(d, old[i].hash)] = old[i];
    free(old);
    return true;
}

/* Room for an entry of size bytes: its offset + 1, 0 when memory is short. */
static uint32_t place(imp_dups *d, size_t size)
{
    if (d->nblocks == 0 || d->used + size > BLOCK_SIZE) {
        if (d->nblocks == BLOCKS_MAX || (d->blocks[d->nblocks] = malloc(BLOCK_SIZE)) == NULL)
            return 0;
        d->nblocks++;
        d->used = 0; /* the end of the last block is left: entries never straddle two */
    }
    size_t off = (d->nblocks - 1) * (size_t)BLOCK_SIZE + d->used;
    d->used += size;
    return (uint32_t)(off + 1);
}

int imp_dups_add(imp_dups *d, const char *key, long line, long *first_line)
{
    size_t len = strlen(key);
    if (len == 0 || len > IMP_DUP_KEY_MAX) {
        imp_errf(d->err, sizeof d->err, "a key of %zu bytes: keys have 1 to %d", len, IMP_DUP_KEY_MAX);
        return -1;
    }
    if (line < 1 || (unsigned long)line > UINT32_MAX) {
        imp_errf(d->err, sizeof d->err, "line %ld is out of range (1 to %lu)", line,
                 (unsigned long)UINT32_MAX);
        return -1;
    }
    uint32_t h = hash_of(key, len);
    for (size_t i = h & d->mask; d->slots[i].at != 0; i = (i + 1) & d->mask) {
        if (d->slots[i].hash != h)
            continue;
        const unsigned char *e = entry_at(d, d->slots[i].at);
        if (e[0] == len && memcmp(e + 1, key, len) == 0) {
            uint32_t seen;
            memcpy(&seen, e + 1 + len, sizeof seen);
            if (first_line != NULL)
                *first_line = (long)seen;
            return 1;
        }
    }
    if (d->count >= d->max) {
        imp_errf(d->err, sizeof d->err, "more than %zu keys", d->max);
        return -1;
    }
    /* At most three quarters full keeps probes short. */
    uint32_t at = 0;
    if (((d->count + 1) * 4 > (d->mask + 1) * 3 && !grow(d)) || (at = place(d, 1 + len + 4)) == 0) {
        imp_errf(d->err, sizeof d->err, "out of memory after %zu keys", d->count);
        return -1;
    }
    unsigned char *e = (unsigned char *)entry_at(d, at);
    uint32_t seen = (uint32_t)line;
    e[0] = (unsigned char)len;
    memcpy(e + 1, key, len);
    memcpy(e + 1 + len, &seen, sizeof seen);
    d->slots[free_slot(d, h)] = (slot){h, at};
    d->count++;
    return 0;
}

size_t imp_dups_count(const imp_dups *d)
{
    return d->count;
}

const char *imp_dups_error(const imp_dups *d)
{
    return d->err;
}

void imp_dups_close(imp_dups *d)
{
    if (d == NULL)
        return;
    for (size_t i = 0; i < d->nblocks; i++)
        free(d->blocks[i]);
    free(d->slots);
    free(d);
}
