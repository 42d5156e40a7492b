/* The detail file of national 3202 对明细账 and how it is compared with gongji's
 * settlements (reconcile.c fetches both and keeps the result). No I/O here: the parser
 * and the comparison are what an institution's bytes reach, so tests and the fuzzer
 * (tests/fuzz/fuzz_gateway.c) drive them directly. */
#ifndef GW_DETAIL_H
#define GW_DETAIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "envelope.h"
#include "gj_limits.h"
#include "textbuf.h"

/* One reconciliation compares at most this many settlements on each side. */
#define GW_DETAIL_ROWS_MAX 200000

/* One line of the institution's file, or one of gongji's settlements. */
typedef struct gw_detail_row {
    char setl_id[GJ_SETL_ID_MAX + 1];
    char mdtrt_id[31];
    char psn_no[GJ_PSN_NO_MAX + 1];
    char msgid[GJ_CALL_ID_MAX + 1]; /* gongji's rows */
    int64_t medfee, fund, acct_pay;
    bool refund;       /* the institution's refd_setl_flag, or gongji's "revoked" */
    unsigned line;     /* in the institution's file; 0 for gongji's */
} gw_detail_row;

typedef struct gw_detail {
    gw_detail_row *rows;
    size_t count, room;
} gw_detail;

/* Results of a comparison, the index of gw_detail_compare's counts (stmt_rslt). */
enum { GW_DETAIL_BALANCED, GW_DETAIL_GONGJI_MORE, GW_DETAIL_INSTITUTION_MORE, GW_DETAIL_DIFFER, GW_DETAIL_RESULTS };

/* A new zeroed row at the end of d; NULL with why once d holds GW_DETAIL_ROWS_MAX (or
 * memory runs out). */
gw_detail_row *gw_detail_add(gw_detail *d, gw_failure *why);

/* The institution's file (NUL-terminated text, cut up in place): per line setl_id,
 * mdtrt_id, psn_no, medfee_sumamt, fund_pay_sumamt, acct_pay, refd_setl_flag, separated
 * by tabs; blank lines, a header line, a byte order mark and CRLF endings are taken.
 * 0, or -1 with why naming the first bad line. */
int gw_detail_parse(char *text, gw_detail *d, gw_failure *why);

/* Sorts both sides by setl_id and writes result.txt, a line per settlement: psn_no,
 * mdtrt_id, setl_id, msgid, stmt_rslt (0 对平, 1 中心多, 2 医药机构多, 3 数据不一致),
 * refd_setl_flag, memo, medfee_sumamt, fund_pay_sumamt, gongji's acct_pay. counts[k]
 * counts the lines of result k. 0, or -1 when out runs out of memory. */
int gw_detail_compare(gw_detail *theirs, gw_detail *ours, text_buf *out, unsigned counts[GW_DETAIL_RESULTS]);

void gw_detail_free(gw_detail *d);

#endif
