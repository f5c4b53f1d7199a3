// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * floor - the benchmark floor: attaches floor.bpf.c's counter bump as a
 * plain uprobe on FUNC in BINARY, for every process (pid -1, so processes
 * started later are covered too), or with --sockets on the syscall
 * tracepoints the sockets preset puts on every accept and close (exits
 * of accept and accept4, entry of close), or with --tracing on the entry
 * of acct(2), which nothing calls: the kernel's syscall tracing path
 * alone, which every system call on the host takes once a syscall
 * tracepoint is on. Waits for SIGINT or SIGTERM. Prints "attached" on
 * stderr once the probes are in, and "hits N" on stdout at exit.
 *
 * usage: floor BINARY FUNC
 *        floor --sockets
 *        floor --tracing
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "floor.skel.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int catch_signals(void)
{
	struct sigaction sa = { .sa_handler = on_signal };

	sigemptyset(&sa.sa_mask);
	/* A background job of a script starts with SIGINT ignored: set both. */
	if (sigaction(SIGINT, &sa, NULL) || sigaction(SIGTERM, &sa, NULL))
		return -errno;
	return 0;
}

static int attach_uprobe(struct floor_bpf *skel, const char *binary,
			 const char *func)
{
	LIBBPF_OPTS(bpf_uprobe_opts, opts, .func_name = func);
	struct bpf_link *link;

	/* libbpf finds FUNC's file offset in BINARY's symbol table. */
	link = bpf_program__attach_uprobe_opts(skel->progs.count_hit, -1,
					       binary, 0, &opts);
	if (!link)
		return -errno;
	skel->links.count_hit = link;	/* destroyed with the skeleton */
	return 0;
}

/* The tracepoints, each named by its program's SEC(). */
static int attach_tracepoints(struct bpf_program **progs,
			      struct bpf_link ***links, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		*links[i] = bpf_program__attach(progs[i]);
		if (!*links[i])
			return -errno;
	}
	return 0;
}

static int attach_sockets(struct floor_bpf *skel)
{
	struct bpf_program *progs[] = { skel->progs.count_accept,
					skel->progs.count_accept4,
					skel->progs.count_close };
	struct bpf_link **links[] = { &skel->links.count_accept,
				      &skel->links.count_accept4,
				      &skel->links.count_close };

	return attach_tracepoints(progs, links, ARRAY_SIZE(progs));
}

static int attach_tracing(struct floor_bpf *skel)
{
	struct bpf_program *progs[] = { skel->progs.count_acct };
	struct bpf_link **links[] = { &skel->links.count_acct };

	return attach_tracepoints(progs, links, ARRAY_SIZE(progs));
}

static unsigned long long total_hits(struct floor_bpf *skel)
{
	int ncpu = libbpf_num_possible_cpus();
	unsigned long long total = 0;
	__u64 *per_cpu;
	__u32 zero = 0;
	int i;

	if (ncpu <= 0 || !(per_cpu = calloc(ncpu, sizeof(*per_cpu))))
		return 0;
	if (!bpf_map_lookup_elem(bpf_map__fd(skel->maps.hits), &zero, per_cpu))
		for (i = 0; i < ncpu; i++)
			total += per_cpu[i];
	free(per_cpu);
	return total;
}

static void usage(void)
{
	fprintf(stderr, "usage: floor BINARY FUNC\n       floor --sockets\n"
		"       floor --tracing\n");
}

int main(int argc, char **argv)
{
	int sockets = argc == 2 && !strcmp(argv[1], "--sockets");
	int tracing = argc == 2 && !strcmp(argv[1], "--tracing");
	struct floor_bpf *skel;
	int err;

	if (argc != 3 && !sockets && !tracing) {
		usage();
		return 2;
	}
	err = catch_signals();
	if (err) {
		fprintf(stderr, "floor: sigaction: %s\n", strerror(-err));
		return 1;
	}
	skel = floor_bpf__open_and_load();
	if (!skel) {
		fprintf(stderr, "floor: load: %s\n", strerror(errno));
		return 1;
	}
	if (sockets)
		err = attach_sockets(skel);
	else if (tracing)
		err = attach_tracing(skel);
	else
		err = attach_uprobe(skel, argv[1], argv[2]);
	if (err) {
		if (sockets || tracing)
			fprintf(stderr, "floor: attach the syscall tracepoints: %s\n",
				strerror(-err));
		else
			fprintf(stderr, "floor: attach %s:%s: %s\n", argv[1],
				argv[2], strerror(-err));
		floor_bpf__destroy(skel);
		return 1;
	}
	fprintf(stderr, "attached\n");
	while (!stop)
		pause();
	printf("hits %llu\n", total_hits(skel));
	floor_bpf__destroy(skel);
	return 0;
}
