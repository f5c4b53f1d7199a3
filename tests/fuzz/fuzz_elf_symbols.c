// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * ELF symbols and load segments (user/elf_symbols.c) of any file: the
 * target's binary and every library a stack passes through are read as
 * root. What attach and the symbolizer then ask of the table must hold.
 */
#include <string.h>
#include "../../user/elf_symbols.h"
#include "fuzz.h"

/* As resolve.c reads a function before disassembling it. */
static void read_code(const struct elf_symtab *tab, const struct elf_sym *s)
{
	char err[256];

	free(elf_read_code(tab, s->addr, s->size, err, sizeof(err)));
}

/* By name: a linear search, so for the first and the last only. */
static void check_name(const struct elf_symtab *tab, const struct elf_sym *s)
{
	fuzz_check(!strcmp(elf_symtab_by_name(tab, s->name)->name, s->name),
		   "%s not found by name", s->name);
	read_code(tab, s);
}

static void check_symbols(const struct elf_symtab *tab)
{
	size_t i;

	for (i = 0; i < tab->nr_syms; i++) {
		const struct elf_sym *s = &tab->syms[i];

		fuzz_check(s->name && *s->name, "symbol %zu unnamed", i);
		fuzz_check(!i || tab->syms[i - 1].addr < s->addr,
			   "symbol %zu not sorted or twice", i);
		/* size 0 ends with its code segment: outside one, no end */
		fuzz_check(elf_symtab_by_addr(tab, s->addr) ==
			   (s->size || elf_code_room(tab, s->addr) ? s : NULL),
			   "%s not found at its address", s->name);
		fuzz_check(elf_symtab_by_addr(tab, s->addr + (s->size ? s->size :
				elf_code_room(tab, s->addr))) != s,
			   "%s found past its end", s->name);
	}
	if (tab->nr_syms) {
		check_name(tab, &tab->syms[0]);
		check_name(tab, &tab->syms[tab->nr_syms - 1]);
	}
}

static void check_segments(const struct elf_symtab *tab)
{
	size_t i;

	for (i = 0; i < tab->nr_segs; i++) {
		const struct elf_load_seg *s = &tab->segs[i];
		int64_t off;

		if (!s->filesz)
			continue;
		off = elf_vaddr_to_offset(tab, s->vaddr);
		fuzz_check(off >= 0, "segment %zu: vaddr 0x%llx unmapped", i,
			   (unsigned long long)s->vaddr);
		elf_offset_to_vaddr(tab, (uint64_t)off);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *path = fuzz_file(data, size);
	struct elf_symtab tab;
	char err[256];

	elf_is_dynamic(path, err, sizeof(err));
	if (!elf_is_elf(path, err, sizeof(err)))
		return 0;
	if (elf_symtab_load(&tab, path, err, sizeof(err))) {
		fuzz_check(*err, "failed without a reason");
		return 0;
	}
	check_symbols(&tab);
	check_segments(&tab);
	elf_symtab_free(&tab);
	return 0;
}
