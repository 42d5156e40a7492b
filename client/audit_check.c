/* The audit's cross-check (audit_check.h): each node's answer judged on its own, then
 * every cross-region payment matched between the node that coordinated it and the node
 * of the sponsor who paid (SPEC §6.3). Results go into the audit_run as text lines and
 * counts; nothing is printed here. */
#include "audit_check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gj_util.h"

const char *audit_region(const audit_node *nd)
{
    if (nd->reply != NULL && nd->reply->region != NULL && *nd->reply->region != '\0')
        return nd->reply->region;
    if (nd->answered && nd->st.served_by[0] != '\0')
        return nd->st.served_by;
    return "?";
}

size_t audit_node_failures(const audit_node *nd)
{
    return (nd->reply != NULL ? nd->reply->n_failures : 0) + text_lines_count(&nd->problems);
}

static int cp_cmp(const void *a, const void *b)
{
    audit_cp x = *(const audit_cp *)a, y = *(const audit_cp *)b;
    int c = strcmp(x->setl_id, y->setl_id);
    return c != 0 ? c : (x->leg > y->leg) - (x->leg < y->leg);
}

/* Copy the non-NULL entries of v and sort them. */
static bool cp_index(Gongji__V1__CrossPayment **v, size_t n, audit_cp **out, size_t *n_out)
{
    *out = NULL;
    *n_out = 0;
    if (n == 0)
        return true;
    audit_cp *a = malloc(n * sizeof *a);
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
static audit_cp cp_find(const audit_cp *v, size_t n, const char *setl_id, uint32_t leg, size_t *count)
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
            text_lines_add(&nd->problems, "region %s at %s: %s%s%s: %s", reg, nd->url,
                           client_code_name(nd->st.code), reason, nd->st.reason, nd->st.message);
            r->n_invariant++;
        } else {
            text_lines_add(&nd->problems, "region ? at %s: no answer (%s%s%s: %s)", nd->url,
                           client_code_name(nd->st.code), reason, nd->st.reason, nd->st.message);
            r->n_silent++;
        }
        return;
    }
    const Gongji__V1__AuditReply *a = nd->reply;
    if (*a->region == '\0')
        text_lines_add(&nd->problems, "region ? at %s: the node names no region", nd->url);
    if (!a->ok && a->n_failures == 0)
        text_lines_add(&nd->problems, "region %s at %s: the node says not ok but names no failure",
                       reg, nd->url);
    /* The node's own verdict is checked again from its totals (SPEC §6.1), so a node
     * whose check is wrong or missing does not pass on its word alone. */
    int64_t sum;
    char b1[32], b2[32], b3[32], b4[32], b5[32];
    if (__builtin_sub_overflow(a->total_credited, a->total_paid_out, &sum) ||
        __builtin_add_overflow(sum, a->total_refunded, &sum))
        text_lines_add(&nd->problems,
                       "region %s at %s: totals overflow: credited %s - paid_out %s + refunded %s",
                       reg, nd->url, gj_yuan_format(a->total_credited, b1),
                       gj_yuan_format(a->total_paid_out, b2), gj_yuan_format(a->total_refunded, b3));
    else if (sum != a->total_balance)
        text_lines_add(&nd->problems,
                       "region %s at %s: totals do not add up: credited %s - paid_out %s + "
                       "refunded %s = %s, but balance is %s",
                       reg, nd->url, gj_yuan_format(a->total_credited, b1),
                       gj_yuan_format(a->total_paid_out, b2), gj_yuan_format(a->total_refunded, b3),
                       gj_yuan_format(sum, b4), gj_yuan_format(a->total_balance, b5));
    if (a->total_held < 0 || a->total_held > a->total_balance)
        text_lines_add(&nd->problems, "region %s at %s: held %s is not within 0 and balance %s", reg,
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

static void audit_gap_add(audit_run *r, audit_cp p, const char *region)
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
static void audit_pair(audit_run *r, const audit_node *ca, audit_cp c, const audit_node *pa,
                       audit_cp p)
{
    char b1[32], b2[32];
    text_buf sb = {0};
    text_addf(&sb, "%s leg %u: %s (coordinator) and %s (participant) disagree:", c->setl_id,
              (unsigned)c->leg, audit_region(ca), audit_region(pa));
    size_t base = sb.len;
    if (c->amount != p->amount)
        text_addf(&sb, " amount %s vs %s;", gj_yuan_format(c->amount, b1),
                  gj_yuan_format(p->amount, b2));
    if (strcmp(c->sponsor_psn_no, p->sponsor_psn_no) != 0)
        text_addf(&sb, " sponsor_psn_no %s vs %s;", c->sponsor_psn_no, p->sponsor_psn_no);
    if (strcmp(c->sponsor_admdvs, p->sponsor_admdvs) != 0)
        text_addf(&sb, " sponsor_admdvs %s vs %s;", c->sponsor_admdvs, p->sponsor_admdvs);
    if (strcmp(c->beneficiary_admdvs, p->beneficiary_admdvs) != 0)
        text_addf(&sb, " beneficiary_admdvs %s vs %s;", c->beneficiary_admdvs,
                  p->beneficiary_admdvs);
    if (!sb.oom && sb.len == base) {
        free(sb.s);
        r->matched++;
        return;
    }
    if (!sb.oom)
        sb.s[--sb.len] = '\0'; /* the last ';' */
    text_lines_take(&r->cross_fail, &sb);
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
            text_lines_add(&nd->problems,
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
            audit_cp c = a->coord[k];
            if (strcmp(c->beneficiary_admdvs, a->reply->region) != 0)
                text_lines_add(&r->cross_fail,
                               "%s leg %u: coordinated at %s, but names beneficiary region %s",
                               c->setl_id, (unsigned)c->leg, ra, c->beneficiary_admdvs);
            audit_node *b = audit_node_of(r, c->sponsor_admdvs);
            if (b == NULL) {
                audit_gap_add(r, c, c->sponsor_admdvs);
                continue;
            }
            size_t count;
            audit_cp p = cp_find(b->part, b->n_part, c->setl_id, c->leg, &count);
            if (count == 0)
                text_lines_add(&r->cross_fail,
                               "%s leg %u: coordinated at %s (sponsor %s of %s, %s), missing at %s%s",
                               c->setl_id, (unsigned)c->leg, ra, c->sponsor_psn_no,
                               c->sponsor_admdvs, gj_yuan_format(c->amount, b1), audit_region(b),
                               audit_in_flight(a, b, fl));
            else if (count > 1)
                text_lines_add(&r->cross_fail, "%s leg %u: coordinated once at %s, but %zu times at %s",
                               c->setl_id, (unsigned)c->leg, ra, count, audit_region(b));
            else
                audit_pair(r, a, c, b, p);
        }
        /* Posted here for another region: its coordinator must list it, exactly once. */
        for (size_t k = 0; k < a->n_part; k++) {
            audit_cp p = a->part[k];
            audit_node *b = audit_node_of(r, p->beneficiary_admdvs);
            if (b == NULL) {
                audit_gap_add(r, p, p->beneficiary_admdvs);
                continue;
            }
            size_t count;
            audit_cp c = cp_find(b->coord, b->n_coord, p->setl_id, p->leg, &count);
            if (count == 0)
                text_lines_add(&r->cross_fail,
                               "%s leg %u: participated at %s (sponsor %s, %s, for %s), missing at %s%s",
                               p->setl_id, (unsigned)p->leg, ra, p->sponsor_psn_no,
                               gj_yuan_format(p->amount, b1), p->beneficiary_admdvs, audit_region(b),
                               audit_in_flight(b, a, fl));
            else if (count > 1)
                text_lines_add(&r->cross_fail, "%s leg %u: participated once at %s, but %zu times at %s",
                               p->setl_id, (unsigned)p->leg, ra, count, audit_region(b));
            else if (audit_node_of(r, c->sponsor_admdvs) != a)
                /* Compared above only when the coordinator's entry leads here. */
                text_lines_add(&r->cross_fail,
                               "%s leg %u: participated at %s, but %s lists sponsor region %s",
                               p->setl_id, (unsigned)p->leg, ra, audit_region(b), c->sponsor_admdvs);
        }
    }
    size_t mismatches = text_lines_count(&r->cross_fail);
    r->n_invariant += mismatches;
    for (size_t i = 0; i < r->n_gaps; i++) {
        const audit_gap *g = &r->gaps[i];
        const char *region = *g->region != '\0' ? g->region : "\"\"";
        text_lines *l = r->strict ? &r->cross_fail : &r->cross_note;
        text_lines_add(l, "region %s not audited: %llu cross-region payment%s with it not checked "
                     "(e.g. %s leg %u)%s",
                       region, (unsigned long long)g->payments, g->payments == 1 ? "" : "s",
                       g->setl_id, (unsigned)g->leg,
                       r->n_silent > 0 ? "; a node that did not answer may serve it" : "");
    }
    if (r->strict)
        r->n_gap_fail = text_lines_count(&r->cross_fail) - mismatches;
}

void audit_check(audit_run *r)
{
    for (size_t i = 0; i < r->n; i++)
        audit_check_node(r, &r->nodes[i]);
    if (r->cluster)
        audit_cross(r);
}

audit_verdict audit_verdict_of(const audit_run *r)
{
    if (r->oom || r->n_invariant > 0)
        return AUDIT_FAILED;
    if (r->n_silent > 0)
        return AUDIT_SILENT;
    return r->n_gap_fail > 0 ? AUDIT_FAILED : AUDIT_PASSED;
}

void audit_release(audit_run *r)
{
    for (size_t i = 0; i < r->n; i++) {
        audit_node *nd = &r->nodes[i];
        text_lines_free(&nd->problems);
        free(nd->coord);
        free(nd->part);
        nd->coord = nd->part = NULL;
    }
    text_lines_free(&r->cross_fail);
    text_lines_free(&r->cross_note);
    free(r->gaps);
    r->gaps = NULL;
}
