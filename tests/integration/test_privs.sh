#!/bin/bash
# Least privilege after attach: once its probes are in place connwatch
# keeps CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH (its symbolizer), `run`
# also CAP_KILL, and drops every other capability for good (bounding set,
# no_new_privs). Read from /proc/PID/status, and every mode still works:
# counts exact, alerts written, new processes symbolized, hooks and pushes
# delivered, a SIGHUP reload attaches again, pins released.
. tests/lib.sh

# caps NUMBER...: the hex mask /proc/PID/status shows for those.
caps() { local m=0 c; for c; do m=$((m | 1 << c)); done; printf '%016x' $m; }
WATCH=$(caps 2 19)		# cap_dac_read_search, cap_sys_ptrace
RUN=$(caps 2 5 19)		# + cap_kill
ATTACH=$(caps 2 19 21 38 39)	# + cap_sys_admin, cap_perfmon, cap_bpf
status_of() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }
# sets PID: effective permitted bounding ambient no_new_privs
sets() { echo "$(status_of "$1" CapEff) $(status_of "$1" CapPrm)" \
	"$(status_of "$1" CapBnd) $(status_of "$1" CapAmb) $(status_of "$1" NoNewPrivs)"; }
# every_thread PID: the distinct CapEff of its threads (capabilities are
# per thread: one started before the drop would keep them all).
every_thread() { cat /proc/"$1"/task/*/status | awk '$1 == "CapEff:" {print $2}' |
	sort -u | tr '\n' ' '; }
opened() { metric connwatch_connections_opened_total "pid=\"$1\""; }
kinds() { grep -s "\"pid\":$2," "$1" | grep -o '"kind":"[a-z_]*"' |
	cut -d'"' -f4 | tr '\n' ' '; }
# the buggy tracker's two drains: the precursor, then the abort.
two_drains() {
	load --connections 20 --concurrency 20 --hold-ms 300
	wait_for 5 grep -qs drain_without_shutdown "$CW_LOG"
	load --connections 1 --hold-ms 300
	{ wait "$SRV_PID"; } 2>/dev/null
	wait_for 5 grep -qs duplicate_drain "$CW_LOG"
}

# ---- attach --pid, /metrics, Alertmanager, --on-alert ----------------------
start_alertmanager || { fail "alertmanager did not start" "$(tail -3 "$TMP/am/log")"; exit 1; }
start_server buggy || exit 1
start_connwatch --pid "$SRV_PID" --spec "$SPEC" \
	--alertmanager "http://127.0.0.1:$AM_PORT" \
	--on-alert "grep -E '^(CapEff|NoNewPrivs)' /proc/self/status >$TMP/hook.caps" ||
	exit 1
check_eq "attach --pid: effective, permitted, bounding, ambient, no_new_privs" \
	"$(sets "$CW_PID")" "$WATCH $WATCH $WATCH 0000000000000000 1"
check_eq "attach: every thread, the Alertmanager and hook workers too" \
	"$(every_thread "$CW_PID")" "$WATCH "
check "attach: the kept set in the startup log" grep -q \
	"capabilities from now on: cap_dac_read_search,cap_sys_ptrace (the rest dropped)" "$CW_ERR"
check_eq "attach: ... and in /metrics" \
	"$(metric connwatch_capabilities_info '')" 1
check "... labelled with it" sh -c "curl -sf http://127.0.0.1:$CW_PORT/metrics |
	grep -q 'connwatch_capabilities_info{kept=\"cap_dac_read_search,cap_sys_ptrace\"} 1'"
two_drains
check_eq "attach --pid: the alerts, written after the drop" \
	"$(kinds "$CW_LOG" "$SRV_PID")" "drain_without_shutdown drain_rearmed duplicate_drain "
check_eq "attach --pid: counts exact" "$(opened "$SRV_PID")" 21
wait_for 5 sh -c "curl -sf http://127.0.0.1:$AM_PORT/api/v2/alerts | grep -q connwatch_duplicate_drain"
check "Alertmanager push after the drop" sh -c \
	"curl -sf http://127.0.0.1:$AM_PORT/api/v2/alerts | grep -q connwatch_duplicate_drain"
wait_for 5 test -s "$TMP/hook.caps"
# (cap_sys_ptrace lets a hook gcore the target --on-critical stop froze)
check_eq "an --on-alert hook gets no more than connwatch kept, not root's set" \
	"$(tr -s '\t\n' '  ' <"$TMP/hook.caps")" "CapEff: $WATCH NoNewPrivs: 1 "
PINS=$(sed -n 's|.*state pinned in \(/sys/fs/bpf/connwatch/[^ ]*\)$|\1|p' "$CW_ERR")
stop "$CW_PID"
check "its process gone, the pins are removed on exit, after the drop" \
	test -n "$PINS" -a ! -e "$PINS"
stop "$AM_PID"

# ---- attach --exe: a process started after the drop ------------------------
start_connwatch --exe "$PWD/$FX/tracker_server" --spec "$SPEC" --preset sockets ||
	exit 1
check_eq "attach --exe: reduced set" "$(status_of "$CW_PID" CapEff)" "$WATCH"
start_server buggy || exit 1
two_drains
check_eq "--exe: the new process' alerts" \
	"$(kinds "$CW_LOG" "$SRV_PID")" "drain_without_shutdown drain_rearmed duplicate_drain "
check_eq "--exe: its counts exact" "$(metric connwatch_connections_opened_total \
	"source=\"tracker.yaml\",pid=\"$SRV_PID\"")" 21
check_eq "--exe, sockets preset: its accepts counted" \
	"$(metric connwatch_connections_opened_total "source=\"sockets\",pid=\"$SRV_PID\"")" 21
# Its /proc/PID/maps is read after the drop: a root process with every
# capability needs CAP_SYS_PTRACE (without it this frame is misnamed).
check "--exe: the new process' libc frame named by its mapping" \
	grep -q "\"pid\":$SRV_PID,.*\"stack\":\[.*(libc.so.6)\"\]" "$CW_LOG"
stop "$CW_PID"

# ---- --on-critical stop -----------------------------------------------------
start_server buggy || exit 1
start_connwatch --pid "$SRV_PID" --spec "$SPEC" --on-critical stop || exit 1
load --connections 20 --concurrency 20 --hold-ms 300
wait_for 5 grep -qs drain_without_shutdown "$CW_LOG"
load --connections 1 --hold-ms 300 &
LOAD=$!
wait_for 5 grep -qs '^State:.*stopped' "/proc/$SRV_PID/status"
check "--on-critical stop: the target is stopped at the duplicate drain" \
	grep -q '^State:.*stopped' "/proc/$SRV_PID/status"
wait_for 5 grep -qs duplicate_drain "$CW_LOG"
check "... and the alert written" grep -q duplicate_drain "$CW_LOG"
kill -KILL "$SRV_PID"
wait "$LOAD"
stop "$CW_PID"

# ---- run: the command keeps its own privileges ------------------------------
CW_PORT=$(free_port)
CW_LOG=$TMP/run.jsonl
$CW run --spec "$SPEC" --listen "127.0.0.1:$CW_PORT" --alert-log "$CW_LOG" \
	--fail-on critical -- "$FX/tracker_server" --mode buggy \
	>"$TMP/run.out" 2>"$TMP/run.err" &
RUN_PID=$!
STARTED+=("$RUN_PID")
wait_for 10 grep -qs listening "$TMP/run.out"
SRV_PORT=$(sed -n 's/.*127.0.0.1:\([0-9]*\).*/\1/p' "$TMP/run.out")
SRV_PID=$(pgrep -P "$RUN_PID" -x tracker_server)
check_eq "run: connwatch keeps cap_kill too (its command may change user)" \
	"$(status_of "$RUN_PID" CapEff)" "$RUN"
check_eq "run: the command keeps every capability it was started with" \
	"$(status_of "$SRV_PID" CapEff)" "$(status_of $$ CapEff)"
load --connections 20 --concurrency 20 --hold-ms 300
wait_for 5 grep -qs drain_without_shutdown "$CW_LOG"
load --connections 1 --hold-ms 300
wait "$RUN_PID"
check_eq "run --fail-on critical: exit 3 after the duplicate drain" "$?" 3
check_eq "run: the alerts" "$(kinds "$CW_LOG" "$SRV_PID")" \
	"drain_without_shutdown drain_rearmed duplicate_drain "

# ---- collect: LD_PRELOAD reports, no eBPF ----------------------------------
CW_PORT=$(free_port)
$CW collect --preload-socket "$TMP/preload.sock" --listen "127.0.0.1:$CW_PORT" \
	--alert-log "$TMP/collect.jsonl" 2>"$TMP/collect.err" &
COLLECT=$!
STARTED+=("$COLLECT")
wait_for 10 grep -qs "metrics on" "$TMP/collect.err"
check_eq "collect: the symbolizer's two" "$(status_of "$COLLECT" CapEff)" "$WATCH"
stop "$COLLECT"

# ---- --config: the supervisor keeps the attach set for its children ---------
start_server fixed || exit 1
CW_PORT=$(free_port)
write_config() {
	printf 'listen: 127.0.0.1:%s\nalert_log: %s\ntargets:\n  - pid: %s\n    specs: [%s]\n' \
		"$CW_PORT" "$1" "$SRV_PID" "$PWD/$SPEC" >"$TMP/connwatch.yaml"
}
write_config "$TMP/daemon-1.jsonl"
$CW --config "$TMP/connwatch.yaml" 2>"$TMP/daemon.err" &
DAEMON=$!
STARTED+=("$DAEMON")
wait_for 15 grep -qs "SIGHUP reloads" "$TMP/daemon.err"
CHILD=$(pgrep -P "$DAEMON")
check_eq "--config: the supervisor uses none, keeps what attaching needs for its children" \
	"$(sets "$DAEMON")" "0000000000000000 $ATTACH $ATTACH $ATTACH 1"
check_eq "--config: its child, attached, the reduced set" \
	"$(status_of "$CHILD" CapEff) $(status_of "$CHILD" CapAmb)" "$WATCH 0000000000000000"
load --connections 5
wait_eq 5 5 opened "$SRV_PID"
check_eq "--config: counts exact" "$(opened "$SRV_PID")" 5
write_config "$TMP/daemon-2.jsonl"	# a changed option: a new child
kill -HUP "$DAEMON"
wait_for 15 sh -c "[ \$(grep -c 'capabilities from now on' $TMP/daemon.err) -ge 2 ]"
check "--config: SIGHUP's new child attaches again" \
	test "$(grep -c 'of 6 probes attached' "$TMP/daemon.err")" -eq 2
check_eq "--config: ... and drops again" \
	"$(status_of "$(pgrep -P "$DAEMON")" CapEff)" "$WATCH"
load --connections 5
wait_eq 5 10 opened "$SRV_PID"
check_eq "--config: counts go on after the reload" "$(opened "$SRV_PID")" 10
stop "$DAEMON"
