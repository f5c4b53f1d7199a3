// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The --config file (config_file.c): the children's command lines, or
 * one clear line. The spec files it names are read from the sandbox
 * (fuzz_sandbox.h): tracker.yaml is a good one, bad.yaml a bad one.
 */
#include "../../user/config_file.h"
#include "fuzz_sandbox.h"
#include "fuzz_text.h"

#define NAME "fuzz.yaml"
#define SELF "/usr/local/bin/connwatch"

static const char good_spec[] =
	"target: tracker\n"
	"probes:\n"
	"  - role: inc\n    symbol: tracker_add\n    key: arg0\n"
	"  - role: dec\n    symbol: tracker_done\n    key: arg0\n";

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	sandbox_init();
	sandbox_put("tracker.yaml", good_spec);
	sandbox_put("bad.yaml", "probes: [\n");
	return 0;
}

static void check_config(const struct config *cfg)
{
	int i, j;

	fuzz_check(cfg->nr >= 1, "%d targets", cfg->nr);
	for (i = 0; i < cfg->nr; i++) {
		const struct child *c = &cfg->children[i];

		for (j = 0; j < CW_CONFIG_MAX_ARGS && c->argv[j]; j++)
			;
		fuzz_check(j < CW_CONFIG_MAX_ARGS, "target %d: argv not ended", i);
		fuzz_check(j >= 2 && !strcmp(c->argv[0], SELF) &&
			   !strcmp(c->argv[1], "attach"), "target %d: argv", i);
		fuzz_check(memchr(c->key, 0, sizeof(c->key)), "key not ended");
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_text(data, size), err[512];
	struct config cfg;

	if (config_parse_string(&cfg, SELF, NAME, text, err, sizeof(err)))
		fuzz_check_error(err, NAME);
	else
		check_config(&cfg);
	config_free(&cfg);
	free(text);
	return 0;
}
