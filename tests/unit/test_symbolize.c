// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The symbolizer after a privilege drop (symbolize.c): a process seen
 * while root is still named by a connwatch that became nobody, through
 * the maps file and mapped files opened when it was first seen, code it
 * maps later included.
 */
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include "../../user/symbolize.h"
#include "unit.h"

#define NOBODY 65534

/* Where the target maps code after it was first seen (a dlopen). */
#define LATE_CODE 0x7e0000000000ull

/*
 * A process of root's (a fork of this one: libc mapped) that maps
 * /bin/true's code at LATE_CODE once told to, on *go; *done says it did.
 */
static pid_t start_target(int *go, int *done)
{
	int to_child[2], from_child[2], fd;
	char byte;
	pid_t pid;

	if (pipe(to_child) || pipe(from_child))
		return -1;
	pid = fork();
	if (pid == 0) {
		if (read(to_child[0], &byte, 1) != 1)
			_exit(1);
		fd = open("/bin/true", O_RDONLY);
		if (fd < 0 || mmap((void *)LATE_CODE, 4096, PROT_READ | PROT_EXEC,
				   MAP_PRIVATE | MAP_FIXED_NOREPLACE, fd, 0) ==
			      MAP_FAILED)
			_exit(1);
		if (write(from_child[1], "m", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	*go = to_child[1];
	*done = from_child[0];
	return pid;
}

/* An address in pid's libc code, read now (as root). */
static uint64_t libc_code(pid_t pid)
{
	struct proc_maps maps;
	uint64_t addr = 0;
	size_t i;

	assert_int_equal(proc_maps_load(pid, &maps), 0);
	for (i = 0; i < maps.nr && !addr; i++)
		if (strstr(maps.maps[i].path, "libc.so.6"))
			addr = maps.maps[i].start + 0x10;
	proc_maps_free(&maps);
	return addr;
}

/*
 * As nobody, with no capability: the path is refused, the fds kept are
 * not. Exit status: 0 when each holds (checked in the parent).
 */
static int as_nobody(struct symbolizer *z, pid_t pid, uint64_t libc,
		     int go, int done)
{
	char out[2][CW_FRAME_LEN], path[64], byte;
	int fd;

	if (setgroups(0, NULL) || setgid(NOBODY) || setuid(NOBODY))
		return 1;
	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	fd = open(path, O_RDONLY);
	if (fd >= 0) {
		close(fd);
		return 2;	/* nothing to show: the path still opens */
	}
	if (symbolize(z, pid, libc, 0, 0, out, 2) != 1 ||
	    !strstr(out[0], "(libc.so.6)"))
		return 3;
	/* Code mapped since it was seen: its maps read again, by the fd. */
	if (write(go, "g", 1) != 1 || read(done, &byte, 1) != 1)
		return 4;
	if (symbolize(z, pid, LATE_CODE + 0x10, 0, 0, out, 2) != 1 ||
	    !strstr(out[0], "(true)"))
		return 5;
	/* An address in no mapping: nothing new, and what was known stays. */
	if (symbolizer_in_code(z, pid, 0x10, 1) ||
	    !symbolizer_in_code(z, pid, libc, 0))
		return 6;
	return 0;
}

static void named_after_dropping_to_nobody(void **state)
{
	struct symbolizer z;
	pid_t target, child;
	int status, go = -1, done = -1;
	uint64_t libc;

	(void)state;
	if (geteuid())
		skip();
	target = start_target(&go, &done);
	assert_true(target > 0);
	libc = libc_code(target);
	assert_true(libc != 0);
	symbolizer_init(&z, NULL, NULL);
	symbolizer_remember(&z, target);
	child = fork();
	if (child == 0)
		_exit(as_nobody(&z, target, libc, go, done));
	assert_int_equal(waitpid(child, &status, 0), child);
	kill(target, SIGKILL);
	waitpid(target, NULL, 0);
	symbolizer_free(&z);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(named_after_dropping_to_nobody),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
