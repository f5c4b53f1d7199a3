// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Collects what LD_PRELOAD'ed processes report (preload/preload_proto.h):
 * each connects, says hello with a sealed memfd of its counts (mapped
 * read-only here and read at each scrape: served as the same metrics as
 * the sockets preset) and sends its double closes (the same alert as the
 * eBPF path). A fork child reports on the connection it inherited, so a
 * connection carries the messages of several processes: each message's
 * sender is the kernel's word (SCM_CREDENTIALS, SO_PASSCRED), never the
 * message's, which must agree with it. Everything here comes from
 * processes connwatch does not trust: a message is taken only at its
 * exact size; the page is only copied from, its values bounded, never
 * used as a length or an index. One epoll set (d->preload_fd) holds the
 * socket, the connections and a pidfd per process: its exit accounts its
 * open sockets as closed by exit, after the records it sent before dying
 * are read.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include "anomalies.h"
#include "daemon.h"
#include "labels.h"
#include "preload_collector.h"
#include "procfs.h"

#define EV_LISTEN	0u	/* epoll data: kind << 32 | index */
#define EV_CONN		1u
#define EV_PIDFD	2u
#define EV_BATCH	64
#define STOP_WAIT_NS	(3 * 1000000000ull)	/* for records in flight */

static const char *const blind_names[CW_PL_BLIND__COUNT] = {
	[CW_PL_BLIND_GO] = "go",
	[CW_PL_BLIND_STATIC_EXEC] = "static_exec",
	[CW_PL_BLIND_UNSEEN_CLOSE] = "unseen_close",
	[CW_PL_BLIND_HIGH_FD] = "high_fd",
	[CW_PL_BLIND_CHANNEL] = "channel",
};

static const char *const refusal_names[PL_REFUSED__COUNT] = {
	[PL_REFUSED_PID] = "pid",
	[PL_REFUSED_MALFORMED] = "malformed",
	[PL_REFUSED_COUNTS] = "counts",
	[PL_REFUSED_FULL] = "full",
};

static void refuse(struct cw_daemon *d, enum preload_refusal why)
{
	__atomic_fetch_add(&d->preload_refused[why], 1, __ATOMIC_RELAXED);
}

/* ---- the socket ---- */

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
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
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

static int watch_fd(struct cw_daemon *d, int fd, uint32_t kind, int slot)
{
	struct epoll_event ev = {
		.events = EPOLLIN,
		.data.u64 = (uint64_t)kind << 32 | (uint32_t)slot,
	};

	return epoll_ctl(d->preload_fd, EPOLL_CTL_ADD, fd, &ev);
}

static int bind_socket(const char *path, char *err, size_t errlen)
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
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
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
	/* every connection passes each message's sender (SCM_CREDENTIALS) */
	if (ret || setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &(int){ 1 },
			      sizeof(int)) || listen(fd, SOMAXCONN)) {
		snprintf(err, errlen, "preload socket %s: %s", path,
			 strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

int preload_listen(struct cw_daemon *d, const char *path, char *err,
		   size_t errlen)
{
	int fd = bind_socket(path, err, errlen);

	if (fd < 0)
		return -1;
	for (int i = 0; i < CW_MAX_TARGETS; i++)
		d->preload_conns[i] = -1;
	d->preload_listen_fd = fd;
	d->preload_fd = epoll_create1(EPOLL_CLOEXEC);
	if (d->preload_fd >= 0 && !watch_fd(d, fd, EV_LISTEN, 0))
		return 0;
	snprintf(err, errlen, "preload socket: epoll: %s", strerror(errno));
	preload_close_all(d);
	unlink(path);
	return -1;
}

/* ---- processes ---- */

static void unmap_page(struct preload_proc *p)
{
	if (p->page)
		munmap((void *)p->page, CW_PL_COUNTS_SIZE);
	p->page = NULL;
}

static void close_fd(struct cw_daemon *d, int *fd)
{
	if (*fd < 0)
		return;
	epoll_ctl(d->preload_fd, EPOLL_CTL_DEL, *fd, NULL);
	close(*fd);
	*fd = -1;
}

/* The slot of pid, or NULL. */
static struct preload_proc *slot_of(struct cw_daemon *d, int pid)
{
	for (int i = 0; i < d->nr_preload; i++)
		if (d->preload[i].pid == pid)
			return &d->preload[i];
	return NULL;
}

/* A new slot for pid, a free one reused; NULL when all are taken. */
static struct preload_proc *new_slot(struct cw_daemon *d, int pid)
{
	struct preload_proc *p;

	pthread_mutex_lock(&d->lock);	/* the metrics thread walks them */
	p = slot_of(d, 0);
	if (!p && d->nr_preload < CW_MAX_TARGETS)
		p = &d->preload[d->nr_preload++];
	/* A new process starts with nothing: no page, nothing reported. */
	if (p)
		*p = (struct preload_proc){ .pid = pid, .pidfd = -1 };
	pthread_mutex_unlock(&d->lock);
	return p;
}

/*
 * A copy of the page, which the process writes while we read: aligned
 * 64-bit counters, each read whole; its comm terminated here.
 */
static void copy_page(const struct cw_pl_counts *page,
		      struct cw_pl_counts *out)
{
	memcpy(out, page, sizeof(*out));
	out->comm[sizeof(out->comm) - 1] = '\0';
}

void preload_read(const struct preload_proc *p, struct preload_counts *c)
{
	struct cw_pl_counts now;

	if (p->page)
		copy_page(p->page, &now);
	else
		now = p->final;
	*c = (struct preload_counts){
		.opened = now.opened,
		.closed = now.closed < now.opened ? now.closed : now.opened,
		.double_closes = now.double_closes > p->reported ?
				 now.double_closes : p->reported,
		.dropped = now.dropped,
		.channel_lost = now.channel_lost,
		.duration_sum_ns = now.duration_sum_ns,
		.blind = now.blind & ((1u << CW_PL_BLIND__COUNT) - 1),
	};
	memcpy(c->duration_buckets, now.duration_buckets,
	       sizeof(c->duration_buckets));
	c->closed_by_exit = p->closed_by_exit < c->opened - c->closed ?
			    p->closed_by_exit : c->opened - c->closed;
	c->closed += c->closed_by_exit;
}

/* ---- messages ---- */

/* A page the process sent: a sealed memfd of exactly one page. */
static const struct cw_pl_counts *map_page(int fd, ino_t *ino)
{
	const int need = F_SEAL_SHRINK | F_SEAL_GROW;
	struct stat st;
	int seals = fcntl(fd, F_GET_SEALS);
	void *p;

	if (seals < 0 || (seals & need) != need || fstat(fd, &st) ||
	    !S_ISREG(st.st_mode) || st.st_size != CW_PL_COUNTS_SIZE)
		return NULL;
	p = mmap(NULL, CW_PL_COUNTS_SIZE, PROT_READ, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return NULL;
	*ino = st.st_ino;
	return p;
}

/* What came with a message: at most one fd (the rest closed), its sender. */
struct msg_extras {
	int fd;
	int pid;	/* the kernel's word; 0 when none came */
};

static void take_extras(struct msghdr *msg, struct msg_extras *x)
{
	struct cmsghdr *c;

	*x = (struct msg_extras){ .fd = -1 };
	for (c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
		if (c->cmsg_level != SOL_SOCKET)
			continue;
		if (c->cmsg_type == SCM_CREDENTIALS &&
		    c->cmsg_len == CMSG_LEN(sizeof(struct ucred))) {
			struct ucred cred;

			memcpy(&cred, CMSG_DATA(c), sizeof(cred));
			x->pid = cred.pid;
		} else if (c->cmsg_type == SCM_RIGHTS) {
			int n = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
			int *fds = (int *)CMSG_DATA(c);

			for (int i = 0; i < n; i++) {
				if (x->fd < 0 && !(msg->msg_flags & MSG_CTRUNC))
					x->fd = fds[i];
				else
					close(fds[i]);
			}
		}
	}
}

/*
 * From /proc/PID/status: the pid a process sees itself as (the last of
 * NSpid: its own pid namespace, a container's; else pid) and its parent.
 */
static void read_status(int pid, int *ns_pid, int *ppid)
{
	char path[64], line[256];
	FILE *f;

	*ns_pid = pid;
	*ppid = 0;
	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char *p = line + 6, *end;

		if (!strncmp(line, "PPid:", 5))
			*ppid = (int)strtol(line + 5, NULL, 10);
		if (strncmp(line, "NSpid:", 6))
			continue;
		for (;;) {
			long v = strtol(p, &end, 10);

			if (end == p)
				break;
			*ns_pid = (int)v;
			p = end;
		}
		break;
	}
	fclose(f);
}

/* The process' first hello makes its slot and watches its exit. */
static struct preload_proc *hello_slot(struct cw_daemon *d, int pid)
{
	struct preload_proc *p = slot_of(d, pid);

	if (p)
		return p;
	p = new_slot(d, pid);
	if (!p) {
		refuse(d, PL_REFUSED_FULL);
		return NULL;
	}
	read_status(pid, &p->claim_pid, &p->ppid);
	p->pidfd = pidfd_open(pid, 0);
	if (p->pidfd >= 0)
		watch_fd(d, p->pidfd, EV_PIDFD, (int)(p - d->preload));
	return p;
}

/* A hello: the page (once per program: an exec brings a new one). */
static void on_hello(struct cw_daemon *d, struct preload_proc *p, int fd)
{
	const struct cw_pl_counts *page;
	ino_t ino = 0;

	p->hello = 1;
	if (fd < 0)
		return;		/* a remade channel that lost its memfd */
	page = map_page(fd, &ino);
	if (!page) {
		refuse(d, PL_REFUSED_COUNTS);
		return;
	}
	pthread_mutex_lock(&d->lock);
	if (p->page && p->page_ino == ino) {
		/* the same process again (a remade channel): the same page */
		munmap((void *)page, CW_PL_COUNTS_SIZE);
	} else {
		/* new, or a new program in it (exec): its counts from now */
		unmap_page(p);
		p->page = page;
		p->page_ino = ino;
		p->reported = 0;
	}
	pthread_mutex_unlock(&d->lock);
}

/*
 * collect without --target: the target is the sender's binary, read
 * from /proc/PID/exe of the pid the kernel gave (SCM_CREDENTIALS). Read
 * when it first tracks something, after a wrapper's exec into the
 * server; kept from then on, so that its series never change name.
 */
static void name_by_binary(const struct cw_daemon *d, struct preload_proc *p,
			   char *name, size_t len)
{
	char exe[PATH_MAX], err[128];

	name[0] = '\0';
	if (!d->preload_by_binary || proc_exe(p->pid, exe, sizeof(exe), err,
					      sizeof(err)))
		return;
	snprintf(name, len, "%s", labels_binary_target(exe));
}

/* Once it tracked something: the daemon watches it (maps kept). */
static void mark_seen(struct cw_daemon *d, struct preload_proc *p)
{
	char name[CW_NAME_MAX];

	if (p->seen)
		return;
	name_by_binary(d, p, name, sizeof(name));
	pthread_mutex_lock(&d->lock);	/* the metrics thread reads it */
	memcpy(p->target, name, sizeof(p->target));
	p->seen = 1;
	pthread_mutex_unlock(&d->lock);
	daemon_proc_seen(d, p->pid, 0);
}

const char *preload_target_of(const struct cw_daemon *d, unsigned pid)
{
	int i;

	for (i = 0; pid && i < d->nr_preload; i++)
		if (d->preload[i].pid == (int)pid && d->preload[i].seen)
			return d->preload[i].target[0] ? d->preload[i].target :
			       NULL;
	return NULL;
}

/*
 * The parent whose mappings a fork child (no exec since) has, as its
 * page says: the parent /proc named at its hello, or, when it was gone
 * by then, a process that reports here. 0: none.
 */
static int parent_of(struct cw_daemon *d, const struct preload_proc *p)
{
	const struct preload_proc *parent;
	uint32_t from;

	if (!p->page)
		return 0;
	from = ((const volatile struct cw_pl_counts *)p->page)->forked_from;
	if (!from || from > INT32_MAX)
		return 0;
	if (p->ppid > 0)
		return from == (uint32_t)p->ppid ? p->ppid : 0;
	parent = slot_of(d, (int)from);
	return parent ? (int)from : 0;
}

/* Whether a record at now goes to the log: the first ones of a window. */
static int rate_admit(struct preload_proc *p, uint64_t now)
{
	if (now - p->rate.window_ns >= CW_RATE_WINDOW_NS) {
		p->rate.window_ns = now;
		p->rate.sent = 0;
	}
	return p->rate.sent++ < CW_RATE_RECORDS;
}

/* A record the rate limit holds back: it and what it stood for. */
static void rate_fold(struct preload_proc *p, const struct cw_record *r,
		      uint64_t now)
{
	if (!p->rate.folded)
		p->rate.fold_ns = now;
	p->rate.folded += 1 + r->folded;
	p->rate.last = *r;
	p->rate.last.ts_ns = now;
}

/*
 * What was folded, flushed as one record (the last event, no stack)
 * once its window is over, or at once (force) when the process is gone.
 */
static void rate_flush(struct cw_daemon *d, struct preload_proc *p,
		       uint64_t now, int force)
{
	struct cw_record r;

	if (!p->rate.folded ||
	    (!force && now - p->rate.window_ns < CW_RATE_WINDOW_NS))
		return;
	r = p->rate.last;
	r.type = CW_REC_FOLDED;
	r.nr_frames = 0;
	r.folded = p->rate.folded - 1;
	r.folded_ns = r.ts_ns - p->rate.fold_ns;
	p->rate.folded = 0;
	anomaly_report(d, &r);
}

/* The same record the eBPF sockets path makes, so the same alert. */
static void on_double_close(struct cw_daemon *d, struct preload_proc *p,
			    const struct cw_pl_double_close *m)
{
	uint64_t now = daemon_now_ns();
	int like;
	struct cw_record r = {
		.type = m->close_errno ? CW_REC_ANOMALY : CW_REC_FOLDED,
		.kind = CW_ANOM_DOUBLE_CLOSE_FD,
		.tgid = (uint32_t)p->pid,
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
	r.comm[sizeof(r.comm) - 1] = '\0';
	mark_seen(d, p);	/* its maps, for the stack */
	like = parent_of(d, p);
	if (like) {	/* gone already: a fork child has its parent's */
		symbolizer_remember(&d->sym, like);
		symbolizer_remember_like(&d->sym, p->pid, like);
	}
	/* Counted by the shim: credited from its page (metrics). */
	pthread_mutex_lock(&d->lock);
	p->reported += 1 + (uint64_t)m->folded;
	pthread_mutex_unlock(&d->lock);
	if (!rate_admit(p, now)) {
		rate_fold(p, &r, now);
		return;
	}
	if (p->rate.folded) {
		r.folded += p->rate.folded;
		r.folded_ns = now - p->rate.fold_ns;
		p->rate.folded = 0;
	}
	anomaly_report(d, &r);
}

/* Whether the message's pid is its sender's (as the sender sees itself). */
static int claims_sender(struct cw_daemon *d, const struct cw_pl_header *h,
			 int sender)
{
	const struct preload_proc *p = slot_of(d, sender);
	int ns_pid, ppid;

	if (sender <= 0)
		return 0;	/* no word from the kernel: not trusted */
	if (h->pid == (uint32_t)sender)
		return 1;
	if (p)
		return h->pid == (uint32_t)p->claim_pid;
	read_status(sender, &ns_pid, &ppid);
	return h->pid == (uint32_t)ns_pid;
}

/* One message: checked, then taken. */
static void on_message(struct cw_daemon *d, const void *buf, ssize_t n,
		       const struct msg_extras *x)
{
	const struct cw_pl_header *h = buf;
	struct preload_proc *p;

	if (n < (ssize_t)sizeof(*h) || h->magic != CW_PL_MAGIC ||
	    h->size != n) {
		refuse(d, PL_REFUSED_MALFORMED);
	} else if (!claims_sender(d, h, x->pid)) {
		refuse(d, PL_REFUSED_PID);
	} else if (h->type == CW_PL_HELLO && n == sizeof(*h)) {
		p = hello_slot(d, x->pid);
		if (p)
			on_hello(d, p, x->fd);
	} else if (h->type == CW_PL_DOUBLE_CLOSE &&
		   n == sizeof(struct cw_pl_double_close) &&
		   (p = slot_of(d, x->pid)) && p->hello &&
		   d->sess.sockets_target >= 0) {
		on_double_close(d, p, buf);
	} else {
		refuse(d, PL_REFUSED_MALFORMED);
	}
	if (x->fd >= 0)
		close(x->fd);
}

/* Every message waiting on connection i; at its end (EOF) it goes. */
static void read_conn(struct cw_daemon *d, int i)
{
	union {
		struct cw_pl_header h;
		struct cw_pl_double_close dc;
	} msg;
	union {
		char buf[CMSG_SPACE(sizeof(struct ucred)) +
			 CMSG_SPACE(sizeof(int) * 4)];
		struct cmsghdr align;
	} ctl;
	struct msg_extras x;

	while (d->preload_conns[i] >= 0) {
		struct iovec iov = { .iov_base = &msg, .iov_len = sizeof(msg) };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
				     .msg_control = ctl.buf,
				     .msg_controllen = sizeof(ctl.buf) };
		/* MSG_TRUNC: a longer message says its length, and is refused */
		ssize_t n = recvmsg(d->preload_conns[i], &mh, MSG_DONTWAIT |
				    MSG_TRUNC | MSG_CMSG_CLOEXEC);

		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			close_fd(d, &d->preload_conns[i]);
			return;
		}
		take_extras(&mh, &x);
		on_message(d, &msg, n, &x);
	}
}

static void read_all_conns(struct cw_daemon *d)
{
	for (int i = 0; i < CW_MAX_TARGETS; i++)
		if (d->preload_conns[i] >= 0)
			read_conn(d, i);
}

static void accept_conn(struct cw_daemon *d)
{
	int fd = accept4(d->preload_listen_fd, NULL, NULL,
			 SOCK_NONBLOCK | SOCK_CLOEXEC);
	int i;

	if (fd < 0)
		return;
	for (i = 0; i < CW_MAX_TARGETS && d->preload_conns[i] >= 0; i++)
		;
	if (i == CW_MAX_TARGETS || watch_fd(d, fd, EV_CONN, i)) {
		refuse(d, PL_REFUSED_FULL);
		close(fd);
		return;
	}
	d->preload_conns[i] = fd;
}

/* ---- a process' exit ---- */

/*
 * Its records are read first (sent before it died, on any connection);
 * then its counts are final: what was open is closed by its exit.
 */
static void on_exit_of(struct cw_daemon *d, struct preload_proc *p)
{
	struct preload_counts c;
	char comm[16];
	int pid = p->pid, seen;

	read_all_conns(d);
	rate_flush(d, p, daemon_now_ns(), 1);
	pthread_mutex_lock(&d->lock);
	if (p->page)
		copy_page(p->page, &p->final);
	unmap_page(p);
	preload_read(p, &c);
	p->closed_by_exit = c.opened - c.closed;
	memcpy(comm, p->final.comm, sizeof(comm));
	seen = p->seen;
	if (!seen)	/* it tracked nothing: forget it */
		p->pid = 0;
	pthread_mutex_unlock(&d->lock);
	close_fd(d, &p->pidfd);
	if (seen)
		daemon_proc_down(d, pid, 0, comm, -1);
}

/* Whether p's process has exited (its pidfd is readable). */
static int has_exited(const struct preload_proc *p)
{
	struct pollfd pf = { .fd = p->pidfd, .events = POLLIN };

	return p->pidfd >= 0 && poll(&pf, 1, 0) > 0;
}

/*
 * A process shows once it tracked something (nginx's master, which only
 * forks, never does); its blind reasons are logged once each.
 */
static void notice(struct cw_daemon *d, struct preload_proc *p)
{
	struct preload_counts c;
	uint32_t fresh;

	if (!p->pid || !p->page)
		return;
	preload_read(p, &c);
	fresh = c.blind & ~p->blind_told;
	if (c.opened || c.double_closes || c.blind)
		mark_seen(d, p);
	p->blind_told |= fresh;
	for (int i = 0; i < CW_PL_BLIND__COUNT; i++)
		if (fresh & (1u << i))
			fprintf(stderr, "connwatch: pid %d: the LD_PRELOAD shim "
				"is blind (%s): its counts are incomplete; use "
				"eBPF (attach, or run without --preload)\n",
				p->pid, blind_names[i]);
}

static void on_event(struct cw_daemon *d, uint64_t data)
{
	uint32_t kind = (uint32_t)(data >> 32), i = (uint32_t)data;

	if (kind == EV_LISTEN)
		accept_conn(d);
	else if (kind == EV_CONN && i < CW_MAX_TARGETS)
		read_conn(d, (int)i);
	/* a batch may hold a stale event of a slot that ended: ask again */
	else if (kind == EV_PIDFD && i < (uint32_t)d->nr_preload &&
		 has_exited(&d->preload[i]))
		on_exit_of(d, &d->preload[i]);
}

void preload_receive(struct cw_daemon *d)
{
	struct epoll_event ev[EV_BATCH];
	uint64_t now;
	int n, i;

	while ((n = epoll_wait(d->preload_fd, ev, EV_BATCH, 0)) > 0) {
		for (i = 0; i < n; i++)
			on_event(d, ev[i].data.u64);
		if (n < EV_BATCH)
			break;
	}
	now = daemon_now_ns();
	for (i = 0; i < d->nr_preload; i++) {
		notice(d, &d->preload[i]);
		rate_flush(d, &d->preload[i], now, 0);
	}
}

/*
 * Whether a live process holds records not yet handed to its socket
 * (the page's double closes ahead of what its shim sent or dropped).
 * double_closes is read first: a later one is not waited for.
 */
static int records_held(struct cw_daemon *d)
{
	for (int i = 0; i < d->nr_preload; i++) {
		const struct cw_pl_counts *page = d->preload[i].page;
		uint64_t counted;

		if (!page || !d->preload[i].hello)
			continue;
		counted = __atomic_load_n(&page->double_closes, __ATOMIC_ACQUIRE);
		if (counted > __atomic_load_n(&page->handed, __ATOMIC_ACQUIRE) +
			      __atomic_load_n(&page->dropped, __ATOMIC_ACQUIRE))
			return 1;
	}
	return 0;
}

/*
 * Stopping: the records the shims still hold (a burst fills their
 * socket) are taken first, for a bounded time. The pages are read before
 * the sockets: what they say was handed is in the sockets by then.
 */
static void take_records_held(struct cw_daemon *d)
{
	uint64_t deadline = daemon_now_ns() + STOP_WAIT_NS;
	struct pollfd pf[CW_MAX_TARGETS];
	int held, n, i;

	do {
		held = records_held(d);
		read_all_conns(d);
		for (i = n = 0; held && i < CW_MAX_TARGETS; i++)
			if (d->preload_conns[i] >= 0)
				pf[n++] = (struct pollfd){
					.fd = d->preload_conns[i],
					.events = POLLIN };
		if (n)	/* woken by data, or after 10 ms */
			poll(pf, n, 10);
	} while (held && daemon_now_ns() < deadline);
}

void preload_close_all(struct cw_daemon *d)
{
	uint64_t now;
	int i;

	/* Stopping: what is still folded goes out, one record each. */
	take_records_held(d);
	now = daemon_now_ns();
	for (i = 0; i < d->nr_preload; i++)
		rate_flush(d, &d->preload[i], now, 1);
	for (i = 0; i < d->nr_preload; i++) {
		struct preload_proc *p = &d->preload[i];

		pthread_mutex_lock(&d->lock);
		if (p->page)
			copy_page(p->page, &p->final);
		unmap_page(p);
		pthread_mutex_unlock(&d->lock);
		close_fd(d, &p->pidfd);
	}
	for (i = 0; i < CW_MAX_TARGETS; i++)
		close_fd(d, &d->preload_conns[i]);
	if (d->preload_listen_fd >= 0)
		close(d->preload_listen_fd);
	if (d->preload_fd >= 0)
		close(d->preload_fd);
	d->preload_listen_fd = -1;
	d->preload_fd = -1;
}

/* ---- metrics ---- */

/* name{target,source,pid[,reason]} value: one series of process p. */
static void put_proc(FILE *f, struct cw_daemon *d, const char *name,
		     const struct preload_proc *p, const char *reason,
		     unsigned long long value)
{
	fprintf(f, "%s{", name);
	labels_series(f, &d->sess, p->target[0] ? p->target : NULL,
		      d->sess.sockets_target, (unsigned)p->pid);
	if (reason)
		fprintf(f, ",reason=\"%s\"", reason);
	fprintf(f, "} %llu\n", value);
}

static void put_help(FILE *f, const char *name, const char *type,
		     const char *text)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, text, name, type);
}

/* A counter of every process shown: the preload_counts field at off. */
static void write_proc_counter(FILE *f, struct cw_daemon *d,
			       const char *name, size_t off, const char *text)
{
	put_help(f, name, "counter", text);
	pthread_mutex_lock(&d->lock);
	for (int i = 0; i < d->nr_preload; i++) {
		const struct preload_proc *p = &d->preload[i];
		struct preload_counts c;

		if (!p->pid || !p->seen)
			continue;
		preload_read(p, &c);
		put_proc(f, d, name, p, NULL,
			 *(const uint64_t *)((const char *)&c + off));
	}
	pthread_mutex_unlock(&d->lock);
}

void preload_write_metrics(FILE *f, struct cw_daemon *d)
{
	int i, b;

	if (d->preload_fd < 0 || d->sess.sockets_target < 0)
		return;
	put_help(f, "connwatch_preload_blind", "gauge", "1 when the LD_PRELOAD "
		 "shim knows it cannot see this process' sockets, by reason.");
	pthread_mutex_lock(&d->lock);
	for (i = 0; i < d->nr_preload; i++) {
		const struct preload_proc *p = &d->preload[i];
		struct preload_counts c;

		if (!p->pid || !p->seen)
			continue;
		preload_read(p, &c);
		for (b = 0; b < CW_PL_BLIND__COUNT; b++)
			if (c.blind & (1u << b))
				put_proc(f, d, "connwatch_preload_blind", p,
					 blind_names[b], 1);
	}
	pthread_mutex_unlock(&d->lock);
	write_proc_counter(f, d, "connwatch_preload_channel_lost_total",
			   offsetof(struct preload_counts, channel_lost),
			   "Times the shim found its report socket closed under "
			   "it (and made a new one).");
	put_help(f, "connwatch_preload_refused_total", "counter", "Reports of "
		 "the LD_PRELOAD socket refused, by reason.");
	for (i = 0; i < PL_REFUSED__COUNT; i++) {
		fprintf(f, "connwatch_preload_refused_total{");
		labels_put(f, "target", d->sess.target);
		fprintf(f, ",reason=\"%s\"} %lu\n", refusal_names[i],
			__atomic_load_n(&d->preload_refused[i],
					__ATOMIC_RELAXED));
	}
}
