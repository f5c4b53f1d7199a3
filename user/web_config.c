// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * --web.config.file, the file Prometheus exporters read (exporter-toolkit):
 *
 *   tls_server_config:
 *     cert_file: server.crt     # relative to this file's directory
 *     key_file: server.key
 *   basic_auth_users:
 *     prometheus: $2y$10$...    # bcrypt, e.g. htpasswd -nBC 10 prometheus
 *
 * The rest of the format (client certificates, TLS versions and ciphers,
 * HTTP headers...) is refused by name rather than ignored: serving less
 * than the file asks for is how one gets let in.
 */
#include <crypt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "web_config.h"
#include "yaml_doc.h"

struct wc_parse {
	yaml_document_t doc;
	const char *name;
	char *dir;		/* the file's, with its '/'; NULL: the cwd */
	struct web_config *wc;
	char *err;
	size_t errlen;
};

/* Keys of the format that connwatch does not do. */
static const char *const top_unsupported[] = {
	"http_server_config", "rate_limit", NULL
};
static const char *const tls_unsupported[] = {
	"client_auth_type", "client_ca_file", "client_allowed_sans",
	"cipher_suites", "curve_preferences", "min_version", "max_version",
	"prefer_server_cipher_suites", "cert", "key", NULL
};

static int fail(struct wc_parse *p, const yaml_node_t *at, const char *fmt,
		...)
{
	va_list ap;

	va_start(ap, fmt);
	ydoc_verror(p->err, p->errlen, p->name, at, fmt, ap);
	va_end(ap);
	return -1;
}

static int listed(const char *const *names, const char *s)
{
	for (; *names; names++)
		if (!strcmp(*names, s))
			return 1;
	return 0;
}

/* `key:` with nothing after it: as if absent, like exporter-toolkit. */
static int is_null(const yaml_node_t *n)
{
	const char *s = ydoc_scalar(n);

	return s && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
	       (!*s || !strcmp(s, "~") || !strcasecmp(s, "null"));
}

typedef int (*pair_fn)(struct wc_parse *p, const char *key,
		       const yaml_node_t *k, const yaml_node_t *v, void *obj);

/* fn for each key of the mapping; a key given twice is an error. */
static int each_pair(struct wc_parse *p, const yaml_node_t *map,
		     const char *what, pair_fn fn, void *obj)
{
	yaml_node_pair_t *pair, *prev;

	if (!map || map->type != YAML_MAPPING_NODE)
		return fail(p, map, "%s: expected a mapping", what);
	for (pair = map->data.mapping.pairs.start;
	     pair < map->data.mapping.pairs.top; pair++) {
		const yaml_node_t *k = yaml_document_get_node(&p->doc, pair->key);
		const char *key = ydoc_scalar(k);

		if (!key)
			return fail(p, k, "%s: keys must be plain words", what);
		for (prev = map->data.mapping.pairs.start; prev < pair; prev++)
			if (!strcmp(key, ydoc_scalar(yaml_document_get_node(
					&p->doc, prev->key))))
				return fail(p, k, "%s: '%s' given twice", what,
					    key);
		if (fn(p, key, k, yaml_document_get_node(&p->doc, pair->value),
		       obj))
			return -1;
	}
	return 0;
}

/* $2a$, $2b$ or $2y$, cost, 22 characters of salt and 31 of hash. */
static int is_bcrypt(const char *h)
{
	static const char b64[] = "./ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				  "abcdefghijklmnopqrstuvwxyz0123456789";

	return strlen(h) == 60 && !strncmp(h, "$2", 2) &&
	       strchr("aby", h[2]) && h[3] == '$' && h[6] == '$' &&
	       strspn(h + 7, b64) == 53 &&
	       crypt_checksalt(h) == CRYPT_SALT_OK;
}

static int user_pair(struct wc_parse *p, const char *key,
		     const yaml_node_t *k, const yaml_node_t *v, void *obj)
{
	struct web_config *wc = p->wc;
	const char *hash = ydoc_scalar(v);
	struct web_user *users;

	(void)obj;
	if (!*key || strchr(key, ':'))
		return fail(p, k, "basic_auth_users: '%s' cannot be a user name "
			    "(empty, or with a ':')", key);
	if (!hash || !is_bcrypt(hash))
		return fail(p, v, "basic_auth_users: %s: not a bcrypt hash "
			    "($2y$..., e.g. from htpasswd -nBC 10 %s)", key, key);
	users = realloc(wc->users, (wc->nr_users + 1) * sizeof(*users));
	if (!users)
		return fail(p, v, "out of memory");
	wc->users = users;
	users[wc->nr_users].name = strdup(key);
	users[wc->nr_users].hash = strdup(hash);
	if (!users[wc->nr_users].name || !users[wc->nr_users].hash) {
		free(users[wc->nr_users].name);
		free(users[wc->nr_users].hash);
		return fail(p, v, "out of memory");
	}
	wc->nr_users++;
	return 0;
}

struct tls_nodes {
	const yaml_node_t *cert;
	const yaml_node_t *key;
};

static int tls_pair(struct wc_parse *p, const char *key,
		    const yaml_node_t *k, const yaml_node_t *v, void *obj)
{
	struct tls_nodes *t = obj;

	if (!strcmp(key, "cert_file"))
		t->cert = v;
	else if (!strcmp(key, "key_file"))
		t->key = v;
	else if (listed(tls_unsupported, key))
		return fail(p, k, "tls_server_config: %s is not supported by "
			    "connwatch (only cert_file and key_file)", key);
	else
		return fail(p, k, "tls_server_config: unknown key '%s' "
			    "(expected cert_file, key_file)", key);
	return 0;
}

/*
 * The file node names, relative to the config's directory, and its text,
 * which must be PEM of that kind ("CERTIFICATE", "PRIVATE KEY").
 */
static int read_pem(struct wc_parse *p, const yaml_node_t *n,
		    const char *what, const char *kind, char **file,
		    char **pem)
{
	const char *name = ydoc_scalar(n);
	char begin[64], msg[512];

	if (!name || !*name)
		return fail(p, n, "tls_server_config.%s: expected a file name",
			    what);
	if (asprintf(file, "%s%s", name[0] == '/' || !p->dir ? "" : p->dir,
		     name) < 0) {
		*file = NULL;
		return fail(p, n, "out of memory");
	}
	*pem = read_text_file(*file, msg, sizeof(msg));
	if (!*pem)
		return fail(p, n, "tls_server_config.%s: %s", what, msg);
	if (strstr(*pem, "-----BEGIN ENCRYPTED PRIVATE KEY-----") ||
	    strstr(*pem, "Proc-Type: 4,ENCRYPTED"))
		return fail(p, n, "tls_server_config.%s: %s: the key is "
			    "encrypted; connwatch needs it unencrypted", what,
			    *file);
	snprintf(begin, sizeof(begin), "%s-----", kind);
	if (!strstr(*pem, "-----BEGIN ") || !strstr(*pem, begin))
		return fail(p, n, "tls_server_config.%s: %s: no PEM %s in it",
			    what, *file, kind);
	return 0;
}

static int parse_tls(struct wc_parse *p, const yaml_node_t *map)
{
	struct web_config *wc = p->wc;
	struct tls_nodes t = {};

	if (each_pair(p, map, "tls_server_config", tls_pair, &t))
		return -1;
	if (!t.cert)
		return fail(p, map, "tls_server_config: cert_file is missing");
	if (!t.key)
		return fail(p, map, "tls_server_config: key_file is missing");
	if (read_pem(p, t.cert, "cert_file", "CERTIFICATE", &wc->cert_file,
		     &wc->cert_pem))
		return -1;
	return read_pem(p, t.key, "key_file", "PRIVATE KEY", &wc->key_file,
			&wc->key_pem);
}

static int top_pair(struct wc_parse *p, const char *key, const yaml_node_t *k,
		    const yaml_node_t *v, void *obj)
{
	(void)obj;
	if (!strcmp(key, "tls_server_config"))
		return is_null(v) ? 0 : parse_tls(p, v);
	if (!strcmp(key, "basic_auth_users"))
		return is_null(v) ? 0 : each_pair(p, v, "basic_auth_users",
						  user_pair, NULL);
	if (listed(top_unsupported, key))
		return fail(p, k, "%s is not supported by connwatch (only "
			    "tls_server_config and basic_auth_users)", key);
	return fail(p, k, "unknown key '%s' (expected tls_server_config, "
		    "basic_auth_users)", key);
}

struct web_config *web_config_load(const char *path, char *err,
				   size_t errlen)
{
	struct wc_parse p = { .name = path, .err = err, .errlen = errlen };
	const char *slash = strrchr(path, '/');
	const yaml_node_t *root;
	char msg[512], *text;
	int ret = -1;

	text = read_text_file(path, msg, sizeof(msg));
	if (!text) {
		snprintf(err, errlen, "--web.config.file %s", msg);
		return NULL;
	}
	p.wc = calloc(1, sizeof(*p.wc));
	if (p.wc)
		p.wc->path = strdup(path);
	if (slash)
		p.dir = strndup(path, slash - path + 1);
	if (!p.wc || !p.wc->path || (slash && !p.dir))
		snprintf(err, errlen, "%s: out of memory", path);
	else if (!ydoc_load(&p.doc, path, text, err, errlen)) {
		root = yaml_document_get_root_node(&p.doc);
		/* empty: plain HTTP, no auth, as exporter-toolkit has it */
		ret = root && !is_null(root) ?
			each_pair(&p, root, "web config", top_pair, NULL) : 0;
		yaml_document_delete(&p.doc);
	}
	free(p.dir);
	free(text);
	if (ret) {
		web_config_free(p.wc);
		return NULL;
	}
	return p.wc;
}

void web_config_free(struct web_config *wc)
{
	size_t i;

	if (!wc)
		return;
	for (i = 0; i < wc->nr_users; i++) {
		free(wc->users[i].name);
		free(wc->users[i].hash);
	}
	free(wc->users);
	if (wc->key_pem)
		explicit_bzero(wc->key_pem, strlen(wc->key_pem));
	free(wc->key_pem);
	free(wc->cert_pem);
	free(wc->key_file);
	free(wc->cert_file);
	free(wc->path);
	free(wc);
}

/* Equal strings of the same (public: 60) length, in constant time. */
static int same_secret(const char *a, const char *b)
{
	size_t len = strlen(b), i;
	unsigned char diff = 0;

	if (strlen(a) != len)
		return 0;
	for (i = 0; i < len; i++)
		diff |= (unsigned char)a[i] ^ (unsigned char)b[i];
	return !diff;
}

int web_config_check_user(const struct web_config *wc, const char *user,
			  const char *password)
{
	const struct web_user *u = NULL;
	struct crypt_data *cd;
	const char *out;
	size_t i;
	int ok;

	if (!wc->nr_users)
		return 0;
	for (i = 0; i < wc->nr_users; i++)
		if (!strcmp(wc->users[i].name, user))
			u = &wc->users[i];
	cd = calloc(1, sizeof(*cd));
	if (!cd)
		return 0;
	/* An unknown user costs a bcrypt too: the time tells no names. */
	out = crypt_r(password, u ? u->hash : wc->users[0].hash, cd);
	ok = u && out && same_secret(out, u->hash);
	explicit_bzero(cd, sizeof(*cd));
	free(cd);
	return ok;
}
