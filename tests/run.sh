#!/bin/bash
# Runs every test: the cmocka unit tests (plain and under ASan/UBSan) and
# the integration tests (real probes on real processes, as root). Ends with
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

run_integration() {
	local t=$1 log=$LOG_DIR/$(basename "$1" .sh).log
	printf '%-40s ' "$t"
	timeout 900 bash "$t" >"$log" 2>"$log.err"
	local status=$?
	count "$log" '^PASS: ' '^FAIL: '
	grep '^FAIL: ' "$log" | sed 's/^/  /'
	if [ $status -ne 0 ] && ! grep -q '^FAIL: ' "$log"; then
		echo "  $t exited $status:"; tail -n 20 "$log" "$log.err"
		FAILED=$((FAILED + 1))
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
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ] && [ "$PASSED" -gt 0 ]
