// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Reads /proc: process existence, binary, name, executable mappings. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "procfs.h"
#include "grow.h"

int proc_exists(pid_t pid)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	return pid > 0 && access(path, F_OK) == 0;
}

/*
 * /proc/TASK/stat into buf (TASK: "PID", or "PID/task/TID"); returns its
 * fields after comm (which, in parentheses, may hold anything: they
 * follow the last ')'), or NULL.
 */
static const char *stat_fields(const char *task, char *buf, size_t len)
{
	char path[128], *end;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%s/stat", task);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n <= 0)
		return NULL;
	buf[n] = '\0';
	end = strrchr(buf, ')');
	return end ? end + 1 : NULL;
}

int proc_start_ticks(pid_t pid, uint64_t *ticks)
{
	char buf[1024], task[16];
	const char *fields;
	unsigned long long t;

	snprintf(task, sizeof(task), "%d", pid);
	fields = stat_fields(task, buf, sizeof(buf));
	if (!fields || sscanf(fields, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u "
			      "%*u %*u %*u %*d %*d %*d %*d %*d %*d %llu", &t) != 1)
		return -1;
	*ticks = t;
	return 0;
}

/* Whether the task's stat (/proc/PATH/stat) says it runs: not a zombie. */
static int task_runs(const char *path)
{
	const char *fields;
	char buf[1024], state;

	fields = stat_fields(path, buf, sizeof(buf));
	return fields && sscanf(fields, " %c", &state) == 1 && state != 'Z' &&
	       state != 'X';
}

pid_t proc_live_thread(pid_t pid)
{
	char path[64];
	struct dirent *e;
	pid_t tid = 0;
	DIR *dir;

	snprintf(path, sizeof(path), "%d", pid);
	if (task_runs(path))
		return pid;
	/* The main thread may have ended (pthread_exit) before the others. */
	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	dir = opendir(path);
	while (dir && !tid && (e = readdir(dir))) {
		snprintf(path, sizeof(path), "%d/task/%s", pid, e->d_name);
		if (e->d_name[0] != '.' && task_runs(path))
			tid = atoi(e->d_name);
	}
	if (dir)
		closedir(dir);
	return tid;
}

/*
 * A path as the target sees it, made openable from here: connwatch may
 * run in another mount namespace (a container, a DaemonSet pod), where
 * the same path is another file or none. Then /proc/PID/root/PATH is the
 * target's file.
 */
static void path_from_here(pid_t pid, ino_t ino, char *path, size_t len)
{
	char theirs[4096];
	struct stat st;

	if (!stat(path, &st) && st.st_ino == ino)
		return;
	snprintf(theirs, sizeof(theirs), "/proc/%d/root%s", pid, path);
	if (!stat(theirs, &st) && st.st_ino == ino)
		snprintf(path, len, "%s", theirs);
}

int proc_exe(pid_t pid, char *buf, size_t len, char *err, size_t errlen)
{
	struct stat exe;
	char link[64];
	ssize_t n;
	pid_t tid;

	if (!proc_exists(pid)) {
		snprintf(err, errlen, "no process with pid %d", pid);
		return -1;
	}
	/* A main thread that ended (pthread_exit) has no exe: another has. */
	tid = proc_live_thread(pid);
	if (tid > 0 && tid != pid)
		snprintf(link, sizeof(link), "/proc/%d/task/%d/exe", pid, tid);
	else
		snprintf(link, sizeof(link), "/proc/%d/exe", pid);
	n = readlink(link, buf, len - 1);
	if (n < 0) {
		snprintf(err, errlen, "pid %d: cannot read %s: %s", pid, link,
			 errno != EACCES ? strerror(errno) :
			 geteuid() ? "permission denied (run as root)" :
			 "permission denied even to root (a process that "
			 "ptrace access rules or a security module protect)");
		return -1;
	}
	buf[n] = '\0';
	if (!stat(link, &exe))
		path_from_here(pid, exe.st_ino, buf, len);
	return 0;
}

void proc_comm(pid_t pid, char *buf, size_t len)
{
	char path[64];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/comm", pid);
	buf[0] = '\0';
	f = fopen(path, "r");
	if (!f)
		return;
	if (fgets(buf, len, f))
		buf[strcspn(buf, "\n")] = '\0';
	fclose(f);
}

size_t proc_pids_of_exe(const char *path, pid_t *pids, size_t max)
{
	struct stat want, st;
	struct dirent *de;
	size_t n = 0;
	DIR *d;

	if (stat(path, &want) || !(d = opendir("/proc")))
		return 0;
	while ((de = readdir(d)) && n < max) {
		char exe[300];

		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		snprintf(exe, sizeof(exe), "/proc/%s/exe", de->d_name);
		if (!stat(exe, &st) && st.st_dev == want.st_dev &&
		    st.st_ino == want.st_ino)
			pids[n++] = atoi(de->d_name);
	}
	closedir(d);
	return n;
}

static pid_t proc_ppid(const char *pid)
{
	char path[300], buf[512], *close_paren;
	pid_t ppid = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%s/stat", pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	/* comm may hold spaces and parens: the fields follow the last ')'. */
	if (fgets(buf, sizeof(buf), f) && (close_paren = strrchr(buf, ')')))
		sscanf(close_paren + 1, " %*c %d", &ppid);
	fclose(f);
	return ppid;
}

static int listed(const pid_t *pids, size_t n, pid_t pid)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (pids[i] == pid)
			return 1;
	return 0;
}

size_t proc_with_descendants(pid_t root, pid_t *pids, size_t max)
{
	struct dirent *de;
	size_t n = 0, before;
	DIR *d;

	if (!max || !proc_exists(root))
		return 0;
	pids[n++] = root;
	do {	/* one pass per generation */
		before = n;
		if (!(d = opendir("/proc")))
			break;
		while ((de = readdir(d)) && n < max) {
			pid_t pid;

			if (!isdigit((unsigned char)de->d_name[0]))
				continue;
			pid = atoi(de->d_name);
			if (!listed(pids, n, pid) &&
			    listed(pids, n, proc_ppid(de->d_name)))
				pids[n++] = pid;
		}
		closedir(d);
	} while (n > before && n < max);
	return n;
}

static int push_map(struct proc_maps *m, size_t *cap, const struct proc_map *pm)
{
	if (GROW_ROOM(m->maps, m->nr, *cap, 16))
		return -1;
	m->maps[m->nr] = *pm;
	m->maps[m->nr].path = strdup(pm->path);
	return m->maps[m->nr++].path ? 0 : -1;
}

/* The rest of a line too long to be one the kernel wrote. */
static void skip_line(FILE *f)
{
	int c;

	while ((c = getc(f)) != EOF && c != '\n')
		;
}

/*
 * The name an executable mapping is known by, made so in file: a path
 * openable from here, the kernel's own ("[vdso]"), or CW_MAP_ANON for
 * code with no file (a JIT's, code copied into an mmap). 0: no code.
 */
static int map_name(pid_t pid, ino_t ino, char *file, size_t len)
{
	if (!file[0])
		snprintf(file, len, "%s", CW_MAP_ANON);
	else if (file[0] == '/')
		path_from_here(pid, ino, file, len);
	return file[0] == '/' || file[0] == '[';
}

void proc_maps_parse(FILE *f, pid_t pid, struct proc_maps *out)
{
	/* A kernel line: about 80 bytes, then a path of up to PATH_MAX. */
	char line[8192], perms[8], file[4096];
	unsigned long long start, end, off, ino;
	size_t cap = 0;

	memset(out, 0, sizeof(*out));
	while (fgets(line, sizeof(line), f)) {
		struct proc_map pm;
		size_t len = strlen(line);

		/* Read in pieces, its tail would pass for a line of its own. */
		if (len && line[len - 1] != '\n' && !feof(f)) {
			skip_line(f);
			continue;
		}
		file[0] = '\0';
		if (sscanf(line, "%llx-%llx %7s %llx %*s %llu %4095[^\n]",
			   &start, &end, perms, &off, &ino, file) < 5 ||
		    perms[2] != 'x' || !map_name(pid, ino, file, sizeof(file)))
			continue;
		pm = (struct proc_map){ .start = start, .end = end,
					.offset = off, .path = file };
		if (push_map(out, &cap, &pm))
			break;
	}
}

int proc_maps_open(pid_t pid)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	return open(path, O_RDONLY | O_CLOEXEC);
}

int proc_maps_read(int fd, pid_t pid, struct proc_maps *out)
{
	FILE *f;
	int own;

	memset(out, 0, sizeof(*out));
	/* From the start every time: the fd stays the caller's. */
	own = lseek(fd, 0, SEEK_SET) ? -1 : dup(fd);
	if (own < 0)
		return -1;
	f = fdopen(own, "r");
	if (!f) {
		close(own);
		return -1;
	}
	proc_maps_parse(f, pid, out);
	fclose(f);
	return 0;
}

int proc_maps_load(pid_t pid, struct proc_maps *out)
{
	int fd = proc_maps_open(pid), ret;

	memset(out, 0, sizeof(*out));
	if (fd < 0)
		return -1;
	ret = proc_maps_read(fd, pid, out);
	close(fd);
	return ret;
}

const struct proc_map *proc_maps_find(const struct proc_maps *m,
				      uint64_t addr)
{
	size_t i;

	for (i = 0; i < m->nr; i++)
		if (addr >= m->maps[i].start && addr < m->maps[i].end)
			return &m->maps[i];
	return NULL;
}

int proc_maps_copy(const struct proc_maps *m, struct proc_maps *out)
{
	size_t i;

	memset(out, 0, sizeof(*out));
	if (!m->nr)
		return 0;
	out->maps = calloc(m->nr, sizeof(*out->maps));
	if (!out->maps)
		return -1;
	for (out->nr = 0; out->nr < m->nr; out->nr++) {
		i = out->nr;
		out->maps[i] = m->maps[i];
		out->maps[i].path = strdup(m->maps[i].path);
		if (!out->maps[i].path) {
			proc_maps_free(out);
			return -1;
		}
	}
	return 0;
}

void proc_maps_free(struct proc_maps *m)
{
	size_t i;

	for (i = 0; i < m->nr; i++)
		free(m->maps[i].path);
	free(m->maps);
	memset(m, 0, sizeof(*m));
}
