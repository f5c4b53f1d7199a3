#!/bin/bash
# What the sockets preset costs every io_uring user of the host: its
# programs sit on io_uring's raw tracepoints (submission, completion),
# which every io_uring request passes, watched or not. bench/uring_nop
# times OPS io_uring NOPs (the cheapest request: the added cost shows
# whole) with nothing attached (plain) and with `connwatch attach --pid
# IDLE --preset sockets` watching another process (sockets). Rounds
# interleave the two; the table takes medians.
#
# No goal: a real request (a recv, an accept) costs microseconds, so the
# ns added per request is the figure to weigh.
#
# Run as root: part of `make bench` (bench/run.sh), or alone.
# BENCH_URING_OPS (default 2000000) and BENCH_URING_ROUNDS (default 7)
# override.
cd "$(dirname "$0")/.." || exit 2
. bench/lib.sh

OPS=${BENCH_URING_OPS:-2000000}
ROUNDS=${BENCH_URING_ROUNDS:-7}
NOP=build/bench/uring_nop

# nop MODE: one timed run of uring_nop, recorded as MODE.
nop() {
	local ns

	ns=$("$NOP" "$OPS") || return 1
	record "$1" "$ns" ns/op
}

run_plain() { nop plain; }

run_sockets() {
	local idle status

	sleep 600 &
	idle=$!
	started "$idle"
	attach_cw "$idle" --preset sockets || { stop "$idle"; return 1; }
	nop sockets
	status=$?
	stop "$CW_PID"
	stop "$idle"
	return $status
}

[[ $OPS =~ ^[1-9][0-9]*$ && $ROUNDS =~ ^[1-9][0-9]*$ ]] || {
	echo "$0: BENCH_URING_OPS and BENCH_URING_ROUNDS: positive integers" >&2
	exit 2
}
section_start "io_uring NOPs on the host: $OPS per run, $ROUNDS rounds, plain vs the sockets preset attached elsewhere, medians" \
	bpftool
make -s -f bench/bench.mk || exit 2

interleave "$ROUNDS" plain sockets
if [ $FAILED -eq 0 ]; then
	printf '\n%-8s %10s %9s %7s   %s\n' mode "median ns" "/ plain" spread \
		"runs (ns/op)"
	for m in plain sockets; do
		printf '%-8s %10.1f %9.3f %7s   %s\n' "$m" "$(median "$m")" \
			"$(ratio "$(median "$m")" "$(median plain)")" "$(spread "$m")" \
			"$(values "$m")"
	done
	echo "added per io_uring request: $(awk -v a="$(median sockets)" \
		-v b="$(median plain)" 'BEGIN { printf "%.0f", a - b }') ns" \
		"(per round:$(round_ratios sockets plain) x plain)"
fi
section_end
