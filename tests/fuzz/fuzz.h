/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What the libFuzzer harnesses share: the input as a file, for the
 * parsers that take a path, and a check that names what failed.
 */
#ifndef CW_FUZZ_H
#define CW_FUZZ_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

/* A harness's own invariant: a crash libFuzzer keeps, with the reason. */
#define fuzz_check(cond, ...)						\
	do {								\
		if (!(cond)) {						\
			fprintf(stderr, "%s:%d: %s: ", __FILE__,	\
				__LINE__, #cond);			\
			fprintf(stderr, __VA_ARGS__);			\
			fputc('\n', stderr);				\
			abort();					\
		}							\
	} while (0)

/*
 * data as a file: a memfd (no disk, no cleanup), rewritten for each
 * input, named by its /proc/self/fd path. What the parser kept of the
 * previous input (a mapping) must be freed before the next call.
 */
static inline const char *fuzz_file(const uint8_t *data, size_t size)
{
	static char path[64];
	static int fd = -1;
	size_t done = 0;

	if (fd < 0) {
		fd = memfd_create("fuzz-input", MFD_CLOEXEC);
		fuzz_check(fd >= 0, "memfd_create");
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	}
	fuzz_check(!ftruncate(fd, 0), "ftruncate");
	while (done < size) {
		ssize_t n = pwrite(fd, data + done, size - done, done);

		fuzz_check(n > 0, "pwrite");
		done += (size_t)n;
	}
	return path;
}

#endif
