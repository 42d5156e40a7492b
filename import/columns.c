/* Column names: the words offices put in header rows, to the canonical columns of each
 * kind of file. Exports differ between provinces and versions of the platform, so each
 * column has its several Chinese names; the English canonical name is always accepted. */
#include "import.h"
#include "import_private.h"

#include <limits.h>
#include <string.h>

#define ALIASES_MAX 6

typedef struct {
    const char *name; /* canonical, English */
    bool required;
    const char *aliases[ALIASES_MAX]; /* Chinese, NULL after the last */
} column_def;

/* In the order of the IMP_P_*, IMP_C_*, IMP_B_* enums. */
static const column_def persons[IMP_P_COUNT] = {
    {"psn_no", true, {"人员编号", "个人编号", "参保人编号"}},
    {"certno", true, {"身份证号", "身份证号码", "证件号码", "公民身份号码"}},
    {"psn_name", false, {"姓名", "人员姓名"}},
    {"insutype", true, {"险种", "险种类型", "险种代码"}},
    {"status", true, {"参保状态", "人员参保状态", "状态"}},
    {"balance", false, {"余额", "账户余额", "个人账户余额", "期初余额"}},
};

static const column_def credits[IMP_C_COUNT] = {
    {"row_id", true, {"序号", "流水号", "划入流水号", "业务流水号"}},
    {"psn_no", true, {"人员编号", "个人编号", "参保人编号"}}, /* as in persons */
    {"amount", true, {"金额", "划入金额", "本次划入金额", "划入额"}},
    {"memo", false, {"备注", "摘要"}},
    {"month", false, {"划入年月", "所属期", "费款所属期"}},
};

static const column_def bindings[IMP_B_COUNT] = {
    {"sponsor", true, {"共济人编号", "授权人编号", "共济人员编号"}},
    {"sponsor_region", false, {"共济人统筹区", "授权人参保地"}},
    {"beneficiary", true, {"被共济人编号", "被授权人编号"}},
    {"beneficiary_region", false, {"被共济人统筹区"}},
    {"relation", true, {"关系", "与共济人关系", "亲属关系"}},
    {"order", false, {"顺序", "扣减顺序", "共济顺序"}},
};

_Static_assert(IMP_P_COUNT <= IMP_COLUMNS_MAX && IMP_C_COUNT <= IMP_COLUMNS_MAX &&
                   IMP_B_COUNT <= IMP_COLUMNS_MAX,
               "IMP_COLUMNS_MAX must hold every kind's columns");

static size_t defs_of(imp_kind kind, const column_def **defs)
{
    switch (kind) {
    case IMP_PERSONS: *defs = persons; return IMP_P_COUNT;
    case IMP_CREDITS: *defs = credits; return IMP_C_COUNT;
    case IMP_BINDINGS: *defs = bindings; return IMP_B_COUNT;
    }
    *defs = NULL;
    return 0;
}

const char *imp_kind_name(imp_kind kind)
{
    switch (kind) {
    case IMP_PERSONS: return "persons";
    case IMP_CREDITS: return "credits";
    case IMP_BINDINGS: return "bindings";
    }
    return "unknown";
}

size_t imp_columns_count(imp_kind kind)
{
    const column_def *defs;
    return defs_of(kind, &defs);
}

const char *imp_column_name(imp_kind kind, size_t canonical)
{
    const column_def *defs;
    return canonical < defs_of(kind, &defs) ? defs[canonical].name : NULL;
}

bool imp_column_required(imp_kind kind, size_t canonical)
{
    const column_def *defs;
    return canonical < defs_of(kind, &defs) && defs[canonical].required;
}

/* The canonical column a header cell names (spaces around it dropped), or -1. */
static int match(const column_def *defs, size_t count, const char *cell)
{
    size_t len;
    const char *name = imp_trim(cell, &len);
    for (size_t c = 0; c < count; c++) {
        const column_def *d = &defs[c];
        if (imp_word_eq(name, len, d->name))
            return (int)c;
        for (size_t a = 0; a < ALIASES_MAX && d->aliases[a] != NULL; a++)
            if (imp_word_eq(name, len, d->aliases[a]))
                return (int)c;
    }
    return -1;
}

/* Append "name (别名, 别名)" to buf[0..cap), which holds a string. */
static void describe(const column_def *d, char *buf, size_t cap)
{
    size_t at = strlen(buf);
    int w = snprintf(buf + at, cap - at, "%s%s (", at > 0 ? ", " : "", d->name);
    for (size_t a = 0; a < ALIASES_MAX && d->aliases[a] != NULL && w >= 0; a++) {
        at = strlen(buf);
        w = snprintf(buf + at, cap - at, "%s%s", a > 0 ? ", " : "", d->aliases[a]);
    }
    at = strlen(buf);
    snprintf(buf + at, cap - at, ")");
}

int imp_columns_map(imp_kind kind, char *const *header, size_t n, int *col_of, bool ignore_unknown, char *err,
                    size_t errlen)
{
    const column_def *defs;
    size_t count = defs_of(kind, &defs);
    if (count == 0) {
        imp_errf(err, errlen, "unknown kind of file (%d)", (int)kind);
        return -1;
    }
    for (size_t c = 0; c < count; c++)
        col_of[c] = -1;
    if (n > IMP_FIELDS_MAX || n > INT_MAX) { /* the reader never gives more */
        imp_errf(err, errlen, "%zu columns: at most %d", n, IMP_FIELDS_MAX);
        return -1;
    }
    char shown[48 + 4], shown2[48 + 4];
    for (size_t i = 0; i < n; i++) {
        int c = match(defs, count, header[i]);
        if (c < 0 && ignore_unknown)
            continue;
        if (c < 0) {
            char list[IMP_ERR_MAX] = "";
            for (size_t k = 0; k < count; k++)
                describe(&defs[k], list, sizeof list);
            size_t len;
            imp_trim(header[i], &len);
            if (len == 0)
                imp_errf(err, errlen, "column %zu has no name; a %s file has the columns %s", i + 1,
                         imp_kind_name(kind), list);
            else
                imp_errf(err, errlen,
                         "column %zu \"%s\" is not a column of a %s file (or ask for unknown "
                         "columns to be ignored); accepted: %s",
                         i + 1, imp_echo(header[i], shown, 48), imp_kind_name(kind), list);
            return -1;
        }
        if (col_of[c] >= 0) {
            int first = col_of[c];
            imp_errf(err, errlen, "columns %d (\"%s\") and %zu (\"%s\") are both %s", first + 1,
                     imp_echo(header[first], shown, 48), i + 1, imp_echo(header[i], shown2, 48),
                     defs[c].name);
            return -1;
        }
        col_of[c] = (int)i;
    }
    char missing[IMP_ERR_MAX] = "", needed[256] = "";
    for (size_t c = 0; c < count; c++) {
        if (!defs[c].required)
            continue;
        size_t at = strlen(needed);
        snprintf(needed + at, sizeof needed - at, "%s%s", at > 0 ? ", " : "", defs[c].name);
        if (col_of[c] < 0)
            describe(&defs[c], missing, sizeof missing);
    }
    if (missing[0] != '\0') {
        imp_errf(err, errlen, "a %s file needs the columns %s; missing: %s", imp_kind_name(kind), needed,
                 missing);
        return -1;
    }
    return 0;
}
