/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Alerts out, after the alert log: Alertmanager (--alertmanager URL) and
 * a hook command (--on-alert CMD). Each has its own worker thread and a
 * bounded queue: the event loop never waits on the network or the hook.
 */
#ifndef CW_ALERT_PUSH_H
#define CW_ALERT_PUSH_H

#include <stddef.h>
#include <stdint.h>
#include "alert_sinks.h"

struct outbox;

struct alert_push {
	struct outbox *alertmanager;
	struct outbox *hook;
};

/* Sets up the sinks that are set (NULL: off). 0, or -1 with err set. */
int alert_push_start(struct alert_push *p, const char *alertmanager_url,
		     const char *hook_cmd, char *err, size_t errlen);
/*
 * Starts their workers. Once privileges are dropped (privs.h): a thread
 * has its own capabilities, a worker and the hooks it forks keep those
 * of the thread that started it. 0, or -1 with err set.
 */
int alert_push_run(struct alert_push *p, char *err, size_t errlen);
/* Queues a copy of the alert; drops (and counts) when a queue is full. */
void alert_push_offer(struct alert_push *p, const struct alert *a);
/* Lets queued alerts go out for up to 2 s, then stops the workers. */
void alert_push_stop(struct alert_push *p);
/* Alerts a sink could not deliver (gave up, or dropped), and delivered. */
uint64_t alert_push_failed(const struct outbox *o);
uint64_t alert_push_sent(const struct outbox *o);

#endif
