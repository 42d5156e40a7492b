/* The slow path: a fixed pool of threads for calls that wait on other nodes
 * (forwarding, cross-region bindings and settlements). Blocking there keeps the code
 * straight-line while the nng and store threads never wait on the network. */
#ifndef GJ_WORKERS_H
#define GJ_WORKERS_H

#include "gj_error.h"

typedef struct workers workers;
typedef void (*workers_fn)(void *arg);

/* Start count threads with a queue of queue_max jobs. */
gj_err workers_start(workers **out, unsigned count, unsigned queue_max);
/* Run fn(arg) on a worker. GJ_ERR_FULL when the queue is full, GJ_ERR_CLOSED after stop. */
gj_err workers_submit(workers *w, workers_fn fn, void *arg);
/* Finish queued jobs, join the threads, free. Safe on NULL. */
void workers_stop(workers *w);

#endif
