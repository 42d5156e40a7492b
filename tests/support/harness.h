/* Test harness: real gongji-node processes on this machine, each with its own data
 * directory, config and log, driven through the client library over the transport
 * and credentials production uses: tls+tcp:// on loopback, certificates from a
 * federation CA the harness makes once per test program (deploy/pki.sh). */
#ifndef GJ_TEST_HARNESS_H
#define GJ_TEST_HARNESS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "client.h"
#include "credential.h"

typedef struct test_node {
    char region[8];
    char url[320];       /* tls+tcp://127.0.0.1:PORT (tcp:// when plaintext) */
    bool plaintext;      /* insecure_plaintext = yes, no certificates: set before tn_start */
    char dir[200];       /* everything of this node lives here */
    char config[320];
    char policy[2048];   /* lines for [policy] */
    char extra[2048];    /* extra lines for [node] */
    char peers[2048];    /* lines for [peers] */
    pid_t pid;
} test_node;

/* A node for region with the given [policy] lines ("" = defaults). Clock override is
 * on so tests can move the business date. Creates a fresh directory. */
void tn_init(test_node *tn, const char *region, const char *policy_lines);
/* Write the config and start the process; wait until Health answers. 0 on success. */
int tn_start(test_node *tn);
/* Print a running node's thread stacks (gdb) to stderr: for a node that went silent. */
void tn_print_stacks(test_node *tn);
/* Bytes the kernel holds unread on the node's established connections (ss's Recv-Q),
 * or -1 when ss cannot tell: a stopped node's growing queue shows a request reached it. */
long tn_unread_bytes(const test_node *tn);
/* The last lines of the node's log on stderr: what a failing test shows before the
 * node's directory is removed. */
void tn_print_log_tail(const test_node *tn, int lines);
/* SIGKILL and reap: the crash a power cut would be. */
void tn_kill9(test_node *tn);
/* SIGTERM and reap; returns the exit status, or -1. */
int tn_stop(test_node *tn);
/* The same, waiting at most wait_ms (then its stacks are printed and it is killed);
 * took_ms gets how long it took. A leak report that is only nng's dead listener counts
 * as a clean exit; any other unclean end prints the node's stderr. */
int tn_stop_within(test_node *tn, int wait_ms, int64_t *took_ms);
/* Stop if running and remove the directory, after looking through the node's log for a
 * person or ID number in full (SPEC §7: logs mask them): see th_log_leaks_total. */
void tn_destroy(test_node *tn);
/* Lines of tn's log holding a whole 18-character ID number or a whole person number
 * that a test enrolled (of 5 characters or more); each is printed. */
int tn_log_leaks(test_node *tn);
/* Such lines in the logs of every node destroyed so far: a teardown fails when any. */
int th_log_leaks_total(void);
/* A group teardown failed: cmocka's own result does not count it. */
void th_note_failure(void);
/* What main returns: cmocka's failures, a failed group teardown, or a logged number. */
int th_exit_status(int cmocka_failed);
/* True while the process runs. */
bool tn_alive(test_node *tn);

/* A client for the node holding the credential of the given identity, issued by the
 * test federation's CA on first use:
 *   OPERATOR     caller_id "REGION:NAME", or just a name: the node's own region's;
 *   INSTITUTION  caller_id an institution code ("H43010000001");
 *   PERSON       the test platform's credential, calling as this psn_no;
 *   PEER         the node credential of region caller_id;
 *   PLATFORM     the platform credential named caller_id.
 * A plaintext node gets a plaintext client with that identity declared. */
client_t *tn_client(test_node *tn, const char *caller_id, int role);
/* The same with another timeout for each call (tn_client's is 3000 ms). */
client_t *tn_client_ms(test_node *tn, const char *caller_id, int role, int timeout_ms);
/* The nation's operator ("000000:auditor"): may read any region. */
client_t *tn_auditor(test_node *tn);
/* A client holding cred (any credential; the caller keeps it), as cred's identity. */
client_t *tn_client_with(test_node *tn, const gj_cred *cred);

/* ---- the test federation's credentials ---- */

/* The CA directory (made on first use, removed at exit unless GONGJI_KEEP_TEST_DIRS). */
const char *th_pki_dir(void);
/* The credential of role/id (GJ_ROLE_*; issued if need be), loaded once and kept for
 * the program's life. NULL when it cannot be made (a message says why). */
const gj_cred *th_cred(int role, const char *id);
/* Paths of role/id's certificate+key file, the CA and the CRL. */
void th_cred_paths(int role, const char *id, char pem[300]);
/* Revoke role/id's certificate (its CRL is rewritten; nodes reload it within a second). */
int th_revoke(int role, const char *id);
/* A TCP port on loopback that nothing listens on now (below the ephemeral range). */
int th_free_port(void);
/* A credential for role/id from another CA, which no node of the federation trusts. The
 * loading client trusts that CA, so it can make the calls a stranger would. */
const gj_cred *th_foreign_cred(int role, const char *id);

/* A valid 18-character resident ID for serial n (GB 11643 check digit computed). */
void tn_certno(int n, char out[19]);

/* ---- one-line operations; each returns the status code and fills st when given ---- */
/* op_enroll of someone born on born (yyyymmdd): their certno says so (R18's age). */
int op_enroll_born(client_t *c, const char *psn_no, int certno_serial, int32_t born, const char *insutype,
                   const char *region, client_status *st);
int op_enroll(client_t *c, const char *psn_no, int certno_serial, const char *insutype,
              const char *region, client_status *st);
int op_set_status(client_t *c, const char *psn_no, int certno_serial, const char *insutype,
                  const char *region, int status, client_status *st);
int op_credit(client_t *c, const char *psn_no, int64_t fen, client_status *st);
int64_t op_balance(client_t *c, const char *psn_no); /* -1 on any error */
int op_bind(client_t *c, const char *sponsor, const char *beneficiary, int relation,
            client_status *st);
int op_unbind(client_t *c, const char *sponsor, const char *beneficiary, client_status *st);
/* Settle; *reply (may be NULL) gets the answer, freed by the caller. */
int op_settle(client_t *c, const char *psn_no, int64_t fen, const char *call_id,
              Gongji__V1__SettleReply **reply, client_status *st);
/* Operator/Health's answer (free it), or NULL with st. */
Gongji__V1__HealthReply *op_health(client_t *c, client_status *st);
/* The business clock at date and time_of_day ("HH:MM:SS", "" = 00:00:00), running on;
 * date 0 = back to the system clock. op_set_date is op_set_clock at 00:00:00. */
int op_set_clock(client_t *c, int32_t yyyymmdd, const char *time_of_day, client_status *st);
int op_set_date(client_t *c, int32_t yyyymmdd, client_status *st);
/* The amount sponsor psn_no paid in reply, 0 when not among the parts. */
int64_t settle_part(const Gongji__V1__SettleReply *reply, const char *psn_no);

/* ---- a local federation: the regions of deploy/cluster/, on ipc ---- */

#define TC_NODES_MAX 8
typedef struct test_cluster {
    size_t count;
    test_node nodes[TC_NODES_MAX];
} test_cluster;

/* Changsha 430100 (single sponsor, 10 per sponsor), Xiangtan 430300, Zhuzhou 430200
 * (not live), a Hunan hub 430000, Chengdu 510100 and Nagqu 540600 (pilot, cascade),
 * Fuzhou 350100 (2000-yuan floor). Hunan nodes reach everything through the hub.
 * node_extra is added to every node's [node] section. */
void tc_init(test_cluster *tc, const char *node_extra);
int tc_start(test_cluster *tc);
void tc_destroy(test_cluster *tc);
test_node *tc_node(test_cluster *tc, const char *region);

/* Operations naming regions, so any node can take them. */
/* op_bind_x with a chosen last day it pays (0 = open). */
int op_bind_until(client_t *c, const char *sponsor, const char *sponsor_region, const char *beneficiary,
                  const char *beneficiary_region, int relation, int32_t last_date, client_status *st);
int op_bind_x(client_t *c, const char *sponsor, const char *sponsor_region, const char *beneficiary,
              const char *beneficiary_region, int relation, client_status *st);
int op_settle_x(client_t *c, const char *psn_no, const char *region, int64_t fen, const char *call_id,
                Gongji__V1__SettleReply **reply, client_status *st);
/* Balance (and held, when held != NULL) of psn_no in region; -1 on error. */
int64_t op_balance_x(client_t *c, const char *psn_no, const char *region, int64_t *held);
/* The node's audit (caller frees), NULL on error. */
Gongji__V1__AuditReply *op_audit(client_t *c);

#endif
