/* Session handshake and seals on OpenSSL: ECDSA-signed ephemeral ECDH on P-256, HKDF and
 * HMAC with SHA-256. See session.h for the protocol; docs/security.md for why. */
#include "session.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

/* Labels keep each hash and MAC apart: no input to one can be replayed as another. */
#define LABEL_OPEN "gongji-open-v1"
#define LABEL_OPEN_REPLY "gongji-open-reply-v1"
#define LABEL_KEY "gongji-session-key-v1"
#define LABEL_SEAL "gongji-seal-v1"
#define LABEL_REPLY "gongji-reply-v1"

/* ---- hashing and MACs over length-prefixed fields ---- */

/* SHA-256 fetched once: fetching by name on every hash costs more than the hash. */
static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void sha256_fetch(void)
{
    sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

static const EVP_MD *sha256(void)
{
    pthread_once(&sha256_once, sha256_fetch);
    return sha256_md != NULL ? sha256_md : EVP_sha256();
}

/* Fields go into a SHA-256 or an HMAC-SHA256, each prefixed by its length, so that no
 * two different field lists give the same input. The HMAC is RFC 2104 over two SHA-256
 * contexts (OpenSSL's EVP_MAC looks its digest up by name on every use). */
#define HMAC_BLOCK 64
typedef struct absorber {
    EVP_MD_CTX *md;
    uint8_t opad[HMAC_BLOCK]; /* for an HMAC: the key xor 0x5c */
    bool hmac;
} absorber;

static void put(absorber *a, const void *p, size_t n)
{
    EVP_DigestUpdate(a->md, p, n);
}

static void put_u32(absorber *a, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    put(a, b, sizeof b);
}

static void put_i64(absorber *a, int64_t v)
{
    uint64_t u = (uint64_t)v;
    uint8_t b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(u >> (56 - 8 * i));
    put(a, b, sizeof b);
}

static void put_field(absorber *a, const void *p, size_t n)
{
    put_u32(a, (uint32_t)n);
    if (n > 0)
        put(a, p, n);
}

static void put_str(absorber *a, const char *s)
{
    put_field(a, s != NULL ? s : "", s != NULL ? strlen(s) : 0);
}

static bool sha256_begin(absorber *a)
{
    a->hmac = false;
    a->md = EVP_MD_CTX_new();
    return a->md != NULL && EVP_DigestInit_ex(a->md, sha256(), NULL) == 1;
}

/* The digest so far; false (out zeroed) when it could not be made. Frees the context. */
static bool sha256_end(absorber *a, uint8_t out[32])
{
    unsigned int len = 32;
    bool ok = a->md != NULL && EVP_DigestFinal_ex(a->md, out, &len) == 1 && len == 32;
    if (!ok)
        memset(out, 0, 32);
    EVP_MD_CTX_free(a->md);
    a->md = NULL;
    return ok;
}

/* Keys here are at most one block (session keys are 32 bytes, salts 32). */
static bool hmac_begin(absorber *a, const uint8_t *key, size_t key_len)
{
    uint8_t ipad[HMAC_BLOCK];
    if (key_len > HMAC_BLOCK || !sha256_begin(a)) {
        a->hmac = true;
        return false;
    }
    a->hmac = true;
    for (size_t i = 0; i < HMAC_BLOCK; i++) {
        uint8_t k = i < key_len ? key[i] : 0;
        ipad[i] = k ^ 0x36;
        a->opad[i] = k ^ 0x5c;
    }
    put(a, ipad, sizeof ipad);
    OPENSSL_cleanse(ipad, sizeof ipad);
    return true;
}

static void hmac_end(absorber *a, uint8_t out[32])
{
    uint8_t inner[32];
    bool ok = sha256_end(a, inner) && sha256_begin(a);
    if (ok) {
        put(a, a->opad, sizeof a->opad);
        put(a, inner, sizeof inner);
        ok = sha256_end(a, out);
    } else {
        EVP_MD_CTX_free(a->md);
        a->md = NULL;
    }
    OPENSSL_cleanse(a->opad, sizeof a->opad);
    if (!ok && RAND_bytes(out, 32) != 1) /* cannot compute: a MAC that matches nothing */
        memset(out, 0xA5, 32);
}

void gj_hmac_sha256(const uint8_t *key, size_t key_len, const void *data, size_t len, uint8_t out[32])
{
    absorber a;
    hmac_begin(&a, key, key_len);
    if (a.md != NULL)
        put(&a, data, len);
    hmac_end(&a, out);
}

bool gj_mac_equal(const uint8_t *a, const uint8_t *b, size_t len)
{
    return CRYPTO_memcmp(a, b, len) == 0;
}

void gj_sha256(const void *data, size_t len, uint8_t out[32])
{
    unsigned int n = 32;
    if (EVP_Digest(data, len, out, &n, sha256(), NULL) != 1)
        memset(out, 0, 32);
}

bool gj_random(void *buf, size_t len)
{
    return RAND_bytes(buf, (int)len) == 1;
}

/* ---- ephemeral ECDH ---- */

static EVP_PKEY *ephemeral_new(uint8_t point[GJ_EC_POINT_LEN])
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    size_t len = 0;
    if (key == NULL ||
        EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, point, GJ_EC_POINT_LEN,
                                        &len) != 1 ||
        len != GJ_EC_POINT_LEN || point[0] != 0x04) {
        EVP_PKEY_free(key);
        ERR_clear_error();
        return NULL;
    }
    return key;
}

/* The shared secret of our ephemeral key and the other side's point; false when the
 * point is not an uncompressed point on P-256. */
static bool ecdh(EVP_PKEY *mine, const uint8_t *point, size_t point_len, uint8_t secret[32])
{
    if (point_len != GJ_EC_POINT_LEN || point[0] != 0x04)
        return false;
    EVP_PKEY *theirs = NULL;
    EVP_PKEY_CTX *from = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0),
        OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *)point, point_len),
        OSSL_PARAM_construct_end()};
    bool ok = from != NULL && EVP_PKEY_fromdata_init(from) == 1 &&
              EVP_PKEY_fromdata(from, &theirs, EVP_PKEY_PUBLIC_KEY, params) == 1;
    EVP_PKEY_CTX_free(from);
    EVP_PKEY_CTX *derive = ok ? EVP_PKEY_CTX_new(mine, NULL) : NULL;
    size_t len = 32;
    ok = derive != NULL && EVP_PKEY_derive_init(derive) == 1 && EVP_PKEY_derive_set_peer(derive, theirs) == 1 &&
         EVP_PKEY_derive(derive, secret, &len) == 1 && len == 32;
    EVP_PKEY_CTX_free(derive);
    EVP_PKEY_free(theirs);
    ERR_clear_error();
    return ok;
}

/* HKDF-SHA256 (RFC 5869) for one 32-byte block: salt = the opening's transcript. */
static bool derive_key(const uint8_t secret[32], const uint8_t salt[32], const uint8_t session_id[GJ_SESSION_ID_LEN],
                       uint8_t key[GJ_SESSION_KEY_LEN])
{
    uint8_t prk[32];
    absorber a;
    if (!hmac_begin(&a, salt, 32)) {
        EVP_MD_CTX_free(a.md);
        return false;
    }
    put(&a, secret, 32);
    hmac_end(&a, prk);
    if (!hmac_begin(&a, prk, sizeof prk)) {
        EVP_MD_CTX_free(a.md);
        return false;
    }
    static const uint8_t one = 1;
    put(&a, LABEL_KEY, sizeof LABEL_KEY - 1);
    put(&a, session_id, GJ_SESSION_ID_LEN);
    put(&a, &one, 1);
    hmac_end(&a, key);
    OPENSSL_cleanse(prk, sizeof prk);
    return true;
}

/* ---- transcripts ---- */

/* What the caller signs: who it claims to be, where the session goes, its certificate,
 * its ephemeral key, its nonce and the time. */
static bool open_transcript(int role, const char *caller_id, const char *dest_region, const uint8_t *cert,
                            size_t cert_len, const uint8_t *point, size_t point_len, const uint8_t *nonce,
                            size_t nonce_len, int64_t time_ms, uint8_t out[32])
{
    absorber a;
    if (!sha256_begin(&a)) {
        EVP_MD_CTX_free(a.md);
        return false;
    }
    put_str(&a, LABEL_OPEN);
    put_u32(&a, (uint32_t)role);
    put_str(&a, caller_id);
    put_str(&a, dest_region);
    put_field(&a, cert, cert_len);
    put_field(&a, point, point_len);
    put_field(&a, nonce, nonce_len);
    put_i64(&a, time_ms);
    sha256_end(&a, out);
    return true;
}

/* What the node signs: the caller's transcript and signature, and all of its answer. */
static bool reply_transcript(const uint8_t open[32], const uint8_t *caller_sig, size_t caller_sig_len,
                             const Gongji__V1__OpenSessionReply *rep, uint8_t out[32])
{
    absorber a;
    if (!sha256_begin(&a)) {
        EVP_MD_CTX_free(a.md);
        return false;
    }
    put_str(&a, LABEL_OPEN_REPLY);
    put_field(&a, open, 32);
    put_field(&a, caller_sig, caller_sig_len);
    put_field(&a, rep->session_id.data, rep->session_id.len);
    put_field(&a, rep->certificate.data, rep->certificate.len);
    put_field(&a, rep->ephemeral_key.data, rep->ephemeral_key.len);
    put_field(&a, rep->nonce.data, rep->nonce.len);
    put_i64(&a, rep->expires_unix_ms);
    sha256_end(&a, out);
    return true;
}

/* ---- the caller's side ---- */

gj_err gj_open_begin(const gj_cred *cred, const char *dest_region, gj_open_pending *p,
                     Gongji__V1__OpenSessionRequest *req)
{
    memset(p, 0, sizeof *p);
    const gj_identity *me = gj_cred_identity(cred);
    size_t cert_len;
    const uint8_t *cert = gj_cred_der(cred, &cert_len);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    p->time_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    if (!gj_random(p->nonce, sizeof p->nonce) || (p->ephemeral = ephemeral_new(p->point)) == NULL ||
        !open_transcript(me->role, me->id, dest_region, cert, cert_len, p->point, sizeof p->point, p->nonce,
                         sizeof p->nonce, p->time_ms, p->transcript) ||
        gj_cred_sign(cred, p->transcript, p->sig, &p->sig_len) != GJ_OK) {
        gj_open_abandon(p);
        return GJ_ERR_NOMEM;
    }
    gongji__v1__open_session_request__init(req);
    req->certificate = (ProtobufCBinaryData){.len = cert_len, .data = (uint8_t *)cert};
    req->ephemeral_key = (ProtobufCBinaryData){.len = sizeof p->point, .data = p->point};
    req->nonce = (ProtobufCBinaryData){.len = sizeof p->nonce, .data = p->nonce};
    req->time_unix_ms = p->time_ms;
    req->signature = (ProtobufCBinaryData){.len = p->sig_len, .data = p->sig};
    return GJ_OK;
}

void gj_open_abandon(gj_open_pending *p)
{
    EVP_PKEY_free(p->ephemeral);
    p->ephemeral = NULL;
}

gj_err gj_open_finish(gj_open_pending *p, const gj_cred *cred, const Gongji__V1__OpenSessionReply *rep,
                      const char *expect_region, gj_session *out, char *why, size_t why_size)
{
    memset(out, 0, sizeof *out);
    gj_verified node;
    gj_err result = GJ_ERR_INVAL;
    uint8_t transcript[32], secret[32];
    if (rep->session_id.len != GJ_SESSION_ID_LEN || rep->nonce.len != GJ_NONCE_LEN) {
        snprintf(why, why_size, "the node's answer is malformed");
        gj_open_abandon(p);
        return GJ_ERR_INVAL;
    }
    if (gj_trust_verify(gj_cred_trust(cred), rep->certificate.data, rep->certificate.len, &node, why,
                        why_size) != GJ_OK) {
        gj_open_abandon(p);
        return GJ_ERR_INVAL;
    }
    if (node.who.role != GJ_ROLE_PEER) {
        snprintf(why, why_size, "the answer is signed by %s %s, not a node", gj_role_name(node.who.role),
                 node.who.id);
    } else if (expect_region != NULL && expect_region[0] != '\0' && strcmp(expect_region, node.who.id) != 0) {
        snprintf(why, why_size, "the answer comes from node %s, not %s", node.who.id, expect_region);
    } else if (!reply_transcript(p->transcript, p->sig, p->sig_len, rep, transcript) ||
               !gj_verified_check_signature(&node, transcript, rep->signature.data, rep->signature.len)) {
        snprintf(why, why_size, "node %s's signature over the session does not verify", node.who.id);
    } else if (!ecdh(p->ephemeral, rep->ephemeral_key.data, rep->ephemeral_key.len, secret) ||
               !derive_key(secret, p->transcript, rep->session_id.data, out->key)) {
        snprintf(why, why_size, "node %s's ephemeral key is not usable", node.who.id);
    } else {
        memcpy(out->id, rep->session_id.data, GJ_SESSION_ID_LEN);
        out->expires_ms = rep->expires_unix_ms;
        out->peer = node.who;
        out->peer_serial = node.serial;
        result = GJ_OK;
    }
    OPENSSL_cleanse(secret, sizeof secret);
    gj_verified_release(&node);
    gj_open_abandon(p);
    return result;
}

/* ---- the node's side ---- */

gj_open_result gj_open_accept(const gj_cred *node_cred, int claimed_role, const char *claimed_id,
                              const char *dest_region, const Gongji__V1__OpenSessionRequest *req,
                              int64_t now_ms, int64_t life_ms, gj_open_answer *ans,
                              Gongji__V1__OpenSessionReply *reply, char *why, size_t why_size)
{
    memset(ans, 0, sizeof *ans);
    if (req->nonce.len != GJ_NONCE_LEN || req->ephemeral_key.len != GJ_EC_POINT_LEN ||
        req->signature.len == 0 || req->signature.len > GJ_SIGNATURE_MAX || req->certificate.len == 0 ||
        req->certificate.len > GJ_CERT_DER_MAX) {
        snprintf(why, why_size, "Auth/Open needs a certificate, a 65-byte P-256 key, a 16-byte nonce and a signature");
        return GJ_OPEN_UNAUTHENTICATED;
    }
    int64_t skew = req->time_unix_ms - now_ms;
    if (skew > GJ_OPEN_CLOCK_SKEW_MS || skew < -GJ_OPEN_CLOCK_SKEW_MS) {
        snprintf(why, why_size, "Auth/Open made %lld s away from this node's clock", (long long)(skew / 1000));
        return GJ_OPEN_UNAUTHENTICATED;
    }
    gj_verified caller;
    if (gj_trust_verify(gj_cred_trust(node_cred), req->certificate.data, req->certificate.len, &caller, why,
                        why_size) != GJ_OK)
        return GJ_OPEN_UNAUTHENTICATED;
    gj_open_result result = GJ_OPEN_FAILED;
    uint8_t open[32], transcript[32], secret[32];
    EVP_PKEY *mine = NULL;
    if (caller.who.role != claimed_role || strcmp(caller.who.id, claimed_id != NULL ? claimed_id : "") != 0) {
        snprintf(why, why_size, "the certificate names %s %s; the envelope claims %s %.64s",
                 gj_role_name(caller.who.role), caller.who.id, gj_role_name(claimed_role),
                 claimed_id != NULL ? claimed_id : "");
        result = GJ_OPEN_DENIED;
        goto done;
    }
    if (!open_transcript(claimed_role, claimed_id, dest_region, req->certificate.data, req->certificate.len,
                         req->ephemeral_key.data, req->ephemeral_key.len, req->nonce.data, req->nonce.len,
                         req->time_unix_ms, open) ||
        !gj_verified_check_signature(&caller, open, req->signature.data, req->signature.len)) {
        snprintf(why, why_size, "the signature over Auth/Open does not verify with the certificate's key");
        result = GJ_OPEN_UNAUTHENTICATED;
        goto done;
    }
    snprintf(why, why_size, "cannot make a session key");
    if (!gj_random(ans->session.id, GJ_SESSION_ID_LEN) || !gj_random(ans->nonce, GJ_NONCE_LEN) ||
        (mine = ephemeral_new(ans->point)) == NULL ||
        !ecdh(mine, req->ephemeral_key.data, req->ephemeral_key.len, secret)) {
        /* A point that is not on the curve lands here too: the caller's fault. */
        snprintf(why, why_size, "the ephemeral key is not a usable P-256 point");
        result = mine != NULL ? GJ_OPEN_UNAUTHENTICATED : GJ_OPEN_FAILED;
        goto done;
    }
    if (!derive_key(secret, open, ans->session.id, ans->session.key))
        goto done;
    int64_t expires = now_ms + life_ms;
    if (caller.not_after_ms < expires)
        expires = caller.not_after_ms;
    ans->session.expires_ms = expires;
    ans->session.peer = caller.who;
    ans->session.peer_serial = caller.serial;

    size_t cert_len;
    const uint8_t *cert = gj_cred_der(node_cred, &cert_len);
    gongji__v1__open_session_reply__init(reply);
    reply->session_id = (ProtobufCBinaryData){.len = GJ_SESSION_ID_LEN, .data = ans->session.id};
    reply->certificate = (ProtobufCBinaryData){.len = cert_len, .data = (uint8_t *)cert};
    reply->ephemeral_key = (ProtobufCBinaryData){.len = GJ_EC_POINT_LEN, .data = ans->point};
    reply->nonce = (ProtobufCBinaryData){.len = GJ_NONCE_LEN, .data = ans->nonce};
    reply->expires_unix_ms = expires;
    if (!reply_transcript(open, req->signature.data, req->signature.len, reply, transcript) ||
        gj_cred_sign(node_cred, transcript, ans->sig, &ans->sig_len) != GJ_OK)
        goto done;
    reply->signature = (ProtobufCBinaryData){.len = ans->sig_len, .data = ans->sig};
    result = GJ_OPEN_OK;
    why[0] = '\0';
done:
    OPENSSL_cleanse(secret, sizeof secret);
    EVP_PKEY_free(mine);
    gj_verified_release(&caller);
    return result;
}

/* ---- seals ---- */

void gj_seal_mac(const uint8_t key[GJ_SESSION_KEY_LEN], const Gongji__V1__Envelope *env,
                 int64_t not_after_ms, const uint8_t session_id[GJ_SESSION_ID_LEN],
                 uint8_t mac[GJ_MAC_LEN])
{
    absorber a;
    if (!hmac_begin(&a, key, GJ_SESSION_KEY_LEN)) {
        hmac_end(&a, mac);
        return;
    }
    put_str(&a, LABEL_SEAL);
    put_str(&a, env->method);
    put_str(&a, env->call_id);
    put_str(&a, env->caller_id);
    put_u32(&a, (uint32_t)env->caller_role);
    put_str(&a, env->dest_region);
    put_field(&a, env->payload.data, env->payload.len);
    put_i64(&a, not_after_ms);
    put_field(&a, session_id, GJ_SESSION_ID_LEN);
    hmac_end(&a, mac);
}

void gj_reply_mac(const uint8_t key[GJ_SESSION_KEY_LEN], const uint8_t request_mac[GJ_MAC_LEN],
                  const uint8_t *reply, size_t len, uint8_t mac[GJ_MAC_LEN])
{
    absorber a;
    if (!hmac_begin(&a, key, GJ_SESSION_KEY_LEN)) {
        hmac_end(&a, mac);
        return;
    }
    put_str(&a, LABEL_REPLY);
    put_field(&a, request_mac, GJ_MAC_LEN);
    put_field(&a, reply, len);
    hmac_end(&a, mac);
}

/* Reply.mac is field 7, length-delimited: tag (7 << 3) | 2 = 0x3a, then length 32. */
#define REPLY_MAC_TAG 0x3a

void gj_reply_put_mac(uint8_t *out, const uint8_t mac[GJ_MAC_LEN])
{
    out[0] = REPLY_MAC_TAG;
    out[1] = GJ_MAC_LEN;
    memcpy(out + 2, mac, GJ_MAC_LEN);
}

bool gj_reply_find_mac(const uint8_t *reply, size_t len, size_t *covered, const uint8_t **mac)
{
    if (len < GJ_REPLY_MAC_FIELD_LEN)
        return false;
    const uint8_t *field = reply + len - GJ_REPLY_MAC_FIELD_LEN;
    if (field[0] != REPLY_MAC_TAG || field[1] != GJ_MAC_LEN)
        return false;
    *covered = len - GJ_REPLY_MAC_FIELD_LEN;
    *mac = field + 2;
    return true;
}
