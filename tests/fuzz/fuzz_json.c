// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The JSON writer (json.c) and the alert line made with it
 * (alert_sinks.c): whatever the strings (symbol names and comm come from
 * the target), every output is valid JSON, checked by the strict
 * RFC 8259 reader below, and a string that is valid UTF-8 reads back
 * the same. The input is NUL-separated strings: the alert's fields.
 * The same strings as label values (labels.c): valid UTF-8 too, and no
 * control character (a newline is escaped) for the text format.
 */
#include <string.h>
#include "../../user/alert_sinks.h"
#include "../../user/json.h"
#include "../../user/labels.h"
#include "fuzz.h"

#define MAX_DEPTH 16

/* A strict reader: the text, and where a string is decoded to. */
struct reader {
	const unsigned char *p, *end;
	char *out;		/* the last string's bytes, when set */
	size_t used;
};

static void skip_ws(struct reader *r)
{
	while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' ||
				 *r->p == '\n' || *r->p == '\r'))
		r->p++;
}

static void emit(struct reader *r, uint32_t cp)
{
	char *o;

	if (!r->out)
		return;
	o = r->out + r->used;
	if (cp < 0x80) {
		o[0] = (char)cp;
		r->used += 1;
	} else if (cp < 0x800) {
		o[0] = (char)(0xc0 | cp >> 6);
		o[1] = (char)(0x80 | (cp & 0x3f));
		r->used += 2;
	} else if (cp < 0x10000) {
		o[0] = (char)(0xe0 | cp >> 12);
		o[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		r->used += 3;
	} else {
		o[0] = (char)(0xf0 | cp >> 18);
		o[1] = (char)(0x80 | (cp >> 12 & 0x3f));
		o[2] = (char)(0x80 | (cp >> 6 & 0x3f));
		o[3] = (char)(0x80 | (cp & 0x3f));
		r->used += 4;
	}
}

/* One UTF-8 character (no overlong form, no surrogate, <= U+10FFFF). */
static int utf8_char(struct reader *r, uint32_t *cp)
{
	static const uint32_t min[] = { 0, 0, 0x80, 0x800, 0x10000 };
	unsigned char c = *r->p;
	int n, i;

	n = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 :
	    (c & 0xf8) == 0xf0 ? 4 : 0;
	if (!n || r->end - r->p < n)
		return -1;
	*cp = n == 1 ? c : c & (0x7f >> n);
	for (i = 1; i < n; i++) {
		if ((r->p[i] & 0xc0) != 0x80)
			return -1;
		*cp = *cp << 6 | (r->p[i] & 0x3f);
	}
	if (*cp < min[n] || *cp > 0x10ffff || (*cp >= 0xd800 && *cp <= 0xdfff))
		return -1;
	r->p += n;
	return 0;
}

static int hex4(struct reader *r, uint32_t *v)
{
	int i;

	*v = 0;
	if (r->end - r->p < 4)
		return -1;
	for (i = 0; i < 4; i++, r->p++) {
		unsigned char c = *r->p;

		*v <<= 4;
		if (c >= '0' && c <= '9')
			*v |= c - '0';
		else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
			*v |= (c | 0x20) - 'a' + 10;
		else
			return -1;
	}
	return 0;
}

/* \uXXXX, a surrogate pair only whole. */
static int escaped_char(struct reader *r, uint32_t *cp)
{
	uint32_t lo;

	if (hex4(r, cp) || (*cp >= 0xdc00 && *cp <= 0xdfff))
		return -1;
	if (*cp < 0xd800 || *cp > 0xdbff)
		return 0;
	if (r->end - r->p < 2 || r->p[0] != '\\' || r->p[1] != 'u')
		return -1;
	r->p += 2;
	if (hex4(r, &lo) || lo < 0xdc00 || lo > 0xdfff)
		return -1;
	*cp = 0x10000 + ((*cp - 0xd800) << 10) + (lo - 0xdc00);
	return 0;
}

static int escape(struct reader *r, uint32_t *cp)
{
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	const char *at;

	if (r->p == r->end)
		return -1;
	if (*r->p == 'u') {
		r->p++;
		return escaped_char(r, cp);
	}
	at = memchr(from, *r->p, sizeof(from) - 1);
	if (!at)
		return -1;
	*cp = (unsigned char)to[at - from];
	r->p++;
	return 0;
}

static int string(struct reader *r)
{
	uint32_t cp;

	r->used = 0;
	if (r->p == r->end || *r->p++ != '"')
		return -1;
	while (r->p < r->end && *r->p != '"') {
		if (*r->p < 0x20)
			return -1;
		if (*r->p == '\\') {
			r->p++;
			if (escape(r, &cp))
				return -1;
		} else if (utf8_char(r, &cp)) {
			return -1;
		}
		emit(r, cp);
	}
	if (r->p == r->end)
		return -1;
	r->p++;
	return 0;
}

static int digits(struct reader *r)
{
	const unsigned char *start = r->p;

	while (r->p < r->end && *r->p >= '0' && *r->p <= '9')
		r->p++;
	return r->p > start ? 0 : -1;
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static int number(struct reader *r)
{
	if (r->p < r->end && *r->p == '-')
		r->p++;
	if (r->p < r->end && *r->p == '0')
		r->p++;
	else if (digits(r))
		return -1;
	if (r->p < r->end && *r->p == '.' && (r->p++, digits(r)))
		return -1;
	if (r->p < r->end && (*r->p == 'e' || *r->p == 'E')) {
		r->p++;
		if (r->p < r->end && (*r->p == '+' || *r->p == '-'))
			r->p++;
		return digits(r);
	}
	return 0;
}

static int literal(struct reader *r, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(r->end - r->p) < n || memcmp(r->p, word, n))
		return -1;
	r->p += n;
	return 0;
}

static int value(struct reader *r, int depth);

/* The members or elements up to close; open already read. */
static int members(struct reader *r, char close, int keyed, int depth)
{
	skip_ws(r);
	if (r->p < r->end && *r->p == close) {
		r->p++;
		return 0;
	}
	for (;;) {
		skip_ws(r);
		if (keyed && (string(r) || (skip_ws(r), r->p == r->end) ||
			      *r->p++ != ':'))
			return -1;
		if (value(r, depth + 1))
			return -1;
		skip_ws(r);
		if (r->p == r->end)
			return -1;
		if (*r->p == close) {
			r->p++;
			return 0;
		}
		if (*r->p++ != ',')
			return -1;
	}
}

static int value(struct reader *r, int depth)
{
	skip_ws(r);
	if (r->p == r->end || depth > MAX_DEPTH)
		return -1;
	switch (*r->p) {
	case '{':
		r->p++;
		return members(r, '}', 1, depth);
	case '[':
		r->p++;
		return members(r, ']', 0, depth);
	case '"':
		return string(r);
	case 't':
		return literal(r, "true");
	case 'f':
		return literal(r, "false");
	case 'n':
		return literal(r, "null");
	}
	return number(r);
}

/* text (n bytes) is one JSON value and nothing else. */
static int valid_json(const char *text, size_t n, char *out)
{
	struct reader r = { (const unsigned char *)text,
			    (const unsigned char *)text + n, out, 0 };

	if (value(&r, 0))
		return 0;
	skip_ws(&r);
	return r.p == r.end;
}

static int valid_utf8(const char *s)
{
	struct reader r = { (const unsigned char *)s,
			    (const unsigned char *)s + strlen(s), NULL, 0 };
	uint32_t cp;

	while (r.p < r.end)
		if (utf8_char(&r, &cp))
			return 0;
	return 1;
}

/* The input's strings, one after another; "" once they run out. */
struct pieces {
	const char *p, *end;
};

static const char *next(struct pieces *in)
{
	const char *s = in->p, *nul;

	if (s >= in->end)
		return "";
	nul = memchr(s, 0, in->end - s);
	in->p = nul ? nul + 1 : in->end;
	return s;
}

/* jstr alone: valid, reads back the same; into a buffer of any size. */
static void check_string(const char *s, size_t room)
{
	size_t len = 6 * strlen(s) + 3;
	char *buf = malloc(len), *back = malloc(len), *small = malloc(room + 1);
	struct jbuf b = { .p = buf, .len = len };
	struct jbuf tiny = { .p = small, .len = room };
	struct reader r;

	fuzz_check(buf && back && small, "out of memory");
	jstr(&b, s);
	fuzz_check(b.used < len, "escaped \"%s\" longer than 6x", s);
	r = (struct reader){ (const unsigned char *)buf,
			     (const unsigned char *)buf + b.used, back, 0 };
	fuzz_check(!string(&r) && r.p == r.end, "jstr: invalid \"%.*s\"",
		   (int)b.used, buf);
	fuzz_check(!valid_utf8(s) || (r.used == strlen(s) &&
				       !memcmp(back, s, r.used)),
		   "jstr: \"%s\" read back as \"%.*s\"", s, (int)r.used, back);
	jstr(&tiny, s);	/* ASan: not a byte past room */
	fuzz_check(tiny.used >= room || (tiny.used == b.used &&
					 !memcmp(small, buf, b.used)),
		   "a short buffer changed the output");
	free(buf);
	free(back);
	free(small);
}

/* labels_put alone: UTF-8 with no control byte, whatever s is. */
static void check_label(const char *s)
{
	size_t len = 3 * strlen(s) + 16;	/* U+FFFD: 3 bytes for 1 */
	char *buf = malloc(len);
	const unsigned char *c;
	FILE *f;

	fuzz_check(buf && (f = fmemopen(buf, len, "w")), "out of memory");
	labels_put(f, "l", s);
	fuzz_check(!ferror(f) && ftell(f) < (long)len, "label \"%s\" too long",
		   s);
	fclose(f);
	fuzz_check(valid_utf8(buf), "label value not UTF-8: %s", buf);
	for (c = (const unsigned char *)buf; *c; c++)
		fuzz_check(*c >= 0x20 && *c != 0x7f,
			   "label value with byte 0x%02x: %s", *c, buf);
	free(buf);
}

/* The alert's strings from the input, as untrusted as they come. */
static void fill(struct alert *a, struct pieces *in)
{
	int i;

	a->ts = (struct timespec){ .tv_sec = 1700000000, .tv_nsec = 123 };
	a->severity = next(in);
	a->kind = next(in);
	a->target = next(in);
	a->probe = next(in);
	snprintf(a->comm, sizeof(a->comm), "%s", next(in));
	snprintf(a->message, sizeof(a->message), "%s", next(in));
	a->pid = (int)strlen(a->target);
	a->key = (uint64_t)-1;
	a->shadow = -1;
	a->has_counter = a->pid & 1;
	a->counter = INT64_MIN;
	for (i = 0; i < CW_ALERT_MAX_FRAMES && in->p < in->end; i++)
		snprintf(a->frames[i], CW_FRAME_LEN, "%s", next(in));
	a->nr_frames = i;
}

/* The first byte is a buffer size; the rest, the strings. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char line[CW_ALERT_JSON_MAX];
	static struct alert a;
	struct pieces in;
	char *text;
	size_t n;

	if (!size)
		return 0;
	text = malloc(size);
	fuzz_check(text, "out of memory");
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	in = (struct pieces){ text, text + size - 1 };
	memset(&a, 0, sizeof(a));
	fill(&a, &in);
	/* As alert_deliver() writes the log line. */
	n = alert_to_json(&a, line, sizeof(line) - 1);
	fuzz_check(n < sizeof(line) - 1 && valid_json(line, n, NULL),
		   "alert line invalid: %.*s", (int)n, line);
	check_string(a.target, data[0]);
	check_string(a.comm, data[0]);
	check_string(a.message, data[0]);
	check_label(a.target);
	check_label(a.comm);
	free(text);
	return 0;
}
