// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Spec parser: libyaml's document API, every error with file and line. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/types.h>
#include "../bpf/connwatch.h"
#include "spec.h"
#include "yaml_doc.h"

/* A spec names the first CW_ROLE__COUNT; the rest are presets' checks. */
static const char *const role_names[CW_ROLE__ALL] = {
	[CW_ROLE_OPEN] = "open", [CW_ROLE_CLOSE] = "close",
	[CW_ROLE_INC] = "inc", [CW_ROLE_DEC] = "dec",
	[CW_ROLE_DRAIN] = "drain", [CW_ROLE_SHUTDOWN] = "shutdown",
	[CW_ROLE_RESET] = "reset", [CW_ROLE_CHAN_CLOSE] = "chan_close", [CW_ROLE_WG_ADD] = "wg_add",
	[CW_ROLE_HIJACK] = "hijack",
};

static const char *const counter_types[] = {
	[CW_CTR_S32] = "s32", [CW_CTR_S64] = "s64",
	[CW_CTR_U32] = "u32", [CW_CTR_U64] = "u64",
};

const char *role_name(int role)
{
	return role >= 0 && role < CW_ROLE__ALL ? role_names[role] : "?";
}

struct parse {
	yaml_document_t doc;
	struct spec *spec;
	const char *name;
	const yaml_node_t *key;	/* the key being parsed: "unknown key" lines */
	char *err;
	size_t errlen;
};

static int fail(struct parse *p, const yaml_node_t *at, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ydoc_verror(p->err, p->errlen, p->name, at, fmt, ap);
	va_end(ap);
	return -1;
}

static int parse_int(struct parse *p, const yaml_node_t *n, const char *what,
		     int64_t min, int64_t max, int64_t *out)
{
	const char *s = ydoc_scalar(n);
	char *end;
	long long v;

	if (!s || !*s)
		return fail(p, n, "%s: expected a number", what);
	errno = 0;
	v = strtoll(s, &end, 0);
	if (errno || *end || v < min || v > max)
		return fail(p, n, "%s: '%s' is not a number in %lld..%lld",
			    what, s, (long long)min, (long long)max);
	*out = v;
	return 0;
}

/* "arg0".."arg5" (and "receiver", the first argument) to an index. */
static int parse_arg(struct parse *p, const yaml_node_t *n, const char *what,
		     int *out)
{
	const char *s = ydoc_scalar(n);

	if (s && !strcmp(s, "receiver")) {
		*out = 0;
		return 0;
	}
	if (s && !strncmp(s, "arg", 3) && s[3] >= '0' && s[3] <= '5' && !s[4]) {
		*out = s[3] - '0';
		return 0;
	}
	return fail(p, n, "%s: '%s' is not arg0..arg5 or receiver", what,
		    s ? s : "(not a scalar)");
}

static int parse_choice(struct parse *p, const yaml_node_t *n,
			const char *what, const char *const *names,
			int first, int count, const char *expected, int *out)
{
	const char *s = ydoc_scalar(n);
	int i;

	for (i = first; s && i < count; i++) {
		if (names[i] && !strcmp(s, names[i])) {
			*out = i;
			return 0;
		}
	}
	return fail(p, n, "%s: '%s' is not one of %s", what,
		    s ? s : "(not a scalar)", expected);
}

static int parse_key(struct parse *p, const yaml_node_t *n,
		     struct spec_probe *pr)
{
	const char *s = ydoc_scalar(n);

	if (s && !strcmp(s, "process")) {
		pr->key_source = SPEC_KEY_PROCESS;
		return 0;
	}
	if (s && !strcmp(s, "owner")) {
		pr->key_source = SPEC_KEY_OWNER;
		return 0;
	}
	pr->key_source = SPEC_KEY_ARG;
	return parse_arg(p, n, "key", &pr->key_arg);
}

static int parse_at(struct parse *p, const yaml_node_t *n,
		    struct spec_probe *pr)
{
	const char *s = ydoc_scalar(n);

	if (s && (!strcmp(s, "entry") || !strcmp(s, "return"))) {
		pr->at_return = !strcmp(s, "return");
		return 0;
	}
	return fail(p, n, "at: '%s' is not entry or return",
		    s ? s : "(not a scalar)");
}

static int add_caller(struct parse *p, const yaml_node_t *n,
		      struct spec_probe *pr)
{
	const char *s = ydoc_scalar(n);

	if (!s || !*s)
		return fail(p, n, "caller: expected a function name");
	if (pr->nr_callers == CW_SPEC_MAX_CALLERS)
		return fail(p, n, "caller: more than %d functions",
			    CW_SPEC_MAX_CALLERS);
	pr->callers[pr->nr_callers] = strdup(s);
	if (!pr->callers[pr->nr_callers])
		return fail(p, n, "out of memory");
	pr->nr_callers++;
	return 0;
}

/* caller: FUNC, or caller: [FUNC, ...] */
static int parse_callers(struct parse *p, const yaml_node_t *n,
			 struct spec_probe *pr)
{
	yaml_node_item_t *item;

	if (n->type != YAML_SEQUENCE_NODE)
		return add_caller(p, n, pr);
	if (n->data.sequence.items.start == n->data.sequence.items.top)
		return fail(p, n, "caller: expected at least one function");
	for (item = n->data.sequence.items.start;
	     item < n->data.sequence.items.top; item++)
		if (add_caller(p, yaml_document_get_node(&p->doc, *item), pr))
			return -1;
	return 0;
}

typedef int (*field_fn)(struct parse *p, const char *key,
			const yaml_node_t *val, void *obj);

/* Calls fn for each key of a mapping node. */
static int each_field(struct parse *p, const yaml_node_t *map,
		      const char *what, field_fn fn, void *obj)
{
	yaml_node_pair_t *pair;

	if (!map || map->type != YAML_MAPPING_NODE)
		return fail(p, map, "%s: expected a mapping", what);
	for (pair = map->data.mapping.pairs.start;
	     pair < map->data.mapping.pairs.top; pair++) {
		const yaml_node_t *k = yaml_document_get_node(&p->doc, pair->key);
		const yaml_node_t *v = yaml_document_get_node(&p->doc, pair->value);
		const char *name = ydoc_scalar(k);

		if (!name)
			return fail(p, k, "%s: keys must be plain words", what);
		p->key = k;
		if (fn(p, name, v, obj))
			return -1;
	}
	return 0;
}

static int probe_field(struct parse *p, const char *key,
		       const yaml_node_t *v, void *obj)
{
	struct spec_probe *pr = obj;

	if (!strcmp(key, "role"))
		return parse_choice(p, v, "role", role_names, 0, CW_ROLE__COUNT,
				    "open, close, inc, dec, drain, shutdown, "
				    "reset", &pr->role);
	if (!strcmp(key, "symbol")) {
		if (!ydoc_scalar(v) || !*ydoc_scalar(v))
			return fail(p, v, "symbol: expected a function name");
		free(pr->symbol);
		pr->symbol = strdup(ydoc_scalar(v));
		return pr->symbol ? 0 : fail(p, v, "out of memory");
	}
	if (!strcmp(key, "key"))
		return parse_key(p, v, pr);
	if (!strcmp(key, "at"))
		return parse_at(p, v, pr);
	if (!strcmp(key, "caller"))
		return parse_callers(p, v, pr);
	return fail(p, p->key, "probe: unknown key '%s' (expected role, symbol, key, at, caller)",
		    key);
}

static int parse_probe(struct parse *p, const yaml_node_t *n)
{
	struct spec *spec = p->spec;
	struct spec_probe *pr;

	if (spec->nr_probes == CW_SPEC_MAX_PROBES)
		return fail(p, n, "more than %d probes", CW_SPEC_MAX_PROBES);
	pr = &spec->probes[spec->nr_probes++];
	memset(pr, 0, sizeof(*pr));
	pr->role = -1;
	pr->switch_arg = -1;
	pr->line = n->start_mark.line + 1;
	if (each_field(p, n, "probe", probe_field, pr))
		return -1;
	if (pr->role < 0)
		return fail(p, n, "probe: role is missing");
	if (!pr->symbol)
		return fail(p, n, "probe: symbol is missing");
	if (pr->key_source == SPEC_KEY_OWNER && !pr->nr_callers)
		return fail(p, n, "probe: key: owner needs caller: (the object "
			    "an argument is loaded from at a call site)");
	if (pr->nr_callers && pr->at_return)
		return fail(p, n, "probe: caller: probes the calls themselves: "
			    "at: return does not apply");
	return 0;
}

static int parse_probes(struct parse *p, const yaml_node_t *n)
{
	yaml_node_item_t *item;

	if (n->type != YAML_SEQUENCE_NODE)
		return fail(p, n, "probes: expected a list");
	for (item = n->data.sequence.items.start;
	     item < n->data.sequence.items.top; item++)
		if (parse_probe(p, yaml_document_get_node(&p->doc, *item)))
			return -1;
	return 0;
}

static int counter_field(struct parse *p, const char *key,
			 const yaml_node_t *v, void *obj)
{
	struct spec_counter *c = obj;

	if (!strcmp(key, "base"))
		return parse_arg(p, v, "counter.base", &c->base_arg);
	if (!strcmp(key, "offset"))
		return parse_int(p, v, "counter.offset", -(1 << 20), 1 << 20,
				 &c->offset);
	if (!strcmp(key, "type"))
		return parse_choice(p, v, "counter.type", counter_types,
				    CW_CTR_S32, CW_CTR_U64 + 1,
				    "s32, s64, u32, u64", &c->type);
	if (!strcmp(key, "field"))
		return fail(p, p->key, "counter.field needs DWARF field lookup, "
			    "not supported yet: give offset");
	return fail(p, p->key, "counter: unknown key '%s' (expected base, offset, type)",
		    key);
}

static int drift_field(struct parse *p, const char *key,
		       const yaml_node_t *v, void *obj)
{
	struct spec_drift *d = obj;
	int64_t n;

	if (!strcmp(key, "threshold"))
		return parse_int(p, v, "drift.threshold", 0, 1 << 30,
				 &d->threshold);
	if (!strcmp(key, "grace")) {
		if (parse_int(p, v, "drift.grace", 0, 86400, &n))
			return -1;
		d->grace_s = n;
		return 0;
	}
	return fail(p, p->key, "drift: unknown key '%s' (expected threshold, grace)",
		    key);
}

static int top_field(struct parse *p, const char *key, const yaml_node_t *v,
		     void *obj)
{
	struct spec *spec = obj;

	if (!strcmp(key, "target")) {
		if (!ydoc_scalar(v) || !*ydoc_scalar(v))
			return fail(p, v, "target: expected a name");
		free(spec->target);
		spec->target = strdup(ydoc_scalar(v));
		return spec->target ? 0 : fail(p, v, "out of memory");
	}
	if (!strcmp(key, "probes"))
		return parse_probes(p, v);
	if (!strcmp(key, "counter")) {
		spec->counter.type = CW_CTR_S64;
		return each_field(p, v, "counter", counter_field, &spec->counter);
	}
	if (!strcmp(key, "drift"))
		return each_field(p, v, "drift", drift_field, &spec->drift);
	return fail(p, p->key, "unknown key '%s' (expected target, probes, counter, drift)",
		    key);
}

static int parse_document(struct parse *p)
{
	yaml_node_t *root = yaml_document_get_root_node(&p->doc);

	if (!root)
		return fail(p, NULL, "empty spec");
	if (each_field(p, root, "spec", top_field, p->spec))
		return -1;
	if (!p->spec->nr_probes)
		return fail(p, root, "no probes");
	return 0;
}

int spec_parse_string(struct spec *spec, const char *name, const char *text,
		      char *err, size_t errlen)
{
	struct parse p = { .spec = spec, .name = name, .err = err,
			   .errlen = errlen };
	int ret = -1;

	memset(spec, 0, sizeof(*spec));
	spec->drift.threshold = 8;
	spec->drift.grace_s = 10;
	spec->path = strdup(name);
	if (!ydoc_load(&p.doc, name, text, err, errlen)) {
		ret = parse_document(&p);
		yaml_document_delete(&p.doc);
	}
	if (ret)
		spec_free(spec);
	return ret;
}

int spec_parse_file(struct spec *spec, const char *path, char *err,
		    size_t errlen)
{
	char *text;
	int ret;

	memset(spec, 0, sizeof(*spec));
	text = read_text_file(path, err, errlen);
	if (!text)
		return -1;
	ret = spec_parse_string(spec, path, text, err, errlen);
	free(text);
	return ret;
}

void spec_free(struct spec *spec)
{
	size_t i;

	for (i = 0; i < spec->nr_probes; i++) {
		struct spec_probe *pr = &spec->probes[i];

		free(pr->symbol);
		while (pr->nr_callers > 0)
			free(pr->callers[--pr->nr_callers]);
	}
	free(spec->target);
	free(spec->path);
	memset(spec, 0, sizeof(*spec));
}

int spec_has_role(const struct spec *spec, int role)
{
	size_t i;

	for (i = 0; i < spec->nr_probes; i++)
		if (spec->probes[i].role == role)
			return 1;
	return 0;
}

const struct spec_counter *spec_probe_counter(const struct spec_probe *sp,
					      const struct spec *spec)
{
	return sp->counter.type != CW_CTR_NONE ? &sp->counter : &spec->counter;
}
