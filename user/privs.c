// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Least privilege after attach. Attaching needs CAP_SYS_ADMIN (uprobes
 * since Linux 6.16), CAP_BPF and CAP_PERFMON; a connwatch that watches
 * needs far less (privs.h). What a hostile target could take over in its
 * parsers after attach should not be root: every other capability goes,
 * the bounding set too, and no_new_privs keeps a hook from getting any
 * back by exec. With --user, connwatch becomes another user too: what
 * it opens as root stays open (the alert log, the BPF maps, the /metrics
 * socket, the targets' maps files), and the pins it may remove at the
 * end are handed to that user (pin.h).
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include "privs.h"

struct caps {
	uint64_t effective, permitted, inheritable;
};

static int caps_get(struct caps *c)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &h, d))
		return -1;
	c->effective = (uint64_t)d[1].effective << 32 | d[0].effective;
	c->permitted = (uint64_t)d[1].permitted << 32 | d[0].permitted;
	c->inheritable = (uint64_t)d[1].inheritable << 32 | d[0].inheritable;
	return 0;
}

static int caps_set(const struct caps *c)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2] = {
		{ (uint32_t)c->effective, (uint32_t)c->permitted,
		  (uint32_t)c->inheritable },
		{ c->effective >> 32, c->permitted >> 32, c->inheritable >> 32 },
	};

	return syscall(SYS_capset, &h, d);
}

/* The bounding set: what an exec could ever grant again. */
static int drop_bounding(uint64_t keep)
{
	int cap;

	/* PR_CAPBSET_READ fails past the kernel's last capability. */
	for (cap = 0; cap < 64 && prctl(PR_CAPBSET_READ, cap) >= 0; cap++)
		if (!(keep & CW_CAP(cap)) && prctl(PR_CAPBSET_DROP, cap))
			return -1;
	return 0;
}

static int raise_ambient(uint64_t caps)
{
	int cap;

	for (cap = 0; cap < 64; cap++)
		if ((caps & CW_CAP(cap)) &&
		    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0))
			return -1;
	return 0;
}

int privs_user_lookup(const char *name, struct privs_user *user,
		      char *err, size_t errlen)
{
	struct passwd *pw;
	struct caps now;

	errno = 0;
	pw = getpwnam(name);
	if (!pw) {
		snprintf(err, errlen, "no user '%s' on this system%s%s", name,
			 errno ? ": " : "", errno ? strerror(errno) : "");
		return -1;
	}
	*user = (struct privs_user){ name, pw->pw_uid, pw->pw_gid };
	/* Permitted: the --config supervisor keeps them for its children. */
	if (caps_get(&now) || (now.permitted & CW_CAPS_SWITCH_USER) !=
			      CW_CAPS_SWITCH_USER) {
		snprintf(err, errlen, "becoming user '%s' needs CAP_SETUID, "
			 "CAP_SETGID and CAP_CHOWN, which this connwatch does "
			 "not have%s",
			 name, geteuid() ? " (run it as root)" : "");
		return -1;
	}
	return 0;
}

/*
 * Its groups, gid and uid. KEEPCAPS: a uid 0 that goes would take the
 * permitted set with it; the effective set goes anyway (capset after).
 */
static int become(const struct privs_user *user, const char **step)
{
	*step = "keeping capabilities across the user switch";
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0))
		return -1;
	*step = "initgroups";
	if (initgroups(user->name, user->gid))
		return -1;
	*step = "setgid";
	if (setgid(user->gid))
		return -1;
	*step = "setuid";
	if (setuid(user->uid))
		return -1;
	*step = "PR_SET_KEEPCAPS";
	return prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
}

int privs_drop(struct privs_keep keep, const struct privs_user *user,
	       struct privs_keep *kept, char *err, size_t errlen)
{
	uint64_t permitted;
	const char *step;
	struct caps now;

	step = "capget";
	if (caps_get(&now))
		goto fail;
	keep.own &= now.permitted;
	keep.children &= now.permitted;
	permitted = keep.own | keep.children;
	step = "no_new_privs";
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		goto fail;
	/* Without CAP_SETPCAP (a unit's reduced set) it stays as given. */
	step = "dropping the bounding set";
	if ((now.effective & CW_CAP(CAP_SETPCAP)) && drop_bounding(permitted))
		goto fail;
	step = "clearing the ambient set";
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0))
		goto fail;
	if (user->name && become(user, &step))
		goto fail;
	now = (struct caps){ .effective = keep.own, .permitted = permitted,
			     .inheritable = keep.children };
	step = "capset";
	if (caps_set(&now))
		goto fail;
	step = "raising the ambient set";
	if (raise_ambient(keep.children))
		goto fail;
	*kept = keep;
	return 0;
fail:
	snprintf(err, errlen, "dropping capabilities: %s: %s", step,
		 strerror(errno));
	return -1;
}

void privs_name(uint64_t caps, char *buf, size_t len)
{
	static const char *const names[] = {
		[CAP_CHOWN] = "cap_chown",
		[CAP_KILL] = "cap_kill",
		[CAP_SETGID] = "cap_setgid",
		[CAP_SETUID] = "cap_setuid",
		[CAP_DAC_READ_SEARCH] = "cap_dac_read_search",
		[CAP_SYS_PTRACE] = "cap_sys_ptrace",
		[CAP_SYS_ADMIN] = "cap_sys_admin",
		[CAP_PERFMON] = "cap_perfmon",
		[CAP_BPF] = "cap_bpf",
	};
	size_t used = 0;
	int cap;

	snprintf(buf, len, "none");
	for (cap = 0; cap < 64 && used < len; cap++) {
		if (!(caps & CW_CAP(cap)))
			continue;
		if (cap < (int)(sizeof(names) / sizeof(names[0])) && names[cap])
			used += snprintf(buf + used, len - used, "%s%s",
					 used ? "," : "", names[cap]);
		else
			used += snprintf(buf + used, len - used, "%scap_%d",
					 used ? "," : "", cap);
	}
}
