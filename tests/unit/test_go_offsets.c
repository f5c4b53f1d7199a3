// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The Go offset table against DWARF: for a fixture built by each Go here
 * (1.19 and 1.22, `make fixtures`), every field's offset in its DWARF is
 * the one the table gives the stripped build of the same source.
 */
#include <stdlib.h>
#include "../../user/go_offsets.h"
#include "../../user/gopclntab.h"
#include "unit.h"

/* tests/fixtures/go_net_http: net/http's server, TLS, a WaitGroup. */
static const char *const builds[] = {
	"build/fixtures/go_net_http",		/* go1.19 */
	"build/fixtures/go_net_http.go122",
};

static const char *const field_names[GO_FIELD__COUNT] = {
	[GO_HCHAN_CLOSED] = "hchan.closed",
	[GO_WAITGROUP_COUNTER] = "WaitGroup counter",
	[GO_HTTP_CONN_RWC] = "http.conn.rwc",
	[GO_ITAB_FUN] = "itab.fun",
	[GO_TLS_CONN_CONN] = "tls.Conn.conn",
	[GO_NET_CONN_FD] = "net.conn.fd",
	[GO_NETFD_PFD] = "netFD.pfd",
	[GO_POLL_FD_SYSFD] = "poll.FD.Sysfd",
};

/* The Go version the build's .go.buildinfo names ("go1.19.8"). */
static void go_version_of(const char *path, char *version, size_t len)
{
	struct go_pclntab go;
	char err[256] = "";

	if (go_pclntab_load(&go, path, err, sizeof(err))) {
		print_error("%s: %s (run `make fixtures`)\n", path, err);
		fail();
	}
	snprintf(version, len, "%s", go.version);
	go_pclntab_free(&go);
	assert_prefix(version, "go1.");
}

static void table_matches_dwarf(const char *path)
{
	char stripped[256], version[64], err[256];
	const char *from_dwarf, *from_table;
	int64_t dwarf_off, table_off;
	int f;

	snprintf(stripped, sizeof(stripped), "%s.stripped", path);
	go_version_of(path, version, sizeof(version));
	for (f = 0; f < GO_FIELD__COUNT; f++) {
		assert_int_equal(go_field_offset(path, version, f, &dwarf_off,
						 &from_dwarf, err, sizeof(err)), 0);
		assert_string_equal(from_dwarf, "DWARF");
		assert_int_equal(go_field_offset(stripped, version, f,
						 &table_off, &from_table, err,
						 sizeof(err)), 0);
		assert_string_equal(from_table, "table");
		if (dwarf_off != table_off)
			print_error("%s %s: DWARF %lld, table %lld\n", version,
				    field_names[f], (long long)dwarf_off,
				    (long long)table_off);
		assert_int_equal(dwarf_off, table_off);
	}
}

static void go119_table_matches_dwarf(void **state)
{
	(void)state;
	table_matches_dwarf(builds[0]);
}

static void go122_table_matches_dwarf(void **state)
{
	(void)state;
	table_matches_dwarf(builds[1]);
}

/* Outside the table's versions, and with no DWARF: refused, named. */
static void unknown_version_is_refused(void **state)
{
	const char *from;
	char err[256];
	int64_t off;

	(void)state;
	assert_int_equal(go_field_offset("build/fixtures/go_net_http.stripped",
					 "go1.15.2", GO_HTTP_CONN_RWC, &off,
					 &from, err, sizeof(err)), -1);
	assert_contains(err, "net/http.conn.rwc");
	assert_contains(err, "go1.15.2");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(go119_table_matches_dwarf),
		cmocka_unit_test(go122_table_matches_dwarf),
		cmocka_unit_test(unknown_version_is_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
