/* Zip archives in memory (libzip), as the national file transactions carry them: the
 * detail file an HIS uploads (9101) and the result it downloads (9102). */
#ifndef GW_ZIPFILE_H
#define GW_ZIPFILE_H

#include <stddef.h>

#include "envelope.h"

/* The text of the first file in the archive data[len], at most max bytes once
 * unpacked (malloc'd, NUL-terminated). Data that is not a zip archive is taken as the
 * text itself (some HIS upload the .txt unzipped). -1 with why: a damaged archive, one
 * with no file, or text over max (a zip bomb is refused before it is unpacked). */
int gw_zip_first_text(const unsigned char *data, size_t len, size_t max, char **text, size_t *text_len,
                      gw_failure *why);

/* A new archive holding text[len] as the file name (malloc'd into *zip). */
int gw_zip_one(const char *name, const char *text, size_t len, unsigned char **zip, size_t *zip_len,
               gw_failure *why);

#endif
