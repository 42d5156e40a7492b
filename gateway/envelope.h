/* The national interface's JSON envelope (../shared/NATIONAL-INTERFACE.md §2, §3):
 * reading a request, checking its common fields, and writing the answer. */
#ifndef GW_ENVELOPE_H
#define GW_ENVELOPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

/* Bodies above GW_BODY_MAX are answered infcode -1 (the national input is at most
 * 40,000 characters; the envelope around it adds little), except a 9101 upload, which
 * carries a file. The HTTP layer drops a body over GW_BODY_HARD_MAX unread, and holds
 * at most GW_LARGE_BODIES_MAX bytes of bodies over GW_BODY_MAX at once. */
#define GW_BODY_MAX (64 * 1024)
#define GW_UPLOAD_BODY_MAX (8 * 1024 * 1024)
#define GW_BODY_HARD_MAX GW_UPLOAD_BODY_MAX
#define GW_LARGE_BODIES_MAX (64 * 1024 * 1024)

typedef struct gw_request {
    char infno[5];
    char msgid[31];
    char mdtrtarea_admvs[7];
    char insuplc_admdvs[7];   /* "" when absent */
    char fixmedins_code[33];
    char opter[31];
    char opter_type[4];
    char sign_no[31];
    cJSON *root;              /* the whole envelope (owned) */
    const cJSON *input;       /* root.input, an object */
} gw_request;

/* Why a request or a call failed: the gRPC status name and the domain reason, as the
 * node gives them, or the gateway's own for what it refuses itself. */
typedef struct gw_failure {
    const char *status;   /* "INVALID_ARGUMENT", ... */
    char reason[64];      /* "FIELD_MISSING", "INSUFFICIENT_BALANCE", ... */
    char message[400];    /* English, as precise as the node or gateway can say */
} gw_failure;

/* Parse body[len] into r: valid UTF-8, JSON, an object, every required common field
 * present with its type and length (infno 4 digits, msgid up to 30, regions 6 digits).
 * 0 on success (free with gw_request_free); -1 with why filled in. */
int gw_request_parse(const char *body, size_t len, gw_request *r, gw_failure *why);
void gw_request_free(gw_request *r);

/* Fields of input.data (or of another block of input): a string, or "" when absent.
 * Numbers are accepted for string fields that hold codes (some HIS send 310 for "310").
 * false when present with a wrong type or longer than max (why filled in). */
bool gw_field_text(const cJSON *block, const char *name, bool required, size_t max, char *out,
                   gw_failure *why);
/* A money field: yuan with at most two decimals, as a JSON number or string, 0 to the
 * largest amount; into fen. */
bool gw_field_money(const cJSON *block, const char *name, bool required, int64_t *fen, gw_failure *why);

/* A money value as the answer carries it: a JSON number with two decimals. */
cJSON *gw_money(int64_t fen);

void gw_fail(gw_failure *f, const char *status, const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* The answer envelope, as text (malloc'd, NUL-terminated): infcode 0 with output (taken
 * over), or infcode -1 with err_msg from failure (output NULL). received_ms is when the
 * request arrived (refmsg_time); region names the gateway in inf_refmsgid. */
char *gw_answer_text(const gw_request *r, cJSON *output, const gw_failure *failure, int64_t received_ms,
                     const char *region);

/* err_msg for a failure: the rule in Chinese when it has a name there, then the English
 * message, the reason and the status: "余额不足 / R6: ... [INSUFFICIENT_BALANCE, FAILED_PRECONDITION]". */
void gw_error_message(const gw_failure *f, char *out, size_t size);

/* A time as the national interface writes it: yyyy-MM-dd HH:mm:ss, China Standard Time. */
void gw_local_time(int64_t unix_s, char out[20]);


#endif
