#!/bin/bash
# Go targets, unstripped and stripped (-s -w): the v0.48.0 shape caught
# before the panic with Go stacks, the fixed shape counted exactly, the
# negative WaitGroup, and --on-critical stop.
. tests/lib.sh

GO_SPEC=tests/specs/go_tracker.yaml

buggy() {
	local bin=$1
	start_go_tracker "$bin" buggy || return 1
	start_connwatch --pid "$SRV_PID" --spec "$GO_SPEC" --preset go-runtime || return 1
	load --connections 10 --concurrency 10 --hold-ms 300
	wait_for 5 grep -qs drain_without_shutdown "$CW_LOG"
	load --connections 1 --hold-ms 2000 &
	local last=$!
	wait_for 5 grep -qs drain_rearmed "$CW_LOG"
	check "$bin: drain_rearmed on disk while the server still runs" \
		kill -0 "$SRV_PID"
	wait "$last"
	{ wait "$SRV_PID"; } 2>/dev/null
	check_eq "$bin: the server panicked (exit 2)" "$?" 2
	check "$bin: ... with close of closed channel" \
		grep -q "panic: close of closed channel" "$SRV_ERR"
	wait_for 5 grep -qs close_of_closed_channel "$CW_LOG"
	local cc dd
	cc=$(grep '"kind":"close_of_closed_channel"' "$CW_LOG")
	dd=$(grep '"kind":"duplicate_drain"' "$CW_LOG")
	check_eq "$bin: one close_of_closed_channel" "$(grep -c . <<<"$cc")" 1
	check_eq "$bin: one duplicate_drain" "$(grep -c . <<<"$dd")" 1
	check "$bin: its Go stack: closechan <- signalIdle <- decreaseConnCount" \
		grep -q '"stack":\["runtime.closechan+0x[0-9a-f]* ([^)]*)","main.(\*Server).signalIdle+0x[0-9a-f]* ([^)]*)","main.(\*Server).decreaseConnCount+' <<<"$cc"
	check "$bin: duplicate_drain names the function that drained twice" \
		grep -q '"stack":\["main.(\*Server).signalIdle+0x[0-9a-f]* ([^)]*)","main.(\*Server).decreaseConnCount+' <<<"$dd"
	check "$bin: drain_rearmed came before the panic (in the log first)" \
		test "$(grep -n drain_rearmed "$CW_LOG" | cut -d: -f1)" -lt \
		"$(grep -n close_of_closed_channel "$CW_LOG" | cut -d: -f1)"
	wait_for 5 grep -qs "exited with status 2" "$CW_ERR"
	check "$bin: connwatch saw it exit with status 2" grep -q "exited with status 2" "$CW_ERR"
	stop "$CW_PID"
}

fixed() {
	local bin=$1 n=300 p
	start_go_tracker "$bin" fixed || return 1
	start_connwatch --pid "$SRV_PID" --spec "$GO_SPEC" --preset go-runtime || return 1
	check "$bin: $n connections, 16 at a time" load --connections $n --concurrency 16
	p="pid=\"$SRV_PID\""
	wait_for 5 test "$(metric connwatch_counter_decrements_total "$p")" == $n
	wait_eq 5 0 metric connwatch_counter_value "$p"
	check_counts "$bin: " "$SRV_PID" $n connections_opened_total \
		connections_closed_total counter_increments_total \
		counter_decrements_total
	check_eq "$bin: counter_value (connCount) == 0" \
		"$(metric connwatch_counter_value "$p")" 0
	check_exposition "$bin: spec + go-runtime: promtool clean, no series twice"
	stop "$SRV_PID"
	check_eq "$bin: graceful shutdown" "$?" 0
	wait_for 5 test "$(metric connwatch_drain_signals_total "$p")" == 1
	check_eq "$bin: one drain, at shutdown" "$(metric connwatch_drain_signals_total "$p")" 1
	check_eq "$bin: no alert at all" "$(metric_sum connwatch_anomalies_total)" 0
	stop "$CW_PID"
}

buggy go_tracker
buggy go_tracker.stripped
fixed go_tracker
fixed go_tracker.stripped

# sync: negative WaitGroup counter, reported before the panic.
start_go_tracker go_tracker.stripped wg-negative || exit 1
start_connwatch --pid "$SRV_PID" --preset go-runtime || exit 1
load --connections 5 --concurrency 1
{ wait "$SRV_PID"; } 2>/dev/null
check_eq "wg-negative: the server panicked (exit 2)" "$?" 2
wait_for 5 grep -qs negative_waitgroup "$CW_LOG"
check_eq "wg-negative: one negative_waitgroup" "$(alerts_of_kind negative_waitgroup)" 1
check "wg-negative: the stack names WaitGroup.Add, Done inlined into its caller, the caller" \
	grep -q '"stack":\["sync.(\*WaitGroup).Add+0x[0-9a-f]* ([^)]*)","sync.(\*WaitGroup).Done (inlined)","main.(\*Server).handleConn+' "$CW_LOG"
check "wg-negative: the record says counter 0 and would-be -1" \
	grep -q '"shadow":-1,"counter":0' "$CW_LOG"
# Add(1) and Done() ran ~10 times; the probe sits on the failing branch.
check_eq "wg-negative: WaitGroup.Add's probe fired once, on the bad Done" \
	"$(metric connwatch_probe_hits_total 'wg_add:')" 1
check_exposition "go-runtime alone: promtool clean, no series twice"
stop "$CW_PID"

# --on-critical stop: frozen at the critical event, before the panic.
start_go_tracker go_tracker buggy || exit 1
start_connwatch --pid "$SRV_PID" --preset go-runtime --on-critical stop || exit 1
load --connections 3 --concurrency 3 --hold-ms 300
load --connections 1 --hold-ms 100
wait_for 5 grep -qs close_of_closed_channel "$CW_LOG"
wait_for 5 grep -qs '^State:.*T' /proc/$SRV_PID/status
check "stop: the target is stopped (state T) before it panics" \
	grep -q '^State:.*T (stopped)' /proc/$SRV_PID/status
# The alert log line comes first, the stderr line after it.
wait_for 5 grep -qs "kill -CONT $SRV_PID" "$CW_ERR"
check "stop: connwatch says how to resume" grep -q "kill -CONT $SRV_PID" "$CW_ERR"
check "stop: it has not panicked yet" test ! -s "$SRV_ERR"
kill -CONT "$SRV_PID"
{ wait "$SRV_PID"; } 2>/dev/null
check_eq "stop: resumed, it goes on (here: to its panic, exit 2)" "$?" 2

# A function inlined into its only caller: found and probed from the
# pclntab's inline tree, stripped or not.
for bin in go_tracker go_tracker.stripped; do
	check "inlined: check shows $bin's copy inlined into the caller" \
		grep -q 'noteServed *only inlined, into its callers: inlined:1' \
		<($CW check --exe "$FX/$bin" --spec tests/specs/go_inlined.yaml)
	start_go_tracker "$bin" fixed || exit 1
	start_connwatch --pid "$SRV_PID" --spec tests/specs/go_inlined.yaml || exit 1
	load --connections 40 --concurrency 4
	wait_for 5 test "$(metric connwatch_probe_hits_total noteServed)" == 40
	check_eq "inlined: $bin: every call of the inlined copy counted" \
		"$(metric connwatch_probe_hits_total noteServed)" 40
	check_eq "inlined: $bin: ... as connections opened" \
		"$(metric connwatch_connections_opened_total "pid=\"$SRV_PID\"")" 40
	stop "$CW_PID"
	stop "$SRV_PID"
done

# "no DWARF" is said where copies cannot be found: C without DWARF, not Go.
strip -g -o "$TMP/tracker_nodwarf" "$FX/tracker_server"
check "check: a C binary without DWARF cannot show inlined copies, and says so" \
	grep -q '^no DWARF: copies the compiler inlined' \
	<($CW check --exe "$TMP/tracker_nodwarf" --spec "$SPEC")
check "check: a stripped Go binary is not said to miss them" \
	test -z "$($CW check --exe "$FX/go_tracker.stripped" --spec "$GO_SPEC" | grep 'no DWARF')"

# Only inlined, stripped: go_inline's release has 3 copies (1 in closeOne,
# 2 in closeTwo) and drained one in each; no out-of-line copy, no DWARF.
# Under run, from the first instruction, every call is counted.
inline_only() {
	local bin=$1 rounds=1000 out run
	out=$(fresh inline)/out
	check "$bin: check finds release's 3 copies and drained's 3" \
		test "$($CW check --exe "$FX/$bin" --spec tests/specs/go_inline.yaml |
			grep -c 'only inlined, into its callers: inlined:3')" -eq 2
	CW_PORT=$(free_port)
	$CW run --spec tests/specs/go_inline.yaml --listen "127.0.0.1:$CW_PORT" \
		--alert-log "$TMP/inline.jsonl" -- "$FX/$bin" $rounds 6000 2>"$out" &
	run=$!
	STARTED+=("$run")
	wait_for 10 grep -qs "drains $rounds" "$out" || { cat "$out"; return 1; }
	check_eq "$bin: release, $rounds rounds of 3 calls: every call counted" \
		"$(metric connwatch_probe_hits_total 'probe="inc:main.(*server).release"')" \
		$((3 * rounds))
	check_eq "$bin: ... as counter increments" \
		"$(metric connwatch_counter_increments_total go-inline)" $((3 * rounds))
	check_eq "$bin: drained, inlined into release's copies, once a round" \
		"$(metric connwatch_connections_opened_total go-inline)" $rounds
	wait "$run"
	check_eq "$bin: run exits with the program's status" "$?" 0
}
inline_only go_inline.stripped
inline_only go_inline.go122.stripped

# go-runtime attaches whatever the binary has: no WaitGroup in this one.
CHECK=$($CW check --exe $FX/go_close_twice.stripped --preset go-runtime)
check "no WaitGroup: check says what is absent and why, and resolves" \
	grep -q 'WaitGroup).Add *absent, and fine: the program never uses a sync.WaitGroup' <<<"$CHECK"
"$FX/go_close_twice.stripped" -delay 8000 >"$TMP/ct.out" 2>"$TMP/ct.err" &
CT=$!
STARTED+=("$CT")
wait_for 5 grep -qs ready "$TMP/ct.out"
start_connwatch --pid "$CT" --preset go-runtime || exit 1
{ wait "$CT"; } 2>/dev/null
check_eq "no WaitGroup: the program panics (exit 2)" "$?" 2
wait_eq 5 1 alerts_of_kind close_of_closed_channel
check_eq "no WaitGroup: close_of_closed_channel logged" \
	"$(alerts_of_kind close_of_closed_channel)" 1
check "no WaitGroup: its stack names the closer" \
	grep -q '"kind":"close_of_closed_channel".*"stack":\["runtime.closechan[^"]*","main\.' "$CW_LOG"
stop "$CW_PID"
expect_error "a Go preset on a C program: told it is not Go" \
	"tracker_server is not a Go program" \
	$CW check --exe $FX/tracker_server --preset go-runtime
