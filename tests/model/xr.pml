/* Cross-region settlement as node/xr/ (coordinator.c, correction.c, participant.c,
 * delivery.c, resolver.c, deciding.c) and node/lifecycle.c do it (docs/federation.md, "The model"), for spin to check
 * exhaustively: tests/model/check.sh.
 *
 * One settlement of AMT fen for a patient whose node coordinates. The deduction order
 * (cascade) is: sponsor A on participant 0 (leg 0, asked and answered first), sponsor B
 * on participant 1 (leg 1, the last remote sponsor: decided while its hold is made), then
 * sponsor L on the coordinator's own node; what they do not pay is cash. Every region
 * keeps a reserve floor of FLOOR fen. The institution may repeat its call (it gets the
 * answer on record) and, once answered, revoke the settlement.
 *
 * Faults, each possible at any step:
 *   - the network loses any request, delivers requests in any order, and delivers a
 *     request twice (at most DUPS duplicates in all); each distinct message is either in
 *     flight or not (sent again while in flight, it is the same message);
 *   - any call may time out, whether or not its request travelled and whether or not it
 *     was carried out; an answer to a caller that gave up is dropped (as on a closed nng
 *     context). A caller that still waits takes its answer in the step that makes it: an
 *     answer lost or late is the caller timing out first;
 *   - the coordinator crashes and restarts (at most CRASH_C times): the store survives;
 *     memory does not: the deciding set, acknowledgements not yet written, the worker and
 *     the institution's call, the resolver's round, the calls waiting for answers;
 *   - a participant crashes and restarts, any number of times: its store survives, and
 *     all it has in memory is what its resolver is asking (Peer/QueryDecision) and the
 *     answers it has not sent yet, so its crash is the step in which that call times out
 *     and those answers are lost (to their callers, a timeout);
 *   - a write of the coordinator's store fails (at most STORE_FAILS times): the decision
 *     written while the hold is made, its correction, or the resolver's correction.
 * The coordinator may give up its remaining crashes at any step, so that every state in
 * which the system comes to rest is checked.
 *
 * Simplifications (the C does more; none changes what is checked):
 *   - the patient's own account is empty; single-sponsor policy, premiums, reversal, a
 *     deadline too short to ask a sponsor, two copies of the call racing through two
 *     nodes, and a repeat of the call after a crash that left no decision (a new
 *     settlement) are not modelled;
 *   - each store transaction is one atomic step; the worker's computation between two
 *     transactions is merged into the one that follows;
 *   - the worker's own delivery of its decision (xr_deliver) is left to the resolver's
 *     rounds, which send the same from the same record; void_undecided's voids are sent
 *     once without waiting (their answers mark nothing: no decision is stored);
 *   - a participant asks about a held hold at any time, not only after resolve_after_ms;
 *   - the resolver reads each leg when it comes to it; the C reads all of a round's
 *     decisions at its start. A reading older than that differs by a revoke or a
 *     correction since: the first is covered by the network delaying what was sent, the
 *     second the C reads again (see -DCODE_PUSH_RACE below for where it does not);
 *   - a call repeated with the same content after a definite answer (a refusal, or "ask
 *     again") while nothing it depends on has changed would get the same answer and
 *     change nothing: such repeats are not made. A protocol that can never finish then
 *     comes to rest, and the check at rest sees it.
 *
 * Two reads in the C were once not atomic with the look at the deciding set that guards
 * them; the C now takes one look each (as_it_stands in delivery.c, and the order in
 * call_replay_if_answered), as the model does by default. Compiled with -DCODE_PUSH_RACE
 * or -DCODE_REPLAY_RACE it does as the C did, and spin finds the violation each allowed
 * (docs/federation.md, "The model").
 *
 * Variants broken on purpose, which the check must report as failing:
 *   -DBROKEN_NO_FENCE   a void of a hold never seen writes no fence;
 *   -DBROKEN_NO_RESEND  the resolver sends each post or void once, never again.
 *
 * Checked: every assertion below, at every step, and at rest (proctype Monitor); no
 * invalid end state.
 */

/* ---- the scenario ---- */
#define AMT    2   /* the bill, fen */
#define FLOOR  1   /* every region's reserve floor */
#define BAL0   2   /* sponsor A (participant 0): can share 1 */
#define BAL1   2   /* sponsor B (participant 1): can share 1 */
#define BALL   2   /* sponsor L (coordinator): can share 1 */
#define BALP(p) ((p) == 0 -> BAL0 : BAL1)

#ifndef CRASH_C
#define CRASH_C 2
#endif
#ifndef DUPS
#define DUPS 1
#endif
#ifndef STORE_FAILS
#define STORE_FAILS 1
#endif

/* Probes: the first time the search takes a path that matters, pan prints "probe n";
 * check.sh fails a run that misses one, so a model that no longer reaches a path does
 * not pass for the wrong reason. The count is C, outside the state: it changes nothing
 * spin explores. */
c_decl { unsigned gj_probes; }
#define PROBES 15
#define REACH(n) c_code { if (!(gj_probes & (1u << n))) { gj_probes |= 1u << n; printf("probe %d\n", n); } }
#define REACH_IF(c, n) if :: (c) -> REACH(n) :: else -> skip fi

/* store_hold_state, 0: no record */
#define H_NONE     0
#define H_HELD     1
#define H_POSTED   2
#define H_VOIDED   3
#define H_REFUNDED 4

/* store_leg_action, 0: no such leg in the decision */
#define A_NONE   0
#define A_POST   1
#define A_VOID   2
#define A_REFUND 3

/* Requests to a participant, one bit each: Peer/Hold, and Peer/Resolve by action,
 * amount and up_to. */
#define M_HOLD  1
#define M_VOID  2
#define M_POST1 4
#define M_POST2 8
#define M_UP1   16   /* POST with up_to */
#define M_UP2   32
#define M_RF1   64   /* REFUND_LEG */
#define M_RF2   128
#define CODE(a, m, up) ((a) == A_VOID -> M_VOID : ((a) == A_POST -> ((up) -> ((m) == 1 -> M_UP1 : M_UP2) : ((m) == 1 -> M_POST1 : M_POST2)) : ((m) == 1 -> M_RF1 : M_RF2)))
#define ACT_OF(b) ((b) == M_VOID -> A_VOID : (((b) == M_RF1 || (b) == M_RF2) -> A_REFUND : A_POST))
#define AMT_OF(b) (((b) == M_POST1 || (b) == M_UP1 || (b) == M_RF1) -> 1 : ((b) == M_VOID -> 0 : 2))
#define UP_OF(b)  ((b) == M_UP1 || (b) == M_UP2)

/* QueryDecisionReply: "ask again", or an action with its amount as a request code */
#define Q_AGAIN 255
/* xr_query_decision_check, about leg p, now */
#define QANS(p) (deciding -> Q_AGAIN : ((dec && (dact[p] == A_POST || dact[p] == A_REFUND)) -> CODE(dact[p], damt[p], 0) : M_VOID))

/* the worker (run_plan) */
#define W_IDLE  0
#define W_START 1
#define W_HOLD0 2   /* request_hold, leg 0 */
#define W_SPEC  3   /* decide_while_holding, leg 1: the write and the hold both under way */
#define W_FIX   4   /* its correction (xr_correct_apply) */
/* the resolver (resolve_round, xr_push_decision) */
#define R_IDLE  0
#define R_CHECK 1
#define R_LEG   2
#define R_WAIT  3

/* ---- participants' stores: the sponsor's account and the hold (setl_id, leg p) ---- */
byte bal[2], held[2];
byte hst[2], hamt[2];

/* ---- the coordinator's store ---- */
bit  dec;                  /* store_decision */
byte dact[2], damt[2];
bit  dspec[2], dack[2];
bit  rec;                  /* store_settlement, and the call's answer on record */
byte r_part[2], r_L, r_cash;
bit  revoked;
byte bal_L;                /* sponsor L's account */

/* ---- the coordinator's memory ---- */
bit  deciding, unknown;    /* in the deciding set; with its outcome unknown */
bit  pack[2];              /* acknowledgements noted, not yet written (note_ack) */
byte packact[2];
byte ws;                   /* the worker deciding the institution's call */
byte w_pl0, w_ask1, w_held1;
bit  w_nv0, w_nv1, w_written, w_wfail, w_hdone;
byte rs, rk, rcode;        /* the resolver: where it is, the leg, the request it waits on */
bit  rup;
byte rdone[2];             /* leg k's request refused last time (see header) */
#ifdef CODE_PUSH_RACE
byte sact[2], samt[2];     /* the decision as the round read it at its start */
bit  sspec[2], sack[2];
#endif
#ifdef CODE_REPLAY_RACE
bit  irs;                  /* a repeat of the call has read the answer on record */
byte i_part[2], i_L, i_cash;
#endif

/* ---- the network ---- */
byte toP[2];               /* requests in flight to participant p */
byte hold_ask[2];          /* the amount the Hold to p asks */
bit  qreq[2];              /* Peer/QueryDecision from p in flight */

/* ---- participants' memory ---- */
bit  pq_wait[2];           /* ask_about_hold waits for the coordinator's answer */
byte pq_memo[2];           /* an answer that changed nothing (see header) */

/* ---- the institution ---- */
bit  answered;
byte a_part[2], a_L, a_cash;

/* ---- fault budgets ---- */
byte ccrash = CRASH_C, dups = DUPS, sfail = STORE_FAILS;

/* ---- ghosts, for the assertions only ---- */
byte nres[2];              /* resolutions of hold p: HELD to POSTED or VOIDED */
bit  pvoid[2];             /* a void of (setl_id, leg p) was applied */
bit  crashed;              /* the coordinator has crashed */

/* scratch, used only within one atomic step */
hidden byte s_a, s_b, s_c, s_mv, s_ok, l_act, l_amt, l_spec, l_ack, m_b, resolve_refused;

/* ======================= the coordinator's parts ======================= */

/* The institution's answer: the first it gets, and every later one the same. */
inline answer(x0, x1, xL, xc) {
	if
	:: !answered -> answered = 1; a_part[0] = x0; a_part[1] = x1; a_L = xL; a_cash = xc
	:: answered ->
		/* SPEC §5: an answer given is never taken back */
		assert(a_part[0] == x0 && a_part[1] == x1 && a_L == xL && a_cash == xc)
	fi
}

/* settle_decide_apply, with leg 1 decided as if it held all it was asked */
inline decide_write() {
	dec = 1;
	if
	:: w_pl0 > 0 -> dact[0] = A_POST; damt[0] = w_pl0
	:: w_pl0 == 0 && w_nv0 -> dact[0] = A_VOID; damt[0] = 0
	:: w_pl0 == 0 && !w_nv0 -> skip
	fi;
	dact[1] = A_POST;
	damt[1] = w_ask1;
	dspec[1] = 1;
	rec = 1;
	r_part[0] = w_pl0;
	r_part[1] = w_ask1;
	r_L = 0;
	r_cash = AMT - w_pl0 - w_ask1
}

/* later_local_sponsors_pay, cascade: L pays what it can share of what is still owed */
inline later_local_pays() {
	if
	:: bal_L > FLOOR -> s_b = bal_L - FLOOR
	:: else -> s_b = 0
	fi;
	if
	:: s_b > r_cash -> s_b = r_cash
	:: else -> skip
	fi;
	REACH_IF(s_b > 0, 10);
	bal_L = bal_L - s_b;
	r_L = r_L + s_b;
	r_cash = r_cash - s_b
}

/* xr_correct_apply(leg k, amount, acked); s_ok */
inline fix(k, amount, acked) {
	s_ok = 1;
	assert(dec && rec && dact[k] != A_NONE);
	if
	:: dspec[k] && amount > damt[k] -> s_ok = 0   /* HOLD_CONFLICT */
	:: dspec[k] && amount <= damt[k] ->
		s_a = damt[k] - amount;
		if
		:: s_a > 0 ->
			r_part[k] = r_part[k] - s_a;
			r_cash = r_cash + s_a;
			later_local_pays()
		:: else -> skip
		fi;
		damt[k] = amount;
		dact[k] = (amount > 0 -> A_POST : A_VOID);
		dspec[k] = 0;
		if
		:: acked -> dack[k] = 1
		:: else -> skip
		fi
	:: !dspec[k] -> skip   /* corrected already: answer as it stands */
	fi
}

inline worker_done() {
	ws = W_IDLE;
	w_pl0 = 0; w_ask1 = 0; w_held1 = 0;
	w_nv0 = 0; w_nv1 = 0; w_written = 0; w_wfail = 0; w_hdone = 0
}

/* run_plan after leg 0's hold: leg 1 is the last remote sponsor the walk reaches
 * (may_decide_while_holding), so its hold and the decision go out together. */
inline after_hold0() {
	w_ask1 = AMT - w_pl0;
	assert(w_ask1 > 0);
	hold_ask[1] = w_ask1;
	toP[1] = toP[1] | M_HOLD;
	ws = W_SPEC
}

/* request_hold's answer for leg p (code: held + 1, or 0 when refused), taken by the
 * worker if it still waits for it. */
inline worker_hold_answer(p, code) {
	if
	:: p == 0 && ws == W_HOLD0 ->
		w_pl0 = (code > 0 -> code - 1 : 0);   /* refused: nothing held, nothing to void */
		after_hold0()
	:: p == 1 && ws == W_SPEC && !w_hdone ->
		w_held1 = (code > 0 -> code - 1 : 0);
		w_hdone = 1
	:: else -> skip   /* the caller gave up: dropped */
	fi
}

/* Leg k has something the resolver would send now. */
#define LEG_OPEN(k) (dact[k] != A_NONE && !dack[k] && rdone[k] != CODE(dact[k], damt[k], dspec[k] && deciding && unknown))

/* xr_push_decision's answer from Peer/Resolve, taken by the resolver in the participant's
 * step; s_ok and s_mv as xr_participant_resolve left them. */
inline resolver_answer() {
	if
	:: !s_ok ->
		/* SPEC §5: the two nodes never disagree about a leg; in the C a refusal
		 * (HOLD_CONFLICT, HOLD_NOT_FOUND) is logged and the leg kept open for an
		 * operator */
		resolve_refused = 1;
		assert(!resolve_refused);
		rdone[rk] = rcode
	:: s_ok && rup ->
		/* the sponsor's node posted what it holds: xr_correct, acked */
		if
		:: sfail > 0 -> sfail--     /* not written: still unknown, asked again */
		:: true ->
			REACH_IF(s_mv > 0, 1);
			REACH_IF(s_mv == 0, 2);
			fix(rk, s_mv, 1);
			assert(s_ok);
			deciding = 0;           /* deciding_remove: replays may answer */
			unknown = 0
		fi
	:: s_ok && !rup ->
		pack[rk] = 1;               /* note_ack */
		packact[rk] = ACT_OF(rcode);
#ifdef BROKEN_NO_RESEND
		rdone[rk] = rcode;
#endif
		skip
	fi;
	rcode = 0;
	rup = 0;
	rk++;
	rs = R_LEG
}

/* ======================= the participants' parts ======================= */

/* SPEC §6.1 and §6.2 at a participant, after every transaction */
inline p_inv(p) {
	assert(held[p] == (hst[p] == H_HELD -> hamt[p] : 0));
	assert(held[p] <= bal[p]);
	assert(bal[p] + (hst[p] == H_POSTED -> hamt[p] : 0) == BALP(p));
	assert(nres[p] <= 1)
}

/* The hold record changed: a repeated call about it may now be answered otherwise. */
inline p_changed(p) {
	rdone[p] = 0;
	pq_memo[p] = 0
}

/* participant_post */
inline p_post(p) {
	/* SPEC §5: money leaves a sponsor only under a durable POST (or REFUND) decision of
	 * this amount, or, decided before the hold answered, of at least this amount. */
	assert(dec && (dact[p] == A_POST || dact[p] == A_REFUND) &&
	       (damt[p] == hamt[p] || (dspec[p] && hamt[p] <= damt[p])));
	held[p] = held[p] - hamt[p];
	bal[p] = bal[p] - hamt[p];
	hst[p] = H_POSTED;
	nres[p]++;
	assert(bal[p] >= FLOOR);    /* SPEC §6.2: never below the floor */
	p_changed(p)
}

/* participant_refund */
inline p_refund(p) {
	REACH(6);
	bal[p] = bal[p] + hamt[p];
	hst[p] = H_REFUNDED;
	p_changed(p)
}

/* write_fence: a VOIDED hold of amount 0 where no hold is */
inline p_fence(p) {
#ifndef BROKEN_NO_FENCE
	hst[p] = H_VOIDED;
	hamt[p] = 0;
#endif
	pvoid[p] = 1;
	p_changed(p)
}

/* xr_hold_apply; its answer to the worker */
inline p_hold(p) {
	if
	:: hst[p] == H_VOIDED -> REACH(3); s_c = 0   /* HOLD_VOIDED: the void came first */
	:: hst[p] == H_HELD || hst[p] == H_POSTED || hst[p] == H_REFUNDED -> s_c = 1 + hamt[p]
	:: hst[p] == H_NONE ->
		/* ops_sponsor_funds: above the floor, less what is held */
		if
		:: bal[p] > held[p] + FLOOR -> s_a = bal[p] - held[p] - FLOOR
		:: else -> s_a = 0
		fi;
		if
		:: s_a > hold_ask[p] -> s_a = hold_ask[p]
		:: else -> skip
		fi;
		if
		:: s_a > 0 ->
			/* SPEC §5: a hold whose void came first never takes effect */
			assert(!pvoid[p]);
			held[p] = held[p] + s_a;
			hst[p] = H_HELD;
			hamt[p] = s_a;
			p_changed(p)
		:: else -> skip   /* nothing to hold: no record, answer 0 */
		fi;
		s_c = 1 + s_a
	fi;
	p_inv(p);
	worker_hold_answer(p, s_c)
}

/* xr_participant_resolve(act, amt, up); s_ok, and s_mv: the amount it resolved */
inline p_resolve(p, act, amt, up) {
	s_ok = 1;
	s_mv = 0;
	if
	:: up && act == A_POST && hst[p] != H_NONE && hst[p] != H_VOIDED && hamt[p] <= amt ->
		/* decided before the hold answered: the hold says how much */
		s_mv = hamt[p];
		if
		:: hst[p] == H_HELD -> p_post(p)
		:: else -> skip   /* posted (and maybe refunded since): said before */
		fi
	:: up && act == A_POST && (hst[p] == H_NONE || hst[p] == H_VOIDED) ->
		/* nothing held: as for a void, a fence refuses the hold if it ever arrives */
		if
		:: hst[p] == H_NONE -> p_fence(p)
		:: else -> skip
		fi
	:: !(up && act == A_POST && hst[p] != H_NONE && hst[p] != H_VOIDED && hamt[p] <= amt) &&
	   !(up && act == A_POST && (hst[p] == H_NONE || hst[p] == H_VOIDED)) ->
		if
		:: act == A_VOID ->
			if
			:: hst[p] == H_NONE -> p_fence(p)   /* the void came first */
			:: hst[p] == H_VOIDED -> skip
			:: hst[p] == H_POSTED || hst[p] == H_REFUNDED -> s_ok = 0   /* HOLD_CONFLICT */
			:: hst[p] == H_HELD ->
				held[p] = held[p] - hamt[p];
				s_mv = hamt[p];
				hst[p] = H_VOIDED;
				nres[p]++;
				pvoid[p] = 1;
				p_changed(p)
			fi
		:: act != A_VOID ->   /* POST (plain, or up_to of less than is held) or REFUND */
			if
			:: hst[p] == H_NONE -> s_ok = 0   /* HOLD_NOT_FOUND */
			:: hst[p] != H_NONE && (hst[p] == H_VOIDED || hamt[p] != amt) -> s_ok = 0   /* HOLD_CONFLICT */
			:: hst[p] != H_NONE && hst[p] != H_VOIDED && hamt[p] == amt ->
				s_mv = hamt[p];
				if
				:: act == A_POST && hst[p] == H_HELD -> p_post(p)
				:: act == A_POST && hst[p] != H_HELD -> skip   /* said before */
				:: act == A_REFUND && hst[p] == H_HELD -> p_post(p); p_refund(p)   /* posted first */
				:: act == A_REFUND && hst[p] == H_POSTED -> p_refund(p)
				:: act == A_REFUND && hst[p] == H_REFUNDED -> skip
				fi
			fi
		fi
	fi;
	p_inv(p)
}

/* A request taken off the network: delivered once, or delivered and kept (a duplicate). */
inline take(p, b) {
	if
	:: toP[p] = toP[p] - b
	:: dups > 0 -> REACH(13); dups--
	fi
}

proctype Part(byte p)
{
end_part:
	do
	:: atomic { (toP[p] & M_HOLD) -> take(p, M_HOLD); p_hold(p) }
	/* Peer/Resolve (xr_resolve_apply), any one in flight; its answer to the resolver
	 * if it still waits for this very request */
	:: atomic { (toP[p] & (255 - M_HOLD)) != 0 ->
		if
		:: (toP[p] & M_VOID) -> m_b = M_VOID
		:: (toP[p] & M_POST1) -> m_b = M_POST1
		:: (toP[p] & M_POST2) -> m_b = M_POST2
		:: (toP[p] & M_UP1) -> m_b = M_UP1
		:: (toP[p] & M_UP2) -> m_b = M_UP2
		:: (toP[p] & M_RF1) -> m_b = M_RF1
		:: (toP[p] & M_RF2) -> m_b = M_RF2
		fi;
		take(p, m_b);
		p_resolve(p, ACT_OF(m_b), AMT_OF(m_b), UP_OF(m_b));
		if
		:: rs == R_WAIT && rk == p && rcode == m_b -> resolver_answer()
		:: else -> skip
		fi }
	/* the resolver's stale holds: ask_about_hold (presumed abort) */
	:: atomic { hst[p] == H_HELD && !pq_wait[p] && QANS(p) != pq_memo[p] -> qreq[p] = 1; pq_wait[p] = 1 }
	:: atomic { pq_wait[p] -> pq_wait[p] = 0 }   /* no answer in time, or a crash */
	od
}

/* ======================= the coordinator ======================= */

/* Peer/QueryDecision from participant p (xr_query_decision_check), and, if p still
 * waits, what its resolver does with the answer (participant_apply). */
#define ON_QUERY(p) \
	:: atomic { qreq[p] -> \
		if \
		:: qreq[p] = 0 \
		:: dups > 0 -> dups-- \
		fi; \
		if \
		:: pq_wait[p] && QANS(p) == Q_AGAIN -> pq_memo[p] = Q_AGAIN \
		:: pq_wait[p] && QANS(p) != Q_AGAIN -> \
			s_c = QANS(p); \
			REACH_IF(s_c == M_VOID && hst[p] == H_HELD, 4); \
			REACH_IF(s_c != M_VOID && hst[p] == H_HELD, 5); \
			p_resolve(p, ACT_OF(s_c), AMT_OF(s_c), 0); \
			if \
			:: !s_ok -> pq_memo[p] = s_c \
			:: else -> skip \
			fi \
		:: else -> skip \
		fi; \
		pq_wait[p] = 0 }

proctype Coord()
{
end_coord:
	do
	/* ---- the worker: xr_settle, run ---- */
	:: atomic { ws == W_START ->
		deciding = 1;                /* deciding_add */
		hold_ask[0] = AMT;           /* request_hold, leg 0: all still owed */
		toP[0] = toP[0] | M_HOLD;
		ws = W_HOLD0 }
	:: atomic { ws == W_HOLD0 ->     /* no answer in time: a hold may have been made */
		w_nv0 = 1;
		after_hold0() }
	/* decide_while_holding: the write (call_write_start) and the hold, in either order */
	:: atomic { ws == W_SPEC && !w_written ->
		w_written = 1;
		if
		:: sfail > 0 -> sfail--; w_wfail = 1   /* the store refused it: nothing written */
		:: true -> decide_write()
		fi }
	:: atomic { ws == W_SPEC && !w_hdone -> w_nv1 = 1; w_hdone = 1 }   /* no answer in time */
	:: atomic { ws == W_SPEC && w_written && w_hdone ->
		if
		:: w_wfail ->
			/* undecided: deciding_remove, an error answer, void_undecided */
			REACH(8);
			deciding = 0;
			if
			:: w_pl0 > 0 || w_nv0 -> toP[0] = toP[0] | M_VOID
			:: else -> skip
			fi;
			if
			:: w_held1 > 0 || w_nv1 -> toP[1] = toP[1] | M_VOID
			:: else -> skip
			fi;
			worker_done()
		:: !w_wfail && w_held1 == w_ask1 ->
			/* the usual case: decided as written */
			REACH(15);
			deciding = 0;
			answer(r_part[0], r_part[1], r_L, r_cash);
			worker_done()
		:: !w_wfail && w_held1 != w_ask1 -> ws = W_FIX
		fi }
	/* it held less, nothing, or did not answer: correct before anyone is told */
	:: atomic { ws == W_FIX ->
		if
		:: sfail > 0 ->
			/* not written: deciding_mark_unknown, an error answer */
			REACH(7);
			sfail--;
			unknown = 1
		:: true ->
			REACH_IF(w_held1 > 0, 9);
			fix(1, w_held1, 0);
			assert(s_ok);
			deciding = 0;            /* deciding_remove, after the correction */
			answer(r_part[0], r_part[1], r_L, r_cash)
		fi;
		worker_done() }

	/* ---- the resolver: resolve_round, xr_push_decision ---- */
	:: atomic { rs == R_IDLE && (pack[0] || pack[1] || (dec && (LEG_OPEN(0) || LEG_OPEN(1)))) ->
		/* resolver_write_acks, ack_apply: only while the leg still asks the same */
		if
		:: pack[0] && dact[0] == packact[0] -> dack[0] = 1
		:: else -> skip
		fi;
		if
		:: pack[1] && dact[1] == packact[1] -> dack[1] = 1
		:: else -> skip
		fi;
		pack[0] = 0; pack[1] = 0; packact[0] = 0; packact[1] = 0;
		/* store_decision_scan_open_after */
		if
		:: dec && ((dact[0] != A_NONE && !dack[0]) || (dact[1] != A_NONE && !dack[1])) ->
			rk = 0;
#ifdef CODE_PUSH_RACE
			sact[0] = dact[0]; samt[0] = damt[0]; sspec[0] = dspec[0]; sack[0] = dack[0];
			sact[1] = dact[1]; samt[1] = damt[1]; sspec[1] = dspec[1]; sack[1] = dack[1];
			rs = R_CHECK
#else
			rs = R_LEG
#endif
		:: else -> skip
		fi }
#ifdef CODE_PUSH_RACE
	:: atomic { rs == R_CHECK ->
		/* guessed: a leg decided before its hold answered is read again, once */
		if
		:: ((sspec[0] && !sack[0]) || (sspec[1] && !sack[1])) && !deciding ->
			sact[0] = dact[0]; samt[0] = damt[0]; sspec[0] = dspec[0]; sack[0] = dack[0];
			sact[1] = dact[1]; samt[1] = damt[1]; sspec[1] = dspec[1]; sack[1] = dack[1]
		:: else -> skip
		fi;
		rs = R_LEG }
#endif
	:: atomic { rs == R_LEG ->
		do
		:: rk >= 2 ->
			rs = R_IDLE; rk = 0;
#ifdef CODE_PUSH_RACE
			sact[0] = 0; samt[0] = 0; sspec[0] = 0; sack[0] = 0;
			sact[1] = 0; samt[1] = 0; sspec[1] = 0; sack[1] = 0;
#endif
			break
		:: rk < 2 ->
#ifdef CODE_PUSH_RACE
			l_act = sact[rk]; l_amt = samt[rk]; l_spec = sspec[rk]; l_ack = sack[rk];
#else
			l_act = dact[rk]; l_amt = damt[rk]; l_spec = dspec[rk]; l_ack = dack[rk];
#endif
			if
			:: l_act == A_NONE || l_ack -> rk++
			:: l_act != A_NONE && !l_ack && l_spec && deciding && !unknown ->
				rk++   /* its worker still waits for the hold: it posts */
			:: l_act != A_NONE && !l_ack && !(l_spec && deciding && !unknown) ->
				s_a = l_spec && deciding;   /* up_to: nobody here knows what was held */
				s_b = CODE(l_act, l_amt, s_a);
				if
				:: rdone[rk] == s_b -> rk++
				:: rdone[rk] != s_b ->
					toP[rk] = toP[rk] | s_b;   /* Peer/Resolve */
					rcode = s_b;
					rup = s_a;
					rs = R_WAIT;
					break
				fi
			fi
		od }
	:: atomic { rs == R_WAIT ->      /* no answer in time: the next round sends it again */
#ifdef BROKEN_NO_RESEND
		rdone[rk] = rcode;
#endif
		rcode = 0;
		rup = 0;
		rk++;
		rs = R_LEG }

	/* ---- the server ---- */
	ON_QUERY(0)
	ON_QUERY(1)

	/* ---- the institution repeats its call (call_replay_if_answered) ---- */
#ifndef CODE_REPLAY_RACE
	:: atomic { rec && !deciding &&
	            (!answered || a_part[0] != r_part[0] || a_part[1] != r_part[1] || a_L != r_L || a_cash != r_cash) ->
		REACH(11);
		answer(r_part[0], r_part[1], r_L, r_cash) }
#else
	/* as the C has it: the answer on record is read, then the deciding set looked at */
	:: atomic { rec && !irs &&
	            (!answered || a_part[0] != r_part[0] || a_part[1] != r_part[1] || a_L != r_L || a_cash != r_cash) ->
		irs = 1; i_part[0] = r_part[0]; i_part[1] = r_part[1]; i_L = r_L; i_cash = r_cash }
	:: atomic { irs ->
		if
		:: deciding -> skip          /* SETTLEMENT_IN_FLIGHT */
		:: !deciding -> answer(i_part[0], i_part[1], i_L, i_cash)
		fi;
		irs = 0; i_part[0] = 0; i_part[1] = 0; i_L = 0; i_cash = 0 }
#endif

#ifndef NO_REVOKE
	/* ---- the institution revokes (revoke_in_txn) ---- */
	:: atomic { answered && rec && !deciding && !revoked ->
		REACH(14);
		bal_L = bal_L + r_L;         /* a local sponsor is refunded at once */
		if
		:: r_part[0] > 0 && dact[0] == A_POST -> dact[0] = A_REFUND; dack[0] = 0; dspec[0] = 0
		:: else -> skip
		fi;
		if
		:: r_part[1] > 0 && dact[1] == A_POST -> dact[1] = A_REFUND; dack[1] = 0; dspec[1] = 0
		:: else -> skip
		fi;
		revoked = 1 }
#endif

	/* ---- crash and restart ---- */
	:: atomic { ccrash > 0 ->
		ccrash--;
		crashed = 1;
		worker_done();               /* the worker and the institution's call are gone */
		rs = R_IDLE; rk = 0; rcode = 0; rup = 0;
#ifdef CODE_PUSH_RACE
		sact[0] = 0; samt[0] = 0; sspec[0] = 0; sack[0] = 0;
		sact[1] = 0; samt[1] = 0; sspec[1] = 0; sack[1] = 0;
#endif
#ifdef CODE_REPLAY_RACE
		irs = 0; i_part[0] = 0; i_part[1] = 0; i_L = 0; i_cash = 0;
#endif
		rdone[0] = 0; rdone[1] = 0;
		pack[0] = 0; pack[1] = 0; packact[0] = 0; packact[1] = 0;
		deciding = 0;
		unknown = 0;
		/* resolver_track_unknown, before the server answers anyone */
		if
		:: dec && ((dspec[0] && !dack[0]) || (dspec[1] && !dack[1])) ->
			REACH_IF(answered, 12);
			deciding = 1;
			unknown = 1
		:: else -> skip
		fi }
	:: atomic { ccrash > 0 -> ccrash = 0 }
	od
}

/* ======================= the network loses requests ======================= */

#define LOSE(p, b) :: atomic { (toP[p] & b) -> toP[p] = toP[p] - b }

proctype Net()
{
end_net:
	do
	LOSE(0, M_HOLD) LOSE(0, M_VOID) LOSE(0, M_POST1) LOSE(0, M_POST2)
	LOSE(0, M_UP1) LOSE(0, M_UP2) LOSE(0, M_RF1) LOSE(0, M_RF2)
	LOSE(1, M_HOLD) LOSE(1, M_VOID) LOSE(1, M_POST1) LOSE(1, M_POST2)
	LOSE(1, M_UP1) LOSE(1, M_UP2) LOSE(1, M_RF1) LOSE(1, M_RF2)
	:: atomic { qreq[0] -> qreq[0] = 0 }
	:: atomic { qreq[1] -> qreq[1] = 0 }
	od
}

/* ======================= at rest ======================= */

inline at_rest_leg(p) {
	/* SPEC §5: no hold left held; each resolved exactly once if it was ever held */
	assert(hst[p] != H_HELD && held[p] == 0);
	assert(nres[p] <= 1);
	assert(nres[p] == 1 || (hst[p] != H_POSTED && hst[p] != H_REFUNDED));
	if
	:: dec ->
		/* every post, void and refund delivered and acknowledged */
		assert(dact[p] == A_NONE || dack[p]);
		/* SPEC §6.3: the payment counts the same on both nodes (their clearing rows) */
		assert((dact[p] == A_POST -> damt[p] : 0) == (hst[p] == H_POSTED -> hamt[p] : 0));
		assert((dact[p] == A_REFUND) == (hst[p] == H_REFUNDED))
	:: !dec ->
		/* presumed abort: nothing decided, nothing taken */
		assert(hst[p] != H_POSTED && hst[p] != H_REFUNDED)
	fi;
	/* the settlement on record agrees with its decision, and with what was taken */
	assert(!rec || r_part[p] == (dact[p] == A_POST || dact[p] == A_REFUND -> damt[p] : 0));
	assert(!rec || revoked || r_part[p] == (hst[p] == H_POSTED -> hamt[p] : 0));
	assert(bal[p] == BALP(p) - (hst[p] == H_POSTED -> hamt[p] : 0))
}

proctype Monitor()
{
	timeout ->
	atomic {
		assert(!deciding && !unknown);   /* nothing left in flight */
		assert(ws == W_IDLE && rs == R_IDLE);
		at_rest_leg(0);
		at_rest_leg(1);
		/* SPEC §6.1: no money created or lost; the bill paid exactly once */
		assert(!rec || revoked || r_part[0] + r_part[1] + r_L + r_cash == AMT);
		assert(!rec || revoked || r_L == BALL - bal_L);
		assert(!revoked || (bal[0] == BAL0 && bal[1] == BAL1 && bal_L == BALL));
		assert(rec || bal_L == BALL);
		/* SPEC §5: an answer to the institution, unless its node failed it */
		assert(answered || crashed || sfail < STORE_FAILS);
		/* the institution's answer is what was taken */
		assert(!answered || (rec && a_part[0] == r_part[0] && a_part[1] == r_part[1] &&
		                     a_L == r_L && a_cash == r_cash))
	}
}

init {
	atomic {
		bal[0] = BAL0;
		bal[1] = BAL1;
		bal_L = BALL;
		ws = W_START;
		run Coord();
		run Part(0);
		run Part(1);
		run Net();
		run Monitor()
	}
}
