/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The YAML harnesses' input as the text a file read would give. */
#ifndef CW_FUZZ_TEXT_H
#define CW_FUZZ_TEXT_H

#include <string.h>
#include "fuzz.h"

/* data, NUL-terminated, in a buffer to free (ASan sees its end). */
static inline char *fuzz_text(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);

	fuzz_check(text, "out of memory");
	memcpy(text, data, size);
	text[size] = '\0';
	return text;
}

/*
 * A refusal is one line naming the file and line, "NAME:LINE: why", with
 * no control character from the input in it (a newline, an escape) but
 * tabs.
 */
static inline void fuzz_check_error(const char *err, const char *name)
{
	size_t n = strlen(name);
	const char *c;

	fuzz_check(!strncmp(err, name, n) && err[n] == ':' &&
		   err[n + 1] >= '1' && err[n + 1] <= '9',
		   "error without file and line: \"%s\"", err);
	for (c = err; *c; c++)
		fuzz_check(((unsigned char)*c >= 0x20 || *c == '\t') &&
			   *c != 0x7f,
			   "control character 0x%02x in \"%s\"",
			   (unsigned char)*c, err);
}

#endif
