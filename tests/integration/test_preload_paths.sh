#!/bin/bash
# LD_PRELOAD mode, the paths around accept/close (issue #13) and the
# report socket's sender check (#11): close_range and closefrom per
# connection, raw syscalls (through syscall() and by a syscall
# instruction of the program's own), the shim's channel closed behind
# its back, a burst of double closes, a process killed with connections
# open, Go and a static binary behind a wrapper, a forged report.
# Each case: exactly 50 connections, one at a time.
. tests/lib.sh

SHIM=$PWD/build/libconnwatch-preload.so
SRVX=$FX/preload_paths_server

PL_SOCK=$TMP/c.sock
# "${SHIMMED[@]}" CMD...: CMD with the shim, reporting to the collector
# (env execs it: the pid start_fixture sees is CMD's).
SHIMMED=(env LD_PRELOAD="$SHIM" CONNWATCH_PRELOAD_SOCKET="$TMP/c.sock")

# counts PID: "opened/closed/open" of PID.
counts() {
	local p="pid=\"$1\""
	echo "$(metric connwatch_connections_opened_total "$p")/$(metric \
		connwatch_connections_closed_total "$p")/$(metric \
		connwatch_connections_open "$p")"
}

# serve50 MODE WANT: the fixture in MODE with the shim, 50 connections
# one at a time; its counts must come to WANT (opened/closed/open).
serve50() {
	start_fixture "${SHIMMED[@]}" $SRVX "$1" || exit 1
	check "$1 (preload): 50 connections served" \
		load --connections 50 --concurrency 1
	wait_eq 5 "$2" counts "$SRV_PID"
	check_eq "$1 (preload): opened/closed/open" "$(counts "$SRV_PID")" "$2"
}

# blind PID REASON: the blind gauge of PID for REASON (empty: none).
blind() { metric connwatch_preload_blind "pid=\"$1\",reason=\"$2\""; }

start_collector "$PL_SOCK" || exit 1

# ================= 1. shutdown + close, dup2 over the fd, close_range,
# closefrom, syscall(): 50/50/0 each
for mode in shutdown dup2 close_range closefrom syscall; do
	serve50 $mode 50/50/0
	check_eq "$mode (preload): not blind" \
		"$(scrape | grep -c "connwatch_preload_blind{.*pid=\"$SRV_PID\"")" 0
	check_eq "$mode (preload): its socket was never closed under it" \
		"$(metric connwatch_preload_channel_lost_total "pid=\"$SRV_PID\"")" 0
	stop "$SRV_PID"
	check "$mode (preload): the server ran to the end (its shim socket left alone)" \
		grep -q "served 50" "${SRV_ERR%.err}"
done

# ================= 2. a close by a syscall instruction: blind, said once
# (each unseen close is counted when its number is accepted again)
serve50 asm_close 50/49/1
wait_eq 5 1 blind "$SRV_PID" unseen_close
check_eq "asm_close (preload): connwatch_preload_blind{reason=unseen_close}" \
	"$(blind "$SRV_PID" unseen_close)" 1
check_eq "asm_close (preload): the shim says so once on the program's stderr" \
	"$(grep -c 'connwatch-preload: pid .*closed without close()' "$SRV_ERR")" 1
check_eq "asm_close (preload): connwatch says so once too" \
	"$(grep -c "pid $SRV_PID: the LD_PRELOAD shim is blind (unseen_close)" "$CW_ERR")" 1
stop "$SRV_PID"

# ================= 3. the shim's channel closed behind its back (a raw
# close_range over every fd above the connection's): remade, nothing lost
serve50 asm_range 50/50/0
wait_eq 10 10 alerts_of_kind double_close_fd
check_eq "asm_range (preload): every double close reached the log (10)" \
	"$(alerts_of_kind double_close_fd)" 10
check_eq "asm_range (preload): anomalies_total of its binary's target agrees" \
	"$(metric connwatch_anomalies_total 'target="preload_paths_server",kind="double_close_fd"')" 10
check_eq "asm_range (preload): the shim found its socket closed, once" \
	"$(metric connwatch_preload_channel_lost_total "pid=\"$SRV_PID\"")" 1
stop "$SRV_PID"

# ================= 3b. a child per connection (fork): the parent counts
# the connections, each child that closes its copy twice is reported
# under its own pid, on the connection it inherited
BEFORE=$(alerts_of_kind double_close_fd)
serve50 fork 50/50/0
wait_eq 10 $((BEFORE + 10)) alerts_of_kind double_close_fd
check_eq "fork (preload): 10 children's double closes alerted" \
	"$(($(alerts_of_kind double_close_fd) - BEFORE))" 10
check_eq "fork (preload): each under its child's pid, none under the parent's" \
	"$(tail -n 10 "$CW_LOG" | grep -c "\"pid\":$SRV_PID,")" 0
# (each child is gone before connwatch reads its maps: named with its
# parent's, which it had)
check_eq "fork (preload): ... each with the child's stack, named" \
	"$(tail -n 10 "$CW_LOG" | grep -c '"stack":\["serve_in_child+')" 10
stop "$SRV_PID"

# ================= 4. a burst of 1,000 double closes: all 1,000 in the
# log, as records or in their "folded" counts: the first CW_RATE_RECORDS
# (10) of a 10 s window are records with their stacks, the others fold
# into a record that says how many, as under eBPF
BEFORE=$(metric_sum connwatch_anomalies_total)
start_fixture "${SHIMMED[@]}" $SRVX burst 1000 || exit 1
check "burst (preload): the connection served" load --connections 1
# its_alerts: the burst process' lines and the events they stand for
its_alerts() {
	python3 -c 'import json, sys
ls = [json.loads(l) for l in open(sys.argv[1])]
ls = [l for l in ls if l["pid"] == int(sys.argv[2]) and l["kind"] == "double_close_fd"]
print(len(ls), sum(1 + l["folded"] for l in ls),
      sum(1 for l in ls if l.get("stack") and l["stack"][0].startswith("close_conn+")))' "$CW_LOG" "$SRV_PID"
}
wait_eq 20 1000 eval 'its_alerts | cut -d" " -f2'
read -r LINES EVENTS STACKED < <(its_alerts)
check_eq "burst (preload): the log accounts for all 1,000 (records + folded)" \
	"$EVENTS" 1000
check_eq "burst (preload): 10 records with their stacks, the rest folded in one more" \
	"$LINES $STACKED" "11 10"
check_eq "burst (preload): anomalies_total counts all 1,000" \
	"$(($(metric_sum connwatch_anomalies_total) - BEFORE))" 1000
check_eq "burst (preload): nothing lost" \
	"$(scrape | awk '$1 == "connwatch_events_lost_total" {print $2}')" 0
stop "$SRV_PID"

# ================= 5. killed with 50 connections open: closed by exit
serve50 hold 50/0/50
kill -KILL "$SRV_PID"
wait "$SRV_PID" 2>/dev/null
wait_eq 5 0 metric connwatch_target_up "pid=\"$SRV_PID\""
check_eq "killed (preload): its exit is seen (target_up 0)" \
	"$(metric connwatch_target_up "pid=\"$SRV_PID\"")" 0
check_eq "killed (preload): the open ones are closed by exit (50/50/0)" \
	"$(counts "$SRV_PID")" 50/50/0
check_eq "killed (preload): connwatch_connections_closed_by_exit_total 50" \
	"$(metric connwatch_connections_closed_by_exit_total "pid=\"$SRV_PID\"")" 50

# ================= 6. in a pid namespace of its own (a container): the
# shim says its own pid (1), the kernel the collector's view: both agree
unshare --pid --fork "${SHIMMED[@]}" $SRVX close_range >"$TMP/ns.out" 2>&1 &
NS_PID=$!
STARTED+=("$NS_PID")
wait_for 5 grep -qs listening "$TMP/ns.out" || { cat "$TMP/ns.out"; exit 1; }
SRV_PORT=$(sed -n 's/.*127.0.0.1:\([0-9]*\).*/\1/p' "$TMP/ns.out")
INNER=$(pgrep -P "$NS_PID")
check "pid namespace (preload): 50 connections served" \
	load --connections 50 --concurrency 1
wait_eq 5 50/50/0 counts "$INNER"
check_eq "pid namespace (preload): counted under its pid here ($INNER)" \
	"$(counts "$INNER")" 50/50/0
stop "$INNER"
wait "$NS_PID" 2>/dev/null

# ================= 7. a forged report: another pid than its sender's
forge() {	# forge SOCKET PID: a hello, then a double close, claiming PID
	python3 - "$1" "$2" <<'PY'
import socket, struct, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.connect(sys.argv[1])
pid = int(sys.argv[2])
hdr = lambda typ, size: struct.pack("<IHHII", 0x32505743, typ, size, pid, pid)
s.send(hdr(1, 16))
dc = struct.pack("<iiQII16Q16s", 5, 9, 1, 0, 0, *([0] * 16), b"forged")
s.send(hdr(2, 16 + len(dc)) + dc)
s.close()
PY
}
refused() { metric connwatch_preload_refused_total "reason=\"$1\""; }
BEFORE=$(alerts_of_kind double_close_fd)
forge "$PL_SOCK" 1
wait_eq 5 2 refused pid
check_eq "forged (preload): both messages claiming pid 1 are refused and counted (and nothing before)" \
	"$(refused pid)" 2
check_eq "forged (preload): no alert came of them" \
	"$(alerts_of_kind double_close_fd)" "$BEFORE"
check_eq "forged (preload): nothing else refused" \
	"$(refused malformed)/$(refused counts)/$(refused full)" 0/0/0

check_exposition "collect (every path above): promtool clean, no series twice"

# ================= 8. what the shim cannot enter: Go, a static binary
# exec'd by a wrapper: said once, and in the metric
start_fixture "${SHIMMED[@]}" $FX/go_tracker -mode fixed || exit 1
wait_eq 5 1 blind "$SRV_PID" go
check_eq "Go (preload): connwatch_preload_blind{reason=go}" "$(blind "$SRV_PID" go)" 1
check_eq "Go (preload): the shim says so once on its stderr" \
	"$(grep -c 'connwatch-preload: pid .*: a Go program' "$SRV_ERR")" 1
stop "$SRV_PID"

if gcc -static -O2 -o "$TMP/static_server" tests/fixtures/preload_paths_server.c \
	2>/dev/null; then
	printf '#!/bin/sh\nexec %s hold\n' "$TMP/static_server" >"$TMP/wrapper.sh"
	chmod +x "$TMP/wrapper.sh"
	start_fixture "${SHIMMED[@]}" "$TMP/wrapper.sh" || exit 1
	wait_eq 5 1 blind "$SRV_PID" static_exec
	check_eq "static behind a wrapper (preload): connwatch_preload_blind{reason=static_exec}" \
		"$(blind "$SRV_PID" static_exec)" 1
	check_eq "static behind a wrapper (preload): said once on stderr" \
		"$(grep -c 'connwatch-preload: pid .*execs a statically linked' "$SRV_ERR")" 1
	stop "$SRV_PID"
else
	fail "static behind a wrapper" "could not build a static binary with gcc -static"
fi

# run --preload refuses a Go program up front, pointing to eBPF
expect_error "run --preload on a Go program: refused in one line, pointing to eBPF" \
	"go_tracker is a Go program: .*run it without --preload \(eBPF\)" \
	$CW run --preload --preload-socket "$TMP/go.sock" \
	--listen "127.0.0.1:$(free_port)" --alert-log "$TMP/go.jsonl" \
	-- $FX/go_tracker -mode fixed
check "run --preload on a Go program: no socket made" test ! -e "$TMP/go.sock"
expect_error "run --preload on stripped Go (Debian's prometheus): refused" \
	"prometheus is a Go program" \
	$CW run --preload --preload-socket "$TMP/go.sock" \
	--listen "127.0.0.1:$(free_port)" --alert-log "$TMP/go.jsonl" \
	-- /usr/bin/prometheus --version

stop "$CW_PID"
check_eq "collect: a clean stop exits 0" "$?" 0

# The collector stopped inside a burst's window (the process still
# running): what was folded is written before it exits, not lost. It is
# paused (SIGSTOP) through the burst, as a busy collector falls behind:
# the socket fills and the shim holds the rest. Then the shim is slow
# (paused 0.5 s) when the collector stops: it waits for what the shim
# still holds (its page says how many).
PL_SOCK=$TMP/c2.sock
SHIMMED=(env LD_PRELOAD="$SHIM" CONNWATCH_PRELOAD_SOCKET="$PL_SOCK")
start_collector "$PL_SOCK" || exit 1
start_fixture "${SHIMMED[@]}" $SRVX burst 1000 || exit 1
kill -STOP "$CW_PID"
check "burst, collector stopped: the connection served" load --connections 1
sleep 1
kill -STOP "$SRV_PID"
kill -TERM "$CW_PID"	# taken first when it runs again
kill -CONT "$CW_PID"
sleep 0.5
kill -CONT "$SRV_PID"
wait "$CW_PID"
read -r LINES EVENTS STACKED < <(its_alerts)
check_eq "burst, collector stopped: the log accounts for all 1,000" \
	"$EVENTS" 1000
check_eq "burst, collector stopped: 10 records and the folded one" \
	"$LINES" 11
stop "$SRV_PID"
