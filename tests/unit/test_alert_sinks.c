// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Alert log batching: what arrives together is fsync'ed together, the
 * first critical line of a batch at once, a long batch every
 * CW_ALERT_BATCH_LINES lines; outside a batch every line. And the JSON
 * line: its "folded" field, its strings valid UTF-8 whatever the target's.
 */
#include <stdlib.h>
#include <unistd.h>
#include "../../user/alert_sinks.h"
#include "unit.h"

/* The test's own fdatasync wins over libc's: count the calls. */
static int syncs;

int fdatasync(int fd)
{
	(void)fd;
	syncs++;
	return 0;
}

struct fixture {
	char dir[64];
	char path[96];
	struct alert_sinks s;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char err[256];

	snprintf(f->dir, sizeof(f->dir), "/tmp/cw-unit-sinks.XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/log/alerts.jsonl", f->dir);
	if (alert_sinks_open(&f->s, f->path, 0, err, sizeof(err)))
		return -1;
	syncs = 0;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	alert_sinks_close(&f->s);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	if (system(cmd))
		return -1;
	free(f);
	return 0;
}

static void deliver(struct fixture *f, const char *severity)
{
	struct alert a = { .severity = severity, .kind = "counter_underflow",
			   .target = "t", .probe = "dec:f" };

	assert_int_equal(alert_deliver(&f->s, &a), 0);
}

static int lines_in(const struct fixture *f)
{
	FILE *fp = fopen(f->path, "r");
	int c, n = 0;

	assert_non_null(fp);
	while ((c = fgetc(fp)) != EOF)
		n += c == '\n';
	fclose(fp);
	return n;
}

static void unbatched_lines_sync_each(void **state)
{
	struct fixture *f = *state;

	deliver(f, "warning");
	deliver(f, "critical");
	assert_int_equal(syncs, 2);
	assert_int_equal(lines_in(f), 2);
}

static void batch_syncs_once_at_its_end(void **state)
{
	struct fixture *f = *state;
	int i;

	alert_batch_begin(&f->s);
	for (i = 0; i < 5; i++)
		deliver(f, "warning");
	assert_int_equal(syncs, 0);
	assert_int_equal(lines_in(f), 5);	/* written, not yet synced */
	assert_int_equal(alert_batch_end(&f->s), 0);
	assert_int_equal(syncs, 1);
}

static void first_critical_of_a_batch_syncs_at_once(void **state)
{
	struct fixture *f = *state;

	alert_batch_begin(&f->s);
	deliver(f, "warning");
	deliver(f, "critical");
	assert_int_equal(syncs, 1);
	deliver(f, "critical");
	deliver(f, "critical");
	assert_int_equal(syncs, 1);
	alert_batch_end(&f->s);
	assert_int_equal(syncs, 2);
	/* the next batch's first critical: at once again */
	alert_batch_begin(&f->s);
	deliver(f, "critical");
	assert_int_equal(syncs, 3);
	alert_batch_end(&f->s);
	assert_int_equal(syncs, 3);	/* nothing left to sync */
}

static void long_batch_syncs_every_batch_lines(void **state)
{
	struct fixture *f = *state;
	int i;

	alert_batch_begin(&f->s);
	for (i = 0; i < 2 * CW_ALERT_BATCH_LINES + 1; i++)
		deliver(f, "warning");
	assert_int_equal(syncs, 2);
	alert_batch_end(&f->s);
	assert_int_equal(syncs, 3);
	assert_int_equal(lines_in(f), 2 * CW_ALERT_BATCH_LINES + 1);
}

static void empty_batch_does_not_sync(void **state)
{
	struct fixture *f = *state;

	alert_batch_begin(&f->s);
	assert_int_equal(alert_batch_end(&f->s), 0);
	assert_int_equal(syncs, 0);
}

static void json_has_folded(void **state)
{
	struct alert a = { .severity = "critical", .kind = "counter_underflow",
			   .target = "t", .probe = "dec:f", .folded = 17431,
			   .shadow = -5 };
	char buf[1024];

	(void)state;
	alert_to_json(&a, buf, sizeof(buf));
	assert_contains(buf, "\"probe\":\"dec:f\",\"folded\":17431,\"stack\":[]");
	a.folded = 0;
	alert_to_json(&a, buf, sizeof(buf));
	assert_contains(buf, "\"folded\":0,");
}

/* comm and the binary's name are the target's bytes: not UTF-8, a
 * newline, DEL; valid characters stay as they are. */
static void json_strings_are_valid_utf8(void **state)
{
	struct alert a = { .severity = "warning", .kind = "double_close_fd",
			   .target = "srv\xff\n\xc3\xa9", .probe = "close" };
	char buf[1024];

	(void)state;
	snprintf(a.comm, sizeof(a.comm), "x\xe2\x82\x7f");
	alert_to_json(&a, buf, sizeof(buf));
	assert_contains(buf, "\"target\":\"srv\\ufffd\\u000a\xc3\xa9\"");
	assert_contains(buf, "\"comm\":\"x\\ufffd\\ufffd\x7f\"");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(unbatched_lines_sync_each,
						setup, teardown),
		cmocka_unit_test_setup_teardown(batch_syncs_once_at_its_end,
						setup, teardown),
		cmocka_unit_test_setup_teardown(first_critical_of_a_batch_syncs_at_once,
						setup, teardown),
		cmocka_unit_test_setup_teardown(long_batch_syncs_every_batch_lines,
						setup, teardown),
		cmocka_unit_test_setup_teardown(empty_batch_does_not_sync,
						setup, teardown),
		cmocka_unit_test(json_has_folded),
		cmocka_unit_test(json_strings_are_valid_utf8),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
