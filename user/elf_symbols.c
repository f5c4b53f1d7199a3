// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Function symbols and load segments of an ELF file, read with libelf. */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "elf_symbols.h"
#include "grow.h"

int binary_open(const char *path, uint64_t *size, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;

	if (fd < 0 || fstat(fd, &st)) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		goto fail;
	}
	if ((uint64_t)st.st_size > CW_MAX_BINARY) {
		snprintf(err, errlen, "%s: %llu MiB, larger than connwatch reads "
			 "(%llu MiB)", path,
			 (unsigned long long)st.st_size >> 20, CW_MAX_BINARY >> 20);
		goto fail;
	}
	if (size)
		*size = st.st_size;
	return fd;
fail:
	if (fd >= 0)
		close(fd);
	return -1;
}

static Elf *elf_open(const char *path, int *fd, char *err, size_t errlen)
{
	Elf *elf;

	if (elf_version(EV_CURRENT) == EV_NONE) {
		snprintf(err, errlen, "libelf: %s", elf_errmsg(-1));
		return NULL;
	}
	*fd = binary_open(path, NULL, err, errlen);
	if (*fd < 0)
		return NULL;
	elf = elf_begin(*fd, ELF_C_READ_MMAP, NULL);
	if (!elf || elf_kind(elf) != ELF_K_ELF) {
		snprintf(err, errlen, "%s: not an ELF file", path);
		if (elf)
			elf_end(elf);
		close(*fd);
		return NULL;
	}
	return elf;
}

int elf_is_elf(const char *path, char *err, size_t errlen)
{
	int fd;
	Elf *elf = elf_open(path, &fd, err, errlen);

	if (!elf)
		return 0;
	elf_end(elf);
	close(fd);
	return 1;
}

int elf_is_dynamic(const char *path, char *err, size_t errlen)
{
	size_t i, n;
	int fd, ret = 0;
	Elf *elf = elf_open(path, &fd, err, errlen);

	if (!elf)
		return -1;
	if (elf_getphdrnum(elf, &n)) {
		snprintf(err, errlen, "%s: no program headers", path);
		ret = -1;
		n = 0;
	}
	for (i = 0; i < n; i++) {
		GElf_Phdr ph;

		if (gelf_getphdr(elf, i, &ph) && ph.p_type == PT_INTERP)
			ret = 1;
	}
	elf_end(elf);
	close(fd);
	return ret;
}

int elf_is_go(const char *path, char *err, size_t errlen)
{
	static const char *const go_sections[] = {
		".note.go.buildid", ".go.buildinfo", ".gopclntab",
	};
	Elf_Scn *scn = NULL;
	size_t shstrndx, i;
	int fd, ret = 0;
	Elf *elf = elf_open(path, &fd, err, errlen);

	if (!elf)
		return -1;
	if (elf_getshdrstrndx(elf, &shstrndx))
		goto out;	/* no section names: nothing says Go */
	while (!ret && (scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		const char *name;

		if (!gelf_getshdr(scn, &sh) ||
		    !(name = elf_strptr(elf, shstrndx, sh.sh_name)))
			continue;
		for (i = 0; i < sizeof(go_sections) / sizeof(go_sections[0]); i++)
			ret |= !strcmp(name, go_sections[i]);
	}
out:
	elf_end(elf);
	close(fd);
	return ret;
}

static int push_sym(struct elf_symtab *tab, size_t *cap, const char *name,
		    uint64_t addr, uint64_t size)
{
	if (GROW_ROOM(tab->syms, tab->nr_syms, *cap, 256))
		return -1;
	tab->syms[tab->nr_syms].name = strdup(name);
	if (!tab->syms[tab->nr_syms].name)
		return -1;
	tab->syms[tab->nr_syms].addr = addr;
	tab->syms[tab->nr_syms].size = size;
	tab->nr_syms++;
	return 0;
}

static int read_symbols(Elf *elf, struct elf_symtab *tab)
{
	Elf_Scn *scn = NULL;
	size_t cap = 0;
	GElf_Shdr sh;

	while ((scn = elf_nextscn(elf, scn))) {
		Elf_Data *data;
		size_t i, n;

		if (!gelf_getshdr(scn, &sh) || !sh.sh_entsize ||
		    (sh.sh_type != SHT_SYMTAB && sh.sh_type != SHT_DYNSYM))
			continue;
		data = elf_getdata(scn, NULL);
		if (!data)
			continue;
		n = sh.sh_size / sh.sh_entsize;
		for (i = 0; i < n; i++) {
			GElf_Sym sym;
			const char *name;

			if (!gelf_getsym(data, i, &sym) ||
			    GELF_ST_TYPE(sym.st_info) != STT_FUNC ||
			    sym.st_shndx == SHN_UNDEF || !sym.st_value)
				continue;
			/* Ending past the address space, it holds nothing. */
			if (sym.st_value + sym.st_size < sym.st_value)
				continue;
			name = elf_strptr(elf, sh.sh_link, sym.st_name);
			if (!name || !*name)
				continue;
			if (push_sym(tab, &cap, name, sym.st_value, sym.st_size))
				return -1;
		}
	}
	return 0;
}

static int read_segments(Elf *elf, struct elf_symtab *tab)
{
	size_t i, n, size;

	if (elf_getphdrnum(elf, &n) || !elf_rawfile(elf, &size))
		return -1;
	tab->segs = calloc(n ? n : 1, sizeof(*tab->segs));
	if (!tab->segs)
		return -1;
	for (i = 0; i < n; i++) {
		GElf_Phdr ph;

		if (!gelf_getphdr(elf, i, &ph) || ph.p_type != PT_LOAD ||
		    !(ph.p_flags & PF_X))
			continue;
		/* No loader maps one past the end of the address space. */
		if (ph.p_vaddr + ph.p_memsz < ph.p_vaddr ||
		    ph.p_vaddr + ph.p_filesz < ph.p_vaddr || ph.p_offset > size)
			continue;
		/* A header that points past the end is only trusted so far. */
		if (ph.p_filesz > size - ph.p_offset)
			ph.p_filesz = size - ph.p_offset;
		tab->segs[tab->nr_segs++] = (struct elf_load_seg){
			.vaddr = ph.p_vaddr, .memsz = ph.p_memsz,
			.offset = ph.p_offset, .filesz = ph.p_filesz,
		};
	}
	return 0;
}

static int by_addr_then_name(const void *a, const void *b)
{
	const struct elf_sym *x = a, *y = b;

	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* .symtab and .dynsym repeat names: keep one symbol per address. */
static void dedup_by_addr(struct elf_symtab *tab)
{
	size_t i, kept = 0;

	if (!tab->nr_syms)
		return;	/* syms is NULL: not even qsort may be given it */
	qsort(tab->syms, tab->nr_syms, sizeof(*tab->syms), by_addr_then_name);
	for (i = 0; i < tab->nr_syms; i++) {
		if (kept && tab->syms[kept - 1].addr == tab->syms[i].addr) {
			free(tab->syms[i].name);
			continue;
		}
		tab->syms[kept++] = tab->syms[i];
	}
	tab->nr_syms = kept;
}

int elf_symtab_load(struct elf_symtab *tab, const char *path,
		    char *err, size_t errlen)
{
	GElf_Ehdr eh;
	Elf *elf;
	int fd, ret = -1;

	memset(tab, 0, sizeof(*tab));
	elf = elf_open(path, &fd, err, errlen);
	if (!elf)
		return -1;
	if (!gelf_getehdr(elf, &eh)) {
		snprintf(err, errlen, "%s: bad ELF header", path);
		goto out;
	}
	tab->is_pie = eh.e_type == ET_DYN;
	tab->path = strdup(path);
	if (!tab->path || read_symbols(elf, tab) || read_segments(elf, tab)) {
		snprintf(err, errlen, "%s: cannot read symbols", path);
		goto out;
	}
	dedup_by_addr(tab);
	ret = 0;
out:
	elf_end(elf);
	close(fd);
	if (ret)
		elf_symtab_free(tab);
	return ret;
}

void elf_symtab_free(struct elf_symtab *tab)
{
	size_t i;

	for (i = 0; i < tab->nr_syms; i++)
		free(tab->syms[i].name);
	free(tab->syms);
	free(tab->segs);
	free(tab->path);
	memset(tab, 0, sizeof(*tab));
}

const struct elf_sym *elf_symtab_by_name(const struct elf_symtab *tab,
					 const char *name)
{
	size_t i;

	for (i = 0; i < tab->nr_syms; i++)
		if (!strcmp(tab->syms[i].name, name))
			return &tab->syms[i];
	return NULL;
}

/* The code segment whose file part holds vaddr, or NULL. */
static const struct elf_load_seg *segment_of(const struct elf_symtab *tab,
					     uint64_t vaddr)
{
	size_t i;

	for (i = 0; i < tab->nr_segs; i++) {
		const struct elf_load_seg *s = &tab->segs[i];

		if (vaddr >= s->vaddr && vaddr < s->vaddr + s->filesz)
			return s;
	}
	return NULL;
}

const struct elf_sym *elf_symtab_by_addr(const struct elf_symtab *tab,
					 uint64_t addr)
{
	size_t lo = 0, hi = tab->nr_syms;
	const struct elf_load_seg *seg;
	const struct elf_sym *s;

	while (lo < hi) {	/* first symbol above addr */
		size_t mid = lo + (hi - lo) / 2;

		if (tab->syms[mid].addr <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo)
		return NULL;
	s = &tab->syms[lo - 1];
	if (s->size)
		return addr < s->addr + s->size ? s : NULL;
	/*
	 * Size 0 (_init, _fini, hand-written asm): up to the next symbol, in
	 * its own code segment. The last one (_fini) would otherwise take
	 * every address above it: a frame of another module, or one that is
	 * in no module at all, as "_fini+0xffffaa18bfd97a94".
	 */
	seg = segment_of(tab, s->addr);
	return seg && seg == segment_of(tab, addr) ? s : NULL;
}

int64_t elf_vaddr_to_offset(const struct elf_symtab *tab, uint64_t vaddr)
{
	const struct elf_load_seg *s = segment_of(tab, vaddr);

	return s ? (int64_t)(vaddr - s->vaddr + s->offset) : -1;
}

uint64_t elf_offset_to_vaddr(const struct elf_symtab *tab, uint64_t off)
{
	size_t i;

	for (i = 0; i < tab->nr_segs; i++) {
		const struct elf_load_seg *s = &tab->segs[i];

		if (off >= s->offset && off < s->offset + s->filesz)
			return off - s->offset + s->vaddr;
	}
	return 0;
}

size_t elf_code_room(const struct elf_symtab *tab, uint64_t vaddr)
{
	const struct elf_load_seg *s = segment_of(tab, vaddr);

	return s ? s->filesz - (vaddr - s->vaddr) : 0;
}

uint8_t *elf_read_code(const struct elf_symtab *tab, uint64_t vaddr,
		       size_t size, char *err, size_t errlen)
{
	const struct elf_load_seg *s = segment_of(tab, vaddr);
	uint8_t *buf;
	ssize_t got;
	int fd;

	if (!s || !size) {
		snprintf(err, errlen, "0x%llx is not in a code segment",
			 (unsigned long long)vaddr);
		return NULL;
	}
	/* Sizes come from the file: believed only as far as it goes. */
	if (size > s->filesz - (vaddr - s->vaddr)) {
		snprintf(err, errlen, "%zu bytes of code at 0x%llx run past "
			 "its segment", size, (unsigned long long)vaddr);
		return NULL;
	}
	if (size > CW_MAX_CODE) {
		snprintf(err, errlen, "a function of %zu KiB at 0x%llx: larger "
			 "than connwatch decodes (%d KiB)", size >> 10,
			 (unsigned long long)vaddr, CW_MAX_CODE >> 10);
		return NULL;
	}
	fd = open(tab->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", tab->path, strerror(errno));
		return NULL;
	}
	buf = malloc(size);
	got = buf ? pread(fd, buf, size, vaddr - s->vaddr + s->offset) : -1;
	close(fd);
	if (got != (ssize_t)size) {
		snprintf(err, errlen, "%s: short read of code at 0x%llx",
			 tab->path, (unsigned long long)vaddr);
		free(buf);
		return NULL;
	}
	return buf;
}
