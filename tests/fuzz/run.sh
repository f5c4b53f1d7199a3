#!/bin/bash
# `make fuzz`: each harness (or those named) for SECONDS, one after the
# other, then a table of executions per second, coverage and crashes.
# The corpus of each grows in build/fuzz/corpus/HARNESS from one run to
# the next; a crash, hang, leak or OOM is kept in
# build/fuzz/artifacts/HARNESS/ (libFuzzer stops at the first).
# Usage: tests/fuzz/run.sh SECONDS [HARNESS...]
cd "$(dirname "$0")/../.." || exit 2
. tests/fuzz/lib.sh

secs=$1
shift
[ $# -gt 0 ] || set -- $(fuzz_harnesses)
table=$(printf '%-14s %12s %8s %6s %7s %7s %s' harness execs exec/s cov ft corpus crashes)
found=0
for h in "$@"; do
	corpus=build/fuzz/corpus/$h art=build/fuzz/artifacts/$h
	log=build/fuzz/logs/$h.log stamp=build/fuzz/logs/$h.start
	mkdir -p "$corpus" "$art" build/fuzz/logs
	touch "$stamp"
	echo "== fuzz_$h: ${secs} s (log: $log)"
	# shellcheck disable=SC2046 # options are words
	build/fuzz/fuzz_$h $(fuzz_options "$h") -max_total_time="$secs" \
		-print_final_stats=1 -artifact_prefix="$art/" "$corpus" \
		build/fuzz/seeds/$h >"$log" 2>&1
	status=$?
	crashes=$(find "$art" -newer "$stamp" -type f \
		\( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' \
		-o -name 'oom-*' \) | sort)
	n=$(echo -n "$crashes" | grep -c .)
	# A leak found at exit has no input to keep: the log says where.
	[ $status -ne 0 ] && [ "$n" -eq 0 ] && n=1 crashes="(no input: $log)"
	found=$((found + n))
	grep -a -m 3 -E '^(==[0-9]+==ERROR|SUMMARY|tests/fuzz/.*: |.*runtime error)' "$log"
	table+=$(printf '\n%-14s %12s %8s %6s %7s %7s %s' "$h" \
		"$(fuzz_stat "$log" execs)" "$(fuzz_stat "$log" exec/s)" \
		"$(fuzz_stat "$log" cov)" "$(fuzz_stat "$log" ft)" \
		"$(fuzz_stat "$log" corp)" "$n${crashes:+ ($(echo $crashes))}")
done
echo
echo "$table"
[ $found -eq 0 ] || echo "Copy each crash to tests/fuzz/regressions/HARNESS/ once fixed: the smoke replays them."
[ $found -eq 0 ]
