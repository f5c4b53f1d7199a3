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
quiet=0 seen=0 resyncs=0 settled=0
for r in $(seq $ROUNDS); do
	# Bounded by count and by time: stopped a second after the attach.
	$FX/load_client --port "$SRV_PORT" --connections 200000 \
		--concurrency 16 --hold-ms 1 --timeout-s 30 >/dev/null &
	LOAD=$!
	STARTED+=("$LOAD")
	start_connwatch --pid "$SRV_PID" --spec "$SPEC" || break
	sleep 1
	# Judged only if the probes saw the load: attached before it ended.
	kill -0 "$LOAD" 2>/dev/null && seen=$((seen + 1))
	stop "$LOAD"
	wait_for 5 test "$(metric connwatch_counter_value "$P")" == 0
	# Closes of what opened before attach are not one less open.
	[ "$(metric connwatch_connections_open "$P")" == 0 ] &&
		settled=$((settled + 1))
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
check "the server is unharmed" kill -0 "$SRV_PID"
