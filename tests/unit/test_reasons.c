/* Unit tests of node/reasons.c: every reason's name, code and message, and the reason
 * a store error becomes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "gj_util.h"
#include "rules.h"
#include "store.h"

static void test_reason_names_and_codes(void **state)
{
    (void)state;
    assert_string_equal(gj_reason_name(GJ_R_NONE), "NONE");
    assert_int_equal(gj_reason_code(GJ_R_NONE), GJ_CODE_OK);
    assert_string_equal(gj_reason_name(GJ_R_RELATION_NOT_ALLOWED), "RELATION_NOT_ALLOWED");
    assert_int_equal(gj_reason_code(GJ_R_RELATION_NOT_ALLOWED), GJ_CODE_FAILED_PRECONDITION);
    assert_string_equal(gj_reason_name(GJ_R_AMOUNT_INVALID), "AMOUNT_INVALID");
    assert_int_equal(gj_reason_code(GJ_R_AMOUNT_INVALID), GJ_CODE_INVALID_ARGUMENT);
    assert_int_equal(gj_reason_code(GJ_R_BINDING_LIMIT_REACHED), GJ_CODE_RESOURCE_EXHAUSTED);
    assert_int_equal(gj_reason_code(GJ_R_STORE_ERROR), GJ_CODE_INTERNAL);
    assert_string_equal(gj_reason_name(GJ_R_SHUTTING_DOWN), "SHUTTING_DOWN");
    assert_int_equal(gj_reason_code(GJ_R_SHUTTING_DOWN), GJ_CODE_UNAVAILABLE);
    assert_string_equal(gj_reason_message(GJ_R_SPOUSE_PARENT_NOT_ALLOWED),
                        "R2: a spouse's parent can never be bound");
    assert_string_equal(gj_code_name(GJ_CODE_INVALID_ARGUMENT), "INVALID_ARGUMENT");
    assert_string_equal(gj_code_name(3), "INVALID_ARGUMENT");
    assert_string_equal(gj_code_name(GJ_CODE_OK), "OK");
    assert_string_equal(gj_code_name(GJ_CODE_UNAUTHENTICATED), "UNAUTHENTICATED");
}

static void test_every_reason_has_unique_name_code_and_message(void **state)
{
    (void)state;
    for (int r = 0; r < GJ_R_COUNT; r++) {
        const char *name = gj_reason_name((gj_reason)r);
        assert_non_null(name);
        assert_true(strlen(name) > 0);
        assert_string_not_equal(name, "UNKNOWN");
        assert_true(strlen(gj_reason_message((gj_reason)r)) > 0);
        assert_string_not_equal(gj_code_name(gj_reason_code((gj_reason)r)), "UNKNOWN");
        /* Only NONE answers OK. */
        if (r != GJ_R_NONE)
            assert_int_not_equal(gj_reason_code((gj_reason)r), GJ_CODE_OK);
        for (int q = 0; q < r; q++)
            assert_string_not_equal(name, gj_reason_name((gj_reason)q));
    }
}

/* One mapping from a store error to a reason, the same wherever a handler fails. */
static void test_reason_of_store_error(void **state)
{
    (void)state;
    assert_int_equal(gj_reason_of_err(GJ_OK), GJ_R_NONE);
    assert_int_equal(gj_reason_of_err(GJ_ERR_FULL), GJ_R_STORE_FULL);
    assert_int_equal(gj_reason_of_err(GJ_ERR_NOMEM), GJ_R_OVERLOADED);
    /* Out of memory and a full map are both RESOURCE_EXHAUSTED; only the map needs the
     * operator. */
    assert_int_equal(gj_reason_code(gj_reason_of_err(GJ_ERR_NOMEM)), GJ_CODE_RESOURCE_EXHAUSTED);
    assert_int_equal(gj_reason_code(gj_reason_of_err(GJ_ERR_FULL)), GJ_CODE_RESOURCE_EXHAUSTED);
    /* Everything else, NOTFOUND included (the caller names what is missing first). */
    const gj_err rest[] = {GJ_ERR_NOTFOUND, GJ_ERR_EXISTS, GJ_ERR_INVAL, GJ_ERR_IO, GJ_ERR_CORRUPT,
                           GJ_ERR_CLOSED, GJ_ERR_ABORT, GJ_ERR_TOOBIG, GJ_ERR_TRANSPORT};
    for (size_t i = 0; i < sizeof rest / sizeof rest[0]; i++) {
        assert_int_equal(gj_reason_of_err(rest[i]), GJ_R_STORE_ERROR);
        assert_int_equal(gj_reason_code(gj_reason_of_err(rest[i])), GJ_CODE_INTERNAL);
    }
    /* A value outside the enum (a corrupt record, a cast) is still a store error. */
    assert_int_equal(gj_reason_of_err((gj_err)-1), GJ_R_STORE_ERROR);
    assert_int_equal(gj_reason_of_err((gj_err)1000), GJ_R_STORE_ERROR);
}

static void test_out_of_range_reasons_and_codes_are_safe(void **state)
{
    (void)state;
    const int bad[] = {-1, GJ_R_COUNT, GJ_R_COUNT + 1, 1000, INT32_MIN, INT32_MAX};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_string_equal(gj_reason_name((gj_reason)bad[i]), "UNKNOWN");
        assert_int_equal(gj_reason_code((gj_reason)bad[i]), GJ_CODE_INTERNAL);
        assert_non_null(gj_reason_message((gj_reason)bad[i]));
    }
    assert_string_equal(gj_code_name(-1), "UNKNOWN");
    assert_string_equal(gj_code_name(17), "UNKNOWN");
    assert_string_equal(gj_code_name(99), "UNKNOWN");
    assert_string_equal(gj_code_name(INT32_MIN), "UNKNOWN");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reason_names_and_codes),
        cmocka_unit_test(test_every_reason_has_unique_name_code_and_message),
        cmocka_unit_test(test_reason_of_store_error),
        cmocka_unit_test(test_out_of_range_reasons_and_codes_are_safe),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
