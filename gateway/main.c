/* gongji-gateway: the national HTTP/JSON interface for hospital and pharmacy systems,
 * in front of a gongji node. docs/his.md is the HIS developer's page. */
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "gateway.h"
#include "http.h"
#include "log.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: gongji-gateway --config FILE\n"
            "\n"
            "Serves the national medical-insurance platform's HTTP/JSON interface (POST of the\n"
            "JSON envelope: 9001 sign-in, 1101 person, 2207 settle, 2208 revoke, 2601 reversal,\n"
            "3201 totals, 3202 detail with 9101/9102 files, and gongji's own 9501-9505) and makes\n"
            "each transaction a gongji call to the node, as the institution the x-tif-* signature\n"
            "(or HTTPS client certificate) proves. GET /metrics, /healthz and /readyz.\n"
            "\n"
            "  --config FILE   the gateway's INI file (deploy/gateway/chengdu-gateway.ini is an example)\n"
            "  --check         read the config and each credential in it, say what is wrong (exit 2:\n"
            "                  the config; 1: a credential or certificate) or that it is fine (exit 0),\n"
            "                  and stop; nothing is dialled or listened on\n"
            "  --help          this text\n"
            "  --version       the version\n"
            "\n"
            "SIGTERM or SIGINT: finish the requests being answered and stop. SIGHUP: reopen the log file.\n"
            "Under systemd (deploy/gongji-gateway@.service, Type=notify) it says READY once it listens.\n"
            "docs/his.md: every transaction, its fields, errors, and curl commands.\n");
}

int main(int argc, char **argv)
{
    const char *config = NULL;
    bool check_only = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--version")) {
            printf("gongji-gateway %s\n", GONGJI_VERSION);
            return 0;
        } else if (!strcmp(argv[i], "--check")) {
            check_only = true;
        } else if (!strcmp(argv[i], "--config") && i + 1 < argc) {
            config = argv[++i];
        } else {
            fprintf(stderr, "gongji-gateway: unknown argument '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (config == NULL) {
        usage(stderr);
        return 2;
    }
    static gateway g;
    char err[600];
    if (gw_config_load(&g.cfg, config, err, sizeof err) != 0) {
        fprintf(stderr, "gongji-gateway: %s\n", err);
        return 2;
    }
    if (check_only) {
        /* What a start would refuse too: each credential (from the CA, not revoked, the
         * institution it is given to) and the HTTPS certificate. Nothing is dialled. */
        int rc = gw_institutions_open(&g, err, sizeof err) != 0 ? 1 : 0;
        const char *unreadable = NULL;
        if (strncmp(g.cfg.listen, "https://", 8) == 0)
            unreadable = access(g.cfg.tls_cert, R_OK) != 0                          ? g.cfg.tls_cert
                         : g.cfg.tls_key[0] && access(g.cfg.tls_key, R_OK) != 0 ? g.cfg.tls_key
                                                                                 : NULL;
        if (rc == 0 && unreadable != NULL) {
            snprintf(err, sizeof err, "https: cannot read %s", unreadable);
            rc = 1;
        }
        if (rc != 0)
            fprintf(stderr, "gongji-gateway: %s\n", err);
        else
            printf("gongji-gateway: %s is fine: listen %s, node %s, %zu institutions and platforms%s\n", config,
                   g.cfg.listen, g.cfg.node, g.cfg.institution_count,
                   g.cfg.insecure_plaintext ? "; insecure_plaintext = yes: HIS traffic unencrypted" : "");
        gw_institutions_close(&g);
        return rc;
    }
    gj_log_set_json(g.cfg.log_json);
    if (gj_log_open(g.cfg.log_file[0] ? g.cfg.log_file : NULL, g.cfg.log_level, g.cfg.region) != 0)
        fprintf(stderr, "gongji-gateway: cannot open log %s; logging to stderr\n", g.cfg.log_file);

    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &signals, NULL);
    signal(SIGPIPE, SIG_IGN);

    gw_http *http = NULL;
    int rc = 1;
    if (gw_nonces_init(&g.nonces, g.cfg.nonces) != 0 ||
        gw_files_init(&g.files, g.cfg.files, (size_t)g.cfg.files_mb << 20, g.cfg.file_ttl_s) != 0) {
        gj_log(GJ_LOG_ERROR, "start", "out of memory");
    } else if (gw_institutions_open(&g, err, sizeof err) != 0) {
        gj_log(GJ_LOG_ERROR, "start", "%s", err);
    } else if (gw_http_start(&http, &g, err, sizeof err) != 0) {
        gj_log(GJ_LOG_ERROR, "start", "%s", err);
    } else {
        gj_log(GJ_LOG_INFO, "start", "listen=%s node=%s institutions=%zu workers=%u", g.cfg.listen, g.cfg.node,
               g.institution_count, g.cfg.workers);
        if (gw_listen_plain(&g.cfg))
            gj_log(GJ_LOG_WARN, "start",
                   "insecure_plaintext = yes: HIS requests and answers cross the network unencrypted on %s", g.cfg.listen);
        /* systemd (Type=notify): ready once it listens; no-ops without NOTIFY_SOCKET. */
        sd_notifyf(0, "READY=1\nSTATUS=serving HIS for region %s at %s\nMAINPID=%ld", g.cfg.region, g.cfg.listen,
                   (long)getpid());
        for (;;) {
            int sig = 0;
            sigwait(&signals, &sig);
            if (sig == SIGHUP) {
                sd_notify(0, "RELOADING=1");
                gj_log_reopen();
                gj_log(GJ_LOG_INFO, "log", "SIGHUP: log file opened again");
                sd_notify(0, "READY=1");
                continue;
            }
            sd_notify(0, "STOPPING=1\nSTATUS=stopping: answering the requests in hand");
            gj_log(GJ_LOG_INFO, "stop", "signal=%d served=%lu refused=%lu", sig, atomic_load(&g.served),
                   atomic_load(&g.refused));
            break;
        }
        atomic_store(&g.stopping, true);
        gw_http_stop(http);
        rc = 0;
    }
    gw_institutions_close(&g);
    gw_nonces_fini(&g.nonces);
    gw_files_fini(&g.files);
    gj_log_close();
    return rc;
}
