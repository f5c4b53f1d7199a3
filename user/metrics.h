/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* /metrics in the Prometheus text format, read from the maps at scrape. */
#ifndef CW_METRICS_H
#define CW_METRICS_H

#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>
#include "../bpf/connwatch.h"

struct cw_daemon;

/* What is exported for one (source, process). */
struct metrics_row {
	uint32_t target_id;	/* the source (labels.h) */
	const char *target;	/* collect: the process' own, kept as long as
				 * the daemon (preload.h); NULL: the session's */
	uint32_t tgid;		/* 0: the target's own, without a pid: the
				 * processes folded after their grace, and
				 * what a full table had no room for */
	struct cw_totals sum;
	int has_durations;
	struct cw_sock_stats sock;	/* the duration histogram */
};

/* The maps (and preload reports) per (target, pid), into *rows
 * (malloc'ed, the caller frees). Returns how many, or -1. */
int metrics_collect(struct cw_daemon *d, struct metrics_row **rows);
struct metrics_server;
struct web_config;

#define CW_DEFAULT_LISTEN "127.0.0.1:9877"

/* What /metrics answers: the exposition text, malloc'ed. */
typedef char *(*metrics_render_fn)(void *ctx, size_t *len);

/*
 * Binds "ADDR:PORT" now, so that a bad address, a port in use or a TLS
 * key that is not the certificate's stop connwatch before it attaches
 * anything; but accepts no connection before metrics_serve: until then a
 * scraper is refused, as if connwatch were not running yet. Plain HTTP
 * to anyone, or as web (--web.config.file) says: TLS, basic auth. The
 * server owns web from then on (metrics_stop frees it); on failure,
 * NULL + err, and web is still the caller's.
 */
struct metrics_server *metrics_bind(const char *listen,
				    struct web_config *web, char *err,
				    size_t errlen);
/*
 * Ready: answers /metrics with render(ctx) from now on, in a thread of its
 * own. Whatever render reads must be complete before this call and stay
 * until metrics_stop returns. 0, or -1 + err.
 */
int metrics_serve(struct metrics_server *server, metrics_render_fn render,
		  void *ctx, char *err, size_t errlen);
/* Once it returns, no render runs (nor will): free what render reads. */
void metrics_stop(struct metrics_server *server);
/* For messages: "https" or "http"; whether it asks for a password. */
const char *metrics_scheme(const struct metrics_server *server);
int metrics_auth(const struct metrics_server *server);
/* The address really bound ("127.0.0.1:PORT": PORT 0 picks one). */
const char *metrics_address(const struct metrics_server *server);
/* The daemon's exposition text (a metrics_render_fn on a cw_daemon). */
char *metrics_render(void *daemon, size_t *len);

#endif
