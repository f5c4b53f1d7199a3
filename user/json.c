// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* A bounded JSON writer: never past the buffer, truncation visible. */
#include <stdarg.h>
#include <stdio.h>
#include "json.h"

void jputf(struct jbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->used >= b->len)
		return;
	va_start(ap, fmt);
	n = vsnprintf(b->p + b->used, b->len - b->used, fmt, ap);
	va_end(ap);
	if (n > 0)
		b->used += (size_t)n;
}

void jstr(struct jbuf *b, const char *s)
{
	jputf(b, "\"");
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			jputf(b, "\\%c", c);
		else if (c < 0x20)
			jputf(b, "\\u%04x", c);
		else
			jputf(b, "%c", c);
	}
	jputf(b, "\"");
}

void jfield(struct jbuf *b, const char *name, const char *val)
{
	jputf(b, ",\"%s\":", name);
	jstr(b, val);
}
