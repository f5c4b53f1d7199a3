/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Exit sites of a function: where a return-side uprobe goes. */
#ifndef CW_DISASM_H
#define CW_DISASM_H

#include <stddef.h>
#include <stdint.h>

#define CW_MAX_EXIT_SITES 64

struct exit_sites {
	uint64_t addr[CW_MAX_EXIT_SITES];	/* virtual addresses */
	size_t nr;
	size_t nr_tail_calls;	/* JMPs out of the function among them */
};

/*
 * Decodes code (the function's bytes, loaded at vaddr) from its first
 * instruction, so every site is an instruction boundary, and collects
 * every RET and every direct JMP whose target lies outside the function
 * (a tail call: the function ends there too). 0, or -1 with err set.
 */
int find_exit_sites(const uint8_t *code, size_t size, uint64_t vaddr,
		    struct exit_sites *out, char *err, size_t errlen);

/*
 * Where an entry probe can go. The kernel refuses to probe an instruction
 * with a LOCK or segment prefix (`lock addq $1,(%rdi)` is often the whole
 * of an -O2 counter function); then the next instruction is used, when
 * the first neither branches nor writes the stack pointer or an argument
 * register, so the arguments and the return address are still intact.
 * *late is set when the site moved. 0, or -1 with err set.
 */
int find_entry_site(const uint8_t *code, size_t size, uint64_t vaddr,
		    uint64_t *site, int *late, char *err, size_t errlen);

/*
 * Where a probe on an inlined copy starting at vaddr can go: there, or
 * past a first instruction uprobes refuse when it does not branch. The
 * arguments do not matter: an inlined copy has none in registers.
 */
int find_inline_site(const uint8_t *code, size_t size, uint64_t vaddr,
		     uint64_t *site, char *err, size_t errlen);

/*
 * A Go function's entry past its stack-check prologue
 * (`cmp rsp, [r14+0x10]; jbe morestack`, possibly after `lea r12,
 * [rsp-N]`): when the stack must grow, morestack copies it and jumps back
 * to the entry, so a probe on the first instruction fires twice per
 * call. The fall-through after the jbe runs once; the prologue writes no
 * argument register and pushes nothing, so arguments and the return
 * address at [sp] are intact there. *site = vaddr when there is no such
 * prologue (nosplit functions). 0, or -1 with err set.
 */
int find_go_entry_site(const uint8_t *code, size_t size, uint64_t vaddr,
		       uint64_t *site, char *err, size_t errlen);

#endif
