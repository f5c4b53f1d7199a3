// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Spec files (spec.c, libyaml): a spec parsed, or one clear line. */
#include <linux/types.h>
#include "../../bpf/connwatch.h"
#include "../../user/spec.h"
#include "fuzz_text.h"

#define NAME "fuzz.yaml"

static void check_spec(const struct spec *spec)
{
	size_t i;

	fuzz_check(spec->nr_probes >= 1 &&
		   spec->nr_probes <= CW_SPEC_MAX_PROBES, "%zu probes",
		   spec->nr_probes);
	for (i = 0; i < spec->nr_probes; i++) {
		const struct spec_probe *p = &spec->probes[i];

		fuzz_check(p->role >= 0 && p->role < CW_ROLE__COUNT,
			   "role %d", p->role);
		fuzz_check(p->symbol && *p->symbol, "probe %zu: no symbol", i);
		fuzz_check(p->key_arg >= 0 && p->key_arg <= 5, "arg%d",
			   p->key_arg);
		fuzz_check(p->nr_callers >= 0 &&
			   p->nr_callers <= CW_SPEC_MAX_CALLERS, "%d callers",
			   p->nr_callers);
		fuzz_check(p->line >= 1, "line %d", p->line);
	}
	fuzz_check(!spec->target || *spec->target, "empty target");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_text(data, size), err[512];
	struct spec spec;

	if (spec_parse_string(&spec, NAME, text, err, sizeof(err)))
		fuzz_check_error(err, NAME);
	else
		check_spec(&spec);
	spec_free(&spec);
	free(text);
	return 0;
}
