/* Encodings: which one a file is in, strict UTF-8 and control-character checks, GB18030
 * to UTF-8, and messages that stay valid UTF-8 when cut. */
#include "import.h"
#include "import_private.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <strings.h>

int imp_enc_parse(const char *name)
{
    static const struct {
        const char *name;
        int enc;
    } names[] = {
        {"UTF-8", IMP_ENC_UTF8},  {"UTF8", IMP_ENC_UTF8},      {"GB18030", IMP_ENC_GB18030},
        {"GBK", IMP_ENC_GB18030}, {"GB2312", IMP_ENC_GB18030}, {"CP936", IMP_ENC_GB18030},
    };
    if (name == NULL)
        return 0;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcasecmp(name, names[i].name) == 0)
            return names[i].enc;
    return 0;
}

const char *imp_enc_name(int enc)
{
    return enc == IMP_ENC_GB18030 ? "GB18030" : "UTF-8";
}

/* Bytes the character led by c takes; 0 for a byte no character starts with. */
static size_t utf8_seq_len(unsigned char c)
{
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        return 2;
    if (c >= 0xe0 && c <= 0xef)
        return 3;
    if (c >= 0xf0 && c <= 0xf4)
        return 4;
    return 0;
}

/* One well-formed character at p[0..n): its length, 0 when malformed or cut short. */
static size_t utf8_char(const unsigned char *p, size_t n, uint32_t *cp_out)
{
    size_t len = utf8_seq_len(p[0]);
    if (len == 0 || len > n)
        return 0;
    if (len == 1) {
        *cp_out = p[0];
        return 1;
    }
    uint32_t cp = p[0] & (0x7f >> len);
    for (size_t k = 1; k < len; k++) {
        if ((p[k] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[k] & 0x3f);
    }
    static const uint32_t least[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < least[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    *cp_out = cp;
    return len;
}

size_t imp_utf8_valid_len(const unsigned char *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        if (p[i] < 0x80) { /* the common case, without the decoding */
            i++;
            continue;
        }
        uint32_t cp;
        size_t len = utf8_char(p + i, n - i, &cp);
        if (len == 0)
            return i;
        i += len;
    }
    return n;
}

uint32_t imp_control_in(const unsigned char *p, size_t n, bool newlines_ok)
{
    size_t i = 0;
    while (i < n) {
        uint32_t cp;
        size_t len = utf8_char(p + i, n - i, &cp);
        if (len == 0)
            return 0xfffd; /* not valid: the caller checked, so this is only a guard */
        bool newline = cp == '\r' || cp == '\n';
        if ((cp < 0x20 && !(newline && newlines_ok)) || (cp >= 0x7f && cp <= 0x9f))
            return cp == 0 ? 0xfffd : cp; /* 0 means "none" */
        i += len;
    }
    return 0;
}

/* p ends in the first bytes of a character that the next read would complete. */
static bool cut_character(const unsigned char *p, size_t n)
{
    for (size_t back = 1; back <= 3 && back <= n; back++) {
        unsigned char c = p[n - back];
        if ((c & 0xc0) == 0x80)
            continue;
        size_t len = utf8_seq_len(c);
        return len > back;
    }
    return false;
}

/* A whole GB18030 text in p (a cut character at the end allowed unless at_eof). */
static bool converts_from_gb18030(const unsigned char *p, size_t n, bool at_eof)
{
    iconv_t cd = iconv_open("UTF-8", "GB18030");
    if (cd == (iconv_t)-1)
        return false;
    char *in = (char *)p;
    size_t left = n;
    bool ok = true;
    while (left > 0) {
        char scratch[4096];
        char *o = scratch;
        size_t room = sizeof scratch;
        if (iconv(cd, &in, &left, &o, &room) != (size_t)-1 || errno == E2BIG)
            continue;
        ok = errno == EINVAL && !at_eof; /* EINVAL: a character cut by the chunk's end */
        break;
    }
    iconv_close(cd);
    return ok;
}

int imp_enc_detect(const unsigned char *p, size_t n, bool at_eof, bool *ascii_only, char *err, size_t errlen)
{
    *ascii_only = true;
    for (size_t i = 0; i < n && *ascii_only; i++)
        *ascii_only = p[i] < 0x80;
    /* Files an operator may pick by mistake: say what they are, not just "not text". */
    if (n >= 2 && ((p[0] == 0xff && p[1] == 0xfe) || (p[0] == 0xfe && p[1] == 0xff))) {
        imp_errf(err, errlen,
                 "UTF-16 text (Excel's \"Unicode Text\"), not CSV: save it as "
                 "\"CSV UTF-8\" or as CSV");
        return 0;
    }
    if (n >= 4 && memcmp(p, "PK\3\4", 4) == 0) {
        imp_errf(err, errlen,
                 "an Excel workbook (.xlsx) or other zip file, not CSV: save it as "
                 "\"CSV UTF-8\" or as CSV");
        return 0;
    }
    if (n >= 8 && memcmp(p, "\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", 8) == 0) {
        imp_errf(err, errlen,
                 "an old Excel workbook (.xls), not CSV: save it as \"CSV UTF-8\" "
                 "or as CSV");
        return 0;
    }
    size_t valid = imp_utf8_valid_len(p, n);
    if (valid == n || (!at_eof && cut_character(p + valid, n - valid) && n - valid < 4))
        return IMP_ENC_UTF8;
    if (converts_from_gb18030(p, n, at_eof))
        return IMP_ENC_GB18030;
    imp_errf(err, errlen, "not UTF-8 or GBK/GB18030 text; give --encoding");
    return 0;
}

bool imp_gb_to_utf8(iconv_t cd, const char *in, size_t n, char *out, size_t cap, size_t *out_len)
{
    iconv(cd, NULL, NULL, NULL, NULL); /* a fresh start for every field */
    char *ip = (char *)in;
    size_t ileft = n;
    char *op = out;
    size_t oleft = cap;
    if (iconv(cd, &ip, &ileft, &op, &oleft) == (size_t)-1 || iconv(cd, NULL, NULL, &op, &oleft) == (size_t)-1)
        return false;
    *out_len = cap - oleft;
    return true;
}

char *imp_field_text(const imp_field_src *src, char *f, char *out, size_t cap, size_t *used, char *err,
                     size_t errlen)
{
    size_t n = strlen(f);
    bool ascii = true;
    for (size_t k = 0; k < n && ascii; k++)
        ascii = (unsigned char)f[k] < 0x80;
    *used = 0;
    if (src->enc == IMP_ENC_GB18030 && !ascii) { /* ASCII is the same in both */
        size_t got;
        if (cap == 0 || !imp_gb_to_utf8(src->cd, f, n, out, cap - 1, &got)) {
            imp_errf(err, errlen, "line %ld, column %zu: not GBK/GB18030 text", src->line, src->column);
            return NULL;
        }
        out[got] = '\0';
        f = out, n = got, *used = got + 1;
    }
    const unsigned char *u = (const unsigned char *)f;
    if (!ascii && imp_utf8_valid_len(u, n) != n) {
        /* Read as UTF-8 because its start was ASCII, or because told so: either way the
         * likely cause is a GBK file. */
        const char *hint = src->ascii_start ? " (the file's start was plain ASCII, so it was "
                                              "read as UTF-8: if it is GBK, give --encoding GBK)"
                                            : " (if the file is GBK, give --encoding GBK)";
        imp_errf(err, errlen, "line %ld, column %zu: not UTF-8 text%s", src->line, src->column,
                 src->enc == IMP_ENC_UTF8 ? hint : "");
        return NULL;
    }
    uint32_t cp = imp_control_in(u, n, src->quoted);
    if (cp != 0) {
        imp_errf(err, errlen, "line %ld, column %zu: a control character (U+%04X)", src->line, src->column,
                 (unsigned)cp);
        return NULL;
    }
    return f;
}

/* How many of s's first n bytes to keep so no character is cut in two. */
static size_t utf8_cut(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    if (n > 0 && cut_character(p, n)) {
        while (n > 0 && (p[n - 1] & 0xc0) == 0x80)
            n--;
        if (n > 0)
            n--; /* the lead byte */
    }
    return n;
}

void imp_errf(char *err, size_t errlen, const char *fmt, ...)
{
    if (err == NULL || errlen == 0)
        return;
    char full[2 * IMP_ERR_MAX];
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(full, sizeof full, fmt, ap);
    va_end(ap);
    size_t len = w < 0 ? 0 : strlen(full);
    if (len > errlen - 1)
        len = errlen - 1;
    len = utf8_cut(full, len);
    memcpy(err, full, len);
    err[len] = '\0';
}

const char *imp_echo(const char *s, char *out, size_t max)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s), i = 0, o = 0;
    while (i < n) {
        uint32_t cp;
        size_t len = utf8_char(p + i, n - i, &cp);
        bool shown = len > 0 && cp >= 0x20 && !(cp >= 0x7f && cp <= 0x9f);
        size_t width = shown ? len : 1; /* what it takes in out: itself or '?' */
        if (o + width > max) {
            memcpy(out + o, "...", 3);
            o += 3;
            break;
        }
        if (shown)
            memcpy(out + o, s + i, len);
        else
            out[o] = '?';
        o += width;
        i += len > 0 ? len : 1;
    }
    out[o] = '\0';
    return out;
}

/* The length of the space character at the start of s[0..n), 0 when there is none. */
static size_t space_at(const unsigned char *p, size_t n)
{
    if (n >= 1 && (p[0] == ' ' || p[0] == '\t'))
        return 1;
    if (n >= 2 && p[0] == 0xc2 && p[1] == 0xa0) /* U+00A0, pasted from web pages */
        return 2;
    if (n >= 3 && p[0] == 0xe3 && p[1] == 0x80 && p[2] == 0x80) /* U+3000, typed with an IME */
        return 3;
    return 0;
}

/* The same at the end of s[0..n). */
static size_t space_before(const unsigned char *p, size_t n)
{
    if (n >= 1 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
        return 1;
    if (n >= 2 && space_at(p + n - 2, 2) == 2)
        return 2;
    if (n >= 3 && space_at(p + n - 3, 3) == 3)
        return 3;
    return 0;
}

const char *imp_trim(const char *s, size_t *len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s), k;
    while ((k = space_at(p, n)) > 0)
        p += k, n -= k;
    while ((k = space_before(p, n)) > 0)
        n -= k;
    *len = n;
    return (const char *)p;
}

bool imp_word_eq(const char *text, size_t len, const char *word)
{
    size_t i = 0;
    for (; i < len && word[i] != '\0'; i++) {
        unsigned char a = (unsigned char)text[i], b = (unsigned char)word[i];
        if (a >= 'A' && a <= 'Z')
            a = (unsigned char)(a - 'A' + 'a');
        if (b >= 'A' && b <= 'Z')
            b = (unsigned char)(b - 'A' + 'a');
        if (a != b)
            return false;
    }
    return i == len && word[i] == '\0';
}
