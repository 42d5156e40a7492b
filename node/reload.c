/* Policy reload (SIGHUP, systemctl reload): the config file read again; its [policy]
 * taken from now on when the file is good and names the same region, and every knob
 * that changed logged with its old and new value. A request already in the node keeps
 * the policy it arrived under (call->policy); the next one gets the new. Replaced
 * policies are kept (a few hundred bytes each) until the node stops, so no request ever
 * reads a freed one. Changes outside [policy] need a restart; the log says so. */
#include "config.h"
#include "gj_util.h"
#include "log.h"
#include "node.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void relations_text(uint32_t mask, char *out, size_t size)
{
    size_t n = 0;
    out[0] = '\0';
    for (int r = 1; r <= GJ_REL_MAX && n + 1 < size; r++)
        if (mask & GJ_BIT(r))
            n += (size_t)snprintf(out + n, size - n, "%s%s", n ? "," : "", rules_relation_name(r));
    if (n == 0)
        snprintf(out, size, "none");
}

#define SAY(key, fmt, a, b) gj_log(GJ_LOG_WARN, "policy", "reload: %s " fmt " -> " fmt, key, a, b)
#define CHANGED_BOOL(f)                                                                                          \
    if (old->f != now->f) {                                                                                      \
        SAY(#f, "%s", old->f ? "yes" : "no", now->f ? "yes" : "no");                                             \
        changes++;                                                                                               \
    }
#define CHANGED_UINT(f)                                                                                          \
    if (old->f != now->f) {                                                                                      \
        SAY(#f, "%u", (unsigned)old->f, (unsigned)now->f);                                                       \
        changes++;                                                                                               \
    }
#define CHANGED_YUAN(f)                                                                                          \
    if (old->f != now->f) {                                                                                      \
        char y1[32], y2[32];                                                                                     \
        SAY(#f, "%s", gj_yuan_format(old->f, y1), gj_yuan_format(now->f, y2));                                   \
        changes++;                                                                                               \
    }

/* Log each knob that differs; returns how many. */
static int log_changes(const gj_policy *old, const gj_policy *now)
{
    int changes = 0;
    CHANGED_BOOL(live)
    if (old->relations_allowed != now->relations_allowed) {
        char a[160], b[160];
        relations_text(old->relations_allowed, a, sizeof a);
        relations_text(now->relations_allowed, b, sizeof b);
        SAY("relations", "%s", a, b);
        changes++;
    }
    CHANGED_UINT(max_beneficiaries)
    CHANGED_BOOL(one_relationship_per_person)
    CHANGED_BOOL(cascade)
    CHANGED_YUAN(reserve_floor)
    CHANGED_BOOL(cross_province_pilot)
    CHANGED_UINT(uses_allowed)
    if (strcmp(old->refuse_insutype, now->refuse_insutype) != 0 ||
        old->refuse_region_count != now->refuse_region_count ||
        memcmp(old->refuse_regions, now->refuse_regions, sizeof old->refuse_regions) != 0) {
        gj_log(GJ_LOG_WARN, "policy", "reload: refuse_sponsors_from / refuse_insutype changed (%zu regions now)",
               now->refuse_region_count);
        changes++;
    }
    CHANGED_UINT(revoke_days)
    CHANGED_UINT(unbind_min_months)
    CHANGED_BOOL(sponsor_choice)
    CHANGED_UINT(verify_age)
    CHANGED_UINT(max_beneficiaries_per_year)
    CHANGED_BOOL(family_pool)
    CHANGED_YUAN(pool_floor)
    CHANGED_UINT(pool_members_max)
    CHANGED_BOOL(wallet)
    CHANGED_YUAN(wallet_transfer_max)
    CHANGED_UINT(wallet_transfers_per_day)
    CHANGED_UINT(wallet_blackout_start_s)
    CHANGED_UINT(wallet_blackout_end_s)
    if (old->relations_allowed & ~now->relations_allowed)
        gj_log(GJ_LOG_WARN, "policy",
               "reload: bindings of relations no longer allowed stop paying now; `gongji bindings` shows them "
               "inactive (RELATION_NOT_ALLOWED)");
    return changes;
}

/* By what the file says (prefix and URL text), not by bytes: the structs' padding and the
 * space past each string's end mean nothing. */
static bool peers_differ(const node_config *a, const node_config *b)
{
    if (a->peer_count != b->peer_count)
        return true;
    for (size_t i = 0; i < a->peer_count; i++)
        if (strcmp(a->peers[i].prefix, b->peers[i].prefix) != 0 || strcmp(a->peers[i].url, b->peers[i].url) != 0)
            return true;
    return false;
}

/* Replaced policies, freed when the node stops (never while a request may hold one). */
static gj_policy *retired[64];
static size_t retired_count;

void node_reload_policy(node *n, const char *config_path)
{
    node_config *fresh = malloc(sizeof *fresh);
    char err[4096];
    if (fresh == NULL)
        return;
    node_config_defaults(fresh);
    if (node_config_load(fresh, config_path, err, sizeof err) != 0) {
        gj_log(GJ_LOG_ERROR, "policy", "reload: the config has problems; the policy stays as it was: %s", err);
        free(fresh);
        return;
    }
    if (strcmp(fresh->region, n->cfg.region) != 0) {
        gj_log(GJ_LOG_ERROR, "policy", "reload: the config names region %s, this node serves %s; nothing taken",
               fresh->region, n->cfg.region);
        free(fresh);
        return;
    }
    /* What only a restart takes: said, not taken. */
    if (strcmp(fresh->listen_url, n->cfg.listen_url) != 0 || strcmp(fresh->data_dir, n->cfg.data_dir) != 0 ||
        peers_differ(fresh, &n->cfg) ||
        fresh->workers != n->cfg.workers || fresh->contexts != n->cfg.contexts)
        gj_log(GJ_LOG_WARN, "policy", "reload: [node] or [peers] changed too; those take effect at the next restart");
    const gj_policy *old = node_policy(n);
    int changes = log_changes(old, &fresh->policy);
    if (changes == 0 || retired_count >= sizeof retired / sizeof retired[0]) {
        if (changes > 0)
            gj_log(GJ_LOG_ERROR, "policy", "reload: %zu reloads since start; restart the node to reload again",
                   retired_count);
        else
            gj_log(GJ_LOG_INFO, "policy", "reload: the policy is unchanged");
        free(fresh);
        return;
    }
    gj_policy *now = malloc(sizeof *now);
    if (now == NULL) {
        free(fresh);
        return;
    }
    *now = fresh->policy;
    free(fresh);
    retired[retired_count++] = now;
    atomic_store(&n->policy, now);
    gj_log(GJ_LOG_WARN, "policy", "reload: %d knob(s) changed; requests from now on follow the new policy", changes);
}

void node_policies_free(void)
{
    for (size_t i = 0; i < retired_count; i++)
        free(retired[i]);
    retired_count = 0;
}
