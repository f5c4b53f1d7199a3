/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Spec probes to sites in the target binary (resolve.c). */
#ifndef CW_RESOLVE_H
#define CW_RESOLVE_H

#include <stddef.h>
#include "attach.h"

/* Reads the binary's ELF symbols and, for Go, its function table. */
int session_load_binary(struct cw_session *s, char *err, size_t errlen);
/* Resolves every probe of every target in the loaded binary. Returns the
 * number of probes that did not resolve (each has err), or -1 with err
 * set when a whole target cannot be used. */
int session_resolve(struct cw_session *s, char *err, size_t errlen);

#endif
