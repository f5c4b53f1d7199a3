// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Target and source names, and the label sets of every per-target series:
 * built here only, so that series identity has one definition.
 */
#include <stdio.h>
#include <string.h>
#include "labels.h"
#include "utf8.h"

const char *labels_binary_target(const char *binary)
{
	const char *slash = strrchr(binary, '/');

	return slash ? slash + 1 : binary;
}

static int source_taken(const struct cw_session *s, const char *name)
{
	int i;

	for (i = 0; i < s->nr_targets; i++)
		if (!strcmp(s->targets[i].source, name))
			return 1;
	return 0;
}

void labels_add_source(struct cw_session *s, struct spec *spec,
		       const char *name)
{
	struct cw_target *t = &s->targets[s->nr_targets];

	/* a/x.yaml and b/x.yaml: two sources, told apart by their paths */
	if (spec && source_taken(s, name))
		name = spec->path;
	t->spec = spec;
	snprintf(t->source, sizeof(t->source), "%s", name);
	s->nr_targets++;
}

int labels_check_name(const char *what, const char *name, char *err,
		      size_t errlen)
{
	const unsigned char *c;

	if (!*name || strlen(name) >= CW_NAME_MAX) {
		snprintf(err, errlen, "%s '%s': a name of 1 to %d bytes", what,
			 name, CW_NAME_MAX - 1);
		return -1;
	}
	for (c = (const unsigned char *)name; *c; c++)
		if (*c < 0x20 || *c == 0x7f) {
			snprintf(err, errlen, "%s: a name has no control "
				 "character", what);
			return -1;
		}
	return 0;
}

/* The specs' own target: names; two that differ are an error. */
static const char *spec_target(const struct cw_session *s, char *err,
			       size_t errlen)
{
	const struct spec *first = NULL;
	int i;

	for (i = 0; i < s->nr_targets; i++) {
		const struct spec *spec = s->targets[i].spec;

		if (!spec || !spec->target)
			continue;
		if (!first) {
			first = spec;
			continue;
		}
		if (strcmp(first->target, spec->target)) {
			snprintf(err, errlen, "%s names target '%s', %s names "
				 "'%s': one process is one target; give "
				 "--target NAME", first->path, first->target,
				 spec->path, spec->target);
			return NULL;
		}
	}
	if (!first)
		return labels_binary_target(s->binary);
	if (labels_check_name(first->path, first->target, err, errlen))
		return NULL;
	return first->target;
}

int labels_pick_target(struct cw_session *s, const char *given, char *err,
		       size_t errlen)
{
	const char *name = given;

	if (given && labels_check_name("--target", given, err, errlen))
		return -1;
	if (!name)
		name = spec_target(s, err, errlen);
	if (!name)
		return -1;
	snprintf(s->target, sizeof(s->target), "%s", name);
	return 0;
}

/*
 * The text format's label value: UTF-8, with backslash, quote and newline
 * escaped. The value may be the target's (its binary's name, a symbol):
 * a byte that is no part of a UTF-8 character, and a control character
 * other than newline, is written as U+FFFD, so promtool and every scraper
 * parse the whole exposition.
 */
void labels_put(FILE *f, const char *name, const char *value)
{
	const unsigned char *c;
	size_t n;

	fprintf(f, "%s=\"", name);
	for (c = (const unsigned char *)value; *c; c += n) {
		n = utf8_len(c);
		if (!n || (*c < 0x20 && *c != '\n') || *c == 0x7f) {
			fputs(CW_UTF8_REPLACEMENT, f);
			n = 1;
		} else if (*c == '\\' || *c == '"') {
			fprintf(f, "\\%c", *c);
		} else if (*c == '\n') {
			fputs("\\n", f);
		} else {
			fwrite(c, 1, n, f);
		}
	}
	fputc('"', f);
}

/* pid 0 is no process: a source's own series, of its processes gone
 * (proc_tables.c), have no pid label. */
static void put_pid(FILE *f, unsigned pid)
{
	if (pid)
		fprintf(f, ",pid=\"%u\"", pid);
}

void labels_process(FILE *f, const struct cw_session *s, const char *target,
		    unsigned pid)
{
	labels_put(f, "target", target ? target : s->target);
	put_pid(f, pid);
}

static void put_source(FILE *f, const struct cw_session *s, const char *target,
		       int source_id)
{
	labels_put(f, "target", target ? target : s->target);
	fputc(',', f);
	labels_put(f, "source", s->targets[source_id].source);
}

void labels_series(FILE *f, const struct cw_session *s, const char *target,
		   int source_id, unsigned pid)
{
	put_source(f, s, target, source_id);
	put_pid(f, pid);
}

void labels_probe(FILE *f, const struct cw_session *s, int source_id,
		  const char *probe)
{
	put_source(f, s, NULL, source_id);
	fputc(',', f);
	labels_put(f, "probe", probe);
}
