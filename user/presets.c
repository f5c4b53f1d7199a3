// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The preset table. */
#include <string.h>
#include "presets.h"

static const struct preset presets[] = {
	{
		.name = "sockets",
		.kind = PRESET_SOCKETS,
		.summary = "accepted sockets of any process (C, Go, anything): "
			   "opened, closed, open, duration; double_close_fd",
		.hooks = "tracepoints syscalls/sys_exit_accept, sys_exit_accept4, "
			 "sys_enter_close, sys_exit_close",
	},
};

const struct preset *preset_find(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(presets) / sizeof(presets[0]); i++)
		if (!strcmp(presets[i].name, name))
			return &presets[i];
	return NULL;
}

void presets_print(FILE *f)
{
	size_t i;

	for (i = 0; i < sizeof(presets) / sizeof(presets[0]); i++)
		fprintf(f, "%-10s %s\n%-10s hooks: %s\n", presets[i].name,
			presets[i].summary, "", presets[i].hooks);
}
