/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Function symbols of an ELF file (libelf): by name, by address. */
#ifndef CW_ELF_SYMBOLS_H
#define CW_ELF_SYMBOLS_H

#include <stddef.h>
#include <stdint.h>

struct elf_sym {
	char *name;
	uint64_t addr;		/* virtual address in the file */
	uint64_t size;
};

struct elf_load_seg {
	uint64_t vaddr;
	uint64_t memsz;
	uint64_t offset;
	uint64_t filesz;
};

struct elf_symtab {
	char *path;
	int is_pie;		/* ET_DYN: addresses move by a load bias */
	struct elf_sym *syms;	/* sorted by addr, one per address */
	size_t nr_syms;
	struct elf_load_seg *segs;	/* executable PT_LOAD segments */
	size_t nr_segs;
};

/*
 * The largest binary connwatch reads, far above any server's (Debian's
 * prometheus: 48 MiB): a file may claim tables as large as itself, so
 * this bounds the memory and time a hostile one can cost.
 */
#define CW_MAX_BINARY (1ULL << 30)

/*
 * Opens the binary at path to read it: a regular file of at most
 * CW_MAX_BINARY bytes (its size in *size, unless NULL). Its fd, or -1
 * with "PATH: why" in err.
 */
int binary_open(const char *path, uint64_t *size, char *err, size_t errlen);

/* Loads FUNC symbols from .symtab and .dynsym. 0, or -1 with err set. */
int elf_symtab_load(struct elf_symtab *tab, const char *path,
		    char *err, size_t errlen);
void elf_symtab_free(struct elf_symtab *tab);

const struct elf_sym *elf_symtab_by_name(const struct elf_symtab *tab,
					 const char *name);
/*
 * The function containing addr (a file virtual address), or NULL when
 * addr is past the nearest symbol's end: its st_size, or for a size of 0
 * the end of its code segment.
 */
const struct elf_sym *elf_symtab_by_addr(const struct elf_symtab *tab,
					 uint64_t addr);

/* File offset of a virtual address (what uprobes take), or -1. */
int64_t elf_vaddr_to_offset(const struct elf_symtab *tab, uint64_t vaddr);
/* Virtual address of a file offset, or 0 when no segment maps it. */
uint64_t elf_offset_to_vaddr(const struct elf_symtab *tab, uint64_t off);

/*
 * The largest function connwatch reads to decode, far above any probed
 * (the largest in Debian's prometheus, an init of generated tables, is
 * 897 KiB): decoding it all takes ~2 KB of memory per instruction.
 */
#define CW_MAX_CODE (1 << 20)

/*
 * Reads size bytes of code at vaddr into a malloc'ed buffer; they must
 * be in the file, in one code segment, and at most CW_MAX_CODE.
 */
uint8_t *elf_read_code(const struct elf_symtab *tab, uint64_t vaddr,
		       size_t size, char *err, size_t errlen);

/* Bytes of the file's segment from vaddr to its end; 0 when outside. */
size_t elf_code_room(const struct elf_symtab *tab, uint64_t vaddr);

/* 1 when the ELF file at path asks for a dynamic loader (PT_INTERP),
 * 0 when it is statically linked, -1 with err set when unreadable. */
int elf_is_dynamic(const char *path, char *err, size_t errlen);

/* 1 when the ELF file at path is a Go program (a .note.go.buildid,
 * .go.buildinfo or .gopclntab section), 0 when not, -1 with err set. */
int elf_is_go(const char *path, char *err, size_t errlen);

/* 1 when path is a readable ELF file, else 0 with err set. */
int elf_is_elf(const char *path, char *err, size_t errlen);

#endif
