// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Bounded work on hostile input: files that claim more than any real
 * one are refused with a clear message, in bounded memory and time.
 * A 2 GiB sparse ELF file (one segment over all of it: the pclntab scan
 * would read every byte), a pclntab claiming 10^9 functions, and spec
 * files that never end.
 */
#include <elf.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#include "../../user/dwarf_inline.h"
#include "../../user/elf_symbols.h"
#include "../../user/gopclntab.h"
#include "../../user/spec.h"
#include "unit.h"

#define SPARSE_SIZE	(2ULL << 30)
/* What a refusal may cost: a few pages, not the file. */
#define MAX_GROWTH_KB	(32 * 1024)
#define MAX_SECONDS	1.0

struct cost {
	long peak_kb;
	struct timespec t0;
};

static long peak_kb(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

static void cost_start(struct cost *c)
{
	c->peak_kb = peak_kb();
	clock_gettime(CLOCK_MONOTONIC, &c->t0);
}

static void cost_check(const struct cost *c, const char *what)
{
	struct timespec t1;
	double s;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	s = (double)(t1.tv_sec - c->t0.tv_sec) +
	    (double)(t1.tv_nsec - c->t0.tv_nsec) / 1e9;
	if (peak_kb() - c->peak_kb > MAX_GROWTH_KB || s > MAX_SECONDS)
		fail_msg("%s: peak RSS grew %ld KB in %.2f s", what,
			 peak_kb() - c->peak_kb, s);
}

/* A 64-bit ELF header with one PT_LOAD of size bytes from offset 0. */
static void elf_head(uint8_t *b, uint64_t size, uint16_t shnum,
		     uint64_t shoff)
{
	Elf64_Ehdr eh = {
		.e_ident = { ELFMAG0, ELFMAG1, ELFMAG2, ELFMAG3, ELFCLASS64,
			     ELFDATA2LSB, EV_CURRENT },
		.e_type = ET_EXEC, .e_machine = EM_X86_64,
		.e_version = EV_CURRENT, .e_phoff = sizeof(Elf64_Ehdr),
		.e_shoff = shoff, .e_ehsize = sizeof(Elf64_Ehdr),
		.e_phentsize = sizeof(Elf64_Phdr), .e_phnum = 1,
		.e_shentsize = sizeof(Elf64_Shdr), .e_shnum = shnum,
		.e_shstrndx = shnum ? shnum - 1 : 0,
	};
	Elf64_Phdr ph = {
		.p_type = PT_LOAD, .p_flags = PF_R | PF_X,
		.p_vaddr = 0x400000, .p_paddr = 0x400000,
		.p_filesz = size, .p_memsz = size, .p_align = 0x1000,
	};

	memcpy(b, &eh, sizeof(eh));
	memcpy(b + sizeof(eh), &ph, sizeof(ph));
}

/* A temporary file: buf, then a hole up to size. Its path in path. */
static void temp_file(char *path, const void *buf, size_t len, uint64_t size)
{
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, len), (ssize_t)len);
	assert_int_equal(ftruncate(fd, (off_t)size), 0);
	close(fd);
}

static void test_sparse_binary(void **state)
{
	char path[] = "/tmp/cw-limits-XXXXXX", err[256] = "";
	uint8_t head[sizeof(Elf64_Ehdr) + sizeof(Elf64_Phdr)];
	struct elf_symtab tab;
	struct go_pclntab t;
	uint64_t addrs[4];
	struct cost c;

	(void)state;
	elf_head(head, SPARSE_SIZE, 0, 0);
	temp_file(path, head, sizeof(head), SPARSE_SIZE);
	cost_start(&c);
	assert_false(elf_is_elf(path, err, sizeof(err)));
	assert_contains(err, "2048 MiB, larger than connwatch reads (1024 MiB)");
	assert_int_equal(elf_symtab_load(&tab, path, err, sizeof(err)), -1);
	assert_contains(err, "larger than connwatch reads");
	assert_int_equal(go_pclntab_load(&t, path, err, sizeof(err)), -1);
	assert_contains(err, "larger than connwatch reads");
	assert_int_equal(dwarf_inlined_copies(path, "f", addrs, 4), -1);
	cost_check(&c, "2 GiB sparse ELF file");
	unlink(path);
}

/* A Go 1.20 pcHeader claiming nfunc functions, in a .gopclntab. */
struct pclntab_file {
	uint8_t head[sizeof(Elf64_Ehdr) + sizeof(Elf64_Phdr)];
	uint8_t pcln[128];
	char shstrtab[32];
	Elf64_Shdr sh[3];
};

static void build_pclntab(struct pclntab_file *f, uint64_t nfunc)
{
	static const char names[] = "\0.gopclntab\0.shstrtab";
	uint64_t words[8] = { nfunc, 1, 0x401000, 72, 72, 72, 72, 72 };
	uint32_t magic = 0xfffffff1;	/* Go 1.20+ */

	memset(f, 0, sizeof(*f));
	elf_head(f->head, sizeof(*f), 3, offsetof(struct pclntab_file, sh));
	memcpy(f->pcln, &magic, 4);
	f->pcln[6] = 1;		/* pc quantum */
	f->pcln[7] = 8;		/* pointer size */
	memcpy(f->pcln + 8, words, sizeof(words));
	memcpy(f->shstrtab, names, sizeof(names));
	f->sh[1] = (Elf64_Shdr){
		.sh_name = 1, .sh_type = SHT_PROGBITS, .sh_flags = SHF_ALLOC,
		.sh_addr = 0x400000 + offsetof(struct pclntab_file, pcln),
		.sh_offset = offsetof(struct pclntab_file, pcln),
		.sh_size = sizeof(f->pcln),
	};
	f->sh[2] = (Elf64_Shdr){
		.sh_name = 12, .sh_type = SHT_STRTAB,
		.sh_offset = offsetof(struct pclntab_file, shstrtab),
		.sh_size = sizeof(names),
	};
}

static void test_billion_functions(void **state)
{
	char path[] = "/tmp/cw-limits-XXXXXX", err[256] = "";
	static struct pclntab_file f;
	struct go_pclntab t;
	struct cost c;

	(void)state;
	build_pclntab(&f, 1000000000);
	temp_file(path, &f, sizeof(f), sizeof(f));
	cost_start(&c);
	assert_int_equal(go_pclntab_load(&t, path, err, sizeof(err)), -1);
	assert_contains(err, "corrupt pclntab: bad function count");
	assert_int_equal(t.nr, 0);
	cost_check(&c, "a pclntab of 10^9 functions");
	go_pclntab_free(&t);
	unlink(path);
}

/*
 * A Go 1.18 pcHeader of 3 functions at off in b, with no section naming
 * it: what the scan reads in full (the first and the last function check
 * out) and then refuses (the second's _func is out of range).
 */
#define CANDIDATE_SIZE	128
static void put_candidate(uint8_t *b, size_t off)
{
	uint64_t words[8] = { 3, 0, 0x401000, 72, 76, 76, 76, 80 };
	/* functab: entry, _func offset per function, then the end */
	uint32_t functab[7] = { 0, 28, 0x10, 0x7fffffff, 0x20, 36, 0x30 };
	/* _func records: entry, name offset ("f") */
	uint32_t funcs[4] = { 0, 0, 0x20, 0 };
	uint32_t magic = 0xfffffff0;
	uint8_t *p = b + off;

	memcpy(p, &magic, 4);
	p[6] = 1;		/* pc quantum */
	p[7] = 8;		/* pointer size */
	memcpy(p + 8, words, sizeof(words));
	p[72] = 'f';
	memcpy(p + 80, functab, sizeof(functab));
	memcpy(p + 108, funcs, sizeof(funcs));
}

/* A file of n such candidates: refused, and why. */
static void expect_candidates(int n, const char *why)
{
	size_t size = sizeof(Elf64_Ehdr) + sizeof(Elf64_Phdr) +
		      (size_t)n * CANDIDATE_SIZE;
	char path[] = "/tmp/cw-limits-XXXXXX", err[256] = "";
	uint8_t *b = calloc(1, size);
	struct go_pclntab t;
	int i;

	assert_non_null(b);
	elf_head(b, size, 0, 0);
	for (i = 0; i < n; i++)
		put_candidate(b, size - (size_t)(n - i) * CANDIDATE_SIZE);
	temp_file(path, b, size, size);
	free(b);
	assert_int_equal(go_pclntab_load(&t, path, err, sizeof(err)), -1);
	assert_contains(err, why);
	go_pclntab_free(&t);
	unlink(path);
}

/* Each candidate costs a full read: past the cap the scan gives up. */
static void test_scan_candidates(void **state)
{
	char why[128];

	(void)state;
	expect_candidates(GO_PCLNTAB_SCAN_MAX_CANDIDATES, "not a Go binary");
	snprintf(why, sizeof(why), "no valid pclntab among the first %d "
		 "candidates the scan found", GO_PCLNTAB_SCAN_MAX_CANDIDATES);
	expect_candidates(GO_PCLNTAB_SCAN_MAX_CANDIDATES + 1, why);
}

static void expect_too_large(const char *path)
{
	char err[512] = "";
	struct spec spec;
	struct cost c;

	cost_start(&c);
	assert_int_equal(spec_parse_file(&spec, path, err, sizeof(err)), -1);
	assert_contains(err, "larger than 1 MiB");
	cost_check(&c, path);
}

static void test_endless_spec(void **state)
{
	char path[] = "/tmp/cw-limits-XXXXXX";

	(void)state;
	temp_file(path, "target: x\n", 10, SPARSE_SIZE);
	expect_too_large(path);
	expect_too_large("/dev/zero");
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sparse_binary),
		cmocka_unit_test(test_billion_functions),
		cmocka_unit_test(test_scan_candidates),
		cmocka_unit_test(test_endless_spec),
	};

	return cmocka_run_group_tests_name("limits", tests, NULL, NULL);
}
