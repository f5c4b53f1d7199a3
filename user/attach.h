/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Resolve a spec's probes in a binary and attach them as uprobes. */
#ifndef CW_ATTACH_H
#define CW_ATTACH_H

#include <limits.h>
#include <sys/types.h>
#include <linux/types.h>
#include "../bpf/connwatch.h"
#include "disasm.h"
#include "elf_symbols.h"
#include "gopclntab.h"
#include "pin.h"
#include "spec.h"

#define CW_MAX_INLINED 32
#define CW_MAX_INLINE_RANGES 1024	/* of one caller's inlined copies */

/* One spec probe, resolved in the binary. */
struct cw_probe {
	int target_id;
	const struct spec_probe *sp;
	char name[160];		/* "role:symbol", the probe label */
	uint64_t vaddr;		/* function entry (file virtual address) */
	uint64_t size;
	int entry_site;		/* enum cw_site, or -1: no entry uprobe */
	uint64_t entry_vaddr;	/* where the entry uprobe goes */
	int entry_late;		/* after a first instruction uprobes refuse */
	int wants_exits;	/* uprobes on every RET / tail call */
	int track_inside;	/* a dec: its exits end a thread's stay */
	struct exit_sites exits;
	int nr_inlined_found;	/* copies found (Go: pclntab, else DWARF);
				 * -1: neither can tell */
	uint64_t inlined[CW_MAX_INLINED];	/* probed ones: entry sites */
	int nr_inlined;
	struct panic_branch branch;	/* .probe: on the failing branch */
	char branch_why[160];	/* why a Go check stayed at the entry */
	struct call_sites calls;	/* caller: the calls made there */
	int nr_callers_found;	/* out-of-line copies of the callers */
	int nr_inlined_callers;	/* copies of them inlined elsewhere */
	int abi;		/* enum cw_abi */
	int resolved;
	int absent;		/* optional, and not in this binary */
	int links;		/* uprobes attached */
	int link_errors;
	char err[256];
};

#define CW_NAME_MAX 64	/* a target's or a source's name, NUL included */

/* One spec or preset of the session: a source of series (labels.h). */
struct cw_target {
	struct spec *spec;	/* NULL: the sockets preset */
	char source[CW_NAME_MAX];	/* the source label */
	/* key: owner could not be had at some call site: every probe of
	 * the target counts per process instead, so that keys still meet */
	int keyed_by_process;
	/* go-net-http: its counts are the sockets tracepoints', a hijack
	 * closing a connection there (presets.h: counts_sockets) */
	int net_http;
};

struct connwatch_bpf;
struct bpf_link;

struct cw_session {
	char binary[PATH_MAX];
	pid_t pid;		/* -1: every process running binary */
	int spawned;		/* connwatch started pid: nothing was open */
	struct elf_symtab symtab;
	struct go_pclntab go;	/* Go binaries: functions by name, stripped too */
	int is_go;
	char target[CW_NAME_MAX];	/* the target label (labels.h) */
	struct cw_target targets[CW_MAX_TARGET_SPECS];
	int nr_targets;
	struct cw_probe probes[CW_MAX_PROBES];
	int nr_probes;
	struct connwatch_bpf *skel;
	struct bpf_link **links;
	int nr_links;
	int sockets_target;	/* target id of the sockets preset, or -1 */
	int sockets_attached;	/* all its tracepoints are */
	int stop_on_critical;	/* --on-critical stop */
	int fresh;		/* --fresh: adopt no pinned state */
	unsigned int max_keys;	/* detection entries (and tombstones) */
	unsigned int max_procs;	/* processes the tables hold at once */
	struct cw_pin pin;	/* the maps a restart adopts */
};

/* Loads the BPF object and attaches every resolved probe. Returns the
 * number of probes with at least one uprobe, or -1 with err set. */
int session_attach(struct cw_session *s, char *err, size_t errlen);
void session_close(struct cw_session *s);
/* What a resolved probe's BPF side is told: its row of the probe map. */
struct cw_probe_cfg session_probe_cfg(const struct cw_session *s,
				      const struct cw_probe *p);
/* The target of go-net-http (net_http), or -1. */
int session_net_http_target(const struct cw_session *s);
/* The target the socket tracepoints report as: sockets, else
 * go-net-http; -1 when no target counts sockets. */
int session_sock_target(const struct cw_session *s);
/* Processes to count sockets of: pid and its descendants. */
void session_watch_sockets_of(struct cw_session *s, pid_t pid);

#endif
