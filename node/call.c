/* One call's life: its arena, its answer (built, logged, sealed, sent) and its end. */
#include "node.h"
#include "authn.h"
#include "gj_util.h"
#include "session.h"
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <inttypes.h>
#include <string.h>

int64_t node_now_ms(node *n)
{
    return gj_now_unix_ms() + atomic_load(&n->clock_offset_ms);
}

int32_t node_today(node *n)
{
    return gj_cst_date_of(node_now_ms(n));
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
bool call_build_reply(call *c)
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
    static const char *const audited[] = {"gongji.v1.Registry/Enroll", "gongji.v1.Registry/Credit", "gongji.v1.Registry/CreditBatch",
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
    if (c->reason == GJ_R_UNKNOWN_METHOD && c->env != NULL && (c->env->method == NULL || c->env->method[0] == '\0'))
        level = GJ_LOG_DEBUG; /* an empty message: the listener guard's probe (trust/listen_guard.h) */
    char caller_buf[2 * GJ_CALLER_ID_MAX + 16], call_id[GJ_CALL_ID_MAX + 1];
    const char *caller = caller_for_log(c, caller_buf, sizeof caller_buf);
    /* A caller's call id may hold a person or ID number (callers choose them): long
     * runs of digits are masked. */
    gj_mask_digit_runs(c->env && c->env->call_id && c->env->call_id[0] ? c->env->call_id : "-", call_id,
                       sizeof call_id, GJ_LOG_DIGIT_RUN_MASKED);
    if (is_audited_operator_action(c))
        gj_log(GJ_LOG_INFO, "audit", "operator=%s proven=%s method=%s call_id=%s code=%s", caller,
               c->sealed ? "yes" : "no(plaintext)", c->method->name, call_id,
               gj_code_name(gj_reason_code(c->reason)));
    int64_t took_us = gj_mono_us() - c->arrived_us;
    gj_log(level, "call", "method=%s caller=%s call_id=%s code=%s reason=%s ms=%" PRId64 ".%01" PRId64 "%s%s",
           c->method ? c->method->name : (c->env && c->env->method ? c->env->method : "-"), caller, call_id,
           gj_code_name(gj_reason_code(c->reason)), c->reason == GJ_R_NONE ? "-" : gj_reason_name(c->reason),
           took_us / 1000, took_us % 1000 / 100, c->message[0] ? " detail=" : "", c->message);
}

static const uint8_t *seal_answer(call *c, const uint8_t *bytes, size_t len, size_t *out_len)
{
    *out_len = len;
    if (!c->sealed)
        return bytes;
    uint8_t *out = call_alloc(c, len + GJ_REPLY_MAC_FIELD_LEN);
    if (out == NULL)
        return NULL;
    memcpy(out, bytes, len);
    uint8_t mac[GJ_MAC_LEN];
    gj_reply_mac(c->session_key, c->request_mac, bytes, len, mac);
    gj_reply_put_mac(out + len, mac);
    *out_len = len + GJ_REPLY_MAC_FIELD_LEN;
    return out;
}

/* Send what c holds (reply_bytes if built, else a reply built from reason) and end. */
void call_finish(call *c)
{
    log_outcome(c);
    node *n = c->n;
    metrics_record_call(&n->metrics, c->method != NULL ? (size_t)(c->method - n->methods) : n->method_count,
                        c->reason, gj_mono_us() - c->arrived_us);
    const uint8_t *bytes = NULL;
    size_t len = 0;
    if (c->reply_bytes != NULL || call_build_reply(c))
        bytes = seal_answer(c, c->reply_bytes, c->reply_len, &len);
    if (bytes == NULL)
        finish_out_of_memory(c);
    else
        c->finish(c->finish_arg, bytes, len);
    call_end(c);
}

void call_finish_error(call *c, gj_reason reason)
{
    if (c->reply_owned)
        free(c->reply_bytes);
    c->reply_bytes = NULL;
    c->reply_owned = false;
    c->reason = reason;
    call_finish(c);
}

/* A call with its first arena block in the same allocation: a typical request decodes
 * and answers without touching the heap again. */
call *call_new(node *n)
{
    call *c = calloc(1, sizeof *c + sizeof(call_arena_block) + CALL_INLINE_ARENA);
    if (c == NULL)
        return NULL;
    atomic_fetch_add(&n->in_flight, 1);
    c->n = n;
    c->today = node_today(n);
    c->policy = node_policy(n);
    c->arrived_us = gj_mono_us();
    c->arena = (call_arena_block *)(c + 1);
    c->arena->cap = CALL_INLINE_ARENA;
    c->pb_allocator = (ProtobufCAllocator){.alloc = arena_pb_alloc, .free = arena_pb_free, .allocator_data = c};
    return c;
}

call *call_detached(node *n, const char *caller_id, const char *call_id)
{
    call *c = call_new(n);
    if (c == NULL)
        return NULL;
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
