/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* A bounded JSON writer into a caller's buffer. */
#ifndef CW_JSON_H
#define CW_JSON_H

#include <stddef.h>

struct jbuf {
	char *p;
	size_t len, used;	/* used >= len: truncated */
};

void jputf(struct jbuf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* s as a JSON string, quoted and escaped; a byte not UTF-8 as U+FFFD. */
void jstr(struct jbuf *b, const char *s);
/* ,"name":"val" */
void jfield(struct jbuf *b, const char *name, const char *val);

#endif
