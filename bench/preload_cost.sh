#!/bin/bash
# What the LD_PRELOAD shim adds to the calls it wraps (DESIGN.md §7: the
# hot path costs nanoseconds), bench/preload_ops timing each operation
# plain and under the shim reporting to a running `connwatch collect`,
# ROUNDS rounds with the modes interleaved, medians of CPU ns per
# operation (user + system, the fork children's included):
#
#   close   close() of an fd the shim never tracked: what every close pays
#   accept  a loopback connect + accept + close of both ends
#   fork    fork + _exit + waitpid: the child makes its own page and
#           connection to the collector
#
# Run as root: part of `make bench` (bench/run.sh), or alone.
# BENCH_PRELOAD_ROUNDS (default 5) overrides.
cd "$(dirname "$0")/.." || exit 2
. bench/lib.sh

ROUNDS=${BENCH_PRELOAD_ROUNDS:-5}
OPS=(close accept fork)
declare -A COUNT=([close]=2000000 [accept]=30000 [fork]=3000)

# run_OP_MODE: one timed run of OP, recorded as OP_MODE.
op_run() {	# op_run OP MODE [ENV...]
	local op=$1 mode=$2 ns
	shift 2
	ns=$(env "$@" build/bench/preload_ops "$op" "${COUNT[$op]}") ||
		return 1
	record "${op}_$mode" "$ns" "CPU ns/op"
}
for op in "${OPS[@]}"; do
	eval "run_${op}_plain() { op_run $op plain; }"
	eval "run_${op}_shim() { op_run $op shim LD_PRELOAD=\$SHIM CONNWATCH_PRELOAD_SOCKET=\$TMP/pl.sock; }"
done

table() {
	local op r

	printf '\n%-7s %14s %14s %8s   %s\n' op "plain CPU ns" "shim CPU ns" \
		"shim/plain" "per round"
	for op in "${OPS[@]}"; do
		r=$(ratio "$(median "${op}_shim")" "$(median "${op}_plain")")
		printf '%-7s %14s %14s %8s  %s\n' "$op" "$(median "${op}_plain")" \
			"$(median "${op}_shim")" "$r" \
			"$(round_ratios "${op}_shim" "${op}_plain")"
	done
}

[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || {
	echo "$0: BENCH_PRELOAD_ROUNDS: a positive integer" >&2
	exit 2
}
section_start "LD_PRELOAD shim: CPU ns per operation, plain and under the shim, $ROUNDS rounds, modes interleaved, medians" curl
SHIM=$PWD/build/libconnwatch-preload.so
[ -r "$SHIM" ] || { echo "$0: no $SHIM: run make" >&2; exit 2; }
make -s -f bench/bench.mk build/bench/preload_ops || exit 2
start_cw "$TMP/cw.out" $CW collect --preload-socket "$TMP/pl.sock" \
	--listen "127.0.0.1:$(free_port)" --alert-log "$TMP/alerts.jsonl" ||
	exit 1
interleave "$ROUNDS" close_plain close_shim accept_plain accept_shim \
	fork_plain fork_shim
[ $FAILED -eq 0 ] && table
section_end
