/* Text built piece by piece, and lists of text lines (textbuf.h). */
#include "textbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

void text_addf(text_buf *b, const char *fmt, ...)
{
    if (b->oom)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->oom = true;
        return;
    }
    if (b->len + (size_t)n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 128;
        while (cap < b->len + (size_t)n + 1)
            cap *= 2;
        char *s = realloc(b->s, cap);
        if (s == NULL) {
            b->oom = true;
            return;
        }
        b->s = s;
        b->cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

size_t text_lines_count(const text_lines *l)
{
    return l->n + l->lost;
}

/* Takes b's text. */
void text_lines_take(text_lines *l, text_buf *b)
{
    if (b->oom || b->s == NULL) {
        free(b->s);
        l->lost++;
    } else if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        char **v = realloc(l->v, cap * sizeof *v);
        if (v == NULL) {
            free(b->s);
            l->lost++;
        } else {
            l->v = v;
            l->cap = cap;
            l->v[l->n++] = b->s;
        }
    } else {
        l->v[l->n++] = b->s;
    }
    *b = (text_buf){0};
}

void text_lines_add(text_lines *l, const char *fmt, ...)
{
    text_buf b = {0};
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    b.s = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (b.s == NULL) {
        b.oom = true;
    } else {
        va_start(ap, fmt);
        vsnprintf(b.s, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    text_lines_take(l, &b);
}

void text_lines_free(text_lines *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    *l = (text_lines){0};
}
