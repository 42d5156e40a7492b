/* Reading the files insurance offices export (persons, credits, bindings): CSV in UTF-8
 * or GBK/GB18030, headers in Chinese or English, amounts and status words as Excel and
 * the platform write them. Strict: what is not understood is an error that names its
 * line and column, never a guess. Nothing here writes anywhere; docs/import.md is the
 * operator's page.
 *
 * Every function that can fail returns 0 (or a result >= 0) when it worked and -1 with
 * a message when not; messages are UTF-8 and fit IMP_ERR_MAX bytes. */
#ifndef IMPORT_H
#define IMPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* A record may take this many bytes of the file, its line end not counted: far above
 * any real row, low enough that a broken quote cannot take the whole file into memory. */
#define IMP_RECORD_MAX (64 * 1024)
/* Fields in one record: the widest export has about 30 columns. */
#define IMP_FIELDS_MAX 64
/* Bytes read at a time, and looked at to decide the encoding. */
#define IMP_CHUNK (64 * 1024)
/* Room for any message of this library (column lists in Chinese are long). */
#define IMP_ERR_MAX 1024

/* ---- CSV records ---- */

typedef struct imp_reader imp_reader;

/* imp_reader_next's answers. */
#define IMP_RECORD 1    /* a record: fields valid until the next call */
#define IMP_END 0       /* no more records */
#define IMP_BAD (-1)    /* this record is bad (imp_reader_error says why); the next call goes on */
#define IMP_FAILED (-2) /* reading the file failed; every later call answers the same */

/* Read CSV records from f, which stays the caller's (not closed here). encoding is NULL
 * or "auto" to decide from the file, else "UTF-8", "GBK" or "GB18030" (also "UTF8",
 * "GB2312", "CP936"; GBK and GB2312 are read as GB18030, which contains them). The
 * first IMP_CHUNK bytes are read here. Offsets count from f's position at this call. */
int imp_reader_open(imp_reader **out, FILE *f, const char *encoding, char *err, size_t errlen);

/* The next record: fields converted to UTF-8, *count of them; *line is the physical line
 * (1-based) and *offset the byte offset where it starts, set for IMP_BAD too, so a
 * caller can report it or, with fseeko and imp_reader_set_line, resume there. */
int imp_reader_next(imp_reader *r, char ***fields, size_t *count, long *line, long long *offset);

/* Why the last record was IMP_BAD or reading IMP_FAILED ("line 7, column 2: ..."). */
const char *imp_reader_error(const imp_reader *r);
/* "UTF-8" or "GB18030": what was given or decided, to show the operator. */
const char *imp_reader_encoding(const imp_reader *r);
/* When f was opened at a record in the middle of a file (resuming), the line it is on,
 * so messages and *line stay those of the file. Call before the first imp_reader_next. */
void imp_reader_set_line(imp_reader *r, long line);
void imp_reader_close(imp_reader *r);

/* ---- column names ---- */

typedef enum { IMP_PERSONS, IMP_CREDITS, IMP_BINDINGS } imp_kind;

/* The canonical columns of each kind; col_of below is indexed by these. */
enum { IMP_P_PSN_NO, IMP_P_CERTNO, IMP_P_PSN_NAME, IMP_P_INSUTYPE, IMP_P_STATUS, IMP_P_BALANCE, IMP_P_COUNT };
enum { IMP_C_ROW_ID, IMP_C_PSN_NO, IMP_C_AMOUNT, IMP_C_MEMO, IMP_C_MONTH, IMP_C_COUNT };
enum {
    IMP_B_SPONSOR,
    IMP_B_SPONSOR_REGION,
    IMP_B_BENEFICIARY,
    IMP_B_BENEFICIARY_REGION,
    IMP_B_RELATION,
    IMP_B_ORDER,
    IMP_B_COUNT
};
/* The most canonical columns any kind has: a size for col_of. */
#define IMP_COLUMNS_MAX 8

/* "persons", "credits", "bindings". */
const char *imp_kind_name(imp_kind kind);
/* How many canonical columns kind has; 0 for a kind that does not exist. */
size_t imp_columns_count(imp_kind kind);
/* Its canonical (English) name, "psn_no"; NULL past the count. */
const char *imp_column_name(imp_kind kind, size_t canonical);
/* Must a file of this kind have it? */
bool imp_column_required(imp_kind kind, size_t canonical);

/* Map a header record: col_of[canonical] = the 0-based column holding it, or -1 when an
 * optional column is absent. English names match in any case, Chinese ones exactly once
 * spaces (also U+3000) around them are dropped. An unknown column is an error unless
 * ignore_unknown; so are a column given twice and a required one missing. */
int imp_columns_map(imp_kind kind, char *const *header, size_t n, int *col_of, bool ignore_unknown, char *err,
                    size_t errlen);

/* ---- values (spaces around each are dropped; messages quote the value) ---- */

/* Yuan to fen, exactly: "1234.5", "1,234.50", "¥1,234.50", "￥1,234.50". Thousands
 * separators only in groups of three, at most two decimals, 0 .. 10,000,000.00 yuan
 * (GJ_AMOUNT_MAX); negative amounts are refused. */
int imp_amount_parse(const char *text, int64_t *fen, char *err, size_t errlen);

/* Person status: 1 active, 2 suspended, 3 terminated, from "1".."3", the English words
 * or the platform's and Excel's Chinese words (正常参保, 暂停参保, 终止参保, ...). */
#define IMP_STATUS_ACTIVE 1
#define IMP_STATUS_SUSPENDED 2
#define IMP_STATUS_TERMINATED 3
int imp_status_parse(const char *text, int *status, char *err, size_t errlen);

/* Insurance type: *code becomes "310" (employees, 职工基本医疗保险) or "390" (urban and
 * rural residents, 城乡居民基本医疗保险); a static string. */
int imp_insutype_parse(const char *text, const char **code, char *err, size_t errlen);

/* Relation of beneficiary to sponsor: a GJ_REL_* value (gj_names.h; gj_relation_name
 * gives its English name) from the Chinese words (配偶, 父母, 外孙女, ...) or the English
 * names. */
int imp_relation_parse(const char *text, int *relation, char *err, size_t errlen);

/* A credit's month, "202611" or "2026-11", as yyyymm (202611). */
int imp_month_parse(const char *text, int32_t *yyyymm, char *err, size_t errlen);

/* ---- duplicates in large files ---- */

/* Remembers keys (a certno, a row id: 1..IMP_DUP_KEY_MAX bytes) with the line each was
 * first seen on; about 35 bytes a certno, so 5 million take some 175 MB. */
#define IMP_DUP_KEY_MAX 32
/* The most keys one detector may be asked to hold: its offsets are 32 bits. */
#define IMP_DUPS_CAP 100000000u

typedef struct imp_dups imp_dups;

/* A detector that refuses keys past max_entries (1..IMP_DUPS_CAP); NULL when max_entries
 * is out of range or memory is short. Memory grows with the keys, not with max_entries. */
imp_dups *imp_dups_open(size_t max_entries);
/* 0: key is new, remembered with line (1..UINT32_MAX). 1: seen before, *first_line is
 * where. -1: refused (key empty or too long, line out of range, max_entries reached, no
 * memory); imp_dups_error says which. */
int imp_dups_add(imp_dups *d, const char *key, long line, long *first_line);
size_t imp_dups_count(const imp_dups *d);
const char *imp_dups_error(const imp_dups *d);
void imp_dups_close(imp_dups *d);

#endif
