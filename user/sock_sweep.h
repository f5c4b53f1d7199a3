/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The sockets preset's reconciliation: accepted sockets that went with
 * no event the kernel side follows (their process ended; an exec closed
 * them; close_range with flags) are found in the fd tables and counted
 * closed, by exit or by the sweep.
 */
#ifndef CW_SOCK_SWEEP_H
#define CW_SOCK_SWEEP_H

#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>

#define CW_SOCK_SWEEP_INTERVAL_NS	2000000000ull

/*
 * The sweep runs in a thread of its own: a server with many connections
 * takes many readlinks, and the daemon's loop must go on reading alerts.
 */
struct sock_sweep {
	pthread_t thread;
	int started;
	pthread_mutex_t lock;	/* stopping, with wake */
	pthread_cond_t wake;
	int stopping;
	uint64_t done_start_ns;	/* start of the last completed sweep,
				 * read by /metrics (atomic) */
	int blind;		/* an fd table was unreadable: said once */
};

struct cw_daemon;

/*
 * With the sockets preset (eBPF), starts sweeping: at once, then every
 * CW_SOCK_SWEEP_INTERVAL_NS, each accepted socket still open is looked
 * for in /proc/PID/fd; one that is not there, or whose number names
 * another file, is closed by the sweep (by exit if its process is gone
 * or a zombie). Without the preset, or if no thread can be had (said on
 * stderr), nothing.
 */
void sock_sweep_start(struct cw_daemon *d);
/* Stops the sweep and waits for it: before the BPF objects go. */
void sock_sweep_stop(struct cw_daemon *d);
/*
 * A watched process ended at end_ns (CLOCK_MONOTONIC): the sockets it
 * still held are closed by its exit, and its fds are forgotten.
 */
void sock_sweep_exited(struct cw_daemon *d, pid_t tgid, uint64_t end_ns);
/*
 * For /metrics: how far behind the counts may be on what no event shows,
 * in seconds: the time since the last completed sweep began (-1 before
 * the first one).
 */
double sock_sweep_lag_seconds(const struct cw_daemon *d, uint64_t now_ns);

#endif
