/* gongji credit --file: a monthly credit file (划入) through Registry/CreditBatch, a
 * thousand rows a request, each row credited exactly once however often the file is run
 * (docs/import.md). The file is read by the import library (import/): CSV in UTF-8 or
 * GBK, Chinese or English headers, amounts as Excel writes them. A row the file itself
 * gets wrong is refused here, with its line and the value as written; a row the node
 * refuses (no such person, no account, ...) comes back with its reason. A run cut short
 * (the node died, the network went) is run again as it was: rows already credited come
 * back as credited before, and nothing moves twice. */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cli_internal.h"
#include "gj_limits.h"
#include "gj_util.h"
#include "import.h"

#define ROWS_PER_CALL 1000
/* Two calls in flight on two connections: while the node applies one request the next
 * is already on its way, so its writer does not wait for each answer's round trip. */
#define CALLS_IN_FLIGHT 2
#define ROW_ID_MAX 40
#define TRIES_PER_CALL 3
#define REFUSALS_SHOWN 200
#define REASONS_MAX 32

typedef struct pending {
    Gongji__V1__CreditRow rows[ROWS_PER_CALL];
    Gongji__V1__CreditRow *ptrs[ROWS_PER_CALL];
    long line[ROWS_PER_CALL];
    char *owned[ROWS_PER_CALL][3]; /* row_id, psn_no, memo */
    size_t n;
    /* Once handed to a sender: its outcome. */
    bool taken, done;
    int rc;
    ProtobufCMessage *answer;
    struct pending *next; /* in flight, oldest first */
} pending;

typedef struct tally {
    uint64_t read, credited, repeated, refused, shown;
    int64_t fen;
    struct {
        char reason[40];
        uint64_t count;
    } by_reason[REASONS_MAX];
    size_t reasons;
    long last_line;
    bool dups_warned;
    bool stopped; /* a call gave up: said once */
} tally;

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void count_reason(tally *t, const char *reason)
{
    for (size_t i = 0; i < t->reasons; i++)
        if (strcmp(t->by_reason[i].reason, reason) == 0) {
            t->by_reason[i].count++;
            return;
        }
    if (t->reasons < REASONS_MAX) {
        gj_strcpy_fit(t->by_reason[t->reasons].reason, sizeof t->by_reason[t->reasons].reason, reason);
        t->by_reason[t->reasons++].count = 1;
    }
}

/* A refused row, on the operator's terminal: its line, reason and what was written. */
static void refuse(tally *t, long line, const char *reason, const char *fmt, const char *value)
{
    t->refused++;
    count_reason(t, reason);
    if (t->shown++ < REFUSALS_SHOWN) {
        char *v = cli_clean(value != NULL ? value : "", false);
        fprintf(stderr, "line %ld: %s: ", line, reason);
        fprintf(stderr, fmt, v != NULL ? v : "?");
        fputc('\n', stderr);
        free(v);
    } else if (t->shown == REFUSALS_SHOWN + 1) {
        fprintf(stderr, "(more refused rows are counted below, not shown)\n");
    }
}

static void pending_clear(pending *p)
{
    for (size_t i = 0; i < p->n; i++)
        for (int k = 0; k < 3; k++)
            free(p->owned[i][k]);
    p->n = 0;
}

/* The requests in flight: senders, each with a connection of its own (a client is used
 * by one thread), take them oldest first; the reading thread counts their answers in
 * the same order, so lines and totals come out as if sent one by one. */
typedef struct senders {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pending *head, *tail; /* in flight, oldest first */
    pending *spare[CALLS_IN_FLIGHT + 1];
    size_t spares;
    bool stop;
    const char *batch;
    bool dry_run;
    cli_ctx ctx[CALLS_IN_FLIGHT];
    pthread_t thread[CALLS_IN_FLIGHT];
    size_t started;
} senders;

/* One request; a call that is not answered is sent again (the rows' keys make that
 * safe). */
static int send_rows(cli_ctx *x, const pending *p, const char *batch, bool dry_run, ProtobufCMessage **m)
{
    Gongji__V1__CreditBatchRequest req = GONGJI__V1__CREDIT_BATCH_REQUEST__INIT;
    req.batch = (char *)batch;
    req.rows = (Gongji__V1__CreditRow **)p->ptrs;
    req.n_rows = p->n;
    req.dry_run = dry_run;
    int rc = CLI_EXIT_NOANSWER;
    for (int attempt = 0; attempt < TRIES_PER_CALL && rc == CLI_EXIT_NOANSWER; attempt++)
        rc = cli_call_method(x, "gongji.v1.Registry/CreditBatch", NULL, &req.base,
                             &gongji__v1__credit_batch_reply__descriptor, m);
    return rc;
}

static void *sender_main(void *arg)
{
    cli_ctx *x = arg;
    senders *s = x->sender_pool;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        pending *p = s->head;
        while (p != NULL && p->taken)
            p = p->next;
        if (p == NULL) {
            if (s->stop)
                break;
            pthread_cond_wait(&s->cv, &s->mu);
            continue;
        }
        p->taken = true;
        pthread_mutex_unlock(&s->mu);
        ProtobufCMessage *m = NULL;
        int rc = send_rows(x, p, s->batch, s->dry_run, &m);
        pthread_mutex_lock(&s->mu);
        p->rc = rc;
        p->answer = m;
        p->done = true;
        pthread_cond_broadcast(&s->cv);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

static int senders_start(senders *s, cli_ctx *x, const char *batch, bool dry_run)
{
    memset(s, 0, sizeof *s);
    s->batch = batch;
    s->dry_run = dry_run;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    for (size_t i = 0; i < CALLS_IN_FLIGHT + 1; i++)
        if ((s->spare[s->spares] = calloc(1, sizeof(pending))) != NULL)
            s->spares++;
    for (size_t i = 0; i < CALLS_IN_FLIGHT && s->spares == CALLS_IN_FLIGHT + 1; i++) {
        /* A connection and a credential of its own: neither is shared between threads. */
        s->ctx[i] = *x;
        s->ctx[i].client = NULL;
        s->ctx[i].cred = NULL;
        s->ctx[i].sender_pool = s;
        if (pthread_create(&s->thread[i], NULL, sender_main, &s->ctx[i]) != 0)
            break;
        s->started++;
    }
    return s->started > 0 ? 0 : -1;
}

static void senders_stop(senders *s)
{
    pthread_mutex_lock(&s->mu);
    s->stop = true;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    for (size_t i = 0; i < s->started; i++) {
        pthread_join(s->thread[i], NULL);
        client_close(s->ctx[i].client);
        gj_cred_free(s->ctx[i].cred);
    }
    for (size_t i = 0; i < s->spares; i++) {
        pending_clear(s->spare[i]);
        free(s->spare[i]);
    }
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
}

/* Count the oldest request's answer (waiting for it) and give its buffer back.
 * Returns an exit code: OK, or NOANSWER/NODE when its call gave up. */
static int count_oldest(senders *s, tally *t)
{
    pthread_mutex_lock(&s->mu);
    pending *p = s->head;
    while (!p->done)
        pthread_cond_wait(&s->cv, &s->mu);
    s->head = p->next;
    if (s->head == NULL)
        s->tail = NULL;
    pthread_mutex_unlock(&s->mu);
    int rc = p->rc;
    if (rc != CLI_EXIT_OK) {
        if (!t->stopped)
            fprintf(stderr,
                    "gongji: stopped before line %ld; rows up to line %ld are decided. Run the same command "
                    "again: rows already credited are not credited twice\n",
                    p->line[0], t->last_line);
        t->stopped = true;
    } else {
        const Gongji__V1__CreditBatchReply *r = (const Gongji__V1__CreditBatchReply *)p->answer;
        t->credited += r->credited;
        t->fen += r->credited_amount;
        for (size_t i = 0; i < r->n_outcomes; i++) {
            const Gongji__V1__CreditRowOutcome *o = r->outcomes[i];
            long line = o->index < p->n ? p->line[o->index] : 0;
            if (strcmp(o->reason, "ROW_REPEATED") == 0) {
                t->repeated++;
                continue;
            }
            char text[300];
            snprintf(text, sizeof text, "%s (psn_no %s)", o->message,
                     o->index < p->n ? p->rows[o->index].psn_no : "?");
            refuse(t, line, o->reason, "%s", text);
        }
        t->last_line = p->line[p->n - 1];
    }
    if (p->answer != NULL)
        protobuf_c_message_free_unpacked(p->answer, NULL);
    pending_clear(p);
    p->taken = p->done = false;
    p->answer = NULL;
    p->next = NULL;
    s->spare[s->spares++] = p;
    return rc;
}

/* Put the rows gathered in flight, oldest last. */
static void enqueue(senders *s, pending *p)
{
    pthread_mutex_lock(&s->mu);
    if (s->tail != NULL)
        s->tail->next = p;
    else
        s->head = p;
    s->tail = p;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

/* A free buffer, counting the oldest answer first when every buffer is in flight.
 * Returns an exit code: OK, or that answer's failure. */
static int free_buffer(senders *s, pending **p, tally *t)
{
    int rc = s->spares == 0 ? count_oldest(s, t) : CLI_EXIT_OK;
    *p = s->spare[--s->spares];
    return rc;
}

/* Count every answer still due; the first failure's exit code, else OK. */
static int count_all(senders *s, tally *t)
{
    int rc = CLI_EXIT_OK;
    while (s->head != NULL) {
        int one = count_oldest(s, t);
        if (rc == CLI_EXIT_OK)
            rc = one;
    }
    return rc;
}

static bool visible_ascii(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] <= 0x20 || s[i] >= 0x7f)
            return false;
    return true;
}

/* One data record into the pending rows, or refused here. */
static void take_row(pending *p, char **f, size_t n, const int *col, long line, imp_dups *ids, tally *t)
{
    const char *row_id = col[IMP_C_ROW_ID] < (int)n ? f[col[IMP_C_ROW_ID]] : "";
    const char *psn = col[IMP_C_PSN_NO] < (int)n ? f[col[IMP_C_PSN_NO]] : "";
    const char *amount = col[IMP_C_AMOUNT] < (int)n ? f[col[IMP_C_AMOUNT]] : "";
    const char *memo = col[IMP_C_MEMO] >= 0 && col[IMP_C_MEMO] < (int)n ? f[col[IMP_C_MEMO]] : "";
    char err[IMP_ERR_MAX] = "";
    int64_t fen = 0;
    if (!visible_ascii(row_id, ROW_ID_MAX)) {
        refuse(t, line, "FIELD_INVALID", "row_id must be 1..40 visible ASCII characters, not '%s'", row_id);
        return;
    }
    if (strlen(psn) == 0 || strlen(psn) > GJ_PSN_NO_MAX) {
        refuse(t, line, "FIELD_INVALID", "psn_no must be 1..32 characters, not '%s'", psn);
        return;
    }
    if (imp_amount_parse(amount, &fen, err, sizeof err) != 0 || fen <= 0) {
        refuse(t, line, "AMOUNT_INVALID", "%s", fen <= 0 && err[0] == '\0' ? "amount must be above 0" : err);
        return;
    }
    const char *month = col[IMP_C_MONTH] >= 0 && col[IMP_C_MONTH] < (int)n ? f[col[IMP_C_MONTH]] : "";
    int32_t yyyymm;
    if (month[0] != '\0' && imp_month_parse(month, &yyyymm, err, sizeof err) != 0) {
        refuse(t, line, "MONTH_INVALID", "%s", err);
        return;
    }
    if (strlen(memo) > GJ_MEMO_MAX) {
        refuse(t, line, "FIELD_INVALID", "memo is at most 128 bytes: '%s'", memo);
        return;
    }
    long first = 0;
    int seen = imp_dups_add(ids, row_id, line, &first);
    if (seen == 1) {
        char text[200];
        snprintf(text, sizeof text, "row_id %%s is on line %ld already", first);
        refuse(t, line, "ROW_ID_REPEATED", text, row_id);
        return;
    }
    if (seen < 0 && !t->dups_warned) {
        /* The node still credits each row key once; only this file's own check stops. */
        fprintf(stderr, "gongji: row ids past line %ld are not checked for repeats in the file: %s\n", line,
                imp_dups_error(ids));
        t->dups_warned = true;
    }
    size_t i = p->n;
    Gongji__V1__CreditRow *r = &p->rows[i];
    gongji__v1__credit_row__init(r);
    p->owned[i][0] = strdup(row_id);
    p->owned[i][1] = strdup(psn);
    p->owned[i][2] = strdup(memo);
    r->row_id = p->owned[i][0];
    r->psn_no = p->owned[i][1];
    r->memo = p->owned[i][2];
    r->amount = fen;
    p->ptrs[i] = r;
    p->line[i] = line;
    p->n++;
}

static void progress(const tally *t, int64_t started_ms, bool done)
{
    double s = (double)(mono_ms() - started_ms) / 1000.0;
    fprintf(stderr, "\rline %-10ld credited %-10llu refused %-8llu %8.0f rows/s%s", t->last_line,
            (unsigned long long)t->credited, (unsigned long long)t->refused, s > 0 ? (double)t->read / s : 0.0,
            done ? "\n" : "");
}

int cli_credit_file(cli_ctx *x)
{
    const char *path = x->val[O_FILE], *batch = x->val[O_BATCH] != NULL ? x->val[O_BATCH] : "";
    bool dry_run = x->seen[O_DRY_RUN];
    if (batch[0] != '\0' && (!visible_ascii(batch, 20) || strchr(batch, ':') != NULL))
        return cli_usage(x, "--batch is 1..20 visible ASCII characters without ':'");
    FILE *f;
    imp_reader *r;
    int col[IMP_COLUMNS_MAX];
    int opened = cli_import_open(x, IMP_CREDITS, &f, &r, col);
    if (opened >= 0)
        return opened;
    char **fields;
    size_t n;
    long line;
    long long offset;
    int got;
    imp_dups *ids = imp_dups_open(IMP_DUPS_CAP);
    senders *pool = calloc(1, sizeof *pool);
    pending *p = NULL;
    tally t = {0};
    if (ids == NULL || pool == NULL || senders_start(pool, x, batch, dry_run) != 0) {
        if (pool != NULL)
            senders_stop(pool);
        free(pool);
        imp_dups_close(ids);
        imp_reader_close(r);
        fclose(f);
        return cli_usage(x, "out of memory");
    }
    free_buffer(pool, &p, &t); /* nothing is in flight yet */
    bool bar = isatty(STDERR_FILENO) && !x->json;
    int64_t started = mono_ms(), shown_ms = 0;
    int rc = CLI_EXIT_OK;
    while (rc == CLI_EXIT_OK && (got = imp_reader_next(r, &fields, &n, &line, &offset)) != IMP_END) {
        if (got == IMP_FAILED) {
            fprintf(stderr, "gongji: %s\n", imp_reader_error(r));
            rc = CLI_EXIT_USAGE;
            break;
        }
        bool empty = got == IMP_RECORD;
        for (size_t i = 0; empty && i < n; i++)
            empty = fields[i][0] == '\0';
        if (empty)
            continue; /* ",,," : what a spreadsheet writes for an empty row */
        t.read++;
        if (got == IMP_BAD) {
            refuse(&t, line, "ROW_UNREADABLE", "%s", imp_reader_error(r));
            continue;
        }
        take_row(p, fields, n, col, line, ids, &t);
        if (p->n == ROWS_PER_CALL) {
            enqueue(pool, p);
            rc = free_buffer(pool, &p, &t);
        }
        if (bar && mono_ms() - shown_ms >= 200) {
            progress(&t, started, false);
            shown_ms = mono_ms();
        }
    }
    if (rc == CLI_EXIT_OK && p->n > 0) {
        enqueue(pool, p);
        p = NULL;
    }
    int last = count_all(pool, &t);
    if (rc == CLI_EXIT_OK)
        rc = last;
    if (p != NULL)
        pool->spare[pool->spares++] = p;
    senders_stop(pool);
    free(pool);
    if (bar)
        progress(&t, started, true);
    double seconds = (double)(mono_ms() - started) / 1000.0;
    char yuan[32];
    if (x->json) {
        cJSON *o = cJSON_CreateObject(), *why = cJSON_CreateObject();
        j_text(o, "file", path);
        j_text(o, "encoding", imp_reader_encoding(r));
        cJSON_AddBoolToObject(o, "dry_run", dry_run);
        j_u64(o, "rows", t.read);
        j_u64(o, dry_run ? "would_credit" : "credited", t.credited);
        j_amount(o, dry_run ? "would_credit_amount" : "credited_amount", t.fen);
        j_u64(o, "credited_before", t.repeated);
        j_u64(o, "refused", t.refused);
        for (size_t i = 0; i < t.reasons; i++)
            cJSON_AddNumberToObject(why, t.by_reason[i].reason, (double)t.by_reason[i].count);
        j_add(o, "refused_by_reason", why);
        cJSON_AddNumberToObject(o, "seconds", seconds);
        j_emit(o);
    } else {
        printf("%-19s %s (%s)\n", "file", path, imp_reader_encoding(r));
        h_u64("rows", t.read);
        h_u64(dry_run ? "would_credit" : "credited", t.credited);
        printf(H_LABEL "%s\n", dry_run ? "would_credit_yuan" : "credited_yuan", gj_yuan_format(t.fen, yuan));
        h_u64("credited_before", t.repeated);
        h_u64("refused", t.refused);
        for (size_t i = 0; i < t.reasons; i++)
            printf("  %-17s %llu\n", t.by_reason[i].reason, (unsigned long long)t.by_reason[i].count);
        printf(H_LABEL "%.1f s (%.0f rows/s)%s\n", "took", seconds, seconds > 0 ? (double)t.read / seconds : 0.0,
               dry_run ? "; dry run: nothing written" : "");
    }
    imp_dups_close(ids);
    imp_reader_close(r);
    fclose(f);
    if (rc == CLI_EXIT_OK && t.refused > 0)
        rc = CLI_EXIT_NODE; /* some rows were not credited: the lines above say which */
    return rc;
}
