/* Credentials: who a certificate names, the federation CA that vouches for it, and the
 * key that proves we hold our own.
 *
 * Every caller of a gongji node (operator, institution, service platform, peer node)
 * holds an X.509 certificate issued by the federation's CA (deploy/pki.sh). Its subject
 * names the identity: OU = role ("node", "operator", "institution", "platform"), CN = id
 * ("430100", "430100:ops1", "H43010000001", "national-app"). Keys are EC P-256; the same
 * certificate serves the TLS link and the session handshake (trust/session.h).
 *
 * Threads: a gj_trust and a gj_cred may be used from any number of threads at once;
 * gj_trust_refresh swaps the revocation list under a lock. */
#ifndef GJ_TRUST_CREDENTIAL_H
#define GJ_TRUST_CREDENTIAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gj_error.h"
#include "gj_limits.h"

/* Role numbers are gongji.v1.Role's. */
enum {
    GJ_ROLE_OPERATOR = 1,
    GJ_ROLE_INSTITUTION = 2,
    GJ_ROLE_PERSON = 3,
    GJ_ROLE_PEER = 4,
    GJ_ROLE_PLATFORM = 5,
};

typedef struct gj_identity {
    int role;                        /* GJ_ROLE_* */
    char id[GJ_CALLER_ID_MAX + 1];
} gj_identity;

/* A certificate's serial number, as DER content bytes: to find it in a CRL later. */
#define GJ_SERIAL_MAX 32
typedef struct gj_serial {
    uint8_t bytes[GJ_SERIAL_MAX];
    size_t len;
} gj_serial;

/* The role a certificate's OU names ("node" -> GJ_ROLE_PEER); -1 when none. */
int gj_role_from_ou(const char *ou);
/* The OU for a role ("operator"); "" for roles no certificate carries (PERSON). */
const char *gj_role_ou(int role);
/* The name used in messages and docs ("OPERATOR", "PEER"). */
const char *gj_role_name(int role);
/* Whether id is well formed for role: node "430100"; operator "430100:ops1";
 * institution "H43010000001"; platform "national-app". */
bool gj_identity_valid(int role, const char *id);

/* ---- the federation's CA and its revocation list ---- */

typedef struct gj_trust gj_trust;

/* Load the CA certificate(s) from ca_file (PEM) and, when crl_file is not NULL, the
 * revocation list (PEM), which every later check then requires. Errors: GJ_ERR_IO
 * (a file cannot be read or parsed; err says which), GJ_ERR_NOMEM. */
gj_err gj_trust_open(gj_trust **out, const char *ca_file, const char *crl_file, char *err,
                     size_t err_size);
void gj_trust_free(gj_trust *t);

/* Read the CRL file again if it changed (mtime or size) since it was last read.
 * Returns 1 when a new list is in force, 0 when nothing changed (or there is no CRL),
 * -1 when the new file is unreadable (the old list stays in force; err says why). */
int gj_trust_refresh(gj_trust *t, char *err, size_t err_size);

/* Whether the CRL in force lists serial. */
bool gj_trust_revoked(gj_trust *t, const gj_serial *serial);

/* A certificate that passed gj_trust_verify. */
typedef struct gj_verified {
    gj_identity who;
    int64_t not_after_ms;  /* the certificate expires then (Unix ms) */
    gj_serial serial;
    void *public_key;      /* EVP_PKEY *; release with gj_verified_release */
} gj_verified;

/* Check a DER certificate: it chains to the CA, is in its validity period, is not
 * revoked, and its subject names a known role and a well-formed id. GJ_OK fills out;
 * otherwise GJ_ERR_INVAL with why (one line) filled. */
gj_err gj_trust_verify(gj_trust *t, const uint8_t *der, size_t len, gj_verified *out, char *why,
                       size_t why_size);
void gj_verified_release(gj_verified *v);

/* ECDSA-SHA256 check of sig over the 32-byte digest with a verified certificate's key. */
bool gj_verified_check_signature(const gj_verified *v, const uint8_t digest[32], const uint8_t *sig,
                                 size_t sig_len);

/* ---- our own credential ---- */

typedef struct gj_cred gj_cred;

typedef struct gj_cred_files {
    const char *ca_file;    /* the federation CA (PEM) */
    const char *cert_file;  /* our certificate (PEM); may also hold the key */
    const char *key_file;   /* our private key (PEM); NULL = in cert_file */
    const char *crl_file;   /* revocation list (PEM); NULL = none */
} gj_cred_files;

/* Load and check our credential: the certificate must pass gj_trust_verify (so a
 * revoked or foreign certificate is found at start, not at the first call) and the key
 * must match it. Errors: GJ_ERR_IO (files), GJ_ERR_INVAL (the certificate or key is not
 * acceptable), GJ_ERR_NOMEM; err says which and why. */
gj_err gj_cred_open(gj_cred **out, const gj_cred_files *files, char *err, size_t err_size);
void gj_cred_free(gj_cred *c);

const gj_identity *gj_cred_identity(const gj_cred *c);
gj_trust *gj_cred_trust(const gj_cred *c);
/* Our certificate, DER (valid as long as c). */
const uint8_t *gj_cred_der(const gj_cred *c, size_t *len);
/* The files it was loaded from (for the TLS layer, which reads them itself). */
const gj_cred_files *gj_cred_paths(const gj_cred *c);
/* ECDSA-SHA256 signature (DER, at most GJ_SIGNATURE_MAX bytes) over a 32-byte digest. */
#define GJ_SIGNATURE_MAX 80
gj_err gj_cred_sign(const gj_cred *c, const uint8_t digest[32], uint8_t sig[GJ_SIGNATURE_MAX],
                    size_t *sig_len);

#endif
