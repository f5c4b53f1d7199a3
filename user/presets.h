/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Built-in presets: what to hook without writing a spec. */
#ifndef CW_PRESETS_H
#define CW_PRESETS_H

#include <stddef.h>
#include <stdio.h>
#include "gopclntab.h"
#include "spec.h"

enum preset_kind {
	PRESET_SOCKETS,		/* syscall tracepoints, any process */
	PRESET_SPEC,		/* uprobes, like a spec file */
};

struct preset {
	const char *name;
	enum preset_kind kind;
	const char *summary;
	const char *hooks;
	const char *cost;	/* probe hits per connection, measured */
	int go_only;		/* needs a Go binary (a .gopclntab) */
	/* Chosen for a Go binary with one of these functions; none: for any
	 * Go binary (go_only). sockets is chosen for any other binary too. */
	const char *found_by[3];
	const char *found_why;	/* what that function tells, if not obvious */
	int on_request;		/* never chosen: only when named */
	int counts_sockets;	/* its connections are the sockets preset's
				 * (tracepoints), less those its probes say
				 * left: its series come from the same maps */
	/* PRESET_SPEC: fills spec for the Go binary at path, whose function
	 * table is go. 0, or -1 with err set. */
	int (*build)(struct spec *spec, const char *path,
		     const struct go_pclntab *go, char *err, size_t errlen);
};

/* A preset chosen for a binary (no --preset or --spec given), and why. */
struct preset_choice {
	const struct preset *preset;
	char why[256];
};

#define CW_MAX_PRESET_CHOICES 4

const struct preset *preset_find(const char *name);
/*
 * The presets that fit the binary: Go (go is its function table, NULL
 * when it is not Go): go-runtime, and each preset whose functions it
 * has; anything else: sockets. Fills out; returns how many.
 */
int presets_choose(const struct go_pclntab *go,
		   struct preset_choice out[CW_MAX_PRESET_CHOICES]);
void presets_print(FILE *f);

#endif
