#!/bin/bash
# Every 10th connection is marked done twice (grpc/envoy/ATS family):
# counter_underflow at the culprit, the real counter negative in memory,
# and, with a drift rule in the spec, accounting_drift.
. tests/lib.sh

start_server double-done --double-every 10 || exit 1
DRIFT_SPEC=$TMP/drift.yaml
{ cat "$SPEC"; printf 'drift:\n  threshold: 5\n  grace: 2\n'; } >"$DRIFT_SPEC"
start_connwatch --pid "$SRV_PID" --spec "$DRIFT_SPEC" || exit 1

check "load: 100 connections complete" \
	load --connections 100 --concurrency 4
P="pid=\"$SRV_PID\""
wait_for 5 test "$(metric connwatch_counter_decrements_total "$P")" == 110
check_eq "decrements: 100 + 10 double" \
	"$(metric connwatch_counter_decrements_total "$P")" 110
wait_eq 5 -10 metric connwatch_counter_value "$P"
check_eq "connwatch_counter_value is -10 (read from the server's memory)" \
	"$(metric connwatch_counter_value "$P")" -10
# The kernel counts an alert before the daemon has logged it.
logged() { [ "$(alerts_of_kind counter_underflow)" == \
	"$(metric connwatch_anomalies_total 'kind="counter_underflow"')" ]; }
wait_for 5 logged
N=$(alerts_of_kind counter_underflow)
check "counter_underflow reported (1..10 times: once per new low): $N" \
	test "$N" -ge 1 -a "$N" -le 10
UF=$(grep '"kind":"counter_underflow"' "$CW_LOG" | head -1)
check "underflow is critical" grep -q '"severity":"critical"' <<<"$UF"
STACK=$(grep -o '"stack":\[[^]]*\]' <<<"$UF")
NAME="underflow stack is the double decrement in conn_thread"
if grep -q '^"stack":\["tracker_done+0x[0-9a-f]* (tracker_server)","conn_thread+' \
	<<<"$STACK"; then
	pass "$NAME"
else
	fail "$NAME" "${STACK:-no stack in: $UF}"
fi
check_eq "metric agrees with the alert log" \
	"$(metric connwatch_anomalies_total 'kind="counter_underflow"')" "$N"
check_eq "no drain anomaly on this server" \
	"$(( $(alerts_of_kind duplicate_drain) + $(alerts_of_kind drain_rearmed) ))" 0

# open - closed is 0, inc - dec is -10: drift beyond 5 for over 2 s.
wait_for 6 grep -qs accounting_drift "$CW_LOG"
check_eq "accounting_drift reported once" "$(alerts_of_kind accounting_drift)" 1
check "drift message gives both views" \
	grep -q 'open connections (0) and the counter (-10)' "$CW_LOG"
check "the server is unharmed" kill -0 "$SRV_PID"
