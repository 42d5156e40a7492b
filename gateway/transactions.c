/* The transactions: each reads input.data, makes gongji calls as the institution, and
 * builds output with the national field names (docs/his.md lists them). */
#include "gateway.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "gj_util.h"
#include "gongji.pb-c.h"

ProtobufCMessage *gw_node_call(gateway *g, gw_institution *in, const char *person, const char *method,
                               const char *call_id, const char *dest_region, const ProtobufCMessage *req,
                               const ProtobufCMessageDescriptor *desc, gw_failure *why)
{
    client_t *c = gw_institution_borrow(g, in);
    if (c == NULL) {
        gw_fail(why, "UNAVAILABLE", "NO_ANSWER", "cannot connect to the node");
        return NULL;
    }
    if (person != NULL) /* the platform speaks for this person; the node checks it may */
        client_set_identity(c, person, GONGJI__V1__ROLE__PERSON);
    ProtobufCMessage *reply = NULL;
    client_status st;
    client_call(c, method, call_id, dest_region, req, desc, &reply, &st);
    gw_institution_return(in, c);
    if (st.code == GONGJI__V1__CODE__OK && reply != NULL)
        return reply;
    if (reply != NULL)
        protobuf_c_message_free_unpacked(reply, NULL);
    gw_fail(why, client_code_name(st.code), st.reason[0] ? st.reason : "NO_ANSWER", "%s", st.message);
    return NULL;
}

static void add_text(cJSON *o, const char *name, const char *value)
{
    cJSON_AddStringToObject(o, name, value != NULL ? value : "");
}

static void now_text(char out[20])
{
    gw_local_time(time(NULL), out);
}

/* The patient's balance after a payment (balc), or -1 when it cannot be read. */
static int64_t balance_of(gateway *g, gw_institution *in, const char *psn_no, const char *region)
{
    Gongji__V1__BalanceRequest req = GONGJI__V1__BALANCE_REQUEST__INIT;
    req.psn_no = (char *)psn_no;
    gw_failure ignored;
    Gongji__V1__BalanceReply *b = (Gongji__V1__BalanceReply *)gw_node_call(
        g, in, NULL, "gongji.v1.Settlement/Balance", NULL, region, &req.base, &gongji__v1__balance_reply__descriptor,
        &ignored);
    int64_t balc = -1;
    if (b != NULL && b->balance != NULL)
        balc = b->balance->available;
    if (b != NULL)
        gongji__v1__balance_reply__free_unpacked(b, NULL);
    return balc;
}

static void add_balc(cJSON *o, int64_t balc)
{
    if (balc >= 0)
        cJSON_AddItemToObject(o, "balc", gw_money(balc));
    else
        cJSON_AddNullToObject(o, "balc");
}

/* National med_type (医疗类别, with provincial sub-codes) to the use R5 rules on. */
static int use_of_med_type(const char *med_type)
{
    if (!strncmp(med_type, "14", 2))
        return GONGJI__V1__USE_TYPE__SPECIAL_DISEASE; /* 门诊慢特病 and its sub-codes */
    if (!strncmp(med_type, "11", 2) || !strncmp(med_type, "12", 2) || !strncmp(med_type, "13", 2) ||
        !strcmp(med_type, "51"))
        return GONGJI__V1__USE_TYPE__OUTPATIENT;
    if (med_type[0] == '2' || !strcmp(med_type, "52"))
        return GONGJI__V1__USE_TYPE__INPATIENT;
    if (!strncmp(med_type, "41", 2))
        return GONGJI__V1__USE_TYPE__PHARMACY;
    return 0;
}

static const cJSON *data_block(const gw_request *r, const char *name, gw_failure *why)
{
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(r->input, name);
    if (d == NULL || !cJSON_IsObject(d)) {
        gw_fail(why, "INVALID_ARGUMENT", d == NULL ? "FIELD_MISSING" : "FIELD_INVALID", "input.%s must be an object",
                name);
        return NULL;
    }
    return d;
}

/* yyyy-MM-dd (or yyyymmdd) as yyyymmdd, or 0 when it is not a valid date. */
int32_t gw_date_of(const char *text)
{
    char digits[9];
    size_t k = 0;
    for (size_t i = 0; text[i] != '\0'; i++) {
        if (text[i] == '-')
            continue;
        if (k == 8)
            return 0;
        digits[k++] = text[i];
    }
    digits[k] = '\0';
    if (k != 8 || !gj_all_digits(digits, 8) || !gj_date_valid(atoi(digits)))
        return 0;
    return atoi(digits);
}

/* 9001 签到: a sign-in number for the operator. gongji keeps no operator sessions (the
 * signature proves the institution on every call), so any sign_no is accepted later. */
static cJSON *sign_in(const gw_request *r, gw_failure *why)
{
    const cJSON *d = data_block(r, "signIn", why);
    char opter_no[32];
    if (d == NULL || !gw_field_text(d, "opter_no", true, 20, opter_no, why))
        return NULL;
    uint8_t rnd[8];
    if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) {
        gw_fail(why, "INTERNAL", "NO_RANDOM", "no random numbers");
        return NULL;
    }
    uint64_t v;
    memcpy(&v, rnd, sizeof v);
    char sign_no[24], when[20];
    snprintf(sign_no, sizeof sign_no, "%020llu", (unsigned long long)v);
    now_text(when);
    cJSON *out = cJSON_CreateObject(), *b = cJSON_AddObjectToObject(out, "signinoutb");
    add_text(b, "sign_no", sign_no);
    add_text(b, "sign_time", when);
    return out;
}

/* 1101 人员信息获取: the person's personal account (gongji answers by psn_no). */
static cJSON *person_info(gateway *g, gw_institution *in, const gw_request *r, gw_failure *why)
{
    const cJSON *d = data_block(r, "data", why);
    char psn_no[GJ_PSN_NO_MAX + 1];
    if (d == NULL || !gw_field_text(d, "psn_no", true, GJ_PSN_NO_MAX, psn_no, why))
        return NULL;
    Gongji__V1__BalanceRequest req = GONGJI__V1__BALANCE_REQUEST__INIT;
    req.psn_no = psn_no;
    Gongji__V1__BalanceReply *b = (Gongji__V1__BalanceReply *)gw_node_call(
        g, in, NULL, "gongji.v1.Settlement/Balance", NULL, r->insuplc_admdvs, &req.base,
        &gongji__v1__balance_reply__descriptor, why);
    if (b == NULL)
        return NULL;
    cJSON *out = cJSON_CreateObject();
    cJSON *base = cJSON_AddObjectToObject(out, "baseinfo");
    add_text(base, "psn_no", psn_no);
    cJSON *insu = cJSON_AddArrayToObject(out, "insuinfo"), *row = cJSON_CreateObject();
    if (b->balance != NULL) {
        cJSON_AddItemToObject(row, "balc", gw_money(b->balance->available));
        add_text(row, "insutype", b->balance->insutype);
        add_text(row, "insuplc_admdvs", b->balance->insuplc_admdvs);
        add_text(row, "psn_insu_stas", "1");
        cJSON_AddItemToObject(row, "gongji_shareable", gw_money(b->balance->shareable));
    }
    cJSON_AddItemToArray(insu, row);
    cJSON_AddArrayToObject(out, "idetinfo");
    gongji__v1__balance_reply__free_unpacked(b, NULL);
    return out;
}

static void add_mutual_aid_detail(cJSON *setlinfo, size_t n, Gongji__V1__SponsorPart **parts)
{
    cJSON *list = cJSON_AddArrayToObject(setlinfo, "gongji_mulaid_detail");
    for (size_t i = 0; i < n; i++) {
        cJSON *p = cJSON_CreateObject();
        add_text(p, "psn_no", parts[i]->sponsor_psn_no);
        add_text(p, "insuplc_admdvs", parts[i]->sponsor_admdvs);
        cJSON_AddItemToObject(p, "amount", gw_money(parts[i]->amount));
        cJSON_AddItemToArray(list, p);
    }
}

/* 2207 门诊结算: the patient's own part after the fund (psn_part_amt, as the fund
 * engine computed it) paid from personal accounts, the patient's first, then family
 * mutual aid; the rest is cash. */
static cJSON *settle(gateway *g, gw_institution *in, const gw_request *r, gw_failure *why)
{
    const cJSON *d = data_block(r, "data", why);
    char psn_no[GJ_PSN_NO_MAX + 1], med_type[8], flag[4], mdtrt_id[32], insutype[8], named[GJ_PSN_NO_MAX + 1];
    int64_t part = 0, sumamt = 0;
    if (d == NULL || !gw_field_text(d, "psn_no", true, GJ_PSN_NO_MAX, psn_no, why) ||
        !gw_field_text(d, "med_type", true, 6, med_type, why) ||
        !gw_field_text(d, "acct_used_flag", true, 1, flag, why) ||
        !gw_field_text(d, "mdtrt_id", false, 30, mdtrt_id, why) ||
        !gw_field_text(d, "insutype", false, 6, insutype, why) ||
        !gw_field_text(d, "gongji_sponsor_psn_no", false, GJ_PSN_NO_MAX, named, why) ||
        !gw_field_money(d, "medfee_sumamt", true, &sumamt, why) ||
        !gw_field_money(d, "psn_part_amt", true, &part, why))
        return NULL;
    if (strcmp(flag, "0") != 0 && strcmp(flag, "1") != 0) {
        gw_fail(why, "INVALID_ARGUMENT", "FIELD_INVALID", "acct_used_flag must be 0 or 1");
        return NULL;
    }
    if (part > sumamt) {
        gw_fail(why, "INVALID_ARGUMENT", "AMOUNT_INVALID", "psn_part_amt is more than medfee_sumamt");
        return NULL;
    }
    int use = use_of_med_type(med_type);
    if (use == 0) {
        gw_fail(why, "INVALID_ARGUMENT", "USE_INVALID", "med_type %s names no use gongji knows", med_type);
        return NULL;
    }
    cJSON *out = cJSON_CreateObject(), *s = cJSON_AddObjectToObject(out, "setlinfo");
    char when[20];
    now_text(when);
    int64_t own = 0, aid = 0, cash = part, balc = -1;
    if (part > 0) {
        /* acct_used_flag 0 (R19): the node answers all cash and the balance; nothing moves. */
        Gongji__V1__SettleRequest req = GONGJI__V1__SETTLE_REQUEST__INIT;
        req.psn_no = psn_no;
        req.amount = part;
        req.use = use;
        req.fixmedins_code = (char *)in->cfg->code;
        req.insuplc_admdvs = (char *)r->insuplc_admdvs;
        req.accounts_not_used = strcmp(flag, "0") == 0;
        req.sponsor_psn_no = named; /* R19: the one sponsor the patient chose, where allowed */
        Gongji__V1__SettleReply *a = (Gongji__V1__SettleReply *)gw_node_call(
            g, in, NULL, "gongji.v1.Settlement/Settle", r->msgid, r->insuplc_admdvs, &req.base,
            &gongji__v1__settle_reply__descriptor, why);
        if (a == NULL) {
            cJSON_Delete(out);
            return NULL;
        }
        own = a->acct_pay, aid = a->acct_mulaid_pay, cash = a->psn_cash_pay, balc = a->balance_after;
        add_text(s, "setl_id", a->setl_id);
        add_mutual_aid_detail(s, a->n_parts, a->parts);
        gongji__v1__settle_reply__free_unpacked(a, NULL);
    } else {
        add_text(s, "setl_id", ""); /* nothing to pay */
    }
    add_text(s, "psn_no", psn_no);
    add_text(s, "mdtrt_id", mdtrt_id);
    add_text(s, "med_type", med_type);
    add_text(s, "insutype", insutype);
    add_text(s, "setl_time", when);
    cJSON_AddItemToObject(s, "medfee_sumamt", gw_money(sumamt));
    cJSON_AddItemToObject(s, "psn_part_amt", gw_money(part));
    /* acct_pay includes the mutual-aid part, as on the national platform. */
    cJSON_AddItemToObject(s, "acct_pay", gw_money(own + aid));
    cJSON_AddItemToObject(s, "acct_mulaid_pay", gw_money(aid));
    cJSON_AddItemToObject(s, "psn_cash_pay", gw_money(cash));
    /* Settle answers the balance after it; with no settlement, ask for it. */
    add_balc(s, balc >= 0 ? balc : balance_of(g, in, psn_no, r->insuplc_admdvs));
    add_text(s, "medins_setl_id", r->msgid);
    return out;
}

/* 2208 门诊结算撤销: every fen of a settlement back to the accounts it came from. */
static cJSON *revoke(gateway *g, gw_institution *in, const gw_request *r, gw_failure *why)
{
    const cJSON *d = data_block(r, "data", why);
    char setl_id[GJ_SETL_ID_MAX + 1], psn_no[GJ_PSN_NO_MAX + 1], mdtrt_id[32];
    if (d == NULL || !gw_field_text(d, "setl_id", true, GJ_SETL_ID_MAX, setl_id, why) ||
        !gw_field_text(d, "psn_no", true, GJ_PSN_NO_MAX, psn_no, why) ||
        !gw_field_text(d, "mdtrt_id", false, 30, mdtrt_id, why))
        return NULL;
    char region[GJ_ADMDVS_LEN + 1] = "";
    if (strlen(setl_id) >= GJ_ADMDVS_LEN && gj_all_digits(setl_id, GJ_ADMDVS_LEN))
        memcpy(region, setl_id, GJ_ADMDVS_LEN);
    Gongji__V1__RevokeRequest req = GONGJI__V1__REVOKE_REQUEST__INIT;
    req.setl_id = setl_id;
    Gongji__V1__RevokeReply *a = (Gongji__V1__RevokeReply *)gw_node_call(
        g, in, NULL, "gongji.v1.Settlement/Revoke", r->msgid, region, &req.base, &gongji__v1__revoke_reply__descriptor,
        why);
    if (a == NULL)
        return NULL;
    int64_t aid = 0;
    for (size_t i = 0; i < a->n_refunds; i++)
        aid += a->refunds[i]->amount;
    cJSON *out = cJSON_CreateObject(), *s = cJSON_AddObjectToObject(out, "setlinfo");
    char when[20];
    now_text(when);
    add_text(s, "setl_id", a->setl_id);
    add_text(s, "psn_no", psn_no);
    add_text(s, "mdtrt_id", mdtrt_id);
    add_text(s, "setl_time", when);
    cJSON_AddItemToObject(s, "acct_pay", gw_money(a->acct_refund + aid));
    cJSON_AddItemToObject(s, "acct_mulaid_pay", gw_money(aid));
    add_mutual_aid_detail(s, a->n_refunds, a->refunds);
    add_balc(s, balance_of(g, in, psn_no, region));
    add_text(s, "medins_setl_id", r->msgid);
    gongji__v1__revoke_reply__free_unpacked(a, NULL);
    return out;
}

/* 2601 冲正: undo a 2207 whose answer the HIS never got, by that request's msgid. */
static cJSON *reverse(gateway *g, gw_institution *in, const gw_request *r, gw_failure *why)
{
    const cJSON *d = data_block(r, "data", why);
    char psn_no[GJ_PSN_NO_MAX + 1], omsgid[32], oinfno[8];
    if (d == NULL || !gw_field_text(d, "psn_no", true, GJ_PSN_NO_MAX, psn_no, why) ||
        !gw_field_text(d, "omsgid", true, 30, omsgid, why) || !gw_field_text(d, "oinfno", true, 4, oinfno, why))
        return NULL;
    if (strcmp(oinfno, "2207") != 0) {
        gw_fail(why, "FAILED_PRECONDITION", "NOT_REVERSIBLE",
                "gongji reverses 2207 settlements; a 2208 revoke stands (settle again instead)");
        return NULL;
    }
    Gongji__V1__ReverseRequest req = GONGJI__V1__REVERSE_REQUEST__INIT;
    req.original_call_id = omsgid;
    req.insuplc_admdvs = (char *)r->insuplc_admdvs;
    Gongji__V1__ReverseReply *a = (Gongji__V1__ReverseReply *)gw_node_call(
        g, in, NULL, "gongji.v1.Settlement/Reverse", r->msgid, r->insuplc_admdvs, &req.base,
        &gongji__v1__reverse_reply__descriptor, why);
    if (a == NULL)
        return NULL;
    cJSON *out = cJSON_CreateObject();
    const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(&gongji__v1__reverse_outcome__descriptor,
                                                                       (int)a->outcome);
    add_text(out, "gongji_outcome", v != NULL ? v->name : "");
    add_text(out, "omsgid", omsgid);
    if (a->revoke != NULL) {
        int64_t aid = 0;
        for (size_t i = 0; i < a->revoke->n_refunds; i++)
            aid += a->revoke->refunds[i]->amount;
        add_text(out, "setl_id", a->revoke->setl_id);
        cJSON_AddItemToObject(out, "acct_pay", gw_money(a->revoke->acct_refund + aid));
        cJSON_AddItemToObject(out, "acct_mulaid_pay", gw_money(aid));
    }
    gongji__v1__reverse_reply__free_unpacked(a, NULL);
    return out;
}

/* 3201 对总账: the institution's totals for a window, against gongji's for the settlements
 * coordinated in setl_optins's region (asked of each region its patients came from).
 * gongji knows the account side only: acct_pay and the count are compared;
 * medfee_sumamt and fund_pay_sumamt belong to the fund engine. */
static cJSON *statement(gateway *g, gw_institution *in, const gw_request *r, gw_failure *why)
{
    const cJSON *d = data_block(r, "data", why);
    char optins[8], begin[12], end[12], count_text[16];
    int64_t acct_pay = 0;
    if (d == NULL || !gw_field_text(d, "setl_optins", true, 6, optins, why) ||
        !gw_field_text(d, "stmt_begndate", true, 10, begin, why) || !gw_field_text(d, "stmt_enddate", true, 10, end, why) ||
        !gw_field_money(d, "acct_pay", true, &acct_pay, why) ||
        !gw_field_text(d, "fixmedins_setl_cnt", true, 10, count_text, why))
        return NULL;
    int32_t from = gw_date_of(begin), to = gw_date_of(end);
    if (from == 0 || to == 0 || !gj_all_digits(count_text, strlen(count_text))) {
        gw_fail(why, "INVALID_ARGUMENT", "FIELD_INVALID",
                "stmt_begndate and stmt_enddate are yyyy-MM-dd; fixmedins_setl_cnt a number");
        return NULL;
    }
    Gongji__V1__InstitutionTotalsRequest req = GONGJI__V1__INSTITUTION_TOTALS_REQUEST__INIT;
    req.fixmedins_code = (char *)in->cfg->code;
    req.setl_admdvs = optins;
    req.from_date = from;
    req.to_date = to;
    Gongji__V1__InstitutionTotalsReply *a = (Gongji__V1__InstitutionTotalsReply *)gw_node_call(
        g, in, NULL, "gongji.v1.Settlement/InstitutionTotals", NULL, optins, &req.base,
        &gongji__v1__institution_totals_reply__descriptor, why);
    if (a == NULL)
        return NULL;
    int64_t ours = a->acct_pay + a->mulaid_pay;
    uint64_t count = strtoull(count_text, NULL, 10);
    /* stmt_rslt: 0 balanced, 1 the centre has more, 2 the institution has more, 3 they differ. */
    const char *result = "0", *text = "对平 / balanced";
    if (count != a->settled_count || acct_pay != ours) {
        bool centre_more = a->settled_count >= count && ours >= acct_pay;
        bool inst_more = a->settled_count <= count && ours <= acct_pay;
        result = centre_more ? "1" : inst_more ? "2" : "3";
        text = centre_more ? "中心多 / gongji has more" : inst_more ? "医药机构多 / the institution has more"
                                                        : "数据不一致 / the figures differ";
    }
    cJSON *out = cJSON_CreateObject(), *s = cJSON_AddObjectToObject(out, "stmtinfo");
    add_text(s, "setl_optins", optins);
    add_text(s, "stmt_rslt", result);
    char dscr[200];
    snprintf(dscr, sizeof dscr, "%s: %llu settlements, acct_pay %lld.%02lld (revoked since: %llu)", text,
             (unsigned long long)a->settled_count, (long long)(ours / 100), (long long)(ours % 100),
             (unsigned long long)a->revoked_count);
    add_text(s, "stmt_rslt_dscr", dscr);
    cJSON_AddNumberToObject(s, "gongji_setl_cnt", (double)a->settled_count);
    cJSON_AddItemToObject(s, "gongji_acct_pay", gw_money(ours));
    cJSON_AddItemToObject(s, "gongji_acct_mulaid_pay", gw_money(a->mulaid_pay));
    gongji__v1__institution_totals_reply__free_unpacked(a, NULL);
    return out;
}

cJSON *gw_transaction(gateway *g, gw_institution *in, const gw_request *r, gw_file_answer *file, gw_failure *why)
{
    if (gw_file_code(r->infno))
        return gw_file_transaction(g, in, r, file, why);
    if (!strcmp(r->infno, "3201"))
        return statement(g, in, r, why);
    if (!strcmp(r->infno, "9001"))
        return sign_in(r, why);
    if (!strcmp(r->infno, "1101"))
        return person_info(g, in, r, why);
    if (!strcmp(r->infno, "2207"))
        return settle(g, in, r, why);
    if (!strcmp(r->infno, "2208"))
        return revoke(g, in, r, why);
    if (!strcmp(r->infno, "2601"))
        return reverse(g, in, r, why);
    if (gw_family_code(r->infno))
        return gw_family_transaction(g, in, r, why);
    gw_fail(why, "UNIMPLEMENTED", "UNKNOWN_INFNO", "transaction %s is not one gongji serves", r->infno);
    return NULL;
}
