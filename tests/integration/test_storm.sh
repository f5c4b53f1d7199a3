#!/bin/bash
# Alert storms (DESIGN.md §8, "loses nothing"): processes watched from
# their first instruction by `connwatch run` raise N anomalies in a burst:
#
#   one key      N counter underflows of one counter (each a new low)
#   1000 keys    the same spread over 1000 counters: more records than
#                the ring buffer holds, so some are lost
#   sockets      N double closes of one socket (syscall tracepoints)
#   preload      the same under the LD_PRELOAD shim (no eBPF)
#
# Each time connwatch_anomalies_total is N exactly, whatever was lost;
# the alert log is short and its lines plus their "folded" counts are N;
# stderr is short; connwatch's peak RSS stays under RSS_MAX_KB; /metrics,
# polled while the storm runs, answers each time within 1 s (it is a
# test, on a shared VM: the 100 ms goal is measured in bench/storm.sh).
. tests/lib.sh

N=100000
HOLD=60			# s a fixture waits after its storm; SIGTERM ends it
POLLS=1200		# /metrics polls during one storm, at most (~1 min)
LAT_MAX=2.0		# s per /metrics answer: a stall, not a speed
RSS_MAX_KB=40960	# VmHWM: ~27 MB here, attach's peak (libbpf reading BTF)
# One key: 10 records per 10 s window (CW_RATE_RECORDS), the storm lasts
# a few seconds here: 10 lines and one flush. 41 lines allow 40 s.
LINES_ONE_KEY=41
STDERR_PER_LINE=5	# the alert, then its stack: 3 frames here

# storm NAME RUN-OPTIONS -- storm_counter ARGS: `connwatch run` on it,
# /metrics polled until the storm is done. Sets RUN_PID, CW_PORT, CW_LOG,
# CW_ERR, OUT, LAT (the slowest answer, s), NLAT (how many).
storm() {
	local name=$1
	start_run "$@" $HOLD || return 1
	: >"$TMP/$name.lat"
	for ((i = 0; i < POLLS; i++)); do
		grep -qs '^storm:' "$OUT" && break
		curl -s -o /dev/null -m 2 -w '%{time_total}\n' \
			"http://127.0.0.1:$CW_PORT/metrics" >>"$TMP/$name.lat" ||
			echo 2 >>"$TMP/$name.lat"
		sleep 0.05
	done
	wait_for 10 grep -qs '^storm:' "$OUT" ||
		{ echo "$name: the storm did not end"; return 1; }
	LAT=$(sort -g "$TMP/$name.lat" | tail -1)
	NLAT=$(wc -l <"$TMP/$name.lat")
}

# finish NAME: connwatch's peak RSS, then SIGTERM to run (it passes it to
# the fixture, flushes what the rate limit folded, exits). Sets HWM_KB.
finish() {
	HWM_KB=$(awk '/^VmHWM:/ {print $2}' "/proc/$RUN_PID/status")
	stop "$RUN_PID"
	check_eq "$1: run exits with the command's status (0)" "$?" 0
}

# log_sum FILE: "LINES FOLDED" of an alert log.
log_sum() {
	python3 -c 'import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
print(len(lines), sum(l["folded"] for l in lines))' "$1"
}

events_lost() { scrape | awk '$1 == "connwatch_events_lost_total" {print $2}'; }

# check_storm NAME KIND MAX_LINES: the counts, the log, stderr, RSS, latency.
check_storm() {
	local name=$1 kind=$2 max_lines=$3 lines folded
	check_eq "$name: anomalies_total{$kind} == $N exactly" \
		"$(metric connwatch_anomalies_total "kind=\"$kind\"")" "$N"
	echo "$name: events lost (ring buffer full): $(events_lost)"
	finish "$name"
	read -r lines folded < <(log_sum "$CW_LOG")
	check_eq "$name: log lines ($lines) + their folded counts ($folded) == $N" \
		$((lines + folded)) "$N"
	check "$name: the log is bounded: $lines lines <= $max_lines" \
		test "$lines" -le "$max_lines"
	check "$name: stderr is bounded: $(wc -l <"$CW_ERR") lines" \
		test "$(wc -l <"$CW_ERR")" -le $((max_lines * STDERR_PER_LINE + 10))
	# a sanitized build (tests/run.sh) carries its shadow memory: the
	# goal is the release build's
	[ -n "$CW_UNDER_TEST" ] ||
		check "$name: connwatch's peak RSS ${HWM_KB} kB <= $RSS_MAX_KB kB" \
			test "${HWM_KB:-999999}" -le "$RSS_MAX_KB"
	# A storm of closes is over in milliseconds: maybe before one poll.
	[ "$NLAT" -gt 0 ] || { echo "$name: over before the first poll"; return; }
	check "$name: /metrics answered $NLAT times during the storm, slowest ${LAT}s <= ${LAT_MAX}s" \
		awk -v l="$LAT" -v m="$LAT_MAX" 'BEGIN { exit !(l <= m) }'
}

# --- one key: the rate limit folds all but a few records
storm one-key --spec tests/specs/storm.yaml -- $FX/storm_counter "$N" || exit 1
check "one key: /metrics polled while the storm ran ($NLAT times)" \
	test "$NLAT" -ge 3
check_eq "one key: decrements counted exactly" \
	"$(metric connwatch_counter_decrements_total 'target="storm"')" "$N"
check_eq "one key: the counter read from memory" \
	"$(metric connwatch_counter_value 'target="storm"')" "-$N"
check_storm "one key" counter_underflow "$LINES_ONE_KEY"
check "one key: the first underflow is logged, with its stack" \
	grep -q '"shadow":-1,.*"folded":0,"stack":\["counter_dec+0x0 (storm_counter)","main+' \
	<<<"$(head -1 "$CW_LOG")"
check "one key: a line says how many more like it were folded" \
	grep -q '"folded":[1-9].*and [0-9,]* more like it in ' "$CW_LOG"
check "one key: ... the last one has the lowest shadow, and says why no stack" \
	grep -q "\"shadow\":-$N,.*reported when the rate limit let go" \
	<<<"$(tail -1 "$CW_LOG")"
check "one key: stderr says so too" grep -q 'more like it' "$CW_ERR"

# --- 1000 keys: 10 records each per window, more than the ring buffer
# holds: what it has no room for is folded too, and counted
storm keys --spec tests/specs/storm.yaml -- $FX/storm_counter --keys 1000 "$N" || exit 1
check_storm "1000 keys" counter_underflow $((1000 * 11 + 1000))

# --- double closes: syscall tracepoints (the sockets preset, run's
# default), then the LD_PRELOAD shim, which limits its own reports
storm sockets -- $FX/storm_counter --close "$N" || exit 1
check_storm "sockets" double_close_fd "$LINES_ONE_KEY"
storm preload --preload --preload-socket "$TMP/pl.sock" -- $FX/storm_counter --close "$N" || exit 1
check_storm "preload" double_close_fd "$LINES_ONE_KEY"
