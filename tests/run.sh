#!/bin/bash
# Runs every test: the cmocka unit tests (plain and under ASan/UBSan), the
# integration tests (real probes on real processes, as root), and the
# daemon's hardest of them again under ASan/UBSan and TSan. Ends with
# one line `N passed, N failed`; exits non-zero if anything failed.
cd "$(dirname "$0")/.." || exit 2

PASSED=0
FAILED=0
LOG_DIR=build/test-logs
mkdir -p "$LOG_DIR"

# count LOG OK-PATTERN FAIL-PATTERN
count() {
	local ok bad
	ok=$(grep -cE "$2" "$1")
	bad=$(grep -cE "$3" "$1")
	PASSED=$((PASSED + ok))
	FAILED=$((FAILED + bad))
	echo "$ok passed, $bad failed"
}

run_unit() {
	local bin=$1 log=$LOG_DIR/$(echo "$1" | tr / _).log
	printf '%-40s ' "$bin"
	CMOCKA_MESSAGE_OUTPUT=TAP ASAN_OPTIONS=detect_leaks=1 \
		UBSAN_OPTIONS=print_stacktrace=1 timeout 120 "$bin" >"$log" 2>&1
	local status=$?
	count "$log" '^ok ' '^not ok '
	if [ $status -ne 0 ] && ! grep -q '^not ok ' "$log"; then
		echo "  $bin exited $status without a failed test:"; tail -n 20 "$log"
		FAILED=$((FAILED + 1))
	fi
	grep '^not ok ' "$log" | sed 's/^/  /'
}

# run_integration TEST [LOG-NAME]
run_integration() {
	local t=$1 log=$LOG_DIR/${2:-$(basename "$1" .sh)}.log
	printf '%-40s ' "${2:-$t}"
	timeout 900 bash "$t" >"$log" 2>"$log.err"
	local status=$?
	count "$log" '^PASS: ' '^FAIL: '
	grep '^FAIL: ' "$log" | sed 's/^/  /'
	if [ $status -ne 0 ] && ! grep -q '^FAIL: ' "$log"; then
		echo "  $t exited $status:"; tail -n 20 "$log" "$log.err"
		FAILED=$((FAILED + 1))
	fi
}

# The tests that work the daemon hardest (sockets under churn and
# restarts, storms, daemon mode, alert delivery, the seed's bug), again
# with every connwatch they start built under a sanitizer: ASan+UBSan
# (`make asan`), and TSan (`make tsan`) for those where threads meet
# (/metrics, the sweep, alert delivery, --config's reloads). Each
# connwatch writes any report to a file (log_path): one there fails the
# test, and none is one check passed. The shim is the release build's
# (connwatch looks for it beside itself).
UNDER_ASAN="test_sockets test_sockets_paths test_restart test_storm
	test_config test_alert_push test_quic_v048 test_double_done"
UNDER_TSAN="test_scrape_lifecycle test_storm test_sockets test_config
	test_alert_push"

# run_sanitized SAN TEST: TEST with build/SAN/connwatch (asan, tsan).
run_sanitized() {
	local san=$1 name=$2 dir=$LOG_DIR/$2.$1.reports
	local opts=log_path=$PWD/$dir/$1

	rm -rf "$dir"
	mkdir -p "$dir"
	CW_UNDER_TEST=build/$san/connwatch \
	CONNWATCH_PRELOAD_LIB=$PWD/build/libconnwatch-preload.so \
	ASAN_OPTIONS=detect_leaks=1:$opts \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:log_path=$PWD/$dir/ubsan \
	TSAN_OPTIONS=$opts \
		run_integration "tests/integration/$name.sh" "$name.$san"
	if [ -n "$(ls -A "$dir")" ]; then
		echo "  $name under $san: sanitizer reports ($dir):"
		head -n 40 "$dir"/* | sed 's/^/    /'
		FAILED=$((FAILED + 1))
	else
		PASSED=$((PASSED + 1))
	fi
}

if [ "$(id -u)" -ne 0 ]; then
	echo "tests/run.sh: the integration tests attach real probes: run as root" >&2
	exit 2
fi

echo "== unit tests"
for bin in build/unit/test_* build/unit-san/test_*; do
	[ -x "$bin" ] && run_unit "$bin"
done
echo "== integration tests"
for t in tests/integration/test_*.sh; do
	run_integration "$t"
done
echo "== integration tests, connwatch under ASan+UBSan, then TSan"
for t in $UNDER_ASAN; do
	run_sanitized asan "$t"
done
for t in $UNDER_TSAN; do
	run_sanitized tsan "$t"
done
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ] && [ "$PASSED" -gt 0 ]
