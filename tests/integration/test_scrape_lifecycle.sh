#!/bin/bash
# /metrics polled back to back through every moment of connwatch's life,
# with connwatch built under ASan+UBSan (`make asan`): startup (the first
# answer already shows every probe attached), load started at that first
# answer, the watched process exiting, detach by --duration and SIGTERM,
# `run` (eBPF and --preload), `collect`, and `--config` with SIGHUP
# reloads. connwatch must never crash nor print a sanitizer report.
. tests/lib.sh

CW=${CW_UNDER_TEST:-build/asan/connwatch}	# tests/run.sh: TSan too
[ -x "$CW" ] || { fail "$CW is built" "run make asan (make tsan)"; exit 1; }
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
SHIM=$PWD/build/libconnwatch-preload.so
SPEC_ROWS=6		# tests/specs/tracker.yaml has six probes

# Our connwatch processes, --config's children too (their argv holds this
# run's $TMP): none may outlive the test, even if its parent crashed.
ours() { pgrep -f -- "--alert-log $TMP/a.jsonl"; }
trap 'for p in $(ours); do kill -TERM "$p"; done; cleanup' EXIT

now_ms() { date +%s%3N; }

# poll NAME PORT: GETs /metrics back to back until $TMP/NAME.stop appears
# (90 s at most). Keeps the first answer (NAME.first, its time in
# NAME.first_ms) and the last (NAME.last); counts answers in NAME.n.
poll() {
	local out=$TMP/$1 url=http://127.0.0.1:$2/metrics n=0
	local end=$((SECONDS + 90))
	while [ ! -e "$out.stop" ] && [ $SECONDS -lt $end ]; do
		curl -sf --max-time 5 "$url" -o "$out.tmp" || continue
		if [ ! -e "$out.first" ]; then
			now_ms >"$out.first_ms"
			cp "$out.tmp" "$out.part" && mv "$out.part" "$out.first"
		fi
		mv "$out.tmp" "$out.last"
		n=$((n + 1))
	done
	echo "$n" >"$out.n"
}

# start_poll NAME PORT: poll in the background, from before connwatch
# starts (every refused connection is retried at once). Sets POLLER.
start_poll() {
	poll "$1" "$2" &
	POLLER=$!
	STARTED+=("$POLLER")
}

stop_poll() {
	touch "$TMP/$1.stop"
	wait "$POLLER"
}

first_came() { test -e "$TMP/$1.first"; }

# attached NAME: "ROWS UNATTACHED" of the first answer's probe_attached.
attached() {
	local rows=$(grep '^connwatch_probe_attached{' "$TMP/$1.first")
	echo "$(grep -c . <<<"$rows") $(grep -vc ' 1$' <<<"$rows")"
}

# clean ERRFILE: no AddressSanitizer, LeakSanitizer or UBSan report.
clean() { ! grep -qE 'Sanitizer|runtime error' "$1"; }

# launch NAME CMD...: connwatch's stdout in NAME.out (a command's under
# run), stderr in NAME.err, its start time in NAME.t0. Sets CWP.
launch() {
	local name=$1
	shift
	now_ms >"$TMP/$name.t0"
	"$@" >"$TMP/$name.out" 2>"$TMP/$name.err" &
	CWP=$!
	STARTED+=("$CWP")
}

# command_started NAME: the command of `run` listens; sets SRV_PID, SRV_PORT.
# Stopped at the end too: a connwatch that crashed would leave it behind.
command_started() {
	wait_for 10 grep -qs listening "$TMP/$1.out" || return 1
	SRV_PID=$(pgrep -P "$CWP" -f tracker_server)
	SRV_PORT=$(sed -n 's/.*127.0.0.1:\([0-9]*\).*/\1/p' "$TMP/$1.out")
	STARTED+=("$SRV_PID")
}

first_ms() { echo $(($(cat "$TMP/$1.first_ms") - $(cat "$TMP/$1.t0"))); }

# sample FILE METRIC LABEL-FRAGMENT: a value in a saved answer.
sample() {
	grep "^$2{" "$1" | grep -F -- "$3" | head -1 | awk '{print $2}'
}

# ---------------------------------------------------------------- attach
# Five startups of attach (spec + sockets), each polled from before it
# starts through its --duration end; 10 connections at the first answer.
# Each startup adopts the counts the one before pinned: 10 more each.
start_server fixed || exit 1
T=$SRV_PID
ready=0 exact=0 exits=0 sane=0 times=""
for i in 1 2 3 4 5; do
	CW_PORT=$(free_port)
	start_poll "start$i" "$CW_PORT"
	launch "start$i" $CW attach --pid "$T" --spec "$SPEC" --preset sockets \
		--listen "127.0.0.1:$CW_PORT" --alert-log "$TMP/a.jsonl" --duration 4
	wait_for 10 first_came "start$i" && load --connections 10
	wait "$CWP"
	[ $? -eq 0 ] && exits=$((exits + 1))
	stop_poll "start$i"
	clean "$TMP/start$i.err" && sane=$((sane + 1))
	first_came "start$i" || continue
	times="$times $(first_ms "start$i")"
	[ "$(attached "start$i")" == "$((SPEC_ROWS + 1)) 0" ] &&
		ready=$((ready + 1))
	[ "$(sample "$TMP/start$i.last" connwatch_counter_increments_total "pid=\"$T\"")" == $((10 * i)) ] &&
		[ "$(sample "$TMP/start$i.last" connwatch_connections_opened_total 'target="tracker",source="sockets"')" == $((10 * i)) ] &&
		exact=$((exact + 1))
done
echo "info: attach: start to first /metrics answer (ms):$times"
check_eq "attach: the first answer shows all $((SPEC_ROWS + 1)) probes attached (spec + sockets:tracepoints), in 5 startups" \
	"$ready" 5
check_eq "attach: load from the first answer on is counted exactly (10 more), in 5 startups" \
	"$exact" 5
check_eq "attach: --duration ends with exit 0 under scrapes, 5 times" "$exits" 5
check_eq "attach: no sanitizer report in 5 startups and detaches" "$sane" 5

# ---------------------------------------------- the target exits, SIGTERM
CW_PORT=$(free_port)
start_poll exit "$CW_PORT"
launch exit $CW attach --fresh --pid "$T" --spec "$SPEC" --preset sockets \
	--listen "127.0.0.1:$CW_PORT" --alert-log "$TMP/a.jsonl"
wait_for 10 first_came exit && load --connections 20
wait_eq 5 20 metric connwatch_counter_decrements_total "pid=\"$T\""
stop "$T"
check "target exit: connwatch says the target is down" \
	wait_eq 10 0 metric connwatch_target_up "pid=\"$T\""
check "target exit: connwatch is alive" kill -0 "$CWP"
check_eq "target exit: the final counts are still served" \
	"$(metric connwatch_counter_increments_total "pid=\"$T\"")" 20
sleep 0.5	# the poller scrapes the dead target's counts a while more
stop "$CWP"
check_eq "SIGTERM under scrapes: exit 0" "$?" 0
stop_poll exit
check "target exit, SIGTERM: /metrics answered throughout ($(cat "$TMP/exit.n") answers)" \
	test "$(cat "$TMP/exit.n")" -gt 5
check "target exit, SIGTERM: no sanitizer report" clean "$TMP/exit.err"

# ------------------------------------------------------------------ run
CW_PORT=$(free_port)
start_poll run "$CW_PORT"
launch run $CW run --spec "$SPEC" --preset sockets --listen "127.0.0.1:$CW_PORT" \
	--alert-log "$TMP/a.jsonl" -- $FX/tracker_server --mode fixed
RUN=$CWP
wait_for 10 first_came run
check_eq "run: the first answer shows all $((SPEC_ROWS + 1)) probes attached" \
	"$(attached run)" "$((SPEC_ROWS + 1)) 0"
command_started run
load --connections 15
check "run: every connection counted" \
	wait_eq 5 15 metric connwatch_counter_decrements_total "pid=\"$SRV_PID\""
stop "$RUN"
check_eq "run: SIGTERM under scrapes, the command exits 0, so does run" "$?" 0
stop_poll run
check "run: no sanitizer report" clean "$TMP/run.err"

# ------------------------------------------------------- run --preload
CW_PORT=$(free_port)
start_poll preload "$CW_PORT"
launch preload env CONNWATCH_PRELOAD_LIB="$SHIM" $CW run --preload \
	--preload-socket "$TMP/pl.sock" --listen "127.0.0.1:$CW_PORT" \
	--alert-log "$TMP/a.jsonl" -- $FX/tracker_server --mode fixed
RUN=$CWP
wait_for 10 first_came preload
check_eq "run --preload: the first answer shows the shim in place" \
	"$(grep '^connwatch_probe_attached{' "$TMP/preload.first")" \
	'connwatch_probe_attached{target="tracker_server",source="preload",probe="preload:shim"} 1'
command_started preload
load --connections 15
check "run --preload: every connection counted" \
	wait_eq 5 15 metric connwatch_connections_closed_total "pid=\"$SRV_PID\""
stop "$RUN"
check_eq "run --preload: SIGTERM under scrapes, exit 0" "$?" 0
stop_poll preload
check "run --preload: no sanitizer report" clean "$TMP/preload.err"

# -------------------------------------------------------------- collect
CW_PORT=$(free_port)
start_poll collect "$CW_PORT"
launch collect $CW collect --preload-socket "$TMP/collect.sock" \
	--listen "127.0.0.1:$CW_PORT" --alert-log "$TMP/a.jsonl" --duration 2
wait "$CWP"
check_eq "collect: --duration under scrapes, exit 0" "$?" 0
stop_poll collect
check_eq "collect: the first answer shows its report socket" \
	"$(grep '^connwatch_probe_attached{' "$TMP/collect.first")" \
	'connwatch_probe_attached{target="preload",source="preload",probe="preload:socket"} 1'
check "collect: no sanitizer report" clean "$TMP/collect.err"

# ------------------------------------------------- --config and SIGHUP
start_server fixed || exit 1
A=$SRV_PID PORT_A=$SRV_PORT
start_server fixed || exit 1
B=$SRV_PID
CW_PORT=$(free_port)
# write_config PID...: the spec target on A, a sockets target per PID.
write_config() {
	local p
	printf 'listen: 127.0.0.1:%s\nalert_log: %s\ntargets:\n' \
		"$CW_PORT" "$TMP/a.jsonl"
	printf '  - pid: %s\n    specs: [%s]\n' "$A" "$PWD/$SPEC"
	for p; do
		printf '  - pid: %s\n    presets: [sockets]\n' "$p"
	done
} >"$TMP/connwatch.yaml"
# T is gone: its child fails (and is retried) without holding /metrics.
write_config "$B" "$T"
start_poll config "$CW_PORT"
launch config $CW --config "$TMP/connwatch.yaml"
D=$CWP
# A reload while the children attach, before /metrics answers.
wait_for 10 grep -q "probes attached" "$TMP/config.err" && kill -HUP "$D"
wait_for 30 first_came config
echo "info: --config: start to first /metrics answer: $(first_ms config) ms"
check_eq "--config: the first answer shows every live target's probes attached" \
	"$(attached config)" "$((SPEC_ROWS + 1)) 0"
SRV_PORT=$PORT_A load --connections 10
wait_eq 5 10 metric connwatch_counter_increments_total "pid=\"$A\""
# sockets_served PID: the sockets target of PID is in the merged answer.
sockets_served() {
	scrape | grep -q "^connwatch_target_up{target=\"tracker_server\",pid=\"$1\"}"
}
# Reloads: the sockets target moves between B and A, then back.
for p in "$A" "$B" "$A" "$B"; do
	write_config "$p"
	kill -HUP "$D"
	wait_for 15 sockets_served "$p"
done
check "--config: the last reload's target is served" sockets_served "$B"
check "--config: alive after 5 reloads under scrapes" kill -0 "$D"
check_eq "--config: the kept target kept its counts" \
	"$(metric connwatch_counter_increments_total "pid=\"$A\"")" 10
stop "$D"
check_eq "--config: SIGTERM under scrapes, exit 0" "$?" 0
check_eq "--config: ... and no child left" "$(ours | wc -l)" 0
stop_poll config
check "--config: answered throughout ($(cat "$TMP/config.n") answers)" \
	test "$(cat "$TMP/config.n")" -gt 5
check "--config: no sanitizer report (daemon and children)" \
	clean "$TMP/config.err"
