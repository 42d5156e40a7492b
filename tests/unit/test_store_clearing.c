/* Unit tests of clearing entries and windows (store/clearing.c): scans by window and
 * counterparty, scans whose callback deletes and adds, closed windows, the first open
 * window, refund rows, malformed entries, and damage to the patient index, clearing
 * entries and window records. */
#include "store_fixture.h"

#include <stdio.h>
#include <string.h>

static store_clearing clearing_of(int32_t window, const char *counterparty, const char *setl_id,
                                  uint32_t leg, uint8_t kind, int64_t amount)
{
    store_clearing e;
    memset(&e, 0, sizeof e);
    e.window = window;
    SET(e.counterparty, counterparty);
    SET(e.setl_id, setl_id);
    e.leg = leg;
    e.kind = kind;
    e.direction = STORE_CLR_OWED_TO_US;
    e.amount = amount;
    SET(e.sponsor, "S1");
    SET(e.beneficiary, "B1");
    e.unix_ms = 1704067200000LL;
    return e;
}

struct clearings {
    size_t n;
    store_clearing e[24];
    gj_err rv[24];
};

static gj_err apply_clearings(store_txn *t, void *arg)
{
    struct clearings *c = arg;
    for (size_t i = 0; i < c->n; i++)
        c->rv[i] = store_clearing_put(t, &c->e[i]);
    return GJ_OK;
}

static void put_clearing(struct fx *f, store_clearing e)
{
    struct clearings c = {.n = 1, .e = {e}};
    assert_int_equal(store_submit_wait(f->s, apply_clearings, &c), GJ_OK);
    assert_int_equal(c.rv[0], GJ_OK);
}

/* Deletes of entries named like store_clearing keys, each result recorded. */
struct clearing_dels {
    size_t n;
    store_clearing key[8];
    gj_err rv[8];
};

static gj_err apply_clearing_dels(store_txn *t, void *arg)
{
    struct clearing_dels *d = arg;
    for (size_t i = 0; i < d->n; i++)
        d->rv[i] = store_clearing_delete(t, d->key[i].window, d->key[i].counterparty,
                                         d->key[i].setl_id, d->key[i].leg, d->key[i].kind);
    return GJ_OK;
}

struct closes {
    size_t n;
    int32_t window[8];
    int64_t unix_ms;
    gj_err rv[8];
    bool abort_after;
};

static gj_err apply_closes(store_txn *t, void *arg)
{
    struct closes *c = arg;
    for (size_t i = 0; i < c->n; i++)
        c->rv[i] = store_window_close(t, c->window[i], c->unix_ms);
    return c->abort_after ? GJ_ERR_ABORT : GJ_OK;
}

static void close_window(struct fx *f, int32_t window, int64_t unix_ms)
{
    struct closes c = {.n = 1, .window = {window}, .unix_ms = unix_ms};
    assert_int_equal(store_submit_wait(f->s, apply_closes, &c), GJ_OK);
    assert_int_equal(c.rv[0], GJ_OK);
}

struct seen_clearing {
    int n;
    int stop_after;
    char what[32][64];
    store_clearing e[32];
};

static bool see_clearing(const store_clearing *e, void *arg)
{
    struct seen_clearing *s = arg;
    if (s->n < 32) {
        snprintf(s->what[s->n], sizeof s->what[s->n], "%d/%s/%s/%u/%u", (int)e->window,
                 e->counterparty, e->setl_id, (unsigned)e->leg, (unsigned)e->kind);
        s->e[s->n] = *e;
    }
    s->n++;
    return s->stop_after == 0 || s->n < s->stop_after;
}

static struct seen_clearing scan_clearing(struct fx *f, int32_t window, const char *counterparty)
{
    struct seen_clearing s = {0};
    store_txn *t = rd(f);
    assert_int_equal(store_clearing_scan(t, window, counterparty, see_clearing, &s), GJ_OK);
    store_read_end(t);
    return s;
}

static void test_clearing_entries_scan_by_window_and_counterparty(void **state)
{
    struct fx *f = open_fx(state);
    struct clearings c = {.n = 9,
                          .e = {
                              clearing_of(20240101, "440300", "S10", 0, STORE_CLR_PAYMENT, 100),
                              clearing_of(20240101, "440300", "S1", 256, STORE_CLR_PAYMENT, 200),
                              clearing_of(20240101, "440300", "S1", 1, STORE_CLR_PAYMENT, 300),
                              clearing_of(20240101, "440300", "S1", 1, STORE_CLR_REFUND, -300),
                              clearing_of(20240101, "310000", "S2", 0, STORE_CLR_PREMIUM, 50),
                              clearing_of(20240101, "440301", "S1", 1, STORE_CLR_PAYMENT, 7),
                              clearing_of(20240102, "440300", "S3", 0, STORE_CLR_PAYMENT, 9),
                              clearing_of(20231231, "440300", "S0", 0, STORE_CLR_PAYMENT, 8),
                              clearing_of(20240101, "440300", "S1", 1, STORE_CLR_PAYMENT, 300),
                          }};
    c.e[4].direction = STORE_CLR_WE_OWE;
    assert_int_equal(store_submit_wait(f->s, apply_clearings, &c), GJ_OK);
    for (size_t i = 0; i < c.n; i++)
        assert_int_equal(c.rv[i], GJ_OK);
    open_with(f, NULL);

    /* Counterparty, then setl_id ("S1" before "S10"), then leg as a number, then kind. */
    struct seen_clearing s = scan_clearing(f, 20240101, "");
    assert_int_equal(s.n, 6);
    assert_string_equal(s.what[0], "20240101/310000/S2/0/2");
    assert_string_equal(s.what[1], "20240101/440300/S1/1/1");
    assert_string_equal(s.what[2], "20240101/440300/S1/1/3");
    assert_string_equal(s.what[3], "20240101/440300/S1/256/1");
    assert_string_equal(s.what[4], "20240101/440300/S10/0/1");
    assert_string_equal(s.what[5], "20240101/440301/S1/1/1");
    assert_memory_equal(&s.e[0], &c.e[4], sizeof c.e[4]);
    assert_memory_equal(&s.e[2], &c.e[3], sizeof c.e[3]);

    s = scan_clearing(f, 20240101, "440300");
    assert_int_equal(s.n, 4);
    assert_string_equal(s.what[0], "20240101/440300/S1/1/1");
    assert_string_equal(s.what[3], "20240101/440300/S10/0/1");
    s = scan_clearing(f, 20240101, "310000");
    assert_int_equal(s.n, 1);
    s = scan_clearing(f, 20240102, "");
    assert_int_equal(s.n, 1);
    assert_string_equal(s.what[0], "20240102/440300/S3/0/1");
    s = scan_clearing(f, 20231231, "440300");
    assert_int_equal(s.n, 1);
    s = scan_clearing(f, 20240103, "");
    assert_int_equal(s.n, 0);
    s = scan_clearing(f, 20240101, "440302");
    assert_int_equal(s.n, 0);

    /* The same key again replaces (the same fact recorded again). */
    store_clearing again = c.e[2];
    again.amount = 301;
    put_clearing(f, again);
    s = scan_clearing(f, 20240101, "440300");
    assert_int_equal(s.n, 4);
    assert_int_equal(s.e[0].amount, 301);

    struct seen_clearing two = {.stop_after = 2};
    store_txn *t = rd(f);
    assert_int_equal(store_clearing_scan(t, 20240101, "", see_clearing, &two), GJ_OK);
    assert_int_equal(two.n, 2);
    assert_int_equal(store_clearing_scan(t, 20240230, "", see_clearing, &two), GJ_ERR_INVAL);
    assert_int_equal(store_clearing_scan(t, 20240101, "4403", see_clearing, &two), GJ_ERR_INVAL);
    assert_int_equal(store_clearing_scan(t, 20240101, "4403001", see_clearing, &two),
                     GJ_ERR_INVAL);
    assert_int_equal(store_clearing_scan(t, 20240101, NULL, see_clearing, &two), GJ_ERR_INVAL);
    assert_int_equal(store_clearing_scan(t, 20240101, "", NULL, NULL), GJ_ERR_INVAL);
    store_read_end(t);
}

#define CLR_SWEEP 300

struct clr_sweep {
    store_txn *t;
    int visits;
    gj_err rv;
};

static bool delete_each_clearing(const store_clearing *e, void *arg)
{
    struct clr_sweep *sw = arg;
    sw->visits++;
    if (sw->rv == GJ_OK)
        sw->rv = store_clearing_delete(sw->t, e->window, e->counterparty, e->setl_id, e->leg,
                                       e->kind);
    /* An entry added while scanning, after every other one, is visited too. */
    if (e->leg == 0 && strcmp(e->setl_id, "C000") == 0 && sw->rv == GJ_OK) {
        store_clearing late = clearing_of(20240101, "440300", "C999", 0, STORE_CLR_PAYMENT, 1);
        sw->rv = store_clearing_put(sw->t, &late);
    }
    return true;
}

static gj_err apply_clr_sweep(store_txn *t, void *arg)
{
    struct clr_sweep *sw = arg;
    char id[16];
    gj_err err;
    for (int i = 0; i < CLR_SWEEP; i++) {
        snprintf(id, sizeof id, "C%03d", i);
        store_clearing e = clearing_of(20240101, "440300", id, 0, STORE_CLR_PAYMENT, 1 + i);
        if ((err = store_clearing_put(t, &e)) != GJ_OK)
            return err;
    }
    store_clearing other = clearing_of(20240102, "440300", "C000", 0, STORE_CLR_PAYMENT, 5);
    if ((err = store_clearing_put(t, &other)) != GJ_OK)
        return err;
    sw->t = t;
    if ((err = store_clearing_scan(t, 20240101, "", delete_each_clearing, sw)) != GJ_OK)
        return err;
    return sw->rv;
}

static void test_clearing_scan_lets_the_callback_delete_and_add(void **state)
{
    struct fx *f = open_fx(state);
    struct clr_sweep sw = {0};
    assert_int_equal(store_submit_wait(f->s, apply_clr_sweep, &sw), GJ_OK);
    assert_int_equal(sw.visits, CLR_SWEEP + 1); /* none skipped or repeated */
    assert_int_equal(scan_clearing(f, 20240101, "").n, 0);
    assert_int_equal(scan_clearing(f, 20240102, "").n, 1); /* the next window untouched */
}

static void test_closed_window_refuses_new_entries_and_deletes(void **state)
{
    struct fx *f = open_fx(state);
    uint8_t st = 0;
    int64_t ms = -1;
    store_txn *t = rd(f);
    assert_int_equal(store_window_get(t, 20240101, &st, &ms), GJ_OK); /* never written */
    assert_int_equal(st, STORE_WINDOW_OPEN);
    assert_int_equal(ms, 0);
    assert_int_equal(store_window_get(t, 20240132, &st, &ms), GJ_ERR_INVAL);
    store_read_end(t);

    store_clearing e1 = clearing_of(20240101, "440300", SETL_A, 0, STORE_CLR_PAYMENT, 100);
    store_clearing e2 = clearing_of(20240102, "440300", SETL_A, 1, STORE_CLR_PAYMENT, 200);
    put_clearing(f, e1);
    put_clearing(f, e2);

    /* Closing rolled back with its job leaves the window open. */
    struct closes doomed = {.n = 1, .window = {20240101}, .unix_ms = 5, .abort_after = true};
    assert_int_equal(store_submit_wait(f->s, apply_closes, &doomed), GJ_ERR_ABORT);
    assert_int_equal(doomed.rv[0], GJ_OK);
    t = rd(f);
    assert_int_equal(store_window_get(t, 20240101, &st, NULL), GJ_OK);
    assert_int_equal(st, STORE_WINDOW_OPEN);
    store_read_end(t);

    close_window(f, 20240101, 111);
    close_window(f, 20240101, 222); /* idempotent: the first close stands */
    struct closes bad = {.n = 2, .window = {20240230, 20240103}, .unix_ms = -1};
    assert_int_equal(store_submit_wait(f->s, apply_closes, &bad), GJ_OK);
    assert_int_equal(bad.rv[0], GJ_ERR_INVAL);
    assert_int_equal(bad.rv[1], GJ_ERR_INVAL);
    open_with(f, NULL);
    t = rd(f);
    assert_int_equal(store_window_get(t, 20240101, &st, &ms), GJ_OK);
    assert_int_equal(st, STORE_WINDOW_CLOSED);
    assert_int_equal(ms, 111);
    assert_int_equal(store_window_get(t, 20240102, &st, &ms), GJ_OK);
    assert_int_equal(st, STORE_WINDOW_OPEN);
    assert_int_equal(store_window_get(t, 20240103, &st, &ms), GJ_OK);
    assert_int_equal(st, STORE_WINDOW_OPEN);
    store_read_end(t);

    /* Nothing enters, changes or leaves a closed window; the open one next to it is
     * unaffected. */
    store_clearing changed = e1;
    changed.amount = 101;
    struct clearings c = {
        .n = 4,
        .e = {clearing_of(20240101, "440300", SETL_B, 0, STORE_CLR_PAYMENT, 5), changed,
              clearing_of(20240101, "310000", SETL_B, 0, STORE_CLR_REFUND, -5),
              clearing_of(20240102, "440300", SETL_B, 0, STORE_CLR_PAYMENT, 5)}};
    assert_int_equal(store_submit_wait(f->s, apply_clearings, &c), GJ_OK);
    assert_int_equal(c.rv[0], GJ_ERR_EXISTS);
    assert_int_equal(c.rv[1], GJ_ERR_EXISTS);
    assert_int_equal(c.rv[2], GJ_ERR_EXISTS);
    assert_int_equal(c.rv[3], GJ_OK);
    struct clearing_dels d = {.n = 4, .key = {e1, c.e[0], e2, e2}};
    assert_int_equal(store_submit_wait(f->s, apply_clearing_dels, &d), GJ_OK);
    assert_int_equal(d.rv[0], GJ_ERR_EXISTS);
    assert_int_equal(d.rv[1], GJ_ERR_EXISTS); /* absent, but the window is closed anyway */
    assert_int_equal(d.rv[2], GJ_OK);
    assert_int_equal(d.rv[3], GJ_ERR_NOTFOUND);

    struct seen_clearing s = scan_clearing(f, 20240101, "");
    assert_int_equal(s.n, 1);
    assert_memory_equal(&s.e[0], &e1, sizeof e1);
    s = scan_clearing(f, 20240102, "");
    assert_int_equal(s.n, 1);
    assert_string_equal(s.e[0].setl_id, SETL_B);

    struct clearing_dels malformed = {.n = 4, .key = {e2, e2, e2, e2}};
    malformed.key[0].window = 20240100;
    SET(malformed.key[1].counterparty, "44030");
    malformed.key[2].setl_id[0] = '\0';
    malformed.key[3].kind = 0;
    assert_int_equal(store_submit_wait(f->s, apply_clearing_dels, &malformed), GJ_OK);
    for (size_t i = 0; i < malformed.n; i++)
        assert_int_equal(malformed.rv[i], GJ_ERR_INVAL);
}

static int32_t first_open(struct fx *f, int32_t date, gj_err want)
{
    int32_t w = -1;
    store_txn *t = rd(f);
    assert_int_equal(store_window_first_open(t, date, &w), want);
    store_read_end(t);
    return w;
}

struct close_run {
    int32_t from;
    int days;
};

static gj_err apply_close_run(store_txn *t, void *arg)
{
    struct close_run *r = arg;
    gj_err err;
    int32_t d = r->from;
    for (int i = 0; i < r->days; i++, d = gj_date_next(d))
        if ((err = store_window_close(t, d, 1)) != GJ_OK)
            return err;
    return GJ_OK;
}

static void test_first_open_window_skips_closed_ones(void **state)
{
    struct fx *f = open_fx(state);
    assert_int_equal(first_open(f, 20240101, GJ_OK), 20240101);

    close_window(f, 20240101, 1);
    close_window(f, 20240102, 1);
    close_window(f, 20240104, 1);
    assert_int_equal(first_open(f, 20240101, GJ_OK), 20240103);
    assert_int_equal(first_open(f, 20240102, GJ_OK), 20240103);
    assert_int_equal(first_open(f, 20240103, GJ_OK), 20240103);
    assert_int_equal(first_open(f, 20240104, GJ_OK), 20240105);
    assert_int_equal(first_open(f, 20231231, GJ_OK), 20231231);

    /* Across the end of a month, a leap day and a year. */
    close_window(f, 20240228, 1);
    close_window(f, 20240229, 1);
    assert_int_equal(first_open(f, 20240228, GJ_OK), 20240301);
    close_window(f, 20241231, 1);
    assert_int_equal(first_open(f, 20241231, GJ_OK), 20250101);

    /* The search is bounded: ten years of closed windows is an error, not a hang. */
    struct close_run run = {.from = 20300101, .days = 3659};
    assert_int_equal(store_submit_wait(f->s, apply_close_run, &run), GJ_OK);
    int32_t last = first_open(f, 20300101, GJ_OK);
    int32_t d = 20300101;
    for (int i = 0; i < 3659; i++)
        d = gj_date_next(d);
    assert_int_equal(last, d);
    close_window(f, last, 1);
    assert_int_equal(first_open(f, 20300101, GJ_ERR_FULL), 0);
    assert_int_equal(first_open(f, 20300102, GJ_OK), gj_date_next(last));

    /* And there is no day after 9999-12-31. */
    close_window(f, 99991231, 1);
    assert_int_equal(first_open(f, 99991231, GJ_ERR_FULL), 0);
    assert_int_equal(first_open(f, 99991230, GJ_OK), 99991230);

    first_open(f, 20240230, GJ_ERR_INVAL);
    store_txn *t = rd(f);
    assert_int_equal(store_window_first_open(t, 20240101, NULL), GJ_ERR_INVAL);
    store_read_end(t);
}

static void test_refund_row_must_be_negative(void **state)
{
    struct fx *f = open_fx(state);
    struct clearings c = {
        .n = 9,
        .e = {
            clearing_of(20240101, "440300", "R0", 0, STORE_CLR_REFUND, -100),
            clearing_of(20240101, "440300", "R1", 0, STORE_CLR_REFUND, -GJ_AMOUNT_MAX),
            clearing_of(20240101, "440300", "R2", 0, STORE_CLR_PAYMENT, GJ_AMOUNT_MAX),
            clearing_of(20240101, "440300", "X0", 0, STORE_CLR_REFUND, 100),
            clearing_of(20240101, "440300", "X1", 0, STORE_CLR_REFUND, 0),
            clearing_of(20240101, "440300", "X2", 0, STORE_CLR_REFUND, -GJ_AMOUNT_MAX - 1),
            clearing_of(20240101, "440300", "X3", 0, STORE_CLR_PAYMENT, -100),
            clearing_of(20240101, "440300", "X4", 0, STORE_CLR_PREMIUM, -1),
            clearing_of(20240101, "440300", "X5", 0, STORE_CLR_PAYMENT, 0),
        }};
    assert_int_equal(store_submit_wait(f->s, apply_clearings, &c), GJ_OK);
    assert_int_equal(c.rv[0], GJ_OK);
    assert_int_equal(c.rv[1], GJ_OK);
    assert_int_equal(c.rv[2], GJ_OK);
    for (size_t i = 3; i < c.n; i++)
        if (c.rv[i] != GJ_ERR_INVAL)
            fail_msg("case %zu: %s", i, gj_err_name(c.rv[i]));
    struct seen_clearing s = scan_clearing(f, 20240101, "");
    assert_int_equal(s.n, 3);
    assert_int_equal(s.e[0].amount, -100);
}

static void test_clearing_refuses_malformed_entries(void **state)
{
    struct fx *f = open_fx(state);
    store_clearing good = clearing_of(20240101, "440300", SETL_A, 0, STORE_CLR_PAYMENT, 100);
    struct clearings c = {.n = 0};
    store_clearing *e;

    c.e[c.n++] = good; /* 0 */
    e = &c.e[c.n++];
    *e = good;
    e->window = 20240132;
    e = &c.e[c.n++];
    *e = good;
    e->window = 0;
    e = &c.e[c.n++];
    *e = good;
    SET(e->counterparty, "44030");
    e = &c.e[c.n++];
    *e = good;
    SET(e->counterparty, "44a300");
    e = &c.e[c.n++];
    *e = good;
    memset(e->counterparty, '4', sizeof e->counterparty); /* 7 digits, no terminator */
    e = &c.e[c.n++];
    *e = good;
    e->setl_id[0] = '\0';
    e = &c.e[c.n++];
    *e = good;
    memset(e->setl_id, '7', sizeof e->setl_id);
    e = &c.e[c.n++];
    *e = good;
    e->kind = 0;
    e = &c.e[c.n++];
    *e = good;
    e->kind = STORE_CLR_REFUND + 1;
    e = &c.e[c.n++];
    *e = good;
    e->direction = 0;
    e = &c.e[c.n++];
    *e = good;
    e->direction = STORE_CLR_WE_OWE + 1;
    e = &c.e[c.n++];
    *e = good;
    e->amount = GJ_AMOUNT_MAX + 1;
    e = &c.e[c.n++];
    *e = good;
    e->sponsor[0] = '\0';
    e = &c.e[c.n++];
    *e = good;
    e->beneficiary[0] = '\0';
    for (size_t i = 1; i < c.n; i++) /* every refused one would land on another key */
        c.e[i].leg = (uint32_t)i;

    assert_int_equal(store_submit_wait(f->s, apply_clearings, &c), GJ_OK);
    assert_int_equal(c.rv[0], GJ_OK);
    for (size_t i = 1; i < c.n; i++)
        if (c.rv[i] != GJ_ERR_INVAL)
            fail_msg("case %zu: %s", i, gj_err_name(c.rv[i]));
    assert_int_equal(scan_clearing(f, 20240101, "").n, 1);
}

static void test_damaged_settlement_index_clearing_and_windows_read_as_corrupt(void **state)
{
    struct fx *f = open_fx(state);
    store_settlement st = setl_of("S1", "B1", 20240101, 1000), out[4];
    assert_int_equal(store_submit_wait(f->s, apply_setl, &st), GJ_OK);
    put_clearing(f, clearing_of(20240101, "440300", "S1", 0, STORE_CLR_PAYMENT, 100));
    store_close(f->s);
    f->s = NULL;

    /* Patient index keys, date "B2\0" ms id: one naming a missing settlement, one
     * naming S1 (filed under B1), one with a value. */
    unsigned char k[4 + 3 + 8 + 2] = {0x01, 0x34, 0xd6, 0xe5, 'B', '2', 0}; /* 20240101 = 0x0134d6e5 */
    memset(k + 7, 0, 8);
    k[14] = 1;
    memcpy(k + 15, "S9", 2);
    raw_putn(f->dir, "settlements_by_day", k, sizeof k, "", 0);
    k[5] = '3';
    memcpy(k + 15, "S1", 2);
    raw_putn(f->dir, "settlements_by_day", k, sizeof k, "", 0);
    k[5] = '4';
    k[13] = 0x03; /* 1000 = 0x3e8 */
    k[14] = 0xe8;
    raw_putn(f->dir, "settlements_by_day", k, sizeof k, "x", 1);
    raw_put(f->dir, "settlements", "S2", "abc", 3);

    /* A clearing entry under another key; a window record of the wrong size. */
    store_clearing moved = clearing_of(20240102, "440300", "S1", 0, STORE_CLR_PAYMENT, 100);
    const unsigned char ck[] = {0x01, 0x34, 0xd6, 0xe5, '4', '4', '0', '3', '0', '0',
                                'S', '2', 0, 0, 0, 0, 0, 1};
    raw_putn(f->dir, "clearing", ck, sizeof ck, &moved, sizeof moved);
    const unsigned char wk[] = {0x01, 0x34, 0xd6, 0xe6}; /* 20240102 */
    raw_putn(f->dir, "windows", wk, sizeof wk, "abc", 3);
    open_with(f, NULL);

    store_txn *t = rd(f);
    size_t n;
    char cur[80];
    assert_int_equal(store_settlement_list_by_psn(t, "B1", 0, 99991231, "", out, 4, &n, cur),
                     GJ_OK);
    assert_int_equal(n, 1);
    const char *bad[] = {"B2", "B3", "B4"};
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(store_settlement_list_by_psn(t, bad[i], 0, 99991231, "", out, 4, &n, cur),
                         GJ_ERR_CORRUPT);
        assert_int_equal(n, 0);
    }
    struct seen_clearing s = {0};
    assert_int_equal(store_clearing_scan(t, 20240101, "", see_clearing, &s), GJ_ERR_CORRUPT);
    assert_int_equal(s.n, 1); /* S1 came before the misfiled S2 */
    uint8_t ws;
    assert_int_equal(store_window_get(t, 20240102, &ws, NULL), GJ_ERR_CORRUPT);
    int32_t w;
    assert_int_equal(store_window_first_open(t, 20240102, &w), GJ_ERR_CORRUPT);
    store_read_end(t);

    /* Writes that depend on a damaged record refuse rather than guess. */
    put_clearing(f, clearing_of(20240103, "440300", "S1", 0, STORE_CLR_PAYMENT, 1));
    struct clearings c = {.n = 1,
                          .e = {clearing_of(20240102, "440300", "S1", 0, STORE_CLR_PAYMENT, 1)}};
    assert_int_equal(store_submit_wait(f->s, apply_clearings, &c), GJ_OK);
    assert_int_equal(c.rv[0], GJ_ERR_CORRUPT);
    store_settlement over = setl_of("S2", "B1", 20240101, 1);
    assert_int_equal(store_submit_wait(f->s, apply_setl, &over), GJ_ERR_CORRUPT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_clearing_entries_scan_by_window_and_counterparty),
        T(test_clearing_scan_lets_the_callback_delete_and_add),
        T(test_closed_window_refuses_new_entries_and_deletes),
        T(test_first_open_window_skips_closed_ones),
        T(test_refund_row_must_be_negative),
        T(test_clearing_refuses_malformed_entries),
        T(test_damaged_settlement_index_clearing_and_windows_read_as_corrupt),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
