#!/bin/bash
# The sockets preset (syscall tracepoints) on real servers nobody here
# wrote: nginx (master + workers) under wrk with Connection: close, and
# redis under redis-benchmark; and exactly one double_close_fd per double
# close of an accepted socket.
. tests/lib.sh

# --- a C server that closes every 5th accepted socket twice
start_fixture $FX/double_close_server 5 || exit 1
DC=$SRV_PID
start_connwatch --pid "$DC" --preset sockets || exit 1
check "double close: 50 connections served" load --connections 50 --concurrency 1
P="pid=\"$DC\""
wait_for 5 test "$(metric connwatch_connections_closed_total "$P")" == 50
check_eq "double close: opened 50" "$(metric connwatch_connections_opened_total "$P")" 50
check_eq "double close: closed 50 (a second close is not a close)" \
	"$(metric connwatch_connections_closed_total "$P")" 50
wait_for 5 test "$(alerts_of_kind double_close_fd)" == 10
check_eq "exactly one double_close_fd per double close (10)" \
	"$(alerts_of_kind double_close_fd)" 10
check_eq "anomalies_total agrees" \
	"$(metric connwatch_anomalies_total 'kind="double_close_fd"')" 10
check "the alert's stack names the function that closed again" \
	grep -q '"kind":"double_close_fd".*"stack":\[[^]]*close_conn_again+' "$CW_LOG"
check_eq "duration histogram counts every close" \
	"$(metric connwatch_connection_duration_seconds_count "$P")" 50
check_exposition "sockets: promtool clean, no series twice"
stop "$CW_PID"

# --- nginx, attached by the master's pid: the workers are its children
start_nginx || exit 1
start_connwatch --pid "$NGX_PID" --preset sockets || exit 1
REQS=$(wrk_requests 3)
WORKERS=$(nginx_workers)
check "nginx: wrk completed requests ($REQS)" test "${REQS:-0}" -gt 100
wait_for 5 test "$(sum_by_pid connwatch_connections_open $WORKERS)" == 0
OPENED=$(sum_by_pid connwatch_connections_opened_total $WORKERS)
CLOSED=$(sum_by_pid connwatch_connections_closed_total $WORKERS)
# Beyond the requests wrk completed: its 16 connections in flight when it
# stopped, and the one connect it makes first to check the address.
check "nginx: opened ($OPENED) >= requests ($REQS), at most 16 + 1 more" \
	test "$OPENED" -ge "$REQS" -a "$OPENED" -le $((REQS + 17))
check_eq "nginx: opened == closed" "$CLOSED" "$OPENED"
check_eq "nginx: open == 0 after the load" \
	"$(sum_by_pid connwatch_connections_open $WORKERS)" 0
check_eq "nginx: both workers counted" \
	"$(for w in $WORKERS; do metric connwatch_connections_opened_total "pid=\"$w\""; done | grep -c '^[1-9]')" 2
check_eq "nginx: master and workers are up" \
	"$(scrape | grep -c '^connwatch_target_up{.*} 1$')" 3
check_eq "nginx: no alert" "$(metric_sum connwatch_anomalies_total)" 0
stop "$CW_PID"

# --- the same nginx binary by --exe, started after connwatch
stop "$NGX_PID"
start_connwatch --exe /usr/sbin/nginx --preset sockets || exit 1
start_nginx || exit 1
REQS=$(wrk_requests 2)
WORKERS=$(nginx_workers)
wait_for 5 test "$(sum_by_pid connwatch_connections_open $WORKERS)" == 0
OPENED=$(sum_by_pid connwatch_connections_opened_total $WORKERS)
check "nginx --exe: opened ($OPENED) >= requests ($REQS), at most 16 + 1 + our readiness probe" \
	test "$OPENED" -ge "$REQS" -a "$OPENED" -le $((REQS + 18))
check_eq "nginx --exe: opened == closed" \
	"$(sum_by_pid connwatch_connections_closed_total $WORKERS)" "$OPENED"
check_exposition "nginx --exe: promtool clean, no series twice"
stop "$CW_PID"
stop "$NGX_PID"

# --- redis under redis-benchmark, a new connection per request
start_redis || exit 1
start_connwatch --pid "$REDIS_PID" --preset sockets || exit 1
N=2000
redis-benchmark -p "$REDIS_PORT" -n $N -c 20 -k 0 -t ping_inline -q >"$TMP/rb.out" 2>&1
check "redis-benchmark ran" grep -q 'PING_INLINE' "$TMP/rb.out"
P="pid=\"$REDIS_PID\""
wait_for 5 test "$(metric connwatch_connections_open "$P")" == 0
OPENED=$(metric connwatch_connections_opened_total "$P")
check "redis: opened ($OPENED) >= $N requests (one connection each)" \
	test "$OPENED" -ge $N -a "$OPENED" -le $((N + 25))
check_eq "redis: opened == closed" \
	"$(metric connwatch_connections_closed_total "$P")" "$OPENED"
check_eq "redis: open == 0" "$(metric connwatch_connections_open "$P")" 0
check_eq "redis: no alert" "$(metric_sum connwatch_anomalies_total)" 0
