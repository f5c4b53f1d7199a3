#!/bin/bash
# Attach to a fixed server that is already busy, 16 connections at a time.
# The first hits after attach race to seed the shadow from the server's
# counter, and connections that began before attach end after it. However
# the race goes, the watch must stay silent: a false counter_underflow here
# pages someone at the moment they attached to look. Several rounds, each
# a new connwatch attached mid-load (1 round in 10 failed before the
# seeding was made atomic).
. tests/lib.sh

ROUNDS=6
start_server fixed || exit 1
P="pid=\"$SRV_PID\""
# The server's threads: one per connection, the rest always there.
threads() { ls "/proc/$SRV_PID/task" | wc -l; }
IDLE_THREADS=$(threads)
idle() { [ "$(threads)" -le "$IDLE_THREADS" ]; }
quiet=0 seen=0 resyncs=0 settled=0
for r in $(seq $ROUNDS); do
	# Bounded by count and by time: stopped a second after the attach.
	$FX/load_client --port "$SRV_PORT" --connections 200000 \
		--concurrency 16 --hold-ms 1 --timeout-s 30 >/dev/null &
	LOAD=$!
	STARTED+=("$LOAD")
	# --fresh: each round a first attach, not the last round's state.
	start_connwatch --pid "$SRV_PID" --spec "$SPEC" --fresh || break
	sleep 1
	# Judged only if the probes saw the load: attached before it ended.
	kill -0 "$LOAD" 2>/dev/null && seen=$((seen + 1))
	stop "$LOAD"
	wait_for 10 idle
	# Closes of what opened before attach are not one less open.
	open=$(metric connwatch_connections_open "$P")
	if [ "$open" == 0 ]; then
		settled=$((settled + 1))
	else
		echo "round $r: connections_open $open"
	fi
	resyncs=$((resyncs + $(metric_sum connwatch_shadow_resyncs_total)))
	if [ -s "$CW_LOG" ]; then
		echo "round $r: $(head -c 400 "$CW_LOG")"
	else
		quiet=$((quiet + 1))
	fi
	stop "$CW_PID"
done
echo "shadow resyncs in $ROUNDS rounds: $resyncs"
check_eq "attached mid-load in every round" "$seen" $ROUNDS
check_eq "no alert in any round" "$quiet" $ROUNDS
check_eq "connections_open back to 0 after every round" "$settled" $ROUNDS

# With a drift rule: 16 connections open before attach, 10 after, and the
# 16 end first. Both views must start where the server's counter is, or
# open - closed reads 0 while the counter reads 10: a false drift.
DRIFT_SPEC=$TMP/drift.yaml
{ cat "$SPEC"; printf 'drift:\n  threshold: 5\n  grace: 2\n'; } >"$DRIFT_SPEC"
$FX/load_client --port "$SRV_PORT" --connections 16 --concurrency 16 \
	--hold-ms 4000 --timeout-s 20 >/dev/null &
BEFORE=$!
STARTED+=("$BEFORE")
# A thread per connection: the 16 are being served.
serving() { test "$(ls "/proc/$SRV_PID/task" | wc -l)" -ge 17; }
check "16 connections open before attach" wait_for 5 serving
start_connwatch --pid "$SRV_PID" --spec "$DRIFT_SPEC" --fresh || exit 1
$FX/load_client --port "$SRV_PORT" --connections 10 --concurrency 10 \
	--hold-ms 9000 --timeout-s 20 >/dev/null &
AFTER=$!
STARTED+=("$AFTER")
wait "$BEFORE"
sleep 3.5	# past the drift grace, the 10 still open
check_eq "the counter reads them too" \
	"$(metric connwatch_counter_value "$P")" 10
check_eq "no accounting_drift when attached with connections open" \
	"$(alerts_of_kind accounting_drift)" 0
wait "$AFTER"
check "the server is unharmed" kill -0 "$SRV_PID"
