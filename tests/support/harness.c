#include "harness.h"
#include "leak_report.h"

#include <nng/nng.h>
#include "gj_limits.h"
#include "gj_util.h"
#include "log_privacy.h"
#include "watchdog.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ctest kills a test that runs past its timeout: line by line, what it printed up to
 * then (which test was running) is kept. */
__attribute__((constructor)) static void line_buffered_output(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* A TCP port on loopback that nothing listens on now, below the ephemeral range so no
 * outgoing connection takes it meanwhile. */
/* Ports handed out are reserved in a shared directory (a file per port, made with
 * O_EXCL), so test programs running side by side never pick the same one between a
 * bind check and a node's own bind. A reservation older than an hour is a crashed run's. */
#define PORT_DIR "/tmp/gongji-test-ports"
static int reserved_ports[256];
static size_t reserved_count;

static void ports_release(void)
{
    char path[64];
    for (size_t i = 0; i < reserved_count; i++) {
        snprintf(path, sizeof path, PORT_DIR "/%d", reserved_ports[i]);
        unlink(path);
    }
}

static bool port_reserve(int port)
{
    char path[64];
    mkdir(PORT_DIR, 0777);
    snprintf(path, sizeof path, PORT_DIR "/%d", port);
    int fd = open(path, O_CREAT | O_EXCL | O_WRONLY, 0644);
    if (fd < 0) {
        struct stat sb;
        if (stat(path, &sb) != 0 || time(NULL) - sb.st_mtime < 3600 || unlink(path) != 0)
            return false;
        if ((fd = open(path, O_CREAT | O_EXCL | O_WRONLY, 0644)) < 0)
            return false;
    }
    close(fd);
    if (reserved_count == 0)
        atexit(ports_release);
    if (reserved_count < sizeof reserved_ports / sizeof reserved_ports[0])
        reserved_ports[reserved_count++] = port;
    return true;
}

int th_free_port(void)
{
    static unsigned seed;
    if (seed == 0)
        seed = (unsigned)getpid() * 2654435761u ^ (unsigned)time(NULL);
    for (int tries = 0; tries < 400; tries++) {
        int port = 20000 + (int)(rand_r(&seed) % 12000);
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0)
            continue;
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        int ok = bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
        close(fd);
        if (ok && port_reserve(port))
            return port;
    }
    fprintf(stderr, "no free port\n");
    abort();
}

void tn_init(test_node *tn, const char *region, const char *policy_lines)
{
    memset(tn, 0, sizeof *tn);
    snprintf(tn->region, sizeof tn->region, "%s", region);
    snprintf(tn->dir, sizeof tn->dir, "%s/gongji-test-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (mkdtemp(tn->dir) == NULL) {
        perror("mkdtemp");
        abort();
    }
    snprintf(tn->url, sizeof tn->url, "tls+tcp://127.0.0.1:%d", th_free_port());
    snprintf(tn->config, sizeof tn->config, "%s/node.ini", tn->dir);
    snprintf(tn->policy, sizeof tn->policy, "%s", policy_lines ? policy_lines : "");
}

bool tn_alive(test_node *tn)
{
    if (tn->pid <= 0)
        return false;
    int status;
    pid_t r = waitpid(tn->pid, &status, WNOHANG);
    if (r == tn->pid) {
        tn->pid = 0;
        return false;
    }
    return true;
}


/* The [node] lines that say how the node proves itself and checks others. */
static void trust_lines(test_node *tn, char *out, size_t size)
{
    if (tn->plaintext) {
        snprintf(out, size, "insecure_plaintext = yes\n");
        return;
    }
    char pem[300];
    if (th_cred(GJ_ROLE_PEER, tn->region) == NULL)
        abort();
    th_cred_paths(GJ_ROLE_PEER, tn->region, pem);
    snprintf(out, size, "tls_ca = %s/ca/ca.crt\ntls_cert = %s\ntls_crl = %s/ca/crl.pem\n", th_pki_dir(), pem,
             th_pki_dir());
}

/* The port of the node's listen URL, as text ("0" if it names none). */
static const char *tn_port(const test_node *tn)
{
    const char *colon = strrchr(tn->url, ':');
    return colon != NULL ? colon + 1 : "0";
}

long tn_unread_bytes(const test_node *tn)
{
    char cmd[160], line[256];
    snprintf(cmd, sizeof cmd, "ss -Htn state established '( sport = :%s )' 2>/dev/null", tn_port(tn));
    FILE *f = popen(cmd, "r");
    if (f == NULL)
        return -1;
    long sum = 0;
    while (fgets(line, sizeof line, f) != NULL)
        sum += strtol(line, NULL, 10); /* the first column: Recv-Q */
    return pclose(f) == 0 ? sum : -1;
}

/* A node that runs and does not answer: where its threads are is the finding. */
void tn_print_stacks(test_node *tn)
{
    if (!tn_alive(tn))
        return;
    char stacks[2200];
    snprintf(stacks, sizeof stacks,
             "command -v gdb >/dev/null && timeout 20 gdb -p %d -batch -ex 'thread apply all bt 12' 2>/dev/null | "
             "grep -E '^Thread|^#' | cut -c1-160 > '%s/stacks.txt'; echo 'node %s threads (%s/stacks.txt):' >&2; "
             "head -300 '%s/stacks.txt' >&2",
             (int)tn->pid, tn->dir, tn->region, tn->dir, tn->dir);
    if (system(stacks) != 0)
        fprintf(stderr, "(no stacks)\n");
    /* And its sockets: connections the kernel holds that the node never accepted, or
     * requests it never read, show in the queues. */
    char sockets[400];
    snprintf(sockets, sizeof sockets, "echo 'node %s sockets:' >&2; ss -tanpi 2>/dev/null | grep -A1 -E ':%s\\b' >&2",
             tn->region, tn_port(tn));
    if (system(sockets) != 0)
        fprintf(stderr, "(no sockets)\n");
}

int tn_start(test_node *tn)
{
    if (tn->plaintext && strncmp(tn->url, "tls+", 4) == 0)
        memmove(tn->url, tn->url + 4, strlen(tn->url + 4) + 1);
    char trust[1200];
    trust_lines(tn, trust, sizeof trust);
    FILE *f = fopen(tn->config, "w");
    if (f == NULL)
        return -1;
    fprintf(f,
            "[node]\nregion = %s\nlisten = %s\ndata_dir = %s/data\nlog_file = %s/node.log\n"
            "log_level = debug\n%scontexts = 16\n%s%s\n[policy]\n%s%s\n"
            "[peers]\n%s\n",
            tn->region, tn->url, tn->dir, tn->dir,
            strstr(tn->extra, "allow_clock_override") == NULL ? "allow_clock_override = yes\n" : "", trust, tn->extra,
            strstr(tn->policy, "live") == NULL ? "live = yes\n" : "", tn->policy, tn->peers);
    fclose(f);
    const char *bin = getenv("GONGJI_NODE_BIN");
    if (bin == NULL)
        bin = "gongji-node";
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        /* The test program's leak suppressions are not the node's: every leak of a node
         * counts (tests/lsan-nng.supp). */
        unsetenv("LSAN_OPTIONS");
        /* Its stderr (a sanitizer's report) goes to its directory; tn_stop shows it when
         * the node did not stop cleanly. */
        char errpath[sizeof tn->dir + 16];
        snprintf(errpath, sizeof errpath, "%s/stderr.txt", tn->dir);
        if (freopen(errpath, "a", stderr) == NULL)
            _exit(126);
        execl(bin, bin, "--config", tn->config, (char *)NULL);
        _exit(127);
    }
    tn->pid = pid;
    th_watch_node(pid, tn->region);
    client_t *c = tn_client_ms(tn, "harness", GONGJI__V1__ROLE__OPERATOR, 300);
    if (c == NULL)
        return -1;
    for (int i = 0; i < 100; i++) {
        Gongji__V1__HealthRequest req = GONGJI__V1__HEALTH_REQUEST__INIT;
        ProtobufCMessage *reply = NULL;
        client_status st;
        if (client_call(c, "gongji.v1.Operator/Health", NULL, NULL, &req.base,
                        &gongji__v1__health_reply__descriptor, &reply, &st) == GJ_OK &&
            st.code == 0) {
            protobuf_c_message_free_unpacked(reply, NULL);
            client_close(c);
            return 0;
        }
        if (!tn_alive(tn))
            break;
        sleep_ms(50);
        /* nng 1.5.2's dialer can stop trying after a refused or cut first attempt (a
         * node still starting, slowly under the sanitizers): a fresh client dials anew. */
        if (i % 10 == 9) {
            client_close(c);
            if ((c = tn_client_ms(tn, "harness", GONGJI__V1__ROLE__OPERATOR, 300)) == NULL)
                return -1;
        }
    }
    client_close(c);
    fprintf(stderr, "node %s did not come up (%s); see %s/node.log, which ends:\n", tn->region,
            tn_alive(tn) ? "running, not answering" : "exited", tn->dir);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "tail -4 '%s/node.log' | cut -c1-300 >&2", tn->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "(no log)\n");
    if (tn_alive(tn))
        tn_print_stacks(tn);
    return -1;
}

void tn_print_log_tail(const test_node *tn, int lines)
{
    char cmd[sizeof tn->dir + 120];
    fprintf(stderr, "node %s (%s), its log ends:\n", tn->region, tn->pid > 0 ? "started" : "stopped");
    snprintf(cmd, sizeof cmd, "tail -n %d '%s/node.log' 2>/dev/null | cut -c1-300 >&2", lines > 0 ? lines : 10,
             tn->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "(no log)\n");
}

void tn_kill9(test_node *tn)
{
    if (tn->pid > 0) {
        kill(tn->pid, SIGKILL);
        waitpid(tn->pid, NULL, 0);
        tn->pid = 0;
    }
}

/* Whether a node's LeakSanitizer report holds only what nng loses at exit
 * (leak_report.h). */
static bool only_nng_listener_leaked(const test_node *tn)
{
    char path[sizeof tn->dir + 16];
    snprintf(path, sizeof path, "%s/stderr.txt", tn->dir);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return false;
    bool only = leak_report_only_nng_teardown(f);
    fclose(f);
    return only;
}

static void show_stderr(const test_node *tn)
{
    char cmd[sizeof tn->dir + 80];
    snprintf(cmd, sizeof cmd, "cat '%s/stderr.txt' >&2 2>/dev/null", tn->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "(node %s wrote nothing to stderr)\n", tn->region);
}

int tn_stop_within(test_node *tn, int wait_ms, int64_t *took_ms)
{
    if (tn->pid <= 0)
        return -1;
    int64_t began = gj_mono_ms();
    kill(tn->pid, SIGTERM);
    int status = 0;
    while (gj_mono_ms() - began <= wait_ms) {
        if (waitpid(tn->pid, &status, WNOHANG) == tn->pid) {
            if (took_ms != NULL)
                *took_ms = gj_mono_ms() - began;
            tn->pid = 0;
            int rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
            /* LeakSanitizer exits 23, or aborts under abort_on_error. */
            bool lsan = rc == 23 || (WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
            if (lsan && only_nng_listener_leaked(tn)) {
                fprintf(stderr, "node %s: leaked only what nng keeps of connections cut at exit; accepted\n",
                        tn->region);
                return 0;
            }
            if (rc != 0) {
                if (WIFSIGNALED(status))
                    fprintf(stderr, "node %s ended by signal %d\n", tn->region, WTERMSIG(status));
                show_stderr(tn);
            }
            return rc;
        }
        sleep_ms(20);
    }
    if (took_ms != NULL)
        *took_ms = gj_mono_ms() - began;
    fprintf(stderr, "node %s still running %d ms after SIGTERM; its threads:\n", tn->region, wait_ms);
    tn_print_stacks(tn);
    tn_kill9(tn);
    return -1;
}

int tn_stop(test_node *tn)
{
    /* The node's own bound, and a little: a test that wants a quicker stop asks for it. */
    return tn_stop_within(tn, GJ_STOP_BOUND_MS + 2000, NULL);
}

static bool teardown_failed;

void th_note_failure(void)
{
    teardown_failed = true;
}

int th_exit_status(int cmocka_failed)
{
    int leaks_total = th_log_leaks_total();
    if (leaks_total > 0)
        fprintf(stderr, "FAILED: %d log lines hold a person or ID number in full\n", leaks_total);
    if (teardown_failed)
        fprintf(stderr, "FAILED: a group teardown failed (a node did not stop cleanly, or see above)\n");
    return cmocka_failed != 0 || teardown_failed || leaks_total > 0 ? 1 : 0;
}

void tn_destroy(test_node *tn)
{
    if (tn->pid > 0)
        tn_stop(tn);
    if (tn->dir[0] != '\0')
        th_count_log_leaks(tn);
    if (getenv("GONGJI_KEEP_TEST_DIRS") == NULL && tn->dir[0] != '\0') {
        char cmd[400];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tn->dir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", tn->dir);
    }
}

client_t *tn_client_with(test_node *tn, const gj_cred *cred)
{
    client_t *c = NULL;
    if (client_open_with(&c, tn->url, 3000, tn->plaintext ? NULL : cred) != GJ_OK)
        return NULL;
    if (tn->plaintext && cred != NULL)
        client_set_identity(c, gj_cred_identity(cred)->id, gj_cred_identity(cred)->role);
    return c;
}

/* The platform every test person calls through. */
#define TEST_PLATFORM "test-platform"

client_t *tn_client_ms(test_node *tn, const char *caller_id, int role, int timeout_ms)
{
    char id[GJ_CALLER_ID_MAX + 1];
    const char *name = caller_id != NULL ? caller_id : "op-1";
    int cred_role = role;
    if (role == GONGJI__V1__ROLE__OPERATOR && strchr(name, ':') == NULL)
        snprintf(id, sizeof id, "%s:%s", tn->region, name); /* the node's own operator */
    else if (role == GONGJI__V1__ROLE__PERSON)
        snprintf(id, sizeof id, "%s", TEST_PLATFORM), cred_role = GJ_ROLE_PLATFORM;
    else
        snprintf(id, sizeof id, "%s", name);
    const gj_cred *cred = tn->plaintext ? NULL : th_cred(cred_role, id);
    if (cred == NULL && !tn->plaintext)
        return NULL;
    client_t *c = NULL;
    if (client_open_with(&c, tn->url, timeout_ms, cred) != GJ_OK)
        return NULL;
    if (role == GONGJI__V1__ROLE__PERSON)
        client_set_identity(c, name, role);
    else if (tn->plaintext)
        client_set_identity(c, id, role);
    return c;
}

client_t *tn_client(test_node *tn, const char *caller_id, int role)
{
    return tn_client_ms(tn, caller_id, role, 3000);
}

client_t *tn_auditor(test_node *tn)
{
    return tn_client(tn, "000000:auditor", GONGJI__V1__ROLE__OPERATOR);
}

void tn_certno(int n, char out[19])
{
    /* Region 430102, born 1980-01-01, serial n (3 digits). */
    snprintf(out, 19, "43010219800101%03d", n % 1000);
    out[17] = gj_certno_check_char(out);
    out[18] = '\0';
}

static int call(client_t *c, const char *method, const char *call_id, ProtobufCMessage *req,
                const ProtobufCMessageDescriptor *desc, ProtobufCMessage **reply,
                client_status *st)
{
    client_status local;
    if (st == NULL)
        st = &local;
    ProtobufCMessage *ans = NULL;
    client_call(c, method, call_id, NULL, req, desc, &ans, st);
    if (reply != NULL)
        *reply = ans;
    else if (ans != NULL)
        protobuf_c_message_free_unpacked(ans, NULL);
    return st->code;
}

static int enroll_with_certno(client_t *c, const char *psn_no, const char *certno, const char *insutype,
                              const char *region, int status, client_status *st);

int op_set_status(client_t *c, const char *psn_no, int certno_serial, const char *insutype,
                  const char *region, int status, client_status *st)
{
    char certno[19];
    tn_certno(certno_serial, certno);
    return enroll_with_certno(c, psn_no, certno, insutype, region, status, st);
}

int op_enroll_born(client_t *c, const char *psn_no, int certno_serial, int32_t born, const char *insutype,
                   const char *region, client_status *st)
{
    char certno[19];
    snprintf(certno, sizeof certno, "430102%08d%03d", (int)born, certno_serial % 1000);
    certno[17] = gj_certno_check_char(certno);
    certno[18] = '\0';
    return enroll_with_certno(c, psn_no, certno, insutype, region, GONGJI__V1__PERSON_STATUS__ACTIVE, st);
}

static int enroll_with_certno(client_t *c, const char *psn_no, const char *certno, const char *insutype,
                              const char *region, int status, client_status *st)
{
    th_remember_psn(psn_no);
    Gongji__V1__Person p = GONGJI__V1__PERSON__INIT;
    p.psn_no = (char *)psn_no;
    p.certno = (char *)certno;
    p.psn_name = "test";
    p.insutype = (char *)insutype;
    p.insuplc_admdvs = (char *)region;
    p.status = (Gongji__V1__PersonStatus)status;
    Gongji__V1__EnrollRequest req = GONGJI__V1__ENROLL_REQUEST__INIT;
    req.person = &p;
    return call(c, "gongji.v1.Registry/Enroll", NULL, &req.base,
                &gongji__v1__enroll_reply__descriptor, NULL, st);
}

int op_enroll(client_t *c, const char *psn_no, int certno_serial, const char *insutype,
              const char *region, client_status *st)
{
    return op_set_status(c, psn_no, certno_serial, insutype, region, GONGJI__V1__PERSON_STATUS__ACTIVE,
                         st);
}

int op_credit(client_t *c, const char *psn_no, int64_t fen, client_status *st)
{
    Gongji__V1__CreditRequest req = GONGJI__V1__CREDIT_REQUEST__INIT;
    req.psn_no = (char *)psn_no;
    req.amount = fen;
    return call(c, "gongji.v1.Registry/Credit", NULL, &req.base,
                &gongji__v1__credit_reply__descriptor, NULL, st);
}

int64_t op_balance(client_t *c, const char *psn_no)
{
    Gongji__V1__BalanceRequest req = GONGJI__V1__BALANCE_REQUEST__INIT;
    req.psn_no = (char *)psn_no;
    ProtobufCMessage *reply = NULL;
    if (call(c, "gongji.v1.Settlement/Balance", NULL, &req.base,
             &gongji__v1__balance_reply__descriptor, &reply, NULL) != 0 || reply == NULL)
        return -1;
    Gongji__V1__BalanceReply *b = (Gongji__V1__BalanceReply *)reply;
    int64_t balance = b->balance ? b->balance->balance : -1;
    protobuf_c_message_free_unpacked(reply, NULL);
    return balance;
}

int op_bind(client_t *c, const char *sponsor, const char *beneficiary, int relation,
            client_status *st)
{
    Gongji__V1__BindRequest req = GONGJI__V1__BIND_REQUEST__INIT;
    req.sponsor_psn_no = (char *)sponsor;
    req.beneficiary_psn_no = (char *)beneficiary;
    req.relation = (Gongji__V1__Relation)relation;
    return call(c, "gongji.v1.MutualAid/Bind", NULL, &req.base, &gongji__v1__bind_reply__descriptor,
                NULL, st);
}

int op_unbind(client_t *c, const char *sponsor, const char *beneficiary, client_status *st)
{
    Gongji__V1__UnbindRequest req = GONGJI__V1__UNBIND_REQUEST__INIT;
    req.sponsor_psn_no = (char *)sponsor;
    req.beneficiary_psn_no = (char *)beneficiary;
    return call(c, "gongji.v1.MutualAid/Unbind", NULL, &req.base,
                &gongji__v1__unbind_reply__descriptor, NULL, st);
}

int op_settle(client_t *c, const char *psn_no, int64_t fen, const char *call_id,
              Gongji__V1__SettleReply **reply, client_status *st)
{
    Gongji__V1__SettleRequest req = GONGJI__V1__SETTLE_REQUEST__INIT;
    req.psn_no = (char *)psn_no;
    req.amount = fen;
    req.use = GONGJI__V1__USE_TYPE__OUTPATIENT;
    req.fixmedins_code = "H43010100001";
    return call(c, "gongji.v1.Settlement/Settle", call_id, &req.base,
                &gongji__v1__settle_reply__descriptor, (ProtobufCMessage **)reply, st);
}

Gongji__V1__HealthReply *op_health(client_t *c, client_status *st)
{
    Gongji__V1__HealthRequest req = GONGJI__V1__HEALTH_REQUEST__INIT;
    ProtobufCMessage *reply = NULL;
    if (call(c, "gongji.v1.Operator/Health", NULL, &req.base, &gongji__v1__health_reply__descriptor, &reply,
             st) != 0 && reply != NULL) {
        protobuf_c_message_free_unpacked(reply, NULL);
        reply = NULL;
    }
    return (Gongji__V1__HealthReply *)reply;
}

int op_set_date(client_t *c, int32_t yyyymmdd, client_status *st)
{
    return op_set_clock(c, yyyymmdd, "", st);
}

int op_set_clock(client_t *c, int32_t yyyymmdd, const char *time_of_day, client_status *st)
{
    Gongji__V1__SetClockRequest req = GONGJI__V1__SET_CLOCK_REQUEST__INIT;
    req.business_date = yyyymmdd;
    req.time_of_day = (char *)time_of_day;
    return call(c, "gongji.v1.Operator/SetClock", NULL, &req.base,
                &gongji__v1__health_reply__descriptor, NULL, st);
}

int64_t settle_part(const Gongji__V1__SettleReply *reply, const char *psn_no)
{
    for (size_t i = 0; reply && i < reply->n_parts; i++)
        if (strcmp(reply->parts[i]->sponsor_psn_no, psn_no) == 0)
            return reply->parts[i]->amount;
    return 0;
}

int op_bind_x(client_t *c, const char *sponsor, const char *sponsor_region, const char *beneficiary,
              const char *beneficiary_region, int relation, client_status *st)
{
    return op_bind_until(c, sponsor, sponsor_region, beneficiary, beneficiary_region, relation, 0, st);
}

int op_bind_until(client_t *c, const char *sponsor, const char *sponsor_region, const char *beneficiary,
                  const char *beneficiary_region, int relation, int32_t last_date, client_status *st)
{
    Gongji__V1__BindRequest req = GONGJI__V1__BIND_REQUEST__INIT;
    req.last_date = last_date;
    req.sponsor_psn_no = (char *)sponsor;
    req.beneficiary_psn_no = (char *)beneficiary;
    req.sponsor_admdvs = (char *)sponsor_region;
    req.beneficiary_admdvs = (char *)beneficiary_region;
    req.relation = (Gongji__V1__Relation)relation;
    return call(c, "gongji.v1.MutualAid/Bind", NULL, &req.base, &gongji__v1__bind_reply__descriptor,
                NULL, st);
}

int op_settle_x(client_t *c, const char *psn_no, const char *region, int64_t fen, const char *call_id,
                Gongji__V1__SettleReply **reply, client_status *st)
{
    Gongji__V1__SettleRequest req = GONGJI__V1__SETTLE_REQUEST__INIT;
    req.psn_no = (char *)psn_no;
    req.amount = fen;
    req.use = GONGJI__V1__USE_TYPE__OUTPATIENT;
    req.insuplc_admdvs = (char *)region;
    return call(c, "gongji.v1.Settlement/Settle", call_id, &req.base,
                &gongji__v1__settle_reply__descriptor, (ProtobufCMessage **)reply, st);
}

int64_t op_balance_x(client_t *c, const char *psn_no, const char *region, int64_t *held)
{
    Gongji__V1__BalanceRequest req = GONGJI__V1__BALANCE_REQUEST__INIT;
    req.psn_no = (char *)psn_no;
    ProtobufCMessage *reply = NULL;
    client_status st;
    client_call(c, "gongji.v1.Settlement/Balance", NULL, region, &req.base,
                &gongji__v1__balance_reply__descriptor, &reply, &st);
    if (st.code != 0 || reply == NULL) {
        if (reply)
            protobuf_c_message_free_unpacked(reply, NULL);
        return -1;
    }
    Gongji__V1__BalanceReply *b = (Gongji__V1__BalanceReply *)reply;
    int64_t balance = b->balance ? b->balance->balance : -1;
    if (held)
        *held = b->balance ? b->balance->held : -1;
    protobuf_c_message_free_unpacked(reply, NULL);
    return balance;
}

Gongji__V1__AuditReply *op_audit(client_t *c)
{
    Gongji__V1__AuditRequest req = GONGJI__V1__AUDIT_REQUEST__INIT;
    ProtobufCMessage *reply = NULL;
    client_status st;
    client_call(c, "gongji.v1.Operator/Audit", NULL, NULL, &req.base,
                &gongji__v1__audit_reply__descriptor, &reply, &st);
    if (st.code != 0 && reply) {
        protobuf_c_message_free_unpacked(reply, NULL);
        reply = NULL;
    }
    return (Gongji__V1__AuditReply *)reply;
}
