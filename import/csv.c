/* The CSV reader (RFC 4180, strict): a byte-at-a-time state machine over a window of the
 * file that always holds the current record's raw bytes, so a record whose quote never
 * closes can be read again from the line after its first. Fields are split on the raw
 * bytes and converted one by one afterwards: that is safe for GBK/GB18030 too, whose
 * multi-byte characters never hold the bytes of ',', '"', CR or LF. */
#include "import.h"
#include "import_private.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>

/* A record's raw bytes, its line end (CR LF) included: the in-flight bound. */
#define RAW_MAX (IMP_RECORD_MAX + 2)
#define BUF_CAP (RAW_MAX + IMP_CHUNK)
/* Field bytes (never more than the raw ones) and a NUL after each field. */
#define REC_CAP (RAW_MAX + IMP_FIELDS_MAX + 1)
/* GB18030 to UTF-8 grows a text by half at most (2 bytes become 3). */
#define OUT_CAP (REC_CAP + REC_CAP / 2 + IMP_FIELDS_MAX)

struct imp_reader {
    FILE *f;
    int enc;
    bool ascii_start; /* the bytes encoding was decided on were all ASCII */
    iconv_t cd;       /* GB18030 -> UTF-8, for a GB18030 file */
    unsigned char *buf;
    size_t len, pos; /* buf[0..len) read; buf[pos] the next byte to look at */
    size_t start;    /* where the current record starts in buf: kept on refills */
    long long base;  /* file offset of buf[0] */
    bool eof, failed;
    long line; /* physical line of buf[pos], counting LFs */

    /* the current record */
    long rec_line;
    long long rec_off;
    char *rec; /* field bytes, a NUL after each field */
    size_t rec_len;
    size_t nfields; /* may pass IMP_FIELDS_MAX: those past it are counted, not kept */
    size_t fstart[IMP_FIELDS_MAX];
    bool fquoted[IMP_FIELDS_MAX];
    bool bad;
    char *out; /* converted fields */
    char *fields[IMP_FIELDS_MAX];
    char err[IMP_ERR_MAX];
};

enum scan_result { SCAN_OK, SCAN_BAD, SCAN_BLANK, SCAN_END, SCAN_FAILED };
/* Where the machine is: at a field's start, in a bare (unquoted) field, inside quotes,
 * just after a quote inside quotes, in spaces after the closing quote, after a CR that
 * is not inside quotes. */
enum state { S_FIELD, S_BARE, S_QUOTED, S_QUOTE, S_AFTER, S_CR };

/* The first reason a record is bad is the one told. */
#define BAD(r, ...)                                                                                          \
    do {                                                                                                     \
        if (!(r)->bad) {                                                                                     \
            (r)->bad = true;                                                                                 \
            imp_errf((r)->err, sizeof(r)->err, __VA_ARGS__);                                                 \
        }                                                                                                    \
    } while (0)

/* Read more after buf[len], first moving the current record to buf's start. false at the
 * end of the file or on a read error (then r->failed). */
static bool fill(imp_reader *r)
{
    if (r->eof || r->failed)
        return false;
    if (r->start > 0) {
        memmove(r->buf, r->buf + r->start, r->len - r->start);
        r->base += (long long)r->start;
        r->pos -= r->start;
        r->len -= r->start;
        r->start = 0;
    }
    /* len - start <= RAW_MAX here (scan's bound), so a whole chunk fits. */
    size_t got = fread(r->buf + r->len, 1, IMP_CHUNK, r->f);
    r->len += got;
    if (got > 0)
        return true;
    if (ferror(r->f)) {
        r->failed = true;
        imp_errf(r->err, sizeof r->err, "reading the file failed: %s", strerror(errno));
    } else {
        r->eof = true;
    }
    return false;
}

static void begin_record(imp_reader *r)
{
    r->start = r->pos;
    r->rec_line = r->line;
    r->rec_off = r->base + (long long)r->pos;
    r->rec_len = 0;
    r->nfields = 0;
    r->fstart[0] = 0;
    r->bad = false;
}

static void put(imp_reader *r, unsigned char c)
{
    if (r->nfields < IMP_FIELDS_MAX)
        r->rec[r->rec_len++] = (char)c;
}

static void end_field(imp_reader *r, bool quoted)
{
    size_t i = r->nfields;
    if (i < IMP_FIELDS_MAX) {
        if (!quoted) /* spaces before a bare field were never put; drop those after it */
            while (r->rec_len > r->fstart[i] &&
                   (r->rec[r->rec_len - 1] == ' ' || r->rec[r->rec_len - 1] == '\t'))
                r->rec_len--;
        r->rec[r->rec_len++] = '\0';
        r->fquoted[i] = quoted;
        if (i + 1 < IMP_FIELDS_MAX)
            r->fstart[i + 1] = r->rec_len;
    } else if (i == IMP_FIELDS_MAX) {
        BAD(r, "line %ld: more than %d fields", r->rec_line, IMP_FIELDS_MAX);
    }
    r->nfields++;
}

/* The record ended; its bytes (line end not counted) end before buf[content_end]. */
static int finish(imp_reader *r, size_t content_end)
{
    if (content_end - r->start > IMP_RECORD_MAX)
        BAD(r, "line %ld: record longer than %d bytes", r->rec_line, IMP_RECORD_MAX);
    if (r->bad)
        return SCAN_BAD;
    if (r->nfields == 1 && !r->fquoted[0] && r->rec[0] == '\0')
        return SCAN_BLANK;
    return SCAN_OK;
}

/* Go on at the line after the one the bad record began on: past the first LF after its
 * start, which is still in buf when it came within RAW_MAX bytes, else still to read. */
static void resync(imp_reader *r)
{
    unsigned char *nl = memchr(r->buf + r->start, '\n', r->pos - r->start);
    if (nl != NULL) {
        r->pos = (size_t)(nl - r->buf) + 1;
        r->line = r->rec_line + 1;
        return;
    }
    for (;;) {             /* no LF since the start: r->line is still rec_line */
        r->start = r->pos; /* keep nothing of a line being skipped */
        nl = memchr(r->buf + r->pos, '\n', r->len - r->pos);
        if (nl != NULL) {
            r->pos = (size_t)(nl - r->buf) + 1;
            r->line++;
            return;
        }
        r->pos = r->len;
        if (!fill(r))
            return; /* the next scan finds the end, or the failure */
    }
}

static int at_end_of_file(imp_reader *r, enum state st, bool fq, long qline)
{
    switch (st) {
    case S_QUOTED:
        /* Told even when something else was wrong first: it is why lines are read again. */
        r->bad = false;
        BAD(r,
            "line %ld: the quote opened on line %ld (column %zu) is never closed; reading "
            "goes on at line %ld",
            r->rec_line, qline, r->nfields + 1, r->rec_line + 1);
        resync(r);
        return SCAN_BAD;
    case S_FIELD:
        if (r->nfields == 0 && !r->bad)
            return SCAN_END; /* nothing, or spaces, after the last line end */
        break;
    case S_CR:
        BAD(r, "line %ld: a carriage return (CR) without a line feed at the end of the file", r->rec_line);
        break;
    default: break;
    }
    end_field(r, fq);
    return finish(r, r->len);
}

/* Read one record into rec. */
static int scan(imp_reader *r)
{
    begin_record(r);
    enum state st = S_FIELD;
    bool fq = false; /* the current field is quoted */
    long qline = 0;  /* where its quote opened */
    for (;;) {
        if (r->pos == r->len && !fill(r))
            return r->failed ? SCAN_FAILED : at_end_of_file(r, st, fq, qline);
        if (r->pos - r->start >= RAW_MAX) {
            bool quoted = st == S_QUOTED || st == S_QUOTE;
            BAD(r, "line %ld: record longer than %d bytes%s; reading goes on at line %ld", r->rec_line,
                IMP_RECORD_MAX, quoted ? " (is a quote never closed?)" : "", r->rec_line + 1);
            resync(r);
            return SCAN_BAD;
        }
        unsigned char c = r->buf[r->pos++];
        if (c == '\n')
            r->line++;
        if (c == '\0') {
            BAD(r, "line %ld, column %zu: a NUL byte (a UTF-16 or binary file?)", r->rec_line,
                r->nfields + 1);
            if (st == S_FIELD)
                st = S_BARE;
            continue;
        }
        switch (st) {
        case S_FIELD:
            if (c == ' ' || c == '\t')
                break;
            if (c == '"') {
                st = S_QUOTED, fq = true, qline = r->line;
                break;
            }
            st = S_BARE; /* and this byte is the bare field's first */
            __attribute__((fallthrough));
        case S_BARE:
            if (c == ',') {
                end_field(r, fq);
                st = S_FIELD, fq = false;
            } else if (c == '\n') {
                end_field(r, fq);
                return finish(r, r->pos - 1);
            } else if (c == '\r') {
                st = S_CR;
            } else {
                if (c == '"')
                    BAD(r,
                        "line %ld, column %zu: a quote inside a field that does not start "
                        "with one (quote the whole field, and double the quote)",
                        r->rec_line, r->nfields + 1);
                put(r, c);
            }
            break;
        case S_QUOTED:
            if (c == '"')
                st = S_QUOTE;
            else
                put(r, c); /* commas, CR and LF are data here */
            break;
        case S_QUOTE:
            if (c == '"') { /* "" inside quotes is one quote */
                put(r, c);
                st = S_QUOTED;
                break;
            }
            __attribute__((fallthrough)); /* the quote closed the field */
        case S_AFTER:
            if (c == ' ' || c == '\t') {
                st = S_AFTER;
            } else if (c == ',' || c == '\n' || c == '\r') {
                st = S_BARE;
                r->pos--, r->line -= c == '\n'; /* S_BARE ends the field or record */
            } else {
                BAD(r, "line %ld, column %zu: text after the closing quote", r->rec_line, r->nfields + 1);
                st = S_BARE;
            }
            break;
        case S_CR:
            if (c == '\n') {
                end_field(r, fq);
                return finish(r, r->pos - 2);
            }
            BAD(r,
                "line %ld: a carriage return (CR) without a line feed (lines must end in CRLF "
                "or LF: an old Mac file?)",
                r->rec_line);
            r->pos--; /* the byte after the CR is read again as a bare field's */
            st = S_BARE;
            break;
        }
    }
}

/* Check and convert the fields of a good record; false when one is not text. */
static bool convert(imp_reader *r)
{
    size_t o = 0;
    for (size_t i = 0; i < r->nfields; i++) {
        size_t used = 0;
        imp_field_src src = {r->enc, r->cd, r->ascii_start, r->rec_line, i + 1, r->fquoted[i]};
        r->fields[i] = imp_field_text(&src, r->rec + r->fstart[i], r->out + o, OUT_CAP - o, &used, r->err,
                                      sizeof r->err);
        if (r->fields[i] == NULL)
            return false;
        o += used;
    }
    return true;
}

int imp_reader_next(imp_reader *r, char ***fields, size_t *count, long *line, long long *offset)
{
    *fields = NULL;
    *count = 0;
    for (;;) {
        if (r->failed)
            return IMP_FAILED;
        int s = scan(r);
        if (s == SCAN_BLANK)
            continue;
        if (s == SCAN_END)
            return IMP_END;
        if (s == SCAN_FAILED)
            return IMP_FAILED;
        if (line != NULL)
            *line = r->rec_line;
        if (offset != NULL)
            *offset = r->rec_off;
        if (s == SCAN_BAD || !convert(r))
            return IMP_BAD;
        *fields = r->fields;
        *count = r->nfields;
        return IMP_RECORD;
    }
}

int imp_reader_open(imp_reader **out, FILE *f, const char *encoding, char *err, size_t errlen)
{
    *out = NULL;
    int enc = 0;
    if (encoding != NULL && strcasecmp(encoding, "auto") != 0 && (enc = imp_enc_parse(encoding)) == 0) {
        char shown[64 + 4];
        imp_errf(err, errlen, "unknown encoding \"%s\": give UTF-8, GBK or GB18030",
                 imp_echo(encoding, shown, 64));
        return -1;
    }
    imp_reader *r = calloc(1, sizeof *r);
    if (r != NULL)
        r->cd = (iconv_t)-1; /* before anything can fail: close looks at it */
    if (r == NULL || (r->buf = malloc(BUF_CAP)) == NULL || (r->rec = malloc(REC_CAP)) == NULL ||
        (r->out = malloc(OUT_CAP)) == NULL) {
        imp_errf(err, errlen, "out of memory");
        imp_reader_close(r);
        return -1;
    }
    r->f = f;
    r->line = 1;
    off_t at = ftello(f);
    r->base = at < 0 ? 0 : (long long)at; /* a pipe: offsets count what was read */
    /* A whole chunk, or the whole file, to decide the encoding on: at its end a cut
     * character is an error, not the start of the next read. */
    while (r->len < IMP_CHUNK && fill(r))
        ;
    if (r->failed) {
        imp_errf(err, errlen, "%s", r->err);
        imp_reader_close(r);
        return -1;
    }
    if (r->len >= 3 && memcmp(r->buf, "\xef\xbb\xbf", 3) == 0) {
        if (enc == IMP_ENC_GB18030) {
            imp_errf(err, errlen,
                     "the file starts with a UTF-8 byte order mark but %s was given: "
                     "it is UTF-8",
                     encoding);
            imp_reader_close(r);
            return -1;
        }
        enc = IMP_ENC_UTF8;
        r->pos = r->start = 3;
    }
    if (enc == 0 && (enc = imp_enc_detect(r->buf, r->len, r->eof, &r->ascii_start, err, errlen)) == 0) {
        imp_reader_close(r);
        return -1;
    }
    r->enc = enc;
    if (enc == IMP_ENC_GB18030 && (r->cd = iconv_open("UTF-8", "GB18030")) == (iconv_t)-1) {
        imp_errf(err, errlen, "this system cannot convert GB18030 (iconv: %s)", strerror(errno));
        imp_reader_close(r);
        return -1;
    }
    *out = r;
    return 0;
}

const char *imp_reader_error(const imp_reader *r)
{
    return r->err;
}

const char *imp_reader_encoding(const imp_reader *r)
{
    return imp_enc_name(r->enc);
}

void imp_reader_set_line(imp_reader *r, long line)
{
    r->line = line;
}

void imp_reader_close(imp_reader *r)
{
    if (r == NULL)
        return;
    if (r->cd != (iconv_t)-1)
        iconv_close(r->cd);
    free(r->buf);
    free(r->rec);
    free(r->out);
    free(r);
}
