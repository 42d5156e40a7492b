/* The harness's reading of a node's LeakSanitizer report (tests/support/leak_report.c):
 * what nng loses at exit is accepted, a block our own code leaked never is. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "leak_report.h"

#define HEAD "=================================================================\n" \
             "==9044==ERROR: LeakSanitizer: detected memory leaks\n\n"
#define CALLOC "    #0 0x7f1617cb83b7 in __interceptor_calloc ../../../../src/libsanitizer/asan/asan_malloc_linux.cpp:77\n"
#define NNG(n) "    #" #n " 0x7f16183a9c60  (/lib/x86_64-linux-gnu/libnng.so.1+0x1cc60)\n"
#define MBED(n) "    #" #n " 0x7f16183a9c60  (/lib/x86_64-linux-gnu/libmbedtls.so.14+0x2c60)\n"
#define OURS(n, fn, file) "    #" #n " 0x561ad7e8f88e in " fn " /src/gongji/" file ":149\n"
#define THREAD(n) "    #" #n " 0x7f1616ca71f4 in start_thread nptl/pthread_create.c:442\n"
#define TAIL "SUMMARY: AddressSanitizer: 368 byte(s) leaked in 2 allocation(s).\n"

static bool judge(const char *report)
{
    FILE *f = fmemopen((void *)report, strlen(report), "r");
    assert_non_null(f);
    bool only = leak_report_only_nng_teardown(f);
    fclose(f);
    return only;
}

static void test_a_listeners_cut_connections_are_accepted(void **state)
{
    (void)state;
    assert_true(judge(HEAD "Direct leak of 96 byte(s) in 1 object(s) allocated from:\n" CALLOC NNG(1) MBED(2) THREAD(3)
                      "\n" "Indirect leak of 64 byte(s) in 1 object(s) allocated from:\n" CALLOC NNG(1) NNG(2)
                      OURS(3, "listen_guard_start", "trust/listen_guard.c") THREAD(4) "\n" TAIL));
}

static void test_a_request_a_peer_call_handed_to_nng_is_accepted(void **state)
{
    (void)state;
    assert_true(judge(HEAD "Direct leak of 112 byte(s) in 1 object(s) allocated from:\n" CALLOC NNG(1)
                      OURS(2, "peers_call_raw", "node/peer_links.c") OURS(3, "peers_sealed_call", "node/peer_sessions.c")
                      OURS(4, "outbox_sender", "node/peers.c") THREAD(5) "\n" TAIL));
}

static void test_a_block_our_code_allocated_fails(void **state)
{
    (void)state;
    /* Our malloc, no nng at all. */
    assert_false(judge(HEAD "Direct leak of 40 byte(s) in 1 object(s) allocated from:\n" CALLOC
                       OURS(1, "store_open", "store/store.c") THREAD(2) "\n" TAIL));
    /* nng allocated it, but for another caller of ours than the two above. */
    assert_false(judge(HEAD "Direct leak of 112 byte(s) in 1 object(s) allocated from:\n" CALLOC NNG(1)
                       OURS(2, "server_reply", "node/server.c") THREAD(3) "\n" TAIL));
    /* peers_call_raw allocating by itself (nng only further down, as its caller). */
    assert_false(judge(HEAD "Direct leak of 24 byte(s) in 1 object(s) allocated from:\n" CALLOC
                       OURS(1, "peers_call_raw", "node/peer_links.c") NNG(2) THREAD(3) "\n" TAIL));
}

static void test_one_bad_block_among_accepted_ones_fails(void **state)
{
    (void)state;
    assert_false(judge(HEAD "Direct leak of 112 byte(s) in 1 object(s) allocated from:\n" CALLOC NNG(1)
                       OURS(2, "peers_call_raw", "node/peer_links.c") "\n"
                       "Direct leak of 40 byte(s) in 1 object(s) allocated from:\n" CALLOC
                       OURS(1, "call_alloc", "node/call.c") "\n" TAIL));
    /* The same with the report cut short after the bad block. */
    assert_false(judge(HEAD "Direct leak of 112 byte(s) in 1 object(s) allocated from:\n" CALLOC NNG(1)
                       OURS(2, "peers_call_raw", "node/peer_links.c") "\n"
                       "Direct leak of 40 byte(s) in 1 object(s) allocated from:\n" CALLOC
                       OURS(1, "call_alloc", "node/call.c")));
}

static void test_anything_but_a_leak_report_fails(void **state)
{
    (void)state;
    assert_false(judge(""));
    assert_false(judge("==1==ERROR: AddressSanitizer: heap-use-after-free on address 0x602000000010\n" NNG(1)));
    assert_false(judge(HEAD TAIL)); /* LeakSanitizer with no block */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_listeners_cut_connections_are_accepted),
        cmocka_unit_test(test_a_request_a_peer_call_handed_to_nng_is_accepted),
        cmocka_unit_test(test_a_block_our_code_allocated_fails),
        cmocka_unit_test(test_one_bad_block_among_accepted_ones_fails),
        cmocka_unit_test(test_anything_but_a_leak_report_fails),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
