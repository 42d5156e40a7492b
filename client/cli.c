/* gongji: the operator's command-line tool. One command = one call to a node (records
 * --all makes one call per page). See docs/cli.md and `gongji --help`. */
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "client.h"
#include "gj_limits.h"
#include "gj_util.h"
#include "rules.h"

#ifndef GONGJI_VERSION
#define GONGJI_VERSION "0.1.0"
#endif

#define CLI_DEFAULT_NODE "tcp://127.0.0.1:7100"
#define CLI_DEFAULT_CALLER "gongji-cli"
#define CLI_DEFAULT_TIMEOUT_MS 5000
/* An hour: longer than any sane call, and well inside nng_duration (int32 ms). */
#define CLI_TIMEOUT_MAX_MS 3600000
/* records --all stops here so a node that never ends its pages cannot loop us forever. */
#define CLI_PAGES_MAX 10000

enum {
    CLI_EXIT_OK = 0,
    CLI_EXIT_NODE = 1,     /* the node answered with an error */
    CLI_EXIT_USAGE = 2,    /* bad command line */
    CLI_EXIT_NOANSWER = 3, /* unreachable or timed out */
};

/* ---- options ---- */

enum cli_opt_id {
    O_NONE = 0,
    /* global */
    O_NODE, O_CALLER, O_ROLE, O_CALL_ID, O_REGION, O_TIMEOUT, O_JSON, O_HELP, O_VERSION,
    /* commands */
    O_PSN_NO, O_CERTNO, O_INSUTYPE, O_REGION_CODE, O_NAME, O_STATUS, O_AMOUNT, O_MEMO,
    O_SPONSOR, O_BENEFICIARY, O_RELATION, O_SPONSOR_REGION, O_BENEFICIARY_REGION, O_SPONSORS,
    O_USE, O_INSTITUTION, O_FROM, O_TO, O_PAGE_SIZE, O_PAGE_TOKEN, O_ALL, O_DATE,
    O_COUNT
};

/* getopt_long values: above every char so they never clash with short options. */
#define CLI_OPT_VAL(id) (0x100 + (id))

typedef struct cli_optdef {
    const char *name;
    const char *arg;   /* NULL: a flag */
    bool free_text;    /* value may legitimately start with "--" */
} cli_optdef;

static const cli_optdef cli_optdefs[O_COUNT] = {
    [O_NODE] = {"node", "URL", false},
    [O_CALLER] = {"caller", "ID", false},
    [O_ROLE] = {"role", "ROLE", false},
    [O_CALL_ID] = {"call-id", "ID", false},
    [O_REGION] = {"region", "CODE", false},
    [O_TIMEOUT] = {"timeout", "MS", false},
    [O_JSON] = {"json", NULL, false},
    [O_HELP] = {"help", NULL, false},
    [O_VERSION] = {"version", NULL, false},
    [O_PSN_NO] = {"psn-no", "P", false},
    [O_CERTNO] = {"certno", "C", false},
    [O_INSUTYPE] = {"insutype", "310|390", false},
    [O_REGION_CODE] = {"region-code", "R", false},
    [O_NAME] = {"name", "N", true},
    [O_STATUS] = {"status", "STATUS", false},
    [O_AMOUNT] = {"amount", "YUAN", false},
    [O_MEMO] = {"memo", "TEXT", true},
    [O_SPONSOR] = {"sponsor", "P", false},
    [O_BENEFICIARY] = {"beneficiary", "P", false},
    [O_RELATION] = {"relation", "REL", false},
    [O_SPONSOR_REGION] = {"sponsor-region", "R", false},
    [O_BENEFICIARY_REGION] = {"beneficiary-region", "R", false},
    [O_SPONSORS] = {"sponsors", "P1,P2,...", false},
    [O_USE] = {"use", "USE", false},
    [O_INSTITUTION] = {"institution", "CODE", false},
    [O_FROM] = {"from", "DATE", false},
    [O_TO] = {"to", "DATE", false},
    [O_PAGE_SIZE] = {"page-size", "N", false},
    [O_PAGE_TOKEN] = {"page-token", "T", true},
    [O_ALL] = {"all", NULL, false},
    [O_DATE] = {"date", "DATE", false},
};

typedef struct cli_cmd_opt {
    int id;
    bool required;
    const char *help;
} cli_cmd_opt;

static const cli_cmd_opt cli_global_opts[] = {
    {O_NODE, false, "default $GONGJI_NODE, else " CLI_DEFAULT_NODE},
    {O_CALLER, false, "who is calling (default " CLI_DEFAULT_CALLER ")"},
    {O_ROLE, false, "operator|institution|person|peer (default operator)"},
    {O_CALL_ID, false, "key that makes a retried write safe (default random)"},
    {O_REGION, false, "region that owns the request (default: this node's)"},
    {O_TIMEOUT, false, "milliseconds to wait for the answer (default 5000)"},
    {O_JSON, false, "print one JSON object on stdout"},
    {O_HELP, false, "show help (after a command: that command's help)"},
    {O_VERSION, false, "show the version"},
    {O_NONE, false, NULL},
};

/* ---- run state ---- */

struct cli_cmd;

typedef struct cli_ctx {
    char *val[O_COUNT];
    bool seen[O_COUNT];
    const struct cli_cmd *cmd;
    /* resolved globals */
    const char *node;
    const char *caller;
    int role;
    const char *call_id; /* NULL: the client makes one */
    const char *region;
    int timeout_ms;
    bool json;
    client_t *client;
} cli_ctx;

typedef struct cli_cmd {
    const char *name;
    const char *summary;
    const char *method;
    const char *about;
    const cli_cmd_opt *opts; /* ends with O_NONE */
    const char *example;
    int (*run)(cli_ctx *x);
} cli_cmd;

/* ---- small helpers ---- */

static int cli_usage(const cli_ctx *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int cli_usage(const cli_ctx *x, const char *fmt, ...)
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

/* Length of the valid UTF-8 sequence at p, or 0 when it is not one. Stops at the NUL,
 * which is never a continuation byte. */
static size_t cli_utf8_len(const unsigned char *p)
{
    unsigned char c = p[0], lo = 0x80, hi = 0xBF;
    size_t len;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        len = 2;
    else if (c == 0xE0)
        len = 3, lo = 0xA0; /* no overlong forms */
    else if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF)
        len = 3;
    else if (c == 0xED)
        len = 3, hi = 0x9F; /* no surrogates */
    else if (c == 0xF0)
        len = 4, lo = 0x90;
    else if (c >= 0xF1 && c <= 0xF3)
        len = 4;
    else if (c == 0xF4)
        len = 4, hi = 0x8F; /* nothing above U+10FFFF */
    else
        return 0;
    if (p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if ((p[i] & 0xC0) != 0x80)
            return 0;
    return len;
}

/* A copy of text from the node that is safe to print: invalid UTF-8 becomes U+FFFD
 * (cJSON would otherwise emit invalid JSON); for a terminal, control characters
 * become '?' so an answer cannot drive the operator's terminal. Caller frees. */
static char *cli_clean(const char *s, bool for_json)
{
    if (s == NULL)
        s = "";
    size_t n = strlen(s);
    char *out = malloc(n * 3 + 1); /* each bad byte may become 3 */
    if (out == NULL)
        return NULL;
    const unsigned char *p = (const unsigned char *)s;
    char *o = out;
    while (*p != '\0') {
        size_t len = cli_utf8_len(p);
        if (len == 0) {
            memcpy(o, "\xEF\xBF\xBD", 3);
            o += 3;
            p++;
        } else if (!for_json && (p[0] < 0x20 || p[0] == 0x7F ||
                                 (len == 2 && p[0] == 0xC2 && p[1] < 0xA0))) {
            *o++ = '?'; /* C0, DEL and C1 controls */
            p += len;
        } else {
            memcpy(o, p, len);
            o += len;
            p += len;
        }
    }
    *o = '\0';
    return out;
}

static bool cli_parse_u64(const char *s, uint64_t max, uint64_t *out)
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

static const char *cli_date_text(int32_t d, char buf[16])
{
    if (d == 0)
        return "-";
    if (!gj_date_valid(d))
        snprintf(buf, 16, "%d", (int)d);
    else
        snprintf(buf, 16, "%04d-%02d-%02d", (int)(d / 10000), (int)(d / 100 % 100),
                 (int)(d % 100));
    return buf;
}

/* "10:15:03" in China Standard Time, or "-" for 0. */
static const char *cli_time_text(int64_t unix_ms, char buf[16])
{
    if (unix_ms <= 0)
        return "-";
    time_t t = (time_t)(unix_ms / 1000 + 8 * 3600);
    struct tm tm;
    if (gmtime_r(&t, &tm) == NULL)
        return "-";
    snprintf(buf, 16, "%02d:%02d:%02d", tm.tm_hour, tm.tm_min, tm.tm_sec);
    return buf;
}

/* Lower-case proto name of an enum value ("maternal_grandparent"), or the number. */
static const char *cli_enum_text(const ProtobufCEnumDescriptor *desc, int v, char buf[40])
{
    const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(desc, v);
    if (ev == NULL || ev->name == NULL) {
        snprintf(buf, 40, "%d", v);
        return buf;
    }
    size_t i = 0;
    for (; ev->name[i] != '\0' && i < 39; i++)
        buf[i] = (ev->name[i] >= 'A' && ev->name[i] <= 'Z') ? (char)(ev->name[i] - 'A' + 'a')
                                                            : ev->name[i];
    buf[i] = '\0';
    return buf;
}

/* Relations and uses are named as rules.c names them, so the CLI reads what it writes. */
static const char *cli_relation_text(int v, char buf[40])
{
    const char *n = (v >= 1 && v <= GJ_REL_MAX) ? rules_relation_name(v) : NULL;
    return (n != NULL && *n != '\0') ? n : cli_enum_text(&gongji__v1__relation__descriptor, v, buf);
}

static const char *cli_use_text(int v, char buf[40])
{
    const char *n = (v >= 1 && v <= GJ_USE_MAX) ? rules_use_name(v) : NULL;
    return (n != NULL && *n != '\0') ? n : cli_enum_text(&gongji__v1__use_type__descriptor, v, buf);
}

static const char *cli_status_text(int v, char buf[40])
{
    return cli_enum_text(&gongji__v1__person_status__descriptor, v, buf);
}

/* ---- human output ---- */

#define H_LABEL "%-19s "

static void h_text(const char *label, const char *value)
{
    char *t = cli_clean(value, false);
    printf(H_LABEL "%s\n", label, t != NULL ? t : "?");
    free(t);
}

static void h_amount(const char *label, int64_t fen)
{
    char buf[32];
    printf(H_LABEL "%10s\n", label, gj_yuan_format(fen, buf));
}

static void h_date(const char *label, int32_t d)
{
    char buf[16];
    printf(H_LABEL "%s\n", label, cli_date_text(d, buf));
}

static void h_u64(const char *label, uint64_t v)
{
    printf(H_LABEL "%llu\n", label, (unsigned long long)v);
}

static void h_bool(const char *label, bool v)
{
    printf(H_LABEL "%s\n", label, v ? "yes" : "no");
}

/* A small table whose columns size to their widest cell. */
#define CLI_TABLE_COLS 8
typedef struct cli_table {
    size_t cols;
    const char *head[CLI_TABLE_COLS];
    bool right[CLI_TABLE_COLS];
    char **cells; /* rows * cols, cleaned copies */
    size_t rows, cap;
    bool oom;
} cli_table;

static void table_add(cli_table *t, const char *const *row)
{
    if (t->oom)
        return;
    if (t->rows == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        char **cells = realloc(t->cells, cap * t->cols * sizeof *cells);
        if (cells == NULL) {
            t->oom = true;
            return;
        }
        t->cells = cells;
        t->cap = cap;
    }
    for (size_t c = 0; c < t->cols; c++)
        t->cells[t->rows * t->cols + c] = cli_clean(row[c], false);
    t->rows++;
}

static void table_print(cli_table *t, const char *indent)
{
    size_t w[CLI_TABLE_COLS];
    for (size_t c = 0; c < t->cols; c++)
        w[c] = strlen(t->head[c]);
    for (size_t r = 0; r < t->rows; r++)
        for (size_t c = 0; c < t->cols; c++) {
            const char *s = t->cells[r * t->cols + c];
            size_t n = s != NULL ? strlen(s) : 1;
            if (n > w[c])
                w[c] = n;
        }
    for (size_t r = 0; r <= t->rows; r++) {
        fputs(indent, stdout);
        for (size_t c = 0; c < t->cols; c++) {
            const char *s = r == 0 ? t->head[c] : t->cells[(r - 1) * t->cols + c];
            if (s == NULL)
                s = "?";
            bool last = c + 1 == t->cols;
            if (t->right[c])
                printf("%*s", (int)w[c], s);
            else if (last)
                fputs(s, stdout);
            else
                printf("%-*s", (int)w[c], s);
            if (!last)
                fputs("  ", stdout);
        }
        fputc('\n', stdout);
    }
    if (t->oom)
        fputs("gongji: out of memory: some rows not shown\n", stderr);
}

static void table_free(cli_table *t)
{
    for (size_t i = 0; i < t->rows * t->cols; i++)
        free(t->cells[i]);
    free(t->cells);
    t->cells = NULL;
    t->rows = t->cap = 0;
}

/* ---- JSON output ---- */

static void j_text(cJSON *o, const char *name, const char *value)
{
    char *t = cli_clean(value, true);
    cJSON_AddStringToObject(o, name, t != NULL ? t : "");
    free(t);
}

static void j_amount(cJSON *o, const char *name, int64_t fen)
{
    char buf[32];
    cJSON_AddStringToObject(o, name, gj_yuan_format(fen, buf));
}

static void j_date(cJSON *o, const char *name, int32_t d)
{
    char buf[16];
    if (d == 0)
        cJSON_AddNullToObject(o, name);
    else if (!gj_date_valid(d))
        cJSON_AddRawToObject(o, name, cli_date_text(d, buf)); /* a number, as sent */
    else
        cJSON_AddStringToObject(o, name, cli_date_text(d, buf));
}

/* Integers go out as raw text: cJSON holds numbers as double, which loses digits. */
static void j_i64(cJSON *o, const char *name, int64_t v)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%lld", (long long)v);
    cJSON_AddRawToObject(o, name, buf);
}

static void j_u64(cJSON *o, const char *name, uint64_t v)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)v);
    cJSON_AddRawToObject(o, name, buf);
}

static void j_add(cJSON *o, const char *name, cJSON *item)
{
    if (item == NULL)
        cJSON_AddNullToObject(o, name);
    else
        cJSON_AddItemToObject(o, name, item);
}

static cJSON *j_strings(char **v, size_t n)
{
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; a != NULL && i < n; i++) {
        char *t = cli_clean(v[i], true);
        cJSON_AddItemToArray(a, cJSON_CreateString(t != NULL ? t : ""));
        free(t);
    }
    return a;
}

static int j_emit(cJSON *root)
{
    char *s = root != NULL ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    if (s == NULL) {
        fputs("gongji: out of memory while printing JSON\n", stderr);
        return CLI_EXIT_NODE;
    }
    puts(s);
    cJSON_free(s);
    return CLI_EXIT_OK;
}

static cJSON *j_person(const Gongji__V1__Person *p)
{
    char buf[40];
    if (p == NULL)
        return NULL;
    cJSON *o = cJSON_CreateObject();
    j_text(o, "psn_no", p->psn_no);
    j_text(o, "certno", p->certno);
    j_text(o, "psn_name", p->psn_name);
    j_text(o, "insutype", p->insutype);
    j_text(o, "insuplc_admdvs", p->insuplc_admdvs);
    cJSON_AddStringToObject(o, "status", cli_status_text((int)p->status, buf));
    return o;
}

static cJSON *j_balance(const Gongji__V1__AccountBalance *b)
{
    if (b == NULL)
        return NULL;
    cJSON *o = cJSON_CreateObject();
    j_text(o, "psn_no", b->psn_no);
    j_amount(o, "balance", b->balance);
    j_amount(o, "held", b->held);
    j_amount(o, "available", b->available);
    j_amount(o, "shareable", b->shareable);
    j_text(o, "insutype", b->insutype);
    j_text(o, "insuplc_admdvs", b->insuplc_admdvs);
    return o;
}

static cJSON *j_binding(const Gongji__V1__Binding *b)
{
    char buf[40];
    if (b == NULL)
        return NULL;
    cJSON *o = cJSON_CreateObject();
    j_text(o, "sponsor_psn_no", b->sponsor_psn_no);
    j_text(o, "beneficiary_psn_no", b->beneficiary_psn_no);
    cJSON_AddStringToObject(o, "relation", cli_relation_text((int)b->relation, buf));
    j_date(o, "begin_date", b->begin_date);
    j_date(o, "end_date", b->end_date);
    j_text(o, "sponsor_admdvs", b->sponsor_admdvs);
    j_text(o, "beneficiary_admdvs", b->beneficiary_admdvs);
    cJSON_AddBoolToObject(o, "active", b->active);
    return o;
}

static cJSON *j_bindings(Gongji__V1__Binding **v, size_t n)
{
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; a != NULL && i < n; i++) {
        cJSON *b = j_binding(v[i]);
        cJSON_AddItemToArray(a, b != NULL ? b : cJSON_CreateNull());
    }
    return a;
}

static cJSON *j_record(const Gongji__V1__SpendRecord *r)
{
    char buf[40];
    if (r == NULL)
        return cJSON_CreateNull();
    cJSON *o = cJSON_CreateObject();
    j_text(o, "setl_id", r->setl_id);
    j_text(o, "sponsor_psn_no", r->sponsor_psn_no);
    j_text(o, "beneficiary_psn_no", r->beneficiary_psn_no);
    j_amount(o, "amount", r->amount);
    j_date(o, "setl_date", r->setl_date);
    j_i64(o, "time_unix_ms", r->time_unix_ms);
    cJSON_AddStringToObject(o, "use", cli_use_text((int)r->use, buf));
    return o;
}

/* ---- the call ---- */

static void cli_report(const cli_ctx *x, const client_status *st)
{
    const char *code = client_code_name(st->code);
    char *reason = cli_clean(st->reason, false);
    char *message = cli_clean(st->message, false);
    fprintf(stderr, "gongji: %s%s%s: %s\n", code, (reason && *reason) ? " " : "",
            reason ? reason : "", message ? message : "");
    free(reason);
    free(message);
    if (x->json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "code", code);
        j_text(o, "reason", st->reason);
        j_text(o, "message", st->message);
        j_emit(o);
    }
}

/* One call. Returns CLI_EXIT_OK with *out set (caller frees), or the exit code after
 * reporting the error. */
static int cli_call(cli_ctx *x, const char *call_id, const ProtobufCMessage *req,
                    const ProtobufCMessageDescriptor *desc, ProtobufCMessage **out)
{
    *out = NULL;
    if (x->client == NULL) {
        gj_err e = client_open(&x->client, x->node, x->timeout_ms);
        if (e == GJ_ERR_TRANSPORT || e == GJ_ERR_INVAL) {
            char *u = cli_clean(x->node, false);
            int rc = cli_usage(x, "cannot use node URL '%s' (expected e.g. %s)", u ? u : "?",
                               CLI_DEFAULT_NODE);
            free(u);
            return rc;
        }
        if (e != GJ_OK) {
            fprintf(stderr, "gongji: cannot open a socket: %s\n", gj_err_name(e));
            return CLI_EXIT_NOANSWER;
        }
        client_set_identity(x->client, x->caller, x->role);
    }
    client_status st;
    gj_err e = client_call(x->client, x->cmd->method, call_id, x->region, req, desc, out, &st);
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

static int cli_need_amount(cli_ctx *x, int64_t *fen)
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

static int cli_need_date(cli_ctx *x, int id, int32_t *d)
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

/* "a, b, c" wrapped before column 80; col is where the list starts, indent where
 * continuation lines start. */
static void cli_list_names(FILE *f, const char *(*name)(int), int max, size_t col,
                           size_t indent)
{
    for (int v = 1; v <= max; v++) {
        const char *n = name(v);
        if (n == NULL)
            n = "?";
        size_t len = strlen(n) + (v < max ? 1 : 0);
        if (v > 1) {
            if (col + 1 + len > 79) {
                fprintf(f, "\n%*s", (int)indent, "");
                col = indent;
            } else {
                fputc(' ', f);
                col++;
            }
        }
        fprintf(f, "%s%s", n, v < max ? "," : "");
        col += len;
    }
}

/* ---- printers ---- */

static void h_person(const Gongji__V1__Person *p)
{
    char buf[40];
    if (p == NULL)
        return;
    h_text("psn_no", p->psn_no);
    h_text("certno", p->certno);
    h_text("psn_name", p->psn_name);
    h_text("insutype", p->insutype);
    h_text("insuplc_admdvs", p->insuplc_admdvs);
    h_text("status", cli_status_text((int)p->status, buf));
}

static void h_balance(const Gongji__V1__AccountBalance *b)
{
    if (b == NULL) {
        puts("(no balance in the answer)");
        return;
    }
    h_text("psn_no", b->psn_no);
    h_text("insutype", b->insutype);
    h_text("insuplc_admdvs", b->insuplc_admdvs);
    h_amount("balance", b->balance);
    h_amount("held", b->held);
    h_amount("available", b->available);
    h_amount("shareable", b->shareable);
}

static void h_binding(const Gongji__V1__Binding *b)
{
    char buf[40];
    if (b == NULL) {
        puts("(no binding in the answer)");
        return;
    }
    h_text("sponsor_psn_no", b->sponsor_psn_no);
    h_text("beneficiary_psn_no", b->beneficiary_psn_no);
    h_text("relation", cli_relation_text((int)b->relation, buf));
    h_text("sponsor_admdvs", b->sponsor_admdvs);
    h_text("beneficiary_admdvs", b->beneficiary_admdvs);
    h_date("begin_date", b->begin_date);
    if (b->end_date == 0)
        h_text("end_date", "- (open)");
    else
        h_date("end_date", b->end_date);
    h_bool("active", b->active);
}

static void h_bindings_table(const char *title, Gongji__V1__Binding **v, size_t n)
{
    printf("%s (%zu)\n", title, n);
    if (n == 0)
        return;
    cli_table t = {.cols = 8,
                   .head = {"sponsor_psn_no", "beneficiary_psn_no", "relation", "sponsor_admdvs",
                            "beneficiary_admdvs", "begin_date", "end_date", "active"}};
    for (size_t i = 0; i < n; i++) {
        const Gongji__V1__Binding *b = v[i];
        if (b == NULL)
            continue;
        char rel[40], d1[16], d2[16];
        const char *row[8] = {b->sponsor_psn_no,    b->beneficiary_psn_no,
                              cli_relation_text((int)b->relation, rel), b->sponsor_admdvs,
                              b->beneficiary_admdvs, cli_date_text(b->begin_date, d1),
                              cli_date_text(b->end_date, d2), b->active ? "yes" : "no"};
        table_add(&t, row);
    }
    table_print(&t, "  ");
    table_free(&t);
}

static void h_health(const Gongji__V1__HealthReply *h)
{
    h_text("region", h->region);
    h_text("version", h->version);
    h_bool("live", h->live);
    h_date("business_date", h->business_date);
    h_bool("clock_overridden", h->clock_overridden);
    printf(H_LABEL "%lld\n", "uptime_s", (long long)h->uptime_s);
    h_u64("persons", h->persons);
    h_u64("bindings", h->bindings);
    h_u64("journal_entries", h->journal_entries);
    h_u64("requests_served", h->requests_served);
    h_u64("in_flight", h->in_flight);
}

static int j_health(const Gongji__V1__HealthReply *h)
{
    cJSON *o = cJSON_CreateObject();
    j_text(o, "region", h->region);
    j_text(o, "version", h->version);
    j_i64(o, "uptime_s", h->uptime_s);
    j_date(o, "business_date", h->business_date);
    cJSON_AddBoolToObject(o, "clock_overridden", h->clock_overridden);
    j_u64(o, "persons", h->persons);
    j_u64(o, "bindings", h->bindings);
    j_u64(o, "journal_entries", h->journal_entries);
    j_u64(o, "requests_served", h->requests_served);
    j_u64(o, "in_flight", h->in_flight);
    cJSON_AddBoolToObject(o, "live", h->live);
    return j_emit(o);
}

/* ---- commands ---- */

static int run_enroll(cli_ctx *x)
{
    int status = GONGJI__V1__PERSON_STATUS__ACTIVE;
    const char *s = x->val[O_STATUS];
    if (s != NULL) {
        if (strcmp(s, "active") == 0)
            status = GONGJI__V1__PERSON_STATUS__ACTIVE;
        else if (strcmp(s, "suspended") == 0)
            status = GONGJI__V1__PERSON_STATUS__SUSPENDED;
        else if (strcmp(s, "terminated") == 0)
            status = GONGJI__V1__PERSON_STATUS__TERMINATED;
        else
            return cli_usage(x, "bad --status: give active, suspended or terminated");
    }
    Gongji__V1__Person p = GONGJI__V1__PERSON__INIT;
    p.psn_no = x->val[O_PSN_NO];
    p.certno = x->val[O_CERTNO];
    p.psn_name = x->val[O_NAME] != NULL ? x->val[O_NAME] : "";
    p.insutype = x->val[O_INSUTYPE];
    p.insuplc_admdvs = x->val[O_REGION_CODE];
    p.status = (Gongji__V1__PersonStatus)status;
    Gongji__V1__EnrollRequest req = GONGJI__V1__ENROLL_REQUEST__INIT;
    req.person = &p;

    ProtobufCMessage *m;
    int rc = cli_call(x, x->call_id, &req.base, &gongji__v1__enroll_reply__descriptor, &m);
    if (rc != CLI_EXIT_OK)
        return rc;
    const Gongji__V1__EnrollReply *r = (const Gongji__V1__EnrollReply *)m;
    if (x->json) {
        cJSON *o = cJSON_CreateObject();
        j_add(o, "person", j_person(r->person));
        cJSON_AddBoolToObject(o, "created", r->created);
        j_u64(o, "bindings_ended", r->bindings_ended);
        rc = j_emit(o);
    } else {
        h_person(r->person);
        h_bool("created", r->created);
        h_u64("bindings_ended", r->bindings_ended);
    }
    protobuf_c_message_free_unpacked(m, NULL);
    return rc;
}

/* Credit and Balance both answer one AccountBalance. */
static int cli_balance_out(cli_ctx *x, const Gongji__V1__AccountBalance *b)
{
    if (x->json) {
        cJSON *o = cJSON_CreateObject();
        j_add(o, "balance", j_balance(b));
        return j_emit(o);
    }
    h_balance(b);
    return CLI_EXIT_OK;
}

static int run_credit(cli_ctx *x)
{
    Gongji__V1__CreditRequest req = GONGJI__V1__CREDIT_REQUEST__INIT;
    int rc = cli_need_amount(x, &req.amount);
    if (rc != CLI_EXIT_OK)
        return rc;
    req.psn_no = x->val[O_PSN_NO];
    req.memo = x->val[O_MEMO] != NULL ? x->val[O_MEMO] : "";
    ProtobufCMessage *m;
    rc = cli_call(x, x->call_id, &req.base, &gongji__v1__credit_reply__descriptor, &m);
    if (rc != CLI_EXIT_OK)
        return rc;
    rc = cli_balance_out(x, ((const Gongji__V1__CreditReply *)m)->balance);
    protobuf_c_message_free_unpacked(m, NULL);
    return rc;
}

static int run_balance(cli_ctx *x)
{
    Gongji__V1__BalanceRequest req = GONGJI__V1__BALANCE_REQUEST__INIT;
    req.psn_no = x->val[O_PSN_NO];
    ProtobufCMessage *m;
    int rc = cli_call(x, x->call_id, &req.base, &gongji__v1__balance_reply__descriptor, &m);
    if (rc != CLI_EXIT_OK)
        return rc;
    rc = cli_balance_out(x, ((const Gongji__V1__BalanceReply *)m)->balance);
    protobuf_c_message_free_unpacked(m, NULL);
    return rc;
}

static int cli_binding_out(cli_ctx *x, const Gongji__V1__Binding *b)
{
    if (x->json) {
        cJSON *o = cJSON_CreateObject();
        j_add(o, "binding", j_binding(b));
        return j_emit(o);
    }
    h_binding(b);
    return CLI_EXIT_OK;
}

static int run_bind(cli_ctx *x)
{
    int rel = rules_relation_parse(x->val[O_RELATION]);
    if (rel <= 0) {
        char *t = cli_clean(x->val[O_RELATION], false);
        fprintf(stderr, "gongji: unknown relation '%s'; one of:\n  ", t ? t : "?");
        free(t);
        cli_list_names(stderr, rules_relation_name, GJ_REL_MAX, 2, 2);
        fputc('\n', stderr);
        return cli_usage(x, "bad --relation");
    }
    Gongji__V1__BindRequest req = GONGJI__V1__BIND_REQUEST__INIT;
    req.sponsor_psn_no = x->val[O_SPONSOR];
    req.beneficiary_psn_no = x->val[O_BENEFICIARY];
    req.relation = (Gongji__V1__Relation)rel;
    req.sponsor_admdvs = x->val[O_SPONSOR_REGION] != NULL ? x->val[O_SPONSOR_REGION] : "";
    req.beneficiary_admdvs =
        x->val[O_BENEFICIARY_REGION] != NULL ? x->val[O_BENEFICIARY_REGION] : "";
    ProtobufCMessage *m;
    int rc = cli_call(x, x->call_id, &req.base, &gongji__v1__bind_reply__descriptor, &m);
    if (rc != CLI_EXIT_OK)
        return rc;
    rc = cli_binding_out(x, ((const Gongji__V1__BindReply *)m)->binding);
    protobuf_c_message_free_unpacked(m, NULL);
    return rc;
}

static int run_unbind(cli_ctx *x)
{
    Gongji__V1__UnbindRequest req = GONGJI__V1__UNBIND_REQUEST__INIT;
    req.sponsor_psn_no = x->val[O_SPONSOR];
    req.beneficiary_psn_no = x->val[O_BENEFICIARY];
    ProtobufCMessage *m;
    int rc = cli_call(x, x->call_id, &req.base, &gongji__v1__unbind_reply__descriptor, &m);
    if (rc != CLI_EXIT_OK)
        return rc;
    rc = cli_binding_out(x, ((const Gongji__V1__UnbindReply *)m)->binding);
    protobuf_c_message_free_unpacked(m, NULL);
    return rc;
}

static int run_order(cli_ctx *x)
{
    /* Split a private copy in place: "P1, P2,P3" -> three names, blanks trimmed. */
    char *list = strdup(x->val[O_SPONSORS]);
    if (list == NULL)
        return cli_usage(x, "out of memory");
    size_t cap = 1;
    for (const char *p = list; *p != '\0'; p++)
        cap += *p == ',';
    char **names = calloc(cap, sizeof *names);
    if (names == NULL) {
        free(list);
        return cli_usage(x, "out of memory");
    }
    size_t n = 0;
    char *p = list;
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
            free(list);
            return cli_usage(x, "--sponsors has an empty name; give P1,P2,... with no blanks");
        }
        names[n++] = p;
        if (comma == NULL)
            break;
        p = comma + 1;
    }

    Gongji__V1__SetOrderRequest req = GONGJI__V1__SET_ORDER_REQUEST__INIT;
    req.beneficiary_psn_no = x->val[O_BENEFICIARY];
    req.n_sponsor_psn_no = n;
    req.sponsor_psn_no = names;
    ProtobufCMessage *m;
    int rc = cli_call(x, x->call_id, &req.base, &gongji__v1__set_order_reply__descriptor, &m);
    free(names);
    free(list);
    if (rc != CLI_EXIT_OK)
        return rc;
    const Gongji__V1__SetOrderReply *r = (const Gongji__V1__SetOrderReply *)m;
    if (x->json) {
        cJSON *o = cJSON_CreateObject();
        j_add(o, "sponsor_psn_no", j_strings(r->sponsor_psn_no, r->n_sponsor_psn_no));
        rc = j_emit(o);
    } else {
        puts("deduction order");
        for (size_t i = 0; i < r->n_sponsor_psn_no; i++) {
            char *t = cli_clean(r->sponsor_psn_no[i], false);
            printf("  %2zu  %s\n", i + 1, t ? t : "?");
            free(t);
        }
    }
    protobuf_c_message_free_unpacked(m, NULL);
    return rc;
}

static int run_bindings(cli_ctx *x)
{
    Gongji__V1__ListBindingsRequest req = GONGJI__V1__LIST_BINDINGS_REQUEST__INIT;
    req.psn_no = x->val[O_PSN_NO];
    ProtobufCMessage *m;
    int rc =
        cli_call(x, x->call_id, &req.base, &gongji__v1__list_bindings_reply__descriptor, &m);
    if (rc != CLI_EXIT_OK)
        return rc;
    const Gongji__V1__ListBindingsReply *r = (const Gongji__V1__ListBindingsReply *)m;
    if (x->json) {
        cJSON *o = cJSON_CreateObject();
        j_add(o, "as_sponsor", j_bindings(r->as_sponsor, r->n_as_sponsor));
        j_add(o, "as_beneficiary", j_bindings(r->as_beneficiary, r->n_as_beneficiary));
        j_add(o, "deduction_order", j_strings(r->deduction_order, r->n_deduction_order));
        rc = j_emit(o);
    } else {
        h_bindings_table("as_sponsor", r->as_sponsor, r->n_as_sponsor);
        h_bindings_table("as_beneficiary", r->as_beneficiary, r->n_as_beneficiary);
        printf("deduction_order (%zu)\n", r->n_deduction_order);
        for (size_t i = 0; i < r->n_deduction_order; i++) {
            char *t = cli_clean(r->deduction_order[i], false);
            printf("  %2zu  %s\n", i + 1, t ? t : "?");
            free(t);
        }
    }
    protobuf_c_message_free_unpacked(m, NULL);
    return rc;
}

static int run_settle(cli_ctx *x)
{
    Gongji__V1__SettleRequest req = GONGJI__V1__SETTLE_REQUEST__INIT;
    int rc = cli_need_amount(x, &req.amount);
    if (rc != CLI_EXIT_OK)
        return rc;
    int use = GONGJI__V1__USE_TYPE__OUTPATIENT;
    if (x->val[O_USE] != NULL) {
        use = rules_use_parse(x->val[O_USE]);
        if (use <= 0) {
            char *t = cli_clean(x->val[O_USE], false);
            fprintf(stderr, "gongji: unknown use '%s'; one of:\n  ", t ? t : "?");
            free(t);
            cli_list_names(stderr, rules_use_name, GJ_USE_MAX, 2, 2);
            fputc('\n', stderr);
            return cli_usage(x, "bad --use");
        }
    }
    req.psn_no = x->val[O_PSN_NO];
    req.use = (Gongji__V1__UseType)use;
    req.fixmedins_code = x->val[O_INSTITUTION] != NULL ? x->val[O_INSTITUTION] : "";
    ProtobufCMessage *m;
    rc = cli_call(x, x->call_id, &req.base, &gongji__v1__settle_reply__descriptor, &m);
    if (rc != CLI_EXIT_OK)
        return rc;
    const Gongji__V1__SettleReply *r = (const Gongji__V1__SettleReply *)m;
    if (x->json) {
        cJSON *o = cJSON_CreateObject();
        j_text(o, "setl_id", r->setl_id);
        j_amount(o, "amount", r->amount);
        j_amount(o, "acct_pay", r->acct_pay);
        cJSON *parts = cJSON_CreateArray();
        for (size_t i = 0; parts != NULL && i < r->n_parts; i++) {
            const Gongji__V1__SponsorPart *sp = r->parts[i];
            cJSON *po = sp != NULL ? cJSON_CreateObject() : cJSON_CreateNull();
            if (sp != NULL) {
                j_text(po, "sponsor_psn_no", sp->sponsor_psn_no);
                j_text(po, "sponsor_admdvs", sp->sponsor_admdvs);
                j_amount(po, "amount", sp->amount);
            }
            cJSON_AddItemToArray(parts, po);
        }
        j_add(o, "parts", parts);
        j_amount(o, "acct_mulaid_pay", r->acct_mulaid_pay);
        j_amount(o, "psn_cash_pay", r->psn_cash_pay);
        j_date(o, "setl_date", r->setl_date);
        rc = j_emit(o);
    } else {
        h_text("setl_id", r->setl_id);
        h_date("setl_date", r->setl_date);
        h_amount("amount", r->amount);
        h_amount("acct_pay", r->acct_pay);
        for (size_t i = 0; i < r->n_parts; i++) {
            const Gongji__V1__SponsorPart *sp = r->parts[i];
            if (sp == NULL)
                continue;
            char buf[32];
            char *who = cli_clean(sp->sponsor_psn_no, false);
            char *reg = cli_clean(sp->sponsor_admdvs, false);
            printf(H_LABEL "%10s  %s (%s)\n", "  from sponsor", gj_yuan_format(sp->amount, buf),
                   who ? who : "?", reg ? reg : "?");
            free(who);
            free(reg);
        }
        h_amount("acct_mulaid_pay", r->acct_mulaid_pay);
        h_amount("psn_cash_pay", r->psn_cash_pay);
    }
    protobuf_c_message_free_unpacked(m, NULL);
    return rc;
}

static int run_records(cli_ctx *x)
{
    Gongji__V1__RecordsRequest req = GONGJI__V1__RECORDS_REQUEST__INIT;
    int rc;
    if (x->val[O_FROM] != NULL && (rc = cli_need_date(x, O_FROM, &req.from_date)) != CLI_EXIT_OK)
        return rc;
    if (x->val[O_TO] != NULL && (rc = cli_need_date(x, O_TO, &req.to_date)) != CLI_EXIT_OK)
        return rc;
    if (x->val[O_PAGE_SIZE] != NULL) {
        uint64_t n;
        if (!cli_parse_u64(x->val[O_PAGE_SIZE], UINT32_MAX, &n))
            return cli_usage(x, "bad --page-size: give a whole number (0 = the node's default)");
        req.page_size = (uint32_t)n;
    }
    req.psn_no = x->val[O_PSN_NO];
    req.page_token = x->val[O_PAGE_TOKEN] != NULL ? x->val[O_PAGE_TOKEN] : "";
    bool all = x->seen[O_ALL];

    /* Keep every page: the output is printed once, as one table or one JSON object. */
    Gongji__V1__RecordsReply **pages = NULL;
    size_t n_pages = 0;
    const char *prev_token = NULL;
    char *page_call_id = NULL;
    rc = CLI_EXIT_OK;
    for (;;) {
        /* Every page is its own call: reusing one call id would replay page one. */
        const char *cid = x->call_id;
        if (n_pages > 0) {
            free(page_call_id);
            page_call_id = NULL;
            if (x->call_id != NULL) {
                size_t len = strlen(x->call_id) + 16;
                page_call_id = malloc(len);
                if (page_call_id != NULL)
                    snprintf(page_call_id, len, "%s.%zu", x->call_id, n_pages + 1);
            }
            cid = page_call_id;
            if (x->call_id != NULL && page_call_id == NULL) {
                fputs("gongji: out of memory\n", stderr);
                rc = CLI_EXIT_NOANSWER;
                break;
            }
        }
        ProtobufCMessage *m;
        rc = cli_call(x, cid, &req.base, &gongji__v1__records_reply__descriptor, &m);
        if (rc != CLI_EXIT_OK)
            break;
        Gongji__V1__RecordsReply **grown = realloc(pages, (n_pages + 1) * sizeof *pages);
        if (grown == NULL) {
            protobuf_c_message_free_unpacked(m, NULL);
            fputs("gongji: out of memory\n", stderr);
            rc = CLI_EXIT_NOANSWER;
            break;
        }
        pages = grown;
        Gongji__V1__RecordsReply *r = (Gongji__V1__RecordsReply *)m;
        pages[n_pages++] = r;
        const char *next = r->next_page_token != NULL ? r->next_page_token : "";
        if (!all || *next == '\0')
            break;
        if ((prev_token != NULL && strcmp(prev_token, next) == 0) || n_pages >= CLI_PAGES_MAX) {
            client_status st = {.code = GONGJI__V1__CODE__INTERNAL};
            gj_strcpy_fit(st.reason, sizeof st.reason, "BAD_ANSWER");
            gj_strcpy_fit(st.message, sizeof st.message,
                          "the node keeps returning pages; stopped following them");
            cli_report(x, &st);
            rc = CLI_EXIT_NODE;
            break;
        }
        prev_token = next;
        req.page_token = r->next_page_token;
    }
    free(page_call_id);

    if (rc == CLI_EXIT_OK) {
        const char *next = pages[n_pages - 1]->next_page_token;
        if (next == NULL)
            next = "";
        if (x->json) {
            cJSON *o = cJSON_CreateObject();
            cJSON *a = cJSON_CreateArray();
            for (size_t p = 0; a != NULL && p < n_pages; p++)
                for (size_t i = 0; i < pages[p]->n_records; i++)
                    cJSON_AddItemToArray(a, j_record(pages[p]->records[i]));
            j_add(o, "records", a);
            j_text(o, "next_page_token", next);
            rc = j_emit(o);
        } else {
            cli_table t = {.cols = 7,
                           .head = {"setl_date", "time", "setl_id", "sponsor_psn_no",
                                    "beneficiary_psn_no", "use", "amount"},
                           .right = {[6] = true}};
            size_t count = 0;
            for (size_t p = 0; p < n_pages; p++)
                for (size_t i = 0; i < pages[p]->n_records; i++) {
                    const Gongji__V1__SpendRecord *s = pages[p]->records[i];
                    if (s == NULL)
                        continue;
                    char d[16], tm[16], use[40], amt[32];
                    const char *row[7] = {cli_date_text(s->setl_date, d),
                                          cli_time_text(s->time_unix_ms, tm),
                                          s->setl_id,
                                          s->sponsor_psn_no,
                                          s->beneficiary_psn_no,
                                          cli_use_text((int)s->use, use),
                                          gj_yuan_format(s->amount, amt)};
                    table_add(&t, row);
                    count++;
                }
            if (count > 0)
                table_print(&t, "");
            table_free(&t);
            printf("%zu record%s\n", count, count == 1 ? "" : "s");
            if (*next != '\0') {
                char *tok = cli_clean(next, false);
                printf(H_LABEL "%s\n(more pages: pass it as --page-token, or use --all)\n",
                       "next_page_token", tok ? tok : "?");
                free(tok);
            }
        }
    }
    for (size_t p = 0; p < n_pages; p++)
        protobuf_c_message_free_unpacked(&pages[p]->base, NULL);
    free(pages);
    return rc;
}

static int cli_health_out(cli_ctx *x, ProtobufCMessage *m)
{
    const Gongji__V1__HealthReply *h = (const Gongji__V1__HealthReply *)m;
    int rc = CLI_EXIT_OK;
    if (x->json)
        rc = j_health(h);
    else
        h_health(h);
    protobuf_c_message_free_unpacked(m, NULL);
    return rc;
}

static int run_health(cli_ctx *x)
{
    Gongji__V1__HealthRequest req = GONGJI__V1__HEALTH_REQUEST__INIT;
    ProtobufCMessage *m;
    int rc = cli_call(x, x->call_id, &req.base, &gongji__v1__health_reply__descriptor, &m);
    return rc != CLI_EXIT_OK ? rc : cli_health_out(x, m);
}

static int run_set_date(cli_ctx *x)
{
    Gongji__V1__SetClockRequest req = GONGJI__V1__SET_CLOCK_REQUEST__INIT;
    int rc = cli_need_date(x, O_DATE, &req.business_date);
    if (rc != CLI_EXIT_OK)
        return rc;
    ProtobufCMessage *m;
    rc = cli_call(x, x->call_id, &req.base, &gongji__v1__health_reply__descriptor, &m);
    return rc != CLI_EXIT_OK ? rc : cli_health_out(x, m);
}

/* ---- command table ---- */

static const cli_cmd_opt enroll_opts[] = {
    {O_PSN_NO, true, "person number"},
    {O_CERTNO, true, "18-character resident ID, GB 11643 (node checks it)"},
    {O_INSUTYPE, true, "310 employee or 390 resident (the node checks it)"},
    {O_REGION_CODE, true, "6-digit home region (insuplc_admdvs)"},
    {O_NAME, false, "name (psn_name)"},
    {O_STATUS, false, "active|suspended|terminated (default active)"},
    {O_NONE, false, NULL},
};
static const cli_cmd_opt credit_opts[] = {
    {O_PSN_NO, true, "person number"},
    {O_AMOUNT, true, "yuan to add, at most two decimals (120, 120.5, 120.50)"},
    {O_MEMO, false, "note kept with the credit"},
    {O_NONE, false, NULL},
};
static const cli_cmd_opt psn_opts[] = {
    {O_PSN_NO, true, "person number"},
    {O_NONE, false, NULL},
};
static const cli_cmd_opt bind_opts[] = {
    {O_SPONSOR, true, "psn_no of the employee whose account pays"},
    {O_BENEFICIARY, true, "psn_no of the relative it pays for"},
    {O_RELATION, true, "the beneficiary is the sponsor's REL"},
    {O_SPONSOR_REGION, false, "sponsor's region (default: the node's region)"},
    {O_BENEFICIARY_REGION, false, "beneficiary's region (default: the node's region)"},
    {O_NONE, false, NULL},
};
static const cli_cmd_opt unbind_opts[] = {
    {O_SPONSOR, true, "psn_no of the sponsor"},
    {O_BENEFICIARY, true, "psn_no of the beneficiary"},
    {O_NONE, false, NULL},
};
static const cli_cmd_opt order_opts[] = {
    {O_BENEFICIARY, true, "psn_no of the beneficiary"},
    {O_SPONSORS, true, "every current sponsor once; the first pays first"},
    {O_NONE, false, NULL},
};
static const cli_cmd_opt settle_opts[] = {
    {O_PSN_NO, true, "the patient (always the beneficiary themself)"},
    {O_AMOUNT, true, "yuan the accounts may pay, at most two decimals"},
    {O_USE, false, "what it pays for (default outpatient)"},
    {O_INSTITUTION, false, "designated institution code (fixmedins_code)"},
    {O_NONE, false, NULL},
};
static const cli_cmd_opt records_opts[] = {
    {O_PSN_NO, true, "the sponsor whose money was spent"},
    {O_FROM, false, "first day (YYYY-MM-DD or YYYYMMDD; default: the start)"},
    {O_TO, false, "last day, inclusive (default: today)"},
    {O_PAGE_SIZE, false, "records per page (default: the node's, 50)"},
    {O_PAGE_TOKEN, false, "continue from a previous page's next_page_token"},
    {O_ALL, false, "follow every page and print them together"},
    {O_NONE, false, NULL},
};
static const cli_cmd_opt no_opts[] = {
    {O_NONE, false, NULL},
};
static const cli_cmd_opt set_date_opts[] = {
    {O_DATE, true, "the node's new business date, YYYY-MM-DD or YYYYMMDD"},
    {O_NONE, false, NULL},
};

static const cli_cmd cli_cmds[] = {
    {"enroll", "register or update an insured person", "gongji.v1.Registry/Enroll",
     "Enroll a person in their home region, or update an enrolled person\n"
     "(bindings_ended counts the bindings the update ended).",
     enroll_opts,
     "gongji enroll --psn-no 43010000000000000001 --certno 11010519491231002X \\\n"
     "      --insutype 310 --region-code 430100 --name 张三",
     run_enroll},
    {"credit", "add money to a personal account", "gongji.v1.Registry/Credit",
     "Credit a personal account (the monthly transfer into it).", credit_opts,
     "gongji credit --psn-no 43010000000000000001 --amount 1000.00 \\\n"
     "      --memo '2026-11 transfer'",
     run_credit},
    {"balance", "show a personal account", "gongji.v1.Settlement/Balance",
     "Show balance, held, available and shareable money of a personal account.", psn_opts,
     "gongji balance --psn-no 43010000000000000001", run_balance},
    {"bind", "let a sponsor's account pay for a relative", "gongji.v1.MutualAid/Bind",
     "Bind a sponsor (an employee) to a close relative; the answer shows from which\n"
     "day it pays (begin_date).", bind_opts,
     "gongji bind --sponsor 43010000000000000001 \\\n"
     "      --beneficiary 43010000000000000002 --relation spouse",
     run_bind},
    {"unbind", "end a binding", "gongji.v1.MutualAid/Unbind",
     "End a binding; the answer shows the first day it no longer pays (end_date).", unbind_opts,
     "gongji unbind --sponsor 43010000000000000001 \\\n"
     "      --beneficiary 43010000000000000002",
     run_unbind},
    {"order", "set the order in which sponsors pay", "gongji.v1.MutualAid/SetOrder",
     "Set a beneficiary's deduction order; list every current sponsor exactly once.",
     order_opts,
     "gongji order --beneficiary 43010000000000000003 \\\n"
     "      --sponsors 43010000000000000001,43010000000000000002",
     run_order},
    {"bindings", "list a person's bindings and deduction order",
     "gongji.v1.MutualAid/ListBindings",
     "List the person's bindings as sponsor and as beneficiary, and their deduction\n"
     "order.",
     psn_opts, "gongji bindings --psn-no 43010000000000000001", run_bindings},
    {"settle", "pay a bill from personal accounts", "gongji.v1.Settlement/Settle",
     "Pay from the patient's own account first, then from sponsors in deduction\n"
     "order; the rest is psn_cash_pay, paid another way. Nodes may require\n"
     "--role institution for this.",
     settle_opts,
     "gongji --role institution --caller H43010000001 settle \\\n"
     "      --psn-no 43010000000000000002 --amount 120.50 --use outpatient \\\n"
     "      --institution H43010000001",
     run_settle},
    {"records", "list what relatives spent from a sponsor's account",
     "gongji.v1.Settlement/Records",
     "List spend records of a sponsor's account: which relative spent how much,\n"
     "when, and on what.",
     records_opts, "gongji records --psn-no 43010000000000000001 --from 2026-01-01 --all",
     run_records},
    {"health", "show a node's state", "gongji.v1.Operator/Health",
     "Show the node's region, version, business date and counters.", no_opts,
     "gongji --node tcp://10.0.0.5:7100 health --json", run_health},
    {"set-date", "set a node's business date (testing only)", "gongji.v1.Operator/SetClock",
     "Set the node's business date. Testing only: nodes refuse it unless configured\n"
     "with allow_clock_override.",
     set_date_opts, "gongji set-date --date 2026-11-22", run_set_date},
};
#define CLI_NCMDS (sizeof cli_cmds / sizeof cli_cmds[0])

/* ---- help ---- */

static void cli_print_opt(FILE *f, int id, const char *help)
{
    char left[48];
    const cli_optdef *d = &cli_optdefs[id];
    if (d->arg != NULL)
        snprintf(left, sizeof left, "--%s %s", d->name, d->arg);
    else
        snprintf(left, sizeof left, "--%s", d->name);
    fprintf(f, "  %-23s %s\n", left, help);
    if (id == O_RELATION) {
        fprintf(f, "  %-23s REL: ", "");
        cli_list_names(f, rules_relation_name, GJ_REL_MAX, 31, 31);
        fputc('\n', f);
    } else if (id == O_USE) {
        fprintf(f, "  %-23s USE: ", "");
        cli_list_names(f, rules_use_name, GJ_USE_MAX, 31, 31);
        fputc('\n', f);
    }
}

static void cli_print_exit_codes(FILE *f)
{
    fputs("Exit status:\n"
          "  0  success\n"
          "  1  the node answered with an error; stderr says\n"
          "     \"gongji: <CODE> <REASON>: <message>\" (with --json, stdout too)\n"
          "  2  usage error: bad, repeated or missing option; bad amount, date or number\n"
          "  3  no answer: the node is unreachable or did not answer within --timeout\n",
          f);
}

static void cli_help_top(FILE *f)
{
    fputs("Usage: gongji [global options] <command> [command options]\n"
          "\n"
          "Operate gongji nodes: employee medical-insurance personal-account family\n"
          "mutual aid (职工医保个人账户家庭共济). Amounts are yuan with at most two\n"
          "decimals; dates are YYYY-MM-DD or YYYYMMDD.\n"
          "\n"
          "Commands:\n",
          f);
    for (size_t i = 0; i < CLI_NCMDS; i++)
        fprintf(f, "  %-10s %s\n", cli_cmds[i].name, cli_cmds[i].summary);
    fprintf(f, "  %-10s %s\n", "help", "show help for a command (gongji help settle)");
    fputs("\nGlobal options (before or after the command):\n", f);
    for (const cli_cmd_opt *o = cli_global_opts; o->id != O_NONE; o++)
        cli_print_opt(f, o->id, o->help);
    fputc('\n', f);
    cli_print_exit_codes(f);
    fputs("\nRun 'gongji <command> --help' for a command's options and an example.\n", f);
}

static void cli_help_cmd(FILE *f, const cli_cmd *c)
{
    fprintf(f, "Usage: gongji [global options] %s", c->name);
    for (const cli_cmd_opt *o = c->opts; o->id != O_NONE; o++) {
        const cli_optdef *d = &cli_optdefs[o->id];
        fprintf(f, " %s--%s%s%s%s", o->required ? "" : "[", d->name, d->arg ? " " : "",
                d->arg ? d->arg : "", o->required ? "" : "]");
    }
    fprintf(f, "\n\n%s\nCalls %s.\n", c->about, c->method);
    for (int pass = 0; pass < 2; pass++) {
        bool required = pass == 0, any = false;
        for (const cli_cmd_opt *o = c->opts; o->id != O_NONE; o++) {
            if (o->required != required)
                continue;
            if (!any)
                fputs(required ? "\nRequired:\n" : "\nOptions:\n", f);
            any = true;
            cli_print_opt(f, o->id, o->help);
        }
    }
    fprintf(f, "\nExample:\n  %s\n\n", c->example);
    fputs("Global options (--node, --caller, --role, --call-id, --region, --timeout,\n"
          "--json) are listed by 'gongji --help'.\n"
          "Exit status: 0 ok, 1 the node answered an error, 2 usage error, 3 no answer.\n",
          f);
}

static const cli_cmd *cli_find_cmd(const char *name)
{
    for (size_t i = 0; i < CLI_NCMDS; i++)
        if (strcmp(cli_cmds[i].name, name) == 0)
            return &cli_cmds[i];
    return NULL;
}

/* ---- parsing ---- */

static size_t cli_build_longopts(struct option *out, const cli_cmd_opt *a, const cli_cmd_opt *b)
{
    size_t n = 0;
    for (const cli_cmd_opt *list[2] = {a, b}, **l = list; l < list + 2; l++)
        for (const cli_cmd_opt *o = *l; o != NULL && o->id != O_NONE; o++) {
            const cli_optdef *d = &cli_optdefs[o->id];
            out[n].name = d->name;
            out[n].has_arg = d->arg != NULL ? required_argument : no_argument;
            out[n].flag = NULL;
            out[n].val = CLI_OPT_VAL(o->id);
            n++;
        }
    memset(&out[n], 0, sizeof out[n]);
    return n;
}

/* Parse argv[0..argc) (argv[0] is the program or command name). Returns -1 to go on,
 * or an exit code. Stops at the first non-option (the command, or a stray word). */
static int cli_getopt(cli_ctx *x, int argc, char **argv, const struct option *longopts,
                      int *next)
{
    opterr = 0;  /* our own messages, with a hint */
    optind = 0;  /* glibc: 0 re-initialises, so the second pass starts clean */
    int ch, li = -1;
    while ((ch = getopt_long(argc, argv, "+:h", longopts, &li)) != -1) {
        const char *arg = argv[optind - 1 < argc ? optind - 1 : argc - 1];
        /* getopt_long takes unambiguous prefixes ("--reg" for --region); refuse them,
         * so a script keeps meaning the same when options are added. */
        if (ch >= 0x100 && li >= 0) {
            bool separate = optarg != NULL && optind >= 2 && optarg == argv[optind - 1];
            const char *tok = argv[optind - (separate ? 2 : 1)];
            size_t n = strlen(longopts[li].name);
            if (strncmp(tok, "--", 2) != 0 || strncmp(tok + 2, longopts[li].name, n) != 0 ||
                (tok[2 + n] != '\0' && tok[2 + n] != '=')) {
                char *t = cli_clean(tok, false);
                int rc = cli_usage(x, "option '%s' is not spelled out; did you mean --%s?",
                                   t ? t : "?", longopts[li].name);
                free(t);
                return rc;
            }
        }
        li = -1; /* getopt_long sets it only for long options */
        if (ch == '?') {
            char *t = cli_clean(arg, false);
            int rc = cli_usage(x, "unknown, ambiguous or misused option '%s'", t ? t : "?");
            free(t);
            return rc;
        }
        if (ch == ':') {
            int id = optopt - 0x100;
            if (id > O_NONE && id < O_COUNT)
                return cli_usage(x, "option --%s needs a value", cli_optdefs[id].name);
            return cli_usage(x, "an option needs a value");
        }
        int id = ch == 'h' ? O_HELP : ch - 0x100;
        if (id <= O_NONE || id >= O_COUNT)
            return cli_usage(x, "unexpected option");
        if (id == O_HELP) {
            if (x->cmd != NULL)
                cli_help_cmd(stdout, x->cmd);
            else
                cli_help_top(stdout);
            return CLI_EXIT_OK;
        }
        if (id == O_VERSION) {
            printf("gongji %s (wire gongji.v1)\n", GONGJI_VERSION);
            return CLI_EXIT_OK;
        }
        if (x->seen[id])
            return cli_usage(x, "option --%s given twice", cli_optdefs[id].name);
        x->seen[id] = true;
        if (cli_optdefs[id].arg != NULL) {
            /* "--psn-no --amount 5" would silently take "--amount" as the psn_no. */
            if (!cli_optdefs[id].free_text && strncmp(optarg, "--", 2) == 0)
                return cli_usage(x, "option --%s needs a value", cli_optdefs[id].name);
            x->val[id] = optarg;
        }
    }
    *next = optind;
    return -1;
}

static int cli_resolve_globals(cli_ctx *x)
{
    const char *env = getenv("GONGJI_NODE");
    x->node = x->val[O_NODE] != NULL ? x->val[O_NODE]
              : (env != NULL && *env != '\0') ? env
                                              : CLI_DEFAULT_NODE;
    if (*x->node == '\0')
        return cli_usage(x, "--node needs a URL, e.g. %s", CLI_DEFAULT_NODE);

    x->caller = x->val[O_CALLER] != NULL ? x->val[O_CALLER] : CLI_DEFAULT_CALLER;
    if (*x->caller == '\0')
        return cli_usage(x, "--caller needs a value");

    x->role = GONGJI__V1__ROLE__OPERATOR;
    const char *r = x->val[O_ROLE];
    if (r != NULL) {
        if (strcmp(r, "operator") == 0)
            x->role = GONGJI__V1__ROLE__OPERATOR;
        else if (strcmp(r, "institution") == 0)
            x->role = GONGJI__V1__ROLE__INSTITUTION;
        else if (strcmp(r, "person") == 0)
            x->role = GONGJI__V1__ROLE__PERSON;
        else if (strcmp(r, "peer") == 0)
            x->role = GONGJI__V1__ROLE__PEER;
        else
            return cli_usage(x, "bad --role: give operator, institution, person or peer");
    }

    x->call_id = x->val[O_CALL_ID];
    if (x->call_id != NULL && *x->call_id == '\0')
        return cli_usage(x, "--call-id needs a value (leave it out for a random one)");

    x->region = x->val[O_REGION] != NULL ? x->val[O_REGION] : "";

    x->timeout_ms = CLI_DEFAULT_TIMEOUT_MS;
    if (x->val[O_TIMEOUT] != NULL) {
        uint64_t ms;
        if (!cli_parse_u64(x->val[O_TIMEOUT], CLI_TIMEOUT_MAX_MS, &ms) || ms == 0)
            return cli_usage(x, "bad --timeout: give milliseconds, 1 to %d", CLI_TIMEOUT_MAX_MS);
        x->timeout_ms = (int)ms;
    }
    x->json = x->seen[O_JSON];
    return -1;
}

int main(int argc, char **argv)
{
    static cli_ctx ctx;
    cli_ctx *x = &ctx;
    if (argc < 1 || argv == NULL)
        return CLI_EXIT_USAGE;

    /* Pass 1: global options up to the command. */
    struct option longopts[O_COUNT + 1];
    cli_build_longopts(longopts, cli_global_opts, NULL);
    int cmd_at;
    int rc = cli_getopt(x, argc, argv, longopts, &cmd_at);
    if (rc >= 0)
        return rc;
    if (cmd_at >= argc) {
        fputs("Usage: gongji [global options] <command> [command options]\n", stderr);
        return cli_usage(x, "no command given");
    }

    const char *name = argv[cmd_at];
    if (strcmp(name, "help") == 0) {
        if (cmd_at + 1 >= argc) {
            cli_help_top(stdout);
            return CLI_EXIT_OK;
        }
        const cli_cmd *c = cli_find_cmd(argv[cmd_at + 1]);
        if (c == NULL || cmd_at + 2 < argc) {
            char *t = cli_clean(argv[cmd_at + 1], false);
            rc = cli_usage(x, c == NULL ? "no command '%s'" : "help takes one command, not '%s'",
                           t ? t : "?");
            free(t);
            return rc;
        }
        cli_help_cmd(stdout, c);
        return CLI_EXIT_OK;
    }
    x->cmd = cli_find_cmd(name);
    if (x->cmd == NULL) {
        char *t = cli_clean(name, false);
        rc = cli_usage(x, "unknown command '%s'", t ? t : "?");
        free(t);
        return rc;
    }

    /* Pass 2: the command's options, and global ones after the command. */
    cli_build_longopts(longopts, x->cmd->opts, cli_global_opts);
    int rest;
    rc = cli_getopt(x, argc - cmd_at, argv + cmd_at, longopts, &rest);
    if (rc >= 0)
        return rc;
    if (cmd_at + rest < argc) {
        char *t = cli_clean(argv[cmd_at + rest], false);
        rc = cli_usage(x, "unexpected argument '%s'", t ? t : "?");
        free(t);
        return rc;
    }
    for (const cli_cmd_opt *o = x->cmd->opts; o->id != O_NONE; o++) {
        const char *v = x->val[o->id];
        if (o->required && v == NULL)
            return cli_usage(x, "missing --%s", cli_optdefs[o->id].name);
        if (v != NULL && *v == '\0' && o->id != O_MEMO && o->id != O_NAME &&
            o->id != O_PAGE_TOKEN)
            return cli_usage(x, "--%s needs a value", cli_optdefs[o->id].name);
    }
    if ((rc = cli_resolve_globals(x)) >= 0)
        return rc;

    rc = x->cmd->run(x);
    client_close(x->client);
    fflush(stdout);
    return rc;
}
