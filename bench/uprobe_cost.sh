#!/bin/bash
# connwatch per-hit cost (DESIGN.md §7): bench/hit_loop calls
# bench_conn_inc() CALLS times with no probe (baseline), with the floor
# (bench/floor: the same uprobe, a program that only bumps a counter),
# with connwatch (bench/tracker_bench.yaml: its real inc path) and with
# bpftrace counting the same calls. Rounds interleave the four modes; the
# table takes the median of the rounds.
#
# Per-hit cost = ns/call with the probe - ns/call of the baseline. Goals:
# connwatch/floor <= 1.15, daemon RSS <= 20 MB while watching. A missed
# goal is reported, not fatal; a failed measurement (a probe that did not
# see every call, a process that did not start) exits 1.
#
# Run as root: part of `make bench` (bench/run.sh), or alone.
# BENCH_CALLS (default 100000) and BENCH_ROUNDS (default 5) override.
cd "$(dirname "$0")/.." || exit 2
. bench/lib.sh

CALLS=${BENCH_CALLS:-100000}
ROUNDS=${BENCH_ROUNDS:-5}
GOAL_RATIO=1.15
GOAL_RSS_MB=20
BIN=$PWD/build/bench	# absolute: uprobe targets are named by path
HIT=$BIN/hit_loop
FUNC=bench_conn_inc
SPEC=bench/tracker_bench.yaml
DETACH_FILES=("$HIT")

# wait_probe MODE PID: wait until PID's uprobe on hit_loop is in; record
# its offset.
wait_probe() {
	local off

	off=$(wait_uprobe "$2" "$HIT") || return 1
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

# record_loop MODE: record the ns/call of MODE's last loop.
record_loop() { record "$1" "$(cut -d' ' -f2 "$TMP/res")" ns/call; }

# --- the four modes: each runs one loop and records its ns/call ---

run_baseline() {
	loop "$TMP/res" || return 1
	record_loop baseline
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
	record_loop floor
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
	start_cw "$TMP/cw.out" $CW attach --exe "$HIT" --spec "$SPEC" \
		--listen "127.0.0.1:$port" --alert-log "$TMP/alerts.jsonl" ||
		return 1
	pid=$CW_PID
	if ! wait_probe connwatch "$pid"; then
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
	record_loop connwatch
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
	record_loop bpftrace
}

# --- report ---

table() {
	local base floor m ns

	base=$(median baseline)
	floor=$(awk -v n="$(median floor)" -v b="$base" 'BEGIN { print n - b }')
	# "µ" is two bytes and printf pads bytes: one more to fill 14 columns.
	printf '\n%-10s %12s %15s %10s\n' mode ns/call "per-hit µs" "/ floor"
	printf '%-10s %12s %14s %10s\n' baseline "$base" - -
	for m in floor connwatch bpftrace; do
		ns=$(median "$m")
		awk -v m="$m" -v n="$ns" -v b="$base" -v f="$floor" 'BEGIN {
			printf "%-10s %12.2f %14.3f %10.3f\n", m, n,
				(n - b) / 1000, (n - b) / f }'
		awk -v n="$ns" -v b="$base" 'BEGIN { print n - b }' >"$TMP/hit.$m"
	done
}

# One round's connwatch/floor, from that round's own runs, less its baseline.
hit_round_ratios() {
	paste "$TMP/v.baseline" "$TMP/v.floor" "$TMP/v.connwatch" |
		awk '{ printf " %.3f", ($3 - $1) / ($2 - $1) }'
}

ratios() {
	local cw r

	cw=$(cat "$TMP/hit.connwatch")
	r=$(ratio "$cw" "$(cat "$TMP/hit.floor")")
	echo
	echo "connwatch/floor    $r   (goal <= $GOAL_RATIO: $(goal "$r" "<=" "$GOAL_RATIO"))"
	echo "  per round:      $(hit_round_ratios)"
	echo "connwatch/bpftrace $(ratio "$cw" "$(cat "$TMP/hit.bpftrace")")"
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
		"$(goal "$rss" "<=" "$GOAL_RSS_MB"))"
	echo "  attached, before the loop: VmRSS $a MB, VmHWM $b MB"
	read -r a b <<<"$(rss_of after)"
	echo "  after the loop:            VmRSS $a MB, VmHWM $b MB"
	# VmHWM includes the peak while attaching, before watching starts.
	[ "$(goal "$hwm" "<=" "$GOAL_RSS_MB")" == met ] ||
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

# --- main ---

[[ $CALLS =~ ^[1-9][0-9]*$ && $ROUNDS =~ ^[1-9][0-9]*$ ]] || {
	echo "$0: BENCH_CALLS and BENCH_ROUNDS: positive integers" >&2
	exit 2
}
section_start "per-hit cost: $FUNC x $CALLS calls, $ROUNDS rounds, modes interleaved, medians" \
	bpftrace bpftool curl
make -s -f bench/bench.mk || exit 2

interleave "$ROUNDS" baseline floor connwatch bpftrace

if [ $FAILED -eq 0 ]; then
	table
	ratios
	rss
	check_offsets
fi
section_end
