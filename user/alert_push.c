// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Alertmanager push and the alert hook. The loop only copies the alert
 * into a bounded queue (a short mutex, no I/O); a worker per sink does
 * the slow part: HTTP with retries and backoff, or running the hook
 * with a time limit.
 */
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "alert_push.h"
#include "json.h"

#define QUEUE_LEN	256
#define PAYLOAD_MAX	CW_ALERT_JSON_MAX
#define RETRIES		5	/* 0.25 s, 0.5 s, 1 s, 2 s between tries */
#define HOOK_TIMEOUT_S	10
#define RESOLVE_AFTER_S	(15 * 60)	/* endsAt: resolved unless re-sent */

struct outbox {
	pthread_t thread;
	int running;		/* the worker was started */
	pthread_mutex_t lock;
	pthread_cond_t ready;
	char *queue[QUEUE_LEN];
	unsigned head, tail;	/* tail - head = queued */
	int stopping;
	struct timespec deadline;	/* when stopping: give up after */
	int (*deliver)(struct outbox *o, const char *payload);
	char *target;		/* URL or command */
	uint64_t failed, sent;
};

static void rfc3339(const struct timespec *ts, time_t plus, char *buf,
		    size_t len)
{
	time_t t = ts->tv_sec + plus;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Alertmanager's /api/v2/alerts body: one alert, in an array. */
static void alertmanager_payload(const struct alert *a, char *buf, size_t len)
{
	struct jbuf b = { .p = buf, .len = len };
	char starts[32], ends[32], name[64], pid[16];

	rfc3339(&a->ts, 0, starts, sizeof(starts));
	rfc3339(&a->ts, RESOLVE_AFTER_S, ends, sizeof(ends));
	snprintf(name, sizeof(name), "connwatch_%s", a->kind);
	snprintf(pid, sizeof(pid), "%d", a->pid);
	jputf(&b, "[{\"labels\":{\"alertname\":");
	jstr(&b, name);
	jfield(&b, "kind", a->kind);
	jfield(&b, "severity", a->severity);
	jfield(&b, "target", a->target);
	jfield(&b, "pid", pid);
	jputf(&b, "},\"annotations\":{\"message\":");
	jstr(&b, a->message);
	/* not a label: one anomaly seen by two sources is one alert */
	jfield(&b, "source", a->source ? a->source : "");
	jfield(&b, "stack", a->nr_frames ? a->frames[0] : "");
	jfield(&b, "caller", a->nr_frames > 1 ? a->frames[1] : "");
	jputf(&b, "},\"startsAt\":\"%s\",\"endsAt\":\"%s\"}]", starts, ends);
}

static int post_alertmanager(struct outbox *o, const char *payload)
{
	struct curl_slist *hdr;
	long code = 0;
	CURLcode rc;
	CURL *c;

	c = curl_easy_init();
	if (!c)
		return -1;
	hdr = curl_slist_append(NULL, "Content-Type: application/json");
	curl_easy_setopt(c, CURLOPT_URL, o->target);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, payload);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 2000L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	rc = curl_easy_perform(c);
	if (rc == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	curl_slist_free_all(hdr);
	curl_easy_cleanup(c);
	return rc == CURLE_OK && code == 200 ? 0 : -1;
}

static int past(const struct timespec *deadline)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > deadline->tv_sec ||
	       (now.tv_sec == deadline->tv_sec &&
		now.tv_nsec >= deadline->tv_nsec);
}

/* connwatch is stopping and the flush deadline has passed. */
static int out_of_time(struct outbox *o)
{
	return __atomic_load_n(&o->stopping, __ATOMIC_ACQUIRE) &&
	       past(&o->deadline);
}

static void hook_child(int in, const char *cmd)
{
	dup2(in, STDIN_FILENO);
	close(in);
	execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
	_exit(127);
}

/* The hook gets the alert's JSON line on stdin and HOOK_TIMEOUT_S. */
static int run_hook(struct outbox *o, const char *payload)
{
	int fds[2], status = -1, waited;
	pid_t pid;

	if (pipe(fds))
		return -1;
	pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	if (!pid) {
		close(fds[1]);
		hook_child(fds[0], o->target);
	}
	close(fds[0]);
	if (write(fds[1], payload, strlen(payload)) < 0 ||
	    write(fds[1], "\n", 1) < 0)
		status = -1;
	close(fds[1]);
	for (waited = 0; waited < HOOK_TIMEOUT_S * 20 && !out_of_time(o);
	     waited++) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return WIFEXITED(status) && !WEXITSTATUS(status) ? 0 : -1;
		usleep(50000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return -1;
}

/* Sleeps usec, or less when connwatch starts stopping. */
static void nap(struct outbox *o, useconds_t usec)
{
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_nsec += (long)(usec % 1000000) * 1000;
	until.tv_sec += usec / 1000000 + until.tv_nsec / 1000000000;
	until.tv_nsec %= 1000000000;
	pthread_mutex_lock(&o->lock);
	if (!o->stopping)
		pthread_cond_timedwait(&o->ready, &o->lock, &until);
	pthread_mutex_unlock(&o->lock);
}

/* Tries, with backoff, unless connwatch is stopping and out of time. */
static void deliver_with_retries(struct outbox *o, const char *payload)
{
	useconds_t backoff = 250000;
	int i;

	for (i = 0; i < RETRIES; i++) {
		if (!o->deliver(o, payload)) {
			__atomic_fetch_add(&o->sent, 1, __ATOMIC_RELAXED);
			return;
		}
		if (out_of_time(o))
			break;
		nap(o, backoff);
		backoff *= 2;
	}
	__atomic_fetch_add(&o->failed, 1, __ATOMIC_RELAXED);
	fprintf(stderr, "connwatch: could not deliver an alert to %s\n",
		o->target);
}

static void *worker(void *arg)
{
	struct outbox *o = arg;
	char *payload;

	pthread_mutex_lock(&o->lock);
	for (;;) {
		while (o->head == o->tail && !o->stopping)
			pthread_cond_wait(&o->ready, &o->lock);
		if (o->head == o->tail || (o->stopping && past(&o->deadline)))
			break;
		payload = o->queue[o->head++ % QUEUE_LEN];
		pthread_mutex_unlock(&o->lock);
		deliver_with_retries(o, payload);
		free(payload);
		pthread_mutex_lock(&o->lock);
	}
	pthread_mutex_unlock(&o->lock);
	return NULL;
}

static struct outbox *outbox_start(const char *target,
				   int (*deliver)(struct outbox *, const char *))
{
	struct outbox *o = calloc(1, sizeof(*o));

	if (!o)
		return NULL;
	o->target = strdup(target);
	o->deliver = deliver;
	pthread_mutex_init(&o->lock, NULL);
	pthread_cond_init(&o->ready, NULL);
	if (!o->target) {
		free(o);
		return NULL;
	}
	return o;
}

/* 0, or pthread_create's error. */
static int outbox_run(struct outbox *o)
{
	int ret;

	if (!o)
		return 0;
	ret = pthread_create(&o->thread, NULL, worker, o);
	o->running = !ret;
	return ret;
}

static void outbox_offer(struct outbox *o, const char *payload)
{
	char *copy = strdup(payload);

	pthread_mutex_lock(&o->lock);
	if (!copy || o->tail - o->head == QUEUE_LEN) {
		/* Full: the log has it; the push drops it. */
		__atomic_fetch_add(&o->failed, 1, __ATOMIC_RELAXED);
		free(copy);
	} else {
		o->queue[o->tail++ % QUEUE_LEN] = copy;
		pthread_cond_signal(&o->ready);
	}
	pthread_mutex_unlock(&o->lock);
}

static void outbox_stop(struct outbox *o)
{
	if (!o)
		return;
	pthread_mutex_lock(&o->lock);
	clock_gettime(CLOCK_MONOTONIC, &o->deadline);
	o->deadline.tv_sec += 2;
	__atomic_store_n(&o->stopping, 1, __ATOMIC_RELEASE);
	pthread_cond_broadcast(&o->ready);
	pthread_mutex_unlock(&o->lock);
	if (o->running)
		pthread_join(o->thread, NULL);
	while (o->head != o->tail)
		free(o->queue[o->head++ % QUEUE_LEN]);
	free(o->target);
	free(o);
}

int alert_push_start(struct alert_push *p, const char *alertmanager_url,
		     const char *hook_cmd, char *err, size_t errlen)
{
	char url[1024];
	size_t n;

	memset(p, 0, sizeof(*p));
	if (alertmanager_url) {
		n = strlen(alertmanager_url);
		if (strncmp(alertmanager_url, "http://", 7) &&
		    strncmp(alertmanager_url, "https://", 8)) {
			snprintf(err, errlen, "--alertmanager %s: expected "
				 "http://HOST:PORT", alertmanager_url);
			return -1;
		}
		snprintf(url, sizeof(url), "%.*s/api/v2/alerts",
			 (int)(n && alertmanager_url[n - 1] == '/' ? n - 1 : n),
			 alertmanager_url);
		curl_global_init(CURL_GLOBAL_DEFAULT);
		p->alertmanager = outbox_start(url, post_alertmanager);
	}
	if (hook_cmd)
		p->hook = outbox_start(hook_cmd, run_hook);
	if ((alertmanager_url && !p->alertmanager) || (hook_cmd && !p->hook)) {
		snprintf(err, errlen, "starting the alert push: %s",
			 strerror(errno));
		alert_push_stop(p);
		return -1;
	}
	return 0;
}

int alert_push_run(struct alert_push *p, char *err, size_t errlen)
{
	int ret = outbox_run(p->alertmanager);

	if (!ret)
		ret = outbox_run(p->hook);
	if (ret)
		snprintf(err, errlen, "starting the alert push: %s",
			 strerror(ret));
	return ret ? -1 : 0;
}

void alert_push_offer(struct alert_push *p, const struct alert *a)
{
	char payload[PAYLOAD_MAX];

	if (p->alertmanager) {
		alertmanager_payload(a, payload, sizeof(payload));
		outbox_offer(p->alertmanager, payload);
	}
	if (p->hook) {
		alert_to_json(a, payload, sizeof(payload));
		outbox_offer(p->hook, payload);
	}
}

void alert_push_stop(struct alert_push *p)
{
	outbox_stop(p->alertmanager);
	outbox_stop(p->hook);
	p->alertmanager = p->hook = NULL;
}

uint64_t alert_push_failed(const struct outbox *o)
{
	return o ? __atomic_load_n(&o->failed, __ATOMIC_RELAXED) : 0;
}

uint64_t alert_push_sent(const struct outbox *o)
{
	return o ? __atomic_load_n(&o->sent, __ATOMIC_RELAXED) : 0;
}
