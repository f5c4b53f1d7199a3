/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * libconnwatch-preload.so: the socket-level accounting of connwatch for
 * processes where eBPF is not allowed (DESIGN.md §2 user 4).
 *
 *   LD_PRELOAD=libconnwatch-preload.so CONNWATCH_PRELOAD_SOCKET=/run/cw.sock ./server
 *
 * It interposes accept, accept4, close, dup2, dup3, close_range,
 * closefrom, syscall() (for the calls above made through it) and execve,
 * keeps a per-process table of the accepted fds and counts in a page of
 * memory the collector reads (preload_report.c: atomic increments, no
 * locks, no malloc, no syscall beyond the wrapped one on the hot path).
 * A double close is handed to the shim's thread, which sends it with a
 * stack.
 *
 * Contracts and choices:
 *
 * - CONNWATCH_PRELOAD_SOCKET is read once, in the constructor (so children
 *   forked later, e.g. nginx workers whose environment nginx wipes, still
 *   report). A leading '@' names an abstract socket. Unset, empty or too
 *   long: the shim only passes calls through and keeps its table; no
 *   thread, no socket, no syscall of its own.
 * - Return values and errno of every wrapped call are those of the real
 *   call. Bookkeeping saves and restores errno.
 * - Accepted fds 0..CW_PL_TABLE_FDS-1 are tracked (state + open time).
 *   A socket accepted on a higher fd is counted in `opened` but its close
 *   cannot be seen: the shim says it is blind (high_fd).
 * - close(fd): the state is exchanged to "closed since accept" BEFORE the
 *   real close, so an accept on another thread that reuses the number
 *   right after our close always wins. A close() that fails with EBADF
 *   on a fd accepted and not re-accepted since is a double close (also
 *   when the table still said "open": the fd was closed behind our back,
 *   e.g. by fclose() of an fdopen()ed socket, and closed again). A close
 *   of a number reused by open()/socket() since succeeds and is ignored;
 *   fds never accepted are never counted.
 * - dup2/dup3 onto an open accepted fd count it closed; the number then
 *   holds another file (state unknown). close_range without
 *   CLOSE_RANGE_CLOEXEC and closefrom count the open accepted fds of the
 *   range closed (just before the call, like close()).
 * - syscall(SYS_accept4, ...), syscall(SYS_close, ...) and the others
 *   above go through their wrappers: a program calling the raw syscall
 *   through libc's syscall() is seen. A syscall instruction of the
 *   program's own (Go, a static binary) cannot be: a Go program says so
 *   at start (blind: go), a close the table did not see shows when the
 *   number is accepted again (blind: unseen_close), an exec of a static
 *   binary says so before it happens (blind: static_exec).
 * - Not seen: closes glibc makes internally (fclose of an fdopen()ed
 *   socket, posix_spawn file actions), fcntl F_DUPFD copies of an
 *   accepted fd, sockets closed by execve (O_CLOEXEC). A vfork()ed child
 *   shares the table with its parent until it execs.
 * - fork: the child starts with zero counts, a page of its own, the
 *   parent's connection (its hello on it once it has something to
 *   report), and a table in which the parent's open accepted fds are
 *   "inherited" and everything else is unknown. Closing an inherited fd
 *   counts nothing (the parent accounts that connection: opened and
 *   closed are never reported twice) but arms the double-close check, so
 *   a fork-per-connection child that closes its connection twice is
 *   still reported, under its own pid.
 * - The shim's own fds (the connection, the memfd) are moved high,
 *   O_CLOEXEC, and hidden from the application: close() of them returns
 *   EBADF as if they were not open, close_range() and closefrom() skip
 *   them, dup2()/dup3() onto them make the shim let go of them first.
 *   One closed under it anyway (a raw close_range) is found by the
 *   shim's thread and remade.
 * - Statically linked programs cannot be interposed: `connwatch run
 *   --preload` refuses them, and Go programs, up front.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <linux/types.h>
#include "../../bpf/connwatch.h"
#include "preload_proto.h"
#include "preload_report.h"

#define CW_EXPORT	__attribute__((visibility("default")))
#define likely(x)	__builtin_expect(!!(x), 1)
#define unlikely(x)	__builtin_expect(!!(x), 0)

#define CW_PL_TABLE_FDS	65536		/* fds 0..65535 are tracked */
#define NSEC_PER_SEC	1000000000ull
#define NT_GO_BUILDID	4		/* the Go linker's note type */

_Static_assert(CW_PL_DURATION_BUCKETS == CW_DURATION_BUCKETS,
	       "shim and BPF histograms differ");

enum fd_state {
	FD_UNKNOWN = 0,		/* never accepted, or reused by something else */
	FD_OPEN,		/* accepted, not closed yet */
	FD_CLOSED,		/* closed since its accept: EBADF now = double close */
	FD_INHERITED,		/* open accepted fd of the parent, after fork */
};

/* ---- the per-process fd table (hot path) ---- */

static _Atomic uint8_t fd_state[CW_PL_TABLE_FDS];
/* written before the release exchange of fd_state, read after an acquire */
static uint64_t fd_open_ns[CW_PL_TABLE_FDS];
static _Atomic int fd_high = -1;	/* highest tracked fd ever accepted */

static const uint64_t duration_bounds[CW_DURATION_BUCKETS - 1] =
	CW_DURATION_BOUNDS_NS;

/* ---- the real functions ---- */

typedef int (*accept_fn)(int, __SOCKADDR_ARG, socklen_t *__restrict);
typedef int (*accept4_fn)(int, __SOCKADDR_ARG, socklen_t *__restrict, int);
typedef int (*close_fn)(int);
typedef int (*dup2_fn)(int, int);
typedef int (*dup3_fn)(int, int, int);
typedef int (*close_range_fn)(unsigned int, unsigned int, int);
typedef void (*closefrom_fn)(int);
typedef long (*syscall_fn)(long, ...);
typedef int (*execve_fn)(const char *, char *const[], char *const[]);

static _Atomic(accept_fn) real_accept;
static _Atomic(accept4_fn) real_accept4;
static _Atomic(close_fn) real_close;
static _Atomic(dup2_fn) real_dup2;
static _Atomic(dup3_fn) real_dup3;
static _Atomic(close_range_fn) real_close_range;
static _Atomic(closefrom_fn) real_closefrom;
static _Atomic(syscall_fn) real_syscall;
static _Atomic(execve_fn) real_execve;
static _Atomic int resolved;		/* 0 no, 1 in progress, 2 done */

static void *next_sym(const char *name, void *self)
{
	void *p = dlsym(RTLD_NEXT, name);

	return p == self ? NULL : p;
}

/*
 * dlsym(RTLD_NEXT) once, from the constructor or from the first wrapped
 * call made before it ran. A wrapped call made while resolution is in
 * progress (another thread, or dlsym's own allocator calling close) finds
 * a NULL pointer and falls back to the raw system call: never recursion.
 */
static void resolve_real(void)
{
	int expected = 0;
	int saved = errno;

	if (!atomic_compare_exchange_strong(&resolved, &expected, 1))
		return;
	atomic_store(&real_close, (close_fn)next_sym("close", (void *)close));
	atomic_store(&real_accept,
		     (accept_fn)next_sym("accept", (void *)accept));
	atomic_store(&real_accept4,
		     (accept4_fn)next_sym("accept4", (void *)accept4));
	atomic_store(&real_dup2, (dup2_fn)next_sym("dup2", (void *)dup2));
	atomic_store(&real_dup3, (dup3_fn)next_sym("dup3", (void *)dup3));
	atomic_store(&real_close_range,
		     (close_range_fn)next_sym("close_range",
					      (void *)close_range));
	atomic_store(&real_closefrom,
		     (closefrom_fn)next_sym("closefrom", (void *)closefrom));
	atomic_store(&real_syscall,
		     (syscall_fn)next_sym("syscall", (void *)syscall));
	atomic_store(&real_execve,
		     (execve_fn)next_sym("execve", (void *)execve));
	atomic_store(&resolved, 2);
	errno = saved;
}

#define REAL(name) ({							\
	__typeof__(atomic_load(&real_##name)) fn_ =			\
		atomic_load_explicit(&real_##name, memory_order_relaxed);	\
	if (unlikely(!fn_)) {						\
		resolve_real();						\
		fn_ = atomic_load(&real_##name);			\
	}								\
	fn_; })

/* A system call without going through our own syscall(): never recursion. */
static long raw_syscall(long nr, long a, long b, long c, long d, long e,
			long f)
{
	long ret;
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	register long r9 __asm__("r9") = f;

	__asm__ volatile("syscall" : "=a"(ret)
			 : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10),
			   "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
	if (ret < 0 && ret > -4096) {
		errno = (int)-ret;
		return -1;
	}
	return ret;
}

static inline int do_real_close(int fd)
{
	close_fn fn = REAL(close);

	return fn ? fn(fd) : (int)raw_syscall(SYS_close, fd, 0, 0, 0, 0, 0);
}

/* ---- small helpers ---- */

static inline uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);	/* vDSO: no syscall */
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

static void count_closed_since(uint64_t t0, uint64_t now)
{
	struct cw_pl_counts *c = cw_counts;
	uint64_t d = now > t0 ? now - t0 : 0;
	unsigned int i;

	for (i = 0; i < CW_DURATION_BUCKETS - 1; i++)
		if (d <= duration_bounds[i])
			break;
	__atomic_fetch_add(&c->duration_buckets[i], 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&c->duration_sum_ns, d, __ATOMIC_RELAXED);
	/* release: a reader that sees this close also sees its open */
	__atomic_fetch_add(&c->closed, 1, __ATOMIC_RELEASE);
}

/* after an exchange that took fd_state[fd] away from FD_OPEN (acquire) */
static void count_closed(int fd, uint64_t now)
{
	count_closed_since(__atomic_load_n(&fd_open_ns[fd], __ATOMIC_RELAXED),
			   now);
}

static uint64_t open_now(void)
{
	uint64_t closed = __atomic_load_n(&cw_counts->closed, __ATOMIC_ACQUIRE);
	uint64_t opened = __atomic_load_n(&cw_counts->opened, __ATOMIC_ACQUIRE);

	return opened > closed ? opened - closed : 0;
}

static __attribute__((noinline, cold)) void report_double(int fd, int err)
{
	int saved = errno;

	report_double_close(fd, err, open_now());
	errno = saved;
}

/* ---- tracking ---- */

static __attribute__((cold)) void track_high_fd(void)
{
	report_blind(CW_PL_BLIND_HIGH_FD, "a socket accepted on an fd above "
		     "65535: its close is not seen");
}

static __attribute__((cold)) void track_unseen_close(void)
{
	report_blind(CW_PL_BLIND_UNSEEN_CLOSE, "an accepted socket was closed "
		     "without close() (a raw system call?): closes are missed");
}

static void track_accepted(int fd)
{
	int saved = errno;
	uint64_t now = now_ns();

	report_page();
	__atomic_fetch_add(&cw_counts->opened, 1, __ATOMIC_RELAXED);
	if ((unsigned int)fd < CW_PL_TABLE_FDS) {
		uint64_t old_ns = __atomic_load_n(&fd_open_ns[fd],
						  __ATOMIC_RELAXED);
		int high = atomic_load_explicit(&fd_high, memory_order_relaxed);
		uint8_t prev;

		__atomic_store_n(&fd_open_ns[fd], now, __ATOMIC_RELAXED);
		prev = atomic_exchange_explicit(&fd_state[fd], FD_OPEN,
						memory_order_acq_rel);
		if (unlikely(prev == FD_OPEN)) {
			/*
			 * Its close went by unseen (raw syscall, fclose of
			 * an fdopen()ed socket): it is closed now, count it
			 * with the duration we can bound.
			 */
			count_closed_since(old_ns, now);
			track_unseen_close();
		}
		while (fd > high &&
		       !atomic_compare_exchange_weak_explicit(
			       &fd_high, &high, fd, memory_order_relaxed,
			       memory_order_relaxed))
			;
	} else {
		track_high_fd();
	}
	report_start(now);
	errno = saved;
}

/* an accepted fd replaced by dup2/dup3: closed, then another file */
static void track_replaced(int fd)
{
	int saved = errno;
	uint8_t prev;

	if ((unsigned int)fd >= CW_PL_TABLE_FDS ||
	    atomic_load_explicit(&fd_state[fd], memory_order_relaxed) ==
		    FD_UNKNOWN)
		return;
	prev = atomic_exchange_explicit(&fd_state[fd], FD_UNKNOWN,
					memory_order_acq_rel);
	if (prev == FD_OPEN)
		count_closed(fd, now_ns());
	errno = saved;
}

/* close_range/closefrom: the open accepted fds of [first, last] closed */
static void track_range_closed(unsigned int first, unsigned int last)
{
	int high = atomic_load(&fd_high);
	uint64_t now = 0;
	int saved = errno;

	if (high < 0 || first > (unsigned int)high)
		return;
	if (last > (unsigned int)high)
		last = (unsigned int)high;
	for (unsigned int fd = first; fd <= last; fd++) {
		uint8_t st = atomic_load_explicit(&fd_state[fd],
						  memory_order_relaxed);

		if (st != FD_OPEN && st != FD_INHERITED)
			continue;
		if (atomic_exchange_explicit(&fd_state[fd], FD_CLOSED,
					     memory_order_acq_rel) != FD_OPEN)
			continue;
		if (!now)
			now = now_ns();
		count_closed((int)fd, now);
		__atomic_fetch_add(&cw_counts->range_closed, 1,
				   __ATOMIC_RELAXED);
	}
	errno = saved;
}

static __attribute__((noinline)) int close_tracked(int fd)
{
	uint8_t prev;
	int r, err;

	/* before the real close: a later accept of this number wins */
	prev = atomic_exchange_explicit(&fd_state[fd], FD_CLOSED,
					memory_order_acq_rel);
	if (prev == FD_OPEN)
		count_closed(fd, now_ns());
	r = do_real_close(fd);
	err = errno;
	if (r < 0 && err == EBADF && prev != FD_UNKNOWN) {
		report_double(fd, err);
	} else if ((r == 0 && prev == FD_CLOSED) || prev == FD_UNKNOWN) {
		/* a number reused by open()/socket()/dup: not ours to judge */
		uint8_t expected = FD_CLOSED;

		atomic_compare_exchange_strong(&fd_state[fd], &expected,
					       FD_UNKNOWN);
	}
	errno = err;
	return r;
}

/* ---- the interposed functions ---- */

CW_EXPORT int close(int fd)
{
	if (unlikely(report_owns_fd(fd))) {
		errno = EBADF;	/* not an fd of the application */
		return -1;
	}
	if (likely((unsigned int)fd < CW_PL_TABLE_FDS) &&
	    unlikely(atomic_load_explicit(&fd_state[fd],
					  memory_order_relaxed) != FD_UNKNOWN))
		return close_tracked(fd);
	return do_real_close(fd);
}

CW_EXPORT int accept(int fd, __SOCKADDR_ARG addr, socklen_t *__restrict len)
{
	accept_fn fn = REAL(accept);
	int r = fn ? fn(fd, addr, len) :
		     (int)raw_syscall(SYS_accept4, fd,
				      (long)addr.__sockaddr__, (long)len, 0, 0,
				      0);

	if (r >= 0)
		track_accepted(r);
	return r;
}

CW_EXPORT int accept4(int fd, __SOCKADDR_ARG addr, socklen_t *__restrict len,
		      int flags)
{
	accept4_fn fn = REAL(accept4);
	int r = fn ? fn(fd, addr, len, flags) :
		     (int)raw_syscall(SYS_accept4, fd,
				      (long)addr.__sockaddr__, (long)len, flags,
				      0, 0);

	if (r >= 0)
		track_accepted(r);
	return r;
}

/*
 * The dup2/dup3 onto one of the shim's fds failed: the shim let go of it
 * already, the thread makes a new one; this one would only leak.
 */
static void drop_released(int fd)
{
	int saved = errno;

	raw_syscall(SYS_close, fd, 0, 0, 0, 0, 0);
	errno = saved;
}

CW_EXPORT int dup2(int oldfd, int newfd)
{
	dup2_fn fn = REAL(dup2);
	bool released = oldfd != newfd && report_release_fd(newfd);
	int r = fn ? fn(oldfd, newfd) :
		     (int)raw_syscall(SYS_dup2, oldfd, newfd, 0, 0, 0, 0);

	if (r >= 0 && oldfd != newfd)
		track_replaced(newfd);
	else if (unlikely(r < 0 && released))
		drop_released(newfd);
	return r;
}

CW_EXPORT int dup3(int oldfd, int newfd, int flags)
{
	dup3_fn fn = REAL(dup3);
	bool released = oldfd != newfd && report_release_fd(newfd);
	int r = fn ? fn(oldfd, newfd, flags) :
		     (int)raw_syscall(SYS_dup3, oldfd, newfd, flags, 0, 0, 0);

	if (r >= 0)
		track_replaced(newfd);
	else if (unlikely(released))
		drop_released(newfd);
	return r;
}

static int close_range_call(unsigned int first, unsigned int last, int flags)
{
	close_range_fn fn = REAL(close_range);

	return fn ? fn(first, last, flags) :
		    (int)raw_syscall(SYS_close_range, first, last, flags, 0, 0,
				     0);
}

/* close_range over [first, last] except the shim's own fds */
static int close_range_around(unsigned int first, unsigned int last,
			      int flags)
{
	int own[2], r = 0;

	report_own_fds(own);
	for (int i = 0; i < 2 && r == 0; i++) {
		unsigned int fd = (unsigned int)own[i];

		if (own[i] < 0 || fd < first || fd > last)
			continue;
		if (fd > first)
			r = close_range_call(first, fd - 1, flags);
		if (fd == last)
			return r;
		first = fd + 1;
	}
	return r ? r : close_range_call(first, last, flags);
}

CW_EXPORT int close_range(unsigned int first, unsigned int last, int flags)
{
	const unsigned int known = CLOSE_RANGE_UNSHARE | CLOSE_RANGE_CLOEXEC;

	/* CLOEXEC closes nothing now; bad arguments fail in the kernel */
	if ((flags & CLOSE_RANGE_CLOEXEC) || ((unsigned int)flags & ~known) ||
	    first > last)
		return close_range_call(first, last, flags);
	track_range_closed(first, last);
	return close_range_around(first, last, flags);
}

/*
 * glibc's closefrom() calls the close_range system call itself, which no
 * close_range() wrapper sees: it would close the shim's own fds too.
 */
CW_EXPORT void closefrom(int lowfd)
{
	closefrom_fn fn;
	int saved = errno;

	if (lowfd < 0)
		lowfd = 0;
	track_range_closed((unsigned int)lowfd, ~0u);
	if (close_range_around((unsigned int)lowfd, ~0u, 0) == 0) {
		errno = saved;
		return;
	}
	/* no close_range (old kernel): glibc's own way; the thread remakes
	 * what it closes of ours */
	fn = REAL(closefrom);
	if (fn)
		fn(lowfd);
	errno = saved;
}

/*
 * syscall(SYS_close, fd) and the like: the same wrappers, so a program
 * that bypasses libc's wrappers through syscall() is still seen. Any
 * other number goes to the real syscall() untouched.
 */
CW_EXPORT long syscall(long nr, ...)
{
	syscall_fn fn = REAL(syscall);
	long a[6];
	va_list ap;

	va_start(ap, nr);
	for (int i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);
	switch (nr) {
	case SYS_close:
		return close((int)a[0]);
	case SYS_accept:
		return accept((int)a[0], (struct sockaddr *)a[1],
			      (socklen_t *)a[2]);
	case SYS_accept4:
		return accept4((int)a[0], (struct sockaddr *)a[1],
			       (socklen_t *)a[2], (int)a[3]);
	case SYS_dup2:
		return dup2((int)a[0], (int)a[1]);
	case SYS_dup3:
		return dup3((int)a[0], (int)a[1], (int)a[2]);
	case SYS_close_range:
		return close_range((unsigned int)a[0], (unsigned int)a[1],
				   (int)a[2]);
	}
	if (fn)
		return fn(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
	return raw_syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}

/* ELF file: whether it asks for a dynamic loader (a PT_INTERP segment). */
static bool elf_file_is_static(const char *path)
{
	Elf64_Ehdr eh;
	Elf64_Phdr ph;
	bool is_static = false;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return false;
	if (pread(fd, &eh, sizeof(eh), 0) != sizeof(eh) ||
	    memcmp(eh.e_ident, ELFMAG, SELFMAG) ||
	    eh.e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh.e_phentsize != sizeof(ph))
		goto out;
	is_static = true;
	for (unsigned int i = 0; i < eh.e_phnum && i < 256; i++) {
		if (pread(fd, &ph, sizeof(ph),
			  (off_t)(eh.e_phoff + i * sizeof(ph))) != sizeof(ph) ||
		    ph.p_type == PT_INTERP) {
			is_static = false;
			break;
		}
	}
out:
	do_real_close(fd);
	return is_static;
}

/*
 * A wrapper script that execs a static binary takes the shim out of the
 * process: say so before it happens (execve itself is never changed).
 */
CW_EXPORT int execve(const char *path, char *const argv[], char *const envp[])
{
	execve_fn fn = REAL(execve);

	if (cw_report_enabled && elf_file_is_static(path))
		report_blind(CW_PL_BLIND_STATIC_EXEC, "execs a statically "
			     "linked program: the shim cannot follow it");
	if (fn)
		return fn(path, argv, envp);
	return (int)raw_syscall(SYS_execve, (long)path, (long)argv,
				(long)envp, 0, 0, 0);
}

/* ---- fork, constructor, destructor ---- */

static void atfork_child(void)
{
	int high = atomic_load(&fd_high);
	int saved = errno;

	/* one thread left */
	for (int fd = 0; fd <= high; fd++) {
		uint8_t st = atomic_load_explicit(&fd_state[fd],
						  memory_order_relaxed);

		if (st != FD_UNKNOWN)
			atomic_store_explicit(&fd_state[fd],
					      st == FD_OPEN || st == FD_INHERITED ?
					      FD_INHERITED : FD_UNKNOWN,
					      memory_order_relaxed);
	}
	report_atfork_child();
	errno = saved;
}

/* The Go linker's build ID note, in the main program's PT_NOTE segments. */
static int find_go_note(struct dl_phdr_info *info, size_t size, void *data)
{
	bool *is_go = data;

	(void)size;
	for (int i = 0; i < info->dlpi_phnum && !*is_go; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		const char *p = (const char *)(info->dlpi_addr + ph->p_vaddr);
		const char *end = p + ph->p_memsz;

		if (ph->p_type != PT_NOTE)
			continue;
		while (!*is_go && p + sizeof(ElfW(Nhdr)) <= end) {
			const ElfW(Nhdr) *n = (const ElfW(Nhdr) *)p;
			size_t name = (n->n_namesz + 3) & ~3u;
			size_t desc = (n->n_descsz + 3) & ~3u;

			/* "Go\0", namesz 3 or 4 by linker */
			*is_go = n->n_type == NT_GO_BUILDID &&
				 (n->n_namesz == 3 || n->n_namesz == 4) &&
				 !memcmp(p + sizeof(*n), "Go", 3);
			p += sizeof(*n) + name + desc;
		}
	}
	return 1;	/* the first object is the main program */
}

static void cw_atexit(void)
{
	report_exit();
}

__attribute__((constructor)) static void cw_init(void)
{
	bool is_go = false;
	int saved = errno;

	resolve_real();
	pthread_atfork(NULL, NULL, atfork_child);
	report_init();
	if (!cw_report_enabled)
		goto out;
	atexit(cw_atexit);
	dl_iterate_phdr(find_go_note, &is_go);
	if (is_go)
		report_blind(CW_PL_BLIND_GO, "a Go program: its runtime makes "
			     "system calls itself, none of its sockets is seen");
out:
	errno = saved;
}

__attribute__((destructor)) static void cw_fini(void)
{
	report_exit();
}
