/* Business rules of SPEC §2 as pure functions over plain structs: no LMDB, no sockets,
 * no clock. The node reads state, calls these, then writes what they decide. Every
 * function returns GJ_R_NONE when the rule holds, or the reason it fails. */
#ifndef GJ_RULES_H
#define GJ_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gj_limits.h"
#include "gj_names.h"
#include "reasons.h"

/* The stored records the rules look at (store.h, which callers that fill them include). */
typedef struct store_person store_person;
typedef struct store_account store_account;
typedef struct store_binding store_binding;
typedef struct store_order store_order;

/* Bit for a relation or use in the policy masks. */
#define GJ_BIT(v) (1u << (v))
#define GJ_RELATIONS_ALL                                                                       \
    (GJ_BIT(GJ_REL_SPOUSE) | GJ_BIT(GJ_REL_PARENT) | GJ_BIT(GJ_REL_CHILD) |                    \
     GJ_BIT(GJ_REL_SIBLING) | GJ_BIT(GJ_REL_GRANDPARENT) |                                     \
     GJ_BIT(GJ_REL_MATERNAL_GRANDPARENT) | GJ_BIT(GJ_REL_GRANDCHILD) |                         \
     GJ_BIT(GJ_REL_MATERNAL_GRANDCHILD))
#define GJ_USES_ALL                                                                            \
    (GJ_BIT(GJ_USE_OUTPATIENT) | GJ_BIT(GJ_USE_INPATIENT) | GJ_BIT(GJ_USE_SPECIAL_DISEASE) |   \
     GJ_BIT(GJ_USE_PHARMACY) | GJ_BIT(GJ_USE_PREMIUM) | GJ_BIT(GJ_USE_CHECKUP))

/* A region's policy (SPEC §3). */
typedef struct gj_policy {
    char region[GJ_ADMDVS_LEN + 1];
    bool live;                       /* R12: mutual aid switched on */
    uint32_t relations_allowed;      /* R2: GJ_BIT(relation) mask; spouse's parent never */
    uint32_t max_beneficiaries;      /* R8: per sponsor at once; 0 = unlimited */
    bool one_relationship_per_person;/* R8 */
    bool cascade;                    /* R6: true = cascade across sponsors, false = single */
    int64_t reserve_floor;           /* R10: fen a sponsor always keeps */
    bool cross_province_pilot;       /* R4 */
    uint32_t uses_allowed;           /* R5: GJ_BIT(use) mask */
    /* R12: sponsors from these regions may not aid this region's people of
     * refuse_insutype ("390"). */
    char refuse_insutype[4];
    size_t refuse_region_count;
    char refuse_regions[GJ_POLICY_REGIONS_MAX][GJ_ADMDVS_LEN + 1];
    uint32_t revoke_days;            /* R14: days a settlement stays revocable; 0 = always */
    uint32_t unbind_min_months;      /* R17: a binding cannot be ended sooner; 0 = any time */
    bool sponsor_choice;             /* R19: a patient may name the one sponsor for a bill */
    uint32_t verify_age;             /* R18: older than this, a beneficiary is bound only
                                      * with an identity check; 0 = never asked */
    uint32_t max_beneficiaries_per_year; /* R22: distinct beneficiaries a sponsor binds in a
                                          * calendar year; 0 = unlimited */
    bool family_pool;                /* R20: the region runs family pools */
    int64_t pool_floor;              /* R20: fen a contributor keeps in the own account */
    uint32_t pool_members_max;       /* R20: members of one pool besides the creator */
    bool wallet;                     /* R24: sends to and keeps cross-province wallets */
    int64_t wallet_transfer_max;     /* R24: fen one transfer may carry */
    uint32_t wallet_transfers_per_day; /* R24: transfers a sponsor may make a day */
    int32_t wallet_blackout_start_s; /* R24: no transfers from this second of the day ... */
    int32_t wallet_blackout_end_s;   /* ... until this one (wrapping midnight); equal: none */
} gj_policy;

/* A policy with every knob at its permissive default for region: live, all close
 * relatives, unlimited, cascade, no floor, not in the pilot, all uses, nothing refused. */
void rules_policy_default(gj_policy *policy, const char *region);

/* Name <-> value for relations and uses as written in configs and the CLI
 * ("spouse", "maternal_grandparent", "outpatient", ...). Parse returns 0 when unknown.
 * The same as gj_relation_name() and the rest of gj_names.h. */
const char *rules_relation_name(int relation);
int rules_relation_parse(const char *name);
const char *rules_use_name(int use);
int rules_use_parse(const char *name);

/* The province of a region: its first two digits. */
bool rules_same_province(const char *region_a, const char *region_b);

/* ---- person checks ---- */

/* R1: active, insutype 310, with an account. */
gj_reason rules_check_sponsor(const store_person *sponsor, bool has_account);
/* R2: active, insured (310 or 390). */
gj_reason rules_check_beneficiary(const store_person *beneficiary);
/* Enroll: psn_no present, certno valid (GB 11643), insutype 310/390, status known,
 * region 6 digits. */
gj_reason rules_check_person_fields(const store_person *person);

/* ---- binding checks ---- */

/* R2: relation known, never a spouse's parent, allowed by the sponsor region's policy. */
gj_reason rules_check_relation(const gj_policy *sponsor_policy, int relation);
/* R4 + R12: both regions live; same province, or both in the pilot; the beneficiary
 * region does not refuse sponsors from the sponsor's region for the beneficiary's
 * insutype. */
gj_reason rules_check_scope(const gj_policy *sponsor_policy, const gj_policy *beneficiary_policy,
                            const char *beneficiary_insutype);
/* R8: caps, given the counts of bindings in force (today or later) that each person
 * already has, excluding the one being made. */
gj_reason rules_check_caps(const gj_policy *sponsor_policy, const gj_policy *beneficiary_policy,
                           size_t sponsor_as_sponsor, size_t sponsor_as_beneficiary,
                           size_t beneficiary_as_sponsor, size_t beneficiary_as_beneficiary);

/* R18: the age in full years on date of the person whose 18-character certno gives
 * their birth date (digits 7-14); -1 when it does not hold one. */
int rules_age_on(const char *certno, int32_t date);
/* R18: a beneficiary of age needs an identity check (verified) where the policy asks. */
gj_reason rules_check_verification(const gj_policy *policy, int age, bool verified);

/* R24: is second_of_day (China Standard Time) inside the policy's blackout hours? */
bool rules_wallet_blackout(const gj_policy *policy, int32_t second_of_day);
/* R24: a transfer's own checks at the sponsor's node: size, the day's count, the hour. */
gj_reason rules_check_wallet_transfer(const gj_policy *policy, int64_t amount, size_t made_today, int32_t second_of_day);

/* R22: bound_this_year is how many other beneficiaries the sponsor bound this calendar
 * year (bindings begun this year, ended or not). */
gj_reason rules_check_yearly_cap(const gj_policy *sponsor_policy, size_t bound_this_year);

/* R9: does the binding pay on date (yyyymmdd)? begin_date <= date < end_date (or open). */
bool rules_binding_pays_on(const store_binding *binding, int32_t date);
/* R9: is the binding still in force or yet to start on date (not ended by then)? */
bool rules_binding_in_force(const store_binding *binding, int32_t date);

/* R9, R17 for a new binding of a pair that has existing (NULL when it never had one): one
 * still in force refuses it, as BINDING_EXISTS, or REBIND_TOO_SOON when it was ended
 * and still pays today (seed 002: bind again from the next day). */
gj_reason rules_check_rebind(const store_binding *existing, int32_t today);
/* R17: a chosen last day (0 = open) is today or later. */
gj_reason rules_check_last_date(int32_t last_date, int32_t today);
/* R9, R17 for an unbinding on today: not already ending by tomorrow, and at least the
 * policy's months after its first day. */
gj_reason rules_check_unbind(const gj_policy *policy, const store_binding *binding, int32_t today);

/* R11: proposed must hold each of current's sponsors exactly once, nothing else. */
gj_reason rules_check_order(const store_order *current, const char *const *proposed,
                            size_t proposed_count);

/* ---- settlement ---- */

/* Amount in (0, GJ_AMOUNT_MAX]. */
gj_reason rules_check_amount(int64_t amount);
/* R5: use known and allowed. */
gj_reason rules_check_use(const gj_policy *policy, int use);

/* What mutual aid may take from an account (R7, R10): balance - held - floor, at
 * least 0. */
int64_t rules_shareable(const store_account *account, int64_t reserve_floor);

/* The deduction walk (R6, R7, R15) is the planner: node/xr/planner.h. */

#endif
