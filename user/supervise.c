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
#include "metrics.h"
#include "presets.h"
#include "spec.h"
#include "web_config.h"
#include "yaml_doc.h"

#define MAX_ARGS 64
#define MAX_CHILDREN CW_MAX_TARGETS

struct child {
	char *argv[MAX_ARGS];	/* connwatch attach ...; NULL-terminated,
				 * with room for --fresh */
	char key[2048];		/* the argv joined: same key, same child */
	pid_t pid;		/* 0: not running */
	int err_fd;		/* its stderr, forwarded line by line */
	char line[1024];
	size_t used;
	char address[64];	/* its /metrics, once it said so */
	time_t restart_at;
	int backoff_s;
};

struct config {
	char *listen, *alert_log, *web_config, *alertmanager, *on_alert;
	struct child *children;
	int nr;
};

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

/* ---- the config file ---------------------------------------------- */

struct cparse {
	yaml_document_t doc;
	const char *name;
	char *err;
	size_t errlen;
};

static int cfail(struct cparse *p, const yaml_node_t *at, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ydoc_verror(p->err, p->errlen, p->name, at, fmt, ap);
	va_end(ap);
	return -1;
}

static yaml_node_t *node(struct cparse *p, int id)
{
	return yaml_document_get_node(&p->doc, id);
}

static int push_arg(struct child *c, int *n, const char *a)
{
	if (*n == MAX_ARGS - 2 || !(c->argv[*n] = strdup(a)))
		return -1;
	c->argv[++*n] = NULL;
	return 0;
}

/* presets: [a, b] or specs: [x.yaml] into --preset a --preset b ... */
static int list_args(struct cparse *p, const yaml_node_t *v, const char *opt,
		     struct child *c, int *n)
{
	yaml_node_item_t *it;
	char err[512];

	if (v->type != YAML_SEQUENCE_NODE)
		return cfail(p, v, "%s: expected a list", opt + 2);
	for (it = v->data.sequence.items.start; it < v->data.sequence.items.top;
	     it++) {
		const char *s = ydoc_scalar(node(p, *it));
		struct spec spec;

		if (!s)
			return cfail(p, v, "%s: expected names", opt + 2);
		if (!strcmp(opt, "--preset") && !preset_find(s))
			return cfail(p, node(p, *it), "unknown preset '%s' "
				     "(`connwatch presets` lists them)", s);
		if (!strcmp(opt, "--spec")) {
			if (spec_parse_file(&spec, s, err, sizeof(err)))
				return cfail(p, node(p, *it), "%s", err);
			spec_free(&spec);
		}
		if (push_arg(c, n, opt) || push_arg(c, n, s))
			return cfail(p, v, "too many options");
	}
	return 0;
}

static int target_field(struct cparse *p, const char *k, const yaml_node_t *v,
			struct child *c, int *n, int *has_what, int *has_how)
{
	static const char *const scalars[][2] = {
		{ "exe", "--exe" }, { "pid", "--pid" },
		{ "on_critical", "--on-critical" },
	};
	size_t i;

	if (!strcmp(k, "presets") || !strcmp(k, "specs")) {
		*has_how = 1;
		return list_args(p, v, k[0] == 'p' ? "--preset" : "--spec", c, n);
	}
	for (i = 0; i < sizeof(scalars) / sizeof(scalars[0]); i++) {
		if (strcmp(k, scalars[i][0]))
			continue;
		if (!ydoc_scalar(v))
			return cfail(p, v, "%s: expected a value", k);
		*has_what += i < 2;
		return push_arg(c, n, scalars[i][1]) ||
		       push_arg(c, n, ydoc_scalar(v)) ?
		       cfail(p, v, "too many options") : 0;
	}
	return cfail(p, v, "target: unknown key '%s' (expected exe, pid, "
		     "presets, specs, on_critical)", k);
}

/* The shared options, then the target's, after `connwatch attach`. */
static int parse_target(struct cparse *p, struct supervisor *s,
			struct config *cfg, const yaml_node_t *t,
			struct child *c)
{
	const char *shared[][2] = {
		{ "--alert-log", cfg->alert_log }, { "--alertmanager", cfg->alertmanager },
		{ "--on-alert", cfg->on_alert },
	};
	int n = 0, has_what = 0, has_how = 0;
	yaml_node_pair_t *pr;
	size_t i;

	memset(c, 0, sizeof(*c));
	if (t->type != YAML_MAPPING_NODE)
		return cfail(p, t, "targets: each target is a mapping");
	if (push_arg(c, &n, s->self) || push_arg(c, &n, "attach") ||
	    push_arg(c, &n, "--listen") || push_arg(c, &n, "127.0.0.1:0") ||
	    push_arg(c, &n, "--json"))
		return cfail(p, t, "out of memory");
	for (i = 0; i < sizeof(shared) / sizeof(shared[0]); i++)
		if (shared[i][1] && (push_arg(c, &n, shared[i][0]) ||
				     push_arg(c, &n, shared[i][1])))
			return cfail(p, t, "out of memory");
	for (pr = t->data.mapping.pairs.start; pr < t->data.mapping.pairs.top; pr++) {
		const char *k = ydoc_scalar(node(p, pr->key));

		if (!k || target_field(p, k, node(p, pr->value), c, &n,
				       &has_what, &has_how))
			return k ? -1 : cfail(p, t, "keys must be plain words");
	}
	if (has_what != 1)
		return cfail(p, t, "target: give exactly one of exe or pid");
	if (!has_how)
		return cfail(p, t, "target: give presets or specs");
	for (i = 0; c->argv[i]; i++)
		snprintf(c->key + strlen(c->key), sizeof(c->key) - strlen(c->key),
			 "%s\x1f", c->argv[i]);
	return 0;
}

static int top_field(struct cparse *p, struct supervisor *s,
		     struct config *cfg, const char *k, const yaml_node_t *v)
{
	char **dst = !strcmp(k, "listen") ? &cfg->listen :
		     !strcmp(k, "alert_log") ? &cfg->alert_log :
		     !strcmp(k, "web_config") ? &cfg->web_config :
		     !strcmp(k, "alertmanager") ? &cfg->alertmanager :
		     !strcmp(k, "on_alert") ? &cfg->on_alert : NULL;
	yaml_node_item_t *it;

	if (dst) {
		if (!ydoc_scalar(v))
			return cfail(p, v, "%s: expected a value", k);
		*dst = strdup(ydoc_scalar(v));
		return 0;
	}
	if (strcmp(k, "targets"))
		return cfail(p, v, "unknown key '%s' (expected listen, alert_log, "
			     "web_config, alertmanager, on_alert, targets)", k);
	if (v->type != YAML_SEQUENCE_NODE)
		return cfail(p, v, "targets: expected a list");
	for (it = v->data.sequence.items.start; it < v->data.sequence.items.top;
	     it++) {
		if (cfg->nr == MAX_CHILDREN)
			return cfail(p, v, "more than %d targets", MAX_CHILDREN);
		if (parse_target(p, s, cfg, node(p, *it), &cfg->children[cfg->nr++]))
			return -1;
	}
	return 0;
}

static void config_free(struct config *cfg)
{
	int i, j;

	for (i = 0; cfg->children && i < cfg->nr; i++)
		for (j = 0; cfg->children[i].argv[j]; j++)
			free(cfg->children[i].argv[j]);
	free(cfg->children);
	free(cfg->listen);
	free(cfg->alert_log);
	free(cfg->web_config);
	free(cfg->alertmanager);
	free(cfg->on_alert);
	memset(cfg, 0, sizeof(*cfg));
}

/* The targets need the shared options first: read those, then targets. */
static int config_load(struct supervisor *s, struct config *cfg, char *err,
		       size_t errlen)
{
	struct cparse p = { .name = s->path, .err = err, .errlen = errlen };
	yaml_node_pair_t *pr;
	yaml_node_t *root;
	char *text;
	int pass, ret = -1;

	memset(cfg, 0, sizeof(*cfg));
	text = read_text_file(s->path, err, errlen);
	if (!text || ydoc_load(&p.doc, s->path, text, err, errlen)) {
		free(text);
		return -1;
	}
	cfg->children = calloc(MAX_CHILDREN, sizeof(*cfg->children));
	root = yaml_document_get_root_node(&p.doc);
	if (!root || root->type != YAML_MAPPING_NODE || !cfg->children) {
		cfail(&p, root, "expected a mapping with targets");
		goto out;
	}
	for (pass = 0; pass < 2; pass++)
		for (pr = root->data.mapping.pairs.start;
		     pr < root->data.mapping.pairs.top; pr++) {
			const char *k = ydoc_scalar(node(&p, pr->key));

			if (!k) {
				cfail(&p, root, "keys must be plain words");
				goto out;
			}
			if ((pass == 1) == !strcmp(k, "targets") &&
			    top_field(&p, s, cfg, k, node(&p, pr->value)))
				goto out;
		}
	if (!cfg->nr) {
		cfail(&p, root, "no targets");
		goto out;
	}
	ret = 0;
out:
	yaml_document_delete(&p.doc);
	free(text);
	if (ret)
		config_free(cfg);
	return ret;
}

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

/* A line from a child: learn its metrics address, pass the rest on. */
static void child_line(struct supervisor *s, struct child *c, const char *l)
{
	const char *m = strstr(l, "metrics on http://");

	if (m && !c->address[0]) {
		pthread_mutex_lock(&s->lock);
		sscanf(m + strlen("metrics on http://"), "%63[^/]", c->address);
		pthread_mutex_unlock(&s->lock);
		c->backoff_s = 0;
	}
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

	if (config_load(s, &next, err, sizeof(err))) {
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
	struct family *grown;
	int i;

	for (i = 0; i < m->nr; i++)
		if (!strcmp(m->f[i].name, name))
			return &m->f[i];
	if (m->nr == m->cap) {
		m->cap = m->cap ? m->cap * 2 : 32;
		grown = realloc(m->f, m->cap * sizeof(*grown));
		if (!grown)
			return NULL;
		m->f = grown;
	}
	memset(&m->f[m->nr], 0, sizeof(m->f[0]));
	snprintf(m->f[m->nr].name, sizeof(m->f[0].name), "%s", name);
	return &m->f[m->nr++];
}

/* The same series from two children: counters add up, gauges keep the max. */
static void add_sample(struct family *f, const char *key, double v)
{
	int i;

	for (i = 0; i < f->nr; i++)
		if (!strcmp(f->keys[i], key)) {
			f->values[i] = f->gauge ? (v > f->values[i] ? v : f->values[i])
						: f->values[i] + v;
			return;
		}
	if (f->nr == f->cap) {
		f->cap = f->cap ? f->cap * 2 : 16;
		f->keys = realloc(f->keys, f->cap * sizeof(*f->keys));
		f->values = realloc(f->values, f->cap * sizeof(*f->values));
		if (!f->keys || !f->values)
			return;
	}
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

int cmd_config(int argc, char **argv)
{
	struct sigaction hup = { .sa_handler = on_hup }, stop = { .sa_handler = on_stop };
	static struct supervisor s;
	char err[512];
	ssize_t n;
	int ret;

	if (argc == 3 && !strcmp(argv[2], "--fresh"))
		s.fresh = 1;
	else if (argc != 2)
		die_usage("--config", "usage: connwatch --config FILE [--fresh]");
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
	if (config_load(&s, &s.cfg, err, sizeof(err))) {
		fprintf(stderr, "connwatch: %s\n", err);
		return 1;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	ret = supervise(&s);
	config_free(&s.cfg);
	return ret;
}
