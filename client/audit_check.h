/* The audit's cross-check (SPEC §6): what `gongji audit` concludes from the nodes'
 * answers. The CLI collects each node's AuditReply (client/cli_audit.c), this checks
 * each answer on its own and, for a cluster, matches every cross-region payment
 * between the coordinator's node and the sponsor's node; the result is a structured
 * audit_run the CLI prints. Nothing here calls a node or prints. */
#ifndef GJ_AUDIT_CHECK_H
#define GJ_AUDIT_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "client.h"
#include "textbuf.h"

typedef const Gongji__V1__CrossPayment *audit_cp;

/* One audited node. The collector fills url, reply, st and answered (client, method
 * and call_id are its own); the check fills the rest. */
typedef struct audit_node {
    const char *url;
    client_t *client;                /* --cluster: this node's own connection */
    const char *method;
    const char *call_id;
    char call_id_buf[33];
    uint32_t page_size;              /* payments per page asked for; 0 = the node's */
    Gongji__V1__AuditReply *reply;   /* NULL: no usable answer (st says why) */
    client_status st;
    bool answered;                   /* a Reply came back, maybe with an error code */
    bool shadowed;                   /* an earlier node answered for the same region */
    text_lines problems;             /* what the CLI found wrong with this node */
    audit_cp *coord, *part;          /* the reply's lists, sorted by (setl_id, leg) */
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
    text_lines cross_fail; /* mismatches between audited nodes, and with --strict gaps */
    text_lines cross_note; /* without --strict: regions not audited */
    size_t n_gap_fail;     /* of cross_fail, the "not audited" lines */
    size_t n_invariant;    /* failures that mean exit 1 */
    size_t n_silent;       /* nodes that gave no answer */
    audit_gap *gaps;
    size_t n_gaps, cap_gaps;
    bool oom;
} audit_run;

/* Check every node of r on its own, then, when r->cluster, across them. */
void audit_check(audit_run *r);

/* What the run comes to: FAILED for any broken invariant or error answer; else
 * SILENT when a node did not answer (it may be the region a --strict gap names);
 * else FAILED for --strict gaps; else PASSED. */
typedef enum audit_verdict { AUDIT_PASSED, AUDIT_FAILED, AUDIT_SILENT } audit_verdict;
audit_verdict audit_verdict_of(const audit_run *r);

/* The region a node answered for, as best known ("?" when none). */
const char *audit_region(const audit_node *nd);
/* Failures of one node: those it reported and those the check found. */
size_t audit_node_failures(const audit_node *nd);

/* Free what audit_check made: each node's problems and sorted lists, the run's cross
 * lines and gaps. Replies, clients and the nodes array stay the collector's. */
void audit_release(audit_run *r);

#endif
