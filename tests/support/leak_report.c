/* nng 1.5.2 (upstream 1518) leaks, at exit, the TLS connections a listener was setting
 * up when their peer went away (a caller killed or timed out mid-handshake: frequent on
 * a slow sanitized build), with the listener they point to; a listener it then stopped
 * (trust/listen_guard.h opened another) leaks the same way. The same teardown can lose
 * a request a peer call handed to nng (its TLS pipe still sending when the socket
 * closed): peers_call_raw gives the message to nng on a successful send and frees it
 * itself on every other path. Such reports are accepted; a block allocated by our own
 * code anywhere else is not, nor a report with nothing of nng in it. */
#include "leak_report.h"

#include <string.h>

typedef struct block {
    bool open;    /* reading a leaked block's allocation stack */
    bool ours;    /* a frame of ours on it */
    bool listen;  /* ... the listen itself */
    bool nng;     /* a frame inside nng or mbedTLS */
    bool handed;  /* the nearest frame of ours, under nng's, is peers_call_raw */
} block;

/* A symbolized frame of ours: " in fn /path/file.c:N", not libc's or the sanitizer's. */
static bool frame_is_ours(const char *line)
{
    return strstr(line, ".c:") != NULL && strstr(line, "nptl/") == NULL && strstr(line, "sysdeps/") == NULL &&
           strstr(line, "sanitizer") == NULL && strstr(line, "libc_start") == NULL;
}

static bool block_acceptable(const block *b)
{
    return b->nng && (!b->ours || b->listen || b->handed);
}

bool leak_report_only_nng_teardown(FILE *f)
{
    char line[1024];
    bool lsan = false, leaks = false, bad = false;
    block b = {0};
    while (fgets(line, sizeof line, f) != NULL) {
        lsan |= strstr(line, "LeakSanitizer") != NULL;
        bool starts = strstr(line, "leak of ") != NULL;
        if (b.open && (starts || line[0] == '\n' || strstr(line, "SUMMARY") != NULL)) {
            bad |= !block_acceptable(&b);
            b.open = false;
        }
        if (starts) {
            leaks = true;
            b = (block){.open = true};
        } else if (b.open) {
            bool ours = frame_is_ours(line);
            if (ours && !b.ours)
                b.handed = b.nng && strstr(line, " peers_call_raw ") != NULL;
            b.ours |= ours;
            b.listen |= strstr(line, "listen_guard") != NULL;
            b.nng |= strstr(line, "libnng.so") != NULL || strstr(line, "libmbed") != NULL;
        }
    }
    if (b.open) /* a report cut short: its last block counts too */
        bad |= !block_acceptable(&b);
    return lsan && leaks && !bad;
}
