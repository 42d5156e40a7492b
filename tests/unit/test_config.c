/* The node config file: defaults, every bound an operator may set taken at its edges
 * and refused past them with the key and range named, unknown keys refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"

static char path[64];

/* Write a config with the given [node] extra lines and load it; the loader's result. */
static int load(node_config *cfg, const char *node_extra, char *err, size_t err_size)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "[node]\nregion = 510100\nlisten = tcp://127.0.0.1:7100\ndata_dir = /var/lib/x\ninsecure_plaintext = yes\n%s\n"
               "[policy]\nlive = yes\n",
            node_extra);
    fclose(f);
    node_config_defaults(cfg);
    err[0] = '\0';
    return node_config_load(cfg, path, err, err_size);
}

static int setup(void **state)
{
    (void)state;
    snprintf(path, sizeof path, "/tmp/gongji-config-test-%d.ini", (int)getpid());
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(path);
    return 0;
}

static void test_defaults_are_the_limits_defaults(void **state)
{
    (void)state;
    node_config cfg;
    char err[300];
    assert_int_equal(load(&cfg, "", err, sizeof err), 0);
    assert_int_equal(cfg.write_queue, GJ_WRITE_QUEUE_MAX);
    assert_int_equal(cfg.worker_queue, GJ_WORKER_QUEUE_MAX);
    assert_int_equal(cfg.sessions, GJ_SESSIONS_MAX);
    assert_int_equal(cfg.stop_drain_ms, GJ_STOP_DRAIN_MS);
    assert_int_equal(cfg.suspect_calls, GJ_SUSPECT_CALLS_MAX);
    assert_int_equal(cfg.suspect_ms, GJ_SUSPECT_MS);
    assert_int_equal(cfg.delivery_queue, GJ_DELIVERY_QUEUE_MAX);
    assert_int_equal(cfg.clearing_page_size, GJ_CLEARING_PAGE_DEFAULT);
    assert_int_equal(cfg.contexts, GJ_SERVER_CONTEXTS_DEFAULT);
}

typedef struct bound {
    const char *key;
    unsigned long long min, max;
    size_t offset;
} bound;

#define BOUND(name, lo, hi) {#name, lo, hi, offsetof(node_config, name)}
static const bound bounds[] = {
    BOUND(contexts, 1, GJ_SERVER_CONTEXTS_MAX),
    BOUND(workers, 1, GJ_WORKERS_MAX),
    BOUND(clearing_page_size, 1, GJ_CLEARING_PAGE_MAX),
    BOUND(peer_timeout_ms, 10, 600000),
    BOUND(write_queue, 16, GJ_WRITE_QUEUE_CAP),
    BOUND(worker_queue, 16, GJ_WORKER_QUEUE_CAP),
    BOUND(sessions, 64, GJ_SESSIONS_CAP),
    BOUND(stop_drain_ms, 0, GJ_STOP_DRAIN_CAP_MS),
    BOUND(suspect_calls, 1, GJ_SUSPECT_CALLS_CAP),
    BOUND(suspect_ms, 100, GJ_SUSPECT_MS_CAP),
    BOUND(delivery_queue, 16, GJ_DELIVERY_QUEUE_CAP),
};

static void test_each_bound_is_taken_at_its_edges_and_refused_past_them(void **state)
{
    (void)state;
    node_config cfg;
    char err[300], line[128];
    for (size_t i = 0; i < sizeof bounds / sizeof bounds[0]; i++) {
        const bound *b = &bounds[i];
        unsigned long long edges[2] = {b->min, b->max};
        for (int e = 0; e < 2; e++) {
            snprintf(line, sizeof line, "%s = %llu", b->key, edges[e]);
            assert_int_equal(load(&cfg, line, err, sizeof err), 0);
            assert_int_equal(*(unsigned *)((char *)&cfg + b->offset), edges[e]);
        }
        snprintf(line, sizeof line, "%s = %llu", b->key, b->max + 1);
        assert_int_equal(load(&cfg, line, err, sizeof err), -1);
        assert_non_null(strstr(err, b->key));
        char range[64];
        snprintf(range, sizeof range, "%llu..%llu", b->min, b->max);
        assert_non_null(strstr(err, range));
        if (b->min > 0) {
            snprintf(line, sizeof line, "%s = %llu", b->key, b->min - 1);
            assert_int_equal(load(&cfg, line, err, sizeof err), -1);
        }
        snprintf(line, sizeof line, "%s = twelve", b->key);
        assert_int_equal(load(&cfg, line, err, sizeof err), -1);
        snprintf(line, sizeof line, "%s = -1", b->key);
        assert_int_equal(load(&cfg, line, err, sizeof err), -1);
    }
}

static void test_unknown_keys_and_bad_regions_are_refused(void **state)
{
    (void)state;
    node_config cfg;
    char err[300];
    assert_int_equal(load(&cfg, "write_queu = 100", err, sizeof err), -1);
    assert_non_null(strstr(err, "unknown key 'write_queu'"));
    assert_int_equal(load(&cfg, "region = 51010", err, sizeof err), -1);
    assert_non_null(strstr(err, "region"));
}

/* R20, R24: the policy knobs of pools and wallets, and what is refused. */
static void test_pool_and_wallet_knobs(void **state)
{
    (void)state;
    node_config cfg;
    char err[300];
    assert_int_equal(load(&cfg, "[policy]\nwallet = yes\nwallet_blackout = 21:30-07:00\nwallet_transfer_max = 1500.50\n"
                                "family_pool = yes\npool_floor = 2000.00\npool_members_max = 4",
                          err, sizeof err),
                     0);
    assert_true(cfg.policy.wallet);
    assert_int_equal(cfg.policy.wallet_blackout_start_s, 21 * 3600 + 30 * 60);
    assert_int_equal(cfg.policy.wallet_blackout_end_s, 7 * 3600);
    assert_int_equal(cfg.policy.wallet_transfer_max, 150050);
    assert_true(cfg.policy.family_pool);
    assert_int_equal(cfg.policy.pool_floor, 200000);
    assert_int_equal(cfg.policy.pool_members_max, 4);
    assert_int_equal(load(&cfg, "[policy]\nwallet_blackout = none", err, sizeof err), 0);
    assert_int_equal(cfg.policy.wallet_blackout_start_s, cfg.policy.wallet_blackout_end_s);
    const char *bad[] = {"wallet_blackout = 24:00-06:00", "wallet_blackout = 22:00", "wallet_blackout = 22:00-06:00x",
                         "wallet_transfer_max = 0", "pool_members_max = 0", "family_pool = maybe"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char line[80];
        snprintf(line, sizeof line, "[policy]\n%s", bad[i]);
        assert_int_equal(load(&cfg, line, err, sizeof err), -1);
        char key[32];
        snprintf(key, sizeof key, "%.*s", (int)strcspn(bad[i], " "), bad[i]);
        assert_non_null(strstr(err, key));
    }
}

static int load_text(node_config *cfg, const char *text, char *err, size_t err_size)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    node_config_defaults(cfg);
    err[0] = '\0';
    return node_config_load(cfg, path, err, err_size);
}

/* Every problem on its own line with that line's number, not the first line with the
 * last problem's text; what no single key can say, said for the whole file. */
static void test_every_problem_is_told_at_its_own_line(void **state)
{
    (void)state;
    node_config cfg;
    char err[4096], want[600];
    assert_int_equal(load_text(&cfg,
                               "[node]\n"                         /* 1 */
                               "region = 510100\n"                /* 2 */
                               "contexts = 0\n"                   /* 3 */
                               "listen = tcp://127.0.0.1:7100\n"  /* 4 */
                               "bogus line\n"                     /* 5 */
                               "region = 510100\n"                /* 6 */
                               "[policy]\n"                       /* 7 */
                               "live = perhaps\n",                /* 8 */
                               err, sizeof err),
                     -1);
    snprintf(want, sizeof want, "%s:5: not a [section]", path);
    assert_non_null(strstr(err, want));
    snprintf(want, sizeof want, "%s:3: contexts must be", path);
    assert_non_null(strstr(err, want));
    snprintf(want, sizeof want, "%s:6: region is set twice", path);
    assert_non_null(strstr(err, want));
    snprintf(want, sizeof want, "%s:8: live must be yes or no", path);
    assert_non_null(strstr(err, want));

    const struct {
        const char *text, *says;
    } whole[] = {
        {"[node]\nregion = 510100\nlisten = foo://x\ndata_dir = /d\ninsecure_plaintext = yes\n[policy]\nlive = yes\n",
         "listen = foo://x is not"},
        {"[node]\nregion = 510100\nlisten = tcp://h:7100\ndata_dir = /d\ninsecure_plaintext = yes\n[policy]\nlive = yes\n"
         "[peers]\n43 = tcp//bad\n",
         "peer 43 = tcp//bad is not"},
        {"[node]\nregion = 510100\nlisten = tcp://h:7100\ndata_dir = /d\ninsecure_plaintext = yes\n[policy]\nlive = yes\n"
         "[peers]\n510100 = tcp://h:7200\n",
         "peer 510100 is this node's own region"},
        {"[node]\nregion = 510100\nlisten = tcp://h:7100\ndata_dir = data\ninsecure_plaintext = yes\n[policy]\nlive = yes\n",
         "data_dir = data must be an absolute path"},
        {"[node]\nregion = 510100\nlisten = tcp://h:70000\ndata_dir = /d\ninsecure_plaintext = yes\n[policy]\nlive = yes\n",
         "listen = tcp://h:70000 is not"},
        {"[node]\nregion = 510100\nlisten = tcp://h:7100\ndata_dir = /d\ninsecure_plaintext = yes\n",
         "[policy] must say live"},
        {"[node]\nregion = 510100\nlisten = tcp://h:7100\ndata_dir = /d\ninsecure_plaintext = yes\n[policy]\ncascade = yes\n",
         "[policy] must say live"},
        {"[node]\nregion = 510100\nlisten = tcp://h:7100\ndata_dir = /d\ninsecure_plaintext = yes\n[policy]\nlive = yes\n"
         "refuse_sponsors_from = 540600\n",
         "go together"},
    };
    for (size_t i = 0; i < sizeof whole / sizeof whole[0]; i++) {
        assert_int_equal(load_text(&cfg, whole[i].text, err, sizeof err), -1);
        if (strstr(err, whole[i].says) == NULL)
            fail_msg("case %zu: '%s' does not say '%s'", i, err, whole[i].says);
    }
    assert_int_equal(load_text(&cfg,
                               "[node]\nregion = 510100\nlisten = tcp://h:7100\ndata_dir = /d\ninsecure_plaintext = yes\n"
                               "[policy]\nlive = no\n[peers]\n51 = tcp://hub:7000\n43 = tcp://a:7000, tcp://b:7000\n",
                               err, sizeof err),
                     0);
    assert_false(cfg.policy.live);
    /* A peer at several URLs: a primary and its standby. */
    assert_int_equal(cfg.peers[1].url_count, 2);
    assert_string_equal(cfg.peers[1].urls[1], "tcp://b:7000");
    assert_int_equal(load_text(&cfg,
                               "[node]\nregion = 510100\nlisten = tcp://h:7100\ndata_dir = /d\ninsecure_plaintext = yes\n"
                               "[policy]\nlive = yes\n[peers]\n43 = tcp://a:1, tcp://b:1, tcp://c:1, tcp://d:1, tcp://e:1\n",
                               err, sizeof err),
                     -1);
    assert_non_null(strstr(err, "more than 4 URLs"));
    assert_int_equal(load_text(&cfg,
                               "[node]\nregion = 510100\nlisten = tcp://h:7100\ndata_dir = /d\ninsecure_plaintext = yes\n"
                               "[policy]\nlive = yes\n[peers]\n43 = tcp://a:1, foo://b\n",
                               err, sizeof err),
                     -1);
    assert_non_null(strstr(err, "peer 43 = foo://b is not"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_are_the_limits_defaults),
        cmocka_unit_test(test_each_bound_is_taken_at_its_edges_and_refused_past_them),
        cmocka_unit_test(test_unknown_keys_and_bad_regions_are_refused),
        cmocka_unit_test(test_pool_and_wallet_knobs),
        cmocka_unit_test(test_every_problem_is_told_at_its_own_line),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
