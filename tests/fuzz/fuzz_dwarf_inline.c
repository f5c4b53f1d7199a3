// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Inlined copies from DWARF (dwarf_inline.c, libdw) in any file. The
 * input is the function's name, a NUL, then the file: the seeds name a
 * function their DWARF has inlined copies of.
 */
#include <string.h>
#include "../../user/dwarf_inline.h"
#include "fuzz.h"

#define MAX_NAME	256
#define MAX_COPIES	16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, 0, size < MAX_NAME ? size : MAX_NAME);
	uint64_t addrs[MAX_COPIES];
	const char *path;
	int n;

	if (!nul)
		return 0;
	path = fuzz_file(nul + 1, size - (size_t)(nul + 1 - data));
	n = dwarf_inlined_copies(path, (const char *)data, addrs, MAX_COPIES);
	fuzz_check(n >= -1, "%d copies", n);
	return 0;
}
