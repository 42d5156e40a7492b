/* Durability: an answered write survives kill -9; money moves exactly once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"

static void test_settle_then_kill9_moves_money_exactly_once(void **state)
{
    (void)state;
    test_node node;
    client_status st;
    tn_init(&node, "510100", "cascade = yes\n");
    assert_int_equal(tn_start(&node), 0);
    client_t *op = tn_client(&node, "op-1", GONGJI__V1__ROLE__OPERATOR);
    assert_int_equal(op_enroll(op, "P", 1, "390", "510100", &st), 0);
    assert_int_equal(op_enroll(op, "S", 2, "310", "510100", &st), 0);
    assert_int_equal(op_credit(op, "S", 100000, &st), 0);
    assert_int_equal(op_bind(op, "S", "P", GONGJI__V1__RELATION__CHILD, &st), 0);

    Gongji__V1__SettleReply *first = NULL;
    assert_int_equal(op_settle(op, "P", 12345, "bill-1", &first, &st), 0);
    assert_int_equal(settle_part(first, "S"), 12345);
    tn_kill9(&node); /* right after the answer */
    client_close(op);

    assert_int_equal(tn_start(&node), 0);
    op = tn_client(&node, "op-1", GONGJI__V1__ROLE__OPERATOR);
    assert_int_equal(op_balance(op, "S"), 100000 - 12345);
    /* The caller, unsure, retries: same answer, no second debit. */
    Gongji__V1__SettleReply *again = NULL;
    assert_int_equal(op_settle(op, "P", 12345, "bill-1", &again, &st), 0);
    assert_string_equal(first->setl_id, again->setl_id);
    assert_int_equal(op_balance(op, "S"), 100000 - 12345);
    gongji__v1__settle_reply__free_unpacked(first, NULL);
    gongji__v1__settle_reply__free_unpacked(again, NULL);

    /* Many answered settles, then a crash: every one is there after restart. */
    int64_t paid = 12345;
    for (int i = 0; i < 50; i++) {
        char id[32];
        snprintf(id, sizeof id, "bill-%d", i + 2);
        assert_int_equal(op_settle(op, "P", 100 + i, id, NULL, &st), 0);
        paid += 100 + i;
    }
    tn_kill9(&node);
    client_close(op);
    assert_int_equal(tn_start(&node), 0);
    op = tn_client(&node, "op-1", GONGJI__V1__ROLE__OPERATOR);
    assert_int_equal(op_balance(op, "S"), 100000 - paid);
    client_close(op);
    tn_destroy(&node);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_settle_then_kill9_moves_money_exactly_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
