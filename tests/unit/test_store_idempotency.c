/* Unit tests of idempotency records (store/idempotency.c): the first answer to a call
 * and its request digest, and replacing only an answer on record. */
#include "store_fixture.h"

#include <stdio.h>
#include <string.h>

struct idem_case {
    const char *reply;
    gj_err rv_first, rv_again, rv_get_back, rv_empty, rv_big;
    bool same_after_writes;
};

static gj_err apply_idem(store_txn *t, void *arg)
{
    struct idem_case *c = arg;
    size_t len = strlen(c->reply);
    c->rv_first = store_idem_put(t, "caller-a", "call-1", dg(0x1122334455667788ULL), c->reply, len);
    c->rv_again = store_idem_put(t, "caller-a", "call-1", dg(1), "other", 5);
    c->rv_empty = store_idem_put(t, "caller-a", "call-empty", dg(7), NULL, 0);
    static char big[GJ_MSG_HARD_MAX + 1];
    c->rv_big = store_idem_put(t, "caller-a", "call-big", dg(7), big, sizeof big);

    store_digest hash;
    const void *reply = NULL;
    size_t reply_len = 0;
    c->rv_get_back = store_idem_get(t, "caller-a", "call-1", &hash, &reply, &reply_len);
    if (c->rv_get_back != GJ_OK)
        return GJ_OK;
    /* Later writes in the same txn must not disturb the reply handed out. */
    char id[32];
    for (int i = 0; i < 300; i++) {
        snprintf(id, sizeof id, "filler-%04d", i);
        if (store_idem_put(t, "caller-0", id, dg((uint64_t)i), "filler filler filler", 20) != GJ_OK)
            return GJ_ERR_IO;
    }
    c->same_after_writes = store_digest_equal(&hash, dg(0x1122334455667788ULL)) && reply_len == len &&
                           memcmp(reply, c->reply, len) == 0;
    return GJ_OK;
}

static gj_err apply_idem_replace(store_txn *t, void *arg)
{
    gj_err *rv = arg;
    rv[0] = store_idem_put(t, "caller-r", "call-1", dg(5), "first", 5);
    rv[1] = store_idem_replace(t, "caller-r", "call-1", dg(5), "corrected", 9);
    rv[2] = store_idem_replace(t, "caller-r", "call-none", dg(5), "never", 5);
    return GJ_OK;
}

/* A corrected answer replaces the one on record; nothing is made where none was. */
static void test_idem_replace_only_what_is_on_record(void **state)
{
    struct fx *f = open_fx(state);
    gj_err rv[3];
    assert_int_equal(store_submit_wait(f->s, apply_idem_replace, rv), GJ_OK);
    assert_int_equal(rv[0], GJ_OK);
    assert_int_equal(rv[1], GJ_OK);
    assert_int_equal(rv[2], GJ_ERR_NOTFOUND);
    open_with(f, NULL);
    store_txn *t = rd(f);
    store_digest hash;
    const void *reply = NULL;
    size_t len = 0;
    assert_int_equal(store_idem_get(t, "caller-r", "call-1", &hash, &reply, &len), GJ_OK);
    assert_true(store_digest_equal(&hash, dg(5)));
    assert_int_equal(len, 9);
    assert_memory_equal(reply, "corrected", 9);
    assert_int_equal(store_idem_get(t, "caller-r", "call-none", &hash, &reply, &len), GJ_ERR_NOTFOUND);
    store_read_end(t);
}

static void test_idem_roundtrip(void **state)
{
    struct fx *f = open_fx(state);
    struct idem_case c = {.reply = "reply bytes \x01\x02 of the first answer"};
    assert_int_equal(store_submit_wait(f->s, apply_idem, &c), GJ_OK);
    assert_int_equal(c.rv_first, GJ_OK);
    assert_int_equal(c.rv_again, GJ_ERR_EXISTS);
    assert_int_equal(c.rv_empty, GJ_OK);
    assert_int_equal(c.rv_big, GJ_ERR_TOOBIG);
    assert_int_equal(c.rv_get_back, GJ_OK);
    assert_true(c.same_after_writes);

    open_with(f, NULL);
    store_txn *t = rd(f);
    store_digest hash;
    const void *reply = NULL;
    size_t len = 0;
    assert_int_equal(store_idem_get(t, "caller-a", "call-1", &hash, &reply, &len), GJ_OK);
    assert_true(store_digest_equal(&hash, dg(0x1122334455667788ULL)));
    assert_int_equal(len, strlen(c.reply));
    assert_memory_equal(reply, c.reply, len); /* the first answer stood */
    assert_int_equal(store_idem_get(t, "caller-a", "call-empty", &hash, &reply, &len), GJ_OK);
    assert_true(store_digest_equal(&hash, dg(7)));
    assert_int_equal(len, 0);
    /* The separator keeps ("caller-a","call-1") apart from ("caller-acall-","1"). */
    assert_int_equal(store_idem_get(t, "caller-acall-", "1", &hash, &reply, &len),
                     GJ_ERR_NOTFOUND);
    assert_int_equal(store_idem_get(t, "caller-b", "call-1", &hash, &reply, &len),
                     GJ_ERR_NOTFOUND);
    assert_int_equal(store_idem_get(t, "caller-a", "call-big", &hash, &reply, &len),
                     GJ_ERR_NOTFOUND);
    store_read_end(t);
}

/* Records older than the cutoff go, oldest first, at most max a call; a replaced one
 * keeps its first time and goes once; records younger than the cutoff stay. */
struct prune_case {
    int64_t before;
    size_t max, pruned;
    gj_err rv;
};

static gj_err apply_puts(store_txn *t, void *arg)
{
    (void)arg;
    char id[32];
    gj_err err = GJ_OK;
    for (int i = 0; i < 10 && err == GJ_OK; i++) {
        snprintf(id, sizeof id, "old-%d", i);
        err = store_idem_put(t, "caller-p", id, dg((uint64_t)i + 1), "answer", 6);
    }
    if (err == GJ_OK)
        err = store_idem_replace(t, "caller-p", "old-3", dg(4), "corrected", 9);
    /* Caller and call id as long as they may be: its key by time is the longest. */
    char caller[GJ_CALLER_ID_MAX + 1], call[GJ_CALL_ID_MAX + 1];
    memset(caller, 'c', GJ_CALLER_ID_MAX);
    caller[GJ_CALLER_ID_MAX] = '\0';
    memset(call, 'k', GJ_CALL_ID_MAX);
    call[GJ_CALL_ID_MAX] = '\0';
    if (err == GJ_OK)
        err = store_idem_put(t, caller, call, dg(11), "long", 4);
    return err;
}

static gj_err apply_prune(store_txn *t, void *arg)
{
    struct prune_case *p = arg;
    p->rv = store_idem_prune(t, p->before, p->max, &p->pruned);
    return GJ_OK;
}

static void test_idem_prune_takes_only_what_is_older_and_at_most_max(void **state)
{
    struct fx *f = open_fx(state);
    assert_int_equal(store_submit_wait(f->s, apply_puts, NULL), GJ_OK);
    store_txn *t = rd(f);
    assert_int_equal(store_idem_count(t), 11);
    store_read_end(t);
    /* Written just now: nothing before an hour ago goes. */
    struct prune_case p = {.before = gj_now_unix_ms() - 3600000, .max = 100};
    assert_int_equal(store_submit_wait(f->s, apply_prune, &p), GJ_OK);
    assert_int_equal(p.rv, GJ_OK);
    assert_int_equal(p.pruned, 0);
    /* Everything before a second from now: 4 at a time, then the rest. */
    p = (struct prune_case){.before = gj_now_unix_ms() + 1000, .max = 4};
    assert_int_equal(store_submit_wait(f->s, apply_prune, &p), GJ_OK);
    assert_int_equal(p.pruned, 4);
    t = rd(f);
    assert_int_equal(store_idem_count(t), 7);
    store_read_end(t);
    p.max = 100;
    assert_int_equal(store_submit_wait(f->s, apply_prune, &p), GJ_OK);
    assert_int_equal(p.rv, GJ_OK);
    assert_int_equal(p.pruned, 7);
    t = rd(f);
    assert_int_equal(store_idem_count(t), 0);
    assert_int_equal(store_idem_get(t, "caller-p", "old-3", NULL, NULL, NULL), GJ_ERR_NOTFOUND);
    store_read_end(t);
    assert_int_equal(store_submit_wait(f->s, apply_prune, &p), GJ_OK);
    assert_int_equal(p.pruned, 0); /* no index entry was left behind */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_idem_roundtrip),
        T(test_idem_replace_only_what_is_on_record),
        T(test_idem_prune_takes_only_what_is_older_and_at_most_max),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
