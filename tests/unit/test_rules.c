/* Unit tests of node/rules.c: who may sponsor and benefit, relations, scope, caps, the
 * deduction order and money, under the example region policies of SPEC §3. Binding
 * dates and the rules made at bind time are in test_rules_dates.c; reasons in
 * test_reasons.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "gj_util.h"
#include "rules.h"
#include "store.h"

/* ---- fixtures ---- */

/* Changsha 430100: Hunan rules — spouse/parent/child, 10 beneficiaries, single sponsor,
 * refuses sponsors from listed Hunan regions for its resident (390) beneficiaries. */
static void changsha_policy(gj_policy *p)
{
    rules_policy_default(p, "430100");
    p->relations_allowed = GJ_BIT(GJ_REL_SPOUSE) | GJ_BIT(GJ_REL_PARENT) | GJ_BIT(GJ_REL_CHILD);
    p->max_beneficiaries = 10;
    p->cascade = false;
    p->reserve_floor = 0;
    p->refuse_region_count = 2;
    strcpy(p->refuse_regions[0], "430300"); /* Xiangtan */
    strcpy(p->refuse_regions[1], "430400"); /* Hengyang */
}

/* Xiangtan 430300: a Hunan region whose sponsors Changsha refuses for residents. */
static void xiangtan_policy(gj_policy *p)
{
    rules_policy_default(p, "430300");
    p->relations_allowed = GJ_BIT(GJ_REL_SPOUSE) | GJ_BIT(GJ_REL_PARENT) | GJ_BIT(GJ_REL_CHILD);
    p->max_beneficiaries = 10;
}

/* Changde 430700: a Hunan region Changsha does not refuse. */
static void changde_policy(gj_policy *p)
{
    rules_policy_default(p, "430700");
    p->relations_allowed = GJ_BIT(GJ_REL_SPOUSE) | GJ_BIT(GJ_REL_PARENT) | GJ_BIT(GJ_REL_CHILD);
    p->max_beneficiaries = 10;
}

/* Zhuzhou 430200: not live yet. */
static void zhuzhou_policy(gj_policy *p)
{
    rules_policy_default(p, "430200");
    p->live = false;
}

/* Chuxiong 532300 (Yunnan): all close relatives, cascade, not in the pilot. */
static void chuxiong_policy(gj_policy *p)
{
    rules_policy_default(p, "532300");
}

/* Chengdu 510100 (Sichuan): all close relatives, cascade, in the cross-province pilot. */
static void chengdu_policy(gj_policy *p)
{
    rules_policy_default(p, "510100");
    p->cross_province_pilot = true;
}

/* Fuzhou 350100 (Fujian): spouse/parent/child, cascade, 2000 yuan reserve floor. */
static void fuzhou_policy(gj_policy *p)
{
    rules_policy_default(p, "350100");
    p->relations_allowed = GJ_BIT(GJ_REL_SPOUSE) | GJ_BIT(GJ_REL_PARENT) | GJ_BIT(GJ_REL_CHILD);
    p->reserve_floor = 200000;
}

/* A person with a real-form ID (check digit computed) in region admdvs. */
static store_person make_person(const char *psn_no, const char *insutype, uint8_t status,
                                const char *admdvs)
{
    store_person p;
    memset(&p, 0, sizeof p);
    strcpy(p.psn_no, psn_no);
    strcpy(p.certno, "43010219850615123");
    p.certno[17] = gj_certno_check_char(p.certno);
    strcpy(p.name, "张三");
    strcpy(p.insutype, insutype);
    strcpy(p.admdvs, admdvs);
    p.status = status;
    return p;
}

static store_account make_account(int64_t balance, int64_t held)
{
    store_account a;
    memset(&a, 0, sizeof a);
    a.balance = balance;
    a.held = held;
    a.credited = balance;
    return a;
}

/* ---- policy and names ---- */

static void test_default_policy_is_permissive(void **state)
{
    (void)state;
    gj_policy p;
    rules_policy_default(&p, "532300");
    assert_string_equal(p.region, "532300");
    assert_true(p.live);
    assert_int_equal(p.relations_allowed, GJ_RELATIONS_ALL);
    assert_int_equal(p.max_beneficiaries, 0);
    assert_false(p.one_relationship_per_person);
    assert_true(p.cascade);
    assert_int_equal(p.reserve_floor, 0);
    assert_false(p.cross_province_pilot);
    assert_int_equal(p.uses_allowed, GJ_USES_ALL);
    assert_string_equal(p.refuse_insutype, "390");
    assert_int_equal(p.refuse_region_count, 0);
    assert_int_equal(p.revoke_days, 0);
    /* The default never allows a spouse's parent, even through the mask. */
    assert_int_equal(p.relations_allowed & GJ_BIT(GJ_REL_SPOUSE_PARENT), 0);
}

static void test_default_policy_with_too_long_region_matches_no_province(void **state)
{
    (void)state;
    gj_policy p;
    rules_policy_default(&p, "4301000");
    assert_string_equal(p.region, "");
    assert_false(rules_same_province(p.region, "430100"));
    rules_policy_default(&p, NULL);
    assert_string_equal(p.region, "");
    rules_policy_default(NULL, "430100"); /* must not crash */
}

static void test_relation_names_round_trip(void **state)
{
    (void)state;
    for (int r = 1; r <= GJ_REL_MAX; r++)
        assert_int_equal(rules_relation_parse(rules_relation_name(r)), r);
    assert_string_equal(rules_relation_name(GJ_REL_SPOUSE), "spouse");
    assert_string_equal(rules_relation_name(GJ_REL_MATERNAL_GRANDPARENT), "maternal_grandparent");
    assert_string_equal(rules_relation_name(GJ_REL_SPOUSE_PARENT), "spouse_parent");
    assert_int_equal(rules_relation_parse("Maternal-Grandchild"), GJ_REL_MATERNAL_GRANDCHILD);
    assert_int_equal(rules_relation_parse("SPOUSE"), GJ_REL_SPOUSE);
    assert_int_equal(rules_relation_parse("cousin"), 0);
    assert_int_equal(rules_relation_parse(""), 0);
    assert_int_equal(rules_relation_parse("spouse "), 0);
    assert_int_equal(rules_relation_parse("spous"), 0);
    assert_int_equal(rules_relation_parse(NULL), 0);
    assert_string_equal(rules_relation_name(0), "unknown");
    assert_string_equal(rules_relation_name(GJ_REL_MAX + 1), "unknown");
    assert_string_equal(rules_relation_name(-1), "unknown");
}

static void test_use_names_round_trip(void **state)
{
    (void)state;
    for (int u = 1; u <= GJ_USE_MAX; u++)
        assert_int_equal(rules_use_parse(rules_use_name(u)), u);
    assert_string_equal(rules_use_name(GJ_USE_SPECIAL_DISEASE), "special_disease");
    assert_int_equal(rules_use_parse("Special-Disease"), GJ_USE_SPECIAL_DISEASE);
    assert_int_equal(rules_use_parse("PHARMACY"), GJ_USE_PHARMACY);
    assert_int_equal(rules_use_parse("pooled_fund"), 0);
    assert_int_equal(rules_use_parse(NULL), 0);
    assert_string_equal(rules_use_name(0), "unknown");
    assert_string_equal(rules_use_name(GJ_USE_MAX + 1), "unknown");
}

static void test_same_province_is_first_two_digits(void **state)
{
    (void)state;
    assert_true(rules_same_province("430100", "430200"));
    assert_true(rules_same_province("430100", "430100"));
    assert_false(rules_same_province("430100", "510100"));
    assert_false(rules_same_province("430100", "340100"));
    assert_false(rules_same_province("", ""));
    assert_false(rules_same_province("4", "4"));
    assert_false(rules_same_province("ab0100", "ab0100"));
    assert_false(rules_same_province(NULL, "430100"));
    assert_false(rules_same_province("430100", NULL));
}

/* ---- R1 who can sponsor ---- */

static void test_active_employee_with_account_can_sponsor(void **state)
{
    (void)state;
    store_person s = make_person("S1", "310", STORE_PERSON_ACTIVE, "430100");
    assert_int_equal(rules_check_sponsor(&s, true), GJ_R_NONE);
}

static void test_resident_cannot_sponsor(void **state)
{
    (void)state;
    store_person s = make_person("S1", "390", STORE_PERSON_ACTIVE, "430100");
    assert_int_equal(rules_check_sponsor(&s, true), GJ_R_SPONSOR_NOT_EMPLOYEE);
    assert_int_equal(rules_check_sponsor(&s, false), GJ_R_SPONSOR_NOT_EMPLOYEE);
    /* A resident is refused as a resident whatever the status. */
    s.status = STORE_PERSON_TERMINATED;
    assert_int_equal(rules_check_sponsor(&s, true), GJ_R_SPONSOR_NOT_EMPLOYEE);
}

static void test_inactive_employee_cannot_sponsor(void **state)
{
    (void)state;
    store_person s = make_person("S1", "310", STORE_PERSON_SUSPENDED, "430100");
    assert_int_equal(rules_check_sponsor(&s, true), GJ_R_SPONSOR_NOT_ACTIVE);
    s.status = STORE_PERSON_TERMINATED;
    assert_int_equal(rules_check_sponsor(&s, true), GJ_R_SPONSOR_NOT_ACTIVE);
    s.status = 0;
    assert_int_equal(rules_check_sponsor(&s, true), GJ_R_SPONSOR_NOT_ACTIVE);
    assert_int_equal(rules_check_sponsor(NULL, true), GJ_R_SPONSOR_NOT_ACTIVE);
}

static void test_employee_without_account_cannot_sponsor(void **state)
{
    (void)state;
    store_person s = make_person("S1", "310", STORE_PERSON_ACTIVE, "430100");
    assert_int_equal(rules_check_sponsor(&s, false), GJ_R_SPONSOR_NO_ACCOUNT);
}

/* ---- R2 who can benefit ---- */

static void test_active_employee_or_resident_can_benefit(void **state)
{
    (void)state;
    store_person b = make_person("B1", "390", STORE_PERSON_ACTIVE, "430100");
    assert_int_equal(rules_check_beneficiary(&b), GJ_R_NONE);
    b = make_person("B1", "310", STORE_PERSON_ACTIVE, "430100");
    assert_int_equal(rules_check_beneficiary(&b), GJ_R_NONE);
}

static void test_inactive_beneficiary_refused(void **state)
{
    (void)state;
    store_person b = make_person("B1", "390", STORE_PERSON_SUSPENDED, "430100");
    assert_int_equal(rules_check_beneficiary(&b), GJ_R_BENEFICIARY_NOT_ACTIVE);
    b.status = STORE_PERSON_TERMINATED;
    assert_int_equal(rules_check_beneficiary(&b), GJ_R_BENEFICIARY_NOT_ACTIVE);
    assert_int_equal(rules_check_beneficiary(NULL), GJ_R_BENEFICIARY_NOT_ACTIVE);
}

static void test_uninsured_beneficiary_refused(void **state)
{
    (void)state;
    store_person b = make_person("B1", "320", STORE_PERSON_ACTIVE, "430100");
    assert_int_equal(rules_check_beneficiary(&b), GJ_R_INSUTYPE_INVALID);
    memset(b.insutype, 0, sizeof b.insutype);
    assert_int_equal(rules_check_beneficiary(&b), GJ_R_INSUTYPE_INVALID);
}

/* ---- enroll fields ---- */

static void test_person_fields_valid(void **state)
{
    (void)state;
    store_person p = make_person("P0001", "310", STORE_PERSON_ACTIVE, "430100");
    assert_int_equal(rules_check_person_fields(&p), GJ_R_NONE);
    p.name[0] = '\0'; /* the name is optional */
    assert_int_equal(rules_check_person_fields(&p), GJ_R_NONE);
    p.status = STORE_PERSON_TERMINATED;
    assert_int_equal(rules_check_person_fields(&p), GJ_R_NONE);
}

static void test_person_fields_refused_one_by_one(void **state)
{
    (void)state;
    const store_person good = make_person("P0001", "390", STORE_PERSON_ACTIVE, "430100");
    store_person p;

    p = good;
    p.psn_no[0] = '\0';
    assert_int_equal(rules_check_person_fields(&p), GJ_R_FIELD_INVALID);
    p = good;
    memset(p.psn_no, 'P', sizeof p.psn_no); /* unterminated */
    assert_int_equal(rules_check_person_fields(&p), GJ_R_FIELD_INVALID);

    p = good;
    p.certno[17] = p.certno[17] == '0' ? '1' : '0'; /* wrong check digit */
    assert_int_equal(rules_check_person_fields(&p), GJ_R_CERTNO_INVALID);
    p = good;
    p.certno[0] = '\0';
    assert_int_equal(rules_check_person_fields(&p), GJ_R_CERTNO_INVALID);
    p = good;
    memset(p.certno, '1', sizeof p.certno); /* unterminated */
    assert_int_equal(rules_check_person_fields(&p), GJ_R_CERTNO_INVALID);

    p = good;
    strcpy(p.insutype, "320");
    assert_int_equal(rules_check_person_fields(&p), GJ_R_INSUTYPE_INVALID);
    p = good;
    p.insutype[0] = '\0';
    assert_int_equal(rules_check_person_fields(&p), GJ_R_INSUTYPE_INVALID);

    p = good;
    p.status = 0;
    assert_int_equal(rules_check_person_fields(&p), GJ_R_STATUS_INVALID);
    p.status = 4;
    assert_int_equal(rules_check_person_fields(&p), GJ_R_STATUS_INVALID);

    p = good;
    strcpy(p.admdvs, "43010");
    assert_int_equal(rules_check_person_fields(&p), GJ_R_FIELD_INVALID);
    strcpy(p.admdvs, "43A100");
    assert_int_equal(rules_check_person_fields(&p), GJ_R_FIELD_INVALID);
    p.admdvs[0] = '\0';
    assert_int_equal(rules_check_person_fields(&p), GJ_R_FIELD_INVALID);

    assert_int_equal(rules_check_person_fields(NULL), GJ_R_FIELD_INVALID);
}

/* ---- R2 relations ---- */

static void test_spouse_parent_refused_under_every_policy(void **state)
{
    (void)state;
    void (*makers[])(gj_policy *) = {changsha_policy, xiangtan_policy, zhuzhou_policy,
                                     chuxiong_policy, chengdu_policy,  fuzhou_policy};
    for (size_t i = 0; i < sizeof makers / sizeof makers[0]; i++) {
        gj_policy p;
        makers[i](&p);
        assert_int_equal(rules_check_relation(&p, GJ_REL_SPOUSE_PARENT),
                         GJ_R_SPOUSE_PARENT_NOT_ALLOWED);
        /* Even a misconfigured mask cannot allow it. */
        p.relations_allowed = 0xffffffffu;
        assert_int_equal(rules_check_relation(&p, GJ_REL_SPOUSE_PARENT),
                         GJ_R_SPOUSE_PARENT_NOT_ALLOWED);
    }
}

static void test_sibling_refused_under_changsha_policy(void **state)
{
    (void)state;
    gj_policy cs, cx;
    changsha_policy(&cs);
    chuxiong_policy(&cx);
    assert_int_equal(rules_check_relation(&cs, GJ_REL_SIBLING), GJ_R_RELATION_NOT_ALLOWED);
    assert_int_equal(rules_check_relation(&cx, GJ_REL_SIBLING), GJ_R_NONE);
}

static void test_hunan_allows_only_spouse_parent_child(void **state)
{
    (void)state;
    gj_policy p;
    changsha_policy(&p);
    for (int r = 1; r <= GJ_REL_MAX; r++) {
        gj_reason want = GJ_R_RELATION_NOT_ALLOWED;
        if (r == GJ_REL_SPOUSE || r == GJ_REL_PARENT || r == GJ_REL_CHILD)
            want = GJ_R_NONE;
        else if (r == GJ_REL_SPOUSE_PARENT)
            want = GJ_R_SPOUSE_PARENT_NOT_ALLOWED;
        assert_int_equal(rules_check_relation(&p, r), want);
    }
}

static void test_every_close_relative_allowed_under_chengdu_policy(void **state)
{
    (void)state;
    gj_policy p;
    chengdu_policy(&p);
    for (int r = GJ_REL_SPOUSE; r <= GJ_REL_MATERNAL_GRANDCHILD; r++)
        assert_int_equal(rules_check_relation(&p, r), GJ_R_NONE);
}

static void test_unknown_relation_is_invalid(void **state)
{
    (void)state;
    gj_policy p;
    chengdu_policy(&p);
    assert_int_equal(rules_check_relation(&p, 0), GJ_R_RELATION_INVALID);
    assert_int_equal(rules_check_relation(&p, -1), GJ_R_RELATION_INVALID);
    assert_int_equal(rules_check_relation(&p, GJ_REL_MAX + 1), GJ_R_RELATION_INVALID);
    assert_int_equal(rules_check_relation(&p, 40), GJ_R_RELATION_INVALID);
    assert_int_equal(rules_check_relation(NULL, GJ_REL_SPOUSE), GJ_R_RELATION_NOT_ALLOWED);
}

/* ---- R4 + R12 scope ---- */

static void test_same_province_any_region_allowed(void **state)
{
    (void)state;
    gj_policy cs, cd;
    changsha_policy(&cs);
    changde_policy(&cd);
    assert_int_equal(rules_check_scope(&cd, &cs, "390"), GJ_R_NONE);
    assert_int_equal(rules_check_scope(&cs, &cd, "390"), GJ_R_NONE);
    assert_int_equal(rules_check_scope(&cs, &cs, "310"), GJ_R_NONE);
}

static void test_cross_province_needs_both_in_pilot(void **state)
{
    (void)state;
    gj_policy cs, cx, cd, other_pilot;
    changsha_policy(&cs);
    chuxiong_policy(&cx);
    chengdu_policy(&cd);
    rules_policy_default(&other_pilot, "330100"); /* Hangzhou */
    other_pilot.cross_province_pilot = true;

    /* Neither in the pilot. */
    assert_int_equal(rules_check_scope(&cs, &cx, "310"), GJ_R_CROSS_PROVINCE_NOT_IN_PILOT);
    /* Only one side in the pilot, either way round. */
    assert_int_equal(rules_check_scope(&cd, &cs, "310"), GJ_R_CROSS_PROVINCE_NOT_IN_PILOT);
    assert_int_equal(rules_check_scope(&cs, &cd, "310"), GJ_R_CROSS_PROVINCE_NOT_IN_PILOT);
    /* Both in the pilot. */
    assert_int_equal(rules_check_scope(&cd, &other_pilot, "390"), GJ_R_NONE);
    assert_int_equal(rules_check_scope(&other_pilot, &cd, "310"), GJ_R_NONE);
}

static void test_region_not_live_refuses(void **state)
{
    (void)state;
    gj_policy cs, zz;
    changsha_policy(&cs);
    zhuzhou_policy(&zz);
    assert_int_equal(rules_check_scope(&zz, &cs, "310"), GJ_R_REGION_NOT_LIVE);
    assert_int_equal(rules_check_scope(&cs, &zz, "310"), GJ_R_REGION_NOT_LIVE);
    assert_int_equal(rules_check_scope(&zz, &zz, "310"), GJ_R_REGION_NOT_LIVE);
    /* Not live wins over every other scope reason. */
    gj_policy cd;
    chengdu_policy(&cd);
    assert_int_equal(rules_check_scope(&cd, &zz, "390"), GJ_R_REGION_NOT_LIVE);
    assert_int_equal(rules_check_scope(NULL, &cs, "310"), GJ_R_REGION_NOT_LIVE);
    assert_int_equal(rules_check_scope(&cs, NULL, "310"), GJ_R_REGION_NOT_LIVE);
}

static void test_refused_sponsor_region_for_resident_beneficiary(void **state)
{
    (void)state;
    gj_policy cs, xt, cd;
    changsha_policy(&cs);
    xiangtan_policy(&xt);
    changde_policy(&cd);
    /* Xiangtan employees cannot aid Changsha's resident-insured people... */
    assert_int_equal(rules_check_scope(&xt, &cs, "390"), GJ_R_SPONSOR_REGION_REFUSED);
    /* ...but can aid Changsha's employee-insured people. */
    assert_int_equal(rules_check_scope(&xt, &cs, "310"), GJ_R_NONE);
    /* An unlisted region's sponsors can aid Changsha's residents. */
    assert_int_equal(rules_check_scope(&cd, &cs, "390"), GJ_R_NONE);
    /* The refusal is the beneficiary region's: Xiangtan's residents take Changsha aid. */
    assert_int_equal(rules_check_scope(&cs, &xt, "390"), GJ_R_NONE);
    /* The count bounds the list: an entry past it is not consulted. */
    cs.refuse_region_count = 1;
    strcpy(cs.refuse_regions[1], "430700");
    assert_int_equal(rules_check_scope(&cd, &cs, "390"), GJ_R_NONE);
    /* A corrupt count beyond the array is clamped, never read past. */
    cs.refuse_region_count = (size_t)-1;
    assert_int_equal(rules_check_scope(&xt, &cs, "390"), GJ_R_SPONSOR_REGION_REFUSED);
    /* No insutype given: nothing to refuse by. */
    cs.refuse_region_count = 2;
    assert_int_equal(rules_check_scope(&xt, &cs, NULL), GJ_R_NONE);
}

/* ---- R8 caps ---- */

static void test_eleventh_beneficiary_refused_under_changsha_policy(void **state)
{
    (void)state;
    gj_policy cs;
    changsha_policy(&cs);
    assert_int_equal(rules_check_caps(&cs, &cs, 9, 0, 0, 0), GJ_R_NONE);
    assert_int_equal(rules_check_caps(&cs, &cs, 10, 0, 0, 0), GJ_R_BINDING_LIMIT_REACHED);
    assert_int_equal(rules_check_caps(&cs, &cs, 11, 0, 0, 0), GJ_R_BINDING_LIMIT_REACHED);
}

static void test_cap_is_the_sponsor_regions(void **state)
{
    (void)state;
    gj_policy cs, cx;
    changsha_policy(&cs);
    chuxiong_policy(&cx);
    /* A Chuxiong sponsor (unlimited) aiding a Changsha relative is not held to 10. */
    assert_int_equal(rules_check_caps(&cx, &cs, 10, 0, 0, 0), GJ_R_NONE);
    assert_int_equal(rules_check_caps(&cs, &cx, 10, 0, 0, 0), GJ_R_BINDING_LIMIT_REACHED);
}

static void test_unlimited_policy_stops_at_node_limit(void **state)
{
    (void)state;
    gj_policy cx;
    chuxiong_policy(&cx);
    assert_int_equal(rules_check_caps(&cx, &cx, GJ_BENEFICIARIES_MAX - 1, 0, 0, 0), GJ_R_NONE);
    assert_int_equal(rules_check_caps(&cx, &cx, GJ_BENEFICIARIES_MAX, 0, 0, 0),
                     GJ_R_BINDING_LIMIT_REACHED);
    /* A policy cap above the node's cap does not lift it. */
    cx.max_beneficiaries = 1000;
    assert_int_equal(rules_check_caps(&cx, &cx, GJ_BENEFICIARIES_MAX, 0, 0, 0),
                     GJ_R_BINDING_LIMIT_REACHED);
}

static void test_beneficiary_sponsor_count_bounded_by_order_size(void **state)
{
    (void)state;
    gj_policy cx;
    chuxiong_policy(&cx);
    assert_int_equal(rules_check_caps(&cx, &cx, 0, 0, 0, GJ_SPONSORS_MAX - 1), GJ_R_NONE);
    assert_int_equal(rules_check_caps(&cx, &cx, 0, 0, 0, GJ_SPONSORS_MAX),
                     GJ_R_SPONSORS_LIMIT_REACHED);
}

static void test_one_relationship_per_person(void **state)
{
    (void)state;
    gj_policy one, cx;
    rules_policy_default(&one, "440100");
    one.one_relationship_per_person = true;
    rules_policy_default(&cx, "440300");

    /* Nobody has a relationship yet: allowed. */
    assert_int_equal(rules_check_caps(&one, &cx, 0, 0, 0, 0), GJ_R_NONE);
    assert_int_equal(rules_check_caps(&cx, &one, 0, 0, 0, 0), GJ_R_NONE);
    /* Any existing relationship of either person, either way, under either region. */
    for (int which = 0; which < 4; which++) {
        size_t c[4] = {0, 0, 0, 0};
        c[which] = 1;
        assert_int_equal(rules_check_caps(&one, &cx, c[0], c[1], c[2], c[3]),
                         GJ_R_ONE_RELATIONSHIP_ONLY);
        assert_int_equal(rules_check_caps(&cx, &one, c[0], c[1], c[2], c[3]),
                         GJ_R_ONE_RELATIONSHIP_ONLY);
        /* Neither region imposes it: allowed. */
        assert_int_equal(rules_check_caps(&cx, &cx, c[0], c[1], c[2], c[3]), GJ_R_NONE);
    }
    assert_int_equal(rules_check_caps(NULL, &cx, 0, 0, 0, 0), GJ_R_REGION_NOT_LIVE);
}

/* ---- R9 dates ---- */

static void test_order_must_list_each_sponsor_once(void **state)
{
    (void)state;
    store_order cur;
    memset(&cur, 0, sizeof cur);
    cur.count = 3;
    strcpy(cur.sponsors[0].psn_no, "A");
    strcpy(cur.sponsors[1].psn_no, "B");
    strcpy(cur.sponsors[2].psn_no, "C");

    const char *same[] = {"A", "B", "C"};
    const char *reordered[] = {"C", "A", "B"};
    const char *missing[] = {"A", "B"};
    const char *duplicate[] = {"A", "A", "B"};
    const char *stranger[] = {"A", "B", "D"};
    const char *extra[] = {"A", "B", "C", "D"};
    const char *prefix[] = {"A", "B", "CC"};
    const char *with_null[] = {"A", NULL, "C"};

    assert_int_equal(rules_check_order(&cur, same, 3), GJ_R_NONE);
    assert_int_equal(rules_check_order(&cur, reordered, 3), GJ_R_NONE);
    assert_int_equal(rules_check_order(&cur, missing, 2), GJ_R_ORDER_MISMATCH);
    assert_int_equal(rules_check_order(&cur, duplicate, 3), GJ_R_ORDER_MISMATCH);
    assert_int_equal(rules_check_order(&cur, stranger, 3), GJ_R_ORDER_MISMATCH);
    assert_int_equal(rules_check_order(&cur, extra, 4), GJ_R_ORDER_MISMATCH);
    assert_int_equal(rules_check_order(&cur, prefix, 3), GJ_R_ORDER_MISMATCH);
    assert_int_equal(rules_check_order(&cur, with_null, 3), GJ_R_ORDER_MISMATCH);
    assert_int_equal(rules_check_order(&cur, NULL, 3), GJ_R_ORDER_MISMATCH);
}

static void test_empty_order_matches_no_sponsors(void **state)
{
    (void)state;
    store_order cur;
    memset(&cur, 0, sizeof cur);
    const char *one[] = {"A"};
    assert_int_equal(rules_check_order(&cur, NULL, 0), GJ_R_NONE);
    assert_int_equal(rules_check_order(&cur, one, 1), GJ_R_ORDER_MISMATCH);
    assert_int_equal(rules_check_order(NULL, NULL, 0), GJ_R_NONE);
    /* A corrupt stored count is refused, never read past the array. */
    cur.count = GJ_SPONSORS_MAX + 1;
    assert_int_equal(rules_check_order(&cur, one, GJ_SPONSORS_MAX + 1), GJ_R_ORDER_MISMATCH);
}

/* ---- R5 amount and use ---- */

static void test_amount_bounds(void **state)
{
    (void)state;
    assert_int_equal(rules_check_amount(1), GJ_R_NONE);
    assert_int_equal(rules_check_amount(GJ_AMOUNT_MAX), GJ_R_NONE);
    assert_int_equal(rules_check_amount(0), GJ_R_AMOUNT_INVALID);
    assert_int_equal(rules_check_amount(-1), GJ_R_AMOUNT_INVALID);
    assert_int_equal(rules_check_amount(GJ_AMOUNT_MAX + 1), GJ_R_AMOUNT_INVALID);
    assert_int_equal(rules_check_amount(INT64_MAX), GJ_R_AMOUNT_INVALID);
    assert_int_equal(rules_check_amount(INT64_MIN), GJ_R_AMOUNT_INVALID);
}

static void test_use_not_allowed(void **state)
{
    (void)state;
    gj_policy p;
    rules_policy_default(&p, "430100");
    for (int u = 1; u <= GJ_USE_MAX; u++)
        assert_int_equal(rules_check_use(&p, u), GJ_R_NONE);
    p.uses_allowed = GJ_USES_ALL & ~GJ_BIT(GJ_USE_CHECKUP);
    assert_int_equal(rules_check_use(&p, GJ_USE_CHECKUP), GJ_R_USE_NOT_ALLOWED);
    assert_int_equal(rules_check_use(&p, GJ_USE_OUTPATIENT), GJ_R_NONE);
    assert_int_equal(rules_check_use(NULL, GJ_USE_OUTPATIENT), GJ_R_USE_NOT_ALLOWED);
}

static void test_unknown_use_is_invalid(void **state)
{
    (void)state;
    gj_policy p;
    rules_policy_default(&p, "430100");
    p.uses_allowed = 0xffffffffu;
    assert_int_equal(rules_check_use(&p, 0), GJ_R_USE_INVALID);
    assert_int_equal(rules_check_use(&p, GJ_USE_MAX + 1), GJ_R_USE_INVALID);
    assert_int_equal(rules_check_use(&p, -3), GJ_R_USE_INVALID);
}

/* ---- R7 + R10 shareable ---- */

static void test_floor_keeps_2000_yuan(void **state)
{
    (void)state;
    gj_policy fz;
    fuzhou_policy(&fz);
    store_account a = make_account(250000, 0);
    assert_int_equal(rules_shareable(&a, fz.reserve_floor), 50000);
    a = make_account(150000, 0);
    assert_int_equal(rules_shareable(&a, fz.reserve_floor), 0);
    a = make_account(200000, 0);
    assert_int_equal(rules_shareable(&a, fz.reserve_floor), 0);
    a = make_account(200001, 0);
    assert_int_equal(rules_shareable(&a, fz.reserve_floor), 1);
}

static void test_held_money_not_shareable(void **state)
{
    (void)state;
    store_account a = make_account(10000, 3000);
    assert_int_equal(rules_shareable(&a, 0), 7000);
    a = make_account(10000, 10000);
    assert_int_equal(rules_shareable(&a, 0), 0);
    /* Held and floor both count. */
    a = make_account(250000, 30000);
    assert_int_equal(rules_shareable(&a, 200000), 20000);
    a = make_account(250000, 60000);
    assert_int_equal(rules_shareable(&a, 200000), 0);
}

static void test_shareable_never_negative_or_above_balance(void **state)
{
    (void)state;
    const int64_t vals[] = {INT64_MIN, -GJ_BALANCE_MAX, -1, 0, 1, 5000,
                            GJ_BALANCE_MAX, INT64_MAX};
    const size_t n = sizeof vals / sizeof vals[0];
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++)
            for (size_t k = 0; k < n; k++) {
                store_account a = make_account(vals[i], vals[j]);
                int64_t s = rules_shareable(&a, vals[k]);
                assert_true(s >= 0);
                assert_true(s <= (vals[i] > 0 ? vals[i] : 0));
            }
    assert_int_equal(rules_shareable(NULL, 0), 0);
}

/* ---- reasons ---- */

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_policy_is_permissive),
        cmocka_unit_test(test_default_policy_with_too_long_region_matches_no_province),
        cmocka_unit_test(test_relation_names_round_trip),
        cmocka_unit_test(test_use_names_round_trip),
        cmocka_unit_test(test_same_province_is_first_two_digits),
        cmocka_unit_test(test_active_employee_with_account_can_sponsor),
        cmocka_unit_test(test_resident_cannot_sponsor),
        cmocka_unit_test(test_inactive_employee_cannot_sponsor),
        cmocka_unit_test(test_employee_without_account_cannot_sponsor),
        cmocka_unit_test(test_active_employee_or_resident_can_benefit),
        cmocka_unit_test(test_inactive_beneficiary_refused),
        cmocka_unit_test(test_uninsured_beneficiary_refused),
        cmocka_unit_test(test_person_fields_valid),
        cmocka_unit_test(test_person_fields_refused_one_by_one),
        cmocka_unit_test(test_spouse_parent_refused_under_every_policy),
        cmocka_unit_test(test_sibling_refused_under_changsha_policy),
        cmocka_unit_test(test_hunan_allows_only_spouse_parent_child),
        cmocka_unit_test(test_every_close_relative_allowed_under_chengdu_policy),
        cmocka_unit_test(test_unknown_relation_is_invalid),
        cmocka_unit_test(test_same_province_any_region_allowed),
        cmocka_unit_test(test_cross_province_needs_both_in_pilot),
        cmocka_unit_test(test_region_not_live_refuses),
        cmocka_unit_test(test_refused_sponsor_region_for_resident_beneficiary),
        cmocka_unit_test(test_eleventh_beneficiary_refused_under_changsha_policy),
        cmocka_unit_test(test_cap_is_the_sponsor_regions),
        cmocka_unit_test(test_unlimited_policy_stops_at_node_limit),
        cmocka_unit_test(test_beneficiary_sponsor_count_bounded_by_order_size),
        cmocka_unit_test(test_one_relationship_per_person),
        cmocka_unit_test(test_order_must_list_each_sponsor_once),
        cmocka_unit_test(test_empty_order_matches_no_sponsors),
        cmocka_unit_test(test_amount_bounds),
        cmocka_unit_test(test_use_not_allowed),
        cmocka_unit_test(test_unknown_use_is_invalid),
        cmocka_unit_test(test_floor_keeps_2000_yuan),
        cmocka_unit_test(test_held_money_not_shareable),
        cmocka_unit_test(test_shareable_never_negative_or_above_balance),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
