// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* A bounded JSON writer: never past the buffer, truncation visible. */
#include <stdarg.h>
#include <stdio.h>
#include "json.h"
#include "utf8.h"

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

/*
 * JSON is UTF-8 (RFC 8259), the strings here are whatever the target
 * holds (symbol names, comm cut at 15 bytes): a byte that is not part
 * of a UTF-8 character is written as U+FFFD, so the line still parses.
 */
void jstr(struct jbuf *b, const char *s)
{
	const unsigned char *p;
	size_t n;

	jputf(b, "\"");
	for (p = (const unsigned char *)s; *p; p += n) {
		n = utf8_len(p);
		if (!n) {
			jputf(b, "\\ufffd");
			n = 1;
		} else if (*p == '"' || *p == '\\') {
			jputf(b, "\\%c", *p);
		} else if (*p < 0x20) {
			jputf(b, "\\u%04x", *p);
		} else {
			jputf(b, "%.*s", (int)n, (const char *)p);
		}
	}
	jputf(b, "\"");
}

void jfield(struct jbuf *b, const char *name, const char *val)
{
	jputf(b, ",\"%s\":", name);
	jstr(b, val);
}
