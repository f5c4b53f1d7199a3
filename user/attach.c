// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Attaches the resolved probes (resolve.c): loads the BPF object and puts
 * one uprobe per site, with a cookie naming the probe slot, the site
 * kind and the registers the site reads. Never a uretprobe.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/types.h>
#include "connwatch.h"	/* before the skeleton: its .bss types */
#include "connwatch.skel.h"
#include "attach.h"
#include "procfs.h"

static int key_source(const struct cw_session *s, const struct cw_probe *p)
{
	if (s->targets[p->target_id].keyed_by_process)
		return CW_KEY_PROCESS;
	switch (p->sp->key_source) {
	case SPEC_KEY_ARG:
		return CW_KEY_ARG;
	case SPEC_KEY_OWNER:
		return CW_KEY_SITE_REG;
	}
	return CW_KEY_PROCESS;
}

int session_net_http_target(const struct cw_session *s)
{
	int t;

	for (t = 0; t < s->nr_targets; t++)
		if (s->targets[t].net_http)
			return t;
	return -1;
}

int session_sock_target(const struct cw_session *s)
{
	return s->sockets_target >= 0 ? s->sockets_target :
					session_net_http_target(s);
}

/* A hijack probe's way to the fd: its methods as distances from the
 * probed address, which the hit's own address turns into addresses. */
static struct cw_conn_fd_path conn_fd_of(const struct cw_probe *p)
{
	struct cw_conn_fd_path path = p->sp->conn_fd;

	if (p->sp->role != CW_ROLE_HIJACK)
		return (struct cw_conn_fd_path){ 0 };
	path.tcp_close -= p->entry_vaddr;
	if (path.tls_close)
		path.tls_close -= p->entry_vaddr;
	return path;
}

struct cw_probe_cfg session_probe_cfg(const struct cw_session *s,
				      const struct cw_probe *p)
{
	const struct spec *spec = s->targets[p->target_id].spec;
	const struct spec_counter *ctr = spec_probe_counter(p->sp, spec);
	const struct spec_probe *sp = p->sp;

	return (struct cw_probe_cfg){
		.role = sp->role,
		.key_source = key_source(s, p),
		.key_arg = sp->key_arg,
		.at_return = sp->at_return,
		.track_inside = p->track_inside,
		.counter_type = ctr->type,
		.counter_arg = ctr->base_arg,
		.counter_offset = ctr->offset,
		.target_id = p->target_id,
		.shadow_from_counter = spec_has_role(spec, CW_ROLE_INC) ||
				       spec_has_role(spec, CW_ROLE_DEC),
		.open_from_counter = spec_has_role(spec, CW_ROLE_INC) &&
				     spec_has_role(spec, CW_ROLE_OPEN),
		.stash_args = p->entry_site == CW_SITE_STASH,
		.late_entry = p->entry_late,
		.abi = p->abi,
		.switch_arg = sp->switch_arg,
		.enabled = 1,
		.conn_fd = conn_fd_of(p),
	};
}

static int add_link(struct cw_session *s, struct bpf_link *link)
{
	struct bpf_link **grown;

	grown = realloc(s->links, (s->nr_links + 1) * sizeof(*grown));
	if (!grown) {
		bpf_link__destroy(link);
		return -1;
	}
	s->links = grown;
	s->links[s->nr_links++] = link;
	return 0;
}

static int attach_site(struct cw_session *s, struct cw_probe *p, int slot,
		       uint64_t vaddr, int site, int reg, int reg2)
{
	LIBBPF_OPTS(bpf_uprobe_opts, opts,
		    .bpf_cookie = CW_COOKIE(slot, site, reg, reg2));
	int64_t off = elf_vaddr_to_offset(&s->symtab, vaddr);
	struct bpf_link *link;

	if (off < 0) {
		snprintf(p->err, sizeof(p->err), "0x%llx: not in a code segment",
			 (unsigned long long)vaddr);
		p->link_errors++;
		return -1;
	}
	link = bpf_program__attach_uprobe_opts(s->skel->progs.handle_probe,
					       s->pid, s->binary, off, &opts);
	if (!link) {
		snprintf(p->err, sizeof(p->err), "uprobe at 0x%llx: %s",
			 (unsigned long long)vaddr, strerror(errno));
		p->link_errors++;
		return -1;
	}
	if (add_link(s, link))
		return -1;
	p->links++;
	return 0;
}

static void attach_probe(struct cw_session *s, struct cw_probe *p, int slot)
{
	struct cw_probe_cfg cfg = session_probe_cfg(s, p);
	__u32 key = slot;
	size_t i;

	if (bpf_map_update_elem(bpf_map__fd(s->skel->maps.probes), &key, &cfg,
				BPF_ANY)) {
		snprintf(p->err, sizeof(p->err), "probe map: %s", strerror(errno));
		p->link_errors++;
		return;
	}
	if (p->entry_site >= 0)
		attach_site(s, p, slot, p->entry_vaddr, p->entry_site, 0, 0);
	for (i = 0; i < (size_t)p->nr_inlined; i++)
		attach_site(s, p, slot, p->inlined[i], CW_SITE_ENTRY, 0, 0);
	for (i = 0; p->wants_exits && i < p->exits.nr; i++)
		attach_site(s, p, slot, p->exits.addr[i], CW_SITE_EXIT, 0, 0);
	for (i = 0; i < p->calls.nr; i++)
		attach_site(s, p, slot, p->calls.site[i].probe, CW_SITE_CALL,
			    p->calls.site[i].owner_reg, 0);
	if (p->branch.probe)
		attach_site(s, p, slot, p->branch.probe, CW_SITE_BRANCH,
			    p->branch.base_reg, p->branch.old_reg);
}

/* A process whose exit we want to hear of, with its start time. */
static void watch_pid(struct cw_session *s, __u32 tgid)
{
	uint64_t start;

	if (!proc_start_ticks(tgid, &start))
		bpf_map_update_elem(bpf_map__fd(s->skel->maps.watched), &tgid,
				    &start, BPF_ANY);
}

/* Processes already running: their shadow starts unknown. */
static void mark_running(struct cw_session *s)
{
	int pre = bpf_map__fd(s->skel->maps.preexisting);
	pid_t *pids = calloc(s->max_procs, sizeof(*pids));
	size_t i, n;
	__u32 one = 1;

	if (!pids)
		return;
	if (s->pid > 0) {
		pids[0] = s->pid;
		n = 1;
	} else {
		n = proc_pids_of_exe(s->binary, pids, s->max_procs);
	}
	/* Not known to predate attach, a connection it began looks new. */
	if (n == s->max_procs)
		fprintf(stderr, "connwatch: %zu or more processes of %s run: "
			"those beyond --max-processes are taken as started now\n",
			n, s->binary);
	for (i = 0; i < n; i++) {
		__u32 tgid = pids[i];

		if (!s->spawned)
			bpf_map_update_elem(pre, &tgid, &one, BPF_ANY);
		watch_pid(s, tgid);
	}
	free(pids);
}

/* libbpf finds tracepoint ids in tracefs, which may not be mounted. */
static int ensure_tracefs(char *err, size_t errlen)
{
	if (!access("/sys/kernel/tracing/events", F_OK) ||
	    !access("/sys/kernel/debug/tracing/events", F_OK))
		return 0;
	if (mount("nodev", "/sys/kernel/tracing", "tracefs", 0, NULL)) {
		snprintf(err, errlen, "mounting tracefs on /sys/kernel/tracing: %s",
			 strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * The tables the user sizes: keys (--max-keys), processes
 * (--max-processes). Before pin_prepare: a pin of another size is not
 * adopted.
 */
static int size_maps(struct cw_session *s, char *err, size_t errlen)
{
	struct connwatch_bpf *o = s->skel;
	__u32 procs = s->max_procs, keys = s->max_keys;
	const struct {
		struct bpf_map *map;
		__u32 entries;
	} sizes[] = {
		{ o->maps.acct, keys }, { o->maps.tombstones, CW_TOMBSTONES(keys) },
		{ o->maps.totals, procs * (s->nr_targets ? s->nr_targets : 1) },
		{ o->maps.watched, procs }, { o->maps.preexisting, procs },
		{ o->maps.stopped, procs }, { o->maps.sock_targets, procs },
		{ o->maps.sock_stats, procs },
		{ o->maps.anomaly_counts, procs * CW_ANOM__COUNT },
	};
	size_t i;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		if (!bpf_map__set_max_entries(sizes[i].map, sizes[i].entries))
			continue;
		snprintf(err, errlen, "sizing map %s to %u entries: %s",
			 bpf_map__name(sizes[i].map), sizes[i].entries,
			 strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * How many keys acct holds before an LRU eviction is possible: each CPU's
 * free list may hold nodes the others cannot have (the kernel moves them
 * 128 at a time); twice that, to be sure.
 */
static __s64 evicts_above(unsigned int max_keys)
{
	int cpus = libbpf_num_possible_cpus();
	__s64 held = 256ll * (cpus > 0 ? cpus : 1);

	return max_keys > held ? max_keys - held : 0;
}

/* The sockets preset's programs on io_uring's tracepoints. */
#define NR_URING_PROGS 3
static void uring_progs(struct connwatch_bpf *skel,
			struct bpf_program *progs[NR_URING_PROGS])
{
	progs[0] = skel->progs.handle_uring_submit;
	progs[1] = skel->progs.handle_uring_task_add;
	progs[2] = skel->progs.handle_uring_complete;
}

/*
 * A kernel built without io_uring has neither its tracepoints nor its
 * types: its programs would not load. Nothing there can use io_uring.
 * tracefs tells, where it is mounted and readable; where not (yet), the
 * programs stay (CONFIG_IO_URING is on by default since Linux 5.1).
 */
static void skip_uring_if_absent(struct connwatch_bpf *skel)
{
	static const char *events[] = { "/sys/kernel/tracing/events",
					"/sys/kernel/debug/tracing/events" };
	struct bpf_program *progs[NR_URING_PROGS];
	char path[64];
	size_t i;

	for (i = 0; i < sizeof(events) / sizeof(events[0]); i++)
		if (!access(events[i], F_OK))
			break;
	if (i == sizeof(events) / sizeof(events[0]))
		return;
	snprintf(path, sizeof(path), "%s/io_uring", events[i]);
	if (!access(path, F_OK))
		return;
	uring_progs(skel, progs);
	for (i = 0; i < NR_URING_PROGS; i++)
		bpf_program__set_autoload(progs[i], false);
}

static int load_skeleton(struct cw_session *s, char *err, size_t errlen)
{
	s->skel = connwatch_bpf__open();
	if (!s->skel) {
		snprintf(err, errlen, "opening BPF object: %s", strerror(errno));
		return -1;
	}
	skip_uring_if_absent(s->skel);
	s->skel->rodata->stop_on_critical = s->stop_on_critical;
	if (size_maps(s, err, errlen))
		return -1;
	s->skel->rodata->acct_evicts_above = evicts_above(s->max_keys);
	pin_prepare(s);
	if (connwatch_bpf__load(s->skel)) {
		snprintf(err, errlen, "loading BPF programs: %s%s",
			 strerror(errno), errno == EPERM || errno == EACCES ?
			 " (run as root, or with CAP_BPF and CAP_PERFMON)" :
			 " (CONNWATCH_DEBUG=1 shows the verifier log)");
		return -1;
	}
	/* Before any program runs: what is adopted is settled first. */
	pin_adopt(s);
	if (ensure_tracefs(err, errlen))
		return -1;
	s->skel->links.handle_exit =
		bpf_program__attach(s->skel->progs.handle_exit);
	if (!s->skel->links.handle_exit) {
		snprintf(err, errlen, "attaching sched_process_exit: %s",
			 strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * tgid joins sock_targets, as sock_target_add() does in the kernel: its
 * slot asks sock_targets while the insert is under way, and names it
 * once it is in.
 */
static void sock_targets_join(struct cw_session *s, __u32 tgid, __u32 target_id)
{
	__u64 *slot = &s->skel->bss->sock_slots[CW_SOCK_SLOT(tgid)];
	__u64 clear = 0;
	uint64_t start;

	__atomic_compare_exchange_n(slot, &clear, CW_SOCK_SLOT_ASK, 0,
				    __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
	if (bpf_map_update_elem(bpf_map__fd(s->skel->maps.sock_targets), &tgid,
				&target_id, BPF_ANY) ||
	    proc_start_ticks(tgid, &start))
		return;
	__atomic_store_n(slot, cw_sock_who(tgid, start), __ATOMIC_SEQ_CST);
}

void session_watch_sockets_of(struct cw_session *s, pid_t pid)
{
	__u32 target_id = session_sock_target(s);
	pid_t pids[CW_MAX_TARGETS];
	size_t i, n;

	n = proc_with_descendants(pid, pids, CW_MAX_TARGETS);
	for (i = 0; i < n; i++) {
		__u32 tgid = pids[i];

		sock_targets_join(s, tgid, target_id);
		watch_pid(s, tgid);
	}
}

/* --exe: processes of the binary join at their first accept. */
static int watch_sockets_of_exe(struct cw_session *s, char *err, size_t errlen)
{
	struct cw_sock_exe exe = { .target_id = session_sock_target(s),
				   .enabled = 1 };
	pid_t pids[CW_MAX_TARGETS];
	struct stat st;
	__u32 zero = 0;
	size_t i, n;

	if (stat(s->binary, &st)) {
		snprintf(err, errlen, "%s: %s", s->binary, strerror(errno));
		return -1;
	}
	/* The kernel's s_dev encoding, not stat's. */
	exe.dev = ((__u64)major(st.st_dev) << 20) | minor(st.st_dev);
	exe.ino = st.st_ino;
	bpf_map_update_elem(bpf_map__fd(s->skel->maps.sock_exe), &zero, &exe,
			    BPF_ANY);
	n = proc_pids_of_exe(s->binary, pids, CW_MAX_TARGETS);
	for (i = 0; i < n; i++)
		session_watch_sockets_of(s, pids[i]);
	return 0;
}

static int attach_tracepoints(struct cw_session *s, struct bpf_program **progs,
			      size_t n, char *err, size_t errlen)
{
	struct bpf_link *link;
	size_t i;

	for (i = 0; i < n; i++) {
		if (!bpf_program__autoload(progs[i]))
			continue;
		link = bpf_program__attach(progs[i]);
		if (!link || add_link(s, link)) {
			snprintf(err, errlen, "attaching %s: %s",
				 bpf_program__section_name(progs[i]),
				 strerror(errno));
			return -1;
		}
	}
	return 0;
}

static int attach_sockets(struct cw_session *s, char *err, size_t errlen)
{
	struct bpf_program *syscalls[] = {
		s->skel->progs.handle_accept_exit,
		s->skel->progs.handle_accept4_exit,
		s->skel->progs.handle_close_enter,
		s->skel->progs.handle_close_range_enter,
		s->skel->progs.handle_dup2_enter,
		s->skel->progs.handle_dup2_exit,
		s->skel->progs.handle_dup3_enter,
		s->skel->progs.handle_dup3_exit,
	};
	struct bpf_program *uring[NR_URING_PROGS];

	uring_progs(s->skel, uring);
	if (attach_tracepoints(s, syscalls, sizeof(syscalls) / sizeof(syscalls[0]),
			       err, errlen) ||
	    attach_tracepoints(s, uring, NR_URING_PROGS, err, errlen))
		return -1;
	s->sockets_attached = 1;
	if (s->pid > 0) {
		session_watch_sockets_of(s, s->pid);
		return 0;
	}
	return watch_sockets_of_exe(s, err, errlen);
}

int session_attach(struct cw_session *s, char *err, size_t errlen)
{
	int i, attached = 0;

	if (load_skeleton(s, err, errlen))
		return -1;
	mark_running(s);
	if (session_sock_target(s) >= 0) {
		if (attach_sockets(s, err, errlen))
			return -1;
		attached++;
	}
	for (i = 0; i < s->nr_probes; i++) {
		struct cw_probe *p = &s->probes[i];

		if (!p->resolved)
			continue;
		attach_probe(s, p, i);
		attached += p->links > 0;
	}
	/* All at once, or an open may be seen whose close is not. */
	__atomic_store_n(&s->skel->bss->probes_live, 1, __ATOMIC_RELEASE);
	return attached;
}

static void *destroy_link(void *link)
{
	bpf_link__destroy(link);
	return NULL;
}

/*
 * Closing a uprobe waits for an RCU grace period (~0.1 s here), one link
 * after another: 200 ms per probe site. Closed in parallel, detaching
 * takes one grace period.
 */
static void destroy_links(struct bpf_link **links, int n)
{
	pthread_t *tids = calloc(n, sizeof(*tids));
	int i, started = 0;

	for (i = 0; tids && i < n; i++, started++)
		if (pthread_create(&tids[i], NULL, destroy_link, links[i]))
			break;
	for (i = started; i < n; i++)	/* no thread: in line */
		bpf_link__destroy(links[i]);
	for (i = 0; i < started; i++)
		pthread_join(tids[i], NULL);
	free(tids);
}

void session_close(struct cw_session *s)
{
	destroy_links(s->links, s->nr_links);
	free(s->links);
	s->links = NULL;
	s->nr_links = 0;
	if (s->skel) {
		pin_release(s);
		connwatch_bpf__destroy(s->skel);
	}
	s->skel = NULL;
	elf_symtab_free(&s->symtab);
	go_pclntab_free(&s->go);
}
