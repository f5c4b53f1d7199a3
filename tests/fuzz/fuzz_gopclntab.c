// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A Go binary's function table, version and inline trees (gopclntab.c,
 * go_inline.c) from any file: every pcHeader layout (1.16, 1.18, 1.20+),
 * named or found by the scan, .go.buildinfo inline or by pointer, and
 * what attach and the symbolizer ask of them afterwards.
 */
#include <string.h>
#include "../../user/gopclntab.h"
#include "fuzz.h"

#define MAX_RANGES	64
#define MAX_CHAIN	8
#define MAX_NAME	(1 << 20)
/* Inlined in the seeds: the synthetic tables', the go_inline fixture's. */
static const char *const inlined[] = {
	"sync.(*WaitGroup).Add", "main.(*server).release",
};

static void check_table(const struct go_pclntab *t)
{
	size_t i;

	fuzz_check(strnlen(t->version, sizeof(t->version)) <
		   sizeof(t->version), "version not terminated");
	for (i = 0; i < t->nr; i++) {
		const struct go_func *f = &t->funcs[i];

		fuzz_check(f->entry <= f->end, "function %zu ends first", i);
		fuzz_check(!i || t->funcs[i - 1].end <= f->entry,
			   "function %zu overlaps", i);
		fuzz_check(go_func_by_name(t, f->name) != NULL,
			   "%s not found by name", f->name);
		fuzz_check(f->entry == f->end ||
			   go_func_by_addr(t, f->entry) == f,
			   "%s not found at its entry", f->name);
	}
}

/* Each name of a chain is a string in the file (ASan reads it). */
static void check_chain(const struct go_pclntab *t, uint64_t pc)
{
	const char *names[MAX_CHAIN];
	int i, n = go_inline_chain(t, pc, names, MAX_CHAIN);

	fuzz_check(n >= -1 && n <= MAX_CHAIN, "chain of %d", n);
	for (i = 0; i < n; i++)
		fuzz_check(names[i] && strnlen(names[i], MAX_NAME) < MAX_NAME,
			   "chain name %d", i);
}

/* Ranges sorted, each inside the function holding it, as attach uses. */
static void check_inlined(const struct go_pclntab *t, const char *name)
{
	struct go_inline_range r[MAX_RANGES];
	uint64_t entries[MAX_RANGES];
	char err[256];
	int i, n;

	n = go_inline_ranges(t, name, r, MAX_RANGES, err, sizeof(err));
	for (i = 0; i < n && i < MAX_RANGES; i++) {
		const struct go_func *f = go_func_by_addr(t, r[i].func);

		fuzz_check(r[i].lo < r[i].hi, "empty range");
		fuzz_check(!i || r[i - 1].hi <= r[i].lo, "ranges not sorted");
		fuzz_check(f && r[i].lo >= f->entry && r[i].hi <= f->end,
			   "range outside its function");
		fuzz_check(!r[i].call_pc || (r[i].call_pc >= f->entry &&
					     r[i].call_pc < f->end),
			   "call_pc outside the function");
		check_chain(t, r[i].lo);
	}
	go_inlined_copies(t, name, entries, MAX_RANGES, err, sizeof(err));
}

/* A panic value's address: the input's last 8 bytes, as mutated. */
static void check_string(const struct go_pclntab *t, const uint8_t *data,
			 size_t size)
{
	char s[64];
	uint64_t vaddr;
	int n;

	if (size < 8)
		return;
	memcpy(&vaddr, data + size - 8, 8);
	n = go_string_at(t, vaddr, s, sizeof(s));
	fuzz_check(n < (int)sizeof(s) && (n < 0 || strlen(s) <= (size_t)n),
		   "string of %d", n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *path = fuzz_file(data, size);
	struct go_pclntab t;
	char err[256];
	size_t i;

	if (go_pclntab_load(&t, path, err, sizeof(err))) {
		fuzz_check(*err && !t.nr, "failed without a reason, or not empty");
		go_pclntab_free(&t);
		return 0;
	}
	check_table(&t);
	for (i = 0; t.nr && i < sizeof(inlined) / sizeof(inlined[0]); i++)
		check_inlined(&t, inlined[i]);
	if (t.nr) {
		check_inlined(&t, t.funcs[t.nr / 2].name);
		check_chain(&t, t.funcs[t.nr - 1].entry);
	}
	check_string(&t, data, size);
	go_pclntab_free(&t);
	return 0;
}
