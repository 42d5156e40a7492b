/* gongji-bench's credit run: monthly credits through the node (Registry/CreditBatch,
 * 1000 rows a request, durable), alone and while settlements run, and what the credits
 * do to the settlements' p99. Prints its figures; gongji-bench adds them to RESULT. */
#include "bench_credit.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ROWS_PER_REQUEST 1000
#define CREDIT_SENDERS 2

typedef struct sender {
    int id;
    const bench_credit_setup *setup;
    atomic_bool *stop;
    const char *batch;
    _Atomic uint64_t *next_request; /* shared: the senders take a file's requests in turn */
    uint64_t rows, refused, failed_calls;
} sender;

static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void *send_credits(void *arg)
{
    sender *s = arg;
    client_t *c = s->setup->open_operator(s->setup->url);
    if (c == NULL)
        return NULL;
    static Gongji__V1__CreditRow rows[CREDIT_SENDERS][ROWS_PER_REQUEST];
    static Gongji__V1__CreditRow *ptrs[CREDIT_SENDERS][ROWS_PER_REQUEST];
    static char ids[CREDIT_SENDERS][ROWS_PER_REQUEST][24], psn[CREDIT_SENDERS][ROWS_PER_REQUEST][32];
    while (!atomic_load(s->stop)) {
        /* Rows n of one file, as gongji credit --file sends it: a thousand consecutive
         * rows a request, two requests in flight, each person once per pass. */
        uint64_t first = atomic_fetch_add(s->next_request, 1) * ROWS_PER_REQUEST;
        for (int i = 0; i < ROWS_PER_REQUEST; i++) {
            Gongji__V1__CreditRow *r = &rows[s->id][i];
            gongji__v1__credit_row__init(r);
            uint64_t n = first + (uint64_t)i;
            snprintf(ids[s->id][i], sizeof ids[s->id][i], "%" PRIu64, n);
            snprintf(psn[s->id][i], sizeof psn[s->id][i], "%s%" PRIu64, s->setup->prefix,
                     n % (uint64_t)s->setup->people);
            r->row_id = ids[s->id][i];
            r->psn_no = psn[s->id][i];
            r->amount = 100 + (int64_t)(n % 900);
            ptrs[s->id][i] = r;
        }
        Gongji__V1__CreditBatchRequest req = GONGJI__V1__CREDIT_BATCH_REQUEST__INIT;
        req.batch = (char *)s->batch;
        req.rows = ptrs[s->id];
        req.n_rows = ROWS_PER_REQUEST;
        ProtobufCMessage *ans = NULL;
        client_status st;
        char call_id[48];
        client_new_call_id(call_id);
        client_call(c, "gongji.v1.Registry/CreditBatch", call_id, NULL, &req.base,
                    &gongji__v1__credit_batch_reply__descriptor, &ans, &st);
        if (st.code == 0 && ans != NULL) {
            Gongji__V1__CreditBatchReply *r = (Gongji__V1__CreditBatchReply *)ans;
            s->rows += r->credited;
            s->refused += r->refused + r->repeated;
        } else {
            s->failed_calls++;
        }
        if (ans)
            protobuf_c_message_free_unpacked(ans, NULL);
    }
    client_close(c);
    return NULL;
}

/* Credits for as long as a settlement run takes (settle) or for the run's seconds;
 * rows a second. */
static double credits_while(const bench_credit_setup *setup, const char *tag, bool settle, double *settle_p99,
                            uint64_t *refused)
{
    atomic_bool stop = false;
    _Atomic uint64_t next_request = 0;
    char batch[24];
    snprintf(batch, sizeof batch, "b%s%lld", tag, (long long)(time(NULL) % 100000000));
    sender s[CREDIT_SENDERS];
    pthread_t t[CREDIT_SENDERS];
    uint64_t w0[4] = {0}, w1[4] = {0};
    bool counted = setup->writer_counters != NULL && setup->writer_counters(setup->url, w0);
    int64_t t0 = mono_us();
    for (int i = 0; i < CREDIT_SENDERS; i++) {
        s[i] = (sender){.id = i, .setup = setup, .stop = &stop, .batch = batch, .next_request = &next_request};
        pthread_create(&t[i], NULL, send_credits, &s[i]);
    }
    if (settle) {
        *settle_p99 = setup->settle_p99(setup->settle_arg, "local, credits running");
    } else {
        struct timespec ts = {setup->seconds, 0};
        nanosleep(&ts, NULL);
    }
    atomic_store(&stop, true);
    uint64_t rows = 0, bad = 0, failed = 0;
    for (int i = 0; i < CREDIT_SENDERS; i++) {
        pthread_join(t[i], NULL);
        rows += s[i].rows;
        bad += s[i].refused;
        failed += s[i].failed_calls;
    }
    double elapsed = (double)(mono_us() - t0) / 1e6;
    *refused = bad + failed;
    /* Where a row's time goes on the writer: applying it, or its share of the commits. */
    if (counted && rows > 0 && setup->writer_counters(setup->url, w1) && w1[0] > w0[0])
        printf("%-22s credits %s: %.1f rows a commit, writer %.1f us a row applying, %.1f us committing\n", "",
               settle ? "while settling" : "alone", (double)rows / (double)(w1[0] - w0[0]),
               (double)(w1[2] - w0[2]) / (double)rows, (double)(w1[3] - w0[3]) / (double)rows);
    return (double)rows / elapsed;
}

bench_credit_result bench_credit_run(const bench_credit_setup *setup)
{
    bench_credit_result r = {0};
    uint64_t refused = 0;
    r.settle_p99_alone_ms = setup->settle_p99(setup->settle_arg, "local, alone");
    r.rows_s_busy = credits_while(setup, "s", true, &r.settle_p99_busy_ms, &refused);
    r.refused += refused;
    r.rows_s_alone = credits_while(setup, "a", false, NULL, &refused);
    r.refused += refused;
    printf("%-22s %10.0f rows/s alone, %.0f rows/s while settling (%d senders, %d rows a request, durable)\n",
           "credit (CreditBatch)", r.rows_s_alone, r.rows_s_busy, CREDIT_SENDERS, ROWS_PER_REQUEST);
    printf("%-22s settle p99 %.2f ms alone, %.2f ms with credits running: %.2fx%s\n", "", r.settle_p99_alone_ms,
           r.settle_p99_busy_ms, r.settle_p99_alone_ms > 0 ? r.settle_p99_busy_ms / r.settle_p99_alone_ms : 0,
           r.refused ? " (some rows or calls refused: see the node's log)" : "");
    fflush(stdout);
    return r;
}
