/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Anomaly records to alerts (anomalies.c): their kinds, the stacks, the
 * delivery, and accounting_drift, which is judged in user space.
 */
#ifndef CW_ANOMALIES_H
#define CW_ANOMALIES_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <linux/types.h>
#include "../bpf/connwatch.h"
#include "alert_sinks.h"

struct cw_daemon;

const char *anomaly_kind_name(int kind);
const char *anomaly_severity(int kind);
int anomaly_is_critical(int kind);
void anomaly_report(struct cw_daemon *d, const struct cw_record *r);
/* Fills the alert's severity, kind, target and time, and delivers it. */
void alert_raise(struct cw_daemon *d, int target_id, int kind,
		 struct alert *a);
/* addrs[0] is a pc when top_is_pc, else a return address like the rest. */
void alert_symbolize(struct cw_daemon *d, struct alert *a, pid_t pid,
		     const uint64_t *addrs, size_t n, uint64_t bias,
		     int top_is_pc);
void drift_scan(struct cw_daemon *d, uint64_t now_ns);

#endif
