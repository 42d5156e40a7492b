/* The client config file: where an operator writes once which node to call and with
 * which credentials, instead of a --node/--ca/--cert on every command.
 *
 * Which file: --config FILE, else $GONGJI_CLIENT_CONFIG, else
 * $XDG_CONFIG_HOME/gongji/client.ini (~/.config/gongji/client.ini), else
 * /etc/gongji/client.ini. A file named by --config or the environment must exist; the
 * default ones need not. Lines are "key = value"; '#' or ';' starts a comment; a
 * "[client]" section header may stand on top. What a value may be is checked where the
 * option is checked, as if it had been typed.
 *
 * Precedence, for each setting: the command line, then its environment variable
 * (GONGJI_NODE, GONGJI_CA, ...), then this file, then the built-in default. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli_internal.h"

#define CLI_CONFIG_LINE_MAX 1024

static const struct {
    const char *key;
    int id;
    const char *env; /* the environment variable that beats the file, if any */
} cli_config_keys[] = {
    {"node", O_NODE, "GONGJI_NODE"}, {"ca", O_CA, "GONGJI_CA"},    {"cert", O_CERT, "GONGJI_CERT"},
    {"key", O_KEY, "GONGJI_KEY"},    {"crl", O_CRL, "GONGJI_CRL"}, {"caller", O_CALLER, NULL},
    {"role", O_ROLE, NULL},          {"timeout", O_TIMEOUT, NULL},
};
#define CLI_CONFIG_NKEYS (sizeof cli_config_keys / sizeof cli_config_keys[0])

static char *cli_trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
        s[--n] = '\0';
    return s;
}

/* One "key = value" line into x (unless the command line or environment set it). */
static int cli_config_line(cli_ctx *x, const char *path, int lineno, char *line, bool seen[CLI_CONFIG_NKEYS])
{
    char *eq = strchr(line, '=');
    if (eq == NULL)
        return cli_usage(x, "%s line %d: expected key = value", path, lineno);
    *eq = '\0';
    char *key = cli_trim(line), *value = cli_trim(eq + 1);
    for (size_t k = 0; k < CLI_CONFIG_NKEYS; k++) {
        if (strcmp(key, cli_config_keys[k].key) != 0)
            continue;
        if (seen[k])
            return cli_usage(x, "%s line %d: %s given twice", path, lineno, key);
        seen[k] = true;
        if (*value == '\0')
            return cli_usage(x, "%s line %d: %s needs a value", path, lineno, key);
        int id = cli_config_keys[k].id;
        const char *env = cli_config_keys[k].env != NULL ? getenv(cli_config_keys[k].env) : NULL;
        if (x->val[id] != NULL || (env != NULL && *env != '\0'))
            return -1; /* the command line or the environment wins */
        if ((x->val[id] = strdup(value)) == NULL)
            return cli_usage(x, "out of memory");
        x->from_config[id] = true;
        return -1;
    }
    return cli_usage(x, "%s line %d: unknown key '%s' (node, ca, cert, key, crl, caller, role, timeout)", path,
                     lineno, key);
}

static int cli_config_read(cli_ctx *x, const char *path, FILE *f)
{
    char line[CLI_CONFIG_LINE_MAX + 2];
    bool seen[CLI_CONFIG_NKEYS] = {false};
    int lineno = 0, rc = -1;
    while (rc < 0 && fgets(line, sizeof line, f) != NULL) {
        lineno++;
        if (strchr(line, '\n') == NULL && !feof(f))
            return cli_usage(x, "%s line %d: longer than %d characters", path, lineno, CLI_CONFIG_LINE_MAX);
        char *s = cli_trim(line);
        if (lineno == 1 && strncmp(s, "\xEF\xBB\xBF", 3) == 0)
            s += 3; /* a BOM, as some editors write */
        if (*s == '\0' || *s == '#' || *s == ';')
            continue;
        if (*s == '[') {
            if (strcmp(s, "[client]") != 0)
                return cli_usage(x, "%s line %d: unknown section %s (only [client])", path, lineno, s);
            continue;
        }
        rc = cli_config_line(x, path, lineno, s, seen);
    }
    if (rc < 0 && ferror(f))
        return cli_usage(x, "%s: cannot read: %s", path, strerror(errno));
    return rc;
}

int cli_apply_config(cli_ctx *x)
{
    const char *explicit_path = x->val[O_CONFIG];
    if (explicit_path == NULL) {
        const char *e = getenv("GONGJI_CLIENT_CONFIG");
        if (e != NULL && *e != '\0')
            explicit_path = e;
    }
    char home_path[600] = "";
    const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
    if (xdg != NULL && *xdg == '/')
        snprintf(home_path, sizeof home_path, "%s/gongji/client.ini", xdg);
    else if (home != NULL && *home == '/')
        snprintf(home_path, sizeof home_path, "%s/.config/gongji/client.ini", home);
    const char *candidates[] = {home_path, "/etc/gongji/client.ini"};

    const char *path = NULL;
    FILE *f = NULL;
    if (explicit_path != NULL) {
        if (*explicit_path == '\0')
            return cli_usage(x, "--config needs a file");
        if ((f = fopen(explicit_path, "r")) == NULL)
            return cli_usage(x, "cannot open client config %s: %s", explicit_path, strerror(errno));
        path = explicit_path;
    } else {
        for (size_t i = 0; i < sizeof candidates / sizeof candidates[0] && f == NULL; i++)
            if (candidates[i][0] != '\0' && (f = fopen(candidates[i], "r")) != NULL)
                path = candidates[i];
        if (f == NULL)
            return -1; /* no file: flags, environment and defaults */
    }
    x->config_path = path;
    int rc = cli_config_read(x, path, f);
    fclose(f);
    return rc;
}
