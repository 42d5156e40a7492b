/* nng TLS configurations from the credential files. See tls.h. */
#include "tls.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nng/supplemental/tls/tls.h>

bool gj_url_is_tls(const char *url)
{
    return strncmp(url, "tls+tcp://", 10) == 0 || strncmp(url, "tls+tcp4://", 11) == 0 ||
           strncmp(url, "tls+tcp6://", 11) == 0;
}

/* A PEM file's text (NUL-terminated, malloc'd); NULL when unreadable or over 1 MiB. */
static char *read_text(const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return NULL;
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len + 4096 + 1 > cap) {
            cap = cap ? cap * 2 : 8192;
            char *bigger = cap <= (1u << 20) ? realloc(buf, cap) : NULL;
            if (bigger == NULL) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = bigger;
        }
        size_t got = fread(buf + len, 1, 4096, f);
        len += got;
        if (got < 4096)
            break;
    }
    bool failed = ferror(f) != 0;
    fclose(f);
    if (failed) {
        free(buf);
        return NULL;
    }
    buf[len] = '\0';
    return buf;
}

gj_err gj_tls_config_make(nng_tls_config **out, bool server, const gj_cred_files *files, char *err,
                          size_t err_size)
{
    *out = NULL;
    const char *key_path = files->key_file != NULL && files->key_file[0] ? files->key_file : files->cert_file;
    char *ca = read_text(files->ca_file);
    char *crl = files->crl_file != NULL && files->crl_file[0] ? read_text(files->crl_file) : NULL;
    char *cert = read_text(files->cert_file);
    char *key = read_text(key_path);
    gj_err result = GJ_ERR_IO;
    nng_tls_config *cfg = NULL;
    int rv;
    if (ca == NULL || cert == NULL || key == NULL || (files->crl_file != NULL && files->crl_file[0] && crl == NULL)) {
        snprintf(err, err_size, "cannot read %s",
                 ca == NULL ? files->ca_file : cert == NULL ? files->cert_file : key == NULL ? key_path : files->crl_file);
        goto done;
    }
    result = GJ_ERR_INVAL;
    if ((rv = nng_tls_config_alloc(&cfg, server ? NNG_TLS_MODE_SERVER : NNG_TLS_MODE_CLIENT)) != 0) {
        snprintf(err, err_size, "TLS: %s", nng_strerror(rv));
        goto done;
    }
    if ((rv = nng_tls_config_ca_chain(cfg, ca, crl)) != 0) {
        snprintf(err, err_size, "TLS: the CA in %s%s%s is not usable: %s", files->ca_file, crl ? " or the CRL in " : "",
                 crl ? files->crl_file : "", nng_strerror(rv));
        goto done;
    }
    if ((rv = nng_tls_config_own_cert(cfg, cert, key, NULL)) != 0) {
        snprintf(err, err_size, "TLS: the certificate %s or key %s is not usable: %s", files->cert_file, key_path,
                 nng_strerror(rv));
        goto done;
    }
    if ((rv = nng_tls_config_auth_mode(cfg, NNG_TLS_AUTH_MODE_REQUIRED)) != 0 ||
        (rv = nng_tls_config_version(cfg, NNG_TLS_1_2, NNG_TLS_1_3)) != 0) {
        snprintf(err, err_size, "TLS: %s", nng_strerror(rv));
        goto done;
    }
    *out = cfg;
    cfg = NULL;
    result = GJ_OK;
done:
    if (cfg != NULL)
        nng_tls_config_free(cfg);
    /* The key's text is wiped before it is freed. */
    if (key != NULL) {
        volatile char *p = key;
        while (*p)
            *p++ = 0;
    }
    free(ca);
    free(crl);
    free(cert);
    free(key);
    return result;
}

int gj_tls_listen(nng_socket sock, const char *url, nng_tls_config *cfg, nng_listener *out)
{
    if (!gj_url_is_tls(url))
        return nng_listen(sock, url, out, 0);
    if (cfg == NULL)
        return NNG_EINVAL;
    nng_listener l;
    int rv = nng_listener_create(&l, sock, url);
    if (rv == 0 && (rv = nng_listener_set_ptr(l, NNG_OPT_TLS_CONFIG, cfg)) == 0)
        rv = nng_listener_start(l, 0);
    if (rv != 0 && nng_listener_id(l) > 0)
        nng_listener_close(l);
    if (rv == 0 && out != NULL)
        *out = l;
    return rv;
}

int gj_tls_dial(nng_socket sock, const char *url, nng_tls_config *cfg, nng_dialer *out)
{
    if (!gj_url_is_tls(url))
        return nng_dial(sock, url, out, NNG_FLAG_NONBLOCK);
    if (cfg == NULL)
        return NNG_EINVAL;
    nng_dialer d;
    int rv = nng_dialer_create(&d, sock, url);
    if (rv == 0 && (rv = nng_dialer_set_ptr(d, NNG_OPT_TLS_CONFIG, cfg)) == 0)
        rv = nng_dialer_start(d, NNG_FLAG_NONBLOCK);
    if (rv != 0 && nng_dialer_id(d) > 0)
        nng_dialer_close(d);
    if (rv == 0 && out != NULL)
        *out = d;
    return rv;
}
