/* National 3202 对明细账, as the platform does it with files:
 *   9101 upload: the HIS sends its detail file (a zip of one tab-separated .txt, one line
 *        per settlement) and gets a file_qury_no;
 *   3202: names that file and the window; the gateway lists gongji's settlements of the
 *        window (Settlement/InstitutionSettlements, page by page), compares line by
 *        line, and keeps a result file;
 *   9102 download: the result, a zip holding result.txt.
 * gongji knows the account side of each settlement: the result compares acct_pay (the
 * patient's own account plus family members') and whether it was revoked. */
#include "gateway.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "detail.h"
#include "gj_util.h"
#include "gongji.pb-c.h"
#include "textbuf.h"
#include "zipfile.h"

static void add_text(cJSON *o, const char *name, const char *value)
{
    cJSON_AddStringToObject(o, name, value != NULL ? value : "");
}

/* input.fsUploadIn.in: the file's bytes, as Base64 text (what Java and .NET JSON
 * libraries write for byte[]) or as an array of numbers 0..255. */
static unsigned char *upload_bytes(const cJSON *in, size_t *len, gw_failure *why)
{
    if (cJSON_IsString(in)) {
        size_t text = strlen(in->valuestring);
        if (text > GW_UPLOAD_MAX / 3 * 4 + 4)
            goto too_large;
        unsigned char *out = malloc(text / 4 * 3 + 3);
        int n = out != NULL ? EVP_DecodeBlock(out, (const unsigned char *)in->valuestring, (int)text) : -1;
        if (n < 0 || text % 4 != 0) {
            free(out);
            gw_fail(why, "INVALID_ARGUMENT", "FIELD_INVALID", "fsUploadIn.in must be Base64 or an array of bytes");
            return NULL;
        }
        /* EVP_DecodeBlock counts the padding as zero bytes. */
        for (size_t i = text; i > 0 && in->valuestring[i - 1] == '=' && n > 0; i--)
            n--;
        *len = (size_t)n;
        return out;
    }
    if (cJSON_IsArray(in)) {
        int count = cJSON_GetArraySize(in);
        if (count > GW_UPLOAD_MAX)
            goto too_large;
        unsigned char *out = malloc((size_t)count + 1);
        size_t i = 0;
        const cJSON *b;
        cJSON_ArrayForEach(b, in)
        {
            if (out == NULL || !cJSON_IsNumber(b) || b->valuedouble < 0 || b->valuedouble > 255 ||
                b->valuedouble != (double)(int)b->valuedouble) {
                free(out);
                gw_fail(why, "INVALID_ARGUMENT", "FIELD_INVALID", "fsUploadIn.in byte %zu is not 0..255", i);
                return NULL;
            }
            out[i++] = (unsigned char)b->valueint;
        }
        *len = i;
        return out;
    }
    gw_fail(why, "INVALID_ARGUMENT", in == NULL ? "FIELD_MISSING" : "FIELD_INVALID",
            "fsUploadIn.in (the file's bytes, Base64 or an array) is required");
    return NULL;
too_large:
    gw_fail(why, "RESOURCE_EXHAUSTED", "FILE_TOO_LARGE", "an uploaded file is at most %d bytes", GW_UPLOAD_MAX);
    return NULL;
}

static const cJSON *file_block(const gw_request *r, const char *name, char code[GJ_INSTITUTION_MAX + 1],
                               const gw_institution *in, gw_failure *why)
{
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(r->input, name);
    if (!cJSON_IsObject(b)) {
        gw_fail(why, "INVALID_ARGUMENT", b == NULL ? "FIELD_MISSING" : "FIELD_INVALID", "input.%s must be an object",
                name);
        return NULL;
    }
    if (!gw_field_text(b, "fixmedins_code", false, GJ_INSTITUTION_MAX, code, why))
        return NULL;
    if (code[0] != '\0' && strcmp(code, in->cfg->code) != 0) {
        gw_fail(why, "PERMISSION_DENIED", "INSTITUTION_MISMATCH", "%s.fixmedins_code is not this institution", name);
        return NULL;
    }
    return b;
}

/* 9101: keep the file; answer its file_qury_no and download deadline. */
static cJSON *upload(gateway *g, gw_institution *in, const gw_request *r, gw_failure *why)
{
    char code[GJ_INSTITUTION_MAX + 1], name[GW_FILE_NAME_MAX + 1];
    const cJSON *b = file_block(r, "fsUploadIn", code, in, why);
    if (b == NULL || !gw_field_text(b, "filename", true, GW_FILE_NAME_MAX, name, why))
        return NULL;
    size_t len;
    unsigned char *bytes = upload_bytes(cJSON_GetObjectItemCaseSensitive(b, "in"), &len, why);
    if (bytes == NULL)
        return NULL;
    char id[GW_FILE_ID_LEN + 1], until[20];
    int64_t expires;
    if (gw_files_put(&g->files, in->cfg->code, name, bytes, len, time(NULL), id, &expires, why) != 0)
        return NULL;
    gw_local_time(expires, until);
    cJSON *out = cJSON_CreateObject();
    add_text(out, "file_qury_no", id);
    add_text(out, "filename", name);
    add_text(out, "dld_endtime", until);
    return out;
}

/* 9102: the file itself (the HTTP answer is the zip, not an envelope). */
static cJSON *download(gateway *g, gw_institution *in, const gw_request *r, gw_file_answer *file, gw_failure *why)
{
    char code[GJ_INSTITUTION_MAX + 1], id[GW_FILE_ID_LEN + 1], name[GW_FILE_NAME_MAX + 1];
    const cJSON *b = file_block(r, "fsDownloadIn", code, in, why);
    if (b == NULL || !gw_field_text(b, "file_qury_no", true, GW_FILE_ID_LEN, id, why) ||
        !gw_field_text(b, "filename", false, GW_FILE_NAME_MAX, name, why))
        return NULL;
    if (gw_files_get(&g->files, in->cfg->code, id, time(NULL), &file->data, &file->len, file->name, why) != 0)
        return NULL;
    return cJSON_CreateObject();
}

/* gongji's settlements of the institution in the window, every page. */
static int list_ours(gateway *g, gw_institution *in, const char *region, int32_t from, int32_t to, gw_detail *d,
                     gw_failure *why)
{
    char token[GJ_SETL_ID_MAX + 1] = "";
    for (unsigned page = 0; page <= GW_DETAIL_ROWS_MAX / GJ_STATEMENT_PAGE_MAX + 1; page++) {
        Gongji__V1__InstitutionSettlementsRequest req = GONGJI__V1__INSTITUTION_SETTLEMENTS_REQUEST__INIT;
        req.fixmedins_code = (char *)in->cfg->code;
        req.setl_admdvs = (char *)region;
        req.from_date = from;
        req.to_date = to;
        req.page_size = GJ_STATEMENT_PAGE_MAX;
        req.page_token = token;
        Gongji__V1__InstitutionSettlementsReply *a = (Gongji__V1__InstitutionSettlementsReply *)gw_node_call(
            g, in, NULL, "gongji.v1.Settlement/InstitutionSettlements", NULL, region, &req.base,
            &gongji__v1__institution_settlements_reply__descriptor, why);
        if (a == NULL)
            return -1;
        for (size_t i = 0; i < a->n_settlements; i++) {
            const Gongji__V1__InstitutionSettlement *s = a->settlements[i];
            gw_detail_row *r = gw_detail_add(d, why);
            if (r == NULL) {
                gongji__v1__institution_settlements_reply__free_unpacked(a, NULL);
                return -1;
            }
            snprintf(r->setl_id, sizeof r->setl_id, "%s", s->setl_id);
            snprintf(r->psn_no, sizeof r->psn_no, "%s", s->psn_no);
            snprintf(r->msgid, sizeof r->msgid, "%s", s->msgid);
            r->acct_pay = s->acct_pay + s->acct_mulaid_pay;
            r->refund = s->revoked;
        }
        bool last = a->next_page_token == NULL || a->next_page_token[0] == '\0' ||
                    !gj_strcpy_fit(token, sizeof token, a->next_page_token);
        gongji__v1__institution_settlements_reply__free_unpacked(a, NULL);
        if (last)
            return 0;
    }
    gw_fail(why, "RESOURCE_EXHAUSTED", "DETAIL_TOO_LONG", "the node's pages did not end");
    return -1;
}

/* 3202: compare the uploaded file with gongji's settlements; keep the result file. */
static cJSON *detail_statement(gateway *g, gw_institution *in, const gw_request *r, gw_failure *why)
{
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(r->input, "data");
    char optins[8], id[GW_FILE_ID_LEN + 1], begin[12], end[12], count_text[16];
    if (!cJSON_IsObject(d)) {
        gw_fail(why, "INVALID_ARGUMENT", d == NULL ? "FIELD_MISSING" : "FIELD_INVALID", "input.data must be an object");
        return NULL;
    }
    if (!gw_field_text(d, "setl_optins", true, 6, optins, why) ||
        !gw_field_text(d, "file_qury_no", true, GW_FILE_ID_LEN, id, why) ||
        !gw_field_text(d, "stmt_begndate", true, 10, begin, why) || !gw_field_text(d, "stmt_enddate", true, 10, end, why) ||
        !gw_field_text(d, "fixmedins_setl_cnt", false, 10, count_text, why))
        return NULL;
    int32_t from = gw_date_of(begin), to = gw_date_of(end);
    if (from == 0 || to == 0 || (count_text[0] && !gj_all_digits(count_text, strlen(count_text)))) {
        gw_fail(why, "INVALID_ARGUMENT", "FIELD_INVALID",
                "stmt_begndate and stmt_enddate are yyyy-MM-dd; fixmedins_setl_cnt a number");
        return NULL;
    }
    unsigned char *zip;
    size_t zip_len, text_len;
    char name[GW_FILE_NAME_MAX + 1], *text;
    if (gw_files_get(&g->files, in->cfg->code, id, time(NULL), &zip, &zip_len, name, why) != 0)
        return NULL;
    int rc = gw_zip_first_text(zip, zip_len, GW_DETAIL_TEXT_MAX, &text, &text_len, why);
    free(zip);
    if (rc != 0)
        return NULL;
    gw_detail theirs = {0}, ours = {0};
    text_buf res = {0};
    cJSON *out = NULL;
    if (gw_detail_parse(text, &theirs, why) != 0)
        goto done;
    if (count_text[0] != '\0' && strtoull(count_text, NULL, 10) != theirs.count) {
        gw_fail(why, "INVALID_ARGUMENT", "DETAIL_INVALID", "fixmedins_setl_cnt is %s; the file has %zu lines",
                count_text, theirs.count);
        goto done;
    }
    if (list_ours(g, in, optins, from, to, &ours, why) != 0)
        goto done;
    unsigned counts[GW_DETAIL_RESULTS] = {0};
    unsigned char *result_zip = NULL;
    size_t result_len;
    if (gw_detail_compare(&theirs, &ours, &res, counts) != 0) {
        gw_fail(why, "RESOURCE_EXHAUSTED", "OUT_OF_MEMORY", "cannot write the result");
        goto done;
    }
    if (gw_zip_one("result.txt", res.s ? res.s : "", res.len, &result_zip, &result_len, why) != 0)
        goto done;
    char result_id[GW_FILE_ID_LEN + 1], until[20], result_name[GW_FILE_NAME_MAX + 1];
    int64_t expires;
    snprintf(result_name, sizeof result_name, "%.60s-result.zip", id);
    if (gw_files_put(&g->files, in->cfg->code, result_name, result_zip, result_len, time(NULL), result_id, &expires,
                     why) != 0)
        goto done;
    gw_local_time(expires, until);
    out = cJSON_CreateObject();
    cJSON *f = cJSON_AddObjectToObject(out, "fileinfo");
    add_text(f, "file_qury_no", result_id);
    add_text(f, "filename", result_name);
    add_text(f, "dld_endtime", until);
    cJSON *s = cJSON_AddObjectToObject(out, "gongji_counts");
    const char *names[GW_DETAIL_RESULTS] = {"balanced", "gongji_more", "institution_more", "differ"};
    for (int k = 0; k < GW_DETAIL_RESULTS; k++)
        cJSON_AddNumberToObject(s, names[k], counts[k]);
done:
    free(text);
    gw_detail_free(&theirs);
    gw_detail_free(&ours);
    free(res.s);
    return out;
}

bool gw_file_code(const char *infno)
{
    return !strcmp(infno, "9101") || !strcmp(infno, "9102") || !strcmp(infno, "3202");
}

cJSON *gw_file_transaction(gateway *g, gw_institution *in, const gw_request *r, gw_file_answer *file,
                           gw_failure *why)
{
    if (!strcmp(r->infno, "9101"))
        return upload(g, in, r, why);
    if (!strcmp(r->infno, "9102"))
        return download(g, in, r, file, why);
    return detail_statement(g, in, r, why);
}
