/* Privacy of what the nodes log (SPEC §7: logs mask person and ID numbers): the person
 * numbers tests enrolled are remembered, and each node's log is searched for them and
 * for any whole 18-character ID number when the node is destroyed. */
#include "log_privacy.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Person numbers the tests enrolled: none may appear whole in a node's log. */
#define SEEN_MAX 4096
static pthread_mutex_t seen_mu = PTHREAD_MUTEX_INITIALIZER;
static char *seen_psn[SEEN_MAX];
static size_t seen_count;
static size_t leaks_total;

void th_remember_psn(const char *psn_no)
{
    if (strlen(psn_no) < 5) /* shorter ones match too much that is not them */
        return;
    pthread_mutex_lock(&seen_mu);
    bool known = false;
    for (size_t i = 0; i < seen_count && !known; i++)
        known = strcmp(seen_psn[i], psn_no) == 0;
    if (!known && seen_count < SEEN_MAX)
        seen_psn[seen_count++] = strdup(psn_no);
    pthread_mutex_unlock(&seen_mu);
}

static bool id_char(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/* Whether line holds word whole (not inside a longer id). */
static bool holds_whole(const char *line, const char *word)
{
    size_t n = strlen(word);
    for (const char *p = strstr(line, word); p != NULL; p = strstr(p + 1, word))
        if ((p == line || !id_char(p[-1])) && !id_char(p[n]))
            return true;
    return false;
}

/* Whether line holds a whole 18-character resident ID (17 digits, then a digit or X),
 * standing alone (a run of digits inside a hex call id is not one). */
static bool holds_certno(const char *line)
{
    for (const char *p = line; *p; p++) {
        if (p != line && id_char(p[-1]))
            continue;
        int digits = 0;
        while (p[digits] >= '0' && p[digits] <= '9')
            digits++;
        if ((digits == 18 && !id_char(p[18])) || (digits == 17 && p[17] == 'X' && !id_char(p[18])))
            return true;
    }
    return false;
}

int tn_log_leaks(test_node *tn)
{
    char path[300], line[4096];
    snprintf(path, sizeof path, "%s/node.log", tn->dir);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return 0;
    int leaks = 0;
    while (fgets(line, sizeof line, f) != NULL) {
        bool leak = holds_certno(line);
        pthread_mutex_lock(&seen_mu);
        for (size_t i = 0; i < seen_count && !leak; i++)
            leak = holds_whole(line, seen_psn[i]);
        pthread_mutex_unlock(&seen_mu);
        if (leak && leaks++ < 5)
            fprintf(stderr, "node %s logged a person or ID number in full: %s", tn->region, line);
    }
    fclose(f);
    return leaks;
}

void th_count_log_leaks(test_node *tn)
{
    size_t n = (size_t)tn_log_leaks(tn);
    pthread_mutex_lock(&seen_mu);
    leaks_total += n;
    pthread_mutex_unlock(&seen_mu);
}

int th_log_leaks_total(void)
{
    pthread_mutex_lock(&seen_mu);
    size_t n = leaks_total;
    pthread_mutex_unlock(&seen_mu);
    return (int)n;
}
