/* gongji-load --generate: a header and N valid rows of made-up people on standard
 * output, the same rows for the same seed. Certnos carry a valid check character and
 * are distinct; about one person in ten is a resident (390) without an account. */
#include "gj_limits.h"
#include "gj_util.h"
#include "load.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* SplitMix64: the next number of the sequence that *state walks. */
static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t gcd_u64(uint64_t a, uint64_t b)
{
    while (b != 0) {
        uint64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

/* Days since 1970-01-01 to yyyymmdd (Howard Hinnant's civil_from_days). */
static void civil(int64_t z, char out[8])
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
    int64_t v = y * 10000 + m * 100 + d;
    for (int i = 7; i >= 0; i--, v /= 10)
        out[i] = (char)('0' + v % 10);
}

static char *put_padded(char *p, uint64_t v, int width)
{
    for (int i = width - 1; i >= 0; i--, v /= 10)
        p[i] = (char)('0' + v % 10);
    return p + width;
}

static char *put_u64(char *p, uint64_t v)
{
    char tmp[20];
    int n = 0;
    do
        tmp[n++] = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    while (n > 0)
        *p++ = tmp[--n];
    return p;
}

static char *put_str(char *p, const char *s)
{
    size_t n = strlen(s);
    memcpy(p, s, n);
    return p + n;
}

static int write_all(const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t w = write(STDOUT_FILENO, buf, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1;
        buf += w;
        len -= (size_t)w;
    }
    return 0;
}

int load_generate(uint64_t n, const char *region, uint64_t seed)
{
    static const char *const surnames[] = {"王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周",
                                           "徐", "孙", "马", "朱", "胡", "郭", "何", "高", "林", "罗"};
    static const char *const given[] = {"伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋",
                                        "勇", "艳", "杰", "娟", "涛", "明", "超", "霞", "平", "刚",
                                        "英", "华", "建", "国", "文", "红", "玉", "兰", "志", "春"};
    enum { NS = sizeof surnames / sizeof *surnames, NG = sizeof given / sizeof *given };
    /* Birth dates 1940-01-01 .. 2019-12-31 with a 3-digit sequence each: certnos are
     * distinct for the first DAYS*1000 rows, visited in a seed-dependent order. */
    const int64_t first_day = -10957; /* 1940-01-01 */
    const uint64_t days = 29219, space = days * 1000;
    uint64_t st = seed;
    uint64_t stride = splitmix64(&st) % space, offset = splitmix64(&st) % space;
    while (stride == 0 || gcd_u64(stride, space) != 1)
        stride = (stride + 1) % space;

    size_t cap = 4u << 20;
    char *buf = malloc(cap);
    if (buf == NULL) {
        fprintf(stderr, "gongji-load: out of memory\n");
        return EXIT_USAGE;
    }
    char *p = put_str(buf, LOAD_HEADER "\n");
    char region_digits[GJ_ADMDVS_LEN];
    memcpy(region_digits, region, GJ_ADMDVS_LEN);
    for (uint64_t i = 1; i <= n; i++) {
        uint64_t rs = seed ^ (i * 0xd1b54a32d192ed03ULL);
        uint64_t r1 = splitmix64(&rs), r2 = splitmix64(&rs);
        /* psn_no */
        p = put_str(p, region);
        p = put_padded(p, i, 10);
        *p++ = ',';
        /* certno: region, birth date, sequence, check character */
        uint64_t k = ((i - 1) % space * stride + offset) % space; /* < 2^55: no overflow */
        char first17[18];
        memcpy(first17, region_digits, GJ_ADMDVS_LEN);
        civil(first_day + (int64_t)(k / 1000), first17 + 6);
        put_padded(first17 + 14, k % 1000, 3);
        first17[17] = '\0';
        p = put_str(p, first17);
        *p++ = gj_certno_check_char(first17);
        *p++ = ',';
        /* name: a surname and one or two given characters */
        p = put_str(p, surnames[r1 % NS]);
        p = put_str(p, given[(r1 >> 8) % NG]);
        if ((r1 >> 16) & 1)
            p = put_str(p, given[(r1 >> 24) % NG]);
        *p++ = ',';
        /* insutype and status */
        bool resident = (r2 % 10) == 0;
        p = put_str(p, resident ? "390," : "310,");
        uint64_t sr = (r2 >> 8) % 100;
        p = put_str(p, sr < 97 ? "active," : sr < 99 ? "suspended," : "terminated,");
        /* balance 100.00 .. 9999.99 for employees */
        if (!resident) {
            uint64_t fen = 10000 + (r2 >> 16) % (999999 - 10000 + 1);
            p = put_u64(p, fen / 100);
            *p++ = '.';
            p = put_padded(p, fen % 100, 2);
        }
        *p++ = '\n';
        if ((size_t)(p - buf) > cap - 512) {
            if (write_all(buf, (size_t)(p - buf)) != 0)
                goto fail;
            p = buf;
        }
    }
    if (write_all(buf, (size_t)(p - buf)) != 0)
        goto fail;
    free(buf);
    return EXIT_LOADED;
fail:
    fprintf(stderr, "gongji-load: cannot write: %s\n", strerror(errno));
    free(buf);
    return EXIT_USAGE;
}
