#include "workers.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

typedef struct job {
    workers_fn fn;
    void *arg;
} job;

struct workers {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    job *queue;
    unsigned cap, head, len;
    bool stopping;
    unsigned count;
    pthread_t threads[];
};

static void *worker_main(void *arg)
{
    workers *w = arg;
    for (;;) {
        pthread_mutex_lock(&w->mu);
        while (w->len == 0 && !w->stopping)
            pthread_cond_wait(&w->cv, &w->mu);
        if (w->len == 0) {
            pthread_mutex_unlock(&w->mu);
            return NULL;
        }
        job j = w->queue[w->head];
        w->head = (w->head + 1) % w->cap;
        w->len--;
        pthread_mutex_unlock(&w->mu);
        j.fn(j.arg);
    }
}

gj_err workers_start(workers **out, unsigned count, unsigned queue_max)
{
    workers *w = calloc(1, sizeof *w + count * sizeof(pthread_t));
    if (w == NULL || (w->queue = calloc(queue_max, sizeof *w->queue)) == NULL) {
        free(w);
        return GJ_ERR_NOMEM;
    }
    w->cap = queue_max;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    for (unsigned i = 0; i < count; i++) {
        if (pthread_create(&w->threads[i], NULL, worker_main, w) != 0) {
            workers_stop(w);
            return GJ_ERR_NOMEM;
        }
        w->count = i + 1;
    }
    *out = w;
    return GJ_OK;
}

gj_err workers_submit(workers *w, workers_fn fn, void *arg)
{
    gj_err err = GJ_OK;
    pthread_mutex_lock(&w->mu);
    if (w->stopping)
        err = GJ_ERR_CLOSED;
    else if (w->len == w->cap)
        err = GJ_ERR_FULL;
    else {
        w->queue[(w->head + w->len) % w->cap] = (job){fn, arg};
        w->len++;
        pthread_cond_signal(&w->cv);
    }
    pthread_mutex_unlock(&w->mu);
    return err;
}

void workers_stop(workers *w)
{
    if (w == NULL)
        return;
    pthread_mutex_lock(&w->mu);
    w->stopping = true;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    for (unsigned i = 0; i < w->count; i++)
        pthread_join(w->threads[i], NULL);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    free(w->queue);
    free(w);
}
