/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Built-in presets: what to hook without writing a spec. */
#ifndef CW_PRESETS_H
#define CW_PRESETS_H

#include <stddef.h>
#include <stdio.h>
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
	/* PRESET_SPEC: fills spec for the binary at path (Go version go,
	 * "" when unknown). 0, or -1 with err set. */
	int (*build)(struct spec *spec, const char *path, const char *go,
		     char *err, size_t errlen);
};

const struct preset *preset_find(const char *name);
void presets_print(FILE *f);

#endif
