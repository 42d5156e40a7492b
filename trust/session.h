/* Sessions: how a caller proves who it is on every request, end to end, for the price
 * of one HMAC.
 *
 * Opening (Auth/Open, once per caller and destination node): the caller sends its
 * certificate, an ephemeral P-256 key and a nonce, signed with its certificate's key;
 * the node checks the certificate against the federation CA and CRL, checks that it
 * names the identity the envelope claims, answers with its own certificate and
 * ephemeral key, signed. Both derive the session key by ECDH and HKDF-SHA256. A hub
 * that forwards the handshake sees only public values.
 *
 * Sealing (every other request): Envelope.seal carries the session id, the caller's
 * deadline and an HMAC-SHA256 with the session key over what the request means
 * (method, call id, caller, role, destination, payload, deadline). The node answers with
 * an HMAC over its Reply bound to the request's seal, so a forwarder can neither forge
 * a request nor an OK answer. docs/security.md explains the choice.
 *
 * Functions here are pure crypto over plain bytes and protobuf structs: no sockets, no
 * tables. Thread-safe. */
#ifndef GJ_TRUST_SESSION_H
#define GJ_TRUST_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "credential.h"
#include "gongji.pb-c.h"

#define GJ_SESSION_ID_LEN 16
#define GJ_SESSION_KEY_LEN 32
#define GJ_MAC_LEN 32
#define GJ_NONCE_LEN 16
#define GJ_EC_POINT_LEN 65
/* An Auth/Open whose time is further than this from the node's clock is refused. */
#define GJ_OPEN_CLOCK_SKEW_MS (5 * 60 * 1000)
/* Longest a certificate may be in an Auth/Open (DER bytes). */
#define GJ_CERT_DER_MAX 8192

typedef struct gj_session {
    uint8_t id[GJ_SESSION_ID_LEN];
    uint8_t key[GJ_SESSION_KEY_LEN];
    int64_t expires_ms;   /* Unix ms */
    gj_identity peer;     /* the other side: the node (caller's view) or the caller (node's) */
    gj_serial peer_serial;
} gj_session;

/* ---- the caller's side of Auth/Open ---- */

typedef struct gj_open_pending {
    void *ephemeral; /* EVP_PKEY * */
    uint8_t point[GJ_EC_POINT_LEN];
    uint8_t nonce[GJ_NONCE_LEN];
    uint8_t transcript[32];
    uint8_t sig[GJ_SIGNATURE_MAX];
    size_t sig_len;
    int64_t time_ms;
} gj_open_pending;

/* Make the OpenSessionRequest for a session with the node dest_region names ("" = the
 * node called). The envelope carrying it must claim cred's identity and carry
 * dest_region as given. req's byte fields point into p and cred: keep both until req
 * is packed. Errors: GJ_ERR_NOMEM. On error nothing needs freeing. */
gj_err gj_open_begin(const gj_cred *cred, const char *dest_region, gj_open_pending *p,
                     Gongji__V1__OpenSessionRequest *req);
/* Check the node's answer: its certificate (CA, CRL, a node; the node of expect_region
 * when that is not ""), its signature over the whole exchange; derive the session.
 * Always frees what begin made. GJ_ERR_INVAL with why when the answer is not acceptable. */
gj_err gj_open_finish(gj_open_pending *p, const gj_cred *cred, const Gongji__V1__OpenSessionReply *rep,
                      const char *expect_region, gj_session *out, char *why, size_t why_size);
/* Free what begin made, when no answer came. */
void gj_open_abandon(gj_open_pending *p);

/* ---- the node's side ---- */

typedef enum gj_open_result {
    GJ_OPEN_OK = 0,
    GJ_OPEN_UNAUTHENTICATED, /* no acceptable credential or proof */
    GJ_OPEN_DENIED,          /* a good credential that names someone other than the claim */
    GJ_OPEN_FAILED,          /* out of memory or randomness */
} gj_open_result;

typedef struct gj_open_answer {
    gj_session session;  /* for the node's session table */
    uint8_t point[GJ_EC_POINT_LEN];
    uint8_t nonce[GJ_NONCE_LEN];
    uint8_t sig[GJ_SIGNATURE_MAX];
    size_t sig_len;
} gj_open_answer;

/* Check an OpenSessionRequest that reached this node (claimed_role and claimed_id as its
 * envelope says, dest_region as it was sent) and make the answer: on GJ_OPEN_OK, ans
 * holds the new session and reply's fields point into ans and node_cred. life_ms caps
 * the session's life (the certificate's expiry caps it too). why says what failed. */
gj_open_result gj_open_accept(const gj_cred *node_cred, int claimed_role, const char *claimed_id,
                              const char *dest_region, const Gongji__V1__OpenSessionRequest *req,
                              int64_t now_ms, int64_t life_ms, gj_open_answer *ans,
                              Gongji__V1__OpenSessionReply *reply, char *why, size_t why_size);

/* ---- seals and answers ---- */

/* The MAC over what env means (method, call_id, caller_id, caller_role, dest_region,
 * payload) with the seal's deadline and session id. Forwarding changes none of these. */
void gj_seal_mac(const uint8_t key[GJ_SESSION_KEY_LEN], const Gongji__V1__Envelope *env,
                 int64_t not_after_ms, const uint8_t session_id[GJ_SESSION_ID_LEN],
                 uint8_t mac[GJ_MAC_LEN]);

/* Constant-time comparison. */
bool gj_mac_equal(const uint8_t *a, const uint8_t *b, size_t len);

/* The answer's MAC: over the request's seal MAC and the packed Reply without its mac
 * field. A node appends the field (Reply.mac, GJ_REPLY_MAC_FIELD_LEN bytes) at the end. */
#define GJ_REPLY_MAC_FIELD_LEN (2 + GJ_MAC_LEN)
void gj_reply_mac(const uint8_t key[GJ_SESSION_KEY_LEN], const uint8_t request_mac[GJ_MAC_LEN],
                  const uint8_t *reply, size_t len, uint8_t mac[GJ_MAC_LEN]);
/* Write the mac field at out (GJ_REPLY_MAC_FIELD_LEN bytes). */
void gj_reply_put_mac(uint8_t *out, const uint8_t mac[GJ_MAC_LEN]);
/* Whether reply ends with a mac field: then *covered is the length before it. */
bool gj_reply_find_mac(const uint8_t *reply, size_t len, size_t *covered, const uint8_t **mac);

/* HMAC-SHA256 (RFC 2104) with a key of at most 64 bytes. */
void gj_hmac_sha256(const uint8_t *key, size_t key_len, const void *data, size_t len, uint8_t out[32]);

/* SHA-256 of len bytes. */
void gj_sha256(const void *data, size_t len, uint8_t out[32]);

/* Random bytes from the system's generator; false when it has none. */
bool gj_random(void *buf, size_t len);

#endif
