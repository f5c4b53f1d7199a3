/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The watching daemon: session, alert state and the event loop. */
#ifndef CW_DAEMON_H
#define CW_DAEMON_H

#include <pthread.h>
#include <signal.h>
#include "alert_push.h"
#include "alert_sinks.h"
#include "attach.h"
#include "preload_collector.h"
#include "sock_sweep.h"
#include "spawn.h"
#include "symbolize.h"

struct proc_state {
	pid_t pid;
	int up;
	int status;		/* wait status once down */
	uint64_t start;		/* clock ticks since boot it started at, 0
				 * unknown: a pid given again is another one */
	uint64_t down_ns;	/* CLOCK_MONOTONIC when seen down */
};

/* accounting_drift is judged in user space: it needs time, not hits. */
struct drift_state {
	struct cw_acct_key key;
	uint64_t since_ns;	/* first scan that saw the disagreement */
	int reported;
};

#define CW_MAX_DRIFT 256
#define CW_RECENT_ALERTS 8

struct cw_daemon {
	struct cw_session sess;
	struct symbolizer sym;
	struct alert_sinks sinks;
	struct alert_push push;	/* Alertmanager, hook: after the log */
	int duration_s;		/* 0: until SIGINT/SIGTERM */
	int exited_grace_s;	/* an exited process' series stay this long */
	pthread_mutex_t lock;	/* procs, read by the metrics thread */
	struct proc_state *procs;	/* watched, and exited in their grace */
	int nr_procs, cap_procs;
	/* per target and kind, the anomalies judged in user space
	 * (accounting_drift); the kernel counts the rest (anomaly_counts.c).
	 * Written by the loop, read by /metrics */
	unsigned long anomalies[CW_MAX_TARGET_SPECS][CW_ANOM__COUNT];
	struct drift_state drift[CW_MAX_DRIFT];
	int nr_drift;
	int worst_severity;	/* 0 none, 1 warning, 2 critical */
	struct spawn *child;	/* `run`: the loop ends when it exits */
	int preload_fd;		/* LD_PRELOAD shim reports (epoll), or -1 */
	int preload_listen_fd;
	int preload_conns[CW_MAX_TARGETS];	/* shims' connections, or -1 */
	struct preload_proc preload[CW_MAX_TARGETS];	/* under lock */
	int nr_preload;
	int preload_by_binary;	/* collect, no --target: each its binary's */
	unsigned long preload_refused[PL_REFUSED__COUNT];	/* atomic */
	int shim_loaded;	/* `run --preload`: the shim is in the command */
	struct sock_sweep sweep;	/* sockets preset: what no event shows */
	struct metrics_server *server;	/* /metrics */
	int live_summary;	/* a terminal: redraw a summary each second */
	char recent[CW_RECENT_ALERTS][160];	/* for the summary */
	unsigned long nr_alerts;
	uint64_t full_said[CW_TABLE__COUNT];	/* table_full last said */
	int unknown_said;	/* keys not in the detection table: said */
	char caps[128];		/* kept after attach; set before /metrics serves */
};

struct metrics_server;

extern volatile sig_atomic_t cw_stop;

/* Records a process as watched (up); start as in proc_state, 0 unknown. */
void daemon_proc_seen(struct cw_daemon *d, pid_t pid, uint64_t start);
/* Records a process as gone; status is a wait status, or -1 unknown.
 * Its series stay for exited_grace_s, then fold (proc_tables.c). */
void daemon_proc_down(struct cw_daemon *d, pid_t pid, uint64_t start,
		      const char *comm, int status);
/* The process table's entry of pid, or NULL. Under d->lock. */
struct proc_state *daemon_proc_find(struct cw_daemon *d, pid_t pid);
/* CLOCK_MONOTONIC in ns: bpf_ktime_get_ns()'s clock. */
uint64_t daemon_now_ns(void);
/* Polls the ring buffer and the clock until stopped. 0 or -1 + err. */
int daemon_run(struct cw_daemon *d, char *err, size_t errlen);

#endif
