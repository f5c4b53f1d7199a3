#!/bin/bash
# Scale (issue #14): per-object keys and many processes, exact counts and
# no false page. tests/fixtures/scale_objects opens and closes objects,
# each its own key (tests/specs/scale_objects.yaml), or counts them per
# process (tests/specs/scale_counter.yaml):
#
#   20,000 objects live at once, then all closed      20000/20000/0
#   50,000 distinct objects, opened and closed in turn 50000/50000/0
#   one object closed twice                            one counter_underflow
#   3,000 live with --max-keys 1024                    3000/3000/0: the
#                                 evicted keys' closes counted, not judged
#   --exe, the binary run 1,500 times                  1500/1500, the series
#                                 of gone processes fold after the grace
#   --exe, 100 long-lived processes x 10 objects       1000/1000
#   --exe --preset sockets: a server's counts fold after the grace
. tests/lib.sh

OBJ=$FX/scale_objects
OBJ_SPEC=tests/specs/scale_objects.yaml
CTR_SPEC=tests/specs/scale_counter.yaml
HOLD=120		# s a fixture waits once done; SIGTERM ends it
RUNS=1500		# short processes under --exe
GRACE=3			# --exited-grace for them, s
LONG=100		# long-lived processes, LONG_OBJ objects each
LONG_OBJ=10

# run_objects NAME RUN-OPTIONS -- FIXTURE-ARGS: `connwatch run` on the
# fixture until it is done. Sets RUN_PID, CW_PORT, CW_LOG, CW_ERR, OUT.
run_objects() {
	start_run "$@" $HOLD || return 1
	wait_for 120 grep -qs '^scale:' "$OUT" ||
		{ echo "$1: the fixture did not finish"; return 1; }
}

# series_sum NAME PID|TARGET: the sum of NAME's series with a pid label
# (PID), or of its target's own series, without one (TARGET).
series_sum() {
	scrape | grep "^$1{" | awk -v want="$2" '
		{ has = $0 ~ /pid="/ }
		(want == "PID") == has { s += $NF }
		END { print s + 0 }'
}

pid_series() { scrape | grep -c "^$1{.*pid=\"" || true; }

# counts NAME OPENED CLOSED: exact counts, nothing open, no anomaly.
counts() {
	check_eq "$1: opened" "$(metric_sum connwatch_connections_opened_total)" "$2"
	check_eq "$1: closed" "$(metric_sum connwatch_connections_closed_total)" "$3"
	check_eq "$1: open now" "$(metric_sum connwatch_connections_open)" 0
}

no_alert() {
	check_eq "$1: no anomaly counted" "$(metric_sum connwatch_anomalies_total)" 0
	check_eq "$1: no alert logged" "$(wc -l <"$CW_LOG" 2>/dev/null || echo 0)" 0
}

finish() {
	stop "$RUN_PID"
	check_eq "$1: run exits with the command's status (0)" "$?" 0
}

# --- 20,000 objects live at once: more than 16,384 (the old table)
run_objects live --spec "$OBJ_SPEC" -- $OBJ --live 20000 || exit 1
counts "20000 live" 20000 20000
check_eq "20000 live: no key unknown" \
	"$(metric_sum connwatch_keys_unknown_total)" 0
no_alert "20000 live"
finish "20000 live"

# --- 50,000 distinct objects, one live at a time
run_objects churn --spec "$OBJ_SPEC" -- $OBJ --churn 50000 || exit 1
counts "50000 churned" 50000 50000
no_alert "50000 churned"
finish "50000 churned"

# --- a close too many of one object: its tombstone still knows it
run_objects double --spec "$OBJ_SPEC" -- $OBJ --double-close || exit 1
wait_for 5 test -s "$CW_LOG"
check_eq "closed twice: one counter_underflow" \
	"$(metric connwatch_anomalies_total 'kind="counter_underflow"')" 1
check "closed twice: the alert is the second close, shadow -1" \
	grep -q '"kind":"counter_underflow".*"shadow":-1,.*"stack":\["conn_close+0x0 (scale_objects)","' \
	"$CW_LOG"
finish "closed twice"

# --- more live objects than --max-keys: the oldest are evicted; their
# closes are counted as unknown, never judged
run_objects evicted --max-keys 1024 --spec "$OBJ_SPEC" -- $OBJ --live 3000 || exit 1
counts "3000 live, --max-keys 1024" 3000 3000
UNKNOWN=$(metric_sum connwatch_keys_unknown_total)
check "3000 live, --max-keys 1024: $UNKNOWN closes of evicted keys counted" \
	test "$UNKNOWN" -ge $((3000 - 1024)) -a "$UNKNOWN" -le 3000
no_alert "3000 live, --max-keys 1024"
wait_for 3 grep -q 'not in the detection table' "$CW_ERR"	# said each second
check_eq "3000 live, --max-keys 1024: said once on stderr" \
	"$(grep -c 'not in the detection table' "$CW_ERR")" 1
finish "3000 live, --max-keys 1024"

# --- --exe on a binary run 1,500 times: exact, and the series of the
# processes gone fold into the target's after the grace
start_connwatch --exe "$OBJ" --spec "$CTR_SPEC" --exited-grace "$GRACE" || exit 1
$OBJ --live 1 >/dev/null
wait_for 5 grep -qs 'exited' "$CW_ERR"
FIRST=$(grep -m1 -o 'pid [0-9]* (scale_objects) exited' "$CW_ERR" | awk '{print $2}')
check_eq "--exe: an exited process' series are served in its grace" \
	"$(metric connwatch_counter_increments_total "pid=\"$FIRST\"")" 1
wait_eq $((GRACE + 5)) 0 pid_series connwatch_counter_increments_total
check_eq "--exe: ... then fold into the target's series" \
	"$(series_sum connwatch_counter_increments_total TARGET)" 1
for ((i = 1; i < RUNS; i++)); do
	$OBJ --live 1 >/dev/null || break
done
wait_eq $((GRACE + 20)) "$RUNS" series_sum connwatch_counter_increments_total TARGET
check_eq "--exe x $RUNS: increments, all in the target's series" \
	"$(series_sum connwatch_counter_increments_total TARGET)" "$RUNS"
check_eq "--exe x $RUNS: decrements" \
	"$(metric_sum connwatch_counter_decrements_total)" "$RUNS"
check_eq "--exe x $RUNS: no pid series left" \
	"$(pid_series connwatch_counter_increments_total)" 0
check_eq "--exe x $RUNS: no target_up series left" \
	"$(pid_series connwatch_target_up)" 0
BYTES=$(scrape | wc -c)
check "--exe x $RUNS: a scrape is small again ($BYTES bytes)" test "$BYTES" -lt 16384
check_eq "--exe x $RUNS: no table full" \
	"$(metric_sum connwatch_table_full_total)" 0
no_alert "--exe x $RUNS"
stop "$CW_PID"

# --- the sockets preset: a server's socket counts fold after its grace
start_connwatch --exe "$FX/double_close_server" --preset sockets \
	--exited-grace "$GRACE" || exit 1
start_fixture "$FX/double_close_server" 5 || exit 1
load --connections 20 --concurrency 1
wait_eq 5 20 series_sum connwatch_connections_closed_total PID
stop "$SRV_PID"
wait_eq $((GRACE + 5)) 0 pid_series connwatch_connections_closed_total
check_eq "sockets: closes fold into the target's series" \
	"$(series_sum connwatch_connections_closed_total TARGET)" 20
check_eq "sockets: so does the duration histogram" \
	"$(series_sum connwatch_connection_duration_seconds_count TARGET)" 20
check_eq "sockets: no target_up series left" \
	"$(pid_series connwatch_target_up)" 0
stop "$CW_PID"

# --- --exe on long-lived processes, each with its objects
start_connwatch --exe "$OBJ" --spec "$OBJ_SPEC" || exit 1
LONG_PIDS=()
for ((i = 0; i < LONG; i++)); do
	$OBJ --live "$LONG_OBJ" "$HOLD" >"$TMP/long.$i" &
	LONG_PIDS+=("$!")
	STARTED+=("$!")
done
wait_for 60 test "$(cat "$TMP"/long.* | grep -c '^scale:')" -eq "$LONG"
counts "$LONG x $LONG_OBJ" $((LONG * LONG_OBJ)) $((LONG * LONG_OBJ))
check_eq "$LONG x $LONG_OBJ: a series per process" \
	"$(pid_series connwatch_connections_opened_total)" "$LONG"
no_alert "$LONG x $LONG_OBJ"
for pid in "${LONG_PIDS[@]}"; do
	stop "$pid"
done
stop "$CW_PID"
