// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The process tables over a long life (--exe: CGI, cron, recycled
 * workers come and go). A process that exited keeps its series for
 * --exited-grace seconds, so that the scrape after a crash sees them;
 * then its counts fold into its target's (totals_unkeyed, sock_unkeyed
 * in the BPF object's .bss, served without a pid label) and its entries
 * go: memory and series follow the processes alive, not all those ever
 * seen, and a target's counters never decrease. The fold and a scrape
 * take d->lock: no scrape sees a count twice, or not at all.
 *
 * A table that fills is said once, and counted (connwatch_table_full_total);
 * what finds no room counts in its target's totals.
 */
#include <stdio.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/types.h>
#include "connwatch.h"	/* before the skeleton: its .bss types */
#include "connwatch.skel.h"
#include "daemon.h"
#include "procfs.h"
#include "proc_tables.h"

#define FOLD_MAX	4096	/* processes folded per tick (d->lock held
				 * some 10 µs each): the rest next */

static const struct {
	const char *name;
	const char *then;	/* what happens to what finds no room */
} tables[CW_TABLE__COUNT] = {
	[CW_TABLE_TOTALS] = { "totals", "the counts of new processes go to "
			      "their target's series, without a pid" },
	[CW_TABLE_WATCHED] = { "watched", "the exit of new processes is not "
			       "heard: their series fold once /proc says they "
			       "are gone" },
	[CW_TABLE_SOCK_TARGETS] = { "sock_targets", "new processes' sockets "
				    "are not counted" },
	[CW_TABLE_SOCK_STATS] = { "sock_stats", "new processes' sockets count "
				  "in their target's series, without a pid" },
	[CW_TABLE_ANOMALY_COUNTS] = { "anomaly_counts", "anomalies of new "
				      "processes count in their target's "
				      "totals at once" },
};

const char *proc_table_name(int table)
{
	return table >= 0 && table < CW_TABLE__COUNT ? tables[table].name : "?";
}

static struct bpf_map *table_map(struct cw_daemon *d, int table)
{
	struct connwatch_bpf *skel = d->sess.skel;
	struct bpf_map *maps[CW_TABLE__COUNT] = {
		skel->maps.totals, skel->maps.watched, skel->maps.sock_targets,
		skel->maps.sock_stats, skel->maps.anomaly_counts,
	};

	return maps[table];
}

/* Once per table, the first time the kernel found it full. */
static void say_full(struct cw_daemon *d)
{
	uint64_t n;
	int i;

	for (i = 0; i < CW_TABLE__COUNT; i++) {
		n = __atomic_load_n(&d->sess.skel->bss->table_full[i],
				    __ATOMIC_RELAXED);
		if (!n || d->full_said[i])
			continue;
		d->full_said[i] = n;
		fprintf(stderr, "connwatch: the %s table is full (%u entries; "
			"--max-processes sizes it): %s\n", tables[i].name,
			bpf_map__max_entries(table_map(d, i)), tables[i].then);
	}
}

static void say_unknown(struct cw_daemon *d, __u32 tgid)
{
	if (d->unknown_said)
		return;
	d->unknown_said = 1;
	fprintf(stderr, "connwatch: pid %u closed or decremented a key not in "
		"the detection table (evicted: more than --max-keys %u live, "
		"or opened before attach): counted in connwatch_keys_unknown_total, "
		"never judged\n", tgid, bpf_map__max_entries(d->sess.skel->maps.acct));
}

/*
 * A process with counts that exited unheard (its exit record lost, the
 * watched table full, or gone while no connwatch ran): down from now.
 */
static void notice_gone(struct cw_daemon *d, __u32 tgid)
{
	/* Told already, it says nothing again. */
	if (!proc_exists(tgid))
		daemon_proc_down(d, tgid, 0, "?", -1);
}

static void scan_totals(struct cw_daemon *d)
{
	int fd = bpf_map__fd(d->sess.skel->maps.totals);
	struct cw_proc_key k, next, *prev = NULL;
	struct cw_totals t;

	while (!bpf_map_get_next_key(fd, prev, &next)) {
		k = next;
		prev = &k;
		if (bpf_map_lookup_elem(fd, &k, &t))
			continue;
		if (t.keys_unknown)
			say_unknown(d, k.tgid);
		notice_gone(d, k.tgid);
	}
}

static void scan_sock_stats(struct cw_daemon *d)
{
	int fd = bpf_map__fd(d->sess.skel->maps.sock_stats);
	__u32 k, next, *prev = NULL;

	while (!bpf_map_get_next_key(fd, prev, &next)) {
		k = next;
		prev = &k;
		notice_gone(d, k);
	}
}

/* Into the .bss, which probes add to at the same time. */
static void add_totals(struct cw_totals *to, const struct cw_totals *from)
{
#define ADD(f) __atomic_fetch_add(&to->f, from->f, __ATOMIC_RELAXED)
	ADD(opened);
	ADD(closed);
	ADD(inc);
	ADD(dec);
	ADD(drains);
	ADD(race_windows);
	ADD(preattach_closes);
	ADD(keys_unknown);
	/* not live: the connections of a process gone are open no more */
}

static void add_sock(struct cw_sock_stats *to, const struct cw_sock_stats *from)
{
	int b;

	ADD(opened);
	ADD(closed);
	ADD(closed_by_exit);
	ADD(closed_by_sweep);
	ADD(double_closes);
	ADD(hijacked);
	ADD(closed_unhijacked);
	ADD(duration_sum_ns);
	for (b = 0; b < CW_DURATION_BUCKETS; b++)
		ADD(buckets[b]);
#undef ADD
}

void proc_tables_fold(struct cw_session *s, __u32 tgid)
{
	int totals = bpf_map__fd(s->skel->maps.totals);
	int socks = bpf_map__fd(s->skel->maps.sock_stats);
	struct cw_sock_stats ss;
	struct cw_totals t;
	int i;

	for (i = 0; i < s->nr_targets; i++) {
		struct cw_proc_key k = { .tgid = tgid, .target_id = i };

		if (!bpf_map_lookup_and_delete_elem(totals, &k, &t))
			add_totals(&s->skel->bss->totals_unkeyed[i], &t);
	}
	if (!bpf_map_lookup_and_delete_elem(socks, &tgid, &ss))
		add_sock(&s->skel->bss->sock_unkeyed, &ss);
}

/* What the kernel deletes at an exit it hears of; else, here. */
static void forget(struct cw_daemon *d, __u32 tgid)
{
	struct bpf_map *maps[] = {
		d->sess.skel->maps.watched, d->sess.skel->maps.preexisting,
		d->sess.skel->maps.sock_targets, d->sess.skel->maps.stopped,
	};
	size_t i;

	/* The pid names another process since: its entries are its own. */
	if (proc_exists(tgid))
		return;
	for (i = 0; i < sizeof(maps) / sizeof(maps[0]); i++)
		bpf_map_delete_elem(bpf_map__fd(maps[i]), &tgid);
}

/* Processes whose grace is over: folded, and out of the table. */
static void fold_expired(struct cw_daemon *d, uint64_t now_ns)
{
	uint64_t grace_ns = (uint64_t)d->exited_grace_s * 1000000000ull;
	__u32 folded[FOLD_MAX];
	int i, nr = 0;

	pthread_mutex_lock(&d->lock);
	for (i = 0; i < d->nr_procs && nr < FOLD_MAX; i++) {
		struct proc_state *p = &d->procs[i];

		/* down_ns may be after now_ns: a death noticed in this tick */
		if (p->up || now_ns < p->down_ns + grace_ns ||
		    (d->child && d->child->pid == p->pid))
			continue;
		folded[nr++] = p->pid;
		proc_tables_fold(&d->sess, p->pid);
		d->procs[i--] = d->procs[--d->nr_procs];
	}
	pthread_mutex_unlock(&d->lock);
	for (i = 0; i < nr; i++)
		forget(d, folded[i]);
}

void proc_tables_tick(struct cw_daemon *d, uint64_t now_ns)
{
	if (!d->sess.skel)
		return;
	scan_totals(d);
	scan_sock_stats(d);
	fold_expired(d, now_ns);
	say_full(d);
}
