// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The event loop: ring buffer records, process exits, drift, the clock. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "connwatch.skel.h"
#include "daemon.h"

volatile sig_atomic_t cw_stop;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static struct proc_state *proc_find(struct cw_daemon *d, pid_t pid)
{
	int i;

	for (i = 0; i < d->nr_procs; i++)
		if (d->procs[i].pid == pid)
			return &d->procs[i];
	return NULL;
}

void daemon_proc_seen(struct cw_daemon *d, pid_t pid)
{
	pthread_mutex_lock(&d->lock);
	if (!proc_find(d, pid) && d->nr_procs < CW_MAX_TARGETS) {
		d->procs[d->nr_procs++] = (struct proc_state){ .pid = pid,
							       .up = 1 };
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

static void proc_exited(struct cw_daemon *d, const struct cw_record *r)
{
	struct proc_state *p;
	char how[128];

	describe_status(r->exit_code, how, sizeof(how));
	fprintf(stderr, "connwatch: pid %u (%.16s) %s; keeping its final counts\n",
		r->tgid, r->comm, how);
	pthread_mutex_lock(&d->lock);
	p = proc_find(d, r->tgid);
	if (p) {
		p->up = 0;
		p->status = r->exit_code;
	}
	pthread_mutex_unlock(&d->lock);
}

static int on_record(void *ctx, void *data, size_t size)
{
	struct cw_daemon *d = ctx;
	const struct cw_record *r = data;

	if (size < sizeof(*r))
		return 0;
	if (r->type == CW_REC_EXIT) {
		proc_exited(d, r);
		return 0;
	}
	daemon_proc_seen(d, r->tgid);
	anomaly_report(d, r);
	return 0;
}

/* Processes that hit a probe since the last look (--exe: new ones). */
static void notice_new_procs(struct cw_daemon *d)
{
	int fd = bpf_map__fd(d->sess.skel->maps.watched);
	__u32 k, next, *prev = NULL;

	while (!bpf_map_get_next_key(fd, prev, &next)) {
		k = next;
		prev = &k;
		daemon_proc_seen(d, k);
	}
}

int daemon_run(struct cw_daemon *d, char *err, size_t errlen)
{
	uint64_t start = now_ns(), last_scan = 0;
	struct ring_buffer *rb;
	int n;

	rb = ring_buffer__new(bpf_map__fd(d->sess.skel->maps.records),
			      on_record, d, NULL);
	if (!rb) {
		snprintf(err, errlen, "ring buffer: %s", strerror(errno));
		return -1;
	}
	while (!cw_stop) {
		uint64_t now;

		n = ring_buffer__poll(rb, 100);
		if (n < 0 && n != -EINTR) {
			snprintf(err, errlen, "ring buffer: %s", strerror(-n));
			ring_buffer__free(rb);
			return -1;
		}
		now = now_ns();
		if (now - last_scan >= 1000000000ull) {
			notice_new_procs(d);
			drift_scan(d, now);
			last_scan = now;
		}
		if (d->duration_s &&
		    now - start >= (uint64_t)d->duration_s * 1000000000ull)
			break;
	}
	/* Drain what is already in the ring: alerts are never dropped. */
	ring_buffer__consume(rb);
	ring_buffer__free(rb);
	return 0;
}
