/* A test that hangs is stopped by ctest with nothing to say why. Shortly before ctest's
 * timeout (GONGJI_TEST_TIMEOUT_S, which gj_add_test sets), the watchdog prints the
 * threads of the test program and of every node it started that still runs (gdb), kills
 * those nodes and aborts, so the log of the run that hung shows where each was waiting. */
#include "watchdog.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define WATCHED_MAX 64
/* Seconds before ctest's timeout: long enough for gdb to walk a few processes. */
#define WATCHDOG_MARGIN_S 12

typedef struct watched {
    pid_t pid;
    char region[8];
} watched;

static pthread_mutex_t watched_mu = PTHREAD_MUTEX_INITIALIZER;
static watched nodes[WATCHED_MAX];
static size_t n_nodes;

void th_watch_node(pid_t pid, const char *region)
{
    pthread_mutex_lock(&watched_mu);
    size_t slot = n_nodes;
    for (size_t i = 0; i < n_nodes && slot == n_nodes; i++)
        if (kill(nodes[i].pid, 0) != 0)
            slot = i; /* a node gone since: its place is free */
    if (slot < WATCHED_MAX) {
        nodes[slot].pid = pid;
        snprintf(nodes[slot].region, sizeof nodes[slot].region, "%s", region);
        if (slot == n_nodes)
            n_nodes++;
    }
    pthread_mutex_unlock(&watched_mu);
}

static void print_threads(pid_t pid, const char *who)
{
    char cmd[256];
    fprintf(stderr, "== %s (pid %d), its threads:\n", who, (int)pid);
    snprintf(cmd, sizeof cmd,
             "timeout 20 gdb -p %d -batch -ex 'thread apply all bt 14' 2>/dev/null | grep -E '^Thread|^#' | "
             "cut -c1-180 | head -400 >&2",
             (int)pid);
    if (system(cmd) != 0)
        fprintf(stderr, "(gdb could not show them)\n");
}

static void *watchdog_main(void *arg)
{
    unsigned seconds = (unsigned)(size_t)arg;
    while (seconds > 0)
        seconds = sleep(seconds);
    fprintf(stderr, "\n== the test is still running %zu s before its timeout: where it waits ==\n",
            (size_t)WATCHDOG_MARGIN_S);
    print_threads(getpid(), "the test program");
    pthread_mutex_lock(&watched_mu);
    for (size_t i = 0; i < n_nodes; i++)
        if (kill(nodes[i].pid, 0) == 0) {
            char who[32];
            snprintf(who, sizeof who, "node %s", nodes[i].region);
            print_threads(nodes[i].pid, who);
        }
    /* No node outlives the test it served, to take the next test's CPU. */
    for (size_t i = 0; i < n_nodes; i++)
        kill(nodes[i].pid, SIGKILL);
    pthread_mutex_unlock(&watched_mu);
    fflush(stderr);
    abort();
}

__attribute__((constructor)) static void watchdog_start(void)
{
    const char *t = getenv("GONGJI_TEST_TIMEOUT_S");
    long timeout = t != NULL ? strtol(t, NULL, 10) : 0;
    if (timeout <= 2 * WATCHDOG_MARGIN_S)
        return;
    pthread_t thread;
    if (pthread_create(&thread, NULL, watchdog_main, (void *)(size_t)(timeout - WATCHDOG_MARGIN_S)) == 0)
        pthread_detach(thread);
}
