#!/bin/bash
# The label model: one process is one target. A Go server speaking
# HTTP/1.1 and HTTP/3, watched with four presets, is one target_up series,
# each preset's counts under its own source label; --target and a spec's
# target: name it; a preset or spec given twice is loaded once; the whole
# exposition passes promtool with no series twice.
. tests/lib.sh

# --- one Go process, four presets: h3_server -tcp serves both protocols
start_h3_server h3_server.stripped -tcp || exit 1
TCP_PORT=$(sed -n 's/^tcp port \([0-9]*\)$/\1/p' "${SRV_ERR%.err}")
start_connwatch --pid "$H3_PID" --preset quic-go-http3 --preset go-net-http \
	--preset go-runtime --preset sockets || exit 1
N=20 M=10
for _ in $(seq 1 $N); do	# each curl its own TCP connection
	curl -sf --max-time 5 "http://127.0.0.1:$TCP_PORT/" -o /dev/null || break
done
check "$M HTTP/3 requests, each on its own QUIC connection" \
	"$FX/h3_client" -addr "127.0.0.1:$H3_PORT" -n $M -c 2 -timeout 30
T='target="h3_server.stripped"'
src() { metric "$1" "$T,source=\"$2\",pid=\"$H3_PID\""; }
wait_eq 5 $M src connwatch_connections_closed_total quic-go-http3
wait_eq 5 $N src connwatch_connections_closed_total go-net-http
check_eq "four presets: one target_up series" \
	"$(scrape | grep '^connwatch_target_up{')" \
	"connwatch_target_up{$T,pid=\"$H3_PID\"} 1"
check_eq "every series with a target names the binary, none a preset" \
	"$(scrape | grep -v '^#' | grep 'target=' | grep -vc "$T")" 0
check_eq "go-net-http counted the $N HTTP/1.1 connections" \
	"$(src connwatch_connections_opened_total go-net-http)/$(src connwatch_connections_closed_total go-net-http)" "$N/$N"
check_eq "sockets counted the same $N accepted sockets" \
	"$(src connwatch_connections_opened_total sockets)/$(src connwatch_connections_closed_total sockets)" "$N/$N"
check_eq "quic-go-http3 counted the $M QUIC connections" \
	"$(src connwatch_connections_opened_total quic-go-http3)/$(src connwatch_connections_closed_total quic-go-http3)" "$M/$M"
check_eq "each anomaly kind once for the target (8 series, all 0)" \
	"$(scrape | grep "^connwatch_anomalies_total{$T," | awk '{n++; s += $2} END {print n "/" s}')" 8/0
check_eq "probes are told apart by source: go-runtime's closechan" \
	"$(metric connwatch_probe_attached "$T,source=\"go-runtime\",probe=\"chan_close:runtime.closechan\"")" 1
check_exposition "four presets: promtool check metrics clean, no series twice"
stop "$CW_PID"

# --- --target names it; a preset given twice is loaded once, said once
start_connwatch --pid "$H3_PID" --target web-frontend --preset go-net-http \
	--preset go-net-http --preset go-runtime || exit 1
check_eq "a preset given twice: one line says it is loaded once" \
	"$(grep -c 'preset go-net-http given twice: loaded once' "$CW_ERR")" 1
curl -sf --max-time 5 "http://127.0.0.1:$TCP_PORT/" -o /dev/null
wait_eq 5 1 metric connwatch_connections_closed_total 'target="web-frontend",source="go-net-http"'
check_eq "--target: every target label is the name given" \
	"$(scrape | grep -v '^#' | grep 'target=' | grep -vc 'target="web-frontend"')" 0
check_eq "--target: one target_up series" \
	"$(scrape | grep -c "^connwatch_target_up{target=\"web-frontend\",pid=\"$H3_PID\"} 1$")" 1
check_eq "a preset given twice: its series once" \
	"$(scrape | grep -c '^connwatch_connections_opened_total{target="web-frontend",source="go-net-http"')" 1
check_exposition "preset given twice: promtool clean, no series twice"
stop "$CW_PID"
stop "$H3_PID"

# --- a spec (target: tracker) given twice, by two paths, with sockets twice
start_server buggy || exit 1
start_connwatch --pid "$SRV_PID" --spec "$SPEC" --spec "./$SPEC" \
	--preset sockets --preset sockets || exit 1
check_eq "a spec given twice (two paths to one file): said once" \
	"$(grep -c "spec ./$SPEC given twice: loaded once" "$CW_ERR")" 1
load --connections 20 --concurrency 20 --hold-ms 300
wait_for 5 grep -qs drain_without_shutdown "$CW_LOG"
check_eq "the spec's target: names the target, the spec file the source" \
	"$(metric connwatch_connections_opened_total "source=\"tracker.yaml\",pid=\"$SRV_PID\"")/$(metric connwatch_connections_opened_total "target=\"tracker\",source=\"sockets\",pid=\"$SRV_PID\"")" 20/20
check_eq "spec + sockets: one target_up series" \
	"$(scrape | grep -c '^connwatch_target_up{')" 1
check_eq "the anomaly counted once, under the target" \
	"$(metric connwatch_anomalies_total 'target="tracker",kind="drain_without_shutdown"')" 1
check "the alert log: target tracker, source tracker.yaml" \
	grep -q '"kind":"drain_without_shutdown","target":"tracker","source":"tracker.yaml"' "$CW_LOG"
check_exposition "spec and preset given twice: promtool clean, no series twice"
stop "$CW_PID"

# --- --target wins over the spec's target:; specs that disagree are refused
start_connwatch --pid "$SRV_PID" --spec "$SPEC" --target checkout || exit 1
check_eq "--target wins over the spec's target:" \
	"$(scrape | grep -c "^connwatch_target_up{target=\"checkout\",pid=\"$SRV_PID\"} 1$")" 1
stop "$CW_PID"
sed 's/^target: .*/target: other/' "$SPEC" >"$TMP/other.yaml"
expect_error "two specs naming two targets: refused in one line" \
	"names target 'tracker'.*names 'other': one process is one target; give --target NAME" \
	$CW attach --pid "$SRV_PID" --spec "$SPEC" --spec "$TMP/other.yaml" \
	--listen 127.0.0.1:0 --alert-log "$TMP/a.jsonl" --duration 1
expect_error "an empty --target: refused in one line" "--target '': a name of 1 to 63 bytes" \
	$CW attach --pid "$SRV_PID" --spec "$SPEC" --target "" \
	--listen 127.0.0.1:0 --alert-log "$TMP/a.jsonl" --duration 1
check_eq "check names the target attach would serve" \
	"$($CW check --pid "$SRV_PID" --spec "$SPEC" --preset sockets | head -1)" \
	"$PWD/$FX/tracker_server: every probe resolves (target \"tracker\")"
expect_error "symbols refuses --target" "symbols: --target is an option of attach" \
	$CW symbols --pid "$SRV_PID" --target x
check "the server is unharmed" kill -0 "$SRV_PID"

# --- a binary whose name is not UTF-8 and holds a newline: its label
# value and the alert log's strings are still valid (U+FFFD for each
# byte that is no part of a character; the newline escaped)
BAD_NAME=$TMP/$'dc\xff\xfe\nsrv'
cp "$FX/double_close_server" "$BAD_NAME"
start_fixture "$BAD_NAME" 5 || exit 1
start_connwatch --pid "$SRV_PID" || exit 1
load --connections 10 --concurrency 1
wait_eq 5 2 alerts_of_kind double_close_fd
check_eq "its target label: U+FFFD for the bytes, the newline escaped" \
	"$(scrape | grep '^connwatch_target_up{')" \
	"connwatch_target_up{target=\"dc"$'\xef\xbf\xbd\xef\xbf\xbd'"\\nsrv\",pid=\"$SRV_PID\"} 1"
check_exposition "a binary's name not UTF-8: promtool clean, no series twice"
check_eq "the alert log: every line JSON, target and comm read back" \
	"$(python3 -c '
import json, sys
for line in open(sys.argv[1], "rb"):
    a = json.loads(line.decode("utf-8"))
    print(ascii(a["target"]), ascii(a["comm"]))' "$CW_LOG" | sort -u)" \
	"'dc\\ufffd\\ufffd\\nsrv' 'dc\\ufffd\\ufffd\\nsrv'"
stop "$CW_PID"
check "the server is unharmed" kill -0 "$SRV_PID"
