/* The test federation of the cluster tests (harness.h, "clusters"): eight regions with
 * the policies the tests rely on, each node's peers as the real federation wires them
 * (Hunan's cities through their provincial hub, the rest of the country through the
 * hubs too), started and stopped together. */
#include "harness.h"

#include <stdio.h>
#include <string.h>

static const struct {
    const char *region;
    const char *policy;
} cluster_regions[] = {
    /* R20 under test: Changsha runs family pools (the seed's 2000-yuan floor). */
    {"430100", "live = yes\nrelations = spouse,parent,child\nmax_beneficiaries = 10\ncascade = no\n"
               "family_pool = yes\npool_floor = 2000.00\npool_members_max = 3\n"},
    {"430300", "live = yes\nrelations = spouse,parent,child\nmax_beneficiaries = 10\ncascade = yes\n"},
    {"430200", "live = no\nrelations = spouse,parent,child\n"},
    {"430000", "live = yes\n"},
    /* R12 under test: Nagqu's employees may not aid Chengdu's resident-insured. */
    /* R18 under test: beneficiaries over 60 need the platform's identity check (every
     * other test's people are born in 1980). */
    {"510100", "live = yes\nrelations = all\ncascade = yes\ncross_province_pilot = yes\n"
               "refuse_sponsors_from = 540600\nrefuse_insutype = 390\nverify_age = 60\nsponsor_choice = yes\n"
               "wallet = yes\n"},
    {"540600", "live = yes\nrelations = all\ncascade = yes\ncross_province_pilot = yes\n"},
    {"350100", "live = yes\nrelations = spouse,parent,child\ncascade = yes\nreserve_floor = 2000.00\n"},
    /* Wuhan: in the pilot, with a reserve floor, for premiums across provinces. */
    /* R24 under test: Wuhan's sponsors send to wallets (the pilot's caps), Chengdu keeps them. */
    {"420100", "live = yes\nrelations = all\ncascade = yes\ncross_province_pilot = yes\n"
               "reserve_floor = 1000.00\nwallet = yes\nwallet_transfer_max = 2000.00\n"
               "wallet_transfers_per_day = 3\nwallet_blackout = 22:00-06:00\n"},
};

test_node *tc_node(test_cluster *tc, const char *region)
{
    for (size_t i = 0; i < tc->count; i++)
        if (strcmp(tc->nodes[i].region, region) == 0)
            return &tc->nodes[i];
    return NULL;
}

static void add_peer(test_node *tn, const char *prefix, test_node *to)
{
    size_t len = strlen(tn->peers);
    snprintf(tn->peers + len, sizeof tn->peers - len, "%s = %s\n", prefix, to->url);
}

void tc_init(test_cluster *tc, const char *node_extra)
{
    memset(tc, 0, sizeof *tc);
    tc->count = sizeof cluster_regions / sizeof cluster_regions[0];
    for (size_t i = 0; i < tc->count; i++) {
        tn_init(&tc->nodes[i], cluster_regions[i].region, cluster_regions[i].policy);
        snprintf(tc->nodes[i].extra, sizeof tc->nodes[i].extra,
                 "peer_timeout_ms = 500\nresolve_interval_ms = 200\nresolve_after_ms = 1000\n%s",
                 node_extra ? node_extra : "");
    }
    test_node *hub = tc_node(tc, "430000");
    const char *hunan[] = {"430100", "430300", "430200"};
    for (size_t i = 0; i < 3; i++) {
        test_node *tn = tc_node(tc, hunan[i]);
        add_peer(tn, "43", hub);
        add_peer(tn, "51", hub);
        add_peer(tn, "54", hub);
        add_peer(tn, "35", hub);
    }
    for (size_t i = 0; i < tc->count; i++)
        if (&tc->nodes[i] != hub)
            add_peer(hub, tc->nodes[i].region, &tc->nodes[i]);
    test_node *cd = tc_node(tc, "510100"), *nq = tc_node(tc, "540600"), *fz = tc_node(tc, "350100");
    add_peer(cd, "540600", nq);
    add_peer(cd, "43", hub);
    add_peer(cd, "35", fz);
    add_peer(nq, "510100", cd);
    add_peer(nq, "43", hub);
    add_peer(nq, "35", fz);
    /* A misconfigured pair that sends region 98xxxx back and forth: hops must end it. */
    add_peer(cd, "98", fz);
    add_peer(fz, "98", cd);
    test_node *wh = tc_node(tc, "420100");
    add_peer(cd, "42", wh);
    add_peer(nq, "42", wh);
    add_peer(wh, "51", cd);
    add_peer(wh, "54", nq);
    add_peer(wh, "43", hub);
    add_peer(fz, "43", hub);
    add_peer(fz, "51", cd);
    add_peer(fz, "54", nq);
}

int tc_start(test_cluster *tc)
{
    for (size_t i = 0; i < tc->count; i++)
        if (tn_start(&tc->nodes[i]) != 0)
            return -1;
    return 0;
}

void tc_destroy(test_cluster *tc)
{
    for (size_t i = 0; i < tc->count; i++)
        tn_destroy(&tc->nodes[i]);
}

