// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Exit and entry sites of hand-assembled x86-64 functions. */
#include <linux/types.h>
#include "../../bpf/connwatch.h"
#include "../../user/disasm.h"
#include "unit.h"

/* Where the functions below pretend to be loaded. */
#define VADDR 0x401000ULL

/* push %rbp; mov %rsp,%rbp; pop %rbp; ret */
static const uint8_t frame_ret[] = {
	0x55,			/* +0  push %rbp */
	0x48, 0x89, 0xe5,	/* +1  mov  %rsp,%rbp */
	0x5d,			/* +4  pop  %rbp */
	0xc3,			/* +5  ret */
};

/* return rdi ? 1 : 0, with a RET on each side of the branch. */
static const uint8_t two_rets[] = {
	0x48, 0x85, 0xff,		/* +0  test %rdi,%rdi */
	0x74, 0x03,			/* +3  je   +8 */
	0x31, 0xc0,			/* +5  xor  %eax,%eax */
	0xc3,				/* +7  ret */
	0xb8, 0x01, 0x00, 0x00, 0x00,	/* +8  mov  $1,%eax */
	0xc3,				/* +d  ret */
};

/* A loop (JMP back inside: not an exit), then a tail call out. */
static const uint8_t tail_call[] = {
	0x48, 0xff, 0xcf,		/* +0  dec  %rdi */
	0x48, 0x85, 0xff,		/* +3  test %rdi,%rdi */
	0x74, 0x02,			/* +6  je   +a */
	0xeb, 0xf6,			/* +8  jmp  +0 (VADDR) */
	0xe9, 0xf1, 0x0f, 0x00, 0x00,	/* +a  jmp  VADDR+0x1000 */
};

/* A JMP to just before the function leaves it too. */
static const uint8_t tail_call_back[] = {
	0x90,			/* +0  nop */
	0xeb, 0xfc,		/* +1  jmp  VADDR-1 */
};

/* AMD's branch-predictor idiom: still a RET. */
static const uint8_t rep_ret[] = {
	0x31, 0xc0,		/* +0  xor  %eax,%eax */
	0xf3, 0xc3,		/* +2  repz ret */
};

/* An indirect JMP (a jump table as often as not) is no exit. */
static const uint8_t indirect_jmp[] = {
	0x48, 0x85, 0xff,	/* +0  test %rdi,%rdi */
	0x74, 0x03,		/* +3  je   +8 */
	0x3e, 0xff, 0xe0,	/* +5  notrack jmp *%rax */
	0xc3,			/* +8  ret */
};

/* uprobes refuse a DS prefix, so this exit cannot be probed. */
static const uint8_t ds_ret[] = {
	0x31, 0xc0,		/* +0  xor  %eax,%eax */
	0x3e, 0xc3,		/* +2  ds ret */
};

static const uint8_t undecodable[] = {
	0x55,			/* +0  push %rbp */
	0x06,			/* +1  push %es: invalid in 64-bit mode */
	0xc3,
};

struct exit_case {
	const char *name;
	const uint8_t *code;
	size_t size;
	int ret;
	const char *err;	/* a fragment of it, when ret is -1 */
	size_t nr;
	uint64_t sites[2];	/* offsets from VADDR */
	size_t nr_tail_calls;
};

#define CODE(a) .code = (a), .size = sizeof(a)

static const struct exit_case exit_cases[] = {
	{ "exit_frame_ret", CODE(frame_ret), .nr = 1, .sites = { 5 } },
	{ "exit_two_rets", CODE(two_rets), .nr = 2, .sites = { 7, 0xd } },
	{ "exit_tail_call", CODE(tail_call), .nr = 1, .sites = { 0xa },
	  .nr_tail_calls = 1 },
	{ "exit_tail_call_back", CODE(tail_call_back), .nr = 1,
	  .sites = { 1 }, .nr_tail_calls = 1 },
	{ "exit_rep_ret", CODE(rep_ret), .nr = 1, .sites = { 2 } },
	{ "exit_indirect_jmp", CODE(indirect_jmp), .nr = 1, .sites = { 8 } },
	{ "exit_ds_ret", CODE(ds_ret), .ret = -1,
	  .err = "exit at +0x2 has a prefix uprobes refuse" },
	{ "exit_undecodable", CODE(undecodable), .ret = -1,
	  .err = "cannot decode instruction at +0x1" },
};

static void test_exit_case(void **state)
{
	const struct exit_case *c = *state;
	struct exit_sites out;
	char err[256] = "";
	size_t i;
	int ret;

	ret = find_exit_sites(c->code, c->size, VADDR, &out, err, sizeof(err));
	if (ret != c->ret)
		fail_msg("returned %d, not %d (err: %s)", ret, c->ret, err);
	if (ret) {
		assert_contains(err, c->err);
		return;
	}
	assert_int_equal(out.nr, c->nr);
	for (i = 0; i < c->nr; i++)
		assert_int_equal(out.addr[i], VADDR + c->sites[i]);
	assert_int_equal(out.nr_tail_calls, c->nr_tail_calls);
}

/* out->addr holds CW_MAX_EXIT_SITES: one RET more is an error. */
static void test_exit_limit(void **state)
{
	uint8_t rets[CW_MAX_EXIT_SITES + 1];
	struct exit_sites out;
	char err[256] = "";

	(void)state;
	memset(rets, 0xc3, sizeof(rets));	/* ret; ret; ... */
	assert_int_equal(find_exit_sites(rets, CW_MAX_EXIT_SITES, VADDR, &out,
					 err, sizeof(err)), 0);
	assert_int_equal(out.nr, CW_MAX_EXIT_SITES);
	assert_int_equal(out.addr[CW_MAX_EXIT_SITES - 1],
			 VADDR + CW_MAX_EXIT_SITES - 1);
	assert_int_equal(find_exit_sites(rets, sizeof(rets), VADDR, &out,
					 err, sizeof(err)), -1);
	assert_contains(err, "more than 64 exits");
}

/* An FS prefix (the stack protector's canary load) is probeable. */
static const uint8_t fs_load[] = {
	0x64, 0x48, 0x8b, 0x04, 0x25,	/* +0  mov  %fs:0x28,%rax */
	0x28, 0x00, 0x00, 0x00,
	0xc3,				/* +9  ret */
};

/* An -O2 counter function: the whole body is one locked add. */
static const uint8_t lock_add[] = {
	0xf0, 0x48, 0x83, 0x47, 0x08, 0x01,	/* +0  lock addq $0x1,0x8(%rdi) */
	0xc3,					/* +6  ret */
};

/* After the XADD, %rdi no longer holds the first argument. */
static const uint8_t lock_xadd_rdi[] = {
	0xf0, 0x48, 0x0f, 0xc1, 0x3e,	/* +0  lock xadd %rdi,(%rsi) */
	0xc3,				/* +5  ret */
};

/* Nothing after the locked instruction to probe instead. */
static const uint8_t lock_only[] = {
	0xf0, 0x48, 0xff, 0x07,	/* +0  lock incq (%rdi) */
};

/* The loop would run a late site once per iteration, not per call. */
static const uint8_t lock_loop[] = {
	0xf0, 0x48, 0xff, 0x07,	/* +0  lock incq (%rdi) */
	0x48, 0x85, 0xf6,	/* +4  test %rsi,%rsi */
	0x74, 0xf7,		/* +7  je   +0 (VADDR) */
	0xc3,			/* +9  ret */
};

static const uint8_t bad_first[] = {
	0x06,			/* +0  push %es: invalid in 64-bit mode */
	0xc3,
};

struct entry_case {
	const char *name;
	const uint8_t *code;
	size_t size;
	int ret;
	const char *err;	/* a fragment of it, when ret is -1 */
	uint64_t site;		/* offset from VADDR */
	int late;
};

static const struct entry_case entry_cases[] = {
	{ "entry_plain", CODE(frame_ret), .site = 0 },
	{ "entry_fs_prefix", CODE(fs_load), .site = 0 },
	{ "entry_lock_add", CODE(lock_add), .site = 6, .late = 1 },
	{ "entry_lock_writes_arg", CODE(lock_xadd_rdi), .ret = -1,
	  .err = "the next one is not equivalent" },
	{ "entry_lock_only", CODE(lock_only), .ret = -1,
	  .err = "the next one is not equivalent" },
	{ "entry_lock_jump_back", CODE(lock_loop), .ret = -1,
	  .err = "jumps back to it" },
	{ "entry_undecodable", CODE(bad_first), .ret = -1,
	  .err = "cannot decode the first instruction" },
};

static void test_entry_case(void **state)
{
	const struct entry_case *c = *state;
	char err[256] = "";
	uint64_t site;
	int late, ret;

	ret = find_entry_site(c->code, c->size, VADDR, &site, &late, err,
			      sizeof(err));
	if (ret != c->ret)
		fail_msg("returned %d, not %d (err: %s)", ret, c->ret, err);
	if (ret) {
		assert_contains(err, c->err);
		return;
	}
	assert_int_equal(site, VADDR + c->site);
	assert_int_equal(late, c->late);
}

/* Call sites: calls to CALLEE, and the owner of the first argument. */
#define CALLEE (VADDR + 0x1000)

/* decreaseConnCount as Go 1.19 builds it (v0.48.0). */
static const uint8_t owner_rax[] = {
	0x48, 0xc7, 0xc1, 0xff, 0xff, 0xff, 0xff,	/* +0  mov rcx,-1 */
	0xf0, 0x48, 0x0f, 0xc1, 0x88, 0xb8, 0, 0, 0,	/* +7  lock xadd [rax+0xb8],rcx */
	0x48, 0xff, 0xc9,				/* +16 dec rcx */
	0x48, 0x85, 0xc9,				/* +19 test rcx,rcx */
	0x75, 0x0c,					/* +22 jne +36 */
	0x48, 0x8b, 0x80, 0xc0, 0, 0, 0,		/* +24 mov rax,[rax+0xc0] */
	0xe8, 0xdc, 0x0f, 0, 0,				/* +31 call CALLEE */
	0xc3,						/* +36 ret */
};

/* The same, but a jump lands on the CALL: the load may be skipped. */
static const uint8_t owner_jumped_over[] = {
	0x48, 0x85, 0xc9,				/* +0  test rcx,rcx */
	0x75, 0x07,					/* +3  jne +12 */
	0x48, 0x8b, 0x80, 0xc0, 0, 0, 0,		/* +5  mov rax,[rax+0xc0] */
	0xe8, 0xef, 0x0f, 0, 0,				/* +12 call CALLEE */
	0xc3,						/* +17 ret */
};

/* v0.48.1: the receiver reloaded from its spill slot after a call. */
static const uint8_t owner_rcx[] = {
	0x48, 0x8b, 0x4c, 0x24, 0x18,			/* +0  mov rcx,[rsp+0x18] */
	0x48, 0x8b, 0x81, 0xc0, 0, 0, 0,		/* +5  mov rax,[rcx+0xc0] */
	0xe8, 0xef, 0x0f, 0, 0,				/* +12 call CALLEE */
	0xc3,						/* +17 ret */
};

/* Loaded from the stack: no object owns it. */
static const uint8_t owner_stack[] = {
	0x48, 0x8b, 0x44, 0x24, 0x08,			/* +0  mov rax,[rsp+8] */
	0xe8, 0xf6, 0x0f, 0, 0,				/* +5  call CALLEE */
	0xc3,						/* +10 ret */
};

/* The argument is computed, not loaded. */
static const uint8_t owner_none[] = {
	0x31, 0xc0,					/* +0  xor eax,eax */
	0xe8, 0xf9, 0x0f, 0, 0,				/* +2  call CALLEE */
	0xc3,						/* +7  ret */
};

/* Two calls to CALLEE and one elsewhere. */
static const uint8_t three_calls[] = {
	0xe8, 0xfb, 0x0f, 0, 0,				/* +0  call CALLEE */
	0xe8, 0xf6, 0x1f, 0, 0,				/* +5  call VADDR+0x2000 */
	0xe8, 0xf1, 0x0f, 0, 0,				/* +10 call CALLEE */
	0xc3,						/* +15 ret */
};

struct call_case {
	const char *name;
	const uint8_t *code;
	size_t size;
	uint64_t lo;		/* offsets into code */
	int arg_reg;
	size_t nr;
	uint64_t call, probe;	/* of the first site */
	int owner;
	int32_t disp;
};

static const struct call_case call_cases[] = {
	{ "call_owner_rax", CODE(owner_rax), 0, CW_REG_RAX, 1, 31, 24,
	  CW_REG_RAX, 0xc0 },
	{ "call_owner_jumped_over", CODE(owner_jumped_over), 0, CW_REG_RAX, 1,
	  12, 12, CW_REG_NONE, 0 },
	{ "call_owner_rcx", CODE(owner_rcx), 0, CW_REG_RAX, 1, 12, 5,
	  CW_REG_RCX, 0xc0 },
	{ "call_owner_stack", CODE(owner_stack), 0, CW_REG_RAX, 1, 5, 5,
	  CW_REG_NONE, 0 },
	{ "call_owner_none", CODE(owner_none), 0, CW_REG_RAX, 1, 2, 2,
	  CW_REG_NONE, 0 },
	{ "call_no_owner_wanted", CODE(owner_rax), 0, CW_REG_NONE, 1, 31, 31,
	  CW_REG_NONE, 0 },
	{ "call_only_to_callee", CODE(three_calls), 0, CW_REG_NONE, 2, 0, 0,
	  CW_REG_NONE, 0 },
	{ "call_only_in_range", CODE(three_calls), 5, CW_REG_NONE, 1, 10, 10,
	  CW_REG_NONE, 0 },
};

static void test_call_case(void **state)
{
	const struct call_case *c = *state;
	struct call_sites out = { .nr = 0 };
	char err[256] = "";

	if (find_call_sites(c->code, c->size, VADDR, VADDR + c->lo,
			    VADDR + c->size, CALLEE, c->arg_reg, &out, err,
			    sizeof(err)))
		fail_msg("find_call_sites: %s", err);
	assert_int_equal(out.nr, c->nr);
	assert_int_equal(out.site[0].call, VADDR + c->call);
	assert_int_equal(out.site[0].probe, VADDR + c->probe);
	assert_int_equal(out.site[0].owner_reg, c->owner);
	assert_int_equal(out.site[0].owner_disp, c->disp);
}

/* Failing branches: the block that ends in CALL GOPANIC. */
#define GOPANIC (VADDR + 0x1000)
#define LEA_RAX 0x48, 0x8d, 0x05, 0x00, 0x01, 0, 0	/* lea rax,[rip+0x100] */
#define LEA_RBX 0x48, 0x8d, 0x1d, 0x00, 0x02, 0, 0	/* lea rbx,[rip+0x200] */

/* closechan: cmp closed; jne to an unlock-then-panic block. */
static const uint8_t closechan_like[] = {
	0x48, 0x8b, 0x7c, 0x24, 0x40,		/* +0  mov rdi,[rsp+0x40] */
	0x83, 0x7f, 0x1c, 0x00,			/* +5  cmp dword [rdi+0x1c],0 */
	0x75, 0x01,				/* +9  jne +12 */
	0xc3,					/* +11 ret */
	0x90,					/* +12 nop: the branch */
	0xe8, 0xee, 0x2f, 0, 0,			/* +13 call unlock (returns) */
	LEA_RAX,				/* +18 */
	LEA_RBX,				/* +25 value +32+0x200 */
	0xe8, 0xdb, 0x0f, 0, 0,			/* +32 call GOPANIC */
};

/* WaitGroup.Add: lock xadd, the panic on the jcc's fall-through. */
static const uint8_t xadd_like[] = {
	0x48, 0x89, 0xde,			/* +0  mov rsi,rbx */
	0xf0, 0x48, 0x0f, 0xc1, 0x18,		/* +3  lock xadd [rax],rbx */
	0x48, 0x01, 0xde,			/* +8  add rsi,rbx */
	0x48, 0xc1, 0xee, 0x20,			/* +11 shr rsi,0x20 */
	0x85, 0xf6,				/* +15 test esi,esi */
	0x7d, 0x13,				/* +17 jge +38 */
	LEA_RAX,				/* +19 the branch */
	LEA_RBX,				/* +26 value +33+0x200 */
	0xe8, 0xda, 0x0f, 0, 0,			/* +33 call GOPANIC */
	0xc3,					/* +38 ret */
};

/* Two jumps reach the panic: no single branch to probe. */
static const uint8_t two_ways[] = {
	0x48, 0x85, 0xc0,			/* +0  test rax,rax */
	0x74, 0x07,				/* +3  je +12 */
	0x83, 0x7f, 0x1c, 0x00,			/* +5  cmp dword [rdi+0x1c],0 */
	0x75, 0x01,				/* +9  jne +12 */
	0xc3,					/* +11 ret */
	0x90,					/* +12 nop */
	LEA_RAX,				/* +13 */
	LEA_RBX,				/* +20 value +27+0x200 */
	0xe8, 0xe0, 0x0f, 0, 0,			/* +27 call GOPANIC */
};

/* The tested register is overwritten before the jump. */
static const uint8_t test_clobbered[] = {
	0x83, 0x7f, 0x1c, 0x00,			/* +0  cmp dword [rdi+0x1c],0 */
	0x48, 0x31, 0xff,			/* +4  xor rdi,rdi */
	0x75, 0x01,				/* +7  jne +10 */
	0xc3,					/* +9  ret */
	0x90,					/* +10 the branch */
	LEA_RAX,				/* +11 */
	LEA_RBX,				/* +18 value +25+0x200 */
	0xe8, 0xe2, 0x0f, 0, 0,			/* +25 call GOPANIC */
};

struct panic_case {
	const char *name;
	const uint8_t *code;
	size_t size;
	struct panic_branch want;	/* offsets from VADDR; 0: none */
};

static const struct panic_case panic_cases[] = {
	{ "panic_closechan_like", CODE(closechan_like),
	  { .call = 32, .value = 32 + 0x200, .probe = 12, .jump = 9,
	    .base_reg = CW_REG_RDI, .base_disp = 0x1c } },
	{ "panic_xadd_fallthrough", CODE(xadd_like),
	  { .call = 33, .value = 33 + 0x200, .probe = 19, .jump = 17,
	    .base_reg = CW_REG_RAX, .old_reg = CW_REG_RBX } },
	{ "panic_two_ways", CODE(two_ways),
	  { .call = 27, .value = 27 + 0x200 } },
	{ "panic_test_clobbered", CODE(test_clobbered),
	  { .call = 25, .value = 25 + 0x200, .probe = 10, .jump = 7 } },
};

static uint64_t at(uint64_t off)
{
	return off ? VADDR + off : 0;
}

static void test_panic_case(void **state)
{
	const struct panic_case *c = *state;
	struct panic_branches out;
	const struct panic_branch *b = &out.b[0];
	char err[256] = "";

	if (find_panic_branches(c->code, c->size, VADDR, GOPANIC, &out, err,
				sizeof(err)))
		fail_msg("find_panic_branches: %s", err);
	assert_int_equal(out.nr, 1);
	assert_int_equal(b->call, at(c->want.call));
	assert_int_equal(b->value, at(c->want.value));
	assert_int_equal(b->probe, at(c->want.probe));
	assert_int_equal(b->jump, at(c->want.jump));
	assert_int_equal(b->base_reg, c->want.base_reg);
	assert_int_equal(b->base_disp, c->want.base_disp);
	assert_int_equal(b->old_reg, c->want.old_reg);
}

int main(void)
{
	struct CMUnitTest tests[ARRAY_SIZE(exit_cases) +
				ARRAY_SIZE(entry_cases) +
				ARRAY_SIZE(call_cases) +
				ARRAY_SIZE(panic_cases) + 1];
	size_t i, n = 0;

	/* One named test per case, so TAP says which one failed. */
	for (i = 0; i < ARRAY_SIZE(exit_cases); i++)
		tests[n++] = (struct CMUnitTest){
			.name = exit_cases[i].name,
			.test_func = test_exit_case,
			.initial_state = (void *)&exit_cases[i],
		};
	for (i = 0; i < ARRAY_SIZE(entry_cases); i++)
		tests[n++] = (struct CMUnitTest){
			.name = entry_cases[i].name,
			.test_func = test_entry_case,
			.initial_state = (void *)&entry_cases[i],
		};
	for (i = 0; i < ARRAY_SIZE(call_cases); i++)
		tests[n++] = (struct CMUnitTest){
			.name = call_cases[i].name,
			.test_func = test_call_case,
			.initial_state = (void *)&call_cases[i],
		};
	for (i = 0; i < ARRAY_SIZE(panic_cases); i++)
		tests[n++] = (struct CMUnitTest){
			.name = panic_cases[i].name,
			.test_func = test_panic_case,
			.initial_state = (void *)&panic_cases[i],
		};
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_exit_limit);
	return cmocka_run_group_tests_name("disasm", tests, NULL, NULL);
}
