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

/*
 * The length of the UTF-8 character at s, or 0 when it is not one
 * (RFC 3629: no overlong form, no surrogate, nothing past U+10FFFF).
 * A NUL ends a truncated one: it is no continuation byte.
 */
static size_t utf8_len(const unsigned char *s)
{
	size_t n, i;

	if (s[0] < 0x80)
		return 1;
	if (s[0] < 0xc2 || s[0] > 0xf4)	/* a continuation, overlong, too big */
		return 0;
	n = s[0] < 0xe0 ? 2 : s[0] < 0xf0 ? 3 : 4;
	for (i = 1; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	/* The second byte's range rules out the rest. */
	if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] > 0x9f) ||
	    (s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] > 0x8f))
		return 0;
	return n;
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
