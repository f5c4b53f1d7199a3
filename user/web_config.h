/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * --web.config.file: the Prometheus exporter-toolkit web configuration,
 * the part connwatch serves: TLS (cert_file, key_file) and basic auth
 * (bcrypt hashes), for /metrics.
 */
#ifndef CW_WEB_CONFIG_H
#define CW_WEB_CONFIG_H

#include <stddef.h>

struct web_user {
	char *name;
	char *hash;		/* bcrypt: $2a$, $2b$ or $2y$ */
};

struct web_config {
	char *path;
	/* TLS when set: both, read when the file is loaded */
	char *cert_file;	/* relative paths: to the file's directory */
	char *key_file;
	char *cert_pem;
	char *key_pem;
	struct web_user *users;	/* none: no authentication */
	size_t nr_users;
};

/*
 * Reads and checks path, the certificate and key files it names, and the
 * hashes. The config, malloc'ed; NULL + one line in err ("FILE:LINE: what"
 * for what is wrong in the file).
 */
struct web_config *web_config_load(const char *path, char *err,
				   size_t errlen);
void web_config_free(struct web_config *wc);
/*
 * 1 when user and password match basic_auth_users. One bcrypt per call,
 * known user or not; the hashes compared in constant time.
 */
int web_config_check_user(const struct web_config *wc, const char *user,
			  const char *password);

#endif
