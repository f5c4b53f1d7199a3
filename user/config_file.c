// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The --config file: shared options, and the targets, each turned into
 * the command line of the `connwatch attach` child that watches it.
 * Presets are checked by name and spec files parsed here, so that a bad
 * file stops the daemon (or a reload) before any child starts.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <linux/types.h>
#include "../bpf/connwatch.h"
#include "config_file.h"
#include "labels.h"
#include "presets.h"
#include "privs.h"
#include "spec.h"
#include "yaml_doc.h"

/* What a target entry watches: two that watch one process are refused. */
struct watched {
	const yaml_node_t *at;	/* the entry, for its line */
	const char *pid, *exe, *name;	/* its values, NULL when not given */
	dev_t dev;		/* the executable file; ino 0: not found */
	ino_t ino;
};

struct cparse {
	yaml_document_t doc;
	const char *name;
	char *err;
	size_t errlen;
	struct watched *watched;	/* one per target parsed */
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
	if (*n == CW_CONFIG_MAX_ARGS - 2 || !(c->argv[*n] = strdup(a)))
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
			struct child *c, int *n, int *has_what)
{
	static const char *const scalars[][2] = {
		{ "exe", "--exe" }, { "pid", "--pid" },
		{ "on_critical", "--on-critical" }, { "target", "--target" },
		{ "exited_grace", "--exited-grace" },
		{ "max_keys", "--max-keys" },
		{ "max_processes", "--max-processes" },
	};
	char err[256];
	size_t i;

	/* Neither: the child chooses the presets that fit the binary. */
	if (!strcmp(k, "presets") || !strcmp(k, "specs"))
		return list_args(p, v, k[0] == 'p' ? "--preset" : "--spec", c, n);
	for (i = 0; i < sizeof(scalars) / sizeof(scalars[0]); i++) {
		if (strcmp(k, scalars[i][0]))
			continue;
		if (!ydoc_scalar(v))
			return cfail(p, v, "%s: expected a value", k);
		if (!strcmp(k, "target") &&
		    labels_check_name("target", ydoc_scalar(v), err, sizeof(err)))
			return cfail(p, v, "%s", err);
		*has_what += i < 2;
		return push_arg(c, n, scalars[i][1]) ||
		       push_arg(c, n, ydoc_scalar(v)) ?
		       cfail(p, v, "too many options") : 0;
	}
	return cfail(p, v, "target: unknown key '%s' (expected exe, pid, "
		     "target, presets, specs, on_critical, exited_grace, "
		     "max_keys, max_processes)", k);
}

/* The value after opt in c's command line, or NULL. */
static const char *arg_value(const struct child *c, const char *opt)
{
	int i;

	for (i = 0; c->argv[i] && c->argv[i + 1]; i++)
		if (!strcmp(c->argv[i], opt))
			return c->argv[i + 1];
	return NULL;
}

/* c's entry: a pid's executable is /proc/PID/exe, deleted or not. */
static void watched_of(struct watched *w, const yaml_node_t *at,
		       const struct child *c)
{
	char path[64];
	struct stat st;

	*w = (struct watched){ .at = at, .pid = arg_value(c, "--pid"),
			       .exe = arg_value(c, "--exe"),
			       .name = arg_value(c, "--target") };
	if (w->pid)
		snprintf(path, sizeof(path), "/proc/%ld/exe", atol(w->pid));
	if (!stat(w->pid ? path : w->exe, &st)) {
		w->dev = st.st_dev;
		w->ino = st.st_ino;
	}
}

/*
 * Two pid: entries of one pid; an exe: entry and a pid: entry running
 * that file; two exe: entries of one file (by two paths, links). Two
 * pid: entries of one binary are two processes: not the same.
 */
static int same_process(const struct watched *a, const struct watched *b)
{
	if (a->pid && b->pid)
		return atol(a->pid) == atol(b->pid);
	if (a->exe && b->exe && !strcmp(a->exe, b->exe))
		return 1;
	return a->ino && a->ino == b->ino && a->dev == b->dev;
}

/* "target 'web' (pid 42)", or "entry (pid 42)" when unnamed. */
static void describe(const struct watched *w, char *buf, size_t len)
{
	const char *what = w->pid ? "pid" : "exe", *v = w->pid ? w->pid : w->exe;

	if (w->name)
		snprintf(buf, len, "target '%s' (%s %s)", w->name, what, v);
	else
		snprintf(buf, len, "entry (%s %s)", what, v);
}

/*
 * Two children watching one process would serve two connwatch_target_up
 * for it (and count it twice): one process is one target, so the file
 * is refused, naming both entries; at a reload, the running one stays.
 */
static int check_overlap(struct cparse *p, int nr, const yaml_node_t *at,
			 const struct child *c)
{
	struct watched *w = &p->watched[nr];
	char mine[256], theirs[256];
	int i;

	watched_of(w, at, c);
	for (i = 0; i < nr; i++) {
		if (!same_process(w, &p->watched[i]))
			continue;
		describe(w, mine, sizeof(mine));
		describe(&p->watched[i], theirs, sizeof(theirs));
		return cfail(p, at, "%s and line %lu's %s watch one process: "
			     "one process is one target; put both in one entry",
			     mine,
			     (unsigned long)p->watched[i].at->start_mark.line + 1,
			     theirs);
	}
	return 0;
}

/* The shared options, then the target's, after `connwatch attach`. */
static int parse_target(struct cparse *p, const char *self,
			struct config *cfg, const yaml_node_t *t,
			struct child *c)
{
	const char *shared[][2] = {
		{ "--alert-log", cfg->alert_log }, { "--alertmanager", cfg->alertmanager },
		{ "--on-alert", cfg->on_alert }, { "--user", cfg->user },
	};
	int n = 0, has_what = 0;
	yaml_node_pair_t *pr;
	size_t i;

	memset(c, 0, sizeof(*c));
	if (t->type != YAML_MAPPING_NODE)
		return cfail(p, t, "targets: each target is a mapping");
	if (push_arg(c, &n, self) || push_arg(c, &n, "attach") ||
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
				       &has_what))
			return k ? -1 : cfail(p, t, "keys must be plain words");
	}
	if (has_what != 1)
		return cfail(p, t, "target: give exactly one of exe or pid");
	for (i = 0; c->argv[i]; i++)
		snprintf(c->key + strlen(c->key), sizeof(c->key) - strlen(c->key),
			 "%s\x1f", c->argv[i]);
	return 0;
}

static int top_field(struct cparse *p, const char *self,
		     struct config *cfg, const char *k, const yaml_node_t *v)
{
	char **dst = !strcmp(k, "listen") ? &cfg->listen :
		     !strcmp(k, "alert_log") ? &cfg->alert_log :
		     !strcmp(k, "web_config") ? &cfg->web_config :
		     !strcmp(k, "alertmanager") ? &cfg->alertmanager :
		     !strcmp(k, "on_alert") ? &cfg->on_alert :
		     !strcmp(k, "user") ? &cfg->user : NULL;
	struct privs_user user;
	yaml_node_item_t *it;
	char err[256];

	if (dst) {
		if (!ydoc_scalar(v))
			return cfail(p, v, "%s: expected a value", k);
		/* Now: else each child would stop on it, at every restart. */
		if (dst == &cfg->user &&
		    privs_user_lookup(ydoc_scalar(v), &user, err, sizeof(err)))
			return cfail(p, v, "user: %s", err);
		free(*dst);	/* given twice: the last one, as before */
		*dst = strdup(ydoc_scalar(v));
		return *dst ? 0 : cfail(p, v, "out of memory");
	}
	if (strcmp(k, "targets"))
		return cfail(p, v, "unknown key '%s' (expected listen, alert_log, "
			     "web_config, alertmanager, on_alert, user, targets)", k);
	if (v->type != YAML_SEQUENCE_NODE)
		return cfail(p, v, "targets: expected a list");
	for (it = v->data.sequence.items.start; it < v->data.sequence.items.top;
	     it++) {
		if (cfg->nr == CW_MAX_TARGETS)
			return cfail(p, v, "more than %d targets", CW_MAX_TARGETS);
		/* counted first: config_free() frees a half-made one */
		if (parse_target(p, self, cfg, node(p, *it), &cfg->children[cfg->nr++]) ||
		    check_overlap(p, cfg->nr - 1, node(p, *it),
				  &cfg->children[cfg->nr - 1]))
			return -1;
	}
	return 0;
}

void config_free(struct config *cfg)
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
	free(cfg->user);
	memset(cfg, 0, sizeof(*cfg));
}

/* The targets need the shared options first: read those, then targets. */
int config_parse_string(struct config *cfg, const char *self, const char *name,
			const char *text, char *err, size_t errlen)
{
	struct cparse p = { .name = name, .err = err, .errlen = errlen };
	yaml_node_pair_t *pr;
	yaml_node_t *root;
	int pass, ret = -1;

	memset(cfg, 0, sizeof(*cfg));
	if (ydoc_load(&p.doc, name, text, err, errlen))
		return -1;
	cfg->children = calloc(CW_MAX_TARGETS, sizeof(*cfg->children));
	p.watched = calloc(CW_MAX_TARGETS, sizeof(*p.watched));
	root = yaml_document_get_root_node(&p.doc);
	if (!root || root->type != YAML_MAPPING_NODE || !cfg->children ||
	    !p.watched) {
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
			    top_field(&p, self, cfg, k, node(&p, pr->value)))
				goto out;
		}
	if (!cfg->nr) {
		cfail(&p, root, "no targets");
		goto out;
	}
	ret = 0;
out:
	free(p.watched);
	yaml_document_delete(&p.doc);
	if (ret)
		config_free(cfg);
	return ret;
}

int config_load(struct config *cfg, const char *self, const char *path,
		char *err, size_t errlen)
{
	char *text;
	int ret;

	memset(cfg, 0, sizeof(*cfg));
	text = read_text_file(path, err, errlen);
	if (!text)
		return -1;
	ret = config_parse_string(cfg, self, path, text, err, errlen);
	free(text);
	return ret;
}
