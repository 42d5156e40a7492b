/* R21: freezes for misuse (seed 002: 违规使用…). An operator of the region that owns the
 * person freezes a sponsor, a beneficiary or one binding, with a reason; settlements
 * skip what is frozen until it is lifted. The record keeps who froze it, why and since
 * when, and who lifted it; every change is a log line naming the operator.
 *
 * Where it takes effect: ops_sponsor_funds (below every local walk and every hold a
 * sponsor's node is asked for) gives nothing from a frozen sponsor or binding, or to a
 * beneficiary frozen here; a coordinator asks no remote sponsor for a frozen patient. */
#include <stdio.h>
#include <string.h>

#include "gj_util.h"
#include "log.h"
#include "node.h"
#include "ops.h"

static char target_letter(int target)
{
    switch (target) {
    case GONGJI__V1__FREEZE_TARGET__FREEZE_TARGET_SPONSOR:
        return 'S';
    case GONGJI__V1__FREEZE_TARGET__FREEZE_TARGET_BENEFICIARY:
        return 'B';
    case GONGJI__V1__FREEZE_TARGET__FREEZE_TARGET_BINDING:
        return 'P';
    default:
        return 0;
    }
}

gj_reason freeze_check(call *c)
{
    Gongji__V1__FreezeRequest *req = (Gongji__V1__FreezeRequest *)c->request;
    gj_reason r;
    if (!ops_is_role(c, GONGJI__V1__ROLE__OPERATOR))
        return ops_deny(c, "only a region operator");
    char t = target_letter(req->target);
    if (t == 0)
        return call_fail(c, GJ_R_FIELD_INVALID, "target is SPONSOR, BENEFICIARY or BINDING");
    if ((r = ops_check_psn_no(c, "psn_no", req->psn_no)) != GJ_R_NONE)
        return r;
    if (t == 'P' && (r = ops_check_psn_no(c, "beneficiary_psn_no", req->beneficiary_psn_no)) != GJ_R_NONE)
        return r;
    if (t != 'P' && req->beneficiary_psn_no[0] != '\0')
        return call_fail(c, GJ_R_FIELD_INVALID, "beneficiary_psn_no is for a BINDING only");
    size_t len = strlen(req->reason);
    if (!req->lift && (len == 0 || len > GJ_MEMO_MAX || !gj_utf8_valid(req->reason, len)))
        return call_fail(c, GJ_R_FIELD_INVALID, "a freeze needs a reason: 1 to %d bytes of UTF-8", GJ_MEMO_MAX);
    return GJ_R_NONE;
}

gj_reason freeze_apply(call *c, store_txn *txn)
{
    Gongji__V1__FreezeRequest *req = (Gongji__V1__FreezeRequest *)c->request;
    char t = target_letter(req->target);
    store_person person;
    gj_reason r = ops_get_local_person(c, txn, req->psn_no, &person);
    if (r != GJ_R_NONE)
        return r;
    const char *beneficiary = t == 'P' ? req->beneficiary_psn_no : "";
    store_freeze f;
    gj_err err = store_freeze_get(txn, t, person.psn_no, beneficiary, &f);
    if (err != GJ_OK && err != GJ_ERR_NOTFOUND)
        return ops_store_reason(c, err);
    bool in_force = err == GJ_OK && f.lifted_unix_ms == 0;
    if (req->lift && !in_force)
        return call_fail(c, GJ_R_NOT_FROZEN, "nothing of this is frozen");
    if (!req->lift && in_force)
        return call_fail(c, GJ_R_ALREADY_FROZEN, "frozen since %lld by %s", (long long)f.since_unix_ms, f.frozen_by);
    int64_t now = gj_now_unix_ms();
    if (req->lift) {
        gj_strcpy_fit(f.lifted_by, sizeof f.lifted_by, c->env->caller_id);
        f.lifted_unix_ms = now;
    } else {
        memset(&f, 0, sizeof f);
        f.target = t;
        memcpy(f.psn_no, person.psn_no, sizeof f.psn_no);
        gj_strcpy_fit(f.beneficiary, sizeof f.beneficiary, beneficiary);
        gj_strcpy_fit(f.frozen_by, sizeof f.frozen_by, c->env->caller_id);
        gj_strcpy_fit(f.reason, sizeof f.reason, req->reason);
        f.since_unix_ms = now;
    }
    if ((err = store_freeze_put(txn, &f)) != GJ_OK)
        return ops_store_reason(c, err);
    Gongji__V1__FreezeReply *ans = call_alloc(c, sizeof *ans);
    if (ans == NULL)
        return ops_out_of_memory(c);
    gongji__v1__freeze_reply__init(ans);
    ans->frozen = !req->lift;
    ans->frozen_by = call_strdup(c, req->lift ? f.lifted_by : f.frozen_by);
    ans->reason = call_strdup(c, f.reason);
    ans->since_unix_ms = req->lift ? f.lifted_unix_ms : f.since_unix_ms;
    if (ans->frozen_by == NULL || ans->reason == NULL)
        return ops_out_of_memory(c);
    c->answer = &ans->base;
    char mp[GJ_PSN_NO_MAX + 1], mb[GJ_PSN_NO_MAX + 1];
    gj_log(GJ_LOG_WARN, req->lift ? "unfreeze" : "freeze", "target=%c psn_no=%s beneficiary=%s operator=%s", t,
           gj_mask(f.psn_no, mp, sizeof mp), t == 'P' ? gj_mask(f.beneficiary, mb, sizeof mb) : "-",
           c->env->caller_id);
    return GJ_R_NONE;
}

/* A freeze in force for (target, psn_no[, beneficiary]) here. */
static bool frozen(store_txn *txn, char target, const char *psn_no, const char *beneficiary)
{
    store_freeze f;
    return store_freeze_get(txn, target, psn_no, beneficiary, &f) == GJ_OK && f.lifted_unix_ms == 0;
}

bool ops_aid_frozen(store_txn *txn, const char *sponsor, const char *beneficiary)
{
    return frozen(txn, 'S', sponsor, "") || frozen(txn, 'B', beneficiary, "") || frozen(txn, 'P', sponsor, beneficiary);
}

bool ops_beneficiary_frozen(store_txn *txn, const char *beneficiary)
{
    return frozen(txn, 'B', beneficiary, "");
}
