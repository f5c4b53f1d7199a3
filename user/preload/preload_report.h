/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The shim's reporting (preload_report.c): the shared page of counts, the
 * connection to the collector, the ring of double-close records and the
 * thread that sends them. Private to user/preload/.
 */
#ifndef CW_PRELOAD_REPORT_H
#define CW_PRELOAD_REPORT_H

#include <stdbool.h>
#include <stdint.h>
#include "preload_proto.h"

/*
 * The counts the hot path adds to: the shared page once the constructor
 * made it, a private one before (or when no collector is configured).
 * Changes in the constructor, in a fork child (one thread) and once
 * after it, in report_page() before anything is counted.
 */
extern struct cw_pl_counts *cw_counts;

/* Whether CONNWATCH_PRELOAD_SOCKET named a collector. */
extern bool cw_report_enabled;

/* Constructor: read the variable, make the page and the connection. */
void report_init(void);
/* fork child: a page and a connection of its own, nothing pending. */
void report_atfork_child(void);
/* atexit/destructor: exiting flag, and what is queued sent (bounded). */
void report_exit(void);

/* 1 when fd is one of the shim's own (the socket, the memfd). */
bool report_owns_fd(int fd);
/*
 * The application is about to make fd another file (dup2/dup3 onto it):
 * the shim lets go of it if it is its own. Returns whether it was.
 */
bool report_release_fd(int fd);
/* The shim's own fds, ascending, -1 for none: what close_range skips. */
void report_own_fds(int out[2]);

/* Before the first count of this process: its page (once; see .c). */
void report_page(void);
/* The first accept (or double close) of this process: start the thread. */
void report_start(uint64_t now_ns);
/* A double close of fd (close_errno EBADF), with open sockets at the time. */
void report_double_close(int fd, int close_errno, uint64_t open);
/* Cannot see: the bit in the page, and one line on stderr (once). */
void report_blind(enum cw_pl_blind why, const char *what);

#endif
