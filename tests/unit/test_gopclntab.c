// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Go function tables: real binaries (a stripped production server, an
 * unstripped fixture checked against its own .symtab), and synthetic
 * ELF files for the layouts no local toolchain builds (Go 1.16, 1.20+),
 * PIE relocations, a table no section names, and corrupt tables.
 */
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <fcntl.h>
#include <gelf.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include "../../user/dwarf_inline.h"
#include "../../user/elf_symbols.h"
#include "../../user/gopclntab.h"
#include "unit.h"

/* Debian's prometheus: stripped, Go 1.19, cgo (externally linked). */
#define DEFAULT_STRIPPED	"/usr/bin/prometheus"
/* Relative to the repo root, where the tests run (`make fixtures`). */
#define DEFAULT_UNSTRIPPED	"build/fixtures/go_hello"
#define DEFAULT_NON_GO		"/bin/ls"
/* tests/fixtures/go_inline: release inlined into closeOne and twice into
 * closeTwo, drained inlined into release, acquire never inlined. */
#define INLINE_FIXTURE		"build/fixtures/go_inline"
#define RELEASE			"main.(*server).release"
#define DRAINED			"main.(*server).drained"
#define NOINLINE		"main.(*server).acquire"

static const char *env_or(const char *var, const char *def)
{
	const char *v = getenv(var);

	return v && *v ? v : def;
}

static const char *stripped(void)
{
	return env_or("CW_GO_STRIPPED", DEFAULT_STRIPPED);
}

/* Per test, so a missing binary fails each test with its reason. */
static int load_or_explain(void **state, const char *path, const char *how)
{
	struct go_pclntab *t = calloc(1, sizeof(*t));
	char err[256] = "";

	if (!t)
		return -1;
	if (go_pclntab_load(t, path, err, sizeof(err))) {
		print_error("%s (%s)\n", err, how);
		free(t);
		return -1;
	}
	*state = t;
	return 0;
}

static int load_stripped(void **state)
{
	return load_or_explain(state, stripped(),
			       "apt-get install prometheus, or set CW_GO_STRIPPED");
}

static int load_unstripped(void **state)
{
	return load_or_explain(state,
			       env_or("CW_GO_UNSTRIPPED", DEFAULT_UNSTRIPPED),
			       "run `make fixtures`, or set CW_GO_UNSTRIPPED");
}

static int free_table(void **state)
{
	go_pclntab_free(*state);
	free(*state);
	return 0;
}

/* What must hold of any table: sorted, non-overlapping, named. */
static void check_invariants(const struct go_pclntab *t)
{
	size_t i;

	assert_true(t->nr > 0);
	for (i = 0; i < t->nr; i++) {
		const struct go_func *f = &t->funcs[i];

		assert_non_null(f->name);
		if (f->entry > f->end || (i && t->funcs[i - 1].end > f->entry))
			fail_msg("%s [0x%llx, 0x%llx) after [.., 0x%llx)",
				 f->name, (unsigned long long)f->entry,
				 (unsigned long long)f->end,
				 (unsigned long long)(i ? t->funcs[i - 1].end : 0));
	}
}

static const struct go_func *must_find(const struct go_pclntab *t,
				       const char *name)
{
	const struct go_func *f = go_func_by_name(t, name);

	if (!f)
		fail_msg("%s not found among %zu functions", name, t->nr);
	assert_string_equal(f->name, name);
	assert_true(f->entry < f->end);
	assert_ptr_equal(go_func_by_addr(t, f->entry), f);
	assert_ptr_equal(go_func_by_addr(t, f->entry + 1), f);
	assert_ptr_equal(go_func_by_addr(t, f->end - 1), f);
	assert_ptr_not_equal(go_func_by_addr(t, f->end), f);
	return f;
}

/*
 * What holds of any answer, from a corrupt file too: sorted, disjoint,
 * each range and call site inside the function holding it.
 */
static void check_ranges(const struct go_pclntab *t,
			 const struct go_inline_range *r, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		const struct go_func *f = go_func_by_addr(t, r[i].func);

		if (f && f->entry == r[i].func && r[i].lo >= f->entry &&
		    r[i].lo < r[i].hi && r[i].hi <= f->end &&
		    (!i || r[i].lo >= r[i - 1].hi) && r[i].copy >= 0 &&
		    (!r[i].call_pc || (r[i].call_pc >= f->entry &&
				       r[i].call_pc < f->end)))
			continue;
		fail_msg("range %zu [0x%llx, 0x%llx) in 0x%llx, call 0x%llx, copy %d",
			 i, (unsigned long long)r[i].lo,
			 (unsigned long long)r[i].hi,
			 (unsigned long long)r[i].func,
			 (unsigned long long)r[i].call_pc, r[i].copy);
	}
}

/* go_inline_ranges, which must succeed and give sane ranges. */
static int ranges_of(const struct go_pclntab *t, const char *name,
		     struct go_inline_range *r, size_t max)
{
	char err[256] = "";
	int n = go_inline_ranges(t, name, r, max, err, sizeof(err));

	if (n < 0)
		fail_msg("%s: %s", name, err);
	check_ranges(t, r, (size_t)n < max ? (size_t)n : max);
	return n;
}

/* Distinct copies among r, in the function at func (0: anywhere). */
static int count_copies(const struct go_inline_range *r, int n, uint64_t func)
{
	uint64_t seen = 0;
	int i, copies = 0;

	for (i = 0; i < n; i++) {
		assert_in_range(r[i].copy, 0, 63);
		if ((func && r[i].func != func) || (seen >> r[i].copy & 1))
			continue;
		seen |= 1ULL << r[i].copy;
		copies++;
	}
	return copies;
}

/* --- the stripped production binary --- */

static void test_stripped_finds_functions(void **state)
{
	const struct go_pclntab *t = *state;

	must_find(t, "net/http.(*Server).trackConn");
	must_find(t, "runtime.closechan");
	must_find(t, "sync.(*WaitGroup).Add");
	assert_null(go_func_by_name(t, "no/such.function"));
	assert_true(t->nr > 10000);
}

static void test_stripped_version(void **state)
{
	const struct go_pclntab *t = *state;

	assert_prefix(t->version, "go1.");
	assert_true(t->layout == 116 || t->layout == 118 || t->layout == 120);
}

static void test_stripped_sorted(void **state)
{
	const struct go_pclntab *t = *state;

	check_invariants(t);
	assert_null(go_func_by_addr(t, t->funcs[0].entry - 1));
	assert_null(go_func_by_addr(t, t->funcs[t->nr - 1].end));
	assert_null(go_func_by_addr(t, 0));
}

/* The name index finds every function, and each name's first is lowest. */
static void test_stripped_every_name(void **state)
{
	const struct go_pclntab *t = *state;
	size_t i, n, j;

	for (i = 0; i < t->nr; i++) {
		const struct go_func *f = &t->funcs[i];
		struct go_func *const *all = go_funcs_by_name(t, f->name, &n);

		assert_non_null(all);
		assert_true(n >= 1);
		assert_ptr_equal(go_func_by_name(t, f->name), all[0]);
		for (j = 1; j < n; j++)
			assert_true(all[j - 1]->entry < all[j]->entry);
		for (j = 0; j < n && all[j] != f; j++)
			;
		if (j == n)
			fail_msg("%s at 0x%llx not among its name's %zu",
				 f->name, (unsigned long long)f->entry, n);
	}
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* A probe attach waits on this: it must stay well under a second. */
static void test_stripped_load_time(void **state)
{
	struct go_pclntab t;
	char err[256] = "";
	double t0, ms;

	(void)state;
	t0 = now_ms();
	if (go_pclntab_load(&t, stripped(), err, sizeof(err)))
		fail_msg("%s", err);
	ms = now_ms() - t0;
	print_message("# %s: %zu functions in %.1f ms\n", stripped(), t.nr, ms);
	go_pclntab_free(&t);
	assert_true(ms < 1000);
}

static uint8_t *read_whole(const char *path, size_t *size)
{
	uint8_t *buf = NULL;
	off_t end;
	int fd = open(path, O_RDONLY);

	*size = 0;
	if (fd < 0)
		return NULL;
	end = lseek(fd, 0, SEEK_END);
	if (end > 0)
		buf = malloc(end);
	if (buf && pread(fd, buf, end, 0) != end) {
		free(buf);
		buf = NULL;
	}
	close(fd);
	*size = buf ? (size_t)end : 0;
	return buf;
}

static void write_temp(char *path, const void *buf, size_t size)
{
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, size), (ssize_t)size);
	close(fd);
}

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);	/* the tests run on little-endian amd64 */
}

static void put64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, 8);
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

/*
 * The section called name: its index (0: none), its header in *sh and
 * the file offset of its name in *name_at.
 */
static size_t section_index(const char *path, const char *name,
			    GElf_Shdr *sh, size_t *name_at)
{
	size_t shstrndx, found = 0;
	Elf_Scn *scn = NULL;
	GElf_Shdr strsh;
	Elf *elf;
	int fd = open(path, O_RDONLY);

	if (fd < 0 || elf_version(EV_CURRENT) == EV_NONE)
		goto out;
	elf = elf_begin(fd, ELF_C_READ, NULL);
	if (!elf || elf_getshdrstrndx(elf, &shstrndx) ||
	    !gelf_getshdr(elf_getscn(elf, shstrndx), &strsh))
		goto out_elf;
	while (!found && (scn = elf_nextscn(elf, scn))) {
		const char *n;

		if (!gelf_getshdr(scn, sh))
			continue;
		n = elf_strptr(elf, shstrndx, sh->sh_name);
		if (n && !strcmp(n, name)) {
			found = elf_ndxscn(scn);
			*name_at = strsh.sh_offset + sh->sh_name;
		}
	}
out_elf:
	if (elf)
		elf_end(elf);
out:
	if (fd >= 0)
		close(fd);
	return found;
}

/*
 * The same binary with its .gopclntab section renamed, as when a linker
 * merges the table into .data.rel.ro: the scan must find the same table.
 */
static void test_stripped_scan(void **state)
{
	const struct go_pclntab *t = *state;
	char path[] = "/tmp/cw-gopcln-XXXXXX", err[256] = "";
	struct go_pclntab s;
	size_t size, at, i;
	uint8_t *buf;
	GElf_Shdr sh;
	int ret;

	if (!section_index(stripped(), ".gopclntab", &sh, &at))
		fail_msg("%s has no .gopclntab section to hide", stripped());
	buf = read_whole(stripped(), &size);
	assert_non_null(buf);
	buf[at + 1] = 'x';	/* ".xopclntab" */
	write_temp(path, buf, size);
	free(buf);
	ret = go_pclntab_load(&s, path, err, sizeof(err));
	unlink(path);
	if (ret)
		fail_msg("scan: %s", err);
	assert_int_equal(s.nr, t->nr);
	assert_string_equal(s.version, t->version);
	for (i = 0; i < t->nr; i++) {
		assert_int_equal(s.funcs[i].entry, t->funcs[i].entry);
		assert_int_equal(s.funcs[i].end, t->funcs[i].end);
		assert_string_equal(s.funcs[i].name, t->funcs[i].name);
	}
	go_pclntab_free(&s);
}

/*
 * sync.(*Mutex).Lock's fast path is inlined all over any Go server; an
 * attach asks for one name at a time, so one name must be quick.
 */
static void test_stripped_inline_ranges(void **state)
{
	static struct go_inline_range r[8192];
	const struct go_pclntab *t = *state;
	const char *name = "sync.(*Mutex).Lock";
	char err[256] = "";
	int n, i, copies = 0;
	double t0, ms;

	t0 = now_ms();
	n = go_inline_ranges(t, name, r, ARRAY_SIZE(r), err, sizeof(err));
	ms = now_ms() - t0;
	if (n < 0)
		fail_msg("%s", err);
	assert_in_range(n, 1, ARRAY_SIZE(r));
	check_ranges(t, r, n);
	for (i = 0; i < n; i++)
		if (r[i].copy >= copies)
			copies = r[i].copy + 1;
	print_message("# %s: %d copies of %s inlined, %d ranges, in %.1f ms\n",
		      stripped(), copies, name, n, ms);
	assert_true(ms < 200);
}

/* --- ground truth: an unstripped Go binary's own .symtab --- */

/*
 * The linker renames a few symbols in .symtab but not in the pclntab:
 * "[...]" in a type's equality function becomes the array length, and
 * "·" becomes ".". An assembly function's .symtab name has ".abi0".
 */
static int same_function(const char *go, const char *elf)
{
	size_t n = strlen(go);

	if (!strcmp(go, elf))
		return 1;
	if (!strncmp(go, elf, n) && !strcmp(elf + n, ".abi0"))
		return 1;
	return strstr(go, "[...]") || strstr(go, "\xc2\xb7");
}

static void test_unstripped_matches_symtab(void **state)
{
	const struct go_pclntab *t = *state;
	const char *path = env_or("CW_GO_UNSTRIPPED", DEFAULT_UNSTRIPPED);
	struct elf_symtab syms;
	size_t i, same = 0;
	char err[256] = "";

	if (elf_symtab_load(&syms, path, err, sizeof(err)))
		fail_msg("%s", err);
	check_invariants(t);
	for (i = 0; i < t->nr; i++) {
		const struct go_func *f = &t->funcs[i];
		const struct elf_sym *s = elf_symtab_by_addr(&syms, f->entry);

		if (!s || s->addr != f->entry)
			fail_msg("%s at 0x%llx: no .symtab function there",
				 f->name, (unsigned long long)f->entry);
		/*
		 * .symtab keeps one name per address: the one kept may be
		 * an alias, such as "runtime/cgo(.text)".
		 */
		same += same_function(f->name, s->name);
	}
	/* Every symbol inside a Go function starts it: none is cut in two. */
	for (i = 0; i < syms.nr_syms; i++) {
		const struct go_func *f = go_func_by_addr(t, syms.syms[i].addr);

		if (f && f->entry != syms.syms[i].addr)
			fail_msg("%s at 0x%llx is inside %s", syms.syms[i].name,
				 (unsigned long long)syms.syms[i].addr, f->name);
	}
	print_message("# %s: %zu/%zu entries match .symtab, %zu names\n",
		      path, t->nr, t->nr, same);
	assert_true(same >= t->nr - t->nr / 100);
	assert_prefix(t->version, "go1.");
	elf_symtab_free(&syms);
}

/* --- inlined copies: the go_inline fixture, built by Go 1.19 and 1.22 --- */

struct fixture {
	const char *path;
	struct go_pclntab t;
};

static struct fixture inline119 = { .path = INLINE_FIXTURE };
static struct fixture inline119s = { .path = INLINE_FIXTURE ".stripped" };
static struct fixture inline122 = { .path = INLINE_FIXTURE ".go122" };
static struct fixture inline122s = { .path = INLINE_FIXTURE ".go122.stripped" };

static int load_fixture(void **state)
{
	struct fixture *f = *state;
	char err[256] = "";

	if (!go_pclntab_load(&f->t, f->path, err, sizeof(err)))
		return 0;
	print_error("%s (run `make deps fixtures`)\n", err);
	return -1;
}

static int free_fixture(void **state)
{
	struct fixture *f = *state;

	go_pclntab_free(&f->t);
	return 0;
}

/* Some range holds all of [lo, hi). */
static int covered(const struct go_inline_range *r, int n, uint64_t lo,
		   uint64_t hi)
{
	int i;

	for (i = 0; i < n; i++)
		if (lo >= r[i].lo && hi <= r[i].hi)
			return 1;
	return 0;
}

/*
 * release: one copy in closeOne, two in closeTwo, numbered 0 to 2;
 * drained's three copies lie inside them (the chain goes up through
 * release); acquire, a function of its own, has none.
 */
static void test_inline_copies(void **state)
{
	const struct go_pclntab *t = &((struct fixture *)*state)->t;
	const struct go_func *one = must_find(t, "main.closeOne");
	const struct go_func *two = must_find(t, "main.closeTwo");
	struct go_inline_range r[16], d[16];
	char err[256] = "";
	int n, m, i;

	n = ranges_of(t, RELEASE, r, ARRAY_SIZE(r));
	assert_in_range(n, 3, ARRAY_SIZE(r));
	for (i = 0; i < n; i++) {
		assert_in_range(r[i].copy, 0, 2);
		if (r[i].func != one->entry && r[i].func != two->entry)
			fail_msg("a copy of %s at 0x%llx, in neither caller",
				 RELEASE, (unsigned long long)r[i].lo);
	}
	assert_int_equal(count_copies(r, n, one->entry), 1);
	assert_int_equal(count_copies(r, n, two->entry), 2);
	assert_int_equal(count_copies(r, n, 0), 3);

	m = ranges_of(t, DRAINED, d, ARRAY_SIZE(d));
	assert_int_equal(count_copies(d, m, 0), 3);
	for (i = 0; i < m; i++)
		if (!covered(r, n, d[i].lo, d[i].hi))
			fail_msg("%s at 0x%llx is outside every copy of %s",
				 DRAINED, (unsigned long long)d[i].lo, RELEASE);

	must_find(t, NOINLINE);
	assert_int_equal(ranges_of(t, NOINLINE, d, ARRAY_SIZE(d)), 0);
	assert_int_equal(ranges_of(t, "main.noSuchFunction", d, ARRAY_SIZE(d)), 0);

	/* max bounds what is stored, not what is counted */
	memset(d, 0, sizeof(d));
	assert_int_equal(go_inline_ranges(t, RELEASE, d, 1, err, sizeof(err)), n);
	assert_int_equal(d[0].lo, r[0].lo);
	assert_int_equal(d[0].hi, r[0].hi);
	assert_int_equal(d[1].hi, 0);
}

/*
 * Each DW_TAG_inlined_subroutine is one copy, and starts in its ranges;
 * runtime.unlock and sync.(*Mutex).Lock have copies DWARF describes in
 * pieces (DW_AT_ranges, no DW_AT_low_pc).
 */
static void test_inline_dwarf(void **state)
{
	static const char *const names[] = { RELEASE, DRAINED, "runtime.unlock",
					     "sync.(*Mutex).Lock" };
	static struct go_inline_range r[1024];
	static uint64_t addrs[512];
	const struct fixture *f = *state;
	int n, d, i, copies;
	size_t k;

	for (k = 0; k < ARRAY_SIZE(names); k++) {
		n = ranges_of(&f->t, names[k], r, ARRAY_SIZE(r));
		assert_in_range(n, 1, ARRAY_SIZE(r));
		d = dwarf_inlined_copies(f->path, names[k], addrs,
					 ARRAY_SIZE(addrs));
		if (d < 0)
			fail_msg("%s: no DWARF", f->path);
		/* copies are numbered from 0 */
		for (i = 0, copies = 0; i < n; i++)
			copies = r[i].copy >= copies ? r[i].copy + 1 : copies;
		assert_int_equal(d, copies);
		for (i = 0; i < d; i++)
			if (!covered(r, n, addrs[i], addrs[i] + 1))
				fail_msg("%s: DWARF's copy at 0x%llx is in no range",
					 names[k], (unsigned long long)addrs[i]);
	}
}

/*
 * Where a probe on each copy goes: DWARF's address of the copy, or the
 * inline mark, a NOP, right before it (go_inline.c: copy_entry).
 */
static void test_inline_entries_dwarf(void **state)
{
	static const char *const names[] = { RELEASE, DRAINED };
	const struct fixture *f = *state;
	uint64_t e[16], addrs[16];
	struct elf_symtab tab;
	char err[256] = "";
	int n, d, i, j, at_mark = 0;
	uint8_t *insn;
	size_t k;

	if (elf_symtab_load(&tab, f->path, err, sizeof(err)))
		fail_msg("%s", err);
	for (k = 0; k < ARRAY_SIZE(names); k++) {
		n = go_inlined_copies(&f->t, names[k], e, ARRAY_SIZE(e), err,
				      sizeof(err));
		d = dwarf_inlined_copies(f->path, names[k], addrs,
					 ARRAY_SIZE(addrs));
		assert_int_equal(n, 3);
		assert_int_equal(d, n);
		for (i = 0; i < n; i++) {
			for (j = 0; j < d && addrs[j] != e[i]; j++)
				;
			if (j < d)
				continue;
			insn = elf_read_code(&tab, e[i], 1, err, sizeof(err));
			assert_non_null(insn);
			assert_int_equal(*insn, 0x90);
			free(insn);
			for (j = 0; j < d && addrs[j] != e[i] + 1; j++)
				;
			if (j == d)
				fail_msg("%s: copy at 0x%llx, DWARF has none there",
					 names[k], (unsigned long long)e[i]);
			at_mark++;
		}
	}
	assert_true(at_mark > 0);
	elf_symtab_free(&tab);
}

/* The same copies, by holder and offset, in a and b. */
static void same_entries(const struct go_pclntab *a, const struct go_pclntab *b,
			 const char *name)
{
	uint64_t x[16], y[16];
	char err[256] = "";
	int n, i;

	n = go_inlined_copies(a, name, x, ARRAY_SIZE(x), err, sizeof(err));
	assert_in_range(n, 1, ARRAY_SIZE(x));
	assert_int_equal(go_inlined_copies(b, name, y, ARRAY_SIZE(y), err,
					   sizeof(err)), n);
	for (i = 0; i < n; i++) {
		const struct go_func *fx = go_func_by_addr(a, x[i]);
		const struct go_func *fy = go_func_by_addr(b, y[i]);

		assert_true(fx && fy);
		assert_string_equal(fx->name, fy->name);
		assert_int_equal(x[i] - fx->entry, y[i] - fy->entry);
	}
}

/* -s -w drops DWARF and .symtab, not the pclntab: the same answers. */
static void test_inline_stripped_same(void **state)
{
	static const char *const names[] = { RELEASE, DRAINED };
	const struct fixture *f = *state;
	struct go_inline_range r[16], s[16];
	char path[256], err[256] = "";
	struct go_pclntab st;
	int n, i;
	size_t k;

	snprintf(path, sizeof(path), "%s.stripped", f->path);
	if (go_pclntab_load(&st, path, err, sizeof(err)))
		fail_msg("%s", err);
	for (k = 0; k < ARRAY_SIZE(names); k++) {
		n = ranges_of(&f->t, names[k], r, ARRAY_SIZE(r));
		assert_int_equal(ranges_of(&st, names[k], s, ARRAY_SIZE(s)), n);
		for (i = 0; i < n; i++) {
			assert_string_equal(go_func_by_addr(&st, s[i].func)->name,
					    go_func_by_addr(&f->t, r[i].func)->name);
			assert_int_equal(s[i].lo - s[i].func, r[i].lo - r[i].func);
			assert_int_equal(s[i].hi - s[i].func, r[i].hi - r[i].func);
			assert_int_equal(s[i].call_pc - s[i].func,
					 r[i].call_pc - r[i].func);
			assert_int_equal(s[i].copy, r[i].copy);
		}
		same_entries(&f->t, &st, names[k]);
	}
	go_pclntab_free(&st);
}

/* Some range of r holds pc: the copy's index in r, or -1. */
static int range_at(const struct go_inline_range *r, int n, uint64_t pc)
{
	int i;

	for (i = 0; i < n; i++)
		if (pc >= r[i].lo && pc < r[i].hi)
			return i;
	return -1;
}

/*
 * At every pc of closeOne and closeTwo: drained then release inside a
 * copy of drained, release alone in the rest of a copy of release,
 * nothing elsewhere; acquire, never inlined into, has no chain.
 */
static void test_inline_chain(void **state)
{
	static const char *const holders[] = { "main.closeOne", "main.closeTwo",
					       NOINLINE };
	const struct go_pclntab *t = &((struct fixture *)*state)->t;
	struct go_inline_range r[16], d[16];
	const char *names[4];
	int n, m, got, inlined = 0;
	size_t k;
	uint64_t pc;

	n = ranges_of(t, RELEASE, r, ARRAY_SIZE(r));
	m = ranges_of(t, DRAINED, d, ARRAY_SIZE(d));
	for (k = 0; k < ARRAY_SIZE(holders); k++) {
		const struct go_func *f = must_find(t, holders[k]);

		for (pc = f->entry; pc < f->end; pc++) {
			int want = range_at(d, m, pc) >= 0 ? 2 :
				   range_at(r, n, pc) >= 0;

			memset(names, 0, sizeof(names));
			got = go_inline_chain(t, pc, names, ARRAY_SIZE(names));
			if (got != want)
				fail_msg("%s+0x%llx: %d inlined, want %d", f->name,
					 (unsigned long long)(pc - f->entry), got, want);
			if (want)
				assert_string_equal(names[want - 1], RELEASE);
			if (want == 2)
				assert_string_equal(names[0], DRAINED);
			inlined += want > 0;
		}
	}
	assert_true(inlined > 0);
	/* the innermost are kept */
	assert_int_equal(go_inline_chain(t, d[0].lo, names, 1), 1);
	assert_string_equal(names[0], DRAINED);
	assert_int_equal(go_inline_chain(t, d[0].lo, names, 0), 0);
	assert_int_equal(go_inline_chain(t, 0, names, ARRAY_SIZE(names)), 0);
	assert_int_equal(go_inline_chain(t, t->funcs[t->nr - 1].end, names,
					 ARRAY_SIZE(names)), 0);
}

/* The unstripped fixture's DWARF, and where each of its CUs is. */
struct dwarf_view {
	int fd;
	Dwarf *dw;
	Dwarf_Die cus[256];
	size_t nr_cus;
};

static void dwarf_view_open(struct dwarf_view *v, const char *path)
{
	Dwarf_Off off = 0, next;
	size_t hsize;

	v->nr_cus = 0;
	v->fd = open(path, O_RDONLY);
	v->dw = v->fd >= 0 ? dwarf_begin(v->fd, DWARF_C_READ) : NULL;
	if (!v->dw)
		fail_msg("%s: no DWARF", path);
	while (!dwarf_nextcu(v->dw, off, &next, &hsize, NULL, NULL, NULL)) {
		assert_true(v->nr_cus < ARRAY_SIZE(v->cus));
		if (dwarf_offdie(v->dw, off + hsize, &v->cus[v->nr_cus]))
			v->nr_cus++;
		off = next;
	}
}

static void dwarf_view_close(struct dwarf_view *v)
{
	dwarf_end(v->dw);
	close(v->fd);
}

static const char *origin_name(Dwarf_Die *die)
{
	Dwarf_Attribute at;
	Dwarf_Die origin;

	if (!dwarf_attr(die, DW_AT_abstract_origin, &at) ||
	    !dwarf_formref_die(&at, &origin))
		return NULL;
	return dwarf_diename(&origin);
}

/* The child of die whose code holds pc, if any is a scope. */
static int scope_at(Dwarf_Die *die, uint64_t pc, Dwarf_Die *child)
{
	int tag;

	if (dwarf_child(die, child))
		return 0;
	do {
		tag = dwarf_tag(child);
		if ((tag == DW_TAG_subprogram || tag == DW_TAG_lexical_block ||
		     tag == DW_TAG_inlined_subroutine) && dwarf_haspc(child, pc) > 0)
			return 1;
	} while (!dwarf_siblingof(child, child));
	return 0;
}

/*
 * The subprogram holding pc; 0 for a wrapper the compiler made
 * (DW_AT_trampoline): Go 1.19 describes none of what it inlined into
 * those, the pclntab does.
 */
static int dwarf_function(struct dwarf_view *v, uint64_t pc, Dwarf_Die *fn)
{
	size_t i;

	for (i = 0; i < v->nr_cus; i++)
		if (dwarf_haspc(&v->cus[i], pc) > 0)
			return scope_at(&v->cus[i], pc, fn) &&
			       !dwarf_hasattr(fn, DW_AT_trampoline);
	return 0;
}

/* The inlined subroutines DWARF nests around pc in fn, innermost first. */
static int dwarf_chain(Dwarf_Die *fn, uint64_t pc, const char **names,
		       size_t max)
{
	const char *outer[16];
	Dwarf_Die die, child;
	size_t i, n = 0;

	for (die = *fn; scope_at(&die, pc, &child); die = child)
		if (dwarf_tag(&child) == DW_TAG_inlined_subroutine &&
		    n < ARRAY_SIZE(outer))
			outer[n++] = origin_name(&child);
	for (i = 0; i < n && i < max; i++)
		names[i] = outer[n - 1 - i];
	return (int)i;
}

/*
 * Against DWARF's nesting at every pc of main and of a sample of the
 * rest (every 8th function: the runtime's deep chains too).
 */
static void test_inline_chain_dwarf(void **state)
{
	const struct fixture *f = *state;
	const char *names[16], *want[16];
	struct dwarf_view v;
	size_t i, checked = 0, inlined = 0;
	Dwarf_Die die;
	uint64_t pc;
	int n, m, k;

	dwarf_view_open(&v, f->path);
	for (i = 0; i < f->t.nr; i++) {
		const struct go_func *fn = &f->t.funcs[i];

		if ((i % 8 && strncmp(fn->name, "main.", 5)) ||
		    !dwarf_function(&v, fn->entry, &die))
			continue;
		for (pc = fn->entry; pc < fn->end; pc++) {
			m = dwarf_chain(&die, pc, want, ARRAY_SIZE(want));
			n = go_inline_chain(&f->t, pc, names, ARRAY_SIZE(names));
			if (n != m)
				fail_msg("%s+0x%llx: %d inlined, DWARF says %d",
					 fn->name, (unsigned long long)(pc - fn->entry),
					 n, m);
			for (k = 0; k < n; k++)
				assert_string_equal(names[k], want[k]);
			checked++;
			inlined += n > 0;
		}
	}
	print_message("# %s: %zu pcs agree with DWARF, %zu in inlined code\n",
		      f->path, checked, inlined);
	assert_true(inlined > 1000);
	dwarf_view_close(&v);
}

/* A chain, or -1; never a name outside the file (ASan, SIGSEGV). */
static void chain_sane(const struct go_pclntab *t, uint64_t pc)
{
	const char *names[8];
	int n = go_inline_chain(t, pc, names, ARRAY_SIZE(names)), i;

	assert_in_range(n + 1, 0, ARRAY_SIZE(names) + 1);
	for (i = 0; i < n; i++)
		assert_true(strlen(names[i]) < 4096);
}

/*
 * On a corrupt file: -1, or an answer as sane as on a good one; the
 * chains at the start of each range found and the copies' entries too.
 */
static void query_sane(const struct go_pclntab *t, const char *name)
{
	static struct go_inline_range r[64];
	char err[256];
	int n = go_inline_ranges(t, name, r, ARRAY_SIZE(r), err, sizeof(err));
	uint64_t pc, e[64];
	size_t i;

	if (n <= 0)
		return;
	n = (size_t)n < ARRAY_SIZE(r) ? n : (int)ARRAY_SIZE(r);
	check_ranges(t, r, (size_t)n);
	for (i = 0; i < (size_t)n; i++)
		for (pc = r[i].lo; pc < r[i].hi && pc < r[i].lo + 16; pc++)
			chain_sane(t, pc);
	/* each copy's entry: in the function holding it */
	n = go_inlined_copies(t, name, e, ARRAY_SIZE(e), err, sizeof(err));
	for (i = 0; i < (size_t)n && i < ARRAY_SIZE(e); i++)
		assert_non_null(go_func_by_addr(t, e[i]));
}

/* A corrupt copy of a binary: it fails to load, or loads sanely. */
static void try_mutant(const uint8_t *b, size_t size, const char *name1,
		       const char *name2)
{
	char path[] = "/tmp/cw-gopcln-XXXXXX", err[256];
	struct go_pclntab t;
	int ret;

	write_temp(path, b, size);
	ret = go_pclntab_load(&t, path, err, sizeof(err));
	unlink(path);	/* first: a failed check leaves no file; t maps it */
	if (!ret) {
		check_invariants(&t);
		query_sane(&t, name1);
		query_sane(&t, name2);
	}
	go_pclntab_free(&t);
}

static uint64_t xorshift(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

/*
 * Bits flipped in the pclntab or anywhere, the pclntab's section or the
 * file cut short: never a crash (ASan), never a range out of place.
 */
static void test_inline_fixture_corrupt(void **state)
{
	const struct fixture *f = *state;
	uint64_t x = 0x9e3779b97f4a7c15ULL, at, shsize_at;
	size_t idx, name_at, size, i, k;
	uint8_t *orig, *b;
	GElf_Shdr sh;

	idx = section_index(f->path, ".gopclntab", &sh, &name_at);
	orig = read_whole(f->path, &size);
	b = malloc(size);
	assert_true(idx && orig && b);
	for (k = 0; k < 128; k++) {
		memcpy(b, orig, size);
		for (i = 0; i < 8; i++) {
			at = k % 2 ? sh.sh_offset + xorshift(&x) % sh.sh_size :
				     xorshift(&x) % size;
			b[at] ^= 1 << xorshift(&x) % 8;
		}
		try_mutant(b, size, RELEASE, DRAINED);
	}
	shsize_at = get64(orig + offsetof(Elf64_Ehdr, e_shoff)) +
		    idx * sizeof(Elf64_Shdr) + offsetof(Elf64_Shdr, sh_size);
	for (k = 1; k < 16; k++) {
		memcpy(b, orig, size);
		put64(b + shsize_at, sh.sh_size * k / 16);
		try_mutant(b, size, RELEASE, DRAINED);
	}
	for (k = 1; k < 8; k++)
		try_mutant(orig, size * k / 8, RELEASE, DRAINED);
	free(b);
	free(orig);
}

/* --- not Go, not ELF --- */

static void expect_failure(const char *path, const char *what)
{
	struct go_pclntab t;
	char err[256] = "";

	assert_int_equal(go_pclntab_load(&t, path, err, sizeof(err)), -1);
	assert_prefix(err, path);
	assert_contains(err, what);
	/* Failure leaves an empty table, which callers may free again. */
	assert_int_equal(t.nr, 0);
	assert_null(t.funcs);
	assert_null(go_func_by_name(&t, "main.main"));
	assert_null(go_func_by_addr(&t, 0x401000));
	go_pclntab_free(&t);
}

static void test_non_go_elf(void **state)
{
	const char *path = env_or("CW_NON_GO_ELF", DEFAULT_NON_GO);
	char err[256] = "";

	(void)state;
	if (!elf_is_elf(path, err, sizeof(err)))
		fail_msg("%s (set CW_NON_GO_ELF to a non-Go ELF file)", err);
	expect_failure(path, "not a Go binary");
}

static void test_not_elf(void **state)
{
	static const char text[] = "just some text, no ELF magic\n";
	char path[] = "/tmp/cw-gopcln-XXXXXX";

	(void)state;
	write_temp(path, text, sizeof(text) - 1);
	expect_failure(path, "not an ELF file");
	unlink(path);
}

static void test_missing(void **state)
{
	(void)state;
	expect_failure("/nonexistent/bin", "No such file");
}

/* --- synthetic ELF files --- */

#define VBASE	0x400000ULL
#define TEXT	(VBASE + 0x10000)
#define BINFO	0x100	/* file offsets of the parts */
#define MODDATA	0x180	/* runtime.firstmoduledata (1.18+) */
#define GOFUNC	0x300	/* go:func.*, which holds the inline tree */
#define TREE	(GOFUNC + 0x10)
#define PCLN	0x400
#define FUNC_REC	96	/* bytes per _func, more than is read */

struct sfunc {
	const char *name;
	uint64_t entry;
};

/* Two functions share a name, as an ABI wrapper and its body do. */
static const struct sfunc sfuncs[] = {
	{ "runtime.args", TEXT },
	{ "runtime.closechan", TEXT + 0x40 },
	{ "net/http.(*Server).trackConn", TEXT + 0xc0 },
	{ "sync.(*WaitGroup).Add", TEXT + 0x100 },
	{ "runtime.args", TEXT + 0x1a0 },
};
#define STEXT_END	(TEXT + 0x1e0)

/*
 * trackConn inlines sync.(*WaitGroup).Add twice, and runtime.closechan
 * into the first copy. Nodes name a function of sfuncs.
 */
#define INL_FUNC	2	/* sfuncs[INL_FUNC] holds the tree */
struct snode {
	size_t func;
	int16_t parent;		/* 1.16-1.19 */
	int32_t parent_pc;	/* where the index is the parent's (1.20+) */
};

static const struct snode snodes[] = {
	{ 3, -1, 0x04 },
	{ 1, 0, 0x0c },
	{ 3, -1, 0x20 },
};

/* trackConn's InlTreeIndex: pcs up to end (from its entry) have val. */
struct srun {
	uint32_t end;
	int32_t val;
};

static const struct srun sruns[] = {
	{ 0x08, -1 }, { 0x10, 0 }, { 0x18, 1 }, { 0x20, 0 }, { 0x28, -1 },
	{ 0x30, 2 }, { 0x40, -1 },
};

struct synth {
	unsigned int layout;	/* 116, 118, 120 */
	const char *section;	/* name of the table's section */
	int pie;		/* pointers 0 in the file, RELATIVE relocs */
	const char *version;	/* build info; NULL: none */
};

struct image_buf {
	uint8_t b[16384];
	size_t size;
	size_t pcln_size;
	Elf64_Rela rela[32];
	size_t nr_rela;
	size_t table_at;	/* file offsets: trackConn's InlTreeIndex */
	size_t slot_at;		/* and its funcdata slot of the tree */
};

/* A pointer at file offset off: in place, or 0 and a relocation. */
static void put_ptr(struct image_buf *im, const struct synth *s, size_t off,
		    uint64_t v)
{
	if (!s->pie) {
		put64(im->b + off, v);
		return;
	}
	assert_true(im->nr_rela < ARRAY_SIZE(im->rela));
	im->rela[im->nr_rela++] = (Elf64_Rela){
		.r_offset = VBASE + off,
		.r_info = ELF64_R_INFO(0, R_X86_64_RELATIVE),
		.r_addend = (int64_t)v,
	};
}

static size_t align8(size_t n)
{
	return (n + 7) & ~(size_t)7;
}

static void build_buildinfo(struct image_buf *im, const struct synth *s)
{
	uint8_t *b = im->b + BINFO;
	size_t n;

	if (!s->version)
		return;
	n = strlen(s->version);
	memcpy(b, "\xff Go buildinf:", 14);
	b[14] = 8;
	if (s->layout != 116) {	/* 1.18+: inline, varint-prefixed */
		b[15] = 2;
		b[32] = n;
		memcpy(b + 33, s->version, n);
		return;
	}
	/* Before: a pointer to a Go string header {ptr, len}. */
	put_ptr(im, s, BINFO + 16, VBASE + BINFO + 64);
	put_ptr(im, s, BINFO + 64, VBASE + BINFO + 80);
	put64(b + 72, n);
	memcpy(b + 80, s->version, n);
}

/* The pcHeader words: 1.18 inserted textStart as the third. */
static void build_header(struct image_buf *im, const struct synth *s,
			 size_t names, size_t pctab, size_t functab)
{
	uint8_t *p = im->b + PCLN;
	unsigned int w = 0;

	put32(p, s->layout == 116 ? 0xfffffffa :
		 s->layout == 118 ? 0xfffffff0 : 0xfffffff1);
	p[6] = 1;
	p[7] = 8;
	put64(p + 8 + 8 * w++, ARRAY_SIZE(sfuncs));
	put64(p + 8 + 8 * w++, 0);
	if (s->layout != 116)
		put_ptr(im, s, PCLN + 8 + 8 * w++, TEXT);
	put64(p + 8 + 8 * w++, names);	/* funcnametab */
	put64(p + 8 + 8 * w++, pctab);	/* cutab, empty */
	put64(p + 8 + 8 * w++, pctab);	/* filetab, empty */
	put64(p + 8 + 8 * w++, pctab);	/* pctab */
	put64(p + 8 + 8 * w++, functab);	/* pclntab */
}

/* One functab field: an entry or a _func offset. */
static void put_field(struct image_buf *im, const struct synth *s,
		      size_t off, uint64_t v, int is_entry)
{
	if (s->layout != 116)
		put32(im->b + off, is_entry ? v - TEXT : v);
	else if (is_entry)
		put_ptr(im, s, off, v);
	else
		put64(im->b + off, v);
}

static size_t put_varint(uint8_t *p, uint32_t v)
{
	size_t n = 0;

	for (; v >= 0x80; v >>= 7)
		p[n++] = v | 0x80;
	p[n++] = v;
	return n;
}

/* sruns as a pc-value table: zigzag value deltas from -1, pc deltas. */
static size_t put_table(uint8_t *p)
{
	uint32_t pc = 0;
	int32_t val = -1;
	size_t n = 0, i;

	for (i = 0; i < ARRAY_SIZE(sruns); i++) {
		int32_t d = sruns[i].val - val;

		n += put_varint(p + n, (uint32_t)d << 1 ^ (uint32_t)(d >> 31));
		n += put_varint(p + n, sruns[i].end - pc);
		val = sruns[i].val;
		pc = sruns[i].end;
	}
	p[n++] = 0;
	return n;
}

static void build_tree(struct image_buf *im, const struct synth *s,
		       const size_t *nameoff)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(snodes); i++) {
		const struct snode *nd = &snodes[i];

		if (s->layout == 120) {
			uint8_t *p = im->b + TREE + 16 * i;

			put32(p + 4, nameoff[nd->func]);
			put32(p + 8, nd->parent_pc);
		} else {
			uint8_t *p = im->b + TREE + 20 * i;

			memcpy(p, &nd->parent, 2);
			put32(p + 12, nameoff[nd->func]);
			put32(p + 16, nd->parent_pc);
		}
	}
}

/*
 * trackConn's _func: 4 pcdata, InlTreeIndex the third; 4 funcdata, the
 * tree the fourth (1.16: an address, the array aligned to 8 bytes, which
 * takes a 4-byte pad after 4 pcdata).
 */
static void build_inline_func(struct image_buf *im, const struct synth *s,
			      size_t rec, size_t table)
{
	size_t fsz = s->layout == 116 ? 8 : 4, size = s->layout == 118 ? 40 : 44;
	size_t pcdata = PCLN + rec + size, fdata = pcdata + 16, i;

	put32(im->b + PCLN + rec + fsz + 24, 4);	/* npcdata */
	im->b[PCLN + rec + size - 1] = 4;		/* nfuncdata */
	put32(im->b + pcdata + 8, table);
	if (s->layout == 116) {
		im->slot_at = align8(fdata) + 24;
		put_ptr(im, s, im->slot_at, VBASE + TREE);
		return;
	}
	for (i = 0; i < 3; i++)
		put32(im->b + fdata + 4 * i, UINT32_MAX);
	im->slot_at = fdata + 12;
	put32(im->b + im->slot_at, TREE - GOFUNC);
}

/* What a moduledata candidate is checked on, and gofunc (1.18+). */
static void build_moduledata(struct image_buf *im, const struct synth *s,
			     size_t names, size_t functab)
{
	if (s->layout == 116)
		return;
	put_ptr(im, s, MODDATA, VBASE + PCLN);
	put_ptr(im, s, MODDATA + 8, VBASE + PCLN + names);
	put_ptr(im, s, MODDATA + 128, VBASE + PCLN + functab);
	put64(im->b + MODDATA + 136, ARRAY_SIZE(sfuncs) + 1);
	put_ptr(im, s, MODDATA + 176, TEXT);
	put_ptr(im, s, MODDATA + (s->layout == 118 ? 304 : 320), VBASE + GOFUNC);
}

static void build_pclntab(struct image_buf *im, const struct synth *s)
{
	size_t hdr = s->layout == 116 ? 64 : 72, fsz = s->layout == 116 ? 8 : 4;
	size_t n = ARRAY_SIZE(sfuncs), names = hdr, nameoff[ARRAY_SIZE(sfuncs)];
	size_t off = names, pctab, functab, recs, i;

	for (i = 0; i < n; i++) {
		nameoff[i] = off - names;
		memcpy(im->b + PCLN + off, sfuncs[i].name,
		       strlen(sfuncs[i].name) + 1);
		off += strlen(sfuncs[i].name) + 1;
	}
	pctab = off;	/* a table at offset 0 would read as none */
	im->table_at = PCLN + pctab + 1;
	functab = align8(im->table_at - PCLN + put_table(im->b + im->table_at));
	recs = align8(functab + (2 * n + 1) * fsz);
	build_header(im, s, names, pctab, functab);
	for (i = 0; i < n; i++) {
		size_t ft = PCLN + functab + 2 * i * fsz;
		size_t rec = recs + i * FUNC_REC;

		put_field(im, s, ft, sfuncs[i].entry, 1);
		put_field(im, s, ft + fsz, rec - functab, 0);
		put_field(im, s, PCLN + rec, sfuncs[i].entry, 1);
		put32(im->b + PCLN + rec + fsz, nameoff[i]);
	}
	put_field(im, s, PCLN + functab + 2 * n * fsz, STEXT_END, 1);
	im->pcln_size = recs + n * FUNC_REC;
	build_inline_func(im, s, recs + INL_FUNC * FUNC_REC, 1);
	build_tree(im, s, nameoff);
	build_moduledata(im, s, names, functab);
}

struct shdr_list {
	GElf_Shdr sh[6];
	size_t nr;
	char strtab[128];
	size_t strsize;
};

static void add_section(struct shdr_list *l, const char *name, uint32_t type,
			size_t off, size_t size, size_t entsize)
{
	GElf_Shdr *sh = &l->sh[l->nr++];

	memset(sh, 0, sizeof(*sh));
	sh->sh_name = l->strsize;
	sh->sh_type = type;
	sh->sh_flags = type == SHT_STRTAB ? 0 : SHF_ALLOC;
	sh->sh_addr = type == SHT_STRTAB ? 0 : VBASE + off;
	sh->sh_offset = off;
	sh->sh_size = size;
	sh->sh_entsize = entsize;
	sh->sh_addralign = 8;
	strcpy(l->strtab + l->strsize, name);
	l->strsize += strlen(name) + 1;
}

/* Relocations, .shstrtab and section headers after the table. */
static void build_tail(struct image_buf *im, const struct synth *s,
		       struct shdr_list *l)
{
	size_t off = align8(PCLN + im->pcln_size), i;

	l->nr = 1;	/* SHN_UNDEF, all zero */
	l->strsize = 1;
	add_section(l, s->section, SHT_PROGBITS, PCLN, im->pcln_size, 0);
	if (s->version)
		add_section(l, ".go.buildinfo", SHT_PROGBITS, BINFO, 128, 0);
	if (im->nr_rela) {
		add_section(l, ".rela.dyn", SHT_RELA, off,
			    im->nr_rela * sizeof(Elf64_Rela), sizeof(Elf64_Rela));
		for (i = 0; i < im->nr_rela; i++, off += sizeof(Elf64_Rela))
			memcpy(im->b + off, &im->rela[i], sizeof(Elf64_Rela));
	}
	add_section(l, ".shstrtab", SHT_STRTAB, off, 0, 0);
	l->sh[l->nr - 1].sh_size = l->strsize;
	memcpy(im->b + off, l->strtab, l->strsize);
	im->size = align8(off + l->strsize);
}

static void build_headers(struct image_buf *im, const struct synth *s,
			  const struct shdr_list *l)
{
	Elf64_Ehdr eh = {
		.e_ident = { ELFMAG0, ELFMAG1, ELFMAG2, ELFMAG3, ELFCLASS64,
			     ELFDATA2LSB, EV_CURRENT },
		.e_type = s->pie ? ET_DYN : ET_EXEC,
		.e_machine = EM_X86_64,
		.e_version = EV_CURRENT,
		.e_phoff = sizeof(Elf64_Ehdr),
		.e_shoff = im->size,
		.e_ehsize = sizeof(Elf64_Ehdr),
		.e_phentsize = sizeof(Elf64_Phdr),
		.e_phnum = 1,
		.e_shentsize = sizeof(Elf64_Shdr),
		.e_shnum = l->nr,
		.e_shstrndx = l->nr - 1,
	};
	/* writable: moduledata is looked for in data */
	Elf64_Phdr ph = {
		.p_type = PT_LOAD, .p_flags = PF_R | PF_W, .p_vaddr = VBASE,
		.p_paddr = VBASE, .p_align = 0x1000,
	};
	size_t i;

	ph.p_filesz = ph.p_memsz = im->size;
	memcpy(im->b, &eh, sizeof(eh));
	memcpy(im->b + sizeof(eh), &ph, sizeof(ph));
	for (i = 0; i < l->nr; i++) {	/* GElf_Shdr is Elf64_Shdr */
		memcpy(im->b + im->size, &l->sh[i], sizeof(Elf64_Shdr));
		im->size += sizeof(Elf64_Shdr);
	}
}

static void build(struct image_buf *im, const struct synth *s)
{
	struct shdr_list l;

	memset(im, 0, sizeof(*im));
	build_buildinfo(im, s);
	build_pclntab(im, s);
	build_tail(im, s, &l);
	build_headers(im, s, &l);
	assert_true(im->size <= sizeof(im->b));
}

/*
 * Loads im from a file; 0 with *t filled, or -1 with err. With
 * CW_SYNTH_DUMP=DIR the file is kept there: every layout, good and
 * corrupt, seeds the pclntab fuzzer (tests/fuzz/seeds.sh).
 */
static int load_image(const struct image_buf *im, struct go_pclntab *t,
		      char *err, size_t errlen)
{
	const char *dump = getenv("CW_SYNTH_DUMP");
	char path[4096];
	int ret;

	snprintf(path, sizeof(path), "%s/%s-XXXXXX", dump ? dump : "/tmp",
		 dump ? "synth" : "cw-gopcln");
	write_temp(path, im->b, im->size);
	ret = go_pclntab_load(t, path, err, errlen);
	if (!dump)
		unlink(path);
	return ret;
}

static void expect_range(const struct go_inline_range *r, uint64_t lo,
			 uint64_t hi, uint64_t call_pc, int copy)
{
	uint64_t entry = sfuncs[INL_FUNC].entry;

	assert_int_equal(r->func, entry);
	assert_int_equal(r->lo, entry + lo);
	assert_int_equal(r->hi, entry + hi);
	assert_int_equal(r->call_pc, entry + call_pc);
	assert_int_equal(r->copy, copy);
}

/* The chain at off in trackConn: n names, innermost first. */
static void expect_chain(const struct go_pclntab *t, uint64_t off, int n,
			 const char *inner, const char *outer)
{
	const char *names[4];

	assert_int_equal(go_inline_chain(t, sfuncs[INL_FUNC].entry + off, names,
					 ARRAY_SIZE(names)), n);
	if (n > 0)
		assert_string_equal(names[0], inner);
	if (n > 1)
		assert_string_equal(names[1], outer);
}

/* snodes and sruns, read back: closechan's pcs count in Add's copy. */
static void check_synth_inline(const struct go_pclntab *t)
{
	static const char *const add = "sync.(*WaitGroup).Add";
	static const char *const closechan = "runtime.closechan";
	struct go_inline_range r[4];
	char err[256] = "";
	uint64_t e[4];

	assert_int_equal(ranges_of(t, "sync.(*WaitGroup).Add", r, 4), 2);
	expect_range(&r[0], 0x08, 0x20, 0x04, 0);
	expect_range(&r[1], 0x28, 0x30, 0x20, 1);
	assert_int_equal(ranges_of(t, "runtime.closechan", r, 4), 1);
	expect_range(&r[0], 0x10, 0x18, 0x0c, 0);
	assert_int_equal(ranges_of(t, "runtime.args", r, 4), 0);

	/* no mark is in the file (text is not): the lowest addresses */
	memset(e, 0, sizeof(e));
	assert_int_equal(go_inlined_copies(t, add, e, 1, err, sizeof(err)), 2);
	assert_int_equal(e[0], sfuncs[INL_FUNC].entry + 0x08);
	assert_int_equal(e[1], 0);
	assert_int_equal(go_inlined_copies(t, add, e, 4, err, sizeof(err)), 2);
	assert_int_equal(e[1], sfuncs[INL_FUNC].entry + 0x28);

	expect_chain(t, 0x00, 0, NULL, NULL);
	expect_chain(t, 0x08, 1, add, NULL);
	expect_chain(t, 0x10, 2, closechan, add);
	expect_chain(t, 0x17, 2, closechan, add);
	expect_chain(t, 0x1f, 1, add, NULL);
	expect_chain(t, 0x20, 0, NULL, NULL);
	expect_chain(t, 0x2f, 1, add, NULL);
	expect_chain(t, 0x3f, 0, NULL, NULL);
	expect_chain(t, sfuncs[0].entry - sfuncs[INL_FUNC].entry, 0, NULL, NULL);
}

static void check_synth(const struct synth *s)
{
	static struct image_buf im;
	struct go_pclntab t;
	struct go_func *const *all;
	char err[256] = "";
	size_t i, n;

	build(&im, s);
	if (load_image(&im, &t, err, sizeof(err)))
		fail_msg("layout %u in %s%s: %s", s->layout, s->section,
			 s->pie ? " (PIE)" : "", err);
	check_invariants(&t);
	assert_int_equal(t.nr, ARRAY_SIZE(sfuncs));
	assert_int_equal(t.layout, s->layout);
	assert_string_equal(t.version, s->version ? s->version : "");
	for (i = 0; i < t.nr; i++) {
		assert_string_equal(t.funcs[i].name, sfuncs[i].name);
		assert_int_equal(t.funcs[i].entry, sfuncs[i].entry);
		assert_int_equal(t.funcs[i].end, i + 1 < t.nr ?
				 sfuncs[i + 1].entry : STEXT_END);
	}
	must_find(&t, "net/http.(*Server).trackConn");
	all = go_funcs_by_name(&t, "runtime.args", &n);
	assert_int_equal(n, 2);
	assert_ptr_equal(all[0], &t.funcs[0]);
	assert_ptr_equal(all[1], &t.funcs[4]);
	assert_ptr_equal(go_func_by_name(&t, "runtime.args"), &t.funcs[0]);
	assert_null(go_funcs_by_name(&t, "runtime.arg", &n));
	assert_int_equal(n, 0);
	check_synth_inline(&t);
	go_pclntab_free(&t);
}

static void test_synth_layouts(void **state)
{
	static const struct synth cases[] = {
		{ 116, ".gopclntab", 0, "go1.16.15" },
		{ 118, ".gopclntab", 0, "go1.18.10" },
		{ 120, ".gopclntab", 0, "go1.22.4" },
		{ 118, ".gopclntab", 0, NULL },
	};
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++)
		check_synth(&cases[i]);
}

/* lld leaves PIE pointers 0 and puts them in relocations' addends. */
static void test_synth_pie_relocs(void **state)
{
	static const struct synth cases[] = {
		{ 116, ".data.rel.ro.gopclntab", 1, "go1.16.15" },
		{ 120, ".data.rel.ro.gopclntab", 1, "go1.21.0" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++)
		check_synth(&cases[i]);
}

/* No section names the table: found by its pcHeader. */
static void test_synth_scan(void **state)
{
	static const struct synth cases[] = {
		{ 116, ".data.rel.ro", 0, "go1.16.15" },
		{ 118, ".data.rel.ro", 0, "go1.19.8" },
		{ 120, ".data.rel.ro", 1, "go1.20.14" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++)
		check_synth(&cases[i]);
}

static void expect_corrupt(struct image_buf *im, const char *what)
{
	struct go_pclntab t;
	char err[256] = "";

	assert_int_equal(load_image(im, &t, err, sizeof(err)), -1);
	assert_contains(err, what);
	assert_int_equal(t.nr, 0);
	go_pclntab_free(&t);
}

static void test_synth_corrupt(void **state)
{
	static const struct synth named = { 118, ".gopclntab", 0, NULL };
	static const struct synth hidden = { 118, ".data.rel.ro", 0, NULL };
	static struct image_buf im;
	uint64_t functab;

	(void)state;
	build(&im, &named);
	put64(im.b + PCLN + 8, 1ULL << 40);	/* nfunc */
	expect_corrupt(&im, "corrupt pclntab: bad function count");

	build(&im, &named);
	functab = get64(im.b + PCLN + 8 + 7 * 8);
	put32(im.b + PCLN + functab + 8, 0x100000);	/* 2nd entry */
	expect_corrupt(&im, "corrupt pclntab: functab not sorted");

	build(&im, &named);
	put32(im.b + PCLN, 0xfffffffb);	/* Go 1.2 to 1.15 */
	expect_corrupt(&im, "Go before 1.16 is not supported");

	/* Unnamed and broken is no table at all. */
	build(&im, &hidden);
	put64(im.b + PCLN + 8 + 3 * 8, 0x7fffffff);	/* funcnameOffset */
	expect_corrupt(&im, "not a Go binary");
}

/* The chain at off in trackConn of the image: how many names. */
static int chain_in(const struct image_buf *im, uint64_t off)
{
	const char *names[4];
	struct go_pclntab t;
	char err[256] = "";
	int n;

	if (load_image(im, &t, err, sizeof(err)))
		fail_msg("%s", err);
	n = go_inline_chain(&t, sfuncs[INL_FUNC].entry + off, names,
			    ARRAY_SIZE(names));
	go_pclntab_free(&t);
	return n;
}

static void expect_inline_error(const struct image_buf *im, const char *what)
{
	struct go_inline_range r[4];
	uint64_t e[4];
	struct go_pclntab t;
	char err[256] = "";

	if (load_image(im, &t, err, sizeof(err)))
		fail_msg("%s", err);
	assert_int_equal(go_inline_ranges(&t, "sync.(*WaitGroup).Add", r, 4,
					  err, sizeof(err)), -1);
	assert_contains(err, what);
	assert_int_equal(go_inlined_copies(&t, "sync.(*WaitGroup).Add", e, 4,
					   err, sizeof(err)), -1);
	assert_contains(err, what);
	go_pclntab_free(&t);
	assert_int_equal(chain_in(im, 0x10), -1);
}

/* What the tree reader refuses, and says so. */
static void test_synth_inline_corrupt(void **state)
{
	static const struct synth go118 = { 118, ".gopclntab", 0, NULL };
	static const struct synth go120 = { 120, ".gopclntab", 0, NULL };
	static struct image_buf im;
	size_t n;

	(void)state;
	build(&im, &go118);
	put64(im.b + MODDATA, 0);	/* no word points at the pcHeader */
	expect_inline_error(&im, "funcdata base not found");

	build(&im, &go120);
	put64(im.b + MODDATA + 136, 1);	/* ftab's length: another table's */
	expect_inline_error(&im, "funcdata base not found");

	build(&im, &go120);
	put64(im.b + MODDATA + 320, 0x10);
	expect_inline_error(&im, "moduledata.gofunc 0x10 is not in the file");

	build(&im, &go118);
	put32(im.b + im.slot_at, 0x100000);	/* the tree's offset */
	expect_inline_error(&im,
		"inline tree of net/http.(*Server).trackConn: inline tree outside the file");

	build(&im, &go120);
	memset(im.b + im.table_at, 0x80, 6);	/* a 6-byte varint */
	expect_inline_error(&im, "truncated pc-value table");

	build(&im, &go120);
	im.b[im.table_at + 1] = 0x7f;	/* the first run ends past the end */
	expect_inline_error(&im, "pc-value table runs past the function");

	build(&im, &go118);
	n = put_varint(im.b + im.table_at, 2 * (1 << 20) + 2);	/* -1 + 2^20 + 1 */
	im.b[im.table_at + n] = 0x08;
	expect_inline_error(&im, "inline tree index out of range");

	/* A parent that is not an earlier node ends the chain. */
	build(&im, &go118);
	im.b[TREE + 20] = 1;	/* closechan's parent: itself */
	assert_int_equal(chain_in(&im, 0x10), 1);
	im.b[TREE + 20] = 2;
	assert_int_equal(chain_in(&im, 0x10), 1);
	build(&im, &go118);
	put32(im.b + TREE + 20 + 12, 0x7fffff00);	/* closechan's name */
	assert_int_equal(chain_in(&im, 0x10), -1);
	assert_int_equal(chain_in(&im, 0x08), 1);
}

/*
 * Every single-byte corruption and every truncation of the table either
 * loads a sane table or fails: never reads outside the file (ASan).
 */
static void mutate_all(const struct synth *s)
{
	static struct image_buf im, orig;
	size_t i;

	build(&orig, s);
	/* moduledata, the tree and the pclntab */
	for (i = MODDATA; i < PCLN + orig.pcln_size; i++) {
		im = orig;
		im.b[i] ^= 0xa5;
		try_mutant(im.b, im.size, "sync.(*WaitGroup).Add",
			   "runtime.closechan");
	}
	for (i = 0; i < orig.pcln_size; i += 3) {
		im = orig;
		/* sh_size of the table's section, the second. */
		put64(im.b + get64(im.b + offsetof(Elf64_Ehdr, e_shoff)) +
		      sizeof(Elf64_Shdr) + offsetof(Elf64_Shdr, sh_size), i);
		try_mutant(im.b, im.size, "sync.(*WaitGroup).Add",
			   "runtime.closechan");
	}
}

static void test_synth_mutations(void **state)
{
	static const struct synth cases[] = {
		{ 116, ".gopclntab", 1, "go1.16.15" },
		{ 118, ".data.rel.ro", 0, "go1.19.8" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++)
		mutate_all(&cases[i]);
}

#define STRIPPED_TEST(f) cmocka_unit_test_setup_teardown(f, load_stripped, \
							  free_table)
#define UNSTRIPPED_TEST(f) cmocka_unit_test_setup_teardown(f, \
					load_unstripped, free_table)
/* A go_inline build (struct fixture), loaded for the test. */
#define FIXTURE_TEST(f, fix) cmocka_unit_test_prestate_setup_teardown(f, \
					load_fixture, free_fixture, &fix)

int main(void)
{
	const struct CMUnitTest tests[] = {
		STRIPPED_TEST(test_stripped_finds_functions),
		STRIPPED_TEST(test_stripped_version),
		STRIPPED_TEST(test_stripped_sorted),
		STRIPPED_TEST(test_stripped_every_name),
		STRIPPED_TEST(test_stripped_scan),
		STRIPPED_TEST(test_stripped_inline_ranges),
		cmocka_unit_test(test_stripped_load_time),
		UNSTRIPPED_TEST(test_unstripped_matches_symtab),
		cmocka_unit_test(test_non_go_elf),
		cmocka_unit_test(test_not_elf),
		cmocka_unit_test(test_missing),
		cmocka_unit_test(test_synth_layouts),
		cmocka_unit_test(test_synth_pie_relocs),
		cmocka_unit_test(test_synth_scan),
		cmocka_unit_test(test_synth_corrupt),
		cmocka_unit_test(test_synth_inline_corrupt),
		cmocka_unit_test(test_synth_mutations),
		FIXTURE_TEST(test_inline_copies, inline119),
		FIXTURE_TEST(test_inline_copies, inline119s),
		FIXTURE_TEST(test_inline_copies, inline122),
		FIXTURE_TEST(test_inline_copies, inline122s),
		FIXTURE_TEST(test_inline_dwarf, inline119),
		FIXTURE_TEST(test_inline_dwarf, inline122),
		FIXTURE_TEST(test_inline_entries_dwarf, inline119),
		FIXTURE_TEST(test_inline_entries_dwarf, inline122),
		FIXTURE_TEST(test_inline_stripped_same, inline119),
		FIXTURE_TEST(test_inline_stripped_same, inline122),
		FIXTURE_TEST(test_inline_chain, inline119),
		FIXTURE_TEST(test_inline_chain, inline119s),
		FIXTURE_TEST(test_inline_chain, inline122),
		FIXTURE_TEST(test_inline_chain, inline122s),
		FIXTURE_TEST(test_inline_chain_dwarf, inline119),
		FIXTURE_TEST(test_inline_chain_dwarf, inline122),
		FIXTURE_TEST(test_inline_fixture_corrupt, inline119s),
		FIXTURE_TEST(test_inline_fixture_corrupt, inline122s),
	};

	return cmocka_run_group_tests_name("gopclntab", tests, NULL, NULL);
}
