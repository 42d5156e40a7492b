/* The deduction walk: see planner.h. */
#include "planner.h"

#include <string.h>

/* GJ_PLANNER_MUTANT breaks one rule on purpose, for the test that shows the planner's
 * unit tests notice (tests/unit/CMakeLists.txt): 1 ignores what a sponsor can give (its
 * floor), 2 lets single-sponsor regions cascade, 3 lets a premium be paid in part. */
#ifndef GJ_PLANNER_MUTANT
#define GJ_PLANNER_MUTANT 0
#endif

static int64_t min64(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

void xr_plan_walk(xr_plan *p)
{
    p->own_pay = p->mulaid_pay = p->cash_pay = 0;
    p->ask_leg = -1;
    p->ask_amount = 0;
    p->ask_is_last_remote = false;
    p->premium_short = false;
    if (p->leg_count > GJ_SPONSORS_MAX)
        p->leg_count = GJ_SPONSORS_MAX;
    for (uint32_t i = 0; i < GJ_SPONSORS_MAX; i++)
        p->legs[i].pay = 0;
    if (p->amount <= 0 || p->amount > GJ_AMOUNT_MAX)
        return;

    /* Each step takes at most what remains, so remaining only shrinks and no sum can
     * overflow. A premium never comes from the patient's own account. */
    int64_t remaining = p->amount;
    if (!p->premium && p->own_available > 0)
        p->own_pay = min64(p->own_available, remaining);
    remaining -= p->own_pay;

    for (uint32_t i = 0; i < p->leg_count && remaining > 0 && p->live; i++) {
        xr_plan_leg *leg = &p->legs[i];
        if (!leg->known) {
            p->ask_leg = (int32_t)i;
            p->ask_amount = remaining;
            p->ask_is_last_remote = true;
            for (uint32_t j = i + 1; j < p->leg_count; j++)
                if (p->legs[j].remote)
                    p->ask_is_last_remote = false;
            break;
        }
        if (leg->available <= 0)
            continue;
        leg->pay = GJ_PLANNER_MUTANT == 1 ? remaining : min64(leg->available, remaining);
        p->mulaid_pay += leg->pay;
        remaining -= leg->pay;
        if (!p->cascade && GJ_PLANNER_MUTANT != 2)
            break;
    }
    p->cash_pay = remaining;
    if (p->premium && p->ask_leg < 0 && remaining > 0 && GJ_PLANNER_MUTANT != 3) {
        /* All or nothing: nobody pays. */
        p->premium_short = true;
        for (uint32_t i = 0; i < p->leg_count; i++)
            p->legs[i].pay = 0;
        p->mulaid_pay = 0;
        p->cash_pay = p->amount;
    }
}

void xr_plan_leg_answered(xr_plan *p, uint32_t leg, int64_t held)
{
    if (leg >= GJ_SPONSORS_MAX)
        return;
    p->legs[leg].known = true;
    p->legs[leg].available = held > 0 ? held : 0;
    xr_plan_walk(p);
}

void xr_plan_correct(xr_plan *p, uint32_t leg, int64_t held)
{
    if (leg >= GJ_SPONSORS_MAX || leg >= p->leg_count)
        return;
    /* What was paid before the leg is fixed: the walk takes exactly that again. */
    p->own_available = p->own_pay;
    for (uint32_t i = 0; i < leg; i++) {
        p->legs[i].known = true;
        p->legs[i].available = p->legs[i].pay;
    }
    /* After it, only this node's sponsors: another remote one would need a hold. */
    for (uint32_t i = leg + 1; i < p->leg_count; i++)
        if (p->legs[i].remote) {
            p->legs[i].known = true;
            p->legs[i].available = 0;
        }
    xr_plan_leg_answered(p, leg, held);
}
