/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Least privilege: the capabilities kept once every probe is attached. */
#ifndef CW_PRIVS_H
#define CW_PRIVS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <linux/capability.h>

#define CW_CAP(c) (1ull << (c))

/*
 * What a connwatch that meets processes after attach still uses
 * (measured: README, "Privileges"): its symbolizer reads /proc/PID/maps
 * and opens mapped files through /proc/PID/root of processes with more
 * capabilities than it has left (CAP_SYS_PTRACE; the sockets sweep's
 * /proc/PID/task/TID/fd too), and files and /proc/PID/fd directories only
 * their owner may read (CAP_DAC_READ_SEARCH). One that watches a --pid
 * alone needs none: its maps file and mapped files are opened at attach
 * (symbolize.h). Reading the BPF maps, the ring buffer and closing the
 * links need nothing either: the file descriptors are held.
 */
#define CW_CAPS_WATCH (CW_CAP(CAP_SYS_PTRACE) | CW_CAP(CAP_DAC_READ_SEARCH))
/* `run` also signals its command, which may have changed its user. */
#define CW_CAPS_RUN (CW_CAPS_WATCH | CW_CAP(CAP_KILL))
/* Attaching (the --config supervisor keeps it for the children it starts). */
#define CW_CAPS_ATTACH (CW_CAPS_WATCH | CW_CAP(CAP_SYS_ADMIN) | \
			CW_CAP(CAP_BPF) | CW_CAP(CAP_PERFMON))
/* Becoming --user: handing it the pins (pin.h), the switch itself. The
 * --config supervisor keeps it for children that do. */
#define CW_CAPS_SWITCH_USER (CW_CAP(CAP_CHOWN) | CW_CAP(CAP_SETUID) | \
			     CW_CAP(CAP_SETGID))

/* --user NAME: who connwatch runs as once attached. */
struct privs_user {
	const char *name;	/* NULL: stays who it is */
	uid_t uid;
	gid_t gid;
};

/* Looks name up (the passwd database), and whether this connwatch may
 * become it. 0, or -1 with "no user 'NAME' on this system" (or what is
 * missing) in err. */
int privs_user_lookup(const char *name, struct privs_user *user,
		      char *err, size_t errlen);

/*
 * What is kept: own, used by this process (effective and permitted);
 * children, for the programs it execs (permitted, inheritable and
 * ambient, not effective).
 */
struct privs_keep {
	uint64_t own, children;
};

/*
 * Keeps only keep (of what the process has) and drops every other
 * capability for good: permitted, inheritable, ambient, the bounding set
 * (with CAP_SETPCAP), and no_new_privs so that nothing it execs
 * (--on-alert hooks) gains any. With user->name, becomes that user (its
 * groups, gid, uid) keeping keep across. Before any thread starts:
 * capabilities are per thread. *kept: what is left of each. 0, or -1 +
 * err.
 */
int privs_drop(struct privs_keep keep, const struct privs_user *user,
	       struct privs_keep *kept, char *err, size_t errlen);
/* "cap_dac_read_search,cap_sys_ptrace", or "none". */
void privs_name(uint64_t caps, char *buf, size_t len);

#endif
