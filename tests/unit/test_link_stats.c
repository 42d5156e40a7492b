/* When a dialer may be replaced (trust/link_stats.h): only once it has no connection and
 * has finished no connection attempt across looks quiet_ms apart. A dialer that keeps
 * being refused is still working; one with a connection is working; one that waits
 * longer than quiet_ms between attempts reads as given up; another dialer starts the
 * watch again; a dialer nng does not know says so. Real nng dialers on the loopback. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <time.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>

#include "gj_util.h"
#include "link_stats.h"

#define QUIET_MS 300

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* A rep socket listening on a loopback port the kernel hands out; its URL in url. */
static nng_socket listening(char *url, size_t size)
{
    nng_socket s;
    nng_listener l;
    nng_sockaddr sa;
    assert_int_equal(nng_rep0_open(&s), 0);
    assert_int_equal(nng_listen(s, "tcp://127.0.0.1:0", &l, 0), 0);
    assert_int_equal(nng_listener_get_addr(l, NNG_OPT_LOCADDR, &sa), 0);
    snprintf(url, size, "tcp://127.0.0.1:%u", (unsigned)ntohs(sa.s_in.sa_port));
    return s;
}

/* A loopback URL nobody listens on: a port the kernel handed out, then given back. */
static void unused_url(char *url, size_t size)
{
    nng_close(listening(url, size));
}

/* Waits (at most 2 s) until d has a connection (want_pipe) or has finished an attempt. */
static void wait_for_activity(nng_dialer d, bool want_pipe, uint64_t *pipes, uint64_t *attempts)
{
    *pipes = *attempts = 0;
    for (int i = 0; i < 200 && (want_pipe ? *pipes : *attempts) == 0; i++) {
        sleep_ms(10);
        assert_int_equal(gj_link_dialer_activity(d, pipes, attempts), 0);
    }
}

/* A req socket dialing url in the background, waiting min_ms..max_ms between attempts. */
static nng_dialer dial(nng_socket *sock, const char *url, int min_ms, int max_ms)
{
    nng_dialer d;
    assert_int_equal(nng_req0_open(sock), 0);
    assert_int_equal(nng_socket_set_ms(*sock, NNG_OPT_RECONNMINT, min_ms), 0);
    assert_int_equal(nng_socket_set_ms(*sock, NNG_OPT_RECONNMAXT, max_ms), 0);
    assert_int_equal(nng_dial(*sock, url, &d, NNG_FLAG_NONBLOCK), 0);
    return d;
}

/* Looks every 50 ms for ms; how many looks said "gone quiet". */
static int quiet_looks(nng_dialer d, gj_dialer_watch *w, int ms)
{
    int quiet = 0;
    for (int t = 0; t < ms; t += 50) {
        int rv = -1;
        quiet += gj_dialer_gone_quiet(d, w, gj_mono_ms(), QUIET_MS, &rv);
        assert_int_equal(rv, 0);
        sleep_ms(50);
    }
    return quiet;
}

static void test_a_dialer_refused_again_and_again_is_still_working(void **state)
{
    (void)state;
    char url[64];
    unused_url(url, sizeof url);
    /* Another dialer made first, idle for a minute after its first refusal: each
     * dialer's own figures are read (nng 1.5.2's own lookup returns the first dialer's
     * for all). */
    nng_socket idle_sock;
    dial(&idle_sock, url, 60000, 60000);
    nng_socket sock;
    nng_dialer d = dial(&sock, url, 20, 50);
    gj_dialer_watch w = {0};
    assert_int_equal(quiet_looks(d, &w, 3 * QUIET_MS), 0);
    uint64_t pipes = 1, attempts = 0;
    assert_int_equal(gj_link_dialer_activity(d, &pipes, &attempts), 0);
    assert_int_equal(pipes, 0);
    assert_true(attempts >= 5); /* refused every 20-50 ms for 900 ms */
    nng_close(sock);
    nng_close(idle_sock);
}

static void test_a_dialer_with_a_connection_is_working(void **state)
{
    (void)state;
    char url[64];
    nng_socket server = listening(url, sizeof url);
    nng_socket sock;
    nng_dialer d = dial(&sock, url, 60000, 60000);
    uint64_t pipes, attempts;
    wait_for_activity(d, true, &pipes, &attempts);
    assert_int_equal(pipes, 1);
    /* Connected and then idle for longer than quiet_ms: still not given up. */
    gj_dialer_watch w = {0};
    assert_int_equal(quiet_looks(d, &w, 3 * QUIET_MS), 0);
    nng_close(sock);
    nng_close(server);
}

static void test_a_dialer_idle_between_attempts_reads_as_given_up(void **state)
{
    (void)state;
    char url[64];
    unused_url(url, sizeof url);
    nng_socket sock;
    /* Refused, then waits of up to a minute: as quiet as one that has given up. */
    nng_dialer d = dial(&sock, url, 60000, 60000);
    uint64_t pipes, attempts;
    wait_for_activity(d, false, &pipes, &attempts);
    assert_true(attempts > 0);
    /* nng 1.5.2 draws a wait in [0, back-off) through a signed cast, so about half its
     * waits are none: let those retries pass until the count holds for 100 ms. */
    uint64_t seen = 0;
    for (int i = 0; i < 20 && attempts != seen; i++) {
        seen = attempts;
        sleep_ms(100);
        assert_int_equal(gj_link_dialer_activity(d, &pipes, &attempts), 0);
    }
    assert_int_equal(attempts, seen);
    /* The looks below come microseconds apart, with times given: no sleeping here. */
    gj_dialer_watch w = {0};
    int rv = -1;
    int64_t t0 = gj_mono_ms();
    assert_false(gj_dialer_gone_quiet(d, &w, t0, QUIET_MS, &rv)); /* the first look starts the watch */
    assert_false(gj_dialer_gone_quiet(d, &w, t0 + QUIET_MS - 1, QUIET_MS, &rv));
    assert_true(gj_dialer_gone_quiet(d, &w, t0 + QUIET_MS, QUIET_MS, &rv));
    assert_int_equal(rv, 0);

    /* Another dialer (the replacement) is watched from its own first look. */
    nng_dialer fresh;
    assert_int_equal(nng_dial(sock, url, &fresh, NNG_FLAG_NONBLOCK), 0);
    sleep_ms(100);
    assert_false(gj_dialer_gone_quiet(fresh, &w, t0 + 10 * QUIET_MS, QUIET_MS, &rv));
    assert_int_equal(w.dialer_id, nng_dialer_id(fresh));

    /* A dialer nng does not know: no statistics, never "quiet". */
    nng_dialer unknown = {.id = 0x7ffffff0};
    gj_dialer_watch other = {0};
    assert_false(gj_dialer_gone_quiet(unknown, &other, t0, 0, &rv));
    assert_int_equal(rv, NNG_ENOENT);
    nng_close(sock);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_dialer_refused_again_and_again_is_still_working),
        cmocka_unit_test(test_a_dialer_with_a_connection_is_working),
        cmocka_unit_test(test_a_dialer_idle_between_attempts_reads_as_given_up),
    };
    int rv = cmocka_run_group_tests(tests, NULL, NULL);
    nng_fini();
    return rv;
}
