/* One load from start to summary: open the file and check its header, open the store,
 * find where an earlier run stopped, then read rows into batches and commit each one
 * (csv.c reads, write.c stores, report.c shows how it goes). */
#include "gj_limits.h"
#include "gj_util.h"
#include "load.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* mkdir -p: path and every missing directory above it. */
static int mkdir_p(const char *path)
{
    char buf[4096];
    if (!gj_strcpy_fit(buf, sizeof buf, path) || buf[0] == '\0')
        return -1;
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0750) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return mkdir(buf, 0750) != 0 && errno != EEXIST ? -1 : 0;
}

int load_run(const char *data_dir, const char *region, size_t batch_max, bool restart, bool quiet,
             const char *path)
{
    loader ld = {.path = path, .region = region, .quiet = quiet};
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0) {
        fprintf(stderr, "gongji-load: cannot open %s: %s\n", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return EXIT_USAGE;
    }
    if (!S_ISREG(sb.st_mode)) {
        fprintf(stderr, "gongji-load: %s is not a regular file\n", path);
        close(fd);
        return EXIT_USAGE;
    }
    ld.file_size = (uint64_t)sb.st_size;
    uint64_t fingerprint;
    if (load_file_fingerprint(fd, ld.file_size, &fingerprint) != 0) {
        fprintf(stderr, "gongji-load: cannot read %s: %s\n", path, strerror(errno));
        close(fd);
        return EXIT_USAGE;
    }
    char tag[LOAD_TAG_MAX + 1];
    load_file_tag(path, ld.file_size, tag);

    load_reader rd = {.fd = fd, .buf = malloc(LOAD_READ_BUF + 1)};
    load_batch b = {.rows = calloc(batch_max, sizeof *b.rows), .tag = tag, .fingerprint = fingerprint};
    store *s = NULL;
    int status = EXIT_USAGE;
    if (rd.buf == NULL || b.rows == NULL) {
        fprintf(stderr, "gongji-load: out of memory\n");
        goto out;
    }

    /* The header first, before touching the store. */
    char *line;
    size_t len;
    bool too_long;
    int rc = load_reader_next(&rd, &line, &len, &too_long);
    if (rc < 0) {
        fprintf(stderr, "gongji-load: cannot read %s: %s\n", path, strerror(errno));
        goto out;
    }
    if (rc > 0 || too_long || !load_header_ok(line)) {
        fprintf(stderr, "%s:1: the header line must be %s\n", path, LOAD_HEADER);
        goto out;
    }

    if (mkdir_p(data_dir) != 0) {
        fprintf(stderr, "gongji-load: cannot create %s: %s\n", data_dir, strerror(errno));
        goto out;
    }
    store_options sopts = {.map_size = GJ_MAP_SIZE_DEFAULT};
    gj_err err = store_open(&s, data_dir, &sopts);
    if (err == GJ_ERR_BUSY) {
        fprintf(stderr, "gongji-load: %s is in use by process %ld (a running gongji-node?): stop it first\n",
                data_dir, store_dir_holder(data_dir));
        goto out;
    }
    if (err != GJ_OK) {
        fprintf(stderr, "gongji-load: cannot open the store in %s: %s\n", data_dir, gj_err_name(err));
        if (err == GJ_ERR_FORMAT)
            fprintf(stderr, "gongji-load: written in another store format than %u, the one this build reads "
                            "(gongji-admin info says which)\n", store_format_version());
        goto out;
    }

    uint64_t records = 0, resume_line = 0, bad_before = 0, old_fingerprint = 0;
    if ((err = load_progress_last(s, tag, &records, &old_fingerprint, &resume_line, &bad_before)) != GJ_OK) {
        fprintf(stderr, "gongji-load: cannot read progress of %s: %s\n", tag, gj_err_name(err));
        goto out;
    }
    if (records > 0 && restart) {
        if (!quiet)
            fprintf(stderr, "gongji-load: --restart: reading %s from the start; persons already "
                            "present stay as they are\n", path);
        resume_line = bad_before = 0;
    } else if (records > 0 && old_fingerprint != fingerprint) {
        if (!quiet)
            fprintf(stderr, "gongji-load: the progress recorded for %s belongs to another file of "
                            "that name and size; reading from the start\n", path);
        resume_line = bad_before = 0;
    } else if (records > 0 && !quiet) {
        fprintf(stderr, "gongji-load: resuming after line %" PRIu64 " (%" PRIu64 " bad rows before it)\n",
                resume_line, bad_before);
    }
    while (rd.line < resume_line) {
        if ((rc = load_reader_next(&rd, &line, &len, &too_long)) != 0)
            break;
    }
    if (rc < 0) {
        fprintf(stderr, "gongji-load: cannot read %s: %s\n", path, strerror(errno));
        goto out;
    }

    ld.bar = !quiet && isatty(STDERR_FILENO);
    ld.started_ms = ld.bar_drawn_ms = gj_mono_ms();
    ld.start_bytes = rd.consumed;
    ld.bad = bad_before;
    uint64_t bad_at_start = bad_before, committed_line = resume_line;
    b.record_no = records;
    for (bool done = false; !done;) {
        rc = load_reader_next(&rd, &line, &len, &too_long);
        if (rc < 0) {
            load_bar_clear(&ld);
            fprintf(stderr, "gongji-load: cannot read %s: %s\n", path, strerror(errno));
            goto out;
        }
        done = rc > 0;
        if (!done) {
            if (too_long) {
                ld.rows_read++;
                load_bad_row(&ld, rd.line, "longer than %d bytes", LOAD_LINE_MAX);
            } else if (!load_blank(line)) {
                ld.rows_read++;
                if (load_parse_row(&ld, rd.line, line, len, &b.rows[b.count]))
                    b.count++;
            }
            if ((rd.line & 1023) == 0)
                load_bar_draw(&ld, &rd, false);
        }
        /* Commit a full batch, and at the end whatever is left (if only to record that
         * the tail was all bad rows). */
        if (b.count < batch_max && !(done && rd.line > committed_line))
            continue;
        b.now_ms = gj_now_unix_ms();
        b.record_no++;
        b.last_line = rd.line;
        b.bad_before = ld.bad;
        if ((err = store_submit_wait(s, load_apply, &b)) != GJ_OK) {
            load_bar_clear(&ld);
            fprintf(stderr, "gongji-load: %s: the store refused lines %" PRIu64 "..%" PRIu64 ": %s%s\n",
                    path, committed_line + 1, rd.line, gj_err_name(err),
                    err == GJ_ERR_FULL ? " (map full, or try a smaller --batch)" : "");
            goto out;
        }
        committed_line = rd.line;
        for (size_t i = 0; i < b.count; i++)
            if (b.rows[i].outcome == ROW_CONFLICT)
                load_bad_row(&ld, b.rows[i].line, "psn_no %s is already enrolled with another certno; "
                                                  "left unchanged", b.rows[i].person.psn_no);
        ld.loaded += b.loaded;
        ld.present += b.present;
        b.count = 0;
        load_bar_draw(&ld, &rd, false);
    }
    if (ld.bar) {
        load_bar_draw(&ld, &rd, true);
        fputc('\n', stderr);
        ld.bar_visible = false;
    }
    if (!quiet) {
        double secs = (double)(gj_mono_ms() - ld.started_ms) / 1000.0;
        fprintf(stderr, "gongji-load: %s: %" PRIu64 " rows loaded, %" PRIu64 " bad, %" PRIu64
                        " already present, %.2f s, %.0f rows/s\n",
                path, ld.loaded, ld.bad - bad_at_start, ld.present, secs,
                secs > 0 ? (double)ld.rows_read / secs : (double)ld.rows_read);
        if (bad_at_start > 0)
            fprintf(stderr, "gongji-load: %s: %" PRIu64 " more bad rows before line %" PRIu64
                            " were reported by an earlier run\n", path, bad_at_start, resume_line);
    }
    status = ld.bad > 0 ? EXIT_BAD_ROWS : EXIT_LOADED;
out:
    store_close(s);
    free(b.rows);
    free(rd.buf);
    close(fd);
    return status;
}
