#!/bin/bash
# The sockets preset (eBPF) sees every way a socket is accepted and
# closed (issue #13): one small C server per pattern (sock_paths_server),
# exactly 50 connections one at a time, then opened/closed/open must be
# 50/50/0 with the right double_close_fd alerts; a process that ends
# with 50 open has them closed by exit, an exec that closes them is
# found by the sweep of /proc/PID/fd.
. tests/lib.sh

SPS=$FX/sock_paths_server

# swept_since T: a sweep that began after T (date +%s.%N) has completed.
# (now is read before the scrape, so that sweep began after now - lag.)
swept_since() {
	local now lag
	now=$(date +%s.%N)
	lag=$(metric connwatch_socket_sweep_lag_seconds target=)
	awk -v lag="${lag:--1}" -v t="$1" -v now="$now" \
		'BEGIN { exit !(lag >= 0 && now - lag > t) }'
}

# attach_to NAME ARGS...: a new sock_paths_server ARGS, connwatch on it.
attach_to() {
	local name=$1
	shift
	start_fixture $SPS "$@" || { fail "$name: server started"; return 1; }
	start_connwatch --pid "$SRV_PID" --preset sockets ||
		{ fail "$name: connwatch attached"; stop "$SRV_PID"; return 1; }
	P="pid=\"$SRV_PID\""
	check "$name: 50 connections served" \
		load --connections 50 --concurrency 1
}

# counted NAME ALERTS: 50/50/0, every duration, ALERTS double_close_fd.
counted() {
	local name=$1 alerts=$2
	wait_eq 5 50 metric connwatch_connections_closed_total "$P"
	check_counts "$name: " "$SRV_PID" 50 connections_opened_total \
		connections_closed_total connection_duration_seconds_count
	check_eq "$name: open == 0" "$(metric connwatch_connections_open "$P")" 0
	wait_eq 5 "$alerts" alerts_of_kind double_close_fd
	check_eq "$name: $alerts double_close_fd alerts" \
		"$(alerts_of_kind double_close_fd)" "$alerts"
	check_eq "$name: anomalies_total agrees" \
		"$(metric_sum connwatch_anomalies_total)" "$alerts"
}

# path_case NAME ALERTS ARGS...: one pattern, attach, load, count, stop.
path_case() {
	local name=$1 alerts=$2
	shift 2
	attach_to "$name" "$@" || return
	counted "$name" "$alerts"
	stop "$CW_PID"
	stop "$SRV_PID"
}

# The multishot accepts are armed before connwatch attaches: learnt at
# their next wakeup (io_uring_task_add), not at their submission.
path_case "io_uring accept, io_uring close" 0 --accept uring --close uring
path_case "io_uring accept, close()" 0 --accept uring --close libc
path_case "multishot accept, io_uring close" 0 --accept multishot --close uring
path_case "multishot accept, close()" 0 --accept multishot --close libc
path_case "accept(), io_uring close" 0 --accept libc --close uring
path_case "close_range(fd, fd, 0)" 0 --close close_range
path_case "closefrom(fd)" 0 --close closefrom
path_case "dup2(/dev/null, fd), number kept" 0 --close dup2
path_case "dup3(/dev/null, fd, O_CLOEXEC), number kept" 0 --close dup3
path_case "dup2(/dev/null, fd), then close(fd) (every 5th): no double close" 0 \
	--close dup2 --again libc --every 5
path_case "io_uring close twice (every 5th)" 10 \
	--accept uring --close uring --again uring --every 5
path_case "io_uring close, then close() (every 5th)" 10 \
	--close uring --again libc --every 5
path_case "close(), then io_uring close (every 5th)" 10 \
	--accept multishot --close libc --again uring --every 5
check "the io_uring double close's stack names the function" \
	grep -q '"kind":"double_close_fd".*"stack":\[[^]]*close_conn_again+' "$CW_LOG"

# --- ends with 50 open, on its own: closed by exit
attach_to "exit with 50 open" --close hold --exit-after 50 && {
	wait_eq 5 0 metric connwatch_target_up "$P"
	counted "exit with 50 open" 0
	check_eq "exit with 50 open: closed_by_exit == 50" \
		"$(metric connwatch_connections_closed_by_exit_total "$P")" 50
	check_eq "exit with 50 open: closed_by_sweep == 0" \
		"$(metric connwatch_connections_closed_by_sweep_total "$P")" 0
	stop "$CW_PID"
}

# held_then_killed NAME ARGS...: a server holding its 50 connections open;
# the sweep leaves them open; a crash (SIGKILL) closes them by exit.
held_then_killed() {
	local name=$1 t
	shift
	attach_to "$name" --close hold "$@" || return
	t=$(date +%s.%N)
	check "$name: a sweep ran after the load" wait_for 10 swept_since "$t"
	check_eq "$name: still 50 open after a sweep" \
		"$(metric connwatch_connections_open "$P")" 50
	check_eq "$name: the sweep closed none" \
		"$(metric connwatch_connections_closed_by_sweep_total "$P")" 0
	kill -KILL "$SRV_PID"
	wait "$SRV_PID" 2>/dev/null
	wait_eq 5 0 metric connwatch_connections_open "$P"
	counted "$name, then killed" 0
	check_eq "$name, then killed: closed_by_exit == 50" \
		"$(metric connwatch_connections_closed_by_exit_total "$P")" 50
	check_eq "$name, then killed: target_up == 0" \
		"$(metric connwatch_target_up "$P")" 0
	stop "$CW_PID"
}

held_then_killed "held open"
# The main thread's fd table is gone with it (a zombie leader): the
# sweep looks through a thread that runs.
held_then_killed "held open, the main thread ended" --thread

# --- an exec closes the 50 (close-on-exec): no event, the sweep finds it
attach_to "exec with 50 open" --close hold --exec-after 50 && {
	wait_eq 10 50 metric connwatch_connections_closed_by_sweep_total "$P"
	counted "exec with 50 open" 0
	check_eq "exec with 50 open: closed_by_sweep == 50" \
		"$(metric connwatch_connections_closed_by_sweep_total "$P")" 50
	check_eq "exec with 50 open: closed_by_exit == 0" \
		"$(metric connwatch_connections_closed_by_exit_total "$P")" 0
	check_eq "exec with 50 open: the process still runs" \
		"$(metric connwatch_target_up "$P")" 1
	check_exposition "exec with 50 open: /metrics is valid exposition"
	stop "$CW_PID"
	stop "$SRV_PID"
}

# --- --exe: a process of the binary started later joins at its first
# accept, an io_uring one too
start_connwatch --exe "$SPS" --preset sockets || fail "--exe: connwatch attached"
start_fixture $SPS --accept multishot --close uring --again uring --every 5 &&
	P="pid=\"$SRV_PID\"" && {
	check "--exe, started later, multishot accept, io_uring close twice: 50 connections served" \
		load --connections 50 --concurrency 1
	counted "--exe, started later, multishot accept, io_uring close twice" 10
	stop "$SRV_PID"
}

# --- --exe: a new process gets the pid of one still in its grace (pid_max
# is 32768 here: a busy host wraps in minutes). It shares the series until
# the fold, and is watched as any: its closes counted as they happen, not
# by the sweep, and its double closes caught.
REUSED=$SRV_PID
wait_eq 5 0 metric connwatch_target_up "$P"
for try in 1 2 3 4 5; do
	NEXT_PID=$REUSED start_fixture $SPS --close libc --again libc --every 5 ||
		break
	[ "$SRV_PID" == "$REUSED" ] && break
	stop "$SRV_PID"
done
if [ "$SRV_PID" == "$REUSED" ]; then
	check "pid reused: 50 connections served" \
		load --connections 50 --concurrency 1
	wait_eq 5 100 metric connwatch_connections_closed_total "$P"
	check_counts "pid reused: " "$REUSED" 100 connections_opened_total \
		connections_closed_total
	check_eq "pid reused: closed at close, not by the sweep" \
		"$(metric connwatch_connections_closed_by_sweep_total "$P")" 0
	# the first's 10, then its own (their records may fold into the
	# first's: the rate limit is per pid and fd)
	check_eq "pid reused: its 10 double closes caught" \
		"$(metric connwatch_anomalies_total 'kind="double_close_fd"')" 20
	wait_eq 5 1 metric connwatch_target_up "$P"
	check_eq "pid reused: up again" "$(metric connwatch_target_up "$P")" 1
	stop "$SRV_PID"
	exits() { grep -c "pid $REUSED (sock_paths_serv) " "$CW_ERR"; }
	wait_eq 5 2 exits
	check_eq "pid reused: both exits told" "$(exits)" 2
else
	fail "pid reused: pid $REUSED given again (5 tries)"
fi
stop "$CW_PID"

# --- sock_slots (CW_SOCK_SLOTS): the tgids equal modulo 16384 share a
# slot, which names one watched process; the others ask sock_targets.
# Pids are handed out with ns_last_pid.
SLOTS=16384

# start_at PID ARGS...: sock_paths_server ARGS as pid PID (5 tries: a
# fork elsewhere on the host may take it first).
start_at() {
	local want=$1 try
	shift
	for try in 1 2 3 4 5; do
		NEXT_PID=$want start_fixture $SPS "$@" || return 1
		[ "$SRV_PID" == "$want" ] && return 0
		stop "$SRV_PID"
	done
	fail "pid $want given (5 tries)"
	return 1
}

# free_pair: a pid A with A and A + SLOTS both free, below pid_max.
free_pair() {
	local a max
	max=$(cat /proc/sys/kernel/pid_max)
	for ((a = 3001; a < SLOTS && a + SLOTS < max; a += 7)); do
		[ -e /proc/$a ] || [ -e /proc/$((a + SLOTS)) ] ||
			{ echo $a; return 0; }
	done
	return 1
}

# Two watched processes on one slot (--exe: each joins at its first
# accept, the second takes the slot): both counted exactly, before and
# after, and the double closes of the one the slot no longer names caught.
if A=$(free_pair); then
	start_connwatch --exe "$SPS" --preset sockets ||
		fail "slot shared: connwatch attached"
	if start_at "$A" --close libc --again libc --every 5; then
		PA=$SRV_PID PORT_A=$SRV_PORT
		check "slot shared: pid $PA, 50 connections served" \
			load --connections 50 --concurrency 1
		if start_at $((A + SLOTS)) --close libc --again libc --every 5; then
			PB=$SRV_PID
			check "slot shared: pid $PB, 50 connections served" \
				load --connections 50 --concurrency 1
			SRV_PORT=$PORT_A
			check "slot shared: pid $PA again, 50 connections served" \
				load --connections 50 --concurrency 1
			wait_eq 5 100 metric connwatch_connections_closed_total "pid=\"$PA\""
			check_counts "slot shared, the first: " "$PA" 100 \
				connections_opened_total connections_closed_total
			check_counts "slot shared, the second: " "$PB" 50 \
				connections_opened_total connections_closed_total
			wait_eq 5 30 metric connwatch_anomalies_total 'kind="double_close_fd"'
			check_eq "slot shared: the 30 double closes caught" \
				"$(metric connwatch_anomalies_total 'kind="double_close_fd"')" 30
			stop "$PB"
		fi
		stop "$PA"
	fi
	stop "$CW_PID"
else
	fail "slot shared: two free pids $SLOTS apart below pid_max"
fi

# A process not watched on a watched one's slot, then on its pid once it
# ended (the slot names the one gone, with its start time): neither
# counted.
if A=$(free_pair) && start_at "$A" --close libc; then
	PA=$SRV_PID
	start_connwatch --pid "$PA" --preset sockets ||
		fail "slot not ours: connwatch attached"
	P="pid=\"$PA\""
	check "slot not ours: pid $PA, 50 connections served" \
		load --connections 50 --concurrency 1
	if start_at $((A + SLOTS)) --close libc; then
		check "slot not ours: pid $SRV_PID, 50 connections served" \
			load --connections 50 --concurrency 1
		check_eq "slot not ours: pid $SRV_PID not counted" \
			"$(metric connwatch_connections_opened_total "pid=\"$SRV_PID\"")" ""
		stop "$SRV_PID"
	fi
	stop "$PA"
	wait_eq 5 0 metric connwatch_target_up "$P"
	if start_at "$PA" --close libc; then
		check "pid of a watched one gone: 50 connections served" \
			load --connections 50 --concurrency 1
		check_counts "pid of a watched one gone, not counted: " "$PA" 50 \
			connections_opened_total connections_closed_total
		stop "$SRV_PID"
	fi
	stop "$CW_PID"
else
	fail "slot not ours: a server on a free pid pair"
fi

# --- connwatch run, eBPF: the multishot accept armed after the attach
CW_PORT=$(free_port)
CW_LOG=$TMP/run.jsonl
$CW run --listen "127.0.0.1:$CW_PORT" --alert-log "$CW_LOG" -- $SPS \
	--accept multishot --close uring --again uring --every 5 \
	>"$TMP/run.out" 2>"$TMP/run.err" &
RUN_PID=$!
STARTED+=("$RUN_PID")
if wait_for 10 grep -qs listening "$TMP/run.out"; then
	SRV_PORT=$(sed -n 's/.*127.0.0.1:\([0-9]*\).*/\1/p' "$TMP/run.out")
	SRV_PID=$(pgrep -P "$RUN_PID" -f sock_paths_server)
	P="pid=\"$SRV_PID\""
	check "run: 50 connections served" load --connections 50 --concurrency 1
	counted "run: multishot accept, io_uring close twice" 10
else
	fail "run: sock_paths_server started" "$(head -c 300 "$TMP/run.err")"
fi
stop "$RUN_PID"

# --- connwatch killed (-9) and started again: the new one adopts what the
# old one pinned (the processes watched, their slots, sockets and counts).
# Connections open across the restart are counted closed as they end, and
# double closes are caught on both sides of it.
PINS=/sys/fs/bpf/connwatch
# restarted NAME: kill -9 connwatch, start it again on the same server.
restarted() {
	kill -KILL "$CW_PID"
	wait "$CW_PID" 2>/dev/null
	start_connwatch --pid "$SRV_PID" --preset sockets ||
		{ fail "$1: connwatch started again"; return 1; }
	check "$1: the new connwatch adopts the pinned state" \
		grep -q "adopted the state pinned in $PINS/" "$CW_ERR"
}

start_server fixed && start_connwatch --pid "$SRV_PID" --preset sockets && {
	P="pid=\"$SRV_PID\""
	DIR=$(sed -n "s|.*state pinned in \($PINS/.*\)$|\1|p" "$CW_ERR")
	check "restart, 20 open: 10 connections served" \
		load --connections 10 --concurrency 1
	load --connections 20 --concurrency 20 --hold-ms 3000 &
	HELD=$!
	wait_eq 5 20 metric connwatch_connections_open "$P"
	check_eq "restart, 20 open: 20 open before" \
		"$(metric connwatch_connections_open "$P")" 20
	restarted "restart, 20 open"
	check "restart, 20 open: the 20 held connections served" wait "$HELD"
	check "restart, 20 open: 10 more served" \
		load --connections 10 --concurrency 1
	wait_eq 5 40 metric connwatch_connections_closed_total "$P"
	check_counts "restart, 20 open: " "$SRV_PID" 40 \
		connections_opened_total connections_closed_total
	check_eq "restart, 20 open: open == 0" \
		"$(metric connwatch_connections_open "$P")" 0
	check_eq "restart, 20 open: none closed by the sweep" \
		"$(metric connwatch_connections_closed_by_sweep_total "$P")" 0
	stop "$SRV_PID"
	stop "$CW_PID"
	check "restart, 20 open: the pins go with the last process" \
		test -n "$DIR" -a ! -e "$DIR"
}

start_fixture $FX/double_close_server 5 &&
	start_connwatch --pid "$SRV_PID" --preset sockets && {
	P="pid=\"$SRV_PID\""
	check "restart, double closes: 10 connections served" \
		load --connections 10 --concurrency 1
	wait_eq 5 2 alerts_of_kind double_close_fd
	restarted "restart, double closes"
	check "restart, double closes: 10 more served" \
		load --connections 10 --concurrency 1
	wait_eq 5 2 alerts_of_kind double_close_fd
	check_eq "restart, double closes: 2 caught after the restart" \
		"$(alerts_of_kind double_close_fd)" 2
	check_eq "restart, double closes: anomalies_total goes on (4)" \
		"$(metric connwatch_anomalies_total 'kind="double_close_fd"')" 4
	check_counts "restart, double closes: " "$SRV_PID" 20 \
		connections_opened_total connections_closed_total
	stop "$SRV_PID"
	stop "$CW_PID"
}
