/* Durability: an answered write survives kill -9; money moves exactly once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "gj_util.h"

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
    assert_int_equal(th_log_leaks_total(), 0); /* no person or ID number logged in full */
}

typedef struct load {
    test_node *node;
    int id;
    _Atomic bool *stop;
    _Atomic int *answers;  /* answered calls of every thread, so far */
    int64_t answered_ok;   /* fen whose settlement was answered OK */
    int64_t unanswered;    /* fen whose call got no answer at all */
} load;

static void *settle_until_stopped(void *arg)
{
    load *l = arg;
    client_t *c = tn_client(l->node, "H51010000001", GONGJI__V1__ROLE__INSTITUTION);
    for (int i = 0; !atomic_load(l->stop) && i < 100000; i++) {
        char id[32];
        snprintf(id, sizeof id, "t%d-%d", l->id, i);
        client_status st;
        int code = op_settle(c, "P", 100, id, NULL, &st);
        atomic_fetch_add(l->answers, 1);
        if (code == 0)
            l->answered_ok += 100;
        else if (strcmp(st.reason, "NO_ANSWER") == 0)
            l->unanswered += 100;
    }
    client_close(c);
    return NULL;
}

static void test_sigterm_under_load_stops_quickly_and_keeps_every_answer(void **state)
{
    (void)state;
    test_node node;
    client_status st;
    tn_init(&node, "510100", "cascade = yes\n");
    assert_int_equal(tn_start(&node), 0);
    client_t *op = tn_client(&node, "op-1", GONGJI__V1__ROLE__OPERATOR);
    assert_int_equal(op_enroll(op, "P", 1, "310", "510100", &st), 0);
    assert_int_equal(op_credit(op, "P", 100000000, &st), 0);
    client_close(op);

    _Atomic bool stop = false;
    _Atomic int answers = 0;
    enum { THREADS = 16 };
    load loads[THREADS];
    pthread_t threads[THREADS];
    for (int i = 0; i < THREADS; i++) {
        loads[i] = (load){.node = &node, .id = i, .stop = &stop, .answers = &answers};
        pthread_create(&threads[i], NULL, settle_until_stopped, &loads[i]);
    }
    /* Under load: every client has connected and opened its session (slow under a
     * sanitizer) and answers are flowing; then a little more. */
    struct timespec tick = {0, 20 * 1000 * 1000};
    for (int waited = 0; atomic_load(&answers) < 4 * THREADS && waited < 500; waited++)
        nanosleep(&tick, NULL);
    struct timespec pause = {0, 300 * 1000 * 1000};
    nanosleep(&pause, NULL);
    int64_t t0 = gj_mono_ms();
    assert_int_equal(tn_stop(&node), 0); /* SIGTERM: exit 0 */
    int64_t took = gj_mono_ms() - t0;
    atomic_store(&stop, true);
    int64_t answered = 0, unanswered = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(threads[i], NULL);
        answered += loads[i].answered_ok;
        unanswered += loads[i].unanswered;
    }
    print_message("stopped in %lld ms under load; %lld fen answered\n", (long long)took, (long long)answered);
    assert_true(took < 3000);
    assert_true(answered > 0);

    /* Every answered settlement is there; a call with no answer may or may not be. */
    assert_int_equal(tn_start(&node), 0);
    op = tn_client(&node, "op-1", GONGJI__V1__ROLE__OPERATOR);
    int64_t spent = 100000000 - op_balance(op, "P");
    assert_true(spent >= answered);
    assert_true(spent <= answered + unanswered);
    client_close(op);
    tn_destroy(&node);
    assert_int_equal(th_log_leaks_total(), 0); /* no person or ID number logged in full */
}

/* A second node on a running node's data directory refuses to start, names the first,
 * and the first goes on serving with its money. */
static void test_a_second_node_on_the_same_data_directory_refuses(void **state)
{
    (void)state;
    test_node node;
    client_status st;
    tn_init(&node, "510100", "cascade = yes\n");
    assert_int_equal(tn_start(&node), 0);
    client_t *op = tn_client(&node, "op-1", GONGJI__V1__ROLE__OPERATOR);
    assert_int_equal(op_enroll(op, "S", 2, "310", "510100", &st), 0);
    assert_int_equal(op_credit(op, "S", 5000, &st), 0);
    const char *bin = getenv("GONGJI_NODE_BIN");
    char cmd[1024];
    /* The same config: the same data_dir (and port, which it would fail on later). */
    snprintf(cmd, sizeof cmd, "timeout 10 '%s' --config '%s' 2>&1; echo \"exit=$?\"", bin ? bin : "gongji-node",
             node.config);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char out[4096] = {0};
    size_t got = fread(out, 1, sizeof out - 1, p);
    pclose(p);
    out[got] = '\0';
    assert_non_null(strstr(out, "exit=1"));
    char log[1024];
    snprintf(log, sizeof log, "grep -c 'is in use by process %ld' '%s/node.log'", (long)node.pid, node.dir);
    p = popen(log, "r");
    assert_non_null(p);
    int lines = 0;
    assert_int_equal(fscanf(p, "%d", &lines), 1);
    pclose(p);
    assert_int_equal(lines, 1);
    assert_true(tn_alive(&node));
    assert_int_equal(op_balance(op, "S"), 5000);
    client_close(op);
    assert_int_equal(tn_stop(&node), 0);
    tn_destroy(&node);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_settle_then_kill9_moves_money_exactly_once),
        cmocka_unit_test(test_sigterm_under_load_stops_quickly_and_keeps_every_answer),
        cmocka_unit_test(test_a_second_node_on_the_same_data_directory_refuses),
    };
    return th_exit_status(cmocka_run_group_tests(tests, NULL, NULL));
}
