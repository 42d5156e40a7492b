/* Small pure helpers shared by node, store, client and tests. Thread-safe; no allocation. */
#ifndef GJ_UTIL_H
#define GJ_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Wall-clock milliseconds since the Unix epoch. */
int64_t gj_now_unix_ms(void);
/* Monotonic milliseconds, for deadlines and timing. */
int64_t gj_mono_ms(void);
/* Monotonic microseconds, for measuring. */
int64_t gj_mono_us(void);
/* The instant us microseconds (0 or more) from now on clock, for the timed waits
 * (pthread_cond_timedwait, sem_timedwait) that take an absolute time. */
struct timespec gj_time_after_us(clockid_t clock, int64_t us);

/* Business date (yyyymmdd) in China Standard Time (UTC+08:00) of a Unix ms instant. */
int32_t gj_cst_date_of(int64_t unix_ms);
/* True when d is a real calendar date in yyyymmdd form (1900..9999). */
bool gj_date_valid(int32_t d);
/* The calendar day after d (yyyymmdd). d must be valid. */
int32_t gj_date_next(int32_t d);
/* The Unix ms instant of date d (valid yyyymmdd) at seconds_of_day (0..86399), China
 * Standard Time. */
int64_t gj_cst_unix_ms_of(int32_t d, int32_t seconds_of_day);
/* d plus months, the day kept or, past the new month's end, its last day
 * (20260131 + 1 = 20260228). d must be valid. */
int32_t gj_date_add_months(int32_t d, int months);
/* Parse "2026-11-22" or "20261122"; returns false when not a valid date. */
bool gj_date_parse(const char *text, int32_t *out);

/* true when text[len] is well-formed UTF-8 (no overlongs, surrogates or code points
 * past U+10FFFF). */
bool gj_utf8_valid(const void *text, size_t len);

/* Parse yuan with at most two decimals ("120", "120.5", "120.50") into fen.
 * Refuses signs, other characters, more than two decimals and values above GJ_AMOUNT_MAX. */
bool gj_yuan_parse(const char *text, int64_t *fen_out);
/* Format fen as yuan with two decimals ("-12.05"). buf must hold 32 bytes. */
const char *gj_yuan_format(int64_t fen, char buf[32]);

/* Mask an identifier for logs: keep the first 4 and last 4 characters, replace the
 * middle with '*'. Strings of 8 characters or fewer are fully masked.
 * out must hold len(in)+1 bytes, at most out_size. */
const char *gj_mask(const char *in, char *out, size_t out_size);

/* Copy in with every run of at least min_run digits masked but for its first 4 and last
 * 4: for text a caller chose (a call id), which may hold a person or ID number. out must
 * hold out_size bytes; a longer in is cut. */
const char *gj_mask_digit_runs(const char *in, char *out, size_t out_size, size_t min_run);

/* GB 11643-1999 resident ID check: 18 characters, 17 digits then a digit or 'X',
 * with a valid ISO 7064 MOD 11-2 check character and a valid birth date. */
bool gj_certno_valid(const char *certno);
/* The check character ('0'..'9' or 'X') for the first 17 digits of an ID. */
char gj_certno_check_char(const char *first17);

/* Copy a NUL-terminated string into a fixed buffer; false (and dst untouched beyond
 * dst[0]='\0') when src does not fit. */
bool gj_strcpy_fit(char *dst, size_t dst_size, const char *src);
/* R20: is this account id a family pool's (GJ_POOL_ID_PREFIX)? */
bool gj_is_pool_id(const char *id);
/* R24: is this account id a relative's wallet (GJ_WALLET_ID_PREFIX)? */
bool gj_is_wallet_id(const char *id);
/* An account no person owns (a pool or a wallet): no floor, never a bill's patient. */
bool gj_is_family_account(const char *id);
/* True when s is exactly n ASCII digits. */
bool gj_all_digits(const char *s, size_t n);

#endif
