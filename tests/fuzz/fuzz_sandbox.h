/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * For the parsers that open files their input names (spec files in a
 * --config, certificates in a web config): linked with -Wl,--wrap=fopen,
 * every fopen of the harness opens the file of that base name in a
 * sandbox directory instead, so that no input reads the machine's files
 * or blocks on one (/dev/stdin, a FIFO, /proc/kmsg). The file names the
 * seeds use are there.
 */
#ifndef CW_FUZZ_SANDBOX_H
#define CW_FUZZ_SANDBOX_H

#include <string.h>
#include "fuzz.h"

static char sandbox[64];

FILE *__real_fopen(const char *path, const char *mode);

FILE *__wrap_fopen(const char *path, const char *mode)
{
	const char *base = strrchr(path, '/');
	char in[4200];

	snprintf(in, sizeof(in), "%s/%s", sandbox, base ? base + 1 : path);
	return __real_fopen(in, mode);
}

static void sandbox_put(const char *name, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", sandbox, name);
	f = __real_fopen(path, "w");
	fuzz_check(f && fputs(text, f) >= 0 && !fclose(f), "%s", path);
}

static void sandbox_remove(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", sandbox);
	if (system(cmd))
		fprintf(stderr, "cannot remove %s\n", sandbox);
}

/* The directory, made once; removed at exit. Its path, with no '/' after. */
static const char *sandbox_init(void)
{
	snprintf(sandbox, sizeof(sandbox), "/tmp/cw-fuzz-XXXXXX");
	fuzz_check(mkdtemp(sandbox), "mkdtemp");
	atexit(sandbox_remove);
	return sandbox;
}

#endif
