/* libFuzzer target: arbitrary bytes into a node's dispatch, as if they came off the
 * wire. Every input must get exactly one answer, decodable as a Reply, and never crash.
 *
 *   cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DGONGJI_FUZZ=ON
 *   cmake --build build-fuzz --target fuzz_dispatch
 *   build-fuzz/tests/fuzz/fuzz_dispatch -max_total_time=60 tests/fuzz/corpus */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "log.h"
#include "authn.h"
#include "node.h"
#include "xr/xr.h"

typedef struct answer {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int answers;
    bool decodable;
} answer;

static void on_finish(void *arg, const uint8_t *bytes, size_t len)
{
    answer *a = arg;
    Gongji__V1__Reply *reply = gongji__v1__reply__unpack(NULL, len, bytes);
    pthread_mutex_lock(&a->mu);
    a->answers++;
    a->decodable = reply != NULL;
    pthread_cond_signal(&a->cv);
    pthread_mutex_unlock(&a->mu);
    if (reply)
        gongji__v1__reply__free_unpacked(reply, NULL);
}

static node fuzz_node;

static void setup_once(void)
{
    /* The store's directory: GONGJI_FUZZ_DIR when given (the suite's seed replay removes
     * it afterwards), else a new one under /tmp. */
    static char dir[4096] = "/tmp/gongji-fuzz-XXXXXX";
    const char *given = getenv("GONGJI_FUZZ_DIR");
    if (given != NULL) {
        snprintf(dir, sizeof dir, "%s", given);
        if (mkdir(dir, 0700) != 0)
            abort();
    } else if (mkdtemp(dir) == NULL) {
        abort();
    }
    gj_log_open(NULL, GJ_LOG_ERROR, "510100"); /* a line per call would slow the fuzzer */
    node_config_defaults(&fuzz_node.cfg);
    methods_install(&fuzz_node);
    memcpy(fuzz_node.cfg.region, "510100", 7);
    rules_policy_default(&fuzz_node.cfg.policy, "510100");
    fuzz_node.cfg.allow_clock_override = true;
    if (xr_init(&fuzz_node) != 0)
        abort();
    /* With GONGJI_FUZZ_PKI (a pki.sh directory holding node-510100.pem) the node requires
     * seals, as in production: the input then reaches Auth/Open and the seal checks. */
    const char *pki = getenv("GONGJI_FUZZ_PKI");
    if (pki != NULL) {
        snprintf(fuzz_node.cfg.tls_ca, sizeof fuzz_node.cfg.tls_ca, "%s/ca.crt", pki);
        snprintf(fuzz_node.cfg.tls_cert, sizeof fuzz_node.cfg.tls_cert, "%s/node-510100.pem", pki);
        snprintf(fuzz_node.cfg.tls_crl, sizeof fuzz_node.cfg.tls_crl, "%s/crl.pem", pki);
        if (authn_start(&fuzz_node) != 0)
            abort();
    }
    store_options opts = {.map_size = 256 << 20};
    if (store_open(&fuzz_node.store, dir, &opts) != GJ_OK ||
        workers_start(&fuzz_node.workers, 2, 64) != GJ_OK)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, setup_once);
    answer a = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
    dispatch_bytes(&fuzz_node, data, size, on_finish, &a);
    pthread_mutex_lock(&a.mu);
    while (a.answers == 0)
        pthread_cond_wait(&a.cv, &a.mu);
    pthread_mutex_unlock(&a.mu);
    if (a.answers != 1 || !a.decodable)
        abort(); /* one decodable answer per message, always */
    return 0;
}
