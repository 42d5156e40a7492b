/* One line per event, to stderr or a file: time (CST), level, region, event, fields.
 * Callers mask person and ID numbers with gj_mask() before logging them. Thread-safe. */
#ifndef GJ_LOG_H
#define GJ_LOG_H

#include <stdbool.h>

enum gj_log_level { GJ_LOG_DEBUG = 0, GJ_LOG_INFO = 1, GJ_LOG_WARN = 2, GJ_LOG_ERROR = 3 };

/* Where lines go (path, or NULL for stderr), the minimum level and the region shown on
 * every line. Returns 0, or -1 when the file cannot be opened (stderr is kept). */
int gj_log_open(const char *path, int min_level, const char *region);
void gj_log_close(void);
/* Open the log file again by its path (after logrotate moved it; SIGHUP). 0, or -1
 * when it cannot be opened (the old one is kept). */
int gj_log_reopen(void);
int gj_log_level_parse(const char *name); /* "debug".."error"; -1 unknown */
/* One JSON object per line instead of text (log_format = json). */
void gj_log_set_json(bool json);

/* gj_log(GJ_LOG_INFO, "settle", "setl_id=%s amount=%s", ...) */
void gj_log(int level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
