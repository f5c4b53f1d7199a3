#!/bin/bash
# Presets chosen for you: `attach --pid PID` (and `check`, `run`) with no
# --preset or --spec reads the binary and picks, saying why in a line per
# choice. Real binaries: Debian's stripped Go Prometheus (sockets: a Go
# HTTP server's connections counted by tracepoints; go-net-http is only
# on request),
# quic-go HTTP/3 servers (quic-go-http3), nginx and redis (sockets); each
# must then count exactly.
. tests/lib.sh

N=20

# chose PRESET...: the presets connwatch said it chose, in $CW_ERR order.
chosen() { sed -n 's/^connwatch: no --preset or --spec: chose \([a-z0-9-]*\): .*/\1/p' "$1" | tr '\n' ' '; }

# --- Prometheus: stripped Go, a net/http server
start_prometheus || { fail "prometheus did not start" "$(tail -3 "$TMP/prom/log")"; exit 1; }
CHECK=$($CW check --pid "$PROM_PID" 2>"$TMP/check.err")
check_eq "prometheus: check chooses sockets and go-runtime, not go-net-http (on request only)" \
	"$(chosen "$TMP/check.err")" "sockets go-runtime "
check "prometheus: ... and says why (trackConn found: a Go HTTP server)" \
	grep -q 'chose sockets: it has net/http.(\*Server).trackConn: a Go HTTP server' "$TMP/check.err"
check_eq "prometheus: check prints the command to type" \
	"$(grep '^suggested:' <<<"$CHECK")" \
	"suggested: connwatch attach --pid $PROM_PID --preset sockets --preset go-runtime"
start_connwatch --pid "$PROM_PID" || exit 1
check_eq "prometheus: attach chooses the same" \
	"$(chosen "$CW_ERR")" "sockets go-runtime "
for _ in $(seq 1 $N); do
	curl -sf "http://127.0.0.1:$PROM_PORT/-/healthy" -o /dev/null || break
done
P="pid=\"$PROM_PID\""
wait_eq 5 $N metric connwatch_connections_closed_total "$P"
check_counts "prometheus: " "$PROM_PID" $N connections_opened_total \
	connections_closed_total
check_eq "prometheus: no alert" "$(metric_sum connwatch_anomalies_total)" 0
stop "$CW_PID"
stop "$PROM_PID"

# --- quic-go HTTP/3: Debian's quic-go 0.29, and v0.48's server shape.
# sockets too where the binary links net/http's server (h3_server
# does), as `connwatch symbols` sees it. QUIC is UDP: only quic-go-http3
# counts its connections.
for bin in h3_server.stripped quic_v048_fixed.stripped; do
	want="go-runtime quic-go-http3 "
	[ -n "$($CW symbols --exe "$FX/$bin" 'trackConn$' 2>/dev/null)" ] &&
		want="sockets go-runtime quic-go-http3 "
	start_h3_server "$bin" || continue
	$CW check --pid "$H3_PID" >/dev/null 2>"$TMP/check.err"
	check_eq "$bin: check chooses ${want% }" "$(chosen "$TMP/check.err")" "$want"
	start_connwatch --pid "$H3_PID" || continue
	check_eq "$bin: attach chooses the same" "$(chosen "$CW_ERR")" "$want"
	[ "$bin" == h3_server.stripped ] &&
		check "$bin: all attached; 0.29 has no v0.48 tracking: 3 parts absent, said to be fine" \
			grep -q ': 6 of 6 probes attached; 3 optional parts not in this binary, and need not be' "$CW_ERR"
	check "$bin: $N HTTP/3 requests, one QUIC connection each" \
		"$FX/h3_client" -addr "127.0.0.1:$H3_PORT" -n $N -c 2 -timeout 30
	Q="source=\"quic-go-http3\",pid=\"$H3_PID\""
	wait_eq 5 $N metric connwatch_connections_closed_total "$Q"
	check_eq "$bin: quic-go-http3 opened == $N" \
		"$(metric connwatch_connections_opened_total "$Q")" $N
	check_eq "$bin: no alert" "$(metric_sum connwatch_anomalies_total)" 0
	stop "$CW_PID"
	stop "$H3_PID"
done

# --- nginx (C, master + workers): sockets
start_nginx || exit 1
$CW check --pid "$NGX_PID" >"$TMP/check.out" 2>"$TMP/check.err"
check_eq "nginx: check chooses sockets" "$(chosen "$TMP/check.err")" "sockets "
check "nginx: ... because it is not Go" \
	grep -q 'chose sockets: not a Go program' "$TMP/check.err"
check "nginx: check prints the command to type" \
	grep -qx "suggested: connwatch attach --pid $NGX_PID --preset sockets" "$TMP/check.out"
start_connwatch --pid "$NGX_PID" || exit 1
check_eq "nginx: attach chooses sockets" "$(chosen "$CW_ERR")" "sockets "
for _ in $(seq 1 $N); do
	curl -sf "http://127.0.0.1:$NGX_PORT/" -o /dev/null || break
done
WORKERS=$(nginx_workers)
wait_eq 5 $N sum_by_pid connwatch_connections_closed_total $WORKERS
check_eq "nginx: opened == closed == $N" \
	"$(sum_by_pid connwatch_connections_opened_total $WORKERS) $(sum_by_pid connwatch_connections_closed_total $WORKERS)" \
	"$N $N"
stop "$CW_PID"
stop "$NGX_PID"

# --- redis (C): sockets
start_redis || exit 1
start_connwatch --pid "$REDIS_PID" || exit 1
check_eq "redis: attach chooses sockets" "$(chosen "$CW_ERR")" "sockets "
for _ in $(seq 1 $N); do
	redis-cli -p "$REDIS_PORT" ping >/dev/null || break
done
wait_eq 5 $N metric connwatch_connections_closed_total "pid=\"$REDIS_PID\""
check_counts "redis: " "$REDIS_PID" $N connections_opened_total \
	connections_closed_total
stop "$CW_PID"
stop "$REDIS_PID"

# --- run -- CMD chooses for CMD's binary
CW_PORT=$(free_port)
$CW run --listen "127.0.0.1:$CW_PORT" --alert-log "$TMP/run.jsonl" -- \
	"$FX/h3_server.stripped" >"$TMP/run.out" 2>"$TMP/run.err" &
RUN=$!
STARTED+=("$RUN")
wait_for 10 grep -qs listening "$TMP/run.out"
check_eq "run -- h3_server: chooses quic-go-http3 (with sockets, go-runtime)" \
	"$(chosen "$TMP/run.err")" "sockets go-runtime quic-go-http3 "
H3_PORT=$(sed -n 's/.*127.0.0.1:\([0-9]*\).*/\1/p' "$TMP/run.out")
check "run -- h3_server: $N HTTP/3 requests" \
	"$FX/h3_client" -addr "127.0.0.1:$H3_PORT" -n $N -timeout 30
wait_eq 5 $N metric_sum connwatch_connections_closed_total
check_eq "run -- h3_server: opened == $N" \
	"$(metric_sum connwatch_connections_opened_total)" $N
stop "$RUN"

# --- a preset given is obeyed, and a Go preset on C is named as such
$CW check --exe /usr/sbin/nginx --preset sockets >/dev/null 2>"$TMP/check.err"
check_eq "a preset given: nothing is chosen" "$(chosen "$TMP/check.err")" ""
start_server fixed || exit 1
expect_error "check --pid <a C program> --preset go-net-http: not a Go program" \
	"preset go-net-http: .*tracker_server is not a Go program" \
	$CW check --pid "$SRV_PID" --preset go-net-http
