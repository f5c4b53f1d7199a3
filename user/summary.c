// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The live summary of `connwatch attach` on a terminal: every process
 * with its connections, counter and anomalies, and the latest alerts,
 * redrawn in place each second. Not a TTY, or --json: plain lines only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "anomaly_counts.h"
#include "daemon.h"
#include "metrics.h"
#include "summary.h"

int summary_wanted(int json)
{
	const char *term = getenv("TERM");

	return !json && isatty(STDERR_FILENO) && term && strcmp(term, "dumb");
}

void summary_note_alert(struct cw_daemon *d, const struct alert *a)
{
	char when[16];
	struct tm tm;

	localtime_r(&a->ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%H:%M:%S", &tm);
	snprintf(d->recent[d->nr_alerts % CW_RECENT_ALERTS],
		 sizeof(d->recent[0]), "%s %-8s %-24s pid %-7d %.60s", when,
		 a->severity, a->kind, a->pid,
		 a->nr_frames ? a->frames[0] : "");
	d->nr_alerts++;
}

static unsigned long anomalies_of(struct cw_daemon *d, int target)
{
	uint64_t totals[CW_MAX_TARGET_SPECS][CW_ANOM__COUNT];
	unsigned long n = 0;
	int k;

	anomaly_totals(d, totals);
	for (k = 0; k < CW_ANOM__COUNT; k++)
		n += totals[target][k];
	return n;
}

static void draw_rows(struct cw_daemon *d, const struct metrics_row *rows,
		      int nr)
{
	int i;

	fprintf(stderr, "%-18s %8s %10s %10s %7s %10s %7s %9s\n", "SOURCE",
		"PID", "OPENED", "CLOSED", "OPEN", "COUNTER", "DRAINS",
		"ANOMALIES");
	for (i = 0; i < nr && i < 20; i++) {
		const struct metrics_row *r = &rows[i];
		char counter[24] = "-";

		if (r->sum.counter_read)
			snprintf(counter, sizeof(counter), "%lld",
				 (long long)r->sum.counter_value);
		fprintf(stderr, "%-18.18s %8u %10lld %10lld %7lld %10s %7lld %9lu\n",
			d->sess.targets[r->target_id].source, r->tgid,
			(long long)r->sum.opened, (long long)r->sum.closed,
			(long long)r->sum.live, counter,
			(long long)r->sum.drains, anomalies_of(d, r->target_id));
	}
	if (!nr)
		fprintf(stderr, "(no probe has fired yet)\n");
}

void summary_draw(struct cw_daemon *d)
{
	struct metrics_row *rows;
	unsigned long i, first;
	int nr;

	nr = metrics_collect(d, &rows);
	/* Home, clear: one screen, redrawn in place. */
	fprintf(stderr, "\033[H\033[2J");
	fprintf(stderr, "connwatch %s  %s (target %s)  %d probe%s  alerts: %lu  "
		"(Ctrl-C to detach)\n\n", CW_VERSION, d->sess.binary, d->sess.target,
		d->sess.nr_probes, d->sess.nr_probes == 1 ? "" : "s",
		d->nr_alerts);
	draw_rows(d, rows, nr);
	fprintf(stderr, "\nrecent alerts (full record in the alert log):\n");
	first = d->nr_alerts > CW_RECENT_ALERTS ? d->nr_alerts - CW_RECENT_ALERTS : 0;
	for (i = first; i < d->nr_alerts; i++)
		fprintf(stderr, "  %s\n", d->recent[i % CW_RECENT_ALERTS]);
	if (!d->nr_alerts)
		fprintf(stderr, "  none\n");
	fflush(stderr);
	free(rows);
}
