#include "signature.h"

#include <ctype.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A nonce is kept as a digest of paasid and nonce (no collision in practice) with the
 * time it may be forgotten. */
struct gw_nonce_slot {
    int64_t forget_at; /* 0 = free */
    uint8_t key[16];
};

/* Slots looked at for one nonce; a full run of live ones means the table is too full. */
#define GW_NONCE_PROBES 64

const char *gw_sig_result_name(gw_sig_result r)
{
    switch (r) {
    case GW_SIG_OK: return "OK";
    case GW_SIG_MISSING: return "SIGNATURE_MISSING";
    case GW_SIG_MALFORMED: return "SIGNATURE_MALFORMED";
    case GW_SIG_STALE: return "TIMESTAMP_STALE";
    case GW_SIG_MISMATCH: return "SIGNATURE_INVALID";
    case GW_SIG_NONCE_REUSED: return "NONCE_REUSED";
    case GW_SIG_NONCE_FULL: return "NONCE_STORE_FULL";
    }
    return "SIGNATURE_INVALID";
}

int gw_nonces_init(gw_nonces *n, uint32_t capacity_pow2)
{
    if (capacity_pow2 < GW_NONCE_PROBES || (capacity_pow2 & (capacity_pow2 - 1)) != 0)
        return -1;
    n->slots = calloc(capacity_pow2, sizeof *n->slots);
    if (n->slots == NULL)
        return -1;
    n->capacity = capacity_pow2;
    pthread_mutex_init(&n->mu, NULL);
    return 0;
}

void gw_nonces_fini(gw_nonces *n)
{
    if (n->slots == NULL)
        return;
    free(n->slots);
    n->slots = NULL;
    pthread_mutex_destroy(&n->mu);
}

static void sha256(const void *parts[], const size_t lens[], int count, uint8_t out[32])
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned len = 32;
    if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
        memset(out, 0, 32);
        EVP_MD_CTX_free(ctx);
        return;
    }
    for (int i = 0; i < count; i++)
        EVP_DigestUpdate(ctx, parts[i], lens[i]);
    EVP_DigestFinal_ex(ctx, out, &len);
    EVP_MD_CTX_free(ctx);
}

void gw_signature_make(const char *token, const char *timestamp, const char *nonce, char out[65])
{
    const void *parts[] = {timestamp, token, nonce, timestamp};
    const size_t lens[] = {strlen(timestamp), strlen(token), strlen(nonce), strlen(timestamp)};
    uint8_t digest[32];
    sha256(parts, lens, 4, digest);
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", digest[i]);
}

/* Remember (paasid, nonce) until forget_at; false when seen already, or no room. */
static gw_sig_result remember(gw_nonces *n, const char *paasid, const char *nonce, int64_t now,
                              int64_t forget_at)
{
    const void *parts[] = {paasid, "\n", nonce};
    const size_t lens[] = {strlen(paasid), 1, strlen(nonce)};
    uint8_t digest[32];
    sha256(parts, lens, 3, digest);
    uint32_t start;
    memcpy(&start, digest + 16, sizeof start);
    gw_sig_result r = GW_SIG_NONCE_FULL;
    pthread_mutex_lock(&n->mu);
    struct gw_nonce_slot *free_slot = NULL;
    for (uint32_t i = 0; i < GW_NONCE_PROBES; i++) {
        struct gw_nonce_slot *s = &n->slots[(start + i) & (n->capacity - 1)];
        bool live = s->forget_at > now;
        if (live && memcmp(s->key, digest, sizeof s->key) == 0) {
            r = GW_SIG_NONCE_REUSED;
            free_slot = NULL;
            break;
        }
        if (!live && free_slot == NULL)
            free_slot = s;
    }
    if (free_slot != NULL) {
        free_slot->forget_at = forget_at;
        memcpy(free_slot->key, digest, sizeof free_slot->key);
        r = GW_SIG_OK;
    }
    pthread_mutex_unlock(&n->mu);
    return r;
}

static bool text_ok(const char *s, size_t max)
{
    if (s == NULL || s[0] == '\0')
        return false;
    size_t len = strnlen(s, max + 1);
    if (len > max)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!isprint((unsigned char)s[i]))
            return false;
    return true;
}

gw_sig_result gw_signature_check(gw_nonces *nonces, const char *paasid, const char *token,
                                 const char *timestamp, const char *nonce, const char *signature,
                                 int64_t now, int64_t skew_s)
{
    if (paasid == NULL || paasid[0] == '\0' || timestamp == NULL || timestamp[0] == '\0' ||
        nonce == NULL || nonce[0] == '\0' || signature == NULL || signature[0] == '\0')
        return GW_SIG_MISSING;
    if (!text_ok(paasid, GW_PAASID_MAX) || !text_ok(nonce, GW_NONCE_MAX) || !text_ok(timestamp, 12) ||
        strlen(signature) != 64)
        return GW_SIG_MALFORMED;
    char *end;
    long long ts = strtoll(timestamp, &end, 10);
    if (*end != '\0' || ts <= 0)
        return GW_SIG_MALFORMED;
    if (ts < now - skew_s || ts > now + skew_s)
        return GW_SIG_STALE;
    char want[65];
    gw_signature_make(token, timestamp, nonce, want);
    /* Compare every character whatever the first difference (case-insensitive hex). */
    unsigned diff = 0;
    for (int i = 0; i < 64; i++)
        diff |= (unsigned)(tolower((unsigned char)signature[i]) ^ want[i]);
    if (diff != 0)
        return GW_SIG_MISMATCH;
    /* Remembered until the timestamp can no longer be accepted. */
    return remember(nonces, paasid, nonce, now, ts + skew_s + 1);
}
