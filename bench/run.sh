#!/bin/bash
# connwatch per-hit cost (DESIGN.md §7): bench/hit_loop calls
# bench_conn_inc() CALLS times with no probe (baseline), with the floor
# (bench/floor: the same uprobe, a program that only bumps a counter),
# with connwatch (bench/tracker_bench.yaml: its real inc path) and with
# bpftrace counting the same calls. Rounds interleave the four modes, in a
# rotating order, so drift on a shared VM hits all of them alike; the
# table takes the median of the rounds.
#
# Per-hit cost = ns/call with the probe - ns/call of the baseline. Goals:
# connwatch/floor <= 1.15, daemon RSS <= 20 MB while watching. A missed
# goal is reported, not fatal; a failed measurement (a probe that did not
# see every call, a process that did not start) exits 1.
#
# Run as root from anywhere: `make bench`, or bench/run.sh.
# BENCH_CALLS (default 100000) and BENCH_ROUNDS (default 5) override.
cd "$(dirname "$0")/.." || exit 2
. tests/port.sh

CALLS=${BENCH_CALLS:-100000}
ROUNDS=${BENCH_ROUNDS:-5}
MODES=(baseline floor connwatch bpftrace)
GOAL_RATIO=1.15
GOAL_RSS_MB=20
CW=build/connwatch
BIN=$PWD/build/bench	# absolute: uprobe targets are named by path
HIT=$BIN/hit_loop
FUNC=bench_conn_inc
SPEC=bench/tracker_bench.yaml
TMP=$(mktemp -d /tmp/connwatch-bench.XXXXXX)
RUNNING=()	# pids we started and have not reaped yet
FAILED=0
RETRIED=()
ATTACH_WAIT=20	# s; attaching takes ms, but the VM is shared

cleanup() {
	local pid

	for pid in "${RUNNING[@]}"; do
		kill -TERM "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	rm -rf "$TMP"
}
trap cleanup EXIT

fail() {
	echo "FAIL: $*"
	FAILED=$((FAILED + 1))
}

# started PID / reaped PID: keep RUNNING to what cleanup may still signal.
started() { RUNNING+=("$1"); }
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

# says PID FILE PATTERN: PID wrote PATTERN to FILE; fails once PID is gone.
says() {
	grep -q "$3" "$2" && return 0
	kill -0 "$1" 2>/dev/null || return 2
	return 1
}

# wait_says PID FILE PATTERN: wait for says, at most ATTACH_WAIT s.
wait_says() {
	local deadline=$((SECONDS + ATTACH_WAIT)) st

	while :; do
		says "$@"
		st=$?
		[ $st -eq 1 ] && [ $SECONDS -lt $deadline ] || return $st
		sleep 0.1
	done
}

# probe_offset PID: file offset of PID's uprobe on hit_loop, if attached.
probe_offset() {
	bpftool perf show 2>/dev/null | grep -F "filename $HIT " |
		awk -v pid="$1" '$2 == pid { print $NF; exit }'
}

# Why PID has no probe after the wait: where it sleeps in the kernel.
attach_diag() {
	echo "  pid $1 has no uprobe on $HIT:" \
		"state $(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)," \
		"wchan $(cat "/proc/$1/wchan" 2>/dev/null)"
	head -5 "/proc/$1/stack" 2>/dev/null | sed 's/^/    /'
}

# wait_probe MODE PID: wait until PID's uprobe is in; record its offset.
# Polls: one bpftool listing can miss an entry (see check_detached).
wait_probe() {
	local deadline=$((SECONDS + ATTACH_WAIT)) off

	until off=$(probe_offset "$2"); [ -n "$off" ]; do
		if ! kill -0 "$2" 2>/dev/null || [ $SECONDS -ge $deadline ]; then
			attach_diag "$2"
			return 1
		fi
		sleep 0.1
	done
	echo "$off" >>"$TMP/offset.$1"
}

# loop OUT: one timed run of hit_loop; "PID NS" into OUT.
loop() {
	local pid ns

	"$HIT" "$CALLS" >"$TMP/loop.out" &
	pid=$!	# hit_loop's own pid: the probes key their counts on it
	wait "$pid" || return 1
	ns=$(cat "$TMP/loop.out")
	[ -n "$ns" ] || return 1
	echo "$pid $ns" >"$1"
}

# record MODE NS: one round's ns/call of MODE.
record() {
	echo "$2" >>"$TMP/ns.$1"
	printf '  %-10s %10s ns/call\n' "$1" "$2"
}

# --- the four modes: each runs one loop and records its ns/call ---

run_baseline() {
	loop "$TMP/res" || return 1
	record baseline "$(cut -d' ' -f2 "$TMP/res")"
}

run_floor() {
	local pid hits

	"$BIN/floor" "$HIT" "$FUNC" >"$TMP/floor.out" 2>"$TMP/floor.err" &
	pid=$!
	started "$pid"
	if ! wait_says "$pid" "$TMP/floor.err" attached ||
	   ! wait_probe floor "$pid"; then
		stop "$pid"
		cat "$TMP/floor.err"
		return 1
	fi
	loop "$TMP/res"
	local status=$?
	stop "$pid"
	[ $status -eq 0 ] || return 1
	hits=$(awk '/^hits/ { print $2 }' "$TMP/floor.out")
	[ "$hits" == "$CALLS" ] || { echo "floor saw ${hits:-no} hits"; return 1; }
	record floor "$(cut -d' ' -f2 "$TMP/res")"
}

# rss_kb PID: "VmRSS VmHWM" in kB.
rss_kb() {
	awk '/^VmRSS:/ { r = $2 } /^VmHWM:/ { h = $2 } END { print r, h }' \
		"/proc/$1/status"
}

# cw_increments PORT PID: connwatch's increment count for PID.
cw_increments() {
	curl -sf "http://127.0.0.1:$1/metrics" |
		grep "^connwatch_counter_increments_total{.*pid=\"$2\"}" |
		awk '{ print $2 }'
}

run_connwatch() {
	local pid port inc

	port=$(free_port)
	$CW attach --exe "$HIT" --spec "$SPEC" --listen "127.0.0.1:$port" \
		--alert-log "$TMP/alerts.jsonl" 2>"$TMP/cw.err" &
	pid=$!
	started "$pid"
	if ! wait_says "$pid" "$TMP/cw.err" "metrics on" ||
	   ! wait_probe connwatch "$pid"; then
		stop "$pid"
		cat "$TMP/cw.err"
		return 1
	fi
	echo "attached $(rss_kb "$pid")" >>"$TMP/rss"
	loop "$TMP/res"
	local status=$?
	echo "after $(rss_kb "$pid")" >>"$TMP/rss"
	# Scrape before detaching: the counts live in the daemon's maps.
	[ $status -ne 0 ] ||
		inc=$(cw_increments "$port" "$(cut -d' ' -f1 "$TMP/res")")
	stop "$pid"
	[ $status -eq 0 ] || return 1
	echo "  connwatch_counter_increments_total: ${inc:-none} (want $CALLS)"
	[ "$inc" == "$CALLS" ] || { echo "connwatch miscounted"; return 1; }
	record connwatch "$(cut -d' ' -f2 "$TMP/res")"
}

run_bpftrace() {
	local pid count

	bpftrace -e "uprobe:$HIT:$FUNC { @[pid] = count(); }" \
		>"$TMP/bt.out" 2>"$TMP/bt.err" &
	pid=$!
	started "$pid"
	# "Attaching 1 probe..." comes before the attach: wait for the probe.
	if ! wait_says "$pid" "$TMP/bt.out" "Attaching 1 probe" ||
	   ! wait_probe bpftrace "$pid"; then
		stop "$pid" INT
		cat "$TMP/bt.out" "$TMP/bt.err"
		return 1
	fi
	loop "$TMP/res"
	local status=$?
	stop "$pid" INT		# bpftrace prints its map on SIGINT
	[ $status -eq 0 ] || return 1
	count=$(awk -v p="$(cut -d' ' -f1 "$TMP/res")" \
		'$1 == "@[" p "]:" { print $2 }' "$TMP/bt.out")
	[ "$count" == "$CALLS" ] || { echo "bpftrace saw ${count:-no} calls"; return 1; }
	record bpftrace "$(cut -d' ' -f2 "$TMP/res")"
}

# run_mode MODE ROUND: a failed run is retried once; a run that fails
# keeps nothing, so the retry does not bias the medians.
run_mode() {
	"run_$1" && return
	echo "  $1 failed in round $2: retrying once"
	RETRIED+=("$1 (round $2)")
	"run_$1" || fail "$1, round $2"
}

# --- report ---

median() {
	sort -g "$1" | awk '{ v[NR] = $1 }
		END { if (NR % 2) print v[(NR + 1) / 2];
		      else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

header() {
	echo "connwatch bench: $FUNC x $CALLS calls, $ROUNDS rounds," \
		"modes interleaved, medians"
	echo "machine: $(nproc) CPUs, $(awk -F': ' '/^model name/ { print $2; exit }' \
		/proc/cpuinfo), kernel $(uname -r)"
	echo "tools:   $($CW --version 2>&1 | head -1), $(bpftrace --version)," \
		"$(bpftool version | head -1)"
}

# goal VALUE LIMIT: "met" or "MISSED".
goal() { awk -v v="$1" -v l="$2" 'BEGIN { print (v <= l) ? "met" : "MISSED" }'; }

table() {
	local base floor m ns

	base=$(median "$TMP/ns.baseline")
	floor=$(awk -v n="$(median "$TMP/ns.floor")" -v b="$base" \
		'BEGIN { print n - b }')
	# "µ" is two bytes and printf pads bytes: one more to fill 14 columns.
	printf '\n%-10s %12s %15s %10s\n' mode ns/call "per-hit µs" "/ floor"
	printf '%-10s %12s %14s %10s\n' baseline "$base" - -
	for m in floor connwatch bpftrace; do
		ns=$(median "$TMP/ns.$m")
		awk -v m="$m" -v n="$ns" -v b="$base" -v f="$floor" 'BEGIN {
			printf "%-10s %12.2f %14.3f %10.3f\n", m, n,
				(n - b) / 1000, (n - b) / f }'
		awk -v n="$ns" -v b="$base" 'BEGIN { print n - b }' >"$TMP/hit.$m"
	done
}

# One round's connwatch/floor, from that round's own two runs.
round_ratios() {
	paste "$TMP/ns.baseline" "$TMP/ns.floor" "$TMP/ns.connwatch" |
		awk '{ printf " %.3f", ($3 - $1) / ($2 - $1) }'
}

ratios() {
	local cw fl bt r

	cw=$(cat "$TMP/hit.connwatch")
	fl=$(cat "$TMP/hit.floor")
	bt=$(cat "$TMP/hit.bpftrace")
	r=$(awk -v a="$cw" -v b="$fl" 'BEGIN { printf "%.3f", a / b }')
	echo
	echo "connwatch/floor    $r   (goal <= $GOAL_RATIO: $(goal "$r" "$GOAL_RATIO"))"
	echo "  per round:      $(round_ratios)"
	r=$(awk -v a="$cw" -v b="$bt" 'BEGIN { printf "%.3f", a / b }')
	echo "connwatch/bpftrace $r"
}

# rss_of WHEN: max VmRSS and VmHWM over the rounds' WHEN samples, in MB.
rss_of() {
	awk -v w="$1" '$1 == w { if ($2 > r) r = $2; if ($3 > h) h = $3 }
		END { printf "%.1f %.1f\n", r / 1024, h / 1024 }' "$TMP/rss"
}

rss() {
	local rss hwm a b

	rss=$(awk '{ if ($2 > m) m = $2 } END { printf "%.1f", m / 1024 }' "$TMP/rss")
	hwm=$(awk '{ if ($3 > m) m = $3 } END { printf "%.1f", m / 1024 }' "$TMP/rss")
	read -r a b <<<"$(rss_of attached)"
	echo
	echo "connwatch RSS while watching: $rss MB (goal <= $GOAL_RSS_MB MB:" \
		"$(goal "$rss" "$GOAL_RSS_MB"))"
	echo "  attached, before the loop: VmRSS $a MB, VmHWM $b MB"
	read -r a b <<<"$(rss_of after)"
	echo "  after the loop:            VmRSS $a MB, VmHWM $b MB"
	# VmHWM includes the peak while attaching, before watching starts.
	[ "$(goal "$hwm" "$GOAL_RSS_MB")" == met ] ||
		echo "  note: peak VmHWM $hwm MB > $GOAL_RSS_MB MB"
}

# Every mode's probe must sit on the same instruction.
check_offsets() {
	local offs

	offs=$(cat "$TMP"/offset.* | sort -u)
	if [ "$(echo "$offs" | wc -l)" -ne 1 ]; then
		fail "the modes probed different offsets:" "$(echo "$offs" | tr "\n" " ")"
		return
	fi
	echo "probe site: $FUNC, file offset $offs, in every mode"
}

# One bpftool listing has been seen to miss a live probe here (its walk of
# /proc races with exiting processes), so a clean one proves little:
# look three times.
check_detached() {
	local left

	for _ in 1 2 3; do
		left=$(bpftool perf show 2>/dev/null | grep -F "filename $HIT ")
		[ -z "$left" ] || break
		sleep 0.2
	done
	if [ -n "$left" ]; then
		fail "a uprobe on $HIT is still attached"
		echo "$left"
	else
		echo "detached: no uprobe on hit_loop left (bpftool perf show)"
	fi
}

# --- main ---

if [ "$(id -u)" -ne 0 ]; then
	echo "bench/run.sh: attaches uprobes: run as root" >&2
	exit 2
fi
[ -x "$CW" ] || { echo "bench/run.sh: no $CW: run make" >&2; exit 2; }
[[ $CALLS =~ ^[1-9][0-9]*$ && $ROUNDS =~ ^[1-9][0-9]*$ ]] || {
	echo "bench/run.sh: BENCH_CALLS and BENCH_ROUNDS: positive integers" >&2
	exit 2
}
make -s -f bench/bench.mk || exit 2

header
for ((r = 0; r < ROUNDS; r++)); do
	echo "round $((r + 1))/$ROUNDS"
	for ((i = 0; i < ${#MODES[@]}; i++)); do
		m=${MODES[(r + i) % ${#MODES[@]}]}
		run_mode "$m" $((r + 1))
	done
done

if [ $FAILED -eq 0 ]; then
	table
	ratios
	rss
	check_offsets
fi
check_detached
[ ${#RETRIED[@]} -eq 0 ] || echo "retried after a failed run: ${RETRIED[*]}"
echo "bench time: ${SECONDS} s"
[ $FAILED -eq 0 ] || { echo "$FAILED measurement(s) failed"; exit 1; }
