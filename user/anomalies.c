// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Anomaly kinds, turning a ring buffer record into an alert, and drift. */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/types.h>
#include "connwatch.h"	/* before the skeleton: its .bss types */
#include "connwatch.skel.h"
#include "anomalies.h"
#include "daemon.h"
#include "summary.h"

static const struct {
	const char *name;
	int critical;
} kinds[CW_ANOM__COUNT] = {
	[CW_ANOM_COUNTER_UNDERFLOW] = { "counter_underflow", 1 },
	[CW_ANOM_DUPLICATE_DRAIN] = { "duplicate_drain", 1 },
	[CW_ANOM_CLOSE_OF_CLOSED_CHANNEL] = { "close_of_closed_channel", 1 },
	[CW_ANOM_NEGATIVE_WAITGROUP] = { "negative_waitgroup", 1 },
	[CW_ANOM_DOUBLE_CLOSE_FD] = { "double_close_fd", 1 },
	[CW_ANOM_DRAIN_REARMED] = { "drain_rearmed", 0 },
	[CW_ANOM_DRAIN_WITHOUT_SHUTDOWN] = { "drain_without_shutdown", 0 },
	[CW_ANOM_ACCOUNTING_DRIFT] = { "accounting_drift", 0 },
};

const char *anomaly_kind_name(int kind)
{
	return kind >= 0 && kind < CW_ANOM__COUNT ? kinds[kind].name : "unknown";
}

int anomaly_is_critical(int kind)
{
	return kind >= 0 && kind < CW_ANOM__COUNT && kinds[kind].critical;
}

const char *anomaly_severity(int kind)
{
	return anomaly_is_critical(kind) ? "critical" : "warning";
}

static void describe(struct alert *a, const struct cw_record *r,
		     const char *symbol)
{
	switch (r->kind) {
	case CW_ANOM_COUNTER_UNDERFLOW:
		snprintf(a->message, sizeof(a->message),
			 "connection count went below zero in %s (shadow %lld%s): "
			 "a connection was marked done more often than it began",
			 symbol, (long long)r->shadow,
			 r->counter_read ? ", see counter" : "");
		break;
	case CW_ANOM_DUPLICATE_DRAIN:
		snprintf(a->message, sizeof(a->message),
			 "drain signal %s fired again on an object already "
			 "drained: closing a closed done channel panics",
			 symbol);
		break;
	case CW_ANOM_DRAIN_REARMED:
		snprintf(a->message, sizeof(a->message),
			 "connection began (%s) after the drain signal fired: "
			 "the next time the count reaches zero it drains twice",
			 symbol);
		break;
	case CW_ANOM_DRAIN_WITHOUT_SHUTDOWN:
		snprintf(a->message, sizeof(a->message),
			 "drain signal %s fired while no shutdown was under way "
			 "(the count reached zero while serving)", symbol);
		break;
	case CW_ANOM_DOUBLE_CLOSE_FD:
		snprintf(a->message, sizeof(a->message),
			 "close() of fd %llu, an accepted socket already closed "
			 "(EBADF): one connection was closed twice",
			 (unsigned long long)a->key);
		break;
	default:
		snprintf(a->message, sizeof(a->message), "%s in %s",
			 anomaly_kind_name(r->kind), symbol);
	}
}

/*
 * The main binary's load bias from the hit itself (hit address minus the
 * site's file address; a load bias is page aligned), for symbolizing
 * after the process is gone.
 */
static uint64_t probe_bias(const struct cw_probe *p, uint64_t ip)
{
	size_t i;

	if (p->entry_site >= 0 && !((ip - p->entry_vaddr) & 0xfff))
		return ip - p->entry_vaddr;
	for (i = 0; i < p->exits.nr; i++)
		if (!((ip - p->exits.addr[i]) & 0xfff))
			return ip - p->exits.addr[i];
	for (i = 0; i < p->calls.nr; i++)
		if (!((ip - p->calls.site[i].probe) & 0xfff))
			return ip - p->calls.site[i].probe;
	if (p->branch.probe && !((ip - p->branch.probe) & 0xfff))
		return ip - p->branch.probe;
	return ip - p->vaddr;
}

void alert_symbolize(struct cw_daemon *d, struct alert *a, pid_t pid,
		     const uint64_t *addrs, size_t n, uint64_t bias,
		     int top_is_pc)
{
	size_t i, k = 0;

	/* the frames past the budget are the outermost: the least needed */
	for (i = 0; i < n && k < CW_ALERT_MAX_FRAMES; i++)
		k += symbolize(&d->sym, pid, addrs[i], bias, i || !top_is_pc,
			       a->frames + k, CW_ALERT_MAX_FRAMES - k);
	a->nr_frames = (int)k;
}

/*
 * Frames: the hit, its caller from [sp] (a frame-pointer walk skips it at
 * a function's first instruction, or under a frameless libc wrapper),
 * then the walk. The caller is kept only when it points into code. All
 * but a probe's own hit (ip) are return addresses.
 */
static void fill_stack(struct cw_daemon *d, struct alert *a,
		       const struct cw_record *r, const struct cw_probe *p)
{
	uint32_t i, n = 0, depth = r->nr_frames < CW_STACK_DEPTH ?
				   r->nr_frames : CW_STACK_DEPTH;
	uint64_t addrs[CW_ALERT_MAX_FRAMES];
	uint64_t top = r->ip ? r->ip : (depth ? r->stack[0] : 0);

	if (!top)
		return;
	addrs[n++] = top;
	if (r->caller && !(depth > 1 && r->stack[1] == r->caller) &&
	    symbolizer_in_code(&d->sym, r->tgid, r->caller, p != NULL))
		addrs[n++] = r->caller;
	for (i = 1; i < depth && n < CW_ALERT_MAX_FRAMES; i++)
		addrs[n++] = r->stack[i];
	alert_symbolize(d, a, r->tgid, addrs, n, p ? probe_bias(p, r->ip) : 0,
			r->ip != 0);
}

/* 1,234,567: a count a person reads at a glance. */
static const char *grouped(uint64_t n, char *buf, size_t len)
{
	char digits[24];
	size_t nd = snprintf(digits, sizeof(digits), "%llu",
			     (unsigned long long)n), i, o = 0;

	for (i = 0; i < nd && o + 2 < len; i++) {
		if (i && (nd - i) % 3 == 0)
			buf[o++] = ',';
		buf[o++] = digits[i];
	}
	buf[o] = '\0';
	return buf;
}

/* What the rate limit did with this record and its kind, said so. */
static void note_folded(struct alert *a, const struct cw_record *r)
{
	size_t used = strlen(a->message);
	char n[32], span[48] = "";

	if (r->folded && r->folded_ns >= 1000000000ull)
		snprintf(span, sizeof(span), " in %.1f s", r->folded_ns / 1e9);
	else if (r->folded && r->folded_ns)
		snprintf(span, sizeof(span), " in %.0f ms",
			 r->folded_ns < 1000000 ? 1 : r->folded_ns / 1e6);
	if (r->folded)
		snprintf(a->message + used, sizeof(a->message) - used,
			 "; and %s more like it%s", grouped(r->folded, n,
							    sizeof(n)), span);
	used = strlen(a->message);
	if (r->type == CW_REC_FOLDED)
		snprintf(a->message + used, sizeof(a->message) - used,
			 " (reported when the rate limit let go: no stack)");
}

/* The record's kernel time (CLOCK_MONOTONIC) as wall-clock time. */
static void event_time(struct timespec *ts, uint64_t mono_ns)
{
	struct timespec now, mono;
	uint64_t now_ns, ago;

	clock_gettime(CLOCK_REALTIME, &now);
	clock_gettime(CLOCK_MONOTONIC, &mono);
	*ts = now;
	ago = (uint64_t)mono.tv_sec * 1000000000ull + mono.tv_nsec - mono_ns;
	if (!mono_ns || ago > (uint64_t)now.tv_sec * 1000000000ull)
		return;
	now_ns = (uint64_t)now.tv_sec * 1000000000ull + now.tv_nsec - ago;
	ts->tv_sec = now_ns / 1000000000ull;
	ts->tv_nsec = now_ns % 1000000000ull;
}

/* a->ts, if not set: now. Counting is the caller's: see anomaly_counts.c. */
void alert_raise(struct cw_daemon *d, int target_id, int kind,
		 struct alert *a)
{
	int level = 1 + anomaly_is_critical(kind);

	if (!a->ts.tv_sec)
		clock_gettime(CLOCK_REALTIME, &a->ts);
	a->severity = anomaly_severity(kind);
	a->kind = anomaly_kind_name(kind);
	a->target = preload_target_of(d, (unsigned)a->pid);	/* loop thread */
	if (!a->target)
		a->target = d->sess.target;
	a->source = d->sess.targets[target_id].source;
	alert_deliver(&d->sinks, a);
	if (d->worst_severity < level)
		d->worst_severity = level;
	alert_push_offer(&d->push, a);
	summary_note_alert(d, a);
}

void anomaly_report(struct cw_daemon *d, const struct cw_record *r)
{
	const struct cw_probe *p = NULL;
	struct alert a;

	if (r->kind >= CW_ANOM__COUNT ||
	    r->target_id >= (uint32_t)d->sess.nr_targets)
		return;
	if (r->slot != CW_SLOT_SOCKETS) {
		if (r->slot >= (uint32_t)d->sess.nr_probes)
			return;
		p = &d->sess.probes[r->slot];
	}
	memset(&a, 0, sizeof(a));
	a.pid = r->tgid;
	a.tid = r->tid;
	memcpy(a.comm, r->comm, CW_COMM_LEN);
	a.key = r->key;
	a.shadow = r->shadow;
	a.has_counter = r->counter_read;
	a.counter = r->counter;
	a.probe = p ? p->name : "sockets:close";
	a.folded = r->folded;
	event_time(&a.ts, r->ts_ns);
	fill_stack(d, &a, r, p);
	describe(&a, r, p ? p->sp->symbol : "close");
	note_folded(&a, r);
	alert_raise(d, r->target_id, r->kind, &a);
	/* The probe itself sent SIGSTOP (--on-critical stop). */
	if (r->stopped)
		fprintf(stderr, "connwatch: pid %u is stopped (SIGSTOP) at the "
			"critical event, before it can crash: core it with "
			"`gcore %u`, resume it with `kill -CONT %u`\n",
			r->tgid, r->tgid, r->tgid);
}

static struct drift_state *drift_slot(struct cw_daemon *d,
				      const struct cw_acct_key *k)
{
	int i;

	for (i = 0; i < d->nr_drift; i++)
		if (!memcmp(&d->drift[i].key, k, sizeof(*k)))
			return &d->drift[i];
	if (d->nr_drift == CW_MAX_DRIFT)
		return NULL;
	memset(&d->drift[d->nr_drift], 0, sizeof(d->drift[0]));
	d->drift[d->nr_drift].key = *k;
	return &d->drift[d->nr_drift++];
}

/*
 * The counter view of the drift rule: the shadow (inc - dec), but where
 * it was seeded mid-flight (it may be a step off for good) the real
 * counter, as last read.
 */
static int64_t drift_counter(const struct cw_acct *st)
{
	return st->seeded && st->counter_read ? st->counter_value : st->count;
}

static void drift_alert(struct cw_daemon *d, const struct cw_acct_key *k,
			const struct cw_acct *st, int grace_s)
{
	struct alert a;

	memset(&a, 0, sizeof(a));
	a.pid = k->tgid;
	a.tid = k->tgid;
	proc_comm(k->tgid, a.comm, sizeof(a.comm));
	a.key = k->key;
	a.shadow = st->count;
	a.has_counter = st->counter_read;
	a.counter = st->counter_value;
	a.probe = "drift";
	snprintf(a.message, sizeof(a.message),
		 "open connections (%lld) and the counter (%lld) have "
		 "disagreed by more than %lld for over %d s",
		 (long long)st->live, (long long)drift_counter(st),
		 (long long)d->sess.targets[k->target_id].spec->drift.threshold,
		 grace_s);
	alert_raise(d, k->target_id, CW_ANOM_ACCOUNTING_DRIFT, &a);
	/* Judged here, not in a probe: the kernel has no count of it. */
	__atomic_fetch_add(&d->anomalies[k->target_id][CW_ANOM_ACCOUNTING_DRIFT],
			   1, __ATOMIC_RELAXED);
}

/* Only where both views exist: open/close and inc/dec probes. */
static int can_drift(const struct spec *spec)
{
	return spec && spec_has_role(spec, CW_ROLE_OPEN) &&
	       spec_has_role(spec, CW_ROLE_INC);
}

static void drift_judge(struct cw_daemon *d, const struct cw_acct_key *k,
			const struct cw_acct *st, uint64_t now_ns)
{
	const struct spec *spec = d->sess.targets[k->target_id].spec;
	int64_t diff = st->live - drift_counter(st);
	struct drift_state *ds;

	if (!can_drift(spec) || !st->armed)
		return;
	ds = drift_slot(d, k);
	if (!ds)
		return;
	if ((diff < 0 ? -diff : diff) <= spec->drift.threshold) {
		ds->since_ns = 0;
		ds->reported = 0;
		return;
	}
	if (!ds->since_ns)
		ds->since_ns = now_ns;
	if (!ds->reported &&
	    now_ns - ds->since_ns > (uint64_t)spec->drift.grace_s * 1000000000ull) {
		ds->reported = 1;
		drift_alert(d, k, st, spec->drift.grace_s);
	}
}

void drift_scan(struct cw_daemon *d, uint64_t now_ns)
{
	int fd = bpf_map__fd(d->sess.skel->maps.acct);
	struct cw_acct_key k, next, *prev = NULL;
	struct cw_acct st;
	int t;

	/* A walk of every key costs two syscalls each: only if it can tell. */
	for (t = 0; t < d->sess.nr_targets && !can_drift(d->sess.targets[t].spec); t++)
		;
	if (t == d->sess.nr_targets)
		return;
	while (!bpf_map_get_next_key(fd, prev, &next)) {
		k = next;
		prev = &k;
		if (k.target_id >= (uint32_t)d->sess.nr_targets ||
		    bpf_map_lookup_elem(fd, &k, &st))
			continue;
		drift_judge(d, &k, &st, now_ns);
	}
}
