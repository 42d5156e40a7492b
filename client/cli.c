/* gongji: the operator's command-line tool. One command = one call to a node (records
 * --all makes one call per page). See docs/cli.md and `gongji --help`.
 *
 * This file reads the command line: global options, the command, its options, then
 * runs it. What the tool accepts is in cli_commands.c, how it calls a node in
 * cli_call.c, how it prints in cli_output.c; each command group has a file of its own
 * (cli_people.c, cli_bind.c, cli_settle.c, cli_records.c, cli_ops.c, cli_audit.c). */
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_internal.h"
#include "gj_names.h"
#include "tls.h"

#ifndef GONGJI_VERSION
#define GONGJI_VERSION "0.1.0"
#endif

#define CLI_DEFAULT_CALLER "gongji-cli"
#define CLI_DEFAULT_TIMEOUT_MS 5000
/* An hour: longer than any sane call, and well inside nng_duration (int32 ms). */
#define CLI_TIMEOUT_MAX_MS 3600000

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
    for (size_t i = 0; i < cli_ncmds; i++)
        fprintf(f, "  %-13s %s\n", cli_cmds[i].name, cli_cmds[i].summary);
    fprintf(f, "  %-13s %s\n", "help", "show help for a command (gongji help settle)");
    fputs("\nGlobal options (before or after the command):\n", f);
    for (const cli_cmd_opt *o = cli_global_opts; o->id != O_NONE; o++)
        cli_print_opt(f, o->id, o->help);
    fputs("\nClient config: the first of --config FILE, $GONGJI_CLIENT_CONFIG,\n"
          "~/.config/gongji/client.ini and /etc/gongji/client.ini, with lines\n"
          "'key = value' for node, ca, cert, key, crl, caller, role, timeout. An option\n"
          "on the command line beats its environment variable, which beats the file.\n",
          f);
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
    for (size_t i = 0; i < cli_ncmds; i++)
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
    if ((rc = cli_apply_config(x)) >= 0 || (rc = cli_resolve_globals(x)) >= 0)
        return rc;

    rc = x->cmd->run(x);
    client_close(x->client);
    gj_cred_free(x->cred);
    for (int id = 0; id < O_COUNT; id++)
        if (x->from_config[id])
            free(x->val[id]);
    fflush(stdout);
    return rc;
}
