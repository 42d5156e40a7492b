/* libFuzzer target: arbitrary bytes where an HIS's bytes reach the gateway, with no
 * node behind it. The same input is taken three ways:
 *   - as an HTTP body: the envelope is parsed, input.data's fields are read as text and
 *     as money, and an answer is written;
 *   - as a 9101 upload: unpacked (a zip, or the text itself), bounded;
 *   - as the 3202 detail file: parsed and compared with itself.
 * Every refusal must carry a status and a reason; nothing may crash or leak.
 *
 *   cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DGONGJI_FUZZ=ON -DGONGJI_SANITIZE=ON
 *   cmake --build build-fuzz --target fuzz_gateway
 *   build-fuzz/tests/fuzz/fuzz_gateway -max_total_time=60 tests/fuzz/gateway-corpus */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "detail.h"
#include "envelope.h"
#include "zipfile.h"

static void must_say_why(const gw_failure *why)
{
    if (why->status == NULL || why->reason[0] == '\0' || why->message[0] == '\0')
        abort(); /* a refusal without its code and reason */
}

static void as_body(const uint8_t *data, size_t size)
{
    gw_request r;
    gw_failure why = {0};
    if (gw_request_parse((const char *)data, size, &r, &why) != 0) {
        must_say_why(&why);
        char *answer = gw_answer_text(&r, NULL, &why, 0, "510100");
        if (answer == NULL)
            abort();
        free(answer);
        return;
    }
    static const char *const names[] = {"psn_no", "medfee_sumamt", "psn_part_amt", "setl_id", "mdtrt_id"};
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(r.input, "data");
    char text[64];
    int64_t fen;
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        gw_failure f = {0};
        if (!gw_field_text(d, names[i], i % 2 == 0, 32, text, &f))
            must_say_why(&f);
        else if (strlen(text) > 32)
            abort();
        memset(&f, 0, sizeof f);
        if (!gw_field_money(d, names[i], false, &fen, &f))
            must_say_why(&f);
        else if (fen < 0 || fen > GJ_AMOUNT_MAX)
            abort();
    }
    char *answer = gw_answer_text(&r, cJSON_CreateObject(), NULL, 0, "510100");
    if (answer == NULL)
        abort();
    free(answer);
    gw_request_free(&r);
}

static int by_id(const void *a, const void *b)
{
    return strcmp(((const gw_detail_row *)a)->setl_id, ((const gw_detail_row *)b)->setl_id);
}

static void as_detail(char *text)
{
    gw_detail theirs = {0}, ours = {0};
    gw_failure why = {0};
    if (gw_detail_parse(text, &theirs, &why) != 0) {
        must_say_why(&why);
    } else {
        /* gongji's side: each of the file's settlements once, as gongji never repeats one. */
        for (size_t i = 0; i < theirs.count; i++) {
            gw_detail_row *o = gw_detail_add(&ours, &why);
            if (o == NULL)
                abort();
            *o = theirs.rows[i];
        }
        if (ours.count > 1)
            qsort(ours.rows, ours.count, sizeof *ours.rows, by_id);
        size_t kept = 0;
        for (size_t i = 0; i < ours.count; i++)
            if (kept == 0 || strcmp(ours.rows[kept - 1].setl_id, ours.rows[i].setl_id) != 0)
                ours.rows[kept++] = ours.rows[i];
        ours.count = kept;
        text_buf out = {0};
        unsigned counts[GW_DETAIL_RESULTS] = {0};
        if (gw_detail_compare(&theirs, &ours, &out, counts) != 0)
            abort();
        /* Every settlement of gongji's is in the file, so none is gongji's alone, and
         * each is answered once, balanced or not. */
        if (counts[GW_DETAIL_GONGJI_MORE] != 0 || counts[GW_DETAIL_BALANCED] + counts[GW_DETAIL_DIFFER] != kept)
            abort();
        free(out.s);
    }
    gw_detail_free(&theirs);
    gw_detail_free(&ours);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    as_body(data, size);
    char *text = NULL;
    size_t text_len = 0;
    gw_failure why = {0};
    if (gw_zip_first_text(data, size, 1 << 20, &text, &text_len, &why) != 0) {
        must_say_why(&why);
        return 0;
    }
    if (text_len > 1 << 20 || text[text_len] != '\0')
        abort();
    as_detail(text);
    free(text);
    return 0;
}
