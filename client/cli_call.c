/* How a gongji command calls a node: the client and its credential, one call and the
 * report of a failed one; and the checks of arguments that several commands share
 * (usage errors, amounts, dates, numbers, comma-separated lists). */
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cli_internal.h"
#include "gj_util.h"
#include "tls.h"

int cli_usage(const cli_ctx *x, const char *fmt, ...)
{
    va_list ap;
    fputs("gongji: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    if (x != NULL && x->cmd != NULL)
        fprintf(stderr, "Try 'gongji %s --help'.\n", x->cmd->name);
    else
        fputs("Try 'gongji --help'.\n", stderr);
    return CLI_EXIT_USAGE;
}

bool cli_parse_u64(const char *s, uint64_t max, uint64_t *out)
{
    if (s == NULL || *s == '\0')
        return false;
    uint64_t v = 0;
    for (const char *p = s; *p != '\0'; p++) {
        if (*p < '0' || *p > '9')
            return false;
        unsigned d = (unsigned)(*p - '0');
        if (v > (max - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

/* ---- the call ---- */

/* The node masks person and ID numbers in what it says ("no person 4301********0000");
 * on the operator's own terminal, the numbers the operator typed are shown as typed, so
 * the row can be found. Replaces each masked form of those values in text (in place). */
static void cli_unmask(const cli_ctx *x, char *text, size_t size)
{
    static const int typed[] = {O_PSN_NO, O_SPONSOR, O_BENEFICIARY, O_CERTNO, O_CALLER};
    size_t n_opts = sizeof typed / sizeof typed[0], n_rows = sizeof x->typed / sizeof x->typed[0];
    for (size_t i = 0; i < n_opts + n_rows; i++) {
        const char *value = i < n_opts ? x->val[typed[i]] : x->typed[i - n_opts];
        char masked[128];
        if (value == NULL || strlen(value) >= sizeof masked)
            continue;
        gj_mask(value, masked, sizeof masked);
        size_t ml = strlen(masked), vl = strlen(value);
        if (ml == 0 || ml != vl || strcmp(masked, value) == 0)
            continue; /* not masked at all: nothing to put back */
        for (char *at = strstr(text, masked); at != NULL; at = strstr(at + vl, masked))
            memcpy(at, value, vl); /* the same length: nothing moves */
    }
    (void)size;
}

void cli_report(const cli_ctx *x, const client_status *st)
{
    const char *code = client_code_name(st->code);
    char *reason = cli_clean(st->reason, false);
    char unmasked[sizeof st->message];
    gj_strcpy_fit(unmasked, sizeof unmasked, st->message);
    cli_unmask(x, unmasked, sizeof unmasked);
    char *message = cli_clean(unmasked, false);
    fprintf(stderr, "%sgongji: %s%s%s: %s\n", x->report_prefix, code, (reason && *reason) ? " " : "",
            reason ? reason : "", message ? message : "");
    free(reason);
    free(message);
    if (x->json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "code", code);
        j_text(o, "reason", st->reason);
        j_text(o, "message", unmasked);
        j_emit(o);
    }
}

/* Does anything listen at url's HOST:PORT? false only when every address refused the
 * connection outright, which a TCP connect says at once: a node that is down is then told
 * apart from a slow one without waiting out the call's timeout. */
static bool cli_refused(const char *url, int timeout_ms)
{
    const char *hostpart = strstr(url, "://");
    char host[256];
    if (hostpart == NULL || !gj_strcpy_fit(host, sizeof host, hostpart + 3))
        return false;
    char *colon = strrchr(host, ':');
    if (colon == NULL)
        return false;
    *colon = '\0';
    const char *port = colon + 1;
    if (host[0] == '[') { /* [::1]:7100 */
        memmove(host, host + 1, strlen(host));
        char *close = strchr(host, ']');
        if (close != NULL)
            *close = '\0';
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *list = NULL;
    if (getaddrinfo(host[0] ? host : NULL, port, &hints, &list) != 0)
        return false;
    bool all_refused = list != NULL;
    for (struct addrinfo *a = list; a != NULL && all_refused; a = a->ai_next) {
        int fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0) {
            all_refused = false;
            break;
        }
        int rc = connect(fd, a->ai_addr, a->ai_addrlen);
        int error = rc == 0 ? 0 : errno;
        if (rc != 0 && errno == EINPROGRESS) {
            struct pollfd p = {.fd = fd, .events = POLLOUT};
            socklen_t len = sizeof error;
            if (poll(&p, 1, timeout_ms < 1000 ? timeout_ms : 1000) == 1)
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len);
            else
                error = ETIMEDOUT; /* slow, not refused: the call decides */
        }
        close(fd);
        all_refused = error == ECONNREFUSED;
    }
    freeaddrinfo(list);
    return all_refused;
}

/* A client for url, with the credential when the URL is TLS (loaded once). Returns -1
 * with *out set, or an exit code after saying what is wrong. */
int cli_open_client(cli_ctx *x, const char *url, const char *where, client_t **out)
{
    if (gj_url_is_tls(url) && x->cred == NULL) {
        const gj_cred_files *f = &x->cred_files;
        if (f->ca_file == NULL || f->cert_file == NULL)
            return cli_usage(x, "%s needs a credential: --ca and --cert (and --key unless the key is "
                             "in --cert), or GONGJI_CA, GONGJI_CERT, GONGJI_KEY",
                             url);
        char err[512];
        gj_err e = gj_cred_open(&x->cred, f, err, sizeof err);
        if (e != GJ_OK) {
            fprintf(stderr, "gongji: credential not usable: %s\n", err);
            return CLI_EXIT_USAGE;
        }
    }
    gj_err e = client_open_with(out, url, x->timeout_ms, gj_url_is_tls(url) ? x->cred : NULL);
    if (e == GJ_ERR_TRANSPORT || e == GJ_ERR_INVAL) {
        char *u = cli_clean(url, false);
        int rc = cli_usage(x, "cannot use node URL '%s'%s (expected e.g. %s)", u ? u : "?", where,
                           CLI_DEFAULT_NODE);
        free(u);
        return rc;
    }
    if (e != GJ_OK) {
        fprintf(stderr, "gongji: cannot open a socket: %s\n", gj_err_name(e));
        return CLI_EXIT_NOANSWER;
    }

    if (x->caller != NULL || x->role != 0)
        client_set_identity(*out, x->caller, x->role != 0 ? x->role
                                            : x->cred != NULL ? gj_cred_identity(x->cred)->role
                                                              : GONGJI__V1__ROLE__OPERATOR);
    return -1;
}

/* One call. Returns CLI_EXIT_OK with *out set (caller frees), or the exit code after
 * reporting the error. */
int cli_call(cli_ctx *x, const char *call_id, const ProtobufCMessage *req,
             const ProtobufCMessageDescriptor *desc, ProtobufCMessage **out)
{
    return cli_call_method(x, x->cmd->method, call_id, req, desc, out);
}

int cli_call_method(cli_ctx *x, const char *method, const char *call_id, const ProtobufCMessage *req,
                    const ProtobufCMessageDescriptor *desc, ProtobufCMessage **out)
{
    *out = NULL;
    if (x->client == NULL) {
        int rc = cli_open_client(x, x->node, "", &x->client);
        if (rc >= 0)
            return rc;
        if (cli_refused(x->node, x->timeout_ms)) {
            char *u = cli_clean(x->node, false);
            fprintf(stderr, "gongji: NO_ANSWER: connection refused at %s: no node listens there\n", u ? u : "?");
            free(u);
            return CLI_EXIT_NOANSWER; /* at once, not after --timeout */
        }
    }
    client_status st;
    gj_err e = client_call(x->client, method, call_id, x->region, req, desc, out, &st);
    if (e == GJ_OK && st.code == GONGJI__V1__CODE__OK && *out != NULL)
        return CLI_EXIT_OK;
    if (*out != NULL) {
        protobuf_c_message_free_unpacked(*out, NULL);
        *out = NULL;
    }
    if (e == GJ_OK && st.code == GONGJI__V1__CODE__OK) { /* cannot happen: decode sets INTERNAL */
        st.code = GONGJI__V1__CODE__INTERNAL;
        gj_strcpy_fit(st.reason, sizeof st.reason, "BAD_ANSWER");
        gj_strcpy_fit(st.message, sizeof st.message, "no answer message");
    }
    cli_report(x, &st);
    return e == GJ_OK ? CLI_EXIT_NODE : CLI_EXIT_NOANSWER;
}

/* ---- argument checks shared by commands ---- */

int cli_need_amount(cli_ctx *x, int64_t *fen)
{
    const char *s = x->val[O_AMOUNT];
    if (!gj_yuan_parse(s, fen)) {
        char *t = cli_clean(s, false);
        int rc = cli_usage(x,
                           "bad amount '%s': give yuan with at most two decimals, "
                           "e.g. 120 or 120.50, at most 10000000.00",
                           t ? t : "?");
        free(t);
        return rc;
    }
    return CLI_EXIT_OK;
}

int cli_need_date(cli_ctx *x, int id, int32_t *d)
{
    const char *s = x->val[id];
    if (!gj_date_parse(s, d)) {
        char *t = cli_clean(s, false);
        int rc = cli_usage(x, "bad date '%s' for --%s: give YYYY-MM-DD or YYYYMMDD",
                           t ? t : "?", cli_optdefs[id].name);
        free(t);
        return rc;
    }
    return CLI_EXIT_OK;
}

/* Split option id's value, "A, B,C", into its items, blanks trimmed. On success *list
 * is a private copy that *items point into; the caller frees both. An empty item is a
 * usage error (what, e.g. "name", says what is missing in the message). */
int cli_split(cli_ctx *x, int id, const char *what, char **list, char ***items,
              size_t *n_items)
{
    *list = strdup(x->val[id]);
    *items = NULL;
    *n_items = 0;
    if (*list == NULL)
        return cli_usage(x, "out of memory");
    size_t cap = 1;
    for (const char *p = *list; *p != '\0'; p++)
        cap += *p == ',';
    char **names = calloc(cap, sizeof *names);
    if (names == NULL) {
        free(*list);
        *list = NULL;
        return cli_usage(x, "out of memory");
    }
    size_t n = 0;
    char *p = *list;
    for (;;) {
        char *comma = strchr(p, ',');
        if (comma != NULL)
            *comma = '\0';
        while (*p == ' ' || *p == '\t')
            p++;
        char *end = p + strlen(p);
        while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
            *--end = '\0';
        if (*p == '\0') {
            free(names);
            free(*list);
            *list = NULL;
            return cli_usage(x, "--%s has an empty %s; give %s with no empty items",
                             cli_optdefs[id].name, what, cli_optdefs[id].arg);
        }
        names[n++] = p;
        if (comma == NULL)
            break;
        p = comma + 1;
    }
    *items = names;
    *n_items = n;
    return CLI_EXIT_OK;
}
