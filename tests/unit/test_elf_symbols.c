// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* ELF symbols of the tracker fixture (`make fixtures`), and bad inputs. */
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>
#include "../../user/elf_symbols.h"
#include "unit.h"

/* Relative to the repo root, where the tests run. */
#define DEFAULT_FIXTURE "build/fixtures/tracker_server"

static const char *fixture(void)
{
	const char *path = getenv("CW_FIXTURE_BIN");

	return path && *path ? path : DEFAULT_FIXTURE;
}

/* Per test, so a missing fixture fails each test with its reason. */
static int load_fixture(void **state)
{
	struct elf_symtab *tab = calloc(1, sizeof(*tab));
	char err[256] = "";

	if (!tab)
		return -1;
	if (elf_symtab_load(tab, fixture(), err, sizeof(err))) {
		print_error("%s (run `make fixtures`, or set CW_FIXTURE_BIN)\n",
			    err);
		free(tab);
		return -1;
	}
	*state = tab;
	return 0;
}

static int free_fixture(void **state)
{
	elf_symtab_free(*state);
	free(*state);
	return 0;
}

/* tracker_done, which every test of the fixture starts from. */
static const struct elf_sym *tracker_done(const struct elf_symtab *tab)
{
	const struct elf_sym *s = elf_symtab_by_name(tab, "tracker_done");

	assert_non_null(s);
	assert_true(s->addr != 0);
	assert_true(s->size != 0);
	return s;
}

static void test_by_name(void **state)
{
	const struct elf_symtab *tab = *state;
	const struct elf_sym *s = tracker_done(tab);

	assert_string_equal(s->name, "tracker_done");
	assert_string_equal(tab->path, fixture());
	assert_null(elf_symtab_by_name(tab, "no_such_function"));
}

/* Any address inside a function finds it; past its end does not. */
static void test_by_addr(void **state)
{
	const struct elf_symtab *tab = *state;
	const struct elf_sym *s = tracker_done(tab);
	const struct elf_sym *next;

	assert_ptr_equal(elf_symtab_by_addr(tab, s->addr), s);
	assert_ptr_equal(elf_symtab_by_addr(tab, s->addr + 1), s);
	assert_ptr_equal(elf_symtab_by_addr(tab, s->addr + s->size - 1), s);
	next = elf_symtab_by_addr(tab, s->addr + s->size);
	assert_true(next != s);
}

static void test_by_addr_before_first(void **state)
{
	const struct elf_symtab *tab = *state;

	assert_true(tab->nr_syms > 0);
	assert_true(tab->syms[0].addr > 0);
	assert_null(elf_symtab_by_addr(tab, tab->syms[0].addr - 1));
	assert_null(elf_symtab_by_addr(tab, 0));
}

/*
 * The last symbol, _fini (size 0), once took every address above it: a
 * libc frame less the binary's bias came out "_fini+0x29f4fca1d581".
 * Past the end of its code segment it is no symbol's.
 */
static void test_by_addr_past_last(void **state)
{
	const struct elf_symtab *tab = *state;
	const struct elf_sym *last = &tab->syms[tab->nr_syms - 1];
	uint64_t end = last->addr + elf_code_room(tab, last->addr);

	assert_true(elf_code_room(tab, last->addr) > 0);
	assert_ptr_equal(elf_symtab_by_addr(tab, last->addr), last);
	if (!last->size)
		assert_ptr_equal(elf_symtab_by_addr(tab, end - 1), last);
	assert_null(elf_symtab_by_addr(tab, end));
	assert_null(elf_symtab_by_addr(tab, last->addr + 0x29f4fca1d581ull));
	assert_null(elf_symtab_by_addr(tab, UINT64_MAX));
}

/* Every address of the fixture's code: what it finds holds it. */
static void test_by_addr_never_past_end(void **state)
{
	const struct elf_symtab *tab = *state;
	uint64_t a, lo = tab->syms[0].addr;
	uint64_t hi = tab->syms[tab->nr_syms - 1].addr + 0x10000;

	for (a = lo; a < hi; a++) {
		const struct elf_sym *s = elf_symtab_by_addr(tab, a);

		if (!s)
			continue;
		if (a < s->addr || (s->size && a >= s->addr + s->size) ||
		    (!s->size && !elf_code_room(tab, a)))
			fail_msg("0x%llx as %s+0x%llx (size %llu)",
				 (unsigned long long)a, s->name,
				 (unsigned long long)(a - s->addr),
				 (unsigned long long)s->size);
	}
}

/* Size 0: up to the next symbol, within its segment; with none, never. */
static void test_by_addr_size0(void **state)
{
	struct elf_sym syms[] = {
		{ .name = "sized", .addr = 0x1000, .size = 0x10 },
		{ .name = "asm", .addr = 0x1100, .size = 0 },
		{ .name = "fini", .addr = 0x1200, .size = 0 },
	};
	struct elf_load_seg seg = { .vaddr = 0x1000, .memsz = 0x210,
				    .offset = 0x1000, .filesz = 0x210 };
	struct elf_symtab tab = { .syms = syms, .nr_syms = 3, .segs = &seg,
				  .nr_segs = 1 };

	(void)state;
	assert_ptr_equal(elf_symtab_by_addr(&tab, 0x100f), &syms[0]);
	assert_null(elf_symtab_by_addr(&tab, 0x1010));
	assert_ptr_equal(elf_symtab_by_addr(&tab, 0x11ff), &syms[1]);
	assert_ptr_equal(elf_symtab_by_addr(&tab, 0x120f), &syms[2]);
	assert_null(elf_symtab_by_addr(&tab, 0x1210));
	assert_null(elf_symtab_by_addr(&tab, 0x7f0000001000ull));
	tab.nr_segs = 0;	/* a segment table unread: no bound known */
	assert_null(elf_symtab_by_addr(&tab, 0x1100));
	assert_ptr_equal(elf_symtab_by_addr(&tab, 0x1000), &syms[0]);
}

/* The binary search in by_addr depends on this order. */
static void test_sorted_unique(void **state)
{
	const struct elf_symtab *tab = *state;
	size_t i;

	assert_true(tab->nr_syms > 1);
	for (i = 1; i < tab->nr_syms; i++)
		if (tab->syms[i - 1].addr >= tab->syms[i].addr)
			fail_msg("%s at 0x%llx then %s at 0x%llx",
				 tab->syms[i - 1].name,
				 (unsigned long long)tab->syms[i - 1].addr,
				 tab->syms[i].name,
				 (unsigned long long)tab->syms[i].addr);
}

static void test_offset_round_trip(void **state)
{
	const struct elf_symtab *tab = *state;
	const struct elf_sym *s = tracker_done(tab);
	int64_t off = elf_vaddr_to_offset(tab, s->addr);

	assert_true(off > 0);
	assert_int_equal(elf_offset_to_vaddr(tab, off), s->addr);
	/* Nothing executable is mapped at address 0 or offset 0. */
	assert_int_equal(elf_vaddr_to_offset(tab, 0), -1);
	assert_int_equal(elf_offset_to_vaddr(tab, 0), 0);
}

/* elf_read_code() reads the same bytes as the file at that offset. */
static void test_read_code(void **state)
{
	const struct elf_symtab *tab = *state;
	const struct elf_sym *s = tracker_done(tab);
	char err[256] = "";
	uint8_t *code, *want;
	int fd;

	code = elf_read_code(tab, s->addr, s->size, err, sizeof(err));
	if (!code)
		fail_msg("elf_read_code: %s", err);
	want = malloc(s->size);
	assert_non_null(want);
	fd = open(fixture(), O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, want, s->size, elf_vaddr_to_offset(tab, s->addr)),
			 (ssize_t)s->size);
	close(fd);
	assert_memory_equal(code, want, s->size);
	free(want);
	free(code);
}

static void test_read_code_outside(void **state)
{
	const struct elf_symtab *tab = *state;
	char err[256] = "";

	assert_null(elf_read_code(tab, 0, 16, err, sizeof(err)));
	assert_string_equal(err, "0x0 is not in a code segment");
}

/* A file that is not ELF: a text file of our own. */
static void test_not_elf(void **state)
{
	static const char text[] = "just some text, no ELF magic\n";
	char path[] = "/tmp/cw-notelf-XXXXXX", err[256] = "";
	struct elf_symtab tab;
	int fd, ret, is_elf;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, sizeof(text) - 1),
			 (ssize_t)sizeof(text) - 1);
	close(fd);
	ret = elf_symtab_load(&tab, path, err, sizeof(err));
	is_elf = elf_is_elf(path, err, sizeof(err));
	unlink(path);
	assert_int_equal(ret, -1);
	assert_false(is_elf);
	assert_prefix(err, path);
	assert_contains(err, "not an ELF file");
	/* Failure leaves an empty table, which callers may free again. */
	assert_int_equal(tab.nr_syms, 0);
	elf_symtab_free(&tab);
}

static void test_missing(void **state)
{
	char err[256] = "";
	struct elf_symtab tab;

	(void)state;
	assert_int_equal(elf_symtab_load(&tab, "/nonexistent/bin", err,
					 sizeof(err)), -1);
	assert_string_equal(err, "/nonexistent/bin: No such file or directory");
	elf_symtab_free(&tab);
	err[0] = '\0';
	assert_false(elf_is_elf("/nonexistent/bin", err, sizeof(err)));
	assert_contains(err, "No such file");
}

static void test_is_elf(void **state)
{
	char err[256] = "";

	(void)state;
	assert_true(elf_is_elf(fixture(), err, sizeof(err)));
}

#define FIXTURE_TEST(f) cmocka_unit_test_setup_teardown(f, load_fixture, \
							 free_fixture)

int main(void)
{
	const struct CMUnitTest tests[] = {
		FIXTURE_TEST(test_by_name),
		FIXTURE_TEST(test_by_addr),
		FIXTURE_TEST(test_by_addr_before_first),
		FIXTURE_TEST(test_by_addr_past_last),
		FIXTURE_TEST(test_by_addr_never_past_end),
		cmocka_unit_test(test_by_addr_size0),
		FIXTURE_TEST(test_sorted_unique),
		FIXTURE_TEST(test_offset_round_trip),
		FIXTURE_TEST(test_read_code),
		FIXTURE_TEST(test_read_code_outside),
		cmocka_unit_test(test_not_elf),
		cmocka_unit_test(test_missing),
		cmocka_unit_test(test_is_elf),
	};

	return cmocka_run_group_tests_name("elf_symbols", tests, NULL, NULL);
}
