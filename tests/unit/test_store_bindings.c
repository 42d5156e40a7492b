/* Unit tests of bindings and deduction orders (store/bindings.c): bindings listed from
 * both sides, and an absent order read as empty. */
#include "store_fixture.h"

#include <string.h>

struct bindings {
    size_t n;
    store_binding b[8];
};

static gj_err apply_bindings(store_txn *t, void *arg)
{
    struct bindings *bs = arg;
    gj_err err;
    for (size_t i = 0; i < bs->n; i++)
        if ((err = store_binding_put(t, &bs->b[i])) != GJ_OK)
            return err;
    return GJ_OK;
}

static void test_binding_lists_from_both_sides(void **state)
{
    struct fx *f = open_fx(state);
    /* S10 is the trap: "S1" must not match it as a prefix. */
    struct bindings bs = {.n = 5,
                          .b = {binding_of("S1", "B2", 0), binding_of("S1", "B1", 0),
                                binding_of("S1", "B3", 0), binding_of("S2", "B1", 0),
                                binding_of("S10", "B1", 0)}};
    assert_int_equal(store_submit_wait(f->s, apply_bindings, &bs), GJ_OK);

    store_txn *t = rd(f);
    store_binding out[8];
    size_t n = 99;
    assert_int_equal(store_binding_list_by_sponsor(t, "S1", out, 8, &n), GJ_OK);
    assert_int_equal(n, 3);
    assert_string_equal(out[0].beneficiary, "B1");
    assert_string_equal(out[1].beneficiary, "B2");
    assert_string_equal(out[2].beneficiary, "B3");
    assert_string_equal(out[0].sponsor, "S1");
    assert_string_equal(out[0].beneficiary_admdvs, "440300");

    assert_int_equal(store_binding_list_by_beneficiary(t, "B1", out, 8, &n), GJ_OK);
    assert_int_equal(n, 3);
    assert_string_equal(out[0].sponsor, "S1");
    assert_string_equal(out[1].sponsor, "S10");
    assert_string_equal(out[2].sponsor, "S2");
    assert_string_equal(out[2].beneficiary, "B1");

    /* More than max: the first max, and TOOBIG. */
    memset(out, 0, sizeof out);
    assert_int_equal(store_binding_list_by_sponsor(t, "S1", out, 2, &n), GJ_ERR_TOOBIG);
    assert_int_equal(n, 2);
    assert_string_equal(out[1].beneficiary, "B2");
    assert_int_equal(store_binding_list_by_beneficiary(t, "B1", NULL, 0, &n), GJ_ERR_TOOBIG);
    assert_int_equal(n, 0);
    assert_int_equal(store_binding_list_by_sponsor(t, "S3", out, 8, &n), GJ_OK);
    assert_int_equal(n, 0);
    assert_int_equal(store_binding_list_by_beneficiary(t, "S1", out, 8, &n), GJ_OK);
    assert_int_equal(n, 0);

    store_binding one;
    assert_int_equal(store_binding_get(t, "S2", "B1", &one), GJ_OK);
    assert_string_equal(one.sponsor, "S2");
    assert_int_equal(store_binding_get(t, "B1", "S2", &one), GJ_ERR_NOTFOUND);
    assert_int_equal(store_binding_count(t), 5);
    store_read_end(t);

    /* Replacing updates both sides and adds nothing. */
    struct bindings upd = {.n = 1, .b = {binding_of("S1", "B1", 20250101)}};
    assert_int_equal(store_submit_wait(f->s, apply_bindings, &upd), GJ_OK);
    t = rd(f);
    assert_int_equal(store_binding_count(t), 5);
    assert_int_equal(store_binding_list_by_beneficiary(t, "B1", out, 8, &n), GJ_OK);
    assert_int_equal(out[0].end_date, 20250101);
    assert_int_equal(store_binding_list_by_sponsor(t, "S1", out, 8, &n), GJ_OK);
    assert_int_equal(out[0].end_date, 20250101);
    store_read_end(t);
}

struct order_put {
    const char *beneficiary;
    store_order order;
};

static gj_err apply_order(store_txn *t, void *arg)
{
    struct order_put *o = arg;
    return store_order_put(t, o->beneficiary, &o->order);
}

static gj_err apply_verification(store_txn *t, void *arg)
{
    return store_verification_put(t, arg);
}

/* R18: the identity check a binding was made with, kept by the pair; the latest wins. */
static void test_verification_kept_by_pair(void **state)
{
    struct fx *f = open_fx(state);
    store_verification v = {.sponsor = "S1", .beneficiary = "B1", .attester = "national-app", .method = "face",
                            .verified_unix_ms = 1800000000000, .recorded_unix_ms = 1800000001000,
                            .bind_date = 20270101};
    assert_int_equal(store_submit_wait(f->s, apply_verification, &v), GJ_OK);
    v.verified_unix_ms += 86400000;
    v.bind_date = 20270102;
    assert_int_equal(store_submit_wait(f->s, apply_verification, &v), GJ_OK);
    store_verification bad = {.sponsor = "", .beneficiary = "B1"};
    assert_int_equal(store_submit_wait(f->s, apply_verification, &bad), GJ_ERR_INVAL);
    store_txn *t = rd(f);
    store_verification out;
    assert_int_equal(store_verification_get(t, "S1", "B1", &out), GJ_OK);
    assert_string_equal(out.attester, "national-app");
    assert_string_equal(out.method, "face");
    assert_int_equal(out.bind_date, 20270102);
    assert_int_equal(out.verified_unix_ms, 1800000000000 + 86400000);
    assert_int_equal(store_verification_get(t, "B1", "S1", &out), GJ_ERR_NOTFOUND);
    store_read_end(t);
}

static void test_order_absent_reads_empty(void **state)
{
    struct fx *f = open_fx(state);
    store_order out;
    store_txn *t = rd(f);
    memset(&out, 0xff, sizeof out);
    assert_int_equal(store_order_get(t, "B1", &out), GJ_OK);
    assert_int_equal(out.count, 0);
    assert_int_equal(out.sponsors[0].psn_no[0], '\0');
    store_read_end(t);

    struct order_put o = {.beneficiary = "B1"};
    memset(&o.order, 0, sizeof o.order);
    o.order.count = 2;
    SET(o.order.sponsors[0].psn_no, "S2");
    SET(o.order.sponsors[0].admdvs, "430100");
    SET(o.order.sponsors[1].psn_no, "S1");
    SET(o.order.sponsors[1].admdvs, "440300");
    assert_int_equal(store_submit_wait(f->s, apply_order, &o), GJ_OK);

    t = rd(f);
    assert_int_equal(store_order_get(t, "B1", &out), GJ_OK);
    assert_int_equal(out.count, 2);
    assert_string_equal(out.sponsors[0].psn_no, "S2");
    assert_string_equal(out.sponsors[1].admdvs, "440300");
    assert_int_equal(store_order_get(t, "B2", &out), GJ_OK);
    assert_int_equal(out.count, 0);
    store_read_end(t);

    o.order.count = GJ_SPONSORS_MAX + 1;
    assert_int_equal(store_submit_wait(f->s, apply_order, &o), GJ_ERR_INVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_binding_lists_from_both_sides),
        T(test_order_absent_reads_empty),
        T(test_verification_kept_by_pair),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
