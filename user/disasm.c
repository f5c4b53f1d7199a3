// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Finds a function's exits with capstone, from its first instruction. */
#include <capstone/capstone.h>
#include <stdio.h>
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
