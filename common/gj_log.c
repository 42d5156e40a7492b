#include "log.h"
#include "gj_util.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>
#include <string.h>
#include <strings.h>

static FILE *log_out;
static int log_min = GJ_LOG_INFO;
static char log_region[8] = "-";
static char log_path[4096];
static bool log_json;
/* Lines are written under the read side; reopening the file takes the write side. */
static pthread_rwlock_t log_lock = PTHREAD_RWLOCK_INITIALIZER;

static FILE *open_log_file(const char *path)
{
    FILE *f = fopen(path, "a");
    if (f == NULL)
        return NULL;
    fchmod(fileno(f), 0600); /* masked, but still the operator's alone */
    setvbuf(f, NULL, _IOLBF, 0);
    return f;
}

int gj_log_open(const char *path, int min_level, const char *region)
{
    log_min = min_level;
    snprintf(log_region, sizeof log_region, "%s", region ? region : "-");
    if (path == NULL || *path == '\0')
        return 0;
    FILE *f = open_log_file(path);
    if (f == NULL)
        return -1;
    snprintf(log_path, sizeof log_path, "%s", path);
    pthread_rwlock_wrlock(&log_lock);
    log_out = f;
    pthread_rwlock_unlock(&log_lock);
    return 0;
}

int gj_log_reopen(void)
{
    if (log_path[0] == '\0')
        return 0; /* stderr: nothing to reopen */
    FILE *f = open_log_file(log_path);
    if (f == NULL)
        return -1; /* the old file is kept */
    pthread_rwlock_wrlock(&log_lock);
    FILE *old = log_out;
    log_out = f;
    pthread_rwlock_unlock(&log_lock);
    if (old != NULL)
        fclose(old);
    return 0;
}

void gj_log_close(void)
{
    pthread_rwlock_wrlock(&log_lock);
    if (log_out != NULL)
        fclose(log_out);
    log_out = NULL;
    pthread_rwlock_unlock(&log_lock);
}

void gj_log_set_json(bool json)
{
    log_json = json;
}

/* Append s to out (at *n, within size) as JSON string content. */
static void json_text(char *out, size_t size, size_t *n, const char *s, size_t len)
{
    for (size_t i = 0; i < len && *n + 7 < size; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '"' || ch == '\\') {
            out[(*n)++] = '\\';
            out[(*n)++] = (char)ch;
        } else if (ch < 0x20) {
            *n += (size_t)snprintf(out + *n, size - *n, "\\u%04x", ch);
        } else {
            out[(*n)++] = (char)ch;
        }
    }
    out[*n] = '\0';
}

static void json_add(char *out, size_t size, size_t *n, const char *key, const char *value, size_t len)
{
    if (*n + strlen(key) + 8 >= size)
        return;
    *n += (size_t)snprintf(out + *n, size - *n, ",\"%s\":\"", key);
    json_text(out, size, n, value, len);
    if (*n + 2 < size) {
        out[(*n)++] = '"';
        out[*n] = '\0';
    }
}

/* One JSON object per line (log_format = json), for Loki or ELK: the time, level,
 * region and event, the message whole, and each leading name=value of it as a field
 * of its own ("detail=" takes the rest of the line). */
static void format_json(char *out, size_t size, const char *time, const char *level, const char *event,
                        const char *msg)
{
    size_t n = (size_t)snprintf(out, size, "{\"time\":\"%s\",\"level\":\"%s\",\"region\":\"%s\",\"event\":\"",
                                time, level, log_region);
    json_text(out, size, &n, event, strlen(event));
    if (n + 2 < size)
        out[n++] = '"';
    out[n] = '\0';
    json_add(out, size, &n, "msg", msg, strlen(msg));
    for (const char *p = msg; *p != '\0';) {
        while (*p == ' ')
            p++;
        const char *eq = p;
        while ((*eq >= 'a' && *eq <= 'z') || *eq == '_' || (eq > p && *eq >= '0' && *eq <= '9'))
            eq++;
        if (eq == p || *eq != '=')
            break; /* not name=value: the rest is prose, in msg */
        char key[32];
        size_t klen = (size_t)(eq - p) < sizeof key - 1 ? (size_t)(eq - p) : sizeof key - 1;
        memcpy(key, p, klen);
        key[klen] = '\0';
        const char *v = eq + 1, *end = strcmp(key, "detail") == 0 ? v + strlen(v) : strchr(v, ' ');
        if (end == NULL)
            end = v + strlen(v);
        if (strcmp(key, "msg") != 0 && strcmp(key, "time") != 0 && strcmp(key, "level") != 0)
            json_add(out, size, &n, key, v, (size_t)(end - v));
        p = end;
    }
    if (n + 2 < size) {
        out[n++] = '}';
        out[n] = '\0';
    }
}

int gj_log_level_parse(const char *name)
{
    static const char *names[] = {"debug", "info", "warn", "error"};
    for (int i = 0; i < 4; i++)
        if (name && strcasecmp(name, names[i]) == 0)
            return i;
    return -1;
}

void gj_log(int level, const char *event, const char *fmt, ...)
{
    static const char *names[] = {"DEBUG", "INFO", "WARN", "ERROR"};
    if (level < log_min)
        return;
    if (level < 0 || level > GJ_LOG_ERROR)
        level = GJ_LOG_ERROR;
    /* Times are China Standard Time, like business dates. */
    int64_t ms = gj_now_unix_ms();
    int32_t date = gj_cst_date_of(ms);
    int64_t day_ms = (ms + 8LL * 3600 * 1000) % 86400000;
    char time[40], msg[2048], line[4096];
    snprintf(time, sizeof time, "%04d-%02d-%02dT%02d:%02d:%02d.%03d+08:00", date / 10000, (date / 100) % 100,
             date % 100, (int)(day_ms / 3600000), (int)(day_ms / 60000 % 60), (int)(day_ms / 1000 % 60),
             (int)(day_ms % 1000));
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* Keep one event on one line whatever the fields contained. */
    for (char *p = msg; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    if (log_json)
        format_json(line, sizeof line, time, names[level], event, msg);
    else
        snprintf(line, sizeof line, "%s %-5s %s %s %s", time, names[level], log_region, event, msg);
    pthread_rwlock_rdlock(&log_lock);
    fprintf(log_out ? log_out : stderr, "%s\n", line);
    pthread_rwlock_unlock(&log_lock);
}
