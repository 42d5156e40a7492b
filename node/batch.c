/* Peer/Batch on the receiving side: the Hold and Resolve calls a coordinator had for
 * this region at one moment, in one message.
 *
 * Each item is a whole Envelope and goes through dispatch_bytes() exactly as if it had
 * arrived alone (same checks, same idempotency by (setl_id, leg), same store writer), so
 * a batch changes how calls travel, not what they do. Its items reach the writer
 * together and so share a commit. The batch answers once every item has. */
#include "gj_util.h"
#include "log.h"
#include "ops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Each item's reply is copied into its own slot of one buffer allocated with the batch:
 * the threads that end items (nng's, the store's) then allocate nothing, and the one
 * buffer is too large for glibc's per-thread cache, where many small blocks freed away
 * from the thread that made them would otherwise collect. A longer reply gets its own
 * block. */
#define ITEM_REPLY_SLOT 256
#define BATCH_BUFFER_MIN 2048

typedef struct batch_state {
    call *c;
    size_t count;
    _Atomic size_t left;
    ProtobufCBinaryData *replies; /* count entries at the start of buffer */
    uint8_t *slots;               /* count * ITEM_REPLY_SLOT bytes after them */
    void *buffer;
} batch_state;

typedef struct batch_slot {
    batch_state *state;
    size_t index;
} batch_slot;

/* Used when a reply cannot be copied: INTERNAL (field 1 = 13), never freed. An empty
 * reply would read as OK to the coordinator. */
static uint8_t internal_reply[] = {0x08, 0x0d};

/* Every item has answered: answer the batch, then free the copies it carried. */
static void batch_answer(batch_state *st)
{
    call *c = st->c;
    Gongji__V1__PeerBatchReply *ans = call_alloc(c, sizeof *ans);
    ProtobufCBinaryData *replies = st->replies;
    uint8_t *slots = st->slots;
    void *buffer = st->buffer;
    size_t count = st->count;
    if (ans == NULL) {
        ops_out_of_memory(c);
    } else {
        gongji__v1__peer_batch_reply__init(ans);
        ans->n_replies = count;
        ans->replies = replies;
        c->answer = &ans->base;
    }
    call_finish(c); /* packs the answer, sends it, ends the call */
    for (size_t i = 0; i < count; i++)
        if (replies[i].data != internal_reply && replies[i].data != slots + i * ITEM_REPLY_SLOT)
            free(replies[i].data);
    free(buffer);
}

static void item_store(batch_slot *slot, const uint8_t *bytes, size_t len)
{
    batch_state *st = slot->state;
    uint8_t *own = st->slots + slot->index * ITEM_REPLY_SLOT;
    uint8_t *copy = len <= ITEM_REPLY_SLOT ? own : malloc(len);
    if (copy != NULL)
        memcpy(copy, bytes, len);
    st->replies[slot->index] =
        copy != NULL ? (ProtobufCBinaryData){.len = len, .data = copy}
                     : (ProtobufCBinaryData){.len = sizeof internal_reply, .data = internal_reply};
    if (atomic_fetch_sub(&st->left, 1) == 1)
        batch_answer(st);
}

/* dispatch_bytes' finish callback for one item; runs on whichever thread ended it. */
static void item_done(void *arg, const uint8_t *bytes, size_t len)
{
    item_store(arg, bytes, len);
}

/* An item refused before dispatch: its own Reply, as a lone call would have got. */
static void item_refuse(call *c, batch_slot *slot, gj_reason reason, const char *message)
{
    Gongji__V1__Reply reply = GONGJI__V1__REPLY__INIT;
    reply.code = (Gongji__V1__Code)gj_reason_code(reason);
    reply.reason = (char *)gj_reason_name(reason);
    reply.message = (char *)message;
    reply.served_by = c->n->cfg.region;
    size_t len = gongji__v1__reply__get_packed_size(&reply);
    uint8_t buf[512];
    if (len > sizeof buf) {
        reply.message = "";
        len = gongji__v1__reply__get_packed_size(&reply);
    }
    gongji__v1__reply__pack(&reply, buf);
    item_store(slot, buf, len);
}

/* What a batch may carry: the calls that settle money between two nodes, from the
 * batch's own caller, for this region. NULL when the item may go ahead. */
static const char *item_refusal(call *c, const Gongji__V1__Envelope *item)
{
    if (item == NULL)
        return "not a gongji.v1.Envelope";
    if (!peers_coalescable(item->method))
        return "a batch carries only Peer/Hold and Peer/Resolve";
    if (strcmp(item->caller_id, c->env->caller_id) != 0 || item->caller_role != GONGJI__V1__ROLE__PEER)
        return "an item must come from the batch's own caller";
    if (item->dest_region[0] != '\0' && strcmp(item->dest_region, c->n->cfg.region) != 0)
        return "an item must be for this region";
    return NULL;
}

static void batch_run(call *c)
{
    Gongji__V1__PeerBatchRequest *req = (Gongji__V1__PeerBatchRequest *)c->request;
    size_t count = req->n_items;
    batch_state *st = call_alloc(c, sizeof *st);
    batch_slot *slots = call_alloc(c, count * sizeof *slots);
    size_t size = count * (sizeof(ProtobufCBinaryData) + ITEM_REPLY_SLOT);
    void *buffer = calloc(1, size < BATCH_BUFFER_MIN ? BATCH_BUFFER_MIN : size);
    if (st == NULL || slots == NULL || buffer == NULL) {
        free(buffer);
        c->reason = GJ_R_OVERLOADED;
        call_finish(c);
        return;
    }
    st->c = c;
    st->count = count;
    st->buffer = buffer;
    st->replies = buffer;
    st->slots = (uint8_t *)buffer + count * sizeof(ProtobufCBinaryData);
    atomic_store(&st->left, count);
    /* Decide every item's fate before dispatching any: once the first is dispatched the
     * batch may end (and c with it) on another thread. */
    const char **refusal = call_alloc(c, count * sizeof *refusal);
    if (refusal == NULL) {
        free(buffer);
        c->reason = GJ_R_OVERLOADED;
        call_finish(c);
        return;
    }
    for (size_t i = 0; i < count; i++) {
        slots[i] = (batch_slot){st, i};
        refusal[i] = item_refusal(
            c, gongji__v1__envelope__unpack(&c->pb_allocator, req->items[i].len, req->items[i].data));
    }
    node *n = c->n;
    store *s = n->store;
    /* The items reach the writer together: one commit answers the whole batch. */
    store_intake_hold(s);
    for (size_t i = 0; i < count; i++) {
        if (refusal[i] != NULL)
            item_refuse(c, &slots[i], GJ_R_FIELD_INVALID, refusal[i]);
        else
            dispatch_batch_item(n, req->items[i].data, req->items[i].len, item_done, &slots[i]);
    }
    store_intake_release(s); /* c may be gone by now: s was read before */
}

gj_reason batch_check(call *c)
{
    Gongji__V1__PeerBatchRequest *req = (Gongji__V1__PeerBatchRequest *)c->request;
    if (!ops_is_role(c, GONGJI__V1__ROLE__PEER))
        return ops_deny(c, "only a peer node");
    if (req->n_items == 0 || req->n_items > GJ_BATCH_ITEMS_MAX)
        return call_fail(c, GJ_R_FIELD_INVALID, "a batch has 1 to %d items", GJ_BATCH_ITEMS_MAX);
    c->slow = batch_run; /* ends the call when its last item has answered */
    return GJ_R_NONE;
}
