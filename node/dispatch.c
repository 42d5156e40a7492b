/* From bytes to a call on its way: the envelope's checks, the caller's proof, the
 * method table, the owner of the request, then the fast path (a read answered here, a
 * write handed to the store writer) or a worker for a call that waits on other nodes. */
#include "node.h"
#include "authn.h"
#include "authz.h"
#include "ops.h"
#include "routing.h"
#include "session.h"
#include "gj_util.h"
#include "log.h"

#include <stdlib.h>
#include <string.h>

static void run_slow(void *arg)
{
    call *c = arg;
    c->slow(c);
}


static const method_entry *method_find(const node *n, const char *name)
{
    for (size_t i = 0; i < n->method_count; i++)
        if (strcmp(n->methods[i].name, name) == 0)
            return &n->methods[i];
    return NULL;
}

static gj_reason check_envelope(call *c)
{
    Gongji__V1__Envelope *env = c->env;
    node *n = c->n;
    if (strlen(env->caller_id) > GJ_CALLER_ID_MAX || strlen(env->call_id) > GJ_CALL_ID_MAX)
        return call_fail(c, GJ_R_FIELD_INVALID, "caller_id and call_id are at most %d characters",
                         GJ_CALL_ID_MAX);
    if ((c->method = method_find(n, env->method)) == NULL)
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
    call *c = call_new(n);
    if (c == NULL) {
        static const uint8_t internal_reply[] = {0x08, 0x0d}; /* code INTERNAL */
        finish(arg, internal_reply, sizeof internal_reply);
        return;
    }
    c->finish = finish;
    c->finish_arg = arg;
    c->in_batch = in_batch;

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
        c->slow = route_forward;
    } else if ((!open && (reason = authz_check(c)) != GJ_R_NONE) || (reason = ops_restored_gate(c)) != GJ_R_NONE ||
               (reason = c->method->check(c)) != GJ_R_NONE) {
        c->reason = reason;
        call_finish(c);
        return;
    } else if (c->crosses_regions && c->method->remote != NULL) {
        c->slow = c->method->remote; /* the cross-region protocol takes it (node/xr/) */
    }
    if (c->slow == route_forward && c->sealed) {
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
    if (c->method->apply != NULL && !c->method->natural_key && c->slow != route_forward && !request_digest(c)) {
        call_finish_error(c, GJ_R_OVERLOADED);
        return;
    }
    /* A write needs its idempotency key here, whichever path it takes; a forwarded
     * call is checked by its owner. */
    if (c->method->apply != NULL && !c->method->natural_key && c->slow != route_forward &&
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
    gj_err err = call_write_submit(c);
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
