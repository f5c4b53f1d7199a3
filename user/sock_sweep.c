// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Sockets no event showed going. The kernel side follows close, dup2,
 * dup3, close_range and io_uring's close; what it cannot follow one
 * event at a time is settled here: a process that ended (the fds its
 * exit closed pass no syscall), an exec of close-on-exec sockets,
 * close_range with flags. /proc/PID/fd rather than a BPF task_file
 * iterator: only the sockets known open are looked up, one readlink
 * each, where an iterator walks every file of every task. The sweep has
 * a thread of its own; exits are settled by the daemon's loop, which
 * reads their records.
 *
 * The counting itself is the kernel's (the sock_reconcile program): it
 * moves a socket from open to closed in one exchange, so a close that
 * comes at the same moment and the sweep never both count it, and only
 * if the fd still holds the connection seen here (same accept time).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/types.h>
#include "connwatch.h"	/* before the skeleton: its .bss types */
#include "connwatch.skel.h"
#include "daemon.h"
#include "procfs.h"
#include "sock_sweep.h"

#define FDS_PER_BATCH 1024
#define UNSEEN "sockets that go with no close (exec, close_range flags) " \
	       "are not counted"

typedef void (*fd_visit)(struct cw_daemon *d, const struct cw_sock_key *k,
			 const struct cw_sock_fd *v, void *arg);

/* Calls visit for every fd the sockets preset knows, a batch at a time. */
static void walk_fds(struct cw_daemon *d, fd_visit visit, void *arg)
{
	int map = bpf_map__fd(d->sess.skel->maps.sock_fds);
	struct cw_sock_key *keys = calloc(FDS_PER_BATCH, sizeof(*keys));
	struct cw_sock_fd *vals = calloc(FDS_PER_BATCH, sizeof(*vals));
	/* where the walk is: the kernel's token, no larger than a key */
	struct cw_sock_key from, next;
	void *in = NULL;
	__u32 n, i;
	int err;

	if (!keys || !vals)
		goto out;
	do {
		n = FDS_PER_BATCH;
		err = bpf_map_lookup_batch(map, in, &next, keys, vals, &n, NULL);
		if (err && errno != ENOENT)
			break;
		for (i = 0; i < n; i++)
			visit(d, &keys[i], &vals[i], arg);
		from = next;
		in = &from;
	} while (!err);
out:
	free(keys);
	free(vals);
}

static void reconcile(struct cw_daemon *d, const struct cw_sock_key *k,
		      const struct cw_sock_fd *v, enum cw_sock_gone how,
		      uint64_t end_ns)
{
	struct cw_sock_reconcile r = { .key = *k, .open_ns = v->open_ns,
				       .end_ns = end_ns, .how = how };
	LIBBPF_OPTS(bpf_test_run_opts, opts, .ctx_in = &r,
		    .ctx_size_in = sizeof(r));

	bpf_prog_test_run_opts(bpf_program__fd(d->sess.skel->progs.sock_reconcile),
			       &opts);
}

struct exit_pass {
	pid_t tgid;
	uint64_t end_ns;
};

static void exit_one(struct cw_daemon *d, const struct cw_sock_key *k,
		     const struct cw_sock_fd *v, void *arg)
{
	const struct exit_pass *p = arg;

	if ((pid_t)k->tgid != p->tgid)
		return;
	if (cw_fd_open(v->state))
		reconcile(d, k, v, CW_GONE_EXIT, p->end_ns);
	/* A later process with this pid starts with no fd of this one. */
	bpf_map_delete_elem(bpf_map__fd(d->sess.skel->maps.sock_fds), k);
}

void sock_sweep_exited(struct cw_daemon *d, pid_t tgid, uint64_t end_ns)
{
	struct exit_pass p = { .tgid = tgid, .end_ns = end_ns };

	if (!d->sess.skel || session_sock_target(&d->sess) < 0)
		return;
	walk_fds(d, exit_one, &p);
}

/*
 * Whether fd of a running process still holds the socket accepted: 1
 * yes, 0 no, -1 /proc/PID/fd cannot be read (no CAP_SYS_PTRACE).
 */
static int fd_holds(pid_t tgid, pid_t tid, int fd, uint64_t ino)
{
	char path[96], link[64];
	unsigned long long got;
	ssize_t n;

	/* The threads share one table; a thread that ended has none. */
	snprintf(path, sizeof(path), "/proc/%d/task/%d/fd/%d", tgid, tid, fd);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return errno == ENOENT ? 0 : -1;
	link[n] = '\0';
	if (sscanf(link, "socket:[%llu]", &got) != 1)
		return 0;		/* another file has the number */
	return !ino || got == ino;	/* ino 0: not read at accept */
}

struct sweep_pass {
	uint64_t now_ns;
	pid_t tgid;		/* the process last looked at (0: none) */
	pid_t tid;		/* a thread of it that runs, 0 if none */
};

static void sweep_one(struct cw_daemon *d, const struct cw_sock_key *k,
		      const struct cw_sock_fd *v, void *arg)
{
	struct sweep_pass *p = arg;
	int holds;

	if (!cw_fd_open(v->state))
		return;
	if ((pid_t)k->tgid != p->tgid) {
		p->tgid = k->tgid;
		p->tid = proc_live_thread(p->tgid);
	}
	holds = p->tid ? fd_holds(k->tgid, p->tid, k->fd, v->ino) : 0;
	/* Not there: the thread looked through may have ended since. */
	if (!holds && p->tid) {
		p->tid = proc_live_thread(p->tgid);
		holds = p->tid ? fd_holds(k->tgid, p->tid, k->fd, v->ino) : 0;
	}
	if (holds < 0) {
		if (!d->sweep.blind)
			fprintf(stderr, "connwatch: cannot read /proc/%u/fd "
				"(%s): " UNSEEN "\n", k->tgid, strerror(errno));
		d->sweep.blind = 1;
		return;
	}
	/* No thread runs: it ended (its exit record lost, or not read yet). */
	if (!holds)
		reconcile(d, k, v, p->tid ? CW_GONE_SWEEP : CW_GONE_EXIT,
			  p->now_ns);
}

static void sweep_once(struct cw_daemon *d)
{
	struct sweep_pass p = { .now_ns = daemon_now_ns() };

	walk_fds(d, sweep_one, &p);
	__atomic_store_n(&d->sweep.done_start_ns, p.now_ns, __ATOMIC_RELEASE);
}

/* Sleeps one interval, or less when stopping; whether to go on. */
static int nap(struct sock_sweep *s)
{
	struct timespec until;
	int go_on;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += CW_SOCK_SWEEP_INTERVAL_NS / 1000000000ull;
	pthread_mutex_lock(&s->lock);
	while (!s->stopping &&
	       pthread_cond_timedwait(&s->wake, &s->lock, &until) != ETIMEDOUT)
		;
	go_on = !s->stopping;
	pthread_mutex_unlock(&s->lock);
	return go_on;
}

static void *sweep_thread(void *arg)
{
	struct cw_daemon *d = arg;

	do
		sweep_once(d);
	while (nap(&d->sweep));
	return NULL;
}

void sock_sweep_start(struct cw_daemon *d)
{
	struct sock_sweep *s = &d->sweep;
	sigset_t all, old;
	int err;

	if (!d->sess.skel || session_sock_target(&d->sess) < 0)
		return;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->wake, NULL);
	/* SIGINT and SIGTERM stay the loop's: they interrupt its poll. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = pthread_create(&s->thread, NULL, sweep_thread, d);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err) {
		fprintf(stderr, "connwatch: no sweep of /proc/PID/fd (%s): "
			UNSEEN "\n", strerror(err));
		return;
	}
	s->started = 1;
}

void sock_sweep_stop(struct cw_daemon *d)
{
	struct sock_sweep *s = &d->sweep;

	if (!s->started)
		return;
	pthread_mutex_lock(&s->lock);
	s->stopping = 1;
	pthread_cond_signal(&s->wake);
	pthread_mutex_unlock(&s->lock);
	pthread_join(s->thread, NULL);
	s->started = 0;
}

double sock_sweep_lag_seconds(const struct cw_daemon *d, uint64_t now_ns)
{
	uint64_t start = __atomic_load_n(&d->sweep.done_start_ns,
					 __ATOMIC_ACQUIRE);

	return start ? (now_ns - start) / 1e9 : -1;
}
