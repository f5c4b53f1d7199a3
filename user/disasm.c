// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Finds a function's exits with capstone, from its first instruction. */
#include <capstone/capstone.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/types.h>
#include "../bpf/connwatch.h"
#include "disasm.h"

static int jumps_out(const cs_insn *insn, uint64_t start, uint64_t end)
{
	const cs_x86 *x86 = &insn->detail->x86;
	uint64_t target;

	if (insn->id != X86_INS_JMP || x86->op_count != 1 ||
	    x86->operands[0].type != X86_OP_IMM)
		return 0;	/* indirect: a jump table as often as not */
	target = (uint64_t)x86->operands[0].imm;
	return target < start || target >= end;
}

/* The kernel's uprobe decoder rejects these prefixes (is_prefix_bad). */
static int probeable(const cs_insn *insn)
{
	const uint8_t *pfx = insn->detail->x86.prefix;
	int i;

	for (i = 0; i < 4; i++)
		if (pfx[i] == X86_PREFIX_LOCK || pfx[i] == X86_PREFIX_CS ||
		    pfx[i] == X86_PREFIX_SS || pfx[i] == X86_PREFIX_DS ||
		    pfx[i] == X86_PREFIX_ES)
			return 0;
	return 1;
}

static int add_site(struct exit_sites *out, uint64_t addr, char *err,
		    size_t errlen)
{
	if (out->nr == CW_MAX_EXIT_SITES) {
		snprintf(err, errlen, "more than %d exits",
			 CW_MAX_EXIT_SITES);
		return -1;
	}
	out->addr[out->nr++] = addr;
	return 0;
}

int find_exit_sites(const uint8_t *code, size_t size, uint64_t vaddr,
		    struct exit_sites *out, char *err, size_t errlen)
{
	const uint8_t *p = code;
	uint64_t addr = vaddr;
	size_t left = size;
	cs_insn *insn;
	csh cs;
	int ret = -1;

	out->nr = out->nr_tail_calls = 0;
	if (cs_open(CS_ARCH_X86, CS_MODE_64, &cs) != CS_ERR_OK) {
		snprintf(err, errlen, "capstone: cannot open x86-64");
		return -1;
	}
	cs_option(cs, CS_OPT_DETAIL, CS_OPT_ON);
	insn = cs_malloc(cs);
	while (left) {
		if (!cs_disasm_iter(cs, &p, &left, &addr, insn)) {
			snprintf(err, errlen, "cannot decode instruction at +0x%llx",
				 (unsigned long long)(addr - vaddr));
			goto out;
		}
		if ((insn->id == X86_INS_RET || jumps_out(insn, vaddr, vaddr + size)) &&
		    !probeable(insn)) {
			snprintf(err, errlen, "exit at +0x%llx has a prefix uprobes refuse",
				 (unsigned long long)(insn->address - vaddr));
			goto out;
		}
		if (insn->id == X86_INS_RET) {
			if (add_site(out, insn->address, err, errlen))
				goto out;
		} else if (jumps_out(insn, vaddr, vaddr + size)) {
			if (add_site(out, insn->address, err, errlen))
				goto out;
			out->nr_tail_calls++;
		}
	}
	ret = 0;
out:
	cs_free(insn, 1);
	cs_close(&cs);
	return ret;
}

static int is_branch(csh cs, const cs_insn *insn)
{
	return cs_insn_group(cs, insn, CS_GRP_JUMP) ||
	       cs_insn_group(cs, insn, CS_GRP_CALL) ||
	       cs_insn_group(cs, insn, CS_GRP_RET);
}

static int writes_args(csh cs, const cs_insn *insn)
{
	static const x86_reg args[] = { X86_REG_RDI, X86_REG_RSI, X86_REG_RDX,
					X86_REG_RCX, X86_REG_R8, X86_REG_R9,
					X86_REG_RSP, X86_REG_EDI, X86_REG_ESI,
					X86_REG_EDX, X86_REG_ECX, X86_REG_R8D,
					X86_REG_R9D, X86_REG_ESP };
	cs_regs rd, wr;
	uint8_t nr_rd, nr_wr, i, j;

	if (cs_regs_access(cs, insn, rd, &nr_rd, wr, &nr_wr))
		return 1;
	for (i = 0; i < nr_wr; i++)
		for (j = 0; j < sizeof(args) / sizeof(args[0]); j++)
			if (wr[i] == args[j])
				return 1;
	return 0;
}

static int probe_site(const uint8_t *code, size_t size, uint64_t vaddr,
		      uint64_t *site, int *late, int need_args, char *err,
		      size_t errlen)
{
	const uint8_t *p = code;
	uint64_t addr = vaddr;
	size_t left = size;
	cs_insn *insn;
	csh cs;
	int ret = -1;

	*site = vaddr;
	*late = 0;
	if (cs_open(CS_ARCH_X86, CS_MODE_64, &cs) != CS_ERR_OK) {
		snprintf(err, errlen, "capstone: cannot open x86-64");
		return -1;
	}
	cs_option(cs, CS_OPT_DETAIL, CS_OPT_ON);
	insn = cs_malloc(cs);
	if (!cs_disasm_iter(cs, &p, &left, &addr, insn)) {
		snprintf(err, errlen, "cannot decode the first instruction");
		goto out;
	}
	ret = 0;
	if (probeable(insn))
		goto out;
	ret = -1;
	if (!left || is_branch(cs, insn) ||
	    (need_args && writes_args(cs, insn))) {
		snprintf(err, errlen, "the first instruction (%s %s) cannot take "
			 "a uprobe and the next one is not equivalent",
			 insn->mnemonic, insn->op_str);
		goto out;
	}
	*site = addr;	/* cs_disasm_iter advanced it past the first */
	*late = 1;
	/* A jump back to the entry would run the site twice per call. */
	while (cs_disasm_iter(cs, &p, &left, &addr, insn)) {
		const cs_x86 *x86 = &insn->detail->x86;

		if (cs_insn_group(cs, insn, CS_GRP_JUMP) && x86->op_count == 1 &&
		    x86->operands[0].type == X86_OP_IMM &&
		    (uint64_t)x86->operands[0].imm == vaddr) {
			snprintf(err, errlen, "the first instruction cannot take "
				 "a uprobe and the function jumps back to it");
			goto out;
		}
	}
	ret = 0;
out:
	cs_free(insn, 1);
	cs_close(&cs);
	return ret;
}

int find_entry_site(const uint8_t *code, size_t size, uint64_t vaddr,
		    uint64_t *site, int *late, char *err, size_t errlen)
{
	return probe_site(code, size, vaddr, site, late, 1, err, errlen);
}

int find_inline_site(const uint8_t *code, size_t size, uint64_t vaddr,
		     uint64_t *site, char *err, size_t errlen)
{
	int late;

	return probe_site(code, size, vaddr, site, &late, 0, err, errlen);
}

/* cmp REG, qword ptr [r14 + 0x10]: the goroutine's stack guard. */
static int is_stack_guard_cmp(const cs_insn *insn)
{
	const cs_x86 *x86 = &insn->detail->x86;

	return insn->id == X86_INS_CMP && x86->op_count == 2 &&
	       x86->operands[1].type == X86_OP_MEM &&
	       x86->operands[1].mem.base == X86_REG_R14 &&
	       x86->operands[1].mem.disp == 0x10;
}

int find_go_entry_site(const uint8_t *code, size_t size, uint64_t vaddr,
		       uint64_t *site, char *err, size_t errlen)
{
	const uint8_t *p = code;
	uint64_t addr = vaddr;
	size_t left = size;
	int i, guarded = 0;
	cs_insn *insn;
	csh cs;

	*site = vaddr;
	if (cs_open(CS_ARCH_X86, CS_MODE_64, &cs) != CS_ERR_OK) {
		snprintf(err, errlen, "capstone: cannot open x86-64");
		return -1;
	}
	cs_option(cs, CS_OPT_DETAIL, CS_OPT_ON);
	insn = cs_malloc(cs);
	/* The prologue is at most lea, cmp, jbe. */
	for (i = 0; i < 3 && cs_disasm_iter(cs, &p, &left, &addr, insn); i++) {
		if (is_stack_guard_cmp(insn)) {
			guarded = 1;
			continue;
		}
		if (guarded && insn->id == X86_INS_JBE) {
			*site = addr;	/* the fall-through */
			break;
		}
		if (insn->id != X86_INS_LEA)
			break;
	}
	cs_free(insn, 1);
	cs_close(&cs);
	return 0;
}

/* The 64-bit register a GPR (or a part of one) belongs to: enum cw_reg. */
static int gpr(x86_reg r)
{
	static const x86_reg parts[CW_REG__COUNT][5] = {
		[CW_REG_RAX] = { X86_REG_RAX, X86_REG_EAX, X86_REG_AX, X86_REG_AL, X86_REG_AH },
		[CW_REG_RBX] = { X86_REG_RBX, X86_REG_EBX, X86_REG_BX, X86_REG_BL, X86_REG_BH },
		[CW_REG_RCX] = { X86_REG_RCX, X86_REG_ECX, X86_REG_CX, X86_REG_CL, X86_REG_CH },
		[CW_REG_RDX] = { X86_REG_RDX, X86_REG_EDX, X86_REG_DX, X86_REG_DL, X86_REG_DH },
		[CW_REG_RSI] = { X86_REG_RSI, X86_REG_ESI, X86_REG_SI, X86_REG_SIL },
		[CW_REG_RDI] = { X86_REG_RDI, X86_REG_EDI, X86_REG_DI, X86_REG_DIL },
		[CW_REG_RBP] = { X86_REG_RBP, X86_REG_EBP, X86_REG_BP, X86_REG_BPL },
		[CW_REG_R8] = { X86_REG_R8, X86_REG_R8D, X86_REG_R8W, X86_REG_R8B },
		[CW_REG_R9] = { X86_REG_R9, X86_REG_R9D, X86_REG_R9W, X86_REG_R9B },
		[CW_REG_R10] = { X86_REG_R10, X86_REG_R10D, X86_REG_R10W, X86_REG_R10B },
		[CW_REG_R11] = { X86_REG_R11, X86_REG_R11D, X86_REG_R11W, X86_REG_R11B },
		[CW_REG_R12] = { X86_REG_R12, X86_REG_R12D, X86_REG_R12W, X86_REG_R12B },
		[CW_REG_R13] = { X86_REG_R13, X86_REG_R13D, X86_REG_R13W, X86_REG_R13B },
		[CW_REG_R14] = { X86_REG_R14, X86_REG_R14D, X86_REG_R14W, X86_REG_R14B },
		[CW_REG_R15] = { X86_REG_R15, X86_REG_R15D, X86_REG_R15W, X86_REG_R15B },
	};
	int i, j;

	if (r == X86_REG_INVALID)
		return CW_REG_NONE;
	for (i = CW_REG_RAX; i < CW_REG__COUNT; i++)
		for (j = 0; j < 5; j++)
			if (parts[i][j] == r)
				return i;
	return CW_REG_NONE;
}

const char *cw_reg_name(int reg)
{
	static const char *const names[CW_REG__COUNT] = {
		"?", "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "r8",
		"r9", "r10", "r11", "r12", "r13", "r14", "r15",
	};

	return reg > 0 && reg < CW_REG__COUNT ? names[reg] : "?";
}

static int writes_reg(csh cs, const cs_insn *insn, int reg)
{
	cs_regs rd, wr;
	uint8_t nr_rd, nr_wr, i;

	if (cs_regs_access(cs, insn, rd, &nr_rd, wr, &nr_wr))
		return 1;	/* unknown: assume it does */
	for (i = 0; i < nr_wr; i++)
		if (gpr(wr[i]) == reg)
			return 1;
	return 0;
}

static int direct_target(csh cs, const cs_insn *insn, uint64_t *target)
{
	const cs_x86 *x86 = &insn->detail->x86;

	if (!cs_insn_group(cs, insn, CS_GRP_JUMP) &&
	    !cs_insn_group(cs, insn, CS_GRP_CALL))
		return 0;
	if (x86->op_count != 1 || x86->operands[0].type != X86_OP_IMM)
		return 0;
	*target = (uint64_t)x86->operands[0].imm;
	return 1;
}

static int calls_to(csh cs, const cs_insn *insn, uint64_t callee)
{
	uint64_t t;

	return cs_insn_group(cs, insn, CS_GRP_CALL) &&
	       direct_target(cs, insn, &t) && t == callee;
}

/*
 * Each decoded instruction keeps ~2 KB (capstone's detail): a bound on
 * what a function of the target can cost, far above any probed one.
 */
#define MAX_DECODED (1 << 16)

/*
 * A whole function, decoded from its first instruction, and where its
 * direct jumps and calls land, sorted: a walk back over a run asks at
 * every instruction whether something jumps there.
 */
struct decoded {
	csh cs;
	cs_insn *insns;
	size_t n;
	uint64_t *targets;
	size_t nr_targets;
};

static int addr_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int index_targets(struct decoded *d)
{
	size_t i;

	d->targets = malloc(d->n * sizeof(*d->targets));
	if (!d->targets)
		return -1;
	for (i = 0; i < d->n; i++)
		if (direct_target(d->cs, &d->insns[i],
				  &d->targets[d->nr_targets]))
			d->nr_targets++;
	qsort(d->targets, d->nr_targets, sizeof(*d->targets), addr_cmp);
	return 0;
}

static void decoded_free(struct decoded *d)
{
	free(d->targets);
	cs_free(d->insns, d->n);
	cs_close(&d->cs);
}

static int decode_all(const uint8_t *code, size_t size, uint64_t vaddr,
		      struct decoded *d, char *err, size_t errlen)
{
	memset(d, 0, sizeof(*d));
	if (cs_open(CS_ARCH_X86, CS_MODE_64, &d->cs) != CS_ERR_OK) {
		snprintf(err, errlen, "capstone: cannot open x86-64");
		return -1;
	}
	cs_option(d->cs, CS_OPT_DETAIL, CS_OPT_ON);
	d->n = cs_disasm(d->cs, code, size, vaddr, MAX_DECODED + 1, &d->insns);
	if (!d->n)
		snprintf(err, errlen, "cannot decode its instructions");
	else if (d->n > MAX_DECODED)
		snprintf(err, errlen, "more than %d instructions", MAX_DECODED);
	else if (index_targets(d))
		snprintf(err, errlen, "out of memory");
	else
		return 0;
	decoded_free(d);
	return -1;
}

/* Whether some jump of the function lands in (from, to]. */
static int entered_between(csh cs, const cs_insn *insns, size_t n,
			   uint64_t from, uint64_t to)
{
	uint64_t t;
	size_t i;

	for (i = 0; i < n; i++)
		if (direct_target(cs, &insns[i], &t) && t > from && t <= to)
			return 1;
	return 0;
}

/* mov REG64, qword ptr [base + disp]: base must be a plain GPR. */
static int owner_load(const cs_insn *insn, int reg, int *base, int32_t *disp)
{
	const cs_x86 *x86 = &insn->detail->x86;
	const cs_x86_op *dst = &x86->operands[0], *src = &x86->operands[1];

	if (insn->id != X86_INS_MOV || x86->op_count != 2 ||
	    dst->type != X86_OP_REG || gpr(dst->reg) != reg || dst->size != 8 ||
	    src->type != X86_OP_MEM || src->mem.index != X86_REG_INVALID ||
	    src->mem.segment != X86_REG_INVALID || !probeable(insn))
		return 0;
	if (gpr(src->mem.base) == CW_REG_NONE)
		return 0;	/* rsp, rip: not an object */
	*base = gpr(src->mem.base);
	*disp = (int32_t)src->mem.disp;
	return 1;
}

/*
 * Walks back from the CALL at insns[call] to the last write of reg; the
 * site's probe moves there when it is an owner load nothing jumps past.
 */
static void find_owner(csh cs, const cs_insn *insns, size_t n, size_t call,
		       int reg, struct call_site *site)
{
	size_t i = call;

	while (i-- > 0) {
		const cs_insn *insn = &insns[i];

		if (is_branch(cs, insn))
			return;
		if (!writes_reg(cs, insn, reg))
			continue;
		if (owner_load(insn, reg, &site->owner_reg, &site->owner_disp) &&
		    !entered_between(cs, insns, n, insn->address,
				     insns[call].address)) {
			site->probe = insn->address;
			return;
		}
		site->owner_reg = CW_REG_NONE;
		site->owner_disp = 0;
		return;
	}
}

int find_call_sites(const uint8_t *code, size_t size, uint64_t vaddr,
		    uint64_t lo, uint64_t hi, uint64_t callee, int arg_reg,
		    struct call_sites *out, char *err, size_t errlen)
{
	struct decoded d;
	size_t i;
	int ret = -1;

	if (decode_all(code, size, vaddr, &d, err, errlen))
		return -1;
	for (i = 0; i < d.n; i++) {
		struct call_site *site;

		if (d.insns[i].address < lo || d.insns[i].address >= hi ||
		    !calls_to(d.cs, &d.insns[i], callee))
			continue;
		if (out->nr == CW_MAX_CALL_SITES) {
			snprintf(err, errlen, "more than %d call sites",
				 CW_MAX_CALL_SITES);
			goto out;
		}
		site = &out->site[out->nr++];
		*site = (struct call_site){ .call = d.insns[i].address,
					    .probe = d.insns[i].address };
		if (arg_reg)
			find_owner(d.cs, d.insns, d.n, i, arg_reg, site);
	}
	ret = 0;
out:
	decoded_free(&d);
	return ret;
}

/* Whether insns[i] is where some jump of the function lands. */
static int is_target(const struct decoded *d, size_t i)
{
	return d->nr_targets &&
	       bsearch(&d->insns[i].address, d->targets, d->nr_targets,
		       sizeof(*d->targets), addr_cmp);
}

/* The jumps of the function that land on insns[i]: their count, the
 * index of the last one in *from. */
static int jumps_to(csh cs, const cs_insn *insns, size_t n, size_t i,
		    size_t *from)
{
	uint64_t t;
	size_t j;
	int nr = 0;

	for (j = 0; j < n; j++)
		if (cs_insn_group(cs, &insns[j], CS_GRP_JUMP) &&
		    direct_target(cs, &insns[j], &t) && t == insns[i].address) {
			*from = j;
			nr++;
		}
	return nr;
}

static int is_jcc(csh cs, const cs_insn *insn)
{
	return cs_insn_group(cs, insn, CS_GRP_JUMP) && insn->id != X86_INS_JMP;
}

/* Execution never falls through insn to the next instruction. */
static int ends_flow(csh cs, const cs_insn *insn, uint64_t gopanic)
{
	return insn->id == X86_INS_JMP || insn->id == X86_INS_RET ||
	       insn->id == X86_INS_UD2 || insn->id == X86_INS_INT3 ||
	       calls_to(cs, insn, gopanic);
}

/* lea rbx, [rip + X] before the CALL: X, the panic value's data. */
static uint64_t panic_value(csh cs, const cs_insn *insns, size_t call)
{
	size_t i = call;

	while (i-- > 0) {
		const cs_insn *insn = &insns[i];
		const cs_x86 *x86 = &insn->detail->x86;

		if (is_branch(cs, insn))
			return 0;
		if (!writes_reg(cs, insn, CW_REG_RBX))
			continue;
		if (insn->id != X86_INS_LEA || x86->op_count != 2 ||
		    x86->operands[1].type != X86_OP_MEM ||
		    x86->operands[1].mem.base != X86_REG_RIP ||
		    x86->operands[1].mem.index != X86_REG_INVALID)
			return 0;
		return insn->address + insn->size + x86->operands[1].mem.disp;
	}
	return 0;
}

/*
 * The first instruction of the straight run that ends in the CALL at
 * insns[call]: walking back over plain instructions and calls that
 * return (unlock before the panic), to a jump target or to what follows
 * a jump. Its index.
 */
static size_t run_start(const struct decoded *d, size_t call,
			uint64_t gopanic)
{
	size_t i = call;

	while (i > 0 && !is_target(d, i) &&
	       !cs_insn_group(d->cs, &d->insns[i - 1], CS_GRP_JUMP) &&
	       !ends_flow(d->cs, &d->insns[i - 1], gopanic))
		i--;
	return i;
}

/*
 * The test the jump at insns[jump] decides on: the last instruction
 * before it, in straight code no jump enters, that reads memory at a
 * register base; that register (and a lock xadd's old value) must still
 * be intact at the jump.
 */
static void find_test(const struct decoded *d, size_t jump,
		      struct panic_branch *b)
{
	const cs_insn *insns = d->insns;
	size_t i = jump, j;
	csh cs = d->cs;

	while (i-- > 0) {
		const cs_insn *insn = &insns[i];
		const cs_x86 *x86 = &insn->detail->x86;
		int k, base = 0, old = 0;
		int64_t disp = 0;

		if (is_branch(cs, insn) || is_target(d, i + 1))
			return;
		for (k = 0; k < x86->op_count; k++) {
			const cs_x86_op *op = &x86->operands[k];

			if (op->type == X86_OP_MEM &&
			    op->mem.index == X86_REG_INVALID) {
				base = gpr(op->mem.base);
				disp = op->mem.disp;
			} else if (op->type == X86_OP_REG &&
				   insn->id == X86_INS_XADD) {
				old = gpr(op->reg);
			}
		}
		if (!base)
			continue;
		for (j = i + 1; j < jump; j++)
			if (writes_reg(cs, &insns[j], base) ||
			    (old && writes_reg(cs, &insns[j], old)))
				return;
		b->base_reg = base;
		b->base_disp = (int32_t)disp;
		b->old_reg = old;
		return;
	}
}

/*
 * The run starting at insns[start] is the panic path alone when one
 * conditional jump lands there and nothing falls into it, or when it is
 * a conditional jump's fall-through and nothing jumps there.
 */
static void find_branch(const struct decoded *d, size_t start,
			uint64_t gopanic, struct panic_branch *b)
{
	const cs_insn *insns = d->insns;
	csh cs = d->cs;
	size_t jump;
	int nr;

	if (!start || !probeable(&insns[start]))
		return;
	nr = jumps_to(cs, insns, d->n, start, &jump);
	if (!nr && is_jcc(cs, &insns[start - 1]))
		jump = start - 1;	/* the panic path is its fall-through */
	else if (nr != 1 || !is_jcc(cs, &insns[jump]) ||
		 !ends_flow(cs, &insns[start - 1], gopanic))
		return;
	b->probe = insns[start].address;
	b->jump = insns[jump].address;
	find_test(d, jump, b);
}

int find_panic_branches(const uint8_t *code, size_t size, uint64_t vaddr,
			uint64_t gopanic, struct panic_branches *out,
			char *err, size_t errlen)
{
	struct decoded d;
	size_t i;
	int ret = -1;

	out->nr = 0;
	if (decode_all(code, size, vaddr, &d, err, errlen))
		return -1;
	for (i = 0; i < d.n; i++) {
		struct panic_branch *b;

		if (!calls_to(d.cs, &d.insns[i], gopanic))
			continue;
		if (out->nr == CW_MAX_PANIC_CALLS) {
			snprintf(err, errlen, "more than %d panics",
				 CW_MAX_PANIC_CALLS);
			goto out;
		}
		b = &out->b[out->nr++];
		memset(b, 0, sizeof(*b));
		b->call = d.insns[i].address;
		b->value = panic_value(d.cs, d.insns, i);
		find_branch(&d, run_start(&d, i, gopanic), gopanic, b);
	}
	ret = 0;
out:
	decoded_free(&d);
	return ret;
}
