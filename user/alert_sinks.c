// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Alert delivery, in DESIGN.md §4's order: the JSON line is appended
 * before anything else (the target may be about to die), then a human
 * line on stderr. The metric is the caller's last step. A storm must not
 * make connwatch spend its life in fsync: lines that arrive together are
 * fsync'ed together, except the first critical one, which is on disk
 * before anything else of its batch is done.
 */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "alert_sinks.h"
#include "json.h"
#include "utf8.h"

size_t alert_to_json(const struct alert *a, char *buf, size_t len)
{
	struct jbuf b = { .p = buf, .len = len };
	char ts[64];
	struct tm tm;
	int i;

	gmtime_r(&a->ts.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	jputf(&b, "{\"ts\":\"%s.%09ldZ\"", ts, a->ts.tv_nsec);
	jfield(&b, "severity", a->severity);
	jfield(&b, "kind", a->kind);
	jfield(&b, "target", a->target);
	if (a->source)
		jfield(&b, "source", a->source);
	jputf(&b, ",\"pid\":%d,\"tid\":%d", a->pid, a->tid);
	jfield(&b, "comm", a->comm);
	jputf(&b, ",\"key\":\"0x%llx\",\"shadow\":%lld",
	      (unsigned long long)a->key, (long long)a->shadow);
	if (a->has_counter)
		jputf(&b, ",\"counter\":%lld", (long long)a->counter);
	jfield(&b, "probe", a->probe);
	jputf(&b, ",\"folded\":%llu", (unsigned long long)a->folded);
	jputf(&b, ",\"stack\":[");
	for (i = 0; i < a->nr_frames; i++) {
		if (i)
			jputf(&b, ",");
		jstr(&b, a->frames[i]);
	}
	jputf(&b, "]");
	jfield(&b, "message", a->message);
	jputf(&b, "}");
	if (b.used >= len) {	/* truncated: never write half an object */
		char kind[64];	/* a kind is a short name: so is this */

		snprintf(kind, sizeof(kind), "%s", a->kind);
		b = (struct jbuf){ .p = buf, .len = len };
		jputf(&b, "{\"kind\":");
		jstr(&b, kind);
		jputf(&b, ",\"truncated\":true}");
	}
	return b.used < len ? b.used : 0;	/* 0: a buffer under 400 bytes */
}

static int mkdir_parents(const char *path)
{
	char dir[4096], *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	for (slash = strchr(dir + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		if (mkdir(dir, 0750) && errno != EEXIST)
			return -1;
		*slash = '/';
	}
	return 0;
}

int alert_sinks_open(struct alert_sinks *s, const char *log_path,
		     int json_stderr, char *err, size_t errlen)
{
	s->json_stderr = json_stderr;
	s->in_batch = s->unsynced = s->critical_synced = 0;
	if (mkdir_parents(log_path) ||
	    (s->log_fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
			      0640)) < 0) {
		snprintf(err, errlen, "alert log %s: %s", log_path,
			 strerror(errno));
		return -1;
	}
	return 0;
}

void alert_sinks_close(struct alert_sinks *s)
{
	if (s->log_fd >= 0)
		close(s->log_fd);
	s->log_fd = -1;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int log_sync(struct alert_sinks *s)
{
	s->unsynced = 0;
	return fdatasync(s->log_fd);
}

void alert_batch_begin(struct alert_sinks *s)
{
	s->in_batch = 1;
	s->critical_synced = 0;
}

int alert_batch_end(struct alert_sinks *s)
{
	s->in_batch = 0;
	if (!s->unsynced || !log_sync(s))
		return 0;
	fprintf(stderr, "connwatch: syncing the alert log: %s\n",
		strerror(errno));
	return -1;
}

/* Whether the line just written must be on disk before going on. */
static int sync_now(struct alert_sinks *s, const struct alert *a)
{
	int critical = a->severity && !strcmp(a->severity, "critical");

	if (!s->in_batch || s->unsynced >= CW_ALERT_BATCH_LINES)
		return 1;
	if (!critical || s->critical_synced)
		return 0;
	s->critical_synced = 1;
	return 1;
}

/*
 * One line to the operator's terminal. Its text comes from the target
 * (comm, binary and symbol names): a control character (C0, DEL, C1)
 * could move the cursor or retitle the window, so it shows as '?', and
 * a byte that is no character as U+FFFD.
 */
static void say(const char *fmt, ...)
{
	char line[2048];
	const unsigned char *p = (const unsigned char *)line;
	va_list ap;
	size_t n;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	for (; *p; p += n ? n : 1) {
		n = utf8_len(p);
		if (!n)
			fputs(CW_UTF8_REPLACEMENT, stderr);
		else if (*p < 0x20 || *p == 0x7f || (p[0] == 0xc2 && p[1] < 0xa0))
			fputc('?', stderr);
		else
			fwrite(p, 1, n, stderr);
	}
	fputc('\n', stderr);
}

int alert_deliver(struct alert_sinks *s, const struct alert *a)
{
	char line[CW_ALERT_JSON_MAX];
	size_t n = alert_to_json(a, line, sizeof(line) - 1);
	int ret = 0;

	line[n++] = '\n';
	if (write_all(s->log_fd, line, n)) {
		ret = -1;
	} else {
		s->unsynced++;
		if (sync_now(s, a) && log_sync(s))
			ret = -1;
	}
	if (ret)
		fprintf(stderr, "connwatch: writing the alert log: %s\n",
			strerror(errno));
	if (s->json_stderr) {
		fwrite(line, 1, n, stderr);
		return ret;
	}
	say("connwatch: %s %s in %s pid %d (%s%s%s): %s",
	    a->severity == NULL ? "?" : a->severity, a->kind, a->target,
	    a->pid, a->source ? a->source : "", a->source ? " " : "",
	    a->probe, a->message);
	if (a->nr_frames)
		say("    at %s", a->frames[0]);
	for (int i = 1; i < a->nr_frames; i++)
		say("       %s", a->frames[i]);
	return ret;
}
