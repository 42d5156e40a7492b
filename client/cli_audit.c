/* gongji audit: collect the audit answer of one node, or with --cluster of every
 * listed node at once, hand them to the check (audit_check.h) and print what it found,
 * as text or JSON, with the exit code the verdict means. */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "audit_check.h"
#include "cli_internal.h"
#include "gj_util.h"

/* audit --cluster: nodes one run may call. Twice GJ_PEERS_MAX: every node a full peer
 * table can name, and then some; each silent node costs a whole --timeout. */
#define CLI_CLUSTER_MAX 256

static cJSON *j_cross_payment(audit_cp p)
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

static cJSON *j_lines(const text_lines *l, cJSON *a)
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

static void h_lines(const char *label, const text_lines *l)
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
    switch (audit_verdict_of(r)) {
    case AUDIT_FAILED: return CLI_EXIT_NODE;
    case AUDIT_SILENT: return CLI_EXIT_NOANSWER;
    default: return CLI_EXIT_OK;
    }
}

static int audit_out(cli_ctx *x, audit_run *r)
{
    size_t failures = text_lines_count(&r->cross_fail);
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

/* Move page's payments and failures to the end of into's (page keeps nothing of them). */
static bool audit_merge(Gongji__V1__AuditReply *into, Gongji__V1__AuditReply *page)
{
    struct {
        void ***to;
        size_t *n_to;
        void ***from;
        size_t *n_from;
    } lists[] = {
        {(void ***)&into->coordinated, &into->n_coordinated, (void ***)&page->coordinated, &page->n_coordinated},
        {(void ***)&into->participated, &into->n_participated, (void ***)&page->participated,
         &page->n_participated},
        {(void ***)&into->failures, &into->n_failures, (void ***)&page->failures, &page->n_failures},
    };
    for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++) {
        size_t n = *lists[i].n_to, m = *lists[i].n_from;
        if (m == 0)
            continue;
        void **bigger = realloc(*lists[i].to, (n + m) * sizeof *bigger);
        if (bigger == NULL)
            return false;
        memcpy(bigger + n, *lists[i].from, m * sizeof *bigger);
        *lists[i].to = bigger;
        *lists[i].n_to = n + m;
        *lists[i].n_from = 0; /* moved: freed with into */
    }
    into->ok = into->ok && page->ok;
    return true;
}

gj_err audit_fetch(client_t *c, const char *method, const char *call_id, const char *region, uint32_t page_size,
                   Gongji__V1__AuditReply **out, client_status *st)
{
    Gongji__V1__AuditRequest req = GONGJI__V1__AUDIT_REQUEST__INIT;
    char token[GJ_PAGE_TOKEN_MAX + 1] = "";
    Gongji__V1__AuditReply *first = NULL;
    req.page_size = page_size;
    *out = NULL;
    for (uint64_t pages = 0;; pages++) {
        ProtobufCMessage *m = NULL;
        req.page_token = token;
        gj_err e = client_call(c, method, call_id, region, &req.base, &gongji__v1__audit_reply__descriptor, &m, st);
        if (e != GJ_OK || st->code != GONGJI__V1__CODE__OK || m == NULL) {
            if (m != NULL)
                protobuf_c_message_free_unpacked(m, NULL);
            if (first != NULL)
                protobuf_c_message_free_unpacked(&first->base, NULL);
            return e;
        }
        Gongji__V1__AuditReply *page = (Gongji__V1__AuditReply *)m;
        const char *next = page->next_page_token ? page->next_page_token : "";
        bool more = next[0] != '\0' && strlen(next) < sizeof token && strcmp(next, token) != 0;
        if (more)
            memcpy(token, next, strlen(next) + 1);
        if (first == NULL) {
            first = page;
        } else {
            bool merged = audit_merge(first, page);
            protobuf_c_message_free_unpacked(&page->base, NULL);
            if (!merged) {
                protobuf_c_message_free_unpacked(&first->base, NULL);
                st->code = GONGJI__V1__CODE__INTERNAL;
                snprintf(st->reason, sizeof st->reason, "OUT_OF_MEMORY");
                snprintf(st->message, sizeof st->message, "no memory for page %llu of the audit",
                         (unsigned long long)pages + 1);
                return GJ_OK;
            }
        }
        if (!more)
            break;
    }
    *out = first;
    return GJ_OK;
}

/* --cluster: one node's call, on its own thread. Touches only *nd. */
static void *audit_call_node(void *arg)
{
    audit_node *nd = arg;
    gj_err e = audit_fetch(nd->client, nd->method, nd->call_id, "", nd->page_size, &nd->reply, &nd->st);
    nd->answered = e == GJ_OK;
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

/* --page-size, 0 when not given (the node's default). */
static int audit_page_size(cli_ctx *x, uint32_t *page_size)
{
    *page_size = 0;
    const char *s = x->val[O_PAGE_SIZE];
    if (s == NULL)
        return CLI_EXIT_OK;
    char *end;
    unsigned long n = strtoul(s, &end, 10);
    if (*s == '\0' || *end != '\0' || n > GJ_AUDIT_PAGE_MAX)
        return cli_usage(x, "bad --page-size: a whole number up to %d (0 = the node's default)", GJ_AUDIT_PAGE_MAX);
    *page_size = (uint32_t)n;
    return CLI_EXIT_OK;
}

int run_audit(cli_ctx *x)
{
    audit_run r = {.cluster = x->val[O_CLUSTER] != NULL, .strict = x->seen[O_STRICT]};
    audit_node single = {0};
    char *list = NULL, **urls = NULL;
    size_t n_urls = 0;
    int rc;
    if (!r.cluster) {
        if (r.strict)
            return cli_usage(x, "--strict needs --cluster: it is about regions not audited");
        if ((rc = audit_page_size(x, &single.page_size)) != CLI_EXIT_OK)
            return rc;
        if (x->client == NULL && (rc = cli_open_client(x, x->node, "", &x->client)) >= 0)
            return rc;
        client_status st;
        gj_err e = audit_fetch(x->client, x->cmd->method, x->call_id, x->region, single.page_size, &single.reply,
                               &st);
        if (single.reply == NULL) {
            cli_report(x, &st);
            return e == GJ_OK ? CLI_EXIT_NODE : CLI_EXIT_NOANSWER;
        }
        single.url = x->node;
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
        uint32_t page_size;
        if ((rc = audit_page_size(x, &page_size)) != CLI_EXIT_OK)
            goto done;
        for (size_t i = 0; i < r.n; i++)
            r.nodes[i].page_size = page_size;
        audit_call_cluster(&r);
    }
    audit_check(&r);
    rc = audit_out(x, &r);

done:
    audit_release(&r);
    for (size_t i = 0; i < r.n; i++) {
        audit_node *nd = &r.nodes[i];
        if (nd->reply != NULL)
            protobuf_c_message_free_unpacked(&nd->reply->base, NULL);
        client_close(nd->client);
    }
    if (r.nodes != &single)
        free(r.nodes);
    free(urls);
    free(list);
    return rc;
}
