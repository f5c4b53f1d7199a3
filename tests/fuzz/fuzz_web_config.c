// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * --web.config.file (web_config.c): TLS files and bcrypt users, or one
 * clear line. The input is the file, in the sandbox (fuzz_sandbox.h)
 * with the certificates and keys the seeds name.
 */
#include "../../user/web_config.h"
#include "fuzz_sandbox.h"
#include "fuzz_text.h"

static const char cert[] =
	"-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n"
	"-----END CERTIFICATE-----\n";
static const char key[] =
	"-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49\n"
	"-----END PRIVATE KEY-----\n";
static const char encrypted[] =
	"-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIHsMFcGCSqGSIb3\n"
	"-----END ENCRYPTED PRIVATE KEY-----\n";

static char path[128];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	snprintf(path, sizeof(path), "%s/web.yml", sandbox_init());
	sandbox_put("cert.pem", cert);
	sandbox_put("key.pem", key);
	sandbox_put("connwatch.crt", cert);
	sandbox_put("connwatch.key", key);
	sandbox_put("encrypted.key", encrypted);
	return 0;
}

static void check_config(const struct web_config *wc)
{
	size_t i;

	fuzz_check(!wc->cert_file == !wc->key_file &&
		   !wc->cert_pem == !wc->cert_file &&
		   !wc->key_pem == !wc->key_file, "half a TLS config");
	for (i = 0; i < wc->nr_users; i++)
		fuzz_check(*wc->users[i].name && strlen(wc->users[i].hash) == 60,
			   "user %zu", i);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[512];
	struct web_config *wc;
	FILE *f = __real_fopen(path, "w");

	fuzz_check(f && fwrite(data, 1, size, f) == size && !fclose(f), "%s",
		   path);
	wc = web_config_load(path, err, sizeof(err));
	if (!wc) {
		fuzz_check_error(err, path);
		return 0;
	}
	check_config(wc);
	web_config_free(wc);
	return 0;
}
