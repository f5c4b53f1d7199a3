/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Private to gopclntab.c and go_inline.c: the Go binary a go_pclntab
 * keeps mapped after loading, so that the inline tree can be read from
 * it later, and the bounded readers both files use on it.
 */
#ifndef CW_GOPCLNTAB_FILE_H
#define CW_GOPCLNTAB_FILE_H

#include <gelf.h>
#include <libelf.h>
#include <stddef.h>
#include <stdint.h>

struct seg {
	uint64_t vaddr;
	uint64_t offset;
	uint64_t filesz;
	uint32_t flags;		/* PF_R, PF_W, PF_X */
};

struct reloc {
	uint64_t where;
	uint64_t value;
};

/* The mapped file and what locating data in it needs. */
struct image {
	const char *path;
	Elf *elf;
	const uint8_t *raw;
	size_t size;
	GElf_Ehdr eh;
	struct seg *segs;	/* PT_LOAD, file-backed part */
	size_t nr_segs;
	struct reloc *relocs;	/* R_*_RELATIVE, sorted; read on demand */
	size_t nr_relocs;
	int relocs_read;
};

/* One pcHeader and the fields the readers need. */
struct pcln {
	const uint8_t *p;	/* the pcHeader */
	uint64_t len;		/* bytes readable from p */
	uint64_t vaddr;		/* of p */
	unsigned int layout;	/* 116, 118, 120 */
	unsigned int ptrsz;
	unsigned int fieldsz;	/* functab field: 4, ptrsz in 1.16 */
	unsigned int quantum;	/* pc unit of the pc-value tables */
	uint64_t nfunc;
	uint64_t text;		/* textStart (1.18+) */
	uint64_t funcname;	/* funcnametab offset */
	uint64_t pctab;		/* pctab offset, unchecked */
	uint64_t functab;	/* pclnOffset */
};

/* What a loaded go_pclntab keeps: its file, mapped. */
struct go_pclntab_file {
	char *path;		/* im.path points here */
	struct image im;
	struct pcln pc;
};

static inline uint32_t le32(const uint8_t *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t le64(const uint8_t *p)
{
	return le32(p) | (uint64_t)le32(p + 4) << 32;
}

static inline uint64_t le_word(const uint8_t *p, unsigned int size)
{
	return size == 8 ? le64(p) : le32(p);
}

/*
 * The file bytes at vaddr, with *avail set to how many follow in the
 * same segment; NULL when vaddr is not backed by the file.
 */
const uint8_t *img_span(const struct image *im, uint64_t vaddr,
			uint64_t *avail);
/* The len file bytes at vaddr, or NULL when they are not all there. */
const uint8_t *img_at(const struct image *im, uint64_t vaddr, uint64_t len);
/* The pointer stored at vaddr (bytes p), relocated in a PIE. */
uint64_t img_addr(struct image *im, uint64_t vaddr, const uint8_t *p,
		  unsigned int ptrsz);
/* The R_*_RELATIVE relocations, sorted by place: *nr of them. */
const struct reloc *img_relocs(struct image *im, size_t *nr);
/* Drops the pages read so far from this process's memory. */
void img_release(const struct image *im);

#endif
