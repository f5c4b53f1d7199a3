/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The process tables over a long life: exited processes fold, full tables
 * are said. See proc_tables.c. */
#ifndef CW_PROC_TABLES_H
#define CW_PROC_TABLES_H

#include <stdint.h>
#include <linux/types.h>

struct cw_daemon;
struct cw_session;

#define CW_DEFAULT_EXITED_GRACE_S 300

/* Each second: processes gone are found, those whose grace is over are
 * folded into their target's totals and forgotten; a table that filled
 * and keys not found are said, once. */
void proc_tables_tick(struct cw_daemon *d, uint64_t now_ns);
/* The counts of process tgid into its targets' own (no pid label), its
 * entries deleted. Under d->lock once /metrics serves. */
void proc_tables_fold(struct cw_session *s, __u32 tgid);
/* The name of an enum cw_table, for the log and the metric's label. */
const char *proc_table_name(int table);

#endif
