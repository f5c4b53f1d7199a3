/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What the LD_PRELOAD shim sends to the collecting connwatch over a unix
 * datagram socket. The shim aggregates in the process (atomic counters,
 * no locks, no syscalls on the hot path) and a sender thread sends a
 * cumulative snapshot every CW_PL_PERIOD_MS: a lost datagram loses
 * nothing but freshness. Rare anomalies are sent at once, the first
 * CW_PL_RATE_REPORTS of a process per CW_PL_RATE_WINDOW_MS; the others
 * are folded into the next report's count (or a flush once the window
 * is over), so a storm cannot fill the datagram queue. The snapshot's
 * double_closes counts every one.
 */
#ifndef CW_PRELOAD_PROTO_H
#define CW_PRELOAD_PROTO_H

#include <stdint.h>

#define CW_PL_MAGIC		0x31505743u	/* "CWP1" little endian */
#define CW_PL_SOCKET_ENV	"CONNWATCH_PRELOAD_SOCKET"
#define CW_PL_PERIOD_MS		100
#define CW_PL_MAX_FRAMES	16
#define CW_PL_DURATION_BUCKETS	11	/* == CW_DURATION_BUCKETS */
#define CW_PL_RATE_REPORTS	10	/* == CW_RATE_RECORDS */
#define CW_PL_RATE_WINDOW_MS	10000

enum cw_pl_type {
	CW_PL_SNAPSHOT = 1,	/* cumulative counts of one process */
	CW_PL_DOUBLE_CLOSE,	/* close() of an accepted socket already closed */
};

struct cw_pl_header {
	uint32_t magic;
	uint16_t type;		/* enum cw_pl_type */
	uint16_t size;		/* of the whole datagram */
	uint32_t pid;		/* getpid() of the sender, after any fork */
	uint32_t tid;
};

struct cw_pl_snapshot {
	struct cw_pl_header h;
	uint64_t opened;	/* accept/accept4 that returned a socket */
	uint64_t closed;	/* accepted sockets closed (close, dup2/3, close_range) */
	uint64_t double_closes;
	uint64_t dropped;	/* datagrams the shim could not send */
	uint64_t duration_buckets[CW_PL_DURATION_BUCKETS];	/* not cumulative */
	uint64_t duration_sum_ns;
	uint32_t exiting;	/* last snapshot: the process is exiting */
	uint32_t pad;
	char comm[16];
};

/*
 * A double close. close_errno 0: not a close of its own but a flush of
 * folded ones once the window is over: fd and comm are the last one's,
 * no stack, and folded counts those before it.
 */
struct cw_pl_double_close {
	struct cw_pl_header h;
	int32_t fd;
	int32_t close_errno;	/* EBADF: the fd was already closed */
	uint64_t open;		/* accepted sockets open at the time */
	uint32_t nr_frames;
	uint32_t folded;	/* double closes not reported one by one since
				 * the last report (0 from an older shim) */
	uint64_t stack[CW_PL_MAX_FRAMES];	/* return addresses, innermost first */
	char comm[16];
};

#endif
