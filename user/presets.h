/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Built-in presets: what to hook without writing a spec. */
#ifndef CW_PRESETS_H
#define CW_PRESETS_H

#include <stdio.h>

enum preset_kind {
	PRESET_SOCKETS,		/* syscall tracepoints, any process */
};

struct preset {
	const char *name;
	enum preset_kind kind;
	const char *summary;
	const char *hooks;
};

const struct preset *preset_find(const char *name);
void presets_print(FILE *f);

#endif
