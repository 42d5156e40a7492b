/* How the gongji tool prints: text from a node made safe for a terminal or for JSON,
 * dates, times and enum names, human output (label/value lines and tables) and JSON
 * output (fields, arrays, the one object printed), and the printers several commands
 * share. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "cli_internal.h"
#include "gj_names.h"
#include "gj_util.h"

/* Length of the valid UTF-8 sequence at p, or 0 when it is not one. Stops at the NUL,
 * which is never a continuation byte. */
static size_t cli_utf8_len(const unsigned char *p)
{
    unsigned char c = p[0], lo = 0x80, hi = 0xBF;
    size_t len;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        len = 2;
    else if (c == 0xE0)
        len = 3, lo = 0xA0; /* no overlong forms */
    else if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF)
        len = 3;
    else if (c == 0xED)
        len = 3, hi = 0x9F; /* no surrogates */
    else if (c == 0xF0)
        len = 4, lo = 0x90;
    else if (c >= 0xF1 && c <= 0xF3)
        len = 4;
    else if (c == 0xF4)
        len = 4, hi = 0x8F; /* nothing above U+10FFFF */
    else
        return 0;
    if (p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if ((p[i] & 0xC0) != 0x80)
            return 0;
    return len;
}

/* A copy of text from the node that is safe to print: invalid UTF-8 becomes U+FFFD
 * (cJSON would otherwise emit invalid JSON); for a terminal, control characters
 * become '?' so an answer cannot drive the operator's terminal. Caller frees. */
char *cli_clean(const char *s, bool for_json)
{
    if (s == NULL)
        s = "";
    size_t n = strlen(s);
    char *out = malloc(n * 3 + 1); /* each bad byte may become 3 */
    if (out == NULL)
        return NULL;
    const unsigned char *p = (const unsigned char *)s;
    char *o = out;
    while (*p != '\0') {
        size_t len = cli_utf8_len(p);
        if (len == 0) {
            memcpy(o, "\xEF\xBF\xBD", 3);
            o += 3;
            p++;
        } else if (!for_json && (p[0] < 0x20 || p[0] == 0x7F ||
                                 (len == 2 && p[0] == 0xC2 && p[1] < 0xA0))) {
            *o++ = '?'; /* C0, DEL and C1 controls */
            p += len;
        } else {
            memcpy(o, p, len);
            o += len;
            p += len;
        }
    }
    *o = '\0';
    return out;
}

const char *cli_date_text(int32_t d, char buf[16])
{
    if (d == 0)
        return "-";
    if (!gj_date_valid(d))
        snprintf(buf, 16, "%d", (int)d);
    else
        snprintf(buf, 16, "%04d-%02d-%02d", (int)(d / 10000), (int)(d / 100 % 100),
                 (int)(d % 100));
    return buf;
}

/* "10:15:03" in China Standard Time, or "-" for 0. */
const char *cli_time_text(int64_t unix_ms, char buf[16])
{
    if (unix_ms <= 0)
        return "-";
    time_t t = (time_t)(unix_ms / 1000 + 8 * 3600);
    struct tm tm;
    if (gmtime_r(&t, &tm) == NULL)
        return "-";
    snprintf(buf, 16, "%02d:%02d:%02d", tm.tm_hour, tm.tm_min, tm.tm_sec);
    return buf;
}

/* Lower-case proto name of an enum value ("maternal_grandparent"), or the number. */
const char *cli_enum_text(const ProtobufCEnumDescriptor *desc, int v, char buf[40])
{
    const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(desc, v);
    if (ev == NULL || ev->name == NULL) {
        snprintf(buf, 40, "%d", v);
        return buf;
    }
    size_t i = 0;
    for (; i < 39 && ev->name[i] != '\0'; i++)
        buf[i] = (ev->name[i] >= 'A' && ev->name[i] <= 'Z') ? (char)(ev->name[i] - 'A' + 'a')
                                                            : ev->name[i];
    buf[i] = '\0';
    return buf;
}

/* Relations and uses are named as gj_names.h names them, so the CLI reads what it writes. */
const char *cli_relation_text(int v, char buf[40])
{
    const char *n = (v >= 1 && v <= GJ_REL_MAX) ? gj_relation_name(v) : NULL;
    return (n != NULL && *n != '\0') ? n : cli_enum_text(&gongji__v1__relation__descriptor, v, buf);
}

const char *cli_use_text(int v, char buf[40])
{
    const char *n = (v >= 1 && v <= GJ_USE_MAX) ? gj_use_name(v) : NULL;
    return (n != NULL && *n != '\0') ? n : cli_enum_text(&gongji__v1__use_type__descriptor, v, buf);
}

const char *cli_status_text(int v, char buf[40])
{
    return cli_enum_text(&gongji__v1__person_status__descriptor, v, buf);
}

/* ---- human output ---- */


void h_text(const char *label, const char *value)
{
    char *t = cli_clean(value, false);
    printf(H_LABEL "%s\n", label, t != NULL ? t : "?");
    free(t);
}

void h_amount(const char *label, int64_t fen)
{
    char buf[32];
    printf(H_LABEL "%10s\n", label, gj_yuan_format(fen, buf));
}

void h_date(const char *label, int32_t d)
{
    char buf[16];
    printf(H_LABEL "%s\n", label, cli_date_text(d, buf));
}

void h_u64(const char *label, uint64_t v)
{
    printf(H_LABEL "%llu\n", label, (unsigned long long)v);
}

void h_bool(const char *label, bool v)
{
    printf(H_LABEL "%s\n", label, v ? "yes" : "no");
}

/* A small table whose columns size to their widest cell. */

void table_add(cli_table *t, const char *const *row)
{
    if (t->oom)
        return;
    if (t->rows == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        char **cells = realloc(t->cells, cap * t->cols * sizeof *cells);
        if (cells == NULL) {
            t->oom = true;
            return;
        }
        t->cells = cells;
        t->cap = cap;
    }
    for (size_t c = 0; c < t->cols; c++)
        t->cells[t->rows * t->cols + c] = cli_clean(row[c], false);
    t->rows++;
}

void table_print(cli_table *t, const char *indent)
{
    size_t w[CLI_TABLE_COLS];
    for (size_t c = 0; c < t->cols; c++)
        w[c] = strlen(t->head[c]);
    for (size_t r = 0; r < t->rows; r++)
        for (size_t c = 0; c < t->cols; c++) {
            const char *s = t->cells[r * t->cols + c];
            size_t n = s != NULL ? strlen(s) : 1;
            if (n > w[c])
                w[c] = n;
        }
    for (size_t r = 0; r <= t->rows; r++) {
        char *const *row = r == 0 ? NULL : &t->cells[(r - 1) * t->cols];
        /* Stop after the last cell with text, so a row with empty trailing cells (a
         * settlement's part lines) ends without blanks. */
        size_t end = t->cols;
        while (row != NULL && end > 1 && row[end - 1] != NULL && row[end - 1][0] == '\0')
            end--;
        fputs(indent, stdout);
        for (size_t c = 0; c < end; c++) {
            const char *s = r == 0 ? t->head[c] : row[c];
            if (s == NULL)
                s = "?";
            bool last = c + 1 == end;
            if (t->right[c])
                printf("%*s", (int)w[c], s);
            else if (last)
                fputs(s, stdout);
            else
                printf("%-*s", (int)w[c], s);
            if (!last)
                fputs("  ", stdout);
        }
        fputc('\n', stdout);
    }
    if (t->oom)
        fputs("gongji: out of memory: some rows not shown\n", stderr);
}

void table_free(cli_table *t)
{
    for (size_t i = 0; i < t->rows * t->cols; i++)
        free(t->cells[i]);
    free(t->cells);
    t->cells = NULL;
    t->rows = t->cap = 0;
}

/* ---- JSON output ---- */

void j_text(cJSON *o, const char *name, const char *value)
{
    char *t = cli_clean(value, true);
    cJSON_AddStringToObject(o, name, t != NULL ? t : "");
    free(t);
}

void j_amount(cJSON *o, const char *name, int64_t fen)
{
    char buf[32];
    cJSON_AddStringToObject(o, name, gj_yuan_format(fen, buf));
}

void j_date(cJSON *o, const char *name, int32_t d)
{
    char buf[16];
    if (d == 0)
        cJSON_AddNullToObject(o, name);
    else if (!gj_date_valid(d))
        cJSON_AddRawToObject(o, name, cli_date_text(d, buf)); /* a number, as sent */
    else
        cJSON_AddStringToObject(o, name, cli_date_text(d, buf));
}

/* Integers go out as raw text: cJSON holds numbers as double, which loses digits. */
void j_i64(cJSON *o, const char *name, int64_t v)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%lld", (long long)v);
    cJSON_AddRawToObject(o, name, buf);
}

void j_u64(cJSON *o, const char *name, uint64_t v)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)v);
    cJSON_AddRawToObject(o, name, buf);
}

void j_add(cJSON *o, const char *name, cJSON *item)
{
    if (item == NULL)
        cJSON_AddNullToObject(o, name);
    else
        cJSON_AddItemToObject(o, name, item);
}

cJSON *j_strings(char **v, size_t n)
{
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; a != NULL && i < n; i++) {
        char *t = cli_clean(v[i], true);
        cJSON_AddItemToArray(a, cJSON_CreateString(t != NULL ? t : ""));
        free(t);
    }
    return a;
}

int j_emit(cJSON *root)
{
    char *s = root != NULL ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    if (s == NULL) {
        fputs("gongji: out of memory while printing JSON\n", stderr);
        return CLI_EXIT_NODE;
    }
    puts(s);
    cJSON_free(s);
    return CLI_EXIT_OK;
}

/* Sponsor parts of a settlement, or the refunds of a revoke. */
cJSON *j_parts(Gongji__V1__SponsorPart **v, size_t n)
{
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; a != NULL && i < n; i++) {
        const Gongji__V1__SponsorPart *sp = v[i];
        cJSON *po = sp != NULL ? cJSON_CreateObject() : cJSON_CreateNull();
        if (sp != NULL) {
            j_text(po, "sponsor_psn_no", sp->sponsor_psn_no);
            j_text(po, "sponsor_admdvs", sp->sponsor_admdvs);
            j_amount(po, "amount", sp->amount);
        }
        cJSON_AddItemToArray(a, po);
    }
    return a;
}

/* One line per sponsor part: "<label>  30.00  <psn_no> (<region>)". */
void h_parts(const char *label, Gongji__V1__SponsorPart **v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const Gongji__V1__SponsorPart *sp = v[i];
        if (sp == NULL)
            continue;
        char buf[32];
        char *who = cli_clean(sp->sponsor_psn_no, false);
        char *reg = cli_clean(sp->sponsor_admdvs, false);
        printf(H_LABEL "%10s  %s (%s)\n", label, gj_yuan_format(sp->amount, buf), who ? who : "?",
               reg ? reg : "?");
        free(who);
        free(reg);
    }
}

/* "a, b, c" wrapped before column 80; col is where the list starts, indent where
 * continuation lines start. */
void cli_list_names(FILE *f, const char *(*name)(int), int max, size_t col,
                    size_t indent)
{
    for (int v = 1; v <= max; v++) {
        const char *n = name(v);
        if (n == NULL)
            n = "?";
        size_t len = strlen(n) + (v < max ? 1 : 0);
        if (v > 1) {
            if (col + 1 + len > 79) {
                fprintf(f, "\n%*s", (int)indent, "");
                col = indent;
            } else {
                fputc(' ', f);
                col++;
            }
        }
        fprintf(f, "%s%s", n, v < max ? "," : "");
        col += len;
    }
}
