/* Who may call what: the table of docs/security.md, cell by cell. See authz.h. */
#include "authz.h"
#include "authn.h"
#include "gj_util.h"

#include <string.h>

/* Who a cell lets in. An operator is OP_WRITE (own region only) or OP_READ (own region,
 * its province's operators, the nation's); a PERSON always comes through a platform
 * session asserting that person (authn), and the method's check() then requires that
 * person to be the one the request is about. */
enum {
    OP_WRITE = 1u << 0,
    OP_READ = 1u << 1,
    INSTITUTION = 1u << 2,
    PERSON = 1u << 3,
    PEER = 1u << 4,
    ANYONE = 1u << 5, /* Auth/Open: the credential is checked by the method itself */
};

typedef struct authz_rule {
    const char *method;
    unsigned allowed;
    const char *who; /* for refusals and the docs */
} authz_rule;

static const authz_rule rules[] = {
    {"gongji.v1.Registry/Enroll", OP_WRITE, "the region's own operator"},
    {"gongji.v1.Registry/Credit", OP_WRITE, "the region's own operator"},
    {"gongji.v1.Registry/CreditBatch", OP_WRITE, "the region's own operator"},
    {"gongji.v1.Registry/Freeze", OP_WRITE, "the region's own operator"},
    {"gongji.v1.Registry/Move", OP_WRITE, "the old region's own operator"},
    {"gongji.v1.Registry/MoveIn", OP_WRITE, "the new region's own operator"},
    {"gongji.v1.FamilyPool/Create", OP_WRITE | PERSON, "the region's operator, or the creator"},
    {"gongji.v1.FamilyPool/Contribute", OP_WRITE | PERSON, "the region's operator, or the contributor"},
    {"gongji.v1.FamilyPool/AddMember", OP_WRITE | PERSON, "the region's operator, or the pool's creator"},
    {"gongji.v1.FamilyPool/Close", OP_WRITE | PERSON, "the region's operator, or the pool's creator"},
    {"gongji.v1.FamilyPool/Get", OP_READ | PERSON, "operators over the region, or a contributor"},
    {"gongji.v1.Wallet/Transfer", PERSON, "the sponsor"},
    {"gongji.v1.Wallet/Accept", OP_WRITE | PERSON, "the relative's region's operator, or the relative"},
    {"gongji.v1.Wallet/Get", OP_READ | PERSON, "operators over the region, or the relative"},
    {"gongji.v1.MutualAid/Bind", OP_WRITE | PERSON, "the region's operator, or the sponsor"},
    {"gongji.v1.MutualAid/Unbind", OP_WRITE | PERSON, "the region's operator, the sponsor or the beneficiary"},
    {"gongji.v1.MutualAid/SetOrder", OP_WRITE | PERSON, "the region's operator, or the beneficiary"},
    {"gongji.v1.MutualAid/ListBindings", OP_READ | PERSON, "operators over the region, or the person"},
    {"gongji.v1.Settlement/Settle", OP_WRITE | INSTITUTION, "an institution, or the region's operator"},
    {"gongji.v1.Settlement/InstitutionTotals", OP_READ | INSTITUTION, "operators over the region, or the institution itself"},
    {"gongji.v1.Settlement/InstitutionSettlements", OP_READ | INSTITUTION, "operators over the region, or the institution itself"},
    {"gongji.v1.Settlement/Balance", OP_READ | INSTITUTION | PERSON, "operators over the region, an institution, or the person"},
    {"gongji.v1.Settlement/Records", OP_READ | PERSON, "operators over the region, or the sponsor"},
    {"gongji.v1.Settlement/Revoke", OP_WRITE | INSTITUTION, "the institution that settled, or the region's operator"},
    {"gongji.v1.Settlement/Recover", OP_WRITE, "the coordinating region's operator"},
    {"gongji.v1.Settlement/Reverse", OP_WRITE | INSTITUTION, "the institution that called, or the region's operator"},
    {"gongji.v1.Settlement/PayPremium", OP_WRITE | PERSON, "the region's operator, or the sponsor"},
    {"gongji.v1.Settlement/SettlementRecords", OP_READ | PERSON, "operators over the region, or the patient"},
    {"gongji.v1.Clearing/ClearingTotals", OP_READ | PEER, "operators over the region, or a peer node (its province view)"},
    {"gongji.v1.Clearing/ProvinceTotals", OP_READ, "operators over the province's hub"},
    {"gongji.v1.Clearing/ClearingRows", OP_READ, "operators over the region"},
    {"gongji.v1.Clearing/CloseWindow", OP_WRITE, "the region's own operator"},
    {"gongji.v1.Clearing/Reconcile", OP_READ, "operators over the region"},
    {"gongji.v1.Operator/Health", OP_READ | PEER, "operators over the region, or a peer node"},
    {"gongji.v1.Operator/SetClock", OP_WRITE, "the region's own operator"},
    {"gongji.v1.Operator/Audit", OP_READ, "operators over the region"},
    {"gongji.v1.Operator/ConfirmRestore", OP_WRITE, "the region's own operator"},
    {"gongji.v1.Peer/AcceptBinding", PEER, "the sponsor's home node"},
    {"gongji.v1.Peer/Hold", PEER, "the beneficiary's home node"},
    {"gongji.v1.Peer/Resolve", PEER, "the node that coordinated the settlement"},
    {"gongji.v1.Peer/QueryDecision", PEER, "a node holding part of the settlement"},
    {"gongji.v1.Peer/ClearingEntries", PEER, "a peer node (its own entries)"},
    {"gongji.v1.Peer/MoveOut", PEER, "the region the person is moving to"},
    {"gongji.v1.Peer/Batch", PEER, "a peer node"},
    {AUTH_OPEN_METHOD, ANYONE, "anyone with a certificate of the federation"},
};

static const authz_rule *rule_for(const char *method)
{
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++)
        if (strcmp(rules[i].method, method) == 0)
            return &rules[i];
    return NULL;
}

bool authz_has_rule(const char *method)
{
    return rule_for(method) != NULL;
}

/* The region an operator id names ("430100:ops1" -> "430100"); false when malformed. */
static bool operator_region(const char *operator_id, char out[GJ_ADMDVS_LEN + 1])
{
    if (strlen(operator_id) <= GJ_ADMDVS_LEN + 1 || !gj_all_digits(operator_id, GJ_ADMDVS_LEN) ||
        operator_id[GJ_ADMDVS_LEN] != ':')
        return false;
    memcpy(out, operator_id, GJ_ADMDVS_LEN);
    out[GJ_ADMDVS_LEN] = '\0';
    return true;
}

bool authz_operator_may_write(const char *operator_id, const char *region)
{
    char own[GJ_ADMDVS_LEN + 1];
    return operator_region(operator_id, own) && strcmp(own, region) == 0;
}

bool authz_operator_may_read(const char *operator_id, const char *region)
{
    char own[GJ_ADMDVS_LEN + 1];
    if (!operator_region(operator_id, own))
        return false;
    if (strcmp(own, region) == 0 || strcmp(own, "000000") == 0)
        return true;
    /* A province's operators ("430000") see every region of it. */
    return strcmp(own + 2, "0000") == 0 && strncmp(own, region, 2) == 0;
}

gj_reason authz_check(call *c)
{
    const authz_rule *rule = rule_for(c->method->name);
    if (rule == NULL) /* a method nobody put in the table is nobody's */
        return call_fail(c, GJ_R_CALLER_NOT_ALLOWED, "%s is in no row of the authorization table",
                         c->method->name);
    if (rule->allowed & ANYONE)
        return GJ_R_NONE;
    const char *region = c->n->cfg.region;
    const char *id = c->env->caller_id;
    switch (c->env->caller_role) {
    case GONGJI__V1__ROLE__OPERATOR:
        if (rule->allowed & OP_WRITE) {
            if (authz_operator_may_write(id, region))
                return GJ_R_NONE;
        } else if (rule->allowed & OP_READ) {
            if (authz_operator_may_read(id, region))
                return GJ_R_NONE;
        } else {
            break;
        }
        return call_fail(c, GJ_R_OPERATOR_SCOPE, "operator %.64s may not %s on region %s: %s may",
                         id, (rule->allowed & OP_WRITE) ? "act" : "read", region, rule->who);
    case GONGJI__V1__ROLE__INSTITUTION:
        if (rule->allowed & INSTITUTION)
            return GJ_R_NONE;
        break;
    case GONGJI__V1__ROLE__PERSON:
        if (rule->allowed & PERSON)
            return GJ_R_NONE;
        break;
    case GONGJI__V1__ROLE__PEER:
        if (rule->allowed & PEER)
            return GJ_R_NONE;
        break;
    default:
        break;
    }
    return call_fail(c, GJ_R_CALLER_NOT_ALLOWED, "%s may not call %s: %s may", gj_role_name(c->env->caller_role),
                     c->method->name, rule->who);
}
