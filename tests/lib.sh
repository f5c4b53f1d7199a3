# Helpers for the integration tests: start what a test needs, stop only
# that (by pid), read metrics, and report `PASS: name` / `FAIL: name`.
# Sourced by tests/integration/test_*.sh, run from the repo root as root.

# CW_UNDER_TEST: another build of connwatch (tests/run.sh's sanitizer pass).
CW=${CW_UNDER_TEST:-build/connwatch}
FX=build/fixtures
SPEC=tests/specs/tracker.yaml
TMP=$(mktemp -d /tmp/connwatch-test.XXXXXX)
STARTED=()

# Every process the test started stops; then the state its connwatch
# runs left pinned for servers that outlived them goes too.
cleanup() {
	local pid
	for pid in "${STARTED[@]}"; do
		kill -TERM "$pid" 2>/dev/null
	done
	for pid in "${STARTED[@]}"; do
		wait "$pid" 2>/dev/null
	done
	# shellcheck disable=SC2046 # one word per directory wanted
	drop_pins $(pin_dirs "$TMP")
	rm -rf "$TMP"
}
trap cleanup EXIT

pass() { echo "PASS: $1"; }
fail() { echo "FAIL: $1${2:+: $2}"; }

# check NAME CMD...: PASS when CMD succeeds.
check() {
	local name=$1
	shift
	if "$@"; then pass "$name"; else fail "$name" "$*"; fi
}

# expect_error NAME PATTERN CMD...: exit != 0, one stderr line matching.
expect_error() {
	local name=$1 pattern=$2 out=$TMP/err.$RANDOM status
	shift 2
	"$@" >/dev/null 2>"$out"
	status=$?
	if [ $status -ne 0 ] && [ "$(wc -l <"$out")" -eq 1 ] &&
		grep -qE -- "$pattern" "$out"; then
		pass "$name"
	else
		fail "$name" "status $status, stderr: $(head -c 300 "$out")"
	fi
}

# check_eq NAME GOT WANT
check_eq() {
	if [ "$2" == "$3" ]; then pass "$1"; else fail "$1" "got '$2', want '$3'"; fi
}

. tests/pins.sh
. tests/port.sh
. tests/servers.sh

# wait_for SECONDS CMD...: poll CMD every 0.1 s.
wait_for() {
	# microseconds: $SECONDS would make "5" mean anything from 4 to 5 s
	local deadline=$((${EPOCHREALTIME/./} + $1 * 1000000))
	shift
	until "$@"; do
		[ "${EPOCHREALTIME/./}" -ge $deadline ] && return 1
		sleep 0.1
	done
}

# fresh NAME: a new directory $TMP/NAME.XXXXXX for the outputs of one
# process started in the background. A file is emptied only once the new
# process runs, and $TMP/NAME.$RANDOM can meet a name used before in the
# same test: either way a "listening" or "metrics on" of the process
# before would pass for this one's.
fresh() { mktemp -d "$TMP/$1.XXXXXX"; }

# start_fixture CMD [ARGS...]: a server of ours that prints "listening on
# 127.0.0.1:PORT". Sets SRV_PID, SRV_PORT, SRV_ERR (its stderr).
start_fixture() {
	local out
	out=$(fresh server)/out
	# NEXT_PID: the pid to give it, a pid reused (the kernel hands out
	# ns_last_pid + 1 unless another fork on the host comes first).
	[ -z "$NEXT_PID" ] || echo $((NEXT_PID - 1)) >/proc/sys/kernel/ns_last_pid
	"$@" >"$out" 2>"$out.err" &
	SRV_PID=$!
	STARTED+=("$SRV_PID")
	SRV_ERR=$out.err
	wait_for 5 grep -qs listening "$out" ||
		{ echo "$(basename "$1") did not start"; return 1; }
	SRV_PORT=$(sed -n 's/.*127.0.0.1:\([0-9]*\).*/\1/p' "$out")
}

# start_server MODE [ARGS...]: the C tracker fixture.
start_server() { start_fixture "$FX/tracker_server" --mode "$@"; }

# cw_background NAME SUBCOMMAND ARGS...: `connwatch SUBCOMMAND ARGS` in the
# background, /metrics on a free port, alerts to a fresh log, until it says
# "metrics on". Sets CW_PID, CW_PORT, CW_LOG, CW_ERR and OUT (its stdout:
# that of the command under `run`).
cw_background() {
	local name=$1 dir
	shift
	dir=$(fresh "$name")
	CW_PORT=$(free_port)
	CW_LOG=$dir/alerts.jsonl
	CW_ERR=$dir/$name.err
	OUT=$dir/$name.out
	$CW "$1" --listen "127.0.0.1:$CW_PORT" --alert-log "$CW_LOG" "${@:2}" \
		>"$OUT" 2>"$CW_ERR" &
	CW_PID=$!
	STARTED+=("$CW_PID")
	wait_for 10 grep -qs "metrics on" "$CW_ERR" || {
		echo "$name: connwatch did not start:"; cat "$CW_ERR"; return 1; }
}

# start_connwatch ARGS...: `connwatch attach ARGS`.
start_connwatch() { cw_background connwatch attach "$@"; }

# start_collector SOCKET [ARGS...]: `connwatch collect` for LD_PRELOAD'ed
# processes reporting on SOCKET.
start_collector() { cw_background collect collect --preload-socket "$@"; }

# start_run NAME RUN-OPTIONS -- CMD...: `connwatch run`; RUN_PID is CW_PID.
start_run() {
	cw_background "$1" run "${@:2}" || return 1
	RUN_PID=$CW_PID
}

# stop PID: SIGTERM and wait; prints nothing, returns its status.
stop() {
	kill -TERM "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}

scrape() { curl -sf "http://127.0.0.1:$CW_PORT/metrics"; }

# metric NAME LABEL-FRAGMENT: the value of the first matching sample.
metric() {
	scrape | grep -v '^#' | grep "^$1{" | grep -F -- "$2" | head -1 |
		awk '{print $NF}'
}

# Sum of every sample of NAME.
metric_sum() {
	scrape | grep "^$1{" | awk '{s += $2} END {print s + 0}'
}

alerts_of_kind() { grep -c "\"kind\":\"$1\"" "$CW_LOG" 2>/dev/null || true; }

load() { $FX/load_client --port "$SRV_PORT" "$@" >/dev/null; }

# start_nginx: master + 2 workers on a free loopback port, in $TMP.
# Sets NGX_PID (the master) and NGX_PORT. Extra env (LD_PRELOAD...) passes.
start_nginx() {
	NGX_PORT=$(free_port)
	nginx_conf "$TMP/nginx" "$NGX_PORT"
	"$@" /usr/sbin/nginx -c "$TMP/nginx/nginx.conf" -p "$TMP/nginx" &
	NGX_PID=$!
	STARTED+=("$NGX_PID")
	wait_for 5 curl -sf "http://127.0.0.1:$NGX_PORT/" -o /dev/null
}

# nginx_workers: pids of the master's children.
nginx_workers() { pgrep -P "$NGX_PID"; }

# wrk_requests SECONDS: new connection per request; prints requests done.
wrk_requests() {
	wrk -t2 -c16 -d"$1"s -H 'Connection: close' "http://127.0.0.1:$NGX_PORT/" |
		awk '/requests in/ {print $1}'
}

# start_redis: sets REDIS_PID, REDIS_PORT.
start_redis() {
	REDIS_PORT=$(free_port)
	"$@" /usr/bin/redis-server --port "$REDIS_PORT" --bind 127.0.0.1 \
		--save '' --appendonly no --daemonize no --dir "$TMP" \
		--logfile "$TMP/redis.log" &
	REDIS_PID=$!
	STARTED+=("$REDIS_PID")
	wait_for 5 redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1
}

# sum_by_pid METRIC PIDS...: the metric summed over those pids.
sum_by_pid() {
	local name=$1 total=0 pid v
	shift
	for pid in "$@"; do
		v=$(metric "$name" "pid=\"$pid\"")
		total=$((total + ${v:-0}))
	done
	echo $total
}

# start_go_tracker BINARY MODE: like start_server, for the Go fixture.
start_go_tracker() { start_fixture "$FX/$1" -mode "$2"; }

# check_counts PREFIX PID N METRIC...: each connwatch_METRIC of PID == N.
check_counts() {
	local prefix=$1 pid=$2 n=$3 m
	shift 3
	for m; do
		check_eq "$prefix$m == $n" "$(metric "connwatch_$m" "pid=\"$pid\"")" "$n"
	done
}

# start_prometheus: Debian's stripped Go Prometheus on a free port, no
# scrape jobs (only our requests reach it). Sets PROM_PID, PROM_PORT.
start_prometheus() {
	PROM_PORT=$(free_port)
	mkdir -p "$TMP/prom"
	exec_prometheus "$TMP/prom" "$PROM_PORT" "${1:-}" >"$TMP/prom/log" 2>&1 &
	PROM_PID=$!
	STARTED+=("$PROM_PID")
	wait_for 20 curl -sf "http://127.0.0.1:$PROM_PORT/-/ready" -o /dev/null
}

# start_h3_server BINARY [ARGS...]: quic-go 0.29's HTTP/3 server. Sets
# H3_PID, H3_PORT.
start_h3_server() {
	local bin=$1
	shift
	start_fixture "$FX/$bin" "$@" || return 1
	H3_PID=$SRV_PID H3_PORT=$SRV_PORT
}

# wait_eq SECONDS WANT CMD...: poll every 0.1 s until CMD prints WANT.
# (`wait_for N test "$(CMD)" == WANT` runs CMD once, then waits N s.)
wait_eq() {
	local secs=$1 want=$2
	shift 2
	wait_for "$secs" output_is "$want" "$@"
}
output_is() { local want=$1; shift; [ "$("$@")" == "$want" ]; }

# start_alertmanager: Debian's real Alertmanager on loopback, no cluster.
# Sets AM_PID, AM_PORT.
start_alertmanager() {
	AM_PORT=$(free_port)
	mkdir -p "$TMP/am"
	printf 'route:\n  receiver: "null"\nreceivers:\n  - name: "null"\n' \
		>"$TMP/am/alertmanager.yml"
	/usr/bin/prometheus-alertmanager --config.file="$TMP/am/alertmanager.yml" \
		--storage.path="$TMP/am" --cluster.listen-address= \
		--web.listen-address="127.0.0.1:$AM_PORT" >"$TMP/am/log" 2>&1 &
	AM_PID=$!
	STARTED+=("$AM_PID")
	wait_for 15 curl -sf "http://127.0.0.1:$AM_PORT/-/ready" -o /dev/null
}

am_alerts() { curl -sf "http://127.0.0.1:$AM_PORT/api/v2/alerts"; }

# code_diff PID: how many bytes of the process' executable code differ
# from its binary file. A uprobe is an int3 written into the code: while
# one is attached this is > 0; once every probe is gone, 0 again.
code_diff() {
	python3 - "$1" <<'PY'
import os, sys
pid = sys.argv[1]
exe = os.readlink(f"/proc/{pid}/exe")
diff = 0
with open(f"/proc/{pid}/mem", "rb") as mem, open(f"/proc/{pid}/exe", "rb") as f:
    for line in open(f"/proc/{pid}/maps"):
        parts = line.split()
        if len(parts) < 6 or "x" not in parts[1] or parts[5] != exe:
            continue
        start, end = (int(x, 16) for x in parts[0].split("-"))
        mem.seek(start)
        f.seek(int(parts[2], 16))
        a, b = mem.read(end - start), f.read(end - start)
        diff += sum(x != y for x, y in zip(a, b))
print(diff)
PY
}

# check_exposition NAME: the whole /metrics is valid exposition: `promtool
# check metrics` parses it and finds nothing but the three names the
# metrics contract fixed (connwatch_counter_{increments_total,
# decrements_total,value} "include type counter"), and no series (name
# and label set, in any order) comes twice.
check_exposition() {
	local out=$TMP/exposition.$RANDOM lint dups
	scrape >"$out" || { fail "$1" "no answer from /metrics"; return; }
	lint=$(promtool check metrics <"$out" 2>&1; echo "exit $?")
	lint=$(grep -Ev "^connwatch_counter_(increments_total|decrements_total|value) metric name should not include type 'counter'$|^exit [03]$" <<<"$lint")
	dups=$(python3 - "$out" <<'PY'
import collections, re, sys
label = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
seen = collections.Counter()
for line in open(sys.argv[1]):
    if not line.strip() or line.startswith("#"):
        continue
    series = line.rsplit(" ", 1)[0]
    name, _, labels = series.partition("{")
    seen[(name, tuple(sorted(label.findall(labels))))] += 1
for (name, labels), n in seen.items():
    if n > 1:
        print("%s{%s} x%d" % (name, ",".join('%s="%s"' % l for l in labels), n))
PY
)
	if [ -z "$lint$dups" ]; then
		pass "$1"
	else
		fail "$1" "$(head -c 600 <<<"promtool: $lint; twice: $dups")"
	fi
}
