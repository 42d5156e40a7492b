#include "envelope.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gj_limits.h"
#include "gj_util.h"

void gw_fail(gw_failure *f, const char *status, const char *reason, const char *fmt, ...)
{
    f->status = status;
    snprintf(f->reason, sizeof f->reason, "%s", reason);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->message, sizeof f->message, fmt, ap);
    va_end(ap);
}

/* A string field of an object, or a number written as its integer text. */
static bool field_string(const cJSON *item, char *buf, size_t size, const char **text)
{
    if (cJSON_IsString(item)) {
        *text = item->valuestring;
        return true;
    }
    if (cJSON_IsNumber(item) && item->valuedouble >= 0 && item->valuedouble < 1e15 &&
        item->valuedouble == floor(item->valuedouble)) {
        snprintf(buf, size, "%.0f", item->valuedouble);
        *text = buf;
        return true;
    }
    return false;
}

bool gw_field_text(const cJSON *block, const char *name, bool required, size_t max, char *out,
                   gw_failure *why)
{
    out[0] = '\0';
    const cJSON *item = block != NULL ? cJSON_GetObjectItemCaseSensitive(block, name) : NULL;
    if (item == NULL || cJSON_IsNull(item) || (cJSON_IsString(item) && item->valuestring[0] == '\0')) {
        if (!required)
            return true;
        gw_fail(why, "INVALID_ARGUMENT", "FIELD_MISSING", "%s is required", name);
        return false;
    }
    char num[32];
    const char *text;
    if (!field_string(item, num, sizeof num, &text)) {
        gw_fail(why, "INVALID_ARGUMENT", "FIELD_INVALID", "%s must be a string", name);
        return false;
    }
    if (strlen(text) > max) {
        gw_fail(why, "INVALID_ARGUMENT", "FIELD_INVALID", "%s is at most %zu characters", name, max);
        return false;
    }
    memcpy(out, text, strlen(text) + 1);
    return true;
}

bool gw_field_money(const cJSON *block, const char *name, bool required, int64_t *fen, gw_failure *why)
{
    *fen = 0;
    const cJSON *item = block != NULL ? cJSON_GetObjectItemCaseSensitive(block, name) : NULL;
    if (item == NULL || cJSON_IsNull(item)) {
        if (!required)
            return true;
        gw_fail(why, "INVALID_ARGUMENT", "FIELD_MISSING", "%s is required", name);
        return false;
    }
    if (cJSON_IsString(item)) {
        if (!gj_yuan_parse(item->valuestring, fen) || *fen < 0 || *fen > GJ_AMOUNT_MAX) {
            gw_fail(why, "INVALID_ARGUMENT", "AMOUNT_INVALID",
                    "%s must be yuan with at most two decimals, 0 to %lld.00", name, GJ_AMOUNT_MAX / 100);
            return false;
        }
        return true;
    }
    if (cJSON_IsNumber(item)) {
        /* A JSON number arrives as a double: taken only when it is a whole number of fen
         * (12.345 is refused, not rounded) and far inside a double's exact range. */
        double cents = item->valuedouble * 100.0;
        double whole = nearbyint(cents);
        if (isfinite(cents) && whole >= 0 && whole <= (double)GJ_AMOUNT_MAX && fabs(cents - whole) < 1e-6) {
            *fen = (int64_t)whole;
            return true;
        }
        gw_fail(why, "INVALID_ARGUMENT", "AMOUNT_INVALID",
                "%s must be yuan with at most two decimals, 0 to %lld.00", name, GJ_AMOUNT_MAX / 100);
        return false;
    }
    gw_fail(why, "INVALID_ARGUMENT", "FIELD_INVALID", "%s must be a number of yuan", name);
    return false;
}

cJSON *gw_money(int64_t fen)
{
    /* Built from text so the answer carries exactly two decimals. */
    char buf[32];
    snprintf(buf, sizeof buf, "%s%lld.%02lld", fen < 0 ? "-" : "", (long long)llabs(fen) / 100,
             (long long)llabs(fen) % 100);
    return cJSON_CreateRaw(buf);
}

static bool all_digits(const char *s, size_t len)
{
    if (strlen(s) != len)
        return false;
    for (size_t i = 0; i < len; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

int gw_request_parse(const char *body, size_t len, gw_request *r, gw_failure *why)
{
    memset(r, 0, sizeof *r);
    if (len > GW_UPLOAD_BODY_MAX) {
        gw_fail(why, "RESOURCE_EXHAUSTED", "MESSAGE_TOO_LARGE", "the body is %zu bytes; at most %d", len,
                GW_BODY_MAX);
        return -1;
    }
    if (!gj_utf8_valid((const unsigned char *)body, len)) {
        gw_fail(why, "INVALID_ARGUMENT", "NOT_UTF8", "the body is not UTF-8");
        return -1;
    }
    const char *end = NULL;
    r->root = cJSON_ParseWithLengthOpts(body, len, &end, false);
    /* Nothing but white space may follow the object. */
    while (r->root != NULL && end < body + len && (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n'))
        end++;
    if (r->root == NULL || !cJSON_IsObject(r->root) || end != body + len) {
        gw_fail(why, "INVALID_ARGUMENT", "MALFORMED_JSON", "the body is not one JSON object");
        gw_request_free(r);
        return -1;
    }
    char buf[64];
    if (!gw_field_text(r->root, "infno", true, 4, r->infno, why) ||
        !gw_field_text(r->root, "msgid", true, 30, r->msgid, why) ||
        !gw_field_text(r->root, "mdtrtarea_admvs", true, 6, r->mdtrtarea_admvs, why) ||
        !gw_field_text(r->root, "insuplc_admdvs", false, 6, r->insuplc_admdvs, why) ||
        !gw_field_text(r->root, "fixmedins_code", true, 32, r->fixmedins_code, why) ||
        !gw_field_text(r->root, "opter", true, 30, r->opter, why) ||
        !gw_field_text(r->root, "opter_type", true, 3, r->opter_type, why) ||
        !gw_field_text(r->root, "opter_name", true, 50, buf, why) ||
        !gw_field_text(r->root, "sign_no", false, 30, r->sign_no, why)) {
        gw_request_free(r);
        return -1;
    }
    if (len > GW_BODY_MAX && strcmp(r->infno, "9101") != 0) {
        gw_fail(why, "RESOURCE_EXHAUSTED", "MESSAGE_TOO_LARGE", "the body is %zu bytes; at most %d (but a 9101 upload)",
                len, GW_BODY_MAX);
    } else if (!all_digits(r->infno, 4)) {
        gw_fail(why, "INVALID_ARGUMENT", "FIELD_INVALID", "infno must be 4 digits");
    } else if (!all_digits(r->mdtrtarea_admvs, 6) || (r->insuplc_admdvs[0] && !all_digits(r->insuplc_admdvs, 6))) {
        gw_fail(why, "INVALID_ARGUMENT", "FIELD_INVALID", "mdtrtarea_admvs and insuplc_admdvs are 6-digit region codes");
    } else if ((r->input = cJSON_GetObjectItemCaseSensitive(r->root, "input")) == NULL || !cJSON_IsObject(r->input)) {
        gw_fail(why, "INVALID_ARGUMENT", r->input == NULL ? "FIELD_MISSING" : "FIELD_INVALID",
                "input must be an object");
    } else {
        return 0;
    }
    gw_request_free(r);
    return -1;
}

void gw_request_free(gw_request *r)
{
    cJSON_Delete(r->root);
    r->root = NULL;
    r->input = NULL;
}

/* The rule or failure in Chinese, for the reasons an institution meets. */
static const struct {
    const char *reason, *zh;
} chinese[] = {
    {"INSUFFICIENT_BALANCE", "个人账户余额不足"},
    {"PERSON_NOT_FOUND", "未找到该参保人员"},
    {"PERSON_NOT_LOCAL", "该人员不属于本统筹区"},
    {"PERSON_MOVED", "该人员已转出至其他统筹区"},
    {"SPONSOR_CHOICE_NOT_ALLOWED", "本统筹区不支持指定共济人"},
    {"SPONSOR_NOT_IN_ORDER", "指定的共济人未与该人员绑定"},
    {"VERIFICATION_REQUIRED", "被共济人需先完成人脸等身份认证"},
    {"VERIFICATION_INVALID", "身份认证信息无效或已过期"},
    {"YEARLY_LIMIT_REACHED", "共济人本年度绑定人数已达上限"},
    {"BENEFICIARY_NOT_ACTIVE", "被共济人未正常参保"},
    {"SPONSOR_NOT_ACTIVE", "共济人未正常参保"},
    {"SPONSOR_NOT_EMPLOYEE", "共济人须为职工医保参保人"},
    {"USE_NOT_ALLOWED", "本统筹区不允许该医疗类别使用共济"},
    {"USE_INVALID", "医疗类别无效"},
    {"REGION_NOT_LIVE", "本统筹区未开通家庭共济"},
    {"CROSS_PROVINCE_NOT_IN_PILOT", "跨省共济须双方均为试点地区"},
    {"SETTLEMENT_NOT_FOUND", "未找到该结算记录"},
    {"ALREADY_REVOKED", "该结算已撤销"},
    {"SETTLEMENT_IN_FLIGHT", "该结算正在处理中，请稍后重试"},
    {"REVOKE_WINDOW_PASSED", "已超过允许撤销的期限"},
    {"CALL_REVERSED", "该交易已冲正"},
    {"NOT_REVERSIBLE", "该交易不可冲正"},
    {"CALL_ID_REUSED", "报文ID已用于其他交易"},
    {"BINDING_EXISTS", "该共济关系已存在"},
    {"REBIND_TOO_SOON", "解除绑定后须次日方可重新绑定"},
    {"UNBIND_TOO_SOON", "绑定未满本统筹区规定期限，暂不能解除"},
    {"BINDING_DATE_INVALID", "绑定截止日期须为当日或以后"},
    {"AMOUNT_INVALID", "金额无效"},
    {"FIELD_MISSING", "缺少必填字段"},
    {"FIELD_INVALID", "字段格式错误"},
    {"MALFORMED_JSON", "报文不是合法的JSON对象"},
    {"NOT_UTF8", "报文不是UTF-8编码"},
    {"MESSAGE_TOO_LARGE", "报文过长"},
    {"FILE_NOT_FOUND", "文件不存在或已过下载期限"},
    {"FILE_INVALID", "文件无法解析"},
    {"FILE_TOO_LARGE", "文件过大"},
    {"FILES_FULL", "文件存储已满，请稍后重试"},
    {"DETAIL_INVALID", "对账明细文件格式错误"},
    {"DETAIL_TOO_LONG", "对账明细过多，请缩短对账期间"},
    {"UNKNOWN_INFNO", "不支持的交易编号"},
    {"INSTITUTION_MISMATCH", "定点医药机构编号与认证身份不符"},
    {"SIGNATURE_MISSING", "缺少签名信息"},
    {"SIGNATURE_MALFORMED", "签名信息格式错误"},
    {"SIGNATURE_INVALID", "签名校验失败"},
    {"TIMESTAMP_STALE", "时间戳超出允许范围"},
    {"NONCE_REUSED", "随机数重复使用"},
    {"NONCE_STORE_FULL", "请求过多，请稍后重试"},
    {"PAASID_UNKNOWN", "未知的接入账号"},
    {"OVERLOADED", "系统繁忙，请稍后重试"},
    {"NO_ANSWER", "医保节点无应答，请稍后重试或冲正"},
    {"REGION_UNREACHABLE", "参保地节点无法连接"},
    {"REGION_NOT_ANSWERING", "参保地节点无应答"},
    {"DEADLINE_PASSED", "处理超时"},
    {"SHUTTING_DOWN", "服务正在停止，请稍后重试"},
};

void gw_error_message(const gw_failure *f, char *out, size_t size)
{
    const char *zh = NULL;
    for (size_t i = 0; i < sizeof chinese / sizeof chinese[0]; i++)
        if (strcmp(chinese[i].reason, f->reason) == 0)
            zh = chinese[i].zh;
    snprintf(out, size, "%s%s%s [%s, %s]", zh ? zh : "", zh ? " / " : "", f->message, f->reason, f->status);
}

void gw_local_time(int64_t unix_s, char out[20])
{
    char buf[64];
    time_t secs = (time_t)unix_s + 8 * 3600; /* China Standard Time */
    struct tm tm;
    gmtime_r(&secs, &tm);
    snprintf(buf, sizeof buf, "%04d-%02d-%02d %02d:%02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
             tm.tm_hour, tm.tm_min, tm.tm_sec);
    memcpy(out, buf, 19);
    out[19] = '\0';
}

static void stamp(char out[18], int64_t unix_ms)
{
    char buf[64];
    time_t secs = (time_t)(unix_ms / 1000) + 8 * 3600; /* China Standard Time */
    struct tm tm;
    gmtime_r(&secs, &tm);
    snprintf(buf, sizeof buf, "%04d%02d%02d%02d%02d%02d%03d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
             tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(unix_ms % 1000));
    memcpy(out, buf, 17);
    out[17] = '\0';
}

char *gw_answer_text(const gw_request *r, cJSON *output, const gw_failure *failure, int64_t received_ms,
                     const char *region)
{
    static _Atomic unsigned long serial;
    cJSON *a = cJSON_CreateObject();
    if (a == NULL) {
        cJSON_Delete(output);
        return NULL;
    }
    char recv[18], resp[18], ref[40], err[700] = "";
    stamp(recv, received_ms);
    stamp(resp, gj_now_unix_ms());
    snprintf(ref, sizeof ref, "%.6s%.14s%010lu", region, resp, (unsigned long)(++serial % 10000000000UL));
    if (failure != NULL)
        gw_error_message(failure, err, sizeof err);
    cJSON_AddNumberToObject(a, "infcode", failure == NULL ? 0 : -1);
    cJSON_AddStringToObject(a, "inf_refmsgid", ref);
    cJSON_AddStringToObject(a, "refmsg_time", recv);
    cJSON_AddStringToObject(a, "respond_time", resp);
    cJSON_AddStringToObject(a, "err_msg", err);
    cJSON_AddStringToObject(a, "warn_msg", "");
    cJSON_AddStringToObject(a, "cainfo", "");
    cJSON_AddStringToObject(a, "signtype", "");
    /* Stable machine fields beside the national ones: what a program should match on. */
    cJSON_AddStringToObject(a, "gongji_status", failure == NULL ? "OK" : failure->status);
    cJSON_AddStringToObject(a, "gongji_reason", failure == NULL ? "" : failure->reason);
    if (r != NULL && r->msgid[0])
        cJSON_AddStringToObject(a, "msgid", r->msgid);
    if (output != NULL)
        cJSON_AddItemToObject(a, "output", output);
    else
        cJSON_AddItemToObject(a, "output", cJSON_CreateObject());
    char *text = cJSON_PrintUnformatted(a);
    cJSON_Delete(a);
    return text;
}
