#!/bin/bash
# Least privilege after attach: once its probes are in place connwatch
# keeps only what processes it meets later need: CAP_SYS_PTRACE and
# CAP_DAC_READ_SEARCH with --exe, the sockets preset and collect, `run`
# also CAP_KILL, and none with --pid alone (its maps and files were opened
# at attach); every other capability goes for good (bounding set,
# no_new_privs). --user NAME: it becomes that user too. Read from
# /proc/PID/status, and every mode still works: counts exact, alerts
# written, stacks named, new processes symbolized, hooks and pushes
# delivered, a SIGHUP reload attaches again, pins released.
. tests/lib.sh

# caps NUMBER...: the hex mask /proc/PID/status shows for those.
caps() { local m=0 c; for c; do m=$((m | 1 << c)); done; printf '%016x' $m; }
WATCH=$(caps 2 19)		# cap_dac_read_search, cap_sys_ptrace
RUN=$(caps 2 5 19)		# + cap_kill
ATTACH=$(caps 2 19 21 38 39)	# + cap_sys_admin, cap_perfmon, cap_bpf
SWITCH=$(caps 0 2 6 7 19 21 38 39)	# + cap_chown, cap_setgid, cap_setuid (user:)
SUPERVISOR=$(caps 0 2 5 6 7 19 21 38 39)	# + cap_kill
NONE=0000000000000000
NOBODY=$(id -u nobody)
status_of() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }
# uids PID: real, effective, saved, fs
uids() { awk '$1 == "Uid:" {print $2, $3, $4, $5}' "/proc/$1/status"; }
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
check_eq "attach --pid, no sockets preset: effective, permitted, bounding, ambient, no_new_privs: none" \
	"$(sets "$CW_PID")" "$NONE $NONE $NONE $NONE 1"
check_eq "attach: every thread, the Alertmanager and hook workers too" \
	"$(every_thread "$CW_PID")" "$NONE "
check "attach: the kept set in the startup log, with why" grep -q \
	"capabilities from now on: none (the rest dropped): --pid: its maps and mapped files were opened at attach" "$CW_ERR"
check_eq "attach: ... and in /metrics" \
	"$(metric connwatch_capabilities_info '')" 1
check "... labelled with it" sh -c "curl -sf http://127.0.0.1:$CW_PORT/metrics |
	grep -q 'connwatch_capabilities_info{kept=\"none\"} 1'"
two_drains
check_eq "attach --pid: the alerts, written after the drop" \
	"$(kinds "$CW_LOG" "$SRV_PID")" "drain_without_shutdown drain_rearmed duplicate_drain "
check_eq "attach --pid: counts exact" "$(opened "$SRV_PID")" 21
wait_for 5 sh -c "curl -sf http://127.0.0.1:$AM_PORT/api/v2/alerts | grep -q connwatch_duplicate_drain"
check "Alertmanager push after the drop" sh -c \
	"curl -sf http://127.0.0.1:$AM_PORT/api/v2/alerts | grep -q connwatch_duplicate_drain"
# each of the 3 runs rewrites the file: read it once the last has run
wait_eq 5 3 metric connwatch_alerts_pushed_total 'sink="hook"'
check_eq "an --on-alert hook gets no more than connwatch kept, not root's set" \
	"$(tr -s '\t\n' '  ' <"$TMP/hook.caps")" "CapEff: $NONE NoNewPrivs: 1 "
check "attach --pid: the stack named after the drop (its libc by the maps fd kept)" \
	grep -q "\"pid\":$SRV_PID,.*\"stack\":\[\"tracker_close_done+0x0 (tracker_server)\",.*(libc.so.6)\"\]" "$CW_LOG"
PINS=$(sed -n 's|.*state pinned in \(/sys/fs/bpf/connwatch/[^ ]*\)$|\1|p' "$CW_ERR")
stop "$CW_PID"
check "its process gone, the pins are removed on exit, after the drop" \
	test -n "$PINS" -a ! -e "$PINS"
stop "$AM_PID"

# ---- --user nobody, --pid: another uid, no capability ---------------------
expect_error "--user: an unknown user refused in one line, before attaching" \
	"^connwatch attach: --user: no user 'cw-no-such-user' on this system" \
	$CW attach --user cw-no-such-user --pid $$ --spec "$SPEC"
start_server buggy || exit 1
start_connwatch --user nobody --pid "$SRV_PID" --spec "$SPEC" || exit 1
check_eq "--user nobody: real, effective, saved and fs uid are nobody's" \
	"$(uids "$CW_PID")" "$NOBODY $NOBODY $NOBODY $NOBODY"
check_eq "--user nobody, --pid: no capability in any set, no_new_privs" \
	"$(sets "$CW_PID")" "$NONE $NONE $NONE $NONE 1"
check_eq "--user nobody: every thread" "$(every_thread "$CW_PID")" "$NONE "
check "--user nobody: said in the startup log" grep -q \
	"running as user nobody (uid $NOBODY, gid $(id -g nobody)) from now on" "$CW_ERR"
two_drains
check_eq "--user nobody: the bug caught, the alerts in the log" \
	"$(kinds "$CW_LOG" "$SRV_PID")" "drain_without_shutdown drain_rearmed duplicate_drain "
check "--user nobody: the stack named (tracker_server's functions, its libc)" \
	grep -q "\"pid\":$SRV_PID,.*\"stack\":\[\"tracker_close_done+0x0 (tracker_server)\",\"tracker_done+0x[0-9a-f]* (tracker_server)\",\"conn_thread+0x[0-9a-f]* (tracker_server)\",\"0x[0-9a-f]* (libc.so.6)\"\]" "$CW_LOG"
check_eq "--user nobody: /metrics serves, counts exact" "$(opened "$SRV_PID")" 21
PINS=$(sed -n 's|.*state pinned in \(/sys/fs/bpf/connwatch/[^ ]*\)$|\1|p' "$CW_ERR")
check_eq "--user nobody: its pins handed to it" "$(stat -c %U "$PINS" "${PINS%/*}" | tr '\n' ' ')" \
	"nobody nobody "
stop "$CW_PID"
check "--user nobody: its process gone, it removed its pins at exit" \
	test -n "$PINS" -a ! -e "$PINS"
# (the directory above them is removed by the next connwatch root starts,
# once empty: other tests' pins of this binary may be in it)
check_eq "... leaving nothing of nobody's in their parent" \
	"$(find "${PINS%/*}" -mindepth 1 -user nobody | wc -l)" 0
rmdir "${PINS%/*}" 2>/dev/null

# ---- attach --exe --user nobody: a process started after the drop ---------
start_connwatch --user nobody --exe "$PWD/$FX/tracker_server" --spec "$SPEC" \
	--preset sockets || exit 1
check_eq "attach --exe: reduced set" "$(status_of "$CW_PID" CapEff)" "$WATCH"
check_eq "attach --exe --user nobody: its uid" "$(uids "$CW_PID")" \
	"$NOBODY $NOBODY $NOBODY $NOBODY"
check "attach --exe: why, in the startup log" grep -q \
	"capabilities from now on: cap_dac_read_search,cap_sys_ptrace (the rest dropped): --exe: " "$CW_ERR"
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
start_run run --user nobody --spec "$SPEC" --fail-on critical \
	-- "$FX/tracker_server" --mode buggy || exit 1
wait_for 10 grep -qs listening "$OUT"
SRV_PORT=$(sed -n 's/.*127.0.0.1:\([0-9]*\).*/\1/p' "$OUT")
SRV_PID=$(pgrep -P "$RUN_PID" -x tracker_server)
check_eq "run: connwatch keeps cap_kill too (its command may change user)" \
	"$(status_of "$RUN_PID" CapEff)" "$RUN"
check_eq "run --user nobody: connwatch runs as nobody, its command as root" \
	"$(uids "$RUN_PID") $(uids "$SRV_PID")" "$NOBODY $NOBODY $NOBODY $NOBODY 0 0 0 0"
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
start_collector "$TMP/preload.sock" --user nobody || exit 1
COLLECT=$CW_PID
check_eq "collect: the symbolizer's two" "$(status_of "$COLLECT" CapEff)" "$WATCH"
check_eq "collect --user nobody: its uid" "$(uids "$COLLECT")" \
	"$NOBODY $NOBODY $NOBODY $NOBODY"
check_eq "collect --user nobody: /metrics serves" \
	"$(metric connwatch_capabilities_info 'kept="cap_dac_read_search,cap_sys_ptrace"')" 1
stop "$COLLECT"

# ---- --config, user: nobody: the supervisor keeps the attach set for its
# children, and what becoming nobody needs -------------------------------
start_server fixed || exit 1
CW_PORT=$(free_port)
write_config() {
	printf 'listen: 127.0.0.1:%s\nalert_log: %s\nuser: %s\ntargets:\n  - pid: %s\n    specs: [%s]\n' \
		"$CW_PORT" "$1" "$2" "$SRV_PID" "$PWD/$SPEC" >"$TMP/connwatch.yaml"
}
write_config "$TMP/daemon-0.jsonl" cw-no-such-user
expect_error "--config: an unknown user: refused in one line" \
	"connwatch\.yaml:3:.*user: no user 'cw-no-such-user' on this system" \
	$CW --config "$TMP/connwatch.yaml"
write_config "$TMP/daemon-1.jsonl" nobody
$CW --config "$TMP/connwatch.yaml" 2>"$TMP/daemon.err" &
DAEMON=$!
STARTED+=("$DAEMON")
wait_for 15 grep -qs "SIGHUP reloads" "$TMP/daemon.err"
CHILD=$(pgrep -P "$DAEMON")
check_eq "--config: the supervisor uses cap_kill (its children are nobody's), keeps what attaching and user: need for them" \
	"$(sets "$DAEMON")" "$(caps 5) $SUPERVISOR $SUPERVISOR $SWITCH 1"
check_eq "--config: the supervisor stays root" "$(uids "$DAEMON")" "0 0 0 0"
check_eq "--config: its child, attached (--pid): none, not even ambient" \
	"$(status_of "$CHILD" CapEff) $(status_of "$CHILD" CapPrm) $(status_of "$CHILD" CapAmb)" \
	"$NONE $NONE $NONE"
check_eq "--config: its child runs as nobody" "$(uids "$CHILD")" \
	"$NOBODY $NOBODY $NOBODY $NOBODY"
load --connections 5
wait_eq 5 5 opened "$SRV_PID"
check_eq "--config: counts exact" "$(opened "$SRV_PID")" 5
write_config "$TMP/daemon-2.jsonl" nobody	# a changed option: a new child
kill -HUP "$DAEMON"
wait_for 15 sh -c "[ \$(grep -c 'capabilities from now on' $TMP/daemon.err) -ge 2 ]"
check "--config: SIGHUP's new child attaches again" \
	test "$(grep -c 'of 6 probes attached' "$TMP/daemon.err")" -eq 2
check_eq "--config: ... and drops again, as nobody" \
	"$(status_of "$(pgrep -P "$DAEMON")" CapEff) $(uids "$(pgrep -P "$DAEMON")")" \
	"$NONE $NOBODY $NOBODY $NOBODY $NOBODY"
load --connections 5
wait_eq 5 10 opened "$SRV_PID"
check_eq "--config: counts go on after the reload" "$(opened "$SRV_PID")" 10
stop "$DAEMON"
