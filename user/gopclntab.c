// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Go's function table (pclntab) and version (.go.buildinfo), read with
 * libelf from the file itself: a stripped Go binary has no .symtab, but
 * the runtime needs the pclntab for stack traces, so it is always there.
 *
 * Layout facts (Go's runtime/symtab.go, debug/gosym, debug/buildinfo):
 * pcHeader { u32 magic; u8 0, 0, minLC, ptrSize; then ptrSize words:
 * nfunc, nfiles, [textStart, 1.18+], funcnameOffset, cuOffset,
 * filetabOffset, pctabOffset, pclnOffset }, offsets from the header.
 * At pclnOffset: the functab, nfunc (entry, funcoff) pairs and a last
 * entry, the end of the text; the _func records at pclnOffset + funcoff
 * start { entry, int32 nameOff } (nameOff into funcnametab).
 * Entries are u32 offsets from textStart since 1.18, addresses before.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "elf_symbols.h"
#include "gopclntab.h"
#include "gopclntab_file.h"
#include "grow.h"

#define GO116_MAGIC	0xfffffffaU
#define GO118_MAGIC	0xfffffff0U
#define GO120_MAGIC	0xfffffff1U
#define GO12_MAGIC	0xfffffffbU	/* Go 1.2 to 1.15: not supported */

/* Far above any real binary (prometheus: 63k); bounds garbage's calloc. */
#define MAX_FUNCS	(1U << 24)

static const char buildinfo_magic[] = "\xff Go buildinf:";
#define BUILDINFO_MAGIC_LEN	14
#define BUILDINFO_HDR		32
/* debug/buildinfo reads this much when no section names the blob. */
#define BUILDINFO_SCAN		(64 * 1024)

const uint8_t *img_span(const struct image *im, uint64_t vaddr,
			uint64_t *avail)
{
	size_t i;

	for (i = 0; i < im->nr_segs; i++) {
		const struct seg *s = &im->segs[i];

		if (vaddr < s->vaddr || vaddr - s->vaddr >= s->filesz)
			continue;
		*avail = s->filesz - (vaddr - s->vaddr);
		return im->raw + s->offset + (vaddr - s->vaddr);
	}
	*avail = 0;
	return NULL;
}

const uint8_t *img_at(const struct image *im, uint64_t vaddr, uint64_t len)
{
	uint64_t avail;
	const uint8_t *p = img_span(im, vaddr, &avail);

	return p && avail >= len ? p : NULL;
}

static int reloc_cmp(const void *a, const void *b)
{
	const struct reloc *x = a, *y = b;

	if (x->where != y->where)
		return x->where < y->where ? -1 : 1;
	return 0;
}

static unsigned int relative_type(const GElf_Ehdr *eh)
{
	switch (eh->e_machine) {
	case EM_X86_64:
		return R_X86_64_RELATIVE;
	case EM_AARCH64:
		return R_AARCH64_RELATIVE;
	}
	return 0;
}

static int push_reloc(struct image *im, size_t *cap, uint64_t where,
		      uint64_t value)
{
	if (GROW_ROOM(im->relocs, im->nr_relocs, *cap, 1024))
		return -1;
	im->relocs[im->nr_relocs++] = (struct reloc){ where, value };
	return 0;
}

/* Every R_*_RELATIVE of the SHT_RELA sections, sorted by place. */
static void read_relocs(struct image *im)
{
	unsigned int type = relative_type(&im->eh);
	Elf_Scn *scn = NULL;
	size_t cap = 0;
	GElf_Shdr sh;

	im->relocs_read = 1;
	while (type && (scn = elf_nextscn(im->elf, scn))) {
		Elf_Data *data;
		size_t i, n;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_RELA ||
		    !sh.sh_entsize)
			continue;
		data = elf_getdata(scn, NULL);
		n = data ? sh.sh_size / sh.sh_entsize : 0;
		for (i = 0; i < n; i++) {
			GElf_Rela r;

			if (!gelf_getrela(data, i, &r) ||
			    GELF_R_TYPE(r.r_info) != type)
				continue;
			if (push_reloc(im, &cap, r.r_offset, r.r_addend))
				return;	/* no memory: lookups give 0 */
		}
	}
	if (im->nr_relocs)	/* else relocs is NULL, which qsort may not take */
		qsort(im->relocs, im->nr_relocs, sizeof(*im->relocs), reloc_cmp);
}

/*
 * A pointer stored at vaddr (bytes p). In a PIE the linker may leave the
 * word 0 and put the value in a RELATIVE relocation's addend (lld does by
 * default), so a 0 there is looked up before it is believed.
 */
uint64_t img_addr(struct image *im, uint64_t vaddr, const uint8_t *p,
		  unsigned int ptrsz)
{
	struct reloc key = { .where = vaddr }, *r;
	uint64_t v = le_word(p, ptrsz);
	size_t n;

	if (v || im->eh.e_type != ET_DYN)
		return v;
	img_relocs(im, &n);
	r = n ? bsearch(&key, im->relocs, n, sizeof(*r), reloc_cmp) : NULL;
	return r ? r->value : 0;
}

const struct reloc *img_relocs(struct image *im, size_t *nr)
{
	if (!im->relocs_read)
		read_relocs(im);
	*nr = im->nr_relocs;
	return im->relocs;
}

static uint64_t pcln_word(const struct pcln *pc, unsigned int i)
{
	return le_word(pc->p + 8 + i * pc->ptrsz, pc->ptrsz);
}

static unsigned int magic_layout(uint32_t magic)
{
	switch (magic) {
	case GO116_MAGIC:
		return 116;
	case GO118_MAGIC:
		return 118;
	case GO120_MAGIC:
		return 120;
	}
	return 0;
}

/* Header words after the 8 fixed bytes: 1.18 added textStart. */
static unsigned int header_words(unsigned int layout)
{
	return layout == 116 ? 7 : 8;
}

/*
 * The table offsets are laid out in this order by every linker since
 * 1.16; requiring it only where a header is guessed at (the scan) keeps
 * a future reordering from breaking binaries whose section is named.
 */
static int offsets_ordered(const struct pcln *pc)
{
	unsigned int first = pc->layout == 116 ? 2 : 3, i;
	uint64_t prev = 8 + header_words(pc->layout) * pc->ptrsz;

	for (i = first; i < first + 5; i++) {
		uint64_t off = pcln_word(pc, i);

		if (off < prev)
			return 0;
		prev = off;
	}
	return 1;
}

/* The cheap checks of the first 8 bytes, which the scan runs everywhere. */
static int header_plausible(const uint8_t *p)
{
	return magic_layout(le32(p)) && !p[4] && !p[5] &&
	       (p[6] == 1 || p[6] == 2 || p[6] == 4) &&
	       (p[7] == 4 || p[7] == 8);
}

static int pcln_header(struct image *im, const uint8_t *p, uint64_t len,
		       uint64_t vaddr, int strict, struct pcln *pc,
		       const char **why)
{
	uint64_t hdr, room;

	memset(pc, 0, sizeof(*pc));
	*why = "bad pcHeader";
	if (len < 16 || !header_plausible(p))
		return -1;
	pc->p = p;
	pc->len = len;
	pc->vaddr = vaddr;
	pc->layout = magic_layout(le32(p));
	pc->quantum = p[6];
	pc->ptrsz = p[7];
	pc->fieldsz = pc->layout == 116 ? pc->ptrsz : 4;
	hdr = 8 + header_words(pc->layout) * pc->ptrsz;
	*why = "truncated pcHeader";
	if (len < hdr)
		return -1;
	*why = "pcHeader offsets out of order";
	if (strict && !offsets_ordered(pc))
		return -1;
	pc->nfunc = pcln_word(pc, 0);
	pc->funcname = pcln_word(pc, pc->layout == 116 ? 2 : 3);
	pc->pctab = pcln_word(pc, header_words(pc->layout) - 2);
	pc->functab = pcln_word(pc, header_words(pc->layout) - 1);
	*why = "pcHeader offsets out of range";
	if (pc->funcname < hdr || pc->funcname >= len ||
	    pc->functab < hdr || pc->functab >= len)
		return -1;
	/* 2 * nfunc + 1 fields must fit: bounds every functab read. */
	room = (len - pc->functab) / pc->fieldsz;
	*why = "bad function count";
	if (!pc->nfunc || pc->nfunc > MAX_FUNCS || 2 * pc->nfunc + 1 > room)
		return -1;
	if (pc->layout == 116)
		return 0;
	pc->text = img_addr(im, vaddr + 8 + 2 * pc->ptrsz,
			    p + 8 + 2 * pc->ptrsz, pc->ptrsz);
	*why = "no textStart";
	return pc->text ? 0 : -1;
}

/* Entry i of the functab (i == nfunc: the end of the last function). */
static uint64_t functab_entry(struct image *im, const struct pcln *pc,
			      uint64_t i)
{
	uint64_t off = pc->functab + 2 * i * pc->fieldsz;

	if (pc->layout != 116)
		return pc->text + le32(pc->p + off);
	return img_addr(im, pc->vaddr + off, pc->p + off, pc->ptrsz);
}

/* The _func record's own entry, which must agree with the functab's. */
static uint64_t func_entry(struct image *im, const struct pcln *pc,
			   uint64_t off)
{
	if (pc->layout != 116)
		return pc->text + le32(pc->p + off);
	return img_addr(im, pc->vaddr + off, pc->p + off, pc->ptrsz);
}

/*
 * Function i: [entry, end) and its name, pointing into the mapped file
 * for now. Every offset is checked, as a scan feeds this guesses.
 */
static int pcln_func(struct image *im, const struct pcln *pc, uint64_t i,
		     struct go_func *f, size_t *namelen, const char **why)
{
	uint64_t funcoff, rec, name, max;
	int32_t nameoff;

	f->entry = functab_entry(im, pc, i);
	f->end = functab_entry(im, pc, i + 1);
	*why = "functab not sorted";
	if (f->end < f->entry)
		return -1;
	funcoff = le_word(pc->p + pc->functab + (2 * i + 1) * pc->fieldsz,
			  pc->fieldsz);
	rec = pc->functab + funcoff;
	*why = "_func out of range";
	if (funcoff >= pc->len || rec > pc->len - pc->fieldsz - 4)
		return -1;
	*why = "_func entry differs from functab";
	if (func_entry(im, pc, rec) != f->entry)
		return -1;
	nameoff = (int32_t)le32(pc->p + rec + pc->fieldsz);
	name = pc->funcname + (uint64_t)nameoff;
	*why = "function name out of range";
	if (nameoff < 0 || name >= pc->len)
		return -1;
	max = pc->len - name;
	*namelen = strnlen((const char *)pc->p + name, max);
	if (*namelen == max)
		return -1;
	f->name = (const char *)pc->p + name;
	return 0;
}

/* By name, then entry: so the first of a name is its lowest entry. */
static int name_cmp(const void *a, const void *b)
{
	const struct go_func *const *x = a, *const *y = b;
	int c = strcmp((*x)->name, (*y)->name);

	if (c)
		return c;
	if ((*x)->entry != (*y)->entry)
		return (*x)->entry < (*y)->entry ? -1 : 1;
	return 0;
}

/* Moves the names out of the mapped file into one block. */
static int copy_names(struct go_pclntab *t, size_t total)
{
	char *dst;
	size_t i;

	t->names = malloc(total ? total : 1);
	if (!t->names)
		return -1;
	dst = t->names;
	for (i = 0; i < t->nr; i++) {
		size_t n = strlen(t->funcs[i].name) + 1;

		memcpy(dst, t->funcs[i].name, n);
		t->funcs[i].name = dst;
		dst += n;
	}
	return 0;
}

/* Sorted once so that by_name is a binary search, not 50k strcmp. */
static int index_names(struct go_pclntab *t)
{
	size_t i;

	t->by_name = malloc((t->nr ? t->nr : 1) * sizeof(*t->by_name));
	if (!t->by_name)
		return -1;
	for (i = 0; i < t->nr; i++)
		t->by_name[i] = &t->funcs[i];
	qsort(t->by_name, t->nr, sizeof(*t->by_name), name_cmp);
	return 0;
}

static int pcln_read(struct image *im, const struct pcln *pc,
		     struct go_pclntab *t, const char **why)
{
	size_t total = 0, n;
	uint64_t i;

	t->funcs = calloc(pc->nfunc, sizeof(*t->funcs));
	*why = "out of memory";
	if (!t->funcs)
		return -1;
	for (i = 0; i < pc->nfunc; i++) {
		if (pcln_func(im, pc, i, &t->funcs[i], &n, why))
			return -1;
		total += n + 1;
	}
	t->nr = pc->nfunc;
	t->layout = pc->layout;
	*why = "out of memory";
	if (copy_names(t, total) || index_names(t))
		return -1;
	return 0;
}

static void reset(struct go_pclntab *t)
{
	free(t->funcs);
	free(t->names);
	free(t->by_name);
	t->funcs = NULL;
	t->names = NULL;
	t->by_name = NULL;
	t->nr = 0;
	t->layout = 0;
}

/* ".gopclntab", or ".data.rel.ro.gopclntab" in a PIE linked by Go. */
static Elf_Scn *find_section(struct image *im, const char *suffix)
{
	size_t shstrndx, slen = strlen(suffix);
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;

	if (elf_getshdrstrndx(im->elf, &shstrndx))
		return NULL;
	while ((scn = elf_nextscn(im->elf, scn))) {
		const char *name;
		size_t n;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_PROGBITS)
			continue;
		name = elf_strptr(im->elf, shstrndx, sh.sh_name);
		n = name ? strlen(name) : 0;
		if (n >= slen && !strcmp(name + n - slen, suffix))
			return scn;
	}
	return NULL;
}

static int load_named(struct image *im, Elf_Scn *scn, struct go_pclntab *t,
		      struct pcln *pc, char *err, size_t errlen)
{
	const char *why = "section outside the file";
	const uint8_t *p;
	GElf_Shdr sh;

	if (!gelf_getshdr(scn, &sh) || sh.sh_offset > im->size ||
	    sh.sh_size > im->size - sh.sh_offset)
		goto bad;
	p = im->raw + sh.sh_offset;
	if (sh.sh_size >= 4 && le32(p) == GO12_MAGIC) {
		snprintf(err, errlen, "%s: Go before 1.16 is not supported",
			 im->path);
		return -1;
	}
	if (pcln_header(im, p, sh.sh_size, sh.sh_addr, 0, pc, &why) ||
	    pcln_read(im, pc, t, &why))
		goto bad;
	return 0;
bad:
	snprintf(err, errlen, "%s: corrupt pclntab: %s", im->path, why);
	return -1;
}

/* A guess's first and last function, before allocating for them all. */
static int pcln_ends_ok(struct image *im, const struct pcln *pc)
{
	struct go_func f;
	const char *why;
	size_t n;

	return !pcln_func(im, pc, 0, &f, &n, &why) &&
	       !pcln_func(im, pc, pc->nfunc - 1, &f, &n, &why);
}

/*
 * No section names the table (an external linker merged it into
 * .data.rel.ro): look for a pcHeader in every loaded byte. A guess is
 * kept only when every function in it checks out. Each guess that gets
 * that far costs a read of up to MAX_FUNCS functions: a real binary has
 * one, a crafted one could hold a guess every 4 bytes: after
 * GO_PCLNTAB_SCAN_MAX_CANDIDATES the scan gives up.
 * 0, 1 (gave up) or -1 (none).
 */
static int load_scanned(struct image *im, struct go_pclntab *t,
			struct pcln *pc)
{
	const char *why;
	int tried = 0;
	size_t i;

	for (i = 0; i < im->nr_segs; i++) {
		const struct seg *s = &im->segs[i];
		const uint8_t *base = im->raw + s->offset;
		uint64_t off;

		for (off = (4 - s->vaddr % 4) % 4; off + 16 <= s->filesz;
		     off += 4) {
			if (!header_plausible(base + off))
				continue;
			if (pcln_header(im, base + off, s->filesz - off,
					s->vaddr + off, 1, pc, &why) ||
			    !pcln_ends_ok(im, pc))
				continue;
			if (tried++ == GO_PCLNTAB_SCAN_MAX_CANDIDATES)
				return 1;
			if (!pcln_read(im, pc, t, &why))
				return 0;
			reset(t);
		}
	}
	return -1;
}

static size_t uvarint(const uint8_t *p, uint64_t avail, uint64_t *v)
{
	unsigned int shift = 0;
	size_t i;

	*v = 0;
	for (i = 0; i < avail && i < 10; i++, shift += 7) {
		*v |= (uint64_t)(p[i] & 0x7f) << shift;
		if (!(p[i] & 0x80))
			return i + 1;
	}
	return 0;
}

static void set_version(struct go_pclntab *t, const uint8_t *s, uint64_t n)
{
	if (n >= sizeof(t->version))
		n = sizeof(t->version) - 1;
	memcpy(t->version, s, n);
	t->version[n] = '\0';
}

/* Go 1.18+: the strings follow the 32-byte header, varint-prefixed. */
static void version_inline(struct go_pclntab *t, const uint8_t *b,
			   uint64_t avail)
{
	uint64_t n;
	size_t used = uvarint(b + BUILDINFO_HDR, avail - BUILDINFO_HDR, &n);

	if (used && n <= avail - BUILDINFO_HDR - used)
		set_version(t, b + BUILDINFO_HDR + used, n);
}

/* Before 1.18: a pointer to runtime.buildVersion, a Go string header. */
static void version_pointer(struct image *im, struct go_pclntab *t,
			    const uint8_t *b, uint64_t vaddr)
{
	unsigned int ptrsz = b[14];
	const uint8_t *hdr, *s;
	uint64_t at, ptr, n;

	if ((ptrsz != 4 && ptrsz != 8) || (b[15] & 1))	/* big-endian */
		return;
	at = img_addr(im, vaddr + 16, b + 16, ptrsz);
	hdr = img_at(im, at, 2 * ptrsz);
	if (!hdr)
		return;
	ptr = img_addr(im, at, hdr, ptrsz);
	n = le_word(hdr + ptrsz, ptrsz);
	s = img_at(im, ptr, n);
	if (s)
		set_version(t, s, n);
}

/* Where debug/buildinfo looks: the section, else the first data segment. */
static uint64_t buildinfo_start(struct image *im)
{
	Elf_Scn *scn = find_section(im, ".go.buildinfo");
	GElf_Shdr sh;
	size_t i, n;

	if (scn && gelf_getshdr(scn, &sh))
		return sh.sh_addr;
	if (elf_getphdrnum(im->elf, &n))
		return 0;
	for (i = 0; i < n; i++) {
		GElf_Phdr ph;

		if (gelf_getphdr(im->elf, i, &ph) && ph.p_type == PT_LOAD &&
		    (ph.p_flags & (PF_X | PF_W)) == PF_W)
			return ph.p_vaddr;
	}
	return 0;
}

/* No build info is no error: the version just stays "". */
static void read_version(struct image *im, struct go_pclntab *t)
{
	uint64_t vaddr = buildinfo_start(im), avail, off;
	const uint8_t *p = vaddr ? img_span(im, vaddr, &avail) : NULL;

	if (!p)
		return;
	if (avail > BUILDINFO_SCAN)
		avail = BUILDINFO_SCAN;
	for (off = 0; off + BUILDINFO_HDR <= avail; off += 16) {
		const uint8_t *b = p + off;

		if (memcmp(b, buildinfo_magic, BUILDINFO_MAGIC_LEN))
			continue;
		if (b[15] & 2)
			version_inline(t, b, avail - off);
		else
			version_pointer(im, t, b, vaddr + off);
		return;
	}
}

static int read_segments(struct image *im)
{
	size_t i, n;

	if (elf_getphdrnum(im->elf, &n))
		return -1;
	im->segs = calloc(n ? n : 1, sizeof(*im->segs));
	if (!im->segs)
		return -1;
	for (i = 0; i < n; i++) {
		GElf_Phdr ph;

		if (!gelf_getphdr(im->elf, i, &ph) || ph.p_type != PT_LOAD)
			continue;
		/* A header that points past the end is only trusted so far. */
		if (ph.p_offset > im->size)
			continue;
		if (ph.p_filesz > im->size - ph.p_offset)
			ph.p_filesz = im->size - ph.p_offset;
		im->segs[im->nr_segs++] = (struct seg){
			.vaddr = ph.p_vaddr, .offset = ph.p_offset,
			.filesz = ph.p_filesz, .flags = ph.p_flags,
		};
	}
	return 0;
}

/*
 * The whole file, mapped read-only: the file's own pages, which
 * img_release() may drop at any time. libelf reads it in place.
 */
static int img_map(struct image *im, char *err, size_t errlen)
{
	uint64_t size;
	int fd = binary_open(im->path, &size, err, errlen);
	void *map;

	if (fd < 0)
		return -1;
	if (!size) {
		snprintf(err, errlen, "%s: not an ELF file", im->path);
		goto out;
	}
	map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (map == MAP_FAILED) {
		snprintf(err, errlen, "%s: cannot map it: %s", im->path,
			 strerror(errno));
		goto out;
	}
	im->raw = map;
	im->size = size;
out:
	close(fd);
	return im->raw ? 0 : -1;
}

static int img_open(struct image *im, const char *path, char *err,
		    size_t errlen)
{
	memset(im, 0, sizeof(*im));
	im->path = path;
	if (elf_version(EV_CURRENT) == EV_NONE) {
		snprintf(err, errlen, "libelf: %s", elf_errmsg(-1));
		return -1;
	}
	if (img_map(im, err, errlen))
		return -1;
	/* Read only: like elf_begin(ELF_C_READ_MMAP), which maps PROT_READ. */
	im->elf = elf_memory((char *)im->raw, im->size);
	if (!im->elf || elf_kind(im->elf) != ELF_K_ELF ||
	    !gelf_getehdr(im->elf, &im->eh)) {
		snprintf(err, errlen, "%s: not an ELF file", path);
		return -1;
	}
	if (im->eh.e_ident[EI_CLASS] != ELFCLASS64 ||
	    im->eh.e_ident[EI_DATA] != ELFDATA2LSB) {
		snprintf(err, errlen, "%s: only 64-bit little-endian ELF is supported",
			 path);
		return -1;
	}
	if (read_segments(im)) {
		snprintf(err, errlen, "%s: cannot read the ELF file", path);
		return -1;
	}
	return 0;
}

static void img_close(struct image *im)
{
	if (im->elf)
		elf_end(im->elf);
	if (im->raw)
		munmap((void *)im->raw, im->size);
	free(im->segs);
	free(im->relocs);
}

/*
 * A table is held for a whole attach: between reads, the pages it
 * touched go back to the page cache instead of counting in our RSS
 * (10 MB for prometheus). Read-only and file-backed, they fault back
 * in unchanged.
 */
void img_release(const struct image *im)
{
	madvise((void *)im->raw, im->size, MADV_DONTNEED);
}

static void file_close(struct go_pclntab_file *f)
{
	if (!f)
		return;
	img_close(&f->im);
	free(f->path);
	free(f);
}

/*
 * The table keeps its file mapped until go_pclntab_free(): the inline
 * tree is read from it on demand, long after the load.
 */
static struct go_pclntab_file *file_open(const char *path, char *err,
					  size_t errlen)
{
	struct go_pclntab_file *f = calloc(1, sizeof(*f));

	if (f)
		f->path = strdup(path);
	if (!f || !f->path) {
		snprintf(err, errlen, "%s: out of memory", path);
		file_close(f);
		return NULL;
	}
	if (img_open(&f->im, f->path, err, errlen)) {
		file_close(f);
		return NULL;
	}
	return f;
}

int go_pclntab_load(struct go_pclntab *t, const char *path,
		    char *err, size_t errlen)
{
	struct go_pclntab_file *f;
	Elf_Scn *scn;
	int scanned;

	memset(t, 0, sizeof(*t));
	f = file_open(path, err, errlen);
	if (!f)
		return -1;
	t->file = f;
	scn = find_section(&f->im, ".gopclntab");
	if (scn) {
		if (load_named(&f->im, scn, t, &f->pc, err, errlen))
			goto fail;
	} else if ((scanned = load_scanned(&f->im, t, &f->pc)) > 0) {
		snprintf(err, errlen, "%s: no valid pclntab among the first %d "
			 "candidates the scan found (the limit: a crafted file "
			 "can hold millions)", path,
			 GO_PCLNTAB_SCAN_MAX_CANDIDATES);
		goto fail;
	} else if (scanned) {
		snprintf(err, errlen, "%s: not a Go binary (no Go 1.16+ pclntab)",
			 path);
		goto fail;
	}
	read_version(&f->im, t);
	img_release(&f->im);
	return 0;
fail:
	go_pclntab_free(t);
	return -1;
}

void go_pclntab_free(struct go_pclntab *t)
{
	reset(t);
	file_close(t->file);
	memset(t, 0, sizeof(*t));
}

/* Index in by_name of the first function not before name. */
static size_t lower_bound(const struct go_pclntab *t, const char *name)
{
	size_t lo = 0, hi = t->nr;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (strcmp(t->by_name[mid]->name, name) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

struct go_func *const *go_funcs_by_name(const struct go_pclntab *t,
					const char *name, size_t *nr)
{
	size_t first = lower_bound(t, name), i = first;

	while (i < t->nr && !strcmp(t->by_name[i]->name, name))
		i++;
	*nr = i - first;
	return *nr ? &t->by_name[first] : NULL;
}

const struct go_func *go_func_by_name(const struct go_pclntab *t,
				      const char *name)
{
	size_t i = lower_bound(t, name);

	if (i < t->nr && !strcmp(t->by_name[i]->name, name))
		return t->by_name[i];
	return NULL;
}

const struct go_func *go_func_by_addr(const struct go_pclntab *t,
				      uint64_t addr)
{
	size_t lo = 0, hi = t->nr;
	const struct go_func *f;

	while (lo < hi) {	/* first function starting above addr */
		size_t mid = lo + (hi - lo) / 2;

		if (t->funcs[mid].entry <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo)
		return NULL;
	f = &t->funcs[lo - 1];
	return addr < f->end ? f : NULL;
}

int go_string_at(const struct go_pclntab *t, uint64_t vaddr, char *out,
		 size_t outlen)
{
	struct image *im;
	const uint8_t *hdr, *bytes;
	uint64_t ptr, len;
	int ret = -1;

	if (!t->file || !outlen)
		return -1;
	im = &t->file->im;
	hdr = img_at(im, vaddr, 16);
	if (!hdr)
		goto out;
	ptr = img_addr(im, vaddr, hdr, 8);
	len = le64(hdr + 8);
	if (len >= outlen)
		goto out;
	bytes = img_at(im, ptr, len);
	if (!bytes)
		goto out;
	memcpy(out, bytes, len);
	out[len] = '\0';
	ret = (int)len;
out:
	img_release(im);
	return ret;
}
