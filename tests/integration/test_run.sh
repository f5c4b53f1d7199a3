#!/bin/bash
# connwatch run: the command's exit status, --fail-on, and a command
# watched from its first instruction (eBPF, spec and sockets preset).
. tests/lib.sh

RUN="$CW run --alert-log $TMP/run.jsonl"
$RUN --listen "127.0.0.1:$(free_port)" -- sh -c 'exit 7' 2>/dev/null
check_eq "run exits with the command's status" "$?" 7
$RUN --listen "127.0.0.1:$(free_port)" -- sh -c 'kill -TERM $$' 2>/dev/null
check_eq "run: a command killed by SIGTERM gives 128+15" "$?" 143
$RUN --listen "127.0.0.1:$(free_port)" -- /nonexistent/cmd 2>"$TMP/e"
check_eq "run: a missing command gives 127" "$?" 127
check "run: ... and says so in one line" \
	test "$(wc -l <"$TMP/e")" -eq 1 -a -n "$(grep 'nonexistent/cmd' "$TMP/e")"
$RUN -- 2>"$TMP/e"
check_eq "run: no command is a usage error" "$?" 2
$RUN --fail-on never -- true 2>"$TMP/e"
check "run: bad --fail-on is named" grep -q "'never' is not warning or critical" "$TMP/e"

# The buggy tracker under run, with its spec: from the first connection.
# Sets RUN_PID, RUN_ERR (its stderr), CW_PORT, CW_LOG, SRV_PORT, SRV_PID.
run_tracker() {
	local out
	out=$(fresh run)/out
	CW_PORT=$(free_port)
	CW_LOG=$out.jsonl
	$CW run --spec "$SPEC" --listen "127.0.0.1:$CW_PORT" --alert-log "$CW_LOG" \
		"$@" >"$out" 2>"$out.err" &
	RUN_PID=$!
	RUN_ERR=$out.err
	STARTED+=("$RUN_PID")
	wait_for 10 grep -qs listening "$out" || { cat "$out.err"; return 1; }
	SRV_PORT=$(sed -n 's/.*127.0.0.1:\([0-9]*\).*/\1/p' "$out")
	SRV_PID=$(pgrep -P "$RUN_PID" -f tracker_server)
}

run_tracker --fail-on critical -- $FX/tracker_server --mode buggy || exit 1
load --connections 10 --concurrency 10 --hold-ms 300
load --connections 1 --hold-ms 500
wait "$RUN_PID"
check_eq "run --fail-on critical: exit 3 after the duplicate drain" "$?" 3
check_eq "run: the drain_rearmed precursor is in the log" \
	"$(alerts_of_kind drain_rearmed)" 1
check_eq "run: duplicate_drain is in the log" "$(alerts_of_kind duplicate_drain)" 1

run_tracker --fail-on warning -- $FX/tracker_server --mode fixed || exit 1
load --connections 100 --concurrency 8
P="pid=\"$SRV_PID\""
wait_for 5 test "$(metric connwatch_counter_decrements_total "$P")" == 100
check_eq "run: fixed server counted exactly from its start" \
	"$(metric connwatch_counter_increments_total "$P")" 100
kill -TERM "$RUN_PID"
wait "$RUN_PID"
check_eq "run: SIGTERM reaches the command; a clean exit with no alert is 0" "$?" 0
check "run: the command shut down gracefully" \
	grep -q "exited with status 0" "$RUN_ERR"

# nginx under run: its workers exit with it, and run ends: nothing keeps
# their counts, and the log must not say it does.
NGX_PORT=$(free_port)
nginx_conf "$TMP/nginx" "$NGX_PORT"
$CW run --listen "127.0.0.1:$(free_port)" --alert-log "$TMP/ngx.jsonl" -- \
	/usr/sbin/nginx -c "$TMP/nginx/nginx.conf" -p "$TMP/nginx" 2>"$TMP/ngx.err" &
RUN_PID=$!
STARTED+=("$RUN_PID")
wait_for 10 curl -sf "http://127.0.0.1:$NGX_PORT/" -o /dev/null
for _ in 1 2 3 4; do curl -sf "http://127.0.0.1:$NGX_PORT/" -o /dev/null; done
kill -TERM "$RUN_PID"
wait "$RUN_PID"
check_eq "run nginx: SIGTERM, nginx exits 0, so does run" "$?" 0
check "run nginx: its workers' exits are logged" \
	test "$(grep -c 'exited with status 0' "$TMP/ngx.err")" -ge 2
check_eq "run nginx: no 'final counts' kept by a run that ends" \
	"$(grep -c 'final counts' "$TMP/ngx.err")" 0
