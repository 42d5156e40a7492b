/* What the gongji tool accepts: every option with its name and argument, the global
 * options, and the command table (each command's summary, method, help text, options,
 * example and the function that runs it). `gongji --help` is printed from these. */
#include "cli_internal.h"

const cli_optdef cli_optdefs[O_COUNT] = {
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
    [O_CONFIG] = {"config", "FILE", false},
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
    [O_UNTIL] = {"until", "DATE", false},
    [O_TIME] = {"time", "HH:MM:SS", false},
    [O_REAL] = {"real", NULL, false},
    [O_NO_ACCOUNT] = {"no-account", NULL, false},
    [O_VERIFIED] = {"verified", "METHOD", false},
    [O_REASON] = {"reason", "TEXT", true},
    [O_LIFT] = {"lift", NULL, false},
    [O_TO_REGION] = {"to-region", "R", false},
    [O_FROM_REGION] = {"from-region", "R", false},
    [O_POOL] = {"pool", "ID", false},
    [O_MEMBER_REGION] = {"member-region", "R", false},
    [O_PROVINCE] = {"province", NULL, false},
    [O_CSV] = {"csv", "FILE", false},
    [O_SVG] = {"svg", "FILE", false},
    [O_FILE] = {"file", "FILE", false},
    [O_BATCH] = {"batch", "NAME", false},
    [O_DRY_RUN] = {"dry-run", NULL, false},
    [O_ENCODING] = {"encoding", "ENC", false},
    [O_IGNORE_UNKNOWN] = {"ignore-unknown-columns", NULL, false},
    [O_ROWS] = {"rows", "FILE", false},
};

const cli_cmd_opt cli_global_opts[] = {
    {O_NODE, false, "default $GONGJI_NODE, else the config file's, else " CLI_DEFAULT_NODE},
    {O_CONFIG, false, "client config file (see \"Client config\" below)"},
    {O_CA, false, "federation CA certificate (default $GONGJI_CA, else config)"},
    {O_CERT, false, "your certificate, PEM (default $GONGJI_CERT, else config); it says who you are"},
    {O_KEY, false, "its private key (default $GONGJI_KEY, else config, else in --cert)"},
    {O_CRL, false, "revocation list to check the node against (default $GONGJI_CRL, else config)"},
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
    {O_PSN_NO, false, "person number (one credit)"},
    {O_AMOUNT, false, "yuan to add, at most two decimals (120, 120.5, 120.50)"},
    {O_MEMO, false, "note kept with the credit"},
    {O_FILE, false, "a credit file instead: CSV, columns row_id, psn_no, amount[, memo] (docs/import.md)"},
    {O_BATCH, false, "with --file: names the run (e.g. 2026-11); a row is known by batch:row_id"},
    {O_DRY_RUN, false, "with --file: check every row with the node, credit nothing"},
    {O_ENCODING, false, "with --file: UTF-8, GBK or GB18030 (default: found from the file)"},
    {O_IGNORE_UNKNOWN, false, "with --file: skip columns it does not know instead of refusing the file"},
    {O_NONE, false, NULL},
};
static const cli_cmd_opt psn_opts[] = {
    {O_PSN_NO, true, "person number"},
    {O_NONE, false, NULL},
};
static const cli_cmd_opt bind_opts[] = {
    {O_SPONSOR, false, "psn_no of the employee whose account pays"},
    {O_BENEFICIARY, false, "psn_no of the relative it pays for"},
    {O_RELATION, false, "the beneficiary is the sponsor's REL"},
    {O_SPONSOR_REGION, false, "sponsor's region (default: the node's region)"},
    {O_BENEFICIARY_REGION, false, "beneficiary's region (default: the node's region)"},
    {O_UNTIL, false, "the last day it pays (it stops at 24:00 of it); default: until unbound"},
    {O_VERIFIED, false, "you checked the beneficiary's identity just now (face, counter, ...)"},
    {O_FILE, false, "bindings from a CSV file instead (sponsor, beneficiary, relation[, regions, order])"},
    {O_DRY_RUN, false, "with --file: check the file, send nothing"},
    {O_ENCODING, false, "with --file: UTF-8, GBK or GB18030 (default: found from the file)"},
    {O_IGNORE_UNKNOWN, false, "with --file: skip columns it does not know"},
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
    {O_NO_ACCOUNT, false, "the accounts may not pay this bill (acct_used_flag 0): all cash"},
    {O_SPONSOR, false, "the one sponsor the patient names for this bill (where the region allows)"},
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
static const cli_cmd_opt recover_opts[] = {
    {O_SETL_ID, true, "the settlement whose mutual-aid part goes back to its sponsors"},
    {O_REASON, true, "why (kept with your operator id)"},
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
static const cli_cmd_opt clearing_opts[] = {
    {O_WINDOW, false, "a window YYYY-MM-DD, or a month YYYY-MM (default: the current window)"},
    {O_FROM, false, "first day of a range, YYYY-MM-DD (with --to; at most 366 days)"},
    {O_TO, false, "last day of the range"},
    {O_PROVINCE, false, "the province view, at a province's hub node (needs a month or range)"},
    {O_CSV, false, "also write the totals to FILE as CSV (3201 names; yuan)"},
    {O_SVG, false, "also draw the net positions to FILE as an SVG picture"},
    {O_ROWS, false, "also write every row behind the totals to FILE as CSV (3202 names: one a settlement)"},
    {O_NONE, false, NULL},
};
static const cli_cmd_opt reconcile_opts[] = {
    {O_PEER, true, "the other region, 6 digits"},
    {O_WINDOW, false, "a window YYYY-MM-DD, or a month YYYY-MM"},
    {O_FROM, false, "first day of a range, YYYY-MM-DD (with --to)"},
    {O_TO, false, "last day of the range"},
    {O_NONE, false, NULL},
};
static const cli_cmd_opt no_opts[] = {
    {O_NONE, false, NULL},
};
static const cli_cmd_opt audit_opts[] = {
    {O_CLUSTER, false, "audit these nodes and match them (--node is ignored)"},
    {O_STRICT, false, "with --cluster: a counterpart region not listed fails"},
    {O_PAGE_SIZE, false, "cross-region payments per page (default: the node's, 2000)"},
    {O_NONE, false, NULL},
};
static const cli_cmd_opt freeze_opts[] = {
    {O_SPONSOR, false, "freeze this sponsor (with --beneficiary: only that binding)"},
    {O_BENEFICIARY, false, "freeze this beneficiary (with --sponsor: only that binding)"},
    {O_REASON, false, "why (required to freeze)"},
    {O_LIFT, false, "end the freeze instead"},
    {O_NONE, false, NULL},
};
static const cli_cmd_opt pool_create_opts[] = {
    {O_PSN_NO, true, "the creator: an employee insured at this node"},
    {O_NONE, false, NULL},
};
static const cli_cmd_opt pool_contribute_opts[] = {
    {O_POOL, true, "the pool's id"},
    {O_PSN_NO, true, "who puts money in: the creator or a member, an employee insured here"},
    {O_AMOUNT, true, "yuan; the contributor keeps the region's pool_floor"},
    {O_NONE, false, NULL},
};
static const cli_cmd_opt pool_add_opts[] = {
    {O_POOL, true, "the pool's id"},
    {O_PSN_NO, true, "the new member"},
    {O_RELATION, true, "the member to the creator (spouse, child, parent, ...)"},
    {O_MEMBER_REGION, false, "the member's region, in the pool's province (default: this node's)"},
    {O_VERIFIED, false, "identity check done on the member just now (R18), e.g. face"},
    {O_NONE, false, NULL},
};
static const cli_cmd_opt pool_id_opts[] = {
    {O_POOL, true, "the pool's id"},
    {O_NONE, false, NULL},
};
static const cli_cmd_opt pool_show_opts[] = {
    {O_POOL, false, "the pool's id"},
    {O_PSN_NO, false, "or its creator (their open pool)"},
    {O_NONE, false, NULL},
};
static const cli_cmd_opt wallet_transfer_opts[] = {
    {O_SPONSOR, true, "who sends: you, through the platform"},
    {O_SPONSOR_REGION, true, "the sponsor's region"},
    {O_BENEFICIARY, true, "the relative whose wallet gets it"},
    {O_BENEFICIARY_REGION, true, "the relative's region, in another province; its node keeps the wallet"},
    {O_AMOUNT, true, "yuan; at most the sponsor region's wallet_transfer_max"},
    {O_NONE, false, NULL},
};
static const cli_cmd_opt wallet_accept_opts[] = {
    {O_PSN_NO, true, "the relative"},
    {O_SETL_ID, true, "the transfer"},
    {O_NONE, false, NULL},
};
static const cli_cmd_opt wallet_show_opts[] = {
    {O_PSN_NO, true, "the relative"},
    {O_NONE, false, NULL},
};
static const cli_cmd_opt confirm_restore_opts[] = {
    {O_MEMO, false, "what was reconciled, for the log"},
    {O_NONE, false, NULL},
};
static const cli_cmd_opt move_opts[] = {
    {O_PSN_NO, true, "the person whose insurance moves away from this node's region"},
    {O_TO_REGION, true, "the region they move to"},
    {O_NONE, false, NULL},
};
static const cli_cmd_opt move_in_opts[] = {
    {O_PSN_NO, true, "the person whose insurance moves to this node's region"},
    {O_FROM_REGION, true, "the region they come from (its operator ran move first)"},
    {O_NONE, false, NULL},
};
static const cli_cmd_opt set_date_opts[] = {
    {O_DATE, false, "the node's new business date, YYYY-MM-DD or YYYYMMDD"},
    {O_TIME, false, "and time of day, China Standard Time (default 00:00:00)"},
    {O_REAL, false, "back to the system clock"},
    {O_NONE, false, NULL},
};

const cli_cmd cli_cmds[] = {
    {"enroll", "register or update an insured person", "gongji.v1.Registry/Enroll",
     "Enroll a person in their home region, or update an enrolled person\n"
     "(bindings_ended counts the bindings the update ended).",
     enroll_opts,
     "gongji enroll --psn-no 43010000000000000001 --certno 11010519491231002X \\\n"
     "      --insutype 310 --region-code 430100 --name 张三",
     run_enroll},
    {"credit", "add money to a personal account, or a whole credit file", "gongji.v1.Registry/Credit",
     "Credit a personal account (the monthly transfer into it). With --file, every\n"
     "row of a credit file (Registry/CreditBatch, a thousand rows a call): each row\n"
     "is credited once however often the file is run, so a run cut short is run\n"
     "again as it was. Rows the file gets wrong are refused with their line and value;\n"
     "rows the node refuses come back with its reason. Exit 1 when any row was refused.",
     credit_opts,
     "gongji credit --psn-no 43010000000000000001 --amount 1000.00 \\\n"
     "      --memo '2026-11 transfer'\n"
     "  gongji credit --file credits-2026-11.csv --batch 2026-11",
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
    {"recover", "give a settlement's mutual-aid part back to its sponsors (misuse)", "gongji.v1.Settlement/Recover",
     "R21: every sponsor's part of the settlement goes back to the sponsor's account,\n"
     "exactly once on every node, as in a revoke; the patient's own part stands. For the\n"
     "operators of the region that coordinated it (its setl_id's first 6 digits).",
     recover_opts,
     "gongji recover --setl-id 430100-20261122-000001-0000000001 \\\n"
     "      --reason 'not a relative: case 2026-118'",
     run_recover},
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
    {"clearing", "show what regions owe each other in a window, a month or a range",
     "gongji.v1.Clearing/ClearingTotals",
     "Show the clearing totals (national 3201) of a window, a month (--window\n"
     "2026-11) or a range (--from, --to): per counterparty region what it owes us\n"
     "(its sponsors paid for our people) and what we owe it, with counts and the net\n"
     "(owed_to_us - we_owe); then the cross-province pairs rolled up by 2-digit\n"
     "province; and whether every day is closed. Windows are named by date; without\n"
     "--window, the current one. With --province (Clearing/ProvinceTotals), at a\n"
     "province's hub: each member\n"
     "region's totals, each pair of members as both nodes have it (they must agree),\n"
     "and each member's net within the province. --csv and --svg write the totals\n"
     "to files as well. Only operators may ask.",
     clearing_opts, "gongji clearing --window 2026-11 --csv 2026-11.csv --svg 2026-11.svg", run_clearing},
    {"close-window", "close a clearing window for good", "gongji.v1.Clearing/CloseWindow",
     "Close a clearing window. A closed window never changes; later payments fall\n"
     "into the next open one. Prints the window's totals as 'clearing' does.\n"
     "Closing a closed window again is harmless, but without --window the current\n"
     "window is whichever is open at the time: a second run closes the next one.\n"
     "Give --window, or retry with the same --call-id.",
     window_opts, "gongji --call-id close-20261122 close-window --window 2026-11-22",
     run_close_window},
    {"reconcile", "compare a window's (a month's) clearing with another region's node",
     "gongji.v1.Clearing/Reconcile",
     "Compare a clearing window, a month (--window 2026-11) or a range (--from,\n"
     "--to) with the peer region's node, row by row (national 3202): agree yes/no,\n"
     "our count and net (what the peer owes us), their count and net as the peer\n"
     "sees it, the days that differ and each setl_id the two disagree on (at most\n"
     "1000). Exit 0 when they agree, 1 when they do not (the figures are printed all\n"
     "the same) or when the node answered an error.",
     reconcile_opts, "gongji reconcile --peer 430200 --window 2026-11", run_reconcile},
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
     "but a node did not answer. A node answers in pages (the invariants with the\n"
     "first); the CLI follows them all.",
     audit_opts,
     "gongji audit --cluster tcp://127.0.0.1:7101,tcp://127.0.0.1:7102 --strict",
     run_audit},
    {"freeze", "freeze a sponsor, a beneficiary or a binding for misuse", "gongji.v1.Registry/Freeze",
     "Freeze (or with --lift, unfreeze) mutual aid for misuse (R21): a frozen sponsor pays\n"
     "no relative's bill, a frozen beneficiary's bills take nothing from any sponsor, a\n"
     "frozen binding pays nothing. Call the node of the person: the sponsor's for a\n"
     "sponsor or a binding, the beneficiary's for a beneficiary.",
     freeze_opts,
     "gongji freeze --sponsor 43010000000000000001 --beneficiary 43010000000000000002 \\\n"
     "      --reason 'card lent to a non-relative (case 2026-118)'",
     run_freeze},
    {"pool-create", "create a family pool (R20) at the creator's node", "gongji.v1.FamilyPool/Create",
     "Create a family mutual-aid account (家庭共济账户) where the region runs them\n"
     "(policy family_pool). Prints its id (POOL + region + number); one open pool per\n"
     "creator.",
     pool_create_opts, "gongji pool-create --psn-no 43010000000000000001", run_pool_create},
    {"pool-contribute", "move part of a personal account into a family pool", "gongji.v1.FamilyPool/Contribute",
     "Move money from a contributor's personal account into the pool: only the part\n"
     "above the region's pool_floor (2000 yuan in the seed). The pool keeps each\n"
     "contributor's share; members' bills draw the creator's share first. The money\n"
     "is for the members' bills, never the contributors' own.",
     pool_contribute_opts, "gongji pool-contribute --pool POOL4301000000000001 --psn-no P --amount 800",
     run_pool_contribute},
    {"pool-add", "add a member to a family pool", "gongji.v1.FamilyPool/AddMember",
     "Bind a close relative of the creator to the pool. Their bills use their own\n"
     "account first, then the pool, then their other sponsors. A member insured in\n"
     "another region of the province settles against the pool across regions.",
     pool_add_opts,
     "gongji pool-add --pool POOL4301000000000001 --psn-no P --relation child --member-region 430300",
     run_pool_add},
    {"pool-close", "close a family pool, returning every share", "gongji.v1.FamilyPool/Close",
     "Close the pool: each contributor's remaining share goes back to their personal\n"
     "account, and the members' bindings end. Refused (POOL_BUSY) while a settlement\n"
     "against it is in flight; try again a moment later.",
     pool_id_opts, "gongji pool-close --pool POOL4301000000000001", run_pool_close},
    {"pool", "show a family pool: balance, shares, members", "gongji.v1.FamilyPool/Get",
     "Show a pool by id, or a creator's open pool. Its contributors and operators may\n"
     "read it.",
     pool_show_opts, "gongji pool --psn-no 43010000000000000001", run_pool_show},
    {"wallet-transfer", "send money to a relative's wallet in another province", "gongji.v1.Wallet/Transfer",
     "R24, the cross-province wallet of the national pilot. Call the relative's node\n"
     "(--region of the relative). The sponsor's node applies its region's caps: at\n"
     "most wallet_transfer_max a transfer, wallet_transfers_per_day a day, none in the\n"
     "wallet_blackout hours; all of the amount moves, exactly once, or nothing. The\n"
     "money waits in the wallet until the relative accepts it; not accepted when the\n"
     "relative region's blackout hours begin, it goes back to the sponsor.",
     wallet_transfer_opts,
     "gongji --node tls+tcp://chengdu:7201 wallet-transfer --sponsor P --sponsor-region 420100 \\\n"
     "      --beneficiary R --beneficiary-region 510100 --amount 1500",
     run_wallet_transfer},
    {"wallet-accept", "accept a transfer into your wallet", "gongji.v1.Wallet/Accept",
     "Make a PENDING transfer the relative's to spend: their bills use the wallet after\n"
     "their own account. WALLET_TRANSFER_RETURNED once its deadline has passed.",
     wallet_accept_opts, "gongji wallet-accept --psn-no R --setl-id 510100-20270310-000001-0000000001",
     run_wallet_accept},
    {"wallet", "show a person's wallet: balance, pending transfers", "gongji.v1.Wallet/Get",
     "Show the wallet of a person insured at this node: what is in it, how much is still\n"
     "pending, and each pending transfer with when it goes back.",
     wallet_show_opts, "gongji wallet --psn-no R", run_wallet_show},
    {"confirm-restore", "let a node restored from a backup move money again", "gongji.v1.Operator/ConfirmRestore",
     "A node restored from a backup (gongji-admin restore) serves reads and the other\n"
     "regions' protocol calls, and refuses every write of its own callers\n"
     "(STORE_RESTORED): other regions may remember holds and decisions it forgot.\n"
     "Once every window since the backup is reconciled with each peer (gongji\n"
     "reconcile) and audit --cluster passes, the region's operator confirms.",
     confirm_restore_opts, "gongji confirm-restore --memo 'windows 2026-11-20..2026-12-04 reconciled'",
     run_confirm_restore},
    {"move", "let a person's insurance move to another region (old node)", "gongji.v1.Registry/Move",
     "R23, first step, at the person's old node: every binding of theirs ends (the\n"
     "nodes on the other side are told), and this node answers for them from now on\n"
     "with where they went (PERSON_MOVED). Prints the balance move-in will take.",
     move_opts, "gongji --node tls+tcp://chengdu:7201 move --psn-no P --to-region 540600", run_move},
    {"move-in", "take in a person moving from another region (new node)", "gongji.v1.Registry/MoveIn",
     "R23, second step, at the new region's node: enroll the person as the old node\n"
     "knows them and take their whole balance across, exactly once (all of it or\n"
     "nothing: run it again if the old node did not answer). Repeated afterwards, it\n"
     "answers what the move did.",
     move_in_opts, "gongji --node tls+tcp://nagqu:7203 move-in --psn-no P --from-region 510100", run_move_in},
    {"set-date", "set a node's business clock (testing only)", "gongji.v1.Operator/SetClock",
     "Set the node's business clock to a date and time of day (China Standard Time);\n"
     "it runs on from there. --real puts it back on the system clock. Testing only:\n"
     "nodes refuse it unless configured with allow_clock_override.",
     set_date_opts, "gongji set-date --date 2026-11-22 --time 23:59:30\n  gongji set-date --real", run_set_date},
};
const size_t cli_ncmds = sizeof cli_cmds / sizeof cli_cmds[0];
