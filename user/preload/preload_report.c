/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The shim's reporting to the collecting connwatch (preload_proto.h):
 *
 * - Counts live in a page of shared memory (a sealed memfd, handed to the
 *   collector once in the hello): the hot path's atomic increments are
 *   the report. Nothing to send, nothing to lose, no syscall.
 * - Double closes (rare: a bug of the application) are records with a
 *   stack. The application's thread puts one in a lock-free ring
 *   (RING_SLOTS, a bounded multi-producer queue), sends what the socket
 *   takes without waiting (send_now) and wakes the shim's thread (one
 *   futex wake), which sends the rest on the SOCK_SEQPACKET connection,
 *   waiting when the socket is full (flow control: a slow collector
 *   delays records, never drops them). A full ring folds the record
 *   into a count the next flush carries.
 * - The thread also watches the channel: a socket closed under the shim
 *   (closefrom, close_range by raw syscall) or a collector gone is
 *   remade and the hello sent again, with the same page: the collector
 *   has every count back, outage included.
 * - The connection is made in the constructor, while still privileged,
 *   and kept by fork children: nginx's workers drop to nobody later and
 *   still reach a 0600 socket through the connection they inherited. A
 *   child makes only its page at fork (no connect, nothing for the
 *   collector to do for a fork that only execs) and says hello once it
 *   has something to report.
 */
#include <errno.h>
#include <execinfo.h>
#include <fcntl.h>
#include <link.h>
#include <linux/futex.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "preload_report.h"

#define RING_SLOTS	1024		/* a burst of 1,000 never folds */
#define NSEC_PER_MSEC	1000000ull
#define NSEC_PER_SEC	1000000000ull
#define CHECK_MS	1000		/* channel check when idle */
#define SEND_WAIT_MS	1000		/* a full socket: poll, then again */
#define BACKOFF_MIN_MS	100
#define BACKOFF_MAX_MS	1000
#define SPIN_LIMIT	20000		/* bounded waits in rare paths */
#define EXIT_WAIT_MS	1000		/* at exit: sending what is queued */
#define DELIVER_TRIES	4		/* sends of a record, channel remade */

_Static_assert(sizeof(struct cw_pl_counts) <= CW_PL_COUNTS_SIZE,
	       "counts do not fit their page");

static struct cw_pl_counts private_counts;
struct cw_pl_counts *cw_counts = &private_counts;
bool cw_report_enabled;

/* The page is made once per process, when first needed (report_page). */
enum page_state { PAGE_NONE, PAGE_MAKING, PAGE_READY };
static _Atomic int page_state = PAGE_READY;	/* no collector: private */
static struct cw_pl_counts *inherited_page;	/* the parent's, after fork */

static struct sockaddr_un cfg_addr;
static socklen_t cfg_addrlen;
static uintptr_t self_text_lo, self_text_hi;	/* to skip our own frames */

/* ---- the shim's own fds ---- */

struct own_fd {
	_Atomic int fd;
	dev_t dev;		/* to tell it from a file that took its number */
	ino_t ino;
};
static struct own_fd sock = { .fd = -1 }, page = { .fd = -1 };
static _Atomic int sock_users;	/* threads inside a send on sock.fd */
static _Atomic int hello_sent;	/* on sock.fd, by this process */

/* ---- the ring ---- */

/*
 * A slot's sequence is kept minus its index (seq_load/seq_store), so the
 * zeroed ring is a free one: nothing to write before use, no page of it
 * touched (and copied, after fork) until a record comes.
 */
struct ring_slot {
	_Atomic uint64_t seq;	/* == position: free; position + 1: full */
	struct cw_pl_double_close m;
};
static struct ring_slot ring[RING_SLOTS];
static _Atomic uint64_t ring_head;	/* next position to fill */
static uint64_t ring_tail;		/* next to send: the drain lock's */
static _Atomic uint32_t ring_wake;	/* futex word */
static _Atomic uint64_t folded_pending;
static _Atomic int folded_fd;
static _Atomic int drain_lock;

/* ---- the thread ---- */

enum thread_state { THREAD_NONE, THREAD_STARTING, THREAD_RUNNING,
		    THREAD_FAILED };
static _Atomic int thread_state;
static _Atomic uint64_t thread_retry_ns;
static _Atomic int stopping;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

static bool lock_bounded(_Atomic int *l)
{
	for (int i = 0; i < SPIN_LIMIT; i++) {
		int expected = 0;

		if (atomic_compare_exchange_weak(l, &expected, 1))
			return true;
		sched_yield();
	}
	return false;
}

static void add(uint64_t *counter, uint64_t n)
{
	__atomic_fetch_add(counter, n, __ATOMIC_RELAXED);
}

/* ---- own fds ---- */

/* A number well above what the application gets from "lowest free fd". */
static int move_high(int fd)
{
	struct rlimit rl;
	rlim_t lim = 1024;
	int hi;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < lim)
		lim = rl.rlim_cur;
	if (lim <= 64 || (int)lim - 32 <= fd)
		return fd;
	hi = fcntl(fd, F_DUPFD_CLOEXEC, (int)lim - 32);
	if (hi < 0)
		return fd;
	syscall(SYS_close, fd);
	return hi;
}

static void own(struct own_fd *o, int fd)
{
	struct stat st;

	if (fstat(fd, &st) == 0) {
		o->dev = st.st_dev;
		o->ino = st.st_ino;
	}
	atomic_store(&o->fd, fd);
}

/* Whether o's number still holds o's file (not closed under us). */
static bool still_own(struct own_fd *o)
{
	int fd = atomic_load(&o->fd);
	struct stat st;

	return fd >= 0 && fstat(fd, &st) == 0 && st.st_dev == o->dev &&
	       st.st_ino == o->ino;
}

/*
 * o's fd, or -1: a number whose file was closed under the shim (raw
 * close_range) and reused by the application is the application's now.
 */
static int own_fd_checked(struct own_fd *o)
{
	int fd = atomic_load(&o->fd);

	if (fd < 0 || still_own(o))
		return fd;
	if (atomic_compare_exchange_strong(&o->fd, &fd, -1) && o == &sock)
		add(&cw_counts->channel_lost, 1);
	return -1;
}

bool report_owns_fd(int fd)
{
	if (fd < 0)
		return false;
	if (fd == atomic_load_explicit(&sock.fd, memory_order_relaxed))
		return own_fd_checked(&sock) == fd;
	if (fd == atomic_load_explicit(&page.fd, memory_order_relaxed))
		return own_fd_checked(&page) == fd;
	return false;
}

void report_own_fds(int out[2])
{
	int a = own_fd_checked(&sock), b = own_fd_checked(&page);

	out[0] = a < b ? a : b;
	out[1] = a < b ? b : a;
	if (out[0] < 0) {
		out[0] = out[1];
		out[1] = -1;
	}
}

bool report_release_fd(int fd)
{
	int expected = fd;

	if (fd < 0)
		return false;
	if (atomic_compare_exchange_strong(&page.fd, &expected, -1))
		return true;
	expected = fd;
	if (!atomic_compare_exchange_strong(&sock.fd, &expected, -1))
		return false;
	/* a send in flight finishes on it first (non-blocking: short) */
	for (int i = 0; i < SPIN_LIMIT && atomic_load(&sock_users); i++)
		sched_yield();
	return true;
}

/* ---- the page ---- */

static int make_page(void)
{
	const int seals = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL;
	void *p;
	int fd = memfd_create("connwatch-preload",
			      MFD_CLOEXEC | MFD_ALLOW_SEALING);

	if (fd < 0)
		return -1;
	/* sealed: the collector maps it and a shrink would fault it */
	if (ftruncate(fd, CW_PL_COUNTS_SIZE) ||
	    fcntl(fd, F_ADD_SEALS, seals))
		goto fail;
	p = mmap(NULL, CW_PL_COUNTS_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
		 fd, 0);
	if (p == MAP_FAILED)
		goto fail;
	prctl(PR_GET_NAME, ((struct cw_pl_counts *)p)->comm);
	own(&page, move_high(fd));
	__atomic_store_n(&cw_counts, p, __ATOMIC_RELEASE);
	return 0;
fail:
	syscall(SYS_close, fd);
	return -1;
}

/*
 * Before anything is counted in this process: its page. Made by the
 * first thread that needs it (a fork child's first accept, double close
 * or blind reason: a fork that only execs never does), the others wait
 * for it (a few system calls), so no count goes to the private page
 * meanwhile. One load when made.
 */
void report_page(void)
{
	int expected = PAGE_NONE;
	int fd;

	if (__builtin_expect(atomic_load_explicit(&page_state,
						  memory_order_acquire) ==
			     PAGE_READY, 1))
		return;
	if (!atomic_compare_exchange_strong(&page_state, &expected,
					    PAGE_MAKING)) {
		for (int i = 0; i < SPIN_LIMIT &&
				atomic_load(&page_state) != PAGE_READY; i++)
			sched_yield();
		return;
	}
	/* the parent's page and its fd, kept by fork until now */
	if ((fd = atomic_exchange(&page.fd, -1)) >= 0)
		syscall(SYS_close, fd);
	if (inherited_page)
		munmap(inherited_page, CW_PL_COUNTS_SIZE);
	inherited_page = NULL;
	/* none: counts stay private, nothing reported */
	if (make_page() == 0)
		cw_counts->forked_from = (uint32_t)getppid();
	atomic_store_explicit(&page_state, PAGE_READY, memory_order_release);
}

/* ---- the connection ---- */

/* The hello: our pid, and the page riding along (SCM_RIGHTS). */
static int send_hello_on(int fd)
{
	struct cw_pl_header h;
	union cw_pl_fd_ctl ctl;
	struct iovec iov;
	struct msghdr msg;

	cw_pl_hello_msg(&msg, &iov, &h, &ctl, (uint32_t)getpid(),
			(uint32_t)syscall(SYS_gettid), atomic_load(&page.fd));
	return sendmsg(fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL) ==
	       (ssize_t)sizeof(h) ? 0 : -1;
}

/* A new connection and its hello. 0, or -1 with errno. */
static int connect_channel(void)
{
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK,
			0);
	int err;

	if (fd < 0)
		return -1;
	fd = move_high(fd);
	if (connect(fd, (const struct sockaddr *)&cfg_addr, cfg_addrlen) ||
	    send_hello_on(fd)) {
		err = errno;
		syscall(SYS_close, fd);
		errno = err;
		return -1;
	}
	own(&sock, fd);
	atomic_store(&hello_sent, 1);
	return 0;
}

/*
 * A fork child says hello on the connection it inherited once it has
 * something to report (a fork that only execs costs nothing here, nor
 * the collector). Any thread; once.
 */
static void send_hello(void)
{
	int fd;

	if (atomic_load(&hello_sent) || atomic_exchange(&hello_sent, 1))
		return;
	atomic_fetch_add(&sock_users, 1);
	fd = atomic_load(&sock.fd);
	if (fd < 0 || send_hello_on(fd))
		atomic_store(&hello_sent, 0);	/* the thread tries again */
	atomic_fetch_sub(&sock_users, 1);
}

/* The collector closed its end (it died or refused us). */
static bool hung_up(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, 0) > 0 && (p.revents & (POLLHUP | POLLERR | POLLIN));
}

/* Under drain_lock: when the channel may be remade next (backoff). */
static uint64_t chan_retry_at, chan_backoff_ms;

/*
 * Under drain_lock, the look at the channel: remade when its socket was
 * closed under the shim (its number may hold another file now: not ours
 * to close) or the collector hung up; with backoff while it is down.
 */
static void check_channel(void)
{
	int fd = own_fd_checked(&sock);

	if (fd >= 0 && !hung_up(fd)) {
		send_hello();
		return;
	}
	if (fd >= 0 && report_release_fd(fd))
		syscall(SYS_close, fd);	/* hung up: still ours */
	own_fd_checked(&page);	/* closed under us: the hello goes without */
	if (now_ns() < chan_retry_at)
		return;
	if (connect_channel() == 0) {
		chan_backoff_ms = 0;
		__atomic_fetch_and(&cw_counts->blind,
				   ~(1u << CW_PL_BLIND_CHANNEL), __ATOMIC_RELAXED);
		return;
	}
	if (errno == EACCES || errno == EPERM)
		report_blind(CW_PL_BLIND_CHANNEL, "cannot reach the collector's "
			     "socket (permission): double closes are not "
			     "reported");
	chan_backoff_ms = chan_backoff_ms ? chan_backoff_ms * 2 : BACKOFF_MIN_MS;
	if (chan_backoff_ms > BACKOFF_MAX_MS)
		chan_backoff_ms = BACKOFF_MAX_MS;
	chan_retry_at = now_ns() + chan_backoff_ms * NSEC_PER_MSEC;
}

/*
 * One record, waiting while the socket is full (up to deadline_ns, 0:
 * until stopping). 0 sent, -1 channel broken or out of time.
 */
/* One send, never waiting: 0, or the errno (EAGAIN: the socket is full). */
static int try_send(const struct cw_pl_double_close *m)
{
	ssize_t n = -1;
	int fd, err = EBADF;

	atomic_fetch_add(&sock_users, 1);
	fd = atomic_load(&sock.fd);
	if (fd >= 0) {
		n = send(fd, m, sizeof(*m), MSG_DONTWAIT | MSG_NOSIGNAL);
		err = errno;
	}
	atomic_fetch_sub(&sock_users, 1);
	if (n == (ssize_t)sizeof(*m)) {
		add(&cw_counts->handed, 1 + (uint64_t)m->folded);
		return 0;
	}
	return err == EWOULDBLOCK || err == ENOBUFS ? EAGAIN : err;
}

static int send_record(const struct cw_pl_double_close *m,
		       uint64_t deadline_ns)
{
	int err;

	while ((err = try_send(m)) == EAGAIN) {
		struct pollfd p = { .fd = atomic_load(&sock.fd),
				    .events = POLLOUT };

		if (deadline_ns ? now_ns() >= deadline_ns :
				  atomic_load(&stopping))
			return -1;
		poll(&p, 1, deadline_ns ? 1 : SEND_WAIT_MS);
	}
	return err ? -1 : 0;
}

/* ---- the stack ---- */

/*
 * The stack comes from glibc's backtrace() (libgcc's unwinder, driven by
 * .eh_frame), pre-warmed in the constructor so that its one-time dlopen
 * of libgcc_s and malloc never happen here. Chosen over a frame-pointer
 * walk because distribution binaries (nginx, redis...) are built without
 * frame pointers: a validated fp walk would stop after the first frame or
 * report plausible garbage, while the unwinder gives the real chain and
 * stops cleanly at a frame it has no unwind info for. Cost: it takes
 * the loader lock (dl_iterate_phdr), acceptable on a path that only runs
 * when the application has a double-close bug.
 */
static uint32_t capture_stack(uint64_t *out)
{
	void *buf[CW_PL_MAX_FRAMES + 8];
	int n = backtrace(buf, (int)(sizeof(buf) / sizeof(buf[0])));
	uint32_t nr = 0;
	int i = 0;

	/* skip our own frames: the first kept one is close()'s caller */
	while (i < n && (uintptr_t)buf[i] >= self_text_lo &&
	       (uintptr_t)buf[i] < self_text_hi)
		i++;
	for (; i < n && nr < CW_PL_MAX_FRAMES; i++)
		out[nr++] = (uint64_t)(uintptr_t)buf[i];
	return nr;
}

static int find_self_text(struct dl_phdr_info *info, size_t size, void *data)
{
	uintptr_t here = (uintptr_t)data;

	(void)size;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t lo = info->dlpi_addr + ph->p_vaddr;

		if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X) &&
		    here >= lo && here < lo + ph->p_memsz) {
			self_text_lo = lo;
			self_text_hi = lo + ph->p_memsz;
			return 1;
		}
	}
	return 0;
}

/* ---- the ring ---- */

static uint64_t seq_load(uint64_t pos)
{
	uint64_t i = pos % RING_SLOTS;

	return atomic_load_explicit(&ring[i].seq, memory_order_acquire) + i;
}

static void seq_store(uint64_t pos, uint64_t seq)
{
	uint64_t i = pos % RING_SLOTS;

	atomic_store_explicit(&ring[i].seq, seq - i, memory_order_release);
}

static bool ring_push(const struct cw_pl_double_close *m)
{
	uint64_t pos = atomic_load_explicit(&ring_head, memory_order_relaxed);
	struct ring_slot *s;

	for (;;) {
		int64_t dif;

		s = &ring[pos % RING_SLOTS];
		dif = (int64_t)(seq_load(pos) - pos);
		if (dif < 0)
			return false;	/* full */
		if (dif == 0 &&
		    atomic_compare_exchange_weak_explicit(
			    &ring_head, &pos, pos + 1, memory_order_relaxed,
			    memory_order_relaxed))
			break;
		if (dif > 0)
			pos = atomic_load_explicit(&ring_head,
						   memory_order_relaxed);
	}
	s->m = *m;
	seq_store(pos, pos + 1);
	return true;
}

/* Under drain_lock: the oldest record, if one is complete. */
/* Under drain_lock: the oldest record, if one is complete; kept. */
static const struct cw_pl_double_close *ring_peek(void)
{
	if (seq_load(ring_tail) != ring_tail + 1)
		return NULL;
	return &ring[ring_tail % RING_SLOTS].m;
}

/* Under drain_lock: the oldest record done with, its slot free again. */
static void ring_advance(void)
{
	seq_store(ring_tail, ring_tail + RING_SLOTS);
	ring_tail++;
}

static bool ring_pop(struct cw_pl_double_close *m)
{
	const struct cw_pl_double_close *oldest = ring_peek();

	if (!oldest)
		return false;
	*m = *oldest;
	ring_advance();
	return true;
}

/*
 * fork child: the parent's queued records are the parent's to send, and
 * a push another thread had under way would never complete here. An
 * empty ring (the usual case) is consistent as it is: left untouched.
 */
static void ring_reset(void)
{
	if (atomic_load(&ring_head) == ring_tail)
		return;
	for (uint64_t i = 0; i < RING_SLOTS; i++)
		atomic_store_explicit(&ring[i].seq, 0, memory_order_relaxed);
	atomic_store(&ring_head, 0);
	ring_tail = 0;
}

static void wake_thread(void)
{
	atomic_fetch_add(&ring_wake, 1);
	syscall(SYS_futex, &ring_wake, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

static void fill_header(struct cw_pl_header *h)
{
	h->magic = CW_PL_MAGIC;
	h->type = CW_PL_DOUBLE_CLOSE;
	h->size = sizeof(struct cw_pl_double_close);
	h->pid = (uint32_t)getpid();
	h->tid = (uint32_t)syscall(SYS_gettid);
}

/*
 * One record; on a channel found broken (closed under us, the collector
 * restarted) it is remade at once and the record sent again, a few
 * times (an application may close every fd it has, again and again).
 */
static int deliver(const struct cw_pl_double_close *m, uint64_t deadline_ns)
{
	for (int i = 0; i < DELIVER_TRIES; i++) {
		if (!send_record(m, deadline_ns))
			return 0;
		chan_retry_at = 0;
		check_channel();
	}
	return -1;
}

/* What the full ring folded: one record standing for all of them. */
static int send_folded(uint64_t deadline_ns)
{
	struct cw_pl_double_close m = {};
	uint64_t n = atomic_exchange(&folded_pending, 0);

	if (!n)
		return 0;
	fill_header(&m.h);
	m.fd = atomic_load(&folded_fd);
	m.folded = n - 1 > UINT32_MAX ? UINT32_MAX : (uint32_t)(n - 1);
	memcpy(m.comm, cw_counts->comm, sizeof(m.comm));
	if (deliver(&m, deadline_ns)) {
		add(&cw_counts->dropped, n);
		return -1;
	}
	return 0;
}

/*
 * Under drain_lock: every queued record out; one the channel cannot take
 * is counted dropped (the count itself is in the page: never lost).
 */
static void drain(uint64_t deadline_ns)
{
	struct cw_pl_double_close m;

	while (ring_pop(&m))
		if (deliver(&m, deadline_ns))
			add(&cw_counts->dropped, 1);
	send_folded(deadline_ns);
}

/* ---- the thread ---- */

static void *report_main(void *arg)
{
	(void)arg;
	pthread_setname_np(pthread_self(), "connwatch-pl");
	while (!atomic_load(&stopping)) {
		uint32_t seen = atomic_load(&ring_wake);
		struct timespec idle = { .tv_sec = CHECK_MS / 1000 };

		if (lock_bounded(&drain_lock)) {
			check_channel();
			drain(0);
			atomic_store(&drain_lock, 0);
		}
		if (atomic_load(&ring_wake) == seen)
			syscall(SYS_futex, &ring_wake, FUTEX_WAIT_PRIVATE,
				seen, &idle, NULL, 0);
	}
	return NULL;
}

/* Only the winner of the NONE -> STARTING exchange creates the thread. */
static void start_thread(uint64_t now)
{
	int expected = THREAD_NONE;
	sigset_t all, old;
	pthread_attr_t attr;
	pthread_t t;
	int err;

	if (!atomic_compare_exchange_strong(&thread_state, &expected,
					    THREAD_STARTING))
		return;
	/* the application's signals must never run on our thread */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 128 * 1024);
	err = pthread_create(&t, &attr, report_main, NULL);
	pthread_attr_destroy(&attr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err) {
		atomic_store(&thread_retry_ns, now + NSEC_PER_SEC);
		atomic_store(&thread_state, THREAD_FAILED);
	} else {
		atomic_store(&thread_state, THREAD_RUNNING);
	}
}

void report_start(uint64_t now)
{
	int s;

	if (!cw_report_enabled)
		return;
	s = atomic_load_explicit(&thread_state, memory_order_relaxed);
	if (__builtin_expect(s == THREAD_RUNNING || s == THREAD_STARTING, 1))
		return;
	if (atomic_load(&stopping))
		return;
	if (s == THREAD_FAILED &&
	    (now < atomic_load(&thread_retry_ns) ||
	     !atomic_compare_exchange_strong(&thread_state, &s, THREAD_NONE)))
		return;
	start_thread(now);
}

/* ---- the rare paths ---- */

/*
 * From the application's thread, right after a double close: what the
 * ring holds goes out now while the socket takes it without waiting (a
 * fork child may _exit next, and its records with it); what it does not
 * take, or when the thread is sending, is the thread's.
 */
static void send_now(void)
{
	const struct cw_pl_double_close *m;
	int expected = 0;

	if (!atomic_compare_exchange_strong(&drain_lock, &expected, 1))
		return;
	if (own_fd_checked(&sock) >= 0) {
		send_hello();
		while ((m = ring_peek()) && !try_send(m))
			ring_advance();
	}
	atomic_store(&drain_lock, 0);
}

void report_double_close(int fd, int close_errno, uint64_t open)
{
	struct cw_pl_double_close m = {};
	int cancel;

	report_page();
	add(&cw_counts->double_closes, 1);
	if (!cw_report_enabled)
		return;
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel);
	fill_header(&m.h);
	m.fd = fd;
	m.close_errno = close_errno;
	m.open = open;
	m.nr_frames = capture_stack(m.stack);
	prctl(PR_GET_NAME, m.comm);	/* the thread's, like bpf_get_current_comm */
	if (ring_push(&m)) {
		send_now();
	} else {
		atomic_store(&folded_fd, fd);
		atomic_fetch_add(&folded_pending, 1);
		add(&cw_counts->folded, 1);
	}
	/* the rest: the thread's (a fork child may have accepted nothing) */
	report_start(now_ns());
	wake_thread();
	pthread_setcancelstate(cancel, NULL);
}

void report_blind(enum cw_pl_blind why, const char *what)
{
	uint32_t bit = 1u << why;
	char line[256];
	struct stat st;
	int n;

	report_page();
	if (__atomic_load_n(&cw_counts->blind, __ATOMIC_RELAXED) & bit ||
	    __atomic_fetch_or(&cw_counts->blind, bit, __ATOMIC_RELAXED) & bit)
		return;
	if (cw_report_enabled)
		send_hello();	/* a fork child that tracked nothing yet */
	/* never into a client's connection (inetd-style stdio) */
	if (fstat(STDERR_FILENO, &st) || S_ISSOCK(st.st_mode))
		return;
	n = snprintf(line, sizeof(line), "connwatch-preload: pid %d: %s; "
		     "use eBPF instead (connwatch attach, or run without "
		     "--preload)\n", getpid(), what);
	if (n > 0)	/* a failed write: nothing else to tell it with */
		n = (int)write(STDERR_FILENO, line, (size_t)n < sizeof(line) ?
			       (size_t)n : sizeof(line) - 1);
}

/* ---- life cycle ---- */

static bool parse_socket_env(void)
{
	const char *path = getenv(CW_PL_SOCKET_ENV);
	size_t len;

	if (!path || !*path)
		return false;
	len = strlen(path);
	if (len >= sizeof(cfg_addr.sun_path))
		return false;
	memset(&cfg_addr, 0, sizeof(cfg_addr));
	cfg_addr.sun_family = AF_UNIX;
	memcpy(cfg_addr.sun_path, path, len);
	if (path[0] == '@') {		/* abstract namespace */
		cfg_addr.sun_path[0] = '\0';
		cfg_addrlen = (socklen_t)(offsetof(struct sockaddr_un,
						   sun_path) + len);
	} else {
		cfg_addrlen = (socklen_t)sizeof(cfg_addr);
	}
	return true;
}

/* A page and a connection for this process; the private page else. */
static void open_report(void)
{
	if (make_page())
		return;		/* no memfd: counts stay private, no report */
	if (connect_channel() && errno != ENOENT && errno != ECONNREFUSED &&
	    errno != EAGAIN)
		report_blind(CW_PL_BLIND_CHANNEL, "cannot connect to the "
			     "collector's socket");
}

void report_init(void)
{
	void *warm[4];

	if (!parse_socket_env())
		return;
	dl_iterate_phdr(find_self_text, (void *)(uintptr_t)capture_stack);
	backtrace(warm, 4);	/* loads libgcc_s now, not in close() */
	cw_report_enabled = true;
	open_report();
}

void report_atfork_child(void)
{
	/* one thread left: the child starts from zero */
	ring_reset();
	atomic_store(&folded_pending, 0);
	atomic_store(&drain_lock, 0);
	atomic_store(&sock_users, 0);
	atomic_store(&thread_state, THREAD_NONE);
	atomic_store(&stopping, 0);
	memset(&private_counts, 0, sizeof(private_counts));
	if (!cw_report_enabled)
		return;
	/*
	 * No system call here: a page of its own when it has something to
	 * count (report_page), the parent's connection kept (the child may
	 * drop privileges first, nginx's workers do) and its hello sent on
	 * it then (send_hello).
	 */
	if (cw_counts != &private_counts)
		inherited_page = cw_counts;
	cw_counts = &private_counts;
	atomic_store(&hello_sent, 0);
	atomic_store(&page_state, PAGE_NONE);
}

void report_exit(void)
{
	const struct timespec pause = { .tv_nsec = NSEC_PER_MSEC };
	uint64_t deadline = now_ns() + EXIT_WAIT_MS * NSEC_PER_MSEC;
	int cancel, saved = errno;

	__atomic_store_n(&cw_counts->exiting, 1, __ATOMIC_RELAXED);
	if (!cw_report_enabled || atomic_exchange(&stopping, 1))
		return;
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel);
	wake_thread();
	/* the thread may be sending: take over once it lets go */
	while (now_ns() < deadline) {
		int expected = 0;

		if (atomic_compare_exchange_strong(&drain_lock, &expected, 1)) {
			drain(deadline);
			atomic_store(&drain_lock, 0);
			break;
		}
		nanosleep(&pause, NULL);
	}
	pthread_setcancelstate(cancel, NULL);
	errno = saved;
}
