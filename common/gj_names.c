/* Relation and use names (gj_names.h). */
#include "gj_names.h"

#include <stdbool.h>
#include <stddef.h>

static const char *const relation_names[GJ_REL_MAX + 1] = {
    [GJ_REL_SPOUSE] = "spouse",
    [GJ_REL_PARENT] = "parent",
    [GJ_REL_CHILD] = "child",
    [GJ_REL_SIBLING] = "sibling",
    [GJ_REL_GRANDPARENT] = "grandparent",
    [GJ_REL_MATERNAL_GRANDPARENT] = "maternal_grandparent",
    [GJ_REL_GRANDCHILD] = "grandchild",
    [GJ_REL_MATERNAL_GRANDCHILD] = "maternal_grandchild",
    [GJ_REL_SPOUSE_PARENT] = "spouse_parent",
};

static const char *const use_names[GJ_USE_MAX + 1] = {
    [GJ_USE_OUTPATIENT] = "outpatient",
    [GJ_USE_INPATIENT] = "inpatient",
    [GJ_USE_SPECIAL_DISEASE] = "special_disease",
    [GJ_USE_PHARMACY] = "pharmacy",
    [GJ_USE_PREMIUM] = "premium",
    [GJ_USE_CHECKUP] = "checkup",
};

/* Config files and the CLI are typed by people: accept any case and '-' for '_'. */
static bool name_eq(const char *input, const char *canonical)
{
    for (;; input++, canonical++) {
        char c = *input;
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        else if (c == '-')
            c = '_';
        if (c != *canonical)
            return false;
        if (c == '\0')
            return true;
    }
}

static int parse_in(const char *const *names, int max, const char *name)
{
    if (name == NULL)
        return 0;
    for (int v = 1; v <= max; v++)
        if (name_eq(name, names[v]))
            return v;
    return 0;
}

const char *gj_relation_name(int relation)
{
    if (relation < 1 || relation > GJ_REL_MAX)
        return "unknown";
    return relation_names[relation];
}

int gj_relation_parse(const char *name)
{
    return parse_in(relation_names, GJ_REL_MAX, name);
}

const char *gj_use_name(int use)
{
    if (use < 1 || use > GJ_USE_MAX)
        return "unknown";
    return use_names[use];
}

int gj_use_parse(const char *name)
{
    return parse_in(use_names, GJ_USE_MAX, name);
}
