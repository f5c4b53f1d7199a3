/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * UTF-8 as the outputs need it: the text a target controls (comm, a
 * binary's name, symbol names) is any bytes; the alert log (JSON) and
 * the exposition (Prometheus text) must be UTF-8.
 */
#ifndef CW_UTF8_H
#define CW_UTF8_H

#include <stddef.h>

/* U+FFFD, what a byte that is no part of a character is written as. */
#define CW_UTF8_REPLACEMENT "\xef\xbf\xbd"

/*
 * The length of the UTF-8 character at s (1..4), or 0 when it is not one
 * (RFC 3629: no overlong form, no surrogate, nothing past U+10FFFF). s is
 * NUL-terminated: a NUL ends a truncated character.
 */
size_t utf8_len(const unsigned char *s);

#endif
