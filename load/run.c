/* One load from start to summary: open the file and map its header, open the store, find
 * where an earlier run stopped, then read rows into batches and commit each one (csv.c
 * reads, write.c stores, report.c shows how it goes). A dry run reads and checks the
 * same way and never opens the store. */
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

static int open_store(const char *data_dir, store **s)
{
    if (mkdir_p(data_dir) != 0) {
        fprintf(stderr, "gongji-load: cannot create %s: %s\n", data_dir, strerror(errno));
        return EXIT_USAGE;
    }
    store_options sopts = {.map_size = GJ_MAP_SIZE_DEFAULT};
    gj_err err = store_open(s, data_dir, &sopts);
    if (err == GJ_ERR_BUSY) {
        fprintf(stderr, "gongji-load: %s is in use by process %ld (a running gongji-node?): stop it first\n",
                data_dir, store_dir_holder(data_dir));
        return EXIT_USAGE;
    }
    if (err != GJ_OK) {
        fprintf(stderr, "gongji-load: cannot open the store in %s: %s\n", data_dir, gj_err_name(err));
        if (err == GJ_ERR_FORMAT)
            fprintf(stderr, "gongji-load: written in another store format than %u, the one this build reads "
                            "(gongji-admin info says which)\n", store_format_version());
        return EXIT_USAGE;
    }
    return 0;
}

/* Where this file's earlier runs got to: sets ld->resume_line and ld->bad, and
 * b->record_no to the last progress record's number. */
static int find_progress(loader *ld, store *s, load_batch *b, bool restart)
{
    uint64_t records = 0, line = 0, bad = 0, fingerprint = 0;
    gj_err err = load_progress_last(s, b->tag, &records, &fingerprint, &line, &bad);
    if (err != GJ_OK) {
        fprintf(stderr, "gongji-load: cannot read progress of %s: %s\n", b->tag, gj_err_name(err));
        return EXIT_USAGE;
    }
    b->record_no = records;
    if (records > 0 && restart) {
        if (!ld->quiet)
            fprintf(stderr, "gongji-load: --restart: reading %s from the start; persons already "
                            "present stay as they are\n", ld->path);
        line = bad = 0;
    } else if (records > 0 && fingerprint != b->fingerprint) {
        if (!ld->quiet)
            fprintf(stderr, "gongji-load: the progress recorded for %s belongs to another file of "
                            "that name and size; reading from the start\n", ld->path);
        line = bad = 0;
    } else if (records > 0 && !ld->quiet) {
        fprintf(stderr, "gongji-load: resuming after line %" PRIu64 " (%" PRIu64 " bad rows before it)\n",
                line, bad);
    }
    ld->resume_line = line;
    ld->bad = bad;
    return 0;
}

/* Store the rows of b with a progress record up to ld->line; a dry run only counts them. */
static int commit(loader *ld, store *s, load_batch *b, uint64_t *committed_line)
{
    if (s == NULL) {
        ld->loaded += b->count;
        b->count = 0;
        *committed_line = ld->line;
        return 0;
    }
    b->now_ms = gj_now_unix_ms();
    b->record_no++;
    b->last_line = ld->line;
    b->bad_before = ld->bad;
    gj_err err = store_submit_wait(s, load_apply, b);
    if (err != GJ_OK) {
        load_bar_clear(ld);
        fprintf(stderr, "gongji-load: %s: the store refused lines %" PRIu64 "..%" PRIu64 ": %s%s\n", ld->path,
                *committed_line + 1, ld->line, gj_err_name(err),
                err == GJ_ERR_FULL ? " (map full, or try a smaller --batch)" : "");
        return EXIT_USAGE;
    }
    *committed_line = ld->line;
    for (size_t i = 0; i < b->count; i++)
        if (b->rows[i].outcome == ROW_CONFLICT)
            load_bad_row(ld, b->rows[i].line, "psn_no %s is already enrolled with another certno; left unchanged",
                         b->rows[i].person.psn_no);
    ld->loaded += b->loaded;
    ld->present += b->present;
    b->count = 0;
    return 0;
}

/* Read every row, committing a batch whenever it is full and at the end. */
static int read_rows(loader *ld, store *s, load_batch *b, size_t batch_max)
{
    uint64_t committed_line = ld->resume_line, records = 0;
    bool own = false; /* past the rows an earlier run committed */
    for (bool done = false; !done;) {
        int got = load_next(ld, &b->rows[b->count]);
        if (got == LOAD_FAILED)
            return EXIT_USAGE;
        done = got == LOAD_END;
        if (got == LOAD_ROW)
            b->count++;
        if (got == LOAD_ROW || got == LOAD_BAD)
            ld->rows_read++;
        if (!own && got != LOAD_BEFORE) { /* the bar's rate counts this run's own rows */
            own = true;
            ld->bar_from_ms = gj_mono_ms();
            ld->bar_from_bytes = ld->at;
        }
        if ((++records & 1023) == 0)
            load_bar_draw(ld, false);
        /* Commit a full batch, and at the end whatever is left (if only to record that
         * the tail was all bad rows). */
        if (b->count < batch_max && !(done && ld->line > committed_line))
            continue;
        if (commit(ld, s, b, &committed_line) != 0)
            return EXIT_USAGE;
        load_bar_draw(ld, false);
    }
    ld->at = ld->file_size;
    if (ld->bar) {
        load_bar_draw(ld, true);
        fputc('\n', stderr);
        ld->bar_visible = false;
    }
    return 0;
}

int load_run(const load_options *o)
{
    loader ld = {.path = o->path, .region = o->region, .quiet = o->quiet};
    int fd = open(o->path, O_RDONLY | O_CLOEXEC);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0) {
        fprintf(stderr, "gongji-load: cannot open %s: %s\n", o->path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return EXIT_USAGE;
    }
    if (!S_ISREG(sb.st_mode)) {
        fprintf(stderr, "gongji-load: %s is not a regular file\n", o->path);
        close(fd);
        return EXIT_USAGE;
    }
    ld.file_size = (uint64_t)sb.st_size;
    uint64_t fingerprint;
    if (load_file_fingerprint(fd, ld.file_size, &fingerprint) != 0) {
        fprintf(stderr, "gongji-load: cannot read %s: %s\n", o->path, strerror(errno));
        close(fd);
        return EXIT_USAGE;
    }
    char tag[LOAD_TAG_MAX + 1];
    load_file_tag(o->path, ld.file_size, tag);

    load_batch b = {.rows = calloc(o->batch_max, sizeof *b.rows), .tag = tag, .fingerprint = fingerprint};
    store *s = NULL;
    int status = load_open(&ld, fd, o->encoding, o->ignore_unknown); /* the header, before touching the store */
    if (status == 0 && b.rows == NULL) {
        fprintf(stderr, "gongji-load: out of memory\n");
        status = EXIT_USAGE;
    }
    if (status == 0 && !o->dry_run)
        status = open_store(o->data_dir, &s);
    if (status == 0 && !o->dry_run)
        status = find_progress(&ld, s, &b, o->restart);
    if (status != 0)
        goto out;

    ld.bar = !o->quiet && isatty(STDERR_FILENO);
    ld.started_ms = ld.bar_drawn_ms = ld.bar_from_ms = gj_mono_ms();
    uint64_t bad_at_start = ld.bad;
    if ((status = read_rows(&ld, s, &b, o->batch_max)) != 0)
        goto out;
    if (!o->quiet) {
        double secs = (double)(gj_mono_ms() - ld.started_ms) / 1000.0;
        const char *enc = imp_reader_encoding(ld.reader);
        if (o->dry_run)
            fprintf(stderr, "gongji-load: %s (%s): dry run: %" PRIu64 " rows would load, %" PRIu64
                            " bad; nothing written\n", o->path, enc, ld.loaded, ld.bad);
        else
            fprintf(stderr, "gongji-load: %s (%s): %" PRIu64 " rows loaded, %" PRIu64 " bad, %" PRIu64
                            " already present, %.2f s, %.0f rows/s\n",
                    o->path, enc, ld.loaded, ld.bad - bad_at_start, ld.present, secs,
                    secs > 0 ? (double)ld.rows_read / secs : (double)ld.rows_read);
        if (bad_at_start > 0)
            fprintf(stderr, "gongji-load: %s: %" PRIu64 " more bad rows before line %" PRIu64
                            " were reported by an earlier run\n", o->path, bad_at_start, ld.resume_line);
    }
    status = ld.bad > 0 ? EXIT_BAD_ROWS : EXIT_LOADED;
out:
    store_close(s);
    free(b.rows);
    load_close(&ld);
    return status;
}
