#!/bin/bash
# An alert storm: build/fixtures/storm_counter decrements an unmatched
# counter N times (default 10^6), every decrement a new low, so every one
# a counter_underflow, under `connwatch run --spec tests/specs/storm.yaml`
# from its first instruction. Per round:
#
#   time     the storm's own wall clock (two uprobe traps per decrement:
#            entry and RET), and per decrement
#   exact    connwatch_anomalies_total == N, and the alert log's lines
#            plus their "folded" counts == N (a miss fails the section)
#   rss      connwatch's VmHWM (peak RSS, /proc) after the storm
#   latency  the slowest /metrics answer, polled every 50 ms during the
#            storm (curl's time_total). Goal: <= 100 ms
#   lines    alert log lines, stderr lines
#
# Run as root: part of `make bench` (bench/run.sh), or alone.
# BENCH_STORM_N (default 1000000) and BENCH_STORM_ROUNDS (default 3)
# override.
cd "$(dirname "$0")/.." || exit 2
. bench/lib.sh

N=${BENCH_STORM_N:-1000000}
ROUNDS=${BENCH_STORM_ROUNDS:-3}
GOAL_MS=100
HOLD=300	# s the fixture waits after its storm; SIGTERM ends it
FIXTURE=build/fixtures/storm_counter

section_start "alert storm: $N counter underflows" curl python3

# log_sum FILE: "LINES FOLDED" of an alert log.
log_sum() {
	python3 -c 'import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
print(len(lines), sum(l["folded"] for l in lines))' "$1"
}

# sample NAME-REGEX: its value in the scrape saved in $TMP/metrics.
sample() { awk -v m="$1" '$1 ~ m { print $NF; exit }' "$TMP/metrics"; }

# The storm is over when the fixture says so; /metrics is polled until
# then, at most as long as HOLD allows.
poll_storm() {
	local i
	: >"$TMP/lat"
	for ((i = 0; i < HOLD * 20; i++)); do
		grep -qs '^storm:' "$TMP/out" && return 0
		kill -0 "$CW_PID" 2>/dev/null || return 1
		curl -s -o /dev/null -m 2 -w '%{time_total}\n' \
			"http://127.0.0.1:$CW_PORT/metrics" >>"$TMP/lat" ||
			echo 2 >>"$TMP/lat"
		sleep 0.05
	done
	return 1
}

run_storm() {
	local secs lat hwm got lines folded
	CW_PORT=$(free_port)
	rm -f "$TMP/alerts.jsonl"
	start_cw "$TMP/out" $CW run --spec tests/specs/storm.yaml \
		--listen "127.0.0.1:$CW_PORT" --alert-log "$TMP/alerts.jsonl" \
		-- "$FIXTURE" "$N" "$HOLD" || return 1
	poll_storm || { echo "  the storm did not end"; stop "$CW_PID"; return 1; }
	secs=$(sed -n 's/.* in \([0-9.]*\) s$/\1/p' "$TMP/out")
	lat=$(sort -g "$TMP/lat" | tail -1)
	curl -sf "http://127.0.0.1:$CW_PORT/metrics" >"$TMP/metrics"
	got=$(sample '^connwatch_anomalies_total[{].*counter_underflow')
	hwm=$(awk '/^VmHWM:/ { print $2 }' "/proc/$CW_PID/status")
	stop "$CW_PID"	# SIGTERM: passed to the fixture; the folded flushed
	read -r lines folded < <(log_sum "$TMP/alerts.jsonl")
	[ "$got" == "$N" ] || fail "anomalies_total $got, not $N"
	[ $((lines + folded)) == "$N" ] ||
		fail "log lines $lines + folded $folded != $N"
	record time "$secs" s
	record per_dec "$(awk -v s="$secs" -v n="$N" 'BEGIN { printf "%.2f", s * 1e6 / n }')" "us per decrement"
	record latency "$(awk -v l="$lat" 'BEGIN { printf "%.1f", l * 1000 }')" \
		"ms, slowest of $(wc -l <"$TMP/lat") /metrics answers"
	record rss "$(awk -v k="$hwm" 'BEGIN { printf "%.1f", k / 1024 }')" "MiB peak"
	record lines "$lines" "alert log lines ($folded folded)"
	record stderr "$(wc -l <"$TMP/cw.err")" "stderr lines"
	echo "  exact: anomalies_total $got, lines + folded $((lines + folded))," \
		"events lost $(sample '^connwatch_events_lost_total$')"
}

interleave "$ROUNDS" storm

echo
printf "%-10s %10s  %s\n" "" median runs
for m in time per_dec latency rss lines stderr; do
	printf '%-10s %10s  %s\n' "$m" "$(median $m)" "$(values $m)"
done
m=$(median latency)
echo "slowest /metrics answer during the storm: median $m ms, goal <= $GOAL_MS ms:" \
	"$(goal "$m" '<=' "$GOAL_MS")"
section_end
