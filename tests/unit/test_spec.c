// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Spec parser: every field of a good spec, and file:line of every error. */
#include <stdlib.h>
#include <unistd.h>
#include <linux/types.h>
#include "../../bpf/connwatch.h"
#include "../../user/spec.h"
#include "unit.h"

/* Line numbers matter: the expected probes below refer to them. */
static const char full_spec[] =
	"# every role, key form and section\n"	/*  1 */
	"target: demo\n"			/*  2 */
	"probes:\n"				/*  3 */
	"  - role: open\n"			/*  4 */
	"    symbol: conn_open\n"		/*  5 */
	"    key: arg0\n"			/*  6 */
	"  - role: close\n"			/*  7 */
	"    symbol: conn_close\n"		/*  8 */
	"    key: arg1\n"			/*  9 */
	"    at: return\n"			/* 10 */
	"  - role: inc\n"			/* 11 */
	"    symbol: t_add\n"			/* 12 */
	"    key: receiver\n"			/* 13 */
	"  - role: dec\n"			/* 14 */
	"    symbol: t_done\n"			/* 15 */
	"    key: arg5\n"			/* 16 */
	"    at: entry\n"			/* 17 */
	"  - role: drain\n"			/* 18 */
	"    symbol: t_drain\n"			/* 19 */
	"    key: process\n"			/* 20 */
	"  - symbol: t_shutdown\n"		/* 21: role need not be first */
	"    role: shutdown\n"			/* 22 */
	"counter:\n"				/* 23 */
	"  base: arg2\n"			/* 24 */
	"  offset: -0x10\n"			/* 25: strtoll base 0 */
	"  type: u32\n"				/* 26 */
	"drift:\n"				/* 27 */
	"  threshold: 3\n"			/* 28 */
	"  grace: 30\n";			/* 29 */

#define SPEC_PROBE(r, sym, ks, ka, ret, ln) { .role = r, .symbol = sym, \
	.key_source = ks, .key_arg = ka, .at_return = ret, .line = ln, \
	.switch_arg = -1 }

static const struct spec_probe full_probes[] = {
	SPEC_PROBE(CW_ROLE_OPEN, "conn_open", SPEC_KEY_ARG, 0, 0, 4),
	SPEC_PROBE(CW_ROLE_CLOSE, "conn_close", SPEC_KEY_ARG, 1, 1, 7),
	SPEC_PROBE(CW_ROLE_INC, "t_add", SPEC_KEY_ARG, 0, 0, 11),	/* receiver */
	SPEC_PROBE(CW_ROLE_DEC, "t_done", SPEC_KEY_ARG, 5, 0, 14),
	SPEC_PROBE(CW_ROLE_DRAIN, "t_drain", SPEC_KEY_PROCESS, 0, 0, 18),
	SPEC_PROBE(CW_ROLE_SHUTDOWN, "t_shutdown", SPEC_KEY_PROCESS, 0, 0, 21),
};

/* A spec that must parse; the caller spec_free()s it. */
static void parse_ok(struct spec *spec, const char *text)
{
	char err[256] = "";

	if (spec_parse_string(spec, "t.yaml", text, err, sizeof(err)))
		fail_msg("unexpected parse error: %s", err);
}

static void check_probe(const struct spec_probe *got,
			const struct spec_probe *want)
{
	assert_int_equal(got->role, want->role);
	assert_string_equal(got->symbol, want->symbol);
	assert_int_equal(got->key_source, want->key_source);
	assert_int_equal(got->key_arg, want->key_arg);
	assert_int_equal(got->at_return, want->at_return);
	assert_int_equal(got->line, want->line);
	assert_int_equal(got->switch_arg, want->switch_arg);
	assert_int_equal(got->optional, want->optional);
	assert_int_equal(got->counter.type, want->counter.type);
}

static void check_full(const struct spec *spec)
{
	size_t i;

	assert_string_equal(spec->target, "demo");
	assert_int_equal(spec->nr_probes, ARRAY_SIZE(full_probes));
	for (i = 0; i < ARRAY_SIZE(full_probes); i++)
		check_probe(&spec->probes[i], &full_probes[i]);
	assert_int_equal(spec->counter.type, CW_CTR_U32);
	assert_int_equal(spec->counter.base_arg, 2);
	assert_int_equal(spec->counter.offset, -16);
	assert_int_equal(spec->drift.threshold, 3);
	assert_int_equal(spec->drift.grace_s, 30);
}

static void test_full_spec(void **state)
{
	struct spec spec;

	(void)state;
	parse_ok(&spec, full_spec);
	assert_string_equal(spec.path, "t.yaml");
	check_full(&spec);
	spec_free(&spec);
}

/* What a spec leaves out: no target, no counter, default drift. */
static void test_defaults(void **state)
{
	struct spec spec;

	(void)state;
	parse_ok(&spec, "probes:\n  - role: open\n    symbol: f\n");
	assert_null(spec.target);
	assert_int_equal(spec.nr_probes, 1);
	assert_int_equal(spec.probes[0].key_source, SPEC_KEY_PROCESS);
	assert_int_equal(spec.probes[0].at_return, 0);
	assert_int_equal(spec.counter.type, CW_CTR_NONE);
	assert_int_equal(spec.drift.threshold, 8);
	assert_int_equal(spec.drift.grace_s, 10);
	spec_free(&spec);
}

/* A counter section without a type reads a signed 64-bit counter. */
static void test_counter_default_type(void **state)
{
	struct spec spec;

	(void)state;
	parse_ok(&spec, "probes:\n  - role: inc\n    symbol: f\n"
		 "counter:\n  base: receiver\n  offset: 8\n");
	assert_int_equal(spec.counter.type, CW_CTR_S64);
	assert_int_equal(spec.counter.base_arg, 0);
	assert_int_equal(spec.counter.offset, 8);
	spec_free(&spec);
}

static void test_has_role(void **state)
{
	struct spec spec;
	int role;

	(void)state;
	parse_ok(&spec, "probes:\n  - role: inc\n    symbol: a\n"
		 "  - role: dec\n    symbol: b\n");
	for (role = 0; role < CW_ROLE__COUNT; role++)
		assert_int_equal(spec_has_role(&spec, role),
				 role == CW_ROLE_INC || role == CW_ROLE_DEC);
	spec_free(&spec);
	/* spec_free() leaves an empty spec, which has no role at all. */
	assert_false(spec_has_role(&spec, CW_ROLE_INC));
}

static void test_role_name(void **state)
{
	(void)state;
	assert_string_equal(role_name(CW_ROLE_OPEN), "open");
	assert_string_equal(role_name(CW_ROLE_SHUTDOWN), "shutdown");
	assert_string_equal(role_name(-1), "?");
	assert_string_equal(role_name(CW_ROLE__COUNT), "chan_close");
	assert_string_equal(role_name(CW_ROLE__ALL), "?");
}

/* One more probe than fits: refused at the probe that does not fit. */
static void test_too_many_probes(void **state)
{
	char *text = NULL, err[256] = "", want[32];
	struct spec spec;
	size_t len = 0;
	FILE *f;
	int i;

	(void)state;
	f = open_memstream(&text, &len);
	assert_non_null(f);
	fputs("probes:\n", f);
	for (i = 0; i <= CW_SPEC_MAX_PROBES; i++)
		fprintf(f, "  - role: open\n    symbol: f%d\n", i);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(spec_parse_string(&spec, "t.yaml", text, err,
					   sizeof(err)), -1);
	free(text);
	/* Probe i starts on line 2 + 2 * i. */
	snprintf(want, sizeof(want), "t.yaml:%d: ", 2 + 2 * CW_SPEC_MAX_PROBES);
	assert_prefix(err, want);
	assert_contains(err, "more than 64 probes");
	spec_free(&spec);
}

/* A short error buffer is cut, not overrun (ASan watches). */
static void test_short_err_buffer(void **state)
{
	char err[8];
	struct spec spec;

	(void)state;
	memset(err, 'x', sizeof(err));
	assert_int_equal(spec_parse_string(&spec, "a-long-file-name.yaml",
					   "probes: 1\n", err, sizeof(err)), -1);
	assert_string_equal(err, "a-long-");
	spec_free(&spec);
}

/* Writes text to a fresh temporary file; its path goes in path. */
static void write_temp(char *path, const char *text)
{
	int fd;

	strcpy(path, "/tmp/cw-spec-XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(close(fd), 0);
}

static void test_parse_file(void **state)
{
	char path[32], err[256] = "";
	struct spec spec;
	int ret;

	(void)state;
	write_temp(path, full_spec);
	ret = spec_parse_file(&spec, path, err, sizeof(err));
	unlink(path);
	if (ret)
		fail_msg("unexpected parse error: %s", err);
	assert_string_equal(spec.path, path);
	check_full(&spec);
	spec_free(&spec);
}

/* Errors in a file name the file by its path. */
static void test_parse_file_error(void **state)
{
	char path[32], want[64], err[256] = "";
	struct spec spec;
	int ret;

	(void)state;
	write_temp(path, "target: x\nprobes: none\n");
	ret = spec_parse_file(&spec, path, err, sizeof(err));
	unlink(path);
	assert_int_equal(ret, -1);
	snprintf(want, sizeof(want), "%s:2: ", path);
	assert_prefix(err, want);
	assert_contains(err, "probes: expected a list");
	spec_free(&spec);
}

static void test_parse_file_missing(void **state)
{
	/*
	 * Zeroed like every caller's: spec_parse_file() does not touch the
	 * spec when it cannot open the file.
	 */
	struct spec spec = {};
	char err[256] = "";

	(void)state;
	assert_int_equal(spec_parse_file(&spec, "/nonexistent/cw.yaml", err,
					 sizeof(err)), -1);
	assert_string_equal(err, "/nonexistent/cw.yaml: No such file or directory");
	spec_free(&spec);
}

/* A spec that must fail, where, and a fragment of why. */
struct bad_spec {
	const char *name;
	const char *yaml;
	const char *prefix;
	const char *frag;
};

#define PROBE "  - role: open\n    symbol: f\n"

static const struct bad_spec bad_specs[] = {
	{ "unknown_role", "probes:\n  - role: opne\n    symbol: f\n",
	  "t.yaml:2: ", "role: 'opne' is not one of open, close, inc" },
	{ "unknown_top_key", "target: x\ncolour: red\nprobes:\n" PROBE,
	  "t.yaml:2: ", "unknown key 'colour' (expected target, probes" },
	{ "unknown_probe_key", "probes:\n" PROBE "    sym: g\n",
	  "t.yaml:4: ", "probe: unknown key 'sym'" },
	{ "missing_symbol", "target: x\nprobes:\n" PROBE
	  "  - role: close\n    key: arg0\n",
	  "t.yaml:5: ", "probe: symbol is missing" },
	{ "missing_role", "probes:\n  - symbol: f\n    key: arg0\n",
	  "t.yaml:2: ", "probe: role is missing" },
	{ "bad_key", "probes:\n" PROBE "    key: arg9\n",
	  "t.yaml:4: ", "key: 'arg9' is not arg0..arg5 or receiver" },
	{ "bad_at", "probes:\n" PROBE "    at: exit\n",
	  "t.yaml:4: ", "at: 'exit' is not entry or return" },
	{ "bad_counter_type", "probes:\n" PROBE "counter:\n  type: i32\n",
	  "t.yaml:5: ", "counter.type: 'i32' is not one of s32, s64, u32, u64" },
	{ "bad_counter_base", "probes:\n" PROBE "counter:\n  base: rdi\n",
	  "t.yaml:5: ", "counter.base: 'rdi' is not arg0..arg5" },
	{ "offset_not_number", "probes:\n" PROBE "counter:\n  offset: eight\n",
	  "t.yaml:5: ", "counter.offset: 'eight' is not a number" },
	{ "offset_out_of_range", "probes:\n" PROBE "counter:\n  offset: 0x200000\n",
	  "t.yaml:5: ", "is not a number in -1048576..1048576" },
	{ "counter_field", "probes:\n" PROBE "counter:\n  base: arg0\n"
	  "  field: count\n",
	  "t.yaml:6: ", "counter.field needs DWARF field lookup" },
	{ "drift_grace_range", "probes:\n" PROBE "drift:\n  grace: 100000\n",
	  "t.yaml:5: ", "drift.grace: '100000' is not a number in 0..86400" },
	/* libyaml finds the bracket unclosed at the end: after line 3. */
	{ "unclosed_bracket", "target: x\nprobes: [\n  open\n",
	  "t.yaml:4: ", "did not find expected ',' or ']'" },
	{ "bad_indentation", "probes:\n  - role: open\n   symbol: f\n",
	  "t.yaml:3: ", "did not find expected '-' indicator" },
	{ "empty_document", "", "t.yaml:1: ", "empty spec" },
	{ "comments_only", "# nothing\n# here\n", "t.yaml:1: ", "empty spec" },
	{ "root_not_mapping", "- role: open\n", "t.yaml:1: ",
	  "spec: expected a mapping" },
	{ "no_probes", "target: x\n", "t.yaml:1: ", "no probes" },
	{ "empty_probe_list", "target: x\nprobes: []\n", "t.yaml:1: ",
	  "no probes" },
	{ "probes_not_list", "target: x\nprobes: open\n", "t.yaml:2: ",
	  "probes: expected a list" },
	{ "probes_mapping", "probes:\n  role: open\n  symbol: f\n", "t.yaml:2: ",
	  "probes: expected a list" },
	{ "probe_not_mapping", "probes:\n  - conn_open\n", "t.yaml:2: ",
	  "probe: expected a mapping" },
	{ "owner_without_caller", "probes:\n" PROBE "    key: owner\n",
	  "t.yaml:2: ", "key: owner needs caller:" },
	{ "caller_at_return", "probes:\n" PROBE "    caller: g\n"
	  "    at: return\n", "t.yaml:2: ", "at: return does not apply" },
	{ "caller_empty_list", "probes:\n" PROBE "    caller: []\n",
	  "t.yaml:4: ", "caller: expected at least one function" },
	{ "caller_empty_name", "probes:\n" PROBE "    caller: ''\n",
	  "t.yaml:4: ", "caller: expected a function name" },
	{ "caller_too_many", "probes:\n" PROBE
	  "    caller: [a, b, c, d, e, f, g, h, i]\n",
	  "t.yaml:4: ", "caller: more than 8 functions" },
};

static void test_bad_spec(void **state)
{
	const struct bad_spec *bad = *state;
	char err[256] = "";
	struct spec spec;

	assert_int_equal(spec_parse_string(&spec, "t.yaml", bad->yaml, err,
					   sizeof(err)), -1);
	assert_prefix(err, bad->prefix);
	assert_contains(err, bad->frag);
	/* The parser freed what it had; callers still spec_free() all. */
	assert_int_equal(spec.nr_probes, 0);
	spec_free(&spec);
}

/* caller: one name or a list; key: owner; role reset. */
static void test_callers(void **state)
{
	struct spec spec;

	(void)state;
	parse_ok(&spec, "probes:\n"
		 "  - role: drain\n    symbol: runtime.closechan\n"
		 "    caller: [a.(*S).dec, b.(*S).dec]\n    key: owner\n"
		 "  - role: open\n    symbol: g\n    caller: main.serve\n"
		 "  - role: reset\n    symbol: a.(*S).init\n    key: receiver\n");
	assert_int_equal(spec.nr_probes, 3);
	assert_int_equal(spec.probes[0].key_source, SPEC_KEY_OWNER);
	assert_int_equal(spec.probes[0].nr_callers, 2);
	assert_string_equal(spec.probes[0].callers[0], "a.(*S).dec");
	assert_string_equal(spec.probes[0].callers[1], "b.(*S).dec");
	assert_int_equal(spec.probes[1].nr_callers, 1);
	assert_string_equal(spec.probes[1].callers[0], "main.serve");
	assert_int_equal(spec.probes[1].key_source, SPEC_KEY_PROCESS);
	assert_int_equal(spec.probes[2].role, CW_ROLE_RESET);
	assert_string_equal(role_name(CW_ROLE_RESET), "reset");
	spec_free(&spec);
}

static const struct CMUnitTest fixed_tests[] = {
	cmocka_unit_test(test_callers),
	cmocka_unit_test(test_full_spec),
	cmocka_unit_test(test_defaults),
	cmocka_unit_test(test_counter_default_type),
	cmocka_unit_test(test_has_role),
	cmocka_unit_test(test_role_name),
	cmocka_unit_test(test_too_many_probes),
	cmocka_unit_test(test_short_err_buffer),
	cmocka_unit_test(test_parse_file),
	cmocka_unit_test(test_parse_file_error),
	cmocka_unit_test(test_parse_file_missing),
};

int main(void)
{
	struct CMUnitTest tests[ARRAY_SIZE(fixed_tests) + ARRAY_SIZE(bad_specs)];
	size_t i, n = 0;

	for (i = 0; i < ARRAY_SIZE(fixed_tests); i++)
		tests[n++] = fixed_tests[i];
	/* One named test per bad spec, so TAP says which one failed. */
	for (i = 0; i < ARRAY_SIZE(bad_specs); i++)
		tests[n++] = (struct CMUnitTest){
			.name = bad_specs[i].name,
			.test_func = test_bad_spec,
			.initial_state = (void *)&bad_specs[i],
		};
	return cmocka_run_group_tests_name("spec", tests, NULL, NULL);
}
