/* Reading the persons file through the import library (import/import.h): records in
 * UTF-8 or GBK/GB18030 with the header's columns in any order, and each data row checked
 * as Enroll would check the person, plus the file's own check that no certno is in it
 * twice. Bad rows are reported through report.c and skipped. */
#include "gj_limits.h"
#include "gj_util.h"
#include "load.h"
#include "reasons.h"
#include "rules.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* ---- fields ---- */

/* Strict UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF) without control
 * characters. The reader has checked the encoding already, but lets line breaks through
 * in quoted fields, and a name must not have them. */
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

/* Spaces inside quotes are kept by the reader; an identifier or name never wants them. */
static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = '\0';
    return s;
}

/* A value to quote in a message: at most LOAD_SHOWN_MAX bytes of s, cut between
 * characters ("..." after), control characters (a quoted field's line break) as '?'. */
static const char *shown(const char *s, char out[LOAD_SHOWN_MAX + 4])
{
    size_t n = strlen(s);
    bool cut = n > LOAD_SHOWN_MAX;
    if (cut) {
        n = LOAD_SHOWN_MAX;
        while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
            n--; /* s[n] would continue a character: end before that character */
    }
    for (size_t i = 0; i < n; i++)
        out[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
    memcpy(out + n, cut ? "..." : "", cut ? 4 : 1);
    return out;
}

/* Field canonical of the record, "" when the file has no such column. */
static char *field(const loader *ld, char **f, size_t canonical)
{
    static char none[1]; /* trim leaves it as it is */
    int c = ld->col[canonical];
    return c >= 0 ? f[c] : none;
}

/* ---- a row ---- */

/* Why a row is bad, written into why (one line, the reason's name first); true when it
 * is good and row holds it. Nothing is reported here: a row an earlier run committed is
 * checked again only to know whether its certno was taken. */
static bool check_row(const loader *ld, char **f, size_t n, load_row *row, char *why, size_t cap)
{
    char s1[LOAD_SHOWN_MAX + 4], err[IMP_ERR_MAX];
    if (n != ld->header_fields) {
        snprintf(why, cap, "expected %zu fields as the header has, found %zu (a field holding a comma "
                           "must be quoted)", ld->header_fields, n);
        return false;
    }
    memset(row, 0, sizeof *row);
    store_person *p = &row->person;
    const char *psn = trim(field(ld, f, IMP_P_PSN_NO));
    size_t plen = strlen(psn);
    bool visible = plen > 0;
    for (size_t i = 0; i < plen && visible; i++)
        visible = psn[i] > 0x20 && psn[i] < 0x7f;
    if (!visible || !gj_strcpy_fit(p->psn_no, sizeof p->psn_no, psn)) {
        snprintf(why, cap, "FIELD_INVALID: psn_no \"%s\" must be 1..%d visible ASCII characters",
                 shown(psn, s1), GJ_PSN_NO_MAX);
        return false;
    }
    const char *certno = trim(field(ld, f, IMP_P_CERTNO));
    if (!gj_strcpy_fit(p->certno, sizeof p->certno, certno)) {
        snprintf(why, cap, "CERTNO_INVALID: %s (certno \"%s\")", gj_reason_message(GJ_R_CERTNO_INVALID),
                 shown(certno, s1));
        return false;
    }
    if (strlen(p->certno) == GJ_CERTNO_LEN && p->certno[17] == 'x')
        p->certno[17] = 'X'; /* one spelling per person, as Enroll stores it */
    const char *name = trim(field(ld, f, IMP_P_PSN_NAME));
    if (!utf8_text_ok((const unsigned char *)name) || !gj_strcpy_fit(p->name, sizeof p->name, name)) {
        snprintf(why, cap, "FIELD_INVALID: psn_name \"%s\" must be UTF-8 text of at most %d bytes, without "
                           "line breaks", shown(name, s1), GJ_NAME_MAX);
        return false;
    }
    const char *code;
    if (imp_insutype_parse(field(ld, f, IMP_P_INSUTYPE), &code, err, sizeof err) != 0) {
        snprintf(why, cap, "INSUTYPE_INVALID: %s", err);
        return false;
    }
    memcpy(p->insutype, code, sizeof p->insutype);
    int status;
    if (imp_status_parse(field(ld, f, IMP_P_STATUS), &status, err, sizeof err) != 0) {
        snprintf(why, cap, "STATUS_INVALID: %s", err);
        return false;
    }
    /* import/'s numbers are the store's: 1 active, 2 suspended, 3 terminated */
    p->status = (uint8_t)(status == IMP_STATUS_ACTIVE      ? STORE_PERSON_ACTIVE
                          : status == IMP_STATUS_SUSPENDED ? STORE_PERSON_SUSPENDED
                                                           : STORE_PERSON_TERMINATED);
    memcpy(p->admdvs, ld->region, GJ_ADMDVS_LEN + 1);
    gj_reason r = rules_check_person_fields(p);
    if (r == GJ_R_CERTNO_INVALID) {
        snprintf(why, cap, "%s: %s (certno \"%s\")", gj_reason_name(r), gj_reason_message(r),
                 shown(certno, s1));
        return false;
    }
    if (r != GJ_R_NONE) {
        snprintf(why, cap, "%s: %s", gj_reason_name(r), gj_reason_message(r));
        return false;
    }
    char *balance = trim(field(ld, f, IMP_P_BALANCE));
    if (balance[0] != '\0' && imp_amount_parse(balance, &row->balance, err, sizeof err) != 0) {
        snprintf(why, cap, "AMOUNT_INVALID: balance: %s", err);
        return false;
    }
    if (row->balance != 0 && strcmp(p->insutype, "310") != 0) {
        snprintf(why, cap, "NO_ACCOUNT: a resident (insutype 390) has no personal account: balance must be "
                           "empty or 0, not \"%s\"", shown(balance, s1));
        return false;
    }
    return true;
}

/* Note row's certno; false (why says so) when an earlier row of the file has it. */
static bool certno_first(loader *ld, const load_row *row, char *why, size_t cap)
{
    if (ld->dups_off)
        return true;
    long first = 0;
    int seen = imp_dups_add(ld->certnos, row->person.certno, (long)row->line, &first);
    if (seen == 1) {
        snprintf(why, cap, "CERTNO_REPEATED: certno %s is on line %ld already", row->person.certno, first);
        return false;
    }
    if (seen < 0) {
        /* The store still enrols each psn_no once; only the file's own check stops. */
        load_bar_clear(ld);
        fprintf(stderr, "gongji-load: %s: certnos from line %" PRIu64 " on are not checked for repeats "
                        "in the file: %s\n", ld->path, row->line, imp_dups_error(ld->certnos));
        ld->dups_off = true;
    }
    return true;
}

/* The reader's message without its "line N" (report.c puts the line first already). */
static const char *reader_reason(const loader *ld)
{
    const char *msg = imp_reader_error(ld->reader);
    char prefix[32];
    int n = snprintf(prefix, sizeof prefix, "line %" PRIu64, ld->line);
    if (strncmp(msg, prefix, (size_t)n) != 0)
        return msg;
    if (msg[n] == ':' && msg[n + 1] == ' ')
        return msg + n + 2;
    if (msg[n] == ',' && msg[n + 1] == ' ')
        return msg + n + 2; /* "column 2: ..." */
    return msg;
}

int load_next(loader *ld, load_row *row)
{
    char **f;
    size_t n;
    long line;
    long long offset;
    int rc = imp_reader_next(ld->reader, &f, &n, &line, &offset);
    if (rc == IMP_END)
        return LOAD_END;
    if (rc == IMP_FAILED) {
        load_bar_clear(ld);
        fprintf(stderr, "gongji-load: %s: %s\n", ld->path, imp_reader_error(ld->reader));
        return LOAD_FAILED;
    }
    ld->line = (uint64_t)line;
    ld->at = (uint64_t)offset;
    bool before = ld->line <= ld->resume_line;
    if (rc == IMP_BAD) {
        if (before)
            return LOAD_BEFORE;
        load_bad_row(ld, ld->line, "%s", reader_reason(ld));
        return LOAD_BAD;
    }
    bool empty = true;
    for (size_t i = 0; i < n && empty; i++)
        empty = f[i][0] == '\0';
    if (empty)
        return LOAD_EMPTY; /* ",,,,,": a spreadsheet's row that once held something */
    char why[IMP_ERR_MAX + 256];
    bool good = check_row(ld, f, n, row, why, sizeof why);
    row->line = ld->line;
    if (good)
        good = certno_first(ld, row, why, sizeof why);
    if (before)
        return LOAD_BEFORE; /* that run reported it if it was bad */
    if (!good) {
        load_bad_row(ld, ld->line, "%s", why);
        return LOAD_BAD;
    }
    return LOAD_ROW;
}

/* ---- the file ---- */

int load_open(loader *ld, int fd, const char *encoding, bool ignore_unknown)
{
    char err[IMP_ERR_MAX];
    if ((ld->f = fdopen(fd, "rb")) == NULL) {
        fprintf(stderr, "gongji-load: cannot read %s: %s\n", ld->path, strerror(errno));
        close(fd);
        return EXIT_USAGE;
    }
    if (imp_reader_open(&ld->reader, ld->f, encoding, err, sizeof err) != 0) {
        fprintf(stderr, "gongji-load: %s: %s\n", ld->path, err);
        return EXIT_USAGE;
    }
    char **f;
    size_t n;
    long line;
    long long offset;
    int rc = imp_reader_next(ld->reader, &f, &n, &line, &offset);
    if (rc == IMP_END) {
        fprintf(stderr, "gongji-load: %s: no header line (the file is empty)\n", ld->path);
        return EXIT_USAGE;
    }
    if (rc != IMP_RECORD) {
        fprintf(stderr, "%s:%ld: the header: %s\n", ld->path, line, imp_reader_error(ld->reader));
        return EXIT_USAGE;
    }
    if (imp_columns_map(IMP_PERSONS, f, n, ld->col, ignore_unknown, err, sizeof err) != 0) {
        fprintf(stderr, "%s:%ld: %s\n", ld->path, line, err);
        return EXIT_USAGE;
    }
    ld->header_fields = n;
    ld->line = (uint64_t)line;
    if ((ld->certnos = imp_dups_open(IMP_DUPS_CAP)) == NULL) {
        fprintf(stderr, "gongji-load: out of memory\n");
        return EXIT_USAGE;
    }
    return 0;
}

void load_close(loader *ld)
{
    imp_dups_close(ld->certnos);
    imp_reader_close(ld->reader);
    if (ld->f != NULL)
        fclose(ld->f);
    ld->certnos = NULL;
    ld->reader = NULL;
    ld->f = NULL;
}
