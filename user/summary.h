/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* On a terminal: a one-screen live summary, redrawn each second. */
#ifndef CW_SUMMARY_H
#define CW_SUMMARY_H

struct cw_daemon;
struct alert;

/* Whether stderr is a terminal and plain lines were not asked for. */
int summary_wanted(int json);
/* Remembers the alert for the "recent alerts" lines. */
void summary_note_alert(struct cw_daemon *d, const struct alert *a);
/* Redraws the screen. */
void summary_draw(struct cw_daemon *d);

#endif
