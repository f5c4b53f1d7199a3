// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Collects what LD_PRELOAD'ed processes report: cumulative snapshots
 * (kept per pid, served as the same metrics as the sockets preset) and
 * double closes (turned into the same alert as the eBPF path).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include "anomalies.h"
#include "daemon.h"
#include "preload_collector.h"

static int make_parent_dir(const char *path)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = '\0';
	if (mkdir(dir, 0700) && errno != EEXIST)
		return -1;
	return 0;
}

/*
 * Only a stale socket of an earlier run may go: never a file of another
 * kind (--preload-socket /etc/passwd as root must not delete it), never
 * a socket something still listens on (a running collector would lose
 * its path, and its unlink at exit would then remove ours).
 */
static int remove_stale(const char *path, const struct sockaddr_un *sa,
			char *err, size_t errlen)
{
	struct stat st;
	int fd, ret;

	if (lstat(path, &st))
		return 0;	/* nothing there; bind() says the rest */
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "preload socket %s: exists and is not a "
			 "socket; not replacing it", path);
		return -1;
	}
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 0;
	ret = connect(fd, (const struct sockaddr *)sa, sizeof(*sa));
	if (ret == 0 || errno == EPROTOTYPE) {
		close(fd);
		snprintf(err, errlen, "preload socket %s: in use by a running "
			 "process (another collector?)", path);
		return -1;
	}
	close(fd);
	unlink(path);	/* ECONNREFUSED: nobody behind it */
	return 0;
}

int preload_listen(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	mode_t old_mask;
	int fd, ret;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "preload socket %s: path too long", path);
		return -1;
	}
	strcpy(sa.sun_path, path);
	if (make_parent_dir(path)) {
		snprintf(err, errlen, "preload socket %s: %s", path,
			 strerror(errno));
		return -1;
	}
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "preload socket: %s", strerror(errno));
		return -1;
	}
	if (remove_stale(path, &sa, err, errlen)) {
		close(fd);
		return -1;
	}
	/* Created 0600 from the start: no window where others may connect. */
	old_mask = umask(0177);
	ret = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old_mask);
	if (ret) {
		snprintf(err, errlen, "preload socket %s: %s", path,
			 strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static struct preload_proc *proc_slot(struct cw_daemon *d, int pid)
{
	int i;

	for (i = 0; i < d->nr_preload; i++)
		if (d->preload[i].pid == pid)
			return &d->preload[i];
	if (d->nr_preload == CW_MAX_TARGETS)
		return NULL;
	/* A new process starts with nothing: no snapshot, nothing reported. */
	memset(&d->preload[d->nr_preload], 0, sizeof(d->preload[0]));
	d->preload[d->nr_preload].pid = pid;
	return &d->preload[d->nr_preload++];
}

static void on_snapshot(struct cw_daemon *d, const struct cw_pl_snapshot *s)
{
	struct preload_proc *p;

	daemon_proc_seen(d, s->h.pid);
	pthread_mutex_lock(&d->lock);
	p = proc_slot(d, s->h.pid);
	if (p)
		p->snap = *s;
	pthread_mutex_unlock(&d->lock);
	if (s->exiting)
		daemon_proc_down(d, s->h.pid, s->comm, -1);
}

/* The same record the eBPF sockets path makes, so the same alert. */
static void on_double_close(struct cw_daemon *d,
			    const struct cw_pl_double_close *m)
{
	struct preload_proc *p;
	struct cw_record r = {
		.type = m->close_errno ? CW_REC_ANOMALY : CW_REC_FOLDED,
		.kind = CW_ANOM_DOUBLE_CLOSE_FD,
		.tgid = m->h.pid,
		.tid = m->h.tid,
		.slot = CW_SLOT_SOCKETS,
		.target_id = d->sess.sockets_target,
		.key = (uint32_t)m->fd,
		.nr_frames = m->nr_frames < CW_PL_MAX_FRAMES ?
			     m->nr_frames : CW_PL_MAX_FRAMES,
		.folded = m->folded,
	};

	memcpy(r.stack, m->stack, r.nr_frames * sizeof(r.stack[0]));
	memcpy(r.comm, m->comm, sizeof(r.comm));
	daemon_proc_seen(d, m->h.pid);
	/* Counted by the shim: credited from its snapshots (metrics). */
	pthread_mutex_lock(&d->lock);
	p = proc_slot(d, m->h.pid);
	if (p)
		p->reported += 1 + (uint64_t)m->folded;
	pthread_mutex_unlock(&d->lock);
	anomaly_report(d, &r);
}

static int valid(const struct cw_pl_header *h, ssize_t n)
{
	if (n < (ssize_t)sizeof(*h) || h->magic != CW_PL_MAGIC || h->size != n)
		return 0;
	if (h->type == CW_PL_SNAPSHOT)
		return n == sizeof(struct cw_pl_snapshot);
	if (h->type == CW_PL_DOUBLE_CLOSE)
		return n == sizeof(struct cw_pl_double_close);
	return 0;
}

void preload_receive(struct cw_daemon *d)
{
	union {
		struct cw_pl_header h;
		struct cw_pl_snapshot snap;
		struct cw_pl_double_close dc;
	} msg;
	ssize_t n;

	/* MSG_TRUNC: a longer datagram says its length, and is refused. */
	while ((n = recv(d->preload_fd, &msg, sizeof(msg),
			 MSG_DONTWAIT | MSG_TRUNC)) > 0) {
		if (!valid(&msg.h, n) || d->sess.sockets_target < 0)
			continue;	/* not ours, or a newer shim: ignore */
		if (msg.h.type == CW_PL_SNAPSHOT)
			on_snapshot(d, &msg.snap);
		else
			on_double_close(d, &msg.dc);
	}
}
