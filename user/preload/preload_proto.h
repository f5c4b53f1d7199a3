/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * How the LD_PRELOAD shim reports to the collecting connwatch.
 *
 * Counts: a page of shared memory per process (struct cw_pl_counts in a
 * sealed memfd). The shim's hot path adds to it with atomic increments;
 * the collector maps the same page read-only and reads it at each
 * scrape, so a count can never be lost, late or dropped, not even when
 * the process is killed (the page outlives it while mapped).
 *
 * Records: a SOCK_SEQPACKET connection, made in the constructor while
 * still privileged and kept by fork children (which may drop privileges:
 * nginx's workers do). A process' first message on it is a hello (a
 * header alone) carrying the memfd (SCM_RIGHTS), sent by a fork child
 * only once it has something to report; then one struct
 * cw_pl_double_close per double close, put in an in-process ring by the
 * application thread, which sends what the socket takes without
 * waiting; the shim's thread sends the rest with flow control (a full
 * socket waits, the ring absorbs the burst; a full ring folds records
 * into the next one's count). The collector knows each
 * message's sender from the kernel (SCM_CREDENTIALS), refuses a message
 * that claims another pid, and sees the process die (pidfd).
 */
#ifndef CW_PRELOAD_PROTO_H
#define CW_PRELOAD_PROTO_H

#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#define CW_PL_MAGIC		0x32505743u	/* "CWP2" little endian */
#define CW_PL_SOCKET_ENV	"CONNWATCH_PRELOAD_SOCKET"
#define CW_PL_MAX_FRAMES	16
#define CW_PL_DURATION_BUCKETS	11	/* == CW_DURATION_BUCKETS */
#define CW_PL_COUNTS_SIZE	4096	/* the memfd: one page */

enum cw_pl_type {
	CW_PL_HELLO = 1,	/* first message; the memfd rides with it */
	CW_PL_DOUBLE_CLOSE,	/* close() of an accepted socket already closed */
};

/* Why the shim cannot see (a bit each in cw_pl_counts.blind). */
enum cw_pl_blind {
	CW_PL_BLIND_GO,			/* a Go program: raw syscalls */
	CW_PL_BLIND_STATIC_EXEC,	/* exec'd a static binary */
	CW_PL_BLIND_UNSEEN_CLOSE,	/* an accepted fd closed behind it */
	CW_PL_BLIND_HIGH_FD,		/* accepted past its fd table */
	CW_PL_BLIND_CHANNEL,		/* report socket lost, not recovered */
	CW_PL_BLIND__COUNT,
};

struct cw_pl_header {
	uint32_t magic;
	uint16_t type;		/* enum cw_pl_type */
	uint16_t size;		/* of the whole message */
	uint32_t pid;		/* getpid() of the sender, after any fork */
	uint32_t tid;
};

/*
 * The shared page. Written by the shim only; every field is a plain
 * counter or flag the collector copies and bounds, never an index or a
 * length. opened and closed live on lines of their own (two threads).
 */
struct cw_pl_counts {
	uint64_t opened;	/* accept/accept4 that returned a socket */
	char pad0[56];
	uint64_t closed;	/* accepted sockets closed (close, dup2/3,
				 * close_range, closefrom) */
	uint64_t duration_sum_ns;
	uint64_t duration_buckets[CW_PL_DURATION_BUCKETS];	/* not cumulative */
	uint64_t double_closes;
	uint64_t range_closed;	/* of closed: by close_range/closefrom */
	uint64_t folded;	/* records folded (ring full), carried later */
	uint64_t dropped;	/* records no collector took (it was down) */
	uint64_t channel_lost;	/* report socket found closed, remade */
	uint32_t blind;		/* 1 << enum cw_pl_blind */
	uint32_t exiting;	/* atexit ran: the process is exiting */
	uint32_t forked_from;	/* a fork child (no exec since): its parent's
				 * pid, whose mappings it has; else 0 */
	uint32_t pad1;
	char comm[16];
	/* double closes whose record (or folded count) a socket took: with
	 * dropped, behind double_closes while the shim holds records (its
	 * socket full), so a stopping collector waits for them */
	uint64_t handed;
};

/*
 * A double close. close_errno 0: not a close of its own but a flush of
 * folded ones (ring full): fd and comm are the last one's, no stack, and
 * folded counts those before it.
 */
struct cw_pl_double_close {
	struct cw_pl_header h;
	int32_t fd;
	int32_t close_errno;	/* EBADF: the fd was already closed */
	uint64_t open;		/* accepted sockets open at the time */
	uint32_t nr_frames;
	uint32_t folded;	/* double closes folded into this one */
	uint64_t stack[CW_PL_MAX_FRAMES];	/* return addresses, innermost first */
	char comm[16];
};

/* Room for the hello's one fd. */
union cw_pl_fd_ctl {
	char buf[CMSG_SPACE(sizeof(int))];
	struct cmsghdr align;
};

/*
 * The hello from pid: h filled, and msg made to send it, with fd (the
 * page) riding along when >= 0.
 */
static inline void cw_pl_hello_msg(struct msghdr *msg, struct iovec *iov,
				   struct cw_pl_header *h,
				   union cw_pl_fd_ctl *ctl, uint32_t pid,
				   uint32_t tid, int fd)
{
	struct cmsghdr *c;

	*h = (struct cw_pl_header){ .magic = CW_PL_MAGIC, .type = CW_PL_HELLO,
				    .size = sizeof(*h), .pid = pid,
				    .tid = tid };
	*iov = (struct iovec){ .iov_base = h, .iov_len = sizeof(*h) };
	*msg = (struct msghdr){ .msg_iov = iov, .msg_iovlen = 1 };
	if (fd < 0)
		return;
	memset(ctl, 0, sizeof(*ctl));
	msg->msg_control = ctl->buf;
	msg->msg_controllen = sizeof(ctl->buf);
	c = CMSG_FIRSTHDR(msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
}

#endif
