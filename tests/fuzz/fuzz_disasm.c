// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The site finders of disasm.c (capstone) on any bytes, as a function
 * of the target's binary: where entry, exit, inline, call and
 * failing-branch probes go. Every site must be an address of the code.
 *
 * The input: a header (where the code is, the callee and gopanic whose
 * calls are looked for, the argument register of an owner key), then
 * the code. The seeds carry real functions with their real addresses.
 */
#include <string.h>
#include <linux/types.h>
#include "../../bpf/connwatch.h"
#include "../../user/disasm.h"
#include "fuzz.h"

struct header {
	uint64_t vaddr;
	uint64_t callee;
	uint64_t gopanic;
	uint16_t lo, hi;	/* call sites in [vaddr + lo, vaddr + hi) */
	uint8_t arg_reg;	/* enum cw_reg, modulo its count */
	uint8_t pad[3];
} __attribute__((packed));

struct code {
	const uint8_t *p;
	size_t size;
	uint64_t vaddr;
};

/* addr is in the code, or (for an entry past it) just after it. */
static int inside(const struct code *c, uint64_t addr, int end_ok)
{
	return addr >= c->vaddr && (addr - c->vaddr < c->size ||
				    (end_ok && addr - c->vaddr == c->size));
}

static void entry_sites(const struct code *c)
{
	uint64_t site;
	char err[256];
	int late;

	if (!find_entry_site(c->p, c->size, c->vaddr, &site, &late, err,
			     sizeof(err)))
		fuzz_check(inside(c, site, 0), "entry site 0x%llx",
			   (unsigned long long)site);
	if (!find_inline_site(c->p, c->size, c->vaddr, &site, err,
			      sizeof(err)))
		fuzz_check(inside(c, site, 0), "inline site 0x%llx",
			   (unsigned long long)site);
	if (!find_go_entry_site(c->p, c->size, c->vaddr, &site, err,
				sizeof(err)))
		fuzz_check(inside(c, site, 1), "go entry site 0x%llx",
			   (unsigned long long)site);
}

static void exit_sites(const struct code *c)
{
	struct exit_sites exits;
	char err[256];
	size_t i;

	if (find_exit_sites(c->p, c->size, c->vaddr, &exits, err, sizeof(err)))
		return;
	fuzz_check(exits.nr <= CW_MAX_EXIT_SITES &&
		   exits.nr_tail_calls <= exits.nr, "%zu exits", exits.nr);
	for (i = 0; i < exits.nr; i++)
		fuzz_check(inside(c, exits.addr[i], 0), "exit 0x%llx",
			   (unsigned long long)exits.addr[i]);
}

static void call_sites(const struct code *c, const struct header *h)
{
	struct call_sites calls = { .nr = 0 };
	char err[256];
	size_t i;

	if (find_call_sites(c->p, c->size, c->vaddr, c->vaddr + h->lo,
			    c->vaddr + h->hi, h->callee,
			    h->arg_reg % CW_REG__COUNT, &calls, err,
			    sizeof(err)))
		return;
	fuzz_check(calls.nr <= CW_MAX_CALL_SITES, "%zu calls", calls.nr);
	for (i = 0; i < calls.nr; i++) {
		const struct call_site *s = &calls.site[i];

		fuzz_check(inside(c, s->call, 0) && inside(c, s->probe, 0) &&
			   s->probe <= s->call, "call site 0x%llx probe 0x%llx",
			   (unsigned long long)s->call,
			   (unsigned long long)s->probe);
		fuzz_check(s->owner_reg >= 0 && s->owner_reg < CW_REG__COUNT,
			   "owner register %d", s->owner_reg);
	}
}

static void panic_branches(const struct code *c, const struct header *h)
{
	static struct panic_branches pb;
	char err[256];
	size_t i;

	if (find_panic_branches(c->p, c->size, c->vaddr, h->gopanic, &pb, err,
				sizeof(err)))
		return;
	fuzz_check(pb.nr <= CW_MAX_PANIC_CALLS, "%zu panics", pb.nr);
	for (i = 0; i < pb.nr; i++) {
		const struct panic_branch *b = &pb.b[i];

		fuzz_check(inside(c, b->call, 0), "panic call 0x%llx",
			   (unsigned long long)b->call);
		fuzz_check(!b->probe || (inside(c, b->probe, 0) &&
					 inside(c, b->jump, 0)),
			   "branch probe 0x%llx jump 0x%llx",
			   (unsigned long long)b->probe,
			   (unsigned long long)b->jump);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct header h;
	struct code c;

	if (size <= sizeof(h))
		return 0;
	memcpy(&h, data, sizeof(h));
	c = (struct code){ .p = data + sizeof(h), .size = size - sizeof(h),
			   .vaddr = h.vaddr };
	/* No function wraps the address space: elf_symbols.c drops a
	 * segment that would, the pclntab reader a function ending first. */
	if (c.vaddr + c.size < c.vaddr)
		return 0;
	entry_sites(&c);
	exit_sites(&c);
	call_sites(&c, &h);
	panic_branches(&c, &h);
	return 0;
}
