#!/bin/bash
# The seed's bug on the seed's code: quic-go's http3.Server with v0.48.0's
# connection tracking (quic-go#4705) and with v0.48.1's fix, stripped and
# not, watched with presets only. The buggy server must be reported at its
# first idle (drain_without_shutdown) and at the next accept (drain_rearmed),
# seconds before it dies, then at the crash itself (duplicate_drain,
# close_of_closed_channel) before the exit; the fixed one must get nothing.
. tests/lib.sh

PRESETS=(--preset quic-go-http3 --preset go-runtime)

# start_v048 BINARY [ARGS...]: sets V_PID, V_OUT, V_ERR; V_ADDR[i] and
# V_SRV[i] are server i's address and *http3.Server.
start_v048() {
	V_OUT=$(fresh v048)/out
	V_ERR=$V_OUT.err
	"$FX/$1" "${@:2}" >"$V_OUT" 2>"$V_ERR" &
	V_PID=$!
	STARTED+=("$V_PID")
	local want=1
	[ "$2" == "-servers" ] && want=$3
	wait_eq 5 "$want" grep -cs listening "$V_OUT" ||
		{ echo "$1 did not start"; return 1; }
	mapfile -t V_ADDR < <(sed -n 's/.*listening on //p' "$V_OUT")
	mapfile -t V_SRV < <(sed -n 's/^server [0-9]* at \(0x[0-9a-f]*\).*/\1/p' "$V_OUT")
}

# client ADDR [ARGS...]: HTTP/3 connections, one per request.
client() { "$FX/h3_client" -addr "$@" -timeout 20 >/dev/null 2>&1; }

logged() { grep -q "\"kind\":\"$1\"" "$CW_LOG" 2>/dev/null; }

# field KIND FIELD: FIELD of the first alert of KIND in the alert log.
field() {
	grep "\"kind\":\"$1\"" "$CW_LOG" | head -1 |
		sed -n "s/.*\"$2\":\(\"[^\"]*\"\|[-0-9]*\).*/\1/p" | tr -d '"'
}

# seconds KIND1 KIND2: time from the first KIND1 to the first KIND2.
seconds() {
	python3 - "$(field "$1" ts)" "$(field "$2" ts)" <<'EOF'
import sys
from datetime import datetime
def t(s):
    whole, frac = s.rstrip('Z').split('.')
    return datetime.fromisoformat(whole).timestamp() + float('0.' + frac)
print('%.2f' % (t(sys.argv[2]) - t(sys.argv[1])))
EOF
}

# --- v0.48.0: the crash, and the warnings before it
buggy() {
	local bin=$1
	start_v048 "$bin" || return 1
	start_connwatch --pid "$V_PID" "${PRESETS[@]}" || return 1
	check "$bin: every probe attached, none failed, none absent" \
		grep -Eq 'h3_server|quic_v048_buggy[.a-z]*: 8 of 8 probes attached$' "$CW_ERR"
	check "$bin: the other module path is said to be not needed, not failed" \
		grep -q 'preset quic-go-http3: github.com/quic-go/quic-go/http3 is not in this binary, and need not be: it links github.com/lucas-clemente/quic-go' "$CW_ERR"
	check "$bin: first connection" client "${V_ADDR[0]}"
	wait_for 5 logged drain_without_shutdown
	check_eq "$bin: first idle: drain_without_shutdown" \
		"$(alerts_of_kind drain_without_shutdown)" 1
	check_eq "$bin: first idle: nothing critical yet" \
		"$(grep -c '"severity":"critical"' "$CW_LOG")" 0
	sleep 1
	# The next connection stays open 2 s: the warning must come while
	# the server still serves it, before the crash.
	client "${V_ADDR[0]}" -hold 2000 &
	local c=$!
	wait_for 5 logged drain_rearmed
	check_eq "$bin: next accept: drain_rearmed" "$(alerts_of_kind drain_rearmed)" 1
	check "$bin: the server is still alive at drain_rearmed" kill -0 "$V_PID"
	wait "$c"
	wait "$V_PID"
	check_eq "$bin: then the server panics (exit 2)" "$?" 2
	check "$bin: panic: close of closed channel" \
		grep -q 'panic: close of closed channel' "$V_ERR"
	wait_for 5 logged close_of_closed_channel
	wait_for 5 grep -qs "exited with status 2" "$CW_ERR"
	check "$bin: both criticals were handled before the exit record" \
		awk '/critical duplicate_drain/ { d = NR } /critical close_of_closed_channel/ { c = NR }
		     /exited with status 2/ { e = NR } END { exit !(d && c && d < e && c < e) }' "$CW_ERR"
	check_eq "$bin: duplicate_drain on disk" "$(alerts_of_kind duplicate_drain)" 1
	check_eq "$bin: close_of_closed_channel on disk" \
		"$(alerts_of_kind close_of_closed_channel)" 1
	check "$bin: duplicate_drain's stack names decreaseConnCount" \
		grep -q '"kind":"duplicate_drain".*"stack":\["[^"]*decreaseConnCount' "$CW_LOG"
	check "$bin: close_of_closed_channel's stack names decreaseConnCount" \
		grep -q '"kind":"close_of_closed_channel".*decreaseConnCount' "$CW_LOG"
	check_eq "$bin: the alerts name the server (key = its *http3.Server)" \
		"$(field drain_rearmed key) $(field duplicate_drain key)" \
		"${V_SRV[0]} ${V_SRV[0]}"
	local order
	order=$(grep -o '"kind":"[a-z_]*"' "$CW_LOG" | cut -d'"' -f4 | tr '\n' ' ')
	check_eq "$bin: in order" "$order" \
		"drain_without_shutdown drain_rearmed duplicate_drain close_of_closed_channel "
	local lead
	lead=$(seconds drain_rearmed duplicate_drain)
	echo "# $bin: drain_without_shutdown -> drain_rearmed $(seconds \
		drain_without_shutdown drain_rearmed) s, drain_rearmed -> crash $lead s"
	check "$bin: drain_rearmed came ahead of the crash (${lead} s, the connection's life)" \
		python3 -c "import sys; sys.exit(not $lead >= 1.5)"
	local p="pid=\"$V_PID\""
	check_eq "$bin: opened == closed == 2" \
		"$(metric connwatch_connections_opened_total "$p") $(metric connwatch_connections_closed_total "$p")" \
		"2 2"
	check_eq "$bin: the drain probe fired twice, once per idle" \
		"$(metric connwatch_probe_hits_total 'drain:runtime.closechan from')" 2
	check_eq "$bin: closechan's failing branch fired once: the double close" \
		"$(metric connwatch_probe_hits_total 'chan_close:runtime.closechan')" 1
	stop "$CW_PID"
}
buggy quic_v048_buggy.stripped
buggy quic_v048_buggy

# --- v0.48.1: idle cycles and a graceful Shutdown with a connection open
fixed() {
	local bin=$1 n=10
	start_v048 "$bin" || return 1
	start_connwatch --pid "$V_PID" "${PRESETS[@]}" || return 1
	check "$bin: $n connections, each followed by an idle" \
		client "${V_ADDR[0]}" -n $n -idle 300
	client "${V_ADDR[0]}" -hold 3000 &
	local c=$! p="pid=\"$V_PID\""
	wait_eq 5 1 metric connwatch_connections_open "$p"
	check_eq "$bin: one connection open at shutdown" \
		"$(metric connwatch_connections_open "$p")" 1
	stop "$V_PID"
	check_eq "$bin: graceful Shutdown with it open, exit 0" "$?" 0
	wait "$c"
	check "$bin: shutdown complete" grep -q 'shutdown complete' "$V_OUT"
	check_eq "$bin: opened == closed == $((n + 1))" \
		"$(metric connwatch_connections_opened_total "$p") $(metric connwatch_connections_closed_total "$p")" \
		"$((n + 1)) $((n + 1))"
	check_eq "$bin: one drain, at shutdown" \
		"$(metric connwatch_drain_signals_total "$p")" 1
	check_eq "$bin: zero alerts" "$(metric_sum connwatch_anomalies_total)" 0
	check_eq "$bin: nothing in the alert log" "$(wc -l <"$CW_LOG" 2>/dev/null || echo 0)" 0
	# Hundreds of channel closes and WaitGroup.Adds, none of them bad.
	check_eq "$bin: go-runtime's failing branches never fired" \
		"$(metric connwatch_probe_hits_total 'chan_close:') $(metric connwatch_probe_hits_total 'wg_add:')" \
		"0 0"
	stop "$CW_PID"
}
fixed quic_v048_fixed.stripped
fixed quic_v048_fixed

# --- two servers in one process: only the idle-cycling one is named
start_v048 quic_v048_buggy.stripped -servers 2 || exit 1
start_connwatch --pid "$V_PID" "${PRESETS[@]}" || exit 1
client "${V_ADDR[0]}" -hold 8000 &
HOLD=$!
check "two servers: server 1 idles twice" client "${V_ADDR[1]}" -n 2 -idle 800
wait "$V_PID"
check_eq "two servers: the process panics (exit 2)" "$?" 2
wait "$HOLD"
wait_for 5 logged duplicate_drain
KEYS=$(grep -E '"kind":"(drain_without_shutdown|drain_rearmed|duplicate_drain)"' "$CW_LOG" |
	sed -n 's/.*"key":"\([^"]*\)".*/\1/p' | sort -u | tr '\n' ' ')
check_eq "two servers: every drain alert names server 1" "$KEYS" "${V_SRV[1]} "
check_eq "two servers: server 1 was not confused with server 0" \
	"$(grep -c "\"key\":\"${V_SRV[0]}\"" "$CW_LOG")" 0
check_eq "two servers: duplicate_drain" "$(alerts_of_kind duplicate_drain)" 1
stop "$CW_PID"

# --- --on-critical stop: frozen before the panic
start_v048 quic_v048_buggy.stripped || exit 1
start_connwatch --pid "$V_PID" "${PRESETS[@]}" --on-critical stop || exit 1
client "${V_ADDR[0]}"
wait_for 5 logged drain_without_shutdown
sleep 0.5
client "${V_ADDR[0]}" -timeout 5 &
C=$!
wait_for 10 logged duplicate_drain
wait_for 5 grep -q '^State:.*stopped' "/proc/$V_PID/status"
check "--on-critical stop: the server is stopped" \
	grep -q '^State:.*stopped' "/proc/$V_PID/status"
check_eq "--on-critical stop: it has not panicked" \
	"$(grep -c panic "$V_ERR")" 0
wait_for 5 grep -qs "kill -CONT $V_PID" "$CW_ERR"
check "--on-critical stop: connwatch says how to resume it" \
	grep -q "kill -CONT $V_PID" "$CW_ERR"
kill -CONT "$V_PID"
wait "$V_PID"
check_eq "--on-critical stop: resumed, it panics as it would have" "$?" 2
wait "$C"
stop "$CW_PID"

# --- the same tracking built by Go 1.22, which inlines decreaseConnCount
# into its deferred calls (quic-go's new module path; TCP for QUIC)
tcp() { "$FX/load_client" --port "${V_ADDR[0]##*:}" --connections 1 "$@" >/dev/null; }
inlined() {
	local bin=$1
	start_v048 "$bin" || return 1
	check "$bin: the drain is only inlined: check finds its copy" \
		grep -q 'inlined copies: [1-9]' <($CW check --pid "$V_PID" --preset quic-go-http3)
	start_connwatch --pid "$V_PID" "${PRESETS[@]}" || return 1
	tcp
	wait_for 5 logged drain_without_shutdown
	check_eq "$bin: first idle: drain_without_shutdown" \
		"$(alerts_of_kind drain_without_shutdown)" 1
	tcp --hold-ms 1500 &
	local c=$!
	wait_for 5 logged drain_rearmed
	check "$bin: next accept: drain_rearmed, the server alive" kill -0 "$V_PID"
	wait "$c"
	wait "$V_PID"
	check_eq "$bin: then it panics (exit 2)" "$?" 2
	wait_for 5 logged close_of_closed_channel
	check_eq "$bin: duplicate_drain and close_of_closed_channel on disk" \
		"$(alerts_of_kind duplicate_drain) $(alerts_of_kind close_of_closed_channel)" "1 1"
	check_eq "$bin: keyed by its server" "$(field duplicate_drain key)" "${V_SRV[0]}"
	# Go's traceback order: the inlined function, then the one holding it
	local http3='github.com/quic-go/quic-go/http3.(\*Server)'
	local inl="\"$http3.decreaseConnCount (inlined)\",\"$http3.serveListener.func1.deferwrap1+0x[0-9a-f]* ($bin)\""
	check "$bin: duplicate_drain's stack names decreaseConnCount, inlined there" \
		grep -q "\"kind\":\"duplicate_drain\".*\"stack\":\[$inl" "$CW_LOG"
	check "$bin: ... and so does close_of_closed_channel's, from closechan's caller" \
		grep -q "\"kind\":\"close_of_closed_channel\".*\"stack\":\[\"runtime.closechan+0x[0-9a-f]* ($bin)\",$inl" "$CW_LOG"
	stop "$CW_PID"
}
inlined quic_v048_shape_buggy.stripped
inlined quic_v048_shape_buggy

start_v048 quic_v048_shape_fixed.stripped || exit 1
start_connwatch --pid "$V_PID" "${PRESETS[@]}" || exit 1
for i in 1 2 3 4 5; do tcp; sleep 0.2; done
tcp --hold-ms 3000 &
C=$!
P="pid=\"$V_PID\""
wait_eq 5 1 metric connwatch_connections_open "$P"
stop "$V_PID"
check_eq "inlined, fixed: graceful Shutdown with a connection open, exit 0" "$?" 0
wait "$C"
check_eq "inlined, fixed: opened == closed == 6" \
	"$(metric connwatch_connections_opened_total "$P") $(metric connwatch_connections_closed_total "$P")" "6 6"
check_eq "inlined, fixed: one drain, at shutdown" \
	"$(metric connwatch_drain_signals_total "$P")" 1
check_eq "inlined, fixed: zero alerts" "$(metric_sum connwatch_anomalies_total)" 0
stop "$CW_PID"

# --- a preset given twice is one target: every series once
start_v048 quic_v048_fixed.stripped || exit 1
start_connwatch --pid "$V_PID" --preset quic-go-http3 --preset quic-go-http3 || exit 1
client "${V_ADDR[0]}" -n 3
wait_eq 5 3 metric connwatch_connections_closed_total "pid=\"$V_PID\""
check_eq "a preset given twice: one target_up series" \
	"$(scrape | grep -c '^connwatch_target_up{')" 1
check_eq "a preset given twice: connections counted once" \
	"$(scrape | grep '^connwatch_connections_opened_total{' | awk '{s += $NF} END {print s}')" 3
check "a preset given twice: said once on stderr" \
	grep -q 'preset quic-go-http3 given twice: loaded once' "$CW_ERR"
check_exposition "a preset given twice: promtool clean, no series twice"
stop "$CW_PID"
stop "$V_PID"

# --- QUIC connections open before attach, closed after: counted closed,
# as preattach, never lost and never an alert. By pid with the presets,
# and on Debian's quic-go 0.29 by --exe with the presets chosen.
preattach() {	# preattach BINARY pid|exe
	local bin=$1 how=$2 n=2 target
	start_v048 "$bin" || return 1
	# Held 12 s: attach takes 1-5 s on this shared machine, and a
	# connection that ends before it is not preattach but unseen.
	client "${V_ADDR[0]}" -hold 12000 -n $n -c $n &
	local c=$!
	sleep 2	# the handshakes done
	if [ "$how" == pid ]; then
		target=(--pid "$V_PID" "${PRESETS[@]}")
	else
		target=(--exe "$FX/$bin")
	fi
	start_connwatch --fresh "${target[@]}" || return 1
	wait "$c"
	# h3_server links net/http's server too: sockets is chosen with it.
	local p="source=\"quic-go-http3\",pid=\"$V_PID\""
	wait_eq 5 $n metric connwatch_connections_closed_total "$p"
	check_eq "preattach, $bin by $how: both closes counted, as preattach closes" \
		"$(metric connwatch_connections_closed_total "$p") $(metric connwatch_preattach_closes_total "$p")" "$n $n"
	check_eq "preattach, $bin by $how: no alert" "$(metric_sum connwatch_anomalies_total)" 0
	check_exposition "preattach, $bin by $how: promtool clean, no series twice"
	stop "$CW_PID"
	stop "$V_PID"
}
preattach quic_v048_fixed.stripped pid
preattach h3_server.stripped exe

# --- detached: no probe left on our binaries (other worktrees' tests
# may be probing theirs at the same time)
check_eq "no probe left" \
	"$(bpftool perf show 2>/dev/null | grep -c "uprobe .* $PWD/$FX/quic_v048_")" 0
