#!/bin/bash
# Alerts out, fast: every alert pushed to a real Alertmanager within a
# second of the alert log, with its labels and annotations; the --on-alert
# hook gets the JSON; a dead Alertmanager or a stuck hook never delays the
# alert log.
. tests/lib.sh

start_alertmanager || { fail "alertmanager did not start" "$(tail -3 "$TMP/am/log")"; exit 1; }
start_server buggy || exit 1
start_connwatch --pid "$SRV_PID" --spec "$SPEC" \
	--alertmanager "http://127.0.0.1:$AM_PORT" \
	--on-alert "cat >>$TMP/hook.out" || exit 1
load --connections 10 --concurrency 10 --hold-ms 300
wait_for 5 grep -qs drain_without_shutdown "$CW_LOG"
T0=$(date +%s%N)
wait_for 3 sh -c "curl -sf http://127.0.0.1:$AM_PORT/api/v2/alerts | grep -q connwatch_drain_without_shutdown"
MS=$(( ($(date +%s%N) - T0) / 1000000 ))
check "the warning reached Alertmanager ${MS} ms after the alert log (< 1000)" \
	test "$MS" -lt 1000
load --connections 1 --hold-ms 200
{ wait "$SRV_PID"; } 2>/dev/null
wait_for 5 grep -qs duplicate_drain "$CW_LOG"
wait_for 3 sh -c "curl -sf http://127.0.0.1:$AM_PORT/api/v2/alerts | grep -q connwatch_duplicate_drain"
AM=$(am_alerts)
DUP=$(python3 -c '
import json, sys
for a in json.load(sys.stdin):
    if a["labels"]["alertname"] == "connwatch_duplicate_drain":
        l, n = a["labels"], a["annotations"]
        print(l["kind"], l["severity"], l["target"], l["pid"], n["stack"].split("+")[0], n["source"], "|", n["message"][:20], "|", a["endsAt"] > a["startsAt"])
' <<<"$AM")
check_eq "Alertmanager has it with kind, severity, target, pid, the top of the stack and the source" \
	"$(cut -d'|' -f1 <<<"$DUP" | xargs)" "duplicate_drain critical tracker $SRV_PID tracker_close_done tracker.yaml"
check "... the message as an annotation" grep -q "drain signal" <<<"$DUP"
check "... and an endsAt after startsAt (it resolves unless re-sent)" grep -q "| True" <<<"$DUP"
check_eq "every alert reached Alertmanager (3 kinds)" \
	"$(grep -o '"alertname":"connwatch_[a-z_]*"' <<<"$AM" | sort -u | wc -l)" 3
wait_for 5 test "$(grep -c . "$TMP/hook.out" 2>/dev/null)" -ge 3
check_eq "the hook got each alert's JSON on stdin" "$(grep -c '"kind":' "$TMP/hook.out")" 3
wait_eq 5 3 metric connwatch_alerts_pushed_total 'sink="alertmanager"'
check_eq "pushed_total counts them" \
	"$(metric connwatch_alerts_pushed_total 'sink="alertmanager"')" 3
stop "$CW_PID"

# A dead Alertmanager and a stuck hook: the alert log is not delayed.
start_server buggy || exit 1
DEAD=$(free_port)
start_connwatch --pid "$SRV_PID" --spec "$SPEC" \
	--alertmanager "http://127.0.0.1:$DEAD" --on-alert "sleep 30" || exit 1
load --connections 10 --concurrency 10 --hold-ms 300
wait_for 5 grep -qs drain_without_shutdown "$CW_LOG"
load --connections 1 --hold-ms 100
T0=$(date +%s%N)	# the drain follows the answer
wait_for 5 grep -qs duplicate_drain "$CW_LOG"
MS=$(( ($(date +%s%N) - T0) / 1000000 ))
check "with Alertmanager down and the hook stuck, the alert log still took ${MS} ms (< 1000)" \
	test "$MS" -lt 1000
T0=$(date +%s%N)
scrape >/dev/null
MS=$(( ($(date +%s%N) - T0) / 1000000 ))
check "... and /metrics answers in ${MS} ms (< 500)" test "$MS" -lt 500
wait_for 10 test "$(metric connwatch_alert_push_failures_total 'sink="alertmanager"')" -ge 1
check "the undeliverable push is counted after its retries" \
	test "$(metric connwatch_alert_push_failures_total 'sink="alertmanager"')" -ge 1
T0=$(date +%s%N)
stop "$CW_PID"
MS=$(( ($(date +%s%N) - T0) / 1000000 ))
check "connwatch stops within its 2 s flush deadline plus the detach (${MS} ms < 6000)" \
	test "$MS" -lt 6000
