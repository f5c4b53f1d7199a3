#!/bin/bash
# attach by --exe covers processes started later; SIGINT, SIGTERM and
# --duration detach cleanly and leave no probe behind.
. tests/lib.sh

uprobes_on_fixture() { bpftool perf show 2>/dev/null | grep -c "uprobe.*tracker_server"; }
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
	"$(scrape | grep -c '^connwatch_target_up{.*} 1$')" 2
kill -INT "$CW_PID"
wait "$CW_PID"
check_eq "SIGINT: exit 0" "$?" 0
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
