/* gongji: the operator's command-line tool. One command = one call to a node (records
 * --all makes one call per page). See docs/cli.md and `gongji --help`. */
#include <getopt.h>
#include <pthread.h>
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
#include "gj_names.h"
#include "gj_util.h"
#include "tls.h"

#ifndef GONGJI_VERSION
#define GONGJI_VERSION "0.1.0"
#endif

#define CLI_DEFAULT_NODE "tls+tcp://127.0.0.1:7100"
#define CLI_DEFAULT_CALLER "gongji-cli"
#define CLI_DEFAULT_TIMEOUT_MS 5000
/* An hour: longer than any sane call, and well inside nng_duration (int32 ms). */
#define CLI_TIMEOUT_MAX_MS 3600000
/* records and settlements --all stop here so a node that never ends its pages cannot loop
 * us forever. */
#define CLI_PAGES_MAX 10000
/* audit --cluster: nodes one run may call. Twice GJ_PEERS_MAX: every node a full peer
 * table can name, and then some; each silent node costs a whole --timeout. */
#define CLI_CLUSTER_MAX 256

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
    O_CA, O_CERT, O_KEY, O_CRL,
    /* commands */
    O_PSN_NO, O_CERTNO, O_INSUTYPE, O_REGION_CODE, O_NAME, O_STATUS, O_AMOUNT, O_MEMO,
    O_SPONSOR, O_BENEFICIARY, O_RELATION, O_SPONSOR_REGION, O_BENEFICIARY_REGION, O_SPONSORS,
    O_USE, O_INSTITUTION, O_FROM, O_TO, O_PAGE_SIZE, O_PAGE_TOKEN, O_ALL, O_DATE,
    O_INSUPLC_ADMDVS, O_CLUSTER, O_STRICT, O_SETL_ID, O_ORIGINAL_CALL_ID, O_YEAR, O_WINDOW,
    O_PEER,
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
    [O_CA] = {"ca", "FILE", false},
    [O_CERT] = {"cert", "FILE", false},
    [O_KEY] = {"key", "FILE", false},
    [O_CRL] = {"crl", "FILE", false},
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
    [O_INSUPLC_ADMDVS] = {"insuplc-admdvs", "R", false},
    [O_CLUSTER] = {"cluster", "URL,URL,...", false},
    [O_STRICT] = {"strict", NULL, false},
    [O_SETL_ID] = {"setl-id", "ID", false},
    [O_ORIGINAL_CALL_ID] = {"original-call-id", "ID", false},
    [O_YEAR] = {"year", "YYYY", false},
    [O_WINDOW] = {"window", "DATE", false},
    [O_PEER] = {"peer", "R", false},
};

typedef struct cli_cmd_opt {
    int id;
    bool required;
    const char *help;
} cli_cmd_opt;

static const cli_cmd_opt cli_global_opts[] = {
    {O_NODE, false, "default $GONGJI_NODE, else " CLI_DEFAULT_NODE},
    {O_CA, false, "federation CA certificate (default $GONGJI_CA)"},
    {O_CERT, false, "your certificate, PEM (default $GONGJI_CERT); it says who you are"},
    {O_KEY, false, "its private key (default $GONGJI_KEY, else in --cert)"},
    {O_CRL, false, "revocation list to check the node against (default $GONGJI_CRL)"},
    {O_CALLER, false, "who is calling (default: the certificate's id)"},
    {O_ROLE, false, "operator|institution|person|peer|platform (default: the certificate's)"},
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
    const char *caller;  /* NULL: the certificate's */
    int role;            /* 0: the certificate's */
    gj_cred_files cred_files;
    gj_cred *cred;       /* loaded at the first call */
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
    const char *n = (v >= 1 && v <= GJ_REL_MAX) ? gj_relation_name(v) : NULL;
    return (n != NULL && *n != '\0') ? n : cli_enum_text(&gongji__v1__relation__descriptor, v, buf);
}

static const char *cli_use_text(int v, char buf[40])
{
    const char *n = (v >= 1 && v <= GJ_USE_MAX) ? gj_use_name(v) : NULL;
    return (n != NULL && *n != '\0') ? n : cli_enum_text(&gongji__v1__use_type__descriptor, v, buf);
}

static const char *cli_status_text(int v, char buf[40])
{
    return cli_enum_text(&gongji__v1__person_status__descriptor, v, buf);
}

/* Text built piece by piece; on out of memory it stays NULL and says so. */
typedef struct cli_sb {
    char *s;
    size_t len, cap;
    bool oom;
} cli_sb;

static void sb_addf(cli_sb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void sb_addf(cli_sb *b, const char *fmt, ...)
{
    if (b->oom)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->oom = true;
        return;
    }
    if (b->len + (size_t)n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 128;
        while (cap < b->len + (size_t)n + 1)
            cap *= 2;
        char *s = realloc(b->s, cap);
        if (s == NULL) {
            b->oom = true;
            return;
        }
        b->s = s;
        b->cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
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
        char *const *row = r == 0 ? NULL : &t->cells[(r - 1) * t->cols];
        /* Stop after the last cell with text, so a row with empty trailing cells (a
         * settlement's part lines) ends without blanks. */
        size_t end = t->cols;
        while (row != NULL && end > 1 && row[end - 1] != NULL && row[end - 1][0] == '\0')
            end--;
        fputs(indent, stdout);
        for (size_t c = 0; c < end; c++) {
            const char *s = r == 0 ? t->head[c] : row[c];
            if (s == NULL)
                s = "?";
            bool last = c + 1 == end;
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
    cJSON_AddBoolToObject(o, "refund", r->refund);
    return o;
}

/* Sponsor parts of a settlement, or the refunds of a revoke. */
static cJSON *j_parts(Gongji__V1__SponsorPart **v, size_t n)
{
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; a != NULL && i < n; i++) {
        const Gongji__V1__SponsorPart *sp = v[i];
        cJSON *po = sp != NULL ? cJSON_CreateObject() : cJSON_CreateNull();
        if (sp != NULL) {
            j_text(po, "sponsor_psn_no", sp->sponsor_psn_no);
            j_text(po, "sponsor_admdvs", sp->sponsor_admdvs);
            j_amount(po, "amount", sp->amount);
        }
        cJSON_AddItemToArray(a, po);
    }
    return a;
}

static cJSON *j_revoke(const Gongji__V1__RevokeReply *r)
{
    if (r == NULL)
        return NULL;
    cJSON *o = cJSON_CreateObject();
    j_text(o, "setl_id", r->setl_id);
    j_amount(o, "amount", r->amount);
    j_amount(o, "acct_refund", r->acct_refund);
    j_add(o, "refunds", j_parts(r->refunds, r->n_refunds));
    j_date(o, "revoke_date", r->revoke_date);
    return o;
}

static cJSON *j_counterparties(Gongji__V1__CounterpartyTotals **v, size_t n)
{
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; a != NULL && i < n; i++) {
        const Gongji__V1__CounterpartyTotals *t = v[i];
        cJSON *o = t != NULL ? cJSON_CreateObject() : cJSON_CreateNull();
        if (t != NULL) {
            j_text(o, "region", t->region);
            j_u64(o, "owed_to_us_count", t->owed_to_us_count);
            j_amount(o, "owed_to_us", t->owed_to_us);
            j_u64(o, "we_owe_count", t->we_owe_count);
            j_amount(o, "we_owe", t->we_owe);
            j_amount(o, "net", t->net);
        }
        cJSON_AddItemToArray(a, o);
    }
    return a;
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

/* A client for url, with the credential when the URL is TLS (loaded once). Returns -1
 * with *out set, or an exit code after saying what is wrong. */
static int cli_open_client(cli_ctx *x, const char *url, const char *where, client_t **out)
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
static int cli_call(cli_ctx *x, const char *call_id, const ProtobufCMessage *req,
                    const ProtobufCMessageDescriptor *desc, ProtobufCMessage **out)
{
    *out = NULL;
    if (x->client == NULL) {
        int rc = cli_open_client(x, x->node, "", &x->client);
        if (rc >= 0)
            return rc;
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

/* One line per sponsor part: "<label>  30.00  <psn_no> (<region>)". */
static void h_parts(const char *label, Gongji__V1__SponsorPart **v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const Gongji__V1__SponsorPart *sp = v[i];
        if (sp == NULL)
            continue;
        char buf[32];
        char *who = cli_clean(sp->sponsor_psn_no, false);
        char *reg = cli_clean(sp->sponsor_admdvs, false);
        printf(H_LABEL "%10s  %s (%s)\n", label, gj_yuan_format(sp->amount, buf), who ? who : "?",
               reg ? reg : "?");
        free(who);
        free(reg);
    }
}

static void h_revoke(const Gongji__V1__RevokeReply *r)
{
    if (r == NULL) {
        puts("(no revoke details in the answer)");
        return;
    }
    h_text("setl_id", r->setl_id);
    h_date("revoke_date", r->revoke_date);
    h_amount("amount", r->amount);
    h_amount("acct_refund", r->acct_refund);
    h_parts("  to sponsor", r->refunds, r->n_refunds);
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
    h_u64("open_holds", h->open_holds);
    h_u64("open_decisions", h->open_decisions);
    h_u64("peers", h->peers);
    h_u64("store_commits", h->store_commits);
    h_u64("store_requests", h->store_requests);
    h_u64("store_apply_us", h->store_apply_us);
    h_u64("store_commit_us", h->store_commit_us);
    h_u64("peer_calls", h->peer_coalescable_calls);
    h_u64("peer_messages", h->peer_coalescable_messages);
    h_u64("settlements_unknown", h->settlements_unknown);
    printf("%-19s %s\n", "trust",
           h->callers_proven ? "TLS, every caller proven"
                             : "INSECURE: insecure_plaintext, callers taken at their word");
    h_u64("sessions", h->sessions);
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
    j_u64(o, "open_holds", h->open_holds);
    j_u64(o, "open_decisions", h->open_decisions);
    j_u64(o, "peers", h->peers);
    j_u64(o, "store_commits", h->store_commits);
    j_u64(o, "store_requests", h->store_requests);
    j_u64(o, "store_apply_us", h->store_apply_us);
    j_u64(o, "store_commit_us", h->store_commit_us);
    j_u64(o, "peer_calls", h->peer_coalescable_calls);
    j_u64(o, "peer_messages", h->peer_coalescable_messages);
    j_u64(o, "settlements_unknown", h->settlements_unknown);
    cJSON_AddBoolToObject(o, "callers_proven", h->callers_proven);
    j_u64(o, "sessions", h->sessions);
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
    int rel = gj_relation_parse(x->val[O_RELATION]);
    if (rel <= 0) {
        char *t = cli_clean(x->val[O_RELATION], false);
        fprintf(stderr, "gongji: unknown relation '%s'; one of:\n  ", t ? t : "?");
        free(t);
        cli_list_names(stderr, gj_relation_name, GJ_REL_MAX, 2, 2);
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
    req.sponsor_admdvs = x->val[O_SPONSOR_REGION] != NULL ? x->val[O_SPONSOR_REGION] : "";
    ProtobufCMessage *m;
    int rc = cli_call(x, x->call_id, &req.base, &gongji__v1__unbind_reply__descriptor, &m);
    if (rc != CLI_EXIT_OK)
        return rc;
    rc = cli_binding_out(x, ((const Gongji__V1__UnbindReply *)m)->binding);
    protobuf_c_message_free_unpacked(m, NULL);
    return rc;
}

/* Split option id's value, "A, B,C", into its items, blanks trimmed. On success *list
 * is a private copy that *items point into; the caller frees both. An empty item is a
 * usage error (what, e.g. "name", says what is missing in the message). */
static int cli_split(cli_ctx *x, int id, const char *what, char **list, char ***items,
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

static int run_order(cli_ctx *x)
{
    char *list, **names;
    size_t n;
    int rc0 = cli_split(x, O_SPONSORS, "name", &list, &names, &n);
    if (rc0 != CLI_EXIT_OK)
        return rc0;

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
        use = gj_use_parse(x->val[O_USE]);
        if (use <= 0) {
            char *t = cli_clean(x->val[O_USE], false);
            fprintf(stderr, "gongji: unknown use '%s'; one of:\n  ", t ? t : "?");
            free(t);
            cli_list_names(stderr, gj_use_name, GJ_USE_MAX, 2, 2);
            fputc('\n', stderr);
            return cli_usage(x, "bad --use");
        }
    }
    req.psn_no = x->val[O_PSN_NO];
    req.use = (Gongji__V1__UseType)use;
    req.fixmedins_code = x->val[O_INSTITUTION] != NULL ? x->val[O_INSTITUTION] : "";
    req.insuplc_admdvs = x->val[O_INSUPLC_ADMDVS] != NULL ? x->val[O_INSUPLC_ADMDVS] : "";
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
        j_add(o, "parts", j_parts(r->parts, r->n_parts));
        j_amount(o, "acct_mulaid_pay", r->acct_mulaid_pay);
        j_amount(o, "psn_cash_pay", r->psn_cash_pay);
        j_date(o, "setl_date", r->setl_date);
        rc = j_emit(o);
    } else {
        h_text("setl_id", r->setl_id);
        h_date("setl_date", r->setl_date);
        h_amount("amount", r->amount);
        h_amount("acct_pay", r->acct_pay);
        h_parts("  from sponsor", r->parts, r->n_parts);
        h_amount("acct_mulaid_pay", r->acct_mulaid_pay);
        h_amount("psn_cash_pay", r->psn_cash_pay);
    }
    protobuf_c_message_free_unpacked(m, NULL);
    return rc;
}

/* ---- paged lists: records and settlements ---- */

/* --from, --to, --page-size and --page-token, shared by the paged commands. */
static int cli_page_args(cli_ctx *x, int32_t *from, int32_t *to, uint32_t *page_size,
                         char **page_token)
{
    int rc;
    if (x->val[O_FROM] != NULL && (rc = cli_need_date(x, O_FROM, from)) != CLI_EXIT_OK)
        return rc;
    if (x->val[O_TO] != NULL && (rc = cli_need_date(x, O_TO, to)) != CLI_EXIT_OK)
        return rc;
    if (x->val[O_PAGE_SIZE] != NULL) {
        uint64_t n;
        if (!cli_parse_u64(x->val[O_PAGE_SIZE], UINT32_MAX, &n))
            return cli_usage(x, "bad --page-size: give a whole number (0 = the node's default)");
        *page_size = (uint32_t)n;
    }
    *page_token = x->val[O_PAGE_TOKEN] != NULL ? x->val[O_PAGE_TOKEN] : "";
    return CLI_EXIT_OK;
}

/* The pages of one paged call: one page, or with --all every page until the node says
 * the last. req's page token (*req_token) is moved along; next_of reads a reply's
 * next_page_token. On CLI_EXIT_OK *pages_out holds n_out >= 1 replies (caller frees them
 * with cli_pages_free); otherwise the error is reported and nothing is kept. */
static int cli_call_pages(cli_ctx *x, const ProtobufCMessage *req, char **req_token,
                          const ProtobufCMessageDescriptor *desc,
                          const char *(*next_of)(const ProtobufCMessage *),
                          ProtobufCMessage ***pages_out, size_t *n_out)
{
    bool all = x->seen[O_ALL];
    ProtobufCMessage **pages = NULL;
    size_t n_pages = 0;
    const char *prev_token = NULL;
    char *page_call_id = NULL;
    int rc = CLI_EXIT_OK;
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
        rc = cli_call(x, cid, req, desc, &m);
        if (rc != CLI_EXIT_OK)
            break;
        ProtobufCMessage **grown = realloc(pages, (n_pages + 1) * sizeof *pages);
        if (grown == NULL) {
            protobuf_c_message_free_unpacked(m, NULL);
            fputs("gongji: out of memory\n", stderr);
            rc = CLI_EXIT_NOANSWER;
            break;
        }
        pages = grown;
        pages[n_pages++] = m;
        const char *next = next_of(m);
        if (next == NULL)
            next = "";
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
        *req_token = (char *)next; /* lives as long as its page */
    }
    free(page_call_id);
    if (rc != CLI_EXIT_OK) {
        for (size_t p = 0; p < n_pages; p++)
            protobuf_c_message_free_unpacked(pages[p], NULL);
        free(pages);
        pages = NULL;
        n_pages = 0;
    }
    *pages_out = pages;
    *n_out = n_pages;
    return rc;
}

static void cli_pages_free(ProtobufCMessage **pages, size_t n)
{
    for (size_t p = 0; p < n; p++)
        protobuf_c_message_free_unpacked(pages[p], NULL);
    free(pages);
}

/* The footer of a paged table: the count, and the token of the next page if any. */
static void h_pages_footer(size_t count, const char *what, const char *next)
{
    printf("%zu %s%s\n", count, what, count == 1 ? "" : "s");
    if (next != NULL && *next != '\0') {
        char *tok = cli_clean(next, false);
        printf(H_LABEL "%s\n(more pages: pass it as --page-token, or use --all)\n",
               "next_page_token", tok ? tok : "?");
        free(tok);
    }
}

static const char *records_next(const ProtobufCMessage *m)
{
    return ((const Gongji__V1__RecordsReply *)m)->next_page_token;
}

static int run_records(cli_ctx *x)
{
    Gongji__V1__RecordsRequest req = GONGJI__V1__RECORDS_REQUEST__INIT;
    int rc = cli_page_args(x, &req.from_date, &req.to_date, &req.page_size, &req.page_token);
    if (rc != CLI_EXIT_OK)
        return rc;
    req.psn_no = x->val[O_PSN_NO];

    /* Keep every page: the output is printed once, as one table or one JSON object. */
    ProtobufCMessage **pm;
    size_t n_pages;
    rc = cli_call_pages(x, &req.base, &req.page_token, &gongji__v1__records_reply__descriptor,
                        records_next, &pm, &n_pages);
    if (rc != CLI_EXIT_OK)
        return rc;
    Gongji__V1__RecordsReply **pages = (Gongji__V1__RecordsReply **)pm;
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
        cli_table t = {.cols = 8,
                       .head = {"setl_date", "time", "setl_id", "kind", "sponsor_psn_no",
                                "beneficiary_psn_no", "use", "amount"},
                       .right = {[7] = true}};
        size_t count = 0;
        for (size_t p = 0; p < n_pages; p++)
            for (size_t i = 0; i < pages[p]->n_records; i++) {
                const Gongji__V1__SpendRecord *s = pages[p]->records[i];
                if (s == NULL)
                    continue;
                char d[16], tm[16], use[40], amt[32];
                const char *row[8] = {cli_date_text(s->setl_date, d),
                                      cli_time_text(s->time_unix_ms, tm),
                                      s->setl_id,
                                      s->refund ? "refund" : "spend",
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
        h_pages_footer(count, "record", next);
    }
    cli_pages_free(pm, n_pages);
    return rc;
}

static cJSON *j_settlement(const Gongji__V1__SettlementRecord *r)
{
    char buf[40];
    if (r == NULL)
        return cJSON_CreateNull();
    cJSON *o = cJSON_CreateObject();
    j_text(o, "setl_id", r->setl_id);
    j_date(o, "setl_date", r->setl_date);
    cJSON_AddStringToObject(o, "use", cli_use_text((int)r->use, buf));
    j_amount(o, "amount", r->amount);
    j_amount(o, "acct_pay", r->acct_pay);
    j_add(o, "parts", j_parts(r->parts, r->n_parts));
    j_amount(o, "acct_mulaid_pay", r->acct_mulaid_pay);
    j_amount(o, "psn_cash_pay", r->psn_cash_pay);
    cJSON_AddBoolToObject(o, "revoked", r->revoked);
    j_date(o, "revoke_date", r->revoke_date);
    return o;
}

static const char *settlements_next(const ProtobufCMessage *m)
{
    return ((const Gongji__V1__SettlementRecordsReply *)m)->next_page_token;
}

static int run_settlements(cli_ctx *x)
{
    Gongji__V1__SettlementRecordsRequest req = GONGJI__V1__SETTLEMENT_RECORDS_REQUEST__INIT;
    int rc = cli_page_args(x, &req.from_date, &req.to_date, &req.page_size, &req.page_token);
    if (rc != CLI_EXIT_OK)
        return rc;
    req.psn_no = x->val[O_PSN_NO];

    ProtobufCMessage **pm;
    size_t n_pages;
    rc = cli_call_pages(x, &req.base, &req.page_token,
                        &gongji__v1__settlement_records_reply__descriptor, settlements_next, &pm,
                        &n_pages);
    if (rc != CLI_EXIT_OK)
        return rc;
    Gongji__V1__SettlementRecordsReply **pages = (Gongji__V1__SettlementRecordsReply **)pm;
    const char *next = pages[n_pages - 1]->next_page_token;
    if (next == NULL)
        next = "";
    if (x->json) {
        cJSON *o = cJSON_CreateObject();
        cJSON *a = cJSON_CreateArray();
        for (size_t p = 0; a != NULL && p < n_pages; p++)
            for (size_t i = 0; i < pages[p]->n_records; i++)
                cJSON_AddItemToArray(a, j_settlement(pages[p]->records[i]));
        j_add(o, "records", a);
        j_text(o, "next_page_token", next);
        rc = j_emit(o);
    } else {
        /* One row per settlement; under it one row per sponsor part, whose amount
         * stands in the acct_mulaid_pay column it adds up to. */
        cli_table t = {.cols = 8,
                       .head = {"setl_date", "setl_id", "use", "amount", "acct_pay",
                                "acct_mulaid_pay", "psn_cash_pay", "revoked"},
                       .right = {[3] = true, [4] = true, [5] = true, [6] = true}};
        size_t count = 0;
        for (size_t p = 0; p < n_pages; p++)
            for (size_t i = 0; i < pages[p]->n_records; i++) {
                const Gongji__V1__SettlementRecord *s = pages[p]->records[i];
                if (s == NULL)
                    continue;
                char d[16], rd[16], use[40], a1[32], a2[32], a3[32], a4[32];
                const char *revoked = !s->revoked            ? "no"
                                      : s->revoke_date == 0 ? "yes"
                                                            : cli_date_text(s->revoke_date, rd);
                const char *row[8] = {cli_date_text(s->setl_date, d),
                                      s->setl_id,
                                      cli_use_text((int)s->use, use),
                                      gj_yuan_format(s->amount, a1),
                                      gj_yuan_format(s->acct_pay, a2),
                                      gj_yuan_format(s->acct_mulaid_pay, a3),
                                      gj_yuan_format(s->psn_cash_pay, a4),
                                      revoked};
                table_add(&t, row);
                count++;
                for (size_t k = 0; k < s->n_parts; k++) {
                    const Gongji__V1__SponsorPart *sp = s->parts[k];
                    if (sp == NULL)
                        continue;
                    cli_sb who = {0};
                    sb_addf(&who, "  %s (%s)", sp->sponsor_psn_no, sp->sponsor_admdvs);
                    const char *part[8] = {"", who.oom ? "  ?" : who.s, "", "", "",
                                           gj_yuan_format(sp->amount, a3), "", ""};
                    table_add(&t, part);
                    free(who.s);
                }
            }
        if (count > 0)
            table_print(&t, "");
        table_free(&t);
        h_pages_footer(count, "settlement", next);
    }
    cli_pages_free(pm, n_pages);
    return rc;
}

/* ---- after the payment: revoke, reverse, premiums ---- */

static int run_revoke(cli_ctx *x)
{
    Gongji__V1__RevokeRequest req = GONGJI__V1__REVOKE_REQUEST__INIT;
    req.setl_id = x->val[O_SETL_ID];
    ProtobufCMessage *m;
    int rc = cli_call(x, x->call_id, &req.base, &gongji__v1__revoke_reply__descriptor, &m);
    if (rc != CLI_EXIT_OK)
        return rc;
    const Gongji__V1__RevokeReply *r = (const Gongji__V1__RevokeReply *)m;
    if (x->json)
        rc = j_emit(j_revoke(r));
    else
        h_revoke(r);
    protobuf_c_message_free_unpacked(m, NULL);
    return rc;
}

static int run_reverse(cli_ctx *x)
{
    Gongji__V1__ReverseRequest req = GONGJI__V1__REVERSE_REQUEST__INIT;
    req.original_call_id = x->val[O_ORIGINAL_CALL_ID];
    req.insuplc_admdvs = x->val[O_INSUPLC_ADMDVS] != NULL ? x->val[O_INSUPLC_ADMDVS] : "";
    ProtobufCMessage *m;
    int rc = cli_call(x, x->call_id, &req.base, &gongji__v1__reverse_reply__descriptor, &m);
    if (rc != CLI_EXIT_OK)
        return rc;
    const Gongji__V1__ReverseReply *r = (const Gongji__V1__ReverseReply *)m;
    switch (r->outcome) {
    case GONGJI__V1__REVERSE_OUTCOME__REVOKED:
    case GONGJI__V1__REVERSE_OUTCOME__ABORTED_IN_FLIGHT:
    case GONGJI__V1__REVERSE_OUTCOME__TOMBSTONED:
        break;
    default: {
        /* An answer that does not say what happened is no success: the operator must
         * not take the original call as undone. */
        client_status st = {.code = GONGJI__V1__CODE__INTERNAL};
        gj_strcpy_fit(st.reason, sizeof st.reason, "BAD_ANSWER");
        snprintf(st.message, sizeof st.message,
                 "the node answered with no known outcome (%d); do not take the original "
                 "call as undone",
                 (int)r->outcome);
        cli_report(x, &st);
        protobuf_c_message_free_unpacked(m, NULL);
        return CLI_EXIT_NODE;
    }
    }
    char buf[40];
    const char *outcome =
        cli_enum_text(&gongji__v1__reverse_outcome__descriptor, (int)r->outcome, buf);
    bool revoked = r->outcome == GONGJI__V1__REVERSE_OUTCOME__REVOKED;
    if (x->json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "outcome", outcome);
        if (revoked)
            j_add(o, "revoke", j_revoke(r->revoke));
        else
            cJSON_AddNullToObject(o, "revoke");
        rc = j_emit(o);
    } else {
        h_text("outcome", outcome);
        if (revoked)
            h_revoke(r->revoke);
    }
    protobuf_c_message_free_unpacked(m, NULL);
    return rc;
}

static int run_premium(cli_ctx *x)
{
    Gongji__V1__PayPremiumRequest req = GONGJI__V1__PAY_PREMIUM_REQUEST__INIT;
    int rc = cli_need_amount(x, &req.amount);
    if (rc != CLI_EXIT_OK)
        return rc;
    if (x->val[O_YEAR] != NULL) {
        uint64_t y;
        if (strlen(x->val[O_YEAR]) != 4 || !cli_parse_u64(x->val[O_YEAR], 9999, &y) || y == 0) {
            char *t = cli_clean(x->val[O_YEAR], false);
            rc = cli_usage(x, "bad year '%s' for --year: give four digits, e.g. 2027",
                           t ? t : "?");
            free(t);
            return rc;
        }
        req.year = (int32_t)y;
    }
    req.sponsor_psn_no = x->val[O_SPONSOR];
    req.sponsor_admdvs = x->val[O_SPONSOR_REGION] != NULL ? x->val[O_SPONSOR_REGION] : "";
    req.beneficiary_psn_no = x->val[O_BENEFICIARY];
    req.insuplc_admdvs = x->val[O_INSUPLC_ADMDVS] != NULL ? x->val[O_INSUPLC_ADMDVS] : "";
    ProtobufCMessage *m;
    rc = cli_call(x, x->call_id, &req.base, &gongji__v1__pay_premium_reply__descriptor, &m);
    if (rc != CLI_EXIT_OK)
        return rc;
    const Gongji__V1__PayPremiumReply *r = (const Gongji__V1__PayPremiumReply *)m;
    if (x->json) {
        cJSON *o = cJSON_CreateObject();
        j_text(o, "setl_id", r->setl_id);
        j_amount(o, "amount", r->amount);
        j_text(o, "sponsor_psn_no", r->sponsor_psn_no);
        j_text(o, "sponsor_admdvs", r->sponsor_admdvs);
        rc = j_emit(o);
    } else {
        h_text("setl_id", r->setl_id);
        h_amount("amount", r->amount);
        h_text("sponsor_psn_no", r->sponsor_psn_no);
        h_text("sponsor_admdvs", r->sponsor_admdvs);
    }
    protobuf_c_message_free_unpacked(m, NULL);
    return rc;
}

/* ---- clearing ---- */

static void h_counterparties(const char *title, Gongji__V1__CounterpartyTotals **v, size_t n)
{
    printf("%s (%zu)\n", title, n);
    if (n == 0)
        return;
    cli_table t = {.cols = 6,
                   .head = {"region", "owed_to_us_count", "owed_to_us", "we_owe_count", "we_owe",
                            "net"},
                   .right = {false, true, true, true, true, true}};
    for (size_t i = 0; i < n; i++) {
        const Gongji__V1__CounterpartyTotals *c = v[i];
        if (c == NULL)
            continue;
        char n1[24], n2[24], a1[32], a2[32], a3[32];
        snprintf(n1, sizeof n1, "%llu", (unsigned long long)c->owed_to_us_count);
        snprintf(n2, sizeof n2, "%llu", (unsigned long long)c->we_owe_count);
        const char *row[6] = {c->region, n1, gj_yuan_format(c->owed_to_us, a1), n2,
                              gj_yuan_format(c->we_owe, a2), gj_yuan_format(c->net, a3)};
        table_add(&t, row);
    }
    table_print(&t, "  ");
    table_free(&t);
}

/* ClearingTotals and CloseWindow both answer a ClearingTotalsReply. */
static int cli_clearing_out(cli_ctx *x, ProtobufCMessage *m)
{
    const Gongji__V1__ClearingTotalsReply *r = (const Gongji__V1__ClearingTotalsReply *)m;
    int rc = CLI_EXIT_OK;
    if (x->json) {
        cJSON *o = cJSON_CreateObject();
        j_text(o, "region", r->region);
        j_date(o, "window", r->window);
        cJSON_AddBoolToObject(o, "closed", r->closed);
        j_add(o, "counterparties", j_counterparties(r->counterparties, r->n_counterparties));
        j_add(o, "provinces", j_counterparties(r->provinces, r->n_provinces));
        rc = j_emit(o);
    } else {
        h_text("region", r->region);
        h_date("window", r->window);
        h_bool("closed", r->closed);
        h_counterparties("counterparties", r->counterparties, r->n_counterparties);
        h_counterparties("provinces", r->provinces, r->n_provinces);
    }
    protobuf_c_message_free_unpacked(m, NULL);
    return rc;
}

static int run_clearing(cli_ctx *x)
{
    Gongji__V1__ClearingTotalsRequest req = GONGJI__V1__CLEARING_TOTALS_REQUEST__INIT;
    int rc;
    if (x->val[O_WINDOW] != NULL && (rc = cli_need_date(x, O_WINDOW, &req.window)) != CLI_EXIT_OK)
        return rc;
    ProtobufCMessage *m;
    rc = cli_call(x, x->call_id, &req.base, &gongji__v1__clearing_totals_reply__descriptor, &m);
    return rc != CLI_EXIT_OK ? rc : cli_clearing_out(x, m);
}

static int run_close_window(cli_ctx *x)
{
    Gongji__V1__CloseWindowRequest req = GONGJI__V1__CLOSE_WINDOW_REQUEST__INIT;
    int rc;
    if (x->val[O_WINDOW] != NULL && (rc = cli_need_date(x, O_WINDOW, &req.window)) != CLI_EXIT_OK)
        return rc;
    ProtobufCMessage *m;
    rc = cli_call(x, x->call_id, &req.base, &gongji__v1__clearing_totals_reply__descriptor, &m);
    return rc != CLI_EXIT_OK ? rc : cli_clearing_out(x, m);
}

static int run_reconcile(cli_ctx *x)
{
    Gongji__V1__ReconcileRequest req = GONGJI__V1__RECONCILE_REQUEST__INIT;
    int rc = cli_need_date(x, O_WINDOW, &req.window);
    if (rc != CLI_EXIT_OK)
        return rc;
    req.peer_region = x->val[O_PEER];
    ProtobufCMessage *m;
    rc = cli_call(x, x->call_id, &req.base, &gongji__v1__reconcile_reply__descriptor, &m);
    if (rc != CLI_EXIT_OK)
        return rc;
    const Gongji__V1__ReconcileReply *r = (const Gongji__V1__ReconcileReply *)m;
    if (x->json) {
        cJSON *o = cJSON_CreateObject();
        j_date(o, "window", r->window);
        j_text(o, "peer_region", r->peer_region);
        cJSON_AddBoolToObject(o, "agree", r->agree);
        j_u64(o, "our_count", r->our_count);
        j_amount(o, "our_net", r->our_net);
        j_u64(o, "their_count", r->their_count);
        j_amount(o, "their_net", r->their_net);
        j_add(o, "differing_setl_ids", j_strings(r->differing_setl_ids, r->n_differing_setl_ids));
        rc = j_emit(o);
    } else {
        h_date("window", r->window);
        h_text("peer_region", r->peer_region);
        h_bool("agree", r->agree);
        h_u64("our_count", r->our_count);
        h_amount("our_net", r->our_net);
        h_u64("their_count", r->their_count);
        h_amount("their_net", r->their_net);
        printf("differing_setl_ids (%zu)\n", r->n_differing_setl_ids);
        for (size_t i = 0; i < r->n_differing_setl_ids; i++) {
            char *t = cli_clean(r->differing_setl_ids[i], false);
            printf("  %s\n", t ? t : "?");
            free(t);
        }
    }
    if (rc == CLI_EXIT_OK && !r->agree) {
        char d[16];
        char *peer = cli_clean(r->peer_region, false);
        if (r->n_differing_setl_ids > 0)
            fprintf(stderr,
                    "gongji: window %s does not reconcile with %s: %zu differing settlement%s\n",
                    cli_date_text(r->window, d), peer ? peer : "?", r->n_differing_setl_ids,
                    r->n_differing_setl_ids == 1 ? "" : "s");
        else
            fprintf(stderr, "gongji: window %s does not reconcile with %s: the totals differ\n",
                    cli_date_text(r->window, d), peer ? peer : "?");
        free(peer);
        rc = CLI_EXIT_NODE;
    }
    protobuf_c_message_free_unpacked(m, NULL);
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

/* ---- audit ---- */

/* A list of report lines, kept raw and cleaned when printed. A line that could not be
 * stored still counts (lost), so a failure is never dropped from the totals. */
typedef struct cli_lines {
    char **v;
    size_t n, cap, lost;
} cli_lines;

static size_t lines_count(const cli_lines *l)
{
    return l->n + l->lost;
}

/* Takes b's text. */
static void lines_take(cli_lines *l, cli_sb *b)
{
    if (b->oom || b->s == NULL) {
        free(b->s);
        l->lost++;
    } else if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        char **v = realloc(l->v, cap * sizeof *v);
        if (v == NULL) {
            free(b->s);
            l->lost++;
        } else {
            l->v = v;
            l->cap = cap;
            l->v[l->n++] = b->s;
        }
    } else {
        l->v[l->n++] = b->s;
    }
    *b = (cli_sb){0};
}

static void lines_add(cli_lines *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void lines_add(cli_lines *l, const char *fmt, ...)
{
    cli_sb b = {0};
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    b.s = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (b.s == NULL) {
        b.oom = true;
    } else {
        va_start(ap, fmt);
        vsnprintf(b.s, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    lines_take(l, &b);
}

static void lines_free(cli_lines *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    *l = (cli_lines){0};
}

typedef const Gongji__V1__CrossPayment *cli_cp;

/* One audited node. */
typedef struct audit_node {
    const char *url;
    client_t *client;                /* --cluster: this node's own connection */
    const char *method;
    const char *call_id;
    char call_id_buf[33];
    Gongji__V1__AuditReply *reply;   /* NULL: no usable answer (st says why) */
    client_status st;
    bool answered;                   /* a Reply came back, maybe with an error code */
    bool shadowed;                   /* an earlier node answered for the same region */
    cli_lines problems;              /* what the CLI found wrong with this node */
    cli_cp *coord, *part;            /* the reply's lists, sorted by (setl_id, leg) */
    size_t n_coord, n_part;
} audit_node;

/* A counterpart region no audited node serves. */
typedef struct audit_gap {
    const char *region; /* points into a reply */
    uint64_t payments;
    const char *setl_id;
    uint32_t leg;
} audit_gap;

typedef struct audit_run {
    audit_node *nodes;
    size_t n;
    bool cluster, strict;
    uint64_t matched;
    cli_lines cross_fail; /* mismatches between audited nodes, and with --strict gaps */
    cli_lines cross_note; /* without --strict: regions not audited */
    size_t n_gap_fail;    /* of cross_fail, the "not audited" lines */
    size_t n_invariant;   /* failures that mean exit 1 */
    size_t n_silent;      /* nodes that gave no answer */
    audit_gap *gaps;
    size_t n_gaps, cap_gaps;
    bool oom;
} audit_run;

static const char *audit_region(const audit_node *nd)
{
    if (nd->reply != NULL && nd->reply->region != NULL && *nd->reply->region != '\0')
        return nd->reply->region;
    if (nd->answered && nd->st.served_by[0] != '\0')
        return nd->st.served_by;
    return "?";
}

static size_t audit_node_failures(const audit_node *nd)
{
    return (nd->reply != NULL ? nd->reply->n_failures : 0) + lines_count(&nd->problems);
}

static int cp_cmp(const void *a, const void *b)
{
    cli_cp x = *(const cli_cp *)a, y = *(const cli_cp *)b;
    int c = strcmp(x->setl_id, y->setl_id);
    return c != 0 ? c : (x->leg > y->leg) - (x->leg < y->leg);
}

/* Copy the non-NULL entries of v and sort them. */
static bool cp_index(Gongji__V1__CrossPayment **v, size_t n, cli_cp **out, size_t *n_out)
{
    *out = NULL;
    *n_out = 0;
    if (n == 0)
        return true;
    cli_cp *a = malloc(n * sizeof *a);
    if (a == NULL)
        return false;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (v[i] != NULL)
            a[k++] = v[i];
    qsort(a, k, sizeof *a, cp_cmp);
    *out = a;
    *n_out = k;
    return true;
}

/* Entries of the sorted v with this (setl_id, leg): the first one (or NULL) and how many. */
static cli_cp cp_find(const cli_cp *v, size_t n, const char *setl_id, uint32_t leg, size_t *count)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(v[mid]->setl_id, setl_id);
        if (c < 0 || (c == 0 && v[mid]->leg < leg))
            lo = mid + 1;
        else
            hi = mid;
    }
    size_t k = lo;
    while (k < n && v[k]->leg == leg && strcmp(v[k]->setl_id, setl_id) == 0)
        k++;
    *count = k - lo;
    return k > lo ? v[lo] : NULL;
}

/* What can be judged from one node's answer alone. */
static void audit_check_node(audit_run *r, audit_node *nd)
{
    const char *reg = audit_region(nd);
    if (nd->reply == NULL) {
        const char *reason = nd->st.reason[0] != '\0' ? " " : "";
        if (nd->answered) {
            lines_add(&nd->problems, "region %s at %s: %s%s%s: %s", reg, nd->url,
                      client_code_name(nd->st.code), reason, nd->st.reason, nd->st.message);
            r->n_invariant++;
        } else {
            lines_add(&nd->problems, "region ? at %s: no answer (%s%s%s: %s)", nd->url,
                      client_code_name(nd->st.code), reason, nd->st.reason, nd->st.message);
            r->n_silent++;
        }
        return;
    }
    const Gongji__V1__AuditReply *a = nd->reply;
    if (*a->region == '\0')
        lines_add(&nd->problems, "region ? at %s: the node names no region", nd->url);
    if (!a->ok && a->n_failures == 0)
        lines_add(&nd->problems, "region %s at %s: the node says not ok but names no failure",
                  reg, nd->url);
    /* The node's own verdict is checked again from its totals (SPEC §6.1), so a node
     * whose check is wrong or missing does not pass on its word alone. */
    int64_t sum;
    char b1[32], b2[32], b3[32], b4[32], b5[32];
    if (__builtin_sub_overflow(a->total_credited, a->total_paid_out, &sum) ||
        __builtin_add_overflow(sum, a->total_refunded, &sum))
        lines_add(&nd->problems,
                  "region %s at %s: totals overflow: credited %s - paid_out %s + refunded %s",
                  reg, nd->url, gj_yuan_format(a->total_credited, b1),
                  gj_yuan_format(a->total_paid_out, b2), gj_yuan_format(a->total_refunded, b3));
    else if (sum != a->total_balance)
        lines_add(&nd->problems,
                  "region %s at %s: totals do not add up: credited %s - paid_out %s + "
                  "refunded %s = %s, but balance is %s",
                  reg, nd->url, gj_yuan_format(a->total_credited, b1),
                  gj_yuan_format(a->total_paid_out, b2), gj_yuan_format(a->total_refunded, b3),
                  gj_yuan_format(sum, b4), gj_yuan_format(a->total_balance, b5));
    if (a->total_held < 0 || a->total_held > a->total_balance)
        lines_add(&nd->problems, "region %s at %s: held %s is not within 0 and balance %s", reg,
                  nd->url, gj_yuan_format(a->total_held, b1),
                  gj_yuan_format(a->total_balance, b2));
    if (!cp_index(a->coordinated, a->n_coordinated, &nd->coord, &nd->n_coord) ||
        !cp_index(a->participated, a->n_participated, &nd->part, &nd->n_part))
        r->oom = true;
    r->n_invariant += audit_node_failures(nd);
}

static audit_node *audit_node_of(audit_run *r, const char *region)
{
    if (region == NULL || *region == '\0')
        return NULL;
    for (size_t i = 0; i < r->n; i++) {
        audit_node *nd = &r->nodes[i];
        if (nd->reply != NULL && !nd->shadowed && strcmp(nd->reply->region, region) == 0)
            return nd;
    }
    return NULL;
}

static void audit_gap_add(audit_run *r, cli_cp p, const char *region)
{
    for (size_t i = 0; i < r->n_gaps; i++)
        if (strcmp(r->gaps[i].region, region) == 0) {
            r->gaps[i].payments++;
            return;
        }
    if (r->n_gaps == r->cap_gaps) {
        size_t cap = r->cap_gaps ? r->cap_gaps * 2 : 8;
        audit_gap *g = realloc(r->gaps, cap * sizeof *g);
        if (g == NULL) {
            r->oom = true;
            return;
        }
        r->gaps = g;
        r->cap_gaps = cap;
    }
    r->gaps[r->n_gaps++] = (audit_gap){region, 1, p->setl_id, p->leg};
}

/* A payment still being resolved is on one side only for a while: when either node has
 * work open, say so, so the operator reruns the audit before chasing the money. */
static const char *audit_in_flight(const audit_node *coordinator, const audit_node *participant,
                                   char buf[160])
{
    uint64_t d = coordinator->reply->open_decisions, h = participant->reply->open_holds;
    if (d == 0 && h == 0)
        return "";
    snprintf(buf, 160, " (maybe in flight: %llu open decision%s at the coordinator, %llu open "
                       "hold%s at the sponsor's node; rerun when both are 0)",
             (unsigned long long)d, d == 1 ? "" : "s", (unsigned long long)h, h == 1 ? "" : "s");
    return buf;
}

/* c (coordinated at ca) and p (participated at pa) are the same payment: say where they
 * differ, or count a match. */
static void audit_pair(audit_run *r, const audit_node *ca, cli_cp c, const audit_node *pa,
                       cli_cp p)
{
    char b1[32], b2[32];
    cli_sb sb = {0};
    sb_addf(&sb, "%s leg %u: %s (coordinator) and %s (participant) disagree:", c->setl_id,
            (unsigned)c->leg, audit_region(ca), audit_region(pa));
    size_t base = sb.len;
    if (c->amount != p->amount)
        sb_addf(&sb, " amount %s vs %s;", gj_yuan_format(c->amount, b1),
                gj_yuan_format(p->amount, b2));
    if (strcmp(c->sponsor_psn_no, p->sponsor_psn_no) != 0)
        sb_addf(&sb, " sponsor_psn_no %s vs %s;", c->sponsor_psn_no, p->sponsor_psn_no);
    if (strcmp(c->sponsor_admdvs, p->sponsor_admdvs) != 0)
        sb_addf(&sb, " sponsor_admdvs %s vs %s;", c->sponsor_admdvs, p->sponsor_admdvs);
    if (strcmp(c->beneficiary_admdvs, p->beneficiary_admdvs) != 0)
        sb_addf(&sb, " beneficiary_admdvs %s vs %s;", c->beneficiary_admdvs,
                p->beneficiary_admdvs);
    if (!sb.oom && sb.len == base) {
        free(sb.s);
        r->matched++;
        return;
    }
    if (!sb.oom)
        sb.s[--sb.len] = '\0'; /* the last ';' */
    lines_take(&r->cross_fail, &sb);
}

/* SPEC §6.3 across the audited nodes: each cross-region payment once on both sides. */
static void audit_cross(audit_run *r)
{
    /* One node per region; a second one answering for a region is itself a failure. */
    for (size_t i = 0; i < r->n; i++) {
        audit_node *nd = &r->nodes[i];
        if (nd->reply == NULL)
            continue;
        audit_node *first = audit_node_of(r, nd->reply->region);
        if (first != NULL && first != nd) {
            nd->shadowed = true;
            lines_add(&nd->problems,
                      "region %s at %s: %s answered for the same region; only that one is "
                      "cross-checked",
                      audit_region(nd), nd->url, first->url);
            r->n_invariant++;
        }
    }
    char b1[32], fl[160];
    for (size_t i = 0; i < r->n; i++) {
        audit_node *a = &r->nodes[i];
        if (a->reply == NULL || a->shadowed)
            continue;
        const char *ra = audit_region(a);
        /* Coordinated here: the sponsor's node must have posted it, exactly once. */
        for (size_t k = 0; k < a->n_coord; k++) {
            cli_cp c = a->coord[k];
            if (strcmp(c->beneficiary_admdvs, a->reply->region) != 0)
                lines_add(&r->cross_fail,
                          "%s leg %u: coordinated at %s, but names beneficiary region %s",
                          c->setl_id, (unsigned)c->leg, ra, c->beneficiary_admdvs);
            audit_node *b = audit_node_of(r, c->sponsor_admdvs);
            if (b == NULL) {
                audit_gap_add(r, c, c->sponsor_admdvs);
                continue;
            }
            size_t count;
            cli_cp p = cp_find(b->part, b->n_part, c->setl_id, c->leg, &count);
            if (count == 0)
                lines_add(&r->cross_fail,
                          "%s leg %u: coordinated at %s (sponsor %s of %s, %s), missing at %s%s",
                          c->setl_id, (unsigned)c->leg, ra, c->sponsor_psn_no,
                          c->sponsor_admdvs, gj_yuan_format(c->amount, b1), audit_region(b),
                          audit_in_flight(a, b, fl));
            else if (count > 1)
                lines_add(&r->cross_fail, "%s leg %u: coordinated once at %s, but %zu times at %s",
                          c->setl_id, (unsigned)c->leg, ra, count, audit_region(b));
            else
                audit_pair(r, a, c, b, p);
        }
        /* Posted here for another region: its coordinator must list it, exactly once. */
        for (size_t k = 0; k < a->n_part; k++) {
            cli_cp p = a->part[k];
            audit_node *b = audit_node_of(r, p->beneficiary_admdvs);
            if (b == NULL) {
                audit_gap_add(r, p, p->beneficiary_admdvs);
                continue;
            }
            size_t count;
            cli_cp c = cp_find(b->coord, b->n_coord, p->setl_id, p->leg, &count);
            if (count == 0)
                lines_add(&r->cross_fail,
                          "%s leg %u: participated at %s (sponsor %s, %s, for %s), missing at %s%s",
                          p->setl_id, (unsigned)p->leg, ra, p->sponsor_psn_no,
                          gj_yuan_format(p->amount, b1), p->beneficiary_admdvs, audit_region(b),
                          audit_in_flight(b, a, fl));
            else if (count > 1)
                lines_add(&r->cross_fail, "%s leg %u: participated once at %s, but %zu times at %s",
                          p->setl_id, (unsigned)p->leg, ra, count, audit_region(b));
            else if (audit_node_of(r, c->sponsor_admdvs) != a)
                /* Compared above only when the coordinator's entry leads here. */
                lines_add(&r->cross_fail,
                          "%s leg %u: participated at %s, but %s lists sponsor region %s",
                          p->setl_id, (unsigned)p->leg, ra, audit_region(b), c->sponsor_admdvs);
        }
    }
    size_t mismatches = lines_count(&r->cross_fail);
    r->n_invariant += mismatches;
    for (size_t i = 0; i < r->n_gaps; i++) {
        const audit_gap *g = &r->gaps[i];
        const char *region = *g->region != '\0' ? g->region : "\"\"";
        cli_lines *l = r->strict ? &r->cross_fail : &r->cross_note;
        lines_add(l, "region %s not audited: %llu cross-region payment%s with it not checked "
                     "(e.g. %s leg %u)%s",
                  region, (unsigned long long)g->payments, g->payments == 1 ? "" : "s",
                  g->setl_id, (unsigned)g->leg,
                  r->n_silent > 0 ? "; a node that did not answer may serve it" : "");
    }
    if (r->strict)
        r->n_gap_fail = lines_count(&r->cross_fail) - mismatches;
}

static cJSON *j_cross_payment(cli_cp p)
{
    cJSON *o = cJSON_CreateObject();
    j_text(o, "setl_id", p->setl_id);
    j_u64(o, "leg", p->leg);
    j_text(o, "sponsor_psn_no", p->sponsor_psn_no);
    j_text(o, "sponsor_admdvs", p->sponsor_admdvs);
    j_text(o, "beneficiary_admdvs", p->beneficiary_admdvs);
    j_amount(o, "amount", p->amount);
    return o;
}

static cJSON *j_cross_payments(Gongji__V1__CrossPayment **v, size_t n)
{
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; a != NULL && i < n; i++)
        cJSON_AddItemToArray(a, v[i] != NULL ? j_cross_payment(v[i]) : cJSON_CreateNull());
    return a;
}

static cJSON *j_lines(const cli_lines *l, cJSON *a)
{
    for (size_t i = 0; a != NULL && i < l->n; i++) {
        char *t = cli_clean(l->v[i], true);
        cJSON_AddItemToArray(a, cJSON_CreateString(t != NULL ? t : ""));
        free(t);
    }
    if (a != NULL && l->lost > 0) {
        char buf[96];
        snprintf(buf, sizeof buf, "%zu more line%s lost: out of memory", l->lost,
                 l->lost == 1 ? "" : "s");
        cJSON_AddItemToArray(a, cJSON_CreateString(buf));
    }
    return a;
}

static cJSON *j_audit_node(const audit_node *nd)
{
    cJSON *o = cJSON_CreateObject();
    const Gongji__V1__AuditReply *a = nd->reply;
    j_text(o, "url", nd->url);
    cJSON_AddBoolToObject(o, "answered", nd->answered);
    if (a == NULL) {
        if (nd->answered && nd->st.served_by[0] != '\0')
            j_text(o, "region", nd->st.served_by);
        else
            cJSON_AddNullToObject(o, "region");
        cJSON_AddBoolToObject(o, "ok", false);
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "code", client_code_name(nd->st.code));
        j_text(e, "reason", nd->st.reason);
        j_text(e, "message", nd->st.message);
        j_add(o, "error", e);
        j_add(o, "failures", j_lines(&nd->problems, cJSON_CreateArray()));
        return o;
    }
    j_text(o, "region", a->region);
    cJSON_AddBoolToObject(o, "ok", a->ok);
    cJSON_AddNullToObject(o, "error");
    j_add(o, "failures", j_lines(&nd->problems, j_strings(a->failures, a->n_failures)));
    j_amount(o, "total_balance", a->total_balance);
    j_amount(o, "total_held", a->total_held);
    j_amount(o, "total_credited", a->total_credited);
    j_amount(o, "total_paid_out", a->total_paid_out);
    j_amount(o, "total_refunded", a->total_refunded);
    j_u64(o, "accounts", a->accounts);
    j_u64(o, "open_holds", a->open_holds);
    j_u64(o, "open_decisions", a->open_decisions);
    j_add(o, "coordinated", j_cross_payments(a->coordinated, a->n_coordinated));
    j_add(o, "participated", j_cross_payments(a->participated, a->n_participated));
    return o;
}

static void h_lines(const char *label, const cli_lines *l)
{
    for (size_t i = 0; i < l->n; i++)
        h_text(label, l->v[i]);
    if (l->lost > 0)
        printf(H_LABEL "%zu more line%s lost: out of memory\n", label, l->lost,
               l->lost == 1 ? "" : "s");
}

static void h_audit_node(const audit_node *nd)
{
    const Gongji__V1__AuditReply *a = nd->reply;
    char *reg = cli_clean(audit_region(nd), false);
    char *url = cli_clean(nd->url, false);
    printf("== %s at %s: %s\n", reg ? reg : "?", url ? url : "?",
           a == NULL ? (nd->answered ? "error" : "no answer")
                     : (audit_node_failures(nd) == 0 && a->ok ? "ok" : "FAILED"));
    free(reg);
    free(url);
    if (a != NULL) {
        h_text("region", a->region);
        h_bool("ok", a->ok);
        h_amount("total_balance", a->total_balance);
        h_amount("total_held", a->total_held);
        h_amount("total_credited", a->total_credited);
        h_amount("total_paid_out", a->total_paid_out);
        h_amount("total_refunded", a->total_refunded);
        h_u64("accounts", a->accounts);
        h_u64("open_holds", a->open_holds);
        h_u64("open_decisions", a->open_decisions);
        h_u64("coordinated", a->n_coordinated);
        h_u64("participated", a->n_participated);
        for (size_t i = 0; i < a->n_failures; i++)
            h_text("failure", a->failures[i]);
    }
    h_lines("failure", &nd->problems);
}

/* The exit code: 1 for any broken invariant or error answer; else 3 when a node was
 * silent (it may be the region a --strict gap names); else 1 for --strict gaps. */
static int audit_exit(const audit_run *r)
{
    if (r->oom || r->n_invariant > 0)
        return CLI_EXIT_NODE;
    if (r->n_silent > 0)
        return CLI_EXIT_NOANSWER;
    return r->n_gap_fail > 0 ? CLI_EXIT_NODE : CLI_EXIT_OK;
}

static int audit_out(cli_ctx *x, audit_run *r)
{
    size_t failures = lines_count(&r->cross_fail);
    for (size_t i = 0; i < r->n; i++)
        failures += audit_node_failures(&r->nodes[i]);
    int rc = audit_exit(r);
    if (r->oom)
        fputs("gongji: out of memory: the audit is incomplete\n", stderr);
    if (x->json) {
        cJSON *o = cJSON_CreateObject();
        cJSON *nodes = cJSON_CreateArray();
        for (size_t i = 0; nodes != NULL && i < r->n; i++)
            cJSON_AddItemToArray(nodes, j_audit_node(&r->nodes[i]));
        j_add(o, "nodes", nodes);
        if (r->cluster) {
            cJSON *c = cJSON_CreateObject();
            j_u64(c, "matched", r->matched);
            j_add(c, "failures", j_lines(&r->cross_fail, cJSON_CreateArray()));
            j_add(c, "notes", j_lines(&r->cross_note, cJSON_CreateArray()));
            j_add(o, "cross", c);
        } else {
            cJSON_AddNullToObject(o, "cross");
        }
        j_u64(o, "failure_count", failures);
        cJSON_AddBoolToObject(o, "ok", rc == CLI_EXIT_OK);
        int jrc = j_emit(o);
        return jrc != CLI_EXIT_OK ? jrc : rc;
    }
    for (size_t i = 0; i < r->n; i++)
        h_audit_node(&r->nodes[i]);
    if (r->cluster) {
        puts("== cross-region");
        printf(H_LABEL "%llu\n", "matched", (unsigned long long)r->matched);
        h_lines("failure", &r->cross_fail);
        h_lines("note", &r->cross_note);
        printf("audit: %zu node%s, %llu cross-region payment%s matched, %zu failure%s\n", r->n,
               r->n == 1 ? "" : "s", (unsigned long long)r->matched,
               r->matched == 1 ? "" : "s", failures, failures == 1 ? "" : "s");
    } else {
        printf("audit: 1 node, cross-region payments not checked (use --cluster), "
               "%zu failure%s\n",
               failures, failures == 1 ? "" : "s");
    }
    return rc;
}

/* --cluster: one node's call, on its own thread. Touches only *nd. */
static void *audit_call_node(void *arg)
{
    audit_node *nd = arg;
    Gongji__V1__AuditRequest req = GONGJI__V1__AUDIT_REQUEST__INIT;
    ProtobufCMessage *m = NULL;
    gj_err e = client_call(nd->client, nd->method, nd->call_id, "", &req.base,
                           &gongji__v1__audit_reply__descriptor, &m, &nd->st);
    nd->answered = e == GJ_OK;
    if (e == GJ_OK && nd->st.code == GONGJI__V1__CODE__OK && m != NULL)
        nd->reply = (Gongji__V1__AuditReply *)m;
    else if (m != NULL)
        protobuf_c_message_free_unpacked(m, NULL);
    return NULL;
}

/* Call every node at once, so silent nodes cost one --timeout in all, not one each. A
 * node whose thread cannot start is called from here instead. */
static void audit_call_cluster(audit_run *r)
{
    pthread_t *tids = calloc(r->n, sizeof *tids);
    bool *started = calloc(r->n, sizeof *started);
    pthread_attr_t attr;
    bool have_attr = pthread_attr_init(&attr) == 0;
    if (have_attr)
        pthread_attr_setstacksize(&attr, 1024 * 1024); /* a call needs little; 256 of them */
    for (size_t i = 0; tids != NULL && started != NULL && i < r->n; i++)
        started[i] = pthread_create(&tids[i], have_attr ? &attr : NULL, audit_call_node,
                                    &r->nodes[i]) == 0;
    for (size_t i = 0; i < r->n; i++) {
        if (tids != NULL && started != NULL && started[i])
            pthread_join(tids[i], NULL);
        else
            audit_call_node(&r->nodes[i]);
    }
    if (have_attr)
        pthread_attr_destroy(&attr);
    free(started);
    free(tids);
}

/* --cluster: the listed URLs, each once; every one opened before any is called, so a
 * bad URL is a usage error before anything is printed. */
static int audit_open_cluster(cli_ctx *x, audit_run *r, char **urls, size_t n)
{
    if (n > CLI_CLUSTER_MAX)
        return cli_usage(x, "--cluster lists %zu nodes; at most %d", n, CLI_CLUSTER_MAX);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < i; j++)
            if (strcmp(urls[i], urls[j]) == 0) {
                char *t = cli_clean(urls[i], false);
                int rc = cli_usage(x, "--cluster lists '%s' twice", t ? t : "?");
                free(t);
                return rc;
            }
    r->nodes = calloc(n, sizeof *r->nodes);
    if (r->nodes == NULL)
        return cli_usage(x, "out of memory");
    r->n = n;
    for (size_t i = 0; i < n; i++) {
        audit_node *nd = &r->nodes[i];
        nd->url = urls[i];
        int rc = cli_open_client(x, nd->url, " in --cluster", &nd->client);
        if (rc >= 0)
            return rc;
        nd->method = x->cmd->method;
        /* Made here: the client's fallback id source is not for concurrent use. */
        if (x->call_id != NULL) {
            nd->call_id = x->call_id;
        } else {
            client_new_call_id(nd->call_id_buf);
            nd->call_id = nd->call_id_buf;
        }
    }
    return CLI_EXIT_OK;
}

static int run_audit(cli_ctx *x)
{
    audit_run r = {.cluster = x->val[O_CLUSTER] != NULL, .strict = x->seen[O_STRICT]};
    audit_node single = {0};
    char *list = NULL, **urls = NULL;
    size_t n_urls = 0;
    int rc;
    if (!r.cluster) {
        if (r.strict)
            return cli_usage(x, "--strict needs --cluster: it is about regions not audited");
        ProtobufCMessage *m;
        Gongji__V1__AuditRequest req = GONGJI__V1__AUDIT_REQUEST__INIT;
        rc = cli_call(x, x->call_id, &req.base, &gongji__v1__audit_reply__descriptor, &m);
        if (rc != CLI_EXIT_OK)
            return rc;
        single.url = x->node;
        single.reply = (Gongji__V1__AuditReply *)m;
        single.answered = true;
        r.nodes = &single;
        r.n = 1;
    } else {
        /* Each node answers for itself: forwarding would audit some other node. */
        if (x->val[O_REGION] != NULL)
            return cli_usage(x, "--region cannot be used with --cluster: list the nodes instead");
        if ((rc = cli_split(x, O_CLUSTER, "URL", &list, &urls, &n_urls)) != CLI_EXIT_OK)
            return rc;
        if ((rc = audit_open_cluster(x, &r, urls, n_urls)) != CLI_EXIT_OK)
            goto done;
        audit_call_cluster(&r);
    }
    for (size_t i = 0; i < r.n; i++)
        audit_check_node(&r, &r.nodes[i]);
    if (r.cluster)
        audit_cross(&r);
    rc = audit_out(x, &r);

done:
    for (size_t i = 0; i < r.n; i++) {
        audit_node *nd = &r.nodes[i];
        if (nd->reply != NULL)
            protobuf_c_message_free_unpacked(&nd->reply->base, NULL);
        client_close(nd->client);
        lines_free(&nd->problems);
        free(nd->coord);
        free(nd->part);
    }
    if (r.nodes != &single)
        free(r.nodes);
    lines_free(&r.cross_fail);
    lines_free(&r.cross_note);
    free(r.gaps);
    free(urls);
    free(list);
    return rc;
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
    {O_SPONSOR_REGION, false, "sponsor's region (default: the node's region)"},
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
    {O_INSUPLC_ADMDVS, false, "the patient's home region (default: the node's)"},
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
static const cli_cmd_opt revoke_opts[] = {
    {O_SETL_ID, true, "the settlement to revoke; its first 6 digits name its region"},
    {O_NONE, false, NULL},
};
static const cli_cmd_opt reverse_opts[] = {
    {O_ORIGINAL_CALL_ID, true, "the --call-id of the settle or premium to undo"},
    {O_INSUPLC_ADMDVS, false, "the patient's home region (default: the node's)"},
    {O_NONE, false, NULL},
};
static const cli_cmd_opt premium_opts[] = {
    {O_SPONSOR, true, "psn_no of the employee whose account pays"},
    {O_BENEFICIARY, true, "psn_no of the resident-insured (390) relative"},
    {O_AMOUNT, true, "yuan of the premium, at most two decimals"},
    {O_SPONSOR_REGION, false, "sponsor's region (default: as the binding says)"},
    {O_INSUPLC_ADMDVS, false, "the beneficiary's home region (default: the node's)"},
    {O_YEAR, false, "the insurance year paid for (default: the node decides)"},
    {O_NONE, false, NULL},
};
static const cli_cmd_opt settlements_opts[] = {
    {O_PSN_NO, true, "the patient whose settlements to list"},
    {O_FROM, false, "first day (YYYY-MM-DD or YYYYMMDD; default: the start)"},
    {O_TO, false, "last day, inclusive (default: today)"},
    {O_PAGE_SIZE, false, "settlements per page (default: the node's, 50)"},
    {O_PAGE_TOKEN, false, "continue from a previous page's next_page_token"},
    {O_ALL, false, "follow every page and print them together"},
    {O_NONE, false, NULL},
};
static const cli_cmd_opt window_opts[] = {
    {O_WINDOW, false, "the clearing window, YYYY-MM-DD (default: the current one)"},
    {O_NONE, false, NULL},
};
static const cli_cmd_opt reconcile_opts[] = {
    {O_PEER, true, "the other region, 6 digits"},
    {O_WINDOW, true, "the clearing window, YYYY-MM-DD or YYYYMMDD"},
    {O_NONE, false, NULL},
};
static const cli_cmd_opt no_opts[] = {
    {O_NONE, false, NULL},
};
static const cli_cmd_opt audit_opts[] = {
    {O_CLUSTER, false, "audit these nodes and match them (--node is ignored)"},
    {O_STRICT, false, "with --cluster: a counterpart region not listed fails"},
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
     "End a binding; the answer shows the first day it no longer pays (end_date).\n"
     "The sponsor's node decides: give --sponsor-region when the sponsor lives in\n"
     "another region than the node called.",
     unbind_opts,
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
     "order; the rest is psn_cash_pay, paid another way. Institutions (with their\n"
     "certificate) and the region's operators may. The patient's home node coordinates: give\n"
     "--insuplc-admdvs for a patient from another region and the node called\n"
     "passes the bill there.",
     settle_opts,
     "gongji --cert institution-H43010000001.pem settle \\\n"
     "      --psn-no 43010000000000000002 --amount 120.50 --use outpatient \\\n"
     "      --institution H43010000001",
     run_settle},
    {"revoke", "give back every fen of a settlement", "gongji.v1.Settlement/Revoke",
     "Revoke a committed settlement or premium (national 2208): every fen goes back\n"
     "to the account it came from, the patient's own (acct_refund) and each\n"
     "sponsor's, on every node. The node called passes the revoke to the region in\n"
     "the first 6 digits of the setl_id, which coordinated it. The institution\n"
     "that settled (or the region's operator) may. Revoking twice is refused\n"
     "(ALREADY_REVOKED); a retry after exit 3 needs the same --call-id.",
     revoke_opts,
     "gongji --cert institution-H43010000001.pem \\\n"
     "      --call-id revoke-0001 revoke --setl-id 430100-20261122-000001-0000000001",
     run_revoke},
    {"reverse", "undo a settle or premium whose answer never came",
     "gongji.v1.Settlement/Reverse",
     "Undo a settle or premium by its own call id (national 2601), when it ended\n"
     "with exit 3 and you cannot know whether it happened. Call with the same\n"
     "certificate as the original: call ids belong to their caller. Institutions\n"
     "and the region's operators may. The answer's outcome is one of\n"
     "  revoked            it had committed; now revoked, every fen returned (the\n"
     "                     revoke's details follow)\n"
     "  aborted_in_flight  it was being decided; it will fail and move nothing\n"
     "  tombstoned         the node never saw it; if it arrives later it is refused\n"
     "The reverse needs a call id of its own, not the original's; to retry a\n"
     "reverse safely, give it one with --call-id. Give --insuplc-admdvs for a\n"
     "patient from another region, as for settle.",
     reverse_opts,
     "gongji --cert institution-H43010000001.pem --call-id rev-bill-1 \\\n"
     "      reverse --original-call-id bill-1 --insuplc-admdvs 430100",
     run_reverse},
    {"premium", "pay a relative's resident premium from a sponsor's account",
     "gongji.v1.Settlement/PayPremium",
     "Pay a bound resident-insured (390) relative's annual premium from the\n"
     "sponsor's account, all or nothing. The beneficiary's home node coordinates:\n"
     "give --insuplc-admdvs for a beneficiary from another region. Nodes take this\n"
     "from the region's operator, or from the sponsor through the platform's\n"
     "certificate (--role person --caller <sponsor>).",
     premium_opts,
     "gongji --call-id premium-2027-0001 premium --sponsor 43010000000000000001 \\\n"
     "      --beneficiary 43010000000000000004 --amount 380 --year 2027",
     run_premium},
    {"records", "list what relatives spent from a sponsor's account",
     "gongji.v1.Settlement/Records",
     "List spend records of a sponsor's account: which relative spent how much,\n"
     "when, and on what.",
     records_opts, "gongji records --psn-no 43010000000000000001 --from 2026-01-01 --all",
     run_records},
    {"settlements", "list a patient's settlements and who paid what",
     "gongji.v1.Settlement/SettlementRecords",
     "List the patient's settlements, one line each: amount, own account\n"
     "(acct_pay), sponsors (acct_mulaid_pay), cash, and the day it was revoked if it\n"
     "was. Each sponsor's part is an indented line below, its amount under\n"
     "acct_mulaid_pay. Nodes take this from an operator or the patient themself.",
     settlements_opts,
     "gongji settlements --psn-no 43010000000000000002 --from 2026-01-01 --all",
     run_settlements},
    {"clearing", "show what regions owe each other in a window",
     "gongji.v1.Clearing/ClearingTotals",
     "Show the clearing totals of a window (national 3201): per counterparty region\n"
     "what it owes us (its sponsors paid for our people) and what we owe it, with\n"
     "counts and the net (owed_to_us - we_owe); then the cross-province pairs\n"
     "rolled up by 2-digit province; and whether the window is closed. Windows are\n"
     "named by date; without --window, the current one: the first not closed from\n"
     "the node's business date on. Only operators may ask.",
     window_opts, "gongji clearing --window 2026-11-22", run_clearing},
    {"close-window", "close a clearing window for good", "gongji.v1.Clearing/CloseWindow",
     "Close a clearing window. A closed window never changes; later payments fall\n"
     "into the next open one. Prints the window's totals as 'clearing' does.\n"
     "Closing a closed window again is harmless, but without --window the current\n"
     "window is whichever is open at the time: a second run closes the next one.\n"
     "Give --window, or retry with the same --call-id.",
     window_opts, "gongji --call-id close-20261122 close-window --window 2026-11-22",
     run_close_window},
    {"reconcile", "compare a window's clearing with another region's node",
     "gongji.v1.Clearing/Reconcile",
     "Compare a clearing window with the peer region's node, row by row (national\n"
     "3202): agree yes/no, our count and net (what the peer owes us), their count\n"
     "and net as the peer sees it, and each setl_id the two disagree on. Exit 0\n"
     "when they agree, 1 when they do not (the figures are printed all the same)\n"
     "or when the node answered an error.",
     reconcile_opts, "gongji reconcile --peer 430200 --window 2026-11-22", run_reconcile},
    {"health", "show a node's state", "gongji.v1.Operator/Health",
     "Show the node's region, version, business date and counters.", no_opts,
     "gongji --node tcp://10.0.0.5:7100 health --json", run_health},
    {"audit", "check ledger invariants of a node or a cluster", "gongji.v1.Operator/Audit",
     "Check the invariants of SPEC §6. Without --cluster, ask --node for its audit:\n"
     "totals, open holds and decisions, and each failure it finds. The CLI checks\n"
     "credited - paid_out + refunded = balance and 0 <= held <= balance itself.\n"
     "With --cluster, audit every listed node (a silent one fails), then match the\n"
     "cross-region payments: each one a node coordinated must be posted exactly once\n"
     "by the sponsor region's node, with the same setl_id, leg, sponsor and amount,\n"
     "and each one posted must be coordinated exactly once by the beneficiary\n"
     "region's node. A counterpart region not listed is a note; with --strict it is\n"
     "a failure. Exit 0 when all holds, 1 when anything fails, 3 when nothing fails\n"
     "but a node did not answer.",
     audit_opts,
     "gongji audit --cluster tcp://127.0.0.1:7101,tcp://127.0.0.1:7102 --strict",
     run_audit},
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
        cli_list_names(f, gj_relation_name, GJ_REL_MAX, 31, 31);
        fputc('\n', f);
    } else if (id == O_USE) {
        fprintf(f, "  %-23s USE: ", "");
        cli_list_names(f, gj_use_name, GJ_USE_MAX, 31, 31);
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
        fprintf(f, "  %-13s %s\n", cli_cmds[i].name, cli_cmds[i].summary);
    fprintf(f, "  %-13s %s\n", "help", "show help for a command (gongji help settle)");
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

    x->caller = x->val[O_CALLER];
    if (x->caller != NULL && *x->caller == '\0')
        return cli_usage(x, "--caller needs a value");
    if (x->caller == NULL && !gj_url_is_tls(x->node))
        x->caller = CLI_DEFAULT_CALLER; /* plaintext: nothing says who else */

    static const struct {
        int id;
        const char *env;
    } files[] = {{O_CA, "GONGJI_CA"}, {O_CERT, "GONGJI_CERT"}, {O_KEY, "GONGJI_KEY"}, {O_CRL, "GONGJI_CRL"}};
    const char *paths[4];
    for (int i = 0; i < 4; i++) {
        const char *e = getenv(files[i].env);
        paths[i] = x->val[files[i].id] != NULL ? x->val[files[i].id] : (e != NULL && *e != '\0') ? e : NULL;
        if (paths[i] != NULL && *paths[i] == '\0')
            return cli_usage(x, "--%s needs a file", cli_optdefs[files[i].id].name);
    }
    x->cred_files = (gj_cred_files){paths[0], paths[1], paths[2], paths[3]};

    x->role = 0;
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
        else if (strcmp(r, "platform") == 0)
            x->role = GONGJI__V1__ROLE__PLATFORM;
        else
            return cli_usage(x, "bad --role: give operator, institution, person, peer or platform");
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
    gj_cred_free(x->cred);
    fflush(stdout);
    return rc;
}
