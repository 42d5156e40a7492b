/* What test_federation_crash.c and its checks (federation_crash_checks.c) share: the
 * shape of the run, the families, and what the institutions were told. */
#ifndef GJ_FEDERATION_CRASH_H
#define GJ_FEDERATION_CRASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "harness.h"

#define FAMILIES 8
#define THREADS 4
#define CALLS_PER_THREAD 40
#define CALLS (THREADS * CALLS_PER_THREAD)
#define CLIENT_TIMEOUT_MS 2000
#define RETRY_AFTER_MS 300  /* a failed call is retried once, this long after, node up */
#define KILL_ROUNDS 2
#define KILLS (KILL_ROUNDS * 3)
/* The calls come in bursts, one per kill and a last one with every node up; each kill
 * lands inside its burst, while settlements are under way. */
#define BURSTS (KILLS + 1)
#define CALLS_PER_BURST ((CALLS_PER_THREAD + BURSTS - 1) / BURSTS)
#define QUIET_MAX_MS 15000
#define MAX_PARTS 4

#define CHANGSHA "430100"
#define XIANGTAN "430300"
#define CHENGDU "510100"
#define NAGQU "540600"

enum { CODE_DEADLINE_EXCEEDED = 4, CODE_UNAVAILABLE = 14 };
enum { COORD_CHANGSHA = 0, COORD_CHENGDU = 1, COORDS = 2 };

extern const char *const coord_region[COORDS];

/* ---- people ---- */

typedef struct sponsor {
    char psn_no[16];
    const char *region;
    int64_t credited;
} sponsor;

/* Per coordinator and family: the beneficiary, and sponsors in deduction order. */
typedef struct family {
    char beneficiary[16];
    const char *insutype;
    int64_t own_credited; /* the beneficiary's own account, paid first */
    sponsor sponsors[2];
} family;

extern family families[COORDS][FAMILIES];

/* ---- what the institutions were told ---- */

typedef struct part {
    char psn_no[24];
    char admdvs[8];
    int64_t amount;
} part;

typedef struct call_rec {
    char call_id[40];
    int thread;
    int coord;
    int fam;
    int64_t amount;
    /* attempts and outcomes */
    int attempts;
    bool retried;
    int64_t failed_at_ms;
    int last_code;
    char last_reason[64];
    /* the first OK answer */
    bool answered;
    int answers;
    char setl_id[64];
    int64_t acct_pay, mulaid, cash;
    size_t n_parts;
    part parts[MAX_PARTS];
    /* problems seen with the answers */
    char problem[256];
} call_rec;

extern call_rec recs[CALLS];
extern test_cluster tc;

/* ---- federation_crash_checks.c: each check prints what fails ("  FAIL ...") and
 * returns how many failures it found ---- */

/* region's audit, asked as its operator; NULL when the node does not answer. */
Gongji__V1__AuditReply *crash_audit_of(const char *region);
/* Every node's audit into audits: ok, nothing open, nothing held. */
int crash_check_audits(Gongji__V1__AuditReply **audits);
/* Both sides of every cross-region payment, exactly once each. */
int crash_check_cross_lists(Gongji__V1__AuditReply **audits, size_t *n_coordinated, size_t *n_participated);
/* Every answer against its coordinator's books, and the books against the answers. */
int crash_check_answers(Gongji__V1__AuditReply **audits, size_t *remote_parts, size_t *local_parts,
                        size_t *cash_only);
/* Money, person by person: what was credited less what the answers say was paid. */
int crash_check_money(Gongji__V1__AuditReply **audits, int64_t *moved_total);

#endif
