# Shared by bench/run.sh and its sections (bench/uprobe_cost.sh,
# bench/attach_time.sh, bench/nginx_throughput.sh), sourced from the repo
# root. A section calls section_start, runs its modes with interleave
# (rounds in a rotating order, so drift on a shared VM hits every mode
# alike), reports medians and calls section_end. It stops only what it
# started, by pid, and exits 1 if a measurement failed (a missed goal is
# reported, not fatal). Run alone, a section prints the machine header
# itself; under bench/run.sh (BENCH_IN_RUN=1) the header comes once.
. tests/pins.sh
. tests/port.sh
. tests/servers.sh

CW=build/connwatch
ATTACH_WAIT=20	# s; attaching takes ms, but the VM is shared
POLL=0.1	# s between two looks in poll_until
RUNNING=()	# pids we started and have not reaped yet
FAILED=0
RETRIED=()

# --- preflight and header ---

# preflight TOOL...: root, a built connwatch and TOOLs on PATH, or exit 2.
preflight() {
	local t

	if [ "$(id -u)" -ne 0 ]; then
		echo "$0: attaches probes: run as root" >&2
		exit 2
	fi
	[ -x "$CW" ] || { echo "$0: no $CW: run make" >&2; exit 2; }
	for t; do
		command -v "$t" >/dev/null || { echo "$0: needs $t" >&2; exit 2; }
	done
}

header() {
	echo "machine: $(nproc) CPUs, $(awk -F': ' '/^model name/ { print $2; exit }' \
		/proc/cpuinfo), kernel $(uname -r), load $(loadavg)"
	echo "tools:   $($CW --version 2>&1 | head -1), $(bpftrace --version)," \
		"$(bpftool version | head -1)"
	echo "         $(nginx -v 2>&1 | sed 's/^nginx version: //'), wrk" \
		"$(wrk -v 2>&1 | awk '/^wrk/ { print $2; exit }')," \
		"prometheus $(prometheus --version 2>&1 | awk '{ print $3; exit }')"
}

loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

# section_start TITLE TOOL...: preflight, a TMP of our own, the header when
# run alone, the title.
section_start() {
	local title=$1

	shift
	preflight "$@"
	TMP=$(mktemp -d /tmp/connwatch-bench.XXXXXX)
	trap cleanup EXIT
	[ -n "$BENCH_IN_RUN" ] || header
	echo
	echo "== $title"
}

# section_end: no probe of ours left, what was retried, the time; exit
# status 1 if a measurement failed.
section_end() {
	check_detached
	[ ${#RETRIED[@]} -eq 0 ] || echo "retried after a failed run: ${RETRIED[*]}"
	echo "section time: ${SECONDS} s (load $(loadavg))"
	[ $FAILED -eq 0 ] || { echo "$FAILED measurement(s) failed"; exit 1; }
	exit 0
}

cleanup() {
	local pid

	for pid in "${RUNNING[@]}"; do
		kill -TERM "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	rm -rf "$TMP"
}

fail() {
	echo "FAIL: $*"
	FAILED=$((FAILED + 1))
}

# --- the processes we start ---

# started PID: keep it for cleanup, and its start time, so check_detached
# knows it from a later process that got the same pid.
started() {
	RUNNING+=("$1")
	echo "$1 $(start_time "$1")" >>"$TMP/started"
}

start_time() { awk '{ print $22 }' "/proc/$1/stat" 2>/dev/null; }

# reaped PID: keep RUNNING to what cleanup may still signal.
reaped() {
	local i

	for i in "${!RUNNING[@]}"; do
		[ "${RUNNING[$i]}" == "$1" ] && unset 'RUNNING[i]'
	done
}

# stop PID [SIGNAL]: signal one process we started and reap it.
stop() {
	kill "-${2:-TERM}" "$1" 2>/dev/null
	wait "$1" 2>/dev/null
	reaped "$1"
}

# poll_until PID CMD...: run CMD every POLL s until it succeeds; fails once
# PID is gone or after ATTACH_WAIT s.
poll_until() {
	local deadline=$((SECONDS + ATTACH_WAIT)) pid=$1

	shift
	until "$@"; do
		kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $deadline ] || return 1
		sleep "$POLL"
	done
}

# wait_says PID FILE PATTERN: PID wrote PATTERN to FILE (poll_until;
# FILE may not be there yet).
wait_says() { poll_until "$1" grep -qs "$3" "$2"; }

# uprobe_offset PID FILE: file offset of PID's uprobe on FILE, if attached.
uprobe_offset() {
	bpftool perf show 2>/dev/null | grep -F "filename $2 " |
		awk -v pid="$1" '$2 == pid { print $NF; exit }'
}

# wait_uprobe PID FILE: wait until PID's uprobe on FILE is in and print
# its offset. Polls: one bpftool listing can miss an entry (see
# check_detached). Says where PID sleeps if it never comes.
wait_uprobe() {
	if poll_until "$1" has_uprobe "$1" "$2"; then
		echo "$UPROBE_OFF"
		return
	fi
	echo "  pid $1 has no uprobe on $2:" \
		"state $(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)," \
		"wchan $(cat "/proc/$1/wchan" 2>/dev/null)" >&2
	head -5 "/proc/$1/stack" 2>/dev/null | sed 's/^/    /' >&2
	return 1
}

# has_uprobe PID FILE: PID has a uprobe on FILE; its offset in UPROBE_OFF.
has_uprobe() {
	UPROBE_OFF=$(uprobe_offset "$1" "$2")
	[ -n "$UPROBE_OFF" ]
}

# One bpftool listing has been seen to miss a live probe here (its walk of
# /proc races with exiting processes), so a clean one proves little: look
# three times for a probe (uprobe, tracepoint...) held by a process we
# started, or a uprobe on one of DETACH_FILES (bench-only binaries: any
# holder is a leak).
check_detached() {
	local left f

	for _ in 1 2 3; do
		left=$(bpftool perf show 2>/dev/null | while read -r _ pid rest; do
			[ "$(ours "$pid")" == yes ] && echo "pid $pid $rest"
			for f in "${DETACH_FILES[@]}"; do
				[[ "$rest" == *"filename $f "* ]] && echo "pid $pid $rest"
			done
		done | sort -u)
		[ -z "$left" ] || break
		sleep 0.2
	done
	if [ -n "$left" ]; then
		fail "probes still attached:"
		echo "$left"
	else
		echo "detached: no probe of ours left (bpftool perf show)"
	fi
}

# ours PID: "yes" if PID is a process we started (same pid, same start time).
ours() {
	[ -s "$TMP/started" ] || return
	awk -v p="$1" -v t="$(start_time "$1")" \
		'$1 == p && $2 == t && t != "" { print "yes"; exit }' "$TMP/started"
}

# ms T0 T1: ms between two $EPOCHREALTIME readings (s, µs resolution).
ms() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", (b - a) * 1000 }'; }

# start_cw OUT CMD...: a connwatch command (attach, run, collect) in the
# background, its stdout in OUT and its stderr in $TMP/cw.err, until it
# says "metrics on"; sets CW_PID. Both files go first: the shell empties
# them only once the command runs, so the line of the run before would
# pass for this one's (attach times too short, loads before the attach).
# If it does not come, says why and stops the command.
start_cw() {
	local out=$1

	shift
	rm -f "$out" "$TMP/cw.err"
	"$@" >"$out" 2>"$TMP/cw.err" &
	CW_PID=$!
	started "$CW_PID"
	wait_says "$CW_PID" "$TMP/cw.err" "metrics on" && return 0
	echo "connwatch did not start: $*"
	cat "$TMP/cw.err"
	stop "$CW_PID"
	return 1
}

# attach_cw PID ARGS...: `connwatch attach --pid PID ARGS...` on a fresh
# port (start_cw); sets CW_PID and CW_PORT.
attach_cw() {
	local target=$1

	shift
	CW_PORT=$(free_port)
	start_cw "$TMP/cw.out" $CW attach --pid "$target" "$@" \
		--listen "127.0.0.1:$CW_PORT" --alert-log "$TMP/alerts.jsonl"
}

# --- rounds and report ---

# interleave ROUNDS MODE...: ROUNDS rounds of every MODE (run_MODE), in an
# order rotating by one each round; ROUND is the round under way (from 1).
interleave() {
	local rounds=$1 r i
	shift
	local modes=("$@")

	for ((r = 0; r < rounds; r++)); do
		echo "round $((r + 1))/$rounds"
		# shellcheck disable=SC2034 # read by the sections
		ROUND=$((r + 1))
		for ((i = 0; i < ${#modes[@]}; i++)); do
			run_mode "${modes[(r + i) % ${#modes[@]}]}" $((r + 1))
		done
	done
}

# run_mode MODE ROUND: a failed run is retried once; a run that fails
# keeps nothing (it records last), so the retry does not bias the medians.
run_mode() {
	"run_$1" && return
	echo "  $1 failed in round $2: retrying once"
	RETRIED+=("$1 (round $2)")
	"run_$1" || fail "$1, round $2"
}

# record MODE VALUE UNIT: one round's VALUE of MODE, into $TMP/v.MODE.
record() {
	echo "$2" >>"$TMP/v.$1"
	printf '  %-12s %12s %s\n' "$1" "$2" "$3"
}

# median MODE: the median of MODE's recorded values.
median() {
	sort -g "$TMP/v.$1" | awk '{ v[NR] = $1 }
		END { if (NR % 2) print v[(NR + 1) / 2];
		      else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# values MODE: every recorded value of MODE, in round order, on one line.
values() { tr '\n' ' ' <"$TMP/v.$1" | sed 's/ $//'; }

# goal VALUE OP LIMIT: "met" or "MISSED"; OP is <= or >=.
goal() {
	awk -v v="$1" -v op="$2" -v l="$3" 'BEGIN {
		ok = (op == "<=") ? v <= l : v >= l
		print ok ? "met" : "MISSED" }'
}

# ratio A B: A / B to 3 decimals.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }

# round_ratios MODE BASE: each round's MODE / BASE, from its own two runs.
round_ratios() {
	paste "$TMP/v.$1" "$TMP/v.$2" | awk '{ printf " %.3f", $1 / $2 }'
}

# median_of NUMBER...: their median, to 3 decimals.
median_of() {
	printf '%s\n' "$@" | sort -g |
		awk '{ v[NR] = $1 } END { m = NR % 2 ? v[(NR + 1) / 2] : \
			(v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.3f", m }'
}

# median_ratio MODE BASE: the median of round_ratios.
# shellcheck disable=SC2046 # one word per ratio wanted
median_ratio() { median_of $(round_ratios "$1" "$2"); }

# spread MODE: how far MODE's runs lie apart, max / min - 1, in %.
spread() {
	sort -g "$TMP/v.$1" | awk 'NR == 1 { min = $1 } { max = $1 }
		END { printf "%.0f%%", (max / min - 1) * 100 }'
}

# wrk_load URL: one run of ${WRK[@]} on URL; sets REQS (requests
# completed) and RPS.
wrk_load() {
	"${WRK[@]}" "$1" >"$TMP/wrk.out" 2>&1
	REQS=$(awk '/ requests in / { print $1 }' "$TMP/wrk.out")
	RPS=$(awk '/^Requests\/sec:/ { print $2 }' "$TMP/wrk.out")
	grep -E 'Socket errors|Non-2xx' "$TMP/wrk.out" | sed 's/^ */  wrk: /'
	[ -n "$REQS" ] && [ -n "$RPS" ] || { cat "$TMP/wrk.out"; return 1; }
}

# start_prom: Debian's Prometheus on a fresh port, its data in a fresh
# $TMP/prom; sets PROM_PORT and PROM_PID once it is ready.
start_prom() {
	PROM_PORT=$(free_port)
	rm -rf "$TMP/prom"
	mkdir -p "$TMP/prom"
	exec_prometheus "$TMP/prom" "$PROM_PORT" >"$TMP/prom.log" 2>&1 &
	PROM_PID=$!
	started "$PROM_PID"
	ATTACH_WAIT=30 POLL=0.1 poll_until "$PROM_PID" \
		curl -sf "http://127.0.0.1:$PROM_PORT/-/ready" -o /dev/null || {
		echo "prometheus did not start:"
		tail -3 "$TMP/prom.log"
		return 1
	}
}
