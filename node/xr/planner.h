/* The deduction walk (SPEC R6, R7, R10, R15) as one pure function over plain structs:
 * no store, no sockets, no clock. Every settlement uses it: a local one (every sponsor
 * known), a cross-region one (remote sponsors are asked one at a time, and the walk
 * says which to ask next and for how much), the decision written while the last hold is
 * on its way, and the correction when that hold gave less.
 *
 * The walk: the patient's own account first; then the sponsors in the patient's order.
 * Cascade takes from each until the amount is paid; single-sponsor takes only from the
 * first sponsor that gives anything. A sponsor with nothing is skipped, never driven
 * negative. A premium (R15) is paid in full by its one sponsor or not at all. Whatever
 * is left is cash. own_pay + mulaid_pay + cash_pay == amount, always. */
#ifndef GJ_XR_PLANNER_H
#define GJ_XR_PLANNER_H

#include <stdbool.h>
#include <stdint.h>

#include "gj_limits.h"

typedef struct xr_plan_leg {
    bool remote;     /* the sponsor's money is on another node */
    bool known;      /* what it can give is known: always for a local sponsor; for a
                        remote one once its hold answered (or failed: available 0) */
    int64_t available; /* local: shareable now; remote and known: what it held */
    int64_t pay;     /* out: what this sponsor pays */
} xr_plan_leg;

typedef struct xr_plan {
    /* in */
    int64_t amount;        /* (0, GJ_AMOUNT_MAX]; anything else plans nothing */
    int64_t own_available; /* the patient's balance - held; <= 0: nothing */
    bool cascade;          /* the coordinating region's R6 mode */
    bool live;             /* R12: mutual aid on; off, no sponsor pays */
    bool premium;          /* R15: all from the sponsors or nothing */
    uint32_t leg_count;    /* at most GJ_SPONSORS_MAX */
    xr_plan_leg legs[GJ_SPONSORS_MAX];
    /* out */
    int64_t own_pay, mulaid_pay, cash_pay;
    /* The walk reached a remote sponsor not asked yet: ask it to hold ask_amount (what
     * is still owed). Until it answers, it and every sponsor after it pay nothing here.
     * ask_is_last_remote: no remote sponsor after it, so the decision may be written
     * while its hold is on its way. -1 when nothing is to be asked. */
    int32_t ask_leg;
    int64_t ask_amount;
    bool ask_is_last_remote;
    /* A premium the sponsors cannot pay in full: nothing may move. */
    bool premium_short;
} xr_plan;

/* Walk the plan with what is known now; fills the out fields. */
void xr_plan_walk(xr_plan *plan);

/* A remote leg answered: it holds `held` (0 for nothing, no answer, or an answer that
 * cannot be trusted). */
void xr_plan_leg_answered(xr_plan *plan, uint32_t leg, int64_t held);

/* The correction after a hold decided before it answered: the legs before `leg` pay
 * what they paid (own_pay, and each leg's pay as decided), `leg` holds `held`, and the
 * local sponsors after it are known with what they can give now. Walk again: the ones
 * after it pay what the short hold left, as the walk would have had them. */
void xr_plan_correct(xr_plan *plan, uint32_t leg, int64_t held);

#endif
