// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Where Go inlined a function, and what it inlined at a pc, from the
 * pclntab alone: the runtime prints inlined frames in tracebacks, so no
 * strip removes the inline trees.
 *
 * Layout facts, 64-bit. Go 1.19 and 1.22: read in their runtime sources
 * (runtime2.go, symtab.go, symtabinl.go) and checked on binaries built
 * with each (tests/fixtures/go_inline and cmd/go against their DWARF).
 * Go 1.23 and 1.24: checked on binaries found built (kubectl, terraform;
 * docker against its DWARF). Go 1.16-1.18, 1.20, 1.21 and 1.25: from
 * their sources as published, not checked on a binary (the unit tests
 * build such tables).
 *
 * _func: a fixed part, pcdata [npcdata]u32 (offsets into pctab, 0 =
 * none), then funcdata [nfuncdata]:
 *   1.16/1.17  { uintptr entry; int32 nameoff, args; u32 deferreturn,
 *              pcsp, pcfile, pcln, npcdata, cuOffset; u8 funcID, _[2],
 *              nfuncdata }, 44 bytes; funcdata are addresses (0 = none),
 *              the array aligned to 8 in memory.
 *   1.18/1.19  { u32 entryoff; ...; u8 funcID, flag, _, nfuncdata }, 40
 *              bytes; funcdata are u32 offsets from moduledata.gofunc
 *              (~0 = none).
 *   1.20+      1.18's with int32 startLine after cuOffset, 44 bytes.
 * FUNCDATA_InlTree (3) is the function's tree, an array of inlinedCall:
 *   1.16-1.19  { int16 parent; u8 funcID, _; int32 file, line, func_
 *              (into funcnametab), parentPc }, 20 bytes.
 *   1.20+      { u8 funcID, _[3]; int32 nameOff, parentPc, startLine },
 *              16 bytes; a node's parent is the InlTreeIndex value at
 *              entry + parentPc (symtabinl.go).
 * PCDATA_InlTreeIndex (2) maps each pc to its innermost inlined call, a
 * tree index, or -1: varint pairs, a zigzag value delta then a pc delta
 * in pcQuantum units, from -1 at the entry; a 0 value delta after the
 * first pair ends it (runtime step()).
 * moduledata (runtime.firstmoduledata, writable data) starts with the
 * pcHeader's address; gofunc is at 304 in 1.18/1.19 and at 320 from 1.20
 * (covctrs, ecovctrs came before it).
 *
 * The compiler adds a node to a function's tree after its parent
 * (cmd/internal/obj pcinlineState.addBranch): parent < child, and the
 * last node is a leaf some pc maps to, so the tree has
 * max(InlTreeIndex) + 1 nodes. The table is decoded first for that
 * count; the pcs are looked at only where a node bears the name.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "gopclntab.h"
#include "gopclntab_file.h"
#include "grow.h"

#define PCDATA_INLTREEINDEX	2
#define FUNCDATA_INLTREE	3
#define X86_NOP			0x90	/* cmd/compile's inline mark on amd64 */
/* The runtime's own bound (symtabinl.go: *[1 << 20]inlinedCall). */
#define MAX_NODES		(1 << 20)
/* moduledata fields a candidate is checked on, the same 1.18 to 1.25. */
#define MD_FUNCNAMETAB		8
#define MD_FTAB			128
#define MD_TEXT			176

struct layout {
	unsigned int version;	/* pcHeader layout */
	unsigned int func_size;	/* fixed part of _func */
	unsigned int node_size;	/* inlinedCall */
	unsigned int node_name;	/* offset of its funcnametab offset */
	unsigned int node_parent_pc;
	int parent_field;	/* an int16 parent leads the node */
	unsigned int gofunc;	/* moduledata.gofunc; 0: funcdata are addresses */
};

static const struct layout layouts[] = {
	{ .version = 116, .func_size = 44, .node_size = 20, .node_name = 12,
	  .node_parent_pc = 16, .parent_field = 1, .gofunc = 0 },
	{ .version = 118, .func_size = 40, .node_size = 20, .node_name = 12,
	  .node_parent_pc = 16, .parent_field = 1, .gofunc = 304 },
	{ .version = 120, .func_size = 44, .node_size = 16, .node_name = 4,
	  .node_parent_pc = 8, .parent_field = 0, .gofunc = 320 },
};

/* pcs [lo, hi) from the entry have inline index val. */
struct run {
	uint64_t lo, hi;
	int32_t val;
};

struct walk {
	struct go_pclntab_file *f;
	const struct pcln *pc;
	const struct layout *lay;
	uint64_t gofunc;
	const char *name;
	const struct go_func *fn;	/* being read */
	const char *why;		/* set when fn cannot be read */
	struct run *runs;		/* fn's InlTreeIndex table */
	size_t nr_runs, cap_runs;
	int32_t *outer;		/* per node: its outermost ancestor-or-self
				 * named name, or -1 */
	int32_t *copy;		/* per such node: its copy number, or -1 */
	size_t cap_nodes;
	struct go_inline_range *out;
	size_t max, found;
	struct go_inline_range cur;	/* being extended; hi == 0: none */
	int copies;
};

/* What the walk needs of a _func. */
struct func_info {
	uint64_t table;		/* InlTreeIndex table in pctab; 0: none */
	uint64_t tree;		/* address of the inline tree; 0: none */
};

static int fail(struct walk *w, const char *why)
{
	w->why = why;
	return -1;
}

static const struct layout *layout_of(unsigned int version)
{
	size_t i;

	for (i = 0; i < sizeof(layouts) / sizeof(layouts[0]); i++)
		if (layouts[i].version == version)
			return &layouts[i];
	return NULL;
}

/*
 * A word equal to the pcHeader's address is moduledata only if the
 * fields after it point into the same pclntab.
 */
static int moduledata_ok(struct walk *w, uint64_t md)
{
	const struct pcln *pc = w->pc;
	struct image *im = &w->f->im;
	const uint8_t *p = img_at(im, md, w->lay->gofunc + 8);

	return p &&
	       img_addr(im, md + MD_FUNCNAMETAB, p + MD_FUNCNAMETAB, 8) ==
			pc->vaddr + pc->funcname &&
	       img_addr(im, md + MD_FTAB, p + MD_FTAB, 8) ==
			pc->vaddr + pc->functab &&
	       le64(p + MD_FTAB + 8) == pc->nfunc + 1 &&
	       img_addr(im, md + MD_TEXT, p + MD_TEXT, 8) == pc->text;
}

/*
 * runtime.firstmoduledata, which a stripped binary does not name: found
 * by its first word, the pcHeader's address, in the writable segments
 * (or, in a PIE whose words are left 0, in the relocations); 0 if none.
 */
static uint64_t find_moduledata(struct walk *w)
{
	struct image *im = &w->f->im;
	const struct reloc *r;
	size_t i, n;

	for (i = 0; i < im->nr_segs; i++) {
		const struct seg *s = &im->segs[i];
		const uint8_t *base = im->raw + s->offset;
		uint64_t off;

		if (!(s->flags & PF_W))
			continue;
		for (off = (8 - s->vaddr % 8) % 8; off + 8 <= s->filesz; off += 8)
			if (le64(base + off) == w->pc->vaddr &&
			    moduledata_ok(w, s->vaddr + off))
				return s->vaddr + off;
	}
	if (im->eh.e_type != ET_DYN)
		return 0;
	r = img_relocs(im, &n);
	for (i = 0; i < n; i++)
		if (r[i].value == w->pc->vaddr && moduledata_ok(w, r[i].where))
			return r[i].where;
	return 0;
}

static int find_gofunc(struct walk *w, char *err, size_t errlen)
{
	const char *path = w->f->im.path;
	uint64_t md = find_moduledata(w), avail;

	if (!md) {
		snprintf(err, errlen, "%s: funcdata base not found (no moduledata points at the pclntab)",
			 path);
		return -1;
	}
	/* moduledata_ok() saw its bytes up to gofunc's end */
	w->gofunc = img_addr(&w->f->im, md + w->lay->gofunc,
			     img_at(&w->f->im, md + w->lay->gofunc, 8), 8);
	if (!img_span(&w->f->im, w->gofunc, &avail)) {
		snprintf(err, errlen, "%s: moduledata.gofunc 0x%llx is not in the file",
			 path, (unsigned long long)w->gofunc);
		return -1;
	}
	return 0;
}

/*
 * The InlTreeIndex table and the inline tree of function i, when it has
 * both. Bounds are checked again: the load read less of each _func.
 */
static int read_func(struct walk *w, size_t i, struct func_info *fi)
{
	const struct pcln *pc = w->pc;
	unsigned int width = w->lay->gofunc ? 4 : 8;	/* of a funcdata */
	uint64_t funcoff, rec, pcdata, slot;
	uint32_t npcdata, off;

	memset(fi, 0, sizeof(*fi));
	funcoff = le_word(pc->p + pc->functab + (2 * i + 1) * pc->fieldsz,
			  pc->fieldsz);
	rec = pc->functab + funcoff;
	if (funcoff >= pc->len || rec > pc->len - w->lay->func_size)
		return fail(w, "_func out of range");
	npcdata = le32(pc->p + rec + pc->fieldsz + 24);
	if (npcdata <= PCDATA_INLTREEINDEX ||
	    pc->p[rec + w->lay->func_size - 1] <= FUNCDATA_INLTREE)
		return 0;
	pcdata = rec + w->lay->func_size;
	slot = pcdata + 4 * (uint64_t)npcdata;
	if (width == 8 && (pc->vaddr + slot) % 8)
		slot += 4;	/* 1.16/1.17: pointers, aligned */
	slot += FUNCDATA_INLTREE * width;
	if (slot > pc->len - width)
		return fail(w, "funcdata out of range");
	fi->table = le32(pc->p + pcdata + 4 * PCDATA_INLTREEINDEX);
	if (!w->lay->gofunc) {
		fi->tree = img_addr(&w->f->im, pc->vaddr + slot, pc->p + slot, 8);
		return 0;
	}
	off = le32(pc->p + slot);
	fi->tree = off == UINT32_MAX ? 0 : w->gofunc + off;
	return 0;
}

/* A uint32 varint of at most 5 bytes at *off, as the runtime reads it. */
static int varint(const struct pcln *pc, uint64_t *off, uint32_t *v)
{
	unsigned int shift;

	*v = 0;
	for (shift = 0; shift < 35 && *off < pc->len; shift += 7) {
		uint8_t b = pc->p[(*off)++];

		*v |= (uint32_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return 0;
	}
	return -1;
}

static int push_run(struct walk *w, uint64_t lo, uint64_t hi, int32_t val)
{
	if (GROW_ROOM(w->runs, w->nr_runs, w->cap_runs, 256))
		return fail(w, "out of memory");
	w->runs[w->nr_runs++] = (struct run){ lo, hi, val };
	return 0;
}

/*
 * fn's InlTreeIndex table into w->runs, and its largest value in *max.
 * Each pair takes 2 bytes or more of a bounded table: it ends.
 */
static int decode(struct walk *w, const struct func_info *fi, int32_t *max)
{
	const struct pcln *pc = w->pc;
	uint64_t off = pc->pctab + fi->table, size = w->fn->end - w->fn->entry;
	uint64_t lo, hi = 0;
	uint32_t dval, dpc, val = UINT32_MAX;	/* -1 */
	int first = 1;

	w->nr_runs = 0;
	*max = -1;
	if (pc->pctab >= pc->len || fi->table >= pc->len - pc->pctab)
		return fail(w, "pc-value table out of range");
	for (;;) {
		if (varint(pc, &off, &dval))
			return fail(w, "truncated pc-value table");
		if (!dval && !first)
			return 0;
		/* int32 arithmetic that wraps, as the runtime's does */
		val += -(dval & 1) ^ (dval >> 1);
		if (varint(pc, &off, &dpc))
			return fail(w, "truncated pc-value table");
		lo = hi;
		hi += (uint64_t)dpc * pc->quantum;
		if (hi > size)
			return fail(w, "pc-value table runs past the function");
		if ((int32_t)val < -1 || (int32_t)val >= MAX_NODES)
			return fail(w, "inline tree index out of range");
		if (hi > lo && push_run(w, lo, hi, (int32_t)val))
			return -1;
		if ((int32_t)val > *max)
			*max = (int32_t)val;
		first = !hi;
	}
}

/* The node's function name, NUL-terminated inside the table, or NULL. */
static const char *node_name(const struct walk *w, const uint8_t *node)
{
	const struct pcln *pc = w->pc;
	int32_t off = (int32_t)le32(node + w->lay->node_name);
	uint64_t at = pc->funcname + (uint64_t)off;

	if (off < 0 || at >= pc->len || !memchr(pc->p + at, 0, pc->len - at))
		return NULL;
	return (const char *)pc->p + at;
}

static int named(const struct walk *w, const uint8_t *node)
{
	const char *name = node_name(w, node);

	return name && !strcmp(name, w->name);
}

static int any_named(const struct walk *w, const uint8_t *tree, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (named(w, tree + i * w->lay->node_size))
			return 1;
	return 0;
}

/* Runs are sorted and disjoint: the one holding *key, a pc offset. */
static int run_cmp(const void *key, const void *elem)
{
	uint64_t off = *(const uint64_t *)key;
	const struct run *r = elem;

	return off < r->lo ? -1 : off >= r->hi;
}

/* The inline index at pc offset off from the entry, -1 outside fn. */
static int32_t index_at(const struct walk *w, uint64_t off)
{
	const struct run *r = bsearch(&off, w->runs, w->nr_runs,
				      sizeof(*r), run_cmp);

	return r ? r->val : -1;
}

static int32_t parent_pc(const struct walk *w, const uint8_t *node)
{
	return (int32_t)le32(node + w->lay->node_parent_pc);
}

static int32_t parent_of(const struct walk *w, const uint8_t *node)
{
	int32_t at;

	if (w->lay->parent_field)
		return (int16_t)(node[0] | node[1] << 8);
	at = parent_pc(w, node);
	return at < 0 ? -1 : index_at(w, (uint64_t)at);
}

static int grow_nodes(struct walk *w, size_t n)
{
	int32_t *outer, *copy;

	if (n <= w->cap_nodes)
		return 0;
	outer = realloc(w->outer, n * sizeof(*outer));
	if (outer)
		w->outer = outer;
	copy = outer ? realloc(w->copy, n * sizeof(*copy)) : NULL;
	if (!copy)
		return fail(w, "out of memory");
	w->copy = copy;
	w->cap_nodes = n;
	return 0;
}

/*
 * Per node, the outermost call of name on its way up, parents first: a
 * pc inside code inlined into a copy belongs to that copy.
 *
 * A parent is an earlier node (addBranch). Go 1.23 and 1.24 break that
 * in some package inits (OpenTelemetry's semconv in terraform, docker):
 * calls whose inline mark was dropped keep parentPc 0, where a deeper
 * call's index is. Such a chain ends there: nothing tells its parent.
 */
static int mark_copies(struct walk *w, const uint8_t *tree, size_t n)
{
	size_t i;

	if (grow_nodes(w, n))
		return -1;
	for (i = 0; i < n; i++) {
		const uint8_t *node = tree + i * w->lay->node_size;
		int32_t parent = parent_of(w, node);

		w->outer[i] = parent >= 0 && parent < (int32_t)i ?
			      w->outer[parent] : -1;
		if (w->outer[i] < 0 && named(w, node))
			w->outer[i] = (int32_t)i;
		w->copy[i] = -1;
	}
	return 0;
}

static void flush(struct walk *w)
{
	if (!w->cur.hi)
		return;
	if (w->found < w->max)
		w->out[w->found] = w->cur;
	w->found++;
	w->cur.hi = 0;
}

/* One run of a copy: extends the last range when they touch. */
static int emit(struct walk *w, const struct run *r, const uint8_t *tree,
		int32_t node)
{
	uint64_t entry = w->fn->entry, size = w->fn->end - entry;
	int32_t call = parent_pc(w, tree + node * w->lay->node_size);

	/* copies <= ranges + 1: this bounds both */
	if (w->found >= INT_MAX - 1)
		return fail(w, "too many inlined ranges");
	if (w->copy[node] < 0)
		w->copy[node] = w->copies++;
	if (w->cur.hi == entry + r->lo && w->cur.copy == w->copy[node]) {
		w->cur.hi = entry + r->hi;
		return 0;
	}
	flush(w);
	w->cur = (struct go_inline_range){
		.lo = entry + r->lo, .hi = entry + r->hi, .func = entry,
		.call_pc = call >= 0 && (uint64_t)call < size ? entry + call : 0,
		.copy = w->copy[node],
	};
	return 0;
}

static int emit_copies(struct walk *w, const uint8_t *tree)
{
	size_t i;

	for (i = 0; i < w->nr_runs; i++) {
		const struct run *r = &w->runs[i];

		if (r->val >= 0 && w->outer[r->val] >= 0 &&
		    emit(w, r, tree, w->outer[r->val]))
			return -1;
	}
	return 0;
}

/*
 * Function i's inline tree and its decoded InlTreeIndex table (its
 * largest index in *max): 1, 0 when no pc of it is inlined code, -1.
 */
static int read_tree(struct walk *w, size_t i, struct func_info *fi,
		     int32_t *max)
{
	if (read_func(w, i, fi))
		return -1;
	if (!fi->table || !fi->tree)
		return 0;
	if (decode(w, fi, max))
		return -1;
	return *max >= 0;
}

static int read_one(struct walk *w, size_t i)
{
	struct func_info fi;
	const uint8_t *tree;
	int32_t max;
	size_t n;
	int ret;

	ret = read_tree(w, i, &fi, &max);
	if (ret <= 0)
		return ret;
	n = (size_t)max + 1;
	tree = img_at(&w->f->im, fi.tree, n * w->lay->node_size);
	if (!tree)
		return fail(w, "inline tree outside the file");
	if (!any_named(w, tree, n))
		return 0;
	if (mark_copies(w, tree, n))
		return -1;
	return emit_copies(w, tree);
}

static int setup(struct walk *w, const struct go_pclntab *t, char *err,
		 size_t errlen)
{
	if (!t->file) {
		snprintf(err, errlen, "no Go function table loaded");
		return -1;
	}
	w->f = t->file;
	w->pc = &t->file->pc;
	w->lay = layout_of(w->pc->layout);
	if (!w->lay || w->pc->ptrsz != 8) {
		snprintf(err, errlen, "%s: inline trees of a %u-bit pclntab (layout %u) are not supported",
			 w->f->im.path, w->pc->ptrsz * 8, w->pc->layout);
		return -1;
	}
	return w->lay->gofunc ? find_gofunc(w, err, errlen) : 0;
}

static void walk_end(struct walk *w)
{
	if (w->f)
		img_release(&w->f->im);
	free(w->runs);
	free(w->outer);
	free(w->copy);
}

int go_inline_ranges(const struct go_pclntab *t, const char *name,
		     struct go_inline_range *out, size_t max,
		     char *err, size_t errlen)
{
	struct walk w = { .name = name, .out = out, .max = max };
	int ret = -1;
	size_t i;

	if (setup(&w, t, err, errlen))
		goto out;
	for (i = 0; i < t->nr; i++) {
		w.fn = &t->funcs[i];
		if (read_one(&w, i)) {
			snprintf(err, errlen, "%s: inline tree of %s: %s",
				 w.f->im.path, w.fn->name, w.why);
			goto out;
		}
	}
	flush(&w);
	ret = (int)w.found;
out:
	walk_end(&w);
	return ret;
}

/*
 * The chain at pc offset off of function i, innermost first, as the
 * runtime's traceback walks it (symtabinl.go). A parent is an earlier
 * node: a chain that says otherwise (see mark_copies) ends there, which
 * also bounds a corrupt one.
 */
static int chain_of(struct walk *w, size_t i, uint64_t off, const char **names,
		    size_t max)
{
	uint64_t size = w->lay->node_size;
	struct func_info fi;
	const uint8_t *node;
	int32_t idx, parent, last;
	size_t n = 0;
	int ret;

	ret = read_tree(w, i, &fi, &last);
	if (ret <= 0)
		return ret;
	for (idx = index_at(w, off); idx >= 0 && n < max; idx = parent) {
		node = img_at(&w->f->im, fi.tree + (uint64_t)idx * size, size);
		names[n] = node ? node_name(w, node) : NULL;
		if (!names[n++])
			return -1;
		parent = parent_of(w, node);
		if (parent >= idx)
			break;
	}
	return (int)n;
}

int go_inline_chain(const struct go_pclntab *t, uint64_t pc,
		    const char **names, size_t max)
{
	const struct go_func *fn = go_func_by_addr(t, pc);
	struct walk w = { .fn = fn };
	char err[256];
	int ret = -1;

	if (!fn)
		return 0;
	if (!setup(&w, t, err, sizeof(err)))
		ret = chain_of(&w, (size_t)(fn - t->funcs), pc - fn->entry,
			       names, max);
	walk_end(&w);
	return ret;
}

/* Every range of name's copies, in a buffer to free: *nr of them. */
static struct go_inline_range *all_ranges(const struct go_pclntab *t,
					  const char *name, int *nr,
					  char *err, size_t errlen)
{
	struct go_inline_range *r;
	size_t cap = 1024;
	int n;

	for (;;) {
		r = calloc(cap, sizeof(*r));
		if (!r) {
			snprintf(err, errlen, "out of memory");
			return NULL;
		}
		n = go_inline_ranges(t, name, r, cap, err, errlen);
		if (n >= 0 && (size_t)n <= cap) {
			*nr = n;
			return r;
		}
		free(r);
		if (n < 0)
			return NULL;
		cap = (size_t)n;	/* the count is exact: once more */
	}
}

static int range_cmp(const void *key, const void *elem)
{
	uint64_t addr = *(const uint64_t *)key;
	const struct go_inline_range *r = elem;

	return addr < r->lo ? -1 : addr > r->lo;
}

/* A range of copy c starts at addr (r is sorted and disjoint). */
static int copy_starts_at(const struct go_inline_range *r, int n,
			  uint64_t addr, int c)
{
	const struct go_inline_range *hit = bsearch(&addr, r, (size_t)n,
						    sizeof(*r), range_cmp);

	return hit && hit->copy == c;
}

/*
 * Where a copy begins, for a probe that must fire once per call. Its
 * call_pc is the instruction cmd/compile gave the call's own position
 * (ssagen genssa): the inline mark, a one-byte NOP on amd64 put right
 * before the inlined body, or, when some instruction of the function is
 * already on the call's file:line, the first such one instead, wherever
 * it lies. Measured on cmd/go built by Go 1.19 and 1.22 and on Debian's
 * prometheus (123,728 copies):
 *  - A NOP mark followed by the copy's code (31,160 copies) is where the
 *    copy begins, and runs once per call even when the copy begins with
 *    a loop: no mark is jumped to from inside its copy, while 11
 *    instructions right after one are (mProfCycleHolder.increment's CAS
 *    retry), so the mark is probed, not the copy's first instruction.
 *  - Otherwise call_pc is a reused instruction: after the copy's code in
 *    35-47% of all copies, at times on a path the call does not take
 *    (activeModules inlined into cgoIsGoPointer: the range loop's JMP,
 *    skipped while the module list is nil). The copy's lowest address is
 *    used then, DWARF's for it (DW_AT_low_pc, or its first range). 240
 *    of those 92,568 are jumped to from inside their copy: mostly a tail
 *    laid out first, which runs once per call too (atomicstorep in
 *    clearpools), else a loop's head, which counts once per iteration.
 * first is the copy's first range, its lowest.
 */
static uint64_t copy_entry(const struct go_pclntab *t,
			   const struct go_inline_range *r, int n,
			   const struct go_inline_range *first)
{
	const struct image *im = &t->file->im;
	const uint8_t *mark = first->call_pc ? img_at(im, first->call_pc, 1) :
			      NULL;

	if (im->eh.e_machine == EM_X86_64 && mark && *mark == X86_NOP &&
	    copy_starts_at(r, n, first->call_pc + 1, first->copy))
		return first->call_pc;
	return first->lo;
}

int go_inlined_copies(const struct go_pclntab *t, const char *name,
		      uint64_t *entries, size_t max, char *err, size_t errlen)
{
	struct go_inline_range *r;
	int i, n, copies = 0;

	r = all_ranges(t, name, &n, err, errlen);
	if (!r)
		return -1;
	/* copies are numbered in the order of their first range */
	for (i = 0; i < n; i++) {
		if (r[i].copy != copies)
			continue;
		if ((size_t)copies < max)
			entries[copies] = copy_entry(t, r, n, &r[i]);
		copies++;
	}
	img_release(&t->file->im);
	free(r);
	return copies;
}
