#include "gj_util.h"
#include "gj_error.h"
#include "gj_limits.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

int64_t gj_now_unix_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t gj_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct timespec gj_time_after_us(clockid_t clock, int64_t us)
{
    struct timespec t;
    clock_gettime(clock, &t);
    if (us < 0)
        us = 0;
    long long ns = t.tv_nsec + (long long)(us % 1000000) * 1000;
    t.tv_sec += (time_t)(us / 1000000 + ns / 1000000000LL);
    t.tv_nsec = (long)(ns % 1000000000LL);
    return t;
}

int64_t gj_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Days since 1970-01-01 to civil date (Howard Hinnant's algorithm). */
static int32_t civil_from_days(int64_t z)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = yoe + era * 400;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t d = doy - (153 * mp + 2) / 5 + 1;
    int64_t m = mp < 10 ? mp + 3 : mp - 9;
    if (m <= 2)
        y++;
    return (int32_t)(y * 10000 + m * 100 + d);
}

int32_t gj_cst_date_of(int64_t unix_ms)
{
    /* Clamp to years 1900..9999 so the arithmetic below cannot overflow. */
    if (unix_ms < -2208988800000LL)
        unix_ms = -2208988800000LL;
    if (unix_ms > 253402300799000LL)
        unix_ms = 253402300799000LL - 8LL * 3600 * 1000;
    int64_t cst_ms = unix_ms + 8LL * 3600 * 1000;
    int64_t days = cst_ms >= 0 ? cst_ms / 86400000 : (cst_ms - 86399999) / 86400000;
    return civil_from_days(days);
}

static int days_in_month(int y, int m)
{
    static const int dim[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 29;
    return dim[m - 1];
}

bool gj_date_valid(int32_t d)
{
    int y = d / 10000, m = (d / 100) % 100, day = d % 100;
    if (y < 1900 || y > 9999 || m < 1 || m > 12 || day < 1)
        return false;
    return day <= days_in_month(y, m);
}

int64_t gj_cst_unix_ms_of(int32_t d, int32_t seconds_of_day)
{
    /* Days since 1970-01-01 of a civil date (the inverse of civil_from_days). */
    int64_t y = d / 10000, m = (d / 100) % 100, day = d % 100;
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + day - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    int64_t days = era * 146097 + doe - 719468;
    return (days * 86400 + seconds_of_day) * 1000 - 8LL * 3600 * 1000;
}

int32_t gj_date_add_months(int32_t d, int months)
{
    if (!gj_date_valid(d))
        return d;
    int y = d / 10000, m = (d / 100) % 100, day = d % 100;
    int total = y * 12 + (m - 1) + months;
    y = total / 12;
    m = total % 12 + 1;
    if (day > days_in_month(y, m))
        day = days_in_month(y, m);
    return y * 10000 + m * 100 + day;
}

int32_t gj_date_next(int32_t d)
{
    if (!gj_date_valid(d))
        return d; /* a bug in the caller; never read outside the month table */
    int y = d / 10000, m = (d / 100) % 100, day = d % 100;
    if (++day > days_in_month(y, m)) {
        day = 1;
        if (++m > 12) {
            m = 1;
            y++;
        }
    }
    return y * 10000 + m * 100 + day;
}

bool gj_date_parse(const char *text, int32_t *out)
{
    char digits[9];
    size_t n = 0;
    if (text == NULL)
        return false;
    size_t len = strlen(text);
    if (len == 8 && gj_all_digits(text, 8)) {
        memcpy(digits, text, 8);
        n = 8;
    } else if (len == 10 && text[4] == '-' && text[7] == '-' && gj_all_digits(text, 4) &&
               gj_all_digits(text + 5, 2) && gj_all_digits(text + 8, 2)) {
        memcpy(digits, text, 4);
        memcpy(digits + 4, text + 5, 2);
        memcpy(digits + 6, text + 8, 2);
        n = 8;
    }
    if (n != 8)
        return false;
    int32_t d = 0;
    for (size_t i = 0; i < 8; i++)
        d = d * 10 + (digits[i] - '0');
    if (!gj_date_valid(d))
        return false;
    *out = d;
    return true;
}

bool gj_yuan_parse(const char *text, int64_t *fen_out)
{
    if (text == NULL || *text == '\0')
        return false;
    int64_t yuan = 0;
    const char *p = text;
    size_t int_digits = 0;
    while (*p >= '0' && *p <= '9') {
        if (++int_digits > 12)
            return false; /* far above GJ_AMOUNT_MAX; stops overflow */
        yuan = yuan * 10 + (*p - '0');
        p++;
    }
    if (int_digits == 0)
        return false;
    int64_t fen = 0;
    if (*p == '.') {
        p++;
        int frac_digits = 0;
        while (*p >= '0' && *p <= '9') {
            if (++frac_digits > 2)
                return false;
            fen = fen * 10 + (*p - '0');
            p++;
        }
        if (frac_digits == 0)
            return false;
        if (frac_digits == 1)
            fen *= 10;
    }
    if (*p != '\0')
        return false;
    int64_t total = yuan * 100 + fen;
    if (total > GJ_AMOUNT_MAX)
        return false;
    *fen_out = total;
    return true;
}

const char *gj_yuan_format(int64_t fen, char buf[32])
{
    const char *sign = "";
    uint64_t mag;
    if (fen < 0) {
        sign = "-";
        mag = (uint64_t)(-(fen + 1)) + 1; /* INT64_MIN safe */
    } else {
        mag = (uint64_t)fen;
    }
    snprintf(buf, 32, "%s%llu.%02llu", sign, (unsigned long long)(mag / 100),
             (unsigned long long)(mag % 100));
    return buf;
}

const char *gj_mask(const char *in, char *out, size_t out_size)
{
    if (out_size == 0)
        return out;
    if (in == NULL)
        in = "";
    size_t len = strlen(in);
    bool fits = len + 1 <= out_size;
    if (!fits)
        len = out_size - 1; /* too small to show the ends honestly: mask it all */
    for (size_t i = 0; i < len; i++)
        out[i] = (fits && len > 8 && (i < 4 || i >= len - 4)) ? in[i] : '*';
    out[len] = '\0';
    return out;
}

const char *gj_mask_digit_runs(const char *in, char *out, size_t out_size, size_t min_run)
{
    if (out_size == 0)
        return out;
    if (in == NULL)
        in = "";
    size_t len = strlen(in);
    if (len + 1 > out_size)
        len = out_size - 1;
    memcpy(out, in, len);
    out[len] = '\0';
    for (size_t i = 0; i < len;) {
        size_t run = 0;
        while (i + run < len && out[i + run] >= '0' && out[i + run] <= '9')
            run++;
        if (run >= min_run)
            for (size_t k = 4; k + 4 < run; k++)
                out[i + k] = '*';
        i += run > 0 ? run : 1;
    }
    return out;
}

char gj_certno_check_char(const char *first17)
{
    static const int weights[17] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
    static const char check[11] = {'1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'};
    int sum = 0;
    for (int i = 0; i < 17; i++)
        sum += (first17[i] - '0') * weights[i];
    return check[sum % 11];
}

bool gj_certno_valid(const char *certno)
{
    if (certno == NULL || strlen(certno) != GJ_CERTNO_LEN || !gj_all_digits(certno, 17))
        return false;
    int32_t birth = 0;
    for (int i = 6; i < 14; i++)
        birth = birth * 10 + (certno[i] - '0');
    if (!gj_date_valid(birth))
        return false;
    char last = certno[17] == 'x' ? 'X' : certno[17];
    return last == gj_certno_check_char(certno);
}

bool gj_strcpy_fit(char *dst, size_t dst_size, const char *src)
{
    if (src == NULL)
        src = "";
    size_t len = strlen(src);
    if (len >= dst_size) {
        if (dst_size > 0)
            dst[0] = '\0';
        return false;
    }
    memcpy(dst, src, len + 1);
    return true;
}

bool gj_all_digits(const char *s, size_t n)
{
    if (s == NULL)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

const char *gj_err_name(gj_err err)
{
    switch (err) {
    case GJ_OK: return "GJ_OK";
    case GJ_ERR_NOTFOUND: return "GJ_ERR_NOTFOUND";
    case GJ_ERR_EXISTS: return "GJ_ERR_EXISTS";
    case GJ_ERR_INVAL: return "GJ_ERR_INVAL";
    case GJ_ERR_NOMEM: return "GJ_ERR_NOMEM";
    case GJ_ERR_FULL: return "GJ_ERR_FULL";
    case GJ_ERR_IO: return "GJ_ERR_IO";
    case GJ_ERR_CORRUPT: return "GJ_ERR_CORRUPT";
    case GJ_ERR_CLOSED: return "GJ_ERR_CLOSED";
    case GJ_ERR_ABORT: return "GJ_ERR_ABORT";
    case GJ_ERR_TOOBIG: return "GJ_ERR_TOOBIG";
    case GJ_ERR_TRANSPORT: return "GJ_ERR_TRANSPORT";
    case GJ_ERR_BUSY: return "GJ_ERR_BUSY";
    case GJ_ERR_DISK_FULL: return "GJ_ERR_DISK_FULL";
    case GJ_ERR_FORMAT: return "GJ_ERR_FORMAT";
    }
    return "GJ_ERR_UNKNOWN";
}

bool gj_utf8_valid(const void *text, size_t len)
{
    const unsigned char *s = text;
    size_t i = 0;
    while (i < len) {
        unsigned char c = s[i];
        size_t need;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            need = 1, cp = c & 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            need = 2, cp = c & 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            need = 3, cp = c & 0x07;
        } else {
            return false;
        }
        if (len - i <= need) /* the sequence runs past the end */
            return false;
        for (size_t k = 1; k <= need; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        static const uint32_t least[] = {0, 0x80, 0x800, 0x10000};
        if (cp < least[need] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += need + 1;
    }
    return true;
}

bool gj_is_pool_id(const char *id)
{
    return id != NULL && strncmp(id, GJ_POOL_ID_PREFIX, sizeof GJ_POOL_ID_PREFIX - 1) == 0;
}

bool gj_is_wallet_id(const char *id)
{
    return id != NULL && strncmp(id, GJ_WALLET_ID_PREFIX, sizeof GJ_WALLET_ID_PREFIX - 1) == 0;
}

bool gj_is_family_account(const char *id)
{
    return gj_is_pool_id(id) || gj_is_wallet_id(id);
}
