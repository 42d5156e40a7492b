#include "config.h"

#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gj_util.h"
#include "log.h"

typedef struct load_state {
    gw_config *cfg;
    char problem[256];
} load_state;

#define FAIL(...)                                                                              \
    do {                                                                                       \
        snprintf(st->problem, sizeof st->problem, __VA_ARGS__);                                \
        return 0;                                                                              \
    } while (0)

static bool number(const char *v, unsigned long min, unsigned long max, unsigned *out)
{
    char *end;
    if (*v < '0' || *v > '9')
        return false;
    unsigned long x = strtoul(v, &end, 10);
    if (*end != '\0' || x < min || x > max)
        return false;
    *out = (unsigned)x;
    return true;
}

static int on_gateway_key(load_state *st, const char *key, const char *value)
{
    gw_config *c = st->cfg;
    struct {
        const char *key;
        char *dst;
        size_t size;
    } texts[] = {
        {"listen", c->listen, sizeof c->listen},       {"tls_cert", c->tls_cert, sizeof c->tls_cert},
        {"tls_key", c->tls_key, sizeof c->tls_key},    {"node", c->node, sizeof c->node},
        {"tls_ca", c->tls_ca, sizeof c->tls_ca},       {"tls_crl", c->tls_crl, sizeof c->tls_crl},
        {"log_file", c->log_file, sizeof c->log_file},
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
        if (!strcmp(key, texts[i].key)) {
            if (!gj_strcpy_fit(texts[i].dst, texts[i].size, value))
                FAIL("%s is too long", key);
            return 1;
        }
    struct {
        const char *key;
        unsigned *dst;
        unsigned long min, max;
    } numbers[] = {
        {"workers", &c->workers, 1, GW_WORKERS_MAX},
        {"connections", &c->connections, 1, GW_CONNECTIONS_MAX},
        {"call_timeout_ms", &c->call_timeout_ms, 100, 600000},
        {"clock_skew_s", &c->clock_skew_s, 1, 3600},
        {"nonces", &c->nonces, 1u << 10, 1u << 24},
        {"files", &c->files, 1, 65536},
        {"files_mb", &c->files_mb, 1, 65536},
        {"file_ttl_s", &c->file_ttl_s, 60, 7 * 86400},
    };
    for (size_t i = 0; i < sizeof numbers / sizeof numbers[0]; i++)
        if (!strcmp(key, numbers[i].key)) {
            if (!number(value, numbers[i].min, numbers[i].max, numbers[i].dst))
                FAIL("%s must be %lu..%lu", key, numbers[i].min, numbers[i].max);
            return 1;
        }
    if (!strcmp(key, "region")) {
        if (strlen(value) != GJ_ADMDVS_LEN || !gj_all_digits(value, GJ_ADMDVS_LEN))
            FAIL("region must be a 6-digit division code");
        memcpy(c->region, value, GJ_ADMDVS_LEN + 1);
    } else if (!strcmp(key, "log_format")) {
        if (strcmp(value, "text") != 0 && strcmp(value, "json") != 0)
            FAIL("log_format must be text or json");
        c->log_json = strcmp(value, "json") == 0;
    } else if (!strcmp(key, "insecure_plaintext")) {
        if (strcmp(value, "yes") != 0 && strcmp(value, "no") != 0)
            FAIL("insecure_plaintext must be yes or no");
        c->insecure_plaintext = strcmp(value, "yes") == 0;
    } else if (!strcmp(key, "log_level")) {
        if ((c->log_level = gj_log_level_parse(value)) < 0)
            FAIL("log_level must be debug, info, warn or error");
    } else {
        FAIL("unknown key '%s' in [gateway]", key);
    }
    return 1;
}

static int on_institution_key(load_state *st, gw_institution_config *in, const char *key, const char *value)
{
    if (!strcmp(key, "paasid")) {
        if (!gj_strcpy_fit(in->paasid, sizeof in->paasid, value))
            FAIL("paasid is at most %d characters", GW_PAASID_MAX);
    } else if (!strcmp(key, "token")) {
        if (!gj_strcpy_fit(in->token, sizeof in->token, value))
            FAIL("token is at most %d characters", GW_TOKEN_MAX);
    } else if (!strcmp(key, "credential")) {
        if (!gj_strcpy_fit(in->credential, sizeof in->credential, value))
            FAIL("credential is too long");
    } else {
        FAIL("unknown key '%s' in [institution %s]", key, in->code);
    }
    return 1;
}

static int on_key(void *user, const char *section, const char *key, const char *value)
{
    load_state *st = user;
    gw_config *c = st->cfg;
    if (!strcmp(section, "gateway"))
        return on_gateway_key(st, key, value);
    bool platform = !strncmp(section, "platform ", 9);
    if (!strncmp(section, "institution ", 12) || platform) {
        const char *code = section + (platform ? 9 : 12);
        gw_institution_config *in = NULL;
        for (size_t i = 0; i < c->institution_count; i++)
            if (!strcmp(c->institutions[i].code, code))
                in = &c->institutions[i];
        if (in == NULL) {
            if (c->institution_count == GW_INSTITUTIONS_MAX)
                FAIL("at most %d institutions", GW_INSTITUTIONS_MAX);
            in = &c->institutions[c->institution_count];
            if (code[0] == '\0' || !gj_strcpy_fit(in->code, sizeof in->code, code))
                FAIL("institution code must be 1..%d characters", GJ_INSTITUTION_MAX);
            in->platform = platform;
            c->institution_count++;
        }
        return on_institution_key(st, in, key, value);
    }
    FAIL("unknown section [%s]", section);
}

int gw_config_load(gw_config *cfg, const char *path, char *err, size_t err_size)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->log_level = GJ_LOG_INFO;
    cfg->workers = 16;
    cfg->connections = 1024;
    cfg->call_timeout_ms = 5000;
    cfg->clock_skew_s = 300;
    cfg->nonces = 1u << 20;
    cfg->files = 1024;
    cfg->files_mb = 256;
    cfg->file_ttl_s = 86400;
    load_state st = {.cfg = cfg};
    int rv = ini_parse(path, on_key, &st);
    if (rv < 0) {
        snprintf(err, err_size, "%s: cannot open", path);
        return -1;
    }
    if (rv > 0) {
        snprintf(err, err_size, "%s:%d: %s", path, rv, st.problem[0] ? st.problem : "syntax error");
        return -1;
    }
    if (cfg->listen[0] == '\0' || cfg->node[0] == '\0' || cfg->region[0] == '\0') {
        snprintf(err, err_size, "%s: [gateway] needs listen, node and region", path);
        return -1;
    }
    if ((cfg->nonces & (cfg->nonces - 1)) != 0) {
        snprintf(err, err_size, "%s: nonces must be a power of two (1024 .. 16777216)", path);
        return -1;
    }
    if (strncmp(cfg->listen, "https://", 8) == 0 && cfg->tls_cert[0] == '\0') {
        snprintf(err, err_size, "%s: an https:// listen needs tls_cert", path);
        return -1;
    }
    if (gw_listen_plain(cfg) && !cfg->insecure_plaintext) {
        snprintf(err, err_size,
                 "%s: listen %.200s would answer HIS in clear text (person numbers, amounts): use https:// with "
                 "tls_cert, or say insecure_plaintext = yes where the network itself is closed",
                 path, cfg->listen);
        return -1;
    }
    if (strncmp(cfg->node, "tls+tcp://", 10) == 0 && cfg->tls_ca[0] == '\0') {
        snprintf(err, err_size, "%s: a tls+tcp:// node needs tls_ca", path);
        return -1;
    }
    for (size_t i = 0; i < cfg->institution_count; i++) {
        const gw_institution_config *in = &cfg->institutions[i];
        if (in->paasid[0] == '\0' || in->token[0] == '\0' || in->credential[0] == '\0') {
            snprintf(err, err_size, "%s: [institution %s] needs paasid, token and credential", path, in->code);
            return -1;
        }
        for (size_t k = 0; k < i; k++)
            if (!strcmp(cfg->institutions[k].paasid, in->paasid)) {
                snprintf(err, err_size, "%s: paasid %s is given to two institutions", path, in->paasid);
                return -1;
            }
    }
    return 0;
}

bool gw_listen_plain(const gw_config *cfg)
{
    return strncmp(cfg->listen, "http://", 7) == 0;
}
