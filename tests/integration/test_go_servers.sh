#!/bin/bash
# Go servers nobody here wrote: Debian's stripped Prometheus with
# go-net-http, a real HTTP/3 server on Debian's quic-go 0.29 with
# quic-go-http3; and 200 attach/detach cycles on a Go server under load.
. tests/lib.sh

# --- Prometheus (stripped Go 1.19, 63k functions): N requests, N connections
start_prometheus || { fail "prometheus did not start" "$(tail -3 "$TMP/prom/log")"; exit 1; }
start_connwatch --pid "$PROM_PID" --preset go-net-http || exit 1
N=60
for _ in $(seq 1 $N); do
	curl -sf "http://127.0.0.1:$PROM_PORT/-/healthy" -o /dev/null || break
done
P="pid=\"$PROM_PID\""
wait_for 5 test "$(metric connwatch_connections_closed_total "$P")" == $N
check_counts "prometheus: " "$PROM_PID" $N connections_opened_total \
	connections_closed_total
check_eq "prometheus: open == 0" "$(metric connwatch_connections_open "$P")" 0
check_eq "prometheus: no uprobe trap per connection (hijackLocked: 0 hits)" \
	"$(metric connwatch_probe_hits_total 'hijackLocked')" 0
check_eq "prometheus: no alert" "$(metric_sum connwatch_anomalies_total)" 0
check_exposition "prometheus: go-net-http: promtool clean, no series twice"
stop "$CW_PID"
stop "$PROM_PID"

# --- HTTP/3 over QUIC: each request on its own connection
h3() {
	local bin=$1 n=50
	start_h3_server "$bin" || return 1
	start_connwatch --pid "$H3_PID" --preset quic-go-http3 --preset go-runtime || return 1
	check "$bin: $n HTTP/3 requests, each on its own QUIC connection" \
		"$FX/h3_client" -addr "127.0.0.1:$H3_PORT" -n $n -c 4 -timeout 30
	local p="pid=\"$H3_PID\""
	wait_for 5 test "$(metric connwatch_connections_closed_total "$p")" == $n
	check_counts "$bin: " "$H3_PID" $n connections_opened_total \
		connections_closed_total
	check_eq "$bin: open == 0" "$(metric connwatch_connections_open "$p")" 0
	check_eq "$bin: no alert" "$(metric_sum connwatch_anomalies_total)" 0
	check_exposition "$bin: quic-go-http3 + go-runtime: promtool clean, no series twice"
	stop "$CW_PID"
	stop "$H3_PID"
}
h3 h3_server
h3 h3_server.stripped

# --- 200 attach/detach cycles on a Go server under steady load
start_go_tracker go_tracker.stripped fixed || exit 1
# Batches of 50 connections until told to stop; every batch must succeed.
(
	batches=0 failed=0
	while [ ! -e "$TMP/stop" ] && [ $batches -lt 2000 ]; do
		load --connections 50 --concurrency 4 --hold-ms 1 ||
			failed=$((failed + 1))
		batches=$((batches + 1))
	done
	echo "batches=$batches failed=$failed"
) >"$TMP/steady.out" &
LOAD=$!
STARTED+=("$LOAD")
CYCLES=0
for i in $(seq 1 200); do
	start_connwatch --pid "$SRV_PID" --spec tests/specs/go_tracker.yaml \
		--preset go-runtime >/dev/null || break
	stop "$CW_PID" || break
	CYCLES=$i
	kill -0 "$SRV_PID" 2>/dev/null || break
done
check_eq "200 attach/detach cycles completed" "$CYCLES" 200
check "the server never crashed" kill -0 "$SRV_PID"
touch "$TMP/stop"
wait "$LOAD"
check "the steady load ran throughout the cycles: $(cat "$TMP/steady.out")" \
	grep -q 'batches=[1-9][0-9]' "$TMP/steady.out"
check "no request failed during the cycles" grep -q 'failed=0$' "$TMP/steady.out"
# Only this server's binary: other tests or benches may probe the others.
check_eq "no probe left after the cycles" \
	"$(bpftool perf show 2>/dev/null | grep -c "uprobe .* $PWD/$FX/go_tracker.stripped ")" 0
start_connwatch --pid "$SRV_PID" --spec tests/specs/go_tracker.yaml || exit 1
check "and counts are exact afterwards: 100 connections" \
	load --connections 100 --concurrency 8
wait_for 5 test "$(metric connwatch_counter_decrements_total "pid=\"$SRV_PID\"")" == 100
check_counts "after the cycles: " "$SRV_PID" 100 connections_opened_total \
	connections_closed_total counter_increments_total counter_decrements_total
check_eq "after the cycles: no alert" "$(metric_sum connwatch_anomalies_total)" 0
stop "$SRV_PID"
check_eq "the server shuts down cleanly" "$?" 0
