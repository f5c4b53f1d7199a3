/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* What /proc says about a target process. */
#ifndef CW_PROCFS_H
#define CW_PROCFS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

/* The name of executable code mapped from no file. */
#define CW_MAP_ANON "[anon]"

struct proc_map {
	uint64_t start, end, offset;
	char *path;	/* a file's, or "[...]": the kernel's or CW_MAP_ANON */
};

/* A mapping of a file (not "[vdso]", not CW_MAP_ANON). */
static inline int proc_map_is_file(const struct proc_map *m)
{
	return m->path[0] == '/';
}

struct proc_maps {
	struct proc_map *maps;	/* executable mappings only */
	size_t nr;
};

int proc_exists(pid_t pid);
/* When the process started: clock ticks since boot (/proc/PID/stat's
 * starttime). 0, or -1 when there is no such process. */
int proc_start_ticks(pid_t pid, uint64_t *ticks);
/*
 * A thread of the process that runs (not a zombie): pid itself, or
 * another one when the main thread has ended before them; 0 when none
 * (gone, or a zombie: its fds are all closed).
 */
pid_t proc_live_thread(pid_t pid);
/* The binary a process runs. 0, or -1 with err set. */
int proc_exe(pid_t pid, char *buf, size_t len, char *err, size_t errlen);
void proc_comm(pid_t pid, char *buf, size_t len);
/* Processes running the binary at path (same inode). Returns the count. */
size_t proc_pids_of_exe(const char *path, pid_t *pids, size_t max);

/* pid and every process below it. Returns the count. */
size_t proc_with_descendants(pid_t root, pid_t *pids, size_t max);

int proc_maps_load(pid_t pid, struct proc_maps *out);
/*
 * pid's /proc/PID/maps, opened to be read again later: the kernel checks
 * the right to read another process' mappings (CAP_SYS_PTRACE for one
 * with more privileges) when the file is opened, not at each read, so
 * an fd opened at attach still reads once capabilities are dropped. fd
 * or -1.
 */
int proc_maps_open(pid_t pid);
/* The executable mappings from fd (proc_maps_open), read from its start.
 * 0, or -1 (out empty). */
int proc_maps_read(int fd, pid_t pid, struct proc_maps *out);
/* The executable mappings in f, pid's /proc/PID/maps, into out. */
void proc_maps_parse(FILE *f, pid_t pid, struct proc_maps *out);
const struct proc_map *proc_maps_find(const struct proc_maps *m,
				      uint64_t addr);
void proc_maps_free(struct proc_maps *m);
/* A copy of m into out (its own memory). 0, or -1 (out empty). */
int proc_maps_copy(const struct proc_maps *m, struct proc_maps *out);

#endif
