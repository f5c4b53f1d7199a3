// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Exact anomaly counts under any storm (DESIGN.md §8: a full ring buffer
 * loses details, never counts). The kernel counts every anomaly in the
 * probe, per (process, target, kind), before it reserves a record; user
 * space adds what it judges itself (accounting_drift) and what the
 * LD_PRELOAD shims count. The entries of processes gone are folded into
 * their target's totals in the BPF object's .bss, under the lock a
 * scrape reads them with: no scrape sees a count twice, or not at all.
 *
 * The records themselves are rate-limited per (key, kind) in the kernel;
 * what it folded rides on the next record of that key and kind, or, when
 * none comes, is claimed here once the window is over and logged as the
 * last folded event with the count of those before it.
 */
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/types.h>
#include "connwatch.h"	/* before the skeleton: its .bss types */
#include "connwatch.skel.h"
#include "anomaly_counts.h"
#include "anomalies.h"
#include "daemon.h"
#include "procfs.h"

#define FOLD_MAX	256	/* entries folded per tick: the rest next */

/* LD_PRELOAD shims: their own count, or what their reports said if a
 * snapshot has not caught up yet. Under d->lock. */
static void add_preload(struct cw_daemon *d,
			uint64_t totals[][CW_ANOM__COUNT])
{
	int i, t = d->sess.sockets_target;

	if (t < 0)
		return;
	for (i = 0; i < d->nr_preload; i++) {
		struct preload_counts c;

		preload_read(&d->preload[i], &c);
		totals[t][CW_ANOM_DOUBLE_CLOSE_FD] += c.double_closes;
	}
}

static void add_kernel(struct cw_daemon *d, uint64_t totals[][CW_ANOM__COUNT])
{
	int fd = bpf_map__fd(d->sess.skel->maps.anomaly_counts);
	struct cw_anom_key k, next, *prev = NULL;
	int t, kind;
	__u64 n;

	for (t = 0; t < d->sess.nr_targets; t++)
		for (kind = 0; kind < CW_ANOM__COUNT; kind++)
			totals[t][kind] += __atomic_load_n(
				&d->sess.skel->bss->anomalies_unkeyed[t][kind],
				__ATOMIC_RELAXED);
	while (!bpf_map_get_next_key(fd, prev, &next)) {
		k = next;
		prev = &k;
		if (k.target_id < (uint32_t)d->sess.nr_targets &&
		    k.kind < CW_ANOM__COUNT && !bpf_map_lookup_elem(fd, &k, &n))
			totals[k.target_id][k.kind] += n;
	}
}

void anomaly_totals(struct cw_daemon *d,
		    uint64_t totals[CW_MAX_TARGET_SPECS][CW_ANOM__COUNT])
{
	int t, kind;

	memset(totals, 0, sizeof(uint64_t) * CW_MAX_TARGET_SPECS * CW_ANOM__COUNT);
	pthread_mutex_lock(&d->lock);
	for (t = 0; t < d->sess.nr_targets; t++)
		for (kind = 0; kind < CW_ANOM__COUNT; kind++)
			totals[t][kind] = __atomic_load_n(&d->anomalies[t][kind],
							  __ATOMIC_RELAXED);
	add_preload(d, totals);
	if (d->sess.skel)
		add_kernel(d, totals);
	pthread_mutex_unlock(&d->lock);
}

/*
 * The process is gone: no probe adds to its entries any more (a pid
 * reused since counts for the same target: the totals stay exact).
 */
static void fold_gone(struct cw_daemon *d)
{
	int fd = bpf_map__fd(d->sess.skel->maps.anomaly_counts);
	struct cw_anom_key k, next, *prev = NULL, gone[FOLD_MAX];
	int i, nr = 0;
	__u64 n;

	while (nr < FOLD_MAX && !bpf_map_get_next_key(fd, prev, &next)) {
		k = next;
		prev = &k;
		if (!proc_exists(k.tgid))
			gone[nr++] = k;
	}
	pthread_mutex_lock(&d->lock);
	for (i = 0; i < nr; i++) {
		if (gone[i].target_id >= CW_MAX_TARGET_SPECS ||
		    gone[i].kind >= CW_ANOM__COUNT ||
		    bpf_map_lookup_and_delete_elem(fd, &gone[i], &n))
			continue;
		__atomic_fetch_add(&d->sess.skel->bss->anomalies_unkeyed
				   [gone[i].target_id][gone[i].kind], n,
				   __ATOMIC_RELAXED);
	}
	pthread_mutex_unlock(&d->lock);
}

void anomaly_counts_tick(struct cw_daemon *d)
{
	uint64_t totals[CW_MAX_TARGET_SPECS][CW_ANOM__COUNT];
	int t, kind, level;

	if (d->sess.skel)
		fold_gone(d);
	anomaly_totals(d, totals);
	for (t = 0; t < d->sess.nr_targets; t++)
		for (kind = 0; kind < CW_ANOM__COUNT; kind++) {
			level = 1 + anomaly_is_critical(kind);
			if (totals[t][kind] && d->worst_severity < level)
				d->worst_severity = level;
		}
}

/* Takes what (key, kind) folded: this claim or a record gets it, once. */
static int claim(struct cw_daemon *d, const struct cw_rate_key *k,
		 struct cw_claim *c)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts, .ctx_in = c,
		    .ctx_size_in = sizeof(*c));

	memset(c, 0, sizeof(*c));
	c->key = *k;
	return bpf_prog_test_run_opts(
		bpf_program__fd(d->sess.skel->progs.claim_folded), &opts);
}

/* The last folded event, and how many came before it. */
static void report_claim(struct cw_daemon *d, const struct cw_claim *c)
{
	struct cw_record r = {
		.type = CW_REC_FOLDED,
		.kind = c->key.kind,
		.ts_ns = c->last.ts_ns,
		.tgid = c->key.tgid,
		.tid = c->last.tid,
		.slot = c->last.slot,
		.target_id = c->key.target_id,
		.key = c->last.key,
		.shadow = c->last.shadow,
		.counter = c->last.counter,
		.counter_read = c->last.counter_read,
		.folded = c->folded - 1,
		.folded_ns = c->folded_ns,
	};

	memcpy(r.comm, c->last.comm, sizeof(r.comm));
	anomaly_report(d, &r);
}

void folded_flush(struct cw_daemon *d, uint64_t now_ns, int all)
{
	int fd = bpf_map__fd(d->sess.skel->maps.rates);
	struct cw_rate_key k, next, *prev = NULL;
	struct cw_claim c;
	struct cw_rate v;

	/* A claim deletes nothing: the walk goes on from where it was. */
	while (!bpf_map_get_next_key(fd, prev, &next)) {
		k = next;
		prev = &k;
		if (bpf_map_lookup_elem(fd, &k, &v) || !v.folded ||
		    (!all && now_ns - v.window_ns < CW_RATE_WINDOW_NS))
			continue;
		if (!claim(d, &k, &c) && c.folded)
			report_claim(d, &c);
	}
}
