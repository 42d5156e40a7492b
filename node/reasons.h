/* Domain reasons: one stable name per rule or failure, with the gRPC status code it is
 * answered with and a human message. The name travels on the wire (Reply.reason);
 * callers match on it, so a name never changes meaning once released. */
#ifndef GJ_REASONS_H
#define GJ_REASONS_H

#include "gj_error.h"

/* gRPC status codes (same numbers as gongji.v1.Code), so rule code need not include
 * the generated protobuf header. */
enum gj_code {
    GJ_CODE_OK = 0,
    GJ_CODE_CANCELLED = 1,
    GJ_CODE_UNKNOWN = 2,
    GJ_CODE_INVALID_ARGUMENT = 3,
    GJ_CODE_DEADLINE_EXCEEDED = 4,
    GJ_CODE_NOT_FOUND = 5,
    GJ_CODE_ALREADY_EXISTS = 6,
    GJ_CODE_PERMISSION_DENIED = 7,
    GJ_CODE_RESOURCE_EXHAUSTED = 8,
    GJ_CODE_FAILED_PRECONDITION = 9,
    GJ_CODE_ABORTED = 10,
    GJ_CODE_OUT_OF_RANGE = 11,
    GJ_CODE_UNIMPLEMENTED = 12,
    GJ_CODE_INTERNAL = 13,
    GJ_CODE_UNAVAILABLE = 14,
    GJ_CODE_DATA_LOSS = 15,
    GJ_CODE_UNAUTHENTICATED = 16,
};

/* X(name, code, message) */
#define GJ_REASON_TABLE(X)                                                                     \
    X(NONE, OK, "ok")                                                                          \
    /* R1 who can sponsor */                                                                   \
    X(SPONSOR_NOT_EMPLOYEE, FAILED_PRECONDITION, "R1: only an employee (insutype 310) can sponsor") \
    X(SPONSOR_NOT_ACTIVE, FAILED_PRECONDITION, "R1: the sponsor is not actively insured")     \
    X(SPONSOR_NO_ACCOUNT, FAILED_PRECONDITION, "R1: the sponsor has no personal account")     \
    /* R2 who can benefit */                                                                   \
    X(BENEFICIARY_NOT_ACTIVE, FAILED_PRECONDITION, "R2: the beneficiary is not actively insured") \
    X(SPOUSE_PARENT_NOT_ALLOWED, FAILED_PRECONDITION, "R2: a spouse's parent can never be bound") \
    X(RELATION_NOT_ALLOWED, FAILED_PRECONDITION, "R2: the sponsor's region does not allow this relation") \
    X(RELATION_INVALID, INVALID_ARGUMENT, "R2: relation is missing or unknown")              \
    X(SELF_BINDING, INVALID_ARGUMENT, "R2: a person cannot bind to themself")                 \
    /* R4 scope */                                                                             \
    X(CROSS_PROVINCE_NOT_IN_PILOT, FAILED_PRECONDITION, "R4: across provinces both regions must be in the pilot") \
    /* R5 uses */                                                                              \
    X(USE_NOT_ALLOWED, FAILED_PRECONDITION, "R5: the region does not allow mutual aid for this use") \
    X(USE_INVALID, INVALID_ARGUMENT, "R5: use is missing or unknown")                         \
    /* R8 limits */                                                                            \
    X(BINDING_LIMIT_REACHED, RESOURCE_EXHAUSTED, "R8: the sponsor has the most beneficiaries the region allows") \
    X(ONE_RELATIONSHIP_ONLY, FAILED_PRECONDITION, "R8: the region allows one mutual-aid relationship per person") \
    X(SPONSORS_LIMIT_REACHED, RESOURCE_EXHAUSTED, "the beneficiary has the most sponsors a node keeps") \
    X(YEARLY_LIMIT_REACHED, RESOURCE_EXHAUSTED, "R22: the sponsor has bound the most beneficiaries the region allows in a year") \
    /* R9 dates */                                                                             \
    X(BINDING_NOT_FOUND, NOT_FOUND, "R9: no such binding")                                    \
    X(BINDING_EXISTS, ALREADY_EXISTS, "R9: this binding already exists")                      \
    X(BINDING_ALREADY_ENDING, FAILED_PRECONDITION, "R9: this binding has already been ended") \
    X(REBIND_TOO_SOON, FAILED_PRECONDITION, "R17: an unbound pair can bind again from the next day") \
    X(UNBIND_TOO_SOON, FAILED_PRECONDITION, "R17: the region does not allow unbinding this soon after binding") \
    X(BINDING_DATE_INVALID, INVALID_ARGUMENT, "R17: last_date must be a date from today on") \
    X(VERIFICATION_REQUIRED, FAILED_PRECONDITION, "R18: a beneficiary of this age is bound only with the platform's identity check") \
    X(VERIFICATION_INVALID, INVALID_ARGUMENT, "R18: the identity check needs a method and a time within the last day") \
    /* R11 order */                                                                            \
    X(ORDER_MISMATCH, INVALID_ARGUMENT, "R11: the order must list each current sponsor exactly once") \
    /* R12 regions */                                                                          \
    X(REGION_NOT_LIVE, FAILED_PRECONDITION, "R12: mutual aid is not live in this region")    \
    X(SPONSOR_REGION_REFUSED, FAILED_PRECONDITION, "R12: the region refuses sponsors from that region for this insutype") \
    /* people and money */                                                                     \
    X(PERSON_NOT_FOUND, NOT_FOUND, "no such person")                                          \
    X(PERSON_NOT_LOCAL, FAILED_PRECONDITION, "the person is not insured in this node's region") \
    X(CERTNO_INVALID, INVALID_ARGUMENT, "certno is not a valid 18-character ID (GB 11643 check digit)") \
    X(INSUTYPE_INVALID, INVALID_ARGUMENT, "insutype must be 310 or 390")                     \
    X(STATUS_INVALID, INVALID_ARGUMENT, "status is missing or unknown")                       \
    X(FIELD_INVALID, INVALID_ARGUMENT, "a field is missing, too long or malformed")           \
    X(AMOUNT_INVALID, INVALID_ARGUMENT, "amount must be positive and at most 10,000,000.00 yuan") \
    X(BALANCE_LIMIT, OUT_OF_RANGE, "the balance would exceed its limit")                      \
    X(SPONSOR_CHOICE_NOT_ALLOWED, FAILED_PRECONDITION, "R19: the region does not let a patient name the sponsor for a bill") \
    X(SPONSOR_NOT_IN_ORDER, FAILED_PRECONDITION, "R19: the named sponsor is not one of the patient's sponsors") \
    X(PERSON_MOVED, FAILED_PRECONDITION, "R23: the person's insurance moved to another region") \
    X(MOVE_NOT_STARTED, FAILED_PRECONDITION, "R23: the old region has not marked this person as moving here") \
    X(MOVE_CONFLICT, FAILED_PRECONDITION, "R23: the person is moving to another region, or is insured here already") \
    X(MOVE_NOT_HELD, UNAVAILABLE, "R23: the old region's node did not hold the whole balance; nothing moved, try again") \
    X(POOL_NOT_OFFERED, FAILED_PRECONDITION, "R20: this region does not run family pools")    \
    X(POOL_NOT_FOUND, NOT_FOUND, "R20: no such family pool here")                              \
    X(POOL_EXISTS, ALREADY_EXISTS, "R20: the creator has an open family pool already")         \
    X(POOL_CLOSED, FAILED_PRECONDITION, "R20: the family pool is closed")                      \
    X(POOL_BUSY, UNAVAILABLE, "R20: settlements against the pool are in flight; try again")    \
    X(POOL_ABOVE_FLOOR, FAILED_PRECONDITION, "R20: only the part of the account above pool_floor may go into a pool") \
    X(POOL_NOT_CONTRIBUTOR, FAILED_PRECONDITION, "R20: only the creator or a member who is an employee insured here may contribute") \
    X(POOL_MEMBERS_LIMIT, FAILED_PRECONDITION, "R20: the pool has as many members as the region allows") \
    X(POOL_SHARES_LIMIT, FAILED_PRECONDITION, "R20: the pool has as many contributors as it can keep") \
    X(POOL_OUTSIDE_PROVINCE, FAILED_PRECONDITION, "R20: pool members are insured in the pool's province") \
    X(WALLET_NOT_OFFERED, FAILED_PRECONDITION, "R24: the region does not pay through the cross-province wallet") \
    X(WALLET_SAME_PROVINCE, FAILED_PRECONDITION, "R24: the wallet is for a relative in another province") \
    X(WALLET_TRANSFER_TOO_LARGE, FAILED_PRECONDITION, "R24: more than the sponsor's region lets one transfer carry") \
    X(WALLET_DAILY_LIMIT, FAILED_PRECONDITION, "R24: the sponsor made as many transfers today as the region allows") \
    X(WALLET_BLACKOUT, FAILED_PRECONDITION, "R24: no transfers in the sponsor region's blackout hours") \
    X(WALLET_NOT_COVERED, FAILED_PRECONDITION, "R24: the sponsor's account cannot give that much now; nothing moved") \
    X(WALLET_TRANSFER_NOT_FOUND, NOT_FOUND, "R24: no such transfer into this person's wallet") \
    X(WALLET_TRANSFER_RETURNED, FAILED_PRECONDITION, "R24: the transfer was not accepted in time and went back to the sponsor") \
    X(ALREADY_FROZEN, FAILED_PRECONDITION, "R21: this is frozen already")                     \
    X(NOT_FROZEN, FAILED_PRECONDITION, "R21: this is not frozen")                              \
    X(ALREADY_RECOVERED, FAILED_PRECONDITION, "R21: this settlement's mutual-aid part was recovered already") \
    X(NOTHING_TO_RECOVER, FAILED_PRECONDITION, "R21: no sponsor paid for this settlement")   \
    X(NO_ACCOUNT, FAILED_PRECONDITION, "the person has no personal account (resident insured)") \
    X(ROW_REPEATED, ALREADY_EXISTS, "this credit row was credited by an earlier request: nothing moved again") \
    X(ROW_ID_REUSED, ALREADY_EXISTS, "this credit row id was credited before for another person or amount") \
    /* calls and transport */                                                                  \
    X(CALL_ID_MISSING, INVALID_ARGUMENT, "a write needs a caller id and a call id")                           \
    X(CALL_ID_REUSED, ALREADY_EXISTS, "this call id was used for a different request")        \
    X(MALFORMED_MESSAGE, INVALID_ARGUMENT, "the message could not be decoded")                \
    X(MESSAGE_TOO_LARGE, RESOURCE_EXHAUSTED, "the message is larger than the node accepts")   \
    X(UNKNOWN_METHOD, UNIMPLEMENTED, "no such method")                                        \
    X(CALLER_NOT_ALLOWED, PERMISSION_DENIED, "the caller's role may not call this")           \
    /* trust: who is calling (docs/security.md) */                                             \
    X(SEAL_MISSING, UNAUTHENTICATED, "the request is not sealed: open a session (Auth/Open) with a certificate and seal it") \
    X(SESSION_UNKNOWN, UNAUTHENTICATED, "no such session here (expired, revoked, or the node restarted): open a new one") \
    X(SEAL_INVALID, UNAUTHENTICATED, "the seal does not match the request")                   \
    X(CREDENTIAL_REFUSED, UNAUTHENTICATED, "the certificate or its proof is not accepted")    \
    X(IDENTITY_MISMATCH, PERMISSION_DENIED, "the credential names another identity than the envelope claims") \
    X(SEAL_WRONG_NODE, UNAUTHENTICATED, "another region owns this request: seal it for the region in route_to and send again") \
    X(OPERATOR_SCOPE, PERMISSION_DENIED, "this operator may not act on this region")          \
    X(DEADLINE_PASSED, DEADLINE_EXCEEDED, "the request's deadline has passed")                \
    X(REGION_UNKNOWN, NOT_FOUND, "no node serves that region")                                \
    X(REGION_UNREACHABLE, UNAVAILABLE, "the region's node did not answer")                    \
    X(REGION_NOT_ANSWERING, UNAVAILABLE, "not asked: the region's node has not answered lately") \
    X(HOPS_EXCEEDED, ABORTED, "the request was forwarded too many times")                     \
    X(OVERLOADED, RESOURCE_EXHAUSTED, "the node is busy; try again")                          \
    X(CLOCK_OVERRIDE_DISABLED, FAILED_PRECONDITION, "this node does not allow setting its date") \
    X(STORE_FULL, RESOURCE_EXHAUSTED, "the node's data file is full")                         \
    X(DISK_FULL, RESOURCE_EXHAUSTED, "the node's disk is full: nothing was written")         \
    X(STORE_RESTORED, FAILED_PRECONDITION, "the node was restored from a backup: it moves no money until an operator has reconciled and confirmed") \
    X(STORE_ERROR, INTERNAL, "the node could not write its data")                             \
    X(SHUTTING_DOWN, UNAVAILABLE, "the node is shutting down")                                \
    /* across regions */                                                                       \
    X(PEER_REFUSED, UNAVAILABLE, "the other region's node gave an answer this node cannot use") \
    X(NOT_BENEFICIARY_HOME, PERMISSION_DENIED, "only the beneficiary's home node may ask for this") \
    X(HOLD_VOIDED, ABORTED, "this part of the settlement was already voided")                 \
    X(HOLD_NOT_FOUND, FAILED_PRECONDITION, "no hold for this part of the settlement")         \
    X(HOLD_CONFLICT, ABORTED, "the hold was already resolved the other way")                   \
    /* lifecycle and clearing */                                                               \
    X(SETTLEMENT_NOT_FOUND, NOT_FOUND, "R14: no such settlement")                             \
    X(ALREADY_REVOKED, FAILED_PRECONDITION, "R14: this settlement was already revoked")       \
    X(SETTLEMENT_IN_FLIGHT, UNAVAILABLE, "R14: the settlement is still being decided; try again") \
    X(REVOKE_WINDOW_PASSED, FAILED_PRECONDITION, "R14: the region's revoke period has passed") \
    X(CALL_REVERSED, ABORTED, "R14: this call was reversed; it moves nothing")                \
    X(NOT_REVERSIBLE, FAILED_PRECONDITION, "R14: only a settlement or premium can be reversed") \
    X(PREMIUM_NOT_RESIDENT, FAILED_PRECONDITION, "R15: premiums are for resident-insured (390) relatives") \
    X(PREMIUM_NOT_COVERED, FAILED_PRECONDITION, "R15: the sponsor cannot share the whole premium") \
    X(WINDOW_CLOSED, FAILED_PRECONDITION, "R16: the clearing window is closed")

typedef enum gj_reason {
#define GJ_REASON_ENUM(name, code, msg) GJ_R_##name,
    GJ_REASON_TABLE(GJ_REASON_ENUM)
#undef GJ_REASON_ENUM
        GJ_R_COUNT
} gj_reason;

/* "RELATION_NOT_ALLOWED" */
const char *gj_reason_name(gj_reason r);
/* The gRPC status code the reason is answered with. */
int gj_reason_code(gj_reason r);
/* The default human message. */
const char *gj_reason_message(gj_reason r);
/* "INVALID_ARGUMENT" for 3, "CODE_99" style never: unknown codes give "UNKNOWN". */
const char *gj_code_name(int code);

/* The one reason a call fails with when the store, or an allocation, fails with err:
 *   GJ_ERR_FULL  -> STORE_FULL (the LMDB map is full; the operator must grow it)
 *   GJ_ERR_DISK_FULL -> DISK_FULL (the file system is full; the operator must make room)
 *   GJ_ERR_NOMEM -> OVERLOADED (out of memory: nothing was written, try again)
 *   anything else -> STORE_ERROR, and GJ_OK -> NONE.
 * GJ_ERR_NOTFOUND is not special here: what a missing record means (PERSON_NOT_FOUND,
 * BINDING_NOT_FOUND, ...) is for the caller to say before it asks. Only for errors
 * from store/: a full work queue (also GJ_ERR_FULL) means OVERLOADED instead. */
gj_reason gj_reason_of_err(gj_err err);

#endif
