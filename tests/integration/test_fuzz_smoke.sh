#!/bin/bash
# Every fuzz harness (tests/fuzz/) replays the inputs that once crashed
# it (tests/fuzz/regressions/HARNESS/) and fuzzes from its seeds for
# FUZZ_SMOKE_SECONDS (10): a parser that crashes, hangs, leaks or
# allocates without bound on hostile input fails here. `make fuzz` runs
# them for long.
. tests/lib.sh
. tests/fuzz/lib.sh

SMOKE=${FUZZ_SMOKE_SECONDS:-10}
ART=build/fuzz/smoke-artifacts	# kept for a look after the run

# The first lines that say what went wrong.
why() {
	grep -a -m 2 -E '^(==[0-9]+==ERROR|SUMMARY|tests/fuzz/.*: |.*runtime error)' "$1" | tr '\n' ' '
}

replay() {	# replay HARNESS
	local h=$1 inputs=(tests/fuzz/regressions/$1/*)

	[ -e "${inputs[0]}" ] || return 0
	# shellcheck disable=SC2046 # options are words
	if build/fuzz/fuzz_$h $(fuzz_options "$h") "${inputs[@]}" \
		>"$TMP/$h.replay" 2>&1; then
		pass "fuzz_$h: ${#inputs[@]} regression inputs replayed"
	else
		fail "fuzz_$h: regression inputs" "$(why "$TMP/$h.replay")"
	fi
}

smoke() {	# smoke HARNESS
	local h=$1 log=$TMP/$1.log

	mkdir -p "$TMP/corpus-$h" "$ART/$h"
	# shellcheck disable=SC2046
	if build/fuzz/fuzz_$h $(fuzz_options "$h") -max_total_time="$SMOKE" \
		-print_final_stats=1 -artifact_prefix="$ART/$h/" \
		"$TMP/corpus-$h" "build/fuzz/seeds/$h" >"$log" 2>&1; then
		pass "fuzz_$h: $SMOKE s, $(fuzz_stat "$log" execs) runs, cov $(fuzz_stat "$log" cov)"
	else
		fail "fuzz_$h: fuzzing found a crash (in $ART/$h/)" "$(why "$log")"
	fi
}

for h in $(fuzz_harnesses); do
	if [ ! -x "build/fuzz/fuzz_$h" ] || [ ! -d "build/fuzz/seeds/$h" ]; then
		fail "fuzz_$h" "not built: make fuzz-bins fuzz-seeds"
		continue
	fi
	replay "$h"
	smoke "$h"
done
