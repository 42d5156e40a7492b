/* libFuzzer target: arbitrary bytes as an office's export file (import/import.h). The
 * file is read record by record in the encoding it is taken to be (auto, UTF-8 and
 * GB18030 in turn); every field is offered to every value parser and the first record
 * to every kind's header map. A bad record must say why; every field handed back must
 * be valid UTF-8; nothing may crash, leak or run without bound.
 *
 *   cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DGONGJI_FUZZ=ON -DGONGJI_SANITIZE=ON
 *   cmake --build build-fuzz --target fuzz_import
 *   build-fuzz/tests/fuzz/fuzz_import -max_total_time=60 tests/fuzz/import-corpus */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gj_limits.h"
#include "gj_util.h"
#include "import.h"

static void values(const char *text)
{
    char err[IMP_ERR_MAX];
    int64_t fen;
    int status, relation;
    int32_t month;
    const char *code;
    if (imp_amount_parse(text, &fen, err, sizeof err) == 0 && (fen < 0 || fen > GJ_AMOUNT_MAX))
        abort();
    if (imp_status_parse(text, &status, err, sizeof err) == 0 &&
        (status < IMP_STATUS_ACTIVE || status > IMP_STATUS_TERMINATED))
        abort();
    if (imp_insutype_parse(text, &code, err, sizeof err) == 0 && strcmp(code, "310") != 0 && strcmp(code, "390") != 0)
        abort();
    (void)imp_relation_parse(text, &relation, err, sizeof err);
    if (imp_month_parse(text, &month, err, sizeof err) == 0 && (month % 100 < 1 || month % 100 > 12))
        abort();
}

static void read_all(const uint8_t *data, size_t size, const char *encoding)
{
    FILE *f = fmemopen((void *)data, size, "rb");
    if (f == NULL)
        return;
    imp_reader *r;
    char err[IMP_ERR_MAX];
    if (imp_reader_open(&r, f, encoding, err, sizeof err) != 0) {
        if (err[0] == '\0')
            abort();
        fclose(f);
        return;
    }
    char **fields;
    size_t count;
    long line, last_line = 0;
    long long offset;
    int got;
    /* Each call consumes at least one byte or ends, so size + 2 calls are plenty. */
    for (size_t calls = 0; (got = imp_reader_next(r, &fields, &count, &line, &offset)) != IMP_END; calls++) {
        if (calls > size + 2 || got == IMP_FAILED)
            break;
        if (line < last_line || offset < 0 || (size_t)offset > size)
            abort();
        last_line = line;
        if (got == IMP_BAD) {
            if (imp_reader_error(r)[0] == '\0')
                abort();
            continue;
        }
        if (count > IMP_FIELDS_MAX)
            abort();
        for (size_t i = 0; i < count; i++) {
            if (!gj_utf8_valid((const unsigned char *)fields[i], strlen(fields[i])))
                abort();
            values(fields[i]);
        }
        if (calls == 0) {
            int col_of[IMP_COLUMNS_MAX];
            for (int kind = IMP_PERSONS; kind <= IMP_BINDINGS; kind++)
                if (imp_columns_map((imp_kind)kind, fields, count, col_of, kind == IMP_CREDITS, err, sizeof err) != 0 &&
                    err[0] == '\0')
                    abort();
        }
    }
    imp_reader_close(r);
    fclose(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0; /* fmemopen refuses an empty buffer */
    read_all(data, size, NULL);
    read_all(data, size, "UTF-8");
    read_all(data, size, "GB18030");
    return 0;
}
