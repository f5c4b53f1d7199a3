#!/bin/bash
# LD_PRELOAD mode, no eBPF: `connwatch run --preload` and `connwatch
# collect` with the shim, on the servers test_sockets.sh watches with eBPF
# (the same metrics and alerts): a C server that closes accepted sockets
# twice, nginx (master + workers) under wrk with Connection: close, redis
# under redis-benchmark; bad input; a collector that stalls, dies and
# comes back while the application keeps serving.
. tests/lib.sh

SHIM=$PWD/build/libconnwatch-preload.so

# cw_run_preload CMD [ARG]...: exec `connwatch run --preload` on CMD with
# PL_SOCK, CW_PORT, CW_LOG, CW_ERR (usable as start_nginx's prefix: the
# background pid is then connwatch's own). In a subshell or with &: exec.
cw_run_preload() {
	exec $CW run --preload --preload-socket "$PL_SOCK" \
		--listen "127.0.0.1:$CW_PORT" --alert-log "$CW_LOG" -- "$@" \
		2>"$CW_ERR"
}

new_outputs() {
	local dir
	dir=$(fresh connwatch)
	CW_PORT=$(free_port)
	CW_LOG=$dir/alerts.jsonl
	CW_ERR=$dir/connwatch.err
	PL_SOCK=$TMP/$1.sock
}

# child_of PID: its one child, once it has one.
child_of() {
	wait_for 5 pgrep -P "$1" >/dev/null || return 1
	pgrep -P "$1" | head -1
}

# the value of a sample that may be missing, as a number
num() { echo "${1:-0}"; }

# load_within SECONDS ARGS...: load, failing if it takes longer
load_within() {
	local secs=$1
	shift
	timeout "$secs" $FX/load_client --port "$SRV_PORT" "$@" >/dev/null
}

# connwatch_events_lost_total has no labels: metric/metric_sum miss it
events_lost() { scrape | awk '$1 == "connwatch_events_lost_total" {print $2}'; }

# ================= 1. double_close_server under run --preload
new_outputs dc
cw_run_preload $FX/double_close_server 5 >"$TMP/dc.out" &
RUN_PID=$!
STARTED+=("$RUN_PID")
wait_for 10 grep -qs listening "$TMP/dc.out" || { cat "$CW_ERR"; exit 1; }
wait_for 5 grep -qs "metrics on" "$CW_ERR" || { cat "$CW_ERR"; exit 1; }
SRV_PORT=$(sed -n 's/.*127.0.0.1:\([0-9]*\).*/\1/p' "$TMP/dc.out")
DC=$(child_of "$RUN_PID")
P="pid=\"$DC\""
check "run --preload: the shim is loaded in the command" \
	grep -q libconnwatch-preload "/proc/$DC/maps"
check "run --preload: the report socket exists while running" test -S "$PL_SOCK"
check_eq "run --preload: the report socket is mode 0600" \
	"$(stat -c %a "$PL_SOCK")" 600
check_eq "run --preload: the command is up before its first accept" \
	"$(metric connwatch_target_up "$P")" 1
check "double close (preload): 50 connections served" \
	load --connections 50 --concurrency 1
wait_eq 5 50 metric connwatch_connections_closed_total "$P"
check_eq "double close (preload): opened 50" \
	"$(metric connwatch_connections_opened_total "$P")" 50
check_eq "double close (preload): closed 50 (a second close is not a close)" \
	"$(metric connwatch_connections_closed_total "$P")" 50
check_exposition "run --preload: promtool clean, no series twice"
check_eq "double close (preload): open 0" "$(metric connwatch_connections_open "$P")" 0
check_eq "double close (preload): duration histogram counts every close" \
	"$(metric connwatch_connection_duration_seconds_count "$P")" 50
wait_eq 5 10 alerts_of_kind double_close_fd
check_eq "double close (preload): exactly one double_close_fd per double close (10)" \
	"$(alerts_of_kind double_close_fd)" 10
check_eq "double close (preload): anomalies_total agrees" \
	"$(metric connwatch_anomalies_total 'kind="double_close_fd"')" 10
check_eq "double close (preload): every alert's stack starts in close_conn_again" \
	"$(grep -c '"pid":'"$DC"',.*"stack":\["close_conn_again+' "$CW_LOG")" 10
check_eq "double close (preload): no other alert" "$(wc -l <"$CW_LOG")" 10
check_eq "double close (preload): nothing lost" \
	"$(events_lost)" 0
kill -TERM "$RUN_PID"
wait "$RUN_PID"
check_eq "run --preload: SIGTERM reaches the command; exits with its status (0)" "$?" 0
check "double close (preload): the server did close 10 twice (its own count)" \
	grep -q "served 50, closed 10 twice" "$TMP/dc.out"
check "run --preload: the report socket is removed at exit" test ! -e "$PL_SOCK"

new_outputs st
(cw_run_preload sh -c 'exit 7')
check_eq "run --preload: exits with the command's status (7)" "$?" 7

# Without --preload-socket: a socket of its own under /run/connwatch,
# 0600, named to the command in CONNWATCH_PRELOAD_SOCKET.
OUT=$($CW run --preload --listen "127.0.0.1:$(free_port)" --alert-log "$TMP/def.jsonl" \
	-- sh -c 'echo "$CONNWATCH_PRELOAD_SOCKET $(stat -c %a "$CONNWATCH_PRELOAD_SOCKET")"' \
	2>/dev/null)
check "run --preload: default socket /run/connwatch/preload-PID.sock, 0600, named to the command ($OUT)" \
	eval '[[ "$OUT" =~ ^/run/connwatch/preload-[0-9]+\.sock\ 600$ ]]'
check "run --preload: ... and removed at exit" test ! -e "${OUT% *}"

# --fail-on works the same without eBPF
new_outputs fo
$CW run --preload --fail-on critical --preload-socket "$PL_SOCK" \
	--listen "127.0.0.1:$CW_PORT" --alert-log "$CW_LOG" \
	-- $FX/double_close_server 1 >"$TMP/fo.out" 2>"$CW_ERR" &
RUN_PID=$!
STARTED+=("$RUN_PID")
wait_for 10 grep -qs listening "$TMP/fo.out" || { cat "$CW_ERR"; exit 1; }
SRV_PORT=$(sed -n 's/.*127.0.0.1:\([0-9]*\).*/\1/p' "$TMP/fo.out")
load --connections 1
wait_eq 5 1 alerts_of_kind double_close_fd
kill -TERM "$RUN_PID"
wait "$RUN_PID"
check_eq "run --preload --fail-on critical: exit 3 after a double close" "$?" 3

# ================= 2. nginx: master + 2 workers, run --preload as the prefix
new_outputs ngx
start_nginx cw_run_preload || { cat "$CW_ERR"; exit 1; }
RUN_PID=$NGX_PID
MASTER=$(child_of "$RUN_PID")
wait_eq 5 2 eval 'pgrep -P "$MASTER" | wc -l'
WORKERS=$(pgrep -P "$MASTER")
REQS=$(wrk_requests 3)
check "nginx (preload): wrk completed requests ($REQS)" test "${REQS:-0}" -gt 100
wait_eq 5 0 sum_by_pid connwatch_connections_open $WORKERS
OPENED=$(sum_by_pid connwatch_connections_opened_total $WORKERS)
CLOSED=$(sum_by_pid connwatch_connections_closed_total $WORKERS)
# Beyond the requests wrk completed: its 16 connections in flight when it
# stopped, the one connect it makes first to check the address, and
# start_nginx's readiness curl (the shim is there from nginx's start).
check "nginx (preload): opened ($OPENED) >= requests ($REQS), at most 16 + 1 + 1 more" \
	test "$OPENED" -ge "$REQS" -a "$OPENED" -le $((REQS + 18))
check_eq "nginx (preload): opened == closed" "$CLOSED" "$OPENED"
check_eq "nginx (preload): open == 0 after the load" \
	"$(sum_by_pid connwatch_connections_open $WORKERS)" 0
check_eq "nginx (preload): nothing counted outside the workers" \
	"$(metric_sum connwatch_connections_opened_total)" "$OPENED"
check_eq "nginx (preload): no worker died and was replaced (error.log)" \
	"$(grep -c 'exited on signal' "$TMP/nginx/error.log")" 0
USERS=$(ps -o user= -p "$(echo $WORKERS | tr ' ' ,)" | sort -u | tr '\n' ' ')
check_eq "nginx (preload): both workers (running as ${USERS% }) reported" \
	"$(for w in $WORKERS; do metric connwatch_connections_opened_total "pid=\"$w\""; done | grep -c '^[1-9]')" 2
check_eq "nginx (preload): the shim is in the master and both workers" \
	"$(for p in $MASTER $WORKERS; do grep -l libconnwatch-preload "/proc/$p/maps"; done | wc -l)" 3
check_eq "nginx (preload): master and workers are up" \
	"$(for p in $MASTER $WORKERS; do metric connwatch_target_up "pid=\"$p\""; done | grep -c '^1$')" 3
check_eq "nginx (preload): no alert" "$(metric_sum connwatch_anomalies_total)" 0
kill -TERM "$RUN_PID"
wait "$RUN_PID"
check_eq "nginx (preload): run exits with nginx's status (0)" "$?" 0

# ================= 3. redis under redis-benchmark, run --preload as the prefix
new_outputs redis
start_redis cw_run_preload || { cat "$CW_ERR"; exit 1; }
RUN_PID=$REDIS_PID
RDS=$(child_of "$RUN_PID")
N=2000
redis-benchmark -p "$REDIS_PORT" -n $N -c 20 -k 0 -t ping_inline -q >"$TMP/rb.out" 2>&1
check "redis (preload): redis-benchmark ran" grep -q 'PING_INLINE' "$TMP/rb.out"
P="pid=\"$RDS\""
wait_eq 5 0 metric connwatch_connections_open "$P"
OPENED=$(metric connwatch_connections_opened_total "$P")
# + 20 clients' last connects, redis-benchmark's config fetch, our ping
check "redis (preload): opened (${OPENED:-none}) >= $N requests, at most 25 more" \
	test "$(num "$OPENED")" -ge $N -a "$(num "$OPENED")" -le $((N + 25))
check_eq "redis (preload): opened == closed" \
	"$(metric connwatch_connections_closed_total "$P")" "$OPENED"
check_eq "redis (preload): open == 0" "$(metric connwatch_connections_open "$P")" 0
check_eq "redis (preload): no alert" "$(metric_sum connwatch_anomalies_total)" 0
kill -TERM "$RUN_PID"
wait "$RUN_PID"
check_eq "redis (preload): run exits with redis' status (0)" "$?" 0

# ================= 4. bad input: one line naming the problem, non-zero exit
# bad_input NAME WANT-IN-MESSAGE [ENV=VALUE...] -- connwatch args: also
# checks that no report socket was left behind.
bad_input() {
	local name=$1 want=$2 envs=() status
	shift 2
	while [ "$1" != "--" ]; do envs+=("$1"); shift; done
	shift
	env "${envs[@]}" $CW "$@" >/dev/null 2>"$TMP/bad.err"
	status=$?
	check "$name: non-zero exit ($status)" test "$status" -ne 0
	check "$name: one line naming $want" \
		test "$(wc -l <"$TMP/bad.err")" -eq 1 -a -n "$(grep -F -- "$want" "$TMP/bad.err")"
}
RUNPL=(run --preload --listen "127.0.0.1:$(free_port)" --alert-log "$TMP/bad.jsonl")
bad_input "missing shim" /nonexistent/x.so CONNWATCH_PRELOAD_LIB=/nonexistent/x.so -- \
	"${RUNPL[@]}" --preload-socket "$TMP/bad1.sock" -- $FX/double_close_server
check "missing shim: no socket made, nothing started" test ! -e "$TMP/bad1.sock"
bad_input "unwritable socket path" /proc/nope/x.sock -- \
	"${RUNPL[@]}" --preload-socket /proc/nope/x.sock -- $FX/double_close_server
LONG=$TMP/$(printf 'x%.0s' $(seq 1 110)).sock
bad_input "socket path too long" "$LONG: path too long" -- \
	"${RUNPL[@]}" --preload-socket "$LONG" -- true
echo precious >"$TMP/regular"
bad_input "socket path is a regular file" "$TMP/regular: exists and is not a socket" -- \
	"${RUNPL[@]}" --preload-socket "$TMP/regular" -- true
check_eq "socket path is a regular file: the file is left alone" \
	"$(cat "$TMP/regular")" precious
printf 'int main(void) { return 0; }\n' >"$TMP/static.c"
if gcc -static -o "$TMP/static" "$TMP/static.c" 2>/dev/null &&
	file "$TMP/static" | grep -q 'statically linked'; then
	bad_input "statically linked command" \
		"$TMP/static is statically linked: LD_PRELOAD cannot see inside it" -- \
		"${RUNPL[@]}" --preload-socket "$TMP/bad2.sock" -- "$TMP/static"
else
	fail "statically linked command" "could not build a static binary with gcc -static"
fi

# ================= 5. collect: a service started elsewhere; the collector
# stalls, dies and comes back, the application serves throughout.
start_collector "$TMP/c.sock" || exit 1
check_eq "collect: the report socket is mode 0600" "$(stat -c %a "$TMP/c.sock")" 600
LD_PRELOAD=$SHIM CONNWATCH_PRELOAD_SOCKET=$TMP/c.sock \
	$FX/double_close_server 5 >"$TMP/dc2.out" 2>&1 &
DC=$!
STARTED+=("$DC")
wait_for 5 grep -qs listening "$TMP/dc2.out" || exit 1
SRV_PORT=$(sed -n 's/.*127.0.0.1:\([0-9]*\).*/\1/p' "$TMP/dc2.out")
P="pid=\"$DC\""
check "collect: 20 connections served" load --connections 20 --concurrency 1
wait_eq 5 20 metric connwatch_connections_closed_total "$P"
check_eq "collect: opened 20" "$(metric connwatch_connections_opened_total "$P")" 20
check_exposition "collect: promtool clean, no series twice"
wait_eq 5 4 alerts_of_kind double_close_fd
check_eq "collect: one double_close_fd per double close (4)" \
	"$(alerts_of_kind double_close_fd)" 4
# No --target: each reporting process is the target its binary names
# (/proc/PID/exe of the sender the kernel names); the collector's own
# series (the socket, refusals) are target "preload".
check_eq "collect: the process' target is its binary's name" \
	"$(scrape | grep '^connwatch_target_up{')" \
	"connwatch_target_up{target=\"double_close_server\",pid=\"$DC\"} 1"
check_eq "collect: its series all carry it" \
	"$(scrape | grep -v '^#' | grep "$P" | grep -vc 'target="double_close_server"')" 0
check_eq "collect: its anomalies are counted under it (4)" \
	"$(metric connwatch_anomalies_total 'target="double_close_server",kind="double_close_fd"')" 4
check_eq "collect: ... and none under the collector's" \
	"$(metric connwatch_anomalies_total 'target="preload",kind="double_close_fd"')" 0
check_eq "collect: the alerts name it" \
	"$(grep -c '"target":"double_close_server","source":"preload"' "$CW_LOG")" 4
check_eq "collect: the collector's socket is target preload" \
	"$(metric connwatch_probe_attached 'target="preload",source="preload",probe="preload:socket"')" 1

# A second collector must not steal the path of a running one.
$CW collect --preload-socket "$TMP/c.sock" --listen "127.0.0.1:$(free_port)" \
	--alert-log "$TMP/second.jsonl" --duration 1 2>"$TMP/second.err"
check "collect: a second collector on a live socket fails" test $? -ne 0
check "collect: ... saying the socket is in use" \
	grep -q "$TMP/c.sock: in use" "$TMP/second.err"
check "collect: ... and the first keeps its socket" test -S "$TMP/c.sock"

# Slow collector (stopped): the application does not wait (counts go to
# shared memory, records to the shim's ring), and nothing is lost: the
# double closes of the stall arrive once it resumes.
kill -STOP "$CW_PID"
check "collect stopped: 20 connections still served, within 10 s" \
	load_within 10 --connections 20 --concurrency 1
kill -CONT "$CW_PID"
wait_eq 5 40 metric connwatch_connections_closed_total "$P"
check_eq "collect stopped: the counts catch up when it resumes (opened 40)" \
	"$(metric connwatch_connections_opened_total "$P")" 40
wait_eq 5 8 alerts_of_kind double_close_fd
check_eq "collect stopped: the stall's double closes all arrive (8 in all)" \
	"$(alerts_of_kind double_close_fd)" 8
LOST1=$(num "$(events_lost)")
check_eq "collect stopped: nothing lost (events_lost_total)" "$LOST1" 0

# Dead collector: the application keeps serving.
kill -KILL "$CW_PID"
wait "$CW_PID" 2>/dev/null
check "collect killed: 20 connections still served, within 10 s" \
	load_within 10 --connections 20 --concurrency 1
check "collect killed: the server still runs" kill -0 "$DC"
check "collect killed: its stale socket file stays" test -S "$TMP/c.sock"

# A new collector on the same path: the stale socket is replaced; the shim
# (which backs off to at most 1 s) connects again and its hello brings its
# page of counts back: every count, the outage's included. --target names
# every process' series alike.
start_collector "$TMP/c.sock" --target edge || exit 1
check "collect restarted: on the same path" test -S "$TMP/c.sock"
wait_eq 5 60 metric connwatch_connections_closed_total "$P"
check_eq "collect restarted: counts resume, outage included (opened 60)" \
	"$(metric connwatch_connections_opened_total "$P")" 60
check_eq "collect restarted: closed 60" \
	"$(metric connwatch_connections_closed_total "$P")" 60
LOST2=$(num "$(events_lost)")
check "collect restarted: what the outage dropped is counted (lost $LOST2 > $LOST1)" \
	test "$LOST2" -gt "$LOST1"
# The 4 double closes of the outage were sent to nobody: not replayed,
# counted in events_lost_total above, not in anomalies_total.
check_eq "collect restarted: the outage's double closes are not replayed" \
	"$(alerts_of_kind double_close_fd)" 0
check "collect restarted: 10 more connections served" \
	load --connections 10 --concurrency 1
wait_eq 5 70 metric connwatch_connections_closed_total "$P"
wait_eq 5 2 alerts_of_kind double_close_fd
check_eq "collect restarted: new double closes alert again (2)" \
	"$(alerts_of_kind double_close_fd)" 2
# The shim's page counts every double close since the process began
# (70 connections, every 5th closed twice), alerted or not: the metric
# stays exact where the alerts of the outage were lost.
check_eq "collect restarted: anomalies_total counts every double close (14)" \
	"$(metric connwatch_anomalies_total 'target="edge",kind="double_close_fd"')" 14
check_eq "collect --target edge: every target label is edge" \
	"$(scrape | grep -v '^#' | grep 'target=' | grep -vc 'target="edge"')" 0
stop "$DC"
check "collect: the server served everything (its own count: 70, 14 twice)" \
	grep -q "served 70, closed 14 twice" "$TMP/dc2.out"
wait_eq 5 0 metric connwatch_target_up "$P"
check_eq "collect: the server's exit is seen (target_up 0)" \
	"$(metric connwatch_target_up "$P")" 0
check_eq "collect: its final counts are kept (opened 70)" \
	"$(metric connwatch_connections_opened_total "$P")" 70
stop "$CW_PID"
check_eq "collect: a clean stop exits 0" "$?" 0
check "collect: the report socket is removed at exit" test ! -e "$TMP/c.sock"
