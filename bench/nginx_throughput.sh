#!/bin/bash
# What watching costs a real server: nginx (tests/servers.sh's config:
# master + 2 workers, "ok" for every request) under wrk with a new
# connection per request (-H 'Connection: close'), ROUNDS rounds with the
# modes interleaved, medians of requests/s:
#
#   plain  nginx alone
#   shim   `connwatch run --preload -- nginx ...`: the LD_PRELOAD shim in
#          master and workers, counting in pages connwatch reads
#   ebpf   nginx with `connwatch attach --pid MASTER --preset sockets`
#          (accept/close tracepoints, for the master and its workers)
#
# Every mode starts its own nginx on a fresh port. The shim and ebpf runs
# must count at least every request wrk completed (else the run failed).
# Goals: shim/plain >= 0.97, ebpf/plain >= 0.95.
#
# Run as root: part of `make bench` (bench/run.sh), or alone.
# BENCH_NGINX_ROUNDS (default 5: fewer rounds do not average out this
# VM's noise) and BENCH_NGINX_SECONDS (default 5) override.
cd "$(dirname "$0")/.." || exit 2
. bench/lib.sh

ROUNDS=${BENCH_NGINX_ROUNDS:-5}
DURATION=${BENCH_NGINX_SECONDS:-5}
WRK_OPTS=(-t2 -c32 "-d${DURATION}s")
WRK_HEADER='Connection: close'	# a new connection per request
WRK=(wrk "${WRK_OPTS[@]}" -H "$WRK_HEADER")
GOAL_SHIM=0.97
GOAL_EBPF=0.95

# start_nginx [PREFIX...]: nginx on a fresh port in a fresh dir, started as
# PREFIX... /usr/sbin/nginx; sets NGX_DIR, NGX_PORT, NGX_PID (our child:
# nginx's master, or PREFIX's process).
start_nginx() {
	NGX_DIR=$(mktemp -d "$TMP/nginx.XXXX")
	NGX_PORT=$(free_port)
	nginx_conf "$NGX_DIR" "$NGX_PORT"
	"$@" /usr/sbin/nginx -c "$NGX_DIR/nginx.conf" -p "$NGX_DIR" \
		2>"$NGX_DIR/stderr" &
	NGX_PID=$!
	started "$NGX_PID"
	ATTACH_WAIT=10 poll_until "$NGX_PID" \
		curl -sf "http://127.0.0.1:$NGX_PORT/" -o /dev/null || {
		echo "nginx did not start:"
		cat "$NGX_DIR/stderr" "$NGX_DIR/error.log" 2>/dev/null | tail -5
		stop "$NGX_PID"
		return 1
	}
}

# children PID N: PID's children, once it has N of them.
children() {
	poll_until "$1" eval "[ \$(pgrep -P $1 | wc -l) -eq $2 ]" &&
		pgrep -P "$1"
}

# load: one wrk run on nginx; sets REQS (requests completed) and RPS.
load() { wrk_load "http://127.0.0.1:$NGX_PORT/"; }

# opened PORT: connwatch's connwatch_connections_opened_total, all pids.
opened() {
	curl -sf "http://127.0.0.1:$1/metrics" |
		awk '/^connwatch_connections_opened_total\{/ { s += $2 } END { print s + 0 }'
}

# counted MODE PORT: connwatch on PORT saw at least REQS connections
# (eBPF maps and the shim's pages are read at scrape: a short wait).
counted() {
	local n

	ATTACH_WAIT=5 poll_until "$$" eval "[ \$(opened $2) -ge $REQS ]"
	n=$(opened "$2")
	echo "  $1: connwatch counted $n connections opened, wrk completed $REQS requests"
	[ "$n" -ge "$REQS" ]
}

# gone PID: a process we did not start ourselves (nginx under connwatch
# run) has exited; if not, TERM it and wait. (poll_until PID false: wait,
# at most ATTACH_WAIT s, until PID is gone.)
gone() {
	ATTACH_WAIT=5 poll_until "$1" false
	kill -0 "$1" 2>/dev/null || return 0
	echo "  pid $1 still runs: TERM"
	kill -TERM "$1"
	ATTACH_WAIT=5 poll_until "$1" false
}

# --- the three modes: each records its requests/s ---

run_plain() {
	start_nginx || return 1
	load
	local status=$?
	stop "$NGX_PID"
	[ $status -eq 0 ] || return 1
	record plain "$RPS" req/s
}

run_shim() {
	local port master workers status p

	port=$(free_port)
	start_nginx $CW run --preload --preload-socket "$TMP/preload.sock" \
		--listen "127.0.0.1:$port" --alert-log "$TMP/alerts.jsonl" -- ||
		return 1
	master=$(children "$NGX_PID" 1) && workers=$(children "$master" 2) || {
		echo "no nginx master and 2 workers under connwatch run"
		stop "$NGX_PID"
		return 1
	}
	for p in $master $workers; do
		grep -q libconnwatch-preload "/proc/$p/maps" || {
			echo "the shim is not in nginx pid $p"
			stop "$NGX_PID"
			gone "$master"
			return 1
		}
	done
	load && counted shim "$port"
	status=$?
	stop "$NGX_PID"		# connwatch run passes SIGTERM to nginx
	gone "$master"
	[ $status -eq 0 ] || return 1
	record shim "$RPS" req/s
}

run_ebpf() {
	local pid status

	start_nginx || return 1
	attach_cw "$NGX_PID" --preset sockets || { stop "$NGX_PID"; return 1; }
	pid=$CW_PID
	poll_until "$pid" eval "bpftool perf show | grep -q '^pid $pid .*tracepoint  *sys_exit_accept4'" || {
		echo "connwatch did not attach its tracepoints:"
		cat "$TMP/cw.err"
		stop "$pid"
		stop "$NGX_PID"
		return 1
	}
	load && counted ebpf "$CW_PORT"
	status=$?
	stop "$pid"
	stop "$NGX_PID"
	[ $status -eq 0 ] || return 1
	record ebpf "$RPS" req/s
}

# --- report ---

table() {
	local plain m r

	plain=$(median plain)
	printf '\n%-6s %12s %9s %7s   %s\n' mode "median req/s" "/ plain" spread \
		"runs (req/s)"
	for m in plain shim ebpf; do
		printf '%-6s %12.0f %9.3f %7s   %s\n' "$m" "$(median "$m")" \
			"$(ratio "$(median "$m")" "$plain")" "$(spread "$m")" "$(values "$m")"
	done
	echo "(spread: max/min - 1 over the rounds; a ratio closer to 1 than the"
	echo " spread of plain is within this machine's noise)"
	echo
	r=$(ratio "$(median shim)" "$plain")
	echo "shim/plain $r   (goal >= $GOAL_SHIM: $(goal "$r" ">=" "$GOAL_SHIM"))"
	echo "  per round: $(round_ratios shim plain)"
	r=$(ratio "$(median ebpf)" "$plain")
	echo "ebpf/plain $r   (goal >= $GOAL_EBPF: $(goal "$r" ">=" "$GOAL_EBPF"))"
	echo "  per round: $(round_ratios ebpf plain)"
}

# --- main ---

[[ $ROUNDS =~ ^[1-9][0-9]*$ && $DURATION =~ ^[1-9][0-9]*$ ]] || {
	echo "$0: BENCH_NGINX_ROUNDS and BENCH_NGINX_SECONDS: positive integers" >&2
	exit 2
}
section_start "nginx throughput: wrk ${WRK_OPTS[*]} -H '$WRK_HEADER', $ROUNDS rounds, modes interleaved, medians" \
	bpftool curl wrk nginx
[ -r build/libconnwatch-preload.so ] || {
	echo "$0: no build/libconnwatch-preload.so: run make" >&2
	exit 2
}

interleave "$ROUNDS" plain shim ebpf
[ $FAILED -eq 0 ] && table
section_end
