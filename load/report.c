/* What gongji-load says on standard error while it runs: each bad row as FILE:LINE:
 * reason, and on a terminal a progress bar that those lines do not garble. */
#include "gj_util.h"
#include "load.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>

void load_bar_clear(loader *ld)
{
    if (ld->bar_visible) {
        fputs("\r\033[K", stderr);
        ld->bar_visible = false;
    }
}

void load_bad_row(loader *ld, uint64_t line, const char *fmt, ...)
{
    load_bar_clear(ld);
    fprintf(stderr, "%s:%" PRIu64 ": ", ld->path, line);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    ld->bad++;
}

void load_bar_draw(loader *ld, bool force)
{
    int64_t now = gj_mono_ms();
    if (!ld->bar || (!force && now - ld->bar_drawn_ms < LOAD_BAR_INTERVAL_MS))
        return;
    ld->bar_drawn_ms = now;
    /* How far: the offset of the last record read (records are not lines: a quoted
     * field may hold line breaks). */
    uint64_t at = ld->at < ld->file_size ? ld->at : ld->file_size;
    double frac = ld->file_size > 0 ? (double)at / (double)ld->file_size : 1.0;
    /* Rates of this run's own rows: rows an earlier run committed are only read again. */
    double own_secs = (double)(now - ld->bar_from_ms) / 1000.0;
    double rate = own_secs > 0 ? (double)ld->rows_read / own_secs : 0;
    double byte_rate = own_secs > 0 && at > ld->bar_from_bytes ? (double)(at - ld->bar_from_bytes) / own_secs : 0;
    char eta[32] = "--:--";
    if (byte_rate > 0) {
        double left = (double)(ld->file_size - at) / byte_rate;
        unsigned long t = (unsigned long)(left + 0.5);
        snprintf(eta, sizeof eta, "%lu:%02lu:%02lu", t / 3600, t / 60 % 60, t % 60);
    }
    char bar[31];
    int filled = (int)(frac * 30);
    for (int i = 0; i < 30; i++)
        bar[i] = i < filled ? '#' : '.';
    bar[30] = '\0';
    fprintf(stderr, "\r[%s] %5.1f%%  %" PRIu64 " rows  %.0f rows/s  ETA %s  bad %" PRIu64 "\033[K",
            bar, frac * 100, ld->rows_read, rate, eta, ld->bad);
    ld->bar_visible = true;
}
