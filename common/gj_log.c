#include "log.h"
#include "gj_util.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>
#include <string.h>
#include <strings.h>

static FILE *log_out;
static int log_min = GJ_LOG_INFO;
static char log_region[8] = "-";
static char log_path[4096];
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
    char line[2048];
    int n = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03d+08:00 %-5s %s %s ",
                     date / 10000, (date / 100) % 100, date % 100, (int)(day_ms / 3600000),
                     (int)(day_ms / 60000 % 60), (int)(day_ms / 1000 % 60), (int)(day_ms % 1000),
                     names[level], log_region, event);
    if (n < 0)
        return;
    if ((size_t)n < sizeof line) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
        va_end(ap);
    }
    /* Keep one event on one line whatever the fields contained. */
    for (char *p = line; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    pthread_rwlock_rdlock(&log_lock);
    fprintf(log_out ? log_out : stderr, "%s\n", line);
    pthread_rwlock_unlock(&log_lock);
}
