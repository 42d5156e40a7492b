/* What the import/ unit tests share (test_import.c, test_import_values.c). Include it
 * after <cmocka.h>. */
#ifndef GJ_IMPORT_FIXTURE_H
#define GJ_IMPORT_FIXTURE_H

#include <string.h>

/* Fails the test unless text holds part. */
static inline void assert_has(const char *text, const char *part)
{
    if (strstr(text, part) == NULL)
        fail_msg("\"%s\" does not contain \"%s\"", text, part);
}

#endif
