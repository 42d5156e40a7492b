/* The listener guard (trust/listen_guard.h): a listener that keeps working is left
 * alone, whatever its error counters do; one that reports errors and accepts nothing is
 * opened again, and callers are served again, the new ones at once and the old ones once
 * their sockets have dialed again.
 *
 * nng 1.5.2's own failure (a listener that stops accepting for good) cannot be caused
 * at will from outside, so the second case shows the guard what that failure looks
 * like: the listener's statistics, read through a wrapper (-Wl,--wrap=nng_stat_value),
 * count errors and nothing accepted, and nothing answers a new caller. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>

#include "listen_guard.h"

/* ---- the fault: a listener whose accepts stopped while its errors go on ---- */

static atomic_bool fault_on;
static atomic_uint_fast64_t fault_errors;
static uint64_t accepted_when_fault_began;

uint64_t __real_nng_stat_value(nng_stat *s);
uint64_t __wrap_nng_stat_value(nng_stat *s)
{
    uint64_t v = __real_nng_stat_value(s);
    if (!atomic_load(&fault_on))
        return v;
    const char *name = nng_stat_name(s);
    if (strcmp(name, "accept") == 0)
        return accepted_when_fault_began;
    if (strcmp(name, "other") == 0)
        return v + atomic_fetch_add(&fault_errors, 1) + 1;
    return v;
}

/* ---- a server that echoes, and its callers ---- */

static nng_socket server_sock;
static atomic_bool server_stop;
static char url[64];
static int port;

static void *echo_main(void *arg)
{
    (void)arg;
    while (!atomic_load(&server_stop)) {
        nng_msg *m;
        if (nng_recvmsg(server_sock, &m, 0) != 0)
            continue; /* a receive timeout: look at server_stop again */
        if (atomic_load(&fault_on)) {
            nng_msg_free(m); /* a dead listener's callers are never served */
            continue;
        }
        if (nng_sendmsg(server_sock, m, 0) != 0)
            nng_msg_free(m);
    }
    return NULL;
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || getsockname(fd, (struct sockaddr *)&a, &len) != 0)
        return -1;
    close(fd);
    return ntohs(a.sin_port);
}

static nng_socket caller(void)
{
    nng_socket s;
    assert_int_equal(nng_req0_open(&s), 0);
    nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 500);
    nng_socket_set_ms(s, NNG_OPT_SENDTIMEO, 500);
    nng_socket_set_ms(s, NNG_OPT_RECONNMINT, 50);
    nng_socket_set_ms(s, NNG_OPT_RECONNMAXT, 200);
    assert_int_equal(nng_dial(s, url, NULL, NNG_FLAG_NONBLOCK), 0);
    return s;
}

/* Whether s is answered within ms (asking again after each timeout). */
static bool answered_within(nng_socket s, int ms)
{
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        char *back = NULL;
        size_t n = 0;
        if (nng_send(s, "ping", 5, 0) == 0 && nng_recv(s, &back, &n, NNG_FLAG_ALLOC) == 0) {
            bool ok = n == 5 && memcmp(back, "ping", 5) == 0;
            nng_free(back, n);
            return ok;
        }
        clock_gettime(CLOCK_MONOTONIC, &t);
        if ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 > ms)
            return false;
        struct timespec pause = {0, 50 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
}

/* A TCP connection cut before it says anything: the listener counts an error. */
static void cut_connection(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    close(fd);
}

static uint64_t accepted_now(void)
{
    nng_stat *all;
    uint64_t n = 0;
    if (nng_stats_get(&all) != 0)
        return 0;
    for (nng_stat *s = nng_stat_child(all); s != NULL; s = nng_stat_next(s))
        if (strcmp(nng_stat_name(s), "listener") == 0) {
            nng_stat *a = nng_stat_find(s, "accept");
            if (a != NULL)
                n += __real_nng_stat_value(a);
        }
    nng_stats_free(all);
    return n;
}

static void test_a_working_listener_is_left_alone_and_a_dead_one_is_opened_again(void **state)
{
    (void)state;
    assert_true((port = free_port()) > 0);
    snprintf(url, sizeof url, "tcp://127.0.0.1:%d", port);
    assert_int_equal(nng_rep0_open(&server_sock), 0);
    nng_socket_set_ms(server_sock, NNG_OPT_RECVTIMEO, 100);
    listen_guard *g = NULL;
    assert_int_equal(listen_guard_start(&g, server_sock, url, NULL, NULL), 0);
    assert_non_null(g);
    pthread_t echo;
    pthread_create(&echo, NULL, echo_main, NULL);

    nng_socket old_caller = caller();
    assert_true(answered_within(old_caller, 3000));

    /* Connections cut before they say anything move the error counters; the guard
     * looks, finds the listener accepting its probe, and leaves it. */
    for (int i = 0; i < 5; i++)
        cut_connection();
    sleep(3);
    assert_int_equal(listen_guard_restarts(g), 0);
    assert_true(answered_within(old_caller, 1000));

    /* Now it counts errors and accepts nothing: opened again within a few seconds. */
    accepted_when_fault_began = accepted_now();
    atomic_store(&fault_on, true);
    for (int i = 0; i < 100 && listen_guard_restarts(g) == 0; i++) {
        struct timespec pause = {0, 100 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
    atomic_store(&fault_on, false);
    assert_int_equal(listen_guard_restarts(g), 1);

    /* A new caller is served at once; the old one once it has dialed again. */
    nng_socket new_caller = caller();
    assert_true(answered_within(new_caller, 3000));
    assert_true(answered_within(old_caller, 5000));

    nng_close(new_caller);
    nng_close(old_caller);
    atomic_store(&server_stop, true);
    pthread_join(echo, NULL);
    listen_guard_stop(g);
    nng_close(server_sock);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_working_listener_is_left_alone_and_a_dead_one_is_opened_again),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
