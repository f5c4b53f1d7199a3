/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* /metrics in the Prometheus text format, read from the maps at scrape. */
#ifndef CW_METRICS_H
#define CW_METRICS_H

#include <stddef.h>

struct cw_daemon;
struct MHD_Daemon;

#define CW_DEFAULT_LISTEN "127.0.0.1:9877"

/* Listens on "ADDR:PORT" and serves /metrics. NULL + err on failure. */
struct MHD_Daemon *metrics_start(struct cw_daemon *d, const char *listen,
				 char *err, size_t errlen);
void metrics_stop(struct MHD_Daemon *server);
/* The exposition text, malloc'ed. */
char *metrics_render(struct cw_daemon *d, size_t *len);

#endif
