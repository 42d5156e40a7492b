/* Parsing the institution's 3202 detail file and comparing it with gongji's rows. */
#include "detail.h"

#include <stdlib.h>
#include <string.h>

#include "gj_util.h"

gw_detail_row *gw_detail_add(gw_detail *d, gw_failure *why)
{
    if (d->count == d->room) {
        size_t room = d->room ? d->room * 2 : 256;
        if (room > GW_DETAIL_ROWS_MAX)
            room = GW_DETAIL_ROWS_MAX;
        gw_detail_row *grown = d->count < room ? realloc(d->rows, room * sizeof *grown) : NULL;
        if (grown == NULL) {
            gw_fail(why, "RESOURCE_EXHAUSTED", "DETAIL_TOO_LONG",
                    "a detail reconciliation covers at most %d settlements: reconcile a shorter window",
                    GW_DETAIL_ROWS_MAX);
            return NULL;
        }
        d->rows = grown;
        d->room = room;
    }
    gw_detail_row *r = &d->rows[d->count++];
    memset(r, 0, sizeof *r);
    return r;
}

void gw_detail_free(gw_detail *d)
{
    free(d->rows);
    memset(d, 0, sizeof *d);
}

/* Next tab-separated field of a line (moves *p past it). */
static char *next_field(char **p)
{
    char *start = *p, *tab = start != NULL ? strchr(start, '\t') : NULL;
    if (tab != NULL) {
        *tab = '\0';
        *p = tab + 1;
    } else {
        *p = NULL;
    }
    return start;
}

int gw_detail_parse(char *text, gw_detail *d, gw_failure *why)
{
    if ((unsigned char)text[0] == 0xEF && (unsigned char)text[1] == 0xBB && (unsigned char)text[2] == 0xBF)
        text += 3; /* a byte order mark */
    unsigned line = 0;
    for (char *next = text; next != NULL && *next != '\0';) {
        char *row = next, *nl = strchr(row, '\n');
        next = nl != NULL ? nl + 1 : NULL;
        if (nl != NULL)
            *nl = '\0';
        line++;
        size_t n = strlen(row);
        if (n > 0 && row[n - 1] == '\r')
            row[--n] = '\0';
        if (n == 0 || (line == 1 && strncmp(row, "setl_id\t", 8) == 0))
            continue;
        /* The whole line, before the tabs are cut: every field goes into result.txt. */
        if (!gj_utf8_valid((const unsigned char *)row, n)) {
            gw_fail(why, "INVALID_ARGUMENT", "DETAIL_INVALID", "line %u of the detail file is not UTF-8", line);
            return -1;
        }
        char *f[8], *p = row;
        int k = 0;
        while (p != NULL && k < 8)
            f[k++] = next_field(&p);
        if (k != 7) {
            gw_fail(why, "INVALID_ARGUMENT", "DETAIL_INVALID",
                    "line %u of the detail file has %d tab-separated fields; it needs 7 (setl_id, mdtrt_id, psn_no, "
                    "medfee_sumamt, fund_pay_sumamt, acct_pay, refd_setl_flag)",
                    line, k);
            return -1;
        }
        gw_detail_row *r = gw_detail_add(d, why);
        if (r == NULL)
            return -1;
        r->line = line;
        if (!gj_strcpy_fit(r->setl_id, sizeof r->setl_id, f[0]) || f[0][0] == '\0' ||
            !gj_strcpy_fit(r->mdtrt_id, sizeof r->mdtrt_id, f[1]) || !gj_strcpy_fit(r->psn_no, sizeof r->psn_no, f[2])) {
            gw_fail(why, "INVALID_ARGUMENT", "DETAIL_INVALID",
                    "line %u: setl_id (1..%d), mdtrt_id (..30) or psn_no (..%d) is too long or empty", line,
                    GJ_SETL_ID_MAX, GJ_PSN_NO_MAX);
            return -1;
        }
        int64_t *money[3] = {&r->medfee, &r->fund, &r->acct_pay};
        for (int m = 0; m < 3; m++)
            if (!gj_yuan_parse(f[3 + m], money[m]) || *money[m] < 0 || *money[m] > GJ_AMOUNT_MAX) {
                gw_fail(why, "INVALID_ARGUMENT", "DETAIL_INVALID", "line %u: '%.20s' is not an amount in yuan", line,
                        f[3 + m]);
                return -1;
            }
        if (strcmp(f[6], "0") != 0 && strcmp(f[6], "1") != 0) {
            gw_fail(why, "INVALID_ARGUMENT", "DETAIL_INVALID", "line %u: refd_setl_flag is 0 or 1", line);
            return -1;
        }
        r->refund = f[6][0] == '1';
    }
    return 0;
}

static int by_setl_id(const void *a, const void *b)
{
    const gw_detail_row *x = a, *y = b;
    int c = strcmp(x->setl_id, y->setl_id);
    return c != 0 ? c : (int)x->refund - (int)y->refund;
}

int gw_detail_compare(gw_detail *theirs, gw_detail *ours, text_buf *out, unsigned counts[GW_DETAIL_RESULTS])
{
    /* An empty side has no array, and qsort may not be handed NULL even for none. */
    if (theirs->count > 1)
        qsort(theirs->rows, theirs->count, sizeof *theirs->rows, by_setl_id);
    if (ours->count > 1)
        qsort(ours->rows, ours->count, sizeof *ours->rows, by_setl_id);
    size_t i = 0, k = 0;
    char a[32], b[32], c[32];
    while (i < theirs->count || k < ours->count) {
        const gw_detail_row *t = i < theirs->count ? &theirs->rows[i] : NULL;
        const gw_detail_row *o = k < ours->count ? &ours->rows[k] : NULL;
        int order = t == NULL ? 1 : o == NULL ? -1 : strcmp(t->setl_id, o->setl_id);
        const char *memo;
        int result;
        bool refunded = order <= 0 ? t->refund : o->refund;
        if (order < 0) {
            result = GW_DETAIL_INSTITUTION_MORE, memo = "not a settlement of this institution in gongji for the window";
        } else if (order > 0) {
            result = GW_DETAIL_GONGJI_MORE, memo = o->refund ? "settled in gongji, revoked since; missing from the file"
                                                             : "settled in gongji; missing from the file";
        } else {
            /* A revoked settlement may be listed twice (the payment, then its refund). */
            const gw_detail_row *refund = i + 1 < theirs->count && !strcmp(theirs->rows[i + 1].setl_id, t->setl_id)
                                              ? &theirs->rows[i + 1] : NULL;
            bool they_refunded = refunded = t->refund || (refund != NULL && refund->refund);
            if (strcmp(t->psn_no, o->psn_no) != 0)
                result = GW_DETAIL_DIFFER, memo = "psn_no differs";
            else if (they_refunded != o->refund)
                result = GW_DETAIL_DIFFER, memo = o->refund ? "revoked in gongji, not refunded in the file"
                                                            : "refunded in the file, standing in gongji";
            else if (t->acct_pay != o->acct_pay)
                result = GW_DETAIL_DIFFER, memo = "acct_pay differs (gongji's is in the last column)";
            else
                result = GW_DETAIL_BALANCED, memo = "";
            if (refund != NULL && refund->refund && !t->refund)
                i++; /* the refund line is answered with its payment */
        }
        const gw_detail_row *who = order <= 0 ? t : o;
        text_addf(out, "%s\t%s\t%s\t%s\t%d\t%d\t%s\t%s\t%s\t%s\n", who->psn_no, order <= 0 ? t->mdtrt_id : "",
                  who->setl_id, order >= 0 ? o->msgid : "", result, (int)refunded, memo,
                  gj_yuan_format(order <= 0 ? t->medfee : 0, a), gj_yuan_format(order <= 0 ? t->fund : 0, b),
                  gj_yuan_format(order >= 0 ? o->acct_pay : 0, c));
        counts[result]++;
        if (order <= 0)
            i++;
        if (order >= 0)
            k++;
    }
    return out->oom ? -1 : 0;
}
