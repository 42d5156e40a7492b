/* What the files of import/ share and callers need not see: the encodings the reader
 * knows, text checks, conversion, and error formatting that never cuts a character. */
#ifndef IMPORT_PRIVATE_H
#define IMPORT_PRIVATE_H

#include <iconv.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum imp_enc { IMP_ENC_UTF8 = 1, IMP_ENC_GB18030 = 2 };

/* "UTF-8", "GBK", ... (any case) to an imp_enc; 0 when unknown. */
int imp_enc_parse(const char *name);
const char *imp_enc_name(int enc);

/* Decide the encoding from the first bytes of a file (BOM already looked at): UTF-8 when
 * they are valid UTF-8, else GB18030 when they convert, else 0 with a message. A
 * character cut by the end of p is allowed unless at_eof. *ascii_only says all of p was
 * ASCII, so the guess of UTF-8 rests on nothing. */
int imp_enc_detect(const unsigned char *p, size_t n, bool at_eof, bool *ascii_only, char *err, size_t errlen);

/* Strict UTF-8: bytes of p[0..n) that form whole, well-formed characters (no overlongs,
 * surrogates or code points past U+10FFFF); returns that length, n when all of it is. */
size_t imp_utf8_valid_len(const unsigned char *p, size_t n);

/* First control character in UTF-8 text (C0, DEL, C1), CR and LF allowed when
 * newlines_ok; returns its code point, or 0 when there is none (p must be valid). */
uint32_t imp_control_in(const unsigned char *p, size_t n, bool newlines_ok);

/* GB18030 bytes to UTF-8 with cd (GB18030 -> UTF-8); *out_len gets the length written.
 * false when the bytes are not GB18030 or out is too small. */
bool imp_gb_to_utf8(iconv_t cd, const char *in, size_t n, char *out, size_t cap, size_t *out_len);

/* Where a field came from, for imp_field_text. */
typedef struct {
    int enc;
    iconv_t cd;       /* GB18030 -> UTF-8, for a GB18030 file */
    bool ascii_start; /* the encoding was decided on ASCII alone */
    long line;
    size_t column; /* 1-based */
    bool quoted;   /* CR and LF are allowed in a quoted field */
} imp_field_src;

/* Field f as UTF-8 text without control characters: f itself when it is that already,
 * else converted into out[0..cap) (*used gets the bytes taken there). NULL, with a
 * message naming line and column, when it is not text. */
char *imp_field_text(const imp_field_src *src, char *f, char *out, size_t cap, size_t *used, char *err,
                     size_t errlen);

/* snprintf into err, cut on a character boundary so a message is always valid UTF-8. */
void imp_errf(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* A value to quote in a message: at most max bytes of s, whole characters only, control
 * characters shown as '?', "..." when cut. out must hold max + 4 bytes. */
const char *imp_echo(const char *s, char *out, size_t max);

/* s without the spaces around it (ASCII space and tab, U+3000 ideographic space, U+00A0
 * no-break space); *len gets the length of what is left. */
const char *imp_trim(const char *s, size_t *len);

/* text[0..len) is word, ASCII letters in any case; other bytes (Chinese) must be equal. */
bool imp_word_eq(const char *text, size_t len, const char *word);

#endif
