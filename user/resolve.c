// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Resolves spec probes to sites in the target binary: functions by ELF
 * symbol or Go pclntab, their entry past Go's stack check, every exit
 * (capstone, from the first instruction), copies inlined into callers,
 * the calls a caller: probe watches and their owners, and the failing
 * branches of the Go runtime checks. Attaches nothing (attach.c does).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/param.h>
#include <linux/types.h>
#include "../bpf/connwatch.h"
#include "attach.h"
#include "dwarf_inline.h"
#include "resolve.h"

static int role_acts_at_entry(const struct spec_probe *sp)
{
	return !sp->at_return;
}

static int needs_stash(const struct spec_probe *sp, const struct spec *spec)
{
	return sp->at_return && (sp->key_source == SPEC_KEY_ARG ||
				 spec_probe_counter(sp, spec)->type != CW_CTR_NONE);
}

/* A dec at entry also needs its exits: threads inside dec at once. */
static int tracks_inside(const struct spec_probe *sp)
{
	return sp->role == CW_ROLE_DEC && !sp->at_return && !sp->nr_callers;
}

static void plan_sites(struct cw_probe *p, const struct spec *spec)
{
	const struct spec_probe *sp = p->sp;

	if (sp->nr_callers)
		p->entry_site = -1;	/* only the call sites */
	else if (role_acts_at_entry(sp))
		p->entry_site = CW_SITE_ENTRY;
	else if (needs_stash(sp, spec))
		p->entry_site = CW_SITE_STASH;
	else
		p->entry_site = -1;
	p->wants_exits = sp->at_return || tracks_inside(sp);
}

/* Decodes the function: where its entry probe and exit probes go. */
static int resolve_sites(struct cw_session *s, struct cw_probe *p)
{
	char err[200];
	uint8_t *code;
	int ret = -1;

	code = elf_read_code(&s->symtab, p->vaddr, p->size, err, sizeof(err));
	if (!code) {
		snprintf(p->err, sizeof(p->err), "%s: %s", p->sp->symbol, err);
		return -1;
	}
	if (p->entry_site >= 0 && p->abi == CW_ABI_GO &&
	    find_go_entry_site(code, p->size, p->vaddr, &p->entry_vaddr, err,
			       sizeof(err)))
		goto fail;
	if (p->entry_site >= 0 && p->abi == CW_ABI_SYSV &&
	    find_entry_site(code, p->size, p->vaddr, &p->entry_vaddr,
			    &p->entry_late, err, sizeof(err)))
		goto fail;
	if (p->wants_exits &&
	    find_exit_sites(code, p->size, p->vaddr, &p->exits, err,
			    sizeof(err)))
		goto fail;
	free(code);
	if (!p->exits.nr && p->sp->at_return) {
		snprintf(p->err, sizeof(p->err),
			 "%s never returns (no RET or tail call found)",
			 p->sp->symbol);
		return -1;
	}
	return 0;
fail:
	snprintf(p->err, sizeof(p->err), "disassembling %s: %s", p->sp->symbol,
		 err);
	free(code);
	return ret;
}

/*
 * An entry probe moved past a locked first instruction can land on the
 * function's only RET (`lock addq $1,(%rdi); ret`). Two uprobes on one
 * instruction run in no promised order, so keep one: the arguments are
 * still live there, so the role acts at that site directly.
 */
static void merge_entry_exit(struct cw_probe *p)
{
	size_t i;

	if (p->entry_site < 0)
		return;
	for (i = 0; i < p->exits.nr; i++)
		if (p->exits.addr[i] == p->entry_vaddr)
			break;
	if (i == p->exits.nr)
		return;
	/* Nothing else is reachable from the entry: no other exit matters. */
	p->exits.nr = 0;
	p->exits.nr_tail_calls = 0;
	p->wants_exits = 0;
	p->entry_site = CW_SITE_ENTRY;
}

/* Go functions by their pclntab (stripped binaries too), C by ELF. */
static int find_function(struct cw_session *s, struct cw_probe *p)
{
	const struct go_func *gf = s->is_go ?
		go_func_by_name(&s->go, p->sp->symbol) : NULL;
	const struct elf_sym *sym;

	if (gf) {
		p->vaddr = gf->entry;
		p->size = gf->end - gf->entry;
		p->abi = CW_ABI_GO;
		return 0;
	}
	sym = elf_symtab_by_name(&s->symtab, p->sp->symbol);
	if (!sym)
		return -1;
	p->vaddr = sym->addr;
	p->size = sym->size;
	p->abi = CW_ABI_SYSV;
	return 0;
}

/*
 * An inlined copy has no arguments in registers and no RET of its own:
 * only a probe that acts at entry and needs neither can count there.
 */
static int inline_countable(const struct cw_probe *p, const struct spec *spec)
{
	const struct spec_probe *sp = p->sp;

	return p->entry_site == CW_SITE_ENTRY && !p->wants_exits &&
	       sp->role < CW_ROLE__COUNT && sp->switch_arg < 0 &&
	       sp->key_source == SPEC_KEY_PROCESS && !sp->nr_callers &&
	       spec_probe_counter(sp, spec)->type == CW_CTR_NONE;
}

/* An inlined copy's first two instructions, at most, decide its site. */
#define INLINE_SITE_BYTES 32

/*
 * Copies the compiler inlined into callers, probed too: a Go binary's
 * from its pclntab inline tree (stripped ones too), else from DWARF.
 */
static void resolve_inlined(struct cw_session *s, struct cw_probe *p,
			    const struct spec *spec)
{
	uint64_t copies[CW_MAX_INLINED];
	char err[200];
	int i, n = -1;

	if (s->is_go)
		n = go_inlined_copies(&s->go, p->sp->symbol, copies,
				      CW_MAX_INLINED, err, sizeof(err));
	if (n < 0)
		n = dwarf_inlined_copies(s->binary, p->sp->symbol, copies,
					 CW_MAX_INLINED);
	p->nr_inlined_found = n;
	if (n <= 0 || !inline_countable(p, spec))
		return;
	for (i = 0; i < n && i < CW_MAX_INLINED; i++) {
		/* A copy at the very end of the code reads what is there. */
		size_t len = MIN(INLINE_SITE_BYTES,
				 elf_code_room(&s->symtab, copies[i]));
		uint8_t *code = elf_read_code(&s->symtab, copies[i], len, err,
					      sizeof(err));

		if (code && !find_inline_site(code, len, copies[i],
					      &p->inlined[p->nr_inlined], err,
					      sizeof(err)))
			p->nr_inlined++;
		free(code);
	}
}

/*
 * No out-of-line copy at all (the linker dropped it): the function lives
 * only inlined into its callers, where resolve_inlined() still finds it.
 * 0 when probed.
 */
static int resolve_inline_only(struct cw_session *s, struct cw_probe *p,
			       const struct spec *spec)
{
	p->abi = s->is_go ? CW_ABI_GO : CW_ABI_SYSV;
	plan_sites(p, spec);
	resolve_inlined(s, p, spec);
	if (!p->nr_inlined)
		return -1;
	p->entry_site = -1;	/* only the inlined copies */
	p->resolved = 1;
	return 0;
}

/*
 * The one call to gopanic with sp->panic_msg as its value, and its branch:
 * 0 when it is certain, else -1 with why.
 */
static int pick_branch(struct cw_session *s, const struct spec_probe *sp,
		       const struct panic_branches *pb,
		       struct panic_branch *out, char *why, size_t whylen)
{
	char msg[128];
	size_t i;
	int found = 0;

	for (i = 0; i < pb->nr; i++) {
		if (go_string_at(&s->go, pb->b[i].value, msg, sizeof(msg)) < 0 ||
		    strcmp(msg, sp->panic_msg))
			continue;
		*out = pb->b[i];
		found++;
	}
	if (found != 1) {
		snprintf(why, whylen, "%d calls panic \"%s\"", found,
			 sp->panic_msg);
		return -1;
	}
	if (!out->probe) {
		snprintf(why, whylen, "the way to its panic is not one branch");
		return -1;
	}
	if (!out->base_reg || out->base_disp != sp->branch_disp) {
		snprintf(why, whylen, "the test before its branch does not read "
			 "+%lld", (long long)sp->branch_disp);
		return -1;
	}
	return 0;
}

/*
 * A Go runtime check (closechan's closed, WaitGroup.Add's counter) on its
 * failing branch instead of its entry, found by disassembly: a healthy
 * program then never traps. Where that is not certain, the entry probe
 * stays and check says why.
 */
static void resolve_branch(struct cw_session *s, struct cw_probe *p)
{
	const struct go_func *gopanic;
	struct panic_branches *pb;
	char err[160];
	uint8_t *code;

	gopanic = go_func_by_name(&s->go, "runtime.gopanic");
	pb = calloc(1, sizeof(*pb));
	code = elf_read_code(&s->symtab, p->vaddr, p->size, err, sizeof(err));
	if (!gopanic || !pb || !code)
		snprintf(p->branch_why, sizeof(p->branch_why), "%s",
			 code ? "no runtime.gopanic" : err);
	else if (find_panic_branches(code, p->size, p->vaddr, gopanic->entry,
				     pb, err, sizeof(err)))
		snprintf(p->branch_why, sizeof(p->branch_why), "%s", err);
	else if (!pick_branch(s, p->sp, pb, &p->branch, p->branch_why,
			      sizeof(p->branch_why)))
		p->entry_site = -1;
	free(code);
	free(pb);
}

/* The register the called function finds its first argument in. */
static int first_arg_reg(const struct cw_probe *p)
{
	return p->abi == CW_ABI_GO ? CW_REG_RAX : CW_REG_RDI;
}

/* The calls to the probe's function made in [lo, hi) of function f. */
static int calls_in(struct cw_session *s, struct cw_probe *p, uint64_t f,
		    uint64_t size, uint64_t lo, uint64_t hi)
{
	int owner = p->sp->key_source == SPEC_KEY_OWNER ? first_arg_reg(p) : 0;
	char err[200];
	uint8_t *code;
	int ret;

	code = elf_read_code(&s->symtab, f, size, err, sizeof(err));
	if (!code) {
		snprintf(p->err, sizeof(p->err), "%s: %s", p->sp->symbol, err);
		return -1;
	}
	ret = find_call_sites(code, size, f, lo, hi, p->vaddr, owner,
			      &p->calls, err, sizeof(err));
	free(code);
	if (ret)
		snprintf(p->err, sizeof(p->err), "calls to %s: %s",
			 p->sp->symbol, err);
	return ret;
}

/* Every out-of-line function called name: Go by pclntab, C by ELF. */
static int calls_in_function(struct cw_session *s, struct cw_probe *p,
			     const char *name)
{
	struct go_func *const *gf;
	const struct elf_sym *sym;
	size_t i, n = 0;

	gf = s->is_go ? go_funcs_by_name(&s->go, name, &n) : NULL;
	for (i = 0; i < n; i++) {
		if (calls_in(s, p, gf[i]->entry, gf[i]->end - gf[i]->entry,
			     gf[i]->entry, gf[i]->end))
			return -1;
		p->nr_callers_found++;
	}
	sym = n ? NULL : elf_symtab_by_name(&s->symtab, name);
	if (sym && sym->size) {
		if (calls_in(s, p, sym->addr, sym->size, sym->addr,
			     sym->addr + sym->size))
			return -1;
		p->nr_callers_found++;
	}
	return 0;
}

/*
 * The copies of name the Go compiler inlined into other functions (from
 * the pclntab inline tree, so stripped binaries too): the calls made in
 * their code count as made in name.
 */
static int calls_in_inlined(struct cw_session *s, struct cw_probe *p,
			    const char *name)
{
	struct go_inline_range *r;
	const struct go_func *f;
	char err[200];
	int i, n, ret = -1;

	if (!s->is_go)
		return 0;
	r = calloc(CW_MAX_INLINE_RANGES, sizeof(*r));
	if (!r) {
		snprintf(p->err, sizeof(p->err), "out of memory");
		return -1;
	}
	n = go_inline_ranges(&s->go, name, r, CW_MAX_INLINE_RANGES, err,
			     sizeof(err));
	if (n < 0 || n > CW_MAX_INLINE_RANGES) {
		snprintf(p->err, sizeof(p->err), "%s: %s", name, n < 0 ? err :
			 "too many inlined copies");
		goto out;
	}
	for (i = 0; i < n; i++) {
		f = go_func_by_addr(&s->go, r[i].func);
		if (!f || calls_in(s, p, f->entry, f->end - f->entry, r[i].lo,
				   r[i].hi))
			goto out;
		/* Ranges of one copy are adjacent in r: count it once. */
		if (!i || r[i].copy != r[i - 1].copy || r[i].func != r[i - 1].func)
			p->nr_inlined_callers++;
	}
	ret = 0;
out:
	free(r);
	return ret;
}

/*
 * caller: the CALL instructions to the function inside each caller and
 * each copy of it inlined elsewhere, so that the program's other calls
 * cost no trap at all.
 */
static int resolve_calls(struct cw_session *s, struct cw_probe *p)
{
	int i;

	for (i = 0; i < p->sp->nr_callers; i++)
		if (calls_in_function(s, p, p->sp->callers[i]) ||
		    calls_in_inlined(s, p, p->sp->callers[i]))
			return -1;
	if (p->calls.nr)
		return 0;
	i = p->nr_callers_found + p->nr_inlined_callers;
	snprintf(p->err, sizeof(p->err), "%s: no call to it %s %s%s",
		 p->sp->symbol, i ? "in" : "(not found:", p->sp->callers[0],
		 i ? "" : ")");
	p->absent = p->sp->optional;
	return p->absent ? 0 : -1;
}

/* Call sites whose owner register was not found. */
static int owners_unknown(const struct cw_probe *p)
{
	size_t i;
	int n = 0;

	if (p->sp->key_source != SPEC_KEY_OWNER)
		return 0;
	for (i = 0; i < p->calls.nr; i++)
		n += p->calls.site[i].owner_reg == CW_REG_NONE;
	return n;
}

static int resolve_probe(struct cw_session *s, struct cw_probe *p)
{
	const struct spec *spec = s->targets[p->target_id].spec;

	snprintf(p->name, sizeof(p->name), "%s:%s%s%s",
		 p->sp->switch_arg >= 0 ? "open|close" : role_name(p->sp->role),
		 p->sp->symbol, p->sp->nr_callers ? " from " : "",
		 p->sp->nr_callers ? p->sp->callers[0] : "");
	if (find_function(s, p) && !resolve_inline_only(s, p, spec))
		return 0;
	if (!p->vaddr) {
		char msg[sizeof(p->err)];

		snprintf(msg, sizeof(msg), "%s:%d: symbol '%s' not found in %s%s",
			 spec->path, p->sp->line, p->sp->symbol, s->binary,
			 p->nr_inlined_found < 0 ? " (it has no DWARF, which "
			 "would show copies inlined into callers)" :
			 p->nr_inlined_found > 0 ? " (only inlined into callers, "
			 "where only an entry probe with key: process and no "
			 "counter can count it)" : "");
		memcpy(p->err, msg, sizeof(msg));
		p->absent = p->sp->optional;
		return p->absent ? 0 : -1;
	}
	if (p->abi == CW_ABI_SYSV &&
	    (p->sp->key_arg > 5 || spec_probe_counter(p->sp, spec)->base_arg > 5)) {
		snprintf(p->err, sizeof(p->err), "%s: a C function has 6 "
			 "register arguments: arg0..arg5", p->sp->symbol);
		return -1;
	}
	if (!p->size) {
		snprintf(p->err, sizeof(p->err), "symbol '%s' has no size: "
			 "cannot find its instructions", p->sp->symbol);
		return -1;
	}
	plan_sites(p, spec);
	if (p->sp->nr_callers) {
		if (resolve_calls(s, p))
			return -1;
		p->resolved = !p->absent;
		return 0;
	}
	if (resolve_sites(s, p))
		return -1;
	merge_entry_exit(p);
	p->track_inside = tracks_inside(p->sp) && p->wants_exits;
	resolve_inlined(s, p, spec);
	if (p->sp->panic_msg && p->abi == CW_ABI_GO)
		resolve_branch(s, p);
	p->resolved = 1;
	return 0;
}

/* One probe keyed by owner without one: the whole target per process. */
static void choose_keys(struct cw_session *s, int t)
{
	int i;

	for (i = 0; i < s->nr_probes; i++)
		if (s->probes[i].target_id == t && s->probes[i].resolved &&
		    owners_unknown(&s->probes[i]))
			s->targets[t].keyed_by_process = 1;
}

/*
 * A preset of optional probes must find at least one of them, but
 * go-net-http, which counts from the tracepoints.
 */
static int target_resolved(const struct cw_session *s, int t, char *err,
			   size_t errlen)
{
	int i, any = 0;

	for (i = 0; i < s->nr_probes; i++)
		if (s->probes[i].target_id == t)
			any |= s->probes[i].resolved || !s->probes[i].absent;
	if (any || !s->targets[t].spec || s->targets[t].net_http)
		return 0;
	snprintf(err, errlen, "%s: none of its functions are in %s",
		 s->targets[t].spec->path, s->binary);
	return -1;
}

int session_load_binary(struct cw_session *s, char *err, size_t errlen)
{
	char go_err[256];

	if (elf_symtab_load(&s->symtab, s->binary, err, errlen))
		return -1;
	s->is_go = !go_pclntab_load(&s->go, s->binary, go_err, sizeof(go_err));
	return 0;
}

int session_resolve(struct cw_session *s, char *err, size_t errlen)
{
	int t, failed = 0;
	size_t i;

	s->nr_probes = 0;
	for (t = 0; t < s->nr_targets; t++) {
		const struct spec *spec = s->targets[t].spec;

		for (i = 0; spec && i < spec->nr_probes; i++) {
			struct cw_probe *p;

			if (s->nr_probes == CW_MAX_PROBES) {
				snprintf(err, errlen, "more than %d probes",
					 CW_MAX_PROBES);
				return -1;
			}
			p = &s->probes[s->nr_probes++];
			memset(p, 0, sizeof(*p));
			p->target_id = t;
			p->sp = &spec->probes[i];
			failed += resolve_probe(s, p) != 0;
		}
	}
	for (t = 0; t < s->nr_targets; t++) {
		if (target_resolved(s, t, err, errlen))
			return -1;
		choose_keys(s, t);
	}
	return failed;
}

