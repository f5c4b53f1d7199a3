#!/bin/bash
# connwatch restarted (upgrade, config change, OOM kill) between the buggy
# server's first and second drain: the new connwatch adopts the state the
# old one pinned under /sys/fs/bpf/connwatch, so it still reports the
# precursor (drain_rearmed) and the crash (duplicate_drain), and counts go
# on. After kill -9 no probe is left in the target. --fresh, a changed
# spec and processes gone since start over, each said in a line.
. tests/lib.sh

PINS=/sys/fs/bpf/connwatch
# kinds LOG [PID]: the kinds of the alerts in LOG (of PID), in order.
kinds() { grep -s "\"pid\":${2:-[0-9]*}," "$1" | grep -o '"kind":"[a-z_]*"' |
	cut -d'"' -f4 | tr '\n' ' '; }
opened() { metric connwatch_connections_opened_total "pid=\"$1\""; }
open_hits() { metric connwatch_probe_hits_total 'probe="open:conn_accepted"'; }
anomalies() { metric connwatch_anomalies_total "kind=\"$1\""; }

# first_drain: a burst of overlapping connections, then idle.
first_drain() {
	local n=$(alerts_of_kind drain_without_shutdown)
	load --connections 20 --concurrency 20 --hold-ms 300
	wait_for 5 test "$(alerts_of_kind drain_without_shutdown)" -gt "$n"
}

# second_drain NAME [KINDS]: one connection after the drain (the
# precursor), its end (the duplicate drain, the abort), as the connwatch
# now running reports them (after KINDS).
second_drain() {
	load --connections 1 --hold-ms 1000 &
	wait_for 5 grep -qs drain_rearmed "$CW_LOG"
	check "$1: drain_rearmed while the server still runs" kill -0 "$SRV_PID"
	wait $!
	{ wait "$SRV_PID"; } 2>/dev/null
	check_eq "$1: the buggy server crashed (SIGABRT)" "$?" 134
	wait_for 5 grep -qs duplicate_drain "$CW_LOG"
	check_eq "$1: the new connwatch reported the precursor and the crash" \
		"$(kinds "$CW_LOG" "$SRV_PID")" \
		"${2:-}drain_rearmed duplicate_drain "
}

# ---- SIGTERM between the drains -------------------------------------------
start_server buggy || exit 1
start_connwatch --pid "$SRV_PID" --spec "$SPEC" || exit 1
check "attach pins its state under $PINS" grep -q "state pinned in $PINS/" "$CW_ERR"
first_drain
check_eq "before: 20 connections opened" "$(opened "$SRV_PID")" 20
HITS=$(open_hits)
stop "$CW_PID"
check "SIGTERM: the state stays pinned" grep -q "state stays pinned" "$CW_ERR"

start_connwatch --pid "$SRV_PID" --spec "$SPEC" || exit 1
check "restart: adopts the pinned state, its drained key said" \
	grep -q "adopted the state pinned in $PINS/.*: 1 process, 1 key (1 drained)" "$CW_ERR"
check_eq "restart: opened goes on from 20" "$(opened "$SRV_PID")" 20
check_eq "restart: probe hits go on" "$(open_hits)" "$HITS"
check_eq "restart: anomalies_total goes on" "$(anomalies drain_without_shutdown)" 1
second_drain "SIGTERM"
check_eq "SIGTERM: opened counted on to 21" "$(opened "$SRV_PID")" 21
check_eq "SIGTERM: probe hits counted on" "$(open_hits)" $((HITS + 1))
check_eq "SIGTERM: anomalies_total counted on, no false underflow" \
	"$(anomalies drain_without_shutdown) $(anomalies drain_rearmed) $(anomalies duplicate_drain) $(anomalies counter_underflow)" \
	"1 1 1 0"
stop "$CW_PID"
DIR=$(sed -n "s|.*adopted the state pinned in \($PINS/[^:]*\):.*|\1|p" "$CW_ERR")
check "the process gone, connwatch removes its pins on exit" test ! -e "$DIR"

# ---- kill -9 between the drains (--exe) -----------------------------------
# Frozen first, so that the first drain's record is still in the ring
# buffer, unread, when connwatch dies.
start_server buggy || exit 1
start_connwatch --exe "$PWD/$FX/tracker_server" --spec "$SPEC" || exit 1
DIR=$(sed -n "s|.*state pinned in \($PINS/.*\)$|\1|p" "$CW_ERR")
kill -STOP "$CW_PID"
load --connections 20 --concurrency 20 --hold-ms 300
sleep 1
check_eq "frozen connwatch: the first drain is not on disk yet" "$(kinds "$CW_LOG")" ""
check "while attached, the target holds the uprobes' breakpoints" \
	test "$(code_diff "$SRV_PID")" -gt 0
kill -9 "$CW_PID"
wait "$CW_PID" 2>/dev/null
wait_eq 5 0 code_diff "$SRV_PID"
check_eq "kill -9: no probe left, the code is the file's again" \
	"$(code_diff "$SRV_PID")" 0
check_eq "kill -9: no uprobe event left in tracefs" \
	"$(grep -cs tracker_server /sys/kernel/tracing/uprobe_events)" 0
check "kill -9: the state is still pinned" test -e "$DIR/acct"

start_connwatch --exe "$PWD/$FX/tracker_server" --spec "$SPEC" || exit 1
check "after kill -9: adopts the pinned state" grep -q "adopted the state pinned" "$CW_ERR"
wait_for 5 grep -qs drain_without_shutdown "$CW_LOG"
check "kill -9: the record it had not read is on disk, from the next connwatch" \
	grep -q '"kind":"drain_without_shutdown".*"stack":\["tracker_close_done+0x0' "$CW_LOG"
check_eq "after kill -9: opened goes on from 20" "$(opened "$SRV_PID")" 20
second_drain "kill -9" "drain_without_shutdown "
check_eq "kill -9: opened counted on to 21" "$(opened "$SRV_PID")" 21
stop "$CW_PID"

# ---- --fresh, a changed spec: start over -----------------------------------
# drained_then_stopped SPEC: a buggy server drained once under a connwatch
# that stopped since, its state pinned.
drained_then_stopped() {
	start_server buggy || exit 1
	start_connwatch --pid "$SRV_PID" --spec "$1" || exit 1
	first_drain
	stop "$CW_PID"
}
# forgotten NAME: the next connection's end is the server's second drain
# (it aborts), which a connwatch that did not adopt the first takes for a
# first one.
forgotten() {
	check_eq "$1: counts start over" "$(opened "$SRV_PID")" ""
	load --connections 1 --hold-ms 300
	{ wait "$SRV_PID"; } 2>/dev/null
	wait_for 5 grep -qs drain_without_shutdown "$CW_LOG"
	check_eq "$1: the drain before is not known: the crash looks like a first drain" \
		"$(kinds "$CW_LOG")" "drain_without_shutdown "
	stop "$CW_PID"
}

drained_then_stopped "$SPEC"
start_connwatch --pid "$SRV_PID" --spec "$SPEC" --fresh || exit 1
check "--fresh: says it starts over" grep -q ": --fresh: starting over" "$CW_ERR"
forgotten "--fresh"

cp "$SPEC" "$TMP/tracker.yaml"
drained_then_stopped "$TMP/tracker.yaml"
sed -i '/role: shutdown/,+2d' "$TMP/tracker.yaml"	# one probe less
start_connwatch --pid "$SRV_PID" --spec "$TMP/tracker.yaml" || exit 1
check "changed spec: not adopted, said in a line" \
	grep -q "resolved otherwise .*not adopted, removed" "$CW_ERR"
check "changed spec: nothing adopted" sh -c "! grep -q 'adopted the state' '$CW_ERR'"
forgotten "changed spec"

# ---- processes gone since: never another process' state --------------------
# --exe: A, B and D drained; connwatch stops; A exits, B's pid is made to
# look taken by another process (its pinned start time), C starts.
start_connwatch --exe "$PWD/$FX/tracker_server" --spec "$SPEC" || exit 1
for s in A B D; do
	start_server buggy || exit 1
	first_drain
	eval "$s=$SRV_PID PORT_$s=$SRV_PORT"
done
stop "$CW_PID"
DIR=$(sed -n "s|.*state stays pinned in \($PINS/[^ ]*\) .*|\1|p" "$CW_ERR")
stop "$A"
le32() { printf '%d %d %d %d' $(($1 & 255)) $(($1 >> 8 & 255)) \
	$(($1 >> 16 & 255)) $(($1 >> 24 & 255)); }
bpftool map update pinned "$DIR/watched" key $(le32 "$B") value 1 0 0 0 0 0 0 0
start_server buggy || exit 1
C=$SRV_PID PORT_C=$SRV_PORT
start_connwatch --exe "$PWD/$FX/tracker_server" --spec "$SPEC" || exit 1
check "a process that exited: its state dropped, said" \
	grep -q "pid $A has exited since its state was pinned: dropped" "$CW_ERR"
check "a pid taken by another process: its state dropped, said" \
	grep -q "pid $B is another process since its state was pinned: dropped" "$CW_ERR"
check "the one still running is adopted" grep -q "adopted .*: 1 process," "$CW_ERR"
check_eq "no series of the processes gone" "$(opened "$A")$(opened "$B")" ""
check_eq "the one still running goes on from 20" "$(opened "$D")" 20
wait_eq 5 3 anomalies drain_without_shutdown
check_eq "the anomalies of processes gone stay in the totals" \
	"$(anomalies drain_without_shutdown)" 3
SRV_PORT=$PORT_C first_drain
SRV_PORT=$PORT_D SRV_PID=$D second_drain "--exe"
check "a new process starts from nothing: its first drain is a first" \
	grep -q "\"kind\":\"drain_without_shutdown\".*\"pid\":$C," "$CW_LOG"
check "... while D's drain before the restart still counts" \
	grep -q "\"kind\":\"duplicate_drain\".*\"pid\":$D," "$CW_LOG"
stop "$CW_PID"

# ---- daemon mode: a changed target option keeps the counts -----------------
write_config() {
	printf 'listen: 127.0.0.1:%s\nalert_log: %s\ntargets:\n  - pid: %s\n    specs: [%s]\n' \
		"$CW_PORT" "$CW_LOG" "$SRV_PID" "$PWD/$SPEC" >"$TMP/connwatch.yaml"
}
# start_daemon [--fresh]: the config's one target attached. The log of
# the daemon before goes first: `2>FILE &` truncates FILE only once the
# new process runs, and a grep that came first read the old daemon's
# "probes attached", so the test loaded the server before the new child
# had attached (its connections uncounted: the zero hits of 6188b61).
start_daemon() {
	rm -f "$TMP/daemon.err"
	$CW --config "$TMP/connwatch.yaml" "$@" 2>"$TMP/daemon.err" &
	DAEMON=$!
	STARTED+=("$DAEMON")
	wait_for 15 grep -qs "probes attached" "$TMP/daemon.err" ||
		{ echo "the daemon's child did not attach:"; cat "$TMP/daemon.err"; }
}

CW_PORT=$(free_port)
CW_LOG=$TMP/daemon-alerts.jsonl

# --config --fresh: the children it starts first start over.
start_server fixed || exit 1
write_config
start_daemon
load --connections 5
wait_eq 5 5 opened "$SRV_PID"
check_eq "daemon: 5 opened" "$(opened "$SRV_PID")" 5
stop "$DAEMON"
start_daemon --fresh
check "--config --fresh: the child starts over" grep -q ": --fresh: starting over" "$TMP/daemon.err"
load --connections 3
wait_eq 5 3 opened "$SRV_PID"
check_eq "--config --fresh: counts from zero" "$(opened "$SRV_PID")" 3
stop "$DAEMON"

# A changed option (the alert log): the target's child restarts.
start_server buggy || exit 1
write_config
start_daemon
first_drain
check_eq "daemon: 20 opened" "$(opened "$SRV_PID")" 20
CHILD=$(pgrep -P "$DAEMON")
CW_LOG=$TMP/daemon-alerts-2.jsonl	# a changed option: every target's
write_config				# child restarts
kill -HUP "$DAEMON"
wait_for 15 grep -qs "adopted the state pinned" "$TMP/daemon.err"
check "daemon: the changed target's new child adopts its state" \
	grep -q "adopted the state pinned in $PINS/.*(1 drained)" "$TMP/daemon.err"
check "daemon: ... it is a new child" test "$(pgrep -P "$DAEMON")" != "$CHILD"
wait_eq 10 20 opened "$SRV_PID"
check_eq "daemon: opened goes on from 20" "$(opened "$SRV_PID")" 20
second_drain "daemon"
stop "$DAEMON"
