/* gongji-bench's cluster: its options, the credentials it makes, and its three nodes
 * (started, found by URL, measured). gongji_bench.c drives the runs. */
#include "bench_nodes.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

const char *const region_codes[REGIONS] = {"510100", "510300", "510400"};


options opt = {.seconds = 10, .concurrency = 32, .people = 10000, .base_port = 17100, .rounds = 3};

/* Which half of the run is going: authenticated (TLS, sealed) or plaintext. */
bool authenticated;
/* The credentials of the authenticated half: the institution that settles and each
 * region's operator (for the store counters). */
static gj_cred *institution_cred;
static gj_cred *operator_cred[REGIONS];
char pki_dir[600];

int make_pki(void)
{
    char cmd[2048];
    snprintf(pki_dir, sizeof pki_dir, "%s/pki", opt.dir);
    snprintf(cmd, sizeof cmd, "bash '%s' cluster '%s' %s %s %s >/dev/null && bash '%s' issue '%s' institution H51010000001 >/dev/null",
             opt.pki_script, pki_dir, region_codes[0], region_codes[1], region_codes[2], opt.pki_script, pki_dir);
    if (system(cmd) != 0) {
        fprintf(stderr, "gongji-bench: %s could not make the credentials\n", opt.pki_script);
        return -1;
    }
    char ca[700], crl[700], pem[700], err[512];
    snprintf(ca, sizeof ca, "%s/ca.crt", pki_dir);
    snprintf(crl, sizeof crl, "%s/crl.pem", pki_dir);
    snprintf(pem, sizeof pem, "%s/institution-H51010000001.pem", pki_dir);
    gj_cred_files f = {ca, pem, NULL, crl};
    if (gj_cred_open(&institution_cred, &f, err, sizeof err) != GJ_OK) {
        fprintf(stderr, "gongji-bench: %s\n", err);
        return -1;
    }
    for (int r = 0; r < REGIONS; r++) {
        snprintf(pem, sizeof pem, "%s/operator-%s-ops1.pem", pki_dir, region_codes[r]);
        if (gj_cred_open(&operator_cred[r], &f, err, sizeof err) != GJ_OK) {
            fprintf(stderr, "gongji-bench: %s\n", err);
            return -1;
        }
    }
    return 0;
}

/* A client for url as the institution (settlements) or region's operator. */
client_t *open_client(const char *url, int timeout_ms, int operator_region)
{
    client_t *c = NULL;
    const gj_cred *cred = !authenticated ? NULL : operator_region >= 0 ? operator_cred[operator_region] : institution_cred;
    if (client_open_with(&c, url, timeout_ms, cred) != GJ_OK)
        return NULL;
    if (!authenticated) {
        char op[32];
        snprintf(op, sizeof op, "%s:ops1", operator_region >= 0 ? region_codes[operator_region] : "");
        if (operator_region >= 0)
            client_set_identity(c, op, GONGJI__V1__ROLE__OPERATOR);
        else
            client_set_identity(c, "H51010000001", GONGJI__V1__ROLE__INSTITUTION);
    }
    return c;
}

int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---- nodes ---- */

pid_t node_pids[REGIONS];
pid_t echo_pid;

void url_of(int region, char *out, size_t size)
{
    snprintf(out, size, "%s://127.0.0.1:%d", authenticated ? "tls+tcp" : "tcp", opt.base_port + region);
}

int region_of_url(const char *url)
{
    for (int r = 0; r < REGIONS; r++) {
        char u[64];
        url_of(r, u, sizeof u);
        if (strcmp(u, url) == 0)
            return r;
    }
    return 0;
}

pid_t spawn(char *const argv[], const char *log_path)
{
    pid_t pid = fork();
    if (pid == 0) {
        int fd = log_path ? open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0644) : -1;
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execv(argv[0], argv);
        _exit(127);
    }
    return pid;
}

int start_node(int region)
{
    char dir[512], cfg[600], data[600], log[600], url[64], trust[2600];
    snprintf(dir, sizeof dir, "%s/%s", opt.dir, region_codes[region]);
    snprintf(data, sizeof data, "%s/data", dir);
    snprintf(cfg, sizeof cfg, "%s/node.ini", dir);
    snprintf(log, sizeof log, "%s/node.log", dir);
    url_of(region, url, sizeof url);
    if (authenticated)
        snprintf(trust, sizeof trust, "tls_ca = %s/ca.crt\ntls_cert = %s/node-%s.pem\ntls_crl = %s/crl.pem\n", pki_dir,
                 pki_dir, region_codes[region], pki_dir);
    else
        snprintf(trust, sizeof trust, "insecure_plaintext = yes\n");
    FILE *f = fopen(cfg, "w");
    if (f == NULL)
        return -1;
    fprintf(f, "[node]\nregion = %s\nlisten = %s\ndata_dir = %s\nlog_file = %s\nlog_level = warn\n"
               "contexts = 256\nworkers = 128\n%s%s[policy]\nlive = yes\nrelations = all\ncascade = yes\n[peers]\n",
            region_codes[region], url, data, log, trust, opt.node_extra ? opt.node_extra : "");
    for (int p = 0; p < REGIONS; p++) {
        char purl[64];
        url_of(p, purl, sizeof purl);
        if (p != region)
            fprintf(f, "%s = %s\n", region_codes[p], purl);
    }
    fclose(f);
    char *argv[] = {(char *)opt.node_bin, "--config", cfg, NULL};
    node_pids[region] = spawn(argv, NULL);
    client_t *c = open_client(url, 300, region);
    if (c == NULL)
        return -1;
    for (int i = 0; i < 200; i++) {
        Gongji__V1__HealthRequest req = GONGJI__V1__HEALTH_REQUEST__INIT;
        client_status st;
        ProtobufCMessage *ans = NULL;
        if (client_call(c, "gongji.v1.Operator/Health", NULL, NULL, &req.base,
                        &gongji__v1__health_reply__descriptor, &ans, &st) == GJ_OK && st.code == 0) {
            protobuf_c_message_free_unpacked(ans, NULL);
            client_close(c);
            return 0;
        }
        sleep_ms(50);
    }
    client_close(c);
    fprintf(stderr, "node %s did not start; see %s\n", region_codes[region], log);
    return -1;
}

/* Resident memory of a node: heap and stacks (anonymous) apart from the LMDB file's
 * pages mapped in (file-backed, the kernel's page cache, shared and reclaimable). */
void rss_kb(pid_t pid, long *anon, long *file)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    *anon = *file = -1;
    while (f && fgets(line, sizeof line, f)) {
        if (strncmp(line, "RssAnon:", 8) == 0)
            *anon = atol(line + 8);
        if (strncmp(line, "RssFile:", 8) == 0)
            *file = atol(line + 8);
    }
    if (f)
        fclose(f);
}
