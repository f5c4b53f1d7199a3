// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * State that outlives connwatch (an upgrade, a config change, an OOM
 * kill). The maps detection depends on are pinned under bpffs:
 *
 *   /sys/fs/bpf/connwatch/TARGET/SPEC/MAP
 *
 * TARGET names what is watched: the binary (device and inode), which of
 * its processes (--pid: that pid and its start time; --exe: all), and the
 * specs and presets by name. SPEC hashes what they resolved to in the
 * binary: where every probe sits and how it counts. A connwatch started
 * again for the same target and spec adopts the maps before it loads its
 * programs: counts continue, and a drain that fired before the restart
 * still makes the next one a duplicate. A spec that resolves otherwise
 * since is not adopted, and its old pins go.
 *
 * The uprobe links are not pinned: they die with connwatch's file
 * descriptors, kill -9 included, so nothing stays in the target.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/magic.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/types.h>
#include "connwatch.h"	/* before the skeleton: its .bss types */
#include "connwatch.skel.h"
#include "attach.h"
#include "procfs.h"
#include "pin.h"
#include "proc_tables.h"
#include "grow.h"

#define PIN_ROOT	"/sys/fs/bpf"
#define LOCK_WAIT_MS	3000	/* a connwatch before may still be detaching */
#define MAX_GONE_LINES	8

/*
 * What outlives connwatch: the counts per process (totals), the detection
 * state per key (drained, shutdown, armed), the process tables (who, since when; already running at attach;
 * frozen once), the sockets preset's tables, the probe hits (Prometheus
 * counters), the in-flight entries (a handler that entered before the
 * restart returns after it), the ring buffer (records connwatch had not
 * read when it was killed), the anomaly counts with the rate limit's
 * folded events, and .bss (the totals of processes gone, records lost).
 * Not pinned: what attach writes anew (the probe table, the --exe inode,
 * .rodata), a close in flight (its exit, seen without its entry, would
 * count it twice), and the tombstones of keys that balanced (one opened
 * again while no connwatch watched would look closed twice).
 *
 * gone: what becomes of the entries of a process gone (keyed by tgid
 * first): detection state is DROPPED; counts (totals, sock_stats) are
 * FOLDED into the target's at once, as for any process that exits after
 * its grace (proc_tables.c), so counters never decrease; anomaly counts
 * fold on their own (anomaly_counts.c). sockets: only with
 * the sockets preset; otherwise empty, and sock_fds alone holds some
 * 25 MB of kernel memory (an LRU map is preallocated) that pins would
 * keep after connwatch. The pin is named after the skeleton's field
 * (bpffs takes no dot, as in .bss).
 */
enum { SHARED, DROPPED, FOLDED };
#define PINNED(m, gone, sockets) \
	{ #m, offsetof(struct connwatch_bpf, maps.m), gone, sockets }
static const struct {
	const char *name;
	size_t off;
	int gone;
	int sockets;
} pinned[] = {
	PINNED(acct, DROPPED, 0), PINNED(totals, FOLDED, 0),
	PINNED(watched, DROPPED, 0), PINNED(preexisting, DROPPED, 0),
	PINNED(stopped, DROPPED, 0), PINNED(probe_hits, SHARED, 0),
	PINNED(inflight, SHARED, 0), PINNED(records, SHARED, 0),
	PINNED(anomaly_counts, SHARED, 0), PINNED(rates, SHARED, 0),
	PINNED(bss, SHARED, 0), PINNED(sock_targets, DROPPED, 1),
	PINNED(sock_stats, FOLDED, 1), PINNED(sock_fds, DROPPED, 1),
};
#define NR_PINNED (sizeof(pinned) / sizeof(pinned[0]))
_Static_assert(offsetof(struct cw_acct_key, tgid) == 0, "tgid first");
_Static_assert(offsetof(struct cw_sock_key, tgid) == 0, "tgid first");

/* The i-th map of the table, or NULL when this session pins it not. */
static struct bpf_map *pinned_map(const struct cw_session *s, size_t i)
{
	if (pinned[i].sockets && session_sock_target(s) < 0)
		return NULL;
	return *(struct bpf_map **)((char *)s->skel + pinned[i].off);
}

/* ---- what identifies a target and its spec --------------------------- */

static void hash_add(uint64_t *h, const void *data, size_t len)
{
	const unsigned char *p = data;

	while (len--)	/* FNV-1a */
		*h = (*h ^ *p++) * 0x100000001b3ull;
}

#define HASH(h, v) hash_add(h, &(v), sizeof(v))

/* The binary, which of its processes, and the specs by name. */
static int target_hash(const struct cw_session *s, const struct stat *bin,
		       uint64_t *h)
{
	char path[PATH_MAX];
	uint64_t start = 0;
	int t;

	if (s->pid > 0 && proc_start_ticks(s->pid, &start))
		return -1;
	HASH(h, bin->st_dev);
	HASH(h, bin->st_ino);
	HASH(h, s->pid);
	HASH(h, start);
	for (t = 0; t < s->nr_targets; t++) {
		const struct spec *spec = s->targets[t].spec;
		const char *name = !spec ? "preset sockets" :
				   realpath(spec->path, path) ? path : spec->path;

		hash_add(h, name, strlen(name) + 1);
	}
	return 0;
}

/* Hashed whole: padding, which no initializer sets, would change it. */
_Static_assert(sizeof(struct cw_probe_cfg) == 18 * sizeof(__u32) +
	       sizeof(struct cw_conn_fd_path),
	       "struct cw_probe_cfg has no padding");

/* Where a probe sits in the binary and how it counts: its uprobes. */
static void probe_hash(uint64_t *h, const struct cw_session *s,
		       const struct cw_probe *p)
{
	struct cw_probe_cfg cfg = session_probe_cfg(s, p);
	size_t i;

	HASH(h, p->resolved);
	if (!p->resolved)
		return;
	HASH(h, cfg);
	HASH(h, p->entry_site);
	HASH(h, p->entry_vaddr);
	hash_add(h, p->exits.addr, p->exits.nr * sizeof(p->exits.addr[0]));
	hash_add(h, p->inlined, p->nr_inlined * sizeof(p->inlined[0]));
	for (i = 0; i < p->calls.nr; i++) {
		HASH(h, p->calls.site[i].probe);
		HASH(h, p->calls.site[i].owner_reg);
	}
	HASH(h, p->branch.probe);
	HASH(h, p->branch.base_reg);
	HASH(h, p->branch.old_reg);
}

/* What the specs resolved to: the binary's content, every probe. */
static uint64_t spec_hash(const struct cw_session *s, const struct stat *bin)
{
	uint64_t h = 0xcbf29ce484222325ull;
	unsigned int version = CW_PIN_VERSION;
	int i;

	HASH(&h, version);
	HASH(&h, bin->st_size);
	HASH(&h, bin->st_mtim);
	HASH(&h, s->sockets_target);
	for (i = 0; i < s->nr_targets; i++)
		HASH(&h, s->targets[i].keyed_by_process);
	for (i = 0; i < s->nr_probes; i++)
		probe_hash(&h, s, &s->probes[i]);
	return h;
}

/* TARGET is BINARY-HASH, the binary's name for people (bpffs takes no
 * dots); SPEC is HASH. */
static int pin_names(const struct cw_session *s, struct cw_pin *p)
{
	uint64_t target = 0xcbf29ce484222325ull;
	const char *base = strrchr(s->binary, '/');
	char name[41];
	struct stat bin;
	size_t i;

	if (stat(s->binary, &bin)) {
		snprintf(p->why_not, sizeof(p->why_not), "%s: %s", s->binary,
			 strerror(errno));
		return -1;
	}
	if (target_hash(s, &bin, &target)) {
		snprintf(p->why_not, sizeof(p->why_not), "pid %d has exited",
			 s->pid);
		return -1;
	}
	snprintf(name, sizeof(name), "%s", base ? base + 1 : s->binary);
	for (i = 0; name[i]; i++)
		if (!(name[i] >= 'a' && name[i] <= 'z') &&
		    !(name[i] >= 'A' && name[i] <= 'Z') &&
		    !(name[i] >= '0' && name[i] <= '9') && name[i] != '-')
			name[i] = '_';
	snprintf(p->target, sizeof(p->target), CW_PIN_BASE "/%s-%016llx",
		 name, (unsigned long long)target);
	snprintf(p->dir, sizeof(p->dir), "%s/%016llx", p->target,
		 (unsigned long long)spec_hash(s, &bin));
	return 0;
}

/* ---- directories ------------------------------------------------------ */

static int ensure_bpffs(struct cw_pin *p)
{
	struct statfs fs;

	if (!statfs(PIN_ROOT, &fs) && fs.f_type == BPF_FS_MAGIC)
		return 0;
	if (!mount("bpf", PIN_ROOT, "bpf", 0, "mode=0700"))
		return 0;
	snprintf(p->why_not, sizeof(p->why_not), "mounting bpffs on "
		 PIN_ROOT ": %s", strerror(errno));
	return -1;
}

/*
 * One connwatch per target at a time: two adopting the same maps would
 * count every hit twice. flock dies with the process, kill -9 too. The
 * lock is waited for a little: the connwatch before may be detaching.
 */
static int lock_dir(const char *path, int wait_ms)
{
	struct timespec pause = { 0, 100 * 1000000L };
	struct stat st;
	int fd, waited;

	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	for (waited = 0; flock(fd, LOCK_EX | LOCK_NB); waited += 100) {
		if (errno != EWOULDBLOCK || waited >= wait_ms)
			goto fail;
		nanosleep(&pause, NULL);
	}
	/* Removed by the one that held it before us. */
	if (!fstat(fd, &st) && !st.st_nlink) {
		errno = ENOENT;
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return -1;
}

static int lock_target(struct cw_pin *p)
{
	int tries;

	for (tries = 0; tries < 2; tries++) {
		if ((mkdir(CW_PIN_BASE, 0700) && errno != EEXIST) ||
		    (mkdir(p->target, 0700) && errno != EEXIST))
			break;
		p->lock_fd = lock_dir(p->target, LOCK_WAIT_MS);
		if (p->lock_fd >= 0)
			return 0;
		if (errno != ENOENT)
			break;
	}
	snprintf(p->why_not, sizeof(p->why_not), "%s: %s", p->target,
		 errno == EWOULDBLOCK ? "in use by another connwatch" :
		 strerror(errno));
	return -1;
}

/* The directory name in parent (an fd, or AT_FDCWD), and what it holds. */
static void remove_dir_at(int parent, const char *name)
{
	int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;

	if (fd >= 0 && !d)
		close(fd);
	while (d && (de = readdir(d)))
		if (de->d_name[0] != '.')
			unlinkat(dirfd(d), de->d_name, 0);
	if (d)
		closedir(d);
	unlinkat(parent, name, AT_REMOVEDIR);
}

static void remove_dir(const char *path)
{
	remove_dir_at(AT_FDCWD, path);
}

/* SPEC's name in TARGET. */
static const char *spec_name(const struct cw_pin *p)
{
	return p->dir + strlen(p->target) + 1;
}

/* ---- the processes pinned state belongs to ---------------------------- */

/* Whether the process that had tgid and started at start still runs. */
static int still_runs(__u32 tgid, __u64 start)
{
	uint64_t now;

	return !proc_start_ticks(tgid, &now) && now == start;
}

/* Processes by tgid, as many as the tables hold. */
struct pids {
	__u32 *tgid;
	int nr, cap;
};

static int pids_has(const struct pids *set, __u32 tgid)
{
	int i;

	for (i = 0; i < set->nr; i++)
		if (set->tgid[i] == tgid)
			return 1;
	return 0;
}

static void pids_add(struct pids *set, __u32 tgid)
{
	if (pids_has(set, tgid) || GROW_ROOM(set->tgid, set->nr, set->cap, 64))
		return;
	set->tgid[set->nr++] = tgid;
}

/*
 * How many processes of a watched map still run (the same pid, the same
 * start); with live, which.
 */
static int running(int watched, struct pids *live)
{
	__u32 k, next, *prev = NULL;
	__u64 start;
	int n = 0;

	while (!bpf_map_get_next_key(watched, prev, &next)) {
		k = next;
		prev = &k;
		if (bpf_map_lookup_elem(watched, &k, &start) ||
		    !still_runs(k, start))
			continue;
		n++;
		if (live)
			pids_add(live, k);
	}
	return n;
}

/* Whether a pinned spec directory still watches a running process. */
static int pinned_running(const char *dir)
{
	char path[PATH_MAX + 16];
	int fd, n;

	snprintf(path, sizeof(path), "%s/watched", dir);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return 0;
	n = running(fd, NULL);
	close(fd);
	return n > 0;
}

/*
 * The spec directories of a target but keep: all of them (changed: a
 * spec resolves otherwise now), or those whose processes are all gone.
 */
static void drop_specs(const char *target, const char *keep, int changed)
{
	char path[PATH_MAX + 256];
	struct dirent *de;
	DIR *d = opendir(target);

	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", target, de->d_name);
		if ((keep && !strcmp(path, keep)) ||
		    (!changed && pinned_running(path)))
			continue;
		remove_dir(path);
		fprintf(stderr, "connwatch: %s: %s\n", path, changed ?
			"pinned when the spec resolved otherwise (the spec, the "
			"binary or connwatch changed since): not adopted, removed" :
			"pinned for processes that are all gone: removed");
	}
	if (d)
		closedir(d);
}

/* State left by connwatches before for processes all gone: no one's. */
static void sweep(const char *own)
{
	char path[PATH_MAX + 256];
	struct dirent *de;
	DIR *d = opendir(CW_PIN_BASE);
	int fd;

	while (d && (de = readdir(d))) {
		snprintf(path, sizeof(path), CW_PIN_BASE "/%s", de->d_name);
		if (de->d_name[0] == '.' || !strcmp(path, own) ||
		    (fd = lock_dir(path, 0)) < 0)
			continue;
		drop_specs(path, NULL, 0);
		rmdir(path);	/* if nothing is left in it */
		close(fd);
	}
	if (d)
		closedir(d);
}

/* ---- adopting --------------------------------------------------------- */

/* A pin left by a connwatch whose map differs from ours cannot serve. */
static int pin_fits(const struct cw_session *s, size_t i, char *why,
		    size_t whylen)
{
	struct bpf_map *map = pinned_map(s, i);
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	char path[PATH_MAX + 64];
	int fd, fits;

	snprintf(path, sizeof(path), "%s/%s", s->pin.dir, pinned[i].name);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return errno == ENOENT;	/* a map new in this connwatch */
	fits = !bpf_obj_get_info_by_fd(fd, &info, &len) &&
	       info.type == bpf_map__type(map) &&
	       info.key_size == bpf_map__key_size(map) &&
	       info.value_size == bpf_map__value_size(map) &&
	       info.max_entries == bpf_map__max_entries(map) &&
	       info.map_flags == bpf_map__map_flags(map);
	close(fd);
	if (!fits)
		snprintf(why, whylen, "its map %s is not this connwatch's",
			 pinned[i].name);
	return fits;
}

/* Whether the maps in dir are adopted; if not, they go, said why. */
static int adoptable(const struct cw_session *s)
{
	const char *dir = s->pin.dir;
	char why[128] = "";
	size_t i;

	if (access(dir, F_OK))
		return 0;
	if (s->fresh)
		snprintf(why, sizeof(why), "--fresh");
	else if (!pinned_running(dir))
		snprintf(why, sizeof(why), "its processes are all gone");
	else
		for (i = 0; i < NR_PINNED; i++)
			if (pinned_map(s, i) && !pin_fits(s, i, why, sizeof(why)))
				break;
	if (!why[0])
		return 1;
	remove_dir(dir);
	fprintf(stderr, "connwatch: %s: %s: starting over\n", dir, why);
	return 0;
}

void pin_prepare(struct cw_session *s)
{
	struct cw_pin *p = &s->pin;
	char path[PATH_MAX + 64];
	size_t i;

	if (pin_names(s, p) || ensure_bpffs(p))
		goto unpinned;
	sweep(p->target);
	if (lock_target(p))
		goto unpinned;
	drop_specs(p->target, p->dir, 1);
	p->adopt = adoptable(s);
	if (mkdir(p->dir, 0700) && errno != EEXIST) {
		snprintf(p->why_not, sizeof(p->why_not), "%s: %s", p->dir,
			 strerror(errno));
		goto unlock;
	}
	for (i = 0; i < NR_PINNED; i++) {
		struct bpf_map *map = pinned_map(s, i);

		if (!map)
			continue;
		snprintf(path, sizeof(path), "%s/%s", p->dir, pinned[i].name);
		bpf_map__set_pin_path(map, path);
	}
	return;
unlock:
	close(p->lock_fd);
unpinned:
	p->dir[0] = '\0';
}

/* Notes the processes not in live in gone; with drop, deletes their
 * entries. */
static void drop_gone(int fd, size_t key_size, const struct pids *live,
		      struct pids *gone, int drop)
{
	char *keys = NULL, *grown, cur[64], prev[64];
	size_t n = 0, cap = 0, i;
	int first = 1;

	if (key_size > sizeof(cur))
		return;
	while (!bpf_map_get_next_key(fd, first ? NULL : prev, cur)) {
		__u32 tgid = *(__u32 *)cur;

		first = 0;
		memcpy(prev, cur, key_size);
		if (pids_has(live, tgid))
			continue;
		pids_add(gone, tgid);
		if (!drop)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 256;
			grown = realloc(keys, cap * key_size);
			if (!grown)
				break;
			keys = grown;
		}
		memcpy(keys + n++ * key_size, cur, key_size);
	}
	/* Deleted after the walk, which a deletion would restart. */
	for (i = 0; i < n; i++)
		bpf_map_delete_elem(fd, keys + i * key_size);
	free(keys);
}

static void say_gone(const struct pids *gone)
{
	int i;

	for (i = 0; i < gone->nr && i < MAX_GONE_LINES; i++)
		fprintf(stderr, "connwatch: pid %u %s since its state was "
			"pinned: dropped\n", gone->tgid[i],
			proc_exists(gone->tgid[i]) ? "is another process" :
			"has exited");
	if (gone->nr > MAX_GONE_LINES)
		fprintf(stderr, "connwatch: ... and %d more processes gone: "
			"dropped\n", gone->nr - MAX_GONE_LINES);
}

/*
 * Connections opened or closed while no connwatch watched were not seen:
 * a close of one opened then would look like an underflow. Each shadow
 * is unknown again, as for a process running before attach, until its
 * next drain or real counter read makes it exact. The drain state stays:
 * it is what the next duplicate drain is judged by.
 */
static void unarm(int acct, int *keys, int *drained)
{
	struct cw_acct_key k, next, *prev = NULL;
	struct cw_acct st;

	while (!bpf_map_get_next_key(acct, prev, &next)) {
		k = next;
		prev = &k;
		if (bpf_map_lookup_elem(acct, &k, &st))
			continue;
		++*keys;
		*drained += !!st.drained;
		if (!st.armed)
			continue;
		st.armed = 0;
		st.seeded = 0;
		bpf_map_update_elem(acct, &k, &st, BPF_EXIST);
	}
}

void pin_adopt(struct cw_session *s)
{
	struct pids *live, *gone;
	int keys = 0, drained = 0;
	size_t i;

	if (!s->pin.dir[0]) {
		fprintf(stderr, "connwatch: state not pinned (%s): a restart of "
			"connwatch starts over\n", s->pin.why_not);
		return;
	}
	if (!s->pin.adopt) {
		fprintf(stderr, "connwatch: state pinned in %s\n", s->pin.dir);
		return;
	}
	live = calloc(1, sizeof(*live));
	gone = calloc(1, sizeof(*gone));
	if (!live || !gone)
		goto out;
	running(bpf_map__fd(s->skel->maps.watched), live);
	for (i = 0; i < NR_PINNED; i++)
		if (pinned[i].gone != SHARED && pinned_map(s, i))
			drop_gone(bpf_map__fd(pinned_map(s, i)),
				  bpf_map__key_size(pinned_map(s, i)), live, gone,
				  pinned[i].gone == DROPPED);
	/* Before /metrics serves: no scrape to take d->lock against. */
	for (i = 0; i < (size_t)gone->nr; i++)
		proc_tables_fold(s, gone->tgid[i]);
	say_gone(gone);
	unarm(bpf_map__fd(s->skel->maps.acct), &keys, &drained);
	fprintf(stderr, "connwatch: adopted the state pinned in %s: %d "
		"process%s, %d key%s (%d drained); counts go on, each shadow is "
		"exact again at its next drain or counter read\n", s->pin.dir,
		live->nr, live->nr == 1 ? "" : "es", keys, keys == 1 ? "" : "s",
		drained);
out:
	if (live)
		free(live->tgid);
	if (gone)
		free(gone->tgid);
	free(live);
	free(gone);
}

int pin_hand_over(struct cw_pin *p, uid_t uid, gid_t gid, char *err,
		  size_t errlen)
{
	if (!p->dir[0])
		return 0;
	if (!fchown(p->lock_fd, uid, gid) &&
	    !fchownat(p->lock_fd, spec_name(p), uid, gid, 0))
		return 0;
	snprintf(err, errlen, "%s: handing the pins to uid %u: %s", p->dir,
		 (unsigned)uid, strerror(errno));
	return -1;
}

void pin_release(struct cw_session *s)
{
	struct cw_pin *p = &s->pin;
	int watched;

	if (!p->dir[0])
		return;
	watched = bpf_map__fd(s->skel->maps.watched);
	/* Not loaded: what was pinned before stays as it was. */
	if (watched >= 0 && running(watched, NULL)) {
		fprintf(stderr, "connwatch: the state stays pinned in %s for the "
			"next connwatch (--fresh starts over)\n", p->dir);
	} else if (watched >= 0) {
		/* Through the fd: CW_PIN_BASE may not be searchable (--user). */
		remove_dir_at(p->lock_fd, spec_name(p));
		rmdir(p->target);	/* if nothing is left in it */
	}
	close(p->lock_fd);
	p->dir[0] = '\0';
}
