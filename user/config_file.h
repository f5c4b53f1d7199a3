/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* `connwatch --config FILE`: the file, read into one child per target. */
#ifndef CW_CONFIG_FILE_H
#define CW_CONFIG_FILE_H

#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#define CW_CONFIG_MAX_ARGS 64

struct child {
	char *argv[CW_CONFIG_MAX_ARGS];	/* connwatch attach ...; NULL-terminated,
					 * with room for --fresh */
	char key[2048];		/* the argv joined: same key, same child */
	pid_t pid;		/* 0: not running */
	int err_fd;		/* its stderr, forwarded line by line */
	char line[1024];
	size_t used;
	char address[64];	/* its /metrics, once it said so */
	time_t restart_at;
	int backoff_s;
};

struct config {
	char *listen, *alert_log, *web_config, *alertmanager, *on_alert;
	char *user;		/* user: every child runs as it once attached */
	struct child *children;
	int nr;
};

/*
 * Reads path; self is this binary, the children's argv[0]. 0, or -1 with
 * "FILE:LINE: what is wrong" in err.
 */
int config_load(struct config *cfg, const char *self, const char *path,
		char *err, size_t errlen);
/* The same from text; name stands for the file in messages. */
int config_parse_string(struct config *cfg, const char *self, const char *name,
			const char *text, char *err, size_t errlen);
void config_free(struct config *cfg);

#endif
