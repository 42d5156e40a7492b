/* The test watchdog (watchdog.c): before ctest's timeout it shows where the test program
 * and its nodes wait, then aborts. */
#ifndef GJ_TEST_WATCHDOG_H
#define GJ_TEST_WATCHDOG_H

#include <sys/types.h>

/* Remember a node process the test started, for the watchdog to show if it hangs. */
void th_watch_node(pid_t pid, const char *region);

#endif
