// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The label model (labels.c): which name the target gets, source names
 * that never collide, and label values escaped for the text format.
 */
#include <stdlib.h>
#include "../../user/labels.h"
#include "unit.h"

/* The session is large: one, zeroed per test. */
static struct cw_session sess;
static struct spec spec_a, spec_b;

static struct cw_session *fresh(const char *binary)
{
	memset(&sess, 0, sizeof(sess));
	memset(&spec_a, 0, sizeof(spec_a));
	memset(&spec_b, 0, sizeof(spec_b));
	snprintf(sess.binary, sizeof(sess.binary), "%s", binary);
	return &sess;
}

/* What f wrote, NUL-terminated (static: one at a time). */
static const char *rendered(void (*put)(FILE *f))
{
	static char buf[512];
	FILE *f = fmemopen(buf, sizeof(buf), "w");

	put(f);
	fclose(f);
	return buf;
}

static void target_is_binary_name_by_default(void **state)
{
	struct cw_session *s = fresh("/usr/bin/h3-server");
	char err[256];

	(void)state;
	labels_add_source(s, NULL, "sockets");
	assert_int_equal(labels_pick_target(s, NULL, err, sizeof(err)), 0);
	assert_string_equal(s->target, "h3-server");
}

static void spec_target_then_given_name_wins(void **state)
{
	struct cw_session *s = fresh("/srv/tracker_server");
	char err[256];

	(void)state;
	spec_a.path = "specs/tracker.yaml";
	spec_a.target = "tracker";
	labels_add_source(s, &spec_a, "tracker.yaml");
	labels_add_source(s, NULL, "sockets");
	assert_int_equal(labels_pick_target(s, NULL, err, sizeof(err)), 0);
	assert_string_equal(s->target, "tracker");
	assert_int_equal(labels_pick_target(s, "checkout", err, sizeof(err)), 0);
	assert_string_equal(s->target, "checkout");
}

static void specs_naming_two_targets_are_refused(void **state)
{
	struct cw_session *s = fresh("/srv/x");
	char err[256] = "";

	(void)state;
	spec_a.path = "a.yaml";
	spec_a.target = "one";
	spec_b.path = "b.yaml";
	spec_b.target = "two";
	labels_add_source(s, &spec_a, "a.yaml");
	labels_add_source(s, &spec_b, "b.yaml");
	assert_int_equal(labels_pick_target(s, NULL, err, sizeof(err)), -1);
	assert_string_equal(err, "a.yaml names target 'one', b.yaml names "
			    "'two': one process is one target; give --target NAME");
	/* --target settles it */
	assert_int_equal(labels_pick_target(s, "web", err, sizeof(err)), 0);
	assert_string_equal(s->target, "web");
}

static void bad_names_are_refused(void **state)
{
	struct cw_session *s = fresh("/srv/x");
	char long_name[CW_NAME_MAX + 1], err[256];

	(void)state;
	memset(long_name, 'a', CW_NAME_MAX);
	long_name[CW_NAME_MAX] = '\0';
	assert_int_equal(labels_pick_target(s, "", err, sizeof(err)), -1);
	assert_string_equal(err, "--target '': a name of 1 to 63 bytes");
	assert_int_equal(labels_pick_target(s, long_name, err, sizeof(err)), -1);
	assert_int_equal(labels_pick_target(s, "a\nb", err, sizeof(err)), -1);
	assert_string_equal(err, "--target: a name has no control character");
	long_name[CW_NAME_MAX - 1] = '\0';	/* 63 bytes: fits */
	assert_int_equal(labels_pick_target(s, long_name, err, sizeof(err)), 0);
}

static void two_specs_of_one_base_name_are_two_sources(void **state)
{
	struct cw_session *s = fresh("/srv/x");

	(void)state;
	spec_a.path = "a/x.yaml";
	spec_b.path = "b/x.yaml";
	labels_add_source(s, &spec_a, "x.yaml");
	labels_add_source(s, &spec_b, "x.yaml");
	assert_int_equal(s->nr_targets, 2);
	assert_string_equal(s->targets[0].source, "x.yaml");
	assert_string_equal(s->targets[1].source, "b/x.yaml");
}

static void put_escaped(FILE *f)
{
	labels_put(f, "target", "a\"b\\c\nd");
}

/* A binary named by the target: invalid UTF-8 (a lone continuation,
 * a truncated and an overlong sequence, a surrogate), a tab, DEL, a
 * newline, and valid 2..4-byte characters that stay as they are. */
static void put_untrusted(FILE *f)
{
	labels_put(f, "target", "a\x80" "b\xc3\tc\xc0\xaf\xed\xa0\x80\x7f"
		   "\n\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xe2\x82");
}

static void put_series(FILE *f)
{
	labels_series(f, &sess, NULL, 1, 42);
}

static void put_probe(FILE *f)
{
	labels_probe(f, &sess, 0, "open|close:net/http.(*Server).trackConn");
}

static void put_process(FILE *f)
{
	labels_process(f, &sess, NULL, 42);
}

static void label_sets_are_escaped_and_ordered(void **state)
{
	struct cw_session *s = fresh("/srv/web");
	char err[256];

	(void)state;
	labels_add_source(s, &spec_a, "go-net-http");
	labels_add_source(s, NULL, "sockets");
	assert_int_equal(labels_pick_target(s, NULL, err, sizeof(err)), 0);
	assert_string_equal(rendered(put_escaped), "target=\"a\\\"b\\\\c\\nd\"");
	assert_string_equal(rendered(put_series),
			    "target=\"web\",source=\"sockets\",pid=\"42\"");
	assert_string_equal(rendered(put_probe),
			    "target=\"web\",source=\"go-net-http\","
			    "probe=\"open|close:net/http.(*Server).trackConn\"");
	assert_string_equal(rendered(put_process), "target=\"web\",pid=\"42\"");
}

static void label_values_are_valid_utf8(void **state)
{
	(void)state;
	assert_string_equal(rendered(put_untrusted),
			    "target=\"a\xef\xbf\xbd" "b\xef\xbf\xbd\xef\xbf\xbd"
			    "c\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
			    "\xef\xbf\xbd\xef\xbf\xbd\\n\xc3\xa9\xe2\x82\xac"
			    "\xf0\x9f\x98\x80\xef\xbf\xbd\xef\xbf\xbd\"");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(target_is_binary_name_by_default),
		cmocka_unit_test(spec_target_then_given_name_wins),
		cmocka_unit_test(specs_naming_two_targets_are_refused),
		cmocka_unit_test(bad_names_are_refused),
		cmocka_unit_test(two_specs_of_one_base_name_are_two_sources),
		cmocka_unit_test(label_sets_are_escaped_and_ordered),
		cmocka_unit_test(label_values_are_valid_utf8),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
