/* Writes a few valid envelopes as the fuzzer's starting corpus. */
#include <stdio.h>
#include "gongji.pb-c.h"

static void write_env(const char *path, const char *method, const ProtobufCMessage *req)
{
    uint8_t payload[512], buf[1024];
    Gongji__V1__Envelope env = GONGJI__V1__ENVELOPE__INIT;
    env.method = (char *)method;
    env.call_id = "c1";
    env.caller_id = "op";
    env.caller_role = GONGJI__V1__ROLE__OPERATOR;
    env.payload.data = payload;
    env.payload.len = protobuf_c_message_pack(req, payload);
    size_t len = gongji__v1__envelope__pack(&env, buf);
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(buf, 1, len, f);
        fclose(f);
    }
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
    return 0;
}
