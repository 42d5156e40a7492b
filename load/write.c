/* gongji-load and the store: a batch of rows written in one transaction together with
 * its progress record, reading the progress back to resume, and what names a file's
 * progress (its tag and fingerprint). */
#include "gj_limits.h"
#include "load.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* 64-bit FNV-1a, continuing from h (FNV_OFFSET to start). */
static uint64_t fnv1a(uint64_t h, const void *data, size_t len)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 1099511628211ULL;
    return h;
}
#define FNV_OFFSET 1469598103934665603ULL

/* The loader keeps its file's 64-bit fingerprint in the digest of its progress records
 * (the rest zero): it is the operator's own resume check, not a caller's request. */
static store_digest digest_of_fingerprint(uint64_t fingerprint)
{
    store_digest d = {{0}};
    for (int i = 0; i < 8; i++)
        d.bytes[i] = (uint8_t)(fingerprint >> (56 - 8 * i));
    d.bytes[8] = 1; /* never all zero: that is a tombstone's */
    return d;
}

static uint64_t fingerprint_of_digest(const store_digest *d)
{
    uint64_t fingerprint = 0;
    for (int i = 0; i < 8; i++)
        fingerprint = fingerprint << 8 | d->bytes[i];
    return fingerprint;
}

/* One batch, on the writer thread, inside one write transaction. */
gj_err load_apply(store_txn *txn, void *arg)
{
    load_batch *b = arg;
    gj_err err;
    b->loaded = b->present = b->conflicts = 0;
    for (size_t i = 0; i < b->count; i++) {
        load_row *r = &b->rows[i];
        store_person old;
        err = store_person_get(txn, r->person.psn_no, &old);
        if (err == GJ_OK) {
            /* Already there (a re-read line or a duplicate): never enrol or credit twice. */
            if (strcmp(old.certno, r->person.certno) == 0) {
                r->outcome = ROW_PRESENT;
                b->present++;
            } else {
                r->outcome = ROW_CONFLICT;
                b->conflicts++;
            }
            continue;
        }
        if (err != GJ_ERR_NOTFOUND)
            return err;
        r->person.updated_unix_ms = b->now_ms;
        if ((err = store_person_put(txn, &r->person)) != GJ_OK)
            return err;
        if (strcmp(r->person.insutype, "310") == 0) {
            if ((err = store_account_ensure(txn, r->person.psn_no)) != GJ_OK)
                return err;
            if (r->balance > 0) {
                store_journal_entry e = {.unix_ms = b->now_ms, .kind = STORE_J_CREDIT,
                                         .amount = r->balance};
                memcpy(e.psn_no, r->person.psn_no, sizeof e.psn_no);
                memcpy(e.caller_id, LOAD_CALLER, sizeof LOAD_CALLER);
                snprintf(e.call_id, sizeof e.call_id, "%s:%" PRIu64, b->tag, r->line);
                if ((err = store_account_move(txn, &e, NULL)) != GJ_OK)
                    return err;
            }
        }
        r->outcome = ROW_LOADED;
        b->loaded++;
    }
    char call_id[GJ_CALL_ID_MAX + 1], text[48];
    snprintf(call_id, sizeof call_id, "%s#%" PRIu64, b->tag, b->record_no);
    int n = snprintf(text, sizeof text, "%" PRIu64 " %" PRIu64, b->last_line,
                     b->bad_before + b->conflicts);
    store_digest d = digest_of_fingerprint(b->fingerprint);
    return store_idem_put(txn, LOAD_CALLER, call_id, &d, text, (size_t)n);
}

/* The progress record k of tag: GJ_OK with its line and bad count, NOTFOUND, or an error. */
static gj_err progress_get(store_txn *txn, const char *tag, uint64_t k, uint64_t *fingerprint,
                           uint64_t *line, uint64_t *bad)
{
    char call_id[GJ_CALL_ID_MAX + 1], text[48];
    const void *reply;
    size_t len;
    snprintf(call_id, sizeof call_id, "%s#%" PRIu64, tag, k);
    store_digest d;
    gj_err err = store_idem_get(txn, LOAD_CALLER, call_id, &d, &reply, &len);
    if (err == GJ_OK)
        *fingerprint = fingerprint_of_digest(&d);
    if (err != GJ_OK)
        return err;
    if (len == 0 || len >= sizeof text)
        return GJ_ERR_CORRUPT;
    memcpy(text, reply, len);
    text[len] = '\0';
    char *end;
    errno = 0;
    *line = strtoull(text, &end, 10);
    *bad = *end == ' ' ? strtoull(end + 1, &end, 10) : 0;
    return errno != 0 || *end != '\0' ? GJ_ERR_CORRUPT : GJ_OK;
}

/* Records 1..K exist with no gap: find K by doubling then bisecting. */
gj_err load_progress_last(store *s, const char *tag, uint64_t *count, uint64_t *fingerprint,
                          uint64_t *line, uint64_t *bad)
{
    store_txn *txn;
    gj_err err = store_read_begin(s, &txn);
    if (err != GJ_OK)
        return err;
    uint64_t lo = 0, hi = 1, f, l, b; /* record lo exists (0: trivially), hi is unknown */
    *count = 0;
    while ((err = progress_get(txn, tag, hi, &f, &l, &b)) == GJ_OK) {
        lo = hi;
        if (hi > UINT64_MAX / 2) {
            err = GJ_ERR_CORRUPT;
            goto out;
        }
        hi *= 2;
    }
    if (err != GJ_ERR_NOTFOUND)
        goto out;
    while (hi - lo > 1) { /* lo exists, hi does not */
        uint64_t mid = lo + (hi - lo) / 2;
        err = progress_get(txn, tag, mid, &f, &l, &b);
        if (err == GJ_OK)
            lo = mid;
        else if (err == GJ_ERR_NOTFOUND)
            hi = mid;
        else
            goto out;
    }
    err = GJ_OK;
    if (lo > 0)
        err = progress_get(txn, tag, lo, fingerprint, line, bad);
    *count = lo;
out:
    store_read_end(txn);
    return err;
}

/* The tag: the file's base name, shortened or cleaned when need be, and its size. */
void load_file_tag(const char *path, uint64_t size, char out[LOAD_TAG_MAX + 1])
{
    const char *base = strrchr(path, '/');
    base = base != NULL ? base + 1 : path;
    char size_text[24];
    int slen = snprintf(size_text, sizeof size_text, "%" PRIu64, size);
    size_t blen = strlen(base), room = LOAD_TAG_MAX - 1 - (size_t)slen;
    bool changed = false;
    char clean[LOAD_TAG_MAX + 1];
    size_t n = 0;
    for (size_t i = 0; i < blen; i++) {
        unsigned char c = (unsigned char)base[i];
        bool ok = c > 0x20 && c < 0x7f && c != ':' && c != '#';
        changed |= !ok;
        if (n < room)
            clean[n++] = ok ? (char)c : '_';
    }
    if (changed || blen > room) {
        n = n > room - 9 ? room - 9 : n;
        n += (size_t)snprintf(clean + n, sizeof clean - n, "~%08x",
                              (unsigned)(fnv1a(FNV_OFFSET, base, blen) & 0xffffffffu));
    }
    clean[n++] = ':';
    memcpy(clean + n, size_text, (size_t)slen + 1); /* n + 1 + slen <= LOAD_TAG_MAX */
    memcpy(out, clean, n + (size_t)slen + 1);
}

int load_file_fingerprint(int fd, uint64_t size, uint64_t *out)
{
    static char buf[LOAD_FINGERPRINT_BYTES];
    size_t have = 0;
    while (have < sizeof buf) {
        ssize_t got = pread(fd, buf + have, sizeof buf - have, (off_t)have);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            return -1;
        if (got == 0)
            break;
        have += (size_t)got;
    }
    *out = fnv1a(fnv1a(FNV_OFFSET, &size, sizeof size), buf, have);
    return 0;
}

