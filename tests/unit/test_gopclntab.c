// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Go function tables: real binaries (a stripped production server, an
 * unstripped fixture checked against its own .symtab), and synthetic
 * ELF files for the layouts no local toolchain builds (Go 1.16, 1.20+),
 * PIE relocations, a table no section names, and corrupt tables.
 */
#include <fcntl.h>
#include <gelf.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include "../../user/elf_symbols.h"
#include "../../user/gopclntab.h"
#include "unit.h"

/* Debian's prometheus: stripped, Go 1.19, cgo (externally linked). */
#define DEFAULT_STRIPPED	"/usr/bin/prometheus"
/* Relative to the repo root, where the tests run (`make fixtures`). */
#define DEFAULT_UNSTRIPPED	"build/fixtures/go_hello"
#define DEFAULT_NON_GO		"/bin/ls"

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

/* File offset of the name of the section called name, or 0. */
static size_t section_name_offset(const char *path, const char *name)
{
	size_t shstrndx, found = 0;
	Elf_Scn *scn = NULL;
	GElf_Shdr sh, strsh;
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

		if (!gelf_getshdr(scn, &sh))
			continue;
		n = elf_strptr(elf, shstrndx, sh.sh_name);
		if (n && !strcmp(n, name))
			found = strsh.sh_offset + sh.sh_name;
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
	int ret;

	at = section_name_offset(stripped(), ".gopclntab");
	if (!at)
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
#define PCLN	0x200
#define FUNC_REC	48	/* bytes per _func, more than is read */

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
};

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
			 size_t names, size_t functab)
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
	put64(p + 8 + 8 * w++, functab);	/* cutab, empty */
	put64(p + 8 + 8 * w++, functab);	/* filetab, empty */
	put64(p + 8 + 8 * w++, functab);	/* pctab, empty */
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

static void build_pclntab(struct image_buf *im, const struct synth *s)
{
	size_t hdr = s->layout == 116 ? 64 : 72, fsz = s->layout == 116 ? 8 : 4;
	size_t n = ARRAY_SIZE(sfuncs), names = hdr, nameoff[ARRAY_SIZE(sfuncs)];
	size_t off = names, functab, recs, i;

	for (i = 0; i < n; i++) {
		nameoff[i] = off - names;
		memcpy(im->b + PCLN + off, sfuncs[i].name,
		       strlen(sfuncs[i].name) + 1);
		off += strlen(sfuncs[i].name) + 1;
	}
	functab = align8(off);
	recs = align8(functab + (2 * n + 1) * fsz);
	build_header(im, s, names, functab);
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
	Elf64_Phdr ph = {
		.p_type = PT_LOAD, .p_flags = PF_R, .p_vaddr = VBASE,
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

/* Loads im from a file; 0 with *t filled, or -1 with err. */
static int load_image(const struct image_buf *im, struct go_pclntab *t,
		      char *err, size_t errlen)
{
	char path[] = "/tmp/cw-gopcln-XXXXXX";
	int ret;

	write_temp(path, im->b, im->size);
	ret = go_pclntab_load(t, path, err, errlen);
	unlink(path);
	return ret;
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

/*
 * Every single-byte corruption and every truncation of the table either
 * loads a sane table or fails: never reads outside the file (ASan).
 */
static void mutate_all(const struct synth *s)
{
	static struct image_buf im, orig;
	struct go_pclntab t;
	char err[256];
	size_t i;

	build(&orig, s);
	for (i = 0; i < orig.pcln_size; i++) {
		im = orig;
		im.b[PCLN + i] ^= 0xa5;
		if (!load_image(&im, &t, err, sizeof(err)))
			check_invariants(&t);
		go_pclntab_free(&t);
	}
	for (i = 0; i < orig.pcln_size; i += 3) {
		im = orig;
		/* sh_size of the table's section, the second. */
		put64(im.b + get64(im.b + offsetof(Elf64_Ehdr, e_shoff)) +
		      sizeof(Elf64_Shdr) + offsetof(Elf64_Shdr, sh_size), i);
		if (!load_image(&im, &t, err, sizeof(err)))
			check_invariants(&t);
		go_pclntab_free(&t);
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		STRIPPED_TEST(test_stripped_finds_functions),
		STRIPPED_TEST(test_stripped_version),
		STRIPPED_TEST(test_stripped_sorted),
		STRIPPED_TEST(test_stripped_every_name),
		STRIPPED_TEST(test_stripped_scan),
		cmocka_unit_test(test_stripped_load_time),
		UNSTRIPPED_TEST(test_unstripped_matches_symtab),
		cmocka_unit_test(test_non_go_elf),
		cmocka_unit_test(test_not_elf),
		cmocka_unit_test(test_missing),
		cmocka_unit_test(test_synth_layouts),
		cmocka_unit_test(test_synth_pie_relocs),
		cmocka_unit_test(test_synth_scan),
		cmocka_unit_test(test_synth_corrupt),
		cmocka_unit_test(test_synth_mutations),
	};

	return cmocka_run_group_tests_name("gopclntab", tests, NULL, NULL);
}
