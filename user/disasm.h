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

#define CW_MAX_CALL_SITES 32

/* A direct CALL to the probed function, made from where a probe wants. */
struct call_site {
	uint64_t call;		/* the CALL instruction */
	uint64_t probe;		/* where the uprobe goes: the CALL, or the
				 * load of the argument (see owner_reg) */
	int owner_reg;		/* enum cw_reg: the object the argument was
				 * loaded from, live at probe; 0 if unknown */
	int32_t owner_disp;	/* the argument's offset in that object */
};

struct call_sites {
	struct call_site site[CW_MAX_CALL_SITES];
	size_t nr;
};

/*
 * The direct CALLs to callee whose address is in [lo, hi), in the
 * function whose code is at vaddr (decoded from its first instruction, so
 * every site is an instruction boundary); appended to out.
 *
 * With arg_reg (enum cw_reg) set, also the owner of that argument:
 * close(s.done) compiles to `mov rax, [rax+0xc0]; call runtime.closechan`,
 * where rax is s before the load and the channel after. When the last
 * write to arg_reg before the CALL is such a load, in straight-line code
 * that no jump enters, the probe goes on the load and owner_reg names
 * its base register. Else the probe stays on the CALL, owner_reg 0.
 * 0, or -1 with err set.
 */
/* "rax" for CW_REG_RAX: as check prints a site's key register. */
const char *cw_reg_name(int reg);

int find_call_sites(const uint8_t *code, size_t size, uint64_t vaddr,
		    uint64_t lo, uint64_t hi, uint64_t callee, int arg_reg,
		    struct call_sites *out, char *err, size_t errlen);

#define CW_MAX_PANIC_CALLS 32

/*
 * A call to runtime.gopanic and the conditional jump that leads only
 * there: the "failing branch" a check can be probed on, so that it
 * costs no trap on a healthy program.
 */
struct panic_branch {
	uint64_t call;		/* CALL runtime.gopanic */
	uint64_t value;		/* the panic value's data, lea rbx,[rip+X]: X */
	uint64_t probe;		/* first instruction only the panic path
				 * runs, and every path to the call; 0 when
				 * that cannot be told for certain */
	uint64_t jump;		/* the conditional jump that takes it */
	/* The test before the jump read memory at [base_reg + base_disp]
	 * (cmp [rdi+0x1c],0; lock xadd [rax],rbx): base_reg (enum cw_reg)
	 * still holds that address at probe; 0 if unknown. A lock xadd
	 * left the old value in old_reg, also still there. */
	int base_reg;
	int32_t base_disp;
	int old_reg;
};

struct panic_branches {
	struct panic_branch b[CW_MAX_PANIC_CALLS];
	size_t nr;
};

/*
 * Every CALL to gopanic in the function whose code is at vaddr, with its
 * panic value and, where certain, the branch that leads to it. 0, or -1
 * with err set.
 */
int find_panic_branches(const uint8_t *code, size_t size, uint64_t vaddr,
			uint64_t gopanic, struct panic_branches *out,
			char *err, size_t errlen);

#endif
