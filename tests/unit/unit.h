/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* What the cmocka unit tests share: headers cmocka needs, and checks. */
#ifndef CW_UNIT_H
#define CW_UNIT_H

/* cmocka.h uses these without including them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/*
 * Macros around functions so that a failure names the caller's line,
 * not the helper's.
 */
#define assert_prefix(s, pfx) check_prefix((s), (pfx), __FILE__, __LINE__)
#define assert_contains(s, frag) check_contains((s), (frag), __FILE__, __LINE__)

static inline void check_prefix(const char *s, const char *pfx,
				const char *file, int line)
{
	if (s && !strncmp(s, pfx, strlen(pfx)))
		return;
	print_error("\"%s\" does not start with \"%s\"\n", s ? s : "(null)", pfx);
	_fail(file, line);
}

static inline void check_contains(const char *s, const char *frag,
				  const char *file, int line)
{
	if (s && strstr(s, frag))
		return;
	print_error("\"%s\" does not contain \"%s\"\n", s ? s : "(null)", frag);
	_fail(file, line);
}

#endif
