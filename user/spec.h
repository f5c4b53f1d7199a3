/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Spec files (YAML): which functions play which role in the target. */
#ifndef CW_SPEC_H
#define CW_SPEC_H

#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>
#include "../bpf/connwatch.h"

#define CW_SPEC_MAX_PROBES 64
#define CW_SPEC_MAX_CALLERS 8

/* Where a probe takes its key (the BPF side's enum cw_key_source, and
 * one more that resolves to a register per call site). */
enum spec_key {
	SPEC_KEY_PROCESS = 0,	/* one key per process */
	SPEC_KEY_ARG,		/* argument key_arg (receiver: arg0) */
	SPEC_KEY_OWNER,		/* caller: only: the object arg0 was loaded
				 * from, as s in close(s.done) */
};

struct spec_counter {
	int type;		/* enum cw_counter_type; CW_CTR_NONE if absent */
	int base_arg;
	int64_t offset;
};

struct spec_probe {
	int role;		/* enum cw_role */
	char *symbol;
	int key_source;		/* enum spec_key */
	int key_arg;
	int at_return;
	char *callers[CW_SPEC_MAX_CALLERS];	/* only calls made inside */
	int nr_callers;
	int line;		/* in the spec file, for messages */
	/* set by presets */
	int optional;		/* absent from the binary: skipped, not an error */
	const char *absent_why;	/* what its absence means (static) */
	/* Go runtime checks: probed on the branch to this panic where it
	 * is found, its test reading [reg + branch_disp]; else at entry */
	const char *panic_msg;
	int64_t branch_disp;
	int switch_arg;		/* >= 0: open if this bool arg, else close */
	struct spec_counter counter;	/* this probe's own read, if type */
	/* CW_ROLE_HIJACK: the way to the fd; tcp_close and tls_close hold
	 * the methods' file addresses here (0: absent) */
	struct cw_conn_fd_path conn_fd;
};

struct spec_drift {
	int64_t threshold;	/* |open - counter| above this ... */
	int grace_s;		/* ... for longer than this is drift */
};

struct spec {
	char *path;
	char *target;		/* label; NULL: the caller picks one */
	struct spec_probe probes[CW_SPEC_MAX_PROBES];
	size_t nr_probes;
	struct spec_counter counter;
	struct spec_drift drift;
	/* set by presets: a part of it this binary cannot have, and why
	 * that is fine; "" when none */
	char note[256];
};

/* Parses path. 0, or -1 with "FILE:LINE: what is wrong" in err. */
int spec_parse_file(struct spec *spec, const char *path, char *err,
		    size_t errlen);
/* The same, from a string; name stands for the file in messages. */
int spec_parse_string(struct spec *spec, const char *name, const char *text,
		      char *err, size_t errlen);
void spec_free(struct spec *spec);

/* The probe's own counter read, else the spec's. */
const struct spec_counter *spec_probe_counter(const struct spec_probe *sp,
					      const struct spec *spec);

/* Whether any probe of spec has the given role. */
int spec_has_role(const struct spec *spec, int role);

const char *role_name(int role);

#endif
