/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What the YAML readers (spec.c, web_config.c) share: the file's text,
 * libyaml's document API, and errors as "FILE:LINE: what is wrong".
 */
#ifndef CW_YAML_DOC_H
#define CW_YAML_DOC_H

#include <stdarg.h>
#include <stddef.h>
#include <yaml.h>

/*
 * Far above any spec, config, web config or PEM file: naming /dev/zero
 * or a 2 GiB file as one costs no more than this in memory.
 */
#define CW_MAX_TEXT_FILE (1 << 20)

/* The whole file, NUL-terminated, malloc'ed; NULL + "PATH: why" in err. */
char *read_text_file(const char *path, char *err, size_t errlen);
/*
 * Loads text as one YAML document; name stands for the file in messages.
 * 0 (yaml_document_delete it), or -1 + "NAME:LINE: problem" in err.
 */
int ydoc_load(yaml_document_t *doc, const char *name, const char *text,
	      char *err, size_t errlen);
/*
 * "NAME:LINE: " (at's line; 1 without a node) and the message, its
 * control characters (a newline in a quoted key) as '?'. -1.
 */
int ydoc_verror(char *err, size_t errlen, const char *name,
		const yaml_node_t *at, const char *fmt, va_list ap);
/* The node's text if it is a scalar, else NULL. */
const char *ydoc_scalar(const yaml_node_t *n);

#endif
