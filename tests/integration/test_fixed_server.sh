#!/bin/bash
# The v0.48.1 shape (drain only once shutdown began) under hundreds of
# connections, 16 at a time: exact counts and not a single alert.
. tests/lib.sh

N=400
start_server fixed || exit 1
start_connwatch --pid "$SRV_PID" --spec "$SPEC" || exit 1

check "load: $N connections, 16 at a time, all complete" \
	load --connections $N --concurrency 16 --hold-ms 5
P="pid=\"$SRV_PID\""
# The last connection's close runs after the client saw its reply.
wait_for 5 test "$(metric connwatch_counter_decrements_total "$P")" == $N
check_counts "" "$SRV_PID" $N connections_opened_total \
	connections_closed_total counter_increments_total counter_decrements_total
check_eq "connections_open == 0" "$(metric connwatch_connections_open "$P")" 0
wait_eq 5 0 metric connwatch_counter_value "$P"
check_eq "counter_value (read from the server) == 0" \
	"$(metric connwatch_counter_value "$P")" 0
check_eq "probe_hits of inc == $N" \
	"$(metric connwatch_probe_hits_total 'probe="inc:tracker_add"')" $N
check_eq "every probe attached" \
	"$(scrape | grep '^connwatch_probe_attached{' | grep -c ' 1$')" 6
check_eq "no drain while serving" \
	"$(metric connwatch_drain_signals_total "$P")" 0
check_exposition "a spec: promtool clean, no series twice"

# Graceful shutdown: the one expected drain, still no alert.
stop "$SRV_PID"
check_eq "the fixed server shuts down cleanly" "$?" 0
wait_for 5 test "$(metric connwatch_target_up "$P")" == 0
check_eq "one drain, after the shutdown" \
	"$(metric connwatch_drain_signals_total "$P")" 1
check_eq "zero anomalies of any kind" \
	"$(metric_sum connwatch_anomalies_total)" 0
check "the alert log is empty" test ! -s "$CW_LOG"
check_eq "no records lost" "$(scrape | awk '/^connwatch_events_lost_total/ {print $2}')" 0
stop "$CW_PID"
