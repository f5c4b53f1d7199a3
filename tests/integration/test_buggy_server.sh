#!/bin/bash
# The quic-go v0.48.0 shape: the done signal fires at every idle. connwatch
# must warn (drain_rearmed) when a connection arrives after the first idle,
# seconds before the second idle crashes the server, then report the
# duplicate drain with its stack, on disk, although the server is gone.
. tests/lib.sh

start_server buggy || exit 1
start_connwatch --pid "$SRV_PID" --spec "$SPEC" || exit 1

# A burst whose connections overlap, then idle: the first drain.
load --connections 20 --concurrency 20 --hold-ms 300
wait_for 5 grep -qs drain_without_shutdown "$CW_LOG"
check_eq "first idle drain reported as drain_without_shutdown" \
	"$(alerts_of_kind drain_without_shutdown)" 1

# One connection after the idle, held 3 s: the precursor, while alive.
load --connections 1 --hold-ms 3000 &
LOAD=$!
wait_for 5 grep -qs drain_rearmed "$CW_LOG"
check "drain_rearmed on disk while the server still runs" \
	kill -0 "$SRV_PID"
check_eq "exactly one drain_rearmed" "$(alerts_of_kind drain_rearmed)" 1
wait "$LOAD"

# The second idle: duplicate drain, then the abort.
{ wait "$SRV_PID"; } 2>/dev/null
STATUS=$?
check_eq "the buggy server crashed (SIGABRT)" "$STATUS" 134
check "the server said why" grep -q "close of closed channel" "$SRV_ERR"
wait_for 5 grep -qs duplicate_drain "$CW_LOG"
check_eq "duplicate_drain is in the alert log" \
	"$(alerts_of_kind duplicate_drain)" 1

# ts KIND: the first KIND alert's time, in seconds since the epoch (the
# date too: a run across midnight UTC once measured a lead of -86397 s).
ts() { date -d "$(grep "\"kind\":\"$1\"" "$CW_LOG" | head -1 |
	sed 's/.*"ts":"\([^"]*\)".*/\1/')" +%s.%N; }
LEAD=$(awk -v a="$(ts drain_rearmed)" -v b="$(ts duplicate_drain)" 'BEGIN {print b - a}')
check "drain_rearmed came >= 2.5 s before duplicate_drain (lead ${LEAD}s)" \
	awk -v l="$LEAD" 'BEGIN {exit !(l >= 2.5)}'

DUP=$(grep '"kind":"duplicate_drain"' "$CW_LOG")
check "duplicate_drain is critical" grep -q '"severity":"critical"' <<<"$DUP"
check "its stack starts in the drain function" \
	grep -q '"stack":\["tracker_close_done+0x0 (tracker_server)"' <<<"$DUP"
check "its stack names the caller that drained twice" \
	grep -q '"tracker_done+0x[0-9a-f]* (tracker_server)","conn_thread+' <<<"$DUP"
check "its record names the pid and probe" \
	grep -q "\"pid\":$SRV_PID,.*\"probe\":\"drain:tracker_close_done\"" <<<"$DUP"
REARM=$(grep '"kind":"drain_rearmed"' "$CW_LOG")
check "drain_rearmed names the accept path" \
	grep -q '"stack":\["conn_accepted+0x[0-9a-f]* (tracker_server)","main+' <<<"$REARM"

# The scrape after the crash is the one that matters most.
wait_for 5 grep -qs "killed by signal 6" "$CW_ERR"
check "connwatch logged how the target died" grep -q "killed by signal 6 (Aborted)" "$CW_ERR"
check_eq "target_up is 0 after the crash" \
	"$(metric connwatch_target_up "pid=\"$SRV_PID\"")" 0
check_eq "final count of opened connections kept" \
	"$(metric connwatch_connections_opened_total "pid=\"$SRV_PID\"")" 21
check_eq "anomalies_total counts the duplicate drain" \
	"$(metric connwatch_anomalies_total 'kind="duplicate_drain"')" 1
check "connwatch is still running" kill -0 "$CW_PID"
stop "$CW_PID"
check_eq "connwatch exits 0 on SIGTERM" "$?" 0

# The same with the drain probed at its call inside tracker_done (caller:):
# a C call site keyed by the argument register at the CALL.
start_server buggy || exit 1
start_connwatch --pid "$SRV_PID" --spec tests/specs/tracker_callsite.yaml || exit 1
load --connections 5 --concurrency 5 --hold-ms 200
wait_for 5 grep -qs drain_without_shutdown "$CW_LOG"
load --connections 1 --hold-ms 500
{ wait "$SRV_PID"; } 2>/dev/null
check_eq "call site: the buggy server crashed (SIGABRT)" "$?" 134
wait_for 5 grep -qs duplicate_drain "$CW_LOG"
check_eq "call site: drain_without_shutdown, drain_rearmed, duplicate_drain" \
	"$(grep -o '"kind":"[a-z_]*"' "$CW_LOG" | cut -d'"' -f4 | tr '\n' ' ')" \
	"drain_without_shutdown drain_rearmed duplicate_drain "
check "call site: the stack starts in the caller, at the call" \
	grep -q '"kind":"duplicate_drain".*"stack":\["tracker_done+0x[0-9a-f]* (tracker_server)","conn_thread+' "$CW_LOG"
check "call site: keyed like the rest of the spec (the tracker)" \
	test "$(grep -o '"key":"[^"]*"' "$CW_LOG" | sort -u | wc -l)" -eq 1
stop "$CW_PID"
