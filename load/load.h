/* gongji-load: bulk-load one region's persons and opening balances from CSV straight
 * into a stopped node's LMDB store, or generate such a CSV for tests and benchmarks.
 *
 * Each batch of rows is one store_submit_wait(), so one LMDB transaction: the persons,
 * their accounts, a STORE_J_CREDIT journal entry per opening balance, and a progress
 * record saying how far into the file that transaction reaches. A crash loses at most
 * the batch in flight, and the next run resumes after the last committed line. A
 * person already in the store is left as it is and never credited again, so reading a
 * line twice (after --restart, or a duplicate in the file) changes nothing either.
 *
 * Progress records are idempotency records of caller "gongji-load", one per committed
 * batch: call id "<file tag>#<k>" for k = 1, 2, 3, ... (store_idem_put never
 * overwrites, so each batch adds the next one), request hash = a fingerprint of the
 * file, reply = "<last line> <bad rows so far>" as text. The file tag is the file's
 * base name and size.
 *
 * The loader's own files: main.c (options, usage), run.c (one load from start to
 * summary), csv.c (lines, fields, validating a row), write.c (a batch and its progress
 * record in the store), report.c (bad rows and the progress bar on standard error),
 * generate.c (made-up people). */
#ifndef GJ_LOAD_H
#define GJ_LOAD_H

#include "store.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LOAD_CALLER "gongji-load"
#define LOAD_HEADER "psn_no,certno,psn_name,insutype,status,balance"
#define LOAD_FIELDS 6
#define LOAD_LINE_MAX 1024             /* bytes of a line, without its line end */
#define LOAD_BATCH_DEFAULT 10000
#define LOAD_BATCH_MAX 100000          /* keeps one transaction well inside LMDB's dirty-page limit */
#define LOAD_READ_BUF (1u << 20)
#define LOAD_TAG_MAX 40                /* leaves room for "#<k>" and ":<line>" in a call id */
#define LOAD_FINGERPRINT_BYTES 65536
#define LOAD_BAR_INTERVAL_MS 200
#define GEN_SERIAL_MAX 9999999999ULL  /* psn_no = region + 10-digit serial */

enum { EXIT_LOADED = 0, EXIT_BAD_ROWS = 1, EXIT_USAGE = 2 };

/* ---- csv.c: reading lines ---- */

typedef struct load_reader {
    int fd;
    char *buf;         /* LOAD_READ_BUF + 1 bytes: room for a terminating NUL */
    size_t pos, len;
    bool eof;
    uint64_t consumed; /* bytes of the lines returned so far, line ends included */
    uint64_t line;     /* number of the last line returned (1 = the header) */
} load_reader;

/* The next line, without its line end, NUL-terminated in place (valid until the next
 * call). *too_long when it had more than LOAD_LINE_MAX bytes: then *out is NULL and
 * the line has been skipped. Returns 0 at a line, 1 at end of file, -1 on a read
 * error (errno set). */
int load_reader_next(load_reader *r, char **out, size_t *out_len, bool *too_long);

/* ---- a batch of rows, as write.c stores it ---- */

enum row_outcome { ROW_LOADED = 1, ROW_PRESENT = 2, ROW_CONFLICT = 3 };

typedef struct load_row {
    uint64_t line;
    store_person person;
    int64_t balance; /* fen */
    uint8_t outcome; /* row_outcome, set by load_apply */
} load_row;

typedef struct load_batch {
    load_row *rows;
    size_t count;
    int64_t now_ms;
    const char *tag;
    uint64_t fingerprint;
    uint64_t record_no;  /* k of this batch's progress record */
    uint64_t last_line;  /* the batch covers the file up to and including this line */
    uint64_t bad_before; /* bad rows up to last_line, not counting this batch's conflicts */
    /* out */
    size_t loaded, present, conflicts;
} load_batch;

/* ---- one run of the loader, as run.c drives it and report.c shows it ---- */

typedef struct loader {
    const char *path;
    const char *region;
    bool quiet, bar;
    uint64_t file_size;
    int64_t started_ms, bar_drawn_ms;
    bool bar_visible;
    uint64_t start_bytes;               /* where this run began reading (after a resume) */
    uint64_t rows_read, loaded, present, bad;
} loader;

/* ---- csv.c: rows ---- */

/* The header line names the fields of LOAD_HEADER (any case, a byte-order mark allowed). */
bool load_header_ok(char *line);
/* Nothing but spaces and tabs. */
bool load_blank(const char *s);
/* Parse one data line into row; false (reported) when it is a bad row. */
bool load_parse_row(loader *ld, uint64_t line_no, char *line, size_t len, load_row *row);

/* ---- write.c: the store ---- */

/* One batch, on the writer thread, inside one write transaction. */
gj_err load_apply(store_txn *txn, void *arg);
/* The newest progress record of tag. Records 1..K exist with no gap. *count = K (0:
 * none); the other outputs are K's, when there is one. */
gj_err load_progress_last(store *s, const char *tag, uint64_t *count, uint64_t *fingerprint,
                          uint64_t *line, uint64_t *bad);
/* "<base name>:<size>", made of visible ASCII without ':' or '#', at most
 * LOAD_TAG_MAX characters; a long or unusual name is shortened and given a hash. */
void load_file_tag(const char *path, uint64_t size, char out[LOAD_TAG_MAX + 1]);
/* Hash of the file's size and first bytes, so a different file under the same name and
 * size does not resume another's progress. */
int load_file_fingerprint(int fd, uint64_t size, uint64_t *out);

/* ---- report.c: standard error ---- */

/* Take the progress bar off the terminal line, if it is drawn. */
void load_bar_clear(loader *ld);
/* Report a bad row as FILE:LINE: reason, and count it. */
void load_bad_row(loader *ld, uint64_t line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Redraw the progress bar (at most every LOAD_BAR_INTERVAL_MS unless force). */
void load_bar_draw(loader *ld, const load_reader *r, bool force);

/* ---- the two things the loader does: an exit status each ---- */

/* run.c */
int load_run(const char *data_dir, const char *region, size_t batch_max, bool restart, bool quiet,
             const char *path);
/* generate.c: a header and n valid rows on standard output. */
int load_generate(uint64_t n, const char *region, uint64_t seed);

#endif
