/* gongji client library: one connection to a gongji node over nng REQ/REP.
 *
 * A client_t is used by one thread at a time (it holds one link to the node, req_link.h,
 * and does one call at a time). Open several for concurrency.
 *
 * Each call sends one gongji.v1.Envelope and waits for one gongji.v1.Reply. The answer
 * message is decoded for the caller, who frees it with protobuf_c_message_free_unpacked
 * (or the generated *__free_unpacked).
 */
#ifndef GJ_CLIENT_H
#define GJ_CLIENT_H

#include <stdbool.h>
#include <stdint.h>

#include "credential.h"
#include "gj_error.h"
#include "gongji.pb-c.h"

typedef struct client client_t;

typedef struct client_status {
    int code;            /* gRPC status code (gongji.v1.Code); 0 = OK */
    char reason[64];     /* stable domain reason, "" when OK */
    char message[256];   /* human-readable message */
    char served_by[8];   /* region of the node that answered */
} client_status;

/* Connect to url ("tls+tcp://127.0.0.1:7100") as the holder of cred (trust/credential.h;
 * the caller keeps it alive until client_close). Every call is then sealed with a
 * session opened with the node it is for (Auth/Open, done here when needed), and an
 * OK answer counts only if the node sealed it too. A tls+tcp:// URL needs a cred;
 * with cred NULL the client speaks plaintext to a node that runs insecure_plaintext.
 * timeout_ms bounds each call (also sent as the request deadline). Errors:
 * GJ_ERR_INVAL (tls+tcp:// without a cred), GJ_ERR_TRANSPORT (bad url, no socket, the
 * credential's files unusable for TLS), GJ_ERR_NOMEM. Dialing is non-blocking: an
 * unreachable node shows as an UNAVAILABLE call. */
gj_err client_open_with(client_t **out, const char *url, int timeout_ms, const gj_cred *cred);
/* Bound the calls from now on by timeout_ms instead (the connection and its sessions
 * stay). */
gj_err client_set_timeout(client_t *c, int timeout_ms);
/* client_open_with(out, url, timeout_ms, NULL): plaintext. */
gj_err client_open(client_t **out, const char *url, int timeout_ms);
void client_close(client_t *c);
/* Close n clients together (NULL entries are skipped) and return when all are closed.
 * A close can wait up to about two seconds (for answers still due, and for a
 * reconnection, req_link.h), so a process holding many links, a gateway for one, closes
 * them on several threads at once: it stops in the time of one close, not of n. */
void client_close_all(client_t **cs, size_t n);

/* Who the calls come from: caller id and Role (GONGJI__V1__ROLE__OPERATOR, ...).
 * Default: the credential's identity ("gongji-cli", OPERATOR without one). A PLATFORM
 * credential calls as PERSON for the person it names here. */
void client_set_identity(client_t *c, const char *caller_id, int role);

/* Make one call.
 *   method       "gongji.v1.Settlement/Settle"
 *   call_id      idempotency key; NULL = a fresh random one
 *   dest_region  region that owns the request; NULL or "" = the node called
 *   request      the request message
 *   reply_desc   descriptor of the expected answer message
 *   reply        on OK: the decoded answer (caller frees); else NULL
 *   status       always filled: code/reason/message from the node, or a local
 *                UNAVAILABLE / DEADLINE_EXCEEDED / INTERNAL when no answer came
 * Returns GJ_OK when an answer (of any code) arrived and decoded; GJ_ERR_TRANSPORT
 * when none did (status says why). */
gj_err client_call(client_t *c, const char *method, const char *call_id, const char *dest_region,
                   const ProtobufCMessage *request, const ProtobufCMessageDescriptor *reply_desc,
                   ProtobufCMessage **reply, client_status *status);

/* Send raw bytes as one message and return the decoded Reply (caller frees with
 * gongji__v1__reply__free_unpacked). For tests of bad input. */
gj_err client_call_raw(client_t *c, const void *bytes, size_t len, Gongji__V1__Reply **reply);

/* Seal env as it is (method, call id, caller, role, destination, payload and deadline
 * as the caller set them; nothing filled in) with the client's session for
 * env->dest_region, send it and return the decoded Reply (caller frees with
 * gongji__v1__reply__free_unpacked). Unsealed on a plaintext client. For tests and tools
 * that must send what client_call would not: a payload of the wrong type, a caller the
 * session does not prove. GJ_ERR_TRANSPORT when no answer came. */
gj_err client_call_envelope(client_t *c, Gongji__V1__Envelope *env, Gongji__V1__Reply **reply);

/* Name of a status code ("FAILED_PRECONDITION"). */
const char *client_code_name(int code);

/* A fresh call id (32 hex characters + NUL): the time in milliseconds, then random
 * bits, so one caller's ids sort by when they were made. */
void client_new_call_id(char out[33]);

#endif
