/* From bytes to an answer: envelope checks, the method table, idempotent writes. */
#include "node.h"
#include "authn.h"
#include "session.h"
#include "authz.h"
#include "gj_util.h"
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int32_t node_today(node *n)
{
    int32_t override = atomic_load(&n->date_override);
    return override ? override : gj_cst_date_of(gj_now_unix_ms());
}

void node_new_setl_id(node *n, int32_t date, char out[GJ_SETL_ID_MAX + 1])
{
    uint64_t counter = atomic_fetch_add(&n->setl_counter, 1) + 1;
    snprintf(out, GJ_SETL_ID_MAX + 1, "%s-%08d-%06llu-%010llu", n->cfg.region, (int)date,
             (unsigned long long)(n->boot_id % 1000000), (unsigned long long)(counter % 10000000000ULL));
}

/* ---- per-call arena ---- */

void *call_alloc(call *c, size_t size)
{
    size = (size + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
    call_arena_block *b = c->arena;
    if (b == NULL || b->cap - b->used < size) {
        size_t cap = size > 4096 ? size : 4096;
        b = malloc(sizeof *b + cap);
        if (b == NULL)
            return NULL;
        b->cap = cap;
        b->used = 0;
        b->heap = true;
        b->next = c->arena;
        c->arena = b;
    }
    void *p = (char *)b->data + b->used;
    b->used += size;
    memset(p, 0, size);
    return p;
}

/* protobuf-c decodes into the call's arena; the arena is freed as a whole. */
static void *arena_pb_alloc(void *allocator_data, size_t size)
{
    return call_alloc(allocator_data, size);
}

static void arena_pb_free(void *allocator_data, void *pointer)
{
    (void)allocator_data;
    (void)pointer;
}

char *call_strdup(call *c, const char *s)
{
    size_t len = strlen(s);
    char *p = call_alloc(c, len + 1);
    if (p != NULL)
        memcpy(p, s, len + 1);
    return p;
}

gj_reason call_fail(call *c, gj_reason reason, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->message, sizeof c->message, fmt, ap);
    va_end(ap);
    c->reason = reason;
    return reason;
}

/* ---- answers ---- */

/* Pack a Reply for c into c->reply_bytes (malloc'd). On success with an answer the
 * payload is the packed answer. Returns false only when out of memory. */
static bool build_reply(call *c)
{
    Gongji__V1__Reply reply = GONGJI__V1__REPLY__INIT;
    gj_reason reason = c->reason;
    reply.code = (Gongji__V1__Code)gj_reason_code(reason);
    reply.reason = reason == GJ_R_NONE ? "" : (char *)gj_reason_name(reason);
    reply.message = c->message[0] ? c->message : (char *)gj_reason_message(reason);
    if (reason == GJ_R_NONE)
        reply.message = "";
    reply.call_id = c->env && c->env->call_id ? c->env->call_id : "";
    reply.served_by = c->n->cfg.region;
    reply.route_to = c->route_to != NULL ? (char *)c->route_to : "";
    if (reason == GJ_R_NONE && c->answer != NULL) {
        size_t len = protobuf_c_message_get_packed_size(c->answer);
        uint8_t *payload = call_alloc(c, len ? len : 1);
        if (payload == NULL)
            return false;
        protobuf_c_message_pack(c->answer, payload);
        reply.payload.data = payload;
        reply.payload.len = len;
    }
    size_t len = gongji__v1__reply__get_packed_size(&reply);
    uint8_t *bytes = call_alloc(c, len ? len : 1);
    if (bytes == NULL)
        return false;
    gongji__v1__reply__pack(&reply, bytes);
    if (c->reply_owned)
        free(c->reply_bytes);
    c->reply_bytes = bytes;
    c->reply_len = len;
    c->reply_owned = false; /* in the arena */
    return true;
}

/* An answer the node could not even build: a fixed, pre-encoded INTERNAL reply. */
static void finish_out_of_memory(call *c)
{
    /* field 1 (code) varint 13 = INTERNAL */
    static const uint8_t internal_reply[] = {0x08, 0x0d};
    c->finish(c->finish_arg, internal_reply, sizeof internal_reply);
}

static void call_end(call *c)
{
    node *n = c->n;
    /* The decoded envelope and request live in the arena: nothing to free one by one. */
    if (c->reply_owned)
        free(c->reply_bytes);
    while (c->arena) {
        call_arena_block *next = c->arena->next;
        if (c->arena->heap)
            free(c->arena);
        c->arena = next;
    }
    free(c);
    atomic_fetch_add(&n->requests_served, 1);
    atomic_fetch_sub(&n->in_flight, 1);
}

/* Who called, for a log line: operators, institutions, platforms and nodes by name (an
 * audit needs them), a person's number masked. */
static const char *caller_for_log(call *c, char *buf, size_t size)
{
    if (c->env == NULL || c->env->caller_id == NULL)
        return "-";
    if (c->env->caller_role == GONGJI__V1__ROLE__PERSON || c->env->caller_role == GONGJI__V1__ROLE__ROLE_UNSPECIFIED) {
        char masked[GJ_CALLER_ID_MAX + 1];
        gj_mask(c->env->caller_id, masked, sizeof masked);
        if (c->platform_id[0] != '\0')
            snprintf(buf, size, "%s(via %s)", masked, c->platform_id);
        else
            snprintf(buf, size, "%s", masked);
        return buf;
    }
    snprintf(buf, size, "%s", c->env->caller_id);
    return buf;
}

/* Operator actions that move money or change what the node does: an audit line naming
 * the proven operator, whatever the outcome. */
static bool is_audited_operator_action(const call *c)
{
    static const char *const audited[] = {"gongji.v1.Registry/Enroll", "gongji.v1.Registry/Credit",
                                          "gongji.v1.Clearing/CloseWindow", "gongji.v1.Operator/SetClock"};
    if (c->method == NULL || c->env == NULL || c->env->caller_role != GONGJI__V1__ROLE__OPERATOR)
        return false;
    for (size_t i = 0; i < sizeof audited / sizeof audited[0]; i++)
        if (strcmp(c->method->name, audited[i]) == 0)
            return true;
    return false;
}

static void log_outcome(call *c)
{
    int level = c->reason == GJ_R_NONE ? GJ_LOG_INFO : GJ_LOG_WARN;
    if (c->method && c->method->apply == NULL && c->reason == GJ_R_NONE)
        level = GJ_LOG_DEBUG; /* reads that succeed are not events */
    if (c->reason == GJ_R_SEAL_WRONG_NODE)
        level = GJ_LOG_DEBUG; /* routine: the caller reseals it for its owner */
    char caller[2 * GJ_CALLER_ID_MAX + 16], call_id[GJ_CALL_ID_MAX + 1];
    caller_for_log(c, caller, sizeof caller);
    /* A caller's call id may hold a person or ID number (callers choose them): long
     * runs of digits are masked. */
    gj_mask_digit_runs(c->env && c->env->call_id && c->env->call_id[0] ? c->env->call_id : "-", call_id,
                       sizeof call_id, GJ_LOG_DIGIT_RUN_MASKED);
    if (is_audited_operator_action(c))
        gj_log(GJ_LOG_INFO, "audit", "operator=%s proven=%s method=%s call_id=%s code=%s", caller,
               c->sealed ? "yes" : "no(plaintext)", c->method->name, call_id,
               gj_code_name(gj_reason_code(c->reason)));
    gj_log(level, "call", "method=%s caller=%s call_id=%s code=%s reason=%s%s%s",
           c->method ? c->method->name : (c->env && c->env->method ? c->env->method : "-"), caller, call_id,
           gj_code_name(gj_reason_code(c->reason)),
           c->reason == GJ_R_NONE ? "-" : gj_reason_name(c->reason), c->message[0] ? " detail=" : "",
           c->message);
}

/* Send what c holds (reply_bytes if built, else a reply built from reason) and end. */
void call_finish(call *c)
{
    log_outcome(c);
    const uint8_t *bytes = NULL;
    size_t len = 0;
    if (c->reply_bytes != NULL || build_reply(c))
        bytes = authn_seal_answer(c, c->reply_bytes, c->reply_len, &len);
    if (bytes == NULL)
        finish_out_of_memory(c);
    else
        c->finish(c->finish_arg, bytes, len);
    call_end(c);
}

static void call_finish_error(call *c, gj_reason reason)
{
    if (c->reply_owned)
        free(c->reply_bytes);
    c->reply_bytes = NULL;
    c->reply_owned = false;
    c->reason = reason;
    call_finish(c);
}

/* ---- idempotent writes ---- */

/* Run c->apply and pack its answer; GJ_ERR_ABORT when apply refused (c->reason says
 * why). */
static gj_err apply_and_reply(call *c, store_txn *txn)
{
    c->reason = GJ_R_NONE;
    gj_reason reason = c->apply(c, txn);
    if (reason != GJ_R_NONE) {
        c->reason = reason;
        return GJ_ERR_ABORT;
    }
    if (!build_reply(c)) {
        c->reason = GJ_R_STORE_ERROR;
        return GJ_ERR_NOMEM;
    }
    return GJ_OK;
}

static gj_err write_apply(store_txn *txn, void *arg)
{
    call *c = arg;
    if (c->method->natural_key) {
        gj_reason reason = c->apply(c, txn);
        c->reason = reason;
        if (reason != GJ_R_NONE)
            return GJ_ERR_ABORT;
        return build_reply(c) ? GJ_OK : GJ_ERR_NOMEM;
    }
    const char *caller = c->env->caller_id;
    const char *call_id = c->env->call_id;
    store_digest first_digest;
    const void *first_reply;
    size_t first_len;
    gj_err err = store_idem_get(txn, caller, call_id, &first_digest, &first_reply, &first_len);
    if (err == GJ_OK) {
        if (store_digest_equal(&first_digest, &store_tombstone)) {
            call_fail(c, GJ_R_CALL_REVERSED, "call id %s was reversed before it took effect", call_id);
            return GJ_ERR_ABORT;
        }
        if (!store_digest_equal(&first_digest, &c->request_digest)) {
            call_fail(c, GJ_R_CALL_ID_REUSED, "call id %s was first used for another request",
                      call_id);
            return GJ_ERR_ABORT;
        }
        if (node_deciding_has_other_call(c->n, caller, call_id, c->deciding_setl_id)) {
            /* The first copy wrote its answer before its sponsor's hold came back: that
             * answer may still change. */
            call_fail(c, GJ_R_SETTLEMENT_IN_FLIGHT, "call id %s is still being decided", call_id);
            return GJ_ERR_ABORT;
        }
        /* A repeat: answer exactly as the first time; nothing moves. */
        uint8_t *copy = malloc(first_len ? first_len : 1);
        if (copy == NULL) {
            c->reason = GJ_R_STORE_ERROR;
            return GJ_ERR_NOMEM;
        }
        memcpy(copy, first_reply, first_len);
        c->reply_bytes = copy;
        c->reply_len = first_len;
        c->reply_owned = true;
        return GJ_OK;
    }
    if (err != GJ_ERR_NOTFOUND) {
        c->reason = GJ_R_STORE_ERROR;
        return err;
    }
    if ((err = apply_and_reply(c, txn)) != GJ_OK)
        return err;
    err = store_idem_put(txn, caller, call_id, &c->request_digest, c->reply_bytes, c->reply_len);
    if (err != GJ_OK) {
        c->reason = err == GJ_ERR_FULL ? GJ_R_STORE_FULL : GJ_R_STORE_ERROR;
        return err;
    }
    return GJ_OK;
}

static void write_done(void *arg, gj_err result)
{
    call *c = arg;
    if (result == GJ_OK) {
        call_finish(c);
        return;
    }
    gj_reason reason = c->reason;
    if (result != GJ_ERR_ABORT || reason == GJ_R_NONE) {
        /* The batch did not commit: whatever apply built is void. */
        reason = result == GJ_ERR_FULL ? GJ_R_STORE_FULL : GJ_R_STORE_ERROR;
        gj_log(GJ_LOG_ERROR, "store", "commit failed: %s", gj_err_name(result));
        c->message[0] = '\0';
    }
    call_finish_error(c, reason);
}

/* What call_write_wait does with the outcome of a write. */
static gj_err write_outcome(call *c, gj_err result)
{
    if (result != GJ_OK && (result != GJ_ERR_ABORT || c->reason == GJ_R_NONE)) {
        c->reason = result == GJ_ERR_FULL ? GJ_R_STORE_FULL : GJ_R_STORE_ERROR;
        c->message[0] = '\0';
    }
    if (result != GJ_OK) {
        /* Whatever apply built is void: the batch did not commit. */
        if (c->reply_owned)
            free(c->reply_bytes);
        c->reply_bytes = NULL;
        c->reply_owned = false;
    }
    return result;
}

/* The call rides in the job through write_apply; the waiter gets the outcome. */
typedef struct started_job {
    call *c;
    call_write *w;
} started_job;

static gj_err started_apply(store_txn *txn, void *arg)
{
    started_job *job = arg;
    return write_apply(txn, job->c);
}

static void started_done(void *arg, gj_err result)
{
    call_write *w = ((started_job *)arg)->w;
    pthread_mutex_lock(&w->mu);
    w->result = result;
    w->done = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

gj_err call_write_start(call *c, call_write *w)
{
    started_job *job = call_alloc(c, sizeof *job);
    if (job == NULL)
        return GJ_ERR_NOMEM;
    *job = (started_job){c, w};
    w->done = false;
    w->result = GJ_OK;
    if (pthread_mutex_init(&w->mu, NULL) != 0)
        return GJ_ERR_NOMEM;
    if (pthread_cond_init(&w->cv, NULL) != 0) {
        pthread_mutex_destroy(&w->mu);
        return GJ_ERR_NOMEM;
    }
    gj_err err = store_submit(c->n->store, started_apply, started_done, job);
    if (err != GJ_OK) {
        pthread_cond_destroy(&w->cv);
        pthread_mutex_destroy(&w->mu);
    }
    return err;
}

gj_err call_write_finish(call *c, call_write *w)
{
    pthread_mutex_lock(&w->mu);
    while (!w->done)
        pthread_cond_wait(&w->cv, &w->mu);
    gj_err result = w->result;
    pthread_mutex_unlock(&w->mu);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    return write_outcome(c, result);
}

static gj_err rewrite_apply(store_txn *txn, void *arg)
{
    call *c = arg;
    gj_err err = apply_and_reply(c, txn);
    if (err != GJ_OK)
        return err;
    err = store_idem_replace(txn, c->env->caller_id, c->env->call_id, &c->request_digest, c->reply_bytes,
                             c->reply_len);
    if (err != GJ_OK)
        c->reason = err == GJ_ERR_FULL ? GJ_R_STORE_FULL : GJ_R_STORE_ERROR;
    return err;
}

gj_err call_rewrite_wait(call *c)
{
    return write_outcome(c, store_submit_wait(c->n->store, rewrite_apply, c));
}

call *call_detached(node *n, const char *caller_id, const char *call_id)
{
    call *c = calloc(1, sizeof *c + sizeof(call_arena_block) + CALL_INLINE_ARENA);
    if (c == NULL)
        return NULL;
    atomic_fetch_add(&n->in_flight, 1);
    c->n = n;
    c->today = node_today(n);
    c->arena = (call_arena_block *)(c + 1);
    c->arena->cap = CALL_INLINE_ARENA;
    c->pb_allocator = (ProtobufCAllocator){.alloc = arena_pb_alloc, .free = arena_pb_free, .allocator_data = c};
    Gongji__V1__Envelope *env = call_alloc(c, sizeof *env);
    if (env == NULL) {
        call_discard(c);
        return NULL;
    }
    gongji__v1__envelope__init(env);
    env->caller_id = call_strdup(c, caller_id);
    env->call_id = call_strdup(c, call_id);
    if (env->caller_id == NULL || env->call_id == NULL) {
        call_discard(c);
        return NULL;
    }
    c->env = env;
    return c;
}

void call_discard(call *c)
{
    call_end(c);
}

gj_err call_write_wait(call *c)
{
    return write_outcome(c, store_submit_wait(c->n->store, write_apply, c));
}

/* ---- routing ---- */

void fed_forward(call *c)
{
    node *n = c->n;
    Gongji__V1__Envelope *env = c->env;
    const char *region = c->route_region;
    peer_link *p = peers_route(&n->peers, region);
    if (p == NULL) {
        call_fail(c, GJ_R_REGION_UNKNOWN, "no route to region %s", region);
        call_finish(c);
        return;
    }
    if (env->hops + 1 > GJ_HOPS_MAX) {
        c->reason = GJ_R_HOPS_EXCEEDED;
        call_finish(c);
        return;
    }
    /* Each hop keeps a margin of the deadline, so its own answer still arrives in time. */
    int64_t now = gj_now_unix_ms();
    int64_t deadline = env->deadline_unix_ms ? env->deadline_unix_ms : now + GJ_DEADLINE_DEFAULT_MS;
    deadline -= GJ_HOP_MARGIN_MS;
    if (deadline <= now) {
        c->reason = GJ_R_DEADLINE_PASSED;
        call_finish(c);
        return;
    }
    Gongji__V1__Envelope fwd = *env;
    fwd.hops = env->hops + 1;
    fwd.deadline_unix_ms = deadline;
    fwd.dest_region = (char *)region;
    if (fwd.origin_region[0] == '\0')
        fwd.origin_region = n->cfg.region;
    size_t len = gongji__v1__envelope__get_packed_size(&fwd);
    uint8_t *bytes = call_alloc(c, len ? len : 1);
    if (bytes == NULL) {
        c->reason = GJ_R_OVERLOADED;
        call_finish(c);
        return;
    }
    gongji__v1__envelope__pack(&fwd, bytes);
    uint8_t *reply = NULL;
    size_t reply_len = 0;
    gj_reason r = peers_call_raw(p, bytes, len, (int)(deadline - now), &reply, &reply_len);
    if (r != GJ_R_NONE) {
        call_fail(c, r, "region %s (via %s) did not answer within %lld ms", region, p->cfg->url,
                  (long long)(deadline - now));
        call_finish(c);
        return;
    }
    gj_log(GJ_LOG_DEBUG, "forward", "method=%s to=%s via=%s hops=%u", c->method->name, region,
           p->cfg->prefix, fwd.hops);
    c->reply_bytes = reply; /* the owner's answer, as it gave it */
    c->reply_len = reply_len;
    c->reply_owned = true;
    call_finish(c);
}

static void run_slow(void *arg)
{
    call *c = arg;
    c->slow(c);
}

/* ---- entry ---- */

static const method_entry *method_find(const char *name)
{
    for (size_t i = 0; i < node_method_count; i++)
        if (strcmp(node_methods[i].name, name) == 0)
            return &node_methods[i];
    return NULL;
}

static gj_reason check_envelope(call *c)
{
    Gongji__V1__Envelope *env = c->env;
    node *n = c->n;
    if (strlen(env->caller_id) > GJ_CALLER_ID_MAX || strlen(env->call_id) > GJ_CALL_ID_MAX)
        return call_fail(c, GJ_R_FIELD_INVALID, "caller_id and call_id are at most %d characters",
                         GJ_CALL_ID_MAX);
    if ((c->method = method_find(env->method)) == NULL)
        return call_fail(c, GJ_R_UNKNOWN_METHOD, "no method named '%.64s'", env->method);
    if (env->deadline_unix_ms != 0 && env->deadline_unix_ms < gj_now_unix_ms())
        return GJ_R_DEADLINE_PASSED;
    if (env->hops > GJ_HOPS_MAX)
        return GJ_R_HOPS_EXCEEDED;
    size_t dest_len = strlen(env->dest_region);
    if (dest_len != 0 && (dest_len != GJ_ADMDVS_LEN || !gj_all_digits(env->dest_region, dest_len)))
        return call_fail(c, GJ_R_FIELD_INVALID, "dest_region must be a 6-digit region code");
    (void)n;
    return GJ_R_NONE;
}

/* What c's request means, for its idempotency record (docs/store.md): SHA-256 over the
 * method and the request packed again with its empty region fields (names ending in
 * "_admdvs": the region that owns something) given this node's region, which is what
 * empty means once the request has reached its owner. A retry that spells the region
 * out is then the same request. False only when out of memory. */
static bool request_digest(call *c)
{
    const ProtobufCMessageDescriptor *d = c->method->input;
    ProtobufCMessage *copy = call_alloc(c, d->sizeof_message);
    if (copy == NULL)
        return false;
    memcpy(copy, c->request, d->sizeof_message); /* shallow: only read while packing */
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        size_t name_len = strlen(f->name);
        if (f->type != PROTOBUF_C_TYPE_STRING || f->label == PROTOBUF_C_LABEL_REPEATED || name_len < 7 ||
            strcmp(f->name + name_len - 7, "_admdvs") != 0)
            continue;
        char **field = (char **)((char *)copy + f->offset);
        if (*field == NULL || (*field)[0] == '\0')
            *field = c->n->cfg.region;
    }
    size_t method_len = strlen(c->method->name) + 1;
    size_t len = protobuf_c_message_get_packed_size(copy);
    uint8_t *bytes = call_alloc(c, method_len + len);
    if (bytes == NULL)
        return false;
    memcpy(bytes, c->method->name, method_len);
    protobuf_c_message_pack(copy, bytes + method_len);
    uint8_t full[32];
    gj_sha256(bytes, method_len + len, full);
    memcpy(c->request_digest.bytes, full, STORE_DIGEST_LEN);
    if (store_digest_equal(&c->request_digest, &store_tombstone))
        c->request_digest.bytes[0] = 1; /* all zero is the tombstone's */
    return true;
}

/* Whether this node requires every request to be sealed (docs/security.md). */
static bool seals_required(const node *n)
{
    return n->cred != NULL && !n->cfg.insecure_plaintext;
}

static void dispatch_any(node *n, const uint8_t *bytes, size_t len, call_finish_fn finish, void *arg,
                         bool in_batch)
{
    /* The call and the first block of its arena in one allocation: a typical request
     * decodes and answers without touching the heap again. */
    call *c = calloc(1, sizeof *c + sizeof(call_arena_block) + CALL_INLINE_ARENA);
    if (c == NULL) {
        static const uint8_t internal_reply[] = {0x08, 0x0d};
        finish(arg, internal_reply, sizeof internal_reply);
        return;
    }
    atomic_fetch_add(&n->in_flight, 1);
    c->n = n;
    c->finish = finish;
    c->finish_arg = arg;
    c->in_batch = in_batch;
    c->today = node_today(n);
    c->arena = (call_arena_block *)(c + 1);
    c->arena->cap = CALL_INLINE_ARENA;
    c->pb_allocator = (ProtobufCAllocator){.alloc = arena_pb_alloc, .free = arena_pb_free, .allocator_data = c};

    if (atomic_load(&n->shutting_down)) {
        call_finish_error(c, GJ_R_SHUTTING_DOWN);
        return;
    }
    if (len > GJ_MSG_MAX) {
        call_fail(c, GJ_R_MESSAGE_TOO_LARGE, "message of %zu bytes; the limit is %d", len,
                  GJ_MSG_MAX);
        call_finish(c);
        return;
    }
    c->env = gongji__v1__envelope__unpack(&c->pb_allocator, len, bytes);
    if (c->env == NULL) {
        call_fail(c, GJ_R_MALFORMED_MESSAGE, "not a gongji.v1.Envelope");
        call_finish(c);
        return;
    }
    gj_reason reason = check_envelope(c);
    if (reason != GJ_R_NONE) {
        c->reason = reason;
        call_finish(c);
        return;
    }
    /* Who is calling must be proven before anything else is read: an unsealed request
     * gets no further than this (Auth/Open excepted: it brings its own proof). */
    bool open = strcmp(c->method->name, AUTH_OPEN_METHOD) == 0;
    bool must_seal = seals_required(n) && !in_batch && !open;
    const char *dest = c->env->dest_region;
    bool for_here = dest[0] == '\0' || strcmp(dest, n->cfg.region) == 0;
    if (must_seal && c->env->seal == NULL) {
        call_finish_error(c, GJ_R_SEAL_MISSING);
        return;
    }
    if (must_seal && for_here && (reason = authn_check_seal(c)) != GJ_R_NONE) {
        c->reason = reason;
        call_finish(c);
        return;
    }
    c->request = protobuf_c_message_unpack(c->method->input, &c->pb_allocator, c->env->payload.len,
                                           c->env->payload.data);
    if (c->request == NULL) {
        call_fail(c, GJ_R_MALFORMED_MESSAGE, "payload is not a %s", c->method->input->name);
        call_finish(c);
        return;
    }
    c->apply = c->method->apply;

    /* The envelope's destination decides; without one, the method may name the owner. */
    const char *owner = dest;
    if (owner[0] == '\0' && c->method->route != NULL)
        owner = c->method->route(c);
    if (owner != NULL && owner[0] != '\0' && strcmp(owner, n->cfg.region) != 0) {
        if (strlen(owner) != GJ_ADMDVS_LEN || !gj_all_digits(owner, GJ_ADMDVS_LEN)) {
            call_fail(c, GJ_R_FIELD_INVALID, "region codes are 6 digits");
            call_finish(c);
            return;
        }
        c->route_region = owner;
        c->slow = fed_forward;
    } else if ((!open && (reason = authz_check(c)) != GJ_R_NONE) || (reason = c->method->check(c)) != GJ_R_NONE) {
        c->reason = reason;
        call_finish(c);
        return;
    }
    if (c->slow == fed_forward && c->sealed) {
        /* Sealed for this node, owned by another (by its region, or by what check()
         * found): only the owner can check who is calling, so the caller seals it for
         * the owner and sends it again. */
        c->route_to = c->route_region;
        call_fail(c, GJ_R_SEAL_WRONG_NODE, "region %s owns this request: seal it for %s", c->route_region,
                  c->route_region);
        call_finish(c);
        return;
    }
    /* A write done here keeps its digest with its answer; a forwarded one is its
     * owner's to digest. */
    if (c->method->apply != NULL && !c->method->natural_key && c->slow != fed_forward && !request_digest(c)) {
        call_finish_error(c, GJ_R_OVERLOADED);
        return;
    }
    /* A write needs its idempotency key here, whichever path it takes; a forwarded
     * call is checked by its owner. */
    if (c->method->apply != NULL && !c->method->natural_key && c->slow != fed_forward &&
        (c->env->call_id[0] == '\0' || c->env->caller_id[0] == '\0')) {
        /* The idempotency key is (caller_id, call_id): a write needs both. */
        call_finish_error(c, GJ_R_CALL_ID_MISSING);
        return;
    }
    if (c->slow != NULL) {
        gj_err err = n->workers ? workers_submit(n->workers, run_slow, c) : GJ_ERR_CLOSED;
        if (err != GJ_OK)
            call_finish_error(c, err == GJ_ERR_FULL ? GJ_R_OVERLOADED : GJ_R_SHUTTING_DOWN);
        return;
    }
    if (c->method->apply == NULL) {
        call_finish(c);
        return;
    }
    gj_err err = store_submit(n->store, write_apply, write_done, c);
    if (err != GJ_OK)
        call_finish_error(c, err == GJ_ERR_FULL ? GJ_R_OVERLOADED : GJ_R_SHUTTING_DOWN);
}

void dispatch_bytes(node *n, const uint8_t *bytes, size_t len, call_finish_fn finish, void *arg)
{
    dispatch_any(n, bytes, len, finish, arg, false);
}

void dispatch_batch_item(node *n, const uint8_t *bytes, size_t len, call_finish_fn finish, void *arg)
{
    dispatch_any(n, bytes, len, finish, arg, true);
}
