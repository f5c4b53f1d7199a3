/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef CW_GROW_H
#define CW_GROW_H

#include <stdlib.h>

/*
 * Room for element `nr` of an array that doubles: when it is full, `arr`
 * is reallocated to twice `cap` (the first time, to `first`) and `cap`
 * says so. 0, or -1 out of memory with `arr` and `cap` as they were: the
 * caller's array stays whole and freeable.
 */
#define GROW_ROOM(arr, nr, cap, first) ({				\
	int grow_err_ = 0;						\
	if ((size_t)(nr) >= (size_t)(cap)) {				\
		size_t grow_cap_ = (cap) ? (size_t)(cap) * 2 : (first);	\
		void *grow_p_ = realloc((arr),				\
					grow_cap_ * sizeof(*(arr)));	\
		if (grow_p_) {						\
			(arr) = grow_p_;				\
			(cap) = grow_cap_;				\
		} else {						\
			grow_err_ = -1;					\
		}							\
	}								\
	grow_err_;							\
})

#endif /* CW_GROW_H */
