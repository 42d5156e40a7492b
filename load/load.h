/* gongji-load: bulk-load one region's persons and opening balances from CSV straight
 * into a stopped node's LMDB store, or generate such a CSV for tests and benchmarks.
 *
 * The file is read by the import library (import/, docs/import.md): UTF-8 or
 * GBK/GB18030, quoted fields, CRLF, a header in Chinese or English in any column order,
 * amounts and status words as offices write them.
 *
 * Each batch of rows is one store_submit_wait(), so one LMDB transaction: the persons,
 * their accounts, a STORE_J_CREDIT journal entry per opening balance, and a progress
 * record saying how far into the file that transaction reaches. A crash loses at most
 * the batch in flight, and the next run resumes after the last committed record. A
 * person already in the store is left as it is and never credited again, so reading a
 * row twice (after --restart) changes nothing either; a certno that is in the file
 * twice is a bad row the second time.
 *
 * Progress records are idempotency records of caller "gongji-load", one per committed
 * batch: call id "<file tag>#<k>" for k = 1, 2, 3, ... (store_idem_put never
 * overwrites, so each batch adds the next one), request hash = a fingerprint of the
 * file, reply = "<last line> <bad rows so far>" as text. The last line is the physical
 * line (1-based, as an editor counts) on which the batch's last record starts: a quoted
 * field may span lines, so records start on increasing but not consecutive lines. The
 * file tag is the file's base name and size.
 *
 * The loader's own files: main.c (options, usage), run.c (one load or dry run from start
 * to summary), csv.c (records through import/, checking a row), write.c (a batch and its
 * progress record in the store), report.c (bad rows and the progress bar on standard
 * error), generate.c (made-up people). */
#ifndef GJ_LOAD_H
#define GJ_LOAD_H

#include "import.h"
#include "store.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define LOAD_CALLER "gongji-load"
#define LOAD_HEADER "psn_no,certno,psn_name,insutype,status,balance" /* what --generate writes */
#define LOAD_BATCH_DEFAULT 10000
#define LOAD_BATCH_MAX 100000          /* keeps one transaction well inside LMDB's dirty-page limit */
#define LOAD_TAG_MAX 40                /* leaves room for "#<k>" and ":<line>" in a call id */
#define LOAD_FINGERPRINT_BYTES 65536
#define LOAD_BAR_INTERVAL_MS 200
#define LOAD_SHOWN_MAX 64              /* bytes of a value quoted in a bad row's message */
#define GEN_SERIAL_MAX 9999999999ULL  /* psn_no = region + 10-digit serial */

enum { EXIT_LOADED = 0, EXIT_BAD_ROWS = 1, EXIT_USAGE = 2 };

/* ---- what main.c hands run.c ---- */

typedef struct load_options {
    const char *data_dir; /* NULL with dry_run */
    const char *region;
    const char *encoding; /* NULL: decided from the file */
    const char *path;
    size_t batch_max;
    bool restart, quiet, dry_run;
    bool ignore_unknown;  /* columns the loader does not know are skipped, not refused */
} load_options;

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
    uint64_t last_line;  /* the batch covers the records starting up to this line */
    uint64_t bad_before; /* bad rows up to last_line, not counting this batch's conflicts */
    /* out */
    size_t loaded, present, conflicts;
} load_batch;

/* ---- one run of the loader, as run.c drives it, csv.c reads and report.c shows it ---- */

typedef struct loader {
    const char *path;
    const char *region;
    bool quiet, bar;
    uint64_t file_size;
    int64_t started_ms, bar_drawn_ms;
    bool bar_visible;
    int64_t bar_from_ms;     /* when this run's own rows began (after those it resumed past) */
    uint64_t bar_from_bytes; /* and where in the file */
    uint64_t rows_read, loaded, present, bad;

    /* csv.c: the file */
    FILE *f;
    imp_reader *reader;
    imp_dups *certnos;            /* certno -> line of the row that has it */
    bool dups_off;                /* the detector refused a key: no more duplicate checks */
    int col[IMP_COLUMNS_MAX];     /* canonical column -> field, -1 when absent */
    size_t header_fields;
    uint64_t resume_line;         /* records starting on lines up to this one were committed */
    uint64_t line;                /* line of the last record read */
    uint64_t at;                  /* file offset of the last record read */
} loader;

/* ---- csv.c: records and rows ---- */

/* What load_next found. */
enum load_next_result {
    LOAD_END = 0,
    LOAD_ROW = 1,     /* a good row, in *row */
    LOAD_BAD = 2,     /* a bad row, reported and counted */
    LOAD_BEFORE = 3,  /* a row an earlier run committed: only its certno is noted */
    LOAD_EMPTY = 4,   /* a record of empty fields (",,,,,"), skipped */
    LOAD_FAILED = -1, /* the file could not be read (reported) */
};

/* Open ld->path for reading: the encoding given (NULL or "auto": decided from the file),
 * the header read and its columns mapped. Reports why not and returns EXIT_USAGE, else 0.
 * The file is read from fd, which becomes ld->f's. */
int load_open(loader *ld, int fd, const char *encoding, bool ignore_unknown);
/* The next record, checked as Enroll would check the person. */
int load_next(loader *ld, load_row *row);
void load_close(loader *ld);

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
void load_bar_draw(loader *ld, bool force);

/* ---- the two things the loader does: an exit status each ---- */

/* run.c: a load, or with o->dry_run a check that writes nothing. */
int load_run(const load_options *o);
/* generate.c: a header and n valid rows on standard output. */
int load_generate(uint64_t n, const char *region, uint64_t seed);

#endif
