/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The daemon's end of the LD_PRELOAD shim: a unix datagram socket. */
#ifndef CW_PRELOAD_COLLECTOR_H
#define CW_PRELOAD_COLLECTOR_H

#include <stddef.h>
#include "preload/preload_proto.h"

struct cw_daemon;

/* The last snapshot of one process running with the shim. */
struct preload_proc {
	int pid;
	struct cw_pl_snapshot snap;
	/* double closes its reports stood for (each one and its folded):
	 * ahead of snap until the next snapshot comes */
	uint64_t reported;
};

/* Binds path (mode 0600, parent directory created 0700). fd or -1 + err. */
int preload_listen(const char *path, char *err, size_t errlen);
/* Reads every datagram waiting on d->preload_fd. */
void preload_receive(struct cw_daemon *d);

#endif
