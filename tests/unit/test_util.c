/* Unit tests of common/gj_util.c: business dates in CST, yuan <-> fen, masking for
 * logs, GB 11643 ID checks and the small string helpers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "gj_limits.h"
#include "gj_util.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* 2026-01-01T00:00:00Z in Unix seconds. */
#define UTC_2026_01_01 1767225600LL
#define HOUR_MS (3600LL * 1000)
#define DAY_MS (24 * HOUR_MS)

/* Build an 18-character ID from its first 17 digits, with the right check character. */
static void make_certno(char out[GJ_CERTNO_LEN + 1], const char *first17)
{
    memcpy(out, first17, 17);
    out[17] = gj_certno_check_char(first17);
    out[18] = '\0';
}

/* ---- dates ---- */

static void test_date_valid_knows_leap_years(void **state)
{
    (void)state;
    assert_true(gj_date_valid(20240229));  /* divisible by 4 */
    assert_false(gj_date_valid(20230229)); /* not divisible by 4 */
    assert_false(gj_date_valid(19000229)); /* century, not by 400 */
    assert_false(gj_date_valid(21000229));
    assert_true(gj_date_valid(20000229)); /* divisible by 400 */
    assert_true(gj_date_valid(20230228));
}

static void test_date_valid_refuses_impossible_dates(void **state)
{
    (void)state;
    assert_true(gj_date_valid(20261122));
    assert_true(gj_date_valid(19000101));
    assert_true(gj_date_valid(99991231));
    assert_true(gj_date_valid(20250131));
    assert_false(gj_date_valid(20250431)); /* April has 30 days */
    assert_false(gj_date_valid(20250132));
    assert_false(gj_date_valid(20250100));
    assert_false(gj_date_valid(20250001));
    assert_false(gj_date_valid(20251301));
    assert_false(gj_date_valid(18991231));
    assert_false(gj_date_valid(0));
    assert_false(gj_date_valid(-20250101));
    assert_false(gj_date_valid(INT32_MAX));
}

static void test_date_next_rolls_over_month_and_year(void **state)
{
    (void)state;
    assert_int_equal(gj_date_next(20261122), 20261123);
    assert_int_equal(gj_date_next(20250131), 20250201);
    assert_int_equal(gj_date_next(20250430), 20250501);
    assert_int_equal(gj_date_next(20251231), 20260101);
    assert_int_equal(gj_date_next(20240228), 20240229);
    assert_int_equal(gj_date_next(20240229), 20240301);
    assert_int_equal(gj_date_next(20230228), 20230301);
    assert_int_equal(gj_date_next(21000228), 21000301);
    assert_int_equal(gj_date_next(20000228), 20000229);
}

/* A CST date and time to an instant and back: 2026-12-03 23:59:30 CST is
 * 2026-12-03 15:59:30 UTC (1796313570 s); one second past midnight is the next day. */
static void test_cst_instant_of_a_date_and_time(void **state)
{
    (void)state;
    assert_int_equal(gj_cst_unix_ms_of(20261203, 23 * 3600 + 59 * 60 + 30), 1796313570000LL);
    assert_int_equal(gj_cst_date_of(gj_cst_unix_ms_of(20261203, 86399)), 20261203);
    assert_int_equal(gj_cst_date_of(gj_cst_unix_ms_of(20261203, 86399) + 1000), 20261204);
    assert_int_equal(gj_cst_unix_ms_of(19700101, 8 * 3600), 0);
    for (int32_t d = 19991220; d != 20000320; d = gj_date_next(d))
        assert_int_equal(gj_cst_date_of(gj_cst_unix_ms_of(d, 0)), d);
}

static void test_months_keep_the_day_or_take_the_months_last(void **state)
{
    (void)state;
    assert_int_equal(gj_date_add_months(20261203, 3), 20270303);
    assert_int_equal(gj_date_add_months(20260131, 1), 20260228);
    assert_int_equal(gj_date_add_months(20240131, 1), 20240229);
    assert_int_equal(gj_date_add_months(20261130, 14), 20280130);
    assert_int_equal(gj_date_add_months(20261203, 0), 20261203);
}

static void test_date_next_walks_a_whole_leap_year(void **state)
{
    (void)state;
    int32_t d = 20240101;
    int days = 0;
    while (d < 20250101) {
        assert_true(gj_date_valid(d));
        d = gj_date_next(d);
        days++;
    }
    assert_int_equal(d, 20250101);
    assert_int_equal(days, 366);
}

static void test_date_parse_accepts_both_forms(void **state)
{
    (void)state;
    int32_t d = 0;
    assert_true(gj_date_parse("2026-11-22", &d));
    assert_int_equal(d, 20261122);
    assert_true(gj_date_parse("20240229", &d));
    assert_int_equal(d, 20240229);
}

static void test_date_parse_refuses_bad_text(void **state)
{
    (void)state;
    int32_t d = 12345;
    assert_false(gj_date_parse("", &d));
    assert_false(gj_date_parse(NULL, &d));
    assert_false(gj_date_parse("2026-1-22", &d));
    assert_false(gj_date_parse("2026/11/22", &d));
    assert_false(gj_date_parse("2026-11-221", &d));
    assert_false(gj_date_parse("202611220", &d));
    assert_false(gj_date_parse("2026112", &d));
    assert_false(gj_date_parse("2026-02-30", &d));
    assert_false(gj_date_parse("20230229", &d));
    assert_false(gj_date_parse("2026-1a-22", &d));
    assert_false(gj_date_parse(" 20261122", &d));
    assert_int_equal(d, 12345); /* untouched on failure */
}

static void test_cst_date_turns_at_1600_utc(void **state)
{
    (void)state;
    /* Midnight CST on 2026-01-01 is 16:00 UTC on 2025-12-31. */
    int64_t midnight_cst = (UTC_2026_01_01 - 8 * 3600) * 1000;
    assert_int_equal(gj_cst_date_of(midnight_cst - 1), 20251231);
    assert_int_equal(gj_cst_date_of(midnight_cst), 20260101);
    assert_int_equal(gj_cst_date_of(midnight_cst + 1), 20260101);
    /* Still the same CST day until 15:59:59.999 UTC the next day. */
    assert_int_equal(gj_cst_date_of(midnight_cst + DAY_MS - 1), 20260101);
    assert_int_equal(gj_cst_date_of(midnight_cst + DAY_MS), 20260102);
    /* 00:00 UTC on 2026-01-01 is 08:00 CST, same day. */
    assert_int_equal(gj_cst_date_of(UTC_2026_01_01 * 1000), 20260101);
}

static void test_cst_date_of_leap_day(void **state)
{
    (void)state;
    /* 2024-02-28T16:00:00Z is 2024-02-29 00:00 CST. */
    int64_t leap_midnight_cst = 1709136000LL * 1000;
    assert_int_equal(gj_cst_date_of(leap_midnight_cst - 1), 20240228);
    assert_int_equal(gj_cst_date_of(leap_midnight_cst), 20240229);
    assert_int_equal(gj_cst_date_of(leap_midnight_cst + DAY_MS), 20240301);
}

static void test_cst_date_around_the_epoch(void **state)
{
    (void)state;
    assert_int_equal(gj_cst_date_of(0), 19700101); /* 08:00 CST */
    assert_int_equal(gj_cst_date_of(-8 * HOUR_MS), 19700101);
    assert_int_equal(gj_cst_date_of(-8 * HOUR_MS - 1), 19691231);
    assert_int_equal(gj_cst_date_of(-8 * HOUR_MS - DAY_MS), 19691231);
    assert_int_equal(gj_cst_date_of(-8 * HOUR_MS - DAY_MS - 1), 19691230);
}

static void test_cst_date_of_now_is_valid(void **state)
{
    (void)state;
    assert_true(gj_date_valid(gj_cst_date_of(gj_now_unix_ms())));
    int64_t a = gj_mono_ms();
    int64_t b = gj_mono_ms();
    assert_true(b >= a);
}

/* ---- money ---- */

static void test_yuan_parse_accepts_plain_amounts(void **state)
{
    (void)state;
    int64_t fen = -1;
    assert_true(gj_yuan_parse("120", &fen));
    assert_int_equal(fen, 12000);
    assert_true(gj_yuan_parse("120.5", &fen));
    assert_int_equal(fen, 12050);
    assert_true(gj_yuan_parse("120.50", &fen));
    assert_int_equal(fen, 12050);
    assert_true(gj_yuan_parse("120.05", &fen));
    assert_int_equal(fen, 12005);
    assert_true(gj_yuan_parse("0.01", &fen));
    assert_int_equal(fen, 1);
    assert_true(gj_yuan_parse("0", &fen));
    assert_int_equal(fen, 0);
}

static void test_yuan_parse_refuses_malformed_text(void **state)
{
    (void)state;
    int64_t fen = 777;
    const char *bad[] = {"",    "-1",   "+1",  "1.234", "1e5", "12a", " 12", "12 ",
                         "1.",  ".5",   "1..2", "1,000", "0x10", "１２"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_false(gj_yuan_parse(bad[i], &fen));
        assert_int_equal(fen, 777); /* untouched on failure */
    }
    assert_false(gj_yuan_parse(NULL, &fen));
}

static void test_yuan_parse_refuses_amounts_above_max(void **state)
{
    (void)state;
    int64_t fen = 0;
    /* GJ_AMOUNT_MAX is 10,000,000.00 yuan. */
    assert_true(gj_yuan_parse("10000000", &fen));
    assert_int_equal(fen, GJ_AMOUNT_MAX);
    assert_true(gj_yuan_parse("9999999.99", &fen));
    assert_int_equal(fen, GJ_AMOUNT_MAX - 1);
    fen = 5;
    assert_false(gj_yuan_parse("10000000.01", &fen));
    assert_false(gj_yuan_parse("10000001", &fen));
    assert_false(gj_yuan_parse("99999999999999", &fen));
    assert_false(gj_yuan_parse("999999999999999999999999", &fen)); /* no overflow */
    assert_int_equal(fen, 5);
}

static void test_yuan_format_two_decimals_and_negatives(void **state)
{
    (void)state;
    char buf[32];
    assert_string_equal(gj_yuan_format(0, buf), "0.00");
    assert_string_equal(gj_yuan_format(5, buf), "0.05");
    assert_string_equal(gj_yuan_format(12000, buf), "120.00");
    assert_string_equal(gj_yuan_format(12050, buf), "120.50");
    assert_string_equal(gj_yuan_format(-1205, buf), "-12.05");
    assert_string_equal(gj_yuan_format(-5, buf), "-0.05");
    assert_string_equal(gj_yuan_format(-100, buf), "-1.00");
    assert_string_equal(gj_yuan_format(GJ_AMOUNT_MAX, buf), "10000000.00");
    assert_string_equal(gj_yuan_format(INT64_MAX, buf), "92233720368547758.07");
    assert_string_equal(gj_yuan_format(INT64_MIN, buf), "-92233720368547758.08");
}

static void test_yuan_round_trips(void **state)
{
    (void)state;
    const int64_t vals[] = {0, 1, 9, 10, 99, 100, 12345, 200000, GJ_AMOUNT_MAX};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        char buf[32];
        int64_t back = -1;
        assert_true(gj_yuan_parse(gj_yuan_format(vals[i], buf), &back));
        assert_int_equal(back, vals[i]);
    }
}

/* ---- masking ---- */

static void test_mask_keeps_first_4_and_last_4(void **state)
{
    (void)state;
    char out[64];
    assert_string_equal(gj_mask("430102198506151234", out, sizeof out), "4301**********1234");
    assert_string_equal(gj_mask("123456789", out, sizeof out), "1234*6789");
    assert_string_equal(gj_mask("P430100000000012345", out, sizeof out), "P430***********2345");
}

static void test_mask_hides_short_strings_fully(void **state)
{
    (void)state;
    char out[64];
    assert_string_equal(gj_mask("12345678", out, sizeof out), "********");
    assert_string_equal(gj_mask("abc", out, sizeof out), "***");
    assert_string_equal(gj_mask("", out, sizeof out), "");
    assert_string_equal(gj_mask(NULL, out, sizeof out), "");
}

static void test_mask_digit_runs_hides_long_numbers_in_free_text(void **state)
{
    (void)state;
    char out[64];
    assert_string_equal(gj_mask_digit_runs("demo-enroll-4301000001", out, sizeof out, 10), "demo-enroll-4301**0001");
    assert_string_equal(gj_mask_digit_runs("id=430102198001010018x", out, sizeof out, 10),
                        "id=4301**********0018x");
    /* Shorter runs and hex ids stay readable. */
    assert_string_equal(gj_mask_digit_runs("bill-2026-123456789", out, sizeof out, 10), "bill-2026-123456789");
    assert_string_equal(gj_mask_digit_runs("01a23c4b", out, sizeof out, 10), "01a23c4b");
    assert_string_equal(gj_mask_digit_runs("", out, sizeof out, 10), "");
    char small[8];
    assert_string_equal(gj_mask_digit_runs("12345678901234", small, sizeof small, 4), "1234567");
}

static void test_mask_never_writes_past_out(void **state)
{
    (void)state;
    char out[8];
    memset(out, 'Z', sizeof out);
    gj_mask("430102198506151234", out, 5);
    assert_int_equal(out[4], '\0');
    assert_int_equal(out[5], 'Z');
    assert_string_equal(out, "****");
    out[0] = 'Q';
    gj_mask("430102198506151234", out, 0);
    assert_int_equal(out[0], 'Q');
}

/* ---- GB 11643 IDs ---- */

static void test_certno_valid_with_computed_check_digit(void **state)
{
    (void)state;
    char id[GJ_CERTNO_LEN + 1];
    make_certno(id, "43010219850615123");
    assert_true(gj_certno_valid(id));
    make_certno(id, "11010519491231002");
    assert_true(gj_certno_valid(id));
    /* The check character of the well-known sample ID 11010519491231002X. */
    assert_int_equal(gj_certno_check_char("11010519491231002"), 'X');
    assert_true(gj_certno_valid("11010519491231002X"));
}

static void test_certno_wrong_check_digit_refused(void **state)
{
    (void)state;
    char id[GJ_CERTNO_LEN + 1];
    make_certno(id, "43010219850615123");
    char right = id[17];
    const char others[] = "0123456789X";
    for (size_t i = 0; i < sizeof others - 1; i++) {
        if (others[i] == right)
            continue;
        id[17] = others[i];
        assert_false(gj_certno_valid(id));
    }
    /* A single changed body digit breaks the check too. */
    make_certno(id, "43010219850615123");
    id[16] = id[16] == '3' ? '4' : '3';
    assert_false(gj_certno_valid(id));
}

static void test_certno_lower_case_x(void **state)
{
    (void)state;
    /* 11010519491231002 has check character X. The implementation accepts the
     * lower-case form as the same ID; a non-X position never takes a letter. */
    assert_true(gj_certno_valid("11010519491231002x"));
    assert_false(gj_certno_valid("1101051949123100x2"));
    char id[GJ_CERTNO_LEN + 1];
    make_certno(id, "43010219850615123");
    if (id[17] != 'X') {
        id[17] = 'x';
        assert_false(gj_certno_valid(id));
    }
}

static void test_certno_bad_birth_date_refused(void **state)
{
    (void)state;
    char id[GJ_CERTNO_LEN + 1];
    make_certno(id, "43010219850230123"); /* 1985-02-30 */
    assert_false(gj_certno_valid(id));
    make_certno(id, "43010219851315123"); /* month 13 */
    assert_false(gj_certno_valid(id));
    make_certno(id, "43010218991231123"); /* before 1900 */
    assert_false(gj_certno_valid(id));
    make_certno(id, "43010220000229123"); /* leap day of 2000 is real */
    assert_true(gj_certno_valid(id));
    make_certno(id, "43010219000229123"); /* 1900 was not a leap year */
    assert_false(gj_certno_valid(id));
}

static void test_certno_wrong_length_or_characters_refused(void **state)
{
    (void)state;
    char id[GJ_CERTNO_LEN + 2];
    make_certno(id, "43010219850615123");
    id[17] = '\0';
    assert_false(gj_certno_valid(id)); /* 17 characters */
    make_certno(id, "43010219850615123");
    id[18] = '0';
    id[19] = '\0';
    assert_false(gj_certno_valid(id)); /* 19 characters */
    assert_false(gj_certno_valid(""));
    assert_false(gj_certno_valid(NULL));
    /* 15-digit first-generation IDs are not accepted. */
    assert_false(gj_certno_valid("430102850615123"));
    make_certno(id, "43010219850615123");
    id[3] = 'A';
    assert_false(gj_certno_valid(id));
}

/* ---- strings ---- */

static void test_strcpy_fit_refuses_what_does_not_fit(void **state)
{
    (void)state;
    char dst[7];
    assert_true(gj_strcpy_fit(dst, sizeof dst, "430100"));
    assert_string_equal(dst, "430100");
    assert_false(gj_strcpy_fit(dst, sizeof dst, "4301000"));
    assert_string_equal(dst, "");
    assert_true(gj_strcpy_fit(dst, sizeof dst, NULL));
    assert_string_equal(dst, "");
    assert_false(gj_strcpy_fit(dst, 0, "x"));
}

static void test_all_digits(void **state)
{
    (void)state;
    assert_true(gj_all_digits("430100", 6));
    assert_true(gj_all_digits("43", 2));
    assert_false(gj_all_digits("4301a0", 6));
    assert_false(gj_all_digits("43010", 6)); /* stops at the NUL */
    assert_false(gj_all_digits(NULL, 1));
    assert_true(gj_all_digits("", 0));
}

/* log_format = json: one object per line, names and values escaped, the leading
 * name=value pairs as fields, detail taking the rest of the line. */
static void test_json_log_lines(void **state)
{
    (void)state;
    char path[64];
    snprintf(path, sizeof path, "/tmp/gongji-log-test-%d.log", (int)getpid());
    unlink(path);
    gj_log_set_json(true);
    assert_int_equal(gj_log_open(path, GJ_LOG_INFO, "430100"), 0);
    gj_log(GJ_LOG_WARN, "call", "method=gongji.v1.Settlement/Settle code=UNAVAILABLE ms=12.5 detail=a \"quoted\" \\ line\nsplit");
    gj_log(GJ_LOG_INFO, "start", "plain prose, no fields");
    gj_log_close();
    gj_log_set_json(false);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[4096];
    assert_non_null(fgets(line, sizeof line, f));
    assert_non_null(strstr(line, "\"level\":\"WARN\",\"region\":\"430100\",\"event\":\"call\""));
    assert_non_null(strstr(line, ",\"method\":\"gongji.v1.Settlement/Settle\",\"code\":\"UNAVAILABLE\",\"ms\":\"12.5\""));
    assert_non_null(strstr(line, ",\"detail\":\"a \\\"quoted\\\" \\\\ line split\"}"));
    assert_non_null(fgets(line, sizeof line, f));
    assert_non_null(strstr(line, "\"msg\":\"plain prose, no fields\"}"));
    assert_null(fgets(line, sizeof line, f)); /* one line each */
    fclose(f);
    unlink(path);
}

/* gj_time_after_us: a later instant on the clock asked for, nanoseconds always in range,
 * whole seconds carried, and a negative wait taken as none. */
static void test_time_after_us_carries_and_stays_in_range(void **state)
{
    (void)state;
    int64_t waits[] = {0, 1, 999, 999999, 1000000, 1500000, 2999999, 86400LL * 1000000};
    for (size_t i = 0; i < sizeof waits / sizeof waits[0]; i++) {
        struct timespec before, after;
        clock_gettime(CLOCK_MONOTONIC, &before);
        struct timespec t = gj_time_after_us(CLOCK_MONOTONIC, waits[i]);
        clock_gettime(CLOCK_MONOTONIC, &after);
        assert_true(t.tv_nsec >= 0 && t.tv_nsec < 1000000000L);
        long long t_ns = (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
        long long lo = (long long)before.tv_sec * 1000000000LL + before.tv_nsec + waits[i] * 1000;
        long long hi = (long long)after.tv_sec * 1000000000LL + after.tv_nsec + waits[i] * 1000;
        assert_true(t_ns >= lo && t_ns <= hi);
    }
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    struct timespec t = gj_time_after_us(CLOCK_REALTIME, -5000000);
    assert_true(t.tv_sec >= now.tv_sec && t.tv_sec <= now.tv_sec + 1);
    assert_true(t.tv_nsec >= 0 && t.tv_nsec < 1000000000L);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_log_lines),
        cmocka_unit_test(test_date_valid_knows_leap_years),
        cmocka_unit_test(test_date_valid_refuses_impossible_dates),
        cmocka_unit_test(test_date_next_rolls_over_month_and_year),
        cmocka_unit_test(test_date_next_walks_a_whole_leap_year),
        cmocka_unit_test(test_cst_instant_of_a_date_and_time),
        cmocka_unit_test(test_months_keep_the_day_or_take_the_months_last),
        cmocka_unit_test(test_date_parse_accepts_both_forms),
        cmocka_unit_test(test_date_parse_refuses_bad_text),
        cmocka_unit_test(test_cst_date_turns_at_1600_utc),
        cmocka_unit_test(test_cst_date_of_leap_day),
        cmocka_unit_test(test_cst_date_around_the_epoch),
        cmocka_unit_test(test_cst_date_of_now_is_valid),
        cmocka_unit_test(test_yuan_parse_accepts_plain_amounts),
        cmocka_unit_test(test_yuan_parse_refuses_malformed_text),
        cmocka_unit_test(test_yuan_parse_refuses_amounts_above_max),
        cmocka_unit_test(test_yuan_format_two_decimals_and_negatives),
        cmocka_unit_test(test_yuan_round_trips),
        cmocka_unit_test(test_mask_keeps_first_4_and_last_4),
        cmocka_unit_test(test_mask_hides_short_strings_fully),
        cmocka_unit_test(test_mask_never_writes_past_out),
        cmocka_unit_test(test_mask_digit_runs_hides_long_numbers_in_free_text),
        cmocka_unit_test(test_certno_valid_with_computed_check_digit),
        cmocka_unit_test(test_certno_wrong_check_digit_refused),
        cmocka_unit_test(test_certno_lower_case_x),
        cmocka_unit_test(test_certno_bad_birth_date_refused),
        cmocka_unit_test(test_certno_wrong_length_or_characters_refused),
        cmocka_unit_test(test_strcpy_fit_refuses_what_does_not_fit),
        cmocka_unit_test(test_all_digits),
        cmocka_unit_test(test_time_after_us_carries_and_stays_in_range),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
