// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Inlined copies of a function. Small functions get inlined (quic-go's
 * decreaseConnCount is): the symbol stays, but the code that runs is a
 * copy inside each caller. DWARF says where each copy begins.
 */
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <string.h>
#include <unistd.h>
#include "dwarf_inline.h"
#include "elf_symbols.h"

#define MAX_ORIGINS	8
#define MAX_DEPTH	64

struct search {
	const char *name;
	Dwarf_Off origins[MAX_ORIGINS];	/* the function's subprogram DIEs */
	size_t nr_origins;
	uint64_t *addrs;
	size_t max, found;
	Dwarf_Off last;		/* the walk's last DIE: offsets only grow */
};

typedef void (*die_fn)(struct search *s, Dwarf_Die *die);

/*
 * Depth first, a well-formed tree's DIEs come in increasing offsets. A
 * crafted one whose children and siblings point back would be walked
 * again and again (exponentially: a fuzzed file took minutes): a DIE at
 * or before the last one ends its list, so each byte is walked once.
 */
static void walk(struct search *s, Dwarf_Die *die, die_fn fn, int depth)
{
	Dwarf_Die child;

	do {
		if (dwarf_dieoffset(die) <= s->last)
			return;
		s->last = dwarf_dieoffset(die);
		fn(s, die);
		if (depth < MAX_DEPTH && !dwarf_child(die, &child))
			walk(s, &child, fn, depth + 1);
	} while (!dwarf_siblingof(die, die));
}

static void walk_all(Dwarf *dw, struct search *s, die_fn fn)
{
	Dwarf_Off off = 0, next;
	size_t hsize;
	Dwarf_Die cu;

	s->last = 0;
	while (!dwarf_nextcu(dw, off, &next, &hsize, NULL, NULL, NULL) &&
	       next > off) {
		if (dwarf_offdie(dw, off + hsize, &cu))
			walk(s, &cu, fn, 0);
		off = next;
	}
}

static void find_origin(struct search *s, Dwarf_Die *die)
{
	const char *name;

	if (dwarf_tag(die) != DW_TAG_subprogram || s->nr_origins == MAX_ORIGINS)
		return;
	name = dwarf_diename(die);
	if (name && !strcmp(name, s->name))
		s->origins[s->nr_origins++] = dwarf_dieoffset(die);
}

static int is_origin(const struct search *s, Dwarf_Off off)
{
	size_t i;

	for (i = 0; i < s->nr_origins; i++)
		if (s->origins[i] == off)
			return 1;
	return 0;
}

/*
 * DW_AT_entry_pc, else DW_AT_low_pc; a copy in pieces (Go's, often) has
 * DW_AT_ranges instead: its first range's start, the lowest in Go's.
 */
static int copy_start(Dwarf_Die *die, Dwarf_Addr *pc)
{
	Dwarf_Addr base, end;

	if (!dwarf_entrypc(die, pc))
		return 0;
	return dwarf_ranges(die, 0, &base, pc, &end) > 0 ? 0 : -1;
}

static void find_copy(struct search *s, Dwarf_Die *die)
{
	Dwarf_Attribute at;
	Dwarf_Die origin;
	Dwarf_Addr pc;

	if (dwarf_tag(die) != DW_TAG_inlined_subroutine ||
	    !dwarf_attr(die, DW_AT_abstract_origin, &at) ||
	    !dwarf_formref_die(&at, &origin) ||
	    !is_origin(s, dwarf_dieoffset(&origin)))
		return;
	if (copy_start(die, &pc))
		return;
	if (s->found < s->max)
		s->addrs[s->found] = pc;
	s->found++;
}

int dwarf_inlined_copies(const char *path, const char *name, uint64_t *addrs,
			 size_t max)
{
	struct search s = { .name = name, .addrs = addrs, .max = max };
	char err[256];
	int fd = binary_open(path, NULL, err, sizeof(err));
	Dwarf *dw;

	if (fd < 0)
		return -1;
	dw = dwarf_begin(fd, DWARF_C_READ);
	if (!dw) {
		close(fd);
		return -1;
	}
	walk_all(dw, &s, find_origin);
	if (s.nr_origins)
		walk_all(dw, &s, find_copy);
	dwarf_end(dw);
	close(fd);
	return (int)s.found;
}
