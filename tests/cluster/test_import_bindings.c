/* gongji bind --file against real nodes: Changsha 430100's operator imports the
 * bindings the region already has, in Chinese headers: two local sponsors of one
 * beneficiary with their deduction order, and a pair whose beneficiary lives in
 * Xiangtan 430300 (checked by Xiangtan's node, as a bind is); bad rows refused with
 * their lines; the same file again binds nothing twice; a dry run sends nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cluster_fixture.h"

static Gongji__V1__ListBindingsReply *bindings_of(const char *region, const char *psn_no)
{
    client_t *c = op_at(region);
    Gongji__V1__ListBindingsRequest req = GONGJI__V1__LIST_BINDINGS_REQUEST__INIT;
    req.psn_no = (char *)psn_no;
    ProtobufCMessage *ans = NULL;
    client_status st;
    client_call(c, "gongji.v1.MutualAid/ListBindings", NULL, NULL, &req.base,
                &gongji__v1__list_bindings_reply__descriptor, &ans, &st);
    client_close(c);
    if (st.code != 0)
        fail_msg("bindings of %s: %s %s", psn_no, st.reason, st.message);
    return (Gongji__V1__ListBindingsReply *)ans;
}

/* Run the CLI as Changsha's operator; its exit status. */
static int cli_as_changsha(const char *args, const char *out)
{
    test_node *cs = tc_node(&tc, "430100");
    char pem[300], cmd[2000];
    client_close(op_at("430100")); /* the operator's certificate, issued */
    th_cred_paths(GONGJI__V1__ROLE__OPERATOR, "430100:op-1", pem);
    snprintf(cmd, sizeof cmd, "'%s' --node '%s' --ca '%s/ca/ca.crt' --cert '%s' %s >'%s' 2>&1",
             getenv("GONGJI_CLI_BIN"), cs->url, th_pki_dir(), pem, args, out);
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static bool file_has(const char *path, const char *text)
{
    char cmd[800];
    snprintf(cmd, sizeof cmd, "grep -qF -- '%s' '%s'", text, path);
    return system(cmd) == 0;
}

static void test_a_regions_bindings_import_with_orders_and_a_pair_across_regions(void **state)
{
    (void)state;
    person_at("430100", "IB-A", 700, "310", 100000);
    person_at("430100", "IB-C", 701, "310", 100000);
    person_at("430100", "IB-D", 702, "310", 100000);
    person_at("430100", "IB-B", 703, "390", 0);
    person_at("430300", "IB-E", 704, "390", 0);
    char csv[300], out[300], args[700];
    snprintf(csv, sizeof csv, "%s/bindings.csv", tc_node(&tc, "430100")->dir);
    snprintf(out, sizeof out, "%s/bind-out.txt", tc_node(&tc, "430100")->dir);
    FILE *f = fopen(csv, "w");
    assert_non_null(f);
    fputs("共济人编号,被共济人编号,被共济人统筹区,关系,扣减顺序\n" /* line 1 */
          "IB-C,IB-B,,父母,2\n"                                  /* 2: second in B's order */
          "IB-A,IB-B,,父母,1\n"                                  /* 3: first */
          "IB-D,IB-E,430300,子女,\n"                             /* 4: across regions */
          "IB-A,IB-E,430300,表兄,\n"                             /* 5: no such relation */
          "IB-C,IB-B,,父母,2\n"                                  /* 6: line 2 again */
          "IB-A,IB-NOBODY,,配偶,\n",                             /* 7: no such person */
          f);
    fclose(f);
    snprintf(args, sizeof args, "bind --file '%s'", csv);
    assert_int_equal(cli_as_changsha(args, out), 1); /* some rows refused */
    assert_true(file_has(out, "line 5: RELATION_INVALID"));
    assert_true(file_has(out, "line 6: ROW_REPEATED: the same binding is on line 2 already"));
    assert_true(file_has(out, "line 7: gongji: NOT_FOUND PERSON_NOT_FOUND: no person IB-NOBODY"));
    assert_true(file_has(out, "bound               3"));

    Gongji__V1__ListBindingsReply *b = bindings_of("430100", "IB-B");
    assert_int_equal(b->n_as_beneficiary, 2);
    assert_int_equal(b->n_deduction_order, 2);
    assert_string_equal(b->deduction_order[0], "IB-A");
    assert_string_equal(b->deduction_order[1], "IB-C");
    gongji__v1__list_bindings_reply__free_unpacked(b, NULL);
    /* Xiangtan's node took the pair across regions, as a bind. */
    b = bindings_of("430300", "IB-E");
    assert_int_equal(b->n_as_beneficiary, 1);
    assert_string_equal(b->as_beneficiary[0]->sponsor_psn_no, "IB-D");
    assert_string_equal(b->as_beneficiary[0]->sponsor_admdvs, "430100");
    gongji__v1__list_bindings_reply__free_unpacked(b, NULL);

    /* The same file again: answered the same, nothing bound twice. */
    assert_int_equal(cli_as_changsha(args, out), 1);
    assert_true(file_has(out, "bound               3"));
    b = bindings_of("430100", "IB-A");
    assert_int_equal(b->n_as_sponsor, 1);
    gongji__v1__list_bindings_reply__free_unpacked(b, NULL);

    /* A dry run checks the file and sends nothing. */
    f = fopen(csv, "w");
    assert_non_null(f);
    fputs("sponsor,beneficiary,relation\nIB-D,IB-B,parent\n", f);
    fclose(f);
    snprintf(args, sizeof args, "bind --file '%s' --dry-run", csv);
    assert_int_equal(cli_as_changsha(args, out), 0);
    assert_true(file_has(out, "would_bind          1"));
    b = bindings_of("430100", "IB-B");
    assert_int_equal(b->n_as_beneficiary, 2);
    gongji__v1__list_bindings_reply__free_unpacked(b, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_regions_bindings_import_with_orders_and_a_pair_across_regions),
    };
    return th_exit_status(cmocka_run_group_tests(tests, cluster_setup, cluster_teardown));
}
