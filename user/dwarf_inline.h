/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Where the compiler inlined a function: from DWARF, via libdw. */
#ifndef CW_DWARF_INLINE_H
#define CW_DWARF_INLINE_H

#include <stddef.h>
#include <stdint.h>

/*
 * Entry addresses (file virtual addresses) of every inlined copy of the
 * function named name (DW_TAG_inlined_subroutine whose abstract origin
 * is that subprogram). Returns how many (at most max are stored), or -1
 * when the binary has no DWARF.
 */
int dwarf_inlined_copies(const char *path, const char *name, uint64_t *addrs,
			 size_t max);

#endif
