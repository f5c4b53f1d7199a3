// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * /proc/PID/maps lines (procfs.c): the target names the files it maps,
 * so their paths are its input. Every mapping read must be one whole
 * line of the input, parsed alone: no part of a line may pass for one.
 */
#include <string.h>
#include <unistd.h>
#include "../../user/procfs.h"
#include "fuzz.h"

/* The line at line (len bytes, no newline) parsed as procfs.c does. */
static int same_as_line(const struct proc_map *m, const char *line,
			size_t len)
{
	char *copy = strndup(line, len), perms[8], file[4096] = "";
	unsigned long long start, end, off, ino;
	int same;

	fuzz_check(copy, "out of memory");
	same = sscanf(copy, "%llx-%llx %7s %llx %*s %llu %4095[^\n]", &start,
		      &end, perms, &off, &ino, file) >= 5 &&
	       start == m->start && end == m->end && off == m->offset &&
	       !strcmp(file[0] ? file : CW_MAP_ANON, m->path);
	free(copy);
	return same;
}

static int is_a_line(const struct proc_map *m, const char *text, size_t size)
{
	const char *line = text, *nl;

	for (; line < text + size; line = nl + 1) {
		nl = memchr(line, '\n', text + size - line);
		if (!nl)
			nl = text + size;
		if (same_as_line(m, line, nl - line))
			return 1;
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proc_maps maps;
	size_t i;
	FILE *f;

	if (!size || memchr(data, 0, size))
		return 0;	/* the kernel writes text */
	f = fmemopen((void *)data, size, "r");
	fuzz_check(f, "fmemopen");
	proc_maps_parse(f, getpid(), &maps);
	fclose(f);
	for (i = 0; i < maps.nr; i++) {
		fuzz_check(maps.maps[i].path[0] == '/' ||
			   maps.maps[i].path[0] == '[', "path %s",
			   maps.maps[i].path);
		fuzz_check(is_a_line(&maps.maps[i], (const char *)data, size),
			   "mapping %zu (%s) is no line of the input", i,
			   maps.maps[i].path);
		fuzz_check(proc_maps_find(&maps, maps.maps[i].start) ||
			   maps.maps[i].start >= maps.maps[i].end, "not found");
	}
	proc_maps_free(&maps);
	return 0;
}
