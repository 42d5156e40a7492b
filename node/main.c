/* gongji-node: the daemon serving one coordinating region. */
#include "authn.h"
#include "config.h"
#include "gj_util.h"
#include "log.h"
#include "node.h"
#include "ops.h"
#include "probes.h"
#include "server.h"
#include "xr/xr.h"

#include <errno.h>
#include <nng/nng.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: gongji-node --config FILE [--check]\n"
            "\n"
            "Serve one coordinating region's personal accounts, bindings and mutual-aid\n"
            "settlements over nng, keeping them in LMDB under the config's data_dir.\n"
            "\n"
            "  -c, --config FILE   INI file: [node], [policy] and [peers] (see docs/config.md)\n"
            "      --check         read and validate the config, print the policy, and exit\n"
            "  -h, --help          show this help\n"
            "  -V, --version       show the version\n"
            "\n"
            "Stops cleanly on SIGTERM or SIGINT: answers what it has accepted, then exits.\n"
            "Exit status: 0 clean stop, 1 cannot start (config, data directory, listen URL).\n");
}

static int mkdir_p(const char *path)
{
    char buf[512];
    if (!gj_strcpy_fit(buf, sizeof buf, path))
        return -1;
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0700) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return mkdir(buf, 0700) != 0 && errno != EEXIST ? -1 : 0;
}

static gj_err next_boot(store_txn *txn, void *arg)
{
    return store_next_seq(txn, "boot", arg);
}

static void print_policy(const node_config *cfg)
{
    const gj_policy *p = &cfg->policy;
    char floor[32];
    printf("region %s (%s) listen %s data %s\n", cfg->region, cfg->name[0] ? cfg->name : "-",
           cfg->listen_url, cfg->data_dir);
    printf("live=%s cascade=%s pilot=%s one_relationship=%s max_beneficiaries=%u floor=%s\n",
           p->live ? "yes" : "no", p->cascade ? "yes" : "no",
           p->cross_province_pilot ? "yes" : "no", p->one_relationship_per_person ? "yes" : "no",
           p->max_beneficiaries, gj_yuan_format(p->reserve_floor, floor));
    printf("relations:");
    for (int r = 1; r <= GJ_REL_MAX; r++)
        if (p->relations_allowed & GJ_BIT(r))
            printf(" %s", rules_relation_name(r));
    printf("\nuses:");
    for (int u = 1; u <= GJ_USE_MAX; u++)
        if (p->uses_allowed & GJ_BIT(u))
            printf(" %s", rules_use_name(u));
    printf("\nrevoke_days=%u unbind_min_months=%u max_beneficiaries_per_year=%u verify_age=%u sponsor_choice=%s\n",
           p->revoke_days, p->unbind_min_months, p->max_beneficiaries_per_year, p->verify_age,
           p->sponsor_choice ? "yes" : "no");
    printf("family_pool=%s pool_floor=%s pool_members_max=%u\n", p->family_pool ? "yes" : "no",
           gj_yuan_format(p->pool_floor, floor), p->pool_members_max);
    char cap[32];
    printf("wallet=%s wallet_transfer_max=%s wallet_transfers_per_day=%u wallet_blackout=", p->wallet ? "yes" : "no",
           gj_yuan_format(p->wallet_transfer_max, cap), p->wallet_transfers_per_day);
    if (p->wallet_blackout_start_s == p->wallet_blackout_end_s)
        printf("none\n");
    else
        printf("%02d:%02d-%02d:%02d\n", p->wallet_blackout_start_s / 3600, p->wallet_blackout_start_s / 60 % 60,
               p->wallet_blackout_end_s / 3600, p->wallet_blackout_end_s / 60 % 60);
    printf("peers: %zu\n", cfg->peer_count);
}

/* The stop's bound: whatever peers or clients do, the process ends GJ_STOP_BOUND_MS
 * after SIGTERM. Past it the watchdog says where the stop was and exits: with 0 when the
 * store was already closed (everything answered is on disk), else 1 (like a crash,
 * which LMDB survives: committed transactions stay, nothing half-written does). */
static _Atomic(const char *) stop_where = "starting to stop";
static _Atomic bool store_closed;

static void stop_phase(const char *where)
{
    atomic_store(&stop_where, where);
}

static _Atomic int64_t store_closed_ms;

static void *stop_watchdog(void *arg)
{
    (void)arg;
    /* Once the store is closed, what is left is letting go of connections: it gets a
     * short while of its own (nng can wait on a peer that resumed after a freeze). */
    int64_t began = gj_mono_ms();
    for (;;) {
        int64_t now = gj_mono_ms(), closed_at = atomic_load(&store_closed_ms);
        if (now - began >= GJ_STOP_BOUND_MS || (closed_at > 0 && now - closed_at >= GJ_STOP_TRANSPORT_MS))
            break;
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    bool closed = atomic_load(&store_closed);
    gj_log(GJ_LOG_ERROR, "stop", "not stopped %lld ms after the signal (still %s); exiting now%s",
           (long long)(gj_mono_ms() - began), atomic_load(&stop_where),
           closed ? " (the store is closed: nothing answered is lost)" : "");
    _exit(closed ? 0 : 1);
    return NULL;
}

static void stop_watchdog_start(void)
{
    pthread_t t;
    if (pthread_create(&t, NULL, stop_watchdog, NULL) == 0)
        pthread_detach(t);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"check", no_argument, NULL, 'k'},
                                         {"help", no_argument, NULL, 'h'},
                                         {"version", no_argument, NULL, 'V'},
                                         {NULL, 0, NULL, 0}};
    const char *config_path = NULL;
    bool check_only = false;
    int opt;
    while ((opt = getopt_long(argc, argv, "c:hV", opts, NULL)) != -1) {
        switch (opt) {
        case 'c': config_path = optarg; break;
        case 'k': check_only = true; break;
        case 'h': usage(stdout); return 0;
        case 'V': printf("gongji-node %s\n", GONGJI_VERSION); return 0;
        default: usage(stderr); return 1;
        }
    }
    if (config_path == NULL || optind != argc) {
        usage(stderr);
        return 1;
    }

    static node n;
    char err[4096];
    node_config_defaults(&n.cfg);
    methods_install(&n);
    if (metrics_init(&n.metrics, n.method_count) != 0) {
        gj_log(GJ_LOG_ERROR, "start", "out of memory");
        return 1;
    }
    if (node_config_load(&n.cfg, config_path, err, sizeof err) != 0) {
        fprintf(stderr, "gongji-node: %s\n", err);
        return 1;
    }
    atomic_store(&n.policy, &n.cfg.policy);
    if (check_only) {
        /* The credential too: a certificate that is missing, foreign, revoked or not
         * this region's is found now, not at the first call. */
        gj_log_open(NULL, GJ_LOG_WARN, n.cfg.region);
        if (authn_start(&n) != 0) {
            fprintf(stderr, "gongji-node: %s: the credential is not usable (see above)\n", config_path);
            return 1;
        }
        print_policy(&n.cfg);
        printf("trust: %s\n", n.cred == NULL ? "insecure_plaintext (no TLS, callers on their word)"
                              : n.cfg.insecure_plaintext ? "certificates loaded, but insecure_plaintext = yes"
                                                         : "TLS on every link, every caller proven");
        authn_stop(&n);
        return 0;
    }
    /* Everything the node writes (store, log) is its operator's alone. */
    umask(077);
    gj_log_set_json(n.cfg.log_json);
    if (gj_log_open(n.cfg.log_file, n.cfg.log_level, n.cfg.region) != 0) {
        fprintf(stderr, "gongji-node: cannot open log file %s\n", n.cfg.log_file);
        return 1;
    }

    /* Signals go to sigwait() below only: block them before any thread starts. */
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGHUP); /* not a stop: read the CRL again now */
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (mkdir_p(n.cfg.data_dir) != 0) {
        gj_log(GJ_LOG_ERROR, "start", "cannot create data_dir %s: %s", n.cfg.data_dir, strerror(errno));
        return 1;
    }
    static store_upgrade_report upgraded;
    store_options sopts = {.map_size = n.cfg.map_size, .gather_us = n.cfg.commit_gather_us,
                           .queue_max = n.cfg.write_queue, .upgrade = true, .upgrade_report = &upgraded};
    gj_err e = store_open(&n.store, n.cfg.data_dir, &sopts);
    if (upgraded.from != 0 && e == GJ_OK)
        gj_log(GJ_LOG_WARN, "start",
               "data_dir %s upgraded from store format %u to %u (decisions converted=%zu, first answers "
               "converted=%zu, patient index entries moved=%zu); the old store was copied first to %s: keep it "
               "until you are content",
               n.cfg.data_dir, upgraded.from, store_format_version(), upgraded.decisions, upgraded.first_answers,
               upgraded.patient_index, upgraded.backup_dir);
    else if (upgraded.from != 0) {
        gj_log(GJ_LOG_ERROR, "start",
               "data_dir %s holds store format %u and could not be upgraded to %u: %s (%s); nothing in it was "
               "changed; a copy of it is in %s",
               n.cfg.data_dir, upgraded.from, store_format_version(), upgraded.why[0] ? upgraded.why : "-",
               gj_err_name(e), upgraded.backup_dir[0] ? upgraded.backup_dir : "(none: the copy failed)");
        return 1;
    }
    if (e == GJ_ERR_BUSY) {
        gj_log(GJ_LOG_ERROR, "start", "data_dir %s is in use by process %ld (another gongji-node or gongji-load): "
                                      "one process per data directory",
               n.cfg.data_dir, store_dir_holder(n.cfg.data_dir));
        return 1;
    }
    store_backup_info found;
    if (e == GJ_ERR_FORMAT && store_info(n.cfg.data_dir, &found) == GJ_OK) {
        gj_log(GJ_LOG_ERROR, "start",
               "data_dir %s holds store format %u, written by %s build; this build reads format %u and converts "
               "formats 5 and later only: run the build that wrote it, or move the directory aside and restore a "
               "backup this build reads (docs/operations.md, \"Upgrades\")",
               n.cfg.data_dir, found.format, found.format < store_format_version() ? "an older" : "a newer",
               store_format_version());
        return 1;
    }
    if (e != GJ_OK) {
        gj_log(GJ_LOG_ERROR, "start", "cannot open store in %s: %s%s", n.cfg.data_dir, gj_err_name(e),
               e == GJ_ERR_CORRUPT ? " (damaged: restore it from a backup, docs/operations.md)" : "");
        return 1;
    }
    n.started_mono_ms = gj_mono_ms();
    /* Restored from a backup: other regions may remember what this store forgot. */
    store_txn *rtxn;
    store_restored restored;
    if (store_read_begin(n.store, &rtxn) == GJ_OK) {
        if (store_restored_get(rtxn, &restored) == GJ_OK) {
            atomic_store(&n.restored, true);
            gj_log(GJ_LOG_WARN, "restore",
                   "this store was restored from a backup taken %s (journal position %llu): no money moves until "
                   "an operator has reconciled with every peer and run gongji confirm-restore",
                   restored.backup_time, (unsigned long long)restored.journal_seq);
        }
        store_read_end(rtxn);
    }
    if (xr_init(&n) != 0) {
        store_close(n.store);
        return 1;
    }
    /* Settlement ids carry a boot number so they never repeat across restarts. */
    if ((e = store_submit_wait(n.store, next_boot, &n.boot_id)) != GJ_OK) {
        gj_log(GJ_LOG_ERROR, "start", "cannot write to the store: %s", gj_err_name(e));
        store_close(n.store);
        return 1;
    }
    if (authn_start(&n) != 0) {
        store_close(n.store);
        return 1;
    }
    if (peers_open(&n.peers, &n.cfg, n.cfg.insecure_plaintext ? NULL : n.cred, n.tls_client) != 0 || workers_start(&n.workers, n.cfg.workers, n.cfg.worker_queue) != GJ_OK) {
        gj_log(GJ_LOG_ERROR, "start", "cannot start peer links or workers");
        store_close(n.store);
        return 1;
    }
    if (n.cfg.allow_clock_override)
        gj_log(GJ_LOG_WARN, "clock", "allow_clock_override is on: operators can move the business "
                                     "date; never use this in production");
    if (xr_track_unknown(&n) != 0) {
        workers_stop(n.workers);
        peers_close(&n.peers);
        store_close(n.store);
        return 1;
    }
    if (xr_delivery_start(&n) != 0)
        gj_log(GJ_LOG_ERROR, "start", "cannot start the delivery threads; the resolver delivers decisions");
    probes *probe = NULL;
    if (n.cfg.probes_listen[0] != '\0' && probes_start(&probe, &n, n.cfg.probes_listen) != 0) {
        workers_stop(n.workers);
        peers_close(&n.peers);
        store_close(n.store);
        return 1;
    }
    server *srv = NULL;
    if (server_start(&srv, &n, n.cfg.listen_url, n.cfg.contexts) != GJ_OK) {
        probes_stop(probe);
        workers_stop(n.workers);
        peers_close(&n.peers);
        store_close(n.store);
        return 1;
    }
    n.server = srv;
    /* Finish or undo whatever a previous run left in flight, then keep at it. */
    if (xr_resolver_start(&n) != 0)
        gj_log(GJ_LOG_ERROR, "start", "cannot start the resolver; in-flight work waits for a restart");
    gj_log(GJ_LOG_INFO, "start",
           "version=%s listen=%s data_dir=%s contexts=%u workers=%u peers=%zu boot=%llu live=%s cascade=%s",
           GONGJI_VERSION, n.cfg.listen_url, n.cfg.data_dir, n.cfg.contexts, n.cfg.workers,
           n.cfg.peer_count, (unsigned long long)n.boot_id, n.cfg.policy.live ? "yes" : "no",
           n.cfg.policy.cascade ? "yes" : "no");

    int sig = 0;
    /* systemd (Type=notify) is told READY once what a previous run left has been looked
     * at: before that the node answers, but /readyz says not yet. A signal meanwhile is
     * handled as below. */
    bool told_ready = false;
    for (;;) {
        if (!told_ready && atomic_load(&n.recovered)) {
            sd_notifyf(0, "READY=1\nSTATUS=serving region %s at %s\nMAINPID=%ld", n.cfg.region, n.cfg.listen_url,
                       (long)getpid());
            told_ready = true;
        }
        if (told_ready) {
            if (sigwait(&stop_signals, &sig) != 0)
                sig = SIGTERM;
        } else {
            struct timespec wait = {0, 100 * 1000 * 1000};
            if ((sig = sigtimedwait(&stop_signals, NULL, &wait)) < 0) {
                if (errno == EAGAIN || errno == EINTR)
                    continue;
                sig = SIGTERM;
            }
        }
        if (sig != SIGHUP)
            break;
        /* Not a stop: a new log file (logrotate) and the CRL read again. */
        sd_notify(0, "RELOADING=1");
        if (gj_log_reopen() != 0)
            gj_log(GJ_LOG_ERROR, "log", "SIGHUP: cannot open %s again; writing to the old file", n.cfg.log_file);
        gj_log(GJ_LOG_INFO, "trust", "SIGHUP: log file opened again, reading the CRL again");
        authn_refresh(&n, true);
        node_reload_policy(&n, config_path);
        sd_notify(0, told_ready ? "READY=1" : "STATUS=starting");
    }
    sd_notify(0, "STOPPING=1\nSTATUS=stopping: answering accepted requests");
    gj_log(GJ_LOG_INFO, "stop", "signal=%d: answering accepted requests", sig);
    atomic_store(&n.shutting_down, true);
    stop_watchdog_start();
    server_quiesce(srv);
    /* Accepted requests finish first; the store then commits what it has queued. */
    stop_phase("answering accepted requests");
    int64_t until = gj_mono_ms() + n.cfg.stop_drain_ms;
    while (atomic_load(&n.in_flight) > 0 && gj_mono_ms() < until) {
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    stop_phase("stopping the resolver");
    xr_resolver_stop(&n);
    stop_phase("stopping the workers");
    workers_stop(n.workers); /* answers what it holds, with SHUTTING_DOWN or for real */
    stop_phase("delivering decisions");
    xr_delivery_stop(&n);
    stop_phase("closing the probes");
    probes_stop(probe); /* /metrics reads the store */
    stop_phase("closing the store");
    xr_write_acks(&n); /* what workers acknowledged last; else re-sent after restart */
    store_close(n.store);
    atomic_store(&store_closed, true); /* from here on, everything answered is on disk and closed */
    atomic_store(&store_closed_ms, gj_mono_ms());
    stop_phase("closing the listener");
    server_stop(srv, 0);
    stop_phase("closing the peer links");
    peers_close(&n.peers);
    authn_stop(&n);
    xr_fini(&n);
    node_policies_free();
    metrics_fini(&n.metrics);
    /* No nng_fini(): with everything answered on disk and every socket closed, the
     * process ends here; nng 1.5.2's nng_fini can panic on a lock its own reaper thread
     * still holds while it tears down, and a stop must exit 0. */
    gj_log(GJ_LOG_INFO, "stop", "stopped; served=%llu",
           (unsigned long long)atomic_load(&n.requests_served));
    gj_log_close();
    return 0;
}
