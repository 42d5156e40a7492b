/* Relations and uses: their wire values and their names. The values are those of
 * gongji.v1 Relation and UseType, repeated here so neither the rules nor the
 * command-line tool need protobuf or the store; the names are how configs and the
 * CLI write them ("spouse", "maternal_grandparent", "outpatient", ...). */
#ifndef GJ_NAMES_H
#define GJ_NAMES_H

enum gj_relation {
    GJ_REL_SPOUSE = 1,
    GJ_REL_PARENT = 2,
    GJ_REL_CHILD = 3,
    GJ_REL_SIBLING = 4,
    GJ_REL_GRANDPARENT = 5,
    GJ_REL_MATERNAL_GRANDPARENT = 6,
    GJ_REL_GRANDCHILD = 7,
    GJ_REL_MATERNAL_GRANDCHILD = 8,
    GJ_REL_SPOUSE_PARENT = 9,
};
#define GJ_REL_MAX 9

enum gj_use {
    GJ_USE_OUTPATIENT = 1,
    GJ_USE_INPATIENT = 2,
    GJ_USE_SPECIAL_DISEASE = 3,
    GJ_USE_PHARMACY = 4,
    GJ_USE_PREMIUM = 5,
    GJ_USE_CHECKUP = 6,
    GJ_USE_MOVE = 7, /* R23: a balance moving with its person; not a use policies name */
    GJ_USE_WALLET = 8, /* R24: a transfer into a relative's wallet; not a use policies name */
};
#define GJ_USE_MAX 6

/* Name <-> value. A name is "unknown" for a value out of range. Parse accepts any
 * case and '-' for '_', and returns 0 when the name is unknown (or NULL). */
const char *gj_relation_name(int relation);
int gj_relation_parse(const char *name);
const char *gj_use_name(int use);
int gj_use_parse(const char *name);

#endif
