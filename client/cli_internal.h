/* Inside the gongji command-line tool: what its files share. The options and the
 * command table (cli_commands.c), the run state of one invocation, calling a node and
 * checking arguments (cli_call.c), and printing (cli_output.c). cli.c reads the
 * command line and runs one command; each run_* is in the file of its command group. */
#ifndef GJ_CLI_INTERNAL_H
#define GJ_CLI_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#include "client.h"
#include "textbuf.h"

#define CLI_DEFAULT_NODE "tls+tcp://127.0.0.1:7100"

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
    O_CA, O_CERT, O_KEY, O_CRL, O_CONFIG,
    /* commands */
    O_PSN_NO, O_CERTNO, O_INSUTYPE, O_REGION_CODE, O_NAME, O_STATUS, O_AMOUNT, O_MEMO,
    O_SPONSOR, O_BENEFICIARY, O_RELATION, O_SPONSOR_REGION, O_BENEFICIARY_REGION, O_SPONSORS,
    O_USE, O_INSTITUTION, O_FROM, O_TO, O_PAGE_SIZE, O_PAGE_TOKEN, O_ALL, O_DATE,
    O_INSUPLC_ADMDVS, O_CLUSTER, O_STRICT, O_SETL_ID, O_ORIGINAL_CALL_ID, O_YEAR, O_WINDOW,
    O_PEER, O_UNTIL, O_TIME, O_REAL, O_NO_ACCOUNT, O_VERIFIED, O_REASON, O_LIFT, O_TO_REGION, O_FROM_REGION,
    O_POOL, O_MEMBER_REGION, O_PROVINCE, O_CSV, O_SVG, O_FILE, O_BATCH, O_DRY_RUN, O_ENCODING,
    O_IGNORE_UNKNOWN, O_ROWS, O_COUNT
};

/* getopt_long values: above every char so they never clash with short options. */
#define CLI_OPT_VAL(id) (0x100 + (id))

typedef struct cli_optdef {
    const char *name;
    const char *arg;   /* NULL: a flag */
    bool free_text;    /* value may legitimately start with "--" */
} cli_optdef;

extern const cli_optdef cli_optdefs[O_COUNT];

typedef struct cli_cmd_opt {
    int id;
    bool required;
    const char *help;
} cli_cmd_opt;

/* Ends with O_NONE. */
extern const cli_cmd_opt cli_global_opts[];

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
    const char *config_path;  /* the client config file read, if any */
    char report_prefix[32];   /* put before a node's refusal: "line 12: " in a file run */
    struct senders *sender_pool; /* credit --file: the pool a sender's copy belongs to */
    const char *typed[4];     /* values a file's row gave: shown unmasked like the options */
    bool from_config[O_COUNT]; /* val[id] came from it (and is ours to free) */
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

extern const cli_cmd cli_cmds[];
extern const size_t cli_ncmds;

/* ---- commands (one file per group) ---- */

int run_enroll(cli_ctx *x);    /* cli_people.c */
int run_credit(cli_ctx *x);
int cli_credit_file(cli_ctx *x); /* cli_credit_file.c: credit --file */
int cli_bind_file(cli_ctx *x);   /* cli_bind_file.c: bind --file */
/* cli_import.c: open --file and map its header for kind (an imp_kind); -1 when ready
 * (*f, *r and col set), else the exit code of the usage error it printed. */
typedef struct imp_reader imp_reader;
int cli_import_open(cli_ctx *x, int kind, FILE **f, imp_reader **r, int col[8]);
int run_balance(cli_ctx *x);
int run_bind(cli_ctx *x);      /* cli_bind.c */
int run_unbind(cli_ctx *x);
int run_order(cli_ctx *x);
int run_bindings(cli_ctx *x);
int run_settle(cli_ctx *x);    /* cli_settle.c */
int run_revoke(cli_ctx *x);
int run_recover(cli_ctx *x);
int run_reverse(cli_ctx *x);
int run_premium(cli_ctx *x);
int run_records(cli_ctx *x);   /* cli_records.c */
int run_settlements(cli_ctx *x);
int run_clearing(cli_ctx *x);  /* cli_clearing.c */
int run_close_window(cli_ctx *x);
int run_reconcile(cli_ctx *x);
int run_health(cli_ctx *x);    /* cli_ops.c */
int run_set_date(cli_ctx *x);
int run_freeze(cli_ctx *x);
int run_move(cli_ctx *x);
int run_pool_create(cli_ctx *x);
int run_pool_contribute(cli_ctx *x);
int run_pool_add(cli_ctx *x);
int run_pool_close(cli_ctx *x);
int run_pool_show(cli_ctx *x);
int run_wallet_transfer(cli_ctx *x);
int run_wallet_accept(cli_ctx *x);
int run_wallet_show(cli_ctx *x);
int run_confirm_restore(cli_ctx *x);
int run_move_in(cli_ctx *x);
int run_audit(cli_ctx *x);     /* cli_audit.c */

/* ---- the call and argument checks (cli_call.c) ---- */

/* Say what is wrong with the command line, and how to get help; returns CLI_EXIT_USAGE. */
/* Fill unset global options from the client config file (cli_config.c); -1 when
 * fine, else the exit code of a usage error. */
int cli_apply_config(cli_ctx *x);
int cli_usage(const cli_ctx *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

bool cli_parse_u64(const char *s, uint64_t max, uint64_t *out);

/* Print a node's error answer on stderr (and with --json on stdout too). */
void cli_report(const cli_ctx *x, const client_status *st);

/* A client for url, with the credential when the URL is TLS (loaded once). Returns -1
 * with *out set, or an exit code after saying what is wrong. */
int cli_open_client(cli_ctx *x, const char *url, const char *where, client_t **out);

/* One call. Returns CLI_EXIT_OK with *out set (caller frees), or the exit code after
 * reporting the error. */
int cli_call(cli_ctx *x, const char *call_id, const ProtobufCMessage *req,
             const ProtobufCMessageDescriptor *desc, ProtobufCMessage **out);
/* The same for another method than the command's (a command that calls two). */
int cli_call_method(cli_ctx *x, const char *method, const char *call_id, const ProtobufCMessage *req,
                    const ProtobufCMessageDescriptor *desc, ProtobufCMessage **out);

/* --amount, and the date option id, parsed; a usage error when malformed. */
int cli_need_amount(cli_ctx *x, int64_t *fen);
int cli_need_date(cli_ctx *x, int id, int32_t *d);

/* Split option id's value, "A, B,C", into its items, blanks trimmed. On success *list
 * is a private copy that *items point into; the caller frees both. An empty item is a
 * usage error (what, e.g. "name", says what is missing in the message). */
int cli_split(cli_ctx *x, int id, const char *what, char **list, char ***items,
              size_t *n_items);

/* ---- text (cli_output.c) ---- */

/* A copy of text from the node that is safe to print: invalid UTF-8 becomes U+FFFD
 * (cJSON would otherwise emit invalid JSON); for a terminal, control characters
 * become '?' so an answer cannot drive the operator's terminal. Caller frees. */
char *cli_clean(const char *s, bool for_json);

const char *cli_date_text(int32_t d, char buf[16]);
/* "10:15:03" in China Standard Time, or "-" for 0. */
const char *cli_time_text(int64_t unix_ms, char buf[16]);
/* Lower-case proto name of an enum value ("maternal_grandparent"), or the number. */
const char *cli_enum_text(const ProtobufCEnumDescriptor *desc, int v, char buf[40]);
const char *cli_relation_text(int v, char buf[40]);
const char *cli_use_text(int v, char buf[40]);
const char *cli_status_text(int v, char buf[40]);

/* "a, b, c" wrapped before column 80; col is where the list starts, indent where
 * continuation lines start. */
void cli_list_names(FILE *f, const char *(*name)(int), int max, size_t col, size_t indent);

/* ---- human output (cli_output.c) ---- */

#define H_LABEL "%-19s "

void h_text(const char *label, const char *value);
void h_amount(const char *label, int64_t fen);
void h_date(const char *label, int32_t d);
void h_u64(const char *label, uint64_t v);
void h_bool(const char *label, bool v);
/* One line per sponsor part: "<label>  30.00  <psn_no> (<region>)". */
void h_parts(const char *label, Gongji__V1__SponsorPart **v, size_t n);

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

void table_add(cli_table *t, const char *const *row);
void table_print(cli_table *t, const char *indent);
void table_free(cli_table *t);

/* ---- JSON output (cli_output.c) ---- */

void j_text(cJSON *o, const char *name, const char *value);
void j_amount(cJSON *o, const char *name, int64_t fen);
void j_date(cJSON *o, const char *name, int32_t d);
/* Integers go out as raw text: cJSON holds numbers as double, which loses digits. */
void j_i64(cJSON *o, const char *name, int64_t v);
void j_u64(cJSON *o, const char *name, uint64_t v);
void j_add(cJSON *o, const char *name, cJSON *item);
cJSON *j_strings(char **v, size_t n);
/* Sponsor parts of a settlement, or the refunds of a revoke. */
cJSON *j_parts(Gongji__V1__SponsorPart **v, size_t n);
/* Bindings as a JSON array, or a titled table (cli_bind.c). */
cJSON *j_bindings(Gongji__V1__Binding **v, size_t n);
void h_bindings_table(const char *title, Gongji__V1__Binding **v, size_t n);
/* Print root on stdout as one line and free it. */
int j_emit(cJSON *root);

/* A node's whole audit: every page fetched and joined into one reply (*out, the
 * caller frees it). GJ_OK with *out NULL when the node answered an error (st says). */
gj_err audit_fetch(client_t *c, const char *method, const char *call_id, const char *region, uint32_t page_size,
                   Gongji__V1__AuditReply **out, client_status *st);

#endif
