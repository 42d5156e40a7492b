/* R24, at the relative's node: a sponsor in another province moves money into the
 * relative's wallet (Wallet/Transfer; node/wallets.c has the rest). A settlement with one
 * leg, the sponsor's account on the sponsor's node, held before it is decided and all of
 * it or nothing, as a premium is; the sponsor's node applies its region's caps before it
 * holds. The decision's transaction credits the wallet, PENDING until accepted. */
#include "xr_internal.h"
#include "gj_util.h"

#include <string.h>

void xr_wallet_transfer(call *c)
{
    Gongji__V1__WalletTransferRequest *req = (Gongji__V1__WalletTransferRequest *)c->request;
    if (call_replay_if_answered(c)) {
        call_finish(c);
        return;
    }
    /* The relative is insured here, and the copy of the binding here pays today. */
    store_txn *txn;
    store_person relative;
    store_binding b;
    gj_err err = store_read_begin(c->n->store, &txn);
    if (err != GJ_OK) {
        c->reason = gj_reason_of_err(err);
        call_finish(c);
        return;
    }
    gj_reason r = ops_get_local_person(c, txn, req->relative_psn_no, &relative);
    if (r == GJ_R_NONE)
        r = rules_check_beneficiary(&relative);
    if (r == GJ_R_NONE) {
        err = store_binding_get(txn, req->sponsor_psn_no, relative.psn_no, &b);
        if (err == GJ_ERR_NOTFOUND || (err == GJ_OK && (!rules_binding_pays_on(&b, c->today) ||
                                                        strcmp(b.sponsor_admdvs, req->sponsor_admdvs) != 0)))
            r = call_fail(c, GJ_R_BINDING_NOT_FOUND, "no binding of this sponsor to the relative pays today");
        else if (err != GJ_OK)
            r = ops_store_reason(c, err);
    }
    store_read_end(txn);
    xr_settlement *xs = r == GJ_R_NONE ? call_alloc(c, sizeof *xs) : NULL;
    if (r == GJ_R_NONE && xs == NULL)
        r = ops_out_of_memory(c);
    if (r != GJ_R_NONE) {
        c->reason = r;
        call_finish(c);
        return;
    }
    memset(xs, 0, sizeof *xs);
    memcpy(xs->beneficiary, relative.psn_no, sizeof xs->beneficiary);
    xs->use = GJ_USE_WALLET;
    xs->plan = (xr_plan){.amount = req->amount, .cascade = true, .live = true, .premium = true, .leg_count = 1};
    xs->plan.legs[0].remote = true;
    xs->hold_first = true;
    gj_strcpy_fit(xs->legs[0].sponsor, sizeof xs->legs[0].sponsor, req->sponsor_psn_no);
    gj_strcpy_fit(xs->legs[0].admdvs, sizeof xs->legs[0].admdvs, req->sponsor_admdvs);
    xr_coordinate(c, xs);
}
