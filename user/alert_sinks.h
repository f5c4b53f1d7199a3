/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Where alerts go: the fsync'ed JSON alert log first, then stderr. */
#ifndef CW_ALERT_SINKS_H
#define CW_ALERT_SINKS_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* The stack's addresses (32 and the caller) and the Go functions
 * inlined at them: a frame each. */
#define CW_ALERT_MAX_FRAMES 64
#define CW_FRAME_LEN 192
/* An alert as JSON: every frame escaped (quotes in Go's generic shape
 * names double at worst), the message and the rest. */
#define CW_ALERT_JSON_MAX (CW_ALERT_MAX_FRAMES * (2 * CW_FRAME_LEN + 3) + 4096)

struct alert {
	struct timespec ts;	/* CLOCK_REALTIME */
	const char *severity;
	const char *kind;
	const char *target;
	int pid;
	int tid;
	char comm[17];
	uint64_t key;
	int64_t shadow;
	int has_counter;
	int64_t counter;
	const char *probe;
	char frames[CW_ALERT_MAX_FRAMES][CW_FRAME_LEN];
	int nr_frames;
	char message[512];
};

struct alert_sinks {
	int log_fd;		/* alert log, O_APPEND */
	int json_stderr;	/* --json: the JSON line on stderr too */
};

/* Opens (creating the directory and file) the alert log. 0 or -1 + err. */
int alert_sinks_open(struct alert_sinks *s, const char *log_path,
		     int json_stderr, char *err, size_t errlen);
void alert_sinks_close(struct alert_sinks *s);
/* Writes the JSON line and fsyncs it before anything else, then the
 * stderr line. Returns -1 if the log write failed (stderr still gets it). */
int alert_deliver(struct alert_sinks *s, const struct alert *a);
/* The alert as one JSON object, no newline. Returns the length (< len). */
size_t alert_to_json(const struct alert *a, char *buf, size_t len);

#endif
