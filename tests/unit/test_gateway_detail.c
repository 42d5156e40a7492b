/* The 3202 detail file and its comparison (gateway/detail.h): every line the file may
 * hold is read or refused by line number, and each settlement on either side comes out
 * as exactly one result line with the right stmt_rslt. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "detail.h"

/* Parses a copy of text (the parser cuts it up); returns what gw_detail_parse did. */
static int parse(const char *text, gw_detail *d, gw_failure *why)
{
    char *copy = strdup(text);
    assert_non_null(copy);
    memset(why, 0, sizeof *why);
    int rc = gw_detail_parse(copy, d, why);
    free(copy);
    return rc;
}

static void test_lines_header_bom_and_crlf(void **state)
{
    (void)state;
    gw_detail d = {0};
    gw_failure why;
    const char *text = "\xEF\xBB\xBFsetl_id\tmdtrt_id\tpsn_no\tmedfee_sumamt\tfund_pay_sumamt\tacct_pay\trefd_setl_flag\r\n"
                       "S1\tM1\tP1\t9.00\t3.00\t6.00\t0\r\n"
                       "\r\n"
                       "S2\t\t患者2\t10\t0.5\t1.25\t1\n";
    assert_int_equal(parse(text, &d, &why), 0);
    assert_int_equal(d.count, 2);
    assert_string_equal(d.rows[0].setl_id, "S1");
    assert_string_equal(d.rows[0].mdtrt_id, "M1");
    assert_int_equal(d.rows[0].medfee, 900);
    assert_int_equal(d.rows[0].fund, 300);
    assert_int_equal(d.rows[0].acct_pay, 600);
    assert_false(d.rows[0].refund);
    assert_int_equal(d.rows[0].line, 2);
    assert_string_equal(d.rows[1].psn_no, "患者2");
    assert_string_equal(d.rows[1].mdtrt_id, "");
    assert_int_equal(d.rows[1].acct_pay, 125);
    assert_true(d.rows[1].refund);
    assert_int_equal(d.rows[1].line, 4);
    gw_detail_free(&d);
    assert_int_equal(parse("", &d, &why), 0);
    assert_int_equal(d.count, 0);
    assert_null(d.rows);
}

/* Each bad line is refused DETAIL_INVALID, naming its line. */
static void test_bad_lines_are_named(void **state)
{
    (void)state;
    static const struct {
        const char *text, *says;
    } bad[] = {
        {"S1\tM1\tP1\t9.00\t3.00\t6.00\n", "line 1 of the detail file has 6 tab-separated fields"},
        {"S1\tM1\tP1\t9.00\t3.00\t6.00\t0\t\n", "line 1 of the detail file has 8 tab-separated fields"},
        {"S1\tM1\tP1\t9.00\t3.00\t6.00\t0\nS2\tM2\tP2\t9.001\t0\t0\t0\n", "line 2: '9.001' is not an amount"},
        {"S1\tM1\tP1\t-1.00\t0\t0\t0\n", "line 1: '-1.00' is not an amount"},
        {"S1\tM1\tP1\t1\t0\t99999999999999\t0\n", "line 1: '99999999999999' is not an amount"},
        {"S1\tM1\tP1\t1\t0\t0\t2\n", "line 1: refd_setl_flag is 0 or 1"},
        {"\tM1\tP1\t1\t0\t0\t0\n", "line 1: setl_id (1.."},
        {"S1\tM1\tPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPP\t1\t0\t0\t0\n", "line 1: setl_id (1.."},
        /* Not UTF-8 in a field past the first: it would reach result.txt as it came. */
        {"S1\tM1\tP\xC3\x28\t1\t0\t0\t0\n", "line 1 of the detail file is not UTF-8"},
        {"S1\tM1\tP1\t1\t0\t0\t0\nS2\tM\xFF\tP2\t1\t0\t0\t0\n", "line 2 of the detail file is not UTF-8"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        gw_detail d = {0};
        gw_failure why;
        assert_int_equal(parse(bad[i].text, &d, &why), -1);
        assert_string_equal(why.reason, "DETAIL_INVALID");
        if (strstr(why.message, bad[i].says) == NULL)
            fail_msg("case %zu: '%s' does not say '%s'", i, why.message, bad[i].says);
        gw_detail_free(&d);
    }
}

static void row(gw_detail *d, const char *setl_id, const char *psn_no, int64_t acct_pay, bool refund)
{
    gw_failure why;
    gw_detail_row *r = gw_detail_add(d, &why);
    assert_non_null(r);
    snprintf(r->setl_id, sizeof r->setl_id, "%s", setl_id);
    snprintf(r->psn_no, sizeof r->psn_no, "%s", psn_no);
    snprintf(r->msgid, sizeof r->msgid, "m-%s", setl_id);
    r->acct_pay = acct_pay;
    r->refund = refund;
}

/* The result line for setl_id (its third column), copied into out; false if none. */
static bool result_line(const char *text, const char *setl_id, char *out, size_t size)
{
    for (const char *p = text; p != NULL && *p != '\0';) {
        const char *nl = strchr(p, '\n');
        size_t n = nl != NULL ? (size_t)(nl - p) : strlen(p);
        char line[512];
        snprintf(line, sizeof line, "%.*s", (int)n, p);
        char *c = strchr(line, '\t');
        c = c != NULL ? strchr(c + 1, '\t') : NULL;
        if (c != NULL && strncmp(c + 1, setl_id, strlen(setl_id)) == 0 && c[1 + strlen(setl_id)] == '\t') {
            snprintf(out, size, "%s", line);
            return true;
        }
        p = nl != NULL ? nl + 1 : NULL;
    }
    return false;
}

static void test_each_settlement_gets_one_result(void **state)
{
    (void)state;
    gw_detail theirs = {0}, ours = {0};
    row(&theirs, "S5", "P1", 600, false);  /* agrees */
    row(&theirs, "S3", "P1", 400, true);   /* the refund line of S3, listed first */
    row(&theirs, "S3", "P1", 400, false);  /* its payment: revoked on both sides */
    row(&theirs, "S4", "P1", 150, false);  /* acct_pay differs */
    row(&theirs, "S1", "P9", 100, false);  /* another person */
    row(&theirs, "S9", "P1", 200, false);  /* gongji has no S9 */
    row(&ours, "S4", "P1", 100, false);
    row(&ours, "S3", "P1", 400, true);
    row(&ours, "S2", "P1", 700, false);    /* missing from the file */
    row(&ours, "S5", "P1", 600, false);
    row(&ours, "S1", "P1", 100, false);
    row(&ours, "S6", "P1", 50, true);      /* revoked, missing from the file */
    text_buf out = {0};
    unsigned counts[GW_DETAIL_RESULTS] = {0};
    assert_int_equal(gw_detail_compare(&theirs, &ours, &out, counts), 0);
    assert_int_equal(counts[GW_DETAIL_BALANCED], 2);          /* S5, S3 */
    assert_int_equal(counts[GW_DETAIL_DIFFER], 2);            /* S4, S1 */
    assert_int_equal(counts[GW_DETAIL_GONGJI_MORE], 2);       /* S2, S6 */
    assert_int_equal(counts[GW_DETAIL_INSTITUTION_MORE], 1);  /* S9 */
    char line[512];
    assert_true(result_line(out.s, "S3", line, sizeof line));
    assert_string_equal(line, "P1\t\tS3\tm-S3\t0\t1\t\t0.00\t0.00\t4.00");
    assert_true(result_line(out.s, "S4", line, sizeof line));
    assert_non_null(strstr(line, "\t3\t0\tacct_pay differs"));
    assert_true(result_line(out.s, "S1", line, sizeof line));
    assert_non_null(strstr(line, "\t3\t0\tpsn_no differs"));
    assert_true(result_line(out.s, "S6", line, sizeof line));
    assert_non_null(strstr(line, "\t1\t1\tsettled in gongji, revoked since"));
    assert_true(result_line(out.s, "S9", line, sizeof line));
    assert_non_null(strstr(line, "P1\t\tS9\t\t2\t0\t"));
    size_t lines = 0;
    for (const char *p = out.s; (p = strchr(p, '\n')) != NULL; p++)
        lines++;
    assert_int_equal(lines, 7);
    free(out.s);
    gw_detail_free(&theirs);
    gw_detail_free(&ours);
}

static void test_empty_sides(void **state)
{
    (void)state;
    gw_detail theirs = {0}, ours = {0};
    text_buf out = {0};
    unsigned counts[GW_DETAIL_RESULTS] = {0};
    assert_int_equal(gw_detail_compare(&theirs, &ours, &out, counts), 0);
    assert_null(out.s);
    row(&ours, "S1", "P1", 100, false);
    assert_int_equal(gw_detail_compare(&theirs, &ours, &out, counts), 0);
    assert_int_equal(counts[GW_DETAIL_GONGJI_MORE], 1);
    assert_int_equal(counts[GW_DETAIL_BALANCED] + counts[GW_DETAIL_DIFFER] + counts[GW_DETAIL_INSTITUTION_MORE], 0);
    free(out.s);
    gw_detail_free(&ours);
}

/* One side holds at most GW_DETAIL_ROWS_MAX rows; the next is refused, not grown. */
static void test_rows_are_bounded(void **state)
{
    (void)state;
    gw_detail d = {0};
    gw_failure why;
    for (size_t i = 0; i < GW_DETAIL_ROWS_MAX; i++)
        assert_non_null(gw_detail_add(&d, &why));
    assert_null(gw_detail_add(&d, &why));
    assert_string_equal(why.reason, "DETAIL_TOO_LONG");
    assert_int_equal(d.count, GW_DETAIL_ROWS_MAX);
    assert_true(d.room <= GW_DETAIL_ROWS_MAX);
    gw_detail_free(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lines_header_bom_and_crlf),
        cmocka_unit_test(test_bad_lines_are_named),
        cmocka_unit_test(test_each_settlement_gets_one_result),
        cmocka_unit_test(test_empty_sides),
        cmocka_unit_test(test_rows_are_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
