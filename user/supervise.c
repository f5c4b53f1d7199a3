// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Daemon mode. Each target of the config file is watched by its own
 * `connwatch attach` child (its own BPF objects and maps: one target's
 * trouble stays its own), listening on an ephemeral loopback port; this
 * process serves one /metrics that merges theirs. SIGHUP re-reads the
 * file: targets whose options did not change keep their child, and so
 * their counts; removed ones stop, new ones start. A child that dies is
 * restarted with backoff.
 */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "cli.h"
#include "config_file.h"
#include "metrics.h"
#include "privs.h"
#include "web_config.h"
#include "grow.h"

#define MAX_CHILDREN CW_MAX_TARGETS

struct supervisor {
	const char *path;
	int fresh;		/* --fresh: the first children start over */
	char self[4096];	/* this binary, for the children */
	struct config cfg;
	pthread_mutex_t lock;	/* children's addresses, read by /metrics */
};

static volatile sig_atomic_t got_hup, got_stop;

static void on_hup(int sig) { (void)sig; got_hup = 1; }
static void on_stop(int sig) { (void)sig; got_stop = 1; }


/* ---- the children -------------------------------------------------- */

/*
 * fresh: the child adopts no state pinned by a connwatch before. Only at
 * the daemon's start: a child restarted later, or for a changed target,
 * goes on from its pinned state.
 */
static void child_start(struct child *c, int fresh)
{
	int fds[2], n;

	/* address is empty: never set yet, or cleared by reap under lock */
	c->used = 0;
	if (pipe2(fds, O_CLOEXEC))
		return;
	c->pid = fork();
	if (c->pid < 0) {
		c->pid = 0;
		close(fds[0]);
		close(fds[1]);
		return;
	}
	if (!c->pid) {
		dup2(fds[1], STDERR_FILENO);
		signal(SIGPIPE, SIG_DFL);
		for (n = 0; c->argv[n]; n++)
			;
		if (fresh) {	/* push_arg left room for it */
			c->argv[n] = "--fresh";
			c->argv[n + 1] = NULL;
		}
		execv(c->argv[0], c->argv);
		_exit(127);
	}
	close(fds[1]);
	c->err_fd = fds[0];
}

static void child_stop(struct child *c)
{
	if (c->pid > 0) {
		kill(c->pid, SIGTERM);
		waitpid(c->pid, NULL, 0);
	}
	if (c->pid > 0 && c->err_fd >= 0)
		close(c->err_fd);
	c->pid = 0;
	c->err_fd = -1;
}

/* What a child watches, as its argv says: "pid N" or the binary. */
static void child_name(const struct child *c, char *name, size_t len)
{
	int i;

	snprintf(name, len, "?");
	for (i = 0; c->argv[i] && c->argv[i + 1]; i++) {
		if (!strcmp(c->argv[i], "--pid"))
			snprintf(name, len, "pid %s", c->argv[i + 1]);
		else if (!strcmp(c->argv[i], "--exe"))
			snprintf(name, len, "%s", c->argv[i + 1]);
	}
}

/*
 * A line from a child: learn its metrics address, pass the rest on,
 * each naming the target. The child's own "metrics on ...; Ctrl-C to
 * detach" is not true of the daemon (its port is internal, the daemon
 * serves): it becomes one line saying the target is in.
 */
static void child_line(struct supervisor *s, struct child *c, const char *l)
{
	static const char own[] = "connwatch: ";
	const char *m = strstr(l, "metrics on http://");
	char name[256];

	child_name(c, name, sizeof(name));
	if (m && !c->address[0]) {
		pthread_mutex_lock(&s->lock);
		sscanf(m + strlen("metrics on http://"), "%63[^/]", c->address);
		pthread_mutex_unlock(&s->lock);
		c->backoff_s = 0;
		fprintf(stderr, "connwatch: target %s: attached, served on the "
			"daemon's /metrics\n", name);
		return;
	}
	if (!strncmp(l, own, strlen(own)))
		fprintf(stderr, "connwatch: target %s: %s\n", name,
			l + strlen(own));
	else
		fprintf(stderr, "%s\n", l);
}

static void child_read(struct supervisor *s, struct child *c)
{
	ssize_t n = read(c->err_fd, c->line + c->used, sizeof(c->line) - 1 - c->used);
	char *nl;

	if (n <= 0)
		return;
	c->used += n;
	c->line[c->used] = '\0';
	while ((nl = strchr(c->line, '\n'))) {
		*nl = '\0';
		child_line(s, c, c->line);
		c->used -= nl + 1 - c->line;
		memmove(c->line, nl + 1, c->used + 1);
	}
	if (c->used == sizeof(c->line) - 1)
		c->used = 0;	/* an endless line: drop it */
}

/* Reaps children; one that died is restarted after a growing pause. */
static void reap(struct supervisor *s)
{
	struct config *cfg = &s->cfg;
	int i, status;

	for (i = 0; i < cfg->nr; i++) {
		struct child *c = &cfg->children[i];

		if (c->pid <= 0 || waitpid(c->pid, &status, WNOHANG) != c->pid)
			continue;
		fprintf(stderr, "connwatch: target %d (pid %d) stopped (%s %d); "
			"restarting in %d s\n", i + 1, c->pid,
			WIFSIGNALED(status) ? "signal" : "status",
			WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status),
			c->backoff_s ? c->backoff_s : 1);
		close(c->err_fd);
		c->err_fd = -1;
		c->pid = 0;
		pthread_mutex_lock(&s->lock);
		c->address[0] = '\0';
		pthread_mutex_unlock(&s->lock);
		c->backoff_s = c->backoff_s ? c->backoff_s * 2 : 1;
		if (c->backoff_s > 60)
			c->backoff_s = 60;
		c->restart_at = time(NULL) + c->backoff_s;
	}
	for (i = 0; i < cfg->nr; i++)
		if (!cfg->children[i].pid && time(NULL) >= cfg->children[i].restart_at)
			child_start(&cfg->children[i], 0);
}

static void serve_children(struct supervisor *s)
{
	struct pollfd fds[MAX_CHILDREN];
	int i, n = 0, map[MAX_CHILDREN];

	for (i = 0; i < s->cfg.nr; i++)
		if (s->cfg.children[i].pid > 0 && s->cfg.children[i].err_fd >= 0) {
			fds[n] = (struct pollfd){ .fd = s->cfg.children[i].err_fd,
						  .events = POLLIN };
			map[n++] = i;
		}
	if (poll(fds, n, 200) <= 0)
		return;
	for (i = 0; i < n; i++)
		if (fds[i].revents & (POLLIN | POLLHUP))
			child_read(s, &s->cfg.children[map[i]]);
}

/*
 * SIGHUP: same options, same child (its counts stay); others replaced.
 * The new set is published before the old children stop: /metrics never
 * scrapes a child that is going away.
 */
static void reload(struct supervisor *s)
{
	struct config next, prev;
	char err[512];
	int i, j;

	if (config_load(&next, s->self, s->path, err, sizeof(err))) {
		fprintf(stderr, "connwatch: reload: %s; keeping the running "
			"configuration\n", err);
		return;
	}
	pthread_mutex_lock(&s->lock);
	for (i = 0; i < s->cfg.nr; i++) {
		struct child *old = &s->cfg.children[i];

		for (j = 0; j < next.nr && strcmp(next.children[j].key, old->key); j++)
			;
		if (j < next.nr && !next.children[j].pid) {
			/* Kept: hand over the running child and its state. */
			memcpy(next.children[j].line, old->line, sizeof(old->line));
			next.children[j].used = old->used;
			next.children[j].pid = old->pid;
			next.children[j].err_fd = old->err_fd;
			memcpy(next.children[j].address, old->address,
			       sizeof(old->address));
			old->pid = 0;
		}
	}
	prev = s->cfg;
	s->cfg = next;
	pthread_mutex_unlock(&s->lock);
	for (i = 0; i < prev.nr; i++)
		child_stop(&prev.children[i]);
	config_free(&prev);
	for (i = 0; i < s->cfg.nr; i++)
		if (!s->cfg.children[i].pid)
			child_start(&s->cfg.children[i], 0);
	fprintf(stderr, "connwatch: reloaded %s: %d targets\n", s->path,
		s->cfg.nr);
}

/* ---- one /metrics from all ------------------------------------------ */

struct family {
	char name[160];
	char *help, *type_line;
	int gauge;
	char **keys;
	double *values;
	int nr, cap;
};

struct merge {
	struct family *f;
	int nr, cap;
};

static struct family *family_of(struct merge *m, const char *name)
{
	int i;

	for (i = 0; i < m->nr; i++)
		if (!strcmp(m->f[i].name, name))
			return &m->f[i];
	if (GROW_ROOM(m->f, m->nr, m->cap, 32))
		return NULL;
	memset(&m->f[m->nr], 0, sizeof(m->f[0]));
	snprintf(m->f[m->nr].name, sizeof(m->f[0].name), "%s", name);
	return &m->f[m->nr++];
}

/* The same series from two children: counters add up, gauges keep the max. */
static void add_sample(struct family *f, const char *key, double v)
{
	int i, cap_keys;

	for (i = 0; i < f->nr; i++)
		if (!strcmp(f->keys[i], key)) {
			f->values[i] = f->gauge ? (v > f->values[i] ? v : f->values[i])
						: f->values[i] + v;
			return;
		}
	/* Two arrays, one count: values takes the cap once both grew. */
	cap_keys = f->cap;
	if (GROW_ROOM(f->keys, f->nr, cap_keys, 16) ||
	    GROW_ROOM(f->values, f->nr, f->cap, 16))
		return;
	f->keys[f->nr] = strdup(key);
	f->values[f->nr++] = v;
}

static void merge_line(struct merge *m, struct family **cur, char *l)
{
	char name[160], *sp;

	if (!strncmp(l, "# HELP ", 7) || !strncmp(l, "# TYPE ", 7)) {
		if (sscanf(l + 7, "%159s", name) != 1 || !(*cur = family_of(m, name)))
			return;
		if (l[2] == 'H' && !(*cur)->help)
			(*cur)->help = strdup(l);
		if (l[2] == 'T' && !(*cur)->type_line) {
			(*cur)->type_line = strdup(l);
			(*cur)->gauge = !!strstr(l, " gauge");
		}
		return;
	}
	sp = strrchr(l, ' ');
	if (!*cur || l[0] == '#' || !sp)
		return;
	*sp = '\0';
	add_sample(*cur, l, strtod(sp + 1, NULL));
}

static size_t on_body(char *p, size_t size, size_t n, void *out)
{
	fwrite(p, size, n, out);
	return size * n;
}

static void scrape_child(struct merge *m, const char *address)
{
	char url[128], *text = NULL, *line, *save;
	size_t len = 0;
	struct family *cur = NULL;
	int complete = 0;
	FILE *f = open_memstream(&text, &len);
	CURL *c = curl_easy_init();

	snprintf(url, sizeof(url), "http://%s/metrics", address);
	if (c && f) {
		curl_easy_setopt(c, CURLOPT_URL, url);
		curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
		curl_easy_setopt(c, CURLOPT_WRITEDATA, f);
		curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 3000L);
		curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L);
		complete = curl_easy_perform(c) == CURLE_OK;
	}
	if (c)
		curl_easy_cleanup(c);
	if (f)
		fclose(f);
	/* A child that died mid-answer: its half text would be wrong sums. */
	for (line = text && complete ? strtok_r(text, "\n", &save) : NULL; line;
	     line = strtok_r(NULL, "\n", &save))
		merge_line(m, &cur, line);
	free(text);
}

static char *render_all(void *ctx, size_t *len)
{
	struct supervisor *s = ctx;
	char addresses[MAX_CHILDREN][64], *out = NULL;
	struct merge m = { 0 };
	int i, j, n = 0;
	FILE *f;

	pthread_mutex_lock(&s->lock);
	for (i = 0; i < s->cfg.nr; i++)
		if (s->cfg.children[i].address[0])
			memcpy(addresses[n++], s->cfg.children[i].address, 64);
	pthread_mutex_unlock(&s->lock);
	for (i = 0; i < n; i++)
		scrape_child(&m, addresses[i]);
	f = open_memstream(&out, len);
	for (i = 0; f && i < m.nr; i++) {
		struct family *fam = &m.f[i];

		if (fam->help)
			fprintf(f, "%s\n", fam->help);
		if (fam->type_line)
			fprintf(f, "%s\n", fam->type_line);
		for (j = 0; j < fam->nr; j++)
			fprintf(f, "%s %.17g\n", fam->keys[j], fam->values[j]);
	}
	for (i = 0; i < m.nr; i++) {
		for (j = 0; j < m.f[i].nr; j++)
			free(m.f[i].keys[j]);
		free(m.f[i].keys);
		free(m.f[i].values);
		free(m.f[i].help);
		free(m.f[i].type_line);
	}
	free(m.f);
	if (f)
		fclose(f);
	return out;
}

/* ---- the command ----------------------------------------------------- */

/* How long /metrics may wait for the first attach of every target. */
#define READY_TIMEOUT_S 30

/* Attached (it serves), or failed at least once: retried with backoff. */
static int child_settled(const struct child *c)
{
	return c->address[0] || c->backoff_s > 0;
}

/*
 * /metrics answers once every target's child has attached or failed: no
 * first scrape without a target that is about to appear. One stuck child
 * does not keep the others unserved past READY_TIMEOUT_S.
 */
static int ready(const struct supervisor *s, time_t deadline)
{
	int i, n = 0;

	for (i = 0; i < s->cfg.nr; i++)
		n += child_settled(&s->cfg.children[i]);
	if (n < s->cfg.nr && time(NULL) < deadline)
		return 0;
	if (n < s->cfg.nr)
		fprintf(stderr, "connwatch: %d of %d targets not attached after "
			"%d s; serving the others\n", s->cfg.nr - n, s->cfg.nr,
			READY_TIMEOUT_S);
	return 1;
}

static int serve(struct supervisor *s, struct metrics_server *server)
{
	char err[512];

	if (metrics_serve(server, render_all, s, err, sizeof(err))) {
		fprintf(stderr, "connwatch: %s\n", err);
		return -1;
	}
	fprintf(stderr, "connwatch: %d targets from %s; metrics on %s://%s/metrics; "
		"SIGHUP reloads\n", s->cfg.nr, s->path, metrics_scheme(server),
		metrics_address(server));
	return 0;
}

/*
 * The supervisor itself uses no capability: it reads its config file,
 * merges what its children serve and restarts them. They attach, so it
 * keeps what attaching needs for them only (ambient), none effective.
 * With user: in the file, what becoming that user needs too, and
 * CAP_KILL for itself: its children then run as another user, and it
 * stops them (at a reload, at its end). It stays root's uid: it starts
 * children that attach.
 */
static int keep_for_children(const struct supervisor *s, char *err,
			     size_t errlen)
{
	static const struct privs_user stay = { NULL, 0, 0 };
	struct privs_keep keep = { 0, CW_CAPS_ATTACH }, kept;
	char own[64], names[160];

	if (s->cfg.user) {
		keep.own = CW_CAP(CAP_KILL);
		keep.children |= CW_CAPS_SWITCH_USER;
	}
	if (privs_drop(keep, &stay, &kept, err, errlen))
		return -1;
	privs_name(kept.own, own, sizeof(own));
	privs_name(kept.children, names, sizeof(names));
	fprintf(stderr, "connwatch: capabilities: %s in use%s; %s kept for "
		"the children that attach (the rest dropped)\n", own,
		kept.own ? " (stopping children of another user)" : "", names);
	return 0;
}

/* The children's loop; /metrics answers from the moment all are in. */
static int supervise(struct supervisor *s)
{
	time_t deadline = time(NULL) + READY_TIMEOUT_S;
	struct metrics_server *server;
	struct web_config *web = NULL;
	int i, serving = 0, ret = 0;
	char err[512];

	if (s->cfg.web_config &&
	    !(web = web_config_load(s->cfg.web_config, err, sizeof(err))))
		goto fail;
	/* Bound now: a port in use fails before any child starts. */
	server = metrics_bind(s->cfg.listen ? s->cfg.listen : CW_DEFAULT_LISTEN,
			      web, err, sizeof(err));
	if (!server) {
		web_config_free(web);
		goto fail;
	}
	if (keep_for_children(s, err, sizeof(err))) {
		metrics_stop(server);
		goto fail;
	}
	for (i = 0; i < s->cfg.nr; i++)
		child_start(&s->cfg.children[i], s->fresh);
	while (!got_stop) {
		if (got_hup) {
			got_hup = 0;
			reload(s);
		}
		serve_children(s);
		reap(s);
		if (serving || !ready(s, deadline))
			continue;
		if ((ret = serve(s, server)))
			break;
		serving = 1;
	}
	metrics_stop(server);
	for (i = 0; i < s->cfg.nr; i++)
		child_stop(&s->cfg.children[i]);
	fprintf(stderr, "connwatch: stopped\n");
	return ret ? 1 : 0;
fail:
	fprintf(stderr, "connwatch: %s\n", err);
	return 1;
}

static const char config_help[] =
"usage: connwatch --config FILE [--fresh]\n"
"\n"
"Daemon mode: watches every target of FILE (YAML: listen, alert_log,\n"
"web_config, alertmanager, on_alert, user (each child runs as it once\n"
"attached; given when the daemon starts), and targets, each with exe or pid,\n"
"and presets, specs, on_critical; no presets or specs: those that fit are\n"
"chosen), each in its own `connwatch attach` child, behind one /metrics.\n"
"One process is one target: two entries watching one process are refused.\n"
"SIGHUP re-reads FILE, keeping unchanged targets and their counts.\n"
"--fresh: the first children adopt no pinned state (see connwatch(8)).\n";

int cmd_config(int argc, char **argv)
{
	struct sigaction hup = { .sa_handler = on_hup }, stop = { .sa_handler = on_stop };
	static struct supervisor s;
	char err[512];
	ssize_t n;
	int ret;

	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		fputs(config_help, stdout);
		return 0;
	}
	if (argc == 3 && !strcmp(argv[2], "--fresh"))
		s.fresh = 1;
	else if (argc != 2)
		die_usage("--config", "expected FILE, then optionally --fresh");
	/* First: SIGHUP's default action would end a daemon still starting. */
	sigaction(SIGHUP, &hup, NULL);
	sigaction(SIGINT, &stop, NULL);
	sigaction(SIGTERM, &stop, NULL);
	signal(SIGPIPE, SIG_IGN);
	s.path = argv[1];
	pthread_mutex_init(&s.lock, NULL);
	n = readlink("/proc/self/exe", s.self, sizeof(s.self) - 1);
	if (n <= 0) {
		fprintf(stderr, "connwatch: /proc/self/exe: %s\n", strerror(errno));
		return 1;
	}
	s.self[n] = '\0';
	if (config_load(&s.cfg, s.self, s.path, err, sizeof(err))) {
		fprintf(stderr, "connwatch: %s\n", err);
		return 1;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	ret = supervise(&s);
	config_free(&s.cfg);
	return ret;
}
