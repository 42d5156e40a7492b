/* Writes a few valid envelopes as the fuzzer's starting corpus. */
#include <stdio.h>
#include "gongji.pb-c.h"

/* Packs an envelope of method around req into out (at least 2048 bytes). */
static size_t pack_env(uint8_t *out, const char *method, const char *caller, Gongji__V1__Role role,
                       const ProtobufCMessage *req)
{
    uint8_t payload[1536];
    Gongji__V1__Envelope env = GONGJI__V1__ENVELOPE__INIT;
    env.method = (char *)method;
    env.call_id = "c1";
    env.caller_id = (char *)caller;
    env.caller_role = role;
    env.payload.data = payload;
    env.payload.len = protobuf_c_message_pack(req, payload);
    return gongji__v1__envelope__pack(&env, out);
}

static void write_bytes(const char *path, const uint8_t *buf, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(buf, 1, len, f);
        fclose(f);
    }
}

static void write_env(const char *path, const char *method, const ProtobufCMessage *req)
{
    uint8_t buf[2048];
    write_bytes(path, buf, pack_env(buf, method, "op", GONGJI__V1__ROLE__OPERATOR, req));
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : ".";
    char path[512];
    Gongji__V1__Person p = GONGJI__V1__PERSON__INIT;
    p.psn_no = "P1";
    p.certno = "430102198001010010";
    p.insutype = "310";
    p.insuplc_admdvs = "510100";
    p.status = GONGJI__V1__PERSON_STATUS__ACTIVE;
    Gongji__V1__EnrollRequest enroll = GONGJI__V1__ENROLL_REQUEST__INIT;
    enroll.person = &p;
    snprintf(path, sizeof path, "%s/enroll", dir);
    write_env(path, "gongji.v1.Registry/Enroll", &enroll.base);
    Gongji__V1__SettleRequest settle = GONGJI__V1__SETTLE_REQUEST__INIT;
    settle.psn_no = "P1";
    settle.amount = 1000;
    settle.use = GONGJI__V1__USE_TYPE__OUTPATIENT;
    snprintf(path, sizeof path, "%s/settle", dir);
    write_env(path, "gongji.v1.Settlement/Settle", &settle.base);
    Gongji__V1__BindRequest bind = GONGJI__V1__BIND_REQUEST__INIT;
    bind.sponsor_psn_no = "P1";
    bind.beneficiary_psn_no = "P2";
    bind.relation = GONGJI__V1__RELATION__CHILD;
    snprintf(path, sizeof path, "%s/bind", dir);
    write_env(path, "gongji.v1.MutualAid/Bind", &bind.base);
    Gongji__V1__RevokeRequest revoke = GONGJI__V1__REVOKE_REQUEST__INIT;
    revoke.setl_id = "510100-20261122-1-1";
    snprintf(path, sizeof path, "%s/revoke", dir);
    write_env(path, "gongji.v1.Settlement/Revoke", &revoke.base);

    /* A peer's batch: a hold and a void, each a whole envelope. */
    Gongji__V1__HoldRequest hold = GONGJI__V1__HOLD_REQUEST__INIT;
    hold.setl_id = "430100-20261122-000001-0000000001";
    hold.sponsor_psn_no = "P1";
    hold.beneficiary_psn_no = "P2";
    hold.beneficiary_admdvs = "430100";
    hold.amount = 500;
    Gongji__V1__ResolveRequest fence = GONGJI__V1__RESOLVE_REQUEST__INIT;
    fence.setl_id = "430100-20261122-000001-0000000002";
    fence.action = GONGJI__V1__LEG_ACTION__VOID;
    fence.sponsor_psn_no = "P1";
    fence.beneficiary_psn_no = "P2";
    uint8_t item0[2048], item1[2048], batch_bytes[2048];
    ProtobufCBinaryData items[2] = {
        {pack_env(item0, "gongji.v1.Peer/Hold", "430100", GONGJI__V1__ROLE__PEER, &hold.base), item0},
        {pack_env(item1, "gongji.v1.Peer/Resolve", "430100", GONGJI__V1__ROLE__PEER, &fence.base), item1}};
    Gongji__V1__PeerBatchRequest batch = GONGJI__V1__PEER_BATCH_REQUEST__INIT;
    batch.n_items = 2;
    batch.items = items;
    snprintf(path, sizeof path, "%s/batch", dir);
    write_bytes(path, batch_bytes,
                pack_env(batch_bytes, "gongji.v1.Peer/Batch", "430100", GONGJI__V1__ROLE__PEER, &batch.base));
    return 0;
}
