/* Values as exports write them: amounts in yuan (with Excel's thousands separators and
 * currency signs), and the words for status, insurance type and relation. Exact: money
 * never passes through floating point, and a word not in a table is an error. */
#include "gj_limits.h"
#include "gj_names.h"
#include "import.h"
#include "import_private.h"

#include <string.h>

#define SHOWN_MAX 48 /* bytes of a value quoted in a message */

typedef struct {
    const char *word;
    int value;
} word_entry;

/* The value of the word text[0..len) in table, or -1 when it is none of them. */
static int lookup(const word_entry *table, size_t n, const char *text, size_t len)
{
    for (size_t i = 0; i < n; i++)
        if (imp_word_eq(text, len, table[i].word))
            return table[i].value;
    return -1;
}

/* ---- amounts ---- */

/* Skip "¥" (U+00A5) or "￥" (U+FFE5, what Chinese Excel writes) and spaces after it. */
static const char *skip_currency(const char *p, const char *end)
{
    if (end - p >= 2 && memcmp(p, "\xc2\xa5", 2) == 0)
        p += 2;
    else if (end - p >= 3 && memcmp(p, "\xef\xbf\xa5", 3) == 0)
        p += 3;
    else
        return p;
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    return p;
}

int imp_amount_parse(const char *text, int64_t *fen, char *err, size_t errlen)
{
    char shown[SHOWN_MAX + 4];
    size_t len;
    const char *p = imp_trim(text, &len), *end = p + len;
    if (len == 0) {
        imp_errf(err, errlen, "amount is empty");
        return -1;
    }
    imp_echo(text, shown, SHOWN_MAX);
    p = skip_currency(p, end);
    /* "-5", "¥-5", "-¥5" and accounting's "(5.00)" */
    if (p < end && (*p == '-' || *p == '(')) {
        imp_errf(err, errlen, "amount \"%s\" is negative: negative amounts are refused", shown);
        return -1;
    }
    int64_t yuan = 0;
    size_t digits = 0, group = 0; /* digits in all, and since the last separator */
    bool grouped = false, misgrouped = false, too_big = false;
    for (; p < end; p++) {
        if (*p >= '0' && *p <= '9') {
            if (++digits > 12)
                too_big = true; /* stops overflow; far above GJ_AMOUNT_MAX anyway */
            else
                yuan = yuan * 10 + (*p - '0');
            group++;
        } else if (*p == ',') {
            /* The first group has 1..3 digits, every later one exactly 3. */
            if (group == 0 || group > 3 || (grouped && group != 3))
                misgrouped = true;
            grouped = true;
            group = 0;
        } else {
            break;
        }
    }
    if (grouped && group != 3)
        misgrouped = true;
    int64_t cents = 0;
    int decimals = 0;
    bool point = p < end && *p == '.';
    if (point)
        for (p++; p < end && *p >= '0' && *p <= '9'; p++)
            if (++decimals <= 2)
                cents = cents * 10 + (*p - '0');
    if (digits == 0 || p != end || (point && decimals == 0)) {
        imp_errf(err, errlen,
                 "amount \"%s\" is not an amount of yuan (such as 1234.50, 1,234.50 "
                 "or ￥1,234.50)",
                 shown);
        return -1;
    }
    if (misgrouped) {
        imp_errf(err, errlen,
                 "amount \"%s\" has thousands separators out of place (they must "
                 "part the digits in groups of three: 1,234,567.50)",
                 shown);
        return -1;
    }
    if (decimals > 2) {
        imp_errf(err, errlen,
                 "amount \"%s\" has more than two decimals (the smallest unit is "
                 "the fen, 0.01 yuan)",
                 shown);
        return -1;
    }
    if (decimals == 1)
        cents *= 10;
    if (too_big || yuan * 100 + cents > GJ_AMOUNT_MAX) {
        imp_errf(err, errlen, "amount \"%s\" is above the largest allowed, 10,000,000.00 yuan", shown);
        return -1;
    }
    *fen = yuan * 100 + cents;
    return 0;
}

/* ---- words ---- */

static const word_entry status_words[] = {
    {"1", IMP_STATUS_ACTIVE},
    {"active", IMP_STATUS_ACTIVE},
    {"正常参保", IMP_STATUS_ACTIVE},
    {"参保缴费", IMP_STATUS_ACTIVE},
    {"正常", IMP_STATUS_ACTIVE},
    /* Excel sheets put the person's kind in the status column: at work or retired, an
     * employee is insured. */
    {"在职", IMP_STATUS_ACTIVE},
    {"退休", IMP_STATUS_ACTIVE},
    {"2", IMP_STATUS_SUSPENDED},
    {"suspended", IMP_STATUS_SUSPENDED},
    {"暂停参保", IMP_STATUS_SUSPENDED},
    {"暂停缴费", IMP_STATUS_SUSPENDED},
    {"中断", IMP_STATUS_SUSPENDED},
    {"暂停", IMP_STATUS_SUSPENDED},
    {"3", IMP_STATUS_TERMINATED},
    {"terminated", IMP_STATUS_TERMINATED},
    {"终止参保", IMP_STATUS_TERMINATED},
    {"终止", IMP_STATUS_TERMINATED},
    {"注销", IMP_STATUS_TERMINATED},
    {"死亡", IMP_STATUS_TERMINATED},
};

int imp_status_parse(const char *text, int *status, char *err, size_t errlen)
{
    size_t len;
    const char *p = imp_trim(text, &len);
    int v = lookup(status_words, sizeof status_words / sizeof status_words[0], p, len);
    if (v < 0) {
        char shown[SHOWN_MAX + 4];
        imp_errf(err, errlen,
                 "status \"%s\" is not a status: give 1 (active, 正常参保), "
                 "2 (suspended, 暂停参保) or 3 (terminated, 终止参保)",
                 imp_echo(text, shown, SHOWN_MAX));
        return -1;
    }
    *status = v;
    return 0;
}

static const word_entry insutype_words[] = {
    {"310", 310},
    {"职工基本医疗保险", 310},
    {"390", 390},
    {"城乡居民基本医疗保险", 390},
};

int imp_insutype_parse(const char *text, const char **code, char *err, size_t errlen)
{
    size_t len;
    const char *p = imp_trim(text, &len);
    int v = lookup(insutype_words, sizeof insutype_words / sizeof insutype_words[0], p, len);
    if (v < 0) {
        char shown[SHOWN_MAX + 4];
        imp_errf(err, errlen,
                 "insutype \"%s\" is not 310 (职工基本医疗保险) or 390 "
                 "(城乡居民基本医疗保险)",
                 imp_echo(text, shown, SHOWN_MAX));
        return -1;
    }
    *code = v == 310 ? "310" : "390";
    return 0;
}

static const word_entry relation_words[] = {
    {"配偶", GJ_REL_SPOUSE},
    {"夫妻", GJ_REL_SPOUSE},
    {"丈夫", GJ_REL_SPOUSE},
    {"妻子", GJ_REL_SPOUSE},
    {"父母", GJ_REL_PARENT},
    {"父亲", GJ_REL_PARENT},
    {"母亲", GJ_REL_PARENT},
    {"子女", GJ_REL_CHILD},
    {"儿子", GJ_REL_CHILD},
    {"女儿", GJ_REL_CHILD},
    {"兄弟姐妹", GJ_REL_SIBLING},
    {"兄弟", GJ_REL_SIBLING},
    {"姐妹", GJ_REL_SIBLING},
    {"祖父母", GJ_REL_GRANDPARENT},
    {"祖父", GJ_REL_GRANDPARENT},
    {"祖母", GJ_REL_GRANDPARENT},
    {"爷爷", GJ_REL_GRANDPARENT},
    {"奶奶", GJ_REL_GRANDPARENT},
    {"外祖父母", GJ_REL_MATERNAL_GRANDPARENT},
    {"外祖父", GJ_REL_MATERNAL_GRANDPARENT},
    {"外祖母", GJ_REL_MATERNAL_GRANDPARENT},
    {"外公", GJ_REL_MATERNAL_GRANDPARENT},
    {"外婆", GJ_REL_MATERNAL_GRANDPARENT},
    {"孙子女", GJ_REL_GRANDCHILD},
    {"孙子", GJ_REL_GRANDCHILD},
    {"孙女", GJ_REL_GRANDCHILD},
    {"外孙子女", GJ_REL_MATERNAL_GRANDCHILD},
    {"外孙", GJ_REL_MATERNAL_GRANDCHILD},
    {"外孙女", GJ_REL_MATERNAL_GRANDCHILD},
    {"配偶父母", GJ_REL_SPOUSE_PARENT},
    {"公婆", GJ_REL_SPOUSE_PARENT},
    {"岳父母", GJ_REL_SPOUSE_PARENT},
};

int imp_relation_parse(const char *text, int *relation, char *err, size_t errlen)
{
    size_t len;
    const char *p = imp_trim(text, &len);
    int v = lookup(relation_words, sizeof relation_words / sizeof relation_words[0], p, len);
    char name[32];
    if (v < 0 && len < sizeof name) { /* the English names, as gj_names.c reads them */
        memcpy(name, p, len);
        name[len] = '\0';
        v = gj_relation_parse(name);
    }
    if (v <= 0) {
        char shown[SHOWN_MAX + 4];
        imp_errf(err, errlen,
                 "relation \"%s\" is not a relation: give 配偶, 父母, 子女, 兄弟姐妹, "
                 "祖父母, 外祖父母, 孙子女, 外孙子女, 配偶父母 or spouse, parent, child, "
                 "sibling, grandparent, maternal_grandparent, grandchild, "
                 "maternal_grandchild, spouse_parent",
                 imp_echo(text, shown, SHOWN_MAX));
        return -1;
    }
    *relation = v;
    return 0;
}

int imp_month_parse(const char *text, int32_t *yyyymm, char *err, size_t errlen)
{
    size_t len;
    const char *p = imp_trim(text, &len);
    char digits[7];
    bool shape = false;
    if (len == 6) {
        memcpy(digits, p, 6);
        shape = true;
    } else if (len == 7 && p[4] == '-') {
        memcpy(digits, p, 4);
        memcpy(digits + 4, p + 5, 2);
        shape = true;
    }
    digits[6] = '\0';
    int32_t v = 0;
    for (size_t i = 0; shape && i < 6; i++) {
        shape = digits[i] >= '0' && digits[i] <= '9';
        v = v * 10 + (digits[i] - '0');
    }
    if (!shape || v / 100 < 1900 || v % 100 < 1 || v % 100 > 12) {
        char shown[SHOWN_MAX + 4];
        imp_errf(err, errlen,
                 "month \"%s\" is not a month: give YYYYMM or YYYY-MM (202611, "
                 "2026-11)",
                 imp_echo(text, shown, SHOWN_MAX));
        return -1;
    }
    *yyyymm = v;
    return 0;
}
