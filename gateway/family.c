/* gongji's own transaction codes, for what the national list does not have: a family's
 * bindings, its deduction order and a patient's settlement records. They are called by
 * a platform (the app a person signed in to) for that person, never by an institution:
 * the node checks that the person acts on their own bindings and records (R3).
 *
 *   9501 bind      data: psn_no (the sponsor, acting), beneficiary_psn_no, relation
 *                  (spouse, parent, child, ...), sponsor_admdvs, beneficiary_admdvs,
 *                  enddate (yyyy-MM-dd, optional: the last day it pays), verify_method
 *                  and verify_time (yyyy-MM-dd HH:mm:ss: the platform's identity check of
 *                  the beneficiary, where the region asks for one: R18)
 *   9502 unbind    data: psn_no (sponsor or beneficiary, acting), sponsor_psn_no,
 *                  beneficiary_psn_no, sponsor_admdvs
 *   9503 order     data: psn_no (the beneficiary, acting), sponsors: [psn_no, ...]
 *   9504 bindings  data: psn_no
 *   9505 records   data: psn_no (the patient), begndate, enddate (yyyy-MM-dd, optional),
 *                  page_token */
#include "gateway.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gj_names.h"
#include "gj_util.h"
#include "gongji.pb-c.h"

bool gw_family_code(const char *infno)
{
    return infno != NULL && strncmp(infno, "950", 3) == 0 && infno[3] >= '1' && infno[3] <= '5' && infno[4] == '\0';
}

static void add_text(cJSON *o, const char *name, const char *value)
{
    cJSON_AddStringToObject(o, name, value != NULL ? value : "");
}

static cJSON *binding_json(const Gongji__V1__Binding *b)
{
    cJSON *o = cJSON_CreateObject();
    add_text(o, "sponsor_psn_no", b->sponsor_psn_no);
    add_text(o, "sponsor_admdvs", b->sponsor_admdvs);
    add_text(o, "beneficiary_psn_no", b->beneficiary_psn_no);
    add_text(o, "beneficiary_admdvs", b->beneficiary_admdvs);
    add_text(o, "relation", gj_relation_name(b->relation));
    cJSON_AddNumberToObject(o, "begin_date", b->begin_date);
    cJSON_AddNumberToObject(o, "end_date", b->end_date);
    cJSON_AddBoolToObject(o, "active", b->active);
    if (b->verified_by != NULL && b->verified_by[0] != '\0') {
        char when[20];
        add_text(o, "verified_by", b->verified_by);
        gw_local_time(b->verified_unix_ms / 1000, when);
        add_text(o, "verify_time", when);
    }
    return o;
}

/* A date field, yyyy-MM-dd; "" or absent is 0 (open). */
static bool date_field(const cJSON *d, const char *name, int32_t *out, gw_failure *why)
{
    char text[16];
    if (!gw_field_text(d, name, false, 10, text, why))
        return false;
    *out = text[0] != '\0' ? gw_date_of(text) : 0;
    if (text[0] != '\0' && *out == 0) {
        gw_fail(why, "INVALID_ARGUMENT", "FIELD_INVALID", "%s must be a date, yyyy-MM-dd", name);
        return false;
    }
    return true;
}

static cJSON *bind(gateway *g, gw_institution *in, const gw_request *r, const cJSON *d, const char *who,
                   gw_failure *why)
{
    char beneficiary[GJ_PSN_NO_MAX + 1], relation[32], s_region[8], b_region[8], end[12], method[16], when[20];
    if (!gw_field_text(d, "beneficiary_psn_no", true, GJ_PSN_NO_MAX, beneficiary, why) ||
        !gw_field_text(d, "relation", true, 30, relation, why) ||
        !gw_field_text(d, "sponsor_admdvs", false, 6, s_region, why) ||
        !gw_field_text(d, "beneficiary_admdvs", false, 6, b_region, why) ||
        !gw_field_text(d, "enddate", false, 10, end, why) ||
        !gw_field_text(d, "verify_method", false, 15, method, why) ||
        !gw_field_text(d, "verify_time", false, 19, when, why))
        return NULL;
    Gongji__V1__Verification verification = GONGJI__V1__VERIFICATION__INIT;
    int hh, mi, ss;
    char tail;
    if (method[0] != '\0') {
        char date_part[11];
        snprintf(date_part, sizeof date_part, "%.10s", when);
        int32_t day = strlen(when) == 19 ? gw_date_of(date_part) : 0;
        if (day == 0 || sscanf(when + 10, " %2d:%2d:%2d%c", &hh, &mi, &ss, &tail) != 3 || hh > 23 || mi > 59 ||
            ss > 59 || hh < 0 || mi < 0 || ss < 0) {
            gw_fail(why, "INVALID_ARGUMENT", "FIELD_INVALID", "verify_time is yyyy-MM-dd HH:mm:ss");
            return NULL;
        }
        verification.method = method;
        verification.verified_unix_ms = gj_cst_unix_ms_of(day, hh * 3600 + mi * 60 + ss);
    }
    int32_t last_date = end[0] ? gw_date_of(end) : 0;
    if (end[0] && last_date == 0) {
        gw_fail(why, "INVALID_ARGUMENT", "FIELD_INVALID", "enddate is yyyy-MM-dd");
        return NULL;
    }
    int rel = gj_relation_parse(relation);
    if (rel == 0) {
        gw_fail(why, "INVALID_ARGUMENT", "RELATION_INVALID", "relation %s is not one gongji knows", relation);
        return NULL;
    }
    Gongji__V1__BindRequest req = GONGJI__V1__BIND_REQUEST__INIT;
    req.sponsor_psn_no = (char *)who;
    req.beneficiary_psn_no = beneficiary;
    req.relation = (Gongji__V1__Relation)rel;
    req.sponsor_admdvs = s_region;
    req.beneficiary_admdvs = b_region;
    req.last_date = last_date;
    if (method[0] != '\0')
        req.verification = &verification;
    Gongji__V1__BindReply *a = (Gongji__V1__BindReply *)gw_node_call(
        g, in, who, "gongji.v1.MutualAid/Bind", r->msgid, s_region, &req.base, &gongji__v1__bind_reply__descriptor,
        why);
    if (a == NULL)
        return NULL;
    cJSON *out = cJSON_CreateObject();
    if (a->binding != NULL)
        cJSON_AddItemToObject(out, "binding", binding_json(a->binding));
    gongji__v1__bind_reply__free_unpacked(a, NULL);
    return out;
}

static cJSON *unbind(gateway *g, gw_institution *in, const gw_request *r, const cJSON *d, const char *who,
                     gw_failure *why)
{
    char sponsor[GJ_PSN_NO_MAX + 1], beneficiary[GJ_PSN_NO_MAX + 1], s_region[8];
    if (!gw_field_text(d, "sponsor_psn_no", true, GJ_PSN_NO_MAX, sponsor, why) ||
        !gw_field_text(d, "beneficiary_psn_no", true, GJ_PSN_NO_MAX, beneficiary, why) ||
        !gw_field_text(d, "sponsor_admdvs", false, 6, s_region, why))
        return NULL;
    Gongji__V1__UnbindRequest req = GONGJI__V1__UNBIND_REQUEST__INIT;
    req.sponsor_psn_no = sponsor;
    req.beneficiary_psn_no = beneficiary;
    req.sponsor_admdvs = s_region;
    Gongji__V1__UnbindReply *a = (Gongji__V1__UnbindReply *)gw_node_call(
        g, in, who, "gongji.v1.MutualAid/Unbind", r->msgid, s_region, &req.base,
        &gongji__v1__unbind_reply__descriptor, why);
    if (a == NULL)
        return NULL;
    cJSON *out = cJSON_CreateObject();
    if (a->binding != NULL)
        cJSON_AddItemToObject(out, "binding", binding_json(a->binding));
    gongji__v1__unbind_reply__free_unpacked(a, NULL);
    return out;
}

static cJSON *order(gateway *g, gw_institution *in, const gw_request *r, const cJSON *d, const char *who,
                    gw_failure *why)
{
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(d, "sponsors");
    int n = cJSON_IsArray(list) ? cJSON_GetArraySize(list) : -1;
    if (n < 1 || n > GJ_SPONSORS_MAX) {
        gw_fail(why, "INVALID_ARGUMENT", list == NULL ? "FIELD_MISSING" : "FIELD_INVALID",
                "sponsors must list 1 to %d psn_no", GJ_SPONSORS_MAX);
        return NULL;
    }
    char *sponsors[GJ_SPONSORS_MAX];
    for (int i = 0; i < n; i++) {
        const cJSON *item = cJSON_GetArrayItem(list, i);
        if (!cJSON_IsString(item) || item->valuestring[0] == '\0' || strlen(item->valuestring) > GJ_PSN_NO_MAX) {
            gw_fail(why, "INVALID_ARGUMENT", "FIELD_INVALID", "sponsors[%d] must be a psn_no", i);
            return NULL;
        }
        sponsors[i] = item->valuestring;
    }
    Gongji__V1__SetOrderRequest req = GONGJI__V1__SET_ORDER_REQUEST__INIT;
    req.beneficiary_psn_no = (char *)who;
    req.n_sponsor_psn_no = (size_t)n;
    req.sponsor_psn_no = sponsors;
    Gongji__V1__SetOrderReply *a = (Gongji__V1__SetOrderReply *)gw_node_call(
        g, in, who, "gongji.v1.MutualAid/SetOrder", r->msgid, r->insuplc_admdvs, &req.base,
        &gongji__v1__set_order_reply__descriptor, why);
    if (a == NULL)
        return NULL;
    cJSON *out = cJSON_CreateObject(), *o = cJSON_AddArrayToObject(out, "sponsors");
    for (size_t i = 0; i < a->n_sponsor_psn_no; i++)
        cJSON_AddItemToArray(o, cJSON_CreateString(a->sponsor_psn_no[i]));
    gongji__v1__set_order_reply__free_unpacked(a, NULL);
    return out;
}

static cJSON *bindings(gateway *g, gw_institution *in, const gw_request *r, const char *who, gw_failure *why)
{
    Gongji__V1__ListBindingsRequest req = GONGJI__V1__LIST_BINDINGS_REQUEST__INIT;
    req.psn_no = (char *)who;
    Gongji__V1__ListBindingsReply *a = (Gongji__V1__ListBindingsReply *)gw_node_call(
        g, in, who, "gongji.v1.MutualAid/ListBindings", NULL, r->insuplc_admdvs, &req.base,
        &gongji__v1__list_bindings_reply__descriptor, why);
    if (a == NULL)
        return NULL;
    cJSON *out = cJSON_CreateObject();
    cJSON *s = cJSON_AddArrayToObject(out, "as_sponsor"), *b = cJSON_AddArrayToObject(out, "as_beneficiary");
    cJSON *o = cJSON_AddArrayToObject(out, "deduction_order");
    for (size_t i = 0; i < a->n_as_sponsor; i++)
        cJSON_AddItemToArray(s, binding_json(a->as_sponsor[i]));
    for (size_t i = 0; i < a->n_as_beneficiary; i++)
        cJSON_AddItemToArray(b, binding_json(a->as_beneficiary[i]));
    for (size_t i = 0; i < a->n_deduction_order; i++)
        cJSON_AddItemToArray(o, cJSON_CreateString(a->deduction_order[i]));
    gongji__v1__list_bindings_reply__free_unpacked(a, NULL);
    return out;
}

static cJSON *records(gateway *g, gw_institution *in, const gw_request *r, const cJSON *d, const char *who,
                      gw_failure *why)
{
    char token[GJ_PAGE_TOKEN_MAX + 1];
    int32_t from = 0, to = 0;
    if (!date_field(d, "begndate", &from, why) || !date_field(d, "enddate", &to, why) ||
        !gw_field_text(d, "page_token", false, GJ_PAGE_TOKEN_MAX, token, why))
        return NULL;
    Gongji__V1__SettlementRecordsRequest req = GONGJI__V1__SETTLEMENT_RECORDS_REQUEST__INIT;
    req.psn_no = (char *)who;
    req.from_date = from;
    req.to_date = to;
    req.page_token = token;
    Gongji__V1__SettlementRecordsReply *a = (Gongji__V1__SettlementRecordsReply *)gw_node_call(
        g, in, who, "gongji.v1.Settlement/SettlementRecords", NULL, r->insuplc_admdvs, &req.base,
        &gongji__v1__settlement_records_reply__descriptor, why);
    if (a == NULL)
        return NULL;
    cJSON *out = cJSON_CreateObject(), *list = cJSON_AddArrayToObject(out, "setlinfo");
    for (size_t i = 0; i < a->n_records; i++) {
        const Gongji__V1__SettlementRecord *x = a->records[i];
        cJSON *o = cJSON_CreateObject();
        int64_t aid = 0;
        for (size_t k = 0; k < x->n_parts; k++)
            aid += x->parts[k]->amount;
        add_text(o, "setl_id", x->setl_id);
        cJSON_AddNumberToObject(o, "setl_date", x->setl_date);
        cJSON_AddItemToObject(o, "psn_part_amt", gw_money(x->amount));
        cJSON_AddItemToObject(o, "acct_pay", gw_money(x->acct_pay + aid));
        cJSON_AddItemToObject(o, "acct_mulaid_pay", gw_money(aid));
        cJSON_AddItemToObject(o, "psn_cash_pay", gw_money(x->psn_cash_pay));
        cJSON_AddBoolToObject(o, "revoked", x->revoked);
        cJSON_AddItemToArray(list, o);
    }
    add_text(out, "next_page_token", a->next_page_token);
    gongji__v1__settlement_records_reply__free_unpacked(a, NULL);
    return out;
}

cJSON *gw_family_transaction(gateway *g, gw_institution *in, const gw_request *r, gw_failure *why)
{
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(r->input, "data");
    char who[GJ_PSN_NO_MAX + 1];
    if (d == NULL || !cJSON_IsObject(d)) {
        gw_fail(why, "INVALID_ARGUMENT", d == NULL ? "FIELD_MISSING" : "FIELD_INVALID", "input.data must be an object");
        return NULL;
    }
    if (!gw_field_text(d, "psn_no", true, GJ_PSN_NO_MAX, who, why))
        return NULL;
    switch (r->infno[3]) {
    case '1': return bind(g, in, r, d, who, why);
    case '2': return unbind(g, in, r, d, who, why);
    case '3': return order(g, in, r, d, who, why);
    case '4': return bindings(g, in, r, who, why);
    default: return records(g, in, r, d, who, why);
    }
}
