/* gongji-bench: settlement throughput and latency of a local three-node cluster,
 * authenticated as in production (TLS on every link, every request sealed by a session
 * opened with a federation certificate) and then the same runs in plaintext, against
 * the transport's ceiling (an nng echo of the same message size and concurrency) and
 * PostgreSQL doing the equivalent durable debit (pg_peer.sh), all measured in one run
 * on this machine. See docs/performance.md. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "bench_credit.h"
#include "bench_load.h"
#include "gateway_run.h"
#include "references.h"
#include "credential.h"
#include "tls.h"
#include "gj_limits.h"
#include "gj_util.h"
#include "store.h"

#include "bench_nodes.h"

/* ---- load generation ---- */

typedef struct result {
    const char *name;
    double tps;
    double p50_ms, p99_ms, p999_ms;
    uint64_t ok, failed;
} result;

typedef struct driver {
    int id;
    const char *url;
    int scenario; /* 0 local, 1 cross, 2 cross2, 3 echo */
    int64_t until_us;
    uint64_t ok, failed;
    size_t n_lat, cap_lat;
    uint32_t *lat_us;
    const uint8_t *echo_bytes;
    size_t echo_len;
} driver;

static const char *const prefixes[] = {"AL", "AX", "AY"};

static void *drive(void *arg)
{
    driver *d = arg;
    client_t *c = NULL;
    if ((c = open_client(d->url, 10000, -1)) == NULL)
        return NULL;
    uint64_t n = 0;
    unsigned seed = (unsigned)d->id * 7919u + 17;
    while (now_us() < d->until_us) {
        int64_t t0 = now_us();
        bool ok;
        if (d->scenario == 3) {
            Gongji__V1__Reply *reply = NULL;
            ok = client_call_raw(c, d->echo_bytes, d->echo_len, &reply) != GJ_ERR_TRANSPORT;
            if (reply)
                gongji__v1__reply__free_unpacked(reply, NULL);
        } else {
            char psn[32], call_id[48];
            int who = (int)((d->id + n * (uint64_t)opt.concurrency) % (uint64_t)opt.people);
            snprintf(psn, sizeof psn, "%s%d", prefixes[d->scenario], who);
            if (opt.random_ids)
                snprintf(call_id, sizeof call_id, "%08x%08x%08x%08x", (unsigned)rand_r(&seed),
                         (unsigned)rand_r(&seed), (unsigned)rand_r(&seed), (unsigned)n);
            else
                client_new_call_id(call_id);
            Gongji__V1__SettleRequest req = GONGJI__V1__SETTLE_REQUEST__INIT;
            req.psn_no = psn;
            req.amount = 100 + rand_r(&seed) % 5000;
            req.use = GONGJI__V1__USE_TYPE__OUTPATIENT;
            client_status st;
            ProtobufCMessage *ans = NULL;
            client_call(c, "gongji.v1.Settlement/Settle", call_id, NULL, &req.base,
                        &gongji__v1__settle_reply__descriptor, &ans, &st);
            ok = st.code == 0;
            if (ok && d->scenario > 0) {
                /* A cross-region run that silently paid cash would measure nothing. */
                Gongji__V1__SettleReply *r = (Gongji__V1__SettleReply *)ans;
                ok = r->acct_mulaid_pay == req.amount;
            }
            if (ans)
                protobuf_c_message_free_unpacked(ans, NULL);
        }
        int64_t dt = now_us() - t0;
        if (n++ == 0)
            continue; /* the first call also sets up the connection: not counted, as pgbench */
        if (!ok) {
            d->failed++;
            continue;
        }
        d->ok++;
        if (d->n_lat == d->cap_lat) {
            d->cap_lat = d->cap_lat ? d->cap_lat * 2 : 4096;
            d->lat_us = realloc(d->lat_us, d->cap_lat * sizeof *d->lat_us);
        }
        d->lat_us[d->n_lat++] = (uint32_t)(dt > UINT32_MAX ? UINT32_MAX : dt);
    }
    client_close(c);
    return NULL;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* The coordinator's store counters, to show what group commit did during a run. */
static bool store_counters(const char *url, uint64_t out[6])
{
    client_t *c = open_client(url, 2000, region_of_url(url));
    if (c == NULL)
        return false;
    Gongji__V1__HealthRequest req = GONGJI__V1__HEALTH_REQUEST__INIT;
    client_status st;
    ProtobufCMessage *ans = NULL;
    client_call(c, "gongji.v1.Operator/Health", NULL, NULL, &req.base, &gongji__v1__health_reply__descriptor,
                &ans, &st);
    client_close(c);
    if (ans == NULL)
        return false;
    Gongji__V1__HealthReply *h = (Gongji__V1__HealthReply *)ans;
    out[0] = h->store_commits;
    out[1] = h->store_requests;
    out[2] = h->store_apply_us;
    out[3] = h->store_commit_us;
    out[4] = h->peer_coalescable_calls;
    out[5] = h->peer_coalescable_messages;
    protobuf_c_message_free_unpacked(ans, NULL);
    return true;
}

/* A writer's figures over a run: commits, requests per commit, time per batch, and how
 * much of the run it spent applying and committing (near 100 %: requests queue for it). */
static void print_writer(const char *who, const uint64_t before[6], const uint64_t after[6],
                         double elapsed_s)
{
    uint64_t commits = after[0] - before[0], jobs = after[1] - before[1];
    uint64_t apply_us = after[2] - before[2], commit_us = after[3] - before[3];
    printf("%-22s %s: %" PRIu64 " commits, %.1f requests each, %.2f ms to apply a batch, "
           "%.2f ms to commit it, writer busy %.0f %%\n", "", who, commits,
           (double)jobs / (double)commits, (double)apply_us / 1000.0 / (double)commits,
           (double)commit_us / 1000.0 / (double)commits,
           100.0 * (double)(apply_us + commit_us) / (elapsed_s * 1e6));
}

static result run(const char *name, const char *url, int scenario, const uint8_t *echo, size_t echo_len)
{
    uint64_t before[6] = {0}, after[6] = {0};
    bool counted = scenario != 3 && store_counters(url, before);
    /* The sponsors' nodes too, for the cross-region runs: their writers are half of it. */
    uint64_t peer_before[REGIONS][6] = {{0}}, peer_after[REGIONS][6] = {{0}};
    bool peer_counted[REGIONS] = {false};
    for (int region = 1; region < REGIONS && counted && scenario != 0; region++) {
        char peer_url[64];
        url_of(region, peer_url, sizeof peer_url);
        peer_counted[region] = store_counters(peer_url, peer_before[region]);
    }
    driver *d = calloc((size_t)opt.concurrency, sizeof *d);
    pthread_t *t = calloc((size_t)opt.concurrency, sizeof *t);
    int64_t start = now_us(), until = start + (int64_t)opt.seconds * 1000000;
    for (int i = 0; i < opt.concurrency; i++) {
        d[i] = (driver){.id = i, .url = url, .scenario = scenario, .until_us = until,
                        .echo_bytes = echo, .echo_len = echo_len};
        pthread_create(&t[i], NULL, drive, &d[i]);
    }
    result r = {.name = name};
    size_t total = 0;
    for (int i = 0; i < opt.concurrency; i++) {
        pthread_join(t[i], NULL);
        r.ok += d[i].ok;
        r.failed += d[i].failed;
        total += d[i].n_lat;
    }
    double elapsed = (double)(now_us() - start) / 1e6;
    uint32_t *all = malloc((total ? total : 1) * sizeof *all);
    size_t k = 0;
    for (int i = 0; i < opt.concurrency; i++) {
        if (d[i].n_lat > 0) /* a caller that got nothing in has no array */
            memcpy(all + k, d[i].lat_us, d[i].n_lat * sizeof *all);
        k += d[i].n_lat;
        free(d[i].lat_us);
    }
    qsort(all, total, sizeof *all, cmp_u32);
    r.tps = (double)r.ok / elapsed;
    if (total) {
        r.p50_ms = all[total / 2] / 1000.0;
        r.p99_ms = all[(size_t)((double)total * 0.99)] / 1000.0;
        r.p999_ms = all[(size_t)((double)total * 0.999)] / 1000.0;
    }
    printf("%-22s %10.0f tps   p50 %7.2f ms   p99 %7.2f ms   p99.9 %7.2f ms   ok %" PRIu64 " failed %" PRIu64 "\n",
           name, r.tps, r.p50_ms, r.p99_ms, r.p999_ms, r.ok, r.failed);
    if (counted && store_counters(url, after) && after[0] > before[0]) {
        print_writer("coordinator", before, after, elapsed);
        for (int region = 1; region < REGIONS; region++) {
            char peer_url[64], who[32];
            url_of(region, peer_url, sizeof peer_url);
            snprintf(who, sizeof who, "sponsors' node %s", region_codes[region]);
            /* Only a node that did more than a commit or two during the run. */
            if (peer_counted[region] && store_counters(peer_url, peer_after[region]) &&
                peer_after[region][0] > peer_before[region][0] + 2)
                print_writer(who, peer_before[region], peer_after[region], elapsed);
        }
        if (after[5] > before[5])
            printf("%-22s coordinator: %" PRIu64 " hold/post calls to peers in %" PRIu64
                   " messages (%.1f each)\n", "", after[4] - before[4], after[5] - before[5],
                   (double)(after[4] - before[4]) / (double)(after[5] - before[5]));
    }
    fflush(stdout);
    free(all);
    free(d);
    free(t);
    return r;
}

/* For the credit run: the coordinator's writer counters, its operator, and a local
 * settlement run. */
static bool writer_counters(const char *url, uint64_t out[4])
{
    uint64_t all[6];
    if (!store_counters(url, all))
        return false;
    memcpy(out, all, 4 * sizeof *out);
    return true;
}

static client_t *open_operator0(const char *url)
{
    return open_client(url, 30000, 0);
}

static double local_p99(void *arg, const char *label)
{
    return run(label, (const char *)arg, 0, NULL, 0).p99_ms;
}

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: gongji-bench [options]\n"
            "\n"
            "Start a three-node cluster (510100 coordinates; 510300 and 510400 hold the remote\n"
            "sponsors), load it, and drive settlements with K requests in flight for T seconds,\n"
            "first authenticated (TLS, certificates, every request sealed), then the same runs\n"
            "in plaintext:\n"
            "  local   sponsor on the coordinator's node\n"
            "  cross   one remote sponsor\n"
            "  cross2  two remote sponsors in the order (the first has nothing to share)\n"
            "then an nng echo of the same message size and concurrency, and PostgreSQL doing\n"
            "the same durable debit (../shared/bench/pg_peer.sh) when it can. Ends with a\n"
            "RESULT line.\n"
            "\n"
            "  --quick            3 s per run, 2000 people per region, one round (about a\n"
            "                     minute in all)\n"
            "  --rounds N         authenticated/plaintext pairs per scenario, alternating; each\n"
            "                     half's figure is its mean over the rounds (default 3)\n"
            "  --seconds T        seconds per run (default 10)\n"
            "  --concurrency K    requests in flight (default 32, as pg_peer.sh)\n"
            "  --people N         people per scenario and region (default 10000)\n"
            "  --port P           first TCP port (default 17100; uses P..P+3)\n"
            "  --node-bin PATH    gongji-node to run (default: next to this binary's build)\n"
            "  --pg-script PATH   pg_peer.sh (default ../shared/bench/pg_peer.sh)\n"
            "  --pki PATH         deploy/pki.sh, to make the credentials (default $GONGJI_PKI,\n"
            "                     else the source tree's)\n"
            "  --no-pg            skip PostgreSQL\n"
            "  --dir DIR          where the nodes keep data (default a new /tmp directory)\n"
            "  --keep             leave the data directory\n"
            "  --node-config TEXT lines added to every node's [node] section, e.g.\n"
            "                     $'commit_gather_us = 300\\n'\n"
            "  --only NAME        run only local, cross or cross2 (no references, no RESULT):\n"
            "                     for profiling one path (authenticated; with --plaintext, in\n"
            "                     plaintext); or credit: monthly credits (CreditBatch) alone\n"
            "                     and while local settlements run; or gateway: HIS 2207s\n"
            "                     over HTTPS through gongji-gateway\n"
            "  --history S        with --only credit: settle locally for S seconds first, so\n"
            "                     the credits meet a store with history, as in a full run\n"
            "  --random-ids       call ids in no order (default: the client library's, which\n"
            "                     begin with the time)\n");
}

int main(int argc, char **argv)
{
    static const struct option longs[] = {
        {"quick", no_argument, NULL, 'q'},       {"seconds", required_argument, NULL, 's'},
        {"concurrency", required_argument, NULL, 'k'}, {"people", required_argument, NULL, 'n'},
        {"port", required_argument, NULL, 'p'},  {"node-bin", required_argument, NULL, 'b'},
        {"pg-script", required_argument, NULL, 'g'}, {"no-pg", no_argument, NULL, 'x'},
        {"dir", required_argument, NULL, 'd'},   {"keep", no_argument, NULL, 'K'},
        {"echo-server", required_argument, NULL, 'E'}, {"help", no_argument, NULL, 'h'},
        {"node-config", required_argument, NULL, 'C'}, {"only", required_argument, NULL, 'O'},
        {"random-ids", no_argument, NULL, 'R'}, {"pki", required_argument, NULL, 'P'},
        {"plaintext", no_argument, NULL, 'T'}, {"rounds", required_argument, NULL, 'r'},
        {"history", required_argument, NULL, 'H'}, {NULL, 0, NULL, 0}};
    int c;
    bool seconds_set = false, people_set = false;
    const char *echo_url_arg = NULL;
    bool rounds_set = false;
    while ((c = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
        switch (c) {
        case 'q': opt.quick = true; break;
        case 's': opt.seconds = atoi(optarg); seconds_set = true; break;
        case 'k': opt.concurrency = atoi(optarg); break;
        case 'n': opt.people = atoi(optarg); people_set = true; break;
        case 'p': opt.base_port = atoi(optarg); break;
        case 'b': opt.node_bin = optarg; break;
        case 'g': opt.pg_script = optarg; break;
        case 'x': opt.no_pg = true; break;
        case 'd': opt.dir = optarg; break;
        case 'K': opt.keep = true; break;
        case 'E': echo_url_arg = optarg; break;
        case 'C': opt.node_extra = optarg; break;
        case 'O': opt.only = optarg; break;
        case 'R': opt.random_ids = true; break;
        case 'P': opt.pki_script = optarg; break;
        case 'T': opt.plaintext_only = true; break;
        case 'r': opt.rounds = atoi(optarg); rounds_set = true; break;
        case 'H': opt.history_seconds = atoi(optarg); break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (echo_url_arg != NULL)
        return bench_echo_server(echo_url_arg, opt.dir != NULL ? opt.dir : ".", region_codes[0]);
    if (opt.quick) {
        if (!seconds_set)
            opt.seconds = 3;
        if (!people_set)
            opt.people = 2000;
        if (!rounds_set)
            opt.rounds = 1;
    }
    bool only_credit = opt.only != NULL && strcmp(opt.only, "credit") == 0;
    bool only_gateway = opt.only != NULL && strcmp(opt.only, "gateway") == 0;
    if (opt.only != NULL && strcmp(opt.only, "local") != 0 && strcmp(opt.only, "cross") != 0 &&
        strcmp(opt.only, "cross2") != 0 && !only_credit && !only_gateway) {
        fprintf(stderr, "gongji-bench: --only takes local, cross, cross2, credit or gateway\n");
        return 2;
    }
    if (opt.rounds < 1 || opt.rounds > 20) {
        fprintf(stderr, "gongji-bench: --rounds takes 1 to 20\n");
        return 2;
    }
    if (opt.seconds < 1 || opt.concurrency < 1 || opt.concurrency > 1024 || opt.people < opt.concurrency) {
        fprintf(stderr, "gongji-bench: seconds >= 1, 1 <= concurrency <= 1024, people >= concurrency\n");
        return 2;
    }
    if (opt.base_port < 1 || opt.base_port > 65535 - REGIONS) {
        fprintf(stderr, "gongji-bench: --port takes 1 to %d (it uses P..P+%d)\n", 65535 - REGIONS, REGIONS);
        return 2;
    }
    if (opt.node_bin == NULL)
        opt.node_bin = GONGJI_BENCH_NODE_BIN;
    if (opt.pg_script == NULL)
        opt.pg_script = GONGJI_BENCH_PG_SCRIPT;
    if (opt.pki_script == NULL)
        opt.pki_script = getenv("GONGJI_PKI") != NULL ? getenv("GONGJI_PKI") : GONGJI_BENCH_PKI_SCRIPT;
    static char tmp[] = "/tmp/gongji-bench-XXXXXX";
    if (opt.dir == NULL && (opt.dir = mkdtemp(tmp)) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    mkdir(opt.dir, 0755);
    signal(SIGPIPE, SIG_IGN);
    printf("gongji-bench: %d s per run, %d in flight, %d people per scenario, data in %s\n", opt.seconds,
           opt.concurrency, opt.people, opt.dir);

    int64_t t0 = now_us();
    for (int r = 0; r < REGIONS; r++) {
        char dir[512];
        snprintf(dir, sizeof dir, "%s/%s", opt.dir, region_codes[r]);
        mkdir(dir, 0755);
        strcat(dir, "/data");
        mkdir(dir, 0755);
        if (bench_load_region(region_codes, r, dir, opt.people) != 0) {
            fprintf(stderr, "cannot load %s\n", dir);
            return 1;
        }
    }
    printf("loaded %d people in %.1f s\n", opt.people * 7, (double)(now_us() - t0) / 1e6);
    int rc = make_pki();
    char coordinator[64], echo_url[64];
    snprintf(echo_url, sizeof echo_url, "tcp://127.0.0.1:%d", opt.base_port + REGIONS);
    result local = {0}, cross = {0}, cross2 = {0}, echo = {0}, tls_echo = {0};
    result plain_local = {0}, plain_cross = {0}, plain_cross2 = {0};
    double pg_lat = 0, pg_tps = 0;
    /* The authenticated half first (what production runs), then the same in plaintext. */
    /* Each scenario authenticated (what production runs), then the same in plaintext,
     * the nodes started afresh for each: both halves of a pair see the store as it is
     * by then, so growth of the data file does not favour one of them. */
    static const char *const names[] = {"local settlement", "cross-region (1)", "cross-region (2)"};
    result *auth_results[] = {&local, &cross, &cross2}, *plain_results[] = {&plain_local, &plain_cross, &plain_cross2};
    long anon[2] = {0, 0}, file[2] = {0, 0};
    for (int scenario = 0; scenario < 3 && rc == 0; scenario++) {
        if (opt.only != NULL && strcmp(opt.only, scenario == 0 ? "local" : scenario == 1 ? "cross" : "cross2") != 0)
            continue;
        /* Rounds alternate the two halves; each half's figure is over all its rounds. */
        result sum[2] = {{0}, {0}};
        for (int round = 0; round < opt.rounds && rc == 0; round++)
            for (int half = 0; half < 2 && rc == 0; half++) {
                authenticated = half == 0;
                if (opt.only != NULL && authenticated == opt.plaintext_only)
                    continue;
                for (int r = 0; r < REGIONS && rc == 0; r++)
                    rc = start_node(r);
                if (rc != 0)
                    break;
                url_of(0, coordinator, sizeof coordinator);
                char name[64];
                snprintf(name, sizeof name, "%s%s", names[scenario], authenticated ? "" : ", plain");
                rss_kb(node_pids[0], &anon[0], &file[0]);
                result res = run(name, coordinator, scenario, NULL, 0);
                rss_kb(node_pids[0], &anon[1], &file[1]);
                printf("%-22s coordinator RSS heap+stacks %ld -> %ld KiB, LMDB pages mapped %ld -> %ld KiB\n", "",
                       anon[0], anon[1], file[0], file[1]);
                result *acc = &sum[half];
                acc->tps += res.tps / opt.rounds;
                if (res.p99_ms > acc->p99_ms) /* the worst round's */
                    acc->p99_ms = res.p99_ms;
                acc->ok += res.ok;
                acc->failed += res.failed;
                for (int r = 0; r < REGIONS; r++)
                    if (node_pids[r] > 0) {
                        kill(node_pids[r], SIGTERM);
                        waitpid(node_pids[r], NULL, 0);
                        node_pids[r] = 0;
                    }
            }
        *auth_results[scenario] = sum[0];
        *plain_results[scenario] = sum[1];
        if (opt.rounds > 1)
            printf("%-22s %d rounds: authenticated %.0f tps, plaintext %.0f tps, ratio %.2f\n", names[scenario],
                   opt.rounds, sum[0].tps, sum[1].tps, sum[1].tps > 0 ? sum[0].tps / sum[1].tps : 0);
    }
    /* HIS settlements through the gateway (HTTPS JSON, x-tif-* signed), against the
     * authenticated nodes, at the same concurrency. */
    bench_gateway_result gw = {0};
    bench_credit_result credit = {0};
    if (rc == 0 && (opt.only == NULL || only_credit || only_gateway)) {
        authenticated = true;
        for (int r = 0; r < REGIONS && rc == 0; r++)
            rc = start_node(r);
        url_of(0, coordinator, sizeof coordinator);
        int gw_port = opt.base_port + REGIONS + 2;
        pid_t gw_pid = rc == 0 && !only_credit ? bench_gateway_start(GONGJI_BENCH_GATEWAY_BIN, opt.dir, pki_dir, coordinator, gw_port,
                                                     opt.concurrency)
                               : -1;
        /* The gateway first: the credits write millions of rows, and its figure is
         * compared with local settlements on a store that has not had them. */
        if (gw_pid > 0 && !only_credit) {
            sleep_ms(500);
            gw = bench_gateway_run(gw_port, pki_dir, opt.concurrency, opt.seconds, opt.people, prefixes[0]);
            printf("%-22s %10.0f tps   p50 %7.2f ms   p99 %7.2f ms   ok %" PRIu64 " failed %" PRIu64 "\n",
                   "gateway 2207 (HTTPS)", gw.tps, gw.p50_ms, gw.p99_ms, gw.ok, gw.failed);
            kill(gw_pid, SIGTERM);
            waitpid(gw_pid, NULL, 0);
        }
        if (rc == 0 && only_credit && opt.history_seconds > 0) {
            int seconds = opt.seconds;
            opt.seconds = opt.history_seconds;
            run("history (local)", coordinator, 0, NULL, 0);
            opt.seconds = seconds;
        }
        if (rc == 0 && !only_gateway) {
            bench_credit_setup cs = {.url = coordinator, .prefix = prefixes[0], .people = opt.people,
                                     .seconds = opt.seconds, .open_operator = open_operator0,
                                     .settle_p99 = local_p99, .settle_arg = coordinator,
                                     .writer_counters = writer_counters};
            credit = bench_credit_run(&cs);
        }
        for (int r = 0; r < REGIONS; r++)
            if (node_pids[r] > 0) {
                kill(node_pids[r], SIGTERM);
                waitpid(node_pids[r], NULL, 0);
                node_pids[r] = 0;
            }
        authenticated = false;
    }
    if (rc == 0 && opt.only == NULL) {
        printf("-- references\n");
        /* The echo gets a message of the size a settle request has. */
        Gongji__V1__SettleRequest req = GONGJI__V1__SETTLE_REQUEST__INIT;
        req.psn_no = "AL1234";
        req.amount = 2500;
        req.use = GONGJI__V1__USE_TYPE__OUTPATIENT;
        uint8_t payload[128], bytes[512];
        Gongji__V1__Envelope env = GONGJI__V1__ENVELOPE__INIT;
        env.method = "gongji.v1.Settlement/Settle";
        env.call_id = "b0-12-123456";
        env.deadline_unix_ms = gj_now_unix_ms();
        env.caller_id = "H51010000001";
        env.caller_role = GONGJI__V1__ROLE__INSTITUTION;
        env.payload.data = payload;
        env.payload.len = gongji__v1__settle_request__pack(&req, payload);
        size_t len = gongji__v1__envelope__pack(&env, bytes);
        char self[1024];
        ssize_t sl = readlink("/proc/self/exe", self, sizeof self - 1);
        self[sl > 0 ? sl : 0] = '\0';
        char *eargv[] = {self, "--echo-server", echo_url, NULL};
        echo_pid = spawn(eargv, NULL);
        sleep_ms(300);
        echo = run("nng echo (reference)", echo_url, 3, bytes, len);
        kill(echo_pid, SIGKILL);
        waitpid(echo_pid, NULL, 0);
        /* The same echo over TLS: what the transport alone costs an authenticated link. */
        char tls_echo_url[80];
        snprintf(tls_echo_url, sizeof tls_echo_url, "tls+%s", echo_url);
        char *targv[] = {self, "--echo-server", tls_echo_url, "--dir", pki_dir, NULL};
        echo_pid = spawn(targv, NULL);
        sleep_ms(300);
        authenticated = true; /* the drivers dial it with the institution's credential */
        tls_echo = run("nng echo over TLS", tls_echo_url, 3, bytes, len);
        authenticated = false;
        pg_tps = bench_run_pg(opt.no_pg ? NULL : opt.pg_script, opt.concurrency, opt.seconds, &pg_lat);
    }
    if (echo_pid > 0) {
        kill(echo_pid, SIGKILL);
        waitpid(echo_pid, NULL, 0);
    }
    if (!opt.keep && opt.dir == tmp) {
        char cmd[600];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", opt.dir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", opt.dir);
    }
    if (rc != 0)
        return 1;
    if (opt.only != NULL)
        return 0;
    printf("RESULT local_tps=%.0f cross_tps=%.0f echo_tps=%.0f pg_tps=%.0f local_vs_pg=%.2f cross_vs_pg=%.2f "
           "local_vs_echo=%.2f local_p99_ms=%.2f cross_p99_ms=%.2f\n",
           local.tps, cross.tps, echo.tps, pg_tps, pg_tps > 0 ? local.tps / pg_tps : 0,
           pg_tps > 0 ? cross.tps / pg_tps : 0, echo.tps > 0 ? local.tps / echo.tps : 0, local.p99_ms,
           cross.p99_ms);
    printf("echo_p99_ms=%.2f local_p99_vs_echo=%.2f cross_p99_vs_echo=%.2f cross2_tps=%.0f\n", echo.p99_ms,
           echo.p99_ms > 0 ? local.p99_ms / echo.p99_ms : 0, echo.p99_ms > 0 ? cross.p99_ms / echo.p99_ms : 0,
           cross2.tps);
    printf("plain_local_tps=%.0f plain_cross_tps=%.0f plain_cross2_tps=%.0f auth_local_vs_plain=%.2f "
           "auth_cross_vs_plain=%.2f plain_local_vs_pg=%.2f tls_echo_tps=%.0f tls_echo_vs_echo=%.2f\n",
           plain_local.tps, plain_cross.tps, plain_cross2.tps,
           plain_local.tps > 0 ? local.tps / plain_local.tps : 0, plain_cross.tps > 0 ? cross.tps / plain_cross.tps : 0,
           pg_tps > 0 ? plain_local.tps / pg_tps : 0, tls_echo.tps, echo.tps > 0 ? tls_echo.tps / echo.tps : 0);
    printf("gw_tps=%.0f gw_vs_local=%.2f gw_p99_ms=%.2f\n", gw.tps, local.tps > 0 ? gw.tps / local.tps : 0, gw.p99_ms);
    printf("credit_rows_s=%.0f credit_rows_s_while_settling=%.0f settle_p99_with_credits_vs_alone=%.2f\n",
           credit.rows_s_alone, credit.rows_s_busy,
           credit.settle_p99_alone_ms > 0 ? credit.settle_p99_busy_ms / credit.settle_p99_alone_ms : 0);
    return 0;
}
