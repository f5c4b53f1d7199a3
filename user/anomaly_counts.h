/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Exact anomaly counts, and the records the kernel's rate limit folded. */
#ifndef CW_ANOMALY_COUNTS_H
#define CW_ANOMALY_COUNTS_H

#include <stdint.h>
#include <linux/types.h>
#include "../bpf/connwatch.h"

struct cw_daemon;

/* Every anomaly so far, per target and kind: the kernel's counts, the
 * ones judged in user space and the LD_PRELOAD shims'. */
void anomaly_totals(struct cw_daemon *d,
		    uint64_t totals[CW_MAX_TARGET_SPECS][CW_ANOM__COUNT]);
/* Each second: folds the counts of processes gone into their target's
 * totals (the map keeps room for the living), and raises worst_severity
 * to what was counted, whether or not its record arrived. */
void anomaly_counts_tick(struct cw_daemon *d);
/* Logs what the rate limit folded and no later record carried, for each
 * (key, kind) whose window is over, or every one (all: at the end). */
void folded_flush(struct cw_daemon *d, uint64_t now_ns, int all);

#endif
