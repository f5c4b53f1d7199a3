#!/bin/bash
# Daemon mode: `connwatch --config FILE` watches several targets behind
# one /metrics; SIGHUP reloads, keeping unchanged targets (and counts).
. tests/lib.sh

start_server fixed || exit 1
A=$SRV_PID PORT_A=$SRV_PORT
start_fixture $FX/double_close_server 5 || exit 1
DC=$SRV_PID PORT_DC=$SRV_PORT

CW_PORT=$(free_port)
CW_LOG=$TMP/alerts.jsonl
write_config() {	# write_config TARGET-YAML...
	{
		printf 'listen: 127.0.0.1:%s\nalert_log: %s\ntargets:\n' "$CW_PORT" "$CW_LOG"
		printf '%s\n' "$@"
	} >"$TMP/connwatch.yaml"
}
TARGET_A="  - pid: $A
    specs: [$PWD/$SPEC]"
TARGET_DC="  - pid: $DC
    target: edge
    exited_grace: 5
    max_keys: 4096
    max_processes: 64"	# no presets: chosen for its binary (sockets)
write_config "$TARGET_A" "$TARGET_DC"
$CW --config "$TMP/connwatch.yaml" 2>"$TMP/daemon.err" &
DAEMON=$!
STARTED+=("$DAEMON")
ready() { scrape | grep -q "pid=\"$1\""; }
wait_for 15 ready "$A" && wait_for 15 ready "$DC"
check "one endpoint serves both targets" ready "$A"
check "a target's exited_grace, max_keys, max_processes reach its child" \
	pgrep -P "$DAEMON" -f "attach .*--pid $DC .*--exited-grace 5 --max-keys 4096 --max-processes 64"

SRV_PORT=$PORT_A load --connections 30 --concurrency 4
SRV_PORT=$PORT_DC load --connections 10 --concurrency 1
wait_eq 5 30 metric connwatch_counter_decrements_total "pid=\"$A\""
wait_eq 5 10 metric connwatch_connections_closed_total "pid=\"$DC\""
wait_eq 5 2 metric connwatch_anomalies_total 'target="edge",kind="double_close_fd"'
wait_for 5 grep -qs '"kind":"double_close_fd"' "$CW_LOG"
check_eq "target 1 (spec, by pid): exact counts" \
	"$(metric connwatch_counter_increments_total "pid=\"$A\"")" 30
check_eq "target 2 (sockets preset): exact counts" \
	"$(metric connwatch_connections_closed_total "pid=\"$DC\"")" 10
check_eq "target 2 (target: edge): its double closes (every 5th)" \
	"$(metric connwatch_anomalies_total 'target="edge",kind="double_close_fd"')" 2
check_eq "target 1 is named by its spec's target:, target 2 by target:" \
	"$(scrape | grep '^connwatch_target_up{' | sort)" \
	"$(printf 'connwatch_target_up{target="edge",pid="%s"} 1\nconnwatch_target_up{target="tracker",pid="%s"} 1' "$DC" "$A" | sort)"
check "alerts of every target go to the one alert log" \
	grep -q '"kind":"double_close_fd"' "$CW_LOG"
scrape >"$TMP/m.txt"
check_eq "each metric family is declared once" \
	"$(grep -c '^# TYPE connwatch_connections_opened_total ' "$TMP/m.txt")" 1
check_eq "no series twice (same series from two targets are merged)" \
	"$(grep -v '^#' "$TMP/m.txt" | awk '{print $1}' | sort | uniq -d | wc -l)" 0
check_eq "build_info once, 1" "$(metric connwatch_build_info version)" 1
check_exposition "the merged exposition: promtool clean, no series twice"

# SIGHUP: a third target added, the sockets one removed, the first kept.
CHILD_A=$(pgrep -P "$DAEMON" -f "attach --listen .* --pid $A ")
start_server fixed || exit 1
B=$SRV_PID PORT_B=$SRV_PORT
TARGET_B="  - pid: $B
    presets: [sockets]"
write_config "$TARGET_A" "$TARGET_B"
kill -HUP "$DAEMON"
wait_for 15 ready "$B"
check "reload: the new target is served" ready "$B"
check_eq "reload: the unchanged target kept its child" \
	"$(pgrep -P "$DAEMON" -f "attach --listen .* --pid $A ")" "$CHILD_A"
check_eq "reload: ... and its counts" \
	"$(metric connwatch_counter_increments_total "pid=\"$A\"")" 30
wait_for 5 sh -c "! curl -sf http://127.0.0.1:$CW_PORT/metrics | grep -q 'pid=\"$DC\"'"
check "reload: the removed target is gone" sh -c "! curl -sf http://127.0.0.1:$CW_PORT/metrics | grep -q 'pid=\"$DC\"'"
SRV_PORT=$PORT_B load --connections 12 --concurrency 4
wait_eq 5 12 metric connwatch_connections_closed_total "pid=\"$B\""
check_eq "reload: the new target counts" \
	"$(metric connwatch_connections_closed_total "pid=\"$B\"")" 12

printf 'targets:\n  - pid: 1\n    presetz: [x]\n' >"$TMP/connwatch.yaml"
kill -HUP "$DAEMON"
wait_for 5 grep -qs "reload: .*keeping the running configuration" "$TMP/daemon.err"
check "a bad reload keeps the running configuration" \
	grep -q "connwatch.yaml:3: target: unknown key 'presetz'" "$TMP/daemon.err"
check "... and goes on serving" ready "$A"

# One process in two entries (by pid twice, or by pid and by its exe:)
# would be two targets: refused; a reload to it keeps what runs. (Two
# pids of one binary, $A and $B above, are two processes: accepted.)
write_config "$TARGET_A" "$TARGET_B" "  - pid: $A
    target: again
    presets: [sockets]"
kill -HUP "$DAEMON"
wait_for 5 grep -qs "reload: .*watch one process" "$TMP/daemon.err"
check "a reload to one process in two entries: refused, naming both" \
	grep -q "reload: .*connwatch.yaml:8: target 'again' (pid $A) and line 4's entry (pid $A) watch one process: one process is one target; put both in one entry; keeping the running configuration" "$TMP/daemon.err"
check_eq "... the running configuration kept: one target_up for the process" \
	"$(scrape | grep -c "^connwatch_target_up{target=\"tracker\",pid=\"$A\"} 1$")" 1
check_eq "... no child started for it" \
	"$(pgrep -P "$DAEMON" -f "attach .*--pid $A " | wc -l)" 1

# Its log says what is true of the daemon: one /metrics, its own port;
# the children's internal ports and "Ctrl-C to detach" are theirs.
check "log: each target says it is attached, served on the daemon's /metrics" \
	grep -q "connwatch: target pid $A: attached, served on the daemon's /metrics" "$TMP/daemon.err"
check_eq "log: no child's 'Ctrl-C to detach'" "$(grep -c 'Ctrl-C' "$TMP/daemon.err")" 0
check_eq "log: the one metrics address is the daemon's" \
	"$(grep -o 'metrics on http://[0-9.:]*' "$TMP/daemon.err" | sort -u)" \
	"metrics on http://127.0.0.1:$CW_PORT"
check "log: a target with no presets got those that fit, said why" \
	grep -q "connwatch: target pid $DC: no --preset or --spec: chose sockets: not a Go program" "$TMP/daemon.err"
check "log: a child's lines name their target" \
	grep -q "connwatch: target pid $A: .*probes attached" "$TMP/daemon.err"

stop "$DAEMON"
check_eq "SIGTERM: the daemon stops its children and exits 0" "$?" 0
check_eq "no child left" "$(pgrep -P "$DAEMON" | wc -l)" 0

# Bad config files: one line, non-zero exit.
printf 'targets:\n  - presets: [sockets]\n' >"$TMP/bad1.yaml"
expect_error "a target with no pid or exe" "bad1.yaml:2: target: give exactly one of exe or pid" \
	$CW --config "$TMP/bad1.yaml"
printf 'targets:\n  - pid: 1\n    exe: /bin/true\n    presets: [sockets]\n' >"$TMP/bad2.yaml"
expect_error "both pid and exe" "bad2.yaml:2: target: give exactly one of exe or pid" \
	$CW --config "$TMP/bad2.yaml"
printf 'targets:\n  - exe: /bin/true\n    presets: [socket]\n' >"$TMP/bad3.yaml"
expect_error "an unknown preset, with line" "bad3.yaml:3: unknown preset 'socket'" \
	$CW --config "$TMP/bad3.yaml"
expect_error "a missing file" "nope.yaml: No such file" $CW --config "$TMP/nope.yaml"
printf 'targets:\n  - pid: %s\n    target: a\n  - pid: %s\n    target: b\n' "$A" "$A" >"$TMP/bad5.yaml"
expect_error "one pid in two entries: refused, naming both" \
	"bad5.yaml:4: target 'b' \(pid $A\) and line 2's target 'a' \(pid $A\) watch one process: one process is one target" \
	$CW --config "$TMP/bad5.yaml"
printf 'targets:\n  - exe: %s\n  - pid: %s\n    target: b\n' "$PWD/$FX/tracker_server" "$A" >"$TMP/bad6.yaml"
expect_error "a pid an exe: entry covers: refused, naming both" \
	"bad6.yaml:3: target 'b' \(pid $A\) and line 2's entry \(exe $PWD/$FX/tracker_server\) watch one process" \
	$CW --config "$TMP/bad6.yaml"
printf 'targets:\n  - exe: %s\n    target: a\n  - exe: %s\n' "$FX/tracker_server" "./$FX/tracker_server" >"$TMP/bad7.yaml"
expect_error "one binary by two paths: refused" \
	"bad7.yaml:4: entry \(exe ./$FX/tracker_server\) and line 2's target 'a' \(exe $FX/tracker_server\) watch one process" \
	$CW --config "$TMP/bad7.yaml"
printf 'targets:\n  - exe: /bin/true\n    target: ""\n    presets: [sockets]\n' >"$TMP/bad4.yaml"
expect_error "an empty target:, with line" "bad4.yaml:3: target '': a name of 1 to 63 bytes" \
	$CW --config "$TMP/bad4.yaml"
