/* Reading a node's LeakSanitizer report (tests/support/leak_report.c). */
#ifndef GJ_TEST_LEAK_REPORT_H
#define GJ_TEST_LEAK_REPORT_H

#include <stdbool.h>
#include <stdio.h>

/* True when the report read from f (a node's stderr) is a LeakSanitizer report whose
 * every leaked block is one nng 1.5.2 loses when it tears connections down at exit:
 * allocated inside nng or mbedTLS, with no frame of ours but the listen itself
 * (listen_guard) or a peer call that handed nng its request (peers_call_raw). False for
 * anything else, including a report with no leak in it. */
bool leak_report_only_nng_teardown(FILE *f);

#endif
