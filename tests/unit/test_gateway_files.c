/* The gateway's file store (9101 uploads, 3202 results) and its zip handling: files
 * are read only by their owner and only until their deadline, the store's count and
 * bytes are bounded, and an archive is never unpacked past its bound. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "files.h"
#include "zipfile.h"

static unsigned char *bytes_of(const char *text)
{
    unsigned char *b = malloc(strlen(text) + 1);
    memcpy(b, text, strlen(text) + 1);
    return b;
}

static void test_a_file_is_its_owners_until_its_deadline(void **state)
{
    (void)state;
    gw_files f;
    assert_int_equal(gw_files_init(&f, 4, 1000, 60), 0);
    char id[GW_FILE_ID_LEN + 1], name[GW_FILE_NAME_MAX + 1];
    int64_t until;
    gw_failure why;
    assert_int_equal(gw_files_put(&f, "H1", "d.zip", bytes_of("hello"), 5, 1000, id, &until, &why), 0);
    assert_int_equal(strlen(id), GW_FILE_ID_LEN);
    assert_int_equal(until, 1060);
    unsigned char *data;
    size_t len;
    assert_int_equal(gw_files_get(&f, "H1", id, 1059, &data, &len, name, &why), 0);
    assert_int_equal(len, 5);
    assert_memory_equal(data, "hello", 5);
    assert_string_equal(name, "d.zip");
    free(data);
    /* Another institution is told there is no such file, as for a wrong id. */
    assert_int_equal(gw_files_get(&f, "H2", id, 1059, &data, &len, name, &why), -1);
    assert_string_equal(why.reason, "FILE_NOT_FOUND");
    assert_int_equal(gw_files_get(&f, "H1", "nope", 1059, &data, &len, name, &why), -1);
    assert_string_equal(why.reason, "FILE_NOT_FOUND");
    /* At its deadline it is gone, and its bytes with it. */
    assert_int_equal(gw_files_get(&f, "H1", id, 1060, &data, &len, name, &why), -1);
    assert_string_equal(why.reason, "FILE_NOT_FOUND");
    assert_int_equal(f.bytes, 0);
    gw_files_fini(&f);
}

static void test_the_store_is_bounded_in_count_and_bytes(void **state)
{
    (void)state;
    gw_files f;
    assert_int_equal(gw_files_init(&f, 2, 10, 60), 0);
    char id[GW_FILE_ID_LEN + 1], other[GW_FILE_ID_LEN + 1];
    int64_t until;
    gw_failure why;
    assert_int_equal(gw_files_put(&f, "H1", "a", bytes_of("12345678"), 8, 0, id, &until, &why), 0);
    assert_int_equal(gw_files_put(&f, "H1", "b", bytes_of("123"), 3, 0, other, &until, &why), -1);
    assert_string_equal(why.reason, "FILES_FULL"); /* 11 bytes > 10 */
    assert_int_equal(gw_files_put(&f, "H1", "b", bytes_of("12"), 2, 0, other, &until, &why), 0);
    assert_int_equal(gw_files_put(&f, "H1", "c", bytes_of(""), 0, 0, other, &until, &why), -1);
    assert_string_equal(why.reason, "FILES_FULL"); /* two slots */
    assert_string_equal(why.status, "RESOURCE_EXHAUSTED");
    /* Once they expire, their room is taken back. */
    assert_int_equal(gw_files_put(&f, "H1", "c", bytes_of("1234567890"), 10, 60, other, &until, &why), 0);
    assert_int_equal(f.bytes, 10);
    assert_string_not_equal(id, other);
    gw_files_fini(&f);
}

static void test_an_archive_round_trips_and_plain_text_passes(void **state)
{
    (void)state;
    const char *text = "510100-20261203-0000001\tMD1\tP1\t9.00\t3.00\t6.00\t0\n";
    unsigned char *zip;
    size_t zip_len, out_len;
    char *out;
    gw_failure why;
    assert_int_equal(gw_zip_one("result.txt", text, strlen(text), &zip, &zip_len, &why), 0);
    assert_memory_equal(zip, "PK\3\4", 4);
    assert_int_equal(gw_zip_first_text(zip, zip_len, 1000, &out, &out_len, &why), 0);
    assert_int_equal(out_len, strlen(text));
    assert_string_equal(out, text);
    free(out);
    free(zip);
    assert_int_equal(gw_zip_first_text((const unsigned char *)"a\tb\n", 4, 1000, &out, &out_len, &why), 0);
    assert_string_equal(out, "a\tb\n");
    free(out);
    assert_int_equal(gw_zip_first_text((const unsigned char *)"a\tb\n", 4, 3, &out, &out_len, &why), -1);
    assert_string_equal(why.reason, "FILE_TOO_LARGE");
}

static void test_a_bomb_or_damaged_archive_is_refused_unpacked(void **state)
{
    (void)state;
    size_t big = 4 * 1024 * 1024;
    char *zeros = calloc(1, big);
    unsigned char *zip;
    size_t zip_len, out_len;
    char *out = NULL;
    gw_failure why;
    assert_int_equal(gw_zip_one("bomb.txt", zeros, big, &zip, &zip_len, &why), 0);
    free(zeros);
    assert_true(zip_len < big / 100); /* 4 MiB of zeros packs small */
    assert_int_equal(gw_zip_first_text(zip, zip_len, 1024 * 1024, &out, &out_len, &why), -1);
    assert_string_equal(why.reason, "FILE_TOO_LARGE");
    assert_null(out);
    /* Cut short, or with a flipped byte in the packed data: damaged, not a crash. */
    assert_int_equal(gw_zip_first_text(zip, zip_len / 2, 8 * 1024 * 1024, &out, &out_len, &why), -1);
    assert_string_equal(why.reason, "FILE_INVALID");
    zip[40] ^= 0xff;
    assert_int_equal(gw_zip_first_text(zip, zip_len, 8 * 1024 * 1024, &out, &out_len, &why), -1);
    assert_string_equal(why.reason, "FILE_INVALID");
    free(zip);
    const unsigned char garbage[] = "PK\3\4 not an archive at all";
    assert_int_equal(gw_zip_first_text(garbage, sizeof garbage, 1000, &out, &out_len, &why), -1);
    assert_string_equal(why.reason, "FILE_INVALID");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_file_is_its_owners_until_its_deadline),
        cmocka_unit_test(test_the_store_is_bounded_in_count_and_bytes),
        cmocka_unit_test(test_an_archive_round_trips_and_plain_text_passes),
        cmocka_unit_test(test_a_bomb_or_damaged_archive_is_refused_unpacked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
