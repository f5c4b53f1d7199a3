// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Starts the command of `connwatch run` behind a gate: the child forks,
 * waits until the probes are attached to its pid, then execs, so not a
 * single connection is missed and the shadow is exact from the start.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "spawn.h"

int spawn_resolve(const char *cmd, char *path, size_t len, char *err,
		  size_t errlen)
{
	const char *dirs = getenv("PATH");
	char *copy, *dir, *save;

	if (strchr(cmd, '/')) {
		snprintf(path, len, "%s", cmd);
		if (!access(path, X_OK))
			return 0;
		snprintf(err, errlen, "%s: %s", cmd, strerror(errno));
		return -1;
	}
	copy = strdup(dirs ? dirs : "/usr/local/bin:/usr/bin:/bin");
	for (dir = strtok_r(copy, ":", &save); dir;
	     dir = strtok_r(NULL, ":", &save)) {
		snprintf(path, len, "%s/%s", dir, cmd);
		if (!access(path, X_OK)) {
			free(copy);
			return 0;
		}
	}
	free(copy);
	snprintf(err, errlen, "%s: command not found", cmd);
	return -1;
}

static void child_exec(int gate, int errpipe, const char *path, char **argv,
		       char **env_add)
{
	char byte;
	int e;

	/* Wait at the gate: EOF when connwatch is ready (or gone). */
	while (read(gate, &byte, 1) < 0 && errno == EINTR)
		;
	close(gate);
	for (; env_add && *env_add; env_add++)
		putenv(*env_add);
	signal(SIGPIPE, SIG_DFL);
	execv(path, argv);
	e = errno;
	if (write(errpipe, &e, sizeof(e)) < 0)
		_exit(127);
	_exit(127);
}

int spawn_gated(struct spawn *sp, const char *path, char **argv,
		char **env_add, char *err, size_t errlen)
{
	int gate[2], errpipe[2];

	memset(sp, 0, sizeof(*sp));
	if (pipe2(gate, O_CLOEXEC) || pipe2(errpipe, O_CLOEXEC)) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		return -1;
	}
	sp->pid = fork();
	if (sp->pid < 0) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		return -1;
	}
	if (!sp->pid) {
		close(gate[1]);
		close(errpipe[0]);
		child_exec(gate[0], errpipe[1], path, argv, env_add);
	}
	close(gate[0]);
	close(errpipe[1]);
	sp->gate_fd = gate[1];
	sp->err_fd = errpipe[0];
	return 0;
}

int spawn_release(struct spawn *sp, char *err, size_t errlen)
{
	ssize_t n;
	int e;

	close(sp->gate_fd);
	sp->gate_fd = -1;
	/* The error pipe closes on a successful exec (O_CLOEXEC). */
	do
		n = read(sp->err_fd, &e, sizeof(e));
	while (n < 0 && errno == EINTR);
	close(sp->err_fd);
	sp->err_fd = -1;
	if (n == sizeof(e)) {
		snprintf(err, errlen, "exec: %s", strerror(e));
		return -1;
	}
	return 0;
}

void spawn_kill(struct spawn *sp)
{
	if (sp->pid > 0 && !sp->exited) {
		kill(sp->pid, SIGKILL);
		waitpid(sp->pid, &sp->status, 0);
		sp->exited = 1;
	}
}

int spawn_reap(struct spawn *sp)
{
	if (!sp->exited && waitpid(sp->pid, &sp->status, WNOHANG) == sp->pid)
		sp->exited = 1;
	return sp->exited;
}

int spawn_exit_code(const struct spawn *sp)
{
	if (WIFSIGNALED(sp->status))
		return 128 + WTERMSIG(sp->status);
	return WEXITSTATUS(sp->status);
}
