#!/bin/bash
# attach by --exe covers processes started later; SIGINT, SIGTERM and
# --duration detach cleanly and leave no probe behind.
. tests/lib.sh

# Uprobes on the fixture held by a connwatch this test started, plus any
# tracefs uprobe event on it (those would outlive the process). Other
# tests on the machine may probe the same binary with their own pids.
uprobes_on_fixture() {
	local pid n=0
	for pid in "${STARTED[@]}"; do
		n=$((n + $(bpftool perf show 2>/dev/null |
			grep -c "^pid $pid .*uprobe.*tracker_server")))
	done
	n=$((n + $(grep -cs tracker_server /sys/kernel/tracing/uprobe_events)))
	echo $n
}
check_eq "no connwatch uprobe before the test" "$(uprobes_on_fixture)" 0

# --exe before any server runs, then two servers: both counted by pid.
start_connwatch --exe "$PWD/$FX/tracker_server" --spec "$SPEC" || exit 1
check "uprobes attached: $(uprobes_on_fixture) sites" test "$(uprobes_on_fixture)" -ge 6
start_server fixed || exit 1
PID_A=$SRV_PID PORT_A=$SRV_PORT
start_server fixed || exit 1
PID_B=$SRV_PID
load --connections 30 --concurrency 8
SRV_PORT=$PORT_A load --connections 50 --concurrency 8
wait_for 5 test "$(metric connwatch_counter_decrements_total "pid=\"$PID_A\"")" == 50
check_eq "--exe: server A counted alone" \
	"$(metric connwatch_connections_closed_total "pid=\"$PID_A\"")" 50
wait_for 5 test "$(metric connwatch_counter_decrements_total "pid=\"$PID_B\"")" == 30
check_eq "--exe: server B counted alone" \
	"$(metric connwatch_connections_closed_total "pid=\"$PID_B\"")" 30
check_eq "--exe: a process started after attach is armed from the start" \
	"$(metric connwatch_preattach_closes_total "pid=\"$PID_A\"")" 0
check_eq "--exe: both are up" \
	"$(metric connwatch_target_up "pid=\"$PID_A\"")$(metric connwatch_target_up "pid=\"$PID_B\"")" 11
check_exposition "--exe, two processes: promtool clean, no series twice"

check "while attached, the target's code holds the uprobes' breakpoints" \
	test "$(code_diff "$PID_A")" -gt 0
kill -INT "$CW_PID"
wait "$CW_PID"
check_eq "SIGINT: exit 0" "$?" 0
check_eq "SIGINT: both targets' code is their file's again" \
	"$(code_diff "$PID_A") $(code_diff "$PID_B")" "0 0"
check "SIGINT: says detached" grep -q "connwatch: detached" "$CW_ERR"
check_eq "SIGINT: no uprobe left" "$(uprobes_on_fixture)" 0
check "servers unharmed after detach" load --connections 10

# --pid with --duration ends by itself.
start_connwatch --pid "$PID_B" --spec "$SPEC" --duration 2 || exit 1
load --connections 5
wait "$CW_PID"
check_eq "--duration: exit 0" "$?" 0
check_eq "--duration: no uprobe left" "$(uprobes_on_fixture)" 0

# Attached mid-flight: connections open before attach end after it.
start_server fixed || exit 1
load --connections 4 --concurrency 4 --hold-ms 2500 &
LOAD=$!
wait_for 5 test "$(grep -c . /proc/$SRV_PID/task/*/comm 2>/dev/null | wc -l)" -ge 5
sleep 0.5
start_connwatch --pid "$SRV_PID" --spec "$SPEC" || exit 1
wait "$LOAD"
load --connections 20 --concurrency 4
P="pid=\"$SRV_PID\""
wait_for 5 test "$(metric connwatch_counter_decrements_total "$P")" == 24
check_eq "mid-flight attach: no false underflow" \
	"$(metric_sum connwatch_anomalies_total)" 0
stop "$CW_PID"
check_eq "SIGTERM: exit 0" "$?" 0
check_eq "SIGTERM: no uprobe left" "$(uprobes_on_fixture)" 0
check_eq "SIGTERM: the target's code is its file's again" "$(code_diff "$SRV_PID")" 0

# On a terminal: a one-screen live summary each second; not otherwise.
check_eq "no terminal: plain lines, no screen control" \
	"$(grep -c $'\033\\[2J' "$CW_ERR")" 0
start_server fixed || exit 1
TTY_PORT=$(free_port)
TERM=xterm timeout 20 script -qfec "$CW attach --pid $SRV_PID --spec $SPEC \
	--listen 127.0.0.1:$TTY_PORT --alert-log $TMP/tty.jsonl --duration 5" \
	/dev/null >"$TMP/tty.out" &
TTY=$!
wait_for 10 grep -qs "metrics on" "$TMP/tty.out"
load --connections 7 --concurrency 1
wait "$TTY"
check "terminal: the summary is drawn in place" grep -q $'\033\\[2J' "$TMP/tty.out"
check "terminal: it lists the process by source (the spec) with its counts" \
	grep -qE "^tracker\.yaml +$SRV_PID +7 +7 +0 +0 +0 +0" <(tr -d '\r' <"$TMP/tty.out")

# --exe: a new server given the pid of one whose series are in their
# grace (pid_max is 32768 here: a busy host wraps in minutes) counts in
# them, is up, and its exit is told too.
start_connwatch --exe "$PWD/$FX/tracker_server" --spec "$SPEC" || exit 1
start_server fixed || exit 1
OLD=$SRV_PID
load --connections 10 --concurrency 4
stop "$OLD"
wait_eq 5 0 metric connwatch_target_up "pid=\"$OLD\""
for try in 1 2 3 4 5; do
	NEXT_PID=$OLD start_server fixed || break
	[ "$SRV_PID" == "$OLD" ] && break
	stop "$SRV_PID"
done
if [ "$SRV_PID" == "$OLD" ]; then
	load --connections 20 --concurrency 4
	wait_eq 5 30 metric connwatch_counter_decrements_total "pid=\"$OLD\""
	check_eq "pid reused: counted in the series it took over" \
		"$(metric connwatch_connections_closed_total "pid=\"$OLD\"")" 30
	wait_eq 5 1 metric connwatch_target_up "pid=\"$OLD\""
	check_eq "pid reused: up again" \
		"$(metric connwatch_target_up "pid=\"$OLD\"")" 1
	stop "$SRV_PID"
	exits() { grep -c "pid $OLD (tracker_server) " "$CW_ERR"; }
	wait_eq 5 2 exits
	check_eq "pid reused: both exits told" "$(exits)" 2
	check_eq "pid reused: no alert" "$(wc -l <"$CW_LOG")" 0
else
	fail "pid reused: pid $OLD given again (5 tries)"
fi
stop "$CW_PID"
check_eq "pid reused: no uprobe left" "$(uprobes_on_fixture)" 0
