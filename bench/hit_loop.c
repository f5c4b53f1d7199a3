// SPDX-License-Identifier: GPL-2.0
/*
 * hit_loop - connwatch benchmark target: calls bench_conn_inc() CALLS
 * times and prints the mean wall time per call in ns (CLOCK_MONOTONIC).
 * With a uprobe on bench_conn_inc, the time per call minus the time
 * without one is the cost of one probe hit.
 *
 * The probe is attached before this process starts (connwatch --exe,
 * bpftrace and bench/floor all cover processes started later), so the
 * timed loop needs no hand-shake.
 *
 * usage: hit_loop CALLS
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

struct obj {
	long conns;
};

/*
 * Out of line, not cloned, not dropped: the uprobe needs a real function
 * at its symbol. The body is a plain (unlocked) increment, so the first
 * instruction is an ordinary one and connwatch puts its entry probe at
 * the function's first byte, like bpftrace and the floor do.
 */
__attribute__((noinline, noipa, used)) void bench_conn_inc(struct obj *o)
{
	o->conns++;
	asm volatile("" ::: "memory");
}

static long parse_calls(const char *s)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(s, &end, 10);
	if (errno || *end || n <= 0)
		return -1;
	return n;
}

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	struct obj o = { 0 };
	double start, end;
	long calls, i;

	if (argc != 2 || (calls = parse_calls(argv[1])) < 0) {
		fprintf(stderr, "usage: hit_loop CALLS\n");
		return 2;
	}
	start = now_ns();
	for (i = 0; i < calls; i++)
		bench_conn_inc(&o);
	end = now_ns();
	if (o.conns != calls) {
		fprintf(stderr, "hit_loop: %ld increments, want %ld\n",
			o.conns, calls);
		return 1;
	}
	printf("%.2f\n", (end - start) / calls);
	return 0;
}
