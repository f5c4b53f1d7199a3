#!/bin/bash
# What watching costs a Go HTTP server: Debian's Prometheus (stripped,
# go1.19, net/http) answering /-/healthy under wrk with a new connection
# per request (-H 'Connection: close'), ROUNDS rounds with the modes
# interleaved, medians of requests/s, each as a ratio to plain:
#
#   plain        Prometheus alone
#   tracing      bench/floor --tracing: a counter bump on acct(2)'s entry,
#                which nothing calls: the kernel's syscall tracing path
#                alone, which every system call on the host takes once
#                any syscall tracepoint is on
#   floor        bench/floor --sockets: a counter bump on the syscall
#                tracepoints the sockets preset uses (every process's
#                accept exits and close entries), what any tool there
#                pays; each tracepoint mode is also given over it
#   sockets      --preset sockets (accept/close tracepoints)
#   go_net_http  --preset go-net-http (the sockets tracepoints; a uprobe
#                on hijackLocked, which Prometheus never calls)
#   go_runtime   --preset go-runtime (checks on their failing branches)
#   all          the three at once (Prometheus has no quic-go)
#
# and, from connwatch_probe_hits_total, the uprobe hits per request of
# each mode.
#
# Each round starts one Prometheus, and its modes run on it in turn, as
# a user attaches connwatch to a server that runs (--fresh: nothing
# adopted from the run before), then detaches. Each round's ratios are
# thus of one process: Prometheus instances differ from one start to the
# next (heap, goroutines, the TSDB's start). BENCH_GO_FRESH=1 starts a
# Prometheus for every run instead.
#
# Single runs swing +-10% on a shared VM, more than the cost looked for;
# so each watched run also measures that cost directly: the run time of
# connwatch's BPF programs (kernel.bpf_stats_enabled, on for the section)
# per request, and its share of the CPU time the host spent per request
# (/proc/stat, every CPU, wrk included, steal excluded). Every run, plain
# too, measures that host CPU time per request: plain's over a mode's,
# per round, is the mode's throughput on a CPU-bound host that nothing
# else shares, a figure the hypervisor's steal and neighbours move less.
# Goal (issue: near-zero overhead): every mode >= 0.95 of plain, judged
# on the median of the per-round ratios (each run against the plain run
# of its own round: a VM that drifts over the section moves both).
#
# A run closes ~70,000 connections on the server side: each leaves a
# TIME_WAIT socket for 60 s, and without a cap the later runs inherit
# the earlier runs' (plain drifted 46% over a section, 92,000 left). The
# section caps them at TW_CAP (net.ipv4.tcp_max_tw_buckets, put back at
# exit), which every run reaches in its first second: each starts alike.
#
# BENCH_GO_MODES (default: all seven) picks modes, plain always among them.
#
# Run as root: part of `make bench` (bench/run.sh), or alone.
# BENCH_GO_ROUNDS (default 3) and BENCH_GO_SECONDS (default 5) override.
cd "$(dirname "$0")/.." || exit 2
. bench/lib.sh

ROUNDS=${BENCH_GO_ROUNDS:-3}
DURATION=${BENCH_GO_SECONDS:-5}
FRESH=${BENCH_GO_FRESH:-}
WRK_OPTS=(-t2 -c16 "-d${DURATION}s")
WRK=(wrk "${WRK_OPTS[@]}" -H 'Connection: close')
GOAL=0.95
TW_CAP=4096
read -ra MODES <<<"plain ${BENCH_GO_MODES:-tracing floor sockets go_net_http go_runtime all}"
FLOOR=build/bench/floor
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

# measured_load MODE [CW_PID]: wrk on Prometheus; MODE's host CPU per
# request appended to $TMP/cpu.MODE, and with CW_PID its BPF run time
# to $TMP/bpf.MODE.
measured_load() {
	local bpf0=0 cpu0 status

	[ -n "$2" ] && bpf0=$(bpf_ns "$2")
	cpu0=$(cpu_ns)
	wrk_load "http://127.0.0.1:$PROM_PORT/-/healthy"
	status=$?
	local cpu
	cpu=$(($(cpu_ns) - cpu0))
	echo "$cpu $REQS" >>"$TMP/cpu.$1"
	[ -n "$2" ] && echo "$(($(bpf_ns "$2") - bpf0)) $cpu $REQS" \
		>>"$TMP/bpf.$1"
	return $status
}

# server_up: the round's Prometheus, started by its first run (which
# stops the round before's), or with FRESH a new one; server_done: the
# run is over (with FRESH, its Prometheus goes).
server_up() {
	[ -z "$FRESH" ] && [ "$PROM_ROUND" == "$ROUND" ] && return 0
	[ -n "$PROM_PID" ] && stop "$PROM_PID"
	PROM_PID=
	start_prom || return 1
	PROM_ROUND=$ROUND
}

server_done() {
	[ -z "$FRESH" ] && return 0
	stop "$PROM_PID"
	PROM_PID=
}

run_plain() {
	server_up || return 1
	measured_load plain
	local status=$?
	server_done
	[ $status -eq 0 ] || return 1
	record plain "$RPS" req/s
}

# Each connwatch stops while the round's Prometheus runs, so it leaves
# its state pinned for a next one (README: Restarting connwatch): the
# pins, up to 34 MB each, go at exit, once the last Prometheus is gone.
PINS=()
note_pins() {
	local dir
	dir=$(pin_dirs "$TMP/cw.err")
	[ -n "$dir" ] && PINS+=("$dir")
}

# watched MODE: Prometheus under connwatch with MODE's presets.
watched() {
	local mode=$1 status

	server_up || return 1
	# shellcheck disable=SC2086 # word splitting wanted
	attach_cw "$PROM_PID" --fresh ${PRESETS[$mode]} || {
		server_done
		return 1
	}
	note_pins
	measured_load "$mode" "$CW_PID"
	status=$?
	echo "$(hits "$CW_PORT") $REQS" >>"$TMP/hits.$mode"
	stop "$CW_PID"
	server_done
	[ $status -eq 0 ] || return 1
	record "$mode" "$RPS" req/s
}

# floor_run MODE ARG: Prometheus with bench/floor ARG's tracepoints on.
floor_run() {
	local pid status

	server_up || return 1
	"$FLOOR" "$2" >"$TMP/floor.out" 2>"$TMP/floor.err" &
	pid=$!
	started "$pid"
	wait_says "$pid" "$TMP/floor.err" attached || {
		cat "$TMP/floor.err"
		stop "$pid"
		server_done
		return 1
	}
	measured_load "$1" "$pid"
	status=$?
	stop "$pid"
	server_done
	[ $status -eq 0 ] || return 1
	record "$1" "$RPS" req/s
}

run_tracing() { floor_run tracing --tracing; }
run_floor() { floor_run floor --sockets; }
run_sockets() { watched sockets; }
run_go_net_http() { watched go_net_http; }
run_go_runtime() { watched go_runtime; }
run_all() { watched all; }

# set_sysctls: TIME_WAIT capped (above), BPF run times counted; both
# put back at exit.
set_sysctls() {
	TW_SAVED=$(sysctl -n net.ipv4.tcp_max_tw_buckets) || return 1
	STATS_SAVED=$(sysctl -n kernel.bpf_stats_enabled) || return 1
	trap 'sysctl -qw net.ipv4.tcp_max_tw_buckets="$TW_SAVED" \
		kernel.bpf_stats_enabled="$STATS_SAVED"; cleanup; drop_pins "${PINS[@]}"' EXIT
	sysctl -qw net.ipv4.tcp_max_tw_buckets=$TW_CAP \
		kernel.bpf_stats_enabled=1
}

# bpf_ns PID: the run time so far, in ns, of every BPF program PID holds
# (the prog_id in its descriptors' fdinfo).
bpf_ns() {
	local ids
	ids=$(cat /proc/"$1"/fdinfo/* 2>/dev/null | awk '/^prog_id:/ { print $2 }')
	bpftool -j prog show | python3 -c '
import json, sys
ids = {int(i) for i in sys.argv[1:]}
print(sum(p.get("run_time_ns", 0) for p in json.load(sys.stdin)
          if p["id"] in ids))' $ids
}

# cpu_ns: CPU time the host has spent so far, every CPU; idle, iowait
# and steal (the hypervisor's, not the requests') excluded.
cpu_ns() {
	awk -v hz="$(getconf CLK_TCK)" '$1 == "cpu" {
		printf "%.0f", ($2 + $3 + $4 + $7 + $8) * 1e9 / hz }' /proc/stat
}

# cpu_per_request MODE: the host's CPU µs per request, over MODE's rounds.
cpu_per_request() {
	awk '{ c += $1; r += $2 } END { printf "%.1f", c / r / 1000 }' \
		"$TMP/cpu.$1"
}

# cpu_ratios MODE: each round's plain CPU per request / MODE's (what
# MODE's throughput would be on a CPU-bound host with no one else on it).
cpu_ratios() {
	paste "$TMP/cpu.plain" "$TMP/cpu.$1" |
		awk '{ printf " %.3f", ($1 / $2) / ($3 / $4) }'
}

# per_request MODE: uprobe hits per request, over all of MODE's rounds.
per_request() {
	awk '{ h += $1; r += $2 } END { printf "%.2f", r ? h / r : 0 }' \
		"$TMP/hits.$1"
}

# has_floor MODE: MODE puts the floor's tracepoints on, and floor ran.
has_floor() {
	[[ " ${MODES[*]} " == *" floor "* && $1 != @(plain|tracing|floor|go_runtime) ]]
}

# bpf_cost MODE: BPF ns per request and their share of the host's CPU
# time per request, over all of MODE's rounds.
bpf_cost() {
	awk '{ b += $1; c += $2; r += $3 } END {
		printf "%.0f ns/req, %.2f%% of CPU", b / r, 100 * b / c }' \
		"$TMP/bpf.$1"
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
			"$([[ $m == @(plain|tracing|floor) ]] && echo - || per_request "$m")" \
			"$(values "$m")"
		[ "$m" == plain ] && continue
		echo "  $m: its BPF programs $(bpf_cost "$m")"
		r=$(median_ratio "$m" plain)
		echo "  $m/plain per round:$(round_ratios "$m" plain), median $r (goal >= $GOAL: $(goal "$r" ">=" "$GOAL"))"
		has_floor "$m" &&
			echo "  $m/floor per round:$(round_ratios "$m" floor), median $(median_ratio "$m" floor)"
		# shellcheck disable=SC2046 # one word per ratio wanted
		r=$(median_of $(cpu_ratios "$m"))
		echo "  host CPU per request $(cpu_per_request "$m") µs, plain $(cpu_per_request plain) µs; plain/$m per round:$(cpu_ratios "$m"), median $r (goal >= $GOAL: $(goal "$r" ">=" "$GOAL"))"
	done
}

[[ $ROUNDS =~ ^[1-9][0-9]*$ && $DURATION =~ ^[1-9][0-9]*$ ]] || {
	echo "$0: BENCH_GO_ROUNDS and BENCH_GO_SECONDS: positive integers" >&2
	exit 2
}
make -s -f bench/bench.mk "$FLOOR" || exit 2
section_start "Go HTTP server (Debian's stripped Prometheus, $([ -n "$FRESH" ] && echo "a fresh one per run" || echo "one per round")): wrk ${WRK_OPTS[*]} -H 'Connection: close', $ROUNDS rounds, modes interleaved, medians, TIME_WAIT capped at $TW_CAP" \
	curl wrk prometheus sysctl bpftool python3
set_sysctls || { echo "$0: cannot set the sysctls it needs" >&2; exit 2; }
interleave "$ROUNDS" "${MODES[@]}"
[ $FAILED -eq 0 ] && table
section_end
