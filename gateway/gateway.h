/* gongji-gateway: the national HTTP/JSON interface in front of a gongji node.
 *
 * Data path: http.c takes a POST on one of its worker threads, which checks the x-tif-* signature
 * (signature.c) and finds the institution it names (institutions.c), parses the
 * envelope (envelope.c), runs the transaction (transactions.c) as a gongji call over
 * the institution's own credential, and answers the envelope. */
#ifndef GW_GATEWAY_H
#define GW_GATEWAY_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "client.h"
#include "config.h"
#include "credential.h"
#include "detail.h"
#include "envelope.h"
#include "files.h"
#include "metrics.h"
#include "signature.h"

/* An institution the gateway serves: its credential, and connections to the node made
 * with it (one per worker at most, opened when first needed). */
typedef struct gw_institution {
    const gw_institution_config *cfg;
    gj_cred *cred;
    pthread_mutex_t mu;
    client_t **idle;      /* connections not in use */
    unsigned idle_count;
} gw_institution;

typedef struct gateway {
    gw_config cfg;
    gw_institution institutions[GW_INSTITUTIONS_MAX];
    size_t institution_count;
    gw_nonces nonces;
    gw_files files;          /* 9101 uploads and 3202 results, until their deadlines */
    atomic_bool stopping;
    atomic_ulong served, refused;
    gw_metrics metrics;
} gateway;

/* Load every institution's credential; -1 with err on the first that fails. */
int gw_institutions_open(gateway *g, char *err, size_t err_size);
void gw_institutions_close(gateway *g);
/* The institution a paasid belongs to, or NULL. */
gw_institution *gw_institution_by_paasid(gateway *g, const char *paasid);
/* The institution (or platform) with this code, or NULL. */
gw_institution *gw_institution_by_code(gateway *g, const char *code);
/* A connection to the node as this institution (NULL when none can be made), and
 * giving it back. */
client_t *gw_institution_borrow(gateway *g, gw_institution *in);
void gw_institution_return(gw_institution *in, client_t *c);

/* What one HTTP request asked and what the gateway answers. */
typedef struct gw_http_request {
    const char *uri;
    const char *body;
    size_t body_len;
    const char *paasid, *timestamp, *nonce, *signature;
    /* HTTPS with a client certificate of the federation CA: the institution (or
     * platform) it names, checked against the CA and CRL; NULL without one. */
    const char *cert_id;
    bool cert_platform;  /* the certificate is a platform's, not an institution's */
} gw_http_request;

typedef struct gw_http_answer {
    int status;     /* HTTP status */
    char *body;     /* malloc'd: the JSON envelope, or a file's bytes */
    size_t body_len;
    bool is_file;   /* application/octet-stream (9102), not JSON */
} gw_http_answer;

/* A file a transaction answers with instead of an envelope (9102 download). */
typedef struct gw_file_answer {
    unsigned char *data;  /* malloc'd; NULL when the answer is an envelope */
    size_t len;
    char name[GW_FILE_NAME_MAX + 1];
} gw_file_answer;

/* Handle one POST (runs on a worker). */
void gw_handle(gateway *g, const gw_http_request *req, gw_http_answer *ans);

/* Run one transaction for an authenticated institution: output on success (the caller
 * owns it; a 9102 answers with file filled in), or NULL with why. */
cJSON *gw_transaction(gateway *g, gw_institution *in, const gw_request *r, gw_file_answer *file, gw_failure *why);

/* One call to the node as in (an institution), or as the person psn_no whom in (a
 * platform) speaks for; NULL with why unless answered OK. */
ProtobufCMessage *gw_node_call(gateway *g, gw_institution *in, const char *person, const char *method,
                               const char *call_id, const char *dest_region, const ProtobufCMessage *req,
                               const ProtobufCMessageDescriptor *desc, gw_failure *why);

/* yyyy-MM-dd (or yyyymmdd) as yyyymmdd; 0 when it is not a valid date. */
int32_t gw_date_of(const char *text);

/* gongji's own codes, which the national list does not have (family.c): bindings,
 * deduction orders and records, called by a platform for its signed-in persons. */
bool gw_family_code(const char *infno);

/* Detail reconciliation with files (reconcile.c): 9101 upload, 3202, 9102 download.
 * An uploaded file is at most GW_UPLOAD_MAX bytes and unpacks to at most
 * GW_DETAIL_TEXT_MAX; one reconciliation compares at most GW_DETAIL_ROWS_MAX
 * settlements on each side (detail.h). */
#define GW_UPLOAD_MAX (3 * 1024 * 1024)
#define GW_DETAIL_TEXT_MAX (32 * 1024 * 1024)
bool gw_file_code(const char *infno);
cJSON *gw_file_transaction(gateway *g, gw_institution *in, const gw_request *r, gw_file_answer *file,
                           gw_failure *why);
cJSON *gw_family_transaction(gateway *g, gw_institution *in, const gw_request *r, gw_failure *why);

#endif
