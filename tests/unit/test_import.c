/* Unit tests of import/'s reading: the strict CSV reader (quotes, line ends, BOM,
 * bounds, errors and how reading goes on after them, lines and offsets) and encodings
 * (UTF-8, GBK and GB18030, decided or given). Header names, values and the duplicate
 * detector are in test_import_values.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "gj_limits.h"
#include "gj_names.h"
#include "gj_util.h"
#include "import.h"
#include "import_fixture.h"

#include <iconv.h>
#include <stdio.h>
#include <stdlib.h>

/* ---- helpers ---- */


/* A real file (offsets come from ftello) holding n bytes of data, at its start. */
static FILE *file_of(const void *data, size_t n)
{
    FILE *f = tmpfile();
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    rewind(f);
    return f;
}

typedef struct {
    FILE *f;
    imp_reader *r;
    char **fields;
    size_t count;
    long line;
    long long offset;
} reading;

static void open_bytes(reading *rd, const void *data, size_t n, const char *encoding)
{
    char err[IMP_ERR_MAX];
    memset(rd, 0, sizeof *rd);
    rd->f = file_of(data, n);
    if (imp_reader_open(&rd->r, rd->f, encoding, err, sizeof err) != 0)
        fail_msg("open: %s", err);
}

static void open_text(reading *rd, const char *text)
{
    open_bytes(rd, text, strlen(text), NULL);
}

static int next(reading *rd)
{
    return imp_reader_next(rd->r, &rd->fields, &rd->count, &rd->line, &rd->offset);
}

static void close_reading(reading *rd)
{
    imp_reader_close(rd->r);
    fclose(rd->f);
}

/* The next record is at line and offset, and holds exactly the fields given (NULL ends
 * them). */
static void expect_record(reading *rd, long line, long long offset, ...)
{
    int rc = next(rd);
    if (rc != IMP_RECORD)
        fail_msg("expected a record at line %ld, got %d (%s)", line, rc, imp_reader_error(rd->r));
    assert_int_equal(rd->line, line);
    assert_int_equal(rd->offset, offset);
    va_list ap;
    va_start(ap, offset);
    size_t i = 0;
    for (const char *want; (want = va_arg(ap, const char *)) != NULL; i++) {
        assert_true(i < rd->count);
        assert_string_equal(rd->fields[i], want);
    }
    va_end(ap);
    assert_int_equal(rd->count, i);
}

/* The next record is bad, at line, with a message that says part. */
static void expect_bad(reading *rd, long line, const char *part)
{
    int rc = next(rd);
    if (rc != IMP_BAD)
        fail_msg("expected a bad record at line %ld, got %d", line, rc);
    assert_int_equal(rd->line, line);
    assert_has(imp_reader_error(rd->r), part);
}

static void expect_end(reading *rd)
{
    assert_int_equal(next(rd), IMP_END);
    assert_int_equal(next(rd), IMP_END); /* and stays there */
}

/* text converted from UTF-8 with iconv, as an office's Windows would have saved it. */
static size_t convert_to(const char *to, const char *text, char *out, size_t cap)
{
    iconv_t cd = iconv_open(to, "UTF-8");
    assert_true(cd != (iconv_t)-1);
    char *in = (char *)text, *o = out;
    size_t ileft = strlen(text), oleft = cap;
    assert_true(iconv(cd, &in, &ileft, &o, &oleft) != (size_t)-1);
    iconv_close(cd);
    return cap - oleft;
}

/* ---- CSV ---- */

static void test_quoted_fields_hold_commas_quotes_and_newlines(void **state)
{
    (void)state;
    reading rd;
    open_text(&rd, "a,\"b,c\",\"say \"\"hi\"\"\",\"one\ntwo\",\"\"\n"
                   "\"\"\"\",x\n");
    expect_record(&rd, 1, 0, "a", "b,c", "say \"hi\"", "one\ntwo", "", NULL);
    expect_record(&rd, 3, 34, "\"", "x", NULL);
    expect_end(&rd);
    close_reading(&rd);
}

static void test_crlf_and_lf_line_ends(void **state)
{
    (void)state;
    reading rd;
    /* CRLF, LF, a CRLF kept inside quotes, a lone CR inside quotes, no end at the end. */
    open_text(&rd, "a,b\r\nc,d\n\"e\r\nf\",g\r\n\"h\ri\",j\r\nk,l");
    expect_record(&rd, 1, 0, "a", "b", NULL);
    expect_record(&rd, 2, 5, "c", "d", NULL);
    expect_record(&rd, 3, 9, "e\r\nf", "g", NULL);
    expect_record(&rd, 5, 19, "h\ri", "j", NULL);
    expect_record(&rd, 6, 28, "k", "l", NULL);
    expect_end(&rd);
    close_reading(&rd);
}

static void test_lone_cr_outside_quotes_is_bad(void **state)
{
    (void)state;
    reading rd;
    open_text(&rd, "a\rb,c\nd,e\n");
    expect_bad(&rd, 1, "carriage return (CR) without a line feed");
    expect_record(&rd, 2, 6, "d", "e", NULL);
    expect_end(&rd);
    close_reading(&rd);
}

static void test_bom_is_skipped(void **state)
{
    (void)state;
    reading rd;
    open_text(&rd, "\xef\xbb\xbfpsn_no,certno\nP1,C1\n");
    assert_string_equal(imp_reader_encoding(rd.r), "UTF-8");
    expect_record(&rd, 1, 3, "psn_no", "certno", NULL); /* the offset is past the BOM */
    expect_record(&rd, 2, 17, "P1", "C1", NULL);
    expect_end(&rd);
    close_reading(&rd);
}

static void test_blank_lines_skipped_and_spaces_trimmed(void **state)
{
    (void)state;
    reading rd;
    open_text(&rd, "\n  \r\n a b ,\t\"  c \" \n\t\n\"\"\n ,\n");
    expect_record(&rd, 3, 5, "a b", "  c ", NULL); /* spaces inside quotes are data */
    expect_record(&rd, 5, 22, "", NULL);           /* a quoted empty field is no blank line */
    expect_record(&rd, 6, 25, "", "", NULL);
    expect_end(&rd);
    close_reading(&rd);
}

static void test_empty_file_and_bom_only(void **state)
{
    (void)state;
    reading rd;
    open_text(&rd, "");
    assert_string_equal(imp_reader_encoding(rd.r), "UTF-8");
    expect_end(&rd);
    close_reading(&rd);
    open_text(&rd, "\xef\xbb\xbf");
    expect_end(&rd);
    close_reading(&rd);
}

static void test_unclosed_quote_names_its_line_and_reading_goes_on(void **state)
{
    (void)state;
    reading rd;
    open_text(&rd, "a,b\nc,\"d\ne,f\ng,h\n");
    expect_record(&rd, 1, 0, "a", "b", NULL);
    expect_bad(&rd, 2, "line 2: the quote opened on line 2 (column 2) is never closed");
    assert_has(imp_reader_error(rd.r), "goes on at line 3");
    assert_int_equal(rd.offset, 4);
    expect_record(&rd, 3, 9, "e", "f", NULL);
    expect_record(&rd, 4, 13, "g", "h", NULL);
    expect_end(&rd);
    close_reading(&rd);
    /* Told even when the record was bad before the quote: it explains what comes next. */
    open_bytes(&rd, "a\0,\"b\nc\n", 8, NULL);
    expect_bad(&rd, 1, "line 1: the quote opened on line 1 (column 2) is never closed");
    expect_record(&rd, 2, 6, "c", NULL);
    expect_end(&rd);
    close_reading(&rd);
}

/* A quote that never closes in a large file: the record grows past the bound, not to the
 * end of the file, and reading goes on at the line after its first. */
static void test_unclosed_quote_in_a_large_file(void **state)
{
    (void)state;
    size_t lines = 20000, cap = 16 + lines * 8;
    char *text = malloc(cap);
    assert_non_null(text);
    size_t n = (size_t)snprintf(text, cap, "h\n\"x\n");
    for (size_t i = 0; i < lines; i++)
        n += (size_t)snprintf(text + n, cap - n, "r%05zu\n", i);
    reading rd;
    open_bytes(&rd, text, n, NULL);
    expect_record(&rd, 1, 0, "h", NULL);
    expect_bad(&rd, 2, "line 2: record longer than 65536 bytes (is a quote never closed?)");
    expect_record(&rd, 3, 5, "r00000", NULL);
    for (size_t i = 1; i < lines; i++)
        assert_int_equal(next(&rd), IMP_RECORD);
    assert_int_equal(rd.line, (long)lines + 2);
    expect_end(&rd);
    close_reading(&rd);
    free(text);
}

static void test_record_longer_than_the_bound(void **state)
{
    (void)state;
    size_t cap = 4 * IMP_RECORD_MAX;
    char *text = malloc(cap);
    assert_non_null(text);
    size_t n = 0;
    memcpy(text, "a,b\n", 4), n += 4;
    memset(text + n, 'x', IMP_RECORD_MAX), n += IMP_RECORD_MAX; /* exactly the bound: fine */
    memcpy(text + n, "\r\n", 2), n += 2;
    memset(text + n, 'y', IMP_RECORD_MAX + 1), n += IMP_RECORD_MAX + 1; /* one past it */
    memcpy(text + n, "\n", 1), n += 1;
    memset(text + n, 'z', IMP_RECORD_MAX + 5000), n += IMP_RECORD_MAX + 5000; /* far past */
    memcpy(text + n, "\nc,d\n", 5), n += 5;
    reading rd;
    open_bytes(&rd, text, n, NULL);
    expect_record(&rd, 1, 0, "a", "b", NULL);
    assert_int_equal(next(&rd), IMP_RECORD);
    assert_int_equal(strlen(rd.fields[0]), IMP_RECORD_MAX);
    expect_bad(&rd, 3, "line 3: record longer than 65536 bytes");
    assert_int_equal(rd.offset, 4 + IMP_RECORD_MAX + 2);
    expect_bad(&rd, 4, "line 4: record longer than 65536 bytes");
    expect_record(&rd, 5, (long long)n - 4, "c", "d", NULL);
    expect_end(&rd);
    close_reading(&rd);
    free(text);
}

static void test_too_many_fields(void **state)
{
    (void)state;
    char text[1024];
    size_t n = 0;
    for (int i = 0; i < IMP_FIELDS_MAX; i++)
        text[n++] = 'f', text[n++] = i + 1 < IMP_FIELDS_MAX ? ',' : '\n';
    for (int i = 0; i <= IMP_FIELDS_MAX; i++)
        text[n++] = 'g', text[n++] = i < IMP_FIELDS_MAX ? ',' : '\n';
    memcpy(text + n, "ok\n", 3), n += 3;
    reading rd;
    open_bytes(&rd, text, n, NULL);
    assert_int_equal(next(&rd), IMP_RECORD);
    assert_int_equal(rd.count, IMP_FIELDS_MAX);
    expect_bad(&rd, 2, "line 2: more than 64 fields");
    expect_record(&rd, 3, 2 * IMP_FIELDS_MAX + 2 * (IMP_FIELDS_MAX + 1), "ok", NULL);
    expect_end(&rd);
    close_reading(&rd);
}

static void test_nul_byte_is_an_error(void **state)
{
    (void)state;
    static const char text[] = "a,b\nc,d\0e\nf,g\n";
    reading rd;
    open_bytes(&rd, text, sizeof text - 1, NULL);
    expect_record(&rd, 1, 0, "a", "b", NULL);
    expect_bad(&rd, 2, "line 2, column 2: a NUL byte");
    expect_record(&rd, 3, 10, "f", "g", NULL);
    expect_end(&rd);
    close_reading(&rd);
}

static void test_stray_quotes_are_errors(void **state)
{
    (void)state;
    reading rd;
    open_text(&rd, "ab\"c,d\n\"e\"f,g\n\"h\"  ,i\n");
    expect_bad(&rd, 1, "line 1, column 1: a quote inside a field that does not start with one");
    expect_bad(&rd, 2, "line 2, column 1: text after the closing quote");
    expect_record(&rd, 3, 14, "h", "i", NULL); /* spaces after a closing quote are fine */
    expect_end(&rd);
    close_reading(&rd);
}

static void test_control_characters_refused_outside_quoted_newlines(void **state)
{
    (void)state;
    reading rd;
    open_text(&rd, "a\tb,c\n\"d\x01\",e\nf,\"g\nh\"\n");
    expect_bad(&rd, 1, "line 1, column 1: a control character (U+0009)");
    expect_bad(&rd, 2, "line 2, column 1: a control character (U+0001)");
    expect_record(&rd, 3, 13, "f", "g\nh", NULL);
    expect_end(&rd);
    close_reading(&rd);
}

/* Lines and offsets of records of every shape, over many chunks: each record read where
 * the writer put it, and read again by a reader opened at its offset. Fields are made
 * at random (fixed seed) of commas, quotes, CR, LF, spaces and Chinese. */
static void test_lines_and_offsets_across_chunks_and_quoted_lines(void **state)
{
    (void)state;
    enum { RECORDS = 20000 };
    static const char *const pieces[] = {"a", "b", ",", "\"", "\n", "\r\n", "\r", " ", "张", "1"};
    size_t cap = RECORDS * 400;
    char *text = malloc(cap);
    long *lines = malloc(RECORDS * sizeof *lines);
    long long *offsets = malloc(RECORDS * sizeof *offsets);
    char(*first)[64] = malloc(RECORDS * sizeof *first);
    assert_non_null(text), assert_non_null(lines), assert_non_null(offsets), assert_non_null(first);
    srand(20261122);
    size_t n = 0;
    long line = 1;
    for (int r = 0; r < RECORDS; r++) {
        lines[r] = line, offsets[r] = (long long)n;
        int nf = 1 + rand() % 5;
        for (int f = 0; f < nf; f++) {
            char field[64] = "";
            size_t fl = 0;
            for (int k = rand() % 6; k > 0; k--) {
                const char *p = pieces[rand() % 10];
                memcpy(field + fl, p, strlen(p)), fl += strlen(p);
            }
            field[fl] = '\0';
            bool must = strpbrk(field, ",\"\r\n") != NULL ||
                        (fl > 0 && (field[0] == ' ' || field[fl - 1] == ' ')) || (nf == 1 && fl == 0);
            if (f == 0)
                strcpy(first[r], field);
            if (f > 0)
                text[n++] = ',';
            if (must || rand() % 4 == 0) {
                text[n++] = '"';
                for (size_t k = 0; k < fl; k++) {
                    if (field[k] == '"')
                        text[n++] = '"';
                    if (field[k] == '\n')
                        line++;
                    text[n++] = field[k];
                }
                text[n++] = '"';
            } else {
                memcpy(text + n, field, fl), n += fl;
            }
        }
        const char *end = rand() % 2 ? "\r\n" : "\n";
        memcpy(text + n, end, strlen(end)), n += strlen(end);
        line++;
    }
    assert_true(n > 3 * IMP_CHUNK);
    reading rd;
    open_bytes(&rd, text, n, NULL);
    for (int r = 0; r < RECORDS; r++) {
        assert_int_equal(next(&rd), IMP_RECORD);
        assert_int_equal(rd.line, lines[r]);
        assert_int_equal(rd.offset, offsets[r]);
        assert_string_equal(rd.fields[0], first[r]);
    }
    expect_end(&rd);
    /* Resume at a record in the middle, as a caller would after a stop. */
    int r = RECORDS / 2 + 7;
    assert_int_equal(fseeko(rd.f, offsets[r], SEEK_SET), 0);
    imp_reader *again;
    char err[IMP_ERR_MAX];
    assert_int_equal(imp_reader_open(&again, rd.f, "UTF-8", err, sizeof err), 0);
    imp_reader_set_line(again, lines[r]);
    for (; r < RECORDS; r++) {
        assert_int_equal(imp_reader_next(again, &rd.fields, &rd.count, &rd.line, &rd.offset), IMP_RECORD);
        assert_int_equal(rd.line, lines[r]);
        assert_int_equal(rd.offset, offsets[r]);
        assert_string_equal(rd.fields[0], first[r]);
    }
    imp_reader_close(again);
    close_reading(&rd);
    free(text), free(lines), free(offsets), free(first);
}

/* Whatever the bytes, reading ends, never crashes (the sanitizer build watches), and
 * every answer starts further into the file than the one before. */
static void test_any_bytes_end_in_order(void **state)
{
    (void)state;
    static const char alphabet[] = ",\"\r\n a\0\xd5\xc5\xff\t";
    srand(7);
    for (int round = 0; round < 3000; round++) {
        char text[300];
        size_t n = (size_t)(rand() % (int)sizeof text);
        for (size_t i = 0; i < n; i++)
            text[i] = alphabet[rand() % (int)(sizeof alphabet - 1)];
        FILE *f = file_of(text, n);
        imp_reader *r;
        char err[IMP_ERR_MAX];
        if (imp_reader_open(&r, f, round % 2 ? "GB18030" : "UTF-8", err, sizeof err) != 0) {
            fclose(f);
            continue; /* a UTF-8 BOM with GB18030 given */
        }
        long last_line = 0;
        long long last_offset = -1;
        int rc, answers = 0;
        char **fields;
        size_t count;
        long line;
        long long offset;
        while ((rc = imp_reader_next(r, &fields, &count, &line, &offset)) != IMP_END) {
            assert_true(rc == IMP_RECORD || rc == IMP_BAD);
            assert_true(line > last_line && offset > last_offset);
            assert_true(offset < (long long)n);
            last_line = line, last_offset = offset;
            assert_true(++answers <= (int)n);
        }
        imp_reader_close(r);
        fclose(f);
    }
}

static void test_read_error_fails(void **state)
{
    (void)state;
    FILE *w = fopen("/dev/null", "w"); /* reading a file opened for writing fails */
    assert_non_null(w);
    imp_reader *r;
    char err[IMP_ERR_MAX];
    assert_int_equal(imp_reader_open(&r, w, NULL, err, sizeof err), -1);
    assert_has(err, "reading the file failed");
    fclose(w);
}

/* ---- encodings ---- */

static void test_gbk_file_detected_and_converted(void **state)
{
    (void)state;
    char gbk[256];
    size_t n = convert_to("GBK", "姓名,身份证号\n张三,430102199001011234\n", gbk, sizeof gbk);
    assert_int_equal(n, 38); /* 2 bytes a Chinese character */
    reading rd;
    open_bytes(&rd, gbk, n, NULL);
    assert_string_equal(imp_reader_encoding(rd.r), "GB18030");
    expect_record(&rd, 1, 0, "姓名", "身份证号", NULL);
    expect_record(&rd, 2, 14, "张三", "430102199001011234", NULL);
    expect_end(&rd);
    close_reading(&rd);
}

static void test_gbk_given_explicitly(void **state)
{
    (void)state;
    char gbk[256];
    size_t n = convert_to("GBK", "张三,430102199001011234\n\"李,四\",￥1\n", gbk, sizeof gbk);
    for (int i = 0; i < 3; i++) {
        reading rd;
        open_bytes(&rd, gbk, n, (const char *[]){"GBK", "gb18030", "GB2312"}[i]);
        assert_string_equal(imp_reader_encoding(rd.r), "GB18030");
        expect_record(&rd, 1, 0, "张三", "430102199001011234", NULL);
        expect_record(&rd, 2, 24, "李,四", "￥1", NULL);
        expect_end(&rd);
        close_reading(&rd);
    }
    /* Told UTF-8, the same bytes are refused, with the likely cause. */
    reading rd;
    open_bytes(&rd, gbk, n, "UTF-8");
    expect_bad(&rd, 1, "line 1, column 1: not UTF-8 text (if the file is GBK, give --encoding GBK)");
    close_reading(&rd);
}

/* A character GBK lacks (U+20BB7) takes four bytes in GB18030. */
static void test_gb18030_four_byte_characters(void **state)
{
    (void)state;
    char gb[64];
    size_t n = convert_to("GB18030", "𠮷野,1\n", gb, sizeof gb);
    assert_int_equal(n, 4 + 2 + 3);
    reading rd;
    open_bytes(&rd, gb, n, NULL);
    assert_string_equal(imp_reader_encoding(rd.r), "GB18030");
    expect_record(&rd, 1, 0, "𠮷野", "1", NULL);
    close_reading(&rd);
    /* and one that becomes a control character (U+0080) is refused */
    open_bytes(&rd, "a,\x81\x30\x81\x30\n", 7, "GB18030");
    expect_bad(&rd, 1, "line 1, column 2: a control character (U+0080)");
    close_reading(&rd);
}

static void test_bad_field_in_gbk_file_names_line_and_column(void **state)
{
    (void)state;
    reading rd;
    open_bytes(&rd, "a,b\n\xd5\xc5,c\nd,\x81\x20x\ne,f\n", 19, "GBK");
    expect_record(&rd, 1, 0, "a", "b", NULL);
    expect_record(&rd, 2, 4, "张", "c", NULL);
    expect_bad(&rd, 3, "line 3, column 2: not GBK/GB18030 text");
    expect_record(&rd, 4, 15, "e", "f", NULL);
    expect_end(&rd);
    close_reading(&rd);
}

/* Detection looks at the first chunk, whose end may cut a character in two; a file
 * whose start is ASCII is read as UTF-8, and a GBK byte later says how to read it. */
static void test_detection_over_a_chunk_boundary(void **state)
{
    (void)state;
    size_t lines = IMP_CHUNK / 7 + 10, cap = 16 + lines * 10;
    char *text = malloc(cap);
    assert_non_null(text);
    /* GBK: "abcde\n" then "张三,1\n" (7 bytes): the chunk ends after 三's first byte. */
    size_t n = 0;
    memcpy(text, "abcde\n", 6), n = 6;
    for (size_t i = 0; i < lines; i++)
        memcpy(text + n, "\xd5\xc5\xc8\xfd,1\n", 7), n += 7;
    reading rd;
    open_bytes(&rd, text, n, NULL);
    assert_string_equal(imp_reader_encoding(rd.r), "GB18030");
    expect_record(&rd, 1, 0, "abcde", NULL);
    for (size_t i = 0; i < lines; i++)
        expect_record(&rd, (long)i + 2, 6 + 7 * (long long)i, "张三", "1", NULL);
    close_reading(&rd);
    /* UTF-8: "a\n" then "张三,1\n" (9 bytes): the chunk ends inside 三. */
    memcpy(text, "a\n", 2), n = 2;
    for (size_t i = 0; i < lines; i++)
        memcpy(text + n, "张三,1\n", 9), n += 9;
    open_bytes(&rd, text, n, NULL);
    assert_string_equal(imp_reader_encoding(rd.r), "UTF-8");
    expect_record(&rd, 1, 0, "a", NULL);
    for (size_t i = 0; i < lines; i++)
        expect_record(&rd, (long)i + 2, 2 + 9 * (long long)i, "张三", "1", NULL);
    close_reading(&rd);
    /* ASCII for a whole chunk, then GBK. */
    n = 0;
    while (n < IMP_CHUNK + 100)
        memcpy(text + n, "abcdef,1\n", 9), n += 9;
    memcpy(text + n, "\xd5\xc5,2\n", 5), n += 5;
    open_bytes(&rd, text, n, NULL);
    assert_string_equal(imp_reader_encoding(rd.r), "UTF-8");
    for (long i = 0; i < (long)(n - 5) / 9; i++)
        assert_int_equal(next(&rd), IMP_RECORD);
    expect_bad(&rd, (long)(n - 5) / 9 + 1, "the file's start was plain ASCII");
    assert_has(imp_reader_error(rd.r), "give --encoding GBK");
    close_reading(&rd);
    free(text);
}

static void test_bytes_in_neither_encoding_refused(void **state)
{
    (void)state;
    static const struct {
        const char *bytes;
        size_t n;
        const char *says;
    } cases[] = {
        {"a,\x80\x80\n", 5, "not UTF-8 or GBK/GB18030 text; give --encoding"},
        {"\xff\xff\xff", 3, "not UTF-8 or GBK/GB18030 text; give --encoding"},
        {"\xd5", 1, "not UTF-8 or GBK/GB18030 text"}, /* cut short at the end of the file */
        {"\xff\xfe"
         "a\0,\0",
         6, "UTF-16"},
        {"PK\3\4\x14\0\6\0", 8, "Excel workbook (.xlsx)"},
        {"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", 8, "old Excel workbook (.xls)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        FILE *f = file_of(cases[i].bytes, cases[i].n);
        imp_reader *r = (imp_reader *)&r;
        char err[IMP_ERR_MAX];
        if (imp_reader_open(&r, f, "auto", err, sizeof err) != -1)
            fail_msg("case %zu was read as %s", i, imp_reader_encoding(r));
        assert_null(r);
        assert_has(err, cases[i].says);
        fclose(f);
    }
}

static void test_encoding_names(void **state)
{
    (void)state;
    FILE *f = file_of("\xef\xbb\xbf"
                      "a\n",
                      5);
    imp_reader *r;
    char err[IMP_ERR_MAX];
    assert_int_equal(imp_reader_open(&r, f, "GBK", err, sizeof err), -1);
    assert_has(err, "starts with a UTF-8 byte order mark but GBK was given");
    assert_int_equal(imp_reader_open(&r, f, "latin1", err, sizeof err), -1);
    assert_has(err, "unknown encoding \"latin1\"");
    rewind(f);
    assert_int_equal(imp_reader_open(&r, f, "utf8", err, sizeof err), 0);
    assert_string_equal(imp_reader_encoding(r), "UTF-8");
    imp_reader_close(r);
    fclose(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quoted_fields_hold_commas_quotes_and_newlines),
        cmocka_unit_test(test_crlf_and_lf_line_ends),
        cmocka_unit_test(test_lone_cr_outside_quotes_is_bad),
        cmocka_unit_test(test_bom_is_skipped),
        cmocka_unit_test(test_blank_lines_skipped_and_spaces_trimmed),
        cmocka_unit_test(test_empty_file_and_bom_only),
        cmocka_unit_test(test_unclosed_quote_names_its_line_and_reading_goes_on),
        cmocka_unit_test(test_unclosed_quote_in_a_large_file),
        cmocka_unit_test(test_record_longer_than_the_bound),
        cmocka_unit_test(test_too_many_fields),
        cmocka_unit_test(test_nul_byte_is_an_error),
        cmocka_unit_test(test_stray_quotes_are_errors),
        cmocka_unit_test(test_control_characters_refused_outside_quoted_newlines),
        cmocka_unit_test(test_lines_and_offsets_across_chunks_and_quoted_lines),
        cmocka_unit_test(test_any_bytes_end_in_order),
        cmocka_unit_test(test_read_error_fails),
        cmocka_unit_test(test_gbk_file_detected_and_converted),
        cmocka_unit_test(test_gbk_given_explicitly),
        cmocka_unit_test(test_gb18030_four_byte_characters),
        cmocka_unit_test(test_bad_field_in_gbk_file_names_line_and_column),
        cmocka_unit_test(test_detection_over_a_chunk_boundary),
        cmocka_unit_test(test_bytes_in_neither_encoding_refused),
        cmocka_unit_test(test_encoding_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
