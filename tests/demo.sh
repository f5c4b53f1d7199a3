#!/bin/bash
# make demo: the quic-go v0.48.0 bug on a bundled C server, caught live.
# Starts the buggy server, attaches connwatch, drives load, and shows the
# warning, the critical alert with its stack, and the metrics. < 1 minute.
cd "$(dirname "$0")/.." || exit 2
. tests/lib.sh

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "starting the bundled buggy server (done signal at every idle, like quic-go v0.48.0)"
start_server buggy || exit 1
echo "tracker_server pid $SRV_PID on 127.0.0.1:$SRV_PORT"

say "connwatch attach --pid $SRV_PID --spec $SPEC"
start_connwatch --pid "$SRV_PID" --spec "$SPEC" || exit 1
sed -n '1,8p' "$CW_ERR"

say "20 overlapping connections, then idle: the count reaches zero"
load --connections 20 --concurrency 20 --hold-ms 300
sleep 0.5
say "one more connection, 3 s later the count reaches zero again"
load --connections 1 --hold-ms 3000 &
sleep 1
grep -A4 "drain_rearmed" "$CW_ERR" | head -4
echo "(the server is still up: this warning is the time you get to act)"
wait $!
{ wait "$SRV_PID"; } 2>/dev/null
echo "tracker_server exited with status $? ($(tail -1 "$SRV_ERR"))"
sleep 0.5

say "what connwatch printed"
sed -n '/connwatch: warning\|connwatch: critical\|^    \|^       \|killed by/p' "$CW_ERR"

say "the alert log ($CW_LOG): fsync'ed before the crash completed"
sed 's/,"stack".*//; s/$/, ...}/' "$CW_LOG"

say "metrics after the crash (curl 127.0.0.1:$CW_PORT/metrics)"
scrape | grep -v '^#' | grep -E 'target_up|opened_total|increments|decrements|drain_signals|anomalies_total.* [1-9]|counter_value'
stop "$CW_PID"
say "done: connwatch detached, no probe left"
