// SPDX-License-Identifier: GPL-2.0
/*
 * uring_nop OPS: submits OPS io_uring NOPs, 32 at a time, and prints the
 * ns per NOP (submission to reaped completion). The cheapest io_uring
 * request there is: what a program on io_uring's tracepoints adds to
 * every request on the host shows here whole.
 */
#include <liburing.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BATCH 32

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int run_batch(struct io_uring *ring)
{
	struct io_uring_cqe *cqe;
	int i, ret;

	for (i = 0; i < BATCH; i++)
		io_uring_prep_nop(io_uring_get_sqe(ring));
	ret = io_uring_submit_and_wait(ring, BATCH);
	if (ret < 0)
		return ret;
	for (i = 0; i < BATCH; i++) {
		ret = io_uring_wait_cqe(ring, &cqe);
		if (ret)
			return ret;
		io_uring_cqe_seen(ring, cqe);
	}
	return 0;
}

int main(int argc, char **argv)
{
	long ops = argc == 2 ? atol(argv[1]) : 0, done;
	struct io_uring ring;
	double start;
	int ret;

	if (argc != 2 || ops < BATCH) {
		fprintf(stderr, "usage: uring_nop OPS (>= %d)\n", BATCH);
		return 2;
	}
	ret = io_uring_queue_init(2 * BATCH, &ring, 0);
	if (ret) {
		fprintf(stderr, "uring_nop: io_uring: %s\n", strerror(-ret));
		return 1;
	}
	start = now_ns();
	for (done = 0; done < ops; done += BATCH) {
		ret = run_batch(&ring);
		if (ret) {
			fprintf(stderr, "uring_nop: %s\n", strerror(-ret));
			return 1;
		}
	}
	printf("%.1f\n", (now_ns() - start) / done);
	io_uring_queue_exit(&ring);
	return 0;
}
