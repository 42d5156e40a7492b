/* The national platform's gateway signature, as HIS clients send it (x-tif-*):
 *
 *   x-tif-paasid     the account the bureau issued to the institution
 *   x-tif-timestamp  Unix seconds
 *   x-tif-nonce      a random string, never used twice
 *   x-tif-signature  hex SHA-256 of timestamp + token + nonce + timestamp, where token
 *                    is the secret issued with the paasid
 *
 * A request is taken when the signature matches, the timestamp is within the allowed
 * skew of the gateway's clock, and the nonce was not seen from that paasid within the
 * window a timestamp stays acceptable (so a captured request cannot be replayed). */
#ifndef GW_SIGNATURE_H
#define GW_SIGNATURE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define GW_NONCE_MAX 64
#define GW_PAASID_MAX 64
#define GW_TOKEN_MAX 128

typedef enum gw_sig_result {
    GW_SIG_OK = 0,
    GW_SIG_MISSING,       /* a header is absent or empty */
    GW_SIG_MALFORMED,     /* a header is too long, or the timestamp is not a number */
    GW_SIG_STALE,         /* the timestamp is outside the allowed skew */
    GW_SIG_MISMATCH,      /* the signature is not the one the token gives */
    GW_SIG_NONCE_REUSED,  /* this paasid used this nonce within the window */
    GW_SIG_NONCE_FULL,    /* too many live nonces to remember one more: try later */
} gw_sig_result;

const char *gw_sig_result_name(gw_sig_result r);

/* Nonces seen, each remembered until its timestamp can no longer be accepted. Bounded:
 * past capacity live nonces, new requests are refused (GW_SIG_NONCE_FULL), never let
 * through unremembered. */
typedef struct gw_nonces {
    pthread_mutex_t mu;
    struct gw_nonce_slot *slots;
    uint32_t capacity; /* a power of two */
} gw_nonces;

int gw_nonces_init(gw_nonces *n, uint32_t capacity_pow2);
void gw_nonces_fini(gw_nonces *n);

/* Check one request's headers against token at time now (Unix seconds). On GW_SIG_OK
 * the nonce is remembered. */
gw_sig_result gw_signature_check(gw_nonces *nonces, const char *paasid, const char *token,
                                 const char *timestamp, const char *nonce, const char *signature,
                                 int64_t now, int64_t skew_s);

/* The signature a client computes (lower-case hex, 64 characters + NUL). */
void gw_signature_make(const char *token, const char *timestamp, const char *nonce, char out[65]);

#endif
