/* One HTTP request: who is calling (x-tif-* signature), what they ask (the envelope),
 * and the answer. Every refusal is an envelope with infcode -1; HTTP 401 when the
 * caller is not proven, 200 otherwise (the national interface's convention: business
 * failures travel inside a 200). */
#include "gateway.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gj_util.h"
#include "log.h"

static void answer(gw_http_answer *ans, int status, const gw_request *r, cJSON *output, const gw_failure *why,
                   int64_t received_ms, const char *region)
{
    ans->status = status;
    ans->body = gw_answer_text(r, output, why, received_ms, region);
}

/* The transaction code of a URL ending in /NNNN (the Guangdong style, .../hsa/hgs/2207),
 * or "" for a URL naming none (one endpoint for every transaction). */
static void infno_of_uri(const char *uri, char out[5])
{
    out[0] = '\0';
    const char *q = strchr(uri, '?');
    size_t len = q != NULL ? (size_t)(q - uri) : strlen(uri);
    if (len >= 5 && uri[len - 5] == '/' && gj_all_digits(uri + len - 4, 4)) {
        memcpy(out, uri + len - 4, 4);
        out[4] = '\0';
    }
}

void gw_handle(gateway *g, const gw_http_request *req, gw_http_answer *ans)
{
    int64_t received = gj_now_unix_ms();
    gw_failure why;
    gw_institution *in = NULL;
    const char *paasid = req->paasid != NULL ? req->paasid : "";

    gw_sig_result sig = GW_SIG_MISSING;
    if (paasid[0] == '\0' && req->cert_id != NULL) {
        /* A client certificate of the federation: the TLS handshake proved the key. */
        if ((in = gw_institution_by_code(g, req->cert_id)) != NULL && in->cfg->platform == req->cert_platform)
            sig = GW_SIG_OK;
        else
            gw_fail(&why, "UNAUTHENTICATED", "CREDENTIAL_REFUSED",
                    "the client certificate names %s, not an institution of this gateway", req->cert_id);
    } else if (paasid[0] != '\0' && (in = gw_institution_by_paasid(g, paasid)) == NULL) {
        gw_fail(&why, "UNAUTHENTICATED", "PAASID_UNKNOWN", "x-tif-paasid names no institution of this gateway");
        sig = GW_SIG_MISMATCH;
    } else if (in != NULL) {
        sig = gw_signature_check(&g->nonces, paasid, in->cfg->token, req->timestamp, req->nonce, req->signature,
                                 received / 1000, g->cfg.clock_skew_s);
        if (sig != GW_SIG_OK)
            gw_fail(&why, sig == GW_SIG_NONCE_FULL ? "RESOURCE_EXHAUSTED" : "UNAUTHENTICATED",
                    gw_sig_result_name(sig), "the x-tif-* signature headers were not accepted (%s)",
                    gw_sig_result_name(sig));
    } else if (req->cert_id == NULL) {
        gw_fail(&why, "UNAUTHENTICATED", "SIGNATURE_MISSING",
                "no credentials: sign with x-tif-paasid, x-tif-timestamp, x-tif-nonce and x-tif-signature, "
                "or present a client certificate over HTTPS");
    }
    if (sig != GW_SIG_OK) {
        atomic_fetch_add(&g->refused, 1);
        gj_log(GJ_LOG_WARN, "refused", "paasid=%.32s reason=%s", paasid[0] ? paasid : "-", why.reason);
        atomic_fetch_add(&g->metrics.refused_callers, 1);
        answer(ans, sig == GW_SIG_NONCE_FULL ? 503 : 401, NULL, NULL, &why, received, g->cfg.region);
        return;
    }

    gw_request r;
    if (gw_request_parse(req->body, req->body_len, &r, &why) != 0) {
        gj_log(GJ_LOG_INFO, "refused", "institution=%s reason=%s", in->cfg->code, why.reason);
        gw_metrics_record(&g->metrics, "", why.status, gj_now_unix_ms() * 1000 - received * 1000);
        answer(ans, 200, NULL, NULL, &why, received, g->cfg.region);
        return;
    }
    char uri_infno[5];
    infno_of_uri(req->uri, uri_infno);
    cJSON *output = NULL;
    gw_file_answer file = {0};
    if (uri_infno[0] != '\0' && strcmp(uri_infno, r.infno) != 0) {
        gw_fail(&why, "INVALID_ARGUMENT", "FIELD_INVALID", "the URL names transaction %s, the body %s", uri_infno,
                r.infno);
    } else if (in->cfg->platform != gw_family_code(r.infno)) {
        gw_fail(&why, "PERMISSION_DENIED", "CALLER_NOT_ALLOWED",
                in->cfg->platform ? "a platform calls only gongji's own codes (95xx) for its persons"
                                  : "transaction %s is for the persons' platform, not an institution",
                r.infno);
    } else if (!in->cfg->platform && strcmp(r.fixmedins_code, in->cfg->code) != 0) {
        /* The gateway, not the caller, says which institution this is. */
        gw_fail(&why, "PERMISSION_DENIED", "INSTITUTION_MISMATCH",
                "fixmedins_code %s is not the institution the signature proves (%s)", r.fixmedins_code,
                in->cfg->code);
    } else {
        output = gw_transaction(g, in, &r, &file, &why);
    }
    int64_t took = gj_now_unix_ms() - received;
    if (output != NULL)
        gj_log(GJ_LOG_INFO, "served", "infno=%s institution=%s ms=%lld", r.infno, in->cfg->code, (long long)took);
    else
        gj_log(GJ_LOG_INFO, "failed", "infno=%s institution=%s reason=%s status=%s ms=%lld", r.infno,
               in->cfg->code, why.reason, why.status, (long long)took);
    atomic_fetch_add(&g->served, 1);
    gw_metrics_record(&g->metrics, r.infno, output != NULL ? "OK" : why.status, took * 1000);
    if (output != NULL && file.data != NULL) { /* 9102: the file is the answer */
        cJSON_Delete(output);
        ans->status = 200;
        ans->body = (char *)file.data;
        ans->body_len = file.len;
        ans->is_file = true;
    } else {
        answer(ans, 200, &r, output, output != NULL ? NULL : &why, received, g->cfg.region);
    }
    gw_request_free(&r);
}
