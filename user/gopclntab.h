/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Functions of a Go binary from its pclntab, which the Go runtime needs
 * and so no strip removes: names and [entry, end) of every function of a
 * stripped binary, where each was inlined (the inline trees, read by
 * go_inline.c), and the Go version from .go.buildinfo. Go 1.16 and
 * later (pcHeader magics 0xfffffffa, 0xfffffff0, 0xfffffff1); 64-bit
 * little-endian ELF.
 */
#ifndef CW_GOPCLNTAB_H
#define CW_GOPCLNTAB_H

#include <stddef.h>
#include <stdint.h>

struct go_pclntab_file;

/*
 * Without a .gopclntab section the table is looked for in every loaded
 * byte: at most this many candidate pcHeaders are read in full.
 */
#define GO_PCLNTAB_SCAN_MAX_CANDIDATES 16

struct go_func {
	const char *name;	/* into go_pclntab.names */
	uint64_t entry;		/* [entry, end): virtual addresses */
	uint64_t end;
};

struct go_pclntab {
	struct go_func *funcs;	/* sorted by entry, non-overlapping */
	size_t nr;
	char version[64];	/* "go1.19.8"; "" without .go.buildinfo */
	unsigned int layout;	/* pcHeader layout: 116, 118 or 120 */
	/* private */
	char *names;		/* every name, NUL-terminated, one block */
	struct go_func **by_name;	/* funcs sorted by name */
	struct go_pclntab_file *file;	/* kept mapped for the inline tree */
};

/*
 * Reads the function table of the Go binary at path. 0, or -1 with err
 * set ("PATH: not a Go binary" when it has no pclntab). A failed load
 * leaves an empty table, which go_pclntab_free() accepts.
 */
int go_pclntab_load(struct go_pclntab *t, const char *path,
		    char *err, size_t errlen);
void go_pclntab_free(struct go_pclntab *t);

/*
 * Exact name ("net/http.(*Server).trackConn"), or NULL. Names repeat: an
 * assembly or cgo-called function has an ABI wrapper of the same name
 * (ELF .symtab tells them apart with ".abi0"), and generic functions one
 * instance per shape ("pkg.F[...]"). This returns the lowest entry,
 * which is the body in every pair seen (Go emits a package's wrappers
 * after its code); go_funcs_by_name() gives them all.
 */
const struct go_func *go_func_by_name(const struct go_pclntab *t,
				      const char *name);
/* Every function named name, by entry: *nr of them, NULL when none. */
struct go_func *const *go_funcs_by_name(const struct go_pclntab *t,
					const char *name, size_t *nr);
/*
 * The Go string whose header ({ptr, len}) is at vaddr in the file, as a
 * static panic value is: copied into out (NUL-terminated, at most
 * outlen - 1 bytes). Its length, or -1 when the header or the bytes are
 * not in the file or the string does not fit.
 */
int go_string_at(const struct go_pclntab *t, uint64_t vaddr, char *out,
		 size_t outlen);

/* The function whose [entry, end) holds addr, or NULL. */
const struct go_func *go_func_by_addr(const struct go_pclntab *t,
				      uint64_t addr);

/* A stretch of code inlined from one function into another. */
struct go_inline_range {
	uint64_t lo, hi;	/* [lo, hi): virtual addresses */
	uint64_t func;		/* entry of the out-of-line function holding it */
	uint64_t call_pc;	/* entry + parentPc of the inlined call: the
				 * instruction that marks the call site, or 0 */
	int copy;		/* ranges of one inlined copy share this number */
};

/*
 * Every range of code that belongs to an inlined copy of the function
 * named name, anywhere in the binary: pcs whose inline chain (innermost
 * call, its parent, ... up to the out-of-line function) contains name,
 * so code inlined into that copy counts as inside it too. Returns how
 * many ranges (at most max stored, sorted by lo), or -1 with err set
 * when the inline tree cannot be read (say why: e.g. funcdata base not found).
 */
int go_inline_ranges(const struct go_pclntab *t, const char *name,
		     struct go_inline_range *out, size_t max,
		     char *err, size_t errlen);

/*
 * Where each inlined copy of name begins, for a probe that fires once
 * per call (go_inline.c says how it is chosen): its inline mark, or its
 * lowest address. Returns how many copies (at most max stored, by
 * address), or -1 with err set, as go_inline_ranges().
 */
int go_inlined_copies(const struct go_pclntab *t, const char *name,
		      uint64_t *entries, size_t max, char *err, size_t errlen);

/*
 * The functions the compiler inlined at pc, innermost first, as Go's
 * tracebacks name them: the innermost inlined call, the copy it was
 * inlined into, ... up to (not including) the out-of-line function
 * holding pc. For a return address, pass the call's pc (address - 1).
 * names point into the table (valid until go_pclntab_free). Returns how
 * many were stored (at most max, the outermost ones dropped), 0 when pc
 * is not in inlined code, -1 when the inline tree cannot be read.
 */
int go_inline_chain(const struct go_pclntab *t, uint64_t pc,
		    const char **names, size_t max);

#endif
