// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Symbolizes user stacks. Mappings are read from /proc when a process is
 * first seen, because the alert that matters most arrives as the process
 * dies; the probed binary can always be named from the probe's own bias.
 * The maps file and the mapped files are opened then too, and kept: a
 * connwatch that dropped CAP_SYS_PTRACE after attach (privs.h) reads
 * them through these descriptors.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "symbolize.h"

void symbolizer_init(struct symbolizer *z, const struct elf_symtab *main,
		     const struct go_pclntab *main_go)
{
	memset(z, 0, sizeof(*z));
	z->main = main;
	z->main_go = main_go && main_go->nr ? main_go : NULL;
}

static void forget(struct symbolizer *z, size_t i)
{
	proc_maps_free(&z->pids[i].maps);
	if (z->pids[i].maps_fd >= 0)
		close(z->pids[i].maps_fd);
}

void symbolizer_free(struct symbolizer *z)
{
	size_t i;

	for (i = 0; i < z->nr_pids; i++)
		forget(z, i);
	for (i = 0; i < z->nr_files; i++) {
		if (z->files[i].fd >= 0)
			close(z->files[i].fd);
		if (z->files[i].ok)
			elf_symtab_free(&z->files[i].tab);
		free(z->files[i].path);
	}
	z->nr_pids = z->nr_files = 0;
}

/* pid's slot, or -1 when its mappings were never read. */
static int slot_of(const struct symbolizer *z, pid_t pid)
{
	size_t i;

	for (i = 0; i < z->nr_pids; i++)
		if (z->pids[i].pid == pid)
			return i;
	return -1;
}

static struct proc_maps *maps_of(struct symbolizer *z, pid_t pid)
{
	int i = slot_of(z, pid);

	return i < 0 ? NULL : &z->pids[i].maps;
}

/* A free slot for another process' mappings: the oldest forgotten. */
static struct proc_maps *free_slot(struct symbolizer *z)
{
	if (z->nr_pids == CW_SYM_MAX_PIDS) {
		/* Forget the oldest: recent processes are the ones alerting. */
		forget(z, 0);
		memmove(&z->pids[0], &z->pids[1],
			(CW_SYM_MAX_PIDS - 1) * sizeof(z->pids[0]));
		z->nr_pids--;
	}
	return &z->pids[z->nr_pids].maps;
}

static void keep_slot(struct symbolizer *z, pid_t pid, int maps_fd)
{
	z->pids[z->nr_pids].maps_fd = maps_fd;
	z->pids[z->nr_pids++].pid = pid;
}

/* The entry of a file mapped, added (and opened) if new; NULL: full. */
static struct symbolizer_file *file_of(struct symbolizer *z, const char *path)
{
	struct symbolizer_file *f;
	size_t i;

	for (i = 0; i < z->nr_files; i++)
		if (!strcmp(z->files[i].path, path))
			return &z->files[i];
	if (z->nr_files == CW_SYM_MAX_FILES)
		return NULL;
	f = &z->files[z->nr_files];
	*f = (struct symbolizer_file){ .path = strdup(path) };
	if (!f->path)
		return NULL;
	f->fd = open(path, O_RDONLY | O_CLOEXEC);
	z->nr_files++;
	return f;
}

/* Opens what its mappings name, while connwatch may. */
static void open_files(struct symbolizer *z, const struct proc_maps *maps)
{
	size_t i;

	for (i = 0; i < maps->nr; i++)
		if (proc_map_is_file(&maps->maps[i]) &&
		    !(z->main && !strcmp(z->main->path, maps->maps[i].path)))
			file_of(z, maps->maps[i].path);
}

void symbolizer_remember(struct symbolizer *z, pid_t pid)
{
	struct proc_maps *slot;
	int fd;

	if (maps_of(z, pid))
		return;
	fd = proc_maps_open(pid);
	if (fd < 0)
		return;
	slot = free_slot(z);
	/* none: exiting already (a zombie has no mappings), not known */
	if (proc_maps_read(fd, pid, slot) || !slot->nr) {
		proc_maps_free(slot);
		close(fd);
		return;
	}
	open_files(z, slot);
	keep_slot(z, pid, fd);
}

void symbolizer_forget(struct symbolizer *z, pid_t pid)
{
	int i = slot_of(z, pid);

	if (i < 0)
		return;
	forget(z, i);
	memmove(&z->pids[i], &z->pids[i + 1],
		(z->nr_pids - i - 1) * sizeof(z->pids[0]));
	z->nr_pids--;
}

void symbolizer_remember_like(struct symbolizer *z, pid_t pid, pid_t like)
{
	struct proc_maps *slot;
	size_t k;

	if (maps_of(z, pid))
		return;
	for (k = 0; k < z->nr_pids && z->pids[k].pid != like; k++)
		;
	if (k == z->nr_pids)
		return;
	if (z->nr_pids == CW_SYM_MAX_PIDS) {
		if (k == 0)
			return;	/* the oldest: free_slot forgets it */
		k--;		/* where free_slot moves it */
	}
	slot = free_slot(z);
	if (!proc_maps_copy(&z->pids[k].maps, slot))
		keep_slot(z, pid, -1);
}

/*
 * The symbols of a file mapped, read the first time a stack needs them:
 * through the fd opened when its process was first seen (this process'
 * own fds need no privilege), else by its path (mapped since).
 */
static const struct elf_symtab *symtab_of(struct symbolizer *z,
					  const char *path)
{
	struct symbolizer_file *f;
	char err[256], own[64];

	if (z->main && !strcmp(z->main->path, path))
		return z->main;
	f = file_of(z, path);
	if (!f)
		return NULL;
	if (f->loaded)
		return f->ok ? &f->tab : NULL;
	if (f->fd >= 0)
		snprintf(own, sizeof(own), "/proc/self/fd/%d", f->fd);
	f->ok = !elf_symtab_load(&f->tab, f->fd >= 0 ? own : path, err,
				 sizeof(err));
	f->loaded = 1;
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
	return f->ok ? &f->tab : NULL;
}

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

/* Where an address lies: its module and the file address there. */
struct place {
	const struct elf_symtab *tab;	/* NULL: no file, or unreadable */
	const char *module;	/* a path, "[anon]", "[vdso]"; NULL: unknown */
	uint64_t vaddr;
};

/* Go frames by their pclntab (stripped binaries have no .symtab). */
static int name_go(const struct symbolizer *z, const struct place *pl,
		   char *out, size_t len)
{
	const struct go_func *f;

	if (!z->main_go || !pl->tab || pl->tab != z->main)
		return 0;
	f = go_func_by_addr(z->main_go, pl->vaddr);
	if (!f)
		return 0;
	snprintf(out, len, "%s+0x%llx (%s)", f->name,
		 (unsigned long long)(pl->vaddr - f->entry),
		 base_name(pl->module));
	return 1;
}

/*
 * A frame: "function+0xoff (binary)", or a bare address with the module
 * it lies in, "[anon]"-like for code of no file, "[unknown]" when not
 * even that is known. Never a symbol the address is past the end of.
 */
static void name_in(const struct symbolizer *z, const struct place *pl,
		    uint64_t addr, char *out, size_t len)
{
	const struct elf_sym *sym = pl->tab ? elf_symtab_by_addr(pl->tab,
								 pl->vaddr)
					    : NULL;

	if (sym) {
		snprintf(out, len, "%s+0x%llx (%s)", sym->name,
			 (unsigned long long)(pl->vaddr - sym->addr),
			 base_name(pl->module));
		return;
	}
	if (name_go(z, pl, out, len))
		return;
	if (!pl->module)
		snprintf(out, len, "0x%llx [unknown]", (unsigned long long)addr);
	else if (pl->module[0] == '[')
		snprintf(out, len, "0x%llx %s", (unsigned long long)addr,
			 pl->module);
	else
		snprintf(out, len, "0x%llx (%s)", (unsigned long long)addr,
			 base_name(pl->module));
}

/*
 * A library mapped since we looked (dlopen, or read right after exec):
 * read again through the fd kept, else by path. Mappings read empty (the
 * process is gone) are no news: the ones known stay.
 */
static const struct proc_map *find_or_reload(struct symbolizer *z, pid_t pid,
					     uint64_t addr)
{
	int i = slot_of(z, pid), fd = i < 0 ? -1 : z->pids[i].maps_fd;
	struct proc_maps *maps = i < 0 ? NULL : &z->pids[i].maps, fresh;
	const struct proc_map *m = maps ? proc_maps_find(maps, addr) : NULL;

	if (m || !maps)
		return m;
	if (fd >= 0 ? proc_maps_read(fd, pid, &fresh) :
		      proc_maps_load(pid, &fresh))
		return NULL;
	if (!fresh.nr) {
		proc_maps_free(&fresh);
		return NULL;
	}
	proc_maps_free(maps);
	*maps = fresh;
	return proc_maps_find(maps, addr);
}

int symbolizer_in_code(struct symbolizer *z, pid_t pid, uint64_t addr,
		       int if_unknown)
{
	if (!maps_of(z, pid))
		return if_unknown;
	return find_or_reload(z, pid, addr) != NULL;
}

/*
 * Where addr lies in pid. Its mappings, once read, are the truth: an
 * address in none of them is in no module (pl->module NULL). Without
 * them (the process died before they were read) the probed binary is
 * all there is, and it holds addr only where one of its functions does.
 */
static void locate(struct symbolizer *z, pid_t pid, uint64_t addr,
		   uint64_t bias, struct place *pl)
{
	const struct proc_map *m;

	*pl = (struct place){ 0 };
	if (maps_of(z, pid)) {
		m = find_or_reload(z, pid, addr);
		if (!m)
			return;
		pl->module = m->path;
		if (!proc_map_is_file(m))
			return;
		pl->tab = symtab_of(z, m->path);
		pl->vaddr = pl->tab ? elf_offset_to_vaddr(pl->tab, addr -
							  m->start + m->offset) : 0;
		return;
	}
	if (z->main && (elf_symtab_by_addr(z->main, addr - bias) ||
			(z->main_go && go_func_by_addr(z->main_go, addr - bias))))
		*pl = (struct place){ z->main, z->main->path, addr - bias };
}

/*
 * The functions the Go compiler inlined there, innermost first, each a
 * frame of its own as in Go's tracebacks. A return address follows its
 * call, which may be the last instruction of an inlined copy: the call
 * says where it was made.
 */
static size_t name_inlined(const struct symbolizer *z, const struct place *pl,
			   int is_return, char (*out)[CW_FRAME_LEN], size_t max)
{
	const char *names[CW_ALERT_MAX_FRAMES];
	int i, n;

	if (!z->main_go || !pl->tab || pl->tab != z->main)
		return 0;
	n = go_inline_chain(z->main_go, pl->vaddr - (is_return ? 1 : 0), names,
			    max < CW_ALERT_MAX_FRAMES ? max : CW_ALERT_MAX_FRAMES);
	for (i = 0; i < n; i++)
		snprintf(out[i], CW_FRAME_LEN, "%s (inlined)", names[i]);
	return n > 0 ? (size_t)n : 0;
}

size_t symbolize(struct symbolizer *z, pid_t pid, uint64_t addr, uint64_t bias,
		 int is_return, char (*out)[CW_FRAME_LEN], size_t max)
{
	struct place pl;
	size_t n;

	if (!max)
		return 0;
	locate(z, pid, addr, bias, &pl);
	/* the out-of-line frame is always kept: it names the binary */
	n = name_inlined(z, &pl, is_return, out, max - 1);
	name_in(z, &pl, addr, out[n], CW_FRAME_LEN);
	return n + 1;
}
