/* Credentials on OpenSSL: X.509 chains checked against the federation CA and its CRL,
 * identities read from subjects, ECDSA P-256 signatures. See credential.h. */
#include "credential.h"

#include <ctype.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "gj_util.h"

/* ---- roles and ids ---- */

static const struct {
    int role;
    const char *ou;
    const char *name;
} roles[] = {
    {GJ_ROLE_OPERATOR, "operator", "OPERATOR"},
    {GJ_ROLE_INSTITUTION, "institution", "INSTITUTION"},
    {GJ_ROLE_PERSON, "", "PERSON"},
    {GJ_ROLE_PEER, "node", "PEER"},
    {GJ_ROLE_PLATFORM, "platform", "PLATFORM"},
};

int gj_role_from_ou(const char *ou)
{
    for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++)
        if (roles[i].ou[0] != '\0' && strcmp(roles[i].ou, ou) == 0)
            return roles[i].role;
    return -1;
}

const char *gj_role_ou(int role)
{
    for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++)
        if (roles[i].role == role)
            return roles[i].ou;
    return "";
}

const char *gj_role_name(int role)
{
    for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++)
        if (roles[i].role == role)
            return roles[i].name;
    return "UNSPECIFIED";
}

static bool chars_in(const char *s, size_t min, size_t max, int (*ok)(int c))
{
    size_t len = strlen(s);
    if (len < min || len > max)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!ok((unsigned char)s[i]))
            return false;
    return true;
}

static int name_char(int c)
{
    return isalnum(c) || c == '_' || c == '-';
}

static int upper_or_digit(int c)
{
    return isupper(c) || isdigit(c);
}

static int platform_char(int c)
{
    return islower(c) || isdigit(c) || c == '-';
}

bool gj_identity_valid(int role, const char *id)
{
    switch (role) {
    case GJ_ROLE_PEER:
        return strlen(id) == GJ_ADMDVS_LEN && gj_all_digits(id, GJ_ADMDVS_LEN);
    case GJ_ROLE_OPERATOR:
        return strlen(id) > GJ_ADMDVS_LEN + 1 && gj_all_digits(id, GJ_ADMDVS_LEN) &&
               id[GJ_ADMDVS_LEN] == ':' && chars_in(id + GJ_ADMDVS_LEN + 1, 1, 32, name_char);
    case GJ_ROLE_INSTITUTION:
        return isupper((unsigned char)id[0]) && chars_in(id, 2, 32, upper_or_digit);
    case GJ_ROLE_PLATFORM:
        return chars_in(id, 1, 32, platform_char);
    default:
        return false;
    }
}

/* ---- the CA and its CRL ---- */

struct gj_trust {
    pthread_mutex_t mu;    /* guards store, crl, crl_mtime, crl_size */
    X509_STORE *store;     /* replaced whole on refresh; users hold a reference */
    X509_CRL *crl;
    char *ca_file;
    char *crl_file;        /* NULL: no revocation list */
    struct timespec crl_mtime;
    off_t crl_size;
};

static void say(char *err, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void say(char *err, size_t size, const char *fmt, ...)
{
    if (err == NULL || size == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, size, fmt, ap);
    va_end(ap);
}

/* The first OpenSSL error on this thread, as text, and the queue emptied. */
static const char *ssl_error(char *buf, size_t size)
{
    unsigned long e = ERR_get_error();
    ERR_clear_error();
    if (e == 0)
        return "unknown error";
    ERR_error_string_n(e, buf, size);
    return buf;
}

static X509_CRL *read_crl(const char *path, struct stat *st, char *err, size_t err_size)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        say(err, err_size, "%s: cannot open the CRL", path);
        return NULL;
    }
    if (fstat(fileno(f), st) != 0) {
        fclose(f);
        say(err, err_size, "%s: cannot stat the CRL", path);
        return NULL;
    }
    X509_CRL *crl = PEM_read_X509_CRL(f, NULL, NULL, NULL);
    fclose(f);
    if (crl == NULL) {
        char buf[160];
        say(err, err_size, "%s: not a PEM CRL (%s)", path, ssl_error(buf, sizeof buf));
    }
    return crl;
}

/* A store with the CA certificates and, when crl is given, that CRL required. */
static X509_STORE *make_store(const char *ca_file, X509_CRL *crl, char *err, size_t err_size)
{
    X509_STORE *store = X509_STORE_new();
    if (store == NULL)
        return NULL;
    if (X509_STORE_load_file(store, ca_file) != 1) {
        char buf[160];
        say(err, err_size, "%s: cannot load the CA certificate (%s)", ca_file, ssl_error(buf, sizeof buf));
        X509_STORE_free(store);
        return NULL;
    }
    if (crl != NULL) {
        if (X509_STORE_add_crl(store, crl) != 1) {
            X509_STORE_free(store);
            say(err, err_size, "cannot use the CRL");
            return NULL;
        }
        X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK);
    }
    return store;
}

gj_err gj_trust_open(gj_trust **out, const char *ca_file, const char *crl_file, char *err,
                     size_t err_size)
{
    *out = NULL;
    gj_trust *t = calloc(1, sizeof *t);
    if (t == NULL)
        return GJ_ERR_NOMEM;
    pthread_mutex_init(&t->mu, NULL);
    t->ca_file = strdup(ca_file);
    t->crl_file = crl_file != NULL && crl_file[0] != '\0' ? strdup(crl_file) : NULL;
    if (t->ca_file == NULL || (crl_file != NULL && crl_file[0] != '\0' && t->crl_file == NULL)) {
        gj_trust_free(t);
        return GJ_ERR_NOMEM;
    }
    if (t->crl_file != NULL) {
        struct stat st;
        if ((t->crl = read_crl(t->crl_file, &st, err, err_size)) == NULL) {
            gj_trust_free(t);
            return GJ_ERR_IO;
        }
        t->crl_mtime = st.st_mtim;
        t->crl_size = st.st_size;
    }
    if ((t->store = make_store(t->ca_file, t->crl, err, err_size)) == NULL) {
        gj_trust_free(t);
        return GJ_ERR_IO;
    }
    *out = t;
    return GJ_OK;
}

void gj_trust_free(gj_trust *t)
{
    if (t == NULL)
        return;
    X509_STORE_free(t->store);
    X509_CRL_free(t->crl);
    free(t->ca_file);
    free(t->crl_file);
    pthread_mutex_destroy(&t->mu);
    free(t);
}

int gj_trust_refresh(gj_trust *t, char *err, size_t err_size)
{
    if (t->crl_file == NULL)
        return 0;
    struct stat st;
    if (stat(t->crl_file, &st) != 0) {
        say(err, err_size, "%s: cannot stat the CRL", t->crl_file);
        return -1;
    }
    pthread_mutex_lock(&t->mu);
    bool same = st.st_mtim.tv_sec == t->crl_mtime.tv_sec && st.st_mtim.tv_nsec == t->crl_mtime.tv_nsec &&
                st.st_size == t->crl_size;
    pthread_mutex_unlock(&t->mu);
    if (same)
        return 0;
    X509_CRL *crl = read_crl(t->crl_file, &st, err, err_size);
    if (crl == NULL)
        return -1;
    X509_STORE *store = make_store(t->ca_file, crl, err, err_size);
    if (store == NULL) {
        X509_CRL_free(crl);
        return -1;
    }
    pthread_mutex_lock(&t->mu);
    X509_STORE *old_store = t->store;
    X509_CRL *old_crl = t->crl;
    t->store = store;
    t->crl = crl;
    t->crl_mtime = st.st_mtim;
    t->crl_size = st.st_size;
    pthread_mutex_unlock(&t->mu);
    X509_STORE_free(old_store); /* verifiers still using it hold their own reference */
    X509_CRL_free(old_crl);
    return 1;
}

bool gj_trust_revoked(gj_trust *t, const gj_serial *serial)
{
    const unsigned char *p = serial->bytes;
    ASN1_INTEGER *n = d2i_ASN1_INTEGER(NULL, &p, (long)serial->len);
    if (n == NULL)
        return true; /* cannot tell: treat as revoked */
    bool revoked = false;
    pthread_mutex_lock(&t->mu);
    if (t->crl != NULL) {
        X509_REVOKED *entry = NULL;
        revoked = X509_CRL_get0_by_serial(t->crl, &entry, n) == 1;
    }
    pthread_mutex_unlock(&t->mu);
    ASN1_INTEGER_free(n);
    return revoked;
}

/* The text of the first entry of nid in name, if it is printable and fits. */
static bool subject_field(X509_NAME *name, int nid, char *out, size_t size)
{
    int at = X509_NAME_get_index_by_NID(name, nid, -1);
    if (at < 0)
        return false;
    const ASN1_STRING *s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, at));
    int len = ASN1_STRING_length(s);
    const unsigned char *data = ASN1_STRING_get0_data(s);
    if (len <= 0 || (size_t)len >= size)
        return false;
    for (int i = 0; i < len; i++)
        if (data[i] < 0x21 || data[i] > 0x7e)
            return false;
    memcpy(out, data, (size_t)len);
    out[len] = '\0';
    return true;
}

static bool is_p256(EVP_PKEY *key)
{
    char group[32];
    return EVP_PKEY_is_a(key, "EC") && EVP_PKEY_get_group_name(key, group, sizeof group, NULL) == 1 &&
           (strcmp(group, "prime256v1") == 0 || strcmp(group, "P-256") == 0);
}

/* Identity, expiry, serial and key of x; false with why when the subject is not ours. */
static bool describe(X509 *x, gj_verified *out, char *why, size_t why_size)
{
    char ou[32], cn[GJ_CALLER_ID_MAX + 1];
    X509_NAME *name = X509_get_subject_name(x);
    if (!subject_field(name, NID_organizationalUnitName, ou, sizeof ou) ||
        !subject_field(name, NID_commonName, cn, sizeof cn)) {
        say(why, why_size, "the certificate's subject names no role (OU) and id (CN)");
        return false;
    }
    int role = gj_role_from_ou(ou);
    if (role < 0 || !gj_identity_valid(role, cn)) {
        say(why, why_size, "the certificate names no known identity (OU=%.32s CN=%.64s)", ou, cn);
        return false;
    }
    out->who.role = role;
    memcpy(out->who.id, cn, strlen(cn) + 1);
    struct tm tm;
    if (ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm) != 1) {
        say(why, why_size, "the certificate's expiry is unreadable");
        return false;
    }
    out->not_after_ms = (int64_t)timegm(&tm) * 1000;
    unsigned char *p = out->serial.bytes;
    int n = i2d_ASN1_INTEGER(X509_get0_serialNumber(x), NULL);
    if (n <= 0 || n > GJ_SERIAL_MAX) {
        say(why, why_size, "the certificate's serial number is too long");
        return false;
    }
    i2d_ASN1_INTEGER(X509_get0_serialNumber(x), &p);
    out->serial.len = (size_t)n;
    EVP_PKEY *key = X509_get_pubkey(x);
    if (key == NULL || !is_p256(key)) {
        EVP_PKEY_free(key);
        say(why, why_size, "the certificate's key is not EC P-256");
        return false;
    }
    out->public_key = key;
    return true;
}

gj_err gj_trust_verify(gj_trust *t, const uint8_t *der, size_t len, gj_verified *out, char *why,
                       size_t why_size)
{
    memset(out, 0, sizeof *out);
    const unsigned char *p = der;
    X509 *x = len > 0 && len < 16384 ? d2i_X509(NULL, &p, (long)len) : NULL;
    if (x == NULL || p != der + len) {
        X509_free(x);
        ERR_clear_error();
        say(why, why_size, "not a DER X.509 certificate");
        return GJ_ERR_INVAL;
    }
    pthread_mutex_lock(&t->mu);
    X509_STORE *store = t->store;
    X509_STORE_up_ref(store);
    pthread_mutex_unlock(&t->mu);
    gj_err result = GJ_ERR_INVAL;
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    if (ctx == NULL || X509_STORE_CTX_init(ctx, store, x, NULL) != 1) {
        result = GJ_ERR_NOMEM;
    } else if (X509_verify_cert(ctx) != 1) {
        say(why, why_size, "certificate not accepted: %s",
            X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
    } else if (describe(x, out, why, why_size)) {
        result = GJ_OK;
    }
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
    X509_free(x);
    ERR_clear_error();
    return result;
}

void gj_verified_release(gj_verified *v)
{
    EVP_PKEY_free(v->public_key);
    v->public_key = NULL;
}

bool gj_verified_check_signature(const gj_verified *v, const uint8_t digest[32], const uint8_t *sig,
                                 size_t sig_len)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(v->public_key, NULL);
    bool ok = ctx != NULL && EVP_PKEY_verify_init(ctx) == 1 &&
              EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()) == 1 &&
              EVP_PKEY_verify(ctx, sig, sig_len, digest, 32) == 1;
    EVP_PKEY_CTX_free(ctx);
    ERR_clear_error();
    return ok;
}

/* ---- our own credential ---- */

struct gj_cred {
    gj_identity who;
    gj_trust *trust;
    EVP_PKEY *key;
    uint8_t *der;
    size_t der_len;
    gj_cred_files paths; /* copies */
    char *path_buf[4];
};

static char *dup_or_null(const char *s)
{
    return s != NULL && s[0] != '\0' ? strdup(s) : NULL;
}

gj_err gj_cred_open(gj_cred **out, const gj_cred_files *files, char *err, size_t err_size)
{
    *out = NULL;
    if (files->ca_file == NULL || files->cert_file == NULL) {
        say(err, err_size, "a credential needs a CA file and a certificate");
        return GJ_ERR_INVAL;
    }
    gj_cred *c = calloc(1, sizeof *c);
    if (c == NULL)
        return GJ_ERR_NOMEM;
    gj_err e = gj_trust_open(&c->trust, files->ca_file, files->crl_file, err, err_size);
    if (e != GJ_OK) {
        free(c);
        return e;
    }
    c->path_buf[0] = dup_or_null(files->ca_file);
    c->path_buf[1] = dup_or_null(files->cert_file);
    c->path_buf[2] = dup_or_null(files->key_file);
    c->path_buf[3] = dup_or_null(files->crl_file);
    c->paths = (gj_cred_files){c->path_buf[0], c->path_buf[1], c->path_buf[2], c->path_buf[3]};

    const char *key_path = files->key_file != NULL && files->key_file[0] ? files->key_file : files->cert_file;
    FILE *f = fopen(files->cert_file, "r");
    X509 *x = f != NULL ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
    if (f != NULL)
        fclose(f);
    if (x == NULL) {
        say(err, err_size, "%s: no PEM certificate", files->cert_file);
        gj_cred_free(c);
        ERR_clear_error();
        return GJ_ERR_IO;
    }
    f = fopen(key_path, "r");
    c->key = f != NULL ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;
    if (f != NULL)
        fclose(f);
    ERR_clear_error();
    if (c->key == NULL) {
        say(err, err_size, "%s: no PEM private key (or it is encrypted)", key_path);
        X509_free(x);
        gj_cred_free(c);
        return GJ_ERR_IO;
    }
    if (X509_check_private_key(x, c->key) != 1) {
        ERR_clear_error();
        say(err, err_size, "%s: the key does not belong to the certificate in %s", key_path, files->cert_file);
        X509_free(x);
        gj_cred_free(c);
        return GJ_ERR_INVAL;
    }
    int n = i2d_X509(x, &c->der);
    X509_free(x);
    if (n <= 0) {
        gj_cred_free(c);
        return GJ_ERR_NOMEM;
    }
    c->der_len = (size_t)n;
    gj_verified v;
    char why[256];
    if (gj_trust_verify(c->trust, c->der, c->der_len, &v, why, sizeof why) != GJ_OK) {
        say(err, err_size, "%s: %s", files->cert_file, why);
        gj_cred_free(c);
        return GJ_ERR_INVAL;
    }
    c->who = v.who;
    gj_verified_release(&v);
    *out = c;
    return GJ_OK;
}

void gj_cred_free(gj_cred *c)
{
    if (c == NULL)
        return;
    gj_trust_free(c->trust);
    EVP_PKEY_free(c->key);
    OPENSSL_free(c->der);
    for (int i = 0; i < 4; i++)
        free(c->path_buf[i]);
    free(c);
}

const gj_identity *gj_cred_identity(const gj_cred *c)
{
    return &c->who;
}

gj_trust *gj_cred_trust(const gj_cred *c)
{
    return c->trust;
}

const uint8_t *gj_cred_der(const gj_cred *c, size_t *len)
{
    *len = c->der_len;
    return c->der;
}

const gj_cred_files *gj_cred_paths(const gj_cred *c)
{
    return &c->paths;
}

gj_err gj_cred_sign(const gj_cred *c, const uint8_t digest[32], uint8_t sig[GJ_SIGNATURE_MAX],
                    size_t *sig_len)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(c->key, NULL);
    size_t len = GJ_SIGNATURE_MAX;
    bool ok = ctx != NULL && EVP_PKEY_sign_init(ctx) == 1 &&
              EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()) == 1 &&
              EVP_PKEY_sign(ctx, sig, &len, digest, 32) == 1;
    EVP_PKEY_CTX_free(ctx);
    ERR_clear_error();
    if (!ok)
        return GJ_ERR_NOMEM;
    *sig_len = len;
    return GJ_OK;
}
