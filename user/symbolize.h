/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * User stack addresses to "function+0xoff (binary)" (or a bare address
 * with its module), preceded by "function (inlined)" for each Go function
 * inlined there.
 */
#ifndef CW_SYMBOLIZE_H
#define CW_SYMBOLIZE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "alert_sinks.h"
#include "elf_symbols.h"
#include "gopclntab.h"
#include "procfs.h"

#define CW_SYM_MAX_PIDS 64
/*
 * Files mapped, each opened when a process mapping it is first seen
 * (one fd each until a stack reads it): room for every library of a
 * large program, the first seen kept.
 */
#define CW_SYM_MAX_FILES 128

/* A file mapped: opened when a process mapping it is first seen, read
 * when a stack first goes through it. */
struct symbolizer_file {
	char *path;	/* as the mappings name it */
	int fd;		/* opened; -1 once read, or not openable */
	int loaded;	/* tab read (ok) or tried */
	int ok;
	struct elf_symtab tab;
};

struct symbolizer {
	const struct elf_symtab *main;	/* the probed binary, owned elsewhere */
	const struct go_pclntab *main_go;	/* its Go functions, or NULL */
	struct {
		pid_t pid;
		struct proc_maps maps;
		int maps_fd;	/* its /proc/PID/maps, opened when first
				 * seen (-1: none): read again without
				 * privileges */
	} pids[CW_SYM_MAX_PIDS];
	size_t nr_pids;
	struct symbolizer_file files[CW_SYM_MAX_FILES];
	size_t nr_files;
};

void symbolizer_init(struct symbolizer *z, const struct elf_symtab *main,
		     const struct go_pclntab *main_go);
void symbolizer_free(struct symbolizer *z);
/*
 * Reads pid's mappings now, while it is alive (a crash is coming), and
 * opens them and its mapped files to be read later: with the
 * capabilities of now, not those left after the drop (privs.h).
 */
void symbolizer_remember(struct symbolizer *z, pid_t pid);
/* pid names another process now (a pid reused): its mappings go. */
void symbolizer_forget(struct symbolizer *z, pid_t pid);
/*
 * pid's mappings, if never read (it is gone), are those remembered of
 * like: a fork child that did not exec has its parent's.
 */
void symbolizer_remember_like(struct symbolizer *z, pid_t pid, pid_t like);
/* Whether addr lies in an executable mapping of pid (a file's, or code
 * of none: a JIT's); unknown when the mappings were never read: returns
 * if_unknown. */
int symbolizer_in_code(struct symbolizer *z, pid_t pid, uint64_t addr,
		       int if_unknown);
/*
 * Names addr in pid as frames, innermost first, into out[0..max): one
 * "function (inlined)" per Go function the compiler inlined there, then
 * "function+0xoff (binary)", the offset always inside the function; an
 * address no function holds is bare: "0x7f.. (binary)", "0x7f.. [anon]"
 * (code of no file), "0x7f.. [unknown]" (in no mapping). is_return: addr is a return address (a
 * caller's frame), so its call says which inlined copy it is in. bias is
 * the load bias of the main binary known from the probe itself (hit
 * address - probed address), used when the process is gone and its
 * mappings were never read. Returns how many frames (1 if max > 0).
 */
size_t symbolize(struct symbolizer *z, pid_t pid, uint64_t addr, uint64_t bias,
		 int is_return, char (*out)[CW_FRAME_LEN], size_t max);

#endif
