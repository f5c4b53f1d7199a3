// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The LD_PRELOAD shim's reports as the collector receives them
 * (preload_collector.c), through its real socket: each input connects,
 * maybe says hello (with the first byte's flags: a sealed page of counts,
 * an unsealed one, the page filled with the input; the message's pid
 * made its own, as seeds cannot know it), sends the rest as
 * one message, and hangs up. Any process the shim is loaded in can do
 * all that. The daemon's side is stubbed here and checks what it is
 * handed.
 */
#include <fcntl.h>
#include <stddef.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include "../../user/daemon.h"
#include "fuzz.h"

enum {
	HELLO = 1,		/* a valid hello first */
	WITH_PAGE = 2,		/* ... carrying the sealed page */
	UNSEALED = 4,		/* ... carrying an unsealed memfd instead */
	FILL_PAGE = 8,		/* the input's bytes in the page's counts */
	OWN_PID = 16,		/* the message's pid made the sender's */
};

static struct cw_daemon *d;
static struct sockaddr_un addr = { .sun_family = AF_UNIX };
static int page_fd, unsealed_fd;
static uint8_t *page;
static size_t sent;	/* the message being received */

void daemon_proc_seen(struct cw_daemon *dm, pid_t pid, uint64_t start)
{
	(void)dm;
	fuzz_check(pid == getpid() && !start, "seen pid %d", pid);
}

void daemon_proc_down(struct cw_daemon *dm, pid_t pid, uint64_t start,
		      const char *comm, int status)
{
	(void)dm;
	(void)pid;
	(void)start;
	fuzz_check(strnlen(comm, CW_COMM_LEN) < CW_COMM_LEN && status == -1,
		   "status %d", status);
}

/* Time stands still: the rate limit's window never ends, so every
 * record reported is the double close just received. */
uint64_t daemon_now_ns(void)
{
	return 0;
}

void symbolizer_remember(struct symbolizer *z, pid_t pid)
{
	(void)z;
	fuzz_check(pid > 0, "remember %d", pid);
}

void symbolizer_remember_like(struct symbolizer *z, pid_t pid, pid_t like)
{
	(void)z;
	fuzz_check(pid == getpid() && like > 0, "like %d", like);
}

void anomaly_report(struct cw_daemon *dm, const struct cw_record *r)
{
	fuzz_check(sent == sizeof(struct cw_pl_double_close),
		   "a double close of %zu", sent);
	fuzz_check(r->tgid == (uint32_t)getpid(), "from pid %u", r->tgid);
	fuzz_check(r->nr_frames <= CW_PL_MAX_FRAMES, "%u frames", r->nr_frames);
	fuzz_check(r->kind == CW_ANOM_DOUBLE_CLOSE_FD &&
		   r->slot == CW_SLOT_SOCKETS &&
		   r->target_id == (uint32_t)dm->sess.sockets_target,
		   "kind %u slot %u target %u", r->kind, r->slot, r->target_id);
}

static int make_memfd(int seals)
{
	int fd = memfd_create("fuzz-page", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	fuzz_check(fd >= 0 && !ftruncate(fd, CW_PL_COUNTS_SIZE) &&
		   (!seals || !fcntl(fd, F_ADD_SEALS, seals)), "memfd");
	return fd;
}

static void cleanup(void)
{
	unlink(addr.sun_path);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char err[256];

	(void)argc;
	(void)argv;
	d = calloc(1, sizeof(*d));
	fuzz_check(d, "calloc");
	pthread_mutex_init(&d->lock, NULL);
	snprintf(addr.sun_path, sizeof(addr.sun_path),
		 "/tmp/fuzz_preload.%d.sock", getpid());
	unlink(addr.sun_path);
	fuzz_check(!preload_listen(d, addr.sun_path, err, sizeof(err)), "%s",
		   err);
	atexit(cleanup);
	page_fd = make_memfd(F_SEAL_SHRINK | F_SEAL_GROW);
	unsealed_fd = make_memfd(0);
	page = mmap(NULL, CW_PL_COUNTS_SIZE, PROT_READ | PROT_WRITE,
		    MAP_SHARED, page_fd, 0);
	fuzz_check(page != MAP_FAILED, "mmap");
	return 0;
}

static void send_hello(int sock, int fd)
{
	struct cw_pl_header h;
	union cw_pl_fd_ctl ctl;
	struct iovec iov;
	struct msghdr msg;

	cw_pl_hello_msg(&msg, &iov, &h, &ctl, (uint32_t)getpid(), 0, fd);
	sent = sizeof(h);
	fuzz_check(sendmsg(sock, &msg, 0) == sizeof(h), "hello");
}

/* Whatever the page said: the counts served are bounded. */
static void check_counts(void)
{
	for (int i = 0; i < d->nr_preload; i++) {
		struct preload_counts c;

		preload_read(&d->preload[i], &c);
		fuzz_check(c.closed <= c.opened && c.closed_by_exit <= c.closed &&
			   c.blind < (1u << CW_PL_BLIND__COUNT),
			   "opened %llu closed %llu by exit %llu blind %x",
			   (unsigned long long)c.opened,
			   (unsigned long long)c.closed,
			   (unsigned long long)c.closed_by_exit, c.blind);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint32_t pid = (uint32_t)getpid();
	uint8_t flags, msg[4096];
	int sock;

	if (!size || size > 4096)
		return 0;	/* the collector reads one union's worth */
	flags = data[0];
	memcpy(msg, data + 1, --size);
	if ((flags & OWN_PID) && size >= offsetof(struct cw_pl_header, tid))
		memcpy(msg + offsetof(struct cw_pl_header, pid), &pid,
		       sizeof(pid));
	memset(page, 0, CW_PL_COUNTS_SIZE);
	if (flags & FILL_PAGE)
		memcpy(page, msg, size);
	sock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	fuzz_check(sock >= 0 && !connect(sock, (struct sockaddr *)&addr,
					 sizeof(addr)), "connect");
	if (flags & HELLO)
		send_hello(sock, flags & UNSEALED ? unsealed_fd :
				 flags & WITH_PAGE ? page_fd : -1);
	preload_receive(d);
	sent = size;
	if (size)
		fuzz_check(send(sock, msg, size, 0) == (ssize_t)size, "send");
	preload_receive(d);
	check_counts();
	close(sock);
	preload_receive(d);
	check_counts();
	return 0;
}
