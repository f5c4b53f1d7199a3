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
# A fresh connwatch (a first attach, not the last round's state) on the
# server while it serves 16 connections at a time; the load is bounded by
# count and by time, stopped a second after the attach. Fails if the load
# ended before it: the probes did not see it.
attach_mid_load() {
	local load
	$FX/load_client --port "$SRV_PORT" --connections 200000 \
		--concurrency 16 --hold-ms 1 --timeout-s 30 >/dev/null &
	load=$!
	STARTED+=("$load")
	start_connwatch --pid "$SRV_PID" --spec "$SPEC" --fresh || return 1
	sleep 1
	kill -0 "$load" 2>/dev/null
	local seen=$?
	stop "$load"
	wait_for 10 idle
	return $seen
}
quiet=0 seen=0 settled=0
for r in $(seq $ROUNDS); do
	attach_mid_load && seen=$((seen + 1))
	# Closes of what opened before attach are not one less open.
	open=$(metric connwatch_connections_open "$P")
	if [ "$open" == 0 ]; then
		settled=$((settled + 1))
	else
		echo "round $r: connections_open $open"
	fi
	if [ -s "$CW_LOG" ]; then
		echo "round $r: $(head -c 400 "$CW_LOG")"
	else
		quiet=$((quiet + 1))
	fi
	stop "$CW_PID"
done
check_eq "attached mid-load in every round" "$seen" $ROUNDS
check_eq "no alert in any round" "$quiet" $ROUNDS
check_eq "connections_open back to 0 after every round" "$settled" $ROUNDS

# With a drift rule: 16 connections open before attach, 10 after, and the
# 16 end first. Both views must start where the server's counter is, or
# open - closed reads 0 while the counter reads 10: a false drift.
DRIFT_SPEC=$TMP/drift.yaml
{ cat "$SPEC"; printf 'drift:\n  threshold: 5\n  grace: 2\n'; } >"$DRIFT_SPEC"
$FX/load_client --port "$SRV_PORT" --connections 16 --concurrency 16 \
	--hold-ms 5000 --timeout-s 20 >/dev/null &
BEFORE=$!
STARTED+=("$BEFORE")
# A thread per connection: the 16 are being served.
serving() { test "$(ls "/proc/$SRV_PID/task" | wc -l)" -ge 17; }
check "16 connections open before attach" wait_for 5 serving
start_connwatch --pid "$SRV_PID" --spec "$DRIFT_SPEC" --fresh || exit 1
check "attached while the 16 are still open" kill -0 "$BEFORE"
$FX/load_client --port "$SRV_PORT" --connections 10 --concurrency 10 \
	--hold-ms 10000 --timeout-s 20 >/dev/null &
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
stop "$SRV_PID"

# A server whose every 10th connection is done twice, attached mid-load:
# the shadow seeded then may be a step off, so what pages is the counter
# the server holds. Every underflow reported is a read of it below zero
# (a dec read at 0 leaves -1), and there are no more than it fell.
start_server double-done --double-every 10 || exit 1
P="pid=\"$SRV_PID\""
IDLE_THREADS=$(threads)
sound=0 bounded=0
for r in $(seq $ROUNDS); do
	attach_mid_load || { echo "round $r: not attached mid-load"; continue; }
	final=$(metric connwatch_counter_value "$P")
	n=$(alerts_of_kind counter_underflow)
	unread=$(grep '"kind":"counter_underflow"' "$CW_LOG" |
		grep -cv '"counter":\(-[0-9]\|0[,}]\)' || true)
	[ "$unread" == 0 ] && sound=$((sound + 1))
	[ "$n" -le $((-final)) ] && bounded=$((bounded + 1))
	echo "round $r: $n underflows, counter $final, $unread not read below 1"
	stop "$CW_PID"
done
check_eq "every underflow is the counter read below zero" "$sound" $ROUNDS
check_eq "no more underflows than the counter fell" "$bounded" $ROUNDS
check "the double-done server is unharmed" kill -0 "$SRV_PID"
