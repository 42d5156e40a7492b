/* Reason names, codes and messages, all generated from GJ_REASON_TABLE so the enum and
 * its strings cannot drift apart; and the one mapping from a store error to a reason. */
#include "reasons.h"

#include <stddef.h>

struct reasons_entry {
    const char *name;
    int code;
    const char *message;
};

static const struct reasons_entry reasons_table[GJ_R_COUNT] = {
#define REASONS_ENTRY(name, code, msg) [GJ_R_##name] = {#name, GJ_CODE_##code, msg},
    GJ_REASON_TABLE(REASONS_ENTRY)
#undef REASONS_ENTRY
};

static const char *const reasons_code_names[] = {
    [GJ_CODE_OK] = "OK",
    [GJ_CODE_CANCELLED] = "CANCELLED",
    [GJ_CODE_UNKNOWN] = "UNKNOWN",
    [GJ_CODE_INVALID_ARGUMENT] = "INVALID_ARGUMENT",
    [GJ_CODE_DEADLINE_EXCEEDED] = "DEADLINE_EXCEEDED",
    [GJ_CODE_NOT_FOUND] = "NOT_FOUND",
    [GJ_CODE_ALREADY_EXISTS] = "ALREADY_EXISTS",
    [GJ_CODE_PERMISSION_DENIED] = "PERMISSION_DENIED",
    [GJ_CODE_RESOURCE_EXHAUSTED] = "RESOURCE_EXHAUSTED",
    [GJ_CODE_FAILED_PRECONDITION] = "FAILED_PRECONDITION",
    [GJ_CODE_ABORTED] = "ABORTED",
    [GJ_CODE_OUT_OF_RANGE] = "OUT_OF_RANGE",
    [GJ_CODE_UNIMPLEMENTED] = "UNIMPLEMENTED",
    [GJ_CODE_INTERNAL] = "INTERNAL",
    [GJ_CODE_UNAVAILABLE] = "UNAVAILABLE",
    [GJ_CODE_DATA_LOSS] = "DATA_LOSS",
    [GJ_CODE_UNAUTHENTICATED] = "UNAUTHENTICATED",
};

#define REASONS_CODE_COUNT (sizeof reasons_code_names / sizeof reasons_code_names[0])

/* The enum may hold any int (a cast from the wire or a corrupt record); compare as
 * unsigned so negatives are out of range too. */
static const struct reasons_entry *reasons_lookup(gj_reason r)
{
    if ((unsigned)r >= (unsigned)GJ_R_COUNT)
        return NULL;
    return &reasons_table[r];
}

const char *gj_reason_name(gj_reason r)
{
    const struct reasons_entry *e = reasons_lookup(r);
    return e != NULL ? e->name : "UNKNOWN";
}

int gj_reason_code(gj_reason r)
{
    const struct reasons_entry *e = reasons_lookup(r);
    return e != NULL ? e->code : GJ_CODE_INTERNAL;
}

const char *gj_reason_message(gj_reason r)
{
    const struct reasons_entry *e = reasons_lookup(r);
    return e != NULL ? e->message : "unknown reason";
}

const char *gj_code_name(int code)
{
    if (code < 0 || (size_t)code >= REASONS_CODE_COUNT || reasons_code_names[code] == NULL)
        return "UNKNOWN";
    return reasons_code_names[code];
}

gj_reason gj_reason_of_err(gj_err err)
{
    switch (err) {
    case GJ_OK: return GJ_R_NONE;
    case GJ_ERR_FULL: return GJ_R_STORE_FULL;
    case GJ_ERR_DISK_FULL: return GJ_R_DISK_FULL;
    case GJ_ERR_NOMEM: return GJ_R_OVERLOADED;
    default: return GJ_R_STORE_ERROR;
    }
}
