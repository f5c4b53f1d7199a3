/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Where alerts go: the JSON alert log first, then stderr. Every line is
 * written before its stderr line; what arrives together (a batch) is
 * fsync'ed together, except the batch's first critical line, fsync'ed
 * right after it is written.
 */
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
	const char *target;	/* the thing watched */
	const char *source;	/* the preset or spec that saw it, or NULL */
	int pid;
	int tid;
	char comm[17];
	uint64_t key;
	int64_t shadow;
	int has_counter;
	int64_t counter;
	const char *probe;
	uint64_t folded;	/* events like this one not logged one by one */
	char frames[CW_ALERT_MAX_FRAMES][CW_FRAME_LEN];
	int nr_frames;
	char message[512];
};

/* A batch fsyncs at least every this many lines. */
#define CW_ALERT_BATCH_LINES 64

struct alert_sinks {
	int log_fd;		/* alert log, O_APPEND */
	int json_stderr;	/* --json: the JSON line on stderr too */
	int in_batch;
	int unsynced;		/* lines written, not yet fdatasync'ed */
	int critical_synced;	/* this batch's first critical is on disk */
};

/* Opens (creating the directory and file) the alert log. 0 or -1 + err. */
int alert_sinks_open(struct alert_sinks *s, const char *log_path,
		     int json_stderr, char *err, size_t errlen);
void alert_sinks_close(struct alert_sinks *s);
/* Writes the JSON line, then the stderr line. Outside a batch the line
 * is fsync'ed before the stderr line. Returns -1 if the log write failed
 * (stderr still gets it). */
int alert_deliver(struct alert_sinks *s, const struct alert *a);
/* What is delivered between begin and end is fsync'ed once, at the end
 * (and every CW_ALERT_BATCH_LINES lines); the first critical line of the
 * batch at once. */
void alert_batch_begin(struct alert_sinks *s);
int alert_batch_end(struct alert_sinks *s);
/* The alert as one JSON object, no newline. Returns the length (< len). */
size_t alert_to_json(const struct alert *a, char *buf, size_t len);

#endif
