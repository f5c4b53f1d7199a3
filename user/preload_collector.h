/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The daemon's end of the LD_PRELOAD shim (preload/preload_proto.h): a
 * SOCK_SEQPACKET socket (a connection per process, shared with the fork
 * children it did not make its own), a shared page of counts and a pidfd
 * per process.
 */
#ifndef CW_PRELOAD_COLLECTOR_H
#define CW_PRELOAD_COLLECTOR_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include "attach.h"
#include "preload/preload_proto.h"

struct cw_daemon;

/* Reports refused, by reason (connwatch_preload_refused_total). */
enum preload_refusal {
	PL_REFUSED_PID,		/* claims another pid than its sender's */
	PL_REFUSED_MALFORMED,	/* size, magic, type or order wrong */
	PL_REFUSED_COUNTS,	/* the fd sent is not a sealed page */
	PL_REFUSED_FULL,	/* no slot left for another process */
	PL_REFUSED__COUNT,
};

/* One process running with the shim. Under the daemon's lock. */
struct preload_proc {
	int pid;		/* the kernel's word (SCM_CREDENTIALS); 0: free */
	int claim_pid;		/* what it may call itself: pid, or its pid
				 * in its own pid namespace (a container) */
	int ppid;		/* its parent when it said hello */
	int pidfd;		/* -1 once it died */
	int hello;		/* its hello came: records are taken */
	int seen;		/* told the daemon (it tracked something) */
	char target[CW_NAME_MAX];	/* collect: its binary's name, set before
					 * seen, then kept; "": the session's */
	uint32_t blind_told;	/* the blind reasons already logged */
	const struct cw_pl_counts *page;	/* its live counts, read-only */
	ino_t page_ino;
	struct cw_pl_counts final;	/* the counts when it died */
	/* double closes its records stood for (each one and its folded):
	 * ahead of the page's until its count catches up */
	uint64_t reported;
	uint64_t closed_by_exit;	/* open when it died */
	/* Its records, rate-limited as the kernel's are (connwatch.h):
	 * the first CW_RATE_RECORDS of a window go to the log, the others
	 * fold into the next one, or into a flush once the window is over. */
	struct {
		uint64_t window_ns, sent;
		uint64_t folded, fold_ns;	/* events without a record */
		struct cw_record last;		/* the last of them */
	} rate;
};

/* The counts of one process, bounded (closed <= opened), exit included. */
struct preload_counts {
	uint64_t opened, closed, closed_by_exit, double_closes, dropped;
	uint64_t channel_lost;	/* its socket found closed under it, remade */
	uint64_t duration_sum_ns;
	uint64_t duration_buckets[CW_PL_DURATION_BUCKETS];
	uint32_t blind;
};

/*
 * Binds path (mode 0600, parent directory created 0700) and sets
 * d->preload_fd, what the daemon polls. 0, or -1 + err.
 */
int preload_listen(struct cw_daemon *d, const char *path, char *err,
		   size_t errlen);
/* Takes every connection, message and exit waiting. */
void preload_receive(struct cw_daemon *d);
/* Closes every connection and page, and the socket (not its path). */
void preload_close_all(struct cw_daemon *d);
/*
 * collect without --target: the target pid's series are named by (its
 * binary's name), or NULL (the session's). Under d->lock, or on the
 * loop's thread (the only writer).
 */
const char *preload_target_of(const struct cw_daemon *d, unsigned pid);
/* Under d->lock: p's counts now. */
void preload_read(const struct preload_proc *p, struct preload_counts *c);
/* Its own series (blind, channel lost, refused; closed by exit is in
 * the socket rows); takes d->lock. */
void preload_write_metrics(FILE *f, struct cw_daemon *d);

#endif
