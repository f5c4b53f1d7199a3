// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The event loop: ring buffer records, process exits, drift, the clock. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/types.h>
#include "connwatch.h"	/* before the skeleton: its .bss types */
#include "connwatch.skel.h"
#include "anomaly_counts.h"
#include "anomalies.h"
#include "daemon.h"
#include "proc_tables.h"
#include "summary.h"
#include "grow.h"

volatile sig_atomic_t cw_stop;

uint64_t daemon_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

struct proc_state *daemon_proc_find(struct cw_daemon *d, pid_t pid)
{
	int i;

	for (i = 0; i < d->nr_procs; i++)
		if (d->procs[i].pid == pid)
			return &d->procs[i];
	return NULL;
}

/*
 * A new entry, or NULL when out of memory. The table holds the processes
 * alive and those in their grace: proc_tables.c frees the rest. Under
 * d->lock, which the metrics thread reads it under.
 */
static struct proc_state *proc_add(struct cw_daemon *d, pid_t pid)
{
	if (GROW_ROOM(d->procs, d->nr_procs, d->cap_procs, 64))
		return NULL;
	d->procs[d->nr_procs] = (struct proc_state){ .pid = pid, .up = 1 };
	return &d->procs[d->nr_procs++];
}

/* Both known and not the same: the pid was given to another process. */
static int other_process(uint64_t start, uint64_t was)
{
	return start && was && start != was;
}

void daemon_proc_seen(struct cw_daemon *d, pid_t pid, uint64_t start)
{
	struct proc_state *p;

	pthread_mutex_lock(&d->lock);
	p = daemon_proc_find(d, pid);
	if (p && !p->up && other_process(start, p->start)) {
		/*
		 * The pid of one in its grace: up again, in the same series
		 * (the kernel keys the counts by pid) until both are gone.
		 */
		*p = (struct proc_state){ .pid = pid, .up = 1, .start = start };
		symbolizer_forget(&d->sym, pid);
		symbolizer_remember(&d->sym, pid);
	} else if (p) {
		p->start = p->start ? p->start : start;
	} else if ((p = proc_add(d, pid))) {
		p->start = start;
		/* Read its mappings while it lives: a crash may come next. */
		symbolizer_remember(&d->sym, pid);
	}
	pthread_mutex_unlock(&d->lock);
}

static void describe_status(int status, char *buf, size_t len)
{
	if (WIFSIGNALED(status))
		snprintf(buf, len, "killed by signal %d (%s)%s", WTERMSIG(status),
			 strsignal(WTERMSIG(status)),
			 WCOREDUMP(status) ? ", core dumped" : "");
	else
		snprintf(buf, len, "exited with status %d", WEXITSTATUS(status));
}

void daemon_proc_down(struct cw_daemon *d, pid_t pid, uint64_t start,
		      const char *comm, int status)
{
	struct proc_state *p;
	char how[128] = "exited";

	pthread_mutex_lock(&d->lock);
	p = daemon_proc_find(d, pid);
	/*
	 * Told already (tracepoint, then waitpid), unless now with a status,
	 * or of another process given the pid since.
	 */
	if (p && !p->up && !other_process(start, p->start) &&
	    (p->status >= 0 || status < 0)) {
		pthread_mutex_unlock(&d->lock);
		return;
	}
	if (!p)
		p = proc_add(d, pid);
	if (p)
		*p = (struct proc_state){ .pid = pid, .up = 0, .status = status,
					  .start = start ? start : p->start,
					  .down_ns = daemon_now_ns() };
	pthread_mutex_unlock(&d->lock);
	if (status >= 0)
		describe_status(status, how, sizeof(how));
	/* `run` ends with its command: no counts are kept to be scraped. */
	if (d->child)
		fprintf(stderr, "connwatch: pid %d (%.16s) %s\n", pid, comm, how);
	else
		fprintf(stderr, "connwatch: pid %d (%.16s) %s; keeping its final "
			"counts (its series for %d s, then in its target's)\n",
			pid, comm, how, d->exited_grace_s);
}

static int on_record(void *ctx, void *data, size_t size)
{
	struct cw_daemon *d = ctx;
	const struct cw_record *r = data;

	if (size < sizeof(*r))
		return 0;
	if (r->type == CW_REC_EXIT) {
		/* Counted before it is told: a scrape after the line has them. */
		sock_sweep_exited(d, r->tgid, r->ts_ns);
		daemon_proc_down(d, r->tgid, r->key, r->comm, r->exit_code);
		return 0;
	}
	daemon_proc_seen(d, r->tgid, 0);
	anomaly_report(d, r);
	return 0;
}
/*
 * Processes that hit a probe since the last look (--exe: new ones, and
 * one given the pid of another in its grace: its start tells them apart).
 */
static void notice_new_procs(struct cw_daemon *d)
{
	int fd = bpf_map__fd(d->sess.skel->maps.watched);
	__u32 k, next, *prev = NULL;
	__u64 start;

	while (!bpf_map_get_next_key(fd, prev, &next)) {
		k = next;
		prev = &k;
		if (!bpf_map_lookup_elem(fd, &k, &start))
			daemon_proc_seen(d, k, start);
	}
}

/*
 * Every second: new processes, drift, the counts, what the rate limit
 * folded in windows now over, a child that exited.
 */
static int periodic(struct cw_daemon *d, uint64_t now)
{
	alert_batch_begin(&d->sinks);
	if (d->sess.skel) {
		notice_new_procs(d);
		drift_scan(d, now);
		folded_flush(d, now, 0);
	}
	anomaly_counts_tick(d);
	proc_tables_tick(d, now);
	alert_batch_end(&d->sinks);
	if (d->live_summary)
		summary_draw(d);
	return d->child && spawn_reap(d->child);
}

/* `run`: SIGINT/SIGTERM go to the command; connwatch waits for it. */
static void forward_stop(struct cw_daemon *d)
{
	static int forwarded;

	if (!forwarded && !d->child->exited)
		kill(d->child->pid, SIGTERM);
	forwarded = 1;
	cw_stop = 0;
}

static int poll_once(struct cw_daemon *d, struct ring_buffer *rb,
		     char *err, size_t errlen)
{
	struct pollfd fds[2];
	int n = 0, ret;

	if (rb)
		fds[n++] = (struct pollfd){ .fd = ring_buffer__epoll_fd(rb),
					    .events = POLLIN };
	if (d->preload_fd >= 0)
		fds[n++] = (struct pollfd){ .fd = d->preload_fd,
					    .events = POLLIN };
	ret = poll(fds, n, 100);
	if (ret < 0 && errno != EINTR) {
		snprintf(err, errlen, "poll: %s", strerror(errno));
		return -1;
	}
	/* What arrived together is one batch: one fsync. */
	alert_batch_begin(&d->sinks);
	ret = 0;
	if (rb && ring_buffer__consume(rb) < 0 && errno != EINTR) {
		snprintf(err, errlen, "ring buffer: %s", strerror(errno));
		ret = -1;
	}
	if (d->preload_fd >= 0)
		preload_receive(d);
	alert_batch_end(&d->sinks);
	return ret;
}

/* The end: what is queued, and every count still folded, on disk. */
static void final_drain(struct cw_daemon *d, struct ring_buffer *rb)
{
	alert_batch_begin(&d->sinks);
	if (rb)
		ring_buffer__consume(rb);
	if (d->preload_fd >= 0)
		preload_receive(d);
	if (d->sess.skel)
		folded_flush(d, daemon_now_ns(), 1);
	anomaly_counts_tick(d);
	alert_batch_end(&d->sinks);
}

int daemon_run(struct cw_daemon *d, char *err, size_t errlen)
{
	uint64_t start = daemon_now_ns(), last_scan = 0;
	struct ring_buffer *rb = NULL;
	int ret = 0;

	if (d->sess.skel) {
		rb = ring_buffer__new(bpf_map__fd(d->sess.skel->maps.records),
				      on_record, d, NULL);
		if (!rb) {
			snprintf(err, errlen, "ring buffer: %s", strerror(errno));
			return -1;
		}
	}
	sock_sweep_start(d);
	for (;;) {
		uint64_t now;

		if (cw_stop && d->child)
			forward_stop(d);
		if (cw_stop || (ret = poll_once(d, rb, err, errlen)))
			break;
		now = daemon_now_ns();
		if (now - last_scan >= 1000000000ull ||
		    (d->child && spawn_reap(d->child))) {
			last_scan = now;
			if (periodic(d, now))
				break;
		}
		if (d->duration_s &&
		    now - start >= (uint64_t)d->duration_s * 1000000000ull)
			break;
	}
	sock_sweep_stop(d);
	/* Drain what is already queued: alerts are never dropped. */
	final_drain(d, rb);
	ring_buffer__free(rb);
	return ret;
}
