/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* `connwatch run`: start a command held at a gate until probes are in. */
#ifndef CW_SPAWN_H
#define CW_SPAWN_H

#include <stddef.h>
#include <sys/types.h>

struct spawn {
	pid_t pid;
	int gate_fd;		/* write end: closing it lets the child exec */
	int err_fd;		/* read end: errno of a failed exec */
	int status;		/* wait status, once exited */
	int exited;
};

/* Finds CMD like execvp would. 0, or -1 with err set. */
int spawn_resolve(const char *cmd, char *path, size_t len, char *err,
		  size_t errlen);
/* Forks; the child waits at the gate, then execs argv with env_add
 * (NAME=VALUE strings, NULL-terminated, may be NULL) added. */
int spawn_gated(struct spawn *sp, const char *path, char **argv,
		char **env_add, char *err, size_t errlen);
/* Opens the gate. 0, or -1 with err set (the exec failed). */
int spawn_release(struct spawn *sp, char *err, size_t errlen);
void spawn_kill(struct spawn *sp);
/* Reaps the child if it exited (non-blocking). 1 once it has. */
int spawn_reap(struct spawn *sp);
/* The command's status as a shell reports it (128 + signal). */
int spawn_exit_code(const struct spawn *sp);

#endif
