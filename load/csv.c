/* Reading the CSV: lines of at most LOAD_LINE_MAX bytes from a large file, fields split
 * at commas, and each data row checked as Enroll would check the person (bad rows are
 * reported through report.c and skipped). */
#include "gj_limits.h"
#include "gj_util.h"
#include "load.h"
#include "rules.h"

#include <errno.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* ---- fields ---- */

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

int load_reader_next(load_reader *r, char **out, size_t *out_len, bool *too_long)
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

/* ---- rows ---- */

bool load_parse_row(loader *ld, uint64_t line_no, char *line, size_t len, load_row *row)
{
    if (memchr(line, '\0', len) != NULL) {
        load_bad_row(ld, line_no, "contains a NUL byte");
        return false;
    }
    if (strchr(line, '"') != NULL) {
        load_bad_row(ld, line_no, "quoted fields are not supported (no field may contain '\"' or ',')");
        return false;
    }
    char *f[LOAD_FIELDS];
    size_t n = split_fields(line, f, LOAD_FIELDS);
    if (n != LOAD_FIELDS) {
        load_bad_row(ld, line_no, "expected %d fields (%s), found %zu", LOAD_FIELDS, LOAD_HEADER, n);
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
        load_bad_row(ld, line_no, "FIELD_INVALID: psn_no must be 1..%d visible ASCII characters", GJ_PSN_NO_MAX);
        return false;
    }
    if (!gj_strcpy_fit(p->certno, sizeof p->certno, f[1])) {
        load_bad_row(ld, line_no, "CERTNO_INVALID: %s", gj_reason_message(GJ_R_CERTNO_INVALID));
        return false;
    }
    if (strlen(p->certno) == GJ_CERTNO_LEN && p->certno[17] == 'x')
        p->certno[17] = 'X'; /* one spelling per person, as Enroll stores it */
    if (!utf8_text_ok((const unsigned char *)f[2]) || !gj_strcpy_fit(p->name, sizeof p->name, f[2])) {
        load_bad_row(ld, line_no, "FIELD_INVALID: psn_name must be UTF-8 text of at most %d bytes", GJ_NAME_MAX);
        return false;
    }
    if (!gj_strcpy_fit(p->insutype, sizeof p->insutype, f[3])) {
        load_bad_row(ld, line_no, "INSUTYPE_INVALID: %s", gj_reason_message(GJ_R_INSUTYPE_INVALID));
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
        load_bad_row(ld, line_no, "%s: %s", gj_reason_name(r), gj_reason_message(r));
        return false;
    }
    if (f[5][0] != '\0' && !gj_yuan_parse(f[5], &row->balance)) {
        load_bad_row(ld, line_no, "balance must be yuan with at most two decimals, 0..10000000.00 (\"1234.50\")");
        return false;
    }
    if (row->balance != 0 && strcmp(p->insutype, "310") != 0) {
        load_bad_row(ld, line_no, "NO_ACCOUNT: a resident (insutype 390) has no personal account: "
                                  "balance must be empty or 0");
        return false;
    }
    return true;
}

bool load_header_ok(char *line)
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

bool load_blank(const char *s)
{
    for (; *s; s++)
        if (*s != ' ' && *s != '\t')
            return false;
    return true;
}

