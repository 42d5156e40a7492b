/* The checks of test_federation_crash.c, once the cluster is quiet: the audits, both
 * sides of every cross-region payment, the answers against the books, and money person
 * by person (derived from the answers and the audits, never from expected totals). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "federation_crash.h"

Gongji__V1__AuditReply *crash_audit_of(const char *region)
{
    test_node *tn = tc_node(&tc, region);
    client_t *op = tn_client(tn, "op-1", GONGJI__V1__ROLE__OPERATOR);
    if (op == NULL)
        return NULL;
    Gongji__V1__AuditReply *a = op_audit(op);
    client_close(op);
    return a;
}

static size_t count_cross(Gongji__V1__CrossPayment **list, size_t n, const char *setl_id, uint32_t leg,
                          Gongji__V1__CrossPayment **found)
{
    size_t hits = 0;
    for (size_t i = 0; i < n; i++)
        if (list[i]->leg == leg && strcmp(list[i]->setl_id, setl_id) == 0) {
            hits++;
            if (found)
                *found = list[i];
        }
    return hits;
}

static Gongji__V1__AuditReply *audit_in(Gongji__V1__AuditReply **audits, const char *region)
{
    for (size_t i = 0; i < tc.count; i++)
        if (audits[i] && strcmp(audits[i]->region, region) == 0)
            return audits[i];
    return NULL;
}

int crash_check_audits(Gongji__V1__AuditReply **audits)
{
    int failures = 0;
    for (size_t i = 0; i < tc.count; i++) {
        audits[i] = crash_audit_of(tc.nodes[i].region);
        if (audits[i] == NULL) {
            fprintf(stderr, "  FAIL %s: no audit\n", tc.nodes[i].region);
            failures++;
            continue;
        }
        Gongji__V1__AuditReply *a = audits[i];
        if (!a->ok) {
            failures++;
            fprintf(stderr, "  FAIL audit of %s:\n", a->region);
            for (size_t k = 0; k < a->n_failures; k++)
                fprintf(stderr, "    %s\n", a->failures[k]);
        }
        if (a->open_holds != 0 || a->open_decisions != 0) {
            failures++;
            fprintf(stderr, "  FAIL %s: open_holds %" PRIu64 " open_decisions %" PRIu64 "\n", a->region,
                    a->open_holds, a->open_decisions);
        }
        if (a->total_held != 0) {
            failures++;
            fprintf(stderr, "  FAIL %s: %" PRId64 " fen still held\n", a->region, a->total_held);
        }
    }
    return failures;
}

int crash_check_cross_lists(Gongji__V1__AuditReply **audits, size_t *n_coordinated, size_t *n_participated)
{
    int failures = 0;
    for (size_t i = 0; i < tc.count; i++) {
        Gongji__V1__AuditReply *a = audits[i];
        for (size_t k = 0; k < a->n_coordinated; k++) {
            Gongji__V1__CrossPayment *c = a->coordinated[k], *p = NULL;
            (*n_coordinated)++;
            if (strcmp(c->beneficiary_admdvs, a->region) != 0 ||
                count_cross(a->coordinated, a->n_coordinated, c->setl_id, c->leg, NULL) != 1) {
                failures++;
                fprintf(stderr, "  FAIL %s coordinated %s/%u listed %zu times (beneficiary region %s)\n",
                        a->region, c->setl_id, c->leg,
                        count_cross(a->coordinated, a->n_coordinated, c->setl_id, c->leg, NULL),
                        c->beneficiary_admdvs);
            }
            Gongji__V1__AuditReply *b = audit_in(audits, c->sponsor_admdvs);
            size_t hits = b ? count_cross(b->participated, b->n_participated, c->setl_id, c->leg, &p) : 0;
            if (hits != 1 || strcmp(p->sponsor_psn_no, c->sponsor_psn_no) != 0 || p->amount != c->amount ||
                strcmp(p->beneficiary_admdvs, a->region) != 0) {
                failures++;
                fprintf(stderr,
                        "  FAIL %s coordinated %s/%u %s %" PRId64 " fen: %zu matches in %s's participated "
                        "list%s%s %" PRId64 "\n",
                        a->region, c->setl_id, c->leg, c->sponsor_psn_no, c->amount, hits, c->sponsor_admdvs,
                        hits ? ", first: " : "", hits ? p->sponsor_psn_no : "", hits ? p->amount : 0);
            }
        }
        for (size_t k = 0; k < a->n_participated; k++) {
            Gongji__V1__CrossPayment *p = a->participated[k], *c = NULL;
            (*n_participated)++;
            if (strcmp(p->sponsor_admdvs, a->region) != 0 ||
                count_cross(a->participated, a->n_participated, p->setl_id, p->leg, NULL) != 1) {
                failures++;
                fprintf(stderr, "  FAIL %s participated %s/%u listed %zu times (sponsor region %s)\n",
                        a->region, p->setl_id, p->leg,
                        count_cross(a->participated, a->n_participated, p->setl_id, p->leg, NULL),
                        p->sponsor_admdvs);
            }
            Gongji__V1__AuditReply *b = audit_in(audits, p->beneficiary_admdvs);
            size_t hits = b ? count_cross(b->coordinated, b->n_coordinated, p->setl_id, p->leg, &c) : 0;
            if (hits != 1 || strcmp(c->sponsor_psn_no, p->sponsor_psn_no) != 0 || c->amount != p->amount ||
                strcmp(c->sponsor_admdvs, a->region) != 0) {
                failures++;
                fprintf(stderr,
                        "  FAIL %s participated %s/%u %s %" PRId64 " fen (posted here): %zu matches in %s's "
                        "coordinated list\n",
                        a->region, p->setl_id, p->leg, p->sponsor_psn_no, p->amount, hits, p->beneficiary_admdvs);
            }
        }
    }
    return failures;
}

int crash_check_answers(Gongji__V1__AuditReply **audits, size_t *remote_parts, size_t *local_parts, size_t *cash_only)
{
    int failures = 0;
    for (int i = 0; i < CALLS; i++) {
        call_rec *r = &recs[i];
        if (r->problem[0] != '\0') {
            failures++;
            fprintf(stderr, "  FAIL %s (%s): %s\n", r->call_id, r->setl_id, r->problem);
        }
        if (r->n_parts == 0)
            (*cash_only)++;
        Gongji__V1__AuditReply *a = audit_in(audits, coord_region[r->coord]);
        for (size_t k = 0; k < r->n_parts; k++) {
            part *pt = &r->parts[k];
            if (strcmp(pt->admdvs, coord_region[r->coord]) == 0) {
                (*local_parts)++;
                continue;
            }
            (*remote_parts)++;
            size_t hits = 0;
            for (size_t j = 0; j < a->n_coordinated; j++) {
                Gongji__V1__CrossPayment *c = a->coordinated[j];
                if (strcmp(c->setl_id, r->setl_id) == 0 && strcmp(c->sponsor_psn_no, pt->psn_no) == 0 &&
                    strcmp(c->sponsor_admdvs, pt->admdvs) == 0 && c->amount == pt->amount)
                    hits++;
            }
            if (hits != 1) {
                failures++;
                fprintf(stderr, "  FAIL %s answered %s with %s/%s paying %" PRId64 ": %zu entries in %s's "
                                "coordinated list\n",
                        r->call_id, r->setl_id, pt->psn_no, pt->admdvs, pt->amount, hits, a->region);
            }
        }
    }
    for (int k = 0; k < COORDS; k++) {
        Gongji__V1__AuditReply *a = audit_in(audits, coord_region[k]);
        for (size_t j = 0; j < a->n_coordinated; j++) {
            Gongji__V1__CrossPayment *c = a->coordinated[j];
            size_t hits = 0;
            for (int i = 0; i < CALLS; i++)
                for (size_t m = 0; m < recs[i].n_parts; m++)
                    hits += recs[i].coord == k && strcmp(recs[i].setl_id, c->setl_id) == 0 &&
                            strcmp(recs[i].parts[m].psn_no, c->sponsor_psn_no) == 0 &&
                            recs[i].parts[m].amount == c->amount;
            if (hits != 1) {
                failures++;
                fprintf(stderr, "  FAIL %s coordinated %s/%u %s %" PRId64 " fen, which no answer names\n",
                        a->region, c->setl_id, c->leg, c->sponsor_psn_no, c->amount);
            }
        }
    }
    return failures;
}

int crash_check_money(Gongji__V1__AuditReply **audits, int64_t *moved_total)
{
    int failures = 0;
    /* Money, sponsor by sponsor: what was credited less what the answers say was paid,
     * and for a sponsor paying another region, less what its own node posted. */
    for (int k = 0; k < COORDS; k++)
        for (int i = 0; i < FAMILIES; i++)
            for (int s = 0; s < 2; s++) {
                const sponsor *sp = &families[k][i].sponsors[s];
                int64_t by_answers = 0, by_books = 0;
                for (int c = 0; c < CALLS; c++)
                    for (size_t m = 0; m < recs[c].n_parts; m++)
                        if (strcmp(recs[c].parts[m].psn_no, sp->psn_no) == 0 &&
                            strcmp(recs[c].parts[m].admdvs, sp->region) == 0)
                            by_answers += recs[c].parts[m].amount;
                bool remote = strcmp(sp->region, coord_region[k]) != 0;
                if (remote) {
                    Gongji__V1__AuditReply *b = audit_in(audits, sp->region);
                    for (size_t j = 0; j < b->n_participated; j++)
                        if (strcmp(b->participated[j]->sponsor_psn_no, sp->psn_no) == 0)
                            by_books += b->participated[j]->amount;
                } else {
                    by_books = by_answers;
                }
                *moved_total += by_answers;
                client_t *op = tn_client(tc_node(&tc, sp->region), "op-1", GONGJI__V1__ROLE__OPERATOR);
                assert_non_null(op);
                int64_t held = -1;
                int64_t balance = op_balance_x(op, sp->psn_no, sp->region, &held);
                client_close(op);
                if (balance != sp->credited - by_answers || balance != sp->credited - by_books || held != 0) {
                    failures++;
                    fprintf(stderr,
                            "  FAIL sponsor %s/%s: balance %" PRId64 " held %" PRId64 "; credited %" PRId64
                            " - answered %" PRId64 " = %" PRId64 ", - posted there %" PRId64 " = %" PRId64 "\n",
                            sp->psn_no, sp->region, balance, held, sp->credited, by_answers,
                            sp->credited - by_answers, by_books, sp->credited - by_books);
                }
            }
    for (int k = 0; k < COORDS; k++)
        for (int i = 0; i < FAMILIES; i++) {
            const family *f = &families[k][i];
            if (f->own_credited == 0)
                continue;
            int64_t own_paid = 0;
            for (int c = 0; c < CALLS; c++)
                if (recs[c].coord == k && recs[c].fam == i)
                    own_paid += recs[c].acct_pay;
            client_t *op = tn_client(tc_node(&tc, coord_region[k]), "op-1", GONGJI__V1__ROLE__OPERATOR);
            assert_non_null(op);
            int64_t held = -1;
            int64_t balance = op_balance_x(op, f->beneficiary, coord_region[k], &held);
            client_close(op);
            if (balance != f->own_credited - own_paid || held != 0) {
                failures++;
                fprintf(stderr,
                        "  FAIL beneficiary %s/%s: balance %" PRId64 " held %" PRId64 "; credited %" PRId64
                        " - answered own part %" PRId64 "\n",
                        f->beneficiary, coord_region[k], balance, held, f->own_credited, own_paid);
            }
        }
    return failures;
}
