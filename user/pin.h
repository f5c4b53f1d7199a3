/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * State that outlives connwatch: the maps detection depends on, pinned
 * under /sys/fs/bpf/connwatch and adopted by the next connwatch for the
 * same target and spec. See pin.c.
 */
#ifndef CW_PIN_H
#define CW_PIN_H

#include <limits.h>

#define CW_PIN_BASE "/sys/fs/bpf/connwatch"

struct cw_session;

struct cw_pin {
	char target[PATH_MAX];	/* CW_PIN_BASE/TARGET: held while dir is set */
	char dir[PATH_MAX];	/* TARGET/SPEC, the maps; "" when not pinned */
	int lock_fd;		/* flock on target, while dir is set */
	int adopt;		/* dir holds the maps of a connwatch before */
	char why_not[PATH_MAX + 128];	/* not pinned: why, said after load */
};

/*
 * Between opening the BPF object and loading it: cleans pinned state no
 * one can adopt any more, and points this session's maps at their pins,
 * adopting what a connwatch before left for the same target and spec
 * (unless s->fresh). Never fails the attach: without bpffs connwatch
 * runs unpinned and says so once the load succeeded.
 */
void pin_prepare(struct cw_session *s);
/* After the load: adopted maps lose what belongs to processes gone since;
 * says what was adopted. */
void pin_adopt(struct cw_session *s);
/* At the end: the pins stay for the next connwatch while a watched
 * process lives, else they go. */
void pin_release(struct cw_session *s);

#endif
