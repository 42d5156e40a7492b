#include "config.h"
#include "gj_util.h"
#include "log.h"

#include <ini.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void node_config_defaults(node_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->log_level = GJ_LOG_INFO;
    cfg->contexts = GJ_SERVER_CONTEXTS_DEFAULT;
    cfg->map_size = GJ_MAP_SIZE_DEFAULT;
    cfg->workers = GJ_WORKERS_DEFAULT;
    cfg->peer_timeout_ms = GJ_PEER_TIMEOUT_DEFAULT_MS;
    cfg->clearing_page_size = GJ_CLEARING_PAGE_DEFAULT;
    cfg->resolve_interval_ms = GJ_RESOLVE_INTERVAL_DEFAULT_MS;
    cfg->resolve_after_ms = GJ_RESOLVE_AFTER_DEFAULT_MS;
    cfg->commit_gather_us = GJ_COMMIT_GATHER_DEFAULT_US;
    cfg->session_life_s = GJ_SESSION_LIFE_DEFAULT_S;
    cfg->write_queue = GJ_WRITE_QUEUE_MAX;
    cfg->worker_queue = GJ_WORKER_QUEUE_MAX;
    cfg->sessions = GJ_SESSIONS_MAX;
    cfg->stop_drain_ms = GJ_STOP_DRAIN_MS;
    cfg->suspect_calls = GJ_SUSPECT_CALLS_MAX;
    cfg->suspect_ms = GJ_SUSPECT_MS;
    cfg->delivery_queue = GJ_DELIVERY_QUEUE_MAX;
    cfg->idempotency_retention_days = 30;
    cfg->clearing_close_after_days = 0;
    cfg->credit_quiet_ms = 250;
    rules_policy_default(&cfg->policy, "");
}

/* Problems kept for the message, each with its line. */
#define CONFIG_PROBLEMS_MAX 16
/* Key lines remembered per file (inih does not say which line a key is on). */
#define CONFIG_LINES_MAX 512

typedef struct load_state {
    node_config *cfg;
    char problem[256];        /* the current key's problem (FAIL) */
    /* Each key's line, in the order inih hands keys over, from a first read of the file. */
    int key_lines[CONFIG_LINES_MAX];
    size_t key_count, key_next;
    /* What was seen, for the checks made once the whole file is read. */
    bool policy_section, live_key, refuse_regions_key, refuse_insutype_key;
    char seen[CONFIG_LINES_MAX][48]; /* "section.key" of each key so far: a repeat is refused */
    size_t seen_count;
    size_t problem_count;
    int problem_lines[CONFIG_PROBLEMS_MAX];
    char problems[CONFIG_PROBLEMS_MAX][256];
} load_state;

static bool parse_bool(const char *v, bool *out)
{
    if (!strcasecmp(v, "yes") || !strcasecmp(v, "true") || !strcmp(v, "1") || !strcasecmp(v, "on"))
        *out = true;
    else if (!strcasecmp(v, "no") || !strcasecmp(v, "false") || !strcmp(v, "0") ||
             !strcasecmp(v, "off"))
        *out = false;
    else
        return false;
    return true;
}

static bool parse_uint(const char *v, unsigned long long max, unsigned long long *out)
{
    char *end;
    if (*v < '0' || *v > '9')
        return false;
    unsigned long long x = strtoull(v, &end, 10);
    if (*end != '\0' || x > max)
        return false;
    *out = x;
    return true;
}

/* "HH:MM-HH:MM" into two seconds of the day; "none" = no hours (both 0). */
static bool parse_hours(const char *v, int32_t *from, int32_t *to)
{
    int h1, m1, h2, m2;
    char extra;
    if (strcmp(v, "none") == 0) {
        *from = *to = 0;
        return true;
    }
    if (strlen(v) != 11 || sscanf(v, "%2d:%2d-%2d:%2d%c", &h1, &m1, &h2, &m2, &extra) != 4 || h1 < 0 || h1 > 23 ||
        m1 < 0 || m1 > 59 || h2 < 0 || h2 > 23 || m2 < 0 || m2 > 59)
        return false;
    *from = (h1 * 60 + m1) * 60;
    *to = (h2 * 60 + m2) * 60;
    return true;
}

/* Comma-separated names into a bit mask; "all" = every known value. */
static bool parse_mask(const char *v, int (*parse)(const char *), uint32_t all, uint32_t *out)
{
    char buf[512];
    if (!gj_strcpy_fit(buf, sizeof buf, v))
        return false;
    uint32_t mask = 0;
    for (char *save = NULL, *tok = strtok_r(buf, ", ", &save); tok;
         tok = strtok_r(NULL, ", ", &save)) {
        if (!strcasecmp(tok, "all")) {
            mask |= all;
            continue;
        }
        if (!strcasecmp(tok, "none"))
            continue;
        int x = parse(tok);
        if (x <= 0)
            return false;
        mask |= GJ_BIT(x);
    }
    *out = mask;
    return true;
}

static bool is_region_code(const char *v)
{
    return strlen(v) == GJ_ADMDVS_LEN && gj_all_digits(v, GJ_ADMDVS_LEN);
}

static bool parse_regions(const char *v, gj_policy *p)
{
    char buf[GJ_POLICY_REGIONS_MAX * 8];
    if (!gj_strcpy_fit(buf, sizeof buf, v))
        return false;
    p->refuse_region_count = 0;
    for (char *save = NULL, *tok = strtok_r(buf, ", ", &save); tok;
         tok = strtok_r(NULL, ", ", &save)) {
        if (!is_region_code(tok) || p->refuse_region_count >= GJ_POLICY_REGIONS_MAX)
            return false;
        memcpy(p->refuse_regions[p->refuse_region_count++], tok, GJ_ADMDVS_LEN + 1);
    }
    return true;
}

#define FAIL(...)                                                                              \
    do {                                                                                       \
        snprintf(st->problem, sizeof st->problem, __VA_ARGS__);                                \
        return 0;                                                                              \
    } while (0)

/* The numbers an operator may set, each within its bounds. */
typedef struct number_key {
    const char *key;
    size_t offset; /* of an unsigned in node_config */
    unsigned long long min, max;
} number_key;

#define NUMBER_KEY(name, lo, hi) {#name, offsetof(node_config, name), lo, hi}
static const number_key number_keys[] = {
    NUMBER_KEY(contexts, 1, GJ_SERVER_CONTEXTS_MAX),
    NUMBER_KEY(workers, 1, GJ_WORKERS_MAX),
    NUMBER_KEY(clearing_page_size, 1, GJ_CLEARING_PAGE_MAX),
    NUMBER_KEY(peer_timeout_ms, 10, 600000),
    NUMBER_KEY(resolve_interval_ms, 10, 3600000),
    NUMBER_KEY(resolve_after_ms, 10, 86400000),
    NUMBER_KEY(commit_gather_us, 0, 100000),
    NUMBER_KEY(session_life_s, 10, 7 * 86400),
    NUMBER_KEY(write_queue, 16, GJ_WRITE_QUEUE_CAP),
    NUMBER_KEY(worker_queue, 16, GJ_WORKER_QUEUE_CAP),
    NUMBER_KEY(sessions, 64, GJ_SESSIONS_CAP),
    NUMBER_KEY(stop_drain_ms, 0, GJ_STOP_DRAIN_CAP_MS),
    NUMBER_KEY(suspect_calls, 1, GJ_SUSPECT_CALLS_CAP),
    NUMBER_KEY(suspect_ms, 100, GJ_SUSPECT_MS_CAP),
    NUMBER_KEY(delivery_queue, 16, GJ_DELIVERY_QUEUE_CAP),
    NUMBER_KEY(idempotency_retention_days, 0, 3650),
    NUMBER_KEY(clearing_close_after_days, 0, 365),
    NUMBER_KEY(credit_quiet_ms, 0, 3600000),
};

/* 1: key is a number key and value fits (set); 0: it is one and does not (st->problem
 * says why); -1: not a number key. */
static int on_number_key(load_state *st, const char *key, const char *value)
{
    for (size_t i = 0; i < sizeof number_keys / sizeof number_keys[0]; i++) {
        const number_key *k = &number_keys[i];
        if (strcmp(key, k->key) != 0)
            continue;
        unsigned long long n;
        if (!parse_uint(value, k->max, &n) || n < k->min)
            FAIL("%s must be %llu..%llu", key, k->min, k->max);
        *(unsigned *)((char *)st->cfg + k->offset) = (unsigned)n;
        return 1;
    }
    return -1;
}

static int on_node_key(load_state *st, const char *key, const char *value)
{
    node_config *cfg = st->cfg;
    unsigned long long n;
    int number = on_number_key(st, key, value);
    if (number >= 0)
        return number;
    if (!strcmp(key, "region")) {
        if (!is_region_code(value))
            FAIL("region must be a 6-digit division code, got '%s'", value);
        memcpy(cfg->region, value, GJ_ADMDVS_LEN + 1);
    } else if (!strcmp(key, "name")) {
        if (!gj_strcpy_fit(cfg->name, sizeof cfg->name, value))
            FAIL("name is too long");
    } else if (!strcmp(key, "listen")) {
        if (!gj_strcpy_fit(cfg->listen_url, sizeof cfg->listen_url, value))
            FAIL("listen URL is too long");
    } else if (!strcmp(key, "data_dir")) {
        if (!gj_strcpy_fit(cfg->data_dir, sizeof cfg->data_dir, value))
            FAIL("data_dir is too long");
    } else if (!strcmp(key, "probes_listen")) {
        if (strncmp(value, "http://", 7) != 0 || !gj_strcpy_fit(cfg->probes_listen, sizeof cfg->probes_listen, value))
            FAIL("probes_listen must be an http:// address, e.g. http://127.0.0.1:9201");
    } else if (!strcmp(key, "log_file")) {
        if (!gj_strcpy_fit(cfg->log_file, sizeof cfg->log_file, value))
            FAIL("log_file is too long");
    } else if (!strcmp(key, "log_format")) {
        if (strcmp(value, "text") != 0 && strcmp(value, "json") != 0)
            FAIL("log_format must be text or json");
        cfg->log_json = strcmp(value, "json") == 0;
    } else if (!strcmp(key, "log_level")) {
        if ((cfg->log_level = gj_log_level_parse(value)) < 0)
            FAIL("log_level must be debug, info, warn or error");
    } else if (!strcmp(key, "map_size_mb")) {
        if (!parse_uint(value, 1ULL << 24, &n) || n < 1)
            FAIL("map_size_mb must be a positive number of MiB");
        cfg->map_size = n << 20;
    } else if (!strcmp(key, "tls_ca") || !strcmp(key, "tls_cert") || !strcmp(key, "tls_key") ||
               !strcmp(key, "tls_crl")) {
        char *dst = !strcmp(key, "tls_ca") ? cfg->tls_ca : !strcmp(key, "tls_cert") ? cfg->tls_cert
                    : !strcmp(key, "tls_key") ? cfg->tls_key : cfg->tls_crl;
        if (!gj_strcpy_fit(dst, sizeof cfg->tls_ca, value))
            FAIL("%s is too long", key);
    } else if (!strcmp(key, "insecure_plaintext")) {
        if (!parse_bool(value, &cfg->insecure_plaintext))
            FAIL("insecure_plaintext must be yes or no");
    } else if (!strcmp(key, "allow_clock_override")) {
        if (!parse_bool(value, &cfg->allow_clock_override))
            FAIL("allow_clock_override must be yes or no");
    } else {
        FAIL("unknown key '%s' in [node]", key);
    }
    return 1;
}

static int on_policy_key(load_state *st, const char *key, const char *value)
{
    gj_policy *p = &st->cfg->policy;
    unsigned long long n;
    if (!strcmp(key, "live")) {
        if (!parse_bool(value, &p->live))
            FAIL("live must be yes or no");
    } else if (!strcmp(key, "relations")) {
        if (!parse_mask(value, rules_relation_parse, GJ_RELATIONS_ALL, &p->relations_allowed))
            FAIL("relations: unknown relation in '%s'", value);
        if (p->relations_allowed & GJ_BIT(GJ_REL_SPOUSE_PARENT))
            FAIL("relations: a spouse's parent can never be allowed (R2)");
    } else if (!strcmp(key, "max_beneficiaries")) {
        if (!strcasecmp(value, "unlimited"))
            n = 0;
        else if (!parse_uint(value, GJ_BENEFICIARIES_MAX, &n))
            FAIL("max_beneficiaries must be 0..%d or unlimited", GJ_BENEFICIARIES_MAX);
        p->max_beneficiaries = (uint32_t)n;
    } else if (!strcmp(key, "one_relationship_per_person")) {
        if (!parse_bool(value, &p->one_relationship_per_person))
            FAIL("one_relationship_per_person must be yes or no");
    } else if (!strcmp(key, "cascade")) {
        if (!parse_bool(value, &p->cascade))
            FAIL("cascade must be yes or no");
    } else if (!strcmp(key, "reserve_floor")) {
        if (!gj_yuan_parse(value, &p->reserve_floor))
            FAIL("reserve_floor must be yuan with at most two decimals");
    } else if (!strcmp(key, "cross_province_pilot")) {
        if (!parse_bool(value, &p->cross_province_pilot))
            FAIL("cross_province_pilot must be yes or no");
    } else if (!strcmp(key, "uses")) {
        if (!parse_mask(value, rules_use_parse, GJ_USES_ALL, &p->uses_allowed))
            FAIL("uses: unknown use in '%s'", value);
    } else if (!strcmp(key, "refuse_sponsors_from")) {
        if (!parse_regions(value, p))
            FAIL("refuse_sponsors_from must list 6-digit region codes");
    } else if (!strcmp(key, "refuse_insutype")) {
        if (strcmp(value, "310") && strcmp(value, "390"))
            FAIL("refuse_insutype must be 310 or 390");
        memcpy(p->refuse_insutype, value, 4);
    } else if (!strcmp(key, "sponsor_choice")) {
        if (!parse_bool(value, &p->sponsor_choice))
            FAIL("sponsor_choice must be yes or no");
    } else if (!strcmp(key, "verify_age")) {
        if (!parse_uint(value, 150, &n))
            FAIL("verify_age must be 0..150");
        p->verify_age = (uint32_t)n;
    } else if (!strcmp(key, "max_beneficiaries_per_year")) {
        if (!parse_uint(value, GJ_BENEFICIARIES_MAX * 100, &n))
            FAIL("max_beneficiaries_per_year must be 0..%d", GJ_BENEFICIARIES_MAX * 100);
        p->max_beneficiaries_per_year = (uint32_t)n;
    } else if (!strcmp(key, "family_pool")) {
        if (!parse_bool(value, &p->family_pool))
            FAIL("family_pool must be yes or no");
    } else if (!strcmp(key, "pool_floor")) {
        if (!gj_yuan_parse(value, &p->pool_floor))
            FAIL("pool_floor must be yuan with at most two decimals");
    } else if (!strcmp(key, "pool_members_max")) {
        if (!parse_uint(value, GJ_BENEFICIARIES_MAX, &n) || n == 0)
            FAIL("pool_members_max must be 1..%d", GJ_BENEFICIARIES_MAX);
        p->pool_members_max = (uint32_t)n;
    } else if (!strcmp(key, "wallet")) {
        if (!parse_bool(value, &p->wallet))
            FAIL("wallet must be yes or no");
    } else if (!strcmp(key, "wallet_transfer_max")) {
        if (!gj_yuan_parse(value, &p->wallet_transfer_max) || p->wallet_transfer_max <= 0)
            FAIL("wallet_transfer_max must be yuan, more than 0, with at most two decimals");
    } else if (!strcmp(key, "wallet_transfers_per_day")) {
        if (!parse_uint(value, 1000, &n))
            FAIL("wallet_transfers_per_day must be 0..1000");
        p->wallet_transfers_per_day = (uint32_t)n;
    } else if (!strcmp(key, "wallet_blackout")) {
        if (!parse_hours(value, &p->wallet_blackout_start_s, &p->wallet_blackout_end_s))
            FAIL("wallet_blackout must be HH:MM-HH:MM (China Standard Time) or none");
    } else if (!strcmp(key, "unbind_min_months")) {
        if (!parse_uint(value, GJ_UNBIND_MIN_MONTHS_MAX, &n))
            FAIL("unbind_min_months must be 0..%d", GJ_UNBIND_MIN_MONTHS_MAX);
        p->unbind_min_months = (uint32_t)n;
    } else if (!strcmp(key, "revoke_days")) {
        if (!parse_uint(value, GJ_REVOKE_DAYS_MAX, &n))
            FAIL("revoke_days must be 0..%d", GJ_REVOKE_DAYS_MAX);
        p->revoke_days = (uint32_t)n;
    } else {
        FAIL("unknown key '%s' in [policy]", key);
    }
    return 1;
}

static int on_peer_key(load_state *st, const char *key, const char *value)
{
    node_config *cfg = st->cfg;
    size_t len = strlen(key);
    if (len < 2 || len > GJ_ADMDVS_LEN || !gj_all_digits(key, len))
        FAIL("peer prefix '%s' must be 2 to 6 digits of a region code", key);
    if (cfg->peer_count >= GJ_PEERS_MAX)
        FAIL("more than %d peers", GJ_PEERS_MAX);
    node_peer *peer = &cfg->peers[cfg->peer_count];
    memset(peer, 0, sizeof *peer);
    memcpy(peer->prefix, key, len + 1);
    if (!gj_strcpy_fit(peer->url, sizeof peer->url, value))
        FAIL("peer URL is too long");
    char list[256];
    memcpy(list, peer->url, sizeof list);
    for (char *save = NULL, *tok = strtok_r(list, ", ", &save); tok != NULL; tok = strtok_r(NULL, ", ", &save)) {
        if (peer->url_count >= GJ_PEER_URLS_MAX)
            FAIL("peer %s lists more than %d URLs", key, GJ_PEER_URLS_MAX);
        memcpy(peer->urls[peer->url_count++], tok, strlen(tok) + 1);
    }
    if (peer->url_count == 0)
        FAIL("peer %s needs a URL", key);
    cfg->peer_count++;
    return 1;
}

static void add_problem(load_state *st, int line, const char *text)
{
    if (st->problem_count >= CONFIG_PROBLEMS_MAX)
        return;
    st->problem_lines[st->problem_count] = line;
    snprintf(st->problems[st->problem_count], sizeof st->problems[0], "%s", text);
    st->problem_count++;
}

static int on_key_checked(load_state *st, const char *section, const char *key, const char *value)
{
    char name[48];
    snprintf(name, sizeof name, "%s.%s", section, key);
    for (size_t i = 0; i < st->seen_count; i++)
        if (strcmp(st->seen[i], name) == 0)
            FAIL("%s is set twice in [%s]: once is clear", key, section);
    if (st->seen_count < CONFIG_LINES_MAX)
        memcpy(st->seen[st->seen_count++], name, sizeof name);
    if (!strcmp(section, "node"))
        return on_node_key(st, key, value);
    if (!strcmp(section, "policy")) {
        st->policy_section = true;
        st->live_key |= !strcmp(key, "live");
        st->refuse_regions_key |= !strcmp(key, "refuse_sponsors_from");
        st->refuse_insutype_key |= !strcmp(key, "refuse_insutype");
        return on_policy_key(st, key, value);
    }
    if (!strcmp(section, "peers"))
        return on_peer_key(st, key, value);
    FAIL("unknown section [%s]", section);
}

/* Every problem is kept with its own line; reading goes on to find the others. */
static int on_key(void *user, const char *section, const char *key, const char *value)
{
    load_state *st = user;
    int line = st->key_next < st->key_count ? st->key_lines[st->key_next] : 0;
    st->key_next++;
    st->problem[0] = '\0';
    if (on_key_checked(st, section, key, value) == 0)
        add_problem(st, line, st->problem);
    return 1;
}

/* The line of every key, as inih will hand them over: "name = value" lines, and lines
 * that continue a value (indented, after a key). Also the lines inih cannot read. */
static void scan_lines(load_state *st, const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return;
    char buf[1024];
    int line = 0;
    bool after_key = false;
    while (fgets(buf, sizeof buf, f) != NULL) {
        line++;
        const char *s = buf;
        while (*s == ' ' || *s == '\t')
            s++;
        bool indented = s > buf;
        if (*s == '\0' || *s == '\n' || *s == '\r' || *s == ';' || *s == '#') {
            continue;
        } else if (*s == '[') {
            after_key = false;
        } else if (indented && after_key) {
            if (st->key_count < CONFIG_LINES_MAX)
                st->key_lines[st->key_count++] = line; /* a continued value: the key again */
        } else if (strchr(s, '=') != NULL || strchr(s, ':') != NULL) {
            if (st->key_count < CONFIG_LINES_MAX)
                st->key_lines[st->key_count++] = line;
            after_key = true;
        } else {
            add_problem(st, line, "not a [section] or a name = value line");
        }
    }
    fclose(f);
}

/* A URL nng can listen on or dial: SCHEME://HOST:PORT with a port of 1..65535. */
static bool url_ok(const char *url)
{
    static const char *const schemes[] = {"tcp://", "tcp4://", "tcp6://", "tls+tcp://", "tls+tcp4://", "tls+tcp6://"};
    const char *rest = NULL;
    for (size_t i = 0; i < sizeof schemes / sizeof schemes[0] && rest == NULL; i++)
        if (strncmp(url, schemes[i], strlen(schemes[i])) == 0)
            rest = url + strlen(schemes[i]);
    if (rest == NULL || *rest == '\0')
        return false;
    const char *colon = strrchr(rest, ':');
    if (colon == NULL || colon == rest)
        return false;
    char *end;
    long port = strtol(colon + 1, &end, 10);
    return colon[1] != '\0' && *end == '\0' && port >= 1 && port <= 65535;
}

static bool url_is_tls(const char *url)
{
    return strncmp(url, "tls+tcp://", 10) == 0 || strncmp(url, "tls+tcp4://", 11) == 0 ||
           strncmp(url, "tls+tcp6://", 11) == 0;
}

/* Every link is TLS with certificates unless the file says insecure_plaintext = yes;
 * a TLS URL always needs the certificate files. */
static void check_trust(load_state *st)
{
    node_config *cfg = st->cfg;
    char text[256];
    bool any_tls = url_is_tls(cfg->listen_url);
    for (size_t i = 0; i < cfg->peer_count; i++)
        for (size_t u = 0; u < cfg->peers[i].url_count; u++)
            any_tls |= url_is_tls(cfg->peers[i].urls[u]);
    if ((any_tls || !cfg->insecure_plaintext) && (cfg->tls_ca[0] == '\0' || cfg->tls_cert[0] == '\0')) {
        snprintf(text, sizeof text, "[node] needs tls_ca and tls_cert (and tls_key unless the key is in tls_cert)%s",
                 any_tls ? " for tls+tcp:// links" : "; plaintext links need insecure_plaintext = yes");
        add_problem(st, 0, text);
    }
    if (cfg->insecure_plaintext)
        return;
    if (cfg->listen_url[0] != '\0' && !url_is_tls(cfg->listen_url)) {
        snprintf(text, sizeof text, "listen = %.150s is not tls+tcp://; plaintext needs insecure_plaintext = yes",
                 cfg->listen_url);
        add_problem(st, 0, text);
    }
    for (size_t i = 0; i < cfg->peer_count; i++)
        for (size_t u = 0; u < cfg->peers[i].url_count; u++)
            if (!url_is_tls(cfg->peers[i].urls[u])) {
                snprintf(text, sizeof text,
                         "peer %s = %.150s is not tls+tcp://; plaintext needs insecure_plaintext = yes",
                         cfg->peers[i].prefix, cfg->peers[i].urls[u]);
                add_problem(st, 0, text);
            }
}

/* What no single key can say: checked once the file is read. */
static void check_whole(load_state *st)
{
    node_config *cfg = st->cfg;
    char text[256];
    if (cfg->region[0] == '\0' || cfg->listen_url[0] == '\0' || cfg->data_dir[0] == '\0')
        add_problem(st, 0, "[node] needs region, listen and data_dir");
    if (cfg->listen_url[0] != '\0' && !url_ok(cfg->listen_url)) {
        snprintf(text, sizeof text, "listen = %.200s is not tls+tcp://HOST:PORT (or tcp://)", cfg->listen_url);
        add_problem(st, 0, text);
    }
    const struct {
        const char *key, *value;
    } paths[] = {{"data_dir", cfg->data_dir}, {"log_file", cfg->log_file}, {"tls_ca", cfg->tls_ca},
                 {"tls_cert", cfg->tls_cert}, {"tls_key", cfg->tls_key}, {"tls_crl", cfg->tls_crl}};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++)
        if (paths[i].value[0] != '\0' && paths[i].value[0] != '/') {
            snprintf(text, sizeof text, "%s = %.120s must be an absolute path (a service's working directory is "
                                        "not yours)", paths[i].key, paths[i].value);
            add_problem(st, 0, text);
        }
    for (size_t i = 0; i < cfg->peer_count; i++) {
        for (size_t u = 0; u < cfg->peers[i].url_count; u++)
            if (!url_ok(cfg->peers[i].urls[u])) {
                snprintf(text, sizeof text, "peer %s = %.200s is not tls+tcp://HOST:PORT (or tcp://)",
                         cfg->peers[i].prefix, cfg->peers[i].urls[u]);
                add_problem(st, 0, text);
            }
        if (strcmp(cfg->peers[i].prefix, cfg->region) == 0) {
            snprintf(text, sizeof text, "peer %s is this node's own region: its requests are served here",
                     cfg->peers[i].prefix);
            add_problem(st, 0, text);
        }
    }
    check_trust(st);
    if (!st->policy_section || !st->live_key)
        add_problem(st, 0, "[policy] must say live = yes or no: a region is never switched on by default");
    if (st->refuse_regions_key != st->refuse_insutype_key)
        add_problem(st, 0, "refuse_sponsors_from and refuse_insutype go together: which insured, from which regions");
}

int node_config_load(node_config *cfg, const char *path, char *err, size_t err_size)
{
    load_state *st = calloc(1, sizeof *st);
    if (st == NULL) {
        snprintf(err, err_size, "%s: out of memory", path);
        return -1;
    }
    st->cfg = cfg;
    scan_lines(st, path);
    int rv = ini_parse(path, on_key, st);
    if (rv < 0) {
        snprintf(err, err_size, "%s: cannot open", path);
        free(st);
        return -1;
    }
    if (rv > 0 && st->problem_count == 0)
        add_problem(st, rv, "syntax error");
    if (st->problem_count == 0)
        check_whole(st);
    /* Every problem on a line of its own: "FILE:LINE: what" (no line: the file as a whole). */
    size_t used = 0;
    err[0] = '\0';
    for (size_t i = 0; i < st->problem_count && used + 1 < err_size; i++) {
        int n = st->problem_lines[i] > 0
                    ? snprintf(err + used, err_size - used, "%s%s:%d: %s", i ? "\n" : "", path, st->problem_lines[i],
                               st->problems[i])
                    : snprintf(err + used, err_size - used, "%s%s: %s", i ? "\n" : "", path, st->problems[i]);
        if (n < 0)
            break;
        used += (size_t)n;
    }
    bool failed = st->problem_count > 0;
    free(st);
    if (failed)
        return -1;
    memcpy(cfg->policy.region, cfg->region, sizeof cfg->region);
    return 0;
}
