#!/bin/bash
# What watching costs a Go HTTP server: Debian's Prometheus (stripped,
# go1.19, net/http) answering /-/healthy under wrk with a new connection
# per request (-H 'Connection: close'), ROUNDS rounds with the modes
# interleaved, medians of requests/s, each as a ratio to plain:
#
#   plain        Prometheus alone
#   sockets      --preset sockets (accept/close tracepoints)
#   go_net_http  --preset go-net-http (the sockets tracepoints; a uprobe
#                on hijackLocked, which Prometheus never calls)
#   go_runtime   --preset go-runtime (checks on their failing branches)
#   all          the three at once (Prometheus has no quic-go)
#
# and, from connwatch_probe_hits_total, the uprobe hits per request of
# each mode. Every mode starts its own Prometheus on a fresh port.
# Goal (issue: near-zero overhead): every mode >= 0.95 of plain.
#
# Run as root: part of `make bench` (bench/run.sh), or alone.
# BENCH_GO_ROUNDS (default 3) and BENCH_GO_SECONDS (default 5) override.
cd "$(dirname "$0")/.." || exit 2
. bench/lib.sh

ROUNDS=${BENCH_GO_ROUNDS:-3}
DURATION=${BENCH_GO_SECONDS:-5}
WRK_OPTS=(-t2 -c16 "-d${DURATION}s")
WRK=(wrk "${WRK_OPTS[@]}" -H 'Connection: close')
GOAL=0.95
MODES=(plain sockets go_net_http go_runtime all)
declare -A PRESETS=(
	[sockets]="--preset sockets"
	[go_net_http]="--preset go-net-http"
	[go_runtime]="--preset go-runtime"
	[all]="--preset sockets --preset go-net-http --preset go-runtime"
)

# hits PORT: every uprobe hit connwatch on PORT counted.
hits() {
	curl -sf "http://127.0.0.1:$1/metrics" |
		awk '/^connwatch_probe_hits_total\{/ { s += $NF } END { print s + 0 }'
}

run_plain() {
	start_prom || return 1
	wrk_load "http://127.0.0.1:$PROM_PORT/-/healthy"
	local status=$?
	stop "$PROM_PID"
	[ $status -eq 0 ] || return 1
	record plain "$RPS" req/s
}

# watched MODE: Prometheus under connwatch with MODE's presets.
watched() {
	local mode=$1 status

	start_prom || return 1
	# shellcheck disable=SC2086 # word splitting wanted
	attach_cw "$PROM_PID" ${PRESETS[$mode]} || {
		stop "$PROM_PID"
		return 1
	}
	wrk_load "http://127.0.0.1:$PROM_PORT/-/healthy"
	status=$?
	echo "$(hits "$CW_PORT") $REQS" >>"$TMP/hits.$mode"
	stop "$CW_PID"
	stop "$PROM_PID"
	[ $status -eq 0 ] || return 1
	record "$mode" "$RPS" req/s
}

run_sockets() { watched sockets; }
run_go_net_http() { watched go_net_http; }
run_go_runtime() { watched go_runtime; }
run_all() { watched all; }

# per_request MODE: uprobe hits per request, over all of MODE's rounds.
per_request() {
	awk '{ h += $1; r += $2 } END { printf "%.2f", r ? h / r : 0 }' \
		"$TMP/hits.$1"
}

table() {
	local plain m r

	plain=$(median plain)
	printf '\n%-12s %12s %8s %7s %13s   %s\n' mode "median req/s" "/ plain" \
		spread "uprobes/req" "runs (req/s)"
	for m in "${MODES[@]}"; do
		r=$(ratio "$(median "$m")" "$plain")
		printf '%-12s %12.0f %8s %7s %13s   %s\n' "$m" "$(median "$m")" \
			"$r" "$(spread "$m")" \
			"$([ "$m" == plain ] && echo - || per_request "$m")" \
			"$(values "$m")"
		[ "$m" == plain ] ||
			echo "  $m/plain $r (goal >= $GOAL: $(goal "$r" ">=" "$GOAL")), per round:$(round_ratios "$m" plain)"
	done
}

[[ $ROUNDS =~ ^[1-9][0-9]*$ && $DURATION =~ ^[1-9][0-9]*$ ]] || {
	echo "$0: BENCH_GO_ROUNDS and BENCH_GO_SECONDS: positive integers" >&2
	exit 2
}
section_start "Go HTTP server (Debian's stripped Prometheus): wrk ${WRK_OPTS[*]} -H 'Connection: close', $ROUNDS rounds, modes interleaved, medians" \
	curl wrk prometheus
interleave "$ROUNDS" "${MODES[@]}"
[ $FAILED -eq 0 ] && table
section_end
