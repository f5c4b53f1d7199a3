/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * State that outlives connwatch: the maps detection depends on, pinned
 * under /sys/fs/bpf/connwatch and adopted by the next connwatch for the
 * same target and spec. See pin.c.
 */
#ifndef CW_PIN_H
#define CW_PIN_H

#include <limits.h>
#include <stddef.h>
#include <sys/types.h>

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
/*
 * Before connwatch becomes another user (--user): its TARGET and SPEC
 * directories become that user's, so that it can remove its own pins at
 * the end, through the TARGET fd it holds (CW_PIN_BASE stays root's
 * 0700: no other process of that user reaches them). The pinned files
 * stay root's. 0, or -1 with err set.
 */
int pin_hand_over(struct cw_pin *p, uid_t uid, gid_t gid, char *err,
		  size_t errlen);
/* At the end: the pins stay for the next connwatch while a watched
 * process lives, else they go. An empty TARGET that only root may remove
 * (after --user) goes at the next connwatch's start. */
void pin_release(struct cw_session *s);

#endif
