/* Text built piece by piece, and lists of text lines: what the CLI's output, the
 * audit check (client/audit_check.h) and the /metrics pages build their text with.
 * Neither prints anything. */
#ifndef GJ_TEXTBUF_H
#define GJ_TEXTBUF_H

#include <stdbool.h>
#include <stddef.h>

/* Text built piece by piece; on out of memory it stays NULL and says so. */
typedef struct text_buf {
    char *s;
    size_t len, cap;
    bool oom;
} text_buf;

void text_addf(text_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A list of report lines, kept raw and cleaned when printed. A line that could not be
 * stored still counts (lost), so a failure is never dropped from the totals. */
typedef struct text_lines {
    char **v;
    size_t n, cap, lost;
} text_lines;

size_t text_lines_count(const text_lines *l);
/* Takes b's text, and leaves b empty. */
void text_lines_take(text_lines *l, text_buf *b);
void text_lines_add(text_lines *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void text_lines_free(text_lines *l);

#endif
