/* TLS on gongji's links (nng's tls+tcp://, mbedTLS underneath): every listener demands a
 * client certificate from the federation CA, every dialer checks the server's. This
 * proves "a member of the federation" on each link and encrypts it; which member is
 * proven per request by sessions (trust/session.h), because nng 1.5.2 does not tell
 * the application the peer certificate's name.
 *
 * The CRL given here is read once, when the configuration is made: a revoked member
 * keeps TLS links it already had until they drop, but its sessions end as soon as the
 * node reloads the CRL (docs/security.md). */
#ifndef GJ_TRUST_TLS_H
#define GJ_TRUST_TLS_H

#include <stdbool.h>
#include <nng/nng.h>
#include <nng/supplemental/tls/tls.h>

#include "credential.h"

/* Whether url asks for TLS ("tls+tcp://", "tls+tcp4://", "tls+tcp6://"). */
bool gj_url_is_tls(const char *url);

/* A TLS configuration for a listener (server = true) or a dialer from the credential's
 * files: CA (+ CRL) to check the other side, our certificate and key to show it.
 * Peer authentication is REQUIRED both ways. Errors: GJ_ERR_IO / GJ_ERR_INVAL with err. */
gj_err gj_tls_config_make(nng_tls_config **out, bool server, const gj_cred_files *files, char *err,
                          size_t err_size);

/* Listen on / dial url with cfg when url is tls+tcp (cfg must then not be NULL), plainly
 * otherwise. Dialing does not block. Returns 0 or an nng error. */
int gj_tls_listen(nng_socket sock, const char *url, nng_tls_config *cfg, nng_listener *out);
int gj_tls_dial(nng_socket sock, const char *url, nng_tls_config *cfg, nng_dialer *out);

#endif
