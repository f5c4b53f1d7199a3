/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The label model, in one place. A target is the thing watched (a binary
 * or service): one name per session, from --target, else the specs'
 * target:, else the binary's name. A source is what produced a series (a
 * preset, a spec file): the kernel's target_id indexes the session's
 * sources. Series a source counts carry {target, source, pid}; one
 * connwatch_target_up per (target, pid); anomalies once per target.
 */
#ifndef CW_LABELS_H
#define CW_LABELS_H

#include <stdio.h>
#include "attach.h"

/* Appends spec (NULL: sockets or the preload shim) as a source named
 * name, or, when two spec files share a base name, by the path given. */
void labels_add_source(struct cw_session *s, struct spec *spec,
		       const char *name);
/*
 * Names the session's target: given (--target), else the target: of its
 * specs, which must agree, else the binary's base name. 0, or -1 with
 * one line in err.
 */
int labels_pick_target(struct cw_session *s, const char *given, char *err,
		       size_t errlen);
/* The target a binary is by default: its base name. */
const char *labels_binary_target(const char *binary);
/* A name fit for a label: 1..CW_NAME_MAX-1 bytes, no control character.
 * 0, or -1 with "what 'name': why" in err. */
int labels_check_name(const char *what, const char *name, char *err,
		      size_t errlen);

/*
 * Label sets, without the braces, escaped for the text format. target:
 * the process' own target name (collect names each process by its
 * binary), or NULL: the session's.
 */
void labels_put(FILE *f, const char *name, const char *value);
void labels_process(FILE *f, const struct cw_session *s, const char *target,
		    unsigned pid);
void labels_series(FILE *f, const struct cw_session *s, const char *target,
		   int source_id, unsigned pid);
void labels_probe(FILE *f, const struct cw_session *s, int source_id,
		  const char *probe);

#endif
