/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Least privilege: the capabilities kept once every probe is attached. */
#ifndef CW_PRIVS_H
#define CW_PRIVS_H

#include <stddef.h>
#include <stdint.h>
#include <linux/capability.h>

#define CW_CAP(c) (1ull << (c))

/*
 * What a watching connwatch still uses after attach (measured: README,
 * "Privileges"): its symbolizer reads /proc/PID/maps and opens mapped
 * files through /proc/PID/root of processes with more capabilities than
 * it has left (CAP_SYS_PTRACE; the sockets sweep's /proc/PID/task/TID/fd
 * too), and binaries only their owner may read (CAP_DAC_READ_SEARCH).
 * Reading the maps, the ring buffer and closing the links need nothing:
 * the file descriptors are held.
 */
#define CW_CAPS_WATCH (CW_CAP(CAP_SYS_PTRACE) | CW_CAP(CAP_DAC_READ_SEARCH))
/* `run` also signals its command, which may have changed its user. */
#define CW_CAPS_RUN (CW_CAPS_WATCH | CW_CAP(CAP_KILL))
/* Attaching (the --config supervisor keeps it for the children it starts). */
#define CW_CAPS_ATTACH (CW_CAPS_WATCH | CW_CAP(CAP_SYS_ADMIN) | \
			CW_CAP(CAP_BPF) | CW_CAP(CAP_PERFMON))

/* Kept: effective and permitted. For children: permitted, inheritable
 * and ambient (the programs this one execs get them), none effective. */
enum privs_use { PRIVS_SELF, PRIVS_CHILDREN };

/*
 * Keeps only keep (of what the process has), for use, and drops every
 * other capability for good: permitted, inheritable, ambient, the
 * bounding set (with CAP_SETPCAP), and no_new_privs so that nothing it
 * execs (--on-alert hooks) gains any. *kept: what is left. 0, or -1 + err.
 */
int privs_drop(uint64_t keep, enum privs_use use, uint64_t *kept,
	       char *err, size_t errlen);
/* "cap_dac_read_search,cap_sys_ptrace", or "none". */
void privs_name(uint64_t caps, char *buf, size_t len);

#endif
