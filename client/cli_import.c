/* What gongji's file commands (credit --file, bind --file) share: opening the file
 * named by --file and reading its header with the import library (import/), as
 * --encoding and --ignore-unknown-columns say. */
#include <stdlib.h>

#include "cli_internal.h"
#include "import.h"

_Static_assert(IMP_COLUMNS_MAX == 8, "cli_internal.h declares cli_import_open with col[8]");

int cli_import_open(cli_ctx *x, int kind, FILE **f, imp_reader **r, int col[IMP_COLUMNS_MAX])
{
    const char *path = x->val[O_FILE];
    if ((*f = fopen(path, "rb")) == NULL) {
        char *t = cli_clean(path, false);
        int rc = cli_usage(x, "cannot open --file %s", t ? t : "?");
        free(t);
        return rc;
    }
    char err[IMP_ERR_MAX];
    if (imp_reader_open(r, *f, x->val[O_ENCODING], err, sizeof err) != 0) {
        fclose(*f);
        return cli_usage(x, "%s", err);
    }
    char **fields;
    size_t n;
    long line;
    long long offset;
    int got = imp_reader_next(*r, &fields, &n, &line, &offset);
    if (got == IMP_RECORD &&
        imp_columns_map((imp_kind)kind, fields, n, col, x->seen[O_IGNORE_UNKNOWN], err, sizeof err) == 0)
        return -1;
    int rc = cli_usage(x, "%s: %s", path,
                       got == IMP_RECORD ? err : got == IMP_END ? "no header line" : imp_reader_error(*r));
    imp_reader_close(*r);
    fclose(*f);
    return rc;
}
