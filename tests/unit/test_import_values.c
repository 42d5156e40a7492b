/* Unit tests of import/'s columns and values: header names of the three kinds of file
 * (Chinese and English), amounts, status, insutype, relation and month words, messages,
 * and the duplicate detector. The reader itself is in test_import.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "gj_limits.h"
#include "gj_names.h"
#include "gj_util.h"
#include "import.h"
#include "import_fixture.h"

#include <stdio.h>
#include <stdlib.h>

/* ---- columns ---- */

static int map(imp_kind kind, const char *const *header, size_t n, int *col_of, bool ignore, char *err)
{
    return imp_columns_map(kind, (char *const *)header, n, col_of, ignore, err, IMP_ERR_MAX);
}

static void test_persons_headers_chinese_and_english(void **state)
{
    (void)state;
    int col[IMP_COLUMNS_MAX];
    char err[IMP_ERR_MAX];
    const char *zh[] = {"姓名", " 人员编号 ", "　公民身份号码　", "险种类型", "人员参保状态", "个人账户余额"};
    assert_int_equal(map(IMP_PERSONS, zh, 6, col, false, err), 0);
    assert_int_equal(col[IMP_P_PSN_NO], 1);
    assert_int_equal(col[IMP_P_CERTNO], 2);
    assert_int_equal(col[IMP_P_PSN_NAME], 0);
    assert_int_equal(col[IMP_P_INSUTYPE], 3);
    assert_int_equal(col[IMP_P_STATUS], 4);
    assert_int_equal(col[IMP_P_BALANCE], 5);
    const char *en[] = {"PSN_NO", "CertNo", "insutype", "Status"};
    assert_int_equal(map(IMP_PERSONS, en, 4, col, false, err), 0);
    assert_int_equal(col[IMP_P_PSN_NO], 0);
    assert_int_equal(col[IMP_P_STATUS], 3);
    assert_int_equal(col[IMP_P_PSN_NAME], -1); /* optional, absent */
    assert_int_equal(col[IMP_P_BALANCE], -1);
    assert_int_equal(imp_columns_count(IMP_PERSONS), 6);
    assert_string_equal(imp_column_name(IMP_PERSONS, IMP_P_BALANCE), "balance");
    assert_true(imp_column_required(IMP_PERSONS, IMP_P_CERTNO));
    assert_false(imp_column_required(IMP_PERSONS, IMP_P_PSN_NAME));
    assert_null(imp_column_name(IMP_PERSONS, IMP_P_COUNT));
}

static void test_credits_headers_chinese_and_english(void **state)
{
    (void)state;
    int col[IMP_COLUMNS_MAX];
    char err[IMP_ERR_MAX];
    const char *zh[] = {"划入流水号", "个人编号", "本次划入金额", "摘要", "费款所属期"};
    assert_int_equal(map(IMP_CREDITS, zh, 5, col, false, err), 0);
    for (int c = 0; c < IMP_C_COUNT; c++)
        assert_int_equal(col[c], c);
    const char *en[] = {"amount", "Row_Id", "psn_no"};
    assert_int_equal(map(IMP_CREDITS, en, 3, col, false, err), 0);
    assert_int_equal(col[IMP_C_AMOUNT], 0);
    assert_int_equal(col[IMP_C_ROW_ID], 1);
    assert_int_equal(col[IMP_C_MONTH], -1);
    assert_false(imp_column_required(IMP_CREDITS, IMP_C_MONTH));
}

static void test_bindings_headers_chinese_and_english(void **state)
{
    (void)state;
    int col[IMP_COLUMNS_MAX];
    char err[IMP_ERR_MAX];
    const char *zh[] = {"授权人编号",     "授权人参保地", "被授权人编号",
                        "被共济人统筹区", "与共济人关系", "扣减顺序"};
    assert_int_equal(map(IMP_BINDINGS, zh, 6, col, false, err), 0);
    for (int c = 0; c < IMP_B_COUNT; c++)
        assert_int_equal(col[c], c);
    const char *en[] = {"relation", "BENEFICIARY", "sponsor", "Order"};
    assert_int_equal(map(IMP_BINDINGS, en, 4, col, false, err), 0);
    assert_int_equal(col[IMP_B_SPONSOR], 2);
    assert_int_equal(col[IMP_B_BENEFICIARY], 1);
    assert_int_equal(col[IMP_B_RELATION], 0);
    assert_int_equal(col[IMP_B_ORDER], 3);
    assert_int_equal(col[IMP_B_SPONSOR_REGION], -1);
}

static void test_column_given_twice(void **state)
{
    (void)state;
    int col[IMP_COLUMNS_MAX];
    char err[IMP_ERR_MAX];
    const char *h[] = {"人员编号", "身份证号", "险种", "状态", "个人编号"};
    assert_int_equal(map(IMP_PERSONS, h, 5, col, false, err), -1);
    assert_string_equal(err, "columns 1 (\"人员编号\") and 5 (\"个人编号\") are both psn_no");
}

static void test_required_column_missing(void **state)
{
    (void)state;
    int col[IMP_COLUMNS_MAX];
    char err[IMP_ERR_MAX];
    const char *h[] = {"人员编号", "险种", "姓名"};
    assert_int_equal(map(IMP_PERSONS, h, 3, col, false, err), -1);
    assert_has(err, "a persons file needs the columns psn_no, certno, insutype, status; missing: ");
    assert_has(err, "certno (身份证号, 身份证号码, 证件号码, 公民身份号码), status (参保状态, ");
    const char *b[] = {"sponsor", "beneficiary"};
    assert_int_equal(map(IMP_BINDINGS, b, 2, col, false, err), -1);
    assert_has(err, "missing: relation (关系, 与共济人关系, 亲属关系)");
}

static void test_unknown_column_refused_or_ignored(void **state)
{
    (void)state;
    int col[IMP_COLUMNS_MAX];
    char err[IMP_ERR_MAX];
    const char *h[] = {"序号", "人员编号", "单位名称", "金额", ""};
    assert_int_equal(map(IMP_CREDITS, h, 5, col, false, err), -1);
    assert_has(err, "column 3 \"单位名称\" is not a column of a credits file");
    assert_has(err, "accepted: row_id (序号, 流水号, 划入流水号, 业务流水号), psn_no (");
    assert_has(err, "month (划入年月, 所属期, 费款所属期)");
    assert_int_equal(map(IMP_CREDITS, h, 5, col, true, err), 0);
    assert_int_equal(col[IMP_C_AMOUNT], 3);
    const char *e[] = {"序号", "人员编号", "金额", " "};
    assert_int_equal(map(IMP_CREDITS, e, 4, col, false, err), -1);
    assert_has(err, "column 4 has no name");
}

/* ---- values ---- */

static void test_amount_forms(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int64_t fen;
    } ok[] = {
        {"1234.5", 123450},
        {"1,234.50", 123450},
        {"¥1,234.50", 123450},
        {"￥1,234.50", 123450},
        {"  12 ", 1200},
        {"\t0.05\t", 5},
        {"0", 0},
        {"1,234,567.89", 123456789},
        {"10000000.00", GJ_AMOUNT_MAX},
        {"10,000,000", GJ_AMOUNT_MAX},
        {"　￥ 7.1　", 710},
        {"123", 12300},
    };
    char err[IMP_ERR_MAX];
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        int64_t fen = -1;
        if (imp_amount_parse(ok[i].text, &fen, err, sizeof err) != 0)
            fail_msg("%s: %s", ok[i].text, err);
        assert_int_equal(fen, ok[i].fen);
    }
}

static void test_amount_refusals_say_why_and_echo(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        const char *says;
    } bad[] = {
        {"1,23.00", "amount \"1,23.00\" has thousands separators out of place"},
        {"1234,567", "amount \"1234,567\" has thousands separators out of place"},
        {",123", "out of place"},
        {"1,,234", "out of place"},
        {"1.234", "amount \"1.234\" has more than two decimals"},
        {"-5", "amount \"-5\" is negative"},
        {"￥-5", "is negative"},
        {"(5.00)", "is negative"},
        {"10000000.01", "amount \"10000000.01\" is above the largest allowed, 10,000,000.00 yuan"},
        {"99999999999999999999", "is above the largest allowed"},
        {"abc", "amount \"abc\" is not an amount of yuan"},
        {"1.", "is not an amount"},
        {".5", "is not an amount"},
        {"1 234", "is not an amount"},
        {"+5", "is not an amount"},
        {"5元", "is not an amount"},
        {"", "amount is empty"},
        {"  ", "amount is empty"},
    };
    char err[IMP_ERR_MAX];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t fen = 77;
        if (imp_amount_parse(bad[i].text, &fen, err, sizeof err) != -1)
            fail_msg("\"%s\" was taken as %lld fen", bad[i].text, (long long)fen);
        assert_int_equal(fen, 77);
        assert_has(err, bad[i].says);
    }
}

static void test_status_words(void **state)
{
    (void)state;
    static const struct {
        const char *word;
        int status;
    } words[] = {
        {"1", 1},          {"active", 1},   {"Active", 1}, {"正常参保", 1}, {"参保缴费", 1},
        {"正常", 1},       {"在职", 1},     {" 退休 ", 1}, {"2", 2},        {"SUSPENDED", 2},
        {"暂停参保", 2},   {"暂停缴费", 2}, {"中断", 2},   {"暂停", 2},     {"3", 3},
        {"terminated", 3}, {"终止参保", 3}, {"终止", 3},   {"注销", 3},     {"死亡", 3},
    };
    char err[IMP_ERR_MAX];
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
        int s = 0;
        if (imp_status_parse(words[i].word, &s, err, sizeof err) != 0)
            fail_msg("%s: %s", words[i].word, err);
        assert_int_equal(s, words[i].status);
    }
    int s = 0;
    assert_int_equal(imp_status_parse("在读", &s, err, sizeof err), -1);
    assert_has(err, "status \"在读\" is not a status");
    assert_int_equal(imp_status_parse("4", &s, err, sizeof err), -1);
    assert_int_equal(imp_status_parse("正常参保中", &s, err, sizeof err), -1);
    assert_int_equal(s, 0);
}

static void test_insutype_words(void **state)
{
    (void)state;
    const char *code = NULL;
    char err[IMP_ERR_MAX];
    assert_int_equal(imp_insutype_parse("310", &code, err, sizeof err), 0);
    assert_string_equal(code, "310");
    assert_int_equal(imp_insutype_parse(" 城乡居民基本医疗保险 ", &code, err, sizeof err), 0);
    assert_string_equal(code, "390");
    assert_int_equal(imp_insutype_parse("职工基本医疗保险", &code, err, sizeof err), 0);
    assert_string_equal(code, "310");
    assert_int_equal(imp_insutype_parse("390", &code, err, sizeof err), 0);
    assert_string_equal(code, "390");
    assert_int_equal(imp_insutype_parse("320", &code, err, sizeof err), -1);
    assert_has(err, "insutype \"320\" is not 310");
    assert_int_equal(imp_insutype_parse("职工医保", &code, err, sizeof err), -1);
}

static void test_relation_words(void **state)
{
    (void)state;
    static const struct {
        const char *word;
        int relation;
    } words[] = {
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
        {"spouse", GJ_REL_SPOUSE},
        {"Maternal_Grandchild", GJ_REL_MATERNAL_GRANDCHILD},
        {" spouse_parent ", GJ_REL_SPOUSE_PARENT},
    };
    char err[IMP_ERR_MAX];
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
        int rel = 0;
        if (imp_relation_parse(words[i].word, &rel, err, sizeof err) != 0)
            fail_msg("%s: %s", words[i].word, err);
        assert_int_equal(rel, words[i].relation);
    }
    /* every relation the project names is reachable by its English name */
    for (int v = 1; v <= GJ_REL_MAX; v++) {
        int rel = 0;
        assert_int_equal(imp_relation_parse(gj_relation_name(v), &rel, err, sizeof err), 0);
        assert_int_equal(rel, v);
    }
    int rel = 0;
    assert_int_equal(imp_relation_parse("朋友", &rel, err, sizeof err), -1);
    assert_has(err, "relation \"朋友\" is not a relation");
    assert_int_equal(imp_relation_parse("unknown", &rel, err, sizeof err), -1);
    assert_int_equal(imp_relation_parse("", &rel, err, sizeof err), -1);
}

static void test_month_forms(void **state)
{
    (void)state;
    int32_t m = 0;
    char err[IMP_ERR_MAX];
    assert_int_equal(imp_month_parse("202611", &m, err, sizeof err), 0);
    assert_int_equal(m, 202611);
    assert_int_equal(imp_month_parse(" 2026-01 ", &m, err, sizeof err), 0);
    assert_int_equal(m, 202601);
    const char *bad[] = {"202613", "202600", "2026-1", "2026/11", "20261", "18991", "abcdef", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(imp_month_parse(bad[i], &m, err, sizeof err), -1);
    assert_has(err, "month \"\" is not a month: give YYYYMM or YYYY-MM");
}

/* A message is cut to the room given on a character boundary: still UTF-8. */
static void test_messages_cut_on_character_boundaries(void **state)
{
    (void)state;
    char full[IMP_ERR_MAX];
    int s;
    assert_int_equal(imp_status_parse("张张张张张张张张", &s, full, sizeof full), -1);
    for (size_t room = 1; room < 48; room++) {
        char err[48];
        assert_int_equal(imp_status_parse("张张张张张张张张", &s, err, room), -1);
        size_t len = strlen(err);
        assert_true(len < room && len + 3 > room - 1); /* at most a character short */
        assert_memory_equal(err, full, len);
        assert_true(gj_utf8_valid(err, len));
    }
}

/* ---- duplicates ---- */

static void test_dups_million_keys(void **state)
{
    (void)state;
    enum { KEYS = 1000000 };
    imp_dups *d = imp_dups_open(KEYS);
    assert_non_null(d);
    char key[40];
    long first = 0;
    for (long i = 0; i < KEYS; i++) {
        snprintf(key, sizeof key, "4301021990%08ld", i * 7919 % 100000000);
        assert_int_equal(imp_dups_add(d, key, i + 2, &first), 0);
    }
    assert_int_equal(imp_dups_count(d), KEYS);
    for (long i = 0; i < KEYS; i += 997) {
        snprintf(key, sizeof key, "4301021990%08ld", i * 7919 % 100000000);
        first = 0;
        assert_int_equal(imp_dups_add(d, key, KEYS + 10, &first), 1);
        assert_int_equal(first, i + 2);
    }
    /* full: a new key is refused, one already held is still found */
    assert_int_equal(imp_dups_add(d, "new", 5, &first), -1);
    assert_has(imp_dups_error(d), "more than 1000000 keys");
    assert_int_equal(imp_dups_add(d, "430102199000000000", 9, &first), 1);
    assert_int_equal(first, 2);
    assert_int_equal(imp_dups_count(d), KEYS);
    imp_dups_close(d);
}

static void test_dups_bounds(void **state)
{
    (void)state;
    assert_null(imp_dups_open(0));
    assert_null(imp_dups_open((size_t)IMP_DUPS_CAP + 1));
    imp_dups *d = imp_dups_open(2);
    assert_non_null(d);
    long first = 0;
    assert_int_equal(imp_dups_add(d, "R1", 2, &first), 0);
    assert_int_equal(imp_dups_add(d, "R2", 3, &first), 0);
    assert_int_equal(imp_dups_add(d, "R3", 4, &first), -1);
    assert_has(imp_dups_error(d), "more than 2 keys");
    assert_int_equal(imp_dups_add(d, "R2", 5, &first), 1);
    assert_int_equal(first, 3);
    assert_int_equal(imp_dups_add(d, "", 6, &first), -1);
    assert_has(imp_dups_error(d), "keys have 1 to 32");
    assert_int_equal(imp_dups_add(d, "012345678901234567890123456789012", 6, &first), -1);
    assert_int_equal(imp_dups_add(d, "R1", 0, &first), -1);
    assert_has(imp_dups_error(d), "line 0 is out of range");
    imp_dups_close(d);
    /* keys of every length, the longest allowed included, and ones alike but for length */
    d = imp_dups_open(100);
    char key[IMP_DUP_KEY_MAX + 1];
    for (int len = 1; len <= IMP_DUP_KEY_MAX; len++) {
        memset(key, 'k', (size_t)len), key[len] = '\0';
        assert_int_equal(imp_dups_add(d, key, len, &first), 0);
    }
    for (int len = IMP_DUP_KEY_MAX; len >= 1; len--) {
        memset(key, 'k', (size_t)len), key[len] = '\0';
        assert_int_equal(imp_dups_add(d, key, 99, &first), 1);
        assert_int_equal(first, len);
    }
    imp_dups_close(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_persons_headers_chinese_and_english),
        cmocka_unit_test(test_credits_headers_chinese_and_english),
        cmocka_unit_test(test_bindings_headers_chinese_and_english),
        cmocka_unit_test(test_column_given_twice),
        cmocka_unit_test(test_required_column_missing),
        cmocka_unit_test(test_unknown_column_refused_or_ignored),
        cmocka_unit_test(test_amount_forms),
        cmocka_unit_test(test_amount_refusals_say_why_and_echo),
        cmocka_unit_test(test_status_words),
        cmocka_unit_test(test_insutype_words),
        cmocka_unit_test(test_relation_words),
        cmocka_unit_test(test_month_forms),
        cmocka_unit_test(test_messages_cut_on_character_boundaries),
        cmocka_unit_test(test_dups_million_keys),
        cmocka_unit_test(test_dups_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
