/* gongji-load: bulk-load one region's persons and opening balances from CSV straight
 * into a stopped node's LMDB store, or generate such a CSV for tests and benchmarks.
 *
 * Each batch of rows is one store_submit_wait(), so one LMDB transaction: the persons,
 * their accounts, a STORE_J_CREDIT journal entry per opening balance, and a progress
 * record saying how far into the file that transaction reaches. A crash loses at most
 * the batch in flight, and the next run resumes after the last committed line. A
 * person already in the store is left as it is and never credited again, so reading a
 * line twice (after --restart, or a duplicate in the file) changes nothing either.
 *
 * Progress records are idempotency records of caller "gongji-load", one per committed
 * batch: call id "<file tag>#<k>" for k = 1, 2, 3, ... (store_idem_put never
 * overwrites, so each batch adds the next one), request hash = a fingerprint of the
 * file, reply = "<last line> <bad rows so far>" as text. The file tag is the file's
 * base name and size. */
#include "gj_limits.h"
#include "gj_util.h"
#include "rules.h"
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define LOAD_CALLER "gongji-load"
#define LOAD_HEADER "psn_no,certno,psn_name,insutype,status,balance"
#define LOAD_FIELDS 6
#define LOAD_LINE_MAX 1024             /* bytes of a line, without its line end */
#define LOAD_BATCH_DEFAULT 10000
#define LOAD_BATCH_MAX 100000          /* keeps one transaction well inside LMDB's dirty-page limit */
#define LOAD_READ_BUF (1u << 20)
#define LOAD_TAG_MAX 40                /* leaves room for "#<k>" and ":<line>" in a call id */
#define LOAD_FINGERPRINT_BYTES 65536
#define LOAD_BAR_INTERVAL_MS 200
#define GEN_SERIAL_MAX 9999999999ULL  /* psn_no = region + 10-digit serial */

enum { EXIT_LOADED = 0, EXIT_BAD_ROWS = 1, EXIT_USAGE = 2 };

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: gongji-load --data-dir DIR --region CODE [--batch N] [--restart] [--quiet] FILE.csv\n"
            "       gongji-load --generate N --region CODE [--seed S] > FILE.csv\n"
            "\n"
            "Load a region's insured persons and their personal-account opening balances from\n"
            "CSV into the LMDB store in DIR (the data_dir of that region's node), or write N\n"
            "valid rows of made-up people for tests.\n"
            "\n"
            "STOP THE NODE FIRST. The store's writer is per process: run the loader only while\n"
            "no gongji-node (and no other loader) has DIR open. LMDB would let both in, but the\n"
            "node does not expect its data to change under it.\n"
            "\n"
            "  -d, --data-dir DIR   the node's data directory (created when absent)\n"
            "  -r, --region CODE    6-digit region code: every person is insured here\n"
            "  -b, --batch N        rows per transaction, 1..%d (default %d)\n"
            "      --restart        ignore recorded progress and read the whole file again\n"
            "  -q, --quiet          print bad rows only: no progress, no summary\n"
            "  -g, --generate N     write a header and N valid rows to standard output\n"
            "  -s, --seed S         seed for --generate (default 1); same seed, same rows\n"
            "  -h, --help           show this help\n"
            "  -V, --version        show the version\n"
            "\n"
            "CSV: UTF-8, one person per line, the header line first, exactly:\n"
            "  " LOAD_HEADER "\n"
            "  psn_no     1..%d visible ASCII characters\n"
            "  certno     18-character resident ID with a valid check character (GB 11643)\n"
            "  psn_name   optional, at most %d bytes of UTF-8\n"
            "  insutype   310 (employee, has a personal account) or 390 (resident, none)\n"
            "  status     active, suspended or terminated (or 1, 2, 3)\n"
            "  balance    opening balance in yuan, at most two decimals (\"1234.50\"); only for\n"
            "             310; empty or 0 for 390\n"
            "Fields are split at every comma: quoted fields are not supported, so no field may\n"
            "contain a comma or a double quote. Spaces around a field are ignored, as are empty\n"
            "lines and a byte-order mark. Lines longer than %d bytes are bad rows.\n"
            "\n"
            "A bad row is reported on standard error as FILE:LINE: reason and skipped; the\n"
            "good rows still load. A person already in the store is left unchanged and not\n"
            "credited again (one with another certno is a bad row). Progress is recorded with\n"
            "each batch under the file's name and size: after a crash or kill, run the same\n"
            "command again and it resumes after the last committed line.\n"
            "\n"
            "On a terminal, standard error shows a progress bar; otherwise one summary line.\n"
            "Exit status: 0 every row loaded (or already present), 1 some rows were bad,\n"
            "2 usage error, cannot open the file or the store, or the store refused a write.\n",
            LOAD_BATCH_MAX, LOAD_BATCH_DEFAULT, GJ_PSN_NO_MAX, GJ_NAME_MAX, LOAD_LINE_MAX);
}

/* ---- small helpers ---- */

static uint64_t fnv1a(uint64_t h, const void *data, size_t len)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 1099511628211ULL;
    return h;
}
#define FNV_OFFSET 1469598103934665603ULL

static bool parse_u64(const char *text, uint64_t max, uint64_t *out)
{
    if (text == NULL || *text < '0' || *text > '9')
        return false;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno != 0 || *end != '\0' || v > max)
        return false;
    *out = v;
    return true;
}

static bool region_valid(const char *region)
{
    return region != NULL && strlen(region) == GJ_ADMDVS_LEN && gj_all_digits(region, GJ_ADMDVS_LEN);
}

static int mkdir_p(const char *path)
{
    char buf[4096];
    if (!gj_strcpy_fit(buf, sizeof buf, path) || buf[0] == '\0')
        return -1;
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0750) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return mkdir(buf, 0750) != 0 && errno != EEXIST ? -1 : 0;
}

/* Strict UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF) without control
 * characters. */
static bool utf8_text_ok(const unsigned char *s)
{
    while (*s) {
        unsigned c = *s;
        if (c < 0x80) {
            if (c < 0x20 || c == 0x7f)
                return false;
            s++;
            continue;
        }
        int n;
        unsigned min, cp;
        if (c >= 0xc2 && c <= 0xdf)
            n = 1, min = 0x80, cp = c & 0x1f;
        else if (c >= 0xe0 && c <= 0xef)
            n = 2, min = 0x800, cp = c & 0x0f;
        else if (c >= 0xf0 && c <= 0xf4)
            n = 3, min = 0x10000, cp = c & 0x07;
        else
            return false;
        for (int i = 1; i <= n; i++) {
            if ((s[i] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        s += n + 1;
    }
    return true;
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = '\0';
    return s;
}

/* Split line at every comma into at most max fields; returns how many there were
 * (possibly more than max: the rest are not stored). */
static size_t split_fields(char *line, char **fields, size_t max)
{
    size_t n = 0;
    for (char *p = line;;) {
        char *comma = strchr(p, ',');
        if (comma != NULL)
            *comma = '\0';
        if (n < max)
            fields[n] = trim(p);
        n++;
        if (comma == NULL)
            return n;
        p = comma + 1;
    }
}

/* ---- reading lines ---- */

typedef struct reader {
    int fd;
    char *buf;         /* LOAD_READ_BUF + 1 bytes: room for a terminating NUL */
    size_t pos, len;
    bool eof;
    uint64_t consumed; /* bytes of the lines returned so far, line ends included */
    uint64_t line;     /* number of the last line returned (1 = the header) */
} reader;

/* The next line, without its line end, NUL-terminated in place (valid until the next
 * call). *too_long when it had more than LOAD_LINE_MAX bytes: then *out is NULL and
 * the line has been skipped. Returns 0 at a line, 1 at end of file, -1 on a read
 * error (errno set). */
static int reader_next(reader *r, char **out, size_t *out_len, bool *too_long)
{
    bool skipping = false; /* the line so far was too long and has been dropped */
    *too_long = false;
    *out = NULL;
    *out_len = 0;
    for (;;) {
        char *start = r->buf + r->pos;
        char *nl = memchr(start, '\n', r->len - r->pos);
        if (nl != NULL || (r->eof && r->pos < r->len)) {
            size_t n = nl != NULL ? (size_t)(nl - start) : r->len - r->pos;
            r->pos += n + (nl != NULL);
            r->consumed += n + (nl != NULL);
            r->line++;
            if (n > 0 && start[n - 1] == '\r')
                n--;
            if (skipping || n > LOAD_LINE_MAX) {
                *too_long = true;
                return 0;
            }
            start[n] = '\0'; /* over the line end, or the spare byte after the buffer */
            *out = start;
            *out_len = n;
            return 0;
        }
        if (r->eof) {
            if (!skipping)
                return 1;
            r->line++; /* a last, too long line without a line end */
            *too_long = true;
            return 0;
        }
        /* No whole line in the buffer: keep the partial line, or drop it once it is
         * too long to matter, and read more. */
        if (skipping || r->len - r->pos > LOAD_LINE_MAX + 1) {
            r->consumed += r->len - r->pos;
            r->pos = r->len;
            skipping = true;
        }
        if (r->pos > 0) {
            memmove(r->buf, r->buf + r->pos, r->len - r->pos);
            r->len -= r->pos;
            r->pos = 0;
        }
        ssize_t got;
        do
            got = read(r->fd, r->buf + r->len, LOAD_READ_BUF - r->len);
        while (got < 0 && errno == EINTR);
        if (got < 0)
            return -1;
        if (got == 0)
            r->eof = true;
        r->len += (size_t)got;
    }
}

/* ---- the load ---- */

enum row_outcome { ROW_LOADED = 1, ROW_PRESENT = 2, ROW_CONFLICT = 3 };

typedef struct load_row {
    uint64_t line;
    store_person person;
    int64_t balance; /* fen */
    uint8_t outcome; /* row_outcome, set by load_apply */
} load_row;

typedef struct load_batch {
    load_row *rows;
    size_t count;
    int64_t now_ms;
    const char *tag;
    uint64_t fingerprint;
    uint64_t record_no;  /* k of this batch's progress record */
    uint64_t last_line;  /* the batch covers the file up to and including this line */
    uint64_t bad_before; /* bad rows up to last_line, not counting this batch's conflicts */
    /* out */
    size_t loaded, present, conflicts;
} load_batch;

/* One batch, on the writer thread, inside one write transaction. */
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

static gj_err load_apply(store_txn *txn, void *arg)
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

/* The newest progress record of tag. Records 1..K exist with no gap; find K by
 * doubling then bisecting. *count = K (0: none). */
static gj_err progress_last(store *s, const char *tag, uint64_t *count, uint64_t *fingerprint,
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

/* "<base name>:<size>", made of visible ASCII without ':' or '#', at most
 * LOAD_TAG_MAX characters; a long or unusual name is shortened and given a hash. */
static void file_tag(const char *path, uint64_t size, char out[LOAD_TAG_MAX + 1])
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

/* Hash of the file's size and first bytes, so a different file under the same name and
 * size does not resume another's progress. */
static int file_fingerprint(int fd, uint64_t size, uint64_t *out)
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

typedef struct loader {
    const char *path;
    const char *region;
    bool quiet, bar;
    uint64_t file_size;
    int64_t started_ms, bar_drawn_ms;
    bool bar_visible;
    uint64_t start_bytes;               /* where this run began reading (after a resume) */
    uint64_t rows_read, loaded, present, bad;
} loader;

static void bar_clear(loader *ld)
{
    if (ld->bar_visible) {
        fputs("\r\033[K", stderr);
        ld->bar_visible = false;
    }
}

static void bad_row(loader *ld, uint64_t line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void bad_row(loader *ld, uint64_t line, const char *fmt, ...)
{
    bar_clear(ld);
    fprintf(stderr, "%s:%" PRIu64 ": ", ld->path, line);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    ld->bad++;
}

static void bar_draw(loader *ld, const reader *r, bool force)
{
    int64_t now = gj_mono_ms();
    if (!ld->bar || (!force && now - ld->bar_drawn_ms < LOAD_BAR_INTERVAL_MS))
        return;
    ld->bar_drawn_ms = now;
    double secs = (double)(now - ld->started_ms) / 1000.0;
    double frac = ld->file_size > 0 ? (double)r->consumed / (double)ld->file_size : 1.0;
    if (frac > 1.0)
        frac = 1.0;
    double rate = secs > 0 ? (double)ld->rows_read / secs : 0;
    double byte_rate = secs > 0 ? (double)(r->consumed - ld->start_bytes) / secs : 0;
    char eta[32] = "--:--";
    if (byte_rate > 0) {
        double left = (double)(ld->file_size > r->consumed ? ld->file_size - r->consumed : 0) / byte_rate;
        unsigned long t = (unsigned long)(left + 0.5);
        snprintf(eta, sizeof eta, "%lu:%02lu:%02lu", t / 3600, t / 60 % 60, t % 60);
    }
    char bar[31];
    int filled = (int)(frac * 30);
    for (int i = 0; i < 30; i++)
        bar[i] = i < filled ? '#' : '.';
    bar[30] = '\0';
    fprintf(stderr, "\r[%s] %5.1f%%  %" PRIu64 " rows  %.0f rows/s  ETA %s  bad %" PRIu64 "\033[K",
            bar, frac * 100, ld->rows_read, rate, eta, ld->bad);
    ld->bar_visible = true;
}

/* Parse one data line into row; false (reported) when it is a bad row. */
static bool parse_row(loader *ld, uint64_t line_no, char *line, size_t len, load_row *row)
{
    if (memchr(line, '\0', len) != NULL) {
        bad_row(ld, line_no, "contains a NUL byte");
        return false;
    }
    if (strchr(line, '"') != NULL) {
        bad_row(ld, line_no, "quoted fields are not supported (no field may contain '\"' or ',')");
        return false;
    }
    char *f[LOAD_FIELDS];
    size_t n = split_fields(line, f, LOAD_FIELDS);
    if (n != LOAD_FIELDS) {
        bad_row(ld, line_no, "expected %d fields (%s), found %zu", LOAD_FIELDS, LOAD_HEADER, n);
        return false;
    }
    memset(row, 0, sizeof *row);
    row->line = line_no;
    store_person *p = &row->person;
    size_t plen = strlen(f[0]);
    bool visible = plen > 0;
    for (size_t i = 0; i < plen && visible; i++)
        visible = f[0][i] > 0x20 && f[0][i] < 0x7f;
    if (!visible || !gj_strcpy_fit(p->psn_no, sizeof p->psn_no, f[0])) {
        bad_row(ld, line_no, "FIELD_INVALID: psn_no must be 1..%d visible ASCII characters", GJ_PSN_NO_MAX);
        return false;
    }
    if (!gj_strcpy_fit(p->certno, sizeof p->certno, f[1])) {
        bad_row(ld, line_no, "CERTNO_INVALID: %s", gj_reason_message(GJ_R_CERTNO_INVALID));
        return false;
    }
    if (strlen(p->certno) == GJ_CERTNO_LEN && p->certno[17] == 'x')
        p->certno[17] = 'X'; /* one spelling per person, as Enroll stores it */
    if (!utf8_text_ok((const unsigned char *)f[2]) || !gj_strcpy_fit(p->name, sizeof p->name, f[2])) {
        bad_row(ld, line_no, "FIELD_INVALID: psn_name must be UTF-8 text of at most %d bytes", GJ_NAME_MAX);
        return false;
    }
    if (!gj_strcpy_fit(p->insutype, sizeof p->insutype, f[3])) {
        bad_row(ld, line_no, "INSUTYPE_INVALID: %s", gj_reason_message(GJ_R_INSUTYPE_INVALID));
        return false;
    }
    const char *st = f[4];
    if (strcasecmp(st, "active") == 0 || strcmp(st, "1") == 0)
        p->status = STORE_PERSON_ACTIVE;
    else if (strcasecmp(st, "suspended") == 0 || strcmp(st, "2") == 0)
        p->status = STORE_PERSON_SUSPENDED;
    else if (strcasecmp(st, "terminated") == 0 || strcmp(st, "3") == 0)
        p->status = STORE_PERSON_TERMINATED;
    else
        p->status = 0; /* rules_check_person_fields says STATUS_INVALID */
    memcpy(p->admdvs, ld->region, GJ_ADMDVS_LEN + 1);
    gj_reason r = rules_check_person_fields(p);
    if (r != GJ_R_NONE) {
        bad_row(ld, line_no, "%s: %s", gj_reason_name(r), gj_reason_message(r));
        return false;
    }
    if (f[5][0] != '\0' && !gj_yuan_parse(f[5], &row->balance)) {
        bad_row(ld, line_no, "balance must be yuan with at most two decimals, 0..10000000.00 (\"1234.50\")");
        return false;
    }
    if (row->balance != 0 && strcmp(p->insutype, "310") != 0) {
        bad_row(ld, line_no, "NO_ACCOUNT: a resident (insutype 390) has no personal account: "
                             "balance must be empty or 0");
        return false;
    }
    return true;
}

static bool header_ok(char *line)
{
    static const char *const want[LOAD_FIELDS] = {"psn_no", "certno", "psn_name",
                                                  "insutype", "status", "balance"};
    if ((unsigned char)line[0] == 0xef && (unsigned char)line[1] == 0xbb &&
        (unsigned char)line[2] == 0xbf)
        line += 3;
    char *f[LOAD_FIELDS];
    if (split_fields(line, f, LOAD_FIELDS) != LOAD_FIELDS)
        return false;
    for (int i = 0; i < LOAD_FIELDS; i++)
        if (strcasecmp(f[i], want[i]) != 0)
            return false;
    return true;
}

static bool blank(const char *s)
{
    for (; *s; s++)
        if (*s != ' ' && *s != '\t')
            return false;
    return true;
}

static int run_load(const char *data_dir, const char *region, size_t batch_max, bool restart,
                    bool quiet, const char *path)
{
    loader ld = {.path = path, .region = region, .quiet = quiet};
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0) {
        fprintf(stderr, "gongji-load: cannot open %s: %s\n", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return EXIT_USAGE;
    }
    if (!S_ISREG(sb.st_mode)) {
        fprintf(stderr, "gongji-load: %s is not a regular file\n", path);
        close(fd);
        return EXIT_USAGE;
    }
    ld.file_size = (uint64_t)sb.st_size;
    uint64_t fingerprint;
    if (file_fingerprint(fd, ld.file_size, &fingerprint) != 0) {
        fprintf(stderr, "gongji-load: cannot read %s: %s\n", path, strerror(errno));
        close(fd);
        return EXIT_USAGE;
    }
    char tag[LOAD_TAG_MAX + 1];
    file_tag(path, ld.file_size, tag);

    reader rd = {.fd = fd, .buf = malloc(LOAD_READ_BUF + 1)};
    load_batch b = {.rows = calloc(batch_max, sizeof *b.rows), .tag = tag, .fingerprint = fingerprint};
    store *s = NULL;
    int status = EXIT_USAGE;
    if (rd.buf == NULL || b.rows == NULL) {
        fprintf(stderr, "gongji-load: out of memory\n");
        goto out;
    }

    /* The header first, before touching the store. */
    char *line;
    size_t len;
    bool too_long;
    int rc = reader_next(&rd, &line, &len, &too_long);
    if (rc < 0) {
        fprintf(stderr, "gongji-load: cannot read %s: %s\n", path, strerror(errno));
        goto out;
    }
    if (rc > 0 || too_long || !header_ok(line)) {
        fprintf(stderr, "%s:1: the header line must be %s\n", path, LOAD_HEADER);
        goto out;
    }

    if (mkdir_p(data_dir) != 0) {
        fprintf(stderr, "gongji-load: cannot create %s: %s\n", data_dir, strerror(errno));
        goto out;
    }
    store_options sopts = {.map_size = GJ_MAP_SIZE_DEFAULT};
    gj_err err = store_open(&s, data_dir, &sopts);
    if (err != GJ_OK) {
        fprintf(stderr, "gongji-load: cannot open the store in %s: %s\n", data_dir, gj_err_name(err));
        if (err == GJ_ERR_CORRUPT)
            fprintf(stderr, "gongji-load: damaged, or written in another store format than %u, the one "
                            "this build reads (docs/store.md)\n", store_format_version());
        goto out;
    }

    uint64_t records = 0, resume_line = 0, bad_before = 0, old_fingerprint = 0;
    if ((err = progress_last(s, tag, &records, &old_fingerprint, &resume_line, &bad_before)) != GJ_OK) {
        fprintf(stderr, "gongji-load: cannot read progress of %s: %s\n", tag, gj_err_name(err));
        goto out;
    }
    if (records > 0 && restart) {
        if (!quiet)
            fprintf(stderr, "gongji-load: --restart: reading %s from the start; persons already "
                            "present stay as they are\n", path);
        resume_line = bad_before = 0;
    } else if (records > 0 && old_fingerprint != fingerprint) {
        if (!quiet)
            fprintf(stderr, "gongji-load: the progress recorded for %s belongs to another file of "
                            "that name and size; reading from the start\n", path);
        resume_line = bad_before = 0;
    } else if (records > 0 && !quiet) {
        fprintf(stderr, "gongji-load: resuming after line %" PRIu64 " (%" PRIu64 " bad rows before it)\n",
                resume_line, bad_before);
    }
    while (rd.line < resume_line) {
        if ((rc = reader_next(&rd, &line, &len, &too_long)) != 0)
            break;
    }
    if (rc < 0) {
        fprintf(stderr, "gongji-load: cannot read %s: %s\n", path, strerror(errno));
        goto out;
    }

    ld.bar = !quiet && isatty(STDERR_FILENO);
    ld.started_ms = ld.bar_drawn_ms = gj_mono_ms();
    ld.start_bytes = rd.consumed;
    ld.bad = bad_before;
    uint64_t bad_at_start = bad_before, committed_line = resume_line;
    b.record_no = records;
    for (bool done = false; !done;) {
        rc = reader_next(&rd, &line, &len, &too_long);
        if (rc < 0) {
            bar_clear(&ld);
            fprintf(stderr, "gongji-load: cannot read %s: %s\n", path, strerror(errno));
            goto out;
        }
        done = rc > 0;
        if (!done) {
            if (too_long) {
                ld.rows_read++;
                bad_row(&ld, rd.line, "longer than %d bytes", LOAD_LINE_MAX);
            } else if (!blank(line)) {
                ld.rows_read++;
                if (parse_row(&ld, rd.line, line, len, &b.rows[b.count]))
                    b.count++;
            }
            if ((rd.line & 1023) == 0)
                bar_draw(&ld, &rd, false);
        }
        /* Commit a full batch, and at the end whatever is left (if only to record that
         * the tail was all bad rows). */
        if (b.count < batch_max && !(done && rd.line > committed_line))
            continue;
        b.now_ms = gj_now_unix_ms();
        b.record_no++;
        b.last_line = rd.line;
        b.bad_before = ld.bad;
        if ((err = store_submit_wait(s, load_apply, &b)) != GJ_OK) {
            bar_clear(&ld);
            fprintf(stderr, "gongji-load: %s: the store refused lines %" PRIu64 "..%" PRIu64 ": %s%s\n",
                    path, committed_line + 1, rd.line, gj_err_name(err),
                    err == GJ_ERR_FULL ? " (map full, or try a smaller --batch)" : "");
            goto out;
        }
        committed_line = rd.line;
        for (size_t i = 0; i < b.count; i++)
            if (b.rows[i].outcome == ROW_CONFLICT)
                bad_row(&ld, b.rows[i].line, "psn_no %s is already enrolled with another certno; "
                                             "left unchanged", b.rows[i].person.psn_no);
        ld.loaded += b.loaded;
        ld.present += b.present;
        b.count = 0;
        bar_draw(&ld, &rd, false);
    }
    if (ld.bar) {
        bar_draw(&ld, &rd, true);
        fputc('\n', stderr);
        ld.bar_visible = false;
    }
    if (!quiet) {
        double secs = (double)(gj_mono_ms() - ld.started_ms) / 1000.0;
        fprintf(stderr, "gongji-load: %s: %" PRIu64 " rows loaded, %" PRIu64 " bad, %" PRIu64
                        " already present, %.2f s, %.0f rows/s\n",
                path, ld.loaded, ld.bad - bad_at_start, ld.present, secs,
                secs > 0 ? (double)ld.rows_read / secs : (double)ld.rows_read);
        if (bad_at_start > 0)
            fprintf(stderr, "gongji-load: %s: %" PRIu64 " more bad rows before line %" PRIu64
                            " were reported by an earlier run\n", path, bad_at_start, resume_line);
    }
    status = ld.bad > 0 ? EXIT_BAD_ROWS : EXIT_LOADED;
out:
    store_close(s);
    free(b.rows);
    free(rd.buf);
    close(fd);
    return status;
}

/* ---- generate ---- */

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t gcd_u64(uint64_t a, uint64_t b)
{
    while (b != 0) {
        uint64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

/* Days since 1970-01-01 to yyyymmdd (Howard Hinnant's civil_from_days). */
static void civil(int64_t z, char out[8])
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = yoe + era * 400;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t d = doy - (153 * mp + 2) / 5 + 1;
    int64_t m = mp < 10 ? mp + 3 : mp - 9;
    if (m <= 2)
        y++;
    int64_t v = y * 10000 + m * 100 + d;
    for (int i = 7; i >= 0; i--, v /= 10)
        out[i] = (char)('0' + v % 10);
}

static char *put_padded(char *p, uint64_t v, int width)
{
    for (int i = width - 1; i >= 0; i--, v /= 10)
        p[i] = (char)('0' + v % 10);
    return p + width;
}

static char *put_u64(char *p, uint64_t v)
{
    char tmp[20];
    int n = 0;
    do
        tmp[n++] = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    while (n > 0)
        *p++ = tmp[--n];
    return p;
}

static char *put_str(char *p, const char *s)
{
    size_t n = strlen(s);
    memcpy(p, s, n);
    return p + n;
}

static int write_all(const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t w = write(STDOUT_FILENO, buf, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1;
        buf += w;
        len -= (size_t)w;
    }
    return 0;
}

static int run_generate(uint64_t n, const char *region, uint64_t seed)
{
    static const char *const surnames[] = {"王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周",
                                           "徐", "孙", "马", "朱", "胡", "郭", "何", "高", "林", "罗"};
    static const char *const given[] = {"伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋",
                                        "勇", "艳", "杰", "娟", "涛", "明", "超", "霞", "平", "刚",
                                        "英", "华", "建", "国", "文", "红", "玉", "兰", "志", "春"};
    enum { NS = sizeof surnames / sizeof *surnames, NG = sizeof given / sizeof *given };
    /* Birth dates 1940-01-01 .. 2019-12-31 with a 3-digit sequence each: certnos are
     * distinct for the first DAYS*1000 rows, visited in a seed-dependent order. */
    const int64_t first_day = -10957; /* 1940-01-01 */
    const uint64_t days = 29219, space = days * 1000;
    uint64_t st = seed;
    uint64_t stride = splitmix64(&st) % space, offset = splitmix64(&st) % space;
    while (stride == 0 || gcd_u64(stride, space) != 1)
        stride = (stride + 1) % space;

    size_t cap = 4u << 20;
    char *buf = malloc(cap);
    if (buf == NULL) {
        fprintf(stderr, "gongji-load: out of memory\n");
        return EXIT_USAGE;
    }
    char *p = put_str(buf, LOAD_HEADER "\n");
    char region_digits[GJ_ADMDVS_LEN];
    memcpy(region_digits, region, GJ_ADMDVS_LEN);
    for (uint64_t i = 1; i <= n; i++) {
        uint64_t rs = seed ^ (i * 0xd1b54a32d192ed03ULL);
        uint64_t r1 = splitmix64(&rs), r2 = splitmix64(&rs);
        /* psn_no */
        p = put_str(p, region);
        p = put_padded(p, i, 10);
        *p++ = ',';
        /* certno: region, birth date, sequence, check character */
        uint64_t k = ((i - 1) % space * stride + offset) % space; /* < 2^55: no overflow */
        char first17[18];
        memcpy(first17, region_digits, GJ_ADMDVS_LEN);
        civil(first_day + (int64_t)(k / 1000), first17 + 6);
        put_padded(first17 + 14, k % 1000, 3);
        first17[17] = '\0';
        p = put_str(p, first17);
        *p++ = gj_certno_check_char(first17);
        *p++ = ',';
        /* name: a surname and one or two given characters */
        p = put_str(p, surnames[r1 % NS]);
        p = put_str(p, given[(r1 >> 8) % NG]);
        if ((r1 >> 16) & 1)
            p = put_str(p, given[(r1 >> 24) % NG]);
        *p++ = ',';
        /* insutype and status */
        bool resident = (r2 % 10) == 0;
        p = put_str(p, resident ? "390," : "310,");
        uint64_t sr = (r2 >> 8) % 100;
        p = put_str(p, sr < 97 ? "active," : sr < 99 ? "suspended," : "terminated,");
        /* balance 100.00 .. 9999.99 for employees */
        if (!resident) {
            uint64_t fen = 10000 + (r2 >> 16) % (999999 - 10000 + 1);
            p = put_u64(p, fen / 100);
            *p++ = '.';
            p = put_padded(p, fen % 100, 2);
        }
        *p++ = '\n';
        if ((size_t)(p - buf) > cap - 512) {
            if (write_all(buf, (size_t)(p - buf)) != 0)
                goto fail;
            p = buf;
        }
    }
    if (write_all(buf, (size_t)(p - buf)) != 0)
        goto fail;
    free(buf);
    return EXIT_LOADED;
fail:
    fprintf(stderr, "gongji-load: cannot write: %s\n", strerror(errno));
    free(buf);
    return EXIT_USAGE;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"data-dir", required_argument, NULL, 'd'},
                                         {"region", required_argument, NULL, 'r'},
                                         {"batch", required_argument, NULL, 'b'},
                                         {"restart", no_argument, NULL, 'R'},
                                         {"quiet", no_argument, NULL, 'q'},
                                         {"generate", required_argument, NULL, 'g'},
                                         {"seed", required_argument, NULL, 's'},
                                         {"help", no_argument, NULL, 'h'},
                                         {"version", no_argument, NULL, 'V'},
                                         {NULL, 0, NULL, 0}};
    const char *data_dir = NULL, *region = NULL;
    uint64_t batch = LOAD_BATCH_DEFAULT, generate = 0, seed = 1;
    bool quiet = false, restart = false, generating = false, seeded = false;
    int opt;
    while ((opt = getopt_long(argc, argv, "d:r:b:qg:s:hV", opts, NULL)) != -1) {
        switch (opt) {
        case 'd': data_dir = optarg; break;
        case 'r': region = optarg; break;
        case 'b':
            if (!parse_u64(optarg, LOAD_BATCH_MAX, &batch) || batch == 0) {
                fprintf(stderr, "gongji-load: --batch must be 1..%d\n", LOAD_BATCH_MAX);
                return EXIT_USAGE;
            }
            break;
        case 'R': restart = true; break;
        case 'q': quiet = true; break;
        case 'g':
            if (!parse_u64(optarg, GEN_SERIAL_MAX, &generate)) {
                fprintf(stderr, "gongji-load: --generate must be 0..%llu\n", GEN_SERIAL_MAX);
                return EXIT_USAGE;
            }
            generating = true;
            break;
        case 's':
            if (!parse_u64(optarg, UINT64_MAX, &seed)) {
                fprintf(stderr, "gongji-load: --seed must be a non-negative integer\n");
                return EXIT_USAGE;
            }
            seeded = true;
            break;
        case 'h': usage(stdout); return 0;
        case 'V': printf("gongji-load %s\n", GONGJI_VERSION); return 0;
        default: usage(stderr); return EXIT_USAGE;
        }
    }
    if (region == NULL || !region_valid(region)) {
        fprintf(stderr, "gongji-load: --region must be a 6-digit region code\n");
        return EXIT_USAGE;
    }
    if (generating) {
        if (data_dir != NULL || optind != argc) {
            fprintf(stderr, "gongji-load: --generate writes to standard output: no --data-dir, no FILE\n");
            return EXIT_USAGE;
        }
        return run_generate(generate, region, seed);
    }
    if (seeded || data_dir == NULL || optind != argc - 1) {
        usage(stderr);
        return EXIT_USAGE;
    }
    return run_load(data_dir, region, (size_t)batch, restart, quiet, argv[optind]);
}
