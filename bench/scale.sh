#!/bin/bash
# Scale (issue #14): memory and scrape time against the number of keys
# and of processes, and exact counts at sizes too slow for a test.
# build/fixtures/scale_objects opens and closes objects, each its own key
# (tests/specs/scale_objects.yaml), or counts per process
# (tests/specs/scale_counter.yaml). Modes:
#
#   keys_1, keys_10k, keys_100k   `connwatch run` on N objects live at
#                                 once, then all closed (keys_1: the
#                                 baseline)
#   churn_1m                      10^6 distinct objects, opened and closed
#                                 in turn
#   procs_1, procs_1k             `attach --exe`, N processes alive with
#                                 one object each (procs_1: the baseline)
#   runs_10k                      `attach --exe --exited-grace 1`, the
#                                 binary run 10^4 times in turn: exact
#                                 after the fold, no pid series left
#
# Per mode: exact (opened/closed or inc/dec == N, no anomaly; a miss fails
# the section), connwatch's RSS (VmRSS), the kernel memory of its maps
# (memlock, from /proc/PID/fdinfo), the median of 20 /metrics scrapes and
# its ratio to the baseline's, measured in the same run.
# Run as root: part of `make bench` (bench/run.sh), or alone.
# BENCH_SCALE_CHURN (default 1000000), BENCH_SCALE_RUNS (default 10000)
# and BENCH_SCALE_PROCS (default 1000) override.
cd "$(dirname "$0")/.." || exit 2
. bench/lib.sh

CHURN=${BENCH_SCALE_CHURN:-1000000}
RUNS=${BENCH_SCALE_RUNS:-10000}
PROCS=${BENCH_SCALE_PROCS:-1000}
HOLD=600	# s a fixture waits once done; SIGTERM ends it
OBJ=build/fixtures/scale_objects
SCRAPES=20

section_start "scale: memory and scrape time against keys and processes" curl

# map_kib PID: the memlock of PID's BPF maps, KiB.
map_kib() {
	for f in /proc/"$1"/fdinfo/*; do
		awk '/^map_id:/ { id = $2 } /^memlock:/ { m = $2 }
		     END { if (id) print id, m }' "$f" 2>/dev/null
	done | sort -u | awk '{ s += $2 } END { printf "%.0f", s / 1024 }'
}

# scrape_ms: the median of SCRAPES /metrics answers, ms.
scrape_ms() {
	local i
	for ((i = 0; i < SCRAPES; i++)); do
		curl -s -o /dev/null -w '%{time_total}\n' \
			"http://127.0.0.1:$CW_PORT/metrics"
	done | sort -g | awk '{ v[NR] = $1 } END { printf "%.2f", v[int((NR + 1) / 2)] * 1000 }'
}

sample_sum() {
	curl -sf "http://127.0.0.1:$CW_PORT/metrics" |
		awk -v m="$1" 'index($1, m "{") == 1 { s += $NF } END { print s + 0 }'
}

decs_are() { [ "$(sample_sum connwatch_counter_decrements_total)" == "$1" ]; }
pid_series() { curl -s "http://127.0.0.1:$CW_PORT/metrics" | grep -c '^connwatch_[a-z_]*{.*pid=' || true; }
output_is() { local want=$1; shift; [ "$("$@")" == "$want" ]; }

# measure MODE N FIELD1 FIELD2: exact counts, then memory and scrapes.
measure() {
	local mode=$1 n=$2 a b anom
	a=$(sample_sum "$3")
	b=$(sample_sum "$4")
	anom=$(sample_sum connwatch_anomalies_total)
	[ "$a" == "$n" ] && [ "$b" == "$n" ] && [ "$anom" == 0 ] ||
		fail "$mode: $3 $a, $4 $b, anomalies $anom; want $n, $n, 0"
	echo "  $mode: $3 $a, $4 $b, anomalies $anom"
	record "$mode.rss" "$(awk '/^VmRSS:/ { printf "%.1f", $2 / 1024 }' \
		"/proc/$CW_PID/status")" "MiB connwatch RSS"
	record "$mode.maps" "$(awk -v k="$(map_kib "$CW_PID")" \
		'BEGIN { printf "%.1f", k / 1024 }')" "MiB BPF maps (memlock)"
	record "$mode.scrape" "$(scrape_ms)" "ms per /metrics (median of $SCRAPES)"
	record "$mode.bytes" "$(curl -s "http://127.0.0.1:$CW_PORT/metrics" | wc -c)" \
		"bytes per /metrics"
}

# run_objects MODE FIXTURE-ARGS...: `connwatch run` until the fixture is done.
run_objects() {
	local mode=$1
	shift
	CW_PORT=$(free_port)
	start_cw "$TMP/out" $CW run --spec tests/specs/scale_objects.yaml \
		--listen "127.0.0.1:$CW_PORT" --alert-log "$TMP/alerts.jsonl" \
		-- "$OBJ" "$@" "$HOLD" || return 1
	SECONDS0=$SECONDS
	poll_until "$CW_PID" grep -qs '^scale:' "$TMP/out" ||
		ATTACH_WAIT=600 poll_until "$CW_PID" grep -qs '^scale:' "$TMP/out" ||
		{ stop "$CW_PID"; return 1; }
	echo "  $mode: the fixture took $((SECONDS - SECONDS0)) s"
}

keys() {
	run_objects "keys_$1" --live "$2" || return 1
	measure "keys_$1" "$2" connwatch_connections_opened_total \
		connwatch_connections_closed_total
	stop "$CW_PID"
}

run_keys_1() { keys 1 1; }
run_keys_10k() { keys 10k 10000; }
run_keys_100k() { keys 100k 100000; }

run_churn_1m() {
	run_objects churn_1m --churn "$CHURN" || return 1
	measure churn_1m "$CHURN" connwatch_connections_opened_total \
		connwatch_connections_closed_total
	stop "$CW_PID"
}

# attach_exe OPTIONS...: `connwatch attach --exe` on the fixture.
attach_exe() {
	CW_PORT=$(free_port)
	start_cw "$TMP/cw.out" $CW attach --exe "$OBJ" \
		--spec tests/specs/scale_counter.yaml "$@" \
		--listen "127.0.0.1:$CW_PORT" --alert-log "$TMP/alerts.jsonl"
}

procs() {
	local n=$2 i pids=()
	attach_exe || return 1
	for ((i = 0; i < n; i++)); do
		"$OBJ" --live 1 "$HOLD" >/dev/null &
		pids+=("$!")
		started "$!"
	done
	ATTACH_WAIT=120 poll_until "$CW_PID" decs_are "$n"
	measure "procs_$1" "$n" connwatch_counter_increments_total \
		connwatch_counter_decrements_total
	for i in "${pids[@]}"; do
		stop "$i"
	done
	stop "$CW_PID"
}

run_procs_1() { procs 1 1; }
run_procs_1k() { procs 1k "$PROCS"; }

run_runs_10k() {
	local i left
	attach_exe --exited-grace 1 || return 1
	SECONDS0=$SECONDS
	for ((i = 0; i < RUNS; i++)); do
		"$OBJ" --live 1 >/dev/null || break
	done
	echo "  runs_10k: $RUNS runs took $((SECONDS - SECONDS0)) s"
	ATTACH_WAIT=60 poll_until "$CW_PID" output_is 0 pid_series
	left=$(pid_series)
	[ "$left" == 0 ] || fail "runs_10k: $left pid series left after the grace"
	echo "  runs_10k: pid series left after the grace: $left"
	measure runs_10k "$RUNS" connwatch_counter_increments_total \
		connwatch_counter_decrements_total
	stop "$CW_PID"
}

MODES=(keys_1 keys_10k keys_100k churn_1m procs_1 procs_1k runs_10k)
interleave 1 "${MODES[@]}"

echo
printf "%-10s %8s %8s %10s %8s %10s\n" "" "RSS MiB" "maps MiB" "scrape ms" "ratio" "bytes"
for m in "${MODES[@]}"; do
	base=keys_1
	[[ $m == keys_* || $m == churn_* ]] || base=procs_1
	printf "%-10s %8s %8s %10s %8s %10s\n" "$m" "$(median "$m.rss")" \
		"$(median "$m.maps")" "$(median "$m.scrape")" \
		"$(ratio "$(median "$m.scrape")" "$(median "$base.scrape")")" \
		"$(median "$m.bytes")"
done
echo "ratio: scrape time / the baseline's (keys_1 for keys, procs_1 for processes), same run"
section_end
