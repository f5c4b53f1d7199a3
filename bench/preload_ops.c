// SPDX-License-Identifier: GPL-2.0
/*
 * preload_ops - what the LD_PRELOAD shim adds to the calls it wraps:
 * times N of one operation and prints the ns per operation.
 *
 *   close N    close() of an fd the shim never tracked (a dup of stdin):
 *              every close of a program pays this check
 *   accept N   a loopback connect, accept and close of both ends: the
 *              shim's accounting of one connection
 *   fork N     fork(), the child _exits, waitpid(): the shim's fork child
 *              makes a page and a connection of its own
 *
 * Prints the CPU time per operation (user + system, its own and its
 * children's: a fork child's work is the fork's cost), in ns: on a
 * machine shared with other work it moves far less than wall time.
 *
 * usage: preload_ops close|accept|fork N
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static double tv_ns(struct timeval tv)
{
	return tv.tv_sec * 1e9 + tv.tv_usec * 1e3;
}

/* CPU time so far, this process and its reaped children, in ns. */
static double cpu_ns(void)
{
	struct rusage self, children;

	getrusage(RUSAGE_SELF, &self);
	getrusage(RUSAGE_CHILDREN, &children);
	return tv_ns(self.ru_utime) + tv_ns(self.ru_stime) +
	       tv_ns(children.ru_utime) + tv_ns(children.ru_stime);
}

static int op_close(void)
{
	int fd = dup(0);

	return fd < 0 ? -1 : close(fd);
}

static int lfd = -1;
static struct sockaddr_in addr = { .sin_family = AF_INET };

static int op_accept(void)
{
	int c = socket(AF_INET, SOCK_STREAM, 0), s;

	if (c < 0 || connect(c, (struct sockaddr *)&addr, sizeof(addr)))
		return -1;
	s = accept(lfd, NULL, NULL);
	close(c);
	return s < 0 ? -1 : close(s);
}

static int op_fork(void)
{
	int status;
	pid_t pid = fork();

	if (pid == 0)
		_exit(0);
	return pid < 0 || waitpid(pid, &status, 0) != pid ? -1 : 0;
}

static int listen_loopback(void)
{
	socklen_t len = sizeof(addr);

	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	return lfd < 0 || bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) ||
	       listen(lfd, 16) ||
	       getsockname(lfd, (struct sockaddr *)&addr, &len) ? -1 : 0;
}

int main(int argc, char **argv)
{
	long n = argc == 3 ? strtol(argv[2], NULL, 10) : 0;
	int (*op)(void) = NULL;
	double t0;

	if (argc == 3 && !strcmp(argv[1], "close"))
		op = op_close;
	else if (argc == 3 && !strcmp(argv[1], "accept"))
		op = op_accept;
	else if (argc == 3 && !strcmp(argv[1], "fork"))
		op = op_fork;
	if (!op || n <= 0 || (op == op_accept && listen_loopback())) {
		fprintf(stderr, "usage: preload_ops close|accept|fork N\n");
		return 2;
	}
	t0 = cpu_ns();
	for (long i = 0; i < n; i++)
		if (op()) {
			perror("preload_ops");
			return 1;
		}
	printf("%.1f\n", (cpu_ns() - t0) / n);
	return 0;
}
