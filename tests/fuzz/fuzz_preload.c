// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The LD_PRELOAD shim's reports as the collector receives them
 * (preload_collector.c): any datagram, sent on a socket pair to
 * preload_receive(). Any process the shim is loaded in can send one.
 * The daemon's side is stubbed here and checks what it is handed.
 */
#include <string.h>
#include <sys/socket.h>
#include "../../user/daemon.h"
#include "fuzz.h"

static struct cw_daemon *d;
static int peer;
static size_t sent;	/* the datagram being received */

void daemon_proc_seen(struct cw_daemon *dm, pid_t pid)
{
	(void)dm;
	(void)pid;
}

/* The real one prints comm with %.16s: it need not be terminated. */
void daemon_proc_down(struct cw_daemon *dm, pid_t pid, const char *comm,
		      int status)
{
	(void)dm;
	(void)pid;
	fuzz_check(strnlen(comm, CW_COMM_LEN) <= CW_COMM_LEN && status == -1,
		   "status %d", status);
	fuzz_check(sent == sizeof(struct cw_pl_snapshot), "a snapshot of %zu",
		   sent);
}

void anomaly_report(struct cw_daemon *dm, const struct cw_record *r)
{
	fuzz_check(sent == sizeof(struct cw_pl_double_close),
		   "a double close of %zu", sent);
	fuzz_check(r->nr_frames <= CW_PL_MAX_FRAMES, "%u frames", r->nr_frames);
	fuzz_check(r->kind == CW_ANOM_DOUBLE_CLOSE_FD &&
		   r->slot == CW_SLOT_SOCKETS &&
		   r->target_id == (uint32_t)dm->sess.sockets_target,
		   "kind %u slot %u target %u", r->kind, r->slot, r->target_id);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	int fds[2];

	(void)argc;
	(void)argv;
	d = calloc(1, sizeof(*d));
	fuzz_check(d && !socketpair(AF_UNIX, SOCK_DGRAM, 0, fds), "setup");
	pthread_mutex_init(&d->lock, NULL);
	d->preload_fd = fds[0];
	peer = fds[1];
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int i;

	if (!size || size > 4096)
		return 0;	/* the collector reads one union's worth */
	d->nr_preload = 0;
	sent = size;
	fuzz_check(send(peer, data, size, 0) == (ssize_t)size, "send");
	preload_receive(d);
	/* A double-close report makes a slot before any snapshot (its
	 * count is credited there); a snapshot is kept under its own pid. */
	for (i = 0; i < d->nr_preload; i++)
		fuzz_check(!d->preload[i].snap.h.magic ||
			   d->preload[i].pid == (int)d->preload[i].snap.h.pid,
			   "snapshot kept under pid %d", d->preload[i].pid);
	return 0;
}
