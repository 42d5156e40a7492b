#include "zipfile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zip.h>

static bool is_zip(const unsigned char *data, size_t len)
{
    return len >= 4 && data[0] == 'P' && data[1] == 'K' && data[2] == 3 && data[3] == 4;
}

static int damaged(gw_failure *why, const char *what)
{
    gw_fail(why, "INVALID_ARGUMENT", "FILE_INVALID", "the uploaded file is not a readable zip archive (%s)", what);
    return -1;
}

int gw_zip_first_text(const unsigned char *data, size_t len, size_t max, char **text, size_t *text_len,
                      gw_failure *why)
{
    size_t size = len;
    if (!is_zip(data, len)) {
        if (len > max)
            goto too_large;
        if ((*text = malloc(len + 1)) == NULL)
            goto no_memory;
        memcpy(*text, data, len);
        (*text)[len] = '\0';
        *text_len = len;
        return 0;
    }
    zip_error_t err;
    zip_error_init(&err);
    zip_source_t *src = zip_source_buffer_create(data, len, 0, &err);
    zip_t *za = src != NULL ? zip_open_from_source(src, ZIP_RDONLY | ZIP_CHECKCONS, &err) : NULL;
    zip_error_fini(&err);
    if (za == NULL) {
        if (src != NULL)
            zip_source_free(src);
        return damaged(why, "its directory cannot be read");
    }
    zip_int64_t entries = zip_get_num_entries(za, 0);
    zip_stat_t st;
    zip_int64_t pick = -1;
    for (zip_int64_t i = 0; i < entries && pick < 0; i++)
        if (zip_stat_index(za, (zip_uint64_t)i, 0, &st) == 0 && (st.valid & ZIP_STAT_NAME) &&
            (st.valid & ZIP_STAT_SIZE) && st.name[0] != '\0' && st.name[strlen(st.name) - 1] != '/')
            pick = i;
    if (pick < 0) {
        zip_discard(za);
        return damaged(why, "it holds no file");
    }
    if (st.size > max) {
        size = st.size;
        zip_discard(za);
        goto too_large;
    }
    zip_file_t *zf = zip_fopen_index(za, (zip_uint64_t)pick, 0);
    char *out = malloc(st.size + 1);
    zip_int64_t got = zf != NULL && out != NULL ? zip_fread(zf, out, st.size) : -1;
    /* Read once more: an entry whose data is longer than its directory says is damaged. */
    char extra;
    bool longer = got >= 0 && zf != NULL && zip_fread(zf, &extra, 1) > 0;
    if (zf != NULL)
        zip_fclose(zf);
    zip_discard(za);
    if (got < 0 || (zip_uint64_t)got != st.size || longer) {
        free(out);
        return damaged(why, "its file cannot be unpacked");
    }
    out[got] = '\0';
    *text = out;
    *text_len = (size_t)got;
    return 0;
too_large:
    gw_fail(why, "RESOURCE_EXHAUSTED", "FILE_TOO_LARGE", "the file unpacks to %zu bytes; at most %zu", size, max);
    return -1;
no_memory:
    gw_fail(why, "RESOURCE_EXHAUSTED", "OUT_OF_MEMORY", "cannot hold the file");
    return -1;
}

int gw_zip_one(const char *name, const char *text, size_t len, unsigned char **zip, size_t *zip_len,
               gw_failure *why)
{
    zip_error_t err;
    zip_error_init(&err);
    zip_source_t *archive = zip_source_buffer_create(NULL, 0, 0, &err);
    zip_error_fini(&err);
    if (archive == NULL)
        goto failed;
    zip_source_keep(archive); /* zip_close gives its reference back; the bytes are read after */
    zip_t *za = zip_open_from_source(archive, ZIP_TRUNCATE, NULL);
    zip_source_t *file = za != NULL ? zip_source_buffer(za, text, len, 0) : NULL;
    if (za == NULL || file == NULL || zip_file_add(za, name, file, ZIP_FL_ENC_UTF_8) < 0) {
        if (file != NULL)
            zip_source_free(file);
        if (za != NULL)
            zip_discard(za);
        zip_source_free(archive);
        goto failed;
    }
    if (zip_close(za) != 0) {
        zip_discard(za);
        zip_source_free(archive);
        goto failed;
    }
    unsigned char *out = NULL;
    zip_int64_t size = -1;
    if (zip_source_open(archive) == 0) {
        if (zip_source_seek(archive, 0, SEEK_END) == 0 && (size = zip_source_tell(archive)) >= 0 &&
            zip_source_seek(archive, 0, SEEK_SET) == 0 && (out = malloc((size_t)size + 1)) != NULL &&
            zip_source_read(archive, out, (zip_uint64_t)size) != size)
            size = -1;
        zip_source_close(archive);
    }
    zip_source_free(archive);
    if (out == NULL || size < 0) {
        free(out);
        goto failed;
    }
    *zip = out;
    *zip_len = (size_t)size;
    return 0;
failed:
    gw_fail(why, "INTERNAL", "FILE_NOT_WRITTEN", "cannot write the result archive");
    return -1;
}
