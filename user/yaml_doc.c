// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* YAML files for spec.c and web_config.c: see yaml_doc.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "yaml_doc.h"

char *read_text_file(const char *path, char *err, size_t errlen)
{
	char *text = NULL, buf[4096];
	size_t len = 0, total = 0, n;
	FILE *f, *mem;
	int read_err;

	f = fopen(path, "r");
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	mem = open_memstream(&text, &len);
	while (mem && total <= CW_MAX_TEXT_FILE &&
	       (n = fread(buf, 1, sizeof(buf), f)) > 0) {
		fwrite(buf, 1, n, mem);
		total += n;
	}
	read_err = ferror(f) ? errno : 0;
	fclose(f);
	if (!mem || fclose(mem) || read_err || total > CW_MAX_TEXT_FILE) {
		if (total > CW_MAX_TEXT_FILE)
			snprintf(err, errlen, "%s: larger than %d MiB: not a "
				 "file connwatch reads", path,
				 CW_MAX_TEXT_FILE >> 20);
		else
			snprintf(err, errlen, "%s: %s", path, read_err ?
				 strerror(read_err) : "cannot read");
		free(text);
		return NULL;
	}
	return text;
}

int ydoc_load(yaml_document_t *doc, const char *name, const char *text,
	      char *err, size_t errlen)
{
	yaml_parser_t parser;
	int ret = 0;

	yaml_parser_initialize(&parser);
	yaml_parser_set_input_string(&parser, (const unsigned char *)text,
				     strlen(text));
	if (!yaml_parser_load(&parser, doc)) {
		snprintf(err, errlen, "%s:%lu: %s%s%s (line %lu)", name,
			 (unsigned long)parser.problem_mark.line + 1,
			 parser.problem ? parser.problem : "malformed YAML",
			 parser.context ? ", " : "",
			 parser.context ? parser.context : "",
			 (unsigned long)parser.context_mark.line + 1);
		ret = -1;
	}
	yaml_parser_delete(&parser);
	return ret;
}

int ydoc_verror(char *err, size_t errlen, const char *name,
		const yaml_node_t *at, const char *fmt, va_list ap)
{
	size_t n;
	char *c;

	n = snprintf(err, errlen, "%s:%lu: ", name,
		     at ? (unsigned long)at->start_mark.line + 1 : 1UL);
	if (n < errlen)
		vsnprintf(err + n, errlen - n, fmt, ap);
	/* Messages quote keys and values: one line still, no escape codes. */
	for (c = err; errlen && *c; c++)
		if (((unsigned char)*c < 0x20 && *c != '\t') || *c == 0x7f)
			*c = '?';
	return -1;
}

const char *ydoc_scalar(const yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE ?
		(const char *)n->data.scalar.value : NULL;
}
