// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Prometheus exposition. Nothing is pushed to user space per event: a
 * scrape reads the counts per (source, pid) from the totals map, which
 * nothing evicts, and each source's own (processes folded, tables full);
 * the labels come from labels.c.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/types.h>
#include "connwatch.h"	/* before the skeleton: its .bss types */
#include "connwatch.skel.h"
#include "anomaly_counts.h"
#include "anomalies.h"
#include "daemon.h"
#include "labels.h"
#include "metrics.h"
#include "procfs.h"
#include "proc_tables.h"
#include "web_config.h"
#include "grow.h"


/* Rows, grown as the maps are walked. */
struct rows {
	struct metrics_row *row;
	int nr, cap;
};

/* A new row: every (target, pid) comes from one entry of one map. */
static struct metrics_row *row_add(struct rows *rs, uint32_t target_id,
				   uint32_t tgid)
{
	if (GROW_ROOM(rs->row, rs->nr, rs->cap, 64))
		return NULL;
	memset(&rs->row[rs->nr], 0, sizeof(rs->row[0]));
	rs->row[rs->nr].target_id = target_id;
	rs->row[rs->nr].tgid = tgid;
	return &rs->row[rs->nr++];
}

/* Accepted sockets of one process, from the tracepoints or the shim. */
static struct metrics_row *add_socket_row(struct cw_daemon *d,
					  struct rows *rs, uint32_t tgid,
					  const struct cw_sock_stats *st)
{
	struct metrics_row *r = row_add(rs, d->sess.sockets_target, tgid);

	if (!r)
		return NULL;
	r->sum.opened = st->opened;
	r->sum.closed = st->closed;
	r->sum.live = st->opened - st->closed;
	r->sock = *st;
	r->has_durations = 1;
	return r;
}

/*
 * go-net-http: the same sockets as net/http counts them: a hijacked one
 * closed at its hijack. Two counters that only grow, so a scrape that
 * reads them while a close moves them never sees closed go back.
 */
static void add_net_http_row(struct cw_daemon *d, struct rows *rs,
			     uint32_t tgid, const struct cw_sock_stats *st)
{
	struct metrics_row *r = row_add(rs, session_net_http_target(&d->sess),
					tgid);

	if (!r)
		return;
	r->sum.opened = st->opened;
	r->sum.closed = st->hijacked + st->closed_unhijacked;
	r->sum.live = r->sum.opened - r->sum.closed;
}

/* The rows of one process' sockets: each target that counts them. */
static void add_sock_rows(struct cw_daemon *d, struct rows *rs, uint32_t tgid,
			  const struct cw_sock_stats *st)
{
	if (d->sess.sockets_target >= 0)
		add_socket_row(d, rs, tgid, st);
	if (session_net_http_target(&d->sess) >= 0)
		add_net_http_row(d, rs, tgid, st);
}

/* Accepted sockets: their own per-process map, then the target's own. */
static void collect_sockets(struct cw_daemon *d, struct rows *rs)
{
	int fd = bpf_map__fd(d->sess.skel->maps.sock_stats);
	__u32 k, next, *prev = NULL;
	struct cw_sock_stats st;

	while (!bpf_map_get_next_key(fd, prev, &next)) {
		k = next;
		prev = &k;
		if (!bpf_map_lookup_elem(fd, &k, &st))
			add_sock_rows(d, rs, k, &st);
	}
	st = d->sess.skel->bss->sock_unkeyed;
	if (st.opened || st.closed)
		add_sock_rows(d, rs, 0, &st);
}

/* Sockets counted by the LD_PRELOAD shim: the same rows. */
static void collect_preload(struct cw_daemon *d, struct rows *rs)
{
	struct metrics_row *r;
	int i;

	pthread_mutex_lock(&d->lock);
	for (i = 0; i < d->nr_preload; i++) {
		struct preload_counts c;
		struct cw_sock_stats st;

		if (!d->preload[i].seen)
			continue;
		preload_read(&d->preload[i], &c);
		st = (struct cw_sock_stats){
			.opened = c.opened, .closed = c.closed,
			.closed_by_exit = c.closed_by_exit,
			.double_closes = c.double_closes,
			.duration_sum_ns = c.duration_sum_ns,
		};
		memcpy(st.buckets, c.duration_buckets, sizeof(st.buckets));
		r = add_socket_row(d, rs, d->preload[i].pid, &st);
		if (r)	/* the slot's name is kept while the daemon runs */
			r->target = preload_target_of(d, d->preload[i].pid);
	}
	pthread_mutex_unlock(&d->lock);
}

static int totals_nonzero(const struct cw_totals *t)
{
	return t->opened || t->closed || t->inc || t->dec || t->drains ||
	       t->preattach_closes || t->keys_unknown;
}

/* The counts of each (process, target), then each target's own. */
static void collect_totals(struct cw_daemon *d, struct rows *rs)
{
	int fd = bpf_map__fd(d->sess.skel->maps.totals);
	struct cw_proc_key k, next, *prev = NULL;
	struct metrics_row *r;
	struct cw_totals t;
	int i;

	while (!bpf_map_get_next_key(fd, prev, &next)) {
		k = next;
		prev = &k;
		if (k.target_id >= (uint32_t)d->sess.nr_targets ||
		    bpf_map_lookup_elem(fd, &k, &t))
			continue;
		r = row_add(rs, k.target_id, k.tgid);
		if (r)
			r->sum = t;
	}
	for (i = 0; i < d->sess.nr_targets; i++) {
		t = d->sess.skel->bss->totals_unkeyed[i];
		if (totals_nonzero(&t) && (r = row_add(rs, i, 0)))
			r->sum = t;
	}
}

int metrics_collect(struct cw_daemon *d, struct metrics_row **rows)
{
	struct rows rs = { 0 };

	collect_preload(d, &rs);
	if (d->sess.skel) {
		/* As the fold of processes gone leaves them: proc_tables.c */
		pthread_mutex_lock(&d->lock);
		collect_totals(d, &rs);
		if (session_sock_target(&d->sess) >= 0)
			collect_sockets(d, &rs);
		pthread_mutex_unlock(&d->lock);
	}
	*rows = rs.row;
	return rs.nr;
}

static void help(FILE *f, const char *name, const char *type,
		 const char *text)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, text, name, type);
}

#define ROW_FIELDS(X) \
	X(connwatch_connections_opened_total, counter, opened, \
	  "Connections opened (open probe hits).") \
	X(connwatch_connections_closed_total, counter, closed, \
	  "Connections closed (close probe hits).") \
	X(connwatch_connections_open, gauge, live, \
	  "Connections open now: opened - closed.") \
	X(connwatch_counter_increments_total, counter, inc, \
	  "Connection counter increments (inc probe hits).") \
	X(connwatch_counter_decrements_total, counter, dec, \
	  "Connection counter decrements (dec probe hits).") \
	X(connwatch_drain_signals_total, counter, drains, \
	  "Drain (all connections done) signals.") \
	X(connwatch_race_windows_total, counter, race_windows, \
	  "Times two threads were inside dec at once with the count <= 2.") \
	X(connwatch_preattach_closes_total, counter, preattach_closes, \
	  "Decrements of connections that began before connwatch attached.") \
	X(connwatch_keys_unknown_total, counter, keys_unknown, \
	  "Closes and decrements of a key not in the detection table (evicted: " \
	  "more than --max-keys open): counted, never judged.")

/* metric{target,source,pid} value: a series one source counts. */
static void put_row(FILE *f, const char *metric, struct cw_daemon *d,
		    const struct metrics_row *r, long long value)
{
	fprintf(f, "%s{", metric);
	labels_series(f, &d->sess, r->target, r->target_id, r->tgid);
	fprintf(f, "} %lld\n", value);
}

static void write_rows(FILE *f, struct cw_daemon *d, const struct metrics_row *rows,
		       int nr)
{
	int i;

#define X(metric, type, field, text) \
	help(f, #metric, #type, text); \
	for (i = 0; i < nr; i++) \
		put_row(f, #metric, d, &rows[i], rows[i].sum.field);
	ROW_FIELDS(X)
#undef X
	help(f, "connwatch_counter_value", "gauge",
	     "The real counter, read from the target's memory at the last hit.");
	for (i = 0; i < nr; i++)
		if (rows[i].sum.counter_read)
			put_row(f, "connwatch_counter_value", d, &rows[i],
				rows[i].sum.counter_value);
}

static int proc_up(struct cw_daemon *d, pid_t pid)
{
	int i;

	for (i = 0; i < d->nr_procs; i++)
		if (d->procs[i].pid == pid)
			return d->procs[i].up;
	/* Seen in the maps before the loop's next look: ask /proc. */
	return -1;
}

static void write_durations(FILE *f, struct cw_daemon *d,
			    const struct metrics_row *rows, int nr)
{
	static const uint64_t bounds[] = CW_DURATION_BOUNDS_NS;
	int i, b;

	help(f, "connwatch_connection_duration_seconds", "histogram",
	     "How long accepted sockets stayed open (sockets preset).");
	for (i = 0; i < nr; i++) {
		const struct metrics_row *r = &rows[i];
		uint64_t cumulative = 0;

		if (!r->has_durations)
			continue;
		for (b = 0; b < CW_DURATION_BUCKETS; b++) {
			char le[32];

			cumulative += r->sock.buckets[b];
			if (b < CW_DURATION_BUCKETS - 1)
				snprintf(le, sizeof(le), "%g", bounds[b] / 1e9);
			else
				snprintf(le, sizeof(le), "+Inf");
			fprintf(f, "connwatch_connection_duration_seconds_bucket{");
			labels_series(f, &d->sess, r->target, r->target_id, r->tgid);
			fprintf(f, ",le=\"%s\"} %llu\n", le,
				(unsigned long long)cumulative);
		}
		fprintf(f, "connwatch_connection_duration_seconds_sum{");
		labels_series(f, &d->sess, r->target, r->target_id, r->tgid);
		fprintf(f, "} %.9f\n", r->sock.duration_sum_ns / 1e9);
		put_row(f, "connwatch_connection_duration_seconds_count", d, r,
			cumulative);
	}
}

/* One counter of the socket rows: the cw_sock_stats field at off. */
static void write_socket_counter(FILE *f, struct cw_daemon *d,
				 const struct metrics_row *rows, int nr,
				 const char *name, size_t off, const char *text)
{
	int i;

	help(f, name, "counter", text);
	for (i = 0; i < nr; i++)
		if (rows[i].has_durations)
			put_row(f, name, d, &rows[i], *(const __u64 *)
				((const char *)&rows[i].sock + off));
}

/*
 * Sockets that went with no close: by their process' end (a crash's
 * dropped connections), or found gone by the sweep. Both are in
 * connections_closed_total too.
 */
static void write_socket_reconciled(FILE *f, struct cw_daemon *d,
				    const struct metrics_row *rows, int nr)
{
	write_socket_counter(f, d, rows, nr,
		"connwatch_connections_closed_by_exit_total",
		offsetof(struct cw_sock_stats, closed_by_exit),
		"Accepted sockets still open when their process ended (in "
		"connections_closed_total too).");
	if (!d->sess.skel || d->sess.sockets_target < 0)
		return;		/* the shim: no sweep */
	write_socket_counter(f, d, rows, nr,
		"connwatch_connections_closed_by_sweep_total",
		offsetof(struct cw_sock_stats, closed_by_sweep),
		"Accepted sockets that went with no event the kernel side "
		"follows (exec, close_range with flags), found by the sweep of "
		"/proc/PID/fd (in connections_closed_total too).");
	help(f, "connwatch_socket_sweep_lag_seconds", "gauge",
	     "Time since the last completed sweep of the fd tables began: how "
	     "late a socket that went with no event may be counted (-1: none "
	     "yet). One sweep every 2 s.");
	fprintf(f, "connwatch_socket_sweep_lag_seconds{");
	labels_put(f, "target", d->sess.target);
	fprintf(f, "} %.3f\n", sock_sweep_lag_seconds(d, daemon_now_ns()));
}

static void put_up(FILE *f, struct cw_daemon *d, unsigned pid, int up)
{
	fprintf(f, "connwatch_target_up{");
	labels_process(f, &d->sess, preload_target_of(d, pid), pid);
	fprintf(f, "} %d\n", up);
}

/* Rows of one pid, one per source: its target_up comes with the first. */
static int pid_seen_before(const struct metrics_row *rows, int i)
{
	int j;

	for (j = 0; j < i; j++)
		if (rows[j].tgid == rows[i].tgid)
			return 1;
	return 0;
}

/* One connwatch_target_up per process, whatever its sources. */
static void write_targets(FILE *f, struct cw_daemon *d, const struct metrics_row *rows,
			  int nr)
{
	int i;

	help(f, "connwatch_target_up", "gauge",
	     "1 while the watched process runs, 0 once it exited.");
	pthread_mutex_lock(&d->lock);
	for (i = 0; i < d->nr_procs; i++)
		put_up(f, d, d->procs[i].pid, d->procs[i].up);
	for (i = 0; i < nr; i++)
		if (rows[i].tgid && proc_up(d, rows[i].tgid) < 0 &&
		    !pid_seen_before(rows, i))
			put_up(f, d, rows[i].tgid, proc_exists(rows[i].tgid));
	pthread_mutex_unlock(&d->lock);
}

static void put_anomalies(FILE *f, const char *target, const uint64_t *by_kind)
{
	int k;

	for (k = 0; k < CW_ANOM__COUNT; k++) {
		fprintf(f, "connwatch_anomalies_total{");
		labels_put(f, "target", target);
		fprintf(f, ",kind=\"%s\",severity=\"%s\"} %llu\n",
			anomaly_kind_name(k), anomaly_severity(k),
			(unsigned long long)by_kind[k]);
	}
}

/* A seen shim's target: its binary's, or the session's. Under d->lock. */
static const char *shim_target(const struct cw_daemon *d, int i)
{
	return d->preload[i].target[0] ? d->preload[i].target : d->sess.target;
}

/* The double closes the shims of target name counted. Under d->lock. */
static void put_binary_anomalies(FILE *f, const struct cw_daemon *d,
				 const char *name)
{
	uint64_t by_kind[CW_ANOM__COUNT] = { 0 };
	struct preload_counts c;
	int i;

	for (i = 0; i < d->nr_preload; i++) {
		if (!d->preload[i].seen || strcmp(shim_target(d, i), name))
			continue;
		preload_read(&d->preload[i], &c);
		by_kind[CW_ANOM_DOUBLE_CLOSE_FD] += c.double_closes;
	}
	put_anomalies(f, name, by_kind);
}

/* Whether shim i is the first shown of a target other than the session's. */
static int first_of_its_target(const struct cw_daemon *d, int i)
{
	const char *name = shim_target(d, i);
	int j;

	if (!d->preload[i].seen || !strcmp(name, d->sess.target))
		return 0;
	for (j = 0; j < i; j++)
		if (d->preload[j].seen && !strcmp(shim_target(d, j), name))
			return 0;
	return 1;
}

/*
 * collect naming each process by its binary: the shims count double
 * closes only (on their pages), summed per binary; the session's target
 * (the collector's own series) always, with the processes it could not
 * name. Under d->lock.
 */
static void write_anomalies_by_binary(FILE *f, struct cw_daemon *d)
{
	int i;

	put_binary_anomalies(f, d, d->sess.target);
	for (i = 0; i < d->nr_preload; i++)
		if (first_of_its_target(d, i))
			put_binary_anomalies(f, d, shim_target(d, i));
}

/*
 * Every kind once per target, summed over its sources, 0 included: an
 * increase() rule sees the first anomaly only against an earlier 0.
 */
static void write_anomalies(FILE *f, struct cw_daemon *d)
{
	uint64_t totals[CW_MAX_TARGET_SPECS][CW_ANOM__COUNT], sum[CW_ANOM__COUNT];
	int t, k;

	help(f, "connwatch_anomalies_total", "counter",
	     "Anomalies detected, by kind and severity: counted where they "
	     "are detected, exact whatever the ring buffer drops or the "
	     "rate limit folds.");
	if (d->preload_by_binary) {
		pthread_mutex_lock(&d->lock);
		write_anomalies_by_binary(f, d);
		pthread_mutex_unlock(&d->lock);
		return;
	}
	anomaly_totals(d, totals);
	for (k = 0; k < CW_ANOM__COUNT; k++)
		for (sum[k] = 0, t = 0; t < d->sess.nr_targets; t++)
			sum[k] += totals[t][k];
	put_anomalies(f, d->sess.target, sum);
}

static void write_push(FILE *f, struct cw_daemon *d)
{
	const struct outbox *sinks[] = { d->push.alertmanager, d->push.hook };
	const char *names[] = { "alertmanager", "hook" };
	size_t i;

	help(f, "connwatch_alerts_pushed_total", "counter",
	     "Alerts delivered to Alertmanager or the --on-alert hook.");
	for (i = 0; i < 2; i++)
		if (sinks[i])
			fprintf(f, "connwatch_alerts_pushed_total{sink=\"%s\"} %llu\n",
				names[i],
				(unsigned long long)alert_push_sent(sinks[i]));
	help(f, "connwatch_alert_push_failures_total", "counter",
	     "Alerts a sink gave up on after retries, or dropped (queue full).");
	for (i = 0; i < 2; i++)
		if (sinks[i])
			fprintf(f, "connwatch_alert_push_failures_total{sink=\"%s\"} %llu\n",
				names[i],
				(unsigned long long)alert_push_failed(sinks[i]));
}

static uint64_t events_lost(struct cw_daemon *d)
{
	uint64_t lost = 0;
	int i;

	if (d->sess.skel)
		lost = __atomic_load_n(&d->sess.skel->bss->records_lost,
				       __ATOMIC_RELAXED);
	pthread_mutex_lock(&d->lock);
	for (i = 0; i < d->nr_preload; i++) {
		struct preload_counts c;

		preload_read(&d->preload[i], &c);
		lost += c.dropped;
	}
	pthread_mutex_unlock(&d->lock);
	return lost;
}

static uint64_t probe_hits(struct cw_daemon *d, uint32_t slot)
{
	int ncpu = libbpf_num_possible_cpus();
	uint64_t *per_cpu, total = 0;
	int i;

	if (ncpu <= 0 || !(per_cpu = calloc(ncpu, sizeof(*per_cpu))))
		return 0;
	if (!bpf_map_lookup_elem(bpf_map__fd(d->sess.skel->maps.probe_hits),
				 &slot, per_cpu))
		for (i = 0; i < ncpu; i++)
			total += per_cpu[i];
	free(per_cpu);
	return total;
}

/*
 * The sockets preset and the LD_PRELOAD shim count with no uprobe: one
 * row for each. Tracepoints: 1 when all four are attached. The shim under
 * `run`: 1 once it is mapped in the command. Under `collect`, whose
 * services start on their own: 1, the report socket is bound.
 */
static void write_socket_probe(FILE *f, struct cw_daemon *d)
{
	const char *probe = "sockets:tracepoints";
	int attached = d->sess.sockets_attached;
	int target = session_sock_target(&d->sess);

	if (target < 0)
		return;
	if (d->preload_fd >= 0) {
		probe = d->child ? "preload:shim" : "preload:socket";
		attached = d->child ? d->shim_loaded : 1;
	}
	fprintf(f, "connwatch_probe_attached{");
	labels_probe(f, &d->sess, target, probe);
	fprintf(f, "} %d\n", attached);
}

static void write_probes(FILE *f, struct cw_daemon *d)
{
	int i;

	help(f, "connwatch_probe_attached", "gauge",
	     "1 when every uprobe (or tracepoint, or the LD_PRELOAD shim) of "
	     "the probe is in place.");
	write_socket_probe(f, d);
	for (i = 0; i < d->sess.nr_probes; i++) {
		const struct cw_probe *p = &d->sess.probes[i];

		if (p->absent)	/* optional, not in this binary: not a probe */
			continue;
		fprintf(f, "connwatch_probe_attached{");
		labels_probe(f, &d->sess, p->target_id, p->name);
		fprintf(f, "} %d\n", p->links > 0 && !p->link_errors);
	}
	help(f, "connwatch_probe_hits_total", "counter",
	     "Calls of the probed function seen.");
	for (i = 0; i < d->sess.nr_probes; i++) {
		const struct cw_probe *p = &d->sess.probes[i];

		if (p->absent)
			continue;
		fprintf(f, "connwatch_probe_hits_total{");
		labels_probe(f, &d->sess, p->target_id, p->name);
		fprintf(f, "} %llu\n", (unsigned long long)probe_hits(d, i));
	}
}

/* Inserts a full table refused: the rest went to the targets' totals. */
static void write_tables(FILE *f, struct cw_daemon *d)
{
	int i;

	if (!d->sess.skel)
		return;
	help(f, "connwatch_table_full_total", "counter",
	     "Inserts refused by a full table (--max-processes): their counts "
	     "went to the target's series without a pid.");
	for (i = 0; i < CW_TABLE__COUNT; i++)
		fprintf(f, "connwatch_table_full_total{table=\"%s\"} %llu\n",
			proc_table_name(i), (unsigned long long)__atomic_load_n(
				&d->sess.skel->bss->table_full[i],
				__ATOMIC_RELAXED));
}

char *metrics_render(void *daemon, size_t *len)
{
	struct cw_daemon *d = daemon;
	struct metrics_row *rows;
	char *text = NULL;
	FILE *f;
	int nr;

	f = open_memstream(&text, len);
	if (!f)
		return NULL;
	nr = metrics_collect(d, &rows);
	help(f, "connwatch_build_info", "gauge", "connwatch version.");
	fprintf(f, "connwatch_build_info{version=\"%s\"} 1\n", CW_VERSION);
	help(f, "connwatch_capabilities_info", "gauge",
	     "The capabilities connwatch kept once its probes were attached.");
	fprintf(f, "connwatch_capabilities_info{kept=\"%s\"} 1\n", d->caps);
	write_targets(f, d, rows, nr);
	write_rows(f, d, rows, nr);
	write_durations(f, d, rows, nr);
	write_socket_reconciled(f, d, rows, nr);
	write_anomalies(f, d);
	write_push(f, d);
	write_probes(f, d);
	preload_write_metrics(f, d);
	write_tables(f, d);
	help(f, "connwatch_events_lost_total", "counter",
	     "Records dropped: ring buffer full, or the preload shim could not send.");
	fprintf(f, "connwatch_events_lost_total %llu\n",
		(unsigned long long)events_lost(d));
	fclose(f);
	free(rows);
	return text;
}

static enum MHD_Result respond(struct MHD_Connection *conn, unsigned code,
			       char *body, size_t len, const char *type)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	resp = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, "Content-Type", type);
	ret = MHD_queue_response(conn, code, resp);
	MHD_destroy_response(resp);
	return ret;
}

struct metrics_server {
	struct MHD_Daemon *mhd;	/* NULL until metrics_serve */
	int fd;			/* bound; listening from metrics_serve */
	metrics_render_fn render;
	void *ctx;
	struct web_config *web;	/* --web.config.file, or NULL */
	char address[64];	/* as bound */
};

/* Basic credentials that match basic_auth_users. */
static int authorized(const struct metrics_server *s,
		      struct MHD_Connection *conn)
{
	char *password = NULL;
	char *user = MHD_basic_auth_get_username_password(conn, &password);
	int ok = user && web_config_check_user(s->web, user,
					       password ? password : "");

	if (password) {
		explicit_bzero(password, strlen(password));
		MHD_free(password);
	}
	MHD_free(user);
	return ok;
}

/* 401 with WWW-Authenticate: Basic realm="connwatch". */
static enum MHD_Result deny(struct MHD_Connection *conn)
{
	static const char body[] = "unauthorized\n";
	struct MHD_Response *resp;
	enum MHD_Result ret;

	resp = MHD_create_response_from_buffer(sizeof(body) - 1, (void *)body,
					       MHD_RESPMEM_PERSISTENT);
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, "Content-Type", "text/plain");
	ret = MHD_queue_basic_auth_fail_response(conn, "connwatch", resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn,
			      const char *url, const char *method,
			      const char *version, const char *upload,
			      size_t *upload_len, void **con_cls)
{
	struct metrics_server *s = cls;
	size_t len = 0;
	char *body;

	(void)version; (void)upload; (void)upload_len; (void)con_cls;
	if (metrics_auth(s) && !authorized(s, conn))
		return deny(conn);
	if (strcmp(method, "GET") && strcmp(method, "HEAD"))
		return respond(conn, 405, strdup("method not allowed\n"), 19,
			       "text/plain");
	if (strcmp(url, "/metrics")) {
		body = strdup("connwatch: metrics at /metrics\n");
		return respond(conn, strcmp(url, "/") ? 404 : 200, body,
			       body ? strlen(body) : 0, "text/plain");
	}
	body = s->render(s->ctx, &len);
	if (!body)
		return MHD_NO;
	return respond(conn, 200, body, len,
		       "text/plain; version=0.0.4; charset=utf-8");
}

/* Bound, not listening: connections are refused until metrics_serve. */
static int bind_socket(const char *listen_addr, char *err, size_t errlen)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	char host[64];
	const char *colon = strrchr(listen_addr, ':');
	long port;
	char *end;
	int fd, one = 1;

	port = colon ? strtol(colon + 1, &end, 10) : -1;
	if (!colon || colon == listen_addr || *end || port < 0 || port > 65535 ||
	    (size_t)(colon - listen_addr) >= sizeof(host)) {
		snprintf(err, errlen, "--listen %s: expected ADDR:PORT", listen_addr);
		return -1;
	}
	memcpy(host, listen_addr, colon - listen_addr);
	host[colon - listen_addr] = '\0';
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
		snprintf(err, errlen, "--listen %s: '%s' is not an IPv4 address",
			 listen_addr, host);
		return -1;
	}
	sa.sin_port = htons(port);
	/* SO_REUSEADDR still refuses a port something listens on. */
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		snprintf(err, errlen, "cannot listen on %s: %s", listen_addr,
			 strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* TLS 1.2 and 1.3 only, as exporter-toolkit's default min_version. */
#define TLS_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"

/* Where fd is bound, for messages (a port 0 was picked by the kernel). */
static void bound_address(int fd, char *buf, size_t len)
{
	struct sockaddr_in sa;
	socklen_t n = sizeof(sa);
	char host[INET_ADDRSTRLEN] = "?";

	if (getsockname(fd, (struct sockaddr *)&sa, &n))
		return;
	inet_ntop(AF_INET, &sa.sin_addr, host, sizeof(host));
	snprintf(buf, len, "%s:%d", host, ntohs(sa.sin_port));
}

static int uses_tls(const struct metrics_server *s)
{
	return s->web && s->web->cert_pem;
}

/* A libmicrohttpd daemon on fd (listening), or on no socket if fd < 0. */
static struct MHD_Daemon *mhd_start(struct metrics_server *s, unsigned flags,
				    int fd)
{
	struct MHD_OptionItem opts[6] = {
		{ MHD_OPTION_CONNECTION_TIMEOUT, 10, NULL },
	};
	int n = 1;

	if (fd >= 0)
		opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_LISTEN_SOCKET,
						     fd, NULL };
	else
		flags |= MHD_USE_NO_LISTEN_SOCKET;
	if (uses_tls(s)) {
		flags |= MHD_USE_TLS;
		opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_KEY, 0,
						     s->web->key_pem };
		opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_CERT, 0,
						     s->web->cert_pem };
		opts[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_PRIORITIES,
						     0, TLS_PRIORITIES };
	}
	opts[n] = (struct MHD_OptionItem){ MHD_OPTION_END, 0, NULL };
	return MHD_start_daemon(flags, 0, NULL, NULL, handle, s,
				MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
}

/*
 * The key and certificate are only tried when a daemon starts: start one
 * that listens on nothing and runs no thread, so that a key that is not
 * the certificate's stops connwatch before it attaches.
 */
static int check_tls(struct metrics_server *s, const char *listen_addr,
		     char *err, size_t errlen)
{
	struct MHD_Daemon *mhd;

	if (!uses_tls(s))
		return 0;
	if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
		snprintf(err, errlen, "%s: this libmicrohttpd cannot serve TLS",
			 s->web->path);
		return -1;
	}
	mhd = mhd_start(s, 0, -1);
	if (!mhd) {
		snprintf(err, errlen, "cannot serve metrics on %s with TLS: %s "
			 "or %s rejected (not PEM, or a key that is not the "
			 "certificate's)", listen_addr, s->web->cert_file,
			 s->web->key_file);
		return -1;
	}
	MHD_stop_daemon(mhd);
	return 0;
}

struct metrics_server *metrics_bind(const char *listen_addr,
				    struct web_config *web, char *err,
				    size_t errlen)
{
	struct metrics_server *s = calloc(1, sizeof(*s));

	if (!s) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->web = web;
	if (check_tls(s, listen_addr, err, errlen))
		goto fail;
	s->fd = bind_socket(listen_addr, err, errlen);
	if (s->fd < 0)
		goto fail;
	bound_address(s->fd, s->address, sizeof(s->address));
	return s;
fail:
	free(s);
	return NULL;
}

int metrics_serve(struct metrics_server *s, metrics_render_fn render,
		  void *ctx, char *err, size_t errlen)
{
	/* Set before the server thread exists: it reads them unlocked. */
	s->render = render;
	s->ctx = ctx;
	if (listen(s->fd, 64)) {
		snprintf(err, errlen, "cannot listen on %s: %s", s->address,
			 strerror(errno));
		return -1;
	}
	s->mhd = mhd_start(s, MHD_USE_INTERNAL_POLLING_THREAD, s->fd);
	if (!s->mhd) {
		snprintf(err, errlen, "cannot serve metrics on %s", s->address);
		return -1;
	}
	return 0;
}

void metrics_stop(struct metrics_server *s)
{
	if (!s)
		return;
	/* Joins the server thread, which closes fd: no render after this. */
	if (s->mhd)
		MHD_stop_daemon(s->mhd);
	else
		close(s->fd);
	web_config_free(s->web);
	free(s);
}

const char *metrics_scheme(const struct metrics_server *s)
{
	return s && s->web && s->web->cert_pem ? "https" : "http";
}

const char *metrics_address(const struct metrics_server *s)
{
	return s->address;
}

int metrics_auth(const struct metrics_server *s)
{
	return s && s->web && s->web->nr_users;
}
