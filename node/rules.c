/* Business rules of SPEC §2. Pure: no I/O, no clock, no allocation. Inputs come from
 * the wire or from stored records, so every function tolerates NULL and out-of-range
 * values and fails closed (refuses) rather than trusting them. */
#include "rules.h"

#include <string.h>

#include "gj_util.h"
#include "store.h"

/* ---- names ---- */

const char *rules_relation_name(int relation)
{
    return gj_relation_name(relation);
}

int rules_relation_parse(const char *name)
{
    return gj_relation_parse(name);
}

const char *rules_use_name(int use)
{
    return gj_use_name(use);
}

int rules_use_parse(const char *name)
{
    return gj_use_parse(name);
}

/* ---- policy ---- */

void rules_policy_default(gj_policy *policy, const char *region)
{
    if (policy == NULL)
        return;
    memset(policy, 0, sizeof *policy);
    /* A region that does not fit stays "": it then matches no province (fails closed). */
    gj_strcpy_fit(policy->region, sizeof policy->region, region);
    policy->live = true;
    policy->relations_allowed = GJ_RELATIONS_ALL;
    policy->max_beneficiaries = 0;
    policy->one_relationship_per_person = false;
    policy->cascade = true;
    policy->reserve_floor = 0;
    policy->cross_province_pilot = false;
    policy->uses_allowed = GJ_USES_ALL;
    memcpy(policy->refuse_insutype, "390", sizeof policy->refuse_insutype);
    policy->refuse_region_count = 0;
    policy->revoke_days = 0;
    policy->family_pool = false;
    policy->pool_floor = 200000; /* seed 002: the creator keeps 2000 yuan */
    policy->pool_members_max = 8;
    policy->wallet = false;
    policy->wallet_transfer_max = 200000; /* the pilot: 2000 yuan a transfer */
    policy->wallet_transfers_per_day = 3;
    policy->wallet_blackout_start_s = 22 * 3600; /* 22:00-06:00 */
    policy->wallet_blackout_end_s = 6 * 3600;
}

bool rules_wallet_blackout(const gj_policy *policy, int32_t t)
{
    int32_t from = policy->wallet_blackout_start_s, to = policy->wallet_blackout_end_s;
    if (from == to)
        return false;
    return from < to ? t >= from && t < to : t >= from || t < to;
}

gj_reason rules_check_wallet_transfer(const gj_policy *policy, int64_t amount, size_t made_today, int32_t t)
{
    if (!policy->wallet)
        return GJ_R_WALLET_NOT_OFFERED;
    if (amount > policy->wallet_transfer_max)
        return GJ_R_WALLET_TRANSFER_TOO_LARGE;
    if (rules_wallet_blackout(policy, t))
        return GJ_R_WALLET_BLACKOUT;
    if (made_today >= policy->wallet_transfers_per_day)
        return GJ_R_WALLET_DAILY_LIMIT;
    return GJ_R_NONE;
}

bool rules_same_province(const char *region_a, const char *region_b)
{
    /* Only real division codes have a province; "" or junk never matches anything. */
    if (!gj_all_digits(region_a, 2) || !gj_all_digits(region_b, 2))
        return false;
    return region_a[0] == region_b[0] && region_a[1] == region_b[1];
}

/* ---- person checks ---- */

/* Fixed buffers read from disk or the wire may lack their NUL; never strlen past them. */
static bool rules_terminated(const char *buf, size_t size)
{
    return memchr(buf, '\0', size) != NULL;
}

/* insutype is char[4]: compare all four bytes, so "3100" or an unterminated value fails. */
static bool rules_insutype_is(const char insutype[4], const char *want)
{
    return memcmp(insutype, want, 4) == 0;
}

static bool rules_insutype_known(const char insutype[4])
{
    return rules_insutype_is(insutype, "310") || rules_insutype_is(insutype, "390");
}

gj_reason rules_check_sponsor(const store_person *sponsor, bool has_account)
{
    if (sponsor == NULL)
        return GJ_R_SPONSOR_NOT_ACTIVE;
    /* Employee first: a resident can never sponsor, whatever their status. */
    if (!rules_insutype_is(sponsor->insutype, "310"))
        return GJ_R_SPONSOR_NOT_EMPLOYEE;
    if (sponsor->status != STORE_PERSON_ACTIVE)
        return GJ_R_SPONSOR_NOT_ACTIVE;
    if (!has_account)
        return GJ_R_SPONSOR_NO_ACCOUNT;
    return GJ_R_NONE;
}

gj_reason rules_check_beneficiary(const store_person *beneficiary)
{
    if (beneficiary == NULL || beneficiary->status != STORE_PERSON_ACTIVE)
        return GJ_R_BENEFICIARY_NOT_ACTIVE;
    if (!rules_insutype_known(beneficiary->insutype))
        return GJ_R_INSUTYPE_INVALID;
    return GJ_R_NONE;
}

gj_reason rules_check_person_fields(const store_person *person)
{
    if (person == NULL)
        return GJ_R_FIELD_INVALID;
    if (!rules_terminated(person->psn_no, sizeof person->psn_no) || person->psn_no[0] == '\0')
        return GJ_R_FIELD_INVALID;
    if (!rules_terminated(person->certno, sizeof person->certno) ||
        !gj_certno_valid(person->certno))
        return GJ_R_CERTNO_INVALID;
    if (!rules_insutype_known(person->insutype))
        return GJ_R_INSUTYPE_INVALID;
    if (person->status < STORE_PERSON_ACTIVE || person->status > STORE_PERSON_TERMINATED)
        return GJ_R_STATUS_INVALID;
    if (!rules_terminated(person->admdvs, sizeof person->admdvs) ||
        strlen(person->admdvs) != GJ_ADMDVS_LEN || !gj_all_digits(person->admdvs, GJ_ADMDVS_LEN))
        return GJ_R_FIELD_INVALID;
    /* The name is optional, but must still be a terminated string. */
    if (!rules_terminated(person->name, sizeof person->name))
        return GJ_R_FIELD_INVALID;
    return GJ_R_NONE;
}

/* ---- binding checks ---- */

gj_reason rules_check_relation(const gj_policy *sponsor_policy, int relation)
{
    if (relation < 1 || relation > GJ_REL_MAX)
        return GJ_R_RELATION_INVALID;
    /* National rule, not a policy knob: a mask with this bit set changes nothing. */
    if (relation == GJ_REL_SPOUSE_PARENT)
        return GJ_R_SPOUSE_PARENT_NOT_ALLOWED;
    if (sponsor_policy == NULL || (sponsor_policy->relations_allowed & GJ_BIT(relation)) == 0)
        return GJ_R_RELATION_NOT_ALLOWED;
    return GJ_R_NONE;
}

static bool rules_region_listed(const gj_policy *policy, const char *region)
{
    size_t n = policy->refuse_region_count;
    if (n > GJ_POLICY_REGIONS_MAX)
        n = GJ_POLICY_REGIONS_MAX;
    for (size_t i = 0; i < n; i++)
        if (strncmp(policy->refuse_regions[i], region, sizeof policy->refuse_regions[i]) == 0)
            return true;
    return false;
}

gj_reason rules_check_scope(const gj_policy *sponsor_policy, const gj_policy *beneficiary_policy,
                            const char *beneficiary_insutype)
{
    /* A region that is not live (or unknown) takes part in nothing. */
    if (sponsor_policy == NULL || beneficiary_policy == NULL || !sponsor_policy->live ||
        !beneficiary_policy->live)
        return GJ_R_REGION_NOT_LIVE;
    if (!rules_same_province(sponsor_policy->region, beneficiary_policy->region) &&
        !(sponsor_policy->cross_province_pilot && beneficiary_policy->cross_province_pilot))
        return GJ_R_CROSS_PROVINCE_NOT_IN_PILOT;
    /* Decided by the beneficiary's region, for its own people of the listed insutype. */
    if (beneficiary_insutype != NULL && beneficiary_policy->refuse_insutype[0] != '\0' &&
        strncmp(beneficiary_insutype, beneficiary_policy->refuse_insutype,
                sizeof beneficiary_policy->refuse_insutype) == 0 &&
        rules_region_listed(beneficiary_policy, sponsor_policy->region))
        return GJ_R_SPONSOR_REGION_REFUSED;
    return GJ_R_NONE;
}

gj_reason rules_check_caps(const gj_policy *sponsor_policy, const gj_policy *beneficiary_policy,
                           size_t sponsor_as_sponsor, size_t sponsor_as_beneficiary,
                           size_t beneficiary_as_sponsor, size_t beneficiary_as_beneficiary)
{
    if (sponsor_policy == NULL || beneficiary_policy == NULL)
        return GJ_R_REGION_NOT_LIVE;
    if (sponsor_policy->max_beneficiaries > 0 &&
        sponsor_as_sponsor >= sponsor_policy->max_beneficiaries)
        return GJ_R_BINDING_LIMIT_REACHED;
    /* Whatever the policy says, a node keeps at most this many per sponsor. */
    if (sponsor_as_sponsor >= GJ_BENEFICIARIES_MAX)
        return GJ_R_BINDING_LIMIT_REACHED;
    /* The deduction order holds GJ_SPONSORS_MAX entries; one more could not be ordered. */
    if (beneficiary_as_beneficiary >= GJ_SPONSORS_MAX)
        return GJ_R_SPONSORS_LIMIT_REACHED;
    /* Either region may impose it: the person may live under either. */
    if ((sponsor_policy->one_relationship_per_person ||
         beneficiary_policy->one_relationship_per_person) &&
        (sponsor_as_sponsor > 0 || sponsor_as_beneficiary > 0 || beneficiary_as_sponsor > 0 ||
         beneficiary_as_beneficiary > 0))
        return GJ_R_ONE_RELATIONSHIP_ONLY;
    return GJ_R_NONE;
}

int rules_age_on(const char *certno, int32_t date)
{
    if (certno == NULL || strlen(certno) != 18)
        return -1;
    int32_t born = 0;
    for (int i = 6; i < 14; i++) {
        if (certno[i] < '0' || certno[i] > '9')
            return -1;
        born = born * 10 + (certno[i] - '0');
    }
    if (!gj_date_valid(born) || born > date)
        return -1;
    /* Full years: the birthday this year counts once reached (month and day compared). */
    int age = date / 10000 - born / 10000;
    if (date % 10000 < born % 10000)
        age--;
    return age;
}

gj_reason rules_check_verification(const gj_policy *policy, int age, bool verified)
{
    if (policy->verify_age == 0 || verified)
        return GJ_R_NONE;
    /* An age the certno does not give is treated as over it: the check is asked for. */
    return age >= 0 && age <= (int)policy->verify_age ? GJ_R_NONE : GJ_R_VERIFICATION_REQUIRED;
}

gj_reason rules_check_yearly_cap(const gj_policy *sponsor_policy, size_t bound_this_year)
{
    if (sponsor_policy->max_beneficiaries_per_year > 0 &&
        bound_this_year >= sponsor_policy->max_beneficiaries_per_year)
        return GJ_R_YEARLY_LIMIT_REACHED;
    return GJ_R_NONE;
}

bool rules_binding_pays_on(const store_binding *binding, int32_t date)
{
    if (binding == NULL)
        return false;
    return binding->begin_date <= date && rules_binding_in_force(binding, date);
}

bool rules_binding_in_force(const store_binding *binding, int32_t date)
{
    if (binding == NULL)
        return false;
    /* end_date is the first day it no longer pays: unbinding today still pays today. */
    return binding->end_date == 0 || date < binding->end_date;
}

gj_reason rules_check_rebind(const store_binding *existing, int32_t today)
{
    if (existing == NULL || !rules_binding_in_force(existing, today))
        return GJ_R_NONE;
    return existing->end_date == gj_date_next(today) ? GJ_R_REBIND_TOO_SOON : GJ_R_BINDING_EXISTS;
}

gj_reason rules_check_last_date(int32_t last_date, int32_t today)
{
    if (last_date == 0)
        return GJ_R_NONE;
    return gj_date_valid(last_date) && last_date >= today ? GJ_R_NONE : GJ_R_BINDING_DATE_INVALID;
}

gj_reason rules_check_unbind(const gj_policy *policy, const store_binding *binding, int32_t today)
{
    if (binding->end_date != 0 && binding->end_date <= gj_date_next(today))
        return GJ_R_BINDING_ALREADY_ENDING;
    if (policy->unbind_min_months > 0 &&
        today < gj_date_add_months(binding->begin_date, (int)policy->unbind_min_months))
        return GJ_R_UNBIND_TOO_SOON;
    return GJ_R_NONE;
}

static bool rules_psn_eq(const char *a, const char *b)
{
    return strncmp(a, b, GJ_PSN_NO_MAX + 1) == 0;
}

gj_reason rules_check_order(const store_order *current, const char *const *proposed,
                            size_t proposed_count)
{
    size_t current_count = current != NULL ? current->count : 0;
    /* A stored count beyond the array is corrupt: never read past it. */
    if (current_count > GJ_SPONSORS_MAX || proposed_count != current_count)
        return GJ_R_ORDER_MISMATCH;
    if (proposed_count > 0 && proposed == NULL)
        return GJ_R_ORDER_MISMATCH;
    /* Same count, each one current, none twice: so proposed is a permutation. */
    for (size_t i = 0; i < proposed_count; i++) {
        if (proposed[i] == NULL)
            return GJ_R_ORDER_MISMATCH;
        for (size_t j = 0; j < i; j++)
            if (rules_psn_eq(proposed[i], proposed[j]))
                return GJ_R_ORDER_MISMATCH;
        bool found = false;
        for (size_t k = 0; k < current_count && !found; k++)
            found = rules_psn_eq(proposed[i], current->sponsors[k].psn_no);
        if (!found)
            return GJ_R_ORDER_MISMATCH;
    }
    return GJ_R_NONE;
}

/* ---- settlement ---- */

gj_reason rules_check_amount(int64_t amount)
{
    if (amount <= 0 || amount > GJ_AMOUNT_MAX)
        return GJ_R_AMOUNT_INVALID;
    return GJ_R_NONE;
}

gj_reason rules_check_use(const gj_policy *policy, int use)
{
    if (use < 1 || use > GJ_USE_MAX)
        return GJ_R_USE_INVALID;
    if (policy == NULL || (policy->uses_allowed & GJ_BIT(use)) == 0)
        return GJ_R_USE_NOT_ALLOWED;
    return GJ_R_NONE;
}

int64_t rules_shareable(const store_account *account, int64_t reserve_floor)
{
    if (account == NULL || account->balance <= 0)
        return 0;
    /* Subtract only non-negative values smaller than what is left, so nothing can
     * overflow and a corrupt negative held or floor never adds money. */
    int64_t left = account->balance;
    int64_t held = account->held > 0 ? account->held : 0;
    int64_t floor = reserve_floor > 0 ? reserve_floor : 0;
    if (held >= left)
        return 0;
    left -= held;
    if (floor >= left)
        return 0;
    return left - floor;
}
