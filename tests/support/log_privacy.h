/* Privacy of what the nodes log (log_privacy.c): the harness remembers every person
 * number a test enrolls and looks through each node's log for it and for ID numbers. */
#ifndef GJ_TEST_LOG_PRIVACY_H
#define GJ_TEST_LOG_PRIVACY_H

#include "harness.h"

/* A person number a test enrolled (of 5 characters or more): none may be logged whole. */
void th_remember_psn(const char *psn_no);
/* tn's log lines holding such a number or an ID number, added to th_log_leaks_total. */
void th_count_log_leaks(test_node *tn);

#endif
